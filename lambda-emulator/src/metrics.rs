//! Lambda's own metrics for the function, as CloudWatch publishes them in
//! the `AWS/Lambda` namespace (dimension `FunctionName`), served in
//! Prometheus text format on the Invoke API's `GET /metrics`, so the local
//! stack shows what CloudWatch shows on AWS. One to one:
//!
//! | here | CloudWatch | counts |
//! | --- | --- | --- |
//! | `lambda_invocations_total` | `Invocations` | every run of the function's code, function errors included; not a throttled or refused (4xx) request |
//! | `lambda_errors_total` | `Errors` | invocations that ended in a function error: the handler's error, an init error, a crash, a timeout |
//! | `lambda_throttles_total` | `Throttles` | requests refused for concurrency (429, past `EMULATOR_RESERVED_CONCURRENCY`) |
//! | `lambda_duration_seconds` | `Duration` | from the hand-off to the function to its answer (histogram: CloudWatch's percentiles are `histogram_quantile`) |
//! | `lambda_concurrent_executions` | `ConcurrentExecutions` | invocations running now |
//! | `lambda_cold_starts_total` | (the `Init Duration` of REPORT lines) | instances started |
//! | `lambda_init_duration_seconds` | (`@initDuration` in Logs Insights) | from the start of an instance to its first poll of the Runtime API |
//!
//! Every series carries `function_name` and exists from start-up, at 0,
//! so `increase()` sees the first event. `prometheus-client` (the official
//! client) does the bookkeeping and the format.

use std::borrow::Cow;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// One function's metrics and the registry that names them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) invocations: Counter,
    pub(crate) errors: Counter,
    pub(crate) throttles: Counter,
    pub(crate) duration: Histogram,
    pub(crate) concurrent: Gauge,
    pub(crate) cold_starts: Counter,
    pub(crate) init_duration: Histogram,
}

impl Metrics {
    /// The metrics of `function_name`, every one at 0.
    pub(crate) fn new(function_name: &str) -> Self {
        // 1 ms to 16 s, doubling: a warm Rust invocation to the longest
        // timeout the demo sets.
        let buckets = || exponential_buckets(0.001, 2.0, 15);
        let metrics = Self {
            registry: Registry::default(),
            invocations: Counter::default(),
            errors: Counter::default(),
            throttles: Counter::default(),
            duration: Histogram::new(buckets()),
            concurrent: Gauge::default(),
            cold_starts: Counter::default(),
            init_duration: Histogram::new(buckets()),
        };
        let mut registry = Registry::default();
        let function = registry.sub_registry_with_label((
            Cow::Borrowed("function_name"),
            Cow::Owned(function_name.to_owned()),
        ));
        // prometheus-client adds `_total` to counters.
        function.register(
            "lambda_invocations",
            "Invocations of the function's code, function errors included (CloudWatch Invocations)",
            metrics.invocations.clone(),
        );
        function.register(
            "lambda_errors",
            "Invocations that ended in a function error: handler error, init error, crash, timeout (CloudWatch Errors)",
            metrics.errors.clone(),
        );
        function.register(
            "lambda_throttles",
            "Invocation requests refused for concurrency, answered 429 (CloudWatch Throttles)",
            metrics.throttles.clone(),
        );
        function.register(
            "lambda_duration_seconds",
            "Time from the hand-off to the function to its answer (CloudWatch Duration)",
            metrics.duration.clone(),
        );
        function.register(
            "lambda_concurrent_executions",
            "Invocations running now (CloudWatch ConcurrentExecutions)",
            metrics.concurrent.clone(),
        );
        function.register(
            "lambda_cold_starts",
            "Instances started: invocations that paid a cold start",
            metrics.cold_starts.clone(),
        );
        function.register(
            "lambda_init_duration_seconds",
            "Time from an instance's start to its first poll of the Runtime API (REPORT's Init Duration)",
            metrics.init_duration.clone(),
        );
        Self { registry, ..metrics }
    }

    /// The metrics in Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_exists_at_zero_with_the_function_name() {
        let text = Metrics::new("greeter-lambda").encode();
        for series in [
            r#"lambda_invocations_total{function_name="greeter-lambda"} 0"#,
            r#"lambda_errors_total{function_name="greeter-lambda"} 0"#,
            r#"lambda_throttles_total{function_name="greeter-lambda"} 0"#,
            r#"lambda_duration_seconds_count{function_name="greeter-lambda"} 0"#,
            r#"lambda_concurrent_executions{function_name="greeter-lambda"} 0"#,
            r#"lambda_cold_starts_total{function_name="greeter-lambda"} 0"#,
            r#"lambda_init_duration_seconds_count{function_name="greeter-lambda"} 0"#,
        ] {
            assert!(text.lines().any(|line| line == series), "{series} not in\n{text}");
        }
    }
}
