//! AWS Lambda on one machine: the Invoke API for whoever invokes the
//! function (in the compose stack, Envoy playing Consul's terminating
//! gateway), and the Runtime API for the function itself, run unchanged
//! from the binary that ships to Lambda.
//!
//! Why a crate of its own rather than an existing emulator: AWS's Runtime
//! Interface Emulator is not obtainable from the package registries this
//! project builds from, and cargo-lambda's emulator (`cargo lambda watch`)
//! needs `cargo` and the sources at run time, answers 404 to a function
//! addressed by its ARN (which is how Envoy's `aws_lambda` filter addresses
//! it) and answers a function error with HTTP 500 where Lambda answers 200
//! and `X-Amz-Function-Error: Unhandled`. The function's side is checked
//! against cargo-lambda's emulator too (`scripts/test-lambda`): the same
//! binary runs under both.
//!
//! What it keeps of Lambda ([`Function::invoke`]): one invocation at a time
//! per instance (a child process with its own Runtime API), a new instance
//! (a cold start) when every one is busy; the environment Lambda sets;
//! function errors, init errors and crashes answered as Lambda answers
//! them; an instance that outlives its timeout killed, and the next
//! invocation served by a fresh one; every limit of Lambda's quotas that
//! an invocation meets (payloads in and out, for each invocation type) and
//! every refusal of the Invoke API that applies here, with Lambda's status,
//! error type and message ([`invoke_api`] lists them with their sources);
//! the platform's `START`/`END`/`REPORT` log lines and `X-Amz-Log-Type:
//! Tail`; CloudWatch's metrics for the function on `GET /metrics`; past a
//! reserved concurrency, the throttle (429). Where it differs: past its
//! limit on instances (`EMULATOR_CONCURRENCY`, to spare the machine; the
//! deployed function has no limit of its own) an invocation waits for one,
//! and it speaks plain HTTP without checking signatures.
//!
//! - [`config`] holds the settings, from the environment.
//! - [`function`] holds the instances and runs one invocation.
//! - [`runtime_api`] is the Runtime API each instance polls.
//! - [`invoke_api`] is the Invoke API, and `GET /metrics`.
//! - [`payload`] holds Lambda's payload limits and reads a body against one.
//! - `log` writes an invocation's log; `metrics` counts invocations.

pub mod config;
pub mod function;
pub mod invoke_api;
mod log;
mod metrics;
pub mod payload;
pub mod runtime_api;

pub use function::{Function, InvocationType, Invoked, Reply};
