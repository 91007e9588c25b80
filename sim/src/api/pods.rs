//! Pod rules of the API server's pod registry: the container a log or exec request means, whether it runs,
//! what a pod looks like on create, and what the `ephemeralcontainers` subresource may change.

use serde_json::{Value, json};

use super::error::ApiError;
use super::resources::PODS;

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The container a log or exec request addresses: the named one (which must exist in the pod), or the only
/// container. Messages as the real `pod` registry answers.
pub fn container(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let containers = names(pod, "containers");
    match requested.filter(|c| !c.is_empty()) {
        Some(c) => {
            let known = ["containers", "initContainers", "ephemeralContainers"]
                .iter()
                .any(|l| names(pod, l).iter().any(|n| n == c));
            if known {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")))
            }
        }
        None => match containers.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ApiError::bad_request(format!("a container name must be specified for pod {name}"))),
            many => {
                let mut msg =
                    format!("a container name must be specified for pod {name}, choose one of: [{}]", many.join(" "));
                let init = names(pod, "initContainers");
                if !init.is_empty() {
                    msg.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
                }
                Err(ApiError::bad_request(msg))
            }
        },
    }
}

/// The status entry of a container, ephemeral ones included.
pub fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"]
        .iter()
        .filter_map(|l| pod["status"][*l].as_array())
        .flatten()
        .find(|s| s["name"] == container)
}

/// Whether a container runs: its status says running; a pod without any status entry for it counts as running
/// when the pod's phase is Running (objects written by controllers that do not model container statuses).
pub fn is_running(pod: &Value, container: &str) -> bool {
    match container_status(pod, container) {
        Some(s) => s["state"].get("running").is_some(),
        None => pod["status"]["phase"] == "Running",
    }
}

/// The reason a container is waiting, when it is.
pub fn waiting_reason(pod: &Value, container: &str) -> Option<String> {
    container_status(pod, container)
        .and_then(|s| s["state"]["waiting"].as_object())
        .map(|w| w.get("reason").and_then(Value::as_str).unwrap_or("ContainerCreating").to_string())
}

/// The grace period of a pod's deletion (the pod strategy's `CheckGracefulDelete`): `None` (at once) for a pod no
/// node runs or that has finished; else `gracePeriodSeconds` of the DeleteOptions, or the pod's
/// `terminationGracePeriodSeconds`, or 30.
pub fn grace_period(pod: &Value, opts: &Value) -> Option<u64> {
    let unscheduled = pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    let finished = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    if unscheduled || finished {
        return None;
    }
    Some(
        opts["gracePeriodSeconds"]
            .as_u64()
            .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
            .unwrap_or(30),
    )
}

/// What the pod strategy does on create: status starts Pending, and the defaults a client usually relies on.
pub fn prepare_create(pod: &mut Value) {
    pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    let spec = &mut pod["spec"];
    if !spec.is_object() {
        return;
    }
    for (field, default) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("securityContext", json!({})),
        ("enableServiceLinks", json!(true)),
        ("preemptionPolicy", json!("PreemptLowerPriority")),
        ("priority", json!(0)),
    ] {
        if spec.get(field).is_none() {
            spec[field] = default;
        }
    }
    if let Some(cs) = spec["containers"].as_array_mut() {
        for c in cs {
            default_container(c);
        }
    }
}

fn default_container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default();
    let latest = !image.contains(':') || image.ends_with(":latest");
    for (field, default) in [
        ("imagePullPolicy", json!(if latest { "Always" } else { "IfNotPresent" })),
        ("terminationMessagePath", json!("/dev/termination-log")),
        ("terminationMessagePolicy", json!("File")),
        ("resources", json!({})),
    ] {
        if c.get(field).is_none() {
            c[field] = default;
        }
    }
}

