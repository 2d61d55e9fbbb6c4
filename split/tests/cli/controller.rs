//! The driver and the controller against the Consul double (the split),
//! its fake ingress (probes), the Prometheus double (the judge) and a
//! store in memory: resuming after each kind of interruption, a failover
//! mid-window judged from the stored start, a leader past its lease,
//! people's requests, and the webhooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use migration::controller::{Local, Shared};
use migration::driver::{Driver, Leadership, Stop};
use migration::intent;
use migration::machine::{Conclusion, Event, Machine, Phase};
use migration::metrics::MigrationMetrics;
use migration::plan::{Judge, Plan, Rollback};
use migration::progress::Progress;
use migration::record::{self, Record, Verb, Webhooks};
use migration::store::memory::MemoryStore;
use migration::store::{Candidate, Store};
use migration::target::TargetKind;
use serde_json::Value;

use crate::consul_double::TOKEN;
use crate::migrate::{consul_target, plan, stack};
use crate::{double, prometheus_double};

fn share(raw: &str) -> migration::share::Share {
    raw.parse().unwrap()
}

fn candidate(id: &str) -> Candidate {
    Candidate {
        id: id.to_owned(),
        ttl: Duration::from_secs(30),
    }
}

/// A record of `plan` on Consul, its machine in `phase` (after a baseline
/// at 0 %), webhooks as given.
fn record_at(plan: &Plan, phase: Option<Phase>, approve_at: &[&str], webhooks: Webhooks) -> Record {
    let approve: Vec<_> = approve_at.iter().map(|s| share(s)).collect();
    let mut machine = Machine::new(
        plan.steps.0.clone(),
        approve,
        webhooks.confirm_url.is_some(),
        plan.rollback,
    );
    if let Some(phase) = phase {
        machine = machine
            .next(Event::Read {
                live: Some(share("0")),
                at: record::now(),
            })
            .unwrap();
        machine.phase = phase;
    }
    Record::new(
        plan.clone(),
        TargetKind::Consul,
        machine,
        webhooks,
        "ann@laptop",
        record::now(),
    )
}

/// Drives `record` as `id` on `store` with the Consul double at `addr`.
async fn drive(store: &MemoryStore, id: &str, record: Record, addr: &str) -> Result<Record, Stop> {
    let version = match store.read().await.unwrap() {
        Some(stored) => store.write(&record.encode(), stored.version).await.unwrap(),
        None => store.write(&record.encode(), 0).await.unwrap(),
    };
    let lead = Leadership::new(store.campaign(&candidate(id)).await.unwrap().unwrap());
    let driven = drive_led(store, &lead, addr, record, version).await;
    lead.resign(store).await.unwrap();
    driven
}

/// Drives `record` (stored at `version`) under `lead` with the Consul
/// double at `addr`, never interrupted.
async fn drive_led(
    store: &MemoryStore,
    lead: &Leadership,
    addr: &str,
    record: Record,
    version: u64,
) -> Result<Record, Stop> {
    let mut target = consul_target(addr, Some(TOKEN));
    let progress = Progress::stderr(true);
    let driver = Driver {
        store,
        lead,
        target: &mut target,
        progress: &progress,
        metrics: MigrationMetrics::default(),
        published: None,
    };
    driver
        .drive(record, version, std::future::pending(), std::future::pending())
        .await
}

/// The Lambda's weight of each write Consul took.
fn weights(consul: &crate::consul_double::Shared) -> Vec<f64> {
    let consul = consul.lock().unwrap();
    assert!(consul.problems.is_empty(), "{:?}", consul.problems);
    consul
        .writes()
        .iter()
        .map(|(_, body)| body["Splits"][1]["Weight"].as_f64().unwrap())
        .collect()
}

fn ended(record: &Record) -> (Conclusion, String) {
    match &record.machine.phase {
        Phase::Ended { ending, why } => (*ending, why.clone()),
        other => panic!("not ended: {other:?}"),
    }
}

fn writing(step: usize, to: &str, from: &str) -> Phase {
    Phase::Writing {
        step,
        to: share(to),
        from: share(from),
    }
}

