//! x87 FPU: register-stack helpers, availability and pending-exception
//! checks, data transfer (FLD, FST, FILD, FIST, FISTTP, FBLD, FBSTP, the
//! constants, FXCH, FCMOVcc) and the control instructions (FLDCW,
//! FSTCW, FSTSW, FCLEX, FINIT, FFREE, FINCSTP, FDECSTP, FWAIT, FNOP)
//! (SDM Vol. 1 ch. 8, Vol. 2 instruction pages).
//!
//! Arithmetic and comparisons live in `x87_arith`, the environment and
//! state images in `x87_env`; values are computed by
//! [`crate::softfloat80`].
//!
//! Availability (SDM Vol. 3 §2.5, Table 2-2): CR0.EM = 1 or CR0.TS = 1
//! gives #NM for every x87 instruction; WAIT/FWAIT gives #NM only when
//! CR0.MP = 1 and CR0.TS = 1. A pending unmasked exception (FSW.ES) is
//! reported as #MF by the next waiting instruction (all but FNINIT,
//! FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE) when CR0.NE = 1; with
//! CR0.NE = 0 (external FERR# reporting, not modeled) no #MF is raised.

use iced_x86::{Code, Instruction, Register};

use super::{x87_arith, x87_env};
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::fpu::{F80, FpuState};
use crate::softfloat80::{self as sf, Env, IE, INDEFINITE, convert};
use crate::state::{Cpu, Cr0, SegReg};

/// Stack fault (FSW bit 6).
pub(super) const SF: u16 = 1 << 6;
/// Exception summary status (FSW bit 7).
pub(super) const ES: u16 = 1 << 7;
/// Condition code C0.
pub(super) const C0: u16 = 1 << 8;
/// Condition code C1.
pub(super) const C1: u16 = 1 << 9;
/// Condition code C2.
pub(super) const C2: u16 = 1 << 10;
/// Condition code C3.
pub(super) const C3: u16 = 1 << 14;
/// FPU busy (FSW bit 15, mirrors ES).
pub(super) const B: u16 = 1 << 15;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Code::*;
    Some(match ins.code() {
        Fld_m32fp => fld_mem::<4>,
        Fld_m64fp => fld_mem::<8>,
        Fld_m80fp => fld_mem::<10>,
        Fld_sti => fld_sti,
        Fild_m16int => fild::<2>,
        Fild_m32int => fild::<4>,
        Fild_m64int => fild::<8>,
        Fbld_m80bcd => fbld,
        Fld1 => fld_const::<0>,
        Fldl2t => fld_const::<1>,
        Fldl2e => fld_const::<2>,
        Fldpi => fld_const::<3>,
        Fldlg2 => fld_const::<4>,
        Fldln2 => fld_const::<5>,
        Fldz => fld_const::<6>,
        Fst_m32fp => fst_mem::<4, false>,
        Fstp_m32fp => fst_mem::<4, true>,
        Fst_m64fp => fst_mem::<8, false>,
        Fstp_m64fp => fst_mem::<8, true>,
        Fstp_m80fp => fst_mem::<10, true>,
        Fst_sti => fst_sti::<false>,
        Fstp_sti | Fstp_sti_DFD0 | Fstp_sti_DFD8 | Fstpnce_sti => fst_sti::<true>,
        Fist_m16int => fist::<2, 0>,
        Fist_m32int => fist::<4, 0>,
        Fistp_m16int => fist::<2, 1>,
        Fistp_m32int => fist::<4, 1>,
        Fistp_m64int => fist::<8, 1>,
        Fisttp_m16int => fist::<2, 2>,
        Fisttp_m32int => fist::<4, 2>,
        Fisttp_m64int => fist::<8, 2>,
        Fbstp_m80bcd => fbstp,
        Fxch_st0_sti | Fxch_st0_sti_DDC8 | Fxch_st0_sti_DFC8 => fxch,
        Fcmovb_st0_sti => fcmov::<0>,
        Fcmove_st0_sti => fcmov::<1>,
        Fcmovbe_st0_sti => fcmov::<2>,
        Fcmovu_st0_sti => fcmov::<3>,
        Fcmovnb_st0_sti => fcmov::<4>,
        Fcmovne_st0_sti => fcmov::<5>,
        Fcmovnbe_st0_sti => fcmov::<6>,
        Fcmovnu_st0_sti => fcmov::<7>,
        Fldcw_m2byte => fldcw,
        Fnstcw_m2byte => fstcw::<false>,
        Fstcw_m2byte => fstcw::<true>,
        Fnstsw_m2byte => fstsw_mem::<false>,
        Fstsw_m2byte => fstsw_mem::<true>,
        Fnstsw_AX => fstsw_ax::<false>,
        Fstsw_AX => fstsw_ax::<true>,
        Fnclex => fclex::<false>,
        Fclex => fclex::<true>,
        Fninit => finit::<false>,
        Finit => finit::<true>,
        Ffree_sti => ffree::<false>,
        Ffreep_sti => ffree::<true>,
        Fincstp => fincdec::<1>,
        Fdecstp => fincdec::<7>,
        Wait => fwait,
        Fnop => fnop::<true>,
        // 8087/287 control instructions: no-ops on later processors.
        Feni | Fdisi | Fsetpm => fnop::<true>,
        Fneni | Fndisi | Fnsetpm => fnop::<false>,
        _ => return x87_arith::lookup(ins).or_else(|| x87_env::lookup(ins)),
    })
}

