//! What a run shows while it runs, on stderr: a redrawn line on a
//! terminal, a line per event otherwise (CI logs). The final table is
//! [`super::report`]'s.

use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use crate::plan::Hold;
use crate::share::Share;
use crate::tally::{self, Sample, Tally, millis, percentile};

/// Progress on stderr.
#[derive(Debug)]
pub struct Progress {
    terminal: bool,
    quiet: bool,
    /// The last live line, kept for the controller's `/status` (the
    /// window so far) when there is no terminal to draw it on.
    kept: Option<std::sync::Mutex<String>>,
}

impl Progress {
    /// On stderr; `quiet` shows nothing.
    pub fn stderr(quiet: bool) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            quiet,
            kept: None,
        }
    }

    /// Lines on stderr (a log), and the live line kept rather than drawn:
    /// [`Progress::so_far`] answers it.
    pub fn kept() -> Self {
        Self {
            terminal: false,
            quiet: false,
            kept: Some(std::sync::Mutex::new(String::new())),
        }
    }

    /// The last live line, when kept: the window so far.
    pub fn so_far(&self) -> Option<String> {
        let kept = self.kept.as_ref()?;
        let text = kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        (!text.is_empty()).then_some(text)
    }

    /// A line: on a terminal over the live line, in a log as it is.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let clear = if self.terminal { "\r\x1b[K" } else { "" };
        let _ = writeln!(std::io::stderr(), "{clear}{text}");
    }

    /// Whether [`Progress::live`] shows anything: the live line is only
    /// worth building then.
    pub(crate) fn shows_live(&self) -> bool {
        (self.terminal && !self.quiet) || self.kept.is_some()
    }

    /// How often the live line is worth redrawing: a terminal's often, a
    /// kept one (read by `/status`) once a second, since each redraw
    /// tallies every sample so far.
    pub(crate) fn live_every(&self) -> std::time::Duration {
        if self.kept.is_some() {
            std::time::Duration::from_secs(1)
        } else {
            std::time::Duration::ZERO
        }
    }

    pub(crate) fn live(&self, text: &str) {
        if let Some(kept) = &self.kept {
            *kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = text.to_owned();
            return;
        }
        if self.shows_live() {
            let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
            let _ = std::io::stderr().flush();
        }
    }
}

/// `step 1/4 lambda 5%  [███▌      ] 212/400  greeter 201 of 201 ok (100.00%) p99 8.1 ms, lambda 9 of 11 ok (81.82%) p99 9.0 ms`:
/// the window so far, each destination with the requests it got and how
/// many succeeded, as the final table counts them.
pub(crate) fn live_line(
    label: &str,
    samples: &[Sample],
    share: Share,
    hold: &Hold,
    min_lambda: u64,
) -> String {
    let tally = Tally::new(String::new(), 0, Duration::ZERO, samples.to_vec());
    let window = crate::judge::probes::window(&tally, share);
    let fraction = (tally.requests() as f64 / hold.requests.max(1) as f64).min(1.0);
    let mut lambda_needed = String::new();
    if window.lambda.requests < min_lambda && tally.requests() >= hold.requests {
        lambda_needed = format!(
            " (extended: {}/{min_lambda} lambda requests)",
            window.lambda.requests
        );
    }
    format!(
        "{label}  [{:<20}] {}/{}{lambda_needed}  greeter {} p99 {}, lambda {} p99 {}",
        tally::bar(fraction, 20),
        tally.requests(),
        hold.requests,
        window.greeter.ok_of(),
        millis(percentile(&tally.greeter_latencies, 0.99)),
        window.lambda.ok_of(),
        millis(percentile(&tally.lambda_latencies, 0.99)),
    )
}
