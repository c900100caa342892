//! Helpers shared by the hand-off's host tests: the repository root, the real tools, the fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs a command in the repository root and returns its stdout; a missing tool or a failure fails the test.
pub fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run ({e}): run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Debian's cloud kernel, fetched through scripts/fetch-kernel.sh when it is not cached yet.
pub fn vmlinuz() -> Vec<u8> {
    let path = root().join("build/cache/vmlinuz");
    if !path.exists() {
        run("scripts/fetch-kernel.sh", &[]);
    }
    std::fs::read(path).unwrap()
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("handoff-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
