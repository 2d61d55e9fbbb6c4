//! The `split` command line: what each subcommand takes and does.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use reqwest::Url;

use crate::consul::{self, GREETER_MESH};
use crate::envoy;
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
    /// Check Consul config entry files before `consul config write`.
    Check {
        /// The directory of `*.hcl` entries.
        #[arg(default_value = "consul")]
        dir: PathBuf,
    },
}

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
            Duration::from_secs(5),
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
