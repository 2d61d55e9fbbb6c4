//! Where a migration's state is kept, so that it outlives the process that
//! drives it: Consul's KV in a cluster ([`consul`]), a file on a volume the
//! replicas share in compose ([`file`]), or memory for `split migrate`'s
//! one terminal ([`memory`]).
//!
//! A store holds one value (the migration's state document, JSON bytes the
//! store does not read) under a version that every write moves on, and one
//! leader at a time:
//!
//! - [`Store::read`] answers the value and its version; [`Store::write`]
//!   replaces it only if the version is still the one the writer read
//!   (check-and-set; 0 creates only). People's commands (`split rollout
//!   pause`, `approve`, ...) write this way: a lost race is
//!   [`StoreError::Conflict`], re-read and try again.
//! - [`Store::campaign`] tries to take the lead once and answers a
//!   [`Lease`] when it did; the leader keeps it with [`Store::renew`] and
//!   writes only with [`Store::write_fenced`], which the store refuses
//!   ([`StoreError::LeaseLost`]) once the lease is someone else's, whatever
//!   the writer believes. A leader also stops acting on its own clock once
//!   [`Lease::expired`]: a process paused past its lease (SIGSTOP, a long
//!   GC, a partition) writes nothing when it wakes.
//!
//! On Consul the lead is a session's lock on a key and a fenced write is a
//! transaction (`check-session` on the lock, `cas` on the state); in a
//! file store it is an OS file lock released by the kernel when its holder
//! dies, and a lease in the directory for a holder that stopped without
//! dying. Each module's doc says how it keeps these promises.

use std::time::{Duration, Instant};

pub mod consul;
pub mod file;
pub mod memory;

/// A stored value and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The value, as written.
    pub value: Vec<u8>,
    /// Moves on with every write; never 0 for a stored value.
    pub version: u64,
}

/// Why a store could not do what was asked. Each names the store (the
/// Consul key, the file) so the message says where to look.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store did not answer, or not in time.
    #[error("{store} is unreachable: {cause}")]
    Unreachable {
        /// The store, for messages.
        store: String,
        /// What went wrong.
        cause: String,
    },
    /// The store refused: a token without the rights, a file without
    /// permission. The detail names the missing rule.
    #[error("{store} refused {request}: {detail}")]
    Forbidden {
        /// The store.
        store: String,
        /// What was refused.
        request: String,
        /// Consul's or the OS's words, with the rule that is missing.
        detail: String,
    },
    /// What is stored cannot be read (half-written, not this store's
    /// format, from a newer version): never guessed at, never overwritten.
    #[error("{what} cannot be read: {detail}; nothing was written over it")]
    Corrupt {
        /// The key or file.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Someone else wrote since the version the writer read.
    #[error("{store} changed since version {expected} (it is at {now:?} now)")]
    Conflict {
        /// The store.
        store: String,
        /// The version the writer expected.
        expected: u64,
        /// The version stored now, if known (`Some(0)`: nothing stored).
        now: Option<u64>,
    },
    /// The lease is gone: another process leads, or this one's lease ran
    /// out. A leader that sees this stops acting at once.
    #[error("lost the lead on {store}: {why}")]
    LeaseLost {
        /// The store.
        store: String,
        /// Why.
        why: String,
    },
}

/// Who a controller is, for the lock and for `split rollout status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// A name unique among the replicas (the hostname: a task's or a
    /// container's id).
    pub id: String,
    /// How long the lead lasts without a renew.
    pub ttl: Duration,
}

/// The lead, while it lasts.
#[derive(Debug)]
pub struct Lease {
    /// Who holds it.
    pub holder: String,
    /// How long it lasts without a renew.
    pub ttl: Duration,
    /// When the last renew that succeeded was sent (not answered: the
    /// store's clock started at most then).
    pub renewed: Instant,
    /// What the store needs to fence a write: a Consul session's id, a
    /// file store's lock and term.
    pub token: LeaseToken,
}

impl Lease {
    /// Whether the lease may have run out, by this process's own clock:
    /// past it, the holder acts on nothing until it has renewed.
    pub fn expired(&self) -> bool {
        self.renewed.elapsed() >= self.ttl
    }
}

/// A store's own proof of the lead.
#[derive(Debug)]
pub enum LeaseToken {
    /// A Consul session holding the lock key.
    Consul {
        /// The session's id.
        session: String,
    },
    /// A file store's term, and the OS lock if this process holds it.
    File {
        /// Goes up by one with each new leader.
        term: u64,
        /// The open lock file, locked; `None` when the lead was taken from
        /// a holder that stopped without dying.
        lock: Option<std::fs::File>,
    },
    /// Memory: one process, one leader.
    Memory,
}

/// Who leads, as the store says: for `split rollout status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leader {
    /// The holder's id.
    pub id: String,
    /// How the store knows (`session 3f2a... on node consul-server`, `lock
    /// held, lease renewed 2 s ago`).
    pub detail: String,
}

/// A migration's store. Every call is bounded in time (an answer, or
/// [`StoreError::Unreachable`]); none retries on its own.
pub trait Store: Send + Sync {
    /// For messages: where the state is (`Consul at https://...: key
    /// greeter-mesh/migration/state`, `/data/migration/state.json`).
    fn describe(&self) -> String;

    /// The value as stored now, read so that a leader may decide on it
    /// (Consul: `?consistent`); `None` when nothing is stored.
    fn read(&self) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;

    /// Waits until the stored version is no longer `seen`, or `wait` has
    /// passed, and answers what is stored then (a return does not mean a
    /// change).
    fn watch(
        &self,
        seen: u64,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;

    /// Replaces the value only if the stored version is still `expected`
    /// (0: only if nothing is stored); answers the new version.
    fn write(&self, value: &[u8], expected: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Tries once to take the lead; `None` when someone else holds it (or
    /// the store makes everyone wait after a holder was lost: Consul's
    /// lock-delay).
    fn campaign(&self, me: &Candidate) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;

    /// Keeps the lead for another TTL, or says it is lost.
    fn renew(&self, lease: &mut Lease) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A leader's write: only while `lease` holds the lead and the stored
    /// version is `expected`, both checked by the store in one step.
    fn write_fenced(
        &self,
        lease: &Lease,
        value: &[u8],
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Gives the lead up (a clean stop): the next candidate takes it at
    /// once.
    fn resign(&self, lease: Lease) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Who leads now, if anyone.
    fn leader(&self) -> impl Future<Output = Result<Option<Leader>, StoreError>> + Send;
}
