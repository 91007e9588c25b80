//! Server-side printing: the `meta.k8s.io/v1` `Table` a real API server answers when a client (kubectl get)
//! asks for `application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Built-in kinds get the columns of Kubernetes' own printers (`pkg/printers/internalversion`); custom resources
//! get `Name` plus the `additionalPrinterColumns` of their CRD (KubeVirt's from `crds.go`), or `Name, Age` when the
//! CRD defines none. Dates become ages on the server (`ConvertToHumanReadableDateType`), for custom resources
//! too; in a watch only the first event carries the column definitions.

use axum::http::HeaderMap;
use axum::http::header;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::resources::ResourceType;

/// Whether the request prefers a Table (the first `as=Table` media type before any plain JSON).
pub fn wanted(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').next().is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io"))
}

/// `includeObject`: what each row's `object` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// How a cell is computed.
enum Cell {
    /// A simple JSONPath (`.status.phase`, `.status.conditions[?(@.type=='Ready')].status`).
    Path(&'static str),
    /// A JSONPath to a timestamp, printed as an age (a CRD `date` column).
    Date(&'static str),
    /// The age from `metadata.creationTimestamp`, printed (built-in kinds).
    Age,
    /// A built-in printer's computation.
    Func(fn(&Value) -> Value),
}

struct Column {
    name: &'static str,
    type_: &'static str,
    priority: u8,
    cell: Cell,
}

const fn col(name: &'static str, type_: &'static str, priority: u8, cell: Cell) -> Column {
    Column { name, type_, priority, cell }
}

fn text(v: &Value, ptr: &str) -> String {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn pod_ready(p: &Value) -> Value {
    let statuses = p.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    let total = p.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let ready = statuses.iter().filter(|s| s["ready"] == true).count();
    json!(format!("{ready}/{total}"))
}

fn pod_status(p: &Value) -> Value {
    if p.pointer("/metadata/deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    let waiting = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|s| s.iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str)));
    match (text(p, "/status/reason"), waiting) {
        (r, _) if !r.is_empty() => json!(r),
        (_, Some(w)) => json!(w),
        _ => json!(text(p, "/status/phase")),
    }
}

fn pod_restarts(p: &Value) -> Value {
    let n: i64 = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| s.iter().filter_map(|c| c["restartCount"].as_i64()).sum());
    json!(n)
}

fn none_if_empty(s: String) -> Value {
    json!(if s.is_empty() { "<none>".to_string() } else { s })
}

fn node_status(n: &Value) -> Value {
    let ready = n
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"] == "True");
    let mut s = match ready {
        Some(true) => "Ready".to_string(),
        Some(false) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if n.pointer("/spec/unschedulable") == Some(&json!(true)) {
        s.push_str(",SchedulingDisabled");
    }
    json!(s)
}

fn node_roles(n: &Value) -> Value {
    let roles: Vec<&str> = n
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).filter(|r| !r.is_empty()).collect()
        })
        .unwrap_or_default();
    none_if_empty(roles.join(","))
}

fn node_address(n: &Value, kind: &str) -> Value {
    let a = n
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|a| a["type"] == kind))
        .and_then(|a| a["address"].as_str())
        .unwrap_or_default();
    none_if_empty(a.to_string())
}

