//! Per-system-call phase attribution: the phases of every call sum to the
//! cycles the call took (measured independently by single-stepping), each
//! phase is non-zero where the path has code for it, runs are repeatable,
//! the handler's estimate is on the CPU's clock, and `sysgate compare`
//! shows the phases.

use std::process::Command;

use sysgate::cpu::{TransitionKind, Vendor};
use sysgate::guests::{self, Arch, Mechanism as GuestMech};
use sysgate::kernel::audit::AuditFilter;
use sysgate::kernel::console::Console;
use sysgate::kernel::machine::phases::{HANDLER_BASE_CYCLES, handler_cycles};
use sysgate::kernel::machine::{
    Config, Flavor, Machine, Mechanism, Observer, PhaseCycles, Status, SyscallEvent, Vsyscall32,
};

/// One way of entering the kernel: kernel flavor, vendor, guest arch and
/// mechanism, `__kernel_vsyscall`'s mechanism, and whether the guest goes
/// through the vDSO.
#[derive(Clone, Copy, Debug)]
struct Path {
    label: &'static str,
    flavor: Flavor,
    vendor: Vendor,
    arch: Arch,
    mech: GuestMech,
    vsyscall: Vsyscall32,
    mechanism: Mechanism,
}

const PATHS: &[Path] = &[
    Path {
        label: "syscall64",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::X86_64,
        mech: GuestMech::Syscall,
        vsyscall: Vsyscall32::Sysenter,
        mechanism: Mechanism::Syscall64,
    },
    Path {
        label: "int80 from 64-bit code",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::X86_64,
        mech: GuestMech::Int80,
        vsyscall: Vsyscall32::Sysenter,
        mechanism: Mechanism::Int80,
    },
    Path {
        label: "int80 compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Int80,
        vsyscall: Vsyscall32::Int80,
        mechanism: Mechanism::Int80,
    },
    Path {
        label: "int80 i386",
        flavor: Flavor::I386,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Int80,
        vsyscall: Vsyscall32::Int80,
        mechanism: Mechanism::Int80,
    },
    Path {
        label: "vsyscall int80 i386",
        flavor: Flavor::I386,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Int80,
        mechanism: Mechanism::Int80,
    },
    Path {
        label: "vsyscall sysenter compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Sysenter,
        mechanism: Mechanism::Sysenter,
    },
    Path {
        label: "vsyscall sysenter i386",
        flavor: Flavor::I386,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Sysenter,
        mechanism: Mechanism::Sysenter,
    },
    Path {
        label: "vsyscall syscall32 compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Amd,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Syscall,
        mechanism: Mechanism::SyscallCompat,
    },
    Path {
        label: "local syscall32 stub compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Amd,
        arch: Arch::I386,
        mech: GuestMech::Syscall,
        vsyscall: Vsyscall32::Syscall,
        mechanism: Mechanism::SyscallCompat,
    },
    Path {
        label: "local sysenter stub i386",
        flavor: Flavor::I386,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Sysenter,
        vsyscall: Vsyscall32::Sysenter,
        mechanism: Mechanism::Sysenter,
    },
];

fn machine(p: &Path, elf: &[u8], console: Console) -> Machine {
    let mut m = Machine::with_console(
        Config {
            flavor: p.flavor,
            vendor: p.vendor,
            vsyscall32: Some(p.vsyscall),
            ..Config::default()
        },
        console,
    )
    .expect("boots");
    m.spawn(elf, &["phases"], &[]).expect("loads");
    m
}

fn getpid_machine(p: &Path, n: u32) -> Machine {
    let g = guests::getpid_loop(p.arch, p.mech, n).expect("guest exists");
    machine(p, &g.elf, Console::null())
}

/// The getpid calls of a run (x86_64 39, i386 20).
fn getpids(m: &Machine) -> Vec<&SyscallEvent> {
    m.events
        .iter()
        .filter(|e| e.nr == 39 || e.nr == 20)
        .collect()
}

