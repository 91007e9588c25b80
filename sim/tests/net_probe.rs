//! The emulated probe tools against the network model: accuracy of the measured outage, missing tools, BusyBox,
//! IP changes, unknown targets, processes stopping with their client, the plugin's own scripts; and one ping over
//! the sim's websocket exec during a real migration of the haos VM.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::hooks::{Admission, AdmissionRequest, ExecHandler, ExecOutput, ExecRequest, Operation};
use vmmigrate_sim::api::resources::{NAMESPACES, PODS, VMIMS, VMIS};
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::{KubeVirtAdmission, SwitchoverEvent};
use vmmigrate_sim::net::{NetExec, NetModel};
use vmmigrate_sim::scenario::{ImageTools, Scenario};
use vmmigrate_sim::{ClusterOptions, ClusterSim};

const VM_IP: &str = "10.244.0.57";

/// A store with one VMI at `VM_IP`, and the switchover list the model reads.
fn cluster(speed: f64) -> (Store, Arc<Mutex<Vec<SwitchoverEvent>>>, NetExec) {
    let store = Store::new(SimClock::new(speed));
    store.create(&NAMESPACES, None, json!({"metadata": {"name": "ns"}}), false).unwrap();
    store
        .create(
            &VMIS,
            Some("ns"),
            json!({"metadata": {"name": "vm"}, "status": {"interfaces": [{"name": "default", "ipAddress": VM_IP}]}}),
            false,
        )
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let source = events.clone();
    let model = NetModel::new(store.clone(), Arc::new(move || source.lock().unwrap().clone()));
    let images = BTreeMap::from([
        ("nicolaka/netshoot:v0.14".to_string(), ImageTools::default()),
        ("busybox:1.36".to_string(), ImageTools { missing_tools: vec![], ping_variant: Some("busybox".into()) }),
        (
            "alpine:3.22".to_string(),
            ImageTools { missing_tools: vec!["ping".into(), "curl".into()], ping_variant: None },
        ),
    ]);
    (store, events, NetExec::new(model, images))
}

fn switchover(at: jiff::Timestamp, old: &str, new: &str, outage_ms: u64) -> SwitchoverEvent {
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
        at,
        guest_pause_ms: 40,
        outage_ms: BTreeMap::from([("*".to_string(), outage_ms)]),
    }
}

/// An exec in a pod (created on first use, one per image) whose container runs `image`.
fn request(store: &Store, image: &str, command: &[&str]) -> ExecRequest {
    let name: String = image.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let pod = json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "probe", "image": image}]}});
    let _ = store.create(&PODS, Some("ns"), pod, false);
    ExecRequest {
        namespace: "ns".into(),
        pod: store.get(&PODS, Some("ns"), &name).unwrap(),
        container: "probe".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        tty: false,
    }
}

/// Everything a process writes until it ends: stdout, stderr, and its last message.
async fn drain(mut rx: mpsc::Receiver<ExecOutput>) -> (String, String, Option<ExecOutput>) {
    let (mut out, mut err) = (String::new(), String::new());
    while let Some(o) = rx.recv().await {
        match o {
            ExecOutput::Stdout(b) => out.push_str(&String::from_utf8_lossy(&b)),
            ExecOutput::Stderr(b) => err.push_str(&String::from_utf8_lossy(&b)),
            end => return (out, err, Some(end)),
        }
    }
    (out, err, None)
}

/// The `-D` receive times of the replies, µs.
fn reply_times(out: &str) -> Vec<i64> {
    out.lines()
        .filter(|l| l.contains(" 64 bytes from "))
        .filter_map(|l| l.strip_prefix('[')?.split_once(']').map(|(t, _)| t.to_string()))
        .map(|t| {
            let (s, us) = t.split_once('.').unwrap();
            assert_eq!(us.len(), 6, "µs precision: {t}");
            s.parse::<i64>().unwrap() * 1_000_000 + us.parse::<i64>().unwrap()
        })
        .collect()
}

fn largest_gap(times: &[i64]) -> (i64, i64) {
    times.windows(2).map(|w| (w[1] - w[0], w[0])).max().unwrap()
}

