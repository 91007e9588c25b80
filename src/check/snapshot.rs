//! The only IO of `check`: gathering a [`ClusterSnapshot`] with one paginated LIST per kind (GETs for 1–3
//! named VMs), a constant handful of SelfSubjectAccessReviews and, where asked for, one server-side dry-run
//! VMIM create per VM.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use serde::de::DeserializeOwned;

use super::permissions::{self, Need};
use super::{CheckError, CheckRequest};
use crate::kubevirt::{
    KubeVirt, LABEL_MANAGED_BY, MANAGED_BY, MigrationPolicy, VirtualMachine, VirtualMachineInstance,
    VirtualMachineInstanceMigration, VirtualMachineInstanceMigrationSpec,
};

/// Page size of every LIST.
pub const PAGE_SIZE: u32 = 500;
/// Label selector of virt-launcher pods.
pub const LAUNCHER_SELECTOR: &str = "kubevirt.io=virt-launcher";
/// Up to this many named VMs are fetched with one GET each; more are listed.
const MAX_GETS: usize = 3;
/// Dry-run creates in flight at once (`--server-dry-run` on many VMs).
const DRY_RUN_CONCURRENCY: usize = 8;
/// Up to this many distinct namespaces get their own access reviews; beyond, one cluster-wide review per need.
const MAX_SSAR_NAMESPACES: usize = 3;

/// Plain typed data: everything the pure rules look at.
#[derive(Clone, Debug, Default)]
pub struct ClusterSnapshot {
    /// The VMs to evaluate, as (namespace, name), in output order.
    pub targets: Vec<(String, String)>,
    pub kubevirts: Vec<KubeVirt>,
    pub vms: Vec<VirtualMachine>,
    pub vmis: Vec<VirtualMachineInstance>,
    /// virt-launcher pods only (label `kubevirt.io=virt-launcher`).
    pub launcher_pods: Vec<Pod>,
    pub nodes: Vec<Node>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub storage_classes: Vec<StorageClass>,
    pub migration_policies: Vec<MigrationPolicy>,
    pub migrations: Vec<VirtualMachineInstanceMigration>,
    pub namespaces: Vec<Namespace>,
    pub services: Vec<Service>,
    /// Kinds (plural) that could not be read, with why (e.g. forbidden for this user); rules skip on them.
    pub unavailable: BTreeMap<String, String>,
    /// SelfSubjectAccessReview answers.
    pub access: Vec<AccessResult>,
    /// Server-side dry-run VMIM creates, per (namespace, VMI name).
    pub dry_runs: BTreeMap<(String, String), DryRun>,
}

/// The answer to one SelfSubjectAccessReview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessResult {
    pub need: &'static Need,
    /// `None` = cluster-wide review.
    pub namespace: Option<String>,
    /// `Ok(allowed)`, or `Err(why the review could not be made)`.
    pub allowed: Result<bool, String>,
}

/// Outcome of a dry-run VMIM create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DryRun {
    Admitted,
    /// The server's message, verbatim.
    Denied(String),
}

/// Where to list namespaced kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    Namespace(String),
    All,
}

impl Scope {
    fn api<K>(&self, client: &kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
            Scope::All => Api::all(client.clone()),
        }
    }
    fn namespace(&self) -> Option<String> {
        match self {
            Scope::Namespace(ns) => Some(ns.clone()),
            Scope::All => None,
        }
    }
}

/// Maps a kube error of one request to a [`CheckError`].
fn classify(err: kube::Error, verb: &str, resource: &str, namespace: Option<String>, url: &str) -> CheckError {
    match err {
        kube::Error::Api(status) if status.code == 403 => {
            CheckError::Forbidden { verb: verb.into(), resource: resource.into(), namespace }
        }
        kube::Error::Api(status) => CheckError::Api(format!("{verb} {resource}: {} ({})", status.message, status.code)),
        kube::Error::HyperError(e) => CheckError::Unreachable { url: url.into(), detail: root_cause(&e) },
        kube::Error::Service(e) => CheckError::Unreachable { url: url.into(), detail: root_cause(e.as_ref()) },
        other => CheckError::Api(format!("{verb} {resource}: {}", root_cause(&other))),
    }
}

