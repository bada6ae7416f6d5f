//! Segment-register and descriptor-table instructions (SDM Vol. 2): MOV
//! to and from segment registers, PUSH/POP Sreg, LDS/LES/LFS/LGS/LSS, far
//! JMP/CALL (direct, through memory, through call gates), RETF and
//! RETF imm16, LGDT/LIDT, SGDT/SIDT, LLDT/SLDT, LTR/STR, LAR, LSL, VERR
//! and VERW. The descriptor checks live in [`crate::segmentation`].
//!
//! Modeling notes:
//! - MOV SS and POP SS inhibit interrupts and debug traps until the next
//!   instruction completes (SDM Vol. 2 MOV). sysgate does not model that
//!   shadow: nothing here records it. The decoder ends a block after
//!   these instructions, so whoever adds interrupt delivery between blocks
//!   must skip delivery right after a MOV SS/POP SS.
//! - Transfers through call gates record a [`TransitionKind::FarCall`]
//!   transition (stack switched when the CPL changes), RETF to an outer
//!   privilege level a [`TransitionKind::FarRet`].
//! - Task gates and TSS descriptors as far JMP/CALL targets would switch
//!   tasks, which sysgate does not support: they raise #GP(selector).
//! - PUSH Sreg with a 32- or 64-bit operand size decrements the stack
//!   pointer by 4 or 8. The SDM (PUSH) says recent Intel processors then
//!   write only the 16-bit selector, leaving the rest of the slot as it
//!   was; AMD processors write the selector zero-extended (checked on the
//!   AMD EPYC development host). sysgate follows the machine's vendor.
//!   A far CALL pushes CS zero-extended on both (the SDM's "padded").
//! - LAR's bits 19:16 are undefined by the SDM; sysgate returns the
//!   descriptor's limit bits 19:16 there (mask 0x00FFFF00), as the AMD
//!   EPYC development host does.
//! - LGDT/LIDT in 64-bit mode raise #GP(0) for a non-canonical base, as
//!   the AMD APM documents.
//! - An indirect far JMP/CALL with REX.W is decoded (by iced-x86) as
//!   Intel's m16:64 form on both vendors; AMD processors treat it as
//!   m16:32.

use iced_x86::{Instruction, MemorySize, Mnemonic, OpKind};

use super::opsize;
use crate::decode::{Handler, Insn, Opnd};
use crate::exception::Exception;
use crate::flags::{ZF, mask};
use crate::memory::{PhysLoc, addr_mask, is_canonical};
use crate::segmentation::{Descriptor, Fetched, SegLoad, is_null, sel_error, sys_type};
use crate::state::{Cpu, Cr4, SegReg, attr};
use crate::transition::TransitionKind;
use crate::vendor::Vendor;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let reg_is_sreg =
        |n: u32| ins.op_kind(n) == OpKind::Register && ins.op_register(n).is_segment_register();
    let op0_sreg = ins.op_count() > 0 && reg_is_sreg(0);
    let op1_sreg = ins.op_count() > 1 && reg_is_sreg(1);
    let far_ptr =
        ins.op_count() > 0 && matches!(ins.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32);
    let far_mem = ins.op_count() > 0
        && ins.op0_kind() == OpKind::Memory
        && matches!(
            ins.memory_size(),
            MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64
        );
    Some(match ins.mnemonic() {
        Mov if op0_sreg => mov_to_sreg,
        Mov if op1_sreg => mov_from_sreg,
        Push if op0_sreg => push_sreg,
        Pop if op0_sreg => pop_sreg,
        Les => load_far_pointer::<0>,
        Lss => load_far_pointer::<2>,
        Lds => load_far_pointer::<3>,
        Lfs => load_far_pointer::<4>,
        Lgs => load_far_pointer::<5>,
        Jmp if far_ptr => jmp_far_ptr,
        Jmp if far_mem => jmp_far_mem,
        Call if far_ptr => call_far_ptr,
        Call if far_mem => call_far_mem,
        Retf => retf,
        Lgdt => load_table::<false>,
        Lidt => load_table::<true>,
        Sgdt => store_table::<false>,
        Sidt => store_table::<true>,
        Lldt => lldt,
        Sldt => sldt,
        Ltr => ltr,
        Str => str_,
        Lar => lar,
        Lsl => lsl,
        Verr => verify::<false>,
        Verw => verify::<true>,
        _ => return None,
    })
}

