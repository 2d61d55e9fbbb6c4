//! Upstreams on port 0, the function around them, and invoking it.

use std::collections::BTreeSet;
use std::time::Duration;

use greeter_lambda::function::{FROM, Function};
use greeter_lambda::invocation::Invocation;
use lambda_http::lambda_runtime::{Context, Diagnostic, LambdaEvent};
use service_core::config::Env;
use service_core::greeter::Greeter;
use service_core::metrics::Metrics;
use service_core::upstream::{Client, FORWARDED_HEADERS};
use service_core::{server, words};
use tokio::net::TcpListener;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const NAME_HOST: &str = "name-host";
pub const GREETING_HOST: &str = "greeting-host";
pub const TIMEOUT: Duration = Duration::from_millis(300);

/// Serves `app` on `127.0.0.1:0` through the same `run` the binaries use
/// and returns its URL.
pub async fn spawn(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(server::run(
        listener,
        app,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    url
}

pub async fn spawn_name() -> String {
    spawn(words::app(&words::NAMES, NAME_HOST, Metrics::off())).await
}

pub async fn spawn_greeting() -> String {
    spawn(words::app(&words::GREETINGS, GREETING_HOST, Metrics::off())).await
}

/// A URL where nothing listens: connections to it are refused.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    drop(listener);
    url
}

/// A mock upstream answering `body` to every GET after `delay`.
pub async fn mock_upstream(body: &str, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body).set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// The function with its upstreams at these URLs.
pub fn function(greeting_url: &str, name_url: &str) -> Function {
    let env = Env::from_pairs([("GREETING_URL", greeting_url), ("NAME_URL", name_url)]);
    let client = Client::new(TIMEOUT).expect("client");
    Function::new(Greeter::from_env(&env, client).expect("greeter config"))
}

/// The function with the real greeting and name services behind it.
pub async fn function_with_real_upstreams() -> Function {
    function(&spawn_greeting().await, &spawn_name().await)
}

/// Invokes the function with a raw payload, as the runtime would, and
/// returns its answer as the JSON Lambda would hand back.
pub async fn invoke(function: &Function, payload: &[u8]) -> Result<serde_json::Value, Diagnostic> {
    invoke_with(function, payload, Context::default()).await
}

pub async fn invoke_with(
    function: &Function,
    payload: &[u8],
    context: Context,
) -> Result<serde_json::Value, Diagnostic> {
    let event = LambdaEvent::new(Invocation::from_slice(payload), context);
    let answer = function.handle(event).await?;
    Ok(serde_json::to_value(answer).expect("answers serialize"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture with some of its top-level keys replaced.
pub fn fixture_with(name: &str, changes: &serde_json::Value) -> Vec<u8> {
    let mut event: serde_json::Value = serde_json::from_slice(&fixture(name)).expect("fixture is JSON");
    for (key, value) in changes.as_object().expect("changes are an object") {
        event[key] = value.clone();
    }
    serde_json::to_vec(&event).expect("serializes")
}

/// `^From lambda: <greeting> (greeting-host) <name> (name-host)$` over the
/// real word lists.
pub fn greeting_pattern() -> regex::Regex {
    regex::Regex::new(&format!(
        r"^From {FROM}: ({}) \({GREETING_HOST}\) ({}) \({NAME_HOST}\)$",
        words::GREETINGS.join("|"),
        words::NAMES.join("|")
    ))
    .expect("pattern")
}

pub fn assert_greeting(text: &str) {
    assert!(greeting_pattern().is_match(text), "not a greeting: {text:?}");
}

/// The names of the headers every request to `upstream` carried, minus
/// those the HTTP client itself sets.
pub async fn headers_received(upstream: &MockServer) -> BTreeSet<String> {
    let requests = upstream.received_requests().await.expect("recording is on");
    assert!(!requests.is_empty(), "the upstream was not called");
    requests
        .iter()
        .flat_map(|request| request.headers.keys().map(|name| name.as_str().to_owned()))
        .filter(|name| !matches!(name.as_str(), "host" | "accept"))
        .collect()
}

/// Asserts that only tracing headers reached the upstream.
pub async fn assert_only_tracing_headers(upstream: &MockServer) -> BTreeSet<String> {
    let received = headers_received(upstream).await;
    let tracing: BTreeSet<String> = FORWARDED_HEADERS.iter().map(|h| h.as_str().to_owned()).collect();
    assert!(received.is_subset(&tracing), "forwarded {received:?}");
    received
}
