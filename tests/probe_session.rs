//! The probe session API (what `run --probe` calls) against the simulated haos cluster: stopping the long-running
//! probes ends their processes even where no pod is deleted (an ephemeral container), and a `Prober` dropped without
//! `cleanup` still deletes its prober pod before the drop returns; a Pod Security refusal and an image pull failure
//! are one line in words, with nothing left behind.

use std::sync::Arc;
use std::time::Duration;

use kubectl_vmmigrate::cli::{ProbeArgs, ProbeFrom};
use kubectl_vmmigrate::probe::analysis::{AnalysisOptions, ProbeEnd, analyse};
use kubectl_vmmigrate::probe::session::{DEFAULT_IMAGE, ProbeError, ProbeRequest, Prober};
use serde_json::{Value, json};
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::error::ApiError;
use vmmigrate_sim::api::hooks::{Admission, AdmissionRequest, Operation};
use vmmigrate_sim::api::resources::PODS;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::KubeVirtSim;
use vmmigrate_sim::net::{NetExec, NetModel};
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{ClusterOptions, ClusterSim, Sim, SimOptions};

const NS: &str = "tenant-root";
const VM: &str = "vm-instance-haos";

async fn cluster() -> (ClusterSim, kube::Client) {
    let scenario = Scenario::builtin("haos").unwrap();
    let cluster = ClusterSim::start(&scenario, ClusterOptions { speed: 20.0, ..Default::default() }).await.unwrap();
    let client = kube::Client::try_from(kube::Config::new(cluster.sim.url().parse().unwrap())).unwrap();
    (cluster, client)
}

fn probers(cluster: &ClusterSim) -> Vec<Value> {
    let pods = cluster.sim.store().list(&PODS, Some(NS)).0;
    pods.into_iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-vmmigrate")
        .collect()
}

/// Waits (a bounded number of short steps) for the sim's process count to reach `n`, then asserts it.
async fn settle(cluster: &ClusterSim, n: usize) {
    for _ in 0..100 {
        if cluster.net.running() == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cluster.net.running(), n);
}

