//! KubeVirt v1.5 behaviour: admission, LiveMigratable, the migration controller, launcher logs.
//!
//! The single entry is [`KubeVirtSim`]: its [`admission`](KubeVirtSim::admission) plugs into the API server, and
//! [`start`](KubeVirtSim::start) runs the controllers against the store.

pub mod admission;
pub mod behaviour;
pub mod config;
pub mod controller;
pub mod handler;
pub mod launcher;
pub mod memory;
pub mod migratable;
pub mod objects;
pub mod quantity;
pub mod scheduling;

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

    /// Runs the controllers (on the current tokio runtime) until the store is dropped or the task is aborted.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(Arc::clone(&self.ctl).run())
    }

    /// Every switchover so far, oldest first.
    pub fn switchovers(&self) -> Vec<SwitchoverEvent> {
        self.ctl.switchovers()
    }

    /// Switchovers from now on.
    pub fn subscribe_switchovers(&self) -> broadcast::Receiver<SwitchoverEvent> {
        self.ctl.subscribe_switchovers()
    }
}
