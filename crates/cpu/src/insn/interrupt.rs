//! Software interrupts and interrupt return: INT n (CD ib), INT3 (CC),
//! INTO (CE), INT1/ICEBP (F1) and IRET/IRETD/IRETQ (SDM Vol. 2 pages
//! "INT n/INTO/INT3/INT1" and "IRET/IRETD/IRETQ", "Operation"). Delivery
//! itself lives in [`crate::interrupt`].
//!
//! - INT n is a software interrupt: the gate DPL is checked, nested faults
//!   have EXT = 0, and in virtual-8086 mode it needs IOPL = 3. CD 03 is
//!   INT n with vector 3, not INT3.
//! - INT3 and INTO raise #BP and #OF, INT1 raises #DB (a trap: the saved
//!   RIP is the next instruction). When the exception bitmap
//!   ([`crate::Vcpu::exception_bitmap`]) has the vector's bit set, the
//!   instruction ends with that exception for the host (RIP after it);
//!   otherwise it delivers through the IDT itself. INTO is #UD in 64-bit
//!   mode and does nothing when OF = 0.
//! - A fault found while delivering any of them is a fault of the
//!   instruction: nothing is committed and RIP stays on it.
//! - IRET in protected mode with NT = 1 would return from a nested task;
//!   task switching is not modeled, so it raises #GP(0) (in IA-32e mode
//!   that is the architectural behaviour). Returns to virtual-8086 mode
//!   (IRETD at CPL 0 with VM = 1 in the popped EFLAGS) are modeled.
//! - IRET restores RF from the image; the run loop clears it once the next
//!   instruction completes (SDM Vol. 3 §17.3.1.1), see [`crate::run`].
//!
//! Each records a [`TransitionKind::SoftwareInterrupt`] or
//! [`TransitionKind::Iret`] transition; `stack_switched` is set when a
//! stack was loaded from the TSS or an IST slot.

use iced_x86::{Instruction, Mnemonic};

use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::mask;
use crate::interrupt::{Event, Source, deliver};
use crate::run::Request;
use crate::segmentation::SegLoad;
use crate::state::{Cpu, Cr0, Rflags, SegReg};
use crate::transition::TransitionKind;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Int => int_n,
        Int3 => int3,
        Into => into,
        Int1 => int1,
        Iret => iret::<2>,
        Iretd => iret::<4>,
        Iretq => iret::<8>,
        _ => return None,
    })
}

/// Delivers a software event from instruction `i` and records the
/// transition.
fn software(c: &mut Cpu, i: &Insn, vector: u8, source: Source) -> Result<(), Exception> {
    let b = c.before(i.ip());
    let ev = Event {
        vector,
        source,
        return_rip: i.next_ip(),
    };
    let d = deliver(c, &ev)?;
    c.record(
        TransitionKind::SoftwareInterrupt { vector },
        b,
        d.stack_switched,
    );
    Ok(())
}

/// True when the host intercepts vector `v`.
#[inline(always)]
fn intercepted(c: &Cpu, v: u8) -> bool {
    c.exception_bitmap & (1u32 << v) != 0
}

/// INT imm8.
extern "C" fn int_n(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    software(c, i, i.imm as u8, Source::IntN)
}

/// INT3 (CC): #BP.
extern "C" fn int3(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if intercepted(c, 3) {
        return Err(Exception::BP);
    }
    software(c, i, 3, Source::Int3)
}

/// INTO: #OF when OF = 1; #UD in 64-bit mode.
extern "C" fn into(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if c.in_long64() {
        return Err(Exception::UD);
    }
    if c.rflags & Rflags::OF.bits() == 0 {
        return Ok(());
    }
    if intercepted(c, 4) {
        return Err(Exception::OF);
    }
    software(c, i, 4, Source::Into)
}

/// INT1/ICEBP (F1): #DB as a trap, without the gate DPL check.
extern "C" fn int1(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if intercepted(c, 1) {
        return Err(Exception::DB);
    }
    software(c, i, 1, Source::Int1)
}

/// Every EFLAGS bit that exists (ID, VIP, VIF, AC, VM, RF, NT, IOPL, OF,
/// DF, IF, TF, SF, ZF, AF, PF, CF).
const EFLAGS_VALID: u64 = 0x3F_7FD5;