/// Bounded only so that a broken process fails the test instead of hanging it.
async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition never met");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_downtime_is_within_one_interval_of_the_injected_outage() {
    let (store, events, exec) = cluster(20.0);
    let interval_us = 20_000;
    // One VM per run would need one VMI each; the outages are injected one after the other on the same VM
    // instead, 6 s apart, and one ping covers each.
    let start = store.clock().now();
    let outages = [0u64, 20, 180, 730, 2500];
    for (i, ms) in outages.iter().enumerate() {
        let at = start + jiff::SignedDuration::from_millis(1500 + 6000 * i as i64);
        events.lock().unwrap().push(switchover(at, VM_IP, VM_IP, *ms));
    }
    let out = drain(exec.start(
        &store,
        request(
            &store,
            "nicolaka/netshoot:v0.14",
            &["ping", "-D", "-O", "-n", "-i", "0.02", "-W", "1", "-w", "30", VM_IP],
        ),
    ));
    let (out, err, end) = out.await;
    assert_eq!(err, "");
    assert_eq!(end, Some(ExecOutput::Exit(0)));
    let times = reply_times(&out);
    for (i, ms) in outages.iter().enumerate() {
        let at = (start + jiff::SignedDuration::from_millis(1500 + 6000 * i as i64)).as_microsecond();
        let window: Vec<i64> = times.iter().copied().filter(|t| *t > at - 1_000_000 && *t < at + 4_000_000).collect();
        let (gap, before) = largest_gap(&window);
        let measured = gap - interval_us;
        let injected = *ms as i64 * 1000;
        assert!((measured - injected).abs() <= interval_us, "outage {ms} ms: measured {measured} µs");
        if *ms > 20 {
            assert!((before - at).abs() <= interval_us + 1_500, "the gap starts at the switchover: {before} vs {at}");
        }
    }
    assert_eq!(exec.running(), 0);
}

#[tokio::test]
async fn iputils_output_has_the_shape_of_the_real_captures() {
    let (store, events, exec) = cluster(50.0);
    events.lock().unwrap().push(switchover(
        store.clock().now() + jiff::SignedDuration::from_millis(1000),
        VM_IP,
        VM_IP,
        180,
    ));
    let (out, _, end) = drain(exec.start(
        &store,
        request(
            &store,
            "nicolaka/netshoot:v0.14",
            &["ping", "-D", "-O", "-n", "-i", "0.02", "-W", "1", "-w", "3", VM_IP],
        ),
    ))
    .await;
    assert_eq!(end, Some(ExecOutput::Exit(0)));
    let real = include_str!("../../testdata/ping/iputils-blackhole-180ms.txt");
    // Every line of the emulation has the form of a line of the real capture, with its own address and numbers.
    let shape = |l: &str| -> String {
        l.replace(VM_IP, "ADDR")
            .replace("10.213.9.2", "ADDR")
            .chars()
            .map(|c| if c.is_ascii_digit() || c == '.' { '9' } else { c })
            .collect::<String>()
            .split('9')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("9")
    };
    let real_shapes: std::collections::BTreeSet<String> = real.lines().map(shape).collect();
    for line in out.lines() {
        assert!(real_shapes.contains(&shape(line)), "no real line looks like {line:?}");
    }
    assert_eq!(out.lines().next().unwrap(), format!("PING {VM_IP} ({VM_IP}) 56(84) bytes of data."));
    let missing = out.lines().filter(|l| l.contains("no answer yet")).count();
    assert_eq!(missing, 9, "180 ms at 20 ms: 9 requests lost");
    assert!(out.contains(&format!("\n\n--- {VM_IP} ping statistics ---\n150 packets transmitted, 141 received, 6% packet loss, time 2980ms\nrtt min/avg/max/mdev = ")));
}

#[tokio::test]
async fn busybox_image_pings_like_busybox() {
    let (store, _events, exec) = cluster(50.0);
    let (out, _, end) =
        drain(exec.start(&store, request(&store, "busybox:1.36", &["ping", "-i", "0.2", "-W", "1", "-w", "1", VM_IP])))
            .await;
    assert_eq!(end, Some(ExecOutput::Exit(0)));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("PING {VM_IP} ({VM_IP}): 56 data bytes"));
    assert!(lines[1].starts_with(&format!("64 bytes from {VM_IP}: seq=0 ttl=64 time=")), "{}", lines[1]);
    assert!(out.contains(&format!("\n\n--- {VM_IP} ping statistics ---\n5 packets transmitted, 5 packets received, 0% packet loss\nround-trip min/avg/max = ")));
    // iputils' options are not BusyBox's.
    let (_, err, end) =
        drain(exec.start(&store, request(&store, "busybox:1.36", &["ping", "-D", "-O", "-n", VM_IP]))).await;
    assert!(err.starts_with("ping: invalid option -- 'D'\nBusyBox v1.36.1"), "{err}");
    assert_eq!(end, Some(ExecOutput::Exit(1)));
}

