//! The double's KV store, sessions and transactions, as Consul serves them
//! (`agent/kvs_endpoint.go`, `agent/session_endpoint.go`,
//! `agent/txn_endpoint.go`, `agent/consul/state/kvs.go`, `txn.go`,
//! `session.go`) and as SYSTEM.md sums them up:
//!
//! - KV: `ModifyIndex`, `LockIndex`, `Session`; `?cas=`, `?acquire=`,
//!   `?release=` (two of them: 400); values over 512 KiB: 413; blocking
//!   reads (`?index=&wait=`, at most 10 min); `X-Consul-Index` on every
//!   read, a missing key's being the KV table's.
//! - Sessions: `TTL` within `session_ttl_min` (10 s) to 24 h, expired at 2
//!   x TTL after the last renew; `LockDelay` (capped at 60 s) closes a lock
//!   its session held when the session is invalidated, `acquire` answering
//!   `false` meanwhile; `NodeChecks` (an omitted field keeps `serfHealth`,
//!   and a node without it fails the create); renew 404 once gone; destroy.
//! - `/v1/txn`: up to 64 operations applied all or none, 409 with
//!   `Errors[].OpIndex` when rolled back; an operation Consul does not know
//!   (a config entry) is dropped, as Consul drops it, and noted as a
//!   problem.
//!
//! Time is the double's [`Clock`]: real time plus what a test adds with
//! [`Consul::advance`], so a TTL of 10 s runs out at once, with no sleep.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::acl::{Access, Caller, Need, Rule, Token};
use super::{Consul, Logged, Shared};

/// Consul's `kv_max_value_size`.
pub const MAX_VALUE: usize = 512 * 1024;
/// Consul's cap on a blocking read's wait.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// Consul's cap on a lock-delay.
const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);
/// Consul's cap on a session's TTL.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// The double's time: real time since it started, plus what tests add.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    /// Added by [`Consul::advance`].
    pub offset: Duration,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            offset: Duration::ZERO,
        }
    }
}

impl Clock {
    /// Now, as a time since the double started.
    pub fn now(&self) -> Duration {
        self.start.elapsed() + self.offset
    }
}

/// A key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The value.
    pub value: Vec<u8>,
    /// Flags, as written.
    pub flags: u64,
    /// When the key was created.
    pub create_index: u64,
    /// When it was last written.
    pub modify_index: u64,
    /// How many times it was locked.
    pub lock_index: u64,
    /// The session holding its lock.
    pub session: Option<String>,
}

impl KvEntry {
    /// A key created at `index`, empty and unlocked.
    fn new(index: u64) -> Self {
        Self {
            value: Vec::new(),
            flags: 0,
            create_index: index,
            modify_index: index,
            lock_index: 0,
            session: None,
        }
    }

    fn json(&self, key: &str, with_value: bool) -> Value {
        let mut entry = json!({
            "LockIndex": self.lock_index,
            "Key": key,
            "Flags": self.flags,
            "Value": if with_value && !self.value.is_empty() { json!(BASE64.encode(&self.value)) } else { Value::Null },
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        });
        if let Some(session) = &self.session {
            entry["Session"] = json!(session);
        }
        entry
    }
}

/// A session.
#[derive(Debug, Clone)]
pub struct Session {
    /// For people.
    pub name: String,
    /// The node it binds to.
    pub node: String,
    /// The checks it depends on.
    pub checks: Vec<String>,
    /// Whether the create named its checks (`NodeChecks`, `Checks` or
    /// `ServiceChecks`) rather than leaving `serfHealth` in.
    pub checks_sent: bool,
    /// `None`: no TTL.
    pub ttl: Option<Duration>,
    /// As sent.
    pub ttl_text: String,
    /// After an invalidation, how long its locks stay closed.
    pub lock_delay: Duration,
    /// `release` or `delete`.
    pub behavior: String,
    /// When it dies unless renewed (2 x TTL after the last renew).
    pub expires: Option<Duration>,
    /// Consul's index at its creation.
    pub create_index: u64,
}

impl Session {
    fn json(&self, id: &str) -> Value {
        json!({
            "ID": id,
            "Name": self.name,
            "Node": self.node,
            "LockDelay": u64::try_from(self.lock_delay.as_nanos()).unwrap_or(u64::MAX),
            "Behavior": self.behavior,
            "TTL": self.ttl_text,
            "NodeChecks": self.checks,
            "ServiceChecks": Value::Null,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.create_index,
        })
    }
}

