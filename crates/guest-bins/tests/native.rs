//! The host is the reference: every guest is run natively on this x86-64
//! Linux machine and its stdout and exit status compared with what the
//! registry records.
//!
//! * 32-bit guests are skipped (with a note) if the kernel cannot exec ELF32
//!   (`ENOEXEC`: no IA-32 emulation); `int 0x80` from 64-bit code likewise.
//! * Guests with a [`CpuNeed`] are expected to die of SIGILL on a CPU that
//!   lacks the instruction in compatibility mode (SYSENTER on AMD, SYSCALL
//!   on Intel) and to match the record on the other vendor.
//! * Guests that expect files get the host path of their first file as
//!   `argv[1]` (`seed-int80-open-read`, `fork-exec-wait*` take it there).
//! * `audit-collector` meets a stock kernel: no `myaudit`. Its record
//!   parsing is checked under gdb, which plays the seed's kernel module
//!   (skipped without gdb or ptrace).

#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sysgate_guest_bins::{
    Arch, CpuNeed, ExitStatus, Expected, Guest, Mechanism, SIGILL, all, build, getpid_loop,
};

const ENOEXEC: i32 = 8;
const ETXTBSY: i32 = 26;

fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sysgate-guest-bins-native-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn install(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Runs `exe` with `args` in `cwd` and an empty environment; `Err` carries
/// the exec error. Gives up (and fails) after 20 s.
fn run(exe: &Path, args: &[&str], cwd: &Path) -> std::io::Result<(Vec<u8>, ExitStatus)> {
    let mut attempts = 0;
    let mut child = loop {
        // Another test thread may briefly hold a writable descriptor of a
        // freshly written executable across its fork: retry ETXTBSY.
        match Command::new(exe)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => break c,
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    };
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} timed out", exe.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = reader.join().unwrap();
    let status = match (status.code(), status.signal()) {
        (Some(c), _) => ExitStatus::Exited(c),
        (None, Some(s)) => ExitStatus::Signaled(s),
        (None, None) => panic!("no status"),
    };
    Ok((out, status))
}

fn host_vendor() -> Option<&'static str> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    if info.contains("GenuineIntel") {
        Some("intel")
    } else if info.contains("AuthenticAMD") {
        Some("amd")
    } else {
        None
    }
}

