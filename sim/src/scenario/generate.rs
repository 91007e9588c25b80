//! Large deterministic clusters, for benchmarks (`mix: false`: every VM migratable) and agreement tests
//! (`mix: true`: every LiveMigratable reason present, some VMs with two blockers, stopped VMs).

use std::collections::BTreeMap;

use serde_json::json;

use super::derive::splitmix;
use super::format::{
    Cluster, CpuProfile, ImageTools, Instancetype, KubeVirt, Nad, Network, Node, NodeResources, Scenario, StorageClass,
    Vm, Volume,
};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of VMs (up to 20,000 is the tested range).
    pub vms: usize,
    /// Number of namespaces the VMs are spread over (at least 1).
    pub namespaces: usize,
    /// Number of nodes (at least 2; with `mix`, every 8th node has no usable host model and no TSC frequency).
    pub nodes: usize,
    pub seed: u64,
    pub mix: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self { vms: 100, namespaces: 4, nodes: 8, seed: 1, mix: false }
    }
}

/// The kinds of VM a mixed cluster cycles through, and the LiveMigratable reasons KubeVirt v1.5.2 gives them
/// (first failing check; `None`: migratable).
pub const MIX: &[(&str, Option<&str>)] = &[
    ("masquerade", None),
    ("bridge-annotated", None),
    ("rwo", Some("DisksNotLiveMigratable")),
    ("bridge", Some("InterfaceNotLiveMigratable")),
    ("old-host", Some("CPUModeLiveMigratable")),
    ("hostdevice", Some("HostDeviceNotLiveMigratable")),
    ("sev", Some("SEVNotLiveMigratable")),
    ("reservation", Some("PersistentReservationNotLiveMigratable")),
    ("reenlightenment", Some("NoTSCFrequencyNotLiveMigratable")),
    ("hyperv-passthrough", Some("HypervPassthroughNotLiveMigratable")),
    ("rwo+hostdevice", Some("DisksNotLiveMigratable")),
    ("bridge+sev", Some("InterfaceNotLiveMigratable")),
    ("stopped", None),
    ("containerdisk", None),
    ("plugin-migratable", None),
    ("plugin-legacy", Some("InterfaceNotLiveMigratable")),
    ("hostdisk", Some("DisksNotLiveMigratable")),
];

fn profile(host_model: bool) -> CpuProfile {
    CpuProfile {
        vendor: Some("Intel".into()),
        host_model: host_model.then(|| "Skylake-Client-IBRS".into()),
        required_features: if host_model { vec!["clflushopt".into(), "vmx".into(), "xsaves".into()] } else { vec![] },
        features: vec!["clflushopt".into(), "invtsc".into(), "vmx".into(), "xsaves".into()],
        models: vec!["Haswell-noTSX".into(), "Skylake-Client-IBRS".into()],
        tsc_frequency: host_model.then_some(3_192_000_000),
        tsc_scalable: host_model,
        hyperv: vec!["reenlightenment".into(), "synic".into(), "time".into()],
        machine_types: vec!["pc-q35-rhel9.6.0".into(), "q35".into()],
    }
}

fn net(name: &str, binding: &str, ip: String) -> Network {
    Network { name: name.into(), multus: None, binding: binding.into(), ip: Some(ip), mac: None }
}

fn dv(name: &str, access: &str) -> Volume {
    Volume {
        name: "root".into(),
        data_volume: Some(name.into()),
        access_mode: Some(access.into()),
        size: Some("10Gi".into()),
        ..Volume::default()
    }
}

impl GenerateOptions {
    /// The kind of the `index`-th generated VM (`vm-<index>`) and the LiveMigratable reason KubeVirt v1.5.2 gives
    /// it (`None`: migratable, or stopped for kind `stopped`).
    pub fn kind(&self, index: usize) -> (&'static str, Option<&'static str>) {
        if self.mix { MIX[(index + (self.seed % MIX.len() as u64) as usize) % MIX.len()] } else { MIX[index % 2] }
    }
}

