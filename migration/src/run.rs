//! `split migrate`: the migration driven in this process, on a store in
//! its memory, for as long as its one terminal runs. The machine
//! ([`crate::machine`]), the driver ([`crate::driver`]), the judges and the
//! gates are the controller's; only the store and the ending differ: a
//! SIGINT or SIGTERM here returns the split to the last passed step (exit
//! code 130), where the controller would leave it for the next leader.
//!
//! A run reads where the split stands, checks the baseline (a short window
//! before anything is written: a failing stack is not the Lambda's fault),
//! then for each step writes the share, holds a window and judges it. A
//! failed step rolls the share back and ends the run with exit code 1;
//! someone else's change to the split stops the run with nothing more
//! written, exit code 1. [`run`] turns the stored migration into the
//! [`MigrationReport`] whichever way the run ended; [`crate::report`]
//! prints it.

use std::time::Duration;

use crate::driver::{Driver, Leadership, Stop};
use crate::judge::prometheus;
use crate::machine::{self, Machine};
use crate::metrics::MigrationMetrics;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::record::{Record, Webhooks};
use crate::report::{Ending, MigrationReport};
use crate::store::memory::MemoryStore;
use crate::store::{Candidate, Store};
use crate::target::Target;

/// Who drives a `split migrate` run, in its history.
const ME: &str = "split migrate";

/// Runs the migration on `target`. `interrupted` resolves on SIGINT or
/// SIGTERM.
pub async fn run<F>(plan: &Plan, target: &mut Target, progress: &Progress, interrupted: F) -> MigrationReport
where
    F: std::future::Future<Output = ()>,
{
    let machine = Machine::new(plan.steps.0.clone(), Vec::new(), false, plan.rollback);
    let record = Record::new(
        plan.clone(),
        target.kind(),
        machine,
        Webhooks::default(),
        ME,
        prometheus::now(),
    );
    let driven = drive(record.clone(), target, progress, interrupted).await;
    let (record, stopped) = match driven {
        Ok(record) => (record, None),
        Err(stop) => (record, Some(stop)),
    };
    report(plan, target, &record, stopped).await
}

/// The record driven to its end on a store in memory.
async fn drive<F>(
    record: Record,
    target: &mut Target,
    progress: &Progress,
    interrupted: F,
) -> Result<Record, Stop>
where
    F: std::future::Future<Output = ()>,
{
    let store = MemoryStore::default();
    let version = store.write(&record.encode(), 0).await.map_err(Stop::Store)?;
    let me = Candidate {
        id: ME.to_owned(),
        ttl: Duration::from_secs(30),
    };
    let lease = store.campaign(&me).await.map_err(Stop::Store)?;
    let lead = Leadership::new(lease.ok_or_else(|| Stop::LostLead("no lead in memory".to_owned()))?);
    let driver = Driver {
        store: &store,
        lead: &lead,
        target,
        progress,
        metrics: MigrationMetrics::default(),
        published: None,
    };
    tokio::select! {
        driven = driver.drive(record, version, interrupted, std::future::pending()) => driven,
        () = lead.keep(&store) => Err(Stop::LostLead("lost the lead in memory".to_owned())),
    }
}

/// The report of a run whose record ended (or, with `stopped`, did not).
async fn report(plan: &Plan, target: &mut Target, record: &Record, stopped: Option<Stop>) -> MigrationReport {
    let (ending, message) = match (&record.machine.phase, stopped) {
        (_, Some(stop)) => (Ending::Error, stop.to_string()),
        (machine::Phase::Ended { ending, why }, None) => (report_ending(*ending), why.clone()),
        (phase, None) => (Ending::Error, format!("stopped while {}", phase.name())),
    };
    let final_share = match ending {
        // A write may or may not have landed: ask (a target never read
        // was never written either).
        Ending::Error if target.was_read() => match target.read().await {
            Ok(share) => share,
            Err(_) => target.last_share(),
        },
        _ => target.last_share(),
    };
    MigrationReport {
        target: target.describe(),
        started_at: record.machine.started_at,
        plan: plan.steps.0.clone(),
        baseline: record.baseline.clone(),
        steps: record.steps.clone(),
        ending,
        message,
        final_share,
        gates: plan.gates,
        hold: plan.hold,
        rollback: plan.rollback,
    }
}

/// The report's word for how the machine ended: someone else's change is
/// an error of the run, as it always was for `split migrate`.
fn report_ending(ending: machine::Conclusion) -> Ending {
    match ending {
        machine::Conclusion::Succeeded => Ending::Completed,
        machine::Conclusion::RolledBack | machine::Conclusion::Aborted => Ending::RolledBack,
        machine::Conclusion::Stopped => Ending::Stopped,
        machine::Conclusion::Interrupted => Ending::Interrupted,
        machine::Conclusion::Overridden | machine::Conclusion::Failed => Ending::Error,
    }
}
