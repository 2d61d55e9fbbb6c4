//! Where the split is held, as a run sees it: Envoy's runtime or Consul's
//! splitter, and what this run last read or wrote there.
//!
//! A run owns the split only while nobody else touches it. Consul's writes
//! carry the `ModifyIndex` last seen (check-and-set); Envoy has no such
//! thing, so its runtime is read before each write and compared with what
//! this run last saw. A refused check-and-set, a read-back that differs
//! from the write, or a target that changed between two of this run's
//! calls is [`TargetError::Concurrent`]: the run stops with nothing more
//! written, so the other party's change stands.

use std::time::Duration;

use reqwest::Url;

use crate::consul::{Consul, ConsulError, Splitter};
use crate::envoy::{self, SetError};
use crate::share::Share;

/// Where `split migrate` moves the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The local stack's Envoy, through its admin endpoint.
    Envoy,
    /// Consul's service-splitter, through its HTTP API.
    Consul,
}

/// The most one call to Envoy's admin or to Consul's API may take.
pub const TARGET_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the split is held, and what this run last saw there.
#[derive(Debug)]
pub struct Target {
    place: Place,
    /// What this run last read or wrote; `None` before the first read.
    seen: Option<Seen>,
}

#[derive(Debug)]
enum Place {
    Envoy { admin: Url },
    Consul { consul: Consul },
}

/// The target's state as this run last read or wrote it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// Envoy's runtime: the Lambda's share, `None` for envoy.yaml's.
    Envoy(Option<Share>),
    /// Consul's splitter entry, `None` when there is none.
    Consul(Option<Splitter>),
}

impl Seen {
    fn share(&self) -> Option<Share> {
        match self {
            Self::Envoy(share) => *share,
            // No splitter: every call goes to the container greeter.
            Self::Consul(entry) => Some(entry.as_ref().map_or(Share::ZERO, |s| s.lambda)),
        }
    }

    /// For messages: what the target holds.
    fn describe(&self) -> String {
        match self {
            Self::Envoy(Some(share)) => format!("the Lambda at {share}%"),
            Self::Envoy(None) => "no weights in its runtime (envoy.yaml's apply)".to_owned(),
            Self::Consul(Some(s)) => format!(
                "the Lambda at {}% (ModifyIndex {}, {})",
                s.lambda,
                s.modify_index,
                s.entry
                    .get("Splits")
                    .map_or_else(|| "no Splits".to_owned(), |s| format!("Splits {s}"))
            ),
            Self::Consul(None) => "no greeter splitter (it was deleted)".to_owned(),
        }
    }
}

/// Why a target could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Envoy.
    #[error(transparent)]
    Envoy(#[from] SetError),
    /// Consul.
    #[error(transparent)]
    Consul(#[from] ConsulError),
    /// Someone else changed the split while this run held it.
    #[error(
        "{what}: someone else changed the split; {target} now holds {now}. Nothing more was written: split migrate stops here"
    )]
    Concurrent {
        /// What showed it.
        what: String,
        /// The target, for the message.
        target: String,
        /// What the target holds now.
        now: String,
    },
}

impl TargetError {
    /// Whether the write may have reached the target anyway: no answer,
    /// or an answer that cannot be read. A refusal changed nothing, and
    /// after a concurrent change nothing more is written at all.
    pub(crate) fn may_have_landed(&self) -> bool {
        match self {
            Self::Envoy(e) => matches!(e, SetError::Unreachable { .. } | SetError::BadRuntime(_)),
            Self::Consul(e) => matches!(
                e,
                ConsulError::Unreachable { .. } | ConsulError::Timeout { .. } | ConsulError::BadAnswer { .. }
            ),
            Self::Concurrent { .. } => false,
        }
    }
}

impl Target {
    /// The local stack's Envoy, through its admin endpoint.
    pub fn envoy(admin: Url) -> Self {
        Self {
            place: Place::Envoy { admin },
            seen: None,
        }
    }

    /// Consul's greeter splitter.
    pub fn consul(consul: Consul) -> Self {
        Self {
            place: Place::Consul { consul },
            seen: None,
        }
    }

    /// Whether this is Consul (whose sidecars take a moment to apply a write).
    pub(crate) fn is_consul(&self) -> bool {
        matches!(self.place, Place::Consul { .. })
    }

    /// Which kind of place this is.
    pub fn kind(&self) -> TargetKind {
        match self.place {
            Place::Envoy { .. } => TargetKind::Envoy,
            Place::Consul { .. } => TargetKind::Consul,
        }
    }

