//! Downtime measurement accuracy of the probe core (parser + analysis), the first version of the figure issue 5
//! tracks. It measures accuracy, not speed, so the dev profile is fine:
//!
//! ```text
//! cargo test -p kubectl-vmmigrate --bench probe_accuracy      # dev profile
//! cargo bench -p kubectl-vmmigrate --bench probe_accuracy     # release profile, same figures
//! ```
//!
//! Part 1 runs synthetic iputils output (`probe::synthetic`) for injected outages of 0, 20, 180, 730 and 2500 ms at
//! several intervals, with the jitter seen on the capture machine (achieved interval 1.15–1.25 × the asked one,
//! ± 10 % spacing jitter), through the streaming parser and the analysis, and prints the error of the downtime figure
//! and of the lost-count cross-check. Part 2 does the same for the real captures in `testdata/ping/`, against the
//! wall-clock length of the injected blackhole.

use std::time::Duration;

use kubectl_vmmigrate::probe::analysis::{AnalysisOptions, Downtime, ProbeSeries, TargetAnalysis, analyse};
use kubectl_vmmigrate::probe::http::HttpParser;
use kubectl_vmmigrate::probe::ping::{PingParser, parse_unix_micros};
use kubectl_vmmigrate::probe::synthetic::{SyntheticRun, iputils_output};

const OUTAGES_MS: [f64; 5] = [0.0, 20.0, 180.0, 730.0, 2500.0];
const INTERVALS_MS: [f64; 3] = [10.0, 20.0, 100.0];
const RUNS: u64 = 200;

fn downtime_ms(a: &TargetAnalysis) -> Option<f64> {
    match a.downtime {
        Downtime::Measured { ms, .. } => Some(ms),
        Downtime::BelowResolution { .. } => Some(0.0),
        _ => None,
    }
}

fn ping_series(lines: impl Iterator<Item = (String, Option<i64>)>, interval_ms: f64) -> ProbeSeries {
    let mut p = PingParser::new();
    for (line, at) in lines {
        p.feed(&line, at);
    }
    p.finish("target", Duration::from_secs_f64(interval_ms / 1000.0), Duration::from_secs(3600)).0
}

/// Error statistics over a set of signed errors.
fn summary(errors: &mut [f64]) -> String {
    errors.sort_by(f64::total_cmp);
    let n = errors.len().max(1) as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let p95 = abs.get(((abs.len() * 95).div_ceil(100)).max(1) - 1).copied().unwrap_or(f64::NAN);
    let max = abs.last().copied().unwrap_or(f64::NAN);
    format!("{mean:>+8.1} {p95:>8.1} {max:>8.1}")
}

fn synthetic() {
    println!("Synthetic iputils runs ({RUNS} seeds per row): error = measured − injected, ms");
    println!(
        "{:>9} {:>9} {:>9} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>6}",
        "outage", "interval", "achieved", "mean", "p95|e|", "max|e|", "lost×i", "p95|e|", "max|e|", "within"
    );
    for interval in INTERVALS_MS {
        for outage in OUTAGES_MS {
            let (mut errors, mut cross, mut achieved, mut within) = (Vec::new(), Vec::new(), 0.0, 0);
            for seed in 0..RUNS {
                let stretch = 1.15 + 0.1 * ((seed * 7919) % 100) as f64 / 100.0;
                let run = SyntheticRun {
                    interval_ms: interval,
                    stretch,
                    jitter_ms: 0.1 * interval,
                    rtt_ms: 0.05 + 0.001 * (seed % 50) as f64,
                    duration_ms: 1200.0 + outage + 1500.0,
                    outage_at_ms: 1000.0 + (seed % 97) as f64,
                    outage_ms: outage,
                    seed,
                };
                let series = ping_series(iputils_output(&run).into_iter().map(|l| (l, None)), interval);
                let a = analyse(&series, None, AnalysisOptions::default());
                let Some(ms) = downtime_ms(&a) else {
                    println!("  seed {seed}: not measured: {:?}", a.downtime);
                    continue;
                };
                errors.push(ms - outage);
                let lost_estimate = a.windows.iter().map(|w| w.lost_estimate_ms).fold(0.0, f64::max);
                cross.push(lost_estimate - outage);
                achieved += a.achieved_interval_ms / RUNS as f64;
                within += u32::from((ms - outage).abs() <= a.achieved_interval_ms + 2.0 * run.jitter_ms);
            }
            println!(
                "{outage:>9.0} {interval:>9.0} {achieved:>9.1} | {} | {} | {:>5.1}%",
                summary(&mut errors),
                summary(&mut cross),
                100.0 * f64::from(within) / RUNS as f64
            );
        }
    }
    println!(
        "(`lost×i` = the lost-count cross-check: its mean error and tails; `within` = |error| ≤ achieved + 2 jitter)"
    );
}

