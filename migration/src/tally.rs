//! What a run of requests saw: who answered each, the failures, the
//! latencies, and whether the Lambda's share is the one expected.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use service_core::origin::Origin;

use crate::share::Share;

/// Which greeter answered a request through ingress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The container greeter: `From <ingress>: From <greeter host>: ...`.
    Greeter,
    /// greeter-lambda: `From <ingress>: From lambda: ...`.
    Lambda,
}

/// Who answered, read from ingress's answer; `None` when the text is not a
/// greeting through ingress at all.
pub fn classify(body: &str) -> Option<Answerer> {
    let (_ingress, greeter_body) = body.strip_prefix("From ")?.split_once(": ")?;
    let (greeter, _greeting) = greeter_body.strip_prefix("From ")?.split_once(": ")?;
    Some(if greeter == "lambda" {
        Answerer::Lambda
    } else {
        Answerer::Greeter
    })
}

/// Whose a failed request is, as ingress's failed answer declares it
/// (service-core's [`Origin`]): the container greeter's own failure
/// (`service`), a Lambda function error (`function`), or nobody's that can
/// be told (`transport`, no header: Envoy's 503, a timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Blame {
    /// The container greeter failed on its own upstream.
    Greeter,
    /// greeter-lambda's function failed.
    Lambda,
    /// Envoy's own answer, a timeout, a connection error: either.
    Unknown,
}

impl Blame {
    /// The blame for the origin a failed answer declared.
    pub fn of(origin: Option<Origin>) -> Self {
        match origin {
            Some(Origin::Service) => Self::Greeter,
            Some(Origin::Function) => Self::Lambda,
            Some(Origin::Transport) | None => Self::Unknown,
        }
    }
}

/// A failed request: whose, and what happened, in one line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FailedRequest {
    /// Whose it is.
    pub blame: Blame,
    /// What happened.
    pub why: String,
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A greeting, from one of the greeters.
    Answered(Answerer),
    /// Anything else.
    Failed(FailedRequest),
}

/// One request: how it ended and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// How it ended.
    pub reply: Reply,
    /// From sending to the end of the body or the failure.
    pub latency: Duration,
}

/// The tally of a run of requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Where the requests went.
    pub url: String,
    /// How many were in flight at once, at most.
    pub concurrency: usize,
    /// The wall time of the run.
    pub elapsed: Duration,
    /// Answered by the container greeter.
    pub greeter: u64,
    /// Answered by greeter-lambda.
    pub lambda: u64,
    /// Failures, by whose and what.
    pub failures: BTreeMap<FailedRequest, u64>,
    /// Every request's latency, ascending.
    pub latencies: Vec<Duration>,
    /// The latencies of the container greeter's answers, ascending.
    pub greeter_latencies: Vec<Duration>,
    /// The latencies of greeter-lambda's answers, ascending.
    pub lambda_latencies: Vec<Duration>,
}

/// How far the observed Lambda count may be from the expected one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expectation {
    /// The share the split is set to.
    pub lambda: Share,
    /// The expected number of Lambda answers.
    pub expected: f64,
    /// The largest distance from it still consistent with the split.
    pub tolerance: f64,
}

/// Standard deviations allowed: a correct split fails this check about
/// once in 16,000 runs, while a wrong weight of a few percent over 400
/// requests still stands out.
pub const SIGMAS: f64 = 4.0;

impl Expectation {
    /// The binomial expectation for `answered` requests: `n p` Lambda
    /// answers, give or take [`SIGMAS`] standard deviations,
    /// `sqrt(n p (1 - p))`. Exact (no tolerance) for 0 and 100.
    pub fn binomial(lambda: Share, answered: u64) -> Self {
        let n = answered as f64;
        let p = lambda.fraction();
        Self {
            lambda,
            expected: n * p,
            tolerance: SIGMAS * (n * p * (1.0 - p)).sqrt(),
        }
    }

    /// Whether `observed` Lambda answers fit.
    pub fn admits(&self, observed: u64) -> bool {
        // The epsilon only absorbs float error in `n p`; at p = 0 or 1 the
        // count must match exactly.
        (observed as f64 - self.expected).abs() <= self.tolerance + 1e-9
    }
}

