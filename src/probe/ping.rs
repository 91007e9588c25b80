//! Streaming parser of real ping output (iputils with `-D -O`, BusyBox), and the run it adds up to.
//!
//! Feed lines to a [`PingParser`] as they arrive ([`PingParser::feed`] returns one [`PingEvent`] per line, for live
//! progress); [`PingParser::finish`] turns the run into a [`ProbeSeries`] for [`super::analysis::analyse`]. Formats
//! recognised (all checked against the captures in `testdata/ping/`):
//!
//! - iputils: `[1774185115.694331] 64 bytes from 10.0.0.5: icmp_seq=42 ttl=64 time=0.676 ms` (the `-D` timestamp is
//!   the receive time on the prober's clock), `[…] no answer yet for icmp_seq=N` (`-O`),
//!   `[…] From 10.0.0.1 icmp_seq=N Destination Host Unreachable`, `ping: sendmsg: Network is unreachable`, the `PING`
//!   header, `N packets transmitted, M received, +E errors, L% packet loss, time Tms` and
//!   `rtt min/avg/max/mdev = a/b/c/d ms`;
//! - BusyBox with `FEATURE_FANCY_PING`: `64 bytes from 10.0.0.5: seq=42 ttl=64 time=0.676 ms` (no timestamps: the
//!   caller passes each line's receive time), `N packets transmitted, M packets received, L% packet loss`,
//!   `round-trip min/avg/max = a/b/c ms`;
//! - BusyBox without `FEATURE_FANCY_PING`: `HOST is alive!` / `No response from HOST` — this ping cannot measure
//!   downtime and the run says so.
//!
//! No input makes the parser panic; lines it does not know become [`PingEvent::Other`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::analysis::{ProbeEnd, ProbeSeries, Sample, UnixMicros, median_spacing_ms};

/// Largest span of sequence numbers turned into samples (about 11 hours at 20 ms); beyond it the run is refused
/// rather than allocating without bound on corrupt input.
pub const MAX_SAMPLES: u64 = 2_000_000;

/// One line of ping output, parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum PingEvent {
    /// `PING host (address) …`.
    Header {
        /// The host as given.
        host: String,
        /// The address ping resolved it to.
        address: String,
    },
    /// An echo reply.
    #[serde(rename_all = "camelCase")]
    Reply {
        /// Receive time: the `-D` stamp, else the caller's receive time.
        at_us: Option<UnixMicros>,
        /// Sequence number as printed (16-bit, wraps).
        seq: u64,
        /// Who answered.
        from: String,
        /// TTL / hop limit.
        ttl: Option<u32>,
        /// Round-trip time.
        rtt_ms: Option<f64>,
        /// `(DUP!)`.
        duplicate: bool,
    },
    /// `no answer yet for icmp_seq=N` (iputils `-O`).
    #[serde(rename_all = "camelCase")]
    NoAnswerYet {
        /// When it was printed.
        at_us: Option<UnixMicros>,
        /// The unanswered sequence number.
        seq: u64,
    },
    /// `From X icmp_seq=N <ICMP error>` (e.g. Destination Host Unreachable).
    #[serde(rename_all = "camelCase")]
    IcmpError {
        /// When it was printed.
        at_us: Option<UnixMicros>,
        /// The router or host reporting it.
        from: String,
        /// The request it concerns.
        seq: Option<u64>,
        /// The ICMP message.
        message: String,
    },
    /// `ping: …` (sendmsg failures, permission, unknown host…).
    #[serde(rename_all = "camelCase")]
    Error {
        /// When it was printed.
        at_us: Option<UnixMicros>,
        /// The message without the `ping: ` prefix.
        message: String,
    },
    /// The packet statistics line.
    #[serde(rename_all = "camelCase")]
    Statistics {
        /// Requests sent.
        transmitted: u64,
        /// Replies received (duplicates not counted).
        received: u64,
        /// Duplicate replies.
        duplicates: u64,
        /// Errors (ICMP errors, send failures).
        errors: u64,
        /// Loss as printed.
        loss_percent: f64,
        /// Run time (iputils only).
        time_ms: Option<u64>,
    },
    /// The round-trip summary line.
    #[serde(rename_all = "camelCase")]
    Rtt {
        /// Minimum.
        min_ms: f64,
        /// Average.
        avg_ms: f64,
        /// Maximum.
        max_ms: f64,
        /// Mean deviation (iputils only).
        mdev_ms: Option<f64>,
    },
    /// `HOST is alive!` (BusyBox without FEATURE_FANCY_PING).
    Alive {
        /// The host.
        host: String,
    },
    /// `No response from HOST` (BusyBox without FEATURE_FANCY_PING).
    NoResponse {
        /// The host.
        host: String,
    },
    /// Anything else (blank lines, `--- X ping statistics ---`, `pipe N`, unknown text).
    Other {
        /// The line.
        line: String,
    },
}

