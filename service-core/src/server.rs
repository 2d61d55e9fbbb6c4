//! Serving with graceful shutdown, and the start-up every binary shares:
//! a service's routes on `PORT` and its metrics on `METRICS_PORT`, two
//! listeners of one process on one runtime, stopped by the same signal.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinError;

use crate::config::{ConfigError, Env, ServiceConfig};
use crate::metrics::Metrics;
use crate::router::{self, HEALTHY};
use crate::telemetry;
use crate::upstream::{Client, Upstream};

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting and lets in-flight requests finish for at most `drain`.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    run_all([(listener, app)], shutdown, drain).await
}

/// Serves each router on its listener until `shutdown` completes, then
/// stops them all accepting and lets the requests in flight on any of them
/// finish for at most `drain` in all. Should one stop serving on its own
/// (an error), the others stop the same way and its error is returned.
pub async fn run_all(
    servers: impl IntoIterator<Item = (TcpListener, Router)>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut serving = tokio::task::JoinSet::new();
    for (listener, app) in servers {
        let mut stopping = stopping.clone();
        let signal = async move {
            // Err: the sender is gone, which stops as well.
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        serving.spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .into_future(),
        );
    }
    let mut result = Ok(());
    tokio::select! {
        () = shutdown => {
            tracing::info!(drain_ms = drain.as_millis() as u64, "shutting down, draining in-flight requests");
        }
        Some(ended) = serving.join_next() => result = served(ended),
    }
    let _ = stop.send(true);
    let rest = tokio::time::timeout(drain, async {
        let mut rest = Ok(());
        while let Some(ended) = serving.join_next().await {
            rest = rest.and(served(ended));
        }
        rest
    })
    .await;
    match rest {
        Ok(rest) => result.and(rest),
        Err(_) => {
            // What is still in flight ends with the runtime, as `main`
            // returns.
            tracing::warn!("drain timed out; dropping the requests still in flight");
            result
        }
    }
}

/// How one listener's serving ended: its own result, or its task's panic.
fn served(ended: Result<std::io::Result<()>, JoinError>) -> std::io::Result<()> {
    ended.unwrap_or_else(|panicked| Err(std::io::Error::other(panicked)))
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
/// which its router counts into and [`launch`] serves on `METRICS_PORT`.
pub type BuildApp = fn(&Env, &ServiceConfig, Client) -> Result<Router, ConfigError>;

/// The whole of a service binary's `main`.
///
/// `service healthcheck` GETs the running service's own `/health` and exits
/// 0 or 1, for container health checks without curl or a shell. Otherwise:
/// read config (exit 64 naming the variable on error), start logging, bind
/// `0.0.0.0:PORT` for the routes and, unless `METRICS=off`,
/// `0.0.0.0:METRICS_PORT` for `GET /metrics` ([`router::scrape`]), serve
/// both until SIGTERM or SIGINT, drain both, exit 0. A port that cannot be
/// bound exits 1 naming its variable.
pub fn launch(service: &'static str, default_port: u16, build: BuildApp) -> ExitCode {
    start(service, default_port, build, true)
}

/// [`launch`] for a binary whose routes are all it serves: no metrics are
/// recorded and no metrics listener is bound (lambda-emulator, whose
/// `/metrics`, Lambda's own, is one of its routes).
pub fn launch_routes_only(service: &'static str, default_port: u16, build: BuildApp) -> ExitCode {
    start(service, default_port, build, false)
}

fn start(service: &'static str, default_port: u16, build: BuildApp, serves_metrics: bool) -> ExitCode {
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
    let metrics = if serves_metrics && config.metrics && !healthcheck {
        Metrics::new(service)
    } else {
        Metrics::off()
    };
    let client = match Client::new(config.upstream_timeout) {
        Ok(client) => client.with_metrics(metrics.clone()),
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
        let (listener, addr) = match bind(config.port).await {
            Ok(bound) => bound,
            Err((addr, e)) => return fail(service, &format!("cannot listen on {addr} (PORT): {e}")),
        };
        let mut servers = vec![(listener, app)];
        if metrics.is_on() {
            let (listener, metrics_addr) = match bind(config.metrics_port).await {
                Ok(bound) => bound,
                Err((addr, e)) => {
                    return fail(service, &format!("cannot listen on {addr} (METRICS_PORT): {e}"));
                }
            };
            servers.push((listener, router::scrape(metrics)));
            tracing::info!(service, %addr, %metrics_addr, hostname = %config.hostname, "listening");
        } else {
            tracing::info!(service, %addr, hostname = %config.hostname, "listening");
        }
        match run_all(servers, shutdown_signal(), config.drain_timeout).await {
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

/// A listener on `port` of every interface and the address it got (port 0
/// is any free one), or the address it could not have and why.
async fn bind(port: u16) -> Result<(TcpListener, SocketAddr), (SocketAddr, std::io::Error)> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = TcpListener::bind(addr).await.map_err(|e| (addr, e))?;
    let bound = listener.local_addr().unwrap_or(addr);
    Ok((listener, bound))
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
    match own_health(&client, "self", port).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => fail("healthcheck", &why),
    }
}

/// Asks this host's `/health` on `port` (`name` in errors), as a container
/// health check does: `Ok` when it answers healthy, else why not.
pub async fn own_health(client: &Client, name: &'static str, port: u16) -> Result<(), String> {
    let own = Upstream {
        name,
        url: format!("http://127.0.0.1:{port}/health")
            .parse::<reqwest::Url>()
            .map_err(|e| e.to_string())?,
    };
    match client.get_text(&own, Default::default()).await {
        Ok(body) if body == HEALTHY => Ok(()),
        Ok(body) => Err(format!("unexpected body {body:?}")),
        Err(e) => Err(e.to_string()),
    }
}
