//! The front door: `From <host>: <greeter body>`, where the greeter body
//! may come JSON-quoted from a Lambda reached through the mesh.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

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
        client,
        greeter: Upstream {
            name: "greeter",
            url: env.url("GREETER_URL")?,
        },
        from: hostname.into(),
    };
    Ok(router::service(get(greet), state))
}

async fn greet(
    State(ingress): State<Ingress>,
    Forwarded(headers): Forwarded,
) -> Result<String, UpstreamError> {
    let body = ingress.client.get_text(&ingress.greeter, headers).await?;
    let greeting = unquote(&body).map_err(|detail| UpstreamError::Failed {
        upstream: "greeter",
        detail,
    })?;
    Ok(format!("From {}: {greeting}", ingress.from))
}

/// The greeter body as text: a JSON string is decoded (a Lambda's return
/// value under payload passthrough), a Lambda function error
/// (`{"errorType", "errorMessage"}`) is an `Err` with its message, and
/// anything else is kept as it is.
pub fn unquote(body: &str) -> Result<Cow<'_, str>, String> {
    let trimmed = body.trim();
    // Only bodies that can be what we look for are parsed at all.
    if !(trimmed.starts_with('"') || trimmed.starts_with('{')) {
        return Ok(Cow::Borrowed(body));
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::String(text)) => Ok(Cow::Owned(text)),
        Ok(Value::Object(object)) => match (object.get("errorType"), object.get("errorMessage")) {
            (Some(kind), Some(message)) => Err(format!(
                "{}: {}",
                kind.as_str().unwrap_or("Error"),
                message
                    .as_str()
                    .map_or_else(|| message.to_string(), str::to_owned)
            )),
            _ => Ok(Cow::Borrowed(body)),
        },
        _ => Ok(Cow::Borrowed(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_body_is_kept_as_it_is() {
        let body = "From ip-10-0-3-61: Hi (a) Mary (b)";
        assert_eq!(unquote(body).unwrap(), body);
    }

    #[test]
    fn a_json_string_is_decoded_with_its_escapes() {
        let body = r#""From lambda: Hi \"there\" \u00e9t\u00e9\\ (a)\nMary (b)""#;
        assert_eq!(
            unquote(body).unwrap(),
            "From lambda: Hi \"there\" été\\ (a)\nMary (b)"
        );
    }

    #[test]
    fn a_lambda_error_object_is_an_error_with_its_message() {
        let body =
            r#"{"errorType":"UpstreamError","errorMessage":"name upstream unreachable: connection refused"}"#;
        assert_eq!(
            unquote(body).unwrap_err(),
            "UpstreamError: name upstream unreachable: connection refused"
        );
    }

    #[test]
    fn other_json_and_broken_json_are_kept_as_they_are() {
        for body in [r#"{"hello":"world"}"#, r#""unterminated"#, "{not json", "42"] {
            assert_eq!(unquote(body).unwrap(), body);
        }
    }
}