impl Tally {
    /// Tallies samples.
    pub fn new(url: String, concurrency: usize, elapsed: Duration, samples: Vec<Sample>) -> Self {
        let mut report = Self {
            url,
            concurrency,
            elapsed,
            greeter: 0,
            lambda: 0,
            failures: BTreeMap::new(),
            latencies: Vec::with_capacity(samples.len()),
            greeter_latencies: Vec::new(),
            lambda_latencies: Vec::new(),
        };
        for sample in samples {
            report.latencies.push(sample.latency);
            match sample.reply {
                Reply::Answered(Answerer::Greeter) => {
                    report.greeter += 1;
                    report.greeter_latencies.push(sample.latency);
                }
                Reply::Answered(Answerer::Lambda) => {
                    report.lambda += 1;
                    report.lambda_latencies.push(sample.latency);
                }
                Reply::Failed(why) => *report.failures.entry(why).or_default() += 1,
            }
        }
        report.latencies.sort_unstable();
        report.greeter_latencies.sort_unstable();
        report.lambda_latencies.sort_unstable();
        report
    }

    /// Requests sent.
    pub fn requests(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// Requests answered by either greeter.
    pub fn answered(&self) -> u64 {
        self.greeter + self.lambda
    }

    /// Requests that failed.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// The latencies of one destination's answers, ascending. Failures
    /// are in neither: which greeter a failed request reached is not known.
    pub fn latencies_of(&self, answerer: Answerer) -> &[Duration] {
        match answerer {
            Answerer::Greeter => &self.greeter_latencies,
            Answerer::Lambda => &self.lambda_latencies,
        }
    }

    /// The report as the terminal shows it; with `expect`, ending in the
    /// verdict. The verdict's success is [`Tally::meets`].
    pub fn render(&self, expect: Option<Share>) -> String {
        let mut out = String::new();
        let requests = self.requests();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{requests} requests to {} ({} at a time) in {}",
            self.url,
            self.concurrency,
            millis(self.elapsed)
        );
        for (label, count) in [
            ("greeter", self.greeter),
            ("lambda", self.lambda),
            ("failed", self.failed()),
        ] {
            let fraction = ratio(count, requests);
            let line = format!(
                "  {label:<8}{count:>7} {:>7.2}%  {}",
                fraction * 100.0,
                bar(fraction, BAR_WIDTH)
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        for (failure, count) in self.failures.iter().take(5) {
            let _ = writeln!(out, "      {count} x {}", failure.why);
        }
        if self.failures.len() > 5 {
            let _ = writeln!(
                out,
                "      ... and {} other kinds of failure",
                self.failures.len() - 5
            );
        }
        let _ = writeln!(out, "  latency   {}", latency_line(&self.latencies));
        // What a migration compares: each destination in the same run.
        for (label, answerer) in [("greeter", Answerer::Greeter), ("lambda", Answerer::Lambda)] {
            let latencies = self.latencies_of(answerer);
            if !latencies.is_empty() {
                let _ = writeln!(out, "    {label:<8}{}", latency_line(latencies));
            }
        }
        if let Some(lambda) = expect {
            let _ = writeln!(out, "{}", self.verdict(lambda));
        }
        out
    }

    /// One line: the expected Lambda share, its tolerance and whether the
    /// run meets it.
    pub fn verdict(&self, lambda: Share) -> String {
        let answered = self.answered();
        let expectation = Expectation::binomial(lambda, answered);
        let tolerance = 100.0 * ratio_f(expectation.tolerance, answered);
        let observed = 100.0 * ratio(self.lambda, answered);
        let verdict = match (self.failed(), expectation.admits(self.lambda)) {
            (0, true) => "ok".to_owned(),
            (0, false) => "FAIL: outside the tolerance".to_owned(),
            (failed, _) => format!("FAIL: {failed} requests failed"),
        };
        format!(
            "expected  lambda {lambda}% ± {tolerance:.2}% ({SIGMAS}σ of {answered}): observed {observed:.2}% -> {verdict}"
        )
    }

    /// True when no request failed and, with `expect`, the Lambda's share
    /// is within the binomial tolerance.
    pub fn meets(&self, expect: Option<Share>) -> bool {
        self.failed() == 0
            && expect.is_none_or(|lambda| Expectation::binomial(lambda, self.answered()).admits(self.lambda))
    }
}

/// Columns of a full bar.
pub const BAR_WIDTH: usize = 40;

/// A horizontal bar `fraction` of `width` columns long, to an eighth of a
/// column.
pub fn bar(fraction: f64, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (fraction.clamp(0.0, 1.0) * (width * 8) as f64).round() as usize;
    let mut out = "█".repeat(eighths / 8);
    out.push_str(PARTS[eighths % 8]);
    out
}

/// The latency below which a fraction `q` of `ascending` lies (nearest
/// rank); zero for none.
pub fn percentile(ascending: &[Duration], q: f64) -> Duration {
    let n = ascending.len();
    if n == 0 {
        return Duration::ZERO;
    }
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    ascending[rank - 1]
}

/// `p50 5.8 ms  p99 14.1 ms  max 15.9 ms`.
fn latency_line(ascending: &[Duration]) -> String {
    format!(
        "p50 {}  p99 {}  max {}",
        millis(percentile(ascending, 0.50)),
        millis(percentile(ascending, 0.99)),
        millis(ascending.last().copied().unwrap_or_default())
    )
}

fn ratio(part: u64, whole: u64) -> f64 {
    ratio_f(part as f64, whole)
}

fn ratio_f(part: f64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part / whole as f64 }
}

/// `5.8 ms`, or `1.25 s` from a second up.
pub fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(raw: &str) -> Share {
        raw.parse().unwrap()
    }

