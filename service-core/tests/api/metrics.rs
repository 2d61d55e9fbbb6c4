//! `GET /metrics` on the metrics listener: what promtool accepts, counts
//! that match the requests sent, exactly, for every upstream outcome; and
//! the service's own port, where `/metrics` is only the payload's path.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use service_core::metrics::Metrics;
use service_core::upstream::Outcome;
use service_core::words;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

/// `promtool check metrics` on `text`: a failure names every problem. Where
/// promtool is missing the check is skipped, loudly, except under CI=true,
/// where it fails.
fn assert_promtool_accepts(service: &str, text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "promtool is missing under CI=true: install it with ./scripts/setup prometheus"
            );
            // Straight to stderr: the test harness captures eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: promtool check metrics ({service}): promtool is missing; \
                 ./scripts/setup prometheus installs it ***\n"
            );
            return;
        }
        Err(e) => panic!("promtool: {e}"),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics rejects {service}'s /metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The value of the series `name{labels}` in `text`, which must be there.
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

async fn scrape(app: &TestApp) -> String {
    let metrics_url = app.metrics_url.as_ref().expect("a metrics listener");
    let response = reqwest::get(format!("{metrics_url}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

async fn send(app: &TestApp, method: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", app.url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_services_metrics_pass_promtool_and_count_what_was_sent() {
    let name = spawn_name().await;
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &name.url, Duration::from_secs(2)).await;
    let ingress = spawn_ingress(&greeter.url, Duration::from_secs(2)).await;

    for path in ["/", "/a/b?x=1", "/c"] {
        assert_eq!(send(&ingress, "GET", path).await, 200);
    }
    assert_eq!(send(&ingress, "GET", "/health").await, 200);
    assert_eq!(send(&ingress, "POST", "/").await, 405);
    assert_eq!(send(&ingress, "BREW", "/pot").await, 405);

    let text = scrape(&ingress).await;
    assert_promtool_accepts("ingress", &text);
    let requests = |route: &str, method: &str, status: u16| {
        format!("http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}")
    };
    assert_eq!(value(&text, &requests("/", "GET", 200)), 1.0);
    assert_eq!(value(&text, &requests("/{*path}", "GET", 200)), 2.0);
    assert_eq!(value(&text, &requests("/health", "GET", 200)), 1.0);
    assert_eq!(value(&text, &requests("/", "POST", 405)), 1.0);
    assert_eq!(value(&text, &requests("/{*path}", "other", 405)), 1.0);
    assert_eq!(
        value(
            &text,
            "http_request_duration_seconds_count{route=\"/{*path}\",method=\"GET\",status=\"200\"}"
        ),
        2.0
    );
    // A scrape is no request of the service's: not in flight, not counted.
    assert_eq!(value(&text, "http_requests_in_flight"), 0.0);
    assert!(!text.contains("route=\"/metrics\""), "{text}");
    assert!(
        text.contains("build_info{service=\"ingress\",version=\""),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "upstream_requests_total{upstream=\"greeter\",outcome=\"ok\"}"
        ),
        3.0
    );

    let text = scrape(&greeter).await;
    assert_promtool_accepts("greeter", &text);
    for upstream in ["greeting", "name"] {
        for outcome in Outcome::ALL {
            let expected = if outcome == Outcome::Ok { 3.0 } else { 0.0 };
            let labels = format!("{{upstream=\"{upstream}\",outcome=\"{}\"}}", outcome.as_str());
            assert_eq!(
                value(&text, &format!("upstream_requests_total{labels}")),
                expected,
                "{labels}"
            );
            assert_eq!(
                value(&text, &format!("upstream_request_duration_seconds_count{labels}")),
                expected,
                "{labels}"
            );
        }
    }

    for (service, leaf) in [("name", &name), ("greeting", &greeting)] {
        let text = scrape(leaf).await;
        assert_promtool_accepts(service, &text);
        // The greeter calls its upstreams at their root.
        assert_eq!(value(&text, &requests("/", "GET", 200)), 3.0, "{service}");
        assert!(!text.contains("upstream_requests_total{"), "{service}: {text}");
    }
}

/// A greeter double on `127.0.0.1:0` that answers by the request id it is
/// sent, one connection per request: `ok`, `status`, `too_large`,
/// `not_utf8`, `function_header` (Lambda's header and error object),
/// `function_shape` (the error object alone, no header), `timeout` (no
/// answer for 5 s), `unreachable` (the connection closed unanswered).
async fn greeter_double() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let id = head
                    .lines()
                    .find_map(|line| line.strip_prefix("x-request-id: "))
                    .unwrap_or("ok")
                    .trim()
                    .to_owned();
                let answer = |status: &str, headers: &str, body: &[u8]| {
                    let mut out = format!(
                        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n{headers}\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(body);
                    out
                };
                let error_object =
                    br#"{"errorType":"UpstreamError","errorMessage":"name upstream unreachable"}"#;
                let bytes = match id.as_str() {
                    "status" => answer("503 Service Unavailable", "", b"overloaded"),
                    "too_large" => answer("200 OK", "", &vec![b'x'; 64 * 1024 + 1]),
                    "not_utf8" => answer("200 OK", "", &[0x4d, 0xff]),
                    "function_header" => answer(
                        "200 OK",
                        "x-amz-function-error: Unhandled\r\ncontent-type: application/json\r\n",
                        error_object,
                    ),
                    "function_shape" => answer("200 OK", "", br#"{"errorMessage":"boom"}"#),
                    "timeout" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        return;
                    }
                    "unreachable" => return,
                    _ => answer("200 OK", "", b"\"From lambda: Hi (g) Mary (n)\""),
                };
                let _ = socket.write_all(&bytes).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn ingress_counts_each_upstream_outcome_exactly() {
    let greeter = greeter_double().await;
    let ingress = spawn_ingress(&greeter, Duration::from_millis(300)).await;
    let sent = [
        ("ok", 3, 200),
        ("unreachable", 1, 502),
        ("timeout", 1, 504),
        ("status", 2, 502),
        ("too_large", 1, 502),
        ("not_utf8", 1, 502),
        ("function_header", 2, 502),
        ("function_shape", 1, 502),
    ];
    let client = reqwest::Client::new();
    for (id, times, status) in sent {
        for _ in 0..times {
            let response = client
                .get(&ingress.url)
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{id}");
            let origin = response.headers().get("x-failure-origin").cloned();
            let body = response.text().await.unwrap();
            if id.starts_with("function") {
                assert_eq!(origin.unwrap(), "function", "{id}: {body}");
            }
            match id {
                "function_header" => assert_eq!(
                    body,
                    "greeter upstream failed: UpstreamError: name upstream unreachable"
                ),
                "function_shape" => assert_eq!(body, "greeter upstream failed: boom"),
                _ => {}
            }
        }
    }

    let text = scrape(&ingress).await;
    assert_promtool_accepts("ingress", &text);
    let expected = |outcome: Outcome| -> f64 {
        let sent_as = |id: &str| {
            sent.iter()
                .filter(|(sent_id, ..)| sent_id.starts_with(id))
                .map(|(_, times, _)| f64::from(*times))
                .sum()
        };
        match outcome {
            Outcome::FunctionError => sent_as("function"),
            other => sent_as(other.as_str()),
        }
    };
    for outcome in Outcome::ALL {
        let labels = format!("{{upstream=\"greeter\",outcome=\"{}\"}}", outcome.as_str());
        assert_eq!(
            value(&text, &format!("upstream_requests_total{labels}")),
            expected(outcome),
            "{labels}"
        );
        assert_eq!(
            value(&text, &format!("upstream_request_duration_seconds_count{labels}")),
            expected(outcome),
            "{labels}"
        );
    }
    let served = |status: u16| {
        value(
            &text,
            &format!("http_requests_total{{route=\"/\",method=\"GET\",status=\"{status}\"}}"),
        )
    };
    assert_eq!((served(200), served(502), served(504)), (3.0, 8.0, 1.0));
}

#[tokio::test]
async fn the_public_port_answers_metrics_with_the_payload_and_the_metrics_port_only_metrics() {
    let chain = spawn_chain().await;
    let payload = regex::Regex::new(&format!(
        "^From {INGRESS_HOST}: From {GREETER_HOST}: {}$",
        greeting_and_name_pattern()
    ))
    .unwrap();

    let (status, body) = chain.ingress.get("/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        payload.is_match(&body),
        "GET /metrics on ingress's port: {body:?}"
    );

    let metrics = TestApp {
        url: chain.ingress.metrics_url.clone().unwrap(),
        metrics_url: None,
    };
    for path in ["/", "/health", "/anything"] {
        assert_eq!(metrics.get(path).await.0, 404, "{path} on the metrics port");
    }
    let text = scrape(&chain.ingress).await;
    // `/metrics` on the public port was a payload request like any other.
    let requests = "http_requests_total{route=\"/{*path}\",method=\"GET\",status=\"200\"}";
    assert_eq!(value(&text, requests), 1.0);
    assert_eq!(
        value(
            &text,
            "upstream_requests_total{upstream=\"greeter\",outcome=\"ok\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn with_metrics_off_nothing_is_counted_and_metrics_is_the_payload() {
    let name = spawn_app(words::app(&words::NAMES, NAME_HOST, Metrics::off())).await;
    assert_eq!(name.get("/").await.0, 200);
    let (status, body) = name.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.ends_with(&format!(" ({NAME_HOST})")), "{body}");
}
