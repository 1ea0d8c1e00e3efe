//! The OS poller under [`Poll`](crate::Poll): mio's, or under `cfg(loom)` a
//! model of it (`model.rs`), so that the hand-off's loom models run the real
//! hand-off code against an "OS" whose every interleaving loom controls.
//!
//! # What a backend provides
//!
//! The names and signatures are mio's, so that the mio backend is a plain
//! re-export; a backend is whatever provides all of these:
//!
//! | item | what it does |
//! |------|--------------|
//! | `Poll::new() -> io::Result<Poll>` | a new OS poller |
//! | `Poll::registry(&self) -> &Registry` | its registry |
//! | `Poll::poll(&mut self, &mut Events, Option<Duration>) -> io::Result<()>` | waits for edges (`None`: no limit); clears `Events` first |
//! | `Events::with_capacity(usize) -> Events` | a buffer for one OS batch |
//! | `Events::iter(&self)` | the events of the last `poll`, each read with [`token_ready`] |
//! | `Registry::try_clone(&self) -> io::Result<Registry>` | a registry usable while another thread polls |
//! | `Registry::{register, reregister}(&self, &mut S, Token, Interest)` | edge-triggered registration, left in place between events |
//! | `Registry::deregister(&self, &mut S)` | the OS forgets the source |
//! | `Waker::new(&Registry, Token) -> io::Result<Waker>` | a waker whose event carries `Token` |
//! | `Waker::wake(&self) -> io::Result<()>` | makes a blocked `Poll::poll` return with the waker's event |
//! | `token_ready(&event) -> (Token, Ready)` | reads one event of `Events::iter` |
//!
//! Edge-triggered means: an edge is reported once per change of readiness,
//! whether or not anybody is interested right now; the token table turns
//! that into oneshot delivery.

use mio::Token;

use crate::event::Ready;

#[cfg(loom)]
pub(crate) mod model;

#[cfg(not(loom))]
pub(crate) use mio::{Events, Poll, Registry, Waker};

#[cfg(loom)]
pub(crate) use self::model::{Events, Poll, Registry, Waker};

/// The token and the readiness of an event that the OS poller returned.
#[cfg(not(loom))]
pub(crate) fn token_ready(event: &mio::event::Event) -> (Token, Ready) {
    (event.token(), Ready::from_mio(event))
}

/// The token and the readiness of an event that the model OS returned.
#[cfg(loom)]
pub(crate) fn token_ready(event: &(Token, Ready)) -> (Token, Ready) {
    *event
}