/// The segment register named by operand `n`.
#[inline(always)]
fn sreg_operand(i: &Insn, n: usize) -> Result<SegReg, Exception> {
    match i.ops[n] {
        Opnd::Seg(s) => SegReg::from_index(s).ok_or(Exception::UD),
        _ => Err(Exception::UD),
    }
}

// ---------------------------------------------------------------------
// MOV, PUSH, POP, LDS/LES/LFS/LGS/LSS
// ---------------------------------------------------------------------

/// MOV Sreg, r/m16 (SDM Vol. 2 MOV): the low 16 bits of a register, or a
/// word in memory. MOV to CS is #UD.
extern "C" fn mov_to_sreg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let r = sreg_operand(i, 0)?;
    let sel = c.get(i, 1, 2)? as u16;
    let load = c.check_sreg_load(r, sel)?;
    c.commit_segment(r, load);
    Ok(())
}

/// MOV r/m, Sreg: a word to memory; to a 32/64-bit register the selector
/// zero-extended, to a 16-bit register the low word only.
extern "C" fn mov_from_sreg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let r = sreg_operand(i, 1)?;
    let v = c.seg[r as usize].selector as u64;
    c.put(i, 0, i.size, v)
}

/// PUSH Sreg: the stack pointer moves by the operand size; see the module
/// notes for what is written into a 4- or 8-byte slot.
extern "C" fn push_sreg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let r = sreg_operand(i, 0)?;
    let size = opsize(&i.ins, 2);
    let v = c.seg[r as usize].selector as u64;
    let sp = c.sp().wrapping_sub(size as u64) & mask(c.stack_size());
    let loc = c.locate_write(SegReg::Ss as u8, sp, size)?;
    if size > 2 && c.vendor == Vendor::Intel {
        let word = PhysLoc {
            first: loc.first.min(2),
            size: 2,
            ..loc
        };
        c.store(word, v);
    } else {
        c.store(loc, v);
    }
    c.set_sp(sp);
    Ok(())
}

/// POP Sreg (POP CS is #UD): the selector is the low word of the popped
/// operand; the stack pointer moves by the operand size of the old stack.
extern "C" fn pop_sreg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let r = sreg_operand(i, 0)?;
    if r == SegReg::Cs {
        return Err(Exception::UD);
    }
    let size = opsize(&i.ins, 2);
    let sel = c.peek(0, size)? as u16;
    let load = c.check_sreg_load(r, sel)?;
    c.set_sp(c.sp().wrapping_add(size as u64));
    c.commit_segment(r, load);
    Ok(())
}

/// Reads a far pointer `offset:selector` with an offset of `osize` bytes
/// from the instruction's memory operand.
fn read_far_pointer(c: &mut Cpu, i: &Insn, osize: u8) -> Result<(u64, u16), Exception> {
    if !matches!(osize, 2 | 4 | 8) {
        return Err(Exception::UD);
    }
    let off = c.ea(i);
    let v = c.read_mem(i.mem.seg, off, osize)?;
    let sel_off = off.wrapping_add(osize as u64) & addr_mask(i.mem.asize);
    let sel = c.read_mem(i.mem.seg, sel_off, 2)? as u16;
    Ok((v, sel))
}

/// LES/LSS/LDS/LFS/LGS r, m16:16/32/64 (segment register `S` in encoding
/// order). LDS and LES do not exist in 64-bit mode.
extern "C" fn load_far_pointer<const S: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if (S == SegReg::Es as u8 || S == SegReg::Ds as u8) && c.in_long64() {
        return Err(Exception::UD);
    }
    let (Opnd::Reg(dst), Some(r)) = (i.ops[0], SegReg::from_index(S)) else {
        return Err(Exception::UD);
    };
    let osize = i.size;
    let (off, sel) = read_far_pointer(c, i, osize)?;
    let load = c.check_sreg_load(r, sel)?;
    c.commit_segment(r, load);
    c.wr(dst, osize, off);
    Ok(())
}

