//! Pod subresources over real HTTP: exec over websocket (v5 and v4), logs (with follow), ephemeral containers.

mod client;

use client::*;
use serde_json::{Value, json};
use vmmigrate_sim::SimHandle;

const PODS: &str = "/api/v1/namespaces/default/pods";

/// A running pod with the given containers (the emulated kubelet starts it).
async fn running_pod(sim: &SimHandle, name: &str, containers: &[&str]) -> Value {
    let cs: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "busybox:1.36", "env": [{"name": "X", "value": "1"}]}))
        .collect();
    let r =
        post(sim.url(), PODS, &json!({"metadata": {"name": name}, "spec": {"nodeName": "n1", "containers": cs}})).await;
    assert_eq!(r.status, 201);
    wait_for(sim.url(), &format!("{PODS}/{name}"), |p| p["status"]["phase"] == "Running").await
}

fn channel(frames: &[(u8, Vec<u8>)], ch: u8) -> String {
    frames.iter().filter(|(c, _)| *c == ch).map(|(_, d)| String::from_utf8_lossy(d).into_owned()).collect()
}

fn status(frames: &[(u8, Vec<u8>)]) -> Value {
    serde_json::from_str(&channel(frames, 3)).unwrap()
}

#[tokio::test]
async fn exec_streams_output_and_exit_status_over_v5_and_v4() {
    let sim = start().await;
    let u = sim.url();
    let p = running_pod(&sim, "web", &["c"]).await;
    assert!(p["status"]["podIP"].as_str().unwrap().starts_with("10.244."));
    assert!(p["status"]["containerStatuses"][0]["state"]["running"].is_object());
    let path = format!("{PODS}/web/exec?command=echo&command=hi+there&stdout=true&stderr=true");
    let (proto, frames, close) = exec_ws(u, &path, "v5.channel.k8s.io").await.unwrap();
    assert_eq!(proto, "v5.channel.k8s.io");
    assert_eq!(channel(&frames, 1), "hi there\n");
    assert_eq!(status(&frames), json!({"metadata": {}, "status": "Success"}));
    assert_eq!(close, Some(1000));
    // kube-rs offers both in one header; v5 wins. v4 alone is served as v4.
    let (proto, _, _) = exec_ws(u, &path, "v4.channel.k8s.io, v5.channel.k8s.io").await.unwrap();
    assert_eq!(proto, "v5.channel.k8s.io");
    let path = format!("{PODS}/web/exec?command=false&stdout=true&stderr=true");
    let (proto, frames, close) = exec_ws(u, &path, "v4.channel.k8s.io").await.unwrap();
    assert_eq!((proto.as_str(), close), ("v4.channel.k8s.io", Some(1000)));
    let s = status(&frames);
    assert_eq!((s["status"].as_str(), s["reason"].as_str()), (Some("Failure"), Some("NonZeroExitCode")));
    assert_eq!(s["details"]["causes"][0], json!({"reason": "ExitCode", "message": "1"}));
    let path = format!("{PODS}/web/exec?command=ping&command=10.0.0.1&stdout=true&stderr=true");
    let (_, frames, _) = exec_ws(u, &path, "v5.channel.k8s.io").await.unwrap();
    assert_eq!(channel(&frames, 2), "exec: \"ping\": executable file not found in $PATH\n");
    assert_eq!(status(&frames)["details"]["causes"][0]["message"], "127");
    sim.shutdown().await;
}

#[tokio::test]
async fn exec_and_logs_refuse_ambiguous_or_unknown_containers() {
    let sim = start().await;
    let u = sim.url();
    running_pod(&sim, "two", &["a", "b"]).await;
    let r = get(u, &format!("{PODS}/two/exec?command=true&stdout=true")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "a container name must be specified for pod two, choose one of: [a b]");
    let r = get(u, &format!("{PODS}/two/log")).await;
    assert_eq!(r.json()["message"], "a container name must be specified for pod two, choose one of: [a b]");
    let r = get(u, &format!("{PODS}/two/exec?command=true&container=z")).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (400, Some("container z is not valid for pod two")));
    assert_eq!(get(u, &format!("{PODS}/none/log")).await.status, 404);
    assert_eq!(get(u, &format!("{PODS}/none/exec?command=true")).await.status, 404);
    assert!(exec_ws(u, &format!("{PODS}/two/exec?command=true&container=a"), "v5.channel.k8s.io").await.is_ok());
    let r = get(u, &format!("{PODS}/two/exec?command=true&container=a")).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (400, Some("Upgrade request required")));
    // kubectl's SPDY fallback (a POST) gets the same validation first.
    let r = call(u, "POST", &format!("{PODS}/two/exec?command=true&container=z"), None, None).await;
    assert_eq!(r.json()["message"], "container z is not valid for pod two");
    // A pod no node runs.
    post(u, PODS, &json!({"metadata": {"name": "pending"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}))
        .await;
    let r = get(u, &format!("{PODS}/pending/exec?command=true")).await;
    assert_eq!(r.json()["message"], "pod pending does not have a host assigned");
    sim.shutdown().await;
}

