//! Serving with graceful shutdown, and the start-up every binary shares.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::{ConfigError, Env, ServiceConfig};
use crate::metrics::Metrics;
use crate::router::HEALTHY;
use crate::telemetry;
use crate::upstream::{Client, Upstream};

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting and lets in-flight requests finish for at most `drain`.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel();
    let signal = async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    };
    let serve = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .into_future();
    tokio::pin!(serve);
    tokio::select! {
        result = &mut serve => result,
        Ok(()) = signalled_rx => {
            tracing::info!(drain_ms = drain.as_millis() as u64, "shutting down, draining in-flight requests");
            match tokio::time::timeout(drain, serve).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("drain timed out; dropping the requests still in flight");
                    Ok(())
                }
            }
        }
    }
}

/// Completes on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// What a service's `main` hands to [`launch`]: from the environment and
/// the common config, the service's router. The client records into the
/// service's [`Metrics`] (`client.metrics()`, off with `METRICS=off`),
/// which its router counts into and answers on `/metrics`.
pub type BuildApp = fn(&Env, &ServiceConfig, Client) -> Result<Router, ConfigError>;

/// The whole of a service binary's `main`.
///
/// `service healthcheck` GETs the running service's own `/health` and exits
/// 0 or 1, for container health checks without curl or a shell. Otherwise:
/// read config (exit 64 naming the variable on error), start logging, bind
/// `0.0.0.0:PORT`, serve until SIGTERM or SIGINT, exit 0.
pub fn launch(service: &'static str, default_port: u16, build: BuildApp) -> ExitCode {
    let env = Env::from_process();
    let healthcheck = std::env::args().nth(1).as_deref() == Some("healthcheck");
    let started = ServiceConfig::from_env(&env, default_port).and_then(|config| {
        let filter = telemetry::filter(&env)?;
        Ok((config, filter))
    });
    let (config, filter) = match started {
        Ok(started) => started,
        Err(e) => return config_exit(service, &e),
    };
    let metrics = if config.metrics && !healthcheck {
        Metrics::new(service)
    } else {
        Metrics::off()
    };
    let client = match Client::new(config.upstream_timeout) {
        Ok(client) => client.with_metrics(metrics),
        Err(e) => return fail(service, &format!("cannot build the HTTP client: {e}")),
    };
    let runtime = match runtime(config.worker_threads) {
        Ok(runtime) => runtime,
        Err(e) => return fail(service, &format!("cannot start the async runtime: {e}")),
    };
    if healthcheck {
        return runtime.block_on(check_health(client, config.port));
    }
    let app = match build(&env, &config, client) {
        Ok(app) => app,
        Err(e) => return config_exit(service, &e),
    };
    telemetry::init(config.log_format, filter);
    telemetry::write_when_idle();
    let code = runtime.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port));
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => return fail(service, &format!("cannot listen on {addr}: {e}")),
        };
        let addr = listener.local_addr().unwrap_or(addr);
        tracing::info!(service, %addr, hostname = %config.hostname, "listening");
        match run(listener, app, shutdown_signal(), config.drain_timeout).await {
            Ok(()) => {
                tracing::info!(service, "stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(service, &format!("server failed: {e}")),
        }
    });
    telemetry::flush();
    code
}

/// One thread by default: on two cores shared by four services and a load
/// generator, `scripts/bench` measured it ahead of one or two workers, and
/// on an ECS task of up to one vCPU there is nothing for a second to do.
fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match worker_threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    // Log lines gathered while busy are written before the thread waits.
    builder.enable_all().on_thread_park(telemetry::flush).build()
}

#[allow(clippy::print_stderr)] // Before logging starts, stderr is the only voice.
fn config_exit(service: &str, error: &ConfigError) -> ExitCode {
    eprintln!("{service}: configuration error: {error}");
    ExitCode::from(ConfigError::EXIT_CODE)
}

#[allow(clippy::print_stderr)]
fn fail(service: &str, message: &str) -> ExitCode {
    eprintln!("{service}: {message}");
    ExitCode::FAILURE
}

async fn check_health(client: Client, port: u16) -> ExitCode {
    let own = Upstream {
        name: "self",
        url: match format!("http://127.0.0.1:{port}/health").parse() {
            Ok(url) => url,
            Err(e) => return fail("healthcheck", &e.to_string()),
        },
    };
    match client.get_text(&own, Default::default()).await {
        Ok(body) if body == HEALTHY => ExitCode::SUCCESS,
        Ok(body) => fail("healthcheck", &format!("unexpected body {body:?}")),
        Err(e) => fail("healthcheck", &e.to_string()),
    }
}
