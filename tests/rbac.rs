//! `deploy/rbac.yaml` grants exactly what the plugin calls (`kubectl_vmmigrate::rbac::ACCESS`), level by level.

use std::collections::BTreeSet;

use kubectl_vmmigrate::rbac::{self, Use};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Role {
    api_version: String,
    kind: String,
    metadata: Metadata,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

type Grant = (String, String, String);

fn roles() -> Vec<Role> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/rbac.yaml")).unwrap();
    let docs: Vec<Option<Role>> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("rbac.yaml: {e}"));
    docs.into_iter().flatten().collect()
}

/// Every (group, resource, verb) a role grants; wildcards are refused.
fn expand(role: &Role) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in &role.rules {
        assert!(!rule.api_groups.is_empty() && !rule.resources.is_empty() && !rule.verbs.is_empty(), "{rule:?}");
        for group in &rule.api_groups {
            for resource in &rule.resources {
                for verb in &rule.verbs {
                    assert!(![group, resource, verb].iter().any(|s| s.contains('*')), "no wildcards: {rule:?}");
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

fn expected(level: Use) -> BTreeSet<Grant> {
    rbac::granted(level).into_iter().map(|(g, r, v)| (g.into(), r.into(), v.into())).collect()
}

#[test]
fn each_cluster_role_grants_exactly_what_its_level_needs() {
    let roles = roles();
    let names: Vec<&str> = roles.iter().map(|r| r.metadata.name.as_str()).collect();
    assert_eq!(names, Use::ALL.map(Use::cluster_role));
    for (role, level) in roles.iter().zip(Use::ALL) {
        assert_eq!((role.api_version.as_str(), role.kind.as_str()), ("rbac.authorization.k8s.io/v1", "ClusterRole"));
        let granted = expand(role);
        let want = expected(level);
        let extra: Vec<_> = granted.difference(&want).collect();
        let missing: Vec<_> = want.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{}: grants more than src/rbac.rs lists: {extra:?}; lacks: {missing:?}",
            role.metadata.name
        );
    }
}

#[test]
fn run_is_what_kubevirt_v1_5_migrate_role_adds_and_check_writes_nothing() {
    let roles = roles();
    let grants = |i: usize| expand(&roles[i]);
    let vmim =
        |verb: &str| ("kubevirt.io".to_string(), "virtualmachineinstancemigrations".to_string(), verb.to_string());
    assert!(grants(1).contains(&vmim("create")) && grants(1).contains(&vmim("delete")));
    assert!(!grants(0).contains(&vmim("create")));
    let writes: Vec<Grant> =
        grants(0).into_iter().filter(|(_, _, v)| !matches!(v.as_str(), "get" | "list" | "watch")).collect();
    assert_eq!(writes, [("authorization.k8s.io".into(), "selfsubjectaccessreviews".into(), "create".into())]);
}

/// Writes the roles grant that no SelfSubjectAccessReview of `check` asks about, and why.
const UNREVIEWED_WRITES: [(&str, &str, &str, &str); 2] = [
    ("authorization.k8s.io", "selfsubjectaccessreviews", "create", "the access reviews themselves"),
    ("", "pods", "delete", "removing the plugin's own prober pod"),
];

/// The permissions `check` asks the API server about (its SelfSubjectAccessReviews) are granted at their level
/// (probe needs by the probe role, the others by the run role), and every write verb the roles grant is one of
/// them, except [`UNREVIEWED_WRITES`].
#[test]
fn check_access_reviews_ask_exactly_for_the_writes_the_roles_grant() {
    use kubectl_vmmigrate::check::permissions::NEEDS;
    let roles = roles();
    let mut reviewed = BTreeSet::new();
    for need in NEEDS.iter() {
        let level = if need.probe_only { Use::Probe } else { Use::Run };
        let grant: Grant = (need.group.into(), need.resource_path(), need.verb.into());
        let role = &roles[level as usize];
        assert!(expand(role).contains(&grant), "{}: {grant:?} is not granted by {}", need.id, role.metadata.name);
        reviewed.insert(grant);
    }
    let probe = expand(&roles[Use::Probe as usize]);
    for grant in probe.iter().filter(|(_, _, verb)| !matches!(verb.as_str(), "get" | "list" | "watch")) {
        let exempt =
            UNREVIEWED_WRITES.iter().any(|(g, r, v, _)| (*g, *r, *v) == (&grant.0[..], &grant.1[..], &grant.2[..]));
        assert!(reviewed.contains(grant) || exempt, "{grant:?} is granted but check never asks for it");
    }
}
