//! Downtime analysis of one probe target: from a series of samples to outage windows, downtime and RTT figures.
//!
//! The method (see `testdata/ping/README.md` for the real captures it was checked against):
//! - an **outage window** is a maximal run of lost samples (by sequence number);
//! - the outage began between the last answered sample and the first lost one, and ended between the last lost
//!   sample and the first answered one; each edge is taken in the middle of its interval and known to ± half its
//!   width. For ping at a steady spacing this is exactly `t(first reply after) − t(last reply before) − interval`
//!   with a resolution of ± one interval, where the interval is the **achieved** one (replies are timestamped; ping
//!   achieves more than it is asked: `ping -i 0.02` gave about 24 ms on the capture machine). For HTTP the edges are
//!   as wide as the requests around them (a failed request waits for its timeout), and the resolution says so. The
//!   lost count × achieved interval is kept as a cross-check, not as the figure;
//! - the **downtime** is the longest window, with that window's resolution;
//! - no loss at all is reported as [`Downtime::BelowResolution`], never as a plain zero; a target that never answered
//!   and a probe that cannot measure are [`Downtime::NotMeasured`]; a probe that died early or an outage still open at
//!   the end is [`Downtime::Incomplete`] (a lower bound), never a zero.
//!
//! Clocks: samples carry the prober's clock (iputils `-D`, `date +%s.%N` in the container, or the plugin's receive
//! time). [`AnalysisOptions::clock_offset_us`] (cluster clock − prober clock) shifts every reported instant onto the
//! cluster's clock before windows are placed on the migration timeline. Window lengths use one clock only and do not
//! depend on it. Caveat: the cluster's own phase timestamps are RFC 3339 with one-second precision and node clocks
//! are only as good as their NTP sync, so placement on the timeline is ± 1 s plus the unknown skew, while lengths keep
//! the probe's resolution.

use serde::Serialize;

/// Microseconds since the Unix epoch.
pub type UnixMicros = i64;

/// One probe request and its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Sequence number (unwrapped: strictly increasing over the run).
    pub seq: u64,
    /// When it happened on the prober's clock: the reply's receive time for ping replies, an estimate of when the
    /// reply was due for lost pings, the request's start time for HTTP.
    pub at_us: UnixMicros,
    /// Whether the target answered (a ping reply; an HTTP 2xx/3xx response).
    pub ok: bool,
    /// Round-trip or request time, when known.
    pub rtt_ms: Option<f64>,
}

/// How the probe process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum ProbeEnd {
    /// It ran to its deadline and printed its summary.
    Completed,
    /// It stopped before its deadline or without its summary (killed, crashed, stream cut).
    EndedEarly {
        /// What is known about why.
        reason: String,
    },
    /// It cannot measure downtime at all (no permission, a ping without per-reply output, unknown host...).
    CannotMeasure {
        /// Why.
        reason: String,
    },
}

/// The samples of one probe target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSeries {
    /// The target as probed (address, name or URL).
    pub target: String,
    /// `"icmp"` or `"http"`.
    pub method: String,
    /// The interval asked for.
    pub requested_interval_us: i64,
    /// The samples, ordered by sequence number.
    pub samples: Vec<Sample>,
    /// How the probe ended.
    pub end: ProbeEnd,
}

/// A migration phase transition on the cluster's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseMark {
    /// The phase entered (e.g. `Scheduling`, `Running`, `Succeeded`).
    pub phase: String,
    /// When it was entered.
    pub at_us: UnixMicros,
}

/// The migration as the cluster saw it, to place outage windows and split RTT figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationTimeline {
    /// Phase transitions, in any order.
    pub phases: Vec<PhaseMark>,
    /// The switchover instant (e.g. `migrationState.targetNodeDomainReadyTimestamp`), if known.
    pub switchover_us: Option<UnixMicros>,
    /// Start of the migration window for the before/during/after RTT split; defaults to the first phase mark.
    pub start_us: Option<UnixMicros>,
    /// End of the migration window; defaults to the last phase mark.
    pub end_us: Option<UnixMicros>,
}

