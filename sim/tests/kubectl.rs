//! The real kubectl against the sim: discovery, get, get -w, create -f, delete, exec, logs -f.
//! Fails when kubectl is missing, unless VMMIGRATE_ALLOW_NO_KUBECTL=1.

mod client;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use client::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use vmmigrate_sim::SimHandle;

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kubectl {
    /// `None` only when kubectl is missing and that is explicitly allowed.
    fn new(sim: &SimHandle) -> Option<Self> {
        if std::process::Command::new("kubectl").args(["version", "--client"]).output().is_err() {
            if std::env::var("VMMIGRATE_ALLOW_NO_KUBECTL").as_deref() == Ok("1") {
                eprintln!("kubectl is missing: skipped because VMMIGRATE_ALLOW_NO_KUBECTL=1");
                return None;
            }
            panic!(
                "kubectl is not installed: these tests need the real kubectl (set VMMIGRATE_ALLOW_NO_KUBECTL=1 to skip)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig, Some("default")).unwrap();
        Some(Self { kubeconfig, cache: dir.path().join("cache"), _dir: dir })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(&self.cache).args(args);
        c.env_remove("KUBECONFIG").stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// Runs kubectl to its end: (exit code, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let o = self.cmd(args).output().await.unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (o.status.code().unwrap_or(-1), text(&o.stdout), text(&o.stderr))
    }

    fn write(&self, name: &str, v: &serde_json::Value) -> PathBuf {
        let p = self.kubeconfig.parent().unwrap_or(Path::new(".")).join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovers_gets_creates_and_deletes() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let (code, out, err) = k.run(&["get", "--raw", "/version"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["minor"], "34");
    let (code, out, err) = k.run(&["api-resources"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines().any(|l| l.starts_with("virtualmachineinstancemigrations") && l.contains("vmim,vmims")),
        "{out}"
    );
    let (code, _, err) = k.run(&["get", "pods"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("No resources found in default namespace."), "{err}");
    let f = k.write(
        "cm.json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}),
    );
    let (code, out, err) = k.run(&["create", "-f", f.to_str().unwrap()]).await;
    assert_eq!((code, out.trim()), (0, "configmap/settings created"), "{err}");
    assert!(
        sim.audit().iter().any(|r| r.method == "POST" && r.query.contains("fieldValidation=Strict")),
        "kubectl leaves validation to the server"
    );
    let (code, out, _) = k.run(&["get", "cm", "settings", "-o", "jsonpath={.data.a}"]).await;
    assert_eq!((code, out.as_str()), (0, "b"));
    let vmim = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration", "metadata": {"name": "mig"}, "spec": {"vmiName": "vm"}});
    let f = k.write("vmim.json", &vmim);
    let (code, _, err) = k.run(&["create", "-f", f.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = k.run(&["get", "vmim"]).await;
    assert_eq!(code, 0);
    let cols: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(cols, [vec!["NAME", "PHASE", "VMI"], vec!["mig", "vm"]], "{out}");
    let (code, out, err) = k.run(&["delete", "cm", "settings"]).await;
    assert_eq!((code, out.trim()), (0, "configmap \"settings\" deleted"), "{err}");
    let (code, _, err) = k.run(&["get", "cm", "settings"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("configmaps \"settings\" not found"), "{err}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watches_execs_and_follows_logs() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let u = sim.url();
    // get -w: the existing object, then one created later.
    post(u, "/api/v1/namespaces/default/configmaps", &json!({"metadata": {"name": "first"}})).await;
    let mut w = k.cmd(&["get", "configmaps", "-w", "--no-headers"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(w.stdout.take().unwrap()).lines();
    assert!(lines.next_line().await.unwrap().unwrap().starts_with("first "));
    post(u, "/api/v1/namespaces/default/configmaps", &json!({"metadata": {"name": "second"}})).await;
    assert!(lines.next_line().await.unwrap().unwrap().starts_with("second "));
    w.kill().await.unwrap();
    // exec: output and exit codes pass through.
    let pod = json!({"metadata": {"name": "web"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36"}]}});
    post(u, "/api/v1/namespaces/default/pods", &pod).await;
    wait_for(u, "/api/v1/namespaces/default/pods/web", |p| p["status"]["phase"] == "Running").await;
    let (code, out, _) = k.run(&["get", "pods"]).await;
    assert_eq!(code, 0);
    let cols: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(cols[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], "server-side printing: {out}");
    assert_eq!(cols[1][..4], ["web", "1/1", "Running", "0"]);
    let (code, out, err) = k.run(&["exec", "web", "--", "echo", "hi"]).await;
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    let (code, _, err) = k.run(&["exec", "web", "--", "false"]).await;
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = k.run(&["exec", "web", "--", "ping", "x"]).await;
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    // logs -f: lines so far, new lines, and the end when the pod goes.
    sim.store().append_log("default", "web", "c", "started");
    let mut l = k.cmd(&["logs", "-f", "web"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(l.stdout.take().unwrap()).lines();
    assert_eq!(out.next_line().await.unwrap().as_deref(), Some("started"));
    sim.store().append_log("default", "web", "c", "more");
    assert_eq!(out.next_line().await.unwrap().as_deref(), Some("more"));
    call(u, "DELETE", "/api/v1/namespaces/default/pods/web", None, None).await;
    assert_eq!(out.next_line().await.unwrap(), None);
    assert!(l.wait().await.unwrap().success());
    sim.shutdown().await;
}
