//! The migration's state in Consul's KV store, for a controller in the
//! cluster: the value at `greeter-mesh/migration/state`, the lead a
//! session's lock on `greeter-mesh/migration/leader` (SYSTEM.md, "A
//! migration controller on Consul").
//!
//! - [`Store::read`] is a `?consistent` read; [`Store::watch`] a blocking
//!   read (`?index=&wait=`), its index reset when Consul's goes backwards.
//! - A write is a transaction with one `cas` on the state key, a fenced
//!   write the same with a `check-session` on the lock key before it:
//!   Consul applies both or neither, so a leader whose session no longer
//!   holds the lock writes nothing, whatever it believes. A transaction
//!   rather than `PUT ?cas=` because `PUT` answers only `true`/`false`,
//!   and the contract answers the new version: a read after the write
//!   could see someone else's. A rolled-back transaction (409) names each
//!   failed operation by its `OpIndex`, which tells a lost lock (the
//!   check, op 0) from a lost race (the cas).
//! - [`Store::campaign`] creates a session (`Node` = `CONSUL_SESSION_NODE`,
//!   `"NodeChecks": []`, the lease's TTL, `Behavior: release`) and tries
//!   `PUT ?acquire=` on the lock key with the holder's id as its value.
//!   `false` means someone holds it, or the lock-delay after a lost holder
//!   runs. A session that did not get the lock is kept and renewed for the
//!   next campaign rather than left to expire, so a standby polling every
//!   few seconds does not leave a trail of sessions.
//! - [`Store::renew`] renews the session (404: gone, the lead is lost) and
//!   checks the lock still names it. [`Store::resign`] releases the lock
//!   first (a release starts no lock-delay) and then destroys the session.
//!
//! Consul expires a session between 1 and 2 TTLs after its last renew; the
//! holder stops acting at 1 TTL by its own clock ([`super::Lease::expired`]).
//! A 403 is [`StoreError::Forbidden`] naming the missing rule in Consul's
//! words and as a policy line (see [`crate::consul::refusal`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::{Candidate, Leader, Lease, LeaseToken, Store, StoreError, Stored};
use crate::consul::kv::{KvEntry, KvWrite, SessionSpec, TxnError, TxnOp, TxnOutcome};
use crate::consul::refusal::Refusal;
use crate::consul::{Consul, ConsulError, Settings, SettingsError, duration_setting};

/// Where the state is: under the migration's prefix ([`crate::mesh::KV_PREFIX`]).
pub const STATE_KEY: &str = "greeter-mesh/migration/state";
/// The lock whose holder leads.
pub const LEADER_KEY: &str = "greeter-mesh/migration/leader";

/// The lease's TTL when `CONTROLLER_LEASE_TTL` is unset.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);
/// Consul's bounds on a session's TTL.
pub const MIN_TTL: Duration = Duration::from_secs(10);
/// Consul's bounds on a session's TTL.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Consul's default lock-delay.
pub const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);
/// Consul caps a lock-delay at 60 s.
pub const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);
/// How long one call to Consul may take (a blocking read adds its wait).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The Consul store's settings, read in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsulStoreSettings {
    /// Where Consul is, as the consul CLI reads it.
    pub consul: Settings,
    /// `CONSUL_SESSION_NODE`: the registered node the session binds to.
    pub node: String,
    /// `CONTROLLER_LEASE_TTL` (default 15 s, 10 s to 24 h): the session's
    /// TTL, and the lease's the controller campaigns with.
    pub ttl: Duration,
    /// `CONTROLLER_LOCK_DELAY` (default 15 s, at most 60 s): how long the
    /// lock stays closed after its holder was lost.
    pub lock_delay: Duration,
}

impl ConsulStoreSettings {
    /// Reads the settings from a key/value source (the environment, or a
    /// map in tests); an error names its variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let consul = Settings::from_lookup(&lookup)?;
        let node = lookup("CONSUL_SESSION_NODE")
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or(SettingsError {
                variable: "CONSUL_SESSION_NODE",
                problem: "not set: name the registered Consul node the controller's session binds to \
                          (consul-server for the ECS dev server)"
                    .to_owned(),
            })?;
        if node
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c.is_control())
        {
            return Err(SettingsError {
                variable: "CONSUL_SESSION_NODE",
                problem: format!("{node:?} is not a node name"),
            });
        }
        Ok(Self {
            consul,
            node,
            ttl: duration_setting(&lookup, "CONTROLLER_LEASE_TTL", DEFAULT_TTL, MIN_TTL, MAX_TTL)?,
            lock_delay: duration_setting(
                &lookup,
                "CONTROLLER_LOCK_DELAY",
                DEFAULT_LOCK_DELAY,
                Duration::ZERO,
                MAX_LOCK_DELAY,
            )?,
        })
    }
}

