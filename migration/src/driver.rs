//! The one driver of a migration: it performs each state's side effect
//! against the split ([`Target`]) and the judge, and stores each new state
//! in a [`Store`] *before* the effect that state announces. `split
//! migrate` runs it in-process on a [`crate::store::memory::MemoryStore`];
//! `split controller` runs it as the leader of a shared store.
//!
//! - **The lead.** Every write of the state is fenced
//!   ([`Store::write_fenced`]); the lease is renewed in the background
//!   ([`Leadership::keep`]) and checked on this process's own clock
//!   before each side effect, so a leader paused past its lease writes
//!   nothing when it wakes. A lost lead stops the driver at once, whatever
//!   it was doing.
//! - **Resume and fail over.** A driver that takes over a stored migration
//!   has not read the split yet, so before its first write, window or
//!   rollback it reads the live split: the stored intent already written,
//!   it goes on; the share before it still there, it writes again;
//!   anything else is someone else's, and it stops with nothing written
//!   ([`crate::machine::Conclusion::Overridden`]), saying who holds what. A
//!   Prometheus window is counted from the moment stored when its first
//!   count was taken ([`Record::counted_from`]), so a window that outlives
//!   its leader loses nothing and counts nothing twice; a probe window
//!   starts again (the status says so).
//! - **People.** Their requests are stored in the document
//!   ([`Record::requests`]); the driver watches the store while it waits
//!   or holds a window and acts on them within seconds: a pause is
//!   noted and blocks the next step, an abort drops the window and rolls
//!   back at once.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{Mutex, watch};

use crate::judge::prometheus::{self, Prometheus};
use crate::judge::{Judged, Reference, Window, judge_baseline, judge_step};
use crate::machine::{Event, Phase};
use crate::metrics::MigrationMetrics;
use crate::progress::Progress;
use crate::record::Record;
use crate::report::{StepReport, join_shares, summary};
use crate::share::Share;
use crate::store::{Lease, Store, StoreError};
use crate::target::{Target, TargetError};
use crate::webhook::{self, Events, Payload};
use crate::window::Windows;

/// How long a wait for people's requests blocks before it looks again.
const WATCH: Duration = Duration::from_secs(2);

/// Why a driver stopped before the migration ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Stop {
    /// The lead is gone: nothing more is written by this process.
    #[error("lost the lead: {0}")]
    LostLead(String),
    /// The store failed; nothing was done that was not stored first.
    #[error("{0}")]
    Store(StoreError),
    /// SIGTERM: the lead is given up, the next leader resumes.
    #[error("shut down")]
    Shutdown,
    /// Someone else changed the stored migration's state.
    #[error("the stored migration was changed by someone else: {0}")]
    Overtaken(String),
}

/// The lead, kept while the driver runs.
#[derive(Debug)]
pub struct Leadership {
    lease: Mutex<Lease>,
    holder: String,
    lost: watch::Sender<Option<String>>,
}

impl Leadership {
    /// The lead `lease` gave.
    pub fn new(lease: Lease) -> Self {
        Self {
            holder: lease.holder.clone(),
            lease: Mutex::new(lease),
            lost: watch::Sender::new(None),
        }
    }

    /// Who leads: this process's id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Renews the lease every third of its TTL until it is lost (then
    /// returns): a store that does not answer is asked again, until the
    /// lease runs out by this process's clock.
    pub async fn keep<S: Store>(&self, store: &S) {
        loop {
            let ttl = self.lease.lock().await.ttl;
            tokio::time::sleep(ttl / 3).await;
            let mut lease = self.lease.lock().await;
            match store.renew(&mut lease).await {
                Ok(()) => {}
                Err(StoreError::LeaseLost { why, .. }) => return self.lose(why),
                Err(_) if lease.expired() => {
                    return self.lose("the lease ran out while the store did not answer");
                }
                Err(_) => {}
            }
        }
    }

