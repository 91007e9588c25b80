//! The network model: which addresses answer, when, and with which round-trip time.
//!
//! Addresses come from the store, as a real cluster's data plane would have them:
//! - a VM's addresses: every `status.interfaces[].ipAddress`/`ipAddresses` of its VMI (pod network and Multus), the
//!   IPs of the switchovers' `old_ip`/`new_ip`, and the `clusterIP(s)`, `externalIPs` and load-balancer ingress IPs
//!   of every Service whose selector matches one of its virt-launcher pods. Service IPs answer as the VM behind them
//!   does (as with a service proxy that answers ICMP for its virtual IPs, e.g. IPVS or Cilium);
//! - other Running pods' IPs, node addresses and loopback always answer;
//! - a virt-launcher pod's IP that is not (or no longer) its VMI's address does not answer (a target pod before
//!   the switchover, a source pod after an IP change), and neither does any other address.
//!
//! A VM's addresses are unreachable at each of its switchovers ([`SwitchoverEvent`]) for the event's `outage_ms`
//! of that IP (key `*`: every other IP), starting at the switchover instant `at`. When the pod-network IP changes
//! (`old_ip` ≠ `new_ip`), the old IP stops answering for good at `at` and the new one answers from `at + outage`
//! on (never before the switchover). The round-trip time is 0.2–1.5 ms: a base per IP plus a jitter per instant,
//! both derived from a hash (deterministic).
//!
//! [`reachable`] is the pure rule; [`NetModel`] binds it to a store and a source of switchovers.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::api::Store;
use crate::api::resources::{NODES, PODS, SERVICES, VMIS};
use crate::kubevirt::SwitchoverEvent;

/// Microseconds since the Unix epoch, simulated time.
pub type Micros = i64;

/// Who answers for an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// An address of a VM (its VMI's interfaces, its Services, its switchovers' IPs).
    Vm { namespace: String, vmi: String },
    /// A pod, node or loopback address: it always answers.
    Always,
    /// Nobody: it never answers.
    Nobody,
}

/// Smallest round-trip time, µs.
pub const RTT_MIN_US: u32 = 200;
/// Largest round-trip time, µs.
pub const RTT_MAX_US: u32 = 1500;

/// The canonical text of an IP address (`::1` for `0:0::1`), or the input when it is not an IP.
pub fn canonical(ip: &str) -> String {
    ip.parse::<IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| ip.to_string())
}

fn same_ip(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

/// A 64-bit mix (SplitMix64's finaliser) for the deterministic jitter.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// The round-trip time to `ip` of a request sent at `at`: 0.2–0.6 ms per IP plus 0–0.9 ms of jitter.
pub fn rtt_us(ip: &str, at: Micros) -> u32 {
    let h = hash_str(&canonical(ip));
    let base = RTT_MIN_US + (mix(h) % 401) as u32;
    let jitter = (mix(h ^ at as u64) % 901) as u32;
    (base + jitter).min(RTT_MAX_US)
}

/// The outage of `ip` at switchover `ev`, µs: its own entry, else `*`, else none.
pub fn outage_us(ev: &SwitchoverEvent, ip: &str) -> Micros {
    let ms = ev
        .outage_ms
        .iter()
        .find(|(k, _)| k.as_str() != "*" && same_ip(k, ip))
        .map(|(_, v)| *v)
        .or_else(|| ev.outage_ms.get("*").copied())
        .unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX / 2).saturating_mul(1000)
}

fn changed(ev: &SwitchoverEvent) -> Option<(&str, &str)> {
    match (ev.old_ip.as_deref(), ev.new_ip.as_deref()) {
        (Some(old), Some(new)) if !same_ip(old, new) => Some((old, new)),
        _ => None,
    }
}

