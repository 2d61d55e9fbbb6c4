//! The Consul store against the Consul double: the lead taken, kept and
//! lost as SYSTEM.md says Consul gives it (a session's lock, renew 404
//! once the session is gone, the lock-delay after it), fenced writes
//! refused once the lock is someone else's, a lost race told from a lost
//! lock, 403s naming the missing rule, and what the double itself refuses
//! as Consul does. Time moves by the double's clock, never by a sleep.

use std::time::Duration;

use hyper::{Method, StatusCode};
use migration::store::consul::{ConsulStore, LEADER_KEY, STATE_KEY};
use migration::store::{Candidate, Lease, LeaseToken, Store, StoreError, Stored};
use serde_json::{Value, json};

use crate::consul_double::acl::{Rule, controller_rules};
use crate::consul_double::{self, CONTROLLER_TOKEN, NODE, Shared, client};

const TTL: Duration = Duration::from_secs(10);
const LOCK_DELAY: Duration = Duration::from_secs(15);

fn store_as(addr: &str, token: Option<&str>) -> ConsulStore {
    ConsulStore::with_client(client(addr, token), NODE.to_owned(), LOCK_DELAY)
}

fn store(addr: &str) -> ConsulStore {
    store_as(addr, Some(CONTROLLER_TOKEN))
}

fn me(id: &str) -> Candidate {
    Candidate {
        id: id.to_owned(),
        ttl: TTL,
    }
}

async fn double() -> (Shared, String) {
    let consul = consul_double::Consul::holding(None);
    let addr = consul_double::serve(consul.clone()).await;
    (consul, addr)
}

fn session(lease: &Lease) -> String {
    match &lease.token {
        LeaseToken::Consul { session } => session.clone(),
        other => panic!("not a Consul lease: {other:?}"),
    }
}

/// Past a session's death (2 x TTL unrenewed) and its lock-delay.
const PAST_LEASE: Duration = Duration::from_secs(2 * 10 + 15);

fn problems(consul: &Shared) -> Vec<String> {
    consul.lock().unwrap().problems.clone()
}

#[tokio::test]
async fn one_leads_with_a_session_bound_to_the_named_node_and_no_health_check() {
    let (consul, addr) = double().await;
    let (a, b) = (store(&addr), store(&addr));

    let lease = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    let standby = b.campaign(&me("ctrl-b")).await.unwrap();
    let standby_again = b.campaign(&me("ctrl-b")).await.unwrap();
    let version = a
        .write_fenced(&lease, b"{\"phase\":\"baseline\"}", 0)
        .await
        .unwrap();

    assert!(standby.is_none() && standby_again.is_none());
    assert_eq!(
        a.read().await.unwrap(),
        Some(Stored {
            value: b"{\"phase\":\"baseline\"}".to_vec(),
            version
        })
    );
    let leader = b.leader().await.unwrap().unwrap();
    assert_eq!(leader.id, "ctrl-a");
    assert!(leader.detail.contains(&session(&lease)), "{}", leader.detail);
    let held = consul.lock().unwrap();
    let creates: Vec<&Value> = held
        .log
        .iter()
        .filter(|l| l.request == "PUT /v1/session/create")
        .map(|l| l.body.as_ref().unwrap())
        .collect();
    // One session each: the standby's second campaign renews the session
    // its first one made rather than leaving it to expire.
    assert_eq!(creates.len(), 2, "{creates:?}");
    assert_eq!(
        creates[0],
        &json!({
            "Name": "greeter-mesh migration controller ctrl-a",
            "Node": "consul-server",
            "NodeChecks": [],
            "TTL": "10000ms",
            "LockDelay": "15000ms",
            "Behavior": "release",
        })
    );
    assert!(
        held.sessions
            .values()
            .all(|s| s.checks_sent && s.checks.is_empty())
    );
    assert_eq!(held.requests("PUT /v1/session/renew/").len(), 1);
    assert_eq!(held.kv_value(LEADER_KEY), Some(&b"ctrl-a"[..]));
    assert!(held.problems.is_empty(), "{:?}", held.problems);
}

#[tokio::test]
async fn a_renew_answered_404_loses_the_lead_and_the_lock_stays_closed_for_the_lock_delay() {
    let (consul, addr) = double().await;
    let (a, b) = (store(&addr), store(&addr));
    let mut lease = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    a.renew(&mut lease).await.unwrap();

    // Unrenewed for 2 x TTL: Consul lets the session die.
    consul_double::Consul::advance(&consul, TTL * 2);
    let lost = a.renew(&mut lease).await.unwrap_err();

    assert!(
        matches!(&lost, StoreError::LeaseLost { why, .. } if why.contains("answered 404")),
        "{lost}"
    );
    assert_eq!(b.leader().await.unwrap(), None);
    // The lock-delay: nobody takes the lock for 15 s after its holder died.
    assert!(b.campaign(&me("ctrl-b")).await.unwrap().is_none());
    consul_double::Consul::advance(&consul, LOCK_DELAY);
    let taken = b.campaign(&me("ctrl-b")).await.unwrap().unwrap();
    assert_eq!(b.leader().await.unwrap().unwrap().id, "ctrl-b");
    assert_ne!(session(&taken), session(&lease));
    assert!(problems(&consul).is_empty());
}

