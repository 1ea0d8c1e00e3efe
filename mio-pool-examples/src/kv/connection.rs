//! Connection and server commands: the handshake clients send (`HELLO`,
//! `CLIENT`, `SELECT`), `PING`, `ECHO`, `QUIT`, `RESET`, `INFO`, `COMMAND`
//! and `CONFIG GET`.

use std::fmt::Write as _;

use super::commands::{self, Ctx, Outcome, COMMANDS};
use super::numbers::parse_i64;
use super::{glob, Server, REDIS_VERSION};
use crate::resp::Proto;

pub(crate) fn ping(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    match args {
        [_] => ctx.out.simple("PONG"),
        [_, msg] => ctx.out.bulk(msg),
        _ => return ctx.error(&commands::wrong_arity("ping")),
    }
    Outcome::Continue
}

pub(crate) fn echo(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    ctx.out.bulk(args[1]);
    Outcome::Continue
}

pub(crate) fn quit(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    ctx.out.ok();
    Outcome::Close
}

/// `RESET`: back to a new connection's state (RESP2, no name, no
/// transaction, nothing watched); the id stays.
pub(crate) fn reset(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    ctx.session.reset();
    ctx.out.set_proto(Proto::Resp2);
    ctx.out.simple("RESET");
    Outcome::Continue
}

pub(crate) fn select(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    match ctx.int_arg(args[1]) {
        Some(0) => ctx.ok(),
        Some(_) => ctx.error("ERR DB index is out of range"),
        None => Outcome::Continue,
    }
}

