//! The stored migration: one JSON document under the store's one key
//! (Consul's `greeter-mesh/migration/state`, a file store's file), read
//! and written whole. It holds the plan, the [`Machine`] (phase, step,
//! share), the windows judged so far with their verdicts, a bounded
//! history of transitions (who, when, what), people's requests not yet
//! acted on, and the webhooks' state.
//!
//! Its `schema` is a number: a reader refuses a document of a newer schema
//! than its own, or one it cannot parse, with a message naming where it
//! is ([`StoreError::Corrupt`]), and never writes over it: a controller of
//! an older version must not guess at a newer one's state.

use serde::{Deserialize, Serialize};

use crate::machine::{Event, Machine, Phase};
use crate::plan::{Plan, TargetKind};
use crate::report::StepReport;
use crate::store::StoreError;

/// The schema this build reads and writes.
pub const SCHEMA: u32 = 1;

/// The most transitions the history keeps (the oldest go first).
pub const HISTORY: usize = 100;

/// The most people's requests waiting at once: more is someone's loop.
pub const MAX_REQUESTS: usize = 16;

/// Now, in Unix seconds: how the record stores every moment.
pub fn now() -> f64 {
    crate::judge::prometheus::now()
}

/// The migration as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`SCHEMA`] when written by this build.
    pub schema: u32,
    /// Who started it (`split rollout start`'s user@host, `split migrate`).
    pub started_by: String,
    /// When, Unix seconds.
    pub created: f64,
    /// Where the split is held.
    pub target: TargetKind,
    /// The plan.
    pub plan: Plan,
    /// The webhooks, if any.
    #[serde(default)]
    pub webhooks: Webhooks,
    /// Where it stands.
    pub machine: Machine,
    /// The baseline window, once judged.
    pub baseline: Option<StepReport>,
    /// Each step's window and verdict, in order.
    pub steps: Vec<StepReport>,
    /// When the current window's first count was taken (Prometheus), Unix
    /// seconds: a leader that takes over mid-window counts from there, so
    /// nothing is lost or counted twice.
    pub counted_from: Option<f64>,
    /// What status should say besides the phase (a probe window restarted
    /// after a failover, the confirm webhook's last refusal).
    pub note: Option<String>,
    /// The last transitions, oldest first.
    pub history: Vec<Transition>,
    /// People's requests the leader has not acted on yet, oldest first.
    pub requests: Vec<Request>,
}

/// The webhooks, as Flagger's users know them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Webhooks {
    /// Asked before each step: only 200 to 202 go on.
    pub confirm_url: Option<String>,
    /// Told of every transition.
    pub event_url: Option<String>,
}

/// One transition, for the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// When, Unix seconds.
    pub at: f64,
    /// Who made it: the leader's id, or the person whose request it was.
    pub by: String,
    /// The phase before.
    pub from: String,
    /// The phase after.
    pub to: String,
    /// What happened, in one line.
    pub what: String,
}

/// A person's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    /// Nothing moves forward until `resume`.
    Pause,
    /// Undo a `pause`.
    Resume,
    /// Let a step named by `--approve-at` be written.
    Approve,
    /// Back to 0 % at once.
    Abort,
}

impl Verb {
    /// The machine's event for it.
    pub fn event(self) -> Event {
        match self {
            Self::Pause => Event::Pause,
            Self::Resume => Event::Resume,
            Self::Approve => Event::Approve,
            Self::Abort => Event::Abort,
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Approve => "approve",
            Self::Abort => "abort",
        }
    }
}

/// A person's request, waiting for the leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// What.
    pub verb: Verb,
    /// Who (user@host).
    pub by: String,
    /// When, Unix seconds.
    pub at: f64,
}

impl Record {
    /// A migration of `plan` on `target`, not begun.
    pub fn new(
        plan: Plan,
        target: TargetKind,
        machine: Machine,
        webhooks: Webhooks,
        by: &str,
        now: f64,
    ) -> Self {
        Self {
            schema: SCHEMA,
            started_by: by.to_owned(),
            created: now,
            target,
            plan,
            webhooks,
            machine,
            baseline: None,
            steps: Vec::new(),
            counted_from: None,
            note: None,
            history: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// The document's bytes.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings, numbers and lists always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored document; `what` names where it is, for the error.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Self, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            what: what.to_owned(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not JSON ({e}): half-written?")))?;
        let schema = value
            .get("schema")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| corrupt("no \"schema\" number: not a migration this split wrote".to_owned()))?;
        if schema > u64::from(SCHEMA) {
            return Err(corrupt(format!(
                "it is of schema {schema}, from a newer split (this one reads {SCHEMA}): upgrade this controller"
            )));
        }
        serde_json::from_value(value).map_err(|e| corrupt(format!("schema {schema}, but {e}")))
    }

