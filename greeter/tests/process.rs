//! The `greeter` binary as a process: exit codes, its two listeners, the
//! `healthcheck` subcommand and graceful shutdown.

#![allow(clippy::unwrap_used)] // Test helpers may unwrap: a failure is the test failing.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::net::TcpListener;
use tokio::process::ChildStdout;
use tokio::sync::oneshot;

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
fn a_metrics_setting_other_than_on_or_off_exits_64_naming_it() {
    let output = run_with(&[
        ("METRICS", "sometimes"),
        ("GREETING_URL", "http://127.0.0.1:1"),
        ("NAME_URL", "http://127.0.0.1:1"),
    ]);
    assert_config_error(&output, "METRICS");
}

#[test]
fn a_metrics_port_that_is_not_a_port_exits_64_naming_it() {
    let output = run_with(&[
        ("METRICS_PORT", "prometheus"),
        ("GREETING_URL", "http://127.0.0.1:1"),
        ("NAME_URL", "http://127.0.0.1:1"),
    ]);
    assert_config_error(&output, "METRICS_PORT");
}

#[test]
fn a_metrics_port_that_is_port_exits_64_naming_it() {
    let output = run_with(&[
        ("PORT", "3005"),
        ("METRICS_PORT", "3005"),
        ("GREETING_URL", "http://127.0.0.1:1"),
        ("NAME_URL", "http://127.0.0.1:1"),
    ]);
    assert_config_error(&output, "METRICS_PORT");
}

#[test]
fn a_bad_log_filter_exits_64_naming_it() {
    let output = run_with(&[("RUST_LOG", "info,[")]);
    assert_config_error(&output, "RUST_LOG");
}

/// Serves `body` on port 0.
async fn upstream(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Serves `body` on port 0, to one request only: says when that request
/// arrived, then answers when released.
async fn gated_upstream(body: &'static str) -> (String, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (arrived_tx, arrived_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((arrived_tx, release_rx))));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(get(move || async move {
        let (arrived, release) = gate.lock().unwrap().take().expect("one request only");
        arrived.send(()).unwrap();
        release.await.unwrap();
        body
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrived_rx, release_tx)
}

/// A running greeter process, its addresses and its JSON log lines.
struct Running {
    child: tokio::process::Child,
    addr: String,
    /// Where its metrics are served; `None` with `METRICS=off`.
    metrics_addr: Option<String>,
    logs: Lines<BufReader<ChildStdout>>,
}

/// Starts the greeter with its routes and metrics on free ports and JSON
/// logs, and waits for its addresses.
async fn spawn_greeter(greeting_url: &str, name_url: &str, timeout_ms: &str) -> Running {
    spawn_greeter_with(greeting_url, name_url, timeout_ms, &[]).await
}

/// [`spawn_greeter`] with `extra` variables on top.
async fn spawn_greeter_with(
    greeting_url: &str,
    name_url: &str,
    timeout_ms: &str,
    extra: &[(&str, &str)],
) -> Running {
    let mut child = tokio::process::Command::new(GREETER)
        .env_clear()
        .envs([
            ("PORT", "0"),
            ("METRICS_PORT", "0"),
            ("HOSTNAME", "greeter-host"),
            ("LOG_FORMAT", "json"),
            ("UPSTREAM_TIMEOUT_MS", timeout_ms),
            ("GREETING_URL", greeting_url),
            ("NAME_URL", name_url),
        ])
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("greeter starts");
    let mut logs = BufReader::new(child.stdout.take().unwrap()).lines();
    let local = |addr: &serde_json::Value| addr.as_str().map(|a| a.replace("0.0.0.0", "127.0.0.1"));
    let (addr, metrics_addr) = loop {
        let entry = next_log(&mut logs).await;
        if entry["message"] == "listening" {
            break (local(&entry["addr"]).unwrap(), local(&entry["metrics_addr"]));
        }
    };
    Running {
        child,
        addr,
        metrics_addr,
        logs,
    }
}