// ---------------------------------------------------------------------
// Availability and pending exceptions

/// #NM when CR0.EM or CR0.TS is set.
#[inline(always)]
pub(super) fn avail(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & (Cr0::EM.bits() | Cr0::TS.bits()) != 0 {
        return Err(Exception::NM);
    }
    Ok(())
}

/// The entry checks of a waiting x87 instruction: #NM, then #MF for a
/// pending unmasked exception (CR0.NE = 1).
#[inline(always)]
pub(super) fn enter(c: &Cpu) -> Result<(), Exception> {
    avail(c)?;
    if c.fpu.fsw & ES != 0 && c.ctrl.cr0 & Cr0::NE.bits() != 0 {
        return Err(Exception::MF);
    }
    Ok(())
}

/// Recomputes ES and B from the exception flags and masks (after FLDCW,
/// FLDENV, FRSTOR).
pub(super) fn update_es(f: &mut FpuState) {
    if f.fsw & !f.fcw & 0x3F != 0 {
        f.fsw |= ES | B;
    } else {
        f.fsw &= !(ES | B);
    }
}

// ---------------------------------------------------------------------
// Register stack

/// TOP.
#[inline(always)]
pub(super) fn top(c: &Cpu) -> usize {
    usize::from((c.fpu.fsw >> 11) & 7)
}

/// The physical register of ST(i).
#[inline(always)]
pub(super) fn phys(c: &Cpu, i: usize) -> usize {
    (top(c) + i) & 7
}

/// True when ST(i) is empty.
#[inline(always)]
pub(super) fn empty(c: &Cpu, i: usize) -> bool {
    (c.fpu.ftw >> (2 * phys(c, i))) & 3 == 3
}

/// ST(i).
#[inline(always)]
pub(super) fn st(c: &Cpu, i: usize) -> F80 {
    c.fpu.st[phys(c, i)]
}

/// Writes ST(i) and its tag.
#[inline(always)]
pub(super) fn set_st(c: &mut Cpu, i: usize, v: F80) {
    let p = phys(c, i);
    c.fpu.st[p] = v;
    let t = FpuState::tag_from_contents(v);
    c.fpu.ftw = (c.fpu.ftw & !(3 << (2 * p))) | (t << (2 * p));
}

fn set_top(c: &mut Cpu, t: usize) {
    c.fpu.fsw = (c.fpu.fsw & !0x3800) | (((t & 7) as u16) << 11);
}

/// Pushes `v` (the caller checked for overflow).
#[inline(always)]
pub(super) fn push(c: &mut Cpu, v: F80) {
    let t = top(c).wrapping_sub(1) & 7;
    set_top(c, t);
    set_st(c, 0, v);
}

