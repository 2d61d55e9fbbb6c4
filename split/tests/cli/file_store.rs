//! The file store with real processes on one directory, as compose runs
//! two controller replicas on one volume: a leader killed with SIGKILL is
//! replaced at once (the kernel drops its lock); a leader stopped with
//! SIGSTOP loses the lead once its lease has run out and, woken with
//! SIGCONT, writes nothing; two processes racing check-and-set writes
//! lose none. The processes are this test binary run again as
//! [`helper_process`], told what to do by its environment and its stdin,
//! saying what it did on its stdout; every wait is for a line or a state,
//! with a deadline.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use migration::store::file::{FileStore, STATE_FILE};
use migration::store::{Candidate, Lease, LeaseToken, Store, StoreError, Stored};

/// The helper's mode: `lead` or `count`.
const HELPER: &str = "FILE_STORE_HELPER";
/// The store's directory.
const DIR: &str = "FILE_STORE_DIR";
/// `lead`: the candidate's id; `count`: how many increments.
const ARG: &str = "FILE_STORE_ARG";
/// `lead`: the lease's TTL in milliseconds.
const TTL_MS: &str = "FILE_STORE_TTL_MS";

/// How long any one wait may take on a busy machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// A fresh directory, removed after the test.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("split-file-store-")
        .tempdir()
        .unwrap()
}

