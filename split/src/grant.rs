//! `split grant`: the ACL grant without which the terminating gateway
//! cannot serve greeter-lambda.
//!
//! Consul on AWS runs its ACLs with `default_policy = "deny"`. consul-ecs's
//! controller makes the role `consul-ecs-terminating-gateway-role`, which
//! every terminating gateway task logs in with, and gives it no policy: the
//! gateway gets a certificate for a linked service only with `service
//! "<name>" { policy = "write" }` (consul-ecs's terminating-gateway example
//! attaches one such policy per linked service). This module writes that
//! policy from a file in `consul/acl/` and links it to the role, over
//! Consul's HTTP API with the settings the consul CLI reads, so it runs
//! where `split migrate --target consul` runs and is tested against the
//! same Consul double. Both writes are compare-then-write: a second run
//! reads what it wrote and writes nothing.
//!
//! Consul answers 403 for three different things, and each is named for
//! what it is ([`migration::consul::refusal`]): a token it does not know
//! (`ACL not found`), a token without `acl = "write"` (`Permission denied:
//! token with AccessorID '...' lacks permission 'acl:write'`), and, on a
//! read of a policy by name, a policy that is not there: that one is also
//! `ACL not found` (consul #9933), so before reading it as "absent" the
//! run asks Consul who the token is (`GET /v1/acl/token/self`), and an
//! unknown token is named as such rather than mistaken for a first run.

use std::path::Path;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use migration::consul::refusal::Refusal;
use migration::consul::{self, Consul, ConsulError, Settings};

use crate::output::Output;

/// The role consul-ecs's controller (0.10) makes for terminating gateways.
pub const GATEWAY_ROLE: &str = "consul-ecs-terminating-gateway-role";
/// The policy file `split grant` applies by default.
pub const DEFAULT_POLICY_FILE: &str = "consul/acl/terminating-gateway-services.hcl";
/// How long one call to Consul may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The fields Consul keeps itself; never sent back.
const OWN_FIELDS: [&str; 3] = ["CreateIndex", "ModifyIndex", "Hash"];

/// An ACL policy file: its name (the file's stem), its rules as written,
/// and what they grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// The policy's name in Consul.
    pub name: String,
    /// The rules, as Consul stores them.
    pub text: String,
    /// One per `service "x" { policy = "write" }` block, and the like.
    pub rules: Vec<Rule>,
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `service`, `node_prefix`, ...
    pub resource: String,
    /// The block's label: a name, or a prefix.
    pub segment: String,
    /// `read`, `write` or `deny`.
    pub access: String,
}

impl PolicyFile {
    /// Parses a file of ACL rules. Only resource blocks with one label and
    /// a `policy` are known (what this project writes); anything else is
    /// refused rather than sent to Consul unread.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|n| {
                !n.is_empty()
                    && n.len() <= 128
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
            .ok_or("the file's name (the policy's) must be 1 to 128 letters, digits, - or _, then .hcl")?
            .to_owned();
        let body = hcl::parse(text).map_err(|e| e.to_string().replace('\n', " "))?;
        if let Some(attribute) = body.attributes().next() {
            return Err(format!(
                "{} = ...: only resource blocks such as service \"x\" {{ policy = \"write\" }} are expected",
                attribute.key()
            ));
        }
        let mut rules = Vec::new();
        for block in body.blocks() {
            let resource = block.identifier();
            let [label] = block.labels() else {
                return Err(format!(
                    "{resource}: a rule block takes one label, its name or prefix"
                ));
            };
            let mut access = None;
            for attribute in block.body().attributes() {
                match (attribute.key(), attribute.expr()) {
                    ("policy", hcl::Expression::String(p))
                        if ["read", "write", "deny"].contains(&p.as_str()) =>
                    {
                        access = Some(p.clone());
                    }
                    (key, _) => {
                        return Err(format!(
                            "{resource} {:?}: {key} is not policy = \"read\", \"write\" or \"deny\"",
                            label.as_str()
                        ));
                    }
                }
            }
            let access = access.ok_or_else(|| format!("{resource} {:?} has no policy", label.as_str()))?;
            rules.push(Rule {
                resource: resource.to_owned(),
                segment: label.as_str().to_owned(),
                access,
            });
        }
        if rules.is_empty() {
            return Err("no rule in it".to_owned());
        }
        Ok(Self {
            name,
            text: text.to_owned(),
            rules,
        })
    }

    /// The description the policy carries in Consul.
    fn description(&self) -> String {
        format!("Written by split grant from {}.hcl", self.name)
    }
}

