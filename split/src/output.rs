//! What a `split` command has to say, and how the process ends: the one
//! shape every command answers in, so each can be run and checked in
//! tests without a process.

/// `EX_USAGE`: bad input, nothing done.
pub const USAGE: u8 = 64;

/// What a command has to say, and how the process ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// For stdout: the result itself.
    pub stdout: String,
    /// For stderr: what went wrong.
    pub stderr: String,
    /// The exit code.
    pub code: u8,
}

impl Output {
    /// Done: exit 0.
    pub fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }

    /// Refused or failed: exit 1.
    pub fn fail(stdout: String, stderr: String) -> Self {
        Self {
            stdout,
            stderr,
            code: 1,
        }
    }

    /// Bad input, nothing done: exit 64, one line on stderr.
    pub fn usage(stderr: String) -> Self {
        Self {
            stdout: String::new(),
            stderr,
            code: USAGE,
        }
    }
}
