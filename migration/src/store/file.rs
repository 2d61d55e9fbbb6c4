//! The migration's state in a directory both controller replicas mount
//! (`CONTROLLER_STORE=file:<dir>`), for compose, where no Consul can be had.
//! The replicas run on one host, so they share its kernel and its clock.
//!
//! The directory holds:
//!
//! - `state.json`: the value, its version, and who wrote it: `{"format":
//!   1, "version": 7, "writer": "ctrl-a", "term": 3, "value": "..."}`.
//!   Every write goes to a temporary file in the same directory, is
//!   fsynced, renamed over `state.json` and the directory fsynced, so a
//!   reader sees the old file or the new one, never half of one, and a
//!   crash loses at most the write in flight (leaving its temporary
//!   `.state.json.<pid>-<n>.tmp`, which nothing reads and anyone may
//!   delete). A file that cannot be read
//!   (empty, cut short, not this format, a newer format) is
//!   [`StoreError::Corrupt`] naming it, and nothing is written over it.
//! - `leader.lock`: the OS lock (`flock(2)`) the leader holds for as long
//!   as it leads. The kernel releases it when its holder dies, however it
//!   dies, so a standby takes over a kill -9'd leader at once.
//! - `lease.json`: the lead's term, holder, and when it was last renewed
//!   (wall clock) for how long. A holder that stopped without dying
//!   (SIGSTOP, `docker pause`) keeps its OS lock, so the lock alone would
//!   keep the lead stuck with it: a standby that cannot get the lock takes
//!   the lead once the lease has run out, with the next term, and leads by
//!   the lease alone until the stopped process lets the lock go (it does
//!   when it wakes, sees the lead lost and drops its [`Lease`]); its next
//!   renew then takes the lock too. A standby that gets the lock while the
//!   lease names a holder that led by the lease alone waits for that lease
//!   to run out: the free lock says nothing about such a holder.
//! - `store.lock`: a second OS lock, held only around each
//!   read-compare-write (a write's version check, a fenced write's term
//!   check, a renew, a campaign), which makes each of them atomic. The
//!   fence is the term: a fenced write whose lease's term is no longer the
//!   one in `lease.json` is refused, so a woken leader writes nothing. A
//!   process stopped inside that short window (a few milliseconds) holds
//!   `store.lock` while stopped: the others cannot write, renew or
//!   campaign, and answer [`StoreError::Unreachable`] after
//!   [`GUARD_WAIT`]; nothing is lost or written twice, and they go on as
//!   soon as it wakes (finishing the one write it had checked, which nobody
//!   else could have overtaken) or dies.
//!
//! [`Store::watch`] polls `state.json` every [`POLL`].

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};

use super::{Candidate, Leader, Lease, LeaseToken, Store, StoreError, Stored};

/// The value and its version.
pub const STATE_FILE: &str = "state.json";
/// The lead's term, holder and renewal.
pub const LEASE_FILE: &str = "lease.json";
/// The leader's OS lock.
pub const LOCK_FILE: &str = "leader.lock";
/// The short-held lock around each read-compare-write.
pub const GUARD_FILE: &str = "store.lock";
/// The format this version writes and reads; a newer one is refused.
pub const FORMAT: u64 = 1;
/// How often [`Store::watch`] looks at `state.json`.
pub const POLL: Duration = Duration::from_millis(200);
/// How long a call waits for `store.lock` before giving up.
pub const GUARD_WAIT: Duration = Duration::from_secs(5);

/// `state.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: u64,
    version: u64,
    /// The leader that wrote it (a fenced write), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    writer: Option<String>,
    /// Its term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    term: Option<u64>,
    /// The value as text (it is JSON, so it is UTF-8)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// ...or, were it not, in base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
}

/// `lease.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseFile {
    format: u64,
    term: u64,
    /// `None` once resigned.
    holder: Option<String>,
    /// Whether the holder holds `leader.lock` too.
    locked: bool,
    /// Wall clock, milliseconds since the epoch.
    renewed_at_ms: u64,
    ttl_ms: u64,
}

