//! The front door: `From <host>: <greeter body>`, where the greeter body
//! may come JSON-quoted from a Lambda reached through the mesh. A Lambda's
//! function error never gets here: the upstream client turns it into
//! [`UpstreamError::FunctionError`], a 502 declaring origin `function`.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::config::{ConfigError, Env};
use crate::router;
use crate::upstream::{Client, Forwarded, Upstream, UpstreamError};

#[derive(Debug, Clone)]
struct Ingress {
    client: Client,
    greeter: Upstream,
    from: Arc<str>,
}

/// Reads `GREETER_URL` and builds ingress's router.
pub fn app_from_env(env: &Env, client: Client, hostname: &str) -> Result<Router, ConfigError> {
    let state = Ingress {
        greeter: client.upstream("greeter", env.url("GREETER_URL")?),
        from: hostname.into(),
        client,
    };
    let metrics = state.client.metrics().clone();
    Ok(router::service(get(greet), state, metrics))
}

async fn greet(
    State(ingress): State<Ingress>,
    Forwarded(headers): Forwarded,
) -> Result<String, UpstreamError> {
    let body = ingress.client.get_text(&ingress.greeter, headers).await?;
    Ok(format!("From {}: {}", ingress.from, unquote(&body)))
}

/// The greeter body as text: a JSON string is decoded (a Lambda's return
/// value under payload passthrough), anything else is kept as it is.
pub fn unquote(body: &str) -> Cow<'_, str> {
    let trimmed = body.trim();
    // Only a body that can be a JSON string is parsed at all.
    if !trimmed.starts_with('"') {
        return Cow::Borrowed(body);
    }
    match serde_json::from_str::<String>(trimmed) {
        Ok(text) => Cow::Owned(text),
        Err(_) => Cow::Borrowed(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_body_is_kept_as_it_is() {
        let body = "From ip-10-0-3-61: Hi (a) Mary (b)";
        assert_eq!(unquote(body), body);
    }

    #[test]
    fn a_json_string_is_decoded_with_its_escapes() {
        let body = r#""From lambda: Hi \"there\" \u00e9t\u00e9\\ (a)\nMary (b)""#;
        assert_eq!(unquote(body), "From lambda: Hi \"there\" été\\ (a)\nMary (b)");
    }

    #[test]
    fn other_json_and_broken_json_are_kept_as_they_are() {
        for body in [r#"{"hello":"world"}"#, r#""unterminated"#, "{not json", "42"] {
            assert_eq!(unquote(body), body);
        }
    }
}
