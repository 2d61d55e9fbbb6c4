//! `split grant` against the Consul double: the exact requests (the
//! policy created by name, the role read by name and updated with the
//! link, the token on each), a second run that writes nothing, each 403
//! named for what it is (an unknown token, a rule the token lacks, no
//! token; a policy that is not there, which Consul also answers `ACL not
//! found`), and the binary's exit codes over http and https.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use split::grant::{self, GATEWAY_ROLE, GrantError, PolicyFile};

use crate::consul_double::acl::{Access, Rule};
use crate::consul_double::{self, CONTROLLER_TOKEN, TOKEN, client};
use crate::migrate::split;

const ROLE_ID: &str = "3c5d9b8e-role-0000-0000-terminating00";

/// The policy file `split grant` applies by default, from the repository's root.
fn repository_policy_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(grant::DEFAULT_POLICY_FILE)
}

fn repository_policy() -> PolicyFile {
    let path = repository_policy_path();
    PolicyFile::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A double holding the controller's role with `policies`, served on http.
async fn double(policies: Value) -> (consul_double::Shared, String) {
    let consul = consul_double::Consul::holding(None);
    consul_double::Consul::with_gateway_role(&consul, policies);
    let addr = consul_double::serve(consul.clone()).await;
    (consul, addr)
}

fn requests(consul: &consul_double::Shared) -> Vec<(String, u16)> {
    consul
        .lock()
        .unwrap()
        .log
        .iter()
        .map(|l| (l.request.clone(), l.status))
        .collect()
}

#[tokio::test]
async fn grant_creates_the_policy_by_name_and_links_it_to_the_gateway_role() {
    let (consul, addr) = double(json!([])).await;
    let policy = repository_policy();

    let applied = grant::grant(&client(&addr, Some(TOKEN)), &policy, GATEWAY_ROLE, false)
        .await
        .unwrap();

    // Consul answers a policy that is not there as it answers an unknown
    // token (consul #9933): the token is asked after, and known.
    assert_eq!(
        requests(&consul),
        [
            (
                "GET /v1/acl/policy/name/terminating-gateway-services".to_owned(),
                403
            ),
            ("GET /v1/acl/token/self".to_owned(), 200),
            (format!("GET /v1/acl/role/name/{GATEWAY_ROLE}"), 200),
            ("PUT /v1/acl/policy".to_owned(), 200),
            (format!("PUT /v1/acl/role/{ROLE_ID}"), 200),
        ]
    );
    let held = consul.lock().unwrap();
    assert!(held.problems.is_empty(), "{:?}", held.problems);
    let writes = held.acl_writes();
    assert_eq!(
        writes[0].1,
        json!({
            "Name": "terminating-gateway-services",
            "Description": "Written by split grant from terminating-gateway-services.hcl",
            "Rules": policy.text,
        })
    );
    assert!(
        policy
            .text
            .contains("service \"greeter-lambda\" {\n  policy = \"write\"\n}")
    );
    // The role as read, its indexes and hash left to Consul, the link added.
    assert_eq!(
        writes[1].1,
        json!({
            "ID": ROLE_ID,
            "Name": GATEWAY_ROLE,
            "Description": "ECS Terminating Gateway Role",
            "Policies": [{ "Name": "terminating-gateway-services" }],
        })
    );
    let policy_id = held.acl.policies[0]["ID"].clone();
    assert_eq!(
        held.acl.roles[0]["Policies"],
        json!([{ "ID": policy_id, "Name": "terminating-gateway-services" }])
    );
    assert!(applied.changed);
    assert_eq!(
        applied.lines,
        [
            "policy terminating-gateway-services: created".to_owned(),
            format!("role {GATEWAY_ROLE}: links policy terminating-gateway-services now"),
        ]
    );
}

#[tokio::test]
async fn a_second_grant_reads_and_writes_nothing() {
    let (consul, addr) = double(json!([])).await;
    let consul_client = client(&addr, Some(TOKEN));
    grant::grant(&consul_client, &repository_policy(), GATEWAY_ROLE, false)
        .await
        .unwrap();
    let first = consul.lock().unwrap().log.len();

    let again = grant::grant(&consul_client, &repository_policy(), GATEWAY_ROLE, false)
        .await
        .unwrap();

    assert!(!again.changed);
    assert_eq!(
        again.lines,
        [
            "policy terminating-gateway-services: unchanged".to_owned(),
            format!("role {GATEWAY_ROLE}: already links policy terminating-gateway-services"),
        ]
    );
    let log = requests(&consul);
    assert!(
        log[first..]
            .iter()
            .all(|(r, s)| r.starts_with("GET ") && *s == 200),
        "{log:?}"
    );
    assert_eq!(log.len(), first + 2);
}

#[tokio::test]
async fn changed_rules_update_the_policy_in_place_and_the_roles_other_links_stay() {
    let (consul, addr) = double(json!([])).await;
    let consul_client = client(&addr, Some(TOKEN));
    let old = PolicyFile::parse(
        Path::new("acl/terminating-gateway-services.hcl"),
        "service \"greeter-lambda\" {\n  policy = \"read\"\n}\n",
    )
    .unwrap();
    grant::grant(&consul_client, &old, GATEWAY_ROLE, false)
        .await
        .unwrap();
    {
        // Someone linked another policy to the role meanwhile.
        let mut held = consul.lock().unwrap();
        let other =
            json!({ "ID": "policy-other", "Name": "audit", "Rules": "", "CreateIndex": 1, "ModifyIndex": 1 });
        held.acl.policies.push(other);
        let links = held.acl.roles[0]["Policies"].as_array_mut().unwrap();
        links.insert(0, json!({ "ID": "policy-other", "Name": "audit" }));
    }
    let before = consul.lock().unwrap().log.len();

    let applied = grant::grant(&consul_client, &repository_policy(), GATEWAY_ROLE, false)
        .await
        .unwrap();

    let held = consul.lock().unwrap();
    let policy_id = held.acl.policies[0]["ID"].as_str().unwrap().to_owned();
    let log: Vec<String> = held.log[before..].iter().map(|l| l.request.clone()).collect();
    assert_eq!(
        log,
        [
            "GET /v1/acl/policy/name/terminating-gateway-services".to_owned(),
            format!("GET /v1/acl/role/name/{GATEWAY_ROLE}"),
            format!("PUT /v1/acl/policy/{policy_id}"),
        ]
    );
    assert_eq!(held.acl.policies[0]["Rules"], json!(repository_policy().text));
    assert_eq!(held.acl.roles[0]["Policies"].as_array().unwrap().len(), 2);
    assert!(held.problems.is_empty(), "{:?}", held.problems);
    assert_eq!(
        applied.lines[0],
        "policy terminating-gateway-services: updated (its rules differed)"
    );
}

#[tokio::test]
async fn a_dry_run_reads_and_prints_the_writes_without_making_them() {
    let (consul, addr) = double(json!([])).await;

    let applied = grant::grant(
        &client(&addr, Some(TOKEN)),
        &repository_policy(),
        GATEWAY_ROLE,
        true,
    )
    .await
    .unwrap();

    assert!(requests(&consul).iter().all(|(r, _)| r.starts_with("GET ")));
    assert!(consul.lock().unwrap().acl.policies.is_empty());
    let text = applied.lines.join("\n");
    assert!(
        text.contains("policy terminating-gateway-services: would be created"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  PUT http://{addr}/v1/acl/policy {{")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  PUT http://{addr}/v1/acl/role/{ROLE_ID} {{")),
        "{text}"
    );
}

#[tokio::test]
async fn without_the_role_nothing_is_written_and_the_error_says_who_makes_it() {
    let consul = consul_double::Consul::holding(None);
    let addr = consul_double::serve(consul.clone()).await;

    let err = grant::grant(
        &client(&addr, Some(TOKEN)),
        &repository_policy(),
        GATEWAY_ROLE,
        false,
    )
    .await
    .unwrap_err();

    assert!(matches!(err, GrantError::NoRole { .. }), "{err}");
    assert!(
        err.to_string().contains("consul-ecs's controller makes it"),
        "{err}"
    );
    assert!(consul.lock().unwrap().acl_writes().is_empty());
}

/// Runs the grant with `token` on a double holding the gateway's role;
/// answers the error and the requests made.
async fn refused_grant(
    token: Option<&str>,
    extra: Option<(&str, Vec<Rule>)>,
) -> (GrantError, Vec<(String, u16)>) {
    let (consul, addr) = double(json!([])).await;
    if let Some((secret, rules)) = extra {
        consul_double::Consul::add_token(&consul, secret, "7e3a0f4c-acl-reader-0001", Some(rules));
    }
    let err = grant::grant(&client(&addr, token), &repository_policy(), GATEWAY_ROLE, false)
        .await
        .unwrap_err();
    assert!(consul.lock().unwrap().acl_writes().is_empty());
    (err, requests(&consul))
}

#[tokio::test]
async fn an_unknown_token_is_named_as_such_not_taken_for_a_first_run() {
    let (err, requests) = refused_grant(Some("not-a-token-consul-knows"), None).await;

    assert!(matches!(err, GrantError::UnknownToken { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("it knows no such token (\"ACL not found\""),
        "{text}"
    );
    assert!(
        text.contains("deleted, has expired, or belongs to another cluster"),
        "{text}"
    );
    assert_eq!(
        requests,
        [
            (
                "GET /v1/acl/policy/name/terminating-gateway-services".to_owned(),
                403
            ),
            ("GET /v1/acl/token/self".to_owned(), 403),
        ]
    );
}

#[tokio::test]
async fn a_token_that_may_read_but_not_write_acls_is_refused_naming_acl_write() {
    let reader = "41c2e7d0-0000-4000-8000-acl0reader01";
    let (err, requests) = refused_grant(
        Some(reader),
        Some((reader, vec![Rule::global("acl", Access::Read)])),
    )
    .await;

    assert!(matches!(err, GrantError::Forbidden { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "Consul refused PUT /v1/acl/policy: Permission denied: the token (AccessorID 7e3a0f4c-acl-reader-0001) lacks acl:write: its policy needs acl = \"write\""
        ),
        "{text}"
    );
    assert_eq!(requests.last().unwrap(), &("PUT /v1/acl/policy".to_owned(), 403));
}

#[tokio::test]
async fn a_token_without_acl_rules_is_refused_naming_acl_read() {
    let (err, requests) = refused_grant(Some(CONTROLLER_TOKEN), None).await;

    assert!(matches!(err, GrantError::Forbidden { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("lacks acl:read: its policy needs acl = \"read\""),
        "{text}"
    );
    assert!(
        text.contains("split grant needs a token with acl = \"write\""),
        "{text}"
    );
    assert_eq!(requests.len(), 1, "{requests:?}");
}

#[tokio::test]
async fn no_token_is_named_as_such() {
    let (err, _) = refused_grant(None, None).await;

    let text = err.to_string();
    assert!(matches!(err, GrantError::Forbidden { .. }), "{text}");
    assert!(text.contains("no token was sent"), "{text}");
    assert!(text.contains("set CONSUL_HTTP_TOKEN"), "{text}");
}

#[tokio::test]
async fn with_acls_off_there_is_nothing_to_grant() {
    let (consul, addr) = double(json!([])).await;
    consul.lock().unwrap().acls_disabled = true;

    let applied = grant::grant(
        &client(&addr, Some(TOKEN)),
        &repository_policy(),
        GATEWAY_ROLE,
        false,
    )
    .await
    .unwrap();

    assert!(!applied.changed);
    assert!(applied.lines[0].contains("ACLs are off"), "{:?}", applied.lines);
    assert!(consul.lock().unwrap().acl_writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_grants_over_https_then_says_nothing_changed() {
    let consul = consul_double::Consul::holding(None);
    consul_double::Consul::with_gateway_role(&consul, json!([]));
    let addr = consul_double::serve_tls(consul.clone()).await;
    let env = [
        ("CONSUL_HTTP_ADDR", format!("https://{addr}")),
        ("CONSUL_HTTP_TOKEN", TOKEN.to_owned()),
        (
            "CONSUL_CACERT",
            format!("{}/tests/fixtures/consul-ca.pem", env!("CARGO_MANIFEST_DIR")),
        ),
    ];

    let policy = repository_policy_path();
    let args = ["grant", "--policy", policy.to_str().unwrap()];
    let first = split(&args, &env).await;
    let second = split(&args, &env).await;

    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.ends_with("done\n"), "{stdout}");
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{stdout}");
    assert!(stdout.ends_with("nothing changed\n"), "{stdout}");
    assert_eq!(consul.lock().unwrap().acl_writes().len(), 2);
    assert!(consul.lock().unwrap().problems.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_refuses_a_bad_policy_file_with_64_and_a_failed_grant_with_1() {
    let (consul, addr) = double(json!([])).await;
    let dir = std::env::temp_dir().join(format!("split-grant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("gateway.hcl");
    std::fs::write(&bad, "service \"greeter-lambda\" {\n  policy = \"owner\"\n}\n").unwrap();
    let env = [
        ("CONSUL_HTTP_ADDR", addr.clone()),
        ("CONSUL_HTTP_TOKEN", TOKEN.to_owned()),
    ];

    let refused = split(&["grant", "--policy", bad.to_str().unwrap()], &env).await;
    let policy = repository_policy_path();
    let no_role = split(
        &[
            "grant",
            "--policy",
            policy.to_str().unwrap(),
            "--role",
            "no-such-role",
        ],
        &env,
    )
    .await;
    std::fs::remove_dir_all(&dir).unwrap();

    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("is not policy = \"read\", \"write\" or \"deny\""),
        "{stderr}"
    );
    let stderr = String::from_utf8_lossy(&no_role.stderr);
    assert_eq!(no_role.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Consul has no ACL role no-such-role"), "{stderr}");
    assert!(consul.lock().unwrap().acl_writes().is_empty());
}
