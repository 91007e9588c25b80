//! The kube calls of `run`, `cancel` and `status`: watches, create with retry, delete, the source launcher's log,
//! and the facts stuck detection asks for. No decisions here beyond retrying; those live in `state` and `stuck`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event as K8sEvent, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use crate::kubevirt::{
    KubeVirt, LABEL_MANAGED_BY, LABEL_VMI_NAME, MANAGED_BY, MigrationPhase, VirtualMachineInstance,
    VirtualMachineInstanceMigration, VirtualMachineInstanceMigrationSpec,
};

use super::error::{MigrateError, describe};
use super::progress::{ProgressSample, parse_line};
use super::stuck::{self, Facts, FactsQuery, MigrationSlots, TargetPodFacts};

type Vmim = VirtualMachineInstanceMigration;
type Vmi = VirtualMachineInstance;

/// Label KubeVirt puts on the target virt-launcher pod.
const LABEL_MIGRATION_JOB_UID: &str = "kubevirt.io/migrationJobUID";
/// Bounded create retries (429/503/504 and unknown outcomes).
const CREATE_ATTEMPTS: u32 = 6;
const CREATE_BACKOFF_CAP: Duration = Duration::from_secs(10);

/// One update from the merged VMIM and VMI watches.
#[derive(Debug)]
pub(crate) enum Update {
    /// A (re)list completed: every VMIM of the VMI.
    VmimListed(Vec<Vmim>),
    Vmim(Box<Vmim>),
    VmimDeleted(Box<Vmim>),
    /// A (re)list completed: the VMI, or `None` when it does not exist.
    VmiListed(Option<Box<Vmi>>),
    Vmi(Box<Vmi>),
    VmiDeleted,
    /// A watch error the watcher recovers from (it rewatches, or relists after 410).
    Recovering(String),
    /// A watch error it cannot recover from (list forbidden, resource missing).
    Fatal(String),
}

/// The VMIMs of one VMI (label `kubevirt.io/vmi-name`) and the VMI itself (field selector `metadata.name`),
/// followed with kube's `watcher`, which rewatches on a dropped connection and relists on 410 Gone. Two lists
/// and two watches in the normal case, whatever the migration's duration.
pub(crate) fn watch(client: &kube::Client, namespace: &str, vm: &str) -> BoxStream<'static, Update> {
    let vmims: Api<Vmim> = Api::namespaced(client.clone(), namespace);
    let vmis: Api<Vmi> = Api::namespaced(client.clone(), namespace);
    let vmim_cfg = watcher::Config::default().labels(&format!("{LABEL_VMI_NAME}={vm}"));
    let vmi_cfg = watcher::Config::default().fields(&format!("metadata.name={vm}"));
    let vmim_updates = merge_init(watcher(vmims, vmim_cfg).default_backoff(), |ev| match ev {
        Listed(list) => Update::VmimListed(list),
        Applied(o) => Update::Vmim(Box::new(o)),
        Deleted(o) => Update::VmimDeleted(Box::new(o)),
    });
    let vmi_updates = merge_init(watcher(vmis, vmi_cfg).default_backoff(), |ev| match ev {
        Listed(list) => Update::VmiListed(list.into_iter().next().map(Box::new)),
        Applied(o) => Update::Vmi(Box::new(o)),
        Deleted(_) => Update::VmiDeleted,
    });
    futures::stream::select(vmim_updates, vmi_updates).boxed()
}

enum Change<K> {
    Listed(Vec<K>),
    Applied(K),
    Deleted(K),
}
use Change::{Applied, Deleted, Listed};

/// Buffers a watcher's Init/InitApply/InitDone into one `Listed`, and maps its errors.
fn merge_init<K, S>(stream: S, map: fn(Change<K>) -> Update) -> BoxStream<'static, Update>
where
    K: Send + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    stream
        .scan(Vec::new(), move |buf: &mut Vec<K>, ev| {
            let out = match ev {
                Ok(watcher::Event::Init) => {
                    buf.clear();
                    None
                }
                Ok(watcher::Event::InitApply(o)) => {
                    buf.push(o);
                    None
                }
                Ok(watcher::Event::InitDone) => Some(map(Listed(std::mem::take(buf)))),
                Ok(watcher::Event::Apply(o)) => Some(map(Applied(o))),
                Ok(watcher::Event::Delete(o)) => Some(map(Deleted(o))),
                Err(e) => Some(watch_error(e)),
            };
            futures::future::ready(Some(out))
        })
        .filter_map(futures::future::ready)
        .boxed()
}

