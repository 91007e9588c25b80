//! The test environment of a report: Kubernetes and KubeVirt versions, nodes, the VM's configuration and the VMI's
//! state before the first migration.
//!
//! [`gather`] (the shell) reads `GET /version`, the KubeVirt CR, the VM, its VMI, the PVCs of its volumes and the
//! nodes, each on its own: what is forbidden or missing becomes a `not available: why` line, never an error.
//! [`build`] (pure) turns what was read into an [`Environment`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim};
use kube::Api;

use super::ReportError;
use crate::kubevirt::{Interface, KubeVirt, VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceSpec};
use crate::record::{Environment, InterfaceState, NetworkInfo, NodeInfo, VmConfiguration, VmiState, VolumeInfo};

/// One object (or list) as read from the API: the object, or why it could not be read.
pub type Read<T> = Result<T, String>;

/// Everything [`gather`] read, before it is turned into an [`Environment`].
#[derive(Clone, Debug)]
pub struct Objects {
    /// `gitVersion` of `GET /version`.
    pub version: Read<String>,
    pub kubevirts: Read<Vec<KubeVirt>>,
    pub vm: Read<VirtualMachine>,
    pub vmi: Read<VirtualMachineInstance>,
    /// The PVCs of the VM's volumes, by claim name.
    pub pvcs: BTreeMap<String, Read<PersistentVolumeClaim>>,
    pub nodes: Read<Vec<Node>>,
}

const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
const HOST_MODEL_PREFIX: &str = "host-model-cpu.node.kubevirt.io/";

/// Reads the environment of `namespace/vm`. Fails only when the API server cannot be reached at all; anything
/// forbidden or missing is recorded in [`Environment::not_available`].
pub async fn gather(client: &kube::Client, namespace: &str, vm: &str) -> Result<Environment, ReportError> {
    let version = match client.apiserver_version().await {
        Ok(info) => Ok(info.git_version),
        Err(e) if unreachable(&e) => return Err(ReportError::Cluster(why(&e))),
        Err(e) => Err(why(&e)),
    };
    let kubevirts = Api::<KubeVirt>::all(client.clone()).list(&Default::default()).await.map(|l| l.items);
    let vm_obj = Api::<VirtualMachine>::namespaced(client.clone(), namespace).get(vm).await.map_err(|e| why(&e));
    let vmi = Api::<VirtualMachineInstance>::namespaced(client.clone(), namespace).get(vm).await.map_err(|e| why(&e));
    let spec = vm_obj.as_ref().map(|v| &v.spec.template.spec).or(vmi.as_ref().map(|v| &v.spec)).ok();
    let pvc_api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace);
    let mut pvcs = BTreeMap::new();
    for claim in spec.map(claims).unwrap_or_default() {
        let read = pvc_api.get(&claim).await.map_err(|e| why(&e));
        pvcs.insert(claim, read);
    }
    let nodes = Api::<Node>::all(client.clone()).list(&Default::default()).await.map(|l| l.items);
    Ok(build(Objects {
        version,
        kubevirts: kubevirts.map_err(|e| why(&e)),
        vm: vm_obj,
        vmi,
        pvcs,
        nodes: nodes.map_err(|e| why(&e)),
    }))
}

/// Whether the error means the API server was not reached (no status came back).
fn unreachable(e: &kube::Error) -> bool {
    matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_))
}

/// Why a read failed, in a few words.
fn why(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!("forbidden ({})", s.message),
        kube::Error::Api(s) if s.code == 404 => "not found".into(),
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => {
            let mut cur: &dyn std::error::Error = other;
            while let Some(next) = cur.source() {
                cur = next;
            }
            cur.to_string()
        }
    }
}

/// The PVC names behind the volumes (`persistentVolumeClaim` and `dataVolume`, whose PVC has the DV's name).
fn claims(spec: &VirtualMachineInstanceSpec) -> Vec<String> {
    spec.volumes
        .iter()
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|p| p.claim_name.clone())
                .or(v.data_volume.as_ref().map(|d| d.name.clone()))
        })
        .collect()
}

