//! Memory-transfer progress from the source virt-launcher's `compute` log.
//!
//! KubeVirt's `logMigrationInfo` (`pkg/virt-launcher/virtwrap/live-migration-source.go`) logs every 4 s at the
//! default verbosity:
//!
//! ```text
//! Migration info for <uid>: TimeElapsed:<ms>ms DataProcessed:<MiB>MiB DataRemaining:<MiB>MiB DataTotal:<MiB>MiB
//! MemoryProcessed:<MiB>MiB MemoryRemaining:<MiB>MiB MemoryTotal:<MiB>MiB MemoryBandwidth:<Mbps>Mbps
//! DirtyRate:<Mbps>Mbps Iteration:<n> PostcopyRequests:<n> ConstantPages:<n> NormalPages:<n> NormalData:<MiB>MiB
//! ExpectedDowntime:<ms>ms DiskMbps:<n>
//! ```
//!
//! (one line), wrapped in virt-launcher's JSON log record (`{"component":"virt-launcher","level":"info","msg":…}`).
//! Sizes are MiB (bytes / 2^20, truncated); rates are megabits per second (bits / 10^6). From KubeVirt v1.9 a
//! completed job logs `Downtime:<ms>ms DowntimeNet:<ms>ms` instead of `ExpectedDowntime`.
//!
//! [`parse_line`] accepts the JSON record or the bare text, ignores unknown fields and tolerates missing ones;
//! it never panics. [`ProgressTracker`] turns samples into an honest [`ProgressView`]: no percentage, because
//! pre-copy's remaining data can grow again in a new iteration.

use serde::Serialize;

const MIB: u64 = 1024 * 1024;
const MARKER: &str = "Migration info for ";

/// One `Migration info` sample. Every field is optional: a field missing from the line stays `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressSample {
    /// The migration UID the line is about (the VMIM's `metadata.uid`).
    pub migration_uid: String,
    /// The log record's own `timestamp`, when the line was a JSON record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logged_at: Option<String>,
    /// Time since the libvirt job started, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_processed_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_remaining_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_total_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_processed_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_remaining_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_total_bytes: Option<u64>,
    /// Memory transfer rate, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bandwidth_bytes_per_second: Option<u64>,
    /// Rate at which the guest dirties memory, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_rate_bytes_per_second: Option<u64>,
    /// Pre-copy iteration (pass over guest memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcopy_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constant_pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normal_pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normal_data_bytes: Option<u64>,
    /// QEMU's expected downtime if it switched over now, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_downtime_ms: Option<u64>,
    /// The real downtime of a completed job (KubeVirt v1.9+), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downtime_ms: Option<u64>,
    /// Downtime without the clock difference between the hosts (KubeVirt v1.9+), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downtime_net_ms: Option<u64>,
    /// Disk (block migration) transfer rate, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_bytes_per_second: Option<u64>,
}

/// Parses one `compute` log line; `None` when it is not a `Migration info for …` line.
pub fn parse_line(line: &str) -> Option<ProgressSample> {
    let line = line.trim();
    if line.starts_with('{') {
        let record: serde_json::Value = serde_json::from_str(line).ok()?;
        let msg = record.get("msg").and_then(|m| m.as_str())?;
        let mut sample = parse_message(msg)?;
        sample.logged_at = record.get("timestamp").and_then(|t| t.as_str()).map(str::to_string);
        Some(sample)
    } else {
        parse_message(line)
    }
}