async fn next_log(logs: &mut Lines<BufReader<ChildStdout>>) -> serde_json::Value {
    let line = tokio::time::timeout(Duration::from_secs(10), logs.next_line())
        .await
        .expect("a log line within 10 s")
        .unwrap()
        .expect("greeter's stdout closed");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn a_failed_request_logs_one_error_line_naming_the_upstream() {
    let greeting = upstream("Hi (g)").await;
    let mut greeter = spawn_greeter(&greeting, "http://127.0.0.1:1", "2000").await;

    let response = reqwest::Client::new()
        .get(format!("http://{}/some/path", greeter.addr))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let ok = reqwest::get(format!("http://{}/health", greeter.addr))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let failed = next_log(&mut greeter.logs).await;
    assert_eq!(failed["level"], "ERROR", "{failed}");
    assert_eq!(failed["message"], "served");
    assert_eq!(failed["method"], "GET");
    assert_eq!(failed["path"], "/some/path");
    assert_eq!(failed["status"], 502);
    assert_eq!(failed["request_id"], "req-42");
    assert_eq!(failed["error"], "name upstream unreachable: connection refused");
    assert!(failed["latency_us"].is_u64(), "{failed}");
    // The next line is the health check's: the failure was logged once.
    let health = next_log(&mut greeter.logs).await;
    assert_eq!(
        (health["level"].as_str(), health["path"].as_str()),
        (Some("INFO"), Some("/health"))
    );
}

#[tokio::test]
async fn metrics_are_served_on_metrics_port_and_metrics_on_port_is_the_payload() {
    let greeting = upstream("Hi (g)").await;
    let name = upstream("Mary (n)").await;
    let greeter = spawn_greeter(&greeting, &name, "2000").await;
    let metrics_addr = greeter.metrics_addr.as_deref().expect("a metrics listener");
    assert_ne!(metrics_addr, greeter.addr);

    let public = reqwest::get(format!("http://{}/metrics", greeter.addr))
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(public.text().await.unwrap(), "From greeter-host: Hi (g) Mary (n)");

    let scraped = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains("build_info{service=\"greeter\",version=\""),
        "{text}"
    );
    assert!(
        text.contains("upstream_requests_total{upstream=\"name\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    let other = reqwest::get(format!("http://{metrics_addr}/")).await.unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn with_metrics_off_no_metrics_port_is_bound() {
    // Taken, so that binding it would fail the start.
    let taken = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let off = [("METRICS", "off"), ("METRICS_PORT", port.as_str())];
    let greeter = spawn_greeter_with("http://127.0.0.1:1", "http://127.0.0.1:1", "2000", &off).await;
    assert_eq!(greeter.metrics_addr, None);
    let health = reqwest::get(format!("http://{}/health", greeter.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn a_metrics_port_taken_stops_the_start_with_1_naming_it() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run_with(&[
        ("PORT", "0"),
        ("METRICS_PORT", &port),
        ("GREETING_URL", "http://127.0.0.1:1"),
        ("NAME_URL", "http://127.0.0.1:1"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.starts_with(&format!(
            "greeter: cannot listen on 0.0.0.0:{port} (METRICS_PORT): "
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_healthcheck_subcommand_asks_the_routes_port() {
    let greeter = spawn_greeter("http://127.0.0.1:1", "http://127.0.0.1:1", "2000").await;
    let port = greeter.addr.rsplit(':').next().unwrap().to_owned();
    let check = |port: &str| {
        Command::new(GREETER)
            .arg("healthcheck")
            .env_clear()
            .env("PORT", port)
            .output()
            .expect("greeter healthcheck runs")
    };
    let healthy = check(&port);
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    let metrics_port = greeter
        .metrics_addr
        .as_deref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    let wrong = check(metrics_port);
    assert_eq!(wrong.status.code(), Some(1), "the metrics port is not healthy");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let greeting = upstream("Hi (g)").await;
    let (name, arrived, release) = gated_upstream("Mary (n)").await;
    let Running {
        mut child,
        addr,
        mut logs,
        ..
    } = spawn_greeter(&greeting, &name, "10000").await;

    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/")));
    // In flight: the greeter's call has reached name, which holds it.
    arrived.await.unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Name answers only once the greeter says it is draining.
    while next_log(&mut logs).await["message"] != "shutting down, draining in-flight requests" {}
    release.send(()).unwrap();
    // Keep draining stdout so logging never blocks the process.
    tokio::spawn(async move { while let Ok(Some(_)) = logs.next_line().await {} });

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
