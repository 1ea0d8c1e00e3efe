//! Where the workspace and its release binaries are, building them, and
//! handing the run over to the release build of xtask.
//!
//! `cargo xtask` runs a debug build of xtask, which is too slow to generate
//! load. So `cargo xtask bench` first builds the servers *and* xtask in
//! release mode (`cargo build --release -p mio-pool-examples -p xtask`, into
//! the workspace's target directory, `CARGO_TARGET_DIR` respected), then
//! re-executes `target/release/xtask bench ... --no-build`, which does the work.

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
        let args = [
            "build",
            "--release",
            "-p",
            "mio-pool-examples",
            "-p",
            "xtask",
        ];
        eprintln!("xtask bench: cargo {}", args.join(" "));
        let status = Command::new(cargo())
            .args(args)
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

    /// Runs the release xtask with our own arguments plus `--no-build`,
    /// and exits as it does.
    pub fn reexec_release(&self) -> ExitCode {
        let xtask = self.release_bin("xtask");
        let status = Command::new(&xtask)
            .args(std::env::args_os().skip(1))
            .arg("--no-build")
            .current_dir(&self.root)
            .status();
        match status {
            Ok(s) => match s.code() {
                Some(0) => ExitCode::SUCCESS,
                Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                None => ExitCode::FAILURE,
            },
            Err(e) => {
                eprintln!("xtask bench: cannot run {}: {e}", xtask.display());
                ExitCode::FAILURE
            }
        }
    }
}

/// Extracts `target_directory` from `cargo metadata` JSON.
pub fn parse_target_dir(json: &[u8]) -> Result<PathBuf, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("`cargo metadata` output: {e}"))?;
    value["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "`cargo metadata` output has no target_directory".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_from_metadata() {
        let json = br#"{"packages":[],"target_directory":"/work/target-x","version":1}"#;
        assert_eq!(
            parse_target_dir(json).unwrap(),
            PathBuf::from("/work/target-x")
        );
        assert!(parse_target_dir(b"{}").is_err());
        assert!(parse_target_dir(b"not json").is_err());
    }
}
