//! Every built-in guest assembles into a valid static ELF executable, and
//! the registry and public API are consistent.

#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::collections::HashSet;

use sysgate_guest_bins::elf::{Class, ElfFile, Kind, PF_X};
use sysgate_guest_bins::{
    Arch, Error, ExitStatus, Mechanism, all, build, getpid_loop, hello, program,
};

#[test]
fn every_program_builds_a_valid_elf() {
    let infos = all();
    assert!(infos.len() >= 30, "{} programs", infos.len());
    for info in infos {
        let g = build(info.name).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(g.info, info);
        let f = ElfFile::parse(&g.elf).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        f.validate()
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let class = match info.arch {
            Arch::X86_64 => Class::Elf64,
            Arch::I386 => Class::Elf32,
        };
        assert_eq!(f.class, class, "{}", info.name);
        assert_eq!(
            f.kind,
            if info.pie { Kind::Dyn } else { Kind::Exec },
            "{}",
            info.name
        );
        let text = f
            .segments
            .iter()
            .find(|s| s.is_load() && s.flags & PF_X != 0)
            .unwrap();
        assert!(f.entry >= text.vaddr && f.entry < text.vaddr + text.filesz);
        assert!(
            g.elf.len() < 16 * 1024,
            "{} is {} bytes",
            info.name,
            g.elf.len()
        );
        assert!(!info.description.is_empty());
    }
}

#[test]
fn names_are_unique_and_lookups_agree() {
    let infos = all();
    let names: HashSet<_> = infos.iter().map(|i| i.name).collect();
    assert_eq!(names.len(), infos.len());
    for required in [
        "hello-syscall64",
        "hello-int80-64",
        "hello-int80-32",
        "hello-sysenter-32",
        "hello-vsyscall-32",
        "getpid-loop-syscall64",
        "getpid-loop-int80-32",
        "seed-open-close",
        "seed-open-close-32",
        "seed-int80-open-read",
        "audit-collector",
        "fork-exec-wait",
        "priv-hlt",
        "priv-wrmsr",
        "priv-swapgs",
        "priv-sysret",
        "priv-mov-cr3",
        "priv-cli",
    ] {
        assert!(names.contains(required), "{required} missing");
    }
    assert!(program("no-such-program").is_none());
    assert_eq!(
        build("no-such-program"),
        Err(Error::UnknownProgram("no-such-program".into()))
    );
}

#[test]
fn builds_are_deterministic() {
    for info in all() {
        assert_eq!(build(info.name).unwrap().elf, build(info.name).unwrap().elf);
    }
}

#[test]
fn arch_mechanism_variants() {
    let mechs = [
        Mechanism::Syscall,
        Mechanism::Int80,
        Mechanism::Sysenter,
        Mechanism::Vsyscall,
    ];
    for arch in [Arch::X86_64, Arch::I386] {
        for mech in mechs {
            let exists = !(arch == Arch::X86_64
                && matches!(mech, Mechanism::Sysenter | Mechanism::Vsyscall));
            let h = hello(arch, mech);
            assert_eq!(h.is_some(), exists, "{arch:?} {mech:?}");
            if let Some(h) = h {
                assert_eq!((h.arch(), h.mechanism()), (arch, mech));
                assert_eq!(h.expected.stdout, b"Hello, world!\n");
            }
            let l = getpid_loop(arch, mech, 7);
            assert_eq!(l.is_some(), exists, "{arch:?} {mech:?}");
            if let Some(l) = l {
                assert_eq!((l.arch(), l.mechanism()), (arch, mech));
                assert_eq!(l.expected.status, ExitStatus::Exited(0));
                ElfFile::parse(&l.elf).unwrap().validate().unwrap();
            }
        }
    }
    // The iteration count changes the code, not the layout rules.
    let a = getpid_loop(Arch::X86_64, Mechanism::Syscall, 1).unwrap();
    let b = getpid_loop(Arch::X86_64, Mechanism::Syscall, 100_000).unwrap();
    assert_ne!(a.elf, b.elf);
    assert!(getpid_loop(Arch::I386, Mechanism::Int80, 0).is_some());
}

#[test]
fn expectations_are_recorded() {
    for info in all() {
        let g = build(info.name).unwrap();
        if info.name.starts_with("priv-") {
            assert_eq!(g.expected.status, ExitStatus::Signaled(11));
            assert_eq!(g.expected.status.shell_code(), 139);
            assert!(g.expected.stdout.is_empty());
        }
    }
    let fe = build("fork-exec-wait").unwrap();
    assert_eq!(fe.files.len(), 1);
    assert_eq!(fe.files[0].path, "/bin/hello-syscall64");
    assert_eq!(fe.files[0].contents, build("hello-syscall64").unwrap().elf);
    let rd = build("seed-int80-open-read").unwrap();
    assert_eq!(rd.expected.stdout, b"4\n111\n\n");
    assert_eq!(rd.files[0].path, "/tmp/test");
    let ac = build("audit-collector").unwrap();
    let text = String::from_utf8(ac.expected.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + 81 + 1);
    assert!(text.ends_with("[80] close = -9\nmatched 81 of 81\n"));
    assert!(ac.stock_linux.is_some());
}

/// `readelf -a` reads every guest without a warning (skipped without
/// binutils).
#[test]
fn readelf_reads_every_guest_cleanly() {
    if std::process::Command::new("readelf")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("note: readelf not found; skipping");
        return;
    }
    let dir =
        std::env::temp_dir().join(format!("sysgate-guest-bins-readelf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for info in all() {
        let path = dir.join(info.name);
        std::fs::write(&path, build(info.name).unwrap().elf).unwrap();
        let out = std::process::Command::new("readelf")
            .args(["-a", "-W"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "{}: {err}",
            info.name
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("GNU_STACK") && text.contains(".text"),
            "{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `objdump -d` decodes the text of every guest (skipped without binutils).
#[test]
fn objdump_disassembles_the_text() {
    if std::process::Command::new("objdump")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("note: objdump not found; skipping");
        return;
    }
    let dir =
        std::env::temp_dir().join(format!("sysgate-guest-bins-objdump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "hello-syscall64",
        "hello-sysenter-32",
        "hello-pie-32",
        "priv-sysret",
    ] {
        let g = build(name).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &g.elf).unwrap();
        let out = std::process::Command::new("objdump")
            .arg("-d")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Disassembly of section .text"), "{text}");
        assert!(!text.contains("(bad)"), "{text}");
        let needle = match name {
            "hello-syscall64" | "hello-pie64" => "syscall",
            "hello-sysenter-32" => "sysenter",
            "hello-pie-32" => "int    $0x80",
            _ => "sysret",
        };
        assert!(text.contains(needle), "{name}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
