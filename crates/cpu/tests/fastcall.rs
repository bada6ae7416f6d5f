//! SYSCALL/SYSRET, SYSENTER/SYSEXIT and SWAPGS: scenario tests with the
//! expected state written out from the SDM (Vol. 2 pages of each
//! instruction) and the AMD APM where vendors differ, and proptest
//! properties over random register state and MSR values.

use proptest::prelude::*;
use sysgate_cpu::{
    Cpu, Efer, Exception, Exit, Limit, Rflags, SegReg, TransitionKind, Vcpu, Vendor,
};

const USER_CODE: u64 = 0x40_0000;
const KERNEL_CODE: u64 = 0x10_0000;
const SYSCALL: [u8; 2] = [0x0F, 0x05];
const SYSRETQ: [u8; 3] = [0x48, 0x0F, 0x07];
const SYSRETD: [u8; 2] = [0x0F, 0x07];
const SYSENTER: [u8; 2] = [0x0F, 0x34];
const SYSEXITD: [u8; 2] = [0x0F, 0x35];
const SYSEXITQ: [u8; 3] = [0x48, 0x0F, 0x35];
const SWAPGS: [u8; 3] = [0x0F, 0x01, 0xF8];

/// Linux's x86_64 STAR: __USER32_CS (0x23) in 63:48, __KERNEL_CS (0x10) in
/// 47:32.
const LINUX_STAR: u64 = (0x23 << 48) | (0x10 << 32);

/// A 64-bit machine (IA-32e, no paging) at `cpl` with EFER.SCE.
fn machine(vendor: Vendor, cpl: u8) -> Vcpu {
    let mut v = Vcpu::new(16 << 20, vendor);
    v.cpu.set_flat_mode(64, cpl);
    v.cpu.ctrl.efer |= Efer::SCE.bits();
    v.cpu.msr.star = LINUX_STAR;
    v.cpu.msr.lstar = KERNEL_CODE;
    v.cpu.msr.fmask = 0x4_7700; // Linux: TF|DF|IF|IOPL|AC|NT
    v.cpu.gpr[4] = 0x7F_F000;
    v
}

/// Switches the code segment to 32-bit compatibility mode at CPL 3.
fn to_compat(c: &mut Cpu) {
    let cs = &mut c.seg[SegReg::Cs as usize];
    cs.attr &= !sysgate_cpu::state::attr::L;
    cs.attr |= sysgate_cpu::state::attr::DB;
}

fn load(v: &mut Vcpu, at: u64, code: &[u8]) {
    v.cpu.mmu.phys.write(at, code);
}

fn step_at(v: &mut Vcpu, rip: u64) -> sysgate_cpu::StepEvent {
    v.cpu.rip = rip;
    v.step()
}

#[test]
fn syscall_from_64_bit_ring3_follows_the_sdm() {
    let mut v = machine(Vendor::Intel, 3);
    load(&mut v, USER_CODE, &SYSCALL);
    v.cpu.rflags = 0x246 | Rflags::TF.bits() | Rflags::DF.bits();
    let ev = step_at(&mut v, USER_CODE);
    assert_eq!(ev.exit, None);
    let c = &v.cpu;
    assert_eq!(c.rip, KERNEL_CODE);
    assert_eq!(c.gpr[1], USER_CODE + 2, "RCX = next RIP");
    assert_eq!(
        c.gpr[11],
        0x246 | Rflags::TF.bits() | Rflags::DF.bits(),
        "R11 = old RFLAGS"
    );
    assert_eq!(c.rflags & 0x4_7700, 0, "RFLAGS & FMASK = 0");
    assert_eq!(c.rflags, 0x46);
    assert_eq!(c.cpl(), 0);
    assert_eq!(c.seg[SegReg::Cs as usize].selector, 0x10);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, 0x18);
    assert!(c.seg[SegReg::Cs as usize].long());
    assert_eq!(c.seg[SegReg::Ss as usize].dpl(), 0);
    let t = ev.transition.expect("SYSCALL is a transition");
    assert_eq!(t.kind, TransitionKind::Syscall);
    assert_eq!((t.cpl_before, t.cpl_after), (3, 0));
    assert_eq!(t.from.offset, USER_CODE);
    assert_eq!(t.to.offset, KERNEL_CODE);
    assert!(!t.stack_switched, "SYSCALL does not switch stacks");
    assert!(t.cycles > 0);
}

