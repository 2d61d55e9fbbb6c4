//! The run's record: each step's window and verdict, how the run ended,
//! and the two ways it is printed (the table, `--json`), plus the plan as
//! `--dry-run` prints it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::judge::{Destination, Judged, Source, Window};
use crate::plan::{Gates, Hold, Judge, Plan, Rollback};
use crate::share::Share;
use crate::tally::millis;
use crate::target::Target;

/// How a step, or the baseline, ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum Verdict {
    /// Every gate held.
    Passed,
    /// A gate failed: the share is rolled back.
    Failed(Vec<String>),
    /// The stack failed without the Lambda (the baseline failed, or the
    /// container greeter failed during a step): not the Lambda's fault;
    /// the share stays where it is and the run stops.
    BaselineBroken(String),
    /// Ctrl-C or SIGTERM during the step.
    Interrupted,
}

impl From<Judged> for Verdict {
    fn from(judged: Judged) -> Self {
        match judged {
            Judged::Passed => Self::Passed,
            Judged::Failed(why) => Self::Failed(why),
            Judged::BaselineBroken(why) => Self::BaselineBroken(why),
        }
    }
}

/// One step, or the baseline, as the final table shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The Lambda's share during the step.
    pub lambda_share: Share,
    /// What the two destinations did.
    #[serde(flatten)]
    pub window: Window,
    /// How it ended.
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl StepReport {
    /// A step interrupted before its window was judged.
    pub(crate) fn interrupted(lambda_share: Share, source: Source) -> Self {
        let none = Destination::new(0, 0, 0, 0, Default::default(), Default::default());
        Self {
            lambda_share,
            window: Window {
                source,
                probes: 0,
                requests: 0,
                observed_lambda_percent: 0.0,
                greeter: none.clone(),
                lambda: none,
                unattributed_failures: 0,
                failures: Default::default(),
                greeter_failure: None,
                elapsed: Default::default(),
            },
            verdict: Verdict::Interrupted,
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every step passed.
    Completed,
    /// A step failed; the share was rolled back.
    RolledBack,
    /// The stack failed without the Lambda; nothing moved after that.
    Stopped,
    /// Ctrl-C or SIGTERM; the share went back to the last passed step.
    Interrupted,
    /// The target could not be read or written, or someone else changed
    /// it (then nothing more was written).
    Error,
}

/// The whole run, for the table and `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationReport {
    /// Where the split was held.
    pub target: String,
    /// The Lambda's share before the run (`None`: envoy.yaml's).
    pub started_at: Option<Share>,
    /// The steps the run was given.
    pub plan: Vec<Share>,
    /// The baseline before anything moved.
    pub baseline: Option<StepReport>,
    /// Each step run, in order.
    pub steps: Vec<StepReport>,
    /// How it ended.
    pub ending: Ending,
    /// Why, in one line.
    pub message: String,
    /// The Lambda's share the target holds at the end, as this run last
    /// saw it.
    pub final_share: Option<Share>,
    /// Gates applied.
    pub gates: Gates,
    /// Hold of each step.
    pub hold: Hold,
    /// Where a failed step went.
    pub rollback: Rollback,
}

impl MigrationReport {
    /// The exit code: 0 only when the last step passed.
    pub fn code(&self) -> u8 {
        match self.ending {
            Ending::Completed => 0,
            Ending::Interrupted => 130,
            _ => 1,
        }
    }

    /// The table every run ends with.
    pub fn render(&self) -> String {
        let mut out = windows_table(self.baseline.as_ref(), &self.steps);
        let end = match self.ending {
            Ending::Completed => "completed",
            Ending::RolledBack => "ROLLED BACK",
            Ending::Stopped => "STOPPED",
            Ending::Interrupted => "INTERRUPTED",
            Ending::Error => "ERROR",
        };
        let _ = writeln!(
            out,
            "{end}: {}. {} now holds the Lambda at {}.",
            self.message,
            self.target,
            self.final_share
                .map_or_else(|| "envoy.yaml's weights".to_owned(), |s| format!("{s}%"))
        );
        out
    }

    /// The plan, for `--dry-run`: what would be written, nothing sent.
    pub fn render_plan(plan: &Plan, target: &Target) -> String {
        let mut out = String::new();
        let g = &plan.gates;
        let h = &plan.hold;
        let _ = writeln!(
            out,
            "split migrate --dry-run: nothing is read or written\n\
             target    {}\n\
             probes    {} ({} at a time, {}, {} ms timeout)\n\
             steps     {}\n\
             hold      {} requests and {} s per step, extended to {} requests for {} Lambda requests; {} ms settle after each write\n\
             gates     Lambda success >= {}%; Lambda p99 (p50 under {} Lambda latencies) <= {}x the greeter's (or <= {}) and <= {}\n\
             baseline  {} requests before the first write; any failure stops the run\n\
             rollback  a failed step goes back to {}; Ctrl-C or SIGTERM to the last passed step",
            target.describe(),
            plan.url,
            plan.concurrency,
            plan.rate.map_or_else(
                || "as fast as answered".to_owned(),
                |r| format!("at most {r} a second")
            ),
            plan.timeout.as_millis(),
            join_shares(&plan.steps.0),
            h.requests,
            h.min_time.as_secs_f64(),
            h.max_requests,
            g.min_lambda_answers,
            h.settle.as_millis(),
            g.min_success,
            crate::judge::P99_MIN_LATENCIES,
            g.max_p99_ratio,
            millis(g.p99_floor),
            millis(g.max_p99),
            h.baseline_requests(),
            match plan.rollback {
                Rollback::Zero => "0% (every call to the container greeter)",
                Rollback::Previous => "the last passed step",
            }
        );
        let judge = match &plan.judge {
            Judge::Probes => "the probe requests' answers".to_owned(),
            Judge::Prometheus { url, max_time } => format!(
                "Prometheus at {url} (Envoy's per-destination series, ingress's function errors): windows of at least {} s, extended to {} s for {} Lambda requests; probes {}",
                h.min_time.as_secs_f64(),
                max_time.as_secs_f64(),
                g.min_lambda_answers,
                if plan.probes {
                    "on, as load"
                } else {
                    "off: real traffic only"
                }
            ),
        };
        let _ = writeln!(out, "judge     {judge}");
        for (i, share) in plan.steps.0.iter().enumerate() {
            let _ = writeln!(out, "step {}: {}", i + 1, target.describe_write(*share));
        }
        out
    }
}

/// The windows as a table: one row per window, the baseline first, each
/// destination with the requests it got and how many succeeded (the
/// final report's and `split rollout status`'s).
pub fn windows_table(baseline: Option<&StepReport>, steps: &[StepReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:>7} {:>8} {:>15} {:>15} {:>9}  {:<21} {:<21} verdict",
        "step",
        "lambda",
        "requests",
        "greeter ok/req",
        "lambda ok/req",
        "lambda ok",
        "greeter p50/p99",
        "lambda p50/p99"
    );
    let baseline = baseline.into_iter().map(|b| ("baseline".to_owned(), b));
    let steps = (steps.iter().enumerate()).map(|(i, s)| (format!("{}", i + 1), s));
    for (name, step) in baseline.chain(steps) {
        let verdict = match (&step.verdict, name.as_str()) {
            (Verdict::Passed, "baseline") => "ok".to_owned(),
            (other, _) => verdict_text(other),
        };
        let w = &step.window;
        let pair = |d: &Destination| {
            if d.latencies == 0 {
                "-".to_owned()
            } else {
                format!("{} / {}", millis(d.p50), millis(d.p99))
            }
        };
        let success = if w.lambda.requests == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}%", w.lambda.success_percent)
        };
        let counts = |d: &Destination| format!("{}/{}", d.succeeded, d.requests);
        let _ = writeln!(
            out,
            "{name:<9} {:>7} {:>8} {:>15} {:>15} {success:>9}  {:<21} {:<21} {verdict}",
            format!("{}%", step.lambda_share),
            w.requests,
            counts(&w.greeter),
            counts(&w.lambda),
            pair(&w.greeter),
            pair(&w.lambda)
        );
    }
    out
}

