//! Which store a command or the controller uses: `CONTROLLER_STORE` (or
//! `split rollout --store`): `consul` (Consul's KV, Consul's variables),
//! `file:<dir>` (a directory the replicas share), or `memory` (this
//! process alone: for tests and measurements, nothing is shared). One
//! enum in front of the stores, since a store's trait is generic.

use std::time::Duration;

use migration::store::memory::MemoryStore;
use migration::store::{Candidate, Leader, Lease, Store, StoreError, Stored};

/// The variable that names the store.
pub const VARIABLE: &str = "CONTROLLER_STORE";

/// A store as named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// Consul's KV.
    Consul,
    /// A directory.
    File(std::path::PathBuf),
    /// This process's memory.
    Memory,
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim() {
            "consul" => Ok(Self::Consul),
            "memory" => Ok(Self::Memory),
            other => match other.strip_prefix("file:") {
                Some(dir) if !dir.is_empty() => Ok(Self::File(dir.into())),
                _ => Err(format!("{raw:?} is not consul, file:<dir> or memory")),
            },
        }
    }
}

impl StoreSpec {
    /// Opens the store; `env` reads Consul's variables. A bad setting is
    /// `Err((variable, problem))`.
    pub fn open(&self, env: impl Fn(&str) -> Option<String>) -> Result<AnyStore, (&'static str, String)> {
        let _ = &env;
        match self {
            Self::Memory => Ok(AnyStore::Memory(MemoryStore::default())),
            Self::Consul | Self::File(_) => {
                Err((VARIABLE, format!("{self:?}: this build has no such store yet")))
            }
        }
    }

    /// The lease a controller campaigns with.
    pub fn ttl(&self, env: impl Fn(&str) -> Option<String>) -> Duration {
        let _ = env;
        Duration::from_secs(15)
    }
}

/// One of the stores.
#[derive(Debug)]
pub enum AnyStore {
    /// This process's memory.
    Memory(MemoryStore),
}

macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($store) => $call,
        }
    };
}

impl Store for AnyStore {
    fn describe(&self) -> String {
        each!(self, s => s.describe())
    }

    async fn read(&self) -> Result<Option<Stored>, StoreError> {
        each!(self, s => s.read().await)
    }

    async fn watch(&self, seen: u64, wait: Duration) -> Result<Option<Stored>, StoreError> {
        each!(self, s => s.watch(seen, wait).await)
    }

    async fn write(&self, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        each!(self, s => s.write(value, expected).await)
    }

    async fn campaign(&self, me: &Candidate) -> Result<Option<Lease>, StoreError> {
        each!(self, s => s.campaign(me).await)
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), StoreError> {
        each!(self, s => s.renew(lease).await)
    }

    async fn write_fenced(&self, lease: &Lease, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        each!(self, s => s.write_fenced(lease, value, expected).await)
    }

    async fn resign(&self, lease: Lease) -> Result<(), StoreError> {
        each!(self, s => s.resign(lease).await)
    }

    async fn leader(&self) -> Result<Option<Leader>, StoreError> {
        each!(self, s => s.leader().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_named_as_the_contract_says() {
        assert_eq!("consul".parse::<StoreSpec>(), Ok(StoreSpec::Consul));
        assert_eq!(
            "file:/data/migration".parse::<StoreSpec>(),
            Ok(StoreSpec::File("/data/migration".into()))
        );
        for bad in ["", "file:", "etcd", "FILE:/x"] {
            assert!(bad.parse::<StoreSpec>().is_err(), "{bad}");
        }
    }
}
