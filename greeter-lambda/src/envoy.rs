//! The JSON Envoy's `aws_lambda` filter exchanges with a function when
//! payload passthrough is off: a request with snake_case keys in, a
//! response with `status_code`, `headers` and `body` out.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use axum::http::{Request, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// The request as Envoy sends it. Envoy prints every field; the camelCase
/// aliases are what its documentation shows, accepted as well.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EnvoyRequest {
    /// The path with its query string, e.g. `/p?x=1`.
    #[serde(alias = "rawPath")]
    pub raw_path: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// Request headers; Envoy joins repeated ones with commas.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body: text as it is, anything else base64.
    #[serde(default)]
    pub body: String,
    /// Whether `body` is base64.
    #[serde(default, alias = "isBase64Encoded")]
    pub is_base64_encoded: bool,
}

impl EnvoyRequest {
    /// The HTTP request it stands for. Headers that are not valid HTTP are
    /// dropped: only tracing headers go further, and a stray one should not
    /// cost the whole request.
    pub fn into_http(self) -> Result<Request<Body>, String> {
        let body = if self.is_base64_encoded {
            BASE64
                .decode(&self.body)
                .map_err(|e| format!("body is marked base64 but is not: {e}"))?
        } else {
            self.body.into_bytes()
        };
        let mut request = Request::builder()
            .method(self.method.as_str())
            .uri(&self.raw_path)
            .body(Body::from(body))
            .map_err(|e| format!("method {:?} or raw_path {:?}: {e}", self.method, self.raw_path))?;
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.append(name, value);
            }
        }
        Ok(request)
    }
}

/// The response Envoy turns back into HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvoyResponse {
    /// The HTTP status.
    pub status_code: u16,
    /// Response headers, repeated ones joined with commas.
    pub headers: BTreeMap<String, String>,
    /// The body: text as it is, anything else base64.
    pub body: String,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
}

impl EnvoyResponse {
    /// The response of an HTTP exchange, its body already read. Framing
    /// headers are left out: Envoy frames the body it decodes itself.
    pub fn from_http(response: Response<Bytes>) -> Self {
        let (parts, body) = response.into_parts();
        let mut headers = BTreeMap::<String, String>::new();
        for (name, value) in &parts.headers {
            if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|joined| {
                    joined.push(',');
                    joined.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let (body, is_base64_encoded) = match String::from_utf8(body.to_vec()) {
            Ok(text) => (text, false),
            Err(_) => (BASE64.encode(&body), true),
        };
        Self {
            status_code: parts.status.as_u16(),
            headers,
            body,
            is_base64_encoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> EnvoyRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_base64_body_is_decoded() {
        let http = request(
            r#"{"raw_path":"/p?x=1","method":"POST","headers":{"content-type":"application/octet-stream"},
                "query_string_parameters":{"x":"1"},"body":"AAEC/w==","is_base64_encoded":true}"#,
        )
        .into_http()
        .unwrap();
        assert_eq!(http.method(), "POST");
        assert_eq!(http.uri(), "/p?x=1");
        assert_eq!(http.headers()["content-type"], "application/octet-stream");
    }

    #[test]
    fn a_body_marked_base64_that_is_not_says_so() {
        let err = request(r#"{"raw_path":"/","method":"GET","body":"%%%","is_base64_encoded":true}"#)
            .into_http()
            .unwrap_err();
        assert!(err.starts_with("body is marked base64 but is not"), "{err}");
    }

    #[test]
    fn a_bad_method_is_an_error_naming_it() {
        let err = request(r#"{"raw_path":"/","method":"G E T"}"#)
            .into_http()
            .unwrap_err();
        assert!(err.contains("\"G E T\""), "{err}");
    }

    #[test]
    fn invalid_headers_are_dropped_and_the_rest_kept() {
        let http = request(
            r#"{"raw_path":"/","method":"GET","headers":{":authority":"x","bad name":"v","traceparent":"00-1-2-01"}}"#,
        )
        .into_http()
        .unwrap();
        assert_eq!(http.headers().len(), 1);
        assert_eq!(http.headers()["traceparent"], "00-1-2-01");
    }

    #[test]
    fn camel_case_keys_are_accepted() {
        let envoy = request(r#"{"rawPath":"/health","method":"GET","isBase64Encoded":false}"#);
        assert_eq!(envoy.raw_path, "/health");
    }

    #[test]
    fn a_response_joins_repeated_headers_drops_framing_and_keeps_text_as_text() {
        let response = Response::builder()
            .status(502)
            .header("content-type", "text/plain; charset=utf-8")
            .header("content-length", "45")
            .header("vary", "a")
            .header("vary", "b")
            .body(Bytes::from_static(
                b"name upstream unreachable: connection refused",
            ))
            .unwrap();
        assert_eq!(
            serde_json::to_value(EnvoyResponse::from_http(response)).unwrap(),
            serde_json::json!({
                "status_code": 502,
                "headers": {"content-type": "text/plain; charset=utf-8", "vary": "a,b"},
                "body": "name upstream unreachable: connection refused",
                "is_base64_encoded": false,
            })
        );
    }

    #[test]
    fn a_binary_response_body_is_base64() {
        let response = Response::new(Bytes::from_static(&[0, 1, 2, 0xff]));
        let envoy = EnvoyResponse::from_http(response);
        assert_eq!((envoy.body.as_str(), envoy.is_base64_encoded), ("AAEC/w==", true));
    }
}
