//! The function's instances and one invocation's life: an idle instance
//! or a new one (a cold start), the payload handed to its Runtime API, the
//! answer or the error it posts back, or its death, or the timeout; then
//! the instance's next poll, which ends the invocation as on Lambda. Each
//! invocation is counted in `metrics` and logged with
//! Lambda's platform lines (`log`).

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::io::{AsyncBufReadExt as _, BufReader, Split};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::log::{InvocationLog, Stream, Usage};
use crate::metrics::Metrics;
use crate::runtime_api::{self, Polled, Posted, Work};

/// Lambda's limit on an instance's init (its start up to its first poll
/// of the Runtime API), apart from the function's timeout.
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// What Lambda's Invoke API replies for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The function answered: its payload.
    Payload(Bytes),
    /// A function error (`X-Amz-Function-Error: Unhandled`), with Lambda's
    /// error object as the body.
    FunctionError(Bytes),
    /// Refused for concurrency, past the reserved concurrency: Lambda's
    /// 429 `TooManyRequestsException`. The function did not run.
    Throttled,
}

impl Reply {
    /// A function error with Lambda's `{"errorType","errorMessage"}`.
    fn function_error(error_type: &str, message: &str) -> Self {
        Self::FunctionError(Bytes::from(error_object(error_type, message)))
    }
}

/// Lambda's error object, `{"errorType","errorMessage"}`: a function's
/// error, and the Runtime API's refusals.
pub(crate) fn error_object(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}

/// How the invoker waits: Invoke's `X-Amz-Invocation-Type` (`DryRun`
/// runs nothing, so it never reaches a [`Function`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Synchronous: throttled past the reserved concurrency.
    RequestResponse,
    /// Asynchronous: waits for an instance, as Lambda's event queue does.
    Event,
}

/// An invocation's end: the reply and the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    /// What Invoke replies.
    pub reply: Reply,
    /// The last 4 KB of its log, the platform's lines included (empty when
    /// throttled): what `X-Amz-Log-Type: Tail` returns.
    pub log_tail: Vec<u8>,
}

/// The function: its settings, its instances and its metrics. Cheap to share.
#[derive(Debug)]
pub struct Function {
    config: Config,
    idle: Mutex<Vec<Instance>>,
    /// One permit per invocation that may run at once: an invocation holds one.
    permits: Semaphore,
    started: AtomicU64,
    alive: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// A running instance: its process, the way to its Runtime API and its output.
#[derive(Debug)]
struct Instance {
    id: u64,
    child: Child,
    work: mpsc::UnboundedSender<Work>,
    polled: mpsc::UnboundedReceiver<Polled>,
    output: Output,
    runtime_api: JoinHandle<()>,
    alive: Arc<AtomicUsize>,
    /// The peak memory last read, for an instance that died before a read.
    max_memory_used_mb: u64,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The child is killed on drop (kill_on_drop); its Runtime API goes too.
        self.runtime_api.abort();
        let alive = self.alive.fetch_sub(1, Ordering::Relaxed) - 1;
        tracing::info!(instance = self.id, alive, "instance stopped");
    }
}

/// An instance's stdout and stderr, line by line, read only while an
/// invocation runs on it: an instance runs code only then.
#[derive(Debug)]
struct Output {
    stdout: Option<Split<BufReader<ChildStdout>>>,
    stderr: Option<Split<BufReader<ChildStderr>>>,
}

impl Output {
    /// The next line of either stream; pending forever once both ended.
    async fn next(&mut self) -> (Stream, Option<Vec<u8>>) {
        async fn line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut Option<Split<R>>) -> Option<Vec<u8>> {
            match lines {
                Some(lines) => lines.next_segment().await.ok().flatten(),
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            line = line(&mut self.stdout) => (Stream::Stdout, line),
            line = line(&mut self.stderr) => (Stream::Stderr, line),
        }
    }

    /// Records a line read, or the end of its stream.
    fn take(&mut self, (stream, line): (Stream, Option<Vec<u8>>), log: &mut InvocationLog) {
        match line {
            Some(line) => log.line(stream, &line),
            None => match stream {
                Stream::Stdout => self.stdout = None,
                Stream::Stderr => self.stderr = None,
            },
        }
    }

    /// Takes every line already written. Everything the function wrote
    /// before its last request to the Runtime API is in the pipes by the
    /// time that request is seen, and the reactor has seen it ready.
    async fn drain(&mut self, log: &mut InvocationLog) {
        loop {
            let read = tokio::select! {
                biased;
                read = self.next() => read,
                () = std::future::ready(()) => return,
            };
            self.take(read, log);
        }
    }
}