/// Parses one line. `received_at_us` is when the caller received it; an iputils `-D` stamp takes precedence.
pub fn parse_line(line: &str, received_at_us: Option<UnixMicros>) -> PingEvent {
    let line = line.trim_end_matches(['\r', '\n']);
    let (stamp, body) = split_stamp(line);
    let at_us = stamp.or(received_at_us);
    let body = body.trim();
    let other = || PingEvent::Other { line: line.to_string() };
    if let Some(rest) = body.strip_prefix("PING ") {
        return parse_header(rest).unwrap_or_else(other);
    }
    if body.contains(" bytes from ") {
        return parse_reply(body, at_us).unwrap_or_else(other);
    }
    if let Some(rest) = body.strip_prefix("no answer yet for icmp_seq=") {
        return rest.parse().map(|seq| PingEvent::NoAnswerYet { at_us, seq }).unwrap_or_else(|_| other());
    }
    if let Some(rest) = body.strip_prefix("From ") {
        return parse_icmp_error(rest, at_us).unwrap_or_else(other);
    }
    if let Some(message) = body.strip_prefix("ping: ") {
        return PingEvent::Error { at_us, message: message.to_string() };
    }
    if body.contains(" packets transmitted, ") {
        return parse_statistics(body).unwrap_or_else(other);
    }
    if body.starts_with("rtt ") || body.starts_with("round-trip ") {
        return parse_rtt(body).unwrap_or_else(other);
    }
    if let Some(host) = body.strip_suffix(" is alive!") {
        return PingEvent::Alive { host: host.to_string() };
    }
    if let Some(host) = body.strip_prefix("No response from ") {
        return PingEvent::NoResponse { host: host.to_string() };
    }
    other()
}

/// `[1774185115.694331] rest` → (µs, rest).
fn split_stamp(line: &str) -> (Option<UnixMicros>, &str) {
    let Some(rest) = line.strip_prefix('[') else { return (None, line) };
    let Some((stamp, body)) = rest.split_once("] ") else { return (None, line) };
    match parse_unix_micros(stamp) {
        Some(us) => (Some(us), body),
        None => (None, line),
    }
}

/// `S` or `S.F` (any number of fraction digits, cut to µs) as µs since the epoch; None if not that or out of range.
pub fn parse_unix_micros(text: &str) -> Option<UnixMicros> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || secs.len() > 12 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (text.contains('.') && frac.is_empty()) {
        return None;
    }
    let micros: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    secs.parse::<i64>().ok()?.checked_mul(1_000_000)?.checked_add(micros.parse::<i64>().ok()?)
}

fn parse_header(rest: &str) -> Option<PingEvent> {
    let (host, after) = rest.split_once('(')?;
    let (address, _) = after.split_once(')')?;
    Some(PingEvent::Header { host: host.trim().to_string(), address: address.to_string() })
}