/// A duration as Go's `time.ParseDuration` reads it (`15s`, `1500ms`,
/// `1m30s`).
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration \"{text}\"");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{text}\""))?;
        let number: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("time: unknown unit \"{other}\" in duration \"{text}\"")),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// A duration as Go's `%v` prints a whole number of seconds: `10s`,
/// `24h0m0s`.
fn go_print(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec}s"),
        (h, min, sec) => format!("{h}h{min}m{sec}s"),
    }
}

fn query_text(query: &[(String, String)]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("?{}", parts.join("&"))
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn with_index(status: StatusCode, index: u64, body: String) -> Response {
    (status, [("X-Consul-Index", index.to_string())], body).into_response()
}

impl Consul {
    /// The next raft index.
    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Wakes blocking reads.
    fn notify(&self) {
        self.changed.send_replace(self.index);
    }

    /// The index a read of `key` answers: its `ModifyIndex`, or the KV
    /// table's for a missing key.
    fn key_index(&self, key: &str) -> u64 {
        self.kv.get(key).map_or(self.kv_index, |e| e.modify_index).max(1)
    }

    /// Sessions whose time has run out die, as the server's timers would
    /// kill them.
    pub fn expire(&mut self) {
        let now = self.clock.now();
        let dead: Vec<(String, Duration)> = self
            .sessions
            .iter()
            .filter_map(|(id, s)| s.expires.filter(|at| *at <= now).map(|at| (id.clone(), at)))
            .collect();
        for (id, at) in dead {
            self.invalidate_at(&id, at);
        }
    }

    /// A session dies now (destroyed): see [`Consul::invalidate_at`].
    pub fn invalidate(&mut self, id: &str) {
        let now = self.clock.now();
        self.invalidate_at(id, now);
    }

    /// A session dies at `at` (its timer, or a destroy): its locks are
    /// released (or its keys deleted) and closed for its lock-delay from
    /// then.
    pub fn invalidate_at(&mut self, id: &str, at: Duration) {
        let Some(session) = self.sessions.remove(id) else {
            return;
        };
        let index = self.next_index();
        let now = at;
        let delay = session.lock_delay.min(MAX_LOCK_DELAY);
        let held: Vec<String> = self
            .kv
            .iter()
            .filter(|(_, e)| e.session.as_deref() == Some(id))
            .map(|(k, _)| k.clone())
            .collect();
        for key in held {
            if session.behavior == "delete" {
                self.kv.remove(&key);
            } else if let Some(entry) = self.kv.get_mut(&key) {
                entry.session = None;
                entry.modify_index = index;
            }
            if !delay.is_zero() {
                self.lock_delays.insert(key, now + delay);
            }
            self.kv_index = index;
        }
        self.notify();
    }

    /// Moves the double's clock on, and lets the sessions that ran out die.
    pub fn advance(shared: &Shared, by: Duration) {
        let mut consul = shared.lock().unwrap();
        consul.clock.offset += by;
        consul.expire();
    }

    /// Adds a token with `rules` (`None`: management).
    pub fn add_token(shared: &Shared, secret: &str, accessor: &str, rules: Option<Vec<Rule>>) {
        shared.lock().unwrap().tokens.insert(
            secret.to_owned(),
            Token {
                accessor: accessor.to_owned(),
                rules,
            },
        );
    }

    /// A key's value, as stored.
    pub fn kv_value(&self, key: &str) -> Option<&[u8]> {
        self.kv.get(key).map(|e| e.value.as_slice())
    }

    /// The requests whose line starts with `prefix`, with their statuses.
    pub fn requests(&self, prefix: &str) -> Vec<(String, u16)> {
        self.log
            .iter()
            .filter(|l| l.request.starts_with(prefix))
            .map(|l| (l.request.clone(), l.status))
            .collect()
    }

    fn log_request(&mut self, request: String, status: StatusCode, body: Option<Value>) {
        self.log.push(Logged {
            request,
            status: status.as_u16(),
            body,
        });
    }

    /// Notes a query parameter the double does not serve.
    fn known_params(&mut self, line: &str, query: &[(String, String)], known: &[&str]) {
        for (k, _) in query {
            if !known.contains(&k.as_str()) {
                self.problems.push(format!("{line}: unexpected parameter {k:?}"));
            }
        }
    }

    /// One read of a key, as `KVS.Get` answers it.
    fn kv_read(&self, key: &str, caller: &Caller) -> Result<(u64, Option<Value>), (StatusCode, String)> {
        // An unknown token is refused first; key:read is judged on the key.
        caller.allow(Need {
            resource: "key",
            name: Some(key),
            access: Access::Read,
        })?;
        Ok((
            self.key_index(key),
            self.kv.get(key).map(|e| json!([e.json(key, true)])),
        ))
    }
}

/// `GET /v1/kv/<key>`, blocking when asked.
pub async fn kv_get(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let line = format!("GET /v1/kv/{key}{}", query_text(&query));
    let blocking = {
        let mut consul = shared.lock().unwrap();
        consul.expire();
        consul.known_params(&line, &query, &["consistent", "stale", "index", "wait"]);
        if param(&query, "consistent").is_some() && param(&query, "stale").is_some() {
            let text = "Cannot specify ?stale with ?consistent, conflicting semantics.".to_owned();
            consul.log_request(line, StatusCode::BAD_REQUEST, None);
            return (StatusCode::BAD_REQUEST, text).into_response();
        }
        let index = match param(&query, "index").map(str::parse::<u64>) {
            None => 0,
            Some(Ok(index)) => index,
            Some(Err(_)) => {
                consul.log_request(line, StatusCode::BAD_REQUEST, None);
                return (StatusCode::BAD_REQUEST, "Invalid index").into_response();
            }
        };
        let wait = match param(&query, "wait").map(go_duration) {
            None => Duration::from_secs(300),
            Some(Ok(wait)) => wait.min(MAX_WAIT),
            Some(Err(_)) => {
                consul.log_request(line, StatusCode::BAD_REQUEST, None);
                return (StatusCode::BAD_REQUEST, "Invalid wait time").into_response();
            }
        };
        (index > 0 && consul.key_index(&key) <= index).then(|| (consul.changed.subscribe(), index, wait))
    };
    if let Some((mut changed, index, wait)) = blocking {
        // Counted while it waits, even if the client gives up first.
        struct Waiting(Shared);
        impl Drop for Waiting {
            fn drop(&mut self) {
                if let Ok(mut consul) = self.0.lock() {
                    consul.waiting -= 1;
                }
            }
        }
        shared.lock().unwrap().waiting += 1;
        let _waiting = Waiting(shared.clone());
        let (key, watched) = (key.clone(), shared.clone());
        let _ = tokio::time::timeout(wait, async move {
            while changed.changed().await.is_ok() {
                if watched.lock().unwrap().key_index(&key) > index {
                    return;
                }
            }
        })
        .await;
    }
    let mut consul = shared.lock().unwrap();
    consul.expire();
    let caller = Caller::of(&consul.tokens, &headers);
    let (status, response) = match consul.kv_read(&key, &caller) {
        Err((status, text)) => (status, (status, text).into_response()),
        Ok((index, Some(entries))) => (
            StatusCode::OK,
            with_index(StatusCode::OK, index, entries.to_string()),
        ),
        Ok((index, None)) => (
            StatusCode::NOT_FOUND,
            with_index(StatusCode::NOT_FOUND, index, String::new()),
        ),
    };
    consul.log_request(line, status, None);
    response
}

/// `PUT /v1/kv/<key>`: a set, or one of cas, acquire, release.
pub async fn kv_put(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mut consul = shared.lock().unwrap();
    consul.expire();
    let line = format!("PUT /v1/kv/{key}{}", query_text(&query));
    consul.known_params(&line, &query, &["cas", "acquire", "release", "flags"]);
    let answer = consul.kv_put(&key, &query, &headers, &body);
    consul.log_request(
        line,
        answer.0,
        Some(Value::String(String::from_utf8_lossy(&body).into_owned())),
    );
    answer
}

impl Consul {
    fn kv_put(
        &mut self,
        key: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, String) {
        let flags: Vec<&str> = ["cas", "acquire", "release"]
            .into_iter()
            .filter(|f| param(query, f).is_some())
            .collect();
        if flags.len() > 1 {
            let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return (
                StatusCode::BAD_REQUEST,
                format!("Conflicting flags: {}\n", encoded.join("&")),
            );
        }
        if body.len() > MAX_VALUE {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body({} bytes) too large, max size: {MAX_VALUE} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
                    body.len()
                ),
            );
        }
        let caller = Caller::of(&self.tokens, headers);
        if let Err(refused) = caller.allow(Need {
            resource: "key",
            name: Some(key),
            access: Access::Write,
        }) {
            return refused;
        }
        let now = self.clock.now();
        let applied = match flags.first().copied() {
            None => {
                self.set(key, body);
                true
            }
            Some("cas") => {
                let Ok(cas) = param(query, "cas").unwrap_or("").parse::<u64>() else {
                    return (StatusCode::BAD_REQUEST, "invalid cas index".to_owned());
                };
                let current = self.kv.get(key).map(|e| e.modify_index);
                let applies = match (cas, current) {
                    (0, None) => true,
                    (0, Some(_)) | (_, None) => false,
                    (cas, Some(index)) => cas == index,
                };
                if applies {
                    self.set(key, body);
                }
                applies
            }
            Some("acquire") => {
                let session = param(query, "acquire").unwrap_or("").to_owned();
                // The lock-delay is judged before the session (kvsPreApply).
                if self.lock_delays.get(key).is_some_and(|until| *until > now) {
                    false
                } else if session.is_empty() {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "missing session".to_owned());
                } else if !self.sessions.contains_key(&session) {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("invalid session {session:?}"),
                    );
                } else {
                    match self.kv.get(key).and_then(|e| e.session.clone()) {
                        Some(other) if other != session => false,
                        held => {
                            let index = self.next_index();
                            let entry = self
                                .kv
                                .entry(key.to_owned())
                                .or_insert_with(|| KvEntry::new(index));
                            if held.is_none() {
                                entry.lock_index += 1;
                            }
                            entry.session = Some(session);
                            entry.value = body.to_vec();
                            entry.modify_index = index;
                            self.kv_index = index;
                            self.notify();
                            true
                        }
                    }
                }
            }
            Some(_) => {
                let session = param(query, "release").unwrap_or("");
                if self
                    .kv
                    .get(key)
                    .is_some_and(|e| e.session.as_deref() == Some(session))
                {
                    let index = self.next_index();
                    if let Some(entry) = self.kv.get_mut(key) {
                        entry.session = None;
                        entry.value = body.to_vec();
                        entry.modify_index = index;
                    }
                    self.kv_index = index;
                    self.notify();
                    true
                } else {
                    false
                }
            }
        };
        (StatusCode::OK, applied.to_string())
    }

    /// A plain set: the lock, if any, stays.
    fn set(&mut self, key: &str, value: &[u8]) {
        let index = self.next_index();
        let entry = self
            .kv
            .entry(key.to_owned())
            .or_insert_with(|| KvEntry::new(index));
        entry.value = value.to_vec();
        entry.modify_index = index;
        self.kv_index = index;
        self.notify();
    }
}

