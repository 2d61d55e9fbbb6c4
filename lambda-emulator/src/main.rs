//! `lambda-emulator`: AWS Lambda on one machine for the compose stack.
//! It serves the Invoke API on `PORT` (9001) and runs the function binary
//! at `EMULATOR_BOOTSTRAP` under a Runtime API of its own, one instance per
//! concurrent invocation:
//! `EMULATOR_BOOTSTRAP=target/debug/greeter-lambda NAME_URL=... GREETING_URL=... cargo run -p lambda-emulator`

use lambda_emulator::{Function, config::Config, invoke_api};
use service_core::server;

fn main() -> std::process::ExitCode {
    server::launch_routes_only(
        "lambda-emulator",
        invoke_api::DEFAULT_PORT,
        |env, _config, _client| {
            let config = Config::from_env(env)?;
            Ok(invoke_api::app(Function::new(config)))
        },
    )
}
