//! Benchmark reference, not shipped: the Greeter chain as four bare axum +
//! reqwest services, so `scripts/bench` and `scripts/bench-callgrind` can set
//! the product beside what the same crates cost with nothing added.
//!
//! No request ids, no log lines, no size or time limits, no `/health` route
//! of its own, no 405 handling beyond axum's: axum's router with one
//! handler, reqwest's default client. The answers are the services' bytes.
//! Only the runtime follows `WORKER_THREADS` as the services do, so a
//! setting compares like with like.
//!
//! Run: `PORT=3101 cargo run --release -p bare-chain -- name` (also
//! `greeting`; `greeter` with `GREETING_URL` and `NAME_URL`; `ingress`
//! with `GREETER_URL`).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use rand::seq::IndexedRandom;
// The word lists only: data, none of service-core's code paths.
use service_core::words::{GREETINGS, NAMES};

#[derive(Clone)]
struct Bare {
    client: reqwest::Client,
    host: String,
    first: String,
    second: String,
}

type Answer = Result<String, (StatusCode, String)>;

async fn fetch(client: &reqwest::Client, url: &str) -> Answer {
    let bad = |e: reqwest::Error| (StatusCode::BAD_GATEWAY, e.to_string());
    client
        .get(url)
        .send()
        .await
        .map_err(bad)?
        .text()
        .await
        .map_err(bad)
}

fn pick(words: &[&'static str]) -> &'static str {
    words.choose(&mut rand::rng()).copied().unwrap_or_default()
}

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_default()
}

fn app(role: &str) -> Option<Router> {
    let bare = Bare {
        client: reqwest::Client::new(),
        host: env("HOSTNAME"),
        first: String::new(),
        second: String::new(),
    };
    let router = match role {
        "name" => Router::new().fallback(get(|State(b): State<Arc<Bare>>| async move {
            format!("{} ({})", pick(&NAMES), b.host)
        })),
        "greeting" => Router::new().fallback(get(|State(b): State<Arc<Bare>>| async move {
            format!("{} ({})", pick(&GREETINGS), b.host)
        })),
        "greeter" => {
            let bare = Bare {
                first: env("GREETING_URL"),
                second: env("NAME_URL"),
                ..bare
            };
            let router = Router::new().fallback(get(|State(b): State<Arc<Bare>>| async move {
                let (greeting, name) =
                    tokio::try_join!(fetch(&b.client, &b.first), fetch(&b.client, &b.second))?;
                Answer::Ok(format!("From {}: {greeting} {name}", b.host))
            }));
            return Some(router.with_state(Arc::new(bare)));
        }
        "ingress" => {
            let bare = Bare {
                first: env("GREETER_URL"),
                ..bare
            };
            let router = Router::new().fallback(get(|State(b): State<Arc<Bare>>| async move {
                let greeter = fetch(&b.client, &b.first).await?;
                Answer::Ok(format!("From {}: {greeter}", b.host))
            }));
            return Some(router.with_state(Arc::new(bare)));
        }
        _ => return None,
    };
    Some(router.with_state(Arc::new(bare)))
}

#[allow(clippy::print_stderr)] // A fixture's only voice.
fn main() -> ExitCode {
    let role = std::env::args().nth(1).unwrap_or_default();
    let Some(app) = app(&role) else {
        eprintln!("usage: bare-chain name|greeting|greeter|ingress");
        return ExitCode::from(64);
    };
    let port: u16 = env("PORT").parse().unwrap_or(3000);
    let mut builder = match env("WORKER_THREADS").parse().unwrap_or(1) {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    let served = builder.enable_all().build().and_then(|runtime| {
        runtime.block_on(async {
            let listener =
                tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            // SIGTERM would kill the process before callgrind writes its
            // counts, so scripts/bench-callgrind stops it with SIGINT.
            axum::serve(listener, app).with_graceful_shutdown(stop).await
        })
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare-chain {role}: {e}");
            ExitCode::FAILURE
        }
    }
}
