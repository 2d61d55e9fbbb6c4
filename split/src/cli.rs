//! The `split` command line: what each subcommand takes and does.

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use reqwest::Url;

use migration::envoy::{self, Fault};
use migration::mesh::GREETER_MESH;
use migration::plan::Args as MigrateArgs;
use migration::probe::{self as observe, Load};
use migration::progress::Progress;
use migration::report::MigrationReport;
use migration::share::Share;
use migration::target::TARGET_TIMEOUT;

use crate::check;
use crate::controller::{self, Config};
use crate::grant;
use crate::output::Output;
use crate::rollout::{self, Rollout};
use crate::store::OpenError;

/// Moves the calls to greeter from the container to Lambda, and shows where
/// they go.
#[derive(Debug, Parser)]
#[command(name = "split", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `split migrate`'s flags that `split rollout start` takes but cannot
/// honour: the controller moves the split at its own `ENVOY_ADMIN_URL`
/// (or Consul), and `status` reports.
const NOT_FOR_ROLLOUT: [(&str, &str); 2] = [
    (
        "admin",
        "the controller moves the split at its own ENVOY_ADMIN_URL (or CONTROLLER_TARGET=consul)",
    ),
    ("json", "the migration's report is `split rollout status --json`"),
];

/// Parses the command line: clap's derive, then what it cannot say. A
/// flag `rollout start` would ignore is refused, not dropped silently.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let start = matches
        .subcommand_matches("rollout")
        .and_then(|m| m.subcommand_matches("start"));
    if let Some(start) = start {
        for (id, why) in NOT_FOR_ROLLOUT {
            if start.value_source(id) == Some(ValueSource::CommandLine) {
                return Err(command.error(
                    ErrorKind::ArgumentConflict,
                    format!("split rollout start does not take --{id}: {why}"),
                ));
            }
        }
    }
    Cli::from_arg_matches(&matches)
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print Consul's service-splitter for a Lambda share, for
    /// `| consul config write -`.
    Splitter {
        /// The Lambda's share of the calls to greeter, in percent (0-100, 0.01 steps).
        #[arg(long, value_name = "PERCENT", allow_negative_numbers = true)]
        lambda: Share,
    },
    /// Set the Lambda's share on the running local stack's Envoy.
    Set {
        /// The Lambda's share of the calls to greeter, in percent (0-100, 0.01 steps).
        #[arg(long, value_name = "PERCENT", allow_negative_numbers = true)]
        lambda: Share,
        /// Envoy's admin endpoint.
        #[arg(long, env = "ENVOY_ADMIN_URL", default_value = "http://127.0.0.1:9901")]
        admin: Url,
        /// Wait up to this many seconds for Envoy to be up (a starting stack).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
        wait_secs: u64,
    },
    /// Send requests to ingress and report who answered them.
    Observe {
        /// ingress's URL.
        #[arg(long, env = "INGRESS_URL", default_value = "http://127.0.0.1:8080/")]
        url: Url,
        /// How many requests to send.
        #[arg(short = 'n', long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=observe::MAX_REQUESTS))]
        requests: u64,
        /// How many requests to keep in flight.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=observe::MAX_CONCURRENCY as i64))]
        concurrency: u16,
        /// Fail unless the Lambda's share is this, within 4 standard deviations.
        #[arg(long, value_name = "PERCENT", allow_negative_numbers = true)]
        expect_lambda: Option<Share>,
        /// The most one request may take, in milliseconds.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: u64,
    },
    /// Move the Lambda's share through steps, judge each step by what the
    /// two greeters did in its window (this run's probes, or the mesh's
    /// traffic in Prometheus), and roll back when the Lambda fails.
    ///
    /// Exit code 0 when the last step passed, 1 when a step failed (rolled
    /// back), the run stopped or someone else changed the split, 130 on
    /// Ctrl-C or SIGTERM (back to the last passed step), 64 for bad input
    /// (nothing written).
    Migrate(Box<MigrateArgs>),
    /// The migration as a service: campaign for the lead on the store
    /// (CONTROLLER_STORE), drive the stored migration, serve /health,
    /// /status and /metrics on CONTROLLER_PORT (9470). Run two replicas.
    /// Configured by its environment only (see docs/migrate.md); a bad
    /// value exits 64 naming the variable.
    Controller,
    /// Ask the controller on this host (CONTROLLER_PORT) for /health: exit
    /// 0 when it answers, 1 when not; for container health checks.
    Healthcheck,
    /// People's side of the migration `split controller` runs: start one,
    /// watch it, pause, resume, approve a step, abort. Each writes its
    /// intent to the store and exits; the controller acts within seconds.
    /// Exit 64 for bad flags, 1 for a refusal or a store that fails.
    Rollout {
        /// What to do.
        #[command(subcommand)]
        verb: Rollout,
    },
    /// Make the local Envoy fail or slow down the calls it routes to
    /// greeter-lambda, to watch `split migrate` roll back. No option: no fault.
    Fault {
        /// Percent of the Lambda's calls Envoy answers itself with --abort-status.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        abort: u8,
        /// The status of an aborted call.
        #[arg(long, default_value_t = 503, value_parser = clap::value_parser!(u16).range(200..=599))]
        abort_status: u16,
        /// Percent of the Lambda's calls held back --delay-ms first.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        delay: u8,
        /// How long a delayed call is held, in milliseconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        delay_ms: u64,
        /// Envoy's admin endpoint.
        #[arg(long, env = "ENVOY_ADMIN_URL", default_value = "http://127.0.0.1:9901")]
        admin: Url,
    },
    /// Check Consul config entry files before `consul config write`.
    Check {
        /// The directory of `*.hcl` entries.
        #[arg(default_value = "consul")]
        dir: PathBuf,
    },
    /// Give the terminating gateway's Consul role the ACL policy in a file
    /// (service:write on greeter-lambda), on the Consul of CONSUL_HTTP_ADDR
    /// with CONSUL_HTTP_TOKEN (acl:write). Writes only what differs.
    Grant {
        /// The policy's rules; the file's name is the policy's.
        #[arg(long, default_value = grant::DEFAULT_POLICY_FILE)]
        policy: PathBuf,
        /// The role to link it to.
        #[arg(long, default_value = grant::GATEWAY_ROLE)]
        role: String,
        /// Read what Consul holds and print the writes, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs one command.
pub async fn run(command: Command) -> Output {
    match command {
        Command::Splitter { lambda } => Output::ok(migration::consul::hcl(lambda)),
        Command::Set {
            lambda,
            admin,
            wait_secs,
        } => match envoy::set(&admin, lambda, TARGET_TIMEOUT, Duration::from_secs(wait_secs)).await {
            Ok(applied) => {
                let before = applied
                    .before
                    .map_or_else(|| "envoy.yaml's default".to_owned(), |s| format!("{s}%"));
                Output::ok(format!(
                    "lambda share {before} -> {lambda}% (greeter {}%), at {admin}\n",
                    lambda.rest()
                ))
            }
            Err(e) => Output::fail(String::new(), format!("split set: {e}\n")),
        },
        Command::Observe {
            url,
            requests,
            concurrency,
            expect_lambda,
            timeout_ms,
        } => {
            let load = Load {
                url,
                requests,
                concurrency: usize::from(concurrency),
                timeout: Duration::from_millis(timeout_ms),
            };
            match observe::run(&load).await {
                Ok(report) if report.meets(expect_lambda) => Output::ok(report.render(expect_lambda)),
                Ok(report) => Output::fail(report.render(expect_lambda), String::new()),
                Err(e) => Output::fail(
                    String::new(),
                    format!("split observe: cannot build the HTTP client: {e}\n"),
                ),
            }
        }
        Command::Migrate(args) => migrate(*args).await,
        Command::Controller => run_controller().await,
        Command::Healthcheck => crate::controller::healthcheck(|k| std::env::var(k).ok()).await,
        Command::Rollout { verb } => rollout::run(verb, |k| std::env::var(k).ok()).await,
        Command::Fault {
            abort,
            abort_status,
            delay,
            delay_ms,
            admin,
        } => {
            let fault = Fault {
                abort_percent: abort,
                abort_status,
                delay_percent: delay,
                delay_ms,
            };
            match envoy::set_fault(&admin, fault, TARGET_TIMEOUT).await {
                Ok(()) if fault.abort_percent == 0 && fault.delay_percent == 0 => {
                    Output::ok(format!("no fault on greeter-lambda's calls, at {admin}\n"))
                }
                Ok(()) => Output::ok(format!(
                    "greeter-lambda's calls: {abort}% answered {abort_status} by Envoy, {delay}% delayed {delay_ms} ms, at {admin}\n"
                )),
                Err(e) => Output::fail(String::new(), format!("split fault: {e}\n")),
            }
        }
        Command::Grant {
            policy,
            role,
            dry_run,
        } => grant::command(&policy, &role, dry_run).await,
        Command::Check { dir } => match check::load_dir(&dir) {
            Err(e) => Output::fail(String::new(), format!("split check: {e}\n")),
            Ok(files) => {
                let problems = check::check(&GREETER_MESH, &files);
                if problems.is_empty() {
                    Output::ok(format!(
                        "{} entries in {}: no problems\n",
                        files.len(),
                        dir.display()
                    ))
                } else {
                    Output::fail(String::new(), problems.iter().map(|p| format!("{p}\n")).collect())
                }
            }
        },
    }
}

/// `split migrate`: the plan, then the run on this process's memory.
async fn migrate(args: MigrateArgs) -> Output {
    let (dry_run, json) = (args.dry_run, args.json);
    let (plan, mut target) = match args.into_plan(|k| std::env::var(k).ok()) {
        Ok(parts) => parts,
        Err(message) => return Output::usage(format!("split migrate: {message}\n")),
    };
    if dry_run {
        return Output::ok(MigrationReport::render_plan(&plan, &target));
    }
    let report = migration::run::run(&plan, &mut target, &Progress::stderr(false), interrupted()).await;
    let stdout = if json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        report.render()
    };
    Output {
        stdout,
        stderr: String::new(),
        code: report.code(),
    }
}

