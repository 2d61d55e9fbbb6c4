//! The verdict on a window: a pure function of what the two destinations
//! did in it ([`Window`], filled by the probes or by Prometheus) and the
//! gates. Nothing here sends, waits or writes.
//!
//! The latency gates compare the Lambda with the container greeter in the
//! same window, at a quantile the window can support. A p99 is judged only
//! on a window with at least [`P99_MIN_LATENCIES`] of the Lambda's
//! latencies: then at least 5 of them lie above it, so it is not the
//! maximum, and the handful of cold starts each step's scale-out brings
//! (one per new execution environment, on AWS as in the emulator) cannot
//! be the p99 on their own. A smaller window is judged on its median
//! instead, with the same ratio, floor and ceiling: a cold start cannot
//! move a median, a slow Lambda (every call delayed) does. The report
//! names the quantile each step was judged on.

pub(crate) mod probes;
pub(crate) mod prometheus;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::{Gates, as_ms, from_ms};
use crate::tally::millis;

/// Latencies a window needs of the Lambda before its p99 is judged.
pub(crate) const P99_MIN_LATENCIES: u64 = 500;
/// Latencies a window needs of a destination before its median means
/// anything.
pub(crate) const P50_MIN_LATENCIES: u64 = 20;

/// One destination's tally in a window: the requests it got, and how
/// many of them succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// Requests put down to it, succeeded or failed.
    pub requests: u64,
    /// Of those, the ones it answered well.
    pub succeeded: u64,
    /// Requests put down to it that failed.
    pub failed: u64,
    /// Of those, Lambda function errors.
    pub function_errors: u64,
    /// Percent of its requests that succeeded (100 with none).
    pub success_percent: f64,
    /// How many latencies the quantiles below come from.
    pub latencies: u64,
    /// Median latency.
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub p50: Duration,
    /// 99th percentile latency.
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub p99: Duration,
}

impl Destination {
    /// A tally; the success ratio follows from the counts.
    pub(crate) fn new(
        succeeded: u64,
        failed: u64,
        function_errors: u64,
        latencies: u64,
        p50: Duration,
        p99: Duration,
    ) -> Self {
        let requests = succeeded + failed;
        Self {
            requests,
            succeeded,
            failed,
            function_errors,
            success_percent: if requests == 0 {
                100.0
            } else {
                100.0 * succeeded as f64 / requests as f64
            },
            latencies,
            p50,
            p99,
        }
    }

    /// `12 of 341 ok (3.52%)`: what a destination got and how much of it
    /// succeeded, as every view of a window prints it (the table, the
    /// progress lines, `split rollout status`).
    pub fn ok_of(&self) -> String {
        if self.requests == 0 {
            return "0 requests".to_owned();
        }
        format!(
            "{} of {} ok ({:.2}%)",
            self.succeeded, self.requests, self.success_percent
        )
    }
}

/// Where a window's figures come from: the words for "not enough".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `split migrate`'s own probe requests through ingress.
    Probes,
    /// Prometheus: the traffic the mesh carried.
    Prometheus,
}

/// What the two destinations did in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Where the figures come from.
    pub source: Source,
    /// Probe requests sent in the window (0 with probes off).
    pub probes: u64,
    /// Requests the window counts, to either destination or to none.
    pub requests: u64,
    /// The Lambda's share of the answers, percent.
    pub observed_lambda_percent: f64,
    /// The container greeter.
    pub greeter: Destination,
    /// greeter-lambda; unattributed failures included.
    pub lambda: Destination,
    /// Failures that could be either's, counted against the Lambda.
    pub unattributed_failures: u64,
    /// Failures by description.
    pub failures: BTreeMap<String, u64>,
    /// One of the container greeter's failures, for the message.
    #[serde(skip)]
    pub greeter_failure: Option<String>,
    /// Wall time of the window.
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub elapsed: Duration,
}

impl Window {
    /// The commonest failure, `count x why`.
    pub(crate) fn top_failure(&self) -> String {
        self.failures
            .iter()
            .max_by_key(|(_, count)| **count)
            .map(|(why, count)| format!("{count} x {why}"))
            .unwrap_or_default()
    }

    /// The failures of every kind.
    pub(crate) fn failed(&self) -> u64 {
        self.greeter.failed + self.lambda.failed
    }
}

/// The container greeter's latency the Lambda's is compared with: from
/// this window when it has enough of the greeter's answers, else from the
/// last one that had (at 100 % there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reference {
    p50: Option<Duration>,
    p99: Option<Duration>,
}

impl Reference {
    /// This reference, with what `greeter` has enough latencies for.
    pub(crate) fn updated(self, greeter: &Destination) -> Self {
        Self {
            p50: (greeter.latencies >= P50_MIN_LATENCIES)
                .then_some(greeter.p50)
                .or(self.p50),
            p99: (greeter.latencies >= P99_MIN_LATENCIES)
                .then_some(greeter.p99)
                .or(self.p99),
        }
    }
}

/// What the judge says of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Every gate held.
    Passed,
    /// A gate failed: the Lambda's fault.
    Failed(Vec<String>),
    /// The stack failed without the Lambda: nothing is the Lambda's fault,
    /// and the run stops without moving.
    BaselineBroken(String),
}

