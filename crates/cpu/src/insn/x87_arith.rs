//! x87 arithmetic, comparisons and the other computational instructions:
//! FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR (and their P and I forms), FCOM,
//! FUCOM, FICOM, FCOMI, FUCOMI, FTST, FXAM, FCHS, FABS, FSQRT, FRNDINT,
//! FSCALE, FXTRACT, FPREM, FPREM1 and the transcendentals (SDM Vol. 2).
//!
//! Results come from [`crate::softfloat80`]. An unmasked invalid,
//! zero-divide or denormal exception leaves the destination and the stack
//! unchanged; unmasked overflow/underflow deliver the rebiased result
//! (SDM Vol. 1 §4.9.1.4-5, §8.5).

use iced_x86::{Code, Instruction};

use super::x87::{
    C0, C1, C2, C3, empty, enter, env, finish, phys, pop, push, record, set_st, st, stack_fault,
    sti_of,
};
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::fpu::F80;
use crate::softfloat80::special::Cmp;
use crate::softfloat80::transcend::Trig;
use crate::softfloat80::{self as sf, DE, IE, INDEFINITE, ZE, arith, convert, special, transcend};
use crate::state::Cpu;

const ADD: u8 = 0;
const MUL: u8 = 1;
const SUB: u8 = 2;
const SUBR: u8 = 3;
const DIV: u8 = 4;
const DIVR: u8 = 5;

/// Operand forms: memory m32fp, m64fp, m16int, m32int; ST(0) op ST(i);
/// ST(i) op ST(0); the same and pop.
const M32: u8 = 0;
const M64: u8 = 1;
const I16: u8 = 2;
const I32: u8 = 3;
const ST0_STI: u8 = 4;
const STI_ST0: u8 = 5;
const STI_POP: u8 = 6;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Code::*;
    macro_rules! forms {
        ($op:expr, $m32:ident, $m64:ident, $i16:ident, $i32:ident, $a:ident, $b:ident, $p:ident) => {
            match ins.code() {
                $m32 => return Some(arith::<{ $op }, M32>),
                $m64 => return Some(arith::<{ $op }, M64>),
                $i16 => return Some(arith::<{ $op }, I16>),
                $i32 => return Some(arith::<{ $op }, I32>),
                $a => return Some(arith::<{ $op }, ST0_STI>),
                $b => return Some(arith::<{ $op }, STI_ST0>),
                $p => return Some(arith::<{ $op }, STI_POP>),
                _ => {}
            }
        };
    }
    forms!(
        ADD,
        Fadd_m32fp,
        Fadd_m64fp,
        Fiadd_m16int,
        Fiadd_m32int,
        Fadd_st0_sti,
        Fadd_sti_st0,
        Faddp_sti_st0
    );
    forms!(
        MUL,
        Fmul_m32fp,
        Fmul_m64fp,
        Fimul_m16int,
        Fimul_m32int,
        Fmul_st0_sti,
        Fmul_sti_st0,
        Fmulp_sti_st0
    );
    forms!(
        SUB,
        Fsub_m32fp,
        Fsub_m64fp,
        Fisub_m16int,
        Fisub_m32int,
        Fsub_st0_sti,
        Fsub_sti_st0,
        Fsubp_sti_st0
    );
    forms!(
        SUBR,
        Fsubr_m32fp,
        Fsubr_m64fp,
        Fisubr_m16int,
        Fisubr_m32int,
        Fsubr_st0_sti,
        Fsubr_sti_st0,
        Fsubrp_sti_st0
    );
    forms!(
        DIV,
        Fdiv_m32fp,
        Fdiv_m64fp,
        Fidiv_m16int,
        Fidiv_m32int,
        Fdiv_st0_sti,
        Fdiv_sti_st0,
        Fdivp_sti_st0
    );
    forms!(
        DIVR,
        Fdivr_m32fp,
        Fdivr_m64fp,
        Fidivr_m16int,
        Fidivr_m32int,
        Fdivr_st0_sti,
        Fdivr_sti_st0,
        Fdivrp_sti_st0
    );
    Some(match ins.code() {
        // Comparisons: <form, pops, quiet>
        Fcom_m32fp => fcom::<M32, 0, false>,
        Fcom_m64fp => fcom::<M64, 0, false>,
        Fcom_st0_sti | Fcom_st0_sti_DCD0 => fcom::<ST0_STI, 0, false>,
        Fcomp_m32fp => fcom::<M32, 1, false>,
        Fcomp_m64fp => fcom::<M64, 1, false>,
        Fcomp_st0_sti | Fcomp_st0_sti_DCD8 | Fcomp_st0_sti_DED0 => fcom::<ST0_STI, 1, false>,
        Fcompp => fcom::<ST0_STI, 2, false>,
        Ficom_m16int => fcom::<I16, 0, false>,
        Ficom_m32int => fcom::<I32, 0, false>,
        Ficomp_m16int => fcom::<I16, 1, false>,
        Ficomp_m32int => fcom::<I32, 1, false>,
        Fucom_st0_sti => fcom::<ST0_STI, 0, true>,
        Fucomp_st0_sti => fcom::<ST0_STI, 1, true>,
        Fucompp => fcom::<ST0_STI, 2, true>,
        Fcomi_st0_sti => fcomi::<false, false>,
        Fcomip_st0_sti => fcomi::<false, true>,
        Fucomi_st0_sti => fcomi::<true, false>,
        Fucomip_st0_sti => fcomi::<true, true>,
        Ftst => ftst,
        Fxam => fxam,
        Fchs => fsign::<0>,
        Fabs => fsign::<1>,
        Fsqrt => unary::<0>,
        Frndint => unary::<1>,
        F2xm1 => unary::<2>,
        Fsin => trig::<0>,
        Fcos => trig::<1>,
        Fptan => trig::<2>,
        Fsincos => trig::<3>,
        Fscale => binary_st1::<0>,
        Fyl2x => binary_st1::<1>,
        Fyl2xp1 => binary_st1::<2>,
        Fpatan => binary_st1::<3>,
        Fprem => fprem::<false>,
        Fprem1 => fprem::<true>,
        Fxtract => fxtract,
        _ => return None,
    })
}