#[tokio::test]
async fn an_intent_stored_but_never_written_is_written_by_the_next_leader() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let plan = plan("5,50", &url);
    let store = MemoryStore::default();
    let record = record_at(&plan, Some(writing(0, "5", "0")), &[], Webhooks::default());
    let done = drive(&store, "b", record, &addr).await.unwrap();
    assert_eq!(ended(&done).0, Conclusion::Succeeded, "{:?}", done.history);
    assert_eq!(weights(&consul), [5.0, 50.0], "each share written once");
}

#[tokio::test]
async fn a_write_that_landed_before_its_next_state_was_stored_is_not_written_again() {
    let (consul, addr, url, _) = stack(Some(5.0)).await;
    let plan = plan("5,50", &url);
    let store = MemoryStore::default();
    let record = record_at(&plan, Some(writing(0, "5", "0")), &[], Webhooks::default());
    let done = drive(&store, "b", record, &addr).await.unwrap();
    assert_eq!(ended(&done).0, Conclusion::Succeeded, "{:?}", done.history);
    assert_eq!(
        weights(&consul),
        [50.0],
        "5 % was there: only the next step is written"
    );
    assert_eq!(done.steps.len(), 2, "both steps judged");
}

#[tokio::test]
async fn someone_elses_share_found_on_taking_over_stops_with_nothing_written() {
    let (consul, addr, url, _) = stack(Some(30.0)).await;
    let plan = plan("5,50", &url);
    for phase in [
        writing(0, "5", "0"),
        Phase::Holding {
            step: 0,
            share: share("5"),
            started: record::now(),
        },
        Phase::RollingBack {
            to: share("0"),
            from: vec![share("5")],
            ending: Conclusion::RolledBack,
            why: "the 5% step failed".into(),
        },
    ] {
        let store = MemoryStore::default();
        let record = record_at(&plan, Some(phase.clone()), &[], Webhooks::default());
        let done = drive(&store, "b", record, &addr).await.unwrap();
        let (ending, why) = ended(&done);
        assert_eq!(ending, Conclusion::Overridden, "{phase:?}: {why}");
        assert!(
            why.contains("taking over the ")
                && why.contains(
                    "(service-splitter greeter) holds the Lambda at 30%, neither the stored intent's"
                )
                && why.ends_with("someone else changed the split. Nothing was written"),
            "{why}"
        );
        assert!(weights(&consul).is_empty(), "{phase:?}: nothing written");
    }
}

#[tokio::test]
async fn a_rollback_taken_over_is_finished_once() {
    for (holding, writes) in [(50.0, vec![0.0]), (0.0, vec![])] {
        let (consul, addr, url, _) = stack(Some(holding)).await;
        let plan = plan("5,50", &url);
        let phase = Phase::RollingBack {
            to: share("0"),
            from: vec![share("50")],
            ending: Conclusion::RolledBack,
            why: "the 50% step failed (slow); rolled back to 0%".into(),
        };
        let record = record_at(&plan, Some(phase), &[], Webhooks::default());
        let done = drive(&MemoryStore::default(), "b", record, &addr).await.unwrap();
        assert_eq!(ended(&done).0, Conclusion::RolledBack);
        assert_eq!(weights(&consul), writes, "the split held {holding}");
    }
}

#[tokio::test]
async fn a_leader_past_its_lease_writes_nothing() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let plan = plan("5", &url);
    let store = MemoryStore::default();
    let record = record_at(&plan, Some(writing(0, "5", "0")), &[], Webhooks::default());
    let version = store.write(&record.encode(), 0).await.unwrap();
    let mut lease = store.campaign(&candidate("a")).await.unwrap().unwrap();
    // Paused (SIGSTOP, a long GC) for longer than its lease since its
    // last renew.
    lease.renewed = Instant::now()
        .checked_sub(lease.ttl + Duration::from_secs(1))
        .unwrap();
    let lead = Leadership::new(lease);
    let stop = drive_led(&store, &lead, &addr, record, version)
        .await
        .unwrap_err();
    assert!(
        matches!(&stop, Stop::LostLead(why) if why.contains("ran out by this process's clock")),
        "{stop:?}"
    );
    assert!(
        consul
            .lock()
            .unwrap()
            .log
            .iter()
            .all(|l| !l.request.starts_with("PUT"))
    );
    assert_eq!(
        store.read().await.unwrap().unwrap().version,
        version,
        "nothing stored"
    );
}

