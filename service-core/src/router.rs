//! The routes and the middleware every service shares: `GET /health`, the
//! payload on every other `GET` path, 405 with `Allow` for other methods,
//! request ids, metrics and one log line per request; and, apart, the
//! routes of the metrics listener ([`scrape`]).
//!
//! `/metrics` on a service's own port is a path like any other, answered
//! with the payload as the original answered every path but `/health`: the
//! port the world reaches serves no internal endpoint, and telling the
//! metrics path from the rest there would only say where one used to be.
//! The metrics are served on a port of their own (`METRICS_PORT`, see
//! [`server::launch`](crate::server::launch)), which only Prometheus reaches.
//!
//! Ids, metrics and the log line are one hand-written service around the
//! routes, behind an outer router's fallback, rather than a stack of tower
//! layers (`SetRequestId`, `from_fn`, `PropagateRequestId`, and one more for
//! metrics): axum boxes and clones every layer per route per request.
//! Recording metrics here adds about 1,050 instructions per request at a
//! leaf, 5.4 % (`name`, `METRICS=on` against `off`, `scripts/bench-callgrind`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use tower::Service;

use crate::metrics::{self, InFlight, Metrics};
use crate::outcome::FailureReason;

/// The body of `GET /health`.
pub const HEALTHY: &str = "healthy";

/// The route and `route` label of the health check.
const HEALTH: &str = "/health";
/// The metrics listener's one route.
const METRICS: &str = "/metrics";
/// The `route` label of the payload at `/`.
const ROOT: &str = "/";
/// The `route` label of the payload at any other path.
const ANY_PATH: &str = "/{*path}";

/// The header a request id travels in, made when a request has none.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Put on a request whose caller logs it itself, so the router adds no line
/// of its own: greeter-lambda logs one line per invocation, whatever its
/// shape.
#[derive(Debug, Clone, Copy)]
pub struct LoggedByCaller;

/// A service's router: `payload` (a `get(...)` method router) answers
/// every path but `/health`; requests are counted into `metrics`, which
/// [`scrape`] answers on a listener of its own.
pub fn service<S>(payload: MethodRouter<S>, state: S, metrics: Metrics) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    let routes = Router::new()
        .route(HEALTH, get(|| async { HEALTHY }))
        .route(ROOT, payload.clone())
        .route(ANY_PATH, payload)
        .with_state(state);
    Router::new().fallback_service(Served { routes, metrics })
}

/// The metrics listener's router: `GET /metrics` answers `metrics` in
/// Prometheus's text format, any other path 404. Scrapes are neither
/// counted nor logged: a service's request metrics and log lines are its
/// traffic, not Prometheus's.
pub fn scrape(metrics: Metrics) -> Router {
    Router::new().route(METRICS, get(move || std::future::ready(metrics_answer(&metrics))))
}

/// What `GET /metrics` answers: the text, or 404 saying why there is none.
fn metrics_answer(metrics: &Metrics) -> Response {
    match metrics.encode() {
        Some(text) => ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off (METRICS=off)").into_response(),
    }
}

/// The `route` label of a path: the pattern that answers it.
fn route(path: &str) -> &'static str {
    match path {
        HEALTH => HEALTH,
        ROOT => ROOT,
        _ => ANY_PATH,
    }
}

/// The routes, with request ids, metrics and the log line around them.
/// Cloned per request by the outer router: a `Router` clone is one
/// reference count, `Metrics` another.
#[derive(Clone)]
struct Served {
    routes: Router,
    metrics: Metrics,
}

impl Service<Request> for Served {
    type Response = Response;
    type Error = Infallible;
    type Future = ServedFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> ServedFuture {
        let request_id = match request.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        // One event, not a span per request (`TraceLayer`): at tens of
        // thousands of requests a second, a span's bookkeeping costs more
        // than the line. Nothing is timed or kept when nothing would log
        // or count.
        let log = (tracing::enabled!(tracing::Level::ERROR)
            && request.extensions().get::<LoggedByCaller>().is_none())
        .then(|| LogLine {
            method: request.method().clone(),
            uri: request.uri().clone(),
        });
        let metered = self.metrics.request_started().map(|in_flight| Metered {
            in_flight,
            route: route(request.uri().path()),
            method: metrics::method_label(request.method()),
        });
        let started = (log.is_some() || metered.is_some()).then(Instant::now);
        ServedFuture {
            inner: self.routes.call(request),
            request_id: Some(request_id),
            started,
            log,
            metered,
        }
    }
}

/// What the log line needs from the request.
struct LogLine {
    method: Method,
    uri: Uri,
}