    fn lose(&self, why: impl Into<String>) {
        self.lost.send_if_modified(|lost| {
            let first = lost.is_none();
            if first {
                *lost = Some(why.into());
            }
            first
        });
    }

    /// Resolves once the lead is lost, with why.
    pub async fn lost(&self) -> String {
        let mut seen = self.lost.subscribe();
        let why = seen.wait_for(Option::is_some).await.map(|why| why.clone());
        match why {
            Ok(why) => why.unwrap_or_default(),
            // The sender lives as long as self.
            Err(_) => std::future::pending().await,
        }
    }

    /// Before a side effect: the lead must hold by the store's last word
    /// and by this process's clock.
    pub async fn check(&self) -> Result<(), Stop> {
        if let Some(why) = self.lost.borrow().clone() {
            return Err(Stop::LostLead(why));
        }
        if self.lease.lock().await.expired() {
            let why = "the lease ran out by this process's clock (paused past it?)";
            self.lose(why);
            return Err(Stop::LostLead(why.to_owned()));
        }
        Ok(())
    }

    /// A fenced write of the state.
    async fn write<S: Store>(&self, store: &S, value: &[u8], expected: u64) -> Result<u64, Stop> {
        self.check().await?;
        let lease = self.lease.lock().await;
        match store.write_fenced(&lease, value, expected).await {
            Ok(version) => Ok(version),
            Err(StoreError::LeaseLost { why, .. }) => {
                self.lose(why.clone());
                Err(Stop::LostLead(why))
            }
            Err(e) => Err(Stop::Store(e)),
        }
    }

    /// Gives the lead up, for a clean stop.
    pub async fn resign<S: Store>(self, store: &S) -> Result<(), StoreError> {
        store.resign(self.lease.into_inner()).await
    }
}

/// What an effect came to.
enum Done {
    /// An event for the machine.
    Event(Event),
    /// A window, judged.
    Judged(Box<Window>, Judged),
    /// A window's first count was taken at this moment.
    Counted(f64),
    /// People's requests changed the phase: look again.
    Changed,
}

/// The stored side: the record, its version, and what is told of each
/// transition.
struct Keeper<'a, S: Store> {
    store: &'a S,
    lead: &'a Leadership,
    record: Record,
    /// The record as last stored, and its version.
    stored: Record,
    version: u64,
    metrics: MigrationMetrics,
    events: Option<Events>,
    published: Option<&'a watch::Sender<Option<Record>>>,
}