// ---------------------------------------------------------------------
// Far JMP, CALL, RET
// ---------------------------------------------------------------------

/// Stack writes checked before they are committed.
struct Pushes {
    locs: [PhysLoc; 4],
    vals: [u64; 4],
    n: usize,
    size: u8,
    sp: u64,
}

const NO_LOC: PhysLoc = PhysLoc {
    pa: 0,
    pa2: 0,
    first: 0,
    size: 0,
};

/// Checks pushes of `vals` (first pushed first) of `size` bytes each on
/// the current stack: #SS(0) or #PF before anything is written.
fn plan_pushes(c: &mut Cpu, vals: &[u64], size: u8) -> Result<Pushes, Exception> {
    let sm = mask(c.stack_size());
    let mut p = Pushes {
        locs: [NO_LOC; 4],
        vals: [0; 4],
        n: vals.len().min(4),
        size,
        sp: c.sp(),
    };
    for (k, &v) in vals.iter().take(4).enumerate() {
        p.sp = p.sp.wrapping_sub(size as u64) & sm;
        p.locs[k] = c.locate_write(SegReg::Ss as u8, p.sp, size)?;
        p.vals[k] = v;
    }
    Ok(p)
}

/// Writes checked pushes and moves the stack pointer (call before CS or
/// SS change: the stack size is the current one).
fn commit_pushes(c: &mut Cpu, p: &Pushes) {
    for (loc, v) in p.locs.iter().zip(p.vals).take(p.n) {
        c.store(*loc, v & mask(p.size));
    }
    c.set_sp(p.sp);
}

extern "C" fn jmp_far_ptr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (off, osize) = direct_target(i);
    far_jump(c, i, i.ins.far_branch_selector(), off, osize)
}

extern "C" fn jmp_far_mem(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let osize = i.size.wrapping_sub(2);
    let (off, sel) = read_far_pointer(c, i, osize)?;
    far_jump(c, i, sel, off, osize)
}

extern "C" fn call_far_ptr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (off, osize) = direct_target(i);
    far_call(c, i, i.ins.far_branch_selector(), off, osize)
}

extern "C" fn call_far_mem(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let osize = i.size.wrapping_sub(2);
    let (off, sel) = read_far_pointer(c, i, osize)?;
    far_call(c, i, sel, off, osize)
}

/// The offset and operand size of a ptr16:16 / ptr16:32 operand.
fn direct_target(i: &Insn) -> (u64, u8) {
    if i.ins.op0_kind() == OpKind::FarBranch16 {
        (i.ins.far_branch16() as u64, 2)
    } else {
        (i.ins.far_branch32() as u64, 4)
    }
}

/// Far JMP (SDM Vol. 2 JMP "Operation").
fn far_jump(c: &mut Cpu, i: &Insn, sel: u16, off: u64, osize: u8) -> Result<(), Exception> {
    let off = off & mask(osize);
    if !c.protected() {
        // Real-address or virtual-8086 mode: the limit is the current one
        // (a real-mode load leaves it unchanged).
        if off > c.seg[SegReg::Cs as usize].limit as u64 {
            return Err(Exception::GP(0));
        }
        c.seg[SegReg::Cs as usize] = c.real_segment(SegReg::Cs, sel);
        c.rip = off;
        return Ok(());
    }
    if is_null(sel) {
        return Err(Exception::GP(0));
    }
    let f = c.read_descriptor(sel)?;
    if f.desc.system() {
        return through_gate(c, i, sel, f, None);
    }
    let cs = c.check_code_direct(sel, &f)?;
    let rip = c.far_target_ip(&cs.seg, off)?;
    c.commit_segment(SegReg::Cs, cs);
    c.rip = rip;
    Ok(())
}

