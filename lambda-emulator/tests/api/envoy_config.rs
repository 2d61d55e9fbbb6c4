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
//! The deviations the file states are the only ones allowed: the cluster
//! speaks plain HTTP to the emulator (`lambda:9001`) where Consul's speaks
//! TLS to `lambda.<region>.amazonaws.com:443` with SNI `*.amazonaws.com`;
//! and one route turns payload passthrough off by per-route config when
//! `LAMBDA_PAYLOAD_PASSTHROUGH=false`.

use serde_json::{Value, json};

const LAMBDA_FILTER: &str = "envoy.filters.http.aws_lambda";
const LAMBDA_CLUSTER: &str = "greeter-lambda";
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

/// Every http_connection_manager config of every listener.
fn connection_managers(config: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for listener in config["static_resources"]["listeners"].as_array().unwrap() {
        for chain in listener["filter_chains"].as_array().unwrap() {
            for filter in chain["filters"].as_array().unwrap() {
                if filter["name"] == "envoy.filters.network.http_connection_manager" {
                    found.push(&filter["typed_config"]);
                }
            }
        }
    }
    assert!(!found.is_empty(), "no http_connection_manager in envoy.yaml");
    found
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

#[test]
fn the_aws_lambda_filter_is_consuls_just_before_the_router() {
    let config = envoy_yaml();
    for manager in connection_managers(&config) {
        let filters = manager["http_filters"].as_array().unwrap();
        let names: Vec<&str> = filters.iter().map(|f| f["name"].as_str().unwrap()).collect();
        let lambda = names.iter().position(|name| *name == LAMBDA_FILTER);
        assert_eq!(
            lambda.map(|at| &names[at..]),
            Some(&[LAMBDA_FILTER, "envoy.filters.http.router"][..]),
            "Consul inserts aws_lambda just before the router, once: {names:?}"
        );
        let lambda = &filters[lambda.unwrap()]["typed_config"];
        assert_eq!(lambda, &consul_lambda_config());
    }
}

#[test]
fn the_connection_manager_strips_any_host_port_and_routes_keep_the_host() {
    let config = envoy_yaml();
    for manager in connection_managers(&config) {
        assert_eq!(
            manager["strip_any_host_port"], true,
            "Consul sets strip_any_host_port"
        );
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
    for manager in connection_managers(&config) {
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
            // The same split as the other routes.
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
fn each_cluster_carries_consul_destination_and_source_service_as_consul_dataplane_tags_it() {
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
        let captures = regex
            .captures(&stat)
            .unwrap_or_else(|| panic!("{stat} gets no consul_destination_service"));
        // Envoy cuts the first group from the name and takes the second as
        // the value: the name, as Consul's tag holds it.
        assert_eq!(&captures[1], format!("{name}."), "{stat}");
        assert_eq!(&captures[2], name, "{stat}");
    }
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
        "cluster.ec2_instance_metadata_server_internal.upstream_rq_total",
    ] {
        assert!(!regex.is_match(stat), "{stat} is tagged");
    }
}