/// Turns what was read into the environment. Pure.
pub fn build(objects: Objects) -> Environment {
    let mut not_available = Vec::new();
    let mut note = |what: &str, why: &str| not_available.push(format!("{what}: {why}"));
    let kubernetes_version = objects.version.map_err(|e| note("Kubernetes version", &e)).ok();
    let kubevirt_version = match &objects.kubevirts {
        Ok(list) => {
            let v = list.iter().find_map(|k| k.status.as_ref()?.observed_kube_virt_version.clone());
            if v.is_none() {
                note("KubeVirt version", "no KubeVirt CR reports status.observedKubeVirtVersion");
            }
            v
        }
        Err(e) => {
            note("KubeVirt version", e);
            None
        }
    };
    let nodes = match &objects.nodes {
        Ok(list) => list.iter().map(node_info).collect(),
        Err(e) => {
            note("nodes", e);
            Vec::new()
        }
    };
    if let Err(e) = &objects.vm {
        note("VirtualMachine", e);
    }
    if let Err(e) = &objects.vmi {
        note("VirtualMachineInstance", e);
    }
    let vm = match (&objects.vm, &objects.vmi) {
        (Err(_), Err(_)) => None,
        (vm, vmi) => Some(vm_configuration(vm.as_ref().ok(), vmi.as_ref().ok(), &objects.pvcs)),
    };
    let vmi_before = objects.vmi.as_ref().ok().map(vmi_state);
    Environment { kubernetes_version, kubevirt_version, nodes, vm, vmi_before, not_available }
}

fn node_info(node: &Node) -> NodeInfo {
    let labels = node.metadata.labels.as_ref();
    let label_suffixes = |prefix: &str| -> Vec<String> {
        labels
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| k.strip_prefix(prefix).filter(|_| prefix != HOST_MODEL_PREFIX || v == "true"))
            .map(str::to_owned)
            .collect()
    };
    let status = node.status.as_ref();
    let allocatable = |key: &str| status?.allocatable.as_ref()?.get(key).map(|q| q.0.clone());
    NodeInfo {
        name: node.metadata.name.clone().unwrap_or_default(),
        roles: label_suffixes(ROLE_PREFIX),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status == "True"),
        unschedulable: node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
        cpu_model: label_suffixes(HOST_MODEL_PREFIX).into_iter().next(),
        allocatable_cpu: allocatable("cpu"),
        allocatable_memory: allocatable("memory"),
        kubelet_version: status.and_then(|s| s.node_info.as_ref()).map(|i| i.kubelet_version.clone()),
    }
}

fn vm_configuration(
    vm: Option<&VirtualMachine>,
    vmi: Option<&VirtualMachineInstance>,
    pvcs: &BTreeMap<String, Read<PersistentVolumeClaim>>,
) -> VmConfiguration {
    // The VM's template says what was asked for; the running VMI what KubeVirt made of it (instance type applied).
    let asked = vm.map(|v| &v.spec.template.spec);
    let Some(spec) = asked.or(vmi.map(|v| &v.spec)) else { return VmConfiguration::default() };
    let matcher = |m: Option<&crate::kubevirt::InstancetypeMatcher>| {
        m.map(|m| format!("{}/{}", m.kind.as_deref().unwrap_or("VirtualMachineClusterInstancetype"), m.name))
    };
    let effective = vmi.map(|v| &v.spec.domain).unwrap_or(&spec.domain);
    let cpu =
        effective.cpu.as_ref().filter(|c| c.cores.is_some() || c.sockets.is_some() || c.threads.is_some()).map(|c| {
            let n = |v: Option<u32>| v.unwrap_or(1);
            let (cores, sockets, threads) = (n(c.cores), n(c.sockets), n(c.threads));
            let total = u64::from(cores) * u64::from(sockets) * u64::from(threads);
            format!("{total} vCPU (cores {cores} × sockets {sockets} × threads {threads})")
        });
    let memory = effective
        .memory
        .as_ref()
        .and_then(|m| m.guest.as_ref())
        .or(effective.resources.requests.as_ref().and_then(|r| r.get("memory")))
        .map(|q| q.0.clone());
    VmConfiguration {
        instancetype: matcher(vm.and_then(|v| v.spec.instancetype.as_ref())),
        preference: matcher(vm.and_then(|v| v.spec.preference.as_ref())),
        cpu,
        cpu_model: effective.cpu.as_ref().and_then(|c| c.model.clone()),
        memory,
        run_strategy: vm.and_then(|v| {
            v.spec.run_strategy.clone().or(v.spec.running.map(|r| if r { "Always" } else { "Halted" }.into()))
        }),
        eviction_strategy: vmi.map(|v| &v.spec).unwrap_or(spec).eviction_strategy.clone(),
        volumes: spec.volumes.iter().map(|v| volume_info(v, pvcs)).collect(),
        networks: spec.networks.iter().map(|n| network_info(n, &spec.domain.devices.interfaces)).collect(),
    }
}

