//! System-call entry mechanisms compared: a `getpid` round trip and a
//! 4 KiB `write` through every mechanism and kernel flavor, measured twice:
//!
//! - `entry-cycles/*`: **modeled cycles per call**, through a custom
//!   criterion [`Measurement`] ([`ModeledCycles`]) whose values are modeled
//!   cycles, not time. Each sample runs a guest that makes `iters` calls and
//!   reports the sum of their phases ([`PhaseCycles::total`]: user stub,
//!   hardware entry, entry stub, handler estimate, exit stub, hardware
//!   exit), so the guest's own loop instructions and its start and exit
//!   are not counted (the phases come through an [`Observer`]). The count
//!   is deterministic: criterion's spread is only the first calls' page
//!   walks.
//! - `entry-host/*`: **host time per emulated system call** (wall clock):
//!   each sample boots a machine outside the timed region and times
//!   [`Machine::run`] of a guest making `iters` calls (the few guest
//!   instructions of the loop included); throughput is in calls per second.
//!
//! Writes go to a console that discards its output ([`Console::null`]), so
//! the sink costs nothing and memory does not grow; the handler still
//! copies the 4 KiB from guest memory (and is charged for it).
//!
//! `cargo bench --bench entry` runs both; `cargo bench --bench entry --
//! getpid` only the getpid rows.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sysgate::cpu::Tracer;
use sysgate::cpu::Vendor;
use sysgate::guests::{self, Arch, Mechanism as GuestMech};
use sysgate::kernel::audit::AuditFilter;
use sysgate::kernel::console::Console;
use sysgate::kernel::machine::{
    Config, Flavor, Machine, Observer, Status, SyscallEvent, Vsyscall32,
};

/// One entry path: how a guest of an arch enters a kernel flavor.
struct Path {
    name: &'static str,
    flavor: Flavor,
    vendor: Vendor,
    arch: Arch,
    mech: GuestMech,
    vsyscall: Vsyscall32,
}

/// Every mechanism and flavor: SYSCALL from 64-bit code, `int $0x80` from
/// 32-bit code under both kernels, SYSENTER (Intel) and SYSCALL (AMD)
/// from 32-bit code through `__kernel_vsyscall`.
const PATHS: &[Path] = &[
    Path {
        name: "syscall64",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::X86_64,
        mech: GuestMech::Syscall,
        vsyscall: Vsyscall32::Sysenter,
    },
    Path {
        name: "int80-compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Int80,
        vsyscall: Vsyscall32::Int80,
    },
    Path {
        name: "int80-i386",
        flavor: Flavor::I386,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Int80,
        vsyscall: Vsyscall32::Int80,
    },
    Path {
        name: "sysenter-compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Sysenter,
    },
    Path {
        name: "sysenter-i386",
        flavor: Flavor::I386,
        vendor: Vendor::Intel,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Sysenter,
    },
    Path {
        name: "syscall32-compat",
        flavor: Flavor::X86_64,
        vendor: Vendor::Amd,
        arch: Arch::I386,
        mech: GuestMech::Vsyscall,
        vsyscall: Vsyscall32::Syscall,
    },
];

/// What each call does.
#[derive(Clone, Copy)]
enum Call {
    Getpid,
    /// `write(1, buf, 4096)`.
    Write4k,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Getpid => "getpid",
            Call::Write4k => "write-4k",
        }
    }
}

/// A booted machine with a guest that makes `n` calls, ready to run.
fn machine(p: &Path, call: Call, n: u64) -> Machine {
    let n = u32::try_from(n).expect("at most 2^32-1 calls per sample");
    let elf = match call {
        Call::Getpid => guests::getpid_loop(p.arch, p.mech, n).map(|g| g.elf),
        Call::Write4k => guests::write_loop(p.arch, p.mech, n, 4096),
    }
    .expect("the guest exists");
    let mut m = Machine::with_console(
        Config {
            flavor: p.flavor,
            vendor: p.vendor,
            vsyscall32: Some(p.vsyscall),
            ..Config::default()
        },
        Console::null(),
    )
    .expect("boots");
    // The seed's audit filter records getpid; the benches measure the
    // entry paths, not the audit log.
    m.personality
        .audit
        .set_filter(AuditFilter::names::<[&str; 0], &str>([]));
    // Events are not kept (memory would grow with every call); the phases
    // reach the cycles measurement through an observer.
    m.keep_events = false;
    m.spawn(&elf, &["bench"], &[]).expect("loads");
    m
}

/// Sums the phases of every call that returned to user mode.
#[derive(Default)]
struct PhaseSum(u64);

impl Tracer for PhaseSum {
    const PER_INSTRUCTION: bool = false;
}

impl Observer for PhaseSum {
    fn syscall_returned(&mut self, _cycle: u64, e: &SyscallEvent) {
        self.0 += e.cycles.total();
    }
}

fn run(m: &mut Machine) {
    assert_eq!(m.run(u64::MAX / 2).expect("runs"), Status::Exited(0));
}

/// Modeled CPU cycles as a criterion measurement. Values come only from
/// `iter_custom` (the routine returns the cycles it modeled); `start` and
/// `end` measure nothing.
struct ModeledCycles;

impl Measurement for ModeledCycles {
    type Intermediate = ();
    type Value = u64;

    fn start(&self) {}
    fn end(&self, _: ()) -> u64 {
        0
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CyclesFormatter
    }
}

struct CyclesFormatter;

impl ValueFormatter for CyclesFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "cycles"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n,
        } as f64;
        for v in values {
            *v /= per.max(1.0);
        }
        "cycles/call"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "cycles"
    }
}

fn entry_cycles(c: &mut Criterion<ModeledCycles>) {
    for call in [Call::Getpid, Call::Write4k] {
        let mut g = c.benchmark_group(format!("entry-cycles/{}", call.name()));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(200));
        g.measurement_time(Duration::from_secs(1));
        for p in PATHS {
            g.bench_function(BenchmarkId::from_parameter(p.name), |b| {
                b.iter_custom(|iters| {
                    let mut m = machine(p, call, iters);
                    let mut sum = PhaseSum::default();
                    let status = m.run_with(u64::MAX / 2, &mut sum).expect("runs");
                    assert_eq!(status, Status::Exited(0));
                    sum.0
                })
            });
        }
        g.finish();
    }
}

fn entry_host(c: &mut Criterion) {
    for call in [Call::Getpid, Call::Write4k] {
        let mut g = c.benchmark_group(format!("entry-host/{}", call.name()));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(3));
        for p in PATHS {
            g.bench_function(BenchmarkId::from_parameter(p.name), |b| {
                b.iter_custom(|iters| {
                    let mut m = machine(p, call, iters);
                    let t = Instant::now();
                    run(&mut m);
                    t.elapsed()
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = cycles;
    config = Criterion::default().with_measurement(ModeledCycles).without_plots();
    targets = entry_cycles
}
criterion_group!(host, entry_host);
criterion_main!(cycles, host);
