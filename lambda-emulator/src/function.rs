//! The function's instances and one invocation's life: an idle instance
//! or a new one (a cold start), the payload handed to its Runtime API, the
//! answer or the error it posts back, or its death, or the timeout.

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::runtime_api::{self, Posted, Work};

/// How an invocation ended, as Lambda's Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function answered: its payload.
    Response(Bytes),
    /// A function error (`X-Amz-Function-Error: Unhandled`), with Lambda's
    /// error object as the body.
    Error(Bytes),
}

impl Outcome {
    /// A function error with Lambda's `{"errorType","errorMessage"}`.
    fn error(error_type: &str, message: &str) -> Self {
        let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
        Self::Error(Bytes::from(body.to_string()))
    }
}

/// The function: its settings and its instances. Cheap to share.
#[derive(Debug)]
pub struct Function {
    config: Config,
    idle: Mutex<Vec<Instance>>,
    /// One permit per instance that may exist: an invocation holds one.
    permits: Semaphore,
    started: AtomicU64,
    alive: Arc<AtomicUsize>,
}

/// A running instance: its process and the way to its Runtime API.
#[derive(Debug)]
struct Instance {
    id: u64,
    child: Child,
    work: mpsc::UnboundedSender<Work>,
    runtime_api: JoinHandle<()>,
    alive: Arc<AtomicUsize>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The child is killed on drop (kill_on_drop); its Runtime API goes too.
        self.runtime_api.abort();
        let alive = self.alive.fetch_sub(1, Ordering::Relaxed) - 1;
        tracing::info!(instance = self.id, alive, "instance stopped");
    }
}

impl Function {
    /// The function with no instance yet: the first invocation starts one.
    pub fn new(config: Config) -> Arc<Self> {
        Arc::new(Self {
            permits: Semaphore::new(config.concurrency),
            config,
            idle: Mutex::new(Vec::new()),
            started: AtomicU64::new(0),
            alive: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many instances have been started so far (cold starts).
    pub fn instances_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Runs one invocation to its end on an idle instance, or on a new one
    /// while fewer than the limit exist; past the limit it waits for one.
    ///
    /// The instance is kept for the next invocation after an answer or a
    /// function error. After an init error, a crash or the timeout it is
    /// killed and the next invocation starts a fresh one, as on Lambda.
    pub async fn invoke(&self, request_id: &str, payload: Bytes, trace_id: &str) -> Outcome {
        let started = Instant::now();
        let Ok(_permit) = self.permits.acquire().await else {
            return Outcome::error("ServiceException", "the emulator is shutting down");
        };
        let (mut instance, cold) = match self.idle_instance() {
            Some(instance) => (instance, false),
            None => match self.start().await {
                Ok(instance) => (instance, true),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start an instance");
                    return Outcome::error(
                        "Runtime.InvalidEntrypoint",
                        &format!("RequestId: {request_id} Error: {e}"),
                    );
                }
            },
        };
        // The clock starts with the instance, not while waiting for one.
        let deadline = Instant::now() + self.config.timeout;
        let (reply, posted) = oneshot::channel();
        let work = Work {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms: epoch_ms(SystemTime::now() + self.config.timeout),
            trace_id: trace_id.to_owned(),
            reply,
        };
        if instance.work.send(work).is_err() {
            return Outcome::error("ServiceException", "the instance's Runtime API is gone");
        }
        // The reply first: an instance that reports an init error exits
        // right after, and its report is the answer.
        let ended = tokio::select! {
            biased;
            posted = posted => Ended::Posted(posted.ok()),
            status = instance.child.wait() => Ended::Exited(status),
            () = tokio::time::sleep_until(deadline.into()) => Ended::TimedOut,
        };
        let (outcome, keep) = match ended {
            Ended::Posted(Some(Posted::Response(body))) => (Outcome::Response(body), true),
            Ended::Posted(Some(Posted::Error(body))) => (Outcome::Error(body), true),
            Ended::Posted(Some(Posted::InitError(body))) => (Outcome::Error(body), false),
            Ended::Posted(None) => (
                Outcome::error(
                    "Runtime.ExitError",
                    &format!("RequestId: {request_id} Error: Runtime exited"),
                ),
                false,
            ),
            Ended::Exited(status) => (
                Outcome::error(
                    "Runtime.ExitError",
                    &format!(
                        "RequestId: {request_id} Error: Runtime exited with error: {}",
                        exit_reason(status)
                    ),
                ),
                false,
            ),
            Ended::TimedOut => {
                // As Lambda does: the instance is stopped, not trusted again;
                // killed and reaped before the answer, so no process outlives it.
                let _ = instance.child.kill().await;
                (
                    Outcome::error(
                        "Sandbox.Timedout",
                        &format!(
                            "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                            self.config.timeout.as_secs_f64()
                        ),
                    ),
                    false,
                )
            }
        };
        tracing::info!(
            request_id,
            instance = instance.id,
            cold,
            function_error = matches!(outcome, Outcome::Error(_)),
            duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "invoked"
        );
        if keep {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(instance);
            }
        }
        outcome
    }

    /// The most recently used idle instance still running, if any; one
    /// whose process died while idle is dropped.
    fn idle_instance(&self) -> Option<Instance> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(mut instance) = idle.pop() {
            if matches!(instance.child.try_wait(), Ok(None)) {
                return Some(instance);
            }
        }
        None
    }

    /// Starts an instance: its Runtime API on a loopback port of its own,
    /// then the bootstrap with Lambda's variables pointing at it.
    async fn start(&self) -> std::io::Result<Instance> {
        let config = &self.config;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?.to_string();
        let (work, queue) = mpsc::unbounded_channel();
        let runtime_api = tokio::spawn(runtime_api::serve(listener, queue, config.arn()));
        let id = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let child = Command::new(&config.bootstrap)
            .args(&config.args)
            .env_clear()
            .envs(config.function_env.iter().map(|(k, v)| (k, v)))
            .envs(lambda_env(config, &api, id))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                runtime_api.abort();
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", config.bootstrap.display()),
                ));
            }
        };
        let alive = self.alive.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(instance = id, pid = child.id(), runtime_api = %api, alive, "instance started");
        Ok(Instance {
            id,
            child,
            work,
            runtime_api,
            alive: Arc::clone(&self.alive),
        })
    }
}

enum Ended {
    Posted(Option<Posted>),
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
}

/// The variables Lambda sets for a function, its Runtime API's among them.
fn lambda_env(config: &Config, runtime_api: &str, instance: u64) -> Vec<(&'static str, String)> {
    let name = &config.function_name;
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("$LATEST/instance-{instance}"),
        ),
        ("AWS_REGION", config.region.clone()),
        ("AWS_DEFAULT_REGION", config.region.clone()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ]
}

fn exit_reason(status: std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => status.to_string(),
        },
        Err(e) => e.to_string(),
    }
}

/// Milliseconds since the epoch, as the deadline header carries them.
pub(crate) fn epoch_ms(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
}
