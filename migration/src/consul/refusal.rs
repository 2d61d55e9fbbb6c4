//! What a 403 from Consul means, so a message can name the cause instead
//! of guessing it.
//!
//! Consul answers 403 with a plain-text body for two different things
//! (`acl/errors.go`, `agent/http.go`):
//!
//! - a token it does not know: `ACL not found` (never created, deleted,
//!   expired, or another cluster's). Some versions also answer it for an
//!   ACL object that is not there while the token is fine (a policy read
//!   by name, consul #9933): only the caller can tell those apart, by
//!   asking who the token is (`GET /v1/acl/token/self`).
//! - a token it knows that lacks a rule: `Permission denied: token with
//!   AccessorID '<id>' lacks permission 'key:write' on
//!   "greeter-mesh/migration/state"`; `anonymous token` when no token was
//!   sent (with a sentence saying so); `acl:write` with no name after it;
//!   older versions say only `Permission denied`. Behind a client agent the
//!   text may follow `rpc error making call: `.

use crate::mesh::KV_PREFIX;

/// A 403, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `ACL not found`.
    UnknownToken,
    /// `Permission denied ...`.
    Denied(Denied),
    /// Anything else (an endpoint blocked by the agent's configuration).
    Other(String),
}

/// A known token (or the anonymous one) without a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// No token was sent: Consul used the anonymous token.
    pub anonymous: bool,
    /// The token's AccessorID, when Consul gave it.
    pub accessor: Option<String>,
    /// The missing permission (`key:write`), when Consul named it.
    pub permission: Option<Permission>,
    /// What it was needed on (a key, a node, a service), when named.
    pub on: Option<String>,
}

/// A permission as Consul names it: `resource:access`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `key`, `session`, `service`, `acl`, ...
    pub resource: String,
    /// `read`, `write`, `list`.
    pub access: String,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.resource, self.access)
    }
}

const NOT_FOUND: &str = "ACL not found";
const DENIED: &str = "Permission denied";

impl Refusal {
    /// Reads the body of a 403 (or a transaction's error text).
    pub fn parse(body: &str) -> Self {
        let text = body.trim();
        if let Some(at) = text.find(DENIED) {
            return Self::Denied(Denied::parse(&text[at + DENIED.len()..]));
        }
        if text.contains(NOT_FOUND) {
            return Self::UnknownToken;
        }
        Self::Other(super::refusal_detail(text.as_bytes()))
    }

    /// Whether a transaction's error text is a refusal by ACL.
    pub fn is_acl(text: &str) -> bool {
        text.contains(DENIED) || text.contains(NOT_FOUND)
    }

    /// One line for people: what is wrong, and for a missing rule the rule
    /// to add, as a policy file writes it.
    pub fn explain(&self) -> String {
        match self {
            Self::UnknownToken => {
                "Consul knows no such token (\"ACL not found\"): the token in CONSUL_HTTP_TOKEN \
                 was deleted, has expired, or belongs to another cluster"
                    .to_owned()
            }
            Self::Denied(denied) => denied.explain(),
            Self::Other(text) => text.clone(),
        }
    }
}

