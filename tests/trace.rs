//! The trace of a system call shows each step of its entry path in order,
//! as executed by the emulated CPU.

use sysgate::cpu::Vendor;
use sysgate::guests;
use sysgate::kernel::machine::trace::Recorder;
use sysgate::kernel::machine::{Config, Flavor, Machine, Status, Vsyscall32};

fn trace(name: &str, flavor: Flavor, vendor: Vendor, vs: Vsyscall32) -> Vec<String> {
    let g = guests::build(name).expect("guest");
    let mut m = Machine::new(Config {
        flavor,
        vendor,
        vsyscall32: Some(vs),
        ..Config::default()
    })
    .expect("boots");
    m.spawn(&g.elf, &[name], &[]).expect("loads");
    let mut r = Recorder::new(false);
    assert_eq!(
        m.run_with(10_000_000, &mut r).expect("runs"),
        Status::Exited(0)
    );
    r.events.iter().map(|e| e.label()).collect()
}

/// The labels of the first system call: from its entry transition up to
/// and including its exit transition.
fn first_call(labels: &[String], entry: &str, exit: &str) -> Vec<String> {
    let start = labels
        .iter()
        .position(|l| l == entry)
        .expect("entry transition");
    let end = start
        + labels[start..]
            .iter()
            .position(|l| l == exit)
            .expect("exit transition");
    labels[start..=end].to_vec()
}

#[test]
fn syscall_path_is_swapgs_stack_switch_dispatch_swapgs_sysret() {
    // entry_SYSCALL_64: swapgs, load the task stack from the per-CPU area,
    // pt_regs, the dispatcher; then the user RSP from pt_regs, swapgs,
    // sysretq.
    let labels = trace(
        "hello-syscall64",
        Flavor::X86_64,
        Vendor::Intel,
        Vsyscall32::Sysenter,
    );
    assert_eq!(
        first_call(&labels, "syscall", "sysret"),
        [
            "syscall",
            "swapgs",
            "stack-switch",
            "dispatch",
            "stack-switch",
            "swapgs",
            "sysret"
        ]
    );
}

#[test]
fn int80_path_is_a_gate_with_a_tss_stack_then_iret() {
    let labels = trace(
        "hello-int80-32",
        Flavor::X86_64,
        Vendor::Intel,
        Vsyscall32::Int80,
    );
    assert_eq!(
        first_call(&labels, "int0x80", "iret"),
        ["int0x80", "swapgs", "dispatch", "swapgs", "iret"]
    );
    let labels = trace(
        "hello-int80-32",
        Flavor::I386,
        Vendor::Intel,
        Vsyscall32::Int80,
    );
    assert_eq!(
        first_call(&labels, "int0x80", "iret"),
        ["int0x80", "dispatch", "iret"]
    );
}

#[test]
fn sysenter_paths_return_by_sysexit_or_sysretl() {
    let labels = trace(
        "hello-vsyscall-32",
        Flavor::I386,
        Vendor::Intel,
        Vsyscall32::Sysenter,
    );
    assert_eq!(
        first_call(&labels, "sysenter", "sysexit"),
        ["sysenter", "dispatch", "sysexit"]
    );
    let labels = trace(
        "hello-vsyscall-32",
        Flavor::X86_64,
        Vendor::Intel,
        Vsyscall32::Sysenter,
    );
    // SYSENTER loads the kernel stack from IA32_SYSENTER_ESP in hardware.
    assert_eq!(
        first_call(&labels, "sysenter", "sysret"),
        [
            "sysenter",
            "swapgs",
            "dispatch",
            "stack-switch",
            "swapgs",
            "sysret"
        ]
    );
    let labels = trace(
        "hello-vsyscall-32",
        Flavor::X86_64,
        Vendor::Amd,
        Vsyscall32::Syscall,
    );
    assert_eq!(
        first_call(&labels, "syscall", "sysret"),
        [
            "syscall",
            "swapgs",
            "stack-switch",
            "dispatch",
            "stack-switch",
            "swapgs",
            "sysret"
        ]
    );
}
