//! A stand-in for Prometheus's HTTP query API (`GET /api/v1/query` with
//! `query` and `time`, answered as Prometheus documents it in
//! `docs/querying/api.md`), over a mesh whose counters a load generator
//! drives: each tick sends requests split as the Consul double holds the
//! split, counts them in Envoy's per-destination series and ingress's
//! function errors, and takes a scrape. An instant query answers from the
//! newest scrape at or before its `time`, as Prometheus does; only the
//! queries `split migrate` documents are known, and anything else the
//! double sees is a problem the test reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::{consul_double, double};

/// Envoy's latency buckets, in milliseconds.
const BUCKETS: [f64; 8] = [1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0];

/// What the double answers besides the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Prometheus.
    #[default]
    Prometheus,
    /// A web page, as another server on the port would answer.
    NotPrometheus,
    /// Every query returns no series.
    Empty,
    /// Every value is "NaN".
    NaN,
}

/// One destination's counters, as Envoy keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cluster {
    pub requests: u64,
    pub five: u64,
    /// Cumulative counts by bucket, `+Inf` last.
    pub buckets: [u64; 9],
}

impl Cluster {
    fn record(&mut self, ms: f64, five: bool) {
        self.requests += 1;
        self.five += u64::from(five);
        for (i, le) in BUCKETS.iter().enumerate() {
            if ms <= *le {
                self.buckets[i] += 1;
            }
        }
        self.buckets[8] += 1;
    }
}

/// A scrape: the counters at a moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub at: f64,
    pub greeter: Cluster,
    pub lambda: Cluster,
    pub function_errors: u64,
    /// ingress's other failed calls to greeter.
    pub ingress_failed: u64,
}

/// What the double holds.
#[derive(Debug, Default)]
pub struct Prometheus {
    pub mode: Mode,
    /// Requests a tick sends; 0 is no traffic.
    pub per_tick: u64,
    /// From this Lambda share up, every n-th Lambda request is a 503...
    pub lambda_5xx_every: Option<u64>,
    /// ...or a function error (a 200 to Envoy)...
    pub lambda_function_error_every: Option<u64>,
    /// ...or aborted by Envoy before routing (no cluster counts it).
    pub lambda_abort_every: Option<u64>,
    pub fail_at_or_above: f64,
    /// The counters now, and each scrape.
    pub now: Scrape,
    pub scrapes: Vec<Scrape>,
    /// Every query with its `time`, and problems with any.
    pub queries: Vec<(String, f64)>,
    pub problems: Vec<String>,
    sent: u64,
    lambda_sent: u64,
}

pub type Shared = Arc<Mutex<Prometheus>>;

impl double::Problems for Prometheus {
    fn problems(&mut self) -> &mut Vec<String> {
        &mut self.problems
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl Prometheus {
    /// One tick of traffic at the split `consul` holds, then a scrape.
    fn tick(&mut self, lambda_percent: f64) {
        let h = (lambda_percent * 100.0).round() as u64;
        for _ in 0..self.per_tick {
            let n = self.sent;
            self.sent += 1;
            if (n + 1) * h / 10_000 > n * h / 10_000 {
                self.lambda_sent += 1;
                let failing = lambda_percent >= self.fail_at_or_above;
                let every = |k: Option<u64>| failing && k.is_some_and(|k| self.lambda_sent % k == 0);
                let five = every(self.lambda_5xx_every);
                if every(self.lambda_abort_every) {
                    self.now.ingress_failed += 1;
                    continue;
                }
                if every(self.lambda_function_error_every) {
                    self.now.function_errors += 1;
                }
                self.now.ingress_failed += u64::from(five);
                self.now.lambda.record(12.0, five);
            } else {
                self.now.greeter.record(8.0, false);
            }
        }
        self.now.at = unix_now();
        let scrape = self.now.clone();
        self.scrapes.push(scrape);
    }
}

/// A double with traffic of `per_tick` requests every 5 ms, following
/// the split `consul` holds; its base URL.
pub async fn serve(consul: consul_double::Shared, per_tick: u64) -> (Shared, String) {
    let shared: Shared = Arc::new(Mutex::new(Prometheus {
        per_tick,
        fail_at_or_above: 0.0,
        ..Prometheus::default()
    }));
    let generator = shared.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        loop {
            ticks.tick().await;
            let lambda = consul.lock().unwrap().lambda();
            generator.lock().unwrap().tick(lambda);
        }
    });
    let routes = Router::new().route("/api/v1/query", get(query));
    let app = double::note_unexpected(routes, "404 page not found").with_state(shared.clone());
    let addr = double::serve(app).await;
    // The first scrape exists before any query.
    while shared.lock().unwrap().scrapes.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (shared, format!("http://{addr}"))
}

const DESTINATIONS: &str =
    r#"consul_source_service="ingress",consul_destination_service=~"greeter|greeter-lambda""#;

