//! virt-handler's LiveMigratable and StorageLiveMigratable conditions and the migration method (KubeVirt v1.5.2
//! `pkg/virt-handler/vm.go` `calculateLiveMigrationCondition`, `checkVolumesForMigration`), as pure functions of
//! the VMI, its node and the KubeVirt CR.

use serde_json::{Value, json};

/// The pod-network annotation that allows bridge binding to migrate (key presence only).
pub const ALLOW_POD_BRIDGE_ANNOTATION: &str = "kubevirt.io/allow-pod-bridge-network-live-migration";
/// Prefix of the node-labeller's host-model label.
pub const HOST_MODEL_CPU_LABEL: &str = "host-model-cpu.node.kubevirt.io/";

/// A computed condition: `True`, or `False` with a reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub migratable: bool,
    pub reason: String,
    pub message: String,
}

impl Verdict {
    fn pass() -> Self {
        Self { migratable: true, reason: String::new(), message: String::new() }
    }

    fn fail(reason: &str, message: impl Into<String>) -> Self {
        Self { migratable: false, reason: reason.into(), message: message.into() }
    }

    /// The condition as virt-handler writes it: no timestamps.
    pub fn to_condition(&self, kind: &str) -> Value {
        if self.migratable {
            json!({"lastProbeTime": null, "lastTransitionTime": null, "status": "True", "type": kind})
        } else {
            json!({
                "lastProbeTime": null,
                "lastTransitionTime": null,
                "message": self.message,
                "reason": self.reason,
                "status": "False",
                "type": kind,
            })
        }
    }
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The claim name of a PVC or DataVolume volume.
fn claim_name(volume: &Value) -> Option<&str> {
    str_at(volume, "/persistentVolumeClaim/claimName").or_else(|| str_at(volume, "/dataVolume/name"))
}

/// Why a volume is not shared storage, or `None` when it is (PVC/DV with RWX, shared hostDisk).
/// `Some(None)` is "not shared but not an error" (other volume types: block migration, still live migratable).
fn volume_problem(vmi: &Value, volume: &Value) -> Option<Option<String>> {
    let name = volume.get("name").and_then(Value::as_str).unwrap_or_default();
    if let Some(claim) = claim_name(volume) {
        let info = arr(vmi, "/status/volumeStatus")
            .iter()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|s| s.get("persistentVolumeClaimInfo"));
        return match info {
            None => Some(Some(format!(
                "cannot migrate VMI: Unable to determine if PVC {claim} is shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)"
            ))),
            Some(i) if !arr(i, "/accessModes").iter().any(|m| m == "ReadWriteMany") => Some(Some(format!(
                "cannot migrate VMI: PVC {claim} is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)"
            ))),
            Some(_) => None,
        };
    }
    if let Some(hd) = volume.get("hostDisk") {
        return if hd.get("shared").and_then(Value::as_bool) == Some(true) {
            None
        } else {
            Some(Some("cannot migrate VMI with non-shared HostDisk".into()))
        };
    }
    let read_only_cdrom = arr(vmi, "/spec/domain/devices/disks").iter().any(|d| {
        d.get("name").and_then(Value::as_str) == Some(name)
            && d.get("cdrom").is_some_and(|c| c.get("readonly").and_then(Value::as_bool) != Some(false))
    });
    let virtiofs = arr(vmi, "/spec/domain/devices/filesystems")
        .iter()
        .any(|f| f.get("name").and_then(Value::as_str) == Some(name) && f.get("virtiofs").is_some());
    if read_only_cdrom || virtiofs { None } else { Some(None) }
}

/// The first volume error (`DisksNotLiveMigratable`).
fn check_volumes(vmi: &Value) -> Option<String> {
    arr(vmi, "/spec/volumes").iter().find_map(|v| volume_problem(vmi, v).flatten())
}

/// `LiveMigration` or `BlockMigration` (kubevirt.md §3.3).
pub fn migration_method(vmi: &Value) -> &'static str {
    let not_shared = arr(vmi, "/spec/volumes").iter().any(|v| volume_problem(vmi, v).is_some());
    if not_shared || !arr(vmi, "/status/migratedVolumes").is_empty() { "BlockMigration" } else { "LiveMigration" }
}

