//! The four services wired together answer exactly the original's format.

use regex::Regex;

use crate::helpers::*;

#[tokio::test]
async fn the_chain_answers_in_the_original_format() {
    let chain = spawn_chain().await;
    let pattern = Regex::new(&format!(
        "^From {INGRESS_HOST}: From {GREETER_HOST}: {}$",
        greeting_and_name_pattern()
    ))
    .unwrap();

    for path in ["/", "/any/path?x=1"] {
        let (status, body) = chain.ingress.get(path).await;
        assert_eq!(status, 200, "{body}");
        assert!(pattern.is_match(&body), "{body:?} does not match {pattern}");
    }
}

#[tokio::test]
async fn the_greeter_answers_in_the_original_format() {
    let chain = spawn_chain().await;
    let pattern = Regex::new(&format!("^From {GREETER_HOST}: {}$", greeting_and_name_pattern())).unwrap();
    let (status, body) = chain.greeter.get("/").await;
    assert_eq!(status, 200);
    assert!(pattern.is_match(&body), "{body:?}");
}

#[tokio::test]
async fn every_service_answers_health() {
    let name = spawn_name().await;
    let chain = spawn_chain().await;
    for app in [&name, &chain.greeter, &chain.ingress] {
        assert_eq!(app.get("/health").await, (200, "healthy".to_owned()));
    }
}

#[tokio::test]
async fn the_request_id_travels_down_the_chain_and_back() {
    let chain = spawn_chain().await;
    let response = reqwest::Client::new()
        .get(&chain.ingress.url)
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "trace-me-1");
}