fn svc_external_ip(s: &Value) -> Value {
    let mut ips: Vec<String> = s
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|i| i.iter().filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()).map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(e) = s.pointer("/spec/externalIPs").and_then(Value::as_array) {
        ips.extend(e.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    match (ips.is_empty(), text(s, "/spec/type").as_str()) {
        (true, "LoadBalancer") => json!("<pending>"),
        (true, _) => json!("<none>"),
        _ => json!(ips.join(",")),
    }
}

fn svc_ports(s: &Value) -> Value {
    let ports: Vec<String> = s
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(np) => format!("{}:{np}/{proto}", p["port"]),
                        None => format!("{}/{proto}", p["port"]),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    none_if_empty(ports.join(","))
}

fn pvc_access_modes(p: &Value) -> Value {
    let short = |m: &str| match m {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        _ => "",
    };
    let modes: Vec<&str> = p
        .pointer("/status/accessModes")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).map(short).collect())
        .unwrap_or_default();
    json!(modes.join(","))
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    use Cell::*;
    match (rt.group, rt.plural) {
        ("", "pods") => vec![
            col("Ready", "string", 0, Func(pod_ready)),
            col("Status", "string", 0, Func(pod_status)),
            col("Restarts", "string", 0, Func(pod_restarts)),
            col("Age", "string", 0, Age),
            col("IP", "string", 1, Func(|p| none_if_empty(text(p, "/status/podIP")))),
            col("Node", "string", 1, Func(|p| none_if_empty(text(p, "/spec/nodeName")))),
            col("Nominated Node", "string", 1, Func(|p| none_if_empty(text(p, "/status/nominatedNodeName")))),
            col("Readiness Gates", "string", 1, Func(|_| json!("<none>"))),
        ],
        ("", "nodes") => vec![
            col("Status", "string", 0, Func(node_status)),
            col("Roles", "string", 0, Func(node_roles)),
            col("Age", "string", 0, Age),
            col("Version", "string", 0, Func(|n| json!(text(n, "/status/nodeInfo/kubeletVersion")))),
            col("Internal-IP", "string", 1, Func(|n| node_address(n, "InternalIP"))),
            col("External-IP", "string", 1, Func(|n| node_address(n, "ExternalIP"))),
            col("OS-Image", "string", 1, Func(|n| json!(text(n, "/status/nodeInfo/osImage")))),
            col("Kernel-Version", "string", 1, Func(|n| json!(text(n, "/status/nodeInfo/kernelVersion")))),
            col("Container-Runtime", "string", 1, Func(|n| json!(text(n, "/status/nodeInfo/containerRuntimeVersion")))),
        ],
        ("", "namespaces") => {
            vec![col("Status", "string", 0, Func(|n| json!(text(n, "/status/phase")))), col("Age", "string", 0, Age)]
        }
        ("", "services") => vec![
            col("Type", "string", 0, Func(|s| json!(text(s, "/spec/type")))),
            col("Cluster-IP", "string", 0, Func(|s| none_if_empty(text(s, "/spec/clusterIP")))),
            col("External-IP", "string", 0, Func(svc_external_ip)),
            col("Port(s)", "string", 0, Func(svc_ports)),
            col("Age", "string", 0, Age),
        ],
        ("", "persistentvolumeclaims") => vec![
            col("Status", "string", 0, Func(|p| json!(text(p, "/status/phase")))),
            col("Volume", "string", 0, Func(|p| json!(text(p, "/spec/volumeName")))),
            col("Capacity", "string", 0, Func(|p| json!(text(p, "/status/capacity/storage")))),
            col("Access Modes", "string", 0, Func(pvc_access_modes)),
            col("StorageClass", "string", 0, Func(|p| json!(text(p, "/spec/storageClassName")))),
            col("VolumeAttributesClass", "string", 0, Func(|_| json!("<unset>"))),
            col("Age", "string", 0, Age),
            col("VolumeMode", "string", 1, Func(|p| json!(text(p, "/spec/volumeMode")))),
        ],
        ("storage.k8s.io", "storageclasses") => vec![
            col("Provisioner", "string", 0, Func(|s| json!(text(s, "/provisioner")))),
            col("ReclaimPolicy", "string", 0, Func(|s| json!(text(s, "/reclaimPolicy")))),
            col("VolumeBindingMode", "string", 0, Func(|s| json!(text(s, "/volumeBindingMode")))),
            col("AllowVolumeExpansion", "string", 0, Func(|s| json!(s["allowVolumeExpansion"] == true))),
            col("Age", "string", 0, Age),
        ],
        ("", "events") => vec![
            col("Last Seen", "string", 0, Func(|e| json!(text(e, "/lastTimestamp")))),
            col("Type", "string", 0, Func(|e| json!(text(e, "/type")))),
            col("Reason", "string", 0, Func(|e| json!(text(e, "/reason")))),
            col(
                "Object",
                "string",
                0,
                Func(|e| {
                    json!(format!(
                        "{}/{}",
                        text(e, "/involvedObject/kind").to_lowercase(),
                        text(e, "/involvedObject/name")
                    ))
                }),
            ),
            col("Message", "string", 0, Func(|e| json!(text(e, "/message")))),
        ],
        // KubeVirt's CRDs (pkg/virt-operator/resource/generate/components/crds.go).
        ("kubevirt.io", "virtualmachines") => vec![
            col("Age", "date", 0, Date(".metadata.creationTimestamp")),
            col("Status", "string", 0, Path(".status.printableStatus")),
            col("Ready", "string", 0, Path(".status.conditions[?(@.type=='Ready')].status")),
        ],
        ("kubevirt.io", "virtualmachineinstances") => vec![
            col("Age", "date", 0, Date(".metadata.creationTimestamp")),
            col("Phase", "string", 0, Path(".status.phase")),
            col("IP", "string", 0, Path(".status.interfaces[0].ipAddress")),
            col("NodeName", "string", 0, Path(".status.nodeName")),
            col("Ready", "string", 0, Path(".status.conditions[?(@.type=='Ready')].status")),
            col("Live-Migratable", "string", 1, Path(".status.conditions[?(@.type=='LiveMigratable')].status")),
            col("Paused", "string", 1, Path(".status.conditions[?(@.type=='Paused')].status")),
        ],
        ("kubevirt.io", "virtualmachineinstancemigrations") => {
            vec![col("Phase", "string", 0, Path(".status.phase")), col("VMI", "string", 0, Path(".spec.vmiName"))]
        }
        ("kubevirt.io", "kubevirts") => {
            vec![
                col("Age", "date", 0, Date(".metadata.creationTimestamp")),
                col("Phase", "string", 0, Path(".status.phase")),
            ]
        }
        ("cdi.kubevirt.io", "datavolumes") => vec![
            col("Phase", "string", 0, Path(".status.phase")),
            col("Progress", "string", 0, Path(".status.progress")),
            col("Restarts", "integer", 0, Path(".status.restartCount")),
            col("Age", "date", 0, Date(".metadata.creationTimestamp")),
        ],
        _ if rt.is_builtin() => vec![col("Age", "string", 0, Age)],
        _ => vec![col("Age", "date", 0, Date(".metadata.creationTimestamp"))],
    }
}