impl Scenario {
    /// A deterministic scenario of `opts.vms` VMs spread over namespaces `ns-NNN` and nodes `node-NNN`.
    pub fn generate(opts: GenerateOptions) -> Scenario {
        let namespaces = opts.namespaces.max(1);
        let nodes = opts.nodes.max(2);
        // With `mix`, every 8th node (or the last one of a smaller cluster) has no usable host model and no TSC
        // frequency, for the CPUModeLiveMigratable and NoTSCFrequencyNotLiveMigratable VMs.
        let special = |i: usize| opts.mix && (i % 8 == 7 || (nodes < 8 && i == nodes - 1));
        let regular: Vec<usize> = (0..nodes).filter(|i| !special(*i)).collect();
        let old: Vec<usize> = (0..nodes).filter(|i| special(*i)).collect();
        let per_node = opts.vms / regular.len().max(1) + 20;
        let node_list = (0..nodes)
            .map(|i| Node {
                name: format!("node-{i:03}"),
                cordoned: false,
                ready: true,
                schedulable: true,
                cpu: Some(if special(i) { "no-host-model" } else { "skylake" }.into()),
                taints: vec![],
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                allocatable: NodeResources {
                    cpu: "256".into(),
                    memory: format!("{}Gi", per_node * 4 + 64),
                    pods: (per_node + 20).to_string(),
                },
                capacity: None,
                devices: [("kvm", "1k"), ("tun", "1k"), ("vhost-net", "1k"), ("intel.com/E810_VF", "8")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                internal_ip: None,
                pod_cidr: None,
            })
            .collect();
        let ns_names: Vec<String> = (0..namespaces).map(|i| format!("ns-{i:03}")).collect();
        let mut rng = opts.seed;
        let vms = (0..opts.vms)
            .map(|i| {
                let kind = opts.kind(i).0;
                let r = splitmix(&mut rng);
                let on_old = matches!(kind, "old-host" | "reenlightenment") && !old.is_empty();
                let node_idx = if on_old { old[i % old.len()] } else { regular[i % regular.len()] };
                generated_vm(i, kind, &ns_names[i % namespaces], &format!("node-{node_idx:03}"), r)
            })
            .collect();
        let mut network_bindings = BTreeMap::new();
        if opts.mix {
            network_bindings.insert(
                "passt-plugin".to_string(),
                json!({"sidecarImage": "quay.io/kubevirt/network-passt-binding:v1.5.2", "migration": {}}),
            );
            network_bindings
                .insert("legacy-plugin".to_string(), json!({"sidecarImage": "registry.example.com/legacy-binding:v1"}));
        }
        Scenario {
            description: Some(format!(
                "generated: {} VMs, {namespaces} namespaces, {nodes} nodes, seed {}, mix {}",
                opts.vms, opts.seed, opts.mix
            )),
            cluster: Cluster {
                kubevirt: KubeVirt {
                    eviction_strategy: Some("LiveMigrate".into()),
                    migrations: Some(json!({"completionTimeoutPerGiB": 150, "progressTimeout": 150,
                        "parallelMigrationsPerCluster": 5, "parallelOutboundMigrationsPerNode": 2})),
                    network_bindings,
                    ..KubeVirt::default()
                },
                namespaces: ns_names.clone(),
                storage_classes: vec![
                    StorageClass {
                        name: "replicated".into(),
                        provisioner: "linstor.csi.linbit.com".into(),
                        default: true,
                        parameters: BTreeMap::new(),
                        volume_binding_mode: "WaitForFirstConsumer".into(),
                    },
                    StorageClass {
                        name: "local".into(),
                        provisioner: "linstor.csi.linbit.com".into(),
                        default: false,
                        parameters: BTreeMap::new(),
                        volume_binding_mode: "WaitForFirstConsumer".into(),
                    },
                ],
                nads: ns_names
                    .iter()
                    .map(|ns| Nad { namespace: ns.clone(), name: "lan".into(), config: None })
                    .collect(),
                instancetypes: vec![Instancetype {
                    name: "u1.medium".into(),
                    cpu: 1,
                    memory: "4Gi".into(),
                    labels: BTreeMap::new(),
                    annotations: BTreeMap::new(),
                }],
                ..Cluster::default()
            },
            cpu_profiles: BTreeMap::from([("skylake".into(), profile(true)), ("no-host-model".into(), profile(false))]),
            nodes: node_list,
            vms,
            images: BTreeMap::from([("nicolaka/netshoot:v0.14".into(), ImageTools::default())]),
            ..Scenario::default()
        }
    }
}

fn generated_vm(i: usize, kind: &str, ns: &str, node: &str, r: u64) -> Vm {
    let name = format!("vm-{i:05}");
    let ip = super::derive::pod_ip(i);
    let mut vm = Vm {
        namespace: ns.into(),
        name: name.clone(),
        running: kind != "stopped",
        node: Some(node.into()),
        instancetype: r.is_multiple_of(3).then(|| "u1.medium".into()),
        cpu: (!r.is_multiple_of(3)).then_some(1 + (r >> 8) as u32 % 4),
        memory: (!r.is_multiple_of(3)).then(|| format!("{}Gi", 1 + (r >> 16) % 8)),
        cpu_model: None,
        machine_type: None,
        networks: vec![net("default", "masquerade", ip)],
        allow_pod_bridge_migration: false,
        volumes: vec![dv(&format!("{name}-root"), "ReadWriteMany")],
        host_devices: vec![],
        gpus: vec![],
        sev: false,
        hyperv_reenlightenment: false,
        hyperv_passthrough: false,
        eviction_strategy: None,
        node_selector: BTreeMap::new(),
        tolerations: vec![],
        labels: BTreeMap::from([("app.kubernetes.io/name".into(), "generated".into())]),
        annotations: BTreeMap::new(),
        template_annotations: BTreeMap::new(),
        guest_agent: !r.is_multiple_of(5),
        launcher_pod: None,
        firmware_uuid: None,
        services: vec![],
        migration: None,
    };
    if r.is_multiple_of(7) {
        vm.networks.push(Network {
            name: "lan".into(),
            multus: Some("lan".into()),
            binding: "bridge".into(),
            ip: Some(format!("192.168.{}.{}", 100 + i / 250, i % 250 + 2)),
            mac: None,
        });
    }
    for part in kind.split('+') {
        match part {
            "bridge-annotated" => {
                vm.networks[0].binding = "bridge".into();
                vm.allow_pod_bridge_migration = true;
            }
            "bridge" => vm.networks[0].binding = "bridge".into(),
            "rwo" => {
                vm.volumes[0] =
                    Volume { storage_class: Some("local".into()), ..dv(&format!("{name}-root"), "ReadWriteOnce") }
            }
            "old-host" => {}
            "hostdevice" => vm.host_devices.push("intel.com/E810_VF".into()),
            "sev" => vm.sev = true,
            "reservation" => vm.volumes.push(Volume {
                name: "lun".into(),
                pvc: Some(format!("{name}-lun")),
                volume_mode: Some("Block".into()),
                reservation: true,
                ..Volume::default()
            }),
            "reenlightenment" => {
                vm.cpu_model = Some("Haswell-noTSX".into());
                vm.hyperv_reenlightenment = true;
            }
            "hyperv-passthrough" => vm.hyperv_passthrough = true,
            "containerdisk" => {
                vm.volumes = vec![
                    Volume {
                        name: "root".into(),
                        container_disk: Some("quay.io/containerdisks/fedora:41".into()),
                        ..Volume::default()
                    },
                    Volume {
                        name: "cloudinit".into(),
                        cloud_init_no_cloud: Some("#cloud-config\n".into()),
                        ..Volume::default()
                    },
                ];
            }
            "plugin-migratable" => vm.networks[0].binding = "passt-plugin".into(),
            "plugin-legacy" => vm.networks[0].binding = "legacy-plugin".into(),
            "hostdisk" => vm.volumes.push(Volume {
                name: "scratch".into(),
                host_disk: Some(format!("/var/lib/scratch/{name}.img")),
                size: Some("1Gi".into()),
                ..Volume::default()
            }),
            _ => {}
        }
    }
    vm
}

/// A generated scenario as YAML, for `vmmigrate-sim generate ... > file.yaml`.
pub fn generate_yaml(opts: GenerateOptions) -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&Scenario::generate(opts))
}