#[test]
fn sysretq_returns_to_64_bit_ring3_with_star_selectors() {
    let mut v = machine(Vendor::Intel, 0);
    load(&mut v, KERNEL_CODE, &SYSRETQ);
    v.cpu.gpr[1] = USER_CODE;
    v.cpu.gpr[11] = 0xFFFF_FFFF_FFFF_FFFF;
    let ev = step_at(&mut v, KERNEL_CODE);
    assert_eq!(ev.exit, None);
    let c = &v.cpu;
    assert_eq!(c.rip, USER_CODE);
    assert_eq!(c.rflags, 0x3C_7FD7 | 2, "RFLAGS = (R11 & 3C7FD7H) | 2");
    assert_eq!(c.seg[SegReg::Cs as usize].selector, 0x23 + 16);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, 0x2B);
    assert_eq!(c.cpl(), 3);
    assert!(c.in_long64());
}

#[test]
fn sysretd_returns_to_compatibility_mode() {
    let mut v = machine(Vendor::Intel, 0);
    load(&mut v, KERNEL_CODE, &SYSRETD);
    v.cpu.gpr[1] = 0xFFFF_FFFF_0804_8000;
    v.cpu.gpr[11] = 0x202;
    step_at(&mut v, KERNEL_CODE);
    let c = &v.cpu;
    assert_eq!(c.rip, 0x0804_8000, "RIP = ECX");
    assert_eq!(c.seg[SegReg::Cs as usize].selector, 0x23);
    assert_eq!(c.mode(), sysgate_cpu::Mode::Compatibility);
    assert_eq!(c.code_bits(), 32);
}

#[test]
fn sysret_with_non_canonical_rcx_intel_faults_in_ring0() {
    // CVE-2012-0217: Intel raises #GP(0) with CPL still 0 and the user RSP
    // already loaded by the kernel.
    let mut v = machine(Vendor::Intel, 0);
    load(&mut v, KERNEL_CODE, &SYSRETQ);
    v.cpu.gpr[1] = 0x0000_8000_0000_0000;
    v.cpu.gpr[4] = 0x7FFF_0000; // "user" stack
    let ev = step_at(&mut v, KERNEL_CODE);
    assert_eq!(ev.exit, Some(Exit::Exception(Exception::GP(0))));
    assert_eq!(v.cpu.cpl(), 0, "the fault is taken at CPL 0");
    assert_eq!(v.cpu.rip, KERNEL_CODE);
    assert_eq!(v.cpu.gpr[4], 0x7FFF_0000);
}

#[test]
fn sysret_with_non_canonical_rcx_amd_faults_in_ring3() {
    let mut v = machine(Vendor::Amd, 0);
    load(&mut v, KERNEL_CODE, &SYSRETQ);
    v.cpu.gpr[1] = 0x0000_8000_0000_0000;
    let ev = step_at(&mut v, KERNEL_CODE);
    assert_eq!(ev.exit, None, "AMD completes SYSRET");
    assert_eq!(v.cpu.cpl(), 3);
    assert_eq!(v.cpu.rip, 0x0000_8000_0000_0000);
    let ev = v.step();
    assert_eq!(ev.exit, Some(Exit::Exception(Exception::GP(0))));
    assert_eq!(v.cpu.cpl(), 3, "the fault happens in ring 3");
}

#[test]
fn amd_sysret_keeps_the_ss_descriptor_cache() {
    let mut v = machine(Vendor::Amd, 0);
    load(&mut v, KERNEL_CODE, &SYSRETQ);
    v.cpu.gpr[1] = USER_CODE;
    let ss_before = v.cpu.seg[SegReg::Ss as usize];
    step_at(&mut v, KERNEL_CODE);
    let ss = v.cpu.seg[SegReg::Ss as usize];
    assert_eq!(ss.selector, 0x2B);
    assert_eq!(ss.attr, ss_before.attr, "AMD loads only the SS selector");
    let mut v = machine(Vendor::Intel, 0);
    load(&mut v, KERNEL_CODE, &SYSRETQ);
    v.cpu.gpr[1] = USER_CODE;
    step_at(&mut v, KERNEL_CODE);
    assert_eq!(
        v.cpu.seg[SegReg::Ss as usize].dpl(),
        3,
        "Intel loads fixed SS attributes"
    );
}

