//! Parser of the HTTP probe's output (the script in `http_probe.sh`, see [`super::command::http_probe_argv`]).
//!
//! One line per request, `vmmprobe-http SEQ START HTTP_CODE TIME_TOTAL CURL_EXIT [ERROR MESSAGE]`, where START is
//! `date +%s.%N` in the container (a `date` without `%N`, as BusyBox's without `FEATURE_DATE_NANO`, prints
//! `1795789445.%N`: then the caller's receive time is used), HTTP_CODE/TIME_TOTAL/CURL_EXIT/ERROR are curl's
//! `%{http_code} %{time_total} %{exitcode} %{errormsg}`; and a last line `vmmprobe-http-end COUNT`.
//!
//! A request answered when curl exited 0 with a 2xx or 3xx status: a 5xx from a service that is only half up is
//! service-level downtime too. No input makes the parser panic.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::analysis::{ProbeEnd, ProbeSeries, Sample, UnixMicros};
use super::ping::parse_unix_micros;

/// One HTTP request as the probe reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    /// The script's request counter (from 1).
    pub seq: u64,
    /// When the request started: the container's `date +%s.%N`, else the caller's receive time.
    pub started_us: Option<UnixMicros>,
    /// HTTP status (0 when no response arrived).
    pub status: u16,
    /// curl's `time_total`, ms.
    pub total_ms: Option<f64>,
    /// curl's exit code (None when curl printed nothing, e.g. it is missing).
    pub curl_exit: Option<i32>,
    /// curl's error message, if any.
    pub error: Option<String>,
}

impl HttpRequest {
    /// Whether the service answered: curl exited 0 with a 2xx or 3xx status.
    pub fn ok(&self) -> bool {
        self.curl_exit == Some(0) && (200..400).contains(&self.status)
    }
}

/// One line of HTTP probe output, parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "line", rename_all = "camelCase")]
pub enum HttpLine {
    /// A request.
    Request(HttpRequest),
    /// The end line.
    End {
        /// Requests made.
        count: u64,
    },
    /// Anything else.
    Other {
        /// The text.
        text: String,
    },
}

/// Parses one line received at `received_at_us` (prober clock), used when the line has no sub-second start time.
pub fn parse_http_line(line: &str, received_at_us: Option<UnixMicros>) -> HttpLine {
    let line = line.trim_end_matches(['\r', '\n']);
    let other = || HttpLine::Other { text: line.to_string() };
    if let Some(rest) = line.strip_prefix("vmmprobe-http-end ") {
        return rest.trim().parse().map(|count| HttpLine::End { count }).unwrap_or_else(|_| other());
    }
    let Some(rest) = line.strip_prefix("vmmprobe-http ") else { return other() };
    let mut fields = rest.splitn(6, ' ');
    let Some(seq) = fields.next().and_then(|s| s.parse::<u64>().ok()) else { return other() };
    let Some(start) = fields.next() else { return other() };
    let started_us = parse_unix_micros(start).filter(|_| start.contains('.')).or(received_at_us);
    let status = fields.next().and_then(|s| s.parse::<u16>().ok());
    let total_ms = fields.next().and_then(|s| s.parse::<f64>().ok()).filter(|t| t.is_finite() && *t >= 0.0);
    let curl_exit = fields.next().and_then(|s| s.parse::<i32>().ok());
    let error = fields.next().map(str::trim).filter(|e| !e.is_empty()).map(str::to_string);
    let error = match (status, curl_exit, error) {
        (None, None, None) => Some("curl printed nothing (is curl installed and at least 7.75?)".to_string()),
        (_, _, e) => e,
    };
    HttpLine::Request(HttpRequest {
        seq,
        started_us,
        status: status.unwrap_or(0),
        total_ms: total_ms.map(|t| t * 1000.0),
        curl_exit,
        error,
    })
}

/// Counts over a whole HTTP probe run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpSummary {
    /// Requests reported.
    pub requests: u64,
    /// Requests answered with 2xx/3xx.
    pub ok: u64,
    /// The others.
    pub failed: u64,
    /// Requests per HTTP status (0 = no response).
    pub statuses: BTreeMap<u16, u64>,
    /// Requests per curl error message (the first few distinct ones).
    pub errors: BTreeMap<String, u64>,
    /// The end line's count, if the end line arrived.
    pub end_count: Option<u64>,
}

/// Distinct error messages kept in the summary.
const KEPT_ERRORS: usize = 5;

/// Accumulates an HTTP probe run line by line.
#[derive(Debug, Clone, Default)]
pub struct HttpParser {
    requests: Vec<HttpRequest>,
    summary: HttpSummary,
}

impl HttpParser {
    /// A parser for one run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line and records it.
    pub fn feed(&mut self, line: &str, received_at_us: Option<UnixMicros>) -> HttpLine {
        let parsed = parse_http_line(line, received_at_us);
        match &parsed {
            HttpLine::Request(r) => {
                let s = &mut self.summary;
                s.requests += 1;
                if r.ok() {
                    s.ok += 1
                } else {
                    s.failed += 1
                }
                *s.statuses.entry(r.status).or_default() += 1;
                if let Some(e) = &r.error
                    && (s.errors.len() < KEPT_ERRORS || s.errors.contains_key(e))
                {
                    *s.errors.entry(e.clone()).or_default() += 1;
                }
                self.requests.push(r.clone());
            }
            HttpLine::End { count } => self.summary.end_count = Some(*count),
            HttpLine::Other { .. } => {}
        }
        parsed
    }

