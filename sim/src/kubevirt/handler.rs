//! virt-handler's migratability sync: keeps each VMI's LiveMigratable / StorageLiveMigratable conditions (and
//! `migrationMethod`) up to date, and the VM controller mirrors them into the owning VM's status.

use serde_json::Value;

use super::migratable::{self, set_condition};
use super::objects::{self, meta};
use crate::api::resources::{KUBEVIRTS, NODES, VMIS, VMS};
use crate::api::{ApiError, Store};

/// The cluster's KubeVirt CR (the first one).
pub fn kubevirt_cr(store: &Store) -> Option<Value> {
    store.list(&KUBEVIRTS, None).0.into_iter().next()
}

/// Syncs one VMI (a no-op for VMIs that are not on a node or are final).
pub fn sync_vmi(store: &Store, ns: &str, name: &str, kubevirt: Option<&Value>) -> Result<(), ApiError> {
    let vmi = match store.get(&VMIS, Some(ns), name) {
        Ok(v) => v,
        Err(e) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e),
    };
    let node_name = vmi.pointer("/status/nodeName").and_then(Value::as_str).unwrap_or_default().to_string();
    let phase = vmi.pointer("/status/phase").and_then(Value::as_str);
    if node_name.is_empty() || matches!(phase, Some("Succeeded") | Some("Failed")) {
        return Ok(());
    }
    let node = store.get(&NODES, None, &node_name).ok();
    let vmi = objects::update(store, &VMIS, Some(ns), name, |v| {
        migratable::update_vmi_conditions(v, node.as_ref(), kubevirt)
    })?;
    mirror_to_vm(store, &vmi)
}

/// Copies the VMI's migratability conditions into its VM's `status.conditions`, and sets the VM's
/// `printableStatus` to `Migrating` while a migration runs (back to `Running` after it).
fn mirror_to_vm(store: &Store, vmi: &Value) -> Result<(), ApiError> {
    let ns = meta(vmi, "namespace");
    let owner = vmi
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|o| o.iter().find(|r| r["kind"] == "VirtualMachine"))
        .and_then(|r| r["name"].as_str())
        .unwrap_or(meta(vmi, "name"))
        .to_string();
    let conds: Vec<Value> = vmi
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter(|c| matches!(c["type"].as_str(), Some("LiveMigratable") | Some("StorageLiveMigratable")))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // `isVirtualMachineStatusMigrating`: started and not yet ended.
    let ms = vmi.pointer("/status/migrationState");
    let migrating = ms.and_then(|m| m.get("startTimestamp")).is_some_and(|t| !t.is_null())
        && ms.and_then(|m| m.get("endTimestamp")).is_none_or(Value::is_null);
    match objects::update(store, &VMS, Some(ns), &owner, |vm| {
        if !vm.get("status").is_some_and(Value::is_object) {
            vm["status"] = serde_json::json!({});
        }
        let mut current: Vec<Value> =
            vm["status"].get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut changed = false;
        let printable = vm["status"].get("printableStatus").and_then(Value::as_str).unwrap_or_default();
        let wanted = match (migrating, printable) {
            (true, p) if p != "Migrating" => Some("Migrating"),
            (false, "Migrating") => Some("Running"),
            _ => None,
        };
        if let Some(w) = wanted {
            vm["status"]["printableStatus"] = serde_json::json!(w);
            changed = true;
        }
        for c in &conds {
            changed |= set_condition(&mut current, c.clone());
        }
        if changed {
            vm["status"]["conditions"] = Value::Array(current);
        }
        changed
    }) {
        Err(e) if e.code == 404 => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Syncs every VMI (after a node or KubeVirt CR change).
pub fn sync_all(store: &Store) {
    let kv = kubevirt_cr(store);
    for vmi in store.list(&VMIS, None).0 {
        if let Err(e) = sync_vmi(store, meta(&vmi, "namespace"), meta(&vmi, "name"), kv.as_ref()) {
            tracing::warn!(%e, vmi = meta(&vmi, "name"), "virt-handler sync failed");
        }
    }
}
