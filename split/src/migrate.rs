//! `split migrate`: the Lambda's share walked through steps, each step
//! judged by what the two destinations answered in the same window, and
//! rolled back when the Lambda fails its gates.
//!
//! A run reads where the split stands, checks the baseline (a short probe
//! before anything is written: a failing stack is not the Lambda's fault),
//! then for each step writes the share (Envoy's runtime, or Consul's
//! splitter with check-and-set), sends probe requests through ingress until
//! the step's hold is over, and judges it ([`Gates`]). A failed step rolls
//! the share back ([`Rollback`]) and ends the run with exit code 1; SIGINT
//! or SIGTERM returns it to the last passed step, exit code 130.
//!
//! Which greeter answered a request is read from its text, but a failed
//! request has no greeter's text: [`blame`] reads the failure. A Lambda
//! function error is the Lambda's; an error the container greeter wrote
//! (naming its own upstream) is the greeter's; anything else (Envoy's own
//! 503, a timeout) cannot be told apart and counts against the Lambda
//! while it has a share, so a step never passes with failures nobody can
//! explain. The baseline probe, before the first write, catches a stack
//! that fails on its own.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::str::FromStr;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::Serialize;
use service_core::upstream::Client;

use crate::consul_api::{Consul, ConsulError, Splitter};
use crate::envoy::{self, SetError};
use crate::observe::Probe;
use crate::report::{self, Report, Sample, millis, percentile};
use crate::share::Share;

/// The steps of a migration: Lambda shares, increasing, each above 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps(pub Vec<Share>);

/// The default steps: a canary, a quarter, half, all.
pub const DEFAULT_STEPS: &str = "5,25,50,100";

impl FromStr for Steps {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut steps: Vec<Share> = Vec::new();
        for part in raw.split(',') {
            let share: Share = part.parse().map_err(|e| format!("step {:?}: {e}", part.trim()))?;
            if share == Share::ZERO {
                return Err("a step of 0 moves nothing: steps are the Lambda's shares, above 0".to_owned());
            }
            if let Some(last) = steps.last().filter(|last| share <= **last) {
                return Err(format!("steps must increase: {share} after {last}"));
            }
            steps.push(share);
        }
        Ok(Self(steps))
    }
}

/// Where a failed step sends the share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rollback {
    /// 0: every call to the container greeter.
    Zero,
    /// The last step that passed (where the run started if none did).
    Previous,
}

/// What a step must show to pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Gates {
    /// The least share of the Lambda's requests that must succeed, percent.
    pub min_success: f64,
    /// Lambda answers a step needs before it is judged at all.
    pub min_lambda_answers: u64,
    /// The Lambda's p99 may be at most this many times the greeter's...
    pub max_p99_ratio: f64,
    /// ...unless it is at most this (a few milliseconds apart is noise).
    #[serde(serialize_with = "as_ms")]
    pub p99_floor: Duration,
    /// The Lambda's p99 may never exceed this.
    #[serde(serialize_with = "as_ms")]
    pub max_p99: Duration,
}

/// How long a step holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// Probe requests a step sends at least.
    pub requests: u64,
    /// The most a step sends, whatever else it waits for (Lambda
    /// answers, `min_time`): a step ends there.
    pub max_requests: u64,
    /// The least time a step holds, probing all along.
    #[serde(serialize_with = "as_ms")]
    pub min_time: Duration,
    /// Time left after a write before probing starts (Consul's sidecars
    /// take a moment to get a new splitter).
    #[serde(serialize_with = "as_ms")]
    pub settle: Duration,
}

impl Hold {
    /// The probes of the baseline, before the first write: the stack as it
    /// stands, judged on up to 100 requests.
    fn baseline_requests(&self) -> u64 {
        self.requests.clamp(1, 100)
    }
}

/// Everything a run needs besides its target.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The Lambda's shares, in order.
    pub steps: Steps,
    /// What each step must show.
    pub gates: Gates,
    /// How long each step holds.
    pub hold: Hold,
    /// Where a failed step sends the share.
    pub rollback: Rollback,
    /// ingress, where probes go.
    pub url: Url,
    /// Probe requests in flight at once.
    pub concurrency: usize,
    /// The most probe requests a second, if limited.
    pub rate: Option<u32>,
    /// The most one probe request may take.
    pub timeout: Duration,
}

/// Where the split is held: the local Envoy, or Consul.
#[derive(Debug)]
pub enum Target {
    /// Envoy's admin endpoint.
    Envoy {
        /// Its URL.
        admin: Url,
    },
    /// Consul's HTTP API, and the splitter as last read or written.
    Consul {
        /// The client.
        consul: Consul,
        /// The entry as this run last saw it: the `cas` of the next write.
        last: Option<Splitter>,
        /// Whether `last` is this run's own write.
        wrote: bool,
    },
}

