//! The migration controller's event loop: virt-handler's migratability sync on VMI, node and KubeVirt CR changes,
//! and one `Migration` driver per VMIM (started when a VMIM appears, told when it is being deleted), plus the
//! record of switchovers for the network model.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::{Notify, broadcast, watch};

use super::admission::{MIGRATION_FINALIZER, is_final_phase};
use super::behaviour::BehaviourMap;
use super::handler;
use super::metrics::HandlerMetrics;
use super::migration::{Migration, deleting, phase};
use super::objects::meta;
use crate::api::resources::{KUBEVIRTS, NODES, VMIMS, VMIS};
use crate::api::{EventType, Store, StoreEvent};

/// The instant the guest was paused on the source for the switchover of one migration, for the network model.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchoverEvent {
    pub namespace: String,
    pub vmi: String,
    pub vmim: String,
    pub migration_uid: String,
    pub source_node: String,
    pub target_node: String,
    pub source_pod: String,
    pub target_pod: String,
    /// The pod-network IP before and after the move (they differ when the behaviour's `ip_change` is set).
    pub old_ip: Option<String>,
    pub new_ip: Option<String>,
    /// Simulated instant the guest was paused.
    pub at: Timestamp,
    /// How long the guest stayed paused (the memory model's final pass), simulated ms.
    pub guest_pause_ms: u64,
    /// The scenario's network outage per IP address (`*`: every other address), simulated ms.
    pub outage_ms: BTreeMap<String, u64>,
}

/// A running migration driver: its abort signal (the VMIM is being deleted) and its task.
pub(super) struct Driver {
    abort: watch::Sender<bool>,
    task: Option<tokio::task::AbortHandle>,
}

/// Stops every migration driver when the event loop stops (its task aborted or dropped).
struct StopDrivers<'a>(&'a Controller);

impl Drop for StopDrivers<'_> {
    fn drop(&mut self) {
        for (_, d) in lock(&self.0.drivers).drain() {
            if let Some(t) = d.task {
                t.abort();
            }
        }
    }
}

/// State shared by the event loop and the migration drivers.
pub(crate) struct Controller {
    pub(crate) store: Store,
    behaviours: BehaviourMap,
    switchovers: Mutex<Vec<SwitchoverEvent>>,
    switchover_tx: broadcast::Sender<SwitchoverEvent>,
    /// Running drivers by VMIM uid.
    pub(super) drivers: Mutex<HashMap<String, Driver>>,
    /// Serialises the parallel-migration limit check with the move to Scheduling.
    pub(super) gate: tokio::sync::Mutex<()>,
    /// Wakes Pending migrations when another one ends.
    pub(super) wake: Notify,
    /// The source virt-handlers' migration metrics.
    pub(super) metrics: Mutex<HandlerMetrics>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking driver must not take the controller down; the data stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Controller {
    pub(crate) fn new(store: Store, behaviours: BehaviourMap) -> Self {
        Self {
            store,
            behaviours,
            switchovers: Mutex::new(Vec::new()),
            switchover_tx: broadcast::channel(1024).0,
            drivers: Mutex::new(HashMap::new()),
            gate: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            metrics: Mutex::new(HandlerMetrics::default()),
        }
    }

    pub(crate) fn switchovers(&self) -> Vec<SwitchoverEvent> {
        lock(&self.switchovers).clone()
    }

    pub(crate) fn subscribe_switchovers(&self) -> broadcast::Receiver<SwitchoverEvent> {
        self.switchover_tx.subscribe()
    }

    pub(crate) fn scrape_handler(&self, node: &str) -> String {
        lock(&self.metrics).scrape(node)
    }

    pub(super) fn record_switchover(&self, ev: SwitchoverEvent) {
        lock(&self.switchovers).push(ev.clone());
        let _ = self.switchover_tx.send(ev);
    }

    /// The event loop: virt-handler's condition sync and a driver per migration. Ends when the store goes away.
    pub(crate) async fn run(self: Arc<Self>) {
        let _stop = StopDrivers(&self);
        let mut rx = self.store.subscribe();
        self.resync();
        loop {
            match rx.recv().await {
                Ok(ev) => self.on_event(&ev),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "kubevirt controllers lagged; resyncing");
                    self.resync();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }

    fn resync(self: &Arc<Self>) {
        handler::sync_all(&self.store);
        for vmim in self.store.list(&VMIMS, None).0 {
            self.ensure_driver(&vmim);
        }
    }

    fn on_event(self: &Arc<Self>, ev: &StoreEvent) {
        if ev.resource == &VMIS && ev.kind != EventType::Deleted {
            let ns = ev.namespace.as_deref().unwrap_or_default();
            let kv = handler::kubevirt_cr(&self.store);
            if let Err(e) = handler::sync_vmi(&self.store, ns, &ev.name, kv.as_ref()) {
                tracing::warn!(%e, vmi = ev.name, "virt-handler sync failed");
            }
        } else if ev.resource == &NODES || ev.resource == &KUBEVIRTS {
            handler::sync_all(&self.store);
        } else if ev.resource == &VMIMS && ev.kind != EventType::Deleted {
            self.ensure_driver(&ev.object);
        }
    }

    /// Starts a driver for a VMIM that needs one, or tells the running one that the VMIM is being deleted.
    fn ensure_driver(self: &Arc<Self>, vmim: &Value) {
        let uid = meta(vmim, "uid").to_string();
        let mut drivers = lock(&self.drivers);
        if let Some(d) = drivers.get(&uid) {
            if deleting(vmim) {
                let _ = d.abort.send(true);
            }
            return;
        }
        let has_finalizer = vmim
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x == MIGRATION_FINALIZER));
        if is_final_phase(Some(phase(vmim))) && !has_finalizer {
            return;
        }
        let (tx, rx) = watch::channel(deleting(vmim));

        let ns = meta(vmim, "namespace").to_string();
        let vmi_name = vmim.pointer("/spec/vmiName").and_then(Value::as_str).unwrap_or_default().to_string();
        let behaviour = self.behaviours.for_vm(&ns, &vmi_name).clone();
        let driver = Migration::new(Arc::clone(self), ns, meta(vmim, "name").to_string(), uid, vmi_name, behaviour, rx);
        // The lock is held until the task is recorded, so the driver cannot end (and unregister) before.
        let task = tokio::spawn(driver.run()).abort_handle();
        drivers.insert(meta(vmim, "uid").to_string(), Driver { abort: tx, task: Some(task) });
    }
}
