//! The kube IO of `check` (`gather` + `run`) against a canned-response HTTP server serving the seed fixtures:
//! request counts, pagination, dry-run, and each error mapped to one clear `CheckError`.
//! (The end-to-end tests through the binary run against vmmigrate-sim.)

use std::sync::{Arc, Mutex};

use kubectl_vmmigrate::check::{self, CheckError, CheckRequest, Status, Verdict};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Handler = dyn Fn(&str, &str, &str) -> (u16, Value) + Send + Sync;

/// A minimal HTTP/1.1 server with keep-alive; logs "METHOD path?query" of every request.
struct Fake {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    async fn start(handler: Arc<Handler>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, handler.clone(), log2.clone()));
            }
        });
        Fake { url, log }
    }

    fn client(&self) -> kube::Client {
        kube::Client::try_from(kube::Config::new(self.url.parse().unwrap())).unwrap()
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn serve(mut stream: TcpStream, handler: Arc<Handler>, log: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
        buf.drain(..head_end + len);
        let mut parts = head.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        log.lock().unwrap().push(format!("{method} {target}"));
        let (code, value) = handler(&method, &target, &body);
        let text = value.to_string();
        let resp = format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn fixture(name: &str) -> Value {
    let text = match name {
        "kubevirt-cr" => include_str!("../testdata/kubevirt/kubevirt-cr.json"),
        "vm" => include_str!("../testdata/kubevirt/vm.json"),
        "vmi" => include_str!("../testdata/kubevirt/vmi-running.json"),
        "pod" => include_str!("../testdata/kubevirt/virt-launcher-pod.json"),
        "nodes" => include_str!("../testdata/kubevirt/nodes.json"),
        "pvc" => include_str!("../testdata/kubevirt/pvc-rwx.json"),
        "sc" => include_str!("../testdata/kubevirt/storageclass.json"),
        "policy" => include_str!("../testdata/kubevirt/migrationpolicy.json"),
        "svc" => include_str!("../testdata/kubevirt/service-lb.json"),
        "not-migratable" => include_str!("../testdata/kubevirt/errors/vmim-create-not-migratable.json"),
        "forbidden" => include_str!("../testdata/kubevirt/errors/vmim-create-forbidden.json"),
        _ => unreachable!(),
    };
    serde_json::from_str(text).unwrap()
}

fn list(items: Vec<Value>) -> (u16, Value) {
    (200, json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}))
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code}),
    )
}

/// The seed cluster; `tweak` may answer a request first.
fn haos(tweak: impl Fn(&str, &str) -> Option<(u16, Value)> + Send + Sync + 'static) -> Arc<Handler> {
    Arc::new(move |method: &str, target: &str, body: &str| {
        if let Some(r) = tweak(method, target) {
            return r;
        }
        let path = target.split('?').next().unwrap_or_default();
        let kv = "/apis/kubevirt.io/v1";
        let ns = "/api/v1/namespaces/tenant-root";
        match (method, path) {
            ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") => {
                let mut review: Value = serde_json::from_str(body).unwrap();
                review["status"] = json!({"allowed": true});
                (201, review)
            }
            ("POST", p) if p == format!("{kv}/namespaces/tenant-root/virtualmachineinstancemigrations") => {
                assert!(target.contains("dryRun=All"), "{target}");
                let mut vmim: Value = serde_json::from_str(body).unwrap();
                vmim["metadata"]["name"] = json!("vm-instance-haos-vmmigrate-abcde");
                (201, vmim)
            }
            (_, p) if p == format!("{kv}/kubevirts") => list(vec![fixture("kubevirt-cr")]),
            (_, p) if p == format!("{kv}/namespaces/tenant-root/virtualmachines/vm-instance-haos") => {
                (200, fixture("vm"))
            }
            (_, p) if p == format!("{kv}/namespaces/tenant-root/virtualmachineinstances/vm-instance-haos") => {
                (200, fixture("vmi"))
            }
            (_, p) if p.ends_with("/virtualmachines") => list(vec![fixture("vm")]),
            (_, p) if p.ends_with("/virtualmachineinstances") => list(vec![fixture("vmi")]),
            (_, p) if p.ends_with("/virtualmachineinstancemigrations") => list(vec![]),
            (_, "/api/v1/pods") => list(vec![fixture("pod")]),
            (_, "/api/v1/nodes") => (200, fixture("nodes")),
            (_, p) if p.ends_with("/persistentvolumeclaims") => list(vec![fixture("pvc")]),
            (_, "/apis/storage.k8s.io/v1/storageclasses") => list(vec![fixture("sc")]),
            (_, "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies") => list(vec![fixture("policy")]),
            (_, p) if p.ends_with("/services") => list(vec![fixture("svc")]),
            (_, p) if p == ns => (
                200,
                json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "tenant-root", "labels": {"kubernetes.io/metadata.name": "tenant-root"}}}),
            ),
            (_, "/api/v1/namespaces") => list(vec![json!({"metadata": {"name": "tenant-root"}})]),
            _ => status(404, "NotFound", "the server could not find the requested resource"),
        }
    })
}

