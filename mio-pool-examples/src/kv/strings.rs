//! The string commands, with Redis 7's replies and errors.

use super::commands::{Ctx, Outcome, NOT_INTEGER, SYNTAX};
use super::numbers::{incr_by_float, parse_i64, FloatError};
use super::store::KeyRef;
use crate::resp::MAX_BULK;

/// The longest string a command may build (`APPEND`, `SETRANGE`): the
/// longest bulk string the parser accepts, standing for Redis's
/// `proto-max-bulk-len`.
pub const MAX_STRING: usize = MAX_BULK;

const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// How a deadline argument counts (`EX`, `PX`, `EXAT`, `PXAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Seconds from now.
    Seconds,
    /// Milliseconds from now.
    Millis,
    /// A Unix time in seconds.
    UnixSeconds,
    /// A Unix time in milliseconds.
    UnixMillis,
}

/// What `SET` or `GETEX` does with the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry<'a> {
    /// `SET`: none; `GETEX`: unchanged.
    Default,
    /// `KEEPTTL`.
    Keep,
    /// `PERSIST`.
    Persist,
    /// `EX`/`PX`/`EXAT`/`PXAT` and its argument, not yet validated.
    At(Unit, &'a [u8]),
}

/// Converts a deadline argument to an absolute Unix time in milliseconds as
/// Redis's `getExpireMillisecondsOrReply` does: not an integer, not
/// positive, or overflowing is an error naming `cmd`.
pub(crate) fn deadline(
    ctx: &mut Ctx<'_>,
    cmd: &str,
    unit: Unit,
    arg: &[u8],
    now: i64,
) -> Option<i64> {
    let n = ctx.int_arg(arg)?;
    let seconds = matches!(unit, Unit::Seconds | Unit::UnixSeconds);
    let ms = if n <= 0 || (seconds && n > i64::MAX / 1000) {
        None
    } else {
        let ms = if seconds { n * 1000 } else { n };
        match unit {
            Unit::Seconds | Unit::Millis => ms.checked_add(now),
            Unit::UnixSeconds | Unit::UnixMillis => Some(ms),
        }
    };
    if ms.is_none() {
        ctx.out
            .error(&format!("ERR invalid expire time in '{cmd}' command"));
    }
    ms
}

/// Parses the options of `SET` (from `args[3]`) or `GETEX` (from
/// `args[2]`) as Redis's `parseExtendedStringArgumentsOrReply` does.
/// Returns `(nx, xx, get, expiry)`.
fn string_options<'a>(args: &[&'a [u8]], set: bool) -> Option<(bool, bool, bool, Expiry<'a>)> {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::Default;
    let mut i = if set { 3 } else { 2 };
    while i < args.len() {
        let opt = args[i];
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        let next = args.get(i + 1).copied();
        let unit = if is("EX") {
            Some(Unit::Seconds)
        } else if is("PX") {
            Some(Unit::Millis)
        } else if is("EXAT") {
            Some(Unit::UnixSeconds)
        } else if is("PXAT") {
            Some(Unit::UnixMillis)
        } else {
            None
        };
        if set && is("NX") && !xx {
            nx = true;
        } else if set && is("XX") && !nx {
            xx = true;
        } else if set && is("GET") {
            get = true;
        } else if set && is("KEEPTTL") && matches!(expiry, Expiry::Default | Expiry::Keep) {
            expiry = Expiry::Keep;
        } else if !set && is("PERSIST") && matches!(expiry, Expiry::Default | Expiry::Persist) {
            expiry = Expiry::Persist;
        } else if let (Some(unit), Some(arg)) = (unit, next) {
            // The same option again is allowed (the last counts), another
            // kind of deadline is not.
            match expiry {
                Expiry::Default => {}
                Expiry::At(u, _) if u == unit => {}
                _ => return None,
            }
            expiry = Expiry::At(unit, arg);
            i += 1;
        } else {
            return None;
        }
        i += 1;
    }
    Some((nx, xx, get, expiry))
}

