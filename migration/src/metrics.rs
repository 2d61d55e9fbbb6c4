//! The controller's own metrics, under the names the alert rules and
//! dashboards use (the brief's contract): `migration_phase{phase}` (1 for
//! the current phase), `migration_step`, `migration_lambda_share_ratio`,
//! `migration_verdicts_total{verdict}`,
//! `migration_webhook_failures_total{webhook}`, `migration_leader`,
//! `migration_last_transition_timestamp_seconds` and
//! `migration_hold_seconds` (the longest a step's window holds: with
//! `migration_last_transition_timestamp_seconds`, what an alert needs to
//! call a migration stuck). Each replica serves its own; only the leader's
//! phase, step and share move.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::machine::{Machine, Phase};
use crate::plan::{Judge, Plan};
use crate::record::Record;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabel {
    verdict: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabel {
    webhook: &'static str,
}

/// Which webhook failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    /// Asked before each step.
    Confirm,
    /// Told of each transition.
    Event,
}

/// The controller's metrics; cheap to clone (one registry behind).
#[derive(Clone)]
pub struct MigrationMetrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    phase: Family<PhaseLabel, Gauge>,
    step: Gauge,
    share: Gauge<f64, std::sync::atomic::AtomicU64>,
    verdicts: Family<VerdictLabel, Counter>,
    webhook_failures: Family<WebhookLabel, Counter>,
    leader: Gauge,
    last_transition: Gauge<f64, std::sync::atomic::AtomicU64>,
    hold: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for MigrationMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MigrationMetrics")
    }
}

impl Default for MigrationMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let inner = Inner {
            phase: Family::default(),
            step: Gauge::default(),
            share: Gauge::default(),
            verdicts: Family::default(),
            webhook_failures: Family::default(),
            leader: Gauge::default(),
            last_transition: Gauge::default(),
            hold: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "migration_phase",
            "1 for the migration's current phase, 0 for the others",
            inner.phase.clone(),
        );
        registry.register(
            "migration_step",
            "The step the migration is at or waits before, from 1 (0: none)",
            inner.step.clone(),
        );
        registry.register(
            "migration_lambda_share_ratio",
            "The Lambda's share of greeter's calls, 0 to 1, as the migration last set it",
            inner.share.clone(),
        );
        registry.register(
            "migration_verdicts",
            "Windows judged, by verdict",
            inner.verdicts.clone(),
        );
        registry.register(
            "migration_webhook_failures",
            "Webhook calls that failed (no answer, or not 200 to 202), by webhook",
            inner.webhook_failures.clone(),
        );
        registry.register(
            "migration_leader",
            "1 on the replica that leads the migration",
            inner.leader.clone(),
        );
        registry.register(
            "migration_last_transition_timestamp_seconds",
            "When the migration last changed phase, Unix seconds",
            inner.last_transition.clone(),
        );
        registry.register(
            "migration_hold_seconds",
            "The longest a step's window holds, seconds",
            inner.hold.clone(),
        );
        // Every label value exists from the start: a rate over a series
        // that appears late misses its first increment.
        for phase in Phase::NAMES {
            let _ = inner.phase.get_or_create(&PhaseLabel { phase });
        }
        for verdict in ["passed", "failed"] {
            let _ = inner.verdicts.get_or_create(&VerdictLabel { verdict });
        }
        for webhook in ["confirm", "event"] {
            let _ = inner.webhook_failures.get_or_create(&WebhookLabel { webhook });
        }
        Self(Arc::new(Inner { registry, ..inner }))
    }
}

impl MigrationMetrics {
    /// The text `GET /metrics` answers.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(4 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.0.registry);
        text
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leads: bool) {
        self.0.leader.set(i64::from(leads));
    }

    /// The migration as it stands after a transition at `at`.
    pub fn transitioned(&self, machine: &Machine, plan: &Plan, at: f64) {
        let current = machine.phase.name();
        for phase in Phase::NAMES {
            self.0
                .phase
                .get_or_create(&PhaseLabel { phase })
                .set(i64::from(phase == current));
        }
        self.0.step.set(machine.step().map_or(0, |s| s as i64 + 1));
        self.0.share.set(machine.share().fraction());
        self.0.last_transition.set(at);
        let hold = match &plan.judge {
            Judge::Prometheus { max_time, .. } => *max_time,
            Judge::Probes => plan.hold.min_time,
        };
        self.0.hold.set((hold + plan.hold.settle).as_secs_f64());
    }

    /// The migration as a stored record says it stands, at its last
    /// transition's time (its start's, before any): what a replica that did
    /// not make that transition (a standby, a new leader, a restarted one)
    /// exports, so every replica shows the same state and a step taken over
    /// is still timed from when it began.
    pub fn observed(&self, record: &Record) {
        let at = record.history.last().map_or(record.created, |t| t.at);
        self.transitioned(&record.machine, &record.plan, at);
    }

    /// A window judged.
    pub fn judged(&self, passed: bool) {
        let verdict = if passed { "passed" } else { "failed" };
        self.0.verdicts.get_or_create(&VerdictLabel { verdict }).inc();
    }

    /// A webhook call that failed.
    pub fn webhook_failed(&self, webhook: Webhook) {
        let webhook = match webhook {
            Webhook::Confirm => "confirm",
            Webhook::Event => "event",
        };
        self.0
            .webhook_failures
            .get_or_create(&WebhookLabel { webhook })
            .inc();
    }
}
