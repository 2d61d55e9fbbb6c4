//! What every HTTP double in these tests does alike: serve on a free
//! loopback port, and note a request it does not know as a problem the
//! test reports (rather than answer it and let the test pass by chance).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;

/// A double's state that collects the problems its test reports.
pub trait Problems {
    /// The problems seen so far.
    fn problems(&mut self) -> &mut Vec<String>;
}

/// `router` with a fallback that notes `unexpected request METHOD URI` as
/// a problem and answers 404 with `not_found`, the real server's body.
pub fn note_unexpected<T>(router: Router<Arc<Mutex<T>>>, not_found: &'static str) -> Router<Arc<Mutex<T>>>
where
    T: Problems + Send + 'static,
{
    router.fallback(
        move |State(shared): State<Arc<Mutex<T>>>, request: Request| async move {
            let line = format!("{} {}", request.method(), request.uri());
            shared
                .lock()
                .unwrap()
                .problems()
                .push(format!("unexpected request {line}"));
            (StatusCode::NOT_FOUND, not_found)
        },
    )
}

/// Serves `app` over http on a free loopback port; returns its address.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
