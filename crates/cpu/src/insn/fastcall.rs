//! Fast system calls: SYSCALL, SYSRET, SYSENTER, SYSEXIT and SWAPGS (SDM
//! Vol. 2 pages of each; AMD APM Vol. 3 where the vendors differ).
//!
//! None of them reads a descriptor table: they load CS and SS with fixed
//! descriptor-cache values derived from MSRs, which is what makes them
//! fast. Vendor differences (see [`crate::Vendor`]):
//! - SYSCALL outside 64-bit mode: Intel #UD; AMD enters through IA32_CSTAR
//!   from compatibility mode and through STAR[31:0] from legacy mode.
//! - SYSRET outside 64-bit mode: Intel #UD; AMD returns to legacy mode.
//! - SYSRET with a non-canonical RCX: Intel raises #GP(0) while still at
//!   CPL 0 (CVE-2012-0217); AMD loads RIP and the fault happens at CPL 3.
//! - SYSRET on AMD loads only the SS selector and leaves the SS descriptor
//!   cache alone (the "SYSRET SS attributes" erratum Linux works around).
//! - SYSENTER/SYSEXIT in IA-32e mode: Intel allows them; AMD is #UD.

use iced_x86::{Instruction, Mnemonic};

use crate::decode::{Handler, Insn};
use crate::exception::{Exception, REPORT_TRANSITION};
use crate::memory::is_canonical;
use crate::state::{Cpu, Efer, Rflags, SegReg, Segment, attr};
use crate::transition::TransitionKind;
use crate::vendor::Vendor;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Syscall => syscall,
        Sysret => sysret::<4>,
        Sysretq => sysret::<8>,
        Sysenter => sysenter,
        Sysexit => sysexit::<4>,
        Sysexitq => sysexit::<8>,
        Swapgs => swapgs,
        _ => return None,
    })
}

/// A flat 4-GiB code segment cache at `dpl` (type 11: execute/read,
/// accessed), 64-bit (L = 1, D = 0) or 32-bit (L = 0, D = 1).
fn flat_code(selector: u16, dpl: u8, long: bool) -> Segment {
    let size = if long { attr::L } else { attr::DB };
    Segment {
        selector,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: attr::CODE
            | attr::RW
            | attr::ACCESSED
            | attr::S
            | ((dpl as u16) << 5)
            | attr::P
            | size
            | attr::G,
    }
}

/// A flat 4-GiB data segment cache at `dpl` (type 3: read/write, accessed;
/// B = 1).
fn flat_stack(selector: u16, dpl: u8) -> Segment {
    Segment {
        selector,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: attr::RW
            | attr::ACCESSED
            | attr::S
            | ((dpl as u16) << 5)
            | attr::P
            | attr::DB
            | attr::G,
    }
}

fn long_mode_active(c: &Cpu) -> bool {
    c.ctrl.efer & Efer::LMA.bits() != 0
}

/// SYSCALL.
extern "C" fn syscall(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let sce = c.ctrl.efer & Efer::SCE.bits() != 0;
    if !sce || !c.protected() {
        return Err(Exception::UD);
    }
    let long64 = c.in_long64();
    if !long64 && c.vendor == Vendor::Intel {
        return Err(Exception::UD);
    }
    let b = c.before(i.ip());
    let star_cs = ((c.msr.star >> 32) & 0xFFFC) as u16;
    let next = i.next_ip();
    if long_mode_active(c) {
        // 64-bit mode (LSTAR) or AMD compatibility mode (CSTAR).
        let target = if long64 { c.msr.lstar } else { c.msr.cstar };
        c.gpr[1] = next;
        c.gpr[11] = c.rflags;
        c.rflags &= !c.msr.fmask;
        c.rflags &= !Rflags::RF.bits();
        c.rflags |= Rflags::FIXED.bits();
        c.seg[SegReg::Cs as usize] = flat_code(star_cs, 0, true);
        c.seg[SegReg::Ss as usize] = flat_stack(star_cs.wrapping_add(8), 0);
        c.rip = target;
    } else {
        // AMD legacy mode: ECX = return EIP, EIP = STAR[31:0]; VM, IF and
        // RF are cleared (AMD APM Vol. 3 SYSCALL).
        c.gpr[1] = next & 0xFFFF_FFFF;
        c.rflags &= !(Rflags::VM.bits() | Rflags::IF.bits() | Rflags::RF.bits());
        c.seg[SegReg::Cs as usize] = flat_code(star_cs, 0, false);
        c.seg[SegReg::Ss as usize] = flat_stack(star_cs.wrapping_add(8), 0);
        c.rip = c.msr.star & 0xFFFF_FFFF;
    }
    c.record(TransitionKind::Syscall, b, false);
    Ok(())
}

