//! A window filled by `split migrate`'s own probe requests through
//! ingress: who answered each, and whose each failure is.
//!
//! Which greeter answered a request is read from its text; a failed
//! request has no greeter's text, so its blame is what ingress's failed
//! answer declared ([`Blame`], from service-core's failure origin). A
//! failure nobody can be blamed for (Envoy's own 503, a timeout) counts
//! against the Lambda while it has a share, so a step never passes with
//! failures nobody can explain; at 0 % everything is the greeter's.

use std::collections::BTreeMap;

use super::{Destination, Source, Window};
use crate::share::Share;
use crate::tally::{Answerer, Blame, Tally, percentile};

/// The window a probe run saw at a Lambda share.
pub(crate) fn window(report: &Tally, share: Share) -> Window {
    let (mut greeter_failed, mut function_errors, mut unknown) = (0, 0, 0);
    let mut greeter_failure = None;
    let mut failures = BTreeMap::new();
    for (failure, count) in &report.failures {
        *failures.entry(failure.why.clone()).or_default() += count;
        match failure.blame {
            Blame::Greeter => {
                greeter_failed += count;
                greeter_failure.get_or_insert_with(|| failure.why.clone());
            }
            Blame::Lambda => function_errors += count,
            Blame::Unknown => unknown += count,
        }
    }
    // With no Lambda share, nothing can be the Lambda's.
    if share == Share::ZERO {
        greeter_failed += unknown + function_errors;
        (unknown, function_errors) = (0, 0);
    }
    let destination = |answerer, answers, failed, function_errors| {
        let latencies = report.latencies_of(answerer);
        Destination::new(
            answers,
            failed,
            function_errors,
            latencies.len() as u64,
            percentile(latencies, 0.50),
            percentile(latencies, 0.99),
        )
    };
    Window {
        source: Source::Probes,
        probes: report.requests(),
        requests: report.requests(),
        observed_lambda_percent: if report.answered() == 0 {
            0.0
        } else {
            100.0 * report.lambda as f64 / report.answered() as f64
        },
        greeter: destination(Answerer::Greeter, report.greeter, greeter_failed, 0),
        lambda: destination(
            Answerer::Lambda,
            report.lambda,
            function_errors + unknown,
            function_errors,
        ),
        unattributed_failures: unknown,
        failures,
        greeter_failure,
        elapsed: report.elapsed,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tally::{FailedRequest, Reply, Sample};

    fn tally(replies: &[(Reply, u64)]) -> Tally {
        let samples = replies
            .iter()
            .flat_map(|(reply, n)| {
                (0..*n).map(|_| Sample {
                    reply: reply.clone(),
                    latency: Duration::from_millis(5),
                })
            })
            .collect();
        Tally::new(String::new(), 4, Duration::from_secs(1), samples)
    }

    fn failed(blame: Blame, why: &str) -> Reply {
        Reply::Failed(FailedRequest {
            blame,
            why: why.into(),
        })
    }

    #[test]
    fn failures_are_put_down_to_whoever_they_are_blamed_on() {
        let r = tally(&[
            (Reply::Answered(Answerer::Greeter), 80),
            (Reply::Answered(Answerer::Lambda), 10),
            (failed(Blame::Greeter, "greeter's own"), 3),
            (failed(Blame::Lambda, "function error"), 4),
            (failed(Blame::Unknown, "Envoy's 503"), 5),
        ]);
        let w = window(&r, "10".parse().unwrap());
        assert_eq!((w.greeter.succeeded, w.greeter.failed), (80, 3));
        assert_eq!(
            (w.lambda.succeeded, w.lambda.failed, w.lambda.function_errors),
            (10, 9, 4)
        );
        assert_eq!(w.unattributed_failures, 5);
        assert_eq!(w.greeter_failure.as_deref(), Some("greeter's own"));
        assert_eq!(w.requests, 102);
        // At 0 %, every failure is the greeter's.
        let w = window(&r, Share::ZERO);
        assert_eq!(
            (w.greeter.failed, w.lambda.failed, w.unattributed_failures),
            (12, 0, 0)
        );
    }
}
