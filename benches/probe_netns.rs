//! Issue 5's accuracy figure on a real network stack: real iputils `ping` (through vmmigrate-sim's real-exec mode, in
//! a private network namespace) against the VM end of a veth pair, the link cut for a known window when the sim
//! switches over (the harness of `tests/netns`, the same as the test `probe_netns`). Needs root, iproute2 and
//! iputils ping; without them it says why and measures nothing.
//!
//! ```text
//! cargo bench -p kubectl-vmmigrate --bench probe_netns
//! VMMIGRATE_BENCH_CUTS=0,200,600,2000 VMMIGRATE_BENCH_REPEAT=3 VMMIGRATE_BENCH_INTERVAL_MS=20 \
//!     VMMIGRATE_BENCH_PARTS=library,binary cargo bench -p kubectl-vmmigrate --bench probe_netns
//! ```
//!
//! Two parts: the probe core's library calls on real ping output (the test exec's ping in a prober pod, as
//! `netns::measure`), and the real binary end to end, `kubectl-vmmigrate run VM --probe --probe-target <VM address>
//! --probe-interval 20ms -o json` (as `netns::run_probe`: its own prober pod, tool check, baseline and ping, all for
//! real in the prober's namespace). `VMMIGRATE_BENCH_PARTS=library,binary` picks them.
//!
//! Per run it prints the cut's real length (from the instants around its two `ip` commands, ± half their duration),
//! the downtime the probe core reports with its resolution, the error (measured − cut), the lost-count cross-check,
//! the achieved interval, and how long after the sim's switchover instant the outage window starts. Each run is a
//! whole migration at real speed (7–10 s of wall time).

#[path = "../tests/netns/mod.rs"]
mod netns;

use std::time::Duration;

use serde_json::Value;

use kubectl_vmmigrate::probe::analysis::{Downtime, UnixMicros};
use netns::{Cut, Netns};

fn list(var: &str, default: &str) -> Vec<String> {
    let value = std::env::var(var).unwrap_or_else(|_| default.into());
    value.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect()
}

fn numbers(var: &str, default: &str) -> Vec<u64> {
    list(var, default).iter().filter_map(|v| v.parse().ok()).collect()
}

/// One run's figures, whichever way they were measured.
struct Row {
    cut: Option<Cut>,
    /// The downtime and its resolution, or why it was not measured.
    downtime: Result<(f64, f64), String>,
    window_start_us: Option<UnixMicros>,
    lost_ms: f64,
    achieved_ms: f64,
    switchover_us: Option<UnixMicros>,
}

fn print_header() {
    println!(
        "{:>6} {:>15} {:>10} {:>11} {:>8} {:>8} {:>9} {:>11} {:>7}",
        "asked", "cut (real)", "measured", "resolution", "error", "lost×i", "achieved", "after s/o", "within"
    );
}

fn print_row(asked_ms: u64, row: &Row) {
    let (measured, resolution) = match &row.downtime {
        Ok(d) => *d,
        Err(why) => {
            println!("{asked_ms:>6} not measured: {why}");
            return;
        }
    };
    let (real, uncertainty) = row.cut.map(|c| (c.length_ms(), c.uncertainty_ms())).unwrap_or_default();
    let after = row.window_start_us.zip(row.switchover_us).map(|(w, s)| (w - s) as f64 / 1000.0);
    let error = measured - real;
    let within = error.abs() <= 2.0 * row.achieved_ms + uncertainty;
    println!(
        "{asked_ms:>6} {:>15} {measured:>10.1} {:>11} {error:>+8.1} {:>8.1} {:>9.1} {:>11} {:>7}",
        format!("{real:.1} ±{uncertainty:.1}"),
        format!("±{resolution:.1}"),
        row.lost_ms,
        row.achieved_ms,
        after.map(|a| format!("{a:.0}")).unwrap_or_else(|| "-".into()),
        if within { "yes" } else { "NO" },
    );
}

