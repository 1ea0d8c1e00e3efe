//! The per-connection bounds of the example servers as command-line
//! options: what one client can make a server hold or do.
//!
//! | option (binary)          | default | bounds                                   | compare |
//! |--------------------------|---------|------------------------------------------|---------|
//! | `--max-head` (http)      | 8k      | request head and chunked trailers (`431`) | nginx `large_client_header_buffers 4 8k` |
//! | `--max-body` (http)      | 1m      | request body (`413`); never held whole    | nginx `client_max_body_size 1m` |
//! | `--max-output` (http)    | 8k      | replies queued before answering pauses (about 19 KB held per pipelining client) | nginx holds 21-26 KB for one |
//! | `--max-request` (kv)     | 65m     | one command's bytes, refused with an error and closed | redis: 512 MB per argument, 1 GB per client |
//! | `--max-output` (kv)      | 256k    | replies queued before executing pauses    | redis: no limit for normal clients |
//!
//! Sizes take an optional `k`, `m` or `g` suffix (powers of 1024).

use clap::{Arg, ArgMatches, Command};

use crate::http;
use crate::kv;
use crate::resp;

/// The `kv` server's bounds per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLimits {
    /// The most bytes one command may take (`--max-request`): see
    /// [`resp::Parser::max_request`].
    pub max_request: usize,
    /// Replies queued at which the server stops executing commands until
    /// the client reads (`--max-output`): see [`kv::Session::serve`].
    pub max_output: usize,
}

impl Default for KvLimits {
    fn default() -> KvLimits {
        KvLimits {
            max_request: resp::MAX_REQUEST,
            max_output: kv::OUTPUT_LIMIT,
        }
    }
}

/// `cmd` with the `http` server's `--max-head`, `--max-body` and
/// `--max-output`.
pub fn http_args(cmd: Command) -> Command {
    let d = http::Limits::default();
    cmd.arg(size_arg(
        "max-head",
        d.max_head,
        "Largest request head (request line and fields) in bytes; larger gets 431 \
         (nginx: 8k)",
    ))
    .arg(size_arg(
        "max-body",
        d.max_body,
        "Largest request body in bytes (streamed, never held whole); larger gets 413 \
         (nginx client_max_body_size: 1m)",
    ))
    .arg(size_arg(
        "max-output",
        d.max_output,
        "Responses queued for a client that does not read, in bytes, before the \
         server stops answering its requests (nginx holds about 21-26 KB for such a client)",
    ))
}

/// The `http` limits in matches of [`http_args`].
pub fn http_limits(m: &ArgMatches) -> http::Limits {
    http::Limits {
        max_head: get(m, "max-head"),
        max_body: get(m, "max-body"),
        max_output: get(m, "max-output"),
    }
}

/// `cmd` with the `kv` server's `--max-request` and `--max-output`.
pub fn kv_args(cmd: Command) -> Command {
    let d = KvLimits::default();
    cmd.arg(size_arg(
        "max-request",
        d.max_request,
        "Largest command in bytes; larger gets an error reply and the connection closes \
         (redis: 512m per argument, 1g per client; here a value is at most 64m)",
    ))
    .arg(size_arg(
        "max-output",
        d.max_output,
        "Replies queued for a client that does not read, in bytes, before the \
         server stops executing its commands (redis executes all it has read, unbounded)",
    ))
}

/// The `kv` limits in matches of [`kv_args`].
pub fn kv_limits(m: &ArgMatches) -> KvLimits {
    KvLimits {
        max_request: get(m, "max-request"),
        max_output: get(m, "max-output"),
    }
}

fn size_arg(name: &'static str, default: usize, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name("BYTES")
        .help(help)
        // Built once per process at start-up; clap keeps it for good.
        .default_value(&*format_size(default).leak())
        .value_parser(parse_size)
}

fn get(m: &ArgMatches, name: &str) -> usize {
    *m.get_one::<usize>(name).expect("limits have defaults")
}

/// `16384` as `16k`, `1048576` as `1m`: the shortest exact form.
fn format_size(n: usize) -> String {
    for (shift, unit) in [(30, "g"), (20, "m"), (10, "k")] {
        if n != 0 && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Bytes, with an optional `k`, `m` or `g` suffix; at least 1.
fn parse_size(s: &str) -> Result<usize, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let bad = || format!("{s:?} is not a size in bytes from 1 (e.g. 4096, 16k, 1m)");
    let n: usize = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16k"), Ok(16 * 1024));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999g").is_err());
        assert_eq!(format_size(16 * 1024), "16k");
        assert_eq!(format_size(resp::MAX_REQUEST), "65m");
        assert_eq!(format_size(1000), "1000");
    }

    #[test]
    fn defaults_and_overrides() {
        let http = || http_args(Command::new("t"));
        let kv = || kv_args(Command::new("t"));
        assert_eq!(
            http_limits(&http().get_matches_from(["t"])),
            http::Limits::default()
        );
        assert_eq!(
            kv_limits(&kv().get_matches_from(["t"])),
            KvLimits::default()
        );
        let m = http().get_matches_from(["t", "--max-output", "2k"]);
        assert_eq!(http_limits(&m).max_output, 2048);
        let m = kv().get_matches_from(["t", "--max-request", "1m"]);
        assert_eq!(kv_limits(&m).max_request, 1 << 20);
        assert!(http()
            .try_get_matches_from(["t", "--max-body", "lots"])
            .is_err());
    }
}
