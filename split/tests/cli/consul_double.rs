//! A stand-in for Consul's HTTP API, as `split migrate` uses it and as
//! Consul documents it (`website/content/api-docs/config.mdx`,
//! `agent/config_endpoint.go`): `GET /v1/config/service-splitter/greeter`
//! (404 when there is none), `PUT /v1/config?cas=<ModifyIndex>` answering
//! `true` or `false` (cas 0: only if there is none), the token in
//! `X-Consul-Token` (403 without a valid one), and the splitter validated
//! as Consul validates it (weights summing to 100 at 0.01, no destination
//! twice). Every request is logged and checked; anything else the double
//! sees is a problem the test reports. Served over http, or https with the
//! certificate in `tests/fixtures`.
//!
//! The ACL endpoints `split grant` uses, as `agent/acl_endpoint.go`
//! serves them: `GET /v1/acl/policy/name/<name>` (a policy that is not
//! there is a 403 `ACL not found`, as for an unknown token: consul #9933),
//! `GET /v1/acl/role/name/<name>` (404 with no body when there is none),
//! `GET /v1/acl/token/self`, `PUT /v1/acl/policy` (create; a name taken is
//! a 400), `PUT /v1/acl/policy/<id>` and `PUT /v1/acl/role/<id>` (update;
//! the role's policy links resolved by ID or name, an unknown one a 400).
//!
//! Every endpoint judges the request's token by its rules, as Consul does
//! with `default_policy = "deny"` ([`acl`]): [`TOKEN`] may do anything,
//! [`CONTROLLER_TOKEN`] holds exactly the controller's policy, and tests
//! add tokens lacking a rule. KV, sessions and transactions are in [`kv`].
//!
//! Next to it, a fake ingress that answers as the split the double holds
//! says: `From ingress: From lambda: ...` for the Lambda's exact share of
//! requests, the container greeter's answer for the rest.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde_json::{Value, json};
use service_core::upstream::UpstreamError;

use crate::double;

pub mod acl;
pub mod kv;

use acl::{Access, Caller, Need, Token};

/// A management token: allowed everything.
pub const TOKEN: &str = "8f2b6c1e-5d8a-4f5e-9b47-3c1d2e7a9f60";
/// The management token's AccessorID.
pub const TOKEN_ACCESSOR: &str = "0c7f5a9e-1b2d-4c3e-8f6a-management01";
/// A token with exactly the controller's policy (`key_prefix
/// "greeter-mesh/"` write, `session "consul-server"` write, `service
/// "greeter"` write, `service "greeter-lambda"` read).
pub const CONTROLLER_TOKEN: &str = "2d9e4f1a-7c3b-4e8d-a5f6-0b1c2d3e4f5a";
/// Its AccessorID, as Consul's refusals name it.
pub const CONTROLLER_ACCESSOR: &str = "6a1b2c3d-4e5f-4a6b-8c7d-controller01";
/// The node the double's server runs on, with its `serfHealth` check.
pub const NODE: &str = "consul-server";

/// One request the double got.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// `GET /v1/config/service-splitter/greeter`, `PUT /v1/config?cas=7`.
    pub request: String,
    /// The status answered.
    pub status: u16,
    /// The body sent, for a PUT.
    pub body: Option<Value>,
}

