//! The commands on keys whatever their value: deletion, existence, type,
//! deadlines, listing, renaming, and the whole keyspace.

use super::commands::{Ctx, Outcome, SYNTAX};
use super::glob;
use super::store::Ttl;
use super::strings::Unit;

pub(crate) fn del(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let n = ctx.server.store.keys(&args[1..], |ks| {
        (0..ks.len())
            .filter(|&i| ks.at(i).remove().is_some())
            .count()
    });
    ctx.integer(n as i64)
}

pub(crate) fn exists(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let n = ctx.server.store.keys(&args[1..], |ks| {
        (0..ks.len()).filter(|&i| ks.at(i).exists()).count()
    });
    ctx.integer(n as i64)
}

pub(crate) fn type_(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let exists = ctx.server.store.key(args[1], |k| k.exists());
    ctx.out.simple(if exists { "string" } else { "none" });
    Outcome::Continue
}

/// `EXPIRE key time [NX|XX|GT|LT]` and its three siblings, as Redis's
/// `expireGenericCommand`: a deadline in the past deletes the key.
fn expire_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], cmd: &str, unit: Unit) -> Outcome {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                return ctx.error(&format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                ))
            }
        }
    }
    if nx && (xx || gt || lt) {
        return ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx.error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(when) = ctx.int_arg(args[2]) else {
        return Outcome::Continue;
    };
    let server = ctx.server;
    server.store.key(args[1], |k| {
        let base = match unit {
            Unit::Seconds | Unit::Millis => k.now(),
            Unit::UnixSeconds | Unit::UnixMillis => 0,
        };
        let seconds = matches!(unit, Unit::Seconds | Unit::UnixSeconds);
        let when = if seconds {
            when.checked_mul(1000)
        } else {
            Some(when)
        };
        let Some(when) = when.and_then(|w| w.checked_add(base)) else {
            ctx.out
                .error(&format!("ERR invalid expire time in '{cmd}' command"));
            return;
        };
        if !k.exists() {
            ctx.out.integer(0);
            return;
        }
        let current = k.expires();
        let refused = (nx && current.is_some())
            || (xx && current.is_none())
            || (gt && current.map_or(true, |c| when <= c))
            || (lt && current.is_some_and(|c| when >= c));
        if !refused {
            k.set_expires(Some(when));
        }
        ctx.out.integer(i64::from(!refused));
    });
    Outcome::Continue
}

pub(crate) fn expire(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    expire_generic(ctx, args, "expire", Unit::Seconds)
}

pub(crate) fn pexpire(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    expire_generic(ctx, args, "pexpire", Unit::Millis)
}

pub(crate) fn expireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    expire_generic(ctx, args, "expireat", Unit::UnixSeconds)
}

pub(crate) fn pexpireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    expire_generic(ctx, args, "pexpireat", Unit::UnixMillis)
}

fn ttl_reply(ctx: &mut Ctx<'_>, key: &[u8], millis: bool) -> Outcome {
    let n = match ctx.server.store.key(key, |k| k.ttl()) {
        Ttl::Missing => -2,
        Ttl::Forever => -1,
        Ttl::Remaining(ms) if millis => ms,
        // Rounded to the nearest second, as Redis does.
        Ttl::Remaining(ms) => (ms + 500) / 1000,
    };
    ctx.integer(n)
}

pub(crate) fn ttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    ttl_reply(ctx, args[1], false)
}

pub(crate) fn pttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    ttl_reply(ctx, args[1], true)
}

pub(crate) fn persist(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let done = ctx
        .server
        .store
        .key(args[1], |k| k.expires().is_some() && k.set_expires(None));
    ctx.integer(i64::from(done))
}

pub(crate) fn keys(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let pattern = args[1];
    let mut found = Vec::new();
    ctx.server.store.for_each_key(|k| {
        if glob::matches(pattern, k) {
            found.push(k.to_vec());
        }
    });
    ctx.out.array_len(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Outcome::Continue
}

/// The most keys one `SCAN` step looks at, whatever its `COUNT`: a bound
/// on the time one step holds a worker and the memory of its reply.
const MAX_SCAN_COUNT: usize = 100_000;

/// A cursor as Redis reads it (`strtoul`): an optional sign and decimal
/// digits that fit 64 bits; a negative one wraps around.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { n.wrapping_neg() } else { n })
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]`.
pub(crate) fn scan(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let Some(cursor) = parse_cursor(args[1]) else {
        return ctx.error("ERR invalid cursor");
    };
    let (mut pattern, mut count, mut only_strings) = (None, 10, true);
    let mut i = 2;
    while i < args.len() {
        let opt = args[i];
        let Some(&value) = args.get(i + 1) else {
            return ctx.error(SYNTAX);
        };
        if opt.eq_ignore_ascii_case(b"MATCH") {
            pattern = Some(value);
        } else if opt.eq_ignore_ascii_case(b"COUNT") {
            let Some(n) = ctx.int_arg(value) else {
                return Outcome::Continue;
            };
            if n < 1 {
                return ctx.error(SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"TYPE") {
            only_strings = value.eq_ignore_ascii_case(b"string");
        } else {
            return ctx.error(SYNTAX);
        }
        i += 2;
    }
    let mut found = Vec::new();
    let next = ctx
        .server
        .store
        .scan(cursor, count.min(MAX_SCAN_COUNT), |k| {
            if only_strings && pattern.map_or(true, |p| glob::matches(p, k)) {
                found.push(k.to_vec());
            }
        });
    ctx.out.array_len(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array_len(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Outcome::Continue
}

pub(crate) fn randomkey(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    let key = ctx.server.store.random_key();
    ctx.out.bulk_or_null(key.as_deref());
    Outcome::Continue
}

/// `RENAME`/`RENAMENX`: moves the value and its deadline. Returns whether
/// it moved, `None` if the source is missing.
fn rename_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], only_new: bool) -> Option<bool> {
    let keys = [args[1], args[2]];
    let moved = ctx.server.store.keys(&keys, |ks| {
        if !ks.at(0).exists() {
            return None;
        }
        if only_new && ks.at(1).exists() {
            return Some(false);
        }
        if args[1] == args[2] {
            return Some(true);
        }
        let (value, expires) = ks.at(0).remove().expect("exists");
        ks.at(1).set(value, expires);
        Some(true)
    });
    if moved.is_none() {
        ctx.out.error("ERR no such key");
    }
    moved
}

pub(crate) fn rename(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    if rename_generic(ctx, args, false).is_some() {
        ctx.out.ok();
    }
    Outcome::Continue
}

pub(crate) fn renamenx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    if let Some(moved) = rename_generic(ctx, args, true) {
        ctx.out.integer(i64::from(moved));
    }
    Outcome::Continue
}

pub(crate) fn dbsize(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    let n = ctx.server.store.dbsize();
    ctx.integer(n as i64)
}

/// `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`: one database, so the same.
pub(crate) fn flush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    match args {
        [_] => {}
        [_, mode] if mode.eq_ignore_ascii_case(b"SYNC") || mode.eq_ignore_ascii_case(b"ASYNC") => {}
        _ => return ctx.error(SYNTAX),
    }
    ctx.server.store.clear();
    ctx.ok()
}
