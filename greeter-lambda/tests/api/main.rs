//! greeter-lambda's tests: the handler on every invocation shape with real
//! upstreams, and the binary as a process, under a Runtime API and outside.

#![allow(clippy::unwrap_used)] // Test helpers may unwrap: a failure is the test failing.

mod helpers;
mod process;
mod runtime_api;
mod shapes;
