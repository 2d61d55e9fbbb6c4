//! The double's ACL tokens and rules, judged as Consul judges them with
//! `default_policy = "deny"` (`acl/policy_authorizer.go`: an exact rule
//! beats a prefix rule, the longest prefix wins, write grants read), and
//! refused in Consul's words (`acl/errors.go`): `ACL not found` for a
//! token it does not know, `Permission denied: token with AccessorID '...'
//! lacks permission 'key:write' on "..."` for a rule a token lacks, the
//! anonymous token's own sentence when no token was sent.

use axum::http::{HeaderMap, StatusCode};

/// What a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// `deny`.
    Deny,
    /// `read`.
    Read,
    /// `write` (grants read).
    Write,
}

impl Access {
    fn name(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// One rule of a policy: `key_prefix "greeter-mesh/" { policy = "write" }`
/// is `Rule::prefix("key", "greeter-mesh/", Write)`, `acl = "write"` is
/// `Rule::global("acl", Write)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `key`, `session`, `service`, `node`, `acl`, `operator`, ...
    pub resource: &'static str,
    /// The name or prefix; `None` for a global rule such as `acl`.
    pub segment: Option<String>,
    /// Whether `segment` is a prefix (`key_prefix`, `session_prefix`).
    pub prefix: bool,
    /// What it grants.
    pub access: Access,
}

impl Rule {
    /// `<resource> "<name>" { policy = "<access>" }`.
    pub fn exact(resource: &'static str, name: &str, access: Access) -> Self {
        Self {
            resource,
            segment: Some(name.to_owned()),
            prefix: false,
            access,
        }
    }

    /// `<resource>_prefix "<prefix>" { policy = "<access>" }`.
    pub fn prefix(resource: &'static str, prefix: &str, access: Access) -> Self {
        Self {
            resource,
            segment: Some(prefix.to_owned()),
            prefix: true,
            access,
        }
    }

    /// `<resource> = "<access>"`.
    pub fn global(resource: &'static str, access: Access) -> Self {
        Self {
            resource,
            segment: None,
            prefix: false,
            access,
        }
    }
}

/// A token the double knows.
#[derive(Debug, Clone)]
pub struct Token {
    /// Its AccessorID (the SecretID is the map's key).
    pub accessor: String,
    /// `None`: a management token, allowed everything.
    pub rules: Option<Vec<Rule>>,
}

/// The controller's policy, read from `consul/acl/migration-controller.hcl`
/// itself: the token the store is tested with holds exactly the rules
/// users create their token with, its session rule naming `node`.
pub fn controller_rules(node: &str) -> Vec<Rule> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../consul/acl/migration-controller.hcl");
    let text = std::fs::read_to_string(&path).unwrap();
    let policy = split::grant::PolicyFile::parse(&path, &text).unwrap();
    policy
        .rules
        .iter()
        .map(|rule| {
            let access = match rule.access.as_str() {
                "write" => Access::Write,
                "read" => Access::Read,
                _ => Access::Deny,
            };
            let (resource, prefix) = match rule.resource.strip_suffix("_prefix") {
                Some(resource) => (resource, true),
                None => (rule.resource.as_str(), false),
            };
            let resource: &'static str = match resource {
                "key" => "key",
                "session" => "session",
                "service" => "service",
                "node" => "node",
                other => panic!("{}: a rule on {other} the double does not judge", path.display()),
            };
            // The file names the ECS dev server's node; the double's may differ.
            let segment = if resource == "session" {
                node
            } else {
                rule.segment.as_str()
            };
            if prefix {
                Rule::prefix(resource, segment, access)
            } else {
                Rule::exact(resource, segment, access)
            }
        })
        .collect()
}

/// What a request needs: `resource:access` on `name`.
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    /// `key`, `session`, ...
    pub resource: &'static str,
    /// `None` for a global resource such as `acl`.
    pub name: Option<&'a str>,
    /// `read` or `write`.
    pub access: Access,
}

