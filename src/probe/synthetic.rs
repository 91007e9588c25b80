//! Synthetic iputils ping output (`ping -D -O`) with an injected outage of known length, deterministic per seed.
//!
//! Used by the property tests and the accuracy benchmark (`benches/probe_accuracy.rs`), and usable by the simulator
//! to feed the plugin realistic probe output. The model follows what the real captures in `testdata/ping/` show:
//! requests go out every `interval × stretch ± jitter` (ping's achieved interval is larger than the one asked for:
//! about 24 ms for `-i 0.02`), a reply arrives `rtt` after its request unless it falls inside the outage (replies are
//! dropped, requests keep going, as with a paused VM), and each unanswered request gets a `no answer yet` line when
//! the next one is sent.

/// Parameters of one synthetic run (all times in ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticRun {
    /// The interval asked for (`-i`).
    pub interval_ms: f64,
    /// Achieved / asked interval (1.2 on the capture machine at 20 ms).
    pub stretch: f64,
    /// Each spacing varies uniformly by ± this much.
    pub jitter_ms: f64,
    /// Round-trip time.
    pub rtt_ms: f64,
    /// How long the run lasts.
    pub duration_ms: f64,
    /// When the outage starts, from the start of the run.
    pub outage_at_ms: f64,
    /// How long it lasts (0 for none).
    pub outage_ms: f64,
    /// Seed of the jitter.
    pub seed: u64,
}

/// A small deterministic generator (xorshift64*), enough for jitter.
struct Jitter(u64);

impl Jitter {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The unix time (µs) the synthetic runs start at.
pub const START_US: i64 = 1_795_789_200_000_000;

/// The lines iputils `ping -D -O -n -i … 10.0.0.5` would print for `run`, header and statistics included.
pub fn iputils_output(run: &SyntheticRun) -> Vec<String> {
    let mut jitter = Jitter(run.seed.wrapping_mul(2).wrapping_add(0x9e37_79b9_7f4a_7c15) | 1);
    let spacing_ms = (run.interval_ms * run.stretch).max(0.001);
    let outage = run.outage_at_ms..run.outage_at_ms + run.outage_ms;
    let stamp = |t_ms: f64| {
        let us = START_US + (t_ms * 1000.0).round() as i64;
        format!("[{}.{:06}]", us.div_euclid(1_000_000), us.rem_euclid(1_000_000))
    };
    // (time, line): replies and "no answer yet" lines, sorted by time at the end.
    let mut lines: Vec<(f64, String)> = Vec::new();
    let (mut t, mut seq, mut received) = (0.0_f64, 1_u64, 0_u64);
    let mut pending_lost: Option<u64> = None;
    while t <= run.duration_ms {
        if let Some(lost) = pending_lost.take() {
            lines.push((t, format!("{} no answer yet for icmp_seq={lost}", stamp(t))));
        }
        let reply_at = t + run.rtt_ms;
        if outage.contains(&reply_at) {
            pending_lost = Some(seq);
        } else {
            received += 1;
            let line =
                format!("{} 64 bytes from 10.0.0.5: icmp_seq={seq} ttl=64 time={:.3} ms", stamp(reply_at), run.rtt_ms);
            lines.push((reply_at, line));
        }
        seq += 1;
        t += (spacing_ms + run.jitter_ms * jitter.next()).max(0.001);
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let transmitted = seq - 1;
    let loss = if transmitted == 0 { 0.0 } else { 100.0 * (transmitted - received) as f64 / transmitted as f64 };
    let mut out = vec!["PING 10.0.0.5 (10.0.0.5) 56(84) bytes of data.".to_string()];
    out.extend(lines.into_iter().map(|(_, l)| l));
    out.push(String::new());
    out.push("--- 10.0.0.5 ping statistics ---".into());
    out.push(format!(
        "{transmitted} packets transmitted, {received} received, {loss:.4}% packet loss, time {}ms",
        run.duration_ms.round() as u64
    ));
    out.push(format!("rtt min/avg/max/mdev = {0:.3}/{0:.3}/{0:.3}/0.000 ms", run.rtt_ms));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outage_ms: f64) -> SyntheticRun {
        SyntheticRun {
            interval_ms: 20.0,
            stretch: 1.2,
            jitter_ms: 1.0,
            rtt_ms: 0.1,
            duration_ms: 2000.0,
            outage_at_ms: 1000.0,
            outage_ms,
            seed: 7,
        }
    }

    #[test]
    fn output_is_deterministic_and_shaped_like_iputils() {
        let a = iputils_output(&run(600.0));
        assert_eq!(a, iputils_output(&run(600.0)));
        assert!(a[0].starts_with("PING 10.0.0.5 (10.0.0.5)"));
        assert!(a[1].starts_with("[1795789200.000100] 64 bytes from 10.0.0.5: icmp_seq=1 ttl=64 time=0.100 ms"));
        let lost = a.iter().filter(|l| l.contains("no answer yet")).count();
        // 600 ms at about 24 ms spacing
        assert!((23..=27).contains(&lost), "{lost}");
        assert!(a.iter().any(|l| l.contains("packets transmitted")));
    }

    #[test]
    fn jitter_is_bounded() {
        let mut j = Jitter(1);
        assert!((0..10_000).map(|_| j.next()).all(|x| (-1.0..1.0).contains(&x)));
    }
}
