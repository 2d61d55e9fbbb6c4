//! Integration tests: real services on `127.0.0.1:0`, wired together or
//! facing mock upstreams.

#![allow(clippy::unwrap_used)] // Test helpers may unwrap: a failure is the test failing.

mod chain;
mod faults;
mod helpers;
mod metrics;
mod shutdown;
mod telemetry;
