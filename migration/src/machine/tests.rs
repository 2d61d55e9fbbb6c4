//! The machine as a table: every phase, every event it meets, where it
//! goes; and every refusal.

use super::*;

fn s(raw: &str) -> Share {
    raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"))
}

/// Steps 5, 50, 100 (100 waits for approval), rolled back to 0, begun at
/// 0, the last passed step `last`, in `phase`.
fn at(phase: Phase, last: &str) -> Machine {
    Machine {
        steps: vec![s("5"), s("50"), s("100")],
        approve_at: vec![s("100")],
        confirm: false,
        rollback: Rollback::Zero,
        phase,
        started_at: Some(Share::ZERO),
        last_passed: s(last),
        paused: false,
        approved: Vec::new(),
    }
}

fn holding(step: usize, share: &str) -> Phase {
    Phase::Holding {
        step,
        share: s(share),
        started: 10.0,
    }
}

fn writing(step: usize, to: &str, from: &str) -> Phase {
    Phase::Writing {
        step,
        to: s(to),
        from: s(from),
    }
}

fn back(to: &str, from: &[&str], ending: Conclusion, why: &str) -> Phase {
    Phase::RollingBack {
        to: s(to),
        from: from.iter().map(|f| s(f)).collect(),
        ending,
        why: why.to_owned(),
    }
}

fn ended(ending: Conclusion, why: &str) -> Phase {
    Phase::Ended {
        ending,
        why: why.to_owned(),
    }
}

fn failed(why: &str) -> Event {
    Event::Judged(Judged::Failed(vec![why.to_owned()]))
}

