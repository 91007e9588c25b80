//! The scenario file format: a concise description of a cluster (not raw Kubernetes objects) that
//! [`super::Scenario::apply`] turns into the objects a Kubernetes v1.34 + KubeVirt v1.5 cluster serves.
//!
//! Every struct denies unknown fields, so a typo is one error naming the field. Field names are camelCase.
//! `sim/README.md` documents every field with examples.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::faults::Faults;
use crate::kubevirt::behaviour::MigrationBehaviour;

/// A whole scenario file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Free text shown nowhere but useful to readers of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub cluster: Cluster,
    /// Named CPU profiles (what KubeVirt's node-labeller finds on a host); nodes refer to them by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cpu_profiles: BTreeMap<String, CpuProfile>,
    pub nodes: Vec<Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vms: Vec<Vm>,
    /// Migration behaviour of every VM that has no `migration` of its own.
    #[serde(default)]
    pub migration_defaults: MigrationBehaviour,
    #[serde(default, skip_serializing_if = "is_default")]
    pub faults: Faults,
    /// Container images the probe emulation knows, with what they lack (consumed by the probe emulation).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, ImageTools>,
    /// Extra objects created as given (apiVersion, kind and metadata.name required), after everything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw_objects: Vec<Value>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Cluster-wide settings and objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// Kubernetes version the API server reports (`/version` gitVersion) and nodes' kubelets run.
    #[serde(default = "default_k8s_version")]
    pub kubernetes_version: String,
    #[serde(default)]
    pub kubevirt: KubeVirt,
    /// Namespaces created besides those the VMs, NADs and KubeVirt use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_classes: Vec<StorageClass>,
    /// Multus NetworkAttachmentDefinitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nads: Vec<Nad>,
    /// VirtualMachineClusterInstancetypes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instancetypes: Vec<Instancetype>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migration_policies: Vec<MigrationPolicy>,
}

impl Default for Cluster {
    fn default() -> Self {
        Self {
            kubernetes_version: default_k8s_version(),
            kubevirt: KubeVirt::default(),
            namespaces: Vec::new(),
            storage_classes: Vec::new(),
            nads: Vec::new(),
            instancetypes: Vec::new(),
            migration_policies: Vec::new(),
        }
    }
}

fn default_k8s_version() -> String {
    "v1.34.1".into()
}

/// The KubeVirt installation: its CR `spec.configuration`, in KubeVirt's own field names where it is passed through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeVirt {
    #[serde(default = "default_kv_version")]
    pub version: String,
    #[serde(default = "default_kv_namespace")]
    pub namespace: String,
    #[serde(default = "default_kv_name")]
    pub name: String,
    /// `spec.configuration.evictionStrategy` (`LiveMigrate`, `LiveMigrateIfPossible`, `External`, `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_strategy: Option<String>,
    /// `spec.configuration.vmRolloutStrategy` (`Stage` or `LiveUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_rollout_strategy: Option<String>,
    /// `spec.configuration.developerConfiguration.featureGates`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_gates: Vec<String>,
    /// `spec.configuration.migrations` as KubeVirt spells it (`MigrationConfiguration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<Value>,
    /// `spec.configuration.network.binding`: binding plugin name → `InterfaceBindingPlugin`
    /// (a `migration: {}` stanza makes pod-network interfaces using it migratable).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub network_bindings: BTreeMap<String, Value>,
    /// More `spec.configuration` fields, passed through (`virtualMachineOptions`, `cpuModel`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_configuration: BTreeMap<String, Value>,
    /// `spec.monitorNamespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_namespace: Option<String>,
    /// The KubeVirt CR's `metadata.labels` / `annotations`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Create a `virt-handler-*` pod per node in the KubeVirt namespace (the target address of migrations).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub handler_pods: bool,
}

impl Default for KubeVirt {
    fn default() -> Self {
        Self {
            version: default_kv_version(),
            namespace: default_kv_namespace(),
            name: default_kv_name(),
            eviction_strategy: None,
            vm_rollout_strategy: None,
            feature_gates: Vec::new(),
            migrations: None,
            network_bindings: BTreeMap::new(),
            extra_configuration: BTreeMap::new(),
            monitor_namespace: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            handler_pods: true,
        }
    }
}

