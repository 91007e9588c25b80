//! virt-launcher pods: the migration target pod as virt-controller renders it (`createTargetPod`,
//! `prepareNodeSelectorForHostCpuModel`), its life as the kubelet reports it, and the `compute` container's JSON
//! log records.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub const CREATED_BY_LABEL: &str = "kubevirt.io/created-by";
pub const NODE_NAME_LABEL: &str = "kubevirt.io/nodeName";
pub const MIGRATION_JOB_UID_LABEL: &str = "kubevirt.io/migrationJobUID";
pub const MIGRATION_JOB_NAME_ANNOTATION: &str = "kubevirt.io/migrationJobName";
pub const TARGET_READY_ANNOTATION: &str = "kubevirt.io/migration-target-ready-timestamp";
const HOST_MODEL_CPU: &str = "host-model-cpu.node.kubevirt.io/";
const HOST_MODEL_FEATURE: &str = "host-model-required-features.node.kubevirt.io/";
const CPU_MODEL_MIGRATION: &str = "cpu-model-migration.node.kubevirt.io/";
const CPU_FEATURE: &str = "cpu-feature.node.kubevirt.io/";
const MACHINE_TYPE: &str = "machine-type.node.kubevirt.io/";

fn labels(obj: &Value) -> Map<String, Value> {
    obj.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The host-model node selectors of a first migration: the source host model and its required features.
pub fn host_model_selectors(source_node: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for key in labels(source_node).keys() {
        if let Some(model) = key.strip_prefix(HOST_MODEL_CPU) {
            out.insert(format!("{CPU_MODEL_MIGRATION}{model}"), json!("true"));
        } else if let Some(f) = key.strip_prefix(HOST_MODEL_FEATURE) {
            out.insert(format!("{CPU_FEATURE}{f}"), json!("true"));
        }
    }
    out
}

/// The target pod for a migration, rendered from the source pod: no name (generateName), the VMIM's label and
/// annotation, the VMI's current machine type and node selector, host-model selectors from the source node (or
/// copied from the source pod on later migrations), and anti-affinity against the VMI's pods.
pub fn render_target_pod(source_pod: &Value, vmi: &Value, source_node: Option<&Value>, vmim: &Value) -> Value {
    let vmi_name = vmi.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let vmi_uid = vmi.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let mut pod = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": source_pod.get("metadata").cloned().unwrap_or(json!({})),
        "spec": source_pod.get("spec").cloned().unwrap_or(json!({})),
    });
    let meta = &mut pod["metadata"];
    if let Some(m) = meta.as_object_mut() {
        for f in ["name", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "managedFields"] {
            m.remove(f);
        }
    }
    if meta.get("generateName").and_then(Value::as_str).is_none_or(str::is_empty) {
        meta["generateName"] = json!(format!("virt-launcher-{vmi_name}-"));
    }
    let mut l = labels(&pod);
    l.remove(NODE_NAME_LABEL);
    l.insert(MIGRATION_JOB_UID_LABEL.into(), vmim.pointer("/metadata/uid").cloned().unwrap_or(Value::Null));
    pod["metadata"]["labels"] = Value::Object(l);
    if !pod["metadata"].get("annotations").is_some_and(Value::is_object) {
        pod["metadata"]["annotations"] = json!({});
    }
    pod["metadata"]["annotations"][MIGRATION_JOB_NAME_ANNOTATION] =
        vmim.pointer("/metadata/name").cloned().unwrap_or(Value::Null);

    let spec = &mut pod["spec"];
    if let Some(m) = spec.as_object_mut() {
        m.remove("nodeName");
    }
    let mut selector: Map<String, Value> =
        spec.get("nodeSelector").and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(machine) = vmi.pointer("/status/machine/type").and_then(Value::as_str) {
        selector.retain(|k, _| !k.starts_with(MACHINE_TYPE));
        selector.insert(format!("{MACHINE_TYPE}{machine}"), json!("true"));
    }
    let host_model = vmi.pointer("/spec/domain/cpu/model").and_then(Value::as_str).is_none_or(|m| m == "host-model");
    let has_host_model_selector = selector.keys().any(|k| k.starts_with(CPU_MODEL_MIGRATION));
    if host_model && !has_host_model_selector {
        selector.extend(source_node.map(host_model_selectors).unwrap_or_default());
    }
    if let Some(vmi_sel) = vmi.pointer("/spec/nodeSelector").and_then(Value::as_object) {
        selector.extend(vmi_sel.clone());
    }
    spec["nodeSelector"] = Value::Object(selector);
    let term = json!({
        "labelSelector": {"matchLabels": {CREATED_BY_LABEL: vmi_uid}},
        "topologyKey": "kubernetes.io/hostname",
    });
    if !spec.get("affinity").is_some_and(Value::is_object) {
        spec["affinity"] = json!({});
    }
    let anti = &mut spec["affinity"]["podAntiAffinity"];
    if !anti.is_object() {
        *anti = json!({});
    }
    match anti.get_mut("requiredDuringSchedulingIgnoredDuringExecution").and_then(Value::as_array_mut) {
        Some(terms) if terms.contains(&term) => {}
        Some(terms) => terms.push(term),
        None => anti["requiredDuringSchedulingIgnoredDuringExecution"] = json!([term]),
    }
    // `containerStatuses` is present (empty) from the start: the sim's generic kubelet leaves pods that have it to
    // their controller, so KubeVirt alone schedules and runs its launcher pods.
    pod["status"] = json!({
        "phase": "Pending",
        "qosClass": source_pod.pointer("/status/qosClass").cloned().unwrap_or(json!("Burstable")),
        "containerStatuses": [],
    });
    pod
}