impl MigrationTimeline {
    fn window(&self) -> Option<(UnixMicros, UnixMicros)> {
        let first = self.phases.iter().map(|p| p.at_us).min();
        let last = self.phases.iter().map(|p| p.at_us).max();
        Some((self.start_us.or(first)?, self.end_us.or(last)?))
    }

    /// The phase in force at `at`: the latest mark at or before it (None before the first mark).
    fn phase_at(&self, at: UnixMicros) -> Option<&str> {
        self.phases.iter().filter(|p| p.at_us <= at).max_by_key(|p| p.at_us).map(|p| p.phase.as_str())
    }
}

/// Analysis parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Cluster clock minus prober clock, added to every sample time before it is reported or placed.
    pub clock_offset_us: i64,
}

/// A run of lost samples between two answered ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutageWindow {
    /// First lost sequence number.
    pub first_lost_seq: u64,
    /// Last lost sequence number.
    pub last_lost_seq: u64,
    /// How many samples were lost.
    pub lost_count: u64,
    /// The last answered sample before the window (cluster clock), if any.
    pub last_ok_before_us: Option<UnixMicros>,
    /// The first answered sample after the window (cluster clock), if any.
    pub first_ok_after_us: Option<UnixMicros>,
    /// Estimated start (cluster clock): midway between the last answer and the first loss, or the first loss if
    /// nothing answered before.
    pub start_us: UnixMicros,
    /// Estimated end (cluster clock): midway between the last loss and the first answer, or the last loss if
    /// nothing answered after.
    pub end_us: UnixMicros,
    /// `end − start` (for steady ping: reply gap − interval), never negative. A lower bound when `closed` is false.
    pub length_ms: f64,
    /// Cross-check: lost count × achieved interval.
    pub lost_estimate_ms: f64,
    /// ± this much on `length_ms`: half the sum of the two edges' widths (one interval for steady ping).
    pub resolution_ms: f64,
    /// Both edges were seen (an answer before and after).
    pub closed: bool,
    /// The migration phase in force at `start_us`, if a timeline was given and the window is not before it.
    pub phase: Option<String>,
    /// `start_us − switchover` in ms, if a switchover instant was given.
    pub offset_from_switchover_ms: Option<f64>,
}

/// The downtime verdict for one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Downtime {
    /// The longest complete outage window.
    #[serde(rename_all = "camelCase")]
    Measured {
        /// Its length.
        ms: f64,
        /// ± this much.
        resolution_ms: f64,
        /// Index into `windows`.
        window: usize,
    },
    /// No sample was lost: any outage was shorter than the resolution.
    #[serde(rename_all = "camelCase")]
    BelowResolution {
        /// The resolution (the achieved interval).
        resolution_ms: f64,
    },
    /// Only a lower bound is known (the probe died, or the target was not answering at its start or end).
    #[serde(rename_all = "camelCase")]
    Incomplete {
        /// At least this long (0 when nothing was lost before the probe died).
        at_least_ms: f64,
        /// ± this much.
        resolution_ms: f64,
        /// Why only a lower bound.
        reason: String,
    },
    /// Nothing can be said.
    NotMeasured {
        /// Why.
        reason: String,
    },
}

/// Round-trip figures over a set of answered samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RttStats {
    /// Samples with an RTT.
    pub count: usize,
    /// Median.
    pub median_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
}

/// RTT before, during and after the migration window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RttByPhase {
    /// Before the migration started.
    pub before: Option<RttStats>,
    /// While it ran.
    pub during: Option<RttStats>,
    /// After it ended.
    pub after: Option<RttStats>,
}

/// Everything measured for one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetAnalysis {
    /// The target.
    pub target: String,
    /// `"icmp"` or `"http"`.
    pub method: String,
    /// Samples sent.
    pub sent: u64,
    /// Samples answered.
    pub received: u64,
    /// Lost / sent, in [0, 1] (0 when nothing was sent).
    pub loss_ratio: f64,
    /// The interval asked for.
    pub requested_interval_ms: f64,
    /// The interval achieved (median spacing of consecutive answers).
    pub achieved_interval_ms: f64,
    /// Outage windows, in time order, not overlapping.
    pub windows: Vec<OutageWindow>,
    /// The verdict.
    pub downtime: Downtime,
    /// RTT overall.
    pub rtt: Option<RttStats>,
    /// RTT split by the migration window (all empty without a timeline).
    pub rtt_by_phase: RttByPhase,
    /// How the probe ended.
    pub probe_end: ProbeEnd,
    /// The clock offset applied (cluster − prober), ms.
    pub clock_offset_ms: f64,
}