#[test]
fn the_request_follows_the_flags() {
    let args = ProbeArgs { probe_interval: Duration::from_millis(500), ..Default::default() };
    let req = ProbeRequest::from_args(VM, &args, Duration::from_secs(600));
    assert_eq!(req.image, DEFAULT_IMAGE);
    assert_eq!(req.baseline, Duration::from_secs(5), "ten requests at 500 ms, in whole seconds");
    assert_eq!(req.bound, Duration::from_secs(600));
    assert_eq!(ProbeRequest::from_args(VM, &ProbeArgs::default(), req.bound).baseline, Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_every_probe_process_in_an_ephemeral_container() {
    let (cluster, client) = cluster().await;
    let web = json!({"metadata": {"name": "web", "namespace": NS},
        "spec": {"nodeName": "illusion", "containers": [{"name": "app", "image": "nginx:1.27"}]}});
    cluster.sim.store().create(&PODS, Some(NS), web, false).unwrap();
    while cluster.sim.store().get(&PODS, Some(NS), "web").unwrap()["status"]["phase"] != "Running" {
        cluster.sim.store().clock().sleep(Duration::from_millis(100)).await;
    }
    let args =
        ProbeArgs { probe_from: Some(ProbeFrom::Pod { name: "web".into(), container: None }), ..Default::default() };
    let req = ProbeRequest::from_args(VM, &args, Duration::from_secs(3600));
    let mut prober = Prober::place(&client, NS, &req).await.unwrap();
    let setup = prober.setup();
    assert_eq!(setup.placement, "ephemeral");
    assert_eq!(setup.node.as_deref(), Some("illusion"));
    assert_eq!(setup.targets.len(), 3);
    assert!(prober.warnings().iter().any(|w| w.contains("stays in pod web's spec")));
    let baseline = prober.baseline().await.unwrap();
    assert!(baseline.iter().all(|r| r.analysis.as_ref().is_some_and(|a| a.received > 0)), "{baseline:?}");
    assert_eq!(prober.setup().baseline, baseline);

    let running = prober.start().await.unwrap();
    // The exec streams are open; the sim counts each process once its handler has started it.
    settle(&cluster, 3).await;
    cluster.sim.store().clock().sleep(Duration::from_secs(10)).await;
    let series = running.stop(Duration::ZERO).await;
    assert_eq!(series.len(), 3);
    for (target, s) in &series {
        assert_eq!(s.end, ProbeEnd::Completed, "{}", target.target);
        let a = analyse(s, None, AnalysisOptions::default());
        assert!(a.received > 100 && a.sent == a.received, "{}: {a:?}", target.target);
    }
    // The pod stays (an ephemeral container cannot go), but no probe process runs on.
    settle(&cluster, 0).await;
    assert!(prober.cleanup().await.unwrap().contains("remains in pod web"));
    assert!(cluster.sim.store().get(&PODS, Some(NS), "web").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_dropped_without_cleanup_still_deletes_its_pod() {
    let (cluster, client) = cluster().await;
    let req = ProbeRequest::from_args(VM, &ProbeArgs::default(), Duration::from_secs(60));
    let mut prober = Prober::place(&client, NS, &req).await.unwrap();
    assert_eq!(prober.setup().node.as_deref(), Some("illusion"));
    assert_eq!(probers(&cluster).len(), 1);
    let running = prober.start().await.unwrap();
    drop(running);
    drop(prober);
    assert_eq!(probers(&cluster), Vec::<Value>::new());

    // cleanup is idempotent.
    let mut prober = Prober::place(&client, NS, &req).await.unwrap();
    let first = prober.cleanup().await.unwrap();
    assert!(first.ends_with(" deleted"), "{first}");
    assert_eq!(prober.cleanup().await.unwrap(), first);
    assert_eq!(probers(&cluster), Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_with_their_exit_codes() {
    let (_cluster, client) = cluster().await;
    let req = ProbeRequest::from_args("no-such-vm", &ProbeArgs::default(), Duration::from_secs(60));
    let err = Prober::place(&client, NS, &req).await.unwrap_err();
    assert!(matches!(err, ProbeError::NotRunning { .. }), "{err}");
    assert_eq!(err.exit_code().code(), 1);
    let args = ProbeArgs { probe_target: vec!["10.99.99.99".into()], ..Default::default() };
    let req = ProbeRequest::from_args(VM, &args, Duration::from_secs(60));
    let mut prober = Prober::place(&client, NS, &req).await.unwrap();
    let err = prober.baseline().await.unwrap_err();
    assert_eq!(err.exit_code().code(), 3, "{err}");
    assert!(!err.to_string().contains('\n'));
    prober.cleanup().await.unwrap();
}

/// Pod Security admission at `baseline` for pods (and ephemeral containers) in `tenant-root`: adding a capability
/// outside baseline's list is refused with the real message (k8s.io/pod-security-admission, check
/// `capabilities_baseline`), before KubeVirt's own webhooks see the request.
struct BaselinePodSecurity(Arc<dyn Admission>);

impl Admission for BaselinePodSecurity {
    fn admit(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        let pod_write = req.resource == &PODS && matches!(req.subresource, None | Some("ephemeralcontainers"));
        if pod_write && req.namespace == Some(NS) && matches!(req.operation, Operation::Create | Operation::Update) {
            let lists = ["containers", "ephemeralContainers"];
            let offending: Vec<String> = lists
                .iter()
                .filter_map(|l| obj["spec"][*l].as_array())
                .flatten()
                .filter(|c| {
                    c.pointer("/securityContext/capabilities/add").is_some_and(|a| a.to_string().contains("NET_RAW"))
                })
                .map(|c| format!("container {} must not include \"NET_RAW\"", c["name"]))
                .collect();
            if !offending.is_empty() {
                let name = obj["metadata"]["name"].as_str().unwrap_or(req.name).to_string();
                return Err(ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "pods \"{name}\" is forbidden: violates PodSecurity \"baseline:latest\": non-default \
                         capabilities ({} in securityContext.capabilities.add)",
                        offending.join(", ")
                    ),
                ));
            }
        }
        self.0.admit(req, obj)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_security_refusal_is_said_in_words_and_nothing_is_created() {
    let store = Store::new(SimClock::new(20.0));
    vmmigrate_sim::empty_cluster(&store).unwrap();
    let applied = Scenario::builtin("haos").unwrap().apply(&store).unwrap();
    let kubevirt = KubeVirtSim::new(store.clone(), applied.behaviours.clone());
    let _controllers = kubevirt.start();
    let kv = kubevirt.clone();
    let model = NetModel::new(store.clone(), Arc::new(move || kv.switchovers()));
    let sim = Sim::start(SimOptions {
        admission: Arc::new(BaselinePodSecurity(kubevirt.admission())),
        exec: Arc::new(NetExec::new(model, applied.images.clone())),
        ..SimOptions::new(store.clone())
    })
    .await
    .unwrap();
    let client = kube::Client::try_from(kube::Config::new(sim.url().parse().unwrap())).unwrap();
    let req = ProbeRequest::from_args(VM, &ProbeArgs::default(), Duration::from_secs(60));
    let err = Prober::place(&client, NS, &req).await.unwrap_err();
    let line = err.to_string();
    assert!(matches!(err, ProbeError::Placement(_)), "{line}");
    assert!(line.starts_with("the namespace's Pod Security admission refuses the prober pod"), "{line}");
    assert!(line.contains("baseline:latest") && line.contains("NET_RAW") && !line.contains('\n'), "{line}");
    let pods = store.list(&PODS, Some(NS)).0;
    assert!(pods.iter().all(|p| p["metadata"]["labels"]["app.kubernetes.io/managed-by"] != "kubectl-vmmigrate"));

    // The same refusal for an ephemeral container, in words too.
    let web = json!({"metadata": {"name": "web", "namespace": NS},
        "spec": {"nodeName": "illusion", "containers": [{"name": "app", "image": "nginx:1.27"}]}});
    store.create(&PODS, Some(NS), web, false).unwrap();
    let args =
        ProbeArgs { probe_from: Some(ProbeFrom::Pod { name: "web".into(), container: None }), ..Default::default() };
    let req = ProbeRequest::from_args(VM, &args, Duration::from_secs(60));
    let err = Prober::place(&client, NS, &req).await.unwrap_err();
    assert!(err.to_string().contains("refuses the ephemeral probe container in pod web"), "{err}");
    let web = store.get(&PODS, Some(NS), "web").unwrap();
    assert!(web["spec"].get("ephemeralContainers").is_none(), "{web}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_is_said_in_words_and_the_pod_deleted() {
    // No kubelet for plain pods here: the test plays it, and the image pull fails.
    let store = Store::new(SimClock::new(20.0));
    vmmigrate_sim::empty_cluster(&store).unwrap();
    let applied = Scenario::builtin("haos").unwrap().apply(&store).unwrap();
    let kubevirt = KubeVirtSim::new(store.clone(), applied.behaviours.clone());
    let _controllers = kubevirt.start();
    let sim = Sim::start(SimOptions {
        admission: kubevirt.admission(),
        pod_lifecycle: false,
        ..SimOptions::new(store.clone())
    })
    .await
    .unwrap();
    let kubelet = store.clone();
    let failing_kubelet = tokio::spawn(async move {
        loop {
            let pods = kubelet.list(&PODS, Some(NS)).0;
            let prober =
                pods.iter().find(|p| p["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-vmmigrate");
            if let Some(name) = prober.and_then(|p| p["metadata"]["name"].as_str()) {
                let _ = kubelet.modify(&PODS, Some(NS), name, |p| {
                    p["status"]["containerStatuses"] = json!([{"name": "probe", "image": "nicolaka/netshoot:v0.99",
                        "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {
                        "reason": "ImagePullBackOff",
                        "message": "Back-off pulling image \"nicolaka/netshoot:v0.99\": not found"}}}]);
                    Ok(())
                });
                return name.to_string();
            }
            kubelet.clock().sleep(Duration::from_millis(100)).await;
        }
    });
    let client = kube::Client::try_from(kube::Config::new(sim.url().parse().unwrap())).unwrap();
    let args = ProbeArgs { probe_image: Some("nicolaka/netshoot:v0.99".into()), ..Default::default() };
    let req = ProbeRequest::from_args(VM, &args, Duration::from_secs(60));
    let err = Prober::place(&client, NS, &req).await.unwrap_err();
    let line = err.to_string();
    assert!(
        line.starts_with("image \"nicolaka/netshoot:v0.99\" cannot be pulled (ImagePullBackOff: Back-off"),
        "{line}"
    );
    assert!(line.contains("--probe-image"), "{line}");
    let name = failing_kubelet.await.unwrap();
    assert!(store.get(&PODS, Some(NS), &name).is_err(), "the prober pod {name} is deleted");
}
