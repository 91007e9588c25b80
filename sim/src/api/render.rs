//! The renderings of list and watch answers a client asks for in `Accept`: plain objects, `meta.k8s.io/v1`
//! Tables (server-side printing, as kubectl asks with `as=Table;v=v1;g=meta.k8s.io`, with the columns of the
//! built-in printers and of the KubeVirt CRDs' `additionalPrinterColumns`), or `PartialObjectMetadata`
//! (metadata-only clients).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::resources::ResourceType;

/// How objects go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendering {
    Objects,
    Table,
    Metadata,
}

impl Rendering {
    /// What the first media type of an `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let Some(first) = accept.and_then(|a| a.split(',').next()) else { return Self::Objects };
        let meta_v1 = first.contains("g=meta.k8s.io") && first.contains("v=v1");
        if meta_v1 && first.contains("as=Table") {
            Self::Table
        } else if meta_v1 && first.contains("as=PartialObjectMetadata") {
            Self::Metadata
        } else {
            Self::Objects
        }
    }

    /// A list answer of `items` with list metadata `meta`.
    pub fn list(self, rt: &ResourceType, items: Vec<Value>, meta: Value, now: Timestamp) -> Value {
        match self {
            Self::Table => table(rt, &items, meta, now),
            Self::Metadata => {
                json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "items": items.iter().map(partial_metadata).collect::<Vec<_>>()})
            }
            Self::Objects => {
                json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": meta, "items": items})
            }
        }
    }

    /// The object of a watch event.
    pub fn object(self, rt: &ResourceType, obj: &Value, now: Timestamp) -> Value {
        match self {
            Self::Table => {
                let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
                table(rt, std::slice::from_ref(obj), meta, now)
            }
            Self::Metadata => partial_metadata(obj),
            Self::Objects => obj.clone(),
        }
    }
}

