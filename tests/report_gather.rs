//! `report::gather` against vmmigrate-sim: the seed cluster's environment as a real API server serves it, and what
//! a denied or missing read leaves in the report.

mod simcluster;

use kubectl_vmmigrate::report::{self, ReportError};
use simcluster::Cluster;
use vmmigrate_sim::api::faults::{Denial, Faults};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_cluster_environment_is_read_from_the_api() {
    let c = Cluster::start("haos", 20.0, None).await;
    let env = report::gather(&c.client(), "tenant-root", "vm-instance-haos").await.unwrap();
    assert!(env.not_available.is_empty(), "{:?}", env.not_available);
    assert!(env.kubernetes_version.as_deref().is_some_and(|v| v.starts_with("v1.34")), "{:?}", env.kubernetes_version);
    assert!(env.kubevirt_version.as_deref().is_some_and(|v| v.starts_with("v1.5")), "{:?}", env.kubevirt_version);
    let names: Vec<&str> = env.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["here-i-am", "illusion", "the-dome", "the-toy-factory"]);
    let vm = env.vm.expect("VM configuration");
    let claims: Vec<_> = vm.volumes.iter().filter(|v| v.claim.is_some()).collect();
    assert!(!claims.is_empty(), "{:?}", vm.volumes);
    assert!(claims.iter().all(|v| v.storage_class.is_some() && !v.access_modes.is_empty()), "{claims:?}");
    assert!(vm.networks.iter().any(|n| n.source.starts_with("multus:")), "{:?}", vm.networks);
    let before = env.vmi_before.expect("VMI state");
    assert_eq!(before.node.as_deref(), Some("the-toy-factory"));
    assert_eq!(before.phase.as_deref(), Some("Running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_and_missing_reads_say_why() {
    let deny = |resource: &str| Denial { verb: "*".into(), resource: resource.into(), group: None, namespace: None };
    let faults = Faults { deny: vec![deny("nodes"), deny("persistentvolumeclaims")], ..Default::default() };
    let c = Cluster::start("haos", 20.0, Some(faults)).await;
    let env = report::gather(&c.client(), "tenant-root", "vm-instance-haos").await.unwrap();
    assert!(env.nodes.is_empty());
    assert!(env.not_available.iter().any(|l| l.starts_with("nodes: forbidden")), "{:?}", env.not_available);
    let vm = env.vm.unwrap();
    let disk = vm.volumes.iter().find(|v| v.claim.is_some()).unwrap();
    assert!(disk.not_available.as_deref().is_some_and(|w| w.starts_with("forbidden")), "{disk:?}");
    let env = report::gather(&c.client(), "tenant-root", "no-such-vm").await.unwrap();
    assert!(env.vm.is_none() && env.vmi_before.is_none());
    assert!(env.not_available.contains(&"VirtualMachine: not found".to_string()), "{:?}", env.not_available);
}

#[tokio::test]
async fn an_unreachable_server_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client =
        kube::Client::try_from(kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap())).unwrap();
    let e = report::gather(&client, "tenant-root", "vm-instance-haos").await.unwrap_err();
    assert!(matches!(e, ReportError::Cluster(_)), "{e}");
}