/// Evaluates the small JSONPath subset CRD printer columns use: `.a.b`, `.a[0].b`, `.a[?(@.k=='v')].b`.
fn jsonpath(obj: &Value, path: &str) -> Option<Value> {
    let mut cur = obj.clone();
    let mut rest = path.strip_prefix('.').unwrap_or(path);
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (field, tail) = rest.split_at(end);
        if !field.is_empty() {
            cur = cur.get(field)?.clone();
        }
        rest = tail;
        if let Some(t) = rest.strip_prefix('[') {
            let close = t.find(']')?;
            let inner = &t[..close];
            rest = &t[close + 1..];
            if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, v) = filter.split_once("==")?;
                let v = v.trim_matches(|c| c == '\'' || c == '"');
                cur = cur.as_array()?.iter().find(|e| e.get(k).and_then(Value::as_str) == Some(v))?.clone();
            } else {
                cur = cur.get(inner.parse::<usize>().ok()?)?.clone();
            }
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(cur)
}

/// Kubernetes' short age format (`duration.HumanDuration`): 45s, 12m, 3h5m, 2d4h, 400d.
pub fn human_age(created: &str, now: Timestamp) -> String {
    let Ok(t) = created.parse::<Timestamp>() else { return "<unknown>".into() };
    let s = now.duration_since(t).as_secs().max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60).replace("m0s", "m"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60).replace("h0m", "h"),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => format!("{}d{}h", s / 86400, (s % 86400) / 3600).replace("d0h", "d"),
        s => format!("{}d", s / 86400),
    }
}