/// What the request's metrics need: its labels, and the in-flight count
/// it holds until answered or dropped.
struct Metered {
    in_flight: InFlight,
    route: &'static str,
    method: &'static str,
}

impl LogLine {
    /// One line: method, path, status, latency, request id, and the
    /// failure if there was one.
    fn log(self, response: &Response, request_id: &HeaderValue, latency: std::time::Duration) {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let (method, path) = (self.method, self.uri.path());
        let status = response.status().as_u16();
        let request_id = request_id.to_str().unwrap_or_default();
        match response.extensions().get::<FailureReason>() {
            Some(FailureReason(error)) => {
                tracing::error!(%method, path, status, latency_us, request_id, %error, "served");
            }
            None => tracing::info!(%method, path, status, latency_us, request_id, "served"),
        }
    }
}

pin_project_lite::pin_project! {
    /// The routed response, with the request id put on it, the request
    /// counted and the line logged.
    struct ServedFuture {
        #[pin]
        inner: RouteFuture<Infallible>,
        request_id: Option<HeaderValue>,
        started: Option<Instant>,
        log: Option<LogLine>,
        metered: Option<Metered>,
    }
}

impl Future for ServedFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        if let Some(request_id) = this.request_id.take() {
            let latency = this.started.map(|started| started.elapsed()).unwrap_or_default();
            if let Some(metered) = this.metered.take() {
                let status = response.status().as_u16();
                metered
                    .in_flight
                    .served(metered.route, metered.method, status, latency);
            }
            if let Some(log) = this.log.take() {
                log.log(&response, &request_id, latency);
            }
            if !response.headers().contains_key(REQUEST_ID) {
                response.headers_mut().insert(REQUEST_ID, request_id);
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// A random (version 4) UUID, as `x-request-id` carries it: from the
/// thread's generator (`uuid`'s `fast-rng`), no system call. One
/// allocation, shared by the request's header and the response's.
/// Lambda's request ids take the same form (lambda-emulator).
pub fn new_request_id() -> HeaderValue {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_maybe_shared(Bytes::from_owner(text)).unwrap_or(HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    fn app() -> Router {
        service(get(|| async { "payload" }), (), Metrics::off())
    }

    async fn send(method: &str, uri: &str) -> axum::http::Response<Body> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        app().oneshot(request).await.unwrap()
    }

    async fn text(response: axum::http::Response<Body>) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn health_answers_healthy_as_plain_text() {
        let response = send("GET", "/health").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_eq!(text(response).await, "healthy");
    }

    #[tokio::test]
    async fn every_other_get_path_answers_the_payload() {
        for path in ["/", "/anything", "/a/b/c?x=1", "/health/", "/metrics"] {
            let response = send("GET", path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(text(response).await, "payload", "{path}");
        }
    }

    #[tokio::test]
    async fn other_methods_get_405_with_allow() {
        for (method, path) in [("POST", "/"), ("DELETE", "/x"), ("PUT", "/health")] {
            let response = send(method, path).await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let allow = response.headers()[header::ALLOW].to_str().unwrap();
            assert!(allow.contains("GET"), "{allow}");
        }
    }

    #[tokio::test]
    async fn metrics_on_the_service_port_are_the_payload_even_when_on() {
        let app = service(get(|| async { "payload" }), (), Metrics::new("name"));
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text(response).await, "payload");
    }

    #[tokio::test]
    async fn the_metrics_listener_answers_get_metrics_and_nothing_else() {
        let scrape = |method: &str, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            super::scrape(Metrics::new("name")).oneshot(request)
        };
        let response = scrape("GET", "/metrics").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let body = text(response).await;
        assert!(body.contains("build_info{service=\"name\",version=\""), "{body}");
        for path in ["/", "/health", "/metrics/", "/anything"] {
            let response = scrape("GET", path).await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let response = scrape("POST", "/metrics").await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn the_metrics_listener_with_metrics_off_says_why_it_has_none() {
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = scrape(Metrics::off()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(text(response).await, "metrics are off (METRICS=off)");
    }

    #[tokio::test]
    async fn a_request_id_is_made_when_missing_and_kept_when_given() {
        let made = send("GET", "/").await;
        let id = made.headers()["x-request-id"].to_str().unwrap();
        let uuid = uuid::Uuid::try_parse(id).unwrap();
        assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        assert_eq!(id, uuid.hyphenated().to_string(), "lower case, hyphenated");

        let request = Request::builder()
            .uri("/")
            .header("x-request-id", "given-1")
            .body(Body::empty())
            .unwrap();
        let kept = app().oneshot(request).await.unwrap();
        assert_eq!(kept.headers()["x-request-id"], "given-1");
    }
}
