//! A haos-like cluster built from the fixtures, and helpers to drive KubeVirt through the store.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use vmmigrate_sim::api::hooks::{Admission, AdmissionRequest, Operation};
use vmmigrate_sim::api::resources::{self, KUBEVIRTS, MIGRATION_POLICIES, NAMESPACES, NODES, PODS, VMIMS, VMIS, VMS};
use vmmigrate_sim::api::{ApiError, EventType, Store};
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::{BehaviourMap, KubeVirtAdmission, KubeVirtSim};

pub const NS: &str = "tenant-root";
pub const VM: &str = "vm-instance-haos";

pub fn fixture(name: &str) -> Value {
    let text = match name {
        "nodes.json" => include_str!("../../../testdata/kubevirt/nodes.json"),
        "vmi-running.json" => include_str!("../../../testdata/kubevirt/vmi-running.json"),
        "vm.json" => include_str!("../../../testdata/kubevirt/vm.json"),
        "virt-launcher-pod.json" => include_str!("../../../testdata/kubevirt/virt-launcher-pod.json"),
        "kubevirt-cr.json" => include_str!("../../../testdata/kubevirt/kubevirt-cr.json"),
        "migrationpolicy.json" => include_str!("../../../testdata/kubevirt/migrationpolicy.json"),
        "vmi-migrated.json" => include_str!("../../../testdata/kubevirt/vmi-migrated.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

fn strip(mut obj: Value) -> Value {
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    obj
}

/// The cluster: namespaces, the four haos nodes, KubeVirt CR (with `migrations` overrides merged in), policy.
pub fn cluster(speed: f64, migrations: Value) -> Store {
    let s = Store::new(SimClock::new(speed));
    s.create(
        &NAMESPACES,
        None,
        json!({"metadata": {"name": NS, "labels": {"kubernetes.io/metadata.name": NS}}}),
        false,
    )
    .unwrap();
    s.create(&NAMESPACES, None, json!({"metadata": {"name": "cozy-kubevirt"}}), false).unwrap();
    for n in fixture("nodes.json")["items"].as_array().unwrap() {
        s.create(&NODES, None, strip(n.clone()), false).unwrap();
    }
    let mut kv = strip(fixture("kubevirt-cr.json"));
    for (k, v) in migrations.as_object().cloned().unwrap_or_default() {
        kv["spec"]["configuration"]["migrations"][k] = v;
    }
    s.create(&KUBEVIRTS, Some("cozy-kubevirt"), kv, false).unwrap();
    s.create(&MIGRATION_POLICIES, None, strip(fixture("migrationpolicy.json")), false).unwrap();
    s
}

/// Adds a running VM named `name` on `node` (VM, VMI, virt-launcher pod), linked by the stored uids.
pub fn add_vm(s: &Store, name: &str, node: &str) -> Value {
    let mut vm = strip(fixture("vm.json"));
    vm["metadata"]["name"] = json!(name);
    let vm = s.create(&VMS, Some(NS), vm, false).unwrap();
    let mut vmi = strip(fixture("vmi-running.json"));
    vmi["metadata"]["name"] = json!(name);
    vmi["metadata"]["ownerReferences"][0]["name"] = json!(name);
    vmi["metadata"]["ownerReferences"][0]["uid"] = vm["metadata"]["uid"].clone();
    vmi["metadata"]["labels"]["kubevirt.io/nodeName"] = json!(node);
    vmi["status"]["nodeName"] = json!(node);
    let vmi = s.create(&VMIS, Some(NS), vmi, false).unwrap();
    let uid = vmi["metadata"]["uid"].as_str().unwrap().to_string();
    let mut pod = strip(fixture("virt-launcher-pod.json"));
    pod["metadata"]["name"] = json!(format!("virt-launcher-{name}-abcde"));
    pod["metadata"]["generateName"] = json!(format!("virt-launcher-{name}-"));
    pod["metadata"]["labels"]["kubevirt.io/created-by"] = json!(uid);
    pod["metadata"]["labels"]["kubevirt.io/nodeName"] = json!(node);
    pod["metadata"]["labels"]["vm.kubevirt.io/name"] = json!(name);
    pod["metadata"]["ownerReferences"][0]["uid"] = json!(uid);
    pod["metadata"]["ownerReferences"][0]["name"] = json!(name);
    pod["spec"]["nodeName"] = json!(node);
    let pod = s.create(&PODS, Some(NS), pod, false).unwrap();
    let pod_uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let mut vmi = s.get(&VMIS, Some(NS), name).unwrap();
    vmi["status"]["activePods"] = json!({ pod_uid: node });
    s.update(&VMIS, Some(NS), name, vmi, vmmigrate_sim::api::UpdateMode::Full, false).unwrap()
}

/// The haos cluster with its one VM and KubeVirt started.
pub fn haos(speed: f64, migrations: Value, behaviours: BehaviourMap) -> (Store, KubeVirtSim) {
    let s = cluster(speed, migrations);
    add_vm(&s, VM, "the-toy-factory");
    start(&s, behaviours)
}

/// Starts KubeVirt and, as the sim server does, the generic kubelet/scheduler (which must leave launcher pods to
/// KubeVirt).
pub fn start(s: &Store, behaviours: BehaviourMap) -> (Store, KubeVirtSim) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // The kubelet stops when the sender goes; it lives as long as the test.
    std::mem::forget(tx);
    vmmigrate_sim::api::kubelet::Kubelet::spawn(s.clone(), true, rx);
    let kv = KubeVirtSim::new(s.clone(), behaviours);
    kv.start();
    (s.clone(), kv)
}

/// What the API server does for a create: admission, then the store.
pub fn create_vmim(s: &Store, vmi: &str, dry_run: bool) -> Result<Value, ApiError> {
    let mut body = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": "kubevirt-migrate-vm-", "namespace": NS},
        "spec": {"vmiName": vmi},
    });
    let req = AdmissionRequest {
        operation: Operation::Create,
        resource: &VMIMS,
        subresource: None,
        namespace: Some(NS),
        name: "",
        old: None,
        dry_run,
        store: s,
    };
    KubeVirtAdmission.admit(&req, &mut body)?;
    s.create(&VMIMS, Some(NS), body, dry_run)
}

