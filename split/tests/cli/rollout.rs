//! `split rollout`'s and `split controller`'s answers to bad input and
//! refusals (exit codes and messages), and the controller's routes.

use std::time::Duration;

use migration::store::memory::MemoryStore;
use split::controller::{self, Config};
use split::store::AnyStore;

use crate::migrate::split;

#[tokio::test]
async fn bad_rollout_flags_exit_64_naming_the_problem() {
    let memory = [("CONTROLLER_STORE", "memory".to_owned())];
    for (args, env, message) in [
        (
            &["start", "--steps", "50,25"][..],
            &memory[..],
            "steps must increase: 25 after 50",
        ),
        (
            &["start", "--steps", "5,50", "--approve-at", "100"],
            &memory,
            "--approve-at 100 is not one of --steps (5,50)",
        ),
        (
            &["start", "--confirm-url", "ftp://hooks"],
            &memory,
            "ftp://hooks is not an http:// or https:// URL",
        ),
        (
            &["start", "--judge", "prometheus"],
            &memory,
            "--judge prometheus needs --prometheus URL",
        ),
        (&["status"], &[], "--store <STORE>"),
        (
            &["approve", "--store", "etcd"],
            &[],
            "\"etcd\" is not consul, file:<dir> or memory",
        ),
        (
            &["pause", "--store", "file:"],
            &[],
            "is not consul, file:<dir> or memory",
        ),
        (&["launch"], &memory, "unrecognized subcommand 'launch'"),
    ] {
        let mut all = vec!["rollout"];
        all.extend(args);
        let out = split(&all, env).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn a_verb_with_no_migration_stored_is_refused_with_exit_1() {
    for verb in ["status", "pause", "resume", "approve", "abort"] {
        let out = split(&["rollout", verb, "--store", "memory"], &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{verb}: {stderr}");
        assert!(
            stderr.contains("no migration is stored in this process's memory: `split rollout start` one"),
            "{verb}: {stderr}"
        );
    }
}

#[tokio::test]
async fn start_dry_run_prints_the_record_and_writes_nothing() {
    let out = split(
        &[
            "rollout",
            "start",
            "--store",
            "memory",
            "--steps",
            "5,100",
            "--approve-at",
            "100",
            "--dry-run",
        ],
        &[],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("split rollout start --dry-run: nothing is written"),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(stdout.split_once('\n').unwrap().1).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["machine"]["phase"], "initialized");
    assert_eq!(json["machine"]["approve_at"], serde_json::json!([100.0]));
}

#[tokio::test]
async fn bad_controller_settings_exit_64_naming_the_variable() {
    for (env, message) in [
        (vec![], "CONTROLLER_STORE: not set: consul, or file:<dir>"),
        (
            vec![("CONTROLLER_STORE", "etcd")],
            "CONTROLLER_STORE: \"etcd\" is not consul",
        ),
        (
            vec![("CONTROLLER_STORE", "memory"), ("CONTROLLER_TARGET", "k8s")],
            "CONTROLLER_TARGET: \"k8s\" is not envoy or consul",
        ),
        (
            vec![("CONTROLLER_STORE", "memory"), ("CONTROLLER_PORT", "70000")],
            "CONTROLLER_PORT: \"70000\" is not a port",
        ),
        (
            vec![
                ("CONTROLLER_STORE", "memory"),
                ("PROMETHEUS_URL", "prometheus:9090"),
            ],
            "PROMETHEUS_URL: \"prometheus:9090\" is not an http:// URL",
        ),
        (
            vec![("CONTROLLER_STORE", "memory"), ("INGRESS_URL", "https://ingress")],
            "INGRESS_URL: \"https://ingress\" is not an http:// URL",
        ),
        (
            vec![("CONTROLLER_STORE", "memory"), ("ENVOY_ADMIN_URL", "x")],
            "ENVOY_ADMIN_URL: \"x\" is not an http:// URL",
        ),
    ] {
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_split"));
        command.arg("controller");
        for var in [
            "CONTROLLER_STORE",
            "CONTROLLER_TARGET",
            "CONTROLLER_PORT",
            "PROMETHEUS_URL",
            "INGRESS_URL",
            "ENVOY_ADMIN_URL",
        ] {
            command.env_remove(var);
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(message), "{env:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_controller_serves_health_status_and_metrics_and_stops_on_shutdown() {
    let config = Config::from_lookup(|k| match k {
        "CONTROLLER_STORE" => Some("memory".to_owned()),
        "CONTROLLER_ID" => Some("controller-a".to_owned()),
        _ => None,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(controller::run(
        config,
        AnyStore::Memory(MemoryStore::default()),
        Duration::from_secs(15),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
    assert_eq!(get("/health").await.unwrap().text().await.unwrap(), "healthy");
    // It leads once it has campaigned.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status: serde_json::Value =
            serde_json::from_str(&get("/status").await.unwrap().text().await.unwrap()).unwrap();
        if status["leads"] == true {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status["this"], "controller-a");
    assert_eq!(status["leader"]["id"], "controller-a");
    assert_eq!(status["migration"], serde_json::Value::Null);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for line in [
        "migration_leader 1",
        "migration_phase{phase=\"holding\"} 0",
        "migration_webhook_failures_total{webhook=\"confirm\"} 0",
        "migration_verdicts_total{verdict=\"passed\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .unwrap()
        .unwrap();
}
