//! Calls to upstream services: one pooled keep-alive client per process,
//! bounded in time and size, with failures that name the upstream, each
//! call counted by its [`Outcome`] (see [`metrics`](crate::metrics)).
//!
//! A Lambda function error arrives as a 2xx (Lambda's Invoke answers 200,
//! and Envoy's `aws_lambda` filter passes it on): it is known here, for
//! every upstream, by Lambda's `X-Amz-Function-Error` header, or, where
//! something in between dropped the header, by the body being Lambda's
//! error object (`errorMessage`, with or without `errorType`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use reqwest::Url;

use crate::metrics::Metrics;
use crate::origin::{self, Origin};
use crate::outcome::FailureReason;
// Defined below the metrics that count by it; callers look for it here.
pub use crate::outcome::Outcome;

/// The most an upstream body may hold; a larger one is a fault, not a payload.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The header Lambda's Invoke API marks a function error with (`Unhandled`,
/// `Handled`), passed on by Envoy's `aws_lambda` filter.
pub const FUNCTION_ERROR: HeaderName = HeaderName::from_static("x-amz-function-error");

/// The only inbound headers passed on to upstreams. Anything else could
/// break the SigV4 signature the mesh's gateway adds on the way to Lambda.
pub const FORWARDED_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-amzn-trace-id"),
];

/// The tracing headers of an inbound request, ready to send upstream.
pub fn forwarded_headers(inbound: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in &FORWARDED_HEADERS {
        for value in inbound.get_all(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The tracing headers of the request a handler answers, ready to send
/// upstream: an extractor that copies only them, where a `HeaderMap`
/// argument would copy every inbound header first.
#[derive(Debug, Clone, Default)]
pub struct Forwarded(pub HeaderMap);

impl<S: Send + Sync> FromRequestParts<S> for Forwarded {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(forwarded_headers(&parts.headers)))
    }
}

/// A named upstream service and the URL it is reached at.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The service's name, used in every error about it.
    pub name: &'static str,
    /// The URL a `GET` is sent to.
    pub url: Url,
}

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer: refused, reset, DNS failure and the like.
    #[error("{upstream} upstream unreachable: {cause}")]
    Unreachable {
        /// The upstream's name.
        upstream: &'static str,
        /// The lowest-level cause, e.g. `connection refused`.
        cause: String,
    },
    /// No complete answer within the timeout.
    #[error("{upstream} upstream timed out after {} ms", .after.as_millis())]
    Timeout {
        /// The upstream's name.
        upstream: &'static str,
        /// The timeout that ran out.
        after: Duration,
    },
    /// An answer that was not a 2xx; `detail` is the first line of its body.
    #[error("{upstream} upstream answered {status}{}", detail_suffix(.detail))]
    Status {
        /// The upstream's name.
        upstream: &'static str,
        /// The status it answered.
        status: StatusCode,
        /// The first line of its body, possibly empty.
        detail: String,
        /// The origin its answer declared (see [`origin`]): present when
        /// a service of ours answered a failure of its own.
        declared: Option<Origin>,
    },
    /// A body over [`MAX_BODY_BYTES`].
    #[error("{upstream} upstream body is over {MAX_BODY_BYTES} bytes")]
    TooLarge {
        /// The upstream's name.
        upstream: &'static str,
    },
    /// A body that is not UTF-8 text.
    #[error("{upstream} upstream body is not UTF-8")]
    NotUtf8 {
        /// The upstream's name.
        upstream: &'static str,
    },
    /// A Lambda function error: an answer with `X-Amz-Function-Error`, or
    /// a 2xx body that is Lambda's error object.
    #[error("{upstream} upstream failed: {detail}")]
    FunctionError {
        /// The upstream's name.
        upstream: &'static str,
        /// `errorType: errorMessage`, or what there is of them.
        detail: String,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl UpstreamError {
    /// Where this call failed, as the answer to this request declares it:
    /// a function error, or a failed answer that declared itself the
    /// function's (greeter-lambda answering an HTTP shape), is the
    /// function's; any other failed answer that declared an origin is a
    /// service's own; the rest is the transport's.
    pub fn origin(&self) -> Origin {
        match self {
            Self::FunctionError { .. }
            | Self::Status {
                declared: Some(Origin::Function),
                ..
            } => Origin::Function,
            Self::Status {
                declared: Some(_), ..
            } => Origin::Service,
            _ => Origin::Transport,
        }
    }

    /// The outcome this failure is counted under.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Unreachable { .. } => Outcome::Unreachable,
            Self::Timeout { .. } => Outcome::Timeout,
            Self::Status { .. } => Outcome::Status,
            Self::TooLarge { .. } => Outcome::TooLarge,
            Self::NotUtf8 { .. } => Outcome::NotUtf8,
            Self::FunctionError { .. } => Outcome::FunctionError,
        }
    }

    /// 504 for a timeout, 502 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

