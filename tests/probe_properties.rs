//! Property tests of the probe core: no input makes a parser panic, and the downtime analysis keeps its invariants
//! and finds injected outages within one interval.

use std::time::Duration;

use kubectl_vmmigrate::probe::analysis::{AnalysisOptions, Downtime, ProbeEnd, ProbeSeries, Sample, analyse};
use kubectl_vmmigrate::probe::command::ToolReport;
use kubectl_vmmigrate::probe::http::{HttpParser, parse_http_line};
use kubectl_vmmigrate::probe::ping::{PingParser, parse_line};
use kubectl_vmmigrate::probe::synthetic::{SyntheticRun, iputils_output};
use kubectl_vmmigrate::probe::target::ProbeTarget;
use proptest::prelude::*;

/// Lines that look like ping / probe output with mangled fields: huge numbers, NaN-like text, truncation.
fn ping_like_line() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("99999999999999999999.999999".to_string()),
        Just("".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "[0-9]{1,3}\\.[0-9]{0,9}",
    ];
    let template = prop_oneof![
        Just("[{}] 64 bytes from 10.0.0.5: icmp_seq={} ttl={} time={} ms"),
        Just("64 bytes from ::1: seq={} ttl={} time={} ms (DUP!) {}"),
        Just("[{}] no answer yet for icmp_seq={}{}{}"),
        Just("[{}] From {} icmp_seq={} Destination Host Unreachable{}"),
        Just("{} packets transmitted, {} received, +{} errors, {}% packet loss, time 1ms"),
        Just("{} packets transmitted, {} packets received, {}% packet loss{}"),
        Just("rtt min/avg/max/mdev = {}/{}/{}/{} ms"),
        Just("round-trip min/avg/max = {}/{}/{} ms{}"),
        Just("PING {} ({}) {}{}"),
        Just("vmmprobe-http {} {} {} {} 0 oops"),
        Just("vmmprobe-http-end {}{}{}{}"),
        Just("vmmprobe-tool ping {}{}{}{}"),
    ];
    (template, proptest::collection::vec(number, 4), any::<usize>()).prop_map(|(t, n, cut)| {
        let mut line = t.to_string();
        for v in &n {
            line = line.replacen("{}", v, 1);
        }
        // truncate at a char boundary
        let cut = cut % (line.len() + 1);
        let cut = (0..=cut).rev().find(|i| line.is_char_boundary(*i)).unwrap_or(0);
        line.truncate(cut.max(line.len() / 2));
        line
    })
}

