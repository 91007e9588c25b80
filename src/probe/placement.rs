//! Where the probe runs: the prober pod and ephemeral container specs, the choice of node, the refusal of the VM's own
//! virt-launcher pod, and what a pod's status says about the probe container (running, still starting, or failed
//! in a way worth telling: image pull errors, a container that ended).
//!
//! The prober pod runs `sleep LIFETIME` as the one thing keeping it alive, with `activeDeadlineSeconds` a minute
//! later as a last-resort bound: even if the plugin is killed and never deletes it, the pod ends by itself. Its
//! container drops every capability and adds only `NET_RAW` (for ping's raw or ICMP socket), never escalates
//! privileges and gets no service-account token. It is pinned with `nodeName` (as `kubectl debug node/` does) to a
//! node that is neither the VM's source node nor a node the migration is expected to go to, so that neither end of
//! the move shares the prober's host.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EphemeralContainer, Node, Pod, PodSpec, ResourceRequirements, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::check::{ClusterSnapshot, Index};
use crate::kubevirt::VirtualMachineInstance;

/// The label every object the plugin creates carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kubectl-vmmigrate");
/// The component label of prober pods.
pub const COMPONENT: (&str, &str) = ("app.kubernetes.io/component", "downtime-probe");
/// The container name inside a prober pod.
pub const PROBER_CONTAINER: &str = "probe";
/// Name prefix of prober pods (followed by the VM's name and a random suffix) and of ephemeral probe containers.
pub const NAME_PREFIX: &str = "vmmigrate-probe-";
/// Slack between the container's `sleep` ending and `activeDeadlineSeconds` failing the pod.
const DEADLINE_SLACK_S: i64 = 60;

/// The node chosen for the prober pod, and a note when the choice had to compromise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChoice {
    pub node: String,
    /// Why the node is not an ideal third node, if it is not.
    pub note: Option<String>,
}

/// Why no node could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("no node can run the prober pod: {0}")]
    NoNode(String),
    /// The node `--probe-from node/NAME` names cannot run it.
    #[error("--probe-from node/{node}: node {node} {why}")]
    Pinned { node: String, why: String },
}

/// Whether a node takes new pods: Ready, not cordoned, no NoSchedule/NoExecute taint.
pub fn usable(node: &Node) -> bool {
    let spec = node.spec.as_ref();
    let cordoned = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let tainted = spec
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute"));
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    ready && !cordoned && !tainted
}

/// Picks the prober's node: a usable node that is neither `source` nor one of `expected_targets` (the first by
/// name); else a usable expected target; else the source itself, each with a note saying what that costs.
pub fn choose_node(
    nodes: &[Node],
    source: Option<&str>,
    expected_targets: &[String],
) -> Result<NodeChoice, PlacementError> {
    let mut names: Vec<&str> = nodes.iter().filter(|n| usable(n)).filter_map(|n| n.metadata.name.as_deref()).collect();
    names.sort_unstable();
    let is_source = |n: &str| Some(n) == source;
    let is_target = |n: &str| expected_targets.iter().any(|t| t == n);
    if let Some(n) = names.iter().find(|n| !is_source(n) && !is_target(n)) {
        return Ok(NodeChoice { node: n.to_string(), note: None });
    }
    if let Some(n) = names.iter().find(|n| !is_source(n)) {
        let note = format!(
            "the prober runs on {n}, a possible migration target: no other usable node (probe from elsewhere with \
             --probe-from pod/NAME)"
        );
        return Ok(NodeChoice { node: n.to_string(), note: Some(note) });
    }
    if let Some(n) = names.first() {
        let note = format!("the prober runs on {n}, the VM's source node: no other usable node");
        return Ok(NodeChoice { node: n.to_string(), note: Some(note) });
    }
    Err(PlacementError::NoNode(format!(
        "none of the {} nodes is Ready and schedulable without taints; pin one with --probe-from node/NAME",
        nodes.len()
    )))
}

/// The nodes a migration of `vmi` could go to, as `check` judges them (its per-node verdicts over these nodes and
/// launcher pods).
pub fn expected_targets(vmi: &VirtualMachineInstance, nodes: &[Node], launcher_pods: &[Pod]) -> Vec<String> {
    let snapshot = ClusterSnapshot {
        nodes: nodes.to_vec(),
        vmis: vec![vmi.clone()],
        launcher_pods: launcher_pods.to_vec(),
        ..Default::default()
    };
    let index = Index::new(&snapshot);
    let (verdicts, _) = crate::check::nodes::evaluate(&index, vmi);
    verdicts.into_iter().filter(|v| v.eligible).map(|v| v.node).collect()
}

