//! `split`: moves the calls to greeter from the container greeter to
//! greeter-lambda in steps, outside the services, and shows each step.
//!
//! - [`share`] holds a traffic share at Consul's 0.01 % precision.
//! - [`acl`] grants the terminating gateway what it needs to serve
//!   greeter-lambda (`split grant`).
//! - [`consul`] prints the `service-splitter` and checks every entry file;
//!   [`consul_api`] reads and writes it through Consul's HTTP API.
//! - [`envoy`] sets the weights of the local Envoy at run time, and the
//!   faults it injects into the Lambda's calls.
//! - [`observe`] sends requests to ingress; [`report`] tallies who answered.
//! - [`migrate`] walks the Lambda's share through gated, reversible steps.
//! - [`cli`] holds the command line.
//!
//! Run: `cargo run -p split -- observe -n 400 --expect-lambda 50`, or
//! `cargo run -p split -- migrate --steps 5,25,50,100`

pub mod acl;
pub mod cli;
pub mod consul;
pub mod consul_api;
pub mod envoy;
pub mod migrate;
pub mod observe;
pub mod report;
pub mod share;