/// Pops ST(0): its tag becomes empty and TOP advances.
#[inline(always)]
pub(super) fn pop(c: &mut Cpu) {
    let p = top(c);
    c.fpu.ftw |= 3 << (2 * p);
    set_top(c, p + 1);
}

/// Raises a stack fault: IE and SF, C1 = 1 for overflow and 0 for
/// underflow. Returns true when IE is masked (the caller then delivers
/// the masked response).
pub(super) fn stack_fault(c: &mut Cpu, overflow: bool) -> bool {
    let f = &mut c.fpu;
    f.fsw = (f.fsw & !C1) | IE | SF | if overflow { C1 } else { 0 };
    if f.fcw & IE == 0 {
        f.fsw |= ES | B;
        return false;
    }
    true
}

/// Folds an operation's flags into FSW: exception flags are sticky, C1
/// is replaced, ES and B are set for unmasked exceptions.
#[inline(always)]
pub(super) fn finish(c: &mut Cpu, env: &Env) {
    let f = &mut c.fpu;
    f.fsw = (f.fsw & !C1) | (env.flags & (0x3F | C1));
    if env.unmasked() != 0 {
        f.fsw |= ES | B;
    }
}

/// The environment of an operation under the current control word.
#[inline(always)]
pub(super) fn env(c: &Cpu) -> Env {
    Env::from_fcw(c.fpu.fcw)
}

/// The ST(i) index named by a register-form instruction (0 when both
/// operands are ST(0) or there is none).
fn sti(ins: &Instruction) -> usize {
    let mut n = 0;
    for k in 0..ins.op_count() {
        let r = ins.op_register(k);
        if (Register::ST0..=Register::ST7).contains(&r) {
            n = n.max(r as usize - Register::ST0 as usize);
        }
    }
    n
}

// ---------------------------------------------------------------------
// FOP, FIP, FDP

/// The ModR/M byte of a memory operand with reg field `reg`, rebuilt
/// from the decoded addressing form.
fn modrm_mem(ins: &Instruction, reg: u8) -> u8 {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let disp = ins.memory_displ_size();
    let (md, rm) = if base.size() == 2 || (base == Register::None && index.size() == 2) {
        // 16-bit addressing (SDM Vol. 2 Table 2-1).
        let rm = match (base, index) {
            (Register::BX, Register::SI) => 0,
            (Register::BX, Register::DI) => 1,
            (Register::BP, Register::SI) => 2,
            (Register::BP, Register::DI) => 3,
            (Register::SI, _) | (Register::None, Register::SI) => 4,
            (Register::DI, _) | (Register::None, Register::DI) => 5,
            (Register::BP, _) => 6,
            _ => 7,
        };
        if base == Register::None && index == Register::None {
            (0, 6)
        } else {
            (
                match disp {
                    0 => 0,
                    1 => 1,
                    _ => 2,
                },
                rm,
            )
        }
    } else if matches!(base, Register::RIP | Register::EIP) {
        (0, 5)
    } else {
        let md = if base == Register::None {
            0
        } else {
            match disp {
                0 => 0,
                1 => 1,
                _ => 2,
            }
        };
        let rm = if index != Register::None
            || base == Register::None && disp != 0 && ins.code_size() == iced_x86::CodeSize::Code64
        {
            4
        } else if base == Register::None {
            5
        } else {
            let n = base.number() & 7;
            if n == 4 { 4 } else { n as u8 }
        };
        (md, rm)
    };
    (md << 6) | (reg << 3) | rm
}

