//! What a stored migration looks like to people: the controller's
//! `/status` (JSON) and `split rollout status` (a table, or the same JSON
//! with `--json`): phase (with Flagger's nearest word), step, share, the
//! window so far, every window judged with each destination's requests
//! and successes, the history, the requests waiting, and who leads.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use crate::machine::Phase;
use crate::record::{Record, Request, Transition};
use crate::report::{StepReport, join_shares, window_line, windows_table};
use crate::share::Share;
use crate::store::Leader;

/// The migration as people see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// This migration's phase (`holding`, `awaiting_approval`, `rolled_back`...).
    pub phase: &'static str,
    /// Flagger's nearest phase.
    pub flagger: &'static str,
    /// What it waits for, if anything, in one line.
    pub waiting: Option<String>,
    /// How it ended, in one line.
    pub ended: Option<String>,
    /// Whether a person paused it.
    pub paused: bool,
    /// The step it is at or waits before, from 1.
    pub step: Option<usize>,
    /// The steps.
    pub steps: Vec<Share>,
    /// The Lambda's share, as the migration last set it.
    pub share: Share,
    /// The window being held, if one is.
    pub window: Option<WindowSoFar>,
    /// What else to know (a probe window started again after a failover).
    pub note: Option<String>,
    /// The baseline window and each step's, with their verdicts.
    pub baseline: Option<StepReport>,
    /// Each step's window.
    pub windows: Vec<StepReport>,
    /// The last transitions, oldest first.
    pub history: Vec<Transition>,
    /// People's requests the leader has not acted on yet.
    pub requests: Vec<Request>,
    /// Who leads, as the store says.
    pub leader: Option<Leader>,
    /// Who started the migration, and when (Unix seconds).
    pub started_by: String,
    /// When.
    pub created: f64,
}

/// The window being held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSoFar {
    /// When it began, Unix seconds.
    pub started: f64,
    /// Seconds since.
    pub elapsed_seconds: f64,
    /// The leader's live line: the counts so far (on its `/status` only).
    pub so_far: Option<String>,
}

impl Status {
    /// The view of `record`, led by `leader`; `so_far` is the leader's live
    /// line; `now` is Unix seconds.
    pub fn of(record: &Record, leader: Option<Leader>, so_far: Option<String>, now: f64) -> Self {
        let m = &record.machine;
        let waiting = match &m.phase {
            Phase::AwaitingApproval { step } => Some(format!(
                "approval of step {} ({}%): `split rollout approve`",
                step + 1,
                m.steps.get(*step).copied().unwrap_or(Share::ZERO)
            )),
            Phase::Paused { step } => Some(format!("`split rollout resume` before step {}", step + 1)),
            Phase::Confirming {
                refused: Some(why), ..
            } => Some(format!("the confirm webhook: {why}")),
            Phase::Confirming { refused: None, .. } => Some("the confirm webhook's answer".to_owned()),
            _ => None,
        };
        let started = match &m.phase {
            Phase::Baseline { started } | Phase::Holding { started, .. } => Some(*started),
            _ => None,
        };
        Self {
            phase: m.phase.name(),
            flagger: m.phase.flagger(),
            waiting,
            ended: match &m.phase {
                Phase::Ended { why, .. } => Some(why.clone()),
                _ => None,
            },
            paused: m.paused,
            step: m.step().map(|s| s + 1),
            steps: m.steps.clone(),
            share: m.share(),
            window: started.map(|started| WindowSoFar {
                started,
                elapsed_seconds: (now - started).max(0.0),
                so_far,
            }),
            note: record.note.clone(),
            baseline: record.baseline.clone(),
            windows: record.steps.clone(),
            history: record.history.clone(),
            requests: record.requests.clone(),
            leader,
            started_by: record.started_by.clone(),
            created: record.created,
        }
    }