/// A step's verdict as the progress lines and the table word it.
fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Passed => "passed".to_owned(),
        Verdict::Failed(why) => format!("FAILED: {}", why.join("; ")),
        Verdict::BaselineBroken(why) => format!("STOPPED: {why}"),
        Verdict::Interrupted => "interrupted".to_owned(),
    }
}

/// A step in one progress line.
pub(crate) fn summary(step: &StepReport) -> String {
    format!("{} -> {}", window_line(&step.window), verdict_text(&step.verdict))
}

/// A window in one line, each destination with the requests it got and
/// how many succeeded: `6808 requests, greeter 6467 of 6467 ok (100.00%)
/// p99 5.0 ms, lambda 0 of 341 ok (0.00%) p99 9.9 ms`.
pub fn window_line(w: &Window) -> String {
    let destination = |d: &Destination| {
        if d.latencies == 0 {
            d.ok_of()
        } else {
            format!("{} p99 {}", d.ok_of(), millis(d.p99))
        }
    };
    format!(
        "{} requests, greeter {}, lambda {}",
        w.requests,
        destination(&w.greeter),
        destination(&w.lambda),
    )
}

/// Shares as people read them: `5% -> 25% -> 100%` (`none` for none).
pub fn join_shares(shares: &[Share]) -> String {
    if shares.is_empty() {
        return "none".to_owned();
    }
    shares
        .iter()
        .map(|s| format!("{s}%"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn step(share: &str, greeter: (u64, u64), lambda: (u64, u64, u64), verdict: Verdict) -> StepReport {
        let mut failures = BTreeMap::new();
        if lambda.2 > 0 {
            failures.insert("fault filter abort".to_owned(), lambda.2);
        }
        StepReport {
            lambda_share: share.parse().unwrap(),
            window: Window {
                source: Source::Probes,
                probes: greeter.0 + lambda.0 + lambda.2,
                requests: greeter.0 + lambda.0 + lambda.2,
                observed_lambda_percent: 0.0,
                greeter: Destination::new(greeter.0, 0, 0, greeter.0, MS(greeter.1), MS(greeter.1)),
                lambda: Destination::new(lambda.0, lambda.2, 0, lambda.0, MS(lambda.1), MS(lambda.1)),
                unattributed_failures: lambda.2,
                failures,
                greeter_failure: None,
                elapsed: Duration::from_secs(1),
            },
            verdict,
        }
    }

    fn report(
        baseline: StepReport,
        steps: Vec<StepReport>,
        ending: Ending,
        message: &str,
    ) -> MigrationReport {
        MigrationReport {
            target: "Envoy at http://127.0.0.1:9901/".into(),
            started_at: Some(Share::ZERO),
            plan: vec!["5".parse().unwrap(), "25".parse().unwrap()],
            baseline: Some(baseline),
            steps,
            ending,
            message: message.into(),
            final_share: Some(Share::ZERO),
            gates: Gates {
                min_success: 99.0,
                min_lambda_answers: 10,
                max_p99_ratio: 3.0,
                p99_floor: MS(20),
                max_p99: MS(1000),
            },
            hold: Hold {
                requests: 400,
                max_requests: 4000,
                min_time: Duration::ZERO,
                settle: Duration::ZERO,
            },
            rollback: Rollback::Zero,
        }
    }

    #[test]
    fn the_table_shows_every_step_and_how_the_run_ended() {
        let report = report(
            step("0", (100, 7), (0, 0, 0), Verdict::Passed),
            vec![
                step("5", (380, 8), (20, 12, 0), Verdict::Passed),
                step(
                    "25",
                    (300, 8),
                    (80, 9, 20),
                    Verdict::Failed(vec!["Lambda success 80.00% < 99%".into()]),
                ),
            ],
            Ending::RolledBack,
            "the 25% step failed; rolled back to 0%",
        );
        let text = report.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(
            lines[1],
            "baseline       0%      100         100/100             0/0         -  7.0 ms / 7.0 ms       -                     ok"
        );
        assert_eq!(
            lines[2],
            "1              5%      400         380/380           20/20   100.00%  8.0 ms / 8.0 ms       12.0 ms / 12.0 ms     passed"
        );
        assert!(
            lines[3].contains(" 80/100 ")
                && lines[3].contains("80.00%")
                && lines[3].contains("FAILED: Lambda success 80.00% < 99%"),
            "{text}"
        );
        assert_eq!(
            lines[4],
            "ROLLED BACK: the 25% step failed; rolled back to 0%. Envoy at http://127.0.0.1:9901/ now holds the Lambda at 0%."
        );
        assert_eq!(report.code(), 1);
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["ending"], "rolled_back");
        assert_eq!(json["baseline"]["verdict"], "passed");
        assert_eq!(json["steps"][0]["verdict"], "passed");
        assert_eq!(json["steps"][1]["verdict"], "failed");
        assert_eq!(json["steps"][1]["lambda_share"], 25.0);
        assert_eq!(json["steps"][1]["lambda"]["failed"], 20);
        assert_eq!(json["steps"][1]["lambda"]["requests"], 100);
        assert_eq!(json["steps"][1]["lambda"]["succeeded"], 80);
        assert_eq!(json["steps"][0]["lambda"]["p99"], 12.0);
        assert_eq!(json["steps"][0]["source"], "probes");
    }

    #[test]
    fn a_failed_baseline_is_reported_as_such_in_the_table_and_in_json() {
        let why = "the stack fails before anything moved (3 of 100 baseline requests failed: 3 x boom)";
        let report = report(
            step("0", (97, 7), (0, 0, 3), Verdict::BaselineBroken(why.into())),
            vec![],
            Ending::Stopped,
            why,
        );
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["baseline"]["verdict"], "baseline_broken");
        assert_eq!(json["baseline"]["why"], why);
        assert!(
            report
                .render()
                .lines()
                .nth(1)
                .unwrap()
                .ends_with(&format!("STOPPED: {why}"))
        );
    }

    #[test]
    fn a_lambda_whose_every_request_failed_shows_the_requests_it_got() {
        // Issue 20: 341 Lambda calls, all function errors, printed as
        // `lambda 0 (0.00% ok)`, as if the Lambda had got nothing.
        let mut failed = step("5", (6467, 5), (0, 0, 341), Verdict::Failed(vec!["boom".into()]));
        failed.window.lambda = Destination::new(0, 341, 341, 0, MS(0), MS(0));
        let line = summary(&failed);
        assert!(
            line.contains("greeter 6467 of 6467 ok (100.00%)") && line.contains("lambda 0 of 341 ok (0.00%)"),
            "{line}"
        );
        let report = report(
            step("0", (100, 7), (0, 0, 0), Verdict::Passed),
            vec![failed],
            Ending::RolledBack,
            "x",
        );
        let row = report.render().lines().nth(2).unwrap().to_owned();
        assert!(
            row.contains("6467/6467") && row.contains("0/341") && row.contains("0.00%"),
            "{row}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["steps"][0]["lambda"]["requests"], 341);
        assert_eq!(json["steps"][0]["lambda"]["succeeded"], 0);
    }
}
