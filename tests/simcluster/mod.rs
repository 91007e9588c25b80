//! An in-process vmmigrate-sim cluster for the `run`/`cancel`/`status` tests (library and binary).
#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::faults::Faults;
use vmmigrate_sim::api::resources::VMIMS;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::behaviour::MemoryModel;
use vmmigrate_sim::kubevirt::{BehaviourMap, KubeVirtSim, MigrationBehaviour};
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{Sim, SimHandle, SimOptions};

pub struct Cluster {
    pub sim: SimHandle,
    pub store: Store,
    _kubevirt: tokio::task::JoinHandle<()>,
}

impl Cluster {
    pub async fn start(scenario: &str, speed: f64, faults: Option<Faults>) -> Self {
        Self::start_with(scenario, speed, faults, None).await
    }

    /// With every VM's migration behaviour replaced by `behaviour`, when given.
    pub async fn start_with(
        scenario: &str,
        speed: f64,
        faults: Option<Faults>,
        behaviour: Option<MigrationBehaviour>,
    ) -> Self {
        let store = Store::new(SimClock::new(speed));
        let applied = Scenario::builtin(scenario).unwrap().apply(&store).unwrap();
        let behaviours = match behaviour {
            Some(b) => BehaviourMap { default: b, per_vm: Default::default() },
            None => BehaviourMap { default: applied.behaviours.default, per_vm: applied.behaviours.per_vm },
        };
        let kv = KubeVirtSim::new(store.clone(), behaviours);
        let task = kv.start();
        // As ClusterSim wires it, with the scenario's faults unless the test brings its own.
        let opts = SimOptions {
            admission: kv.admission(),
            faults: faults.unwrap_or(applied.faults),
            ..SimOptions::new(store.clone())
        };
        let sim = Sim::start(opts).await.unwrap();
        Cluster { sim, store, _kubevirt: task }
    }

    /// A client like the plugin's, with kube's own 429/503 retry layer off so that ours is exercised.
    pub fn client(&self) -> kube::Client {
        let mut cfg = kube::Config::new(self.sim.url().parse().unwrap());
        cfg.default_retry = false;
        kube::Client::try_from(cfg).unwrap()
    }

    pub fn vmims(&self, ns: &str) -> Vec<Value> {
        self.store.list(&VMIMS, Some(ns)).0
    }

    pub fn requests(&self) -> usize {
        self.sim.audit_log().count()
    }

    pub fn posts(&self) -> usize {
        self.sim
            .audit()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/virtualmachineinstancemigrations"))
            .count()
    }
}

/// 1 GiB of used memory at 20 MiB/s: about a minute of simulated Running.
pub fn slow_link() -> MigrationBehaviour {
    MigrationBehaviour {
        memory: MemoryModel { bandwidth_mib_s: 20.0, dirty_rate_mib_s: 1.0, used_fraction: 0.25, max_downtime_ms: 300 },
        ..Default::default()
    }
}