/// The probe core's library calls on real ping output.
async fn library(net: &Netns, cut: Option<Duration>, interval: Duration) -> Row {
    let m = netns::measure(net, cut, interval).await;
    let a = &m.analysis;
    let (downtime, window) = match a.downtime {
        Downtime::Measured { ms, resolution_ms, window } => (Ok((ms, resolution_ms)), Some(window)),
        Downtime::BelowResolution { resolution_ms } => (Ok((0.0, resolution_ms)), None),
        ref other => (Err(format!("{other:?} (migration {})", m.phase)), None),
    };
    Row {
        cut: m.cut,
        downtime,
        window_start_us: window.map(|w| a.windows[w].start_us),
        lost_ms: a.windows.iter().map(|w| w.lost_estimate_ms).fold(0.0, f64::max),
        achieved_ms: a.achieved_interval_ms,
        switchover_us: m.switchover_us,
    }
}

/// The real binary's `run --probe -o json`.
async fn binary(net: &Netns, cut: Option<Duration>, interval: Duration) -> Row {
    let r = netns::run_probe(net, cut, interval).await;
    let Some(a) = r.analysis(net.vm_ip) else {
        let why = format!("exit {:?}, no figures for the VM's address: {}", r.status, r.stderr.trim());
        return Row {
            cut: r.at.cut,
            downtime: Err(why),
            window_start_us: None,
            lost_ms: 0.0,
            achieved_ms: 0.0,
            switchover_us: None,
        };
    };
    let d = &a["downtime"];
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let (downtime, window) = match d["status"].as_str() {
        Some("measured") => (Ok((num(&d["ms"]), num(&d["resolutionMs"]))), d["window"].as_u64()),
        Some("belowResolution") => (Ok((0.0, num(&d["resolutionMs"]))), None),
        _ => (Err(format!("{d} (exit {:?}, outcome {})", r.status, r.doc["outcome"])), None),
    };
    let windows = a["windows"].as_array().cloned().unwrap_or_default();
    Row {
        cut: r.at.cut,
        downtime,
        window_start_us: window.and_then(|w| windows.get(w as usize)?["startUs"].as_i64()),
        lost_ms: windows.iter().map(|w| num(&w["lostEstimateMs"])).fold(0.0, f64::max),
        achieved_ms: num(&a["achievedIntervalMs"]),
        switchover_us: r.at.switchover_us,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(why) = netns::unavailable() {
        println!("probe_netns: not measured: {why}");
        return;
    }
    let cuts = numbers("VMMIGRATE_BENCH_CUTS", "0,200,600,2000");
    let repeat = numbers("VMMIGRATE_BENCH_REPEAT", "3").first().copied().unwrap_or(3);
    let interval_ms = numbers("VMMIGRATE_BENCH_INTERVAL_MS", "20").first().copied().unwrap_or(20);
    let interval = Duration::from_millis(interval_ms);
    for part in list("VMMIGRATE_BENCH_PARTS", "library,binary") {
        match part.as_str() {
            "library" => println!(
                "\nLibrary: real iputils ping -i {:.3} exec'd through the sim's real exec, PingParser + analyse; ms",
                0.001 * interval_ms as f64
            ),
            "binary" => println!(
                "\nBinary: kubectl-vmmigrate run --probe --probe-interval {interval_ms}ms -o json, real exec; ms"
            ),
            other => {
                println!("unknown part {other} (library, binary)");
                continue;
            }
        }
        print_header();
        for &cut_ms in &cuts {
            for _ in 0..repeat {
                let net = match Netns::create() {
                    Ok(n) => n,
                    Err(e) => {
                        println!("probe_netns: cannot set up the namespaces: {e}");
                        return;
                    }
                };
                let cut = (cut_ms > 0).then(|| Duration::from_millis(cut_ms));
                let row = if part == "library" {
                    library(&net, cut, interval).await
                } else {
                    binary(&net, cut, interval).await
                };
                print_row(cut_ms, &row);
            }
        }
    }
    println!(
        "(error = measured − real cut; within = |error| ≤ 2 × achieved interval + the cut's uncertainty; after s/o = \
         outage start − the sim's switchover instant)"
    );
}
