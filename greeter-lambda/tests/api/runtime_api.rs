//! A fake Lambda Runtime API on `127.0.0.1:0`: it hands the function one
//! queued payload per `GET .../invocation/next` and records what comes back.
//! It answers at the root (`AWS_LAMBDA_RUNTIME_API=host:port`, as Lambda
//! sets it) and under [`BASE_PATH`] (a URL, as `cargo lambda watch` sets it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

/// What the function posted back (the emulator's `runtime_api::Posted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// `POST .../invocation/{id}/response`.
    Response { id: String, body: String },
    /// `POST .../invocation/{id}/error`.
    Error { id: String, body: String },
    /// `POST .../init/error`.
    InitError { body: String },
}

/// The base path of the URL form, as `cargo lambda watch` uses it.
pub const BASE_PATH: &str = "/.rt";

#[derive(Clone)]
struct Api {
    payloads: Arc<Mutex<mpsc::UnboundedReceiver<Vec<u8>>>>,
    posted: mpsc::UnboundedSender<Posted>,
    next_id: Arc<AtomicU64>,
}

pub struct FakeRuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub addr: String,
    payloads: mpsc::UnboundedSender<Vec<u8>>,
    posted: mpsc::UnboundedReceiver<Posted>,
}

impl FakeRuntimeApi {
    pub async fn start() -> Self {
        let (payloads_tx, payloads_rx) = mpsc::unbounded_channel();
        let (posted_tx, posted_rx) = mpsc::unbounded_channel();
        let api = Api {
            payloads: Arc::new(Mutex::new(payloads_rx)),
            posted: posted_tx,
            next_id: Arc::new(AtomicU64::new(1)),
        };
        let routes = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api);
        let app = Router::new().nest(BASE_PATH, routes.clone()).merge(routes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr").to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            payloads: payloads_tx,
            posted: posted_rx,
        }
    }

    /// Queues `payload` for the next poll and waits for what comes back.
    pub async fn invoke(&mut self, payload: &[u8]) -> Posted {
        self.payloads.send(payload.to_vec()).expect("the API is running");
        self.posted().await
    }

    /// Waits, at most 10 s, for the next thing the function posts.
    pub async fn posted(&mut self) -> Posted {
        tokio::time::timeout(Duration::from_secs(10), self.posted.recv())
            .await
            .expect("the function answered within 10 s")
            .expect("the API is running")
    }
}

async fn next(State(api): State<Api>) -> (HeaderMap, Vec<u8>) {
    // Like Lambda, hold the poll until there is an invocation.
    let payload = api.payloads.lock().await.recv().await;
    let Some(payload) = payload else {
        return std::future::pending::<(HeaderMap, Vec<u8>)>().await;
    };
    let id = format!("request-{}", api.next_id.fetch_add(1, Ordering::Relaxed));
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().expect("header"));
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string().parse().expect("header"),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:greeter-lambda"
            .parse()
            .expect("header"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-6566e4a1-3b1f2c7d5e9a0b4c6d8e0f12;Parent=53995c3f42cd8ad8;Sampled=1"
            .parse()
            .expect("header"),
    );
    (headers, payload)
}

async fn response(State(api): State<Api>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    let _ = api.posted.send(Posted::Response { id, body });
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Api>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    let _ = api.posted.send(Posted::Error { id, body });
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Api>, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    let _ = api.posted.send(Posted::InitError { body });
    StatusCode::ACCEPTED
}
