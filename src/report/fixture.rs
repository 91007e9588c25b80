//! Run records for the report tests: the seed scenario (`tenant-root/vm-instance-haos`, the-toy-factory → the-dome)
//! built from `testdata/kubevirt` (environment, check) and from synthetic iputils output analysed by the real probe
//! core, so that every figure in a rendered report comes from the same code path as in a real run.

use std::time::Duration;

use crate::check::{CheckReport, EvalOptions};
use crate::migrate::MigrationResult;
use crate::migrate::state::{InterfaceAddresses, PhaseEntry, VmiAfter};
use crate::probe::analysis::{AnalysisOptions, MigrationTimeline, PhaseMark, analyse};
use crate::probe::ping::PingParser;
use crate::probe::synthetic::{START_US, SyntheticRun, iputils_output};
use crate::record::{Gate, Hop, PlannedTarget, ProbeSetup, RunOptions, RunRecord, TargetResult};

pub const NS: &str = "tenant-root";
pub const VM: &str = "vm-instance-haos";
pub const LAN: &str = "192.168.1.150";
pub const POD_IP: &str = "10.244.0.57";
const NODES: [&str; 2] = ["the-toy-factory", "the-dome"];

/// Seconds after [`START_US`] at which each phase is entered (the probe starts at 0 and runs 20 s).
const PHASES: [(&str, i64); 7] = [
    ("Pending", 2),
    ("Scheduling", 3),
    ("Scheduled", 8),
    ("PreparingTarget", 8),
    ("TargetReady", 9),
    ("Running", 10),
    ("Succeeded", 14),
];
/// When the guest pauses for the switchover, ms after the start of the probe.
const SWITCHOVER_MS: f64 = 13_200.0;
/// Hops are this far apart.
const HOP_SPACING_S: i64 = 60;

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_default()
}

fn planned(target: &str, via: &str) -> PlannedTarget {
    PlannedTarget { target: target.into(), method: "icmp".into(), source: "interface".into(), via: Some(via.into()) }
}

/// What the probe measured for one target over one probe run starting `offset_s` after [`START_US`].
fn measured(
    target: &PlannedTarget,
    outage_ms: f64,
    seed: u64,
    offset_s: i64,
    timeline: Option<&MigrationTimeline>,
) -> TargetResult {
    let run = SyntheticRun {
        interval_ms: 20.0,
        stretch: 1.2,
        jitter_ms: 1.0,
        rtt_ms: 0.4,
        duration_ms: 20_000.0,
        outage_at_ms: SWITCHOVER_MS,
        outage_ms,
        seed,
    };
    let mut parser = PingParser::new();
    for line in iputils_output(&run) {
        parser.feed(&line, None);
    }
    let (series, _) = parser.finish(&target.target, Duration::from_millis(20), Duration::from_secs(20));
    let analysis = analyse(&series, timeline, AnalysisOptions { clock_offset_us: offset_s * 1_000_000 });
    TargetResult { target: target.clone(), analysis: Some(analysis), not_measured: None }
}

