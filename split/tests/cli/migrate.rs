//! `split migrate` against the Consul double: every request checked, the
//! check-and-set honoured, a concurrent change never overwritten; and the
//! binary's exit codes for bad input.

use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::consul::{Consul, Settings};
use migration::plan::{Gates, Hold, Judge, Plan, Rollback};
use migration::progress::Progress;
use migration::report::{Ending, MigrationReport, Verdict};
use migration::target::Target;
use serde_json::Value;

use crate::consul_double::{self, Ingress, TOKEN};

pub fn plan(steps: &str, ingress: &str) -> Plan {
    Plan {
        steps: steps.parse().unwrap(),
        gates: Gates {
            min_success: 99.0,
            min_lambda_answers: 10,
            max_p99_ratio: 100.0,
            p99_floor: Duration::from_millis(25),
            max_p99: Duration::from_secs(2),
        },
        hold: Hold {
            requests: 100,
            max_requests: 1000,
            min_time: Duration::ZERO,
            settle: Duration::ZERO,
        },
        rollback: Rollback::Zero,
        url: ingress.parse().unwrap(),
        concurrency: 4,
        rate: None,
        timeout: Duration::from_secs(2),
        judge: Judge::Probes,
        probes: true,
    }
}

pub fn consul_target(addr: &str, token: Option<&str>) -> Target {
    let settings = Settings::from_lookup(|k| match k {
        "CONSUL_HTTP_ADDR" => Some(addr.to_owned()),
        "CONSUL_HTTP_TOKEN" => token.map(str::to_owned),
        _ => None,
    })
    .unwrap();
    Target::consul(Consul::new(settings, Duration::from_secs(2)).unwrap())
}

/// A double holding `lambda`, the fake ingress in front of it, and the
/// ingress's knobs.
pub async fn stack(lambda: Option<f64>) -> (consul_double::Shared, String, String, Arc<Mutex<Ingress>>) {
    let consul = consul_double::Consul::holding(lambda);
    let addr = consul_double::serve(consul.clone()).await;
    let ingress = Arc::new(Mutex::new(Ingress::default()));
    let url = consul_double::serve_ingress(consul.clone(), ingress.clone()).await;
    (consul, addr, url, ingress)
}

pub fn never() -> std::future::Pending<()> {
    std::future::pending()
}

/// `split migrate` by `plan` on the split the Consul double at `addr`
/// holds, with the token the double takes, never interrupted.
pub async fn migrate_on(addr: &str, plan: &Plan) -> MigrationReport {
    let mut target = consul_target(addr, Some(TOKEN));
    migration::run::run(plan, &mut target, &Progress::stderr(true), never()).await
}

#[tokio::test]
async fn a_healthy_lambda_goes_through_every_step_with_cas_on_each_write() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let report = migrate_on(&addr, &plan("5,50,100", &url)).await;

    assert_eq!(report.ending, Ending::Completed, "{}", report.render());
    assert_eq!(report.code(), 0);
    let consul = consul.lock().unwrap();
    assert!(consul.problems.is_empty(), "{:?}", consul.problems);
    assert_eq!(consul.lambda(), 100.0);
    // Each write carries the ModifyIndex this run last read or wrote, and
    // is read back; each step's window ends with a look at the splitter.
    let requests: Vec<&str> = consul.log.iter().map(|l| l.request.as_str()).collect();
    let get = "GET /v1/config/service-splitter/greeter";
    assert_eq!(
        requests,
        [
            get,
            "PUT /v1/config?cas=41",
            get,
            get,
            "PUT /v1/config?cas=42",
            get,
            get,
            "PUT /v1/config?cas=43",
            get,
            get
        ]
    );
    let writes = consul.writes();
    let weights: Vec<Value> = writes.iter().map(|(_, body)| body["Splits"].clone()).collect();
    assert_eq!(
        weights,
        [
            serde_json::json!([{"Weight": 95, "Service": "greeter"}, {"Weight": 5, "Service": "greeter-lambda"}]),
            serde_json::json!([{"Weight": 50, "Service": "greeter"}, {"Weight": 50, "Service": "greeter-lambda"}]),
            serde_json::json!([{"Weight": 0, "Service": "greeter"}, {"Weight": 100, "Service": "greeter-lambda"}]),
        ]
    );
    // The entry's other fields are kept.
    assert!(writes.iter().all(|(_, body)| body["Meta"]["owner"] == "platform"));
    // The report's shares are the ones written, and each step saw them.
    let shares: Vec<f64> = report
        .steps
        .iter()
        .map(|s| s.lambda_share.fraction() * 100.0)
        .collect();
    assert_eq!(shares, [5.0, 50.0, 100.0]);
    assert!((report.steps[1].window.observed_lambda_percent - 50.0).abs() < 1.0);
    assert_eq!(report.steps[2].window.greeter.succeeded, 0);
}