/// The series of one known query in a scrape, without `__name__`.
fn series(query: &str, scrape: &Scrape) -> Option<Vec<(BTreeMap<&'static str, String>, f64)>> {
    let cluster = |name: &'static str| {
        BTreeMap::from([
            ("consul_destination_service", name.to_owned()),
            ("consul_source_service", "ingress".to_owned()),
            ("envoy_cluster_name", name.to_owned()),
            ("instance", "envoy:9901".to_owned()),
            ("job", "envoy".to_owned()),
        ])
    };
    let clusters = [("greeter", &scrape.greeter), ("greeter-lambda", &scrape.lambda)];
    let each = |f: &dyn Fn(&Cluster) -> f64| {
        clusters
            .iter()
            .map(|(name, c)| (cluster(name), f(c)))
            .collect::<Vec<_>>()
    };
    if query == format!("envoy_cluster_upstream_rq_total{{{DESTINATIONS}}}") {
        return Some(each(&|c| c.requests as f64));
    }
    if query == format!(r#"envoy_cluster_upstream_rq_xx{{{DESTINATIONS},envoy_response_code_class="5"}}"#) {
        let mut out = each(&|c| c.five as f64);
        for (labels, _) in &mut out {
            labels.insert("envoy_response_code_class", "5".into());
        }
        return Some(out);
    }
    if query == format!("envoy_cluster_upstream_rq_time_bucket{{{DESTINATIONS}}}") {
        let mut out = Vec::new();
        for (name, c) in clusters {
            for (i, count) in c.buckets.iter().enumerate() {
                let mut labels = cluster(name);
                let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |le| le.to_string());
                labels.insert("le", le);
                out.push((labels, *count as f64));
            }
        }
        return Some(out);
    }
    if query == r#"upstream_requests_total{upstream="greeter",outcome="function_error"}"# {
        let labels = BTreeMap::from([
            ("instance", "ingress:8080".to_owned()),
            ("job", "ingress".to_owned()),
            ("outcome", "function_error".to_owned()),
            ("upstream", "greeter".to_owned()),
        ]);
        return Some(vec![(labels, scrape.function_errors as f64)]);
    }
    if query
        == r#"upstream_requests_total{upstream="greeter",outcome=~"unreachable|timeout|status|too_large|not_utf8"}"#
    {
        // One series per outcome, as ingress exports them.
        let outcome = |outcome: &str, value: u64| {
            let labels = BTreeMap::from([
                ("instance", "ingress:8080".to_owned()),
                ("job", "ingress".to_owned()),
                ("outcome", outcome.to_owned()),
                ("upstream", "greeter".to_owned()),
            ]);
            (labels, value as f64)
        };
        return Some(vec![
            outcome("unreachable", 0),
            outcome("timeout", 0),
            outcome("status", scrape.ingress_failed),
            outcome("too_large", 0),
            outcome("not_utf8", 0),
        ]);
    }
    None
}

async fn query(
    State(shared): State<Shared>,
    Query(params): Query<BTreeMap<String, String>>,
) -> (StatusCode, String) {
    let mut prometheus = shared.lock().unwrap();
    let (Some(query), Some(time)) = (
        params.get("query"),
        params.get("time").and_then(|t| t.parse::<f64>().ok()),
    ) else {
        prometheus
            .problems
            .push(format!("a query without query or a numeric time: {params:?}"));
        return (
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "errorType": "bad_data", "error": "invalid parameter"}).to_string(),
        );
    };
    prometheus.queries.push((query.clone(), time));
    match prometheus.mode {
        Mode::NotPrometheus => return (StatusCode::OK, "<!doctype html><title>Grafana</title>".into()),
        Mode::Empty => return (StatusCode::OK, vector(&[])),
        _ => {}
    }
    let (inner, stamped) = match query.strip_prefix("timestamp(").and_then(|q| q.strip_suffix(')')) {
        Some(inner) => (inner.to_owned(), true),
        None => (query.clone(), false),
    };
    // The newest scrape at or before `time`.
    let Some(scrape) = prometheus.scrapes.iter().rev().find(|s| s.at <= time).cloned() else {
        return (StatusCode::OK, vector(&[]));
    };
    let Some(found) = series(&inner, &scrape) else {
        prometheus.problems.push(format!("unknown query {query}"));
        return (
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "errorType": "bad_data", "error": format!("unknown query {query}")})
                .to_string(),
        );
    };
    let nan = prometheus.mode == Mode::NaN;
    let result: Vec<Value> = found
        .into_iter()
        .map(|(mut labels, value)| {
            let value = match (nan, stamped) {
                (true, _) => "NaN".to_owned(),
                (false, true) => format!("{:.3}", scrape.at),
                (false, false) => value.to_string(),
            };
            let mut metric: BTreeMap<String, String> = labels
                .iter_mut()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            if !stamped {
                metric.insert("__name__".into(), inner.split('{').next().unwrap().to_owned());
            }
            json!({ "metric": metric, "value": [time, value] })
        })
        .collect();
    (StatusCode::OK, vector(&result))
}

fn vector(result: &[Value]) -> String {
    json!({ "status": "success", "data": { "resultType": "vector", "result": result } }).to_string()
}
