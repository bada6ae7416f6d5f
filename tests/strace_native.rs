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
//! natively). Each side writes its trace to a file (`strace -o`, sysgate's
//! `--strace-output`), apart from the program's own stderr. i386 programs
//! run under four configurations: the x86_64 kernel's compat SYSENTER
//! (Intel) and SYSCALL (AMD), and the i386 kernel's int 0x80 and SYSENTER.
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
//! - in programs with several processes (`strace -f` natively,
//!   `--strace-pids` under sysgate), each process's calls are compared on
//!   their own (P1 the first process, then the pids its calls return,
//!   breadth first), `<unfinished ...>`/`<... resumed>` pairs joined, and
//!   what depends on scheduling is relaxed: SIGCHLD lines set apart, a
//!   run of reads of one
//!   descriptor that returned data is one read of their total, with buffer
//!   sizes hidden (how a pipe's bytes are split between reads); a call
//!   interrupted and restarted by the kernel (`= ? ERESTARTNOINTR (To be
//!   restarted)`) is left out (the restarted call is compared); runs of
//!   `wait4(-1, ...)` are compared sorted (which ended child is reaped
//!   first depends on the order they ended in); and
//!   `--- SIGCHLD` lines are checked apart: each one sysgate shows must be
//!   one strace showed, and there must be one when there was one natively
//!   (children that end while their parent sleeps share one delivery);
//! - `+++ exited with N +++` lines: `strace -qq` omits them, sysgate always
//!   prints them (the exit status itself is checked by tests/native.rs);
//!   `+++ killed by SIG... +++` lines are compared.

use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::{ENV, build, root};

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
    ("rt_sigqueueinfo(", 1),
    ("rt_tgsigqueueinfo(", 2),
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

/// Replaces process ids by `P1`, `P2`, ... in order of their first
/// appearance as a result (see the header).
fn hide_pids(lines: Vec<String>) -> Vec<String> {
    let mut pids: Vec<String> = Vec::new();
    for l in &lines {
        if let Some((_, n)) = pid_result(l)
            && !pids.iter().any(|p| p == n)
        {
            pids.push(n.to_string());
        }
    }
    hide_pids_with(lines, &pids)
}

/// Replaces the process ids in `pids` by `P1`, `P2`, ... in that order.
fn hide_pids_with(lines: Vec<String>, pids: &[String]) -> Vec<String> {
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

/// The native strace log of `bin` (`follow`: `-f`, lines prefixed with
/// their pid).
fn native_text(bin: &Path, args: &[&str], cwd: &Path, follow: bool) -> String {
    let log = cwd.with_extension("native.log");
    let mut cmd = Command::new("strace");
    cmd.arg("-qq");
    if follow {
        cmd.arg("-f");
    }
    let status = cmd
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
    text
}

fn native_strace(bin: &Path, args: &[&str], cwd: &Path) -> Vec<String> {
    let mut lines = normalize(&native_text(bin, args, cwd, false));
    assert!(
        lines.first().is_some_and(|l| l.starts_with("execve(")),
        "strace's first line is the program's execve: {lines:?}"
    );
    lines.remove(0);
    lines
}

/// sysgate's strace log of `bin` under `config` (`pids`: lines
/// prefixed with `[pid N] `).
fn sysgate_text(config: &[&str], bin: &Path, args: &[&str], cwd: &Path, pids: bool) -> String {
    let log = cwd.with_extension("sysgate.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sysgate"));
    cmd.arg("run")
        .arg("--strace")
        .arg("--strace-output")
        .arg(&log)
        .args(config);
    if pids {
        cmd.arg("--strace-pids");
    }
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
    text
}

fn sysgate_strace(config: &[&str], bin: &Path, args: &[&str], cwd: &Path) -> Vec<String> {
    let mut lines = normalize(&sysgate_text(config, bin, args, cwd, false));
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
    &["--kernel", "x86_64", "--mech", "syscall"],
    &["--kernel", "i386", "--mech", "sysenter"],
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
    signals: "signals" &[];
    mmapfile: "mmapfile" &[];
    killed_abort: "killed" &["abort"];
    killed_segv: "killed" &["segv"];
    killed_term: "killed" &["term"];
    killed_fpe: "killed" &["fpe"];
    killed_ill: "killed" &["ill"];
    killed_bus: "killed" &["bus"];
    killed_ignored: "killed" &["ignored"];
    killed_exit: "killed" &["none"];
}

