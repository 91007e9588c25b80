//! The Kubernetes API access the plugin needs, per use: the one list `deploy/rbac.yaml` is tested against.
//!
//! Three cumulative levels: [`Use::Check`] (read-only, plus SelfSubjectAccessReviews), [`Use::Run`] (`run`,
//! `cancel`, `status`, `check --server-dry-run`) and [`Use::Probe`] (`--probe`, `probe`). Creating and deleting
//! VirtualMachineInstanceMigrations is what KubeVirt v1.5's `kubevirt.io:migrate` ClusterRole grants; the
//! aggregated `kubevirt.io:edit`/`admin` roles no longer do.
//!
//! The permissions `check` asks the API server about (SelfSubjectAccessReviews) must be a subset of this list, at
//! their level: run needs at [`Use::Run`], probe needs at [`Use::Probe`].

/// What the access is for; each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Use {
    /// `check`: reads only.
    Check,
    /// `run`, `cancel`, `status`, `check --server-dry-run`: create, follow and abort migrations.
    Run,
    /// The downtime probe: a prober pod or an ephemeral container, and exec into it.
    Probe,
}

impl Use {
    /// The ClusterRole of `deploy/rbac.yaml` that grants this level.
    pub fn cluster_role(self) -> &'static str {
        match self {
            Use::Check => "kubectl-vmmigrate-check",
            Use::Run => "kubectl-vmmigrate-run",
            Use::Probe => "kubectl-vmmigrate-probe",
        }
    }

    pub const ALL: [Use; 3] = [Use::Check, Use::Run, Use::Probe];
}

/// Verbs on one resource (`resource` or `resource/subresource`) of an API group (`""` = core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub level: Use,
    pub why: &'static str,
}

const fn access(
    level: Use,
    group: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
    why: &'static str,
) -> Access {
    Access { group, resource, verbs, level, why }
}

const KUBEVIRT: &str = "kubevirt.io";

/// Everything the plugin calls, in the order of `deploy/rbac.yaml`.
pub static ACCESS: &[Access] = &[
    // check
    access(Use::Check, KUBEVIRT, "virtualmachines", &["get", "list"], "the VMs to check"),
    access(Use::Check, KUBEVIRT, "virtualmachineinstances", &["get", "list"], "the running VMIs"),
    access(Use::Check, KUBEVIRT, "virtualmachineinstancemigrations", &["list"], "migrations in flight"),
    access(Use::Check, KUBEVIRT, "kubevirts", &["list"], "KubeVirt's migration configuration"),
    access(Use::Check, "migrations.kubevirt.io", "migrationpolicies", &["list"], "MigrationPolicies"),
    access(Use::Check, "", "pods", &["list"], "virt-launcher pods"),
    access(Use::Check, "", "nodes", &["list"], "candidate target nodes"),
    access(Use::Check, "", "persistentvolumeclaims", &["list"], "the VM's volumes"),
    access(Use::Check, "", "services", &["list"], "services selecting the VM"),
    access(Use::Check, "", "namespaces", &["get", "list"], "the namespaces in scope"),
    access(Use::Check, "storage.k8s.io", "storageclasses", &["list"], "volume storage classes"),
    access(Use::Check, "authorization.k8s.io", "selfsubjectaccessreviews", &["create"], "the permission checks"),
    // run
    access(
        Use::Run,
        KUBEVIRT,
        "virtualmachineinstancemigrations",
        &["create", "delete", "get", "watch"],
        "start, follow and abort the migration (kubevirt.io:migrate)",
    ),
    access(Use::Run, KUBEVIRT, "virtualmachineinstances", &["watch"], "follow the VMI's migrationState"),
    access(Use::Run, "", "pods", &["get"], "the source and target virt-launcher pods"),
    access(Use::Run, "", "pods/log", &["get"], "migration progress from virt-launcher logs"),
    access(Use::Run, "", "events", &["list"], "why a migration failed (its Warning events)"),
    // probe
    access(Use::Probe, "", "pods", &["create", "delete", "watch"], "the short-lived prober pod"),
    access(Use::Probe, "", "pods/ephemeralcontainers", &["patch"], "the ephemeral probe container"),
    // Websocket exec is a GET: since Kubernetes 1.31 it needs `create` as well as `get`.
    access(Use::Probe, "", "pods/exec", &["create", "get"], "run ping/curl in the probe"),
];

/// Whether `level` grants `verb` on `group`/`resource` (`resource/subresource` for subresources).
pub fn grants(level: Use, group: &str, resource: &str, verb: &str) -> bool {
    ACCESS.iter().any(|a| a.level <= level && a.group == group && a.resource == resource && a.verbs.contains(&verb))
}

/// The `(group, resource, verb)` triples granted at `level` (cumulative), sorted.
pub fn granted(level: Use) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out: Vec<_> = ACCESS
        .iter()
        .filter(|a| a.level <= level)
        .flat_map(|a| a.verbs.iter().map(move |v| (a.group, a.resource, *v)))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_cumulative_and_migrate_needs_run() {
        assert!(grants(Use::Run, KUBEVIRT, "virtualmachineinstancemigrations", "create"));
        assert!(!grants(Use::Check, KUBEVIRT, "virtualmachineinstancemigrations", "create"));
        assert!(grants(Use::Probe, KUBEVIRT, "virtualmachines", "list"), "probe includes check");
        assert!(!grants(Use::Run, "", "pods/exec", "create"));
        let (check, run, probe) = (granted(Use::Check), granted(Use::Run), granted(Use::Probe));
        assert!(check.len() < run.len() && run.len() < probe.len());
        assert!(check.iter().all(|g| run.contains(g)) && run.iter().all(|g| probe.contains(g)));
        let writes =
            |g: &Vec<(&str, &str, &str)>| g.iter().filter(|(_, _, v)| !matches!(*v, "get" | "list" | "watch")).count();
        assert_eq!(writes(&check), 1, "check only creates SelfSubjectAccessReviews");
    }
}