/// A PUT whose answer is `work`'s, logged with its JSON body.
fn logged_put(
    shared: &Shared,
    line: &str,
    body: &[u8],
    work: impl FnOnce(&mut Consul) -> (StatusCode, String),
) -> (StatusCode, String) {
    let mut consul = shared.lock().unwrap();
    consul.expire();
    let answer = work(&mut consul);
    consul.log_request(line.to_owned(), answer.0, serde_json::from_slice(body).ok());
    answer
}

/// `PUT /v1/session/create`.
pub async fn session_create(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    logged_put(&shared, "PUT /v1/session/create", &body, |consul| {
        consul.session_create(&headers, &body)
    })
}

impl Consul {
    fn session_create(&mut self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, String) {
        let internal = |text: String| (StatusCode::INTERNAL_SERVER_ERROR, text);
        let spec = if body.is_empty() {
            serde_json::Map::new()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(spec)) => spec,
                Ok(_) | Err(_) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "Request decode failed: not a JSON object".to_owned(),
                    );
                }
            }
        };
        for key in spec.keys() {
            let known = [
                "Name",
                "Node",
                "Checks",
                "NodeChecks",
                "ServiceChecks",
                "LockDelay",
                "Behavior",
                "TTL",
            ];
            if !known.contains(&key.as_str()) {
                self.problems
                    .push(format!("PUT /v1/session/create: unexpected field {key:?}"));
            }
        }
        let text = |field: &str| spec.get(field).and_then(Value::as_str).unwrap_or("").to_owned();
        let node = Some(text("Node"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.agent_node.clone());
        let caller = Caller::of(&self.tokens, headers);
        if let Err(refused) = caller.allow(Need {
            resource: "session",
            name: Some(&node),
            access: Access::Write,
        }) {
            return refused;
        }
        let behavior = Some(text("Behavior"))
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "release".to_owned());
        if behavior != "release" && behavior != "delete" {
            return internal(format!("Invalid Behavior setting '{behavior}'"));
        }
        let ttl_text = text("TTL");
        let ttl = if ttl_text.is_empty() {
            None
        } else {
            let ttl = match go_duration(&ttl_text) {
                Ok(ttl) => ttl,
                Err(e) => return internal(format!("Session TTL '{ttl_text}' invalid: {e}")),
            };
            if !ttl.is_zero() && (ttl < self.session_ttl_min || ttl > MAX_TTL) {
                return internal(format!(
                    "Invalid Session TTL '{}', must be between [{}={}]",
                    ttl.as_nanos(),
                    go_print(self.session_ttl_min),
                    go_print(MAX_TTL)
                ));
            }
            Some(ttl).filter(|t| !t.is_zero())
        };
        // FixupLockDelay: a small number is seconds.
        let lock_delay = match spec.get("LockDelay") {
            None => Duration::from_secs(15),
            Some(Value::String(d)) => match go_duration(d) {
                Ok(d) if d < Duration::from_nanos(1000) => d.as_nanos() as u32 * Duration::from_secs(1),
                Ok(d) => d,
                Err(e) => return (StatusCode::BAD_REQUEST, format!("Request decode failed: {e}")),
            },
            Some(number) => {
                let ns = number.as_f64().unwrap_or(0.0);
                if ns < 1000.0 {
                    Duration::from_secs_f64(ns)
                } else {
                    Duration::from_nanos(ns as u64)
                }
            }
        };
        // An explicit Checks, NodeChecks or ServiceChecks takes serfHealth out.
        let checks_sent = ["Checks", "NodeChecks", "ServiceChecks"]
            .iter()
            .any(|field| spec.contains_key(*field));
        let mut checks: Vec<String> = Vec::new();
        if checks_sent {
            for field in ["Checks", "NodeChecks"] {
                for check in spec.get(field).and_then(Value::as_array).into_iter().flatten() {
                    checks.push(check.as_str().unwrap_or("").to_owned());
                }
            }
        } else {
            checks.push("serfHealth".to_owned());
        }
        let Some(node_checks) = self.nodes.get(&node) else {
            return internal("Missing node registration".to_owned());
        };
        for check in &checks {
            match node_checks.iter().find(|(id, _)| id == check) {
                None => return internal(format!("Missing check '{check}' registration")),
                Some((_, status)) if status == "critical" => {
                    return internal(format!("Check '{check}' is in critical state"));
                }
                Some(_) => {}
            }
        }
        self.next_session += 1;
        let id = format!(
            "5e551011-{:04x}-4000-8000-{:012x}",
            self.next_session, self.next_session
        );
        let index = self.next_index();
        let now = self.clock.now();
        self.sessions.insert(
            id.clone(),
            Session {
                name: text("Name"),
                node,
                checks,
                checks_sent,
                ttl,
                ttl_text,
                lock_delay,
                behavior,
                expires: ttl.map(|ttl| now + ttl * 2),
                create_index: index,
            },
        );
        (StatusCode::OK, json!({ "ID": id }).to_string())
    }
}

