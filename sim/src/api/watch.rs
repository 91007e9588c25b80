//! Watches: newline-delimited JSON events from a resourceVersion (or synthetic ADDED events of what exists),
//! selectors with the real server's enter/leave semantics, bookmarks, `timeoutSeconds`, 410 as an ERROR event,
//! and the watch faults.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::error::ApiError;
use super::query::Selectors;
use super::resources::ResourceType;
use super::server::{ApiState, Ctx};
use super::store::{EventType, StoreEvent};
use super::table;

/// Simulated time between bookmarks (the real server sends one about every minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// How long a watch lasts without `timeoutSeconds` (the real server picks 30–60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The watch event of a store event as a watcher with `sel` sees it: an object entering the selection is ADDED,
/// one leaving it is DELETED (carrying its previous state at the event's resourceVersion), as the watch cache does.
pub fn event_for(ev: &StoreEvent, sel: &Selectors) -> Option<(&'static str, Value)> {
    let cur = ev.kind != EventType::Deleted && sel.matches(&ev.object);
    let prev = match ev.kind {
        EventType::Added => false,
        EventType::Deleted => true,
        EventType::Modified => ev.prev.as_deref().is_none_or(|p| sel.matches(p)),
    };
    match (ev.kind, cur, prev) {
        (EventType::Deleted, _, _) if sel.matches(&ev.object) => Some(("DELETED", (*ev.object).clone())),
        (EventType::Deleted, _, _) => None,
        (_, true, false) => Some(("ADDED", (*ev.object).clone())),
        (_, true, true) => Some(("MODIFIED", (*ev.object).clone())),
        (_, false, true) => {
            let mut old = ev.prev.as_deref().cloned().unwrap_or_else(|| (*ev.object).clone());
            old["metadata"]["resourceVersion"] = json!(ev.rv.to_string());
            Some(("DELETED", old))
        }
        (_, false, false) => None,
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta})
}

struct Watch {
    st: Arc<ApiState>,
    rt: &'static ResourceType,
    ns: Option<String>,
    sel: Selectors,
    from: Option<u64>,
    bookmarks: bool,
    initial_events: bool,
    timeout: Duration,
    /// `Some` when the client asked for Tables (kubectl get -w).
    table: Option<table::IncludeObject>,
}

/// `GET ...?watch=true`.
pub fn watch(st: &Arc<ApiState>, ctx: &Ctx, rt: &'static ResourceType, ns: Option<&str>) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let sel = q.selectors(rt)?;
    let from = match q.get("resourceVersion") {
        None | Some("" | "0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resource version: strconv.ParseUint: parsing \"{v}\": invalid syntax"
            ))
        })?),
    };
    let current = st.store.current_rv();
    if let Some(rv) = from.filter(|rv| *rv > current) {
        // The watch cache waits a moment for a version it has not seen, then gives up like this.
        let mut e =
            ApiError::new(504, "Timeout", format!("Timeout: Too large resource version: {rv}, current: {current}"));
        e.retry_after = Some(1);
        return Err(e);
    }
    let w = Watch {
        st: st.clone(),
        rt,
        ns: ns.map(str::to_string),
        sel,
        from,
        bookmarks: q.flag("allowWatchBookmarks"),
        initial_events: q.flag("sendInitialEvents"),
        timeout: q.number("timeoutSeconds")?.map_or(DEFAULT_TIMEOUT, Duration::from_secs),
        table: table::wanted(&ctx.headers).then(|| table::IncludeObject::parse(q.get("includeObject"))),
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    tokio::spawn(w.run(tx));
    let mut r = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache, private"));
    Ok(r)
}

impl Watch {
    /// One event line; as a Table when asked, with the column definitions in the first event only.
    fn event_line(&self, kind: &str, obj: &Value, first: &mut bool) -> Bytes {
        match self.table {
            Some(include) => {
                let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"].clone()});
                let t = table::table(
                    self.rt,
                    std::slice::from_ref(obj),
                    meta,
                    include,
                    self.st.store.clock().now(),
                    *first,
                );
                *first = false;
                line(kind, &t)
            }
            None => line(kind, obj),
        }
    }