impl LeaseFile {
    fn runs_out_at_ms(&self) -> u64 {
        self.renewed_at_ms.saturating_add(self.ttl_ms)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The directory and what is done in it, synchronously (run on tokio's
/// blocking threads).
#[derive(Debug, Clone)]
struct Dir {
    path: PathBuf,
}

/// `store.lock`, held until dropped (closing the file releases it).
struct Guard(#[allow(dead_code)] File);

impl Dir {
    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn describe(&self) -> String {
        format!("the file store in {}", self.path.display())
    }

    fn io(&self, request: &str, error: &std::io::Error) -> StoreError {
        if error.kind() == ErrorKind::PermissionDenied || error.kind() == ErrorKind::ReadOnlyFilesystem {
            StoreError::Forbidden {
                store: self.describe(),
                request: request.to_owned(),
                detail: error.to_string(),
            }
        } else {
            StoreError::Unreachable {
                store: self.describe(),
                cause: format!("{request}: {error}"),
            }
        }
    }

    fn corrupt(&self, name: &str, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            what: self.file(name).display().to_string(),
            detail: detail.into(),
        }
    }

    fn open_lock_file(&self, name: &str) -> Result<File, StoreError> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.file(name))
            .map_err(|e| self.io(&format!("open {name}"), &e))
    }

    /// An exclusive OS lock on `file` (named `name`), if nobody else
    /// holds it: `false` when someone does.
    fn try_flock(&self, file: &File, name: &str) -> Result<bool, StoreError> {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => Ok(false),
            Err(e) => Err(self.io(&format!("lock {name}"), &e.into())),
        }
    }

    /// `leader.lock`, if nobody else holds it.
    fn try_os_lock(&self) -> Result<Option<File>, StoreError> {
        let file = self.open_lock_file(LOCK_FILE)?;
        Ok(self.try_flock(&file, LOCK_FILE)?.then_some(file))
    }

