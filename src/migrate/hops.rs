//! Figures over the hops of `run --repeat N` / `--round-trip`: p50, p95 and max of the migration duration and of
//! each target's downtime.
//!
//! Percentiles are **nearest-rank**: the p-th percentile of n values is the value of rank ⌈p/100 × n⌉ (1-based) in
//! ascending order, always one of the observed values (no interpolation). With 5 hops, p95 is the maximum.
//! Only measured downtimes enter the figures: a hop whose target lost nothing (below the probe's resolution) is
//! counted in `belowResolution`, a hop where it could not be measured in `notMeasuredHops`, never as a zero.

use serde::Serialize;

use crate::probe::analysis::Downtime;
use crate::record::Hop;

/// Nearest-rank percentile `p` (0 < p ≤ 100) of `values`; `None` when there are none (or p is out of range).
pub fn nearest_rank(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// p50, p95 and max of a set of values.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Spread {
    /// Over the finite values (NaN and infinities are not measurements); `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        Some(Spread {
            count: values.len(),
            p50: nearest_rank(&values, 50.0)?,
            p95: nearest_rank(&values, 95.0)?,
            max: nearest_rank(&values, 100.0)?,
        })
    }
}

/// One target's downtime over the hops.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpread {
    pub target: String,
    /// Over the hops where the downtime was measured, in ms.
    pub downtime_ms: Option<Spread>,
    /// Hops where nothing was lost (any outage below the resolution).
    pub below_resolution: usize,
    /// Hops (1-based) where the downtime could not be measured.
    pub not_measured_hops: Vec<u32>,
}

/// The figures over all hops.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HopStats {
    pub hops: usize,
    /// Over the hops with a duration (seconds).
    pub duration_seconds: Option<Spread>,
    /// Per target, in the order first probed.
    pub targets: Vec<TargetSpread>,
}

/// The figures over `hops`.
pub fn hop_stats(hops: &[Hop]) -> HopStats {
    let durations: Vec<f64> = hops.iter().filter_map(|h| h.result.duration_seconds).map(|s| s as f64).collect();
    let mut names: Vec<&str> = Vec::new();
    for t in hops.iter().flat_map(|h| &h.targets) {
        if !names.contains(&t.target.target.as_str()) {
            names.push(&t.target.target);
        }
    }
    let targets = names
        .into_iter()
        .map(|name| {
            let (mut measured, mut below, mut not_measured) = (Vec::new(), 0, Vec::new());
            for hop in hops {
                let Some(t) = hop.targets.iter().find(|t| t.target.target == name) else { continue };
                match t.analysis.as_ref().map(|a| &a.downtime) {
                    Some(Downtime::Measured { ms, .. }) => measured.push(*ms),
                    Some(Downtime::BelowResolution { .. }) => below += 1,
                    _ => not_measured.push(hop.index),
                }
            }
            TargetSpread {
                target: name.to_string(),
                downtime_ms: Spread::of(&measured),
                below_resolution: below,
                not_measured_hops: not_measured,
            }
        })
        .collect();
    HopStats { hops: hops.len(), duration_seconds: Spread::of(&durations), targets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::gates::tests::target;

    #[test]
    fn nearest_rank_picks_an_observed_value() {
        let v = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(nearest_rank(&v, 50.0), Some(35.0)); // rank ⌈2.5⌉ = 3
        assert_eq!(nearest_rank(&v, 95.0), Some(50.0)); // rank ⌈4.75⌉ = 5
        assert_eq!(nearest_rank(&v, 30.0), Some(20.0)); // rank ⌈1.5⌉ = 2
        assert_eq!(nearest_rank(&v, 100.0), Some(50.0));
        assert_eq!(nearest_rank(&[3.0, 1.0, 2.0], 50.0), Some(2.0), "unsorted input");
        assert_eq!(nearest_rank(&[7.0], 95.0), Some(7.0));
        assert_eq!(nearest_rank(&[], 50.0), None);
        assert_eq!(nearest_rank(&v, 0.0), None);
        assert_eq!(nearest_rank(&v, 101.0), None);
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&twenty, 95.0), Some(19.0)); // rank ⌈19⌉ = 19
    }

    #[test]
    fn spread_counts_only_finite_values() {
        let s = Spread::of(&[5.0, 1.0, 4.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.count, s.p50, s.p95, s.max), (5, 3.0, 5.0, 5.0));
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Spread::of(&hundred).unwrap();
        assert_eq!((s.p50, s.p95, s.max), (50.0, 95.0, 100.0));
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[f64::NAN]).is_none());
        assert_eq!(Spread::of(&[f64::NAN, 2.0, f64::INFINITY]).unwrap().count, 1);
    }

    #[test]
    fn stats_over_hops_keep_unmeasured_hops_out_of_the_figures() {
        let measured = |ms| Downtime::Measured { ms, resolution_ms: 20.0, window: 0 };
        let downtimes = [
            measured(180.0),
            measured(200.0),
            Downtime::BelowResolution { resolution_ms: 20.0 },
            Downtime::NotMeasured { reason: "x".into() },
            measured(240.0),
        ];
        let hops: Vec<Hop> = downtimes
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let mut result = crate::migrate::measure::fixtures::result();
                result.duration_seconds = Some(10 + i as i64);
                Hop {
                    index: i as u32 + 1,
                    result,
                    targets: vec![target("10.0.0.1", d)],
                    hypervisor_downtime_ms: None,
                    hypervisor_downtime_unavailable: None,
                }
            })
            .collect();
        let s = hop_stats(&hops);
        assert_eq!(s.hops, 5);
        assert_eq!(s.duration_seconds, Some(Spread { count: 5, p50: 12.0, p95: 14.0, max: 14.0 }));
        let t = &s.targets[0];
        assert_eq!(t.target, "10.0.0.1");
        assert_eq!(t.downtime_ms, Some(Spread { count: 3, p50: 200.0, p95: 240.0, max: 240.0 }));
        assert_eq!((t.below_resolution, t.not_measured_hops.as_slice()), (1, &[4][..]));
    }

    #[test]
    fn no_hops_no_figures() {
        let s = hop_stats(&[]);
        assert_eq!((s.hops, s.duration_seconds, s.targets.len()), (0, None, 0));
    }
}
