//! The handler on every invocation shape, with real upstreams or mocks.

use std::time::Duration;

use lambda_http::lambda_runtime::Context;
use serde_json::{Value, json};

use crate::helpers::*;

// Passthrough: the raw request body is the payload, the answer a JSON string.

#[tokio::test]
async fn an_empty_payload_answers_the_greeting_as_a_json_string() {
    let function = function_with_real_upstreams().await;
    let answer = invoke(&function, b"").await.unwrap();
    assert_greeting(answer.as_str().expect("a JSON string"));
}

#[tokio::test]
async fn json_payloads_of_any_other_shape_answer_the_greeting() {
    let function = function_with_real_upstreams().await;
    for payload in [
        "null",
        "{}",
        "[]",
        r#""hello""#,
        "42",
        r#"{"user":{"id":7},"items":[1,2]}"#,
    ] {
        let answer = invoke(&function, payload.as_bytes()).await.unwrap();
        assert_greeting(answer.as_str().unwrap_or_else(|| panic!("{payload}: {answer}")));
    }
}

#[tokio::test]
async fn payloads_that_are_not_json_answer_the_greeting() {
    let function = function_with_real_upstreams().await;
    for payload in [
        &b"hello"[..],
        br#"{"raw_path":"/","meth"#,
        b"\xff\xfe\x00",
        b"  \n",
    ] {
        let answer = invoke(&function, payload).await.unwrap();
        assert_greeting(answer.as_str().expect("a JSON string"));
    }
}

#[tokio::test]
async fn a_one_megabyte_payload_answers_the_greeting() {
    let function = function_with_real_upstreams().await;
    let big = serde_json::to_vec(&json!({ "blob": "x".repeat(1024 * 1024) })).unwrap();
    assert!(big.len() > 1024 * 1024);
    let answer = invoke(&function, &big).await.unwrap();
    assert_greeting(answer.as_str().expect("a JSON string"));
}

#[tokio::test]
async fn passthrough_is_a_function_error_naming_name_when_name_is_down() {
    let function = function(&spawn_greeting().await, &refused_url().await);
    let error = invoke(&function, b"").await.unwrap_err();
    assert_eq!(error.error_type, "UpstreamError");
    assert_eq!(
        error.error_message,
        "name upstream unreachable: connection refused"
    );
}

#[tokio::test]
async fn passthrough_is_a_function_error_naming_greeting_when_it_is_too_slow() {
    let greeting = mock_upstream("Hi (g)", Duration::from_secs(2)).await;
    let function = function(&greeting.uri(), &spawn_name().await);
    let error = invoke(&function, b"").await.unwrap_err();
    assert_eq!(error.error_message, "greeting upstream timed out after 300 ms");
}

#[tokio::test]
async fn passthrough_sends_the_invocations_xray_trace_upstream_and_nothing_else() {
    let greeting = mock_upstream("Hi (g)", Duration::ZERO).await;
    let name = mock_upstream("Mary (n)", Duration::ZERO).await;
    let function = function(&greeting.uri(), &name.uri());
    let mut context = Context::default();
    context.xray_trace_id = Some("Root=1-6566e4a1-3b1f2c7d5e9a0b4c6d8e0f12;Sampled=1".into());

    let answer = invoke_with(&function, b"", context).await.unwrap();

    assert_eq!(answer, json!("From lambda: Hi (g) Mary (n)"));
    for upstream in [&greeting, &name] {
        let received = assert_only_tracing_headers(upstream).await;
        assert!(received.contains("x-amzn-trace-id"), "{received:?}");
        let request = &upstream.received_requests().await.unwrap()[0];
        assert_eq!(
            request.headers["x-amzn-trace-id"],
            "Root=1-6566e4a1-3b1f2c7d5e9a0b4c6d8e0f12;Sampled=1"
        );
    }
}

// Envoy without passthrough: snake_case JSON in and out.