impl<S: Store> Keeper<'_, S> {
    /// Stores the record; a race lost to a person's request is merged
    /// (their requests kept), a race lost to anything else stops.
    async fn save(&mut self) -> Result<(), Stop> {
        loop {
            match self
                .lead
                .write(self.store, &self.record.encode(), self.version)
                .await
            {
                Ok(version) => {
                    self.version = version;
                    self.stored = self.record.clone();
                    if let Some(published) = self.published {
                        published.send_replace(Some(self.record.clone()));
                    }
                    return Ok(());
                }
                Err(Stop::Store(StoreError::Conflict { .. })) => self.merge().await?,
                Err(stop) => return Err(stop),
            }
        }
    }

    /// After a lost race: takes the requests people added meanwhile, if
    /// that is all that changed.
    async fn merge(&mut self) -> Result<(), Stop> {
        let (now, version) = self.read().await?;
        if now.machine != self.stored.machine || now.steps != self.stored.steps {
            return Err(Stop::Overtaken(format!(
                "it is {} now (written by {})",
                now.machine.phase.name(),
                now.history.last().map_or("?", |t| t.by.as_str())
            )));
        }
        let known = self.stored.requests.len();
        self.record
            .requests
            .extend(now.requests.iter().skip(known).cloned());
        self.stored = now;
        self.version = version;
        Ok(())
    }

    async fn read(&self) -> Result<(Record, u64), Stop> {
        let stored = self.store.read().await.map_err(Stop::Store)?;
        let stored = stored.ok_or_else(|| Stop::Overtaken("it was deleted".to_owned()))?;
        let record = Record::decode(&stored.value, &self.store.describe()).map_err(Stop::Store)?;
        Ok((record, stored.version))
    }

    /// Applies `event` (made by `by`) and stores the result.
    async fn apply(&mut self, event: Event, by: &str, what: String) -> Result<(), Stop> {
        let next = match self.record.machine.next(event) {
            Ok(next) => next,
            // A driver's event the phase cannot meet is a bug: say so
            // rather than guess.
            Err(refusal) => return Err(Stop::Overtaken(refusal.to_string())),
        };
        // The same again (the confirm webhook's same refusal): nothing to
        // store or tell.
        if next == self.record.machine {
            return Ok(());
        }
        self.transition(next, by, what);
        self.save().await
    }

    fn transition(&mut self, next: crate::machine::Machine, by: &str, what: String) {
        let now = prometheus::now();
        self.record.transition(next, by, what.clone(), now);
        self.metrics
            .transitioned(&self.record.machine, &self.record.plan, now);
        if let Some(events) = &self.events {
            let m = &self.record.machine;
            events.send(Payload::new(
                m.phase.flagger(),
                &[
                    ("phase", m.phase.name().to_owned()),
                    ("step", m.step().map_or_else(String::new, |s| (s + 1).to_string())),
                    ("share", m.share().to_string()),
                    ("what", what),
                    ("by", by.to_owned()),
                ],
            ));
        }
    }

    /// Acts on people's stored requests, oldest first; answers whether the
    /// phase changed.
    async fn act_on_requests(&mut self) -> Result<bool, Stop> {
        if self.record.requests.is_empty() {
            return Ok(false);
        }
        let before = self.record.machine.phase.clone();
        for request in std::mem::take(&mut self.record.requests) {
            let verb = request.verb.name();
            match self.record.machine.next(request.verb.event()) {
                Ok(next) => self.transition(next, &request.by, format!("{verb} by {}", request.by)),
                Err(refusal) => {
                    let machine = self.record.machine.clone();
                    self.transition(
                        machine,
                        &request.by,
                        format!("{verb} by {} refused: {refusal}", request.by),
                    );
                }
            }
        }
        self.save().await?;
        Ok(self.record.machine.phase != before)
    }

    /// Waits (a while) for the stored record to change, and acts on the
    /// requests it brings; answers whether the phase changed.
    async fn watch_requests(&mut self) -> Result<bool, Stop> {
        let seen = self.store.watch(self.version, WATCH).await.map_err(Stop::Store)?;
        match seen {
            Some(stored) if stored.version != self.version => {
                self.merge().await?;
                self.act_on_requests().await
            }
            _ => Ok(false),
        }
    }
}

/// The side that acts: the split, the windows, the confirm webhook.
struct Actor<'a> {
    target: &'a mut Target,
    windows: Windows<'a>,
    lead: &'a Leadership,
    progress: &'a Progress,
    hooks: reqwest::Client,
    metrics: MigrationMetrics,
}

/// What an effect needs of the record besides the phase.
struct Context {
    steps: Vec<Share>,
    last_passed: Share,
    counted_from: Option<f64>,
    reference: Reference,
    confirm_url: Option<String>,
}

fn label(step: usize, steps: usize, share: Share) -> String {
    format!("step {}/{} lambda {share}%", step + 1, steps)
}

