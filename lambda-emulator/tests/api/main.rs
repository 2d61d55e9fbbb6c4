//! lambda-emulator's tests: the Invoke API end to end with a fake function
//! (this very test binary, re-run as the function's process), and
//! envoy/envoy.yaml held to what Consul generates for a Lambda.

#![allow(clippy::unwrap_used)] // Test helpers may unwrap: a failure is the test failing.

mod envoy_config;
mod fake_function;
mod helpers;
mod invoke;
mod limits;
mod platform;
