//! `split controller`'s loop: campaign for the lead; once leading, read
//! the stored migration and drive it ([`crate::driver`]) until it ends,
//! then wait for the next one; a lost lead stops the driver at once and
//! the replica campaigns again; shutdown (SIGTERM) resigns the lead, so
//! the other replica takes over without waiting for the lease to run out.
//!
//! A stored document this build cannot read (corrupt, from a newer
//! version) stops the leader from acting: it says so (the log, `/status`)
//! naming the key or file, never writes over it, and looks again when the
//! document changes.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::driver::{Driver, Leadership, Stop};
use crate::metrics::MigrationMetrics;
use crate::plan::Judge;
use crate::progress::Progress;
use crate::record::Record;
use crate::store::{Candidate, Store, StoreError};
use crate::target::{Target, TargetKind};
use reqwest::Url;

/// How long a replica that did not get the lead waits before it asks
/// again.
pub const CAMPAIGN_EVERY: Duration = Duration::from_secs(1);
/// How long a leader with nothing to do waits for a change before it
/// reads the store again.
pub const IDLE_WATCH: Duration = Duration::from_secs(30);

/// What the controller shares with its HTTP side.
#[derive(Debug)]
pub struct Shared {
    /// The record as last read or stored.
    pub record: watch::Sender<Option<Record>>,
    /// Why the leader does not act, when it cannot (an unreadable
    /// document, a store that fails).
    pub problem: watch::Sender<Option<String>>,
    /// Whether this replica leads.
    pub leads: watch::Sender<bool>,
    /// The controller's metrics.
    pub metrics: MigrationMetrics,
    /// The driver's lines (a log) and its live line (the window so far).
    pub progress: Progress,
}

impl Shared {
    /// The record as read or stored: for `/status`, and for the metrics of
    /// a replica that did not make its last transition itself.
    pub fn publish(&self, record: Record) {
        self.metrics.observed(&record);
        self.record.send_replace(Some(record));
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            record: watch::Sender::new(None),
            problem: watch::Sender::new(None),
            leads: watch::Sender::new(false),
            metrics: MigrationMetrics::default(),
            progress: Progress::kept(),
        }
    }
}

/// What this replica knows better than the stored plan: where ingress
/// and Prometheus are from here, and where the split is held.
#[derive(Debug, Clone)]
pub struct Local {
    /// ingress, for probes (`INGRESS_URL`).
    pub ingress: Option<Url>,
    /// Prometheus, for the judge (`PROMETHEUS_URL`).
    pub prometheus: Option<Url>,
    /// Where this controller moves the split (`CONTROLLER_TARGET`).
    pub target: TargetKind,
}

impl Local {
    /// `record`'s plan with this replica's addresses; `Err` when the
    /// migration moves the split somewhere this controller does not.
    fn apply(&self, record: &mut Record) -> Result<(), String> {
        if record.target != self.target {
            return Err(format!(
                "not acting: the stored migration moves the split on {:?}; this controller's CONTROLLER_TARGET is {:?}",
                record.target, self.target
            ));
        }
        if let Some(url) = &self.ingress {
            record.plan.url = url.clone();
        }
        if let (Some(local), Judge::Prometheus { url, .. }) = (&self.prometheus, &mut record.plan.judge) {
            *url = local.clone();
        }
        Ok(())
    }
}

/// Runs until `shutdown` resolves: campaigns as `me`, and drives what
/// `store` holds on a target `target()` makes (a new one for each
/// migration: a new leader has read nothing yet).
pub async fn run<S, T, D>(store: &S, me: &Candidate, target: T, shared: &Shared, local: &Local, shutdown: D)
where
    S: Store,
    T: Fn() -> Target,
    D: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        let lease = tokio::select! {
            () = &mut shutdown => return,
            lease = campaign(store, me, shared) => lease,
        };
        let lead = Leadership::new(lease);
        shared.metrics.set_leader(true);
        shared.leads.send_replace(true);
        shared
            .progress
            .line(&format!("{} leads {}", me.id, store.describe()));
        let stop = tokio::select! {
            stop = lead_until_stopped(store, &lead, &target, shared, local, &mut shutdown) => stop,
            () = lead.keep(store) => Stop::LostLead(lead.lost().await),
        };
        shared.metrics.set_leader(false);
        shared.leads.send_replace(false);
        shared.progress.line(&format!("{} stops leading: {stop}", me.id));
        if stop == Stop::Shutdown {
            if let Err(e) = lead.resign(store).await {
                shared.progress.line(&format!("resigning the lead failed: {e}"));
            }
            return;
        }
    }
}

