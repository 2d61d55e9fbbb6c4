//! The emulator's settings: the function it runs and how, read from
//! `EMULATOR_*` variables (and `AWS_REGION`), each named in its error.

use std::path::PathBuf;
use std::time::Duration;

use service_core::config::{ConfigError, Env};

/// Lambda's own bounds on a function's timeout, in seconds.
const TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=900;
/// Lambda's bounds on a function's memory, in MB.
const MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// The function and how it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `EMULATOR_FUNCTION_NAME` (`greeter-lambda`): the name it answers to.
    pub function_name: String,
    /// `EMULATOR_BOOTSTRAP` (`/var/task/bootstrap`): the executable each
    /// instance runs, as Lambda runs a custom runtime's `bootstrap`.
    pub bootstrap: PathBuf,
    /// Arguments to the bootstrap: none on Lambda; tests set some.
    pub args: Vec<String>,
    /// `AWS_REGION` (`us-east-1`): the region of the function's ARN.
    pub region: String,
    /// `EMULATOR_ACCOUNT_ID` (`123456789012`): the account of its ARN.
    pub account_id: String,
    /// `EMULATOR_MEMORY_MB` (128, as deployed): reported to the function.
    pub memory_mb: u32,
    /// `EMULATOR_TIMEOUT_SECS` (10, as deployed): how long one invocation
    /// may take from its hand-out to the function before its instance is
    /// killed; a cold start's init has Lambda's 10 s of its own before it.
    pub timeout: Duration,
    /// `EMULATOR_CONCURRENCY` (4): the most instances at once, to spare the
    /// machine; an invocation past it waits for one, since the deployed
    /// function has no concurrency limit of its own and on AWS would get an
    /// instance of its own.
    pub concurrency: usize,
    /// `EMULATOR_RESERVED_CONCURRENCY` (unset, as deployed): Lambda's
    /// reserved concurrency, from 0 to `EMULATOR_CONCURRENCY`. A synchronous
    /// invocation past it is throttled as Lambda throttles it (429
    /// `TooManyRequestsException`) instead of waiting; an `Event` one waits,
    /// as Lambda's queue for asynchronous invocations keeps it.
    pub reserved_concurrency: Option<usize>,
    /// The function's own variables (`NAME_URL`, ...): on Lambda its
    /// configuration, here every variable of the emulator's environment
    /// that is not an `EMULATOR_` setting.
    pub function_env: Vec<(String, String)>,
}

impl Config {
    /// Reads the settings from `env`, and passes the rest of it, all but the
    /// `EMULATOR_` variables, on to the function. A bootstrap that is not a
    /// file is refused here, not at the first invocation.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let bootstrap = PathBuf::from(env.get("EMULATOR_BOOTSTRAP").unwrap_or("/var/task/bootstrap"));
        if !bootstrap.is_file() {
            return Err(ConfigError {
                var: "EMULATOR_BOOTSTRAP",
                problem: format!(
                    "{} is not a file (expected the function's executable)",
                    bootstrap.display()
                ),
            });
        }
        let function_name = env.get("EMULATOR_FUNCTION_NAME").unwrap_or("greeter-lambda");
        if !is_function_name(function_name) {
            return Err(ConfigError {
                var: "EMULATOR_FUNCTION_NAME",
                problem: format!(
                    "{function_name:?} is not a function name (letters, digits, - and _, up to 64)"
                ),
            });
        }
        let timeout_secs = env.parse_in(
            "EMULATOR_TIMEOUT_SECS",
            10,
            TIMEOUT_SECS,
            "whole seconds from 1 to 900",
        )?;
        let memory_mb = env.parse_in("EMULATOR_MEMORY_MB", 128, MEMORY_MB, "MB from 128 to 10240")?;
        let concurrency = env.parse_in(
            "EMULATOR_CONCURRENCY",
            4,
            1..=1000,
            "a number of instances from 1 to 1000",
        )?;
        let reserved_concurrency = match env.get("EMULATOR_RESERVED_CONCURRENCY") {
            None => None,
            Some(_) => Some(env.parse_in(
                "EMULATOR_RESERVED_CONCURRENCY",
                0,
                0..=concurrency,
                &format!("a number of invocations from 0 to EMULATOR_CONCURRENCY ({concurrency})"),
            )?),
        };
        let account_id = env.get("EMULATOR_ACCOUNT_ID").unwrap_or("123456789012");
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError {
                var: "EMULATOR_ACCOUNT_ID",
                problem: format!("{account_id:?} is not a 12-digit account id"),
            });
        }
        Ok(Self {
            function_name: function_name.to_owned(),
            bootstrap,
            args: Vec::new(),
            region: env.get("AWS_REGION").unwrap_or("us-east-1").to_owned(),
            account_id: account_id.to_owned(),
            memory_mb,
            timeout: Duration::from_secs(timeout_secs),
            concurrency,
            reserved_concurrency,
            function_env: env
                .vars()
                .filter(|(k, _)| !k.starts_with("EMULATOR_"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        })
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }
}

fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings with the bootstrap at a file that exists.
    fn env<'a>(pairs: &[(&'a str, &'a str)]) -> Env {
        let mut all = vec![("EMULATOR_BOOTSTRAP", "Cargo.toml")];
        all.extend_from_slice(pairs);
        Env::from_pairs(all)
    }

    #[test]
    fn defaults_are_the_deployed_functions() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.function_name, "greeter-lambda");
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.memory_mb, 128);
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.reserved_concurrency, None);
        assert_eq!(
            config.arn(),
            "arn:aws:lambda:us-east-1:123456789012:function:greeter-lambda"
        );
    }

    #[test]
    fn every_bad_setting_is_named() {
        let cases = [
            ("EMULATOR_TIMEOUT_SECS", "0"),
            ("EMULATOR_TIMEOUT_SECS", "901"),
            ("EMULATOR_TIMEOUT_SECS", "1.5"),
            ("EMULATOR_MEMORY_MB", "64"),
            ("EMULATOR_CONCURRENCY", "0"),
            ("EMULATOR_CONCURRENCY", "many"),
            ("EMULATOR_RESERVED_CONCURRENCY", "5"),
            ("EMULATOR_RESERVED_CONCURRENCY", "-1"),
            ("EMULATOR_ACCOUNT_ID", "12345"),
            ("EMULATOR_FUNCTION_NAME", "greeter lambda"),
        ];
        for (var, value) in cases {
            let err = Config::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}: {err}");
        }
    }

    #[test]
    fn a_missing_bootstrap_is_named() {
        let err =
            Config::from_env(&Env::from_pairs([("EMULATOR_BOOTSTRAP", "/no/such/bootstrap")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "EMULATOR_BOOTSTRAP: /no/such/bootstrap is not a file (expected the function's executable)"
        );
    }
}
