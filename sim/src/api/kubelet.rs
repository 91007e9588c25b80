//! A minimal kubelet and scheduler, driven by the store's events:
//! - every new ephemeral container gets a status entry, Waiting (ContainerCreating) and then Running;
//! - with pod lifecycle on: a Pending pod without a node is bound to a Ready, schedulable node whose labels match
//!   its `nodeSelector` and whose NoSchedule/NoExecute taints it tolerates, or gets `PodScheduled=False`
//!   (Unschedulable); a Pending pod on a node without container statuses starts Running with a pod IP from
//!   10.244.0.0/16; a pod deleted gracefully is removed once its containers stopped (a simulated second).
//!
//! Pods controlled by a custom resource (a controller ownerReference outside the core, `apps` and `batch`
//! groups) are left to that resource's controller, which in the sim models their scheduling and start itself;
//! so are pods that already have container statuses.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Mutex, broadcast, watch};

use super::resources::{NODES, PODS};
use super::store::{EventType, Store, StoreEvent};

/// Simulated time from creating an ephemeral container to it running.
const EPHEMERAL_START: Duration = Duration::from_secs(1);
/// Simulated time from binding a pod to it running.
const POD_START: Duration = Duration::from_secs(2);

/// The kubelet emulation.
pub struct Kubelet {
    store: Store,
    lifecycle: bool,
    next_ip: AtomicU32,
    starting: Mutex<HashSet<String>>,
    terminating: Mutex<HashSet<String>>,
}

fn meta<'a>(o: &'a Value, f: &str) -> &'a str {
    o["metadata"][f].as_str().unwrap_or_default()
}

/// 64 random hex digits, the length of container IDs and image digests.
fn hex64() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Whether a pod is controlled by a custom resource, whose in-sim controller schedules and starts it.
pub fn managed_elsewhere(pod: &Value) -> bool {
    pod["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
        refs.iter().any(|r| {
            let group = r["apiVersion"].as_str().and_then(|a| a.rsplit_once('/')).map_or("", |(g, _)| g);
            r["controller"] == true && !matches!(group, "" | "apps" | "batch")
        })
    })
}