#[test]
fn syscall_in_compatibility_mode_is_ud_on_intel_and_uses_cstar_on_amd() {
    let mut v = machine(Vendor::Intel, 3);
    to_compat(&mut v.cpu);
    load(&mut v, USER_CODE, &SYSCALL);
    let ev = step_at(&mut v, USER_CODE);
    assert_eq!(ev.exit, Some(Exit::Exception(Exception::UD)));
    assert_eq!(v.cpu.cpl(), 3);

    let mut v = machine(Vendor::Amd, 3);
    to_compat(&mut v.cpu);
    v.cpu.msr.cstar = 0x20_0000;
    load(&mut v, USER_CODE, &SYSCALL);
    let ev = step_at(&mut v, USER_CODE);
    assert_eq!(ev.exit, None);
    assert_eq!(v.cpu.rip, 0x20_0000);
    assert_eq!(v.cpu.cpl(), 0);
    assert!(v.cpu.in_long64(), "SYSCALL always enters 64-bit mode");
}

#[test]
fn syscall_without_efer_sce_is_ud() {
    let mut v = machine(Vendor::Intel, 3);
    v.cpu.ctrl.efer &= !Efer::SCE.bits();
    load(&mut v, USER_CODE, &SYSCALL);
    assert_eq!(
        step_at(&mut v, USER_CODE).exit,
        Some(Exit::Exception(Exception::UD))
    );
}

/// A 32-bit protected-mode machine (no IA-32e) at `cpl` with Linux's i386
/// SYSENTER_CS (__KERNEL_CS = 0x60).
fn machine32(vendor: Vendor, cpl: u8) -> Vcpu {
    let mut v = Vcpu::new(16 << 20, vendor);
    v.cpu.set_flat_mode(32, cpl);
    v.cpu.msr.sysenter_cs = 0x60;
    v.cpu.msr.sysenter_esp = 0xC000_0000 + 0x1000;
    v.cpu.msr.sysenter_eip = KERNEL_CODE;
    v
}

#[test]
fn sysenter_sysexit_round_trip_in_32_bit_mode() {
    let mut v = machine32(Vendor::Intel, 3);
    load(&mut v, USER_CODE, &SYSENTER);
    load(&mut v, KERNEL_CODE, &SYSEXITD);
    v.cpu.rflags = 0x202 | Rflags::RF.bits();
    let ev = step_at(&mut v, USER_CODE);
    let c = &v.cpu;
    assert_eq!(c.rip, KERNEL_CODE);
    assert_eq!(c.gpr[4], 0xC000_1000);
    assert_eq!(c.seg[SegReg::Cs as usize].selector, 0x60);
    assert_eq!(
        c.seg[SegReg::Ss as usize].selector,
        0x68,
        "SS = SYSENTER_CS + 8"
    );
    assert_eq!(c.cpl(), 0);
    assert_eq!(
        c.rflags & (Rflags::IF.bits() | Rflags::RF.bits() | Rflags::VM.bits()),
        0
    );
    assert!(ev.transition.is_some_and(|t| t.stack_switched));
    // The user passes its return EIP in EDX and ESP in ECX (as the vDSO does).
    v.cpu.gpr[1] = 0xBFFF_F000;
    v.cpu.gpr[2] = USER_CODE + 2;
    step_at(&mut v, KERNEL_CODE);
    let c = &v.cpu;
    assert_eq!(c.rip, USER_CODE + 2);
    assert_eq!(c.gpr[4], 0xBFFF_F000);
    assert_eq!(
        c.seg[SegReg::Cs as usize].selector,
        0x73,
        "CS = SYSENTER_CS + 16, RPL 3"
    );
    assert_eq!(
        c.seg[SegReg::Ss as usize].selector,
        0x7B,
        "SS = SYSENTER_CS + 24, RPL 3"
    );
    assert_eq!(c.cpl(), 3);
}

#[test]
fn sysexitq_uses_plus_32_and_plus_40() {
    let mut v = machine(Vendor::Intel, 0);
    v.cpu.msr.sysenter_cs = 0x10;
    load(&mut v, KERNEL_CODE, &SYSEXITQ);
    v.cpu.gpr[1] = 0x7FFF_F000;
    v.cpu.gpr[2] = USER_CODE;
    step_at(&mut v, KERNEL_CODE);
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, 0x10 + 32 + 3);
    assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector, 0x10 + 40 + 3);
    assert!(v.cpu.in_long64());
}

#[test]
fn sysenter_with_null_sysenter_cs_is_gp() {
    let mut v = machine32(Vendor::Intel, 3);
    v.cpu.msr.sysenter_cs = 3; // bits 15:2 zero
    load(&mut v, USER_CODE, &SYSENTER);
    assert_eq!(
        step_at(&mut v, USER_CODE).exit,
        Some(Exit::Exception(Exception::GP(0)))
    );
    assert_eq!(v.cpu.cpl(), 3);
}

