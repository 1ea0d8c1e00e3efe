//! The commands of the `kv` server, executed against a [`Store`], with
//! replies and error messages as Redis words them.

use std::time::Duration;

use super::store::{parse_i64, IncrError, SetOptions, Store, Ttl};
use crate::resp;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Keep serving.
    Continue,
    /// Close once the reply is sent (`QUIT`).
    Close,
}

type Run = fn(&Store, &[&[u8]], &mut Vec<u8>) -> Outcome;

/// A command: its lower-case name, Redis-style arity (exact count
/// including the name when positive, minimum when negative), and code.
struct Spec {
    name: &'static str,
    arity: i32,
    run: Run,
}

const COMMANDS: &[Spec] = &[
    Spec {
        name: "ping",
        arity: -1,
        run: ping,
    },
    Spec {
        name: "echo",
        arity: 2,
        run: echo,
    },
    Spec {
        name: "get",
        arity: 2,
        run: get,
    },
    Spec {
        name: "set",
        arity: -3,
        run: set,
    },
    Spec {
        name: "del",
        arity: -2,
        run: del,
    },
    Spec {
        name: "exists",
        arity: -2,
        run: exists,
    },
    Spec {
        name: "incr",
        arity: 2,
        run: incr,
    },
    Spec {
        name: "decr",
        arity: 2,
        run: decr,
    },
    Spec {
        name: "incrby",
        arity: 3,
        run: incrby,
    },
    Spec {
        name: "decrby",
        arity: 3,
        run: decrby,
    },
    Spec {
        name: "mget",
        arity: -2,
        run: mget,
    },
    Spec {
        name: "mset",
        arity: -3,
        run: mset,
    },
    Spec {
        name: "ttl",
        arity: 2,
        run: ttl,
    },
    Spec {
        name: "pttl",
        arity: 2,
        run: pttl,
    },
    Spec {
        name: "dbsize",
        arity: 1,
        run: dbsize,
    },
    Spec {
        name: "flushall",
        arity: -1,
        run: flushall,
    },
    Spec {
        name: "select",
        arity: 2,
        run: select,
    },
    Spec {
        name: "command",
        arity: -1,
        run: command,
    },
    Spec {
        name: "config",
        arity: -2,
        run: config,
    },
    Spec {
        name: "quit",
        arity: -1,
        run: quit,
    },
];

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

/// Executes one command (`args[0]` is its name, in any case) and appends
/// its reply to `out`. `args` must not be empty.
pub fn execute<A: AsRef<[u8]>>(store: &Store, args: &[A], out: &mut Vec<u8>) -> Outcome {
    let args: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
    let Some(&name) = args.first() else {
        return Outcome::Continue;
    };
    let Some(spec) = COMMANDS
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
    else {
        unknown_command(&args, out);
        return Outcome::Continue;
    };
    let n = args.len() as i64;
    let arity = i64::from(spec.arity);
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return wrong_arity(spec.name, out);
    }
    (spec.run)(store, &args, out)
}

fn unknown_command(args: &[&[u8]], out: &mut Vec<u8>) {
    // Redis quotes the name and the first arguments, each cut to 128 bytes.
    let quote = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned();
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        quote(args[0])
    );
    for a in &args[1..] {
        msg.push_str(&format!("'{}' ", quote(a)));
    }
    resp::error(out, &msg);
}

fn wrong_arity(name: &str, out: &mut Vec<u8>) -> Outcome {
    resp::error(
        out,
        &format!("ERR wrong number of arguments for '{name}' command"),
    );
    Outcome::Continue
}

fn ok(out: &mut Vec<u8>) -> Outcome {
    resp::simple(out, "OK");
    Outcome::Continue
}

fn ping(_: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    match args {
        [_] => resp::simple(out, "PONG"),
        [_, msg] => resp::bulk(out, msg),
        _ => return wrong_arity("ping", out),
    }
    Outcome::Continue
}

fn echo(_: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    resp::bulk(out, args[1]);
    Outcome::Continue
}