fn watch_error(e: watcher::Error) -> Update {
    match &e {
        watcher::Error::InitialListFailed(kube::Error::Api(s)) if matches!(s.code, 401 | 403 | 404) => {
            Update::Fatal(format!("cannot list: {} ({})", s.message, s.code))
        }
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) if matches!(s.code, 401 | 403 | 404) => {
            Update::Fatal(format!("cannot watch: {} ({})", s.message, s.code))
        }
        _ => Update::Recovering(e.to_string()),
    }
}

/// Non-final VMIMs (an empty phase counts as in flight, as in KubeVirt's admission), oldest first.
pub(crate) fn in_flight(vmims: &[Vmim]) -> Vec<&Vmim> {
    let mut v: Vec<&Vmim> = vmims
        .iter()
        .filter(|m| {
            let p = m.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
            !MigrationPhase::parse(p).is_some_and(MigrationPhase::is_final)
        })
        .collect();
    v.sort_by_key(|m| m.metadata.creation_timestamp.as_ref().map(|t| t.0));
    v
}

/// The body `run` creates.
pub(crate) fn new_vmim(namespace: &str, vm: &str, added_node_selector: Option<BTreeMap<String, String>>) -> Vmim {
    let mut m = Vmim {
        api_version: "kubevirt.io/v1".into(),
        kind: "VirtualMachineInstanceMigration".into(),
        spec: VirtualMachineInstanceMigrationSpec { vmi_name: vm.to_string(), added_node_selector },
        ..Default::default()
    };
    m.metadata.generate_name = Some(format!("vmmigrate-{vm}-"));
    m.metadata.namespace = Some(namespace.to_string());
    m.metadata.labels = Some(BTreeMap::from([(LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string())]));
    m
}

/// What a create attempt's failure means.
#[derive(Debug, PartialEq)]
pub(crate) enum CreateFailure {
    /// 429/503/504: not created; retry after this long.
    Retry(Duration),
    /// Transport trouble: it may or may not have been created.
    Unknown,
    /// Refused for good.
    Refused,
}

/// Classifies a create error; `attempt` (0-based) sizes the backoff when the server gave no Retry-After.
pub(crate) fn classify_create_error(e: &kube::Error, attempt: u32) -> CreateFailure {
    let backoff = Duration::from_millis(500u64.saturating_mul(1 << attempt.min(10))).min(CREATE_BACKOFF_CAP);
    match e {
        kube::Error::Api(s) if matches!(s.code, 429 | 503 | 504) => {
            let server = s.details.as_ref().map(|d| d.retry_after_seconds).filter(|s| *s > 0);
            CreateFailure::Retry(
                server.map(|s| Duration::from_secs(s.into()).min(CREATE_BACKOFF_CAP)).unwrap_or(backoff),
            )
        }
        kube::Error::Api(_) => CreateFailure::Refused,
        kube::Error::HyperError(_) | kube::Error::Service(_) => CreateFailure::Unknown,
        _ => CreateFailure::Refused,
    }
}

/// Creates the VMIM, retrying 429/503/504 with bounded backoff (honouring `retryAfterSeconds`) and never
/// creating twice: after a failure whose outcome is unknown, it lists this VMI's VMIMs carrying our managed-by
/// label and adopts a non-final one instead of creating again. `notice` is told about each retry.
pub(crate) async fn create_vmim(
    api: &Api<Vmim>,
    body: &Vmim,
    dry_run: bool,
    notice: &mut (dyn FnMut(String) + Send),
) -> Result<Vmim, kube::Error> {
    let pp = PostParams { dry_run, field_manager: Some(MANAGED_BY.to_string()) };
    let vm = body.spec.vmi_name.clone();
    let mut attempt = 0;
    loop {
        let err = match api.create(&pp, body).await {
            Ok(created) => return Ok(created),
            Err(e) => e,
        };
        let failure = classify_create_error(&err, attempt);
        attempt += 1;
        if attempt >= CREATE_ATTEMPTS || failure == CreateFailure::Refused {
            return Err(err);
        }
        match failure {
            CreateFailure::Retry(wait) => {
                notice(format!("creating the migration: {}; retrying in {} ms", describe(&err), wait.as_millis()));
                tokio::time::sleep(wait).await;
            }
            CreateFailure::Unknown if !dry_run => {
                notice(format!("creating the migration: {}; checking whether it was created", describe(&err)));
                if let Ok(Some(found)) = find_ours(api, &vm).await {
                    return Ok(found);
                }
            }
            _ => {}
        }
    }
}

