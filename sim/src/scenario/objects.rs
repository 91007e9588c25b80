//! Pure builders: scenario entries → the JSON objects a Kubernetes v1.34 + KubeVirt v1.5.2 cluster serves, shaped
//! like `testdata/kubevirt/*.json`. Server-owned metadata (uid, resourceVersion, creationTimestamp, generation) is
//! left to the store; values that depend on other objects' UIDs are passed in.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::derive::{format_bytes, link_local, mac_from, name_suffix, pod_interface_name, quantity_bytes, uuid_from};
use super::format::{
    Cluster, CpuProfile, Instancetype, KubeVirt, MigrationPolicy, Nad, Network, Node, Service, StorageClass, Vm, Volume,
};

/// Annotation that lets a bridge-bound pod network migrate.
pub const ALLOW_POD_BRIDGE: &str = "kubevirt.io/allow-pod-bridge-network-live-migration";

fn str_map(m: &BTreeMap<String, String>) -> Map<String, Value> {
    m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, time: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "lastHeartbeatTime": time,
        "lastTransitionTime": time, "reason": reason, "message": message})
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

/// The node-labeller's and virt-handler's labels for a CPU profile.
pub fn cpu_labels(p: &CpuProfile) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    let mut put = |k: String, v: &str| {
        l.insert(k, v.to_string());
    };
    if let Some(v) = &p.vendor {
        put(format!("cpu-vendor.node.kubevirt.io/{v}"), "true");
    }
    if let Some(m) = &p.host_model {
        put(format!("host-model-cpu.node.kubevirt.io/{m}"), "true");
        put(format!("cpu-model-migration.node.kubevirt.io/{m}"), "true");
    }
    for f in &p.required_features {
        put(format!("host-model-required-features.node.kubevirt.io/{f}"), "true");
    }
    for f in &p.features {
        put(format!("cpu-feature.node.kubevirt.io/{f}"), "true");
    }
    for m in &p.models {
        put(format!("cpu-model.node.kubevirt.io/{m}"), "true");
        put(format!("cpu-model-migration.node.kubevirt.io/{m}"), "true");
    }
    if let Some(hz) = p.tsc_frequency {
        put("cpu-timer.node.kubevirt.io/tsc-frequency".into(), &hz.to_string());
        put(format!("scheduling.node.kubevirt.io/tsc-frequency-{hz}"), "true");
    }
    put("cpu-timer.node.kubevirt.io/tsc-scalable".into(), if p.tsc_scalable { "true" } else { "false" });
    for f in &p.hyperv {
        put(format!("hyperv.node.kubevirt.io/{f}"), "true");
    }
    for m in &p.machine_types {
        put(format!("machine-type.node.kubevirt.io/{m}"), "true");
    }
    l
}

/// The node's InternalIP and pod CIDR (given or made up from its index).
pub fn node_addresses(n: &Node, index: usize) -> (String, String) {
    let ip = n.internal_ip.clone().unwrap_or_else(|| match index {
        0..240 => format!("192.168.50.{}", 11 + index),
        _ => format!("10.10.{}.{}", index / 250, index % 250 + 1),
    });
    let cidr = n.pod_cidr.clone().unwrap_or_else(|| format!("10.{}.{}.0/24", 128 + index / 256, index % 256));
    (ip, cidr)
}

