//! `MULTI`/`EXEC`/`DISCARD` and `WATCH`/`UNWATCH`.
//!
//! A connection's transaction state lives in its [`Session`]:
//!
//! | state    | `multi`                  | on `MULTI`       | on a command          | on `EXEC`                    | on `DISCARD` |
//! |----------|--------------------------|------------------|-----------------------|------------------------------|--------------|
//! | idle     | `None`                   | → queuing        | runs                  | error, stays idle            | error        |
//! | queuing  | `Some`, not aborted      | error (nested)   | queued (`+QUEUED`)    | runs all → idle              | → idle       |
//! | aborted  | `Some`, aborted          | error (nested)   | queued (`+QUEUED`)    | `EXECABORT` → idle           | → idle       |
//!
//! A command that does not exist, has the wrong arity, or would overflow
//! the queue moves queuing to aborted (its error is replied at once).
//! `WATCH`ed keys (with the version each had) are forgotten by `EXEC`,
//! `DISCARD`, `UNWATCH` and `RESET`.
//!
//! # Atomicity
//!
//! `EXEC` holds the store's gate exclusively (see the `Store` docs) from
//! before it compares the watched versions until after its last command, so
//! no other connection's command, on any worker, runs in between; single
//! commands hold the gate shared.

use super::commands::{self, Ctx, Outcome};
use super::Session;

/// The most bytes of arguments a transaction may queue; past it the
/// transaction is aborted, so a client cannot make the server hold an
/// unbounded queue.
pub const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// The most keys one connection may watch (a bound on its memory).
pub const MAX_WATCHED: usize = 1 << 20;

/// Commands queued by `MULTI`.
#[derive(Debug, Default)]
pub(crate) struct Multi {
    queue: Vec<Vec<Vec<u8>>>,
    bytes: usize,
    aborted: bool,
}

impl Multi {
    /// The number of commands queued.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

impl Session {
    /// Inside `MULTI`, queues `args` (or replies why not and aborts the
    /// transaction, as Redis does for a command it rejects). Returns
    /// `false` if not inside `MULTI`, or if `args` is a valid command that
    /// runs at once even there.
    pub(crate) fn queue(&mut self, args: &[&[u8]], out: &mut crate::resp::Reply<'_>) -> bool {
        let Some(multi) = &mut self.multi else {
            return false;
        };
        let size: usize = args.iter().map(|a| a.len()).sum();
        match commands::check(args) {
            Err(msg) => {
                multi.aborted = true;
                self.reject(args, &msg, out);
            }
            Ok(spec) if spec.flags & commands::TX_CONTROL != 0 => return false,
            Ok(_) if multi.bytes + size > MAX_QUEUED_BYTES => {
                out.error("ERR transaction too large: more than 64 MiB queued");
                multi.aborted = true;
            }
            Ok(_) => {
                multi.bytes += size;
                multi.queue.push(args.iter().map(|a| a.to_vec()).collect());
                out.simple("QUEUED");
            }
        }
        true
    }
}

impl Session {
    /// Replies `msg` to a command that does not exist or has the wrong
    /// arity. A rejected `EXEC` also discards the transaction, and says so,
    /// as Redis does (even outside `MULTI`).
    pub(crate) fn reject(&mut self, args: &[&[u8]], msg: &str, out: &mut crate::resp::Reply<'_>) {
        if args[0].eq_ignore_ascii_case(b"exec") {
            let why = msg.strip_prefix("ERR ").unwrap_or(msg);
            out.error(&format!(
                "EXECABORT Transaction discarded because of: {why}"
            ));
            self.multi = None;
            self.watched.clear();
        } else {
            out.error(msg);
        }
    }
}

pub(crate) fn multi(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    if ctx.session.multi.is_some() {
        return ctx.error("ERR MULTI calls can not be nested");
    }
    ctx.session.multi = Some(Multi::default());
    ctx.ok()
}

pub(crate) fn discard(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    if ctx.session.multi.take().is_none() {
        return ctx.error("ERR DISCARD without MULTI");
    }
    ctx.session.watched.clear();
    ctx.ok()
}

pub(crate) fn exec(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    let Some(multi) = ctx.session.multi.take() else {
        return ctx.error("ERR EXEC without MULTI");
    };
    let watched = std::mem::take(&mut ctx.session.watched);
    if multi.aborted {
        return ctx.error("EXECABORT Transaction discarded because of previous errors.");
    }
    let server = ctx.server;
    let _exclusive = server.store.exclusive();
    if watched
        .iter()
        .any(|(key, version)| server.store.version(key) != *version)
    {
        ctx.out.null_array();
        return Outcome::Continue;
    }
    ctx.out.array_len(multi.queue.len());
    for cmd in &multi.queue {
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        // Checked when queued; the gate is already held exclusively.
        let spec = commands::lookup(args[0]).expect("checked when queued");
        (spec.run)(ctx, &args);
    }
    Outcome::Continue
}

pub(crate) fn watch(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Outcome {
    if ctx.session.multi.is_some() {
        return ctx.error("ERR WATCH inside MULTI is not allowed");
    }
    if ctx.session.watched.len() + args.len() > MAX_WATCHED {
        return ctx.error("ERR too many watched keys");
    }
    for key in &args[1..] {
        if !ctx.session.watched.contains_key(*key) {
            let version = ctx.server.store.version(key);
            ctx.session.watched.insert(key.to_vec(), version);
        }
    }
    ctx.ok()
}

pub(crate) fn unwatch(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> Outcome {
    ctx.session.watched.clear();
    ctx.ok()
}
