//! A Lambda function for the tests: this test binary run again as the
//! emulator's bootstrap, with `FAKE_FUNCTION` set, polling the Runtime API
//! it is given exactly as a real runtime does. The payload, a JSON string,
//! says what to do:
//!
//! - `echo` (or anything else, an empty payload too): answers the payload
//!   as it came, the environment and headers it got, and its pid;
//! - `error`: posts a function error;
//! - `sleep:<ms>`: answers its pid after that long;
//! - `answer:<n>`: answers exactly `n` bytes, a JSON string of `x`s;
//! - `log`: writes `to stdout` and `to stderr`, answers `"logged"`, then
//!   writes `after the answer` (as greeter-lambda logs after answering);
//! - `hang`: writes `hanging pid=<pid>` and never answers;
//! - `exit`: exits 3 without answering.
//!
//! With `FAKE_INIT_ERROR` set it reports an init error and exits 64.

#![allow(clippy::print_stdout, clippy::print_stderr)] // The function's own output is what it tests.

use std::time::Duration;

use serde_json::json;

/// The test that is the function when `FAKE_FUNCTION` is set, and does
/// nothing otherwise.
#[test]
fn process() {
    if std::env::var_os("FAKE_FUNCTION").is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(serve());
    std::process::exit(0);
}

async fn serve() {
    let api = format!(
        "http://{}/2018-06-01/runtime",
        std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap()
    );
    let client = reqwest::Client::new();
    if std::env::var_os("FAKE_INIT_ERROR").is_some() {
        client
            .post(format!("{api}/init/error"))
            .body(r#"{"errorType":"Runtime.InitError","errorMessage":"NAME_URL: is not set"}"#)
            .send()
            .await
            .unwrap();
        std::process::exit(64);
    }
    loop {
        // The emulator stops an instance by dropping its Runtime API.
        let Ok(next) = client.get(format!("{api}/invocation/next")).send().await else {
            std::process::exit(0);
        };
        let header = |name: &str| {
            next.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let id = header("lambda-runtime-aws-request-id");
        let seen = json!({
            "pid": std::process::id(),
            "deadline_ms": header("lambda-runtime-deadline-ms"),
            "arn": header("lambda-runtime-invoked-function-arn"),
            "trace_id": header("lambda-runtime-trace-id"),
            "env": std::env::vars().filter(|(k, _)| k != "FAKE_FUNCTION").collect::<std::collections::BTreeMap<_, _>>(),
        });
        let payload = next.text().await.unwrap();
        let command: String = serde_json::from_str(&payload).unwrap_or_default();
        let (path, body) = match command.as_str() {
            "error" => (
                "error",
                json!({"errorType": "Boom", "errorMessage": "it went boom"}),
            ),
            "exit" => std::process::exit(3),
            "log" => {
                println!("to stdout");
                eprintln!("to stderr");
                answer(&client, &api, &id, "response", &json!("logged")).await;
                println!("after the answer");
                continue;
            }
            "hang" => {
                println!("hanging pid={}", std::process::id());
                std::future::pending::<()>().await;
                unreachable!()
            }
            sized if sized.starts_with("answer:") => {
                let bytes: usize = sized["answer:".len()..].parse().unwrap();
                let body = format!("\"{}\"", "x".repeat(bytes - 2));
                // A refusal (413) is the emulator's answer, not a failure here.
                let _ = client
                    .post(format!("{api}/invocation/{id}/response"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                continue;
            }
            sleep if sleep.starts_with("sleep:") => {
                let ms = sleep["sleep:".len()..].parse().unwrap();
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ("response", json!({ "pid": std::process::id() }))
            }
            _ => ("response", json!({ "payload": payload, "seen": seen })),
        };
        answer(&client, &api, &id, path, &body).await;
    }
}

async fn answer(client: &reqwest::Client, api: &str, id: &str, path: &str, body: &serde_json::Value) {
    client
        .post(format!("{api}/invocation/{id}/{path}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
}
