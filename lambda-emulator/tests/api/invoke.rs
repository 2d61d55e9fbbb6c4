//! The Invoke API with Lambda's semantics, end to end with the fake function.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn request_response_answers_200_and_the_payload_under_lambdas_environment() {
    let emulator = Emulator::start(config()).await;
    let trace = "Root=1-6566e4a1-3b1f2c7d5e9a0b4c6d8e0f12;Parent=53995c3f42cd8ad8;Sampled=1";
    let epoch_ms = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let before = epoch_ms();

    let invoked = emulator
        .invoke_as(
            ARN,
            "echo",
            &[
                ("x-amz-invocation-type", "RequestResponse"),
                ("x-amzn-trace-id", trace),
            ],
        )
        .await;

    assert_eq!(
        (invoked.status, invoked.function_error.as_deref()),
        (200, None),
        "{invoked:?}"
    );
    let answer = invoked.json();
    assert_eq!(answer["payload"], r#""echo""#);
    let seen = &answer["seen"];
    assert_eq!(seen["arn"], ARN);
    assert_eq!(seen["trace_id"], trace);
    let deadline: u128 = seen["deadline_ms"].as_str().unwrap().parse().unwrap();
    let after = epoch_ms();
    // The timeout (5 s) from the hand-out, which came between the two.
    assert!(
        (before + 5000..=after + 5000).contains(&deadline),
        "deadline {deadline}, invoked from {before} to {after}"
    );
    let env = &seen["env"];
    assert!(
        regex::Regex::new(r"^127\.0\.0\.1:\d+$")
            .unwrap()
            .is_match(env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap()),
        "{env}"
    );
    for (var, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "greeter-lambda"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_REGION", "us-east-1"),
        ("NAME_URL", "http://name:3000"),
    ] {
        assert_eq!(env[var], value, "{var}");
    }
    assert!(env.get("FAKE_INIT_ERROR").is_none());
}

#[tokio::test]
async fn the_function_is_found_by_name_or_arn_and_anything_else_is_404() {
    let emulator = Emulator::start(config()).await;
    for name in [
        "greeter-lambda",
        "greeter-lambda:$LATEST",
        ARN,
        "123456789012:function:greeter-lambda",
    ] {
        let invoked = emulator.invoke_as(name, "echo", &[]).await;
        assert_eq!(invoked.status, 200, "{name}: {invoked:?}");
    }
    let missing = emulator.invoke_as("greeter", "echo", &[]).await;
    assert_eq!(
        (missing.status, missing.error_type.as_deref()),
        (404, Some("ResourceNotFoundException"))
    );
    assert_eq!(
        missing.json(),
        json!({"Type": "User", "Message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:greeter:$LATEST"})
    );
    assert!(
        missing.request_id.is_some(),
        "a refusal carries its request id too"
    );
}

#[tokio::test]
async fn a_function_error_is_200_with_x_amz_function_error_and_the_error_object() {
    let emulator = Emulator::start(config()).await;
    let invoked = emulator.invoke("error").await;
    assert_eq!(
        (invoked.status, invoked.function_error.as_deref()),
        (200, Some("Unhandled"))
    );
    assert_eq!(
        invoked.json(),
        json!({"errorType": "Boom", "errorMessage": "it went boom"})
    );
    // The instance is kept: an error is an answer.
    let after = emulator.invoke("echo").await;
    assert_eq!(after.status, 200);
    assert_eq!(emulator.function.instances_started(), 1);
}

#[tokio::test]
async fn a_payload_that_is_not_json_is_400_and_an_empty_one_is_taken() {
    let emulator = Emulator::start(config()).await;

    let refused = emulator.post(ARN, "hello there", &[]).await;
    let started_by_refused = emulator.function.instances_started();
    let empty = emulator.post(ARN, "", &[]).await;

    assert_eq!(
        (refused.status, refused.error_type.as_deref()),
        (400, Some("InvalidRequestContentException")),
        "{refused:?}"
    );
    assert_eq!(
        refused.json(),
        json!({"Type": "User", "message": "Could not parse request body into json: Could not parse payload into json: expected value at line 1 column 1"})
    );
    assert_eq!(started_by_refused, 0, "the function was run");
    assert_eq!((empty.status, empty.function_error.as_deref()), (200, None));
    assert_eq!(empty.json()["payload"], "");
}