/// The state in Consul.
#[derive(Debug)]
pub struct ConsulStore {
    consul: Consul,
    node: String,
    lock_delay: Duration,
    /// A session of this store's that holds nothing, kept for the next
    /// campaign.
    spare: Mutex<Option<String>>,
}

impl ConsulStore {
    /// A store for these settings (an https address reads its CA now).
    pub fn new(settings: ConsulStoreSettings) -> Result<Self, ConsulError> {
        Ok(Self::with_client(
            Consul::new(settings.consul, CALL_TIMEOUT)?,
            settings.node,
            settings.lock_delay,
        ))
    }

    /// A store on a client of its own making (tests use short timeouts).
    pub fn with_client(consul: Consul, node: String, lock_delay: Duration) -> Self {
        Self {
            consul,
            node,
            lock_delay,
            spare: Mutex::new(None),
        }
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // An Option<String> cannot be left half-written by a panic.
        self.spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A failed call, as the contract names it.
    fn failed(&self, request: &str, error: ConsulError) -> StoreError {
        let store = self.describe();
        match error {
            ConsulError::Forbidden { detail } => StoreError::Forbidden {
                store,
                request: request.to_owned(),
                detail: Refusal::parse(&detail).explain(),
            },
            ConsulError::TooLarge { .. }
            | ConsulError::Status {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                ..
            } => StoreError::Forbidden {
                store,
                request: request.to_owned(),
                detail: error.to_string(),
            },
            ConsulError::Status { ref detail, .. } => {
                let hint = if detail.contains("Missing node registration") {
                    format!(
                        ": CONSUL_SESSION_NODE={} names no node Consul knows; name a registered one",
                        self.node
                    )
                } else if detail.contains("Invalid Session TTL") {
                    ": CONTROLLER_LEASE_TTL is below this server's session_ttl_min (10 s unless configured)"
                        .to_owned()
                } else if detail.contains("Missing check") || detail.contains("critical state") {
                    format!(
                        ": the session would depend on a health check of node {}; it is sent with \"NodeChecks\": []",
                        self.node
                    )
                } else {
                    String::new()
                };
                StoreError::Unreachable {
                    store,
                    cause: format!("{error}{hint}"),
                }
            }
            other => StoreError::Unreachable {
                store,
                cause: other.to_string(),
            },
        }
    }

    /// A rolled-back transaction, as the contract names it: a refusal by
    /// ACL, the lock lost (op 0 of a fenced write), or the cas lost.
    async fn rolled_back(&self, errors: &[TxnError], fenced: Option<&str>, expected: u64) -> StoreError {
        let request = "PUT /v1/txn".to_owned();
        if let Some(refused) = errors.iter().find(|e| Refusal::is_acl(&e.what)) {
            return StoreError::Forbidden {
                store: self.describe(),
                request,
                detail: Refusal::parse(&refused.what).explain(),
            };
        }
        let lost = fenced.zip(errors.iter().find(|e| e.op_index == 0));
        if let Some((session, lost)) = lost {
            return StoreError::LeaseLost {
                store: self.describe(),
                why: format!(
                    "session {session} no longer holds {LEADER_KEY}, so Consul rolled the write back ({})",
                    lost.what
                ),
            };
        }
        // Best effort: the conflict says where the state is now.
        let now = self
            .consul
            .kv_get(STATE_KEY, false)
            .await
            .ok()
            .map(|read| read.entry.map_or(0, |e| e.modify_index));
        StoreError::Conflict {
            store: self.describe(),
            expected,
            now,
        }
    }

    /// Writes the state if its index is still `expected` and, when
    /// `fenced` names a session, only while that session holds the lock:
    /// one transaction, which answers the index written.
    async fn transact(&self, value: &[u8], expected: u64, fenced: Option<&str>) -> Result<u64, StoreError> {
        let cas = TxnOp::Cas {
            key: STATE_KEY,
            value,
            index: expected,
        };
        let ops = match fenced {
            Some(session) => vec![
                TxnOp::CheckSession {
                    key: LEADER_KEY,
                    session,
                },
                cas,
            ],
            None => vec![cas],
        };
        match self.consul.txn(&ops).await {
            Ok(TxnOutcome::Applied(written)) => written
                .iter()
                .find(|e| e.key == STATE_KEY)
                .map(|e| e.modify_index)
                .ok_or_else(|| StoreError::Unreachable {
                    store: self.describe(),
                    cause: format!("Consul applied the transaction but answered no entry for {STATE_KEY}"),
                }),
            Ok(TxnOutcome::RolledBack(errors)) => Err(self.rolled_back(&errors, fenced, expected).await),
            Err(e) => Err(self.failed("PUT /v1/txn", e)),
        }
    }

    async fn new_session(&self, me: &Candidate, ttl: Duration) -> Result<String, StoreError> {
        let name = format!("greeter-mesh migration controller {}", me.id);
        self.consul
            .session_create(&SessionSpec {
                name: &name,
                node: &self.node,
                ttl,
                lock_delay: self.lock_delay,
            })
            .await
            .map_err(|e| self.failed("PUT /v1/session/create", e))
    }

    fn session_of(&self, lease: &Lease) -> Result<String, StoreError> {
        match &lease.token {
            LeaseToken::Consul { session } => Ok(session.clone()),
            _ => Err(StoreError::LeaseLost {
                store: self.describe(),
                why: "the lease is not a Consul session's".to_owned(),
            }),
        }
    }

    /// A key as the leader holds it (`?consistent`).
    async fn consistent(&self, key: &str) -> Result<Option<KvEntry>, StoreError> {
        self.consul
            .kv_get(key, true)
            .await
            .map(|read| read.entry)
            .map_err(|e| self.failed(&format!("GET /v1/kv/{key}?consistent"), e))
    }

    fn stored(entry: Option<KvEntry>) -> Option<Stored> {
        entry.map(|e| Stored {
            value: e.value,
            version: e.modify_index,
        })
    }
}

impl Store for ConsulStore {
    fn describe(&self) -> String {
        format!("Consul at {}: key {STATE_KEY}", self.consul.address())
    }