#[test]
fn every_transition_goes_where_the_table_says() {
    let baseline = Phase::Baseline { started: 1.0 };
    let passed = || Event::Judged(Judged::Passed);
    let broken = || Event::Judged(Judged::BaselineBroken("greeter failed 3 times".into()));
    #[rustfmt::skip]
    let table: Vec<(&str, Machine, Event, Phase)> = vec![
        ("the split is read: the baseline begins", at(Phase::Initialized, "0"), Event::Read { live: Some(Share::ZERO), at: 1.0 }, baseline.clone()),
        ("the split cannot be read", at(Phase::Initialized, "0"), Event::Error("cannot read".into()), ended(Conclusion::Failed, "cannot read; nothing was written")),
        ("a good baseline: the first step is written", at(baseline.clone(), "0"), passed(), writing(0, "5", "0")),
        ("a broken baseline stops with nothing written", at(baseline.clone(), "0"), broken(), ended(Conclusion::Stopped, "greeter failed 3 times; not the Lambda's fault, nothing was written")),
        ("a baseline without figures", at(baseline.clone(), "0"), Event::Error("no Prometheus".into()), ended(Conclusion::Failed, "no Prometheus; nothing was written")),
        ("a write lands: the window starts", at(writing(0, "5", "0"), "0"), Event::Written { at: 10.0 }, holding(0, "5")),
        ("a write refused", at(writing(0, "5", "0"), "0"), Event::Error("403".into()), ended(Conclusion::Failed, "403")),
        ("a write unanswered: back to where it was", at(writing(1, "50", "5"), "5"), Event::WriteLost("timeout".into()), back("5", &["50", "5"], Conclusion::Failed, "timeout")),
        ("someone else's change met by a write", at(writing(0, "5", "0"), "0"), Event::Concurrent("30% now".into()), ended(Conclusion::Overridden, "30% now")),
        ("a step passes: the next is written", at(holding(0, "5"), "0"), passed(), writing(1, "50", "5")),
        ("a step passes before one that needs approval", at(holding(1, "50"), "5"), passed(), Phase::AwaitingApproval { step: 2 }),
        ("a failed step rolls back to 0", at(holding(1, "50"), "5"), failed("Lambda success 80%"), back("0", &["50"], Conclusion::RolledBack, "the 50% step failed (Lambda success 80%); rolled back to 0%")),
        ("the container greeter fails during a step", at(holding(0, "5"), "0"), broken(), ended(Conclusion::Stopped, "greeter failed 3 times; not the Lambda's fault: stopped at 5% without moving")),
        ("someone else's change seen after a window", at(holding(0, "5"), "0"), Event::Concurrent("30% now".into()), ended(Conclusion::Overridden, "30% now")),
        ("the split unreadable after a window", at(holding(0, "5"), "0"), Event::Error("timeout".into()), ended(Conclusion::Failed, "timeout")),
        ("the last step passes", { let mut m = at(holding(2, "100"), "50"); m.approved = vec![2]; m }, passed(), ended(Conclusion::Succeeded, "every step passed: the Lambda holds 100%")),
        ("a rollback lands", at(back("0", &["50"], Conclusion::RolledBack, "why"), "5"), Event::Written { at: 20.0 }, ended(Conclusion::RolledBack, "why")),
        ("a rollback fails", at(back("0", &["50"], Conclusion::RolledBack, "why"), "5"), Event::Error("timeout".into()), ended(Conclusion::Failed, "why; THE ROLLBACK TO 0% FAILED: timeout")),
        ("an interrupted rollback that fails stays interrupted", at(back("5", &["50"], Conclusion::Interrupted, "why"), "5"), Event::Error("timeout".into()), ended(Conclusion::Interrupted, "why; THE ROLLBACK TO 5% FAILED: timeout")),
        ("someone else's change met by a rollback", at(back("0", &["50"], Conclusion::RolledBack, "why"), "5"), Event::Concurrent("30%".into()), ended(Conclusion::Overridden, "why; the rollback to 0% was not written: 30%")),
        ("someone else's change met by an interrupted rollback", at(back("5", &["50"], Conclusion::Interrupted, "why"), "5"), Event::Concurrent("30%".into()), ended(Conclusion::Interrupted, "why; THE ROLLBACK TO 5% FAILED: 30%")),
        ("the confirm webhook says yes", at(Phase::Confirming { step: 0, refused: None }, "0"), Event::Confirmed, writing(0, "5", "0")),
        ("the confirm webhook says no: the step waits", at(Phase::Confirming { step: 0, refused: None }, "0"), Event::Unconfirmed("503".into()), Phase::Confirming { step: 0, refused: Some("503".into()) }),
        ("the confirm webhook unreachable", at(Phase::Confirming { step: 0, refused: None }, "0"), Event::Error("boom".into()), ended(Conclusion::Failed, "boom")),
        ("approve: the step is written", at(Phase::AwaitingApproval { step: 2 }, "50"), Event::Approve, writing(2, "100", "50")),
        ("resume: the step is written", at(Phase::Paused { step: 1 }, "5"), Event::Resume, writing(1, "50", "5")),
        ("resume before a step that needs approval", at(Phase::Paused { step: 2 }, "50"), Event::Resume, Phase::AwaitingApproval { step: 2 }),
        ("abort during a window: back to 0 at once", at(holding(1, "50"), "5"), Event::Abort, back("0", &["50"], Conclusion::Aborted, "aborted: back to 0%")),
        ("abort during a write: either share may be there", at(writing(1, "50", "5"), "5"), Event::Abort, back("0", &["50", "5"], Conclusion::Aborted, "aborted: back to 0%")),
        ("abort while waiting for approval", at(Phase::AwaitingApproval { step: 2 }, "50"), Event::Abort, back("0", &["50"], Conclusion::Aborted, "aborted: back to 0%")),
        ("abort while paused", at(Phase::Paused { step: 1 }, "5"), Event::Abort, back("0", &["5"], Conclusion::Aborted, "aborted: back to 0%")),
        ("abort before anything moved", at(baseline.clone(), "0"), Event::Abort, ended(Conclusion::Aborted, "aborted: back to 0%")),
        ("abort before the split was read", at(Phase::Initialized, "0"), Event::Abort, ended(Conclusion::Aborted, "aborted: back to 0%")),
        ("abort during a rollback to the last passed step", at(back("5", &["50"], Conclusion::RolledBack, "why"), "5"), Event::Abort, back("0", &["50", "5"], Conclusion::Aborted, "aborted: back to 0%")),
        ("an interrupt during a window: back to the last passed step", at(holding(1, "50"), "5"), Event::Interrupt, back("5", &["50"], Conclusion::Interrupted, "interrupted during the 50% step; back to the last passed step, 5%")),
        ("an interrupt during the baseline writes nothing", at(baseline, "0"), Event::Interrupt, ended(Conclusion::Interrupted, "interrupted during the baseline; nothing was written")),
        ("an interrupt during a rollback changes nothing", at(back("0", &["50"], Conclusion::RolledBack, "why"), "5"), Event::Interrupt, back("0", &["50"], Conclusion::RolledBack, "why")),
    ];
    for (name, machine, event, expected) in table {
        let next = machine
            .next(event.clone())
            .unwrap_or_else(|e| panic!("{name}: {event:?} refused: {e}"));
        assert_eq!(next.phase, expected, "{name}");
    }
}

