//! The thresholds of `run`: `--max-duration` per hop and `--max-downtime` per target per hop, evaluated over the
//! recorded hops. A gate never passes on missing data: a duration or downtime that was not measured fails it, with
//! the reason. Any failed gate makes `run` exit 7 (when the migrations themselves succeeded).

use std::time::Duration;

use crate::probe::analysis::Downtime;
use crate::record::{Gate, Hop, TargetResult};

/// Every gate asked for, over every hop, in hop order (duration first, then each target's downtime).
pub fn evaluate(hops: &[Hop], max_duration: Option<Duration>, max_downtime: Option<Duration>) -> Vec<Gate> {
    let mut gates = Vec::new();
    for hop in hops {
        if let Some(max) = max_duration {
            gates.push(duration_gate(hop, max));
        }
        if let Some(max) = max_downtime {
            gates.extend(hop.targets.iter().map(|t| downtime_gate(hop.index, t, max)));
        }
    }
    gates
}

/// Whether every gate held.
pub fn all_passed(gates: &[Gate]) -> bool {
    gates.iter().all(|g| g.passed)
}

fn duration_gate(hop: &Hop, max: Duration) -> Gate {
    let limit = max.as_secs_f64();
    let measured = hop.result.duration_seconds.map(|s| s as f64);
    let (passed, detail) = match measured {
        Some(took) if took <= limit => (true, format!("the migration took {took} s, within {limit} s")),
        Some(took) => (false, format!("the migration took {took} s, more than --max-duration {limit} s")),
        None => {
            (false, format!("not measured: the migration ended {} without a final phase timestamp", hop.result.outcome))
        }
    };
    Gate {
        name: "max-duration".into(),
        subject: format!("hop {}", hop.index),
        limit,
        measured,
        unit: "s".into(),
        passed,
        detail,
    }
}

