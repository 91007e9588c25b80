//! The downtime probe against a real network stack (issue 5, "Accuracy", second bullet): real iputils `ping` runs in
//! a private network namespace through vmmigrate-sim's real-exec mode, against the VM end of a veth pair, while the
//! sim migrates the VM at real speed; the harness (`tests/netns`) cuts the link when the sim switches over. The
//! reported downtime must be within two probe intervals of the real cut, and with no cut there is no downtime.
//! Twice: through the probe core's library calls (ping exec'd by the test), and end to end through the real binary's
//! `kubectl-vmmigrate run VM --probe --probe-target <VM address> --probe-interval 20ms -o json`, which places its
//! own prober pod, checks the tools, takes a baseline and runs ping there (all for real in the prober's namespace).
//!
//! Needs root, iproute2 and iputils ping: without them each test says loudly on stderr why it is skipped, and fails
//! when `CI=true`.

mod netns;

use std::time::Duration;

use kubectl_vmmigrate::probe::analysis::{Downtime, ProbeEnd};
use netns::{Measurement, Netns, ProbeRun, netns_or_skip};

const INTERVAL: Duration = Duration::from_millis(20);

fn context(m: &Measurement) -> String {
    format!(
        "cut {:?}\nswitchover {:?} (seen {:?})\nphase {}\nanalysis {:#?}\nping output:\n{}",
        m.cut, m.switchover_us, m.switchover_seen, m.phase, m.analysis, m.output
    )
}

#[test]
fn the_pair_is_private_answers_is_cut_and_goes_away() {
    let Some(net) = netns_or_skip("the_pair_is_private_answers_is_cut_and_goes_away") else { return };
    assert!(net.exists());
    let host_links = std::process::Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    let host_links = String::from_utf8_lossy(&host_links.stdout);
    assert!(!host_links.contains("vmm-prober") && !host_links.contains("vmm-vm"), "nothing in the host: {host_links}");

    // During a cut the VM end stops answering; afterwards it answers again.
    let ping = |wait: &str| {
        let target = net.vm_ip.to_string();
        let prefix = net.prober_exec_prefix();
        let mut cmd = std::process::Command::new(&prefix[0]);
        cmd.args(&prefix[1..]).args(["ping", "-n", "-c", "1", "-W", wait, &target]);
        cmd.output().unwrap().status.success()
    };
    let link = net.link();
    let cutting = std::thread::spawn(move || link.cut(Duration::from_millis(1500)).unwrap());
    // Until the blackhole route is in place (polled, not timed: the machine may be slow to start `ip`).
    let blackholed = || {
        let argv = ["-n", net.vm.as_str(), "route", "show", "type", "blackhole"];
        let out = std::process::Command::new("ip").args(argv).output().unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };
    while !blackholed() {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!ping("0.5"), "no answer while the link is cut");
    let cut = cutting.join().unwrap();
    assert!(ping("2"), "answers after the cut");
    assert!(cut.min_ms() >= 1500.0 && cut.max_ms() >= cut.min_ms(), "{cut:?}");

    let (prober, vm) = (net.prober.clone(), net.vm.clone());
    drop(net);
    let list = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(!list.contains(&prober) && !list.contains(&vm), "both namespaces are deleted on drop: {list}");
}

