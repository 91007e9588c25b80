//! KubeVirt v1.5 behaviour: admission, LiveMigratable, the migration controller, launcher logs.
//!
//! The single entry is [`KubeVirtSim`]: its [`admission`](KubeVirtSim::admission) plugs into the API server
//! (`SimOptions::admission`), and [`start`](KubeVirtSim::start) runs the controllers against the store (inside a
//! tokio runtime, after the scenario filled the store or before: existing objects are picked up). The
//! [`switchovers`](KubeVirtSim::switchovers) are for the network model. The `migrate` subresource of VMs is
//! [`subresource::migrate_vm`], for the API server to route `PUT .../virtualmachines/{name}/migrate` to.
//!
//! Modules, one concept each: [`admission`] (CRD pruning and schema, webhooks), [`migratable`] (the LiveMigratable
//! rules) and [`handler`] (keeping conditions current), [`config`] (effective migration configuration),
//! [`scheduling`] (where a target pod fits), [`launcher`] (virt-launcher pods and log records), [`memory`] (the
//! pre-copy model), [`metrics`] (virt-handler's migration metrics), [`controller`] (the event loop) and [`migration`] (one migration's walk), [`objects`] (writes
//! and Events), [`quantity`], [`subresource`].

pub mod admission;
pub mod behaviour;
pub mod config;
pub mod controller;
pub mod handler;
pub mod launcher;
pub mod memory;
pub mod metrics;
pub mod migratable;
pub mod migration;
pub mod objects;
pub mod quantity;
pub mod scheduling;
pub mod subresource;

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::api::Store;
use crate::api::hooks::Admission;
pub use admission::KubeVirtAdmission;
pub use behaviour::{BehaviourMap, MigrationBehaviour};
use controller::Controller;
pub use controller::SwitchoverEvent;

/// KubeVirt inside the sim: webhooks, virt-handler's conditions, the migration controller and virt-launcher.
#[derive(Clone)]
pub struct KubeVirtSim {
    ctl: Arc<Controller>,
}

impl KubeVirtSim {
    pub fn new(store: Store, behaviours: BehaviourMap) -> Self {
        Self { ctl: Arc::new(Controller::new(store, behaviours)) }
    }

    /// KubeVirt's admission webhooks (and the VMIM CRD's pruning) for the API server.
    pub fn admission(&self) -> Arc<dyn Admission> {
        Arc::new(KubeVirtAdmission)
    }

    /// Runs the controllers on the current tokio runtime until the returned task is aborted, which also stops every
    /// migration in progress.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(Arc::clone(&self.ctl).run())
    }

    /// Every switchover so far, oldest first.
    pub fn switchovers(&self) -> Vec<SwitchoverEvent> {
        self.ctl.switchovers()
    }

    /// One scrape of the virt-handler on `node` (`:8443/metrics`): the migration metrics of the VMIs migrating away
    /// from it, as Prometheus text (see [`metrics`]).
    pub fn handler_metrics(&self, node: &str) -> String {
        self.ctl.scrape_handler(node)
    }

    /// Switchovers from now on.
    pub fn subscribe_switchovers(&self) -> broadcast::Receiver<SwitchoverEvent> {
        self.ctl.subscribe_switchovers()
    }
}
