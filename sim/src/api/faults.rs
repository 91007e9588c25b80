//! API faults a scenario can inject, to prove the plugin survives what real clusters do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::error::ApiError;

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

/// The faults of a running server, changeable while it runs, with the counters they need. Cheap to clone.
#[derive(Clone, Default)]
pub struct FaultsHandle {
    inner: Arc<Mutex<FaultState>>,
}

#[derive(Default)]
struct FaultState {
    faults: Faults,
    /// Creates seen per resource since the faults were set.
    creates: HashMap<String, u32>,
    /// Watch events sent in total since the faults were set.
    watch_events: u64,
    history_expired: bool,
}

impl FaultsHandle {
    pub fn new(faults: Faults) -> Self {
        Self { inner: Arc::new(Mutex::new(FaultState { faults, ..FaultState::default() })) }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic while holding this lock cannot leave the counters inconsistent in a way that matters.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The faults in force.
    pub fn get(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Replaces the faults and restarts their counters.
    pub fn set(&self, faults: Faults) {
        *self.lock() = FaultState { faults, ..FaultState::default() };
    }

    /// Changes the faults in place, keeping the counters.
    pub fn update(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.lock().faults)
    }

    /// Counts a create of `resource` and answers the injected error when this is one of the first `count`.
    pub fn create_error(&self, resource: &str) -> Option<ApiError> {
        let mut st = self.lock();
        let fault = st.faults.create_errors.iter().find(|f| f.resource == resource)?.clone();
        let seen = st.creates.entry(resource.to_string()).or_insert(0);
        *seen += 1;
        if *seen > fault.count {
            return None;
        }
        let mut e = if fault.code == 429 {
            ApiError::new(429, "TooManyRequests", "Too many requests, please try again later.")
        } else {
            ApiError::new(fault.code, "ServiceUnavailable", "the server is currently unable to handle the request")
        };
        e.retry_after = Some(fault.retry_after_seconds);
        Some(e)
    }

    /// Whether the simulated RBAC denies a request.
    pub fn denies(&self, verb: &str, group: &str, resource: &str, sub: Option<&str>, ns: Option<&str>) -> bool {
        self.lock().faults.deny.iter().any(|d| d.covers(verb, group, resource, sub, ns))
    }

    pub fn drop_watch_after(&self) -> Option<u32> {
        self.lock().faults.drop_watch_after_events
    }

    /// Counts one watch event sent; true exactly once, when the history must be expired now.
    pub fn count_watch_event(&self) -> bool {
        let mut st = self.lock();
        st.watch_events += 1;
        match st.faults.expire_history_after_events {
            Some(n) if !st.history_expired && st.watch_events >= u64::from(n) => {
                st.history_expired = true;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_creates_fail_then_pass_and_set_resets() {
        let h = FaultsHandle::new(Faults {
            create_errors: vec![CreateFault { resource: "pods".into(), count: 2, code: 429, retry_after_seconds: 3 }],
            ..Faults::default()
        });
        let e = h.create_error("pods").unwrap();
        assert_eq!((e.code, e.reason.as_str(), e.retry_after), (429, "TooManyRequests", Some(3)));
        assert!(h.create_error("configmaps").is_none());
        assert!(h.create_error("pods").is_some());
        assert!(h.create_error("pods").is_none());
        h.set(h.get());
        assert!(h.create_error("pods").is_some());
    }

    #[test]
    fn history_expiry_fires_once() {
        let h = FaultsHandle::new(Faults { expire_history_after_events: Some(2), ..Faults::default() });
        assert_eq!([h.count_watch_event(), h.count_watch_event(), h.count_watch_event()], [false, true, false]);
    }

    #[test]
    fn denials_match_verb_resource_and_namespace() {
        let h = FaultsHandle::default();
        h.update(|f| {
            f.deny.push(Denial {
                verb: "create".into(),
                resource: "pods/exec".into(),
                group: None,
                namespace: Some("a".into()),
            })
        });
        assert!(h.denies("create", "", "pods", Some("exec"), Some("a")));
        assert!(!h.denies("create", "", "pods", Some("exec"), Some("b")));
        assert!(!h.denies("get", "", "pods", Some("exec"), Some("a")));
        assert!(!h.denies("create", "", "pods", None, Some("a")));
    }
}
