//! Control, debug and model-specific registers: MOV to/from CR0/CR2/CR3/
//! CR4/CR8, MOV to/from DR0-DR7, LMSW, SMSW, CLTS, RDMSR, WRMSR, INVLPG,
//! WBINVD, INVD (SDM Vol. 2 pages of each; Vol. 3 §2.5, §2.2.1, §4.10).
//!
//! Every write is checked in full before it is committed (reserved bits,
//! illegal combinations, CPL 0). Writes that change how linear addresses
//! translate flush the MMU's TLB the way the SDM says: MOV to CR3 keeps
//! global entries when CR4.PGE = 1; changes to CR0.PG/WP/PE, CR4 paging
//! bits or EFER.NXE flush everything (sysgate's TLB caches rights computed
//! from WP/SMEP/SMAP/NXE, so it must be flushed when they change).
//!
//! IA-32e mode is activated as on hardware: setting CR0.PG with EFER.LME = 1
//! (and CR4.PAE = 1) sets EFER.LMA; clearing CR0.PG clears it.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use crate::decode::{Handler, Insn, Opnd};
use crate::exception::Exception;
use crate::memory::is_canonical;
use crate::state::{Cpu, Cr0, Cr4, Efer, SegReg};
use crate::transition::TransitionKind;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let reg = |n: u32| {
        if n < ins.op_count() && ins.op_kind(n) == OpKind::Register {
            ins.op_register(n)
        } else {
            Register::None
        }
    };
    Some(match ins.mnemonic() {
        Mov if reg(0).is_cr() => mov_to_cr,
        Mov if reg(1).is_cr() => mov_from_cr,
        Mov if reg(0).is_dr() => mov_to_dr,
        Mov if reg(1).is_dr() => mov_from_dr,
        Lmsw => lmsw,
        Smsw => smsw,
        Clts => clts,
        Rdmsr => rdmsr,
        Wrmsr => wrmsr,
        Invlpg => invlpg,
        Wbinvd | Invd => privileged_nop,
        _ => return None,
    })
}

/// The MSR numbers sysgate implements (SDM Vol. 4).
pub mod msr {
    /// IA32_TIME_STAMP_COUNTER.
    pub const TSC: u32 = 0x10;
    /// IA32_APIC_BASE.
    pub const APIC_BASE: u32 = 0x1B;
    /// IA32_SYSENTER_CS.
    pub const SYSENTER_CS: u32 = 0x174;
    /// IA32_SYSENTER_ESP.
    pub const SYSENTER_ESP: u32 = 0x175;
    /// IA32_SYSENTER_EIP.
    pub const SYSENTER_EIP: u32 = 0x176;
    /// IA32_MISC_ENABLE.
    pub const MISC_ENABLE: u32 = 0x1A0;
    /// IA32_PAT.
    pub const PAT: u32 = 0x277;
    /// IA32_EFER.
    pub const EFER: u32 = 0xC000_0080;
    /// IA32_STAR.
    pub const STAR: u32 = 0xC000_0081;
    /// IA32_LSTAR.
    pub const LSTAR: u32 = 0xC000_0082;
    /// IA32_CSTAR.
    pub const CSTAR: u32 = 0xC000_0083;
    /// IA32_FMASK.
    pub const FMASK: u32 = 0xC000_0084;
    /// IA32_FS_BASE.
    pub const FS_BASE: u32 = 0xC000_0100;
    /// IA32_GS_BASE.
    pub const GS_BASE: u32 = 0xC000_0101;
    /// IA32_KERNEL_GS_BASE.
    pub const KERNEL_GS_BASE: u32 = 0xC000_0102;
    /// IA32_TSC_AUX.
    pub const TSC_AUX: u32 = 0xC000_0103;
}

/// CR4 bits sysgate supports; setting any other bit is #GP(0) (SDM Vol. 2
/// MOV CRn: reserved bits, and features CPUID does not report).
const CR4_SUPPORTED: u64 = Cr4::VME.bits()
    | Cr4::PVI.bits()
    | Cr4::TSD.bits()
    | Cr4::DE.bits()
    | Cr4::PSE.bits()
    | Cr4::PAE.bits()
    | Cr4::MCE.bits()
    | Cr4::PGE.bits()
    | Cr4::PCE.bits()
    | Cr4::OSFXSR.bits()
    | Cr4::OSXMMEXCPT.bits()
    | Cr4::SMEP.bits()
    | Cr4::SMAP.bits();