/// The 11-bit FOP of an x87 instruction (SDM Vol. 1 §8.1.8): the low
/// three bits of the first opcode byte and the ModR/M byte; `None` for
/// other instructions. Computed once at decode time and kept in
/// [`Insn::imm`] (x87 instructions have no immediate); for register forms
/// its low three bits are the ST(i) index.
pub(crate) fn fop(ins: &Instruction) -> Option<u16> {
    let oc = ins.op_code();
    if oc.encoding() != iced_x86::EncodingKind::Legacy
        || oc.table() != iced_x86::OpCodeTableKind::Normal
    {
        return None;
    }
    let code = oc.op_code();
    let two = oc.op_code_len() == 2;
    let first = if two { code >> 8 } else { code };
    if !(0xD8..=0xDF).contains(&first) {
        return None;
    }
    Some(if two {
        let sti = if code & 7 == 0 && ins.op_count() != 0 {
            sti(ins) as u32
        } else {
            0
        };
        ((((code >> 8) & 7) << 8) | ((code + sti) & 0xFF)) as u16
    } else {
        let reg = (oc.group_index().max(0) & 7) as u8;
        (((code & 7) as u16) << 8) | u16::from(modrm_mem(ins, reg))
    })
}

/// The ST(i) index of a register-form instruction: the ModR/M r/m field
/// kept in the decoded FOP.
#[inline(always)]
pub(super) fn sti_of(i: &Insn) -> usize {
    (i.imm & 7) as usize
}

/// Records FIP/FCS/FOP (and FDP/FDS for a memory operand) for a
/// non-control instruction.
#[inline]
pub(super) fn record(c: &mut Cpu, i: &Insn, mem: bool) {
    let cs = &c.seg[SegReg::Cs as usize];
    let real = !c.protected();
    c.fpu.fip = if real {
        cs.base.wrapping_add(i.ip()) & 0xF_FFFF
    } else {
        i.ip()
    };
    c.fpu.fcs = cs.selector;
    c.fpu.fop = (i.imm & 0x7FF) as u16;
    if mem {
        let ea = c.ea(i);
        let s = &c.seg[(i.mem.seg as usize).min(5)];
        c.fpu.fdp = if real {
            s.base.wrapping_add(ea) & 0xF_FFFF
        } else {
            ea
        };
        c.fpu.fds = s.selector;
    }
}

// ---------------------------------------------------------------------
// Memory helpers

/// The offset `k` bytes past the start of a multi-part memory operand.
/// Not wrapped at the address size: an operand that runs past the
/// segment limit faults as a whole (SDM Vol. 3 §5.3).
#[inline(always)]
pub(super) fn off_plus(_i: &Insn, off: u64, k: u64) -> u64 {
    off.wrapping_add(k)
}

/// Reads `buf.len()` bytes at `seg:off` (any fault before anything is
/// committed; reads commit nothing).
pub(super) fn read_bytes(c: &mut Cpu, i: &Insn, off: u64, buf: &mut [u8]) -> Result<(), Exception> {
    let mut k = 0;
    while k < buf.len() {
        let n = chunk(buf.len() - k);
        let v = c.read_mem(i.mem.seg, off_plus(i, off, k as u64), n as u8)?;
        buf[k..k + n].copy_from_slice(&v.to_le_bytes()[..n]);
        k += n;
    }
    Ok(())
}

fn chunk(left: usize) -> usize {
    match left {
        8.. => 8,
        4..=7 => 4,
        2..=3 => 2,
        _ => 1,
    }
}

/// A translated memory destination of up to 108 bytes.
pub(super) struct Dst {
    locs: [Option<crate::memory::PhysLoc>; 16],
}

/// Translates `len` bytes at the memory operand (plus `k`) for writing.
pub(super) fn locate(c: &mut Cpu, i: &Insn, off: u64, len: usize) -> Result<Dst, Exception> {
    let mut d = Dst { locs: [None; 16] };
    let mut k = 0;
    let mut n = 0;
    while k < len && n < 16 {
        let sz = chunk(len - k);
        d.locs[n] = Some(c.locate_write(i.mem.seg, off_plus(i, off, k as u64), sz as u8)?);
        k += sz;
        n += 1;
    }
    Ok(d)
}

/// Stores `bytes` into a translated destination.
pub(super) fn store_bytes(c: &mut Cpu, d: &Dst, bytes: &[u8]) {
    let mut k = 0;
    for loc in d.locs.iter().flatten() {
        let n = usize::from(loc.size);
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&bytes[k..k + n]);
        c.store(*loc, u64::from_le_bytes(w));
        k += n;
    }
    if k < bytes.len() {
        // Unreachable: `locate` covered `bytes.len()`.
    }
}

