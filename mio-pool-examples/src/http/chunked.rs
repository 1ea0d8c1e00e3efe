//! An incremental decoder of chunked transfer coding (RFC 9112 section 7.1)
//! that keeps its state between reads: a body that arrives one byte at a
//! time is decoded with each byte examined once.

use std::ops::Range;

use super::RequestError;

/// The longest chunk-size line, extensions included.
pub const MAX_CHUNK_LINE: usize = 1024;

/// Where the decoder is in the body.
///
/// | state      | expects                    | on it                         | next |
/// |------------|----------------------------|-------------------------------|------|
/// | `Size`     | hex digit                  | `size = size * 16 + digit`    | `Size` |
/// |            | `;`, space, tab (≥1 digit) | extension starts              | `Ext` |
/// |            | `\r` (≥1 digit)            |                               | `SizeLf` |
/// | `Ext`      | any but `\r`               | skipped (line bounded)        | `Ext` |
/// |            | `\r`                       |                               | `SizeLf` |
/// | `SizeLf`   | `\n`                       | size 0: last chunk            | `Trailer` |
/// |            |                            | else count it against the body limit | `Data(size)` |
/// | `Data(n)`  | up to `n` bytes            | handed to the caller          | `Data(n - k)`, `DataCr` at 0 |
/// | `DataCr`   | `\r`                       |                               | `DataLf` |
/// | `DataLf`   | `\n`                       |                               | `Size` |
/// | `Trailer`  | any but `\r`               | counted against the head limit | `Trailer` |
/// |            | `\r`                       |                               | `TrailerLf` |
/// | `TrailerLf`| `\n`                       | empty line: the body ends     | `Done` |
/// |            |                            | else the next trailer line    | `Trailer` |
///
/// Any other byte is a [`RequestError::Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Ext,
    SizeLf,
    Data(u64),
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    Done,
}

/// What one [`ChunkDecoder::decode`] call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used (framing and data).
    pub consumed: usize,
    /// Where the decoded data handed on lies in the input (empty if none).
    pub data: Range<usize>,
}

/// Decodes one chunked body; see the state table on `State` in the source.
#[derive(Debug, Clone)]
pub struct ChunkDecoder {
    state: State,
    size: u64,
    digits: usize,
    /// Bytes in the current size or trailer line.
    line: usize,
    /// Data bytes announced so far.
    total: u64,
    /// Trailer bytes so far.
    trailers: usize,
    max_body: u64,
    max_trailers: usize,
}

const BAD: RequestError = RequestError::Malformed("invalid chunked body");