/// CR4 bits whose change invalidates cached translations.
const CR4_PAGING: u64 =
    Cr4::PSE.bits() | Cr4::PAE.bits() | Cr4::PGE.bits() | Cr4::SMEP.bits() | Cr4::SMAP.bits();

/// EFER bits software may write.
const EFER_WRITABLE: u64 = Efer::SCE.bits() | Efer::LME.bits() | Efer::NXE.bits();

fn require_cpl0(c: &Cpu) -> Result<(), Exception> {
    if c.cpl() != 0 {
        return Err(Exception::GP(0));
    }
    Ok(())
}

fn cr_number(r: Register) -> u8 {
    (r as u32 - Register::CR0 as u32) as u8
}

fn dr_number(r: Register) -> u8 {
    (r as u32 - Register::DR0 as u32) as u8
}

fn gpr_operand(i: &Insn, n: usize) -> Result<u8, Exception> {
    match i.ops[n] {
        Opnd::Reg(s) if s < 16 => Ok(s),
        _ => Err(Exception::UD),
    }
}

/// The operand size of MOV CR/DR: 64 bits in 64-bit mode, 32 otherwise.
fn cr_size(c: &Cpu) -> u8 {
    if c.in_long64() { 8 } else { 4 }
}

/// Loads CR0 after the checks of SDM Vol. 2 MOV CRn and Vol. 3 §9.8.5.
pub(crate) fn write_cr0(c: &mut Cpu, value: u64) -> Result<(), Exception> {
    let v = value | Cr0::ET.bits();
    let pg = v & Cr0::PG.bits() != 0;
    let pe = v & Cr0::PE.bits() != 0;
    if v >> 32 != 0 || (pg && !pe) || (v & Cr0::NW.bits() != 0 && v & Cr0::CD.bits() == 0) {
        return Err(Exception::GP(0));
    }
    let efer = c.ctrl.efer;
    let lme = efer & Efer::LME.bits() != 0;
    let was_pg = c.ctrl.cr0 & Cr0::PG.bits() != 0;
    let mut new_efer = efer;
    if pg && !was_pg && lme {
        // Activating IA-32e mode needs PAE and a CS that is not 64-bit.
        if c.ctrl.cr4 & Cr4::PAE.bits() == 0 || c.seg[SegReg::Cs as usize].long() {
            return Err(Exception::GP(0));
        }
        new_efer |= Efer::LMA.bits();
    }
    if !pg && was_pg && efer & Efer::LMA.bits() != 0 {
        // Leaving IA-32e mode is allowed only from compatibility mode.
        if c.in_long64() {
            return Err(Exception::GP(0));
        }
        new_efer &= !Efer::LMA.bits();
    }
    let flush_bits = Cr0::PG.bits() | Cr0::WP.bits() | Cr0::PE.bits();
    let changed = (c.ctrl.cr0 ^ v) & flush_bits != 0 || new_efer != efer;
    c.ctrl.cr0 = v;
    c.ctrl.efer = new_efer;
    if changed {
        c.mmu.flush_tlb(false);
    }
    Ok(())
}

/// Loads CR4 after its reserved-bit and mode checks.
pub(crate) fn write_cr4(c: &mut Cpu, v: u64) -> Result<(), Exception> {
    if v & !CR4_SUPPORTED != 0 {
        return Err(Exception::GP(0));
    }
    // SDM Vol. 2 MOV CRn: clearing CR4.PAE while IA-32e mode is active.
    if c.ctrl.efer & Efer::LMA.bits() != 0 && v & Cr4::PAE.bits() == 0 {
        return Err(Exception::GP(0));
    }
    let changed = (c.ctrl.cr4 ^ v) & CR4_PAGING != 0;
    c.ctrl.cr4 = v;
    if changed {
        c.mmu.flush_tlb(false);
    }
    Ok(())
}