    /// The table `split rollout status` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let step = self
            .step
            .map_or_else(String::new, |s| format!(" step {s}/{}", self.steps.len()));
        let paused = if self.paused { ", PAUSED" } else { "" };
        let _ = writeln!(
            out,
            "{}{step}, lambda {}%{paused} (Flagger: {}); steps {}",
            self.phase,
            self.share,
            self.flagger,
            join_shares(&self.steps)
        );
        let leader = self.leader.as_ref().map_or_else(
            || "no leader".to_owned(),
            |l| format!("led by {} ({})", l.id, l.detail),
        );
        let _ = writeln!(
            out,
            "started by {} at {}; {leader}",
            self.started_by,
            clock(self.created)
        );
        for (label, line) in [
            ("waiting for", &self.waiting),
            ("ended", &self.ended),
            ("note", &self.note),
        ] {
            if let Some(line) = line {
                let _ = writeln!(out, "{label}: {line}");
            }
        }
        if let Some(w) = &self.window {
            let _ = writeln!(
                out,
                "window: since {} ({:.0} s){}",
                clock(w.started),
                w.elapsed_seconds,
                w.so_far.as_ref().map_or_else(String::new, |s| format!(": {s}"))
            );
        }
        for r in &self.requests {
            let _ = writeln!(
                out,
                "waiting for the leader: {} by {} at {}",
                r.verb.name(),
                r.by,
                clock(r.at)
            );
        }
        if self.baseline.is_some() || !self.windows.is_empty() {
            out.push_str(&windows_table(self.baseline.as_ref(), &self.windows));
        }
        if let Some(last) = self.windows.last() {
            let _ = writeln!(out, "last window: {}", window_line(&last.window));
        }
        let _ = writeln!(out, "history:");
        for t in self.history.iter().rev().take(10).rev() {
            let _ = writeln!(
                out,
                "  {}  {:<14} {} -> {}: {}",
                clock(t.at),
                t.by,
                t.from,
                t.to,
                t.what
            );
        }
        out
    }
}

/// `2026-12-07T06:10:03Z`.
fn clock(unix: f64) -> String {
    let at = UNIX_EPOCH + Duration::try_from_secs_f64(unix.max(0.0)).unwrap_or_default();
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Machine;
    use crate::plan::{Rollback, TargetKind};
    use crate::record::{Verb, Webhooks};

    #[test]
    fn status_says_what_it_waits_for_who_leads_and_what_happened() {
        let plan = crate::record::tests::plan();
        let mut machine = Machine::new(plan.steps.0.clone(), vec![], false, Rollback::Zero);
        machine.phase = Phase::AwaitingApproval { step: 2 };
        machine.last_passed = "50".parse().unwrap();
        let mut record = Record::new(
            plan,
            TargetKind::Consul,
            machine.clone(),
            Webhooks::default(),
            "ann@laptop",
            0.0,
        );
        record.transition(machine, "controller-b", "judged".into(), 60.0);
        record.requests.push(Request {
            verb: Verb::Approve,
            by: "bob@desk".into(),
            at: 61.0,
        });
        let leader = Leader {
            id: "controller-b".into(),
            detail: "session 3f2a on node consul-server".into(),
        };
        let status = Status::of(&record, Some(leader), None, 62.0);
        let text = status.render();
        for line in [
            "awaiting_approval step 3/3, lambda 50% (Flagger: WaitingPromotion); steps 5% -> 50% -> 100%",
            "started by ann@laptop at 1970-01-01T00:00:00Z; led by controller-b (session 3f2a on node consul-server)",
            "waiting for: approval of step 3 (100%): `split rollout approve`",
            "waiting for the leader: approve by bob@desk at 1970-01-01T00:01:01Z",
            "  1970-01-01T00:01:00Z  controller-b   awaiting_approval -> awaiting_approval: judged",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["phase"], "awaiting_approval");
        assert_eq!(json["flagger"], "WaitingPromotion");
        assert_eq!(json["step"], 3);
        assert_eq!(json["share"], 50.0);
        assert_eq!(json["leader"]["id"], "controller-b");
    }
}
