//! SelfSubjectAccessReviews, answered from the simulated RBAC (allowed unless a [`Denial`] covers it).
//!
//! [`Denial`]: super::faults::Denial

use axum::response::Response;
use serde_json::{Value, json};

use super::error::ApiError;
use super::server::{ApiState, Ctx, USER, json_response};

/// The status of a review: what RBAC answers for `attrs` (`spec.resourceAttributes`).
pub fn decide(st: &ApiState, attrs: &Value) -> Value {
    let s = |f: &str| attrs[f].as_str().filter(|v| !v.is_empty());
    let denied = st.faults.denies(
        s("verb").unwrap_or(""),
        s("group").unwrap_or(""),
        s("resource").unwrap_or(""),
        s("subresource"),
        s("namespace"),
    );
    if denied {
        // RBAC has no opinion on what no rule grants: not allowed, no reason.
        json!({"allowed": false})
    } else {
        json!({
            "allowed": true,
            "reason": format!(
                "RBAC: allowed by ClusterRoleBinding \"vmmigrate-sim-admin\" of ClusterRole \"cluster-admin\" to User \"{USER}\""
            )
        })
    }
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` (JSON only; kubectl's protobuf gets 415).
pub fn review(st: &ApiState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.json_body()?;
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = match spec.get("resourceAttributes") {
        Some(attrs) => decide(st, attrs),
        None if spec.get("nonResourceAttributes").is_some() => json!({"allowed": true}),
        None => {
            return Err(ApiError::new(
                422,
                "Invalid",
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
    };
    Ok(json_response(
        201,
        &json!({
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": spec,
            "status": status
        }),
    ))
}