/// What the double holds.
#[derive(Debug, Default)]
pub struct Consul {
    /// The greeter splitter, with its indexes.
    pub entry: Option<Value>,
    /// Consul's raft index: each write takes the next one.
    pub index: u64,
    /// Every request, in order.
    pub log: Vec<Logged>,
    /// Requests that break the documented API.
    pub problems: Vec<String>,
    /// ACL policies and roles.
    pub acl: Acl,
    /// Right after the n-th write Consul takes (from 1), someone else
    /// writes the Lambda at 30 %.
    pub change_after_write: Option<usize>,
    /// Tokens by SecretID.
    pub tokens: std::collections::BTreeMap<String, Token>,
    /// The KV store.
    pub kv: std::collections::BTreeMap<String, kv::KvEntry>,
    /// The KV table's index: a missing key's `X-Consul-Index`.
    pub kv_index: u64,
    /// Sessions by ID.
    pub sessions: std::collections::BTreeMap<String, kv::Session>,
    /// Registered nodes and their checks `(CheckID, status)`.
    pub nodes: std::collections::BTreeMap<String, Vec<(String, String)>>,
    /// The node a session binds to when the create names none.
    pub agent_node: String,
    /// Keys closed by a lock-delay, until when.
    pub lock_delays: std::collections::BTreeMap<String, std::time::Duration>,
    /// The double's time.
    pub clock: kv::Clock,
    /// Consul's `session_ttl_min`.
    pub session_ttl_min: std::time::Duration,
    /// Sessions created so far (their IDs are numbered).
    pub next_session: u64,
    /// Wakes blocking reads when anything is written.
    pub changed: tokio::sync::watch::Sender<u64>,
    /// ACLs off: the ACL endpoints answer 401 `ACL support disabled`.
    pub acls_disabled: bool,
    /// Blocking reads waiting now.
    pub waiting: usize,
}

/// The ACL objects the double holds, as Consul answers them.
#[derive(Debug, Default)]
pub struct Acl {
    /// Policies, with `ID` and indexes.
    pub policies: Vec<Value>,
    /// Roles, with `ID` and indexes.
    pub roles: Vec<Value>,
}

pub type Shared = Arc<Mutex<Consul>>;

impl double::Problems for Consul {
    fn problems(&mut self) -> &mut Vec<String> {
        &mut self.problems
    }
}

impl Consul {
    /// A double holding the splitter at `lambda` percent, or none.
    pub fn holding(lambda: Option<f64>) -> Shared {
        let mut consul = Self {
            index: 40,
            kv_index: 1,
            agent_node: NODE.to_owned(),
            session_ttl_min: std::time::Duration::from_secs(10),
            ..Self::default()
        };
        consul.tokens.insert(
            TOKEN.to_owned(),
            Token {
                accessor: TOKEN_ACCESSOR.to_owned(),
                rules: None,
            },
        );
        consul.tokens.insert(
            CONTROLLER_TOKEN.to_owned(),
            Token {
                accessor: CONTROLLER_ACCESSOR.to_owned(),
                rules: Some(acl::controller_rules(NODE)),
            },
        );
        consul.nodes.insert(
            NODE.to_owned(),
            vec![("serfHealth".to_owned(), "passing".to_owned())],
        );
        if let Some(lambda) = lambda {
            consul.store(splitter(lambda, &json!({ "owner": "platform" })));
        }
        Arc::new(Mutex::new(consul))
    }

    /// Stores an entry as a write does: the next index.
    pub fn store(&mut self, mut entry: Value) {
        self.index += 1;
        let create = entry.get("CreateIndex").and_then(Value::as_u64);
        let object = entry.as_object_mut().unwrap();
        let previous_create = self
            .entry
            .as_ref()
            .and_then(|e| e.get("CreateIndex"))
            .and_then(Value::as_u64);
        object.insert(
            "CreateIndex".into(),
            json!(previous_create.or(create).unwrap_or(self.index)),
        );
        object.insert("ModifyIndex".into(), json!(self.index));
        self.entry = Some(entry);
    }

    /// Someone else's write, if one is due after this run's latest.
    fn after_write(&mut self) {
        let taken = self
            .log
            .iter()
            .filter(|l| l.request.starts_with("PUT /v1/config") && l.status == 200)
            .count()
            + 1;
        if self.change_after_write == Some(taken) {
            self.store(splitter(30.0, &json!({ "owner": "someone else" })));
        }
    }

    /// The Lambda's weight the double holds, 0 with no splitter.
    pub fn lambda(&self) -> f64 {
        self.entry.as_ref().map_or(0.0, |e| {
            e["Splits"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["Service"] == "greeter-lambda")
                .map(|s| s["Weight"].as_f64().unwrap())
                .sum()
        })
    }

