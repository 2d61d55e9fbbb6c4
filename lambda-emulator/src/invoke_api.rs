//! Lambda's Invoke API, as Consul's terminating gateway (Envoy's
//! `aws_lambda` filter) and AWS's SDKs call it: `POST
//! /2015-03-31/functions/<name or ARN>/invocations[?Qualifier=...]`, with
//! `X-Amz-Invocation-Type` `RequestResponse` (200 and the payload),
//! `Event` (202, run in the background) or `DryRun` (204, nothing run). A
//! function error is still a 200, with `X-Amz-Function-Error: Unhandled`;
//! with `X-Amz-Log-Type: Tail` a synchronous answer carries the end of the
//! invocation's log in `X-Amz-Log-Result`. Beside it, `GET /metrics`:
//! Lambda's CloudWatch metrics for the function.
//!
//! Every refusal is Lambda's: its status, its error type in
//! `X-Amzn-ErrorType` (which botocore prefers to the body, then raises the
//! class its model defines for that name, or a plain `ClientError` for a
//! name the model lacks), its JSON body, `{"Type": "User", "message": ...}`
//! with the member names botocore's model gives each error (`message`, or
//! `Message` for `ResourceNotFoundException` and `ServiceException`), and
//! `X-Amzn-RequestId`. In the order they are checked (where no recorded
//! answer shows Lambda's order, such as a payload both too large and not
//! JSON, the order is the emulator's choice), with where each figure and
//! message comes from:
//!
//! | when | status, error type | message | source |
//! | --- | --- | --- | --- |
//! | the request payload is over 6 MiB, whatever the invocation type | 413 `RequestEntityTooLargeException` | `Request must be smaller than 6291456 bytes for the InvokeFunction operation` | see [`crate::payload`] |
//! | a qualifier, name, invocation type or log type Lambda's model refuses | 400 `ValidationException` | `1 validation error detected: Value 'x' at 'qualifier' failed to satisfy constraint: Member must ...`, every failure joined with `; ` | localstack's `test_lambda_api.snapshot.json` (`test_function_name_and_qualifier_validation[*-invoke]`, recorded against AWS 2025-11-25) for names and qualifiers; `invocationType` and `logType` follow the same form with the enums of botocore's model (not recorded) |
//! | a qualifier in the name and another in `Qualifier` | 400 `InvalidParameterValueException` | `The derived qualifier from the function name does not match the specified qualifier.` | the same snapshots (`latest_version_with_additional_qualifier-invoke`) |
//! | an ARN of another region | 404 `ResourceNotFoundException` | `Functions from 'eu-west-1' are not reachable in this region ('us-east-1')` | the same snapshots (`test_get_function_wrong_region[invoke]`) |
//! | another function, or a version or alias this one lacks (only `$LATEST` exists here) | 404 `ResourceNotFoundException` | `Function not found: arn:aws:lambda:us-east-1:123456789012:function:other:$LATEST` (the qualifier given, else `$LATEST`) | localstack's `test_lambda.snapshot.json` (`test_invoke_exceptions`, recorded 2025-11-24) and the qualifier cases above |
//! | an `Event` payload over 1 MiB | 413 `RequestEntityTooLargeException` | `1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)` | see [`crate::payload`]; ASFHyP3/hyp3#2241 (2024, then at 256 KB) for the name and form |
//! | a payload that is not JSON (an empty one is taken: Envoy sends one for a GET under passthrough) | 400 `InvalidRequestContentException` | `Could not parse request body into json: Could not parse payload into json: ...` (the parser's reason follows; Lambda's is Jackson's, this one serde_json's) | localstack's `test_lambda_invoke_payload_encoding_error` snapshots (2025-11-24) |
//! | a synchronous invocation past `EMULATOR_RESERVED_CONCURRENCY` | 429 `TooManyRequestsException`, `"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"` | `Rate Exceeded.` | localstack's provisioned-concurrency snapshots (`test_lambda.snapshot.json`, 2025-11) |
//! | the function answers more than 6,291,556 bytes | 200, `X-Amz-Function-Error: Unhandled` | `{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes)."}` | see [`crate::runtime_api`] |
//! | the emulator itself fails | 500 `ServiceException`, `"Type": "Service"` | what failed | botocore's model |
//!
//! Two of these are not in botocore's model of `Invoke`, so boto3 raises a
//! plain `ClientError` for them, as it does against Lambda:
//! `ValidationException`, and `RequestEntityTooLargeException`. The model's
//! own `RequestTooLargeException` (413) is what its documentation promises
//! for an oversized payload, but Lambda answers
//! `RequestEntityTooLargeException` (every report above, botocore's
//! `ClientError` in ASFHyP3/hyp3#2241 among them), and a caller tested here
//! must catch what it will meet on AWS.
//!
//! The rest of the model's errors for `Invoke` need what this emulator
//! does not have: VPC networking (`EC2*`, `ENILimitReached`,
//! `InvalidSubnetID`, `InvalidSecurityGroupID`, `SubnetIPAddressLimitReached`),
//! KMS-encrypted variables (`KMS*`), file systems (`EFS*`, `S3Files*`),
//! SnapStart, durable executions, published versions and capacity providers
//! (`NoPublishedVersion`), recursion detection, a function that is being
//! created or updated (`ResourceConflict`, `ResourceNotReady`), a deployment
//! package to unzip (`InvalidZipFile`, `InvalidRuntime`). Nor does it check
//! signatures, so an ARN of another account is a function not found here,
//! where Lambda would judge the caller's permission
//! (`AccessDeniedException`). `UnsupportedMediaTypeException` and
//! `SerializedRequestEntityTooLargeException` are in the model with no
//! record of what triggers them, so none is invented. Where the emulator
//! waits instead of refusing: past `EMULATOR_CONCURRENCY` (its own limit,
//! to spare the machine), where Lambda would start another instance or,
//! past the account's 1,000 concurrent executions, throttle.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use regex_lite::Regex;
use service_core::router::{HEALTHY, new_request_id};