/// Asks for the lead until it is given.
async fn campaign<S: Store>(store: &S, me: &Candidate, shared: &Shared) -> crate::store::Lease {
    loop {
        match store.campaign(me).await {
            Ok(Some(lease)) => return lease,
            Ok(None) => {}
            Err(e) => {
                shared.problem.send_replace(Some(format!("campaigning: {e}")));
            }
        }
        // A follower shows the record too.
        if let Ok(Some(stored)) = store.read().await
            && let Ok(record) = Record::decode(&stored.value, &store.describe())
        {
            shared.publish(record);
        }
        tokio::time::sleep(CAMPAIGN_EVERY).await;
    }
}

/// Leads until the lead is lost or `shutdown` resolves: drives each
/// stored migration in turn.
async fn lead_until_stopped<S, T, D>(
    store: &S,
    lead: &Leadership,
    target: &T,
    shared: &Shared,
    local: &Local,
    shutdown: &mut std::pin::Pin<&mut D>,
) -> Stop
where
    S: Store,
    T: Fn() -> Target,
    D: Future<Output = ()>,
{
    let mut seen = 0;
    loop {
        let waited = tokio::select! {
            () = shutdown.as_mut() => return Stop::Shutdown,
            why = lead.lost() => return Stop::LostLead(why),
            waited = next_to_drive(store, seen, shared) => waited,
        };
        let (mut record, version) = match waited {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err((version, problem)) => {
                seen = version;
                shared.progress.line(&problem);
                shared.problem.send_replace(Some(problem));
                continue;
            }
        };
        if let Err(problem) = local.apply(&mut record) {
            seen = version;
            shared.progress.line(&problem);
            shared.problem.send_replace(Some(problem));
            continue;
        }
        shared.problem.send_replace(None);
        let mut target = target();
        let driver = Driver {
            store,
            lead,
            target: &mut target,
            progress: &shared.progress,
            metrics: shared.metrics.clone(),
            published: Some(&shared.record),
        };
        match driver
            .drive(record, version, std::future::pending(), shutdown.as_mut())
            .await
        {
            Ok(_) => seen = 0,
            Err(stop @ (Stop::LostLead(_) | Stop::Shutdown)) => return stop,
            Err(stop) => {
                // Nothing was done that was not stored first: read again.
                shared
                    .progress
                    .line(&format!("driving stopped: {stop}; reading the store again"));
                shared.problem.send_replace(Some(stop.to_string()));
                tokio::time::sleep(CAMPAIGN_EVERY).await;
            }
        }
    }
}

/// The stored migration if it is to be driven; `Ok(None)` after a wait
/// with nothing to do; `Err` when the store or the document fails (with
/// the version not to look at again until it changes).
async fn next_to_drive<S: Store>(
    store: &S,
    seen: u64,
    shared: &Shared,
) -> Result<Option<(Record, u64)>, (u64, String)> {
    let stored = if seen == 0 {
        store.read().await
    } else {
        store.watch(seen, IDLE_WATCH).await
    };
    let stored = match stored {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            let _ = store.watch(0, IDLE_WATCH).await;
            return Ok(None);
        }
        Err(e) => {
            tokio::time::sleep(CAMPAIGN_EVERY).await;
            return Err((0, e.to_string()));
        }
    };
    match Record::decode(&stored.value, &store.describe()) {
        Err(e @ StoreError::Corrupt { .. }) => Err((stored.version, format!("not acting: {e}"))),
        Err(e) => Err((0, e.to_string())),
        Ok(record) if record.is_ended() => {
            shared.publish(record);
            if stored.version == seen {
                return Ok(None);
            }
            // Wait for the next `start`.
            let _ = store.watch(stored.version, IDLE_WATCH).await;
            Ok(None)
        }
        Ok(record) => {
            // A leader taking over shows where the migration stands before
            // its first transition.
            shared.publish(record.clone());
            Ok(Some((record, stored.version)))
        }
    }
}
