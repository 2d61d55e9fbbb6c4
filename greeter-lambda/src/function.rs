//! The function: one handler for every invocation shape, all answering the
//! container greeter's greeting, `From lambda: <greeting> <name>`.
//!
//! Its failures are the function's, whatever the shape, so that whoever
//! reads ingress's answer blames the Lambda, never the container greeter:
//! under passthrough a failure is a function error (Lambda's
//! `X-Amz-Function-Error`); in the HTTP shapes (Envoy without passthrough,
//! API Gateway, ALB) the container greeter's failed answer declares origin
//! `function` instead of its upstream call's (service-core's
//! [`origin`]), which ingress passes on.

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use axum::middleware::{map_request, map_response};
use lambda_http::Adapter;
use lambda_http::lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde::Serialize;
use service_core::greeter::{self, Greeter};
use service_core::origin::{self, Origin};
use service_core::router::LoggedByCaller;
use service_core::upstream::UpstreamError;
use tower::ServiceExt;

use crate::emf;
use crate::envoy::EnvoyResponse;
use crate::invocation::Invocation;

/// Who the greeting is from.
pub const FROM: &str = "lambda";

/// The most a response body of the greeter's router may hold: far more
/// than a greeting, far less than Lambda's 6 MB response limit.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The header X-Ray traces travel in.
const XRAY_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// What the function answers, serialized as its invoker expects.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// Passthrough: the greeting, which Lambda hands back as a JSON string.
    Text(String),
    /// Envoy without passthrough: status, headers and body.
    Envoy(EnvoyResponse),
    /// API Gateway, Function URL or ALB: `lambda_http`'s response event
    /// (whose type `lambda_http` keeps private), as JSON.
    Http(serde_json::Value),
}

/// The function's state: the greeter, and the container greeter's router
/// around it for the shapes that are HTTP requests. Cheap to clone.
#[derive(Clone)]
pub struct Function {
    greeter: Greeter,
    router: Router,
}

impl Function {
    /// The function around `greeter`; it makes no network call.
    pub fn new(greeter: Greeter) -> Self {
        let router = greeter::app(greeter.clone(), FROM)
            // The invocation's line is logged here, so the router logs none.
            .layer(map_request(|mut request: Request<axum::body::Body>| async move {
                request.extensions_mut().insert(LoggedByCaller);
                request
            }))
            .layer(map_response(
                |mut response: Response<axum::body::Body>| async move {
                    if let Some(declared) = response.headers_mut().get_mut(origin::HEADER) {
                        *declared = Origin::Function.header_value();
                    }
                    response
                },
            ));
        Self { greeter, router }
    }

    /// Answers one invocation, and logs one line for it with its shape,
    /// status and latency.
    ///
    /// A passthrough invocation answers the greeting, or a function error
    /// naming the upstream that failed (ingress turns it into a 502). The
    /// HTTP shapes answer through the container greeter's router: 200,
    /// `/health`, 405, 502 or 504 exactly as `greeter` does. A payload of
    /// an HTTP shape that cannot be read is a function error saying why.
    /// The invocation's upstream calls are written as EMF lines ([`emf`])
    /// before it returns.
    pub async fn handle(&self, event: LambdaEvent<Invocation>) -> Result<Answer, Diagnostic> {
        let started = Instant::now();
        let shape = event.payload.shape();
        let function_name = match event.context.env_config.function_name.as_str() {
            "" => "greeter-lambda".to_owned(),
            name => name.to_owned(),
        };
        let (status, answer) = self.answer(event).await;
        emf::write(&self.greeter.metrics().take_calls(), &function_name);
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        match &answer {
            Ok(_) => tracing::info!(shape, status, latency_us, "invoked"),
            Err(error) => tracing::warn!(
                shape,
                status,
                latency_us,
                error_type = error.error_type,
                error = error.error_message,
                "invoked"
            ),
        }
        answer
    }

    /// The answer and the HTTP status it amounts to.
    async fn answer(&self, event: LambdaEvent<Invocation>) -> (u16, Result<Answer, Diagnostic>) {
        let LambdaEvent { payload, context } = event;
        match payload {
            Invocation::Passthrough => {
                let mut headers = HeaderMap::new();
                set_trace_id(&mut headers, &context);
                match self.greeter.greet(FROM, headers).await {
                    Ok(greeting) => (200, Ok(Answer::Text(greeting))),
                    Err(error) => (error.status().as_u16(), Err(upstream_error(&error))),
                }
            }
            Invocation::Envoy(mut request) => {
                set_trace_id(request.headers_mut(), &context);
                let response = self.serve(request).await;
                let status = response.status().as_u16();
                match read_body(response).await {
                    Ok(response) => (status, Ok(Answer::Envoy(EnvoyResponse::from_http(response)))),
                    Err(error) => (500, Err(error)),
                }
            }
            Invocation::Http(event) => {
                // The service lambda_http::run wraps a router in: its docs are
                // hidden, but it is the public way to lambda_http's event and
                // response conversions.
                let adapter: Adapter<'_, _, Router> = Adapter::from(self.router.clone());
                let Ok(response) = adapter.oneshot(LambdaEvent::new(*event, context)).await;
                match serde_json::to_value(response) {
                    Ok(response) => (http_status(&response), Ok(Answer::Http(response))),
                    Err(e) => (500, Err(response_error(e))),
                }
            }
            Invocation::Unreadable(unreadable) => (
                400,
                Err(Diagnostic {
                    error_type: "UnreadablePayload".into(),
                    error_message: unreadable.to_string(),
                }),
            ),
        }
    }

    async fn serve(&self, request: Request<axum::body::Body>) -> Response<axum::body::Body> {
        let Ok::<_, Infallible>(response) = self.router.clone().oneshot(request).await;
        response
    }
}

/// The function error of a failed upstream call: its one line, which
/// names the upstream, as the message.
fn upstream_error(error: &UpstreamError) -> Diagnostic {
    Diagnostic {
        error_type: "UpstreamError".into(),
        error_message: error.to_string(),
    }
}

/// Sets `x-amzn-trace-id` to the invocation's X-Ray trace, as `lambda_http`
/// does for the HTTP events, so that upstream calls join the function's trace.
fn set_trace_id(headers: &mut HeaderMap, context: &Context) {
    if let Some(Ok(value)) = context.xray_trace_id.as_deref().map(HeaderValue::from_str) {
        headers.insert(XRAY_TRACE_ID, value);
    }
}

async fn read_body(response: Response<axum::body::Body>) -> Result<Response<axum::body::Bytes>, Diagnostic> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
        .await
        .map_err(response_error)?;
    Ok(Response::from_parts(parts, bytes))
}

fn response_error(error: impl std::fmt::Display) -> Diagnostic {
    Diagnostic {
        error_type: "ResponseError".into(),
        error_message: format!("cannot read the greeter's response: {error}"),
    }
}

/// The `statusCode` every HTTP response event carries.
fn http_status(response: &serde_json::Value) -> u16 {
    response["statusCode"]
        .as_u64()
        .and_then(|status| u16::try_from(status).ok())
        .unwrap_or_default()
}
