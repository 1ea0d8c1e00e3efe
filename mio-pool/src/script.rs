//! A scripted stream for the unit tests of `Buffered` and `Driver`.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};

use crate::{Connection, ShutdownWrite};

/// Each read returns the next chunk of the script (`None`: `WouldBlock`;
/// script exhausted: end of stream); writes accept at most `write_room`
/// bytes in all before `WouldBlock`.
#[derive(Default)]
pub(crate) struct Script {
    pub(crate) reads: VecDeque<Option<Vec<u8>>>,
    pub(crate) written: Vec<u8>,
    pub(crate) write_room: usize,
    pub(crate) shut: Cell<bool>,
    /// Output of the stream's own (a TLS session's ciphertext) that `flush`
    /// has not sent yet.
    pub(crate) holding: bool,
    /// The end of stream arrived with the last data (TLS close_notify).
    pub(crate) ended: bool,
}

impl Script {
    pub(crate) fn new(reads: &[Option<&[u8]>], write_room: usize) -> Script {
        Script {
            reads: reads.iter().map(|r| r.map(|c| c.to_vec())).collect(),
            write_room,
            ..Script::default()
        }
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            Some(Some(chunk)) => {
                assert!(chunk.len() <= buf.len());
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            Some(None) => Err(io::ErrorKind::WouldBlock.into()),
            None => Ok(0),
        }
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.write_room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.write_room);
        self.write_room -= n;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.holding {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }
}

impl ShutdownWrite for Script {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut.set(true);
        Ok(())
    }

    fn end_pending(&self) -> bool {
        self.ended
    }
}

/// Registration does nothing: the unit tests call the hooks themselves.
impl mio::event::Source for Script {
    fn register(&mut self, _: &mio::Registry, _: mio::Token, _: mio::Interest) -> io::Result<()> {
        Ok(())
    }

    fn reregister(&mut self, _: &mio::Registry, _: mio::Token, _: mio::Interest) -> io::Result<()> {
        Ok(())
    }

    fn deregister(&mut self, _: &mio::Registry) -> io::Result<()> {
        Ok(())
    }
}

impl Connection for Script {}
