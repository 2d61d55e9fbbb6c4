//! A migration as a state machine: where it stands ([`Phase`]), what can
//! happen to it ([`Event`]) and where each event takes it ([`Machine::next`]),
//! pure: nothing here reads a clock, sends, waits or writes. The driver
//! ([`crate::driver`]) stores each new state *before* it performs the side
//! effect the state announces (a [`Phase::Writing`] is the intent to write
//! its share, stored with the share before it; a [`Phase::Holding`] carries
//! its window's start), so a process that restarts, or another replica that
//! takes over, knows whether a write was in flight and where a window
//! began.
//!
//! The phases, with the words of the tools people know:
//!
//! | phase | Flagger | Argo Rollouts | what happens |
//! | --- | --- | --- | --- |
//! | `initialized` | Initialized | | stored by `start`; the split not read yet |
//! | `baseline` | Initialized | | a window before anything moves |
//! | `confirming` | Waiting | | the confirm webhook is asked before a step |
//! | `awaiting_approval` | WaitingPromotion | `pause: {}` | a step named by `--approve-at` waits for `approve` |
//! | `paused` | | paused | `pause`: nothing moves forward until `resume` |
//! | `writing` | Progressing (Promoting at 100 %) | | the intent to write a step's share |
//! | `holding` | Progressing (Promoting at 100 %) | analysis | a step's window, then its verdict |
//! | `rolling_back` | Failed (rolling back) | abort | the intent to write the share back |
//! | `ended` | Succeeded or Failed | Healthy or Degraded | see [`Conclusion`] |
//!
//! A pause blocks moving forward only: a window in progress is still held
//! and judged, and a failed one still rolls back. An abort rolls back to
//! 0 % at once, from wherever the migration is. People's commands that
//! make no sense where the migration stands (`approve` with nothing
//! waiting, anything once it has ended) are a [`Refusal`], and nothing is
//! stored for them.

use serde::{Deserialize, Serialize};

use crate::judge::Judged;
use crate::plan::Rollback;
use crate::share::Share;

/// Where a migration stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Stored by `start`: nothing read or written yet.
    Initialized,
    /// The baseline window, at the share the split held, from `started`.
    Baseline {
        /// When the window began, Unix seconds.
        started: f64,
    },
    /// The confirm webhook is asked before step `step`.
    Confirming {
        /// The step (from 0).
        step: usize,
        /// Its last answer when it was not a yes: why the step waits.
        refused: Option<String>,
    },
    /// Step `step` waits for a person's `approve`.
    AwaitingApproval {
        /// The step (from 0).
        step: usize,
    },
    /// Paused before step `step`: waits for `resume`.
    Paused {
        /// The step (from 0).
        step: usize,
    },
    /// The intent to write step `step`'s share `to`; the split held `from`
    /// before it.
    Writing {
        /// The step (from 0).
        step: usize,
        /// The share to write.
        to: Share,
        /// The share the split held before.
        from: Share,
    },
    /// Step `step`'s window at `share`, from `started`.
    Holding {
        /// The step (from 0).
        step: usize,
        /// The share written.
        share: Share,
        /// When the window began, Unix seconds.
        started: f64,
    },
    /// The intent to write `to` back; the split holds one of `from` (the
    /// share of a step, or a write that may have landed). The migration
    /// then ends as `ending`, for `why`.
    RollingBack {
        /// The share to go back to.
        to: Share,
        /// The shares the split may hold before the write, all this
        /// migration's own.
        from: Vec<Share>,
        /// How the migration ends once written.
        ending: Conclusion,
        /// Why, in one line.
        why: String,
    },
    /// Over.
    Ended {
        /// How.
        ending: Conclusion,
        /// Why, in one line.
        why: String,
    },
}

impl Phase {
    /// The phase's name, as the status and the metrics label show it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Initialized => "initialized",
            Self::Baseline { .. } => "baseline",
            Self::Confirming { .. } => "confirming",
            Self::AwaitingApproval { .. } => "awaiting_approval",
            Self::Paused { .. } => "paused",
            Self::Writing { .. } => "writing",
            Self::Holding { .. } => "holding",
            Self::RollingBack { .. } => "rolling_back",
            Self::Ended { ending, .. } => ending.name(),
        }
    }

    /// Every name [`Phase::name`] gives, for the metrics' `phase` label.
    pub const NAMES: [&'static str; 15] = [
        "initialized",
        "baseline",
        "confirming",
        "awaiting_approval",
        "paused",
        "writing",
        "holding",
        "rolling_back",
        "succeeded",
        "rolled_back",
        "aborted",
        "stopped",
        "overridden",
        "failed",
        "interrupted",
    ];

    /// The nearest Flagger phase, for people who know Flagger.
    pub fn flagger(&self) -> &'static str {
        match self {
            Self::Initialized | Self::Baseline { .. } => "Initialized",
            Self::Confirming { .. } => "Waiting",
            Self::AwaitingApproval { .. } | Self::Paused { .. } => "WaitingPromotion",
            Self::Writing { to: share, .. } | Self::Holding { share, .. } if *share == Share::ALL => {
                "Promoting"
            }
            Self::Writing { .. } | Self::Holding { .. } => "Progressing",
            Self::RollingBack { .. } => "Failed",
            Self::Ended {
                ending: Conclusion::Succeeded,
                ..
            } => "Succeeded",
            Self::Ended { .. } => "Failed",
        }
    }

    /// Whether the migration is over.
    pub fn is_ended(&self) -> bool {
        matches!(self, Self::Ended { .. })
    }
}

