//! Interrupt and exception delivery, INT n/INT3/INTO/INT1 and
//! IRET/IRETD/IRETQ: scenario tests whose expected stack frames and error
//! codes are written out from the SDM (Vol. 3 §6.12-§6.15, §20; Vol. 2
//! INT n and IRET "Operation"), and proptest properties over random
//! register state (round trips in every mode, gate DPL faults, stack
//! switches, privileged instructions at CPL 3).
//!
//! Descriptor tables and the TSS are built in guest memory with the small
//! encoders below; descriptors are written with their accessed bit set so
//! that no test sees the processor set it.

use iced_x86::IcedError;
use iced_x86::code_asm::{CodeAssembler, ax, ds};
use proptest::prelude::*;
use sysgate_cpu::cycles::{INT_DELIVERY_CYCLES, IRET_CYCLES};
use sysgate_cpu::interrupt::{Event, Source, deliver};
use sysgate_cpu::state::attr;
use sysgate_cpu::{
    Cpu, Cr0, Cr4, DescriptorTable, Efer, Exception, Exit, Limit, Mode, SegReg, Segment,
    TransitionKind, Vcpu, Vendor,
};

// ---------------------------------------------------------------------
// Memory layout, selectors, encoders
// ---------------------------------------------------------------------

const MEM: u64 = 1 << 20;
const GDT: u64 = 0x1000;
const IDT: u64 = 0x2000;
const TSS: u64 = 0x3000;
/// User code.
const UCODE_AT: u64 = 0x1_0000;
/// Kernel code (handlers).
const HANDLER: u64 = 0x2_0000;
/// A second handler address.
const HANDLER2: u64 = 0x2_1000;
/// Kernel code that is not a handler (e.g. an IRET to user mode).
const KCODE_AT: u64 = 0x2_2000;
/// Ring-0 stack top in the TSS.
const KSTACK: u64 = 0x9_0000;
/// IST stacks.
const IST_STACK: u64 = 0xA_0000;
/// User stack top.
const USTACK: u64 = 0x7_0000;

const KCODE32: u16 = 0x08;
const KDATA: u16 = 0x10;
const UCODE32: u16 = 0x18;
const UDATA: u16 = 0x20;
const KCODE64: u16 = 0x28;
const UCODE64: u16 = 0x30;
const TSS32: u16 = 0x38;
const TSS64: u16 = 0x40;
const KCODE16: u16 = 0x50;
const NP_CODE: u16 = 0x58;
const CONF_CODE: u16 = 0x60;
const KDATA16: u16 = 0x68;
const CODE_DPL1: u16 = 0x70;
const DATA_DPL1: u16 = 0x78;
const SMALL_DATA: u16 = 0x80;
const NP_DATA: u16 = 0x88;

/// Gate types.
const INT32: u8 = 0xE;
const TRAP32: u8 = 0xF;
const INT16: u8 = 0x6;
const TASK: u8 = 0x5;

/// A code or data descriptor (SDM Vol. 3 Figure 3-8): base, 20-bit
/// limit, access byte, flags nibble (G = 8, D/B = 4, L = 2).
fn desc(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let (base, limit) = (base as u64, limit as u64);
    (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | ((access as u64) << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (((flags & 0xF) as u64) << 52)
        | (((base >> 24) & 0xFF) << 56)
}

/// A 16/32-bit interrupt, trap or task gate (SDM Vol. 3 Figure 6-2).
fn gate(sel: u16, off: u32, ty: u8, dpl: u8, present: bool) -> u64 {
    let off = off as u64;
    let p = if present { 0x80 } else { 0 };
    (off & 0xFFFF)
        | ((sel as u64) << 16)
        | (((p | (dpl << 5) | ty) as u64) << 40)
        | ((off >> 16) << 48)
}

/// A 64-bit interrupt or trap gate (SDM Vol. 3 Figure 6-8).
fn gate64(sel: u16, off: u64, ty: u8, dpl: u8, ist: u8) -> [u64; 2] {
    let lo = gate(sel, off as u32, ty, dpl, true) | (((ist & 7) as u64) << 32);
    [lo, off >> 32]
}

fn standard_gdt() -> Vec<(u16, u64)> {
    vec![
        (KCODE32, desc(0, 0xFFFFF, 0x9B, 0xC)),
        (KDATA, desc(0, 0xFFFFF, 0x93, 0xC)),
        (UCODE32, desc(0, 0xFFFFF, 0xFB, 0xC)),
        (UDATA, desc(0, 0xFFFFF, 0xF3, 0xC)),
        (KCODE64, desc(0, 0xFFFFF, 0x9B, 0xA)),
        (UCODE64, desc(0, 0xFFFFF, 0xFB, 0xA)),
        (TSS32, desc(TSS as u32, 0x67, 0x8B, 0)),
        (TSS64, desc(TSS as u32, 0x67, 0x8B, 0)),
        (TSS64 + 8, 0),
        (KCODE16, desc(0, 0xFFFF, 0x9B, 0)),
        (NP_CODE, desc(0, 0xFFFFF, 0x1B, 0xC)),
        (CONF_CODE, desc(0, 0xFFFFF, 0x9F, 0xC)),
        (KDATA16, desc(0, 0xFFFF, 0x93, 0)),
        (CODE_DPL1, desc(0, 0xFFFFF, 0xBB, 0xC)),
        (DATA_DPL1, desc(0, 0xFFFFF, 0xB3, 0xC)),
        (SMALL_DATA, desc(0, 0xFFF, 0x93, 0x4)),
        (NP_DATA, desc(0, 0xFFFFF, 0x13, 0xC)),
    ]
}

/// The hidden cache a load of `sel` gives (the descriptor is accessed).
fn cache(v: &Vcpu, sel: u16) -> Segment {
    let d = v.cpu.mmu.phys.read_u64(GDT + (sel & 0xFFF8) as u64);
    let raw = ((d & 0xFFFF) | ((d >> 32) & 0xF_0000)) as u32;
    let a = ((d >> 40) as u16) & 0xF0FF;
    let limit = if a & attr::G != 0 {
        (raw << 12) | 0xFFF
    } else {
        raw
    };
    let base = ((d >> 16) & 0xFF_FFFF) | (((d >> 56) & 0xFF) << 24);
    Segment {
        selector: sel,
        base,
        limit,
        attr: a,
    }
}

fn w32(v: &mut Vcpu, pa: u64, x: u32) {
    v.cpu.mmu.phys.write_u32(pa, x);
}

fn w64(v: &mut Vcpu, pa: u64, x: u64) {
    v.cpu.mmu.phys.write_u64(pa, x);
}

fn r16(v: &Vcpu, pa: u64) -> u16 {
    v.cpu.mmu.phys.read_u16(pa)
}

fn r32(v: &Vcpu, pa: u64) -> u32 {
    v.cpu.mmu.phys.read_u32(pa)
}

fn r64(v: &Vcpu, pa: u64) -> u64 {
    v.cpu.mmu.phys.read_u64(pa)
}

/// Sets IDT entry `vector` (8-byte gates).
fn idt32(v: &mut Vcpu, vector: u8, d: u64) {
    w64(v, IDT + vector as u64 * 8, d);
}

/// Sets IDT entry `vector` (16-byte gates).
fn idt64(v: &mut Vcpu, vector: u8, d: [u64; 2]) {
    w64(v, IDT + vector as u64 * 16, d[0]);
    w64(v, IDT + vector as u64 * 16 + 8, d[1]);
}

/// Assembles `f` for `bits` at `ip` and writes it at physical `pa`.
fn code(
    v: &mut Vcpu,
    bits: u32,
    ip: u64,
    pa: u64,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) {
    let mut a = CodeAssembler::new(bits).expect("bitness");
    f(&mut a).expect("assembles");
    let bytes = a.assemble(ip).expect("assembles");
    v.cpu.mmu.phys.write(pa, &bytes);
}

/// Raw bytes at a physical address.
fn bytes(v: &mut Vcpu, pa: u64, b: &[u8]) {
    v.cpu.mmu.phys.write(pa, b);
}

const HLT: [u8; 1] = [0xF4];
const UD2: [u8; 2] = [0x0F, 0x0B];
const IRETD: [u8; 1] = [0xCF];
const IRETQ: [u8; 2] = [0x48, 0xCF];

/// Loads the standard GDT, IDTR (empty IDT) and TR; CR0.PE.
fn tables(v: &mut Vcpu, wide: bool) {
    for (sel, d) in standard_gdt() {
        w64(v, GDT + sel as u64, d);
    }
    let c = &mut v.cpu;
    c.ctrl.cr0 |= Cr0::PE.bits();
    c.gdtr = DescriptorTable {
        base: GDT,
        limit: 0xFF,
    };
    c.idtr = DescriptorTable {
        base: IDT,
        limit: if wide { 0xFFF } else { 0x7FF },
    };
    c.ldtr.selector = 0;
    c.ldtr.attr |= attr::UNUSABLE;
    let tr = if wide { TSS64 } else { TSS32 };
    c.tr = Segment {
        selector: tr,
        base: TSS,
        limit: 0x67,
        attr: 0x8B,
    };
    // No I/O permission bitmap: its base lies beyond the TSS limit (as
    // Linux sets it), so IN/OUT above IOPL always fault.
    c.mmu.phys.write_u16(TSS + 0x66, 0x68);
}

/// Loads CS and the data segment registers from the GDT.
fn load_segments(v: &mut Vcpu, code_sel: u16, data_sel: u16) {
    v.cpu.seg[SegReg::Cs as usize] = cache(v, code_sel);
    for r in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        v.cpu.seg[r as usize] = cache(v, data_sel);
    }
}

/// 32-bit protected mode at `cpl` (0 or 3) with the TSS's SS0:ESP0 =
/// KDATA:KSTACK and exceptions delivered (bitmap 0).
fn pm32(cpl: u8) -> Vcpu {
    let mut v = Vcpu::new(MEM, Vendor::Intel);
    tables(&mut v, false);
    if cpl == 0 {
        load_segments(&mut v, KCODE32, KDATA);
        v.cpu.gpr[4] = KSTACK - 0x1000;
    } else {
        load_segments(&mut v, UCODE32 | 3, UDATA | 3);
        v.cpu.gpr[4] = USTACK;
    }
    w32(&mut v, TSS + 4, KSTACK as u32);
    w32(&mut v, TSS + 8, KDATA as u32);
    v.exception_bitmap = 0;
    v
}

/// IA-32e 64-bit mode (no paging) at `cpl` with RSP0 = KSTACK.
fn lm64(cpl: u8) -> Vcpu {
    let mut v = Vcpu::new(MEM, Vendor::Intel);
    tables(&mut v, true);
    v.cpu.ctrl.efer |= (Efer::LME | Efer::LMA).bits();
    if cpl == 0 {
        load_segments(&mut v, KCODE64, KDATA);
        v.cpu.gpr[4] = KSTACK - 0x1000;
    } else {
        load_segments(&mut v, UCODE64 | 3, UDATA | 3);
        v.cpu.gpr[4] = USTACK;
    }
    w64(&mut v, TSS + 4, KSTACK);
    v.exception_bitmap = 0;
    v
}

/// Runs from `rip` for at most 100 instructions or events.
fn go(v: &mut Vcpu, rip: u64) -> Exit {
    v.cpu.rip = rip;
    v.run(Limit::instructions(100))
}

/// Everything an event that faults must leave alone.
#[derive(Debug, PartialEq)]
struct Snapshot {
    gpr: [u64; 16],
    rip: u64,
    rflags: u64,
    seg: [Segment; 6],
    ldtr: Segment,
    tr: Segment,
    gdtr: DescriptorTable,
    idtr: DescriptorTable,
    ctrl: [u64; 4],
    cr2: u64,
    cr8: u64,
    dr: [u64; 8],
    msr: sysgate_cpu::Msrs,
    mem: Vec<u8>,
}

fn snap(c: &Cpu) -> Snapshot {
    let mut mem = vec![0u8; MEM as usize];
    c.mmu.phys.read(0, &mut mem);
    Snapshot {
        gpr: c.gpr,
        rip: c.rip,
        rflags: c.rflags,
        seg: c.seg,
        ldtr: c.ldtr,
        tr: c.tr,
        gdtr: c.gdtr,
        idtr: c.idtr,
        ctrl: [c.ctrl.cr0, c.ctrl.cr3, c.ctrl.cr4, c.ctrl.efer],
        cr2: c.cr2,
        cr8: c.cr8,
        dr: c.dr,
        msr: c.msr,
        mem,
    }
}

/// Runs the instruction at `rip` with every exception going to the host
/// and checks it raises `e` and changes nothing.
fn assert_fault(v: &mut Vcpu, rip: u64, e: Exception) {
    assert_fault_with(v, rip, e, u32::MAX);
}

/// [`assert_fault`] with exception bitmap `bitmap`.
fn assert_fault_with(v: &mut Vcpu, rip: u64, e: Exception, bitmap: u32) {
    v.exception_bitmap = bitmap;
    v.cpu.rip = rip;
    let before = snap(&v.cpu);
    let exit = v.run(Limit::instructions(1));
    assert_eq!(exit, Exit::Exception(e));
    assert_eq!(snap(&v.cpu), before, "the faulting event committed state");
}

const IF: u64 = 1 << 9;
const TF: u64 = 1 << 8;
const RF: u64 = 1 << 16;
const AC: u64 = 1 << 18;
const VM: u64 = 1 << 17;
const NT: u64 = 1 << 14;
const CF: u64 = 1;
const OF: u64 = 1 << 11;
const IOPL3: u64 = 3 << 12;

// ---------------------------------------------------------------------
// Real-address mode (SDM Vol. 3 §20.1.4, Vol. 2 INT n REAL-ADDRESS-MODE)
// ---------------------------------------------------------------------

/// A real-mode machine: CS = 0x0100 (code at linear 0x1000), SS = 0x7000,
/// SP = 0x0100, the IVT at 0 with every vector pointing at 0x0800:0x0010.
fn real() -> Vcpu {
    let mut v = Vcpu::new(MEM, Vendor::Intel);
    for n in 0..256u64 {
        w32(&mut v, n * 4, 0x0800_0010);
    }
    v.cpu.seg[SegReg::Cs as usize] = Segment::real_mode(0x0100, true);
    v.cpu.seg[SegReg::Ss as usize] = Segment::real_mode(0x7000, false);
    v.cpu.gpr[4] = 0x0100;
    v.exception_bitmap = 0;
    v
}

#[test]
fn real_mode_int_pushes_flags_cs_ip_and_clears_if_tf_ac() {
    let mut v = real();
    // IVT entry 0x21: 0x1234:0x0010 -> linear 0x12350.
    w32(&mut v, 0x21 * 4, 0x1234_0010);
    bytes(&mut v, 0x12350, &HLT);
    bytes(&mut v, 0x1000, &[0xCD, 0x21]); // int 0x21 at CS:0000
    v.cpu.rflags = 0x2 | CF | TF | IF | AC | OF;
    assert_eq!(go(&mut v, 0), Exit::Hlt);
    let c = &v.cpu;
    assert_eq!(c.seg[SegReg::Cs as usize].selector, 0x1234);
    assert_eq!(c.seg[SegReg::Cs as usize].base, 0x12340);
    assert_eq!(c.rip, 0x0011, "after the handler's HLT");
    assert_eq!(c.gpr[4], 0x00FA, "SP - 6");
    // FLAGS, CS, IP from the top: SS base 0x70000.
    assert_eq!(r16(&v, 0x700FE), (0x2 | CF | TF | IF | OF) as u16);
    assert_eq!(r16(&v, 0x700FC), 0x0100);
    assert_eq!(r16(&v, 0x700FA), 0x0002, "return IP: the next instruction");
    assert_eq!(v.cpu.rflags, 0x2 | CF | OF, "IF, TF and AC cleared");
}

#[test]
fn real_mode_int_iret_round_trip() {
    let mut v = real();
    bytes(&mut v, 0x8010, &IRETD[..]); // iret (16-bit) at 0800:0010
    bytes(&mut v, 0x1000, &[0xCD, 0x80]);
    bytes(&mut v, 0x1002, &UD2);
    v.exception_bitmap = 1 << 6;
    v.cpu.rflags = 0x2 | CF | IF | (2 << 12) | NT;
    v.cpu.gpr[0] = 0x1234_5678_9ABC_DEF0;
    assert_eq!(go(&mut v, 0), Exit::Exception(Exception::UD));
    assert_eq!(v.cpu.rip, 2);
    assert_eq!(v.cpu.gpr[4], 0x0100);
    assert_eq!(v.cpu.rflags, 0x2 | CF | IF | (2 << 12) | NT);
    assert_eq!(
        v.cpu.seg[SegReg::Cs as usize],
        Segment::real_mode(0x0100, true)
    );
    assert_eq!(v.cpu.gpr[0], 0x1234_5678_9ABC_DEF0);
}

#[test]
fn real_mode_exception_is_delivered_through_the_ivt_with_the_faulting_ip() {
    let mut v = real();
    // Vector 0 (#DE) -> 0x0900:0x0000.
    w32(&mut v, 0, 0x0900_0000);
    bytes(&mut v, 0x9000, &HLT);
    // xor cx, cx; div cx
    bytes(&mut v, 0x1000, &[0x31, 0xC9, 0xF7, 0xF1]);
    assert_eq!(go(&mut v, 0), Exit::Hlt);
    assert_eq!(r16(&v, 0x700FA), 0x0002, "IP of the faulting DIV");
    assert_eq!(r16(&v, 0x700FC), 0x0100);
    assert_eq!(v.cpu.gpr[4], 0x00FA, "no error code in real mode");
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, 0x0900);
}

