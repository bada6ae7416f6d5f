//! End to end: boot each kernel flavor, run every built-in guest under
//! every mechanism its flavor and vendor support, and check its output and
//! exit status against what the guest records for a real Linux kernel
//! (sysgate-guest-bins checks those expectations natively on the host).

use sysgate::cpu::Vendor;
use sysgate::guests::{self, Arch, CpuNeed, ExitStatus, Guest};
use sysgate::kernel::machine::{Config, Flavor, Machine, Mechanism, Status, Vsyscall32};

fn status(s: Status) -> ExitStatus {
    match s {
        Status::Exited(c) => ExitStatus::Exited(c),
        Status::Signaled(sig) => ExitStatus::Signaled(sig),
    }
}

/// The configurations a guest can run under: (flavor, vendor, vDSO mechanism).
fn configs(g: &Guest) -> Vec<(Flavor, Vendor, Vsyscall32)> {
    let mut v = Vec::new();
    let flavors: &[Flavor] = match g.arch() {
        Arch::X86_64 => &[Flavor::X86_64],
        Arch::I386 => &[Flavor::X86_64, Flavor::I386],
    };
    for &flavor in flavors {
        for vendor in [Vendor::Intel, Vendor::Amd] {
            for vs in [Vsyscall32::Int80, Vsyscall32::Sysenter, Vsyscall32::Syscall] {
                let compat = flavor == Flavor::X86_64;
                let vdso_ok = match vs {
                    Vsyscall32::Int80 => true,
                    Vsyscall32::Sysenter => !(compat && vendor == Vendor::Amd),
                    Vsyscall32::Syscall => compat && vendor == Vendor::Amd,
                };
                let guest_ok = match g.info.cpu {
                    CpuNeed::Any => true,
                    CpuNeed::Sysenter32 => !(compat && vendor == Vendor::Amd),
                    CpuNeed::Syscall32 => compat && vendor == Vendor::Amd,
                };
                if vdso_ok && guest_ok {
                    v.push((flavor, vendor, vs));
                }
            }
        }
    }
    v
}

/// A machine of `flavor`, `vendor` and vDSO mechanism `vs` with `g`
/// loaded, the files it expects and every guest at /bin/NAME.
fn boot(g: &Guest, flavor: Flavor, vendor: Vendor, vs: Vsyscall32) -> Machine {
    let mut m = Machine::new(Config {
        flavor,
        vendor,
        vsyscall32: Some(vs),
        ..Config::default()
    })
    .expect("boots");
    for f in &g.files {
        m.add_file(
            &f.path,
            &f.contents,
            if f.executable { 0o755 } else { 0o644 },
        )
        .expect("file");
    }
    for other in guests::all() {
        let elf = guests::build(other.name).expect("guest").elf;
        m.add_file(&format!("/bin/{}", other.name), &elf, 0o755)
            .expect("install");
    }
    m.spawn(&g.elf, &[g.info.name], &[]).expect("loads");
    m
}

#[test]
fn every_guest_under_every_mechanism() {
    let mut ran = 0;
    for info in guests::all() {
        let g = guests::build(info.name).expect("guest builds");
        for (flavor, vendor, vs) in configs(&g) {
            let mut m = boot(&g, flavor, vendor, vs);
            let st = m
                .run(50_000_000)
                .unwrap_or_else(|e| panic!("{} {flavor:?} {vendor:?} {vs:?}: {e}", info.name));
            let what = format!(
                "{} on {flavor:?}/{vendor:?} with __kernel_vsyscall={vs:?}",
                info.name
            );
            assert_eq!(status(st), g.expected.status, "{what}");
            assert_eq!(m.stdout(), g.expected.stdout, "{what}");
            ran += 1;
        }
    }
    assert!(ran > 60, "only {ran} runs");
}

#[test]
fn stepping_a_guest_gives_what_running_it_gives() {
    // A run serves the system calls that return at once inside the run
    // loop; a step leaves the loop at every hypercall and the machine
    // serves it. Both must give the same calls (results and phase
    // cycles), output, status and counters, under every flavor.
    let mut compared = 0;
    for info in guests::all() {
        let g = guests::build(info.name).expect("guest builds");
        let mut flavors_seen = Vec::new();
        for (flavor, vendor, vs) in configs(&g) {
            if flavors_seen.contains(&flavor) {
                continue;
            }
            flavors_seen.push(flavor);
            let what = format!("{} on {flavor:?}/{vendor:?}/{vs:?}", info.name);
            let mut run = boot(&g, flavor, vendor, vs);
            let run_status = run.run(50_000_000).expect("runs");
            let mut stepped = boot(&g, flavor, vendor, vs);
            let step_status = (0..5_000_000)
                .find_map(|_| stepped.step().expect("steps").finished)
                .unwrap_or_else(|| panic!("{what}: stepping did not finish"));
            assert_eq!(step_status, run_status, "{what}");
            assert_eq!(stepped.stdout(), run.stdout(), "{what}");
            assert_eq!(stepped.events, run.events, "{what}");
            assert_eq!(stepped.vcpu.cpu.cycles, run.vcpu.cpu.cycles, "{what}");
            assert_eq!(
                stepped.vcpu.cpu.instructions, run.vcpu.cpu.instructions,
                "{what}"
            );
            compared += 1;
        }
    }
    assert!(compared > 30, "only {compared} guests compared");
}

