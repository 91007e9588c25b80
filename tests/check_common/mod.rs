//! A vmmigrate-sim cluster with KubeVirt for the `check` tests.
#![allow(dead_code)] // each test binary uses a different subset

use kube::Client;
use kubectl_vmmigrate::check::{self, CheckError, CheckReport, CheckRequest};
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::faults::Faults;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::{KubeVirtSim, handler};
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{Sim, SimHandle, SimOptions};

/// A running sim with KubeVirt, the scenario applied and virt-handler's conditions synced.
pub struct Cluster {
    pub sim: SimHandle,
    pub client: Client,
}

pub async fn start(scenario: &Scenario, extra: Faults) -> Cluster {
    start_with(scenario, extra, 100.0, true, |_| {}).await
}

/// `speed`: simulated-clock speed; `controllers`: run KubeVirt's controllers (else virt-handler never resyncs);
/// `edit`: changes to the store after the conditions were synced.
pub async fn start_with(
    scenario: &Scenario,
    extra: Faults,
    speed: f64,
    controllers: bool,
    edit: impl FnOnce(&Store),
) -> Cluster {
    let store = Store::new(SimClock::new(speed));
    let applied = scenario.apply(&store).unwrap();
    handler::sync_all(&store);
    edit(&store);
    let kubevirt = KubeVirtSim::new(store.clone(), applied.behaviours.clone());
    if controllers {
        kubevirt.start();
    }
    let mut faults = applied.faults.clone();
    faults.deny.extend(extra.deny);
    let sim =
        Sim::start(SimOptions { admission: kubevirt.admission(), faults, ..SimOptions::new(store) }).await.unwrap();
    let client = Client::try_from(kube::Config::new(sim.url().parse().unwrap())).unwrap();
    Cluster { sim, client }
}

impl Cluster {
    pub async fn check(&self, req: CheckRequest) -> Result<CheckReport, CheckError> {
        let req = CheckRequest { server: Some(self.sim.url().to_owned()), ..req };
        check::run(&self.client, "default", &req).await
    }

    /// The same request through the real binary (`-o json`): its parsed stdout. The binary exits 0 or 3 here.
    pub async fn check_binary(&self, req: &CheckRequest) -> serde_json::Value {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        self.sim.write_kubeconfig(&kubeconfig, Some("default")).unwrap();
        let mut args: Vec<String> = vec!["check".into(), "-o".into(), "json".into()];
        args.extend(req.vms.iter().cloned());
        for (flag, on) in [
            ("--all", req.all),
            ("-A", req.all_namespaces),
            ("--probe", req.probe),
            ("--server-dry-run", req.server_dry_run),
            ("--strict", req.strict),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        if let Some(ns) = &req.namespace {
            args.extend(["-n".into(), ns.clone()]);
        }
        if let Some(l) = &req.selector {
            args.extend(["-l".into(), l.clone()]);
        }
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-vmmigrate"))
                .args(&args)
                .env("KUBECONFIG", &kubeconfig)
                .env("HOME", dir.path())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "check exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("check -o json prints one JSON document")
    }
}
