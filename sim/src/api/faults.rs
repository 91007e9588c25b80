//! API faults a scenario can inject, to prove the plugin survives what real clusters do.

use serde::{Deserialize, Serialize};

/// Faults of the API server. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Faults {
    /// Close every watch connection after it has sent this many events (the client must rewatch).
    pub drop_watch_after_events: Option<u32>,
    /// After this many watch events in total, drop the whole watch history once, so that the next rewatch from
    /// a resourceVersion gets `410 Expired` (the client must relist).
    pub expire_history_after_events: Option<u32>,
    /// Answer the first `count` creates of a resource with an error and `Retry-After`.
    pub create_errors: Vec<CreateFault>,
    /// Requests the simulated RBAC denies with 403; SelfSubjectAccessReviews answer the same.
    pub deny: Vec<Denial>,
}

/// The first `count` creates of `resource` fail with `code` (429 TooManyRequests or 503 ServiceUnavailable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateFault {
    /// Plural resource name, for example `virtualmachineinstancemigrations`.
    pub resource: String,
    pub count: u32,
    #[serde(default = "default_fault_code")]
    pub code: u16,
    #[serde(default = "default_retry_after")]
    pub retry_after_seconds: u64,
}

fn default_fault_code() -> u16 {
    503
}
fn default_retry_after() -> u64 {
    1
}

/// An RBAC denial: `verb` on `resource` (optionally `resource/subresource`), in `namespace` or everywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Denial {
    /// A verb as RBAC names it (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`), or `*`.
    pub verb: String,
    /// Plural resource, optionally with `/subresource` (`pods/exec`, `pods/ephemeralcontainers`).
    pub resource: String,
    /// API group; `None` matches any group.
    #[serde(default)]
    pub group: Option<String>,
    /// `None` denies in every namespace and at cluster scope.
    #[serde(default)]
    pub namespace: Option<String>,
}

impl Denial {
    /// Whether this denial covers a request.
    pub fn covers(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        namespace: Option<&str>,
    ) -> bool {
        let res = match subresource {
            Some(s) => format!("{resource}/{s}"),
            None => resource.to_string(),
        };
        (self.verb == "*" || self.verb == verb)
            && self.resource == res
            && self.group.as_deref().is_none_or(|g| g == group)
            && self.namespace.as_deref().is_none_or(|n| Some(n) == namespace)
    }
}
