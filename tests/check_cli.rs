//! `kubectl-vmmigrate check` through the real binary against vmmigrate-sim: stdout, stderr and exit code.

mod check_common;
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use check_common::{Cluster, start};
use serde_json::Value;
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::faults::{Denial, Faults};
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{Sim, SimOptions};

/// The binary with a kubeconfig for `url` (namespace `ns`), run in a blocking thread while the sim serves.
async fn plugin(kubeconfig: &Path, args: &[&str]) -> Output {
    let kubeconfig = kubeconfig.to_path_buf();
    let home = kubeconfig.parent().unwrap().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        common::plugin(&home).env("KUBECONFIG", kubeconfig).args(args).output().expect("run plugin")
    })
    .await
    .unwrap()
}

fn kubeconfig(c: &Cluster, dir: &tempfile::TempDir, ns: &str) -> PathBuf {
    let path = dir.path().join("kubeconfig");
    c.sim.write_kubeconfig(&path, Some(ns)).unwrap();
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_is_migratable_table_wide_and_json() {
    let c = start(&Scenario::builtin("haos").unwrap(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = kubeconfig(&c, &dir, "tenant-root");

    let out = plugin(&cfg, &["check", "vm-instance-haos"]).await;
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stderr(&out), "");
    let text = stdout(&out);
    assert!(text.starts_with("tenant-root/vm-instance-haos on the-toy-factory: MIGRATABLE"), "{text}");
    assert!(text.contains("✓ nodes.target"), "{text}");
    assert!(text.contains("1 of 4 nodes eligible: the-dome"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a TTY");

    let out = plugin(&cfg, &["check", "vm-instance-haos", "-o", "wide"]).await;
    let text = stdout(&out);
    assert!(text.contains("NODE             ELIGIBLE  REASONS"), "{text}");
    assert!(text.contains("here-i-am        no        cordoned (spec.unschedulable)"), "{text}");
    assert!(text.contains("the-dome         yes"), "{text}");
    assert!(text.contains("completionTimeout                  750 s = 150 s/GiB × 5 GB"), "{text}");

    let out = plugin(&cfg, &["check", "vm-instance-haos", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "CheckReport");
    assert_eq!(v["vms"][0]["verdict"], "migratable");
    assert_eq!(v["vms"][0]["effectiveConfig"]["completionTimeoutSeconds"], 750);

    let out = plugin(&cfg, &["check", "--all", "-A", "-o", "yaml"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("kind: CheckReport"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blockers_exit_3_and_list_both_blockers() {
    let c = start(&Scenario::builtin("blockers").unwrap(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = kubeconfig(&c, &dir, "blockers");

    let out = plugin(&cfg, &["check", "rwo-and-bridge"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("blockers/rwo-and-bridge on node-a: NOT MIGRATABLE"), "{text}");
    assert!(text.contains("✗ migratable.disks"), "{text}");
    assert!(text.contains("✗ migratable.network"), "{text}");
    assert!(text.contains("cannot migrate VMI: PVC rwo-and-bridge-root is not shared"), "{text}");
    // The authoritative dry-run answer, verbatim.
    assert!(text.contains("admission webhook \"migration-create-validator.kubevirt.io\" denied the request: Cannot migrate VMI, Reason: DisksNotLiveMigratable"), "{text}");

    let out = plugin(&cfg, &["check", "stopped"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("✗ vm.running"), "{}", stdout(&out));
    assert!(stdout(&out).contains("VM is not running"), "{}", stdout(&out));

    // Only warnings (the healthy VM's masquerade IP changes without a Service): 0, and 3 with --strict.
    let out = plugin(&cfg, &["check", "healthy"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("MIGRATABLE (with warnings)"), "{}", stdout(&out));
    let out = plugin(&cfg, &["check", "healthy", "--strict"]).await;
    assert_eq!(out.status.code(), Some(3));

    // --all: one row per VM.
    let out = plugin(&cfg, &["check", "--all"]).await;
    assert_eq!(out.status.code(), Some(3));
    let text = stdout(&out);
    assert!(text.starts_with("NAMESPACE  NAME"), "{text}");
    let row = text.lines().find(|l| l.contains(" rwo-and-bridge ")).unwrap();
    assert!(row.contains("NOT MIGRATABLE  ✗ migratable.server, ✗ migratable.disks, ✗ migratable.network"), "{row}");
    let healthy = text.lines().find(|l| l.contains(" healthy ")).unwrap();
    assert!(healthy.contains("WARNINGS") && healthy.ends_with("! network.interface"), "{healthy}");
    let plugin_row = text.lines().find(|l| l.contains(" passt-plugin ")).unwrap();
    assert!(!plugin_row.contains("✗"), "a binding plugin with migration support passes: {plugin_row}");

    let out = plugin(&cfg, &["check", "--all", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vms = v["vms"].as_array().unwrap();
    assert!(vms.len() >= 12, "{}", vms.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_clear_line() {
    let c = start(&Scenario::builtin("haos").unwrap(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = kubeconfig(&c, &dir, "tenant-root");
    let out = plugin(&cfg, &["check", "nope"]).await;
    common::assert_one_error_line(&out, 1, &["VirtualMachine tenant-root/nope not found"]);
    let out = plugin(&cfg, &["check", "vm-instance-haos", "-n", "ghost"]).await;
    common::assert_one_error_line(&out, 1, &["namespace ghost not found"]);
    let out = plugin(&cfg, &["check"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let deny = Denial { verb: "list".into(), resource: "virtualmachines".into(), group: None, namespace: None };
    let c = start(&Scenario::builtin("haos").unwrap(), Faults { deny: vec![deny], ..Default::default() }).await;
    let cfg = kubeconfig(&c, &dir, "tenant-root");
    let out = plugin(&cfg, &["check", "--all", "-A"]).await;
    common::assert_one_error_line(&out, 1, &["forbidden: you cannot list virtualmachines"]);

    let closed = format!("http://127.0.0.1:{}", common::closed_port());
    let path = common::write(dir.path(), "closed", &common::single(&closed, Some("default")));
    let out = plugin(&path, &["check", "vm"]).await;
    common::assert_one_error_line(&out, 1, &["cannot reach", &closed]);

    let store = Store::new(SimClock::new(1.0));
    vmmigrate_sim::empty_cluster(&store).unwrap();
    let empty = Sim::start(SimOptions::new(store)).await.unwrap();
    let path = dir.path().join("empty");
    empty.write_kubeconfig(&path, Some("default")).unwrap();
    let out = plugin(&path, &["check", "vm"]).await;
    common::assert_one_error_line(&out, 1, &["KubeVirt is not installed"]);
}