/// Analyses one target's samples, placing windows on `timeline` if given.
pub fn analyse(series: &ProbeSeries, timeline: Option<&MigrationTimeline>, options: AnalysisOptions) -> TargetAnalysis {
    let mut samples = series.samples.clone();
    samples.sort_by_key(|s| s.seq);
    samples.dedup_by_key(|s| s.seq);
    let offset = options.clock_offset_us;
    let sent = samples.len() as u64;
    let received = samples.iter().filter(|s| s.ok).count() as u64;
    let loss_ratio = if sent == 0 { 0.0 } else { (sent - received) as f64 / sent as f64 };
    let requested_ms = us_to_ms(series.requested_interval_us.max(0));
    let interval_ms = achieved_interval_ms(&samples).unwrap_or(requested_ms);
    let windows: Vec<OutageWindow> =
        outage_windows(&samples, interval_ms).into_iter().map(|w| place(w, offset, timeline)).collect();
    let downtime = verdict(series, &windows, received, interval_ms);
    let shifted = |s: &Sample| s.ok.then_some(s.rtt_ms).flatten().map(|rtt| (s.at_us.saturating_add(offset), rtt));
    let rtts: Vec<(UnixMicros, f64)> = samples.iter().filter_map(shifted).collect();
    let rtt = rtt_stats(rtts.iter().map(|(_, r)| *r));
    let rtt_by_phase = match timeline.and_then(MigrationTimeline::window) {
        Some((start, end)) => RttByPhase {
            before: rtt_stats(rtts.iter().filter(|(t, _)| *t < start).map(|(_, r)| *r)),
            during: rtt_stats(rtts.iter().filter(|(t, _)| (start..=end).contains(t)).map(|(_, r)| *r)),
            after: rtt_stats(rtts.iter().filter(|(t, _)| *t > end).map(|(_, r)| *r)),
        },
        None => RttByPhase::default(),
    };
    TargetAnalysis {
        target: series.target.clone(),
        method: series.method.clone(),
        sent,
        received,
        loss_ratio,
        requested_interval_ms: requested_ms,
        achieved_interval_ms: interval_ms,
        windows,
        downtime,
        rtt,
        rtt_by_phase,
        probe_end: series.end.clone(),
        clock_offset_ms: us_to_ms(offset),
    }
}

fn us_to_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// Median spacing of answered samples with consecutive sequence numbers, if there is any such pair.
fn achieved_interval_ms(samples: &[Sample]) -> Option<f64> {
    median_spacing_ms(samples.iter().filter(|s| s.ok).map(|s| (s.seq, s.at_us)))
}

/// Median time between points `(seq, at)` whose sequence numbers follow each other (input ordered by seq).
pub(crate) fn median_spacing_ms(points: impl Iterator<Item = (u64, UnixMicros)>) -> Option<f64> {
    let points: Vec<(u64, UnixMicros)> = points.collect();
    let spacings = points
        .windows(2)
        .filter(|p| p[1].0 == p[0].0.saturating_add(1))
        .map(|p| us_to_ms(p[1].1.saturating_sub(p[0].1)).max(0.0));
    median(spacings.collect())
}