/// Why a target could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Envoy.
    #[error(transparent)]
    Envoy(#[from] SetError),
    /// Consul.
    #[error(transparent)]
    Consul(#[from] ConsulError),
    /// Consul refused a write because the entry changed since this run
    /// read or wrote it.
    #[error(
        "Consul refused the write (cas {expected}): the greeter splitter was changed by someone else since this run {seen} it; now {now}. Nothing was overwritten; split migrate stops here"
    )]
    Concurrent {
        /// The ModifyIndex this run held.
        expected: u64,
        /// "read" or "wrote".
        seen: &'static str,
        /// The entry as it is now.
        now: String,
    },
    /// The write went through but reads back otherwise.
    #[error("the target reads {found} back after {wanted} was written")]
    NotApplied {
        /// What was written.
        wanted: String,
        /// What was read.
        found: String,
    },
}

impl TargetError {
    /// Whether the write may have reached the target anyway: no answer, or
    /// an answer that does not match. A refusal changed nothing.
    pub fn may_have_landed(&self) -> bool {
        match self {
            Self::Envoy(e) => !matches!(
                e,
                SetError::BadUrl(_) | SetError::Refused(_) | SetError::Client(_)
            ),
            Self::Consul(e) => matches!(
                e,
                ConsulError::Unreachable { .. } | ConsulError::Timeout { .. } | ConsulError::BadAnswer { .. }
            ),
            Self::Concurrent { .. } => false,
            Self::NotApplied { .. } => true,
        }
    }
}

/// The most one call to Envoy's admin or to Consul's API may take.
pub const TARGET_TIMEOUT: Duration = Duration::from_secs(5);

impl Target {
    /// For messages: where the split is held.
    pub fn describe(&self) -> String {
        match self {
            Self::Envoy { admin } => format!("Envoy at {admin}"),
            Self::Consul { consul, .. } => {
                format!("Consul at {} (service-splitter greeter)", consul.address())
            }
        }
    }

    /// The Lambda's share the target holds now; `None` for an Envoy whose
    /// runtime has no weights (envoy.yaml's apply).
    pub async fn read(&mut self) -> Result<Option<Share>, TargetError> {
        match self {
            Self::Envoy { admin } => Ok(envoy::get(admin, TARGET_TIMEOUT).await?),
            Self::Consul { consul, last, wrote } => {
                *last = consul.read_splitter().await?;
                *wrote = false;
                // No splitter: every call goes to the container greeter.
                Ok(Some(last.as_ref().map_or(Share::ZERO, |s| s.lambda)))
            }
        }
    }

    /// Writes the share and checks it reads back.
    pub async fn write(&mut self, lambda: Share) -> Result<(), TargetError> {
        match self {
            Self::Envoy { admin } => {
                envoy::set(admin, lambda, TARGET_TIMEOUT, Duration::ZERO).await?;
                Ok(())
            }
            Self::Consul { consul, last, wrote } => {
                let cas = last.as_ref().map_or(0, |s| s.modify_index);
                let seen = if *wrote { "wrote" } else { "read" };
                if !consul
                    .write_splitter(last.as_ref().map(|s| &s.entry), lambda, cas)
                    .await?
                {
                    let now = match consul.read_splitter().await {
                        Ok(Some(s)) => format!(
                            "ModifyIndex {} with the Lambda at {}%: {}",
                            s.modify_index,
                            s.lambda,
                            compact_splits(&s.entry)
                        ),
                        Ok(None) => "it is deleted".to_owned(),
                        Err(e) => format!("it cannot be read ({e})"),
                    };
                    return Err(TargetError::Concurrent {
                        expected: cas,
                        seen,
                        now,
                    });
                }
                let back = consul.read_splitter().await?;
                match back {
                    Some(s) if s.lambda == lambda => {
                        *last = Some(s);
                        *wrote = true;
                        Ok(())
                    }
                    other => Err(TargetError::NotApplied {
                        wanted: format!("{lambda}%"),
                        found: other.map_or_else(|| "no splitter".to_owned(), |s| format!("{}%", s.lambda)),
                    }),
                }
            }
        }
    }

    /// The write [`Target::write`] would make, for `--dry-run`.
    pub fn describe_write(&self, lambda: Share) -> String {
        match self {
            Self::Envoy { admin } => {
                let pairs = envoy::runtime_weights(lambda).map(|(k, w)| (k, w.to_string()));
                envoy::modify_url(admin, &pairs).map_or_else(|e| e.to_string(), |url| format!("POST {url}"))
            }
            Self::Consul { consul, .. } => consul.describe_write(None, lambda, "<ModifyIndex read before>"),
        }
    }
}