/// Far CALL (SDM Vol. 2 CALL "Operation"): pushes CS then the return
/// offset at the operand size.
fn far_call(c: &mut Cpu, i: &Insn, sel: u16, off: u64, osize: u8) -> Result<(), Exception> {
    let off = off & mask(osize);
    let old_cs = c.seg[SegReg::Cs as usize].selector as u64;
    let ret = i.next_ip();
    if !c.protected() {
        if off > c.seg[SegReg::Cs as usize].limit as u64 {
            return Err(Exception::GP(0));
        }
        let p = plan_pushes(c, &[old_cs, ret], osize)?;
        commit_pushes(c, &p);
        c.seg[SegReg::Cs as usize] = c.real_segment(SegReg::Cs, sel);
        c.rip = off;
        return Ok(());
    }
    if is_null(sel) {
        return Err(Exception::GP(0));
    }
    let f = c.read_descriptor(sel)?;
    if f.desc.system() {
        return through_gate(c, i, sel, f, Some(ret));
    }
    let cs = c.check_code_direct(sel, &f)?;
    let p = plan_pushes(c, &[old_cs, ret], osize)?;
    let rip = c.far_target_ip(&cs.seg, off)?;
    commit_pushes(c, &p);
    c.commit_segment(SegReg::Cs, cs);
    c.rip = rip;
    Ok(())
}

/// A far JMP (`ret` = None) or CALL (`ret` = the return offset) to the
/// system descriptor `f` selected by `gsel`: call gates are followed
/// (SDM Vol. 2 JMP/CALL CALL-GATE, Vol. 3 §5.8.3-§5.8.6); task gates and
/// TSS descriptors (task switches) and anything else are #GP(selector).
fn through_gate(
    c: &mut Cpu,
    i: &Insn,
    gsel: u16,
    mut f: Fetched,
    ret: Option<u64>,
) -> Result<(), Exception> {
    let ge = Exception::GP(sel_error(gsel));
    let lma = c.lma();
    let gate_size: u8 = match (f.desc.ty(), lma) {
        (sys_type::CALL_GATE, true) => 8,
        (sys_type::CALL_GATE, false) => 4,
        (sys_type::CALL_GATE16, false) => 2,
        _ => return Err(ge),
    };
    if gate_size == 8 {
        c.read_descriptor_upper(gsel, &mut f, ge)?;
    }
    let gate = f.desc;
    let cpl = c.cpl();
    if gate.dpl() < cpl || gate.dpl() < (gsel & 3) as u8 {
        return Err(ge);
    }
    if !gate.present() {
        return Err(Exception::NP(sel_error(gsel)));
    }
    let csel = gate.gate_selector();
    if is_null(csel) {
        return Err(Exception::GP(0));
    }
    let ce = sel_error(csel);
    let cf = c.read_descriptor(csel)?;
    let cd = cf.desc;
    let dpl = cd.dpl();
    let privilege_ok = if ret.is_some() || cd.conforming_code() {
        dpl <= cpl
    } else {
        dpl == cpl
    };
    if !cd.is_code() || !privilege_ok || (lma && (!cd.long() || cd.big())) {
        return Err(Exception::GP(ce));
    }
    if !cd.present() {
        return Err(Exception::NP(ce));
    }
    let mut off = gate.gate_offset(gate_size == 8);
    if gate_size == 2 {
        off &= 0xFFFF;
    }
    let accessed = c.accessed_slot(&cf)?;
    let inner = ret.is_some() && !cd.conforming_code() && dpl < cpl;
    let new_cpl = if inner { dpl } else { cpl };
    let cs = SegLoad {
        seg: cd.segment((csel & !3) | new_cpl as u16),
        accessed,
    };
    let b = c.before(i.ip());
    let Some(ret) = ret else {
        let rip = c.far_target_ip(&cs.seg, off)?;
        c.commit_segment(SegReg::Cs, cs);
        c.rip = rip;
        c.record(TransitionKind::FarCall, b, false);
        return Ok(());
    };
    if inner {
        call_gate_inner(c, &gate, gate_size, cs, off, ret)?;
        c.record(TransitionKind::FarCall, b, true);
        return Ok(());
    }
    // SAME-PRIVILEGE: CS and the return offset at the gate size.
    let old_cs = c.seg[SegReg::Cs as usize].selector as u64;
    if gate_size == 8 {
        // The target runs in 64-bit mode: the pushes use the full RSP.
        let rsp = c.gpr[4];
        let user = cpl == 3;
        let fault = Exception::SS(0);
        let ss = c.seg[SegReg::Ss as usize];
        let l1 = c.stack_slot(&ss, true, rsp.wrapping_sub(8), 8, user, fault)?;
        let l2 = c.stack_slot(&ss, true, rsp.wrapping_sub(16), 8, user, fault)?;
        let rip = c.far_target_ip(&cs.seg, off)?;
        c.store(l1, old_cs);
        c.store(l2, ret);
        c.gpr[4] = rsp.wrapping_sub(16);
        c.commit_segment(SegReg::Cs, cs);
        c.rip = rip;
        c.record(TransitionKind::FarCall, b, false);
        return Ok(());
    }
    let p = plan_pushes(c, &[old_cs, ret], gate_size)?;
    let rip = c.far_target_ip(&cs.seg, off)?;
    commit_pushes(c, &p);
    c.commit_segment(SegReg::Cs, cs);
    c.rip = rip;
    c.record(TransitionKind::FarCall, b, false);
    Ok(())
}