    fn tally(greeter: u64, lambda: u64, failed: u64) -> Tally {
        let mut samples = Vec::new();
        let mut push = |n, reply: Reply| {
            for i in 0..n {
                samples.push(Sample {
                    reply: reply.clone(),
                    latency: Duration::from_millis(i + 1),
                });
            }
        };
        push(greeter, Reply::Answered(Answerer::Greeter));
        push(lambda, Reply::Answered(Answerer::Lambda));
        push(
            failed,
            Reply::Failed(FailedRequest {
                blame: Blame::Unknown,
                why: "502 Bad Gateway: greeter upstream unreachable".into(),
            }),
        );
        Tally::new(
            "http://127.0.0.1:8080/".into(),
            8,
            Duration::from_millis(1500),
            samples,
        )
    }

    #[test]
    fn an_answer_from_the_container_greeter_is_the_greeters() {
        let body = "From ip-10-0-6-79.ec2.internal: From ip-10-0-3-61.ec2.internal: Hi (ip-10-0-2-33) Jennifer (ip-10-0-2-133)";
        assert_eq!(classify(body), Some(Answerer::Greeter));
        assert_eq!(
            classify("From ingress-1: From 3f2a9c: Hey (a) Mary (b)"),
            Some(Answerer::Greeter)
        );
    }

    #[test]
    fn an_answer_from_lambda_is_the_lambdas() {
        let body = "From ip-10-0-6-79.ec2.internal: From lambda: Hi (ip-10-0-2-33) Mary (ip-10-0-2-133)";
        assert_eq!(classify(body), Some(Answerer::Lambda));
    }

    #[test]
    fn other_text_is_nobodys() {
        for body in [
            "",
            "healthy",
            "From ingress: Hi (a) Mary (b)",
            "From ingress: \"From lambda: Hi\"",
            "greeter upstream answered 502 Bad Gateway: name upstream unreachable",
            "From lambda: Hi (a) Mary (b)",
        ] {
            assert_eq!(classify(body), None, "{body:?}");
        }
    }

