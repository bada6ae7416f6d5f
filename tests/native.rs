//! Native-vs-sysgate comparison: the C programs in `tests/c/`, built by
//! `scripts/build-c-tests.sh` as static glibc x86-64, musl x86-64 and glibc
//! i386 binaries, run natively on this machine and under `sysgate run`;
//! standard output, standard error and exit status must be identical byte
//! for byte. i386 binaries run under every mechanism their
//! `__kernel_vsyscall` can use: SYSCALL, SYSENTER and INT 0x80 on the
//! x86-64 kernel, SYSENTER and INT 0x80 on the i386 kernel.
//!
//! Each run gets a fresh working directory, used first natively and then
//! by sysgate (whose guest starts in an empty in-memory directory at the
//! same path), the same environment, arguments and standard input.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{ENV, build, root};

/// A build of the test programs.
#[derive(Clone, Copy, Debug)]
enum Target {
    Glibc64,
    Musl64,
    Glibc32,
}

impl Target {
    fn dir(self) -> &'static str {
        match self {
            Target::Glibc64 => "glibc64",
            Target::Musl64 => "musl64",
            Target::Glibc32 => "glibc32",
        }
    }

    /// `sysgate run` options for each kernel flavor and mechanism the
    /// binary can use.
    fn configs(self) -> Vec<&'static [&'static str]> {
        match self {
            Target::Glibc64 | Target::Musl64 => vec![&["--kernel", "x86_64"]],
            Target::Glibc32 => vec![
                &["--kernel", "x86_64", "--mech", "syscall"],
                &["--kernel", "x86_64", "--mech", "sysenter"],
                &["--kernel", "x86_64", "--mech", "int80"],
                &["--kernel", "i386", "--mech", "sysenter"],
                &["--kernel", "i386", "--mech", "int80"],
            ],
        }
    }
}

/// What a run produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The exit code, or 128 + the signal for a process killed by one (what
    /// a shell reports and what `sysgate run` exits with).
    code: i32,
}

fn run(mut cmd: Command, stdin: &[u8]) -> Outcome {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The program may exit without reading everything.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("waiting");
    writer.join().expect("stdin writer");
    let code = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    };
    Outcome {
        stdout: out.stdout,
        stderr: out.stderr,
        code,
    }
}