/// CALL through a call gate to a more privileged non-conforming code
/// segment (SDM Vol. 2 CALL MORE-PRIVILEGE): switch to the inner stack
/// from the TSS, push the caller's SS and stack pointer, copy the gate's
/// parameter count of parameters (16/32-bit gates), push CS and the return
/// offset; all at the gate size.
fn call_gate_inner(
    c: &mut Cpu,
    gate: &Descriptor,
    gate_size: u8,
    cs: SegLoad,
    off: u64,
    ret: u64,
) -> Result<(), Exception> {
    let new_cpl = cs.seg.rpl();
    let (ss_sel, new_sp) = c.tss_stack(new_cpl)?;
    let sz = gate_size as u64;
    let old = [
        c.seg[SegReg::Ss as usize].selector as u64,
        c.gpr[4] & mask(gate_size),
        c.seg[SegReg::Cs as usize].selector as u64,
        ret & mask(gate_size),
    ];
    if gate_size == 8 {
        // 64-bit TSS: SS becomes null with RPL = new CPL; no parameters.
        let ss = SegLoad::plain(c.null_segment(SegReg::Ss, ss_sel, new_cpl));
        let mut locs = [NO_LOC; 4];
        for (k, loc) in locs.iter_mut().enumerate() {
            let a = new_sp.wrapping_sub(8 * (k as u64 + 1));
            *loc = c.stack_slot(&ss.seg, true, a, 8, false, Exception::SS(0))?;
        }
        let rip = c.far_target_ip(&cs.seg, off)?;
        for (loc, v) in locs.iter().zip(old) {
            c.store(*loc, v);
        }
        c.commit_segment(SegReg::Cs, cs);
        c.commit_segment(SegReg::Ss, ss);
        c.gpr[4] = new_sp.wrapping_sub(32);
        c.rip = rip;
        return Ok(());
    }
    let ss = c.check_stack_segment(ss_sel, new_cpl, false, true)?;
    let n = gate.gate_params() as usize;
    // Parameters from the caller's stack, read at the caller's privilege.
    let mut params = [0u64; 32];
    for (k, p) in params.iter_mut().enumerate().take(n) {
        *p = c.peek(k as u64 * sz, gate_size)?;
    }
    let sm = if ss.seg.big() { 0xFFFF_FFFF } else { 0xFFFF };
    let fault = Exception::SS(sel_error(ss_sel));
    // Slots from the top of the new stack: SS, ESP, parameters n-1..0,
    // CS, EIP.
    let total = n + 4;
    let mut locs = [NO_LOC; 36];
    let mut vals = [0u64; 36];
    for (j, (loc, val)) in locs.iter_mut().zip(vals.iter_mut()).take(total).enumerate() {
        *val = match j {
            0 | 1 => old[j],
            _ if j < n + 2 => params[n + 1 - j],
            _ => old[j - n],
        };
        let a = new_sp.wrapping_sub(sz * (j as u64 + 1)) & sm;
        *loc = c.stack_slot(&ss.seg, false, a, gate_size, false, fault)?;
    }
    let rip = c.far_target_ip(&cs.seg, off)?;
    for (loc, val) in locs.iter().zip(vals).take(total) {
        c.store(*loc, val);
    }
    let final_sp = new_sp.wrapping_sub(sz * total as u64) & sm;
    c.commit_segment(SegReg::Cs, cs);
    let big = ss.seg.big();
    c.commit_segment(SegReg::Ss, ss);
    c.gpr[4] = if big {
        final_sp
    } else {
        (c.gpr[4] & !0xFFFF) | final_sp
    };
    c.rip = rip;
    Ok(())
}

