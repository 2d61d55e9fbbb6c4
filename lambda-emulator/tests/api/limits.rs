//! Lambda's limits and refusals for every invocation type, as
//! `lambda_emulator::invoke_api`'s table lists them: the payload limits in
//! and out, parameters Lambda refuses, functions it does not find, and
//! payloads that are not JSON.

use lambda_emulator::payload::{MAX_EVENT_REQUEST_BYTES, MAX_RESPONSE_BYTES, MAX_SYNC_REQUEST_BYTES};
use serde_json::{Value, json};

use crate::helpers::*;

const TYPES: [&str; 3] = ["RequestResponse", "Event", "DryRun"];

/// A JSON payload of exactly `bytes` bytes that the fake function reads as
/// `command` (JSON allows the trailing blanks).
fn padded(command: &str, bytes: usize) -> String {
    let json = serde_json::to_string(command).unwrap();
    format!("{json}{}", " ".repeat(bytes - json.len()))
}

/// Asserts Lambda's refusal: its status, `X-Amzn-ErrorType`, body and request id.
fn assert_refused(invoked: &Invoked, status: u16, error_type: &str, body: &Value) {
    assert_eq!(
        (invoked.status, invoked.error_type.as_deref()),
        (status, Some(error_type)),
        "{invoked:?}"
    );
    assert_eq!(&invoked.json(), body);
    assert!(invoked.request_id.is_some(), "no x-amzn-requestid: {invoked:?}");
}

