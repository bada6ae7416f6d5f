//! x87 environment and state images: FSTENV/FNSTENV, FLDENV,
//! FSAVE/FNSAVE, FRSTOR (SDM Vol. 1 §8.1.10, Figures 8-9 to 8-12; Vol. 2
//! FSTENV, FSAVE). The 14-byte (16-bit operand size) and 28-byte
//! (32-bit) environments come in a protected-mode and a real-mode
//! layout; 64-bit mode uses the 32-bit protected-mode layout. The save
//! images append ST(0)-ST(7) (80 bytes) to the environment: 94 or 108
//! bytes.

use iced_x86::{Code, Instruction};

use super::x87::{B, ES, avail, enter, init, locate, read_bytes, store_bytes, update_es};
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::fpu::{F80, FpuState};
use crate::state::Cpu;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Code::*;
    Some(match ins.code() {
        Fnstenv_m14byte => fstenv::<14, false>,
        Fstenv_m14byte => fstenv::<14, true>,
        Fnstenv_m28byte => fstenv::<28, false>,
        Fstenv_m28byte => fstenv::<28, true>,
        Fldenv_m14byte => fldenv::<14>,
        Fldenv_m28byte => fldenv::<28>,
        Fnsave_m94byte => fsave::<14, false>,
        Fsave_m94byte => fsave::<14, true>,
        Fnsave_m108byte => fsave::<28, false>,
        Fsave_m108byte => fsave::<28, true>,
        Frstor_m94byte => frstor::<14>,
        Frstor_m108byte => frstor::<28>,
        _ => return None,
    })
}

/// The tag word as stored: empty stays 11, other registers are tagged
/// from their contents.
fn stored_tag(f: &FpuState) -> u16 {
    let mut t = 0;
    for r in 0..8 {
        let tag = if (f.ftw >> (2 * r)) & 3 == 3 {
            3
        } else {
            FpuState::tag_from_contents(f.st[r])
        };
        t |= tag << (2 * r);
    }
    t
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn get16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn get32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Writes the environment of size `n` (14 or 28) into `b`.
fn env_image(c: &Cpu, n: usize, b: &mut [u8]) {
    let f = &c.fpu;
    let real = !c.protected();
    let tag = stored_tag(f);
    let (ip, dp, op) = (f.fip, f.fdp, f.fop & 0x7FF);
    if n == 28 {
        put16(b, 0, f.fcw);
        put16(b, 2, 0xFFFF);
        put16(b, 4, f.fsw);
        put16(b, 6, 0xFFFF);
        put16(b, 8, tag);
        put16(b, 10, 0xFFFF);
        if real {
            put32(b, 12, ip as u32 & 0xFFFF);
            put32(b, 16, ((ip as u32 >> 16) & 0xFFFF) << 12 | u32::from(op));
            put32(b, 20, dp as u32 & 0xFFFF);
            put32(b, 24, ((dp as u32 >> 16) & 0xFFFF) << 12);
        } else {
            put32(b, 12, ip as u32);
            put32(b, 16, u32::from(f.fcs) | (u32::from(op) << 16));
            put32(b, 20, dp as u32);
            put32(b, 24, u32::from(f.fds));
        }
    } else {
        put16(b, 0, f.fcw);
        put16(b, 2, f.fsw);
        put16(b, 4, tag);
        if real {
            put16(b, 6, ip as u16);
            put16(b, 8, (((ip >> 16) & 0xF) as u16) << 12 | op);
            put16(b, 10, dp as u16);
            put16(b, 12, (((dp >> 16) & 0xF) as u16) << 12);
        } else {
            put16(b, 6, ip as u16);
            put16(b, 8, f.fcs);
            put16(b, 10, dp as u16);
            put16(b, 12, f.fds);
        }
    }
}

/// Loads an environment image of size `n`.
fn load_env(c: &mut Cpu, n: usize, b: &[u8]) {
    let real = !c.protected();
    let f = &mut c.fpu;
    let (fcw, fsw, tag);
    if n == 28 {
        fcw = get16(b, 0);
        fsw = get16(b, 4);
        tag = get16(b, 8);
        if real {
            f.fip = u64::from(get32(b, 12) & 0xFFFF | ((get32(b, 16) >> 12) & 0xFFFF) << 16);
            f.fop = (get32(b, 16) & 0x7FF) as u16;
            f.fdp = u64::from(get32(b, 20) & 0xFFFF | ((get32(b, 24) >> 12) & 0xFFFF) << 16);
        } else {
            f.fip = u64::from(get32(b, 12));
            f.fcs = get16(b, 16);
            f.fop = get16(b, 18) & 0x7FF;
            f.fdp = u64::from(get32(b, 20));
            f.fds = get16(b, 24);
        }
    } else {
        fcw = get16(b, 0);
        fsw = get16(b, 2);
        tag = get16(b, 4);
        if real {
            f.fip = u64::from(get16(b, 6)) | u64::from(get16(b, 8) >> 12) << 16;
            f.fop = get16(b, 8) & 0x7FF;
            f.fdp = u64::from(get16(b, 10)) | u64::from(get16(b, 12) >> 12) << 16;
        } else {
            f.fip = u64::from(get16(b, 6));
            f.fcs = get16(b, 8);
            f.fdp = u64::from(get16(b, 10));
            f.fds = get16(b, 12);
        }
    }
    f.fcw = (fcw & 0x1F3F) | 0x40;
    f.fsw = fsw & !(ES | B);
    f.ftw = tag;
}

/// Re-tags the non-empty registers from their contents (after FLDENV or
/// FRSTOR: only the empty/non-empty distinction of a loaded tag word
/// matters).
fn retag(f: &mut FpuState) {
    let mut t = 0;
    for r in 0..8 {
        let tag = if (f.ftw >> (2 * r)) & 3 == 3 {
            3
        } else {
            FpuState::tag_from_contents(f.st[r])
        };
        t |= tag << (2 * r);
    }
    f.ftw = t;
}

/// FSTENV/FNSTENV m14/m28: stores the environment, then masks all
/// exceptions.
extern "C" fn fstenv<const N: usize, const W: bool>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    if W {
        enter(c)?;
    } else {
        avail(c)?;
    }
    let off = c.ea(i);
    let dst = locate(c, i, off, N)?;
    let mut b = [0u8; 28];
    env_image(c, N, &mut b);
    store_bytes(c, &dst, &b[..N]);
    c.fpu.fcw |= 0x3F;
    Ok(())
}