/// The newest non-final VMIM of `vm` carrying our managed-by label (KubeVirt admits one in flight per VMI): what
/// a create whose answer was lost may have created.
pub(crate) async fn find_ours(api: &Api<Vmim>, vm: &str) -> Result<Option<Vmim>, kube::Error> {
    let lp = ListParams::default().labels(&format!("{LABEL_VMI_NAME}={vm},{LABEL_MANAGED_BY}={MANAGED_BY}"));
    let list = api.list(&lp).await?;
    Ok(in_flight(&list.items).last().map(|m| (*m).clone()))
}

/// Deletes the VMIM (only this uid) to abort the migration; already gone is fine.
pub(crate) async fn delete_vmim(api: &Api<Vmim>, name: &str, uid: Option<&str>) -> Result<(), MigrateError> {
    let dp = DeleteParams {
        preconditions: uid.map(|u| Preconditions { uid: Some(u.to_string()), resource_version: None }),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(MigrateError::api(format!("deleting VMIM {name}"), e)),
    }
}

/// Something from a side task (log follower, facts reader).
#[derive(Debug)]
pub(crate) enum Side {
    Sample(Box<ProgressSample>),
    LogUnavailable(String),
    Facts(Facts),
}

/// Follows the source virt-launcher's `compute` log (`pods/log?follow=true`) and sends the `Migration info`
/// samples; reports why when the log cannot be read. Lines since `since` only.
pub(crate) fn follow_log(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    since: Option<jiff::Timestamp>,
    tx: mpsc::UnboundedSender<Side>,
) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pod.to_string();
    tokio::spawn(async move {
        let lp = LogParams { follow: true, container: Some("compute".into()), since_time: since, ..Default::default() };
        let reader = match pods.log_stream(&pod, &lp).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Side::LogUnavailable(format!("cannot read the log of pod {pod}: {}", describe(&e))));
                return;
            }
        };
        let mut lines = reader.lines();
        loop {
            match lines.try_next().await {
                Ok(Some(line)) => {
                    if let Some(sample) = parse_line(&line)
                        && tx.send(Side::Sample(Box::new(sample))).is_err()
                    {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Side::LogUnavailable(format!("the log stream of pod {pod} broke: {e}")));
                    return;
                }
            }
        }
    })
}

/// Reads the facts a stuck-detection rule asked for, in a side task.
pub(crate) fn gather_facts(
    client: &kube::Client,
    namespace: &str,
    vm: &str,
    vmim_name: &str,
    vmim_uid: &str,
    query: FactsQuery,
    tx: mpsc::UnboundedSender<Side>,
) {
    let (client, namespace, vm, name, uid) =
        (client.clone(), namespace.to_string(), vm.to_string(), vmim_name.to_string(), vmim_uid.to_string());
    tokio::spawn(async move {
        let facts = match query {
            FactsQuery::MigrationSlots => migration_slots(&client, &namespace, &vm).await.map(Facts::MigrationSlots),
            FactsQuery::TargetPod => target_pod(&client, &namespace, &uid).await.map(Facts::TargetPod),
            FactsQuery::FailureEvents => failure_events(&client, &namespace, &name).await.map(Facts::FailureEvents),
        };
        let _ = tx.send(Side::Facts(facts.unwrap_or_else(|e| Facts::Unreadable(query, describe(&e)))));
    });
}