/// RETF and RETF imm16 (SDM Vol. 2 RET "Operation", far return): to the
/// same privilege level, or to an outer one (RPL > CPL) popping SS and
/// the stack pointer too, checking SS for the new CPL and nulling DS, ES,
/// FS and GS the new CPL may not use. The immediate is added to the stack
/// pointer after CS:EIP are popped and, for an outer return, again on the
/// new stack.
extern "C" fn retf(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let osize = opsize(&i.ins, 2);
    let sz = osize as u64;
    let imm = if i.ops[0] == Opnd::Imm {
        i.imm & 0xFFFF
    } else {
        0
    };
    let ip = c.peek(0, osize)? & mask(osize);
    let sel = c.peek(sz, osize)? as u16;
    if !c.protected() {
        if ip > c.seg[SegReg::Cs as usize].limit as u64 {
            return Err(Exception::GP(0));
        }
        c.set_sp(c.sp().wrapping_add(2 * sz + imm));
        c.seg[SegReg::Cs as usize] = c.real_segment(SegReg::Cs, sel);
        c.rip = ip;
        return Ok(());
    }
    let cpl = c.cpl();
    let cs = c.check_return_cs(sel)?;
    let rpl = (sel & 3) as u8;
    if rpl == cpl {
        let rip = c.far_target_ip(&cs.seg, ip)?;
        c.set_sp(c.sp().wrapping_add(2 * sz + imm));
        c.commit_segment(SegReg::Cs, cs);
        c.rip = rip;
        return Ok(());
    }
    // RETURN-TO-OUTER-PRIVILEGE-LEVEL.
    let b = c.before(i.ip());
    let base = 2 * sz + imm;
    let new_sp = c.peek(base, osize)?;
    let ss_sel = c.peek(base + sz, osize)? as u16;
    let target64 = c.long_target(&cs.seg);
    // IA-32e mode: a null SS is allowed when returning to 64-bit code at
    // CPL < 3.
    let ss = c.check_stack_segment(ss_sel, rpl, target64 && rpl != 3, false)?;
    let rip = c.far_target_ip(&cs.seg, ip)?;
    let big = ss.seg.big();
    c.commit_segment(SegReg::Cs, cs);
    c.commit_segment(SegReg::Ss, ss);
    let v = new_sp.wrapping_add(imm);
    c.gpr[4] = if target64 {
        v
    } else if big {
        v & 0xFFFF_FFFF
    } else {
        (c.gpr[4] & !0xFFFF) | (v & 0xFFFF)
    };
    c.rip = rip;
    c.invalidate_data_segments(rpl);
    c.record(TransitionKind::FarRet, b, false);
    Ok(())
}

// ---------------------------------------------------------------------
// Descriptor-table registers
// ---------------------------------------------------------------------

/// #GP(0) for SGDT/SIDT/SLDT/STR at CPL > 0 with CR4.UMIP set.
fn umip_check(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr4 & Cr4::UMIP.bits() != 0 && c.cpl() > 0 {
        return Err(Exception::GP(0));
    }
    Ok(())
}

/// LGDT/LIDT m16&32 (m16&64 in 64-bit mode): CPL 0 only (#GP(0); so
/// #GP(0) in virtual-8086 mode); a 16-bit operand size keeps 24 bits of
/// the base.
extern "C" fn load_table<const IDT: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    let off = c.ea(i);
    let seg = i.mem.seg;
    let limit = c.read_mem(seg, off, 2)? as u16;
    let base_off = off.wrapping_add(2) & addr_mask(i.mem.asize);
    let base = if c.in_long64() {
        let b = c.read_mem(seg, base_off, 8)?;
        if !is_canonical(b) {
            return Err(Exception::GP(0));
        }
        b
    } else {
        let b = c.read_mem(seg, base_off, 4)?;
        if opsize(&i.ins, 4) == 2 {
            b & 0xFF_FFFF
        } else {
            b
        }
    };
    let t = if IDT { &mut c.idtr } else { &mut c.gdtr };
    t.limit = limit;
    t.base = base;
    Ok(())
}

