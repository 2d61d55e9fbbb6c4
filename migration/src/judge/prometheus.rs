//! A window filled from Prometheus: what the mesh carried to each
//! destination between two scrapes, whoever sent it.
//!
//! The queries are Envoy's per-cluster series as consul-dataplane labels
//! them (`consul_destination_service`), so the same PromQL runs against the
//! local stack (envoy.yaml's stats tags) and against Consul on ECS:
//!
//! - requests: `envoy_cluster_upstream_rq_total`;
//! - failures: `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5"}`,
//!   and for the Lambda also ingress's
//!   `upstream_requests_total{upstream="greeter",outcome="function_error"}`.
//!   A Lambda function error reaches the mesh as HTTP 200 (Invoke answers
//!   200 with `X-Amz-Function-Error`, and Envoy's `aws_lambda` filter passes
//!   it on), so Envoy counts it a success; ingress reads the body and counts
//!   it. Only the Lambda can cause that outcome: the container greeter
//!   answers its failures with a 5xx, which Envoy counts already. (Lambda's
//!   own `Errors` would also see them, but from the platform, not in the
//!   mesh's window, and not on the same scrape clock locally.)
//! - unattributed failures: ingress's other failed calls to greeter
//!   (`upstream_requests_total{upstream="greeter",outcome=~"unreachable|..."}`)
//!   beyond the 5xx the two clusters counted. Envoy's per-cluster series
//!   miss the answers a sidecar makes before routing (a fault filter in
//!   front of the router, an overload, a missing route: measured when the
//!   local fault filter stood in ingress's sidecar, 20 % of the Lambda's
//!   calls aborted left both clusters at 100 % success; it now stands in
//!   the terminating gateway, past the sidecar, as on ECS); like the
//!   probes' unattributed failures they count against the Lambda while it
//!   has a share.
//! - latency: `envoy_cluster_upstream_rq_time_bucket` (milliseconds), its
//!   quantiles interpolated within buckets as `histogram_quantile` does.
//!
//! Exact counts, not `increase()`: each counter is read by an instant
//! query at the window's start and at its end, and subtracted per series
//! (a series lower at the end was reset: its end value is what it counted
//! since; a series that appears counts from 0). `increase()` extrapolates
//! to the range's edges and gives fractions of requests, which a minimum
//! request count cannot be judged on. A read waits until every scrape
//! target involved (Envoy's, ingress's) has a sample at or after the
//! moment asked for (`timestamp()` of its series), so the end of a window
//! is in it; the counts then cover scrapes wholly after the step's write.
//!
//! Nothing here passes a step for want of data: no series, a NaN, a
//! malformed answer or a Prometheus that stopped scraping is an error, and
//! an empty window is judged as no traffic (never a pass).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use service_core::upstream::{Client, Outcome, Upstream, UpstreamError};

use super::{Destination, Source, Window};
use crate::mesh::{LAMBDA_SERVICE, SPLIT_SERVICE};

/// Both destinations of ingress's calls, as consul-dataplane's tags name
/// them. The source matters on ECS: the terminating gateway's Envoy has a
/// greeter-lambda cluster too, and would count the Lambda's calls twice.
const DESTINATIONS: &str =
    r#"consul_source_service="ingress",consul_destination_service=~"greeter|greeter-lambda""#;

