//! How an upstream call or a request ended, in the words the modules that
//! call, serve and count share: the [`Outcome`] of an upstream call (the
//! client ends each call with one, the metrics count by it) and the
//! [`FailureReason`] a failed response carries to its request's log line.
//!
//! They live here, below all three, so that imports point one way:
//! [`upstream`](crate::upstream) and [`router`](crate::router) use
//! [`metrics`](crate::metrics), and all three use this module, which uses
//! none of them. `upstream` re-exports [`Outcome`], where callers look for it.

use std::sync::Arc;

/// How an upstream call ended: the `outcome` label of
/// `upstream_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 2xx body of text.
    Ok,
    /// [`UpstreamError::Unreachable`](crate::upstream::UpstreamError::Unreachable).
    Unreachable,
    /// [`UpstreamError::Timeout`](crate::upstream::UpstreamError::Timeout).
    Timeout,
    /// [`UpstreamError::Status`](crate::upstream::UpstreamError::Status).
    Status,
    /// [`UpstreamError::TooLarge`](crate::upstream::UpstreamError::TooLarge).
    TooLarge,
    /// [`UpstreamError::NotUtf8`](crate::upstream::UpstreamError::NotUtf8).
    NotUtf8,
    /// [`UpstreamError::FunctionError`](crate::upstream::UpstreamError::FunctionError).
    FunctionError,
}

impl Outcome {
    /// Every outcome, in the order of the enum.
    pub const ALL: [Self; 7] = [
        Self::Ok,
        Self::Unreachable,
        Self::Timeout,
        Self::Status,
        Self::TooLarge,
        Self::NotUtf8,
        Self::FunctionError,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Status => "status",
            Self::TooLarge => "too_large",
            Self::NotUtf8 => "not_utf8",
            Self::FunctionError => "function_error",
        }
    }
}

/// Why a request failed, in one line: put on its response (an extension,
/// never sent) by the error that answered it, so that the request's one
/// log line carries it at error level.
#[derive(Debug, Clone)]
pub struct FailureReason(pub Arc<str>);