fn row(cols: &[Column], obj: &Value, include: IncludeObject, now: Timestamp) -> Value {
    let mut cells = vec![json!(text(obj, "/metadata/name"))];
    for c in cols {
        cells.push(match &c.cell {
            Cell::Path(p) => jsonpath(obj, p).unwrap_or(Value::Null),
            Cell::Date(p) => match jsonpath(obj, p) {
                Some(Value::String(t)) => json!(human_age(&t, now)),
                _ => json!("<unknown>"),
            },
            Cell::Age => json!(human_age(&text(obj, "/metadata/creationTimestamp"), now)),
            Cell::Func(f) => f(obj),
        });
    }
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => obj.clone(),
    };
    let mut r = json!({ "cells": cells });
    if !object.is_null() {
        r["object"] = object;
    }
    r
}

fn definitions(cols: &[Column]) -> Vec<Value> {
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    defs.extend(
        cols.iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": "", "description": "", "priority": c.priority})),
    );
    defs
}

/// A Table of `objects`; `metadata` is the list's (resourceVersion, continue). Without `headers` the column
/// definitions are left out, as in every watch event after the first.
pub fn table(
    rt: &ResourceType,
    objects: &[Value],
    metadata: Value,
    include: IncludeObject,
    now: Timestamp,
    headers: bool,
) -> Value {
    let cols = columns(rt);
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": if headers { definitions(&cols) } else { Vec::new() },
        "rows": objects.iter().map(|o| row(&cols, o, include, now)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{NODES, VMIMS, VMIS};

    #[test]
    fn crd_columns_follow_kubevirts_printer_columns() {
        let vmi: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/vmi-running.json")).unwrap();
        let t = table(&VMIS, std::slice::from_ref(&vmi), json!({}), IncludeObject::Metadata, Timestamp::now(), true);
        let names: Vec<&str> =
            t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Age", "Phase", "IP", "NodeName", "Ready", "Live-Migratable", "Paused"]);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "vm-instance-haos");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "10.244.0.57");
        assert_eq!(cells[4], "the-toy-factory");
        assert_eq!(cells[5], "True");
        assert_eq!(cells[6], "True");
        assert_eq!(cells[7], Value::Null);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        let m: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/vmim-running.json")).unwrap();
        let t = table(&VMIMS, &[m], json!({}), IncludeObject::None, Timestamp::now(), false);
        assert_eq!(t["rows"][0]["cells"][1], "Running");
        assert_eq!(t["rows"][0]["cells"][2], "vm-instance-haos");
        assert!(t["columnDefinitions"].as_array().unwrap().is_empty());
        assert!(t["rows"][0].get("object").is_none());
    }

    #[test]
    fn node_status_shows_cordon() {
        let nodes: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/nodes.json")).unwrap();
        let t =
            table(&NODES, nodes["items"].as_array().unwrap(), json!({}), IncludeObject::None, Timestamp::now(), true);
        let status: Vec<(&str, &str)> = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["cells"][0].as_str().unwrap(), r["cells"][1].as_str().unwrap()))
            .collect();
        assert!(status.contains(&("here-i-am", "Ready,SchedulingDisabled")), "{status:?}");
        assert!(status.contains(&("the-dome", "Ready")), "{status:?}");
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now: Timestamp = "2025-06-20T12:00:00Z".parse().unwrap();
        assert_eq!(human_age("2025-06-20T11:59:15Z", now), "45s");
        assert_eq!(human_age("2025-06-20T11:55:00Z", now), "5m");
        assert_eq!(human_age("2025-06-20T11:00:00Z", now), "60m");
        assert_eq!(human_age("2025-06-19T12:00:00Z", now), "24h");
        assert_eq!(human_age("2025-06-17T10:00:00Z", now), "3d2h");
    }

    #[test]
    fn accept_header_decides() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json".parse().unwrap());
        assert!(wanted(&h));
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!wanted(&h));
    }
}
