//! Field validation: which fields each served kind has (from the Kubernetes v1.34 and KubeVirt v1.5 OpenAPI
//! specs, compacted into `schema.json` by `sim/tools/gen-schema.py`), to prune unknown fields and report them as
//! the real server does for `fieldValidation=Ignore|Warn|Strict`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::resources::ResourceType;

#[derive(Deserialize)]
#[serde(untagged)]
enum TypeDef {
    Fields(HashMap<String, String>),
    /// `""` scalar or `"*"` free-form: nothing to check inside.
    Opaque(serde::de::IgnoredAny),
}

#[derive(Deserialize, Default)]
struct Schema {
    roots: HashMap<String, String>,
    types: HashMap<String, TypeDef>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    // The file is ours and a unit test parses it; should it ever not parse, no validation happens.
    SCHEMA.get_or_init(|| serde_json::from_str(include_str!("schema.json")).unwrap_or_default())
}

/// How unknown fields are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// The query parameter's value; absent means Warn, as on the real server.
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Invalid value: \"{other}\": fieldValidation must be one of Ignore, Warn or Strict"
            ))),
        }
    }
}

/// Walks `v` as type `expr`; unknown fields are collected as paths and, with `prune`, removed.
fn walk(s: &Schema, expr: &str, v: &mut Value, path: &str, prune: bool, out: &mut Vec<String>) {
    if let Some(inner) = expr.strip_prefix("[]") {
        if let (false, Some(items)) = (inner.is_empty(), v.as_array_mut()) {
            for (i, item) in items.iter_mut().enumerate() {
                walk(s, inner, item, &format!("{path}[{i}]"), prune, out);
            }
        }
        return;
    }
    if let Some(inner) = expr.strip_prefix("{}") {
        if let (false, Some(map)) = (inner.is_empty(), v.as_object_mut()) {
            for (k, item) in map.iter_mut() {
                walk(s, inner, item, &format!("{path}.{k}"), prune, out);
            }
        }
        return;
    }
    let (Some(TypeDef::Fields(fields)), Some(map)) = (s.types.get(expr), v.as_object_mut()) else { return };
    let mut unknown = Vec::new();
    for (k, item) in map.iter_mut() {
        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        match fields.get(k) {
            Some(t) => walk(s, t, item, &p, prune, out),
            None => {
                out.push(p);
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

fn check(rt: &ResourceType, obj: &mut Value, prune: bool) -> Vec<String> {
    let s = schema();
    let mut out = Vec::new();
    if let Some(root) = s.roots.get(&format!("{}/{}/{}", rt.group, rt.version, rt.kind)) {
        walk(s, root, obj, "", prune, &mut out);
    }
    out
}

/// The unknown fields of an object (`spec.foo`, `spec.containers[0].bar`); empty for kinds without a schema.
pub fn unknown_fields(rt: &ResourceType, obj: &Value) -> Vec<String> {
    check(rt, &mut obj.clone(), false)
}

/// Removes the unknown fields, as decoding (built-ins) or pruning (custom resources) does.
pub fn prune(rt: &ResourceType, obj: &mut Value) {
    check(rt, obj, true);
}

/// Applies `mode` to the unknown fields `unknown` of a write: the Strict error, or the warnings to send.
pub fn enforce(rt: &ResourceType, mode: FieldValidation, unknown: Vec<String>) -> Result<Vec<String>, ApiError> {
    let quoted: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    match mode {
        FieldValidation::Ignore => Ok(vec![]),
        FieldValidation::Warn => Ok(quoted),
        FieldValidation::Strict if quoted.is_empty() => Ok(vec![]),
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
            quoted.join(", "),
            kind = rt.kind,
            v = rt.version
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{ALL, CONFIGMAPS, NADS, PODS, VMIMS};
    use serde_json::json;

    #[test]
    fn the_schema_parses_and_covers_the_kinds_with_a_published_schema() {
        let s = schema();
        for rt in ALL.iter().filter(|r| !matches!(r.group, "cdi.kubevirt.io" | "k8s.cni.cncf.io")) {
            let key = format!("{}/{}/{}", rt.group, rt.version, rt.kind);
            assert!(s.roots.contains_key(&key), "{key}");
        }
    }

    #[test]
    fn unknown_fields_are_found_deep_and_pruned() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"any": "x"}, "nope": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x", "resources": {"limits": {"cpu": "1"}}}],
                     "nodeSelector": {"a": "b"}}});
        assert_eq!(unknown_fields(&PODS, &pod), ["metadata.nope", "spec.containers[0].imagePolicy"]);
        prune(&PODS, &mut pod);
        assert!(unknown_fields(&PODS, &pod).is_empty());
        assert_eq!(pod["spec"]["nodeSelector"]["a"], "b");
        let m = json!({"spec": {"vmiName": "v", "vmi": "typo"}, "status": {"migrationState": {"completed": true}}});
        assert_eq!(unknown_fields(&VMIMS, &m), ["spec.vmi"]);
        assert!(unknown_fields(&NADS, &json!({"spec": {"whatever": 1}})).is_empty());
        assert!(unknown_fields(&CONFIGMAPS, &json!({"data": {"k": "v"}})).is_empty());
    }

    #[test]
    fn strict_fails_warn_warns_ignore_ignores() {
        let unknown = vec!["spec.foo".to_string()];
        let e = enforce(&PODS, FieldValidation::Strict, unknown.clone()).unwrap_err();
        assert_eq!(
            e.message,
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.foo\""
        );
        assert_eq!(enforce(&PODS, FieldValidation::Warn, unknown.clone()).unwrap(), ["unknown field \"spec.foo\""]);
        assert!(enforce(&PODS, FieldValidation::Ignore, unknown).unwrap().is_empty());
        assert_eq!(FieldValidation::parse(None).unwrap(), FieldValidation::Warn);
        assert_eq!(FieldValidation::parse(Some("x")).unwrap_err().code, 400);
    }
}
