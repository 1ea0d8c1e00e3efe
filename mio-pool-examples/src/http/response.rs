//! Writing HTTP/1.1 responses into a connection's write buffer.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The statuses the example server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `200 OK`.
    Ok,
    /// `400 Bad Request`.
    BadRequest,
    /// `404 Not Found`.
    NotFound,
    /// `405 Method Not Allowed`.
    MethodNotAllowed,
    /// `408 Request Timeout`.
    RequestTimeout,
    /// `413 Content Too Large`.
    ContentTooLarge,
    /// `431 Request Header Fields Too Large`.
    HeaderFieldsTooLarge,
    /// `501 Not Implemented`.
    NotImplemented,
    /// `505 HTTP Version Not Supported`.
    VersionNotSupported,
}

impl Status {
    /// The numeric code, e.g. `404`.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::ContentTooLarge => 413,
            Status::HeaderFieldsTooLarge => 431,
            Status::NotImplemented => 501,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase, e.g. `Not Found`.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::ContentTooLarge => "Content Too Large",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::NotImplemented => "Not Implemented",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// What the `Connection` header of a response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 default: keep the connection open, no header needed.
    Default,
    /// `Connection: keep-alive`, for an HTTP/1.0 client that asked for it.
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// A response to write with [`Response::write_to`].
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The status.
    pub status: Status,
    /// The `Content-Type` of the body.
    pub content_type: &'a str,
    /// Extra header fields, written as given.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body. Its length is always sent as `Content-Length`.
    pub body: &'a [u8],
    /// Leave the body out (an answer to `HEAD`), keeping its length.
    pub head_only: bool,
    /// The `Connection` header.
    pub persistence: Persistence,
}

impl<'a> Response<'a> {
    /// A response with `status` and a `text/plain` `body`, persistent by
    /// default.
    pub fn text(status: Status, body: &'a str) -> Response<'a> {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: &[],
            body: body.as_bytes(),
            head_only: false,
            persistence: Persistence::Default,
        }
    }

    /// Appends the status line, headers and body to `out`. `date` is the
    /// value of the `Date` header, as made by [`http_date`].
    pub fn write_to(&self, out: &mut Vec<u8>, date: &str) {
        self.write_head(out, date, Some(self.body.len() as u64));
        if !self.head_only {
            out.extend_from_slice(self.body);
        }
    }

    /// Appends the status line and headers to `out`, announcing a body of
    /// `length` bytes (`Content-Length`), or with `None` a chunked body
    /// (`Transfer-Encoding: chunked`) that the caller writes after; the
    /// [`body`](Response::body) field is not used.
    pub fn write_head(&self, out: &mut Vec<u8>, date: &str, length: Option<u64>) {
        let s = self.status;
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nDate: {date}\r\nServer: mio-pool-examples\r\nContent-Type: {}\r\n",
            s.code(),
            s.reason(),
            self.content_type,
        );
        match length {
            Some(n) => {
                let _ = write!(out, "Content-Length: {n}\r\n");
            }
            None => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        }
        for (name, value) in self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        match self.persistence {
            Persistence::Default => {}
            Persistence::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            Persistence::Close => out.extend_from_slice(b"Connection: close\r\n"),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Formats `time` as an HTTP date (RFC 9110 IMF-fixdate), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[month as usize - 1],
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
    )
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`, for non-negative inputs).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_match_known_values() {
        let at = |s| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_735_689_599), "Tue, 31 Dec 2024 23:59:59 GMT");
    }

    #[test]
    fn a_response_has_length_and_connection_headers() {
        let mut out = Vec::new();
        let mut r = Response::text(Status::NotFound, "nope\n");
        r.persistence = Persistence::Close;
        r.write_to(&mut out, "D");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nDate: D\r\n"));
        assert!(text.contains("\r\nContent-Length: 5\r\n"));
        assert!(text.ends_with("\r\nConnection: close\r\n\r\nnope\n"));
    }

    #[test]
    fn head_only_keeps_the_length_but_not_the_body() {
        let mut out = Vec::new();
        let mut r = Response::text(Status::Ok, "hello");
        r.head_only = true;
        r.write_to(&mut out, "D");
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
