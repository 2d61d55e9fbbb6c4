//! Consul's KV store, sessions and transactions, as the migration's
//! controller keeps its state and its lead with them (Consul's
//! `agent/kvs_endpoint.go`, `agent/session_endpoint.go`,
//! `agent/txn_endpoint.go`):
//!
//! - `GET /v1/kv/<key>` answers `[{"Key","Value"(base64),"ModifyIndex",
//!   "LockIndex","Session"}]` or 404, both with `X-Consul-Index`;
//!   `?consistent` for a read that decides, `?index=&wait=` to block.
//! - `PUT /v1/kv/<key>` with at most one of `?cas=`, `?acquire=`,
//!   `?release=` answers `true` or `false`; values up to 512 KiB.
//! - `PUT /v1/session/create` answers `{"ID"}`; `renew` answers 404 once
//!   the session is gone; `destroy` of a gone session does nothing.
//! - `PUT /v1/txn` applies its operations all or none: 200 with the
//!   results, or 409 with `Errors[]` naming each failed operation by
//!   `OpIndex`.
//!
//! A 403 is [`ConsulError::Forbidden`] with Consul's words, for
//! [`super::refusal`] to read.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, Consul, ConsulError};

/// Consul's default `kv_max_value_size`: a larger value is a 413.
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// The longest blocking read Consul serves (`?wait=` is capped at 10 min).
pub const MAX_WAIT: Duration = Duration::from_secs(600);

/// A key as Consul holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// The value, decoded (empty for a key written without one).
    pub value: Vec<u8>,
    /// Moves on with every write of this key.
    pub modify_index: u64,
    /// How many times the key has been locked.
    pub lock_index: u64,
    /// The session holding the key's lock, if any.
    pub session: Option<String>,
}

/// A read: the entry, if the key exists, and `X-Consul-Index` (the
/// index a blocking read of the same key waits past).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvRead {
    /// The entry.
    pub entry: Option<KvEntry>,
    /// `X-Consul-Index`.
    pub index: u64,
}

/// Which of Consul's exclusive PUT flags a write carries.
#[derive(Debug, Clone, Copy)]
pub enum KvWrite<'a> {
    /// `?acquire=S`: take the key's lock for session S.
    Acquire(&'a str),
    /// `?release=S`: give up S's lock on the key.
    Release(&'a str),
}

/// What `PUT /v1/session/create` is sent.
#[derive(Debug, Clone)]
pub struct SessionSpec<'a> {
    /// A name for people (`consul operator` and the UI show it).
    pub name: &'a str,
    /// The registered node the session binds to.
    pub node: &'a str,
    /// The session dies when not renewed within this (Consul: 10 s to
    /// 24 h, expired between 1 and 2 times it).
    pub ttl: Duration,
    /// After the session dies holding a lock, nobody may take it for this
    /// long (at most 60 s).
    pub lock_delay: Duration,
}

/// One operation of a transaction.
#[derive(Debug, Clone, Copy)]
pub enum TxnOp<'a> {
    /// Fails unless `session` holds `key`'s lock.
    CheckSession {
        /// The lock key.
        key: &'a str,
        /// The session.
        session: &'a str,
    },
    /// Sets `key` only if its `ModifyIndex` is `index` (0: only if absent).
    Cas {
        /// The key.
        key: &'a str,
        /// The value.
        value: &'a [u8],
        /// The expected `ModifyIndex`.
        index: u64,
    },
}

/// One failed operation of a transaction that was rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnError {
    /// Which operation, from 0, in the order sent.
    pub op_index: usize,
    /// Consul's words.
    pub what: String,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOutcome {
    /// All applied: the entries written, values left out.
    Applied(Vec<KvEntry>),
    /// None applied (409): why, per operation.
    RolledBack(Vec<TxnError>),
}

/// A KV entry as Consul encodes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEntry {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    modify_index: u64,
    #[serde(default)]
    lock_index: u64,
    #[serde(default)]
    session: Option<String>,
}