pub fn node(n: &Node, profile: Option<&CpuProfile>, index: usize, kubelet_version: &str, now: &str) -> Value {
    let mut labels = BTreeMap::from([
        ("beta.kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("beta.kubernetes.io/os".into(), "linux".into()),
        ("kubernetes.io/arch".into(), "amd64".into()),
        ("kubernetes.io/hostname".into(), n.name.clone()),
        ("kubernetes.io/os".into(), "linux".into()),
        ("kubevirt.io/schedulable".into(), n.schedulable.to_string()),
        ("kubevirt.io/ksm-enabled".into(), "false".into()),
        ("cpumanager".into(), "false".into()),
    ]);
    if let Some(p) = profile {
        labels.extend(cpu_labels(p));
    }
    labels.extend(n.labels.clone());
    let mut annotations = BTreeMap::from([
        ("kubevirt.io/heartbeat".to_string(), now.to_string()),
        ("kubevirt.io/ksm-handler-managed".into(), "false".into()),
        ("node.alpha.kubernetes.io/ttl".into(), "0".into()),
        ("volumes.kubernetes.io/controller-managed-attach-detach".into(), "true".into()),
    ]);
    annotations.extend(n.annotations.clone());
    let (ip, cidr) = node_addresses(n, index);
    let mut taints: Vec<Value> = Vec::new();
    if n.cordoned {
        taints.push(json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": now}));
    }
    if !n.ready {
        for effect in ["NoSchedule", "NoExecute"] {
            taints.push(json!({"key": "node.kubernetes.io/not-ready", "effect": effect, "timeAdded": now}));
        }
    }
    for t in &n.taints {
        let mut v = json!({"key": t.key, "effect": t.effect});
        if let Some(val) = &t.value {
            v["value"] = json!(val);
        }
        taints.push(v);
    }
    let mut spec = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
    if n.cordoned {
        spec["unschedulable"] = json!(true);
    }
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    let resources = |r: &super::format::NodeResources| {
        let mut m = Map::new();
        m.insert("cpu".into(), json!(r.cpu));
        for (d, q) in &n.devices {
            let key = if d.contains('/') { d.clone() } else { format!("devices.kubevirt.io/{d}") };
            m.insert(key, json!(q));
        }
        m.insert("ephemeral-storage".into(), json!("449716416Ki"));
        m.insert("hugepages-1Gi".into(), json!("0"));
        m.insert("hugepages-2Mi".into(), json!("0"));
        m.insert("memory".into(), json!(r.memory));
        m.insert("pods".into(), json!(r.pods));
        Value::Object(m)
    };
    let ready = if n.ready {
        condition("Ready", true, "KubeletReady", "kubelet is posting ready status", now)
    } else {
        condition("Ready", false, "KubeletNotReady", "container runtime network not ready", now)
    };
    let machine_id = format!("{:032x}", u128::from(super::derive::hash64(&n.name)));
    json!({
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": n.name, "labels": str_map(&labels), "annotations": str_map(&annotations)},
        "spec": spec,
        "status": {
            "capacity": resources(n.capacity.as_ref().unwrap_or(&n.allocatable)),
            "allocatable": resources(&n.allocatable),
            "conditions": [
                condition("MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now),
                condition("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
                condition("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
                ready,
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": n.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine_id, "systemUUID": uuid_from(&format!("system/{}", n.name)),
                "bootID": uuid_from(&format!("boot/{}", n.name)), "kernelVersion": "6.12.48-talos",
                "osImage": "Talos (v1.11.2)", "containerRuntimeVersion": "containerd://2.1.4",
                "kubeletVersion": kubelet_version, "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": "amd64", "swap": {"capacity": 0}
            }
        }
    })
}

pub fn storage_class(sc: &StorageClass) -> Value {
    let mut meta = json!({"name": sc.name});
    if sc.default {
        meta["annotations"] = json!({"storageclass.kubernetes.io/is-default-class": "true"});
    }
    json!({"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1", "metadata": meta,
        "provisioner": sc.provisioner, "parameters": str_map(&sc.parameters), "reclaimPolicy": "Delete",
        "allowVolumeExpansion": true, "volumeBindingMode": sc.volume_binding_mode})
}

pub fn nad(n: &Nad) -> Value {
    let config = n.config.clone().unwrap_or_else(|| {
        format!(
            r#"{{"cniVersion":"0.3.1","type":"kube-ovn","server_socket":"/run/openvswitch/kube-ovn-daemon.sock","provider":"{}.{}.ovn"}}"#,
            n.name, n.namespace
        )
    });
    json!({"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": n.name, "namespace": n.namespace}, "spec": {"config": config}})
}

pub fn instancetype(it: &Instancetype) -> Value {
    let mut meta = json!({"name": it.name});
    if !it.labels.is_empty() {
        meta["labels"] = Value::Object(str_map(&it.labels));
    }
    if !it.annotations.is_empty() {
        meta["annotations"] = Value::Object(str_map(&it.annotations));
    }
    json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
        "metadata": meta, "spec": {"cpu": {"guest": it.cpu}, "memory": {"guest": it.memory}}})
}

pub fn migration_policy(p: &MigrationPolicy) -> Value {
    json!({"apiVersion": "migrations.kubevirt.io/v1alpha1", "kind": "MigrationPolicy",
        "metadata": {"name": p.name}, "spec": p.spec, "status": {}})
}

pub fn kubevirt_cr(kv: &KubeVirt, now: &str) -> Value {
    let mut config = Map::new();
    if !kv.feature_gates.is_empty() {
        config.insert("developerConfiguration".into(), json!({"featureGates": kv.feature_gates}));
    }
    if let Some(e) = &kv.eviction_strategy {
        config.insert("evictionStrategy".into(), json!(e));
    }
    if let Some(m) = &kv.migrations {
        config.insert("migrations".into(), m.clone());
    }
    if !kv.network_bindings.is_empty() {
        let bindings: Map<String, Value> = kv.network_bindings.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        config.insert("network".into(), json!({"binding": bindings}));
    }
    if let Some(r) = &kv.vm_rollout_strategy {
        config.insert("vmRolloutStrategy".into(), json!(r));
    }
    config.extend(kv.extra_configuration.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut annotations = BTreeMap::from([
        ("kubevirt.io/latest-observed-api-version".to_string(), "v1".to_string()),
        ("kubevirt.io/storage-observed-api-version".into(), "v1".into()),
    ]);
    annotations.extend(kv.annotations.clone());
    let cond = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"lastProbeTime": now, "lastTransitionTime": now, "message": message, "reason": reason,
            "status": status, "type": kind})
    };
    let id = format!("{:016x}{:016x}", super::derive::hash64(&kv.version), super::derive::hash64(&kv.namespace));
    let deploy_config = json!({"id": id, "namespace": kv.namespace, "registry": "quay.io/kubevirt",
        "kubeVirtVersion": kv.version, "virtOperatorImage": format!("quay.io/kubevirt/virt-operator:{}", kv.version)})
    .to_string();
    let mut meta = json!({"name": kv.name, "namespace": kv.namespace, "annotations": str_map(&annotations),
        "finalizers": ["foregroundDeleteKubeVirt"]});
    if !kv.labels.is_empty() {
        meta["labels"] = Value::Object(str_map(&kv.labels));
    }
    let mut spec = json!({"certificateRotateStrategy": {}, "configuration": config, "customizeComponents": {},
        "imagePullPolicy": "IfNotPresent", "workloadUpdateStrategy": {"workloadUpdateMethods": ["LiveMigrate"]}});
    if let Some(m) = &kv.monitor_namespace {
        spec["monitorNamespace"] = json!(m);
    }
    json!({
        "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": meta, "spec": spec,
        "status": {
            "conditions": [
                cond("Available", "True", "AllComponentsReady", "All components are ready."),
                cond("Progressing", "False", "AllComponentsReady", "All components are ready."),
                cond("Degraded", "False", "AllComponentsReady", "All components are ready."),
                cond("Created", "True", "AllResourcesCreated", "All resources were created."),
            ],
            "defaultArchitecture": "amd64",
            "observedDeploymentConfig": deploy_config, "observedDeploymentID": id,
            "observedGeneration": 1, "observedKubeVirtRegistry": "quay.io/kubevirt",
            "observedKubeVirtVersion": kv.version, "operatorVersion": kv.version,
            "outdatedVirtualMachineInstanceWorkloads": 0, "phase": "Deployed",
            "targetDeploymentConfig": deploy_config, "targetDeploymentID": id,
            "targetKubeVirtRegistry": "quay.io/kubevirt", "targetKubeVirtVersion": kv.version
        }
    })
}