/// `VerifyVMIMigratable`: the pod network's binding (kubevirt.md §4.2).
fn interface_migratable(vmi: &Value, kubevirt: Option<&Value>) -> bool {
    let ifaces = arr(vmi, "/spec/domain/devices/interfaces");
    if ifaces.is_empty() {
        return true;
    }
    let Some(pod_net) = arr(vmi, "/spec/networks").iter().find(|n| n.get("pod").is_some()) else {
        return true;
    };
    let pod_name = pod_net.get("name").and_then(Value::as_str);
    let Some(iface) = ifaces.iter().find(|i| i.get("name").and_then(Value::as_str) == pod_name) else {
        return true;
    };
    let annotated = vmi.pointer("/metadata/annotations").and_then(|a| a.get(ALLOW_POD_BRIDGE_ANNOTATION)).is_some();
    if annotated && iface.get("bridge").is_some() {
        return true;
    }
    if iface.get("masquerade").is_some() {
        return true;
    }
    str_at(iface, "/binding/name").is_some_and(|plugin| {
        kubevirt
            .and_then(|kv| kv.pointer("/spec/configuration/network/binding"))
            .and_then(|b| b.get(plugin))
            .is_some_and(|reg| reg.get("migration").is_some())
    })
}

/// The VMI's CPU model after defaulting: its own, else the cluster's `cpuModel`, else `host-model`.
fn cpu_model<'a>(vmi: &'a Value, kubevirt: Option<&'a Value>) -> &'a str {
    str_at(vmi, "/spec/domain/cpu/model")
        .or_else(|| kubevirt.and_then(|kv| str_at(kv, "/spec/configuration/cpuModel")))
        .unwrap_or("host-model")
}

fn feature_enabled(f: Option<&Value>) -> bool {
    f.is_some_and(|f| f.get("enabled").and_then(Value::as_bool) != Some(false))
}

/// The checks after the volume check, in v1.5.2 order: (reason, message) of each failure.
fn other_failures(vmi: &Value, node: Option<&Value>, kubevirt: Option<&Value>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !interface_migratable(vmi, kubevirt) {
        out.push((
            "InterfaceNotLiveMigratable",
            format!(
                "cannot migrate VMI which does not use masquerade, bridge with {ALLOW_POD_BRIDGE_ANNOTATION} VM annotation or a migratable plugin to connect to the pod network"
            ),
        ));
    }
    if cpu_model(vmi, kubevirt) == "host-model" {
        let labelled = node
            .and_then(|n| n.pointer("/metadata/labels"))
            .and_then(Value::as_object)
            .is_some_and(|l| l.keys().any(|k| k.starts_with(HOST_MODEL_CPU_LABEL)));
        if !labelled {
            let node_name = str_at(vmi, "/status/nodeName").unwrap_or_default();
            out.push((
                "CPUModeLiveMigratable",
                format!("the node \"{node_name}\" does not allow migration with host-model"),
            ));
        }
    }
    let devices = vmi.pointer("/spec/domain/devices");
    let non_empty = |k: &str| devices.and_then(|d| d.get(k)).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if non_empty("hostDevices") || non_empty("gpus") {
        out.push(("HostDeviceNotLiveMigratable", "VMI uses a PCI host devices".into()));
    }
    if vmi.pointer("/spec/domain/launchSecurity/sev").is_some() {
        out.push(("SEVNotLiveMigratable", "VMI uses SEV".into()));
    }
    let reservation = arr(vmi, "/spec/domain/devices/disks")
        .iter()
        .any(|d| d.pointer("/lun/reservation").and_then(Value::as_bool) == Some(true));
    if reservation {
        // The typo is KubeVirt v1.5's.
        out.push(("PersistentReservationNotLiveMigratable", "VMI uses SCSI persitent reservation".into()));
    }
    let reenlightenment = feature_enabled(vmi.pointer("/spec/domain/features/hyperv/reenlightenment"));
    let tsc = vmi.pointer("/status/topologyHints/tscFrequency").is_some_and(|t| !t.is_null());
    if reenlightenment && !tsc {
        out.push((
            "NoTSCFrequencyNotLiveMigratable",
            "HyperV Reenlightenment VMIs cannot migrate when TSC Frequency is not exposed on the cluster: guest timers might be inconsistent".into(),
        ));
    }
    if vmi.pointer("/spec/domain/features/hypervPassthrough/enabled").and_then(Value::as_bool) == Some(true) {
        out.push(("HypervPassthroughNotLiveMigratable", "VMI uses hyperv passthrough".into()));
    }
    out
}

