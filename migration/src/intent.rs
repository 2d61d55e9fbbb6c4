//! People's commands on a stored migration (`split rollout start`,
//! `pause`, `resume`, `approve`, `abort`): each is checked against where
//! the migration stands (the machine's own refusals), then written into
//! the stored document with check-and-set ([`Store::write`]) and left for
//! the leader, who acts on it within seconds. A refused command writes
//! nothing; a race lost to another writer is read again and retried.

use crate::machine::Refusal;
use crate::record::{MAX_REQUESTS, Record, Request, Verb};
use crate::store::{Store, StoreError};

/// How often a command retries a check-and-set lost to another writer.
const RETRIES: usize = 5;

/// Why a command was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    /// The store could not be read or written (unreachable, a 403 naming
    /// the missing rule, a document that cannot be read).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// `start` while a migration runs.
    #[error(
        "a migration is already {phase} (started by {by}): `split rollout abort` it, or wait until it ends"
    )]
    Running {
        /// Its phase.
        phase: &'static str,
        /// Who started it.
        by: String,
    },
    /// A command with no migration stored.
    #[error("no migration is stored in {0}: `split rollout start` one")]
    NoMigration(String),
    /// The machine's own refusal.
    #[error("{0}")]
    Refusal(#[from] Refusal),
    /// Too many requests waiting: the leader is not acting on them.
    #[error("{0} requests already wait for the leader: is a controller running?")]
    Queue(usize),
    /// Lost the race to other writers too often.
    #[error("{0} changed under this command {RETRIES} times in a row: try again")]
    Busy(String),
}

/// Stores `record` as the migration to run, unless one runs. Answers the
/// version written.
pub async fn start<S: Store>(store: &S, record: &Record) -> Result<u64, Refused> {
    for _ in 0..RETRIES {
        let expected = match store.read().await? {
            None => 0,
            Some(stored) => {
                let old = Record::decode(&stored.value, &store.describe())?;
                if !old.is_ended() {
                    return Err(Refused::Running {
                        phase: old.machine.phase.name(),
                        by: old.started_by,
                    });
                }
                stored.version
            }
        };
        match store.write(&record.encode(), expected).await {
            Ok(version) => return Ok(version),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Refused::Busy(store.describe()))
}

/// Stores `verb` by `by` at `now` for the leader, if it applies where the
/// migration stands (with the requests already waiting taken first).
/// Answers the record as written.
pub async fn request<S: Store>(store: &S, verb: Verb, by: &str, now: f64) -> Result<Record, Refused> {
    for _ in 0..RETRIES {
        let (mut record, version) = read(store).await?;
        let mut machine = record.machine.clone();
        // What the leader will have done by the time it reaches this one;
        // a request it will refuse changes nothing.
        for waiting in &record.requests {
            machine = machine.next(waiting.verb.event()).unwrap_or(machine);
        }
        machine.next(verb.event())?;
        if record.requests.len() >= MAX_REQUESTS {
            return Err(Refused::Queue(record.requests.len()));
        }
        record.requests.push(Request {
            verb,
            by: by.to_owned(),
            at: now,
        });
        match store.write(&record.encode(), version).await {
            Ok(_) => return Ok(record),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Refused::Busy(store.describe()))
}

/// The stored migration and its version.
pub async fn read<S: Store>(store: &S) -> Result<(Record, u64), Refused> {
    let stored = store
        .read()
        .await?
        .ok_or_else(|| Refused::NoMigration(store.describe()))?;
    let record = Record::decode(&stored.value, &store.describe())?;
    Ok((record, stored.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Machine, Phase};
    use crate::plan::{Rollback, TargetKind};
    use crate::record::Webhooks;
    use crate::store::memory::MemoryStore;

    fn record(phase: Phase) -> Record {
        let plan = crate::record::tests::plan();
        let mut machine = Machine::new(
            plan.steps.0.clone(),
            vec!["100".parse().unwrap()],
            false,
            Rollback::Zero,
        );
        machine.phase = phase;
        Record::new(
            plan,
            TargetKind::Envoy,
            machine,
            Webhooks::default(),
            "ann@laptop",
            1.0,
        )
    }

    #[tokio::test]
    async fn start_refuses_while_one_runs_and_writes_nothing() {
        let store = MemoryStore::default();
        assert_eq!(start(&store, &record(Phase::Initialized)).await.unwrap(), 1);
        let err = start(&store, &record(Phase::Initialized)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "a migration is already initialized (started by ann@laptop): `split rollout abort` it, or wait until it ends"
        );
        assert_eq!(store.read().await.unwrap().unwrap().version, 1, "nothing written");
    }

    #[tokio::test]
    async fn start_replaces_an_ended_migration() {
        let store = MemoryStore::default();
        let over = record(Phase::Ended {
            ending: crate::machine::Conclusion::Succeeded,
            why: "done".into(),
        });
        store.write(&over.encode(), 0).await.unwrap();
        assert_eq!(start(&store, &record(Phase::Initialized)).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_request_is_stored_for_the_leader_and_a_refused_one_writes_nothing() {
        let store = MemoryStore::default();
        assert!(matches!(
            request(&store, Verb::Pause, "bob", 2.0).await,
            Err(Refused::NoMigration(_))
        ));
        store
            .write(&record(Phase::AwaitingApproval { step: 2 }).encode(), 0)
            .await
            .unwrap();
        let written = request(&store, Verb::Approve, "bob@desk", 2.0).await.unwrap();
        assert_eq!(written.requests[0].verb, Verb::Approve);
        assert_eq!(written.requests[0].by, "bob@desk");
        // The approval waiting is taken first: a second has nothing to
        // approve.
        let err = request(&store, Verb::Approve, "carol", 3.0).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "nothing waits for approval: the migration is writing"
        );
        assert_eq!(store.read().await.unwrap().unwrap().version, 2, "nothing written");
    }

    #[tokio::test]
    async fn a_document_that_cannot_be_read_is_never_written_over() {
        let store = MemoryStore::default();
        store.write(b"{\"schema\": 9}", 0).await.unwrap();
        for err in [
            start(&store, &record(Phase::Initialized)).await.unwrap_err(),
            request(&store, Verb::Abort, "bob", 1.0).await.unwrap_err(),
        ] {
            assert!(err.to_string().contains("schema 9, from a newer split"), "{err}");
        }
        assert_eq!(store.read().await.unwrap().unwrap().value, b"{\"schema\": 9}");
    }
}