/// Windows on the prober's clock, unplaced.
fn outage_windows(samples: &[Sample], interval_ms: f64) -> Vec<OutageWindow> {
    let mut windows = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        if samples[i].ok {
            i += 1;
            continue;
        }
        let first = i;
        while i < samples.len() && !samples[i].ok {
            i += 1;
        }
        let lost = &samples[first..i];
        let before = first.checked_sub(1).map(|b| samples[b]);
        let after = samples.get(i).copied();
        let (first_lost, last_lost) = (lost[0], lost[lost.len() - 1]);
        // The outage began between the last answer and the first loss, and ended between the last loss and the
        // first answer: take the middle of each edge, known to ± half its width.
        let edge =
            |a: Sample, b: Sample| (midpoint(a.at_us, b.at_us), us_to_ms(b.at_us.saturating_sub(a.at_us)).max(0.0));
        let (start, start_width) = before.map_or((first_lost.at_us, 0.0), |b| edge(b, first_lost));
        let (end, end_width) = after.map_or((last_lost.at_us, 0.0), |a| edge(last_lost, a));
        let end = end.max(start);
        let lost_count = lost.len() as u64;
        windows.push(OutageWindow {
            first_lost_seq: first_lost.seq,
            last_lost_seq: last_lost.seq,
            lost_count,
            last_ok_before_us: before.map(|b| b.at_us),
            first_ok_after_us: after.map(|a| a.at_us),
            start_us: start,
            end_us: end,
            length_ms: us_to_ms(end.saturating_sub(start)),
            lost_estimate_ms: lost_count as f64 * interval_ms,
            resolution_ms: ((start_width + end_width) / 2.0).max(f64::MIN_POSITIVE),
            closed: before.is_some() && after.is_some(),
            phase: None,
            offset_from_switchover_ms: None,
        });
    }
    windows
}

fn midpoint(a: UnixMicros, b: UnixMicros) -> UnixMicros {
    a.saturating_add(b.saturating_sub(a) / 2)
}

/// Moves a window onto the cluster clock and places it on the timeline.
fn place(mut w: OutageWindow, offset: i64, timeline: Option<&MigrationTimeline>) -> OutageWindow {
    let shift = |t: UnixMicros| t.saturating_add(offset);
    w.start_us = shift(w.start_us);
    w.end_us = shift(w.end_us);
    w.last_ok_before_us = w.last_ok_before_us.map(shift);
    w.first_ok_after_us = w.first_ok_after_us.map(shift);
    if let Some(t) = timeline {
        w.phase = t.phase_at(w.start_us).map(str::to_string);
        w.offset_from_switchover_ms = t.switchover_us.map(|s| us_to_ms(w.start_us.saturating_sub(s)));
    }
    w
}

