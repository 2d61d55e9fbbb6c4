//! `split`: the command line of the migration of greeter's calls from the
//! container greeter to greeter-lambda. The migration itself is the
//! `migration` library; this crate holds what only the command line needs.
//!
//! - [`cli`] holds the commands and runs each into an [`output::Output`].
//! - [`check`] checks the Consul entry files in `consul/` (`split check`).
//! - [`grant`] grants the terminating gateway what it needs to serve
//!   greeter-lambda (`split grant`).
//! - [`controller`] runs the migration as a service (`split controller`);
//!   [`rollout`] is people's side of it (`split rollout start`, `status`,
//!   `pause`, `resume`, `approve`, `abort`); [`store`] opens the store
//!   both name.
//!
//! Run: `cargo run -p split -- observe -n 400 --expect-lambda 50`, or
//! `cargo run -p split -- migrate --steps 5,25,50,100`

pub mod check;
pub mod cli;
pub mod controller;
pub mod grant;
pub mod output;
pub mod rollout;
pub mod store;