/// Runs the machine one instruction at a time and measures each system
/// call from outside: from the first instruction of its user stub (the
/// instruction after the `call` into the vDSO, for calls made through
/// `__kernel_vsyscall`) or its entry instruction, to the end of the
/// instruction that returned to CPL 3. Also returns the entry and exit
/// instructions' own cycles.
fn stepped_round_trips(m: &mut Machine) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut after_call: Option<u64> = None;
    let mut start = None;
    let mut hw_entry = 0;
    for _ in 0..1_000_000 {
        let ip = m.vcpu.cpu.rip;
        let cpl = m.vcpu.cpu.cpl();
        let s = m.step().expect("steps");
        if let Some(t) = &s.event.transition {
            let (is_entry, is_exit) = kinds(t);
            if is_entry {
                let in_vdso = (VDSO..VDSO + 0x1000).contains(&ip);
                // Page walks the block caused are charged when it ends,
                // before its transition: they are the user code's.
                start = Some(if in_vdso {
                    after_call.expect("the vDSO is reached by a call")
                } else {
                    m.vcpu.cpu.cycles - t.cycles
                });
                hw_entry = t.cycles;
            }
            if is_exit && let Some(st) = start.take() {
                out.push((m.vcpu.cpu.cycles - st, hw_entry, t.cycles));
            }
        }
        let is_call = s
            .event
            .instruction
            .is_some_and(|i| i.mnemonic() == iced_x86::Mnemonic::Call);
        if cpl == 3 && is_call {
            after_call = Some(m.vcpu.cpu.cycles);
        }
        if s.finished.is_some() {
            return out;
        }
    }
    panic!("the guest did not finish");
}

/// An observer that measures every round trip from outside with
/// per-instruction cycle counts (the same blocks and costs as an
/// untraced run): from the first instruction of the user stub (the
/// instruction after the `call` into the vDSO) or the entry instruction,
/// to the end of the instruction that returned to CPL 3.
#[derive(Default)]
struct Meter {
    call_pending: bool,
    after_call: u64,
    start: Option<u64>,
    hw_entry: u64,
    trips: Vec<(u64, u64, u64)>,
}

impl sysgate::cpu::Tracer for Meter {
    const PER_INSTRUCTION: bool = true;

    fn instruction(&mut self, cpu: &sysgate::cpu::Cpu, insn: &sysgate::cpu::Insn) {
        if std::mem::take(&mut self.call_pending) {
            self.after_call = cpu.cycles;
        }
        self.call_pending = cpu.cpl() == 3 && insn.ins.mnemonic() == iced_x86::Mnemonic::Call;
    }

    fn transition(&mut self, cpu: &sysgate::cpu::Cpu, t: &sysgate::cpu::Transition) {
        let (entry, exit) = kinds(t);
        if entry {
            let in_vdso = (VDSO..VDSO + 0x1000).contains(&t.from.offset);
            self.start = Some(if in_vdso {
                self.after_call
            } else {
                cpu.cycles - t.cycles
            });
            self.hw_entry = t.cycles;
        }
        if exit && let Some(st) = self.start.take() {
            self.trips.push((cpu.cycles - st, self.hw_entry, t.cycles));
        }
    }
}

impl Observer for Meter {}

/// Where the machine maps the 32-bit vDSO.
const VDSO: u64 = 0xF7FF_0000;

/// Whether a transition enters the kernel for a system call, or returns
/// from the kernel to user mode.
fn kinds(t: &sysgate::cpu::Transition) -> (bool, bool) {
    let entry = matches!(
        t.kind,
        TransitionKind::Syscall
            | TransitionKind::Sysenter
            | TransitionKind::SoftwareInterrupt { vector: 0x80 }
    ) && t.cpl_before == 3;
    let exit = matches!(
        t.kind,
        TransitionKind::Sysret | TransitionKind::Sysexit | TransitionKind::Iret
    ) && t.cpl_before == 0
        && t.cpl_after == 3;
    (entry, exit)
}