/// Parses the message text (`… Migration info for <uid>: Key:value …`).
fn parse_message(msg: &str) -> Option<ProgressSample> {
    let start = msg.find(MARKER)? + MARKER.len();
    let rest = &msg[start..];
    let (uid, fields) = rest.split_once(':')?;
    let uid = uid.trim();
    if uid.is_empty() || uid.contains(char::is_whitespace) {
        return None;
    }
    let mut s = ProgressSample { migration_uid: uid.to_string(), ..Default::default() };
    for token in fields.split_whitespace() {
        let Some((key, value)) = token.split_once(':') else { continue };
        let slot = match key {
            "TimeElapsed" => (&mut s.elapsed_ms, Unit::Plain),
            "DataProcessed" => (&mut s.data_processed_bytes, Unit::Mib),
            "DataRemaining" => (&mut s.data_remaining_bytes, Unit::Mib),
            "DataTotal" => (&mut s.data_total_bytes, Unit::Mib),
            "MemoryProcessed" => (&mut s.memory_processed_bytes, Unit::Mib),
            "MemoryRemaining" => (&mut s.memory_remaining_bytes, Unit::Mib),
            "MemoryTotal" => (&mut s.memory_total_bytes, Unit::Mib),
            "MemoryBandwidth" => (&mut s.memory_bandwidth_bytes_per_second, Unit::Mbps),
            "DirtyRate" => (&mut s.dirty_rate_bytes_per_second, Unit::Mbps),
            "Iteration" => (&mut s.iteration, Unit::Plain),
            "PostcopyRequests" => (&mut s.postcopy_requests, Unit::Plain),
            "ConstantPages" => (&mut s.constant_pages, Unit::Plain),
            "NormalPages" => (&mut s.normal_pages, Unit::Plain),
            "NormalData" => (&mut s.normal_data_bytes, Unit::Mib),
            "ExpectedDowntime" => (&mut s.expected_downtime_ms, Unit::Plain),
            "Downtime" => (&mut s.downtime_ms, Unit::Plain),
            "DowntimeNet" => (&mut s.downtime_net_ms, Unit::Plain),
            "DiskMbps" => (&mut s.disk_bytes_per_second, Unit::Mbps),
            _ => continue,
        };
        *slot.0 = parse_value(value, slot.1);
    }
    Some(s)
}

#[derive(Clone, Copy)]
enum Unit {
    /// A number, possibly with a unit suffix (`ms`) kept as is.
    Plain,
    /// MiB → bytes.
    Mib,
    /// Megabits per second → bytes per second.
    Mbps,
}

fn parse_value(value: &str, unit: Unit) -> Option<u64> {
    let digits_end = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let n: u64 = value[..digits_end].parse().ok()?;
    match unit {
        Unit::Plain => Some(n),
        Unit::Mib => n.checked_mul(MIB),
        Unit::Mbps => n.checked_mul(1_000_000 / 8),
    }
}

/// Follows successive samples of one migration and renders them honestly.
#[derive(Clone, Debug, Default)]
pub struct ProgressTracker {
    last: Option<ProgressSample>,
    /// Lowest DataRemaining seen so far, and the elapsed ms when it was reached (KubeVirt's progress timeout
    /// counts from the last time remaining data decreased).
    lowest_remaining: Option<(u64, u64)>,
    samples: u64,
}

/// What to show for the latest sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressView {
    pub sample: ProgressSample,
    /// Remaining bytes of the previous sample when remaining grew since then (a new pass over dirtied memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_grew_from: Option<u64>,
    /// Seconds since remaining data last decreased (what KubeVirt's `progressTimeout` measures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_without_progress: Option<u64>,
}

impl ProgressTracker {
    /// Feeds a sample; samples older than the last one (by elapsed time) are ignored and give `None`.
    pub fn observe(&mut self, sample: ProgressSample) -> Option<ProgressView> {
        if let (Some(last), Some(now)) = (self.last.as_ref().and_then(|l| l.elapsed_ms), sample.elapsed_ms)
            && now < last
        {
            return None;
        }
        let previous_remaining = self.last.as_ref().and_then(|l| l.data_remaining_bytes);
        let remaining_grew_from = match (previous_remaining, sample.data_remaining_bytes) {
            (Some(before), Some(now)) if now > before => Some(before),
            _ => None,
        };
        if let (Some(rem), Some(at)) = (sample.data_remaining_bytes, sample.elapsed_ms) {
            match self.lowest_remaining {
                Some((low, _)) if rem >= low => {}
                _ => self.lowest_remaining = Some((rem, at)),
            }
        }
        let seconds_without_progress = match (self.lowest_remaining, sample.elapsed_ms) {
            (Some((_, at)), Some(now)) => Some(now.saturating_sub(at) / 1000),
            _ => None,
        };
        self.samples += 1;
        self.last = Some(sample.clone());
        Some(ProgressView { sample, remaining_grew_from, seconds_without_progress })
    }