/// A `virt-handler` pod on a node (its pod IP is a migration's `targetNodeAddress`).
pub fn handler_pod(kv: &KubeVirt, node: &str, pod_cidr: &str, now: &str) -> Value {
    let ip = pod_cidr.split('/').next().and_then(|a| a.rsplit_once('.')).map(|(net, _)| format!("{net}.2"));
    let image = format!("quay.io/kubevirt/virt-handler:{}", kv.version);
    let name = format!("virt-handler-{}", name_suffix(node));
    let mut status = running_pod_status(now, &[("virt-handler", &image)], "Burstable");
    if let Some(ip) = ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "generateName": "virt-handler-", "namespace": kv.namespace,
            "labels": {"app.kubernetes.io/component": "kubevirt", "app.kubernetes.io/managed-by": "virt-operator",
                "app.kubernetes.io/version": kv.version, "kubevirt.io": "virt-handler", "prometheus.kubevirt.io": "true"}},
        "spec": {
            "containers": [{"name": "virt-handler", "image": image, "command": ["virt-handler"],
                "ports": [{"name": "metrics", "containerPort": 8443, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "10m", "memory": "357Mi"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "kubevirt-handler", "serviceAccount": "kubevirt-handler", "nodeName": node,
            "schedulerName": "default-scheduler", "priorityClassName": "kubevirt-cluster-critical",
            "priority": 1_000_000_000, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": status
    })
}

/// `status` of a Running pod whose containers started at `now`.
fn running_pod_status(now: &str, containers: &[(&str, &str)], qos: &str) -> Value {
    let cond = |kind: &str| {
        json!({"type": kind, "observedGeneration": 1, "status": "True", "lastProbeTime": null,
            "lastTransitionTime": now})
    };
    let statuses: Vec<Value> = containers
        .iter()
        .map(|(name, image)| {
            json!({"name": name, "state": {"running": {"startedAt": now}}, "lastState": {}, "ready": true,
                "restartCount": 0, "image": image,
                "imageID": format!("{}@sha256:{:016x}", image.split(':').next().unwrap_or(image), super::derive::hash64(image)),
                "containerID": format!("containerd://{:016x}", super::derive::hash64(&format!("{name}{now}"))),
                "started": true})
        })
        .collect();
    json!({
        "observedGeneration": 1, "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"),
            cond("PodScheduled")],
        "startTime": now, "containerStatuses": statuses, "qosClass": qos
    })
}

/// What a VM's objects need to know about the rest of the scenario.
pub struct VmContext<'a> {
    pub cluster: &'a Cluster,
    /// The instancetype the VM refers to, with its UID in the store.
    pub instancetype: Option<(&'a Instancetype, &'a str)>,
    /// The VM's node: its InternalIP and CPU profile.
    pub node_ip: Option<&'a str>,
    pub node_profile: Option<&'a CpuProfile>,
    /// The VM's networks resolved ([`net_plan`]).
    pub nets: Vec<NetPlan>,
    pub now: &'a str,
}

/// Sizes resolved from the instancetype or the VM's own cpu/memory.
struct Sizing {
    vcpus: u32,
    memory: String,
    memory_bytes: u64,
}

fn sizing(vm: &Vm, ctx: &VmContext) -> Sizing {
    let (vcpus, memory) = match ctx.instancetype {
        Some((it, _)) => (it.cpu, it.memory.clone()),
        None => (vm.cpu.unwrap_or(1), vm.memory.clone().unwrap_or_else(|| "1Gi".into())),
    };
    let memory_bytes = quantity_bytes(&memory).unwrap_or(1 << 30);
    Sizing { vcpus, memory, memory_bytes }
}

/// One VM network resolved: NAD, binding, guest IP (the pod network gets an automatic one), MAC, pod interface.
pub struct NetPlan {
    pub name: String,
    pub multus: Option<String>,
    pub binding: String,
    pub ip: Option<String>,
    pub mac: String,
    pub pod_interface: String,
}

pub fn net_plan(vm: &Vm, auto_ip: &str) -> Vec<NetPlan> {
    vm.networks
        .iter()
        .map(|n: &Network| {
            let multus =
                n.multus.as_ref().map(|m| if m.contains('/') { m.clone() } else { format!("{}/{m}", vm.namespace) });
            NetPlan {
                name: n.name.clone(),
                ip: n.ip.clone().or_else(|| multus.is_none().then(|| auto_ip.to_string())),
                mac: n.mac.clone().unwrap_or_else(|| mac_from(&format!("{}/{}/{}", vm.namespace, vm.name, n.name))),
                pod_interface: if multus.is_some() { pod_interface_name(&n.name) } else { "eth0".into() },
                multus,
                binding: n.binding.clone(),
            }
        })
        .collect()
}

/// The pod-network IP of a running VM (the launcher pod's podIP).
pub fn pod_network_ip(nets: &[NetPlan]) -> Option<&str> {
    nets.iter().find(|n| n.multus.is_none()).and_then(|n| n.ip.as_deref())
}

const CORE_BINDINGS: &[&str] = &["bridge", "masquerade", "sriov", "passt", "slirp"];

fn interface(n: &NetPlan) -> Value {
    let mut i = json!({"name": n.name});
    if CORE_BINDINGS.contains(&n.binding.as_str()) {
        i[&n.binding] = json!({});
    } else {
        i["binding"] = json!({"name": n.binding});
    }
    i
}

/// Full access-mode name of a short form.
pub fn access_mode(v: &Volume) -> String {
    match v.access_mode.as_deref().unwrap_or("ReadWriteMany") {
        "RWX" => "ReadWriteMany".into(),
        "RWO" => "ReadWriteOnce".into(),
        "ROX" => "ReadOnlyMany".into(),
        "RWOP" => "ReadWriteOncePod".into(),
        other => other.into(),
    }
}

fn volume_mode(v: &Volume) -> &str {
    v.volume_mode.as_deref().unwrap_or("Filesystem")
}

fn size(v: &Volume) -> &str {
    v.size.as_deref().unwrap_or("10Gi")
}

/// The claim name of a PVC/DataVolume volume.
pub fn claim(v: &Volume) -> Option<&str> {
    v.data_volume.as_deref().or(v.pvc.as_deref())
}

fn vm_volume(v: &Volume) -> Value {
    let mut o = json!({"name": v.name});
    if let Some(dv) = &v.data_volume {
        o["dataVolume"] = json!({"name": dv});
    } else if let Some(pvc) = &v.pvc {
        o["persistentVolumeClaim"] = json!({"claimName": pvc});
    } else if let Some(img) = &v.container_disk {
        o["containerDisk"] = json!({"image": img});
    } else if let Some(ud) = &v.cloud_init_no_cloud {
        o["cloudInitNoCloud"] = json!({"userData": ud});
    } else if let Some(path) = &v.host_disk {
        o["hostDisk"] = json!({"path": path, "type": "DiskOrCreate", "capacity": size(v), "shared": v.shared});
    }
    o
}

