//! Sending a bounded number of requests to ingress, a bounded number at a
//! time, and tallying who answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::HeaderMap;
use service_core::upstream::{Client, Upstream};
use tokio::task::JoinSet;

use crate::report::{Outcome, Report, Sample, classify};

/// The most requests one run sends.
pub const MAX_REQUESTS: u64 = 1_000_000;
/// The most requests one run keeps in flight.
pub const MAX_CONCURRENCY: usize = 256;

/// A run of requests.
#[derive(Debug, Clone)]
pub struct Load {
    /// ingress's URL.
    pub url: Url,
    /// How many requests, 1 to [`MAX_REQUESTS`].
    pub requests: u64,
    /// How many at a time, 1 to [`MAX_CONCURRENCY`].
    pub concurrency: usize,
    /// The most one request may take.
    pub timeout: Duration,
}

/// Sends the load's requests and tallies the answers. Failed requests are
/// part of the report; only a client that cannot be built is an error.
pub async fn run(load: &Load) -> Result<Report, reqwest::Error> {
    let client = Client::new(load.timeout)?;
    let ingress = Upstream {
        name: "ingress",
        url: load.url.clone(),
    };
    let requests = load.requests.min(MAX_REQUESTS);
    let workers = load
        .concurrency
        .clamp(1, MAX_CONCURRENCY)
        .min(requests.max(1) as usize);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (client, ingress, next) = (client.clone(), ingress.clone(), next.clone());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            // Each worker takes the next request number until none is left.
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                samples.push(one(&client, &ingress).await);
            }
            samples
        });
    }
    let mut samples = Vec::with_capacity(requests as usize);
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(worker) => samples.extend(worker),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    Ok(Report::new(
        load.url.to_string(),
        workers,
        started.elapsed(),
        samples,
    ))
}

async fn one(client: &Client, ingress: &Upstream) -> Sample {
    let started = Instant::now();
    let outcome = match client.get_text(ingress, HeaderMap::new()).await {
        Ok(body) => match classify(&body) {
            Some(answerer) => Outcome::Answered(answerer),
            None => Outcome::Failed(format!(
                "not a greeting: {:?}",
                body.chars().take(80).collect::<String>()
            )),
        },
        Err(e) => Outcome::Failed(e.to_string()),
    };
    Sample {
        outcome,
        latency: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use std::sync::atomic::AtomicUsize;

    /// Serves `app` on a free loopback port and returns its URL.
    async fn serve(app: Router) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/").parse().unwrap()
    }

    fn load(url: Url, requests: u64, concurrency: usize) -> Load {
        Load {
            url,
            requests,
            concurrency,
            timeout: Duration::from_secs(2),
        }
    }

    /// A server whose n-th answer (from 0) is `answer(n)`, and its count of
    /// requests.
    async fn serve_nth(answer: fn(usize) -> (StatusCode, &'static str)) -> (Url, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let app = Router::new().route(
            "/",
            get(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move { answer(n) }
            }),
        );
        (serve(app).await, count)
    }

    #[tokio::test]
    async fn every_request_is_sent_once_and_classified() {
        let (url, count) = serve_nth(|n| match n % 4 {
            0 => (StatusCode::OK, "From ingress: From lambda: Hi (a) Mary (b)"),
            _ => (StatusCode::OK, "From ingress: From c0ffee: Hi (a) Mary (b)"),
        })
        .await;
        let report = run(&load(url, 100, 7)).await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 100);
        assert_eq!((report.greeter, report.lambda, report.failed()), (75, 25, 0));
        assert_eq!(report.concurrency, 7);
        assert_eq!(report.latencies.len(), 100);
    }

    #[tokio::test]
    async fn errors_and_strange_answers_are_failures_with_their_cause() {
        let (url, _) = serve_nth(|n| match n % 3 {
            0 => (
                StatusCode::BAD_GATEWAY,
                "greeter upstream unreachable: connection refused",
            ),
            1 => (StatusCode::OK, "healthy"),
            _ => (StatusCode::OK, "From i: From g: Hi (a) Mary (b)"),
        })
        .await;
        let report = run(&load(url, 9, 3)).await.unwrap();
        assert_eq!((report.greeter, report.lambda, report.failed()), (3, 0, 6));
        assert_eq!(
            report.failures.get(
                "ingress upstream answered 502 Bad Gateway: greeter upstream unreachable: connection refused"
            ),
            Some(&3)
        );
        assert_eq!(report.failures.get("not a greeting: \"healthy\""), Some(&3));
    }

    #[tokio::test]
    async fn an_unreachable_ingress_fails_every_request() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        drop(listener);
        let report = run(&load(url, 5, 10)).await.unwrap();
        assert_eq!(report.failed(), 5);
        assert_eq!(report.concurrency, 5, "no more workers than requests");
        assert_eq!(
            report.failures.keys().collect::<Vec<_>>(),
            ["ingress upstream unreachable: connection refused"]
        );
    }
}