/// How a cell is computed.
#[derive(Clone, Copy)]
enum Cell {
    Name,
    Age,
    /// A string at a JSON pointer.
    At(&'static str),
    /// The status of the condition of this type.
    Condition(&'static str),
    PodReady,
    PodStatus,
    PodRestarts,
    PodNode,
    NodeStatus,
    NodeRoles,
    ConfigMapData,
    None,
}

/// `(column name, type, priority, cell)`.
type Column = (&'static str, &'static str, u8, Cell);

const NAME_AGE: &[Column] = &[("Name", "string", 0, Cell::Name), ("Age", "string", 0, Cell::Age)];

fn columns(rt: &ResourceType) -> &'static [Column] {
    use Cell::*;
    match (rt.group, rt.kind) {
        ("", "Pod") => &[
            ("Name", "string", 0, Name),
            ("Ready", "string", 0, PodReady),
            ("Status", "string", 0, PodStatus),
            ("Restarts", "string", 0, PodRestarts),
            ("Age", "string", 0, Age),
            ("IP", "string", 1, At("/status/podIP")),
            ("Node", "string", 1, PodNode),
            ("Nominated Node", "string", 1, At("/status/nominatedNodeName")),
            ("Readiness Gates", "string", 1, None),
        ],
        ("", "Namespace") => {
            &[("Name", "string", 0, Name), ("Status", "string", 0, At("/status/phase")), ("Age", "string", 0, Age)]
        }
        ("", "Node") => &[
            ("Name", "string", 0, Name),
            ("Status", "string", 0, NodeStatus),
            ("Roles", "string", 0, NodeRoles),
            ("Age", "string", 0, Age),
            ("Version", "string", 0, At("/status/nodeInfo/kubeletVersion")),
            ("OS-Image", "string", 1, At("/status/nodeInfo/osImage")),
            ("Kernel-Version", "string", 1, At("/status/nodeInfo/kernelVersion")),
            ("Container-Runtime", "string", 1, At("/status/nodeInfo/containerRuntimeVersion")),
        ],
        ("", "ConfigMap") => {
            &[("Name", "string", 0, Name), ("Data", "integer", 0, ConfigMapData), ("Age", "string", 0, Age)]
        }
        ("", "Service") => &[
            ("Name", "string", 0, Name),
            ("Type", "string", 0, At("/spec/type")),
            ("Cluster-IP", "string", 0, At("/spec/clusterIP")),
            ("Age", "string", 0, Age),
        ],
        ("", "PersistentVolumeClaim") => &[
            ("Name", "string", 0, Name),
            ("Status", "string", 0, At("/status/phase")),
            ("Volume", "string", 0, At("/spec/volumeName")),
            ("Capacity", "string", 0, At("/status/capacity/storage")),
            ("StorageClass", "string", 0, At("/spec/storageClassName")),
            ("Age", "string", 0, Age),
        ],
        ("storage.k8s.io", _) => &[
            ("Name", "string", 0, Name),
            ("Provisioner", "string", 0, At("/provisioner")),
            ("ReclaimPolicy", "string", 0, At("/reclaimPolicy")),
            ("VolumeBindingMode", "string", 0, At("/volumeBindingMode")),
            ("Age", "string", 0, Age),
        ],
        ("", "Event") => &[
            ("Type", "string", 0, At("/type")),
            ("Reason", "string", 0, At("/reason")),
            ("Object", "string", 0, At("/involvedObject/name")),
            ("Message", "string", 0, At("/message")),
        ],
        ("kubevirt.io", "VirtualMachine") => &[
            ("Name", "string", 0, Name),
            ("Age", "date", 0, Age),
            ("Status", "string", 0, At("/status/printableStatus")),
            ("Ready", "string", 0, Condition("Ready")),
        ],
        ("kubevirt.io", "VirtualMachineInstance") => &[
            ("Name", "string", 0, Name),
            ("Age", "date", 0, Age),
            ("Phase", "string", 0, At("/status/phase")),
            ("IP", "string", 0, At("/status/interfaces/0/ipAddress")),
            ("NodeName", "string", 0, At("/status/nodeName")),
            ("Ready", "string", 0, Condition("Ready")),
            ("Live-Migratable", "string", 1, Condition("LiveMigratable")),
            ("Paused", "string", 1, Condition("Paused")),
        ],
        ("kubevirt.io", "VirtualMachineInstanceMigration") => &[
            ("Name", "string", 0, Name),
            ("Phase", "string", 0, At("/status/phase")),
            ("VMI", "string", 0, At("/spec/vmiName")),
        ],
        ("kubevirt.io", "KubeVirt") => {
            &[("Name", "string", 0, Name), ("Age", "date", 0, Age), ("Phase", "string", 0, At("/status/phase"))]
        }
        ("cdi.kubevirt.io", "DataVolume") => &[
            ("Name", "string", 0, Name),
            ("Phase", "string", 0, At("/status/phase")),
            ("Progress", "string", 0, At("/status/progress")),
            ("Restarts", "integer", 0, At("/status/restartCount")),
            ("Age", "date", 0, Age),
        ],
        _ => NAME_AGE,
    }
}

/// Kubernetes' `duration.HumanDuration`, as Age cells show it.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h) = (s / 60, s / 3600);
    let d = h / 24;
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 && s % 60 == 0 => format!("{m}m"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 == 0 => format!("{h}h"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 && h % 24 == 0 => format!("{d}d"),
        _ if h < 192 => format!("{d}d{}h", h % 24),
        _ if h < 24 * 365 * 2 => format!("{d}d"),
        _ if h < 24 * 365 * 8 && d % 365 == 0 => format!("{}y", d / 365),
        _ if h < 24 * 365 * 8 => format!("{}y{}d", d / 365, d % 365),
        _ => format!("{}y", d / 365),
    }
}

fn condition(obj: &Value, kind: &str) -> Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .map(|c| c["status"].clone())
        .unwrap_or(Value::Null)
}