#[test]
fn sysenter_in_long_mode_is_ud_on_amd_only() {
    for (vendor, expect_ud) in [(Vendor::Amd, true), (Vendor::Intel, false)] {
        let mut v = machine(vendor, 3);
        v.cpu.msr.sysenter_cs = 0x10;
        v.cpu.msr.sysenter_eip = KERNEL_CODE;
        load(&mut v, USER_CODE, &SYSENTER);
        let ev = step_at(&mut v, USER_CODE);
        if expect_ud {
            assert_eq!(ev.exit, Some(Exit::Exception(Exception::UD)));
        } else {
            assert_eq!(ev.exit, None);
            assert_eq!(v.cpu.rip, KERNEL_CODE);
            assert!(
                v.cpu.in_long64(),
                "SYSENTER in IA-32e mode enters 64-bit code"
            );
        }
    }
}

#[test]
fn sysexit_at_cpl3_is_gp() {
    let mut v = machine32(Vendor::Intel, 3);
    load(&mut v, USER_CODE, &SYSEXITD);
    assert_eq!(
        step_at(&mut v, USER_CODE).exit,
        Some(Exit::Exception(Exception::GP(0)))
    );
}

#[test]
fn swapgs_rules() {
    let mut v = machine(Vendor::Intel, 0);
    v.cpu.seg[SegReg::Gs as usize].base = 0x1111;
    v.cpu.msr.kernel_gs_base = 0x2222;
    load(&mut v, KERNEL_CODE, &SWAPGS);
    let ev = step_at(&mut v, KERNEL_CODE);
    assert_eq!(ev.transition.map(|t| t.kind), Some(TransitionKind::Swapgs));
    assert_eq!(v.cpu.seg[SegReg::Gs as usize].base, 0x2222);
    assert_eq!(v.cpu.msr.kernel_gs_base, 0x1111);
    // #GP(0) at CPL 3, #UD outside 64-bit mode.
    let mut v = machine(Vendor::Intel, 3);
    load(&mut v, USER_CODE, &SWAPGS);
    assert_eq!(
        step_at(&mut v, USER_CODE).exit,
        Some(Exit::Exception(Exception::GP(0)))
    );
    let mut v = machine(Vendor::Intel, 0);
    to_compat(&mut v.cpu);
    load(&mut v, USER_CODE, &SWAPGS);
    assert_eq!(
        step_at(&mut v, USER_CODE).exit,
        Some(Exit::Exception(Exception::UD))
    );
}

/// User-modifiable RFLAGS bits for random initial states (IF always set as
/// in user mode; IOPL 0).
fn user_flags() -> impl Strategy<Value = u64> {
    any::<u64>().prop_map(|f| (f & 0x0004_0DD5) | 0x202)
}