/// Whether the host kernel runs 32-bit code (ELF32 exec and int 0x80).
fn host_runs_i386() -> bool {
    let dir = scratch("probe");
    let g = build("hello-int80-32").unwrap();
    let exe = install(&dir, "probe", &g.elf, 0o755);
    let ok = match run(&exe, &[], &dir) {
        Ok((out, ExitStatus::Exited(0))) => out == b"Hello, world!\n",
        Ok(_) => false,
        Err(e) if e.raw_os_error() == Some(ENOEXEC) => false,
        Err(e) => panic!("exec of a 32-bit guest failed: {e}"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    ok
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What the host should do with `g`, or `None` (with the reason) to skip.
fn host_expectation(g: &Guest, runs_i386: bool) -> Result<Expected, String> {
    let uses_i386_kernel_abi = g.arch() == Arch::I386 || g.mechanism() == Mechanism::Int80;
    if uses_i386_kernel_abi && !runs_i386 {
        return Err("the host kernel has no IA-32 emulation".into());
    }
    let expected = g.stock_linux.clone().unwrap_or_else(|| g.expected.clone());
    let lacking = match (g.info.cpu, host_vendor()) {
        (CpuNeed::Any, _) => false,
        (_, None) => return Err("unknown CPU vendor".into()),
        (CpuNeed::Sysenter32, Some(v)) => v == "amd",
        (CpuNeed::Syscall32, Some(v)) => v == "intel",
    };
    if lacking {
        return Ok(Expected {
            stdout: Vec::new(),
            status: ExitStatus::Signaled(SIGILL),
        });
    }
    Ok(expected)
}

#[test]
fn every_guest_matches_its_expectation_natively() {
    let runs_i386 = host_runs_i386();
    if !runs_i386 {
        println!("note: ELF32 exec failed with ENOEXEC; 32-bit and int 0x80 guests skipped");
    }
    let mut ran = 0;
    for info in all() {
        let g = build(info.name).unwrap();
        let expected = match host_expectation(&g, runs_i386) {
            Ok(e) => e,
            Err(why) => {
                println!("note: {} skipped: {why}", info.name);
                continue;
            }
        };
        let dir = scratch(info.name);
        let exe = install(&dir, info.name, &g.elf, 0o755);
        let mut args = Vec::new();
        if let Some(f) = g.files.first() {
            let mode = if f.executable { 0o755 } else { 0o644 };
            let path = install(&dir, "file-arg", &f.contents, mode);
            args.push(path.to_string_lossy().into_owned());
        }
        for absent in &g.absent_files {
            assert!(!dir.join(absent).exists());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, status) = run(&exe, &argv, &dir).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        if info.name == "audit-collector" {
            // A stock kernel has no syscall 336; the error is normally
            // -ENOSYS, but some kernels (or sandboxes) answer otherwise.
            let want = text(&expected.stdout);
            let got = text(&out);
            let header = want.lines().next().unwrap();
            assert!(
                got.starts_with(&format!("{header}\nmyaudit failed: -")),
                "{got}"
            );
            assert_eq!(status, expected.status);
            if got != want {
                println!("note: audit-collector: host answered {got:?}, a stock kernel {want:?}");
            }
        } else {
            assert_eq!(
                (text(&out), status),
                (text(&expected.stdout), expected.status),
                "{}",
                info.name
            );
        }
        ran += 1;
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("ran {ran} guests natively");
    assert!(ran >= 12);
}

#[test]
fn getpid_loops_of_other_lengths_run_natively() {
    let runs_i386 = host_runs_i386();
    let dir = scratch("loops");
    for (arch, mech) in [
        (Arch::X86_64, Mechanism::Syscall),
        (Arch::X86_64, Mechanism::Int80),
        (Arch::I386, Mechanism::Int80),
        (Arch::I386, Mechanism::Vsyscall),
    ] {
        if !runs_i386 && (arch == Arch::I386 || mech == Mechanism::Int80) {
            continue;
        }
        for n in [0, 1, 3, 100_000] {
            let g = getpid_loop(arch, mech, n).unwrap();
            let exe = install(&dir, &format!("loop-{arch:?}-{mech:?}-{n}"), &g.elf, 0o755);
            let (out, status) = run(&exe, &[], &dir).unwrap();
            assert!(out.is_empty());
            assert_eq!(status, ExitStatus::Exited(0), "{arch:?} {mech:?} {n}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seed's unchecked open+read: with no file, read(-ENOENT, ...) fails
/// with EBADF and the program prints the raw count and an empty string.
#[test]
fn seed_int80_open_read_without_the_file() {
    if !host_runs_i386() {
        println!("note: no IA-32 emulation; skipped");
        return;
    }
    let dir = scratch("open-read");
    let g = build("seed-int80-open-read").unwrap();
    let exe = install(&dir, "open-read", &g.elf, 0o755);
    let missing = dir.join("missing");
    let (out, status) = run(&exe, &[missing.to_str().unwrap()], &dir).unwrap();
    assert_eq!(
        (text(&out), status),
        ("-9\n\n".to_string(), ExitStatus::Exited(0))
    );
    // A longer file: read stops at 80 bytes.
    let long = install(&dir, "long", &[b'x'; 200], 0o644);
    let (out, _) = run(&exe, &[long.to_str().unwrap()], &dir).unwrap();
    assert_eq!(text(&out), format!("80\n{}\n", "x".repeat(80)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// fork-exec-wait reports a child's death by signal and a failed execve.
#[test]
fn fork_exec_wait_reports_signals_and_exec_failures() {
    let dir = scratch("fork");
    let g = build("fork-exec-wait").unwrap();
    let exe = install(&dir, "few", &g.elf, 0o755);
    let victim = install(&dir, "victim", &build("priv-hlt").unwrap().elf, 0o755);
    let (out, status) = run(&exe, &[victim.to_str().unwrap()], &dir).unwrap();
    assert_eq!(text(&out), "child killed by signal: 11\n");
    assert_eq!(status, ExitStatus::Exited(0));
    let (out, _) = run(&exe, &[dir.join("nothing").to_str().unwrap()], &dir).unwrap();
    assert_eq!(text(&out), "child exit status: 127\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `tmp/test.txt` present the seed's open succeeds and close(3) too;
/// the program still prints nothing and exits with 0.
#[test]
fn seed_open_close_with_the_file_present() {
    let dir = scratch("open-close");
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("tmp/test.txt"), b"x").unwrap();
    let g = build("seed-open-close").unwrap();
    let exe = install(&dir, "oc", &g.elf, 0o755);
    let (out, status) = run(&exe, &[], &dir).unwrap();
    assert!(out.is_empty());
    assert_eq!(status, ExitStatus::Exited(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A value in a fake audit record: the collector's pid plus an offset, or
/// a constant.
#[derive(Clone, Copy)]
enum V {
    Pid(i32),
    Const(i32),
}

impl V {
    fn gdb(self) -> String {
        match self {
            V::Pid(d) => format!("$pid + {d}"),
            V::Const(c) => c.to_string(),
        }
    }
}

/// Runs `audit-collector` under gdb, which stands in for the seed's kernel
/// module: at the entry of syscall 336 it fills the buffer (RSI) with
/// `records` (syscall, status, pid) and at its exit sets RAX to their
/// count. Returns stdout and whether the program exited with 0, or `None`
/// if gdb is missing or cannot trace.
fn collector_under_gdb(records: &[(u32, V, V)]) -> Option<(String, bool)> {
    if Command::new("gdb").arg("--version").output().is_err() {
        return None;
    }
    let dir = scratch("gdb");
    let g = build("audit-collector").unwrap();
    let exe = install(&dir, "audit-collector", &g.elf, 0o755);
    let out = dir.join("out.txt");
    let mut script = format!(
        "set pagination off\nset confirm off\ncatch syscall 336\nrun > {}\n\
         set $buf = $rsi\nset $pid = $r15\n",
        out.display()
    );
    for (i, (nr, status, pid)) in records.iter().enumerate() {
        let r = format!("($buf + {})", i * 56);
        script += &format!(
            "set *(unsigned int *){r} = {}\nset *(unsigned int *)({r} + 24) = {nr}\n\
             set *(int *)({r} + 28) = {}\nset *(int *)({r} + 32) = {}\n",
            i + 100,
            status.gdb(),
            pid.gdb()
        );
    }
    script += &format!("continue\nset $rax = {}\ncontinue\nquit\n", records.len());
    let script_path = dir.join("drain.gdb");
    std::fs::write(&script_path, script).unwrap();
    let res = Command::new("gdb")
        .args(["-q", "-batch", "-nx", "-x"])
        .arg(&script_path)
        .arg(&exe)
        .current_dir(&dir)
        .output()
        .ok()?;
    let log = text(&res.stdout);
    let stdout = std::fs::read(&out).ok().map(|b| text(&b));
    let _ = std::fs::remove_dir_all(&dir);
    if !log.contains("returned from syscall 336") {
        println!(
            "note: gdb could not trace the collector:\n{log}{}",
            text(&res.stderr)
        );
        return None;
    }
    Some((stdout?, log.contains("exited normally")))
}

/// The collector's record parsing, with gdb playing the seed's module: the
/// 81 own records (with an execve record of its own and two records of
/// another process mixed in) give exactly the recorded expectation; a
/// getpid record with someone else's pid as status prints the number and
/// the short count fails the exit status.
#[test]
fn audit_collector_parses_records_natively() {
    let mut records = vec![(59, V::Const(0), V::Pid(0))];
    for i in 0..81 {
        records.push(match i % 3 {
            0 => (39, V::Pid(0), V::Pid(0)),
            1 => (2, V::Const(-2), V::Pid(0)),
            _ => (3, V::Const(-9), V::Pid(0)),
        });
        if i == 40 {
            records.push((39, V::Pid(1), V::Pid(1)));
        }
    }
    records.push((2, V::Const(-2), V::Pid(7)));
    let Some((out, ok)) = collector_under_gdb(&records) else {
        println!("note: gdb unavailable; skipped");
        return;
    };
    let g = build("audit-collector").unwrap();
    assert_eq!(out, text(&g.expected.stdout));
    assert!(ok);

    let short = [
        (39, V::Const(42), V::Pid(0)),
        (3, V::Const(-9), V::Pid(0)),
        (60, V::Const(0), V::Pid(0)),
    ];
    let (out, ok) = collector_under_gdb(&short).unwrap();
    let header = text(&g.expected.stdout).lines().next().unwrap().to_string();
    assert_eq!(
        out,
        format!("{header}\n[0] getpid = 42\n[1] close = -9\nmatched 2 of 81\n")
    );
    assert!(!ok);
}