/// The one error type handlers return: answered as 502 or 504 with its
/// one-line description and its [`origin`] header; the request's log line
/// carries the description at error level (see [`router`](crate::router)).
impl axum::response::IntoResponse for UpstreamError {
    fn into_response(self) -> axum::response::Response {
        let message: Arc<str> = self.to_string().into();
        let origin = [(origin::HEADER, self.origin().header_value())];
        let mut response = (self.status(), origin, message.to_string()).into_response();
        response.extensions_mut().insert(FailureReason(message));
        response
    }
}

/// The HTTP client every upstream call of a process goes through.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
    metrics: Metrics,
}

impl Client {
    /// Builds the pooled client, recording nothing (see
    /// [`with_metrics`](Self::with_metrics)). Proxy variables are ignored
    /// on purpose: in the mesh, upstreams are the local sidecar.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            timeout,
            metrics: Metrics::off(),
        })
    }

    /// The same client, counting every call into `metrics`.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// The metrics this client records into: the service's own.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The upstream `name` at `url`, its series created at 0 for every
    /// outcome.
    pub fn upstream(&self, name: &'static str, url: Url) -> Upstream {
        self.metrics.add_upstream(name);
        Upstream { name, url }
    }

    /// `GET`s the upstream and returns its body as text, or a failure that
    /// names it. Only `headers` are sent along.
    pub async fn get_text(&self, upstream: &Upstream, headers: HeaderMap) -> Result<String, UpstreamError> {
        self.send_text(Method::GET, upstream, headers).await
    }

    /// Like [`get_text`](Self::get_text) with another method and no body,
    /// e.g. a `POST` to an admin endpoint that takes its input as a query.
    ///
    /// The call is counted when it ends; a call dropped before (the
    /// greeter's other call, once one has failed) is not counted.
    pub async fn send_text(
        &self,
        method: Method,
        upstream: &Upstream,
        headers: HeaderMap,
    ) -> Result<String, UpstreamError> {
        let started = self.metrics.is_on().then(Instant::now);
        let result = self.call(method, upstream, headers).await;
        if let Some(started) = started {
            let outcome = result
                .as_ref()
                .map_or_else(UpstreamError::outcome, |_| Outcome::Ok);
            self.metrics
                .upstream_call(upstream.name, outcome, started.elapsed());
        }
        result
    }

    async fn call(
        &self,
        method: Method,
        upstream: &Upstream,
        headers: HeaderMap,
    ) -> Result<String, UpstreamError> {
        let name = upstream.name;
        let fail = |e: reqwest::Error| self.classify(name, &e);
        let mut response = self
            .http
            .request(method, upstream.url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(fail)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(UpstreamError::TooLarge { upstream: name });
        }
        let status = response.status();
        let declared = (!status.is_success())
            .then(|| Origin::from_headers(response.headers()))
            .flatten();
        let function_error = response.headers().get(FUNCTION_ERROR).cloned();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(UpstreamError::TooLarge { upstream: name });
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(kind) = function_error {
            let kind = String::from_utf8_lossy(kind.as_bytes());
            let detail = error_object(&String::from_utf8_lossy(&body))
                .unwrap_or_else(|| format!("{kind}: {}", first_line(&body)));
            return Err(UpstreamError::FunctionError {
                upstream: name,
                detail,
            });
        }
        if !status.is_success() {
            return Err(UpstreamError::Status {
                upstream: name,
                status,
                detail: first_line(&body),
                declared,
            });
        }
        let text = String::from_utf8(body).map_err(|_| UpstreamError::NotUtf8 { upstream: name })?;
        match error_object(&text) {
            Some(detail) => Err(UpstreamError::FunctionError {
                upstream: name,
                detail,
            }),
            None => Ok(text),
        }
    }

    fn classify(&self, upstream: &'static str, error: &reqwest::Error) -> UpstreamError {
        if error.is_timeout() {
            return UpstreamError::Timeout {
                upstream,
                after: self.timeout,
            };
        }
        UpstreamError::Unreachable {
            upstream,
            cause: root_cause(error),
        }
    }
}

/// The first line of a body, at most 200 characters, for an error message.
fn first_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// `errorType: errorMessage` (or the message alone) when `body` is
/// Lambda's error object: a JSON object with `errorMessage`. Only a body
/// that can be one is parsed at all.
pub fn error_object(body: &str) -> Option<String> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') || !trimmed.contains("\"errorMessage\"") {
        return None;
    }
    let serde_json::Value::Object(object) = serde_json::from_str(trimmed).ok()? else {
        return None;
    };
    let message = object.get("errorMessage")?;
    let message = message
        .as_str()
        .map_or_else(|| message.to_string(), str::to_owned);
    Some(
        match object.get("errorType").and_then(serde_json::Value::as_str) {
            Some(kind) => format!("{kind}: {message}"),
            None => message,
        },
    )
}