use crate::config::Config;
use crate::function::{Function, InvocationType, Reply};
use crate::payload::{self, MAX_EVENT_REQUEST_BYTES, MAX_SYNC_REQUEST_BYTES};

/// The Invoke API's port unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 9001;

/// Invoke's `FunctionName` pattern in botocore's model, as Lambda quotes it.
const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";
/// Invoke's `FunctionName` length limit in botocore's model.
const MAX_FUNCTION_NAME_CHARS: usize = 256;
/// Invoke's `Qualifier` pattern in botocore's model, as Lambda quotes it.
const QUALIFIER_PATTERN: &str = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+";
/// Invoke's `Qualifier` length limit in botocore's model.
const MAX_QUALIFIER_CHARS: usize = 128;

/// The patterns above, matched whole as Lambda (Java's `matches`) does;
/// the function name's groups: 3 the region, 9 the account, 11 the name,
/// 13 the qualifier.
static FUNCTION_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{FUNCTION_NAME_PATTERN})$")).expect("a valid pattern"));
static QUALIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{QUALIFIER_PATTERN})$")).expect("a valid pattern"));

/// The Invoke API for `function`, `GET /health` for health checks and
/// `GET /metrics` for Prometheus: Lambda's CloudWatch metrics for it.
pub fn app(function: Arc<Function>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .route("/health", get(|| async { HEALTHY }))
        .route("/metrics", get(metrics))
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

/// An error of the Invoke API itself, answered as Lambda answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// A request payload over the synchronous limit, whatever the type.
    #[error("Request must be smaller than {MAX_SYNC_REQUEST_BYTES} bytes for the InvokeFunction operation")]
    RequestTooLarge,
    /// An `Event` payload over the asynchronous limit.
    #[error(
        "{size} byte payload is too large for the Event invocation type (limit {MAX_EVENT_REQUEST_BYTES} bytes)"
    )]
    EventTooLarge {
        /// The payload's size in bytes.
        size: u64,
    },
    /// Parameters the model's constraints refuse, one line each.
    #[error(
        "{} validation error{} detected: {}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        .0.join("; ")
    )]
    Validation(Vec<String>),
    /// A qualifier in the function's name and another in `Qualifier`.
    #[error("The derived qualifier from the function name does not match the specified qualifier.")]
    QualifierMismatch,
    /// An ARN in a region other than the emulator's.
    #[error("Functions from '{wanted}' are not reachable in this region ('{here}')")]
    OtherRegion {
        /// The ARN's region.
        wanted: String,
        /// The emulator's (`AWS_REGION`).
        here: String,
    },
    /// No such function, version or alias: its qualified ARN.
    #[error("Function not found: {0}")]
    NotFound(String),
    /// A payload that is not JSON, with the parser's reason.
    #[error("Could not parse request body into json: Could not parse payload into json: {0}")]
    NotJson(String),
    /// Past the reserved concurrency.
    #[error("Rate Exceeded.")]
    Throttled,
    /// A fault of the emulator's own.
    #[error("{0}")]
    Service(String),
}

