//! Everything the Greeter demo's services share, written once so the
//! container services and the Lambda run the very same logic.
//!
//! - [`config`] holds typed settings from the environment.
//! - [`telemetry`] holds logging.
//! - [`metrics`] holds what `GET /metrics` answers.
//! - [`server`] holds serving (routes on `PORT`, metrics on
//!   `METRICS_PORT`), graceful shutdown, and each binary's `main`.
//! - [`router`] holds health, request ids, per-request logs, metrics
//!   recording, and the metrics listener's one route.
//! - [`upstream`] holds the HTTP client and its errors.
//! - [`origin`] tells who a failed answer is put down to.
//! - [`outcome`] names how an upstream call or a request ended.
//! - [`words`] holds `name` and `greeting`.
//! - [`greeter`] holds `From <who>: <greeting> <name>`.
//! - [`ingress`] holds `From <host>: <greeter>`, unquoting Lambda answers.

pub mod config;
pub mod greeter;
pub mod ingress;
pub mod metrics;
pub mod origin;
pub mod outcome;
pub mod router;
pub mod server;
pub mod telemetry;
pub mod upstream;
pub mod words;