/// A migration result as `run` records it, `offset_s` after [`START_US`], ending in `last` (the final phase).
fn result(index: u32, offset_s: i64, last: &str) -> MigrationResult {
    let at = |s: i64| START_US + (offset_s + s) * 1_000_000;
    // The phases up to Running, then the final one (unless the migration stopped while Running).
    let mut reached: Vec<(&str, i64)> = PHASES.iter().copied().filter(|(p, _)| *p != "Succeeded").collect();
    if last != "Running" {
        reached.push((last, 14));
    }
    let phases = reached
        .iter()
        .enumerate()
        .map(|(i, (p, s))| PhaseEntry {
            phase: (*p).into(),
            at: Some(rfc3339(at(*s))),
            duration_seconds: reached.get(i + 1).map(|(_, next)| next - s),
        })
        .collect();
    let (from, to) = if index % 2 == 1 { (NODES[0], NODES[1]) } else { (NODES[1], NODES[0]) };
    let succeeded = last == "Succeeded";
    let ips = |name: &str, ip: &str| InterfaceAddresses {
        name: name.into(),
        before: vec![ip.into()],
        after: vec![ip.into()],
        changed: false,
    };
    MigrationResult {
        namespace: NS.into(),
        vm: VM.into(),
        migration: Some(format!("kubevirt-migrate-vm-hop{index}")),
        migration_uid: Some(format!("9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b{index:02}")),
        outcome: if succeeded { "Succeeded" } else { last }.into(),
        phase: Some(last.into()),
        source_node: Some(from.into()),
        target_node: Some(to.into()),
        requested_target_node: None,
        source_pod: Some(format!("virt-launcher-{VM}-src{index}")),
        target_pod: Some(format!("virt-launcher-{VM}-dst{index}")),
        mode: Some("PreCopy".into()),
        started_at: Some(rfc3339(at(2))),
        ended_at: Some(rfc3339(at(14))),
        duration_seconds: Some(12),
        transfer_started_at: Some(rfc3339(at(10))),
        transfer_ended_at: Some(rfc3339(at(13))),
        switchover_at: Some(rfc3339(at(13))),
        phases,
        ip_addresses: vec![ips("default", POD_IP), ips("lan", LAN)],
        ip_changed: false,
        vmi: Some(VmiAfter {
            phase: Some("Running".into()),
            node: Some(if succeeded { to } else { from }.into()),
            ready: true,
        }),
        failure_reason: (!succeeded).then(|| "source node reported migration failed".into()),
        abort_requested: false,
        aborted_by: None,
        abort_status: None,
        last_progress: None,
        progress_unavailable: Some("the source virt-launcher log has no progress lines".into()),
        warnings: Vec::new(),
    }
}

fn timeline(offset_s: i64) -> MigrationTimeline {
    let at = |s: i64| START_US + (offset_s + s) * 1_000_000;
    MigrationTimeline {
        phases: PHASES.iter().map(|(p, s)| PhaseMark { phase: (*p).into(), at_us: at(*s) }).collect(),
        switchover_us: Some(at(13)),
        start_us: None,
        end_us: None,
    }
}

/// One hop with the probe: the LAN address loses `lan_outage_ms`, the pod address nothing.
fn probed_hop(index: u32, lan_outage_ms: f64) -> Hop {
    let offset = i64::from(index - 1) * HOP_SPACING_S;
    let tl = timeline(offset);
    let seed = u64::from(index);
    Hop {
        index,
        result: result(index, offset, "Succeeded"),
        targets: vec![
            measured(&planned(LAN, "lan"), lan_outage_ms, seed, offset, Some(&tl)),
            measured(&planned(POD_IP, "default"), 0.0, seed + 100, offset, Some(&tl)),
        ],
        hypervisor_downtime_ms: None,
        hypervisor_downtime_unavailable: Some("KubeVirt v1.5 does not log libvirt's downtime".into()),
    }
}

fn check() -> CheckReport {
    let snapshot = crate::check::tests::haos();
    let vm = crate::check::evaluate(&snapshot, NS, VM, &EvalOptions { probe: true });
    CheckReport::new(Some("v1.5.2".into()), vec![vm])
}

fn base(probe: bool) -> RunRecord {
    let environment = super::environment::build(super::environment::tests::haos_objects());
    RunRecord {
        tool_version: "0.1.0".into(),
        namespace: NS.into(),
        vm: VM.into(),
        started_at: Some(rfc3339(START_US)),
        ended_at: Some(rfc3339(START_US + 22_000_000)),
        options: RunOptions { probe, repeat: 1, probe_interval_ms: probe.then_some(20.0), ..Default::default() },
        environment: Some(environment),
        check: Some(check()),
        probe: probe.then(|| ProbeSetup {
            placement: "pod".into(),
            pod: Some("vmmigrate-probe-x7k2p".into()),
            container: Some("probe".into()),
            node: Some("here-i-am".into()),
            image: "nicolaka/netshoot:v0.13".into(),
            ping_flavour: Some("iputils".into()),
            targets: vec![planned(LAN, "lan"), planned(POD_IP, "default")],
            baseline: vec![measured(&planned(LAN, "lan"), 0.0, 50, -30, None)],
            cleanup: Some("prober pod deleted".into()),
        }),
        hops: Vec::new(),
        gates: Vec::new(),
        warnings: Vec::new(),
        error: None,
        exit_code: 0,
    }
}