/// Loads CR3: bits above MAXPHYADDR are reserved in IA-32e mode.
pub(crate) fn write_cr3(c: &mut Cpu, v: u64) -> Result<(), Exception> {
    if c.ctrl.efer & Efer::LMA.bits() != 0 && v >> sysgate_mmu::MAXPHYADDR != 0 {
        return Err(Exception::GP(0));
    }
    c.ctrl.cr3 = if c.ctrl.efer & Efer::LMA.bits() != 0 {
        v
    } else {
        v & 0xFFFF_FFFF
    };
    let keep_global = c.ctrl.cr4 & Cr4::PGE.bits() != 0;
    c.mmu.flush_tlb(keep_global);
    Ok(())
}

/// Loads IA32_EFER: reserved bits and changing LME while paging is on are
/// #GP(0); LMA is read-only.
pub(crate) fn write_efer(c: &mut Cpu, v: u64) -> Result<(), Exception> {
    if v & !(EFER_WRITABLE | Efer::LMA.bits()) != 0 {
        return Err(Exception::GP(0));
    }
    let old = c.ctrl.efer;
    if c.ctrl.cr0 & Cr0::PG.bits() != 0 && (old ^ v) & Efer::LME.bits() != 0 {
        return Err(Exception::GP(0));
    }
    c.ctrl.efer = (v & EFER_WRITABLE) | (old & Efer::LMA.bits());
    if (old ^ v) & Efer::NXE.bits() != 0 {
        c.mmu.flush_tlb(false);
    }
    Ok(())
}

extern "C" fn mov_to_cr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    let src = gpr_operand(i, 1)?;
    let v = c.rd(src, cr_size(c));
    match cr_number(i.ins.op0_register()) {
        0 => write_cr0(c, v),
        2 => {
            c.cr2 = v;
            Ok(())
        }
        3 => {
            let b = c.before(i.ip());
            write_cr3(c, v)?;
            c.record(TransitionKind::MovCr3, b, false);
            Ok(())
        }
        4 => write_cr4(c, v),
        8 if c.in_long64() => {
            if v >> 4 != 0 {
                return Err(Exception::GP(0));
            }
            c.cr8 = v;
            Ok(())
        }
        _ => Err(Exception::UD),
    }
}

extern "C" fn mov_from_cr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    let dst = gpr_operand(i, 0)?;
    let v = match cr_number(i.ins.op1_register()) {
        0 => c.ctrl.cr0,
        2 => c.cr2,
        3 => c.ctrl.cr3,
        4 => c.ctrl.cr4,
        8 if c.in_long64() => c.cr8,
        _ => return Err(Exception::UD),
    };
    c.wr(dst, cr_size(c), v);
    Ok(())
}

/// DR4/DR5 alias DR6/DR7 unless CR4.DE = 1, when they are #UD.
fn debug_register(c: &Cpu, n: u8) -> Result<usize, Exception> {
    match n {
        4 | 5 if c.ctrl.cr4 & Cr4::DE.bits() != 0 => Err(Exception::UD),
        4 | 5 => Ok(n as usize + 2),
        0..=7 => Ok(n as usize),
        _ => Err(Exception::UD),
    }
}

/// MOV to DRn. DR6/DR7 bits 63:32 must be zero (#GP(0)); DR7.GD
/// general-detect (#DB) is not modeled.
extern "C" fn mov_to_dr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    let n = debug_register(c, dr_number(i.ins.op0_register()))?;
    let src = gpr_operand(i, 1)?;
    let v = c.rd(src, cr_size(c));
    if n >= 6 && v >> 32 != 0 {
        return Err(Exception::GP(0));
    }
    c.dr[n] = match n {
        6 => v | 0xFFFF_0FF0,
        7 => (v | 0x400) & !0x0000_D000,
        _ => v,
    };
    Ok(())
}

extern "C" fn mov_from_dr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    let n = debug_register(c, dr_number(i.ins.op1_register()))?;
    let dst = gpr_operand(i, 0)?;
    let v = c.dr[n];
    c.wr(dst, cr_size(c), v);
    Ok(())
}

/// LMSW: loads CR0 bits 3:0 (PE, MP, EM, TS); it can set PE but never
/// clear it.
extern "C" fn lmsw(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    let v = c.get(i, 0, 2)?;
    let pe = (c.ctrl.cr0 | v) & Cr0::PE.bits();
    let cr0 = (c.ctrl.cr0 & !0xF) | (v & 0xE) | pe;
    write_cr0(c, cr0)
}

