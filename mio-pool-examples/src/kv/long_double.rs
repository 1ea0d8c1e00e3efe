//! The x87 `long double` arithmetic of Redis's `INCRBYFLOAT`, in software:
//! parse (`strtold`), add, print (`%.17Lf`), each rounded exactly as the C
//! library does, so that replies match Redis digit for digit (`0.3 + 1e3`
//! is `1000.29999999999999999` there, not `1000.3`).
//!
//! A value is `mantissa × 2^exp` with a 64-bit mantissa, as the x87
//! extended format has; every operation computes the exact result with
//! big integers and rounds it to nearest, ties to even. Inputs are at most
//! 5 KiB (Redis's limit), which bounds the big integers' size.

use std::cmp::Ordering;

/// A non-negative big integer, 32-bit limbs, least significant first,
/// without leading zero limbs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(n: u64) -> Big {
        let mut b = Big(vec![n as u32, (n >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => 32 * (self.0.len() as u64 - 1) + u64::from(32 - top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// Whether any bit below `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let (limbs, rest) = ((i / 32) as usize, i % 32);
        self.0.iter().take(limbs).any(|&l| l != 0)
            || (rest > 0
                && self
                    .0
                    .get(limbs)
                    .is_some_and(|&l| l & ((1 << rest) - 1) != 0))
    }

    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for l in &mut self.0 {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    /// Divides by `d`; returns the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*l);
            *l = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            out.push(if bits == 0 { l } else { (l << bits) | carry });
            carry = if bits == 0 { 0 } else { l >> (32 - bits) };
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: u64) -> Big {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        if limbs >= self.0.len() {
            return Big::default();
        }
        let src = &self.0[limbs..];
        let out = (0..src.len())
            .map(|i| {
                let hi = src.get(i + 1).copied().unwrap_or(0);
                if bits == 0 {
                    src[i]
                } else {
                    (src[i] >> bits) | (hi << (32 - bits))
                }
            })
            .collect();
        let mut b = Big(out);
        b.trim();
        b
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `self - other`; `self` must not be smaller.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut v =
                i64::from(self.0[i]) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            if v < 0 {
                v += 1 << 32;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        // Least significant digit first.
        let mut digits = Vec::new();
        while !n.is_zero() {
            let mut r = n.div_small(1_000_000_000);
            for _ in 0..9 {
                digits.push(b'0' + (r % 10) as u8);
                r /= 10;
            }
        }
        while digits.len() > 1 && digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            return "0".into();
        }
        digits.reverse();
        String::from_utf8(digits).expect("digits are ASCII")
    }
}

/// A finite `long double`: `(-1)^neg × mantissa × 2^exp`, the mantissa
/// at most 64 bits (zero has mantissa 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    mantissa: Big,
    exp: i64,
}

/// The largest binary exponent of a finite `long double` (its maximum is
/// just under 2^16384), and the smallest one of a subnormal.
const MAX_EXP: i64 = 16384;
const MIN_EXP: i64 = -16445;

/// What `strtold` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A finite number.
    Finite(LongDouble),
    /// `inf`, `infinity` (any case), with a sign.
    Infinite,
}

impl LongDouble {
    /// Rounds `(-1)^neg × big × 2^exp` (with `sticky`: plus something
    /// smaller than the last bit of `big`) to 64 bits, to nearest, ties to
    /// even. `None` if it overflows.
    fn round(neg: bool, big: Big, mut exp: i64, sticky: bool) -> Option<LongDouble> {
        let bits = big.bits() as i64;
        // 64 bits, or fewer for a subnormal: the last bit is never below
        // 2^MIN_EXP.
        let shift = (bits - 64).max(MIN_EXP - exp).max(0);
        let mut mantissa = big.clone();
        if shift > 0 {
            let s = shift as u64;
            mantissa = big.shr(s);
            let half = big.bit(s - 1);
            let lower = big.any_below(s - 1) || sticky;
            if half && (lower || mantissa.bit(0)) {
                mantissa = mantissa.add(&Big::from_u64(1));
            }
            exp += shift;
            if mantissa.bits() > 64 {
                mantissa = mantissa.shr(1);
                exp += 1;
            }
        }
        if !mantissa.is_zero() && exp + mantissa.bits() as i64 > MAX_EXP {
            return None;
        }
        Some(LongDouble {
            neg: neg && !mantissa.is_zero(),
            mantissa,
            exp,
        })
    }

