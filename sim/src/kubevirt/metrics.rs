//! The source virt-handler's migration metrics (kubevirt.md §10, v1.5 names): a per-VMI buffer of the last 10
//! samples taken every 5 s, all emitted with millisecond timestamps on every scrape; once the migration is over the
//! buffer is emitted one last time and dropped.

use std::collections::{BTreeMap, VecDeque};

use super::memory::JobInfo;

const MIB: f64 = 1024.0 * 1024.0;
/// Samples kept per migration.
pub const BUFFER: usize = 10;
/// Simulated seconds between samples.
pub const SAMPLE_PERIOD_S: f64 = 5.0;

/// The samples of one VMI's migration on its source node.
#[derive(Clone, Debug, Default)]
pub struct Buffer {
    pub node: String,
    pub samples: VecDeque<(i64, JobInfo)>,
    pub completed: bool,
}

impl Buffer {
    pub fn push(&mut self, at_ms: i64, info: JobInfo) {
        if self.samples.len() == BUFFER {
            self.samples.pop_front();
        }
        self.samples.push_back((at_ms, info));
    }
}

/// The buffers of every migrating VMI, keyed by (namespace, VMI).
#[derive(Debug, Default)]
pub struct HandlerMetrics {
    buffers: BTreeMap<(String, String), Buffer>,
}

type Series = (&'static str, &'static str, &'static str, fn(&JobInfo) -> f64);

/// (name, help, type, value) of each series, in the order the fixture scrape shows them.
const SERIES: [Series; 5] = [
    (
        "kubevirt_vmi_migration_data_processed_bytes",
        "The total Guest OS data processed and migrated to the new VM.",
        "gauge",
        |i| i.data_processed_mib * MIB,
    ),
    (
        "kubevirt_vmi_migration_data_remaining_bytes",
        "The remaining guest OS data to be migrated to the new VM.",
        "gauge",
        |i| i.data_remaining_mib * MIB,
    ),
    (
        "kubevirt_vmi_migration_data_total_bytes",
        "The total Guest OS data to be migrated to the new VM.",
        "counter",
        |i| i.data_total_mib * MIB,
    ),
    (
        "kubevirt_vmi_migration_dirty_memory_rate_bytes",
        "The rate of memory being dirty in the Guest OS.",
        "gauge",
        |i| i.dirty_rate_mib_s * MIB,
    ),
    (
        "kubevirt_vmi_migration_disk_transfer_rate_bytes",
        "The rate at which the memory is being transferred.",
        "gauge",
        |i| i.bandwidth_mib_s * MIB,
    ),
];

impl HandlerMetrics {
    /// The buffer of a VMI's migration from `node` (a new migration starts a new buffer).
    pub fn buffer(&mut self, namespace: &str, vmi: &str, node: &str) -> &mut Buffer {
        let b = self.buffers.entry((namespace.to_string(), vmi.to_string())).or_default();
        if b.node != node || b.completed {
            *b = Buffer { node: node.to_string(), ..Buffer::default() };
        }
        b
    }

    /// Marks a VMI's migration as over: its buffer goes with the next scrape.
    pub fn complete(&mut self, namespace: &str, vmi: &str) {
        if let Some(b) = self.buffers.get_mut(&(namespace.to_string(), vmi.to_string())) {
            b.completed = true;
        }
    }

    /// One scrape of `node`'s virt-handler: Prometheus text, every buffered sample with its timestamp.
    pub fn scrape(&mut self, node: &str) -> String {
        let mut out = String::new();
        for (name, help, kind, value) in SERIES {
            let mut lines = Vec::new();
            for ((ns, vmi), b) in self.buffers.iter().filter(|(_, b)| b.node == node) {
                for (at, info) in &b.samples {
                    let labels = format!("name=\"{vmi}\",namespace=\"{ns}\",node=\"{node}\"");
                    lines.push(format!("{name}{{{labels}}} {} {at}\n", go_float(value(info))));
                }
            }
            if !lines.is_empty() {
                out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
                out.extend(lines);
            }
        }
        self.buffers.retain(|_, b| !(b.node == node && b.completed));
        out
    }
}

/// A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it (what the Prometheus text format uses).
pub fn go_float(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(processed: f64, remaining: f64) -> JobInfo {
        JobInfo {
            time_elapsed_ms: 0,
            data_processed_mib: processed,
            data_remaining_mib: remaining,
            data_total_mib: 4096.0,
            bandwidth_mib_s: 390.625,
            dirty_rate_mib_s: 12.125,
            iteration: 1,
            constant_pages: 0,
            normal_pages: 0,
            normal_data_mib: 0.0,
            expected_downtime_ms: 300,
        }
    }

    #[test]
    fn go_float_matches_strconv() {
        assert_eq!(go_float(1_231_028_224.0), "1.231028224e+09");
        assert_eq!(go_float(409_600_000.0), "4.096e+08");
        assert_eq!(go_float(512.0), "512");
        assert_eq!(go_float(999_999.0), "999999");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn scrape_emits_buffered_samples_and_drops_completed_migrations() {
        let mut m = HandlerMetrics::default();
        let b = m.buffer("tenant-root", "vm", "the-toy-factory");
        for i in 0..12 {
            b.push(1_750_414_513_000 + i * 5000, info(1174.0 + i as f64, 2821.0));
        }
        let text = m.scrape("the-toy-factory");
        assert!(text.starts_with("# HELP kubevirt_vmi_migration_data_processed_bytes The total Guest OS data processed and migrated to the new VM.\n# TYPE kubevirt_vmi_migration_data_processed_bytes gauge\n"));
        let processed: Vec<&str> =
            text.lines().filter(|l| l.starts_with("kubevirt_vmi_migration_data_processed_bytes{")).collect();
        assert_eq!(processed.len(), BUFFER);
        assert!(processed[0].starts_with(
            "kubevirt_vmi_migration_data_processed_bytes{name=\"vm\",namespace=\"tenant-root\",node=\"the-toy-factory\"} "
        ));
        assert!(processed[0].ends_with(" 1750414523000"), "{}", processed[0]);
        assert!(text.contains("# TYPE kubevirt_vmi_migration_data_total_bytes counter\n"));
        assert!(text.contains("kubevirt_vmi_migration_disk_transfer_rate_bytes{name=\"vm\",namespace=\"tenant-root\",node=\"the-toy-factory\"} 4.096e+08 "));
        assert_eq!(m.scrape("the-dome"), "");
        m.complete("tenant-root", "vm");
        assert!(!m.scrape("the-toy-factory").is_empty(), "emitted once more");
        assert_eq!(m.scrape("the-toy-factory"), "");
    }
}
