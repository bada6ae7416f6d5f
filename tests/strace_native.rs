//! `sysgate run --strace` against the real `strace` on this machine: for
//! the C test programs (tests/c, built by scripts/build-c-tests.sh), the
//! system calls sysgate lists — names, decoded arguments and results, the
//! signals delivered (`--- SIGPIPE {...} ---`) and deaths by signal
//! (`+++ killed by SIGABRT +++`) — must be the ones `strace` lists for the
//! same binary run natively.
//!
//! Both sides run with the same environment, in an empty directory, with
//! stdout and stderr captured (pipes) and stdin an empty pipe (so that
//! `lseek(0, ...)` fails with `ESPIPE` on both; `/dev/null` would succeed
//! natively).
//!
//! What is normalized on both sides before comparing, and nothing else:
//! - addresses: hexadecimal numbers of five or more digits become `ADDR`
//!   (they differ with ASLR and the layout of the address space);
//! - process ids: a number seen as a process id — the result of
//!   `set_tid_address`, `getpid`, `gettid`, `getppid`, `fork`, `vfork`,
//!   `clone`, `wait4`/`waitpid` — becomes `P1`, `P2`, ... in order of first
//!   appearance, in those results and wherever a pid is an argument
//!   (`kill`, `tkill`, `tgkill`, `wait4`, `waitpid`) or a field
//!   (`si_pid=`); a number that was never a pid result stays;
//! - the random bytes `getrandom` returns (the call, length and flags stay);
//! - the numbers in `sysinfo`'s structure, which describe the machine
//!   (uptime, load, memory, process count): `sysinfo({uptime=N, ...}) = 0`;
//! - runs of blanks (strace aligns results in a column);
//! - strace's own first line (the `execve` that starts the program, which
//!   happens before sysgate's guest exists);
//! - on an i386 kernel (`--kernel i386`), `set_thread_area`'s
//!   `(entry_number=6)` is shown as x86_64's 12 (the GDT's TLS entries
//!   start at 6 on i386 and at 12 on x86_64, where the native run is);
//! - `+++ exited with N +++` lines: `strace -qq` omits them, sysgate always
//!   prints them (the exit status itself is checked by tests/native.rs);
//!   `+++ killed by SIG... +++` lines are compared.

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

/// Replaces the numbers in `sysinfo`'s structure (uptime, load, memory and
/// process counts of the machine) with `N`; the call, the field names and
/// the result stay.
fn hide_machine_state(line: &str) -> String {
    let Some(rest) = line.strip_prefix("sysinfo({") else {
        return line.to_string();
    };
    let Some(end) = rest.find("})") else {
        return line.to_string();
    };
    let mut out = String::from("sysinfo({");
    let mut in_number = false;
    for c in rest[..end].chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out.push_str(&rest[end..]);
    out
}

/// Calls whose result is a process id.
const PID_RESULTS: &[&str] = &[
    "set_tid_address(",
    "getpid(",
    "gettid(",
    "getppid(",
    "fork(",
    "vfork(",
    "clone(",
    "clone3(",
    "wait4(",
    "waitpid(",
];

/// Calls whose first argument (`tgkill`: first two) is a process id.
const PID_ARGS: &[(&str, usize)] = &[
    ("kill(", 1),
    ("tkill(", 1),
    ("tgkill(", 2),
    ("wait4(", 1),
    ("waitpid(", 1),
];

/// Where the pid result of `line` starts, and the pid, for the calls that
/// return one.
fn pid_result(line: &str) -> Option<(usize, &str)> {
    if !PID_RESULTS.iter().any(|c| line.starts_with(c)) {
        return None;
    }
    let eq = line.rfind(" = ")?;
    let n = &line[eq + 3..];
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n != "0").then_some((eq + 3, n))
}