    /// For messages: where the split is held.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Envoy { admin } => format!("Envoy at {admin}"),
            Place::Consul { consul } => {
                format!("Consul at {} (service-splitter greeter)", consul.address())
            }
        }
    }

    /// The target's state now.
    async fn fetch(&self) -> Result<Seen, TargetError> {
        Ok(match &self.place {
            Place::Envoy { admin } => Seen::Envoy(envoy::get(admin, TARGET_TIMEOUT).await?),
            Place::Consul { consul } => Seen::Consul(consul.read_splitter().await?),
        })
    }

    /// Reads the Lambda's share the target holds now and takes it as this
    /// run's own; `None` for an Envoy whose runtime has no weights
    /// (envoy.yaml's apply).
    pub async fn read(&mut self) -> Result<Option<Share>, TargetError> {
        let now = self.fetch().await?;
        let share = now.share();
        self.seen = Some(now);
        Ok(share)
    }

    /// Checks that the target still holds what this run last read or
    /// wrote.
    pub(crate) async fn check(&mut self, when: &str) -> Result<(), TargetError> {
        let now = self.fetch().await?;
        if self.seen.as_ref() == Some(&now) {
            return Ok(());
        }
        let before = self.seen.as_ref().map_or_else(String::new, Seen::describe);
        Err(self.changed(format!("{when}, it no longer holds {before}"), now))
    }

    fn changed(&mut self, what: String, now: Seen) -> TargetError {
        let error = TargetError::Concurrent {
            what,
            target: self.describe(),
            now: now.describe(),
        };
        self.seen = Some(now);
        error
    }

    /// Writes the share and checks it reads back, refusing to write over
    /// a change someone else made since this run last read or wrote.
    pub async fn write(&mut self, lambda: Share) -> Result<(), TargetError> {
        if !self.is_consul() {
            // No check-and-set on Envoy: look first.
            self.check(&format!("before writing {lambda}%")).await?;
        }
        let refused = match &self.place {
            Place::Envoy { admin } => match envoy::set(admin, lambda, TARGET_TIMEOUT, Duration::ZERO).await {
                // Envoy took the write but reads another value back: the
                // read below says what it holds.
                Ok(_) | Err(SetError::NotApplied { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            Place::Consul { consul } => {
                let last = match &self.seen {
                    Some(Seen::Consul(last)) => last.as_ref(),
                    _ => None,
                };
                let cas = last.map_or(0, |s| s.modify_index);
                let taken = consul.write_splitter(last.map(|s| &s.entry), lambda, cas).await?;
                (!taken).then(|| format!("Consul refused the write of {lambda}% (cas {cas})"))
            }
        };
        let now = self.fetch().await?;
        if let Some(what) = refused {
            return Err(self.changed(what, now));
        }
        if now.share() != Some(lambda) {
            return Err(self.changed(format!("after writing {lambda}%"), now));
        }
        self.seen = Some(now);
        Ok(())
    }

    /// After a write whose answer was lost: reads what the target holds
    /// and takes it as this run's own if it is `attempted` (the write
    /// landed) or `before` (it did not); anything else is someone else's.
    pub(crate) async fn recover(&mut self, attempted: Share, before: Share) -> Result<(), TargetError> {
        let now = self.fetch().await?;
        match now.share() {
            Some(s) if s == attempted || s == before => {
                self.seen = Some(now);
                Ok(())
            }
            _ => Err(self.changed(format!("after the write of {attempted}% went unanswered"), now)),
        }
    }

    /// Whether this run has read the target at all.
    pub(crate) fn was_read(&self) -> bool {
        self.seen.is_some()
    }

    /// The Lambda's share this run last saw the target hold.
    pub(crate) fn last_share(&self) -> Option<Share> {
        self.seen.as_ref().and_then(Seen::share)
    }

    /// The write [`Target::write`] would make, for `--dry-run`.
    pub(crate) fn describe_write(&self, lambda: Share) -> String {
        match &self.place {
            Place::Envoy { admin } => {
                let pairs = envoy::runtime_weights(lambda).map(|(k, w)| (k, w.to_string()));
                envoy::modify_url(admin, &pairs).map_or_else(|e| e.to_string(), |url| format!("POST {url}"))
            }
            Place::Consul { consul } => consul.describe_write(None, lambda, "<ModifyIndex read before>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::admin_double::Admin;

    #[tokio::test]
    async fn an_envoy_changed_by_someone_else_is_not_written_over() {
        let admin = Admin::default();
        let mut target = Target::envoy(admin.serve().await);
        assert_eq!(target.read().await.unwrap(), None);
        target.write("5".parse().unwrap()).await.unwrap();
        assert_eq!(admin.posts(), 1);
        // Someone else's `split set --lambda 30`.
        admin.set("30".parse().unwrap());
        let err = target.write("25".parse().unwrap()).await.unwrap_err();
        assert!(!err.may_have_landed());
        assert!(
            err.to_string().starts_with(
                "before writing 25%, it no longer holds the Lambda at 5%: someone else changed the split; Envoy at http"
            ) && err
                .to_string()
                .contains("now holds the Lambda at 30%. Nothing more was written"),
            "{err}"
        );
        assert_eq!(admin.posts(), 1, "nothing more was written");
        assert_eq!(target.last_share(), Some("30".parse().unwrap()));
        // And seen after a window, too.
        admin.set("40".parse().unwrap());
        assert!(target.check("after the window").await.is_err());
    }
}