/// Waits (at most a minute) until the stored record satisfies `done`.
async fn until(store: &MemoryStore, what: &str, done: impl Fn(&Record) -> bool) -> Record {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    loop {
        if let Some(stored) = store.read().await.unwrap() {
            let record = Record::decode(&stored.value, "memory").unwrap();
            if done(&record) {
                return record;
            }
            seen = stored.version;
        }
        assert!(Instant::now() < deadline, "never {what}");
        store.watch(seen, Duration::from_secs(1)).await.unwrap();
    }
}

#[tokio::test]
async fn a_failover_mid_window_is_judged_from_the_stored_start_with_nothing_written_twice() {
    failover_mid_window(
        "mid-window",
        |phase| matches!(phase, Phase::Holding { .. }),
        |done| &done.steps[0].window,
    )
    .await;
}

#[tokio::test]
async fn a_failover_mid_baseline_is_judged_from_the_stored_start() {
    failover_mid_window(
        "mid-baseline",
        |phase| matches!(phase, Phase::Baseline { .. }),
        |done| &done.baseline.as_ref().expect("the baseline, judged").window,
    )
    .await;
}

/// Leader a drives until a window (the one `during` matches) has
/// counted its start, and dies; b takes over and completes, the window
/// (`window_of` the ended record) counted from a's first count.
async fn failover_mid_window(
    what: &str,
    during: fn(&Phase) -> bool,
    window_of: fn(&Record) -> &migration::judge::Window,
) {
    let (consul, addr, _, _) = stack(Some(0.0)).await;
    let (prometheus, prometheus_url) = prometheus_double::serve(consul.clone(), 4).await;
    let mut plan = plan("20,100", "http://127.0.0.1:9/");
    plan.judge = Judge::Prometheus {
        url: prometheus_url.parse().unwrap(),
        max_time: Duration::from_secs(3),
    };
    plan.probes = false;
    plan.hold.min_time = Duration::from_millis(600);
    let store = Arc::new(MemoryStore::default());
    let record = record_at(&plan, None, &[], Webhooks::default());
    store.write(&record.encode(), 0).await.unwrap();

    // Leader a drives until the window has counted its start, then dies
    // (kill -9: its task is dropped, nothing more done).
    let lead_a = Arc::new(Leadership::new(
        store.campaign(&candidate("a")).await.unwrap().unwrap(),
    ));
    let a = {
        let (store, lead, addr) = (store.clone(), lead_a.clone(), addr.clone());
        tokio::spawn(async move {
            let (record, version) = intent::read(&*store).await.unwrap();
            drive_led(&store, &lead, &addr, record, version).await
        })
    };
    let mid = until(&store, what, |r| {
        during(&r.machine.phase) && r.counted_from.is_some()
    })
    .await;
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());
    let counted_from = mid.counted_from.unwrap();
    let taken_over_at = record::now();
    let asked_before_b = prometheus.lock().unwrap().queries.len();
    // Its lease runs out: b leads.
    Arc::try_unwrap(lead_a).unwrap().resign(&*store).await.unwrap();
    let (record, version) = intent::read(&*store).await.unwrap();
    let lead_b = Leadership::new(store.campaign(&candidate("b")).await.unwrap().unwrap());
    let done = drive_led(&store, &lead_b, &addr, record, version).await.unwrap();

    assert_eq!(ended(&done).0, Conclusion::Succeeded, "{:?}", done.history);
    assert_eq!(weights(&consul), [20.0, 100.0], "nothing written twice");
    let by: Vec<&str> = done.history.iter().map(|t| t.by.as_str()).collect();
    assert!(by.contains(&"a") && by.contains(&"b"), "{by:?}");
    // The window counts from a's first count: what the mesh carried
    // before b took over is in it, and nothing before a's count is.
    let window = window_of(&done);
    let prometheus = prometheus.lock().unwrap();
    // b asked for the counters at a's first count (to the millisecond, as
    // the query's `time` goes), not at a first count of its own.
    let at = |t: f64| format!("{t:.3}");
    assert!(
        prometheus.queries[asked_before_b..]
            .iter()
            .any(|(_, t)| at(*t) == at(counted_from)),
        "b never counted from a's start, {}",
        at(counted_from)
    );
    let total = |at: f64| {
        prometheus
            .scrapes
            .iter()
            .rev()
            .find(|s| s.at <= at)
            .map_or(0, |s| s.greeter.requests + s.lambda.requests)
    };
    let before_b = total(taken_over_at) - total(counted_from);
    let at_most = total(record::now()) - total(counted_from);
    assert!(
        window.requests >= before_b && window.requests <= at_most,
        "{} requests counted; {before_b} before b took over, {at_most} since a's count",
        window.requests
    );
    assert!(prometheus.problems.is_empty(), "{:?}", prometheus.problems);
}

