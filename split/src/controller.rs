//! `split controller`: the migration as a service of the mesh. Run two
//! replicas on one store: one leads and drives the stored migration, the
//! other waits to take over ([`migration::controller`]). Each serves
//! `/health`, `/status` (JSON: phase, step, share, the window so far,
//! verdicts, history, leader) and `/metrics` on `CONTROLLER_PORT`.
//!
//! Its environment ([`Config::from_lookup`]; a bad value stops it with one
//! line naming the variable, exit 64): `CONTROLLER_STORE` (`consul`,
//! `file:<dir>`), `CONTROLLER_TARGET` (`envoy`, the default, or `consul`),
//! `CONTROLLER_PORT` (9470), `CONTROLLER_ID` (the hostname),
//! `CONSUL_SESSION_NODE`, `PROMETHEUS_URL` and `INGRESS_URL` (where the
//! judge and the probes reach from here, over the stored plan's),
//! `ENVOY_ADMIN_URL`, and Consul's client variables.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use reqwest::Url;

use migration::consul::{Consul, Settings};
use migration::controller::{Local, Shared};
use migration::status::Status;
use migration::store::{Candidate, Store};
use migration::target::{TARGET_TIMEOUT, Target, TargetKind};
use service_core::router::HEALTHY;
use service_core::server::own_health;
use service_core::upstream::Client;

use crate::output::Output;
use crate::store::{AnyStore, StoreSpec, VARIABLE};

/// `CONTROLLER_PORT`'s default.
pub const DEFAULT_PORT: u16 = 9470;

/// A setting that cannot be used: the variable and what is wrong (the
/// same error Consul's settings give).
pub use migration::consul::SettingsError as ConfigError;

/// The controller's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the migration is stored.
    pub store: StoreSpec,
    /// Where the split is held.
    pub target: TargetKind,
    /// The port of `/health`, `/status`, `/metrics`.
    pub port: u16,
    /// This replica's name.
    pub id: String,
    /// Envoy's admin (target envoy).
    pub envoy_admin: Url,
    /// ingress, for probes, over the stored plan's.
    pub ingress: Option<Url>,
    /// Prometheus, for the judge, over the stored plan's.
    pub prometheus: Option<Url>,
    /// Consul's client (target consul), from Consul's variables.
    pub consul: Option<Consul>,
}

fn url(lookup: &impl Fn(&str) -> Option<String>, variable: &'static str) -> Result<Option<Url>, ConfigError> {
    lookup(variable)
        .filter(|v| !v.trim().is_empty())
        .map(|raw| match raw.trim().parse::<Url>() {
            Ok(url) if url.scheme() == "http" && !url.cannot_be_a_base() => Ok(url),
            _ => Err(ConfigError {
                variable,
                problem: format!("{raw:?} is not an http:// URL"),
            }),
        })
        .transpose()
}

impl Config {
    /// Reads the settings from a key/value source (the environment, or a
    /// map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store = lookup(VARIABLE)
            .ok_or_else(|| ConfigError {
                variable: VARIABLE,
                problem: "not set: consul, or file:<dir> (a directory both replicas mount)".to_owned(),
            })?
            .parse()
            .map_err(|problem| ConfigError {
                variable: VARIABLE,
                problem,
            })?;
        let target = match lookup("CONTROLLER_TARGET").as_deref().map(str::trim) {
            None | Some("" | "envoy") => TargetKind::Envoy,
            Some("consul") => TargetKind::Consul,
            Some(other) => {
                return Err(ConfigError {
                    variable: "CONTROLLER_TARGET",
                    problem: format!("{other:?} is not envoy or consul"),
                });
            }
        };
        let port = port(&lookup)?;
        let id = lookup("CONTROLLER_ID")
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
        if id.chars().any(char::is_control) || id.len() > 128 {
            return Err(ConfigError {
                variable: "CONTROLLER_ID",
                problem: format!("{id:?} is not a name"),
            });
        }
        let consul = match target {
            TargetKind::Envoy => None,
            TargetKind::Consul => {
                let settings = Settings::from_lookup(&lookup)?;
                Some(Consul::new(settings, TARGET_TIMEOUT).map_err(|e| ConfigError {
                    variable: "CONSUL_CACERT",
                    problem: e.to_string(),
                })?)
            }
        };
        Ok(Self {
            consul,
            store,
            target,
            port,
            id,
            envoy_admin: match url(&lookup, "ENVOY_ADMIN_URL")? {
                Some(url) => url,
                None => "http://127.0.0.1:9901".parse().map_err(|e| ConfigError {
                    variable: "ENVOY_ADMIN_URL",
                    problem: format!("the default: {e}"),
                })?,
            },
            ingress: url(&lookup, "INGRESS_URL")?,
            prometheus: url(&lookup, "PROMETHEUS_URL")?,
        })
    }
}