    /// The bodies of every config entry write that Consul took.
    pub fn writes(&self) -> Vec<(String, Value)> {
        self.log
            .iter()
            .filter(|l| l.request.starts_with("PUT /v1/config") && l.status == 200)
            .map(|l| (l.request.clone(), l.body.clone().unwrap()))
            .collect()
    }
}

/// A splitter entry as Consul returns it, without indexes.
pub fn splitter(lambda: f64, meta: &Value) -> Value {
    json!({
        "Kind": "service-splitter",
        "Name": "greeter",
        "Splits": [
            { "Weight": 100.0 - lambda, "Service": "greeter" },
            { "Weight": lambda, "Service": "greeter-lambda" }
        ],
        "Meta": meta
    })
}

/// Whether the request's token may do `need`, in Consul's words if not; a
/// request with no token at all is a problem besides.
fn authorised(
    consul: &mut Consul,
    request: &str,
    headers: &HeaderMap,
    need: Need<'_>,
) -> Result<(), (StatusCode, String)> {
    let caller = Caller::of(&consul.tokens, headers);
    if matches!(caller, Caller::Anonymous) {
        consul.problems.push(format!("{request} without X-Consul-Token"));
    }
    caller.allow(need)
}

/// What reading or writing the greeter splitter needs.
fn splitter_need(access: Access) -> Need<'static> {
    Need {
        resource: "service",
        name: Some("greeter"),
        access,
    }
}

/// Consul's answer on an ACL endpoint when ACLs are off.
pub fn acls_enabled(consul: &Consul) -> Result<(), (StatusCode, String)> {
    if consul.acls_disabled {
        return Err((StatusCode::UNAUTHORIZED, "ACL support disabled".to_owned()));
    }
    Ok(())
}

/// What managing ACLs needs.
fn acl_need(access: Access) -> Need<'static> {
    Need {
        resource: "acl",
        name: None,
        access,
    }
}

async fn read(State(shared): State<Shared>, headers: HeaderMap) -> (StatusCode, String) {
    let mut consul = shared.lock().unwrap();
    let request = "GET /v1/config/service-splitter/greeter".to_owned();
    let answer = match authorised(&mut consul, &request, &headers, splitter_need(Access::Read)) {
        Err(refused) => refused,
        Ok(()) => match &consul.entry {
            Some(entry) => (StatusCode::OK, entry.to_string()),
            None => (
                StatusCode::NOT_FOUND,
                "Config entry not found for \"service-splitter\" / \"greeter\"".into(),
            ),
        },
    };
    consul.log.push(Logged {
        request,
        status: answer.0.as_u16(),
        body: None,
    });
    answer
}

async fn write(
    State(shared): State<Shared>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mut consul = shared.lock().unwrap();
    let query_text: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let request = format!("PUT /v1/config?{}", query_text.join("&"));
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let answer = (|| {
        authorised(&mut consul, &request, &headers, splitter_need(Access::Write))?;
        // Redirecting greeter's calls needs read on where they go.
        Caller::of(&consul.tokens, &headers).allow(Need {
            resource: "service",
            name: Some("greeter-lambda"),
            access: Access::Read,
        })?;
        let bad = |why: String| (StatusCode::BAD_REQUEST, format!("Request decoding failed: {why}"));
        let Some(entry) = parsed.clone() else {
            return Err(bad("the body is not JSON".into()));
        };
        validate(&entry).map_err(bad)?;
        let cas = match query.as_slice() {
            [(key, value)] if key == "cas" => value.parse::<u64>().map_err(|e| bad(e.to_string()))?,
            _ => {
                return Err(bad(format!("expected only ?cas=<ModifyIndex>, got {query:?}")));
            }
        };
        let current = consul.entry.as_ref().map(|e| e["ModifyIndex"].as_u64().unwrap());
        // Consul's check-and-set: 0 creates only; otherwise the index must match.
        let applies = match (cas, current) {
            (0, None) => true,
            (0, Some(_)) | (_, None) => false,
            (cas, Some(index)) => cas == index,
        };
        if applies {
            consul.store(entry);
            consul.after_write();
        }
        Ok((StatusCode::OK, applies.to_string()))
    })()
    .unwrap_or_else(|refused| refused);
    consul.log.push(Logged {
        request,
        status: answer.0.as_u16(),
        body: parsed,
    });
    answer
}

