//! `name`: answers a random first name and its host, `Mary (HOST)`.
//!
//! Run: `PORT=3001 METRICS_PORT=9467 cargo run -p name` (metrics on their
//! own port; 9464 unless set)

use service_core::{server, words};

fn main() -> std::process::ExitCode {
    server::launch("name", 3000, |_, config, client| {
        Ok(words::app(
            &words::NAMES,
            &config.hostname,
            client.metrics().clone(),
        ))
    })
}
