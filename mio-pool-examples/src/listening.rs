//! The `listening on ADDR` line: how a server tells the process that started
//! it where it listens, once it accepts connections.
//!
//! `ADDR` is `HOST:PORT` (`127.0.0.1:4000`, `[::1]:80`) or `unix:PATH`. The
//! examples print it through `cli::announce`, and so do `cargo xtask`'s peer
//! servers; the tests and `cargo xtask` (bench, soak) read it with
//! [`parse_listening_line`]. This is the only place that spells the line.
//!
//! This file uses nothing but `std`, because `xtask` compiles it too (with
//! `#[path]`): the format stays in one place without xtask depending on the
//! examples' crate and everything it builds (xtask stays light).

use std::fmt::Display;
use std::io::{self, Write};

/// What the line starts with, before the address.
pub const LISTENING_PREFIX: &str = "listening on ";

/// Writes `listening on ADDR` and a newline to `out`, and flushes it, so
/// that a parent reading the line learns the address at once.
pub fn write_listening_line(out: &mut impl Write, addr: impl Display) -> io::Result<()> {
    writeln!(out, "{LISTENING_PREFIX}{addr}")?;
    out.flush()
}

/// The address of a `listening on ADDR` line, as written (`HOST:PORT` or
/// `unix:PATH`); `None` if `line` is any other line or has no address.
pub fn parse_listening_line(line: &str) -> Option<&str> {
    let addr = line.strip_prefix(LISTENING_PREFIX)?.trim_end();
    (!addr.is_empty()).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_line_parses_back_to_its_address() {
        for addr in ["127.0.0.1:4000", "[::1]:80", "unix:/tmp/kv.sock"] {
            let mut out = Vec::new();
            write_listening_line(&mut out, addr).unwrap();
            let line = String::from_utf8(out).unwrap();
            assert_eq!(line, format!("listening on {addr}\n"));
            assert_eq!(parse_listening_line(line.trim_end()), Some(addr));
        }
    }

    #[test]
    fn other_lines_have_no_address() {
        for line in [
            "",
            "starting",
            "listening on",
            "listening on   ",
            "x listening on 1.2.3.4:5",
        ] {
            assert_eq!(parse_listening_line(line), None, "{line:?}");
        }
        assert_eq!(
            parse_listening_line("listening on 127.0.0.1:1\r"),
            Some("127.0.0.1:1")
        );
    }
}
