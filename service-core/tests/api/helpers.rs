//! Spawning services on port 0 and calling them.

use std::time::Duration;

use axum::Router;
use service_core::config::Env;
use service_core::greeter::{self, Greeter};
use service_core::metrics::Metrics;
use service_core::upstream::Client;
use service_core::{ingress, router, server, words};
use tokio::net::TcpListener;

/// The hostnames each service of a test chain prints.
pub const NAME_HOST: &str = "name-host";
pub const GREETING_HOST: &str = "greeting-host";
pub const GREETER_HOST: &str = "greeter-host";
pub const INGRESS_HOST: &str = "ingress-host";

/// A service running on a port of its own until the test ends.
pub struct TestApp {
    pub url: String,
    /// Where its metrics listener answers, when it has one.
    pub metrics_url: Option<String>,
}

impl TestApp {
    /// `GET`s `path` and returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.url))
            .await
            .expect("request failed");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body is text"))
    }
}

/// Serves `app` on `127.0.0.1:0` through the same `run` the binaries use.
pub async fn spawn_app(app: Router) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(server::run(
        listener,
        app,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    TestApp {
        url: format!("http://{addr}"),
        metrics_url: None,
    }
}

/// Serves `app` and, on a second listener, `metrics` (as `launch` serves
/// them on `PORT` and `METRICS_PORT`), both on `127.0.0.1:0`, through the
/// same `run_all` the binaries use.
pub async fn spawn_service(app: Router, metrics: Metrics) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_addr = metrics_listener.local_addr().expect("local addr");
    tokio::spawn(server::run_all(
        [(listener, app), (metrics_listener, router::scrape(metrics))],
        std::future::pending(),
        Duration::from_secs(1),
    ));
    TestApp {
        url: format!("http://{addr}"),
        metrics_url: Some(format!("http://{metrics_addr}")),
    }
}

/// A URL where nothing listens: connections to it are refused.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

/// A client recording into metrics of `service`'s own, as `launch` makes it.
pub fn client(service: &'static str, timeout: Duration) -> Client {
    Client::new(timeout)
        .expect("client")
        .with_metrics(Metrics::new(service))
}

pub async fn spawn_name() -> TestApp {
    let metrics = Metrics::new("name");
    spawn_service(words::app(&words::NAMES, NAME_HOST, metrics.clone()), metrics).await
}

pub async fn spawn_greeting() -> TestApp {
    let metrics = Metrics::new("greeting");
    let app = words::app(&words::GREETINGS, GREETING_HOST, metrics.clone());
    spawn_service(app, metrics).await
}

pub async fn spawn_greeter(greeting_url: &str, name_url: &str, timeout: Duration) -> TestApp {
    let env = Env::from_pairs([("GREETING_URL", greeting_url), ("NAME_URL", name_url)]);
    let client = client("greeter", timeout);
    let metrics = client.metrics().clone();
    let greeter = Greeter::from_env(&env, client).expect("greeter config");
    spawn_service(greeter::app(greeter, GREETER_HOST), metrics).await
}

pub async fn spawn_ingress(greeter_url: &str, timeout: Duration) -> TestApp {
    let env = Env::from_pairs([("GREETER_URL", greeter_url)]);
    let client = client("ingress", timeout);
    let metrics = client.metrics().clone();
    let app = ingress::app_from_env(&env, client, INGRESS_HOST).expect("ingress config");
    spawn_service(app, metrics).await
}

/// The four services wired together, as in the demo.
pub struct Chain {
    pub ingress: TestApp,
    pub greeter: TestApp,
}

pub async fn spawn_chain() -> Chain {
    let name = spawn_name().await;
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &name.url, Duration::from_secs(2)).await;
    let ingress = spawn_ingress(&greeter.url, Duration::from_secs(2)).await;
    Chain { ingress, greeter }
}

/// A regex matching `<greeting> (greeting-host) <name> (name-host)`
/// over the real word lists.
pub fn greeting_and_name_pattern() -> String {
    format!(
        r"({}) \({GREETING_HOST}\) ({}) \({NAME_HOST}\)",
        words::GREETINGS.join("|"),
        words::NAMES.join("|")
    )
}
