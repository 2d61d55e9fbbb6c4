//! `name`: answers a random first name and its host, `Mary (HOST)`.
//!
//! Run: `PORT=3001 cargo run -p name`

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