/// `64 bytes from ADDR: icmp_seq=N ttl=T time=R ms [(DUP!)]`; ADDR may be IPv6 or `name (addr)`.
fn parse_reply(body: &str, at_us: Option<UnixMicros>) -> Option<PingEvent> {
    let (_, after_from) = body.split_once(" bytes from ")?;
    let key_at = after_from.find(": icmp_seq=").or_else(|| after_from.find(": seq="))?;
    let from = after_from[..key_at].to_string();
    let fields = &after_from[key_at + 2..];
    let mut seq = None;
    let (mut ttl, mut rtt_ms, mut duplicate) = (None, None, false);
    for word in fields.split_whitespace() {
        match word.split_once('=') {
            Some(("icmp_seq" | "seq", v)) => seq = v.parse::<u64>().ok(),
            Some(("ttl" | "hlim", v)) => ttl = v.parse().ok(),
            Some(("time", v)) => rtt_ms = parse_finite(v),
            _ if word == "(DUP!)" => duplicate = true,
            _ => {}
        }
    }
    Some(PingEvent::Reply { at_us, seq: seq?, from, ttl, rtt_ms, duplicate })
}

/// `10.0.0.1 icmp_seq=N Destination Host Unreachable` (after `From `).
fn parse_icmp_error(rest: &str, at_us: Option<UnixMicros>) -> Option<PingEvent> {
    let (from, after) = rest.split_once(" icmp_seq=").or_else(|| rest.split_once(": icmp_seq="))?;
    let (seq, message) = after.split_once(' ').unwrap_or((after, ""));
    Some(PingEvent::IcmpError {
        at_us,
        from: from.trim().to_string(),
        seq: seq.parse().ok(),
        message: message.trim().to_string(),
    })
}

fn parse_statistics(body: &str) -> Option<PingEvent> {
    let (mut transmitted, mut received, mut duplicates, mut errors) = (None, None, 0, 0);
    let (mut loss_percent, mut time_ms) = (None, None);
    for part in body.split(", ") {
        let part = part.trim();
        let (number, label) = part.split_once(' ').unwrap_or((part, ""));
        let count = || number.trim_start_matches('+').parse::<u64>().ok();
        match label {
            "packets transmitted" => transmitted = count(),
            "received" | "packets received" => received = count(),
            "duplicates" => duplicates = count().unwrap_or(0),
            "errors" => errors = count().unwrap_or(0),
            "packet loss" => loss_percent = number.strip_suffix('%').and_then(parse_finite),
            _ if number == "time" => time_ms = label.strip_suffix("ms").and_then(|t| t.parse().ok()),
            _ => {}
        }
    }
    Some(PingEvent::Statistics {
        transmitted: transmitted?,
        received: received?,
        duplicates,
        errors,
        loss_percent: loss_percent?,
        time_ms,
    })
}

/// `rtt min/avg/max/mdev = a/b/c/d ms[, …]` or `round-trip min/avg/max = a/b/c ms`.
fn parse_rtt(body: &str) -> Option<PingEvent> {
    let (_, values) = body.split_once(" = ")?;
    let values = values.split([' ', ',']).next()?;
    let v: Vec<f64> = values.split('/').map(parse_finite).collect::<Option<_>>()?;
    match v[..] {
        [min_ms, avg_ms, max_ms] => Some(PingEvent::Rtt { min_ms, avg_ms, max_ms, mdev_ms: None }),
        [min_ms, avg_ms, max_ms, mdev] => Some(PingEvent::Rtt { min_ms, avg_ms, max_ms, mdev_ms: Some(mdev) }),
        _ => None,
    }
}

/// A finite, non-negative number (`"NaN"`, `"inf"`, `"-1"` are refused).
fn parse_finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

/// Turns printed 16-bit sequence numbers into a monotonic count across wraps (65535 → 0).
#[derive(Debug, Clone, Copy, Default)]
struct SeqUnwrapper {
    last: Option<u64>,
    epoch: u64,
}

impl SeqUnwrapper {
    const SPAN: u64 = 1 << 16;