// ---------------------------------------------------------------------
// Loads

/// The stack-overflow check of a push: true when the push may proceed;
/// on overflow the masked response (push the indefinite) is delivered.
fn push_ok(c: &mut Cpu) -> bool {
    if !empty(c, 7) {
        if stack_fault(c, true) {
            push(c, INDEFINITE);
        }
        return false;
    }
    true
}

fn read80(c: &mut Cpu, i: &Insn) -> Result<F80, Exception> {
    let mut b = [0u8; 10];
    let off = c.ea(i);
    read_bytes(c, i, off, &mut b)?;
    Ok(F80::from_bytes(&b))
}

/// FLD m32fp/m64fp/m80fp.
extern "C" fn fld_mem<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let raw = if N == 10 {
        read80(c, i)?
    } else {
        let off = c.ea(i);
        let v = c.read_mem(i.mem.seg, off, N)?;
        F80 {
            signif: v,
            sign_exp: 0,
        }
    };
    record(c, i, true);
    if !push_ok(c) {
        return Ok(());
    }
    let mut e = env(c);
    let v = match N {
        4 => convert::from_f32(&mut e, raw.signif as u32),
        8 => convert::from_f64(&mut e, raw.signif),
        _ => raw,
    };
    finish(c, &e);
    // An unmasked IE (SNaN source) loads nothing; an unmasked DE still
    // loads (observed) and is reported by the next waiting instruction.
    if e.unmasked() & IE == 0 {
        push(c, v);
    }
    Ok(())
}

/// FLD ST(i).
extern "C" fn fld_sti(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let k = sti_of(i);
    if empty(c, k) {
        if stack_fault(c, false) && push_ok(c) {
            push(c, INDEFINITE);
        }
        return Ok(());
    }
    let v = st(c, k);
    if push_ok(c) {
        c.fpu.fsw &= !C1;
        push(c, v);
    }
    Ok(())
}

/// FILD m16int/m32int/m64int (exact).
extern "C" fn fild<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let raw = c.read_mem(i.mem.seg, off, N)?;
    record(c, i, true);
    if push_ok(c) {
        let v = crate::flags::sext(raw, N) as i64;
        c.fpu.fsw &= !C1;
        push(c, convert::from_int(v));
    }
    Ok(())
}

/// FBLD m80bcd.
extern "C" fn fbld(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let raw = read80(c, i)?;
    record(c, i, true);
    if push_ok(c) {
        c.fpu.fsw &= !C1;
        push(c, convert::from_bcd(raw.signif, raw.sign_exp));
    }
    Ok(())
}

/// The constants' significands to 128 bits and their exponents (SDM
/// Vol. 2 FLD1/FLDL2T/...: rounded per RC from the internal value).
const CONSTS: [(u64, u64, i32); 7] = [
    (0x8000_0000_0000_0000, 0, 0),
    (0xD49A_784B_CD1B_8AFE, 0x492B_F6FF_4DAF_DB4C, 1),
    (0xB8AA_3B29_5C17_F0BB, 0xBE87_FED0_691D_3E88, 0),
    (0xC90F_DAA2_2168_C234, 0xC4C6_628B_80DC_1CD1, 1),
    (0x9A20_9A84_FBCF_F798, 0x8F89_59AC_0B7C_9178, -2),
    (0xB172_17F7_D1CF_79AB, 0xC9E3_B398_03F2_F6AF, -1),
    (0, 0, 0),
];

/// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ.
extern "C" fn fld_const<const K: usize>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if !push_ok(c) {
        return Ok(());
    }
    let (hi, lo, e) = CONSTS[K];
    let v = if hi == 0 {
        sf::zero(false)
    } else {
        let (k, _, _) = sf::round_bits(
            (u128::from(hi) << 64) | u128::from(lo),
            64,
            false,
            env(c).rc,
        );
        // k cannot carry out of 64 bits: no constant is all ones.
        F80 {
            signif: k as u64,
            sign_exp: (e + sf::BIAS) as u16,
        }
    };
    c.fpu.fsw &= !C1;
    push(c, v);
    Ok(())
}

