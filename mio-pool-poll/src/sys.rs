//! The OS poller under [`Poll`](crate::Poll): mio's, or under `cfg(loom)` a
//! model of it, so that the loom models in `poll.rs` run the real hand-off
//! code against an "OS" whose every interleaving loom controls.
//!
//! The names and signatures are mio's (`Poll`, `Events`, `Registry`,
//! `Waker`), plus [`token_ready`] to read an event.

use mio::Token;

use crate::event::Ready;

#[cfg(not(loom))]
pub(crate) use mio::{Events, Poll, Registry, Waker};

/// The token and the readiness of an event that the OS poller returned.
#[cfg(not(loom))]
pub(crate) fn token_ready(event: &mio::event::Event) -> (Token, Ready) {
    (event.token(), Ready::from_mio(event))
}

#[cfg(loom)]
pub(crate) use self::model::{Events, Poll, Registry, Waker};

/// The token and the readiness of an event that the model OS returned.
#[cfg(loom)]
pub(crate) fn token_ready(event: &(Token, Ready)) -> (Token, Ready) {
    *event
}

/// An edge-triggered OS poller, in loom's terms: a list of readiness
/// reports and a condition variable the polling thread sleeps on.
#[cfg(loom)]
mod model {
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
            _: &mut S,
            _: Token,
            _: Interest,
        ) -> io::Result<()> {
            Ok(())
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
}
