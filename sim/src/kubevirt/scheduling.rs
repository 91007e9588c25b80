//! What kube-scheduler does with a migration target pod (kubevirt.md §9, §11): filters in the scheduler's plugin
//! order (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit, InterPodAffinity), then the
//! eligible node with the most free memory (ties by name). A pure function of the pod, the nodes and the pods.

use std::collections::BTreeMap;

use serde_json::Value;

use super::quantity;

fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn tolerates(tolerations: &[Value], key: &str, value: &str, effect: &str) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = s(t, "effect").is_empty() || s(t, "effect") == effect;
        let exists = s(t, "operator") == "Exists";
        let key_ok = (s(t, "key").is_empty() && exists) || s(t, "key") == key;
        effect_ok && key_ok && (exists || s(t, "value") == value)
    })
}

/// The taints of a node, with `node.kubernetes.io/not-ready` added when the node is not Ready.
fn taints(node: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = arr(node, "/spec/taints")
        .iter()
        .map(|t| (s(t, "key").to_string(), s(t, "value").to_string(), s(t, "effect").to_string()))
        .collect();
    let ready = arr(node, "/status/conditions").iter().any(|c| s(c, "type") == "Ready" && s(c, "status") == "True");
    if !ready && !out.iter().any(|(k, _, _)| k == "node.kubernetes.io/not-ready") {
        out.push(("node.kubernetes.io/not-ready".into(), String::new(), "NoSchedule".into()));
    }
    out
}

fn is_terminal(pod: &Value) -> bool {
    matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded") | Some("Failed"))
}

/// Sum of a resource's requests over the containers of a pod.
fn request(pod: &Value, resource: &str) -> f64 {
    arr(pod, "/spec/containers")
        .iter()
        .filter_map(|c| c.pointer("/resources/requests").and_then(|r| r.get(resource)))
        .filter_map(quantity::parse_value)
        .sum()
}

fn allocatable(node: &Value, resource: &str) -> f64 {
    node.pointer("/status/allocatable").and_then(|a| a.get(resource)).and_then(quantity::parse_value).unwrap_or(0.0)
}

fn node_name(node: &Value) -> &str {
    node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

/// The pods counted on a node (bound, not terminal, not the pod being scheduled).
fn pods_on<'a>(pods: &'a [Value], node: &'a str, me: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
    let my_uid = me.pointer("/metadata/uid");
    pods.iter().filter(move |p| {
        p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node)
            && !is_terminal(p)
            && (my_uid.is_none() || p.pointer("/metadata/uid") != my_uid)
    })
}

/// Why a node cannot take the pod (the first failing filter), or its free memory.
fn filter(pod: &Value, node: &Value, pods: &[Value]) -> Result<f64, (String, bool)> {
    let tolerations = arr(pod, "/spec/tolerations");
    let name = node_name(node);
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true)
        && !tolerates(tolerations, "node.kubernetes.io/unschedulable", "", "NoSchedule")
    {
        return Err(("node(s) were unschedulable".into(), false));
    }
    for (k, v, e) in taints(node) {
        if (e == "NoSchedule" || e == "NoExecute") && !tolerates(tolerations, &k, &v, &e) {
            return Err((format!("node(s) had untolerated taint {{{k}: {v}}}"), false));
        }
    }
    let labels = node.pointer("/metadata/labels").and_then(Value::as_object);
    let selector_ok = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .is_none_or(|sel| sel.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v)));
    if !selector_ok {
        return Err(("node(s) didn't match Pod's node affinity/selector".into(), false));
    }
    let used_mem: f64 = pods_on(pods, name, pod).map(|p| request(p, "memory")).sum();
    let used_cpu: f64 = pods_on(pods, name, pod).map(|p| request(p, "cpu")).sum();
    let free_mem = allocatable(node, "memory") - used_mem;
    if request(pod, "memory") > free_mem {
        return Err(("Insufficient memory".into(), true));
    }
    if request(pod, "cpu") > allocatable(node, "cpu") - used_cpu {
        return Err(("Insufficient cpu".into(), true));
    }
    let anti = arr(pod, "/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution");
    let conflict = anti.iter().any(|term| {
        let Some(sel) = term.pointer("/labelSelector/matchLabels").and_then(Value::as_object) else {
            return false;
        };
        pods_on(pods, name, pod).any(|p| {
            let l = p.pointer("/metadata/labels").and_then(Value::as_object);
            sel.iter().all(|(k, v)| l.and_then(|l| l.get(k)) == Some(v))
        })
    });
    if conflict {
        return Err(("node(s) didn't match pod anti-affinity rules".into(), false));
    }
    Ok(free_mem)
}

/// The node the scheduler binds the pod to, or the scheduler's `FailedScheduling` message.
pub fn schedule(pod: &Value, nodes: &[Value], pods: &[Value]) -> Result<String, String> {
    place(pod, nodes, pods, false)
}

/// The scheduler's message when no node has room for the pod, even those that would pass every other filter (a
/// scenario's `TargetUnschedulable`).
pub fn no_room_message(pod: &Value, nodes: &[Value], pods: &[Value]) -> String {
    place(pod, nodes, pods, true).err().unwrap_or_default()
}

