//! `split rollout`: people's side of the migration the controller runs.
//! Each verb reads the stored migration, writes its intent with
//! check-and-set and exits; the controller acts within seconds. Exit 64
//! for bad flags (nothing read), 1 for a refusal or a store that cannot
//! be reached or refuses (its message names the missing rule); a refused
//! command writes nothing.

use std::io::Write as _;
use std::time::Duration;

use clap::{Args, Subcommand};

use migration::intent::{self, Refused};
use migration::machine::Machine;
use migration::plan::Args as MigrateArgs;
use migration::record::{Record, Verb, Webhooks};
use migration::report::join_shares;
use migration::share::Share;
use migration::status::Status;
use migration::store::Store;

use crate::output::Output;
use crate::store::{OpenError, StoreSpec, VARIABLE};

/// `split rollout`'s verbs.
#[derive(Debug, Subcommand)]
pub enum Rollout {
    /// Store a migration for the controller to run: `split migrate`'s
    /// flags, plus steps that wait for `approve` and Flagger's webhooks.
    /// Refused while one runs.
    Start(Box<StartArgs>),
    /// Show the stored migration: phase, step, share, each window, the
    /// history, who leads.
    Status {
        /// Print JSON (the controller's `/status`) rather than a table.
        #[arg(long)]
        json: bool,
        /// Print again on each change, until the migration ends.
        #[arg(long)]
        watch: bool,
        /// Where the migration is stored.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Hold the migration before its next step (a window in progress is
    /// still judged, and a failure still rolls back).
    Pause(StoreArg),
    /// Undo `pause`.
    Resume(StoreArg),
    /// Let the step that waits for approval (`--approve-at`) be written.
    Approve(StoreArg),
    /// Roll back to 0 % at once.
    Abort(StoreArg),
}

/// Where the migration is stored.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// The store: consul, file:<dir> (or memory, for tests).
    #[arg(long = "store", env = VARIABLE, value_name = "STORE")]
    pub store: StoreSpec,
}

/// `split rollout start`.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    #[command(flatten)]
    migrate: MigrateArgs,
    /// Steps that wait for `split rollout approve` before they are
    /// written (Lambda shares among --steps), e.g. 100.
    #[arg(
        long,
        value_name = "STEP[,STEP]",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    approve_at: Vec<Share>,
    /// Asked (POST, Flagger's JSON) before each step: only 200 to 202 go on.
    #[arg(long, value_parser = webhook_url)]
    confirm_url: Option<String>,
    /// Told (POST, Flagger's JSON) of every transition.
    #[arg(long, value_parser = webhook_url)]
    event_url: Option<String>,
    #[command(flatten)]
    store: StoreArg,
}

fn webhook_url(raw: &str) -> Result<String, String> {
    match raw.parse::<reqwest::Url>() {
        Ok(url) if matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base() => Ok(raw.to_owned()),
        _ => Err(format!("{raw} is not an http:// or https:// URL")),
    }
}

/// Who is asking: `user@host`.
fn me() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".to_owned());
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    format!("{user}@{host}")
}

/// Runs a verb.
pub async fn run(verb: Rollout, env: impl Fn(&str) -> Option<String>) -> Output {
    let spec = match &verb {
        Rollout::Start(args) => &args.store,
        Rollout::Status { store, .. } => store,
        Rollout::Pause(s) | Rollout::Resume(s) | Rollout::Approve(s) | Rollout::Abort(s) => s,
    };
    let store = match spec.store.open(&env) {
        Ok((store, _)) => store,
        Err(e @ OpenError::Setting(..)) => return Output::usage(format!("split rollout: {e}\n")),
        Err(e @ OpenError::Store(_)) => return Output::fail(String::new(), format!("split rollout: {e}\n")),
    };
    match verb {
        Rollout::Start(args) => start(&store, *args, env).await,
        Rollout::Status { json, watch, .. } => status(&store, json, watch).await,
        Rollout::Pause(_) => request(&store, Verb::Pause).await,
        Rollout::Resume(_) => request(&store, Verb::Resume).await,
        Rollout::Approve(_) => request(&store, Verb::Approve).await,
        Rollout::Abort(_) => request(&store, Verb::Abort).await,
    }
}

/// A record for `args`, checked; `Err` is a usage error.
pub fn record(args: StartArgs, env: impl Fn(&str) -> Option<String>, by: &str) -> Result<Record, String> {
    let (plan, target) = args.migrate.into_plan(env)?;
    if let Some(stray) = args.approve_at.iter().find(|s| !plan.steps.0.contains(s)) {
        return Err(format!(
            "--approve-at {stray} is not one of --steps ({})",
            plan.steps
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    let machine = Machine::new(
        plan.steps.0.clone(),
        args.approve_at,
        args.confirm_url.is_some(),
        plan.rollback,
    );
    let webhooks = Webhooks {
        confirm_url: args.confirm_url,
        event_url: args.event_url,
    };
    Ok(Record::new(
        plan,
        target.kind(),
        machine,
        webhooks,
        by,
        migration::record::now(),
    ))
}

async fn start<S: Store>(store: &S, args: StartArgs, env: impl Fn(&str) -> Option<String>) -> Output {
    let dry_run = args.migrate.dry_run;
    let record = match record(args, env, &me()) {
        Ok(record) => record,
        Err(message) => return Output::usage(format!("split rollout start: {message}\n")),
    };
    if dry_run {
        let json = serde_json::to_string_pretty(&record).unwrap_or_default();
        return Output::ok(format!(
            "split rollout start --dry-run: nothing is written; the record:\n{json}\n"
        ));
    }
    match intent::start(store, &record).await {
        Ok(_) => Output::ok(format!(
            "stored in {}: steps {}; the controller starts it within seconds (`split rollout status --watch`)\n",
            store.describe(),
            join_shares(&record.machine.steps)
        )),
        Err(e) => refused("start", &e),
    }
}

async fn request<S: Store>(store: &S, verb: Verb) -> Output {
    match intent::request(store, verb, &me(), migration::record::now()).await {
        Ok(record) => Output::ok(format!(
            "{} stored for the leader (the migration is {}); it acts within seconds\n",
            verb.name(),
            record.machine.phase.name()
        )),
        Err(e) => refused(verb.name(), &e),
    }
}

fn refused(verb: &str, e: &Refused) -> Output {
    Output::fail(
        String::new(),
        format!("split rollout {verb}: {e}; nothing was written\n"),
    )
}

async fn status<S: Store>(store: &S, json: bool, watch: bool) -> Output {
    let mut seen = 0;
    loop {
        let (record, version) = match intent::read(store).await {
            Ok(found) => found,
            Err(e) => return Output::fail(String::new(), format!("split rollout status: {e}\n")),
        };
        let leader = store.leader().await.ok().flatten();
        let view = Status::of(&record, leader, None, migration::record::now());
        let text = if json {
            serde_json::to_string_pretty(&view).unwrap_or_default() + "\n"
        } else {
            view.render()
        };
        if !watch {
            return Output::ok(text);
        }
        if version != seen {
            // --watch prints as it goes: the output is the point.
            let _ = writeln!(std::io::stdout(), "{text}");
            seen = version;
        }
        if record.is_ended() {
            return Output::ok(String::new());
        }
        if let Err(e) = store.watch(seen, Duration::from_secs(30)).await {
            return Output::fail(String::new(), format!("split rollout status: {e}\n"));
        }
    }
}