#[test]
fn real_mode_iretd_keeps_vm_vif_vip_and_loads_ac_id_rf() {
    let mut v = real();
    // Frame: EIP, CS, EFLAGS as doublewords at SS:SP.
    w32(&mut v, 0x70100, 0x0004);
    w32(&mut v, 0x70104, 0xFFFF_0200); // high word discarded
    w32(&mut v, 0x70108, 0x003F_7FD7);
    bytes(&mut v, 0x1000, &[0x66, 0xCF]); // iretd
    bytes(&mut v, 0x2004, &UD2);
    v.exception_bitmap = 1 << 6;
    v.cpu.rflags = 0x2 | (1 << 19);
    assert_eq!(go(&mut v, 0), Exit::Exception(Exception::UD));
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, 0x0200);
    assert_eq!(v.cpu.rip, 4);
    // (temp AND 257FD5H) OR (EFLAGS AND 1A0000H), bit 1 set. RF is still
    // set at the faulting UD2 (it is cleared only when an instruction
    // completes).
    assert_eq!(v.cpu.rflags, (0x003F_7FD7 & 0x25_7FD5) | (1 << 19) | 2);
    assert_eq!(v.cpu.gpr[4], 0x010C);
}

#[test]
fn real_mode_ivt_limit_gp_and_shutdown() {
    // IVT limit 0x3F: vectors 0-15. INT 0x21 is beyond it: #GP, delivered
    // through vector 13 with the INT's own IP.
    let mut v = real();
    v.cpu.idtr.limit = 0x3F;
    w32(&mut v, 13 * 4, 0x0900_0000);
    bytes(&mut v, 0x9000, &HLT);
    bytes(&mut v, 0x1000, &[0x90, 0xCD, 0x21]);
    assert_eq!(go(&mut v, 0), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, 0x0900);
    assert_eq!(r16(&v, 0x700FA), 0x0001, "the INT instruction faulted");
    // IVT limit 0x1F (8 vectors): #GP cannot be delivered (#DF), nor can
    // #DF: triple fault, with the state of the interrupted program.
    let mut v = real();
    v.cpu.idtr.limit = 0x1F;
    bytes(&mut v, 0x1000, &[0x90, 0xCD, 0x21]);
    assert_eq!(go(&mut v, 0), Exit::TripleFault);
    assert!(v.in_shutdown());
    assert_eq!(v.cpu.rip, 1);
    assert_eq!(v.cpu.gpr[4], 0x0100);
    assert_eq!(v.run(Limit::instructions(10)), Exit::TripleFault);
    // Leaving shutdown with a usable IVT runs again.
    v.clear_shutdown();
    v.cpu.idtr.limit = 0x3FF;
    w32(&mut v, 0x21 * 4, 0x0900_0000);
    bytes(&mut v, 0x9000, &HLT);
    assert_eq!(v.run(Limit::instructions(10)), Exit::Hlt);
}

// ---------------------------------------------------------------------
// 32-bit protected mode (SDM Vol. 3 §6.12.1, Figure 6-4)
// ---------------------------------------------------------------------

#[test]
fn pm32_same_level_interrupt_pushes_eflags_cs_eip() {
    let mut v = pm32(0);
    idt32(&mut v, 0x40, gate(KCODE32, HANDLER as u32, TRAP32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, KCODE_AT, &[0xCD, 0x40]);
    v.cpu.gpr[4] = 0x8_0000;
    v.cpu.rflags = 0x2 | IF | TF | NT | CF;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    let c = &v.cpu;
    assert_eq!(c.gpr[4], 0x8_0000 - 12);
    assert_eq!(r32(&v, 0x7_FFF4), (KCODE_AT + 2) as u32, "EIP");
    assert_eq!(r32(&v, 0x7_FFF8), KCODE32 as u32, "CS");
    assert_eq!(
        r32(&v, 0x7_FFFC),
        (0x2 | IF | TF | NT | CF) as u32,
        "EFLAGS"
    );
    // A trap gate keeps IF; TF and NT are cleared.
    assert_eq!(c.rflags, 0x2 | IF | CF);
    assert_eq!(c.seg[SegReg::Cs as usize].selector, KCODE32);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, KDATA);
}

#[test]
fn pm32_ring3_to_ring0_switches_to_the_tss_stack() {
    let mut v = pm32(3);
    idt32(&mut v, 0x80, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, UCODE_AT, &[0xCD, 0x80]);
    v.cpu.gpr[4] = 0x6FF0;
    v.cpu.rflags = 0x2 | IF | CF;
    assert_eq!(go(&mut v, UCODE_AT), Exit::Hlt);
    let c = &v.cpu;
    assert_eq!(c.cpl(), 0);
    assert_eq!(c.seg[SegReg::Cs as usize], cache(&v, KCODE32));
    assert_eq!(
        c.seg[SegReg::Ss as usize],
        cache(&v, KDATA),
        "SS0 from the TSS"
    );
    assert_eq!(c.gpr[4], KSTACK - 20, "ESP0 - 5 doublewords");
    let top = KSTACK;
    assert_eq!(r32(&v, top - 4), (UDATA | 3) as u32, "old SS");
    assert_eq!(r32(&v, top - 8), 0x6FF0, "old ESP");
    assert_eq!(r32(&v, top - 12), (0x2 | IF | CF) as u32, "EFLAGS");
    assert_eq!(r32(&v, top - 16), (UCODE32 | 3) as u32, "old CS");
    assert_eq!(r32(&v, top - 20), (UCODE_AT + 2) as u32, "EIP");
    assert_eq!(c.rflags, 0x2 | CF, "an interrupt gate clears IF");
    // The data segment registers keep their user values.
    assert_eq!(c.seg[SegReg::Ds as usize].selector, UDATA | 3);
}

