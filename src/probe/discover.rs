//! What the probe reaches: the VM's addresses and the external addresses of the Services in front of it, plus the
//! user's `--probe-target` / `--probe-http`, validated and deduplicated.
//!
//! - every address of the VMI's `status.interfaces[]` (`ipAddress` and `ipAddresses`), per network name; IPv6
//!   link-local addresses (`fe80::/10`) are skipped: they need a zone and are not reachable from another pod;
//! - the external addresses (`status.loadBalancer.ingress[].ip` and `spec.externalIPs`) of the Services in the VM's
//!   namespace whose selector matches the labels of one of its virt-launcher pods (an empty selector selects
//!   nothing, as for Endpoints);
//! - `--probe-target` (an address or host name, pinged) and `--probe-http` (an http(s) URL).
//!
//! The first occurrence of an address wins (an interface before a Service before a flag), so each is probed once.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service};

use super::target::{Host, HttpUrl, TargetError};
use crate::kubevirt::VirtualMachineInstance;
use crate::record::PlannedTarget;

/// How a target is probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// ICMP echo (ping).
    Icmp(Host),
    /// HTTP requests (curl).
    Http(HttpUrl),
}

/// One target: what the record shows, and how it is probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The record's view (target, method, source, via).
    pub planned: PlannedTarget,
    /// The validated address or URL.
    pub method: Method,
}

impl Target {
    fn icmp(host: Host, source: &str, via: Option<String>) -> Self {
        let planned = PlannedTarget { target: host.to_string(), method: "icmp".into(), source: source.into(), via };
        Target { planned, method: Method::Icmp(host) }
    }

    fn http(url: HttpUrl) -> Self {
        let planned =
            PlannedTarget { target: url.url.clone(), method: "http".into(), source: "flag".into(), via: None };
        Target { planned, method: Method::Http(url) }
    }
}

/// Whether an address is worth pinging from another pod (not link-local, loopback or unspecified).
fn routable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_loopback() || a.is_unspecified() || a.is_link_local()),
        IpAddr::V6(a) => !(a.is_loopback() || a.is_unspecified() || (a.segments()[0] & 0xffc0) == 0xfe80),
    }
}

/// The VMI's interface addresses, per network name, in interface order.
pub fn interface_addresses(vmi: &VirtualMachineInstance) -> Vec<(IpAddr, String)> {
    let Some(status) = &vmi.status else { return Vec::new() };
    let mut out = Vec::new();
    for iface in &status.interfaces {
        let all = iface.ip_address.iter().chain(iface.ip_addresses.iter());
        for ip in all.filter_map(|a| a.parse::<IpAddr>().ok()).filter(routable) {
            out.push((ip, iface.name.clone()));
        }
    }
    out
}

/// Whether a Service's selector selects a pod with these labels.
fn selects(service: &Service, labels: &BTreeMap<String, String>) -> bool {
    let selector = service.spec.as_ref().and_then(|s| s.selector.as_ref());
    selector.is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// External addresses of the Services selecting one of `pods`, each with the Service's `namespace/name`.
pub fn service_addresses(services: &[Service], pods: &[Pod]) -> Vec<(IpAddr, String)> {
    let mut out = Vec::new();
    for svc in services {
        let selected = pods.iter().any(|p| p.metadata.labels.as_ref().is_some_and(|l| selects(svc, l)));
        if !selected {
            continue;
        }
        let name = format!(
            "{}/{}",
            svc.metadata.namespace.as_deref().unwrap_or_default(),
            svc.metadata.name.as_deref().unwrap_or_default()
        );
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_deref());
        let external =
            svc.spec.as_ref().and_then(|s| s.external_ips.as_ref()).into_iter().flatten().map(String::as_str);
        for ip in ingress.chain(external).filter_map(|a| a.parse::<IpAddr>().ok()).filter(routable) {
            out.push((ip, name.clone()));
        }
    }
    out
}