fn disk(v: &Volume) -> Value {
    let mut d = json!({"name": v.name});
    if v.reservation {
        d["lun"] = json!({"bus": "scsi", "reservation": true});
    } else {
        d["disk"] = json!({"bus": "virtio"});
    }
    if let Some(b) = v.boot_order {
        d["bootOrder"] = json!(b);
    }
    d
}

/// Whether a volume is shared storage for `migrationMethod` (`checkVolumesForMigration`).
fn is_shared(v: &Volume) -> bool {
    if claim(v).is_some() { access_mode(v) == "ReadWriteMany" } else { v.host_disk.is_some() && v.shared }
}

fn domain_features(vm: &Vm) -> Value {
    let mut f = json!({"acpi": {}});
    if vm.hyperv_reenlightenment {
        f["hyperv"] = json!({"reenlightenment": {"enabled": true}});
    }
    if vm.hyperv_passthrough {
        f["hypervPassthrough"] = json!({"enabled": true});
    }
    f
}

fn devices(vm: &Vm, nets: &[NetPlan]) -> Value {
    let mut d = json!({
        "disks": vm.volumes.iter().map(disk).collect::<Vec<_>>(),
        "interfaces": nets.iter().map(interface).collect::<Vec<_>>(),
    });
    let named = |names: &[String], prefix: &str| -> Vec<Value> {
        names.iter().enumerate().map(|(i, n)| json!({"deviceName": n, "name": format!("{prefix}{i}")})).collect()
    };
    if !vm.host_devices.is_empty() {
        d["hostDevices"] = json!(named(&vm.host_devices, "hostdevice"));
    }
    if !vm.gpus.is_empty() {
        d["gpus"] = json!(named(&vm.gpus, "gpu"));
    }
    d
}

fn template_annotations(vm: &Vm) -> BTreeMap<String, String> {
    let mut a = vm.template_annotations.clone();
    if vm.allow_pod_bridge_migration {
        a.insert(ALLOW_POD_BRIDGE.into(), "true".into());
    }
    a
}

fn networks(nets: &[NetPlan]) -> Vec<Value> {
    nets.iter()
        .map(|n| match &n.multus {
            Some(m) => json!({"name": n.name, "multus": {"networkName": m}}),
            None => json!({"name": n.name, "pod": {}}),
        })
        .collect()
}

fn firmware_uuid(vm: &Vm) -> String {
    vm.firmware_uuid.clone().unwrap_or_else(|| uuid_from(&format!("firmware/{}/{}", vm.namespace, vm.name)))
}

/// The VirtualMachine (status included: running or stopped; no LiveMigratable — simkv computes it).
pub fn vm_object(vm: &Vm, ctx: &VmContext) -> Value {
    let nets = &ctx.nets;
    let mut domain = json!({
        "devices": devices(vm, nets),
        "firmware": {"uuid": firmware_uuid(vm)},
        "machine": {"type": vm.machine_type.as_deref().unwrap_or("q35")},
        "resources": {},
    });
    if ctx.instancetype.is_none() {
        domain["cpu"] = json!({"cores": vm.cpu.unwrap_or(1)});
        domain["memory"] = json!({"guest": vm.memory.as_deref().unwrap_or("1Gi")});
    }
    if let Some(m) = &vm.cpu_model {
        domain["cpu"]["model"] = json!(m);
    }
    if vm.hyperv_reenlightenment || vm.hyperv_passthrough {
        domain["features"] = domain_features(vm);
    }
    if vm.sev {
        domain["launchSecurity"] = json!({"sev": {}});
    }
    let mut tspec = json!({
        "architecture": "amd64", "domain": domain, "networks": networks(nets),
        "terminationGracePeriodSeconds": 30,
        "volumes": vm.volumes.iter().map(vm_volume).collect::<Vec<_>>(),
    });
    add_placement(&mut tspec, vm);
    let mut tmeta = json!({"creationTimestamp": null});
    let ta = template_annotations(vm);
    if !ta.is_empty() {
        tmeta["annotations"] = Value::Object(str_map(&ta));
    }
    if !vm.labels.is_empty() {
        tmeta["labels"] = Value::Object(str_map(&vm.labels));
    }
    let run_strategy = if vm.running { "Always" } else { "Halted" };
    let mut spec = json!({"runStrategy": run_strategy, "template": {"metadata": tmeta, "spec": tspec}});
    let mut annotations = BTreeMap::from([
        ("kubevirt.io/latest-observed-api-version".to_string(), "v1".to_string()),
        ("kubevirt.io/storage-observed-api-version".into(), "v1".into()),
    ]);
    annotations.extend(vm.annotations.clone());
    let mut meta = json!({"name": vm.name, "namespace": vm.namespace, "annotations": str_map(&annotations),
        "finalizers": ["kubevirt.io/virtualMachineControllerFinalize"]});
    if !vm.labels.is_empty() {
        meta["labels"] = Value::Object(str_map(&vm.labels));
    }
    let mut status = json!({
        "desiredGeneration": 1, "observedGeneration": 1, "runStrategy": run_strategy,
        "volumeSnapshotStatuses": vm.volumes.iter().map(snapshot_status).collect::<Vec<_>>(),
    });
    if let Some((it, uid)) = ctx.instancetype {
        spec["instancetype"] = json!({"kind": "VirtualMachineClusterInstancetype", "name": it.name});
        status["instancetypeRef"] = json!({"controllerRevisionRef": {"name": format!("{}-{}-v1beta1-{uid}-1", vm.name, it.name)},
            "kind": "VirtualMachineClusterInstancetype", "name": it.name});
    }
    if vm.running {
        status["conditions"] = json!(vmi_conditions(vm, ctx.now));
        status["created"] = json!(true);
        status["ready"] = json!(true);
        status["printableStatus"] = json!("Running");
    } else {
        status["conditions"] = json!([{"lastProbeTime": null, "lastTransitionTime": ctx.now, "message": "VMI does not exist",
            "reason": "VMINotExists", "status": "False", "type": "Ready"}]);
        status["printableStatus"] = json!("Stopped");
    }
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": meta, "spec": spec, "status": status})
}

fn snapshot_status(v: &Volume) -> Value {
    if claim(v).is_some() {
        json!({"enabled": true, "name": v.name})
    } else {
        json!({"enabled": false, "name": v.name,
            "reason": format!("Snapshot is not supported for this volumeSource type [{}]", v.name)})
    }
}