fn pod_status(pod: &Value) -> String {
    if pod["metadata"].get("deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let waiting = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find_map(|c| c["state"]["waiting"]["reason"].as_str().map(str::to_string)));
    let terminated = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find_map(|c| c["state"]["terminated"]["reason"].as_str().map(str::to_string)));
    waiting
        .or(terminated)
        .or_else(|| pod["status"]["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| pod["status"]["phase"].as_str().unwrap_or("Pending").to_string())
}

fn cell(c: Cell, obj: &Value, now: Timestamp) -> Value {
    let s = |v: &str| Value::String(v.to_string());
    match c {
        Cell::Name => obj["metadata"]["name"].clone(),
        Cell::Age => obj["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or(s("<unknown>"), |t| s(&human_duration(now.duration_since(t).as_secs()))),
        Cell::At(p) => match obj.pointer(p) {
            Some(v) if !v.is_null() => v.clone(),
            _ => s(if p.ends_with("nominatedNodeName") { "<none>" } else { "" }),
        },
        Cell::Condition(t) => condition(obj, t),
        Cell::PodReady => {
            let cs = obj["status"]["containerStatuses"].as_array();
            let total = obj["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = cs.map_or(0, |cs| cs.iter().filter(|c| c["ready"] == true).count());
            s(&format!("{ready}/{total}"))
        }
        Cell::PodStatus => s(&pod_status(obj)),
        Cell::PodRestarts => {
            let n: i64 = obj["status"]["containerStatuses"]
                .as_array()
                .map_or(0, |cs| cs.iter().filter_map(|c| c["restartCount"].as_i64()).sum());
            s(&n.to_string())
        }
        Cell::PodNode => s(obj["spec"]["nodeName"].as_str().unwrap_or("<none>")),
        Cell::NodeStatus => {
            let mut st = if condition(obj, "Ready") == "True" { "Ready" } else { "NotReady" }.to_string();
            if obj["spec"]["unschedulable"] == true {
                st.push_str(",SchedulingDisabled");
            }
            s(&st)
        }
        Cell::NodeRoles => {
            let mut roles: Vec<&str> = obj["metadata"]["labels"]
                .as_object()
                .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
                .unwrap_or_default();
            roles.sort_unstable();
            s(&if roles.is_empty() { "<none>".to_string() } else { roles.join(",") })
        }
        Cell::ConfigMapData => {
            let n =
                obj["data"].as_object().map_or(0, |m| m.len()) + obj["binaryData"].as_object().map_or(0, |m| m.len());
            json!(n)
        }
        Cell::None => s("<none>"),
    }
}

fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// A Table of `items` with the list metadata `meta`.
fn table(rt: &ResourceType, items: &[Value], meta: Value, now: Timestamp) -> Value {
    let cols = columns(rt);
    let defs: Vec<Value> = cols
        .iter()
        .map(|(name, kind, priority, c)| {
            let mut d = json!({"name": name, "type": kind, "format": "", "description": "", "priority": priority});
            if matches!(c, Cell::Name) {
                d["format"] = json!("name");
            }
            d
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({"cells": cols.iter().map(|(_, _, _, c)| cell(*c, o, now)).collect::<Vec<_>>(), "object": partial_metadata(o)}))
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{PODS, VMIMS};

    #[test]
    fn accept_headers_choose_the_rendering() {
        assert_eq!(
            Rendering::from_accept(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            )),
            Rendering::Table
        );
        assert_eq!(
            Rendering::from_accept(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
            )),
            Rendering::Metadata
        );
        assert_eq!(Rendering::from_accept(Some("application/json")), Rendering::Objects);
        assert_eq!(Rendering::from_accept(None), Rendering::Objects);
    }

    #[test]
    fn human_durations_match_kubernetes() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (50 * 3600, "2d2h"),
            (400 * 86400, "400d"),
        ] {
            assert_eq!(human_duration(s), want, "{s}");
        }
    }

    #[test]
    fn pod_rows_show_ready_status_and_restarts() {
        let now: Timestamp = "2025-01-01T00:10:00Z".parse().unwrap();
        let pod = json!({"metadata": {"name": "web", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let t = table(&PODS, &[pod], json!({"resourceVersion": "5"}), now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["web", "1/2", "CrashLoopBackOff", "3", "10m", "10.244.0.5", "n1", "<none>", "<none>"])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        let m = json!({"metadata": {"name": "m"}, "spec": {"vmiName": "vm"}, "status": {"phase": "Running"}});
        assert_eq!(table(&VMIMS, &[m], json!({}), now)["rows"][0]["cells"], json!(["m", "Running", "vm"]));
    }
}