/// SYSRET (SIZE 4: to compatibility mode; 8: SYSRETQ, to 64-bit mode).
extern "C" fn sysret<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let sce = c.ctrl.efer & Efer::SCE.bits() != 0;
    if !sce || !c.protected() {
        return Err(Exception::UD);
    }
    let long64 = c.in_long64();
    if !long64 && c.vendor == Vendor::Intel {
        return Err(Exception::UD);
    }
    if c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    let b = c.before(i.ip());
    let star_hi = ((c.msr.star >> 48) & 0xFFFF) as u16;
    let target = if SIZE == 8 {
        c.gpr[1]
    } else {
        c.gpr[1] & 0xFFFF_FFFF
    };
    // Intel checks RCX while still at CPL 0 (SDM Vol. 2 SYSRET); this is
    // the fault CVE-2012-0217 abused. AMD loads it and faults at CPL 3.
    if SIZE == 8 && !is_canonical(target) && c.vendor == Vendor::Intel {
        return Err(Exception::GP(0));
    }
    let (cs_sel, long) = if SIZE == 8 {
        (star_hi.wrapping_add(16), true)
    } else {
        (star_hi, false)
    };
    let ss_sel = star_hi.wrapping_add(8) | 3;
    if long_mode_active(c) {
        c.rflags = (c.gpr[11] & 0x3C_7FD7) | Rflags::FIXED.bits();
    } else {
        // AMD legacy-mode SYSRET sets IF and leaves the other flags.
        c.rflags |= Rflags::IF.bits();
    }
    c.seg[SegReg::Cs as usize] = flat_code(cs_sel | 3, 3, long);
    match c.vendor {
        Vendor::Intel => c.seg[SegReg::Ss as usize] = flat_stack(ss_sel, 3),
        Vendor::Amd => c.seg[SegReg::Ss as usize].selector = ss_sel,
    }
    c.rip = target;
    c.record(TransitionKind::Sysret, b, false);
    Ok(())
}

/// SYSENTER.
extern "C" fn sysenter(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if c.ctrl.cr0 & 1 == 0 {
        return Err(Exception::GP(0));
    }
    if long_mode_active(c) && c.vendor == Vendor::Amd {
        return Err(Exception::UD);
    }
    let cs_sel = (c.msr.sysenter_cs & 0xFFFC) as u16;
    if cs_sel == 0 {
        return Err(Exception::GP(0));
    }
    let b = c.before(i.ip());
    let ia32e = long_mode_active(c);
    c.rflags &= !(Rflags::VM.bits() | Rflags::IF.bits() | Rflags::RF.bits());
    c.seg[SegReg::Cs as usize] = flat_code(cs_sel, 0, ia32e);
    c.seg[SegReg::Ss as usize] = flat_stack(cs_sel.wrapping_add(8), 0);
    if ia32e {
        c.gpr[4] = c.msr.sysenter_esp;
        c.rip = c.msr.sysenter_eip;
    } else {
        c.gpr[4] = c.msr.sysenter_esp & 0xFFFF_FFFF;
        c.rip = c.msr.sysenter_eip & 0xFFFF_FFFF;
    }
    c.record(TransitionKind::Sysenter, b, true);
    Ok(())
}

/// SYSEXIT (SIZE 4: to 32-bit code, CS = SYSENTER_CS + 16; 8: SYSEXITQ,
/// to 64-bit code, CS = SYSENTER_CS + 32; SS = CS + 8).
extern "C" fn sysexit<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if long_mode_active(c) && c.vendor == Vendor::Amd {
        return Err(Exception::UD);
    }
    let base = (c.msr.sysenter_cs & 0xFFFF) as u16;
    if base & 0xFFFC == 0 || c.ctrl.cr0 & 1 == 0 || c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    let (rsp, rip) = if SIZE == 8 {
        (c.gpr[1], c.gpr[2])
    } else {
        (c.gpr[1] & 0xFFFF_FFFF, c.gpr[2] & 0xFFFF_FFFF)
    };
    if SIZE == 8 && (!is_canonical(rsp) || !is_canonical(rip)) {
        return Err(Exception::GP(0));
    }
    let b = c.before(i.ip());
    let cs_sel = base.wrapping_add(if SIZE == 8 { 32 } else { 16 }) | 3;
    c.seg[SegReg::Cs as usize] = flat_code(cs_sel, 3, SIZE == 8);
    c.seg[SegReg::Ss as usize] = flat_stack(cs_sel.wrapping_add(8), 3);
    c.gpr[4] = rsp;
    c.rip = rip;
    c.record(TransitionKind::Sysexit, b, true);
    Ok(())
}

/// SWAPGS: 64-bit mode only (#UD otherwise), CPL 0 (#GP(0)).
extern "C" fn swapgs(c: &mut Cpu, _: &Insn) -> Result<(), Exception> {
    if !c.in_long64() {
        return Err(Exception::UD);
    }
    if c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    let gs = &mut c.seg[SegReg::Gs as usize].base;
    std::mem::swap(gs, &mut c.msr.kernel_gs_base);
    // SWAPGS changes nothing the block's code was decoded for: the block
    // goes on once the run loop has recorded and reported the transition
    // (if anyone wants it).
    Err(REPORT_TRANSITION)
}