/// SMSW: the low bits of CR0 (a memory destination takes 16 bits).
extern "C" fn smsw(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = if i.ops[0] == Opnd::Mem { 2 } else { i.size };
    let v = c.ctrl.cr0;
    c.put(i, 0, size, v)
}

extern "C" fn clts(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    c.ctrl.cr0 &= !Cr0::TS.bits();
    Ok(())
}

extern "C" fn privileged_nop(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)
}

/// INVLPG m: drops the TLB entries of the page holding the operand's
/// linear address; a non-canonical address in 64-bit mode is a no-op.
extern "C" fn invlpg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    let off = c.ea(i);
    let seg = i.mem.seg;
    let lin = if c.in_long64() {
        let base = if seg >= SegReg::Fs as u8 {
            c.seg[(seg as usize).min(5)].base
        } else {
            0
        };
        base.wrapping_add(off)
    } else {
        c.seg[(seg as usize).min(5)].base.wrapping_add(off) & 0xFFFF_FFFF
    };
    if !c.in_long64() || is_canonical(lin) {
        c.mmu.invlpg(lin);
    }
    Ok(())
}

/// Reads an MSR, or None when sysgate does not implement it.
pub fn read_msr(c: &Cpu, index: u32) -> Option<u64> {
    let m = &c.msr;
    Some(match index {
        msr::TSC => c.cycles.wrapping_add(m.tsc_offset),
        msr::APIC_BASE => m.apic_base,
        msr::SYSENTER_CS => m.sysenter_cs,
        msr::SYSENTER_ESP => m.sysenter_esp,
        msr::SYSENTER_EIP => m.sysenter_eip,
        msr::MISC_ENABLE => m.misc_enable,
        msr::PAT => m.pat,
        msr::EFER => c.ctrl.efer,
        msr::STAR => m.star,
        msr::LSTAR => m.lstar,
        msr::CSTAR => m.cstar,
        msr::FMASK => m.fmask,
        msr::FS_BASE => c.seg[SegReg::Fs as usize].base,
        msr::GS_BASE => c.seg[SegReg::Gs as usize].base,
        msr::KERNEL_GS_BASE => m.kernel_gs_base,
        msr::TSC_AUX => m.tsc_aux,
        _ => return None,
    })
}

/// True when every PAT entry holds a valid memory type (0, 1, 4, 5, 6, 7).
fn valid_pat(v: u64) -> bool {
    (0..8).all(|k| matches!((v >> (8 * k)) & 0xFF, 0 | 1 | 4 | 5 | 6 | 7))
}

/// Writes an MSR with the checks of SDM Vol. 2 WRMSR and Vol. 4: unknown
/// MSRs, reserved bits and non-canonical addresses in address MSRs are
/// #GP(0).
pub fn write_msr(c: &mut Cpu, index: u32, v: u64) -> Result<(), Exception> {
    let canonical = |v: u64| {
        if is_canonical(v) {
            Ok(v)
        } else {
            Err(Exception::GP(0))
        }
    };
    match index {
        msr::TSC => c.msr.tsc_offset = v.wrapping_sub(c.cycles),
        msr::APIC_BASE => c.msr.apic_base = v,
        msr::SYSENTER_CS => c.msr.sysenter_cs = v & 0xFFFF_FFFF,
        msr::SYSENTER_ESP => c.msr.sysenter_esp = canonical(v)?,
        msr::SYSENTER_EIP => c.msr.sysenter_eip = canonical(v)?,
        msr::MISC_ENABLE => c.msr.misc_enable = v,
        msr::PAT if valid_pat(v) => c.msr.pat = v,
        msr::EFER => write_efer(c, v)?,
        msr::STAR => c.msr.star = v,
        msr::LSTAR => c.msr.lstar = canonical(v)?,
        msr::CSTAR => c.msr.cstar = canonical(v)?,
        msr::FMASK if v >> 32 == 0 => c.msr.fmask = v,
        msr::FS_BASE => c.seg[SegReg::Fs as usize].base = canonical(v)?,
        msr::GS_BASE => c.seg[SegReg::Gs as usize].base = canonical(v)?,
        msr::KERNEL_GS_BASE => c.msr.kernel_gs_base = canonical(v)?,
        msr::TSC_AUX if v >> 32 == 0 => c.msr.tsc_aux = v,
        _ => return Err(Exception::GP(0)),
    }
    Ok(())
}

