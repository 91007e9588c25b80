//! The REST surface over real HTTP: discovery, errors, create/get/list/update/patch/delete, pagination.

mod client;

use client::*;
use serde_json::{Value, json};

const PODS: &str = "/api/v1/namespaces/default/pods";
const CMS: &str = "/api/v1/namespaces/default/configmaps";
const VMIMS: &str = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations";

fn pod(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
}

#[tokio::test]
async fn discovery_documents_every_group() {
    let sim = start().await;
    let u = sim.url();
    let v = get(u, "/version").await.json();
    assert_eq!((v["major"].as_str(), v["minor"].as_str()), (Some("1"), Some("34")));
    assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.34."));
    assert_eq!(get(u, "/api").await.json()["versions"], json!(["v1"]));
    let groups = get(u, "/apis").await.json();
    let groups = groups["groups"].as_array().unwrap();
    assert!(groups.iter().any(|g| g["name"] == "kubevirt.io"));
    for g in groups {
        let gv = g["preferredVersion"]["groupVersion"].as_str().unwrap();
        let rl = get(u, &format!("/apis/{gv}")).await;
        assert_eq!(rl.status, 200, "{gv}");
        assert_eq!(rl.json()["kind"], "APIResourceList");
    }
    let core = get(u, "/api/v1").await.json();
    let names: Vec<&str> = core["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"pods/exec") && names.contains(&"pods/ephemeralcontainers"));
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_are_status_objects_with_real_codes() {
    let sim = start().await;
    let u = sim.url();
    let r = get(u, &format!("{PODS}/nope")).await;
    assert_eq!(r.status, 404);
    let s = r.json();
    assert_eq!((s["kind"].as_str(), s["reason"].as_str()), (Some("Status"), Some("NotFound")));
    assert_eq!(s["message"], "pods \"nope\" not found");
    assert_eq!(s["details"], json!({"name": "nope", "kind": "pods"}));
    assert_eq!(get(u, "/api/v1/namespaces/default/widgets").await.status, 404);
    let r = get(u, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (405, Some("MethodNotAllowed")));
    let r = post(u, "/api/v1/namespaces/missing/pods", &pod("p", json!({}))).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (404, Some("namespaces \"missing\" not found")));
    let mut other_ns = pod("p", json!({}));
    other_ns["metadata"]["namespace"] = json!("kube-system");
    let r = post(u, PODS, &other_ns).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    assert_eq!(post(u, PODS, &pod("p", json!({}))).await.status, 201);
    let r = post(u, PODS, &pod("p", json!({}))).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (409, Some("AlreadyExists")));
    let r = post(u, PODS, &pod("Bad_Name", json!({}))).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (422, Some("Invalid")));
    let r = post(u, CMS, &json!({"metadata": {"name": "c", "resourceVersion": "5"}})).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("resourceVersion should not be set on objects to be created"))
    );
    let r = call(u, "POST", PODS, Some("application/vnd.kubernetes.protobuf"), Some(&json!({}))).await;
    assert_eq!(r.status, 415);
    sim.shutdown().await;
}

#[tokio::test]
async fn create_fills_defaults_generates_names_and_honours_dry_run() {
    let sim = start().await;
    let u = sim.url();
    let r = post(u, &format!("{PODS}?dryRun=All"), &pod("dry", json!({}))).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["status"]["phase"], "Pending");
    assert_eq!(get(u, &format!("{PODS}/dry")).await.status, 404);
    let r = post(u, CMS, &json!({"metadata": {"generateName": "cfg-"}, "data": {"a": "b"}})).await;
    assert_eq!(r.status, 201);
    let name = r.json()["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("cfg-") && name.len() == 9, "{name}");
    let p = post(u, PODS, &pod("p", json!({}))).await.json();
    assert_eq!(p["spec"]["restartPolicy"], "Always");
    assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert!(p["metadata"]["uid"].is_string() && p["metadata"]["resourceVersion"].is_string());
    // A pod without a node and without any node to run on stays Pending, Unschedulable.
    let p = wait_for(u, &format!("{PODS}/p"), |p| p["status"]["conditions"].is_array()).await;
    assert_eq!(p["status"]["conditions"][0]["reason"], "Unschedulable");
    assert_eq!(p["status"]["conditions"][0]["message"], "no nodes available to schedule pods");
    sim.shutdown().await;
}