/// Reads a memory source operand as a double-extended value (SNaNs kept
/// signaling so the operation raises IE) and whether it was a single or
/// double denormal (DE is raised by the operation, after the NaN and
/// invalid checks that outrank it).
fn mem_source<const FORM: u8>(c: &mut Cpu, i: &Insn) -> Result<(F80, bool), Exception> {
    let off = c.ea(i);
    let seg = i.mem.seg;
    Ok(match FORM {
        M32 => convert::from_f32_keep(c.read_mem(seg, off, 4)? as u32),
        M64 => convert::from_f64_keep(c.read_mem(seg, off, 8)?),
        I16 => (
            convert::from_int(i64::from(c.read_mem(seg, off, 2)? as u16 as i16)),
            false,
        ),
        _ => (
            convert::from_int(i64::from(c.read_mem(seg, off, 4)? as u32 as i32)),
            false,
        ),
    })
}

/// FADD/FMUL/FSUB/FSUBR/FDIV/FDIVR in every form.
extern "C" fn arith<const OP: u8, const FORM: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let mut e = env(c);
    let mem = FORM <= I32;
    let (src_mem, den) = if mem {
        mem_source::<FORM>(c, i)?
    } else {
        (F80::default(), false)
    };
    record(c, i, mem);
    let k = if mem { 0 } else { sti_of(i) };
    let di = if FORM >= STI_ST0 { k } else { 0 };
    if empty(c, 0) || (!mem && empty(c, k)) {
        if stack_fault(c, false) {
            set_st(c, di, INDEFINITE);
            if FORM == STI_POP {
                pop(c);
            }
        }
        return Ok(());
    }
    let (d, s) = match FORM {
        ST0_STI => (st(c, 0), st(c, k)),
        STI_ST0 | STI_POP => (st(c, k), st(c, 0)),
        _ => (st(c, 0), src_mem),
    };
    // `den` marks the memory source (always `s`).
    let r = match OP {
        ADD => arith::add_d(&mut e, d, s, false, [false, den]),
        MUL => arith::mul_d(&mut e, d, s, [false, den]),
        SUB => arith::add_d(&mut e, d, s, true, [false, den]),
        SUBR => arith::add_d(&mut e, s, d, true, [den, false]),
        DIV => arith::div_d(&mut e, d, s, [false, den]),
        _ => arith::div_d(&mut e, s, d, [den, false]),
    };
    finish(c, &e);
    if e.unmasked() & (IE | ZE | DE) != 0 {
        return Ok(());
    }
    set_st(c, di, r);
    if FORM == STI_POP {
        pop(c);
    }
    Ok(())
}

/// Sets C3, C2, C0 from a comparison (C1 cleared).
fn set_cc(c: &mut Cpu, r: Cmp) {
    let cc = match r {
        Cmp::Greater => 0,
        Cmp::Less => C0,
        Cmp::Equal => C3,
        Cmp::Unordered => C3 | C2 | C0,
    };
    c.fpu.fsw = (c.fpu.fsw & !(C3 | C2 | C1 | C0)) | cc;
}

/// FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP (`POPS` pops).
extern "C" fn fcom<const FORM: u8, const POPS: u8, const QUIET: bool>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    enter(c)?;
    let mut e = env(c);
    let mem = FORM <= I32;
    let (src_mem, den) = if mem {
        mem_source::<FORM>(c, i)?
    } else {
        (F80::default(), false)
    };
    record(c, i, mem);
    // FCOMPP/FUCOMPP compare with ST(1); the register forms name ST(i)
    // (default ST(1)).
    let k = if POPS == 2 {
        1
    } else if mem {
        0
    } else {
        sti_of(i)
    };
    if empty(c, 0) || (!mem && empty(c, k)) {
        if stack_fault(c, false) {
            set_cc(c, Cmp::Unordered);
            for _ in 0..POPS {
                pop(c);
            }
        }
        return Ok(());
    }
    let b = if mem { src_mem } else { st(c, k) };
    let r = special::compare_d(&mut e, st(c, 0), b, QUIET, den);
    finish(c, &e);
    // The condition codes are written even when IE is unmasked
    // (observed); the stack is then not popped.
    set_cc(c, r);
    if e.unmasked() & (IE | DE) != 0 {
        return Ok(());
    }
    for _ in 0..POPS {
        pop(c);
    }
    Ok(())
}

/// FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF, PF, CF from the comparison; OF, SF,
/// AF cleared (SDM Vol. 2 FCOMI). C1 is cleared.
extern "C" fn fcomi<const QUIET: bool, const P: bool>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    use crate::flags::{AF, CF, OF, PF, SF, ZF};
    enter(c)?;
    record(c, i, false);
    let k = sti_of(i);
    let all = ZF | PF | CF | OF | SF | AF;
    if empty(c, 0) || empty(c, k) {
        if stack_fault(c, false) {
            c.rflags = (c.rflags & !all) | ZF | PF | CF;
            if P {
                pop(c);
            }
        }
        return Ok(());
    }
    let mut e = env(c);
    let r = special::compare(&mut e, st(c, 0), st(c, k), QUIET);
    finish(c, &e);
    // ZF, PF, CF are written even when the exception is unmasked
    // (observed); the stack is then not popped.
    let f = match r {
        Cmp::Greater => 0,
        Cmp::Less => CF,
        Cmp::Equal => ZF,
        Cmp::Unordered => ZF | PF | CF,
    };
    c.rflags = (c.rflags & !all) | f;
    if e.unmasked() & (IE | DE) != 0 {
        return Ok(());
    }
    if P {
        pop(c);
    }
    Ok(())
}

/// FTST: compares ST(0) with +0.0.
extern "C" fn ftst(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if empty(c, 0) {
        if stack_fault(c, false) {
            set_cc(c, Cmp::Unordered);
        }
        return Ok(());
    }
    let mut e = env(c);
    let r = special::compare(&mut e, st(c, 0), sf::zero(false), false);
    finish(c, &e);
    set_cc(c, r);
    Ok(())
}

/// FXAM: C1 = sign, C3/C2/C0 = class (empty: 101).
extern "C" fn fxam(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let v = st(c, 0);
    let code = if empty(c, 0) {
        0b101
    } else {
        special::examine(v)
    };
    let mut cc = 0;
    if code & 4 != 0 {
        cc |= C3;
    }
    if code & 2 != 0 {
        cc |= C2;
    }
    if code & 1 != 0 {
        cc |= C0;
    }
    if v.sign_exp & 0x8000 != 0 {
        cc |= C1;
    }
    c.fpu.fsw = (c.fpu.fsw & !(C3 | C2 | C1 | C0)) | cc;
    Ok(())
}

/// FCHS (`K` 0) and FABS (`K` 1): sign only, no exceptions but stack
/// underflow.
extern "C" fn fsign<const K: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if empty(c, 0) {
        if stack_fault(c, false) {
            set_st(c, 0, INDEFINITE);
        }
        return Ok(());
    }
    let v = st(c, 0);
    let r = if K == 0 {
        arith::neg(v)
    } else {
        sf::with_sign(v, false)
    };
    c.fpu.fsw &= !C1;
    set_st(c, 0, r);
    Ok(())
}

/// FSQRT (0), FRNDINT (1), F2XM1 (2) on ST(0).
extern "C" fn unary<const K: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if empty(c, 0) {
        if stack_fault(c, false) {
            set_st(c, 0, INDEFINITE);
        }
        return Ok(());
    }
    let mut e = env(c);
    let a = st(c, 0);
    let r = match K {
        0 => arith::sqrt(&mut e, a),
        1 => special::round_int(&mut e, a),
        _ => transcend::f2xm1(&mut e, a),
    };
    finish(c, &e);
    if e.unmasked() & (IE | ZE | DE) == 0 {
        set_st(c, 0, r);
    }
    Ok(())
}