/// Checks the node `--probe-from node/NAME` pins the prober to: it must exist and be Ready (a cordon does not matter:
/// the pod names its node); being the VM's source or an expected target is allowed, with a note.
pub fn pinned_node(
    nodes: &[Node],
    name: &str,
    source: Option<&str>,
    expected_targets: &[String],
) -> Result<NodeChoice, PlacementError> {
    let Some(node) = nodes.iter().find(|n| n.metadata.name.as_deref() == Some(name)) else {
        return Err(PlacementError::Pinned { node: name.into(), why: "not found".into() });
    };
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    if !ready {
        return Err(PlacementError::Pinned { node: name.into(), why: "is not Ready".into() });
    }
    let note = if Some(name) == source {
        Some(format!("the prober runs on {name}, the VM's source node (--probe-from)"))
    } else if expected_targets.iter().any(|t| t == name) {
        Some(format!("the prober runs on {name}, a possible migration target (--probe-from)"))
    } else {
        None
    };
    Ok(NodeChoice { node: name.to_string(), note })
}

fn labels() -> BTreeMap<String, String> {
    [MANAGED_BY, COMPONENT].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// NET_RAW only: every other capability dropped, no privilege escalation.
fn security_context() -> SecurityContext {
    SecurityContext {
        capabilities: Some(Capabilities { add: Some(vec!["NET_RAW".into()]), drop: Some(vec!["ALL".into()]) }),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    }
}

/// Whole seconds, rounded up, at least 1.
fn seconds(d: Duration) -> i64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(s.max(1)).unwrap_or(i64::MAX)
}

/// The command that keeps a probe container alive for `lifetime`, then lets it end.
pub fn keep_alive(lifetime: Duration) -> Vec<String> {
    vec!["sleep".into(), seconds(lifetime).to_string()]
}

/// The short-lived prober pod for `vm`, pinned to `node`, alive for `lifetime` (then it ends by itself).
pub fn prober_pod(name: &str, image: &str, node: &str, lifetime: Duration) -> Pod {
    let small = |cpu: &str, mem: &str| {
        Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into())), ("memory".to_string(), Quantity(mem.into()))]))
    };
    let container = Container {
        name: PROBER_CONTAINER.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(keep_alive(lifetime)),
        security_context: Some(security_context()),
        resources: Some(ResourceRequirements {
            requests: small("10m", "16Mi"),
            limits: small("500m", "128Mi"),
            ..Default::default()
        }),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    };
    Pod {
        metadata: ObjectMeta { name: Some(name.into()), labels: Some(labels()), ..Default::default() },
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            restart_policy: Some("Never".into()),
            active_deadline_seconds: Some(seconds(lifetime).saturating_add(DEADLINE_SLACK_S)),
            termination_grace_period_seconds: Some(1),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            containers: vec![container],
            ..Default::default()
        }),
        status: None,
    }
}

/// An ephemeral probe container named `name`, alive for `lifetime`, sharing `target`'s process namespace if given.
pub fn ephemeral_container(name: &str, image: &str, target: Option<&str>, lifetime: Duration) -> EphemeralContainer {
    EphemeralContainer {
        name: name.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(keep_alive(lifetime)),
        security_context: Some(security_context()),
        target_container_name: target.map(str::to_string),
        termination_message_policy: Some("File".into()),
        ..Default::default()
    }
}

/// The strategic-merge patch of `pods/ephemeralcontainers` adding `container` (merged by name, as `kubectl debug`).
pub fn ephemeral_patch(container: &EphemeralContainer) -> serde_json::Value {
    serde_json::json!({"spec": {"ephemeralContainers": [container]}})
}

/// `vmmigrate-probe-` and five characters from `seed` (lower-case letters and digits, like `kubectl debug`'s).
pub fn ephemeral_name(seed: u64) -> String {
    format!("{NAME_PREFIX}{}", name_suffix(seed))
}

/// The prober pod's name, chosen by the client (not `generateName`) so that the pod can be deleted by name even
/// when the plugin is interrupted before the server's answer to the create arrives.
pub fn prober_pod_name(vm: &str, seed: u64) -> String {
    format!("{NAME_PREFIX}{vm}-{}", name_suffix(seed))
}

