//! The mesh's names, in one place every other module imports: its
//! services and who calls whom, the service whose calls are split and the
//! Lambda they move to, where every sidecar serves its metrics, and where
//! the migration keeps its state in Consul's KV.

/// The services of a mesh and who calls whom.
#[derive(Debug, Clone, Copy)]
pub struct CallGraph {
    /// Every service, callers and callees.
    pub services: &'static [&'static str],
    /// The services that are Lambda functions: the Consul Lambda
    /// registrator writes their `service-defaults` (with the ARN), so the
    /// repository must not, and the terminating gateway must link them.
    pub lambdas: &'static [&'static str],
    /// Every allowed call, `(source, destination)`.
    pub calls: &'static [(&'static str, &'static str)],
}

/// The Greeter demo: ingress calls greeter or greeter-lambda, and both call
/// greeting and name.
pub const GREETER_MESH: CallGraph = CallGraph {
    services: &["ingress", "greeter", "greeter-lambda", "greeting", "name"],
    lambdas: &["greeter-lambda"],
    calls: &[
        ("ingress", "greeter"),
        ("ingress", "greeter-lambda"),
        ("greeter", "greeting"),
        ("greeter", "name"),
        ("greeter-lambda", "greeting"),
        ("greeter-lambda", "name"),
    ],
};

/// Where every sidecar's Envoy serves `/metrics`: on all addresses, as the
/// in-cluster Prometheus scrapes it from another task (terraform/'s
/// prometheus module opens and scrapes this port).
pub const ENVOY_PROMETHEUS_BIND_ADDR: &str = "0.0.0.0:9102";

/// The service whose calls the splitter divides.
pub const SPLIT_SERVICE: &str = "greeter";
/// Where the migration moves those calls.
pub const LAMBDA_SERVICE: &str = "greeter-lambda";

/// The prefix of every key the migration keeps in Consul's KV: its ACL
/// token may write here and nowhere else (`key_prefix "greeter-mesh/"`).
pub const KV_PREFIX: &str = "greeter-mesh/";

/// The terminating gateway's ACL policy (`consul/acl/`), which `split grant`
/// links to the gateway's role.
pub const GATEWAY_POLICY: &str = "terminating-gateway-services";
/// The migration controller's ACL policy (`consul/acl/`), its token's only
/// one.
pub const CONTROLLER_POLICY: &str = "migration-controller";