/// `split controller`: its settings, its store, its port, then the
/// controller until SIGTERM or SIGINT.
async fn run_controller() -> Output {
    let env = |k: &str| std::env::var(k).ok();
    let config = match Config::from_lookup(env) {
        Ok(config) => config,
        Err(e) => return Output::usage(format!("split controller: {e}\n")),
    };
    let (store, ttl) = match config.store.open(env) {
        Ok(opened) => opened,
        Err(e @ OpenError::Setting(..)) => return Output::usage(format!("split controller: {e}\n")),
        Err(e @ OpenError::Store(_)) => {
            return Output::fail(String::new(), format!("split controller: {e}\n"));
        }
    };
    let listener = match tokio::net::TcpListener::bind(controller::address(&config)).await {
        Ok(listener) => listener,
        Err(e) => {
            return Output::fail(
                String::new(),
                format!("split controller: cannot listen on port {}: {e}\n", config.port),
            );
        }
    };
    controller::run(config, store, ttl, listener, interrupted()).await;
    Output::ok(String::new())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        // No SIGTERM handler: Ctrl-C still rolls back.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_share_outside_0_to_100_is_a_usage_error_naming_the_problem() {
        let err = Cli::try_parse_from(["split", "splitter", "--lambda", "101"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("101 is outside 0-100"), "{err}");
        let err = Cli::try_parse_from(["split", "set", "--lambda", "12.345"]).unwrap_err();
        assert!(err.to_string().contains("12.345 is finer than 0.01"), "{err}");
    }

    #[test]
    fn migrate_refuses_bad_steps_and_thresholds() {
        for args in [
            &["--steps", "50,25"][..],
            &["--steps", "0,50"],
            &["--steps", "5,100.5"],
            &["--steps", "5,25.001"],
            &["--min-success", "101"],
            &["--min-success", "-1"],
            &["--max-p99-ratio", "0.5"],
            &["--max-p99-ratio", "NaN"],
            &["--max-p99-ms", "0"],
            &["--min-lambda-answers", "0"],
            &["--requests", "0"],
            &["--concurrency", "0"],
            &["--rollback-to", "somewhere"],
            &["--target", "kubernetes"],
        ] {
            let parsed = Cli::try_parse_from(["split", "migrate"].iter().chain(args));
            assert!(parsed.is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn rollout_start_refuses_the_migrate_flags_it_would_ignore() {
        for (flag, value, why) in [
            (
                "--admin",
                Some("http://127.0.0.1:9901"),
                "its own ENVOY_ADMIN_URL",
            ),
            ("--json", None, "split rollout status --json"),
        ] {
            let args = ["split", "rollout", "start", "--store", "memory", flag];
            let err = parse(args.iter().copied().chain(value)).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
            assert!(err.use_stderr(), "exits 64");
            let text = err.to_string();
            assert!(
                text.contains(&format!("does not take {flag}: ")) && text.contains(why),
                "{text}"
            );
        }
        // From the environment, as compose sets it for migrate, it is no refusal.
        assert!(parse(["split", "rollout", "start", "--store", "memory"]).is_ok());
        assert!(parse(["split", "migrate", "--admin", "http://127.0.0.1:9901", "--json"]).is_ok());
    }

    #[test]
    fn observe_is_bounded() {
        for args in [
            ["-n", "0"],
            ["-n", "1000001"],
            ["--concurrency", "0"],
            ["--concurrency", "257"],
        ] {
            let parsed = Cli::try_parse_from(["split", "observe", args[0], args[1]]);
            assert!(parsed.is_err(), "{args:?} accepted");
        }
    }
}
