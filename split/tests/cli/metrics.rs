//! `split migrate --judge prometheus` against the Prometheus double, with
//! the split held by the Consul double and probes off: real traffic only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::plan::{Judge, Plan};
use migration::report::{Ending, MigrationReport, Verdict};

use crate::consul_double::{self, Ingress};
use crate::migrate::{migrate_on, plan, split, stack};
use crate::prometheus_double::{self, Mode};

/// Windows of 300 ms, extended up to 1 s; probes off.
fn judged_by(prometheus: &str, steps: &str) -> Plan {
    // Probes are off: the ingress URL is never called.
    let mut plan = plan(steps, "http://127.0.0.1:9/");
    plan.judge = Judge::Prometheus {
        url: prometheus.parse().unwrap(),
        max_time: Duration::from_secs(1),
    };
    plan.probes = false;
    plan.hold.min_time = Duration::from_millis(300);
    plan
}

/// The Consul double holding the Lambda at 0 %, the fake ingress in front
/// of it, and the Prometheus double over the mesh's traffic.
struct Mesh {
    consul: consul_double::Shared,
    consul_addr: String,
    ingress: Arc<Mutex<Ingress>>,
    prometheus: prometheus_double::Shared,
    prometheus_url: String,
}

impl Mesh {
    /// The mesh with `per_tick` requests a tick of the Prometheus double.
    async fn new(per_tick: u64) -> Self {
        let (consul, consul_addr, _, ingress) = stack(Some(0.0)).await;
        let (prometheus, prometheus_url) = prometheus_double::serve(consul.clone(), per_tick).await;
        Self {
            consul,
            consul_addr,
            ingress,
            prometheus,
            prometheus_url,
        }
    }

    /// `split migrate` through `steps` on this mesh, judged by its Prometheus.
    async fn migrate(&self, steps: &str) -> MigrationReport {
        migrate_on(&self.consul_addr, &judged_by(&self.prometheus_url, steps)).await
    }
}

/// The percentage of `Lambda success 80.00% < 99% (...`.
fn success(why: &str) -> f64 {
    why.strip_prefix("Lambda success ")
        .and_then(|rest| rest.split_once("% < 99% ("))
        .map(|(percent, _)| percent.parse().unwrap())
        .unwrap_or_else(|| panic!("{why}"))
}

#[tokio::test]
async fn a_healthy_lambda_walks_to_100_on_the_meshs_traffic() {
    let mesh = Mesh::new(4).await;
    let report = mesh.migrate("20,100").await;

    assert_eq!(report.ending, Ending::Completed, "{}", report.render());
    assert_eq!(mesh.consul.lock().unwrap().lambda(), 100.0);
    assert_eq!(mesh.ingress.lock().unwrap().served, 0, "no probe was sent");
    let prometheus = mesh.prometheus.lock().unwrap();
    assert!(prometheus.problems.is_empty(), "{:?}", prometheus.problems);
    let step = &report.steps[0].window;
    assert_eq!(step.probes, 0);
    // Counted exactly: 20 % of the requests, all succeeded, at the
    // double's 12 ms (in the 10-25 ms bucket) against 8 ms (5-10).
    assert!(step.lambda.requests >= 10, "{step:?}");
    assert!((step.observed_lambda_percent - 20.0).abs() < 1.0, "{step:?}");
    assert_eq!(step.lambda.success_percent, 100.0);
    assert!(step.lambda.p50 > Duration::from_millis(10) && step.lambda.p50 <= Duration::from_millis(25));
    assert!(step.greeter.p50 > Duration::from_millis(5) && step.greeter.p50 <= Duration::from_millis(10));
    assert_eq!(report.steps[1].window.greeter.requests, 0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["steps"][0]["source"], "prometheus");
}

#[tokio::test]
async fn a_lambda_answering_5xx_is_rolled_back() {
    let mesh = Mesh::new(4).await;
    mesh.prometheus.lock().unwrap().lambda_5xx_every = Some(5);
    let report = mesh.migrate("20,100").await;

    assert_eq!(report.ending, Ending::RolledBack, "{}", report.render());
    assert_eq!(report.code(), 1);
    let Verdict::Failed(why) = &report.steps[0].verdict else {
        panic!("{}", report.render())
    };
    // One in 5 failed: 80 %, give or take where the window's edges fall.
    assert!((75.0..=85.0).contains(&success(&why[0])), "{why:?}");
    assert!(why[0].ends_with(" x 5xx from greeter-lambda (Envoy))"), "{why:?}");
    assert_eq!(mesh.consul.lock().unwrap().lambda(), 0.0);
    assert!(mesh.prometheus.lock().unwrap().problems.is_empty());
}

#[tokio::test]
async fn failures_no_cluster_counts_are_unattributed_and_fail_the_lambda() {
    let mesh = Mesh::new(4).await;
    // Envoy's fault filter aborts one Lambda call in 5 before routing:
    // only ingress counts them.
    mesh.prometheus.lock().unwrap().lambda_abort_every = Some(5);
    let report = mesh.migrate("20,100").await;

    assert_eq!(report.ending, Ending::RolledBack, "{}", report.render());
    let step = &report.steps[0].window;
    assert_eq!(step.lambda.failed, step.unattributed_failures, "{step:?}");
    let Verdict::Failed(why) = &report.steps[0].verdict else {
        panic!("{}", report.render())
    };
    assert!((75.0..=85.0).contains(&success(&why[0])), "{why:?}");
    assert!(
        why[0].contains(" unattributed: ")
            && why[0].contains("x failed calls ingress saw that neither destination's counters hold"),
        "{why:?}"
    );
    assert_eq!(mesh.consul.lock().unwrap().lambda(), 0.0);
    assert!(mesh.prometheus.lock().unwrap().problems.is_empty());
}

