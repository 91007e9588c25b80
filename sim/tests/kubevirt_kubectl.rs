//! KubeVirt behind the sim's HTTP API, driven by the real kubectl: admission messages and a migration to the end.

mod common;

use std::process::Command;

use common::{wait_for, wait_phase};
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::resources::{VMIMS, VMIS};
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::{BehaviourMap, KubeVirtSim};
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{Sim, SimOptions};

/// The real kubectl (installed by `.ci/run` when missing).
const KUBECTL: &str = "kubectl";

fn kubectl(kubeconfig: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_and_follows_a_migration() {
    let store = Store::new(SimClock::new(100.0));
    let applied = Scenario::builtin("haos").unwrap().apply(&store).unwrap();
    // A long Pending (300 simulated s = 3 real s) keeps the migration in flight while kubectl tries a second one.
    let mut behaviours = BehaviourMap { default: applied.behaviours.default, per_vm: applied.behaviours.per_vm };
    for b in std::iter::once(&mut behaviours.default).chain(behaviours.per_vm.values_mut()) {
        b.phase_durations_ms.pending = 300_000;
    }
    let kv = KubeVirtSim::new(store.clone(), behaviours);
    kv.start();
    let mut opts = SimOptions::new(store.clone());
    opts.admission = kv.admission();
    let sim = Sim::start(opts).await.unwrap();
    let kc = std::env::temp_dir().join(format!("vmmigrate-sim-kubevirt-{}.kubeconfig", uuid::Uuid::new_v4()));
    std::fs::write(&kc, vmmigrate_sim::api::kubeconfig::kubeconfig(sim.url(), Some("tenant-root"))).unwrap();
    wait_for(&store, 60, |s| {
        let vmi = s.get(&VMIS, Some("tenant-root"), "vm-instance-haos").ok()?;
        vmi.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == "LiveMigratable").cloned()
    })
    .await;

    let vmim = r#"{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": "kubevirt-migrate-vm-"},
        "spec": {"vmiName": "no-such-vmi", "addedNodeSelector": {"a": "b"}}}"#;
    // kubectl validates on the server, strictly, by default: the v1.6+ field is an error against v1.5's schema.
    let kc2 = kc.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || kubectl(&kc2, &["create", "-f", "-"], Some(vmim))).await.unwrap();
    assert!(!ok);
    assert!(err.contains("strict decoding error: unknown field \"spec.addedNodeSelector\""), "{err}");
    // With --validate=warn the field is pruned with a warning, and the webhooks have their say.
    let kc2 = kc.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || kubectl(&kc2, &["create", "--validate=warn", "-f", "-"], Some(vmim)))
            .await
            .unwrap();
    assert!(!ok);
    assert!(err.contains("Warning: unknown field \"spec.addedNodeSelector\""), "{err}");
    assert!(
        err.contains("admission webhook \"migration-create-validator.kubevirt.io\" denied the request: the VMI \"tenant-root/no-such-vmi\" does not exist"),
        "{err}"
    );

    let good = vmim.replace("no-such-vmi", "vm-instance-haos");
    let kc2 = kc.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        kubectl(&kc2, &["create", "--validate=warn", "-f", "-", "-o", "json"], Some(&good))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["spec"], serde_json::json!({"vmiName": "vm-instance-haos"}), "addedNodeSelector pruned");
    assert_eq!(created["metadata"]["labels"]["kubevirt.io/vmi-name"], "vm-instance-haos");
    let name = created["metadata"]["name"].as_str().unwrap().to_string();

    let again = vmim.replace("no-such-vmi", "vm-instance-haos");
    let kc2 = kc.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || kubectl(&kc2, &["create", "--validate=warn", "-f", "-"], Some(&again)))
            .await
            .unwrap();
    assert!(!ok);
    assert!(err.contains("in-flight migration detected. Active migration job ("), "{err}");

    wait_phase(&store, &name, "Succeeded", 900).await;
    let kc2 = kc.clone();
    let n2 = name.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        kubectl(&kc2, &["get", "vmim", &n2, "-o", "jsonpath={.status.phase} {.status.migrationState.targetNode}"], None)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, "Succeeded the-dome");
    let kc2 = kc.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        kubectl(&kc2, &["get", "vmi", "vm-instance-haos", "-o", "jsonpath={.status.nodeName}"], None)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, "the-dome");
    assert!(store.get(&VMIMS, Some("tenant-root"), &name).is_ok());
    let _ = std::fs::remove_file(&kc);
}
