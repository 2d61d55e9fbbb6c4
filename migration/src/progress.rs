//! What a run shows while it runs, on stderr: a redrawn line on a
//! terminal, a line per event otherwise (CI logs). The final table is
//! [`super::report`]'s.

use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use crate::plan::Hold;
use crate::tally::{self, Sample, Tally, millis, percentile};

/// Progress on stderr.
#[derive(Debug)]
pub struct Progress {
    terminal: bool,
    quiet: bool,
}

impl Progress {
    /// On stderr; `quiet` shows nothing.
    pub fn stderr(quiet: bool) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            quiet,
        }
    }

    pub(crate) fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let clear = if self.terminal { "\r\x1b[K" } else { "" };
        let _ = writeln!(std::io::stderr(), "{clear}{text}");
    }

    /// Whether [`Progress::live`] shows anything: the live line is only
    /// worth building then.
    pub(crate) fn shows_live(&self) -> bool {
        self.terminal && !self.quiet
    }

    pub(crate) fn live(&self, text: &str) {
        if self.shows_live() {
            let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
            let _ = std::io::stderr().flush();
        }
    }
}

/// `step 1/4 lambda 5%  [███▌      ] 212/400  greeter 201 p99 8.1 ms  lambda 11 ok 0 failed p99 9.0 ms`
pub(crate) fn live_line(label: &str, samples: &[Sample], hold: &Hold, min_lambda: u64) -> String {
    let window = Tally::new(String::new(), 0, Duration::ZERO, samples.to_vec());
    let fraction = (window.requests() as f64 / hold.requests.max(1) as f64).min(1.0);
    let mut lambda_needed = String::new();
    if window.lambda < min_lambda && window.requests() >= hold.requests {
        lambda_needed = format!(" (extended: {}/{min_lambda} lambda answers)", window.lambda);
    }
    format!(
        "{label}  [{:<20}] {}/{}{lambda_needed}  greeter {} p99 {}  lambda {} ok {} failed p99 {}",
        tally::bar(fraction, 20),
        window.requests(),
        hold.requests,
        window.greeter,
        millis(percentile(&window.greeter_latencies, 0.99)),
        window.lambda,
        window.failed(),
        millis(percentile(&window.lambda_latencies, 0.99)),
    )
}