/// SGDT/SIDT: the limit, then a 32-bit base (all 32 bits even with a
/// 16-bit operand size on IA-32 processors) or a 64-bit base in 64-bit
/// mode.
extern "C" fn store_table<const IDT: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    umip_check(c)?;
    let t = if IDT { c.idtr } else { c.gdtr };
    let bsize = if c.in_long64() { 8 } else { 4 };
    let off = c.ea(i);
    let seg = i.mem.seg;
    let l1 = c.locate_write(seg, off, 2)?;
    let l2 = c.locate_write(seg, off.wrapping_add(2) & addr_mask(i.mem.asize), bsize)?;
    c.store(l1, t.limit as u64);
    c.store(l2, t.base & mask(bsize));
    Ok(())
}

/// The common checks of LLDT and LTR: protected mode (#UD otherwise),
/// CPL 0 (#GP(0)), a GDT selector (#GP(selector)); reads the 8-byte (16
/// in IA-32e mode) descriptor.
fn system_selector(c: &mut Cpu, i: &Insn) -> Result<(u16, Option<Fetched>), Exception> {
    if !c.protected() {
        return Err(Exception::UD);
    }
    if c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    let sel = c.get(i, 0, 2)? as u16;
    if is_null(sel) {
        return Ok((sel, None));
    }
    let e = Exception::GP(sel_error(sel));
    if sel & 4 != 0 {
        return Err(e);
    }
    let mut f = c.read_descriptor_or(sel, e)?;
    if c.lma() {
        c.read_descriptor_upper(sel, &mut f, e)?;
    }
    Ok((sel, Some(f)))
}

/// LLDT r/m16 (SDM Vol. 2 LLDT): an LDT descriptor in the GDT
/// (#GP(selector) otherwise, #NP(selector) when not present); a null
/// selector leaves the LDTR unusable.
extern "C" fn lldt(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (sel, f) = system_selector(c, i)?;
    let Some(f) = f else {
        c.ldtr.selector = sel;
        c.ldtr.attr |= attr::UNUSABLE;
        return Ok(());
    };
    let d = f.desc;
    if !d.system() || d.ty() != sys_type::LDT {
        return Err(Exception::GP(sel_error(sel)));
    }
    if !d.present() {
        return Err(Exception::NP(sel_error(sel)));
    }
    let lma = c.lma();
    c.ldtr = d.system_segment(sel, lma);
    Ok(())
}

/// LTR r/m16 (SDM Vol. 2 LTR): null is #GP(0); the descriptor must be an
/// available TSS in the GDT (#GP(selector); 64-bit TSS in IA-32e mode),
/// present (#NP(selector)); it is marked busy in memory.
extern "C" fn ltr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (sel, f) = system_selector(c, i)?;
    let Some(f) = f else {
        return Err(Exception::GP(0));
    };
    let d = f.desc;
    let lma = c.lma();
    let available = d.ty() == sys_type::TSS_AVAIL || (!lma && d.ty() == sys_type::TSS16_AVAIL);
    if !d.system() || !available {
        return Err(Exception::GP(sel_error(sel)));
    }
    if !d.present() {
        return Err(Exception::NP(sel_error(sel)));
    }
    let busy = c.system_loc(f.lin.wrapping_add(5), 1, sysgate_mmu::AccessKind::Write)?;
    let b = c.load(busy);
    c.store(busy, b | 2);
    let mut tr = d.system_segment(sel, lma);
    tr.attr |= 2;
    c.tr = tr;
    Ok(())
}

/// Stores a system selector (SLDT, STR): #UD outside protected mode, UMIP.
fn store_selector(c: &mut Cpu, i: &Insn, sel: u16) -> Result<(), Exception> {
    if !c.protected() {
        return Err(Exception::UD);
    }
    umip_check(c)?;
    c.put(i, 0, i.size, sel as u64)
}