/// Checks a client name as Redis does: printable ASCII, no spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|b| (b'!'..=b'~').contains(b))
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// Sets the client name (an empty one clears it); `false` if refused.
fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> bool {
    if !valid_name(name) {
        ctx.out.error(BAD_NAME);
        return false;
    }
    ctx.session.name = (!name.is_empty()).then(|| name.to_vec());
    true
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`. No password
/// is set, so `AUTH` with the user `default` and any password succeeds, as
/// in a Redis without `requirepass`.
pub(crate) fn hello(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let mut proto = None;
    if let Some(v) = args.get(1) {
        match parse_i64(v) {
            Some(2) => proto = Some(Proto::Resp2),
            Some(3) => proto = Some(Proto::Resp3),
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let (mut user, mut name) = (None, None);
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            user = Some(args[j + 1]);
            j += 2;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            name = Some(args[j + 1]);
            j += 1;
        } else {
            return ctx.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
        j += 1;
    }
    if user.is_some_and(|u| u != b"default") {
        return ctx.error("WRONGPASS invalid username-password pair or user is disabled.");
    }
    if let Some(name) = name {
        if !set_name(ctx, name) {
            return Outcome::Continue;
        }
    }
    if let Some(p) = proto {
        ctx.session.proto = p;
        ctx.out.set_proto(p);
    }
    let out = &mut ctx.out;
    out.map_len(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(if ctx.session.proto == Proto::Resp3 {
        3
    } else {
        2
    });
    out.bulk(b"id");
    out.integer(ctx.session.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array_len(0);
    Outcome::Continue
}

/// `CLIENT ID|GETNAME|SETNAME|SETINFO|INFO`.
pub(crate) fn client(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let sub = args[1].to_ascii_lowercase();
    let arity = match sub.as_slice() {
        b"id" | b"getname" | b"info" => 2,
        b"setname" => 3,
        b"setinfo" => 4,
        _ => return ctx.error(&commands::unknown_subcommand("CLIENT", args[1])),
    };
    if args.len() != arity {
        let name = format!("client|{}", String::from_utf8_lossy(&sub));
        return ctx.error(&commands::wrong_arity(&name));
    }
    match sub.as_slice() {
        b"id" => return ctx.integer(ctx.session.id as i64),
        b"getname" => ctx.out.bulk_or_null(ctx.session.name.as_deref()),
        b"setname" => {
            if set_name(ctx, args[2]) {
                ctx.out.ok();
            }
        }
        b"setinfo" => {
            let attr = args[2].to_ascii_lowercase();
            if attr != b"lib-name" && attr != b"lib-ver" {
                return ctx.error(&format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(args[2])
                ));
            }
            if !valid_name(args[3]) {
                return ctx.error(&format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&attr)
                ));
            }
            ctx.session.lib[usize::from(attr == b"lib-ver")] = args[3].to_vec();
            ctx.out.ok();
        }
        _ => {
            let info = ctx.session.describe();
            ctx.out.verbatim(&info);
        }
    }
    Outcome::Continue
}

/// The sections of `INFO`, in order.
const SECTIONS: &[&str] = &["server", "clients", "memory", "stats", "keyspace"];

/// `INFO [section ...]`: the sections clients and monitoring tools read.
pub(crate) fn info(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let wanted = |s: &str| {
        args.len() == 1
            || args[1..].iter().any(|a| {
                a.eq_ignore_ascii_case(s.as_bytes())
                    || [&b"all"[..], b"default", b"everything"]
                        .iter()
                        .any(|all| a.eq_ignore_ascii_case(all))
            })
    };
    let mut text = String::new();
    for section in SECTIONS.iter().filter(|s| wanted(s)) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        ctx.server.info_section(section, &mut text);
    }
    ctx.out.verbatim(&text);
    Outcome::Continue
}

impl Server {
    /// Appends `INFO`'s section `name` to `text`.
    fn info_section(&self, name: &str, text: &mut String) {
        let _ = write!(text, "# {}\r\n", capitalise(name));
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(text, "{k}:{v}\r\n");
        };
        let stats = self.stats.as_ref().map(|s| s.snapshot());
        match name {
            "server" => {
                line("redis_version", &REDIS_VERSION);
                line("redis_git_sha1", &"00000000");
                line("redis_git_dirty", &0);
                line("redis_mode", &"standalone");
                line("mio_pool_kv_version", &env!("CARGO_PKG_VERSION"));
                line("os", &std::env::consts::OS);
                line("arch_bits", &(usize::BITS));
                line("multiplexing_api", &"mio");
                line("process_id", &std::process::id());
                line("run_id", &self.run_id);
                line("tcp_port", &self.port);
                let up = self.started.elapsed().as_secs();
                line("uptime_in_seconds", &up);
                line("uptime_in_days", &(up / 86400));
                line("hz", &10);
                line("executable", &"");
                line("config_file", &"");
            }
            "clients" => {
                line("connected_clients", &stats.map_or(0, |s| s.open));
                line("blocked_clients", &0);
            }
            "memory" => {
                let rss = resident_bytes();
                line("used_memory", &rss);
                line("used_memory_human", &human(rss));
                line("used_memory_rss", &rss);
                line("maxmemory", &0);
                line("maxmemory_human", &"0B");
                line("maxmemory_policy", &"noeviction");
                line("mem_allocator", &"libc");
            }
            "stats" => {
                line(
                    "total_connections_received",
                    &stats.map_or(0, |s| s.accepted),
                );
                line("total_commands_processed", &self.commands());
                line("expired_keys", &self.expired_keys());
                line("evicted_keys", &0);
            }
            _ => {
                let (keys, volatile) = self.store.counts();
                if keys > 0 {
                    line("db0", &format!("keys={keys},expires={volatile},avg_ttl=0"));
                }
            }
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The process's resident memory, from `/proc/self/statm` (0 elsewhere).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn human(bytes: u64) -> String {
    format!("{:.2}M", bytes as f64 / (1024.0 * 1024.0))
}

/// `COMMAND`, `COMMAND COUNT|LIST|INFO|DOCS`.
pub(crate) fn command(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    let Some(sub) = args.get(1) else {
        ctx.out.array_len(COMMANDS.len());
        COMMANDS.iter().for_each(|c| command_info(ctx, c));
        return Outcome::Continue;
    };
    let sub = sub.to_ascii_lowercase();
    let min = match sub.as_slice() {
        b"count" => 2,
        b"list" | b"info" | b"docs" => -2,
        _ => return ctx.error(&commands::unknown_subcommand("COMMAND", args[1])),
    };
    if !commands::arity_ok(min, args.len()) {
        let name = format!("command|{}", String::from_utf8_lossy(&sub));
        return ctx.error(&commands::wrong_arity(&name));
    }
    let named: Vec<Option<&commands::Spec>> = if args.len() > 2 {
        args[2..].iter().map(|n| commands::lookup(n)).collect()
    } else {
        COMMANDS.iter().map(Some).collect()
    };
    match sub.as_slice() {
        b"count" => return ctx.integer(COMMANDS.len() as i64),
        b"list" => {
            ctx.out.array_len(COMMANDS.len());
            COMMANDS
                .iter()
                .for_each(|c| ctx.out.bulk(c.name.as_bytes()));
        }
        b"info" => {
            ctx.out.array_len(named.len());
            for spec in named {
                match spec {
                    Some(c) => command_info(ctx, c),
                    None => ctx.out.null_array(),
                }
            }
        }
        _ => {
            let found: Vec<&commands::Spec> = named.into_iter().flatten().collect();
            ctx.out.map_len(found.len());
            for c in found {
                command_docs(ctx, c);
            }
        }
    }
    Outcome::Continue
}

/// One command's `COMMAND DOCS` entry: its summary, group and arguments.
/// The arguments are one entry of type `string` whose name is the whole
/// syntax line (`key value [NX|XX] ...`): `redis-cli` joins argument names
/// into the hint it shows after a typed command, so its hints read as
/// Redis's, without a full argument tree per command.
fn command_docs(ctx: &mut Ctx<'_>, c: &commands::Spec) {
    let out = &mut ctx.out;
    out.bulk(c.name.as_bytes());
    out.map_len(if c.syntax.is_empty() { 2 } else { 3 });
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !c.syntax.is_empty() {
        out.bulk(b"arguments");
        out.array_len(1);
        out.map_len(2);
        out.bulk(b"name");
        out.bulk(c.syntax.as_bytes());
        out.bulk(b"type");
        out.bulk(b"string");
    }
}

/// One command's `COMMAND INFO` entry: name, arity, flags, first key, last
/// key, key step, ACL categories, tips, key specs, subcommands.
fn command_info(ctx: &mut Ctx<'_>, c: &commands::Spec) {
    let out = &mut ctx.out;
    out.array_len(10);
    out.bulk(c.name.as_bytes());
    out.integer(i64::from(c.arity));
    out.set_len(0);
    out.integer(i64::from(c.keys.0));
    out.integer(i64::from(c.keys.1));
    out.integer(i64::from(c.keys.2));
    out.set_len(0);
    out.set_len(0);
    out.array_len(0);
    out.array_len(0);
}

/// `CONFIG GET parameter [parameter ...]` (glob patterns), over the few
/// settings tools ask for; other subcommands are not supported.
pub(crate) fn config(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    if !args[1].eq_ignore_ascii_case(b"GET") {
        return ctx.error(&commands::unknown_subcommand("CONFIG", args[1]));
    }
    if args.len() < 3 {
        return ctx.error(&commands::wrong_arity("config|get"));
    }
    let port = ctx.server.port.to_string();
    let known: [(&str, &str); 6] = [
        ("save", ""),
        ("appendonly", "no"),
        ("databases", "1"),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("port", &port),
    ];
    let found: Vec<&(&str, &str)> = known
        .iter()
        .filter(|(name, _)| {
            args[2..]
                .iter()
                .any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
        })
        .collect();
    ctx.out.map_len(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Outcome::Continue
}
