//! What one hop measured, from plain data: the migration's timeline (to place the probe's outage windows), the
//! probe's per-target analysis on it, and the hypervisor pause from the source virt-launcher log.
//!
//! Clocks: the timeline is the cluster's (the VMIM's `phaseTransitionTimestamps` and the VMI's `migrationState`,
//! RFC 3339 with one-second precision); probe samples carry the prober's clock (`ping -D`, `date +%s.%N` in the
//! prober's container, i.e. its node's clock). No offset is applied between them: nodes are assumed NTP-synced,
//! and the one-second precision of the cluster's timestamps dominates any sane skew. Window *lengths* (the
//! downtime) use the prober's clock alone and do not depend on this. In vmmigrate-sim both clocks are the
//! simulated clock.

use jiff::Timestamp;

use crate::probe::analysis::{self, AnalysisOptions, Downtime, MigrationTimeline, PhaseMark, ProbeEnd, ProbeSeries};
use crate::record::{PlannedTarget, TargetResult};

use super::state::MigrationResult;

/// The migration on the cluster's clock: every phase reached with its timestamp, the switchover
/// (`targetNodeDomainReadyTimestamp`, else the libvirt job's end), and the window from the first to the final
/// phase.
pub fn timeline(result: &MigrationResult) -> MigrationTimeline {
    let phases = result
        .phases
        .iter()
        .filter_map(|p| Some(PhaseMark { phase: p.phase.clone(), at_us: micros(p.at.as_deref()?)? }))
        .collect();
    MigrationTimeline {
        phases,
        switchover_us: result.switchover_at.as_deref().and_then(micros),
        start_us: result.started_at.as_deref().and_then(micros),
        end_us: result.ended_at.as_deref().and_then(micros),
    }
}

fn micros(rfc3339: &str) -> Option<i64> {
    rfc3339.parse::<Timestamp>().ok().map(Timestamp::as_microsecond)
}

/// Analyses each target's series on the hop's timeline. A target whose downtime cannot be measured keeps its
/// analysis (sent, received, how the probe ended) and says why in `not_measured`.
pub fn hop_targets(series: Vec<(PlannedTarget, ProbeSeries)>, timeline: &MigrationTimeline) -> Vec<TargetResult> {
    series
        .into_iter()
        .map(|(target, mut s)| {
            // A probe that ran to its own end before the switchover did not see it: a lower bound at most, never
            // "no loss" (its in-container bound is meant to outlast the migration; this says so if it did not).
            let last = s.samples.iter().map(|x| x.at_us).max();
            if let (Some(last), Some(switchover), ProbeEnd::Completed) = (last, timeline.switchover_us, &s.end)
                && last < switchover
            {
                s.end = ProbeEnd::EndedEarly { reason: "the probe ended before the switchover".into() };
            }
            let a = analysis::analyse(&s, Some(timeline), AnalysisOptions::default());
            let not_measured = match &a.downtime {
                Downtime::NotMeasured { reason } => Some(reason.clone()),
                _ => None,
            };
            TargetResult { target, analysis: Some(a), not_measured }
        })
        .collect()
}

/// The hypervisor pause libvirt logged for this migration (`Downtime:<ms>ms` of the completed job in the source
/// virt-launcher's `Migration info` line, KubeVirt v1.9+; parsed by [`super::progress`]), or why it is not known.
pub fn hypervisor_downtime(result: &MigrationResult) -> (Option<f64>, Option<String>) {
    if let Some(ms) = result.last_progress.as_ref().and_then(|p| p.downtime_ms) {
        return (Some(ms as f64), None);
    }
    let why = match (&result.progress_unavailable, &result.last_progress) {
        (Some(why), _) => format!("the source virt-launcher log could not be read: {why}"),
        (None, Some(_)) => "the source virt-launcher log carries no Downtime: (KubeVirt logs the hypervisor pause \
                            from v1.9; this cluster's KubeVirt does not)"
            .to_string(),
        (None, None) if result.outcome != "Succeeded" => "the migration did not complete".to_string(),
        (None, None) => "the source virt-launcher log carried no migration info line".to_string(),
    };
    (None, Some(why))
}

