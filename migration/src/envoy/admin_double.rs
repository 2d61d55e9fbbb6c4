//! A stand-in for Envoy's admin endpoint, shared by the unit tests that
//! drive the local split (`envoy::set`) and `split migrate`'s Envoy target,
//! so both test against one picture of what Envoy answers.
//!
//! `/runtime_modify` (POST only) stores the query's pairs and counts the
//! POSTs; `/runtime` shows the pairs as Envoy does (`layers`, then each
//! entry's `final_value`); `/ready` answers 503 until it has been asked
//! `ready_after` times, then 200.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use reqwest::Url;

use crate::envoy::runtime_weights;
use crate::share::Share;

/// Envoy's runtime as its admin shows it, and what the admin was asked.
#[derive(Clone, Default)]
pub(crate) struct Admin {
    runtime: Arc<Mutex<BTreeMap<String, String>>>,
    posts: Arc<Mutex<u32>>,
    ready_calls: Arc<Mutex<usize>>,
    ready_after: usize,
}

impl Admin {
    /// An admin whose `/ready` answers 503 to its first `calls` requests.
    pub(crate) fn ready_after(calls: usize) -> Self {
        Self {
            ready_after: calls,
            ..Self::default()
        }
    }

    /// Sets the weights as someone else's `split set` would.
    pub(crate) fn set(&self, lambda: Share) {
        let pairs = runtime_weights(lambda).map(|(k, w)| (k, w.to_string()));
        self.runtime.lock().unwrap().extend(pairs);
    }

    /// How many POSTs `/runtime_modify` has taken.
    pub(crate) fn posts(&self) -> u32 {
        *self.posts.lock().unwrap()
    }

    /// Serves this admin on a loopback port of its own; returns its URL.
    pub(crate) async fn serve(&self) -> Url {
        let app = axum::Router::new()
            .route(
                "/runtime_modify",
                post(
                    |State(a): State<Admin>, Query(pairs): Query<BTreeMap<String, String>>| async move {
                        *a.posts.lock().unwrap() += 1;
                        a.runtime.lock().unwrap().extend(pairs);
                        "OK\n"
                    },
                ),
            )
            .route(
                "/runtime",
                get(|State(a): State<Admin>| async move {
                    let entries: serde_json::Map<String, serde_json::Value> = a
                        .runtime
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::json!({ "final_value": v })))
                        .collect();
                    serde_json::json!({ "layers": ["admin"], "entries": entries }).to_string()
                }),
            )
            .route(
                "/ready",
                get(|State(a): State<Admin>| async move {
                    let mut calls = a.ready_calls.lock().unwrap();
                    *calls += 1;
                    if *calls > a.ready_after {
                        (StatusCode::OK, "LIVE")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "INITIALIZING")
                    }
                }),
            )
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}").parse().unwrap()
    }
}
