//! Injected create errors, simulated RBAC (403 and SelfSubjectAccessReviews), and the audit log.

mod client;

use client::*;
use serde_json::json;
use vmmigrate_sim::api::faults::{CreateFault, Denial, Faults};

const SSAR: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

#[tokio::test]
async fn first_creates_fail_with_retry_after() {
    let sim = start_with(|o| {
        o.faults = Faults {
            create_errors: vec![
                CreateFault { resource: "configmaps".into(), count: 1, code: 503, retry_after_seconds: 2 },
                CreateFault {
                    resource: "virtualmachineinstancemigrations".into(),
                    count: 1,
                    code: 429,
                    retry_after_seconds: 1,
                },
            ],
            ..Faults::default()
        }
    })
    .await;
    let u = sim.url();
    let cm = json!({"metadata": {"name": "c"}});
    let r = post(u, "/api/v1/namespaces/default/configmaps", &cm).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (503, Some("ServiceUnavailable")));
    assert_eq!(r.headers.get("retry-after").unwrap(), "2");
    assert_eq!(r.json()["details"]["retryAfterSeconds"], 2);
    assert_eq!(post(u, "/api/v1/namespaces/default/configmaps", &cm).await.status, 201);
    let vmims = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations";
    let r = post(u, vmims, &json!({"metadata": {"name": "m"}, "spec": {"vmiName": "v"}})).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (429, Some("TooManyRequests")));
    assert_eq!(post(u, vmims, &json!({"metadata": {"name": "m"}, "spec": {"vmiName": "v"}})).await.status, 201);
    sim.shutdown().await;
}

#[tokio::test]
async fn rbac_denials_answer_403_and_access_reviews_agree() {
    let sim = start().await;
    let u = sim.url();
    let review = |verb: &str, resource: &str, sub: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
               "spec": {"resourceAttributes": {"verb": verb, "group": "", "resource": resource, "subresource": sub, "namespace": "default"}}})
    };
    let r = post(u, SSAR, &review("create", "pods", "exec")).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["status"]["allowed"], true);
    sim.faults().update(|f| {
        f.deny.push(Denial { verb: "list".into(), resource: "pods".into(), group: Some("".into()), namespace: None });
        f.deny.push(Denial { verb: "get".into(), resource: "pods/exec".into(), group: None, namespace: None });
    });
    let r = post(u, SSAR, &review("list", "pods", "")).await.json();
    assert_eq!(r["status"], json!({"allowed": false}));
    assert_eq!(r["spec"]["resourceAttributes"]["verb"], "list");
    let r = get(u, "/api/v1/namespaces/default/pods").await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (403, Some("Forbidden")));
    assert_eq!(
        r.json()["message"],
        "pods is forbidden: User \"vmmigrate-sim-user\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(get(u, "/api/v1/pods").await.status, 403);
    assert_eq!(get(u, "/api/v1/namespaces/default/configmaps").await.status, 200);
    let r = get(u, "/api/v1/namespaces/default/pods/p/exec?command=true").await;
    assert_eq!(r.status, 403);
    assert!(r.json()["message"].as_str().unwrap().contains("cannot get resource \"pods/exec\""));
    let r = call(u, "POST", SSAR, Some("application/vnd.kubernetes.protobuf"), Some(&json!({}))).await;
    assert_eq!(r.status, 415);
    sim.shutdown().await;
}

#[tokio::test]
async fn audit_log_records_each_request_as_a_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let p = path.clone();
    let sim = start_with(move |o| o.audit_log = Some(p)).await;
    let u = sim.url();
    post(u, "/api/v1/namespaces/default/configmaps?dryRun=All", &json!({"metadata": {"name": "c"}})).await;
    get(u, "/api/v1/namespaces/default/configmaps/c").await;
    let recs = sim.audit();
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0].method.as_str(), recs[0].query.as_str(), recs[0].response_status), ("POST", "dryRun=All", 201));
    assert_eq!(recs[0].request_body, Some(json!({"metadata": {"name": "c"}})));
    assert_eq!(recs[1].response_status, 404);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["contentType"], "application/json");
    assert_eq!(lines[0]["path"], "/api/v1/namespaces/default/configmaps");
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    sim.shutdown().await;
}