async fn migration_slots(client: &kube::Client, namespace: &str, vm: &str) -> Result<MigrationSlots, kube::Error> {
    let config = Api::<KubeVirt>::all(client.clone())
        .list(&ListParams::default())
        .await
        .ok()
        .and_then(|l| l.items.into_iter().next())
        .and_then(|kv| kv.spec.configuration.migrations);
    let vmims = Api::<Vmim>::all(client.clone()).list(&ListParams::default()).await?;
    let vmis = Api::<Vmi>::all(client.clone()).list(&ListParams::default()).await?;
    let key = |ns: &Option<String>, n: &Option<String>| {
        format!("{}/{}", ns.as_deref().unwrap_or(""), n.as_deref().unwrap_or(""))
    };
    let node_of = |ns: &Option<String>, vmi: &str| {
        vmis.items
            .iter()
            .find(|v| v.metadata.namespace == *ns && v.metadata.name.as_deref() == Some(vmi))
            .and_then(|v| v.status.as_ref())
            .and_then(|s| s.migration_state.as_ref().and_then(|m| m.source_node.clone()).or(s.node_name.clone()))
    };
    let ours = vmis
        .items
        .iter()
        .find(|v| v.metadata.namespace.as_deref() == Some(namespace) && v.metadata.name.as_deref() == Some(vm));
    let source_node = ours.and_then(|v| v.status.as_ref()).and_then(|s| s.node_name.clone());
    let running: Vec<&Vmim> = vmims
        .items
        .iter()
        .filter(|m| {
            let p = m.status.as_ref().and_then(|s| s.phase.as_deref()).and_then(MigrationPhase::parse);
            p.is_some_and(|p| p >= MigrationPhase::Scheduling && p <= MigrationPhase::Running)
        })
        .collect();
    Ok(MigrationSlots {
        per_cluster_limit: config
            .as_ref()
            .and_then(|c| c.parallel_migrations_per_cluster)
            .unwrap_or(stuck::DEFAULT_PARALLEL_PER_CLUSTER),
        per_node_limit: config
            .as_ref()
            .and_then(|c| c.parallel_outbound_migrations_per_node)
            .unwrap_or(stuck::DEFAULT_PARALLEL_OUTBOUND_PER_NODE),
        in_flight_in_cluster: running.iter().map(|m| key(&m.metadata.namespace, &m.metadata.name)).collect(),
        outbound_from_source_node: running
            .iter()
            .filter(|m| source_node.is_some() && node_of(&m.metadata.namespace, &m.spec.vmi_name) == source_node)
            .map(|m| key(&m.metadata.namespace, &m.metadata.name))
            .collect(),
        source_node,
        vmi_phase: ours.and_then(|v| v.status.as_ref()).and_then(|s| s.phase.clone()),
        vmi_active_pods: ours
            .and_then(|v| v.status.as_ref())
            .and_then(|s| s.active_pods.as_ref())
            .map_or(0, |p| p.len()),
    })
}

async fn target_pod(client: &kube::Client, namespace: &str, uid: &str) -> Result<Option<TargetPodFacts>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods.list(&ListParams::default().labels(&format!("{LABEL_MIGRATION_JOB_UID}={uid}"))).await?;
    Ok(list.items.into_iter().next().map(|p| {
        let status = p.status.unwrap_or_default();
        let unschedulable = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            .map(|c| c.message.or(c.reason).unwrap_or_default());
        let waiting = status
            .container_statuses
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.name == "compute")
            .and_then(|c| c.state.and_then(|s| s.waiting))
            .map(|w| format!("{}: {}", w.reason.unwrap_or_default(), w.message.unwrap_or_default()));
        TargetPodFacts {
            name: p.metadata.name.unwrap_or_default(),
            phase: status.phase,
            node: p.spec.and_then(|s| s.node_name),
            unschedulable,
            waiting,
        }
    }))
}

