//! Lookups over a [`ClusterSnapshot`], built once so that evaluating 10,000 VMs stays linear.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::nodes::NodeVerdict;
use super::snapshot::ClusterSnapshot;
use crate::kubevirt::{
    KubeVirt, LABEL_VMI_NAME, MigrationPhase, VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceMigration,
};
use crate::quantity;

type Key<'a> = (&'a str, &'a str);

fn key(m: &ObjectMeta) -> Key<'_> {
    (m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""))
}

/// Indexed, borrowed view of a snapshot.
pub struct Index<'a> {
    pub snapshot: &'a ClusterSnapshot,
    vms: HashMap<Key<'a>, &'a VirtualMachine>,
    vmis: HashMap<Key<'a>, &'a VirtualMachineInstance>,
    pvcs: HashMap<Key<'a>, &'a PersistentVolumeClaim>,
    storage_classes: HashMap<&'a str, &'a StorageClass>,
    nodes: HashMap<&'a str, &'a Node>,
    namespaces: HashMap<&'a str, &'a Namespace>,
    services: HashMap<&'a str, Vec<&'a Service>>,
    /// Non-final launcher pods by the VMI uid in their `kubevirt.io/created-by` label.
    pods_by_vmi_uid: HashMap<&'a str, Vec<&'a Pod>>,
    /// Sum of memory requests of non-final launcher pods per node.
    memory_requested: HashMap<&'a str, u64>,
    /// Migrations by (namespace, VMI name).
    migrations: HashMap<Key<'a>, Vec<&'a VirtualMachineInstanceMigration>>,
    /// Migrations in Scheduling..Running, cluster-wide and per source node.
    running_total: usize,
    running_by_node: HashMap<String, usize>,
    /// Node verdicts by [`Requirements::cache_key`](super::nodes::Requirements::cache_key).
    node_verdicts: RefCell<HashMap<String, Vec<NodeVerdict>>>,
}

/// Phases in which a migration counts against `parallelMigrationsPerCluster`.
pub fn is_running_phase(phase: MigrationPhase) -> bool {
    (MigrationPhase::Scheduling..=MigrationPhase::Running).contains(&phase)
}

/// The phase of a VMIM; absent or unknown counts as `Unset`.
pub fn phase(m: &VirtualMachineInstanceMigration) -> MigrationPhase {
    m.status.as_ref().and_then(|s| s.phase.as_deref()).and_then(MigrationPhase::parse).unwrap_or(MigrationPhase::Unset)
}

fn pod_is_final(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

fn pod_memory_request(p: &Pod) -> u64 {
    let Some(spec) = &p.spec else { return 0 };
    spec.containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get("memory"))
        .filter_map(quantity::bytes)
        .sum()
}