fn get(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    store.get(args[1], |v| resp::bulk_or_null(out, v));
    Outcome::Continue
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL]`.
fn set(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    let mut opts = SetOptions::default();
    let mut want_old = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i];
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if is("NX") && !opts.only_if_present {
            opts.only_if_absent = true;
        } else if is("XX") && !opts.only_if_absent {
            opts.only_if_present = true;
        } else if is("GET") {
            want_old = true;
        } else if is("KEEPTTL") && opts.ttl.is_none() {
            opts.keep_ttl = true;
        } else if (is("EX") || is("PX")) && opts.ttl.is_none() && !opts.keep_ttl {
            let Some(amount) = args.get(i + 1) else {
                resp::error(out, SYNTAX);
                return Outcome::Continue;
            };
            let Some(amount) = parse_i64(amount) else {
                resp::error(out, NOT_INTEGER);
                return Outcome::Continue;
            };
            let ttl = u64::try_from(amount).ok().filter(|&a| a > 0).and_then(|a| {
                if is("EX") {
                    a.checked_mul(1000).map(Duration::from_millis)
                } else {
                    Some(Duration::from_millis(a))
                }
            });
            let Some(ttl) = ttl else {
                resp::error(out, "ERR invalid expire time in 'set' command");
                return Outcome::Continue;
            };
            opts.ttl = Some(ttl);
            i += 1;
        } else {
            resp::error(out, SYNTAX);
            return Outcome::Continue;
        }
        i += 1;
    }
    let (stored, old) = store.set(args[1], args[2], opts);
    if want_old {
        resp::bulk_or_null(out, old.as_deref());
    } else if stored {
        resp::simple(out, "OK");
    } else {
        resp::null(out);
    }
    Outcome::Continue
}

fn del(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    let n = args[1..].iter().filter(|k| store.remove(k)).count();
    resp::integer(out, n as i64);
    Outcome::Continue
}

fn exists(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    let n = args[1..].iter().filter(|k| store.contains(k)).count();
    resp::integer(out, n as i64);
    Outcome::Continue
}

fn incr_reply(store: &Store, key: &[u8], delta: i64, out: &mut Vec<u8>) -> Outcome {
    match store.incr_by(key, delta) {
        Ok(n) => resp::integer(out, n),
        Err(IncrError::NotAnInteger) => resp::error(out, NOT_INTEGER),
        Err(IncrError::Overflow) => resp::error(out, "ERR increment or decrement would overflow"),
    }
    Outcome::Continue
}

fn incr(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    incr_reply(store, args[1], 1, out)
}

fn decr(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    incr_reply(store, args[1], -1, out)
}

fn incrby(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    match parse_i64(args[2]) {
        Some(delta) => incr_reply(store, args[1], delta, out),
        None => {
            resp::error(out, NOT_INTEGER);
            Outcome::Continue
        }
    }
}

fn decrby(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    match parse_i64(args[2]).and_then(i64::checked_neg) {
        Some(delta) => incr_reply(store, args[1], delta, out),
        None => {
            resp::error(out, NOT_INTEGER);
            Outcome::Continue
        }
    }
}

fn mget(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    let keys = &args[1..];
    resp::array_len(out, keys.len());
    store.get_many(keys, |v| resp::bulk_or_null(out, v));
    Outcome::Continue
}

fn mset(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    if args.len() % 2 == 0 {
        return wrong_arity("mset", out);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[1..].chunks_exact(2).map(|p| (p[0], p[1])).collect();
    store.set_many(&pairs);
    ok(out)
}

fn ttl_reply(store: &Store, key: &[u8], millis: bool, out: &mut Vec<u8>) -> Outcome {
    let n = match store.ttl(key) {
        Ttl::Missing => -2,
        Ttl::Forever => -1,
        Ttl::Remaining(d) if millis => d.as_millis() as i64,
        // Rounded to the nearest second, as Redis does.
        Ttl::Remaining(d) => ((d.as_millis() + 500) / 1000) as i64,
    };
    resp::integer(out, n);
    Outcome::Continue
}

fn ttl(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    ttl_reply(store, args[1], false, out)
}

fn pttl(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    ttl_reply(store, args[1], true, out)
}

fn dbsize(store: &Store, _: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    resp::integer(out, store.dbsize() as i64);
    Outcome::Continue
}

fn flushall(store: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    match args {
        [_] => {}
        [_, mode] if mode.eq_ignore_ascii_case(b"SYNC") || mode.eq_ignore_ascii_case(b"ASYNC") => {}
        _ => {
            resp::error(out, SYNTAX);
            return Outcome::Continue;
        }
    }
    store.clear();
    ok(out)
}

fn select(_: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    match parse_i64(args[1]) {
        Some(0) => return ok(out),
        Some(_) => resp::error(out, "ERR DB index is out of range"),
        None => resp::error(out, NOT_INTEGER),
    }
    Outcome::Continue
}

/// `COMMAND`, `COMMAND DOCS`, `COMMAND INFO`, `COMMAND COUNT`: enough for
/// `redis-cli` to start (it asks for `COMMAND DOCS` and copes with an empty
/// answer).
fn command(_: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    match args.get(1) {
        None => resp::array_len(out, 0),
        Some(sub) if sub.eq_ignore_ascii_case(b"COUNT") => {
            resp::integer(out, COMMANDS.len() as i64)
        }
        Some(sub)
            if sub.eq_ignore_ascii_case(b"DOCS")
                || sub.eq_ignore_ascii_case(b"INFO")
                || sub.eq_ignore_ascii_case(b"LIST") =>
        {
            resp::array_len(out, 0)
        }
        Some(sub) => unknown_subcommand("COMMAND", sub, out),
    }
    Outcome::Continue
}

/// `CONFIG GET save` and `CONFIG GET appendonly` (which `redis-benchmark`
/// asks for); any other parameter reads as unset.
fn config(_: &Store, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    if !args[1].eq_ignore_ascii_case(b"GET") {
        unknown_subcommand("CONFIG", args[1], out);
        return Outcome::Continue;
    }
    let known: &[(&str, &str)] = &[("save", ""), ("appendonly", "no")];
    let found: Vec<&(&str, &str)> = known
        .iter()
        .filter(|(name, _)| {
            args[2..]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name.as_bytes()))
        })
        .collect();
    resp::array_len(out, 2 * found.len());
    for (name, value) in found {
        resp::bulk(out, name.as_bytes());
        resp::bulk(out, value.as_bytes());
    }
    Outcome::Continue
}

fn unknown_subcommand(cmd: &str, sub: &[u8], out: &mut Vec<u8>) {
    resp::error(
        out,
        &format!(
            "ERR unknown subcommand '{}'. Try {cmd} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ),
    );
}

fn quit(_: &Store, _: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
    resp::simple(out, "OK");
    Outcome::Close
}
