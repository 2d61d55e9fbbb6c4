//! The Runtime API one instance polls, on a loopback port of its own as on
//! Lambda (`AWS_LAMBDA_RUNTIME_API`): the next invocation with its headers,
//! then its response or error; or, before any, an init error.
//!
//! The hand-off protocol with [`function`](crate::function): `Work` in,
//! `Posted` back for each invocation, and a `Polled` each time the
//! instance asks for the next invocation: its first ends its init, each
//! later one the invocation before it (as on Lambda, where an invocation
//! lasts until the runtime is ready for the next).
//!
//! A response or an error larger than Lambda's limit
//! ([`MAX_RESPONSE_BYTES`]) is refused as Lambda's Runtime API refuses it,
//! 413 with `{"errorMessage":"Exceeded maximum allowed payload size
//! (6291556 bytes).","errorType":"RequestEntityTooLarge"}` (as a runtime
//! logged it: anomalyco/console#63, 2026), and the invocation ends in
//! Lambda's function error `Function.ResponseSizeTooLarge`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// What an instance hands back through its Runtime API.
#[derive(Debug)]
pub(crate) enum Posted {
    /// `POST .../invocation/{id}/response`.
    Response(Bytes),
    /// `POST .../invocation/{id}/error`.
    Error(Bytes),
    /// `POST .../init/error`: the instance cannot serve at all.
    InitError(Bytes),
}

/// One invocation on its way to an instance.
#[derive(Debug)]
pub(crate) struct Work {
    pub request_id: String,
    pub payload: Bytes,
    /// The function's timeout: the deadline is this from the hand-out.
    pub timeout: std::time::Duration,
    pub trace_id: String,
    pub reply: oneshot::Sender<Posted>,
}

/// The instance asked for the next invocation (`GET .../invocation/next`).
#[derive(Debug)]
pub(crate) struct Polled;

use crate::function::error_object;
use crate::payload::{self, MAX_RESPONSE_BYTES};

/// An invocation handed out: its request id and where its answer goes.
type Handed = (String, oneshot::Sender<Posted>);

#[derive(Clone)]
struct Api {
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Work>>>,
    polled: mpsc::UnboundedSender<Polled>,
    /// The invocation handed out and not answered yet.
    current: Arc<Mutex<Option<Handed>>>,
    arn: Arc<str>,
}

/// Serves one instance's Runtime API on `listener` until aborted.
pub(crate) async fn serve(
    listener: TcpListener,
    queue: mpsc::UnboundedReceiver<Work>,
    polled: mpsc::UnboundedSender<Polled>,
    arn: String,
) {
    let api = Api {
        queue: Arc::new(tokio::sync::Mutex::new(queue)),
        polled,
        current: Arc::new(Mutex::new(None)),
        arn: arn.into(),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_RESPONSE_BYTES))
        .with_state(api);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the Runtime API stopped");
    }
}

/// Holds the poll until there is an invocation, as Lambda does.
async fn next(State(api): State<Api>) -> Response {
    // Nobody listening means the instance is being stopped.
    let _ = api.polled.send(Polled);
    let work = api.queue.lock().await.recv().await;
    let Some(work) = work else {
        // The instance is being stopped: nothing will come.
        return std::future::pending().await;
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("lambda-runtime-aws-request-id", &work.request_id);
    let deadline = std::time::SystemTime::now() + work.timeout;
    set("lambda-runtime-deadline-ms", &epoch_ms(deadline).to_string());
    set("lambda-runtime-invoked-function-arn", &api.arn);
    set("lambda-runtime-trace-id", &work.trace_id);
    if let Ok(mut current) = api.current.lock() {
        *current = Some((work.request_id, work.reply));
    }
    (headers, work.payload).into_response()
}

async fn response(State(api): State<Api>, Path(id): Path<String>, body: Body) -> Response {
    posted(&api, &id, body, Posted::Response).await
}

async fn error(State(api): State<Api>, Path(id): Path<String>, body: Body) -> Response {
    posted(&api, &id, body, Posted::Error).await
}

/// Reads what the function posts, within Lambda's limit; past it, the
/// invocation's answer is Lambda's function error instead.
async fn posted(api: &Api, id: &str, body: Body, posted: fn(Bytes) -> Posted) -> Response {
    let read = match payload::read(body, MAX_RESPONSE_BYTES).await {
        Ok(read) => read,
        Err(e) => {
            // The function hung up mid-post: it will exit or post again.
            tracing::warn!(error = %e, "cannot read what the function posted");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    if !read.exceeds(MAX_RESPONSE_BYTES) {
        return answer(api, id, posted(read.bytes));
    }
    let error = error_object(
        "Function.ResponseSizeTooLarge",
        &format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
    );
    let answered = answer(api, id, Posted::Error(Bytes::from(error)));
    if answered.status() != StatusCode::ACCEPTED {
        return answered;
    }
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [("content-type", "application/json")],
        error_object(
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        ),
    )
        .into_response()
}

/// The init error goes to the invocation that started the instance: the
/// one handed out, or the one still waiting in the queue.
async fn init_error(State(api): State<Api>, body: Bytes) -> Response {
    let current = api.current.lock().ok().and_then(|mut current| current.take());
    let reply = match current {
        Some((_, reply)) => Some(reply),
        None => api
            .queue
            .try_lock()
            .ok()
            .and_then(|mut queue| queue.try_recv().ok())
            .map(|work| work.reply),
    };
    if let Some(reply) = reply {
        let _ = reply.send(Posted::InitError(body));
    }
    accepted()
}

fn answer(api: &Api, id: &str, posted: Posted) -> Response {
    let current = api.current.lock().ok().and_then(|mut current| {
        if current.as_ref().is_some_and(|(current_id, _)| current_id == id) {
            current.take()
        } else {
            None
        }
    });
    match current {
        Some((_, reply)) => {
            let _ = reply.send(posted);
            accepted()
        }
        None => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            error_object(
                "InvalidRequestID",
                &format!("no invocation {id} is waiting for an answer"),
            ),
        )
            .into_response(),
    }
}

/// Milliseconds since the epoch, as the deadline header carries them.
pub(crate) fn epoch_ms(time: std::time::SystemTime) -> u128 {
    time.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(std::time::Duration::ZERO)
        .as_millis()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}
