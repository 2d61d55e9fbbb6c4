//! What a run is asked to do: the steps, the gates a step must pass, how
//! long a step holds, where a failed step goes; read from the command line
//! ([`Args`]) into one [`Plan`], checked before anything is sent.

use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::consul::{Consul, Settings};
use crate::probe;
use crate::share::Share;
pub use crate::target::TargetKind;
use crate::target::{TARGET_TIMEOUT, Target};

/// The steps of a migration: Lambda shares, increasing, each above 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rollback {
    /// 0: every call to the container greeter.
    Zero,
    /// The last step that passed (where the run started if none did).
    Previous,
}

/// What a step must show to pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// The least share of the Lambda's requests that must succeed, percent.
    pub min_success: f64,
    /// Lambda requests (answered or failed) a step needs before it is
    /// judged at all.
    pub min_lambda_answers: u64,
    /// The Lambda's latency may be at most this many times the greeter's...
    pub max_p99_ratio: f64,
    /// ...unless it is at most this (a few milliseconds apart is noise).
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub p99_floor: Duration,
    /// The Lambda's latency may never exceed this.
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub max_p99: Duration,
}

/// How long a step holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Probe requests a step sends at least.
    pub requests: u64,
    /// The most a step sends, whatever else it waits for (Lambda
    /// answers, `min_time`): a step ends there.
    pub max_requests: u64,
    /// The least time a step holds, probing all along.
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub min_time: Duration,
    /// Time left after a write before probing starts (Consul's sidecars
    /// take a moment to get a new splitter).
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub settle: Duration,
}

impl Hold {
    /// The probes of the baseline, before the first write: the stack as it
    /// stands, judged on up to 100 requests.
    pub(crate) fn baseline_requests(&self) -> u64 {
        self.requests.clamp(1, 100)
    }
}

/// Everything a run needs besides its target. Stored with the migration
/// (`split rollout start` writes it; the controller reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(with = "url_text")]
    pub url: Url,
    /// Probe requests in flight at once.
    pub concurrency: usize,
    /// The most probe requests a second, if limited.
    pub rate: Option<u32>,
    /// The most one probe request may take.
    #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
    pub timeout: Duration,
    /// What each window is judged on.
    pub judge: Judge,
    /// Whether probe requests are sent (with the Prometheus judge they are
    /// load only; off, the window holds real traffic alone).
    pub probes: bool,
}

/// What a step's window is judged on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "judge", rename_all = "snake_case")]
pub enum Judge {
    /// The probe requests' answers.
    Probes,
    /// The mesh's metrics in Prometheus.
    Prometheus {
        /// Prometheus's base URL (`/api/v1/query` is below it).
        #[serde(with = "url_text")]
        url: Url,
        /// How long a step may be extended for want of Lambda requests.
        #[serde(serialize_with = "as_ms", deserialize_with = "from_ms")]
        max_time: Duration,
    },
}

/// `--judge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JudgeKind {
    /// The probe requests this run sends through ingress.
    Probes,
    /// Prometheus: the traffic the mesh carries (Envoy's per-destination
    /// series and ingress's function errors).
    Prometheus,
}

/// `--probes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Send them.
    On,
    /// Do not.
    Off,
}

/// A duration as milliseconds, to the microsecond: how the report and
/// the stored migration write every duration.
pub(crate) fn as_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

/// [`as_ms`] read back: a finite, non-negative number of milliseconds.
pub(crate) fn from_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = <f64 as serde::Deserialize>::deserialize(d)?;
    Duration::try_from_secs_f64(ms / 1e3)
        .map_err(|_| serde::de::Error::custom(format!("{ms} is not a duration in milliseconds")))
}

/// A URL as its text, for the stored plan.
mod url_text {
    use reqwest::Url;

    pub(super) fn serialize<S: serde::Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(url.as_str())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
    }
}