fn place(pod: &Value, nodes: &[Value], pods: &[Value], no_room: bool) -> Result<String, String> {
    let mut best: Option<(f64, &str)> = None;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let (mut victims, mut hopeless) = (0, 0);
    for node in nodes {
        let verdict = match filter(pod, node, pods) {
            Ok(_) if no_room => Err(("Insufficient memory".to_string(), true)),
            v => v,
        };
        match verdict {
            Ok(free) => {
                let name = node_name(node);
                let better = best.is_none_or(|(f, n)| free > f || (free == f && name < n));
                if better {
                    best = Some((free, name));
                }
            }
            Err((reason, resources)) => {
                *reasons.entry(reason).or_default() += 1;
                if resources {
                    victims += 1;
                } else {
                    hopeless += 1;
                }
            }
        }
    }
    if let Some((_, name)) = best {
        return Ok(name.to_string());
    }
    let n = nodes.len();
    let list = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect::<Vec<_>>().join(", ");
    let mut preemption = Vec::new();
    if victims > 0 {
        preemption.push(format!("{victims} No preemption victims found for incoming pod"));
    }
    if hopeless > 0 {
        preemption.push(format!("{hopeless} Preemption is not helpful for scheduling"));
    }
    let list = if list.is_empty() { String::new() } else { format!(" {list}.") };
    Err(format!("0/{n} nodes are available:{list} preemption: 0/{n} nodes are available: {}.", preemption.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nodes() -> Vec<Value> {
        let v: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/nodes.json")).unwrap();
        v["items"].as_array().unwrap().clone()
    }

    fn target_pod() -> Value {
        let mut p: Value =
            serde_json::from_str(include_str!("../../../testdata/kubevirt/virt-launcher-pod-target.json")).unwrap();
        p["spec"].as_object_mut().unwrap().remove("nodeName");
        p["metadata"]["uid"] = json!("target");
        p
    }

    fn source_pod() -> Value {
        serde_json::from_str(include_str!("../../../testdata/kubevirt/virt-launcher-pod.json")).unwrap()
    }

    #[test]
    fn haos_target_can_only_go_to_the_dome() {
        assert_eq!(schedule(&target_pod(), &nodes(), &[source_pod()]), Ok("the-dome".into()));
    }

    #[test]
    fn no_node_gives_the_schedulers_message() {
        let ns: Vec<Value> = nodes().into_iter().filter(|n| n["metadata"]["name"] != "the-dome").collect();
        let err = schedule(&target_pod(), &ns, &[source_pod()]).unwrap_err();
        assert_eq!(
            err,
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod anti-affinity rules, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn memory_taints_and_readiness_count() {
        let mut ns = nodes();
        // Fill the-dome with a big pod.
        let hog = json!({"metadata": {"uid": "hog"}, "spec": {"nodeName": "the-dome", "containers": [{"resources": {"requests": {"memory": "60Gi"}}}]}, "status": {"phase": "Running"}});
        let err = schedule(&target_pod(), &ns, &[source_pod(), hog.clone()]).unwrap_err();
        assert!(err.contains("1 Insufficient memory"), "{err}");
        assert!(err.contains("1 No preemption victims found for incoming pod"), "{err}");
        // A finished pod does not count.
        let mut done = hog.clone();
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(schedule(&target_pod(), &ns, &[source_pod(), done]), Ok("the-dome".into()));
        let dome = ns.iter_mut().find(|n| n["metadata"]["name"] == "the-dome").unwrap();
        dome["spec"]["taints"] = json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]);
        let err = schedule(&target_pod(), &ns, &[source_pod()]).unwrap_err();
        assert!(err.contains("1 node(s) had untolerated taint {dedicated: db}"), "{err}");
        let mut tolerant = target_pod();
        tolerant["spec"]["tolerations"].as_array_mut().unwrap().push(json!({"key": "dedicated", "operator": "Exists"}));
        assert_eq!(schedule(&tolerant, &ns, &[source_pod()]), Ok("the-dome".into()));
        let dome = ns.iter_mut().find(|n| n["metadata"]["name"] == "the-dome").unwrap();
        dome["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        let err = schedule(&tolerant, &ns, &[source_pod()]).unwrap_err();
        assert!(err.contains("untolerated taint {node.kubernetes.io/not-ready: }"), "{err}");
    }

    #[test]
    fn no_room_counts_eligible_nodes_as_full() {
        let msg = no_room_message(&target_pod(), &nodes(), &[source_pod()]);
        assert!(msg.starts_with("0/4 nodes are available: 1 Insufficient memory, "), "{msg}");
        assert!(
            msg.ends_with(
                "1 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
            ),
            "{msg}"
        );
    }

    #[test]
    fn most_free_memory_wins() {
        let mut pod = target_pod();
        pod["spec"]["nodeSelector"] = json!({"kubevirt.io/schedulable": "true"});
        // illusion has 15Gi, the-dome 64Gi: the-dome; with a hog on the-dome, illusion.
        assert_eq!(schedule(&pod, &nodes(), &[source_pod()]), Ok("the-dome".into()));
        let hog = json!({"metadata": {"uid": "hog"}, "spec": {"nodeName": "the-dome", "containers": [{"resources": {"requests": {"memory": "55Gi"}}}]}});
        assert_eq!(schedule(&pod, &nodes(), &[source_pod(), hog]), Ok("illusion".into()));
    }
}