#[test]
fn the_same_32_bit_program_agrees_under_every_vdso_mechanism() {
    let g = guests::build("getpid-loop-vsyscall-32").expect("guest");
    let mut calls = Vec::new();
    for (vendor, vs, mech) in [
        (Vendor::Intel, Vsyscall32::Int80, Mechanism::Int80),
        (Vendor::Intel, Vsyscall32::Sysenter, Mechanism::Sysenter),
        (Vendor::Amd, Vsyscall32::Syscall, Mechanism::SyscallCompat),
    ] {
        let mut m = Machine::new(Config {
            flavor: Flavor::X86_64,
            vendor,
            vsyscall32: Some(vs),
            ..Config::default()
        })
        .expect("boots");
        m.spawn(&g.elf, &["getpid"], &[]).expect("loads");
        assert_eq!(m.run(50_000_000).expect("runs"), Status::Exited(0));
        assert!(m.events.iter().all(|e| e.mechanism == mech), "{vs:?}");
        calls.push(
            m.events
                .iter()
                .map(|e| (e.nr, e.args, e.ret))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(calls[0], calls[1]);
    assert_eq!(calls[0], calls[2]);
}

#[test]
fn compat_mechanisms_missing_on_a_vendor_kill_with_sigill() {
    // SYSENTER from compatibility mode is #UD on AMD, SYSCALL on Intel:
    // Linux delivers SIGILL.
    for (name, vendor) in [
        ("hello-sysenter-32", Vendor::Amd),
        ("hello-syscall-32", Vendor::Intel),
    ] {
        let g = guests::build(name).expect("guest");
        let mut m = Machine::new(Config {
            flavor: Flavor::X86_64,
            vendor,
            ..Config::default()
        })
        .expect("boots");
        m.spawn(&g.elf, &[name], &[]).expect("loads");
        assert_eq!(
            m.run(1_000_000).expect("runs"),
            Status::Signaled(4),
            "{name}"
        );
    }
}

#[test]
fn the_same_32_bit_program_leaves_the_same_audit_records_under_every_mechanism() {
    // A 32-bit program calling through __kernel_vsyscall with int80,
    // sysenter (Intel) and syscall (AMD): the output and the audit records
    // agree apart from the mechanism, the timestamps and the cycles.
    let g = guests::build("hello-vsyscall-32").expect("guest");
    let mut runs = Vec::new();
    for (vendor, vs) in [
        (Vendor::Intel, Vsyscall32::Int80),
        (Vendor::Intel, Vsyscall32::Sysenter),
        (Vendor::Amd, Vsyscall32::Syscall),
    ] {
        let mut m = Machine::new(Config {
            flavor: Flavor::X86_64,
            vendor,
            vsyscall32: Some(vs),
            ..Config::default()
        })
        .expect("boots");
        m.personality
            .audit
            .set_filter(sysgate::kernel::audit::AuditFilter::All);
        m.spawn(&g.elf, &["hello-vsyscall-32"], &[]).expect("loads");
        assert_eq!(m.run(1_000_000).expect("runs"), Status::Exited(0));
        assert_eq!(m.stdout(), b"Hello, world!\n");
        let recs: Vec<_> = m
            .personality
            .audit
            .records()
            .map(|r| {
                (
                    r.serial,
                    r.nr,
                    r.name.clone(),
                    r.args.clone(),
                    r.ret,
                    r.pid,
                    r.uid,
                    r.comm,
                    r.result.clone(),
                )
            })
            .collect();
        let mechs: Vec<_> = m.personality.audit.records().map(|r| r.mechanism).collect();
        runs.push((recs, mechs));
    }
    assert!(
        runs[0].0.iter().any(|r| r.2 == "write" && r.4 == 14),
        "{:?}",
        runs[0].0
    );
    assert_eq!(runs[0].0, runs[1].0);
    assert_eq!(runs[0].0, runs[2].0);
    use sysgate::kernel::audit::EntryMechanism as E;
    assert!(runs[0].1.iter().all(|m| *m == E::Int80));
    assert!(runs[1].1.iter().all(|m| *m == E::Sysenter));
    assert!(runs[2].1.iter().all(|m| *m == E::SyscallCompat));
}