#[tokio::test]
async fn a_fenced_write_after_the_lease_moved_is_refused_by_check_session() {
    let (consul, addr) = double().await;
    let (a, b) = (store(&addr), store(&addr));
    let stale = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    let first = a.write_fenced(&stale, b"a1", 0).await.unwrap();
    // ctrl-a stops (SIGSTOP, a long GC) past its session and the lock-delay.
    consul_double::Consul::advance(&consul, PAST_LEASE);
    let lease = b.campaign(&me("ctrl-b")).await.unwrap().unwrap();
    let second = b.write_fenced(&lease, b"b1", first).await.unwrap();

    // ctrl-a wakes and writes at the version it would see: only the check
    // on the lock fails, and it is named as a lost lead.
    let refused = a.write_fenced(&stale, b"a2", second).await.unwrap_err();

    assert!(
        matches!(&refused, StoreError::LeaseLost { why, .. }
            if why.contains(&session(&stale)) && why.contains("failed session check")),
        "{refused}"
    );
    assert_eq!(
        a.read().await.unwrap(),
        Some(Stored {
            value: b"b1".to_vec(),
            version: second
        })
    );
    // At its old version both operations fail: the lost lock still wins.
    let refused = a.write_fenced(&stale, b"a2", first).await.unwrap_err();
    assert!(matches!(refused, StoreError::LeaseLost { .. }), "{refused}");
    assert!(problems(&consul).is_empty());
}

#[tokio::test]
async fn a_lost_cas_is_a_conflict_not_a_lost_lead() {
    let (consul, addr) = double().await;
    let (leader, person) = (store(&addr), store(&addr));
    let lease = leader.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    let first = leader.write_fenced(&lease, b"step 1", 0).await.unwrap();
    // Someone pauses the migration meanwhile.
    let paused = person.write(b"paused", first).await.unwrap();

    let conflict = leader.write_fenced(&lease, b"step 2", first).await.unwrap_err();

    assert_eq!(
        conflict,
        StoreError::Conflict {
            store: leader.describe(),
            expected: first,
            now: Some(paused)
        }
    );
    assert_eq!(
        person.write(b"again", 0).await,
        Err(StoreError::Conflict {
            store: person.describe(),
            expected: 0,
            now: Some(paused)
        })
    );
    assert_eq!(leader.read().await.unwrap().unwrap().value, b"paused");
    assert!(problems(&consul).is_empty());
}

#[tokio::test]
async fn a_lock_released_under_a_live_session_is_seen_at_the_next_renew() {
    let (consul, addr) = double().await;
    let a = store(&addr);
    let mut lease = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    // An operator releases the lock (`consul kv put -release`).
    let id = session(&lease);
    let released = client(&addr, Some(consul_double::TOKEN))
        .kv_put(LEADER_KEY, b"", migration::consul::kv::KvWrite::Release(&id))
        .await
        .unwrap();
    assert!(released);

    let lost = a.renew(&mut lease).await.unwrap_err();

    assert!(
        matches!(&lost, StoreError::LeaseLost { why, .. } if why.contains("was released")),
        "{lost}"
    );
    // A release starts no lock-delay, and the live session is used again.
    let again = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    assert_eq!(session(&again), id);
    assert_eq!(consul.lock().unwrap().sessions.len(), 1);
}

#[tokio::test]
async fn resign_releases_then_destroys_and_the_next_leads_at_once() {
    let (consul, addr) = double().await;
    let (a, b) = (store(&addr), store(&addr));
    let lease = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    let id = session(&lease);

    a.resign(lease).await.unwrap();
    let next = b.campaign(&me("ctrl-b")).await.unwrap();

    assert!(next.is_some(), "no lock-delay after a clean stop");
    let held = consul.lock().unwrap();
    let mine: Vec<(String, u16)> = held
        .requests("PUT")
        .into_iter()
        .filter(|(r, _)| r.contains(&id))
        .collect();
    assert_eq!(
        mine,
        [
            (format!("PUT /v1/kv/{LEADER_KEY}?acquire={id}"), 200),
            (format!("PUT /v1/kv/{LEADER_KEY}?release={id}"), 200),
            (format!("PUT /v1/session/destroy/{id}"), 200),
        ]
    );
    assert!(!held.sessions.contains_key(&id));
}