fn condition(kind: &str, status: &str, now: &str) -> Value {
    json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now})
}

/// The scheduler could not place the pod.
pub fn mark_unschedulable(pod: &mut Value, message: &str, now: &str) {
    pod["status"]["phase"] = json!("Pending");
    pod["status"]["conditions"] = json!([{
        "type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
        "reason": "Unschedulable", "message": message,
    }]);
}

/// The scheduler bound the pod to `node`.
pub fn bind(pod: &mut Value, node: &Value, now: &str) {
    let name = node.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
    pod["spec"]["nodeName"] = name.clone();
    pod["metadata"]["labels"][NODE_NAME_LABEL] = name;
    let host_ip = node_internal_ip(node).unwrap_or_default();
    let waiting: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({"name": c["name"], "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
                           "ready": false, "restartCount": 0, "image": c["image"], "imageID": "", "started": false})
                })
                .collect()
        })
        .unwrap_or_default();
    pod["status"] = json!({
        "phase": "Pending",
        "conditions": [condition("PodScheduled", "True", now)],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": now,
        "containerStatuses": waiting,
        "qosClass": pod.pointer("/status/qosClass").cloned().unwrap_or(json!("Burstable")),
    });
}

/// The kubelet started the `compute` container: pod Running, not Ready (the readiness gate is set only on the
/// VMI's current pod).
pub fn start(pod: &mut Value, pod_ip: &str, now: &str) {
    let st = &mut pod["status"];
    st["phase"] = json!("Running");
    st["conditions"] = json!([
        condition("PodReadyToStartContainers", "True", now),
        condition("Initialized", "True", now),
        {
            "type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
            "reason": "ReadinessGatesNotReady",
            "message": "corresponding condition of pod readiness gate \"kubevirt.io/virtual-machine-unpaused\" does not exist.",
        },
        condition("ContainersReady", "True", now),
        condition("PodScheduled", "True", now),
    ]);
    st["podIP"] = json!(pod_ip);
    st["podIPs"] = json!([{"ip": pod_ip}]);
    st["startTime"] = json!(now);
    let image = pod.pointer("/spec/containers/0/image").cloned().unwrap_or(Value::Null);
    pod["status"]["containerStatuses"] = json!([{
        "name": "compute",
        "state": {"running": {"startedAt": now}},
        "lastState": {},
        "ready": true,
        "restartCount": 0,
        "image": image,
        "imageID": "",
        "started": true,
    }]);
}

/// The pod became the VMI's current pod: readiness gate and Ready true.
pub fn mark_ready(pod: &mut Value, now: &str) {
    let mut conds: Vec<Value> =
        pod.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    conds.retain(|c| c["type"] != "Ready" && c["type"] != "kubevirt.io/virtual-machine-unpaused");
    conds.insert(
        0,
        json!({"type": "kubevirt.io/virtual-machine-unpaused", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "NotPaused", "message": "the virtual machine is not paused"}),
    );
    conds.push(condition("Ready", "True", now));
    pod["status"]["conditions"] = Value::Array(conds);
}

/// The `compute` container exited after the guest left: pod Succeeded.
pub fn terminate(pod: &mut Value, now: &str) {
    pod["status"]["phase"] = json!("Succeeded");
    if let Some(cs) = pod.pointer_mut("/status/containerStatuses/0") {
        let started = cs.pointer("/state/running/startedAt").cloned().unwrap_or(Value::Null);
        cs["state"] =
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now}});
        cs["ready"] = json!(false);
        cs["started"] = json!(false);
    }
    if let Some(conds) = pod.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
        for c in conds.iter_mut().filter(|c| c["type"] == "Ready" || c["type"] == "ContainersReady") {
            c["status"] = json!("False");
            c["lastTransitionTime"] = json!(now);
            c["reason"] = json!("PodCompleted");
        }
    }
}

/// A node's InternalIP.
pub fn node_internal_ip(node: &Value) -> Option<String> {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| a["address"].as_str())
        .map(str::to_string)
}