async fn relabel(u: &str, name: &str, app: &str) {
    let p = json!({"metadata": {"labels": {"app": app}}});
    assert_eq!(
        call(u, "PATCH", &format!("{CMS}/{name}"), Some("application/merge-patch+json"), Some(&p)).await.status,
        200
    );
}

#[tokio::test]
async fn lists_filter_by_selectors_and_paginate() {
    let sim = start().await;
    let u = sim.url();
    for (i, app) in ["web", "web", "db", "web", "cache"].iter().enumerate() {
        assert_eq!(
            post(u, CMS, &json!({"metadata": {"name": format!("cm-{i}"), "labels": {"app": app}}})).await.status,
            201
        );
    }
    let names = |l: &Value| -> Vec<String> {
        l["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
    };
    let l = get(u, &format!("{CMS}?labelSelector=app%3Dweb")).await.json();
    assert_eq!(l["kind"], "ConfigMapList");
    assert_eq!(names(&l), ["cm-0", "cm-1", "cm-3"]);
    assert!(l["items"][0].get("kind").is_none(), "built-in list items carry no kind");
    let l = get(u, &format!("{CMS}?labelSelector=app+notin+(web,db)")).await.json();
    assert_eq!(names(&l), ["cm-4"]);
    let l =
        get(u, &format!("{CMS}?fieldSelector=metadata.name%21%3Dcm-0,metadata.namespace%3Ddefault&labelSelector=app"))
            .await
            .json();
    assert_eq!(names(&l).len(), 4);
    let r = get(u, &format!("{CMS}?fieldSelector=spec.nodeName%3Dx")).await;
    assert_eq!(r.status, 400);
    // Pages of two.
    let p1 = get(u, &format!("{CMS}?limit=2")).await.json();
    assert_eq!(names(&p1), ["cm-0", "cm-1"]);
    assert_eq!(p1["metadata"]["remainingItemCount"], 3);
    let token = p1["metadata"]["continue"].as_str().unwrap().to_string();
    // Changes after the first page do not show in the later ones: they come from the same snapshot.
    call(u, "DELETE", &format!("{CMS}/cm-2"), None, None).await;
    relabel(u, "cm-3", "changed").await;
    post(u, CMS, &json!({"metadata": {"name": "cm-9"}})).await;
    let p2 = get(u, &format!("{CMS}?limit=2&continue={token}")).await.json();
    assert_eq!(names(&p2), ["cm-2", "cm-3"]);
    assert_eq!(p2["items"][1]["metadata"]["labels"]["app"], "web");
    assert_eq!(p2["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"]);
    let t2 = p2["metadata"]["continue"].as_str().unwrap().to_string();
    let p3 = get(u, &format!("{CMS}?limit=2&continue={t2}")).await.json();
    assert_eq!(names(&p3), ["cm-4"]);
    assert!(p3["metadata"].get("continue").is_none());
    // An exact list at the first page's version is that snapshot; a version from the future is a timeout.
    let rv = p1["metadata"]["resourceVersion"].as_str().unwrap();
    let exact = get(u, &format!("{CMS}?resourceVersion={rv}&resourceVersionMatch=Exact")).await.json();
    assert_eq!(names(&exact), ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    assert_eq!(get(u, &format!("{CMS}?resourceVersion=99999999&resourceVersionMatch=Exact")).await.status, 504);
    // Server-side printing, as kubectl asks for it.
    let t = client::call_accept(u, CMS, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").await.json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["rows"].as_array().unwrap().len(), 5);
    // An all-namespaces list of namespaced objects (now).
    let all = get(u, "/api/v1/configmaps").await.json();
    assert_eq!(names(&all), ["cm-0", "cm-1", "cm-3", "cm-4", "cm-9"]);
    // Once the snapshot is compacted the token is too old.
    sim.store().expire_history();
    let r = get(u, &format!("{CMS}?limit=2&continue={token}")).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (410, Some("Expired")));
    assert!(r.json()["message"].as_str().unwrap().starts_with("The provided continue parameter is too old"));
    sim.shutdown().await;
}

#[tokio::test]
async fn updates_conflict_on_stale_versions_and_status_is_a_subresource() {
    let sim = start().await;
    let u = sim.url();
    let m = post(u, VMIMS, &json!({"metadata": {"name": "m"}, "spec": {"vmiName": "v"}, "status": {"phase": "X"}}))
        .await
        .json();
    assert!(m.get("status").is_none(), "status is dropped on create where a status subresource exists");
    let mut w = m.clone();
    w["spec"]["vmiName"] = json!("w");
    w["status"] = json!({"phase": "Running"});
    let r = call(u, "PUT", &format!("{VMIMS}/m"), Some("application/json"), Some(&w)).await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("status").is_none());
    assert_eq!(r.json()["metadata"]["generation"], 2);
    let r = call(u, "PUT", &format!("{VMIMS}/m"), Some("application/json"), Some(&w)).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (409, Some("Conflict")));
    let cur = get(u, &format!("{VMIMS}/m")).await.json();
    let mut s = cur.clone();
    s["status"] = json!({"phase": "Running"});
    s["spec"]["vmiName"] = json!("ignored");
    let r = call(u, "PUT", &format!("{VMIMS}/m/status"), Some("application/json"), Some(&s)).await.json();
    assert_eq!((r["status"]["phase"].as_str(), r["spec"]["vmiName"].as_str()), (Some("Running"), Some("w")));
    let r = call(
        u,
        "PATCH",
        &format!("{VMIMS}/m/status"),
        Some("application/merge-patch+json"),
        Some(&json!({"status": {"phase": "Succeeded"}})),
    )
    .await;
    assert_eq!(r.json()["status"]["phase"], "Succeeded");
    sim.shutdown().await;
}

