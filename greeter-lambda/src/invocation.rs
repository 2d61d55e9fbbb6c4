//! What an invocation's payload is, decided once from its bytes.
//!
//! One function answers every caller, and the payload is the only thing
//! that tells them apart:
//!
//! - an object with `requestContext` is an API Gateway (REST, HTTP API,
//!   Function URL) or ALB event, read by `lambda_http`;
//! - an object with `raw_path` is Envoy's request without passthrough;
//! - anything else, including no bytes at all and bytes that are not JSON,
//!   is a request body under Consul's payload passthrough.
//!
//! The shapes are told apart here rather than by `lambda_http`, whose
//! event types default most fields and so would read a passthrough `{}` as
//! an API Gateway request.

use axum::body::Body;
use axum::http::Request;
use lambda_http::request::{LambdaRequest, RequestOrigin};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::envoy::EnvoyRequest;

/// One invocation's payload, read.
#[derive(Debug)]
pub enum Invocation {
    /// Consul's payload passthrough: the payload is the body of the request
    /// to the mesh (empty for a GET) and means nothing to the greeter.
    Passthrough,
    /// Envoy's request without passthrough, as HTTP.
    Envoy(Request<Body>),
    /// An API Gateway, Function URL or ALB event.
    Http(Box<LambdaRequest>),
    /// A payload that announces one of the HTTP shapes but does not fit it.
    Unreadable(Unreadable),
}

/// Why a payload of a known shape could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the {shape} payload: {reason}")]
pub struct Unreadable {
    /// The shape it announced: `envoy` or `http`.
    pub shape: &'static str,
    /// What does not fit.
    pub reason: String,
}

impl Invocation {
    /// Reads a payload exactly as `lambda_runtime` does: through this
    /// type's [`Deserialize`] on a JSON deserializer over the bytes.
    pub fn from_slice(payload: &[u8]) -> Self {
        let mut deserializer = serde_json::Deserializer::from_slice(payload);
        Self::deserialize(&mut deserializer).unwrap_or(Self::Passthrough)
    }

    /// The shape's name for logs: `passthrough`, `envoy`, `apigw-rest`,
    /// `apigw-http` (also Function URLs) or `alb`; `envoy` or `http` for a
    /// payload of those shapes that cannot be read.
    pub fn shape(&self) -> &'static str {
        match self {
            Self::Passthrough => "passthrough",
            Self::Envoy(_) => "envoy",
            Self::Http(event) => match event.request_origin() {
                RequestOrigin::ApiGatewayV1 => "apigw-rest",
                RequestOrigin::ApiGatewayV2 => "apigw-http",
                RequestOrigin::Alb => "alb",
                _ => "http",
            },
            Self::Unreadable(unreadable) => unreadable.shape,
        }
    }

    fn from_json(json: &RawValue) -> Self {
        /// The keys that tell the shapes apart; every other key is skipped
        /// unread.
        #[derive(Deserialize)]
        struct Keys {
            #[serde(rename = "requestContext")]
            request_context: Option<IgnoredAny>,
            #[serde(alias = "rawPath")]
            raw_path: Option<IgnoredAny>,
        }

        let text = json.get();
        // Only an object can be an event; serde would read an array as Keys too.
        if !text.starts_with('{') {
            return Self::Passthrough;
        }
        let Ok(keys) = serde_json::from_str::<Keys>(text) else {
            return Self::Passthrough;
        };
        if keys.request_context.is_some() {
            return match serde_json::from_str::<LambdaRequest>(text) {
                Ok(event) => Self::Http(Box::new(event)),
                Err(e) => Self::unreadable("http", e.to_string()),
            };
        }
        if keys.raw_path.is_some() {
            return match serde_json::from_str::<EnvoyRequest>(text)
                .map_err(|e| e.to_string())
                .and_then(EnvoyRequest::into_http)
            {
                Ok(request) => Self::Envoy(request),
                Err(reason) => Self::unreadable("envoy", reason),
            };
        }
        Self::Passthrough
    }

    fn unreadable(shape: &'static str, reason: String) -> Self {
        Self::Unreadable(Unreadable { shape, reason })
    }
}

/// Never an error: `lambda_runtime` would answer a deserialization error
/// itself, before this crate's code runs, and the empty payload of a
/// passthrough GET is not JSON. A payload that is not JSON is a
/// passthrough body like any other.
impl<'de> Deserialize<'de> for Invocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Box::<RawValue>::deserialize(deserializer) {
            Ok(json) => Self::from_json(&json),
            Err(_) => Self::Passthrough,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(payload: &str) -> &'static str {
        Invocation::from_slice(payload.as_bytes()).shape()
    }

    #[test]
    fn payloads_that_are_not_events_are_passthrough() {
        for payload in [
            "",
            "  \n",
            "null",
            "{}",
            "[]",
            "[1, 2]",
            r#""hello""#,
            "42",
            r#"{"name":"Mary","requestContext_":1}"#,
            "not json",
            r#"{"raw_path":"/", "meth"#,
            "\u{0}\u{1}",
        ] {
            assert_eq!(shape(payload), "passthrough", "{payload:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_passthrough() {
        assert_eq!(Invocation::from_slice(&[0xff, 0xfe, b'{']).shape(), "passthrough");
        assert_eq!(Invocation::from_slice(b"\"\xff\"").shape(), "passthrough");
    }

    #[test]
    fn an_object_with_raw_path_is_envoy() {
        let invocation = Invocation::from_slice(br#"{"raw_path":"/p?x=1","method":"GET"}"#);
        let Invocation::Envoy(request) = invocation else {
            panic!("not envoy: {invocation:?}");
        };
        assert_eq!(request.uri(), "/p?x=1");
    }

    #[test]
    fn an_envoy_request_that_does_not_fit_is_unreadable_and_says_why() {
        let invocation = Invocation::from_slice(br#"{"raw_path":7,"method":"GET"}"#);
        let Invocation::Unreadable(unreadable) = invocation else {
            panic!("not unreadable: {invocation:?}");
        };
        assert_eq!(unreadable.shape, "envoy");
        let message = unreadable.to_string();
        assert!(
            message.starts_with("cannot read the envoy payload: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn an_event_that_does_not_fit_is_unreadable() {
        let invocation = Invocation::from_slice(br#"{"requestContext":{},"httpMethod":7}"#);
        assert!(matches!(invocation, Invocation::Unreadable(_)), "{invocation:?}");
    }
}