/// Every target, deduplicated: interfaces, then Services, then `--probe-target` hosts, then `--probe-http` URLs.
/// A flag value that does not validate is an error naming it.
pub fn discover(
    vmi: &VirtualMachineInstance,
    launcher_pods: &[Pod],
    services: &[Service],
    probe_targets: &[String],
    probe_http: &[String],
) -> Result<Vec<Target>, TargetError> {
    let mut out: Vec<Target> = Vec::new();
    let mut push = |t: Target| {
        if !out.iter().any(|o| o.planned.target == t.planned.target && o.planned.method == t.planned.method) {
            out.push(t);
        }
    };
    for (ip, network) in interface_addresses(vmi) {
        push(Target::icmp(host_of(ip), "interface", Some(network)));
    }
    for (ip, service) in service_addresses(services, launcher_pods) {
        push(Target::icmp(host_of(ip), "service", Some(service)));
    }
    for value in probe_targets {
        push(Target::icmp(value.parse::<Host>()?, "flag", None));
    }
    for value in probe_http {
        push(Target::http(value.parse::<HttpUrl>()?));
    }
    Ok(out)
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(a) => Host::Ipv4(a),
        IpAddr::V6(a) => Host::Ipv6(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/testdata/kubevirt/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn seed() -> (VirtualMachineInstance, Vec<Pod>, Vec<Service>) {
        (fixture("vmi-running.json"), vec![fixture("virt-launcher-pod.json")], vec![fixture("service-lb.json")])
    }

    fn summary(targets: &[Target]) -> Vec<(String, String, String, Option<String>)> {
        targets
            .iter()
            .map(|t| {
                let p = &t.planned;
                (p.target.clone(), p.method.clone(), p.source.clone(), p.via.clone())
            })
            .collect()
    }

    #[test]
    fn the_seed_vm_has_three_addresses() {
        let (vmi, pods, services) = seed();
        let targets = discover(&vmi, &pods, &services, &[], &[]).unwrap();
        let s = |t: &str, src: &str, via: &str| (t.to_string(), "icmp".to_string(), src.to_string(), Some(via.into()));
        assert_eq!(
            summary(&targets),
            [
                s("10.244.0.57", "interface", "default"),
                s("192.168.1.150", "interface", "lan"),
                s("192.168.50.101", "service", "tenant-root/vm-instance-haos"),
            ]
        );
    }

    #[test]
    fn flags_are_added_validated_and_deduplicated() {
        let (vmi, pods, services) = seed();
        let targets = discover(
            &vmi,
            &pods,
            &services,
            &["192.168.1.150".into(), "10.0.0.9".into()],
            &["http://192.168.50.101:8123/api/".into()],
        )
        .unwrap();
        let names: Vec<_> = targets.iter().map(|t| (t.planned.target.as_str(), t.planned.source.as_str())).collect();
        assert_eq!(
            names,
            [
                ("10.244.0.57", "interface"),
                ("192.168.1.150", "interface"),
                ("192.168.50.101", "service"),
                ("10.0.0.9", "flag"),
                ("http://192.168.50.101:8123/api/", "flag"),
            ]
        );
        assert!(matches!(targets[4].method, Method::Http(_)));
        let err = discover(&vmi, &pods, &services, &["1.2.3.4; rm -rf /".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("rm -rf"), "{err}");
        assert!(discover(&vmi, &pods, &services, &[], &["ftp://x/".into()]).is_err());
    }

    #[test]
    fn services_must_select_a_launcher_pod() {
        let (vmi, mut pods, mut services) = seed();
        let other: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "other", "namespace": "tenant-root"},
            "spec": {"selector": {"app": "other"}, "externalIPs": ["192.168.50.200"]}
        }))
        .unwrap();
        let empty: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "empty", "namespace": "tenant-root"},
            "spec": {"selector": {}, "externalIPs": ["192.168.50.201"]}
        }))
        .unwrap();
        services.extend([other, empty]);
        let targets = discover(&vmi, &pods, &services, &[], &[]).unwrap();
        assert_eq!(targets.len(), 3, "{:?}", summary(&targets));
        pods.clear();
        let targets = discover(&vmi, &pods, &services, &[], &[]).unwrap();
        assert_eq!(targets.len(), 2, "no launcher pod, no Service: {:?}", summary(&targets));
    }

    #[test]
    fn link_local_and_garbage_addresses_are_skipped() {
        let vmi: VirtualMachineInstance = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "v"},
            "spec": {"domain": {"devices": {}}},
            "status": {"interfaces": [
                {"name": "default", "ipAddress": "fe80::1", "ipAddresses": ["fe80::1", "fd00::5", "not-an-ip", "127.0.0.1"]}
            ]}
        }))
        .unwrap();
        let targets = discover(&vmi, &[], &[], &[], &[]).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].planned.target, "fd00::5");
    }
}