/// The series a window is counted from.
pub(crate) fn queries() -> [String; 5] {
    // ingress's failed calls to greeter, function errors aside.
    let failed: Vec<&str> = Outcome::ALL
        .iter()
        .filter(|o| !matches!(o, Outcome::Ok | Outcome::FunctionError))
        .map(|o| o.as_str())
        .collect();
    [
        format!("envoy_cluster_upstream_rq_total{{{DESTINATIONS}}}"),
        format!(r#"envoy_cluster_upstream_rq_xx{{{DESTINATIONS},envoy_response_code_class="5"}}"#),
        format!("envoy_cluster_upstream_rq_time_bucket{{{DESTINATIONS}}}"),
        format!(
            r#"upstream_requests_total{{upstream="{SPLIT_SERVICE}",outcome="{}"}}"#,
            Outcome::FunctionError.as_str()
        ),
        format!(
            r#"upstream_requests_total{{upstream="{SPLIT_SERVICE}",outcome=~"{}"}}"#,
            failed.join("|")
        ),
    ]
}

/// How long a read waits for a scrape after the moment it asks for.
const FRESH_WITHIN: Duration = Duration::from_secs(60);

/// Why Prometheus gave no usable figures.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// No answer, or not a 2xx.
    #[error("Prometheus at {url}: {source}")]
    Unreachable {
        /// Its URL.
        url: String,
        /// What went wrong.
        source: UpstreamError,
    },
    /// An answer that is not the query API's JSON.
    #[error(
        "Prometheus at {url} answered {query} with something that is not its query API's JSON ({detail}): is it Prometheus?"
    )]
    NotPrometheus {
        /// Its URL.
        url: String,
        /// The query.
        query: String,
        /// What was wrong.
        detail: String,
    },
    /// Prometheus's own error.
    #[error("Prometheus refused {query}: {detail}")]
    Refused {
        /// The query.
        query: String,
        /// Its `errorType: error`.
        detail: String,
    },
    /// A query that returns nothing: the series are not scraped.
    #[error("Prometheus has no series for {query}{what}: is it scraping {whom}?")]
    NoSeries {
        /// The query.
        query: String,
        /// For which destination, if one is missing.
        what: String,
        /// The scrape target that should provide it.
        whom: &'static str,
    },
    /// A sample that is not a count.
    #[error("Prometheus answered {query} with {value:?} for {series}: not a count")]
    Malformed {
        /// The query.
        query: String,
        /// The series.
        series: String,
        /// The value.
        value: String,
    },
    /// No scrape after the moment asked for.
    #[error("Prometheus has no sample of {query} after {after:.3} (newest {newest:.3}) within {} s: has it stopped scraping?", FRESH_WITHIN.as_secs())]
    Stale {
        /// The query.
        query: String,
        /// The moment, Unix seconds.
        after: f64,
        /// Its newest sample's time.
        newest: f64,
    },
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Data>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Prometheus's query API.
#[derive(Debug, Clone)]
pub(crate) struct Prometheus {
    client: Client,
    base: Url,
}

/// The counters at one moment, by series.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counters {
    /// When, Unix seconds.
    pub(crate) at: f64,
    series: [Vec<Sample>; 5],
}