/// The scheduler's choice among `nodes` for `pod`: a node name, or the Unschedulable message.
pub fn schedule(pod: &Value, nodes: &[Value]) -> Result<String, String> {
    let selector = pod["spec"]["nodeSelector"].as_object();
    let tolerations = pod["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
    let tolerates = |t: &Value| {
        tolerations.iter().any(|tol| {
            let key_ok = tol["key"].as_str().is_none_or(|k| k.is_empty() || t["key"] == k);
            let exists = tol["operator"] == "Exists";
            let value_ok = exists || tol["value"].as_str().unwrap_or("") == t["value"].as_str().unwrap_or("");
            let effect_ok = tol["effect"].as_str().is_none_or(|e| e.is_empty() || t["effect"] == e);
            key_ok && value_ok && effect_ok && (exists || tol["key"].is_string())
        })
    };
    let (mut not_ready, mut unschedulable, mut selector_miss, mut taints) = (0, 0, 0, Vec::<String>::new());
    for n in nodes {
        let ready = n["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        let labels = &n["metadata"]["labels"];
        let untolerated = n["spec"]["taints"].as_array().and_then(|ts| {
            ts.iter()
                .find(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")) && !tolerates(t))
                .cloned()
        });
        if !ready {
            not_ready += 1;
        } else if n["spec"]["unschedulable"] == true {
            unschedulable += 1;
        } else if selector.is_some_and(|s| s.iter().any(|(k, v)| &labels[k] != v)) {
            selector_miss += 1;
        } else if let Some(t) = untolerated {
            taints.push(format!("{{{}: {}}}", t["key"].as_str().unwrap_or(""), t["value"].as_str().unwrap_or("")));
        } else {
            return Ok(meta(n, "name").to_string());
        }
    }
    let mut reasons = Vec::new();
    if not_ready > 0 {
        reasons.push(format!("{not_ready} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}"));
    }
    if unschedulable > 0 {
        reasons.push(format!("{unschedulable} node(s) were unschedulable"));
    }
    if selector_miss > 0 {
        reasons.push(format!("{selector_miss} node(s) didn't match Pod's node affinity/selector"));
    }
    taints.sort();
    let mut i = 0;
    while i < taints.len() {
        let same = taints[i..].iter().take_while(|t| **t == taints[i]).count();
        reasons.push(format!("{same} node(s) had untolerated taint {}", taints[i]));
        i += same;
    }
    let n = nodes.len();
    if n == 0 {
        return Err("no nodes available to schedule pods".to_string());
    }
    Err(format!(
        "0/{n} nodes are available: {}. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
        reasons.join(", ")
    ))
}

impl Kubelet {
    /// Starts the kubelet on the store; it stops when `shutdown` turns true. `lifecycle` turns on scheduling and
    /// starting of plain pods; ephemeral containers are always handled.
    pub fn spawn(store: Store, lifecycle: bool, mut shutdown: watch::Receiver<bool>) {
        let k = Arc::new(Kubelet {
            store,
            lifecycle,
            next_ip: AtomicU32::new(10),
            starting: Mutex::default(),
            terminating: Mutex::default(),
        });
        let mut events = k.store.subscribe();
        // Pods that exist already are looked at once.
        for pod in k.store.list(&PODS, None).0 {
            let k = k.clone();
            tokio::spawn(async move { k.on_pod(pod).await });
        }
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    e = events.recv() => match e {
                        Ok(StoreEvent { resource, kind: EventType::Added | EventType::Modified, object, .. }) if resource == &PODS => {
                            let k = k.clone();
                            tokio::spawn(async move { k.on_pod((*object).clone()).await });
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
    }

    fn key(pod: &Value) -> (String, String) {
        (meta(pod, "namespace").to_string(), meta(pod, "name").to_string())
    }

    async fn on_pod(self: Arc<Self>, pod: Value) {
        if pod["metadata"].get("deletionTimestamp").is_some() {
            if self.lifecycle && !managed_elsewhere(&pod) {
                self.terminate(&pod).await;
            }
            return;
        }
        self.ephemeral(&pod).await;
        if !self.lifecycle || managed_elsewhere(&pod) || pod["status"]["phase"].as_str().is_some_and(|p| p != "Pending")
        {
            return;
        }
        if pod["status"].get("containerStatuses").is_some() {
            return;
        }
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        if node.is_empty() {
            self.bind(&pod);
        } else {
            self.start(&pod).await;
        }
    }

    async fn ephemeral(&self, pod: &Value) {
        let Some(list) = pod["spec"]["ephemeralContainers"].as_array() else { return };
        let have: Vec<&str> = pod["status"]["ephemeralContainerStatuses"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
            .unwrap_or_default();
        let new: Vec<Value> =
            list.iter().filter(|c| c["name"].as_str().is_some_and(|n| !have.contains(&n))).cloned().collect();
        if new.is_empty() {
            return;
        }
        let (ns, name) = Self::key(pod);
        let waiting = |c: &Value| {
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "restartCount": 0,
                   "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}})
        };
        let added = self.store.modify(&PODS, Some(&ns), &name, |p| {
            let statuses = p["status"]["ephemeralContainerStatuses"].as_array().cloned().unwrap_or_default();
            let mut statuses: Vec<Value> = statuses;
            for c in &new {
                if !statuses.iter().any(|s| s["name"] == c["name"]) {
                    statuses.push(waiting(c));
                }
            }
            p["status"]["ephemeralContainerStatuses"] = Value::Array(statuses);
            Ok(())
        });
        if added.is_err() {
            return;
        }
        self.store.clock().sleep(EPHEMERAL_START).await;
        let started = self.store.clock().now_rfc3339();
        let names: Vec<Value> = new.iter().map(|c| c["name"].clone()).collect();
        let _ = self.store.modify(&PODS, Some(&ns), &name, |p| {
            if let Some(statuses) = p["status"]["ephemeralContainerStatuses"].as_array_mut() {
                for s in statuses.iter_mut().filter(|s| names.contains(&s["name"])) {
                    s["state"] = json!({"running": {"startedAt": started}});
                    s["containerID"] = json!(format!("containerd://{}", hex64()));
                    s["imageID"] = json!(format!("{}@sha256:{}", s["image"].as_str().unwrap_or(""), hex64()));
                }
            }
            Ok(())
        });
    }

    /// Stops a pod being deleted gracefully and removes it (its containers stop within a simulated second).
    async fn terminate(&self, pod: &Value) {
        let grace = pod["metadata"]["deletionGracePeriodSeconds"].as_u64().unwrap_or(0);
        let uid = meta(pod, "uid").to_string();
        if grace == 0 || !self.terminating.lock().await.insert(uid.clone()) {
            return;
        }
        self.store.clock().sleep(Duration::from_secs(grace.min(1))).await;
        let (ns, name) = Self::key(pod);
        if self.store.get(&PODS, Some(&ns), &name).is_ok_and(|p| meta(&p, "uid") == uid) {
            let _ = self.store.delete(&PODS, Some(&ns), &name, false);
        }
        self.terminating.lock().await.remove(&uid);
    }

    fn bind(&self, pod: &Value) {
        if pod["spec"]["schedulerName"].as_str().is_some_and(|s| s != "default-scheduler") {
            return;
        }
        let (ns, name) = Self::key(pod);
        let nodes = self.store.list(&NODES, None).0;
        let decision = schedule(pod, &nodes);
        let now = self.store.clock().now_rfc3339();
        let _ = self.store.modify(&PODS, Some(&ns), &name, |p| {
            let cond = match &decision {
                Ok(node) => {
                    p["spec"]["nodeName"] = json!(node);
                    json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now})
                }
                Err(msg) => json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                    "lastTransitionTime": now, "reason": "Unschedulable", "message": msg}),
            };
            let mut conds: Vec<Value> = p["status"]["conditions"].as_array().cloned().unwrap_or_default();
            conds.retain(|c| c["type"] != "PodScheduled");
            conds.push(cond);
            p["status"]["conditions"] = Value::Array(conds);
            Ok(())
        });
    }

    async fn start(&self, pod: &Value) {
        let (ns, name) = Self::key(pod);
        let uid = meta(pod, "uid").to_string();
        if !self.starting.lock().await.insert(uid.clone()) {
            return;
        }
        self.store.clock().sleep(POD_START).await;
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        let ip = format!("10.244.{}.{}", (n / 250) % 256, n % 250 + 2);
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
        let host_ip = self.store.get(&NODES, None, &node).ok().and_then(|n| {
            n["status"]["addresses"].as_array()?.iter().find(|a| a["type"] == "InternalIP")?["address"]
                .as_str()
                .map(str::to_string)
        });
        let now = self.store.clock().now_rfc3339();
        let _ = self.store.modify(&PODS, Some(&ns), &name, |p| {
            if p["status"].get("containerStatuses").is_some() || meta(p, "uid") != uid {
                return Ok(());
            }
            let statuses: Vec<Value> = p["spec"]["containers"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            json!({"name": c["name"], "image": c["image"], "ready": true, "restartCount": 0, "started": true,
                                "imageID": format!("{}@sha256:{}", c["image"].as_str().unwrap_or(""), hex64()),
                                "containerID": format!("containerd://{}", hex64()),
                                "state": {"running": {"startedAt": now}}, "lastState": {}})
                        })
                        .collect()
                })
                .unwrap_or_default();
            let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
            let s = &mut p["status"];
            s["phase"] = json!("Running");
            s["podIP"] = json!(ip);
            s["podIPs"] = json!([{"ip": ip}]);
            if let Some(h) = &host_ip {
                s["hostIP"] = json!(h);
                s["hostIPs"] = json!([{"ip": h}]);
            }
            s["startTime"] = json!(now);
            s["containerStatuses"] = Value::Array(statuses);
            s["conditions"] = json!([cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")]);
            Ok(())
        });
        self.starting.lock().await.remove(&uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, ready: bool, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
               "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    #[test]
    fn pods_of_custom_controllers_are_managed_elsewhere() {
        let owned = |api: &str, controller: bool| json!({"metadata": {"ownerReferences": [{"apiVersion": api, "kind": "X", "name": "x", "uid": "u", "controller": controller}]}});
        assert!(managed_elsewhere(&owned("kubevirt.io/v1", true)));
        assert!(!managed_elsewhere(&owned("kubevirt.io/v1", false)));
        assert!(!managed_elsewhere(&owned("apps/v1", true)));
        assert!(!managed_elsewhere(&owned("v1", true)));
        assert!(!managed_elsewhere(&json!({"metadata": {}})));
    }

    #[test]
    fn scheduler_honours_readiness_selector_and_taints() {
        let nodes = [
            node(
                "cp",
                true,
                json!({"role": "cp"}),
                json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
            ),
            node("down", false, json!({}), json!([])),
            node("w1", true, json!({"disk": "hdd"}), json!([])),
            node("w2", true, json!({"disk": "ssd"}), json!([])),
        ];
        let pod = json!({"spec": {"nodeSelector": {"disk": "ssd"}}});
        assert_eq!(schedule(&pod, &nodes).unwrap(), "w2");
        let pod = json!({"spec": {"nodeSelector": {"disk": "nvme"}}});
        let msg = schedule(&pod, &nodes).unwrap_err();
        assert!(msg.starts_with("0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 3 node(s) didn't match Pod's node affinity/selector."), "{msg}");
        let pod = json!({"spec": {"nodeSelector": {"role": "cp"}}});
        assert!(
            schedule(&pod, &nodes)
                .unwrap_err()
                .contains("1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")
        );
        let pod = json!({"spec": {"nodeSelector": {"role": "cp"}, "tolerations": [{"operator": "Exists"}]}});
        assert_eq!(schedule(&pod, &nodes).unwrap(), "cp");
    }
}