impl Need<'_> {
    /// Whether `rules` grant it.
    pub fn granted_by(&self, rules: &[Rule]) -> bool {
        let matching = rules.iter().filter(|r| r.resource == self.resource);
        let granted = match self.name {
            None => matching.filter(|r| r.segment.is_none()).map(|r| r.access).max(),
            Some(name) => {
                let exact = matching
                    .clone()
                    .find(|r| !r.prefix && r.segment.as_deref() == Some(name));
                exact
                    .or_else(|| {
                        matching
                            .filter(|r| r.prefix && r.segment.as_deref().is_some_and(|p| name.starts_with(p)))
                            .max_by_key(|r| r.segment.as_ref().map_or(0, String::len))
                    })
                    .map(|r| r.access)
            }
        };
        granted.is_some_and(|access| access != Access::Deny && access >= self.access)
    }

    /// Consul's words for a refusal of this to `accessor` (`None`: the
    /// anonymous token).
    pub fn denied(&self, accessor: Option<&str>) -> String {
        let mut text = String::from("Permission denied: ");
        match accessor {
            Some(id) => text.push_str(&format!("token with AccessorID '{id}'")),
            None => text.push_str("anonymous token"),
        }
        text.push_str(&format!(
            " lacks permission '{}:{}'",
            self.resource,
            self.access.name()
        ));
        if let Some(name) = self.name {
            text.push_str(&format!(" on \"{name}\""));
        }
        if accessor.is_none() {
            text.push_str(
                ". The anonymous token is used implicitly when a request does not specify a token.",
            );
        }
        text
    }
}

/// Who a request is: a token the double knows, the anonymous token (no
/// token sent), or an unknown one (`ACL not found`).
#[derive(Debug, Clone)]
pub enum Caller {
    /// A known token.
    Known(Token),
    /// No `X-Consul-Token`.
    Anonymous,
    /// A token the double does not know.
    Unknown,
}

impl Caller {
    /// The request's `X-Consul-Token`, resolved.
    pub fn of(tokens: &std::collections::BTreeMap<String, Token>, headers: &HeaderMap) -> Self {
        match headers.get("x-consul-token").map(|t| t.to_str().unwrap_or("")) {
            None | Some("") => Self::Anonymous,
            Some(secret) => tokens.get(secret).cloned().map_or(Self::Unknown, Self::Known),
        }
    }

    /// Consul's 403 for an unknown token, before anything else is judged.
    pub fn resolve(&self) -> Result<(), (StatusCode, String)> {
        match self {
            Self::Unknown => Err((StatusCode::FORBIDDEN, "ACL not found".to_owned())),
            _ => Ok(()),
        }
    }

    /// Consul's refusal text if this caller may not do `need`.
    pub fn refusal(&self, need: Need<'_>) -> Option<String> {
        match self {
            Self::Unknown => Some("ACL not found".to_owned()),
            Self::Anonymous => Some(need.denied(None)),
            Self::Known(token) => match &token.rules {
                None => None,
                Some(rules) if need.granted_by(rules) => None,
                Some(_) => Some(need.denied(Some(&token.accessor))),
            },
        }
    }

    /// The 403 if this caller may not do `need` (`ACL not found` for an
    /// unknown token, whatever the need).
    pub fn allow(&self, need: Need<'_>) -> Result<(), (StatusCode, String)> {
        match self.refusal(need) {
            None => Ok(()),
            Some(text) => Err((StatusCode::FORBIDDEN, text)),
        }
    }
}

#[test]
fn an_exact_rule_beats_a_prefix_and_write_grants_read() {
    let rules = vec![
        Rule::prefix("key", "greeter-mesh/", Access::Write),
        Rule::exact("key", "greeter-mesh/secret", Access::Deny),
        Rule::exact("service", "greeter-lambda", Access::Read),
    ];
    let need = |resource, name, access| Need {
        resource,
        name: Some(name),
        access,
    };
    assert!(need("key", "greeter-mesh/migration/state", Access::Read).granted_by(&rules));
    assert!(!need("key", "greeter-mesh/secret", Access::Read).granted_by(&rules));
    assert!(!need("key", "other/state", Access::Read).granted_by(&rules));
    assert!(need("service", "greeter-lambda", Access::Read).granted_by(&rules));
    assert!(!need("service", "greeter-lambda", Access::Write).granted_by(&rules));
    assert_eq!(
        need("session", "consul-server", Access::Write).denied(Some("a1")),
        "Permission denied: token with AccessorID 'a1' lacks permission 'session:write' on \"consul-server\""
    );
}