/// Five characters of Kubernetes' generateName alphabet from `seed`.
fn name_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = seed;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Why `pod` must not host the probe, if it is the VM's own virt-launcher pod (`kubevirt.io/created-by` is the VMI's
/// uid, or `vm.kubevirt.io/name` is the VM's name).
pub fn launcher_refusal(pod: &Pod, vm: &str, vmi_uid: Option<&str>) -> Option<String> {
    let labels = pod.metadata.labels.as_ref()?;
    let created_by = labels.get("kubevirt.io/created-by").map(String::as_str);
    let ours = (vmi_uid.is_some() && created_by == vmi_uid)
        || labels.get("vm.kubevirt.io/name").map(String::as_str) == Some(vm);
    ours.then(|| {
        format!(
            "pod {} is the virt-launcher pod of VM {vm}: it is replaced during the migration, so a probe in it would \
             die at the switchover it is meant to measure; use another pod, node/NAME, or no --probe-from",
            pod.metadata.name.as_deref().unwrap_or_default()
        )
    })
}

/// The Pod Security admission's refusal of `what` (`the prober pod`, `the ephemeral probe container`), in words, if
/// a 403 message is one (`... is forbidden: violates PodSecurity "baseline:latest": non-default capabilities ...`).
pub fn pod_security_refusal(message: &str, what: &str) -> Option<String> {
    if !message.contains("violates PodSecurity") {
        return None;
    }
    let detail = message.split_once("violates ").map_or(message, |(_, rest)| rest);
    let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(format!(
        "the namespace's Pod Security admission refuses {what} (ping needs the NET_RAW capability, which neither the \
         baseline nor the restricted level allows): {detail}; ask for the namespace's \
         pod-security.kubernetes.io/enforce level to be privileged (ephemeral containers are checked the same way)"
    ))
}

/// Where a probe container stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// It runs: the probe can be exec'd.
    Running,
    /// Not yet; the reason, if the kubelet gave one (`ContainerCreating`).
    Starting(Option<String>),
    /// It will not run: why, in words.
    Failed(String),
}

