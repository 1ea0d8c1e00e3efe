//! The options that bound what clients may hold: `--idle-timeout`,
//! `--max-connections` and, on `http`, `--header-timeout`.
//!
//! | option | `echo` | `http` | `kv` | nginx | redis-server |
//! |--------|--------|--------|------|-------|--------------|
//! | `--idle-timeout` | 300 s | 60 s | 300 s | `keepalive_timeout 75s` | `timeout 0` (never) |
//! | `--header-timeout` | | 10 s | | `client_header_timeout 60s` | |
//! | `--max-connections` | open-file limit − 32 | same | same | `worker_connections 512` per worker | `maxclients 10000`, lowered to the open-file limit − 32 |
//!
//! Why these, against theirs:
//! * An idle HTTP connection costs a descriptor and a client reconnects
//!   cheaply, so `http` closes idle ones a little sooner than nginx (60 s).
//! * Redis clients keep pooled connections idle for long, which is why
//!   redis-server never closes them; but then a client that vanished
//!   without a FIN holds its descriptor forever. Five minutes keeps pools
//!   working (they reconnect) and lets dead clients go; `echo`, the
//!   benchmark's server, does the same.
//! * A request head that takes more than 10 s is a slow-loris attack, not a
//!   slow link (a head is a few hundred bytes); nginx's 60 s lets each such
//!   client hold a connection six times longer.
//! * Past the open-file limit `accept` fails anyway; capping a little below
//!   it (Redis' reserve of 32) keeps descriptors for everything else, and
//!   new clients wait in the kernel's backlog instead of being refused.
//!   nginx's 512 per worker is far below what a pool serves (about 0.2 KiB
//!   per idle connection).

use std::time::Duration;

use clap::{Arg, ArgMatches, Command};

/// The lifecycle bounds of an example server; `None` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Close a connection that has had no event and no handler call for
    /// this long (`--idle-timeout SECS|off`).
    pub idle_timeout: Option<Duration>,
    /// Stop accepting while this many connections are open
    /// (`--max-connections N|off`).
    pub max_connections: Option<usize>,
    /// `http` only: the whole request head must arrive within this long of
    /// its first byte, or the client gets `408` and is closed
    /// (`--header-timeout SECS|off`).
    pub header_timeout: Option<Duration>,
}

/// Descriptors kept for everything but client connections when the cap
/// comes from the open-file limit (Redis keeps 32 too).
pub const RESERVED_FDS: usize = 32;

/// The default `--header-timeout` of `http`, in seconds.
pub const DEFAULT_HEADER_TIMEOUT_SECS: &str = "10";

/// The default `--idle-timeout` of the server called `name`, in seconds.
pub fn default_idle_timeout_secs(name: &str) -> &'static str {
    match name {
        "http" => "60",
        _ => "300",
    }
}

/// Why the default `--idle-timeout` of `name`, as `--help` says it.
fn idle_reason(name: &str) -> &'static str {
    match name {
        "http" => {
            "60 s: an idle HTTP connection holds a descriptor and clients \
             reconnect cheaply (nginx: 75 s)"
        }
        _ => {
            "300 s: pooled clients keep connections idle for long, but one that \
             vanished without closing would hold its descriptor forever \
             (redis-server: never)"
        }
    }
}

/// Adds the options to `cmd`, with the defaults of the server called `name`
/// (`--header-timeout` only for `http`).
pub fn args(cmd: Command, name: &str) -> Command {
    let cmd = cmd
        .arg(
            Arg::new("idle-timeout")
                .long("idle-timeout")
                .value_name("SECS|off")
                .help(format!(
                    "Close connections idle (no event, no request) this long; \
                     fractions allowed, 0 or off never. {}",
                    idle_reason(name)
                ))
                .default_value(default_idle_timeout_secs(name))
                .value_parser(seconds),
        )
        .arg(
            Arg::new("max-connections")
                .long("max-connections")
                .value_name("N|off")
                .help(format!(
                    "Stop accepting while N connections are open (new clients \
                     wait in the backlog); 0 or off no cap [default: the \
                     open-file limit minus {RESERVED_FDS}, as redis-server \
                     lowers its maxclients 10000; nginx: 512 per worker]"
                ))
                .value_parser(count),
        );
    if name != "http" {
        return cmd;
    }
    cmd.arg(
        Arg::new("header-timeout")
            .long("header-timeout")
            .value_name("SECS|off")
            .help(
                "A request head must arrive whole within this long of its first \
                 byte, else 408 and close; fractions allowed, 0 or off never \
                 (nginx: 60 s, which lets a slow-loris client hold a connection \
                 six times longer)",
            )
            .default_value(DEFAULT_HEADER_TIMEOUT_SECS)
            .value_parser(seconds),
    )
}