/// FSIN (0), FCOS (1), FPTAN (2), FSINCOS (3): C2 = 1 and ST(0)
/// unchanged when |ST(0)| >= 2^63.
extern "C" fn trig<const K: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    let pushes = K >= 2;
    if empty(c, 0) || (pushes && !empty(c, 7)) {
        let overflow = !empty(c, 0);
        if stack_fault(c, overflow) {
            set_st(c, 0, INDEFINITE);
            if pushes {
                push(c, INDEFINITE);
            }
        }
        return Ok(());
    }
    let mut e = env(c);
    let a = st(c, 0);
    let f = match K {
        0 => Trig::Sin,
        1 | 3 => Trig::Cos,
        _ => Trig::Tan,
    };
    let Some(r) = transcend::trig(&mut e, a, f) else {
        c.fpu.fsw = (c.fpu.fsw & !C1) | C2;
        return Ok(());
    };
    let second = match K {
        2 => Some(F80 {
            signif: 1 << 63,
            sign_exp: sf::BIAS as u16,
        }),
        // FSINCOS: C1 reports the sine's rounding (observed).
        3 => {
            let mut es = env(c);
            let s = transcend::trig(&mut es, a, Trig::Sin);
            e.flags = ((e.flags | es.flags) & !C1) | (es.flags & C1);
            s
        }
        _ => None,
    };
    finish(c, &e);
    c.fpu.fsw &= !C2;
    if e.unmasked() & (IE | DE) != 0 {
        return Ok(());
    }
    match (K, second) {
        // FPTAN: ST(0) = tan, then push 1.0 (NaN results push the NaN).
        (2, Some(one)) => {
            set_st(c, 0, r);
            push(
                c,
                if r.sign_exp & 0x7FFF == 0x7FFF {
                    r
                } else {
                    one
                },
            );
        }
        // FSINCOS: ST(0) = sine, then push the cosine.
        (3, Some(s)) => {
            set_st(c, 0, s);
            push(c, r);
        }
        _ => set_st(c, 0, r),
    }
    Ok(())
}

/// FSCALE (0; ST(0) = scale(ST(0), ST(1))) and FYL2X (1), FYL2XP1 (2),
/// FPATAN (3) (ST(1) = f(ST(0), ST(1)), then pop).
extern "C" fn binary_st1<const K: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if empty(c, 0) || empty(c, 1) {
        if stack_fault(c, false) {
            if K == 0 {
                set_st(c, 0, INDEFINITE);
            } else {
                set_st(c, 1, INDEFINITE);
                pop(c);
            }
        }
        return Ok(());
    }
    let mut e = env(c);
    let (a, b) = (st(c, 0), st(c, 1));
    let r = match K {
        0 => special::scale(&mut e, a, b),
        1 => transcend::fyl2x(&mut e, a, b),
        2 => transcend::fyl2xp1(&mut e, a, b),
        _ => transcend::fpatan(&mut e, a, b),
    };
    finish(c, &e);
    if e.unmasked() & (IE | ZE | DE) != 0 {
        return Ok(());
    }
    if K == 0 {
        set_st(c, 0, r);
    } else {
        set_st(c, 1, r);
        pop(c);
    }
    Ok(())
}

/// FPREM/FPREM1: partial remainder; C0, C3, C1 = Q2, Q1, Q0; C2 = 1
/// when incomplete.
extern "C" fn fprem<const IEEE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if empty(c, 0) || empty(c, 1) {
        if stack_fault(c, false) {
            set_st(c, 0, INDEFINITE);
        }
        return Ok(());
    }
    let mut e = env(c);
    let r = special::rem(&mut e, st(c, 0), st(c, 1), IEEE);
    finish(c, &e);
    if e.unmasked() & (IE | DE) != 0 {
        return Ok(());
    }
    let q = r.q;
    let mut cc = 0;
    if r.partial {
        cc |= C2;
    }
    if q & 4 != 0 {
        cc |= C0;
    }
    if q & 2 != 0 {
        cc |= C3;
    }
    if q & 1 != 0 {
        cc |= C1;
    }
    c.fpu.fsw = (c.fpu.fsw & !(C3 | C2 | C1 | C0)) | cc;
    set_st(c, 0, r.value);
    Ok(())
}

/// FXTRACT: ST(0) = exponent, then push the significand.
extern "C" fn fxtract(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    record(c, i, false);
    if empty(c, 0) || !empty(c, 7) {
        let overflow = !empty(c, 0);
        if stack_fault(c, overflow) {
            set_st(c, 0, INDEFINITE);
            push(c, INDEFINITE);
        }
        return Ok(());
    }
    let mut e = env(c);
    let (ex, sig) = special::extract(&mut e, st(c, 0));
    finish(c, &e);
    if e.unmasked() & (IE | ZE | DE) != 0 {
        return Ok(());
    }
    set_st(c, 0, ex);
    push(c, sig);
    let _ = phys;
    Ok(())
}
