//! SSE/SSE2 and MMX data movement (SDM Vol. 2): MOVD/MOVQ (XMM and MMX
//! with GPRs and memory), MOVAPS/MOVAPD/MOVDQA (aligned), MOVUPS/MOVUPD/
//! MOVDQU (unaligned), MOVSS/MOVSD, MOVLPS/MOVHPS/MOVLPD/MOVHPD,
//! MOVHLPS/MOVLHPS, the non-temporal stores MOVNTDQ/MOVNTPS/MOVNTPD/
//! MOVNTQ/MOVNTI, MASKMOVDQU/MASKMOVQ, MOVMSKPS/MOVMSKPD and
//! MOVQ2DQ/MOVDQ2Q.
//!
//! Non-temporal hints change nothing architecturally here (no cache model).
//! MOVNTI is a general-register store: it has no CR0/CR4 checks.

use iced_x86::{Code, Instruction, OpKind, Register};

use super::sse::{
    is_mem, mixed_avail, mm, mmx_avail, mmx_enter, set_mm, set_xmm, src_mm, src128, sse_avail, xmm,
};
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::mask;
use crate::state::Cpu;

const LO64: u128 = u64::MAX as u128;
const LO32: u128 = u32::MAX as u128;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Code::*;
    Some(match ins.code() {
        Movd_xmm_rm32 => movd_to_xmm::<4>,
        Movq_xmm_rm64 => movd_to_xmm::<8>,
        Movd_rm32_xmm => movd_from_xmm::<4>,
        Movq_rm64_xmm => movd_from_xmm::<8>,
        Movq_xmm_xmmm64 => movq_load,
        Movq_xmmm64_xmm => movq_store,
        Movd_mm_rm32 => movd_to_mm::<4>,
        Movq_mm_rm64 => movd_to_mm::<8>,
        Movq_mm_mmm64 => movq_mm_load,
        Movd_rm32_mm => movd_from_mm::<4>,
        Movq_rm64_mm => movd_from_mm::<8>,
        Movq_mmm64_mm | Movntq_m64_mm => movq_mm_store,
        Movaps_xmm_xmmm128 | Movapd_xmm_xmmm128 | Movdqa_xmm_xmmm128 => load128::<true>,
        Movups_xmm_xmmm128 | Movupd_xmm_xmmm128 | Movdqu_xmm_xmmm128 => load128::<false>,
        Movaps_xmmm128_xmm | Movapd_xmmm128_xmm | Movdqa_xmmm128_xmm | Movntdq_m128_xmm
        | Movntps_m128_xmm | Movntpd_m128_xmm => store128::<true>,
        Movups_xmmm128_xmm | Movupd_xmmm128_xmm | Movdqu_xmmm128_xmm => store128::<false>,
        Movss_xmm_xmmm32 => movs_load::<4>,
        Movsd_xmm_xmmm64 => movs_load::<8>,
        Movss_xmmm32_xmm => movs_store::<4>,
        Movsd_xmmm64_xmm => movs_store::<8>,
        Movlps_xmm_m64 | Movlpd_xmm_m64 => movhl_load::<false>,
        Movhps_xmm_m64 | Movhpd_xmm_m64 => movhl_load::<true>,
        Movlps_m64_xmm | Movlpd_m64_xmm => movhl_store::<false>,
        Movhps_m64_xmm | Movhpd_m64_xmm => movhl_store::<true>,
        Movhlps_xmm_xmm => movhlps,
        Movlhps_xmm_xmm => movlhps,
        Movnti_m32_r32 | Movnti_m64_r64 => movnti,
        Movmskps_r32_xmm | Movmskps_r64_xmm => movmsk::<false>,
        Movmskpd_r32_xmm | Movmskpd_r64_xmm => movmsk::<true>,
        Movq2dq_xmm_mm => movq2dq,
        Movdq2q_mm_xmm => movdq2q,
        Maskmovdqu_rDI_xmm_xmm => maskmov::<false>,
        Maskmovq_rDI_mm_mm => maskmov::<true>,
        _ => return None,
    })
}

/// MOVD/MOVQ xmm, r/m32/64: zero-extended into the whole register.
extern "C" fn movd_to_xmm<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = c.get(i, 1, N)?;
    set_xmm(c, i.reg[0], u128::from(v));
    Ok(())
}