/// How the wait for an invocation's end ended.
enum Ended {
    /// Answered, and the instance is ready for the next.
    Ready,
    /// The instance cannot be used again.
    Gone,
}

impl Function {
    /// The function with no instance yet: the first invocation starts one.
    pub fn new(config: Config) -> Arc<Self> {
        Arc::new(Self {
            permits: Semaphore::new(config.reserved_concurrency.unwrap_or(config.concurrency)),
            metrics: Metrics::new(&config.function_name),
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

    /// Its metrics, in Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }

    /// Runs one invocation to its end on an idle instance, or on a new one
    /// while fewer than the limit exist; past the limit it waits for one,
    /// or, for a synchronous invocation past a reserved concurrency, is
    /// throttled.
    ///
    /// The instance is kept for the next invocation after an answer or a
    /// function error. After an init error, a crash or the timeout it is
    /// killed and the next invocation starts a fresh one, as on Lambda.
    pub async fn invoke(
        &self,
        request_id: &str,
        payload: Bytes,
        trace_id: &str,
        kind: InvocationType,
    ) -> Invoked {
        let throttles = self.config.reserved_concurrency.is_some() && kind == InvocationType::RequestResponse;
        let permit = if throttles {
            self.permits.try_acquire().map_err(|_| ())
        } else {
            self.permits.acquire().await.map_err(|_| ())
        };
        if permit.is_err() {
            self.metrics.throttles.inc();
            tracing::info!(request_id, "throttled");
            return Invoked {
                reply: Reply::Throttled,
                log_tail: Vec::new(),
            };
        }
        self.metrics.concurrent.inc();
        let invoked = self.run(request_id, payload, trace_id).await;
        self.metrics.concurrent.dec();
        self.metrics.invocations.inc();
        if matches!(invoked.reply, Reply::FunctionError(_)) {
            self.metrics.errors.inc();
        }
        invoked
    }

    async fn run(&self, request_id: &str, payload: Bytes, trace_id: &str) -> Invoked {
        let mut log = InvocationLog::default();
        let obtained = Instant::now();
        let (mut instance, cold) = match self.idle_instance() {
            Some(instance) => (instance, false),
            None => match self.start().await {
                Ok(instance) => (instance, true),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start an instance");
                    log.start(request_id);
                    let usage = self.usage(obtained.elapsed(), None, 0);
                    return Invoked {
                        reply: Reply::function_error(
                            "Runtime.InvalidEntrypoint",
                            &format!("RequestId: {request_id} Error: {e}"),
                        ),
                        log_tail: log.end(request_id, &usage),
                    };
                }
            },
        };
        // The function's clock starts at the hand-out; before it, a cold
        // start has Lambda's limit on an init.
        let mut deadline = if cold {
            obtained + INIT_LIMIT
        } else {
            obtained + self.config.timeout
        };
        let (reply, mut posted) = oneshot::channel();
        let work = Work {
            request_id: request_id.to_owned(),
            payload,
            timeout: self.config.timeout,
            trace_id: trace_id.to_owned(),
            reply,
        };
        if instance.work.send(work).is_err() {
            return Invoked {
                reply: Reply::function_error("ServiceException", "the instance's Runtime API is gone"),
                log_tail: Vec::new(),
            };
        }
        // A warm instance is already waiting in its poll: the hand-off is now.
        let mut handed = (!cold).then(Instant::now);
        if handed.is_some() {
            log.start(request_id);
        }
        let mut init = None;
        let mut answer: Option<(Reply, Instant)> = None;
        let (ended, reply, answered) = loop {
            // The function's own lines when nothing else happened: each
            // event first takes those written before it, to keep the order.
            tokio::select! {
                biased;
                posted = &mut posted, if answer.is_none() => {
                    let now = Instant::now();
                    instance.read_memory();
                    match posted {
                        Ok(Posted::Response(body)) => answer = Some((Reply::Payload(body), now)),
                        Ok(Posted::Error(body)) => answer = Some((Reply::FunctionError(body), now)),
                        // The instance cannot serve at all: it exits next.
                        Ok(Posted::InitError(body)) => {
                            init = Some(now - obtained);
                            break (Ended::Gone, Reply::FunctionError(body), now);
                        }
                        Err(_) => {
                            let message = format!("RequestId: {request_id} Error: Runtime exited");
                            break (Ended::Gone, Reply::function_error("Runtime.ExitError", &message), now);
                        }
                    }
                }
                Some(Polled) = instance.polled.recv() => {
                    let now = Instant::now();
                    if handed.is_none() {
                        // A cold start's first poll: its init is over, and
                        // what it wrote during its init comes before START.
                        init = Some(now - obtained);
                        handed = Some(now);
                        deadline = now + self.config.timeout;
                        instance.read_memory();
                        instance.output.drain(&mut log).await;
                        log.start(request_id);
                    } else if let Some((reply, at)) = answer.take() {
                        break (Ended::Ready, reply, at);
                    }
                }
                status = instance.child.wait() => {
                    let (reply, at) = answer.take().unwrap_or_else(|| {
                        let message = format!(
                            "RequestId: {request_id} Error: Runtime exited with error: {}",
                            exit_reason(status)
                        );
                        (Reply::function_error("Runtime.ExitError", &message), Instant::now())
                    });
                    break (Ended::Gone, reply, at);
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    // As Lambda does: the instance is stopped, not trusted again;
                    // killed and reaped before the answer, so no process outlives it.
                    instance.read_memory();
                    let _ = instance.child.kill().await;
                    instance.output.drain(&mut log).await;
                    let (reply, at) = answer.take().unwrap_or_else(|| {
                        let (what, limit) = if handed.is_some() {
                            ("Task", self.config.timeout)
                        } else {
                            ("Init", INIT_LIMIT)
                        };
                        let message = format!(
                            "{what} timed out after {:.2} seconds",
                            limit.as_secs_f64()
                        );
                        let message = format!("RequestId: {request_id} Error: {message}");
                        log.line(Stream::Stdout, message.as_bytes());
                        (Reply::function_error("Sandbox.Timedout", &message), Instant::now())
                    });
                    break (Ended::Gone, reply, at);
                }
                read = instance.output.next() => instance.output.take(read, &mut log),
            }
        };
        instance.output.drain(&mut log).await;
        let handed = handed.unwrap_or_else(|| {
            // Never handed out (it failed in its init): START all the same.
            log.start(request_id);
            obtained
        });
        if cold {
            self.metrics.cold_starts.inc();
            let init = init.unwrap_or(answered - obtained);
            self.metrics.init_duration.observe(init.as_secs_f64());
        }
        let duration = answered.saturating_duration_since(handed);
        self.metrics.duration.observe(duration.as_secs_f64());
        let usage = self.usage(
            duration,
            cold.then(|| init.unwrap_or(answered - obtained)),
            instance.max_memory_used_mb,
        );
        let log_tail = log.end(request_id, &usage);
        tracing::info!(
            request_id,
            instance = instance.id,
            cold,
            function_error = matches!(reply, Reply::FunctionError(_)),
            duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            "invoked"
        );
        if matches!(ended, Ended::Ready) {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(instance);
            }
        }
        Invoked { reply, log_tail }
    }

    fn usage(&self, duration: Duration, init: Option<Duration>, max_memory_used_mb: u64) -> Usage {
        Usage {
            duration,
            init,
            memory_size_mb: self.config.memory_mb,
            max_memory_used_mb,
        }
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
        let (polls, polled) = mpsc::unbounded_channel();
        let runtime_api = tokio::spawn(runtime_api::serve(listener, queue, polls, config.arn()));
        let id = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let child = Command::new(&config.bootstrap)
            .args(&config.args)
            .env_clear()
            .envs(config.function_env.iter().map(|(k, v)| (k, v)))
            .envs(lambda_env(config, &api, id))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                runtime_api.abort();
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", config.bootstrap.display()),
                ));
            }
        };
        let output = Output {
            stdout: child.stdout.take().map(|out| BufReader::new(out).split(b'\n')),
            stderr: child.stderr.take().map(|err| BufReader::new(err).split(b'\n')),
        };
        let alive = self.alive.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(instance = id, pid = child.id(), runtime_api = %api, alive, "instance started");
        Ok(Instance {
            id,
            child,
            work,
            polled,
            output,
            runtime_api,
            alive: Arc::clone(&self.alive),
            max_memory_used_mb: 0,
        })
    }
}

impl Instance {
    /// Updates the peak memory from the process, while it runs.
    fn read_memory(&mut self) {
        if let Some(mb) = self.child.id().and_then(crate::log::max_memory_used_mb) {
            self.max_memory_used_mb = mb;
        }
    }
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
