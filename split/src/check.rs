//! `split check`: the checks every entry file in `consul/` must pass before
//! `consul config write` sees it.
//!
//! The checks cover what Consul would refuse (weights that do not sum to
//! 100 at 0.01 precision, a destination twice, a source twice, an unknown
//! field) and what Consul would accept but would break the demo (a call of
//! the graph denied or one outside it allowed, a service without
//! `Protocol = "http"`, a Lambda the terminating gateway does not link, a
//! linked Lambda no ACL policy in `acl/` lets the gateway serve, sidecars
//! whose Prometheus listener another task cannot scrape).
//!
//! Files under an `acl/` folder are ACL policies (rules, as `consul acl
//! policy create -rules @file` takes them), not config entries: `split
//! grant` applies them, and the checks here hold them to what the
//! terminating gateway needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use migration::mesh::{
    CONTROLLER_POLICY, CallGraph, ENVOY_PROMETHEUS_BIND_ADDR, GATEWAY_POLICY, KV_PREFIX, SPLIT_SERVICE,
};

use crate::grant::Rule;
use migration::share::WHOLE;

/// One config entry, as `consul config write` takes it from a file. Only
/// the fields this project uses are known; any other is refused, as Consul
/// refuses a misspelt one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "Kind")]
pub enum Entry {
    /// `Kind = "service-defaults"`.
    #[serde(rename = "service-defaults")]
    ServiceDefaults(ServiceDefaults),
    /// `Kind = "service-intentions"`.
    #[serde(rename = "service-intentions")]
    ServiceIntentions(ServiceIntentions),
    /// `Kind = "terminating-gateway"`.
    #[serde(rename = "terminating-gateway")]
    TerminatingGateway(TerminatingGateway),
    /// `Kind = "service-splitter"`.
    #[serde(rename = "service-splitter")]
    ServiceSplitter(ServiceSplitter),
    /// `Kind = "proxy-defaults"`.
    #[serde(rename = "proxy-defaults")]
    ProxyDefaults(ProxyDefaults),
    /// An ACL policy file under `acl/`: not a config entry, never parsed
    /// from one.
    #[serde(skip)]
    AclPolicy(crate::grant::PolicyFile),
}

/// The defaults of every proxy in the mesh.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProxyDefaults {
    /// Always `global`.
    pub name: String,
    /// Envoy's opaque config (`envoy_prometheus_bind_addr`, ...).
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
    /// How proxies reach services through mesh gateways.
    pub mesh_gateway: Option<MeshGatewayConfig>,
}

/// `MeshGateway { Mode = "local" }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshGatewayConfig {
    /// `local`, `remote` or `none`.
    pub mode: String,
}

/// A service's defaults; here, its protocol.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceDefaults {
    /// The service.
    pub name: String,
    /// `http` lets the mesh route and split its calls.
    pub protocol: Option<String>,
}

/// Who may call one destination service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceIntentions {
    /// The destination; `*` for every service.
    pub name: String,
    /// The callers and what happens to their calls.
    pub sources: Vec<Source>,
}

/// A caller in a `service-intentions` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Source {
    /// The calling service; `*` for every service.
    pub name: String,
    /// `allow` or `deny`.
    pub action: Action,
    /// Free text.
    pub description: Option<String>,
}

/// An intention's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The call goes through.
    Allow,
    /// The call is refused.
    Deny,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::Deny => "denied",
        }
    }
}

/// The services a terminating gateway reaches on the mesh's behalf.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TerminatingGateway {
    /// The gateway's service name.
    pub name: String,
    /// The linked services.
    pub services: Vec<LinkedService>,
}

/// A service linked to a terminating gateway.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LinkedService {
    /// The service.
    pub name: String,
}

/// How calls to one service are divided between services.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceSplitter {
    /// The service callers address.
    pub name: String,
    /// Where its calls go, by weight.
    pub splits: Vec<Split>,
}

/// One destination of a splitter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Split {
    /// Percent of the calls, 0.01 precision.
    pub weight: f64,
    /// The destination; the splitter's own service when absent.
    pub service: Option<String>,
}

