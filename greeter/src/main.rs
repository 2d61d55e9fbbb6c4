//! `greeter`: calls greeting and name concurrently and answers
//! `From HOST: <greeting> <name>`.
//!
//! Run: `PORT=3003 METRICS_PORT=9465 GREETING_URL=http://localhost:3002 NAME_URL=http://localhost:3001 cargo run -p greeter`
//! (metrics on their own port; 9464 unless set)

use service_core::greeter::{self, Greeter};
use service_core::server;

fn main() -> std::process::ExitCode {
    server::launch("greeter", 3000, |env, config, client| {
        Ok(greeter::app(Greeter::from_env(env, client)?, &config.hostname))
    })
}
