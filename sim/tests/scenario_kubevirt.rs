//! The scenario loader's objects driven by the KubeVirt part: what virt-handler computes from them and a real
//! migration of the built-in haos VM.

mod common;

use common::{phase, wait_for};
use serde_json::{Value, json};
use vmmigrate_sim::api::hooks::{Admission, AdmissionRequest, Operation};
use vmmigrate_sim::api::resources::{VMIMS, VMIS, VMS};
use vmmigrate_sim::api::{ApiError, Store};
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::{KubeVirtAdmission, KubeVirtSim};
use vmmigrate_sim::scenario::Scenario;

fn start(name: &str, speed: f64) -> (Store, KubeVirtSim) {
    let store = Store::new(SimClock::new(speed));
    let applied = Scenario::builtin(name).unwrap().apply(&store).unwrap();
    let kv = KubeVirtSim::new(store.clone(), applied.behaviours);
    kv.start();
    (store, kv)
}

fn create_vmim(s: &Store, ns: &str, vmi: &str) -> Result<Value, ApiError> {
    let mut body = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": "kubevirt-migrate-vm-", "namespace": ns},
        "spec": {"vmiName": vmi},
    });
    let req = AdmissionRequest {
        operation: Operation::Create,
        resource: &VMIMS,
        subresource: None,
        namespace: Some(ns),
        name: "",
        old: None,
        dry_run: false,
        store: s,
    };
    KubeVirtAdmission.admit(&req, &mut body)?;
    s.create(&VMIMS, Some(ns), body, false)
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_haos_migrates_to_the_dome() {
    let (s, _kv) = start("haos", 100.0);
    let ns = "tenant-root";
    let vmi = wait_for(&s, 30, |s| {
        s.get(&VMIS, Some(ns), "vm-instance-haos").ok().filter(|v| condition(v, "LiveMigratable").is_some())
    })
    .await;
    assert_eq!(condition(&vmi, "LiveMigratable").unwrap()["status"], "True");
    let vmim = create_vmim(&s, ns, "vm-instance-haos").unwrap();
    let name = vmim["metadata"]["name"].as_str().unwrap().to_string();
    let done = wait_for(&s, 300, |s| {
        s.get(&VMIMS, Some(ns), &name).ok().filter(|m| matches!(phase(m), "Succeeded" | "Failed"))
    })
    .await;
    assert_eq!(phase(&done), "Succeeded", "{done:#}");
    let vmi = s.get(&VMIS, Some(ns), "vm-instance-haos").unwrap();
    assert_eq!(vmi["status"]["nodeName"], "the-dome");
    assert_eq!(vmi["status"]["migrationState"]["sourceNode"], "the-toy-factory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_blockers_are_refused_with_kubevirts_reason() {
    let (s, _kv) = start("blockers", 100.0);
    let ns = "blockers";
    let vmi = wait_for(&s, 30, |s| {
        s.get(&VMIS, Some(ns), "rwo-and-bridge").ok().filter(|v| condition(v, "LiveMigratable").is_some())
    })
    .await;
    let c = condition(&vmi, "LiveMigratable").unwrap();
    assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some("False"), Some("DisksNotLiveMigratable")));
    let err = create_vmim(&s, ns, "rwo-and-bridge").unwrap_err();
    assert!(err.message.contains("PVC rwo-and-bridge-root is not shared"), "{}", err.message);
    // The VM mirrors the condition; the stopped VM has no VMI to migrate.
    let vm = wait_for(&s, 30, |s| {
        s.get(&VMS, Some(ns), "rwo-and-bridge").ok().filter(|v| condition(v, "LiveMigratable").is_some())
    })
    .await;
    assert_eq!(condition(&vm, "LiveMigratable").unwrap()["reason"], "DisksNotLiveMigratable");
    let err = create_vmim(&s, ns, "stopped").unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            400,
            "admission webhook \"migration-create-validator.kubevirt.io\" denied the request: the VMI \"blockers/stopped\" does not exist"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_faults_behaviours_reach_the_migration_controller() {
    let (s, _kv) = start("faults", 100.0);
    let ns = "faults";
    for vm in ["flaky", "stuck"] {
        wait_for(&s, 30, |s| s.get(&VMIS, Some(ns), vm).ok().filter(|v| condition(v, "LiveMigratable").is_some()))
            .await;
    }
    let flaky = create_vmim(&s, ns, "flaky").unwrap();
    let stuck = create_vmim(&s, ns, "stuck").unwrap();
    let name = |o: &Value| o["metadata"]["name"].as_str().unwrap().to_string();
    let (flaky, stuck) = (name(&flaky), name(&stuck));
    let failed = wait_for(&s, 120, |s| s.get(&VMIMS, Some(ns), &flaky).ok().filter(|m| phase(m) == "Failed")).await;
    assert!(
        failed["status"]["phaseTransitionTimestamps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["phase"] == "PreparingTarget")
    );
    assert_eq!(
        failed["status"]["migrationState"]["failureReason"], "failed to prepare target: virt-handler not reachable",
        "the reason from faults.yaml"
    );
    // The target pod of `stuck` never gets a node: still Scheduling long after `flaky` has failed.
    let m = s.get(&VMIMS, Some(ns), &stuck).unwrap();
    assert_eq!(phase(&m), "Scheduling", "{m:#}");
}