/// What Consul's decoding and `ServiceSplitterConfigEntry.Validate` refuse.
fn validate(entry: &Value) -> Result<(), String> {
    let object = entry.as_object().ok_or("not an object")?;
    for key in object.keys() {
        if !["Kind", "Name", "Splits", "Meta", "Namespace", "Partition"].contains(&key.as_str()) {
            return Err(format!("invalid config key {key:?}"));
        }
    }
    if entry["Kind"] != "service-splitter" || entry["Name"] != "greeter" {
        return Err(format!("not the greeter service-splitter: {entry}"));
    }
    let splits = entry["Splits"].as_array().ok_or("no splits configured")?;
    let mut seen = Vec::new();
    let mut sum = 0i64;
    for split in splits {
        let weight = split["Weight"]
            .as_f64()
            .ok_or("a split without a numeric Weight")?;
        let service = split["Service"].as_str().unwrap_or("greeter");
        if seen.contains(&service) {
            return Err(format!(
                "split destination occurs more than once: service={service:?}"
            ));
        }
        seen.push(service);
        sum += (weight * 100.0).round() as i64;
    }
    if sum != 10_000 {
        return Err(format!(
            "the sum of all split weights must be 100, not {}",
            sum as f64 / 100.0
        ));
    }
    Ok(())
}

impl Consul {
    /// Adds the role consul-ecs's controller makes at start-up: no policy.
    pub fn with_gateway_role(shared: &Shared, policies: Value) {
        let mut consul = shared.lock().unwrap();
        consul.index += 1;
        let mut role = json!({
            "ID": "3c5d9b8e-role-0000-0000-terminating00",
            "Name": "consul-ecs-terminating-gateway-role",
            "Description": "ECS Terminating Gateway Role",
            "Hash": "c2FsdA==",
            "CreateIndex": consul.index,
            "ModifyIndex": consul.index,
        });
        if policies.as_array().is_some_and(|p| !p.is_empty()) {
            role["Policies"] = policies;
        }
        consul.acl.roles.push(role);
    }

    /// The successful ACL writes, in order: request line and body.
    pub fn acl_writes(&self) -> Vec<(String, Value)> {
        self.log
            .iter()
            .filter(|l| l.request.starts_with("PUT /v1/acl/") && l.status == 200)
            .map(|l| (l.request.clone(), l.body.clone().unwrap()))
            .collect()
    }
}

fn by_name<'a>(objects: &'a [Value], name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["Name"] == name)
}