/// A controller (migration::controller::run) on `store` over the Consul
/// double at `addr`, until the returned sender is dropped.
fn controller(
    store: Arc<MemoryStore>,
    addr: String,
    shared: Arc<Shared>,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let local = Local {
            ingress: None,
            prometheus: None,
            target: TargetKind::Consul,
        };
        let target = move || consul_target(&addr, Some(TOKEN));
        let shutdown = async move {
            let _ = stopped.await;
        };
        migration::controller::run(&*store, &candidate("c"), target, &shared, &local, shutdown).await;
    });
    stop
}

#[tokio::test]
async fn people_pause_resume_approve_and_abort_through_the_store() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let plan = plan("5,50,100", &url);
    let store = Arc::new(MemoryStore::default());
    intent::start(&*store, &record_at(&plan, None, &["100"], Webhooks::default()))
        .await
        .unwrap();
    // Paused before the controller even began: the baseline is held,
    // nothing is written.
    intent::request(&*store, Verb::Pause, "bob", record::now())
        .await
        .unwrap();
    let shared = Arc::new(Shared::default());
    let _stop = controller(store.clone(), addr.clone(), shared.clone());
    let paused = until(&store, "paused", |r| {
        matches!(r.machine.phase, Phase::Paused { step: 0 })
    })
    .await;
    assert!(paused.baseline.is_some());
    assert!(weights(&consul).is_empty(), "a pause blocks moving forward");
    assert!(
        paused.history.iter().any(|t| t.what == "pause by bob"),
        "{:?}",
        paused.history
    );

    intent::request(&*store, Verb::Resume, "bob", record::now())
        .await
        .unwrap();
    let waiting = until(&store, "awaiting approval", |r| {
        matches!(r.machine.phase, Phase::AwaitingApproval { step: 2 })
    })
    .await;
    assert_eq!(waiting.steps.len(), 2);
    assert_eq!(weights(&consul), [5.0, 50.0], "100 % waits for approval");
    let status = shared.record.borrow().clone().unwrap();
    assert_eq!(
        status.machine.phase, waiting.machine.phase,
        "/status sees what is stored"
    );

    intent::request(&*store, Verb::Approve, "carol", record::now())
        .await
        .unwrap();
    let done = until(&store, "ended", Record::is_ended).await;
    assert_eq!(ended(&done).0, Conclusion::Succeeded, "{:?}", done.history);
    assert_eq!(weights(&consul), [5.0, 50.0, 100.0]);
    assert!(done.history.iter().any(|t| t.what == "approve by carol"));
    // Nothing left to approve.
    let refused = intent::request(&*store, Verb::Approve, "carol", record::now())
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the migration has ended (succeeded): nothing to approve"
    );
}

#[tokio::test]
async fn abort_rolls_back_to_0_at_once() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let mut plan = plan("5,50,100", &url);
    plan.rollback = Rollback::Previous;
    let store = Arc::new(MemoryStore::default());
    intent::start(&*store, &record_at(&plan, None, &["50"], Webhooks::default()))
        .await
        .unwrap();
    let _stop = controller(store.clone(), addr, Arc::new(Shared::default()));
    until(&store, "awaiting approval", |r| {
        matches!(r.machine.phase, Phase::AwaitingApproval { step: 1 })
    })
    .await;
    intent::request(&*store, Verb::Abort, "dave", record::now())
        .await
        .unwrap();
    let done = until(&store, "ended", Record::is_ended).await;
    assert_eq!(
        ended(&done),
        (Conclusion::Aborted, "aborted: back to 0%".to_owned())
    );
    assert_eq!(
        weights(&consul),
        [5.0, 0.0],
        "back to 0, not to the last passed step"
    );
}