/// Now, in Unix seconds.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Prometheus {
    pub(crate) fn new(base: Url, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: Client::new(timeout)?,
            base,
        })
    }

    /// An instant query at `time` (Unix seconds).
    async fn query(&self, query: &str, time: f64) -> Result<Vec<Sample>, PromError> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1", "query"]);
        }
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("time", &format!("{time:.3}"));
        let upstream = Upstream {
            name: "prometheus",
            url,
        };
        let base = self.base.to_string();
        let body = match self.client.get_text(&upstream, HeaderMap::new()).await {
            Ok(body) => body,
            // Prometheus's own errors (400 bad_data, 422, 503) come with
            // its JSON, whose first line the detail holds.
            Err(UpstreamError::Status { status, detail, .. }) => {
                return Err(PromError::Refused {
                    query: query.to_owned(),
                    detail: format!("{status}: {detail}"),
                });
            }
            Err(source) => return Err(PromError::Unreachable { url: base, source }),
        };
        let not_prometheus = |detail: String| PromError::NotPrometheus {
            url: base.clone(),
            query: query.to_owned(),
            detail,
        };
        let answer: Answer = serde_json::from_str(&body).map_err(|e| not_prometheus(e.to_string()))?;
        if answer.status != "success" {
            return Err(PromError::Refused {
                query: query.to_owned(),
                detail: answer.error.unwrap_or(answer.status),
            });
        }
        let data = answer.data.ok_or_else(|| not_prometheus("no data".into()))?;
        if data.result_type != "vector" {
            return Err(not_prometheus(format!(
                "a {} where a vector was asked for",
                data.result_type
            )));
        }
        data.result
            .into_iter()
            .map(|series| {
                let value: f64 = series.value.1.parse().unwrap_or(f64::NAN);
                if !value.is_finite() || value < 0.0 {
                    return Err(PromError::Malformed {
                        query: query.to_owned(),
                        series: format!("{:?}", series.metric),
                        value: series.value.1,
                    });
                }
                Ok(Sample {
                    labels: series.metric,
                    value,
                })
            })
            .collect()
    }

    /// Before anything is written: Prometheus answers, and holds the
    /// series for both destinations and ingress's function errors.
    pub(crate) async fn check(&self) -> Result<(), PromError> {
        let [requests, _, _, function_errors, _] = queries();
        let time = now();
        let found = self.query(&requests, time).await?;
        for destination in [SPLIT_SERVICE, LAMBDA_SERVICE] {
            if !found.iter().any(|s| destination_of(s) == Some(destination)) {
                return Err(PromError::NoSeries {
                    query: requests.clone(),
                    what: format!(" with consul_destination_service=\"{destination}\""),
                    whom: "Envoy (with its consul_destination_service stats tag)",
                });
            }
        }
        if self.query(&function_errors, time).await?.is_empty() {
            return Err(PromError::NoSeries {
                query: function_errors,
                what: String::new(),
                whom: "ingress",
            });
        }
        Ok(())
    }

    /// The counters as scraped at or after `after` (Unix seconds): waits
    /// for Envoy's and ingress's next scrape if need be.
    pub(crate) async fn counters(&self, after: f64) -> Result<Counters, PromError> {
        let queries = queries();
        let deadline = tokio::time::Instant::now() + FRESH_WITHIN;
        let time = loop {
            let time = now().max(after);
            match self.stale(&queries, after, time).await? {
                None => break time,
                Some(stale) if tokio::time::Instant::now() >= deadline => return Err(stale),
                Some(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        self.counters_at(time).await
    }

    /// The counters as they stood at `time` (Unix seconds), a moment
    /// already counted once: a window that outlived its leader is counted
    /// again from the same moment by the next, so nothing is lost or
    /// counted twice (an instant query at a past time answers the same
    /// samples, those at or before it).
    pub(crate) async fn counters_at(&self, time: f64) -> Result<Counters, PromError> {
        let queries = queries();
        let mut counters = Counters {
            at: time,
            ..Counters::default()
        };
        for (slot, query) in counters.series.iter_mut().zip(&queries) {
            *slot = self.query(query, time).await?;
        }
        Ok(counters)
    }

    /// `Some` error naming the first scrape target (Envoy's series, then
    /// ingress's) without a sample at or after `after` as of `time`.
    async fn stale(
        &self,
        queries: &[String; 5],
        after: f64,
        time: f64,
    ) -> Result<Option<PromError>, PromError> {
        for query in [&queries[0], &queries[3]] {
            let stamps = self.query(&format!("timestamp({query})"), time).await?;
            let oldest = stamps.iter().map(|s| s.value).fold(f64::INFINITY, f64::min);
            if stamps.is_empty() || oldest < after {
                return Ok(Some(PromError::Stale {
                    query: query.clone(),
                    after,
                    newest: stamps.iter().map(|s| s.value).fold(0.0, f64::max),
                }));
            }
        }
        Ok(None)
    }
}

fn destination_of(sample: &Sample) -> Option<&str> {
    sample
        .labels
        .get("consul_destination_service")
        .map(String::as_str)
}

/// What each series counted from `start` to `end`, by its labels: a
/// series lower at the end was reset, and counted its end value since; a
/// new series counted from 0.
fn deltas<'a>(start: &[Sample], end: &'a [Sample]) -> impl Iterator<Item = (&'a Sample, f64)> {
    end.iter().map(move |e| {
        let before = start
            .iter()
            .find(|s| s.labels == e.labels)
            .map_or(0.0, |s| s.value);
        let delta = if e.value >= before {
            e.value - before
        } else {
            e.value
        };
        (e, delta)
    })
}

/// The window between two reads; `probes` were sent meanwhile.
pub(crate) fn window(start: &Counters, end: &Counters, elapsed: Duration, probes: u64) -> Window {
    let sum = |i: usize, destination: &str| -> u64 {
        deltas(&start.series[i], &end.series[i])
            .filter(|(s, _)| destination_of(s) == Some(destination))
            .map(|(_, d)| d)
            .sum::<f64>()
            .round() as u64
    };
    let total = |i: usize| -> u64 {
        deltas(&start.series[i], &end.series[i])
            .map(|(_, d)| d)
            .sum::<f64>()
            .round() as u64
    };
    let function_errors = total(3);
    let ingress_failed = total(4);
    let tally = |destination: &str, extra_failures: u64| {
        let requests = sum(0, destination);
        let five = sum(1, destination).min(requests);
        // Function errors are among Envoy's 2xx.
        let function_errors = extra_failures.min(requests - five);
        let failed = five + function_errors;
        let buckets = buckets(&start.series[2], &end.series[2], destination);
        let count = buckets.last().map_or(0.0, |(_, c)| *c).round() as u64;
        let destination = Destination::new(
            requests - failed,
            failed,
            function_errors,
            count,
            quantile(&buckets, 0.50),
            quantile(&buckets, 0.99),
        );
        (destination, five)
    };
    let (greeter, greeter_5xx) = tally(SPLIT_SERVICE, 0);
    let (mut lambda, lambda_5xx) = tally(LAMBDA_SERVICE, function_errors);
    // Failures ingress saw that no destination's counters hold: answers
    // Envoy made before routing (its fault filter's aborts) or gave up on.
    // Nobody can be blamed, so they count against the Lambda, as the
    // probes' unattributed failures do (at 0 % the baseline fails on any).
    let unattributed = ingress_failed.saturating_sub(greeter_5xx + lambda_5xx);
    if unattributed > 0 {
        lambda = Destination::new(
            lambda.succeeded,
            lambda.failed + unattributed,
            lambda.function_errors,
            lambda.latencies,
            lambda.p50,
            lambda.p99,
        );
    }
    let mut failures = BTreeMap::new();
    for (why, count) in [
        (
            "function errors (answered 200 by the Lambda; ingress's upstream_requests_total{outcome=\"function_error\"})",
            lambda.function_errors,
        ),
        ("5xx from greeter-lambda (Envoy)", lambda_5xx),
        ("5xx from greeter (Envoy)", greeter_5xx),
        (
            "failed calls ingress saw that neither destination's counters hold (Envoy's own answers)",
            unattributed,
        ),
    ] {
        if count > 0 {
            failures.insert(why.to_owned(), count);
        }
    }
    let requests = greeter.requests + lambda.requests;
    Window {
        source: Source::Prometheus,
        probes,
        requests,
        observed_lambda_percent: if requests == 0 {
            0.0
        } else {
            100.0 * lambda.requests as f64 / requests as f64
        },
        greeter_failure: (greeter_5xx > 0).then(|| format!("{greeter_5xx} x 5xx from greeter (Envoy)")),
        greeter,
        lambda,
        unattributed_failures: unattributed,
        failures,
        elapsed,
    }
}

/// A destination's latency histogram over the window: cumulative counts
/// by upper bound (milliseconds), ascending, `+Inf` last.
fn buckets(start: &[Sample], end: &[Sample], destination: &str) -> Vec<(f64, f64)> {
    let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for (sample, delta) in deltas(start, end) {
        if destination_of(sample) != Some(destination) {
            continue;
        }
        let Some(le) = sample.labels.get("le").and_then(|le| le.parse::<f64>().ok()) else {
            continue;
        };
        // f64's bits order like the numbers for non-negative ones.
        by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += delta;
    }
    by_le.into_values().collect()
}

/// The `q` quantile of a histogram, as Prometheus's `histogram_quantile`
/// interpolates it: linearly within the bucket the rank falls in; in the
/// `+Inf` bucket, the highest finite bound. Zero for an empty histogram.
fn quantile(buckets: &[(f64, f64)], q: f64) -> Duration {
    let Some(&(_, total)) = buckets.last() else {
        return Duration::ZERO;
    };
    if total <= 0.0 {
        return Duration::ZERO;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            let ms = if le.is_infinite() {
                lower
            } else if count > below {
                lower + (le - lower) * (rank - below) / (count - below)
            } else {
                le
            };
            return Duration::from_secs_f64(ms / 1000.0);
        }
        (lower, below) = (le, count);
    }
    Duration::from_secs_f64(lower / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    #[test]
    fn a_reset_counter_counts_from_its_restart_and_a_new_one_from_0() {
        let a = [("consul_destination_service", "greeter"), ("instance", "a")];
        let b = [("consul_destination_service", "greeter"), ("instance", "b")];
        let start = [sample(&a, 100.0)];
        let end = [sample(&a, 30.0), sample(&b, 7.0)];
        let d: Vec<f64> = deltas(&start, &end).map(|(_, d)| d).collect();
        assert_eq!(d, [30.0, 7.0]);
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_like_histogram_quantile() {
        // 100 requests: 50 under 5 ms, 49 from 5 to 10, 1 from 10 to 25.
        let buckets = [(5.0, 50.0), (10.0, 99.0), (25.0, 100.0), (f64::INFINITY, 100.0)];
        assert_eq!(quantile(&buckets, 0.5), Duration::from_millis(5));
        assert_eq!(quantile(&buckets, 0.99), Duration::from_millis(10));
        let slow = [(5.0, 0.0), (10.0, 0.0), (f64::INFINITY, 10.0)];
        assert_eq!(quantile(&slow, 0.99), Duration::from_millis(10));
        assert_eq!(quantile(&[], 0.99), Duration::ZERO);
    }
}