/// RDMSR: EDX:EAX = MSR[ECX].
extern "C" fn rdmsr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    // The run loop charges cycles per block; make the count exact for TSC.
    c.cycles = c.block_cycles + i.cum as u64;
    let v = read_msr(c, c.gpr[1] as u32).ok_or(Exception::GP(0))?;
    c.wr(0, 4, v & 0xFFFF_FFFF);
    c.wr(2, 4, v >> 32);
    Ok(())
}

/// WRMSR: MSR[ECX] = EDX:EAX.
extern "C" fn wrmsr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    require_cpl0(c)?;
    c.cycles = c.block_cycles + i.cum as u64;
    let v = (c.gpr[0] & 0xFFFF_FFFF) | (c.gpr[2] << 32);
    let index = c.gpr[1] as u32;
    let b = c.before(i.ip());
    write_msr(c, index, v)?;
    c.record(TransitionKind::Wrmsr(index), b, false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::code_asm::*;

    use super::msr;
    use crate::exception::Exception;
    use crate::run::Exit;
    use crate::state::{Cr0, Cr4, Efer};
    use crate::testutil::{exec, fault, machine, run};

    /// Identity-maps the first 2 MiB with a 2 MiB page in 4-level tables
    /// at 0x10000 and returns CR3.
    fn long_mode_tables(v: &mut crate::run::Vcpu) -> u64 {
        let p = &mut v.cpu.mmu.phys;
        p.write_u64(0x10000, 0x11000 | 3); // PML4[0] -> PDPT
        p.write_u64(0x11000, 0x12000 | 3); // PDPT[0] -> PD
        p.write_u64(0x12000, 0x83); // PD[0]: 2 MiB page at 0
        0x10000
    }

    #[test]
    fn real_mode_to_long_mode_through_cr0_cr4_efer() {
        // From flat 32-bit protected mode (no paging): PAE, LME, then PG
        // activates IA-32e mode (compatibility submode, CS.L = 0).
        let code = crate::testutil::asm(32, |a| {
            a.mov(eax, 0x10000u32)?;
            a.mov(cr3, eax)?;
            a.mov(eax, cr4)?;
            a.or(eax, 0x20)?;
            a.mov(cr4, eax)?;
            a.mov(ecx, msr::EFER)?;
            a.rdmsr()?;
            a.or(eax, 0x100)?;
            a.wrmsr()?;
            a.mov(eax, cr0)?;
            a.or(eax, 0x8000_0000u32 as i32)?;
            a.mov(cr0, eax)
        });
        let mut v = machine(32);
        long_mode_tables(&mut v);
        assert_eq!(run(&mut v, &code), Exit::Hlt);
        assert_ne!(v.cpu.ctrl.efer & Efer::LMA.bits(), 0);
        assert_eq!(v.cpu.mode(), crate::state::Mode::Compatibility);
        assert_ne!(v.cpu.ctrl.cr4 & Cr4::PAE.bits(), 0);
    }

    #[test]
    fn paging_without_pae_under_lme_is_gp() {
        let code = crate::testutil::asm(32, |a| {
            a.mov(ecx, msr::EFER)?;
            a.mov(eax, 0x100u32)?;
            a.xor(edx, edx)?;
            a.wrmsr()?;
            a.mov(eax, 0x8000_0001u32)?;
            a.mov(cr0, eax)
        });
        let mut v = machine(32);
        let before = v.cpu.ctrl.cr0;
        assert_eq!(run(&mut v, &code), Exit::Exception(Exception::GP(0)));
        assert_eq!(v.cpu.ctrl.cr0, before);
    }

    #[test]
    fn cr0_reserved_combinations_fault() {
        for value in [0x8000_0000u32, 0x2000_0001] {
            // PG without PE; NW without CD.
            let (exit, v) = fault(32, |a| {
                a.mov(eax, value)?;
                a.mov(cr0, eax)
            });
            assert_eq!(exit, Exit::Exception(Exception::GP(0)), "{value:#x}");
            assert_eq!(v.cpu.ctrl.cr0 & Cr0::PG.bits(), 0);
        }
    }

    #[test]
    fn cr4_reserved_bit_faults() {
        let (exit, v) = fault(64, |a| {
            a.mov(rax, 1u64 << 30)?;
            a.mov(cr4, rax)
        });
        assert_eq!(exit, Exit::Exception(Exception::GP(0)));
        assert_eq!(v.cpu.ctrl.cr4, 0);
    }

    #[test]
    fn msrs_round_trip_and_unknown_msr_faults() {
        let v = exec(64, |a| {
            a.mov(ecx, msr::LSTAR)?;
            a.mov(eax, 0x1234_5678u32)?;
            a.mov(edx, 0xFFFF_8000u32)?;
            a.wrmsr()?;
            a.xor(eax, eax)?;
            a.xor(edx, edx)?;
            a.rdmsr()
        });
        assert_eq!(v.cpu.msr.lstar, 0xFFFF_8000_1234_5678);
        assert_eq!(v.cpu.gpr[0], 0x1234_5678);
        assert_eq!(v.cpu.gpr[2], 0xFFFF_8000);
        let (exit, _) = fault(64, |a| {
            a.mov(ecx, 0xDEAD_u32)?;
            a.rdmsr()
        });
        assert_eq!(exit, Exit::Exception(Exception::GP(0)));
        // Non-canonical LSTAR.
        let (exit, v) = fault(64, |a| {
            a.mov(ecx, msr::LSTAR)?;
            a.mov(edx, 0x0001_0000u32)?;
            a.wrmsr()
        });
        assert_eq!(exit, Exit::Exception(Exception::GP(0)));
        assert_eq!(v.cpu.msr.lstar, 0);
    }

    #[test]
    fn system_register_instructions_fault_at_cpl3() {
        let cases: [&[u8]; 8] = [
            &[0x0F, 0x22, 0xD8], // mov cr3, rax
            &[0x0F, 0x20, 0xC0], // mov rax, cr0
            &[0x0F, 0x32],       // rdmsr
            &[0x0F, 0x30],       // wrmsr
            &[0x0F, 0x06],       // clts
            &[0x0F, 0x01, 0x38], // invlpg [rax]
            &[0x0F, 0x23, 0xF8], // mov dr7, rax
            &[0x0F, 0x09],       // wbinvd
        ];
        for bytes in cases {
            let mut v = machine(64);
            v.cpu.set_flat_mode(64, 3);
            let before = (v.cpu.ctrl, v.cpu.msr, v.cpu.dr);
            assert_eq!(
                run(&mut v, bytes),
                Exit::Exception(Exception::GP(0)),
                "{bytes:x?}"
            );
            assert_eq!((v.cpu.ctrl, v.cpu.msr, v.cpu.dr), before);
            assert_eq!(v.cpu.rip, crate::testutil::CODE);
        }
    }

    #[test]
    fn cr3_write_flushes_the_tlb_but_keeps_global_pages_with_pge() {
        let mut v = machine(64);
        long_mode_tables(&mut v);
        v.cpu.ctrl.cr3 = 0x10000;
        v.cpu.ctrl.cr4 = Cr4::PAE.bits() | Cr4::PGE.bits();
        v.cpu.ctrl.cr0 |= Cr0::PG.bits();
        let code = crate::testutil::asm(64, |a| {
            a.mov(rax, qword_ptr(0x100))?;
            a.mov(rbx, cr3)?;
            a.mov(cr3, rbx)?;
            a.mov(rax, qword_ptr(0x100))
        });
        assert_eq!(run(&mut v, &code), Exit::Hlt);
        assert!(v.cpu.mmu.stats().flushes >= 1);
    }

    #[test]
    fn dr4_aliases_dr6_unless_cr4_de() {
        let v = exec(64, |a| a.mov(rax, dr4));
        assert_eq!(v.cpu.gpr[0], 0xFFFF_0FF0);
        let mut v = machine(64);
        v.cpu.ctrl.cr4 = Cr4::DE.bits();
        assert_eq!(
            run(&mut v, &[0x0F, 0x21, 0xE0]),
            Exit::Exception(Exception::UD)
        );
    }
}
