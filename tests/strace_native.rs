//! `sysgate run --strace` against the real `strace` on this machine: for
//! the single-process C test programs (tests/c, built by
//! scripts/build-c-tests.sh), the system calls sysgate lists — names,
//! decoded arguments and results — must be the ones `strace` lists for the
//! same binary run natively.
//!
//! What is normalized on both sides before comparing, and nothing else:
//! addresses (hexadecimal numbers of five or more digits, which differ with
//! ASLR and the layout of the address space), process ids (the result of
//! `set_tid_address`, `getpid` and `gettid`), the random bytes `getrandom`
//! returns, runs of blanks (strace aligns results in a column), and strace's
//! own first line (the `execve` that starts the program, which happens
//! before sysgate's guest exists) and its `+++ exited +++` line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;

const ENV: &[(&str, &str)] = &[("HOME", "/"), ("LC_ALL", "C"), ("PATH", "/bin")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let out = Command::new(root().join("scripts/build-c-tests.sh"))
            .output()
            .expect("running scripts/build-c-tests.sh");
        assert!(
            out.status.success(),
            "scripts/build-c-tests.sh failed (run `scripts/build-c-tests.sh --install`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Replaces each maximal run of `0x` + 5 or more hex digits with `ADDR`.
fn hide_addresses(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0' && b.get(i + 1) == Some(&b'x') {
            let digits = b[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if digits >= 5 {
                out.push_str("ADDR");
                i += 2 + digits;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Replaces the first quoted string argument of a `getrandom` call.
fn hide_random(line: &str) -> String {
    let Some(rest) = line.strip_prefix("getrandom(\"") else {
        return line.to_string();
    };
    // The bytes are escaped; find the closing quote not preceded by `\`.
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    let tail = rest.get(i + 1..).unwrap_or("");
    let tail = tail.strip_prefix("...").unwrap_or(tail);
    format!("getrandom(BYTES{tail}")
}

/// Replaces a call's result with `PID` for the calls that return one.
fn hide_pid(line: &str) -> String {
    for call in ["set_tid_address(", "getpid(", "gettid(", "getppid("] {
        if line.starts_with(call) {
            if let Some(eq) = line.rfind(" = ") {
                return format!("{} = PID", &line[..eq]);
            }
        }
    }
    line.to_string()
}

fn normalize(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with("+++ ") && !l.starts_with("--- "))
        .map(|l| hide_pid(&hide_random(&hide_addresses(&l))))
        .collect()
}

fn native_strace(bin: &Path, args: &[&str], cwd: &Path) -> Vec<String> {
    let log = cwd.join("strace.log");
    let status = Command::new("strace")
        .arg("-qq")
        .arg("-o")
        .arg(&log)
        .arg("--")
        .arg(bin)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .expect("running strace (scripts/build-c-tests.sh --install installs it)");
    assert!(
        status.status.code().is_some(),
        "strace failed: {:?}",
        status.status
    );
    let text = std::fs::read_to_string(&log).expect("reading the strace log");
    std::fs::remove_file(&log).expect("removing the strace log");
    let mut lines = normalize(&text);
    assert!(
        lines.first().is_some_and(|l| l.starts_with("execve(")),
        "strace's first line is the program's execve: {lines:?}"
    );
    lines.remove(0);
    lines
}

fn sysgate_strace(config: &[&str], bin: &Path, args: &[&str], cwd: &Path) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sysgate"));
    cmd.arg("run").arg("--strace").args(config);
    for (k, v) in ENV {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    let out = cmd
        .arg("--")
        .arg(bin)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("running sysgate");
    normalize(&String::from_utf8_lossy(&out.stderr))
}

fn compare(target: &str, configs: &[&[&str]], program: &str, args: &[&str]) {
    build();
    let bin = root().join("target/c-tests").join(target).join(program);
    let cwd = root()
        .join("target/c-tests/work")
        .join(format!("strace-{target}-{program}"));
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).expect("work directory");
    let want = native_strace(&bin, args, &cwd);
    for config in configs {
        let _ = std::fs::remove_dir_all(&cwd);
        std::fs::create_dir_all(&cwd).expect("work directory");
        let got = sysgate_strace(config, &bin, args, &cwd);
        if got != want {
            let n = want.len().max(got.len());
            let mut report = String::new();
            for i in 0..n {
                let (w, g) = (want.get(i), got.get(i));
                let mark = if w == g { "  " } else { "!!" };
                report.push_str(&format!(
                    "{mark} native:  {}\n   sysgate: {}\n",
                    w.map_or("-", String::as_str),
                    g.map_or("-", String::as_str)
                ));
            }
            panic!("{target} {program} under {config:?}: system calls differ:\n{report}");
        }
    }
    let _ = std::fs::remove_dir_all(&cwd);
}

const X86_64: &[&[&str]] = &[&["--kernel", "x86_64"]];
const I386: &[&[&str]] = &[
    &["--kernel", "x86_64", "--mech", "sysenter"],
    &["--kernel", "i386", "--mech", "int80"],
];

macro_rules! strace_tests {
    ($($name:ident: $program:literal $args:expr;)*) => {
        mod glibc64 { use super::*; $(#[test] fn $name() { compare("glibc64", X86_64, $program, $args) })* }
        mod musl64 { use super::*; $(#[test] fn $name() { compare("musl64", X86_64, $program, $args) })* }
        mod glibc32 { use super::*; $(#[test] fn $name() { compare("glibc32", I386, $program, $args) })* }
    };
}

strace_tests! {
    exitcode: "exitcode" &["5"];
    argv_env: "argv_env" &["x", "y"];
    errno: "errno" &[];
    fileio: "fileio" &[];
    malloc: "malloc" &[];
}

#[test]
fn normalization_hides_only_what_it_documents() {
    assert_eq!(
        normalize("brk(0x55fc5f663000)   = 0x55fc5f663000\n+++ exited with 0 +++\n"),
        ["brk(ADDR) = ADDR"]
    );
    assert_eq!(
        normalize("getrandom(\"\\x72\\xc1\\\"\", 4, GRND_NONBLOCK) = 4"),
        ["getrandom(BYTES, 4, GRND_NONBLOCK) = 4"]
    );
    assert_eq!(
        normalize("set_tid_address(0x938d3e8) = 13329"),
        ["set_tid_address(ADDR) = PID"]
    );
    assert_eq!(
        normalize("write(1, \"0x1234\", 6) = 6"),
        ["write(1, \"0x1234\", 6) = 6"]
    );
}
