//! Go/kubectl-style durations: `500ms`, `20s`, `1m30s`, `1.5h`, `0`.
//!
//! The grammar is Go's `time.ParseDuration` without the sign: one or more `<number><unit>` terms, where the
//! number may have a decimal fraction and the unit is one of `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. A bare
//! `0` is allowed; any other number needs a unit. [`format`] writes the same syntax back, so values shown to
//! the user can be pasted into a flag.

use std::time::Duration;

/// Why a duration did not parse. The message is one line and quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration (expected e.g. 500ms, 20s, 1m30s, 2h)")]
    Empty,
    #[error("invalid duration \"{0}\": negative durations are not allowed")]
    Negative(String),
    #[error("invalid duration \"{0}\": missing unit (use ns, us, ms, s, m or h, e.g. 20s)")]
    MissingUnit(String),
    #[error("invalid duration \"{0}\": unknown unit \"{1}\" (use ns, us, ms, s, m or h)")]
    UnknownUnit(String, String),
    #[error("invalid duration \"{0}\" (expected e.g. 500ms, 20s, 1m30s, 2h)")]
    Invalid(String),
    #[error("invalid duration \"{0}\": too large")]
    Overflow(String),
}

/// Nanoseconds per unit, longest unit names first so that `ms` is not read as `m` + `s`.
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go/kubectl-style duration.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(s.to_string()));
    }
    let s_unsigned = s.strip_prefix('+').unwrap_or(s);
    if s_unsigned == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid(s.to_string());
    let mut rest = s_unsigned;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(s.to_string()));
        }
        let per_unit = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, nanos)| *nanos)
            .ok_or_else(|| DurationError::UnknownUnit(s.to_string(), unit.to_string()))?;
        let term = term_nanos(number, per_unit).ok_or_else(|| DurationError::Overflow(s.to_string()))?;
        total_nanos = total_nanos.checked_add(term).ok_or_else(|| DurationError::Overflow(s.to_string()))?;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| DurationError::Overflow(s.to_string()))?;
    // The remainder of a division by 1e9 always fits in u32.
    let nanos = (total_nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// `<int>[.<frac>]` times `per_unit` nanoseconds, truncating below one nanosecond like Go does.
fn term_nanos(number: &str, per_unit: u128) -> Option<u128> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let int: u128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let mut nanos = int.checked_mul(per_unit)?;
    let mut scale = per_unit;
    for digit in frac_part.chars() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        nanos = nanos.checked_add(u128::from(digit.to_digit(10)?) * scale)?;
    }
    Some(nanos)
}

/// Formats a duration in the syntax [`parse`] accepts, like Go's `Duration.String` without fractions of a
/// unit: `1h2m3s`, `1m30s`, `20s`, `1.5s`, `500ms`, `0s`.
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    let total_secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if total_secs == 0 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}us", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if nanos == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let frac = format!("{nanos:09}");
        out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1h2m3s4ms"), Ok(Duration::new(3723, 4_000_000)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse("7µs"), Ok(Duration::from_micros(7)));
        assert_eq!(parse("9ns"), Ok(Duration::from_nanos(9)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("+3s"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_bad_input_with_a_message_quoting_it() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("30"), Err(DurationError::MissingUnit("30".into())));
        assert_eq!(parse("-5s"), Err(DurationError::Negative("-5s".into())));
        assert_eq!(parse("5d"), Err(DurationError::UnknownUnit("5d".into(), "d".into())));
        assert_eq!(parse("1m30"), Err(DurationError::MissingUnit("1m30".into())));
        assert_eq!(parse("abc"), Err(DurationError::Invalid("abc".into())));
        assert_eq!(parse("1..5s"), Err(DurationError::Invalid("1..5s".into())));
        assert_eq!(parse("s"), Err(DurationError::Invalid("s".into())));
        assert!(matches!(parse("999999999999999999999h"), Err(DurationError::Overflow(_))));
        let msg = parse("5d").unwrap_err().to_string();
        assert!(msg.contains("\"5d\"") && !msg.contains('\n'), "{msg}");
    }

    #[test]
    fn formats_in_the_parsed_syntax() {
        for (d, s) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(7), "7us"),
            (Duration::from_nanos(9), "9ns"),
            (Duration::from_secs(20), "20s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(7200), "2h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::new(3723, 4_000_000), "1h2m3.004s"),
        ] {
            assert_eq!(format(d), s);
            assert_eq!(parse(s), Ok(d), "round trip of {s}");
        }
    }
}
