//! Two real `split controller` processes on a file store, and on the
//! Consul double as their store, moving the split the Consul double holds,
//! with the migration started and watched by `split rollout`: the leader
//! killed with SIGKILL mid-step and the other completing it with nothing
//! written twice; the leader stopped (SIGSTOP) past its lease, the other
//! taking over, and the woken one writing nothing; and the verbs' refusals
//! against a real store.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use migration::machine::{Conclusion, Phase};
use migration::record::Record;
use migration::store::Store;
use migration::store::file::FileStore;

use crate::consul_double::TOKEN;
use crate::migrate::{split, stack};

/// A controller process, its stderr in a file.
struct Controller {
    id: &'static str,
    child: Child,
    log: std::path::PathBuf,
}

impl Controller {
    fn spawn(id: &'static str, dir: &Path, consul: &str, logs: &Path) -> Self {
        let env = [
            ("CONTROLLER_STORE", format!("file:{}", dir.display())),
            ("CONTROLLER_LEASE_TTL", "2s".to_owned()),
            ("CONSUL_HTTP_ADDR", consul.to_owned()),
            ("CONSUL_HTTP_TOKEN", TOKEN.to_owned()),
        ];
        Self::spawn_with(id, &env, logs)
    }

    fn spawn_with(id: &'static str, env: &[(&str, String)], logs: &Path) -> Self {
        let log = logs.join(format!("{id}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_split"))
            .arg("controller")
            .env("CONTROLLER_TARGET", "consul")
            .env("CONTROLLER_PORT", "0")
            .env("CONTROLLER_ID", id)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("PROMETHEUS_URL")
            .env_remove("INGRESS_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { id, child, log }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Waits (a minute at most) for a line of its log that contains `text`.
    async fn logged(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged {text:?}:\n{log}",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.pid()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: &str, signal: &str) {
    assert!(
        Command::new("kill")
            .args([signal, pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Waits (two minutes at most) until the stored record satisfies `done`.
async fn until<S: Store>(store: &S, what: &str, done: impl Fn(&Record) -> bool) -> Record {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(stored) = store.read().await.unwrap() {
            let record = Record::decode(&stored.value, "state").unwrap();
            if done(&record) {
                return record;
            }
        }
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Who last wrote the record.
fn last_writer(record: &Record) -> &str {
    record.history.last().map_or("", |t| t.by.as_str())
}

async fn rollout(args: &[&str], dir: &Path) -> std::process::Output {
    rollout_with(args, &[("CONTROLLER_STORE", format!("file:{}", dir.display()))]).await
}

async fn rollout_with(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut all = vec!["rollout"];
    all.extend(args);
    split(&all, env).await
}

/// `split rollout start` of steps 20 and 100, each held `hold` seconds.
async fn start(dir: &Path, ingress: &str, hold: &str) {
    start_with(
        &[("CONTROLLER_STORE", format!("file:{}", dir.display()))],
        ingress,
        hold,
    )
    .await;
}

async fn start_with(env: &[(&str, String)], ingress: &str, hold: &str) {
    let out = rollout_with(
        &[
            "start",
            "--target",
            "consul",
            "--url",
            ingress,
            "--steps",
            "20,100",
            "--requests",
            "100",
            "--min-lambda-answers",
            "10",
            "--settle-ms",
            "0",
            "--max-p99-ratio",
            "100",
            "--hold-secs",
            hold,
            "--rate",
            "200",
        ],
        env,
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("steps 20% -> 100%"));
}

fn weights(consul: &crate::consul_double::Shared) -> Vec<f64> {
    let consul = consul.lock().unwrap();
    consul
        .writes()
        .iter()
        .map(|(_, body)| body["Splits"][1]["Weight"].as_f64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_killed_mid_step_is_replaced_and_the_migration_completes_once() {
    let (consul, addr, ingress, _) = stack(Some(0.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    start(dir.path(), &ingress, "2").await;
    let a = Controller::spawn("a", dir.path(), &addr, logs.path());
    a.logged("a leads").await;
    let b = Controller::spawn("b", dir.path(), &addr, logs.path());
    let mid = until(&store, "holding the 20% step", |r| {
        matches!(r.machine.phase, Phase::Holding { step: 0, .. })
    })
    .await;
    assert_eq!(last_writer(&mid), "a");
    let mut a = a;
    tokio::task::block_in_place(|| a.child.kill().unwrap());
    b.logged("b leads").await;
    let done = until(&store, "ended", Record::is_ended).await;
    assert_b_finished_writing_each_share_once(&done, &consul);

    // status, read from the store by another process.
    let out = rollout(&["status"], dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("succeeded, lambda 100% (Flagger: Succeeded)"),
        "{text}"
    );
    assert!(text.contains("led by b"), "{text}");
    // Nothing left to approve, and one may start again.
    let out = rollout(&["approve"], dir.path()).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the migration has ended (succeeded): nothing to approve")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_stopped_past_its_lease_writes_nothing_when_it_wakes() {
    let (consul, addr, ingress, _) = stack(Some(0.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    start(dir.path(), &ingress, "4").await;
    let a = Controller::spawn("a", dir.path(), &addr, logs.path());
    a.logged("a leads").await;
    let b = Controller::spawn("b", dir.path(), &addr, logs.path());
    until(&store, "holding the 20% step", |r| {
        matches!(r.machine.phase, Phase::Holding { step: 0, .. })
    })
    .await;
    signal(&a.pid(), "-STOP");
    b.logged("b leads").await;
    let done = until(&store, "ended", Record::is_ended).await;
    let version = store.read().await.unwrap().unwrap().version;
    let written = weights(&consul);
    assert_eq!(written, [20.0, 100.0]);
    signal(&a.pid(), "-CONT");
    a.logged("a stops leading: lost the lead").await;
    assert_eq!(
        weights(&consul),
        written,
        "the woken leader wrote nothing to Consul"
    );
    let after = store.read().await.unwrap().unwrap();
    assert_eq!(after.version, version, "nor to the store");
    assert!(matches!(
        done.machine.phase,
        Phase::Ended {
            ending: Conclusion::Succeeded,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn start_while_one_runs_and_approve_with_nothing_waiting_are_refused_writing_nothing() {
    let (_, _, ingress, _) = stack(Some(0.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    start(dir.path(), &ingress, "0").await;
    let version = store.read().await.unwrap().unwrap().version;
    for (args, message) in [
        (
            &["start", "--target", "consul"][..],
            "a migration is already initialized (started by ",
        ),
        (
            &["approve"],
            "nothing waits for approval: the migration is initialized",
        ),
        (&["resume"], "the migration is not paused (it is initialized)"),
    ] {
        let out = rollout(args, dir.path()).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message) && stderr.ends_with("nothing was written\n"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        store.read().await.unwrap().unwrap().version,
        version,
        "nothing written"
    );
    let out = rollout(&["pause"], dir.path()).await;
    assert_eq!(out.status.code(), Some(0));
    let out = rollout(&["status", "--json"], dir.path()).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["phase"], "initialized");
    assert_eq!(json["requests"][0]["verb"], "pause");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_consul_a_leader_killed_mid_step_is_replaced_once_its_session_dies() {
    let (consul, addr, ingress, _) = stack(Some(0.0)).await;
    let logs = tempfile::tempdir().unwrap();
    let (env, store) = on_consul(&addr);
    start_with(&env, &ingress, "2").await;
    let a = Controller::spawn_with("a", &env, logs.path());
    a.logged("a leads").await;
    let b = Controller::spawn_with("b", &env, logs.path());
    until(&store, "holding the 20% step", |r| {
        matches!(r.machine.phase, Phase::Holding { step: 0, .. })
    })
    .await;
    let mut a = a;
    tokio::task::block_in_place(|| a.child.kill().unwrap());
    // a's session dies unrenewed (between TTL and 2 x TTL), then the
    // lock-delay passes: by the double's clock.
    crate::consul_double::Consul::advance(&consul, Duration::from_secs(2 * 10 + 15 + 1));
    b.logged("b leads").await;
    let done = until(&store, "ended", Record::is_ended).await;
    assert_b_finished_writing_each_share_once(&done, &consul);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_consul_a_leader_stopped_past_its_lease_writes_nothing_when_it_wakes() {
    let (consul, addr, ingress, _) = stack(Some(0.0)).await;
    let logs = tempfile::tempdir().unwrap();
    let ttl = Duration::from_secs(10);
    let (env, store) = on_consul(&addr);
    start_with(&env, &ingress, "4").await;
    let a = Controller::spawn_with("a", &env, logs.path());
    a.logged("a leads").await;
    let b = Controller::spawn_with("b", &env, logs.path());
    until(&store, "holding the 20% step", |r| {
        matches!(r.machine.phase, Phase::Holding { step: 0, .. })
    })
    .await;
    signal(&a.pid(), "-STOP");
    let stopped = Instant::now();
    // a's session dies unrenewed, then the lock-delay passes, by the
    // double's clock: b takes over and finishes.
    crate::consul_double::Consul::advance(&consul, 2 * ttl + Duration::from_secs(15 + 1));
    b.logged("b leads").await;
    let done = until(&store, "ended", Record::is_ended).await;
    let version = store.read().await.unwrap().unwrap().version;
    let written = weights(&consul);
    assert_b_finished_writing_each_share_once(&done, &consul);
    // a stays stopped past its lease by its own clock too, then wakes.
    while stopped.elapsed() <= ttl {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&a.pid(), "-CONT");
    a.logged("a stops leading: lost the lead").await;
    assert_eq!(
        weights(&consul),
        written,
        "the woken leader wrote nothing to the splitter"
    );
    assert_eq!(
        store.read().await.unwrap().unwrap().version,
        version,
        "nor to the store"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_consul_sigterm_resigns_and_the_other_leads_without_waiting_for_the_session() {
    use crate::consul_double::{CONTROLLER_TOKEN, NODE};
    let (consul, addr, _, _) = stack(Some(0.0)).await;
    let logs = tempfile::tempdir().unwrap();
    let env = [
        ("CONTROLLER_STORE", "consul".to_owned()),
        ("CONSUL_HTTP_ADDR", addr.clone()),
        ("CONSUL_HTTP_TOKEN", CONTROLLER_TOKEN.to_owned()),
        ("CONSUL_SESSION_NODE", NODE.to_owned()),
    ];
    let mut a = Controller::spawn_with("a", &env, logs.path());
    a.logged("a leads").await;
    let b = Controller::spawn_with("b", &env, logs.path());
    signal(&a.pid(), "-TERM");
    a.logged("a stops leading: shut down").await;
    let status = tokio::task::block_in_place(|| a.child.wait().unwrap());
    assert_eq!(status.code(), Some(0));
    // Released, not expired: no lock-delay, and the double's clock never
    // moved.
    b.logged("b leads").await;
    assert!(consul.lock().unwrap().problems.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn status_watch_redraws_on_each_change_until_the_migration_ends() {
    let (consul, addr, ingress, _) = stack(Some(0.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    start(dir.path(), &ingress, "0").await;
    let mut watch = Command::new(env!("CARGO_BIN_EXE_split"))
        .args(["rollout", "status", "--watch"])
        .env("CONTROLLER_STORE", format!("file:{}", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _a = Controller::spawn("a", dir.path(), &addr, logs.path());
    let out = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        while watch.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "--watch never ended");
            std::thread::sleep(Duration::from_millis(20));
        }
        watch.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each change redrawn: the first view, and the last.
    assert!(
        stdout.starts_with("initialized, lambda 0% (Flagger: Initialized); steps 20% -> 100%"),
        "{stdout}"
    );
    let last = stdout.rsplit("\n\n").find(|v| !v.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("succeeded, lambda 100% (Flagger: Succeeded)"),
        "{last}"
    );
    assert!(
        last.contains("lambda ok/req") && last.contains("passed"),
        "{last}"
    );
    assert!(stdout.matches("(Flagger: ").count() >= 3, "{stdout}");
    assert_eq!(weights(&consul), [20.0, 100.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_cannot_be_reached_or_refuses_is_exit_1_naming_why() {
    use crate::consul_double::acl::{Access, Rule};
    use crate::consul_double::{Consul, NODE};
    let (consul, addr, _, _) = stack(Some(0.0)).await;
    // A token with everything but the KV prefix.
    Consul::add_token(
        &consul,
        "no-kv-token",
        "6a1b2c3d-0000-0000-0000-00000000kv00",
        Some(vec![
            Rule::exact("session", NODE, Access::Write),
            Rule::exact("service", "greeter", Access::Write),
        ]),
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = closed.local_addr().unwrap().to_string();
    drop(closed);
    let refused =
        "lacks key:read on \"greeter-mesh/migration/state\": its policy needs key_prefix \"greeter-mesh/\"";
    for (address, message) in [
        (nowhere.as_str(), "is unreachable: connection refused"),
        (addr.as_str(), refused),
    ] {
        for args in [&["status"][..], &["abort"], &["start", "--target", "consul"]] {
            let env = [
                ("CONTROLLER_STORE", "consul".to_owned()),
                ("CONSUL_HTTP_ADDR", address.to_owned()),
                ("CONSUL_HTTP_TOKEN", "no-kv-token".to_owned()),
                ("CONSUL_SESSION_NODE", NODE.to_owned()),
            ];
            let out = rollout_with(args, &env).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?} on {address}: {stderr}");
            assert!(stderr.contains(message), "{args:?} on {address}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
    }
    let state = migration::store::consul::STATE_KEY;
    assert!(
        consul.lock().unwrap().kv_value(state).is_none(),
        "nothing was written"
    );
}

/// The migration succeeded, `b` (the standby) finished it, and the split
/// was written 20 then 100, each once, with nothing the double refused.
fn assert_b_finished_writing_each_share_once(done: &Record, consul: &crate::consul_double::Shared) {
    assert!(
        matches!(
            done.machine.phase,
            Phase::Ended {
                ending: Conclusion::Succeeded,
                ..
            }
        ),
        "{:?}",
        done.history
    );
    assert_eq!(weights(consul), [20.0, 100.0], "nothing written twice");
    assert!(done.history.iter().any(|t| t.by == "b"), "b finished it");
    let problems = consul.lock().unwrap().problems.clone();
    assert!(problems.is_empty(), "{problems:?}");
}

/// Controllers' environment with the Consul double at `addr` as their
/// store (the controller's own token, a 10 s lease: Consul's least), and
/// that store as the test reads it.
fn on_consul(addr: &str) -> ([(&'static str, String); 5], migration::store::consul::ConsulStore) {
    use crate::consul_double::{CONTROLLER_TOKEN, NODE};
    let env = [
        ("CONTROLLER_STORE", "consul".to_owned()),
        ("CONSUL_HTTP_ADDR", addr.to_owned()),
        ("CONSUL_HTTP_TOKEN", CONTROLLER_TOKEN.to_owned()),
        ("CONSUL_SESSION_NODE", NODE.to_owned()),
        ("CONTROLLER_LEASE_TTL", "10s".to_owned()),
    ];
    let store = migration::store::consul::ConsulStore::with_client(
        crate::consul_double::client(addr, Some(CONTROLLER_TOKEN)),
        NODE.to_owned(),
        Duration::from_secs(15),
    );
    (env, store)
}