/// How a migration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// Every step passed.
    Succeeded,
    /// A step failed; the share went back (to 0, or the last passed step).
    RolledBack,
    /// A person aborted it: back to 0 %.
    Aborted,
    /// The stack failed without the Lambda (the baseline, or the container
    /// greeter during a step): not the Lambda's fault; nothing moved after.
    Stopped,
    /// Someone else changed the split: nothing more was written, so their
    /// change stands.
    Overridden,
    /// The split or the judge could not be read or written.
    Failed,
    /// `split migrate` was interrupted (Ctrl-C, SIGTERM): back to the last
    /// passed step.
    Interrupted,
}

impl Conclusion {
    /// The ending's name, as [`Phase::name`] gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::RolledBack => "rolled_back",
            Self::Aborted => "aborted",
            Self::Stopped => "stopped",
            Self::Overridden => "overridden",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// What happened: what the driver saw, or what a person asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The split was read before anything else: the Lambda's share, `None`
    /// for Envoy's file defaults; `at` is now, Unix seconds.
    Read {
        /// The Lambda's share the split holds.
        live: Option<Share>,
        /// Now.
        at: f64,
    },
    /// A window was judged.
    Judged(Judged),
    /// The confirm webhook said yes.
    Confirmed,
    /// The confirm webhook said anything else.
    Unconfirmed(String),
    /// The split holds the share written; `at` is now.
    Written {
        /// Now.
        at: f64,
    },
    /// A write whose answer was lost, and the split still holds one of
    /// this migration's shares: it may or may not have landed.
    WriteLost(String),
    /// Someone else changed the split.
    Concurrent(String),
    /// The split or the judge failed.
    Error(String),
    /// A person: `pause`.
    Pause,
    /// A person: `resume`.
    Resume,
    /// A person: `approve`.
    Approve,
    /// A person: `abort`.
    Abort,
    /// Ctrl-C or SIGTERM in `split migrate`.
    Interrupt,
}

/// Why an event does not apply where the migration stands. For a
/// person's command this is the answer, and nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The migration is over.
    #[error("the migration has ended ({0}): nothing to {1}")]
    Ended(&'static str, &'static str),
    /// `approve` with nothing waiting.
    #[error("nothing waits for approval: the migration is {0}")]
    NothingToApprove(String),
    /// `resume` while not paused.
    #[error("the migration is not paused (it is {0})")]
    NotPaused(String),
    /// `pause` while paused.
    #[error("the migration is already paused")]
    AlreadyPaused,
    /// `abort` while already going back to 0 %.
    #[error("the migration is already rolling back to 0%")]
    AlreadyRollingBack,
    /// An event the phase cannot meet: a driver's mistake.
    #[error("{event} cannot happen while the migration is {phase}")]
    Unexpected {
        /// The phase.
        phase: &'static str,
        /// The event.
        event: String,
    },
}

/// A migration's whole control state: its steps and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The Lambda's shares still to walk through: the plan's, less those at
    /// or below the share the split held when it began.
    pub steps: Vec<Share>,
    /// Steps that wait for a person's `approve` before they are written.
    pub approve_at: Vec<Share>,
    /// Whether a confirm webhook is asked before each step.
    pub confirm: bool,
    /// Where a failed step sends the share.
    pub rollback: Rollback,
    /// Where it stands.
    #[serde(flatten)]
    pub phase: Phase,
    /// The share the split held when the migration read it (`None`: Envoy's
    /// file defaults, or not read yet).
    pub started_at: Option<Share>,
    /// The last step that passed (where it began if none did).
    pub last_passed: Share,
    /// Whether a person paused it.
    pub paused: bool,
    /// The steps a person approved.
    pub approved: Vec<usize>,
}

impl Machine {
    /// A migration through `steps`, not begun.
    pub fn new(steps: Vec<Share>, approve_at: Vec<Share>, confirm: bool, rollback: Rollback) -> Self {
        Self {
            steps,
            approve_at,
            confirm,
            rollback,
            phase: Phase::Initialized,
            started_at: None,
            last_passed: Share::ZERO,
            paused: false,
            approved: Vec::new(),
        }
    }