fn check_trips(label: &str, calls: &[&SyscallEvent], trips: &[(u64, u64, u64)]) {
    // The getpid calls are the first calls of the loop; exit_group, last,
    // never returns.
    assert_eq!(trips.len(), calls.len(), "{label}: {trips:?}");
    for (e, (total, hw_entry, hw_exit)) in calls.iter().zip(trips) {
        let c = e.cycles;
        assert_eq!(c.total(), *total, "{label}: {c:?}");
        assert_eq!(c.hw_entry, *hw_entry, "{label}: {c:?}");
        assert_eq!(c.hw_exit, *hw_exit, "{label}: {c:?}");
    }
}

#[test]
fn phases_sum_to_each_calls_cycles() {
    for p in PATHS {
        // Measured from outside, per instruction, in a normal run.
        let mut m = getpid_machine(p, 5);
        let mut meter = Meter::default();
        assert_eq!(
            m.run_with(1_000_000, &mut meter).unwrap(),
            Status::Exited(0)
        );
        let calls = getpids(&m);
        assert_eq!(calls.len(), 5, "{}", p.label);
        assert!(
            calls.iter().all(|e| e.mechanism == p.mechanism),
            "{}",
            p.label
        );
        check_trips(p.label, &calls, &meter.trips);
        // An untraced run attributes the same phases.
        let mut plain = getpid_machine(p, 5);
        plain.run(1_000_000).unwrap();
        assert_eq!(getpids(&plain), calls, "{}", p.label);
        // Single-stepping with Machine::step: the phases sum to what the
        // steps themselves charged.
        let mut stepped = getpid_machine(p, 5);
        let trips = stepped_round_trips(&mut stepped);
        check_trips(p.label, &getpids(&stepped), &trips);
    }
}

#[test]
fn identical_phases_across_runs() {
    for p in PATHS {
        let mut a = getpid_machine(p, 20);
        a.run(1_000_000).unwrap();
        let mut b = getpid_machine(p, 20);
        b.run(1_000_000).unwrap();
        assert_eq!(a.events, b.events, "{}", p.label);
        // Once the first calls' page walks have filled the TLB, every
        // getpid of a loop costs the same.
        let calls = getpids(&a);
        assert!(
            calls[10..].windows(2).all(|w| w[0].cycles == w[1].cycles),
            "{}",
            p.label
        );
    }
}

#[test]
fn each_phase_is_non_zero_where_the_path_has_code_for_it() {
    for p in PATHS {
        let mut m = getpid_machine(p, 3);
        m.run(1_000_000).expect("runs");
        for e in getpids(&m) {
            let c = e.cycles;
            let through_vdso = p.mech == GuestMech::Vsyscall;
            assert_eq!(
                c.user_stub > 0,
                through_vdso,
                "{}: user stub only through __kernel_vsyscall: {c:?}",
                p.label
            );
            assert!(c.hw_entry > 0, "{}: {c:?}", p.label);
            assert!(c.entry_stub > 0, "{}: {c:?}", p.label);
            assert_eq!(c.handler, HANDLER_BASE_CYCLES, "{}: {c:?}", p.label);
            assert!(c.exit_stub > 0, "{}: {c:?}", p.label);
            assert!(c.hw_exit > 0, "{}: {c:?}", p.label);
        }
    }
}

#[test]
fn a_direct_syscall_has_no_user_stub_and_vsyscall_has_one() {
    let direct = PATHS.iter().find(|p| p.label == "syscall64").unwrap();
    let mut m = getpid_machine(direct, 2);
    m.run(1_000_000).unwrap();
    assert!(getpids(&m).iter().all(|e| e.cycles.user_stub == 0));
    let vdso = PATHS
        .iter()
        .find(|p| p.label == "vsyscall sysenter compat")
        .unwrap();
    let mut m = getpid_machine(vdso, 2);
    m.run(1_000_000).unwrap();
    assert!(getpids(&m).iter().all(|e| e.cycles.user_stub > 0));
}

#[test]
fn the_handler_estimate_counts_copied_bytes_and_is_on_the_clock() {
    for p in PATHS {
        let elf = guests::write_loop(p.arch, p.mech, 3, 4096).expect("write loop");
        let (console, captured) = Console::capture(b"");
        let mut m = machine(p, &elf, console);
        assert_eq!(m.run(1_000_000).unwrap(), Status::Exited(0), "{}", p.label);
        assert_eq!(captured.stdout(), vec![0u8; 3 * 4096], "{}", p.label);
        let writes: Vec<_> = m.events.iter().filter(|e| e.ret == Some(4096)).collect();
        assert_eq!(writes.len(), 3, "{}", p.label);
        for e in writes {
            assert_eq!(e.cycles.handler, handler_cycles(4096), "{}", p.label);
            assert!(e.cycles.handler > HANDLER_BASE_CYCLES);
        }
    }
}