impl Denied {
    /// Reads what follows `Permission denied`.
    fn parse(rest: &str) -> Self {
        let rest = rest.trim_start_matches(':').trim();
        let anonymous = rest.starts_with("anonymous token");
        let accessor = rest
            .strip_prefix("token with AccessorID '")
            .and_then(|r| r.split_once('\''))
            .map(|(id, _)| id.to_owned());
        let permission = rest
            .split_once("lacks permission '")
            .and_then(|(_, r)| r.split_once('\''))
            .and_then(|(p, _)| p.split_once(':'))
            .map(|(resource, access)| Permission {
                resource: resource.to_owned(),
                access: access.to_owned(),
            });
        let on = rest
            .split_once("' on \"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(name, _)| name.to_owned());
        Self {
            anonymous,
            accessor,
            permission,
            on,
        }
    }

    fn explain(&self) -> String {
        let who = match (&self.accessor, self.anonymous) {
            (_, true) => "no token was sent, and the anonymous token".to_owned(),
            (Some(id), false) => format!("the token (AccessorID {id})"),
            (None, false) => "the token".to_owned(),
        };
        let Some(permission) = &self.permission else {
            return format!(
                "Permission denied: {who} lacks a rule this request needs (this Consul does not say which)"
            );
        };
        let on = self
            .on
            .as_ref()
            .map(|name| format!(" on \"{name}\""))
            .unwrap_or_default();
        let fix = if self.anonymous {
            "set CONSUL_HTTP_TOKEN to a token whose policy has"
        } else {
            "its policy needs"
        };
        format!(
            "Permission denied: {who} lacks {permission}{on}: {fix} {}",
            rule(permission, self.on.as_deref())
        )
    }
}

/// The ACL rule that grants `permission` on `name`, as a policy file
/// writes it. A key under the migration's prefix is granted by the prefix,
/// as `consul/acl/migration-controller.hcl` does.
pub fn rule(permission: &Permission, name: Option<&str>) -> String {
    let access = &permission.access;
    match (permission.resource.as_str(), name) {
        ("key", Some(key)) if key.starts_with(KV_PREFIX) => {
            format!("key_prefix \"{KV_PREFIX}\" {{ policy = \"{access}\" }}")
        }
        (resource, Some(name)) => format!("{resource} \"{name}\" {{ policy = \"{access}\" }}"),
        (resource, None) => format!("{resource} = \"{access}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_rule_is_named_with_the_rule_that_grants_it() {
        let refusal = Refusal::parse(
            "Permission denied: token with AccessorID 'a1b2' lacks permission 'key:write' on \"greeter-mesh/migration/state\"",
        );
        assert_eq!(
            refusal,
            Refusal::Denied(Denied {
                anonymous: false,
                accessor: Some("a1b2".into()),
                permission: Some(Permission {
                    resource: "key".into(),
                    access: "write".into()
                }),
                on: Some("greeter-mesh/migration/state".into()),
            })
        );
        assert_eq!(
            refusal.explain(),
            "Permission denied: the token (AccessorID a1b2) lacks key:write on \"greeter-mesh/migration/state\": \
             its policy needs key_prefix \"greeter-mesh/\" { policy = \"write\" }"
        );
        let session = Refusal::parse(
            "Permission denied: token with AccessorID 'a1b2' lacks permission 'session:write' on \"consul-server\"",
        );
        assert!(
            session
                .explain()
                .ends_with("its policy needs session \"consul-server\" { policy = \"write\" }"),
            "{}",
            session.explain()
        );
    }

    #[test]
    fn a_permission_without_a_name_is_a_top_level_rule() {
        let refusal =
            Refusal::parse("Permission denied: token with AccessorID 'a1b2' lacks permission 'acl:write'");
        assert!(
            refusal
                .explain()
                .ends_with("lacks acl:write: its policy needs acl = \"write\""),
            "{}",
            refusal.explain()
        );
    }

    #[test]
    fn the_anonymous_token_means_no_token_was_sent() {
        let refusal = Refusal::parse(
            "Permission denied: anonymous token lacks permission 'key:read' on \"greeter-mesh/migration/state\". \
             The anonymous token is used implicitly when a request does not specify a token.",
        );
        let text = refusal.explain();
        assert!(text.contains("no token was sent"), "{text}");
        assert!(text.contains("set CONSUL_HTTP_TOKEN"), "{text}");
        assert!(
            text.contains("key:read on \"greeter-mesh/migration/state\""),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_token_is_not_a_missing_rule_even_behind_an_agent() {
        for body in ["ACL not found", "rpc error making call: ACL not found\n"] {
            assert_eq!(Refusal::parse(body), Refusal::UnknownToken, "{body}");
        }
        assert!(Refusal::UnknownToken.explain().contains("knows no such token"));
        // Older versions name nothing.
        let old = Refusal::parse("rpc error making call: Permission denied");
        assert!(matches!(old, Refusal::Denied(Denied { permission: None, .. })));
        assert!(old.explain().contains("does not say which"), "{}", old.explain());
        assert_eq!(
            Refusal::parse("Endpoint is blocked by agent configuration"),
            Refusal::Other("Endpoint is blocked by agent configuration".into())
        );
    }
}