    /// Takes `next` as the machine's state, with a line in the history.
    pub fn transition(&mut self, next: Machine, by: &str, what: String, now: f64) {
        let from = self.machine.phase.name().to_owned();
        let window_over = !matches!(
            (&self.machine.phase, &next.phase),
            (Phase::Holding { step: a, .. }, Phase::Holding { step: b, .. }) if a == b
        ) && !matches!(
            (&self.machine.phase, &next.phase),
            (Phase::Baseline { .. }, Phase::Baseline { .. })
        );
        if window_over {
            self.counted_from = None;
        }
        self.machine = next;
        self.history.push(Transition {
            at: now,
            by: by.to_owned(),
            from,
            to: self.machine.phase.name().to_owned(),
            what,
        });
        if self.history.len() > HISTORY {
            let over = self.history.len() - HISTORY;
            self.history.drain(..over);
        }
    }

    /// Whether the migration is over.
    pub fn is_ended(&self) -> bool {
        self.machine.phase.is_ended()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::{Gates, Hold, Judge, Rollback};

    pub(crate) fn plan() -> Plan {
        Plan {
            steps: "5,50,100".parse().unwrap(),
            gates: Gates {
                min_success: 99.0,
                min_lambda_answers: 10,
                max_p99_ratio: 3.0,
                p99_floor: Duration::from_millis(50),
                max_p99: Duration::from_secs(1),
            },
            hold: Hold {
                requests: 100,
                max_requests: 1000,
                min_time: Duration::from_secs(6),
                settle: Duration::from_millis(5),
            },
            rollback: Rollback::Zero,
            url: "http://ingress:8080/".parse().unwrap(),
            concurrency: 4,
            rate: Some(20),
            timeout: Duration::from_millis(5000),
            judge: Judge::Prometheus {
                url: "http://prometheus:9090".parse().unwrap(),
                max_time: Duration::from_secs(60),
            },
            probes: false,
        }
    }

    fn record() -> Record {
        let machine = Machine::new(plan().steps.0, vec![], false, Rollback::Zero);
        Record::new(
            plan(),
            TargetKind::Envoy,
            machine,
            Webhooks::default(),
            "ann@laptop",
            1.5,
        )
    }

    #[test]
    fn a_record_round_trips() {
        let r = record();
        assert_eq!(Record::decode(&r.encode(), "the key").unwrap(), r);
    }

    #[test]
    fn every_moment_reads_back_exactly() {
        // A window's start is read back to count Prometheus from it, and a
        // standby exports the last transition's time: both must be the
        // moment stored, to the last bit, not the nearest float to it.
        for i in 0..10_000u32 {
            let at = 1_796_632_213.0 + f64::from(i) * 0.000_123_456_7;
            let mut r = record();
            r.created = at;
            assert_eq!(Record::decode(&r.encode(), "the key").unwrap().created, at);
        }
    }

    #[test]
    fn what_cannot_be_read_is_refused_naming_where_it_is() {
        let mut newer: serde_json::Value = serde_json::from_slice(&record().encode()).unwrap();
        newer["schema"] = 2.into();
        for (bytes, message) in [
            (b"{\"schema\": 1, \"plan".to_vec(), "not JSON"),
            (b"[1, 2]".to_vec(), "no \"schema\" number"),
            (
                serde_json::to_vec(&newer).unwrap(),
                "it is of schema 2, from a newer split",
            ),
            (b"{\"schema\": 1}".to_vec(), "schema 1, but missing field"),
        ] {
            let err = Record::decode(&bytes, "Consul key greeter-mesh/migration/state").unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("Consul key greeter-mesh/migration/state cannot be read: ")
                    && text.contains(message)
                    && text.ends_with("nothing was written over it"),
                "{text}"
            );
        }
    }

    #[test]
    fn the_history_is_bounded_and_says_who_did_what() {
        let mut r = record();
        for i in 0..(HISTORY + 5) {
            let next = r.machine.clone();
            r.transition(next, "controller-a", format!("event {i}"), i as f64);
        }
        assert_eq!(r.history.len(), HISTORY);
        assert_eq!(r.history[0].what, "event 5");
        assert_eq!(r.history.last().unwrap().by, "controller-a");
    }
}