/// (name, ping or HTTP output, outage file, interval ms, lines stamped on receipt)
const REAL: [(&str, &str, &str, f64, bool); 5] = [
    (
        "iputils 180ms",
        include_str!("../testdata/ping/iputils-blackhole-180ms.txt"),
        include_str!("../testdata/ping/iputils-blackhole-180ms.outage"),
        20.0,
        false,
    ),
    (
        "iputils 730ms",
        include_str!("../testdata/ping/iputils-blackhole-730ms.txt"),
        include_str!("../testdata/ping/iputils-blackhole-730ms.outage"),
        20.0,
        false,
    ),
    (
        "iputils 2500ms",
        include_str!("../testdata/ping/iputils-blackhole-2500ms.txt"),
        include_str!("../testdata/ping/iputils-blackhole-2500ms.outage"),
        100.0,
        false,
    ),
    (
        "busybox 730ms",
        include_str!("../testdata/ping/busybox-blackhole-730ms-stamped.txt"),
        include_str!("../testdata/ping/busybox-blackhole-730ms-stamped.outage"),
        20.0,
        true,
    ),
    (
        "http 730ms",
        include_str!("../testdata/ping/http-blackhole-730ms.txt"),
        include_str!("../testdata/ping/http-blackhole-730ms.outage"),
        50.0,
        false,
    ),
];

fn outage_bounds_ms(text: &str) -> Option<(f64, f64)> {
    let get = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=').and_then(|v| parse_unix_micros(v.trim())))
    };
    let (a0, a1, d0, d1) = (get("add_start")?, get("add_end")?, get("del_start")?, get("del_end")?);
    Some(((d0 - a1) as f64 / 1000.0, (d1 - a0) as f64 / 1000.0))
}

fn real() {
    println!("\nReal captures (testdata/ping): injected = wall-clock bounds of the blackhole, ms");
    println!(
        "{:>15} {:>17} {:>9} {:>11} {:>9} {:>9} {:>9}",
        "sample", "injected", "measured", "resolution", "lost×i", "achieved", "error"
    );
    for (name, text, outage, interval, stamped) in REAL {
        let series = if name.starts_with("http") {
            let mut p = HttpParser::new();
            text.lines().for_each(|l| drop(p.feed(l, None)));
            p.finish("http", Duration::from_secs_f64(interval / 1000.0)).0
        } else {
            let lines = text.lines().map(|l| match l.split_once(' ') {
                Some((stamp, rest)) if stamped => (rest.to_string(), parse_unix_micros(stamp)),
                _ => (l.to_string(), None),
            });
            ping_series(lines, interval)
        };
        let a = analyse(&series, None, AnalysisOptions::default());
        let Some((lo, hi)) = outage_bounds_ms(outage) else { continue };
        let (ms, res) = match a.downtime {
            Downtime::Measured { ms, resolution_ms, .. } => (ms, resolution_ms),
            ref other => {
                println!("{name:>15}: not measured: {other:?}");
                continue;
            }
        };
        let lost = a.windows.iter().map(|w| w.lost_estimate_ms).fold(0.0, f64::max);
        let error = if ms < lo {
            ms - lo
        } else if ms > hi {
            ms - hi
        } else {
            0.0
        };
        println!(
            "{name:>15} {:>17} {ms:>9.1} {:>11} {lost:>9.1} {:>9.1} {error:>+9.1}",
            format!("{lo:.1}–{hi:.1}"),
            format!("±{res:.1}"),
            a.achieved_interval_ms
        );
    }
    println!("(error = distance from the injected bounds, 0 when inside them)");
}

fn main() {
    synthetic();
    real();
}