fn volume_info(volume: &crate::kubevirt::Volume, pvcs: &BTreeMap<String, Read<PersistentVolumeClaim>>) -> VolumeInfo {
    let kind = [
        ("persistentVolumeClaim", volume.persistent_volume_claim.is_some()),
        ("dataVolume", volume.data_volume.is_some()),
        ("hostDisk", volume.host_disk.is_some()),
        ("containerDisk", volume.container_disk.is_some()),
        ("cloudInitNoCloud", volume.cloud_init_no_cloud.is_some()),
        ("cloudInitConfigDrive", volume.cloud_init_config_drive.is_some()),
        ("configMap", volume.config_map.is_some()),
        ("secret", volume.secret.is_some()),
        ("serviceAccount", volume.service_account.is_some()),
        ("emptyDisk", volume.empty_disk.is_some()),
        ("ephemeral", volume.ephemeral.is_some()),
    ]
    .into_iter()
    .find_map(|(k, present)| present.then_some(k))
    .unwrap_or("other");
    let claim = volume
        .persistent_volume_claim
        .as_ref()
        .map(|p| p.claim_name.clone())
        .or(volume.data_volume.as_ref().map(|d| d.name.clone()));
    let mut info =
        VolumeInfo { name: volume.name.clone(), kind: kind.into(), claim: claim.clone(), ..Default::default() };
    match claim.as_ref().map(|c| pvcs.get(c)) {
        Some(Some(Ok(pvc))) => {
            let spec = pvc.spec.as_ref();
            info.storage_class = spec.and_then(|s| s.storage_class_name.clone());
            info.access_modes = spec.and_then(|s| s.access_modes.clone()).unwrap_or_default();
            info.volume_mode = spec.and_then(|s| s.volume_mode.clone());
            let capacity = pvc.status.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"));
            let request = spec.and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage").cloned());
            info.size = capacity.cloned().or(request).map(|q| q.0);
        }
        Some(Some(Err(e))) => info.not_available = Some(e.clone()),
        Some(None) => info.not_available = Some("not read".into()),
        None => {}
    }
    info
}

fn network_info(network: &crate::kubevirt::Network, interfaces: &[Interface]) -> NetworkInfo {
    let source = match (&network.pod, &network.multus) {
        (_, Some(m)) => format!("multus:{}", m.network_name),
        (Some(_), None) => "pod".into(),
        (None, None) => "other".into(),
    };
    let binding = interfaces.iter().find(|i| i.name == network.name).map(binding_of).unwrap_or_else(|| "none".into());
    NetworkInfo { name: network.name.clone(), source, binding }
}

fn binding_of(i: &Interface) -> String {
    if let Some(b) = &i.binding {
        return format!("binding:{}", b.name);
    }
    [
        ("bridge", i.bridge.is_some()),
        ("masquerade", i.masquerade.is_some()),
        ("sriov", i.sriov.is_some()),
        ("passt", i.passt.is_some()),
        ("slirp", i.slirp.is_some()),
        ("macvtap", i.macvtap.is_some()),
    ]
    .into_iter()
    .find_map(|(k, present)| present.then(|| k.to_string()))
    .unwrap_or_else(|| "unspecified".into())
}