fn verdict(series: &ProbeSeries, windows: &[OutageWindow], received: u64, interval_ms: f64) -> Downtime {
    if let ProbeEnd::CannotMeasure { reason } = &series.end {
        return Downtime::NotMeasured { reason: reason.clone() };
    }
    if series.samples.is_empty() {
        return Downtime::NotMeasured { reason: "the probe produced no samples".into() };
    }
    if received == 0 {
        return Downtime::NotMeasured { reason: "the target never answered during the probe".into() };
    }
    let longest = |closed: bool| {
        windows
            .iter()
            .enumerate()
            .filter(|(_, w)| w.closed == closed)
            .max_by(|(_, a), (_, b)| a.length_ms.total_cmp(&b.length_ms))
    };
    let closed = longest(true);
    let open = longest(false);
    let at_least = closed.into_iter().chain(open).map(|(_, w)| w.length_ms).fold(0.0, f64::max);
    let resolution = closed.into_iter().chain(open).map(|(_, w)| w.resolution_ms).fold(interval_ms, f64::max);
    if let ProbeEnd::EndedEarly { reason } = &series.end {
        return Downtime::Incomplete {
            at_least_ms: at_least,
            resolution_ms: resolution,
            reason: format!("the probe ended early ({reason}); a later outage would have been missed"),
        };
    }
    match (closed, open) {
        (c, Some((_, o))) if c.is_none_or(|(_, c)| o.length_ms >= c.length_ms) => {
            let when = if o.last_ok_before_us.is_none() { "start" } else { "end" };
            Downtime::Incomplete {
                at_least_ms: at_least,
                resolution_ms: resolution,
                reason: format!("the target was not answering at the {when} of the probe"),
            }
        }
        (Some((i, c)), _) => Downtime::Measured { ms: c.length_ms, resolution_ms: c.resolution_ms, window: i },
        (None, _) => Downtime::BelowResolution { resolution_ms: interval_ms },
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

fn rtt_stats(values: impl Iterator<Item = f64>) -> Option<RttStats> {
    let mut v: Vec<f64> = values.filter(|r| r.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let count = v.len();
    let p99_rank = (count * 99).div_ceil(100).max(1) - 1;
    let p99 = *v.get(p99_rank)?;
    Some(RttStats { count, median_ms: median(v)?, p99_ms: p99 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A series at `interval_us` where samples whose time falls in `[gap_at, gap_at + gap)` are lost.
    fn series(n: u64, interval_us: i64, gap_at: i64, gap: i64) -> ProbeSeries {
        let samples = (0..n)
            .map(|k| {
                let at = 1_000_000 + k as i64 * interval_us;
                let ok = !(gap_at..gap_at + gap).contains(&at);
                Sample { seq: k + 1, at_us: at, ok, rtt_ms: ok.then_some(0.5) }
            })
            .collect();
        ProbeSeries {
            target: "10.0.0.5".into(),
            method: "icmp".into(),
            requested_interval_us: interval_us,
            samples,
            end: ProbeEnd::Completed,
        }
    }

    #[test]
    fn a_gap_is_measured_from_reply_times_minus_one_interval() {
        let a = analyse(&series(200, 24_000, 2_000_000, 600_000), None, AnalysisOptions::default());
        assert_eq!(a.windows.len(), 1);
        let w = &a.windows[0];
        assert_eq!(w.lost_count, 25);
        assert!(w.closed);
        assert_eq!(a.achieved_interval_ms, 24.0);
        // last reply before at 1.984 s, first after at 2.608 s: gap 624 ms − 24 ms.
        assert_eq!(w.length_ms, 600.0);
        assert_eq!(w.lost_estimate_ms, 600.0);
        assert_eq!(a.downtime, Downtime::Measured { ms: 600.0, resolution_ms: 24.0, window: 0 });
        assert_eq!(a.sent, 200);
        assert_eq!(a.received, 175);
        assert!((a.loss_ratio - 0.125).abs() < 1e-12);
    }

    #[test]
    fn no_loss_is_below_resolution_not_zero() {
        let a = analyse(&series(50, 20_000, 0, 0), None, AnalysisOptions::default());
        assert_eq!(a.downtime, Downtime::BelowResolution { resolution_ms: 20.0 });
        assert!(a.windows.is_empty());
        let json = serde_json::to_value(&a.downtime).unwrap();
        assert_eq!(json, serde_json::json!({"status": "belowResolution", "resolutionMs": 20.0}));
    }

    #[test]
    fn a_target_that_never_answers_is_not_measured() {
        let mut s = series(10, 20_000, 0, 0);
        s.samples.iter_mut().for_each(|x| x.ok = false);
        let a = analyse(&s, None, AnalysisOptions::default());
        assert_eq!(a.downtime, Downtime::NotMeasured { reason: "the target never answered during the probe".into() });
        assert_eq!(a.loss_ratio, 1.0);
        let empty = ProbeSeries { samples: vec![], ..s.clone() };
        assert!(matches!(analyse(&empty, None, AnalysisOptions::default()).downtime, Downtime::NotMeasured { .. }));
        let cannot = ProbeSeries { end: ProbeEnd::CannotMeasure { reason: "no ping".into() }, ..s };
        assert_eq!(
            analyse(&cannot, None, AnalysisOptions::default()).downtime,
            Downtime::NotMeasured { reason: "no ping".into() }
        );
    }

    #[test]
    fn a_probe_that_ended_early_never_claims_zero() {
        let mut s = series(50, 20_000, 0, 0);
        s.end = ProbeEnd::EndedEarly { reason: "ping: sendmsg: Network is unreachable".into() };
        match analyse(&s, None, AnalysisOptions::default()).downtime {
            Downtime::Incomplete { at_least_ms, reason, .. } => {
                assert_eq!(at_least_ms, 0.0);
                assert!(reason.contains("ended early") && reason.contains("sendmsg"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_outage_open_at_the_end_is_a_lower_bound() {
        let a = analyse(&series(100, 20_000, 2_000_000, 10_000_000), None, AnalysisOptions::default());
        assert_eq!(a.windows.len(), 1);
        assert!(!a.windows[0].closed);
        match a.downtime {
            Downtime::Incomplete { at_least_ms, reason, .. } => {
                // lost from 2.000 s to the last sample at 2.980 s; start midway from the last reply at 1.98 s.
                assert_eq!(at_least_ms, 990.0);
                assert!(reason.contains("end of the probe"));
            }
            other => panic!("{other:?}"),
        }
        let start = analyse(&series(100, 20_000, 0, 1_500_000), None, AnalysisOptions::default());
        assert!(matches!(start.downtime, Downtime::Incomplete { ref reason, .. } if reason.contains("start")));
    }

    #[test]
    fn a_longer_closed_window_wins_over_a_short_open_one() {
        let mut s = series(300, 20_000, 2_000_000, 700_000);
        let last = s.samples.len() - 1;
        s.samples[last].ok = false;
        let a = analyse(&s, None, AnalysisOptions::default());
        assert_eq!(a.windows.len(), 2);
        assert!(matches!(a.downtime, Downtime::Measured { window: 0, .. }), "{:?}", a.downtime);
    }

    #[test]
    fn the_achieved_interval_is_used_not_the_requested_one() {
        let mut s = series(200, 24_000, 2_000_000, 600_000);
        s.requested_interval_us = 20_000;
        let a = analyse(&s, None, AnalysisOptions::default());
        assert_eq!(a.requested_interval_ms, 20.0);
        assert_eq!(a.achieved_interval_ms, 24.0);
        assert_eq!(a.windows[0].length_ms, 600.0);
    }

    #[test]
    fn windows_are_placed_on_the_timeline_with_the_clock_offset() {
        let s = series(200, 20_000, 2_000_000, 600_000);
        let timeline = MigrationTimeline {
            phases: vec![
                PhaseMark { phase: "Running".into(), at_us: 2_500_000 },
                PhaseMark { phase: "Scheduling".into(), at_us: 1_500_000 },
                PhaseMark { phase: "Succeeded".into(), at_us: 3_500_000 },
            ],
            switchover_us: Some(2_600_000),
            start_us: None,
            end_us: None,
        };
        // The prober's clock is 1 s behind the cluster's.
        let a = analyse(&s, Some(&timeline), AnalysisOptions { clock_offset_us: 1_000_000 });
        let w = &a.windows[0];
        assert_eq!(w.start_us, 2_990_000);
        assert_eq!(w.end_us, 3_590_000);
        assert_eq!(w.phase.as_deref(), Some("Running"));
        assert_eq!(w.offset_from_switchover_ms, Some(390.0));
        assert_eq!(a.clock_offset_ms, 1000.0);
        // Answers on the cluster clock: 2.0 s .. 5.98 s minus the lost 3.0 .. 3.58 s; migration window 1.5 .. 3.5 s.
        let by = a.rtt_by_phase;
        assert_eq!(by.before, None);
        assert_eq!(by.during.map(|r| r.count), Some(50));
        assert_eq!(by.after.map(|r| r.count), Some(120));
        let early = analyse(&s, Some(&timeline), AnalysisOptions { clock_offset_us: -1_000_000 });
        assert_eq!(early.windows[0].phase, None);
    }

    #[test]
    fn rtt_median_and_p99() {
        let st = rtt_stats((1..=100).map(f64::from)).unwrap();
        assert_eq!(st, RttStats { count: 100, median_ms: 50.5, p99_ms: 99.0 });
        let one = rtt_stats([3.0].into_iter()).unwrap();
        assert_eq!((one.median_ms, one.p99_ms), (3.0, 3.0));
        assert_eq!(rtt_stats([f64::NAN].into_iter()), None);
    }

    #[test]
    fn serialises_in_camel_case() {
        let a = analyse(&series(200, 24_000, 2_000_000, 600_000), None, AnalysisOptions::default());
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["lossRatio"], serde_json::json!(0.125));
        assert_eq!(v["downtime"]["status"], "measured");
        assert_eq!(v["downtime"]["resolutionMs"], 24.0);
        assert_eq!(v["windows"][0]["lostEstimateMs"], 600.0);
        assert_eq!(v["probeEnd"]["status"], "completed");
    }
}
