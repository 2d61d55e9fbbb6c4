//! Tests of the repository's Consul entries and of the `split` binary.

#![allow(clippy::unwrap_used)] // A failed unwrap is the test failing.

mod entries;
mod process;