fn canonical_user_rip() -> impl Strategy<Value = u64> {
    (0x1000u64..0xF0_0000).prop_map(|r| r & !0xF)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// SYSCALL then SYSRETQ restores the user state except RCX, R11 and the
    /// flags FMASK masked (which R11 carries back), and SYSCALL's own
    /// post-conditions hold.
    #[test]
    fn syscall_sysret_round_trip(
        gprs in prop::array::uniform16(any::<u64>()),
        flags in user_flags(),
        rip in canonical_user_rip(),
        star_cs in (1u64..0x1FFF).prop_map(|s| s << 3),
        star_ret in (1u64..0x1FF0).prop_map(|s| s << 3),
        fmask in any::<u32>(),
        lstar in (0xF0_0000u64..0xF8_0000).prop_map(|r| r & !0xF),
        vendor in prop_oneof![Just(Vendor::Intel), Just(Vendor::Amd)],
    ) {
        let mut v = machine(vendor, 3);
        v.cpu.msr.star = (star_ret << 48) | (star_cs << 32);
        v.cpu.msr.lstar = lstar;
        v.cpu.msr.fmask = fmask as u64;
        v.cpu.gpr = gprs;
        v.cpu.rflags = flags;
        load(&mut v, rip, &SYSCALL);
        load(&mut v, lstar, &SYSRETQ);
        let before = (v.cpu.gpr, v.cpu.rflags);
        let ev = step_at(&mut v, rip);
        prop_assert_eq!(ev.exit, None);
        let c = &v.cpu;
        prop_assert_eq!(c.cpl(), 0);
        prop_assert_eq!(c.seg[SegReg::Cs as usize].selector as u64, star_cs & !3);
        prop_assert_eq!(c.seg[SegReg::Ss as usize].selector as u64, (star_cs & !3) + 8);
        prop_assert_eq!(c.gpr[1], rip + 2);
        prop_assert_eq!(c.gpr[11], flags);
        // Bit 1 of RFLAGS is reserved and always reads 1, whatever FMASK says.
        prop_assert_eq!(c.rflags & fmask as u64 & !2, 0);
        prop_assert_eq!(c.rip, lstar);
        let ev = v.step();
        prop_assert_eq!(ev.exit, None);
        let c = &v.cpu;
        prop_assert_eq!(c.cpl(), 3);
        prop_assert_eq!(c.rip, rip + 2);
        prop_assert_eq!(c.rflags, flags);
        prop_assert_eq!(c.seg[SegReg::Cs as usize].selector as u64, ((star_ret + 16) | 3) & 0xFFFF);
        for r in 0..16 {
            if r != 1 && r != 11 {
                prop_assert_eq!(c.gpr[r], before.0[r], "r{}", r);
            }
        }
    }

    /// SYSRET at CPL > 0 is #GP(0) and changes nothing.
    #[test]
    fn sysret_above_cpl0_faults(cpl in 1u8..=3, gprs in prop::array::uniform16(any::<u64>())) {
        let mut v = machine(Vendor::Intel, cpl);
        v.cpu.gpr = gprs;
        load(&mut v, USER_CODE, &SYSRETQ);
        let segs = v.cpu.seg;
        let ev = step_at(&mut v, USER_CODE);
        prop_assert_eq!(ev.exit, Some(Exit::Exception(Exception::GP(0))));
        prop_assert_eq!(v.cpu.gpr, gprs);
        prop_assert_eq!(v.cpu.seg, segs);
        prop_assert_eq!(v.cpu.rip, USER_CODE);
    }

    /// SYSENTER then SYSEXIT returns to ECX:EDX at CPL 3 with the
    /// +16/+24 selectors, for any SYSENTER_CS with a non-null index.
    #[test]
    fn sysenter_sysexit_round_trip(
        cs in (1u64..0x1FF0).prop_map(|s| s << 2),
        esp in any::<u32>(),
        gprs in prop::array::uniform16(any::<u32>()),
    ) {
        let mut v = machine32(Vendor::Intel, 3);
        v.cpu.msr.sysenter_cs = cs;
        v.cpu.msr.sysenter_esp = esp as u64;
        v.cpu.gpr = gprs.map(|g| g as u64);
        load(&mut v, USER_CODE, &SYSENTER);
        load(&mut v, KERNEL_CODE, &SYSEXITD);
        step_at(&mut v, USER_CODE);
        prop_assert_eq!(v.cpu.cpl(), 0);
        prop_assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector as u64, cs & 0xFFFC);
        prop_assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector as u64, (cs & 0xFFFC) + 8);
        prop_assert_eq!(v.cpu.gpr[4], esp as u64);
        v.cpu.gpr[1] = 0xBFFF_0000;
        v.cpu.gpr[2] = USER_CODE + 2;
        let ev = v.step();
        prop_assert_eq!(ev.exit, None);
        prop_assert_eq!(v.cpu.cpl(), 3);
        prop_assert_eq!(v.cpu.rip, USER_CODE + 2);
        prop_assert_eq!(v.cpu.gpr[4], 0xBFFF_0000);
        prop_assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector as u64, ((cs + 16) | 3) & 0xFFFF);
        prop_assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector as u64, ((cs + 24) | 3) & 0xFFFF);
    }

    /// SWAPGS twice is the identity.
    #[test]
    fn swapgs_twice_is_identity(gs in any::<u64>(), kgs in any::<u64>()) {
        let mut v = machine(Vendor::Intel, 0);
        v.cpu.seg[SegReg::Gs as usize].base = gs;
        v.cpu.msr.kernel_gs_base = kgs;
        load(&mut v, KERNEL_CODE, &[SWAPGS, SWAPGS].concat());
        v.cpu.rip = KERNEL_CODE;
        v.run(Limit::instructions(2));
        prop_assert_eq!(v.cpu.seg[SegReg::Gs as usize].base, gs);
        prop_assert_eq!(v.cpu.msr.kernel_gs_base, kgs);
    }
}
