//! `vmmigrate-sim`: a simulated Kubernetes v1.34 API server with KubeVirt v1.5 live-migration behaviour.
//!
//! - [`api`]: a generic Kubernetes API server (store, watch, discovery, patch, exec, logs, access reviews,
//!   faults, audit), knowing nothing of KubeVirt;
//! - [`kubevirt`]: KubeVirt's admission, the LiveMigratable condition, the migration controller and the
//!   virt-launcher memory-transfer model;
//! - [`net`]: the network model the emulated probe tools run against;
//! - [`openapi`]: validation of objects against the upstream Kubernetes/KubeVirt OpenAPI schemas;
//! - [`scenario`]: the built-in `haos` cluster, the scenario file format and a generator for large clusters.
//!
//! [`Sim::start`] serves a [`Store`] over HTTP; tests, benches and the binary all start the sim this way.

pub mod api;
pub mod clock;
pub mod kubevirt;
pub mod net;
pub mod openapi;
pub mod scenario;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use api::audit::{AuditLog, AuditRecord};
use api::exec::BasicExec;
use api::faults::{Faults, FaultsHandle};
use api::hooks::{Admission, AdmitAll, ExecHandler};
use api::kubelet::Kubelet;
use api::server::{ApiState, router};
use api::{ApiError, Store, resources};

/// What a sim is made of. Everything is injectable: the lead wires the scenario's store, KubeVirt's admission
/// and the probe tools' exec handler in here.
pub struct SimOptions {
    pub store: Store,
    pub admission: Arc<dyn Admission>,
    pub exec: Arc<dyn ExecHandler>,
    pub faults: Faults,
    pub listen: SocketAddr,
    /// A file for the audit log (one JSON object per line); the log is always kept in memory too.
    pub audit_log: Option<PathBuf>,
    /// Whether the emulated scheduler and kubelet bind and start plain pods (see [`api::kubelet`]).
    /// Ephemeral containers are started either way.
    pub pod_lifecycle: bool,
}

impl SimOptions {
    /// Defaults around a store: admit all, [`BasicExec`], no faults, `127.0.0.1:0`, no audit file, pod lifecycle on.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            admission: Arc::new(AdmitAll),
            exec: Arc::new(BasicExec),
            faults: Faults::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            audit_log: None,
            pod_lifecycle: true,
        }
    }
}

/// Why a sim could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
}

/// The sim server.
pub struct Sim;

impl Sim {
    /// Binds, starts serving and returns once connections are accepted. Must run inside a tokio runtime.
    pub async fn start(opts: SimOptions) -> Result<SimHandle, SimError> {
        let audit = AuditLog::new(opts.audit_log.as_deref())
            .map_err(|source| SimError::AuditLog { path: opts.audit_log.clone().unwrap_or_default(), source })?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| SimError::Listen { addr: opts.listen, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Listen { addr: opts.listen, source })?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let faults = FaultsHandle::new(opts.faults);
        let state = Arc::new(ApiState {
            store: opts.store.clone(),
            admission: opts.admission,
            exec: opts.exec,
            faults: faults.clone(),
            audit: audit.clone(),
            address: addr.to_string(),
            pod_lifecycle: opts.pod_lifecycle,
            shutdown: shutdown_rx.clone(),
        });
        Kubelet::spawn(opts.store.clone(), opts.pod_lifecycle, shutdown_rx.clone());
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!("the sim's server stopped: {e}");
            }
        });
        Ok(SimHandle { url: format!("http://{addr}"), store: opts.store, faults, audit, shutdown_tx, server })
    }
}

/// A running sim.
pub struct SimHandle {
    url: String,
    store: Store,
    faults: FaultsHandle,
    audit: AuditLog,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The faults in force, changeable while the sim runs.
    pub fn faults(&self) -> &FaultsHandle {
        &self.faults
    }

    /// Every request answered so far.
    pub fn audit(&self) -> Vec<AuditRecord> {
        self.audit.records()
    }

    /// The audit log itself (for counting requests cheaply).
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// Writes a kubeconfig for this sim (context `vmmigrate-sim`, with `namespace` when given).
    pub fn write_kubeconfig(&self, path: &Path, namespace: Option<&str>) -> std::io::Result<()> {
        std::fs::write(path, api::kubeconfig::kubeconfig(&self.url, namespace))
    }

    /// Stops serving: open watches and log streams end, then the server task finishes.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.server.await;
    }
}

/// A whole simulated cluster: a scenario applied to a fresh store, KubeVirt's webhooks and controllers running,
/// the scenario's faults in force, served over HTTP.
pub struct ClusterSim {
    pub sim: SimHandle,
    pub kubevirt: kubevirt::KubeVirtSim,
    pub applied: scenario::Applied,
    controllers: JoinHandle<()>,
}

/// How to run a scenario.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// How much faster than real time simulated time runs.
    pub speed: f64,
    pub listen: SocketAddr,
    pub audit_log: Option<PathBuf>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self { speed: 1.0, listen: SocketAddr::from(([127, 0, 0, 1], 0)), audit_log: None }
    }
}

impl ClusterSim {
    /// Applies `scenario` to a new store and serves it. Must run inside a tokio runtime.
    pub async fn start(scenario: &scenario::Scenario, opts: ClusterOptions) -> Result<Self, SimError> {
        let store = Store::new(clock::SimClock::new(opts.speed));
        empty_cluster(&store).map_err(|e| {
            SimError::Scenario(scenario::ScenarioError::Store {
                kind: "Namespace".into(),
                name: "default".into(),
                error: Box::new(e),
            })
        })?;
        let applied = scenario.apply(&store)?;
        let kubevirt = kubevirt::KubeVirtSim::new(store.clone(), applied.behaviours.clone());
        let controllers = kubevirt.start();
        let sim = Sim::start(SimOptions {
            admission: kubevirt.admission(),
            faults: applied.faults.clone(),
            listen: opts.listen,
            audit_log: opts.audit_log,
            ..SimOptions::new(store)
        })
        .await?;
        Ok(Self { sim, kubevirt, applied, controllers })
    }

    /// Stops KubeVirt's controllers and the server.
    pub async fn shutdown(self) {
        self.controllers.abort();
        self.sim.shutdown().await;
    }
}

/// The namespaces every cluster has: `default`, `kube-system`, `kube-public` and `kube-node-lease`.
pub fn empty_cluster(store: &Store) -> Result<(), ApiError> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let obj = json!({"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                         "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        match store.create(&resources::NAMESPACES, None, obj, false) {
            Err(e) if e.code == 409 => {}
            r => {
                r?;
            }
        }
    }
    Ok(())
}