extern "C" fn sldt(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    store_selector(c, i, c.ldtr.selector)
}

extern "C" fn str_(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    store_selector(c, i, c.tr.selector)
}

// ---------------------------------------------------------------------
// LAR, LSL, VERR, VERW
// ---------------------------------------------------------------------

/// The descriptor `sel` names if the instruction may see it: not null,
/// within its table, of a type `ok` accepts, and (unless conforming code)
/// with DPL >= CPL and DPL >= RPL. Page faults on the table propagate.
fn visible(
    c: &mut Cpu,
    sel: u16,
    ok: fn(&Descriptor, bool) -> bool,
) -> Result<Option<Descriptor>, Exception> {
    if is_null(sel) {
        return Ok(None);
    }
    let Some(lin) = c.descriptor_address(sel, 8) else {
        return Ok(None);
    };
    let d = Descriptor {
        lo: c.system_read(lin, 8)?,
        hi: 0,
    };
    let rpl = (sel & 3) as u8;
    if !ok(&d, c.lma()) || (!d.conforming_code() && (d.dpl() < c.cpl() || d.dpl() < rpl)) {
        return Ok(None);
    }
    Ok(Some(d))
}

/// Descriptor types LAR reports (SDM Vol. 2 LAR, Table 3-51).
fn lar_type(d: &Descriptor, lma: bool) -> bool {
    if !d.system() {
        return true;
    }
    match d.ty() {
        sys_type::LDT | sys_type::TSS_AVAIL | sys_type::TSS_BUSY | sys_type::CALL_GATE => true,
        sys_type::TSS16_AVAIL
        | sys_type::TSS16_BUSY
        | sys_type::CALL_GATE16
        | sys_type::TASK_GATE => !lma,
        _ => false,
    }
}

/// Descriptor types LSL reports (SDM Vol. 2 LSL, Table 3-63).
fn lsl_type(d: &Descriptor, lma: bool) -> bool {
    if !d.system() {
        return true;
    }
    match d.ty() {
        sys_type::LDT | sys_type::TSS_AVAIL | sys_type::TSS_BUSY => true,
        sys_type::TSS16_AVAIL | sys_type::TSS16_BUSY => !lma,
        _ => false,
    }
}

fn set_zf(c: &mut Cpu, on: bool) {
    c.rflags = (c.rflags & !ZF) | if on { ZF } else { 0 };
}

/// Shared body of LAR and LSL: ZF = 1 and the destination written when the
/// descriptor is visible, else ZF = 0 and the destination unchanged.
fn lar_lsl(
    c: &mut Cpu,
    i: &Insn,
    ok: fn(&Descriptor, bool) -> bool,
    value: fn(&Descriptor) -> u64,
) -> Result<(), Exception> {
    if !c.protected() {
        return Err(Exception::UD);
    }
    let Opnd::Reg(dst) = i.ops[0] else {
        return Err(Exception::UD);
    };
    let sel = c.get(i, 1, 2)? as u16;
    match visible(c, sel, ok)? {
        Some(d) => {
            c.wr(dst, i.size, value(&d) & mask(i.size));
            set_zf(c, true);
        }
        None => set_zf(c, false),
    }
    Ok(())
}

/// LAR: access rights, the second descriptor doubleword masked with
/// 0x00FFFF00 (see the module notes for bits 19:16).
extern "C" fn lar(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    lar_lsl(c, i, lar_type, |d| (d.lo >> 32) & 0x00FF_FF00)
}

/// LSL: the segment limit in bytes (scaled by G).
extern "C" fn lsl(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    lar_lsl(c, i, lsl_type, |d| d.limit() as u64)
}

/// VERR (`W` = false: data or readable code) and VERW (`W` = true:
/// writable data), with the LAR privilege rule; only ZF changes.
extern "C" fn verify<const W: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if !c.protected() {
        return Err(Exception::UD);
    }
    let sel = c.get(i, 0, 2)? as u16;
    let ok: fn(&Descriptor, bool) -> bool = if W {
        |d, _| d.writable_data()
    } else {
        |d, _| d.readable()
    };
    let v = visible(c, sel, ok)?;
    set_zf(c, v.is_some());
    Ok(())
}
