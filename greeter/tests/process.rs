//! The `greeter` binary as a process: exit codes and graceful shutdown.

#![allow(clippy::unwrap_used)] // Test helpers may unwrap: a failure is the test failing.

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

const GREETER: &str = env!("CARGO_BIN_EXE_greeter");

fn run_with(vars: &[(&str, &str)]) -> std::process::Output {
    Command::new(GREETER)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("greeter runs")
}

fn assert_config_error(output: &std::process::Output, var: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(
        stderr.starts_with(&format!("greeter: configuration error: {var}: ")),
        "{stderr}"
    );
}

#[test]
fn a_missing_url_exits_64_naming_it() {
    let output = run_with(&[("GREETING_URL", "http://127.0.0.1:1")]);
    assert_config_error(&output, "NAME_URL");
}

#[test]
fn a_malformed_url_exits_64_naming_it() {
    let output = run_with(&[
        ("GREETING_URL", "greeting:3000"),
        ("NAME_URL", "http://127.0.0.1:1"),
    ]);
    assert_config_error(&output, "GREETING_URL");
}

#[test]
fn a_port_that_is_not_a_number_exits_64_naming_it() {
    let output = run_with(&[
        ("PORT", "http"),
        ("GREETING_URL", "http://127.0.0.1:1"),
        ("NAME_URL", "http://127.0.0.1:1"),
    ]);
    assert_config_error(&output, "PORT");
}

#[test]
fn a_bad_log_filter_exits_64_naming_it() {
    let output = run_with(&[("RUST_LOG", "info,[")]);
    assert_config_error(&output, "RUST_LOG");
}

/// Serves `body` on port 0 after `delay`.
async fn upstream(body: &'static str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(get(move || async move {
        tokio::time::sleep(delay).await;
        body
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let greeting = upstream("Hi (g)", Duration::ZERO).await;
    let name = upstream("Mary (n)", Duration::from_millis(1500)).await;
    let mut child = tokio::process::Command::new(GREETER)
        .env_clear()
        .envs([
            ("PORT", "0"),
            ("HOSTNAME", "greeter-host"),
            ("LOG_FORMAT", "json"),
            ("UPSTREAM_TIMEOUT_MS", "10000"),
            ("GREETING_URL", greeting.as_str()),
            ("NAME_URL", name.as_str()),
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("greeter starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("greeter logged no address");
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        if entry["message"] == "listening" {
            break entry["addr"].as_str().unwrap().replace("0.0.0.0", "127.0.0.1");
        }
    };
    // Keep draining stdout so logging never blocks the process.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let response = in_flight.await.unwrap().expect("in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "From greeter-host: Hi (g) Mary (n)"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("greeter exits after draining")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