impl Actor<'_> {
    async fn effect(&mut self, phase: &Phase, ctx: &Context) -> Result<Done, Stop> {
        match phase {
            Phase::Initialized => self.begin(ctx).await,
            Phase::Baseline { started } => self.baseline(*started, ctx).await,
            Phase::Confirming { step, refused } => self.confirm(*step, refused.is_some(), ctx).await,
            // People's requests end these, through the store.
            Phase::AwaitingApproval { .. } | Phase::Paused { .. } => std::future::pending().await,
            Phase::Writing { step, to, from } => {
                self.write(label(*step, ctx.steps.len(), *to), *to, &[*from])
                    .await
            }
            Phase::Holding { step, share, started } => self.hold(*step, *share, *started, ctx).await,
            Phase::RollingBack { to, from, .. } => self.roll_back(*to, from).await,
            Phase::Ended { .. } => Ok(Done::Changed),
        }
    }

    /// Checks the judge, then reads the split.
    async fn begin(&mut self, ctx: &Context) -> Result<Done, Stop> {
        if let Some(prometheus) = &self.windows.prometheus
            && let Err(e) = prometheus.check().await
        {
            return Ok(Done::Event(Event::Error(e.to_string())));
        }
        self.lead.check().await?;
        let live = match self.target.read().await {
            Ok(live) => live,
            Err(e) => {
                let why = format!("cannot read the split from {}: {e}", self.target.describe());
                return Ok(Done::Event(Event::Error(why)));
            }
        };
        let from = live.unwrap_or(Share::ZERO);
        let steps: Vec<Share> = ctx.steps.iter().copied().filter(|s| *s > from).collect();
        self.progress.line(&format!(
            "split migrate: {} holds the Lambda at {}; steps {}",
            self.target.describe(),
            live.map_or_else(|| "envoy.yaml's weights".to_owned(), |s| format!("{s}%")),
            join_shares(&steps)
        ));
        if steps.len() < ctx.steps.len() {
            self.progress.line(&format!(
                "  steps at or below {from}% skipped: the Lambda already has that share"
            ));
        }
        Ok(Done::Event(Event::Read {
            live,
            at: prometheus::now(),
        }))
    }

    async fn baseline(&mut self, started: f64, ctx: &Context) -> Result<Done, Stop> {
        let Some(counted_from) = ctx.counted_from else {
            self.lead.check().await?;
            return Ok(match self.windows.count_from(started).await {
                Ok(at) => Done::Counted(at),
                Err(e) => Done::Event(Event::Error(e.to_string())),
            });
        };
        self.lead.check().await?;
        let hold = self.windows.baseline_hold();
        let held = self
            .windows
            .hold(&hold, ctx.last_passed, "baseline", true, counted_from, started)
            .await;
        Ok(match held {
            Ok(window) => {
                let judged = judge_baseline(&window);
                Done::Judged(Box::new(window), judged)
            }
            Err(e) => Done::Event(Event::Error(e.to_string())),
        })
    }

    /// Asks the confirm webhook (again, a while after a refusal).
    async fn confirm(&mut self, step: usize, again: bool, ctx: &Context) -> Result<Done, Stop> {
        let Some(url) = &ctx.confirm_url else {
            return Ok(Done::Event(Event::Confirmed));
        };
        if again {
            tokio::time::sleep(webhook::CONFIRM_RETRY).await;
        }
        self.lead.check().await?;
        let share = ctx.steps.get(step).copied().unwrap_or(Share::ZERO);
        let payload = Payload::new(
            "Waiting",
            &[
                ("phase", "confirming".to_owned()),
                ("step", (step + 1).to_string()),
                ("share", share.to_string()),
            ],
        );
        Ok(Done::Event(
            match webhook::confirm(&self.hooks, url, &payload, &self.metrics).await {
                Ok(()) => Event::Confirmed,
                Err(why) => Event::Unconfirmed(why),
            },
        ))
    }

    /// A driver that took over has not read the split: it reads it, and
    /// answers `Some(done)` if that settles the effect: `to` is there
    /// already, or someone else's share is.
    async fn reconcile(&mut self, intent: &str, to: Share, ours: &[Share]) -> Option<Done> {
        if self.target.was_read() {
            return None;
        }
        let live = match self.target.read().await {
            Ok(live) => live,
            Err(e) => return Some(Done::Event(Event::Error(format!("cannot read the split: {e}")))),
        };
        // Envoy's file defaults are no share of this migration's.
        match live {
            Some(live) if live == to => Some(Done::Event(Event::Written {
                at: prometheus::now(),
            })),
            Some(live) if ours.contains(&live) => None,
            _ => {
                let held = live.map_or_else(
                    || "envoy.yaml's weights".to_owned(),
                    |s| format!("the Lambda at {s}%"),
                );
                let ours: Vec<String> = ours.iter().map(|s| format!("{s}%")).collect();
                Some(Done::Event(Event::Concurrent(format!(
                    "taking over {intent}: {} holds {held}, neither the stored intent's {to}% nor {}: someone else changed the split. Nothing was written",
                    self.target.describe(),
                    ours.join(" or ")
                ))))
            }
        }
    }

    /// Writes a step's share: the stored intent.
    async fn write(&mut self, label: String, to: Share, from: &[Share]) -> Result<Done, Stop> {
        if let Some(done) = self.reconcile(&format!("the write of {to}%"), to, from).await {
            return Ok(done);
        }
        self.progress
            .line(&format!("{label}: {}", self.target.describe_write(to)));
        self.lead.check().await?;
        let Err(e) = self.target.write(to).await else {
            return Ok(Done::Event(Event::Written {
                at: prometheus::now(),
            }));
        };
        let message = format!("writing {to}% failed: {e}");
        if !e.may_have_landed() {
            return Ok(Done::Event(match e {
                TargetError::Concurrent { .. } => Event::Concurrent(message),
                _ => Event::Error(message),
            }));
        }
        // No answer: the last passed step goes back, unless someone
        // else's change is there.
        let before = from.first().copied().unwrap_or(Share::ZERO);
        Ok(Done::Event(match self.target.recover(to, before).await {
            Ok(()) => Event::WriteLost(message),
            Err(e) => Event::Error(format!("{message}; {e}")),
        }))
    }

    /// Holds a step's window and judges it.
    async fn hold(&mut self, step: usize, share: Share, started: f64, ctx: &Context) -> Result<Done, Stop> {
        if let Some(done) = self
            .reconcile(&format!("the {share}% step's window"), share, &[])
            .await
        {
            // The share is there: the window goes on. Anything else stops.
            if !matches!(done, Done::Event(Event::Written { .. })) {
                return Ok(done);
            }
        }
        let plan = self.windows.plan;
        let begins = started + plan.hold.settle.as_secs_f64();
        let wait = begins - prometheus::now();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        let label = label(step, ctx.steps.len(), share);
        let held = match (ctx.counted_from, &self.windows.prometheus) {
            (None, Some(_)) => {
                self.lead.check().await?;
                match self.windows.count_from(begins).await {
                    Ok(at) => return Ok(Done::Counted(at)),
                    Err(e) => Err(e),
                }
            }
            (counted_from, _) => {
                self.lead.check().await?;
                let from = counted_from.unwrap_or(begins);
                self.windows
                    .hold(&plan.hold, share, &label, false, from, begins)
                    .await
            }
        };
        // A window at someone else's share is no window of this step.
        if let Err(e) = self
            .target
            .check(&format!("after the {share}% step's window"))
            .await
        {
            return Ok(Done::Event(match e {
                TargetError::Concurrent { .. } => Event::Concurrent(e.to_string()),
                _ => Event::Error(e.to_string()),
            }));
        }
        // No figures is never a pass.
        let (window, judged) = match held {
            Ok(window) => {
                let judged = judge_step(&window, &plan.gates, ctx.reference);
                (window, judged)
            }
            Err(e) => (
                StepReport::interrupted(share, self.windows.source()).window,
                Judged::Failed(vec![format!("no data from Prometheus: {e}")]),
            ),
        };
        let step_report = StepReport {
            lambda_share: share,
            window,
            verdict: judged.clone().into(),
        };
        self.progress.line(&format!("{label}: {}", summary(&step_report)));
        Ok(Done::Judged(Box::new(step_report.window), judged))
    }

    /// Writes the share back: the stored intent.
    async fn roll_back(&mut self, to: Share, from: &[Share]) -> Result<Done, Stop> {
        if let Some(done) = self.reconcile(&format!("the rollback to {to}%"), to, from).await {
            return Ok(done);
        }
        self.progress.line(&format!(
            "rolling back to {to}%: {}",
            self.target.describe_write(to)
        ));
        self.lead.check().await?;
        Ok(Done::Event(match self.target.write(to).await {
            Ok(()) => Event::Written {
                at: prometheus::now(),
            },
            Err(e) => Event::Error(e.to_string()),
        }))
    }
}

