//! Validation of objects against the upstream OpenAPI (Swagger 2.0) schemas of Kubernetes v1.34 and KubeVirt
//! v1.5.2, trimmed to the kinds the sim serves (`sim/openapi/definitions.json`, made by `sim/openapi/trim.py`).
//!
//! A subset of Swagger 2.0: `$ref`, `type` (one or a list), `properties`, `additionalProperties`, `items`,
//! `required`, `enum`, `format` (`int-or-string`; `date-time` checked loosely). Unknown fields are errors, as with
//! the API server's strict field validation. `null` is accepted anywhere, as Go decodes it to the zero value.
//! `resource.Quantity` accepts a string or a number.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Spec {
    kinds: BTreeMap<String, String>,
    definitions: BTreeMap<String, Value>,
}

fn spec() -> Option<&'static Spec> {
    static SPEC: OnceLock<Option<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(include_str!("../openapi/definitions.json")).ok()).as_ref()
}

/// The definition name for an `apiVersion` and `kind` (`v1`, `Pod` → `io.k8s.api.core.v1.Pod`); `None` for kinds
/// without an upstream schema here (CDI DataVolume, Multus NetworkAttachmentDefinition).
pub fn definition_for(api_version: &str, kind: &str) -> Option<&'static str> {
    spec()?.kinds.get(&format!("{api_version}/{kind}")).map(String::as_str)
}

