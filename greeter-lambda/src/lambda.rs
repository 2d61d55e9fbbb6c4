//! Start-up under Lambda's Runtime API: read the config, start logging in
//! Lambda's format, then poll for invocations until Lambda stops the
//! process.

use std::process::ExitCode;

use lambda_http::lambda_runtime::layers::TracingLayer;
use lambda_http::lambda_runtime::{LambdaEvent, Runtime, service_fn};
use service_core::config::{ConfigError, Env, LogFormat, ServiceConfig};
use service_core::greeter::Greeter;
use service_core::metrics::Metrics;
use service_core::telemetry;
use service_core::upstream::Client;

use crate::function::Function;
use crate::invocation::Invocation;

/// Set by Lambda and by emulators: the Runtime API, as `host:port` (Lambda,
/// lambda-emulator) or as a URL with a base path (`cargo lambda watch`
/// sets `http://127.0.0.1:9000/.rt`).
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// The URL of `path` on the Runtime API `api`, in either form Lambda's
/// runtime client accepts: `host:port`, or a URL whose path is a base.
pub fn runtime_api_url(api: &str, path: &str) -> String {
    if api.starts_with("http://") || api.starts_with("https://") {
        format!("{}{path}", api.trim_end_matches('/'))
    } else {
        format!("http://{api}{path}")
    }
}

/// What stops the function before its first invocation.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A variable is missing or malformed.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Builds the function from `env` and starts logging. Nothing here touches
/// the network: the client connects on the first invocation. Its upstream
/// calls are counted and written as EMF lines unless `METRICS=off`.
pub fn init(env: &Env) -> Result<Function, InitError> {
    let config = ServiceConfig::from_env(env, 3000)?;
    let filter = telemetry::filter(&log_filter(env))?;
    let metrics = if config.metrics {
        Metrics::keeping_calls("greeter-lambda")
    } else {
        Metrics::off()
    };
    let client = Client::new(config.upstream_timeout)?.with_metrics(metrics);
    let greeter = Greeter::from_env(env, client)?;
    telemetry::init(log_format(env, config.log_format), filter);
    Ok(Function::new(greeter))
}

/// The whole of `main`: init, then serve invocations one at a time. An
/// init error is reported to the Runtime API, so the invoker sees its
/// message, and the process exits 64 (`EX_USAGE`), as it does outside a
/// Runtime API.
pub fn run(env: &Env) -> ExitCode {
    let Some(api) = env.get(RUNTIME_API) else {
        let unset = InitError::Config(ConfigError {
            var: RUNTIME_API,
            problem: "is not set (a Lambda function runs under a Runtime API: \
                      on Lambda, in lambda-emulator or under cargo lambda watch)"
                .to_owned(),
        });
        fail(&unset.to_string());
        return ExitCode::from(ConfigError::EXIT_CODE);
    };
    // One thread: a 128 MB function has a fraction of a vCPU, and no
    // worker threads to spawn makes the cold start shorter.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let function = match init(env) {
        Ok(function) => function,
        Err(e) => {
            let message = e.to_string();
            runtime.block_on(report_init_error(api, &message));
            fail(&message);
            return ExitCode::from(ConfigError::EXIT_CODE);
        }
    };
    let handler = service_fn(move |event: LambdaEvent<Invocation>| {
        let function = function.clone();
        async move { function.handle(event).await }
    });
    match runtime.block_on(Runtime::new(handler).layer(TracingLayer::new()).run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("the Lambda runtime stopped: {e}")),
    }
}

/// `JSON` when Lambda's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`), else
/// `LOG_FORMAT` as for every service.
fn log_format(env: &Env, configured: LogFormat) -> LogFormat {
    match env.get("AWS_LAMBDA_LOG_FORMAT") {
        Some(format) if format.eq_ignore_ascii_case("json") => LogFormat::Json,
        _ => configured,
    }
}

/// `RUST_LOG` wins; else Lambda's log level (`AWS_LAMBDA_LOG_LEVEL`, set
/// with the JSON format), else `info`.
fn log_filter(env: &Env) -> Env {
    let directives = match (env.get("RUST_LOG"), env.get("AWS_LAMBDA_LOG_LEVEL")) {
        (Some(directives), _) => directives.to_owned(),
        (None, Some(level)) if level.eq_ignore_ascii_case("fatal") => "error".to_owned(),
        (None, Some(level)) => level.to_ascii_lowercase(),
        (None, None) => "info".to_owned(),
    };
    Env::from_pairs([("RUST_LOG", directives.as_str())])
}

/// Posts an init error to the Runtime API, the way Lambda expects to hear
/// of one; if that fails there is nothing more to do than exit.
async fn report_init_error(api: &str, message: &str) {
    let body = serde_json::json!({ "errorType": "Runtime.InitError", "errorMessage": message });
    let sent = reqwest::Client::new()
        .post(runtime_api_url(api, "/2018-06-01/runtime/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .body(body.to_string())
        .send()
        .await;
    if let Err(e) = sent {
        fail(&format!("cannot report the init error to the Runtime API: {e}"));
    }
}

#[allow(clippy::print_stderr)] // Before logging starts, stderr is the only voice.
fn fail(message: &str) -> ExitCode {
    eprintln!("greeter-lambda: {message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_json_log_format_wins_over_log_format() {
        let env = Env::from_pairs([("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
        assert_eq!(log_format(&env, LogFormat::Text), LogFormat::Json);
        let env = Env::from_pairs([("AWS_LAMBDA_LOG_FORMAT", "Text")]);
        assert_eq!(log_format(&env, LogFormat::Json), LogFormat::Json);
        assert_eq!(log_format(&Env::default(), LogFormat::Text), LogFormat::Text);
    }

    #[test]
    fn rust_log_wins_then_lambda_log_level_then_info() {
        let filter = |pairs: &[(&str, &str)]| {
            log_filter(&Env::from_pairs(pairs.iter().copied()))
                .get("RUST_LOG")
                .map(str::to_owned)
        };
        assert_eq!(
            filter(&[("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")]).as_deref(),
            Some("debug")
        );
        assert_eq!(
            filter(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]).as_deref(),
            Some("warn")
        );
        assert_eq!(
            filter(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).as_deref(),
            Some("error")
        );
        assert_eq!(filter(&[]).as_deref(), Some("info"));
    }

    #[test]
    fn the_runtime_api_is_a_host_and_port_or_a_url_with_a_base_path() {
        let path = "/2018-06-01/runtime/init/error";
        assert_eq!(
            runtime_api_url("127.0.0.1:9001", path),
            "http://127.0.0.1:9001/2018-06-01/runtime/init/error"
        );
        assert_eq!(
            runtime_api_url("http://127.0.0.1:9000/.rt", path),
            "http://127.0.0.1:9000/.rt/2018-06-01/runtime/init/error"
        );
        assert_eq!(
            runtime_api_url("http://127.0.0.1:9000/", path),
            "http://127.0.0.1:9000/2018-06-01/runtime/init/error"
        );
    }

    #[test]
    fn a_missing_url_is_an_init_error_naming_it() {
        let err = init(&Env::from_pairs([("GREETING_URL", "http://localhost:3002")]))
            .err()
            .expect("init fails");
        assert!(
            err.to_string()
                .starts_with("configuration error: NAME_URL: is not set"),
            "{err}"
        );
    }
}
