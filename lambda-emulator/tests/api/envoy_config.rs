//! `envoy/envoy.yaml` held to what Consul generates for a Lambda behind its
//! terminating gateway (hashicorp/consul,
//! `agent/envoyextensions/builtin/aws-lambda/aws_lambda.go`, and its golden
//! files `agent/xds/testdata/builtin_extension/*/lambda-terminating-gateway*`),
//! with the function's own Consul tags from greeter-lambda's Cargo.toml; and
//! its stats tags to the `consul_destination_service` and
//! `consul_source_service` labels consul-dataplane's Envoy puts on its stats
//! (`command/connect/envoy/bootstrap_config.go`, `generateStatsTags`), which
//! the shared PromQL (prometheus/rules.yml) selects and groups by.
//!
//! The file plays two Envoys of the mesh in one, as two listeners: ingress's
//! sidecar, which only splits, its greeter-lambda cluster leading to the
//! other; and the terminating gateway, which invokes the Lambda. So whatever
//! fails past the sidecar is its greeter-lambda cluster's answer, as on AWS.
//!
//! The deviations the file states are the only ones allowed: the sidecar
//! reaches the gateway over plain HTTP on loopback; the Lambda cluster speaks
//! plain HTTP to the emulator (`lambda:9001`) where Consul's speaks TLS to
//! `lambda.<region>.amazonaws.com:443` with SNI `*.amazonaws.com`; one
//! gateway route turns payload passthrough off by per-route config when
//! `LAMBDA_PAYLOAD_PASSTHROUGH=false`; and the gateway has the demo's fault
//! filter in front of Consul's filters.

use serde_json::{Value, json};

const LAMBDA_FILTER: &str = "envoy.filters.http.aws_lambda";
/// The Lambda as the gateway calls it: named so that no stats tag reads it
/// as one of the split's destinations.
const LAMBDA_CLUSTER: &str = "terminating-gateway~greeter-lambda";
/// The split's destinations, as ingress's sidecar names its clusters.
const SPLIT_CLUSTERS: [&str; 2] = ["greeter", "greeter-lambda"];
const TAG_PREFIX: &str = "serverless.consul.hashicorp.com/v1alpha1/lambda/";

fn envoy_yaml() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../envoy/envoy.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// A Consul tag of the function, as `cargo lambda deploy` sets it.
fn tag(name: &str) -> String {
    let manifest = include_str!("../../../greeter-lambda/Cargo.toml");
    let key = format!("\"{TAG_PREFIX}{name}\"");
    let line = manifest
        .lines()
        .find(|line| line.trim_start().starts_with(&key))
        .unwrap_or_else(|| panic!("greeter-lambda/Cargo.toml has no tag {key}"));
    line.split_once('=')
        .unwrap()
        .1
        .trim()
        .trim_matches('"')
        .to_owned()
}

/// The aws_lambda config Consul's extension builds from the tags.
fn consul_lambda_config() -> Value {
    json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.http.aws_lambda.v3.Config",
        "arn": lambda_emulator::config::Config::from_env(&service_core::config::Env::from_pairs([(
            "EMULATOR_BOOTSTRAP",
            "Cargo.toml"
        )]))
        .unwrap()
        .arn(),
        "payload_passthrough": tag("payload-passthrough") == "true",
        // aws_lambda.go: ASYNCHRONOUS only for exactly "asynchronous".
        "invocation_mode": if tag("invocation-mode") == "asynchronous" { "ASYNCHRONOUS" } else { "SYNCHRONOUS" },
    })
}

/// Every listener, with its one http_connection_manager config.
fn listeners(config: &Value) -> Vec<(&Value, &Value)> {
    let found: Vec<(&Value, &Value)> = config["static_resources"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|listener| {
            let managers: Vec<&Value> = listener["filter_chains"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|chain| chain["filters"].as_array().unwrap())
                .filter(|filter| filter["name"] == "envoy.filters.network.http_connection_manager")
                .map(|filter| &filter["typed_config"])
                .collect();
            assert_eq!(managers.len(), 1, "listener {}", listener["name"]);
            (listener, managers[0])
        })
        .collect();
    assert!(!found.is_empty(), "no listener in envoy.yaml");
    found
}

fn filter_names(manager: &Value) -> Vec<&str> {
    manager["http_filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect()
}

/// The terminating gateway: the one listener whose connection manager
/// runs aws_lambda.
fn gateway(config: &Value) -> (&Value, &Value) {
    let mut found = listeners(config)
        .into_iter()
        .filter(|(_, manager)| filter_names(manager).contains(&LAMBDA_FILTER));
    let gateway = found.next().expect("no listener runs aws_lambda");
    assert!(
        found.next().is_none(),
        "aws_lambda runs in one listener, the gateway's"
    );
    gateway
}

/// Ingress's sidecar: the one listener whose routes split by weight.
fn sidecar(config: &Value) -> (&Value, &Value) {
    let mut found = listeners(config).into_iter().filter(|(_, manager)| {
        routes(manager)
            .iter()
            .any(|route| route["route"].get("weighted_clusters").is_some())
    });
    let sidecar = found.next().expect("no listener splits");
    assert!(found.next().is_none(), "one listener splits, the sidecar's");
    sidecar
}

fn cluster<'a>(config: &'a Value, name: &str) -> &'a Value {
    config["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cluster| cluster["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name}"))
}

