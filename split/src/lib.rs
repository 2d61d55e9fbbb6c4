//! `split`: moves the calls to greeter from the container greeter to
//! greeter-lambda in steps, outside the services, and shows each step.
//!
//! - [`share`] holds a traffic share at Consul's 0.01 % precision.
//! - [`consul`] prints the `service-splitter` and checks every entry file.
//! - [`envoy`] sets the weights of the local Envoy at run time.
//! - [`observe`] sends requests to ingress; [`report`] tallies who answered.
//! - [`cli`] holds the command line.
//!
//! Run: `cargo run -p split -- observe -n 400 --expect-lambda 50`

pub mod cli;
pub mod consul;
pub mod envoy;
pub mod observe;
pub mod report;
pub mod share;
