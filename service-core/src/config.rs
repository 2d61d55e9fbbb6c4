//! Typed configuration read from a key/value source.
//!
//! Services read the process environment; tests hand in a map, so no test
//! mutates the environment of the process it runs in.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Url;

/// A configuration variable that is missing or malformed.
///
/// Its `Display` is the one line a process prints before exiting with
/// [`ConfigError::EXIT_CODE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The variable's name, e.g. `NAME_URL`.
    pub var: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// `EX_USAGE` from sysexits.h: the process was started wrongly.
    pub const EXIT_CODE: u8 = 64;

    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

/// A snapshot of key/value settings, usually the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// The environment of this process. Variables that are not UTF-8 are
    /// kept out and so read as unset.
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    /// Settings from pairs, for tests and embedding.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// The raw value of `var`; an empty value counts as unset.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Every setting, empty ones included: what a process hands on to a
    /// child's environment.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A required absolute `http` URL. Upstreams are plain HTTP (in the mesh,
    /// the local sidecar), so the client is built without TLS and an
    /// `https` URL is refused here rather than failing every call.
    pub fn url(&self, var: &'static str) -> Result<Url, ConfigError> {
        let raw = self
            .get(var)
            .ok_or_else(|| ConfigError::new(var, "is not set (expected a URL such as http://name:3000)"))?;
        let url = Url::parse(raw).map_err(|e| ConfigError::new(var, format!("{raw:?} is not a URL: {e}")))?;
        if url.scheme() != "http" || url.host().is_none() {
            return Err(ConfigError::new(
                var,
                format!("{raw:?} is not an http:// URL with a host"),
            ));
        }
        Ok(url)
    }

    /// An optional value parsed with `FromStr`, or `default` when unset.
    pub fn parse_or<T>(&self, var: &'static str, default: T, expected: &str) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
    {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(var, format!("{raw:?} is not {expected}"))),
        }
    }

    /// [`Env::parse_or`], then refused unless within `range`; `expected`
    /// says what is, in both errors.
    pub fn parse_in<T>(
        &self,
        var: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
        expected: &str,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let value = self.parse_or(var, default, expected)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::new(var, format!("{value} is not {expected}")))
        }
    }

    /// An optional duration in whole milliseconds, greater than zero.
    pub fn millis_or(&self, var: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        let expected = "a whole number of milliseconds greater than 0";
        self.parse_in(var, default_ms, 1..=u64::MAX, expected)
            .map(Duration::from_millis)
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines such as CloudWatch.
    Json,
}

/// Where metrics are served by default: the default port of
/// OpenTelemetry's Prometheus exporter (its specification's), so a port
/// people already open to their Prometheus and to nothing else.
pub const DEFAULT_METRICS_PORT: u16 = 9464;

/// What every service reads, whatever its upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// `PORT`: where the routes are served, on all interfaces.
    pub port: u16,
    /// `METRICS_PORT` (default [`DEFAULT_METRICS_PORT`]): where `GET
    /// /metrics` is served, on all interfaces, unless `METRICS=off`. Never
    /// `PORT`: the port the routes are served on has no metrics. 0, as for
    /// `PORT`, is any free port.
    pub metrics_port: u16,
    /// `HOSTNAME`, else the OS hostname: printed in every payload.
    pub hostname: String,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// `UPSTREAM_TIMEOUT_MS` (default 2000): the whole of one upstream call.
    pub upstream_timeout: Duration,
    /// `DRAIN_TIMEOUT_MS` (default 10000): how long in-flight requests may
    /// run on after SIGTERM.
    pub drain_timeout: Duration,
    /// `WORKER_THREADS` (default 1): 1 runs everything on one thread; more
    /// starts a multi-threaded runtime with that many workers.
    pub worker_threads: usize,
    /// `METRICS`: `on` (default) counts requests and upstream calls and
    /// serves them on `METRICS_PORT`; `off` records nothing and listens on
    /// no second port, for measuring what recording costs.
    pub metrics: bool,
}

impl ServiceConfig {
    /// Reads the common settings; `default_port` is the service's own.
    pub fn from_env(env: &Env, default_port: u16) -> Result<Self, ConfigError> {
        let log_format = match env.get("LOG_FORMAT").map(str::to_ascii_lowercase).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?} is not text or json"),
                ));
            }
        };
        let metrics = match env.get("METRICS").map(str::to_ascii_lowercase).as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(ConfigError::new("METRICS", format!("{other:?} is not on or off")));
            }
        };
        let port = env.parse_or("PORT", default_port, PORT_NUMBER)?;
        let metrics_port = env.parse_or("METRICS_PORT", DEFAULT_METRICS_PORT, PORT_NUMBER)?;
        // Both 0 are two free ports, not one.
        if metrics_port == port && port != 0 {
            return Err(ConfigError::new(
                "METRICS_PORT",
                format!("{metrics_port} is PORT too; metrics are served on a port of their own"),
            ));
        }
        Ok(Self {
            port,
            metrics_port,
            hostname: env.get("HOSTNAME").map_or_else(os_hostname, str::to_owned),
            log_format,
            upstream_timeout: env.millis_or("UPSTREAM_TIMEOUT_MS", 2000)?,
            drain_timeout: env.millis_or("DRAIN_TIMEOUT_MS", 10_000)?,
            worker_threads: env.parse_in(
                "WORKER_THREADS",
                1,
                1..=usize::MAX,
                "a whole number of threads from 1",
            )?,
            metrics,
        })
    }
}