/// A new pod IP inside a node's pod CIDR (IPv4 /24-style), avoiding `avoid`.
pub fn pod_ip_on(node: &Value, avoid: &str) -> Option<String> {
    let cidr = node.pointer("/spec/podCIDR").and_then(Value::as_str)?;
    let base = cidr.split('/').next()?;
    let mut octets: Vec<u8> = base.split('.').map(|o| o.parse().ok()).collect::<Option<_>>()?;
    if octets.len() != 4 {
        return None;
    }
    let seed = uuid::Uuid::new_v4().as_bytes()[0];
    for i in 0..250u16 {
        octets[3] = 2 + ((u16::from(seed) + i) % 250) as u8;
        let ip = octets.iter().map(u8::to_string).collect::<Vec<_>>().join(".");
        if ip != avoid {
            return Some(ip);
        }
    }
    None
}

/// Go's `time.Time.String()` of a UTC instant, as the target-ready annotation carries it.
pub fn go_time_string(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// One JSON log record of virt-launcher (KubeVirt's logger: keys sorted, microsecond timestamps).
pub fn log_record(level: &str, msg: &str, pos: &str, at: Timestamp, vmi: &Value) -> String {
    let meta = |k: &str| vmi.pointer(&format!("/metadata/{k}")).cloned().unwrap_or(json!(""));
    let record = json!({
        "component": "virt-launcher",
        "kind": "",
        "level": level,
        "msg": msg,
        "name": meta("name"),
        "namespace": meta("namespace"),
        "pos": pos,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "uid": meta("uid"),
    });
    record.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../testdata/kubevirt/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn target_pod_matches_the_fixture_selectors_and_affinity() {
        let source = fixture("virt-launcher-pod.json");
        let vmi = fixture("vmi-running.json");
        let vmim = fixture("vmim-created.json");
        let nodes = fixture("nodes.json");
        let toy = nodes["items"].as_array().unwrap().iter().find(|n| n["metadata"]["name"] == "the-toy-factory");
        let pod = render_target_pod(&source, &vmi, toy, &vmim);
        let expected = fixture("virt-launcher-pod-target.json");
        assert_eq!(pod["spec"]["nodeSelector"], expected["spec"]["nodeSelector"]);
        assert_eq!(pod["spec"]["affinity"], expected["spec"]["affinity"]);
        assert_eq!(
            pod["metadata"]["labels"][MIGRATION_JOB_UID_LABEL],
            expected["metadata"]["labels"][MIGRATION_JOB_UID_LABEL]
        );
        assert_eq!(pod["metadata"]["annotations"][MIGRATION_JOB_NAME_ANNOTATION], "kubevirt-migrate-vm-8k4tn");
        assert_eq!(pod["metadata"]["generateName"], "virt-launcher-vm-instance-haos-");
        assert!(pod["metadata"].get("name").is_none() && pod["spec"].get("nodeName").is_none());
        assert!(pod["metadata"]["labels"].get(NODE_NAME_LABEL).is_none());
        // A later migration copies the selectors from its source pod instead of re-reading the node.
        let again = render_target_pod(&expected, &vmi, None, &vmim);
        assert_eq!(again["spec"]["nodeSelector"], expected["spec"]["nodeSelector"]);
        assert_eq!(again["spec"]["affinity"], expected["spec"]["affinity"], "no duplicate anti-affinity term");
    }

    #[test]
    fn lifecycle_and_log_record() {
        let nodes = fixture("nodes.json");
        let dome = &nodes["items"][2];
        let mut pod = json!({"metadata": {"labels": {}}, "spec": {"containers": [{"name": "compute", "image": "i"}]}, "status": {}});
        bind(&mut pod, dome, "t0");
        assert_eq!(pod["status"]["hostIP"], "192.168.50.13");
        start(&mut pod, "10.244.0.57", "t1");
        assert_eq!(pod["status"]["phase"], "Running");
        mark_ready(&mut pod, "t2");
        assert!(
            pod["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        );
        terminate(&mut pod, "t3");
        assert_eq!(pod["status"]["phase"], "Succeeded");
        let ip = pod_ip_on(dome, "10.244.3.2").unwrap();
        assert!(ip.starts_with("10.244.3.") && ip != "10.244.3.2", "{ip}");
        let t: Timestamp = "2025-06-20T10:15:14.5Z".parse().unwrap();
        assert_eq!(go_time_string(t), "2025-06-20 10:15:14 +0000 UTC");
        let rec = log_record("info", "hello", "live-migration-source.go:1", t, &fixture("vmi-running.json"));
        let v: Value = serde_json::from_str(&rec).unwrap();
        assert_eq!(v["timestamp"], "2025-06-20T10:15:14.500000Z");
        assert_eq!(v["msg"], "hello");
        assert_eq!(v["namespace"], "tenant-root");
    }
}