/// Waiting reasons that do not resolve by themselves.
const FATAL_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Where `container` of `pod` stands (an ephemeral container when `ephemeral`).
pub fn readiness(pod: &Pod, container: &str, ephemeral: bool) -> Readiness {
    let Some(status) = pod.status.as_ref() else { return Readiness::Starting(None) };
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    if !ephemeral && let Some(phase @ ("Failed" | "Succeeded")) = status.phase.as_deref() {
        let why = status.reason.iter().chain(status.message.iter()).cloned().collect::<Vec<_>>().join(": ");
        let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
        return Readiness::Failed(format!("prober pod {pod_name} ended: phase {phase}{why}"));
    }
    let list = if ephemeral { &status.ephemeral_container_statuses } else { &status.container_statuses };
    let Some(cs) = list.iter().flatten().find(|c| c.name == container) else {
        let unschedulable =
            status.conditions.iter().flatten().find(|c| {
                c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
            });
        return match unschedulable {
            Some(c) => Readiness::Failed(format!(
                "prober pod {pod_name} cannot be scheduled: {}",
                c.message.as_deref().unwrap_or("Unschedulable")
            )),
            None => Readiness::Starting(None),
        };
    };
    let image = cs.image.as_str();
    match cs.state.as_ref() {
        Some(s) if s.running.is_some() => Readiness::Running,
        Some(s) if s.terminated.is_some() => {
            let t = s.terminated.as_ref().map(|t| (t.exit_code, t.reason.clone(), t.message.clone()));
            let (code, reason, message) = t.unwrap_or_default();
            let extra: Vec<String> = reason.into_iter().chain(message).collect();
            Readiness::Failed(format!(
                "probe container {container} in pod {pod_name} ended with exit code {code}{}",
                if extra.is_empty() { String::new() } else { format!(" ({})", extra.join(": ")) }
            ))
        }
        Some(s) => {
            let w = s.waiting.as_ref();
            let reason = w.and_then(|w| w.reason.clone());
            let message = w.and_then(|w| w.message.clone());
            match reason.as_deref() {
                Some(r) if FATAL_WAITING.contains(&r) => {
                    let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
                    let what = if r.contains("Image") {
                        format!(
                            "image \"{image}\" cannot be pulled ({r}{detail}); check the name and tag, or choose another with --probe-image"
                        )
                    } else {
                        format!("probe container {container} cannot start ({r}{detail})")
                    };
                    Readiness::Failed(what)
                }
                _ => Readiness::Starting(reason),
            }
        }
        None => Readiness::Starting(None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/testdata/kubevirt/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn seed_nodes() -> Vec<Node> {
        let list: serde_json::Value = fixture("nodes.json");
        serde_json::from_value(list["items"].clone()).unwrap()
    }

    #[test]
    fn the_seed_prober_lands_on_illusion() {
        let nodes = seed_nodes();
        let choice = choose_node(&nodes, Some("the-toy-factory"), &["the-dome".into()]).unwrap();
        assert_eq!(choice, NodeChoice { node: "illusion".into(), note: None });
        // here-i-am is cordoned: never chosen, even when nothing else is left.
        let only_target = choose_node(&nodes, Some("the-toy-factory"), &["the-dome".into(), "illusion".into()]);
        let only_target = only_target.unwrap();
        assert_eq!(only_target.node, "illusion");
        assert!(only_target.note.is_some_and(|n| n.contains("possible migration target")));
        let one: Vec<Node> =
            nodes.iter().filter(|n| n.metadata.name.as_deref() == Some("the-toy-factory")).cloned().collect();
        let source = choose_node(&one, Some("the-toy-factory"), &[]).unwrap();
        assert!(source.note.is_some_and(|n| n.contains("source node")));
        let cordoned: Vec<Node> =
            nodes.iter().filter(|n| n.metadata.name.as_deref() == Some("here-i-am")).cloned().collect();
        assert!(choose_node(&cordoned, None, &[]).unwrap_err().to_string().contains("--probe-from node/NAME"));
    }

    #[test]
    fn a_pinned_node_must_exist_and_be_ready() {
        let nodes = seed_nodes();
        let targets = ["the-dome".to_string()];
        let pin = |n: &str| pinned_node(&nodes, n, Some("the-toy-factory"), &targets);
        assert_eq!(pin("illusion").unwrap(), NodeChoice { node: "illusion".into(), note: None });
        assert!(pin("here-i-am").unwrap().note.is_none(), "cordoned is fine: the pod names its node");
        assert!(pin("the-dome").unwrap().note.is_some_and(|n| n.contains("possible migration target")));
        assert!(pin("the-toy-factory").unwrap().note.is_some_and(|n| n.contains("source node")));
        assert!(pin("nowhere").unwrap_err().to_string().contains("node nowhere not found"));
        let mut not_ready = nodes.clone();
        for n in &mut not_ready {
            for c in n.status.as_mut().and_then(|s| s.conditions.as_mut()).into_iter().flatten() {
                c.status = "False".into();
            }
        }
        let err = pinned_node(&not_ready, "illusion", None, &[]).unwrap_err();
        assert!(err.to_string().contains("is not Ready"));
    }

    #[test]
    fn the_seed_vm_is_expected_to_go_to_the_dome() {
        let vmi: VirtualMachineInstance = fixture("vmi-running.json");
        let pods: Vec<Pod> = vec![fixture("virt-launcher-pod.json")];
        assert_eq!(expected_targets(&vmi, &seed_nodes(), &pods), ["the-dome"]);
    }

    #[test]
    fn prober_pod_is_labelled_bounded_pinned_and_has_net_raw_only() {
        let name = prober_pod_name("vm-instance-haos", 42);
        assert!(name.starts_with("vmmigrate-probe-vm-instance-haos-") && name.len() == 33 + 5, "{name}");
        assert_ne!(prober_pod_name("vm", 1), prober_pod_name("vm", 2));
        let pod = prober_pod(&name, "nicolaka/netshoot:v0.14", "illusion", Duration::from_millis(90_500));
        let v = serde_json::to_value(&pod).unwrap();
        assert_eq!(v["metadata"]["name"], name);
        assert_eq!(v["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kubectl-vmmigrate");
        assert_eq!(v["spec"]["nodeName"], "illusion");
        assert_eq!(v["spec"]["activeDeadlineSeconds"], 151);
        assert_eq!(v["spec"]["restartPolicy"], "Never");
        assert_eq!(v["spec"]["automountServiceAccountToken"], false);
        let c = &v["spec"]["containers"][0];
        assert_eq!(c["image"], "nicolaka/netshoot:v0.14");
        assert_eq!(c["command"], json!(["sleep", "91"]));
        assert_eq!(c["securityContext"]["capabilities"], json!({"add": ["NET_RAW"], "drop": ["ALL"]}));
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    }

    #[test]
    fn ephemeral_patch_adds_one_named_container() {
        let name = ephemeral_name(123_456_789);
        assert!(name.starts_with("vmmigrate-probe-") && name.len() == "vmmigrate-probe-".len() + 5, "{name}");
        assert_ne!(ephemeral_name(1), ephemeral_name(2));
        let c = ephemeral_container(&name, "busybox:1.36", Some("app"), Duration::from_secs(60));
        let patch = ephemeral_patch(&c);
        let e = &patch["spec"]["ephemeralContainers"][0];
        assert_eq!(e["name"], json!(name));
        assert_eq!(e["targetContainerName"], "app");
        assert_eq!(e["command"], json!(["sleep", "60"]));
        assert_eq!(e["securityContext"]["capabilities"]["add"], json!(["NET_RAW"]));
    }

    #[test]
    fn the_vms_own_launcher_pod_is_refused() {
        let pod: Pod = fixture("virt-launcher-pod.json");
        let uid = "3f9a6c1e-8b2d-4e7f-a1c3-5d6e7f8a9b0c";
        let why = launcher_refusal(&pod, "vm-instance-haos", Some(uid)).unwrap();
        assert!(why.contains("virt-launcher-vm-instance-haos-7x2kq") && why.contains("replaced during the migration"));
        assert!(launcher_refusal(&pod, "other-vm", Some(uid)).is_some(), "by the VMI uid");
        assert!(launcher_refusal(&pod, "vm-instance-haos", None).is_some(), "by the VM name label");
        assert_eq!(launcher_refusal(&pod, "other-vm", Some("another-uid")), None);
    }

    fn pod_with(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": []}, "status": status}))
            .unwrap()
    }

    #[test]
    fn pod_security_refusals_are_said_in_words() {
        let m = "pods \"vmmigrate-probe-vm-x\" is forbidden: violates PodSecurity \"baseline:latest\": non-default \
                 capabilities (container \"probe\" must not include \"NET_RAW\" in securityContext.capabilities.add)";
        let why = pod_security_refusal(m, "the prober pod").unwrap();
        assert!(why.starts_with("the namespace's Pod Security admission refuses the prober pod"), "{why}");
        assert!(why.contains("PodSecurity \"baseline:latest\": non-default capabilities"), "{why}");
        assert_eq!(pod_security_refusal("pods is forbidden: User \"u\" cannot create resource", "x"), None);
    }

    #[test]
    fn readiness_from_container_statuses() {
        let running = pod_with(json!({"phase": "Running", "containerStatuses": [
            {"name": "probe", "image": "x", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        assert_eq!(readiness(&running, "probe", false), Readiness::Running);
        let creating = pod_with(json!({"phase": "Pending", "containerStatuses": [
            {"name": "probe", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        assert_eq!(readiness(&creating, "probe", false), Readiness::Starting(Some("ContainerCreating".into())));
        let pull = pod_with(json!({"phase": "Pending", "ephemeralContainerStatuses": [
            {"name": "dbg", "image": "nicolaka/netshoot:v9", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"nicolaka/netshoot:v9\""}}}]}));
        let Readiness::Failed(why) = readiness(&pull, "dbg", true) else { panic!("expected a failure") };
        assert!(why.contains("\"nicolaka/netshoot:v9\" cannot be pulled (ImagePullBackOff: Back-off"), "{why}");
        assert_eq!(readiness(&pull, "probe", false), Readiness::Starting(None));
        let failed = pod_with(json!({"phase": "Failed", "reason": "DeadlineExceeded"}));
        assert!(matches!(readiness(&failed, "probe", false), Readiness::Failed(w) if w.contains("DeadlineExceeded")));
        let unsched = pod_with(json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/4 nodes are available"}]}));
        assert!(matches!(readiness(&unsched, "probe", false), Readiness::Failed(w) if w.contains("0/4 nodes")));
        let ended = pod_with(json!({"phase": "Running", "ephemeralContainerStatuses": [
            {"name": "dbg", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 127, "reason": "Error"}}}]}));
        assert!(matches!(readiness(&ended, "dbg", true), Readiness::Failed(w) if w.contains("exit code 127")));
    }
}
