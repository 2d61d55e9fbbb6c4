//! Tests of the repository's Consul entries, of `split migrate` against a
//! Consul API double (judged by probes, or by a Prometheus double), of the
//! migration's stores (on the Consul double, and on a directory shared by
//! processes), and of the `split` binary.

#![allow(clippy::unwrap_used)] // A failed unwrap is the test failing.

mod consul_double;
mod consul_store;
mod controller;
mod double;
mod entries;
mod file_store;
mod grant;
mod metrics;
mod migrate;
mod process;
mod prometheus_double;
mod rollout;
mod two_controllers;