/// A helper process, its stdout read line by line.
struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Helper {
    fn spawn(mode: &str, dir: &Path, arg: &str, ttl: Duration) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "file_store::helper_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HELPER, mode)
            .env(DIR, dir)
            .env(ARG, arg)
            .env(TTL_MS, ttl.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, collected) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                collected.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// The next thing it said that starts with one of `prefixes`, the
    /// others (and the test harness's own lines) skipped.
    fn expect(&self, prefixes: &[&str]) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    // The harness may have begun the line (`test ... `).
                    let Some((_, said)) = line.split_once(SAYS) else {
                        continue;
                    };
                    if prefixes.iter().any(|p| said.starts_with(p)) {
                        return said.to_owned();
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no line starting {prefixes:?} within {DEADLINE:?}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the helper ended before a line starting {prefixes:?}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    /// Kills it with SIGKILL and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to end; its exit code.
    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the helper did not end; stderr:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: &str, signal: &str) {
    let status = Command::new("kill").args([signal, pid]).status().unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Whether the process is stopped, as the kernel says (`T` in
/// `/proc/<pid>/stat`).
fn stopped(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('T')))
        .unwrap_or(false)
}

fn term(lease: &Lease) -> (u64, bool) {
    match &lease.token {
        LeaseToken::File { term, lock } => (*term, lock.is_some()),
        other => panic!("not a file lease: {other:?}"),
    }
}

fn candidate(id: &str, ttl: Duration) -> Candidate {
    Candidate {
        id: id.to_owned(),
        ttl,
    }
}

/// Campaigns until it leads, within the deadline.
async fn lead_within_deadline(store: &FileStore, me: &Candidate) -> Lease {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(lease) = store.campaign(me).await.unwrap() {
            return lease;
        }
        assert!(Instant::now() < deadline, "{} never led", me.id);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What `state.json` says about who wrote it.
fn writer(dir: &Path) -> serde_json::Value {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(STATE_FILE)).unwrap()).unwrap();
    serde_json::json!({ "writer": state["writer"], "term": state["term"], "version": state["version"] })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_killed_with_sigkill_is_replaced_at_once() {
    let dir = temp_dir();
    // A lease far longer than the test: only the kernel's release of the
    // lock can hand the lead over.
    let long = Duration::from_secs(3600);
    let mut leader = Helper::spawn("lead", dir.path(), "ctrl-a", long);
    leader.expect(&["leading 1"]);
    leader.send("write a1");
    assert_eq!(leader.expect(&["wrote", "refused"]), "wrote 1");
    let standby = FileStore::open(dir.path()).unwrap();
    let me = candidate("ctrl-b", long);
    assert!(standby.campaign(&me).await.unwrap().is_none());

    tokio::task::block_in_place(|| leader.kill());
    let lease = standby.campaign(&me).await.unwrap().expect("the lead at once");

    assert_eq!(term(&lease), (2, true));
    assert_eq!(standby.write_fenced(&lease, b"b1", 1).await.unwrap(), 2);
    assert_eq!(standby.leader().await.unwrap().unwrap().id, "ctrl-b");
    assert_eq!(
        writer(dir.path()),
        serde_json::json!({ "writer": "ctrl-b", "term": 2, "version": 2 })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_stopped_past_its_lease_loses_the_lead_and_writes_nothing_when_it_wakes() {
    let dir = temp_dir();
    let ttl = Duration::from_secs(1);
    let mut leader = Helper::spawn("lead", dir.path(), "ctrl-a", ttl);
    leader.expect(&["leading 1"]);
    leader.send("write a1");
    assert_eq!(leader.expect(&["wrote", "refused"]), "wrote 1");

    // It stops itself between two of its own calls (never inside the
    // store's short lock), as SIGSTOP or docker pause would stop it.
    leader.send("stop");
    leader.expect(&["stopping"]);
    let pid = leader.pid();
    let deadline = Instant::now() + DEADLINE;
    while !stopped(&pid) {
        assert!(Instant::now() < deadline, "the leader never stopped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let standby = FileStore::open(dir.path()).unwrap();
    let mut lease = lead_within_deadline(&standby, &candidate("ctrl-b", Duration::from_secs(3600))).await;
    // The stopped process still holds the OS lock: the lead is the lease's.
    assert_eq!(term(&lease), (2, false));
    assert_eq!(standby.write_fenced(&lease, b"b1", 1).await.unwrap(), 2);

    signal(&pid, "-CONT");
    leader.send("write a2");
    let answer = leader.expect(&["wrote", "refused"]);

    assert!(
        answer.starts_with("refused") && answer.contains("moved to ctrl-b (term 2)"),
        "{answer}"
    );
    assert_eq!(
        standby.read().await.unwrap(),
        Some(Stored {
            value: b"b1".to_vec(),
            version: 2
        })
    );
    assert_eq!(
        writer(dir.path()),
        serde_json::json!({ "writer": "ctrl-b", "term": 2, "version": 2 })
    );
    // Once the old process is gone, the new leader's renew takes the lock.
    tokio::task::block_in_place(|| leader.kill());
    standby.renew(&mut lease).await.unwrap();
    assert_eq!(term(&lease), (2, true));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_racing_check_and_set_writes_lose_none() {
    let dir = temp_dir();
    let each = 40;
    let mut racers = [
        Helper::spawn("count", dir.path(), &each.to_string(), Duration::ZERO),
        Helper::spawn("count", dir.path(), &each.to_string(), Duration::ZERO),
    ];

    for racer in &mut racers {
        let said = tokio::task::block_in_place(|| racer.expect(&["counted", "failed"]));
        assert_eq!(said, format!("counted {each}"));
        assert_eq!(tokio::task::block_in_place(|| racer.wait()), Some(0));
    }

    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(
        store.read().await.unwrap(),
        Some(Stored {
            value: (2 * each).to_string().into_bytes(),
            version: 2 * each
        })
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Not a test: the entry point of the helper processes the tests above
/// spawn (this binary run again with `FILE_STORE_HELPER` set). Run by
/// `cargo test`, it does nothing.
#[test]
fn helper_process() {
    let Ok(mode) = std::env::var(HELPER) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let arg = std::env::var(ARG).unwrap();
    let ttl = Duration::from_millis(std::env::var(TTL_MS).unwrap().parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let code = runtime.block_on(async {
        let store = FileStore::open(&dir).unwrap();
        match mode.as_str() {
            "lead" => lead(&store, &candidate(&arg, ttl)).await,
            _ => count(&store, arg.parse().unwrap()).await,
        }
    });
    std::process::exit(code);
}

/// What marks the helper's own words on its stdout.
const SAYS: &str = "helper says: ";

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{SAYS}{line}");
    let _ = out.flush();
}

/// Leads, renews every quarter TTL, and on stdin's commands writes
/// (`write <value>`) or stops itself (`stop`), one at a time, so that it
/// never stops inside a call of the store's.
async fn lead(store: &FileStore, me: &Candidate) -> i32 {
    let mut lease = lead_within_deadline(store, me).await;
    say(&format!("leading {}", term(&lease).0));
    let (send, mut commands) = tokio::sync::mpsc::channel::<String>(8);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if send.blocking_send(line).is_err() {
                return;
            }
        }
    });
    let mut renew = tokio::time::interval((me.ttl / 4).max(Duration::from_millis(10)));
    let mut lost = false;
    loop {
        tokio::select! {
            _ = renew.tick(), if !lost => {
                if let Err(e) = store.renew(&mut lease).await {
                    say(&format!("lost {e}"));
                    lost = true;
                }
            }
            command = commands.recv() => match command.as_deref() {
                None => return 0,
                Some("stop") => {
                    say("stopping");
                    let _ = Command::new("kill").args(["-STOP", &std::process::id().to_string()]).status();
                }
                Some(write) => {
                    let value = write.trim_start_matches("write ");
                    let version = match store.read().await {
                        Ok(stored) => stored.map_or(0, |s| s.version),
                        Err(e) => {
                            say(&format!("refused {e}"));
                            continue;
                        }
                    };
                    match store.write_fenced(&lease, value.as_bytes(), version).await {
                        Ok(version) => say(&format!("wrote {version}")),
                        Err(e) => say(&format!("refused {e}")),
                    }
                }
            }
        }
    }
}

/// Adds 1 to the stored number `times` times, each a read then a
/// check-and-set write, again on a conflict.
async fn count(store: &FileStore, times: u64) -> i32 {
    for _ in 0..times {
        loop {
            let stored = match store.read().await {
                Ok(stored) => stored,
                Err(e) => {
                    say(&format!("failed {e}"));
                    return 1;
                }
            };
            let (version, n) = stored.map_or((0, 0), |s| {
                (
                    s.version,
                    String::from_utf8_lossy(&s.value).parse::<u64>().unwrap_or(0),
                )
            });
            match store.write((n + 1).to_string().as_bytes(), version).await {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => {
                    say(&format!("failed {e}"));
                    return 1;
                }
            }
        }
    }
    say(&format!("counted {times}"));
    0
}
