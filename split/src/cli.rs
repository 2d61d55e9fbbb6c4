//! The `split` command line: what each subcommand takes and does.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use reqwest::Url;

use crate::consul::{self, GREETER_MESH};
use crate::consul_api::{Consul, Settings};
use crate::envoy::{self, Fault};
use crate::migrate::{
    self, DEFAULT_STEPS, Gates, Hold, MigrationReport, Plan, Progress, Rollback, Steps, Target,
};
use crate::observe::{self, Load};
use crate::share::Share;

/// Moves the calls to greeter from the container to Lambda, and shows where
/// they go.
#[derive(Debug, Parser)]
#[command(name = "split", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    /// two greeters answer, and roll back when the Lambda fails.
    ///
    /// Exit code 0 when the last step passed, 1 when a step failed (rolled
    /// back) or the run stopped, 130 on Ctrl-C or SIGTERM (back to the last
    /// passed step), 64 for bad input (nothing written).
    Migrate {
        /// The Lambda's shares, in percent, increasing.
        #[arg(long, default_value = DEFAULT_STEPS)]
        steps: Steps,
        /// Where the split is held: the local stack's Envoy, or Consul
        /// (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, as the
        /// consul CLI reads them).
        #[arg(long, value_enum, default_value = "envoy")]
        target: TargetKind,
        /// Envoy's admin endpoint (with --target envoy).
        #[arg(long, env = "ENVOY_ADMIN_URL", default_value = "http://127.0.0.1:9901")]
        admin: Url,
        /// ingress's URL, where probe requests go.
        #[arg(long, env = "INGRESS_URL", default_value = "http://127.0.0.1:8080/")]
        url: Url,
        /// Probe requests each step sends at least.
        #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=observe::MAX_REQUESTS))]
        requests: u64,
        /// The most a step sends while it waits for enough Lambda answers
        /// or for --hold-secs; the step ends there (default: 10 times
        /// --requests; with --hold-secs, --rate times --hold-secs more).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=observe::MAX_REQUESTS))]
        max_requests: Option<u64>,
        /// Seconds each step holds at least, probing all along.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400))]
        hold_secs: u64,
        /// The most probe requests a second (default: as fast as answered).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        rate: Option<u32>,
        /// Milliseconds between a write and the step's first probe (default
        /// 0 for Envoy, which applies a write at once; 5000 for Consul,
        /// whose sidecars take a moment to get a new splitter).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=600_000))]
        settle_ms: Option<u64>,
        /// The least share of the Lambda's requests that must succeed, in percent.
        #[arg(
            long,
            value_name = "PERCENT",
            default_value = "99",
            allow_negative_numbers = true
        )]
        min_success: Share,
        /// Lambda answers a step needs before it is judged.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        min_lambda_answers: u64,
        /// The Lambda's p99 may be at most this many times the container greeter's.
        #[arg(long, default_value_t = 3.0, value_parser = parse_ratio)]
        max_p99_ratio: f64,
        /// A Lambda p99 at or under this many milliseconds passes the ratio
        /// gate whatever the greeter's (a few milliseconds apart is noise).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        p99_floor_ms: u64,
        /// The Lambda's p99 may never exceed this many milliseconds.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        max_p99_ms: u64,
        /// Where a failed step sends the share: 0, or the last passed step.
        #[arg(long, value_enum, default_value = "zero")]
        rollback_to: Rollback,
        /// Probe requests in flight at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=observe::MAX_CONCURRENCY as i64))]
        concurrency: u16,
        /// The most one probe request may take, in milliseconds.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
        timeout_ms: u64,
        /// Print the plan and each write without reading or writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON rather than a table.
        #[arg(long)]
        json: bool,
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
        #[arg(long, default_value = crate::acl::DEFAULT_POLICY_FILE)]
        policy: PathBuf,
        /// The role to link it to.
        #[arg(long, default_value = crate::acl::GATEWAY_ROLE)]
        role: String,
        /// Read what Consul holds and print the writes, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Where `split migrate` moves the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    /// The local stack's Envoy, through its admin endpoint.
    Envoy,
    /// Consul's service-splitter, through its HTTP API.
    Consul,
}

