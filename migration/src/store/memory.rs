//! A store in this process's memory: `split migrate` drives the same
//! machine as the controller, and keeps its state here for as long as its
//! one terminal runs. It has one candidate, who always leads; its writes
//! are still versioned, so the driver's check-and-set is the same.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Candidate, Leader, Lease, LeaseToken, Store, StoreError, Stored};

/// The state, in memory.
#[derive(Debug)]
pub struct MemoryStore {
    stored: watch::Sender<Option<Stored>>,
    leader: Mutex<Option<String>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            stored: watch::Sender::new(None),
            leader: Mutex::new(None),
        }
    }
}

impl MemoryStore {
    fn leader_slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // A panic elsewhere cannot leave a half-written Option behind.
        self.leader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn put(&self, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        let mut result = Ok(0);
        self.stored.send_if_modified(|stored| {
            let now = stored.as_ref().map_or(0, |s| s.version);
            if now != expected {
                result = Err(StoreError::Conflict {
                    store: self.describe(),
                    expected,
                    now: Some(now),
                });
                return false;
            }
            *stored = Some(Stored {
                value: value.to_vec(),
                version: now + 1,
            });
            result = Ok(now + 1);
            true
        });
        result
    }
}

impl Store for MemoryStore {
    fn describe(&self) -> String {
        "this process's memory".to_owned()
    }

    async fn read(&self) -> Result<Option<Stored>, StoreError> {
        Ok(self.stored.borrow().clone())
    }

    async fn watch(&self, seen: u64, wait: Duration) -> Result<Option<Stored>, StoreError> {
        let mut receiver = self.stored.subscribe();
        let changed = receiver.wait_for(|s| s.as_ref().map_or(0, |s| s.version) != seen);
        let _ = tokio::time::timeout(wait, changed).await;
        Ok(self.stored.borrow().clone())
    }

    async fn write(&self, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        self.put(value, expected)
    }

    async fn campaign(&self, me: &Candidate) -> Result<Option<Lease>, StoreError> {
        let mut leader = self.leader_slot();
        if leader.as_ref().is_some_and(|id| *id != me.id) {
            return Ok(None);
        }
        *leader = Some(me.id.clone());
        Ok(Some(Lease {
            holder: me.id.clone(),
            ttl: me.ttl,
            renewed: Instant::now(),
            token: LeaseToken::Memory,
        }))
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), StoreError> {
        if self.leader_slot().as_deref() != Some(lease.holder.as_str()) {
            return Err(StoreError::LeaseLost {
                store: self.describe(),
                why: "resigned".to_owned(),
            });
        }
        lease.renewed = Instant::now();
        Ok(())
    }

    async fn write_fenced(&self, lease: &Lease, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        if self.leader_slot().as_deref() != Some(lease.holder.as_str()) {
            return Err(StoreError::LeaseLost {
                store: self.describe(),
                why: "resigned".to_owned(),
            });
        }
        self.put(value, expected)
    }

    async fn resign(&self, lease: Lease) -> Result<(), StoreError> {
        let mut leader = self.leader_slot();
        if leader.as_deref() == Some(lease.holder.as_str()) {
            *leader = None;
        }
        Ok(())
    }

    async fn leader(&self) -> Result<Option<Leader>, StoreError> {
        Ok(self.leader_slot().clone().map(|id| Leader {
            id,
            detail: "this process".to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Candidate {
        Candidate {
            id: "me".to_owned(),
            ttl: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn writes_are_versioned_and_a_stale_version_is_a_conflict() {
        let store = MemoryStore::default();
        assert_eq!(store.read().await.unwrap(), None);
        assert_eq!(store.write(b"one", 0).await.unwrap(), 1);
        assert!(matches!(
            store.write(b"again", 0).await,
            Err(StoreError::Conflict { now: Some(1), .. })
        ));
        let lease = store.campaign(&me()).await.unwrap().unwrap();
        assert_eq!(store.write_fenced(&lease, b"two", 1).await.unwrap(), 2);
        assert_eq!(store.read().await.unwrap().unwrap().value, b"two");
        store.resign(lease).await.unwrap();
        assert_eq!(store.leader().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_watch_returns_on_a_write() {
        let store = std::sync::Arc::new(MemoryStore::default());
        let writer = store.clone();
        let watched = tokio::spawn(async move { store.watch(0, Duration::from_secs(60)).await });
        writer.write(b"one", 0).await.unwrap();
        let seen = watched.await.unwrap().unwrap().unwrap();
        assert_eq!(seen.version, 1);
    }
}