/// LiveMigratable: the first failing check wins (volumes first in v1.5).
pub fn live_migratable(vmi: &Value, node: Option<&Value>, kubevirt: Option<&Value>) -> Verdict {
    if let Some(msg) = check_volumes(vmi) {
        return Verdict::fail("DisksNotLiveMigratable", msg);
    }
    match other_failures(vmi, node, kubevirt).into_iter().next() {
        Some((reason, msg)) => Verdict::fail(reason, msg),
        None => Verdict::pass(),
    }
}

/// StorageLiveMigratable: every non-volume failure accumulated into one `NotMigratable` condition.
pub fn storage_live_migratable(vmi: &Value, node: Option<&Value>, kubevirt: Option<&Value>) -> Verdict {
    let failures = other_failures(vmi, node, kubevirt);
    if failures.is_empty() {
        return Verdict::pass();
    }
    let msg = failures.iter().map(|(r, m)| format!("{r}: {m}")).collect::<Vec<_>>().join(", ");
    Verdict::fail("NotMigratable", msg)
}

/// Replaces (in place) or appends a condition of `cond["type"]` in a conditions array; returns whether it changed.
pub fn set_condition(conditions: &mut Vec<Value>, cond: Value) -> bool {
    let kind = cond.get("type").cloned();
    match conditions.iter_mut().find(|c| c.get("type") == kind.as_ref()) {
        Some(c) if *c == cond => false,
        Some(c) => {
            *c = cond;
            true
        }
        None => {
            conditions.push(cond);
            true
        }
    }
}