#[test]
fn pm32_fault_pushes_error_code_and_rf() {
    let mut v = pm32(0);
    idt32(&mut v, 13, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    // mov ax, 0x0FF8; mov ds, ax: beyond the GDT limit, #GP(0x0FF8).
    code(&mut v, 32, KCODE_AT, KCODE_AT, |a| {
        a.mov(ax, 0x0FF8)?;
        a.mov(ds, ax)
    });
    let at = KCODE_AT + 4;
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.gpr[4], 0x8_0000 - 16);
    assert_eq!(r32(&v, 0x7_FFF0), 0x0FF8, "error code");
    assert_eq!(r32(&v, 0x7_FFF4), at as u32, "EIP of the faulting MOV");
    assert_eq!(r32(&v, 0x7_FFF8), KCODE32 as u32);
    assert_eq!(r32(&v, 0x7_FFFC), (0x2 | RF) as u32, "faults push RF = 1");
    assert_eq!(v.cpu.rflags & RF, 0);
    assert_eq!(
        v.cpu.seg[SegReg::Ds as usize].selector,
        KDATA,
        "MOV not committed"
    );
}

#[test]
fn pm32_16_bit_gate_pushes_words_and_masks_the_offset() {
    let mut v = pm32(0);
    idt32(&mut v, 0x41, gate(KCODE32, 0x1_4000, INT16, 0, true));
    bytes(&mut v, 0x4000, &HLT);
    bytes(&mut v, KCODE_AT, &[0xCD, 0x41]);
    v.cpu.gpr[4] = 0x8_0000;
    v.cpu.rflags = 0x2 | IF | AC;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.rip, 0x4001, "offset 0x14000 & 0xFFFF");
    assert_eq!(v.cpu.gpr[4], 0x8_0000 - 6);
    assert_eq!(r16(&v, 0x7_FFFE), (0x2 | IF) as u16, "FLAGS[15:0]");
    assert_eq!(r16(&v, 0x7_FFFC), KCODE32);
    assert_eq!(r16(&v, 0x7_FFFA), (KCODE_AT + 2) as u16);
    assert_eq!(
        v.cpu.rflags,
        0x2 | AC,
        "AC is not cleared in protected mode"
    );
}

#[test]
fn pm32_iret_to_outer_ring_nulls_data_segments() {
    let mut v = pm32(0);
    // DS, FS: DPL 0 data; ES: DPL 3 data; GS: DPL 1 data.
    v.cpu.seg[SegReg::Es as usize] = cache(&v, UDATA | 3);
    v.cpu.seg[SegReg::Gs as usize] = cache(&v, DATA_DPL1 | 1);
    let sp = 0x8_0000 - 20;
    v.cpu.gpr[4] = sp;
    for (k, x) in [
        UCODE_AT as u32,
        (UCODE32 | 3) as u32,
        (0x2 | IF | CF) as u32,
        0x6000,
        (UDATA | 3) as u32,
    ]
    .into_iter()
    .enumerate()
    {
        w32(&mut v, sp + 4 * k as u64, x);
    }
    bytes(&mut v, KCODE_AT, &IRETD);
    bytes(&mut v, UCODE_AT, &UD2);
    v.exception_bitmap = 1 << 6;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Exception(Exception::UD));
    let c = &v.cpu;
    assert_eq!(c.cpl(), 3);
    assert_eq!(c.rip, UCODE_AT);
    assert_eq!(c.gpr[4], 0x6000);
    assert_eq!(c.seg[SegReg::Ss as usize], cache(&v, UDATA | 3));
    assert_eq!(c.rflags, 0x2 | IF | CF);
    for r in [SegReg::Ds, SegReg::Fs, SegReg::Gs] {
        let s = c.seg[r as usize];
        assert_eq!(s.selector, 0, "{r:?} nulled");
        assert!(s.unusable(), "{r:?} unusable");
    }
    assert_eq!(c.seg[SegReg::Es as usize], cache(&v, UDATA | 3));
}

#[test]
fn iret_eflags_rules_follow_cpl_and_iopl() {
    // CPL 3, IOPL 0: IF and IOPL cannot change; the status flags can.
    let mut v = pm32(3);
    let sp = USTACK - 12;
    v.cpu.gpr[4] = sp;
    w32(&mut v, sp, (UCODE_AT + 0x10) as u32);
    w32(&mut v, sp + 4, (UCODE32 | 3) as u32);
    w32(&mut v, sp + 8, (0x2 | CF | OF | IOPL3 | AC) as u32);
    bytes(&mut v, UCODE_AT, &IRETD);
    bytes(&mut v, UCODE_AT + 0x10, &UD2);
    v.exception_bitmap = 1 << 6;
    v.cpu.rflags = 0x2 | IF;
    assert_eq!(go(&mut v, UCODE_AT), Exit::Exception(Exception::UD));
    assert_eq!(v.cpu.rflags, 0x2 | IF | CF | OF | AC);
    assert_eq!(v.cpu.gpr[4], USTACK);
    // CPL 0: both change.
    let mut v = pm32(0);
    let sp = 0x8_0000 - 12;
    v.cpu.gpr[4] = sp;
    w32(&mut v, sp, (KCODE_AT + 0x10) as u32);
    w32(&mut v, sp + 4, KCODE32 as u32);
    w32(&mut v, sp + 8, (0x2 | IOPL3) as u32);
    bytes(&mut v, KCODE_AT, &IRETD);
    bytes(&mut v, KCODE_AT + 0x10, &HLT);
    v.cpu.rflags = 0x2 | IF;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.rflags, 0x2 | IOPL3);
}

#[test]
fn iret_with_nt_set_is_gp0() {
    // A task return: task switching is not modeled.
    let mut v = pm32(0);
    bytes(&mut v, KCODE_AT, &IRETD);
    v.cpu.rflags = 0x2 | NT;
    assert_fault(&mut v, KCODE_AT, Exception::GP(0));
    // IA-32e mode: #GP(0) architecturally.
    let mut v = lm64(0);
    bytes(&mut v, KCODE_AT, &IRETQ);
    v.cpu.rflags = 0x2 | NT;
    assert_fault(&mut v, KCODE_AT, Exception::GP(0));
}

#[test]
fn iret_to_a_more_privileged_level_faults() {
    let mut v = pm32(3);
    let sp = USTACK - 12;
    v.cpu.gpr[4] = sp;
    w32(&mut v, sp, HANDLER as u32);
    w32(&mut v, sp + 4, KCODE32 as u32);
    w32(&mut v, sp + 8, 0x2);
    bytes(&mut v, UCODE_AT, &IRETD);
    assert_fault(&mut v, UCODE_AT, Exception::GP(KCODE32));
    // A null CS is #GP(0); a non-present one #NP(selector).
    w32(&mut v, sp + 4, 3);
    assert_fault(&mut v, UCODE_AT, Exception::GP(0));
    w32(&mut v, sp + 4, (NP_CODE | 3) as u32);
    // NP_CODE has DPL 0 != RPL 3: the DPL check comes first.
    assert_fault(&mut v, UCODE_AT, Exception::GP(NP_CODE));
}

// ---------------------------------------------------------------------
// Gate checks and error codes (SDM Vol. 3 §6.13; Vol. 2 INT n)
// ---------------------------------------------------------------------

