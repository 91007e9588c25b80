//! Creating a scenario's objects in the store.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::format::{ImageTools, Scenario};
use super::{ScenarioError, objects};
use crate::api::faults::Faults;
use crate::api::resources::{self, ResourceType};
use crate::api::{Store, UpdateMode};
use crate::kubevirt::behaviour::BehaviourMap;

/// What applying a scenario hands to the rest of the sim.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// Migration behaviours: `migrationDefaults` and each VM's `migration`, keyed `"namespace/name"`.
    pub behaviours: BehaviourMap,
    pub faults: Faults,
    pub images: BTreeMap<String, ImageTools>,
    /// `cluster.kubernetesVersion`, for `/version`.
    pub kubernetes_version: String,
    /// Namespace of the KubeVirt installation (where the KubeVirt CR and virt-handler pods live).
    pub kubevirt_namespace: String,
    /// Number of objects created.
    pub objects: usize,
}

struct Creator<'a> {
    store: &'a Store,
    count: usize,
}

impl Creator<'_> {
    /// Creates an object and returns its UID.
    fn create(&mut self, rt: &'static ResourceType, ns: Option<&str>, obj: Value) -> Result<String, ScenarioError> {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let created = self.store.create(rt, ns, obj, false).map_err(|error| ScenarioError::Store {
            kind: rt.kind.into(),
            name: ns.map_or_else(|| name.clone(), |ns| format!("{ns}/{name}")),
            error: Box::new(error),
        })?;
        self.count += 1;
        Ok(created["metadata"]["uid"].as_str().unwrap_or_default().to_string())
    }
}

impl Scenario {
    /// Creates every object of the scenario in `store` (empty, or with only a cluster's own namespaces): namespaces, nodes, storage classes,
    /// NADs, instancetypes, the KubeVirt CR, MigrationPolicies, virt-handler pods, and per VM its PVCs/DataVolumes,
    /// the VM, and when running the VMI and virt-launcher pod; then Services and `rawObjects`.
    pub fn apply(&self, store: &Store) -> Result<Applied, ScenarioError> {
        self.validate("scenario")?;
        let now = store.clock().now_rfc3339();
        let mut c = Creator { store, count: 0 };
        let cluster = &self.cluster;
        let kv = &cluster.kubevirt;

        let mut namespaces: BTreeSet<&str> = BTreeSet::from([kv.namespace.as_str()]);
        namespaces.extend(cluster.namespaces.iter().map(String::as_str));
        namespaces.extend(cluster.nads.iter().map(|n| n.namespace.as_str()));
        namespaces.extend(self.vms.iter().map(|v| v.namespace.as_str()));
        for ns in namespaces {
            // A cluster's own namespaces (`default`, `kube-system`, ...) may exist already.
            if store.get(&resources::NAMESPACES, None, ns).is_err() {
                c.create(&resources::NAMESPACES, None, objects::namespace(ns))?;
            }
        }
        for sc in &cluster.storage_classes {
            c.create(&resources::STORAGE_CLASSES, None, objects::storage_class(sc))?;
        }
        let mut instancetype_uids = BTreeMap::new();
        for it in &cluster.instancetypes {
            let uid = c.create(&resources::CLUSTER_INSTANCETYPES, None, objects::instancetype(it))?;
            instancetype_uids.insert(it.name.as_str(), uid);
        }
        for p in &cluster.migration_policies {
            c.create(&resources::MIGRATION_POLICIES, None, objects::migration_policy(p))?;
        }
        c.create(&resources::KUBEVIRTS, Some(&kv.namespace), objects::kubevirt_cr(kv, &now))?;
        for n in &cluster.nads {
            c.create(&resources::NADS, Some(&n.namespace), objects::nad(n))?;
        }

        let mut node_ips = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let profile = n.cpu.as_ref().and_then(|p| self.cpu_profiles.get(p));
            c.create(&resources::NODES, None, objects::node(n, profile, i, &cluster.kubernetes_version, &now))?;
            let (ip, cidr) = objects::node_addresses(n, i);
            if kv.handler_pods {
                c.create(&resources::PODS, Some(&kv.namespace), objects::handler_pod(kv, &n.name, &cidr, &now))?;
            }
            node_ips.insert(n.name.as_str(), (ip, profile));
        }

