//! Flag instructions, no-ops and the simple system instructions: CLC, STC,
//! CMC, CLD, STD, CLI, STI, LAHF, SAHF, NOP forms, fences, PAUSE, HLT,
//! CPUID, RDTSC, RDTSCP, IN and OUT (SDM Vol. 2).

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::decode::{Handler, Insn};
use crate::exception::{Exception, PORT_OUT};
use crate::flags::{AF, CF, DF, PF, SF, ZF};
use crate::run::{Exit, Request};
use crate::state::{Cpu, Cr4, Rflags};

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Nop | Pause | Lfence | Mfence | Sfence | Prefetchnta | Prefetcht0 | Prefetcht1
        | Prefetcht2 | Prefetchw | Endbr32 | Endbr64 => nop,
        // RDSSPD/RDSSPQ (in the reserved-NOP space, F3 0F 1E /1) change
        // nothing while CET shadow stacks are not enabled, and this
        // processor has none (SDM Vol. 2B, RDSSPD/RDSSPQ Operation): code
        // that zeroes the register first reads 0, "no shadow stack", as
        // glibc's unwinder does.
        Rdsspd | Rdsspq => nop,
        Clc => clc,
        Stc => stc,
        Cmc => cmc,
        Cld => cld,
        Std => std_,
        Cli => cli,
        Sti => sti,
        Lahf => lahf,
        Sahf => sahf,
        Hlt => hlt,
        Cpuid => cpuid,
        Rdtsc => rdtsc,
        Rdtscp => rdtscp,
        Ud0 | Ud1 | Ud2 => super::undefined,
        In if ins.op1_kind() == OpKind::Register || ins.op1_kind() == OpKind::Immediate8 => port_in,
        Out if ins.op0_kind() == OpKind::Register || ins.op0_kind() == OpKind::Immediate8 => {
            port_out
        }
        _ => return None,
    })
}

extern "C" fn nop(_c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    Ok(())
}

extern "C" fn clc(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    c.rflags &= !CF;
    Ok(())
}

extern "C" fn stc(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    c.rflags |= CF;
    Ok(())
}

extern "C" fn cmc(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    c.rflags ^= CF;
    Ok(())
}

extern "C" fn cld(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    c.rflags &= !DF;
    Ok(())
}

extern "C" fn std_(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    c.rflags |= DF;
    Ok(())
}

/// CLI/STI in protected mode need CPL <= IOPL, else #GP(0) (SDM Vol. 2
/// CLI; the VME/PVI virtual-interrupt variants are not modeled).
fn if_allowed(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & 1 != 0 && c.cpl() > c.iopl() {
        return Err(Exception::GP(0));
    }
    Ok(())
}

extern "C" fn cli(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if_allowed(c)?;
    c.rflags &= !Rflags::IF.bits();
    Ok(())
}

extern "C" fn sti(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if_allowed(c)?;
    c.rflags |= Rflags::IF.bits();
    Ok(())
}

/// LAHF: AH = SF:ZF:0:AF:0:PF:1:CF.
extern "C" fn lahf(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let v = (c.rflags & (SF | ZF | AF | PF | CF)) | 2;
    c.wr(16, 1, v);
    Ok(())
}

extern "C" fn sahf(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let m = SF | ZF | AF | PF | CF;
    let ah = c.rd(16, 1);
    c.rflags = (c.rflags & !m) | (ah & m);
    Ok(())
}

/// HLT: privileged (#GP(0) at CPL > 0); at CPL 0 the run loop exits.
extern "C" fn hlt(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    c.request = Request::Exit(Exit::Hlt);
    Ok(())
}

/// RDTSC reads the modeled cycle counter; with CR4.TSD it is privileged.
extern "C" fn rdtsc(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if c.ctrl.cr4 & Cr4::TSD.bits() != 0 && c.cpl() != 0 && c.ctrl.cr0 & 1 != 0 {
        return Err(Exception::GP(0));
    }
    let now = c.block_cycles + i.cum as u64;
    let t = now.wrapping_add(c.msr.tsc_offset);
    c.wr(0, 4, t & 0xFFFF_FFFF);
    c.wr(2, 4, t >> 32);
    Ok(())
}

/// RDTSCP: RDTSC plus ECX = IA32_TSC_AUX.
extern "C" fn rdtscp(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    rdtsc(c, i)?;
    let aux = c.msr.tsc_aux;
    c.wr(1, 4, aux & 0xFFFF_FFFF);
    Ok(())
}

/// CPUID: a coherent baseline x86-64 processor (see [`crate::cpuid`]).
extern "C" fn cpuid(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let r = crate::cpuid::query(c.vendor, c.gpr[0] as u32, c.gpr[1] as u32);
    for (slot, v) in [(0u8, r[0]), (3, r[1]), (1, r[2]), (2, r[3])] {
        c.wr(slot, 4, v as u64);
    }
    Ok(())
}