/// MOVD/MOVQ r/m32/64, xmm: the low doubleword/quadword (a 32-bit GPR
/// destination zero-extends to 64 bits).
extern "C" fn movd_from_xmm<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = xmm(c, i.reg[1]) as u64 & mask(N);
    c.put(i, 0, N, v)
}

/// MOVQ xmm, xmm/m64 (F3 0F 7E): the low quadword, upper cleared.
extern "C" fn movq_load(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = if is_mem(i, 1) {
        let off = c.ea(i);
        u128::from(c.read_mem(i.mem.seg, off, 8)?)
    } else {
        xmm(c, i.reg[1]) & LO64
    };
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// MOVQ xmm/m64, xmm (66 0F D6): a register destination has its upper
/// quadword cleared.
extern "C" fn movq_store(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = xmm(c, i.reg[1]) & LO64;
    if is_mem(i, 0) {
        let off = c.ea(i);
        c.write_mem(i.mem.seg, off, 8, v as u64)
    } else {
        set_xmm(c, i.reg[0], v);
        Ok(())
    }
}

/// MOVD/MOVQ mm, r/m32/64: zero-extended.
extern "C" fn movd_to_mm<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mmx_avail(c)?;
    let v = c.get(i, 1, N)?;
    mmx_enter(c);
    set_mm(c, i.reg[0], v);
    Ok(())
}

/// MOVQ mm, mm/m64.
extern "C" fn movq_mm_load(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mmx_avail(c)?;
    let v = src_mm(c, i, 1)?;
    mmx_enter(c);
    set_mm(c, i.reg[0], v);
    Ok(())
}

/// MOVD/MOVQ r/m32/64, mm (a 32-bit GPR destination zero-extends).
extern "C" fn movd_from_mm<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mmx_avail(c)?;
    let v = mm(c, i.reg[1]) & mask(N);
    c.put(i, 0, N, v)?;
    mmx_enter(c);
    Ok(())
}

/// MOVQ mm/m64, mm and MOVNTQ m64, mm.
extern "C" fn movq_mm_store(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mmx_avail(c)?;
    let v = mm(c, i.reg[1]);
    if is_mem(i, 0) {
        let off = c.ea(i);
        c.write_mem(i.mem.seg, off, 8, v)?;
        mmx_enter(c);
    } else {
        mmx_enter(c);
        set_mm(c, i.reg[0], v);
    }
    Ok(())
}

/// MOVAPS/MOVAPD/MOVDQA (`ALIGN`) and MOVUPS/MOVUPD/MOVDQU loads.
extern "C" fn load128<const ALIGN: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = src128::<ALIGN>(c, i, 1)?;
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// The store forms of the 128-bit moves (and MOVNTDQ/MOVNTPS/MOVNTPD,
/// which always have a memory destination that must be aligned).
extern "C" fn store128<const ALIGN: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = xmm(c, i.reg[1]);
    if is_mem(i, 0) {
        let off = c.ea(i);
        c.write_mem128(i.mem.seg, off, v, ALIGN)
    } else {
        set_xmm(c, i.reg[0], v);
        Ok(())
    }
}

/// MOVSS/MOVSD xmm, xmm/m32/64: the register form merges the low element;
/// the load form clears the rest of the register.
extern "C" fn movs_load<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let lo = if N == 4 { LO32 } else { LO64 };
    let v = if is_mem(i, 1) {
        let off = c.ea(i);
        u128::from(c.read_mem(i.mem.seg, off, N)?)
    } else {
        (xmm(c, i.reg[0]) & !lo) | (xmm(c, i.reg[1]) & lo)
    };
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// MOVSS/MOVSD xmm/m32/64, xmm: a register destination merges.
extern "C" fn movs_store<const N: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let lo = if N == 4 { LO32 } else { LO64 };
    let s = xmm(c, i.reg[1]) & lo;
    if is_mem(i, 0) {
        let off = c.ea(i);
        c.write_mem(i.mem.seg, off, N, s as u64)
    } else {
        let v = (xmm(c, i.reg[0]) & !lo) | s;
        set_xmm(c, i.reg[0], v);
        Ok(())
    }
}

/// MOVLPS/MOVLPD (`HIGH` false) and MOVHPS/MOVHPD xmm, m64: one quadword
/// replaced, the other kept.
extern "C" fn movhl_load<const HIGH: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let off = c.ea(i);
    let q = u128::from(c.read_mem(i.mem.seg, off, 8)?);
    let d = xmm(c, i.reg[0]);
    let v = if HIGH {
        (d & LO64) | (q << 64)
    } else {
        (d & !LO64) | q
    };
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// MOVLPS/MOVLPD and MOVHPS/MOVHPD m64, xmm.
extern "C" fn movhl_store<const HIGH: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let s = xmm(c, i.reg[1]);
    let q = if HIGH { (s >> 64) as u64 } else { s as u64 };
    let off = c.ea(i);
    c.write_mem(i.mem.seg, off, 8, q)
}

