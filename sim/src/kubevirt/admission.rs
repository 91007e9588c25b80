//! KubeVirt's admission for VirtualMachineInstanceMigrations: the v1.5 CRD's structural pruning, the mutating
//! webhook `migrations-mutator.kubevirt.io` and the validating webhooks `migration-create-validator.kubevirt.io` /
//! `migration-update-validator.kubevirt.io` (kubevirt.md §2.1, §2.2, §7). Everything else passes unchanged.

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::api::hooks::{Admission, AdmissionRequest, Operation};
use crate::api::resources::{VMIMS, VMIS};

pub const VMI_NAME_LABEL: &str = "kubevirt.io/vmi-name";
pub const MIGRATION_FINALIZER: &str = "kubevirt.io/migrationJobFinalize";
const CREATE_VALIDATOR: &str = "migration-create-validator.kubevirt.io";
const UPDATE_VALIDATOR: &str = "migration-update-validator.kubevirt.io";

/// KubeVirt's webhooks.
#[derive(Clone, Copy, Debug, Default)]
pub struct KubeVirtAdmission;

/// A webhook denial from an error (`ToAdmissionResponseError`): 400, no reason.
fn denied(webhook: &str, msg: &str) -> ApiError {
    ApiError::new(400, "", format!("admission webhook \"{webhook}\" denied the request: {msg}"))
}

/// A webhook denial from status causes (`ToAdmissionResponse`): 422 Invalid with the causes as details.
fn denied_causes(webhook: &str, causes: &[(&str, &str, Option<&str>)]) -> ApiError {
    let msg = causes.iter().map(|(_, m, _)| *m).collect::<Vec<_>>().join(", ");
    let mut e = ApiError::new(422, "Invalid", format!("admission webhook \"{webhook}\" denied the request: {msg}"));
    let causes: Vec<Value> = causes
        .iter()
        .map(|(reason, message, field)| {
            let mut c = json!({"reason": reason, "message": message});
            if let Some(f) = field {
                c["field"] = json!(f);
            }
            c
        })
        .collect();
    e.details = Some(json!({ "causes": causes }));
    e
}

/// Structural pruning by the v1.5 CRD schema: only `spec.vmiName` exists in the spec (v1.6+ fields such as
/// `addedNodeSelector` disappear silently), and only the known top-level and status fields are kept.
pub fn prune_vmim(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        m.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "spec" | "status"));
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.retain(|k, _| k == "vmiName");
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        status.retain(|k, _| {
            matches!(k.as_str(), "phase" | "phaseTransitionTimestamps" | "conditions" | "migrationState")
        });
    }
}

/// The JSON type name the API server reports in schema errors.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The CRD's OpenAPI schema: `spec` an object, `spec.vmiName` a string (422 like the API server's validation).
pub fn validate_schema(name: &str, obj: &Value) -> Result<(), ApiError> {
    let checks = [("spec", obj.get("spec"), "object"), ("spec.vmiName", obj.pointer("/spec/vmiName"), "string")];
    for (field, value, want) in checks {
        if let Some(v) = value.filter(|v| json_type(v) != want) {
            let got = json_type(v);
            let msg = format!("Invalid value: \"{got}\": {field} in body must be of type {want}: \"{got}\"");
            let mut e = ApiError::invalid(&VMIMS, VMIMS.kind, name, &[(field, &msg)]);
            if let Some(c) = e.details.as_mut().and_then(|d| d.pointer_mut("/causes/0")) {
                c["reason"] = json!("FieldValueTypeInvalid");
            }
            return Err(e);
        }
    }
    Ok(())
}

/// The mutating webhook: label `kubevirt.io/vmi-name` and the finalizer.
fn mutate_create(obj: &mut Value) {
    let vmi = obj.pointer("/spec/vmiName").and_then(Value::as_str).unwrap_or_default().to_string();
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let meta = &mut obj["metadata"];
    if !meta.get("labels").is_some_and(Value::is_object) {
        meta["labels"] = json!({});
    }
    meta["labels"][VMI_NAME_LABEL] = json!(vmi);
    if !meta.get("finalizers").is_some_and(Value::is_array) {
        meta["finalizers"] = json!([]);
    }
    if let Some(f) = meta["finalizers"].as_array_mut()
        && !f.iter().any(|x| x == MIGRATION_FINALIZER)
    {
        f.push(json!(MIGRATION_FINALIZER));
    }
}

pub fn is_final_phase(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded") | Some("Failed"))
}

fn phase(obj: &Value) -> Option<&str> {
    obj.pointer("/status/phase").and_then(Value::as_str)
}