/// Everything a driver runs with.
pub struct Driver<'a, S: Store> {
    /// Where the state is.
    pub store: &'a S,
    /// The lead over it.
    pub lead: &'a Leadership,
    /// Where the split is held.
    pub target: &'a mut Target,
    /// Lines and the live window.
    pub progress: &'a Progress,
    /// The controller's metrics.
    pub metrics: MigrationMetrics,
    /// Told of every record stored (the controller's `/status`).
    pub published: Option<&'a watch::Sender<Option<Record>>>,
}

impl<S: Store> Driver<'_, S> {
    /// Drives the stored `record` (at `version`) until it ends, the lead
    /// is lost, or `shutdown` resolves. `interrupted` (Ctrl-C in `split
    /// migrate`) rolls back to the last passed step; `shutdown` (SIGTERM in
    /// the controller) stops with the state as stored, for the next
    /// leader.
    pub async fn drive<I, D>(
        self,
        record: Record,
        version: u64,
        interrupted: I,
        shutdown: D,
    ) -> Result<Record, Stop>
    where
        I: Future<Output = ()>,
        D: Future<Output = ()>,
    {
        let plan = record.plan.clone();
        let mut keeper = Keeper {
            store: self.store,
            lead: self.lead,
            stored: record.clone(),
            events: None,
            record,
            version,
            metrics: self.metrics.clone(),
            published: self.published,
        };
        let prometheus = match &plan.judge {
            crate::plan::Judge::Prometheus { url, .. } => {
                Prometheus::new(url.clone(), plan.timeout).map(Some)
            }
            crate::plan::Judge::Probes => Ok(None),
        };
        let clients = (
            service_core::upstream::Client::new(plan.timeout),
            webhook::client(),
            prometheus,
        );
        let (client, hooks, prometheus) = match clients {
            (Ok(client), Ok(hooks), Ok(prometheus)) => (client, hooks, prometheus),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                let why = format!("cannot build the HTTP client: {e}");
                keeper
                    .apply(Event::Error(why), self.lead.holder(), "no HTTP client".to_owned())
                    .await?;
                return Ok(keeper.record);
            }
        };
        keeper.events = keeper
            .record
            .webhooks
            .event_url
            .clone()
            .map(|url| Events::start(hooks.clone(), url, self.metrics.clone()));
        let mut actor = Actor {
            target: self.target,
            windows: Windows {
                plan: &plan,
                client,
                prometheus,
                progress: self.progress,
            },
            lead: self.lead,
            progress: self.progress,
            hooks,
            metrics: self.metrics,
        };
        run(&mut keeper, &mut actor, interrupted, shutdown).await?;
        Ok(keeper.record)
    }
}