/// Brings a VMI's migratability conditions (and, when LiveMigratable is first added, `migrationMethod`, as
/// v1.5.0–v1.5.2 do) up to date. Returns whether anything changed.
pub fn update_vmi_conditions(vmi: &mut Value, node: Option<&Value>, kubevirt: Option<&Value>) -> bool {
    let live = live_migratable(vmi, node, kubevirt).to_condition("LiveMigratable");
    let storage = storage_live_migratable(vmi, node, kubevirt).to_condition("StorageLiveMigratable");
    let method = migration_method(vmi);
    if !vmi.get("status").is_some_and(Value::is_object) {
        vmi["status"] = json!({});
    }
    let mut conds: Vec<Value> = vmi["status"].get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let first_time = !conds.iter().any(|c| c.get("type").and_then(Value::as_str) == Some("LiveMigratable"));
    let mut changed = set_condition(&mut conds, live);
    changed |= set_condition(&mut conds, storage);
    if changed {
        vmi["status"]["conditions"] = Value::Array(conds);
    }
    if first_time && vmi["status"].get("migrationMethod").and_then(Value::as_str) != Some(method) {
        vmi["status"]["migrationMethod"] = json!(method);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMI: &str = include_str!("../../../testdata/kubevirt/vmi-running.json");
    const NOT_MIGRATABLE: &str = include_str!("../../../testdata/kubevirt/vmi-not-migratable.json");
    const NODES: &str = include_str!("../../../testdata/kubevirt/nodes.json");
    const KV: &str = include_str!("../../../testdata/kubevirt/kubevirt-cr.json");

    fn vmi() -> Value {
        serde_json::from_str(VMI).unwrap()
    }

    fn node(name: &str) -> Value {
        let nodes: Value = serde_json::from_str(NODES).unwrap();
        nodes["items"].as_array().unwrap().iter().find(|n| n["metadata"]["name"] == name).unwrap().clone()
    }

    fn check(vmi: &Value) -> Verdict {
        let kv: Value = serde_json::from_str(KV).unwrap();
        live_migratable(vmi, Some(&node("the-toy-factory")), Some(&kv))
    }

    fn assert_fails(v: &Value, reason: &str, message: &str) {
        let got = check(v);
        assert_eq!((got.migratable, got.reason.as_str(), got.message.as_str()), (false, reason, message));
    }

    #[test]
    fn the_seed_vmi_is_migratable_and_matches_its_fixture_conditions() {
        let v = vmi();
        assert!(check(&v).migratable);
        let mut copy = v.clone();
        let kv: Value = serde_json::from_str(KV).unwrap();
        assert!(!update_vmi_conditions(&mut copy, Some(&node("the-toy-factory")), Some(&kv)), "fixture is up to date");
        assert_eq!(migration_method(&v), "LiveMigration");
    }

    #[test]
    fn rwo_pvc_matches_the_not_migratable_fixture() {
        let fixture: Value = serde_json::from_str(NOT_MIGRATABLE).unwrap();
        let mut v = fixture.clone();
        let kv: Value = serde_json::from_str(KV).unwrap();
        assert!(!update_vmi_conditions(&mut v, Some(&node("the-toy-factory")), Some(&kv)));
        assert_eq!(v, fixture);
        assert_eq!(migration_method(&v), "BlockMigration");
        // RWO blocks LiveMigratable but not StorageLiveMigratable.
        assert!(storage_live_migratable(&v, Some(&node("the-toy-factory")), Some(&kv)).migratable);
    }

    #[test]
    fn missing_pvc_info_and_hostdisk() {
        let mut v = vmi();
        v["status"]["volumeStatus"] = json!([]);
        assert_fails(
            &v,
            "DisksNotLiveMigratable",
            "cannot migrate VMI: Unable to determine if PVC vm-disk-haos is shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)",
        );
        let mut v = vmi();
        v["spec"]["volumes"] = json!([{"name": "h", "hostDisk": {"path": "/d", "type": "Disk"}}]);
        assert_fails(&v, "DisksNotLiveMigratable", "cannot migrate VMI with non-shared HostDisk");
        v["spec"]["volumes"][0]["hostDisk"]["shared"] = json!(true);
        assert!(check(&v).migratable);
        assert_eq!(migration_method(&v), "LiveMigration");
    }

    #[test]
    fn container_disk_is_block_migration_but_live_migratable() {
        let mut v = vmi();
        v["spec"]["volumes"].as_array_mut().unwrap().push(json!({"name": "ci", "cloudInitNoCloud": {"userData": "x"}}));
        assert!(check(&v).migratable);
        assert_eq!(migration_method(&v), "BlockMigration");
        // A read-only CD-ROM does not force block migration.
        v["spec"]["domain"]["devices"]["disks"].as_array_mut().unwrap().push(json!({"name": "ci", "cdrom": {}}));
        assert_eq!(migration_method(&v), "LiveMigration");
    }

    #[test]
    fn pod_network_binding_rules() {
        let msg = "cannot migrate VMI which does not use masquerade, bridge with kubevirt.io/allow-pod-bridge-network-live-migration VM annotation or a migratable plugin to connect to the pod network";
        let mut v = vmi();
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ALLOW_POD_BRIDGE_ANNOTATION);
        assert_fails(&v, "InterfaceNotLiveMigratable", msg);
        v["spec"]["domain"]["devices"]["interfaces"][0] = json!({"name": "default", "masquerade": {}});
        assert!(check(&v).migratable);
        v["spec"]["domain"]["devices"]["interfaces"][0] = json!({"name": "default", "binding": {"name": "passt"}});
        assert_fails(&v, "InterfaceNotLiveMigratable", msg);
        let mut kv: Value = serde_json::from_str(KV).unwrap();
        kv["spec"]["configuration"]["network"] = json!({"binding": {"passt": {"migration": {}}}});
        assert!(live_migratable(&v, Some(&node("the-toy-factory")), Some(&kv)).migratable);
        // No interfaces at all, or no pod network: migratable.
        v["spec"]["domain"]["devices"]["interfaces"] = json!([]);
        assert!(check(&v).migratable);
        let mut v = vmi();
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ALLOW_POD_BRIDGE_ANNOTATION);
        v["spec"]["networks"].as_array_mut().unwrap().remove(0);
        assert!(check(&v).migratable);
    }

    #[test]
    fn host_model_needs_the_host_model_label_on_the_node() {
        let v = vmi();
        let mut n = node("the-toy-factory");
        n["metadata"]["labels"].as_object_mut().unwrap().retain(|k, _| !k.starts_with(HOST_MODEL_CPU_LABEL));
        let got = live_migratable(&v, Some(&n), None);
        assert_eq!(got.reason, "CPUModeLiveMigratable");
        assert_eq!(got.message, "the node \"the-toy-factory\" does not allow migration with host-model");
        let mut named = v.clone();
        named["spec"]["domain"]["cpu"]["model"] = json!("Skylake-Client-IBRS");
        assert!(live_migratable(&named, Some(&n), None).migratable);
    }

    #[test]
    fn devices_sev_reservation_hyperv() {
        let mut v = vmi();
        v["spec"]["domain"]["devices"]["gpus"] = json!([{"name": "g", "deviceName": "nvidia.com/A100"}]);
        assert_fails(&v, "HostDeviceNotLiveMigratable", "VMI uses a PCI host devices");
        let mut v = vmi();
        v["spec"]["domain"]["devices"]["hostDevices"] = json!([{"name": "h", "deviceName": "x"}]);
        assert_fails(&v, "HostDeviceNotLiveMigratable", "VMI uses a PCI host devices");
        let mut v = vmi();
        v["spec"]["domain"]["launchSecurity"] = json!({"sev": {}});
        assert_fails(&v, "SEVNotLiveMigratable", "VMI uses SEV");
        let mut v = vmi();
        v["spec"]["domain"]["devices"]["disks"][0] = json!({"name": "disk-haos", "lun": {"reservation": true}});
        assert_fails(&v, "PersistentReservationNotLiveMigratable", "VMI uses SCSI persitent reservation");
        let mut v = vmi();
        v["spec"]["domain"]["features"]["hyperv"] = json!({"reenlightenment": {}});
        assert_fails(
            &v,
            "NoTSCFrequencyNotLiveMigratable",
            "HyperV Reenlightenment VMIs cannot migrate when TSC Frequency is not exposed on the cluster: guest timers might be inconsistent",
        );
        v["status"]["topologyHints"] = json!({"tscFrequency": 2_419_200_000u64});
        assert!(check(&v).migratable);
        v["spec"]["domain"]["features"]["hyperv"]["reenlightenment"]["enabled"] = json!(false);
        v["status"].as_object_mut().unwrap().remove("topologyHints");
        assert!(check(&v).migratable);
        let mut v = vmi();
        v["spec"]["domain"]["features"]["hypervPassthrough"] = json!({"enabled": true});
        assert_fails(&v, "HypervPassthroughNotLiveMigratable", "VMI uses hyperv passthrough");
    }

    #[test]
    fn first_failure_wins_and_storage_condition_accumulates() {
        let mut v: Value = serde_json::from_str(NOT_MIGRATABLE).unwrap();
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ALLOW_POD_BRIDGE_ANNOTATION);
        v["spec"]["domain"]["launchSecurity"] = json!({"sev": {}});
        assert_eq!(check(&v).reason, "DisksNotLiveMigratable");
        v["status"]["volumeStatus"][0]["persistentVolumeClaimInfo"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(check(&v).reason, "InterfaceNotLiveMigratable");
        let s = storage_live_migratable(&v, Some(&node("the-toy-factory")), None);
        assert_eq!(s.reason, "NotMigratable");
        assert!(s.message.starts_with("InterfaceNotLiveMigratable: cannot migrate VMI which"), "{}", s.message);
        assert!(s.message.ends_with(", SEVNotLiveMigratable: VMI uses SEV"), "{}", s.message);
    }

    #[test]
    fn conditions_are_written_in_place_and_method_only_first_time() {
        let mut v = vmi();
        v["spec"]["domain"]["launchSecurity"] = json!({"sev": {}});
        assert!(update_vmi_conditions(&mut v, Some(&node("the-toy-factory")), None));
        let conds = v["status"]["conditions"].as_array().unwrap();
        assert_eq!(conds[1]["type"], "LiveMigratable");
        assert_eq!(conds[1]["reason"], "SEVNotLiveMigratable");
        assert!(conds[1]["lastTransitionTime"].is_null());
        // Not first time: method untouched.
        v["spec"]["volumes"].as_array_mut().unwrap().push(json!({"name": "c", "containerDisk": {"image": "x"}}));
        update_vmi_conditions(&mut v, Some(&node("the-toy-factory")), None);
        assert_eq!(v["status"]["migrationMethod"], "LiveMigration");
        let mut fresh = vmi();
        fresh["status"].as_object_mut().unwrap().remove("conditions");
        fresh["spec"]["volumes"].as_array_mut().unwrap().push(json!({"name": "c", "containerDisk": {"image": "x"}}));
        assert!(update_vmi_conditions(&mut fresh, Some(&node("the-toy-factory")), None));
        assert_eq!(fresh["status"]["migrationMethod"], "BlockMigration");
    }
}
