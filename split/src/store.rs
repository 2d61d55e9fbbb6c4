//! Which store a command or the controller uses: `CONTROLLER_STORE` (or
//! `split rollout --store`): `consul` (Consul's KV, Consul's variables),
//! `file:<dir>` (a directory the replicas share), or `memory` (this
//! process alone: for tests and measurements, nothing is shared). One
//! enum in front of the stores, since a store's trait is generic. The
//! lease lasts `CONTROLLER_LEASE_TTL` (15 s; Consul's sessions take 10 s
//! to 24 h).

use std::time::Duration;

use migration::consul::{SettingsError, duration_setting};
use migration::store::consul::{ConsulStore, ConsulStoreSettings, DEFAULT_TTL, MAX_TTL};
use migration::store::file::FileStore;
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
    /// Opens the store and answers the lease a controller campaigns with
    /// (`CONTROLLER_LEASE_TTL`, 15 s by default); `env` reads Consul's
    /// variables.
    pub fn open(&self, env: impl Fn(&str) -> Option<String>) -> Result<(AnyStore, Duration), OpenError> {
        // The replicas of a file or memory store share one clock: their
        // lease may be short.
        let local_ttl = || duration_setting(&env, TTL, DEFAULT_TTL, FILE_MIN_TTL, MAX_TTL);
        match self {
            Self::Consul => {
                let settings = ConsulStoreSettings::from_lookup(&env)?;
                let ttl = settings.ttl;
                let store = ConsulStore::new(settings).map_err(|e| SettingsError {
                    variable: "CONSUL_CACERT",
                    problem: e.to_string(),
                })?;
                Ok((AnyStore::Consul(Box::new(store)), ttl))
            }
            Self::File(dir) => {
                let ttl = local_ttl()?;
                let store = FileStore::open(dir).map_err(OpenError::Store)?;
                Ok((AnyStore::File(store), ttl))
            }
            Self::Memory => Ok((AnyStore::Memory(MemoryStore::default()), local_ttl()?)),
        }
    }
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A setting that cannot be used: bad input (exit 64).
    #[error(transparent)]
    Setting(#[from] SettingsError),
    /// The store refused or could not be reached (exit 1).
    #[error(transparent)]
    Store(StoreError),
}

/// The lease's TTL.
const TTL: &str = "CONTROLLER_LEASE_TTL";
/// A file store's lease may be short: the replicas share one clock.
const FILE_MIN_TTL: Duration = Duration::from_secs(1);

/// One of the stores.
#[derive(Debug)]
pub enum AnyStore {
    /// Consul's KV.
    Consul(Box<ConsulStore>),
    /// A directory.
    File(FileStore),
    /// This process's memory.
    Memory(MemoryStore),
}

macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Consul($store) => $call,
            AnyStore::File($store) => $call,
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