/// Validates `value` against the definition named `definition` (e.g. `io.k8s.api.core.v1.Pod`, `v1.VirtualMachine`).
/// Returns every problem found, one line each, naming the field path.
pub fn validate(definition: &str, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    match spec() {
        None => errors.push("the embedded OpenAPI definitions do not parse".to_string()),
        Some(spec) => match spec.definitions.get(definition) {
            None => errors.push(format!("no definition {definition:?}")),
            Some(schema) => check(spec, schema, value, "", &mut errors),
        },
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Validates an object against the definition of its `apiVersion` and `kind`.
pub fn validate_object(value: &Value) -> Result<(), Vec<String>> {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let kind = value["kind"].as_str().unwrap_or_default();
    match definition_for(api_version, kind) {
        Some(d) => validate(d, value),
        None => Err(vec![format!("no schema for {api_version} {kind}")]),
    }
}

/// The fields of `value` that its definition does not know (`spec.foo`, `spec.containers[0].bar`), in order; with
/// `prune` they are removed, as decoding (built-in kinds) or structural pruning (custom resources) does on the API
/// server. Nothing else is checked.
pub fn unknown_fields(definition: &str, value: &mut Value, prune: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(schema) = spec().and_then(|s| s.definitions.get(definition).map(|d| (s, d))) {
        walk_unknown(schema.0, schema.1, value, "", prune, &mut out);
    }
    out
}

fn walk_unknown(spec: &Spec, schema: &Value, v: &mut Value, path: &str, prune: bool, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if let Some(def) = spec.definitions.get(r.trim_start_matches("#/definitions/")) {
            walk_unknown(spec, def, v, path, prune, out);
        }
        return;
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let mut unknown = Vec::new();
            for (k, child) in map.iter_mut() {
                let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match (props.and_then(|p| p.get(k)), additional) {
                    (Some(s), _) => walk_unknown(spec, s, child, &child_path, prune, out),
                    (None, Some(s)) if s.is_object() => walk_unknown(spec, s, child, &child_path, prune, out),
                    (None, Some(_)) => {}
                    (None, None) if props.is_none() => {}
                    (None, None) => {
                        out.push(child_path);
                        unknown.push(k.clone());
                    }
                }
            }
            if prune {
                for k in unknown {
                    map.remove(&k);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk_unknown(spec, item_schema, item, &format!("{path}[{i}]"), prune, out);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn fits(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

fn check(spec: &Spec, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if v.is_null() {
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/definitions/");
        if name.ends_with("pkg.api.resource.Quantity") {
            if !(v.is_string() || v.is_number()) {
                errors.push(format!("{}: expected a quantity (string or number), got {}", at(path), type_name(v)));
            }
            return;
        }
        match spec.definitions.get(name) {
            Some(def) => check(spec, def, v, path, errors),
            None => errors.push(format!("{}: schema refers to missing definition {name}", at(path))),
        }
        return;
    }
    let format = schema.get("format").and_then(Value::as_str);
    if format == Some("int-or-string") {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            errors.push(format!("{}: expected an integer or a string, got {}", at(path), type_name(v)));
        }
        return;
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| fits(t, v)) {
        errors.push(format!("{}: expected {}, got {}", at(path), types.join(" or "), type_name(v)));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(format!("{}: unsupported value {v}", at(path)));
    }
    if let (Some("date-time"), Some(s)) = (format, v.as_str())
        && s.parse::<jiff::Timestamp>().is_err()
    {
        errors.push(format!("{}: not an RFC 3339 date-time: {s:?}", at(path)));
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (k, child) in map {
                let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match (props.and_then(|p| p.get(k)), additional) {
                    (Some(s), _) => check(spec, s, child, &child_path, errors),
                    (None, Some(Value::Bool(true))) => {}
                    (None, Some(s)) if s.is_object() => check(spec, s, child, &child_path, errors),
                    (None, None) if props.is_none() => {}
                    _ => errors.push(format!("unknown field {child_path:?}")),
                }
            }
            for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = req.as_str()
                    && !map.contains_key(name)
                {
                    let p = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
                    errors.push(format!("{p}: Required value"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(spec, item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_map_to_definitions() {
        assert_eq!(definition_for("v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
        assert_eq!(definition_for("kubevirt.io/v1", "VirtualMachineInstance"), Some("v1.VirtualMachineInstance"));
        assert_eq!(definition_for("cdi.kubevirt.io/v1beta1", "DataVolume"), None);
    }

    #[test]
    fn fixtures_validate() {
        for text in [
            include_str!("../../testdata/kubevirt/vm.json"),
            include_str!("../../testdata/kubevirt/vmi-running.json"),
            include_str!("../../testdata/kubevirt/vmi-migrated.json"),
            include_str!("../../testdata/kubevirt/vmim-succeeded.json"),
            include_str!("../../testdata/kubevirt/vmim-failed.json"),
            include_str!("../../testdata/kubevirt/virt-launcher-pod-target.json"),
            include_str!("../../testdata/kubevirt/kubevirt-cr.json"),
            include_str!("../../testdata/kubevirt/migrationpolicy.json"),
            include_str!("../../testdata/kubevirt/clusterinstancetype-u1.medium.json"),
            include_str!("../../testdata/kubevirt/service-lb.json"),
            include_str!("../../testdata/kubevirt/pvc-rwx.json"),
            include_str!("../../testdata/kubevirt/errors/vmim-create-forbidden.json"),
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(validate_object(&v), Ok(()), "{} {}", v["kind"], v["metadata"]["name"]);
        }
        let nodes: Value = serde_json::from_str(include_str!("../../testdata/kubevirt/nodes.json")).unwrap();
        assert_eq!(validate("io.k8s.api.core.v1.NodeList", &nodes), Ok(()));
    }

    #[test]
    fn unknown_fields_are_found_deep_and_pruned() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"any": "x"}, "nope": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x", "resources": {"limits": {"cpu": "1"}}}],
                     "nodeSelector": {"a": "b"}}});
        let pod_def = "io.k8s.api.core.v1.Pod";
        assert_eq!(
            unknown_fields(pod_def, &mut pod.clone(), false),
            ["metadata.nope", "spec.containers[0].imagePolicy"]
        );
        unknown_fields(pod_def, &mut pod, true);
        assert!(unknown_fields(pod_def, &mut pod, false).is_empty());
        assert_eq!(pod["spec"]["nodeSelector"]["a"], "b");
        let mut m = json!({"spec": {"vmiName": "v", "vmi": "typo"}, "status": {"migrationState": {"completed": true}}});
        assert_eq!(unknown_fields("v1.VirtualMachineInstanceMigration", &mut m, false), ["spec.vmi"]);
        assert!(unknown_fields("no.such.Thing", &mut m, true).is_empty());
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": 1}, "creationTimestamp": "yesterday"},
            "spec": {"containers": [{"image": "x", "ports": [{"containerPort": "80"}], "colour": "red"}],
                "nodeName": "n", "priority": 1.5},
            "status": {"phase": "Running", "qosClass": null}
        });
        let errs = validate_object(&pod).unwrap_err();
        assert_eq!(
            errs,
            [
                "metadata.creationTimestamp: not an RFC 3339 date-time: \"yesterday\"",
                "metadata.labels.a: expected string, got integer",
                "unknown field \"spec.containers[0].colour\"",
                "spec.containers[0].ports[0].containerPort: expected integer, got string",
                "spec.containers[0].name: Required value",
                "spec.priority: expected integer, got number",
            ]
        );
        let res = json!({"limits": {"cpu": 2, "memory": "1Gi"}, "requests": {"cpu": []}});
        assert_eq!(
            validate("io.k8s.api.core.v1.ResourceRequirements", &res).unwrap_err(),
            ["requests.cpu: expected a quantity (string or number), got array"]
        );
        let port = json!({"port": 80, "targetPort": "http"});
        assert_eq!(validate("io.k8s.api.core.v1.ServicePort", &port), Ok(()));
        assert!(validate("no.such.Thing", &port).is_err());
    }
}