async fn failure_events(client: &kube::Client, namespace: &str, vmim: &str) -> Result<Vec<String>, kube::Error> {
    let events: Api<K8sEvent> = Api::namespaced(client.clone(), namespace);
    let selector = format!("involvedObject.kind=VirtualMachineInstanceMigration,involvedObject.name={vmim}");
    let list = match events.list(&ListParams::default().fields(&selector)).await {
        // A server without these field selectors: filter here.
        Err(kube::Error::Api(s)) if s.code == 400 => events.list(&ListParams::default()).await?,
        r => r?,
    };
    let mut warnings: Vec<K8sEvent> = list
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("VirtualMachineInstanceMigration")
                && e.involved_object.name.as_deref() == Some(vmim)
                && e.type_.as_deref() == Some("Warning")
                && e.message.is_some()
        })
        .collect();
    warnings.sort_by_key(|e| {
        e.last_timestamp.as_ref().map(|t| t.0).or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    });
    Ok(warnings.into_iter().filter_map(|e| e.message).collect())
}

/// Whether KubeVirt version `v` (`v1.5.2`, `v1.6.0-rc.1`, …) has VMIM `spec.addedNodeSelector` (v1.6.0+).
pub fn supports_added_node_selector(v: &str) -> Option<bool> {
    let v = v.trim().trim_start_matches('v');
    let mut parts = v.split(['.', '-']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some((major, minor) >= (1, 6))
}

/// The KubeVirt version the cluster runs: `status.observedKubeVirtVersion` of the KubeVirt CR (what virt-operator
/// deployed, hence which VMIM schema the API server serves).
pub(crate) async fn kubevirt_version(client: &kube::Client) -> Result<String, MigrateError> {
    let list = Api::<KubeVirt>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| MigrateError::KubeVirtVersionUnknown(format!("cannot list KubeVirt CRs: {}", describe(&e))))?;
    list.items.into_iter().find_map(|kv| kv.status.and_then(|s| s.observed_kube_virt_version)).ok_or_else(|| {
        MigrateError::KubeVirtVersionUnknown("no KubeVirt CR reports status.observedKubeVirtVersion".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, retry_after: Option<u32>) -> kube::Error {
        let mut s = Status::failure("boom", "ServiceUnavailable");
        s.code = code;
        if let Some(r) = retry_after {
            let details = serde_json::json!({ "retryAfterSeconds": r });
            s.details = Some(serde_json::from_value(details).unwrap());
        }
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn create_errors_are_classified() {
        assert_eq!(classify_create_error(&api_error(503, Some(2)), 0), CreateFailure::Retry(Duration::from_secs(2)));
        assert_eq!(classify_create_error(&api_error(429, None), 1), CreateFailure::Retry(Duration::from_millis(1000)));
        assert_eq!(classify_create_error(&api_error(503, Some(3600)), 0), CreateFailure::Retry(CREATE_BACKOFF_CAP));
        assert_eq!(classify_create_error(&api_error(400, None), 0), CreateFailure::Refused);
        assert_eq!(classify_create_error(&api_error(429, None), 30), CreateFailure::Retry(CREATE_BACKOFF_CAP));
    }

    #[test]
    fn new_vmim_body() {
        let m = new_vmim("tenant-root", "vm-instance-haos", None);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["metadata"]["generateName"], "vmmigrate-vm-instance-haos-");
        assert_eq!(v["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kubectl-vmmigrate");
        assert_eq!(v["spec"], serde_json::json!({"vmiName": "vm-instance-haos"}));
        assert_eq!(v["kind"], "VirtualMachineInstanceMigration");
    }

    #[test]
    fn versions() {
        assert_eq!(supports_added_node_selector("v1.5.2"), Some(false));
        assert_eq!(supports_added_node_selector("v1.6.0-rc.1"), Some(true));
        assert_eq!(supports_added_node_selector("v2.0.0"), Some(true));
        assert_eq!(supports_added_node_selector("garbage"), None);
    }

    #[test]
    fn in_flight_ignores_final_migrations() {
        let read = |f: &str| -> Vmim {
            serde_json::from_str(
                &std::fs::read_to_string(format!("{}/testdata/kubevirt/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
            )
            .unwrap()
        };
        let list = vec![
            read("vmim-failed.json"),
            read("vmim-running.json"),
            read("vmim-succeeded.json"),
            read("vmim-created.json"),
        ];
        let names: Vec<_> = in_flight(&list).iter().map(|m| m.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["kubevirt-migrate-vm-8k4tn", "kubevirt-migrate-vm-8k4tn"]);
    }
}