/// `PUT /v1/session/renew/<id>`.
pub async fn session_renew(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    logged_put(&shared, &format!("PUT /v1/session/renew/{id}"), &[], |consul| {
        // Consul looks the session up before it resolves the token.
        let Some(session) = consul.sessions.get(&id).cloned() else {
            return (StatusCode::NOT_FOUND, format!("Session id '{id}' not found"));
        };
        if let Err(refused) = Caller::of(&consul.tokens, &headers).allow(Need {
            resource: "session",
            name: Some(&session.node),
            access: Access::Write,
        }) {
            return refused;
        }
        let now = consul.clock.now();
        if let Some(held) = consul.sessions.get_mut(&id) {
            held.expires = held.ttl.map(|ttl| now + ttl * 2);
        }
        (StatusCode::OK, json!([session.json(&id)]).to_string())
    })
}

/// `PUT /v1/session/destroy/<id>`.
pub async fn session_destroy(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    logged_put(&shared, &format!("PUT /v1/session/destroy/{id}"), &[], |consul| {
        let caller = Caller::of(&consul.tokens, &headers);
        (|| {
            caller.resolve()?;
            // Destroying a session that is gone does nothing.
            let Some(node) = consul.sessions.get(&id).map(|s| s.node.clone()) else {
                return Ok((StatusCode::OK, "true".to_owned()));
            };
            caller.allow(Need {
                resource: "session",
                name: Some(&node),
                access: Access::Write,
            })?;
            consul.invalidate(&id);
            Ok((StatusCode::OK, "true".to_owned()))
        })()
        .unwrap_or_else(|refused| refused)
    })
}

