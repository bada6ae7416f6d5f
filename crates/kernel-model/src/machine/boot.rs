//! Boot: what Linux has built by the time it starts `init` — the GDT in
//! Linux's selector layout, the IDT (exception vectors and vector 0x80 as a
//! DPL 3 gate), the TSS with the kernel stack (and IST1 for #DF on
//! x86_64), the per-CPU area behind IA32_KERNEL_GS_BASE, the kernel half of
//! the page tables, and the SYSCALL/SYSENTER MSRs — written into guest
//! memory and loaded into the processor state directly (sysgate does not
//! run a real-mode boot path).

use sysgate_cpu::state::attr;
use sysgate_cpu::{Cpu, Cr0, Cr4, DescriptorTable, Efer, SegReg, Segment};

use super::entry::{EntryText, percpu};
use super::layout::{KERNEL_PHYS, gdt32, gdt64, image};

/// Which kernel the model boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// A 64-bit kernel (IA-32e mode) serving 64-bit and 32-bit processes.
    X86_64,
    /// A 32-bit kernel (protected mode with paging) serving 32-bit
    /// processes.
    I386,
}

/// Linux's `SYSCALL_MASK` (arch/x86/kernel/cpu/common.c `syscall_init`):
/// CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID.
pub const SYSCALL_MASK: u64 = 0x0025_7FD5;

/// A code/data segment descriptor.
pub const fn seg_desc(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | ((base as u64 & 0xFF_FFFF) << 16)
        | ((access as u64) << 40)
        | (((limit as u64 >> 16) & 0xF) << 48)
        | (((flags as u64) & 0xF) << 52)
        | (((base as u64) >> 24) << 56)
}

/// The hidden-cache value a flat segment selector loads.
fn flat(selector: u16, access: u8, flags: u8) -> Segment {
    Segment {
        selector,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: access as u16 | ((flags as u16) << 12),
    }
}

/// The kernel virtual address of physical kernel-image offset `off`.
pub fn kva(flavor: Flavor, off: u64) -> u64 {
    let base = match flavor {
        Flavor::X86_64 => super::layout::X86_64_KERNEL_MAP,
        Flavor::I386 => super::layout::I386_PAGE_OFFSET,
    };
    base + KERNEL_PHYS + off
}

/// The physical address of kernel-image offset `off`.
pub fn kpa(off: u64) -> u64 {
    KERNEL_PHYS + off
}

/// Writes an IDT gate for `vector`.
fn write_gate(cpu: &mut Cpu, flavor: Flavor, vector: u8, handler: u64, dpl: u8, ist: u8) {
    let sel = match flavor {
        Flavor::X86_64 => gdt64::KERNEL_CS,
        Flavor::I386 => gdt32::KERNEL_CS,
    } as u64;
    // Interrupt gate (type 0xE), present, DPL.
    let access = 0x8E | ((dpl as u64) << 5);
    let lo = (handler & 0xFFFF)
        | (sel << 16)
        | ((ist as u64 & 7) << 32)
        | (access << 40)
        | (((handler >> 16) & 0xFFFF) << 48);
    let p = &mut cpu.mmu.phys;
    match flavor {
        Flavor::X86_64 => {
            let at = kpa(image::IDT) + vector as u64 * 16;
            p.write_u64(at, lo);
            p.write_u64(at + 8, handler >> 32);
        }
        Flavor::I386 => {
            let at = kpa(image::IDT) + vector as u64 * 8;
            p.write_u64(at, lo);
        }
    }
}