/// I/O permission (SDM Vol. 1 §19.5): in protected mode with CPL > IOPL,
/// and always in virtual-8086 mode, the access is allowed only when every
/// bit for `port..port + size` in the TSS I/O permission bitmap is clear.
/// The bitmap starts at the 16-bit offset stored at TSS byte 0x66; bits
/// beyond the TSS limit count as set. A TSS that is not a 32/64-bit TSS
/// (or no TSS at all) denies the access.
#[inline(always)]
fn io_allowed(c: &mut Cpu, port: u16, size: u8) -> Result<(), Exception> {
    let v86 = c.rflags & Rflags::VM.bits() != 0;
    if c.ctrl.cr0 & 1 == 0 || (!v86 && c.cpl() <= c.iopl()) {
        return Ok(());
    }
    io_bitmap_allows(c, port, size)
}

/// The TSS I/O permission bitmap check [`io_allowed`] falls back to.
#[cold]
#[inline(never)]
fn io_bitmap_allows(c: &mut Cpu, port: u16, size: u8) -> Result<(), Exception> {
    let deny = Exception::GP(0);
    // Only 32-bit (and 64-bit) TSSs have a bitmap (types 9 and 0xB).
    if c.tr.attr & 0xD != 0x9 || c.tr.limit < 0x67 {
        return Err(deny);
    }
    let lin = |c: &Cpu, off: u64| c.tr.base.wrapping_add(off);
    let base = c.system_read(lin(c, 0x66), 2).map_err(|_| deny)?;
    let first = base + port as u64 / 8;
    let last = base + (port as u64 + size as u64 - 1) / 8;
    if last > c.tr.limit as u64 {
        return Err(deny);
    }
    let mut bits = 0u64;
    for (k, off) in (first..=last).enumerate() {
        bits |= c.system_read(lin(c, off), 1).map_err(|_| deny)? << (8 * k);
    }
    let mask = ((1u64 << size) - 1) << (port % 8);
    if bits & mask != 0 {
        return Err(deny);
    }
    Ok(())
}

fn port_of(c: &Cpu, i: &Insn, n: u32) -> u16 {
    if i.ins.op_kind(n) == OpKind::Immediate8 {
        i.ins.immediate8() as u16
    } else {
        c.gpr[2] as u16
    }
}

/// IN: no device model answers, so the data read is all ones; the run loop
/// exits so the host can supply a value.
extern "C" fn port_in(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let port = port_of(c, i, 1);
    let size = i.size;
    io_allowed(c, port, size)?;
    c.wr(0, size, u64::MAX);
    c.request = Request::Exit(Exit::IoIn { port, size });
    Ok(())
}

/// OUT: the run loop offers the write to its port hook, or exits with
/// the port and value.
extern "C" fn port_out(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let port = port_of(c, i, 0);
    let size = i.size1;
    io_allowed(c, port, size)?;
    let value = c.rd(0, size) as u32;
    c.request = Request::Exit(Exit::IoOut { port, size, value });
    Err(PORT_OUT)
}

#[cfg(test)]
mod tests {
    use crate::exception::Exception;
    use crate::run::Exit;
    use crate::state::Segment;
    use crate::testutil::{machine, run};

    /// A 64-bit machine at CPL 3 (IOPL 0) with a 64-bit TSS at 0x6000 whose
    /// I/O bitmap (at TSS offset 0x68) allows only ports 0x80-0x83.
    fn with_bitmap() -> crate::run::Vcpu {
        let mut v = machine(64);
        v.cpu.set_flat_mode(64, 3);
        let tss = 0x6000u64;
        v.cpu.tr = Segment {
            selector: 0x40,
            base: tss,
            limit: 0x68 + 0x2000,
            attr: 0x8B,
        };
        v.cpu.mmu.phys.write_u16(tss + 0x66, 0x68);
        let bitmap = vec![0xFFu8; 0x2000];
        v.cpu.mmu.phys.write(tss + 0x68, &bitmap);
        v.cpu.mmu.phys.write_u8(tss + 0x68 + 0x10, 0xF0); // ports 0x80-0x83 allowed
        v
    }

    #[test]
    fn the_tss_io_bitmap_grants_ports_above_iopl() {
        let mut v = with_bitmap();
        // out 0x80, al
        assert_eq!(
            run(&mut v, &[0xE6, 0x80]),
            Exit::IoOut {
                port: 0x80,
                size: 1,
                value: 0
            }
        );
        let mut v = with_bitmap();
        // out 0x82, eax: ports 0x82..0x85 — 0x84 is denied.
        assert_eq!(
            run(&mut v, &[0xE7, 0x82]),
            Exit::Exception(Exception::GP(0))
        );
        let mut v = with_bitmap();
        // in al, 0x60: denied.
        assert_eq!(
            run(&mut v, &[0xE4, 0x60]),
            Exit::Exception(Exception::GP(0))
        );
        assert_eq!(v.cpu.rip, crate::testutil::CODE);
    }

    #[test]
    fn a_bitmap_beyond_the_tss_limit_denies() {
        let mut v = with_bitmap();
        v.cpu.tr.limit = 0x68 + 0x10 - 1; // the byte for port 0x80 is outside
        assert_eq!(
            run(&mut v, &[0xE6, 0x80]),
            Exit::Exception(Exception::GP(0))
        );
        // IOPL 3 needs no bitmap.
        let mut v = with_bitmap();
        v.cpu.rflags |= 3 << 12;
        assert_eq!(
            run(&mut v, &[0xE4, 0x60]),
            Exit::IoIn {
                port: 0x60,
                size: 1
            }
        );
    }
}
