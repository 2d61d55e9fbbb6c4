//! Sending a bounded number of requests to ingress, a bounded number at a
//! time, and tallying who answered: all at once ([`run`], `split observe`)
//! or watched as they land ([`Probe`], `split migrate`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::HeaderMap;
use service_core::upstream::{Client, Upstream, UpstreamError};
use tokio::task::JoinSet;

use crate::tally::{Answerer, Blame, FailedRequest, Reply, Sample, Tally, classify};

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
pub async fn run(load: &Load) -> Result<Tally, reqwest::Error> {
    let client = Client::new(load.timeout)?;
    let probe = Probe::start(&client, &load.url, load.concurrency, load.requests, None);
    Ok(probe.finish(false).await)
}

/// Requests sent to ingress by a few workers until a limit or until
/// stopped, each answer visible as it lands: what `split migrate` watches
/// during a step, and what [`run`] waits out.
#[derive(Debug)]
pub struct Probe {
    url: Url,
    workers: usize,
    started: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    /// Of the samples, those the Lambda answered: counted as they land, so
    /// that watching a long step costs no pass over every sample.
    lambda: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
}

impl Probe {
    /// Starts `concurrency` workers (1 to [`MAX_CONCURRENCY`], no more than
    /// `limit`) that send GETs to `url` one after another until `limit`
    /// requests (at most [`MAX_REQUESTS`]) have been sent or the probe is
    /// stopped. With a `rate`, the workers together send at most that many
    /// requests a second (a long hold on a real mesh is not a load test).
    pub fn start(client: &Client, url: &Url, concurrency: usize, limit: u64, rate: Option<u32>) -> Self {
        let ingress = Upstream {
            name: "ingress",
            url: url.clone(),
        };
        let limit = limit.min(MAX_REQUESTS);
        let workers = concurrency.clamp(1, MAX_CONCURRENCY).min(limit.max(1) as usize);
        let next = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let lambda = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // Each worker's share of the rate: one request per `pace`.
        let pace = rate
            .filter(|r| *r > 0)
            .map(|r| Duration::from_secs_f64(workers as f64 / f64::from(r)));
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (client, ingress, next) = (client.clone(), ingress.clone(), next.clone());
            let (samples, lambda, stop) = (samples.clone(), lambda.clone(), stop.clone());
            tasks.spawn(async move {
                let mut ticks = pace.map(|pace| {
                    let mut ticks = tokio::time::interval(pace);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    ticks
                });
                // Each worker takes the next request number until none is
                // left or the probe is stopped.
                while !stop.load(Ordering::Relaxed) && next.fetch_add(1, Ordering::Relaxed) < limit {
                    if let Some(ticks) = ticks.as_mut() {
                        ticks.tick().await;
                    }
                    let sample = one(&client, &ingress).await;
                    let by_lambda = matches!(sample.reply, Reply::Answered(Answerer::Lambda));
                    lock(&samples).push(sample);
                    if by_lambda {
                        lambda.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        Self {
            url: url.clone(),
            workers,
            started: Instant::now(),
            samples,
            lambda,
            stop,
            tasks,
        }
    }

    /// The answers so far, in the order they landed.
    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }

    /// How many answers have landed, and how many of them the Lambda's.
    pub fn counts(&self) -> (u64, u64) {
        // The Lambda's count first, and it grows after each push: it never
        // runs ahead of the samples read after it.
        let lambda = self.lambda.load(Ordering::Relaxed);
        (lock(&self.samples).len() as u64, lambda)
    }

    /// Ends the probe and tallies every answer. With `stop`, no new request
    /// is sent and those in flight finish; without, the workers first send
    /// the rest of the limit.
    pub async fn finish(mut self, stop: bool) -> Tally {
        if stop {
            self.stop.store(true, Ordering::Relaxed);
        }
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Aborted workers, or done.
                _ => {}
            }
        }
        let elapsed = self.started.elapsed();
        let samples = std::mem::take(&mut *lock(&self.samples));
        Tally::new(self.url.to_string(), self.workers, elapsed, samples)
    }

    /// Ends the probe now, dropping the requests in flight: for Ctrl-C,
    /// when the rollback must not wait for them.
    pub async fn abort(mut self) -> Tally {
        self.tasks.abort_all();
        self.finish(true).await
    }
}

/// The samples, even if a worker panicked while holding them (the panic
/// is raised again by [`Probe::finish`]).
fn lock(samples: &Mutex<Vec<Sample>>) -> std::sync::MutexGuard<'_, Vec<Sample>> {
    samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn one(client: &Client, ingress: &Upstream) -> Sample {
    let started = Instant::now();
    let reply = match client.get_text(ingress, HeaderMap::new()).await {
        Ok(body) => match classify(&body) {
            Some(answerer) => Reply::Answered(answerer),
            None => Reply::Failed(FailedRequest {
                blame: Blame::Unknown,
                why: format!("not a greeting: {:?}", body.chars().take(80).collect::<String>()),
            }),
        },
        Err(e) => {
            // What ingress's failed answer declared, if it answered at all.
            let declared = match &e {
                UpstreamError::Status { declared, .. } => *declared,
                _ => None,
            };
            Reply::Failed(FailedRequest {
                blame: Blame::of(declared),
                why: e.to_string(),
            })
        }
    };
    Sample {
        reply,
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
    async fn serve_nth<R>(answer: fn(usize) -> R) -> (Url, Arc<AtomicUsize>)
    where
        R: axum::response::IntoResponse + Send + 'static,
    {
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

    /// ingress's failed answers, made by service-core's own error type as
    /// ingress makes them: its header carries the origin split reads.
    fn ingress_failure(n: usize) -> axum::response::Response {
        use axum::response::IntoResponse;
        use service_core::origin::Origin;
        let greeter_said = |declared| UpstreamError::Status {
            upstream: "greeter",
            status: StatusCode::BAD_GATEWAY,
            detail: "name upstream unreachable: connection refused".into(),
            declared,
        };
        match n % 4 {
            // The container greeter answered a failure of its own.
            0 => greeter_said(Some(Origin::Transport)).into_response(),
            // A Lambda function error.
            1 => UpstreamError::FunctionError {
                upstream: "greeter",
                detail: "UpstreamError: name upstream unreachable".into(),
            }
            .into_response(),
            // Envoy's own answer: nothing declared.
            2 => greeter_said(None).into_response(),
            _ => (StatusCode::OK, "healthy").into_response(),
        }
    }

    #[tokio::test]
    async fn failures_carry_their_cause_and_the_blame_ingress_declared() {
        let (url, _) = serve_nth(ingress_failure).await;
        let report = run(&load(url, 8, 3)).await.unwrap();
        let failures: Vec<(Blame, &str, u64)> = report
            .failures
            .iter()
            .map(|(f, n)| (f.blame, f.why.as_str(), *n))
            .collect();
        assert_eq!(
            failures,
            [
                (
                    Blame::Greeter,
                    "ingress upstream answered 502 Bad Gateway: greeter upstream answered 502 Bad Gateway: name upstream unreachable: connection refused",
                    2
                ),
                (
                    Blame::Lambda,
                    "ingress upstream answered 502 Bad Gateway: greeter upstream failed: UpstreamError: name upstream unreachable",
                    2
                ),
                (
                    Blame::Unknown,
                    "ingress upstream answered 502 Bad Gateway: greeter upstream answered 502 Bad Gateway: name upstream unreachable: connection refused",
                    2
                ),
                (Blame::Unknown, "not a greeting: \"healthy\"", 2),
            ]
        );
    }

    #[tokio::test]
    async fn a_rate_spaces_the_requests_out() {
        let (url, count) = serve_nth(|_| (StatusCode::OK, "From i: From lambda: Hi (a) Mary (b)")).await;
        let client = Client::new(Duration::from_secs(2)).unwrap();
        // 2 workers sharing 40 a second: one request each per 50 ms, the
        // first at once.
        let report = Probe::start(&client, &url, 2, 10, Some(40)).finish(false).await;
        assert_eq!(count.load(Ordering::SeqCst), 10);
        assert!(
            report.elapsed >= Duration::from_millis(200),
            "{:?}",
            report.elapsed
        );
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
            [&FailedRequest {
                blame: Blame::Unknown,
                why: "ingress upstream unreachable: connection refused".into()
            }]
        );
    }
}
