//! How KubeVirt's components write to the store: optimistic-concurrency updates that retry on conflict, and
//! core v1 Events recorded like client-go's recorder (same object, reason and message → count bumped).

use serde_json::{Value, json};

use crate::api::resources::{EVENTS, ResourceType};
use crate::api::{ApiError, Store, UpdateMode};

/// Reads, changes and writes an object, retrying on 409 Conflict. `change` returns whether it changed anything;
/// nothing is written otherwise. Returns the stored object.
pub fn update(
    store: &Store,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
    mut change: impl FnMut(&mut Value) -> bool,
) -> Result<Value, ApiError> {
    let mut last = None;
    for _ in 0..16 {
        let old = store.get(rt, ns, name)?;
        let mut new = old.clone();
        if !change(&mut new) {
            return Ok(old);
        }
        match store.update(rt, ns, name, new, UpdateMode::Full, false) {
            Err(e) if e.code == 409 => last = Some(e),
            r => return r,
        }
    }
    Err(last.unwrap_or_else(|| ApiError::conflict(rt, name)))
}

/// Sets a label (creating `metadata.labels`).
pub fn set_label(obj: &mut Value, key: &str, value: &str) {
    if !obj["metadata"].get("labels").is_some_and(Value::is_object) {
        obj["metadata"]["labels"] = json!({});
    }
    obj["metadata"]["labels"][key] = json!(value);
}

/// Sets an annotation (creating `metadata.annotations`).
pub fn set_annotation(obj: &mut Value, key: &str, value: &str) {
    if !obj["metadata"].get("annotations").is_some_and(Value::is_object) {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"][key] = json!(value);
}

pub fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or_default()
}

/// Records an Event about `involved` in its namespace.
pub fn record_event(store: &Store, involved: &Value, kind: &str, reason: &str, message: &str, component: &str) {
    let ns = meta(involved, "namespace").to_string();
    let uid = meta(involved, "uid");
    let now = store.clock().now_rfc3339();
    let (events, _) = store.list(&EVENTS, Some(&ns));
    let same = events.iter().find(|e| {
        e.pointer("/involvedObject/uid").and_then(Value::as_str) == Some(uid)
            && e["reason"] == reason
            && e["message"] == message
    });
    let result = match same {
        Some(e) => update(store, &EVENTS, Some(&ns), meta(e, "name"), |e| {
            let count = e.get("count").and_then(Value::as_u64).unwrap_or(1);
            e["count"] = json!(count + 1);
            e["lastTimestamp"] = json!(now);
            true
        })
        .map(|_| ()),
        None => {
            let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().take(16).collect();
            let event = json!({
                "kind": "Event",
                "apiVersion": "v1",
                "metadata": {"name": format!("{}.{suffix}", meta(involved, "name")), "namespace": ns},
                "involvedObject": {
                    "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
                    "namespace": ns,
                    "name": meta(involved, "name"),
                    "uid": uid,
                    "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
                    "resourceVersion": meta(involved, "resourceVersion"),
                },
                "reason": reason,
                "message": message,
                "source": {"component": component},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": kind,
                "eventTime": null,
                "reportingComponent": "",
                "reportingInstance": "",
            });
            store.create(&EVENTS, Some(&ns), event, false).map(|_| ())
        }
    };
    if let Err(e) = result {
        tracing::warn!(%e, reason, "could not record event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{NAMESPACES, PODS};
    use crate::clock::SimClock;

    #[test]
    fn events_aggregate_and_updates_apply() {
        let s = Store::new(SimClock::default());
        s.create(&NAMESPACES, None, json!({"metadata": {"name": "ns"}}), false).unwrap();
        let pod = s.create(&PODS, Some("ns"), json!({"metadata": {"name": "p"}}), false).unwrap();
        record_event(&s, &pod, "Warning", "R", "m", "c");
        record_event(&s, &pod, "Warning", "R", "m", "c");
        record_event(&s, &pod, "Normal", "Other", "m", "c");
        let (evs, _) = s.list(&EVENTS, Some("ns"));
        assert_eq!(evs.len(), 2);
        let r = evs.iter().find(|e| e["reason"] == "R").unwrap();
        assert_eq!(r["count"], 2);
        assert_eq!(r["involvedObject"]["name"], "p");
        assert!(meta(r, "name").starts_with("p."));
        let rv = s.current_rv();
        update(&s, &PODS, Some("ns"), "p", |_| false).unwrap();
        assert_eq!(s.current_rv(), rv, "no change, no write");
        let p = update(&s, &PODS, Some("ns"), "p", |p| {
            set_label(p, "a", "b");
            true
        })
        .unwrap();
        assert_eq!(p["metadata"]["labels"]["a"], "b");
    }
}