#[test]
fn the_handler_estimate_is_on_the_cpus_clock() {
    // Two loops that differ by one getpid call differ in total cycles by
    // one round trip (phases, handler included) plus the loop's own
    // instructions (test, js, dec, jne: one cycle each in every profile
    // so far, checked as "at least the round trip").
    let p = &PATHS[0];
    let mut a = getpid_machine(p, 4);
    a.run(1_000_000).unwrap();
    let mut b = getpid_machine(p, 5);
    b.run(1_000_000).unwrap();
    let trip = getpids(&b)[4].cycles.total();
    let delta = b.vcpu.cpu.cycles - a.vcpu.cpu.cycles;
    assert!(delta >= trip, "{delta} < {trip}");
    assert!(delta < trip + 50, "{delta} vs {trip}");
    let handlers: u64 = a.events.iter().map(|e| e.cycles.handler).sum();
    assert_eq!(handlers, 5 * HANDLER_BASE_CYCLES); // 4 getpid + exit_group
}

#[test]
fn audit_records_carry_the_phases_of_their_calls() {
    for p in PATHS {
        let mut m = getpid_machine(p, 3);
        m.personality.audit.set_filter(AuditFilter::All);
        m.run(1_000_000).unwrap();
        let recs: Vec<PhaseCycles> = m
            .personality
            .audit
            .records()
            .filter(|r| r.name == "getpid")
            .map(|r| r.cycles)
            .collect();
        let evs: Vec<PhaseCycles> = getpids(&m).iter().map(|e| e.cycles).collect();
        assert_eq!(recs, evs, "{}", p.label);
        assert!(recs.iter().all(|c| c.hw_exit > 0), "{}", p.label);
        // exit_group never returns: its record has the entry side and the
        // handler only.
        let exit = m
            .personality
            .audit
            .records()
            .find(|r| r.name == "exit_group")
            .expect("exit_group audited");
        assert!(exit.cycles.entry_stub > 0 && exit.cycles.handler > 0);
        assert_eq!((exit.cycles.exit_stub, exit.cycles.hw_exit), (0, 0));
    }
}

/// An observer collecting what the machine reports about system calls.
#[derive(Default)]
struct Calls {
    dispatched: Vec<PhaseCycles>,
    returned: Vec<(u64, PhaseCycles)>,
}

impl sysgate::cpu::Tracer for Calls {
    const PER_INSTRUCTION: bool = false;
}

impl Observer for Calls {
    fn syscall(&mut self, _cycle: u64, e: &SyscallEvent) {
        self.dispatched.push(e.cycles);
    }
    fn syscall_returned(&mut self, cycle: u64, e: &SyscallEvent) {
        self.returned.push((cycle, e.cycles));
    }
}

#[test]
fn observers_see_the_entry_side_at_dispatch_and_every_phase_on_return() {
    let p = &PATHS[0];
    let mut m = getpid_machine(p, 3);
    let mut calls = Calls::default();
    m.run_with(1_000_000, &mut calls).unwrap();
    assert_eq!(calls.dispatched.len(), 4); // 3 getpid + exit_group
    assert_eq!(calls.returned.len(), 3);
    for (d, (_, r)) in calls.dispatched.iter().zip(&calls.returned) {
        assert_eq!((d.exit_stub, d.hw_exit), (0, 0));
        assert_eq!(
            (d.user_stub, d.hw_entry, d.entry_stub, d.handler),
            (r.user_stub, r.hw_entry, r.entry_stub, r.handler)
        );
        assert!(r.exit_stub > 0 && r.hw_exit > 0);
    }
    // The same phases whatever the observer: Machine::run agrees.
    let mut plain = getpid_machine(p, 3);
    plain.run(1_000_000).unwrap();
    let evs: Vec<PhaseCycles> = getpids(&plain).iter().map(|e| e.cycles).collect();
    let ret: Vec<PhaseCycles> = calls.returned.iter().map(|r| r.1).collect();
    assert_eq!(evs, ret);
}