/// Replaces process ids by `P1`, `P2`, ... (see the header).
fn hide_pids(lines: Vec<String>) -> Vec<String> {
    let mut pids: Vec<String> = Vec::new();
    for l in &lines {
        if let Some((_, n)) = pid_result(l)
            && !pids.iter().any(|p| p == n)
        {
            pids.push(n.to_string());
        }
    }
    let name = |n: &str| {
        pids.iter()
            .position(|p| p == n)
            .map(|k| format!("P{}", k + 1))
    };
    lines
        .into_iter()
        .map(|mut l| {
            if let Some((at, n)) = pid_result(&l)
                && let Some(p) = name(n)
            {
                l = format!("{}{p}", &l[..at]);
            }
            for (call, count) in PID_ARGS {
                if let Some(rest) = l.strip_prefix(call) {
                    let mut args: Vec<String> =
                        rest.splitn(count + 1, ", ").map(String::from).collect();
                    for a in args.iter_mut().take(*count) {
                        if let Some(p) = name(a) {
                            *a = p;
                        }
                    }
                    l = format!("{call}{}", args.join(", "));
                }
            }
            if let Some(at) = l.find("si_pid=") {
                let start = at + "si_pid=".len();
                let end = l[start..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(l.len(), |e| start + e);
                if let Some(p) = name(&l[start..end]) {
                    l = format!("{}{p}{}", &l[..start], &l[end..]);
                }
            }
            l
        })
        .collect()
}

fn normalize(text: &str) -> Vec<String> {
    let lines = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with("+++ exited with "))
        .map(|l| hide_machine_state(&hide_random(&hide_addresses(&l))))
        .collect();
    hide_pids(lines)
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
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .expect("running strace (scripts/build-c-tests.sh --install installs it)");
    // strace ends the way the program did (killed by the same signal).
    assert!(
        status.status.code().is_some()
            || std::os::unix::process::ExitStatusExt::signal(&status.status).is_some(),
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
    let log = cwd.with_extension("sysgate.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sysgate"));
    cmd.arg("run")
        .arg("--strace")
        .arg("--strace-output")
        .arg(&log)
        .args(config);
    for (k, v) in ENV {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--")
        .arg(bin)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::piped())
        .output()
        .expect("running sysgate");
    let text = std::fs::read_to_string(&log).expect("reading sysgate's strace log");
    std::fs::remove_file(&log).expect("removing sysgate's strace log");
    let mut lines = normalize(&text);
    if config.contains(&"i386") {
        for l in &mut lines {
            *l = i386_tls_entry(l);
        }
    }
    lines
}

/// On an i386 kernel the GDT's TLS entries are 6-8 (`GDT_ENTRY_TLS_MIN`
/// is 6 there, 12 on x86_64, where the native run happens):
/// `set_thread_area` reports entry 6 where the native x86_64 kernel
/// reports 12. Shown as the x86_64 number for the comparison.
fn i386_tls_entry(line: &str) -> String {
    for (i386, x86_64) in [("6", "12"), ("7", "13"), ("8", "14")] {
        let suffix = format!(") = 0 (entry_number={i386})");
        if line.starts_with("set_thread_area(")
            && let Some(head) = line.strip_suffix(&suffix)
        {
            return format!("{head}) = 0 (entry_number={x86_64})");
        }
    }
    line.to_string()
}

fn compare(target: &str, configs: &[&[&str]], program: &str, args: &[&str]) {
    build();
    let bin = root().join("target/c-tests").join(target).join(program);
    let cwd = root()
        .join("target/c-tests/work")
        .join(format!("strace-{target}-{program}-{}", args.join("-")));
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
    floats: "floats" &[];
    qsort: "qsort" &[];
    sha256: "sha256" &[];
    stdio: "stdio" &[];
    strings: "strings" &[];
    killed_abort: "killed" &["abort"];
    killed_segv: "killed" &["segv"];
    killed_term: "killed" &["term"];
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
        normalize("sysinfo({uptime=12982, loads=[346208, 322336, 271840], mem_unit=1}) = 0"),
        ["sysinfo({uptime=N, loads=[N, N, N], mem_unit=N}) = 0"]
    );
    assert_eq!(
        normalize("write(1, \"0x1234\", 6) = 6"),
        ["write(1, \"0x1234\", 6) = 6"]
    );
    // Pids become P1, P2 in order of appearance as results, and only
    // where a pid stands.
    assert_eq!(
        normalize(concat!(
            "set_tid_address(0x938d3e8) = 13329\n",
            "write(1, \"13329\", 5) = 5\n",
            "getpid() = 13329\n",
            "kill(13329, 999) = -1 EINVAL (Invalid argument)\n",
            "clone(child_stack=NULL, flags=SIGCHLD) = 13330\n",
            "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=13330, si_uid=0} ---\n",
            "wait4(13330, NULL, 0, NULL) = 13330\n",
            "kill(77, SIGTERM) = -1 ESRCH (No such process)\n",
            "+++ killed by SIGABRT +++\n",
        )),
        [
            "set_tid_address(ADDR) = P1",
            "write(1, \"13329\", 5) = 5",
            "getpid() = P1",
            "kill(P1, 999) = -1 EINVAL (Invalid argument)",
            "clone(child_stack=NULL, flags=SIGCHLD) = P2",
            "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=P2, si_uid=0} ---",
            "wait4(P2, NULL, 0, NULL) = P2",
            "kill(77, SIGTERM) = -1 ESRCH (No such process)",
            "+++ killed by SIGABRT +++",
        ]
    );
}