#[test]
fn every_refusal_says_why_and_changes_nothing() {
    let over = at(ended(Conclusion::Succeeded, "done"), "100");
    let baseline = at(Phase::Baseline { started: 1.0 }, "0");
    let mut paused = at(holding(0, "5"), "0");
    paused.paused = true;
    #[rustfmt::skip]
    let table: Vec<(&str, Machine, Event, &str)> = vec![
        ("approve with nothing waiting", at(holding(0, "5"), "0"), Event::Approve, "nothing waits for approval: the migration is holding"),
        ("approve while paused", at(Phase::Paused { step: 1 }, "5"), Event::Approve, "nothing waits for approval: the migration is paused"),
        ("resume when not paused", baseline.clone(), Event::Resume, "the migration is not paused (it is baseline)"),
        ("pause twice", paused, Event::Pause, "the migration is already paused"),
        ("abort twice", at(back("0", &["50"], Conclusion::Aborted, "aborted"), "5"), Event::Abort, "the migration is already rolling back to 0%"),
        ("pause once over", over.clone(), Event::Pause, "the migration has ended (succeeded): nothing to pause"),
        ("resume once over", over.clone(), Event::Resume, "the migration has ended (succeeded): nothing to resume"),
        ("approve once over", over.clone(), Event::Approve, "the migration has ended (succeeded): nothing to approve"),
        ("abort once over", over.clone(), Event::Abort, "the migration has ended (succeeded): nothing to abort"),
        ("a window judged before the split was read", at(Phase::Initialized, "0"), Event::Judged(Judged::Passed), "Judged(Passed) cannot happen while the migration is initialized"),
        ("a write while waiting for a person", at(Phase::AwaitingApproval { step: 2 }, "50"), Event::Written { at: 1.0 }, "Written { at: 1.0 } cannot happen while the migration is awaiting_approval"),
        ("the split read twice", baseline, Event::Read { live: None, at: 1.0 }, "Read { live: None, at: 1.0 } cannot happen while the migration is baseline"),
        ("anything once over", over, Event::Written { at: 1.0 }, "Written { at: 1.0 } cannot happen while the migration is succeeded"),
    ];
    for (name, machine, event, message) in table {
        let refusal = machine.next(event).expect_err(name);
        assert_eq!(refusal.to_string(), message, "{name}");
    }
}

#[test]
fn a_pause_blocks_moving_forward_never_a_window_or_a_rollback() {
    let mut m = at(holding(0, "5"), "0");
    m = m.next(Event::Pause).unwrap();
    assert!(m.paused);
    assert_eq!(m.phase, holding(0, "5"), "the window goes on");
    // It passes: the next step waits.
    let passed = m.next(Event::Judged(Judged::Passed)).unwrap();
    assert_eq!(passed.phase, Phase::Paused { step: 1 });
    assert_eq!(passed.last_passed, s("5"));
    // It fails: the rollback is not held up.
    let failed = m.next(failed("slow")).unwrap();
    assert!(matches!(failed.phase, Phase::RollingBack { .. }), "{failed:?}");
    // Paused while the confirm webhook is asked: a yes does not write.
    let mut asking = at(
        Phase::Confirming {
            step: 1,
            refused: None,
        },
        "5",
    );
    asking.paused = true;
    assert_eq!(
        asking.next(Event::Confirmed).unwrap().phase,
        Phase::Paused { step: 1 }
    );
    // Resumed before the step came: nothing to wait for.
    let resumed = m.next(Event::Resume).unwrap();
    assert!(!resumed.paused);
    assert_eq!(
        resumed.next(Event::Judged(Judged::Passed)).unwrap().phase,
        writing(1, "50", "5")
    );
}