async fn acl_read(
    State(shared): State<Shared>,
    axum::extract::Path((kind, name)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let mut consul = shared.lock().unwrap();
    let request = format!("GET /v1/acl/{kind}/name/{name}");
    let answer = acls_enabled(&consul)
        .and_then(|()| authorised(&mut consul, &request, &headers, acl_need(Access::Read)))
        .and_then(|()| {
            let (objects, missing) = match kind.as_str() {
                // Consul answers a policy that is not there as it answers an
                // unknown token (consul #9933), and a missing role with a
                // plain 404 (agent/acl_endpoint.go).
                "policy" => (
                    &consul.acl.policies,
                    (StatusCode::FORBIDDEN, "ACL not found".to_owned()),
                ),
                "role" => (&consul.acl.roles, (StatusCode::NOT_FOUND, String::new())),
                _ => return Err((StatusCode::NOT_FOUND, "no such endpoint".into())),
            };
            by_name(objects, &name)
                .map(|o| (StatusCode::OK, o.to_string()))
                .ok_or(missing)
        });
    let answer = answer.unwrap_or_else(|refused| refused);
    consul.log.push(Logged {
        request,
        status: answer.0.as_u16(),
        body: None,
    });
    answer
}

/// `PUT /v1/acl/policy` (create) and `PUT /v1/acl/{policy,role}/<id>` (update).
async fn acl_write(State(shared): State<Shared>, request: axum::extract::Request) -> (StatusCode, String) {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut consul = shared.lock().unwrap();
    let line = format!("PUT {path}");
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let answer = (|| {
        acls_enabled(&consul)?;
        authorised(&mut consul, &line, &headers, acl_need(Access::Write))?;
        let bad = |why: String| (StatusCode::BAD_REQUEST, why);
        let Some(Value::Object(mut object)) = parsed.clone() else {
            return Err(bad("Request decode failed: not a JSON object".into()));
        };
        let segments: Vec<&str> = path.trim_start_matches("/v1/acl/").split('/').collect();
        let allowed: &[&str] = match segments[0] {
            "policy" => &[
                "ID",
                "Name",
                "Description",
                "Rules",
                "Datacenters",
                "Namespace",
                "Partition",
            ],
            _ => &[
                "ID",
                "Name",
                "Description",
                "Policies",
                "ServiceIdentities",
                "NodeIdentities",
                "TemplatedPolicies",
                "Namespace",
                "Partition",
            ],
        };
        if let Some(key) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(format!("Request decode failed: unknown field {key:?}")));
        }
        let name = object
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if name.is_empty() {
            return Err(bad("Invalid: a name is required".into()));
        }
        consul.index += 1;
        let index = consul.index;
        match segments.as_slice() {
            ["policy"] => {
                if object.contains_key("ID") {
                    return Err(bad("Cannot specify an ID when creating a policy".into()));
                }
                if by_name(&consul.acl.policies, &name).is_some() {
                    return Err(bad(format!(
                        "Invalid Policy: A Policy with Name {name:?} already exists"
                    )));
                }
                object.insert("ID".into(), json!(format!("policy-{index}")));
                object.insert("CreateIndex".into(), json!(index));
                object.insert("ModifyIndex".into(), json!(index));
                let stored = Value::Object(object);
                consul.acl.policies.push(stored.clone());
                Ok((StatusCode::OK, stored.to_string()))
            }
            [kind @ ("policy" | "role"), id] => {
                if object.get("ID").is_some_and(|given| given != id) {
                    return Err(bad("Policy/Role ID in URL and payload do not match".into()));
                }
                if *kind == "role" {
                    let mut links = Vec::new();
                    for link in object
                        .get("Policies")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                    {
                        let found = consul.acl.policies.iter().find(|p| {
                            (link.get("ID").is_some() && p["ID"] == link["ID"])
                                || (link.get("ID").is_none() && p["Name"] == link["Name"])
                        });
                        let Some(policy) = found else {
                            return Err(bad(format!("cannot find policy {link}")));
                        };
                        links.push(json!({ "ID": policy["ID"], "Name": policy["Name"] }));
                    }
                    object.insert("Policies".into(), Value::Array(links));
                }
                let objects = if *kind == "policy" {
                    &mut consul.acl.policies
                } else {
                    &mut consul.acl.roles
                };
                let Some(held) = objects.iter_mut().find(|o| o["ID"] == *id) else {
                    return Err(bad(format!("Cannot find {kind} {id}")));
                };
                object.insert("ID".into(), json!(id));
                object.insert("CreateIndex".into(), held["CreateIndex"].clone());
                object.insert("ModifyIndex".into(), json!(index));
                *held = Value::Object(object);
                Ok((StatusCode::OK, held.to_string()))
            }
            _ => Err((StatusCode::NOT_FOUND, "no such endpoint".into())),
        }
    })()
    .unwrap_or_else(|refused| refused);
    if answer.0 == StatusCode::BAD_REQUEST {
        consul.problems.push(format!("{line}: {}", answer.1));
    }
    consul.log.push(Logged {
        request: line,
        status: answer.0.as_u16(),
        body: parsed,
    });
    answer
}

