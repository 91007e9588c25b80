//! The effective migration configuration (kubevirt.md §6): KubeVirt CR `spec.configuration.migrations` over the
//! v1.5 defaults, then the best-matching MigrationPolicy's overrides.

use serde_json::{Map, Value, json};

use super::quantity;

/// The v1.5.2 defaults, serialised as KubeVirt writes them into `migrationState.migrationConfiguration`.
pub fn defaults() -> Map<String, Value> {
    let v = json!({
        "allowAutoConverge": false,
        "allowPostCopy": false,
        "bandwidthPerMigration": "0",
        "completionTimeoutPerGiB": 150,
        "nodeDrainTaintKey": "kubevirt.io/drain",
        "parallelMigrationsPerCluster": 5,
        "parallelOutboundMigrationsPerNode": 2,
        "progressTimeout": 150,
        "unsafeMigrationOverride": false,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// `allowWorkloadDisruption` follows `allowPostCopy` when unset.
fn settle_workload_disruption(c: &mut Map<String, Value>) {
    if !c.contains_key("allowWorkloadDisruption") {
        let pc = c.get("allowPostCopy").cloned().unwrap_or(json!(false));
        c.insert("allowWorkloadDisruption".into(), pc);
    }
}

/// The cluster-wide configuration: the CR's fields unmarshalled over the defaults.
pub fn cluster(kubevirt: Option<&Value>) -> Map<String, Value> {
    let mut c = defaults();
    if let Some(m) = kubevirt.and_then(|kv| kv.pointer("/spec/configuration/migrations")).and_then(Value::as_object) {
        for (k, v) in m {
            c.insert(k.clone(), v.clone());
        }
    }
    settle_workload_disruption(&mut c);
    c
}

const POLICY_OVERRIDES: [&str; 5] = [
    "allowAutoConverge",
    "bandwidthPerMigration",
    "completionTimeoutPerGiB",
    "allowPostCopy",
    "allowWorkloadDisruption",
];

fn labels(obj: &Value) -> Map<String, Value> {
    obj.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// How well a policy matches: `(total labels matched, VMI labels matched)`, or `None` when it does not.
fn policy_score(policy: &Value, vmi: &Value, namespace: Option<&Value>) -> Option<(usize, usize)> {
    let selectors = policy.pointer("/spec/selectors").filter(|s| s.is_object())?;
    let matches = |sel: Option<&Value>, labels: &Map<String, Value>| -> Option<usize> {
        let sel = sel.and_then(Value::as_object);
        let sel = match sel {
            Some(s) => s,
            None => return Some(0),
        };
        sel.iter().all(|(k, v)| labels.get(k) == Some(v)).then_some(sel.len())
    };
    let ns_labels = namespace.map(labels).unwrap_or_default();
    let vmi_n = matches(selectors.get("virtualMachineInstanceSelector"), &labels(vmi))?;
    let ns_n = matches(selectors.get("namespaceSelector"), &ns_labels)?;
    Some((vmi_n + ns_n, vmi_n))
}

/// The best policy for a VMI: most matched labels, then most VMI labels, then the smallest name.
pub fn best_policy<'a>(policies: &'a [Value], vmi: &Value, namespace: Option<&Value>) -> Option<&'a Value> {
    let name = |p: &Value| p.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    policies
        .iter()
        .filter_map(|p| policy_score(p, vmi, namespace).map(|s| (s, p)))
        .max_by(|(sa, pa), (sb, pb)| sa.cmp(sb).then_with(|| name(pb).cmp(&name(pa))))
        .map(|(_, p)| p)
}

/// The effective configuration and the name of the policy that overrode something.
pub fn effective(
    kubevirt: Option<&Value>,
    policies: &[Value],
    vmi: &Value,
    namespace: Option<&Value>,
) -> (Map<String, Value>, Option<String>) {
    let mut c = cluster(kubevirt);
    let Some(policy) = best_policy(policies, vmi, namespace) else {
        return (c, None);
    };
    let spec = policy.get("spec").cloned().unwrap_or(Value::Null);
    let mut overridden = false;
    for k in POLICY_OVERRIDES {
        if let Some(v) = spec.get(k).filter(|v| !v.is_null()) {
            c.insert(k.into(), v.clone());
            overridden = true;
        }
    }
    if spec.get("allowWorkloadDisruption").is_none()
        && let Some(pc) = spec.get("allowPostCopy").filter(|v| !v.is_null())
    {
        c.insert("allowWorkloadDisruption".into(), pc.clone());
    }
    let name = policy.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string);
    (c, if overridden { name } else { None })
}

/// A numeric field of a configuration.
pub fn number(c: &Map<String, Value>, key: &str) -> Option<f64> {
    c.get(key).and_then(quantity::parse_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KV: &str = include_str!("../../../testdata/kubevirt/kubevirt-cr.json");
    const POLICY: &str = include_str!("../../../testdata/kubevirt/migrationpolicy.json");
    const VMI: &str = include_str!("../../../testdata/kubevirt/vmi-migrating.json");

    #[test]
    fn cluster_config_matches_the_fixture_migration_configuration() {
        let kv: Value = serde_json::from_str(KV).unwrap();
        let vmi: Value = serde_json::from_str(VMI).unwrap();
        let policy: Value = serde_json::from_str(POLICY).unwrap();
        let ns = json!({"metadata": {"name": "tenant-root", "labels": {"kubernetes.io/metadata.name": "tenant-root"}}});
        let (c, name) = effective(Some(&kv), &[policy], &vmi, Some(&ns));
        assert_eq!(Value::Object(c), vmi["status"]["migrationState"]["migrationConfiguration"]);
        assert_eq!(name, None, "the seed policy's VMI selector does not match");
        let none = cluster(None);
        assert_eq!(none["allowWorkloadDisruption"], json!(false));
        assert_eq!(none["parallelMigrationsPerCluster"], json!(5));
    }

    #[test]
    fn best_policy_overrides_and_is_named() {
        let kv: Value = serde_json::from_str(KV).unwrap();
        let mut vmi: Value = serde_json::from_str(VMI).unwrap();
        vmi["metadata"]["labels"]["workload-class"] = json!("bulk-storage");
        let policy: Value = serde_json::from_str(POLICY).unwrap();
        let mut broad = policy.clone();
        broad["metadata"]["name"] = json!("a-broad");
        broad["spec"] = json!({"selectors": {"namespaceSelector": {"kubernetes.io/metadata.name": "tenant-root"}}, "allowPostCopy": true});
        let mut empty = policy.clone();
        empty["metadata"]["name"] = json!("0-nothing");
        empty["spec"] = json!({"selectors": {"virtualMachineInstanceSelector": {"workload-class": "bulk-storage"}, "namespaceSelector": {"kubernetes.io/metadata.name": "tenant-root"}}});
        let ns = json!({"metadata": {"labels": {"kubernetes.io/metadata.name": "tenant-root"}}});
        // `0-nothing` and the fixture policy tie on labels; the smaller name wins but overrides nothing.
        let policies = [policy.clone(), broad.clone(), empty];
        let (_, name) = effective(Some(&kv), &policies, &vmi, Some(&ns));
        assert_eq!(name, None);
        let policies = [policy, broad];
        let (c, name) = effective(Some(&kv), &policies, &vmi, Some(&ns));
        assert_eq!(name.as_deref(), Some("tenant-root-bulk-storage"));
        assert_eq!(c["completionTimeoutPerGiB"], json!(300));
        assert_eq!(c["bandwidthPerMigration"], json!("512Mi"));
        vmi["metadata"]["labels"]["workload-class"] = json!("other");
        let (c, name) = effective(Some(&kv), &policies, &vmi, Some(&ns));
        assert_eq!(name.as_deref(), Some("a-broad"));
        assert_eq!((c["allowPostCopy"].clone(), c["allowWorkloadDisruption"].clone()), (json!(true), json!(true)));
    }
}