/// A succeeded migration with phases, for the tests of the modules over hops.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::migrate::state::{MigrationResult, PhaseEntry};

    pub(crate) fn result() -> MigrationResult {
        let phase = |p: &str, at: &str| PhaseEntry { phase: p.into(), at: Some(at.into()), duration_seconds: None };
        MigrationResult {
            namespace: "ns".into(),
            vm: "vm".into(),
            migration: Some("m".into()),
            migration_uid: None,
            outcome: "Succeeded".into(),
            phase: Some("Succeeded".into()),
            source_node: Some("a".into()),
            target_node: Some("b".into()),
            requested_target_node: None,
            source_pod: None,
            target_pod: None,
            mode: None,
            started_at: Some("2026-01-01T00:00:00Z".into()),
            ended_at: Some("2026-01-01T00:00:10Z".into()),
            duration_seconds: Some(10),
            transfer_started_at: None,
            transfer_ended_at: Some("2026-01-01T00:00:09Z".into()),
            switchover_at: Some("2026-01-01T00:00:08Z".into()),
            phases: vec![
                phase("Pending", "2026-01-01T00:00:00Z"),
                phase("Running", "2026-01-01T00:00:05Z"),
                phase("Succeeded", "2026-01-01T00:00:10Z"),
            ],
            ip_addresses: vec![],
            ip_changed: false,
            vmi: None,
            failure_reason: None,
            abort_requested: false,
            aborted_by: None,
            abort_status: None,
            last_progress: None,
            progress_unavailable: None,
            warnings: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::result;
    use super::*;
    use crate::migrate::progress::ProgressSample;
    use crate::probe::analysis::Sample;

    const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

    #[test]
    fn timeline_is_the_phases_and_the_switchover_in_micros() {
        let t = timeline(&result());
        assert_eq!(t.phases.len(), 3);
        assert_eq!(t.phases[1], PhaseMark { phase: "Running".into(), at_us: T0 + 5_000_000 });
        assert_eq!(t.switchover_us, Some(T0 + 8_000_000));
        assert_eq!((t.start_us, t.end_us), (Some(T0), Some(T0 + 10_000_000)));
    }

    #[test]
    fn an_outage_is_placed_in_its_phase_relative_to_the_switchover() {
        // 20 ms pings from t0+7 s to t0+9 s; samples between 8.0 s and 8.2 s are lost.
        let samples = (0..100u64)
            .map(|i| {
                let at = T0 + 7_000_000 + i as i64 * 20_000;
                let lost = (8_000_000..8_200_000).contains(&(at - T0));
                Sample { seq: i, at_us: at, ok: !lost, rtt_ms: (!lost).then_some(0.5) }
            })
            .collect();
        let series = ProbeSeries {
            target: "10.0.0.1".into(),
            method: "icmp".into(),
            requested_interval_us: 20_000,
            samples,
            end: ProbeEnd::Completed,
        };
        let planned =
            PlannedTarget { target: "10.0.0.1".into(), method: "icmp".into(), source: "flag".into(), via: None };
        let r = hop_targets(vec![(planned, series)], &timeline(&result()));
        let a = r[0].analysis.as_ref().unwrap();
        assert!(r[0].not_measured.is_none());
        match a.downtime {
            Downtime::Measured { ms, resolution_ms, .. } => {
                assert!((ms - 200.0).abs() <= resolution_ms, "{ms} ± {resolution_ms}")
            }
            ref d => panic!("{d:?}"),
        }
        assert_eq!(a.windows[0].phase.as_deref(), Some("Running"));
        let offset = a.windows[0].offset_from_switchover_ms.unwrap();
        assert!((-20.0..=20.0).contains(&offset), "{offset}");
    }

    #[test]
    fn a_target_without_samples_says_why_it_was_not_measured() {
        let series = ProbeSeries {
            target: "x".into(),
            method: "icmp".into(),
            requested_interval_us: 20_000,
            samples: vec![],
            end: ProbeEnd::CannotMeasure { reason: "ping: permission denied".into() },
        };
        let planned = PlannedTarget { target: "x".into(), method: "icmp".into(), source: "flag".into(), via: None };
        let r = hop_targets(vec![(planned, series)], &MigrationTimeline::default());
        assert!(r[0].not_measured.as_deref().is_some_and(|w| !w.is_empty()), "{r:?}");
    }

    #[test]
    fn a_probe_that_ended_before_the_switchover_is_not_a_clean_result() {
        let sample = |seq: u64, at_us: i64| Sample { seq, at_us, ok: true, rtt_ms: Some(1.0) };
        let series = |end| ProbeSeries {
            target: "x".into(),
            method: "icmp".into(),
            requested_interval_us: 20_000,
            samples: (0..50).map(|i| sample(i, i as i64 * 20_000)).collect(),
            end,
        };
        let planned = PlannedTarget { target: "x".into(), method: "icmp".into(), source: "flag".into(), via: None };
        let timeline = MigrationTimeline { switchover_us: Some(5_000_000), ..Default::default() };
        let r = hop_targets(vec![(planned.clone(), series(ProbeEnd::Completed))], &timeline);
        let downtime = &r[0].analysis.as_ref().unwrap().downtime;
        assert!(matches!(downtime, Downtime::Incomplete { .. }), "{downtime:?}");
        let covered = MigrationTimeline { switchover_us: Some(500_000), ..Default::default() };
        let r = hop_targets(vec![(planned, series(ProbeEnd::Completed))], &covered);
        let downtime = &r[0].analysis.as_ref().unwrap().downtime;
        assert!(matches!(downtime, Downtime::BelowResolution { .. }), "{downtime:?}");
    }

    #[test]
    fn hypervisor_pause_from_the_v1_9_log_else_why_not() {
        let mut r = result();
        r.last_progress = Some(ProgressSample { downtime_ms: Some(187), ..Default::default() });
        assert_eq!(hypervisor_downtime(&r), (Some(187.0), None));
        r.last_progress = Some(ProgressSample { expected_downtime_ms: Some(120), ..Default::default() });
        let (ms, why) = hypervisor_downtime(&r);
        assert_eq!(ms, None);
        assert!(why.unwrap().contains("v1.9"));
        r.last_progress = None;
        r.progress_unavailable = Some("pods \"x\" is forbidden".into());
        assert!(hypervisor_downtime(&r).1.unwrap().contains("forbidden"));
        r.progress_unavailable = None;
        r.outcome = "Failed".into();
        assert_eq!(hypervisor_downtime(&r).1.as_deref(), Some("the migration did not complete"));
    }
}