/// Builds the descriptor tables, TSS and per-CPU area, loads the entry
/// text, and puts the processor in the flavor's kernel mode with paging
/// on `cr3`. `kstack_top` is the first task's kernel stack top.
pub fn boot(cpu: &mut Cpu, flavor: Flavor, text: &EntryText, cr3: u64, kstack_top: u64) {
    cpu.mmu.phys.write(kpa(image::TEXT), &text.code);
    let gdt = kpa(image::GDT);
    let tss_va = kva(flavor, image::TSS);
    let percpu_va = kva(flavor, image::PERCPU);
    match flavor {
        Flavor::X86_64 => {
            let entries: [(u16, u64); 6] = [
                (gdt64::KERNEL32_CS, seg_desc(0, 0xFFFFF, 0x9B, 0xC)),
                (gdt64::KERNEL_CS, seg_desc(0, 0xFFFFF, 0x9B, 0xA)),
                (gdt64::KERNEL_DS, seg_desc(0, 0xFFFFF, 0x93, 0xC)),
                (gdt64::USER32_CS, seg_desc(0, 0xFFFFF, 0xFB, 0xC)),
                (gdt64::USER_DS, seg_desc(0, 0xFFFFF, 0xF3, 0xC)),
                (gdt64::USER_CS, seg_desc(0, 0xFFFFF, 0xFB, 0xA)),
            ];
            for (sel, d) in entries {
                cpu.mmu.phys.write_u64(gdt + (sel & !7) as u64, d);
            }
            // 64-bit available TSS (16 bytes), limit 0x67: no I/O bitmap.
            let tss_lo = seg_desc(tss_va as u32, 0x67, 0x89, 0);
            cpu.mmu.phys.write_u64(gdt + gdt64::TSS as u64, tss_lo);
            cpu.mmu
                .phys
                .write_u64(gdt + gdt64::TSS as u64 + 8, tss_va >> 32);
            let tss = kpa(image::TSS);
            cpu.mmu.phys.write_u64(tss + 4, kstack_top); // RSP0
            cpu.mmu
                .phys
                .write_u64(tss + 0x24, kva(flavor, image::DF_STACK + 0x1000)); // IST1
            cpu.mmu.phys.write_u16(tss + 0x66, 0x68); // I/O map base beyond the limit
            let pc = kpa(image::PERCPU);
            cpu.mmu.phys.write_u64(pc + percpu::SELF, percpu_va);
            cpu.mmu
                .phys
                .write_u64(pc + percpu::TOP_OF_STACK, kstack_top);
            for v in 0u8..32 {
                // #BP and #OF may be raised from user mode (int3, into).
                let dpl = if v == 3 || v == 4 { 3 } else { 0 };
                let ist = if v == 8 { 1 } else { 0 };
                write_gate(cpu, flavor, v, text.exceptions[v as usize], dpl, ist);
            }
            if let Some(h) = text.symbol("entry_INT80_compat") {
                write_gate(cpu, flavor, 0x80, h, 3, 0);
            }
            cpu.gdtr = DescriptorTable {
                base: kva(flavor, image::GDT),
                limit: (gdt64::ENTRIES * 8 - 1) as u16,
            };
            cpu.idtr = DescriptorTable {
                base: kva(flavor, image::IDT),
                limit: 256 * 16 - 1,
            };
            cpu.tr = Segment {
                selector: gdt64::TSS,
                base: tss_va,
                limit: 0x67,
                attr: 0x8B,
            };
            // Linux's fpu__init_cpu_generic: OSFXSR and OSXMMEXCPT (SIMD
            // exceptions as #XM); CR0.MP|NE set, EM and TS clear. CR0 is
            // Linux's CR0_STATE (PE MP ET NE WP AM PG): with AM, user code
            // that sets EFLAGS.AC gets #AC (SIGBUS) on misaligned accesses.
            cpu.ctrl.cr4 =
                Cr4::PAE.bits() | Cr4::PGE.bits() | Cr4::OSFXSR.bits() | Cr4::OSXMMEXCPT.bits();
            cpu.ctrl.efer =
                Efer::SCE.bits() | Efer::LME.bits() | Efer::LMA.bits() | Efer::NXE.bits();
            cpu.ctrl.cr0 = Cr0::PE.bits()
                | Cr0::MP.bits()
                | Cr0::ET.bits()
                | Cr0::NE.bits()
                | Cr0::WP.bits()
                | Cr0::AM.bits()
                | Cr0::PG.bits();
            cpu.ctrl.cr3 = cr3;
            cpu.seg[SegReg::Cs as usize] = flat(gdt64::KERNEL_CS, 0x9B, 0xA);
            for s in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
                cpu.seg[s as usize] = flat(gdt64::KERNEL_DS, 0x93, 0xC);
            }
            cpu.msr.star = gdt64::STAR;
            cpu.msr.lstar = text.symbol("entry_SYSCALL_64").unwrap_or(0);
            cpu.msr.cstar = text.symbol("entry_SYSCALL_compat").unwrap_or(0);
            cpu.msr.fmask = SYSCALL_MASK;
            cpu.msr.sysenter_cs = gdt64::KERNEL_CS as u64;
            cpu.msr.sysenter_esp = kstack_top;
            cpu.msr.sysenter_eip = text.symbol("entry_SYSENTER_compat").unwrap_or(0);
            cpu.msr.kernel_gs_base = percpu_va;
        }
        Flavor::I386 => {
            let entries: [(u16, u64); 5] = [
                (gdt32::KERNEL_CS, seg_desc(0, 0xFFFFF, 0x9B, 0xC)),
                (gdt32::KERNEL_DS, seg_desc(0, 0xFFFFF, 0x93, 0xC)),
                (gdt32::USER_CS, seg_desc(0, 0xFFFFF, 0xFB, 0xC)),
                (gdt32::USER_DS, seg_desc(0, 0xFFFFF, 0xF3, 0xC)),
                (gdt32::PERCPU, seg_desc(percpu_va as u32, 0xFFF, 0x93, 0x4)),
            ];
            for (sel, d) in entries {
                cpu.mmu.phys.write_u64(gdt + (sel & !7) as u64, d);
            }
            cpu.mmu.phys.write_u64(
                gdt + gdt32::TSS as u64,
                seg_desc(tss_va as u32, 0x67, 0x89, 0),
            );
            let tss = kpa(image::TSS);
            cpu.mmu.phys.write_u32(tss + 4, kstack_top as u32); // ESP0
            cpu.mmu.phys.write_u32(tss + 8, gdt32::KERNEL_DS as u32); // SS0
            cpu.mmu.phys.write_u16(tss + 0x66, 0x68);
            for v in 0u8..32 {
                let dpl = if v == 3 || v == 4 { 3 } else { 0 };
                write_gate(cpu, flavor, v, text.exceptions[v as usize], dpl, 0);
            }
            if let Some(h) = text.symbol("entry_INT80_32") {
                write_gate(cpu, flavor, 0x80, h, 3, 0);
            }
            cpu.gdtr = DescriptorTable {
                base: kva(flavor, image::GDT),
                limit: (gdt32::ENTRIES * 8 - 1) as u16,
            };
            cpu.idtr = DescriptorTable {
                base: kva(flavor, image::IDT),
                limit: 256 * 8 - 1,
            };
            cpu.tr = Segment {
                selector: gdt32::TSS,
                base: tss_va,
                limit: 0x67,
                attr: 0x8B,
            };
            cpu.ctrl.cr4 =
                Cr4::PSE.bits() | Cr4::PGE.bits() | Cr4::OSFXSR.bits() | Cr4::OSXMMEXCPT.bits();
            cpu.ctrl.efer = 0;
            cpu.ctrl.cr0 = Cr0::PE.bits()
                | Cr0::MP.bits()
                | Cr0::ET.bits()
                | Cr0::NE.bits()
                | Cr0::WP.bits()
                | Cr0::AM.bits()
                | Cr0::PG.bits();
            cpu.ctrl.cr3 = cr3;
            cpu.seg[SegReg::Cs as usize] = flat(gdt32::KERNEL_CS, 0x9B, 0xC);
            for s in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
                cpu.seg[s as usize] = flat(gdt32::KERNEL_DS, 0x93, 0xC);
            }
            cpu.msr.sysenter_cs = gdt32::KERNEL_CS as u64;
            cpu.msr.sysenter_esp = kstack_top;
            cpu.msr.sysenter_eip = text.symbol("entry_SYSENTER_32").unwrap_or(0);
        }
    }
    cpu.ldtr = Segment {
        selector: 0,
        base: 0,
        limit: 0,
        attr: attr::UNUSABLE,
    };
    cpu.mmu.flush_tlb(false);
}