    #[test]
    fn the_tolerance_is_four_binomial_standard_deviations() {
        let e = Expectation::binomial(share("50"), 400);
        assert_eq!(e.expected, 200.0);
        assert_eq!(e.tolerance, 40.0); // 4 * sqrt(400 * 0.5 * 0.5)
        assert!(e.admits(160) && e.admits(240));
        assert!(!e.admits(159) && !e.admits(241));

        let e = Expectation::binomial(share("25"), 1200);
        assert!((e.tolerance - 60.0).abs() < 1e-9, "{}", e.tolerance); // 4 * sqrt(1200 * 0.25 * 0.75)
    }

    #[test]
    fn at_0_and_100_the_count_must_be_exact() {
        let none = Expectation::binomial(Share::ZERO, 400);
        assert!(none.admits(0));
        assert!(!none.admits(1));
        let all = Expectation::binomial(Share::ALL, 400);
        assert!(all.admits(400));
        assert!(!all.admits(399));
    }

    #[test]
    fn a_small_share_admits_a_few_answers_either_way() {
        // 4 * sqrt(400 * 0.01 * 0.99) = 7.96 around the expected 4.
        let e = Expectation::binomial(share("1"), 400);
        assert!(e.admits(0) && e.admits(11), "{e:?}");
        assert!(!e.admits(12), "{e:?}");
    }

    #[test]
    fn bars_are_proportional_to_an_eighth_of_a_column() {
        assert_eq!(bar(0.0, 40), "");
        assert_eq!(bar(1.0, 10), "█".repeat(10));
        assert_eq!(bar(0.5, 40), "█".repeat(20));
        assert_eq!(bar(0.25, 10), "██▌");
        assert_eq!(bar(1.0 / 80.0, 10), "▏");
        assert_eq!(bar(2.0, 4), "████");
        assert_eq!(bar(-1.0, 4), "");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let r = tally(100, 0, 0);
        assert_eq!(percentile(&r.latencies, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&r.latencies, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&r.latencies, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&tally(0, 0, 0).latencies, 0.5), Duration::ZERO);
    }

    #[test]
    fn a_report_counts_each_answerer_and_failure() {
        let r = tally(3, 2, 1);
        assert_eq!(
            (r.greeter, r.lambda, r.failed(), r.requests(), r.answered()),
            (3, 2, 1, 6, 5)
        );
    }

    #[test]
    fn the_rendered_report_shows_counts_percentages_bars_and_latency() {
        let text = tally(200, 200, 0).render(Some(share("50")));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "400 requests to http://127.0.0.1:8080/ (8 at a time) in 1.50 s"
        );
        assert_eq!(
            lines[1],
            format!("  greeter     200   50.00%  {}", "█".repeat(20))
        );
        assert_eq!(
            lines[2],
            format!("  lambda      200   50.00%  {}", "█".repeat(20))
        );
        assert_eq!(lines[3], "  failed        0    0.00%");
        assert_eq!(lines[4], "  latency   p50 100.0 ms  p99 198.0 ms  max 200.0 ms");
        assert_eq!(lines[5], "    greeter p50 100.0 ms  p99 198.0 ms  max 200.0 ms");
        assert_eq!(lines[6], "    lambda  p50 100.0 ms  p99 198.0 ms  max 200.0 ms");
        assert_eq!(
            lines[7],
            "expected  lambda 50% ± 10.00% (4σ of 400): observed 50.00% -> ok"
        );
    }

    #[test]
    fn failures_are_listed_and_fail_the_run() {
        let r = tally(200, 199, 1);
        let text = r.render(Some(share("50")));
        assert!(
            text.contains("      1 x 502 Bad Gateway: greeter upstream unreachable\n"),
            "{text}"
        );
        assert!(text.contains("-> FAIL: 1 requests failed"), "{text}");
        assert!(!r.meets(Some(share("50"))));
        assert!(!r.meets(None));
    }

    #[test]
    fn a_share_outside_the_tolerance_fails_the_run() {
        let r = tally(300, 100, 0);
        assert!(
            r.render(Some(share("50")))
                .contains("observed 25.00% -> FAIL: outside the tolerance")
        );
        assert!(!r.meets(Some(share("50"))));
        assert!(r.meets(Some(share("25"))));
        assert!(r.meets(None));
    }
}