fn compact_splits(entry: &serde_json::Value) -> String {
    entry
        .get("Splits")
        .map_or_else(|| "no Splits".to_owned(), |s| format!("Splits {s}"))
}

/// Failures read from their text: whose they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// greeter-lambda's: a Lambda function error, answered with 200.
    Lambda,
    /// The container greeter's own error, naming its upstream.
    Greeter,
    /// Envoy's own answer, a timeout, a connection error: either.
    Unknown,
}

/// Whose a failure is, from the one line the probe recorded.
pub fn blame(failure: &str) -> Blame {
    // ingress answers 502 "greeter upstream failed: ..." for a 200 that
    // carries a function error object: only a Lambda answers that way.
    if failure.contains("greeter upstream failed: ") {
        return Blame::Lambda;
    }
    // The container greeter's own 502/504 names its upstream; greeter-lambda
    // as a Lambda reports the same as a function error (above).
    let greeters_own = failure
        .split_once("greeter upstream answered 50")
        .is_some_and(|(_, detail)| {
            ["name upstream ", "greeting upstream "]
                .iter()
                .any(|u| detail.contains(u))
        });
    if greeters_own {
        return Blame::Greeter;
    }
    Blame::Unknown
}

/// One destination's tally in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Destination {
    /// Greetings it answered.
    pub answers: u64,
    /// Failures put down to it.
    pub failed: u64,
    /// Percent of its requests that succeeded (100 with none).
    pub success_percent: f64,
    /// Median latency of its answers.
    #[serde(serialize_with = "as_ms")]
    pub p50: Duration,
    /// 99th percentile latency of its answers.
    #[serde(serialize_with = "as_ms")]
    pub p99: Duration,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum Verdict {
    /// Every gate held.
    Passed,
    /// A gate failed: the share is rolled back.
    Failed(Vec<String>),
    /// The container greeter failed: not the Lambda's fault; the share
    /// stays where it is and the run stops.
    BaselineBroken(String),
    /// Ctrl-C or SIGTERM during the step.
    Interrupted,
}

/// One step, as the final table shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// The Lambda's share during the step.
    pub lambda_share: Share,
    /// Probe requests sent.
    pub probes: u64,
    /// The Lambda's share of the answers, percent.
    pub observed_lambda_percent: f64,
    /// The container greeter.
    pub greeter: Destination,
    /// greeter-lambda; unattributed failures included.
    pub lambda: Destination,
    /// Failures that could be either's, counted against the Lambda.
    pub unattributed_failures: u64,
    /// Failures by description.
    pub failures: std::collections::BTreeMap<String, u64>,
    /// How it ended.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Wall time of the window.
    #[serde(serialize_with = "as_ms")]
    pub elapsed: Duration,
}

fn as_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every step passed.
    Completed,
    /// A step failed; the share was rolled back.
    RolledBack,
    /// The container greeter failed; nothing moved after that.
    Stopped,
    /// Ctrl-C or SIGTERM; the share went back to the last passed step.
    Interrupted,
    /// The target could not be read or written.
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
    /// The baseline probe before anything moved.
    pub baseline: Option<StepReport>,
    /// Each step run, in order.
    pub steps: Vec<StepReport>,
    /// How it ended.
    pub ending: Ending,
    /// Why, in one line.
    pub message: String,
    /// The Lambda's share the target holds at the end.
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
}

/// Progress on stderr: a redrawn line on a terminal, a line per event
/// otherwise (CI logs).
#[derive(Debug)]
pub struct Progress {
    terminal: bool,
    quiet: bool,
}