fn add_placement(spec: &mut Value, vm: &Vm) {
    if let Some(e) = &vm.eviction_strategy {
        spec["evictionStrategy"] = json!(e);
    }
    if !vm.node_selector.is_empty() {
        spec["nodeSelector"] = Value::Object(str_map(&vm.node_selector));
    }
    if !vm.tolerations.is_empty() {
        spec["tolerations"] = json!(vm.tolerations);
    }
}

/// VMI (and VM) conditions the scenario sets: Ready, AgentConnected, DataVolumesReady. Not LiveMigratable.
fn vmi_conditions(vm: &Vm, now: &str) -> Vec<Value> {
    let mut c = vec![json!({"lastProbeTime": null, "lastTransitionTime": now, "status": "True", "type": "Ready"})];
    if vm.guest_agent {
        c.push(json!({"lastProbeTime": now, "lastTransitionTime": null, "status": "True", "type": "AgentConnected"}));
    }
    if vm.volumes.iter().any(|v| v.data_volume.is_some()) {
        c.push(json!({"lastProbeTime": null, "lastTransitionTime": null, "message": "All of the VMI's DVs are bound and ready",
            "reason": "AllDVsReady", "status": "True", "type": "DataVolumesReady"}));
    }
    c
}

/// The status machine type KubeVirt reports for a spec machine type.
fn status_machine_type(vm: &Vm) -> String {
    match vm.machine_type.as_deref().unwrap_or("q35") {
        "q35" => "pc-q35-rhel9.6.0".into(),
        other => other.into(),
    }
}

fn is_live_update(ctx: &VmContext) -> bool {
    ctx.cluster.kubevirt.vm_rollout_strategy.as_deref() == Some("LiveUpdate")
}

/// The running VMI (without `status.activePods`, which needs the launcher pod's UID).
pub fn vmi_object(vm: &Vm, vm_uid: &str, node: &str, ctx: &VmContext) -> Value {
    let nets = &ctx.nets;
    let s = sizing(vm, ctx);
    let mut cpu =
        json!({"cores": s.vcpus, "model": vm.cpu_model.as_deref().unwrap_or("host-model"), "sockets": 1, "threads": 1});
    let mut memory = json!({"guest": s.memory});
    if is_live_update(ctx) {
        cpu["maxSockets"] = json!(4);
        memory["maxGuest"] = json!(format_bytes(s.memory_bytes.saturating_mul(4)));
    }
    let mut domain = json!({
        "cpu": cpu, "devices": devices(vm, nets), "features": domain_features(vm),
        "firmware": {"uuid": firmware_uuid(vm)}, "machine": {"type": vm.machine_type.as_deref().unwrap_or("q35")},
        "memory": memory, "resources": {"requests": {"memory": s.memory}},
    });
    if vm.sev {
        domain["launchSecurity"] = json!({"sev": {}});
    }
    let mut spec = json!({
        "architecture": "amd64", "domain": domain, "networks": networks(nets), "terminationGracePeriodSeconds": 30,
        "volumes": vm.volumes.iter().map(vm_volume).collect::<Vec<_>>(),
    });
    add_placement(&mut spec, vm);
    let mut annotations = template_annotations(vm);
    annotations.insert("kubevirt.io/latest-observed-api-version".into(), "v1".into());
    annotations.insert("kubevirt.io/storage-observed-api-version".into(), "v1".into());
    annotations.insert("kubevirt.io/vm-generation".into(), "1".into());
    if let Some((it, _)) = ctx.instancetype {
        annotations.insert("kubevirt.io/cluster-instancetype-name".into(), it.name.clone());
    }
    let mut labels = vm.labels.clone();
    labels.insert("kubevirt.io/nodeName".into(), node.into());
    let interfaces: Vec<Value> = nets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut source = vec!["domain"];
            if vm.guest_agent {
                source.push("guest-agent");
            }
            if n.multus.is_some() {
                source.push("multus-status");
            }
            let mut o = json!({"infoSource": source.join(", "), "interfaceName": format!("enp{}s0", i + 1),
                "linkState": "up", "mac": n.mac, "name": n.name, "podInterfaceName": n.pod_interface, "queueCount": 1});
            if let Some(ip) = &n.ip {
                o["ipAddress"] = json!(ip);
                let mut ips = vec![json!(ip)];
                if vm.guest_agent
                    && let Some(ll) = link_local(&n.mac)
                {
                    ips.push(json!(ll));
                }
                o["ipAddresses"] = json!(ips);
            }
            o
        })
        .collect();
    let volume_status: Vec<Value> = vm
        .volumes
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let target = if v.reservation { format!("sd{}", (b'a' + i as u8 % 26) as char) } else { format!("vd{}", (b'a' + i as u8 % 26) as char) };
            let mut o = json!({"name": v.name, "target": target});
            if let Some(c) = claim(v) {
                let overhead = if volume_mode(v) == "Block" { "0" } else { "0.055" };
                o["persistentVolumeClaimInfo"] = json!({"accessModes": [access_mode(v)], "capacity": {"storage": size(v)},
                    "claimName": c, "filesystemOverhead": overhead, "requests": {"storage": size(v)}, "volumeMode": volume_mode(v)});
            } else if v.container_disk.is_some() {
                o["containerDiskVolume"] = json!({"checksum": super::derive::hash64(&v.name) as u32});
            }
            o
        })
        .collect();
    let migration_method = if vm.volumes.iter().all(is_shared) { "LiveMigration" } else { "BlockMigration" };
    let phases: Vec<Value> = ["Pending", "Scheduling", "Scheduled", "Running"]
        .iter()
        .map(|p| json!({"phase": p, "phaseTransitionTimestamp": ctx.now}))
        .collect();
    let mut status = json!({
        "conditions": vmi_conditions(vm, ctx.now),
        "currentCPUTopology": {"cores": s.vcpus, "sockets": 1, "threads": 1},
        "interfaces": interfaces,
        "launcherContainerImageVersion": format!("quay.io/kubevirt/virt-launcher:{}", ctx.cluster.kubevirt.version),
        "machine": {"type": status_machine_type(vm)},
        "memory": {"guestAtBoot": s.memory, "guestCurrent": s.memory, "guestRequested": s.memory},
        "migrationMethod": migration_method, "migrationTransport": "Unix", "nodeName": node, "phase": "Running",
        "phaseTransitionTimestamps": phases,
        "qosClass": "Burstable", "runtimeUser": 107, "selinuxContext": "none",
        "virtualMachineRevisionName": format!("revision-start-vm-{vm_uid}-1"),
        "volumeStatus": volume_status,
    });
    if vm.hyperv_reenlightenment
        && let Some(hz) = ctx.node_profile.and_then(|p| p.tsc_frequency)
    {
        status["topologyHints"] = json!({"tscFrequency": hz});
    }
    json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"annotations": str_map(&annotations),
            "finalizers": ["kubevirt.io/virtualMachineControllerFinalize", "foregroundDeleteVirtualMachine"],
            "labels": str_map(&labels), "name": vm.name, "namespace": vm.namespace,
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "blockOwnerDeletion": true, "controller": true,
                "kind": "VirtualMachine", "name": vm.name, "uid": vm_uid}]},
        "spec": spec, "status": status
    })
}