#[tokio::test]
async fn a_payload_over_6_mib_is_413_request_entity_too_large_for_every_type_and_runs_nothing() {
    let emulator = Emulator::start(config()).await;
    let over = padded("echo", MAX_SYNC_REQUEST_BYTES + 1);

    for kind in TYPES {
        let refused = emulator
            .post(ARN, &over, &[("x-amz-invocation-type", kind)])
            .await;
        assert_refused(
            &refused,
            413,
            "RequestEntityTooLargeException",
            &json!({"Type": "User", "message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}),
        );
    }
    assert_eq!(emulator.function.instances_started(), 0);

    let at_the_limit = emulator
        .post(ARN, &padded("answer:4", MAX_SYNC_REQUEST_BYTES), &[])
        .await;
    assert_eq!(
        (at_the_limit.status, at_the_limit.body.as_str()),
        (200, r#""xx""#)
    );
}

#[tokio::test]
async fn an_event_payload_over_1_mib_is_413_naming_its_size_where_a_synchronous_one_runs() {
    let emulator = Emulator::start(config()).await;
    let over = padded("answer:4", MAX_EVENT_REQUEST_BYTES + 1);
    let event = [("x-amz-invocation-type", "Event")];

    let refused = emulator.post(ARN, &over, &event).await;
    let at_the_limit = emulator
        .post(ARN, &padded("answer:4", MAX_EVENT_REQUEST_BYTES), &event)
        .await;
    let synchronous = emulator.post(ARN, &over, &[]).await;
    let dry_run = emulator
        .post(ARN, &over, &[("x-amz-invocation-type", "DryRun")])
        .await;

    assert_refused(
        &refused,
        413,
        "RequestEntityTooLargeException",
        &json!({"Type": "User", "message": "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"}),
    );
    assert_eq!(at_the_limit.status, 202);
    assert_eq!((synchronous.status, synchronous.body.as_str()), (200, r#""xx""#));
    assert_eq!(dry_run.status, 204);
    // The synchronous invocation and the Event at the limit; not the refused one.
    emulator.wait_for_metric("lambda_invocations_total", 2.0).await;
}

#[tokio::test]
async fn a_response_over_6291556_bytes_is_the_function_error_function_response_size_too_large() {
    let emulator = Emulator::start(config()).await;

    let at_the_limit = emulator.invoke(&format!("answer:{MAX_RESPONSE_BYTES}")).await;
    let over = emulator
        .invoke(&format!("answer:{}", MAX_RESPONSE_BYTES + 1))
        .await;
    let event = emulator
        .invoke_as(
            ARN,
            &format!("answer:{}", MAX_RESPONSE_BYTES + 1),
            &[("x-amz-invocation-type", "Event")],
        )
        .await;

    assert_eq!(
        (
            at_the_limit.status,
            at_the_limit.function_error.as_deref(),
            at_the_limit.body.len()
        ),
        (200, None, MAX_RESPONSE_BYTES)
    );
    assert_eq!(
        (over.status, over.function_error.as_deref()),
        (200, Some("Unhandled"))
    );
    assert_eq!(
        over.json(),
        json!({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes)."})
    );
    assert_eq!(event.status, 202);
    // Both over the limit are CloudWatch's Errors, the Event's included.
    emulator.wait_for_metric("lambda_errors_total", 2.0).await;
    assert_eq!(emulator.metric("lambda_invocations_total").await, 3.0);
    // A refused response is a function error: the instance is kept.
    assert_eq!(emulator.invoke("echo").await.status, 200);
    assert_eq!(emulator.function.instances_started(), 1);
}

#[tokio::test]
async fn parameters_functions_and_payloads_lambda_refuses_are_refused_alike_for_every_type() {
    let emulator = Emulator::start(config()).await;
    let echo = r#""echo""#;

    for kind in TYPES {
        let typed = ("x-amz-invocation-type", kind);
        let log_type = emulator
            .post(ARN, echo, &[typed, ("x-amz-log-type", "Everything")])
            .await;
        assert_refused(
            &log_type,
            400,
            "ValidationException",
            &json!({"message": "1 validation error detected: Value 'Everything' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"}),
        );
        let qualifier = emulator.post_query(ARN, "Qualifier=v%201", echo, &[typed]).await;
        assert_refused(
            &qualifier,
            400,
            "ValidationException",
            &json!({"message": r"1 validation error detected: Value 'v 1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"}),
        );
        let name = emulator.post("greeter-lambda!", echo, &[typed]).await;
        assert_eq!(
            name.error_type.as_deref(),
            Some("ValidationException"),
            "{name:?}"
        );
        let mismatch = emulator
            .post_query("greeter-lambda:$LATEST", "Qualifier=1", echo, &[typed])
            .await;
        assert_refused(
            &mismatch,
            400,
            "InvalidParameterValueException",
            &json!({"Type": "User", "message": "The derived qualifier from the function name does not match the specified qualifier."}),
        );
        let version = emulator.post_query(ARN, "Qualifier=1", echo, &[typed]).await;
        assert_refused(
            &version,
            404,
            "ResourceNotFoundException",
            &json!({"Type": "User", "Message": format!("Function not found: {ARN}:1")}),
        );
        let region = emulator
            .post(
                "arn:aws:lambda:eu-west-1:123456789012:function:greeter-lambda",
                echo,
                &[typed],
            )
            .await;
        assert_refused(
            &region,
            404,
            "ResourceNotFoundException",
            &json!({"Type": "User", "Message": "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"}),
        );
        let not_json = emulator.post(ARN, "hello there", &[typed]).await;
        assert_refused(
            &not_json,
            400,
            "InvalidRequestContentException",
            &json!({"Type": "User", "message": "Could not parse request body into json: Could not parse payload into json: expected value at line 1 column 1"}),
        );
    }
    assert_eq!(
        emulator.function.instances_started(),
        0,
        "a refused invocation ran"
    );

    for (kind, status) in TYPES.into_iter().zip([200, 202, 204]) {
        let latest = emulator
            .post_query(
                ARN,
                "Qualifier=%24LATEST",
                echo,
                &[("x-amz-invocation-type", kind)],
            )
            .await;
        assert_eq!(latest.status, status, "{kind}: {latest:?}");
    }
}

#[tokio::test]
async fn an_event_past_the_reserved_concurrency_is_queued_not_throttled() {
    let mut config = config();
    config.reserved_concurrency = Some(0);
    let emulator = Emulator::start(config).await;

    let event = emulator
        .invoke_as(ARN, "echo", &[("x-amz-invocation-type", "Event")])
        .await;

    assert_eq!((event.status, event.error_type), (202, None));
    assert_eq!(emulator.metric("lambda_throttles_total").await, 0.0);
    assert_eq!(emulator.function.instances_started(), 0);
}
