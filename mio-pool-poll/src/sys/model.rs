//! An edge-triggered OS poller, in loom's terms: a list of readiness
//! reports and a condition variable the polling thread sleeps on. It
//! provides what `sys/mod.rs` lists, and [`Os::report`] for the models to
//! play the OS: an edge for a token, as a socket raises on new data.
//!
//! Registration is bookkeeping the model does not need (every token is
//! reported by hand), so the registry only keeps the way to the model OS.

use std::io;
use std::time::Duration;

use loom::sync::{Arc, Condvar, Mutex};
use mio::event::Source;
use mio::{Interest, Token};

use crate::event::Ready;

/// The model OS: what became ready since the last poll, and whether the
/// waker was signalled.
#[derive(Debug, Default)]
pub(crate) struct Os {
    state: Mutex<OsState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct OsState {
    reports: Vec<(Token, Ready)>,
    woken: Option<Token>,
}

impl Os {
    /// The OS reports an edge for `token` (as a socket would on new
    /// data), waking a thread blocked in [`Poll::poll`].
    pub(crate) fn report(&self, token: Token, ready: Ready) {
        self.state.lock().unwrap().reports.push((token, ready));
        self.ready.notify_all();
    }
}

#[derive(Debug)]
pub(crate) struct Poll {
    os: Arc<Os>,
    registry: Registry,
}

impl Poll {
    pub(crate) fn new() -> io::Result<Poll> {
        let os = Arc::new(Os::default());
        let registry = Registry { os: os.clone() };
        Ok(Poll { os, registry })
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Blocks until something was reported or the waker was signalled.
    /// A timeout is a timer, and in the model every timer fires at once
    /// (see `sync.rs`): `Some(_)` never blocks.
    pub(crate) fn poll(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.0.clear();
        let mut state = self.os.state.lock().unwrap();
        while timeout.is_none() && state.reports.is_empty() && state.woken.is_none() {
            state = self.os.ready.wait(state).unwrap();
        }
        events.0.append(&mut state.reports);
        if let Some(token) = state.woken.take() {
            events.0.push((token, Ready::READABLE));
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Events(Vec<(Token, Ready)>);

impl Events {
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        Events(Vec::with_capacity(capacity))
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, (Token, Ready)> {
        self.0.iter()
    }
}

/// Registration is bookkeeping the model does not need: readiness is
/// reported by the model test through [`Os::report`].
#[derive(Debug)]
pub(crate) struct Registry {
    os: Arc<Os>,
}

impl Registry {
    pub(crate) fn try_clone(&self) -> io::Result<Registry> {
        Ok(Registry {
            os: self.os.clone(),
        })
    }

    /// The model OS behind this registry, for the models to report on.
    pub(crate) fn os(&self) -> &Os {
        &self.os
    }

    pub(crate) fn register<S: Source + ?Sized>(
        &self,
        _: &mut S,
        _: Token,
        _: Interest,
    ) -> io::Result<()> {
        Ok(())
    }

    pub(crate) fn reregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.register(source, token, interest)
    }

    pub(crate) fn deregister<S: Source + ?Sized>(&self, _: &mut S) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Waker {
    os: Arc<Os>,
    token: Token,
}

impl Waker {
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<Waker> {
        Ok(Waker {
            os: registry.os.clone(),
            token,
        })
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        self.os.state.lock().unwrap().woken = Some(self.token);
        self.os.ready.notify_all();
        Ok(())
    }
}