/// The innermost message of an error chain (e.g. `Connection refused (os error 111)`).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// All objects of one kind, one page of [`PAGE_SIZE`] at a time.
async fn list_all<K>(api: &Api<K>, selector: Option<&str>) -> Result<Vec<K>, kube::Error>
where
    K: Clone + DeserializeOwned + Debug,
{
    let mut lp = ListParams::default().limit(PAGE_SIZE);
    if let Some(s) = selector {
        lp = lp.labels(s);
    }
    let mut out = Vec::new();
    loop {
        let page = api.list(&lp).await?;
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp.continue_token = Some(token),
            _ => return Ok(out),
        }
    }
}

/// Gathering state shared by the helpers below.
struct Gatherer<'a> {
    client: &'a kube::Client,
    url: String,
    /// Kinds that could not be read (shared by concurrent lists; locked only briefly, never across an await).
    unavailable: Mutex<BTreeMap<String, String>>,
}

impl Gatherer<'_> {
    fn note(&self, plural: impl Into<String>, why: String) {
        self.unavailable.lock().unwrap_or_else(|e| e.into_inner()).insert(plural.into(), why);
    }

    /// A list the rules can do without: 403/404 are recorded in `unavailable`, other errors abort.
    async fn optional<K>(&self, api: Api<K>, plural: &str, selector: Option<&str>) -> Result<Vec<K>, CheckError>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        match list_all(&api, selector).await {
            Ok(items) => Ok(items),
            Err(e) if matches!(code(&e), Some(403 | 404)) => {
                let why = if code(&e) == Some(403) { "forbidden" } else { "not served" };
                self.note(plural, format!("cannot list {plural}: {why}"));
                Ok(Vec::new())
            }
            Err(e) => Err(classify(e, "list", plural, None, &self.url)),
        }
    }

    /// A list the check cannot do without.
    async fn required<K>(
        &self,
        api: Api<K>,
        plural: &str,
        selector: Option<&str>,
        ns: Option<String>,
    ) -> Result<Vec<K>, CheckError>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        list_all(&api, selector).await.map_err(|e| classify(e, "list", plural, ns, &self.url))
    }

    /// Cluster-wide list, falling back to the namespace when cluster-wide is forbidden.
    async fn wide_or_namespaced<K>(
        &self,
        scope: &Scope,
        plural: &str,
        selector: Option<&str>,
    ) -> Result<Vec<K>, CheckError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        match list_all(&Api::<K>::all(self.client.clone()), selector).await {
            Ok(items) => Ok(items),
            Err(e) if code(&e) == Some(403) && *scope != Scope::All => {
                self.note(format!("{plural}@cluster"), format!("cannot list {plural} cluster-wide: forbidden"));
                self.optional(scope.api(self.client), plural, selector).await
            }
            Err(e) if matches!(code(&e), Some(403 | 404)) => {
                self.note(plural, format!("cannot list {plural}: forbidden"));
                Ok(Vec::new())
            }
            Err(e) => Err(classify(e, "list", plural, None, &self.url)),
        }
    }
}

