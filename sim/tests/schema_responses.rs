//! Issue acceptance: every response the sim serves for what we model validates against the upstream
//! Kubernetes v1.34 / KubeVirt v1.5.2 OpenAPI schemas (trimmed copy in `sim/openapi/`), during a whole
//! migration of the `haos` VM: discovery, lists of every kind, the VMIM and VMI watch events, errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};
use vmmigrate_sim::openapi::{definition_for, validate, validate_object};
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{ClusterOptions, ClusterSim};

/// A plain HTTP/1.1 request; returns the status and the body (chunked bodies are de-chunked).
fn http(base: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let code: u16 = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut chunked = false;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        chunked |= h.to_ascii_lowercase().starts_with("transfer-encoding: chunked");
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            out.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut out).unwrap();
    }
    (code, out)
}

fn get_json(base: &str, path: &str) -> Value {
    let (code, body) = http(base, "GET", path, None);
    assert_eq!(code, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn assert_valid(what: &str, definition: &str, v: &Value) {
    if let Err(errors) = validate(definition, v) {
        panic!("{what} does not validate against {definition}:\n{}", errors.join("\n"));
    }
}

/// A list and each of its items (items of built-in lists carry no apiVersion/kind, so use the list's).
fn assert_list_valid(path: &str, list: &Value) {
    let api_version = list["apiVersion"].as_str().unwrap();
    let list_kind = list["kind"].as_str().unwrap();
    let item_kind = list_kind.strip_suffix("List").unwrap();
    if let Some(d) = definition_for(api_version, list_kind) {
        assert_valid(path, d, list);
    }
    if let Some(d) = definition_for(api_version, item_kind) {
        for item in list["items"].as_array().unwrap() {
            assert_valid(&format!("{path} item {}", item["metadata"]["name"]), d, item);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_served_during_a_migration_validates() {
    let scenario = Scenario::builtin("haos").unwrap();
    let cluster = ClusterSim::start(&scenario, ClusterOptions { speed: 10.0, ..Default::default() }).await.unwrap();
    let base = cluster.sim.url().to_string();
    let checked = tokio::task::spawn_blocking(move || {
        let mut checked = 0;
        // Discovery.
        assert_valid("/version", "io.k8s.apimachinery.pkg.version.Info", &get_json(&base, "/version"));
        assert_valid("/api", "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", &get_json(&base, "/api"));
        assert_valid("/apis", "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", &get_json(&base, "/apis"));
        for gv in ["/api/v1", "/apis/kubevirt.io/v1", "/apis/migrations.kubevirt.io/v1alpha1"] {
            assert_valid(gv, "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", &get_json(&base, gv));
        }
        // Watch the VMIMs and the VMI while a migration runs.
        let b = base.clone();
        let watch_vmims = std::thread::spawn(move || {
            http(&b, "GET", "/apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachineinstancemigrations?watch=true&timeoutSeconds=4", None)
        });
        let b = base.clone();
        let watch_vmis = std::thread::spawn(move || {
            http(&b, "GET", "/apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachineinstances?watch=true&timeoutSeconds=4", None)
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let vmim = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"generateName": "schema-"}, "spec": {"vmiName": "vm-instance-haos"}});
        let path = "/apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachineinstancemigrations";
        let (code, created) = http(&base, "POST", path, Some(&vmim));
        assert_eq!(code, 201, "{}", String::from_utf8_lossy(&created));
        let created: Value = serde_json::from_slice(&created).unwrap();
        validate_object(&created).unwrap_or_else(|e| panic!("created VMIM: {e:?}"));
        // An admission denial and a NotFound are metav1.Status.
        let (code, denied) = http(&base, "POST", path, Some(&vmim));
        assert_eq!(code, 400);
        assert_valid("denial", "io.k8s.apimachinery.pkg.apis.meta.v1.Status", &serde_json::from_slice(&denied).unwrap());
        let (code, missing) = http(&base, "GET", &format!("{path}/nope"), None);
        assert_eq!(code, 404);
        assert_valid("404", "io.k8s.apimachinery.pkg.apis.meta.v1.Status", &serde_json::from_slice(&missing).unwrap());
        for (what, handle) in [("vmim watch", watch_vmims), ("vmi watch", watch_vmis)] {
            let (code, body) = handle.join().unwrap();
            assert_eq!(code, 200);
            let mut phases = Vec::new();
            for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let ev: Value = serde_json::from_slice(line).unwrap();
                let obj = &ev["object"];
                validate_object(obj).unwrap_or_else(|e| panic!("{what} {} event: {e:?}\n{obj:#}", ev["type"]));
                phases.push(obj["status"]["phase"].as_str().unwrap_or_default().to_string());
                checked += 1;
            }
            if what == "vmim watch" {
                assert!(phases.iter().any(|p| p == "Running"), "{phases:?}");
                assert_eq!(phases.last().map(String::as_str), Some("Succeeded"), "{phases:?}");
            }
        }
        // Lists of every kind we model, after the migration.
        for path in [
            "/api/v1/namespaces",
            "/api/v1/nodes",
            "/api/v1/namespaces/tenant-root/pods",
            "/api/v1/namespaces/tenant-root/services",
            "/api/v1/namespaces/tenant-root/persistentvolumeclaims",
            "/api/v1/namespaces/tenant-root/events",
            "/apis/storage.k8s.io/v1/storageclasses",
            "/apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachines",
            "/apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachineinstances",
            "/apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachineinstancemigrations",
            "/apis/kubevirt.io/v1/kubevirts",
            "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies",
            "/apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterinstancetypes",
        ] {
            let list = get_json(&base, path);
            checked += list["items"].as_array().map_or(0, Vec::len);
            assert_list_valid(path, &list);
        }
        checked
    })
    .await
    .unwrap();
    assert!(checked > 20, "only {checked} objects were checked");
    cluster.shutdown().await;
}