const PORT_NUMBER: &str = "a port number (0-65535)";

fn os_hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = ServiceConfig::from_env(&Env::default(), 3000).unwrap();
        assert_eq!(config.port, 3000);
        assert_eq!(config.metrics_port, 9464);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.upstream_timeout, Duration::from_secs(2));
        assert_eq!(config.drain_timeout, Duration::from_secs(10));
        assert_eq!(config.worker_threads, 1);
        assert!(config.metrics);
        assert!(!config.hostname.is_empty());
    }

    #[test]
    fn every_setting_is_read() {
        let env = Env::from_pairs([
            ("PORT", "8081"),
            ("METRICS_PORT", "9100"),
            ("HOSTNAME", "ip-10-0-2-33.ec2.internal"),
            ("LOG_FORMAT", "JSON"),
            ("UPSTREAM_TIMEOUT_MS", "250"),
            ("DRAIN_TIMEOUT_MS", "500"),
            ("WORKER_THREADS", "2"),
            ("METRICS", "Off"),
        ]);
        let config = ServiceConfig::from_env(&env, 3000).unwrap();
        assert_eq!(
            config,
            ServiceConfig {
                port: 8081,
                metrics_port: 9100,
                hostname: "ip-10-0-2-33.ec2.internal".into(),
                log_format: LogFormat::Json,
                upstream_timeout: Duration::from_millis(250),
                drain_timeout: Duration::from_millis(500),
                worker_threads: 2,
                metrics: false,
            }
        );
    }

    #[test]
    fn a_port_that_is_not_a_number_names_port() {
        let err = ServiceConfig::from_env(&Env::from_pairs([("PORT", "eighty")]), 3000).unwrap_err();
        assert_eq!(err.var, "PORT");
        assert_eq!(
            err.to_string(),
            r#"PORT: "eighty" is not a port number (0-65535)"#
        );
    }

    #[test]
    fn a_port_out_of_range_is_rejected() {
        let err = ServiceConfig::from_env(&Env::from_pairs([("PORT", "70000")]), 3000).unwrap_err();
        assert_eq!(err.var, "PORT");
    }

    #[test]
    fn a_metrics_port_that_is_not_a_port_names_metrics_port() {
        for bad in ["metrics", "65536", "-1"] {
            let err = ServiceConfig::from_env(&Env::from_pairs([("METRICS_PORT", bad)]), 3000).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("METRICS_PORT: {bad:?} is not a port number (0-65535)")
            );
        }
    }

    #[test]
    fn a_metrics_port_that_is_port_is_refused_naming_metrics_port() {
        for (pairs, port) in [
            (&[("METRICS_PORT", "3000")][..], 3000),
            (&[("PORT", "9464")][..], 9464),
            (
                &[("PORT", "8080"), ("METRICS_PORT", "8080"), ("METRICS", "off")][..],
                8080,
            ),
        ] {
            let err = ServiceConfig::from_env(&Env::from_pairs(pairs.iter().copied()), 3000).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("METRICS_PORT: {port} is PORT too; metrics are served on a port of their own"),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn both_ports_zero_are_two_free_ports() {
        let env = Env::from_pairs([("PORT", "0"), ("METRICS_PORT", "0")]);
        let config = ServiceConfig::from_env(&env, 3000).unwrap();
        assert_eq!((config.port, config.metrics_port), (0, 0));
    }

    #[test]
    fn a_zero_timeout_is_rejected() {
        let err =
            ServiceConfig::from_env(&Env::from_pairs([("UPSTREAM_TIMEOUT_MS", "0")]), 3000).unwrap_err();
        assert_eq!(err.var, "UPSTREAM_TIMEOUT_MS");
    }

    #[test]
    fn zero_worker_threads_are_rejected() {
        for bad in ["0", "-1", "many"] {
            let err = ServiceConfig::from_env(&Env::from_pairs([("WORKER_THREADS", bad)]), 3000).unwrap_err();
            assert_eq!(err.var, "WORKER_THREADS", "{bad}");
        }
    }

    #[test]
    fn metrics_other_than_on_or_off_are_rejected() {
        let err = ServiceConfig::from_env(&Env::from_pairs([("METRICS", "maybe")]), 3000).unwrap_err();
        assert_eq!(err.to_string(), r#"METRICS: "maybe" is not on or off"#);
    }

    #[test]
    fn an_unknown_log_format_is_rejected() {
        let err = ServiceConfig::from_env(&Env::from_pairs([("LOG_FORMAT", "xml")]), 3000).unwrap_err();
        assert_eq!(err.to_string(), r#"LOG_FORMAT: "xml" is not text or json"#);
    }

    #[test]
    fn a_missing_url_names_the_variable() {
        let err = Env::default().url("NAME_URL").unwrap_err();
        assert_eq!(err.var, "NAME_URL");
        assert!(err.to_string().starts_with("NAME_URL: is not set"), "{err}");
    }

    #[test]
    fn a_malformed_url_names_the_variable() {
        for bad in ["name:3000", "not a url", "ftp://name", "https://name", "http://"] {
            let err = Env::from_pairs([("NAME_URL", bad)]).url("NAME_URL").unwrap_err();
            assert_eq!(err.var, "NAME_URL", "{bad}");
        }
    }

    #[test]
    fn a_good_url_is_parsed() {
        let url = Env::from_pairs([("NAME_URL", "http://localhost:3001")])
            .url("NAME_URL")
            .unwrap();
        assert_eq!(url.as_str(), "http://localhost:3001/");
    }
}
