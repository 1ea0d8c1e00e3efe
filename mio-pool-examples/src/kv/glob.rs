//! Glob-style patterns as Redis matches them (`KEYS`, `SCAN MATCH`,
//! `CONFIG GET`).

/// Whether `text` matches `pattern`: `*` any run of bytes, `?` one byte,
/// `[abc]`, `[^a-z]` a class, `\x` the byte `x`; case-sensitive.
///
/// Runs in O(pattern × text) in the worst case: a failed match after a `*`
/// restarts just after the last `*` only (the classic backtracking with one
/// saved position), so patterns like `*a*a*a*b` cannot make it exponential
/// as a naive recursive matcher would.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // After the last `*`: where in the pattern, and where in the text.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if let Some((p_len, hit)) = token(pattern, p, text[t]) {
            if hit {
                p += p_len;
                t += 1;
                continue;
            }
        } else if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            star = Some((p, t));
            continue;
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// The pattern token at `p` against the byte `c`: its length and whether
/// it matches; `None` at the end of the pattern or at a `*`.
fn token(pattern: &[u8], p: usize, c: u8) -> Option<(usize, bool)> {
    match *pattern.get(p)? {
        b'*' => None,
        b'?' => Some((1, true)),
        b'\\' if p + 1 < pattern.len() => Some((2, pattern[p + 1] == c)),
        b'[' => Some(class(pattern, p + 1, c)),
        b => Some((1, b == c)),
    }
}

/// A `[...]` class starting after its `[` at `p`: its length (with the
/// brackets) and whether `c` is in it. An unclosed class runs to the end
/// of the pattern, as in Redis.
fn class(pattern: &[u8], mut p: usize, c: u8) -> (usize, bool) {
    let start = p - 1;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut hit = false;
    while p < pattern.len() && pattern[p] != b']' {
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            hit |= pattern[p + 1] == c;
            p += 2;
        } else if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() {
            let (a, b) = (pattern[p], pattern[p + 2]);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            hit |= (lo..=hi).contains(&c);
            p += 3;
        } else {
            hit |= pattern[p] == c;
            p += 1;
        }
    }
    let end = (p + 1).min(pattern.len());
    (end - start, hit != negate)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_like_redis() {
        let yes = [
            ("*", ""),
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("a?c", "abc"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hbllo"),
            ("h\\*llo", "h*llo"),
            ("user:*:name", "user:42:name"),
            ("*a*b", "xaxxb"),
        ];
        for (p, t) in yes {
            assert!(matches(p.as_bytes(), t.as_bytes()), "{p} ~ {t}");
        }
        let no = [
            ("a*", "bac"),
            ("a?c", "ac"),
            ("h[ae]llo", "hillo"),
            ("h[^e]llo", "hello"),
            ("h\\*llo", "hallo"),
            ("abc", "ABC"),
            ("*a*b", "xaxxba"),
        ];
        for (p, t) in no {
            assert!(!matches(p.as_bytes(), t.as_bytes()), "{p} !~ {t}");
        }
    }

    #[test]
    fn many_stars_do_not_explode() {
        let pattern = "*a".repeat(30) + "b";
        let text = "a".repeat(5000);
        assert!(!matches(pattern.as_bytes(), text.as_bytes()));
    }
}
