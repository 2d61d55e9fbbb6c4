//! What Lambda itself says of each invocation: the log's platform lines,
//! `X-Amz-Log-Type: Tail`, the CloudWatch metrics on `GET /metrics`, and
//! the throttle past a reserved concurrency.

use regex::Regex;
use serde_json::json;

use crate::helpers::*;

/// The REPORT line, its durations and memory as numbers; `Init Duration`
/// only when `cold`.
fn report_pattern(request_id: &str, cold: bool) -> Regex {
    let init = if cold {
        r"Init Duration: \d+\.\d\d ms\t"
    } else {
        ""
    };
    Regex::new(&format!(
        r"^REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: [1-9]\d* MB\t{init}$"
    ))
    .unwrap()
}

#[tokio::test]
async fn tail_returns_the_invocations_log_framed_by_lambdas_start_end_and_report() {
    let emulator = Emulator::start(config()).await;

    let cold = emulator.invoke_tail("log").await;
    let warm = emulator.invoke_tail("log").await;
    let untailed = emulator.invoke("log").await;

    for (invoked, is_cold) in [(&cold, true), (&warm, false)] {
        assert_eq!((invoked.status, invoked.body.as_str()), (200, r#""logged""#));
        let id = invoked.request_id.as_deref().unwrap();
        let log = invoked.log_result.as_deref().unwrap();
        let lines: Vec<&str> = log.lines().collect();
        let at = |wanted: &str| {
            lines
                .iter()
                .position(|line| *line == wanted)
                .unwrap_or_else(|| panic!("no {wanted:?} in {log}"))
        };
        let start = at(&format!("START RequestId: {id} Version: $LATEST"));
        // stdout and stderr are two pipes: their lines' order is not kept.
        assert!(start < at("to stdout") && start < at("to stderr"), "{log}");
        // Written after the answer, before the next poll: still this invocation's.
        assert!(at("to stdout") < at("after the answer"), "{log}");
        assert_eq!(at(&format!("END RequestId: {id}")), lines.len() - 2, "{log}");
        let report = lines[lines.len() - 1];
        assert!(report_pattern(id, is_cold).is_match(report), "{report:?}");
        assert!(log.ends_with("\n"), "{log:?}");
        if is_cold {
            // The test harness's own line, as the fake function starts: init
            // output comes before START.
            assert!(lines[..start].contains(&"running 1 test"), "{log}");
        } else {
            assert_eq!(start, 0, "a warm invocation's log begins with START: {log}");
        }
    }
    assert_eq!(untailed.status, 200);
    assert_eq!(untailed.log_result, None);
}

#[tokio::test]
async fn metrics_count_every_invocation_as_cloudwatch_does() {
    let mut config = config();
    // Long enough that only `hang` ever meets it, however busy the machine.
    config.timeout = std::time::Duration::from_secs(3);
    let emulator = Emulator::start(config).await;

    for command in ["echo", "echo", "error", "hang", "exit", "echo"] {
        emulator.invoke(command).await;
    }
    let refused = emulator.post(ARN, "not json", &[]).await;
    let dry_run = emulator
        .invoke_as(ARN, "echo", &[("x-amz-invocation-type", "DryRun")])
        .await;

    assert_eq!((refused.status, dry_run.status), (400, 204));
    // Cold starts: the first, after the timeout, after the crash.
    for (name, value) in [
        ("lambda_invocations_total", 6.0),
        ("lambda_errors_total", 3.0),
        ("lambda_throttles_total", 0.0),
        ("lambda_duration_seconds_count", 6.0),
        ("lambda_concurrent_executions", 0.0),
        ("lambda_cold_starts_total", 3.0),
        ("lambda_init_duration_seconds_count", 3.0),
    ] {
        assert_eq!(emulator.metric(name).await, value, "{name}");
    }
    assert_eq!(emulator.function.instances_started(), 3);
    // The timeout's whole 3 s are in the durations.
    let seconds = emulator.metric("lambda_duration_seconds_sum").await;
    assert!(seconds >= 3.0, "{seconds}");
    promtool_check(&emulator.metrics().await);
}

#[tokio::test]
async fn past_the_reserved_concurrency_a_synchronous_invocation_is_throttled_with_429() {
    let mut config = config();
    config.reserved_concurrency = Some(1);
    config.timeout = std::time::Duration::from_secs(600);
    let emulator = std::sync::Arc::new(Emulator::start(config).await);
    let busy = std::sync::Arc::clone(&emulator);
    let hanging = tokio::spawn(async move { busy.invoke("hang").await });
    emulator
        .wait_for_metric("lambda_concurrent_executions", 1.0)
        .await;

    let throttled = emulator.invoke("echo").await;

    assert_eq!(
        (throttled.status, throttled.error_type.as_deref()),
        (429, Some("TooManyRequestsException"))
    );
    assert_eq!(
        throttled.json(),
        json!({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."})
    );
    assert!(throttled.request_id.is_some());
    assert_eq!(emulator.metric("lambda_throttles_total").await, 1.0);
    assert_eq!(emulator.metric("lambda_invocations_total").await, 0.0);
    assert_eq!(emulator.function.instances_started(), 1);
    hanging.abort();
}

#[tokio::test]
async fn a_reserved_concurrency_of_0_throttles_everything_and_runs_nothing() {
    let mut config = config();
    config.reserved_concurrency = Some(0);
    let emulator = Emulator::start(config).await;

    let throttled = emulator.invoke("echo").await;

    assert_eq!(throttled.status, 429);
    assert_eq!(emulator.metric("lambda_throttles_total").await, 1.0);
    assert_eq!(emulator.function.instances_started(), 0);
}

/// `promtool check metrics` on `text`, when promtool is installed (Debian's
/// `prometheus` package); scripts/test-invoke requires it.
#[allow(clippy::print_stderr)] // A skipped check says so.
fn promtool_check(text: &str) {
    use std::io::Write as _;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED: promtool check metrics: promtool is not installed (apt-get install prometheus)");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
