//! Numbers as Redis reads and writes them: strict integers (`string2ll`)
//! and the `long double` arithmetic of `INCRBYFLOAT`.

use super::long_double::{LongDouble, Parsed};

/// Parses an integer as Redis does (`string2ll`): an optional `-` and
/// decimal digits without leading zeros, nothing else. `0` is accepted;
/// `007`, `-0`, `+1`, ` 1` and out-of-range values are not.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    match digits {
        [] => return None,
        [b'0'] if digits.len() == bytes.len() => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    if bytes.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Why `INCRBYFLOAT` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatError {
    /// An operand is not a number (`ERR value is not a valid float`).
    NotAFloat,
    /// The sum is not finite (`ERR increment would produce NaN or Infinity`).
    NotFinite,
}

/// The longest float operand Redis reads (`MAX_LONG_DOUBLE_CHARS`): a bound
/// on the work a hostile value can cause, too.
const MAX_FLOAT_CHARS: usize = 5 * 1024;

/// A float operand as Redis reads it (`strtold`, refusing surrounding
/// space, NaN, and values that overflow or underflow).
fn parse_float(s: &[u8]) -> Result<Parsed, FloatError> {
    if s.len() >= MAX_FLOAT_CHARS {
        return Err(FloatError::NotAFloat);
    }
    LongDouble::parse(s).ok_or(FloatError::NotAFloat)
}

/// `INCRBYFLOAT`: `current + increment`, formatted as Redis stores it.
///
/// Redis computes in the x87 `long double` and prints 17 decimals with
/// trailing zeros removed; [`LongDouble`] does the same in software, so
/// the digits match (`0.1 + 0.2` is `0.3`, `0.3 + 1e3` is
/// `1000.29999999999999999`). Hexadecimal floats, which `strtold` also
/// reads, are refused.
pub fn incr_by_float(current: &[u8], increment: &[u8]) -> Result<String, FloatError> {
    let (a, b) = (parse_float(current)?, parse_float(increment)?);
    let (Parsed::Finite(a), Parsed::Finite(b)) = (a, b) else {
        return Err(FloatError::NotFinite);
    };
    a.add(&b)
        .map(|sum| sum.format())
        .ok_or(FloatError::NotFinite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict_like_redis() {
        for ok in [
            "0",
            "7",
            "-7",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert_eq!(parse_i64(ok.as_bytes()), Some(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "",
            "-",
            "007",
            "-0",
            "-00",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "9223372036854775808",
            "0x1",
        ] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn incrbyfloat_prints_like_redis() {
        let f = |a: &str, b: &str| incr_by_float(a.as_bytes(), b.as_bytes());
        // Each expected text is what redis-server 7.0 replies.
        assert_eq!(f("0", "0.1").unwrap(), "0.1");
        assert_eq!(f("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(f("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(f("0", "1e3").unwrap(), "1000");
        assert_eq!(f("1000", "1.5e-3").unwrap(), "1000.0015");
        assert_eq!(f("10", "3.0e10").unwrap(), "30000000010");
        assert_eq!(f("0.3", "1e3").unwrap(), "1000.29999999999999999");
        assert_eq!(f("0", "-0.0").unwrap(), "0");
        assert_eq!(f("5", ".5").unwrap(), "5.5");
        assert_eq!(f("5.5", "5.").unwrap(), "10.5");
        assert_eq!(f("3", "-5.25").unwrap(), "-2.25");
        assert_eq!(f("abc", "1"), Err(FloatError::NotAFloat));
        assert_eq!(f("1", " 1"), Err(FloatError::NotAFloat));
        assert_eq!(f("1", "1 "), Err(FloatError::NotAFloat));
        assert_eq!(f("1", "nan"), Err(FloatError::NotAFloat));
        assert_eq!(f("1", "inf"), Err(FloatError::NotFinite));
        let long = "1".repeat(MAX_FLOAT_CHARS);
        assert_eq!(f(&long, "1"), Err(FloatError::NotAFloat));
        // 5119 digits is about 1e5118: beyond even a long double.
        assert_eq!(f(&long[1..], "1"), Err(FloatError::NotAFloat));
        assert_eq!(f("1e4000", "1e4000").unwrap().len(), 4001);
    }
}