#[test]
fn a_confirm_webhook_is_asked_before_every_step_and_after_an_approval() {
    let mut m = at(holding(0, "5"), "0");
    m.confirm = true;
    let m = m.next(Event::Judged(Judged::Passed)).unwrap();
    assert_eq!(
        m.phase,
        Phase::Confirming {
            step: 1,
            refused: None
        }
    );
    let mut waiting = at(Phase::AwaitingApproval { step: 2 }, "50");
    waiting.confirm = true;
    let approved = waiting.next(Event::Approve).unwrap();
    assert_eq!(
        approved.phase,
        Phase::Confirming {
            step: 2,
            refused: None
        }
    );
    assert_eq!(approved.approved, [2]);
    // Paused and resumed after the approval: not asked to approve again.
    let mut paused = approved;
    paused.phase = Phase::Paused { step: 2 };
    paused.paused = true;
    assert_eq!(
        paused.next(Event::Resume).unwrap().phase,
        Phase::Confirming {
            step: 2,
            refused: None
        }
    );
}

#[test]
fn steps_at_or_below_the_share_found_are_skipped_and_rollback_previous_keeps_the_last_pass() {
    let mut m = Machine::new(vec![s("5"), s("50"), s("100")], vec![], false, Rollback::Previous);
    m = m
        .next(Event::Read {
            live: Some(s("25")),
            at: 1.0,
        })
        .unwrap();
    assert_eq!(m.steps, [s("50"), s("100")]);
    assert_eq!((m.started_at, m.last_passed), (Some(s("25")), s("25")));
    m = m.next(Event::Judged(Judged::Passed)).unwrap();
    assert_eq!(m.phase, writing(0, "50", "25"));
    m = m.next(Event::Written { at: 2.0 }).unwrap();
    m = m.next(failed("slow")).unwrap();
    assert_eq!(
        m.phase,
        back(
            "25",
            &["50"],
            Conclusion::RolledBack,
            "the 50% step failed (slow); rolled back to 25%"
        )
    );
    // Envoy's file defaults read as no share: everything from 0.
    let fresh = Machine::new(vec![s("5")], vec![], false, Rollback::Zero);
    let read = fresh.next(Event::Read { live: None, at: 1.0 }).unwrap();
    assert_eq!((read.started_at, read.steps.len()), (None, 1));
    // Every step already held: the baseline is all there is.
    let all = Machine::new(vec![s("5")], vec![], false, Rollback::Zero)
        .next(Event::Read {
            live: Some(s("5")),
            at: 1.0,
        })
        .unwrap()
        .next(Event::Judged(Judged::Passed))
        .unwrap();
    assert_eq!(
        all.phase,
        ended(Conclusion::Succeeded, "every step passed: the Lambda holds 5%")
    );
}

#[test]
fn the_state_round_trips_through_json_and_names_its_phase() {
    let m = at(back("0", &["50", "5"], Conclusion::Aborted, "aborted"), "5");
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["phase"], "rolling_back");
    assert_eq!(json["to"], 0.0);
    assert_eq!(json["ending"], "aborted");
    let back: Machine = serde_json::from_value(json).unwrap();
    assert_eq!(back, m);
    for phase in [holding(2, "100"), writing(0, "5", "0"), Phase::Initialized] {
        assert!(Phase::NAMES.contains(&phase.name()));
    }
    assert_eq!(holding(2, "100").flagger(), "Promoting");
    assert_eq!(holding(0, "5").flagger(), "Progressing");
    assert_eq!(Phase::AwaitingApproval { step: 2 }.flagger(), "WaitingPromotion");
    assert_eq!(
        Phase::Confirming {
            step: 0,
            refused: None
        }
        .flagger(),
        "Waiting"
    );
}