impl Progress {
    /// On stderr; `quiet` shows nothing.
    pub fn stderr(quiet: bool) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            quiet,
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let clear = if self.terminal { "\r\x1b[K" } else { "" };
        let _ = writeln!(std::io::stderr(), "{clear}{text}");
    }

    /// Whether [`Progress::live`] shows anything: the live line is only
    /// worth building then.
    fn shows_live(&self) -> bool {
        self.terminal && !self.quiet
    }

    fn live(&self, text: &str) {
        if self.shows_live() {
            let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
            let _ = std::io::stderr().flush();
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
    let client = match Client::new(plan.timeout) {
        Ok(client) => client,
        Err(e) => {
            report.message = format!("cannot build the HTTP client: {e}");
            return report;
        }
    };
    let start = match target.read().await {
        Ok(share) => share,
        Err(e) => {
            report.message = format!(
                "cannot read the split from {}: {e}; nothing was written",
                target.describe()
            );
            return report;
        }
    };
    report.started_at = start;
    report.final_share = start;
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
    let baseline_plan = Hold {
        requests: plan.hold.baseline_requests(),
        max_requests: plan.hold.baseline_requests(),
        min_time: Duration::ZERO,
        settle: Duration::ZERO,
    };
    let mut greeter_p99 = None;
    let window = probe_window(
        plan,
        &client,
        &baseline_plan,
        0,
        progress,
        "baseline",
        &mut interrupted,
    )
    .await;
    let Some(window) = window else {
        report.ending = Ending::Interrupted;
        report.message = "interrupted during the baseline; nothing was written".to_owned();
        return report;
    };
    let baseline = judge(&window, start_share, &plan.gates, &mut greeter_p99, true);
    let baseline_failed = window.failed();
    report.baseline = Some(baseline);
    if baseline_failed > 0 {
        report.ending = Ending::Stopped;
        let whose = if start_share == Share::ZERO {
            "not the Lambda's fault, nothing was written"
        } else {
            "nothing was written"
        };
        report.message = format!(
            "the stack fails before anything moved ({baseline_failed} of {} baseline requests failed: {}); {whose}",
            window.requests(),
            first_failure(&window)
        );
        return report;
    }

    let mut last_passed = start_share;
    for (index, &share) in steps.iter().enumerate() {
        let label = format!("step {}/{} lambda {share}%", index + 1, steps.len());
        progress.line(&format!("{label}: {}", target.describe_write(share)));
        if let Err(e) = target.write(share).await {
            report.message = format!("writing {share}% failed: {e}");
            report.final_share = target.read().await.ok().flatten();
            if e.may_have_landed() {
                // Put the last passed step back, whatever happened.
                restore(target, last_passed, progress, &mut report).await;
            }
            return report;
        }
        report.final_share = Some(share);
        let window = tokio::select! {
            () = tokio::time::sleep(plan.hold.settle) => {
                probe_window(plan, &client, &plan.hold, share.hundredths(), progress, &label, &mut interrupted).await
            }
            () = &mut interrupted => None,
        };
        let Some(window) = window else {
            report.steps.push(interrupted_step(share));
            report.ending = Ending::Interrupted;
            report.message =
                format!("interrupted during the {share}% step; back to the last passed step, {last_passed}%");
            restore(target, last_passed, progress, &mut report).await;
            return report;
        };
        let step = judge(&window, share, &plan.gates, &mut greeter_p99, false);
        progress.line(&format!("{label}: {}", summary(&step)));
        let verdict = step.verdict.clone();
        report.steps.push(step);
        match verdict {
            Verdict::Passed => last_passed = share,
            Verdict::Failed(why) => {
                let back = match plan.rollback {
                    Rollback::Zero => Share::ZERO,
                    Rollback::Previous => last_passed,
                };
                report.ending = Ending::RolledBack;
                report.message = format!(
                    "the {share}% step failed ({}); rolled back to {back}%",
                    why.join("; ")
                );
                restore(target, back, progress, &mut report).await;
                return report;
            }
            Verdict::BaselineBroken(why) => {
                report.ending = Ending::Stopped;
                report.message = format!("{why}; not the Lambda's fault: stopped at {share}% without moving");
                return report;
            }
            Verdict::Interrupted => {}
        }
    }
    report.ending = Ending::Completed;
    report.message = format!(
        "every step passed: the Lambda holds {}%",
        steps.last().copied().unwrap_or(start_share)
    );
    report
}

/// Writes `share` back, recording the outcome in the report.
async fn restore(target: &mut Target, share: Share, progress: &Progress, report: &mut MigrationReport) {
    progress.line(&format!(
        "rolling back to {share}%: {}",
        target.describe_write(share)
    ));
    match target.write(share).await {
        Ok(()) => report.final_share = Some(share),
        Err(e) => {
            if report.ending != Ending::Interrupted {
                report.ending = Ending::Error;
            }
            let _ = write!(report.message, "; THE ROLLBACK TO {share}% FAILED: {e}");
            report.final_share = target.read().await.ok().flatten();
        }
    }
}

/// Probes until the hold is over; `None` if interrupted first.
async fn probe_window<F>(
    plan: &Plan,
    client: &Client,
    hold: &Hold,
    lambda_hundredths: u32,
    progress: &Progress,
    label: &str,
    interrupted: &mut std::pin::Pin<&mut F>,
) -> Option<Report>
where
    F: std::future::Future<Output = ()>,
{
    let probe = Probe::start(client, &plan.url, plan.concurrency, hold.max_requests, plan.rate);
    let needs_lambda = lambda_hundredths > 0;
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
                hold,
                plan.gates.min_lambda_answers,
            ));
        }
        let enough = sent >= hold.requests
            && started.elapsed() >= hold.min_time
            && (!needs_lambda || lambda >= plan.gates.min_lambda_answers);
        if enough || sent >= hold.max_requests {
            progress.live("");
            return Some(probe.finish(true).await);
        }
    }
}

