//! The greeter's composition, `From <who>: <greeting> <name>`, written once
//! for the container `greeter` and for `greeter-lambda`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;

use crate::config::{ConfigError, Env};
use crate::metrics::Metrics;
use crate::router;
use crate::upstream::{Client, Forwarded, Upstream, UpstreamError};

/// The greeter's upstreams and the client that reaches them.
#[derive(Debug, Clone)]
pub struct Greeter {
    client: Client,
    greeting: Upstream,
    name: Upstream,
}

impl Greeter {
    /// Reads `GREETING_URL` and `NAME_URL`.
    pub fn from_env(env: &Env, client: Client) -> Result<Self, ConfigError> {
        Ok(Self {
            greeting: client.upstream("greeting", env.url("GREETING_URL")?),
            name: client.upstream("name", env.url("NAME_URL")?),
            client,
        })
    }

    /// The metrics its calls are counted into.
    pub fn metrics(&self) -> &Metrics {
        self.client.metrics()
    }

    /// Calls greeting and name concurrently and composes
    /// `From {from}: {greeting} {name}`. `headers` are sent to both as they are.
    pub async fn greet(&self, from: &str, headers: HeaderMap) -> Result<String, UpstreamError> {
        let (greeting, name) = tokio::try_join!(
            self.client.get_text(&self.greeting, headers.clone()),
            self.client.get_text(&self.name, headers),
        )?;
        Ok(format!("From {from}: {greeting} {name}"))
    }
}

#[derive(Clone)]
struct AppState {
    greeter: Greeter,
    from: Arc<str>,
}

/// The greeter's router; `from` is the hostname, or `lambda` on Lambda.
pub fn app(greeter: Greeter, from: &str) -> Router {
    let metrics = greeter.metrics().clone();
    let state = AppState {
        greeter,
        from: from.into(),
    };
    router::service(get(greet), state, metrics)
}

async fn greet(
    State(state): State<AppState>,
    Forwarded(headers): Forwarded,
) -> Result<String, UpstreamError> {
    state.greeter.greet(&state.from, headers).await
}