/// Why the grant could not be made.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Consul unreachable, a timeout, TLS, an odd answer.
    #[error(transparent)]
    Consul(#[from] ConsulError),
    /// 403 `Permission denied`: a token Consul knows lacks a rule (or no
    /// token was sent).
    #[error(
        "Consul refused {request}: {detail}. split grant needs a token with acl = \"write\", such as the dev server's bootstrap token (terraform -chdir=terraform output -raw consul_http_token)"
    )]
    Forbidden {
        /// The request refused.
        request: String,
        /// What is missing, in Consul's words and as a policy line.
        detail: String,
    },
    /// 403 `ACL not found`, and Consul does not know the token either.
    #[error(
        "Consul refused {request}: it knows no such token (\"ACL not found\", and so does GET /v1/acl/token/self): the token in CONSUL_HTTP_TOKEN was deleted, has expired, or belongs to another cluster; use one with acl = \"write\", such as the dev server's bootstrap token (terraform -chdir=terraform output -raw consul_http_token)"
    )]
    UnknownToken {
        /// The request refused.
        request: String,
    },
    /// The role is not there (yet).
    #[error(
        "Consul has no ACL role {role}: consul-ecs's controller makes it when it starts, so apply terraform/ and wait for the controller's task (or check that CONSUL_HTTP_ADDR is that cluster's Consul)"
    )]
    NoRole {
        /// The role's name.
        role: String,
    },
}

/// What one run did, or would do: a line per object, and whether anything
/// was (or would be) written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// One line per object.
    pub lines: Vec<String>,
    /// Whether a write happened (or, on a dry run, would).
    pub changed: bool,
}