/// What the routes read.
#[derive(Clone)]
pub struct AppState {
    /// The controller's loop's state.
    pub shared: Arc<Shared>,
    /// The store, for who leads.
    pub store: Arc<AnyStore>,
    /// This replica's name.
    pub id: String,
}

/// `CONTROLLER_PORT`, or its default.
fn port(lookup: &impl Fn(&str) -> Option<String>) -> Result<u16, ConfigError> {
    match lookup("CONTROLLER_PORT") {
        None => Ok(DEFAULT_PORT),
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
            variable: "CONTROLLER_PORT",
            problem: format!("{raw:?} is not a port (0 to 65535)"),
        }),
    }
}

/// `split healthcheck`: GETs the controller's own `/health` on
/// `CONTROLLER_PORT` and says whether it answered, for container health
/// checks where the image has no shell or curl (as the services'
/// `/service healthcheck`). A standby is healthy: it answers, and takes
/// over when the leader goes.
pub async fn healthcheck(lookup: impl Fn(&str) -> Option<String>) -> Output {
    let port = match port(&lookup) {
        Ok(port) => port,
        Err(e) => return Output::usage(format!("split healthcheck: {e}\n")),
    };
    let answer = match Client::new(Duration::from_secs(2)) {
        Ok(client) => own_health(&client, "controller", port).await,
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(()) => Output::ok(String::new()),
        Err(why) => Output::fail(String::new(), format!("split healthcheck: {why}\n")),
    }
}

/// The controller's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { HEALTHY }))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn status(State(state): State<AppState>) -> impl IntoResponse {
    let record = state.shared.record.borrow().clone();
    let leader = state.store.leader().await.ok().flatten();
    let leads = *state.shared.leads.borrow();
    let problem = state.shared.problem.borrow().clone();
    let migration = record.map(|record| {
        let so_far = state.shared.progress.so_far();
        Status::of(&record, leader.clone(), so_far, migration::record::now())
    });
    let body = serde_json::json!({
        "this": state.id,
        "leads": leads,
        "leader": leader,
        "problem": problem,
        "migration": migration,
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string())
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, service_core::metrics::CONTENT_TYPE)],
        state.shared.metrics.encode(),
    )
}

/// Runs the controller on `listener` until `shutdown` resolves: the loop,
/// and the routes with a bounded drain.
pub async fn run<D>(
    config: Config,
    store: AnyStore,
    ttl: Duration,
    listener: tokio::net::TcpListener,
    shutdown: D,
) where
    D: std::future::Future<Output = ()> + Send + 'static,
{
    let make_target = {
        let (admin, consul) = (config.envoy_admin.clone(), config.consul.clone());
        move || match &consul {
            Some(consul) => Target::consul(consul.clone()),
            None => Target::envoy(admin.clone()),
        }
    };
    let shared = Arc::new(Shared::default());
    let store = Arc::new(store);
    let state = AppState {
        shared: shared.clone(),
        store: store.clone(),
        id: config.id.clone(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let waiting = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(waiting(stopped.clone()));
    let me = Candidate {
        id: config.id.clone(),
        ttl,
    };
    let local = Local {
        ingress: config.ingress.clone(),
        prometheus: config.prometheus.clone(),
        target: config.target,
    };
    let controller = migration::controller::run(
        &*store,
        &me,
        make_target,
        &shared,
        &local,
        waiting(stopped.clone()),
    );
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let (_, served) = tokio::join!(controller, server);
    if let Err(e) = served {
        shared.progress.line(&format!("serving stopped: {e}"));
    }
}

/// The address `CONTROLLER_PORT` means.
pub fn address(config: &Config) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], config.port))
}
