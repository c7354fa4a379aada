//! Reads: get, list (selectors, paging, tables) and watch.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::cluster::ClusterInner;
use crate::resources::ResourceType;
use crate::route::Params;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use crate::store::{Event, EventType};

/// An object as served for a resource type: the requested `apiVersion` and `kind`.
pub fn present(obj: &Value, rt: &ResourceType) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
    }
    o
}

/// Selectors of a list or watch request.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
    namespace: Option<String>,
}

impl Filter {
    pub fn new(params: &Params, rt: &ResourceType, namespace: Option<&str>) -> ApiResult<Self> {
        Ok(Self {
            labels: LabelSelector::parse(params.get("labelSelector").unwrap_or_default())?,
            fields: FieldSelector::parse(
                params.get("fieldSelector").unwrap_or_default(),
                &rt.kind,
            )?,
            namespace: namespace.map(str::to_owned),
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
        });
        ns_ok && self.labels.matches(obj) && self.fields.matches(obj)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    rv: u64,
    /// The first key of the next page: namespace and name.
    start: (String, String),
}

/// `GET` of a collection.
pub fn list(
    cluster: &ClusterInner,
    rt: &ResourceType,
    ns: Option<&str>,
    params: &Params,
) -> ApiResult<Value> {
    let filter = Filter::new(params, rt, ns)?;
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let start = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.trim_end_matches('='))
                .map_err(|_| {
                    ApiError::bad_request("continue key is not valid: illegal base64 data")
                })?;
            let c: Continue = serde_json::from_slice(&raw)
                .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))?;
            Some(c.start)
        }
        None => None,
    };
    let state = cluster.lock();
    let rv = state.store.current_rv();
    let mut matching = state
        .store
        .list_from(&rt.storage_key(), ns, start)
        .filter(|(_, o)| filter.matches(o));
    let builtin = rt.custom.is_none();
    let mut items = Vec::new();
    for (_, o) in matching.by_ref().take(limit) {
        let mut item = present(o, rt);
        if builtin && let Some(m) = item.as_object_mut() {
            m.remove("apiVersion");
            m.remove("kind");
        }
        items.push(item);
    }
    let next = matching.next().map(|(k, _)| k.clone());
    let remaining = next.as_ref().map_or(0, |_| 1 + matching.count());
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(next) = next {
        let token = serde_json::to_vec(&Continue { rv, start: next }).unwrap_or_default();
        metadata["continue"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(
        json!({"apiVersion": rt.api_version(), "items": items, "kind": rt.list_kind(), "metadata": metadata}),
    )
}

/// `GET` of one object.
pub fn get(
    cluster: &ClusterInner,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
) -> ApiResult<Value> {
    let state = cluster.lock();
    state
        .store
        .get(
            &rt.storage_key(),
            &(ns.unwrap_or_default().to_owned(), name.to_owned()),
        )
        .map(|o| present(o, rt))
        .ok_or_else(|| ApiError::not_found(&rt.plural, &rt.group, name))
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn event_line(e: &Event, filter: &Filter, rt: &ResourceType) -> Option<Bytes> {
    let now = filter.matches(&e.object);
    let kind = match e.kind {
        EventType::Modified => {
            let before = e.previous.as_deref().is_some_and(|p| filter.matches(p));
            match (before, now) {
                (true, true) => "MODIFIED",
                (false, true) => "ADDED",
                (true, false) => "DELETED",
                (false, false) => return None,
            }
        }
        other if now => other.as_str(),
        _ => return None,
    };
    Some(line(kind, &present(&e.object, rt)))
}

/// `GET ?watch=true`: a stream of JSON lines.
pub fn watch(
    cluster: Arc<ClusterInner>,
    rt: ResourceType,
    ns: Option<String>,
    params: &Params,
    bookmark_every: Duration,
) -> ApiResult<axum::body::Body> {
    let filter = Filter::new(params, &rt, ns.as_deref())?;
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let bookmarks = params.flag("allowWatchBookmarks");
    let send_initial = params.flag("sendInitialEvents");
    let res = rt.storage_key();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (mut initial, mut events, from) = {
        let state = cluster.lock();
        let store = &state.store;
        let now_rv = store.current_rv();
        let requested = params
            .get("resourceVersion")
            .filter(|r| !r.is_empty() && *r != "0");
        let mut initial = Vec::new();
        match requested {
            Some(rv) if !send_initial => {
                let rv: u64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?;
                match store.events_since(&res, rv) {
                    Ok(evs) => {
                        initial.extend(evs.iter().filter_map(|e| event_line(e, &filter, &rt)))
                    }
                    Err(oldest) => {
                        let status = ApiError::new(
                            410,
                            Some("Expired"),
                            format!("too old resource version: {rv} ({oldest})"),
                        )
                        .to_status();
                        initial.push(line("ERROR", &status));
                        let body =
                            futures::stream::iter(initial.into_iter().map(Ok::<_, Infallible>));
                        return Ok(axum::body::Body::from_stream(body));
                    }
                }
            }
            _ => {
                for o in store
                    .list(&res, ns.as_deref())
                    .filter(|o| filter.matches(o))
                {
                    initial.push(line("ADDED", &present(o, &rt)));
                }
                if send_initial {
                    let bm = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {
                        "resourceVersion": now_rv.to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"}}});
                    initial.push(line("BOOKMARK", &bm));
                }
            }
        }
        (initial, store.subscribe(), now_rv)
    };
    let mut drops = cluster.faults.watch_drops();
    drops.mark_unchanged();
    tokio::spawn(async move {
        let mut tx = tx;
        for l in initial.drain(..) {
            if futures::SinkExt::send(&mut tx, l).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
        let mut last_rv = from;
        loop {
            let out = tokio::select! {
                _ = &mut deadline => return,
                _ = drops.changed() => return,
                _ = ticker.tick(), if bookmarks => {
                    let bm = json!({"kind": rt.kind, "apiVersion": rt.api_version(),
                        "metadata": {"resourceVersion": last_rv.to_string()}});
                    Some(line("BOOKMARK", &bm))
                }
                ev = events.recv() => match ev {
                    Ok(e) if e.rv > from && e.res == res => {
                        last_rv = e.rv;
                        event_line(&e, &filter, &rt)
                    }
                    Ok(_) => None,
                    // Too slow a reader: end the watch; the client re-watches.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                },
            };
            if let Some(l) = out
                && futures::SinkExt::send(&mut tx, l).await.is_err()
            {
                return;
            }
        }
    });
    Ok(axum::body::Body::from_stream(rx.map(Ok::<_, Infallible>)))
}