/// Creates or updates the policy by name and links it to `role`, writing
/// only what differs. On a dry run, reads only, and says what it would
/// write.
pub async fn grant(
    consul: &Consul,
    policy: &PolicyFile,
    role: &str,
    dry_run: bool,
) -> Result<Applied, GrantError> {
    let mut applied = Applied {
        lines: Vec::new(),
        changed: false,
    };
    let would = if dry_run { "would be " } else { "" };

    let wanted = json!({
        "Name": policy.name,
        "Description": policy.description(),
        "Rules": policy.text,
    });
    // Both reads first: a missing role stops the run before any write.
    let current = match read(consul, &format!("/v1/acl/policy/name/{}", policy.name)).await {
        Err(GrantError::Consul(ConsulError::Status { status, detail, .. }))
            if status == StatusCode::UNAUTHORIZED && detail.contains("ACL support disabled") =>
        {
            applied.lines.push(
                "Consul's ACLs are off (it answered 401 \"ACL support disabled\"): the gateway needs no grant".to_owned(),
            );
            return Ok(applied);
        }
        other => other?,
    };
    let held_role = read(consul, &format!("/v1/acl/role/name/{role}"))
        .await?
        .ok_or_else(|| GrantError::NoRole {
            role: role.to_owned(),
        })?;

    let mut writes = Vec::new();
    match &current {
        None => {
            applied
                .lines
                .push(format!("policy {}: {would}created", policy.name));
            writes.push(("/v1/acl/policy".to_owned(), wanted));
        }
        Some(held) if held["Rules"] == wanted["Rules"] && held["Description"] == wanted["Description"] => {
            applied.lines.push(format!("policy {}: unchanged", policy.name));
        }
        Some(held) => {
            let id = string_field(held, "ID", "GET /v1/acl/policy/name")?;
            let mut body = without_own_fields(held);
            body.insert("Rules".into(), wanted["Rules"].clone());
            body.insert("Description".into(), wanted["Description"].clone());
            applied.lines.push(format!(
                "policy {}: {would}updated (its rules differed)",
                policy.name
            ));
            writes.push((format!("/v1/acl/policy/{id}"), Value::Object(body)));
        }
    }

    let mut links = held_role["Policies"].as_array().cloned().unwrap_or_default();
    if links.iter().any(|l| l["Name"] == policy.name.as_str()) {
        applied
            .lines
            .push(format!("role {role}: already links policy {}", policy.name));
    } else {
        let id = string_field(&held_role, "ID", "GET /v1/acl/role/name")?;
        let mut body = without_own_fields(&held_role);
        // By name, as consul-ecs's controller links its own policies:
        // Consul resolves it to the policy's ID.
        links.push(json!({ "Name": policy.name }));
        body.insert("Policies".into(), Value::Array(links));
        let verb = if dry_run { "would link" } else { "links" };
        applied
            .lines
            .push(format!("role {role}: {verb} policy {} now", policy.name));
        writes.push((format!("/v1/acl/role/{id}"), Value::Object(body)));
    }

    applied.changed = !writes.is_empty();
    for (path, body) in writes {
        if dry_run {
            applied.lines.push(describe(consul, &path, &body));
        } else {
            put(consul, &path, &body).await?;
        }
    }
    Ok(applied)
}

/// `split grant`'s whole run, for the command line: its exit code (0 done,
/// 1 refused or failed, 64 bad input) and what it prints.
pub async fn command(policy_file: &Path, role: &str, dry_run: bool) -> Output {
    let output = |stdout: String, stderr: String, code| Output { stdout, stderr, code };
    let usage = |message: String| output(String::new(), format!("split grant: {message}\n"), 64);
    if role.is_empty()
        || !role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return usage(format!(
            "--role {role:?}: a Consul role name is letters, digits, - or _"
        ));
    }
    let text = match std::fs::read_to_string(policy_file) {
        Ok(text) => text,
        Err(e) => return usage(format!("{}: {e}", policy_file.display())),
    };
    let policy = match PolicyFile::parse(policy_file, &text) {
        Ok(policy) => policy,
        Err(e) => return usage(format!("{}: {e}", policy_file.display())),
    };
    let consul = match Settings::from_lookup(|k| std::env::var(k).ok())
        .map_err(|e| e.to_string())
        .and_then(|s| Consul::new(s, TIMEOUT).map_err(|e| e.to_string()))
    {
        Ok(consul) => consul,
        Err(e) => return usage(e),
    };
    match grant(&consul, &policy, role, dry_run).await {
        Ok(applied) => {
            let mut stdout: String = applied.lines.iter().map(|l| format!("{l}\n")).collect();
            stdout.push_str(match (dry_run, applied.changed) {
                (true, _) => "dry run: nothing written\n",
                (false, false) => "nothing changed\n",
                (false, true) => "done\n",
            });
            output(stdout, String::new(), 0)
        }
        Err(e) => output(String::new(), format!("split grant: {e}\n"), 1),
    }
}

/// An object Consul holds, or `None` when it holds none: a 404, or a 403
/// `ACL not found` for a token Consul knows (consul #9933).
async fn read(consul: &Consul, path: &str) -> Result<Option<Value>, GrantError> {
    let request = format!("GET {path}");
    let (status, body) = consul.call(Method::GET, path, None).await?;
    match status {
        StatusCode::OK => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| bad_answer(&request, e.to_string())),
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::FORBIDDEN if is_not_found(&body) => {
            // The object, or the token? Ask who the token is.
            if token_is_known(consul).await? {
                Ok(None)
            } else {
                Err(GrantError::UnknownToken { request })
            }
        }
        other => Err(refused(other, request, &body)),
    }
}