fn parse_ratio(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(r) if (1.0..=1000.0).contains(&r) => Ok(r),
        _ => Err(format!("{raw} is not a ratio from 1 to 1000")),
    }
}

/// `EX_USAGE`: bad input, nothing done.
const USAGE: u8 = 64;

/// What a command has to say, and how the process ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// For stdout: the result itself.
    pub stdout: String,
    /// For stderr: what went wrong.
    pub stderr: String,
    /// The exit code.
    pub code: u8,
}

impl Output {
    fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }

    fn fail(stdout: String, stderr: String) -> Self {
        Self {
            stdout,
            stderr,
            code: 1,
        }
    }
}

/// Runs one command.
pub async fn run(command: Command) -> Output {
    match command {
        Command::Splitter { lambda } => Output::ok(consul::splitter(lambda)),
        Command::Set {
            lambda,
            admin,
            wait_secs,
        } => match envoy::set(
            &admin,
            lambda,
            migrate::TARGET_TIMEOUT,
            Duration::from_secs(wait_secs),
        )
        .await
        {
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
        Command::Migrate {
            steps,
            target,
            admin,
            url,
            requests,
            max_requests,
            hold_secs,
            rate,
            settle_ms,
            min_success,
            min_lambda_answers,
            max_p99_ratio,
            p99_floor_ms,
            max_p99_ms,
            rollback_to,
            concurrency,
            timeout_ms,
            dry_run,
            json,
        } => {
            let usage = |message: String| Output {
                stdout: String::new(),
                stderr: format!("split migrate: {message}\n"),
                code: USAGE,
            };
            // By default a step ends at 10 times --requests, plus what
            // --rate sends over --hold-secs.
            let held = u64::from(rate.unwrap_or(0)).saturating_mul(hold_secs);
            let max_requests = max_requests.unwrap_or(
                requests
                    .saturating_mul(10)
                    .saturating_add(held)
                    .min(observe::MAX_REQUESTS),
            );
            if max_requests < requests {
                return usage(format!(
                    "--max-requests {max_requests} is below --requests {requests}"
                ));
            }
            let mut target = match target {
                TargetKind::Envoy => Target::Envoy { admin },
                TargetKind::Consul => {
                    let consul = Settings::from_lookup(|k| std::env::var(k).ok())
                        .map_err(|e| e.to_string())
                        .and_then(|s| Consul::new(s, migrate::TARGET_TIMEOUT).map_err(|e| e.to_string()));
                    match consul {
                        Ok(consul) => Target::Consul {
                            consul,
                            last: None,
                            wrote: false,
                        },
                        Err(e) => return usage(e),
                    }
                }
            };
            let settle = settle_ms.unwrap_or(match target {
                Target::Envoy { .. } => 0,
                Target::Consul { .. } => 5000,
            });
            let plan = Plan {
                steps,
                gates: Gates {
                    min_success: min_success.fraction() * 100.0,
                    min_lambda_answers,
                    max_p99_ratio,
                    p99_floor: Duration::from_millis(p99_floor_ms),
                    max_p99: Duration::from_millis(max_p99_ms),
                },
                hold: Hold {
                    requests,
                    max_requests,
                    min_time: Duration::from_secs(hold_secs),
                    settle: Duration::from_millis(settle),
                },
                rollback: rollback_to,
                url,
                concurrency: usize::from(concurrency),
                rate,
                timeout: Duration::from_millis(timeout_ms),
            };
            if dry_run {
                return Output::ok(MigrationReport::render_plan(&plan, &target));
            }
            let report = migrate::run(&plan, &mut target, &Progress::stderr(false), interrupted()).await;
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
            match envoy::set_fault(&admin, fault, migrate::TARGET_TIMEOUT).await {
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
        } => crate::acl::command(&policy, &role, dry_run).await,
        Command::Check { dir } => match consul::load_dir(&dir) {
            Err(e) => Output::fail(String::new(), format!("split check: {e}\n")),
            Ok(files) => {
                let problems = consul::check(&GREETER_MESH, &files);
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
    use clap::CommandFactory;

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
