//! `/api/v1/stream`: server-sent events, one per change the caches see, so that a page
//! updates without polling. A slow client that falls behind is told to re-read everything
//! (`event: resync`) rather than holding the others up.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;

pub async fn stream(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<crate::auth::User>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = state.fleet.changes.subscribe();
    let mut stop = state.stop.clone();
    let state = state.clone();
    let events = async_stream(move |tx| async move {
        // A comment at once, so that the answer's head goes out now: without a first chunk
        // a quiet fleet would hold it until the first keep-alive, and the client would not
        // know that it is connected.
        if tx.send(Ok(Event::default().comment("open"))).await.is_err() {
            return;
        }
        loop {
            let change = tokio::select! {
                c = rx.recv() => c,
                _ = stop.changed() => return,
            };
            let event = match change {
                // Only what the user may see: an application of a project it may not read
                // is not even named.
                Ok(c) if c.kind == "Application" && !visible(&state, &user, &c.name) => continue,
                Ok(c) => Event::default()
                    .event("change")
                    .data(serde_json::to_string(&c).unwrap_or_default()),
                Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                Err(RecvError::Closed) => return,
            };
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}

/// Whether `user` may see application `name` (a deleted one: by the rule for every project).
fn visible(state: &AppState, user: &crate::auth::User, name: &str) -> bool {
    let object = crate::api::apps::rbac_object(state, name);
    state.auth.allows(user, "applications", "get", &object)
}

/// A stream fed by a task through a small channel.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
