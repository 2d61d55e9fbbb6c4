//! `server::run_all`, as `launch` runs the routes and the metrics listener
//! of one process: one signal stops both, each lets what is in flight
//! finish, and the drain bounds how long that may take.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use service_core::server;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A router whose one request says when it arrived, then answers `body`
/// when released; with the listener it is served on.
async fn gated(body: &'static str) -> (TcpListener, Router, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (arrived_tx, arrived_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((arrived_tx, release_rx))));
    let app = Router::new().fallback(get(move || async move {
        let (arrived, release) = gate.lock().unwrap().take().expect("one request only");
        arrived.send(()).unwrap();
        // Err: the test dropped the gate, and the answer is never awaited.
        let _ = release.await;
        body
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    (listener, app, arrived_rx, release_tx)
}

/// Waits until nothing accepts on `addr` any more, for at most 10 s.
async fn until_refused(addr: SocketAddr) {
    let closed = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .unwrap_or_else(|_| panic!("{addr} still accepts 10 s after the signal"));
}

#[tokio::test]
async fn one_signal_stops_both_listeners_and_what_is_in_flight_on_each_finishes() {
    let (routes, routes_app, routes_arrived, release_routes) = gated("payload").await;
    let (metrics, metrics_app, metrics_arrived, release_metrics) = gated("metrics").await;
    let (routes_addr, metrics_addr) = (routes.local_addr().unwrap(), metrics.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server::run_all(
        [(routes, routes_app), (metrics, metrics_app)],
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(30),
    ));
    let on_routes = tokio::spawn(reqwest::get(format!("http://{routes_addr}/")));
    let on_metrics = tokio::spawn(reqwest::get(format!("http://{metrics_addr}/metrics")));
    routes_arrived.await.unwrap();
    metrics_arrived.await.unwrap();

    stop.send(()).unwrap();
    until_refused(routes_addr).await;
    until_refused(metrics_addr).await;
    assert!(!serving.is_finished(), "run_all returned with requests in flight");

    release_routes.send(()).unwrap();
    release_metrics.send(()).unwrap();
    for (request, body) in [(on_routes, "payload"), (on_metrics, "metrics")] {
        let response = request.await.unwrap().expect("the in-flight request is answered");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), body);
    }
    serving.await.unwrap().expect("run_all ends well");
}

#[tokio::test]
async fn run_all_returns_once_the_drain_runs_out_whatever_is_in_flight() {
    let (routes, routes_app, routes_arrived, release) = gated("payload").await;
    let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = routes.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server::run_all(
        [(routes, routes_app), (metrics, Router::new())],
        async {
            let _ = stopped.await;
        },
        Duration::from_millis(200),
    ));
    let held = tokio::spawn(reqwest::get(format!("http://{addr}/")));
    routes_arrived.await.unwrap();

    stop.send(()).unwrap();
    serving.await.unwrap().expect("a drain that runs out is no error");
    // Still held: in a binary, it ends with the runtime as `main` returns.
    assert!(!held.is_finished(), "the held request was answered");
    held.abort();
    drop(release);
}