impl ChunkDecoder {
    /// A decoder at the start of a body that may carry at most `max_body`
    /// bytes of data (then [`RequestError::BodyTooLarge`]) and `max_trailers`
    /// bytes of trailer fields (then [`RequestError::HeadTooLarge`]).
    pub fn new(max_body: usize, max_trailers: usize) -> ChunkDecoder {
        ChunkDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            total: 0,
            trailers: 0,
            max_body: max_body as u64,
            max_trailers,
        }
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the front of `input`, the body's bytes not yet
    /// consumed: framing bytes until data is reached, then at most `room`
    /// data bytes (one run, within one chunk). Stops at the end of the
    /// input, after a run of data, or when the body is done.
    pub fn decode(&mut self, input: &[u8], room: usize) -> Result<Decoded, RequestError> {
        let mut pos = 0;
        while pos < input.len() {
            let b = input[pos];
            self.state = match self.state {
                State::Done => break,
                State::Data(left) => {
                    let n = left.min((input.len() - pos) as u64).min(room as u64) as usize;
                    if n == 0 {
                        break;
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                    return Ok(Decoded {
                        consumed: pos + n,
                        data: pos..pos + n,
                    });
                }
                State::Size => {
                    self.count_line()?;
                    match (b as char).to_digit(16) {
                        Some(d) => {
                            self.digits += 1;
                            if self.digits > 15 {
                                return Err(RequestError::BodyTooLarge);
                            }
                            self.size = self.size * 16 + u64::from(d);
                            State::Size
                        }
                        None if self.digits == 0 => return Err(BAD),
                        None => match b {
                            b';' | b' ' | b'\t' => State::Ext,
                            b'\r' => State::SizeLf,
                            _ => return Err(BAD),
                        },
                    }
                }
                State::Ext => {
                    self.count_line()?;
                    if b == b'\r' {
                        State::SizeLf
                    } else {
                        State::Ext
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(BAD);
                    }
                    let size = std::mem::take(&mut self.size);
                    self.digits = 0;
                    self.line = 0;
                    if size == 0 {
                        State::Trailer
                    } else {
                        self.total += size;
                        if self.total > self.max_body {
                            return Err(RequestError::BodyTooLarge);
                        }
                        State::Data(size)
                    }
                }
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::Size,
                State::DataCr | State::DataLf => return Err(BAD),
                State::Trailer if b == b'\r' => State::TrailerLf,
                State::Trailer => {
                    self.line += 1;
                    self.trailers += 1;
                    if self.trailers > self.max_trailers {
                        return Err(RequestError::HeadTooLarge);
                    }
                    State::Trailer
                }
                State::TrailerLf if b == b'\n' => {
                    if std::mem::take(&mut self.line) == 0 {
                        State::Done
                    } else {
                        State::Trailer
                    }
                }
                State::TrailerLf => return Err(BAD),
            };
            pos += 1;
            if self.state == State::Done {
                break;
            }
        }
        Ok(Decoded {
            consumed: pos,
            data: pos..pos,
        })
    }

    fn count_line(&mut self) -> Result<(), RequestError> {
        self.line += 1;
        if self.line > MAX_CHUNK_LINE {
            return Err(BAD);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `body` fed in pieces of `step` bytes with `room` bytes of
    /// room per call; returns the data and the bytes consumed.
    fn decode_all(body: &[u8], step: usize, room: usize) -> Result<(Vec<u8>, usize), RequestError> {
        let mut d = ChunkDecoder::new(1 << 20, 8192);
        let (mut data, mut used, mut avail) = (Vec::new(), 0, 0);
        while !d.is_done() {
            let r = d.decode(&body[used..avail], room)?;
            data.extend_from_slice(&body[used..avail][r.data]);
            used += r.consumed;
            if r.consumed == 0 {
                if avail == body.len() {
                    break;
                }
                avail = (avail + step).min(body.len());
            }
        }
        Ok((data, used))
    }

    #[test]
    fn chunks_decode_the_same_however_split() {
        let body = b"4\r\nRust\r\n6;ext=1\r\n in a \r\n3\r\npan\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..8 {
            for room in [1, 2, 5, usize::MAX] {
                let (data, used) = decode_all(body, step, room).unwrap();
                assert_eq!(data, b"Rust in a pan", "step {step} room {room}");
                assert_eq!(used, body.len() - 4);
            }
        }
    }

    #[test]
    fn bad_framing_and_limits_are_refused() {
        let err = |b: &[u8]| decode_all(b, 1, usize::MAX).unwrap_err();
        assert_eq!(err(b"zz\r\n"), BAD);
        assert_eq!(err(b"\r\n"), BAD);
        assert_eq!(err(b"2\r\nabc\r\n"), BAD);
        assert_eq!(err(b"2\nab\r\n"), BAD);
        assert_eq!(err(b"100001\r\n"), RequestError::BodyTooLarge);
        assert_eq!(err(b"fffffffffffffffff\r\n"), RequestError::BodyTooLarge);
        let long_ext = [&b"1;"[..], &[b'x'; MAX_CHUNK_LINE][..]].concat();
        assert_eq!(err(&long_ext), BAD);
        let trailers = [&b"0\r\n"[..], &b"X: y\r\n".repeat(3000)[..]].concat();
        assert_eq!(err(&trailers), RequestError::HeadTooLarge);
    }
}
