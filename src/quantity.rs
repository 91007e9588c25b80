//! Kubernetes resource quantities (`4Gi`, `512Mi`, `100m`, `1e3`, `4567597057`) as numbers.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The value of a quantity in base units (bytes for memory), or `None` when it does not parse.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

/// A quantity in bytes, rounded up; `None` when it does not parse or does not fit in a `u64`.
pub fn bytes(q: &Quantity) -> Option<u64> {
    let v = parse(&q.0)?.ceil();
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v as u64)
}

/// Bytes as a short binary size: `4Gi`, `276Mi`, `1.5Gi`.
pub fn format_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
    for (unit, size) in UNITS {
        if b >= size {
            let v = b as f64 / size as f64;
            return if (v - v.round()).abs() < 0.05 {
                format!("{}{unit}", v.round() as u64)
            } else {
                format!("{v:.1}{unit}")
            };
        }
    }
    format!("{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_up_and_refuse_what_does_not_fit() {
        let b = |s: &str| bytes(&Quantity(s.into()));
        assert_eq!(b("4Gi"), Some(4 * 1024 * 1024 * 1024));
        assert_eq!(b("1G"), Some(1_000_000_000));
        assert_eq!(b("1.5Ki"), Some(1536));
        assert_eq!(b("12"), Some(12));
        assert_eq!(b("4Zi"), None);
        assert_eq!(b(""), None);
        assert_eq!(b("-1Gi"), None);
        assert_eq!(b("99999999999999999999Pi"), None);
    }

    #[test]
    fn parses_binary_decimal_milli_and_exponent() {
        assert_eq!(parse("4Gi"), Some(4294967296.0));
        assert_eq!(parse("31586796Ki"), Some(31586796.0 * 1024.0));
        assert_eq!(parse("4567597057"), Some(4567597057.0));
        assert_eq!(parse("50M"), Some(50e6));
        assert_eq!(parse("100m"), Some(0.1));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse("1.5Gi"), Some(1.5 * 1073741824.0));
        assert_eq!(parse("12X"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(format_bytes(4294967296), "4Gi");
        assert_eq!(format_bytes(289406976), "276Mi");
        assert_eq!(format_bytes(1536 << 20), "1.5Gi");
        assert_eq!(format_bytes(12), "12");
    }
}