pub(crate) fn get(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let out = &mut ctx.out;
    ctx.server
        .store
        .key(args[1], |k| out.bulk_or_null(k.value()));
    Outcome::Continue
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT tms|KEEPTTL]`.
pub(crate) fn set(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let Some((nx, xx, want_old, expiry)) = string_options(args, true) else {
        return ctx.error(SYNTAX);
    };
    let server = ctx.server;
    let store = &server.store;
    store.key(args[1], |k| {
        let expires = match expiry {
            Expiry::At(unit, arg) => match deadline(ctx, "set", unit, arg, k.now()) {
                Some(t) => Some(t),
                None => return,
            },
            Expiry::Keep => k.expires(),
            Expiry::Default | Expiry::Persist => None,
        };
        let exists = k.exists();
        if want_old {
            ctx.out.bulk_or_null(k.value());
        }
        if (nx && exists) || (xx && !exists) {
            if !want_old {
                ctx.out.null();
            }
            return;
        }
        k.set(args[2].to_vec(), expires);
        if !want_old {
            ctx.out.ok();
        }
    });
    Outcome::Continue
}

pub(crate) fn setnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let set = ctx.server.store.key(args[1], |k| {
        let absent = !k.exists();
        if absent {
            k.set(args[2].to_vec(), None);
        }
        absent
    });
    ctx.integer(i64::from(set))
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[&[u8]], cmd: &str, unit: Unit) -> Outcome {
    let server = ctx.server;
    let store = &server.store;
    store.key(args[1], |k| {
        if let Some(t) = deadline(ctx, cmd, unit, args[2], k.now()) {
            k.set(args[3].to_vec(), Some(t));
            ctx.out.ok();
        }
    });
    Outcome::Continue
}

pub(crate) fn setex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    set_with_ttl(ctx, args, "setex", Unit::Seconds)
}

pub(crate) fn psetex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    set_with_ttl(ctx, args, "psetex", Unit::Millis)
}

pub(crate) fn getset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let out = &mut ctx.out;
    ctx.server.store.key(args[1], |k| {
        out.bulk_or_null(k.value());
        k.set(args[2].to_vec(), None);
    });
    Outcome::Continue
}

pub(crate) fn getdel(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let out = &mut ctx.out;
    ctx.server.store.key(args[1], |k| {
        out.bulk_or_null(k.remove().as_ref().map(|(v, _)| &v[..]));
    });
    Outcome::Continue
}

/// `GETEX key [EX s|PX ms|EXAT t|PXAT tms|PERSIST]`.
pub(crate) fn getex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let Some((_, _, _, expiry)) = string_options(args, false) else {
        return ctx.error(SYNTAX);
    };
    let server = ctx.server;
    let store = &server.store;
    store.key(args[1], |k| {
        let new = match expiry {
            Expiry::At(unit, arg) => match deadline(ctx, "getex", unit, arg, k.now()) {
                Some(t) => Some(Some(t)),
                None => return,
            },
            Expiry::Persist => Some(None),
            Expiry::Default | Expiry::Keep => None,
        };
        ctx.out.bulk_or_null(k.value());
        if let Some(expires) = new {
            k.set_expires(expires);
        }
    });
    Outcome::Continue
}

pub(crate) fn append(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let server = ctx.server;
    let store = &server.store;
    store.key(args[1], |k| {
        let len = k.value().map_or(0, <[u8]>::len);
        if len + args[2].len() > MAX_STRING {
            ctx.out.error(TOO_LONG);
            return;
        }
        if k.update(|v| v.extend_from_slice(args[2])).is_none() {
            k.set(args[2].to_vec(), None);
        }
        ctx.out.integer((len + args[2].len()) as i64);
    });
    Outcome::Continue
}

pub(crate) fn strlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let len = ctx
        .server
        .store
        .key(args[1], |k| k.value().map_or(0, <[u8]>::len));
    ctx.integer(len as i64)
}

/// `GETRANGE key start end`, with Redis's clamping of negative and
/// out-of-range offsets.
pub(crate) fn getrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let (Some(start), Some(end)) = (ctx.int_arg(args[2]), parse_i64(args[3])) else {
        if parse_i64(args[2]).is_some() {
            ctx.out.error(NOT_INTEGER);
        }
        return Outcome::Continue;
    };
    let out = &mut ctx.out;
    ctx.server.store.key(args[1], |k| {
        let v = k.value().unwrap_or(b"");
        let len = v.len() as i64;
        if start < 0 && end < 0 && start > end {
            return out.bulk(b"");
        }
        let start = if start < 0 { len + start } else { start }.max(0);
        let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
        if start > end || len == 0 {
            out.bulk(b"");
        } else {
            out.bulk(&v[start as usize..=end as usize]);
        }
    });
    Outcome::Continue
}

/// `SETRANGE key offset value`: zero-pads up to `offset`.
pub(crate) fn setrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let Some(offset) = ctx.int_arg(args[2]) else {
        return Outcome::Continue;
    };
    let Ok(offset) = usize::try_from(offset) else {
        return ctx.error("ERR offset is out of range");
    };
    let value = args[3];
    let server = ctx.server;
    let store = &server.store;
    store.key(args[1], |k| {
        let len = k.value().map_or(0, <[u8]>::len);
        if value.is_empty() {
            ctx.out.integer(len as i64);
            return;
        }
        if offset.saturating_add(value.len()) > MAX_STRING {
            ctx.out.error(TOO_LONG);
            return;
        }
        let write = |v: &mut Vec<u8>| {
            if v.len() < offset + value.len() {
                v.resize(offset + value.len(), 0);
            }
            v[offset..offset + value.len()].copy_from_slice(value);
            v.len()
        };
        let new_len = match k.update(write) {
            Some(n) => n,
            None => {
                let mut v = Vec::new();
                let n = write(&mut v);
                k.set(v, None);
                n
            }
        };
        ctx.out.integer(new_len as i64);
    });
    Outcome::Continue
}

/// Adds `delta` to the integer at the key (0 if missing), keeping its
/// deadline, and replies the result.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> Outcome {
    let out = &mut ctx.out;
    ctx.server.store.key(key, |k: &mut KeyRef<'_>| {
        let current = match k.value() {
            None => 0,
            Some(v) => match parse_i64(v) {
                Some(n) => n,
                None => return out.error(NOT_INTEGER),
            },
        };
        let Some(new) = current.checked_add(delta) else {
            return out.error("ERR increment or decrement would overflow");
        };
        let text = new.to_string().into_bytes();
        if k.update(|v| *v = text.clone()).is_none() {
            k.set(text, None);
        }
        out.integer(new);
    });
    Outcome::Continue
}

pub(crate) fn incr(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    incr_by(ctx, args[1], 1)
}

pub(crate) fn decr(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    incr_by(ctx, args[1], -1)
}

pub(crate) fn incrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    match ctx.int_arg(args[2]) {
        Some(delta) => incr_by(ctx, args[1], delta),
        None => Outcome::Continue,
    }
}

pub(crate) fn decrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    match ctx.int_arg(args[2]) {
        Some(i64::MIN) => ctx.error("ERR decrement would overflow"),
        Some(delta) => incr_by(ctx, args[1], -delta),
        None => Outcome::Continue,
    }
}

pub(crate) fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let out = &mut ctx.out;
    ctx.server.store.key(args[1], |k| {
        let current = k.value().unwrap_or(b"0");
        match incr_by_float(current, args[2]) {
            Ok(text) => {
                out.bulk(text.as_bytes());
                let text = text.into_bytes();
                if k.update(|v| *v = text.clone()).is_none() {
                    k.set(text, None);
                }
            }
            Err(FloatError::NotAFloat) => out.error("ERR value is not a valid float"),
            Err(FloatError::NotFinite) => out.error("ERR increment would produce NaN or Infinity"),
        }
    });
    Outcome::Continue
}

pub(crate) fn mget(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let keys = &args[1..];
    let out = &mut ctx.out;
    out.array_len(keys.len());
    ctx.server.store.keys(keys, |ks| {
        for i in 0..ks.len() {
            out.bulk_or_null(ks.at(i).value());
        }
    });
    Outcome::Continue
}

/// Stores every pair of `args[1..]` atomically; with `only_new`, only if
/// none of the keys exists. Returns whether it stored them.
fn set_pairs(ctx: &mut Ctx<'_>, args: &[&[u8]], only_new: bool) -> Option<bool> {
    if args.len() % 2 == 0 {
        ctx.out.error(&super::commands::wrong_arity(if only_new {
            "msetnx"
        } else {
            "mset"
        }));
        return None;
    }
    let keys: Vec<&[u8]> = args[1..].iter().step_by(2).copied().collect();
    Some(ctx.server.store.keys(&keys, |ks| {
        if only_new && (0..ks.len()).any(|i| ks.at(i).exists()) {
            return false;
        }
        for i in 0..ks.len() {
            ks.at(i).set(args[2 + 2 * i].to_vec(), None);
        }
        true
    }))
}

pub(crate) fn mset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    if set_pairs(ctx, args, false).is_some() {
        ctx.out.ok();
    }
    Outcome::Continue
}

pub(crate) fn msetnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    if let Some(stored) = set_pairs(ctx, args, true) {
        ctx.out.integer(i64::from(stored));
    }
    Outcome::Continue
}