/// A fresh, empty working directory for one run.
fn workdir(label: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = root()
        .join("target/c-tests/work")
        .join(format!("{label}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a work directory");
    dir
}

fn native(bin: &Path, args: &[&str], stdin: &[u8], cwd: &Path) -> Outcome {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(ENV.iter().copied());
    run(cmd, stdin)
}

fn sysgate(config: &[&str], bin: &Path, args: &[&str], stdin: &[u8], cwd: &Path) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sysgate"));
    cmd.arg("run").args(config);
    for (k, v) in ENV {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--")
        .arg(bin)
        .args(args)
        .current_dir(cwd)
        .env_clear();
    run(cmd, stdin)
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 4000 {
        format!("{}... ({} bytes)", &s[..4000], b.len())
    } else {
        s.into_owned()
    }
}

/// Runs `program` of every target with each argument list and standard
/// input, natively and under each sysgate configuration, and compares.
fn compare(program: &str, cases: &[(&[&str], &[u8])]) {
    compare_on(
        program,
        &[Target::Glibc64, Target::Musl64, Target::Glibc32],
        cases,
    );
}

/// [`compare`] for the builds of `program` for `targets` only.
fn compare_on(program: &str, targets: &[Target], cases: &[(&[&str], &[u8])]) {
    build();
    let mut failures = Vec::new();
    let mut runs = 0;
    for &target in targets {
        let bin = root()
            .join("target/c-tests")
            .join(target.dir())
            .join(program);
        assert!(bin.exists(), "{} was not built", bin.display());
        runs += compare_binary(target.dir(), &bin, &target.configs(), cases, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs differ from native:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs `bin` with each case natively and under each configuration;
/// records every difference in `failures` and returns the number of
/// sysgate runs.
fn compare_binary(
    label: &str,
    bin: &Path,
    configs: &[&[&str]],
    cases: &[(&[&str], &[u8])],
    failures: &mut Vec<String>,
) -> usize {
    let name = bin
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("program");
    let mut runs = 0;
    for (args, stdin) in cases {
        let dir = workdir(name);
        let want = native(bin, args, stdin, &dir);
        for config in configs {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("work directory");
            let got = sysgate(config, bin, args, stdin, &dir);
            runs += 1;
            if got != want {
                failures.push(format!(
                    "{label} {name} {args:?} under {config:?}:\n  native: exit {}\n    stdout: {}\n    \
                     stderr: {}\n  sysgate: exit {}\n    stdout: {}\n    stderr: {}",
                    want.code,
                    show(&want.stdout),
                    show(&want.stderr),
                    got.code,
                    show(&got.stdout),
                    show(&got.stderr)
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    runs
}

#[test]
fn stdio() {
    compare(
        "stdio",
        &[
            (&[], b"first line\nsecond line\n\nlast without newline"),
            (&[], b""),
        ],
    );
}

#[test]
fn strings() {
    compare("strings", &[(&[], b"")]);
}

#[test]
fn malloc() {
    compare("malloc", &[(&[], b"")]);
}

#[test]
fn qsort() {
    compare("qsort", &[(&[], b"")]);
}

#[test]
fn sha256() {
    compare("sha256", &[(&[], b""), (&["2"], b"")]);
}

#[test]
fn forkpipe() {
    compare("forkpipe", &[(&[], b"")]);
}

#[test]
fn exitcode() {
    compare(
        "exitcode",
        &[
            (&[], b""),
            (&["3"], b""),
            (&["255"], b""),
            (&["_exit"], b""),
        ],
    );
}

#[test]
fn argv_env() {
    compare(
        "argv_env",
        &[
            (&[], b""),
            (&["one", "two words", "", "--flag=x", "ünïcödé"], b""),
        ],
    );
}

#[test]
fn errno() {
    compare("errno", &[(&[], b"")]);
}

#[test]
fn fileio() {
    compare("fileio", &[(&[], b"")]);
}

#[test]
fn floats() {
    compare("floats", &[(&[], b"")]);
}

#[test]
fn signals() {
    compare("signals", &[(&[], b"")]);
}

#[test]
fn killed() {
    compare(
        "killed",
        &[
            (&["abort"], b""),
            (&["segv"], b""),
            (&["fpe"], b""),
            (&["ill"], b""),
            (&["term"], b""),
            (&["bus"], b""),
            (&["ignored"], b""),
        ],
    );
}

/// Runs Debian's busybox-static (`/bin/busybox`) with each case natively
/// and under sysgate on the x86-64 kernel; every run must match.
fn compare_busybox(cases: &[(&[&str], &[u8])]) {
    build();
    let bin = Path::new("/bin/busybox");
    assert!(
        bin.exists(),
        "/bin/busybox is missing (scripts/build-c-tests.sh --install installs busybox-static)"
    );
    let mut failures = Vec::new();
    let runs = compare_binary(
        "busybox",
        bin,
        &[&["--kernel", "x86_64"]],
        cases,
        &mut failures,
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs differ from native:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// [`compare_busybox`] for `busybox sh -c SCRIPT`, each script with
/// standard input `stdin`.
fn compare_busybox_scripts(scripts: &[&str], stdin: &[u8]) {
    let argv: Vec<[&str; 3]> = scripts.iter().map(|s| ["sh", "-c", s]).collect();
    let cases: Vec<(&[&str], &[u8])> = argv.iter().map(|a| (&a[..], stdin)).collect();
    compare_busybox(&cases);
}

/// Debian's busybox-static: a real x86-64 static binary nobody here wrote.
/// Its shell runs applets in children that exec `/proc/self/exe`.
#[test]
fn busybox() {
    let text: &[u8] = b"pear\napple\nfig\nbanana\napple\ncherry\n";
    let cases: &[(&[&str], &[u8])] = &[
        (&["echo", "hello", "world"], b""),
        (&["echo", "-n", "no newline"], b""),
        (&["cat"], text),
        (&["cat", "-n"], text),
        (&["wc"], text),
        (&["wc", "-l"], text),
        (&["sort"], text),
        (&["sort", "-r", "-u"], text),
        (&["sha256sum"], text),
        (&["sha256sum"], b""),
        (&["expr", "6", "*", "7"], b""),
        (&["expr", "length", "hello"], b""),
        (&["expr", "1", "/", "0"], b""),
        (&["seq", "10"], b""),
        (&["seq", "5", "-2", "-5"], b""),
        (&["uniq", "-c"], b"a\na\nb\nc\nc\nc\n"),
        (&["tr", "a-z", "A-Z"], text),
        (&["head", "-n", "2"], text),
        (&["tail", "-n", "2"], text),
        (&["sh", "-c", "echo hello | wc -c"], b""),
        (&["sh", "-c", "seq 1 100 | sort -r | head -n 5"], b""),
        (&["sh", "-c", "cat | sort | uniq -c | sort -n"], text),
        (
            &[
                "sh",
                "-c",
                "for i in 1 2 3; do echo item $i; done; false; echo status $?",
            ],
            b"",
        ),
        (
            &[
                "sh",
                "-c",
                "x=$(echo inner | tr a-z A-Z); echo \"[$x]\"; exit 3",
            ],
            b"",
        ),
        (
            &[
                "sh",
                "-c",
                "mkdir d && echo one > d/a && echo two > d/b && mkdir d/sub && ls d && ls -a d && \
                 cat d/a d/b && rm d/a && ls d && wc -c d/b && rm -r d && ls",
            ],
            b"",
        ),
        (
            &["sh", "-c", "echo to stderr >&2; ls /no/such/dir; echo $?"],
            b"",
        ),
        (&["nosuchapplet"], b""),
        // Sleeping tasks let the others run; the modeled clock moves to the
        // earliest deadline when every task waits.
        (&["sh", "-c", "echo hi | timeout 1 cat"], b""),
        (
            &["sh", "-c", "(sleep 0.2; echo late) & echo early; wait"],
            b"",
        ),
        (
            &[
                "sh",
                "-c",
                "(sleep 0.3; echo 3) & (sleep 0.1; echo 1) & (sleep 0.2; echo 2) & wait",
            ],
            b"",
        ),
    ];
    compare_busybox(cases);
}

/// busybox with the character devices and `/dev` links: `/dev/null`,
/// `/dev/zero`, `/dev/full`, `/dev/urandom`, `/dev/stderr`, `/dev/stdin`,
/// `/dev/fd/N` and `> /dev/null` redirections, natively vs under sysgate.
#[test]
fn busybox_dev() {
    let scripts = [
        "cat /dev/null; echo $?",
        "head -c 10 /dev/zero | wc -c",
        "date > /dev/null; echo ok",
        "md5sum /dev/null",
        "stat -c '%s %t %T %F %a %U %G' /dev/null /dev/zero /dev/full /dev/random /dev/urandom",
        "dd if=/dev/zero bs=512 count=4 2>/dev/null | wc -c",
        "echo x > /dev/full; echo $?",
        "echo err > /dev/stderr",
        "ls -l /dev/null | cut -c1-43",
        "head -c 16 /dev/urandom | wc -c",
        "cat /dev/stdin; cat /dev/fd/0",
        "echo out > /dev/stdout; echo hi | tee /dev/stderr",
        "test -c /dev/null && test -w /dev/full && test -r /dev/urandom && echo devices",
        "exec 3>/dev/null; echo x >&3; echo $?; echo y >> /dev/null; echo $?",
        "od -An -tx1 -N8 /dev/zero",
        "echo data > f; exec 4<f; cat /dev/fd/4; readlink /dev/stdout /dev/fd",
        "dd if=/dev/urandom of=/dev/null bs=1k count=64 2>&1 | head -n 2",
    ];
    compare_busybox_scripts(&scripts, b"from stdin\n");
}

/// busybox with the credential, metadata and scheduler calls: `id`,
/// `chmod`/`chown`/`chgrp`, `touch -d`/`-r` (utimensat), `mkfifo`/`mknod`,
/// `sync`, `renice` (getpriority/setpriority on another process),
/// `stat -f` (statfs), natively vs under sysgate.
#[test]
fn busybox_metadata() {
    let scripts = [
        "id; id -G; id -u; id -g",
        "touch f && chmod 600 f && stat -c '%a %U' f",
        "touch -d '2020-01-02 03:04:05' f && stat -c %y f",
        "touch f; touch -r f g; echo $?",
        "sync; echo ok",
        "mkfifo p && ls -l p | cut -c1",
        "mknod q p && stat -c %F q",
        "touch g; chown 1:2 g; ls -n g | cut -c1-25",
        "touch f; chgrp 5 f; stat -c %g f",
        "touch f; chmod 4755 f; chown 5 f; stat -c %a f",
        "mkdir d; chmod 2750 d; stat -c '%A %a' d",
        "ln -s nowhere l; chown -h 3:4 l; ls -ln l | cut -c1-25",
        "renice -n 3 $$ >/dev/null; echo $?",
        "stat -f -c '%s' . >/dev/null; echo $?",
    ];
    compare_busybox_scripts(&scripts, b"");
}

#[test]
fn copyrange() {
    compare("copyrange", &[(&[], b"")]);
}

#[test]
fn fallocate() {
    compare("fallocate", &[(&[], b"")]);
}

#[test]
fn procself() {
    compare("procself", &[(&[], b""), (&["one", "two words"], b"")]);
}

#[test]
fn timers() {
    compare("timers", &[(&[], b"")]);
}

#[test]
fn stack() {
    compare("stack", &[(&[], b"")]);
}

#[test]
fn mmapfile() {
    compare("mmapfile", &[(&[], b"")]);
}

/// A static C++ program (glibc x86-64, g++): exceptions and unwinding,
/// iostreams, `std::call_once`, natively vs under sysgate.
#[test]
fn cxx() {
    compare_on("cxx", &[Target::Glibc64], &[(&[], b""), (&["extra"], b"")]);
}