fn validate_create(req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
    let vmi_name = obj.pointer("/spec/vmiName").and_then(Value::as_str).unwrap_or_default();
    if vmi_name.is_empty() {
        return Err(denied_causes(
            CREATE_VALIDATOR,
            &[("FieldValueInvalid", "vmiName is missing", Some("spec.vmiName"))],
        ));
    }
    let ns = req.namespace.unwrap_or_default();
    let Ok(vmi) = req.store.get(&VMIS, req.namespace, vmi_name) else {
        return Err(denied(CREATE_VALIDATOR, &format!("the VMI \"{ns}/{vmi_name}\" does not exist")));
    };
    if is_final_phase(phase(&vmi)) {
        return Err(denied(CREATE_VALIDATOR, "Cannot migrate VMI in finalized state."));
    }
    let not_migratable = vmi
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "LiveMigratable" && c["status"] == "False"));
    if let Some(c) = not_migratable {
        let reason = c.get("reason").and_then(Value::as_str).unwrap_or_default();
        let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
        return Err(denied(CREATE_VALIDATOR, &format!("Cannot migrate VMI, Reason: {reason}, Message: {message}")));
    }
    let (vmims, _) = req.store.list(&VMIMS, req.namespace);
    let in_flight = vmims.iter().find(|m| {
        m.pointer(&format!("/metadata/labels/{}", VMI_NAME_LABEL.replace('/', "~1"))).and_then(Value::as_str)
            == Some(vmi_name)
            && !is_final_phase(phase(m))
    });
    if let Some(m) = in_flight {
        let uid = m.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
        return Err(denied(
            CREATE_VALIDATOR,
            &format!(
                "in-flight migration detected. Active migration job ({uid}) is currently already in progress for VMI {vmi_name}."
            ),
        ));
    }
    Ok(())
}