impl Entry {
    /// `kind/name`, as Consul names an entry.
    pub fn id(&self) -> String {
        let (kind, name) = match self {
            Self::ServiceDefaults(e) => ("service-defaults", &e.name),
            Self::ServiceIntentions(e) => ("service-intentions", &e.name),
            Self::TerminatingGateway(e) => ("terminating-gateway", &e.name),
            Self::ServiceSplitter(e) => ("service-splitter", &e.name),
            Self::ProxyDefaults(e) => ("proxy-defaults", &e.name),
            Self::AclPolicy(p) => ("acl-policy", &p.name),
        };
        format!("{kind}/{name}")
    }
}

/// An entry and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryFile {
    /// The file, for messages.
    pub path: PathBuf,
    /// Its one entry.
    pub entry: Entry,
}

/// A file that is not one config entry.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The directory or a file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not HCL, or not an entry this project knows.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's one-line complaint.
        message: String,
    },
}

/// Parses one file's HCL as one entry, or as an ACL policy when it is in
/// an `acl/` folder.
pub fn parse(path: &Path, hcl_text: &str) -> Result<EntryFile, LoadError> {
    if path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "acl")
    {
        let policy = crate::grant::PolicyFile::parse(path, hcl_text).map_err(|message| LoadError::Parse {
            path: path.to_owned(),
            message,
        })?;
        return Ok(EntryFile {
            path: path.to_owned(),
            entry: Entry::AclPolicy(policy),
        });
    }
    let entry = hcl::from_str::<Entry>(hcl_text).map_err(|e| LoadError::Parse {
        path: path.to_owned(),
        message: e.to_string().replace('\n', " "),
    })?;
    Ok(EntryFile {
        path: path.to_owned(),
        entry,
    })
}

/// Every `*.hcl` file below `dir`, in path order, each parsed as one entry.
pub fn load_dir(dir: &Path) -> Result<Vec<EntryFile>, LoadError> {
    let mut paths = Vec::new();
    collect_hcl(dir, &mut paths)?;
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
            parse(path, &text)
        })
        .collect()
}

fn collect_hcl(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let read = |source| LoadError::Read {
        path: dir.to_owned(),
        source,
    };
    for item in std::fs::read_dir(dir).map_err(read)? {
        let path = item.map_err(read)?.path();
        if path.is_dir() {
            collect_hcl(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "hcl") {
            out.push(path);
        }
    }
    Ok(())
}

/// What Consul would reject in `files`, or what would break the calls of
/// `graph`; empty when all is well. Each problem is one line naming its
/// file or entry.
pub fn check(graph: &CallGraph, files: &[EntryFile]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ids = BTreeMap::new();
    for file in files {
        if let Some(first) = ids.insert(file.entry.id(), &file.path) {
            problems.push(format!(
                "{}: {} is also written by {} (the last write wins)",
                file.path.display(),
                file.entry.id(),
                first.display()
            ));
        }
    }
    let intentions = Intentions::from_files(files, &mut problems);
    check_defaults(graph, files, &mut problems);
    check_calls(graph, &intentions, &mut problems);
    check_gateways(graph, files, &mut problems);
    check_grants(graph, files, &mut problems);
    check_proxy_defaults(files, &mut problems);
    check_splitters(graph, files, &intentions, &mut problems);
    problems
}

/// The protocol each service gets: from its `service-defaults`, or `http`
/// from the registrator for a Lambda.
fn protocols<'a>(graph: &CallGraph, files: &'a [EntryFile]) -> BTreeMap<&'a str, &'a str> {
    let mut out: BTreeMap<&str, &str> = graph.lambdas.iter().map(|l| (*l, "http")).collect();
    for file in files {
        if let Entry::ServiceDefaults(d) = &file.entry {
            out.insert(&d.name, d.protocol.as_deref().unwrap_or("tcp"));
        }
    }
    out
}

fn check_defaults(graph: &CallGraph, files: &[EntryFile], problems: &mut Vec<String>) {
    let mut defined = BTreeSet::new();
    for file in files {
        let Entry::ServiceDefaults(defaults) = &file.entry else {
            continue;
        };
        let name = defaults.name.as_str();
        defined.insert(name);
        let at = file.path.display();
        if graph.lambdas.contains(&name) {
            problems.push(format!(
                "{at}: service-defaults/{name} belongs to the Lambda registrator, which writes it with the function's ARN; this file would overwrite that"
            ));
        } else if !graph.services.contains(&name) {
            problems.push(format!(
                "{at}: service-defaults/{name} is for a service outside the call graph"
            ));
        }
        if defaults.protocol.as_deref() != Some("http") {
            problems.push(format!(
                "{at}: service-defaults/{name} must say Protocol = \"http\" (found {:?}); a split needs HTTP",
                defaults.protocol
            ));
        }
    }
    for service in graph.services {
        if !graph.lambdas.contains(service) && !defined.contains(service) {
            problems.push(format!(
                "no service-defaults for {service} (it needs Protocol = \"http\")"
            ));
        }
    }
}