fn named(vm: &str) -> CheckRequest {
    CheckRequest { vms: vec![vm.into()], namespace: Some("tenant-root".into()), ..Default::default() }
}

fn all_namespaces() -> CheckRequest {
    CheckRequest { all: true, all_namespaces: true, ..Default::default() }
}

#[tokio::test]
async fn named_vm_is_migratable_with_an_admitted_dry_run() {
    let fake = Fake::start(haos(|_, _| None)).await;
    let report = check::run(&fake.client(), "default", &named("vm-instance-haos")).await.unwrap();
    let vm = &report.vms[0];
    assert_eq!(vm.verdict, Verdict::Migratable, "{:#?}", vm.checks);
    let dry = vm.checks.iter().find(|c| c.id == "admission.dryrun").unwrap();
    assert_eq!(dry.status, Status::Pass);
    let eligible: Vec<&str> = vm.nodes.iter().filter(|n| n.eligible).map(|n| n.node.as_str()).collect();
    assert_eq!(eligible, ["the-dome"]);
    let reqs = fake.requests();
    assert!(
        reqs.contains(&"GET /apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachines/vm-instance-haos".to_owned())
    );
    assert!(
        reqs.iter().any(|r| r.starts_with("POST") && r.contains("virtualmachineinstancemigrations?&dryRun=All")
            || r.starts_with("POST") && r.contains("virtualmachineinstancemigrations?dryRun=All")),
        "{reqs:#?}"
    );
    assert!(reqs.len() <= 25, "{reqs:#?}");
}

#[tokio::test]
async fn all_namespaces_uses_lists_only_and_few_requests() {
    let fake = Fake::start(haos(|_, _| None)).await;
    let report = check::run(&fake.client(), "default", &all_namespaces()).await.unwrap();
    assert_eq!(report.vms.len(), 1);
    assert_eq!(report.vms[0].verdict, Verdict::Migratable);
    let reqs = fake.requests();
    // 11 paginated lists (one page each here) + 6 access reviews; the issue allows at most 25.
    assert_eq!(reqs.len(), 17, "{reqs:#?}");
    assert!(!reqs.iter().any(|r| r.contains("/virtualmachines/")), "no per-VM GET: {reqs:#?}");
    assert!(!reqs.iter().any(|r| r.contains("dryRun")), "no dry-run without --server-dry-run");
    let gets: Vec<&String> = reqs.iter().filter(|r| r.starts_with("GET")).collect();
    assert!(gets.iter().all(|r| r.contains("limit=500") || r.ends_with("/namespaces/tenant-root")), "{gets:#?}");
}

#[tokio::test]
async fn lists_are_paginated() {
    let fake = Fake::start(haos(|method, target| {
        if method != "GET" || !target.starts_with("/apis/kubevirt.io/v1/virtualmachines?") {
            return None;
        }
        let mut second = fixture("vm");
        second["metadata"]["name"] = json!("second");
        if target.contains("continue=page2") {
            Some(list(vec![second]))
        } else {
            let (code, mut page) = list(vec![fixture("vm")]);
            page["metadata"]["continue"] = json!("page2");
            Some((code, page))
        }
    }))
    .await;
    let report = check::run(&fake.client(), "default", &all_namespaces()).await.unwrap();
    let names: Vec<&str> = report.vms.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["second", "vm-instance-haos"]);
    let vm_lists =
        fake.requests().into_iter().filter(|r| r.starts_with("GET /apis/kubevirt.io/v1/virtualmachines?")).count();
    assert_eq!(vm_lists, 2);
    let second = &report.vms[0];
    assert!(
        second
            .checks
            .iter()
            .any(|c| c.id == "vm.running" && c.reason == "VM is not running: VM tenant-root/second has no VMI")
    );
}