/// Whether `ip` of a VM answers a request sent at `at`, given the VM's switchovers (any order): the round-trip time
/// when it does.
pub fn vm_reachable(ip: &str, events: &[SwitchoverEvent], at: Micros) -> Option<u32> {
    let mut events: Vec<&SwitchoverEvent> = events.iter().collect();
    events.sort_by_key(|e| e.at);
    // An address that first appears as the new IP of a change did not answer before that switchover.
    let first_mention = events.iter().find_map(|e| {
        let (old, new) = changed(e)?;
        if same_ip(old, ip) {
            Some(true)
        } else if same_ip(new, ip) {
            Some(false)
        } else {
            None
        }
    });
    let mut alive = first_mention.unwrap_or(true);
    for e in events.iter().take_while(|e| e.at.as_microsecond() <= at) {
        if let Some((old, new)) = changed(e) {
            if same_ip(old, ip) {
                alive = false;
            } else if same_ip(new, ip) {
                alive = true;
            }
        }
        let start = e.at.as_microsecond();
        if alive && at < start.saturating_add(outage_us(e, ip)) {
            return None;
        }
    }
    alive.then(|| rtt_us(ip, at))
}

/// Whether `ip`, owned by `owner`, answers a request sent at `at` (the VM's switchovers among `events`).
pub fn reachable(ip: &str, owner: &Owner, events: &[SwitchoverEvent], at: Micros) -> Option<u32> {
    match owner {
        Owner::Always => Some(rtt_us(ip, at)),
        Owner::Nobody => None,
        Owner::Vm { namespace, vmi } => {
            let mine: Vec<SwitchoverEvent> =
                events.iter().filter(|e| &e.namespace == namespace && &e.vmi == vmi).cloned().collect();
            vm_reachable(ip, &mine, at)
        }
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// Every IP of a VMI's interfaces.
pub fn vmi_ips(vmi: &Value) -> Vec<String> {
    let mut ips = Vec::new();
    for iface in vmi.pointer("/status/interfaces").and_then(Value::as_array).into_iter().flatten() {
        ips.extend(iface["ipAddress"].as_str().map(str::to_string));
        ips.extend(strings(iface.get("ipAddresses")).map(str::to_string));
    }
    ips
}

/// Every IP of a Service: cluster IPs, external IPs, load-balancer ingress IPs.
pub fn service_ips(svc: &Value) -> Vec<String> {
    let mut ips: Vec<String> = Vec::new();
    ips.extend(svc.pointer("/spec/clusterIP").and_then(Value::as_str).map(str::to_string));
    ips.extend(strings(svc.pointer("/spec/clusterIPs")).map(str::to_string));
    ips.extend(strings(svc.pointer("/spec/externalIPs")).map(str::to_string));
    for ing in svc.pointer("/status/loadBalancer/ingress").and_then(Value::as_array).into_iter().flatten() {
        ips.extend(ing["ip"].as_str().map(str::to_string));
    }
    ips.retain(|ip| !ip.is_empty() && ip != "None");
    ips
}

fn pod_ips(pod: &Value) -> Vec<String> {
    let mut ips: Vec<String> =
        pod.pointer("/status/podIP").and_then(Value::as_str).map(str::to_string).into_iter().collect();
    for p in pod.pointer("/status/podIPs").and_then(Value::as_array).into_iter().flatten() {
        ips.extend(p["ip"].as_str().map(str::to_string));
    }
    ips
}

fn selects(selector: &Value, labels: &Value) -> bool {
    selector.as_object().is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

fn is_launcher(pod: &Value) -> bool {
    str_at(pod, "/metadata/labels/kubevirt.io") == "virt-launcher"
}

/// Who answers for `ip`, from the store's objects and the switchovers so far.
pub fn owner_of(store: &Store, events: &[SwitchoverEvent], ip: &str) -> Owner {
    let ip = canonical(ip);
    let vm = |ns: &str, vmi: &str| Owner::Vm { namespace: ns.to_string(), vmi: vmi.to_string() };
    if let Ok(addr) = ip.parse::<IpAddr>()
        && addr.is_loopback()
    {
        return Owner::Always;
    }
    for e in events {
        if [&e.old_ip, &e.new_ip].into_iter().flatten().any(|a| same_ip(a, &ip)) {
            return vm(&e.namespace, &e.vmi);
        }
    }
    let vmis = store.list(&VMIS, None).0;
    if let Some(v) = vmis.iter().find(|v| vmi_ips(v).iter().any(|a| same_ip(a, &ip))) {
        return vm(str_at(v, "/metadata/namespace"), str_at(v, "/metadata/name"));
    }
    let pods = store.list(&PODS, None).0;
    for svc in store.list(&SERVICES, None).0 {
        if !service_ips(&svc).iter().any(|a| same_ip(a, &ip)) {
            continue;
        }
        let ns = str_at(&svc, "/metadata/namespace");
        let selected = pods.iter().filter(|p| {
            str_at(p, "/metadata/namespace") == ns && selects(&svc["spec"]["selector"], &p["metadata"]["labels"])
        });
        let mut answers = false;
        for p in selected {
            if is_launcher(p) {
                let uid = str_at(p, "/metadata/labels/kubevirt.io~1created-by");
                if let Some(v) = vmis.iter().find(|v| str_at(v, "/metadata/uid") == uid) {
                    return vm(ns, str_at(v, "/metadata/name"));
                }
            } else {
                answers |= str_at(p, "/status/phase") == "Running";
            }
        }
        return if answers { Owner::Always } else { Owner::Nobody };
    }
    if let Some(p) = pods.iter().find(|p| pod_ips(p).iter().any(|a| same_ip(a, &ip))) {
        let running = str_at(p, "/status/phase") == "Running" && p["metadata"].get("deletionTimestamp").is_none();
        return if running && !is_launcher(p) { Owner::Always } else { Owner::Nobody };
    }
    let nodes = store.list(&NODES, None).0;
    let node_ip = |n: &Value| {
        n.pointer("/status/addresses")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|a| a["address"].as_str().is_some_and(|x| same_ip(x, &ip))))
    };
    if nodes.iter().any(node_ip) {
        return Owner::Always;
    }
    Owner::Nobody
}

/// What a name resolves to inside the cluster: an IP as is, `localhost`, and Service names
/// (`svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`) to their cluster IP.
pub fn resolve(store: &Store, name: &str) -> Option<String> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(a) = bare.parse::<IpAddr>() {
        return Some(a.to_string());
    }
    if name == "localhost" {
        return Some("127.0.0.1".into());
    }
    let trimmed = name.trim_end_matches('.');
    let trimmed = trimmed.strip_suffix(".cluster.local").unwrap_or(trimmed);
    let trimmed = trimmed.strip_suffix(".svc").unwrap_or(trimmed);
    let (svc, ns) = trimmed.split_once('.')?;
    if ns.contains('.') {
        return None;
    }
    let svc = store.get(&SERVICES, Some(ns), svc).ok()?;
    service_ips(&svc).into_iter().next()
}