/// MOVHLPS xmm1, xmm2: xmm1[63:0] = xmm2[127:64].
extern "C" fn movhlps(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = (xmm(c, i.reg[0]) & !LO64) | (xmm(c, i.reg[1]) >> 64);
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// MOVLHPS xmm1, xmm2: xmm1[127:64] = xmm2[63:0].
extern "C" fn movlhps(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let v = (xmm(c, i.reg[0]) & LO64) | (xmm(c, i.reg[1]) << 64);
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// MOVNTI m32/m64, r32/r64: an ordinary store (SDM: #UD only without SSE2
/// in CPUID; no CR0.EM/TS or CR4.OSFXSR dependence).
extern "C" fn movnti(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let v = c.get(i, 1, size)?;
    c.put(i, 0, size, v)
}

/// MOVMSKPS/MOVMSKPD r32/r64, xmm: the element sign bits, zero-extended.
extern "C" fn movmsk<const DOUBLE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let s = xmm(c, i.reg[1]);
    let m = if DOUBLE {
        ((s >> 63) & 1) | ((s >> 126) & 2)
    } else {
        ((s >> 31) & 1) | ((s >> 62) & 2) | ((s >> 93) & 4) | ((s >> 124) & 8)
    };
    c.wr(i.reg[0], 8, m as u64);
    Ok(())
}

/// MOVQ2DQ xmm, mm: the MMX register zero-extended.
extern "C" fn movq2dq(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mixed_avail(c)?;
    mmx_enter(c);
    let v = u128::from(mm(c, i.reg[1]));
    set_xmm(c, i.reg[0], v);
    Ok(())
}

/// MOVDQ2Q mm, xmm: the low quadword.
extern "C" fn movdq2q(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mixed_avail(c)?;
    mmx_enter(c);
    let v = xmm(c, i.reg[1]) as u64;
    set_mm(c, i.reg[0], v);
    Ok(())
}

/// MASKMOVDQU xmm1, xmm2 and MASKMOVQ mm1, mm2: the bytes of the first
/// register whose mask byte (second register) has bit 7 set are stored at
/// DS:rDI (segment override allowed). The whole 16 (8) bytes are checked
/// for writing before any byte is stored, so a fault stores nothing; with
/// an all-zero mask this model still checks (the SDM leaves it to the
/// implementation whether such a store faults).
extern "C" fn maskmov<const MMX: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (data, msk, n) = if MMX {
        mmx_avail(c)?;
        let (r1, r2) = (i.ins.op1_register(), i.ins.op2_register());
        let d = mm(c, (r1.number() & 7) as u8);
        let m = mm(c, (r2.number() & 7) as u8);
        (u128::from(d), u128::from(m), 8u8)
    } else {
        sse_avail(c)?;
        let (r1, r2) = (i.ins.op1_register(), i.ins.op2_register());
        (
            xmm(c, (r1.number() & 15) as u8),
            xmm(c, (r2.number() & 15) as u8),
            16u8,
        )
    };
    let asize: u8 = match i.ins.op0_kind() {
        OpKind::MemorySegDI => 2,
        OpKind::MemorySegEDI => 4,
        _ => 8,
    };
    let seg = match i.ins.memory_segment() {
        Register::ES => 0,
        Register::CS => 1,
        Register::SS => 2,
        Register::FS => 4,
        Register::GS => 5,
        _ => 3,
    };
    let off = c.gpr[7] & mask(asize);
    let loc = c.locate_write(seg, off, n)?;
    if MMX {
        mmx_enter(c);
    }
    let d = data.to_le_bytes();
    let m = msk.to_le_bytes();
    let mut cur = if MMX {
        u128::from(c.load(loc))
    } else {
        c.load128(loc)
    };
    let mut bytes = cur.to_le_bytes();
    for k in 0..usize::from(n) {
        if m[k] & 0x80 != 0 {
            bytes[k] = d[k];
        }
    }
    cur = u128::from_le_bytes(bytes);
    if MMX {
        c.store(loc, cur as u64);
    } else {
        c.store128(loc, cur);
    }
    Ok(())
}
