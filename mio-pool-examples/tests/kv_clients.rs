//! The major Redis client libraries, in their default settings, against
//! the `kv` binary: redis-py 8 (Python) and node-redis 6 (Node.js), both
//! RESP3 by default, each running the same script (`tests/clients/`).
//!
//! `.ci/run` installs them into the project: redis-py into the virtual
//! environment `target/ci-venv`, node-redis into `target/ci-node`. Elsewhere
//! the tests skip with a reason; under `CI=true` a missing one fails.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use util::{missing, run_with_timeout, stock_client, Server, TIMEOUT};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// Runs `cmd` (a client script given the server's port) against a fresh
/// `kv` and checks that it passed.
fn run_script(mut cmd: Command) {
    let s = Server::start(env!("CARGO_BIN_EXE_kv"));
    cmd.arg(s.addr.port().to_string());
    // A script takes a few seconds; on a starved machine (a full run five
    // times slower than usual) node-redis's took over 30 s. Only a hang
    // takes four times that.
    let out = run_with_timeout(&mut cmd, TIMEOUT * 4);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.starts_with("ok: "),
        "{cmd:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{}", stdout.trim());
}

#[test]
fn redis_py_with_default_settings() {
    let python = root().join("target/ci-venv/bin/python");
    if !python.is_file() {
        return missing(&format!("no redis-py virtual environment at {python:?}"));
    }
    let mut cmd = Command::new(python);
    cmd.arg(script("kv_client.py"));
    run_script(cmd);
}

#[test]
fn node_redis_with_default_settings() {
    let modules = root().join("target/ci-node/node_modules");
    if !modules.join("redis").is_dir() {
        return missing(&format!("no node-redis at {modules:?}"));
    }
    let Some(node) = stock_client("node") else {
        return;
    };
    let mut cmd = Command::new(node);
    cmd.env("NODE_PATH", modules).arg(script("kv_client.js"));
    run_script(cmd);
}
