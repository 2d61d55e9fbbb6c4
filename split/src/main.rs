//! `split`: the traffic split from the container greeter to greeter-lambda.
//!
//! - `split splitter --lambda 25 | consul config write -` (AWS, Consul)
//! - `split set --lambda 25` (the local stack's Envoy)
//! - `split observe -n 400 --expect-lambda 25` (who answers ingress)
//! - `split migrate --steps 5,25,50,100` (gated steps, rolled back on failure)
//! - `split controller` (the migration as a service; `CONTROLLER_STORE=...`)
//! - `split rollout start|status|pause|resume|approve|abort` (people's side of it)
//! - `split fault --abort 20` (the local Envoy fails the Lambda's calls)
//! - `split check consul` (the Consul entry files)
//! - `split grant` (the terminating gateway's ACL policy, on Consul)

use std::io::Write;
use std::process::ExitCode;

use split::cli::{parse, run};
use split::output::USAGE;

fn main() -> ExitCode {
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { USAGE } else { 0 });
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    let output = match runtime {
        Ok(runtime) => runtime.block_on(run(cli.command)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "split: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A closed pipe (`split splitter | head`) is not worth a panic.
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    ExitCode::from(output.code)
}
