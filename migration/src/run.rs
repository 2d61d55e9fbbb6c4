//! `split migrate`: the Lambda's share walked through steps, each step
//! judged by what the two destinations did in the same window, and rolled
//! back when the Lambda fails its gates.
//!
//! A run reads where the split stands, checks the baseline (a short window
//! before anything is written: a failing stack is not the Lambda's fault),
//! then for each step writes the share ([`target`]), holds a window
//! ([`probes`] fills it from probe requests through ingress, or
//! [`prometheus`] from the traffic the mesh carried, with the probes as
//! optional load), and judges it ([`judge`], one pure function of the
//! window and the [`Gates`] whichever source filled it). A
//! failed step rolls the share back ([`Rollback`]) and ends the run with
//! exit code 1; SIGINT or SIGTERM returns it to the last passed step, exit
//! code 130; someone else's change to the split stops the run with nothing
//! more written, exit code 1. [`run`] fills the [`MigrationReport`] in one
//! place whichever way the run ends; [`report`] prints it.

use std::time::{Duration, Instant};

use service_core::upstream::Client;

use crate::judge::prometheus::{self, PromError, Prometheus};
use crate::judge::{Judged, Reference, Source, Window, judge_baseline, judge_step};
use crate::plan::{Hold, Judge, Plan, Rollback};
use crate::probe::{self, Probe};
use crate::progress::{Progress, live_line};
use crate::report::{Ending, MigrationReport, StepReport, join_shares, summary};
use crate::share::Share;
use crate::target::Target;

/// The baseline window's label.
const BASELINE: &str = "baseline";

/// How a run ended, before it is written into the report.
struct End {
    ending: Ending,
    message: String,
}

impl End {
    fn new(ending: Ending, message: impl Into<String>) -> Self {
        Self {
            ending,
            message: message.into(),
        }
    }
}

/// Runs the migration on `target`. `interrupted` resolves on SIGINT or
/// SIGTERM.
pub async fn run<F>(plan: &Plan, target: &mut Target, progress: &Progress, interrupted: F) -> MigrationReport
where
    F: std::future::Future<Output = ()>,
{
    tokio::pin!(interrupted);
    let mut report = MigrationReport {
        target: target.describe(),
        started_at: None,
        plan: plan.steps.0.clone(),
        baseline: None,
        steps: Vec::new(),
        ending: Ending::Error,
        message: String::new(),
        final_share: None,
        gates: plan.gates,
        hold: plan.hold,
        rollback: plan.rollback,
    };
    let end = walk(plan, target, progress, &mut interrupted, &mut report).await;
    // The one place a run's end is written down, whichever way it ended.
    report.ending = end.ending;
    report.message = end.message;
    report.final_share = match end.ending {
        // A write may or may not have landed: ask (a target never read
        // was never written either).
        Ending::Error if target.was_read() => match target.read().await {
            Ok(share) => share,
            Err(_) => target.last_share(),
        },
        _ => target.last_share(),
    };
    report
}