/// A webhook double: answers `status(n)` to its n-th call (from 0), and
/// keeps each body.
async fn webhook(status: fn(usize) -> u16) -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let kept = bodies.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            kept.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            async move { axum::http::StatusCode::from_u16(status(n)).unwrap() }
        }),
    );
    (format!("http://{}/hook", double::serve(app).await), bodies)
}

#[tokio::test]
async fn the_confirm_webhook_holds_a_step_until_it_says_yes() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let plan = plan("5", &url);
    let (hook, asked) = webhook(|n| if n == 0 { 503 } else { 200 }).await;
    let store = Arc::new(MemoryStore::default());
    let webhooks = Webhooks {
        confirm_url: Some(hook),
        event_url: None,
    };
    intent::start(&*store, &record_at(&plan, None, &[], webhooks))
        .await
        .unwrap();
    let _stop = controller(store.clone(), addr, Arc::new(Shared::default()));
    let waiting = until(&store, "refused", |r| {
        matches!(&r.machine.phase, Phase::Confirming { refused: Some(_), .. })
    })
    .await;
    let text = migration::status::Status::of(&waiting, None, None, record::now()).render();
    assert!(
        text.contains("waiting for: the confirm webhook: http://"),
        "{text}"
    );
    assert!(text.contains("answered 503 Service Unavailable"), "{text}");
    assert!(weights(&consul).is_empty(), "nothing written while refused");
    let done = until(&store, "ended", Record::is_ended).await;
    assert_eq!(ended(&done).0, Conclusion::Succeeded);
    assert_eq!(weights(&consul), [5.0]);
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0]["name"], "greeter");
    assert_eq!(asked[0]["phase"], "Waiting");
    assert_eq!(asked[0]["metadata"]["share"], "5");
}