    /// The share the split holds, as far as the machine knows: the step
    /// held, the last passed one otherwise.
    pub fn share(&self) -> Share {
        match &self.phase {
            Phase::Holding { share, .. } => *share,
            _ => self.last_passed,
        }
    }

    /// The step (from 0) the migration is at or waits before, if any.
    pub fn step(&self) -> Option<usize> {
        match &self.phase {
            Phase::Confirming { step, .. }
            | Phase::AwaitingApproval { step }
            | Phase::Paused { step }
            | Phase::Writing { step, .. }
            | Phase::Holding { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// Where `event` takes the migration: the next state, or why it does
    /// not apply.
    pub fn next(&self, event: Event) -> Result<Self, Refusal> {
        match self.commanded(&event) {
            Some(answer) => answer,
            None => self.happened(event),
        }
    }

    /// People's commands and Ctrl-C: the same wherever the migration is;
    /// `None` for the driver's events.
    fn commanded(&self, event: &Event) -> Option<Result<Self, Refusal>> {
        let mut next = self.clone();
        match (&self.phase, event) {
            (Phase::Ended { ending, .. }, Event::Pause | Event::Resume | Event::Approve | Event::Abort) => {
                return Some(Err(Refusal::Ended(ending.name(), verb(event))));
            }
            (Phase::Ended { .. }, _) => return None,
            (_, Event::Pause) if self.paused => return Some(Err(Refusal::AlreadyPaused)),
            (_, Event::Pause) => next.paused = true,
            (Phase::Paused { step }, Event::Resume) => {
                next.paused = false;
                next.phase = next.advance(*step);
            }
            (_, Event::Resume) if self.paused => next.paused = false,
            (_, Event::Resume) => return Some(Err(Refusal::NotPaused(self.phase.name().to_owned()))),
            (Phase::AwaitingApproval { step }, Event::Approve) => {
                next.approved.push(*step);
                next.phase = next.advance(*step);
            }
            (_, Event::Approve) => return Some(Err(Refusal::NothingToApprove(self.phase.name().to_owned()))),
            (Phase::RollingBack { to, .. }, Event::Abort) if *to == Share::ZERO => {
                return Some(Err(Refusal::AlreadyRollingBack));
            }
            (_, Event::Abort) => {
                next.phase = self.back_to(Share::ZERO, Conclusion::Aborted, "aborted: back to 0%".to_owned());
            }
            // A second Ctrl-C does not stop a rollback.
            (Phase::RollingBack { .. }, Event::Interrupt) => {}
            (_, Event::Interrupt) => {
                let to = self.last_passed;
                let why = match &self.phase {
                    Phase::Holding { share, .. } | Phase::Writing { to: share, .. } => {
                        format!("interrupted during the {share}% step; back to the last passed step, {to}%")
                    }
                    Phase::Initialized | Phase::Baseline { .. } => {
                        "interrupted during the baseline; nothing was written".to_owned()
                    }
                    _ => format!("interrupted; back to the last passed step, {to}%"),
                };
                next.phase = self.back_to(to, Conclusion::Interrupted, why);
            }
            _ => return None,
        }
        Some(Ok(next))
    }

    /// What the driver saw: a read, a window judged, a write, a failure.
    fn happened(&self, event: Event) -> Result<Self, Refusal> {
        let mut next = self.clone();
        let unexpected = |event: &Event| Refusal::Unexpected {
            phase: self.phase.name(),
            event: format!("{event:?}"),
        };
        next.phase = match (&self.phase, event) {
            (Phase::Initialized, Event::Read { live, at }) => {
                let from = live.unwrap_or(Share::ZERO);
                next.started_at = live;
                next.last_passed = from;
                next.steps.retain(|s| *s > from);
                Phase::Baseline { started: at }
            }
            (Phase::Baseline { .. }, Event::Judged(Judged::Passed)) => next.advance(0),
            (Phase::Baseline { .. }, Event::Judged(Judged::Failed(why))) => {
                ended(Conclusion::Stopped, why.join("; "))
            }
            (Phase::Baseline { .. }, Event::Judged(Judged::BaselineBroken(why))) => {
                let whose = if self.last_passed == Share::ZERO {
                    "not the Lambda's fault, nothing was written"
                } else {
                    "nothing was written"
                };
                ended(Conclusion::Stopped, format!("{why}; {whose}"))
            }
            (Phase::Initialized | Phase::Baseline { .. }, Event::Error(why)) => {
                ended(Conclusion::Failed, format!("{why}; nothing was written"))
            }
            (Phase::Confirming { step, .. }, Event::Confirmed) => next.write_or_pause(*step),
            (Phase::Confirming { step, .. }, Event::Unconfirmed(why)) => Phase::Confirming {
                step: *step,
                refused: Some(why),
            },
            (Phase::Writing { step, to, .. }, Event::Written { at }) => Phase::Holding {
                step: *step,
                share: *to,
                started: at,
            },
            (Phase::Writing { to, from, .. }, Event::WriteLost(why)) => Phase::RollingBack {
                to: *from,
                from: vec![*to, *from],
                ending: Conclusion::Failed,
                why,
            },
            (Phase::Holding { step, share, .. }, Event::Judged(Judged::Passed)) => {
                next.last_passed = *share;
                next.advance(step + 1)
            }
            (Phase::Holding { share, .. }, Event::Judged(Judged::Failed(why))) => {
                let to = match self.rollback {
                    Rollback::Zero => Share::ZERO,
                    Rollback::Previous => self.last_passed,
                };
                let why = format!(
                    "the {share}% step failed ({}); rolled back to {to}%",
                    why.join("; ")
                );
                self.back_to(to, Conclusion::RolledBack, why)
            }
            (Phase::Holding { share, .. }, Event::Judged(Judged::BaselineBroken(why))) => ended(
                Conclusion::Stopped,
                format!("{why}; not the Lambda's fault: stopped at {share}% without moving"),
            ),
            (Phase::Writing { .. } | Phase::Holding { .. }, Event::Concurrent(why)) => {
                ended(Conclusion::Overridden, why)
            }
            (Phase::Writing { .. } | Phase::Holding { .. } | Phase::Confirming { .. }, Event::Error(why)) => {
                ended(Conclusion::Failed, why)
            }
            (Phase::RollingBack { ending, why, .. }, Event::Written { .. }) => ended(*ending, why.clone()),
            // Someone else's share where the rollback was to go: theirs
            // stands.
            (Phase::RollingBack { to, ending, why, .. }, Event::Concurrent(e))
                if *ending != Conclusion::Interrupted =>
            {
                ended(
                    Conclusion::Overridden,
                    format!("{why}; the rollback to {to}% was not written: {e}"),
                )
            }
            (
                Phase::RollingBack { to, ending, why, .. },
                Event::Error(e) | Event::Concurrent(e) | Event::WriteLost(e),
            ) => {
                let ending = match ending {
                    Conclusion::Interrupted => Conclusion::Interrupted,
                    _ => Conclusion::Failed,
                };
                ended(ending, format!("{why}; THE ROLLBACK TO {to}% FAILED: {e}"))
            }
            (_, event) => return Err(unexpected(&event)),
        };
        Ok(next)
    }

    /// Before step `step`: done, paused, waiting for approval, asking
    /// the confirm webhook, or writing.
    fn advance(&self, step: usize) -> Phase {
        let Some(share) = self.steps.get(step) else {
            return ended(
                Conclusion::Succeeded,
                format!("every step passed: the Lambda holds {}%", self.last_passed),
            );
        };
        if self.paused {
            return Phase::Paused { step };
        }
        if self.approve_at.contains(share) && !self.approved.contains(&step) {
            return Phase::AwaitingApproval { step };
        }
        if self.confirm {
            return Phase::Confirming { step, refused: None };
        }
        self.write_or_pause(step)
    }

    /// Writes step `step`, unless paused meanwhile.
    fn write_or_pause(&self, step: usize) -> Phase {
        match self.steps.get(step) {
            Some(_) if self.paused => Phase::Paused { step },
            Some(to) => Phase::Writing {
                step,
                to: *to,
                from: self.last_passed,
            },
            None => self.advance(step),
        }
    }

    /// Back to `to`, from wherever the split may be: at once when it
    /// holds `to` already.
    fn back_to(&self, to: Share, ending: Conclusion, why: String) -> Phase {
        let from: Vec<Share> = match &self.phase {
            Phase::Writing {
                to: writing, from, ..
            } => vec![*writing, *from],
            Phase::Holding { share, .. } => vec![*share],
            Phase::RollingBack { to: going, from, .. } => {
                let mut from = from.clone();
                from.push(*going);
                from
            }
            _ => vec![self.last_passed],
        };
        // Nothing was written: nothing to write back. (Before the split was
        // read, nothing can have been.)
        let unwritten = matches!(self.phase, Phase::Initialized) || from.iter().all(|s| *s == to);
        if unwritten {
            return ended(ending, why);
        }
        Phase::RollingBack {
            to,
            from,
            ending,
            why,
        }
    }
}

fn ended(ending: Conclusion, why: String) -> Phase {
    Phase::Ended { ending, why }
}

fn verb(event: &Event) -> &'static str {
    match event {
        Event::Pause => "pause",
        Event::Resume => "resume",
        Event::Approve => "approve",
        _ => "abort",
    }
}

#[cfg(test)]
mod tests;