fn routes(manager: &Value) -> Vec<&Value> {
    manager["route_config"]["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|host| host["routes"].as_array().unwrap())
        .collect()
}

/// The clusters a connection manager's routes send to.
fn routed_clusters(manager: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = routes(manager)
        .iter()
        .filter_map(|route| route["route"].as_object())
        .flat_map(
            |action| match (action.get("cluster"), action.get("weighted_clusters")) {
                (Some(cluster), None) => vec![cluster.as_str().unwrap()],
                (None, Some(weighted)) => weighted["clusters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["name"].as_str().unwrap())
                    .collect(),
                _ => panic!("a route to neither a cluster nor weighted clusters: {action:?}"),
            },
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn socket_address(address: &Value) -> (&str, u64) {
    let socket = &address["socket_address"];
    (
        socket["address"].as_str().unwrap(),
        socket["port_value"].as_u64().unwrap(),
    )
}

#[test]
fn the_aws_lambda_filter_is_consuls_just_before_the_gateways_router() {
    let config = envoy_yaml();
    let (_, manager) = gateway(&config);
    let names = filter_names(manager);
    let lambda = names.iter().position(|name| *name == LAMBDA_FILTER);
    assert_eq!(
        lambda.map(|at| &names[at..]),
        Some(&[LAMBDA_FILTER, "envoy.filters.http.router"][..]),
        "Consul inserts aws_lambda just before the router, once: {names:?}"
    );
    let lambda = &manager["http_filters"][lambda.unwrap()]["typed_config"];
    assert_eq!(lambda, &consul_lambda_config());
}

#[test]
fn the_sidecar_only_splits_and_its_greeter_lambda_cluster_leads_to_the_gateway() {
    let config = envoy_yaml();
    let (_, manager) = sidecar(&config);
    // No filter of the sidecar answers for the Lambda: what fails past it
    // reaches its greeter-lambda cluster as the upstream's answer.
    assert_eq!(filter_names(manager), ["envoy.filters.http.router"]);
    assert_eq!(routed_clusters(manager), SPLIT_CLUSTERS);

    let (gateway, _) = gateway(&config);
    let (host, port) = socket_address(&gateway["address"]);
    assert_eq!(host, "127.0.0.1", "only this Envoy's sidecar calls the gateway");
    let lambda = cluster(&config, "greeter-lambda");
    assert_eq!(lambda["type"], "STATIC");
    assert!(lambda.get("transport_socket").is_none(), "plain HTTP on loopback");
    let endpoints = &lambda["load_assignment"]["endpoints"];
    assert_eq!(endpoints.as_array().unwrap().len(), 1);
    let endpoints = endpoints[0]["lb_endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(socket_address(&endpoints[0]["endpoint"]["address"]), (host, port));
}

#[test]
fn the_gateway_strips_any_host_port_and_its_routes_keep_the_host_and_go_to_the_lambda() {
    let config = envoy_yaml();
    let (_, manager) = gateway(&config);
    assert_eq!(
        manager["strip_any_host_port"], true,
        "Consul sets strip_any_host_port"
    );
    assert_eq!(routed_clusters(manager), [LAMBDA_CLUSTER]);
    for route in routes(manager) {
        let Some(action) = route["route"].as_object() else {
            continue;
        };
        for rewrite in [
            "host_rewrite_literal",
            "auto_host_rewrite",
            "host_rewrite_header",
            "host_rewrite_path_regex",
        ] {
            assert!(
                !action.contains_key(rewrite),
                "Consul removes {rewrite} from Lambda routes"
            );
        }
    }
}

#[test]
fn the_lambda_cluster_is_consuls_but_plain_http_to_the_emulator() {
    let config = envoy_yaml();
    let lambda = cluster(&config, LAMBDA_CLUSTER);
    assert_eq!(lambda["type"], "LOGICAL_DNS");
    assert_eq!(lambda["dns_lookup_family"], "V4_ONLY");
    assert!(matches!(lambda.get("lb_policy"), None | Some(Value::String(_))));
    if let Some(policy) = lambda.get("lb_policy") {
        assert_eq!(policy, "ROUND_ROBIN");
    }
    assert_eq!(
        lambda["metadata"],
        json!({"filter_metadata": {"com.amazonaws.lambda": {"egress_gateway": true}}})
    );
    // The stated deviation: no TLS, the emulator's Invoke API.
    assert!(lambda.get("transport_socket").is_none());
    let endpoints = &lambda["load_assignment"]["endpoints"];
    assert_eq!(endpoints.as_array().unwrap().len(), 1);
    assert_eq!(
        endpoints[0]["lb_endpoints"],
        json!([{"endpoint": {"address": {"socket_address": {
            "address": "lambda",
            "port_value": lambda_emulator::invoke_api::DEFAULT_PORT,
        }}}}])
    );
}

#[test]
fn only_the_lambda_cluster_carries_the_lambda_metadata() {
    let config = envoy_yaml();
    for cluster in config["static_resources"]["clusters"].as_array().unwrap() {
        let marked = cluster["metadata"]["filter_metadata"]
            .get("com.amazonaws.lambda")
            .is_some();
        assert_eq!(marked, cluster["name"] == LAMBDA_CLUSTER, "{}", cluster["name"]);
    }
}

#[test]
fn a_per_route_override_only_turns_passthrough_off() {
    let config = envoy_yaml();
    let mut overrides = 0;
    for (_, manager) in listeners(&config) {
        for route in routes(manager) {
            let Some(per_route) = route["typed_per_filter_config"].get(LAMBDA_FILTER) else {
                continue;
            };
            overrides += 1;
            assert_eq!(
                per_route["@type"],
                "type.googleapis.com/envoy.extensions.filters.http.aws_lambda.v3.PerRouteConfig"
            );
            let mut expected = consul_lambda_config();
            expected["payload_passthrough"] = json!(false);
            expected.as_object_mut().unwrap().remove("@type");
            assert_eq!(per_route["invoke_config"], expected);
            // The same invocation as the gateway's other routes.
            assert_eq!(route["route"], routes(manager).last().unwrap()["route"]);
        }
    }
    assert_eq!(overrides, 1, "one route for LAMBDA_PAYLOAD_PASSTHROUGH=false");
}

/// The stat name Envoy tags, for a counter of the named cluster.
fn cluster_stat(cluster: &str) -> String {
    format!("cluster.{cluster}.upstream_rq_total")
}

#[test]
fn the_splits_clusters_carry_consul_destination_and_source_service_as_consul_dataplane_tags_them() {
    let config = envoy_yaml();
    let stats = &config["stats_config"];
    // Envoy's defaults (envoy_cluster_name, envoy_response_code, ...) stay,
    // said explicitly as Consul says it: the shared queries use both.
    assert_eq!(stats["use_all_default_tags"], true, "the default tags are kept");
    let tags = stats["stats_tags"].as_array().expect("stats_config.stats_tags");
    let tag = tags
        .iter()
        .find(|tag| tag["tag_name"] == "consul.destination.service")
        .expect("a consul.destination.service tag, Consul's name for it");
    let regex = regex::Regex::new(tag["regex"].as_str().unwrap()).unwrap();

    for cluster in config["static_resources"]["clusters"].as_array().unwrap() {
        let name = cluster["name"].as_str().unwrap();
        let stat = cluster_stat(name);
        // Envoy's envoy_cluster_name takes the stat's name up to its first
        // dot: a cluster's name has none.
        assert!(!name.contains('.'), "{name}");
        if !SPLIT_CLUSTERS.contains(&name) {
            // The gateway's call to the Lambda is not one of the split's:
            // the shared queries must not count it.
            assert!(!regex.is_match(&stat), "{stat} is tagged as a destination");
            continue;
        }
        let captures = regex
            .captures(&stat)
            .unwrap_or_else(|| panic!("{stat} gets no consul_destination_service"));
        // Envoy cuts the first group from the name and takes the second as
        // the value: the name, as Consul's tag holds it.
        assert_eq!(&captures[1], format!("{name}."), "{stat}");
        assert_eq!(&captures[2], name, "{stat}");
    }
    assert!(
        config["static_resources"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|cluster| cluster["name"] == LAMBDA_CLUSTER),
        "the gateway's cluster was checked"
    );
    // Consul's fixed tag for the service the proxy fronts: the splitter is
    // ingress's sidecar.
    let source: Vec<&Value> = tags
        .iter()
        .filter(|tag| tag["tag_name"] == "consul.source.service")
        .collect();
    assert_eq!(
        source,
        [&json!({"tag_name": "consul.source.service", "fixed_value": "ingress"})]
    );
    // Nothing that merely starts with one of their names.
    for stat in [
        "cluster.greeterx.upstream_rq_total",
        "cluster.greeter-lambda2.upstream_rq_total",
        "http.greeter.downstream_rq_total",
        "http.terminating-gateway.downstream_rq_total",
        "cluster.ec2_instance_metadata_server_internal.upstream_rq_total",
    ] {
        assert!(!regex.is_match(stat), "{stat} is tagged");
    }
}