/// FLDENV m14/m28.
extern "C" fn fldenv<const N: usize>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let mut b = [0u8; 28];
    read_bytes(c, i, off, &mut b[..N])?;
    load_env(c, N, &b[..N]);
    retag(&mut c.fpu);
    update_es(&mut c.fpu);
    Ok(())
}

/// FSAVE/FNSAVE m94/m108: the environment and ST(0)-ST(7), then FNINIT.
extern "C" fn fsave<const N: usize, const W: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if W {
        enter(c)?;
    } else {
        avail(c)?;
    }
    let off = c.ea(i);
    let dst = locate(c, i, off, N + 80)?;
    let mut b = [0u8; 108];
    env_image(c, N, &mut b);
    let top = c.fpu.top();
    for k in 0..8 {
        let r = c.fpu.st[(top + k) & 7];
        b[N + 10 * k..N + 10 * k + 10].copy_from_slice(&r.to_bytes());
    }
    store_bytes(c, &dst, &b[..N + 80]);
    init(&mut c.fpu);
    Ok(())
}

/// FRSTOR m94/m108.
extern "C" fn frstor<const N: usize>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    enter(c)?;
    let off = c.ea(i);
    let mut b = [0u8; 108];
    read_bytes(c, i, off, &mut b[..N + 80])?;
    load_env(c, N, &b[..N]);
    let top = c.fpu.top();
    for k in 0..8 {
        let mut v = [0u8; 10];
        v.copy_from_slice(&b[N + 10 * k..N + 10 * k + 10]);
        c.fpu.st[(top + k) & 7] = F80::from_bytes(&v);
    }
    retag(&mut c.fpu);
    update_es(&mut c.fpu);
    Ok(())
}
