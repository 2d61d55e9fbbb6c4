//! The function's upstream calls as CloudWatch metrics: Lambda has no
//! scrape endpoint, so each invocation writes its calls to stdout as
//! Embedded Metric Format lines, which CloudWatch Logs turns into metrics
//! (`upstream_requests_total`, `upstream_request_duration_seconds` by
//! `FunctionName`, `upstream` and `outcome`, the names and labels the
//! services' `/metrics` use).
//!
//! The calls are recorded by the same code as in the services (service-core's
//! upstream client into its [`Metrics`](service_core::metrics::Metrics)),
//! kept per invocation ([`Metrics::keeping_calls`](service_core::metrics::Metrics::keeping_calls))
//! and written here. Not `metrics_cloudwatch_embedded`: it is a backend of
//! the `metrics` facade and cannot read what `prometheus-client` records,
//! and a second recording path beside the services' own would be two
//! definitions of one metric. One line per upstream and outcome seen in
//! the invocation, written before the answer goes back (Lambda may freeze
//! the process right after).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use service_core::metrics::Call;

/// The CloudWatch namespace the metrics go to.
pub const NAMESPACE: &str = "GreeterMesh";

/// The EMF lines of one invocation's calls, at `timestamp_ms` (Unix epoch
/// milliseconds): one per upstream and outcome, with the count and every
/// duration in seconds.
pub fn lines(calls: &[Call], function_name: &str, timestamp_ms: u64) -> Vec<String> {
    let mut series = BTreeMap::<(&str, &str), Vec<f64>>::new();
    for call in calls {
        series
            .entry((call.upstream, call.outcome.as_str()))
            .or_default()
            .push(call.duration.as_secs_f64());
    }
    series
        .into_iter()
        .map(|((upstream, outcome), seconds)| {
            json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["FunctionName", "upstream", "outcome"]],
                        "Metrics": [
                            {"Name": "upstream_requests_total", "Unit": "Count"},
                            {"Name": "upstream_request_duration_seconds", "Unit": "Seconds"},
                        ],
                    }],
                },
                "FunctionName": function_name,
                "upstream": upstream,
                "outcome": outcome,
                "upstream_requests_total": seconds.len(),
                "upstream_request_duration_seconds": Value::from(seconds),
            })
            .to_string()
        })
        .collect()
}

/// Writes the lines of `calls` to stdout, now.
pub fn write(calls: &[Call], function_name: &str) {
    if calls.is_empty() {
        return;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let mut text = String::new();
    for line in lines(calls, function_name, now_ms) {
        text.push_str(&line);
        text.push('\n');
    }
    // A metric line that cannot be written has nowhere to be reported.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use service_core::upstream::Outcome;

    use super::*;

    fn call(upstream: &'static str, outcome: Outcome, ms: u64) -> Call {
        Call {
            upstream,
            outcome,
            duration: Duration::from_millis(ms),
        }
    }

    #[test]
    fn one_line_per_upstream_and_outcome_in_cloudwatchs_shape() {
        let calls = [
            call("name", Outcome::Ok, 2),
            call("greeting", Outcome::Timeout, 300),
            call("name", Outcome::Ok, 4),
        ];
        let lines: Vec<Value> = lines(&calls, "greeter-lambda", 1_795_816_552_123)
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let directive = json!({
            "Timestamp": 1_795_816_552_123_u64,
            "CloudWatchMetrics": [{
                "Namespace": "GreeterMesh",
                "Dimensions": [["FunctionName", "upstream", "outcome"]],
                "Metrics": [
                    {"Name": "upstream_requests_total", "Unit": "Count"},
                    {"Name": "upstream_request_duration_seconds", "Unit": "Seconds"},
                ],
            }],
        });
        assert_eq!(
            lines,
            [
                json!({
                    "_aws": directive,
                    "FunctionName": "greeter-lambda",
                    "upstream": "greeting",
                    "outcome": "timeout",
                    "upstream_requests_total": 1,
                    "upstream_request_duration_seconds": [0.3],
                }),
                json!({
                    "_aws": directive,
                    "FunctionName": "greeter-lambda",
                    "upstream": "name",
                    "outcome": "ok",
                    "upstream_requests_total": 2,
                    "upstream_request_duration_seconds": [0.002, 0.004],
                }),
            ]
        );
    }

    #[test]
    fn every_line_is_one_line() {
        let calls = [call("name", Outcome::FunctionError, 1)];
        let lines = lines(&calls, "f", 0);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'));
    }
}