#[tokio::test]
async fn dry_run_denial_is_verbatim() {
    let denial = fixture("not-migratable");
    let message = denial["message"].as_str().unwrap().to_owned();
    let fake = Fake::start(haos(move |method, target| {
        (method == "POST" && target.contains("virtualmachineinstancemigrations")).then(|| (400, denial.clone()))
    }))
    .await;
    let report = check::run(&fake.client(), "default", &named("vm-instance-haos")).await.unwrap();
    let dry = report.vms[0].checks.iter().find(|c| c.id == "admission.dryrun").unwrap();
    assert_eq!((dry.status, dry.reason.as_str()), (Status::Fail, message.as_str()));
    assert_eq!(report.exit_code(false), check::EXIT_NOT_MIGRATABLE);
}

#[tokio::test]
async fn denied_access_review_names_the_clusterrole() {
    let fake = Fake::start(Arc::new(|method: &str, target: &str, body: &str| {
        if target.starts_with("/apis/authorization.k8s.io")
            && body.contains("\"verb\":\"create\"")
            && body.contains("virtualmachineinstancemigrations")
        {
            let mut review: Value = serde_json::from_str(body).unwrap();
            review["status"] = json!({"allowed": false});
            return (201, review);
        }
        haos(|_, _| None)(method, target, body)
    }))
    .await;
    let report = check::run(&fake.client(), "default", &named("vm-instance-haos")).await.unwrap();
    let c = report.vms[0].checks.iter().find(|c| c.id == "permission.vmim-create").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.fix.as_deref().unwrap().contains("kubevirt.io:migrate"));
}

async fn error_of(
    tweak: impl Fn(&str, &str) -> Option<(u16, Value)> + Send + Sync + 'static,
    req: CheckRequest,
) -> CheckError {
    let fake = Fake::start(haos(tweak)).await;
    check::run(&fake.client(), "default", &req).await.unwrap_err()
}

#[tokio::test]
async fn kubevirt_not_installed_is_one_clear_error() {
    let err = error_of(
        |_, t| t.starts_with("/apis/kubevirt.io/").then(|| status(404, "NotFound", "404 page not found")),
        named("x"),
    )
    .await;
    assert!(matches!(err, CheckError::KubeVirtNotInstalled(_)));
    assert_eq!(err.to_string(), "KubeVirt is not installed: the API server does not serve kubevirt.io/v1 kubevirts");
    assert_eq!(err.exit_code(), 1);
}

#[tokio::test]
async fn unknown_vm_and_unknown_namespace() {
    let err = error_of(|_, _| None, named("nope")).await;
    assert_eq!(err.to_string(), "VirtualMachine tenant-root/nope not found");
    let req = CheckRequest { vms: vec!["x".into()], namespace: Some("ghost".into()), ..Default::default() };
    let err = error_of(|_, _| None, req).await;
    assert_eq!(err.to_string(), "namespace ghost not found");
    let req = CheckRequest { all: true, namespace: Some("ghost".into()), ..Default::default() };
    let err = error_of(|_, _| None, req).await;
    assert!(matches!(err, CheckError::NamespaceNotFound(ref n) if n == "ghost"), "{err}");
}

#[tokio::test]
async fn forbidden_list_names_verb_and_resource() {
    let forbidden = fixture("forbidden");
    let err = error_of(
        move |_, t| t.starts_with("/apis/kubevirt.io/v1/virtualmachines?").then(|| (403, forbidden.clone())),
        all_namespaces(),
    )
    .await;
    assert_eq!(err.to_string(), "forbidden: you cannot list virtualmachines");
    assert_eq!(err.exit_code(), 1);
}

#[tokio::test]
async fn forbidden_optional_lists_degrade_to_skips() {
    let fake = Fake::start(haos(|_, t| {
        t.starts_with("/api/v1/nodes").then(|| status(403, "Forbidden", "nodes is forbidden"))
    }))
    .await;
    let report = check::run(&fake.client(), "default", &named("vm-instance-haos")).await.unwrap();
    let c = report.vms[0].checks.iter().find(|c| c.id == "nodes.target").unwrap();
    assert_eq!(
        (c.status, c.reason.as_str()),
        (Status::Skip, "target nodes not evaluated: cannot list nodes: forbidden")
    );
}

#[tokio::test]
async fn unreachable_api_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let req = CheckRequest { server: Some(url.clone()), ..named("vm") };
    let err = check::run(&client, "default", &req).await.unwrap_err();
    assert!(matches!(err, CheckError::Unreachable { .. }), "{err:?}");
    let line = err.to_string();
    assert!(line.starts_with(&format!("cannot reach the API server at {url}: ")), "{line}");
    assert!(!line.contains('\n'));
}