/// One KV operation of a transaction.
#[derive(Debug, Clone)]
struct KvOp {
    verb: String,
    key: String,
    value: Vec<u8>,
    index: u64,
    session: String,
}

/// `PUT /v1/txn`.
pub async fn txn(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    logged_put(&shared, "PUT /v1/txn", &body, |consul| {
        consul.txn(&headers, &body)
    })
}

impl Consul {
    fn txn(&mut self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, String) {
        if body.len() > MAX_VALUE {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body too large, max size: {MAX_VALUE} bytes"),
            );
        }
        let raw: Vec<Value> = match serde_json::from_slice(body) {
            Ok(raw) => raw,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("Failed to parse body: {e}")),
        };
        if raw.len() > 64 {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Transaction contains too many operations ({} > 64)", raw.len()),
            );
        }
        let mut ops = Vec::new();
        for op in &raw {
            let Some(kv) = op.get("KV") else {
                let problem = if ["Node", "Service", "Check", "Session"]
                    .iter()
                    .any(|k| op.get(k).is_some())
                {
                    format!("PUT /v1/txn: the double serves KV operations only: {op}")
                } else {
                    // Consul decodes KV, Node, Service, Check and Session
                    // operations and drops anything else unread: a config
                    // entry cannot join a transaction.
                    format!(
                        "PUT /v1/txn: an operation Consul drops unapplied (a config entry cannot join a transaction): {op}"
                    )
                };
                self.problems.push(problem);
                continue;
            };
            let text = |field: &str| kv.get(field).and_then(Value::as_str).unwrap_or("").to_owned();
            let value = match kv.get("Value").and_then(Value::as_str) {
                None => Vec::new(),
                Some(encoded) => match BASE64.decode(encoded) {
                    Ok(value) => value,
                    Err(e) => {
                        return (
                            StatusCode::BAD_REQUEST,
                            format!("Failed to parse body: failed to decode value: {e}"),
                        );
                    }
                },
            };
            if value.len() > MAX_VALUE {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Value for key {:?} is too large ({} > {MAX_VALUE} bytes)",
                        text("Key"),
                        value.len()
                    ),
                );
            }
            ops.push(KvOp {
                verb: text("Verb"),
                key: text("Key"),
                value,
                index: kv.get("Index").and_then(Value::as_u64).unwrap_or(0),
                session: text("Session"),
            });
        }
        let caller = Caller::of(&self.tokens, headers);
        if let Err(refused) = caller.resolve() {
            return refused;
        }
        let conflict = |errors: Vec<Value>| {
            (
                StatusCode::CONFLICT,
                json!({ "Results": Value::Null, "Errors": errors }).to_string(),
            )
        };
        // The pre-check: ACLs, per operation.
        let mut errors = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let access = match op.verb.as_str() {
                "get" | "get-tree" => continue,
                "check-session" | "check-index" | "check-not-exists" => Access::Read,
                _ => Access::Write,
            };
            if let Some(text) = caller.refusal(Need {
                resource: "key",
                name: Some(&op.key),
                access,
            }) {
                errors.push(json!({ "OpIndex": i, "What": text }));
            }
        }
        if !errors.is_empty() {
            return conflict(errors);
        }
        // All or none: applied to a copy, kept only if nothing failed.
        let index = self.index + 1;
        let mut kv = self.kv.clone();
        let mut results = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let key = op.key.as_str();
            let outcome: Result<Option<Value>, String> = match op.verb.as_str() {
                "set" | "cas" => {
                    let current = kv.get(key).map(|e| e.modify_index);
                    let stale = op.verb == "cas"
                        && match (op.index, current) {
                            (0, existing) => existing.is_some(),
                            (_, None) => true,
                            (want, Some(index)) => want != index,
                        };
                    if stale {
                        Err(format!("failed to set key {key:?}, index is stale"))
                    } else {
                        let entry = kv.entry(key.to_owned()).or_insert_with(|| KvEntry::new(index));
                        entry.value = op.value.clone();
                        entry.modify_index = index;
                        Ok(Some(entry.json(key, false)))
                    }
                }
                "check-session" => match kv.get(key) {
                    None => Err(format!("failed to check session, key {key:?} doesn't exist")),
                    Some(e) if e.session.as_deref().unwrap_or("") != op.session => Err(format!(
                        "failed session check for key {key:?}, current session {:?} != {:?}",
                        e.session.as_deref().unwrap_or(""),
                        op.session
                    )),
                    Some(e) => Ok(Some(e.json(key, false))),
                },
                "check-index" => match kv.get(key) {
                    None => Err(format!("failed to check index, key {key:?} doesn't exist")),
                    Some(e) if e.modify_index != op.index => Err(format!(
                        "failed index check for key {key:?}, current modify index {} != {}",
                        e.modify_index, op.index
                    )),
                    Some(e) => Ok(Some(e.json(key, false))),
                },
                "get" => kv
                    .get(key)
                    .map(|e| Some(e.json(key, true)))
                    .ok_or_else(|| format!("key {key:?} doesn't exist")),
                "delete" => {
                    kv.remove(key);
                    Ok(None)
                }
                other => Err(format!("unknown KV verb {other:?}")),
            };
            match outcome {
                Ok(Some(entry)) => results.push(json!({ "KV": entry })),
                Ok(None) => {}
                Err(what) => errors.push(json!({ "OpIndex": i, "What": what })),
            }
        }
        if !errors.is_empty() {
            return conflict(errors);
        }
        if kv != self.kv {
            self.index = index;
            self.kv = kv;
            self.kv_index = index;
            self.notify();
        }
        (
            StatusCode::OK,
            json!({ "Results": results, "Errors": Value::Null }).to_string(),
        )
    }
}

