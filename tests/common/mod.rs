//! What the native-vs-sysgate tests share: the guest environment, the
//! repository root, and building the C test programs.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

/// The guest environment, given natively and through `--env`, in the
/// order `Command::envs` hands it to a native program (sorted).
pub const ENV: &[(&str, &str)] = &[("HOME", "/"), ("LC_ALL", "C"), ("PATH", "/bin")];

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the C test programs once per test process (the script rebuilds
/// only what is out of date).
pub fn build() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let out = Command::new(root().join("scripts/build-c-tests.sh"))
            .output()
            .expect("running scripts/build-c-tests.sh");
        assert!(
            out.status.success(),
            "scripts/build-c-tests.sh failed (run `scripts/build-c-tests.sh --install` to \
             install gcc-multilib and musl-tools):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
