//! Where the workspace and its release binaries are, building them, and
//! handing a command over to the release build of xtask.
//!
//! `cargo xtask` runs a debug build of xtask without the `bench` feature:
//! light to build, but without the benchmark, and too slow to generate load
//! anyway. So `cargo xtask bench` first builds the servers *and* xtask (with
//! its default features) in release mode (`cargo build --release -p
//! mio-pool-examples -p xtask`, into the workspace's target directory,
//! `CARGO_TARGET_DIR` respected), then executes `target/release/xtask bench
//! ... --no-build`, which does the work. `cargo xtask peer` is handed over
//! the same way.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::ci::cargo;

/// The workspace's root and target directory.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Directory of the root `Cargo.toml`.
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR`, config, or `target/`).
    pub target_dir: PathBuf,
}

impl Workspace {
    /// Asks `cargo metadata` where the target directory is, so that every
    /// way of moving it (environment, config files) is honoured.
    pub fn locate() -> Result<Workspace, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives inside the workspace")
            .to_path_buf();
        let output = Command::new(cargo())
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(&root)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run `cargo metadata`: {e}"))?;
        if !output.status.success() {
            return Err(format!("`cargo metadata` failed ({})", output.status));
        }
        let target_dir = parse_target_dir(&output.stdout)?;
        Ok(Workspace { root, target_dir })
    }

    /// Path of a binary of the release build.
    pub fn release_bin(&self, name: &str) -> PathBuf {
        self.target_dir.join("release").join(name)
    }

    /// Where reports go: `target/bench`.
    pub fn out_dir(&self) -> PathBuf {
        self.target_dir.join("bench")
    }

    /// Builds the example servers and xtask in release mode.
    pub fn build(&self) -> Result<(), String> {
        self.build_release(&["-p", "mio-pool-examples", "-p", "xtask"])
    }

    /// Runs `cargo build --release` with `packages` (`-p NAME ...`).
    pub fn build_release(&self, packages: &[&str]) -> Result<(), String> {
        let mut args = vec!["build", "--release"];
        args.extend_from_slice(packages);
        eprintln!("xtask: cargo {}", args.join(" "));
        let status = Command::new(cargo())
            .args(&args)
            .current_dir(&self.root)
            .stdout(Stdio::inherit())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`cargo {}` failed ({status})", args.join(" ")))
        }
    }

    /// Builds the servers and the release xtask, then replaces this
    /// process with that xtask, given our own arguments (plus `--no-build`
    /// if `no_build`); returns only if that fails.
    pub fn hand_over(&self, no_build: bool) -> ExitCode {
        if let Err(e) = self.build() {
            eprintln!("xtask: {e}");
            return ExitCode::FAILURE;
        }
        let xtask = self.release_bin("xtask");
        let mut cmd = Command::new(&xtask);
        cmd.args(std::env::args_os().skip(1))
            .current_dir(&self.root);
        if let Ok(dir) = std::env::current_dir() {
            cmd.env(CALLER_DIR, dir);
        }
        if no_build {
            cmd.arg("--no-build");
        }
        let e = cmd.exec();
        eprintln!("xtask: cannot run {}: {e}", xtask.display());
        ExitCode::FAILURE
    }
}

/// Environment variable in which [`Workspace::hand_over`] tells the release
/// xtask, which it starts in the workspace root, where it was started.
const CALLER_DIR: &str = "XTASK_CALLER_DIR";

/// `path` as the user meant it: a relative path is taken from the
/// directory `cargo xtask` was started in, also after a hand-over.
pub fn caller_path(path: &Path) -> PathBuf {
    resolve(std::env::var_os(CALLER_DIR).map(PathBuf::from), path)
}

/// `path` taken from `dir`, if relative and there is a `dir`.
fn resolve(dir: Option<PathBuf>, path: &Path) -> PathBuf {
    match dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Extracts `target_directory` from `cargo metadata` JSON: the string
/// value of the first such key (cargo prints the key once, at the top
/// level; the packages list, `--no-deps`, has no key of that name).
pub fn parse_target_dir(json: &[u8]) -> Result<PathBuf, String> {
    let text = std::str::from_utf8(json).map_err(|_| "`cargo metadata` output is not UTF-8")?;
    let missing = || "`cargo metadata` output has no target_directory".to_owned();
    let key = "\"target_directory\"";
    let rest = text[text.find(key).ok_or_else(missing)? + key.len()..].trim_start();
    let rest = rest.strip_prefix(':').ok_or_else(missing)?.trim_start();
    let mut chars = rest.strip_prefix('"').ok_or_else(missing)?.chars();
    let mut dir = String::new();
    loop {
        match chars.next().ok_or_else(missing)? {
            '"' => return Ok(PathBuf::from(dir)),
            '\\' => match chars.next().ok_or_else(missing)? {
                'n' => dir.push('\n'),
                't' => dir.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("`cargo metadata`: a \\u escape outside the basic plane")?;
                    dir.push(c);
                }
                c => dir.push(c), // `\"`, `\\`, `\/`
            },
            c => dir.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_callers_directory() {
        let caller = Some(PathBuf::from("/home/u/runs"));
        assert_eq!(
            resolve(caller.clone(), Path::new("r.json")),
            PathBuf::from("/home/u/runs/r.json")
        );
        assert_eq!(
            resolve(caller, Path::new("/tmp/r.json")),
            PathBuf::from("/tmp/r.json")
        );
        assert_eq!(resolve(None, Path::new("r.json")), PathBuf::from("r.json"));
    }

    #[test]
    fn target_dir_from_metadata() {
        let json = br#"{"packages":[],"target_directory":"/work/target-x","version":1}"#;
        assert_eq!(
            parse_target_dir(json).unwrap(),
            PathBuf::from("/work/target-x")
        );
        assert!(parse_target_dir(b"{}").is_err());
        assert!(parse_target_dir(b"not json").is_err());
        let escaped = br#"{"target_directory" : "/w/a \"b\"\\c\u00e9"}"#;
        assert_eq!(
            parse_target_dir(escaped).unwrap(),
            PathBuf::from("/w/a \"b\"\\c\u{e9}")
        );
        assert!(parse_target_dir(br#"{"target_directory":"/unterminated"#).is_err());
    }
}