fn default_kv_version() -> String {
    "v1.5.2".into()
}
fn default_kv_namespace() -> String {
    "kubevirt".into()
}
fn default_kv_name() -> String {
    "kubevirt".into()
}

/// A StorageClass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageClass {
    pub name: String,
    #[serde(default = "default_provisioner")]
    pub provisioner: String,
    /// Marks it with `storageclass.kubernetes.io/is-default-class: "true"`; VM volumes without a class use it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    #[serde(default = "default_binding_mode")]
    pub volume_binding_mode: String,
}

fn default_provisioner() -> String {
    "linstor.csi.linbit.com".into()
}
fn default_binding_mode() -> String {
    "WaitForFirstConsumer".into()
}

/// A Multus NetworkAttachmentDefinition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nad {
    pub namespace: String,
    pub name: String,
    /// `spec.config`, the CNI configuration JSON; a Kube-OVN one is made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// A VirtualMachineClusterInstancetype.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instancetype {
    pub name: String,
    /// `spec.cpu.guest` (vCPUs).
    pub cpu: u32,
    /// `spec.memory.guest`, a Kubernetes quantity such as `4Gi`.
    pub memory: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A cluster-scoped MigrationPolicy; `spec` is passed through as KubeVirt spells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrationPolicy {
    pub name: String,
    pub spec: Value,
}

/// What KubeVirt's node-labeller finds on a host, turned into node labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuProfile {
    /// `cpu-vendor.node.kubevirt.io/<vendor>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// The libvirt host model: `host-model-cpu.node.kubevirt.io/<m>` and `cpu-model-migration.node.kubevirt.io/<m>`.
    /// Absent: the host model is not usable, so host-model VMIs on such a node are not migratable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_model: Option<String>,
    /// `host-model-required-features.node.kubevirt.io/<f>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_features: Vec<String>,
    /// `cpu-feature.node.kubevirt.io/<f>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Usable named models: `cpu-model.node.kubevirt.io/<m>` and `cpu-model-migration.node.kubevirt.io/<m>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// `cpu-timer.node.kubevirt.io/tsc-frequency` and `scheduling.node.kubevirt.io/tsc-frequency-<Hz>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsc_frequency: Option<u64>,
    /// `cpu-timer.node.kubevirt.io/tsc-scalable`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tsc_scalable: bool,
    /// `hyperv.node.kubevirt.io/<f>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hyperv: Vec<String>,
    /// `machine-type.node.kubevirt.io/<m>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_types: Vec<String>,
}

/// A node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    pub name: String,
    /// `spec.unschedulable` plus the `node.kubernetes.io/unschedulable:NoSchedule` taint.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cordoned: bool,
    /// The `Ready` condition.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ready: bool,
    /// The `kubevirt.io/schedulable` label virt-handler's heartbeat writes.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub schedulable: bool,
    /// Name of a `cpuProfiles` entry; absent: the node carries no node-labeller CPU labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Labels besides the generated ones (a generated label can be overridden here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub allocatable: NodeResources,
    /// Defaults to `allocatable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<NodeResources>,
    /// Extended resources: `devices.kubevirt.io/<name>` → quantity (default kvm, tun, vhost-net: `1k`).
    #[serde(default = "default_devices")]
    pub devices: BTreeMap<String, String>,
    /// `status.addresses` InternalIP; made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_ip: Option<String>,
    /// `spec.podCIDR`; made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
}

fn default_devices() -> BTreeMap<String, String> {
    ["kvm", "tun", "vhost-net"].iter().map(|d| (d.to_string(), "1k".to_string())).collect()
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: String,
}

/// Node capacity or allocatable resources (Kubernetes quantities).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResources {
    pub cpu: String,
    pub memory: String,
    #[serde(default = "default_pods")]
    pub pods: String,
}

impl Default for NodeResources {
    fn default() -> Self {
        Self { cpu: "16".into(), memory: "64Gi".into(), pods: default_pods() }
    }
}

fn default_pods() -> String {
    "110".into()
}