    /// `store.lock`, waited for up to `GUARD_WAIT`.
    fn guard(&self) -> Result<Guard, StoreError> {
        let file = self.open_lock_file(GUARD_FILE)?;
        let deadline = Instant::now() + GUARD_WAIT;
        while !self.try_flock(&file, GUARD_FILE)? {
            if Instant::now() >= deadline {
                return Err(StoreError::Unreachable {
                    store: self.describe(),
                    cause: format!(
                        "{GUARD_FILE} has been held for over {} s: a process is stopped inside a write (SIGSTOP, docker pause); \
                         nothing was done, try again when it runs or is gone",
                        GUARD_WAIT.as_secs_f32()
                    ),
                });
            }
            // Held for a few milliseconds at a time.
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(Guard(file))
    }

    /// A whole file, or `None` when there is none.
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut bytes = Vec::new();
        match File::open(self.file(name)) {
            Ok(mut file) => file
                .read_to_end(&mut bytes)
                .map_err(|e| self.io(&format!("read {name}"), &e))?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&format!("read {name}"), &e)),
        };
        Ok(Some(bytes))
    }

    /// A file of this store's, its format checked before anything else so
    /// that a newer one is named as such.
    fn parse<T: serde::de::DeserializeOwned>(&self, name: &str, bytes: &[u8]) -> Result<T, StoreError> {
        if bytes.is_empty() {
            return Err(self.corrupt(name, "it is empty (a write cut short?)"));
        }
        let json: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| self.corrupt(name, format!("it is not JSON, or is cut short ({e})")))?;
        let format = json
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| self.corrupt(name, "it has no format: not this store's file"))?;
        if format > FORMAT {
            return Err(self.corrupt(
                name,
                format!("it was written by a newer version (format {format}; this one reads {FORMAT})"),
            ));
        }
        if format != FORMAT {
            return Err(self.corrupt(name, format!("format {format} is not one this version reads")));
        }
        serde_json::from_value(json).map_err(|e| self.corrupt(name, format!("not this store's format ({e})")))
    }

    fn read_state(&self) -> Result<Option<Stored>, StoreError> {
        let Some(bytes) = self.read_file(STATE_FILE)? else {
            return Ok(None);
        };
        let state: StateFile = self.parse(STATE_FILE, &bytes)?;
        if state.version == 0 {
            return Err(self.corrupt(STATE_FILE, "version 0: no write makes it"));
        }
        let value = match (state.value, state.value_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => BASE64
                .decode(encoded)
                .map_err(|e| self.corrupt(STATE_FILE, format!("value_base64 is not base64 ({e})")))?,
            _ => return Err(self.corrupt(STATE_FILE, "it holds not exactly one of value and value_base64")),
        };
        Ok(Some(Stored {
            value,
            version: state.version,
        }))
    }

    fn read_lease(&self) -> Result<Option<LeaseFile>, StoreError> {
        match self.read_file(LEASE_FILE)? {
            None => Ok(None),
            Some(bytes) => self.parse(LEASE_FILE, &bytes).map(Some),
        }
    }

    /// Writes a whole file atomically: a temporary file in the directory,
    /// fsynced, renamed over the file, the directory fsynced.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let request = format!("write {name}");
        let temporary = self.file(&format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, self.file(name))?;
            File::open(&self.path)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(self.io(&request, &e));
        }
        Ok(())
    }

    fn write_lease(&self, lease: &LeaseFile) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(lease).map_err(|e| StoreError::Unreachable {
            store: self.describe(),
            cause: e.to_string(),
        })?;
        self.write_atomic(LEASE_FILE, &bytes)
    }

    /// The lease still this holder's at this term, or why not.
    fn check_lease(&self, holder: &str, term: u64) -> Result<LeaseFile, StoreError> {
        let lost = |why: String| StoreError::LeaseLost {
            store: self.describe(),
            why,
        };
        match self.read_lease()? {
            Some(lease) if lease.term == term && lease.holder.as_deref() == Some(holder) => Ok(lease),
            Some(lease) if lease.term != term => Err(lost(match &lease.holder {
                Some(other) => format!(
                    "the lead moved to {other} (term {}) after this process's lease (term {term}) ran out",
                    lease.term
                ),
                None => format!(
                    "term {} was given up since this process's (term {term})",
                    lease.term
                ),
            })),
            Some(_) => Err(lost(format!("term {term} was given up"))),
            None => Err(lost(format!("{LEASE_FILE} is gone"))),
        }
    }

    fn campaign(&self, holder: &str, ttl: Duration) -> Result<Option<(u64, Option<File>)>, StoreError> {
        let os_lock = self.try_os_lock()?;
        let _guard = self.guard()?;
        let lease = self.read_lease()?;
        let now = now_ms();
        let free = match &lease {
            None => true,
            Some(held) if held.holder.is_none() => true,
            // A holder that held the OS lock lets it go only by dying or
            // giving the lead up; one that led by its lease alone is free
            // to take only once that lease has run out.
            Some(held) => (os_lock.is_some() && held.locked) || now >= held.runs_out_at_ms(),
        };
        if !free {
            return Ok(None);
        }
        let term = lease.map_or(0, |l| l.term) + 1;
        self.write_lease(&LeaseFile {
            format: FORMAT,
            term,
            holder: Some(holder.to_owned()),
            locked: os_lock.is_some(),
            renewed_at_ms: now,
            ttl_ms: millis(ttl),
        })?;
        Ok(Some((term, os_lock)))
    }

    /// Renews the lease; answers the OS lock if it was taken now.
    fn renew(
        &self,
        holder: &str,
        term: u64,
        locked: bool,
        ttl: Duration,
    ) -> Result<Option<File>, StoreError> {
        let _guard = self.guard()?;
        self.check_lease(holder, term)?;
        let taken = if locked { None } else { self.try_os_lock()? };
        self.write_lease(&LeaseFile {
            format: FORMAT,
            term,
            holder: Some(holder.to_owned()),
            locked: locked || taken.is_some(),
            renewed_at_ms: now_ms(),
            ttl_ms: millis(ttl),
        })?;
        Ok(taken)
    }

    fn put(&self, value: &[u8], expected: u64, fence: Option<(&str, u64)>) -> Result<u64, StoreError> {
        let _guard = self.guard()?;
        if let Some((holder, term)) = fence {
            self.check_lease(holder, term)?;
        }
        // A file that cannot be read stops the write: nothing over it.
        let now = self.read_state()?.map_or(0, |s| s.version);
        if now != expected {
            return Err(StoreError::Conflict {
                store: self.describe(),
                expected,
                now: Some(now),
            });
        }
        let (text, encoded) = match std::str::from_utf8(value) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(BASE64.encode(value))),
        };
        let state = StateFile {
            format: FORMAT,
            version: now + 1,
            writer: fence.map(|(holder, _)| holder.to_owned()),
            term: fence.map(|(_, term)| term),
            value: text,
            value_base64: encoded,
        };
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| StoreError::Unreachable {
            store: self.describe(),
            cause: e.to_string(),
        })?;
        self.write_atomic(STATE_FILE, &bytes)?;
        Ok(now + 1)
    }

    fn resign(&self, holder: &str, term: u64) -> Result<(), StoreError> {
        let _guard = self.guard()?;
        if self.check_lease(holder, term).is_ok() {
            self.write_lease(&LeaseFile {
                format: FORMAT,
                term,
                holder: None,
                locked: false,
                renewed_at_ms: now_ms(),
                ttl_ms: 0,
            })?;
        }
        Ok(())
    }

    fn leader(&self) -> Result<Option<Leader>, StoreError> {
        let Some(lease) = self.read_lease()? else {
            return Ok(None);
        };
        let Some(id) = lease.holder.clone() else {
            return Ok(None);
        };
        let now = now_ms();
        let how = if lease.locked {
            format!("holds the OS lock on {}", self.file(LOCK_FILE).display())
        } else {
            "leads by its lease alone (the holder before it stopped with the OS lock)".to_owned()
        };
        let ago = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
        let mut detail = format!(
            "term {}; {how}; lease renewed {} ago",
            lease.term,
            ago(now.saturating_sub(lease.renewed_at_ms))
        );
        if now >= lease.runs_out_at_ms() {
            detail.push_str(&format!("; it ran out {} ago", ago(now - lease.runs_out_at_ms())));
        }
        Ok(Some(Leader { id, detail }))
    }
}