#[tokio::test]
async fn a_missing_tool_fails_as_containerd_does() {
    let (store, _events, exec) = cluster(50.0);
    let (out, err, end) = drain(exec.start(&store, request(&store, "alpine:3.22", &["ping", "-c", "1", VM_IP]))).await;
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    let Some(ExecOutput::StartFailed(msg)) = end else { panic!("{end:?}") };
    assert!(msg.starts_with("failed to exec in container: failed to start exec \""), "{msg}");
    assert!(msg.ends_with("OCI runtime exec failed: exec failed: unable to start container process: exec: \"ping\": executable file not found in $PATH: unknown"), "{msg}");
    // Any tool the image lacks, emulated or not.
    let (_, _, end) = drain(exec.start(&store, request(&store, "alpine:3.22", &["curl", "-s", "http://x/"]))).await;
    assert!(
        matches!(&end, Some(ExecOutput::StartFailed(m)) if m.contains("exec: \"curl\": executable file not found")),
        "{end:?}"
    );
    let status = vmmigrate_sim::api::exec::start_failed_status(&msg);
    assert_eq!(status["reason"], "InternalError");
    assert_eq!(status["code"], 500);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("Internal error occurred: error executing command in container: failed to exec")
    );
}

#[tokio::test]
async fn an_unknown_ip_never_answers() {
    let (store, _events, exec) = cluster(50.0);
    let (out, _, end) = drain(exec.start(
        &store,
        request(
            &store,
            "nicolaka/netshoot:v0.14",
            &["ping", "-D", "-O", "-n", "-i", "0.2", "-W", "1", "-w", "2", "10.9.9.9"],
        ),
    ))
    .await;
    assert_eq!(end, Some(ExecOutput::Exit(1)));
    assert!(!out.contains("64 bytes"));
    assert_eq!(out.lines().filter(|l| l.contains("no answer yet")).count(), 9);
    assert!(out.ends_with("10 packets transmitted, 0 received, 100% packet loss, time 1800ms\n\n"), "{out}");
    let (_, err, end) =
        drain(exec.start(&store, request(&store, "nicolaka/netshoot:v0.14", &["ping", "-c", "1", "nothing.example"])))
            .await;
    assert_eq!((err.as_str(), end), ("ping: nothing.example: Name or service not known\n", Some(ExecOutput::Exit(2))));
}

#[tokio::test]
async fn after_an_ip_change_the_old_ip_goes_and_the_new_one_comes() {
    let (store, events, exec) = cluster(50.0);
    let at = store.clock().now() + jiff::SignedDuration::from_millis(1000);
    events.lock().unwrap().push(switchover(at, VM_IP, "10.244.1.23", 500));
    let ping = |ip: &str| {
        request(&store, "nicolaka/netshoot:v0.14", &["ping", "-D", "-O", "-n", "-i", "0.05", "-W", "1", "-w", "3", ip])
    };
    let (old, new) =
        tokio::join!(drain(exec.start(&store, ping(VM_IP))), drain(exec.start(&store, ping("10.244.1.23"))));
    let at = at.as_microsecond();
    let old = reply_times(&old.0);
    assert!(!old.is_empty() && old.iter().all(|t| *t < at + 2_000), "the old IP answers only before: {old:?}");
    let new = reply_times(&new.0);
    assert!(!new.is_empty() && new.iter().all(|t| *t >= at + 500_000), "the new IP answers only after the outage");
    assert!(new[0] < at + 550_000 + 2_000);
}

