//! The word lists of the original sample and the random pick from them.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use rand::seq::IndexedRandom;

use crate::metrics::Metrics;
use crate::router;

/// The first names the `name` service answers with.
pub const NAMES: [&str; 20] = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
];

/// The greetings the `greeting` service answers with.
pub const GREETINGS: [&str; 4] = ["Hey", "Hi", "Hello", "Greetings"];

/// A uniformly random word of a non-empty list.
pub fn pick(words: &'static [&'static str]) -> &'static str {
    words.choose(&mut rand::rng()).copied().unwrap_or_default()
}

/// The router of `name` and `greeting`: a random word of `words`, then
/// ` (HOSTNAME)`, counted into `metrics`.
pub fn app(words: &'static [&'static str], hostname: &str, metrics: Metrics) -> Router {
    let suffix: Arc<str> = format!(" ({hostname})").into();
    let payload =
        get(move |State(suffix): State<Arc<str>>| async move { format!("{}{suffix}", pick(words)) });
    router::service(payload, suffix, metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn app_answers_a_word_and_the_host() {
        let request = Request::get("/").body(Body::empty()).unwrap();
        let response = app(&NAMES, "ip-10-0-2-133.ec2.internal", Metrics::off())
            .oneshot(request)
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let body = std::str::from_utf8(&body).unwrap();
        let (word, host) = body.split_once(' ').unwrap();
        assert!(NAMES.contains(&word), "{body}");
        assert_eq!(host, "(ip-10-0-2-133.ec2.internal)");
    }

    #[test]
    fn pick_reaches_every_word_and_nothing_else() {
        let seen: HashSet<_> = (0..2000).map(|_| pick(&GREETINGS)).collect();
        assert_eq!(seen, GREETINGS.into_iter().collect());
    }
}