/// One successful migration measured by the probe (730 ms on the LAN address, no loss on the pod address).
pub fn success_with_probe() -> RunRecord {
    let mut r = base(true);
    r.hops = vec![probed_hop(1, 730.0)];
    r
}

/// One successful migration without the probe.
pub fn success_without_probe() -> RunRecord {
    let mut r = base(false);
    let mut hop = probed_hop(1, 0.0);
    hop.targets.clear();
    r.hops = vec![hop];
    r
}

/// The migration failed (exit 4); the probe saw the LAN address drop for 2.5 s.
pub fn failed() -> RunRecord {
    let mut r = base(true);
    let mut hop = probed_hop(1, 2500.0);
    hop.result = result(1, 0, "Failed");
    r.hops = vec![hop];
    r.exit_code = 4;
    r
}

/// Ctrl-C during the migration: aborted, the probe stopped before its deadline (exit 130).
pub fn aborted() -> RunRecord {
    let mut r = base(true);
    let mut hop = probed_hop(1, 0.0);
    let mut res = result(1, 0, "Running");
    res.outcome = "Interrupted".into();
    res.abort_requested = true;
    res.aborted_by = Some("interrupt".into());
    res.abort_status = Some("Succeeded".into());
    res.failure_reason = Some("Live migration aborted ".into());
    res.ended_at = None;
    res.duration_seconds = None;
    hop.result = res;
    hop.targets[1] = TargetResult {
        target: hop.targets[1].target.clone(),
        analysis: None,
        not_measured: Some("the probe was stopped by the interrupt before it printed anything".into()),
    };
    r.hops = vec![hop];
    r.error = Some("interrupted (Ctrl-C); the migration was aborted".into());
    r.warnings.push("ephemeral container probe remains in pod virt-launcher-vm-instance-haos-src1".into());
    r.exit_code = 130;
    r
}

/// A successful migration whose LAN downtime exceeds `--max-downtime 500ms` (exit 7).
pub fn gate_failed() -> RunRecord {
    let mut r = success_with_probe();
    r.options.max_downtime_ms = Some(500.0);
    let measured = super::measured_downtime_ms(&r.hops[0].targets[0]);
    r.gates = vec![
        Gate {
            name: "max-downtime".into(),
            subject: format!("hop 1 {LAN}"),
            limit: 500.0,
            measured,
            unit: "ms".into(),
            passed: false,
            detail: format!("{:.0} ms > 500 ms", measured.unwrap_or_default()),
        },
        Gate {
            name: "max-downtime".into(),
            subject: format!("hop 1 {POD_IP}"),
            limit: 500.0,
            measured: None,
            unit: "ms".into(),
            passed: true,
            detail: "no sample lost (below the 24 ms resolution)".into(),
        },
    ];
    r.exit_code = 7;
    r
}

/// `--repeat n` with the probe: hop k loses 200 + 100·k ms on the LAN address, hops alternate direction.
pub fn repeated(n: u32) -> RunRecord {
    let mut r = base(true);
    r.options.repeat = n;
    r.hops = (1..=n).map(|k| probed_hop(k, 200.0 + 100.0 * f64::from(k))).collect();
    r.ended_at = Some(rfc3339(START_US + i64::from(n) * HOP_SPACING_S * 1_000_000));
    r
}