impl<'a> Index<'a> {
    pub fn new(snapshot: &'a ClusterSnapshot) -> Self {
        let vms = snapshot.vms.iter().map(|v| (key(&v.metadata), v)).collect();
        let vmis: HashMap<Key<'a>, &'a VirtualMachineInstance> =
            snapshot.vmis.iter().map(|v| (key(&v.metadata), v)).collect();
        let mut services: HashMap<&str, Vec<&Service>> = HashMap::new();
        for s in &snapshot.services {
            services.entry(key(&s.metadata).0).or_default().push(s);
        }
        let mut pods_by_vmi_uid: HashMap<&str, Vec<&Pod>> = HashMap::new();
        let mut memory_requested: HashMap<&str, u64> = HashMap::new();
        for p in snapshot.launcher_pods.iter().filter(|p| !pod_is_final(p)) {
            if let Some(uid) = p.metadata.labels.as_ref().and_then(|l| l.get("kubevirt.io/created-by")) {
                pods_by_vmi_uid.entry(uid).or_default().push(p);
            }
            if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                *memory_requested.entry(node).or_default() += pod_memory_request(p);
            }
        }
        let mut migrations: HashMap<Key<'a>, Vec<&VirtualMachineInstanceMigration>> = HashMap::new();
        let mut running_total = 0;
        let mut running_by_node: HashMap<String, usize> = HashMap::new();
        for m in &snapshot.migrations {
            let ns = key(&m.metadata).0;
            let vmi_name = m
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_VMI_NAME))
                .map(String::as_str)
                .unwrap_or(m.spec.vmi_name.as_str());
            migrations.entry((ns, vmi_name)).or_default().push(m);
            if is_running_phase(phase(m)) {
                running_total += 1;
                let source = vmis.get(&(ns, vmi_name)).and_then(|vmi| source_node(vmi));
                if let Some(node) = source {
                    *running_by_node.entry(node.to_owned()).or_default() += 1;
                }
            }
        }
        Index {
            snapshot,
            vms,
            vmis,
            pvcs: snapshot.pvcs.iter().map(|p| (key(&p.metadata), p)).collect(),
            storage_classes: snapshot.storage_classes.iter().map(|s| (key(&s.metadata).1, s)).collect(),
            nodes: snapshot.nodes.iter().map(|n| (key(&n.metadata).1, n)).collect(),
            namespaces: snapshot.namespaces.iter().map(|n| (key(&n.metadata).1, n)).collect(),
            services,
            pods_by_vmi_uid,
            memory_requested,
            migrations,
            running_total,
            running_by_node,
            node_verdicts: RefCell::default(),
        }
    }

    /// The KubeVirt CR in effect (the first one).
    pub fn kubevirt(&self) -> Option<&'a KubeVirt> {
        self.snapshot.kubevirts.first()
    }
    pub fn kubevirt_version(&self) -> Option<&'a str> {
        self.kubevirt()?.status.as_ref()?.observed_kube_virt_version.as_deref()
    }
    pub fn vm(&self, ns: &str, name: &str) -> Option<&'a VirtualMachine> {
        self.vms.get(&(ns, name)).copied()
    }
    pub fn vmi(&self, ns: &str, name: &str) -> Option<&'a VirtualMachineInstance> {
        self.vmis.get(&(ns, name)).copied()
    }
    pub fn pvc(&self, ns: &str, name: &str) -> Option<&'a PersistentVolumeClaim> {
        self.pvcs.get(&(ns, name)).copied()
    }
    pub fn storage_class(&self, name: &str) -> Option<&'a StorageClass> {
        self.storage_classes.get(name).copied()
    }
    pub fn node(&self, name: &str) -> Option<&'a Node> {
        self.nodes.get(name).copied()
    }
    pub fn namespace(&self, name: &str) -> Option<&'a Namespace> {
        self.namespaces.get(name).copied()
    }
    pub fn services(&self, ns: &str) -> Vec<&'a Service> {
        self.services.get(ns).cloned().unwrap_or_default()
    }
    /// Non-final virt-launcher pods of the VMI with this uid.
    pub fn launcher_pods(&self, vmi_uid: &str) -> Vec<&'a Pod> {
        self.pods_by_vmi_uid.get(vmi_uid).cloned().unwrap_or_default()
    }
    /// Memory requested by non-final virt-launcher pods on a node.
    pub fn memory_requested(&self, node: &str) -> u64 {
        self.memory_requested.get(node).copied().unwrap_or(0)
    }
    pub fn migrations(&self, ns: &str, vmi: &str) -> Vec<&'a VirtualMachineInstanceMigration> {
        self.migrations.get(&(ns, vmi)).cloned().unwrap_or_default()
    }
    /// Migrations in Scheduling..Running cluster-wide.
    pub fn running_migrations(&self) -> usize {
        self.running_total
    }
    /// Migrations in Scheduling..Running whose source is this node.
    pub fn running_outbound(&self, node: &str) -> usize {
        self.running_by_node.get(node).copied().unwrap_or(0)
    }
    /// Why a kind could not be read, if it could not.
    pub fn unavailable(&self, plural: &str) -> Option<&'a str> {
        self.snapshot.unavailable.get(plural).map(String::as_str)
    }
    /// The node verdicts for requirements `key`, computed by `compute` the first time.
    pub fn node_verdicts(&self, key: String, compute: impl FnOnce() -> Vec<NodeVerdict>) -> Vec<NodeVerdict> {
        if let Some(v) = self.node_verdicts.borrow().get(&key) {
            return v.clone();
        }
        let v = compute();
        self.node_verdicts.borrow_mut().insert(key, v.clone());
        v
    }

    /// All nodes, in snapshot order.
    pub fn all_nodes(&self) -> &'a [Node] {
        &self.snapshot.nodes
    }
}

/// The node a VMI migrates away from: `migrationState.sourceNode` while migrating, else `nodeName`.
pub fn source_node(vmi: &VirtualMachineInstance) -> Option<&str> {
    let status = vmi.status.as_ref()?;
    status
        .migration_state
        .as_ref()
        .filter(|m| !m.completed)
        .and_then(|m| m.source_node.as_deref())
        .or(status.node_name.as_deref())
}

/// Labels of an object, empty when absent.
pub fn labels(m: &ObjectMeta) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    m.labels.as_ref().unwrap_or(&EMPTY)
}