    async fn run(self, tx: mpsc::Sender<Result<Bytes, Infallible>>) {
        let mut first = true;
        let store = &self.st.store;
        let start_rv = store.current_rv();
        let (backlog, mut rx) = match store.watch(self.rt, self.ns.as_deref(), self.from) {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(Ok(line("ERROR", &e.to_status()))).await;
                return;
            }
        };
        let drop_after = self.st.faults.drop_watch_after();
        let mut sent: u32 = 0;
        let mut seen_rv = self.from.unwrap_or(start_rv).max(start_rv);
        // Sends one line; false when the watch must end (client gone, or the drop fault).
        let send = async |tx: &mpsc::Sender<Result<Bytes, Infallible>>, bytes: Bytes, sent: &mut u32| -> bool {
            if tx.send(Ok(bytes)).await.is_err() {
                return false;
            }
            *sent += 1;
            if self.st.faults.count_watch_event() {
                self.st.store.expire_history();
            }
            drop_after.is_none_or(|n| *sent < n)
        };
        for ev in &backlog {
            if let Some((kind, obj)) = event_for(ev, &self.sel)
                && !send(&tx, self.event_line(kind, &obj, &mut first), &mut sent).await
            {
                return;
            }
        }
        if self.initial_events && self.bookmarks && self.from.is_none() {
            let b = bookmark(self.rt, start_rv, true);
            if !send(&tx, line("BOOKMARK", &b), &mut sent).await {
                return;
            }
        }
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let every = store.clock().to_real(BOOKMARK_EVERY).max(Duration::from_millis(10));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut shutdown = self.st.shutdown.clone();
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
                _ = ticks.tick(), if self.bookmarks => {
                    if !send(&tx, line("BOOKMARK", &bookmark(self.rt, seen_rv, false)), &mut sent).await {
                        return;
                    }
                }
                r = rx.recv() => match r {
                    Ok(ev) => {
                        seen_rv = seen_rv.max(ev.rv);
                        if ev.matches(self.rt, self.ns.as_deref())
                            && let Some((kind, obj)) = event_for(&ev, &self.sel)
                            && !send(&tx, self.event_line(kind, &obj, &mut first), &mut sent).await
                        {
                            return;
                        }
                    }
                    // A watcher too slow to keep up is closed, as the real watch cache does; it rewatches.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::query::LabelSelector;
    use crate::api::resources::PODS;

    fn ev(kind: EventType, obj: Value, prev: Option<Value>) -> StoreEvent {
        StoreEvent {
            rv: 7,
            kind,
            resource: &PODS,
            namespace: Some("ns".into()),
            name: "p".into(),
            object: Arc::new(obj),
            prev: prev.map(Arc::new),
        }
    }

    fn pod(app: &str) -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": app}, "resourceVersion": "5"}})
    }

    #[test]
    fn selector_enter_and_leave_become_added_and_deleted() {
        let sel = Selectors { labels: LabelSelector::parse("app=web").unwrap(), ..Selectors::default() };
        let kinds = |e: &StoreEvent| event_for(e, &sel).map(|(k, _)| k);
        assert_eq!(kinds(&ev(EventType::Modified, pod("web"), Some(pod("db")))), Some("ADDED"));
        assert_eq!(kinds(&ev(EventType::Modified, pod("web"), Some(pod("web")))), Some("MODIFIED"));
        assert_eq!(kinds(&ev(EventType::Modified, pod("db"), Some(pod("db")))), None);
        assert_eq!(kinds(&ev(EventType::Added, pod("db"), None)), None);
        assert_eq!(kinds(&ev(EventType::Deleted, pod("web"), Some(pod("web")))), Some("DELETED"));
        assert_eq!(kinds(&ev(EventType::Deleted, pod("db"), Some(pod("db")))), None);
        let (k, obj) = event_for(&ev(EventType::Modified, pod("db"), Some(pod("web"))), &sel).unwrap();
        assert_eq!(k, "DELETED");
        assert_eq!(obj["metadata"]["labels"]["app"], "web", "the previous state leaves");
        assert_eq!(obj["metadata"]["resourceVersion"], "7", "at the event's resourceVersion");
    }
}
