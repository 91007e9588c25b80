//! virt-handler keeps LiveMigratable up to date as the VMI, its node and the KubeVirt CR change; the VM mirrors it.

mod common;

use common::*;
use serde_json::{Value, json};
use vmmigrate_sim::api::UpdateMode;
use vmmigrate_sim::api::resources::{KUBEVIRTS, NODES, VMIS, VMS};
use vmmigrate_sim::kubevirt::BehaviourMap;

fn condition(obj: &Value, kind: &str) -> Option<Value> {
    obj.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == kind).cloned()
}

async fn wait_live(s: &vmmigrate_sim::api::Store, kind: &'static str, status: &'static str) -> Value {
    wait_for(s, 60, |s| {
        let vmi = s.get(&VMIS, Some(NS), VM).ok()?;
        condition(&vmi, kind).filter(|c| c["status"] == status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_follow_the_vmi_node_and_kubevirt_cr() {
    let s = cluster(500.0, json!({}));
    let vmi = add_vm(&s, VM, "the-toy-factory");
    // Start from a VMI virt-handler has not seen yet.
    let mut fresh = vmi.clone();
    fresh["status"]["conditions"].as_array_mut().unwrap().retain(|c| c["type"] == "Ready");
    fresh["status"].as_object_mut().unwrap().remove("migrationMethod");
    s.update(&VMIS, Some(NS), VM, fresh, UpdateMode::Full, false).unwrap();
    let mut vm = s.get(&VMS, Some(NS), VM).unwrap();
    vm["status"]["conditions"].as_array_mut().unwrap().retain(|c| c["type"] == "Ready");
    s.update(&VMS, Some(NS), VM, vm, UpdateMode::Full, false).unwrap();

    start(&s, BehaviourMap::default());
    let c = wait_live(&s, "LiveMigratable", "True").await;
    assert_eq!(
        c,
        json!({"lastProbeTime": null, "lastTransitionTime": null, "status": "True", "type": "LiveMigratable"})
    );
    wait_live(&s, "StorageLiveMigratable", "True").await;
    assert_eq!(s.get(&VMIS, Some(NS), VM).unwrap()["status"]["migrationMethod"], "LiveMigration");
    wait_for(&s, 60, |s| condition(&s.get(&VMS, Some(NS), VM).ok()?, "LiveMigratable")).await;

    // The node loses its host-model label: host-model VMIs on it cannot migrate.
    let mut node = s.get(&NODES, None, "the-toy-factory").unwrap();
    node["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("host-model-cpu.node.kubevirt.io/"));
    s.update(&NODES, None, "the-toy-factory", node, UpdateMode::Full, false).unwrap();
    let c = wait_live(&s, "LiveMigratable", "False").await;
    assert_eq!(c["reason"], "CPUModeLiveMigratable");
    assert_eq!(c["message"], "the node \"the-toy-factory\" does not allow migration with host-model");
    let vm_c = wait_for(&s, 60, |s| {
        condition(&s.get(&VMS, Some(NS), VM).ok()?, "LiveMigratable").filter(|c| c["status"] == "False")
    })
    .await;
    assert_eq!(vm_c, c, "the VM mirrors the VMI's condition");
    let err = create_vmim(&s, VM, false).unwrap_err();
    assert_eq!(
        err.message,
        "admission webhook \"migration-create-validator.kubevirt.io\" denied the request: Cannot migrate VMI, Reason: CPUModeLiveMigratable, Message: the node \"the-toy-factory\" does not allow migration with host-model"
    );

    // A named CPU model is fine; then a pod-network binding plugin without migration support is not, until the
    // KubeVirt CR registers it with a migration stanza.
    let mut vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    vmi["spec"]["domain"]["cpu"]["model"] = json!("Skylake-Client-IBRS");
    vmi["spec"]["domain"]["devices"]["interfaces"][0] = json!({"name": "default", "binding": {"name": "passt"}});
    s.update(&VMIS, Some(NS), VM, vmi, UpdateMode::Full, false).unwrap();
    let c = wait_for(&s, 60, |s| {
        let c = condition(&s.get(&VMIS, Some(NS), VM).ok()?, "LiveMigratable")?;
        (c["reason"] == "InterfaceNotLiveMigratable").then_some(c)
    })
    .await;
    assert_eq!(c["reason"], "InterfaceNotLiveMigratable");
    let storage = condition(&s.get(&VMIS, Some(NS), VM).unwrap(), "StorageLiveMigratable").unwrap();
    assert_eq!(storage["reason"], "NotMigratable");
    let mut kv = s.list(&KUBEVIRTS, None).0.remove(0);
    kv["spec"]["configuration"]["network"] = json!({"binding": {"passt": {"sidecarImage": "x", "migration": {}}}});
    s.update(&KUBEVIRTS, Some("cozy-kubevirt"), "kubevirt", kv, UpdateMode::Full, false).unwrap();
    wait_live(&s, "LiveMigratable", "True").await;
    create_vmim(&s, VM, true).unwrap();
}
