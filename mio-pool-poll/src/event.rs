//! Readiness events as this crate hands them out.
//!
//! `mio::event::Event` cannot be built outside mio, but this crate must hand
//! out events it did not get from the OS just now: readiness remembered while
//! a token was disarmed is returned later, after re-arming. So events here are
//! a plain copy of what matters: the token and the readiness bits.

use std::fmt;

use mio::Token;

/// A set of readiness bits, packed in a byte.
///
/// The bits are the ones `mio::event::Event` reports. Readiness is only ever
/// added up (`|`), taken (reset to empty) or tested, so a byte is enough.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(u8);

impl Ready {
    pub(crate) const EMPTY: Ready = Ready(0);
    pub(crate) const READABLE: Ready = Ready(1);
    pub(crate) const WRITABLE: Ready = Ready(1 << 1);
    pub(crate) const ERROR: Ready = Ready(1 << 2);
    pub(crate) const READ_CLOSED: Ready = Ready(1 << 3);
    pub(crate) const WRITE_CLOSED: Ready = Ready(1 << 4);
    pub(crate) const PRIORITY: Ready = Ready(1 << 5);

    /// Copies the readiness of an event that mio returned.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn from_mio(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        let bits = [
            (event.is_readable(), Ready::READABLE),
            (event.is_writable(), Ready::WRITABLE),
            (event.is_error(), Ready::ERROR),
            (event.is_read_closed(), Ready::READ_CLOSED),
            (event.is_write_closed(), Ready::WRITE_CLOSED),
            (event.is_priority(), Ready::PRIORITY),
        ];
        for (set, bit) in bits {
            if set {
                ready = ready | bit;
            }
        }
        ready
    }

    /// Keeps the bits that matter to a registration with `interest`.
    ///
    /// Error and hang-up bits always matter: the OS reports them whatever
    /// the interest, and a handler must see them to close the source.
    pub(crate) fn relevant_to(self, interest: mio::Interest) -> Ready {
        let mut keep = Ready::ERROR | Ready::READ_CLOSED | Ready::WRITE_CLOSED;
        if interest.is_readable() {
            keep = keep | Ready::READABLE;
        }
        if interest.is_writable() {
            keep = keep | Ready::WRITABLE;
        }
        if interest.is_priority() {
            keep = keep | Ready::PRIORITY;
        }
        Ready(self.0 & keep.0)
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::ERROR, "ERROR"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::PRIORITY, "PRIORITY"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.contains(bit) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("(empty)")?;
        }
        Ok(())
    }
}

/// A readiness event: a token and what its source became ready for.
///
/// Unlike `mio::event::Event` this is a small `Copy` value that the caller
/// may keep, and that can be handed back with [`Poll::requeue`].
///
/// Like mio's, an event is a hint: the source *may* be ready. Always
/// perform the operation and handle `WouldBlock`.
///
/// [`Poll::requeue`]: crate::Poll::requeue
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Event {
    token: Token,
    ready: Ready,
}

impl Event {
    pub(crate) fn new(token: Token, ready: Ready) -> Event {
        Event { token, ready }
    }

    /// The token given when the source was registered.
    pub fn token(&self) -> Token {
        self.token
    }

    /// The source may be readable.
    pub fn is_readable(&self) -> bool {
        self.ready.contains(Ready::READABLE)
    }

    /// The source may be writable.
    pub fn is_writable(&self) -> bool {
        self.ready.contains(Ready::WRITABLE)
    }

    /// The source reported an error (`EPOLLERR`, or `EV_ERROR` on kqueue).
    pub fn is_error(&self) -> bool {
        self.ready.contains(Ready::ERROR)
    }

    /// The read half of the source was closed (the peer shut down writing).
    pub fn is_read_closed(&self) -> bool {
        self.ready.contains(Ready::READ_CLOSED)
    }

    /// The write half of the source was closed.
    pub fn is_write_closed(&self) -> bool {
        self.ready.contains(Ready::WRITE_CLOSED)
    }

    /// Priority (out-of-band) data may be readable.
    pub fn is_priority(&self) -> bool {
        self.ready.contains(Ready::PRIORITY)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("token", &self.token)
            .field("ready", &self.ready)
            .finish()
    }
}

/// A buffer that one [`Poll::poll`] call fills with events.
///
/// The capacity given to [`Events::with_capacity`] caps how many events one
/// call returns; readiness beyond it stays in the poller for the next call,
/// on this thread or another. Give each polling thread its own `Events`:
/// the buffer also remembers the last [`Poll::wake`] its thread saw, so that
/// a wake-up between two calls is not missed (see [`Poll::wake`]).
///
/// ```
/// use mio_pool_poll::Events;
/// let events = Events::with_capacity(64);
/// assert_eq!(events.capacity(), 64);
/// assert!(events.is_empty());
/// ```
///
/// [`Poll::poll`]: crate::Poll::poll
/// [`Poll::wake`]: crate::Poll::wake
pub struct Events {
    inner: Vec<Event>,
    capacity: usize,
    /// The poller's wake-up count when this buffer last returned from
    /// `poll`: a `wake` since then makes the next call return at once.
    pub(crate) seen_wakes: u64,
}

impl Events {
    /// Makes a buffer for at most `capacity` events per call (at least 1:
    /// a capacity of 0 is taken as 1, so that `poll` can make progress).
    pub fn with_capacity(capacity: usize) -> Events {
        let capacity = capacity.max(1);
        Events {
            inner: Vec::with_capacity(capacity),
            capacity,
            seen_wakes: 0,
        }
    }

    /// How many events one call may return.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events the last call returned.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// `true` if the last call returned no event (a timeout or a wake-up).
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Iterates over the events of the last call.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.inner.iter(),
        }
    }

    /// Forgets the events of the last call. `poll` does this itself.
    pub fn clear(&mut self) {
        self.inner.clear();
    }

    /// Room left in this call.
    pub(crate) fn room(&self) -> usize {
        self.capacity - self.inner.len()
    }

    pub(crate) fn push(&mut self, event: Event) {
        debug_assert!(self.room() > 0);
        self.inner.push(event);
    }

    /// Takes the events out, oldest first, leaving the buffer empty.
    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, Event> {
        self.inner.drain(..)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("events", &self.inner)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the events of one call; see [`Events::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Event>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Event;
    fn next(&mut self) -> Option<&'a Event> {
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevant_bits_follow_interest() {
        let all = Ready::READABLE | Ready::WRITABLE | Ready::ERROR;
        let r = all.relevant_to(mio::Interest::READABLE);
        assert!(r.contains(Ready::READABLE));
        assert!(!r.contains(Ready::WRITABLE));
        assert!(r.contains(Ready::ERROR), "errors always matter");
        let w = Ready::WRITABLE.relevant_to(mio::Interest::READABLE);
        assert!(w.is_empty());
    }

    #[test]
    fn capacity_is_at_least_one() {
        assert_eq!(Events::with_capacity(0).capacity(), 1);
    }

    #[test]
    fn event_accessors() {
        let e = Event::new(Token(7), Ready::READABLE | Ready::READ_CLOSED);
        assert_eq!(e.token(), Token(7));
        assert!(e.is_readable() && e.is_read_closed());
        assert!(!e.is_writable() && !e.is_error() && !e.is_write_closed() && !e.is_priority());
        assert_eq!(
            format!("{e:?}"),
            "Event { token: Token(7), ready: READABLE | READ_CLOSED }"
        );
    }
}