#[tokio::test]
async fn events_are_told_in_the_background_and_their_failures_hold_nothing_up() {
    let (_, addr, url, _) = stack(Some(0.0)).await;
    let plan = plan("5,50", &url);
    // One that answers, and one that fails every call.
    let (told, events) = webhook(|_| 200).await;
    let (failing, _) = webhook(|_| 500).await;
    for (url, fails) in [(told, false), (failing, true)] {
        let store = Arc::new(MemoryStore::default());
        let webhooks = Webhooks {
            confirm_url: None,
            event_url: Some(url),
        };
        intent::start(&*store, &record_at(&plan, None, &[], webhooks))
            .await
            .unwrap();
        let shared = Arc::new(Shared::default());
        let _stop = controller(store.clone(), addr.clone(), shared.clone());
        let done = until(&store, "ended", Record::is_ended).await;
        assert_eq!(
            ended(&done).0,
            Conclusion::Succeeded,
            "a failing event URL holds nothing up"
        );
        if fails {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !shared.metrics.encode().lines().any(|l| {
                l.starts_with("migration_webhook_failures_total{webhook=\"event\"}") && !l.ends_with(" 0")
            }) {
                assert!(Instant::now() < deadline, "{}", shared.metrics.encode());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events.lock().unwrap().iter().any(|e| e["phase"] == "Succeeded") {
        assert!(Instant::now() < deadline, "{:?}", events.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = events.lock().unwrap();
    let phases: Vec<&str> = events
        .iter()
        .map(|e| e["metadata"]["phase"].as_str().unwrap())
        .collect();
    for phase in ["baseline", "writing", "holding", "succeeded"] {
        assert!(phases.contains(&phase), "{phases:?}");
    }
    assert!(
        events
            .iter()
            .all(|e| e["name"] == "greeter" && e["namespace"] == "greeter-mesh")
    );
}

#[tokio::test]
async fn a_stored_migration_that_cannot_be_read_is_named_and_never_written_over() {
    let (_, addr, _, _) = stack(Some(0.0)).await;
    let store = Arc::new(MemoryStore::default());
    store.write(br#"{"schema": 2, "machine": {}}"#, 0).await.unwrap();
    let shared = Arc::new(Shared::default());
    let _stop = controller(store.clone(), addr, shared.clone());
    let mut problems = shared.problem.subscribe();
    let problem = tokio::time::timeout(Duration::from_secs(60), problems.wait_for(Option::is_some))
        .await
        .unwrap()
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!(
        problem,
        "not acting: this process's memory cannot be read: it is of schema 2, from a newer split (this one reads 1): upgrade this controller; nothing was written over it"
    );
    let stored = store.read().await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.value.as_slice()),
        (1, &br#"{"schema": 2, "machine": {}}"#[..])
    );
}

#[tokio::test]
async fn abort_drops_a_window_in_progress_and_pause_lets_it_finish() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let mut plan = plan("5,50", &url);
    // Windows that last until something else happens.
    plan.hold.min_time = Duration::from_secs(600);
    plan.hold.max_requests = migration::probe::MAX_REQUESTS;
    plan.rate = Some(200);
    let store = Arc::new(MemoryStore::default());
    intent::start(&*store, &record_at(&plan, None, &[], Webhooks::default()))
        .await
        .unwrap();
    let shared = Arc::new(Shared::default());
    let _stop = controller(store.clone(), addr, shared.clone());
    until(&store, "holding", |r| {
        matches!(r.machine.phase, Phase::Holding { step: 0, .. })
    })
    .await;
    // /status shows the window so far: each destination's counts.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shared
        .progress
        .so_far()
        .is_some_and(|line| line.starts_with("step 1/2 lambda 5%") && line.contains(" ok (100.00%)"))
    {
        assert!(Instant::now() < deadline, "{:?}", shared.progress.so_far());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A pause is noted; the window goes on.
    intent::request(&*store, Verb::Pause, "bob", record::now())
        .await
        .unwrap();
    let paused = until(&store, "paused", |r| r.machine.paused).await;
    assert!(matches!(paused.machine.phase, Phase::Holding { step: 0, .. }));
    assert!(paused.steps.is_empty(), "not judged yet");
    // An abort does not wait for it.
    intent::request(&*store, Verb::Abort, "dave", record::now())
        .await
        .unwrap();
    let done = until(&store, "ended", Record::is_ended).await;
    assert_eq!(
        ended(&done),
        (Conclusion::Aborted, "aborted: back to 0%".to_owned())
    );
    assert!(done.steps.is_empty(), "the window was dropped, not judged");
    assert_eq!(weights(&consul), [5.0, 0.0]);
}

#[tokio::test]
async fn a_standby_exports_the_stored_migration_timed_from_its_last_transition() {
    let (_consul, addr, url, _) = stack(Some(0.0)).await;
    let plan = plan("5,50,100", &url);
    let store = Arc::new(MemoryStore::default());
    let holding = Phase::Holding {
        step: 1,
        share: share("50"),
        started: record::now(),
    };
    let record = record_at(&plan, Some(holding), &[], Webhooks::default());
    // Nothing happened since it was stored: its start is its last moment.
    let stored_at = record.created;
    intent::start(&*store, &record).await.unwrap();
    // Someone else leads: this controller stays a standby.
    let _other = store.campaign(&candidate("a")).await.unwrap().unwrap();
    let shared = Arc::new(Shared::default());
    let _stop = controller(store.clone(), addr, shared.clone());

    let deadline = Instant::now() + Duration::from_secs(30);
    let wanted = [
        "migration_phase{phase=\"holding\"} 1".to_owned(),
        "migration_step 2".to_owned(),
        "migration_lambda_share_ratio 0.5".to_owned(),
        "migration_leader 0".to_owned(),
    ];
    loop {
        let text = shared.metrics.encode();
        let last = text
            .lines()
            .find_map(|l| l.strip_prefix("migration_last_transition_timestamp_seconds "))
            .and_then(|v| v.parse::<f64>().ok());
        if wanted.iter().all(|w| text.lines().any(|l| l == w)) && last == Some(stored_at) {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