#[tokio::test]
async fn a_missing_splitter_is_created_with_cas_0() {
    let (consul, addr, url, _) = stack(None).await;
    let report = migrate_on(&addr, &plan("10", &url)).await;
    assert_eq!(report.ending, Ending::Completed, "{}", report.render());
    assert_eq!(report.started_at, Some(migration::share::Share::ZERO));
    let consul = consul.lock().unwrap();
    assert!(consul.problems.is_empty(), "{:?}", consul.problems);
    assert_eq!(consul.writes()[0].0, "PUT /v1/config?cas=0");
    assert_eq!(consul.lambda(), 10.0);
}

/// The PUTs Consul got, taken or refused.
fn puts(consul: &consul_double::Consul) -> Vec<&str> {
    consul
        .log
        .iter()
        .filter(|l| l.request.starts_with("PUT"))
        .map(|l| l.request.as_str())
        .collect()
}

#[tokio::test]
async fn a_change_right_after_a_write_stops_the_run_with_nothing_more_written() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    // Someone else sets the Lambda to 30 % right after this run's first
    // write, before its read-back.
    consul.lock().unwrap().change_after_write = Some(1);
    let report = migrate_on(&addr, &plan("5,50,100", &url)).await;

    assert_eq!(report.ending, Ending::Error, "{}", report.render());
    assert_eq!(report.code(), 1);
    assert!(
        report.message.starts_with(&format!(
            "writing 5% failed: after writing 5%: someone else changed the split; Consul at http://{addr}/ (service-splitter greeter) now holds the Lambda at 30% (ModifyIndex 43, Splits ["
        )) && report.message.ends_with("Nothing more was written: split migrate stops here"),
        "{}",
        report.message
    );
    assert_eq!(report.final_share, Some("30".parse().unwrap()));
    assert!(report.steps.is_empty());
    let consul = consul.lock().unwrap();
    assert!(consul.problems.is_empty(), "{:?}", consul.problems);
    assert_eq!(consul.lambda(), 30.0, "the other writer's change stands");
    assert_eq!(
        puts(&consul),
        ["PUT /v1/config?cas=41"],
        "no write after the change"
    );
}

#[tokio::test]
async fn a_change_during_a_step_stops_the_run_with_nothing_more_written() {
    let (consul, addr, url, ingress) = stack(Some(0.0)).await;
    // During the first step, someone else sets the Lambda to 30 %.
    // (The baseline takes the first 100 requests.)
    ingress.lock().unwrap().concurrent_write_after = Some(150);
    let report = migrate_on(&addr, &plan("5,50,100", &url)).await;

    assert_eq!(report.ending, Ending::Error, "{}", report.render());
    assert_eq!(report.code(), 1);
    assert!(
        report.message.starts_with(
            "after the 5% step's window, it no longer holds the Lambda at 5% (ModifyIndex 42, Splits ["
        ) && report
            .message
            .contains("someone else changed the split; Consul at ")
            && report
                .message
                .contains("now holds the Lambda at 30% (ModifyIndex 43"),
        "{}",
        report.message
    );
    assert_eq!(report.final_share, Some("30".parse().unwrap()));
    let consul = consul.lock().unwrap();
    assert!(consul.problems.is_empty(), "{:?}", consul.problems);
    assert_eq!(consul.lambda(), 30.0, "the other writer's change stands");
    assert_eq!(
        puts(&consul),
        ["PUT /v1/config?cas=41"],
        "no write after the change"
    );
}