    async fn read(&self) -> Result<Option<Stored>, StoreError> {
        Ok(Self::stored(self.consistent(STATE_KEY).await?))
    }

    async fn watch(&self, seen: u64, wait: Duration) -> Result<Option<Stored>, StoreError> {
        let request = format!("GET /v1/kv/{STATE_KEY}?index=");
        let deadline = Instant::now() + wait;
        // A plain read first: it answers at once when the key changed, and
        // gives the index to wait past (a key that is not there has none
        // of its own, and an index from before a restore would be waited
        // past for the whole wait).
        let mut index = 0;
        loop {
            let started = Instant::now();
            let remaining = deadline.saturating_duration_since(started);
            let read = if index == 0 || remaining.is_zero() {
                self.consul.kv_get(STATE_KEY, false).await
            } else {
                self.consul.kv_block(STATE_KEY, index, remaining).await
            }
            .map_err(|e| self.failed(&request, e))?;
            let version = read.entry.as_ref().map_or(0, |e| e.modify_index);
            if version != seen || remaining.is_zero() {
                return Ok(Self::stored(read.entry));
            }
            if read.index < index {
                // Consul's index went backwards (a restored snapshot, a new
                // cluster): start over rather than wait past it.
                index = 0;
            } else {
                let unchanged = read.index == index;
                index = read.index.max(1);
                // A blocking read may return early with nothing new: do not
                // ask again at once.
                if unchanged && started.elapsed() < remaining / 2 {
                    tokio::time::sleep(Duration::from_millis(100).min(remaining)).await;
                }
            }
        }
    }

    async fn write(&self, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        self.transact(value, expected, None).await
    }

    async fn campaign(&self, me: &Candidate) -> Result<Option<Lease>, StoreError> {
        // Below 10 s only a server with a lower session_ttl_min takes it
        // (the settings refuse it); above 24 h none does.
        let ttl = me.ttl.min(MAX_TTL);
        // Twice at most: a kept session may die between its renew and the
        // acquire.
        for attempt in 0..2 {
            let sent = Instant::now();
            let kept = self.spare().take();
            let session = match kept {
                Some(id) => {
                    let alive = self
                        .consul
                        .session_renew(&id)
                        .await
                        .map_err(|e| self.failed(&format!("PUT /v1/session/renew/{id}"), e))?;
                    if alive {
                        id
                    } else {
                        self.new_session(me, ttl).await?
                    }
                }
                None => self.new_session(me, ttl).await?,
            };
            let request = format!("PUT /v1/kv/{LEADER_KEY}?acquire={session}");
            match self
                .consul
                .kv_put(LEADER_KEY, me.id.as_bytes(), KvWrite::Acquire(&session))
                .await
            {
                Ok(true) => {
                    return Ok(Some(Lease {
                        holder: me.id.clone(),
                        ttl,
                        renewed: sent,
                        token: LeaseToken::Consul { session },
                    }));
                }
                Ok(false) => {
                    *self.spare() = Some(session);
                    return Ok(None);
                }
                Err(ConsulError::Status { detail, .. })
                    if attempt == 0 && detail.contains("invalid session") => {}
                Err(e) => {
                    *self.spare() = Some(session);
                    return Err(self.failed(&request, e));
                }
            }
        }
        Err(StoreError::Unreachable {
            store: self.describe(),
            cause: "Consul lost this store's new session before it could acquire the lock twice in a row"
                .to_owned(),
        })
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), StoreError> {
        let session = self.session_of(lease)?;
        let sent = Instant::now();
        let alive = self
            .consul
            .session_renew(&session)
            .await
            .map_err(|e| self.failed(&format!("PUT /v1/session/renew/{session}"), e))?;
        if !alive {
            return Err(StoreError::LeaseLost {
                store: self.describe(),
                why: format!(
                    "Consul answered 404 to the renew of session {session}: it expired (not renewed for up to 2 x {} s) or was destroyed",
                    lease.ttl.as_secs()
                ),
            });
        }
        let holder = self.consistent(LEADER_KEY).await?.and_then(|e| e.session);
        if holder.as_deref() != Some(session.as_str()) {
            // The session lives on: keep it for the next campaign.
            *self.spare() = Some(session.clone());
            return Err(StoreError::LeaseLost {
                store: self.describe(),
                why: match holder {
                    Some(other) => format!("{LEADER_KEY} is held by session {other}, not {session}"),
                    None => format!("{LEADER_KEY} was released: session {session} holds nothing"),
                },
            });
        }
        lease.renewed = sent;
        Ok(())
    }

