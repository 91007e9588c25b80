//! API errors as the Kubernetes API server returns them: a `metav1.Status` body with the real code and reason.

use serde_json::{Value, json};

use super::resources::ResourceType;

/// An error answer of the API server.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    /// `metav1.StatusReason`; empty for admission webhook denials, which carry none.
    pub reason: String,
    pub message: String,
    /// `details` of the Status, when there are any.
    pub details: Option<Value>,
    /// Seconds for a `Retry-After` header (429/503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self { code, reason: reason.into(), message: message.into(), details: None, retry_after: None }
    }

    fn with_details(mut self, rt: &ResourceType, name: &str) -> Self {
        let mut d = json!({ "group": rt.group, "kind": rt.plural });
        if !name.is_empty() {
            d["name"] = json!(name);
        }
        if rt.group.is_empty()
            && let Some(m) = d.as_object_mut()
        {
            m.remove("group");
        }
        self.details = Some(d);
        self
    }

    /// 404 `<plural>.<group> "<name>" not found`.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{}\" not found", rt.qualified(), name)).with_details(rt, name)
    }

    /// 404 for a namespace that does not exist (NamespaceLifecycle).
    pub fn namespace_not_found(ns: &str) -> Self {
        Self::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
            .with_details(&super::resources::NAMESPACES, ns)
    }

    /// 409 AlreadyExists.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{}\" already exists", rt.qualified(), name))
            .with_details(rt, name)
    }

    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                rt.qualified(),
                name
            ),
        )
        .with_details(rt, name)
    }

    /// 422 Invalid with causes `(field, message)`.
    pub fn invalid(rt: &ResourceType, kind: &str, name: &str, causes: &[(&str, &str)]) -> Self {
        let msg = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join(", ");
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{kind}.{} \"{name}\" is invalid: {msg}", rt.group.trim_start_matches('.')),
        )
        .with_details(rt, name);
        if rt.group.is_empty() {
            e.message = format!("{kind} \"{name}\" is invalid: {msg}");
        }
        if let Some(d) = e.details.as_mut() {
            d["kind"] = json!(kind);
            d["causes"] =
                causes.iter().map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f})).collect();
        }
        e
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 410 Expired, as a watch or a continue token meets a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 403 Forbidden for an RBAC denial.
    pub fn forbidden(
        user: &str,
        verb: &str,
        rt: &ResourceType,
        subresource: Option<&str>,
        ns: Option<&str>,
        name: &str,
    ) -> Self {
        let res = match subresource {
            Some(s) => format!("{}/{}", rt.plural, s),
            None => rt.plural.to_string(),
        };
        let group = if rt.group.is_empty() { "\"\"".to_string() } else { format!("\"{}\"", rt.group) };
        let scope = match ns {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        let what = if name.is_empty() { rt.qualified() } else { format!("{} \"{}\"", rt.qualified(), name) };
        Self::new(
            403,
            "Forbidden",
            format!(
                "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{res}\" in API group {group}{scope}"
            ),
        )
        .with_details(rt, name)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            s["reason"] = json!(self.reason);
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        if let Some(r) = self.retry_after {
            let d = s.as_object_mut().and_then(|m| {
                m.entry("details").or_insert_with(|| json!({}));
                m.get_mut("details")
            });
            if let Some(d) = d {
                d["retryAfterSeconds"] = json!(r);
            }
        }
        s
    }
}