#[tokio::test]
async fn a_failing_lambda_is_rolled_back_to_0_or_to_the_last_passed_step() {
    for (rollback, expected) in [(Rollback::Zero, 0.0), (Rollback::Previous, 5.0)] {
        let (consul, addr, url, ingress) = stack(Some(0.0)).await;
        let mut plan = plan("5,50,100", &url);
        plan.rollback = rollback;
        // Healthy at 5 %, then one Lambda answer in 5 is a function error.
        {
            let mut ingress = ingress.lock().unwrap();
            ingress.fail_every_lambda = Some(5);
            ingress.fail_at_or_above = 50.0;
        }
        let report = migrate_on(&addr, &plan).await;
        assert_eq!(report.ending, Ending::RolledBack, "{}", report.render());
        assert_eq!(report.code(), 1);
        assert_eq!(report.steps.len(), 2);
        assert_eq!(report.steps[0].verdict, Verdict::Passed);
        let Verdict::Failed(why) = &report.steps[1].verdict else {
            panic!("{}", report.render())
        };
        // One in 5 failed: 80 %, give or take the answers in flight.
        let success: f64 = why[0]
            .strip_prefix("Lambda success ")
            .and_then(|rest| rest.split_once("% < 99% ("))
            .map(|(percent, _)| percent.parse().unwrap())
            .unwrap_or_else(|| panic!("{why:?}"));
        assert!((75.0..=85.0).contains(&success), "{why:?}");
        let consul = consul.lock().unwrap();
        assert!(consul.problems.is_empty(), "{:?}", consul.problems);
        assert_eq!(consul.lambda(), expected, "{rollback:?}");
    }
}

#[tokio::test]
async fn an_interrupt_returns_the_share_to_the_last_passed_step() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let mut target = consul_target(&addr, Some(TOKEN));
    // SIGTERM while the 50 % step runs.
    let watched = consul.clone();
    let interrupted = async move {
        while watched.lock().unwrap().lambda() != 50.0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let mut plan = plan("5,50,100", &url);
    plan.hold.min_time = Duration::from_secs(30);
    let report = migration::run::run(&plan, &mut target, &Progress::stderr(true), interrupted).await;
    assert_eq!(report.ending, Ending::Interrupted, "{}", report.render());
    assert_eq!(report.code(), 130);
    assert_eq!(consul.lock().unwrap().lambda(), 5.0);
    assert_eq!(report.steps.last().unwrap().verdict, Verdict::Interrupted);
}

#[tokio::test]
async fn without_a_valid_token_nothing_is_written() {
    for token in [None, Some("not-the-token")] {
        let (consul, addr, url, _) = stack(Some(0.0)).await;
        let mut target = consul_target(&addr, token);
        let report =
            migration::run::run(&plan("5", &url), &mut target, &Progress::stderr(true), never()).await;
        assert_eq!(report.ending, Ending::Error);
        assert!(
            report.message.contains("Consul refused the request with 403")
                && report
                    .message
                    .contains("set CONSUL_HTTP_TOKEN to a token with service:write on greeter")
                && report.message.ends_with("nothing was written"),
            "{}",
            report.message
        );
        assert!(consul.lock().unwrap().writes().is_empty());
    }
}