fn validate_update(old: &Value, new: &Value) -> Result<(), ApiError> {
    if old.get("spec") != new.get("spec") {
        let m = "update of Migration object's spec is restricted";
        return Err(denied_causes(UPDATE_VALIDATOR, &[("FieldValueNotSupported", m, None)]));
    }
    let label = |o: &Value| o.pointer("/metadata/labels").and_then(|l| l.get(VMI_NAME_LABEL)).cloned();
    if !is_final_phase(phase(old))
        && let Some(old_label) = label(old)
    {
        match label(new) {
            None => {
                let m = "selector label can't be removed from an in-flight migration";
                return Err(denied_causes(UPDATE_VALIDATOR, &[("FieldValueNotSupported", m, None)]));
            }
            Some(l) if l != old_label => {
                let m = "selector label can't be modified on an in-flight migration";
                return Err(denied_causes(UPDATE_VALIDATOR, &[("FieldValueNotSupported", m, None)]));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

impl Admission for KubeVirtAdmission {
    fn admit(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if req.resource != &VMIMS || req.operation == Operation::Delete {
            return Ok(());
        }
        prune_vmim(obj);
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(req.name).to_string();
        validate_schema(&name, obj)?;
        match (req.operation, req.subresource) {
            (Operation::Create, None) => {
                mutate_create(obj);
                validate_create(req, obj)
            }
            (Operation::Update, None) => match req.old {
                Some(old) => validate_update(old, obj),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Store;
    use crate::api::resources::NAMESPACES;
    use crate::clock::SimClock;

    fn fixture_message(file: &str) -> String {
        let path = format!("{}/../testdata/kubevirt/errors/{file}", env!("CARGO_MANIFEST_DIR"));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["message"].as_str().unwrap().to_string()
    }

    fn store_with_vmi(vmi: Option<Value>) -> Store {
        let s = Store::new(SimClock::default());
        s.create(&NAMESPACES, None, json!({"metadata": {"name": "tenant-root"}}), false).unwrap();
        if let Some(v) = vmi {
            s.create(&VMIS, Some("tenant-root"), v, false).unwrap();
        }
        s
    }

    fn vmi() -> Value {
        serde_json::from_str(include_str!("../../../testdata/kubevirt/vmi-running.json")).unwrap()
    }

    fn admit(s: &Store, op: Operation, old: Option<&Value>, obj: &mut Value) -> Result<(), ApiError> {
        let req = AdmissionRequest {
            operation: op,
            resource: &VMIMS,
            subresource: None,
            namespace: Some("tenant-root"),
            name: "",
            old,
            dry_run: false,
            store: s,
        };
        KubeVirtAdmission.admit(&req, obj)
    }

    fn body() -> Value {
        json!({"metadata": {"generateName": "kubevirt-migrate-vm-"}, "spec": {"vmiName": "vm-instance-haos"}})
    }

    #[test]
    fn create_is_mutated_and_pruned() {
        let s = store_with_vmi(Some(vmi()));
        let mut b = body();
        b["spec"]["addedNodeSelector"] = json!({"kubernetes.io/hostname": "the-dome"});
        b["bogus"] = json!(1);
        admit(&s, Operation::Create, None, &mut b).unwrap();
        assert_eq!(b["metadata"]["labels"][VMI_NAME_LABEL], "vm-instance-haos");
        assert_eq!(b["metadata"]["finalizers"], json!([MIGRATION_FINALIZER]));
        assert_eq!(b["spec"], json!({"vmiName": "vm-instance-haos"}));
        assert!(b.get("bogus").is_none());
    }

    #[test]
    fn schema_types_are_validated_first() {
        let s = store_with_vmi(None);
        let mut b = json!({"metadata": {"name": "m"}, "spec": {"vmiName": 3}});
        let e = admit(&s, Operation::Create, None, &mut b).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
        assert_eq!(
            e.message,
            "VirtualMachineInstanceMigration.kubevirt.io \"m\" is invalid: spec.vmiName: Invalid value: \"integer\": spec.vmiName in body must be of type string: \"integer\""
        );
        assert_eq!(e.details.unwrap()["causes"][0]["reason"], "FieldValueTypeInvalid");
    }

    #[test]
    fn vmi_name_missing_is_invalid() {
        let s = store_with_vmi(None);
        let mut b = json!({"metadata": {"name": "m"}, "spec": {}});
        let e = admit(&s, Operation::Create, None, &mut b).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
        assert_eq!(
            e.message,
            "admission webhook \"migration-create-validator.kubevirt.io\" denied the request: vmiName is missing"
        );
        assert_eq!(e.details.unwrap()["causes"][0]["field"], "spec.vmiName");
    }

    #[test]
    fn denials_match_the_fixtures() {
        let s = store_with_vmi(None);
        let e = admit(&s, Operation::Create, None, &mut body()).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (400, ""));
        assert_eq!(e.message, fixture_message("vmim-create-vmi-missing.json"));

        let mut final_vmi = vmi();
        final_vmi["status"]["phase"] = json!("Succeeded");
        let s = store_with_vmi(Some(final_vmi));
        let e = admit(&s, Operation::Create, None, &mut body()).unwrap_err();
        assert_eq!(e.message, fixture_message("vmim-create-vmi-final.json"));

        let rwo: Value =
            serde_json::from_str(include_str!("../../../testdata/kubevirt/vmi-not-migratable.json")).unwrap();
        let s = store_with_vmi(Some(rwo));
        let e = admit(&s, Operation::Create, None, &mut body()).unwrap_err();
        assert_eq!(e.message, fixture_message("vmim-create-not-migratable.json"));

        let mut iface = vmi();
        iface["status"]["conditions"][1] = json!({"lastProbeTime": null, "lastTransitionTime": null, "status": "False", "type": "LiveMigratable", "reason": "InterfaceNotLiveMigratable", "message": "cannot migrate VMI which does not use masquerade, bridge with kubevirt.io/allow-pod-bridge-network-live-migration VM annotation or a migratable plugin to connect to the pod network"});
        let s = store_with_vmi(Some(iface));
        let e = admit(&s, Operation::Create, None, &mut body()).unwrap_err();
        assert_eq!(e.message, fixture_message("vmim-create-interface-not-migratable.json"));
    }

    #[test]
    fn in_flight_migration_is_denied_until_final() {
        let s = store_with_vmi(Some(vmi()));
        let mut first = body();
        admit(&s, Operation::Create, None, &mut first).unwrap();
        let mut first: Value =
            serde_json::from_str(include_str!("../../../testdata/kubevirt/vmim-created.json")).unwrap();
        first["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        let created = s.create(&VMIMS, Some("tenant-root"), first, false).unwrap();
        let e = admit(&s, Operation::Create, None, &mut body()).unwrap_err();
        let uid = created["metadata"]["uid"].as_str().unwrap();
        let expected =
            fixture_message("vmim-create-inflight.json").replace("9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a", uid);
        assert_eq!(e.message, expected);
        s.modify(&VMIMS, Some("tenant-root"), "kubevirt-migrate-vm-8k4tn", |o| {
            o["status"] = json!({"phase": "Succeeded"});
            Ok(())
        })
        .unwrap();
        admit(&s, Operation::Create, None, &mut body()).unwrap();
    }

    #[test]
    fn update_rules() {
        let s = store_with_vmi(Some(vmi()));
        let old: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/vmim-running.json")).unwrap();
        let mut new = old.clone();
        new["spec"]["vmiName"] = json!("other");
        let e = admit(&s, Operation::Update, Some(&old), &mut new).unwrap_err();
        let fixture: Value =
            serde_json::from_str(include_str!("../../../testdata/kubevirt/errors/vmim-update-spec.json")).unwrap();
        assert_eq!(e.to_status(), fixture);
        let mut new = old.clone();
        new["metadata"]["labels"].as_object_mut().unwrap().clear();
        let e = admit(&s, Operation::Update, Some(&old), &mut new).unwrap_err();
        assert!(e.message.ends_with("selector label can't be removed from an in-flight migration"), "{}", e.message);
        let mut new = old.clone();
        new["metadata"]["labels"][VMI_NAME_LABEL] = json!("x");
        let e = admit(&s, Operation::Update, Some(&old), &mut new).unwrap_err();
        assert!(e.message.ends_with("selector label can't be modified on an in-flight migration"));
        // Pruned fields do not count as spec changes; annotations may change.
        let mut new = old.clone();
        new["spec"]["addedNodeSelector"] = json!({"a": "b"});
        new["metadata"]["annotations"]["x"] = json!("y");
        admit(&s, Operation::Update, Some(&old), &mut new).unwrap();
        // A final migration's label may go.
        let mut done = old.clone();
        done["status"]["phase"] = json!("Succeeded");
        let mut new = done.clone();
        new["metadata"]["labels"].as_object_mut().unwrap().clear();
        admit(&s, Operation::Update, Some(&done), &mut new).unwrap();
    }
}