#[tokio::test]
async fn logs_tail_and_follow() {
    let sim = start().await;
    let u = sim.url();
    running_pod(&sim, "web", &["c"]).await;
    for i in 0..3 {
        sim.store().append_log("default", "web", "c", format!("line {i}"));
    }
    let r = get(u, &format!("{PODS}/web/log?tailLines=2")).await;
    assert_eq!(String::from_utf8_lossy(&r.body), "line 1\nline 2\n");
    let r = get(u, &format!("{PODS}/web/log?container=c&timestamps=true")).await;
    let first = String::from_utf8_lossy(&r.body).lines().next().unwrap().to_string();
    assert!(first.ends_with("Z line 0"), "{first}");
    let mut f = stream(u, &format!("{PODS}/web/log?follow=true&tailLines=1")).await;
    assert_eq!(f.next().await.as_deref(), Some("line 2"));
    sim.store().append_log("default", "web", "c", "line 3");
    assert_eq!(f.next().await.as_deref(), Some("line 3"));
    call(u, "DELETE", &format!("{PODS}/web"), None, None).await;
    assert_eq!(f.next().await, None, "follow ends when the pod goes");
    sim.shutdown().await;
}

#[tokio::test]
async fn ephemeral_containers_are_added_started_and_immutable() {
    let sim = start().await;
    let u = sim.url();
    running_pod(&sim, "web", &["c"]).await;
    let path = format!("{PODS}/web/ephemeralcontainers");
    let dbg = json!({"name": "dbg", "image": "busybox:1.36", "command": ["sleep", "3600"], "targetContainerName": "c"});
    let patch = json!({"spec": {"ephemeralContainers": [dbg]}});
    let r = call(u, "PATCH", &path, Some("application/strategic-merge-patch+json"), Some(&patch)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["spec"]["ephemeralContainers"][0]["name"], "dbg");
    let p = wait_for(u, &format!("{PODS}/web"), |p| {
        p["status"]["ephemeralContainerStatuses"][0]["state"]["running"].is_object()
    })
    .await;
    assert_eq!(p["status"]["ephemeralContainerStatuses"][0]["name"], "dbg");
    let (_, frames, _) =
        exec_ws(u, &format!("{PODS}/web/exec?container=dbg&command=hostname&stdout=true"), "v5.channel.k8s.io")
            .await
            .unwrap();
    assert_eq!(channel(&frames, 1), "web\n");
    let change = json!({"spec": {"ephemeralContainers": [{"name": "dbg", "image": "busybox:2"}]}});
    let r = call(u, "PATCH", &path, Some("application/strategic-merge-patch+json"), Some(&change)).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["message"],
        "Pod \"web\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be changed"
    );
    let r = call(
        u,
        "PATCH",
        &path,
        Some("application/merge-patch+json"),
        Some(&json!({"spec": {"ephemeralContainers": []}})),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(get(u, &path).await.json()["spec"]["ephemeralContainers"].as_array().unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn running_pods_are_deleted_gracefully() {
    let sim = start().await;
    let u = sim.url();
    running_pod(&sim, "web", &["c"]).await;
    let mut w = stream(u, &format!("{PODS}?watch=true&fieldSelector=metadata.name%3Dweb")).await;
    assert_eq!(w.event().await["type"], "ADDED");
    let r =
        call(u, "DELETE", &format!("{PODS}/web"), Some("application/json"), Some(&json!({"gracePeriodSeconds": 10})))
            .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["deletionGracePeriodSeconds"], 10);
    let e = w.event().await;
    assert_eq!(e["type"], "MODIFIED");
    assert!(e["object"]["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(w.event().await["type"], "DELETED", "the kubelet removes it");
    assert_eq!(get(u, &format!("{PODS}/web")).await.status, 404);
    // A pod no node runs goes at once.
    post(u, PODS, &json!({"metadata": {"name": "nowhere"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}))
        .await;
    call(u, "DELETE", &format!("{PODS}/nowhere"), None, None).await;
    assert_eq!(get(u, &format!("{PODS}/nowhere")).await.status, 404);
    sim.shutdown().await;
}
