//! Lambda's limits on what goes into and out of a function, and reading a
//! body against them: at most the limit is kept, the rest only counted, so
//! the answer can say how large it was (as Lambda's does) and a client that
//! is still sending is read to the end rather than cut off mid-request.
//!
//! The figures and where they come from:
//!
//! - **A synchronous (and `DryRun`) request: 6 MiB, 6,291,456 bytes.**
//!   Lambda quotas ("Invocation payload (request and response)": 6 MB each
//!   for request and response, synchronous); the Invoke API reference and
//!   botocore 1.43.11's model of `Invoke` ("the maximum payload size is
//!   6 MB for synchronous invocations"). Lambda's refusal, 413
//!   `RequestEntityTooLargeException` `Request must be smaller than 6291456
//!   bytes for the InvokeFunction operation`, is quoted in
//!   awslabs/aws-athena-query-federation#793 (2022) and
//!   pelmers/streetwarp-web#14 (2024).
//! - **An `Event` request: 1 MiB, 1,048,576 bytes.** The Invoke API
//!   reference and botocore 1.43.11's model ("1 MB for asynchronous
//!   invocations"); the AWS Compute Blog, "More room to build: serverless
//!   services now support payloads up to 1 MB", on the rise from 256 KB
//!   (October 2025). Lambda's refusal `2236568 byte payload is too large
//!   for the Event invocation type (limit 1048576 bytes)` is in a team's
//!   deployment record of 2025-12-30 (eu-west-1, a public repository found
//!   by exact-string search); its error type, `RequestEntityTooLargeException`
//!   raised by botocore as a plain `ClientError`, in ASFHyP3/hyp3#2241
//!   (2024, when the limit read 262144).
//! - **A function's response: 6 MiB + 100, 6,291,556 bytes.** Lambda's
//!   answer past it, `Response payload size exceeded maximum allowed payload
//!   size (6291556 bytes).`, recorded against AWS on 2025-11-24 in
//!   localstack's `tests/aws/services/lambda_/test_lambda.snapshot.json`
//!   (`test_lambda_too_large_response`); Zac Charles, "Deep Dive: Lambda's
//!   Response Payload Size Limit" (2022), on the 100 bytes over 6 MiB.
//!
//! The `Event` figure followed is 1 MB, not the 256 KB of most older
//! pages: the current API reference and the model botocore ships say 1 MB,
//! and Lambda's own refusal names `limit 1048576 bytes`. The exact boundary
//! byte was not measurable here (Lambda says a request "must be smaller
//! than" its limit, and a response must not exceed its own), so each limit
//! is taken as the largest size accepted.

use axum::body::{Body, Bytes};
use http_body_util::BodyExt as _;

/// The largest request payload of a synchronous or `DryRun` invocation.
pub const MAX_SYNC_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// The largest request payload of an `Event` invocation.
pub const MAX_EVENT_REQUEST_BYTES: usize = 1024 * 1024;

/// The largest response a function may post to its Runtime API.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// A body read against a limit.
#[derive(Debug)]
pub(crate) struct Read {
    /// The body, whole when it is within the limit; its first `limit`
    /// bytes otherwise.
    pub bytes: Bytes,
    /// Its whole size.
    pub size: u64,
}

impl Read {
    /// Whether the body was larger than `limit`.
    pub fn exceeds(&self, limit: usize) -> bool {
        self.size > limit as u64
    }
}

/// Reads `body` to its end, keeping at most `limit` bytes.
pub(crate) async fn read(mut body: Body, limit: usize) -> Result<Read, axum::Error> {
    let mut kept = Vec::new();
    let mut size: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers
        };
        size += data.len() as u64;
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
    }
    Ok(Read {
        bytes: Bytes::from(kept),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_within_the_limit_is_kept_whole_and_one_past_it_only_counted() {
        let within = read(Body::from(vec![b'a'; 10]), 10).await.unwrap();
        assert_eq!(
            (within.bytes.len(), within.size, within.exceeds(10)),
            (10, 10, false)
        );

        let past = read(Body::from(vec![b'a'; 11]), 10).await.unwrap();
        assert_eq!((past.bytes.len(), past.size, past.exceeds(10)), (10, 11, true));
    }

    #[test]
    fn the_limits_are_lambdas_figures() {
        assert_eq!(MAX_SYNC_REQUEST_BYTES, 6_291_456);
        assert_eq!(MAX_EVENT_REQUEST_BYTES, 1_048_576);
        assert_eq!(MAX_RESPONSE_BYTES, 6_291_556);
    }
}