/// The loop: people's requests, then the phase's effect, then its event,
/// until the migration ends.
async fn run<S, I, D>(
    keeper: &mut Keeper<'_, S>,
    actor: &mut Actor<'_>,
    interrupted: I,
    shutdown: D,
) -> Result<(), Stop>
where
    S: Store,
    I: Future<Output = ()>,
    D: Future<Output = ()>,
{
    tokio::pin!(interrupted, shutdown);
    let mut was_interrupted = false;
    let me = keeper.lead.holder().to_owned();
    while !keeper.record.is_ended() {
        keeper.act_on_requests().await?;
        if keeper.record.is_ended() {
            break;
        }
        let phase = keeper.record.machine.phase.clone();
        let taken_over = !actor.target.was_read() && matches!(phase, Phase::Holding { .. });
        if taken_over && actor.windows.prometheus.is_none() {
            keeper.record.note = Some(format!(
                "the {}% step's probe window started again: the previous leader's probes went with it",
                keeper.record.machine.share()
            ));
        }
        let ctx = context(&keeper.record);
        let lead = keeper.lead;
        // Writes are short and never dropped half-way by people's requests.
        let watches_people = !matches!(phase, Phase::Writing { .. } | Phase::RollingBack { .. });
        let can_interrupt = matches!(
            phase,
            Phase::Initialized | Phase::Baseline { .. } | Phase::Holding { .. }
        );
        let done = {
            let effect = actor.effect(&phase, &ctx);
            tokio::pin!(effect);
            loop {
                tokio::select! {
                    done = &mut effect => break done?,
                    changed = keeper.watch_requests(), if watches_people => {
                        if changed? {
                            break Done::Changed;
                        }
                    }
                    () = &mut interrupted, if can_interrupt && !was_interrupted => {
                        was_interrupted = true;
                        break Done::Event(Event::Interrupt);
                    }
                    () = &mut shutdown => return Err(Stop::Shutdown),
                    why = lead.lost() => return Err(Stop::LostLead(why)),
                }
            }
        };
        actor.progress.live("");
        settle(keeper, actor, &phase, done, &me).await?;
    }
    Ok(())
}

