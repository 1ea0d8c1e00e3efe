//! The pool over Unix sockets.
#![cfg(unix)]

mod util;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use util::HANG;

#[test]
fn unix_listener_echo() {
    let dir = std::env::temp_dir().join(format!("mio-pool-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let server = mio::net::UnixListener::bind(&path).unwrap();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_state(0usize)
        .and_return(|n| n)
        .run(
            2,
            |c: &mut mio::net::UnixStream, n: &mut usize| -> io::Result<bool> {
                let mut buf = [0u8; 1024];
                let read = c.read(&mut buf)?;
                if read == 0 {
                    return Ok(true);
                }
                c.write_all(&buf[..read])?;
                *n += read;
                Ok(false)
            },
        );
    let mut sent = 0;
    for i in 0..10 {
        let mut c = UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(HANG)).unwrap();
        let msg = format!("unix {i}");
        c.write_all(msg.as_bytes()).unwrap();
        let mut reply = vec![0u8; msg.len()];
        c.read_exact(&mut reply).unwrap();
        assert_eq!(reply, msg.as_bytes());
        sent += msg.len();
    }
    let echoed: usize = h.terminate().into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(echoed, sent);
    let _ = std::fs::remove_dir_all(&dir);
}
