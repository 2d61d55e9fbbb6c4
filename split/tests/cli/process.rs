//! The `split` binary's exit codes and output.

use std::process::{Command, Output};

fn split(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_split"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn splitter_prints_the_entry_and_exits_0() {
    let out = split(&["splitter", "--lambda", "25"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        migration::consul::hcl("25".parse().unwrap())
    );
}

#[test]
fn a_share_outside_0_to_100_or_finer_than_a_hundredth_exits_64() {
    for (share, message) in [
        ("100.5", "100.5 is outside 0-100"),
        ("-3", "-3 is outside 0-100"),
        ("0.001", "0.001 is finer than 0.01"),
        ("half", "\"half\" is not a number"),
    ] {
        let out = split(&["splitter", "--lambda", share]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{share}: {stderr}");
        assert!(stderr.contains(message), "{share}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{share}: nothing for `consul config write` to take"
        );
    }
}

#[test]
fn help_exits_0() {
    assert_eq!(split(&["--help"]).status.code(), Some(0));
}

#[test]
fn check_reports_problems_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("split-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("greeter.hcl"),
        "Kind = \"service-defaults\"\nName = \"greeter\"\nProtocol = \"tcp\"\n",
    )
    .unwrap();
    let out = split(&["check", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no service-defaults for name"), "{stderr}");
}

#[test]
fn observe_of_an_unreachable_ingress_reports_every_failure_and_exits_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let out = split(&["observe", "--url", &url, "-n", "3", "--expect-lambda", "0"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("  failed        3  100.00%"), "{stdout}");
    assert!(stdout.contains("FAIL: 3 requests failed"), "{stdout}");
}

/// `split healthcheck` as the compose stack runs it in the controller's
/// container.
fn healthcheck(port: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_split"))
        .arg("healthcheck")
        .env("CONTROLLER_PORT", port)
        .output()
        .unwrap()
}

#[test]
fn healthcheck_says_whether_the_controller_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let nobody = healthcheck(&port);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&nobody.stderr).starts_with("split healthcheck: "),
        "{nobody:?}"
    );
    assert_eq!(healthcheck("nine").status.code(), Some(64));

    let mut controller = Command::new(env!("CARGO_BIN_EXE_split"))
        .arg("controller")
        .env("CONTROLLER_STORE", "memory")
        .env("CONTROLLER_PORT", &port)
        .env("CONTROLLER_ID", "health")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until it listens: each try is one connection, refused at once before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let answered = loop {
        let out = healthcheck(&port);
        if out.status.code() == Some(0) || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    controller.kill().unwrap();
    controller.wait().unwrap();
    assert_eq!(answered.status.code(), Some(0), "{answered:?}");
}
