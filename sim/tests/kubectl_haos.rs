//! Issue acceptance: the real `kubectl` against `vmmigrate-sim` running the built-in `haos` scenario.
//!
//! kubectl must be installed (CI installs it). Without it these tests fail, unless
//! `VMMIGRATE_ALLOW_NO_KUBECTL=1` is set, in which case they say loudly that they did not run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{ClusterOptions, ClusterSim};

/// Simulated time runs this much faster: the seed's ~12 s migration takes about a second.
const SPEED: f64 = 10.0;

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(&self.cache).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("kubectl runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn kubectl_available() -> bool {
    let found = Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("VMMIGRATE_ALLOW_NO_KUBECTL").as_deref() == Ok("1"),
            "kubectl is not installed: these tests need the real kubectl (set VMMIGRATE_ALLOW_NO_KUBECTL=1 to skip)"
        );
        eprintln!("SKIPPED LOUDLY: kubectl is not installed and VMMIGRATE_ALLOW_NO_KUBECTL=1 is set");
    }
    found
}

async fn start(dir: &Path) -> (ClusterSim, Kubectl) {
    let scenario = Scenario::builtin("haos").expect("haos scenario");
    let cluster = ClusterSim::start(&scenario, ClusterOptions { speed: SPEED, ..Default::default() }).await.unwrap();
    let kubeconfig = dir.join("kubeconfig");
    cluster.sim.write_kubeconfig(&kubeconfig, Some("tenant-root")).unwrap();
    (cluster, Kubectl { kubeconfig, cache: dir.join("cache") })
}

const VMIM: &str = r#"{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
 "metadata": {"generateName": "kubectl-mig-", "namespace": "tenant-root"},
 "spec": {"vmiName": "vm-instance-haos"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_lists_the_haos_cluster() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cluster, k) = start(dir.path()).await;
    let out = tokio::task::spawn_blocking(move || {
        let vms = k.ok(&["get", "vm", "-n", "tenant-root"]);
        let vmis = k.ok(&["get", "vmi", "-n", "tenant-root", "-o", "wide"]);
        let nodes = k.ok(&["get", "nodes"]);
        let pods = k.ok(&["get", "pods", "-n", "tenant-root"]);
        (vms, vmis, nodes, pods)
    })
    .await
    .unwrap();
    let (vms, vmis, nodes, pods) = out;
    assert!(vms.contains("vm-instance-haos") && vms.contains("Running"), "{vms}");
    assert!(
        vmis.contains("vm-instance-haos") && vmis.contains("the-toy-factory") && vmis.contains("10.244.0.57"),
        "{vmis}"
    );
    for n in ["here-i-am", "illusion", "the-dome", "the-toy-factory"] {
        assert!(nodes.contains(n), "{nodes}");
    }
    assert!(nodes.contains("SchedulingDisabled"), "the cordoned node shows as such: {nodes}");
    assert!(pods.contains("virt-launcher-vm-instance-haos-") && pods.contains("Running"), "{pods}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_migrates_and_watches_to_succeeded() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cluster, k) = start(dir.path()).await;
    let manifest = dir.path().join("vmim.json");
    std::fs::write(&manifest, VMIM).unwrap();
    let (watch_lines, node, second) = tokio::task::spawn_blocking(move || {
        let mut watch = k
            .command(&["get", "vmim", "-n", "tenant-root", "-w", "--request-timeout=120s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let created = k.ok(&["create", "-f", manifest.to_str().unwrap()]);
        assert!(created.contains("created"), "{created}");
        // A second migration while the first is in flight is denied by KubeVirt's webhook.
        let second = k.run(&["create", "-f", manifest.to_str().unwrap()]);
        assert!(!second.status.success());
        let mut lines = Vec::new();
        for line in BufReader::new(watch.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let done = line.contains("Succeeded");
            lines.push(line);
            if done {
                break;
            }
        }
        let _ = watch.kill();
        let _ = watch.wait();
        let node = k.ok(&["get", "vmi", "vm-instance-haos", "-n", "tenant-root", "-o", "jsonpath={.status.nodeName}"]);
        (lines, node, String::from_utf8_lossy(&second.stderr).into_owned())
    })
    .await
    .unwrap();
    assert!(
        second.contains("admission webhook \"migration-create-validator.kubevirt.io\" denied the request: in-flight migration detected. Active migration job (")
            && second.contains(") is currently already in progress for VMI vm-instance-haos."),
        "{second}"
    );
    // The watch shows the phases in KubeVirt's order, through the Phase printer column.
    let header = &watch_lines[0];
    assert!(header.contains("PHASE") && header.contains("VMI"), "{watch_lines:?}");
    let order = ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"];
    let seen: Vec<&str> =
        watch_lines.iter().skip(1).filter_map(|l| l.split_whitespace().nth(1)).filter(|p| order.contains(p)).collect();
    let mut last = 0;
    for p in &seen {
        let i = order.iter().position(|o| o == p).unwrap();
        assert!(i >= last, "phases out of order: {seen:?}");
        last = i;
    }
    assert_eq!(seen.last(), Some(&"Succeeded"), "{watch_lines:?}");
    assert!(seen.contains(&"Running"), "{watch_lines:?}");
    assert_eq!(node, "the-dome");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_into_a_pod() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cluster, k) = start(dir.path()).await;
    let (out, failed) = tokio::task::spawn_blocking(move || {
        let pod = k.ok(&["get", "pods", "-n", "tenant-root", "-o", "jsonpath={.items[0].metadata.name}"]);
        let out = k.ok(&["exec", "-n", "tenant-root", &pod, "-c", "compute", "--", "echo", "hello", "world"]);
        let failed = k.run(&["exec", "-n", "tenant-root", &pod, "-c", "compute", "--", "false"]);
        (out, failed)
    })
    .await
    .unwrap();
    assert_eq!(out, "hello world\n");
    assert_eq!(failed.status.code(), Some(1), "the exit code is propagated");
    cluster.shutdown().await;
}
