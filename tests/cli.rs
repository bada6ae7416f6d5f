//! The `sysgate` command line: the seed's strace lines, exit statuses, the
//! comparison table, and one-line errors for bad input.

use std::process::Command;

fn sysgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sysgate"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn strace_of_the_seed_program_prints_the_seed_lines() {
    for kernel in ["x86_64", "i386"] {
        let prog = if kernel == "i386" {
            "seed-open-close-32"
        } else {
            "seed-open-close"
        };
        let (code, out, err) = sysgate(&["run", "--kernel", kernel, "--strace", prog]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "");
        assert!(
            err.contains(
                "open(\"tmp/test.txt\", O_RDONLY) = -1 ENOENT (No such file or directory)\n"
            ),
            "{err}"
        );
        assert!(
            err.contains("close(-1) = -1 EBADF (Bad file descriptor)\n"),
            "{err}"
        );
    }
}

#[test]
fn guest_output_and_status_pass_through() {
    let (code, out, _) = sysgate(&["run", "hello-vsyscall-32"]);
    assert_eq!((code, out.as_str()), (0, "Hello, world!\n"));
    let (code, out, _) = sysgate(&["run", "fork-exec-wait"]);
    assert_eq!(code, 0);
    assert_eq!(out, "Hello, world!\nchild exit status: 0\n");
    // SWAPGS at CPL 3: #GP, SIGSEGV, 128 + 11.
    let (code, out, _) = sysgate(&["run", "priv-swapgs"]);
    assert_eq!((code, out.as_str()), (139, ""));
}

#[test]
fn compare_prints_cycles_per_system_call_for_each_mechanism() {
    let (code, out, err) = sysgate(&["compare", "--iterations", "200"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    for mech in ["syscall", "syscall32", "int80", "sysenter"] {
        assert!(rows.iter().any(|r| r.starts_with(mech)), "{out}");
    }
    for r in rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        let per_call: u64 = cols[6].parse().expect("cycles per syscall");
        assert!(per_call > 0, "{r}");
        assert_eq!(cols[3], "201", "200 getpid calls and exit_group: {r}");
    }
}

#[test]
fn bad_input_is_a_one_line_error() {
    for args in [
        &["run", "no-such-guest"][..],
        &["run", "--kernel", "sparc", "hello-syscall64"],
        &["run", "--profile", "nehalem", "hello-syscall64"],
        &["run", "--kernel", "i386", "hello-syscall64"],
        &["frobnicate"],
    ] {
        let (code, out, err) = sysgate(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "");
        assert!(!err.contains("panicked"), "{err}");
    }
    let dir = std::env::temp_dir().join(format!("sysgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let junk = dir.join("junk.elf");
    std::fs::write(&junk, b"\x7fELF\x02\x01\x01garbage").expect("write");
    let (code, _, err) = sysgate(&["run", junk.to_str().expect("path")]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A task is named after the file `execve` was given, as Linux's
/// `__set_task_comm(kbasename(bprm->filename))` does: busybox's shell runs
/// the `wc` applet through `execve("/proc/self/exe", ["wc", ...])`, so
/// that process is "exe" while its parent stays "busybox".
#[test]
fn exec_names_the_task_after_the_file_not_argv0() {
    let bin = std::path::Path::new("/bin/busybox");
    assert!(
        bin.exists(),
        "/bin/busybox is missing (scripts/test.sh installs it)"
    );
    let dir = std::env::temp_dir().join(format!("sysgate-cli-comm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let audit = dir.join("audit.jsonl");
    let (code, out, err) = sysgate(&[
        "run",
        "--audit",
        audit.to_str().expect("utf-8 path"),
        "/bin/busybox",
        "sh",
        "-c",
        "echo x | wc -c",
    ]);
    assert_eq!((code, out.as_str()), (0, "2\n"), "stderr: {err}");
    let log = std::fs::read_to_string(&audit).expect("audit log");
    let _ = std::fs::remove_dir_all(&dir);
    let comm_of = |name: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("\"name\":\"{name}\"")))
            .filter_map(|l| {
                let rest = &l[l.find("\"comm\":\"")? + 8..];
                Some(rest[..rest.find('"')?].to_string())
            })
            .collect::<Vec<_>>()
    };
    // The shell execs wc; its exit_group is the exec'd process's.
    let exits = comm_of("exit_group");
    assert!(
        exits.contains(&"exe".to_string()),
        "exit_group comms: {exits:?}"
    );
    assert!(
        exits.contains(&"busybox".to_string()),
        "exit_group comms: {exits:?}"
    );
}
