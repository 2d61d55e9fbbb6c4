//! `ingress`: the front door, answering `From HOST: <greeter body>`.
//!
//! Run: `GREETER_URL=http://localhost:3003 cargo run -p ingress` (routes on
//! 8080, metrics on 9464)

use service_core::{ingress, server};

fn main() -> std::process::ExitCode {
    server::launch("ingress", 8080, |env, config, client| {
        ingress::app_from_env(env, client, &config.hostname)
    })
}
