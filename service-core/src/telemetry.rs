//! Logging through `tracing`: human-readable or JSON lines on stdout,
//! filtered by `RUST_LOG` (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, Env, LogFormat};

/// The filter from `RUST_LOG`, or `info`; a filter that does not parse is
/// a configuration error naming `RUST_LOG`.
pub fn filter(env: &Env) -> Result<EnvFilter, ConfigError> {
    let directives = env.get("RUST_LOG").unwrap_or("info");
    EnvFilter::try_new(directives).map_err(|e| ConfigError {
        var: "RUST_LOG",
        problem: format!("{directives:?} is not a log filter: {e}"),
    })
}

/// Installs the global subscriber. A second call leaves the first in place.
pub fn init(format: LogFormat, filter: EnvFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    // Err only when a subscriber is already set, which is fine to keep.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
