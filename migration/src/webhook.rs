//! The webhooks, as Flagger's users know them: a POST of JSON
//! `{name, namespace, phase, metadata}` (`metadata` a map of strings).
//!
//! - The confirm URL ([`confirm`]) is asked before each step: only 200 to
//!   202 go on; anything else, or no answer within [`TIMEOUT`], and the
//!   step waits (the migration shows `confirming` with the answer) and the
//!   URL is asked again [`CONFIRM_RETRY`] later.
//! - The event URL ([`Events`]) is told of every transition, from a task
//!   of its own: each call bounded by [`TIMEOUT`], retried [`TRIES`] times
//!   in all, a queue of at most [`QUEUE`] (more are dropped and counted);
//!   nothing waits for it, so it never holds up a judgement. Failures are
//!   counted in `migration_webhook_failures_total{webhook="event"}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::mesh::SPLIT_SERVICE;
use crate::metrics::{MigrationMetrics, Webhook};

/// The most one webhook call may take (Flagger's default is 10 s).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused step waits before the confirm URL is asked again.
pub const CONFIRM_RETRY: Duration = Duration::from_secs(5);
/// Calls of the event URL for one event, in all.
pub const TRIES: u32 = 3;
/// Events waiting to be sent, at most.
pub const QUEUE: usize = 64;

/// The body Flagger sends its webhooks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payload {
    /// The service migrated: `greeter`.
    pub name: String,
    /// Where: `greeter-mesh` (Consul's KV prefix, in place of a Kubernetes
    /// namespace).
    pub namespace: String,
    /// The nearest Flagger phase (`Progressing`, `WaitingPromotion`...).
    pub phase: String,
    /// This migration's own words: `phase`, `step`, `share`, `what`, `by`.
    pub metadata: BTreeMap<String, String>,
}

impl Payload {
    /// A payload for `greeter` in `flagger_phase`, with `metadata`.
    pub fn new(flagger_phase: &str, metadata: &[(&str, String)]) -> Self {
        Self {
            name: SPLIT_SERVICE.to_owned(),
            namespace: "greeter-mesh".to_owned(),
            phase: flagger_phase.to_owned(),
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }
}

/// The client webhooks are called with.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .build()
}

/// POSTs `payload` to `url`: `Ok` for 200 to 202, else why not.
pub async fn post(client: &reqwest::Client, url: &str, payload: &Payload) -> Result<(), String> {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let answer = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{url} did not answer: {}", service_core::upstream::root_cause(&e)))?;
    let status = answer.status();
    if (200..=202).contains(&status.as_u16()) {
        return Ok(());
    }
    let text = answer.text().await.unwrap_or_default();
    let first = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>();
    Err(format!(
        "{url} answered {status}{}",
        if first.is_empty() {
            String::new()
        } else {
            format!(": {first}")
        }
    ))
}

/// Asks the confirm URL whether step `payload` may go on; a refusal is
/// counted.
pub async fn confirm(
    client: &reqwest::Client,
    url: &str,
    payload: &Payload,
    metrics: &MigrationMetrics,
) -> Result<(), String> {
    let answer = post(client, url, payload).await;
    if answer.is_err() {
        metrics.webhook_failed(Webhook::Confirm);
    }
    answer
}

/// The event URL's sender: events go into a bounded queue a task of its
/// own empties.
#[derive(Debug, Clone)]
pub struct Events {
    queue: mpsc::Sender<Payload>,
    metrics: MigrationMetrics,
}

impl Events {
    /// Starts the task that tells `url` of each event; it ends when the
    /// last sender is dropped.
    pub fn start(client: reqwest::Client, url: String, metrics: MigrationMetrics) -> Self {
        let (queue, mut events) = mpsc::channel::<Payload>(QUEUE);
        let counted = metrics.clone();
        tokio::spawn(async move {
            while let Some(payload) = events.recv().await {
                let mut delay = Duration::from_millis(500);
                for attempt in 1..=TRIES {
                    if post(&client, &url, &payload).await.is_ok() {
                        break;
                    }
                    if attempt == TRIES {
                        counted.webhook_failed(Webhook::Event);
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        });
        Self { queue, metrics }
    }

    /// Queues an event; a full queue drops it (counted), never waits.
    pub fn send(&self, payload: Payload) {
        if self.queue.try_send(payload).is_err() {
            self.metrics.webhook_failed(Webhook::Event);
        }
    }
}