impl InvokeError {
    /// The HTTP status Lambda answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::RequestTooLarge | Self::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Validation(_) | Self::QualifierMismatch | Self::NotJson(_) => StatusCode::BAD_REQUEST,
            Self::OtherRegion { .. } | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error type, `X-Amzn-ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::RequestTooLarge | Self::EventTooLarge { .. } => "RequestEntityTooLargeException",
            Self::Validation(_) => "ValidationException",
            Self::QualifierMismatch => "InvalidParameterValueException",
            Self::OtherRegion { .. } | Self::NotFound(_) => "ResourceNotFoundException",
            Self::NotJson(_) => "InvalidRequestContentException",
            Self::Throttled => "TooManyRequestsException",
            Self::Service(_) => "ServiceException",
        }
    }

    /// The JSON body, with the member names of botocore's model.
    pub fn body(&self) -> serde_json::Value {
        let message = self.to_string();
        match self {
            // Not in Lambda's model: the generic AWS shape.
            Self::Validation(_) => serde_json::json!({ "message": message }),
            Self::OtherRegion { .. } | Self::NotFound(_) => {
                serde_json::json!({ "Type": "User", "Message": message })
            }
            Self::Throttled => serde_json::json!({
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "Type": "User",
                "message": message,
            }),
            Self::Service(_) => serde_json::json!({ "Type": "Service", "Message": message }),
            _ => serde_json::json!({ "Type": "User", "message": message }),
        }
    }
}

impl IntoResponse for InvokeError {
    fn into_response(self) -> Response {
        if let Self::Service(message) = &self {
            tracing::error!(message, "the emulator failed an invocation");
        }
        (
            self.status(),
            [
                ("content-type", "application/json"),
                ("x-amzn-errortype", self.error_type()),
            ],
            self.body().to_string(),
        )
            .into_response()
    }
}

async fn invoke(
    State(function): State<Arc<Function>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id_header = new_request_id();
    let request_id = id_header.to_str().unwrap_or_default().to_owned();
    let mut response = match answer(function, &name, query.as_deref(), &headers, body, request_id).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    // Every answer carries its request id, refusals included, as Lambda's do.
    response
        .headers_mut()
        .insert(HeaderName::from_static("x-amzn-requestid"), id_header);
    response
}

/// The checks in the order of the module's table, then the invocation.
async fn answer(
    function: Arc<Function>,
    name: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    request_id: String,
) -> Result<Response, InvokeError> {
    let payload = payload::read(body, MAX_SYNC_REQUEST_BYTES)
        .await
        .map_err(|e| InvokeError::Service(format!("cannot read the request body: {e}")))?;
    if payload.exceeds(MAX_SYNC_REQUEST_BYTES) {
        return Err(InvokeError::RequestTooLarge);
    }
    let params = Params::read(name, query, headers)?;
    resolve(function.config(), &params.target, params.qualifier.as_deref())?;
    if params.kind == Kind::Event && payload.exceeds(MAX_EVENT_REQUEST_BYTES) {
        return Err(InvokeError::EventTooLarge { size: payload.size });
    }
    check_json(&payload.bytes)?;
    let payload = payload.bytes;
    let trace_id = headers
        .get("x-amzn-trace-id")
        .and_then(|value| value.to_str().ok())
        .map_or_else(new_trace_id, str::to_owned);
    match params.kind {
        Kind::RequestResponse => {
            // On a task of its own, so the invocation runs to its end, and
            // is counted, even if the invoker hangs up, as on Lambda.
            let id = request_id.clone();
            let task = tokio::spawn(async move {
                function
                    .invoke(&id, payload, &trace_id, InvocationType::RequestResponse)
                    .await
            });
            let invoked = task
                .await
                .map_err(|e| InvokeError::Service(format!("the invocation's task failed: {e}")))?;
            let mut response = match invoked.reply {
                Reply::Payload(body) => (StatusCode::OK, body).into_response(),
                Reply::FunctionError(body) => {
                    (StatusCode::OK, [("x-amz-function-error", "Unhandled")], body).into_response()
                }
                Reply::Throttled => return Err(InvokeError::Throttled),
            };
            set_common(response.headers_mut());
            if params.tail {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&invoked.log_tail);
                if let Ok(value) = HeaderValue::from_str(&encoded) {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-amz-log-result"), value);
                }
            }
            Ok(response)
        }
        Kind::Event => {
            tokio::spawn(async move {
                function
                    .invoke(&request_id, payload, &trace_id, InvocationType::Event)
                    .await;
            });
            let mut response = StatusCode::ACCEPTED.into_response();
            set_common(response.headers_mut());
            Ok(response)
        }
        Kind::DryRun => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            set_common(response.headers_mut());
            Ok(response)
        }
    }
}

/// `X-Amz-Invocation-Type`'s values, `DryRun` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RequestResponse,
    Event,
    DryRun,
}

/// Invoke's parameters, checked against the model's constraints.
#[derive(Debug)]
struct Params {
    kind: Kind,
    /// `X-Amz-Log-Type: Tail` (only a synchronous answer carries the log).
    tail: bool,
    /// The function the path names.
    target: Target,
    /// `?Qualifier=`.
    qualifier: Option<String>,
}

/// A function's name, partial ARN or ARN, split as Invoke's pattern splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    region: Option<String>,
    account: Option<String>,
    name: String,
    /// A qualifier in the name itself (`greeter-lambda:1`).
    qualifier: Option<String>,
}

impl Target {
    /// `None` when the name does not match the pattern.
    fn parse(name: &str) -> Option<Self> {
        let parts = FUNCTION_NAME.captures(name)?;
        let part = |group, suffix| {
            parts
                .get(group)
                .map(|found| found.as_str().trim_end_matches(suffix).to_owned())
        };
        Some(Self {
            region: part(3, ':'),
            account: part(9, ':'),
            name: part(11, ':').unwrap_or_default(),
            qualifier: part(13, ':'),
        })
    }
}

impl Params {
    /// Every parameter checked, and every failure named at once, as
    /// Lambda's validation does; a qualifier's failures come first, as in
    /// Lambda's recorded answers.
    fn read(name: &str, query: Option<&str>, headers: &HeaderMap) -> Result<Self, InvokeError> {
        let mut failures = Vec::new();
        let qualifier = query.and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "Qualifier")
                .map(|(_, value)| value.into_owned())
        });
        if let Some(qualifier) = &qualifier {
            if qualifier.is_empty() {
                failures.push(failed(
                    qualifier,
                    "qualifier",
                    "have length greater than or equal to 1",
                ));
            }
            if qualifier.chars().count() > MAX_QUALIFIER_CHARS {
                let constraint = format!("have length less than or equal to {MAX_QUALIFIER_CHARS}");
                failures.push(failed(qualifier, "qualifier", &constraint));
            }
            if !qualifier.is_empty() && !QUALIFIER.is_match(qualifier) {
                let constraint = format!("satisfy regular expression pattern: {QUALIFIER_PATTERN}");
                failures.push(failed(qualifier, "qualifier", &constraint));
            }
        }
        let target = Target::parse(name);
        if target.is_none() {
            let constraint = format!("satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}");
            failures.push(failed(name, "functionName", &constraint));
        }
        if name.chars().count() > MAX_FUNCTION_NAME_CHARS {
            let constraint = format!("have length less than or equal to {MAX_FUNCTION_NAME_CHARS}");
            failures.push(failed(name, "functionName", &constraint));
        }
        let header = |name: &str| {
            headers
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        let kind = match header("x-amz-invocation-type").as_deref() {
            None | Some("RequestResponse") => Some(Kind::RequestResponse),
            Some("Event") => Some(Kind::Event),
            Some("DryRun") => Some(Kind::DryRun),
            Some(other) => {
                let constraint = "satisfy enum value set: [Event, RequestResponse, DryRun]";
                failures.push(failed(other, "invocationType", constraint));
                None
            }
        };
        let tail = match header("x-amz-log-type").as_deref() {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => {
                failures.push(failed(other, "logType", "satisfy enum value set: [None, Tail]"));
                false
            }
        };
        match (kind, target) {
            (Some(kind), Some(target)) if failures.is_empty() => Ok(Self {
                kind,
                tail,
                target,
                qualifier,
            }),
            _ => Err(InvokeError::Validation(failures)),
        }
    }
}

/// One validation failure, in Lambda's words.
fn failed(value: &str, member: &str, constraint: &str) -> String {
    format!("Value '{value}' at '{member}' failed to satisfy constraint: Member must {constraint}")
}

/// Finds the function `target` and `qualifier` address: only this one,
/// at `$LATEST`.
fn resolve(config: &Config, target: &Target, qualifier: Option<&str>) -> Result<(), InvokeError> {
    let qualifier = match (target.qualifier.as_deref(), qualifier) {
        (Some(derived), Some(given)) if derived != given => return Err(InvokeError::QualifierMismatch),
        (derived, given) => derived.or(given),
    };
    if let Some(region) = target.region.as_ref().filter(|region| **region != config.region) {
        return Err(InvokeError::OtherRegion {
            wanted: region.clone(),
            here: config.region.clone(),
        });
    }
    let account = target.account.as_ref().unwrap_or(&config.account_id);
    let found = target.name == config.function_name
        && *account == config.account_id
        && matches!(qualifier, None | Some("$LATEST"));
    if found {
        return Ok(());
    }
    Err(InvokeError::NotFound(format!(
        "arn:aws:lambda:{}:{account}:function:{}:{}",
        config.region,
        target.name,
        qualifier.unwrap_or("$LATEST")
    )))
}

/// Lambda's check of a payload: JSON, or nothing at all (an empty payload
/// is how Envoy invokes under passthrough for a GET, and Lambda takes it).
fn check_json(payload: &[u8]) -> Result<(), InvokeError> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .map(|_| ())
        .map_err(|e| InvokeError::NotJson(e.to_string()))
}

fn set_common(headers: &mut HeaderMap) {
    headers.insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        HeaderName::from_static("x-amz-executed-version"),
        HeaderValue::from_static("$LATEST"),
    );
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
    use service_core::config::Env;

    use super::*;

    #[test]
    fn request_ids_look_like_lambdas() {
        let pattern =
            regex_lite::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").unwrap();
        let request_id = || new_request_id().to_str().unwrap().to_owned();
        assert!(pattern.is_match(&request_id()));
        assert_ne!(request_id(), request_id());
    }

    #[test]
    fn trace_ids_are_xray_headers() {
        let pattern =
            regex_lite::Regex::new("^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")
                .unwrap();
        assert!(pattern.is_match(&new_trace_id()), "{}", new_trace_id());
    }

    fn config() -> Config {
        Config::from_env(&Env::from_pairs([("EMULATOR_BOOTSTRAP", "Cargo.toml")])).unwrap()
    }

    /// Lambda's answer to each way of naming a function and its qualifier,
    /// as recorded against AWS (see the module's table).
    #[test]
    fn names_and_qualifiers_resolve_as_lambdas_do() {
        let config = config();
        let arn = "arn:aws:lambda:us-east-1:123456789012:function";
        let not_found = |what: &str| Err(InvokeError::NotFound(format!("{arn}:{what}")));
        let cases: [(&str, Option<&str>, Result<(), InvokeError>); 13] = [
            ("greeter-lambda", None, Ok(())),
            ("greeter-lambda:$LATEST", None, Ok(())),
            ("greeter-lambda", Some("$LATEST"), Ok(())),
            ("greeter-lambda:$LATEST", Some("$LATEST"), Ok(())),
            ("123456789012:function:greeter-lambda", None, Ok(())),
            (&format!("{arn}:greeter-lambda"), None, Ok(())),
            ("greeter", None, not_found("greeter:$LATEST")),
            ("greeter-lambda", Some("live"), not_found("greeter-lambda:live")),
            (
                "greeter-lambda",
                Some("$latest"),
                not_found("greeter-lambda:$latest"),
            ),
            (
                "greeter-lambda:$LATEST.PUBLISHED",
                None,
                not_found("greeter-lambda:$LATEST.PUBLISHED"),
            ),
            // The last word of an incomplete ARN is the name.
            (
                "arn:aws:lambda:us-east-1:123456789012:function",
                None,
                not_found("function:$LATEST"),
            ),
            (
                "greeter-lambda:$LATEST",
                Some("1"),
                Err(InvokeError::QualifierMismatch),
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:greeter-lambda",
                None,
                Err(InvokeError::OtherRegion {
                    wanted: "eu-west-1".into(),
                    here: "us-east-1".into(),
                }),
            ),
        ];
        for (name, qualifier, expected) in cases {
            assert_eq!(
                resolve(&config, &Target::parse(name).unwrap(), qualifier),
                expected,
                "{name} {qualifier:?}"
            );
        }
    }

    #[test]
    fn every_failed_constraint_is_named_at_once_in_lambdas_words() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-invocation-type", HeaderValue::from_static("Later"));
        headers.insert("x-amz-log-type", HeaderValue::from_static("tail"));
        let long = "q".repeat(129);
        let err = Params::read("my-function!", Some(&format!("Qualifier={long}")), &headers).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.error_type(), "ValidationException");
        assert_eq!(
            err.to_string(),
            format!(
                "4 validation errors detected: \
                 Value '{long}' at 'qualifier' failed to satisfy constraint: Member must have length less than or equal to 128; \
                 Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}; \
                 Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]; \
                 Value 'tail' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
            )
        );
        let one =
            Params::read("greeter-lambda", Some("Qualifier=invalid%21"), &HeaderMap::new()).unwrap_err();
        assert_eq!(
            one.to_string(),
            r"1 validation error detected: Value 'invalid!' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
        );
    }

    #[test]
    fn each_error_has_lambdas_status_type_and_member_names() {
        let cases = [
            (
                InvokeError::RequestTooLarge,
                413,
                "RequestEntityTooLargeException",
                "message",
            ),
            (
                InvokeError::EventTooLarge { size: 7 },
                413,
                "RequestEntityTooLargeException",
                "message",
            ),
            (
                InvokeError::Validation(vec!["x".into()]),
                400,
                "ValidationException",
                "message",
            ),
            (
                InvokeError::QualifierMismatch,
                400,
                "InvalidParameterValueException",
                "message",
            ),
            (
                InvokeError::NotFound("a".into()),
                404,
                "ResourceNotFoundException",
                "Message",
            ),
            (
                InvokeError::NotJson("x".into()),
                400,
                "InvalidRequestContentException",
                "message",
            ),
            (InvokeError::Throttled, 429, "TooManyRequestsException", "message"),
            (
                InvokeError::Service("x".into()),
                500,
                "ServiceException",
                "Message",
            ),
        ];
        for (error, status, error_type, member) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.error_type(), error_type, "{error:?}");
            assert_eq!(error.body()[member], error.to_string(), "{error:?}");
        }
    }
}
