//! The routes and layers every service shares: `GET /health`, the payload
//! on every other `GET` path, 405 with `Allow` for other methods, request
//! ids and one log line per request.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// The body of `GET /health`.
pub const HEALTHY: &str = "healthy";

/// Why a request failed, put on its response by the error that answered
/// it, so the request's one log line carries it at error level.
#[derive(Debug, Clone)]
pub struct Failure(pub Arc<str>);

/// Put on a request whose caller logs it itself, so the router adds no line
/// of its own: greeter-lambda logs one line per invocation, whatever its
/// shape.
#[derive(Debug, Clone, Copy)]
pub struct LoggedByCaller;

/// A service's router: `payload` (a `get(...)` method router) answers
/// every path but `/health`.
pub fn service<S>(payload: MethodRouter<S>, state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/health", get(|| async { HEALTHY }))
        .route("/", payload.clone())
        .route("/{*path}", payload)
        .with_state(state)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn(log_request))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// One line per request: method, path, status, latency, request id, and
/// the failure if there was one.
///
/// A single event rather than a span per request (`TraceLayer`): at tens
/// of thousands of requests a second, the span's bookkeeping and
/// formatting cost several times the line itself.
async fn log_request(request: Request, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::ERROR) || request.extensions().get::<LoggedByCaller>().is_some() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request.headers().get("x-request-id").cloned();
    let response = next.run(request).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    let request_id = request_id
        .as_ref()
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    match response.extensions().get::<Failure>() {
        Some(Failure(error)) => {
            tracing::error!(%method, path, status, latency_us, request_id, %error, "served");
        }
        None => tracing::info!(%method, path, status, latency_us, request_id, "served"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    fn app() -> Router {
        service(get(|| async { "payload" }), ())
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
        for path in ["/", "/anything", "/a/b/c?x=1", "/health/"] {
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
    async fn a_request_id_is_made_when_missing_and_kept_when_given() {
        let made = send("GET", "/").await;
        let id = made.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "{id}");

        let request = Request::builder()
            .uri("/")
            .header("x-request-id", "given-1")
            .body(Body::empty())
            .unwrap();
        let kept = app().oneshot(request).await.unwrap();
        assert_eq!(kept.headers()["x-request-id"], "given-1");
    }
}
