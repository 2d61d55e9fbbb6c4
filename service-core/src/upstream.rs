//! Calls to upstream services: one pooled keep-alive client per process,
//! bounded in time and size, with failures that name the upstream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use reqwest::Url;

use crate::origin::{self, Origin};
use crate::router::Failure;

/// The most an upstream body may hold; a larger one is a fault, not a payload.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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
    /// A 2xx body that is an error in disguise (a Lambda function error).
    #[error("{upstream} upstream failed: {detail}")]
    Failed {
        /// The upstream's name.
        upstream: &'static str,
        /// What it said went wrong.
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
    /// Where this call failed, as the answer to this request declares it.
    pub fn origin(&self) -> Origin {
        match self {
            Self::Status {
                declared: Some(_), ..
            } => Origin::Service,
            Self::Failed { .. } => Origin::Function,
            _ => Origin::Transport,
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
        response.extensions_mut().insert(Failure(message));
        response
    }
}

/// The HTTP client every upstream call of a process goes through.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
}

impl Client {
    /// Builds the pooled client. Proxy variables are ignored on purpose:
    /// in the mesh, upstreams are the local sidecar.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { http, timeout })
    }

    /// `GET`s the upstream and returns its body as text, or a failure that
    /// names it. Only `headers` are sent along.
    pub async fn get_text(&self, upstream: &Upstream, headers: HeaderMap) -> Result<String, UpstreamError> {
        self.send_text(Method::GET, upstream, headers).await
    }

    /// Like [`get_text`](Self::get_text) with another method and no body,
    /// e.g. a `POST` to an admin endpoint that takes its input as a query.
    pub async fn send_text(
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
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(UpstreamError::TooLarge { upstream: name });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let detail = String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(UpstreamError::Status {
                upstream: name,
                status,
                detail,
                declared,
            });
        }
        String::from_utf8(body).map_err(|_| UpstreamError::NotUtf8 { upstream: name })
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
