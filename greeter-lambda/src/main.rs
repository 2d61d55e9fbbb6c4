//! `greeter-lambda`: the greeter on AWS Lambda, answering
//! `From lambda: <greeting> <name>` to every invocation shape.
//!
//! Build and package: `cargo lambda build --release -p greeter-lambda`.
//! Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it serves HTTP exactly like
//! `greeter`, healthcheck subcommand included:
//! `PORT=3004 GREETING_URL=http://localhost:3002 NAME_URL=http://localhost:3001 cargo run -p greeter-lambda`

use greeter_lambda::function::FROM;
use greeter_lambda::lambda;
use service_core::config::Env;
use service_core::greeter::{self, Greeter};
use service_core::server;

fn main() -> std::process::ExitCode {
    let env = Env::from_process();
    if lambda::on_lambda(&env) {
        return lambda::run(&env);
    }
    server::launch("greeter-lambda", 3000, |env, _config, client| {
        Ok(greeter::app(Greeter::from_env(env, client)?, FROM))
    })
}