/// The state in a directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: Dir,
}

impl FileStore {
    /// The store in `dir`, made if missing; its lock file is opened now, so
    /// a directory that cannot be written is named before any campaign.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = Dir { path: dir.into() };
        std::fs::create_dir_all(&dir.path).map_err(|e| dir.io("create the directory", &e))?;
        dir.open_lock_file(GUARD_FILE)?;
        Ok(Self { dir })
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Dir) -> Result<T, StoreError> + Send + 'static,
    {
        let dir = self.dir.clone();
        let store = dir.describe();
        tokio::task::spawn_blocking(move || work(&dir))
            .await
            .unwrap_or_else(|e| {
                Err(StoreError::Unreachable {
                    store,
                    cause: format!("the file operation failed: {e}"),
                })
            })
    }

    fn file_token(&self, lease: &Lease) -> Result<(u64, bool), StoreError> {
        match &lease.token {
            LeaseToken::File { term, lock } => Ok((*term, lock.is_some())),
            _ => Err(StoreError::LeaseLost {
                store: self.describe(),
                why: "the lease is not a file store's".to_owned(),
            }),
        }
    }
}

impl Store for FileStore {
    fn describe(&self) -> String {
        self.dir.describe()
    }

    async fn read(&self) -> Result<Option<Stored>, StoreError> {
        self.blocking(Dir::read_state).await
    }

    async fn watch(&self, seen: u64, wait: Duration) -> Result<Option<Stored>, StoreError> {
        let deadline = Instant::now() + wait;
        loop {
            let stored = self.read().await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if stored.as_ref().map_or(0, |s| s.version) != seen || remaining.is_zero() {
                return Ok(stored);
            }
            tokio::time::sleep(POLL.min(remaining)).await;
        }
    }

    async fn write(&self, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        let value = value.to_vec();
        self.blocking(move |dir| dir.put(&value, expected, None)).await
    }