/// Name of the VM's virt-launcher pod.
pub fn launcher_pod_name(vm: &Vm) -> String {
    vm.launcher_pod.clone().unwrap_or_else(|| {
        format!("virt-launcher-{}-{}", vm.name, name_suffix(&format!("{}/{}", vm.namespace, vm.name)))
    })
}

/// Memory request of the compute container: guest memory plus an approximation of KubeVirt's overhead
/// (252Mi + guest/512 page tables + 1, which gives the fixture's 4567597057 for 4Gi).
fn launcher_memory(guest: u64) -> u64 {
    guest + (252 << 20) + guest / 512 + 1
}

/// One entry of Multus' `k8s.v1.cni.cncf.io/network-status`, in Go field order.
#[derive(serde::Serialize)]
struct NetworkStatus<'a> {
    name: &'a str,
    interface: &'a str,
    ips: Vec<&'a str>,
    mac: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    default: bool,
    dns: Map<String, Value>,
}

/// The `k8s.v1.cni.cncf.io/network-status` annotation as Multus writes it (indented by four spaces).
fn network_status(nets: &[NetPlan]) -> String {
    let list: Vec<NetworkStatus> = nets
        .iter()
        .map(|n| NetworkStatus {
            name: n.multus.as_deref().unwrap_or("kube-ovn"),
            interface: &n.pod_interface,
            ips: n.ip.iter().map(String::as_str).collect(),
            mac: &n.mac,
            default: n.multus.is_none(),
            dns: Map::new(),
        })
        .collect();
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    // Serialising plain strings and vectors into a Vec cannot fail.
    let _ = serde::Serialize::serialize(&list, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// The virt-launcher pod of a running VMI.
pub fn launcher_pod(vm: &Vm, vmi_uid: &str, node: &str, ctx: &VmContext) -> Value {
    let nets = &ctx.nets;
    let s = sizing(vm, ctx);
    let name = launcher_pod_name(vm);
    let image = format!("quay.io/kubevirt/virt-launcher:{}", ctx.cluster.kubevirt.version);
    let mut labels = vm.labels.clone();
    for (k, v) in [
        ("kubevirt.io", "virt-launcher"),
        ("kubevirt.io/created-by", vmi_uid),
        ("kubevirt.io/nodeName", node),
        ("vm.kubevirt.io/name", &vm.name),
    ] {
        labels.insert(k.into(), v.into());
    }
    let mut annotations = template_annotations(vm);
    let freezer = |op: &str| {
        json!(["/usr/bin/virt-freezer", op, "--name", vm.name, "--namespace", vm.namespace])
            .to_string()
            .replace(",", ", ")
    };
    for (k, v) in [
        ("descheduler.alpha.kubernetes.io/request-evict-only", String::new()),
        ("kubectl.kubernetes.io/default-container", "compute".into()),
        ("kubevirt.io/domain", vm.name.clone()),
        ("kubevirt.io/migrationTransportUnix", "true".into()),
        ("kubevirt.io/vm-generation", "1".into()),
        ("post.hook.backup.velero.io/command", freezer("--unfreeze")),
        ("post.hook.backup.velero.io/container", "compute".into()),
        ("pre.hook.backup.velero.io/command", freezer("--freeze")),
        ("pre.hook.backup.velero.io/container", "compute".into()),
    ] {
        annotations.insert(k.into(), v);
    }
    if let Some((it, _)) = ctx.instancetype {
        annotations.insert("kubevirt.io/cluster-instancetype-name".into(), it.name.clone());
    }
    let multus: Vec<&NetPlan> = nets.iter().filter(|n| n.multus.is_some()).collect();
    if !multus.is_empty() {
        // Go struct field order (name, namespace, interface), as KubeVirt serialises it.
        let list: Vec<String> = multus
            .iter()
            .filter_map(|n| {
                let (ns, nad) = n.multus.as_deref()?.split_once('/')?;
                Some(format!(
                    r#"{{"name":{},"namespace":{},"interface":{}}}"#,
                    json!(nad),
                    json!(ns),
                    json!(n.pod_interface)
                ))
            })
            .collect();
        annotations.insert("k8s.v1.cni.cncf.io/networks".into(), format!("[{}]", list.join(",")));
    }
    if !nets.is_empty() {
        annotations.insert("k8s.v1.cni.cncf.io/network-status".into(), network_status(nets));
    }

    let mut volumes: Vec<Value> =
        ["private", "public", "sockets", "virt-bin-share-dir", "libvirt-runtime", "ephemeral-disks", "container-disks"]
            .iter()
            .map(|n| json!({"name": n, "emptyDir": {}}))
            .collect();
    let mut mounts: Vec<Value> = vec![
        json!({"name": "private", "mountPath": "/var/run/kubevirt-private"}),
        json!({"name": "public", "mountPath": "/var/run/kubevirt"}),
        json!({"name": "ephemeral-disks", "mountPath": "/var/run/kubevirt-ephemeral-disks"}),
        json!({"name": "container-disks", "mountPath": "/var/run/kubevirt/container-disks", "mountPropagation": "HostToContainer"}),
        json!({"name": "libvirt-runtime", "mountPath": "/var/run/libvirt"}),
        json!({"name": "sockets", "mountPath": "/var/run/kubevirt/sockets"}),
    ];
    let mut devices_list: Vec<Value> = Vec::new();
    let mut containers: Vec<(String, String)> = vec![("compute".into(), image.clone())];
    for v in &vm.volumes {
        if let Some(c) = claim(v) {
            volumes.push(json!({"name": v.name, "persistentVolumeClaim": {"claimName": c}}));
            if volume_mode(v) == "Block" {
                devices_list.push(json!({"name": v.name, "devicePath": format!("/dev/{}", v.name)}));
            } else {
                mounts.push(
                    json!({"name": v.name, "mountPath": format!("/var/run/kubevirt-private/vmi-disks/{}", v.name)}),
                );
            }
        } else if let Some(path) = &v.host_disk {
            let dir = path.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()).unwrap_or("/");
            volumes.push(json!({"name": v.name, "hostPath": {"path": dir, "type": "DirectoryOrCreate"}}));
            mounts
                .push(json!({"name": v.name, "mountPath": format!("/var/run/kubevirt-private/vmi-disks/{}", v.name)}));
        } else if let Some(img) = &v.container_disk {
            containers.push((format!("volume{}", v.name), img.clone()));
        }
    }
    volumes.push(json!({"name": "hotplug-disks", "emptyDir": {}}));
    mounts.push(json!({"name": "hotplug-disks", "mountPath": "/var/run/kubevirt/hotplug-disks", "mountPropagation": "HostToContainer"}));

    let mut limits = Map::new();
    let mut requests = Map::new();
    requests.insert("cpu".into(), json!(format!("{}m", 100 * s.vcpus)));
    for d in ["kvm", "tun", "vhost-net"] {
        limits.insert(format!("devices.kubevirt.io/{d}"), json!("1"));
        requests.insert(format!("devices.kubevirt.io/{d}"), json!("1"));
    }
    for dev in vm.host_devices.iter().chain(&vm.gpus) {
        limits.insert(dev.clone(), json!("1"));
        requests.insert(dev.clone(), json!("1"));
    }
    requests.insert("ephemeral-storage".into(), json!("50M"));
    requests.insert("memory".into(), json!(launcher_memory(s.memory_bytes).to_string()));
    let mut compute = json!({
        "name": "compute", "image": image,
        "command": ["/usr/bin/virt-launcher-monitor", "--qemu-timeout", "263s", "--name", vm.name, "--uid", vmi_uid,
            "--namespace", vm.namespace, "--kubevirt-share-dir", "/var/run/kubevirt", "--ephemeral-disk-dir",
            "/var/run/kubevirt-ephemeral-disks", "--container-disk-dir", "/var/run/kubevirt/container-disks",
            "--grace-period-seconds", "45", "--hook-sidecars", "0", "--ovmf-path", "/usr/share/OVMF", "--run-as-nonroot"],
        "env": [{"name": "XDG_CACHE_HOME", "value": "/var/run/kubevirt-private"},
            {"name": "XDG_CONFIG_HOME", "value": "/var/run/kubevirt-private"}, {"name": "XDG_RUNTIME_DIR", "value": "/var/run"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "resources": {"limits": limits, "requests": requests},
        "volumeMounts": mounts,
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
        "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "privileged": false,
            "runAsUser": 107, "runAsGroup": 107, "runAsNonRoot": true, "allowPrivilegeEscalation": false}
    });
    if !devices_list.is_empty() {
        compute["volumeDevices"] = json!(devices_list);
    }
    let mut pod_containers = vec![compute];
    for (cname, img) in containers.iter().skip(1) {
        pod_containers.push(json!({"name": cname, "image": img, "command": ["/usr/bin/container-disk"],
            "resources": {"limits": {"cpu": "10m", "memory": "40M"}, "requests": {"cpu": "1m", "ephemeral-storage": "50M", "memory": "1M"}},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}));
    }

    let mut node_selector = BTreeMap::from([
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("kubevirt.io/schedulable".into(), "true".into()),
        (format!("machine-type.node.kubevirt.io/{}", vm.machine_type.as_deref().unwrap_or("q35")), "true".into()),
    ]);
    if let Some(m) = vm.cpu_model.as_deref().filter(|m| !["host-model", "host-passthrough"].contains(m)) {
        node_selector.insert(format!("cpu-model.node.kubevirt.io/{m}"), "true".into());
    }
    node_selector.extend(vm.node_selector.clone());
    let mut tolerations = vec![
        json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
    ];
    tolerations.extend(vm.tolerations.iter().cloned());

    let container_refs: Vec<(&str, &str)> = containers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut status = running_pod_status(ctx.now, &container_refs, "Burstable");
    if let Some(conds) = status["conditions"].as_array_mut() {
        conds.insert(
            0,
            json!({"type": "kubevirt.io/virtual-machine-unpaused", "status": "True", "lastProbeTime": ctx.now,
            "lastTransitionTime": ctx.now, "reason": "NotPaused", "message": "the virtual machine is not paused"}),
        );
    }
    if let Some(ip) = ctx.node_ip {
        status["hostIP"] = json!(ip);
        status["hostIPs"] = json!([{"ip": ip}]);
    }
    if let Some(ip) = pod_network_ip(nets) {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "generateName": format!("virt-launcher-{}-", vm.name), "namespace": vm.namespace,
            "labels": str_map(&labels), "annotations": str_map(&annotations),
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": vm.name,
                "uid": vmi_uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {
            "volumes": volumes, "containers": pod_containers, "restartPolicy": "Never", "terminationGracePeriodSeconds": 60,
            "dnsPolicy": "ClusterFirst", "nodeSelector": str_map(&node_selector), "serviceAccountName": "default",
            "serviceAccount": "default", "automountServiceAccountToken": false, "nodeName": node,
            "securityContext": {"runAsUser": 107, "runAsGroup": 107, "runAsNonRoot": true, "fsGroup": 107},
            "hostname": vm.name, "schedulerName": "default-scheduler", "tolerations": tolerations, "priority": 0,
            "readinessGates": [{"conditionType": "kubevirt.io/virtual-machine-unpaused"}], "enableServiceLinks": false,
            "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": status
    })
}

/// A CDI DataVolume (import Succeeded).
pub fn data_volume(vm: &Vm, v: &Volume, storage_class: &str, now: &str) -> Value {
    let name = claim(v).unwrap_or(&v.name);
    let cond = |kind: &str, status: &str, reason: Option<&str>, message: Option<&str>| {
        let mut c = json!({"lastHeartbeatTime": now, "lastTransitionTime": now, "status": status, "type": kind});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        if let Some(m) = message {
            c["message"] = json!(m);
        }
        c
    };
    json!({
        "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
        "metadata": {"annotations": {"cdi.kubevirt.io/storage.usePopulator": "true"}, "name": name, "namespace": vm.namespace},
        "spec": {"source": v.source.clone().unwrap_or_else(|| json!({"blank": {}})),
            "storage": {"accessModes": [access_mode(v)], "resources": {"requests": {"storage": size(v)}},
                "storageClassName": storage_class, "volumeMode": volume_mode(v)}},
        "status": {"claimName": name, "conditions": [
            cond("Bound", "True", Some("Bound"), Some(&format!("PVC {name} Bound"))),
            cond("Ready", "True", None, None),
            cond("Running", "False", Some("Completed"), Some("Import Complete"))],
            "phase": "Succeeded", "progress": "100.0%"}
    })
}

/// A Bound PVC; `owner` is the DataVolume's (name, uid) when CDI made it.
pub fn pvc(
    vm: &Vm,
    v: &Volume,
    storage_class: &str,
    provisioner: &str,
    node: Option<&str>,
    owner: Option<(&str, &str)>,
) -> Value {
    let name = claim(v).unwrap_or(&v.name);
    let mut annotations = BTreeMap::from([
        ("pv.kubernetes.io/bind-completed".to_string(), "yes".to_string()),
        ("pv.kubernetes.io/bound-by-controller".into(), "yes".into()),
        ("volume.beta.kubernetes.io/storage-provisioner".into(), provisioner.into()),
        ("volume.kubernetes.io/storage-provisioner".into(), provisioner.into()),
    ]);
    if let Some(n) = node {
        annotations.insert("volume.kubernetes.io/selected-node".into(), n.into());
    }
    let mut meta = json!({"name": name, "namespace": vm.namespace});
    let mut spec = json!({"accessModes": [access_mode(v)], "resources": {"requests": {"storage": size(v)}},
        "volumeName": format!("pvc-{}", uuid_from(&format!("pv/{}/{name}", vm.namespace))),
        "storageClassName": storage_class, "volumeMode": volume_mode(v)});
    if let Some((dv, uid)) = owner {
        for (k, val) in [
            ("cdi.kubevirt.io/storage.condition.running", "false"),
            ("cdi.kubevirt.io/storage.condition.running.message", "Import Complete"),
            ("cdi.kubevirt.io/storage.condition.running.reason", "Completed"),
            ("cdi.kubevirt.io/storage.contentType", "kubevirt"),
            ("cdi.kubevirt.io/storage.pod.phase", "Succeeded"),
            ("cdi.kubevirt.io/storage.pod.restarts", "0"),
            ("cdi.kubevirt.io/storage.populator.progress", "100.0%"),
            ("cdi.kubevirt.io/storage.preallocation.requested", "false"),
            ("cdi.kubevirt.io/storage.usePopulator", "true"),
        ] {
            annotations.insert(k.into(), val.into());
        }
        meta["labels"] = json!({"app": "containerized-data-importer", "app.kubernetes.io/component": "storage",
            "app.kubernetes.io/managed-by": "cdi-controller"});
        meta["ownerReferences"] = json!([{"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "name": dv,
            "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
        let source = json!({"apiGroup": "cdi.kubevirt.io", "kind": "VolumeImportSource", "name": format!("volume-import-source-{uid}")});
        spec["dataSource"] = source.clone();
        spec["dataSourceRef"] = source;
    }
    meta["annotations"] = Value::Object(str_map(&annotations));
    meta["finalizers"] = json!(["kubernetes.io/pvc-protection"]);
    json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1", "metadata": meta, "spec": spec,
        "status": {"phase": "Bound", "accessModes": [access_mode(v)], "capacity": {"storage": size(v)}}})
}

/// A Service selecting the VM's launcher pod (LoadBalancer: with its external IP in status).
pub fn service(vm: &Vm, s: &Service) -> Value {
    let h = super::derive::hash64(&format!("svc/{}/{}", vm.namespace, s.name));
    let cluster_ip = s.cluster_ip.clone().unwrap_or_else(|| format!("10.96.{}.{}", (h >> 8) % 256, h % 254 + 1));
    let exposed = s.r#type != "ClusterIP";
    let ports: Vec<Value> = s
        .ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut o = json!({"name": format!("port-{p}"), "protocol": "TCP", "port": p, "targetPort": p});
            if exposed {
                o["nodePort"] = json!(30000 + (h + i as u64) % 2768);
            }
            o
        })
        .collect();
    let selector = if s.selector.is_empty() {
        BTreeMap::from([("vm.kubevirt.io/name".to_string(), vm.name.clone())])
    } else {
        s.selector.clone()
    };
    let mut meta = json!({"name": s.name, "namespace": vm.namespace});
    if !s.labels.is_empty() {
        meta["labels"] = Value::Object(str_map(&s.labels));
    }
    if !s.annotations.is_empty() {
        meta["annotations"] = Value::Object(str_map(&s.annotations));
    }
    let mut spec = json!({"ports": ports, "selector": str_map(&selector), "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
        "type": s.r#type, "sessionAffinity": "None"});
    let policy = s.external_traffic_policy.as_deref().unwrap_or("Cluster");
    if exposed {
        spec["externalTrafficPolicy"] = json!(policy);
        if s.r#type == "LoadBalancer" && policy == "Local" {
            spec["healthCheckNodePort"] = json!(30000 + (h >> 16) % 2768);
        }
    }
    spec["ipFamilies"] = json!(["IPv4"]);
    spec["ipFamilyPolicy"] = json!("SingleStack");
    let mut status = json!({"loadBalancer": {}});
    if s.r#type == "LoadBalancer" {
        meta["finalizers"] = json!(["service.kubernetes.io/load-balancer-cleanup"]);
        spec["allocateLoadBalancerNodePorts"] = json!(true);
        if let Some(ip) = &s.external_ip {
            status = json!({"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}});
        }
    }
    spec["internalTrafficPolicy"] = json!("Cluster");
    json!({"kind": "Service", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status})
}