/// The baseline and the steps, each recorded in `report` as it is judged.
async fn walk<F>(
    plan: &Plan,
    target: &mut Target,
    progress: &Progress,
    interrupted: &mut std::pin::Pin<&mut F>,
    report: &mut MigrationReport,
) -> End
where
    F: std::future::Future<Output = ()>,
{
    let client = match Client::new(plan.timeout) {
        Ok(client) => client,
        Err(e) => return End::new(Ending::Error, format!("cannot build the HTTP client: {e}")),
    };
    let prometheus = match &plan.judge {
        Judge::Probes => None,
        Judge::Prometheus { url, .. } => {
            let checked = match Prometheus::new(url.clone(), plan.timeout) {
                Ok(prometheus) => prometheus.check().await.map(|()| prometheus),
                Err(e) => return End::new(Ending::Error, format!("cannot build the HTTP client: {e}")),
            };
            match checked {
                Ok(prometheus) => Some(prometheus),
                Err(e) => return End::new(Ending::Error, format!("{e}; nothing was written")),
            }
        }
    };
    let windows = Windows {
        plan,
        client: &client,
        prometheus: prometheus.as_ref(),
        progress,
    };
    let start = match target.read().await {
        Ok(share) => share,
        Err(e) => {
            return End::new(
                Ending::Error,
                format!(
                    "cannot read the split from {}: {e}; nothing was written",
                    target.describe()
                ),
            );
        }
    };
    report.started_at = start;
    let start_share = start.unwrap_or(Share::ZERO);
    let steps: Vec<Share> = plan
        .steps
        .0
        .iter()
        .copied()
        .filter(|s| *s > start_share)
        .collect();
    progress.line(&format!(
        "split migrate: {} holds the Lambda at {}; steps {}",
        target.describe(),
        start.map_or_else(|| "envoy.yaml's weights".to_owned(), |s| format!("{s}%")),
        join_shares(&steps)
    ));
    if steps.len() < plan.steps.0.len() {
        progress.line(&format!(
            "  steps at or below {start_share}% skipped: the Lambda already has that share"
        ));
    }

    // The baseline: the stack as it is, before anything moves.
    let baseline_hold = Hold {
        requests: plan.hold.baseline_requests(),
        max_requests: plan.hold.baseline_requests(),
        // Probes count requests; Prometheus needs scrapes.
        min_time: match plan.judge {
            Judge::Probes => Duration::ZERO,
            Judge::Prometheus { .. } => plan.hold.min_time,
        },
        settle: Duration::ZERO,
    };
    let window = match windows
        .hold(&baseline_hold, start_share, BASELINE, interrupted)
        .await
    {
        None => {
            return End::new(
                Ending::Interrupted,
                "interrupted during the baseline; nothing was written",
            );
        }
        Some(Err(e)) => return End::new(Ending::Error, format!("{e}; nothing was written")),
        Some(Ok(window)) => window,
    };
    let judged = judge_baseline(&window);
    let mut reference = Reference::default().updated(&window.greeter);
    report.baseline = Some(StepReport {
        lambda_share: start_share,
        window,
        verdict: judged.clone().into(),
    });
    if let Judged::BaselineBroken(why) = judged {
        let whose = if start_share == Share::ZERO {
            "not the Lambda's fault, nothing was written"
        } else {
            "nothing was written"
        };
        return End::new(Ending::Stopped, format!("{why}; {whose}"));
    }

    let mut last_passed = start_share;
    for (index, &share) in steps.iter().enumerate() {
        let label = format!("step {}/{} lambda {share}%", index + 1, steps.len());
        progress.line(&format!("{label}: {}", target.describe_write(share)));
        if let Err(e) = target.write(share).await {
            let message = format!("writing {share}% failed: {e}");
            if !e.may_have_landed() {
                return End::new(Ending::Error, message);
            }
            // No answer: put the last passed step back, unless someone
            // else's change is there.
            return match target.recover(share, last_passed).await {
                Ok(()) => restore(target, last_passed, progress, End::new(Ending::Error, message)).await,
                Err(e) => End::new(Ending::Error, format!("{message}; {e}")),
            };
        }
        let window = tokio::select! {
            () = tokio::time::sleep(plan.hold.settle) => {
                windows.hold(&plan.hold, share, &label, interrupted).await
            }
            () = interrupted.as_mut() => None,
        };
        let source = windows.source();
        let Some(window) = window else {
            report.steps.push(StepReport::interrupted(share, source));
            let end = End::new(
                Ending::Interrupted,
                format!("interrupted during the {share}% step; back to the last passed step, {last_passed}%"),
            );
            return restore(target, last_passed, progress, end).await;
        };
        // A window at someone else's share is no window of this step.
        if let Err(e) = target.check(&format!("after the {share}% step's window")).await {
            return End::new(Ending::Error, e.to_string());
        }
        // No figures is never a pass.
        let (window, judged) = match window {
            Ok(window) => {
                let judged = judge_step(&window, &plan.gates, reference);
                (window, judged)
            }
            Err(e) => (
                StepReport::interrupted(share, source).window,
                Judged::Failed(vec![format!("no data from Prometheus: {e}")]),
            ),
        };
        reference = reference.updated(&window.greeter);
        let step = StepReport {
            lambda_share: share,
            window,
            verdict: judged.clone().into(),
        };
        progress.line(&format!("{label}: {}", summary(&step)));
        report.steps.push(step);
        match judged {
            Judged::Passed => last_passed = share,
            Judged::Failed(why) => {
                let back = match plan.rollback {
                    Rollback::Zero => Share::ZERO,
                    Rollback::Previous => last_passed,
                };
                let end = End::new(
                    Ending::RolledBack,
                    format!(
                        "the {share}% step failed ({}); rolled back to {back}%",
                        why.join("; ")
                    ),
                );
                return restore(target, back, progress, end).await;
            }
            Judged::BaselineBroken(why) => {
                return End::new(
                    Ending::Stopped,
                    format!("{why}; not the Lambda's fault: stopped at {share}% without moving"),
                );
            }
        }
    }
    End::new(
        Ending::Completed,
        format!(
            "every step passed: the Lambda holds {}%",
            steps.last().copied().unwrap_or(start_share)
        ),
    )
}

/// Writes `share` back; a failure to do so is the run's error.
async fn restore(target: &mut Target, share: Share, progress: &Progress, end: End) -> End {
    progress.line(&format!(
        "rolling back to {share}%: {}",
        target.describe_write(share)
    ));
    match target.write(share).await {
        Ok(()) => end,
        Err(e) => End {
            ending: match end.ending {
                Ending::Interrupted => Ending::Interrupted,
                _ => Ending::Error,
            },
            message: format!("{}; THE ROLLBACK TO {share}% FAILED: {e}", end.message),
        },
    }
}

