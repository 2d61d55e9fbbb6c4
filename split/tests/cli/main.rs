//! Tests of the repository's Consul entries, of `split migrate` against a
//! Consul API double (judged by probes, or by a Prometheus double), and of
//! the `split` binary.

#![allow(clippy::unwrap_used)] // A failed unwrap is the test failing.

mod consul_double;
mod controller;
mod double;
mod entries;
mod grant;
mod metrics;
mod migrate;
mod process;
mod prometheus_double;
mod rollout;