/// Gathers what the request needs. Errors are the ones that make evaluation impossible.
pub async fn gather(
    client: &kube::Client,
    default_namespace: &str,
    req: &CheckRequest,
) -> Result<ClusterSnapshot, CheckError> {
    let url = req.server.clone().unwrap_or_else(|| "the configured cluster".into());
    let g = Gatherer { client, url, unavailable: Mutex::new(BTreeMap::new()) };
    // 1. KubeVirt: a 404 on kubevirt.io means it is not installed.
    let kubevirts = match list_all(&Api::<KubeVirt>::all(client.clone()), None).await {
        Ok(kvs) if kvs.is_empty() => {
            return Err(CheckError::KubeVirtNotInstalled(
                "no KubeVirt CR (kubevirts.kubevirt.io) in any namespace".into(),
            ));
        }
        Err(e) if code(&e) == Some(404) => {
            return Err(CheckError::KubeVirtNotInstalled(
                "the API server does not serve kubevirt.io/v1 kubevirts".into(),
            ));
        }
        Err(e) if code(&e) == Some(403) => {
            g.note("kubevirts", "cannot list kubevirts: forbidden".into());
            Vec::new()
        }
        Ok(kvs) => kvs,
        Err(e) => return Err(classify(e, "list", "kubevirts", None, &g.url)),
    };
    let mut snap = ClusterSnapshot { kubevirts, ..Default::default() };

    // 2. The VMs and VMIs in scope.
    let scope = if req.all_namespaces {
        Scope::All
    } else {
        Scope::Namespace(req.namespace.clone().unwrap_or_else(|| default_namespace.to_owned()))
    };
    if let Scope::Namespace(ns) = &scope
        && req.vms.is_empty()
    {
        ensure_namespace(&g, ns).await?;
    }
    if !req.vms.is_empty() && req.vms.len() <= MAX_GETS {
        let ns = scope.namespace().unwrap_or_default();
        for name in &req.vms {
            let vm =
                get_opt(&Api::<VirtualMachine>::namespaced(client.clone(), &ns), name, "virtualmachines", &ns, &g.url)
                    .await?;
            let vmi = get_opt(
                &Api::<VirtualMachineInstance>::namespaced(client.clone(), &ns),
                name,
                "virtualmachineinstances",
                &ns,
                &g.url,
            )
            .await?;
            snap.vms.extend(vm);
            snap.vmis.extend(vmi);
        }
    } else {
        let selector = req.selector.as_deref();
        snap.vms = g.required(scope.api(client), "virtualmachines", selector, scope.namespace()).await?;
        snap.vmis = g.required(scope.api(client), "virtualmachineinstances", None, scope.namespace()).await?;
    }
    snap.targets = targets(req, &scope, &snap.vms, &snap.vmis);
    if let Some(ns) = scope.namespace() {
        for name in &req.vms {
            if !snap.targets.iter().any(|(_, n)| n == name) {
                ensure_namespace(&g, &ns).await?;
                return Err(CheckError::VmNotFound { ns, name: name.clone() });
            }
        }
    }

    // 3. Everything else, one paginated list per kind, concurrently.
    let namespaces = async {
        match &scope {
            Scope::All => g.optional(Api::<Namespace>::all(client.clone()), "namespaces", None).await,
            Scope::Namespace(ns) => match Api::<Namespace>::all(client.clone()).get_opt(ns).await {
                Ok(found) => Ok(found.into_iter().collect()),
                Err(_) => {
                    g.note("namespaces", format!("cannot get namespace {ns}"));
                    Ok(Vec::new())
                }
            },
        }
    };
    (
        snap.launcher_pods,
        snap.nodes,
        snap.pvcs,
        snap.storage_classes,
        snap.migration_policies,
        snap.migrations,
        snap.services,
        snap.namespaces,
    ) = tokio::try_join!(
        g.wide_or_namespaced(&scope, "pods", Some(LAUNCHER_SELECTOR)),
        g.optional(Api::<Node>::all(client.clone()), "nodes", None),
        g.optional(scope.api(client), "persistentvolumeclaims", None),
        g.optional(Api::<StorageClass>::all(client.clone()), "storageclasses", None),
        g.optional(Api::<MigrationPolicy>::all(client.clone()), "migrationpolicies", None),
        g.wide_or_namespaced(&scope, "virtualmachineinstancemigrations", None),
        g.optional(scope.api(client), "services", None),
        namespaces,
    )?;

    // 4. Access reviews: a constant handful.
    let namespaces: BTreeSet<&String> = snap.targets.iter().map(|(ns, _)| ns).collect();
    let review_namespaces: Vec<Option<String>> = if namespaces.len() <= MAX_SSAR_NAMESPACES {
        namespaces.into_iter().map(|ns| Some(ns.clone())).collect()
    } else {
        vec![None]
    };
    let reviews = review_namespaces.iter().flat_map(|ns| {
        permissions::NEEDS.iter().filter(|n| req.probe || !n.probe_only).map(move |need| async move {
            AccessResult { need, namespace: ns.clone(), allowed: review(client, need, ns.as_deref()).await }
        })
    });
    snap.access = futures::future::join_all(reviews).await;

    // 5. The authoritative verdict: dry-run creates for running VMIs.
    if req.wants_dry_run() {
        let running: BTreeSet<(&str, &str)> = snap
            .vmis
            .iter()
            .map(|v| {
                (v.metadata.namespace.as_deref().unwrap_or_default(), v.metadata.name.as_deref().unwrap_or_default())
            })
            .collect();
        let running: Vec<(String, String)> =
            snap.targets.iter().filter(|(ns, name)| running.contains(&(ns.as_str(), name.as_str()))).cloned().collect();
        let url = &g.url;
        snap.dry_runs = futures::stream::iter(running)
            .map(|(ns, name)| async move {
                let outcome = dry_run(client, &ns, &name, url).await?;
                Ok::<_, CheckError>(((ns, name), outcome))
            })
            .buffer_unordered(DRY_RUN_CONCURRENCY)
            .try_collect()
            .await?;
    }

    snap.unavailable = g.unavailable.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(snap)
}

