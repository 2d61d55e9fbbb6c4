//! Upstream faults answer 502/504 naming the upstream, within the timeout.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const SHORT: Duration = Duration::from_millis(300);

async fn mock(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn greeter_returns_502_when_name_is_down() {
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &refused_url().await, SHORT).await;
    assert_eq!(
        greeter.get("/").await,
        (502, "name upstream unreachable: connection refused".to_owned())
    );
}

#[tokio::test]
async fn greeter_returns_502_when_greeting_is_down() {
    let name = spawn_name().await;
    let greeter = spawn_greeter(&refused_url().await, &name.url, SHORT).await;
    assert_eq!(
        greeter.get("/").await,
        (
            502,
            "greeting upstream unreachable: connection refused".to_owned()
        )
    );
}

#[tokio::test]
async fn ingress_returns_502_when_greeter_is_down() {
    let ingress = spawn_ingress(&refused_url().await, SHORT).await;
    assert_eq!(
        ingress.get("/").await,
        (502, "greeter upstream unreachable: connection refused".to_owned())
    );
}

#[tokio::test]
async fn ingress_passes_a_greeter_failure_on_naming_both() {
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &refused_url().await, SHORT).await;
    let ingress = spawn_ingress(&greeter.url, SHORT).await;
    assert_eq!(
        ingress.get("/").await,
        (
            502,
            "greeter upstream answered 502 Bad Gateway: name upstream unreachable: connection refused"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn greeter_returns_504_within_the_timeout_when_name_is_slow() {
    let greeting = spawn_greeting().await;
    let name = mock(
        ResponseTemplate::new(200)
            .set_body_string("Mary (x)")
            .set_delay(Duration::from_secs(10)),
    )
    .await;
    let greeter = spawn_greeter(&greeting.url, &name.uri(), SHORT).await;

    let started = Instant::now();
    let (status, body) = greeter.get("/").await;

    assert_eq!(
        (status, body.as_str()),
        (504, "name upstream timed out after 300 ms")
    );
    // Bounded by the timeout, not by the upstream's 10 s.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_upstream_that_resets_the_connection_is_a_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.shutdown().await;
        }
    });
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &url, SHORT).await;
    let (status, body) = greeter.get("/").await;
    assert_eq!(status, 502);
    assert!(body.starts_with("name upstream unreachable: "), "{body}");
}

