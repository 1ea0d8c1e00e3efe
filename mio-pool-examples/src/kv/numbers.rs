//! Numbers as Redis reads and writes them: strict integers (`string2ll`)
//! and the decimal arithmetic of `INCRBYFLOAT`.

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

/// The most decimal places Redis prints (`%.17Lf`).
const MAX_SCALE: u32 = 17;

/// A decimal `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// A plain decimal (`-12.5`, `.5`, `3.`), exactly, if it has at most
    /// [`MAX_SCALE`] decimals and 30 digits.
    fn parse(s: &[u8]) -> Option<Decimal> {
        let (neg, body) = match s {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            _ => (false, s),
        };
        let (int, frac) = match body.iter().position(|&b| b == b'.') {
            Some(dot) => (&body[..dot], &body[dot + 1..]),
            None => (body, &[][..]),
        };
        if int.is_empty() && frac.is_empty()
            || int.len() + frac.len() > 30
            || frac.len() > MAX_SCALE as usize
            || !int.iter().chain(frac).all(u8::is_ascii_digit)
        {
            return None;
        }
        let mantissa = int
            .iter()
            .chain(frac)
            .fold(0i128, |m, d| m * 10 + i128::from(d - b'0'));
        Some(Decimal {
            mantissa: if neg { -mantissa } else { mantissa },
            scale: frac.len() as u32,
        })
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.checked_mul(10i128.pow(scale - self.scale))?;
        let b = other
            .mantissa
            .checked_mul(10i128.pow(scale - other.scale))?;
        let mantissa = a.checked_add(b)?;
        // Beyond 10^30 a double's precision is what Redis's long double
        // rounding shows anyway; let the float path print it.
        (mantissa.unsigned_abs() < 10u128.pow(30)).then_some(Decimal { mantissa, scale })
    }

    /// Like Redis's `%.17Lf` with trailing zeros (and the dot) removed.
    fn format(self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let frac = frac.trim_end_matches('0');
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }
}

/// The longest float operand Redis reads (`MAX_LONG_DOUBLE_CHARS`): a bound
/// on the work a hostile value can cause, too.
const MAX_FLOAT_CHARS: usize = 5 * 1024;

/// A float operand as Redis accepts it: shorter than [`MAX_FLOAT_CHARS`],
/// no surrounding space, not NaN.
fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.len() >= MAX_FLOAT_CHARS {
        return None;
    }
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| !f.is_nan())
}

/// `INCRBYFLOAT`: `current + increment`, formatted as Redis stores it.
///
/// Redis computes in `long double` and prints 17 decimals with trailing
/// zeros removed, which for decimal operands of moderate size is the exact
/// decimal sum: so this adds plain decimals exactly (`0.1 + 0.2` is `0.3`,
/// as in Redis), and falls back to `f64` for exponents and huge values,
/// where the last digits may differ from Redis's.
pub fn incr_by_float(current: &[u8], increment: &[u8]) -> Result<String, FloatError> {
    let (a, b) = (
        parse_f64(current).ok_or(FloatError::NotAFloat)?,
        parse_f64(increment).ok_or(FloatError::NotAFloat)?,
    );
    let sum = a + b;
    if !sum.is_finite() {
        return Err(FloatError::NotFinite);
    }
    if let (Some(x), Some(y)) = (Decimal::parse(current), Decimal::parse(increment)) {
        if let Some(exact) = x.add(y) {
            return Ok(exact.format());
        }
    }
    if sum == 0.0 {
        return Ok("0".into());
    }
    Ok(format!("{sum}"))
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
        assert_eq!(f(&long[1..], "1"), Err(FloatError::NotFinite));
    }
}