#[test]
fn without_kept_events_observers_and_the_audit_log_still_see_every_call() {
    for p in PATHS {
        let mut kept = getpid_machine(p, 5);
        kept.personality.audit.set_filter(AuditFilter::All);
        kept.run(1_000_000).unwrap();
        let mut m = getpid_machine(p, 5);
        m.keep_events = false;
        m.personality.audit.set_filter(AuditFilter::All);
        let mut calls = Calls::default();
        assert_eq!(
            m.run_with(1_000_000, &mut calls).unwrap(),
            Status::Exited(0)
        );
        assert!(m.events.is_empty(), "{}", p.label);
        let want: Vec<PhaseCycles> = kept.events.iter().map(|e| e.cycles).collect();
        let got: Vec<PhaseCycles> = calls.returned.iter().map(|r| r.1).collect();
        assert_eq!(got, want[..5], "{}", p.label);
        assert_eq!(calls.dispatched.len(), 6, "{}", p.label);
        let audit = |m: &Machine| -> Vec<PhaseCycles> {
            m.personality.audit.records().map(|r| r.cycles).collect()
        };
        assert_eq!(audit(&m), audit(&kept), "{}", p.label);
        // Stepping without kept events still reports each call.
        let mut s = getpid_machine(p, 2);
        s.keep_events = false;
        let mut seen = 0;
        loop {
            let st = s.step().unwrap();
            seen += usize::from(st.syscall.is_some());
            if st.finished.is_some() {
                break;
            }
        }
        assert_eq!(seen, 3, "{}", p.label);
        assert!(s.events.is_empty());
    }
}

#[test]
fn a_run_stopped_inside_the_vdso_stub_keeps_its_start() {
    // Instruction budgets that stop the run at every point of the loop
    // (including inside __kernel_vsyscall) give the same phases as one
    // uninterrupted run.
    let p = PATHS
        .iter()
        .find(|p| p.label == "vsyscall sysenter i386")
        .unwrap();
    let mut whole = getpid_machine(p, 3);
    whole.run(1_000_000).unwrap();
    for budget in 1..12 {
        let mut m = getpid_machine(p, 3);
        let status = loop {
            match m.run(budget) {
                Ok(s) => break s,
                Err(sysgate::kernel::machine::KernelError::Limit) => continue,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(status, Status::Exited(0));
        assert_eq!(getpids(&m), getpids(&whole), "budget {budget}");
    }
}

#[test]
fn compare_prints_the_phase_columns() {
    let out = Command::new(env!("CARGO_BIN_EXE_sysgate"))
        .args(["compare", "--iterations", "50"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let want = [
        "user-stub",
        "hw-entry",
        "entry-stub",
        "handler",
        "exit-stub",
        "hw-exit",
    ];
    let at: Vec<usize> = want
        .iter()
        .map(|w| header.iter().position(|h| h == w).expect(w))
        .collect();
    let syscalls = header.iter().position(|h| *h == "syscalls").unwrap();
    let cycles = header.iter().position(|h| *h == "cycles").unwrap();
    let mut rows = 0;
    for line in lines {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let phases: Vec<u64> = at.iter().map(|&k| cols[k].parse().unwrap()).collect();
        assert!(phases[1..].iter().all(|&v| v > 0), "{line}");
        // The phases of the returning calls never exceed the run's cycles
        // (which add the guest's loop and its exit_group).
        let sum: u64 = phases.iter().sum();
        let calls: u64 = cols[syscalls].parse().unwrap();
        let whole: u64 = cols[cycles].parse().unwrap();
        assert!(sum * (calls - 1) <= whole, "{line}");
        let vdso = matches!(cols[0], "syscall32" | "sysenter");
        assert_eq!(phases[0] > 0, vdso, "{line}");
        rows += 1;
    }
    assert_eq!(rows, 6);
}
