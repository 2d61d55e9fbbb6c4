//! Integration tests: real services on `127.0.0.1:0`, wired together or
//! facing mock upstreams.

mod chain;
mod faults;
mod helpers;