/// Runs the binary with `env` on top of a clean Consul environment.
pub(crate) async fn split(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_split"));
    command.args(args);
    for var in [
        "CONSUL_HTTP_ADDR",
        "CONSUL_HTTP_TOKEN",
        "CONSUL_HTTP_SSL",
        "CONSUL_CACERT",
        "CONSUL_HTTP_TOKEN_FILE",
    ] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_migrates_on_consul_over_https_with_its_ca() {
    let consul = consul_double::Consul::holding(Some(0.0));
    let addr = consul_double::serve_tls(consul.clone()).await;
    let ingress = Arc::new(Mutex::new(Ingress::default()));
    let url = consul_double::serve_ingress(consul.clone(), ingress).await;
    let ca = format!("{}/tests/fixtures/consul-ca.pem", env!("CARGO_MANIFEST_DIR"));
    let args = [
        "migrate",
        "--target",
        "consul",
        "--url",
        &url,
        "--steps",
        "20,100",
        "--requests",
        "100",
        "--min-lambda-answers",
        "10",
        "--settle-ms",
        "0",
        "--max-p99-ratio",
        "100",
        "--json",
    ];
    let out = split(
        &args,
        &[
            ("CONSUL_HTTP_ADDR", format!("https://{addr}")),
            ("CONSUL_HTTP_TOKEN", TOKEN.to_owned()),
            ("CONSUL_CACERT", ca),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ending"], "completed");
    assert_eq!(report["steps"][1]["lambda_share"], 100.0);
    assert_eq!(consul.lock().unwrap().lambda(), 100.0);
    assert!(consul.lock().unwrap().problems.is_empty());

    // The same without the CA: the system's roots do not know it.
    let out = split(
        &args,
        &[
            ("CONSUL_HTTP_ADDR", format!("https://{addr}")),
            ("CONSUL_HTTP_TOKEN", TOKEN.to_owned()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("TLS"), "{stdout}");
}

#[tokio::test]
async fn bad_input_exits_64_before_anything_is_written() {
    let (consul, addr, url, _) = stack(Some(0.0)).await;
    let http = format!("http://{addr}");
    for (args, env, message) in [
        (
            &["--steps", "50,25"][..],
            vec![],
            "steps must increase: 25 after 50",
        ),
        (&["--steps", "5,120"], vec![], "120 is outside 0-100"),
        (&["--steps", "5,33.333"], vec![], "33.333 is finer than 0.01"),
        (&["--min-success", "100.5"], vec![], "100.5 is outside 0-100"),
        (
            &["--max-p99-ratio", "0"],
            vec![],
            "0 is not a ratio from 1 to 1000",
        ),
        (
            &["--requests", "500", "--max-requests", "100"],
            vec![],
            "--max-requests 100 is below --requests 500",
        ),
        (
            &["--target", "consul"],
            vec![("CONSUL_HTTP_ADDR", "unix:///tmp/consul.sock".to_owned())],
            "CONSUL_HTTP_ADDR: \"unix:///tmp/consul.sock\": a unix socket is not supported",
        ),
        (
            &["--target", "consul"],
            vec![
                ("CONSUL_HTTP_ADDR", http.clone()),
                ("CONSUL_HTTP_SSL", "yes please".to_owned()),
            ],
            "CONSUL_HTTP_SSL: \"yes please\" is not true or false",
        ),
        (
            &["--target", "consul"],
            vec![
                ("CONSUL_HTTP_ADDR", format!("https://{addr}")),
                ("CONSUL_CACERT", "/nonexistent/ca.pem".to_owned()),
            ],
            "CONSUL_CACERT /nonexistent/ca.pem",
        ),
    ] {
        let mut all = vec!["migrate", "--url", &url];
        all.extend(args);
        let out = split(&all, &env).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(consul.lock().unwrap().log.is_empty(), "nothing reached Consul");
}

#[tokio::test]
async fn an_unreachable_target_is_a_clear_error_with_nothing_written() {
    let (_, _, url, ingress) = stack(Some(0.0)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let admin = format!("http://{addr}");
    for (args, env) in [
        (vec!["--admin", admin.as_str()], vec![]),
        (
            vec!["--target", "consul"],
            vec![("CONSUL_HTTP_ADDR", addr.clone())],
        ),
    ] {
        let mut all = vec!["migrate", "--url", &url];
        all.extend(args);
        let out = split(&all, &env).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("connection refused") && stdout.contains("nothing was written"),
            "{stdout}"
        );
    }
    assert_eq!(
        ingress.lock().unwrap().served,
        0,
        "no probe before the target was read"
    );
}

#[tokio::test]
async fn dry_run_prints_the_plan_and_each_write_and_sends_nothing() {
    let (consul, addr, url, ingress) = stack(Some(0.0)).await;
    let out = split(
        &["migrate", "--target", "consul", "--url", &url, "--dry-run"],
        &[("CONSUL_HTTP_ADDR", addr.clone())],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("steps     5% -> 25% -> 50% -> 100%"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "step 1: PUT http://{addr}/v1/config?cas=<ModifyIndex read before> {{\"Kind\":\"service-splitter\",\"Name\":\"greeter\",\"Splits\":[{{\"Service\":\"greeter\",\"Weight\":95}},{{\"Service\":\"greeter-lambda\",\"Weight\":5}}]}}"
        )),
        "{stdout}"
    );
    assert!(consul.lock().unwrap().log.is_empty());
    assert_eq!(ingress.lock().unwrap().served, 0);
}