// ---------------------------------------------------------------------
// Stores

/// FST/FSTP m32fp/m64fp, FSTP m80fp.
extern "C" fn fst_mem<const N: u8, const P: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let dst = locate(c, i, off, usize::from(N))?;
    record(c, i, true);
    if empty(c, 0) {
        if stack_fault(c, false) {
            let ind = convert::indefinite_bits(N);
            let mut b = [0u8; 10];
            if N == 10 {
                b = INDEFINITE.to_bytes();
            } else {
                b[..8].copy_from_slice(&ind.to_le_bytes());
            }
            store_bytes(c, &dst, &b[..usize::from(N)]);
            if P {
                pop(c);
            }
        }
        return Ok(());
    }
    let x = st(c, 0);
    let mut e = env(c);
    let bytes = match N {
        4 => {
            let mut b = [0u8; 10];
            b[..4].copy_from_slice(&convert::to_f32(&mut e, x).to_le_bytes());
            b
        }
        8 => {
            let mut b = [0u8; 10];
            b[..8].copy_from_slice(&convert::to_f64(&mut e, x).to_le_bytes());
            b
        }
        _ => x.to_bytes(),
    };
    finish(c, &e);
    // Unmasked IE, OE or UE: memory is unchanged and nothing is popped.
    if e.unmasked() & (IE | sf::OE | sf::UE) != 0 {
        return Ok(());
    }
    store_bytes(c, &dst, &bytes[..usize::from(N)]);
    if P {
        pop(c);
    }
    Ok(())
}

/// FST/FSTP ST(i).
extern "C" fn fst_sti<const P: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let k = sti_of(i);
    let v = if empty(c, 0) {
        if !stack_fault(c, false) {
            return Ok(());
        }
        INDEFINITE
    } else {
        c.fpu.fsw &= !C1;
        st(c, 0)
    };
    set_st(c, k, v);
    if P {
        pop(c);
    }
    Ok(())
}

/// FIST/FISTP (`MODE` 1)/FISTTP (`MODE` 2) m16int/m32int/m64int.
extern "C" fn fist<const N: u8, const MODE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let dst = locate(c, i, off, usize::from(N))?;
    record(c, i, true);
    let mut e = env(c);
    let v = if empty(c, 0) {
        if !stack_fault(c, false) {
            return Ok(());
        }
        i64::MIN >> (64 - 8 * u32::from(N))
    } else {
        let v = convert::to_int(&mut e, st(c, 0), 8 * u32::from(N), MODE == 2);
        finish(c, &e);
        if e.unmasked() & IE != 0 {
            return Ok(());
        }
        v
    };
    store_bytes(c, &dst, &v.to_le_bytes()[..usize::from(N)]);
    if MODE != 0 {
        pop(c);
    }
    Ok(())
}

/// FBSTP m80bcd.
extern "C" fn fbstp(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let dst = locate(c, i, off, 10)?;
    record(c, i, true);
    let mut e = env(c);
    let (lo, hi) = if empty(c, 0) {
        if !stack_fault(c, false) {
            return Ok(());
        }
        convert::BCD_INDEFINITE
    } else {
        let r = convert::to_bcd(&mut e, st(c, 0));
        finish(c, &e);
        if e.unmasked() & IE != 0 {
            return Ok(());
        }
        r
    };
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&lo.to_le_bytes());
    b[8..].copy_from_slice(&hi.to_le_bytes());
    store_bytes(c, &dst, &b);
    pop(c);
    Ok(())
}

// ---------------------------------------------------------------------
// FXCH, FCMOVcc

/// FXCH ST(i).
extern "C" fn fxch(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let k = sti_of(i);
    let (mut a, mut b) = (st(c, 0), st(c, k));
    if empty(c, 0) || empty(c, k) {
        if !stack_fault(c, false) {
            return Ok(());
        }
        if empty(c, 0) {
            a = INDEFINITE;
        }
        if empty(c, k) {
            b = INDEFINITE;
        }
    } else {
        c.fpu.fsw &= !C1;
    }
    set_st(c, 0, b);
    set_st(c, k, a);
    Ok(())
}

