//! The permissions a migration (and the downtime probe) needs, and the check over the access reviews.

use super::snapshot::AccessResult;
use super::{Check, Status};

/// One permission to ask the API server about with a SelfSubjectAccessReview.
#[derive(Debug, PartialEq, Eq)]
pub struct Need {
    /// Check id.
    pub id: &'static str,
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    /// Only checked with `--probe`.
    pub probe_only: bool,
    /// What a denial means for the verdict.
    pub severity: Status,
    /// What the permission is for.
    pub purpose: &'static str,
}

const VMIMS: &str = "virtualmachineinstancemigrations";
const VMIS: &str = "virtualmachineinstances";

/// Every permission checked, in output order.
pub static NEEDS: [Need; 9] = [
    need("permission.vmim-create", "create", "kubevirt.io", VMIMS, None, false, Status::Fail, "start a migration"),
    need("permission.vmim-watch", "watch", "kubevirt.io", VMIMS, None, false, Status::Fail, "follow the migration"),
    need("permission.vmim-delete", "delete", "kubevirt.io", VMIMS, None, false, Status::Warn, "abort a migration"),
    need("permission.vmi-get", "get", "kubevirt.io", VMIS, None, false, Status::Fail, "read the VMI"),
    need(
        "permission.vmi-watch",
        "watch",
        "kubevirt.io",
        VMIS,
        None,
        false,
        Status::Warn,
        "follow the VMI's migrationState",
    ),
    need(
        "permission.pods-log",
        "get",
        "",
        "pods",
        Some("log"),
        false,
        Status::Warn,
        "read progress from virt-launcher logs",
    ),
    need("permission.pods-create", "create", "", "pods", None, true, Status::Fail, "start the prober pod"),
    need(
        "permission.pods-ephemeralcontainers",
        "patch",
        "",
        "pods",
        Some("ephemeralcontainers"),
        true,
        Status::Fail,
        "attach the debug probe container",
    ),
    need("permission.pods-exec", "create", "", "pods", Some("exec"), true, Status::Fail, "run the probe tools"),
];

#[allow(clippy::too_many_arguments)]
const fn need(
    id: &'static str,
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: Option<&'static str>,
    probe_only: bool,
    severity: Status,
    purpose: &'static str,
) -> Need {
    Need { id, verb, group, resource, subresource, probe_only, severity, purpose }
}

impl Need {
    /// `virtualmachineinstancemigrations`, `pods/log`.
    pub fn resource_path(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_owned(),
        }
    }

    fn fix(&self, namespace: Option<&str>) -> String {
        let ns = namespace.map(|n| format!(" -n {n}")).unwrap_or_default();
        if self.resource == VMIMS {
            format!(
                "bind the kubevirt.io:migrate ClusterRole (needed since KubeVirt v1.5): kubectl create rolebinding \
                 vmmigrate --clusterrole=kubevirt.io:migrate --user=$(kubectl auth whoami -o jsonpath='{{.status.userInfo.username}}'){ns}"
            )
        } else {
            let scope = namespace.map(|n| format!(" in namespace {n}")).unwrap_or_else(|| " cluster-wide".into());
            format!(
                "grant {} on {}{scope} (e.g. bind the kubevirt.io:edit ClusterRole)",
                self.verb,
                self.resource_path()
            )
        }
    }
}

/// The permission checks for a VM in `namespace` from the access reviews of the snapshot.
pub fn checks(access: &[AccessResult], namespace: &str, probe: bool) -> Vec<Check> {
    NEEDS
        .iter()
        .filter(|n| probe || !n.probe_only)
        .map(|need| {
            let result = access
                .iter()
                .find(|a| a.need == need && a.namespace.as_deref() == Some(namespace))
                .or_else(|| access.iter().find(|a| a.need == need && a.namespace.is_none()));
            check(need, result, namespace)
        })
        .collect()
}

fn check(need: &Need, result: Option<&AccessResult>, namespace: &str) -> Check {
    let what = format!("{} {}", need.verb, need.resource_path());
    match result {
        None => Check::skip(need.id, format!("{what}: not reviewed")),
        Some(AccessResult { allowed: Err(why), .. }) => {
            Check::skip(need.id, format!("{what}: SelfSubjectAccessReview failed: {why}"))
        }
        Some(AccessResult { allowed: Ok(true), namespace: ns, .. }) => {
            let scope = ns.as_deref().map(|n| format!("in namespace {n}")).unwrap_or_else(|| "cluster-wide".into());
            Check::pass(need.id, format!("allowed to {what} {scope} ({})", need.purpose))
        }
        Some(AccessResult { allowed: Ok(false), namespace: Some(ns), .. }) => Check::new(
            need.id,
            need.severity,
            format!("not allowed to {what} in namespace {ns}: cannot {}", need.purpose),
        )
        .with_fix(need.fix(Some(ns))),
        // Reviewed cluster-wide only (many namespaces): a denial there may still be allowed per namespace.
        Some(AccessResult { allowed: Ok(false), namespace: None, .. }) => Check::warn(
            need.id,
            format!("not allowed to {what} cluster-wide (may be allowed in namespace {namespace}): {}", need.purpose),
            need.fix(Some(namespace)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(need: &'static Need, ns: Option<&str>, allowed: Result<bool, String>) -> AccessResult {
        AccessResult { need, namespace: ns.map(Into::into), allowed }
    }

    #[test]
    fn allowed_passes_and_denied_vmim_create_fails_naming_the_clusterrole() {
        let access: Vec<_> =
            NEEDS.iter().map(|n| result(n, Some("ns1"), Ok(n.id != "permission.vmim-create"))).collect();
        let checks = checks(&access, "ns1", false);
        assert_eq!(checks.len(), 6, "probe permissions are only checked with --probe");
        let create = &checks[0];
        assert_eq!((create.id, create.status), ("permission.vmim-create", Status::Fail));
        assert_eq!(
            create.reason,
            "not allowed to create virtualmachineinstancemigrations in namespace ns1: cannot start a migration"
        );
        assert!(create.fix.as_deref().unwrap().contains("kubevirt.io:migrate ClusterRole"));
        assert!(checks[1..].iter().all(|c| c.status == Status::Pass), "{checks:#?}");
    }

    #[test]
    fn probe_permissions_and_failed_reviews() {
        let access: Vec<_> = NEEDS
            .iter()
            .map(|n| match n.id {
                "permission.pods-exec" => result(n, Some("ns1"), Ok(false)),
                "permission.pods-log" => result(n, Some("ns1"), Err("boom".into())),
                _ => result(n, Some("ns1"), Ok(true)),
            })
            .collect();
        let checks = checks(&access, "ns1", true);
        assert_eq!(checks.len(), 9);
        let exec = checks.iter().find(|c| c.id == "permission.pods-exec").unwrap();
        assert_eq!(exec.status, Status::Fail);
        assert!(exec.fix.as_deref().unwrap().starts_with("grant create on pods/exec in namespace ns1"));
        let log = checks.iter().find(|c| c.id == "permission.pods-log").unwrap();
        assert_eq!(log.status, Status::Skip);
    }

    #[test]
    fn cluster_wide_denial_only_warns() {
        let access: Vec<_> = NEEDS.iter().map(|n| result(n, None, Ok(false))).collect();
        let checks = checks(&access, "ns9", false);
        assert!(checks.iter().all(|c| c.status == Status::Warn));
        assert!(checks[0].reason.contains("cluster-wide (may be allowed in namespace ns9)"));
    }
}