    fn unwrap(&mut self, raw: u64) -> u64 {
        if raw >= Self::SPAN {
            return raw;
        }
        let Some(last) = self.last else {
            self.last = Some(raw);
            return raw;
        };
        let half = Self::SPAN / 2;
        let epoch = if raw + half < last {
            self.epoch += 1;
            self.last = Some(raw);
            self.epoch
        } else if raw > last + half {
            // a late line from before the last wrap
            self.epoch.saturating_sub(1)
        } else {
            self.last = Some(raw.max(last));
            self.epoch
        };
        epoch.saturating_mul(Self::SPAN).saturating_add(raw)
    }
}

/// What ping itself reported about a run, besides the samples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PingSummary {
    /// The address ping resolved the target to (from its `PING` line).
    pub address: Option<String>,
    /// Requests sent, from the statistics line.
    pub transmitted: Option<u64>,
    /// Replies received, from the statistics line.
    pub received: Option<u64>,
    /// The first distinct error lines (`ping: …`, `From X: Destination Host Unreachable`).
    pub errors: Vec<String>,
}

/// Accumulates a ping run line by line.
#[derive(Debug, Clone, Default)]
pub struct PingParser {
    unwrap: SeqUnwrapper,
    header: Option<(String, String)>,
    replies: BTreeMap<u64, (Option<UnixMicros>, Option<f64>)>,
    unanswered: BTreeMap<u64, Option<UnixMicros>>,
    icmp_errors: BTreeSet<u64>,
    errors: Vec<String>,
    statistics: Option<(u64, u64, Option<u64>)>,
    cannot_measure: Option<String>,
    busybox_numbering: bool,
    first_line_at: Option<UnixMicros>,
}

/// Error lines kept for the verdict (the first ones are the telling ones).
const KEPT_ERRORS: usize = 5;

impl PingParser {
    /// A parser for one run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line (received at `received_at_us` on the prober's clock, if the caller knows) and records it.
    pub fn feed(&mut self, line: &str, received_at_us: Option<UnixMicros>) -> PingEvent {
        let event = parse_line(line, received_at_us);
        if self.first_line_at.is_none() {
            self.first_line_at = split_stamp(line).0.or(received_at_us);
        }
        match &event {
            PingEvent::Header { host, address } => self.header = Some((host.clone(), address.clone())),
            PingEvent::Reply { at_us, seq, rtt_ms, duplicate: false, .. } => {
                self.busybox_numbering |= !line.contains("icmp_seq=");
                let seq = self.unwrap.unwrap(*seq);
                self.replies.entry(seq).or_insert((*at_us, *rtt_ms));
            }
            PingEvent::NoAnswerYet { at_us, seq } => {
                let seq = self.unwrap.unwrap(*seq);
                self.unanswered.entry(seq).or_insert(*at_us);
            }
            PingEvent::IcmpError { seq: Some(seq), from, message, .. } => {
                let seq = self.unwrap.unwrap(*seq);
                self.icmp_errors.insert(seq);
                self.keep_error(format!("From {from}: {message}"));
            }
            PingEvent::Error { message, .. } => self.keep_error(format!("ping: {message}")),
            PingEvent::Statistics { transmitted, received, time_ms, .. } => {
                self.statistics = Some((*transmitted, *received, *time_ms));
            }
            PingEvent::Alive { .. } | PingEvent::NoResponse { .. } => {
                self.cannot_measure = Some(
                    "this ping (BusyBox without FEATURE_FANCY_PING) only reports whether the host is alive; it \
                     cannot measure downtime: use an image with iputils ping (e.g. nicolaka/netshoot)"
                        .into(),
                );
            }
            _ => {}
        }
        event
    }