/// `split migrate`'s command line.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The Lambda's shares, in percent, increasing.
    #[arg(long, default_value = DEFAULT_STEPS)]
    pub steps: Steps,
    /// Where the split is held: the local stack's Envoy, or Consul
    /// (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, as the
    /// consul CLI reads them).
    #[arg(long, value_enum, default_value = "envoy")]
    pub target: TargetKind,
    /// Envoy's admin endpoint (with --target envoy).
    #[arg(long, env = "ENVOY_ADMIN_URL", default_value = "http://127.0.0.1:9901")]
    pub admin: Url,
    /// ingress's URL, where probe requests go.
    #[arg(long, env = "INGRESS_URL", default_value = "http://127.0.0.1:8080/")]
    pub url: Url,
    /// Probe requests each step sends at least.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=probe::MAX_REQUESTS))]
    pub requests: u64,
    /// The most a step sends while it waits for enough Lambda answers
    /// or for --hold-secs; the step ends there (default: 10 times
    /// --requests; with --hold-secs, --rate times --hold-secs more).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=probe::MAX_REQUESTS))]
    pub max_requests: Option<u64>,
    /// Seconds each step holds at least, probing all along.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub hold_secs: u64,
    /// The most probe requests a second (default: as fast as answered).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: Option<u32>,
    /// Milliseconds between a write and the step's first probe (default
    /// 0 for Envoy, which applies a write at once; 5000 for Consul,
    /// whose sidecars take a moment to get a new splitter).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub settle_ms: Option<u64>,
    /// The least share of the Lambda's requests that must succeed, in percent.
    #[arg(
        long,
        value_name = "PERCENT",
        default_value = "99",
        allow_negative_numbers = true
    )]
    pub min_success: Share,
    /// Lambda requests (answered or failed) a step needs before it is judged.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub min_lambda_answers: u64,
    /// The Lambda's latency (p99, or p50 on a window too small for a p99)
    /// may be at most this many times the container greeter's.
    #[arg(long, default_value_t = 3.0, value_parser = parse_ratio)]
    pub max_p99_ratio: f64,
    /// A Lambda latency at or under this many milliseconds passes the
    /// ratio gate whatever the greeter's (a few milliseconds apart is noise).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub p99_floor_ms: u64,
    /// The Lambda's latency may never exceed this many milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub max_p99_ms: u64,
    /// Where a failed step sends the share: 0, or the last passed step.
    #[arg(long, value_enum, default_value = "zero")]
    pub rollback_to: Rollback,
    /// Probe requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=probe::MAX_CONCURRENCY as i64))]
    pub concurrency: u16,
    /// The most one probe request may take, in milliseconds.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout_ms: u64,
    /// What each step is judged on: this run's probe requests, or the
    /// traffic the mesh carried, from Prometheus (--prometheus).
    #[arg(long, value_enum, default_value = "probes")]
    pub judge: JudgeKind,
    /// Prometheus's URL (with --judge prometheus).
    #[arg(long, env = "PROMETHEUS_URL")]
    pub prometheus: Option<Url>,
    /// Send probe requests through ingress: off judges real traffic only
    /// (with --judge prometheus).
    #[arg(long, value_enum, default_value = "on")]
    pub probes: Switch,
    /// With --judge prometheus: the most seconds a step is extended for
    /// want of Lambda requests, then failed (default: 10 times
    /// --hold-secs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub max_hold_secs: Option<u64>,
    /// Print the plan and each write without reading or writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON rather than a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_ratio(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(r) if (1.0..=1000.0).contains(&r) => Ok(r),
        _ => Err(format!("{raw} is not a ratio from 1 to 1000")),
    }
}

impl Args {
    /// The plan and its target; `Err` is a usage error (exit 64) naming
    /// the flag or variable, before anything is sent. `env` reads the
    /// Consul variables.
    pub fn into_plan(self, env: impl Fn(&str) -> Option<String>) -> Result<(Plan, Target), String> {
        // By default a step ends at 10 times --requests, plus what --rate
        // sends over --hold-secs.
        let held = u64::from(self.rate.unwrap_or(0)).saturating_mul(self.hold_secs);
        let max_requests = self.max_requests.unwrap_or(
            self.requests
                .saturating_mul(10)
                .saturating_add(held)
                .min(probe::MAX_REQUESTS),
        );
        if max_requests < self.requests {
            return Err(format!(
                "--max-requests {max_requests} is below --requests {}",
                self.requests
            ));
        }
        let judge = match (self.judge, self.prometheus) {
            (JudgeKind::Probes, _) if self.probes == Switch::Off => {
                return Err(
                    "--probes off leaves --judge probes nothing to judge: add --judge prometheus".to_owned(),
                );
            }
            (JudgeKind::Probes, _) => Judge::Probes,
            (JudgeKind::Prometheus, None) => {
                return Err("--judge prometheus needs --prometheus URL (or PROMETHEUS_URL)".to_owned());
            }
            (JudgeKind::Prometheus, Some(_)) if self.hold_secs == 0 => {
                return Err(
                    "--judge prometheus needs --hold-secs: a window of several scrapes (30 or more on AWS)"
                        .to_owned(),
                );
            }
            (JudgeKind::Prometheus, Some(url)) => {
                // Over a local port or a tunnel: no TLS in this client (see
                // consul for why).
                if url.scheme() != "http" || url.cannot_be_a_base() {
                    return Err(format!("--prometheus {url} is not an http:// URL"));
                }
                let max = self.max_hold_secs.unwrap_or(self.hold_secs.saturating_mul(10));
                if max < self.hold_secs {
                    return Err(format!(
                        "--max-hold-secs {max} is below --hold-secs {}",
                        self.hold_secs
                    ));
                }
                Judge::Prometheus {
                    url,
                    max_time: Duration::from_secs(max),
                }
            }
        };
        let target = match self.target {
            TargetKind::Envoy => Target::envoy(self.admin),
            TargetKind::Consul => {
                let settings = Settings::from_lookup(env).map_err(|e| e.to_string())?;
                Target::consul(Consul::new(settings, TARGET_TIMEOUT).map_err(|e| e.to_string())?)
            }
        };
        let settle = self.settle_ms.unwrap_or(match self.target {
            TargetKind::Envoy => 0,
            TargetKind::Consul => 5000,
        });
        let plan = Plan {
            steps: self.steps,
            gates: Gates {
                min_success: self.min_success.fraction() * 100.0,
                min_lambda_answers: self.min_lambda_answers,
                max_p99_ratio: self.max_p99_ratio,
                p99_floor: Duration::from_millis(self.p99_floor_ms),
                max_p99: Duration::from_millis(self.max_p99_ms),
            },
            hold: Hold {
                requests: self.requests,
                max_requests,
                min_time: Duration::from_secs(self.hold_secs),
                settle: Duration::from_millis(settle),
            },
            rollback: self.rollback_to,
            url: self.url,
            concurrency: usize::from(self.concurrency),
            rate: self.rate,
            timeout: Duration::from_millis(self.timeout_ms),
            judge,
            probes: self.probes == Switch::On,
        };
        Ok((plan, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
