//! `pods/log`: a container's log from the store, with `tailLines`, `sinceSeconds`, `timestamps` and `follow`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::error::ApiError;
use super::pods;
use super::resources::PODS;
use super::server::{ApiState, Ctx};
use super::store::{EventType, LogLine};

fn render(l: &LogLine, timestamps: bool) -> String {
    if timestamps {
        format!("{} {}\n", l.time.strftime("%Y-%m-%dT%H:%M:%S%.9fZ"), l.line)
    } else {
        format!("{}\n", l.line)
    }
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub fn logs(st: &Arc<ApiState>, ctx: &Ctx, ns: &str, name: &str) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let pod = st.store.get(&PODS, Some(ns), name)?;
    let container = pods::container(&pod, q.get("container"))?;
    if let Some(reason) = pods::waiting_reason(&pod, &container) {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    let timestamps = q.flag("timestamps");
    let tail = q.number("tailLines")?;
    let since = q.number("sinceSeconds")?;
    let (lines, mut rx) = st.store.read_log(ns, name, &container);
    let now = st.store.clock().now();
    let mut kept: Vec<&LogLine> =
        lines.iter().filter(|l| since.is_none_or(|s| now.duration_since(l.time).as_secs() <= s as i64)).collect();
    if let Some(t) = tail {
        let skip = kept.len().saturating_sub(t as usize);
        kept.drain(..skip);
    }
    let head: String = kept.iter().map(|l| render(l, timestamps)).collect();
    let body = if !q.flag("follow") {
        Body::from(head)
    } else {
        let (tx, out) = mpsc::channel::<Result<Bytes, Infallible>>(256);
        let mut events = st.store.subscribe();
        let mut shutdown = st.shutdown.clone();
        let (ns, name) = (ns.to_string(), name.to_string());
        tokio::spawn(async move {
            if !head.is_empty() && tx.send(Ok(Bytes::from(head))).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                    l = rx.recv() => match l {
                        Ok(l) => if tx.send(Ok(Bytes::from(render(&l, timestamps)))).await.is_err() { return },
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    e = events.recv() => match e {
                        Ok(e) if e.kind == EventType::Deleted && e.resource == &PODS
                            && e.namespace.as_deref() == Some(ns.as_str()) && e.name == name => return,
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        Body::from_stream(ReceiverStream::new(out))
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
    Ok(r)
}