#[tokio::test]
async fn function_errors_that_reach_the_mesh_as_200_are_rolled_back_and_named() {
    let mesh = Mesh::new(4).await;
    {
        let mut p = mesh.prometheus.lock().unwrap();
        p.lambda_function_error_every = Some(4);
        p.fail_at_or_above = 50.0;
    }
    let report = mesh.migrate("20,50,100").await;

    assert_eq!(report.ending, Ending::RolledBack, "{}", report.render());
    assert_eq!(report.steps[0].verdict, Verdict::Passed);
    let lambda = &report.steps[1].window.lambda;
    assert_eq!(
        lambda.function_errors, lambda.failed,
        "Envoy saw no 5xx: every failure is a function error"
    );
    let Verdict::Failed(why) = &report.steps[1].verdict else {
        panic!("{}", report.render())
    };
    assert!((70.0..=80.0).contains(&success(&why[0])), "{why:?}");
    assert!(
        why[0].contains(" function errors: ")
            && why[0].contains("x function errors (answered 200 by the Lambda"),
        "{why:?}"
    );
    assert!(report.message.contains("function errors"), "{}", report.message);
    assert_eq!(mesh.consul.lock().unwrap().lambda(), 0.0);
}

#[tokio::test]
async fn no_traffic_fails_the_first_step_after_its_limit_and_writes_nothing_else() {
    let mesh = Mesh::new(0).await;
    let report = mesh.migrate("5,50,100").await;

    assert_eq!(report.ending, Ending::RolledBack, "{}", report.render());
    assert_eq!(report.steps.len(), 1);
    let Verdict::Failed(why) = &report.steps[0].verdict else {
        panic!("{}", report.render())
    };
    assert!(
        why[0].starts_with("no traffic reached the Lambda: 0 of 0 requests in "),
        "{why:?}"
    );
    assert!(
        report.steps[0].window.elapsed >= Duration::from_secs(1),
        "extended to its limit"
    );
    let consul = mesh.consul.lock().unwrap();
    let weights: Vec<f64> = consul
        .writes()
        .iter()
        .map(|(_, body)| body["Splits"][1]["Weight"].as_f64().unwrap())
        .collect();
    assert_eq!(weights, [5.0, 0.0], "the first step, then its rollback");
}

#[tokio::test]
async fn a_prometheus_that_cannot_judge_is_an_error_before_anything_is_written() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for (mode, expected) in [
        (None, "Prometheus at "),
        (Some(Mode::NotPrometheus), "is not its query API's JSON"),
        (
            Some(Mode::Empty),
            "Prometheus has no series for envoy_cluster_upstream_rq_total{consul_source_service=\"ingress\",consul_destination_service=~\"greeter|greeter-lambda\"} with consul_destination_service=\"greeter\": is it scraping Envoy",
        ),
        (Some(Mode::NaN), "with \"NaN\" for"),
    ] {
        let (consul, addr, _, _) = stack(Some(0.0)).await;
        let url = match mode {
            None => unreachable.clone(),
            Some(mode) => {
                let (prometheus, url) = prometheus_double::serve(consul.clone(), 4).await;
                prometheus.lock().unwrap().mode = mode;
                url
            }
        };
        let report = migrate_on(&addr, &judged_by(&url, "5")).await;
        assert_eq!(report.ending, Ending::Error, "{mode:?}: {}", report.render());
        assert_eq!(report.code(), 1);
        assert!(
            report.message.contains(expected) && report.message.ends_with("nothing was written"),
            "{mode:?}: {}",
            report.message
        );
        assert!(
            consul.lock().unwrap().log.is_empty(),
            "{mode:?}: Consul was not even read"
        );
    }
}

#[tokio::test]
async fn bad_prometheus_flags_exit_64() {
    for (args, message) in [
        (
            &["--judge", "prometheus"][..],
            "--judge prometheus needs --prometheus URL",
        ),
        (
            &["--judge", "prometheus", "--prometheus", "http://127.0.0.1:9090"],
            "--judge prometheus needs --hold-secs",
        ),
        (
            &[
                "--judge",
                "prometheus",
                "--prometheus",
                "https://prom.example",
                "--hold-secs",
                "30",
            ],
            "is not an http:// URL",
        ),
        (
            &["--probes", "off"],
            "--probes off leaves --judge probes nothing to judge",
        ),
        (
            &[
                "--judge",
                "prometheus",
                "--prometheus",
                "http://x",
                "--hold-secs",
                "30",
                "--max-hold-secs",
                "10",
            ],
            "--max-hold-secs 10 is below --hold-secs 30",
        ),
    ] {
        let mut all = vec!["migrate"];
        all.extend(args);
        let out = split(&all, &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn dry_run_names_the_judge_and_sends_nothing() {
    let out = split(
        &[
            "migrate",
            "--judge",
            "prometheus",
            "--prometheus",
            "http://127.0.0.1:9/",
            "--hold-secs",
            "30",
            "--probes",
            "off",
            "--dry-run",
        ],
        &[],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("judge     Prometheus at http://127.0.0.1:9/ (Envoy's per-destination series, ingress's function errors): windows of at least 30 s, extended to 300 s for 50 Lambda requests; probes off: real traffic only"),
        "{stdout}"
    );
}