/// The options' values from matches of a command built with [`args`].
pub fn from_matches(m: &ArgMatches) -> Limits {
    let timeout = |id| {
        m.try_get_one::<Option<Duration>>(id)
            .ok()
            .flatten()
            .copied()
            .flatten()
    };
    Limits {
        idle_timeout: timeout("idle-timeout"),
        max_connections: match m.get_one::<Option<usize>>("max-connections") {
            Some(given) => *given,
            None => open_file_limit().map(|n| n.saturating_sub(RESERVED_FDS).max(1)),
        },
        header_timeout: timeout("header-timeout"),
    }
}

/// `SECS` (whole or fractional), or `0`/`off` for none.
fn seconds(s: &str) -> Result<Option<Duration>, String> {
    if s == "off" {
        return Ok(None);
    }
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is neither a number of seconds nor `off`"))?;
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|e| format!("{s:?} seconds: {e}"))
}

/// `N`, or `0`/`off` for none.
fn count(s: &str) -> Result<Option<usize>, String> {
    if s == "off" {
        return Ok(None);
    }
    match s.parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!("{s:?} is neither a count nor `off`")),
    }
}

/// The process's soft open-file limit, from `/proc/self/limits` (Linux);
/// `None` where unknown or unlimited.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(name: &'static str, args: &[&str]) -> Result<Limits, clap::Error> {
        args_of(name)
            .try_get_matches_from(std::iter::once(name).chain(args.iter().copied()))
            .map(|m| from_matches(&m))
    }

    fn args_of(name: &'static str) -> Command {
        args(Command::new(name), name)
    }

    #[test]
    fn defaults_per_server() {
        let http = limits("http", &[]).unwrap();
        assert_eq!(http.idle_timeout, Some(Duration::from_secs(60)));
        assert_eq!(http.header_timeout, Some(Duration::from_secs(10)));
        let cap = http.max_connections.expect("Linux has /proc/self/limits");
        assert_eq!(cap + RESERVED_FDS, open_file_limit().unwrap());
        let kv = limits("kv", &[]).unwrap();
        assert_eq!(kv.idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(kv.header_timeout, None);
        assert!(
            limits("kv", &["--header-timeout", "1"]).is_err(),
            "only http has a header timeout"
        );
    }

    #[test]
    fn values_whole_fractional_and_off() {
        let l = limits(
            "http",
            &[
                "--idle-timeout",
                "2.5",
                "--header-timeout",
                "off",
                "--max-connections",
                "10",
            ],
        )
        .unwrap();
        assert_eq!(l.idle_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(l.header_timeout, None);
        assert_eq!(l.max_connections, Some(10));
        let off = limits("echo", &["--idle-timeout", "0", "--max-connections", "off"]).unwrap();
        assert_eq!((off.idle_timeout, off.max_connections), (None, None));
        assert_eq!(
            limits("echo", &["--max-connections", "0"])
                .unwrap()
                .max_connections,
            None
        );
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        for bad in [
            &["--idle-timeout", "soon"][..],
            &["--idle-timeout", "-1"],
            &["--idle-timeout", "1e30"],
            &["--max-connections", "-3"],
            &["--max-connections", "many"],
        ] {
            let e = limits("http", bad).unwrap_err().to_string();
            assert!(e.contains(bad[1]), "{e}");
        }
    }
}