// ---- Programs with several processes ----

/// One trace's lines per process, in order of each pid's first line,
/// `<unfinished ...>`/`<... resumed>` pairs joined (native `strace -f -o`
/// prefixes lines with `PID `; sysgate's `--strace-pids` with
/// `[pid N] `).
fn split_processes(text: &str, native: bool) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut pending: Vec<(String, String)> = Vec::new();
    for raw in text.lines() {
        let split = if native {
            raw.split_once(' ')
        } else {
            raw.strip_prefix("[pid")
                .and_then(|r| r.trim_start().split_once("] "))
        };
        let Some((pid, rest)) = split else {
            continue;
        };
        // strace pads pids to five columns.
        let rest = rest.trim_start();
        let line = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.push((pid.to_string(), head.to_string()));
            continue;
        } else if let Some(tail) = rest.strip_prefix("<... ") {
            let Some((_, after)) = tail.split_once(" resumed>") else {
                continue;
            };
            let head = pending
                .iter()
                .position(|(p, _)| p == pid)
                .map(|k| pending.remove(k).1)
                .unwrap_or_default();
            format!("{head}{after}")
        } else {
            rest.to_string()
        };
        match groups.iter_mut().find(|(p, _)| p == pid) {
            Some((_, v)) => v.push(line),
            None => groups.push((pid.to_string(), vec![line])),
        }
    }
    groups
}

