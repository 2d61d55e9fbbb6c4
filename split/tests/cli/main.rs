//! Tests of the repository's Consul entries, of `split migrate` against a
//! Consul API double, and of the `split` binary.

#![allow(clippy::unwrap_used)] // A failed unwrap is the test failing.

mod acl;
mod consul_double;
mod entries;
mod migrate;
mod process;
