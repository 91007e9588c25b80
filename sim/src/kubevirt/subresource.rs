//! virt-api's `PUT /apis/subresources.kubevirt.io/v1/namespaces/{ns}/virtualmachines/{name}/migrate`
//! (`pkg/virt-api/rest/subresource.go` `MigrateVMRequestHandler`, kubevirt.md §7): the VM must exist, its VMI must be
//! Running, then a VMIM `kubevirt-migrate-vm-*` is created through admission; webhook failures come back as 500.

use serde_json::{Value, json};

use super::admission::KubeVirtAdmission;
use crate::api::hooks::{Admission, AdmissionRequest, Operation};
use crate::api::resources::{VMIMS, VMIS, VMS};
use crate::api::{ApiError, Store};

fn vm_error(code: u16, reason: &str, message: String, name: &str) -> ApiError {
    let mut e = ApiError::new(code, reason, message);
    e.details = Some(json!({"name": name, "group": "kubevirt.io", "kind": "virtualmachine"}));
    e
}

/// Whether a `MigrateOptions` body asks for a dry run (`{"dryRun": ["All"]}`).
pub fn is_dry_run(options: &Value) -> bool {
    options.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|x| x == "All"))
}

/// Handles the `migrate` subresource; on success (HTTP 202, empty body) returns the VMIM as created (or as it
/// would have been, for a dry run).
pub fn migrate_vm(store: &Store, ns: &str, vm: &str, options: &Value) -> Result<Value, ApiError> {
    if store.get(&VMS, Some(ns), vm).is_err() {
        return Err(vm_error(404, "NotFound", format!("virtualmachine.kubevirt.io \"{vm}\" not found"), vm));
    }
    let running = store
        .get(&VMIS, Some(ns), vm)
        .is_ok_and(|vmi| vmi.pointer("/status/phase").and_then(Value::as_str) == Some("Running"));
    if !running {
        let msg = format!("Operation cannot be fulfilled on virtualmachine.kubevirt.io \"{vm}\": VM is not running");
        return Err(vm_error(409, "Conflict", msg, vm));
    }
    let dry_run = is_dry_run(options);
    let mut body = json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": "kubevirt-migrate-vm-", "namespace": ns},
        "spec": {"vmiName": vm},
    });
    let req = AdmissionRequest {
        operation: Operation::Create,
        resource: &VMIMS,
        subresource: None,
        namespace: Some(ns),
        name: "",
        old: None,
        dry_run,
        store,
    };
    KubeVirtAdmission.admit(&req, &mut body).and_then(|()| store.create(&VMIMS, Some(ns), body, dry_run)).map_err(|e| {
        let msg = format!("Internal error occurred: {}", e.message);
        let mut internal = ApiError::new(500, "InternalError", msg);
        internal.details = Some(json!({"causes": [{"message": e.message}]}));
        internal
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::NAMESPACES;
    use crate::clock::SimClock;

    fn store(phase: &str) -> Store {
        let s = Store::new(SimClock::default());
        s.create(&NAMESPACES, None, json!({"metadata": {"name": "tenant-root"}}), false).unwrap();
        let vm: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/vm.json")).unwrap();
        s.create(&VMS, Some("tenant-root"), vm, false).unwrap();
        let mut vmi: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/vmi-running.json")).unwrap();
        vmi["status"]["phase"] = json!(phase);
        s.create(&VMIS, Some("tenant-root"), vmi, false).unwrap();
        s
    }

    #[test]
    fn not_running_matches_the_fixture() {
        let s = store("Scheduling");
        let e = migrate_vm(&s, "tenant-root", "vm-instance-haos", &json!({})).unwrap_err();
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../testdata/kubevirt/errors/vm-migrate-subresource-not-running.json"
        ))
        .unwrap();
        assert_eq!(e.to_status(), fixture);
        let e = migrate_vm(&s, "tenant-root", "nope", &json!({})).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (404, "virtualmachine.kubevirt.io \"nope\" not found"));
    }

    #[test]
    fn creates_dry_runs_and_wraps_webhook_denials() {
        let s = store("Running");
        let dry = migrate_vm(&s, "tenant-root", "vm-instance-haos", &json!({"dryRun": ["All"]})).unwrap();
        assert_eq!(dry["metadata"]["labels"]["kubevirt.io/vmi-name"], "vm-instance-haos");
        assert!(s.list(&VMIMS, Some("tenant-root")).0.is_empty());
        let m = migrate_vm(&s, "tenant-root", "vm-instance-haos", &json!({})).unwrap();
        assert!(m["metadata"]["name"].as_str().unwrap().starts_with("kubevirt-migrate-vm-"));
        let e = migrate_vm(&s, "tenant-root", "vm-instance-haos", &json!({})).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
        assert!(e.message.starts_with("Internal error occurred: admission webhook \"migration-create-validator.kubevirt.io\" denied the request: in-flight migration detected."), "{}", e.message);
    }
}