/// The most specific description in an error's chain: for an OS error its
/// kind (`connection refused`, not `Connection refused (os error 111)`),
/// for another I/O error its message (`failed to lookup address
/// information: ...`), else the innermost message.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.raw_os_error() {
                Some(_) => io.kind().to_string(),
                None => io.to_string(),
            };
        }
        innermost = e;
        current = e.source();
    }
    innermost.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_tracing_headers_are_forwarded() {
        let mut inbound = HeaderMap::new();
        inbound.insert("x-request-id", HeaderValue::from_static("abc"));
        inbound.insert("traceparent", HeaderValue::from_static("00-1-2-01"));
        inbound.insert("authorization", HeaderValue::from_static("secret"));
        inbound.insert("host", HeaderValue::from_static("ingress"));
        let out = forwarded_headers(&inbound);
        assert_eq!(out.len(), 2);
        assert_eq!(out["x-request-id"], "abc");
        assert_eq!(out["traceparent"], "00-1-2-01");
    }

    #[test]
    fn the_root_cause_is_an_os_error_kind_or_an_io_message() {
        let refused = std::io::Error::from_raw_os_error(111);
        assert_eq!(root_cause(&refused), "connection refused");
        let dns = std::io::Error::other("failed to lookup address information: Name or service not known");
        let wrapped = Wrapped(dns);
        assert_eq!(
            root_cause(&wrapped),
            "failed to lookup address information: Name or service not known"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("client error")]
    struct Wrapped(#[source] std::io::Error);

    #[test]
    fn lambdas_error_object_is_known_by_its_message_with_or_without_a_type() {
        assert_eq!(
            error_object(r#"{"errorType":"UpstreamError","errorMessage":"name upstream unreachable"}"#)
                .as_deref(),
            Some("UpstreamError: name upstream unreachable")
        );
        assert_eq!(
            error_object(r#" {"errorMessage":"Task timed out after 3.00 seconds"}"#).as_deref(),
            Some("Task timed out after 3.00 seconds")
        );
        assert_eq!(
            error_object(r#"{"errorMessage":{"code":7}}"#).as_deref(),
            Some(r#"{"code":7}"#)
        );
        for not_one in [
            r#"{"errorType":"X"}"#,
            r#""From lambda: {\"errorMessage\"}""#,
            r#"{"errorMessage":"#,
            "Hi (greeting-host)",
            "[]",
        ] {
            assert_eq!(error_object(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn the_function_is_blamed_for_its_errors_and_for_failures_it_declares_its_own() {
        let function = UpstreamError::FunctionError {
            upstream: "greeter",
            detail: "boom".into(),
        };
        assert_eq!(
            (function.origin(), function.outcome()),
            (Origin::Function, Outcome::FunctionError)
        );
        let status = |declared| UpstreamError::Status {
            upstream: "greeter",
            status: StatusCode::BAD_GATEWAY,
            detail: String::new(),
            declared,
        };
        assert_eq!(status(Some(Origin::Function)).origin(), Origin::Function);
        assert_eq!(status(Some(Origin::Transport)).origin(), Origin::Service);
        assert_eq!(status(Some(Origin::Service)).origin(), Origin::Service);
        assert_eq!(status(None).origin(), Origin::Transport);
        assert_eq!(status(None).outcome(), Outcome::Status);
    }

    #[test]
    fn errors_read_as_one_line_naming_the_upstream() {
        let refused = UpstreamError::Unreachable {
            upstream: "name",
            cause: "connection refused".into(),
        };
        assert_eq!(
            refused.to_string(),
            "name upstream unreachable: connection refused"
        );
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);

        let slow = UpstreamError::Timeout {
            upstream: "greeting",
            after: Duration::from_millis(2000),
        };
        assert_eq!(slow.to_string(), "greeting upstream timed out after 2000 ms");
        assert_eq!(slow.status(), StatusCode::GATEWAY_TIMEOUT);

        let status = UpstreamError::Status {
            upstream: "greeter",
            status: StatusCode::BAD_GATEWAY,
            detail: "name upstream unreachable: connection refused".into(),
            declared: Some(Origin::Transport),
        };
        assert_eq!(
            status.to_string(),
            "greeter upstream answered 502 Bad Gateway: name upstream unreachable: connection refused"
        );
    }
}