/// What the effect needs of the record.
fn context(record: &Record) -> Context {
    // The greeter's latency the Lambda's is compared with, from every
    // window so far.
    let reference = record
        .baseline
        .iter()
        .chain(&record.steps)
        .fold(Reference::default(), |r, s| r.updated(&s.window.greeter));
    Context {
        steps: record.machine.steps.clone(),
        last_passed: record.machine.last_passed,
        counted_from: record.counted_from,
        reference,
        confirm_url: record.webhooks.confirm_url.clone(),
    }
}

/// Stores what an effect came to.
async fn settle<S: Store>(
    keeper: &mut Keeper<'_, S>,
    actor: &Actor<'_>,
    phase: &Phase,
    done: Done,
    me: &str,
) -> Result<(), Stop> {
    match done {
        Done::Changed => Ok(()),
        Done::Counted(at) => {
            keeper.record.counted_from = Some(at);
            keeper.save().await
        }
        Done::Judged(window, judged) => {
            keeper.metrics.judged(judged == Judged::Passed);
            let report = StepReport {
                lambda_share: keeper.record.machine.share(),
                window: *window,
                verdict: judged.clone().into(),
            };
            let what = format!("judged: {}", summary(&report));
            match phase {
                Phase::Baseline { .. } => keeper.record.baseline = Some(report),
                _ => keeper.record.steps.push(report),
            }
            keeper.record.note = None;
            keeper.apply(Event::Judged(judged), me, what).await
        }
        Done::Event(event) => {
            if let (Event::Interrupt, Phase::Holding { share, .. }) = (&event, phase) {
                keeper
                    .record
                    .steps
                    .push(StepReport::interrupted(*share, actor.windows.source()));
            }
            let what = describe(&event);
            keeper.apply(event, me, what).await
        }
    }
}

/// An event in one line, for the history.
fn describe(event: &Event) -> String {
    match event {
        Event::Read { live, .. } => format!(
            "read the split: {}",
            live.map_or_else(
                || "envoy.yaml's weights".to_owned(),
                |s| format!("the Lambda at {s}%")
            )
        ),
        Event::Judged(_) => "judged".to_owned(),
        Event::Confirmed => "the confirm webhook said yes".to_owned(),
        Event::Unconfirmed(why) => format!("the confirm webhook said no: {why}"),
        Event::Written { .. } => "written".to_owned(),
        Event::WriteLost(why) | Event::Concurrent(why) | Event::Error(why) => why.clone(),
        Event::Pause => "pause".to_owned(),
        Event::Resume => "resume".to_owned(),
        Event::Approve => "approve".to_owned(),
        Event::Abort => "abort".to_owned(),
        Event::Interrupt => "interrupted (Ctrl-C or SIGTERM)".to_owned(),
    }
}