/// `step 1/4 lambda 5%  [███▌      ] 212/400  greeter 201 p99 8.1 ms  lambda 11 ok 0 failed p99 9.0 ms`
fn live_line(label: &str, samples: &[Sample], hold: &Hold, min_lambda: u64) -> String {
    let window = Report::new(String::new(), 0, Duration::ZERO, samples.to_vec());
    let fraction = (window.requests() as f64 / hold.requests.max(1) as f64).min(1.0);
    let mut lambda_needed = String::new();
    if window.lambda < min_lambda && window.requests() >= hold.requests {
        lambda_needed = format!(" (extended: {}/{min_lambda} lambda answers)", window.lambda);
    }
    format!(
        "{label}  [{:<20}] {}/{}{lambda_needed}  greeter {} p99 {}  lambda {} ok {} failed p99 {}",
        report::bar(fraction, 20),
        window.requests(),
        hold.requests,
        window.greeter,
        millis(percentile(&window.greeter_latencies, 0.99)),
        window.lambda,
        window.failed(),
        millis(percentile(&window.lambda_latencies, 0.99)),
    )
}

/// Judges a window at a Lambda share. `greeter_p99` carries the greeter's
/// latency from an earlier window when this one has too few of its
/// answers (at 100 %, none).
fn judge(
    window: &Report,
    share: Share,
    gates: &Gates,
    greeter_p99: &mut Option<Duration>,
    baseline: bool,
) -> StepReport {
    let (mut lambda_failed, mut greeter_failed, mut unknown) = (0, 0, 0);
    let mut greeter_why = None;
    for (why, count) in &window.failures {
        match blame(why) {
            Blame::Lambda => lambda_failed += count,
            Blame::Greeter => {
                greeter_failed += count;
                greeter_why.get_or_insert_with(|| why.clone());
            }
            Blame::Unknown => unknown += count,
        }
    }
    // With no Lambda share, nothing can be the Lambda's.
    if share == Share::ZERO {
        greeter_failed += unknown + lambda_failed;
        unknown = 0;
        lambda_failed = 0;
    }
    let lambda_total = window.lambda + lambda_failed + unknown;
    let destination = |answers: u64, failed: u64, latencies: &[Duration]| Destination {
        answers,
        failed,
        success_percent: if answers + failed == 0 {
            100.0
        } else {
            100.0 * answers as f64 / (answers + failed) as f64
        },
        p50: percentile(latencies, 0.50),
        p99: percentile(latencies, 0.99),
    };
    let greeter = destination(window.greeter, greeter_failed, &window.greeter_latencies);
    let lambda = destination(window.lambda, lambda_failed + unknown, &window.lambda_latencies);
    // A greeter p99 over a handful of answers says little: keep the last
    // good one.
    if window.greeter >= 20 {
        *greeter_p99 = Some(greeter.p99);
    }

    let verdict = if baseline {
        Verdict::Passed
    } else if greeter_failed > 0 {
        Verdict::BaselineBroken(format!(
            "the container greeter failed {greeter_failed} times ({})",
            greeter_why.unwrap_or_default()
        ))
    } else {
        let mut why = Vec::new();
        if window.lambda < gates.min_lambda_answers && lambda_total < gates.min_lambda_answers {
            why.push(format!(
                "only {} Lambda answers in {} requests, {} needed: raise --max-requests",
                window.lambda,
                window.requests(),
                gates.min_lambda_answers
            ));
        }
        if lambda.success_percent < gates.min_success {
            why.push(format!(
                "Lambda success {:.2}% < {}% ({} of {lambda_total} failed{}: {})",
                lambda.success_percent,
                gates.min_success,
                lambda_failed + unknown,
                if unknown > 0 {
                    format!(", {unknown} unattributed")
                } else {
                    String::new()
                },
                first_failure(window)
            ));
        }
        if window.lambda > 0 && lambda.p99 > gates.max_p99 {
            why.push(format!(
                "Lambda p99 {} > {} ceiling",
                millis(lambda.p99),
                millis(gates.max_p99)
            ));
        }
        let too_slow = |base: &Duration| lambda.p99.as_secs_f64() > gates.max_p99_ratio * base.as_secs_f64();
        if let Some(base) =
            greeter_p99.filter(|base| window.lambda > 0 && lambda.p99 > gates.p99_floor && too_slow(base))
        {
            why.push(format!(
                "Lambda p99 {} > {}x the greeter's {}",
                millis(lambda.p99),
                gates.max_p99_ratio,
                millis(base)
            ));
        }
        if why.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed(why)
        }
    };
    StepReport {
        lambda_share: share,
        probes: window.requests(),
        observed_lambda_percent: if window.answered() == 0 {
            0.0
        } else {
            100.0 * window.lambda as f64 / window.answered() as f64
        },
        greeter,
        lambda,
        unattributed_failures: unknown,
        failures: window.failures.clone(),
        verdict,
        elapsed: window.elapsed,
    }
}