/// FCMOVcc ST(0), ST(i): B, E, BE, U, NB, NE, NBE, NU.
extern "C" fn fcmov<const CC: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let k = sti_of(i);
    if empty(c, 0) || empty(c, k) {
        if stack_fault(c, false) {
            set_st(c, 0, INDEFINITE);
        }
        return Ok(());
    }
    let f = c.rflags;
    let (cf, zf, pf) = (
        f & crate::flags::CF != 0,
        f & crate::flags::ZF != 0,
        f & crate::flags::PF != 0,
    );
    let t = match CC & 3 {
        0 => cf,
        1 => zf,
        2 => cf || zf,
        _ => pf,
    };
    c.fpu.fsw &= !C1;
    if t != (CC >= 4) {
        let v = st(c, k);
        set_st(c, 0, v);
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Control

/// FLDCW m2byte.
extern "C" fn fldcw(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let v = c.read_mem(i.mem.seg, off, 2)? as u16;
    c.fpu.fcw = (v & 0x1F3F) | 0x40;
    update_es(&mut c.fpu);
    Ok(())
}

/// FSTCW/FNSTCW m2byte.
extern "C" fn fstcw<const W: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?
    } else {
        avail(c)?
    }
    let off = c.ea(i);
    c.write_mem(i.mem.seg, off, 2, u64::from(c.fpu.fcw))
}

/// FSTSW/FNSTSW m2byte.
extern "C" fn fstsw_mem<const W: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?
    } else {
        avail(c)?
    }
    let off = c.ea(i);
    c.write_mem(i.mem.seg, off, 2, u64::from(c.fpu.fsw))
}

/// FSTSW/FNSTSW AX.
extern "C" fn fstsw_ax<const W: bool>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?
    } else {
        avail(c)?
    }
    let v = u64::from(c.fpu.fsw);
    c.wr(0, 2, v);
    Ok(())
}

/// FCLEX/FNCLEX: clears the exception flags, SF, ES and B.
extern "C" fn fclex<const W: bool>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?
    } else {
        avail(c)?
    }
    c.fpu.fsw &= !(0xFF | B);
    Ok(())
}

/// The FNINIT state (SDM Vol. 1 Table 8-1); XMM and MXCSR untouched.
pub(super) fn init(f: &mut FpuState) {
    f.fcw = crate::fpu::FCW_DEFAULT;
    f.fsw = 0;
    f.ftw = 0xFFFF;
    f.fop = 0;
    f.fip = 0;
    f.fcs = 0;
    f.fdp = 0;
    f.fds = 0;
}

/// FINIT/FNINIT.
extern "C" fn finit<const W: bool>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?
    } else {
        avail(c)?
    }
    init(&mut c.fpu);
    Ok(())
}

/// FFREE ST(i) (FFREEP also pops).
extern "C" fn ffree<const P: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let p = phys(c, sti_of(i));
    c.fpu.ftw |= 3 << (2 * p);
    if P {
        pop(c);
    }
    Ok(())
}

/// FINCSTP (`D` = 1) and FDECSTP (`D` = 7): TOP changes, tags do not.
extern "C" fn fincdec<const D: usize>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let t = top(c) + D;
    set_top(c, t);
    c.fpu.fsw &= !C1;
    Ok(())
}

/// WAIT/FWAIT: #NM only when CR0.MP and CR0.TS; then pending #MF.
extern "C" fn fwait(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let mp_ts = Cr0::MP.bits() | Cr0::TS.bits();
    if c.ctrl.cr0 & mp_ts == mp_ts {
        return Err(Exception::NM);
    }
    if c.fpu.fsw & ES != 0 && c.ctrl.cr0 & Cr0::NE.bits() != 0 {
        return Err(Exception::MF);
    }
    Ok(())
}

/// FNOP (and the 8087/287 control no-ops).
extern "C" fn fnop<const W: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?;
        record(c, i, false);
    } else {
        avail(c)?;
    }
    Ok(())
}