#[tokio::test]
async fn a_watch_returns_on_a_change_on_its_wait_and_at_once_when_the_index_went_backwards() {
    let (consul, addr) = double().await;
    let store = std::sync::Arc::new(store(&addr));
    let watcher = store.clone();
    let watched = tokio::spawn(async move { watcher.watch(0, Duration::from_secs(60)).await });
    // The watch is blocked in Consul before the write.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while consul.lock().unwrap().waiting == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the watch never blocked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let version = store.write(b"one", 0).await.unwrap();

    let seen = tokio::time::timeout(Duration::from_secs(10), watched)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert_eq!(seen.map(|s| s.version), Some(version));
    let unchanged = store.watch(version, Duration::from_millis(300)).await.unwrap();
    assert_eq!(unchanged.map(|s| s.version), Some(version));
    // A version from before a restore: answered at once, not waited past.
    let restored = tokio::time::timeout(
        Duration::from_secs(10),
        store.watch(version + 1000, Duration::from_secs(60)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(restored.map(|s| s.version), Some(version));
    assert!(problems(&consul).is_empty(), "{:?}", problems(&consul));
}

/// The controller's policy without the rules on `resource`.
fn without(resource: &str) -> Vec<Rule> {
    controller_rules(NODE)
        .into_iter()
        .filter(|r| r.resource != resource)
        .collect()
}

#[tokio::test]
async fn a_token_without_the_session_rule_is_refused_naming_it() {
    let (consul, addr) = double().await;
    let secret = "1d2c3b4a-no-session-rule";
    consul_double::Consul::add_token(&consul, secret, "ab12-no-session", Some(without("session")));

    let err = store_as(&addr, Some(secret))
        .campaign(&me("ctrl-a"))
        .await
        .unwrap_err();

    let StoreError::Forbidden { request, detail, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(request, "PUT /v1/session/create");
    assert_eq!(
        detail,
        "Permission denied: the token (AccessorID ab12-no-session) lacks session:write on \"consul-server\": \
         its policy needs session \"consul-server\" { policy = \"write\" }"
    );
}

#[tokio::test]
async fn a_token_without_the_key_rule_is_refused_naming_it_on_every_call() {
    let (consul, addr) = double().await;
    let secret = "5e6f7a8b-no-key-rule";
    consul_double::Consul::add_token(&consul, secret, "cd34-no-key", Some(without("key")));
    let store = store_as(&addr, Some(secret));
    let rule = "its policy needs key_prefix \"greeter-mesh/\" { policy = ";

    let campaign = store.campaign(&me("ctrl-a")).await.unwrap_err();
    let read = store.read().await.unwrap_err();
    let write = store.write(b"x", 0).await.unwrap_err();

    for (err, lacks) in [
        (&campaign, format!("lacks key:write on \"{LEADER_KEY}\"")),
        (
            &read,
            "lacks key:read on \"greeter-mesh/migration/state\"".to_owned(),
        ),
        (&write, format!("lacks key:write on \"{STATE_KEY}\"")),
    ] {
        assert!(
            matches!(err, StoreError::Forbidden { detail, .. } if detail.contains(&lacks) && detail.contains(rule)),
            "{err}"
        );
    }
    // The transaction was refused by its pre-check (409), named all the same.
    assert!(
        consul
            .lock()
            .unwrap()
            .requests("PUT /v1/txn")
            .iter()
            .all(|(_, status)| *status == 409)
    );
}

#[tokio::test]
async fn an_unknown_token_and_no_token_are_each_named_as_such() {
    let (_consul, addr) = double().await;

    let unknown = store_as(&addr, Some("deleted-token")).read().await.unwrap_err();
    let anonymous = store_as(&addr, None).campaign(&me("ctrl-a")).await.unwrap_err();

    assert!(
        matches!(&unknown, StoreError::Forbidden { detail, .. } if detail.contains("knows no such token (\"ACL not found\")")),
        "{unknown}"
    );
    assert!(
        matches!(&anonymous, StoreError::Forbidden { detail, .. }
            if detail.contains("no token was sent") && detail.contains("session:write on \"consul-server\"")),
        "{anonymous}"
    );
}

#[tokio::test]
async fn the_controllers_own_token_may_do_all_the_store_does() {
    let (consul, addr) = double().await;
    let a = store(&addr);
    let mut lease = a.campaign(&me("ctrl-a")).await.unwrap().unwrap();
    a.renew(&mut lease).await.unwrap();
    let version = a.write_fenced(&lease, b"x", 0).await.unwrap();
    a.watch(version, Duration::ZERO).await.unwrap();
    a.leader().await.unwrap().unwrap();
    a.resign(lease).await.unwrap();

    let refused: Vec<(String, u16)> = consul
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.status == 403)
        .map(|l| (l.request.clone(), l.status))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert!(problems(&consul).is_empty(), "{:?}", problems(&consul));
}

#[tokio::test]
async fn a_value_over_512_kib_is_refused_before_it_is_sent() {
    let (consul, addr) = double().await;
    let store = store(&addr);

    let err = store.write(&vec![b'x'; 512 * 1024 + 1], 0).await.unwrap_err();

    assert!(
        matches!(&err, StoreError::Forbidden { detail, .. } if detail.contains("over Consul's limit of 524288")),
        "{err}"
    );
    assert!(consul.lock().unwrap().requests("PUT /v1/txn").is_empty());
}

#[tokio::test]
async fn a_node_consul_does_not_know_is_named_with_its_variable() {
    let (_consul, addr) = double().await;
    let store = ConsulStore::with_client(
        client(&addr, Some(consul_double::TOKEN)),
        "no-such-node".to_owned(),
        LOCK_DELAY,
    );

    let err = store.campaign(&me("ctrl-a")).await.unwrap_err();

    assert!(
        matches!(&err, StoreError::Unreachable { cause, .. }
            if cause.contains("Missing node registration") && cause.contains("CONSUL_SESSION_NODE=no-such-node")),
        "{err}"
    );
}

/// One raw request to the double.
async fn raw(addr: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
    let (status, body) = client(addr, Some(consul_double::TOKEN))
        .call(method, path, body.map(|b| b.to_string().into_bytes()))
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_double_refuses_what_consul_refuses() {
    let (consul, addr) = double().await;
    consul
        .lock()
        .unwrap()
        .nodes
        .insert("ecs-task-node".to_owned(), Vec::new());
    let create = |body: Value| raw(&addr, Method::PUT, "/v1/session/create", Some(body));

    // An omitted NodeChecks keeps serfHealth, which this node lacks.
    let omitted = create(json!({ "Node": "ecs-task-node", "TTL": "10s" })).await;
    let explicit = create(json!({ "Node": "ecs-task-node", "TTL": "10s", "NodeChecks": [] })).await;
    let short = create(json!({ "Node": NODE, "TTL": "5s", "NodeChecks": [] })).await;
    let both = raw(
        &addr,
        Method::PUT,
        "/v1/kv/greeter-mesh/x?cas=0&acquire=abc",
        None,
    )
    .await;
    let unknown_session = raw(&addr, Method::PUT, "/v1/kv/greeter-mesh/x?acquire=abc", None).await;
    let renew_gone = raw(&addr, Method::PUT, "/v1/session/renew/abc", None).await;
    let config_in_txn = raw(
        &addr,
        Method::PUT,
        "/v1/txn",
        Some(json!([{ "ConfigEntry": { "Kind": "service-splitter", "Name": "greeter" } }])),
    )
    .await;
    let large = client(&addr, Some(consul_double::TOKEN))
        .call(
            Method::PUT,
            "/v1/kv/greeter-mesh/big",
            Some(vec![b'x'; 512 * 1024 + 1]),
        )
        .await
        .unwrap();

    assert_eq!(
        omitted,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Missing check 'serfHealth' registration".to_owned()
        )
    );
    assert_eq!(explicit.0, StatusCode::OK, "{}", explicit.1);
    assert_eq!(
        short,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]".to_owned()
        )
    );
    assert_eq!(both.0, StatusCode::BAD_REQUEST);
    assert!(both.1.starts_with("Conflicting flags: "), "{}", both.1);
    assert_eq!(
        unknown_session,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid session \"abc\"".to_owned()
        )
    );
    assert_eq!(
        renew_gone,
        (StatusCode::NOT_FOUND, "Session id 'abc' not found".to_owned())
    );
    assert_eq!(
        config_in_txn.0,
        StatusCode::OK,
        "Consul drops the operation, unapplied"
    );
    assert_eq!(large.0, StatusCode::PAYLOAD_TOO_LARGE);
    let noted = problems(&consul);
    assert!(
        noted.len() == 1 && noted[0].contains("a config entry cannot join a transaction"),
        "{noted:?}"
    );
}

#[tokio::test]
async fn a_ttl_under_the_servers_minimum_is_named_and_a_lower_minimum_takes_it() {
    let (consul, addr) = double().await;
    let short = Candidate {
        id: "ctrl-a".to_owned(),
        ttl: Duration::from_secs(2),
    };

    let refused = store(&addr).campaign(&short).await.unwrap_err();
    consul.lock().unwrap().session_ttl_min = Duration::from_secs(1);
    let lease = store(&addr).campaign(&short).await.unwrap().unwrap();

    assert!(
        matches!(&refused, StoreError::Unreachable { cause, .. }
            if cause.contains("Invalid Session TTL '2000000000'") && cause.contains("CONTROLLER_LEASE_TTL")),
        "{refused}"
    );
    assert_eq!(lease.ttl, Duration::from_secs(2));
}