fn interrupted_step(share: Share) -> StepReport {
    let none = Destination {
        answers: 0,
        failed: 0,
        success_percent: 100.0,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
    };
    StepReport {
        lambda_share: share,
        probes: 0,
        observed_lambda_percent: 0.0,
        greeter: none.clone(),
        lambda: none,
        unattributed_failures: 0,
        failures: Default::default(),
        verdict: Verdict::Interrupted,
        elapsed: Duration::ZERO,
    }
}

fn first_failure(window: &Report) -> String {
    window
        .failures
        .iter()
        .max_by_key(|(_, count)| **count)
        .map(|(why, count)| format!("{count} x {why}"))
        .unwrap_or_default()
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

fn summary(step: &StepReport) -> String {
    let verdict = verdict_text(&step.verdict);
    format!(
        "{} probes, greeter {} p99 {}, lambda {} ({:.2}% ok) p99 {} -> {verdict}",
        step.probes,
        step.greeter.answers,
        millis(step.greeter.p99),
        step.lambda.answers,
        step.lambda.success_percent,
        millis(step.lambda.p99)
    )
}

fn join_shares(shares: &[Share]) -> String {
    if shares.is_empty() {
        return "none".to_owned();
    }
    shares
        .iter()
        .map(|s| format!("{s}%"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

impl MigrationReport {
    /// The table every run ends with.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<9} {:>7} {:>7} {:>7} {:>7} {:>9}  {:<21} {:<21} verdict",
            "step", "lambda", "probes", "greeter", "lambda", "lambda ok", "greeter p50/p99", "lambda p50/p99"
        );
        let baseline = self.baseline.iter().map(|b| ("baseline".to_owned(), b, true));
        let steps = (self.steps.iter().enumerate()).map(|(i, s)| (format!("{}", i + 1), s, false));
        for (name, step, is_baseline) in baseline.chain(steps) {
            let verdict = match &step.verdict {
                Verdict::Passed if is_baseline => {
                    if step.greeter.failed + step.lambda.failed == 0 {
                        "ok".to_owned()
                    } else {
                        "FAILED".to_owned()
                    }
                }
                other => verdict_text(other),
            };
            let pair = |d: &Destination| {
                if d.answers == 0 {
                    "-".to_owned()
                } else {
                    format!("{} / {}", millis(d.p50), millis(d.p99))
                }
            };
            let success = if step.lambda.answers + step.lambda.failed == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}%", step.lambda.success_percent)
            };
            let _ = writeln!(
                out,
                "{name:<9} {:>7} {:>7} {:>7} {:>7} {success:>9}  {:<21} {:<21} {verdict}",
                format!("{}%", step.lambda_share),
                step.probes,
                step.greeter.answers,
                step.lambda.answers,
                pair(&step.greeter),
                pair(&step.lambda)
            );
        }
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
             hold      {} requests and {} s per step, extended to {} requests for {} Lambda answers; {} ms settle after each write\n\
             gates     Lambda success >= {}%; Lambda p99 <= {}x the greeter's (or <= {}) and <= {}\n\
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
            g.max_p99_ratio,
            millis(g.p99_floor),
            millis(g.max_p99),
            h.baseline_requests(),
            match plan.rollback {
                Rollback::Zero => "0% (every call to the container greeter)",
                Rollback::Previous => "the last passed step",
            }
        );
        for (i, share) in plan.steps.0.iter().enumerate() {
            let _ = writeln!(out, "step {}: {}", i + 1, target.describe_write(*share));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Answerer, Outcome};

    #[test]
    fn steps_increase_above_0_at_consuls_precision() {
        assert_eq!(
            "5,25,50,100".parse::<Steps>().unwrap().0,
            ["5", "25", "50", "100"].map(|s| s.parse::<Share>().unwrap())
        );
        assert_eq!("0.5, 12.25".parse::<Steps>().unwrap().0.len(), 2);
        for (raw, message) in [
            ("25,5", "steps must increase: 5 after 25"),
            ("5,5", "steps must increase"),
            ("0,50", "a step of 0 moves nothing"),
            ("5,101", "101 is outside 0-100"),
            ("5,12.345", "12.345 is finer than 0.01"),
            ("5,,50", "is not a number"),
        ] {
            let err = raw.parse::<Steps>().unwrap_err();
            assert!(err.contains(message), "{raw}: {err}");
        }
    }

    #[test]
    fn failures_are_put_down_to_whoever_wrote_them() {
        assert_eq!(
            blame(
                "ingress upstream answered 502 Bad Gateway: greeter upstream failed: UpstreamError: name upstream unreachable"
            ),
            Blame::Lambda
        );
        assert_eq!(
            blame(
                "ingress upstream answered 502 Bad Gateway: greeter upstream answered 502 Bad Gateway: name upstream unreachable: connection refused"
            ),
            Blame::Greeter
        );
        assert_eq!(
            blame(
                "ingress upstream answered 502 Bad Gateway: greeter upstream answered 503 Service Unavailable: fault filter abort"
            ),
            Blame::Unknown
        );
        assert_eq!(
            blame("ingress upstream answered 504 Gateway Timeout: greeter upstream timed out after 2000 ms"),
            Blame::Unknown
        );
    }

    const GATES: Gates = Gates {
        min_success: 99.0,
        min_lambda_answers: 10,
        max_p99_ratio: 3.0,
        p99_floor: Duration::from_millis(20),
        max_p99: Duration::from_millis(1000),
    };

    /// A window of `greeter` and `lambda` answers at the given latencies,
    /// and failures.
    fn window(greeter: (u64, u64), lambda: (u64, u64), failures: &[(&str, u64)]) -> Report {
        let mut samples = Vec::new();
        for (answerer, (n, ms)) in [(Answerer::Greeter, greeter), (Answerer::Lambda, lambda)] {
            for _ in 0..n {
                samples.push(Sample {
                    outcome: Outcome::Answered(answerer),
                    latency: Duration::from_millis(ms),
                });
            }
        }
        for (why, n) in failures {
            for _ in 0..*n {
                samples.push(Sample {
                    outcome: Outcome::Failed((*why).to_owned()),
                    latency: Duration::from_millis(1),
                });
            }
        }
        Report::new(String::new(), 4, Duration::from_secs(1), samples)
    }

    fn share(raw: &str) -> Share {
        raw.parse().unwrap()
    }

    #[test]
    fn a_healthy_lambda_passes() {
        let step = judge(
            &window((380, 8), (20, 12), &[]),
            share("5"),
            &GATES,
            &mut None,
            false,
        );
        assert_eq!(step.verdict, Verdict::Passed);
        assert_eq!(step.lambda.success_percent, 100.0);
        assert_eq!(
            (step.greeter.p99, step.lambda.p99),
            (Duration::from_millis(8), Duration::from_millis(12))
        );
    }

    #[test]
    fn unattributed_failures_count_against_the_lambda() {
        let abort = "ingress upstream answered 502 Bad Gateway: greeter upstream answered 503 Service Unavailable: fault filter abort";
        let step = judge(
            &window((380, 8), (40, 8), &[(abort, 10)]),
            share("10"),
            &GATES,
            &mut None,
            false,
        );
        assert_eq!(step.lambda.failed, 10);
        assert_eq!(step.unattributed_failures, 10);
        let Verdict::Failed(why) = &step.verdict else {
            panic!("{:?}", step.verdict)
        };
        assert!(
            why[0].starts_with("Lambda success 80.00% < 99% (10 of 50 failed, 10 unattributed"),
            "{why:?}"
        );
    }

    #[test]
    fn a_slow_lambda_fails_the_ratio_and_the_ceiling() {
        let step = judge(
            &window((380, 10), (20, 300), &[]),
            share("5"),
            &GATES,
            &mut None,
            false,
        );
        let Verdict::Failed(why) = &step.verdict else {
            panic!("{:?}", step.verdict)
        };
        assert_eq!(why, &["Lambda p99 300.0 ms > 3x the greeter's 10.0 ms"]);
        let slow = Gates {
            max_p99: Duration::from_millis(250),
            ..GATES
        };
        let step = judge(
            &window((380, 10), (20, 300), &[]),
            share("5"),
            &slow,
            &mut None,
            false,
        );
        assert!(matches!(&step.verdict, Verdict::Failed(why) if why.len() == 2));
    }

    #[test]
    fn a_lambda_p99_under_the_floor_passes_whatever_the_ratio() {
        let step = judge(
            &window((380, 2), (20, 15), &[]),
            share("5"),
            &GATES,
            &mut None,
            false,
        );
        assert_eq!(step.verdict, Verdict::Passed);
    }

    #[test]
    fn at_100_percent_the_ratio_uses_the_last_greeter_p99() {
        let mut greeter_p99 = None;
        judge(
            &window((200, 10), (200, 10), &[]),
            share("50"),
            &GATES,
            &mut greeter_p99,
            false,
        );
        assert_eq!(greeter_p99, Some(Duration::from_millis(10)));
        let step = judge(
            &window((0, 0), (400, 45), &[]),
            Share::ALL,
            &GATES,
            &mut greeter_p99,
            false,
        );
        assert!(matches!(&step.verdict, Verdict::Failed(why) if why[0].contains("3x the greeter's 10.0 ms")));
    }

    #[test]
    fn too_few_lambda_answers_is_no_pass() {
        let step = judge(
            &window((395, 8), (5, 8), &[]),
            share("1"),
            &GATES,
            &mut None,
            false,
        );
        assert!(
            matches!(&step.verdict, Verdict::Failed(why) if why[0].starts_with("only 5 Lambda answers in 400 requests, 10 needed"))
        );
    }

    #[test]
    fn a_failing_greeter_stops_the_run_without_blaming_the_lambda() {
        let greeter_down = "ingress upstream answered 502 Bad Gateway: greeter upstream answered 502 Bad Gateway: name upstream unreachable: connection refused";
        let step = judge(
            &window((370, 8), (20, 8), &[(greeter_down, 10)]),
            share("5"),
            &GATES,
            &mut None,
            false,
        );
        assert!(
            matches!(&step.verdict, Verdict::BaselineBroken(why) if why.starts_with("the container greeter failed 10 times"))
        );
        assert_eq!(step.lambda.success_percent, 100.0);
    }

    #[test]
    fn the_table_shows_every_step_and_how_the_run_ended() {
        let mut greeter_p99 = None;
        let abort = "ingress upstream answered 502 Bad Gateway: greeter upstream answered 503 Service Unavailable: fault filter abort";
        let report = MigrationReport {
            target: "Envoy at http://127.0.0.1:9901/".into(),
            started_at: Some(Share::ZERO),
            plan: vec![share("5"), share("25")],
            baseline: Some(judge(
                &window((100, 7), (0, 0), &[]),
                Share::ZERO,
                &GATES,
                &mut greeter_p99,
                true,
            )),
            steps: vec![
                judge(
                    &window((380, 8), (20, 12), &[]),
                    share("5"),
                    &GATES,
                    &mut greeter_p99,
                    false,
                ),
                judge(
                    &window((300, 8), (80, 9), &[(abort, 20)]),
                    share("25"),
                    &GATES,
                    &mut greeter_p99,
                    false,
                ),
            ],
            ending: Ending::RolledBack,
            message: "the 25% step failed; rolled back to 0%".into(),
            final_share: Some(Share::ZERO),
            gates: GATES,
            hold: Hold {
                requests: 400,
                max_requests: 4000,
                min_time: Duration::ZERO,
                settle: Duration::ZERO,
            },
            rollback: Rollback::Zero,
        };
        let text = report.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[1]
                .starts_with("baseline       0%     100     100       0         -  7.0 ms / 7.0 ms       -"),
            "{text}"
        );
        assert!(lines[2].starts_with("1              5%     400     380      20   100.00%  8.0 ms / 8.0 ms       12.0 ms / 12.0 ms     passed"), "{text}");
        assert!(
            lines[3].contains("80.00%") && lines[3].contains("FAILED: Lambda success 80.00% < 99%"),
            "{text}"
        );
        assert_eq!(
            lines[4],
            "ROLLED BACK: the 25% step failed; rolled back to 0%. Envoy at http://127.0.0.1:9901/ now holds the Lambda at 0%."
        );
        assert_eq!(report.code(), 1);
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["ending"], "rolled_back");
        assert_eq!(json["steps"][0]["verdict"], "passed");
        assert_eq!(json["steps"][1]["verdict"], "failed");
        assert_eq!(json["steps"][1]["lambda_share"], 25.0);
        assert_eq!(json["steps"][1]["lambda"]["failed"], 20);
        assert_eq!(json["steps"][0]["lambda"]["p99"], 12.0);
    }
}