fn envoy(raw_path: &str, method: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "raw_path": raw_path, "method": method, "headers": {}, "query_string_parameters": {},
        "body": "", "is_base64_encoded": false,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_envoy_shape_answers_status_headers_and_the_greeting() {
    let function = function_with_real_upstreams().await;
    let answer = invoke(&function, &fixture("envoy-base64-body.json"))
        .await
        .unwrap();
    assert_eq!(answer["status_code"], 200, "{answer}");
    let headers: Vec<&str> = answer["headers"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(headers, ["content-type", "x-request-id"]);
    assert_eq!(answer["headers"]["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer["is_base64_encoded"], false);
    assert_greeting(answer["body"].as_str().expect("body is text"));
}

#[tokio::test]
async fn the_envoy_shape_keeps_the_request_id_it_was_given() {
    let function = function_with_real_upstreams().await;
    let answer = invoke(&function, &fixture("envoy-base64-body.json"))
        .await
        .unwrap();
    assert_eq!(
        answer["headers"]["x-request-id"],
        "6b2f3a4c-1d5e-4f60-8a7b-9c0d1e2f3a4b"
    );
}

#[tokio::test]
async fn the_envoy_shape_answers_healthy_on_health_without_calling_upstreams() {
    let function = function(&refused_url().await, &refused_url().await);
    let answer = invoke(&function, &envoy("/health", "GET")).await.unwrap();
    assert_eq!(
        (&answer["status_code"], &answer["body"]),
        (&json!(200), &json!("healthy"))
    );
}

#[tokio::test]
async fn the_envoy_shape_answers_502_naming_name_when_name_is_down() {
    let function = function(&spawn_greeting().await, &refused_url().await);
    let answer = invoke(&function, &envoy("/", "GET")).await.unwrap();
    assert_eq!(answer["status_code"], 502);
    assert_eq!(answer["body"], "name upstream unreachable: connection refused");
    // The Lambda's failure, not the container greeter's: ingress passes
    // this origin on.
    assert_eq!(answer["headers"]["x-failure-origin"], "function");
}

#[tokio::test]
async fn the_envoy_shape_answers_504_when_greeting_is_too_slow() {
    let greeting = mock_upstream("Hi (g)", Duration::from_secs(2)).await;
    let function = function(&greeting.uri(), &spawn_name().await);
    let answer = invoke(&function, &envoy("/", "GET")).await.unwrap();
    assert_eq!(answer["status_code"], 504);
    assert_eq!(answer["body"], "greeting upstream timed out after 300 ms");
    assert_eq!(answer["headers"]["x-failure-origin"], "function");
}

#[tokio::test]
async fn the_envoy_shape_answers_405_to_other_methods() {
    let function = function_with_real_upstreams().await;
    let answer = invoke(&function, &envoy("/", "DELETE")).await.unwrap();
    assert_eq!(answer["status_code"], 405);
}

#[tokio::test]
async fn the_envoy_shape_forwards_only_tracing_headers() {
    let greeting = mock_upstream("Hi (g)", Duration::ZERO).await;
    let name = mock_upstream("Mary (n)", Duration::ZERO).await;
    let function = function(&greeting.uri(), &name.uri());
    invoke(&function, &fixture("envoy-base64-body.json"))
        .await
        .unwrap();
    for upstream in [&greeting, &name] {
        let received = assert_only_tracing_headers(upstream).await;
        assert!(
            received.contains("traceparent") && received.contains("x-request-id"),
            "{received:?}"
        );
    }
}

#[tokio::test]
async fn the_envoy_shape_sends_the_invocations_xray_trace_upstream() {
    let greeting = mock_upstream("Hi (g)", Duration::ZERO).await;
    let function = function(&greeting.uri(), &spawn_name().await);
    let mut context = Context::default();
    context.xray_trace_id = Some("Root=1-6566e4a1-3b1f2c7d5e9a0b4c6d8e0f12;Sampled=1".into());

    invoke_with(&function, &fixture("envoy-base64-body.json"), context)
        .await
        .unwrap();

    let request = &greeting.received_requests().await.unwrap()[0];
    assert_eq!(
        request.headers["x-amzn-trace-id"],
        "Root=1-6566e4a1-3b1f2c7d5e9a0b4c6d8e0f12;Sampled=1"
    );
}

#[tokio::test]
async fn an_envoy_payload_that_cannot_be_read_is_a_function_error_saying_why() {
    let function = function_with_real_upstreams().await;
    let payload = br#"{"raw_path":"/","method":"GET","body":"%%%","is_base64_encoded":true}"#;
    let error = invoke(&function, payload).await.unwrap_err();
    assert_eq!(error.error_type, "UnreadablePayload");
    assert!(
        error
            .error_message
            .starts_with("cannot read the envoy payload: body is marked base64 but is not"),
        "{}",
        error.error_message
    );
}

// API Gateway, Function URLs and ALB: through lambda_http and the router.

async fn assert_http_greeting(fixture_name: &str) -> Value {
    let function = function_with_real_upstreams().await;
    let answer = invoke(&function, &fixture(fixture_name)).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{fixture_name}: {answer}");
    assert_eq!(answer["isBase64Encoded"], false);
    assert_greeting(answer["body"].as_str().expect("body is text"));
    answer
}

#[tokio::test]
async fn an_api_gateway_http_api_event_answers_the_greeting() {
    let answer = assert_http_greeting("apigw-http-v2.json").await;
    assert_eq!(answer["headers"]["content-type"], "text/plain; charset=utf-8");
}

#[tokio::test]
async fn a_function_url_event_answers_the_greeting() {
    assert_http_greeting("function-url.json").await;
}

#[tokio::test]
async fn an_api_gateway_rest_event_answers_the_greeting() {
    let answer = assert_http_greeting("apigw-rest-v1.json").await;
    assert_eq!(
        answer["multiValueHeaders"]["content-type"],
        json!(["text/plain; charset=utf-8"])
    );
}

#[tokio::test]
async fn an_alb_event_answers_the_greeting() {
    let answer = assert_http_greeting("alb.json").await;
    assert_eq!(answer["statusDescription"], "200 OK");
    assert_eq!(answer["headers"]["x-request-id"], "alb-7f3e2d1c");
}

#[tokio::test]
async fn an_http_event_for_health_answers_healthy() {
    let function = function(&refused_url().await, &refused_url().await);
    let payload = fixture_with(
        "apigw-http-v2.json",
        &json!({"rawPath": "/health", "rawQueryString": ""}),
    );
    let answer = invoke(&function, &payload).await.unwrap();
    assert_eq!(
        (&answer["statusCode"], &answer["body"]),
        (&json!(200), &json!("healthy"))
    );
}

#[tokio::test]
async fn an_http_event_answers_405_to_other_methods() {
    let function = function_with_real_upstreams().await;
    let answer = invoke(
        &function,
        &fixture_with("alb.json", &json!({"httpMethod": "POST"})),
    )
    .await
    .unwrap();
    assert_eq!(answer["statusCode"], 405);
}

#[tokio::test]
async fn an_http_event_answers_502_naming_name_when_name_is_down() {
    let function = function(&spawn_greeting().await, &refused_url().await);
    let answer = invoke(&function, &fixture("function-url.json")).await.unwrap();
    assert_eq!(answer["statusCode"], 502);
    assert_eq!(answer["body"], "name upstream unreachable: connection refused");
    assert_eq!(answer["headers"]["x-failure-origin"], "function");
}

#[tokio::test]
async fn a_successful_answer_declares_no_origin() {
    let function = function_with_real_upstreams().await;
    let answer = invoke(&function, &envoy("/", "GET")).await.unwrap();
    assert_eq!(answer["status_code"], 200);
    assert!(answer["headers"].get("x-failure-origin").is_none(), "{answer}");
}

#[tokio::test]
async fn http_events_forward_only_tracing_headers() {
    for fixture_name in ["apigw-http-v2.json", "apigw-rest-v1.json", "alb.json"] {
        let greeting = mock_upstream("Hi (g)", Duration::ZERO).await;
        let name = mock_upstream("Mary (n)", Duration::ZERO).await;
        let function = function(&greeting.uri(), &name.uri());
        let answer = invoke(&function, &fixture(fixture_name)).await.unwrap();
        assert_eq!(answer["body"], "From lambda: Hi (g) Mary (n)", "{fixture_name}");
        for upstream in [&greeting, &name] {
            let received = assert_only_tracing_headers(upstream).await;
            assert!(
                received.contains("x-amzn-trace-id"),
                "{fixture_name}: {received:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_http_event_that_cannot_be_read_is_a_function_error() {
    let function = function_with_real_upstreams().await;
    let error = invoke(&function, br#"{"requestContext":{},"httpMethod":7}"#)
        .await
        .unwrap_err();
    assert_eq!(error.error_type, "UnreadablePayload");
    assert!(
        error.error_message.starts_with("cannot read the http payload: "),
        "{}",
        error.error_message
    );
}