#[tokio::test]
async fn an_oversized_body_is_a_502() {
    let greeting = spawn_greeting().await;
    let name = mock(ResponseTemplate::new(200).set_body_string("x".repeat(64 * 1024 + 1))).await;
    let greeter = spawn_greeter(&greeting.url, &name.uri(), SHORT).await;
    assert_eq!(
        greeter.get("/").await,
        (502, "name upstream body is over 65536 bytes".to_owned())
    );
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_accepted() {
    let greeting = spawn_greeting().await;
    let name = mock(ResponseTemplate::new(200).set_body_string("x".repeat(64 * 1024))).await;
    let greeter = spawn_greeter(&greeting.url, &name.uri(), SHORT).await;
    let (status, body) = greeter.get("/").await;
    assert_eq!(status, 200);
    assert!(body.ends_with(&"x".repeat(64 * 1024)));
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_502() {
    let greeting = spawn_greeting().await;
    let name = mock(ResponseTemplate::new(200).set_body_bytes(vec![0x4d, 0xff, 0xfe])).await;
    let greeter = spawn_greeter(&greeting.url, &name.uri(), SHORT).await;
    assert_eq!(
        greeter.get("/").await,
        (502, "name upstream body is not UTF-8".to_owned())
    );
}

#[tokio::test]
async fn an_upstream_error_status_is_a_502_with_its_first_line() {
    let name = spawn_name().await;
    let greeting = mock(ResponseTemplate::new(503).set_body_string("overloaded\nsecond line")).await;
    let greeter = spawn_greeter(&greeting.uri(), &name.url, SHORT).await;
    assert_eq!(
        greeter.get("/").await,
        (
            502,
            "greeting upstream answered 503 Service Unavailable: overloaded".to_owned()
        )
    );
}

#[tokio::test]
async fn ingress_unquotes_a_lambda_answer() {
    let greeter = mock(
        ResponseTemplate::new(200)
            .set_body_string(r#""From lambda: Hi (ip-10-0-2-33) Mary \"M\" (ip-10-0-2-133)""#),
    )
    .await;
    let ingress = spawn_ingress(&greeter.uri(), SHORT).await;
    assert_eq!(
        ingress.get("/").await,
        (
            200,
            format!(r#"From {INGRESS_HOST}: From lambda: Hi (ip-10-0-2-33) Mary "M" (ip-10-0-2-133)"#)
        )
    );
}

#[tokio::test]
async fn ingress_turns_a_lambda_function_error_into_a_502() {
    let greeter = mock(ResponseTemplate::new(200).set_body_string(
        r#"{"errorType":"UpstreamError","errorMessage":"name upstream unreachable: connection refused"}"#,
    ))
    .await;
    let ingress = spawn_ingress(&greeter.uri(), SHORT).await;
    assert_eq!(
        ingress.get("/").await,
        (
            502,
            "greeter upstream failed: UpstreamError: name upstream unreachable: connection refused"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn only_tracing_headers_reach_upstreams() {
    let name = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-request-id", "req-7"))
        .and(header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string("Mary (x)"))
        .expect(1)
        .mount(&name)
        .await;
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &name.uri(), SHORT).await;

    let response = reqwest::Client::new()
        .get(&greeter.url)
        .header("x-request-id", "req-7")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("authorization", "Bearer secret")
        .header("x-custom", "nope")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let received = name.received_requests().await.unwrap();
    let headers = &received[0].headers;
    assert!(headers.get("authorization").is_none(), "{headers:?}");
    assert!(headers.get("x-custom").is_none(), "{headers:?}");
}

#[tokio::test]
async fn ingress_blames_the_container_greeters_own_failure_on_the_service() {
    let greeting = spawn_greeting().await;
    let greeter = spawn_greeter(&greeting.url, &refused_url().await, SHORT).await;
    let ingress = spawn_ingress(&greeter.url, SHORT).await;
    let response = reqwest::get(&ingress.url).await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["x-failure-origin"], "service");
}

#[tokio::test]
async fn ingress_passes_on_a_failure_the_lambda_declares_its_functions() {
    // greeter-lambda behind Envoy without passthrough: its failed answer
    // is an HTTP 502 that declares origin function.
    let greeter = mock(
        ResponseTemplate::new(502)
            .insert_header("x-failure-origin", "function")
            .set_body_string("name upstream unreachable: connection refused"),
    )
    .await;
    let ingress = spawn_ingress(&greeter.uri(), SHORT).await;
    let response = reqwest::get(&ingress.url).await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["x-failure-origin"], "function");
}

#[tokio::test]
async fn ingress_turns_an_error_message_alone_into_a_function_error() {
    let greeter = mock(ResponseTemplate::new(200).set_body_string(r#"{"errorMessage":"boom"}"#)).await;
    let ingress = spawn_ingress(&greeter.uri(), SHORT).await;
    let response = reqwest::get(&ingress.url).await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["x-failure-origin"], "function");
    assert_eq!(response.text().await.unwrap(), "greeter upstream failed: boom");
}

#[tokio::test]
async fn a_function_error_header_is_a_502_even_with_a_body_that_is_no_error_object() {
    let greeter = mock(
        ResponseTemplate::new(200)
            .insert_header("x-amz-function-error", "Unhandled")
            .set_body_string("Task timed out after 3.00 seconds"),
    )
    .await;
    let ingress = spawn_ingress(&greeter.uri(), SHORT).await;
    assert_eq!(
        ingress.get("/").await,
        (
            502,
            "greeter upstream failed: Unhandled: Task timed out after 3.00 seconds".to_owned()
        )
    );
}