        let default_class = self.default_storage_class();
        let mut auto_ips = 0;
        for vm in &self.vms {
            let ns = Some(vm.namespace.as_str());
            let auto_ip = super::derive::pod_ip(auto_ips);
            if vm.networks.iter().any(|n| n.multus.is_none() && n.ip.is_none()) {
                auto_ips += 1;
            }
            let instancetype = vm.instancetype.as_ref().and_then(|name| {
                let it = cluster.instancetypes.iter().find(|i| &i.name == name)?;
                Some((it, instancetype_uids.get(name.as_str())?.as_str()))
            });
            let node = vm.node.as_deref().and_then(|n| node_ips.get(n));
            let ctx = objects::VmContext {
                cluster,
                instancetype,
                node_ip: node.map(|(ip, _)| ip.as_str()),
                node_profile: node.and_then(|(_, p)| *p),
                nets: objects::net_plan(vm, &auto_ip),
                now: &now,
            };
            for v in &vm.volumes {
                if objects::claim(v).is_none() {
                    continue;
                }
                let sc = v
                    .storage_class
                    .as_deref()
                    .and_then(|n| cluster.storage_classes.iter().find(|s| s.name == n))
                    .or(default_class);
                let (sc_name, provisioner) = sc.map_or(("", ""), |s| (s.name.as_str(), s.provisioner.as_str()));
                let selected = vm.node.as_deref().filter(|_| vm.running);
                let owner = match &v.data_volume {
                    Some(dv) => {
                        let uid = c.create(&resources::DATAVOLUMES, ns, objects::data_volume(vm, v, sc_name, &now))?;
                        Some((dv.as_str(), uid))
                    }
                    None => None,
                };
                let owner = owner.as_ref().map(|(n, u)| (*n, u.as_str()));
                c.create(&resources::PVCS, ns, objects::pvc(vm, v, sc_name, provisioner, selected, owner))?;
            }
            let vm_uid = c.create(&resources::VMS, ns, objects::vm_object(vm, &ctx))?;
            if let (true, Some(node)) = (vm.running, vm.node.as_deref()) {
                let vmi_uid = c.create(&resources::VMIS, ns, objects::vmi_object(vm, &vm_uid, node, &ctx))?;
                let pod_uid = c.create(&resources::PODS, ns, objects::launcher_pod(vm, &vmi_uid, node, &ctx))?;
                let mut vmi = store.get(&resources::VMIS, ns, &vm.name).map_err(|error| ScenarioError::Store {
                    kind: "VirtualMachineInstance".into(),
                    name: format!("{}/{}", vm.namespace, vm.name),
                    error: Box::new(error),
                })?;
                vmi["status"]["activePods"] = json!({ pod_uid: node });
                store.update(&resources::VMIS, ns, &vm.name, vmi, UpdateMode::Full, false).map_err(|error| {
                    ScenarioError::Store {
                        kind: "VirtualMachineInstance".into(),
                        name: format!("{}/{}", vm.namespace, vm.name),
                        error: Box::new(error),
                    }
                })?;
            }
            for s in &vm.services {
                c.create(&resources::SERVICES, ns, objects::service(vm, s))?;
            }
        }

        for raw in &self.raw_objects {
            let api_version = raw["apiVersion"].as_str().unwrap_or_default();
            let kind = raw["kind"].as_str().unwrap_or_default();
            let rt = resources::find_kind(api_version, kind).ok_or_else(|| ScenarioError::Invalid {
                origin: "rawObjects".into(),
                message: format!("{api_version} {kind} is not a served resource type"),
            })?;
            let ns = raw["metadata"]["namespace"].as_str().filter(|_| rt.namespaced);
            c.create(rt, ns, raw.clone())?;
        }

        Ok(Applied {
            behaviours: self.behaviours(),
            faults: self.faults.clone(),
            images: self.images.clone(),
            kubernetes_version: cluster.kubernetes_version.clone(),
            kubevirt_namespace: kv.namespace.clone(),
            objects: c.count,
        })
    }
}
