//! Lambda's Invoke API, as Consul's terminating gateway (Envoy's
//! `aws_lambda` filter) calls it: `POST
//! /2015-03-31/functions/<name or ARN>/invocations`, with
//! `X-Amz-Invocation-Type` `RequestResponse` (200 and the payload),
//! `Event` (202, run in the background) or `DryRun` (204). A function
//! error is still a 200, with `X-Amz-Function-Error: Unhandled`; with
//! `X-Amz-Log-Type: Tail` the answer carries the end of the invocation's
//! log in `X-Amz-Log-Result`. A payload that is not JSON is refused (400
//! `InvalidRequestContentException`); past a reserved concurrency a
//! synchronous invocation is throttled (429 `TooManyRequestsException`).
//! Beside it, `GET /metrics`: Lambda's CloudWatch metrics for the function.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use service_core::router::{HEALTHY, new_request_id};

use base64::Engine as _;

use crate::function::{Function, InvocationType, Reply};

/// The Invoke API's port unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 9001;

/// Lambda's limit on a synchronous invocation's payload.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The Invoke API for `function`, `GET /health` for health checks and
/// `GET /metrics` for Prometheus: Lambda's CloudWatch metrics for it.
pub fn app(function: Arc<Function>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .route("/health", get(|| async { HEALTHY }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES))
        .with_state(function)
}

/// Lambda's own metrics for the function (see [`crate::metrics`]).
async fn metrics(State(function): State<Arc<Function>>) -> Response {
    (
        [("content-type", crate::metrics::CONTENT_TYPE)],
        function.metrics_text(),
    )
        .into_response()
}

async fn invoke(
    State(function): State<Arc<Function>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    if !function.config().answers_to(&name) {
        let missing = if name.starts_with("arn:") {
            name
        } else {
            function.config().arn_of(&name)
        };
        let message = format!("Function not found: {missing}");
        return client_error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &message);
    }
    let kind = headers
        .get("x-amz-invocation-type")
        .map_or(Ok("RequestResponse"), |value| value.to_str());
    if !matches!(kind, Ok("RequestResponse" | "Event" | "DryRun")) {
        return client_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!(
                "X-Amz-Invocation-Type {:?} is not RequestResponse, Event or DryRun",
                kind.unwrap_or("(not text)")
            ),
        );
    }
    if let Err(problem) = check_payload(&payload) {
        return client_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            &format!("Could not parse request body into json: Could not parse payload into json: {problem}"),
        );
    }
    let id_header = new_request_id();
    let request_id = id_header.to_str().unwrap_or_default().to_owned();
    let trace_id = headers
        .get("x-amzn-trace-id")
        .and_then(|value| value.to_str().ok())
        .map_or_else(new_trace_id, str::to_owned);
    match kind {
        Ok("RequestResponse") => {
            // On a task of its own, so the invocation runs to its end, and
            // is counted, even if the invoker hangs up, as on Lambda.
            let id = request_id.clone();
            let task = tokio::spawn(async move {
                function
                    .invoke(&id, payload, &trace_id, InvocationType::RequestResponse)
                    .await
            });
            let Ok(invoked) = task.await else {
                tracing::error!(request_id, "the invocation's task failed");
                return client_error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    &serde_json::json!({ "Type": "Service", "message": "the invocation failed in the emulator" }),
                );
            };
            let mut response = match invoked.reply {
                Reply::Payload(body) => (StatusCode::OK, body).into_response(),
                Reply::FunctionError(body) => {
                    (StatusCode::OK, [("x-amz-function-error", "Unhandled")], body).into_response()
                }
                Reply::Throttled => {
                    let body = serde_json::json!({
                        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                        "Type": "User",
                        "message": "Rate Exceeded.",
                    });
                    let mut response =
                        client_error_body(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", &body);
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-amzn-requestid"), id_header);
                    return response;
                }
            };
            set_common(response.headers_mut(), &id_header);
            let tail = headers
                .get("x-amz-log-type")
                .is_some_and(|value| value.as_bytes() == b"Tail");
            if tail {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&invoked.log_tail);
                if let Ok(value) = HeaderValue::from_str(&encoded) {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-amz-log-result"), value);
                }
            }
            response
        }
        Ok("Event") => {
            let id = request_id.clone();
            tokio::spawn(async move {
                function
                    .invoke(&id, payload, &trace_id, InvocationType::Event)
                    .await;
            });
            let mut response = StatusCode::ACCEPTED.into_response();
            set_common(response.headers_mut(), &id_header);
            response
        }
        _ => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            set_common(response.headers_mut(), &id_header);
            response
        }
    }
}

/// Lambda's check of a payload: JSON, or nothing at all (an empty payload
/// is how Envoy invokes under passthrough for a GET, and Lambda takes it).
fn check_payload(payload: &[u8]) -> Result<(), serde_json::Error> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map(|_| ())
}

fn set_common(headers: &mut HeaderMap, request_id: &HeaderValue) {
    headers.insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        HeaderName::from_static("x-amz-executed-version"),
        HeaderValue::from_static("$LATEST"),
    );
    headers.insert(HeaderName::from_static("x-amzn-requestid"), request_id.clone());
}

/// An error of the Invoke API itself, in Lambda's shape.
fn client_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    let body = serde_json::json!({ "Type": "User", "message": message });
    client_error_body(status, error_type, &body)
}

fn client_error_body(status: StatusCode, error_type: &'static str, body: &serde_json::Value) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", error_type),
        ],
        body.to_string(),
    )
        .into_response()
}

/// An X-Ray trace header for an invocation that came without one.
fn new_trace_id() -> String {
    let seconds = crate::runtime_api::epoch_ms(std::time::SystemTime::now()) / 1000;
    let root = format!("{:024x}", rand::random::<u128>() >> 32);
    format!(
        "Root=1-{seconds:08x}-{root};Parent={:016x};Sampled=0",
        rand::random::<u64>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_lambdas() {
        let pattern =
            regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").unwrap();
        let request_id = || new_request_id().to_str().unwrap().to_owned();
        assert!(pattern.is_match(&request_id()));
        assert_ne!(request_id(), request_id());
    }

    #[test]
    fn trace_ids_are_xray_headers() {
        let pattern =
            regex::Regex::new("^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$").unwrap();
        assert!(pattern.is_match(&new_trace_id()), "{}", new_trace_id());
    }
}