/// Where windows come from: the probes, or Prometheus (with probes as
/// load, if on).
struct Windows<'a> {
    plan: &'a Plan,
    client: &'a Client,
    prometheus: Option<&'a Prometheus>,
    progress: &'a Progress,
}

impl Windows<'_> {
    fn source(&self) -> Source {
        match self.prometheus {
            None => Source::Probes,
            Some(_) => Source::Prometheus,
        }
    }

    /// Holds a window at `share` (the baseline's is never extended);
    /// `None` if interrupted first.
    async fn hold<F>(
        &self,
        hold: &Hold,
        share: Share,
        label: &str,
        interrupted: &mut std::pin::Pin<&mut F>,
    ) -> Option<Result<Window, PromError>>
    where
        F: std::future::Future<Output = ()>,
    {
        match (self.prometheus, &self.plan.judge) {
            (Some(prometheus), Judge::Prometheus { max_time, .. }) => {
                let limit = if label == BASELINE {
                    hold.min_time
                } else {
                    *max_time
                };
                self.metrics_window(prometheus, hold.min_time, limit, label, interrupted)
                    .await
            }
            _ => self.probe_window(hold, share, label, interrupted).await.map(Ok),
        }
    }

    /// Probes until the hold is over; `None` if interrupted first.
    async fn probe_window<F>(
        &self,
        hold: &Hold,
        share: Share,
        label: &str,
        interrupted: &mut std::pin::Pin<&mut F>,
    ) -> Option<Window>
    where
        F: std::future::Future<Output = ()>,
    {
        let (plan, progress) = (self.plan, self.progress);
        let probe = Probe::start(
            self.client,
            &plan.url,
            plan.concurrency,
            hold.max_requests,
            plan.rate,
        );
        let needs_lambda = share > Share::ZERO;
        // Often enough that a fast stack overshoots the hold by little.
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        let started = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = interrupted.as_mut() => {
                    probe.abort().await;
                    progress.live("");
                    return None;
                }
            }
            let (sent, lambda) = probe.counts();
            if progress.shows_live() {
                progress.live(&live_line(
                    label,
                    &probe.samples(),
                    share,
                    hold,
                    plan.gates.min_lambda_answers,
                ));
            }
            let enough = sent >= hold.requests
                && started.elapsed() >= hold.min_time
                && (!needs_lambda || lambda >= plan.gates.min_lambda_answers);
            if enough || sent >= hold.max_requests {
                progress.live("");
                return Some(crate::judge::probes::window(&probe.finish(true).await, share));
            }
        }
    }

    /// Counts the mesh's traffic from a scrape after now to one after
    /// `min_time`, extended (a read a second) until the Lambda has had
    /// enough requests or `max_time` is over. Probes, if on, are load
    /// meanwhile. `None` if interrupted.
    async fn metrics_window<F>(
        &self,
        prometheus: &Prometheus,
        min_time: Duration,
        max_time: Duration,
        label: &str,
        interrupted: &mut std::pin::Pin<&mut F>,
    ) -> Option<Result<Window, PromError>>
    where
        F: std::future::Future<Output = ()>,
    {
        let plan = self.plan;
        let probe = plan.probes.then(|| {
            Probe::start(
                self.client,
                &plan.url,
                plan.concurrency,
                probe::MAX_REQUESTS,
                plan.rate,
            )
        });
        let started = Instant::now();
        let sent = || probe.as_ref().map_or(0, |p| p.counts().0);
        let counted = async {
            let start = prometheus.counters(prometheus::now()).await?;
            tokio::time::sleep(min_time.saturating_sub(started.elapsed())).await;
            loop {
                let end = prometheus.counters(prometheus::now()).await?;
                let window = prometheus::window(&start, &end, started.elapsed(), sent());
                let enough = window.lambda.requests >= plan.gates.min_lambda_answers;
                if enough || started.elapsed() >= max_time {
                    return Ok(window);
                }
                self.progress.live(&format!(
                    "{label}  extended {:.0}/{:.0} s: {} Lambda requests of {} needed",
                    started.elapsed().as_secs_f64(),
                    max_time.as_secs_f64(),
                    window.lambda.requests,
                    plan.gates.min_lambda_answers
                ));
                tokio::time::sleep(Duration::from_secs(1).min(max_time.saturating_sub(started.elapsed())))
                    .await;
            }
        };
        let result = tokio::select! {
            result = counted => Some(result),
            () = interrupted.as_mut() => None,
        };
        self.progress.live("");
        if let Some(probe) = probe {
            match result {
                Some(_) => drop(probe.finish(true).await),
                None => drop(probe.abort().await),
            }
        }
        result
    }
}
