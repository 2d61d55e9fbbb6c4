//! `greeter-lambda`: the greeter on AWS Lambda, answering
//! `From lambda: <greeting> <name>` to every invocation shape.
//!
//! Build and package: `cargo lambda build --release -p greeter-lambda`.
//! It runs only under a Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`): on
//! Lambda, in the compose stack's `lambda-emulator`, or under
//! `cargo lambda watch`.

fn main() -> std::process::ExitCode {
    greeter_lambda::lambda::run(&service_core::config::Env::from_process())
}
