//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch for built-in kinds.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::resources::ResourceType;

/// The patch types the server knows, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

const CR_TYPES: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";

fn unsupported(rt: &ResourceType) -> ApiError {
    let accepted = if rt.is_builtin() {
        format!("{CR_TYPES}, application/strategic-merge-patch+json")
    } else {
        CR_TYPES.to_string()
    };
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!("the body of the request was in an unknown format - accepted media types include: {accepted}"),
    )
}

impl PatchType {
    /// The patch type of a `Content-Type`; 415 as the real server answers for unknown types and for strategic
    /// merge patches of custom resources.
    pub fn from_content_type(ct: Option<&str>, rt: &ResourceType) -> Result<Self, ApiError> {
        let media = ct.unwrap_or("").split(';').next().unwrap_or("").trim();
        match media {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" if rt.is_builtin() => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            _ => Err(unsupported(rt)),
        }
    }
}

/// Applies a JSON patch, merge patch or strategic merge patch to `old` and returns the patched object.
pub fn apply(kind: PatchType, old: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = if kind == PatchType::Apply {
        let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    let mut doc = old.clone();
    match kind {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
        }
        PatchType::Merge | PatchType::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("error decoding patch: a merge patch must be a JSON object"));
            }
            json_patch::merge(&mut doc, &patch);
        }
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a strategic merge patch must be a JSON object",
                ));
            }
            strategic_merge(&mut doc, &patch);
        }
    }
    Ok(doc)
}

/// The merge key of a list field of a built-in kind (`patchMergeKey` in the Go types).
fn merge_key(field: &str, item: &Value) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" | "addresses" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "ports" if item.get("containerPort").is_some() => "containerPort",
        "ports" => "port",
        "containerStatuses" | "initContainerStatuses" | "ephemeralContainerStatuses" => "name",
        _ => return None,
    })
}

/// Lists of scalars that merge as sets (`patchStrategy:"merge"` on primitive lists).
fn is_set(field: &str) -> bool {
    field == "finalizers"
}

fn without_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), without_directives(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

/// Strategic merge patch for built-in kinds: maps merge recursively, `null` deletes, lists with a merge key merge
/// element by element (`$patch: delete` removes one), `finalizers` merge as a set, other lists are replaced;
/// `$setElementOrder`, `$retainKeys` and other directives are accepted and dropped.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(pm) = patch.as_object() else {
        *target = without_directives(patch);
        return;
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = without_directives(patch);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(tm) = target.as_object_mut() else { return };
    for (k, v) in pm {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(have)), Some(drop)) = (tm.get_mut(field), v.as_array()) {
                have.retain(|x| !drop.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                tm.remove(k);
            }
            Value::Array(items) => {
                let key = items.first().and_then(|i| merge_key(k, i));
                match (key, tm.get_mut(k)) {
                    (Some(key), Some(Value::Array(have))) => merge_list(have, items, key),
                    (None, Some(Value::Array(have))) if is_set(k) => {
                        for i in items {
                            if !have.contains(i) {
                                have.push(i.clone());
                            }
                        }
                    }
                    _ => {
                        let kept: Vec<Value> = items
                            .iter()
                            .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                            .map(without_directives)
                            .collect();
                        tm.insert(k.clone(), Value::Array(kept));
                    }
                }
            }
            Value::Object(_) => strategic_merge(tm.entry(k.clone()).or_insert(Value::Null), v),
            other => {
                tm.insert(k.clone(), other.clone());
            }
        }
    }
}

fn merge_list(have: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let id = item.get(key);
        let pos = have.iter().position(|h| id.is_some() && h.get(key) == id);
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(p) = pos {
                have.remove(p);
            }
            continue;
        }
        match pos {
            Some(p) => strategic_merge(&mut have[p], item),
            None => have.push(without_directives(item)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{PODS, VMIMS};
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
               "spec": {"containers": [{"name": "c1", "image": "i1", "env": [{"name": "E", "value": "1"}]},
                                       {"name": "c2", "image": "i2"}],
                        "tolerations": [{"key": "k"}]},
               "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}})
    }

    #[test]
    fn strategic_merges_named_lists_and_replaces_others() {
        let patch = json!({"metadata": {"labels": {"b": null, "c": "3"}, "finalizers": ["y"]},
            "spec": {"containers": [{"name": "c1", "image": "new", "env": [{"name": "F", "value": "2"}]}, {"name": "c3", "image": "i3"}],
                     "tolerations": [{"key": "t"}],
                     "$setElementOrder/containers": [{"name": "c1"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let out = apply(PatchType::Strategic, &pod(), patch.to_string().as_bytes()).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"a": "1", "c": "3"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["x", "y"]));
        let names: Vec<&str> =
            out["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c1", "c2", "c3"]);
        assert_eq!(out["spec"]["containers"][0]["image"], "new");
        assert_eq!(out["spec"]["containers"][0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "t"}]));
        assert_eq!(out["status"]["conditions"][0], json!({"type": "Ready", "status": "True"}));
        assert_eq!(out["status"]["conditions"].as_array().unwrap().len(), 2);
        assert!(out["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn strategic_delete_directive_removes_an_element() {
        let patch = json!({"spec": {"containers": [{"name": "c2", "$patch": "delete"}]}});
        let out = apply(PatchType::Strategic, &pod(), patch.to_string().as_bytes()).unwrap();
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn merge_patch_replaces_lists() {
        let patch = json!({"spec": {"containers": [{"name": "c9"}]}, "metadata": {"labels": {"a": null}}});
        let out = apply(PatchType::Merge, &pod(), patch.to_string().as_bytes()).unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "c9"}]));
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
    }

    #[test]
    fn json_patch_applies_and_fails_as_invalid() {
        let ops = json!([{"op": "replace", "path": "/spec/containers/1/image", "value": "z"}, {"op": "test", "path": "/metadata/name", "value": "p"}]);
        let out = apply(PatchType::Json, &pod(), ops.to_string().as_bytes()).unwrap();
        assert_eq!(out["spec"]["containers"][1]["image"], "z");
        let bad = json!([{"op": "remove", "path": "/spec/nope"}]);
        assert_eq!(apply(PatchType::Json, &pod(), bad.to_string().as_bytes()).unwrap_err().code, 422);
        assert_eq!(apply(PatchType::Json, &pod(), b"{").unwrap_err().code, 400);
    }

    #[test]
    fn content_types_map_to_patch_types_or_415() {
        assert_eq!(
            PatchType::from_content_type(Some("application/strategic-merge-patch+json"), &PODS).unwrap(),
            PatchType::Strategic
        );
        let e = PatchType::from_content_type(Some("application/strategic-merge-patch+json"), &VMIMS).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (415, "UnsupportedMediaType"));
        assert!(!e.message.contains("strategic"));
        assert_eq!(
            PatchType::from_content_type(Some("application/merge-patch+json; charset=utf-8"), &VMIMS).unwrap(),
            PatchType::Merge
        );
        assert_eq!(PatchType::from_content_type(Some("text/plain"), &PODS).unwrap_err().code, 415);
    }
}
