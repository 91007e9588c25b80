//! The resource types the simulated API server serves, as discovery describes them.

/// One served resource (a kind at one group/version).
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    /// Subresources served besides the main resource (`status`, `log`, `exec`, ...).
    pub subresources: &'static [&'static str],
    /// Verbs listed in discovery for the main resource.
    pub verbs: &'static [&'static str],
    pub categories: &'static [&'static str],
}

impl ResourceType {
    /// `apiVersion` of objects of this type: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `plural` or `plural.group`, as the API server names a resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// Whether a `status` subresource exists (then writes of the main resource ignore status).
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    /// Whether this is a built-in kind (Go struct field order) rather than a custom resource.
    pub fn is_builtin(&self) -> bool {
        !(self.group.ends_with("kubevirt.io") || self.group == "k8s.cni.cncf.io")
    }
}

const RW: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

macro_rules! rt {
    ($group:literal, $version:literal, $kind:literal, $plural:literal, $singular:literal, [$($short:literal),*], $ns:literal, [$($sub:literal),*], $verbs:expr, [$($cat:literal),*]) => {
        ResourceType {
            group: $group, version: $version, kind: $kind, plural: $plural, singular: $singular,
            short_names: &[$($short),*], namespaced: $ns, subresources: &[$($sub),*], verbs: $verbs,
            categories: &[$($cat),*],
        }
    };
}

pub static NAMESPACES: ResourceType = rt!(
    "",
    "v1",
    "Namespace",
    "namespaces",
    "namespace",
    ["ns"],
    false,
    ["status"],
    &["create", "delete", "get", "list", "patch", "update", "watch"],
    []
);
pub static NODES: ResourceType = rt!("", "v1", "Node", "nodes", "node", ["no"], false, ["status"], RW, []);
pub static PODS: ResourceType = rt!(
    "",
    "v1",
    "Pod",
    "pods",
    "pod",
    ["po"],
    true,
    ["status", "log", "exec", "ephemeralcontainers", "eviction", "attach"],
    RW,
    ["all"]
);
pub static SERVICES: ResourceType = rt!(
    "",
    "v1",
    "Service",
    "services",
    "service",
    ["svc"],
    true,
    ["status"],
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    ["all"]
);
pub static PVCS: ResourceType = rt!(
    "",
    "v1",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    ["pvc"],
    true,
    ["status"],
    RW,
    []
);
pub static EVENTS: ResourceType = rt!("", "v1", "Event", "events", "event", ["ev"], true, [], RW, []);
pub static CONFIGMAPS: ResourceType = rt!("", "v1", "ConfigMap", "configmaps", "configmap", ["cm"], true, [], RW, []);
pub static STORAGE_CLASSES: ResourceType =
    rt!("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", ["sc"], false, [], RW, []);
pub static SSAR: ResourceType = rt!(
    "authorization.k8s.io",
    "v1",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    "selfsubjectaccessreview",
    [],
    false,
    [],
    &["create"],
    []
);
pub static VMS: ResourceType = rt!(
    "kubevirt.io",
    "v1",
    "VirtualMachine",
    "virtualmachines",
    "virtualmachine",
    ["vm", "vms"],
    true,
    ["status"],
    RW,
    ["all"]
);
pub static VMIS: ResourceType = rt!(
    "kubevirt.io",
    "v1",
    "VirtualMachineInstance",
    "virtualmachineinstances",
    "virtualmachineinstance",
    ["vmi", "vmis"],
    true,
    [],
    RW,
    ["all"]
);
pub static VMIMS: ResourceType = rt!(
    "kubevirt.io",
    "v1",
    "VirtualMachineInstanceMigration",
    "virtualmachineinstancemigrations",
    "virtualmachineinstancemigration",
    ["vmim", "vmims"],
    true,
    ["status"],
    RW,
    ["all"]
);
pub static KUBEVIRTS: ResourceType =
    rt!("kubevirt.io", "v1", "KubeVirt", "kubevirts", "kubevirt", ["kv", "kvs"], true, ["status"], RW, ["all"]);
pub static MIGRATION_POLICIES: ResourceType = rt!(
    "migrations.kubevirt.io",
    "v1alpha1",
    "MigrationPolicy",
    "migrationpolicies",
    "migrationpolicy",
    [],
    false,
    ["status"],
    RW,
    ["all"]
);
pub static CLUSTER_INSTANCETYPES: ResourceType = rt!(
    "instancetype.kubevirt.io",
    "v1beta1",
    "VirtualMachineClusterInstancetype",
    "virtualmachineclusterinstancetypes",
    "virtualmachineclusterinstancetype",
    ["vmclusterinstancetype", "vmclusterinstancetypes", "vmcf", "vmcfs"],
    false,
    [],
    RW,
    []
);
pub static DATAVOLUMES: ResourceType = rt!(
    "cdi.kubevirt.io",
    "v1beta1",
    "DataVolume",
    "datavolumes",
    "datavolume",
    ["dv", "dvs"],
    true,
    ["status"],
    RW,
    ["all"]
);
pub static NADS: ResourceType = rt!(
    "k8s.cni.cncf.io",
    "v1",
    "NetworkAttachmentDefinition",
    "network-attachment-definitions",
    "network-attachment-definition",
    ["net-attach-def"],
    true,
    [],
    RW,
    []
);

/// Every served resource type.
pub static ALL: &[&ResourceType] = &[
    &NAMESPACES,
    &NODES,
    &PODS,
    &SERVICES,
    &PVCS,
    &EVENTS,
    &CONFIGMAPS,
    &STORAGE_CLASSES,
    &SSAR,
    &VMS,
    &VMIS,
    &VMIMS,
    &KUBEVIRTS,
    &MIGRATION_POLICIES,
    &CLUSTER_INSTANCETYPES,
    &DATAVOLUMES,
    &NADS,
];

/// Finds a type by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    ALL.iter().copied().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a type by apiVersion and kind (as written in an object).
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    ALL.iter().copied().find(|r| r.api_version() == api_version && r.kind == kind)
}