/// The baseline, before anything moves: any failure means the stack fails
/// on its own, whoever it is put down to.
pub(crate) fn judge_baseline(window: &Window) -> Judged {
    let failed = window.failed();
    if failed == 0 {
        return Judged::Passed;
    }
    Judged::BaselineBroken(format!(
        "the stack fails before anything moved ({failed} of {} baseline requests failed: {})",
        window.requests,
        window.top_failure()
    ))
}

/// A step: the container greeter must not fail, and the Lambda must have
/// enough requests, succeed often enough, and be fast enough next to the
/// greeter (`earlier`: the greeter's latency from earlier windows).
pub(crate) fn judge_step(window: &Window, gates: &Gates, earlier: Reference) -> Judged {
    let (greeter, lambda) = (&window.greeter, &window.lambda);
    if greeter.failed > 0 {
        return Judged::BaselineBroken(format!(
            "the container greeter failed {} times ({})",
            greeter.failed,
            window.greeter_failure.as_deref().unwrap_or_default()
        ));
    }
    let mut why = Vec::new();
    let requests = lambda.requests;
    if requests < gates.min_lambda_answers {
        let more = match window.source {
            Source::Probes => "raise --max-requests",
            Source::Prometheus => "send traffic, or raise --max-hold-secs",
        };
        why.push(if requests == 0 {
            format!(
                "no traffic reached the Lambda: 0 of {} requests in {:.0} s, {} needed ({more})",
                window.requests,
                window.elapsed.as_secs_f64(),
                gates.min_lambda_answers
            )
        } else {
            format!(
                "too little traffic: only {requests} Lambda requests of {} in {:.0} s, {} needed ({more})",
                window.requests,
                window.elapsed.as_secs_f64(),
                gates.min_lambda_answers
            )
        });
    }
    if lambda.success_percent < gates.min_success {
        let mut kinds = String::new();
        if lambda.function_errors > 0 {
            kinds.push_str(&format!(", {} function errors", lambda.function_errors));
        }
        if window.unattributed_failures > 0 {
            kinds.push_str(&format!(", {} unattributed", window.unattributed_failures));
        }
        why.push(format!(
            "Lambda success {:.2}% < {}% ({} of {requests} failed{kinds}: {})",
            lambda.success_percent,
            gates.min_success,
            lambda.failed,
            window.top_failure()
        ));
    }
    if lambda.latencies > 0 {
        why.extend(judge_latency(lambda, gates, earlier.updated(greeter)));
    }
    if why.is_empty() {
        Judged::Passed
    } else {
        Judged::Failed(why)
    }
}

