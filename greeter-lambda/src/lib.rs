//! `greeter-lambda`: the greeter built for AWS Lambda, answering
//! `From lambda: <greeting> <name>` through the very same
//! [`Greeter::greet`](service_core::greeter::Greeter::greet) as the
//! container `greeter`.
//!
//! - [`invocation`] tells the invocation shapes apart from the payload.
//! - [`envoy`] holds Envoy's request and response JSON.
//! - [`function`] answers every shape.
//! - [`lambda`] starts the function under Lambda's Runtime API.
//! - [`emf`] writes its upstream metrics for CloudWatch.
//!
//! Build: `cargo lambda build --release -p greeter-lambda` (an arm64 zip).

pub mod emf;
pub mod envoy;
pub mod function;
pub mod invocation;
pub mod lambda;