impl RawEntry {
    fn decode(self) -> Result<KvEntry, String> {
        let value = match self.value {
            None => Vec::new(),
            Some(text) => BASE64
                .decode(text)
                .map_err(|e| format!("the value of {} is not base64: {e}", self.key))?,
        };
        Ok(KvEntry {
            key: self.key,
            value,
            modify_index: self.modify_index,
            lock_index: self.lock_index,
            session: self.session.filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTxnAnswer {
    #[serde(default)]
    results: Option<Vec<RawTxnResult>>,
    #[serde(default)]
    errors: Option<Vec<RawTxnError>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTxnResult {
    #[serde(rename = "KV", default)]
    kv: Option<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTxnError {
    #[serde(default)]
    op_index: usize,
    #[serde(default)]
    what: String,
}

/// A duration as Go's `time.ParseDuration` reads it.
fn go_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn kv_path(key: &str) -> String {
    format!("/v1/kv/{key}")
}

impl Consul {
    fn too_large(key: &str, value: &[u8]) -> Result<(), ConsulError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(ConsulError::TooLarge {
                key: key.to_owned(),
                bytes: value.len(),
            });
        }
        Ok(())
    }

    fn kv_answer(request: &str, answer: &Answer) -> Result<KvRead, ConsulError> {
        let index = answer.index.unwrap_or(0);
        let entries: Vec<RawEntry> =
            serde_json::from_slice(&answer.body).map_err(|e| Self::bad_answer(request, e.to_string()))?;
        let entry = entries
            .into_iter()
            .next()
            .ok_or_else(|| Self::bad_answer(request, "200 with no entry"))?
            .decode()
            .map_err(|e| Self::bad_answer(request, e))?;
        Ok(KvRead {
            entry: Some(entry),
            index,
        })
    }

    async fn kv_read(&self, path: String, timeout: Duration) -> Result<KvRead, ConsulError> {
        let request = format!("GET {path}");
        let answer = self.request(Method::GET, &path, None, timeout).await?;
        match answer.status {
            StatusCode::OK => Self::kv_answer(&request, &answer),
            StatusCode::NOT_FOUND => Ok(KvRead {
                entry: None,
                index: answer.index.unwrap_or(0),
            }),
            other => Err(self.refusal(other, &request, &answer.body)),
        }
    }

    /// The key now; `consistent` asks the leader to confirm it still
    /// leads first (a read that decides leadership).
    pub async fn kv_get(&self, key: &str, consistent: bool) -> Result<KvRead, ConsulError> {
        let mut path = kv_path(key);
        if consistent {
            path.push_str("?consistent");
        }
        self.kv_read(path, self.timeout).await
    }

    /// Waits (a blocking read) until the key's index passes `index` or
    /// `wait` has passed; answers the key then. A return does not mean a
    /// change, and Consul adds up to `wait / 16` of jitter.
    pub async fn kv_block(&self, key: &str, index: u64, wait: Duration) -> Result<KvRead, ConsulError> {
        let wait = wait.min(MAX_WAIT);
        let path = format!("{}?index={index}&wait={}", kv_path(key), go_duration(wait));
        self.kv_read(path, wait + wait / 16 + self.timeout).await
    }

    /// `PUT /v1/kv/<key>` with one of Consul's exclusive flags: `true` when
    /// it applied. A value over 512 KiB is refused before it is sent.
    pub async fn kv_put(&self, key: &str, value: &[u8], how: KvWrite<'_>) -> Result<bool, ConsulError> {
        Self::too_large(key, value)?;
        let path = match how {
            KvWrite::Acquire(session) => format!("{}?acquire={session}", kv_path(key)),
            KvWrite::Release(session) => format!("{}?release={session}", kv_path(key)),
        };
        let request = format!("PUT {path}");
        let answer = self
            .request(Method::PUT, &path, Some(value.to_vec()), self.timeout)
            .await?;
        self.true_or_false(&request, answer.status, &answer.body)
    }

    /// Creates a session bound to `spec.node` and no health check
    /// (`"NodeChecks": []`, sent explicitly: an omitted field keeps the
    /// node's `serfHealth`, which a server answering without a local agent
    /// may not have), released on invalidation; answers its ID.
    pub async fn session_create(&self, spec: &SessionSpec<'_>) -> Result<String, ConsulError> {
        let path = "/v1/session/create";
        let request = format!("PUT {path}");
        let body = json!({
            "Name": spec.name,
            "Node": spec.node,
            "NodeChecks": [],
            "TTL": go_duration(spec.ttl),
            "LockDelay": go_duration(spec.lock_delay),
            "Behavior": "release",
        });
        let answer = self
            .request(
                Method::PUT,
                path,
                Some(body.to_string().into_bytes()),
                self.timeout,
            )
            .await?;
        if answer.status != StatusCode::OK {
            return Err(self.refusal(answer.status, &request, &answer.body));
        }
        let created: Value =
            serde_json::from_slice(&answer.body).map_err(|e| Self::bad_answer(&request, e.to_string()))?;
        created["ID"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Self::bad_answer(&request, "no ID"))
    }

    /// Renews a session for another TTL: `false` when it is gone (404).
    pub async fn session_renew(&self, id: &str) -> Result<bool, ConsulError> {
        let path = format!("/v1/session/renew/{id}");
        let request = format!("PUT {path}");
        let answer = self.request(Method::PUT, &path, None, self.timeout).await?;
        match answer.status {
            StatusCode::OK => {
                let sessions: Value = serde_json::from_slice(&answer.body)
                    .map_err(|e| Self::bad_answer(&request, e.to_string()))?;
                Ok(sessions
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["ID"] == id)))
            }
            StatusCode::NOT_FOUND => Ok(false),
            other => Err(self.refusal(other, &request, &answer.body)),
        }
    }

    /// Destroys a session (releasing its locks, with their lock-delay);
    /// a session already gone is no error.
    pub async fn session_destroy(&self, id: &str) -> Result<(), ConsulError> {
        let path = format!("/v1/session/destroy/{id}");
        let request = format!("PUT {path}");
        let answer = self.request(Method::PUT, &path, None, self.timeout).await?;
        if answer.status != StatusCode::OK {
            return Err(self.refusal(answer.status, &request, &answer.body));
        }
        Ok(())
    }

    /// Applies `ops` in one transaction, all or none.
    pub async fn txn(&self, ops: &[TxnOp<'_>]) -> Result<TxnOutcome, ConsulError> {
        let path = "/v1/txn";
        let request = format!("PUT {path}");
        let mut body = Vec::with_capacity(ops.len());
        for op in ops {
            body.push(match *op {
                TxnOp::CheckSession { key, session } => {
                    json!({ "KV": { "Verb": "check-session", "Key": key, "Session": session } })
                }
                TxnOp::Cas { key, value, index } => {
                    Self::too_large(key, value)?;
                    json!({ "KV": { "Verb": "cas", "Key": key, "Value": BASE64.encode(value), "Index": index } })
                }
            });
        }
        let answer = self
            .request(
                Method::PUT,
                path,
                Some(Value::Array(body).to_string().into_bytes()),
                self.timeout,
            )
            .await?;
        if answer.status != StatusCode::OK && answer.status != StatusCode::CONFLICT {
            return Err(self.refusal(answer.status, &request, &answer.body));
        }
        let raw: RawTxnAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| Self::bad_answer(&request, e.to_string()))?;
        if answer.status == StatusCode::CONFLICT {
            let errors: Vec<TxnError> = raw
                .errors
                .unwrap_or_default()
                .into_iter()
                .map(|e| TxnError {
                    op_index: e.op_index,
                    what: e.what,
                })
                .collect();
            if errors.is_empty() {
                return Err(Self::bad_answer(&request, "409 with no Errors"));
            }
            return Ok(TxnOutcome::RolledBack(errors));
        }
        let mut written = Vec::new();
        for result in raw.results.unwrap_or_default() {
            if let Some(kv) = result.kv {
                written.push(kv.decode().map_err(|e| Self::bad_answer(&request, e))?);
            }
        }
        Ok(TxnOutcome::Applied(written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_sent_as_go_reads_them() {
        assert_eq!(go_duration(Duration::from_secs(15)), "15000ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn an_entry_is_decoded_from_base64_and_an_empty_session_is_none() {
        let raw: Vec<RawEntry> = serde_json::from_str(
            r#"[{"LockIndex":1,"Key":"greeter-mesh/migration/leader","Flags":0,"Value":"Y3RybC1h","Session":"","CreateIndex":5,"ModifyIndex":9}]"#,
        )
        .unwrap();
        let entry = raw.into_iter().next().unwrap().decode().unwrap();
        assert_eq!(entry.value, b"ctrl-a");
        assert_eq!((entry.modify_index, entry.lock_index), (9, 1));
        assert_eq!(entry.session, None);
        let bad: Vec<RawEntry> = serde_json::from_str(r#"[{"Key":"k","Value":"%%%"}]"#).unwrap();
        assert!(bad.into_iter().next().unwrap().decode().is_err());
    }
}