/// The latency gates at the quantile the window supports.
fn judge_latency(lambda: &Destination, gates: &Gates, reference: Reference) -> Vec<String> {
    let (name, own, base, note) = if lambda.latencies >= P99_MIN_LATENCIES {
        ("p99", lambda.p99, reference.p99, String::new())
    } else {
        (
            "p50",
            lambda.p50,
            reference.p50,
            format!(
                " (judged on the median: {} Lambda latencies, a p99 needs {P99_MIN_LATENCIES})",
                lambda.latencies
            ),
        )
    };
    let mut why = Vec::new();
    if own > gates.max_p99 {
        why.push(format!(
            "Lambda {name} {} > {} ceiling{note}",
            millis(own),
            millis(gates.max_p99)
        ));
    }
    let too_slow = |base: &Duration| own.as_secs_f64() > gates.max_p99_ratio * base.as_secs_f64();
    if let Some(base) = base.filter(|base| own > gates.p99_floor && too_slow(base)) {
        why.push(format!(
            "Lambda {name} {} > {}x the greeter's {}{note}",
            millis(own),
            gates.max_p99_ratio,
            millis(base)
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATES: Gates = Gates {
        min_success: 99.0,
        min_lambda_answers: 10,
        max_p99_ratio: 3.0,
        p99_floor: Duration::from_millis(20),
        max_p99: Duration::from_millis(1000),
    };

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// A window of answers at one latency each (p50 = p99), and failures.
    fn window(greeter: (u64, u64), lambda: (u64, u64), lambda_failed: u64) -> Window {
        let (g, l) = (greeter, lambda);
        let mut failures = BTreeMap::new();
        if lambda_failed > 0 {
            failures.insert("ingress upstream answered 503".to_owned(), lambda_failed);
        }
        Window {
            source: Source::Probes,
            probes: g.0 + l.0 + lambda_failed,
            requests: g.0 + l.0 + lambda_failed,
            observed_lambda_percent: 0.0,
            greeter: Destination::new(g.0, 0, 0, g.0, MS(g.1), MS(g.1)),
            lambda: Destination::new(l.0, lambda_failed, 0, l.0, MS(l.1), MS(l.1)),
            unattributed_failures: lambda_failed,
            failures,
            greeter_failure: None,
            elapsed: Duration::from_secs(2),
        }
    }

    #[test]
    fn a_healthy_lambda_passes() {
        assert_eq!(
            judge_step(&window((380, 8), (20, 12), 0), &GATES, Reference::default()),
            Judged::Passed
        );
    }

    #[test]
    fn failures_below_the_success_gate_fail_with_their_count_and_cause() {
        let Judged::Failed(why) = judge_step(&window((380, 8), (40, 8), 10), &GATES, Reference::default())
        else {
            panic!()
        };
        assert_eq!(
            why,
            [
                "Lambda success 80.00% < 99% (10 of 50 failed, 10 unattributed: 10 x ingress upstream answered 503)"
            ]
        );
    }

    #[test]
    fn function_errors_are_named_in_the_failure() {
        let mut w = window((380, 8), (40, 8), 0);
        w.lambda = Destination::new(40, 10, 10, 40, MS(8), MS(8));
        w.failures.insert("function errors".into(), 10);
        let Judged::Failed(why) = judge_step(&w, &GATES, Reference::default()) else {
            panic!()
        };
        assert!(
            why[0].contains("(10 of 50 failed, 10 function errors: 10 x function errors)"),
            "{why:?}"
        );
    }

    #[test]
    fn a_small_window_is_judged_on_its_median_so_a_cold_start_does_not_fail_it() {
        // 54 Lambda answers, one of them a 96.6 ms cold start: the p99 is
        // the maximum; the median is not.
        let mut w = window((380, 15), (54, 12), 0);
        w.lambda.p99 = Duration::from_micros(96_600);
        assert_eq!(judge_step(&w, &GATES, Reference::default()), Judged::Passed);
        // Every answer slow: the median says so.
        let Judged::Failed(why) = judge_step(&window((380, 10), (54, 300), 0), &GATES, Reference::default())
        else {
            panic!()
        };
        assert_eq!(
            why,
            [
                "Lambda p50 300.0 ms > 3x the greeter's 10.0 ms (judged on the median: 54 Lambda latencies, a p99 needs 500)"
            ]
        );
    }

    #[test]
    fn a_large_window_is_judged_on_its_p99_against_the_ceiling_too() {
        let mut w = window((2000, 10), (600, 10), 0);
        w.lambda.p99 = MS(1200);
        let Judged::Failed(why) = judge_step(&w, &GATES, Reference::default()) else {
            panic!()
        };
        assert_eq!(
            why,
            [
                "Lambda p99 1.20 s > 1.00 s ceiling",
                "Lambda p99 1.20 s > 3x the greeter's 10.0 ms"
            ]
        );
    }

    #[test]
    fn a_lambda_under_the_floor_passes_whatever_the_ratio() {
        assert_eq!(
            judge_step(&window((380, 2), (20, 15), 0), &GATES, Reference::default()),
            Judged::Passed
        );
    }

    #[test]
    fn without_greeter_answers_the_ratio_uses_the_earlier_window() {
        let earlier = Reference::default().updated(&window((200, 10), (200, 10), 0).greeter);
        let Judged::Failed(why) = judge_step(&window((0, 0), (400, 45), 0), &GATES, earlier) else {
            panic!()
        };
        assert!(why[0].contains("3x the greeter's 10.0 ms"), "{why:?}");
        // With no earlier window either, only the ceiling applies.
        assert_eq!(
            judge_step(&window((0, 0), (400, 45), 0), &GATES, Reference::default()),
            Judged::Passed
        );
    }

    #[test]
    fn too_little_or_no_traffic_is_never_a_pass() {
        let Judged::Failed(why) = judge_step(&window((395, 8), (5, 8), 0), &GATES, Reference::default())
        else {
            panic!()
        };
        assert_eq!(
            why,
            ["too little traffic: only 5 Lambda requests of 400 in 2 s, 10 needed (raise --max-requests)"]
        );
        let mut none = window((0, 0), (0, 0), 0);
        none.source = Source::Prometheus;
        let Judged::Failed(why) = judge_step(&none, &GATES, Reference::default()) else {
            panic!()
        };
        assert_eq!(
            why,
            [
                "no traffic reached the Lambda: 0 of 0 requests in 2 s, 10 needed (send traffic, or raise --max-hold-secs)"
            ]
        );
    }

    #[test]
    fn a_failing_greeter_stops_the_run_without_blaming_the_lambda() {
        let mut w = window((370, 8), (20, 8), 0);
        w.greeter = Destination::new(370, 10, 0, 370, MS(8), MS(8));
        w.greeter_failure = Some("name upstream unreachable".into());
        assert_eq!(
            judge_step(&w, &GATES, Reference::default()),
            Judged::BaselineBroken(
                "the container greeter failed 10 times (name upstream unreachable)".into()
            )
        );
    }

    #[test]
    fn any_failure_breaks_the_baseline() {
        assert_eq!(judge_baseline(&window((100, 7), (0, 0), 0)), Judged::Passed);
        let Judged::BaselineBroken(why) = judge_baseline(&window((90, 7), (0, 0), 10)) else {
            panic!()
        };
        assert_eq!(
            why,
            "the stack fails before anything moved (10 of 100 baseline requests failed: 10 x ingress upstream answered 503)"
        );
    }
}