    async fn campaign(&self, me: &Candidate) -> Result<Option<Lease>, StoreError> {
        let (id, ttl) = (me.id.clone(), me.ttl);
        let sent = Instant::now();
        let won = self.blocking(move |dir| dir.campaign(&id, ttl)).await?;
        Ok(won.map(|(term, lock)| Lease {
            holder: me.id.clone(),
            ttl,
            renewed: sent,
            token: LeaseToken::File { term, lock },
        }))
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), StoreError> {
        let (term, locked) = self.file_token(lease)?;
        let (holder, ttl) = (lease.holder.clone(), lease.ttl);
        let sent = Instant::now();
        let taken = self
            .blocking(move |dir| dir.renew(&holder, term, locked, ttl))
            .await?;
        if let (Some(taken), LeaseToken::File { lock, .. }) = (taken, &mut lease.token) {
            *lock = Some(taken);
        }
        lease.renewed = sent;
        Ok(())
    }

    async fn write_fenced(&self, lease: &Lease, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        let (term, _) = self.file_token(lease)?;
        let (holder, value) = (lease.holder.clone(), value.to_vec());
        self.blocking(move |dir| dir.put(&value, expected, Some((&holder, term))))
            .await
    }

    async fn resign(&self, lease: Lease) -> Result<(), StoreError> {
        let (term, _) = self.file_token(&lease)?;
        let holder = lease.holder.clone();
        let resigned = self.blocking(move |dir| dir.resign(&holder, term)).await;
        // Closing the lock file lets the next candidate take the lead.
        drop(lease);
        resigned
    }