#[tokio::test]
async fn dropping_the_receiver_stops_the_process() {
    let (store, _events, exec) = cluster(1.0);
    let mut rx = exec
        .start(&store, request(&store, "nicolaka/netshoot:v0.14", &["ping", "-D", "-O", "-n", "-i", "0.02", VM_IP]));
    assert_eq!(exec.running(), 1);
    assert!(matches!(rx.recv().await, Some(ExecOutput::Stdout(_))));
    drop(rx);
    until(|| exec.running() == 0).await;
    // Also a process of the fallback handler (`sleep`) and an HTTP probe.
    let rx = exec.start(&store, request(&store, "nicolaka/netshoot:v0.14", &["sleep", "3600"]));
    let script = include_str!("../../src/probe/http_probe.sh");
    let http = exec.start(
        &store,
        request(
            &store,
            "nicolaka/netshoot:v0.14",
            &["sh", "-c", script, "sh", &format!("http://{VM_IP}/"), "0.05", "60", "0.5"],
        ),
    );
    assert_eq!(exec.running(), 2);
    drop((rx, http));
    until(|| exec.running() == 0).await;
    // Deleting the pod ends its processes as SIGTERM does, even while the client stays.
    let mut rx = exec.start(&store, request(&store, "busybox:1.36", &["ping", "-i", "0.02", VM_IP]));
    assert_eq!(exec.running(), 1);
    assert!(matches!(rx.recv().await, Some(ExecOutput::Stdout(b)) if b.starts_with(b"PING ")));
    store.delete(&PODS, Some("ns"), "busybox-1-36", false).unwrap();
    assert_eq!(drain(rx).await.2, Some(ExecOutput::Exit(143)));
    until(|| exec.running() == 0).await;
}

/// The plugin's scripts, as the plugin sends them (read from its sources at compile time).
fn tool_check_script() -> String {
    let src = include_str!("../../src/probe/command.rs");
    let start = src.find("TOOL_CHECK_SCRIPT: &str = r#\"").unwrap() + "TOOL_CHECK_SCRIPT: &str = r#\"".len();
    let len = src[start..].find("\"#;").unwrap();
    src[start..start + len].to_string()
}

