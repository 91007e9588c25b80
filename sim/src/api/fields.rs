//! Server-side field validation of writes (`fieldValidation=Ignore|Warn|Strict`): unknown fields, found with the
//! upstream schemas in [`crate::openapi`], are pruned and reported as warnings (the default) or rejected (Strict).

use serde_json::Value;

use super::error::ApiError;
use super::resources::ResourceType;
use crate::openapi;

/// How unknown fields are treated.
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

/// The unknown fields of an object of `rt` (none for kinds without an upstream schema); pruned with `prune`.
fn unknown(rt: &ResourceType, obj: &mut Value, prune: bool) -> Vec<String> {
    openapi::definition_for(&rt.api_version(), rt.kind)
        .map(|d| openapi::unknown_fields(d, obj, prune))
        .unwrap_or_default()
}

/// Checks a written object: the Strict error, or the warnings to send (`unknown field "spec.foo"`). Unknown fields
/// that the stored object `old` already had are not reported again. Unknown fields are pruned from `obj`.
pub fn check_write(
    rt: &ResourceType,
    mode: FieldValidation,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<Vec<String>, ApiError> {
    let before = old.map(|o| unknown(rt, &mut o.clone(), false)).unwrap_or_default();
    let new: Vec<String> = unknown(rt, obj, true).into_iter().filter(|f| !before.contains(f)).collect();
    let quoted: Vec<String> = new.iter().map(|f| format!("unknown field \"{f}\"")).collect();
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
    use crate::api::resources::{NADS, PODS};
    use serde_json::json;

    #[test]
    fn strict_fails_warn_warns_and_prunes_ignore_prunes() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"foo": 1, "containers": []}});
        let e = check_write(&PODS, FieldValidation::Strict, &mut pod.clone(), None).unwrap_err();
        assert_eq!(
            e.message,
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.foo\""
        );
        let mut warned = pod.clone();
        assert_eq!(
            check_write(&PODS, FieldValidation::Warn, &mut warned, None).unwrap(),
            ["unknown field \"spec.foo\""]
        );
        assert!(warned["spec"].get("foo").is_none());
        assert!(
            check_write(&PODS, FieldValidation::Warn, &mut pod.clone(), Some(&pod)).unwrap().is_empty(),
            "old news"
        );
        let mut ignored = pod.clone();
        assert!(check_write(&PODS, FieldValidation::Ignore, &mut ignored, None).unwrap().is_empty());
        assert!(ignored["spec"].get("foo").is_none());
        assert!(check_write(&NADS, FieldValidation::Strict, &mut json!({"spec": {"x": 1}}), None).unwrap().is_empty());
        assert_eq!(FieldValidation::parse(None).unwrap(), FieldValidation::Warn);
        assert_eq!(FieldValidation::parse(Some("x")).unwrap_err().code, 400);
    }
}
