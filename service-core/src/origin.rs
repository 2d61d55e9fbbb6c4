//! Who a failed answer is put down to, told by the service that answered
//! it in one response header, so a caller several hops away (`split
//! migrate`, reading ingress's 502s) learns it without reading error text.
//!
//! A service that answers a failure names the origin of its own failed
//! upstream call: a service of ours that failed on its own upstream
//! ([`Origin::Service`]), a Lambda function error ([`Origin::Function`]:
//! Lambda's error, or a failed answer that declared itself the function's,
//! as greeter-lambda's HTTP-shape answers do), or the way there
//! ([`Origin::Transport`]: no answer, a timeout, a proxy's own 503, a body
//! that is too large or not text). See `UpstreamError::origin`.

use std::fmt;
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The header a failed answer carries its origin in.
pub const HEADER: HeaderName = HeaderName::from_static("x-failure-origin");

/// Where a failed upstream call failed, seen from the service that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The upstream is a service of ours that answered a failure of its
    /// own: its answer carried [`HEADER`].
    Service,
    /// The upstream is a Lambda whose function failed: an answer with
    /// `X-Amz-Function-Error`, or Lambda's error object.
    Function,
    /// Nothing of ours answered: refused, reset, timed out, a status from
    /// something in between (Envoy's 503), a body too large or not UTF-8.
    Transport,
}

impl Origin {
    /// The header's value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Function => "function",
            Self::Transport => "transport",
        }
    }

    /// The header's value, ready to put on a response.
    pub const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }

    /// The origin a response carries, if any; a value this version does
    /// not know reads as none.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers.get(HEADER)?.to_str().ok()?.parse().ok()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header value that is not one of [`Origin`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a failure origin: {0:?} (service, function or transport)")]
pub struct UnknownOrigin(String);

impl FromStr for Origin {
    type Err = UnknownOrigin;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "service" => Ok(Self::Service),
            "function" => Ok(Self::Function),
            "transport" => Ok(Self::Transport),
            other => Err(UnknownOrigin(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_reads_back_from_its_header() {
        for origin in [Origin::Service, Origin::Function, Origin::Transport] {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, origin.header_value());
            assert_eq!(Origin::from_headers(&headers), Some(origin));
        }
    }

    #[test]
    fn a_missing_or_unknown_value_is_no_origin() {
        assert_eq!(Origin::from_headers(&HeaderMap::new()), None);
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("elsewhere"));
        assert_eq!(Origin::from_headers(&headers), None);
        assert_eq!(
            "elsewhere".parse::<Origin>().unwrap_err().to_string(),
            r#"not a failure origin: "elsewhere" (service, function or transport)"#
        );
    }
}