/// `GET /v1/acl/token/self`: who the token is (any known token may ask).
pub async fn token_self(State(shared): State<Shared>, headers: HeaderMap) -> (StatusCode, String) {
    let mut consul = shared.lock().unwrap();
    let answer = match Caller::of(&consul.tokens, &headers) {
        _ if consul.acls_disabled => (StatusCode::UNAUTHORIZED, "ACL support disabled".to_owned()),
        Caller::Unknown => (StatusCode::FORBIDDEN, "ACL not found".to_owned()),
        Caller::Anonymous => (
            StatusCode::OK,
            json!({
                "AccessorID": "00000000-0000-0000-0000-000000000002",
                "SecretID": "anonymous",
                "Description": "Anonymous Token",
                "Local": false,
            })
            .to_string(),
        ),
        Caller::Known(token) => (
            StatusCode::OK,
            json!({
                "AccessorID": token.accessor,
                "SecretID": headers.get("x-consul-token").and_then(|t| t.to_str().ok()).unwrap_or(""),
                "Description": if token.rules.is_none() { "Bootstrap Token (Global Management)" } else { "" },
                "Local": false,
            })
            .to_string(),
        ),
    };
    consul.log_request("GET /v1/acl/token/self".to_owned(), answer.0, None);
    answer
}

#[test]
fn durations_are_read_as_go_reads_them() {
    assert_eq!(go_duration("15000ms"), Ok(Duration::from_secs(15)));
    assert_eq!(go_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(go_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(go_duration("0"), Ok(Duration::ZERO));
    assert!(go_duration("15").is_err());
    assert!(go_duration("soon").is_err());
    assert_eq!(go_print(Duration::from_secs(10)), "10s");
    assert_eq!(go_print(MAX_TTL), "24h0m0s");
}