    /// Parses a decimal number as `strtold` does (sign, digits, a dot, an
    /// exponent; or `inf`), `None` if it is not one, or overflows or
    /// underflows to zero from a non-zero value (Redis refuses those).
    pub fn parse(s: &[u8]) -> Option<Parsed> {
        let (neg, body) = match s {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Parsed::Infinite);
        }
        let (num, exp10) = match body.iter().position(|b| b.eq_ignore_ascii_case(&b'e')) {
            Some(e) => {
                let exp = &body[e + 1..];
                let digits = exp
                    .strip_prefix(b"-")
                    .or(exp.strip_prefix(b"+"))
                    .unwrap_or(exp);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                // Beyond ±100000 the number overflows or underflows anyway.
                let v: i64 = std::str::from_utf8(digits)
                    .ok()?
                    .parse()
                    .unwrap_or(100_000)
                    .min(100_000);
                (&body[..e], if exp[0] == b'-' { -v } else { v })
            }
            None => (body, 0),
        };
        let (int, frac) = match num.iter().position(|&b| b == b'.') {
            Some(dot) => (&num[..dot], &num[dot + 1..]),
            None => (num, &[][..]),
        };
        if (int.is_empty() && frac.is_empty()) || !int.iter().chain(frac).all(u8::is_ascii_digit) {
            return None;
        }
        let mut n = Big::default();
        for &d in int.iter().chain(frac) {
            n.mul_add_small(10, u32::from(d - b'0'));
        }
        if n.is_zero() {
            return Some(Parsed::Finite(LongDouble::zero()));
        }
        let exp10 = exp10 - frac.len() as i64;
        let value = if exp10 >= 0 {
            if exp10 > 5000 {
                return None;
            }
            for _ in 0..exp10 {
                n.mul_add_small(10, 0);
            }
            LongDouble::round(neg, n, 0, false)?
        } else {
            let k = -exp10;
            if k > 5500 {
                return None;
            }
            // Enough bits that the quotient keeps 66 of them.
            let s = (66 + 4 * k - n.bits() as i64).max(0) as u64;
            let mut q = n.shl(s);
            let mut sticky = false;
            for _ in 0..k {
                sticky |= q.div_small(10) != 0;
            }
            LongDouble::round(neg, q, -(s as i64), sticky)?
        };
        if value.mantissa.is_zero() {
            return None; // underflow
        }
        Some(Parsed::Finite(value))
    }

    fn zero() -> LongDouble {
        LongDouble {
            neg: false,
            mantissa: Big::default(),
            exp: 0,
        }
    }

    /// The sum, rounded; `None` if it overflows.
    pub fn add(&self, other: &LongDouble) -> Option<LongDouble> {
        if self.mantissa.is_zero() {
            return Some(other.clone());
        }
        if other.mantissa.is_zero() {
            return Some(self.clone());
        }
        let exp = self.exp.min(other.exp);
        let a = self.mantissa.shl((self.exp - exp) as u64);
        let b = other.mantissa.shl((other.exp - exp) as u64);
        let (neg, sum) = if self.neg == other.neg {
            (self.neg, a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Less => (other.neg, b.sub(&a)),
                _ => (self.neg, a.sub(&b)),
            }
        };
        if sum.is_zero() {
            return Some(LongDouble::zero());
        }
        LongDouble::round(neg, sum, exp, false)
    }

    /// `%.17Lf` with trailing zeros (and then the dot) removed, as Redis
    /// prints an `INCRBYFLOAT` result.
    pub fn format(&self) -> String {
        let mut scaled = self.mantissa.clone();
        for _ in 0..17 {
            scaled.mul_add_small(10, 0);
        }
        let int = if self.exp >= 0 {
            scaled.shl(self.exp as u64)
        } else {
            let s = (-self.exp) as u64;
            let mut q = scaled.shr(s);
            let half = scaled.bit(s - 1);
            if half && (scaled.any_below(s - 1) || q.bit(0)) {
                q = q.add(&Big::from_u64(1));
            }
            q
        };
        let digits = format!("{:0>18}", int.to_decimal());
        let (whole, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let sign = if self.neg { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> LongDouble {
        match LongDouble::parse(s.as_bytes()) {
            Some(Parsed::Finite(x)) => x,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn big_integers_print_and_shift() {
        let mut b = Big::from_u64(u64::MAX);
        b.mul_add_small(10, 7);
        assert_eq!(b.to_decimal(), "184467440737095516157");
        assert_eq!(b.shl(40).shr(40), b);
        assert_eq!(Big::from_u64(1_000_000_000).to_decimal(), "1000000000");
        assert_eq!(Big::default().to_decimal(), "0");
    }

    /// What redis-server 7.0 replies to `INCRBYFLOAT` of 1e400 on 21.5.
    const BIG: &str = "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880";

    #[test]
    fn sums_print_as_redis_prints_them() {
        // Each expected text is what redis-server 7.0 replies.
        let sum = |a: &str, b: &str| ld(a).add(&ld(b)).unwrap().format();
        assert_eq!(sum("0.3", "1e3"), "1000.29999999999999999");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("1000", "1.5e-3"), "1000.0015");
        assert_eq!(sum("10", "3.0e10"), "30000000010");
        assert_eq!(sum("0", "-0.0"), "0");
        assert_eq!(sum("3", "-5.25"), "-2.25");
        assert_eq!(ld("1.0000000000000000001").format(), "1");
        // Beyond a double's range, digit for digit.
        assert_eq!(sum("21.5", "1e400"), BIG);
        assert_eq!(LongDouble::parse(b"1e5000"), None);
        assert_eq!(LongDouble::parse(b"1e-5000"), None);
        assert_eq!(LongDouble::parse(b"-Inf"), Some(Parsed::Infinite));
        assert_eq!(LongDouble::parse(b"1.2.3"), None);
        assert_eq!(LongDouble::parse(b"e5"), None);
    }
}
