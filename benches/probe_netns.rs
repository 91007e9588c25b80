//! Issue 5's accuracy figure on a real network stack: real iputils `ping` (through vmmigrate-sim's real-exec mode, in
//! a private network namespace) against the VM end of a veth pair, the link cut for a known window when the sim
//! switches over (the harness of `tests/netns`, the same as the test `probe_netns`). Needs root, iproute2 and
//! iputils ping; without them it says why and measures nothing.
//!
//! ```text
//! cargo bench -p kubectl-vmmigrate --bench probe_netns
//! VMMIGRATE_BENCH_CUTS=0,200,600,2000 VMMIGRATE_BENCH_REPEAT=3 VMMIGRATE_BENCH_INTERVAL_MS=20 cargo bench ...
//! ```
//!
//! Per run it prints the cut's real length (from the instants around its two `ip` commands, ± half their duration),
//! the downtime the probe core reports with its resolution, the error (measured − cut), the lost-count cross-check,
//! the achieved interval, and how long after the sim's switchover instant the outage window starts. Each run is a
//! whole migration at real speed (about 4 s + the cut + 1.5 s of tail).

#[path = "../tests/netns/mod.rs"]
mod netns;

use std::time::Duration;

use kubectl_vmmigrate::probe::analysis::Downtime;

fn list(var: &str, default: &str) -> Vec<u64> {
    std::env::var(var).unwrap_or_else(|_| default.into()).split(',').filter_map(|v| v.trim().parse().ok()).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(why) = netns::unavailable() {
        println!("probe_netns: not measured: {why}");
        return;
    }
    let cuts = list("VMMIGRATE_BENCH_CUTS", "0,200,600,2000");
    let repeat = list("VMMIGRATE_BENCH_REPEAT", "3").first().copied().unwrap_or(3);
    let interval_ms = list("VMMIGRATE_BENCH_INTERVAL_MS", "20").first().copied().unwrap_or(20);
    let interval = Duration::from_millis(interval_ms);
    println!(
        "Real network namespace, iputils ping -i {:.3} through the sim's real exec; times in ms",
        0.001 * interval_ms as f64
    );
    println!(
        "{:>6} {:>15} {:>10} {:>11} {:>8} {:>8} {:>9} {:>11} {:>7}",
        "asked", "cut (real)", "measured", "resolution", "error", "lost×i", "achieved", "after s/o", "within"
    );
    for cut_ms in cuts {
        for _ in 0..repeat {
            let net = match netns::Netns::create() {
                Ok(n) => n,
                Err(e) => {
                    println!("probe_netns: cannot set up the namespaces: {e}");
                    return;
                }
            };
            let cut = (cut_ms > 0).then(|| Duration::from_millis(cut_ms));
            let m = netns::measure(&net, cut, interval).await;
            let a = &m.analysis;
            let (measured, resolution, window) = match a.downtime {
                Downtime::Measured { ms, resolution_ms, window } => (ms, resolution_ms, Some(window)),
                Downtime::BelowResolution { resolution_ms } => (0.0, resolution_ms, None),
                ref other => {
                    println!("{cut_ms:>6} not measured: {other:?} (migration {})", m.phase);
                    continue;
                }
            };
            let (real, uncertainty) = m.cut.map(|c| (c.length_ms(), c.uncertainty_ms())).unwrap_or_default();
            let lost = a.windows.iter().map(|w| w.lost_estimate_ms).fold(0.0, f64::max);
            let after = window.and_then(|w| a.windows[w].offset_from_switchover_ms);
            let error = measured - real;
            let within = error.abs() <= 2.0 * a.achieved_interval_ms + uncertainty;
            println!(
                "{cut_ms:>6} {:>15} {measured:>10.1} {:>11} {error:>+8.1} {lost:>8.1} {:>9.1} {:>11} {:>7}",
                format!("{real:.1} ±{uncertainty:.1}"),
                format!("±{resolution:.1}"),
                a.achieved_interval_ms,
                after.map(|a| format!("{a:.0}")).unwrap_or_else(|| "-".into()),
                if within { "yes" } else { "NO" },
            );
        }
    }
    println!(
        "(error = measured − real cut; within = |error| ≤ 2 × achieved interval + the cut's uncertainty; after s/o = \
         outage start − the sim's switchover instant)"
    );
}