#[tokio::test]
async fn event_is_202_dry_run_is_204_and_another_type_is_a_validation_error() {
    let emulator = Emulator::start(config()).await;
    let event = emulator
        .invoke_as(ARN, "echo", &[("x-amz-invocation-type", "Event")])
        .await;
    assert_eq!((event.status, event.body.as_str()), (202, ""));
    let dry_run = emulator
        .invoke_as(ARN, "echo", &[("x-amz-invocation-type", "DryRun")])
        .await;
    assert_eq!((dry_run.status, dry_run.body.as_str()), (204, ""));
    let other = emulator
        .invoke_as(ARN, "echo", &[("x-amz-invocation-type", "Later")])
        .await;
    assert_eq!(
        (other.status, other.error_type.as_deref()),
        (400, Some("ValidationException"))
    );
    assert_eq!(
        other.json(),
        json!({"message": "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"})
    );
    // The event ran in the background, on an instance of its own.
    emulator.wait_for_metric("lambda_invocations_total", 1.0).await;
    assert_eq!(emulator.function.instances_started(), 1);
}

#[tokio::test]
async fn an_init_error_is_the_answer_and_the_next_invocation_starts_afresh() {
    let mut config = config();
    config.function_env.push(("FAKE_INIT_ERROR".into(), "1".into()));
    let emulator = Emulator::start(config).await;
    for started in [1, 2] {
        let invoked = emulator.invoke("echo").await;
        assert_eq!(
            (invoked.status, invoked.function_error.as_deref()),
            (200, Some("Unhandled"))
        );
        assert_eq!(
            invoked.json(),
            json!({"errorType": "Runtime.InitError", "errorMessage": "NAME_URL: is not set"})
        );
        assert_eq!(emulator.function.instances_started(), started);
    }
}

#[tokio::test]
async fn a_function_that_exits_is_a_runtime_exit_error() {
    let emulator = Emulator::start(config()).await;
    let invoked = emulator.invoke("exit").await;
    assert_eq!(
        (invoked.status, invoked.function_error.as_deref()),
        (200, Some("Unhandled"))
    );
    let error = invoked.json();
    assert_eq!(error["errorType"], "Runtime.ExitError");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with("Error: Runtime exited with error: exit status 3"),
        "{message}"
    );
    assert_eq!(emulator.invoke("echo").await.status, 200);
    assert_eq!(emulator.function.instances_started(), 2);
}

#[tokio::test]
async fn past_its_timeout_the_instance_is_killed_and_the_next_invocation_gets_a_fresh_one() {
    let mut config = config();
    // Long enough that the answer to `echo` never meets it on a busy machine.
    config.timeout = Duration::from_secs(3);
    let emulator = Emulator::start(config).await;

    // The function never answers: the timeout does, however long the cold
    // start took (the clock starts when the function gets the payload).
    let invoked = emulator.invoke_tail("hang").await;

    assert_eq!(
        (invoked.status, invoked.function_error.as_deref()),
        (200, Some("Unhandled"))
    );
    let request_id = invoked.request_id.clone().unwrap();
    let timed_out = format!("RequestId: {request_id} Error: Task timed out after 3.00 seconds");
    assert_eq!(
        invoked.json(),
        json!({"errorType": "Sandbox.Timedout", "errorMessage": timed_out})
    );
    let log = invoked.log_result.unwrap();
    let hung: u64 = log
        .lines()
        .find_map(|line| line.strip_prefix("hanging pid="))
        .unwrap_or_else(|| panic!("no pid in {log}"))
        .parse()
        .unwrap();
    assert!(
        log.contains(&format!("\n{timed_out}\nEND RequestId: {request_id}\nREPORT ")),
        "{log}"
    );
    let fresh = emulator.invoke("echo").await.pid();
    assert_ne!(fresh, hung);
    assert_eq!(emulator.function.instances_started(), 2);
    let gone = std::path::Path::new("/proc").join(hung.to_string());
    assert!(!gone.exists(), "the timed-out instance {hung} still runs");
}

#[tokio::test]
async fn concurrent_invocations_start_instances_up_to_the_limit_and_reuse_them() {
    let mut config = config();
    config.concurrency = 3;
    let emulator = std::sync::Arc::new(Emulator::start(config).await);

    let mut invocations = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let emulator = std::sync::Arc::clone(&emulator);
        invocations.spawn(async move { emulator.invoke("sleep:300").await });
    }
    let answers = invocations.join_all().await;

    let mut pids: Vec<u64> = answers
        .iter()
        .map(|invoked| {
            assert_eq!(invoked.status, 200, "{invoked:?}");
            invoked.pid()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert_eq!(emulator.function.instances_started(), 3);
}

#[test]
fn a_bad_setting_stops_the_emulator_with_64_naming_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-emulator"))
        .env_clear()
        .env("EMULATOR_BOOTSTRAP", std::env::current_exe().unwrap())
        .env("EMULATOR_CONCURRENCY", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "lambda-emulator: configuration error: EMULATOR_CONCURRENCY: 0 is not a number of instances from 1 to 1000"
    );
}