fn is_not_found(body: &[u8]) -> bool {
    Refusal::parse(&String::from_utf8_lossy(body)) == Refusal::UnknownToken
}

/// Whether Consul knows the token (any token may read itself).
async fn token_is_known(consul: &Consul) -> Result<bool, GrantError> {
    let path = "/v1/acl/token/self";
    let (status, body) = consul.call(Method::GET, path, None).await?;
    match status {
        StatusCode::OK => Ok(true),
        StatusCode::FORBIDDEN if is_not_found(&body) => Ok(false),
        other => Err(refused(other, format!("GET {path}"), &body)),
    }
}

async fn put(consul: &Consul, path: &str, body: &Value) -> Result<(), GrantError> {
    let request = format!("PUT {path}");
    let (status, answer) = consul
        .call(Method::PUT, path, Some(body.to_string().into_bytes()))
        .await?;
    if status != StatusCode::OK {
        return Err(refused(status, request, &answer));
    }
    Ok(())
}

fn describe(consul: &Consul, path: &str, body: &Value) -> String {
    format!("  PUT {}{} {body}", consul.address().trim_end_matches('/'), path)
}

fn refused(status: StatusCode, request: String, body: &[u8]) -> GrantError {
    if status == StatusCode::FORBIDDEN {
        return match Refusal::parse(&String::from_utf8_lossy(body)) {
            Refusal::UnknownToken => GrantError::UnknownToken { request },
            refusal => GrantError::Forbidden {
                request,
                detail: refusal.explain(),
            },
        };
    }
    GrantError::Consul(ConsulError::Status {
        status,
        request,
        detail: consul::refusal_detail(body),
    })
}

fn bad_answer(request: &str, detail: String) -> GrantError {
    GrantError::Consul(ConsulError::BadAnswer {
        request: request.to_owned(),
        detail,
    })
}

fn string_field<'a>(object: &'a Value, field: &str, request: &str) -> Result<&'a str, GrantError> {
    object[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_answer(request, format!("no {field}")))
}

fn without_own_fields(object: &Value) -> serde_json::Map<String, Value> {
    let mut map = object.as_object().cloned().unwrap_or_default();
    for own in OWN_FIELDS {
        map.remove(own);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PolicyFile, String> {
        PolicyFile::parse(Path::new("consul/acl/terminating-gateway-services.hcl"), text)
    }

    #[test]
    fn a_service_write_rule_is_read_with_the_files_name() {
        let policy = parse("service \"greeter-lambda\" {\n  policy = \"write\"\n}\n").unwrap();
        assert_eq!(policy.name, "terminating-gateway-services");
        assert_eq!(
            policy.rules,
            [Rule {
                resource: "service".into(),
                segment: "greeter-lambda".into(),
                access: "write".into()
            }]
        );
    }

    #[test]
    fn rules_it_does_not_know_are_refused() {
        for (text, expected) in [
            (
                "service \"greeter-lambda\" {\n  policy = \"admin\"\n}\n",
                "is not policy",
            ),
            (
                "service \"greeter-lambda\" {\n  intentions = \"read\"\n}\n",
                "intentions is not policy",
            ),
            ("service {\n  policy = \"write\"\n}\n", "takes one label"),
            ("operator = \"write\"\n", "only resource blocks"),
            ("# nothing\n", "no rule in it"),
            ("service \"x\" {", ""),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_file_name_consul_would_refuse_as_a_policy_name_is_refused() {
        let err = PolicyFile::parse(
            Path::new("acl/tg policy.hcl"),
            "service \"a\" {\n  policy = \"write\"\n}\n",
        )
        .unwrap_err();
        assert!(err.contains("letters, digits"), "{err}");
    }
}