    fn keep_error(&mut self, e: String) {
        if self.errors.len() < KEPT_ERRORS && !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// Ends the run: `target` is what was probed, `interval` and `deadline` are what ping was asked for (see
    /// [`super::command::PingOptions`]).
    ///
    /// Lost samples are the sequence numbers between the first and the last one sent without a reply; their time
    /// (when the reply was due) is interpolated between the neighbouring replies and `no answer yet` lines, or
    /// extrapolated by the achieved interval at the ends. A single unanswered request at the very end of a completed
    /// run is taken as still in flight, not lost.
    pub fn finish(self, target: &str, interval: Duration, deadline: Duration) -> (ProbeSeries, PingSummary) {
        let summary = PingSummary {
            address: self.header.as_ref().map(|(_, a)| a.clone()),
            transmitted: self.statistics.map(|(tx, _, _)| tx),
            received: self.statistics.map(|(_, rx, _)| rx),
            errors: self.errors.clone(),
        };
        (self.series(target, interval, deadline), summary)
    }

    fn series(self, target: &str, interval: Duration, deadline: Duration) -> ProbeSeries {
        let interval_us = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        let end = self.end(deadline);
        let series = |samples, end| ProbeSeries {
            target: target.to_string(),
            method: "icmp".into(),
            requested_interval_us: interval_us,
            samples,
            end,
        };
        if let ProbeEnd::CannotMeasure { .. } = end {
            return series(Vec::new(), end);
        }
        let first_printed = if self.busybox_numbering { 0 } else { 1 };
        let seen = self.replies.keys().chain(self.unanswered.keys()).chain(self.icmp_errors.iter());
        let first = seen.clone().min().copied().unwrap_or(first_printed).min(first_printed);
        let last_by_stats = self.statistics.map(|(tx, _, _)| first_printed.saturating_add(tx).saturating_sub(1));
        let mut last = seen.max().copied().into_iter().chain(last_by_stats).max().unwrap_or(first);
        let last_reply = self.replies.keys().next_back().copied();
        if matches!(end, ProbeEnd::Completed) && last_reply.is_some_and(|r| last == r + 1) {
            last = last.saturating_sub(u64::from(!self.unanswered.contains_key(&last)));
        }
        if last.saturating_sub(first) >= MAX_SAMPLES {
            let reason = format!("sequence numbers span more than {MAX_SAMPLES} requests; the output looks corrupt");
            return series(Vec::new(), ProbeEnd::CannotMeasure { reason });
        }
        let timed: Vec<(u64, UnixMicros)> =
            self.replies.iter().filter_map(|(seq, (at, _))| at.map(|at| (*seq, at))).collect();
        if timed.is_empty() && !self.replies.is_empty() {
            let reason = "the replies carry no timestamps (neither ping -D nor receive times)".to_string();
            return series(Vec::new(), ProbeEnd::CannotMeasure { reason });
        }
        // iputils prints "no answer yet for N" when it sends N+1: one achieved interval after N was due.
        let spacing_us =
            median_spacing_ms(timed.iter().copied()).map_or(interval_us, |ms| (ms * 1000.0).round() as i64);
        let hints = self.unanswered.iter().filter(|(seq, _)| !self.replies.contains_key(seq));
        let mut anchors: Vec<(u64, UnixMicros)> = timed.clone();
        anchors.extend(hints.filter_map(|(seq, at)| at.map(|at| (*seq, at.saturating_sub(spacing_us)))));
        anchors.sort_unstable();
        let samples = (first..=last)
            .filter_map(|seq| match self.replies.get(&seq) {
                Some((Some(at), rtt)) => Some(Sample { seq, at_us: *at, ok: true, rtt_ms: *rtt }),
                Some((None, _)) => None,
                None => {
                    let at = self.lost_time(&anchors, seq, first, spacing_us)?;
                    Some(Sample { seq, at_us: at, ok: false, rtt_ms: None })
                }
            })
            .collect();
        series(samples, end)
    }

    /// When lost request `seq`'s reply was due, from the anchors (timed replies, and `no answer yet` lines moved
    /// back one achieved interval: iputils prints them when it sends the next request): interpolated between the
    /// anchors around it, else extrapolated from the nearest one by `interval_us`, else from the first line's time.
    fn lost_time(&self, anchors: &[(u64, UnixMicros)], seq: u64, first: u64, interval_us: i64) -> Option<UnixMicros> {
        let idx = anchors.partition_point(|(s, _)| *s < seq);
        let before = idx.checked_sub(1).and_then(|i| anchors.get(i)).copied();
        let after = anchors.get(idx).copied();
        let steps = |a: u64, b: u64| i64::try_from(b.abs_diff(a)).unwrap_or(i64::MAX);
        match (before, after) {
            (_, Some((sa, ta))) if sa == seq => Some(ta),
            (Some((sb, tb)), Some((sa, ta))) => {
                let span = i128::from(steps(sb, sa).max(1));
                let frac = i128::from(ta.saturating_sub(tb)) * i128::from(steps(sb, seq)) / span;
                Some(tb.saturating_add(i64::try_from(frac).unwrap_or(0)))
            }
            (Some((sb, tb)), None) => Some(tb.saturating_add(steps(sb, seq).saturating_mul(interval_us))),
            (None, Some((sa, ta))) => Some(ta.saturating_sub(steps(seq, sa).saturating_mul(interval_us))),
            (None, None) => self.first_line_at.map(|t| t.saturating_add(steps(first, seq).saturating_mul(interval_us))),
        }
    }

    fn end(&self, deadline: Duration) -> ProbeEnd {
        if let Some(reason) = &self.cannot_measure {
            return ProbeEnd::CannotMeasure { reason: reason.clone() };
        }
        let nothing_sent = self.replies.is_empty() && self.unanswered.is_empty() && self.icmp_errors.is_empty();
        let sent = self.statistics.map_or(!nothing_sent, |(tx, _, _)| tx > 0);
        let first_error = self.errors.first().cloned();
        match (self.statistics, first_error) {
            (_, Some(e)) if !sent => ProbeEnd::CannotMeasure { reason: e },
            (None, None) if nothing_sent => ProbeEnd::CannotMeasure { reason: "ping printed nothing".into() },
            (None, e) => ProbeEnd::EndedEarly {
                reason: e.map_or("ping ended without printing its statistics".into(), |e| {
                    format!("ping ended without printing its statistics after: {e}")
                }),
            },
            // iputils prints its run time: well short of the deadline with an error means ping gave up.
            (Some((_, _, Some(time_ms))), Some(e)) if u128::from(time_ms) + 1000 < deadline.as_millis() => {
                ProbeEnd::EndedEarly { reason: format!("ping stopped after {time_ms} ms: {e}") }
            }
            (Some(_), _) => ProbeEnd::Completed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iputils_reply_with_timestamp() {
        let e = parse_line("[1774185115.694331] 64 bytes from 10.0.0.5: icmp_seq=42 ttl=64 time=0.676 ms", Some(7));
        assert_eq!(
            e,
            PingEvent::Reply {
                at_us: Some(1_774_185_115_694_331),
                seq: 42,
                from: "10.0.0.5".into(),
                ttl: Some(64),
                rtt_ms: Some(0.676),
                duplicate: false
            }
        );
    }

    #[test]
    fn busybox_reply_takes_the_receive_time() {
        let e = parse_line("64 bytes from ::1: seq=3 ttl=64 time=0.061 ms", Some(5_000_000));
        assert!(matches!(e, PingEvent::Reply { at_us: Some(5_000_000), seq: 3, ref from, .. } if from == "::1"));
    }

    #[test]
    fn named_and_duplicate_replies() {
        let e = parse_line("64 bytes from vm.example (10.0.0.5): icmp_seq=1 ttl=63 time=12 ms (DUP!)", None);
        assert!(matches!(e, PingEvent::Reply { duplicate: true, rtt_ms: Some(12.0), ref from, .. }
            if from == "vm.example (10.0.0.5)"));
    }

    #[test]
    fn outstanding_unreachable_and_errors() {
        assert_eq!(
            parse_line("[1795789221.617769] no answer yet for icmp_seq=1", None),
            PingEvent::NoAnswerYet { at_us: Some(1_795_789_221_617_769), seq: 1 }
        );
        assert_eq!(
            parse_line("[1.5] From 10.213.9.1 icmp_seq=12 Destination Host Unreachable", None),
            PingEvent::IcmpError {
                at_us: Some(1_500_000),
                from: "10.213.9.1".into(),
                seq: Some(12),
                message: "Destination Host Unreachable".into()
            }
        );
        assert_eq!(
            parse_line("ping: sendmsg: Network is unreachable", Some(9)),
            PingEvent::Error { at_us: Some(9), message: "sendmsg: Network is unreachable".into() }
        );
    }

    #[test]
    fn headers_and_statistics_of_both_flavours() {
        assert_eq!(
            parse_line("PING ::1(::1) 56 data bytes", None),
            PingEvent::Header { host: "::1".into(), address: "::1".into() }
        );
        assert_eq!(
            parse_line("PING 10.213.9.2 (10.213.9.2): 56 data bytes", None),
            PingEvent::Header { host: "10.213.9.2".into(), address: "10.213.9.2".into() }
        );
        assert_eq!(
            parse_line("12 packets transmitted, 0 received, +12 errors, 100% packet loss, time 3049ms", None),
            PingEvent::Statistics {
                transmitted: 12,
                received: 0,
                duplicates: 0,
                errors: 12,
                loss_percent: 100.0,
                time_ms: Some(3049)
            }
        );
        assert_eq!(
            parse_line("199 packets transmitted, 162 packets received, 18% packet loss", None),
            PingEvent::Statistics {
                transmitted: 199,
                received: 162,
                duplicates: 0,
                errors: 0,
                loss_percent: 18.0,
                time_ms: None
            }
        );
        assert_eq!(
            parse_line("rtt min/avg/max/mdev = 0.006/0.035/0.127/0.013 ms, pipe 2", None),
            PingEvent::Rtt { min_ms: 0.006, avg_ms: 0.035, max_ms: 0.127, mdev_ms: Some(0.013) }
        );
        assert_eq!(
            parse_line("round-trip min/avg/max = 0.010/0.051/0.114 ms", None),
            PingEvent::Rtt { min_ms: 0.010, avg_ms: 0.051, max_ms: 0.114, mdev_ms: None }
        );
    }

    #[test]
    fn non_fancy_busybox_cannot_measure() {
        let mut p = PingParser::new();
        assert_eq!(p.feed("10.0.0.5 is alive!", Some(1)), PingEvent::Alive { host: "10.0.0.5".into() });
        let (s, _) = p.finish("10.0.0.5", Duration::from_millis(20), Duration::from_secs(4));
        assert!(matches!(s.end, ProbeEnd::CannotMeasure { ref reason } if reason.contains("FANCY_PING")));
        let mut p = PingParser::new();
        assert_eq!(p.feed("No response from 10.0.0.5", None), PingEvent::NoResponse { host: "10.0.0.5".into() });
        assert!(matches!(
            p.finish("10.0.0.5", Duration::from_secs(1), Duration::from_secs(4)).0.end,
            ProbeEnd::CannotMeasure { .. }
        ));
    }

    #[test]
    fn garbage_is_other() {
        for line in [
            "",
            "--- 10.213.9.2 ping statistics ---",
            "pipe 12",
            "[abc] 64 bytes from x: icmp_seq=",
            "64 bytes from x: icmp_seq=NaN ttl=1",
            "rtt min/avg/max/mdev = NaN/inf/1/2 ms",
            "1 packets transmitted, x received",
            "PING nothing",
        ] {
            assert!(matches!(parse_line(line, None), PingEvent::Other { .. }), "{line:?}");
        }
        assert_eq!(parse_unix_micros("99999999999999999999"), None);
        assert_eq!(parse_unix_micros("1."), None);
        assert_eq!(parse_unix_micros("1.5"), Some(1_500_000));
        assert_eq!(parse_unix_micros("1.1234567"), Some(1_123_456));
    }

    #[test]
    fn sequence_numbers_unwrap_across_65535() {
        let mut u = SeqUnwrapper::default();
        let got: Vec<u64> = [65534, 65535, 0, 1, 65535, 2].into_iter().map(|s| u.unwrap(s)).collect();
        assert_eq!(got, [65534, 65535, 65536, 65537, 65535, 65538]);
    }

    #[test]
    fn a_run_that_died_without_statistics_ended_early() {
        let mut p = PingParser::new();
        p.feed("PING 10.0.0.5 (10.0.0.5) 56(84) bytes of data.", None);
        p.feed("[1.000000] 64 bytes from 10.0.0.5: icmp_seq=1 ttl=64 time=0.1 ms", None);
        p.feed("ping: sendmsg: Network is unreachable", None);
        let (s, summary) = p.finish("vm.example", Duration::from_millis(20), Duration::from_secs(4));
        assert!(matches!(s.end, ProbeEnd::EndedEarly { ref reason } if reason.contains("sendmsg")), "{:?}", s.end);
        assert_eq!(s.target, "vm.example");
        assert_eq!(
            summary,
            PingSummary {
                address: Some("10.0.0.5".into()),
                transmitted: None,
                received: None,
                errors: vec!["ping: sendmsg: Network is unreachable".into()]
            }
        );
        // statistics well before the deadline with an error: ping gave up
        let mut p = PingParser::new();
        p.feed("[1.000000] 64 bytes from 10.0.0.5: icmp_seq=1 ttl=64 time=0.1 ms", None);
        p.feed("ping: sendmsg: Network is unreachable", None);
        p.feed("2 packets transmitted, 1 received, +1 errors, 50% packet loss, time 1512ms", None);
        let (s, _) = p.finish("10.0.0.5", Duration::from_millis(20), Duration::from_secs(4));
        assert!(matches!(s.end, ProbeEnd::EndedEarly { ref reason } if reason.contains("1512 ms")), "{:?}", s.end);
    }

    #[test]
    fn an_error_before_anything_was_sent_cannot_measure() {
        let mut p = PingParser::new();
        p.feed("PING 10.213.9.2 (10.213.9.2) 56(84) bytes of data.", None);
        p.feed("ping: cannot flood; minimal interval allowed for user is 2ms", None);
        let (s, _) = p.finish("10.0.0.5", Duration::from_millis(1), Duration::from_secs(1));
        assert_eq!(
            s.end,
            ProbeEnd::CannotMeasure { reason: "ping: cannot flood; minimal interval allowed for user is 2ms".into() }
        );
        assert!(matches!(PingParser::new().finish("10.0.0.5", Duration::from_secs(1), Duration::from_secs(1)).0.end,
            ProbeEnd::CannotMeasure { ref reason } if reason == "ping printed nothing"));
    }

    #[test]
    fn lost_samples_are_interpolated_and_a_last_in_flight_request_is_dropped() {
        let mut p = PingParser::new();
        for (t, seq) in [("1.000000", 1), ("1.020000", 2), ("1.080000", 5)] {
            p.feed(&format!("[{t}] 64 bytes from h: icmp_seq={seq} ttl=1 time=0.1 ms"), None);
        }
        p.feed("6 packets transmitted, 3 received, 50% packet loss, time 100ms", None);
        let (s, _) = p.finish("10.0.0.5", Duration::from_millis(20), Duration::from_millis(100));
        let got: Vec<(u64, i64, bool)> = s.samples.iter().map(|x| (x.seq, x.at_us, x.ok)).collect();
        assert_eq!(
            got,
            [
                (1, 1_000_000, true),
                (2, 1_020_000, true),
                (3, 1_040_000, false),
                (4, 1_060_000, false),
                (5, 1_080_000, true)
            ]
        );
        assert_eq!(s.end, ProbeEnd::Completed);
    }

    #[test]
    fn corrupt_sequence_spans_are_refused() {
        let mut p = PingParser::new();
        p.feed("[1.0] 64 bytes from h: icmp_seq=1 ttl=1 time=0.1 ms", None);
        p.feed("18446744073709551615 packets transmitted, 1 received, 0% packet loss, time 1ms", None);
        let (s, _) = p.finish("10.0.0.5", Duration::from_millis(20), Duration::from_millis(100));
        assert!(matches!(s.end, ProbeEnd::CannotMeasure { ref reason } if reason.contains("corrupt")));
    }
}