/// IRET/IRETD/IRETQ with operand size `OS` bytes.
extern "C" fn iret<const OS: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let b = c.before(i.ip());
    if c.ctrl.cr0 & Cr0::PE.bits() == 0 {
        iret_real(c, OS)?;
    } else if c.rflags & Rflags::VM.bits() != 0 {
        iret_from_v86(c, OS)?;
    } else {
        iret_protected(c, OS)?;
    }
    c.record(TransitionKind::Iret, b, false);
    if c.rflags & Rflags::RF.bits() != 0 {
        c.request = Request::ClearRfAfterNext;
    }
    Ok(())
}

/// The return frame: instruction pointer (masked to the operand size),
/// CS selector and (R/E)FLAGS image.
fn pop_frame(c: &mut Cpu, os: u8) -> Result<(u64, u16, u64), Exception> {
    let sz = os as u64;
    let ip = c.peek(0, os)?;
    let sel = c.peek(sz, os)? as u16;
    let flags = c.peek(2 * sz, os)?;
    Ok((ip, sel, flags))
}

/// REAL-ADDRESS-MODE: pops IP, CS, FLAGS (EIP, CS, EFLAGS with IRETD,
/// keeping VM, VIF and VIP); the new IP must lie within the CS limit
/// (#GP(0)).
fn iret_real(c: &mut Cpu, os: u8) -> Result<(), Exception> {
    let (ip, sel, temp) = pop_frame(c, os)?;
    if ip > c.seg[SegReg::Cs as usize].limit as u64 {
        return Err(Exception::GP(0));
    }
    let flags = if os == 2 {
        (c.rflags & !0xFFFF) | (temp & 0x7FD5)
    } else {
        (temp & 0x25_7FD5) | (c.rflags & 0x1A_0000)
    };
    c.set_sp(c.sp().wrapping_add(3 * os as u64));
    c.seg[SegReg::Cs as usize] = c.real_segment(SegReg::Cs, sel);
    c.rip = ip;
    c.rflags = flags | Rflags::FIXED.bits();
    Ok(())
}

/// RETURN-FROM-VIRTUAL-8086-MODE: with IOPL = 3 a real-mode style return
/// that leaves VM, IOPL, VIF and VIP alone; with IOPL < 3 #GP(0) (to the
/// virtual-8086 monitor).
fn iret_from_v86(c: &mut Cpu, os: u8) -> Result<(), Exception> {
    if c.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let (ip, sel, temp) = pop_frame(c, os)?;
    if ip > c.seg[SegReg::Cs as usize].limit as u64 {
        return Err(Exception::GP(0));
    }
    let keep = (Rflags::VM | Rflags::IOPL | Rflags::VIF | Rflags::VIP).bits();
    let writable = EFLAGS_VALID & !keep & mask(os);
    c.set_sp(c.sp().wrapping_add(3 * os as u64));
    c.seg[SegReg::Cs as usize] = c.real_segment(SegReg::Cs, sel);
    c.rip = ip;
    c.rflags = (c.rflags & !writable) | (temp & writable) | Rflags::FIXED.bits();
    Ok(())
}

/// The EFLAGS an IRET in protected or IA-32e mode loads from `temp`
/// (RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL): CF, PF, AF, ZF, SF, TF, DF, OF,
/// NT; RF, AC, ID with a 32/64-bit operand; IF only when CPL <= IOPL;
/// IOPL (and VIF, VIP with a 32/64-bit operand) only at CPL 0. `cpl` is
/// the privilege level IRET executes at. VM is never loaded here.
fn iret_flags(c: &Cpu, temp: u64, os: u8, cpl: u8) -> u64 {
    let mut m = Rflags::CF
        | Rflags::PF
        | Rflags::AF
        | Rflags::ZF
        | Rflags::SF
        | Rflags::TF
        | Rflags::DF
        | Rflags::OF
        | Rflags::NT;
    if os >= 4 {
        m |= Rflags::RF | Rflags::AC | Rflags::ID;
    }
    if cpl <= c.iopl() {
        m |= Rflags::IF;
    }
    if cpl == 0 {
        m |= Rflags::IOPL;
        if os >= 4 {
            m |= Rflags::VIF | Rflags::VIP;
        }
    }
    let m = m.bits() & mask(os);
    (c.rflags & !m) | (temp & m) | Rflags::FIXED.bits()
}