/// Points the TSS, the per-CPU area and IA32_SYSENTER_ESP at a task's
/// kernel stack (what Linux's context switch does with `sp0`).
pub fn set_kernel_stack(cpu: &mut Cpu, flavor: Flavor, top: u64) {
    let tss = kpa(image::TSS);
    match flavor {
        Flavor::X86_64 => {
            cpu.mmu.phys.write_u64(tss + 4, top);
            cpu.mmu
                .phys
                .write_u64(kpa(image::PERCPU) + percpu::TOP_OF_STACK, top);
        }
        Flavor::I386 => cpu.mmu.phys.write_u32(tss + 4, top as u32),
    }
    cpu.msr.sysenter_esp = top;
}

/// The user code and stack segment caches for a process of `bits`.
pub fn user_segments(cpu: &mut Cpu, flavor: Flavor, bits: u32) {
    let (cs, ds, cs_flags) = match (flavor, bits) {
        (Flavor::X86_64, 64) => (gdt64::USER_CS, gdt64::USER_DS, 0xA),
        (Flavor::X86_64, _) => (gdt64::USER32_CS, gdt64::USER_DS, 0xC),
        (Flavor::I386, _) => (gdt32::USER_CS, gdt32::USER_DS, 0xC),
    };
    cpu.seg[SegReg::Cs as usize] = flat(cs, 0xFB, cs_flags);
    for s in [SegReg::Ss, SegReg::Ds, SegReg::Es] {
        cpu.seg[s as usize] = flat(ds, 0xF3, 0xC);
    }
    let null = Segment {
        selector: 0,
        base: 0,
        limit: 0,
        attr: attr::UNUSABLE,
    };
    cpu.seg[SegReg::Fs as usize] = null;
    cpu.seg[SegReg::Gs as usize] = null;
    if flavor == Flavor::X86_64 {
        // In 64-bit mode a null FS/GS still has a base (0 here).
        cpu.seg[SegReg::Fs as usize].attr = attr::UNUSABLE;
        cpu.seg[SegReg::Gs as usize].attr = attr::UNUSABLE;
    }
}
