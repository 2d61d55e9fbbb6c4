//! Gathered log lines survive a panic: the test runs itself again as a
//! child process that gathers lines and panics.

use std::process::Command;

use service_core::config::{Env, LogFormat};
use service_core::telemetry;

const CHILD: &str = "SERVICE_CORE_PANICKING_CHILD";

#[test]
fn gathered_lines_are_written_when_the_process_panics() {
    if std::env::var_os(CHILD).is_some() {
        telemetry::init(LogFormat::Text, telemetry::filter(&Env::default()).unwrap());
        telemetry::write_when_idle();
        tracing::info!(n = 1, "gathered before the panic");
        tracing::info!(n = 2, "gathered before the panic");
        panic!("on purpose");
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "telemetry::gathered_lines_are_written_when_the_process_panics",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the child panics: {stdout}{stderr}");
    assert!(stderr.contains("on purpose"), "{stderr}");
    for n in [1, 2] {
        assert!(
            stdout.contains(&format!("INFO gathered before the panic n={n}")),
            "line {n} lost:\n{stdout}"
        );
    }
}