/// Runs of reads of one descriptor that returned data become one read of
/// their total, and the buffer size of every read is hidden: how a pipe's
/// bytes are split between reads depends on scheduling.
fn coalesce_reads(lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(String, u64)> = None;
    let flush = |out: &mut Vec<String>, run: &mut Option<(String, u64)>| {
        if let Some((fd, total)) = run.take() {
            out.push(format!("read({fd}, ..., ...) = {total}"));
        }
    };
    for l in lines {
        let read = l.strip_prefix("read(").and_then(|r| {
            let (fd, _) = r.split_once(", ")?;
            let (_, n) = r.rsplit_once(") = ")?;
            Some((fd.to_string(), n.parse::<u64>().ok()?))
        });
        match read {
            Some((fd, n)) if n > 0 => {
                if run.as_ref().is_some_and(|(f, _)| *f != fd) {
                    flush(&mut out, &mut run);
                }
                let (_, total) = run.get_or_insert((fd, 0));
                *total += n;
            }
            Some((fd, 0)) => {
                flush(&mut out, &mut run);
                out.push(format!("read({fd}, \"\", ...) = 0"));
            }
            _ => {
                flush(&mut out, &mut run);
                out.push(l);
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

/// Each process's normalized lines, in the order the processes are named
/// (P1 the first, then the pids each one's calls return, breadth first).
fn processes(text: &str, native: bool) -> Vec<Vec<String>> {
    let mut groups: Vec<(String, Vec<String>)> = split_processes(text, native)
        .into_iter()
        .map(|(pid, lines)| {
            let lines = lines
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                // A call a signal interrupted and the kernel restarted
                // (`= ? ERESTARTNOINTR`, `ERESTARTSYS`, ...): whether one
                // was interrupted depends on when the signal came; the
                // restarted call follows and is compared.
                .filter(|l| {
                    let restarted = l.contains(" = ? ERESTART") && l.ends_with("(To be restarted)");
                    !l.is_empty() && !l.starts_with("+++ exited with ") && !restarted
                })
                .map(|l| hide_machine_state(&hide_random(&hide_addresses(&l))))
                .collect();
            (pid, lines)
        })
        .collect();
    if native && let Some((_, first)) = groups.first_mut() {
        assert!(
            first.first().is_some_and(|l| l.starts_with("execve(")),
            "strace's first line is the program's execve: {first:?}"
        );
        first.remove(0);
    }
    let mut pids: Vec<String> = groups.first().map(|(p, _)| p.clone()).into_iter().collect();
    let mut k = 0;
    while k < pids.len() {
        if let Some((_, lines)) = groups.iter().find(|(p, _)| *p == pids[k]) {
            for l in lines {
                if let Some((_, n)) = pid_result(l)
                    && !pids.iter().any(|p| p == n)
                {
                    pids.push(n.to_string());
                }
            }
        }
        k += 1;
    }
    let mut out = Vec::new();
    for pid in &pids {
        if let Some(k) = groups.iter().position(|(p, _)| p == pid) {
            let (_, lines) = groups.remove(k);
            out.push(hide_pids_with(lines, &pids));
        }
    }
    // Processes no named pid leads to, in order of appearance.
    for (_, lines) in groups {
        out.push(lines);
    }
    out
}

/// A process's lines without its `--- SIGCHLD` lines, and those lines.
/// Then runs of reads are joined (`coalesce_reads`; a SIGCHLD between two
/// reads does not separate them), and runs of `wait4(-1, ...)` are
/// sorted: which ended child such a wait reaps first depends on the order
/// the children ended in.
fn without_sigchld(lines: &[String]) -> (Vec<String>, Vec<String>) {
    let (sigchld, rest): (Vec<String>, Vec<String>) = lines
        .iter()
        .cloned()
        .partition(|l| l.starts_with("--- SIGCHLD "));
    let mut rest = coalesce_reads(rest);
    let any_child = |l: &String| l.starts_with("wait4(-1, ") || l.starts_with("waitpid(-1, ");
    let mut i = 0;
    while i < rest.len() {
        let n = rest[i..].iter().take_while(|l| any_child(l)).count();
        rest[i..i + n].sort();
        i += n.max(1);
    }
    (rest, sigchld)
}

/// A SIGCHLD line with the child it names (`si_pid`, `si_status`) hidden.
fn any_child_named(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for (i, field) in line.split(", ").enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if field.starts_with("si_pid=") {
            out.push_str("si_pid=?");
        } else if field.starts_with("si_status=") {
            out.push_str("si_status=?");
        } else {
            out.push_str(field);
        }
    }
    out
}

fn compare_processes(target: &str, configs: &[&[&str]], program: &str, args: &[&str]) {
    build();
    let bin = root().join("target/c-tests").join(target).join(program);
    let cwd = root()
        .join("target/c-tests/work")
        .join(format!("strace-{target}-{program}-{}", args.join("-")));
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).expect("work directory");
    let want = processes(&native_text(&bin, args, &cwd, true), true);
    assert!(
        want.len() >= 2 && want.iter().all(|p| !p.is_empty()),
        "strace -f shows several processes: {want:?}"
    );
    for config in configs {
        let _ = std::fs::remove_dir_all(&cwd);
        std::fs::create_dir_all(&cwd).expect("work directory");
        let got = processes(&sysgate_text(config, &bin, args, &cwd, true), false);
        let mut config_lines = Vec::new();
        for (k, (w, g)) in want.iter().zip(&got).enumerate() {
            let mut g = g.clone();
            if config.contains(&"i386") {
                for l in &mut g {
                    *l = i386_tls_entry(l);
                }
            }
            // SIGCHLD (ignored by default here) is delivered once per
            // return to user mode with it pending: children that end while
            // the parent sleeps share one delivery, so how many the parent
            // sees, and which of several children ending together it names,
            // depends on scheduling. Each one sysgate delivers must be one
            // native strace showed up to the child it names (its pid and
            // status), there may not be more of them, and there must be one
            // if there was one natively; the other lines must be the same,
            // in order.
            let ((w_rest, w_chld), (g_rest, g_chld)) = (without_sigchld(w), without_sigchld(&g));
            let (w_any, g_any): (Vec<String>, Vec<String>) = (
                w_chld.iter().map(|l| any_child_named(l)).collect(),
                g_chld.iter().map(|l| any_child_named(l)).collect(),
            );
            let chld_ok = g_any.iter().all(|l| w_any.contains(l))
                && g_chld.len() <= w_chld.len()
                && (w_chld.is_empty() == g_chld.is_empty());
            if w_rest != g_rest || !chld_ok {
                config_lines.push(report(k + 1, &w_rest, &g_rest));
                config_lines.push(format!(
                    "SIGCHLD natively:\n{}\nSIGCHLD under sysgate:\n{}\n",
                    w_chld.join("\n"),
                    g_chld.join("\n")
                ));
            }
        }
        assert_eq!(
            want.len(),
            got.len(),
            "{target} {program} under {config:?}: number of processes"
        );
        assert!(
            config_lines.is_empty(),
            "{target} {program} under {config:?}: system calls differ:\n{}",
            config_lines.join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(&cwd);
}

/// Side-by-side lines of process `p`, differing ones marked `!!`.
fn report(p: usize, want: &[String], got: &[String]) -> String {
    let mut s = format!("process P{p}:\n");
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i), got.get(i));
        let mark = if w == g { "  " } else { "!!" };
        s.push_str(&format!(
            "{mark} native:  {}\n   sysgate: {}\n",
            w.map_or("-", String::as_str),
            g.map_or("-", String::as_str)
        ));
    }
    s
}

macro_rules! strace_process_tests {
    ($($name:ident: $program:literal $args:expr;)*) => {
        mod glibc64_processes { use super::*; $(#[test] fn $name() { compare_processes("glibc64", X86_64, $program, $args) })* }
        mod musl64_processes { use super::*; $(#[test] fn $name() { compare_processes("musl64", X86_64, $program, $args) })* }
        mod glibc32_processes { use super::*; $(#[test] fn $name() { compare_processes("glibc32", I386, $program, $args) })* }
    };
}

strace_process_tests! {
    forkpipe: "forkpipe" &[];
}

#[test]
fn processes_are_split_and_joined() {
    let native = concat!(
        "100   execve(\"/p\", [\"/p\"], 0x7ffd0 /* 3 vars */) = 0\n",
        "100 set_tid_address(0x1000) = 100\n",
        "100 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>\n",
        "101 set_robust_list(0x10, 24) = 0\n",
        "100 <... clone resumed>) = 101\n",
        "100 read(3,  <unfinished ...>\n",
        "101 write(4, \"ab\", 2) = 2\n",
        "100 <... read resumed>\"a\", 10) = 1\n",
        "100 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101, si_uid=0} ---\n",
        "100 read(3, \"b\", 9) = 1\n",
        "101 exit_group(0) = ?\n",
        "101 +++ exited with 0 +++\n",
        "100 read(3, \"\", 8) = 0\n",
        "100 wait4(-1, NULL, 0, NULL) = 101\n",
    );
    let sysgate = concat!(
        "[pid     1] set_tid_address(0x1000) = 1\n",
        "[pid     1] clone(child_stack=NULL, flags=SIGCHLD) = 2\n",
        "[pid     2] set_robust_list(0x10, 24) = 0\n",
        "[pid     2] write(4, \"ab\", 2) = 2\n",
        "[pid     2] exit_group(0) = ?\n",
        "[pid     1] read(3, \"ab\", 10) = 2\n",
        "[pid     1] read(3, \"\", 8) = 0\n",
        "[pid     1] wait4(-1, NULL, 0, NULL) = 2\n",
    );
    let (n, s) = (processes(native, true), processes(sysgate, false));
    let (rest, sigchld) = without_sigchld(&n[0]);
    assert_eq!(
        rest,
        [
            "set_tid_address(0x1000) = P1",
            "clone(child_stack=NULL, flags=SIGCHLD) = P2",
            "read(3, ..., ...) = 2",
            "read(3, \"\", ...) = 0",
            "wait4(-1, NULL, 0, NULL) = P2",
        ]
    );
    assert_eq!(
        sigchld,
        ["--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=P2, si_uid=0} ---"]
    );
    assert_eq!(without_sigchld(&s[0]).0, rest);
    assert_eq!(n[1], s[1]);
    assert_eq!(n.len(), 2);
}

#[test]
fn sigchld_lines_compare_up_to_the_child_named() {
    assert_eq!(
        any_child_named(
            "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=P4, si_uid=0, \
             si_status=21, si_utime=0, si_stime=0} ---"
        ),
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=?, si_uid=0, si_status=?, \
         si_utime=0, si_stime=0} ---"
    );
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