#[tokio::test]
async fn the_plugins_scripts_are_recognised() {
    let (store, _events, exec) = cluster(50.0);
    let script = tool_check_script();
    let (out, _, end) = drain(exec.start(&store, request(&store, "busybox:1.36", &["sh", "-c", &script]))).await;
    assert_eq!(end, Some(ExecOutput::Exit(0)));
    assert!(out.starts_with("vmmprobe-tool ping /bin/ping\nvmmprobe-tool curl /usr/bin/curl\n"), "{out}");
    assert!(out.contains("vmmprobe-ping-version BusyBox v1.36.1"));
    assert!(out.contains("\nvmmprobe-uid 0\n"));
    let (out, _, _) = drain(exec.start(&store, request(&store, "alpine:3.22", &["sh", "-c", &script]))).await;
    assert!(out.contains("vmmprobe-tool ping -\nvmmprobe-tool curl -\n") && !out.contains("ping-version"), "{out}");

    let http = include_str!("../../src/probe/http_probe.sh");
    let (out, _, end) = drain(exec.start(
        &store,
        request(
            &store,
            "nicolaka/netshoot:v0.14",
            &["sh", "-c", http, "sh", &format!("http://{VM_IP}:8080/"), "0.2", "1", "0.5"],
        ),
    ))
    .await;
    assert_eq!(end, Some(ExecOutput::Exit(0)));
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("vmmprobe-http 1 ") && first.contains(" 200 0.00") && first.ends_with(" 0 "), "{first}");
    assert!(out.lines().last().unwrap().starts_with("vmmprobe-http-end "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_over_websocket_exec_sees_the_haos_migration_outage() {
    let scenario = Scenario::load("haos").unwrap();
    let cluster = ClusterSim::start(&scenario, ClusterOptions { speed: 10.0, ..Default::default() }).await.unwrap();
    let store = cluster.sim.store().clone();
    let ns = "tenant-root";
    // The prober pod: netshoot with NET_RAW, on a node that is neither source nor target.
    store
        .create(
            &PODS,
            Some(ns),
            json!({"metadata": {"name": "vmmigrate-probe"}, "spec": {"nodeName": "illusion", "containers": [{
                "name": "probe", "image": "nicolaka/netshoot:v0.14", "command": ["sleep", "3600"],
                "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]}}),
            false,
        )
        .unwrap();
    until(|| {
        store
            .get(&PODS, Some(ns), "vmmigrate-probe")
            .is_ok_and(|p| p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string())
    })
    .await;
    until(|| {
        store.get(&VMIS, Some(ns), "vm-instance-haos").is_ok_and(|v| {
            v["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "LiveMigratable" && c["status"] == "True"))
        })
    })
    .await;

    let argv = ["ping", "-D", "-O", "-n", "-i", "0.02", "-W", "1", "-w", "40", VM_IP];
    let query: String = argv.iter().map(|a| format!("command={a}&")).collect();
    let url = format!(
        "{}/api/v1/namespaces/{ns}/pods/vmmigrate-probe/exec?{query}container=probe&stdout=true&stderr=true",
        cluster.sim.url().replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "v5.channel.k8s.io".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(cluster.net.running(), 1);

    let mut vmim = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"name": "probe-test", "namespace": ns}, "spec": {"vmiName": "vm-instance-haos"}});
    let admission = AdmissionRequest {
        operation: Operation::Create,
        resource: &VMIMS,
        subresource: None,
        namespace: Some(ns),
        name: "",
        old: None,
        dry_run: false,
        store: &store,
    };
    KubeVirtAdmission.admit(&admission, &mut vmim).unwrap();
    store.create(&VMIMS, Some(ns), vmim, false).unwrap();

    let (mut stdout, mut status) = (String::new(), None);
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Binary(b) if b.first() == Some(&1) => stdout.push_str(&String::from_utf8_lossy(&b[1..])),
            Message::Binary(b) if b.first() == Some(&3) => {
                status = Some(serde_json::from_slice::<Value>(&b[1..]).unwrap())
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    assert_eq!(status.unwrap()["status"], "Success");
    let events = cluster.kubevirt.switchovers();
    assert_eq!(events.len(), 1, "the migration switched over during the probe");
    let at = events[0].at.as_microsecond();
    let times = reply_times(&stdout);
    let (gap, before) = largest_gap(&times);
    let measured = gap - 20_000;
    assert!((measured - 180_000).abs() <= 20_000, "haos outage 180 ms, measured {measured} µs");
    assert!((before - at).abs() <= 21_500, "the gap is at the switchover");

    store.delete(&PODS, Some(ns), "vmmigrate-probe", false).ok();
    until(|| cluster.net.running() == 0).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prober_pod_and_ephemeral_container_run_and_ping() {
    let (store, _events, exec) = cluster(20.0);
    for n in ["source", "target", "third"] {
        store
            .create(
                &vmmigrate_sim::api::resources::NODES,
                None,
                json!({"metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                  "addresses": [{"type": "InternalIP", "address": "172.16.0.1"}]}}),
                false,
            )
            .unwrap();
    }
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    vmmigrate_sim::api::kubelet::Kubelet::spawn(store.clone(), true, stop);
    store
        .create(
            &PODS,
            Some("ns"),
            json!({"metadata": {"name": "prober"}, "spec": {
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["source", "target"]}]}]}}},
                "containers": [{"name": "probe", "image": "nicolaka/netshoot:v0.14",
                                "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]}}),
            false,
        )
        .unwrap();
    until(|| {
        store
            .get(&PODS, Some("ns"), "prober")
            .is_ok_and(|p| p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string())
    })
    .await;
    let pod = store.get(&PODS, Some("ns"), "prober").unwrap();
    assert_eq!(pod["spec"]["nodeName"], "third");
    // An ephemeral container with the BusyBox image in the same pod.
    store
        .modify(&PODS, Some("ns"), "prober", |p| {
            p["spec"]["ephemeralContainers"] = json!([{"name": "debugger-x1", "image": "busybox:1.36"}]);
            Ok(())
        })
        .unwrap();
    until(|| {
        store
            .get(&PODS, Some("ns"), "prober")
            .is_ok_and(|p| p["status"]["ephemeralContainerStatuses"][0]["state"]["running"].is_object())
    })
    .await;
    let pod = store.get(&PODS, Some("ns"), "prober").unwrap();
    let req = ExecRequest {
        namespace: "ns".into(),
        pod,
        container: "debugger-x1".into(),
        command: ["ping", "-i", "0.2", "-w", "1", VM_IP].map(String::from).to_vec(),
        tty: false,
    };
    let (out, _, end) = drain(exec.start(&store, req)).await;
    assert_eq!(end, Some(ExecOutput::Exit(0)));
    assert!(out.contains(": seq=0 ttl=64 time="), "the ephemeral container's image is BusyBox: {out}");
}
