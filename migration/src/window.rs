//! Holding a window: the baseline's or a step's, filled by probe requests
//! through ingress ([`crate::judge::probes`]) or counted from Prometheus
//! ([`crate::judge::prometheus`], with the probes as optional load). What
//! is held here is judged by [`crate::judge`]; the driver decides when.
//!
//! A window is a future the driver may drop at any moment (an abort, a
//! lost lead, Ctrl-C): the probes stop with it (their tasks are aborted
//! when dropped) and nothing is left half-done here.

use std::time::{Duration, Instant};

use service_core::upstream::Client;

use crate::judge::prometheus::{self, PromError, Prometheus};
use crate::judge::{Source, Window};
use crate::plan::{Hold, Judge, Plan};
use crate::probe::{self, Probe};
use crate::progress::{Progress, live_line};
use crate::share::Share;

/// Where windows come from: the probes, or Prometheus (with probes as
/// load, if on).
#[derive(Debug)]
pub(crate) struct Windows<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) client: Client,
    pub(crate) prometheus: Option<Prometheus>,
    pub(crate) progress: &'a Progress,
}

impl Windows<'_> {
    /// Where figures come from.
    pub(crate) fn source(&self) -> Source {
        match self.prometheus {
            None => Source::Probes,
            Some(_) => Source::Prometheus,
        }
    }

    /// The baseline's hold: up to 100 probe requests, or (Prometheus) one
    /// step's least time, never extended.
    pub(crate) fn baseline_hold(&self) -> Hold {
        let hold = &self.plan.hold;
        Hold {
            requests: hold.baseline_requests(),
            max_requests: hold.baseline_requests(),
            // Probes count requests; Prometheus needs scrapes.
            min_time: match self.plan.judge {
                Judge::Probes => Duration::ZERO,
                Judge::Prometheus { .. } => hold.min_time,
            },
            settle: Duration::ZERO,
        }
    }

    /// Takes the window's first count, at or after `after` (Unix
    /// seconds): the moment it counts from, to be stored before the
    /// window is held.
    pub(crate) async fn count_from(&self, after: f64) -> Result<f64, PromError> {
        match &self.prometheus {
            Some(prometheus) => Ok(prometheus.counters(after).await?.at),
            None => Ok(after),
        }
    }

    /// Holds a window at `share`: probes until the hold is over, or counts
    /// Prometheus from `counted_from` (the baseline's is never extended).
    /// `started` is when the window began (Unix seconds), for its length.
    pub(crate) async fn hold(
        &self,
        hold: &Hold,
        share: Share,
        label: &str,
        baseline: bool,
        counted_from: f64,
        started: f64,
    ) -> Result<Window, PromError> {
        match (&self.prometheus, &self.plan.judge) {
            (Some(prometheus), Judge::Prometheus { max_time, .. }) => {
                let limit = if baseline { hold.min_time } else { *max_time };
                self.metrics_window(prometheus, hold.min_time, limit, label, counted_from, started)
                    .await
            }
            _ => Ok(self.probe_window(hold, share, label).await),
        }
    }

    /// Probes until the hold is over.
    async fn probe_window(&self, hold: &Hold, share: Share, label: &str) -> Window {
        let (plan, progress) = (self.plan, self.progress);
        let probe = Probe::start(
            &self.client,
            &plan.url,
            plan.concurrency,
            hold.max_requests,
            plan.rate,
        );
        let needs_lambda = share > Share::ZERO;
        // Often enough that a fast stack overshoots the hold by little.
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        let started = Instant::now();
        let mut drawn: Option<Instant> = None;
        loop {
            tick.tick().await;
            let (sent, lambda) = probe.counts();
            let due = drawn.is_none_or(|at| at.elapsed() >= progress.live_every());
            if progress.shows_live() && due {
                drawn = Some(Instant::now());
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
                return crate::judge::probes::window(&probe.finish(true).await, share);
            }
        }
    }

    /// Counts the mesh's traffic from `counted_from` to a scrape at least
    /// `min_time` after the window `started`, extended (a read a second)
    /// until the Lambda has had enough requests or `max_time` is over.
    /// Probes, if on, are load meanwhile.
    async fn metrics_window(
        &self,
        prometheus: &Prometheus,
        min_time: Duration,
        max_time: Duration,
        label: &str,
        counted_from: f64,
        started: f64,
    ) -> Result<Window, PromError> {
        let plan = self.plan;
        let probe = plan.probes.then(|| {
            Probe::start(
                &self.client,
                &plan.url,
                plan.concurrency,
                probe::MAX_REQUESTS,
                plan.rate,
            )
        });
        let elapsed = || Duration::from_secs_f64((prometheus::now() - started).max(0.0));
        let sent = || probe.as_ref().map_or(0, |p| p.counts().0);
        let counted = async {
            let start = prometheus.counters_at(counted_from).await?;
            tokio::time::sleep(min_time.saturating_sub(elapsed())).await;
            loop {
                let end = prometheus.counters(prometheus::now()).await?;
                let window = prometheus::window(&start, &end, elapsed(), sent());
                let enough = window.lambda.requests >= plan.gates.min_lambda_answers;
                if enough || elapsed() >= max_time {
                    return Ok(window);
                }
                self.progress.live(&format!(
                    "{label}  extended {:.0}/{:.0} s: {} Lambda requests of {} needed",
                    elapsed().as_secs_f64(),
                    max_time.as_secs_f64(),
                    window.lambda.requests,
                    plan.gates.min_lambda_answers
                ));
                tokio::time::sleep(Duration::from_secs(1).min(max_time.saturating_sub(elapsed()))).await;
            }
        };
        let result = counted.await;
        self.progress.live("");
        if let Some(probe) = probe {
            drop(probe.finish(true).await);
        }
        result
    }
}