/// Where the switchovers come from (`KubeVirtSim::switchovers`, or a test's list).
pub type SwitchoverSource = Arc<dyn Fn() -> Vec<SwitchoverEvent> + Send + Sync>;

/// The network model bound to a store and a source of switchovers.
#[derive(Clone)]
pub struct NetModel {
    store: Store,
    switchovers: SwitchoverSource,
}

impl NetModel {
    pub fn new(store: Store, switchovers: SwitchoverSource) -> Self {
        Self { store, switchovers }
    }

    /// A model without switchovers (no migrations ever disturb it).
    pub fn quiet(store: Store) -> Self {
        Self::new(store, Arc::new(Vec::new))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The switchovers so far.
    pub fn switchovers(&self) -> Vec<SwitchoverEvent> {
        (self.switchovers)()
    }

    /// Who answers for `ip` now.
    pub fn owner(&self, ip: &str) -> Owner {
        owner_of(&self.store, &self.switchovers(), ip)
    }

    /// Whether `ip` (owned by `owner`) answers a request sent at `at`, and its round-trip time.
    pub fn reachable(&self, ip: &str, owner: &Owner, at: Micros) -> Option<u32> {
        reachable(ip, owner, &self.switchovers(), at)
    }

    /// A name or IP resolved as the cluster's DNS would.
    pub fn resolve(&self, name: &str) -> Option<String> {
        resolve(&self.store, name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::clock::SimClock;

    const T: Micros = 1_795_789_861_000_000;

    fn ev(at: Micros, old: &str, new: &str, outage: &[(&str, u64)]) -> SwitchoverEvent {
        SwitchoverEvent {
            namespace: "ns".into(),
            vmi: "vm".into(),
            vmim: "m".into(),
            migration_uid: "u".into(),
            source_node: "a".into(),
            target_node: "b".into(),
            source_pod: "p1".into(),
            target_pod: "p2".into(),
            old_ip: Some(old.into()),
            new_ip: Some(new.into()),
            at: jiff::Timestamp::from_microsecond(at).unwrap(),
            guest_pause_ms: 50,
            outage_ms: outage.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn outage_window_starts_at_the_switchover_and_lasts_outage_ms() {
        let e = [ev(T, "10.0.0.5", "10.0.0.5", &[("*", 180)])];
        assert!(vm_reachable("10.0.0.5", &e, T - 1).is_some());
        assert!(vm_reachable("10.0.0.5", &e, T).is_none());
        assert!(vm_reachable("10.0.0.5", &e, T + 179_999).is_none());
        assert!(vm_reachable("10.0.0.5", &e, T + 180_000).is_some());
        // Other addresses of the VM (Multus, Services) follow `*` too.
        assert!(vm_reachable("192.168.1.150", &e, T + 100_000).is_none());
    }

    #[test]
    fn per_ip_outage_overrides_the_default_and_zero_means_none() {
        let e = [ev(T, "10.0.0.5", "10.0.0.5", &[("10.0.0.5", 0), ("192.168.1.150", 2500), ("*", 20)])];
        assert!(vm_reachable("10.0.0.5", &e, T).is_some());
        assert!(vm_reachable("192.168.1.150", &e, T + 2_499_999).is_none());
        assert!(vm_reachable("192.168.1.150", &e, T + 2_500_000).is_some());
        assert!(vm_reachable("192.168.50.101", &e, T + 19_999).is_none());
        assert!(vm_reachable("192.168.50.101", &e, T + 20_000).is_some());
        let none = [ev(T, "10.0.0.5", "10.0.0.5", &[])];
        assert!(vm_reachable("10.0.0.5", &none, T).is_some());
    }

    #[test]
    fn ip_change_retires_the_old_ip_and_brings_the_new_one_after_the_outage() {
        let e = [ev(T, "10.0.0.5", "10.0.1.9", &[("*", 730)])];
        assert!(vm_reachable("10.0.0.5", &e, T - 1).is_some());
        assert!(vm_reachable("10.0.0.5", &e, T + 10_000_000).is_none());
        assert!(vm_reachable("10.0.1.9", &e, T - 1_000_000).is_none(), "the new IP is not the VM's before");
        assert!(vm_reachable("10.0.1.9", &e, T + 729_999).is_none());
        assert!(vm_reachable("10.0.1.9", &e, T + 730_000).is_some());
        // A second move changes it again: the once-new IP goes, the service IP only blinks.
        let two = [e[0].clone(), ev(T + 60_000_000, "10.0.1.9", "10.0.2.3", &[("*", 100)])];
        assert!(vm_reachable("10.0.1.9", &two, T + 61_000_000).is_none());
        assert!(vm_reachable("10.0.2.3", &two, T + 61_000_000).is_some());
        assert!(vm_reachable("192.168.50.101", &two, T + 60_050_000).is_none());
        assert!(vm_reachable("192.168.50.101", &two, T + 60_100_000).is_some());
    }

    #[test]
    fn rtt_is_deterministic_and_bounded() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let r = rtt_us("10.244.0.57", T + i * 20_000);
            assert!((RTT_MIN_US..=RTT_MAX_US).contains(&r), "{r}");
            assert_eq!(r, rtt_us("10.244.0.57", T + i * 20_000));
            seen.insert(r);
        }
        assert!(seen.len() > 100, "jitter varies: {}", seen.len());
    }

    #[test]
    fn owners_come_from_vmis_services_pods_and_nodes() {
        let store = Store::new(SimClock::new(1.0));
        store.create(&crate::api::resources::NAMESPACES, None, json!({"metadata": {"name": "ns"}}), false).unwrap();
        let pod = |name: &str, ip: &str, labels: Value| {
            json!({"metadata": {"name": name, "namespace": "ns", "labels": labels},
                   "spec": {"containers": [{"name": "c", "image": "x"}]},
                   "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
        };
        let vmi = store
            .create(
                &VMIS,
                Some("ns"),
                json!({"metadata": {"name": "vm"}, "status": {"interfaces": [
                    {"name": "default", "ipAddress": "10.0.0.5", "ipAddresses": ["10.0.0.5", "fd00::5"]},
                    {"name": "lan", "ipAddress": "192.168.1.150"}]}}),
                false,
            )
            .unwrap();
        let uid = str_at(&vmi, "/metadata/uid").to_string();
        for p in [
            pod(
                "virt-launcher-vm-abcde",
                "10.0.0.5",
                json!({"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": uid, "vm.kubevirt.io/name": "vm"}),
            ),
            pod(
                "virt-launcher-vm-fghij",
                "10.0.7.7",
                json!({"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": uid, "vm.kubevirt.io/name": "vm"}),
            ),
            pod("web", "10.0.0.9", json!({"app": "web"})),
        ] {
            store.create(&PODS, Some("ns"), p, false).unwrap();
        }
        let svc = |name: &str, sel: Value, ip: &str, lb: &str| {
            json!({"metadata": {"name": name}, "spec": {"selector": sel, "clusterIP": ip, "clusterIPs": [ip]},
                   "status": {"loadBalancer": {"ingress": [{"ip": lb}]}}})
        };
        store
            .create(
                &SERVICES,
                Some("ns"),
                svc("vm", json!({"vm.kubevirt.io/name": "vm"}), "10.96.0.10", "192.168.50.101"),
                false,
            )
            .unwrap();
        store
            .create(&SERVICES, Some("ns"), svc("web", json!({"app": "web"}), "10.96.0.11", "192.168.50.102"), false)
            .unwrap();
        store
            .create(&SERVICES, Some("ns"), svc("void", json!({"app": "none"}), "10.96.0.12", "192.168.50.103"), false)
            .unwrap();
        store
            .create(&NODES, None, json!({"metadata": {"name": "n1"}, "status": {"addresses": [{"type": "InternalIP", "address": "172.16.0.1"}]}}), false)
            .unwrap();
        let vm = Owner::Vm { namespace: "ns".into(), vmi: "vm".into() };
        for ip in ["10.0.0.5", "fd00:0::5", "192.168.1.150", "10.96.0.10", "192.168.50.101"] {
            assert_eq!(owner_of(&store, &[], ip), vm, "{ip}");
        }
        for ip in ["10.0.0.9", "10.96.0.11", "192.168.50.102", "172.16.0.1", "127.0.0.1", "::1"] {
            assert_eq!(owner_of(&store, &[], ip), Owner::Always, "{ip}");
        }
        // A launcher pod that is not the VMI's address (a target pod before the switchover), a Service without
        // endpoints, an address nobody has.
        for ip in ["10.0.7.7", "10.96.0.12", "10.9.9.9"] {
            assert_eq!(owner_of(&store, &[], ip), Owner::Nobody, "{ip}");
        }
        // Once a switchover names it, the target's IP is the VM's.
        let e = ev(T, "10.0.0.5", "10.0.7.7", &[("*", 100)]);
        assert_eq!(owner_of(&store, std::slice::from_ref(&e), "10.0.7.7"), vm);
        assert_eq!(resolve(&store, "vm.ns.svc.cluster.local").as_deref(), Some("10.96.0.10"));
        assert_eq!(resolve(&store, "web.ns").as_deref(), Some("10.96.0.11"));
        assert_eq!(resolve(&store, "[fd00::5]").as_deref(), Some("fd00::5"));
        assert_eq!(resolve(&store, "nothing.ns.svc"), None);
        assert_eq!(resolve(&store, "example.com"), None);
    }

    #[test]
    fn reachable_dispatches_on_the_owner() {
        let e = [ev(T, "10.0.0.5", "10.0.0.5", &[("*", 180)])];
        let vm = Owner::Vm { namespace: "ns".into(), vmi: "vm".into() };
        let other = Owner::Vm { namespace: "ns".into(), vmi: "other".into() };
        assert!(reachable("10.0.0.5", &vm, &e, T + 1000).is_none());
        assert!(reachable("10.0.0.6", &other, &e, T + 1000).is_some(), "another VM's switchover does not matter");
        assert!(reachable("10.0.0.9", &Owner::Always, &e, T).is_some());
        assert!(reachable("10.0.0.9", &Owner::Nobody, &[], T).is_none());
    }
}