fn downtime_gate(hop: u32, t: &TargetResult, max: Duration) -> Gate {
    let limit = max.as_secs_f64() * 1000.0;
    let gate = |measured: Option<f64>, passed: bool, detail: String| Gate {
        name: "max-downtime".into(),
        subject: format!("hop {hop} {}", t.target.target),
        limit,
        measured,
        unit: "ms".into(),
        passed,
        detail,
    };
    let Some(a) = &t.analysis else {
        let why = t.not_measured.clone().unwrap_or_else(|| "no probe data".into());
        return gate(None, false, format!("not measured: {why}"));
    };
    match &a.downtime {
        Downtime::Measured { ms, resolution_ms, .. } => {
            let passed = *ms <= limit;
            let verb = if passed { "within" } else { "more than --max-downtime" };
            gate(Some(*ms), passed, format!("downtime {ms:.0} ± {resolution_ms:.0} ms, {verb} {limit} ms"))
        }
        // Nothing was lost: the outage, if any, was shorter than the resolution. That holds the gate only when
        // the resolution itself is within the limit.
        Downtime::BelowResolution { resolution_ms } if *resolution_ms <= limit => {
            gate(None, true, format!("no loss: any outage was below the {resolution_ms:.0} ms resolution"))
        }
        Downtime::BelowResolution { resolution_ms } => gate(
            None,
            false,
            format!(
                "not measured precisely enough: no loss, but the {resolution_ms:.0} ms resolution exceeds {limit} ms"
            ),
        ),
        Downtime::Incomplete { at_least_ms, reason, .. } if *at_least_ms > limit => gate(
            Some(*at_least_ms),
            false,
            format!("downtime at least {at_least_ms:.0} ms ({reason}), more than {limit} ms"),
        ),
        Downtime::Incomplete { at_least_ms, reason, .. } => {
            gate(None, false, format!("not measured: only a lower bound of {at_least_ms:.0} ms ({reason})"))
        }
        Downtime::NotMeasured { reason } => gate(None, false, format!("not measured: {reason}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::analysis::{ProbeEnd, RttByPhase, TargetAnalysis};
    use crate::record::PlannedTarget;

    pub(crate) fn target(addr: &str, downtime: Downtime) -> TargetResult {
        let analysis = TargetAnalysis {
            target: addr.into(),
            method: "icmp".into(),
            sent: 100,
            received: 90,
            loss_ratio: 0.1,
            requested_interval_ms: 20.0,
            achieved_interval_ms: 20.0,
            windows: vec![],
            downtime,
            rtt: None,
            rtt_by_phase: RttByPhase::default(),
            probe_end: ProbeEnd::Completed,
            clock_offset_ms: 0.0,
        };
        let planned = PlannedTarget { target: addr.into(), method: "icmp".into(), source: "flag".into(), via: None };
        TargetResult { target: planned, analysis: Some(analysis), not_measured: None }
    }

    fn hop(index: u32, duration: Option<i64>, targets: Vec<TargetResult>) -> Hop {
        let mut result = crate::migrate::measure::fixtures::result();
        result.duration_seconds = duration;
        Hop { index, result, targets, hypervisor_downtime_ms: None, hypervisor_downtime_unavailable: None }
    }

    fn measured(ms: f64) -> Downtime {
        Downtime::Measured { ms, resolution_ms: 20.0, window: 0 }
    }

    #[test]
    fn downtime_gate_per_target_per_hop() {
        let hops = [
            hop(1, Some(10), vec![target("a", measured(180.0)), target("b", measured(250.0))]),
            hop(2, Some(10), vec![target("a", Downtime::BelowResolution { resolution_ms: 20.0 })]),
        ];
        let gates = evaluate(&hops, None, Some(Duration::from_millis(200)));
        let verdicts: Vec<(&str, bool)> = gates.iter().map(|g| (g.subject.as_str(), g.passed)).collect();
        assert_eq!(verdicts, [("hop 1 a", true), ("hop 1 b", false), ("hop 2 a", true)]);
        assert_eq!(gates[1].measured, Some(250.0));
        assert_eq!(gates[1].unit, "ms");
        assert!(gates[1].detail.contains("more than --max-downtime"), "{}", gates[1].detail);
        assert!(!all_passed(&gates));
    }

    #[test]
    fn missing_data_never_passes_a_gate() {
        let unmeasured = [
            (Downtime::NotMeasured { reason: "ping: permission denied".into() }, 1),
            (Downtime::Incomplete { at_least_ms: 40.0, resolution_ms: 20.0, reason: "probe died".into() }, 100),
            (Downtime::BelowResolution { resolution_ms: 20.0 }, 1),
        ];
        for (d, limit) in unmeasured {
            let gates =
                evaluate(&[hop(1, Some(1), vec![target("a", d.clone())])], None, Some(Duration::from_millis(limit)));
            assert!(!gates[0].passed, "{d:?} passed a {limit} ms gate");
            assert!(gates[0].detail.starts_with("not measured"), "{}", gates[0].detail);
        }
        let mut no_analysis = target("a", measured(1.0));
        no_analysis.analysis = None;
        no_analysis.not_measured = Some("the prober pod was evicted".into());
        let gates = evaluate(&[hop(1, Some(1), vec![no_analysis])], None, Some(Duration::from_secs(1)));
        assert!(!gates[0].passed && gates[0].detail.contains("evicted"), "{gates:?}");
    }

    #[test]
    fn an_incomplete_outage_longer_than_the_limit_fails_with_its_lower_bound() {
        let d = Downtime::Incomplete { at_least_ms: 900.0, resolution_ms: 20.0, reason: "still out at the end".into() };
        let gates = evaluate(&[hop(1, Some(1), vec![target("a", d)])], None, Some(Duration::from_millis(500)));
        assert_eq!((gates[0].passed, gates[0].measured), (false, Some(900.0)));
    }

    #[test]
    fn duration_gate_per_hop() {
        let hops = [hop(1, Some(30), vec![]), hop(2, Some(61), vec![]), hop(3, None, vec![])];
        let gates = evaluate(&hops, Some(Duration::from_secs(60)), None);
        let verdicts: Vec<(&str, bool, Option<f64>)> =
            gates.iter().map(|g| (g.subject.as_str(), g.passed, g.measured)).collect();
        assert_eq!(verdicts, [("hop 1", true, Some(30.0)), ("hop 2", false, Some(61.0)), ("hop 3", false, None)]);
        assert!(gates[2].detail.starts_with("not measured"));
        assert!(evaluate(&hops, None, None).is_empty());
    }
}