#[tokio::test]
async fn patch_types_merge_json_and_strategic() {
    let sim = start().await;
    let u = sim.url();
    post(u, PODS, &pod("p", json!({"a": "1"}))).await;
    let path = format!("{PODS}/p");
    let smp = json!({"metadata": {"labels": {"b": "2"}}, "spec": {"containers": [{"name": "side", "image": "x:1"}]}});
    let r = call(u, "PATCH", &path, Some("application/strategic-merge-patch+json"), Some(&smp)).await.json();
    assert_eq!(r["spec"]["containers"].as_array().unwrap().len(), 2, "containers merge by name");
    assert_eq!(r["metadata"]["labels"], json!({"a": "1", "b": "2"}));
    let mp = json!({"spec": {"containers": [{"name": "only", "image": "y:1"}]}});
    let r = call(u, "PATCH", &path, Some("application/merge-patch+json"), Some(&mp)).await.json();
    assert_eq!(r["spec"]["containers"].as_array().unwrap().len(), 1, "merge patch replaces lists");
    let jp = json!([{"op": "add", "path": "/metadata/labels/c", "value": "3"}, {"op": "remove", "path": "/metadata/labels/a"}]);
    let r = call(u, "PATCH", &path, Some("application/json-patch+json"), Some(&jp)).await.json();
    assert_eq!(r["metadata"]["labels"], json!({"b": "2", "c": "3"}));
    let bad = json!([{"op": "test", "path": "/metadata/name", "value": "other"}]);
    assert_eq!(call(u, "PATCH", &path, Some("application/json-patch+json"), Some(&bad)).await.status, 422);
    let stale = json!({"metadata": {"resourceVersion": "1", "labels": {"d": "4"}}});
    assert_eq!(call(u, "PATCH", &path, Some("application/merge-patch+json"), Some(&stale)).await.status, 409);
    // Custom resources take no strategic merge patch.
    post(u, VMIMS, &json!({"metadata": {"name": "m"}, "spec": {"vmiName": "v"}})).await;
    let r =
        call(u, "PATCH", &format!("{VMIMS}/m"), Some("application/strategic-merge-patch+json"), Some(&json!({}))).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (415, Some("UnsupportedMediaType")));
    let r = call(
        u,
        "PATCH",
        &format!("{VMIMS}/m?dryRun=All"),
        Some("application/merge-patch+json"),
        Some(&json!({"spec": {"vmiName": "z"}})),
    )
    .await;
    assert_eq!(r.json()["spec"]["vmiName"], "z");
    assert_eq!(get(u, &format!("{VMIMS}/m")).await.json()["spec"]["vmiName"], "v", "dry run changes nothing");
    let r = call(u, "PATCH", &format!("{VMIMS}/m"), Some("application/apply-patch+yaml"), Some(&json!({}))).await;
    assert_eq!(r.status, 422, "apply needs a fieldManager");
    assert_eq!(
        call(u, "PATCH", &format!("{VMIMS}/none"), Some("application/merge-patch+json"), Some(&json!({}))).await.status,
        404
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_with_finalizers_sets_deletion_timestamp_until_they_go() {
    let sim = start().await;
    let u = sim.url();
    post(u, VMIMS, &json!({"metadata": {"name": "m", "finalizers": ["kubevirt.io/x"]}, "spec": {"vmiName": "v"}}))
        .await;
    let path = format!("{VMIMS}/m");
    let r = call(u, "DELETE", &path, Some("application/json"), Some(&json!({"propagationPolicy": "Background"}))).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(get(u, &path).await.status, 200);
    let r =
        call(u, "PATCH", &path, Some("application/merge-patch+json"), Some(&json!({"metadata": {"finalizers": null}})))
            .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(u, &path).await.status, 404);
    // Built-ins other than pods answer a Status.
    post(u, CMS, &json!({"metadata": {"name": "c"}})).await;
    let r = call(u, "DELETE", &format!("{CMS}/c?dryRun=All"), None, None).await;
    assert_eq!(r.json()["status"], "Success");
    assert_eq!(get(u, &format!("{CMS}/c")).await.status, 200, "dry run deletes nothing");
    let r = call(u, "DELETE", &format!("{CMS}/c"), None, None).await.json();
    assert_eq!(
        (r["kind"].as_str(), r["status"].as_str(), r["details"]["name"].as_str()),
        (Some("Status"), Some("Success"), Some("c"))
    );
    let pre = json!({"preconditions": {"uid": "not-it"}});
    post(u, CMS, &json!({"metadata": {"name": "d"}})).await;
    assert_eq!(call(u, "DELETE", &format!("{CMS}/d"), Some("application/json"), Some(&pre)).await.status, 409);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_warn_by_default_fail_when_strict_and_are_pruned() {
    let sim = start().await;
    let u = sim.url();
    let body = json!({"metadata": {"name": "m"}, "spec": {"vmiName": "v", "vmi_name": "typo"}});
    let r = post(u, &format!("{VMIMS}?fieldValidation=Strict"), &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "VirtualMachineInstanceMigration in version \"v1\" cannot be handled as a VirtualMachineInstanceMigration: strict decoding error: unknown field \"spec.vmi_name\""
    );
    let r = post(u, VMIMS, &body).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.headers.get("warning").unwrap(), "299 - \"unknown field \\\"spec.vmi_name\\\"\"");
    assert!(r.json()["spec"].get("vmi_name").is_none(), "pruned");
    let r = post(u, VMIMS, &body).await;
    assert_eq!(r.status, 409);
    assert!(r.headers.get("warning").is_some(), "warnings come with errors too");
    let r = call(
        u,
        "PATCH",
        &format!("{VMIMS}/m?fieldValidation=Strict"),
        Some("application/merge-patch+json"),
        Some(&json!({"spec": {"x": 1}})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        u,
        "PATCH",
        &format!("{VMIMS}/m"),
        Some("application/merge-patch+json"),
        Some(&json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("warning").is_none());
    sim.shutdown().await;
}