    /// The latest sample.
    pub fn last(&self) -> Option<&ProgressSample> {
        self.last.as_ref()
    }

    /// How many samples were accepted.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

impl ProgressView {
    /// One line: `iteration 3 · 1.2 GiB sent · 48 MiB remaining (was 12 MiB) · 950 MiB/s · dirty 40 MiB/s ·
    /// expected downtime 120 ms`. Fields the log did not carry are left out.
    pub fn summary(&self) -> String {
        let s = &self.sample;
        let mut parts = Vec::new();
        if let Some(i) = s.iteration {
            parts.push(format!("iteration {i}"));
        }
        if let Some(p) = s.data_processed_bytes {
            parts.push(format!("{} sent", bytes(p)));
        }
        if let Some(r) = s.data_remaining_bytes {
            match self.remaining_grew_from {
                Some(was) => parts.push(format!("{} remaining (was {})", bytes(r), bytes(was))),
                None => parts.push(format!("{} remaining", bytes(r))),
            }
        }
        if let Some(t) = s.data_total_bytes {
            parts.push(format!("{} total", bytes(t)));
        }
        if let Some(b) = s.memory_bandwidth_bytes_per_second {
            parts.push(format!("{}/s", bytes(b)));
        }
        if let Some(d) = s.dirty_rate_bytes_per_second {
            parts.push(format!("dirty {}/s", bytes(d)));
        }
        match (s.downtime_ms, s.expected_downtime_ms) {
            (Some(d), _) => parts.push(format!("downtime {d} ms")),
            (None, Some(e)) => parts.push(format!("expected downtime {e} ms")),
            (None, None) => {}
        }
        parts.join(" · ")
    }
}

/// Human-readable binary size: `512 B`, `48 MiB`, `1.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 || value.fract() < 0.05 {
        format!("{:.0} {}", value, UNITS[unit])
    } else {
        format!("{:.1} {}", value, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UID: &str = "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a";

    fn v15_line(elapsed: u64, processed: u64, remaining: u64, iteration: u64) -> String {
        format!(
            "Migration info for {UID}: TimeElapsed:{elapsed}ms DataProcessed:{processed}MiB \
             DataRemaining:{remaining}MiB DataTotal:4096MiB MemoryProcessed:{processed}MiB \
             MemoryRemaining:{remaining}MiB MemoryTotal:4096MiB MemoryBandwidth:8000Mbps DirtyRate:320Mbps \
             Iteration:{iteration} PostcopyRequests:0 ConstantPages:786432 NormalPages:262144 NormalData:1024MiB \
             ExpectedDowntime:120ms DiskMbps:0"
        )
    }

    fn json_record(msg: &str) -> String {
        serde_json::json!({
            "component": "virt-launcher", "level": "info", "msg": msg,
            "pos": "live-migration-source.go:812", "timestamp": "2025-06-20T10:15:14.402317Z",
            "uid": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
        })
        .to_string()
    }

    #[test]
    fn parses_the_v1_5_json_record_with_every_field() {
        let s = parse_line(&json_record(&v15_line(4003, 1126, 48, 3))).expect("a progress line");
        assert_eq!(s.migration_uid, UID);
        assert_eq!(s.logged_at.as_deref(), Some("2025-06-20T10:15:14.402317Z"));
        assert_eq!(s.elapsed_ms, Some(4003));
        assert_eq!(s.data_processed_bytes, Some(1126 * MIB));
        assert_eq!(s.data_remaining_bytes, Some(48 * MIB));
        assert_eq!(s.data_total_bytes, Some(4096 * MIB));
        assert_eq!(s.memory_total_bytes, Some(4096 * MIB));
        assert_eq!(s.memory_bandwidth_bytes_per_second, Some(1_000_000_000));
        assert_eq!(s.dirty_rate_bytes_per_second, Some(40_000_000));
        assert_eq!(s.iteration, Some(3));
        assert_eq!(s.postcopy_requests, Some(0));
        assert_eq!(s.constant_pages, Some(786432));
        assert_eq!(s.normal_pages, Some(262144));
        assert_eq!(s.normal_data_bytes, Some(1024 * MIB));
        assert_eq!(s.expected_downtime_ms, Some(120));
        assert_eq!(s.downtime_ms, None);
        assert_eq!(s.disk_bytes_per_second, Some(0));
    }

    #[test]
    fn parses_bare_text_and_v1_9_downtime() {
        let line = format!(
            "Migration info for {UID}: TimeElapsed:11800ms DataProcessed:1300MiB DataRemaining:0MiB \
             DataTotal:4096MiB Iteration:5 Downtime:187ms DowntimeNet:171ms DiskMbps:0"
        );
        let s = parse_line(&line).expect("bare text is accepted");
        assert_eq!(s.logged_at, None);
        assert_eq!(s.downtime_ms, Some(187));
        assert_eq!(s.downtime_net_ms, Some(171));
        assert_eq!(s.expected_downtime_ms, None);
        assert_eq!(s.memory_bandwidth_bytes_per_second, None, "missing fields stay None");
    }

    #[test]
    fn ignores_other_lines_and_unknown_fields() {
        assert_eq!(parse_line(&json_record("Migration has been completed")), None);
        assert_eq!(parse_line("{not json"), None);
        assert_eq!(parse_line(r#"{"msg": 42}"#), None);
        assert_eq!(parse_line("Migration info for : TimeElapsed:1ms"), None);
        let s = parse_line(&format!("Migration info for {UID}: Future:7x Iteration:2 Junk DataRemaining:xMiB"))
            .expect("unknown fields are skipped");
        assert_eq!(s.iteration, Some(2));
        assert_eq!(s.data_remaining_bytes, None);
    }

    #[test]
    fn tracker_reports_growth_and_time_without_progress() {
        let mut t = ProgressTracker::default();
        let a = t.observe(parse_line(&v15_line(4000, 1000, 3000, 1)).unwrap()).unwrap();
        assert_eq!(a.remaining_grew_from, None);
        assert_eq!(a.seconds_without_progress, Some(0));
        let b = t.observe(parse_line(&v15_line(8000, 4100, 12, 2)).unwrap()).unwrap();
        assert_eq!(b.seconds_without_progress, Some(0));
        let c = t.observe(parse_line(&v15_line(12000, 4200, 48, 3)).unwrap()).unwrap();
        assert_eq!(c.remaining_grew_from, Some(12 * MIB));
        assert_eq!(c.seconds_without_progress, Some(4));
        assert_eq!(
            c.summary(),
            "iteration 3 · 4.1 GiB sent · 48 MiB remaining (was 12 MiB) · 4 GiB total · 954 MiB/s · dirty 38.1 MiB/s \
             · expected downtime 120 ms"
        );
        // An older sample (out of order) is ignored.
        assert_eq!(t.observe(parse_line(&v15_line(9000, 1, 1, 2)).unwrap()), None);
        assert_eq!(t.samples(), 3);
    }

    #[test]
    fn byte_formatting() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(48 * MIB), "48 MiB");
        assert_eq!(bytes(1229 * MIB), "1.2 GiB");
        assert_eq!(bytes(u64::MAX), "16777216 TiB");
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(s in ".*") {
            let _ = parse_line(&s);
        }

        #[test]
        fn never_panics_on_mangled_progress_lines(
            prefix in "[a-z \"]{0,20}", fields in proptest::collection::vec(("[A-Za-z]{0,16}", "[0-9A-Za-z:.-]{0,24}"), 0..24)
        ) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let line = format!("{prefix}Migration info for {UID}: {}", body.join(" "));
            let parsed = parse_line(&line);
            prop_assert!(parsed.is_some());
            let wrapped = json_record(&line);
            prop_assert_eq!(parse_line(&wrapped).map(|s| s.migration_uid), Some(UID.to_string()));
        }

        #[test]
        fn huge_numbers_do_not_overflow(n in any::<u64>()) {
            let s = parse_line(&format!("Migration info for {UID}: DataTotal:{n}MiB MemoryBandwidth:{n}Mbps"));
            let s = s.unwrap();
            prop_assert_eq!(s.data_total_bytes, n.checked_mul(MIB));
        }
    }
}