/// A VirtualMachine (and, when running, its VMI and virt-launcher pod).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vm {
    pub namespace: String,
    pub name: String,
    /// `runStrategy: Always` with a Running VMI, or `Halted` (no VMI, printableStatus Stopped).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub running: bool,
    /// Node the VMI runs on (required when running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// A `cluster.instancetypes` name; otherwise `cpu` and `memory` are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instancetype: Option<String>,
    /// vCPUs (cores) without an instancetype; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Guest memory without an instancetype; default `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `domain.cpu.model`: `host-model` (the default), `host-passthrough` or a named model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// `domain.machine.type` (default `q35`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// Puts `kubevirt.io/allow-pod-bridge-network-live-migration: "true"` on the VM template (and so the VMI).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_pod_bridge_migration: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// PCI host devices (`deviceName`s): `domain.devices.hostDevices`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_devices: Vec<String>,
    /// GPUs (`deviceName`s): `domain.devices.gpus`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
    /// `domain.launchSecurity.sev`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sev: bool,
    /// `domain.features.hyperv.reenlightenment` (migratable only where the node exposes a TSC frequency).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hyperv_reenlightenment: bool,
    /// `domain.features.hypervPassthrough`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hyperv_passthrough: bool,
    /// `spec.template.spec.evictionStrategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations as Kubernetes spells them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Value>,
    /// Labels of the VM, its template, the VMI and the virt-launcher pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the VM object only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Annotations of the VM template, the VMI and the virt-launcher pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub template_annotations: BTreeMap<String, String>,
    /// Whether the guest agent is connected (AgentConnected condition, guest-agent interface info).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub guest_agent: bool,
    /// Name of the virt-launcher pod; default `virt-launcher-<vm>-<5 chars derived from the VM's name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher_pod: Option<String>,
    /// `spec.template.spec.domain.firmware.uuid`; derived from the VM's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// This VM's migration behaviour (default: the scenario's `migrationDefaults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationBehaviour>,
}

/// A VM network and its interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    pub name: String,
    /// The NAD (`ns/name`, or `name` in the VM's namespace) of a Multus network; absent: the pod network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multus: Option<String>,
    /// `bridge`, `masquerade`, `sriov`, `passt` or `slirp` (core bindings); any other name is a network binding
    /// plugin (`interfaces[].binding.name`), registered in `cluster.kubevirt.networkBindings`.
    #[serde(default = "default_binding")]
    pub binding: String,
    /// The guest's IPv4 address on this network; pod network: made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Made up from the VM and network names when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

fn default_binding() -> String {
    "masquerade".into()
}

/// A VM volume and its disk. Exactly one source: `dataVolume`, `pvc`, `containerDisk`, `cloudInitNoCloud` or
/// `hostDisk`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    /// A DataVolume of this name (and its PVC) is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_volume: Option<String>,
    /// A PVC of this name is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<String>,
    /// A containerDisk image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_disk: Option<String>,
    /// cloud-init NoCloud user data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init_no_cloud: Option<String>,
    /// Path of a hostDisk image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_disk: Option<String>,
    /// hostDisk `shared`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared: bool,
    /// PVC/DV size (default `10Gi`; hostDisk capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// PVC/DV access mode: `ReadWriteMany` (default), `ReadWriteOnce`, `ReadOnlyMany`, `ReadWriteOncePod`, or the
    /// short forms `RWX`, `RWO`, `ROX`, `RWOP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<String>,
    /// PVC/DV `volumeMode`: `Filesystem` (default) or `Block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<String>,
    /// Default: the cluster's default StorageClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// DataVolume `spec.source` as CDI spells it (default `{blank: {}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    /// The disk is a LUN with SCSI persistent reservation (`lun: {reservation: true}`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reservation: bool,
    /// `disks[].bootOrder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<u32>,
}

/// A Service selecting the VM's virt-launcher pod.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// `LoadBalancer` (default), `ClusterIP` or `NodePort`.
    #[serde(default = "default_service_type")]
    pub r#type: String,
    /// TCP ports (port = targetPort).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// `status.loadBalancer.ingress[0].ip` of a LoadBalancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<String>,
    /// Made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    /// `Cluster` (default) or `Local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<String>,
    /// Default: `vm.kubevirt.io/name: <vm>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn default_service_type() -> String {
    "LoadBalancer".into()
}

/// What a container image lacks, for the probe emulation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageTools {
    /// Tools absent from the image (`ping`, `curl`, `wget`, `sh`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_tools: Vec<String>,
    /// Which `ping` the image has: `iputils` (default), `busybox` or `busybox-nofancy` (BusyBox built without
    /// `FEATURE_FANCY_PING`); see `net::ping::Flavour::from_variant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_variant: Option<String>,
}
