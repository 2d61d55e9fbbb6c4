//! `greeting`: answers a random greeting and its host, `Hi (HOST)`.
//!
//! Run: `PORT=3002 METRICS_PORT=9466 cargo run -p greeting` (metrics on
//! their own port; 9464 unless set)

use service_core::{server, words};

fn main() -> std::process::ExitCode {
    server::launch("greeting", 3000, |_, config, client| {
        Ok(words::app(
            &words::GREETINGS,
            &config.hostname,
            client.metrics().clone(),
        ))
    })
}