pub fn name(obj: &Value) -> String {
    obj["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

pub fn phase(obj: &Value) -> &str {
    obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default()
}

/// A guard against hangs, not a timing assertion: `sim_secs` simulated seconds, but at least this much real time,
/// so that a loaded machine cannot fail a test that would pass.
const MIN_REAL_WAIT: Duration = Duration::from_secs(60);

fn wait_budget(s: &Store, sim_secs: u64) -> Duration {
    s.clock().to_real(Duration::from_secs(sim_secs)).max(MIN_REAL_WAIT)
}

/// Polls `check` every simulated 100 ms until it yields (for at most `sim_secs` simulated seconds, see
/// [`MIN_REAL_WAIT`]).
pub async fn wait_for<T>(s: &Store, sim_secs: u64, mut check: impl FnMut(&Store) -> Option<T>) -> T {
    let clock = s.clock().clone();
    let deadline = tokio::time::Instant::now() + wait_budget(s, sim_secs);
    loop {
        if let Some(v) = check(s) {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {sim_secs} simulated s");
        clock.sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the VMIM reaches `p`.
pub async fn wait_phase(s: &Store, vmim: &str, p: &str, sim_secs: u64) -> Value {
    wait_for(s, sim_secs, |s| s.get(&VMIMS, Some(NS), vmim).ok().filter(|m| phase(m) == p)).await
}

/// Collects every stored version of one VMIM from a subscription until it is deleted or final without finalizer.
pub async fn history(
    s: &Store,
    rx: &mut tokio::sync::broadcast::Receiver<vmmigrate_sim::api::StoreEvent>,
    vmim: &str,
    sim_secs: u64,
) -> Vec<(EventType, Value)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait_budget(s, sim_secs);
    loop {
        let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(ev)) => ev,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            other => panic!("history of {vmim} ended early: {:?}", other.map(|r| r.map(|e| e.name))),
        };
        if ev.resource != &resources::VMIMS || ev.name != vmim {
            continue;
        }
        let obj = (*ev.object).clone();
        let done = ev.kind == EventType::Deleted
            || (matches!(phase(&obj), "Succeeded" | "Failed")
                && obj["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty()));
        out.push((ev.kind, obj));
        if done {
            return out;
        }
    }
}

/// Events recorded about an object, as (type, reason, message).
pub fn events_for(s: &Store, uid: &str) -> Vec<(String, String, String)> {
    s.list(&resources::EVENTS, Some(NS))
        .0
        .iter()
        .filter(|e| e["involvedObject"]["uid"] == uid)
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (f("type"), f("reason"), f("message"))
        })
        .collect()
}

/// Waits for an Event about `uid` with `reason` and returns (type, message).
pub async fn wait_event(s: &Store, uid: &str, reason: &str) -> (String, String) {
    wait_for(s, 60, |s| events_for(s, uid).into_iter().find(|(_, r, _)| r == reason).map(|(t, _, m)| (t, m))).await
}