/// The VMs to evaluate: named ones, else every VM in scope plus VMIs without a VM (not with `-l`).
fn targets(
    req: &CheckRequest,
    scope: &Scope,
    vms: &[VirtualMachine],
    vmis: &[VirtualMachineInstance],
) -> Vec<(String, String)> {
    let key = |m: &ObjectMeta| (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default());
    let mut set: BTreeSet<(String, String)> = vms.iter().map(|v| key(&v.metadata)).collect();
    if req.selector.is_none() {
        set.extend(vmis.iter().map(|v| key(&v.metadata)));
    }
    if !req.vms.is_empty() {
        let ns = scope.namespace().unwrap_or_default();
        return req.vms.iter().map(|n| (ns.clone(), n.clone())).filter(|t| set.contains(t)).collect();
    }
    set.into_iter().collect()
}

async fn get_opt<K>(api: &Api<K>, name: &str, plural: &str, ns: &str, url: &str) -> Result<Option<K>, CheckError>
where
    K: Clone + DeserializeOwned + Debug,
{
    api.get_opt(name).await.map_err(|e| classify(e, "get", plural, Some(ns.into()), url))
}

/// `NamespaceNotFound` when the namespace does not exist; a forbidden GET proves nothing and passes.
async fn ensure_namespace(g: &Gatherer<'_>, ns: &str) -> Result<(), CheckError> {
    match Api::<Namespace>::all(g.client.clone()).get_opt(ns).await {
        Ok(None) => Err(CheckError::NamespaceNotFound(ns.into())),
        Ok(Some(_)) => Ok(()),
        Err(e) if code(&e).is_some() => Ok(()),
        Err(e) => Err(classify(e, "get", "namespaces", None, &g.url)),
    }
}

async fn review(client: &kube::Client, need: &Need, ns: Option<&str>) -> Result<bool, String> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let ssar = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(need.group.into()),
                resource: Some(need.resource.into()),
                subresource: need.subresource.map(Into::into),
                verb: Some(need.verb.into()),
                namespace: ns.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &ssar).await {
        Ok(r) => Ok(r.status.map(|s| s.allowed).unwrap_or(false)),
        Err(e) => Err(root_cause(&e)),
    }
}

/// The VMIM `check` dry-runs (and that `run` would create): generateName, label `managed-by`.
pub fn dry_run_migration(vmi_name: &str) -> VirtualMachineInstanceMigration {
    VirtualMachineInstanceMigration {
        api_version: format!("{}/{}", crate::kubevirt::GROUP, crate::kubevirt::VERSION),
        kind: "VirtualMachineInstanceMigration".into(),
        metadata: ObjectMeta {
            generate_name: Some(format!("{vmi_name}-vmmigrate-")),
            labels: Some(BTreeMap::from([(LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned())])),
            ..Default::default()
        },
        spec: VirtualMachineInstanceMigrationSpec { vmi_name: vmi_name.into(), added_node_selector: None },
        ..Default::default()
    }
}

async fn dry_run(client: &kube::Client, ns: &str, name: &str, url: &str) -> Result<DryRun, CheckError> {
    let api: Api<VirtualMachineInstanceMigration> = Api::namespaced(client.clone(), ns);
    let pp = PostParams { dry_run: true, field_manager: Some(MANAGED_BY.into()) };
    match api.create(&pp, &dry_run_migration(name)).await {
        Ok(_) => Ok(DryRun::Admitted),
        Err(kube::Error::Api(status)) => Ok(DryRun::Denied(status.message.clone())),
        Err(e) => Err(classify(e, "create", "virtualmachineinstancemigrations", Some(ns.into()), url)),
    }
}