/// PROTECTED-MODE and IA-32e-MODE (SDM Vol. 2 IRET): the return CS is
/// checked as a far return's ([`Cpu::check_return_cs`]); a return to an
/// outer level (RPL > CPL), and any IRET in 64-bit mode, pops SS and the
/// stack pointer too and checks SS for the new CPL (a null SS is allowed
/// returning to 64-bit code at CPL < 3); the new RIP must be within the
/// CS limit or canonical (#GP(0)). An outer return nulls the data segment
/// registers the new level may not use.
fn iret_protected(c: &mut Cpu, os: u8) -> Result<(), Exception> {
    if c.rflags & Rflags::NT.bits() != 0 {
        // TASK-RETURN outside IA-32e mode (task switching is not modeled);
        // #GP(0) in IA-32e mode.
        return Err(Exception::GP(0));
    }
    let sz = os as u64;
    let (ip, sel, temp) = pop_frame(c, os)?;
    let cpl = c.cpl();
    let lma = c.lma();
    if !lma && os == 4 && temp & Rflags::VM.bits() != 0 && cpl == 0 {
        return iret_to_v86(c, ip, sel, temp);
    }
    let cs = c.check_return_cs(sel)?;
    let rpl = (sel & 3) as u8;
    let target64 = c.long_target(&cs.seg);
    let outer = rpl > cpl;
    let ss: Option<(SegLoad, u64)> = if outer || c.in_long64() {
        let sp = c.peek(3 * sz, os)?;
        let ss_sel = c.peek(4 * sz, os)? as u16;
        let null_ok = target64 && rpl != 3;
        Some((c.check_stack_segment(ss_sel, rpl, null_ok, false)?, sp))
    } else {
        None
    };
    let rip = c.far_target_ip(&cs.seg, ip)?;
    let flags = iret_flags(c, temp, os, cpl);
    // Commit.
    match ss {
        Some((ss, sp)) => {
            let big = ss.seg.big();
            c.commit_segment(SegReg::Cs, cs);
            c.commit_segment(SegReg::Ss, ss);
            c.gpr[4] = if os == 8 || target64 {
                sp
            } else if big {
                sp & 0xFFFF_FFFF
            } else {
                (c.gpr[4] & !0xFFFF) | (sp & 0xFFFF)
            };
        }
        None => {
            c.set_sp(c.sp().wrapping_add(3 * sz));
            c.commit_segment(SegReg::Cs, cs);
        }
    }
    c.rip = rip;
    c.rflags = flags;
    if outer {
        c.invalidate_data_segments(rpl);
    }
    Ok(())
}

/// RETURN-TO-VIRTUAL-8086-MODE (IRETD at CPL 0, VM = 1 in the image):
/// pops ESP, SS, ES, DS, FS, GS after EIP, CS, EFLAGS and loads every
/// segment register the virtual-8086 way (base = selector · 16, limit
/// 0xFFFF). The new EIP must fit the 64-KByte virtual-8086 code segment
/// (#GP(0)).
fn iret_to_v86(c: &mut Cpu, ip: u64, cs: u16, temp: u64) -> Result<(), Exception> {
    if ip > 0xFFFF {
        return Err(Exception::GP(0));
    }
    let mut v = [0u64; 6];
    for (k, slot) in v.iter_mut().enumerate() {
        *slot = c.peek(12 + 4 * k as u64, 4)?;
    }
    let [esp, ss, es, ds, fs, gs] = v;
    c.rflags = (temp & EFLAGS_VALID) | Rflags::FIXED.bits();
    for (r, sel) in [
        (SegReg::Cs, cs),
        (SegReg::Ss, ss as u16),
        (SegReg::Es, es as u16),
        (SegReg::Ds, ds as u16),
        (SegReg::Fs, fs as u16),
        (SegReg::Gs, gs as u16),
    ] {
        c.seg[r as usize] = c.real_segment(r, sel);
    }
    c.gpr[4] = esp & 0xFFFF_FFFF;
    c.rip = ip;
    Ok(())
}