    async fn write_fenced(&self, lease: &Lease, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        let session = self.session_of(lease)?;
        self.transact(value, expected, Some(&session)).await
    }

    async fn resign(&self, lease: Lease) -> Result<(), StoreError> {
        let session = self.session_of(&lease)?;
        // Release first: a destroy with the lock held would close it for
        // the lock-delay; a release opens it at once.
        let released = self
            .consul
            .kv_put(LEADER_KEY, lease.holder.as_bytes(), KvWrite::Release(&session))
            .await
            .map_err(|e| self.failed(&format!("PUT /v1/kv/{LEADER_KEY}?release={session}"), e));
        let destroyed = self
            .consul
            .session_destroy(&session)
            .await
            .map_err(|e| self.failed(&format!("PUT /v1/session/destroy/{session}"), e));
        released?;
        destroyed
    }

    async fn leader(&self) -> Result<Option<Leader>, StoreError> {
        Ok(self.consistent(LEADER_KEY).await?.and_then(|entry| {
            let session = entry.session?;
            Some(Leader {
                id: String::from_utf8_lossy(&entry.value).into_owned(),
                detail: format!(
                    "session {session} holds {LEADER_KEY} (taken {} times)",
                    entry.lock_index
                ),
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::KV_PREFIX;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<ConsulStoreSettings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ConsulStoreSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_keys_are_under_the_migrations_prefix() {
        assert!(STATE_KEY.starts_with(KV_PREFIX));
        assert!(LEADER_KEY.starts_with(KV_PREFIX));
    }

    #[test]
    fn the_node_is_required_and_the_lease_defaults_to_consuls() {
        let s = settings(&[("CONSUL_SESSION_NODE", "consul-server")]).unwrap();
        assert_eq!(s.node, "consul-server");
        assert_eq!((s.ttl, s.lock_delay), (DEFAULT_TTL, DEFAULT_LOCK_DELAY));
        let s = settings(&[
            ("CONSUL_SESSION_NODE", "consul-server"),
            ("CONTROLLER_LEASE_TTL", "30s"),
            ("CONTROLLER_LOCK_DELAY", "0s"),
        ])
        .unwrap();
        assert_eq!((s.ttl, s.lock_delay), (Duration::from_secs(30), Duration::ZERO));
    }

    #[test]
    fn a_bad_setting_names_its_variable() {
        for (pairs, variable) in [
            (&[][..], "CONSUL_SESSION_NODE"),
            (&[("CONSUL_SESSION_NODE", "two words")][..], "CONSUL_SESSION_NODE"),
            (
                &[("CONSUL_SESSION_NODE", "n"), ("CONTROLLER_LEASE_TTL", "5s")][..],
                "CONTROLLER_LEASE_TTL",
            ),
            (
                &[("CONSUL_SESSION_NODE", "n"), ("CONTROLLER_LEASE_TTL", "soon")][..],
                "CONTROLLER_LEASE_TTL",
            ),
            (
                &[("CONSUL_SESSION_NODE", "n"), ("CONTROLLER_LOCK_DELAY", "90s")][..],
                "CONTROLLER_LOCK_DELAY",
            ),
            (
                &[("CONSUL_SESSION_NODE", "n"), ("CONSUL_HTTP_SSL", "maybe")][..],
                "CONSUL_HTTP_SSL",
            ),
        ] {
            let err = settings(pairs).unwrap_err();
            assert_eq!(err.variable, variable, "{pairs:?}: {err}");
        }
    }
}