/// The VMI's phase, node and addresses. Pure.
pub fn vmi_state(vmi: &VirtualMachineInstance) -> VmiState {
    let status = vmi.status.as_ref();
    VmiState {
        phase: status.and_then(|s| s.phase.clone()),
        node: status.and_then(|s| s.node_name.clone()),
        interfaces: status
            .map(|s| &s.interfaces)
            .into_iter()
            .flatten()
            .map(|i| {
                let mut ips = i.ip_addresses.clone();
                if ips.is_empty() {
                    ips.extend(i.ip_address.clone());
                }
                InterfaceState { name: i.name.clone(), ip_addresses: ips }
            })
            .collect(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/testdata/kubevirt/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The seed cluster as the fixtures describe it, everything readable.
    pub fn haos_objects() -> Objects {
        let nodes: serde_json::Value = fixture("nodes.json");
        let nodes: Vec<Node> = serde_json::from_value(nodes["items"].clone()).unwrap();
        let mut pvcs = BTreeMap::new();
        pvcs.insert("vm-disk-haos".to_string(), Ok(fixture("pvc-rwx.json")));
        Objects {
            version: Ok("v1.34.1".into()),
            kubevirts: Ok(vec![fixture("kubevirt-cr.json")]),
            vm: Ok(fixture("vm.json")),
            vmi: Ok(fixture("vmi-running.json")),
            pvcs,
            nodes: Ok(nodes),
        }
    }

    #[test]
    fn the_seed_cluster_is_described_from_its_objects() {
        let env = build(haos_objects());
        assert_eq!(env.kubernetes_version.as_deref(), Some("v1.34.1"));
        assert_eq!(env.kubevirt_version.as_deref(), Some("v1.5.2"));
        assert!(env.not_available.is_empty(), "{:?}", env.not_available);
        let names: Vec<_> = env.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["here-i-am", "illusion", "the-dome", "the-toy-factory"]);
        let illusion = &env.nodes[1];
        assert_eq!(illusion.cpu_model.as_deref(), Some("Haswell-noTSX-IBRS"));
        assert_eq!(illusion.roles, ["control-plane"]);
        assert!(env.nodes[0].unschedulable);
        assert_eq!(env.nodes[0].ready, Some(true));
        assert_eq!(env.nodes[0].allocatable_cpu.as_deref(), Some("11850m"));
        let vm = env.vm.unwrap();
        assert_eq!(vm.instancetype.as_deref(), Some("VirtualMachineClusterInstancetype/u1.medium"));
        assert_eq!(vm.run_strategy.as_deref(), Some("Always"));
        let disk = vm.volumes.iter().find(|v| v.claim.as_deref() == Some("vm-disk-haos")).unwrap();
        assert_eq!(disk.storage_class.as_deref(), Some("replicated"));
        assert_eq!(disk.access_modes, ["ReadWriteMany"]);
        assert_eq!(disk.volume_mode.as_deref(), Some("Block"));
        let nets: Vec<_> =
            vm.networks.iter().map(|n| (n.name.as_str(), n.source.as_str(), n.binding.as_str())).collect();
        assert_eq!(nets, [("default", "pod", "bridge"), ("lan", "multus:tenant-root/lan", "bridge")]);
        let before = env.vmi_before.unwrap();
        assert_eq!(before.node.as_deref(), Some("the-toy-factory"));
        assert_eq!(before.phase.as_deref(), Some("Running"));
        assert!(before.interfaces.iter().any(|i| i.ip_addresses.contains(&"192.168.1.150".to_string())));
    }

    #[test]
    fn what_cannot_be_read_is_named_with_its_reason() {
        let mut objects = haos_objects();
        objects.nodes = Err("forbidden (nodes is forbidden)".into());
        objects.kubevirts = Err("forbidden (kubevirts is forbidden)".into());
        objects.pvcs.insert("vm-disk-haos".into(), Err("not found".into()));
        objects.vmi = Err("not found".into());
        let env = build(objects);
        assert!(env.nodes.is_empty());
        assert_eq!(
            env.not_available,
            [
                "KubeVirt version: forbidden (kubevirts is forbidden)",
                "nodes: forbidden (nodes is forbidden)",
                "VirtualMachineInstance: not found"
            ]
        );
        let vm = env.vm.unwrap();
        let disk = vm.volumes.iter().find(|v| v.claim.is_some()).unwrap();
        assert_eq!(disk.not_available.as_deref(), Some("not found"));
        assert!(disk.storage_class.is_none());
        assert!(env.vmi_before.is_none());
    }
}
