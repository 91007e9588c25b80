//! Watches over real HTTP: initial events, resume, 410, bookmarks, timeouts, selectors, and the watch faults.

mod client;

use client::*;
use serde_json::json;
use vmmigrate_sim::api::faults::Faults;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

async fn cm(u: &str, name: &str, app: &str) -> String {
    let r = post(u, CMS, &json!({"metadata": {"name": name, "labels": {"app": app}}})).await;
    assert_eq!(r.status, 201);
    r.json()["metadata"]["resourceVersion"].as_str().unwrap().to_string()
}

async fn relabel(u: &str, name: &str, app: &str) {
    let p = json!({"metadata": {"labels": {"app": app}}});
    let r = call(u, "PATCH", &format!("{CMS}/{name}"), Some("application/merge-patch+json"), Some(&p)).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn watch_from_zero_lists_then_follows_and_resumes_from_a_version() {
    let sim = start().await;
    let u = sim.url();
    let rv_a = cm(u, "a", "web").await;
    let mut w = stream(u, &format!("{CMS}?watch=1&resourceVersion=0")).await;
    assert_eq!(w.status, 200);
    let e = w.event().await;
    assert_eq!((e["type"].as_str(), e["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("a")));
    assert_eq!(e["object"]["kind"], "ConfigMap");
    cm(u, "b", "db").await;
    assert_eq!(w.event().await["object"]["metadata"]["name"], "b");
    call(u, "DELETE", &format!("{CMS}/a"), None, None).await;
    let e = w.event().await;
    assert_eq!((e["type"].as_str(), e["object"]["metadata"]["name"].as_str()), (Some("DELETED"), Some("a")));
    // Resume after a's creation: b's ADDED and a's DELETED again, nothing before.
    let mut r = stream(u, &format!("{CMS}?watch=true&resourceVersion={rv_a}")).await;
    assert_eq!(r.event().await["type"], "ADDED");
    assert_eq!(r.event().await["type"], "DELETED");
    sim.shutdown().await;
}

#[tokio::test]
async fn too_old_version_is_a_410_error_event() {
    let sim = start().await;
    let u = sim.url();
    let rv = cm(u, "a", "web").await;
    sim.store().expire_history();
    let mut w = stream(u, &format!("{CMS}?watch=true&resourceVersion={rv}")).await;
    assert_eq!(w.status, 200);
    let e = w.event().await;
    assert_eq!(e["type"], "ERROR");
    assert_eq!((e["object"]["code"].as_i64(), e["object"]["reason"].as_str()), (Some(410), Some("Expired")));
    assert!(e["object"]["message"].as_str().unwrap().starts_with("too old resource version"));
    assert_eq!(w.next().await, None, "the stream ends after the error");
    // The relist's version can be watched (no relist loop).
    let rv = get(u, CMS).await.json()["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let mut again = stream(u, &format!("{CMS}?watch=true&resourceVersion={rv}")).await;
    cm(u, "b", "web").await;
    assert_eq!(again.event().await["type"], "ADDED");
    let r = get(u, &format!("{CMS}?watch=true&resourceVersion=99999999")).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (504, Some("Timeout")));
    sim.shutdown().await;
}

#[tokio::test]
async fn bookmarks_and_timeout() {
    let sim = start().await;
    let u = sim.url();
    let rv = cm(u, "a", "web").await;
    // Bookmarks come every simulated minute (a fraction of a second at test speed).
    let mut w =
        stream(u, &format!("{CMS}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=30")).await;
    let b = w.event().await;
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(
        b["object"],
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": rv, "creationTimestamp": null}})
    );
    // timeoutSeconds ends the stream cleanly.
    let mut t = stream(u, &format!("{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1")).await;
    assert_eq!(t.next().await, None);
    assert!(t.ended);
    // sendInitialEvents marks the end of the initial events with an annotated bookmark.
    let mut s = stream(
        u,
        &format!("{CMS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    assert_eq!(s.event().await["type"], "ADDED");
    let b = s.event().await;
    assert_eq!(b["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    sim.shutdown().await;
}

#[tokio::test]
async fn selectors_turn_entering_and_leaving_into_added_and_deleted() {
    let sim = start().await;
    let u = sim.url();
    cm(u, "a", "db").await;
    let mut w = stream(u, &format!("{CMS}?watch=true&labelSelector=app%3Dweb")).await;
    relabel(u, "a", "web").await;
    let e = w.event().await;
    assert_eq!((e["type"].as_str(), e["object"]["metadata"]["labels"]["app"].as_str()), (Some("ADDED"), Some("web")));
    relabel(u, "a", "db").await;
    let e = w.event().await;
    assert_eq!(e["type"], "DELETED");
    cm(u, "other", "db").await;
    cm(u, "marker", "web").await;
    assert_eq!(w.event().await["object"]["metadata"]["name"], "marker", "non-matching objects are not sent");
    // Field selectors too.
    let mut f = stream(u, &format!("{CMS}?watch=true&fieldSelector=metadata.name%3Dmarker")).await;
    assert_eq!(f.event().await["object"]["metadata"]["name"], "marker");
    call(u, "DELETE", &format!("{CMS}/marker"), None, None).await;
    assert_eq!(f.event().await["type"], "DELETED");
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_drop_watches_and_expire_history() {
    let sim = start().await;
    let u = sim.url();
    for n in ["a", "b", "c"] {
        cm(u, n, "web").await;
    }
    sim.faults().set(Faults { drop_watch_after_events: Some(2), ..Faults::default() });
    let mut w = stream(u, &format!("{CMS}?watch=true")).await;
    assert!(w.next().await.is_some() && w.next().await.is_some());
    assert_eq!(w.next().await, None, "dropped after two events");
    let rv = sim.store().current_rv();
    sim.faults().set(Faults { expire_history_after_events: Some(1), ..Faults::default() });
    let mut w = stream(u, &format!("{CMS}?watch=true&resourceVersion=0")).await;
    w.event().await;
    let mut again = stream(u, &format!("{CMS}?watch=true&resourceVersion={rv}")).await;
    assert_eq!(again.event().await["object"]["code"], 410);
    sim.shutdown().await;
}