/// The intentions of every `service-intentions` entry, by destination.
struct Intentions<'a>(BTreeMap<&'a str, BTreeMap<&'a str, Action>>);

impl<'a> Intentions<'a> {
    fn from_files(files: &'a [EntryFile], problems: &mut Vec<String>) -> Self {
        let mut by_destination = BTreeMap::new();
        for file in files {
            let Entry::ServiceIntentions(entry) = &file.entry else {
                continue;
            };
            let sources: &mut BTreeMap<&str, Action> = by_destination.entry(entry.name.as_str()).or_default();
            for source in &entry.sources {
                if sources.insert(&source.name, source.action).is_some() {
                    problems.push(format!(
                        "{}: source {} is listed twice for {} (Consul refuses the entry)",
                        file.path.display(),
                        source.name,
                        entry.name
                    ));
                }
            }
        }
        Self(by_destination)
    }

    /// Consul's decision for a call, by its precedence: exact destination
    /// and source, then exact destination and any source, then any
    /// destination and exact source, then any and any. `None` leaves it to
    /// the cluster's default policy.
    fn decide(&self, source: &str, destination: &str) -> Option<Action> {
        [
            (destination, source),
            (destination, "*"),
            ("*", source),
            ("*", "*"),
        ]
        .iter()
        .find_map(|(d, s)| self.0.get(d)?.get(s).copied())
    }
}

fn check_calls(graph: &CallGraph, intentions: &Intentions<'_>, problems: &mut Vec<String>) {
    // A service outside the graph stands for every other caller or callee.
    let stranger = "some-other-service";
    let everyone = || graph.services.iter().copied().chain([stranger]);
    for source in everyone() {
        for destination in everyone() {
            let wanted = if graph.calls.contains(&(source, destination)) {
                Action::Allow
            } else {
                Action::Deny
            };
            match intentions.decide(source, destination) {
                Some(action) if action == wanted => {}
                Some(action) => problems.push(format!(
                    "{source} -> {destination} is {} by the intentions but should be {}",
                    action.done(),
                    wanted.done()
                )),
                None => problems.push(format!(
                    "{source} -> {destination} has no intention, so the cluster's default policy decides (it should be {})",
                    wanted.done()
                )),
            }
        }
    }
}

fn check_gateways(graph: &CallGraph, files: &[EntryFile], problems: &mut Vec<String>) {
    let mut linked = BTreeSet::new();
    for file in files {
        let Entry::TerminatingGateway(gateway) = &file.entry else {
            continue;
        };
        for service in &gateway.services {
            if !linked.insert(service.name.as_str()) {
                problems.push(format!(
                    "{}: {} is linked twice",
                    file.path.display(),
                    service.name
                ));
            }
            if !graph.lambdas.contains(&service.name.as_str()) {
                problems.push(format!(
                    "{}: {} is not a Lambda of the call graph; only Lambdas go through the terminating gateway",
                    file.path.display(),
                    service.name
                ));
            }
        }
    }
    for lambda in graph.lambdas {
        if !linked.contains(lambda) {
            problems.push(format!(
                "no terminating-gateway links {lambda}: nothing in the mesh could invoke it"
            ));
        }
    }
}

