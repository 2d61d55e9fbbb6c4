//! One invocation's log as Lambda writes it to the function's log stream:
//! the function's own lines (its stdout and stderr) framed by the
//! platform's `START`, `END` and `REPORT` lines, which Lambda users read
//! and query (Logs Insights' `@duration`, `@initDuration`, `@maxMemoryUsed`
//! come from `REPORT`):
//!
//! ```text
//! START RequestId: 8f5c1a2e-... Version: $LATEST
//! ...the function's lines...
//! END RequestId: 8f5c1a2e-...
//! REPORT RequestId: 8f5c1a2e-...\tDuration: 1.23 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 12.34 ms\t
//! ```
//!
//! `REPORT`'s fields are tab-separated, each followed by a tab, as Lambda
//! writes them; `Init Duration` only on a cold start, and then in `Billed
//! Duration` too, as Lambda bills a custom runtime's init. Every line goes
//! to the emulator's own output as it comes (the function's stderr to its
//! stderr), and the last 4 KB of the invocation's are kept for `Invoke`
//! with `X-Amz-Log-Type: Tail`.

use std::io::Write as _;
use std::time::Duration;

/// The most of an invocation's log `X-Amz-Log-Result` carries: its end.
pub(crate) const TAIL_BYTES: usize = 4 * 1024;

/// Which of the emulator's outputs a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// One invocation's log: written through as it grows, its end kept.
#[derive(Debug, Default)]
pub(crate) struct InvocationLog {
    kept: Vec<u8>,
}

/// What an invocation took, as its `REPORT` line states it: how long it
/// ran, its init on a cold start, the memory it was given and its peak.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub duration: Duration,
    /// Set on a cold start.
    pub init: Option<Duration>,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u64,
}

impl InvocationLog {
    /// Adds a line (without its newline) and writes it out.
    pub(crate) fn line(&mut self, stream: Stream, line: &[u8]) {
        let mut out = Vec::with_capacity(line.len() + 1);
        out.extend_from_slice(line);
        out.push(b'\n');
        // Our own lines gathered so far go first, so the output keeps order.
        service_core::telemetry::flush();
        // A failed write of a log line has nowhere to be reported.
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(&out),
            Stream::Stderr => std::io::stderr().lock().write_all(&out),
        };
        self.kept.extend_from_slice(&out);
        if self.kept.len() > 2 * TAIL_BYTES {
            self.kept.drain(..self.kept.len() - TAIL_BYTES);
        }
    }

    /// `START RequestId: <id> Version: $LATEST`.
    pub(crate) fn start(&mut self, request_id: &str) {
        self.line(
            Stream::Stdout,
            format!("START RequestId: {request_id} Version: $LATEST").as_bytes(),
        );
    }

    /// `END`, then `REPORT`; returns the last [`TAIL_BYTES`] of the log.
    pub(crate) fn end(mut self, request_id: &str, usage: &Usage) -> Vec<u8> {
        self.line(Stream::Stdout, format!("END RequestId: {request_id}").as_bytes());
        self.line(Stream::Stdout, report_line(request_id, usage).as_bytes());
        let from = self.kept.len().saturating_sub(TAIL_BYTES);
        self.kept.split_off(from)
    }
}

fn report_line(request_id: &str, usage: &Usage) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let init_ms = usage.init.map_or(0.0, ms);
    let billed = (ms(usage.duration) + init_ms).ceil();
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed:.0} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        ms(usage.duration),
        usage.memory_size_mb,
        usage.max_memory_used_mb,
    );
    if usage.init.is_some() {
        line.push_str(&format!("Init Duration: {init_ms:.2} ms\t"));
    }
    line
}

/// The peak resident memory of process `pid` (`VmHWM`), in MB rounded up,
/// as `Max Memory Used` reports it; `None` once the process is gone.
pub(crate) fn max_memory_used_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_is_lambdas_tab_separated_line_with_init_duration_on_a_cold_start() {
        let mut usage = Usage {
            duration: Duration::from_micros(1234),
            init: Some(Duration::from_micros(12_346)),
            memory_size_mb: 128,
            max_memory_used_mb: 20,
        };
        assert_eq!(
            report_line("8f5c1a2e-0000-4000-8000-000000000001", &usage),
            "REPORT RequestId: 8f5c1a2e-0000-4000-8000-000000000001\tDuration: 1.23 ms\tBilled Duration: 14 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 12.35 ms\t"
        );
        usage.init = None;
        assert_eq!(
            report_line("8f5c1a2e-0000-4000-8000-000000000001", &usage),
            "REPORT RequestId: 8f5c1a2e-0000-4000-8000-000000000001\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t"
        );
    }

    #[test]
    fn the_tail_is_the_last_4_kb() {
        let mut log = InvocationLog::default();
        for i in 0..200 {
            log.line(
                Stream::Stdout,
                format!("line {i:03} {}", "x".repeat(40)).as_bytes(),
            );
        }
        let tail = log.end(
            "id",
            &Usage {
                duration: Duration::ZERO,
                init: None,
                memory_size_mb: 128,
                max_memory_used_mb: 1,
            },
        );
        assert_eq!(tail.len(), TAIL_BYTES);
        let text = String::from_utf8(tail).unwrap();
        assert!(text.ends_with("Max Memory Used: 1 MB\t\n"), "{text}");
        assert!(text.contains("line 199 "));
        assert!(!text.contains("line 100 "));
    }

    #[test]
    fn max_memory_used_reads_this_process() {
        let mb = max_memory_used_mb(std::process::id()).unwrap();
        assert!(mb >= 1, "{mb}");
        assert_eq!(max_memory_used_mb(u32::MAX), None);
    }
}
