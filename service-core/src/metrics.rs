//! What a service counts, answered on `GET /metrics` of its metrics
//! listener ([`router::scrape`](crate::router::scrape), on `METRICS_PORT`)
//! in Prometheus's text format (0.0.4): requests by route, method and
//! status with their latencies, requests in flight, upstream calls by
//! upstream and outcome with their latencies, and build info.
//!
//! The crate is `prometheus-client`, the Prometheus project's own Rust
//! client: its families are plain values held by whoever records, so each
//! service of a test process keeps counts of its own (the `metrics`
//! facade records into one process-wide recorder), and since 0.26 it
//! writes the classic text format that `promtool check metrics` reads and
//! every Prometheus scrapes.
//!
//! Recording sits in the router's one hand-written middleware
//! ([`router`](crate::router)) and in the upstream client
//! ([`upstream`](crate::upstream)), not in tower layers of its own; what it
//! costs per request is measured by `scripts/bench-callgrind` against
//! `METRICS=off`, which records nothing and binds no metrics listener:
//! about 1,050 instructions (5.4 %) at a leaf, where the budget is 10 %.
//! Labels are bounded: a route is its pattern, a method outside the
//! standard nine reads `other`, an upstream is a name in the code.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::outcome::Outcome;

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets in seconds, 0.5 ms to 10 s: a leaf answers in well
/// under a millisecond, an upstream call times out after 2 s by default.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The labels of a request served.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// The labels of an upstream call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    service: &'static str,
    version: &'static str,
}

/// One upstream call, kept for [`Metrics::take_calls`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call {
    /// The upstream's name.
    pub upstream: &'static str,
    /// How the call ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// A service's metrics, or none when recording is off. Cheap to clone:
/// every clone records into the same series.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Metrics")
            .field(&if self.is_on() { "on" } else { "off" })
            .finish()
    }
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    upstream_calls: Family<UpstreamLabels, Counter>,
    upstream_seconds: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    /// Calls since the last [`Metrics::take_calls`], kept only where asked
    /// for (greeter-lambda, which has no scrape endpoint).
    calls: Option<Mutex<Vec<Call>>>,
}

impl Metrics {
    /// Recording on, for `service` (its `build_info`).
    pub fn new(service: &'static str) -> Self {
        Self::build(service, false)
    }

    /// Recording on, and every upstream call also kept until
    /// [`take_calls`](Self::take_calls): for a function that reports its
    /// calls per invocation.
    pub fn keeping_calls(service: &'static str) -> Self {
        Self::build(service, true)
    }

    /// Recording off: nothing is counted, and [`router::scrape`](crate::router::scrape)
    /// answers 404.
    pub fn off() -> Self {
        Self(None)
    }