#[test]
fn bad_gates_fault_with_the_idt_error_code_and_change_nothing() {
    let v_idt = |n: u16| (n << 3) | 2;
    let cases: [(u64, Exception); 9] = [
        // A call gate (type 0xC) is not an interrupt, trap or task gate.
        (
            gate(KCODE32, HANDLER as u32, 0xC, 3, true),
            Exception::GP(v_idt(0x50)),
        ),
        // A code segment descriptor (S = 1).
        (desc(0, 0xFFFFF, 0xFB, 0xC), Exception::GP(v_idt(0x50))),
        // Not present.
        (
            gate(KCODE32, HANDLER as u32, INT32, 3, false),
            Exception::NP(v_idt(0x50)),
        ),
        // A task gate: task switching is not modeled.
        (gate(TSS32, 0, TASK, 3, true), Exception::GP(v_idt(0x50))),
        // Null target code selector: #GP(EXT) = #GP(0) for INT n.
        (gate(0, HANDLER as u32, INT32, 3, true), Exception::GP(0)),
        // Target not present: #NP(selector).
        (
            gate(NP_CODE, HANDLER as u32, INT32, 3, true),
            Exception::NP(NP_CODE),
        ),
        // Target is data: #GP(selector).
        (
            gate(KDATA, HANDLER as u32, INT32, 3, true),
            Exception::GP(KDATA),
        ),
        // Target beyond the GDT limit (the RPL is dropped).
        (
            gate(0x0FFB, HANDLER as u32, INT32, 3, true),
            Exception::GP(0x0FF8),
        ),
        // Handler offset beyond the 16-bit code segment's limit: #GP(EXT).
        (gate(KCODE16, 0x1_0000, INT32, 3, true), Exception::GP(0)),
    ];
    for (d, e) in cases {
        let mut v = pm32(0);
        idt32(&mut v, 0x50, d);
        bytes(&mut v, KCODE_AT, &[0xCD, 0x50]);
        assert_fault(&mut v, KCODE_AT, e);
    }
    // Beyond the IDT limit.
    let mut v = pm32(0);
    v.cpu.idtr.limit = 0x3FF;
    bytes(&mut v, KCODE_AT, &[0xCD, 0x80]);
    assert_fault(&mut v, KCODE_AT, Exception::GP(0x402));
    // The last byte of the gate must be within the limit too.
    v.cpu.idtr.limit = 0x406;
    assert_fault(&mut v, KCODE_AT, Exception::GP(0x402));
    // A target DPL above the CPL (DPL 3 code from CPL 0).
    let mut v = pm32(0);
    idt32(&mut v, 0x50, gate(UCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v, KCODE_AT, &[0xCD, 0x50]);
    assert_fault(&mut v, KCODE_AT, Exception::GP(UCODE32));
}

#[test]
fn ia32e_gate_checks() {
    let cases: [([u64; 2], Exception); 5] = [
        // A 32-bit target code segment.
        (
            gate64(KCODE32, HANDLER, INT32, 3, 0),
            Exception::GP(KCODE32),
        ),
        // 16-bit and task gates do not exist in IA-32e mode.
        (gate64(KCODE64, HANDLER, INT16, 3, 0), Exception::GP(0x502)),
        (gate64(KCODE64, HANDLER, TASK, 3, 0), Exception::GP(0x502)),
        // A non-canonical handler offset: #GP(EXT).
        (
            gate64(KCODE64, 0x0000_8000_0000_0000, INT32, 3, 0),
            Exception::GP(0),
        ),
        (
            [gate64(KCODE64, HANDLER, INT32, 3, 0)[0] & !(0x80 << 40), 0],
            Exception::NP(0x502),
        ),
    ];
    for (d, e) in cases {
        let mut v = lm64(3);
        idt64(&mut v, 0xA0, d);
        bytes(&mut v, UCODE_AT, &[0xCD, 0xA0]);
        assert_fault(&mut v, UCODE_AT, e);
    }
    // The IDT limit covers 16-byte entries.
    let mut v = lm64(0);
    v.cpu.idtr.limit = 0xA0 * 16 + 14;
    idt64(&mut v, 0xA0, gate64(KCODE64, HANDLER, INT32, 3, 0));
    bytes(&mut v, KCODE_AT, &[0xCD, 0xA0]);
    assert_fault(&mut v, KCODE_AT, Exception::GP(0x502));
    // INTO is invalid in 64-bit mode.
    let mut v = lm64(3);
    bytes(&mut v, UCODE_AT, &[0xCE]);
    v.cpu.rflags |= OF;
    assert_fault(&mut v, UCODE_AT, Exception::UD);
}

#[test]
fn gate_dpl_applies_to_int_n_int3_into_but_not_int1_or_exceptions() {
    let mut v = pm32(3);
    for n in [1u8, 3, 4, 6, 0x80] {
        idt32(&mut v, n, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    }
    bytes(&mut v, HANDLER, &HLT);
    // INT n, INT3, INTO with CPL 3 > DPL 0: #GP(vector · 8 + 2), EXT = 0.
    bytes(&mut v, UCODE_AT, &[0xCD, 0x80]);
    assert_fault(&mut v, UCODE_AT, Exception::GP(0x402));
    // (#BP and #OF are delivered, #GP goes to the host.)
    let deliver_bp_of = !((1 << 3) | (1 << 4));
    bytes(&mut v, UCODE_AT, &[0xCC]);
    assert_fault_with(&mut v, UCODE_AT, Exception::GP(0x1A), deliver_bp_of);
    bytes(&mut v, UCODE_AT, &[0xCE]);
    v.cpu.rflags |= OF;
    assert_fault_with(&mut v, UCODE_AT, Exception::GP(0x22), deliver_bp_of);
    // INT1 is delivered: no DPL check.
    v.exception_bitmap = 0;
    bytes(&mut v, UCODE_AT, &[0xF1]);
    assert_eq!(go(&mut v, UCODE_AT), Exit::Hlt);
    assert_eq!(
        r32(&v, KSTACK - 20),
        (UCODE_AT + 1) as u32,
        "#DB from INT1 is a trap"
    );
    // So is #UD raised by the processor.
    let mut v = pm32(3);
    idt32(&mut v, 6, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, UCODE_AT, &UD2);
    assert_eq!(go(&mut v, UCODE_AT), Exit::Hlt);
    assert_eq!(r32(&v, KSTACK - 20), UCODE_AT as u32, "#UD is a fault");
}

#[test]
fn nested_faults_set_the_ext_bit() {
    // #UD whose gate is not present: #NP(6 · 8 + 2 + EXT) is delivered.
    let mut v = pm32(0);
    idt32(&mut v, 6, gate(KCODE32, HANDLER as u32, INT32, 0, false));
    idt32(&mut v, 11, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    bytes(&mut v, KCODE_AT, &UD2);
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.rip, HANDLER2 + 1);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0x33, "error code 6·8 + IDT + EXT");
    assert_eq!(r32(&v, 0x8_0000 - 12), KCODE_AT as u32);
    // #UD whose gate names a selector beyond the GDT: #GP(0x0FF8 + EXT).
    let mut v = pm32(0);
    idt32(&mut v, 6, gate(0x0FF8, HANDLER as u32, INT32, 0, true));
    idt32(&mut v, 13, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    bytes(&mut v, KCODE_AT, &UD2);
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0x0FF9);
    // INT n beyond the IDT limit: #GP(0x90 · 8 + 2), EXT = 0, reported
    // at the INT instruction.
    let mut v = pm32(0);
    idt32(&mut v, 13, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    v.cpu.idtr.limit = 0x3FF;
    bytes(&mut v, KCODE_AT, &[0xCD, 0x90]);
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0x482);
    assert_eq!(r32(&v, 0x8_0000 - 12), KCODE_AT as u32);
    // INT1 with a non-present gate: EXT = 1.
    let mut v = pm32(0);
    idt32(&mut v, 1, gate(KCODE32, HANDLER as u32, INT32, 0, false));
    idt32(&mut v, 11, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    bytes(&mut v, KCODE_AT, &[0xF1]);
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0xB);
    // An external interrupt through a missing gate (delivered directly).
    let mut v = pm32(0);
    let e = deliver(&mut v.cpu, &Event::external(0x30, KCODE_AT)).unwrap_err();
    assert_eq!(
        e,
        Exception::GP(0x30 * 8 + 3),
        "a null descriptor is no gate"
    );
    idt32(&mut v, 0x30, gate(KCODE32, HANDLER as u32, INT32, 0, false));
    let e = deliver(&mut v.cpu, &Event::external(0x30, KCODE_AT)).unwrap_err();
    assert_eq!(e, Exception::NP(0x30 * 8 + 3));
    // External interrupts skip the gate DPL check.
    let mut v = pm32(3);
    idt32(&mut v, 0x30, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    let ev = Event {
        vector: 0x30,
        source: Source::External,
        return_rip: UCODE_AT,
    };
    let d = deliver(&mut v.cpu, &ev).expect("delivered");
    assert!(d.stack_switched);
    assert_eq!(v.cpu.rip, HANDLER);
    assert_eq!(v.cpu.cpl(), 0);
}

#[test]
fn tss_stack_checks_raise_ts_with_ext() {
    let mut v = pm32(3);
    idt32(&mut v, 0x80, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    bytes(&mut v, UCODE_AT, &[0xCD, 0x80]);
    // SS0 null: #TS(EXT) = #TS(0) for INT n.
    w32(&mut v, TSS + 8, 0);
    assert_fault(&mut v, UCODE_AT, Exception::TS(0));
    // SS0 with RPL 3: #TS(selector).
    w32(&mut v, TSS + 8, (KDATA | 3) as u32);
    assert_fault(&mut v, UCODE_AT, Exception::TS(KDATA));
    // SS0 a DPL 1 segment: #TS(selector).
    w32(&mut v, TSS + 8, DATA_DPL1 as u32);
    assert_fault(&mut v, UCODE_AT, Exception::TS(DATA_DPL1));
    // SS0 code: #TS(selector).
    w32(&mut v, TSS + 8, KCODE32 as u32);
    assert_fault(&mut v, UCODE_AT, Exception::TS(KCODE32));
    // TSS limit too small for SS0:ESP0: #TS(TR selector).
    w32(&mut v, TSS + 8, KDATA as u32);
    v.cpu.tr.limit = 8;
    assert_fault(&mut v, UCODE_AT, Exception::TS(TSS32));
    // No room on the new stack (limit 0xFFF): #SS(SS0 selector).
    v.cpu.tr.limit = 0x67;
    w32(&mut v, TSS + 8, SMALL_DATA as u32);
    w32(&mut v, TSS + 4, 0x1010);
    assert_fault(&mut v, UCODE_AT, Exception::SS(SMALL_DATA));
    // SS0 not present: #SS(selector).
    w32(&mut v, TSS + 8, NP_DATA as u32);
    assert_fault(&mut v, UCODE_AT, Exception::SS(NP_DATA));
    // The same from a hardware exception carries EXT.
    let mut v = pm32(3);
    idt32(&mut v, 6, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    w32(&mut v, TSS + 8, 0);
    let e = deliver(&mut v.cpu, &Event::exception(Exception::UD, UCODE_AT)).unwrap_err();
    assert_eq!(e, Exception::TS(1));
}

#[test]
fn double_fault_on_np_during_gp_delivery() {
    let mut v = pm32(0);
    // #GP's gate is not present; #DF's is.
    idt32(&mut v, 13, gate(KCODE32, HANDLER as u32, INT32, 0, false));
    idt32(&mut v, 8, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    code(&mut v, 32, KCODE_AT, KCODE_AT, |a| {
        a.mov(ax, 0x0FF8)?;
        a.mov(ds, ax)
    });
    v.cpu.gpr[4] = 0x8_0000;
    let ev = {
        v.cpu.rip = KCODE_AT;
        v.step();
        v.step()
    };
    assert_eq!(ev.exit, None, "delivered, so the step ends normally");
    let t = ev.transition.expect("exception transition");
    assert_eq!(t.kind, TransitionKind::Exception(Exception::DF));
    assert_eq!(v.cpu.rip, HANDLER2);
    assert_eq!(v.cpu.gpr[4], 0x8_0000 - 16);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0, "#DF error code");
    assert_eq!(r32(&v, 0x8_0000 - 12), (KCODE_AT + 4) as u32);
    // #DF's gate missing too: triple fault, nothing committed.
    let mut v = pm32(0);
    idt32(&mut v, 13, gate(KCODE32, HANDLER as u32, INT32, 0, false));
    code(&mut v, 32, KCODE_AT, KCODE_AT, |a| {
        a.mov(ax, 0x0FF8)?;
        a.mov(ds, ax)
    });
    v.cpu.gpr[4] = 0x8_0000;
    v.cpu.rip = KCODE_AT;
    v.step();
    let before = snap(&v.cpu);
    assert_eq!(v.run(Limit::instructions(10)), Exit::TripleFault);
    assert_eq!(snap(&v.cpu), before);
    assert_eq!(v.run(Limit::instructions(10)), Exit::TripleFault);
    // With #DF intercepted the host sees #DF instead.
    let mut v = pm32(0);
    idt32(&mut v, 13, gate(KCODE32, HANDLER as u32, INT32, 0, false));
    v.exception_bitmap = 1 << 8;
    code(&mut v, 32, KCODE_AT, KCODE_AT, |a| {
        a.mov(ax, 0x0FF8)?;
        a.mov(ds, ax)
    });
    assert_eq!(go(&mut v, KCODE_AT), Exit::Exception(Exception::DF));
    assert_eq!(v.cpu.rip, KCODE_AT + 4);
}

#[test]
fn benign_then_contributory_is_delivered_serially() {
    // #UD's gate points at a non-present segment: #NP (contributory)
    // after a benign exception is not a double fault.
    let mut v = pm32(0);
    idt32(&mut v, 6, gate(NP_CODE, HANDLER as u32, INT32, 0, true));
    idt32(&mut v, 11, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    bytes(&mut v, KCODE_AT, &UD2);
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(r32(&v, 0x8_0000 - 16), (NP_CODE | 1) as u32);
}

// ---------------------------------------------------------------------
// IA-32e mode (SDM Vol. 3 §6.14, Figure 6-9)
// ---------------------------------------------------------------------

#[test]
fn ia32e_ring3_to_ring0_via_rsp0_aligned_to_16_bytes() {
    let mut v = lm64(3);
    idt64(&mut v, 0x80, gate64(KCODE64, HANDLER, INT32, 3, 0));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, UCODE_AT, &[0xCD, 0x80]);
    // RSP0 misaligned by 8: the frame starts at RSP0 & ~0xF.
    w64(&mut v, TSS + 4, KSTACK + 8);
    v.cpu.gpr[4] = 0x1234_5678_9ABC;
    v.cpu.rflags = 0x2 | IF | CF;
    assert_eq!(go(&mut v, UCODE_AT), Exit::Hlt);
    let c = &v.cpu;
    let top = KSTACK;
    assert_eq!(r64(&v, top - 8), (UDATA | 3) as u64, "old SS");
    assert_eq!(r64(&v, top - 16), 0x1234_5678_9ABC, "old RSP");
    assert_eq!(r64(&v, top - 24), 0x2 | IF | CF, "RFLAGS");
    assert_eq!(r64(&v, top - 32), (UCODE64 | 3) as u64, "old CS");
    assert_eq!(r64(&v, top - 40), UCODE_AT + 2, "RIP");
    assert_eq!(c.gpr[4], top - 40);
    assert_eq!(c.cpl(), 0);
    assert_eq!(c.mode(), Mode::Long64);
    let ss = c.seg[SegReg::Ss as usize];
    assert_eq!(ss.selector, 0, "SS = null selector with RPL = new CPL");
    assert!(ss.unusable());
    assert_eq!(ss.dpl(), 0);
    assert_eq!(c.rflags, 0x2 | CF);
}

#[test]
fn ia32e_ist_stack_is_used_even_without_a_privilege_change() {
    for cpl in [0u8, 3] {
        let mut v = lm64(cpl);
        idt64(&mut v, 0x81, gate64(KCODE64, HANDLER, TRAP32, 3, 2));
        bytes(&mut v, HANDLER, &HLT);
        let at = if cpl == 0 { KCODE_AT } else { UCODE_AT };
        bytes(&mut v, at, &[0xCD, 0x81]);
        // IST2 at TSS offset 0x2C.
        w64(&mut v, TSS + 0x2C, IST_STACK + 0xF);
        let old_ss = v.cpu.seg[SegReg::Ss as usize];
        v.cpu.gpr[4] = 0x5_0008;
        v.cpu.rflags = 0x2 | IF;
        let ev = {
            v.cpu.rip = at;
            v.step()
        };
        let t = ev.transition.expect("transition");
        assert!(t.stack_switched, "IST is a stack switch");
        assert_eq!(t.kind, TransitionKind::SoftwareInterrupt { vector: 0x81 });
        assert_eq!(v.cpu.gpr[4], IST_STACK - 40);
        assert_eq!(r64(&v, IST_STACK - 16), 0x5_0008);
        assert_eq!(r64(&v, IST_STACK - 8), old_ss.selector as u64);
        assert_eq!(v.cpu.rflags, 0x2 | IF, "a trap gate keeps IF");
        if cpl == 0 {
            assert_eq!(v.cpu.seg[SegReg::Ss as usize], old_ss, "SS unchanged");
        } else {
            assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector, 0);
        }
    }
}

#[test]
fn ia32e_same_level_aligns_and_pushes_ss_rsp_and_error_code() {
    let mut v = lm64(0);
    idt64(&mut v, 13, gate64(KCODE64, HANDLER, INT32, 0, 0));
    bytes(&mut v, HANDLER, &HLT);
    // mov ax, 0x0FF8; mov ds, ax -> #GP(0x0FF8)
    code(&mut v, 64, KCODE_AT, KCODE_AT, |a| {
        a.mov(ax, 0x0FF8)?;
        a.mov(ds, ax)
    });
    v.cpu.gpr[4] = 0x8_0008;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    let top = 0x8_0000;
    assert_eq!(v.cpu.gpr[4], top - 48);
    assert_eq!(r64(&v, top - 8), KDATA as u64);
    assert_eq!(r64(&v, top - 16), 0x8_0008);
    assert_eq!(r64(&v, top - 24), 0x2 | RF);
    assert_eq!(r64(&v, top - 32), KCODE64 as u64);
    assert_eq!(r64(&v, top - 40), KCODE_AT + 4);
    assert_eq!(r64(&v, top - 48), 0x0FF8, "8-byte error code");
    assert_eq!(v.cpu.seg[SegReg::Ss as usize], cache(&v, KDATA));
}

#[test]
fn ia32e_non_canonical_stack_is_ss_fault() {
    let mut v = lm64(0);
    idt64(&mut v, 0x82, gate64(KCODE64, HANDLER, INT32, 0, 0));
    bytes(&mut v, KCODE_AT, &[0xCD, 0x82]);
    v.cpu.gpr[4] = 0x0000_8000_0000_0010;
    assert_fault(&mut v, KCODE_AT, Exception::SS(0));
}

#[test]
fn iretq_to_ring3_64_bit_and_to_compatibility_mode() {
    for (cs, rip) in [(UCODE64 | 3, UCODE_AT), (UCODE32 | 3, UCODE_AT)] {
        let mut v = lm64(0);
        let sp = 0x8_0000 - 40;
        v.cpu.gpr[4] = sp;
        for (k, x) in [
            rip,
            cs as u64,
            0x2 | IF | CF,
            0xFFFF_FFFF_0000_6000,
            (UDATA | 3) as u64,
        ]
        .into_iter()
        .enumerate()
        {
            w64(&mut v, sp + 8 * k as u64, x);
        }
        bytes(&mut v, KCODE_AT, &IRETQ);
        bytes(&mut v, UCODE_AT, &UD2);
        v.exception_bitmap = 1 << 6;
        let ev = {
            v.cpu.rip = KCODE_AT;
            v.step()
        };
        let t = ev.transition.expect("IRET transition");
        assert_eq!(t.kind, TransitionKind::Iret);
        assert_eq!((t.cpl_before, t.cpl_after), (0, 3));
        assert_eq!(t.cycles, IRET_CYCLES as u64);
        let c = &v.cpu;
        assert_eq!(c.cpl(), 3);
        assert_eq!(c.rip, rip);
        assert_eq!(c.gpr[4], 0xFFFF_FFFF_0000_6000, "RSP := tempRSP");
        assert_eq!(c.rflags, 0x2 | IF | CF);
        assert_eq!(c.seg[SegReg::Ss as usize], cache(&v, UDATA | 3));
        // DS, ES, FS, GS held DPL 0 data: nulled (selector 0 kept null).
        assert!(c.seg[SegReg::Ds as usize].unusable());
        if cs == UCODE32 | 3 {
            assert_eq!(c.mode(), Mode::Compatibility);
            assert_eq!(c.code_bits(), 32);
        } else {
            assert_eq!(c.mode(), Mode::Long64);
        }
        assert_eq!(
            v.run(Limit::instructions(5)),
            Exit::Exception(Exception::UD)
        );
    }
}

#[test]
fn iretq_null_ss_rules() {
    // CPL 0 to 64-bit CPL 0: a null SS with RPL 0 is allowed.
    let mut v = lm64(0);
    let sp = 0x8_0000 - 40;
    v.cpu.gpr[4] = sp;
    for (k, x) in [HANDLER, KCODE64 as u64, 0x2, 0x7000, 0]
        .into_iter()
        .enumerate()
    {
        w64(&mut v, sp + 8 * k as u64, x);
    }
    bytes(&mut v, KCODE_AT, &IRETQ);
    bytes(&mut v, HANDLER, &HLT);
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.gpr[4], 0x7000);
    assert!(v.cpu.seg[SegReg::Ss as usize].unusable());
    // To CPL 3 a null SS is #GP(0).
    let mut v = lm64(0);
    v.cpu.gpr[4] = sp;
    for (k, x) in [UCODE_AT, (UCODE64 | 3) as u64, 0x2, 0x7000, 3]
        .into_iter()
        .enumerate()
    {
        w64(&mut v, sp + 8 * k as u64, x);
    }
    bytes(&mut v, KCODE_AT, &IRETQ);
    assert_fault(&mut v, KCODE_AT, Exception::GP(0));
    // A non-canonical return RIP is #GP(0).
    w64(&mut v, sp, 0x0000_8000_0000_0000);
    w64(&mut v, sp + 32, (UDATA | 3) as u64);
    assert_fault(&mut v, KCODE_AT, Exception::GP(0));
    // So is a null SS returning to compatibility mode at CPL 0... with a
    // 32-bit CS of DPL 0.
    let mut v = lm64(0);
    v.cpu.gpr[4] = sp;
    for (k, x) in [0x1000, KCODE32 as u64, 0x2, 0x7000, 0]
        .into_iter()
        .enumerate()
    {
        w64(&mut v, sp + 8 * k as u64, x);
    }
    bytes(&mut v, KCODE_AT, &IRETQ);
    assert_fault(&mut v, KCODE_AT, Exception::GP(0));
}

#[test]
fn int_and_iret_record_transitions_and_cycles() {
    let mut v = lm64(3);
    idt64(&mut v, 0x80, gate64(KCODE64, HANDLER, INT32, 3, 0));
    bytes(&mut v, HANDLER, &IRETQ);
    bytes(&mut v, UCODE_AT, &[0xCD, 0x80]);
    bytes(&mut v, UCODE_AT + 2, &UD2);
    v.cpu.rip = UCODE_AT;
    let ev = v.step();
    assert_eq!(ev.exit, None);
    assert_eq!(
        ev.instruction.map(|i| i.mnemonic()),
        Some(iced_x86::Mnemonic::Int),
        "the step reports the INT, not what is at the handler"
    );
    assert_eq!(ev.cycles, INT_DELIVERY_CYCLES as u64);
    let t = ev.transition.expect("INT transition");
    assert_eq!(t.kind, TransitionKind::SoftwareInterrupt { vector: 0x80 });
    assert_eq!((t.cpl_before, t.cpl_after), (3, 0));
    assert!(t.stack_switched);
    assert_eq!(t.from.offset, UCODE_AT);
    assert_eq!(t.to.offset, HANDLER);
    assert_eq!(t.stack_after.offset, KSTACK - 40);
    let ev = v.step();
    let t = ev.transition.expect("IRET transition");
    assert_eq!(t.kind, TransitionKind::Iret);
    assert!(!t.stack_switched);
    assert_eq!(t.to.offset, UCODE_AT + 2);
    assert_eq!(v.cpu.gpr[4], USTACK);
    // An exception delivered by the run loop: one step, a transition and
    // the delivery cost.
    idt64(&mut v, 6, gate64(KCODE64, HANDLER2, INT32, 0, 0));
    let ev = v.step();
    assert_eq!(ev.exit, None);
    assert_eq!(
        ev.cycles,
        sysgate_cpu::CycleModel::skylake().delivery_cycles() as u64
    );
    let t = ev.transition.expect("exception transition");
    assert_eq!(t.kind, TransitionKind::Exception(Exception::UD));
    assert_eq!(t.from.offset, UCODE_AT + 2);
    assert_eq!(t.to.offset, HANDLER2);
    assert_eq!(v.cpu.rip, HANDLER2);
}

// ---------------------------------------------------------------------
// INT3, INTO, INT1 and the exception bitmap
// ---------------------------------------------------------------------

#[test]
fn int3_into_int1_exit_as_traps_by_default() {
    let mut v = lm64(3);
    v.exception_bitmap = u32::MAX;
    bytes(&mut v, UCODE_AT, &[0xCC]);
    assert_eq!(go(&mut v, UCODE_AT), Exit::Exception(Exception::BP));
    assert_eq!(v.cpu.rip, UCODE_AT + 1, "#BP is a trap");
    bytes(&mut v, UCODE_AT, &[0xF1]);
    assert_eq!(go(&mut v, UCODE_AT), Exit::Exception(Exception::DB));
    assert_eq!(v.cpu.rip, UCODE_AT + 1, "INT1's #DB is a trap");
    let mut v = pm32(3);
    v.exception_bitmap = u32::MAX;
    bytes(&mut v, UCODE_AT, &[0xCE]);
    v.cpu.rflags = 0x2 | OF;
    assert_eq!(go(&mut v, UCODE_AT), Exit::Exception(Exception::OF));
    assert_eq!(v.cpu.rip, UCODE_AT + 1);
    // INTO with OF = 0 does nothing.
    bytes(&mut v, UCODE_AT, &[0xCE, 0x0F, 0x0B]);
    v.cpu.rflags = 0x2;
    assert_eq!(go(&mut v, UCODE_AT), Exit::Exception(Exception::UD));
    assert_eq!(v.cpu.rip, UCODE_AT + 1);
}

#[test]
fn into_delivers_overflow_as_a_trap() {
    let mut v = pm32(3);
    idt32(&mut v, 4, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, UCODE_AT, &[0xCE]);
    v.cpu.rflags = 0x2 | OF;
    v.cpu.rip = UCODE_AT;
    let ev = v.step();
    assert_eq!(
        ev.transition.map(|t| t.kind),
        Some(TransitionKind::SoftwareInterrupt { vector: 4 })
    );
    assert_eq!(r32(&v, KSTACK - 20), (UCODE_AT + 1) as u32);
    assert_eq!(v.cpu.rip, HANDLER);
}

// ---------------------------------------------------------------------
// Virtual-8086 mode (SDM Vol. 3 §20.3, Figure 20-3 style frames)
// ---------------------------------------------------------------------

/// A 32-bit CPL-0 machine about to IRETD into virtual-8086 mode at
/// 1000:0000 with SS:SP = 2000:0FF0, ES/DS/FS/GS = 3000/4000/5000/6000.
fn to_v86(iopl: u64) -> Vcpu {
    let mut v = pm32(0);
    let sp = 0x8_0000 - 36;
    v.cpu.gpr[4] = sp;
    let frame = [
        0u32,
        0x1000,
        (0x2 | VM | IF | (iopl << 12)) as u32,
        0x0FF0,
        0x2000,
        0x3000,
        0x4000,
        0x5000,
        0x6000,
    ];
    for (k, x) in frame.into_iter().enumerate() {
        w32(&mut v, sp + 4 * k as u64, x);
    }
    bytes(&mut v, KCODE_AT, &IRETD);
    v
}

#[test]
fn iret_to_v86_and_int_back_to_ring0() {
    let mut v = to_v86(3);
    idt32(&mut v, 0x80, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, 0x1_0000, &[0xCD, 0x80]);
    v.cpu.rip = KCODE_AT;
    v.step();
    let c = &v.cpu;
    assert_eq!(c.mode(), Mode::Virtual8086);
    assert_eq!(c.cpl(), 3);
    assert_eq!(c.seg[SegReg::Cs as usize].base, 0x1_0000);
    assert_eq!(c.seg[SegReg::Ss as usize].base, 0x2_0000);
    assert_eq!(c.seg[SegReg::Gs as usize].selector, 0x6000);
    assert_eq!(c.seg[SegReg::Ds as usize].limit, 0xFFFF);
    assert_eq!(c.gpr[4], 0x0FF0);
    assert_eq!(v.run(Limit::instructions(10)), Exit::Hlt);
    // INTERRUPT-FROM-VIRTUAL-8086-MODE frame on ESP0.
    let top = KSTACK;
    let expect = [
        (0x6000u32, "GS"),
        (0x5000, "FS"),
        (0x4000, "DS"),
        (0x3000, "ES"),
        (0x2000, "SS"),
        (0x0FF0, "ESP"),
        ((0x2 | VM | IF | IOPL3) as u32, "EFLAGS"),
        (0x1000, "CS"),
        (0x0002, "EIP"),
    ];
    for (k, (x, name)) in expect.into_iter().enumerate() {
        assert_eq!(r32(&v, top - 4 * (k as u64 + 1)), x, "{name}");
    }
    let c = &v.cpu;
    assert_eq!(c.gpr[4], top - 36);
    assert_eq!(c.mode(), Mode::Protected);
    assert_eq!(c.cpl(), 0);
    for r in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        assert_eq!(c.seg[r as usize].selector, 0, "{r:?}");
        assert!(c.seg[r as usize].unusable());
    }
    // IRETD from the handler returns to virtual-8086 mode intact.
    bytes(&mut v, HANDLER + 1, &IRETD);
    bytes(&mut v, 0x1_0002, &UD2);
    v.exception_bitmap = 1 << 6;
    assert_eq!(
        v.run(Limit::instructions(10)),
        Exit::Exception(Exception::UD)
    );
    let c = &v.cpu;
    assert_eq!(c.mode(), Mode::Virtual8086);
    assert_eq!(c.rip, 2);
    assert_eq!(c.gpr[4], 0x0FF0);
    assert_eq!(c.seg[SegReg::Es as usize].selector, 0x3000);
    assert_eq!(c.seg[SegReg::Es as usize].base, 0x3_0000);
}

#[test]
fn v86_int3_and_cd03_differ_when_iopl_is_below_3() {
    // CC goes through the protected-mode gate; CD 03 is #GP(0).
    let mut v = to_v86(0);
    idt32(&mut v, 3, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    idt32(&mut v, 13, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    bytes(&mut v, HANDLER2, &HLT);
    bytes(&mut v, 0x1_0000, &[0xCC]);
    v.cpu.rip = KCODE_AT;
    v.step();
    assert_eq!(v.run(Limit::instructions(10)), Exit::Hlt);
    assert_eq!(v.cpu.rip, HANDLER + 1);
    assert_eq!(r32(&v, KSTACK - 36), 1, "EIP after INT3");
    let mut v = to_v86(0);
    idt32(&mut v, 3, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    idt32(&mut v, 13, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    bytes(&mut v, 0x1_0000, &[0xCD, 0x03]);
    v.cpu.rip = KCODE_AT;
    v.step();
    assert_eq!(v.run(Limit::instructions(10)), Exit::Hlt);
    assert_eq!(v.cpu.rip, HANDLER2 + 1);
    assert_eq!(r32(&v, KSTACK - 40), 0, "#GP(0)");
    assert_eq!(r32(&v, KSTACK - 36), 0, "EIP of the faulting INT 3");
    // IRET in virtual-8086 mode with IOPL < 3 is #GP(0) too.
    let mut v = to_v86(0);
    bytes(&mut v, 0x1_0000, &[0xCF]);
    v.cpu.rip = KCODE_AT;
    v.step();
    assert_fault(&mut v, 0, Exception::GP(0));
}

#[test]
fn v86_handler_must_be_dpl0_nonconforming() {
    let mut v = to_v86(3);
    idt32(
        &mut v,
        0x80,
        gate(CONF_CODE, HANDLER as u32, INT32, 3, true),
    );
    bytes(&mut v, 0x1_0000, &[0xCD, 0x80]);
    v.cpu.rip = KCODE_AT;
    v.step();
    assert_fault(&mut v, 0, Exception::GP(CONF_CODE));
    idt32(
        &mut v,
        0x80,
        gate(CODE_DPL1, HANDLER as u32, INT32, 3, true),
    );
    assert_fault(&mut v, 0, Exception::GP(CODE_DPL1));
}

// ---------------------------------------------------------------------
// Page faults and CR2; RF
// ---------------------------------------------------------------------

/// 32-bit paging: identity-maps the low 4 MiB except page 0x50000.
fn paging32(v: &mut Vcpu) {
    const PD: u64 = 0xB_0000;
    const PT: u64 = 0xB_1000;
    w32(v, PD, (PT | 0x7) as u32);
    for p in 0..1024u64 {
        let pte = if p == 0x50 { 0 } else { (p << 12) | 0x7 };
        w32(v, PT + 4 * p, pte as u32);
    }
    v.cpu.ctrl.cr3 = PD;
    v.cpu.ctrl.cr0 |= Cr0::PG.bits();
}

#[test]
fn page_fault_delivery_loads_cr2() {
    let mut v = pm32(0);
    paging32(&mut v);
    idt32(&mut v, 14, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    // mov eax, [0x50010]
    bytes(&mut v, KCODE_AT, &[0xA1, 0x10, 0x00, 0x05, 0x00]);
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.cr2, 0x5_0010);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0, "not present, read, supervisor");
    assert_eq!(r32(&v, 0x8_0000 - 12), KCODE_AT as u32);
    // Intercepted: CR2 is left alone, as a VM exit leaves it.
    let mut v = pm32(0);
    paging32(&mut v);
    v.exception_bitmap = 1 << 14;
    bytes(&mut v, KCODE_AT, &[0xA1, 0x10, 0x00, 0x05, 0x00]);
    assert_eq!(
        go(&mut v, KCODE_AT),
        Exit::Exception(Exception::PF {
            addr: 0x5_0010,
            error: 0
        })
    );
    assert_eq!(v.cpu.cr2, 0);
}

#[test]
fn page_faults_on_the_handler_stack_escalate_to_a_triple_fault() {
    let mut v = pm32(3);
    paging32(&mut v);
    idt32(&mut v, 0x80, gate(KCODE32, HANDLER as u32, INT32, 3, true));
    idt32(&mut v, 14, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    idt32(&mut v, 8, gate(KCODE32, HANDLER2 as u32, INT32, 0, true));
    bytes(&mut v, HANDLER2, &HLT);
    // ESP0 in the unmapped page: INT 0x80 faults (#PF, a fault of the
    // INT); delivering that #PF faults on the same stack (#PF during #PF:
    // #DF); #DF uses ESP0 as well and faults: triple fault.
    w32(&mut v, TSS + 4, 0x5_0800);
    bytes(&mut v, UCODE_AT, &[0xCD, 0x80]);
    assert_eq!(go(&mut v, UCODE_AT), Exit::TripleFault);
    assert_eq!(v.cpu.cr2, 0x5_07FC, "the last page fault's address");
    assert_eq!(v.cpu.rip, UCODE_AT);
    assert_eq!(v.cpu.cpl(), 3);
}

#[test]
fn iret_restores_rf_until_the_next_instruction_completes() {
    let mut v = pm32(0);
    idt32(&mut v, 0x81, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    let frame = |v: &mut Vcpu, eip: u64| {
        let sp = 0x8_0000 - 12;
        v.cpu.gpr[4] = sp;
        w32(v, sp, eip as u32);
        w32(v, sp + 4, KCODE32 as u32);
        w32(v, sp + 8, (0x2 | RF) as u32);
    };
    // IRETD; INT 0x81: the INT is the instruction RF applies to, and the
    // image it pushes has RF = 1.
    frame(&mut v, KCODE_AT + 0x10);
    bytes(&mut v, KCODE_AT, &IRETD);
    bytes(&mut v, KCODE_AT + 0x10, &[0xCD, 0x81]);
    v.cpu.rip = KCODE_AT;
    v.step();
    assert_eq!(v.cpu.rflags & RF, RF, "IRET loaded RF");
    assert_eq!(go(&mut v, KCODE_AT + 0x10), Exit::Hlt);
    assert_eq!(r32(&v, 0x8_0000 - 4) as u64 & RF, RF);
    // IRETD; NOP; INT 0x81: RF was cleared when the NOP completed.
    let mut v2 = pm32(0);
    idt32(&mut v2, 0x81, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v2, HANDLER, &HLT);
    frame(&mut v2, KCODE_AT + 0x10);
    bytes(&mut v2, KCODE_AT, &IRETD);
    bytes(&mut v2, KCODE_AT + 0x10, &[0x90, 0xCD, 0x81]);
    assert_eq!(go(&mut v2, KCODE_AT), Exit::Hlt);
    assert_eq!(r32(&v2, 0x8_0000 - 4) as u64 & RF, 0);
    // The same, one step at a time.
    let mut v3 = pm32(0);
    frame(&mut v3, KCODE_AT + 0x10);
    bytes(&mut v3, KCODE_AT, &IRETD);
    bytes(&mut v3, KCODE_AT + 0x10, &[0x90, 0x90]);
    v3.cpu.rip = KCODE_AT;
    v3.step();
    assert_eq!(v3.cpu.rflags & RF, RF);
    v3.step();
    assert_eq!(v3.cpu.rflags & RF, 0);
}

// ---------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------

/// The modes of the round-trip property.
#[derive(Clone, Copy, Debug)]
enum Trip {
    /// Real-address mode, IVT.
    Real,
    /// 32-bit protected mode, ring 3 to ring 0 (TSS stack).
    Pm32User,
    /// 32-bit protected mode, ring 0 to ring 0.
    Pm32Kernel,
    /// 64-bit mode, ring 3 to ring 0 (RSP0).
    Long64User,
    /// Compatibility mode, ring 3 to a 64-bit ring-0 handler.
    CompatUser,
}

/// RFLAGS bits the round trips randomize: every flag but TF (single-step
/// traps are not modeled) and VM.
const RANDOM_FLAGS: u64 = 0x3F_7FD5 & !(TF | VM);

/// A null data-segment register with selector `sel` (index 0).
fn null_seg(v: &Vcpu, sel: u16) -> Segment {
    let mut s = cache(v, UDATA | 3);
    s.selector = sel;
    s.base = 0;
    s.attr |= attr::UNUSABLE;
    s
}

fn round_trip(
    trip: Trip,
    gpr: [u64; 16],
    flags: u64,
    vector: u8,
    trap_gate: bool,
    nulls: [u8; 4],
    bases: [u64; 2],
) -> Result<(), TestCaseError> {
    let ty = if trap_gate { TRAP32 } else { INT32 };
    let data_regs = [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs];
    let (mut v, at) = match trip {
        Trip::Real => {
            let mut v = real();
            bytes(&mut v, 0x8010, &[0xCF]);
            (v, 0x1000)
        }
        Trip::Pm32User | Trip::Pm32Kernel => {
            let user = matches!(trip, Trip::Pm32User);
            let mut v = pm32(if user { 3 } else { 0 });
            idt32(&mut v, vector, gate(KCODE32, HANDLER as u32, ty, 3, true));
            bytes(&mut v, HANDLER, &IRETD);
            for (r, n) in data_regs.into_iter().zip(nulls) {
                v.cpu.seg[r as usize] = match (n % 3, user) {
                    (0, _) => null_seg(&v, 0),
                    (1, false) => cache(&v, KDATA),
                    _ => cache(&v, UDATA | 3),
                };
            }
            (v, if user { UCODE_AT } else { KCODE_AT })
        }
        Trip::Long64User | Trip::CompatUser => {
            let mut v = lm64(3);
            if matches!(trip, Trip::CompatUser) {
                v.cpu.seg[SegReg::Cs as usize] = cache(&v, UCODE32 | 3);
            }
            idt64(&mut v, vector, gate64(KCODE64, HANDLER, ty, 3, 0));
            bytes(&mut v, HANDLER, &IRETQ);
            for (r, n) in data_regs.into_iter().zip(nulls) {
                v.cpu.seg[r as usize] = match n % 3 {
                    0 => null_seg(&v, 0),
                    1 => null_seg(&v, 3),
                    _ => cache(&v, UDATA | 3),
                };
            }
            v.cpu.seg[SegReg::Fs as usize].base = bases[0];
            v.cpu.seg[SegReg::Gs as usize].base = bases[1];
            (v, UCODE_AT)
        }
    };
    let phys_at = if matches!(trip, Trip::Real) {
        0x1000
    } else {
        at
    };
    bytes(&mut v, phys_at, &[0xCD, vector, 0x0F, 0x0B]);
    let rip = if matches!(trip, Trip::Real) { 0 } else { at };
    v.exception_bitmap = 1 << 6;
    v.cpu.gpr = gpr;
    match trip {
        Trip::Real => {
            v.cpu.rflags = (flags & 0x7FD5 & !TF) | (flags & 0x38_0000) | 0x2;
        }
        Trip::Pm32User => {
            for r in v.cpu.gpr.iter_mut() {
                *r &= 0xFFFF_FFFF;
            }
            v.cpu.rflags = (flags & RANDOM_FLAGS) | 0x2;
        }
        Trip::Pm32Kernel => {
            for r in v.cpu.gpr.iter_mut() {
                *r &= 0xFFFF_FFFF;
            }
            v.cpu.gpr[4] = 0x4_0000 + (gpr[4] % 0x4_0000);
            v.cpu.rflags = (flags & RANDOM_FLAGS) | 0x2;
        }
        Trip::Long64User | Trip::CompatUser => {
            v.cpu.rflags = (flags & RANDOM_FLAGS) | 0x2;
        }
    }
    v.cpu.rip = rip;
    let before = snap(&v.cpu);
    let exit = v.run(Limit::instructions(10));
    prop_assert_eq!(exit, Exit::Exception(Exception::UD));
    prop_assert_eq!(v.cpu.rip, rip + 2, "at the UD2 after the INT");
    prop_assert_eq!(v.cpu.instructions, 2, "INT and the handler's IRET retired");
    let after = snap(&v.cpu);
    prop_assert_eq!(after.gpr, before.gpr);
    prop_assert_eq!(after.rflags, before.rflags);
    prop_assert_eq!(after.seg, before.seg);
    prop_assert_eq!(after.ctrl, before.ctrl);
    Ok(())
}

/// A 64-bit value that is either small or anything.
fn word() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), 0u64..0x1_0000, Just(0u64), Just(u64::MAX)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// INT n followed by the handler's IRET restores every register,
    /// RFLAGS and every segment register, in each mode.
    #[test]
    fn int_iret_round_trip_restores_everything(
        trip in prop_oneof![
            Just(Trip::Real),
            Just(Trip::Pm32User),
            Just(Trip::Pm32Kernel),
            Just(Trip::Long64User),
            Just(Trip::CompatUser),
        ],
        gpr in proptest::array::uniform16(word()),
        flags in any::<u64>(),
        vector in 0x20u8..=0xFF,
        trap_gate in any::<bool>(),
        nulls in any::<[u8; 4]>(),
        bases in any::<[u64; 2]>(),
    ) {
        round_trip(trip, gpr, flags, vector, trap_gate, nulls, bases)?;
    }

    /// INT n (or INT3) through a gate with DPL < CPL faults with
    /// #GP(vector · 8 + 2) and changes nothing.
    #[test]
    fn int_through_a_more_privileged_gate_faults_and_changes_nothing(
        long in any::<bool>(),
        gate_dpl in 0u8..3,
        vector in any::<u8>(),
        int3 in any::<bool>(),
        gpr in proptest::array::uniform16(word()),
        flags in any::<u64>(),
    ) {
        let mut v = if long { lm64(3) } else { pm32(3) };
        let vector = if int3 { 3 } else { vector };
        if long {
            idt64(&mut v, vector, gate64(KCODE64, HANDLER, INT32, gate_dpl, 0));
        } else {
            idt32(&mut v, vector, gate(KCODE32, HANDLER as u32, INT32, gate_dpl, true));
        }
        let insn: &[u8] = if int3 { &[0xCC] } else { &[0xCD, vector] };
        bytes(&mut v, UCODE_AT, insn);
        v.cpu.gpr = gpr;
        if !long {
            for r in v.cpu.gpr.iter_mut() {
                *r &= 0xFFFF_FFFF;
            }
        }
        v.cpu.rflags = (flags & RANDOM_FLAGS) | 0x2;
        let e = Exception::GP(((vector as u16) << 3) | 2);
        v.exception_bitmap = !(1 << 3);
        v.cpu.rip = UCODE_AT;
        let before = snap(&v.cpu);
        prop_assert_eq!(v.run(Limit::instructions(1)), Exit::Exception(e));
        prop_assert!(snap(&v.cpu) == before, "state changed");
    }

    /// The handler's stack comes from TSS.RSP0 (privilege change), the
    /// IST slot the gate names (always), or the current RSP, aligned down
    /// to 16 bytes, and holds SS, RSP, RFLAGS, CS, RIP.
    #[test]
    fn ia32e_stack_switch_uses_rsp0_or_ist_aligned(
        cpl in prop_oneof![Just(0u8), Just(3u8)],
        ist in 0u8..8,
        rsp0 in 0x4_0000u64..0x9_0000,
        slots in proptest::array::uniform7(0x4_0000u64..0x9_0000),
        old_rsp in 0x4_0000u64..0x9_0000,
        flags in any::<u64>(),
    ) {
        let mut v = lm64(cpl);
        idt64(&mut v, 0x90, gate64(KCODE64, HANDLER, INT32, 3, ist));
        bytes(&mut v, HANDLER, &HLT);
        w64(&mut v, TSS + 4, rsp0);
        for (k, s) in slots.iter().enumerate() {
            w64(&mut v, TSS + 0x24 + 8 * k as u64, *s);
        }
        let at = if cpl == 0 { KCODE_AT } else { UCODE_AT };
        bytes(&mut v, at, &[0xCD, 0x90]);
        v.cpu.gpr[4] = old_rsp;
        v.cpu.rflags = (flags & RANDOM_FLAGS) | 0x2;
        let old_ss = v.cpu.seg[SegReg::Ss as usize].selector as u64;
        let old_cs = v.cpu.seg[SegReg::Cs as usize].selector as u64;
        let image = v.cpu.rflags;
        prop_assert_eq!(go(&mut v, at), Exit::Hlt);
        let base = if ist != 0 {
            slots[ist as usize - 1]
        } else if cpl == 3 {
            rsp0
        } else {
            old_rsp
        };
        let top = base & !0xF;
        prop_assert_eq!(v.cpu.gpr[4], top - 40);
        prop_assert_eq!(r64(&v, top - 8), old_ss);
        prop_assert_eq!(r64(&v, top - 16), old_rsp);
        prop_assert_eq!(r64(&v, top - 24), image);
        prop_assert_eq!(r64(&v, top - 32), old_cs);
        prop_assert_eq!(r64(&v, top - 40), at + 2);
        prop_assert_eq!(v.cpu.cpl(), 0);
    }

    /// 32-bit: a privilege change loads SS0:ESP0 from the TSS.
    #[test]
    fn pm32_stack_switch_uses_ss0_esp0(
        esp0 in 0x4_0000u64..0x9_0000,
        old_esp in any::<u32>(),
        flags in any::<u64>(),
    ) {
        let mut v = pm32(3);
        idt32(&mut v, 0x90, gate(KCODE32, HANDLER as u32, INT32, 3, true));
        bytes(&mut v, HANDLER, &HLT);
        w32(&mut v, TSS + 4, esp0 as u32);
        bytes(&mut v, UCODE_AT, &[0xCD, 0x90]);
        v.cpu.gpr[4] = old_esp as u64;
        v.cpu.rflags = (flags & RANDOM_FLAGS) | 0x2;
        let image = v.cpu.rflags as u32;
        prop_assert_eq!(go(&mut v, UCODE_AT), Exit::Hlt);
        prop_assert_eq!(v.cpu.gpr[4], esp0 - 20);
        prop_assert_eq!(v.cpu.seg[SegReg::Ss as usize], cache(&v, KDATA));
        prop_assert_eq!(r32(&v, esp0 - 4), (UDATA | 3) as u32);
        prop_assert_eq!(r32(&v, esp0 - 8), old_esp);
        prop_assert_eq!(r32(&v, esp0 - 12), image);
        prop_assert_eq!(r32(&v, esp0 - 16), (UCODE32 | 3) as u32);
        prop_assert_eq!(r32(&v, esp0 - 20), (UCODE_AT + 2) as u32);
    }
}

/// Privileged instructions at CPL 3 in 64-bit mode and their exceptions
/// (SDM Vol. 3 §5.9 and each Vol. 2 page).
fn privileged64() -> Vec<(&'static [u8], Exception)> {
    let gp0 = Exception::GP(0);
    vec![
        (&[0xF4], gp0),                          // hlt
        (&[0xFA], gp0),                          // cli (IOPL < 3)
        (&[0xFB], gp0),                          // sti (IOPL < 3)
        (&[0xEC], gp0),                          // in al, dx
        (&[0xED], gp0),                          // in eax, dx
        (&[0xEE], gp0),                          // out dx, al
        (&[0xE4, 0x60], gp0),                    // in al, 0x60
        (&[0xE6, 0x80], gp0),                    // out 0x80, al
        (&[0x0F, 0x20, 0xC0], gp0),              // mov rax, cr0
        (&[0x0F, 0x20, 0xD0], gp0),              // mov rax, cr2
        (&[0x0F, 0x20, 0xD8], gp0),              // mov rax, cr3
        (&[0x0F, 0x20, 0xE0], gp0),              // mov rax, cr4
        (&[0x44, 0x0F, 0x20, 0xC0], gp0),        // mov rax, cr8
        (&[0x0F, 0x22, 0xC0], gp0),              // mov cr0, rax
        (&[0x0F, 0x22, 0xD8], gp0),              // mov cr3, rax
        (&[0x0F, 0x22, 0xE0], gp0),              // mov cr4, rax
        (&[0x44, 0x0F, 0x22, 0xC0], gp0),        // mov cr8, rax
        (&[0x0F, 0x21, 0xF8], gp0),              // mov rax, dr7
        (&[0x0F, 0x23, 0xC0], gp0),              // mov dr0, rax
        (&[0x0F, 0x23, 0xF8], gp0),              // mov dr7, rax
        (&[0x0F, 0x01, 0x10], gp0),              // lgdt [rax]
        (&[0x0F, 0x01, 0x18], gp0),              // lidt [rax]
        (&[0x0F, 0x00, 0xD0], gp0),              // lldt ax
        (&[0x0F, 0x00, 0xD8], gp0),              // ltr ax
        (&[0x0F, 0x01, 0xF0], gp0),              // lmsw ax
        (&[0x0F, 0x06], gp0),                    // clts
        (&[0x0F, 0x01, 0x38], gp0),              // invlpg [rax]
        (&[0x0F, 0x09], gp0),                    // wbinvd
        (&[0x0F, 0x08], gp0),                    // invd
        (&[0x0F, 0x32], gp0),                    // rdmsr
        (&[0x0F, 0x30], gp0),                    // wrmsr
        (&[0x0F, 0x01, 0xF8], gp0),              // swapgs
        (&[0x48, 0x0F, 0x07], gp0),              // sysretq
        (&[0x0F, 0x07], gp0),                    // sysretd
        (&[0x48, 0x0F, 0x35], gp0),              // sysexitq
        (&[0x0F, 0x35], gp0),                    // sysexit
        (&[0x0F, 0x31], gp0),                    // rdtsc with CR4.TSD
        (&[0x0F, 0x01, 0xF9], gp0),              // rdtscp with CR4.TSD
        (&[0x48, 0xCF], Exception::GP(KCODE64)), // iretq to CPL 0
        (&[0xCD, 0x80], Exception::GP(0x402)),   // int 0x80, DPL 0 gate
    ]
}

/// The same in 32-bit protected mode.
fn privileged32() -> Vec<(&'static [u8], Exception)> {
    let gp0 = Exception::GP(0);
    vec![
        (&[0xF4], gp0),
        (&[0xFA], gp0),
        (&[0xFB], gp0),
        (&[0xEC], gp0),
        (&[0xEF], gp0),                        // out dx, eax
        (&[0x0F, 0x20, 0xC0], gp0),            // mov eax, cr0
        (&[0x0F, 0x22, 0xD8], gp0),            // mov cr3, eax
        (&[0x0F, 0x21, 0xF8], gp0),            // mov eax, dr7
        (&[0x0F, 0x23, 0xF8], gp0),            // mov dr7, eax
        (&[0x0F, 0x01, 0x10], gp0),            // lgdt [eax]
        (&[0x0F, 0x01, 0x18], gp0),            // lidt [eax]
        (&[0x0F, 0x00, 0xD0], gp0),            // lldt ax
        (&[0x0F, 0x00, 0xD8], gp0),            // ltr ax
        (&[0x0F, 0x01, 0xF0], gp0),            // lmsw ax
        (&[0x0F, 0x06], gp0),                  // clts
        (&[0x0F, 0x01, 0x38], gp0),            // invlpg [eax]
        (&[0x0F, 0x09], gp0),                  // wbinvd
        (&[0x0F, 0x32], gp0),                  // rdmsr
        (&[0x0F, 0x30], gp0),                  // wrmsr
        (&[0x0F, 0x35], gp0),                  // sysexit
        (&[0x0F, 0x31], gp0),                  // rdtsc with CR4.TSD
        (&[0xCF], Exception::GP(KCODE32)),     // iretd to CPL 0
        (&[0xCD, 0x80], Exception::GP(0x402)), // int 0x80, DPL 0 gate
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every privileged instruction at CPL 3 faults with the SDM's
    /// exception and changes nothing: registers, control registers, MSRs,
    /// descriptor-table registers, memory.
    #[test]
    fn privileged_instructions_at_cpl3_fault_and_change_nothing(
        long in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        gpr in proptest::array::uniform16(word()),
        flags in any::<u64>(),
        iopl in 0u64..3,
    ) {
        let (mut v, list) = if long {
            (lm64(3), privileged64())
        } else {
            (pm32(3), privileged32())
        };
        let (insn, e) = list[pick.index(list.len())];
        v.cpu.ctrl.cr4 |= Cr4::TSD.bits();
        v.cpu.ctrl.efer |= Efer::SCE.bits();
        v.cpu.msr.sysenter_cs = KCODE32 as u64;
        v.cpu.msr.star = (0x23 << 48) | (0x10 << 32);
        if long {
            idt64(&mut v, 0x80, gate64(KCODE64, HANDLER, INT32, 0, 0));
        } else {
            idt32(&mut v, 0x80, gate(KCODE32, HANDLER as u32, INT32, 0, true));
        }
        bytes(&mut v, UCODE_AT, insn);
        v.cpu.gpr = gpr;
        if !long {
            for r in v.cpu.gpr.iter_mut() {
                *r &= 0xFFFF_FFFF;
            }
        }
        v.cpu.rflags = (flags & RANDOM_FLAGS & !(NT | IOPL3)) | (iopl << 12) | 0x2;
        if insn.contains(&0xCF) {
            // An interrupt frame returning to kernel code.
            let sp = USTACK - 0x100;
            v.cpu.gpr[4] = sp;
            let (cs, w) = if long { (KCODE64, 8) } else { (KCODE32, 4) };
            for (k, x) in [HANDLER, cs as u64, 0x2, sp, KDATA as u64].into_iter().enumerate() {
                if long {
                    w64(&mut v, sp + w * k as u64, x);
                } else {
                    w32(&mut v, sp + w * k as u64, x as u32);
                }
            }
        }
        assert_fault(&mut v, UCODE_AT, e);
    }
}

#[test]
fn instruction_fetch_faults_are_delivered_too() {
    let mut v = pm32(0);
    paging32(&mut v);
    idt32(&mut v, 14, gate(KCODE32, HANDLER as u32, INT32, 0, true));
    bytes(&mut v, HANDLER, &HLT);
    // jmp 0x50000 (unmapped)
    code(&mut v, 32, KCODE_AT, KCODE_AT, |a| a.jmp(0x5_0000u64));
    v.cpu.gpr[4] = 0x8_0000;
    assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt);
    assert_eq!(v.cpu.cr2, 0x5_0000);
    assert_eq!(r32(&v, 0x8_0000 - 16), 0, "not present, supervisor read");
    assert_eq!(r32(&v, 0x8_0000 - 12), 0x5_0000, "EIP: the fetch address");
}

#[test]
fn a_handler_that_cannot_be_fetched_still_meets_the_instruction_limit() {
    // The #PF handler itself is unmapped: every delivery faults on fetch
    // again (a livelock on hardware). Delivered events count toward the
    // instruction limit, so the run ends.
    let mut v = pm32(0);
    paging32(&mut v);
    idt32(&mut v, 14, gate(KCODE32, 0x5_0000, INT32, 0, true));
    code(&mut v, 32, KCODE_AT, KCODE_AT, |a| a.jmp(0x5_0000u64));
    v.cpu.gpr[4] = 0x8_0000;
    v.cpu.rip = KCODE_AT;
    assert_eq!(v.run(Limit::instructions(20)), Exit::InstructionLimit);
    assert_eq!(v.cpu.instructions, 1, "only the JMP retired");
    assert_eq!(v.cpu.gpr[4], 0x8_0000 - 19 * 16, "19 deliveries");
    assert_eq!(v.cpu.rip, 0x5_0000);
}

#[test]
fn software_interrupts_end_their_block() {
    // Nothing after the interrupting instruction runs before the handler.
    for insn in [&[0xCE][..], &[0xCC], &[0xF1], &[0xCD, 0x04]] {
        let mut v = pm32(0);
        for n in [1u8, 3, 4] {
            idt32(&mut v, n, gate(KCODE32, HANDLER as u32, INT32, 0, true));
        }
        bytes(&mut v, HANDLER, &HLT);
        let mut prog = insn.to_vec();
        prog.extend_from_slice(&[0xB8, 1, 0, 0, 0, 0xF4]); // mov eax, 1; hlt
        bytes(&mut v, KCODE_AT, &prog);
        v.cpu.rflags = 0x2 | OF;
        v.cpu.gpr[0] = 0;
        assert_eq!(go(&mut v, KCODE_AT), Exit::Hlt, "{insn:x?}");
        assert_eq!(v.cpu.rip, HANDLER + 1, "{insn:x?}");
        assert_eq!(v.cpu.gpr[0], 0, "{insn:x?}");
    }
}
