//! The binary as a process: under a Runtime API, as Lambda and the
//! emulators run it, and outside one.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::helpers::*;
use crate::runtime_api::{FakeRuntimeApi, Posted};

const BIN: &str = env!("CARGO_BIN_EXE_greeter-lambda");

/// The variables Lambda sets for every function.
fn lambda_env(api: &FakeRuntimeApi) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.addr.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", "greeter-lambda".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
    ]
}

/// Starts the binary with exactly `vars`; its stdout lines arrive on the
/// returned channel.
fn start(vars: &[(&str, String)]) -> (Child, mpsc::UnboundedReceiver<String>) {
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("greeter-lambda starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The JSON lines logged, read until `enough` holds for them (at most 10 s).
async fn logged_until(
    lines: &mut mpsc::UnboundedReceiver<String>,
    enough: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut logged = Vec::new();
    while !enough(&logged) {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no further line within 10 s after {logged:#?}"))
            .expect("stdout open");
        logged.push(serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
    }
    logged
}

fn count(logged: &[Value], message: &str) -> usize {
    logged.iter().filter(|e| e["message"] == message).count()
}

fn response_json(posted: &Posted) -> Value {
    match posted {
        Posted::Response { body, .. } => serde_json::from_str(body).expect("a JSON response"),
        other => panic!("not a response: {other:?}"),
    }
}

#[tokio::test]
async fn under_a_runtime_api_every_shape_is_answered_and_logged_once() {
    let mut api = FakeRuntimeApi::start().await;
    let mut vars = lambda_env(&api);
    vars.push(("GREETING_URL", spawn_greeting().await));
    vars.push(("NAME_URL", spawn_name().await));
    let (_child, mut lines) = start(&vars);

    for payload in [&b""[..], b"null", b"not json", br#"{"user":7}"#] {
        let answer = response_json(&api.invoke(payload).await);
        assert_greeting(answer.as_str().unwrap_or_else(|| panic!("{answer}")));
    }
    let envoy = response_json(&api.invoke(&fixture("envoy-base64-body.json")).await);
    assert_eq!(envoy["status_code"], 200);
    assert_greeting(envoy["body"].as_str().expect("text body"));
    let url = response_json(&api.invoke(&fixture("function-url.json")).await);
    assert_eq!(url["statusCode"], 200);
    assert_greeting(url["body"].as_str().expect("text body"));

    let unreadable = api
        .invoke(br#"{"raw_path":"/","method":"GET","body":"%","is_base64_encoded":true}"#)
        .await;
    let Posted::Error { id, body } = unreadable else {
        panic!("not a function error: {unreadable:?}");
    };
    assert_eq!(id, "request-7");
    let error: Value = serde_json::from_str(&body).expect("error JSON");
    assert_eq!(error["errorType"], "UnreadablePayload");

    // The answer is posted before its line is logged: read until the
    // seventh invocation's line is there.
    let logs = logged_until(&mut lines, |logged| count(logged, "invoked") == 7).await;
    let served: Vec<&Value> = logs.iter().filter(|e| e["message"] == "served").collect();
    assert!(
        served.is_empty(),
        "the router logged lines of its own: {served:?}"
    );
    let invoked: Vec<&Value> = logs.iter().filter(|e| e["message"] == "invoked").collect();
    let shapes: Vec<&str> = invoked
        .iter()
        .map(|e| e["shape"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        shapes,
        [
            "passthrough",
            "passthrough",
            "passthrough",
            "passthrough",
            "envoy",
            "apigw-http",
            "envoy"
        ]
    );
    for entry in &invoked {
        assert!(
            entry["status"].is_u64() && entry["latency_us"].is_u64(),
            "{entry}"
        );
        assert!(
            entry["span"]["requestId"]
                .as_str()
                .is_some_and(|id| id.starts_with("request-")),
            "{entry}"
        );
    }
    assert_eq!(invoked[6]["status"], 400);

    // Each of the six greetings called both upstreams, counted in EMF lines
    // written before its answer.
    let emf: Vec<&Value> = logs.iter().filter(|e| e.get("_aws").is_some()).collect();
    for upstream in ["greeting", "name"] {
        let calls: Vec<&&Value> = emf.iter().filter(|e| e["upstream"] == upstream).collect();
        assert_eq!(calls.len(), 6, "{upstream}: {emf:#?}");
        for line in calls {
            assert_eq!(line["outcome"], "ok", "{line}");
            assert_eq!(line["FunctionName"], "greeter-lambda", "{line}");
            assert_eq!(line["upstream_requests_total"], 1, "{line}");
            assert_eq!(
                line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([["FunctionName", "upstream", "outcome"]])
            );
        }
    }
}

#[tokio::test]
async fn under_a_runtime_api_an_upstream_failure_is_a_function_error_naming_it() {
    let mut api = FakeRuntimeApi::start().await;
    let mut vars = lambda_env(&api);
    vars.push(("GREETING_URL", spawn_greeting().await));
    vars.push(("NAME_URL", refused_url().await));
    let (_child, mut lines) = start(&vars);

    let posted = api.invoke(b"").await;
    let Posted::Error { body, .. } = posted else {
        panic!("not a function error: {posted:?}");
    };
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("error JSON"),
        json!({"errorType": "UpstreamError", "errorMessage": "name upstream unreachable: connection refused"})
    );
    let logs = logged_until(&mut lines, |logged| count(logged, "invoked") == 1).await;
    let unreachable: Vec<&Value> = logs
        .iter()
        .filter(|e| e["upstream"] == "name" && e.get("_aws").is_some())
        .collect();
    assert_eq!(unreachable.len(), 1, "{logs:#?}");
    assert_eq!(unreachable[0]["outcome"], "unreachable");
}

#[tokio::test]
async fn under_a_runtime_api_a_missing_url_is_an_init_error_naming_it_then_exit_64() {
    let mut api = FakeRuntimeApi::start().await;
    let mut vars = lambda_env(&api);
    vars.push(("GREETING_URL", "http://localhost:3002".into()));
    let child = tokio::process::Command::new(BIN)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("greeter-lambda starts");

    let posted = api.posted().await;
    let Posted::InitError { body } = posted else {
        panic!("not an init error: {posted:?}");
    };
    let error: Value = serde_json::from_str(&body).expect("error JSON");
    assert_eq!(error["errorType"], "Runtime.InitError");
    let message = error["errorMessage"].as_str().expect("a message");
    assert!(
        message.starts_with("configuration error: NAME_URL: is not set"),
        "{message}"
    );
    let output = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("exits")
        .expect("output");
    assert_eq!(output.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("greeter-lambda: {message}\n")
    );
}

#[tokio::test]
async fn under_a_runtime_api_url_with_a_base_path_the_init_error_reaches_it() {
    // cargo lambda watch sets the Runtime API as a URL, not host:port.
    let mut api = FakeRuntimeApi::start().await;
    let mut vars = lambda_env(&api);
    vars[0].1 = format!("http://{}{}", api.addr, crate::runtime_api::BASE_PATH);
    vars.push(("GREETING_URL", "http://localhost:3002".into()));
    let (_child, _lines) = start(&vars);

    let posted = api.posted().await;
    let Posted::InitError { body } = posted else {
        panic!("not an init error: {posted:?}");
    };
    assert!(body.contains("NAME_URL: is not set"), "{body}");
}

#[test]
fn outside_a_runtime_api_it_exits_64_naming_it() {
    let output = Command::new(BIN)
        .env_clear()
        .env("GREETING_URL", "http://127.0.0.1:1")
        .env("NAME_URL", "http://127.0.0.1:2")
        .output()
        .expect("greeter-lambda runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.starts_with("greeter-lambda: configuration error: AWS_LAMBDA_RUNTIME_API: is not set"),
        "{stderr}"
    );
}
