//! The migration of greeter's calls from the container to greeter-lambda,
//! as a library: what `split` (its command line) runs.
//!
//! - [`mesh`] names the services, the split and where state is kept;
//!   [`share`] holds a traffic share at Consul's 0.01 % precision.
//! - Where the split is held: [`envoy`] (the local stack's Envoy, through
//!   its admin endpoint) and [`consul`] (Consul's HTTP API: the greeter
//!   splitter); [`target`] is either, as a run sees it.
//! - What a step is judged on: [`probe`] sends requests through ingress and
//!   [`tally`] counts who answered; [`judge`] turns a window of either the
//!   probes or Prometheus into a verdict.
//! - The migration: [`plan`] (steps, gates, holds); [`machine`], its
//!   phases and transitions, pure; [`record`], the stored document;
//!   [`driver`], the one driver of the machine (stored before each side
//!   effect, fenced by the lead), holding its windows with [`window`] and
//!   telling [`webhook`]s; [`store`], where the record lives.
//! - Its two drivers' homes: [`run`] (`split migrate`, in one process,
//!   [`progress`] while it runs and [`report`] after) and [`controller`]
//!   (`split controller`, the leader of a shared store, with its
//!   [`metrics`]); people act through [`intent`] and read [`status`].

pub mod consul;
pub mod controller;
pub mod driver;
pub mod envoy;
pub mod intent;
pub mod judge;
pub mod machine;
pub mod mesh;
pub mod metrics;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod run;
pub mod share;
pub mod status;
pub mod store;
pub mod tally;
pub mod target;
pub mod webhook;
pub mod window;