    async fn leader(&self) -> Result<Option<Leader>, StoreError> {
        self.blocking(Dir::leader).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed after the test.
    fn temp_dir() -> tempfile::TempDir {
        tempfile::Builder::new().prefix("file-store-").tempdir().unwrap()
    }

    fn candidate(id: &str, ttl: Duration) -> Candidate {
        Candidate {
            id: id.to_owned(),
            ttl,
        }
    }

    fn term(lease: &Lease) -> u64 {
        match lease.token {
            LeaseToken::File { term, .. } => term,
            _ => 0,
        }
    }

    #[tokio::test]
    async fn writes_are_versioned_and_a_stale_version_is_a_conflict() {
        let dir = temp_dir();
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(store.read().await.unwrap(), None);
        assert_eq!(store.write(b"{\"n\":1}", 0).await.unwrap(), 1);
        assert_eq!(
            store.write(b"again", 0).await,
            Err(StoreError::Conflict {
                store: store.describe(),
                expected: 0,
                now: Some(1)
            })
        );
        assert_eq!(store.write(&[0xff, 0x00], 1).await.unwrap(), 2);
        assert_eq!(
            store.read().await.unwrap(),
            Some(Stored {
                value: vec![0xff, 0x00],
                version: 2
            })
        );
        // Nothing left behind but the store's own files.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [STATE_FILE, GUARD_FILE]);
    }

    #[tokio::test]
    async fn a_dropped_leader_is_replaced_at_once_and_its_term_fences_it() {
        let dir = temp_dir();
        let (a, b) = (
            FileStore::open(dir.path()).unwrap(),
            FileStore::open(dir.path()).unwrap(),
        );
        let long = Duration::from_secs(3600);
        let lead = a.campaign(&candidate("a", long)).await.unwrap().unwrap();
        assert_eq!(term(&lead), 1);
        assert!(b.campaign(&candidate("b", long)).await.unwrap().is_none());
        assert_eq!(a.write_fenced(&lead, b"a1", 0).await.unwrap(), 1);
        assert_eq!(b.leader().await.unwrap().unwrap().id, "a");

        drop(lead);
        let mut taken = b.campaign(&candidate("b", long)).await.unwrap().unwrap();
        assert_eq!(term(&taken), 2);
        assert!(matches!(taken.token, LeaseToken::File { lock: Some(_), .. }));
        b.renew(&mut taken).await.unwrap();
        assert_eq!(b.write_fenced(&taken, b"b1", 1).await.unwrap(), 2);
        b.resign(taken).await.unwrap();
        assert_eq!(b.leader().await.unwrap(), None);
        let again = a.campaign(&candidate("a", long)).await.unwrap().unwrap();
        assert_eq!(term(&again), 3);
    }

    #[tokio::test]
    async fn a_lease_that_ran_out_is_taken_without_the_os_lock_and_the_old_term_is_refused() {
        let dir = temp_dir();
        let (a, b) = (
            FileStore::open(dir.path()).unwrap(),
            FileStore::open(dir.path()).unwrap(),
        );
        // A lease that has run out as soon as it is written: a holder that
        // stopped and never renewed.
        let mut stale = a
            .campaign(&candidate("a", Duration::ZERO))
            .await
            .unwrap()
            .unwrap();
        let mut taken = b
            .campaign(&candidate("b", Duration::from_secs(3600)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(term(&taken), 2);
        assert!(matches!(taken.token, LeaseToken::File { lock: None, .. }));
        assert!(b.leader().await.unwrap().unwrap().detail.contains("lease alone"));

        let refused = a.write_fenced(&stale, b"a", 0).await.unwrap_err();
        assert!(
            matches!(&refused, StoreError::LeaseLost { why, .. } if why.contains("moved to b (term 2)")),
            "{refused}"
        );
        assert!(matches!(
            a.renew(&mut stale).await,
            Err(StoreError::LeaseLost { .. })
        ));
        assert_eq!(a.read().await.unwrap(), None);
        // The old holder lets its lock go; the new one's renew takes it.
        drop(stale);
        b.renew(&mut taken).await.unwrap();
        assert!(matches!(taken.token, LeaseToken::File { lock: Some(_), .. }));
    }

    #[tokio::test]
    async fn a_watch_returns_on_a_write_and_after_its_wait() {
        let dir = temp_dir();
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(store.watch(0, Duration::from_millis(10)).await.unwrap(), None);
        let writer = store.clone();
        let watched = tokio::spawn(async move { store.watch(0, Duration::from_secs(60)).await });
        writer.write(b"one", 0).await.unwrap();
        assert_eq!(watched.await.unwrap().unwrap().unwrap().version, 1);
    }

    #[tokio::test]
    async fn a_lease_file_that_cannot_be_read_stops_the_campaign_and_is_left_as_it_is() {
        let dir = temp_dir();
        let store = FileStore::open(dir.path()).unwrap();
        let newer = b"{\"format\":2,\"term\":9,\"holder\":\"x\",\"epoch\":3}";
        std::fs::write(dir.path().join(LEASE_FILE), newer).unwrap();

        let err = store
            .campaign(&candidate("a", Duration::from_secs(1)))
            .await
            .unwrap_err();

        assert!(
            matches!(&err, StoreError::Corrupt { what, detail }
                if what.ends_with(LEASE_FILE) && detail.contains("newer version (format 2")),
            "{err}"
        );
        assert!(matches!(store.leader().await, Err(StoreError::Corrupt { .. })));
        assert_eq!(std::fs::read(dir.path().join(LEASE_FILE)).unwrap(), newer);
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_read_is_named_and_never_written_over() {
        let dir = temp_dir();
        let store = FileStore::open(dir.path()).unwrap();
        for (bytes, says) in [
            (&b""[..], "empty"),
            (
                &b"{\"format\":1,\"version\":3,\"val"[..],
                "not JSON, or is cut short",
            ),
            (&b"[1,2]"[..], "no format"),
            (
                &b"{\"format\":2,\"version\":3,\"value\":\"x\"}"[..],
                "newer version (format 2",
            ),
            (
                &b"{\"format\":1,\"version\":3,\"value\":\"x\",\"extra\":1}"[..],
                "not this store's format",
            ),
            (&b"{\"format\":1,\"version\":3}"[..], "not exactly one of value"),
        ] {
            std::fs::write(dir.path().join(STATE_FILE), bytes).unwrap();
            let err = store.read().await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Corrupt { what, detail }
                    if what.ends_with(STATE_FILE) && detail.contains(says)),
                "{err}"
            );
            assert!(matches!(
                store.write(b"new", 3).await,
                Err(StoreError::Corrupt { .. })
            ));
            assert_eq!(std::fs::read(dir.path().join(STATE_FILE)).unwrap(), bytes);
        }
    }
}