    /// Ends the run: `target` is the URL probed, `interval` the pause asked for between requests.
    pub fn finish(mut self, target: &str, interval: Duration) -> (ProbeSeries, HttpSummary) {
        self.requests.sort_by_key(|r| r.seq);
        self.requests.dedup_by_key(|r| r.seq);
        let curl_silent = !self.requests.is_empty() && self.requests.iter().all(|r| r.curl_exit.is_none());
        let end = if curl_silent {
            ProbeEnd::CannotMeasure { reason: "curl printed nothing for any request (is curl installed?)".into() }
        } else if self.summary.end_count.is_none() {
            ProbeEnd::EndedEarly { reason: "the HTTP probe ended without its end line".into() }
        } else if self.requests.is_empty() {
            ProbeEnd::CannotMeasure { reason: "the HTTP probe made no request".into() }
        } else {
            ProbeEnd::Completed
        };
        let samples = self
            .requests
            .iter()
            .filter_map(|r| {
                let at_us = r.started_us?;
                Some(Sample { seq: r.seq, at_us, ok: r.ok(), rtt_ms: r.total_ms })
            })
            .collect();
        let series = ProbeSeries {
            target: target.to_string(),
            method: "http".into(),
            requested_interval_us: i64::try_from(interval.as_micros()).unwrap_or(i64::MAX),
            samples,
            end,
        };
        (series, self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successful_request() {
        let l = parse_http_line("vmmprobe-http 1 1795789495.435751045 200 0.004809 0 ", Some(9));
        assert_eq!(
            l,
            HttpLine::Request(HttpRequest {
                seq: 1,
                started_us: Some(1_795_789_495_435_751),
                status: 200,
                total_ms: Some(4.809),
                curl_exit: Some(0),
                error: None
            })
        );
    }

    #[test]
    fn a_timed_out_request_keeps_curls_message() {
        let l = parse_http_line(
            "vmmprobe-http 26 1795789496.972086258 000 0.500741 28 Connection timed out after 501 milliseconds",
            None,
        );
        let HttpLine::Request(r) = l else { panic!("{l:?}") };
        assert!(!r.ok());
        assert_eq!((r.status, r.curl_exit), (0, Some(28)));
        assert_eq!(r.error.as_deref(), Some("Connection timed out after 501 milliseconds"));
    }

    #[test]
    fn a_date_without_nanoseconds_falls_back_to_the_receive_time() {
        let HttpLine::Request(r) = parse_http_line("vmmprobe-http 3 1795789445.%N 200 0.01 0 ", Some(42)) else {
            panic!()
        };
        assert_eq!(r.started_us, Some(42));
    }

    #[test]
    fn missing_curl_output_is_an_error_and_the_run_cannot_measure() {
        let mut p = HttpParser::new();
        let l = p.feed("vmmprobe-http 1 1795789445.1 ", None);
        assert!(matches!(l, HttpLine::Request(ref r) if r.error.as_deref().is_some_and(|e| e.contains("curl"))));
        p.feed("vmmprobe-http-end 1", None);
        let (s, summary) = p.finish("http://x/", Duration::from_millis(50));
        assert!(matches!(s.end, ProbeEnd::CannotMeasure { .. }));
        assert_eq!(summary.failed, 1);
    }

    #[test]
    fn server_errors_are_not_ok_and_the_summary_counts_them() {
        let mut p = HttpParser::new();
        p.feed("vmmprobe-http 1 10.0 200 0.001 0 ", None);
        p.feed("vmmprobe-http 2 10.1 503 0.001 0 ", None);
        p.feed("vmmprobe-http 3 10.2 000 0.5 28 Connection timed out after 500 milliseconds", None);
        p.feed("vmmprobe-http-end 3", None);
        let (series, summary) = p.finish("http://x/", Duration::from_millis(50));
        assert_eq!(series.end, ProbeEnd::Completed);
        assert_eq!(series.samples.iter().map(|s| s.ok).collect::<Vec<_>>(), [true, false, false]);
        assert_eq!((summary.requests, summary.ok, summary.failed, summary.end_count), (3, 1, 2, Some(3)));
        assert_eq!(summary.statuses, BTreeMap::from([(0, 1), (200, 1), (503, 1)]));
        assert_eq!(summary.errors.values().sum::<u64>(), 1);
    }

    #[test]
    fn a_run_without_its_end_line_ended_early() {
        let mut p = HttpParser::new();
        p.feed("vmmprobe-http 1 10.0 200 0.001 0 ", None);
        let (series, _) = p.finish("http://x/", Duration::from_millis(50));
        assert!(matches!(series.end, ProbeEnd::EndedEarly { .. }));
    }

    #[test]
    fn garbage_is_other() {
        for line in ["", "vmmprobe-http", "vmmprobe-http x 1 200", "vmmprobe-http-end many", "hello"] {
            assert!(matches!(parse_http_line(line, None), HttpLine::Other { .. }), "{line:?}");
        }
        let HttpLine::Request(r) = parse_http_line("vmmprobe-http 1 NaN 200 inf 0 ", None) else { panic!() };
        assert_eq!((r.started_us, r.total_ms), (None, None));
    }
}