/// The double's router.
pub fn app(shared: Shared) -> Router {
    let routes = Router::new()
        .route("/v1/config/service-splitter/greeter", get(read))
        .route("/v1/config", put(write))
        .route("/v1/acl/{kind}/name/{name}", get(acl_read))
        .route("/v1/acl/token/self", get(kv::token_self))
        .route("/v1/acl/policy", put(acl_write))
        .route("/v1/acl/{kind}/{id}", put(acl_write))
        .route("/v1/kv/{*key}", get(kv::kv_get).put(kv::kv_put))
        .route("/v1/session/create", put(kv::session_create))
        .route("/v1/session/renew/{id}", put(kv::session_renew))
        .route("/v1/session/destroy/{id}", put(kv::session_destroy))
        .route("/v1/txn", put(kv::txn));
    double::note_unexpected(routes, "no such endpoint").with_state(shared)
}

/// A client of the double at `addr` with `token`, as the consul CLI's
/// settings would make it.
pub fn client(addr: &str, token: Option<&str>) -> migration::consul::Consul {
    let settings = migration::consul::Settings::from_lookup(|k| match k {
        "CONSUL_HTTP_ADDR" => Some(addr.to_owned()),
        "CONSUL_HTTP_TOKEN" => token.map(str::to_owned),
        _ => None,
    })
    .unwrap();
    migration::consul::Consul::new(settings, std::time::Duration::from_secs(5)).unwrap()
}

/// Serves the double over http on a free loopback port: `127.0.0.1:port`.
pub async fn serve(shared: Shared) -> String {
    double::serve(app(shared)).await.to_string()
}

/// Serves the double over https, with the test certificate for
/// `localhost`, `127.0.0.1` and `server.dc1.consul`.
pub async fn serve_tls(shared: Shared) -> String {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let certs = vec![CertificateDer::from_pem_file(fixtures.join("consul-cert.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(fixtures.join("consul-key.pem")).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(shared);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    addr.to_string()
}

/// What the fake ingress does besides answering.
#[derive(Debug, Default)]
pub struct Ingress {
    /// Requests answered.
    pub served: u64,
    /// Lambda answers so far.
    pub lambda: u64,
    /// Every `n`-th Lambda answer is a function error instead...
    pub fail_every_lambda: Option<u64>,
    /// ...while the Lambda's share is at least this.
    pub fail_at_or_above: f64,
    /// After this many requests, someone else writes the splitter.
    pub concurrent_write_after: Option<u64>,
}

/// Serves the fake ingress; its answers follow the double's split.
pub async fn serve_ingress(consul: Shared, ingress: Arc<Mutex<Ingress>>) -> String {
    let app = Router::new().route(
        "/",
        get(move || {
            let (consul, ingress) = (consul.clone(), ingress.clone());
            async move {
                let mut consul = consul.lock().unwrap();
                let mut ingress = ingress.lock().unwrap();
                let n = ingress.served;
                ingress.served += 1;
                if ingress.concurrent_write_after == Some(n) {
                    // Someone else moves the split meanwhile.
                    consul.store(splitter(30.0, &json!({ "owner": "someone else" })));
                }
                // Exactly the Lambda's share of requests, spread evenly.
                let h = (consul.lambda() * 100.0).round() as u64;
                let to_lambda = (n + 1) * h / 10_000 > n * h / 10_000;
                if !to_lambda {
                    return "From ingress: From c0ffee: Hi (a) Mary (b)".into_response();
                }
                ingress.lambda += 1;
                let failing = consul.lambda() >= ingress.fail_at_or_above;
                if failing && ingress.fail_every_lambda.is_some_and(|k| ingress.lambda % k == 0) {
                    // A function error, answered as ingress answers it.
                    return UpstreamError::FunctionError {
                        upstream: "greeter",
                        detail: "UpstreamError: name upstream unreachable".into(),
                    }
                    .into_response();
                }
                "From ingress: From lambda: Hi (a) Mary (b)".into_response()
            }
        }),
    );
    format!("http://{}/", double::serve(app).await)
}