#[test]
fn pairs_made_at_once_do_not_share_names_or_addresses() {
    let Some(a) = netns_or_skip("pairs_made_at_once_do_not_share_names_or_addresses") else { return };
    let b = Netns::create().unwrap();
    assert_ne!(a.prober, b.prober);
    assert_ne!(a.vm, b.vm);
    assert_ne!(a.vm_ip, b.vm_ip);
    assert_ne!(a.prober_ip, b.prober_ip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_at_the_switchover_is_measured_within_two_intervals() {
    let Some(net) = netns_or_skip("a_cut_at_the_switchover_is_measured_within_two_intervals") else { return };
    let m = netns::measure(&net, Some(Duration::from_millis(600)), INTERVAL).await;
    let why = context(&m);
    assert_eq!(m.phase, "Succeeded", "{why}");
    assert_eq!(m.analysis.probe_end, ProbeEnd::Completed, "{why}");
    let cut = m.cut.unwrap_or_else(|| panic!("the sim never switched over, so nothing was cut\n{why}"));
    let Downtime::Measured { ms, window, .. } = m.analysis.downtime else { panic!("no downtime measured\n{why}") };
    let interval = m.analysis.achieved_interval_ms;
    // Two probe intervals, plus how uncertain the cut's own length is (the time its two `ip` commands took).
    let tolerance = 2.0 * interval + cut.uncertainty_ms();
    let error = ms - cut.length_ms();
    eprintln!(
        "cut {:.1} ms (± {:.1}), measured {ms:.1} ms, error {error:+.1} ms, achieved interval {interval:.1} ms",
        cut.length_ms(),
        cut.uncertainty_ms()
    );
    assert!(error.abs() <= tolerance, "measured {ms} ms, cut {} ms, tolerance {tolerance} ms\n{why}", cut.length_ms());
    // The window is the cut's, on the same clock: it starts and ends where the cut did.
    let w = &m.analysis.windows[window];
    let start_off = (w.start_us - cut.start_unix_us()) as f64 / 1000.0;
    let end_off = (w.end_us - cut.end_unix_us()) as f64 / 1000.0;
    assert!(start_off.abs() <= tolerance && end_off.abs() <= tolerance, "{start_off} {end_off}\n{why}");
    assert_eq!(m.analysis.windows.len(), 1, "one outage only\n{why}");
    // The cut followed the sim's switchover, which the analysis placed on the timeline.
    let offset = w.offset_from_switchover_ms.unwrap_or_else(|| panic!("no switchover on the timeline\n{why}"));
    assert!(offset >= -interval, "{offset}\n{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cut_there_is_no_downtime() {
    let Some(net) = netns_or_skip("without_a_cut_there_is_no_downtime") else { return };
    let m = netns::measure(&net, None, INTERVAL).await;
    let why = context(&m);
    assert_eq!(m.phase, "Succeeded", "{why}");
    assert!(m.switchover_us.is_some(), "{why}");
    assert_eq!(m.analysis.probe_end, ProbeEnd::Completed, "{why}");
    assert!(m.analysis.received > 100, "{why}");
    let two = 2.0 * m.analysis.achieved_interval_ms;
    match m.analysis.downtime {
        Downtime::BelowResolution { .. } => {}
        Downtime::Measured { ms, .. } if ms <= two => {}
        ref other => panic!("a downtime without a cut: {other:?}\n{why}"),
    }
}

fn run_context(r: &ProbeRun) -> String {
    format!("{:?}\nexit {:?}\nstderr: {}\n{:#}", r.at, r.status, r.stderr, r.doc)
}

/// What every `run --probe` must leave: exit 0, a succeeded migration, no probe process and no prober pod.
fn assert_clean_success(r: &ProbeRun, why: &str) {
    assert_eq!(r.status, Some(0), "{why}");
    assert_eq!(r.doc["outcome"], "Succeeded", "{why}");
    assert_eq!(r.doc["probe"]["pingFlavour"], "iputils", "{why}");
    assert_eq!(r.running, 0, "no probe process is left running\n{why}");
    assert!(r.probe_pods_left.is_empty(), "prober pods left: {:?}\n{why}", r.probe_pods_left);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_probe_reports_a_real_cut_at_the_switchover_within_two_intervals() {
    let Some(net) = netns_or_skip("run_probe_reports_a_real_cut_at_the_switchover_within_two_intervals") else {
        return;
    };
    let r = netns::run_probe(&net, Some(Duration::from_millis(600)), INTERVAL).await;
    let why = run_context(&r);
    assert_clean_success(&r, &why);
    let cut = r.at.cut.unwrap_or_else(|| panic!("the sim never switched over, so nothing was cut\n{why}"));
    let a = r.analysis(net.vm_ip).unwrap_or_else(|| panic!("no figures for {}\n{why}", net.vm_ip));
    assert_eq!(a["downtime"]["status"], "measured", "{why}");
    let ms = a["downtime"]["ms"].as_f64().unwrap();
    let interval = a["achievedIntervalMs"].as_f64().unwrap();
    let tolerance = 2.0 * interval + cut.uncertainty_ms();
    let error = ms - cut.length_ms();
    eprintln!(
        "run --probe: cut {:.1} ms (± {:.1}), reported {ms:.1} ms, error {error:+.1} ms, interval {interval:.1} ms",
        cut.length_ms(),
        cut.uncertainty_ms()
    );
    assert!(error.abs() <= tolerance, "reported {ms} ms, cut {} ms, tolerance {tolerance} ms\n{why}", cut.length_ms());
    assert_eq!(a["windows"].as_array().map(Vec::len), Some(1), "one outage only\n{why}");
    // Placed on the migration's timeline: the plugin's switchover instant is KubeVirt's timestamp, to the second
    // (truncated), so the window starts 0–1 s after it, plus how long after the sim's exact switchover the cut began.
    let offset = a["windows"][0]["offsetFromSwitchoverMs"].as_f64();
    let offset = offset.unwrap_or_else(|| panic!("the window is not placed against the switchover\n{why}"));
    let lag = (cut.start_unix_us() - r.at.switchover_us.unwrap_or_default()) as f64 / 1000.0;
    assert!((-interval..=1000.0 + lag + interval).contains(&offset), "offset {offset} ms, lag {lag} ms\n{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_probe_without_a_cut_reports_no_downtime() {
    let Some(net) = netns_or_skip("run_probe_without_a_cut_reports_no_downtime") else { return };
    let r = netns::run_probe(&net, None, INTERVAL).await;
    let why = run_context(&r);
    assert_clean_success(&r, &why);
    assert!(r.at.switchover_us.is_some(), "{why}");
    let a = r.analysis(net.vm_ip).unwrap_or_else(|| panic!("no figures for {}\n{why}", net.vm_ip));
    let two = 2.0 * a["achievedIntervalMs"].as_f64().unwrap();
    match a["downtime"]["status"].as_str() {
        Some("belowResolution") => {}
        Some("measured") if a["downtime"]["ms"].as_f64().is_some_and(|ms| ms <= two) => {}
        _ => panic!("a downtime without a cut: {}\n{why}", a["downtime"]),
    }
}