/// The pod an `ephemeralcontainers` write stores: the old pod with only `spec.ephemeralContainers` taken from
/// the new one. Existing ephemeral containers may not change or go; new ones need a unique name and an image.
pub fn ephemeral_update(old: &Value, new: &Value) -> Result<Value, ApiError> {
    let name = old["metadata"]["name"].as_str().unwrap_or_default();
    let invalid = |field: &str, msg: String| ApiError::invalid(&PODS, "Pod", name, &[(field, &msg)]);
    let new_list = new["spec"]["ephemeralContainers"].as_array().cloned().unwrap_or_default();
    let old_list = old["spec"]["ephemeralContainers"].as_array().cloned().unwrap_or_default();
    for o in &old_list {
        let oname = o["name"].as_str().unwrap_or_default();
        match new_list.iter().find(|n| n["name"] == o["name"]) {
            None => {
                return Err(invalid(
                    "spec.ephemeralContainers",
                    format!("Forbidden: existing ephemeral containers \"{oname}\" may not be removed"),
                ));
            }
            Some(n) => {
                let mut defaulted = n.clone();
                default_container(&mut defaulted);
                if &defaulted != o {
                    return Err(invalid(
                        "spec.ephemeralContainers",
                        format!("Forbidden: existing ephemeral containers \"{oname}\" may not be changed"),
                    ));
                }
            }
        }
    }
    let mut taken: Vec<String> = names(old, "containers").into_iter().chain(names(old, "initContainers")).collect();
    let mut list = Vec::with_capacity(new_list.len());
    for (i, c) in new_list.into_iter().enumerate() {
        let cname = c["name"].as_str().unwrap_or_default().to_string();
        let field = format!("spec.ephemeralContainers[{i}]");
        if cname.is_empty() {
            return Err(invalid(&format!("{field}.name"), "Required value".into()));
        }
        if taken.contains(&cname) {
            return Err(invalid(&format!("{field}.name"), format!("Duplicate value: \"{cname}\"")));
        }
        taken.push(cname);
        let existing = old_list.iter().any(|o| o["name"] == c["name"]);
        if !existing && c["image"].as_str().is_none_or(str::is_empty) {
            return Err(invalid(&format!("{field}.image"), "Required value".into()));
        }
        let mut c = c;
        default_container(&mut c);
        list.push(c);
    }
    let mut out = old.clone();
    out["spec"]["ephemeralContainers"] = Value::Array(list);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: &[&str]) -> Value {
        let cs: Vec<Value> = containers.iter().map(|n| json!({"name": n, "image": "img:1"})).collect();
        json!({"metadata": {"name": "p"}, "spec": {"containers": cs}, "status": {"phase": "Running"}})
    }

    #[test]
    fn grace_periods_follow_the_pod_strategy() {
        let mut p = pod(&["a"]);
        assert_eq!(grace_period(&p, &json!({})), None, "not scheduled");
        p["spec"]["nodeName"] = json!("n1");
        assert_eq!(grace_period(&p, &json!({})), Some(30));
        p["spec"]["terminationGracePeriodSeconds"] = json!(5);
        assert_eq!(grace_period(&p, &json!({})), Some(5));
        assert_eq!(grace_period(&p, &json!({"gracePeriodSeconds": 0})), Some(0));
        p["status"]["phase"] = json!("Succeeded");
        assert_eq!(grace_period(&p, &json!({})), None);
    }

    #[test]
    fn container_choice_messages_are_the_registry_ones() {
        assert_eq!(container(&pod(&["a"]), None).unwrap(), "a");
        let e = container(&pod(&["a", "b"]), None).unwrap_err();
        assert_eq!(e.message, "a container name must be specified for pod p, choose one of: [a b]");
        let e = container(&pod(&["a"]), Some("z")).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (400, "container z is not valid for pod p"));
    }

    #[test]
    fn ephemeral_containers_can_be_added_but_not_changed_or_removed() {
        let old = pod(&["a"]);
        let mut new = old.clone();
        new["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "busybox:1.36"}]);
        new["spec"]["containers"] = json!([]);
        let added = ephemeral_update(&old, &new).unwrap();
        assert_eq!(added["spec"]["containers"], old["spec"]["containers"], "other spec changes are ignored");
        assert_eq!(added["spec"]["ephemeralContainers"][0]["imagePullPolicy"], "IfNotPresent");
        let mut changed = added.clone();
        changed["spec"]["ephemeralContainers"][0]["image"] = json!("busybox:2");
        let e = ephemeral_update(&added, &changed).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Pod \"p\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be changed"
        );
        let mut removed = added.clone();
        removed["spec"]["ephemeralContainers"] = json!([]);
        assert!(ephemeral_update(&added, &removed).unwrap_err().message.contains("may not be removed"));
        let mut dup = added.clone();
        dup["spec"]["ephemeralContainers"] =
            json!([added["spec"]["ephemeralContainers"][0].clone(), {"name": "a", "image": "x"}]);
        assert!(ephemeral_update(&added, &dup).unwrap_err().message.contains("Duplicate value: \"a\""));
    }
}