/// The ACL policies in `acl/`, each held to what its holder needs and
/// nothing more: the terminating gateway's ([`GATEWAY_POLICY`]: service
/// write on each linked service) and the migration controller's
/// ([`CONTROLLER_POLICY`]: the rules SYSTEM.md lists). A policy nobody
/// holds is a problem too.
fn check_grants(graph: &CallGraph, files: &[EntryFile], problems: &mut Vec<String>) {
    let linked: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| match &f.entry {
            Entry::TerminatingGateway(g) => Some(g.services.iter().map(|s| s.name.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let mut granted = BTreeSet::new();
    for file in files {
        let Entry::AclPolicy(policy) = &file.entry else {
            continue;
        };
        let at = format!("{}: acl-policy/{}", file.path.display(), policy.name);
        match policy.name.as_str() {
            GATEWAY_POLICY => {
                for rule in &policy.rules {
                    if rule.resource == "service" && rule.access == "write" && linked.contains(rule.segment.as_str()) {
                        granted.insert(rule.segment.as_str());
                    } else {
                        problems.push(format!(
                            "{at} grants {} {:?} {:?}: the terminating gateway needs service:write on its linked services ({}) and nothing more",
                            rule.resource,
                            rule.segment,
                            rule.access,
                            linked.iter().copied().collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
            CONTROLLER_POLICY => check_controller_policy(graph, &at, &policy.rules, problems),
            other => problems.push(format!(
                "{at}: no holder of a policy named {other:?} is known (acl/ holds {GATEWAY_POLICY}.hcl for the terminating gateway and {CONTROLLER_POLICY}.hcl for the migration controller)"
            )),
        }
    }
    for service in linked.difference(&granted) {
        problems.push(format!(
            "no ACL policy in acl/ grants service \"{service}\" {{ policy = \"write\" }}: the terminating gateway would have no certificate for {service}, and every call to it would fail"
        ));
    }
}

/// The migration controller's policy: write on the KV prefix its state and
/// lock live under, write on sessions of exactly one named node, write on
/// the split service (its `service-splitter`), read on each Lambda it
/// splits to; nothing else, and each of those present.
fn check_controller_policy(graph: &CallGraph, at: &str, rules: &[Rule], problems: &mut Vec<String>) {
    let mut wanted: Vec<(&str, String, &str)> = vec![
        ("key_prefix", KV_PREFIX.to_owned(), "write"),
        ("service", SPLIT_SERVICE.to_owned(), "write"),
    ];
    wanted.extend(graph.lambdas.iter().map(|l| ("service", (*l).to_owned(), "read")));
    let mut sessions = 0;
    for rule in rules {
        let expected = wanted
            .iter()
            .position(|(r, s, a)| *r == rule.resource && *s == rule.segment && *a == rule.access);
        match expected {
            Some(i) => drop(wanted.remove(i)),
            None if rule.resource == "session" && rule.access == "write" && !rule.segment.is_empty() => sessions += 1,
            None => problems.push(format!(
                "{at} grants {} {:?} {:?}: the migration controller needs key_prefix {KV_PREFIX:?} write, session \"<node>\" write, service {SPLIT_SERVICE:?} write and read on {}, and nothing more",
                rule.resource,
                rule.segment,
                rule.access,
                graph.lambdas.join(", ")
            )),
        }
    }
    if sessions != 1 {
        problems.push(format!(
            "{at} grants write on {sessions} session nodes: the controller's session binds to one named node (CONSUL_SESSION_NODE), and its policy names exactly that one"
        ));
    }
    for (resource, segment, access) in wanted {
        problems.push(format!(
            "{at} lacks {resource} \"{segment}\" {{ policy = \"{access}\" }}: the migration controller needs it"
        ));
    }
}

/// The one `proxy-defaults` entry: `global`, every sidecar's Envoy serving
/// Prometheus metrics where another task can scrape them, and the mesh
/// gateway mode set.
fn check_proxy_defaults(files: &[EntryFile], problems: &mut Vec<String>) {
    let mut found = false;
    for file in files {
        let Entry::ProxyDefaults(defaults) = &file.entry else {
            continue;
        };
        found = true;
        let at = format!("{}: proxy-defaults/{}", file.path.display(), defaults.name);
        if defaults.name != "global" {
            problems.push(format!(
                "{at}: the name must be \"global\" (Consul refuses any other)"
            ));
        }
        match defaults.config.get("envoy_prometheus_bind_addr") {
            Some(serde_json::Value::String(addr)) if addr == ENVOY_PROMETHEUS_BIND_ADDR => {}
            other => problems.push(format!(
                "{at}: Config must hold envoy_prometheus_bind_addr = \"{ENVOY_PROMETHEUS_BIND_ADDR}\" (found {}): Prometheus scrapes every sidecar there from its own task",
                other.map_or_else(|| "none".to_owned(), ToString::to_string)
            )),
        }
        match defaults.mesh_gateway.as_ref().map(|m| m.mode.as_str()) {
            Some("local") => {}
            other => problems.push(format!(
                "{at}: MeshGateway must say Mode = \"local\" (found {other:?}): calls leave through this datacenter's own mesh gateway"
            )),
        }
    }
    if !found {
        problems.push(format!(
            "no proxy-defaults: no sidecar's Envoy serves Prometheus metrics (it needs Config {{ envoy_prometheus_bind_addr = \"{ENVOY_PROMETHEUS_BIND_ADDR}\" }})"
        ));
    }
}

fn check_splitters(
    graph: &CallGraph,
    files: &[EntryFile],
    intentions: &Intentions<'_>,
    problems: &mut Vec<String>,
) {
    let protocols = protocols(graph, files);
    for file in files {
        let Entry::ServiceSplitter(splitter) = &file.entry else {
            continue;
        };
        let at = format!("{}: service-splitter/{}", file.path.display(), splitter.name);
        for problem in check_splitter(graph, splitter, intentions, &protocols) {
            problems.push(format!("{at}: {problem}"));
        }
    }
}

fn check_splitter(
    graph: &CallGraph,
    splitter: &ServiceSplitter,
    intentions: &Intentions<'_>,
    protocols: &BTreeMap<&str, &str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if splitter.splits.is_empty() {
        problems.push("no splits configured".to_owned());
    }
    let mut sum = 0;
    let mut destinations = BTreeSet::new();
    for split in &splitter.splits {
        let destination = split.service.as_deref().unwrap_or(&splitter.name);
        match hundredths(split.weight) {
            Ok(h) => sum += h,
            Err(problem) => problems.push(format!("{destination}: {problem}")),
        }
        if !destinations.insert(destination) {
            problems.push(format!("{destination} occurs more than once"));
        }
        if !graph.services.contains(&destination) {
            problems.push(format!("{destination} is not in the call graph"));
        }
        if protocols.get(destination) != Some(&"http") {
            problems.push(format!(
                "{destination} has no Protocol = \"http\", so Consul refuses the split"
            ));
        }
        let callers = graph.calls.iter().filter(|(_, d)| *d == splitter.name);
        for (caller, _) in callers {
            if intentions.decide(caller, destination) != Some(Action::Allow) {
                problems.push(format!(
                    "{caller} calls {} but may not call {destination}: its share of the calls would fail",
                    splitter.name
                ));
            }
        }
    }
    if sum != WHOLE {
        problems.push(format!(
            "the weights sum to {:.2}, not 100",
            f64::from(sum) / 100.0
        ));
    }
    problems
}

/// A split weight in hundredths of a percent, if it is one exactly.
fn hundredths(weight: f64) -> Result<u32, String> {
    if !(0.0..=100.0).contains(&weight) {
        return Err(format!("weight {weight} is outside 0-100"));
    }
    let scaled = weight * 100.0;
    if (scaled - scaled.round()).abs() > 1e-6 {
        return Err(format!(
            "weight {weight} is finer than 0.01 (Consul would round it)"
        ));
    }
    // In 0..=10_000 and whole, so the cast is exact.
    Ok(scaled.round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration::consul::hcl as splitter;
    use migration::mesh::GREETER_MESH;

    const DEFAULTS: [&str; 4] = ["ingress", "greeter", "greeting", "name"];

    fn file(name: &str, hcl_text: &str) -> EntryFile {
        parse(Path::new(name), hcl_text).unwrap()
    }

    fn defaults(service: &str) -> EntryFile {
        file(
            &format!("{service}.hcl"),
            &format!("Kind = \"service-defaults\"\nName = \"{service}\"\nProtocol = \"http\"\n"),
        )
    }

    fn intentions(destination: &str, sources: &[(&str, &str)]) -> EntryFile {
        let sources: String = sources
            .iter()
            .map(|(name, action)| format!("  {{\n    Name = \"{name}\"\n    Action = \"{action}\"\n  }},\n"))
            .collect();
        file(
            &format!("intentions-{destination}.hcl"),
            &format!("Kind = \"service-intentions\"\nName = \"{destination}\"\nSources = [\n{sources}]\n"),
        )
    }

    fn gateway() -> EntryFile {
        file(
            "terminating-gateway.hcl",
            "Kind = \"terminating-gateway\"\nName = \"terminating-gateway\"\nServices = [{ Name = \"greeter-lambda\" }]\n",
        )
    }

    fn grant() -> EntryFile {
        file(
            "acl/terminating-gateway-services.hcl",
            "service \"greeter-lambda\" {\n  policy = \"write\"\n}\n",
        )
    }

    fn proxy_defaults(bind: &str, mode: &str) -> EntryFile {
        file(
            "proxy-defaults.hcl",
            &format!(
                "Kind = \"proxy-defaults\"\nName = \"global\"\nConfig {{\n  envoy_prometheus_bind_addr = \"{bind}\"\n}}\nMeshGateway {{\n  Mode = \"{mode}\"\n}}\n"
            ),
        )
    }

    /// A complete, correct set, as `consul/` should be.
    fn good_set() -> Vec<EntryFile> {
        let mut files: Vec<EntryFile> = DEFAULTS.iter().map(|s| defaults(s)).collect();
        files.push(intentions("greeter", &[("ingress", "allow")]));
        files.push(intentions("greeter-lambda", &[("ingress", "allow")]));
        files.push(intentions(
            "greeting",
            &[("greeter", "allow"), ("greeter-lambda", "allow")],
        ));
        files.push(intentions(
            "name",
            &[("greeter", "allow"), ("greeter-lambda", "allow")],
        ));
        files.push(intentions("*", &[("*", "deny")]));
        files.push(gateway());
        files.push(grant());
        files.push(proxy_defaults("0.0.0.0:9102", "local"));
        files.push(file("splitter.hcl", &splitter("50".parse().unwrap())));
        files
    }

    fn with_splitter(weights: &str) -> Vec<EntryFile> {
        let mut files = good_set();
        files.pop();
        files.push(file(
            "splitter.hcl",
            &format!("Kind = \"service-splitter\"\nName = \"greeter\"\nSplits = [{weights}]\n"),
        ));
        files
    }

    fn problems_of(files: &[EntryFile]) -> String {
        check(&GREETER_MESH, files).join("\n")
    }

    fn assert_problem(files: &[EntryFile], expected: &str) {
        let problems = problems_of(files);
        assert!(problems.contains(expected), "no {expected:?} in:\n{problems}");
    }

    #[test]
    fn a_complete_set_has_no_problems() {
        assert_eq!(problems_of(&good_set()), "");
    }

    #[test]
    fn the_splitter_for_50_splits_evenly() {
        let text = splitter("50".parse().unwrap());
        assert!(
            text.contains("# Printed by `split splitter --lambda 50`."),
            "{text}"
        );
        let Entry::ServiceSplitter(s) = file("s.hcl", &text).entry else {
            panic!("not a splitter: {text}");
        };
        assert_eq!(s.name, "greeter");
        assert_eq!(
            s.splits,
            [
                Split {
                    weight: 50.0,
                    service: Some("greeter".into())
                },
                Split {
                    weight: 50.0,
                    service: Some("greeter-lambda".into())
                },
            ]
        );
    }

    #[test]
    fn every_printed_splitter_passes_the_checks() {
        for raw in ["0", "0.01", "25", "33.33", "99.99", "100"] {
            let mut files = good_set();
            files.pop();
            files.push(file("splitter.hcl", &splitter(raw.parse().unwrap())));
            assert_eq!(problems_of(&files), "", "lambda {raw}");
        }
    }

    #[test]
    fn the_printed_weights_are_the_share_and_its_rest() {
        let text = splitter("25".parse().unwrap());
        assert!(text.contains("Weight  = 75\n    Service = \"greeter\""), "{text}");
        assert!(
            text.contains("Weight  = 25\n    Service = \"greeter-lambda\""),
            "{text}"
        );
    }

    #[test]
    fn weights_that_do_not_sum_to_100_are_reported() {
        let files = with_splitter(
            r#"{ Weight = 50, Service = "greeter" }, { Weight = 49.99, Service = "greeter-lambda" }"#,
        );
        assert_problem(&files, "the weights sum to 99.99, not 100");
    }

    #[test]
    fn weights_finer_than_a_hundredth_are_reported() {
        let files = with_splitter(
            r#"{ Weight = 66.667, Service = "greeter" }, { Weight = 33.333, Service = "greeter-lambda" }"#,
        );
        assert_problem(&files, "weight 66.667 is finer than 0.01");
    }

    #[test]
    fn a_destination_twice_is_reported() {
        let files = with_splitter(r#"{ Weight = 50, Service = "greeter" }, { Weight = 50 }"#);
        assert_problem(&files, "greeter occurs more than once");
    }

    #[test]
    fn a_split_to_a_service_its_callers_may_not_call_is_reported() {
        let mut files = good_set();
        files.retain(|f| f.entry.id() != "service-intentions/greeter-lambda");
        assert_problem(&files, "ingress -> greeter-lambda is denied");
        assert_problem(&files, "ingress calls greeter but may not call greeter-lambda");
    }

    #[test]
    fn an_allowed_call_outside_the_graph_is_reported() {
        let mut files = good_set();
        files.push(intentions("ingress", &[("greeter", "allow")]));
        assert_problem(
            &files,
            "greeter -> ingress is allowed by the intentions but should be denied",
        );
    }

    #[test]
    fn a_wildcard_allow_is_reported_for_every_call_it_opens() {
        let mut files = good_set();
        files.retain(|f| f.entry.id() != "service-intentions/*");
        files.push(intentions("*", &[("*", "allow")]));
        let problems = problems_of(&files);
        assert_problem(&files, "name -> greeting is allowed");
        assert_problem(&files, "some-other-service -> greeter is allowed");
        assert!(!problems.contains("ingress -> greeter "), "{problems}");
    }

    #[test]
    fn without_a_default_deny_the_rest_is_left_to_the_cluster() {
        let mut files = good_set();
        files.retain(|f| f.entry.id() != "service-intentions/*");
        assert_problem(&files, "name -> greeting has no intention");
    }

    #[test]
    fn a_source_twice_is_reported() {
        let mut files = good_set();
        files.retain(|f| f.entry.id() != "service-intentions/greeter");
        files.push(intentions(
            "greeter",
            &[("ingress", "allow"), ("ingress", "deny")],
        ));
        assert_problem(&files, "source ingress is listed twice");
    }

    #[test]
    fn a_missing_service_defaults_is_reported() {
        let mut files = good_set();
        files.retain(|f| f.entry.id() != "service-defaults/name");
        assert_problem(&files, "no service-defaults for name");
    }

    #[test]
    fn a_tcp_service_is_reported() {
        let mut files = good_set();
        files.retain(|f| f.entry.id() != "service-defaults/greeter");
        files.push(file(
            "greeter.hcl",
            "Kind = \"service-defaults\"\nName = \"greeter\"\nProtocol = \"tcp\"\n",
        ));
        assert_problem(&files, "service-defaults/greeter must say Protocol = \"http\"");
        assert_problem(
            &files,
            "greeter has no Protocol = \"http\", so Consul refuses the split",
        );
    }

    #[test]
    fn defaults_for_the_lambda_are_left_to_the_registrator() {
        let mut files = good_set();
        files.push(defaults("greeter-lambda"));
        assert_problem(&files, "belongs to the Lambda registrator");
    }

    #[test]
    fn a_lambda_the_gateway_does_not_link_is_reported() {
        let mut files = good_set();
        files.retain(|f| !matches!(f.entry, Entry::TerminatingGateway(_)));
        assert_problem(&files, "no terminating-gateway links greeter-lambda");
    }

    #[test]
    fn a_linked_lambda_without_a_write_grant_is_reported() {
        let mut files = good_set();
        files.retain(|f| !matches!(f.entry, Entry::AclPolicy(_)));
        assert_problem(
            &files,
            "no ACL policy in acl/ grants service \"greeter-lambda\" { policy = \"write\" }",
        );
    }

    #[test]
    fn a_grant_that_reads_or_reaches_further_is_reported() {
        for rules in [
            "service \"greeter-lambda\" {\n  policy = \"read\"\n}\n",
            "service_prefix \"\" {\n  policy = \"write\"\n}\n",
            "service \"greeter-lambda\" {\n  policy = \"write\"\n}\nservice \"name\" {\n  policy = \"write\"\n}\n",
        ] {
            let mut files = good_set();
            files.retain(|f| !matches!(f.entry, Entry::AclPolicy(_)));
            files.push(file("acl/terminating-gateway-services.hcl", rules));
            let problems = problems_of(&files);
            assert!(
                problems.contains("the terminating gateway needs service:write on its linked services (greeter-lambda) and nothing more"),
                "{rules}: {problems}"
            );
        }
    }

    const CONTROLLER_RULES: &str = "key_prefix \"greeter-mesh/\" {\n  policy = \"write\"\n}\nsession \"consul-server\" {\n  policy = \"write\"\n}\nservice \"greeter\" {\n  policy = \"write\"\n}\nservice \"greeter-lambda\" {\n  policy = \"read\"\n}\n";

    #[test]
    fn the_controllers_policy_grants_exactly_what_it_needs() {
        let mut files = good_set();
        files.push(file("acl/migration-controller.hcl", CONTROLLER_RULES));
        assert_eq!(problems_of(&files), "");
        for (rules, problem) in [
            (
                CONTROLLER_RULES.replace("key_prefix \"greeter-mesh/\"", "key_prefix \"\""),
                "grants key_prefix \"\" \"write\": the migration controller needs",
            ),
            (
                CONTROLLER_RULES.replace(
                    "\"greeter-lambda\" {\n  policy = \"read\"",
                    "\"greeter-lambda\" {\n  policy = \"write\"",
                ),
                "lacks service \"greeter-lambda\" { policy = \"read\" }",
            ),
            (
                CONTROLLER_RULES.replace("session \"consul-server\"", "session_prefix \"\""),
                "grants write on 0 session nodes",
            ),
            (
                format!("{CONTROLLER_RULES}node_prefix \"\" {{\n  policy = \"write\"\n}}\n"),
                "grants node_prefix \"\" \"write\"",
            ),
        ] {
            let mut files = good_set();
            files.push(file("acl/migration-controller.hcl", &rules));
            let problems = problems_of(&files);
            assert!(problems.contains(problem), "{rules}: {problems}");
        }
    }

    #[test]
    fn a_policy_nobody_holds_is_reported() {
        let mut files = good_set();
        files.push(file(
            "acl/everything.hcl",
            "service_prefix \"\" {\n  policy = \"write\"\n}\n",
        ));
        assert_problem(&files, "no holder of a policy named \"everything\" is known");
    }

    #[test]
    fn a_sidecar_metrics_listener_prometheus_cannot_reach_is_reported() {
        let mut files = good_set();
        files.retain(|f| !matches!(f.entry, Entry::ProxyDefaults(_)));
        assert_problem(
            &files,
            "no proxy-defaults: no sidecar's Envoy serves Prometheus metrics",
        );
        files.push(proxy_defaults("127.0.0.1:9102", "local"));
        assert_problem(
            &files,
            "Config must hold envoy_prometheus_bind_addr = \"0.0.0.0:9102\" (found \"127.0.0.1:9102\")",
        );
    }

    #[test]
    fn a_mesh_gateway_mode_other_than_local_is_reported() {
        let mut files = good_set();
        files.retain(|f| !matches!(f.entry, Entry::ProxyDefaults(_)));
        files.push(proxy_defaults("0.0.0.0:9102", "remote"));
        assert_problem(
            &files,
            "MeshGateway must say Mode = \"local\" (found Some(\"remote\"))",
        );
    }

    #[test]
    fn the_same_entry_in_two_files_is_reported() {
        let mut files = good_set();
        files.push(defaults("greeter"));
        assert_problem(&files, "service-defaults/greeter is also written by");
    }

    #[test]
    fn an_unknown_field_or_kind_does_not_parse() {
        let misspelt = parse(
            Path::new("x.hcl"),
            "Kind = \"service-defaults\"\nName = \"greeter\"\nProtocl = \"http\"\n",
        );
        assert!(misspelt.unwrap_err().to_string().contains("Protocl"));
        let unknown = parse(
            Path::new("x.hcl"),
            "Kind = \"service-router\"\nName = \"greeter\"\n",
        );
        assert!(unknown.unwrap_err().to_string().starts_with("x.hcl: "));
    }

    #[test]
    fn weights_are_read_exactly_at_hundredths() {
        assert_eq!(hundredths(33.33), Ok(3333));
        assert_eq!(hundredths(0.0), Ok(0));
        assert_eq!(hundredths(100.0), Ok(10_000));
        assert!(hundredths(100.01).is_err());
        assert!(hundredths(-1.0).is_err());
        assert!(hundredths(0.001).is_err());
    }
}