    fn build(service: &'static str, keep_calls: bool) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by route pattern, method and status",
            requests.clone(),
        );
        let request_seconds = Family::new_with_constructor(histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response's head",
            Unit::Seconds,
            request_seconds.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            in_flight.clone(),
        );
        let upstream_calls = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Calls to upstream services, by upstream and outcome",
            upstream_calls.clone(),
        );
        let upstream_seconds = Family::new_with_constructor(histogram as fn() -> Histogram);
        registry.register_with_unit(
            "upstream_request_duration",
            "Time an upstream call took, its body read, by upstream and outcome",
            Unit::Seconds,
            upstream_seconds.clone(),
        );
        registry.register(
            "build",
            "The service and its version; always 1",
            Info::new(BuildLabels {
                service,
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Self(Some(Arc::new(Inner {
            registry,
            requests,
            request_seconds,
            in_flight,
            upstream_calls,
            upstream_seconds,
            calls: keep_calls.then(|| Mutex::new(Vec::new())),
        })))
    }

    /// Whether anything is recorded.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Creates `upstream`'s series for every outcome at 0, so that the
    /// first failure of a kind is an increase a query can see.
    pub fn add_upstream(&self, upstream: &'static str) {
        if let Some(inner) = &self.0 {
            for outcome in Outcome::ALL {
                let labels = UpstreamLabels {
                    upstream,
                    outcome: outcome.as_str(),
                };
                drop(inner.upstream_calls.get_or_create(&labels));
                drop(inner.upstream_seconds.get_or_create(&labels));
            }
        }
    }

    /// Counts one upstream call.
    pub fn upstream_call(&self, upstream: &'static str, outcome: Outcome, duration: Duration) {
        let Some(inner) = &self.0 else { return };
        let labels = UpstreamLabels {
            upstream,
            outcome: outcome.as_str(),
        };
        inner.upstream_calls.get_or_create(&labels).inc();
        inner
            .upstream_seconds
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        if let Some(calls) = &inner.calls {
            calls.lock().unwrap_or_else(PoisonError::into_inner).push(Call {
                upstream,
                outcome,
                duration,
            });
        }
    }

    /// The upstream calls kept since the last take (see
    /// [`keeping_calls`](Self::keeping_calls)), oldest first.
    pub fn take_calls(&self) -> Vec<Call> {
        self.0
            .as_ref()
            .and_then(|inner| inner.calls.as_ref())
            .map(|calls| std::mem::take(&mut *calls.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default()
    }

    /// Marks a request as in flight until the returned guard is dropped.
    pub(crate) fn request_started(&self) -> Option<InFlight> {
        let inner = self.0.as_ref()?;
        inner.in_flight.inc();
        Some(InFlight(inner.clone()))
    }

    /// The text `GET /metrics` answers; `None` when recording is off.
    pub fn encode(&self) -> Option<String> {
        let inner = self.0.as_ref()?;
        let mut text = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &inner.registry);
        Some(text)
    }
}

/// A request in flight: counted out when dropped, whether it was answered
/// or abandoned.
pub(crate) struct InFlight(Arc<Inner>);

impl InFlight {
    /// Counts the request as served with `status` after `duration`.
    pub(crate) fn served(&self, route: &'static str, method: &'static str, status: u16, duration: Duration) {
        let labels = RequestLabels {
            route,
            method,
            status,
        };
        self.0.requests.get_or_create(&labels).inc();
        self.0
            .request_seconds
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// A method as a label: the standard ones by name, any other `other`, so
/// that a client cannot grow the series without bound.
pub(crate) fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upstream_outcome_is_there_at_zero_once_added() {
        let metrics = Metrics::new("greeter");
        metrics.add_upstream("name");
        let text = metrics.encode().unwrap();
        for outcome in Outcome::ALL {
            let series = format!(
                "upstream_requests_total{{upstream=\"name\",outcome=\"{}\"}} 0\n",
                outcome.as_str()
            );
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
        assert!(
            text.contains("build_info{service=\"greeter\",version=\""),
            "{text}"
        );
    }

    #[test]
    fn a_call_is_counted_once_and_kept_only_where_asked() {
        let metrics = Metrics::keeping_calls("greeter-lambda");
        metrics.upstream_call("name", Outcome::Timeout, Duration::from_millis(300));
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("upstream_requests_total{upstream=\"name\",outcome=\"timeout\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "upstream_request_duration_seconds_bucket{upstream=\"name\",outcome=\"timeout\",le=\"0.5\"} 1\n"
            ),
            "{text}"
        );
        assert_eq!(
            metrics.take_calls(),
            [Call {
                upstream: "name",
                outcome: Outcome::Timeout,
                duration: Duration::from_millis(300)
            }]
        );
        assert!(metrics.take_calls().is_empty());

        let plain = Metrics::new("greeter");
        plain.upstream_call("name", Outcome::Ok, Duration::ZERO);
        assert!(plain.take_calls().is_empty());
    }

    #[test]
    fn off_records_nothing_and_has_nothing_to_say() {
        let metrics = Metrics::off();
        metrics.add_upstream("name");
        metrics.upstream_call("name", Outcome::Ok, Duration::ZERO);
        assert!(metrics.request_started().is_none());
        assert_eq!(metrics.encode(), None);
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let odd = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
    }
}