fn feed_everything(lines: &[String]) {
    let mut ping = PingParser::new();
    let mut http = HttpParser::new();
    for (i, l) in lines.iter().enumerate() {
        let at = Some(i as i64 * 20_000);
        let _ = parse_line(l, at);
        let _ = parse_http_line(l, at);
        let _ = ping.feed(l, at);
        let _ = http.feed(l, at);
        let _ = l.parse::<ProbeTarget>();
    }
    let _ = ToolReport::parse(&lines.join("\n"));
    let (series, _) = ping.finish("x", Duration::from_millis(20), Duration::from_secs(4));
    let _ = analyse(&series, None, AnalysisOptions::default());
    let (series, _) = http.finish("http://x/", Duration::from_millis(20));
    let _ = analyse(&series, None, AnalysisOptions::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_text(lines in proptest::collection::vec(any::<String>(), 0..20)) {
        feed_everything(&lines);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        feed_everything(&text.lines().map(str::to_string).collect::<Vec<_>>());
    }

    #[test]
    fn parsers_never_panic_on_mangled_ping_lines(lines in proptest::collection::vec(ping_like_line(), 0..30)) {
        feed_everything(&lines);
    }

    #[test]
    fn accepted_targets_are_safe_argv_elements(s in "[ -~]{0,40}") {
        if let Ok(t) = s.parse::<ProbeTarget>() {
            let text = t.to_string();
            prop_assert!(!text.starts_with('-'));
            prop_assert!(!text.chars().any(|c| c.is_whitespace() || "`$;|<>(){}\\\"'*!".contains(c)), "{text}");
            // normalisation is idempotent
            prop_assert_eq!(text.parse::<ProbeTarget>().map(|t| t.to_string()), Ok(text.clone()));
        }
    }

    #[test]
    fn analysis_invariants_hold_for_any_loss_pattern(
        pattern in proptest::collection::vec(any::<bool>(), 0..300),
        interval_us in 2_000i64..200_000,
        jitter in proptest::collection::vec(0i64..1_000, 300),
        offset in -5_000_000i64..5_000_000,
        ended_early in any::<bool>(),
    ) {
        let mut t = 1_000_000_000_000i64;
        let samples: Vec<Sample> = pattern.iter().enumerate().map(|(i, ok)| {
            // jitter below half the interval keeps times increasing
            t += interval_us + jitter[i] * interval_us / 2_000;
            Sample { seq: i as u64 + 1, at_us: t, ok: *ok, rtt_ms: ok.then_some(0.2) }
        }).collect();
        let end = if ended_early { ProbeEnd::EndedEarly { reason: "killed".into() } } else { ProbeEnd::Completed };
        let series = ProbeSeries {
            target: "t".into(), method: "icmp".into(), requested_interval_us: interval_us, samples, end,
        };
        let a = analyse(&series, None, AnalysisOptions { clock_offset_us: offset });
        prop_assert!((0.0..=1.0).contains(&a.loss_ratio));
        prop_assert_eq!(a.sent, pattern.len() as u64);
        prop_assert_eq!(a.received, pattern.iter().filter(|ok| **ok).count() as u64);
        prop_assert_eq!(a.windows.iter().map(|w| w.lost_count).sum::<u64>(), a.sent - a.received);
        for w in &a.windows {
            prop_assert!(w.length_ms >= 0.0 && w.start_us <= w.end_us && w.resolution_ms > 0.0, "{:?}", w);
        }
        for pair in a.windows.windows(2) {
            prop_assert!(pair[0].end_us <= pair[1].start_us, "{:?}", pair);
            prop_assert!(pair[0].last_lost_seq < pair[1].first_lost_seq);
        }
        match &a.downtime {
            Downtime::Measured { ms, resolution_ms, window } => {
                prop_assert!(*ms >= 0.0 && *resolution_ms > 0.0 && !ended_early);
                prop_assert_eq!(a.windows[*window].length_ms, *ms);
            }
            Downtime::BelowResolution { .. } => prop_assert!(a.windows.is_empty() && !ended_early),
            Downtime::Incomplete { at_least_ms, .. } => prop_assert!(*at_least_ms >= 0.0),
            Downtime::NotMeasured { .. } => prop_assert!(a.received == 0),
        }
    }

    #[test]
    fn injected_outages_are_found_within_one_interval(
        outage_ms in prop_oneof![Just(0.0), Just(20.0), Just(180.0), Just(730.0), Just(2500.0), 0.0f64..3000.0],
        interval_ms in prop_oneof![Just(10.0), Just(20.0), Just(50.0), Just(100.0)],
        stretch in 1.0f64..1.3,
        jitter_frac in 0.0f64..0.2,
        at_ms in 1000.0f64..1500.0,
        seed in any::<u64>(),
    ) {
        let run = SyntheticRun {
            interval_ms, stretch, jitter_ms: interval_ms * jitter_frac, rtt_ms: 0.3,
            duration_ms: at_ms + outage_ms + 1500.0, outage_at_ms: at_ms, outage_ms, seed,
        };
        let mut p = PingParser::new();
        for line in iputils_output(&run) {
            p.feed(&line, None);
        }
        let (series, _) = p.finish("10.0.0.5", Duration::from_secs_f64(interval_ms / 1000.0), Duration::from_secs(10));
        let a = analyse(&series, None, AnalysisOptions::default());
        let measured = match a.downtime {
            Downtime::Measured { ms, .. } => ms,
            Downtime::BelowResolution { .. } => 0.0,
            ref other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        // one achieved interval, plus the jitter on each edge
        let tolerance = a.achieved_interval_ms + 2.0 * run.jitter_ms + 1e-6;
        prop_assert!((measured - outage_ms).abs() <= tolerance,
            "outage {outage_ms} ms measured {measured} ms (tolerance {tolerance}, {:?})", a.windows);
    }
}
