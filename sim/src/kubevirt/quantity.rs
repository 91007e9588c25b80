//! Kubernetes resource quantities (`4Gi`, `31586796Ki`, `4567597057`, `100m`, `1k`, `1.5G`) as plain numbers.

/// The value of a quantity in base units (bytes for memory), or `None` when it does not parse.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * factor)
}

/// A quantity given as a JSON string or number.
pub fn parse_value(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::String(s) => parse(s),
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_decimal_and_plain_quantities() {
        assert_eq!(parse("4Gi"), Some(4.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse("31586796Ki"), Some(31586796.0 * 1024.0));
        assert_eq!(parse("4567597057"), Some(4567597057.0));
        assert_eq!(parse("1k"), Some(1000.0));
        assert_eq!(parse("100m"), Some(0.1));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse("0"), Some(0.0));
        assert_eq!(parse("lots"), None);
        assert_eq!(parse("4Qi"), None);
    }
}
