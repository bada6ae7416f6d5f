//! Tests of segmentation: segment-register loads and their protection
//! checks, far JMP/CALL/RET in real, protected and IA-32e mode, call
//! gates, RETF to an outer ring, and the descriptor-table instructions.
//!
//! GDTs, LDTs and TSSs are built in guest memory with the encoders below.
//! Expected values come from the SDM rules, never from the emulator. Each
//! fault case checks the exact exception and error code and, through
//! [`assert_fault`], that the faulting instruction changed no register,
//! no descriptor table and no stack byte.

use iced_x86::code_asm::*;
use iced_x86::{Code, IcedError, Instruction};

use crate::exception::Exception;
use crate::flags::ZF;
use crate::run::{Exit, Limit, Vcpu};
use crate::segmentation::Descriptor;
use crate::state::{Cr4, DescriptorTable, Mode, Rflags, SegReg, Segment, attr};
use crate::testutil::{CODE, DATA, STACK, asm, machine};
use crate::transition::TransitionKind;
use crate::vendor::Vendor;

// ---------------------------------------------------------------------
// Descriptor encoders and the standard GDT
// ---------------------------------------------------------------------

const GDT: u64 = 0x20000;
const LDT: u64 = 0x21000;
const TSS: u64 = 0x22000;
const GDT_LIMIT: u16 = 0xFF;

/// Access byte (descriptor byte 5): present, S = 1, code, readable.
const CODE_RX: u8 = 0x9A;
/// Present execute-only code.
const CODE_X: u8 = 0x98;
/// Present conforming readable code.
const CODE_CONF: u8 = 0x9E;
/// Present writable data.
const DATA_RW: u8 = 0x92;
/// Present read-only data.
const DATA_RO: u8 = 0x90;
/// Present.
const P: u8 = 0x80;

/// Flags nibble (descriptor byte 6, bits 7:4): granularity.
const G: u8 = 8;
/// Default size / big.
const D: u8 = 4;
/// 64-bit code.
const L: u8 = 2;

/// Encodes a segment descriptor from base, raw 20-bit limit, access byte
/// and flags nibble (SDM Vol. 3 Figure 3-8).
fn desc(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let base = base as u64;
    let limit = limit as u64;
    (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | ((access as u64) << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (((flags & 0xF) as u64) << 52)
        | (((base >> 24) & 0xFF) << 56)
}

/// An access byte with its DPL field set.
const fn dpl(access: u8, dpl: u8) -> u8 {
    access | (dpl << 5)
}

/// A 16/32-bit call gate (type 4/0xC) or task gate (type 5), present
/// (SDM Vol. 3 Figure 5-8).
fn gate(sel: u16, off: u32, ty: u8, gdpl: u8, params: u8) -> u64 {
    let off = off as u64;
    (off & 0xFFFF)
        | ((sel as u64) << 16)
        | (((params & 0x1F) as u64) << 32)
        | (((P | (gdpl << 5) | ty) as u64) << 40)
        | ((off >> 16) << 48)
}

/// A 64-bit call gate (SDM Vol. 3 Figure 5-9): 16 bytes.
fn gate64(sel: u16, off: u64, gdpl: u8) -> [u64; 2] {
    [gate(sel, off as u32, 0xC, gdpl, 0), off >> 32]
}

/// A 16-byte IA-32e LDT or TSS descriptor.
fn sys64(base: u64, limit: u32, ty: u8) -> [u64; 2] {
    [desc(base as u32, limit, P | ty, 0), base >> 32]
}

// Selectors of the standard GDT.
const K_CODE: u16 = 0x08;
const K_DATA: u16 = 0x10;
const U_CODE: u16 = 0x18;
const U_DATA: u16 = 0x20;
const K_CODE64: u16 = 0x28;
const U_CODE64: u16 = 0x30;
const K_CODE16: u16 = 0x38;
const K_DATA16: u16 = 0x40;
const CONF_CODE: u16 = 0x48;
const XONLY_CODE: u16 = 0x50;
const RO_DATA: u16 = 0x58;
const NP_DATA: u16 = 0x60;
const NP_CODE: u16 = 0x68;
const TSS32: u16 = 0x70;
const LDT_SEL: u16 = 0x78;
const GATE32: u16 = 0x80;
const TASK_GATE: u16 = 0x88;
const DATA_DPL2: u16 = 0x90;
const TSS64: u16 = 0x98;
const LDT64: u16 = 0xA8;
const GATE64: u16 = 0xB8;
const SMALL_CODE: u16 = 0xC8;
const CODE64_DPL1: u16 = 0xD0;
const CONF_CODE3: u16 = 0xD8;
const BYTE_DATA: u16 = 0xE0;
const DATA_DPL1: u16 = 0xE8;
const LAST_DATA: u16 = 0xF8;

/// Entry point of the call-gate targets.
const GATE_TARGET: u32 = 0x3000;
const GATE64_TARGET: u64 = 0x3800;

fn standard_gdt() -> Vec<(u16, u64)> {
    let [tss_lo, tss_hi] = sys64(TSS, 0x67, 0x9);
    let [ldt_lo, ldt_hi] = sys64(LDT, 0xFF, 0x2);
    let [g_lo, g_hi] = gate64(K_CODE64, GATE64_TARGET, 3);
    vec![
        (K_CODE, desc(0, 0xFFFFF, CODE_RX, G | D)),
        (K_DATA, desc(0, 0xFFFFF, DATA_RW, G | D)),
        (U_CODE, desc(0, 0xFFFFF, dpl(CODE_RX, 3), G | D)),
        (U_DATA, desc(0, 0xFFFFF, dpl(DATA_RW, 3), G | D)),
        (K_CODE64, desc(0, 0xFFFFF, CODE_RX, G | L)),
        (U_CODE64, desc(0, 0xFFFFF, dpl(CODE_RX, 3), G | L)),
        (K_CODE16, desc(0, 0xFFFF, CODE_RX, 0)),
        (K_DATA16, desc(0, 0xFFFF, DATA_RW, 0)),
        (CONF_CODE, desc(0, 0xFFFFF, CODE_CONF, G | D)),
        (XONLY_CODE, desc(0, 0xFFFFF, CODE_X, G | D)),
        (RO_DATA, desc(0, 0xFFFFF, DATA_RO, G | D)),
        (NP_DATA, desc(0, 0xFFFFF, DATA_RW & !P, G | D)),
        (NP_CODE, desc(0, 0xFFFFF, CODE_RX & !P, G | D)),
        (TSS32, desc(TSS as u32, 0x67, P | 0x9, 0)),
        (LDT_SEL, desc(LDT as u32, 0xFF, P | 0x2, 0)),
        (GATE32, gate(K_CODE, GATE_TARGET, 0xC, 3, 2)),
        (TASK_GATE, gate(TSS32, 0, 0x5, 3, 0)),
        (DATA_DPL2, desc(0, 0xFFFFF, dpl(DATA_RW, 2), G | D)),
        (TSS64, tss_lo),
        (TSS64 + 8, tss_hi),
        (LDT64, ldt_lo),
        (LDT64 + 8, ldt_hi),
        (GATE64, g_lo),
        (GATE64 + 8, g_hi),
        (SMALL_CODE, desc(0x10000, 0xFFFF, CODE_RX, D)),
        (CODE64_DPL1, desc(0, 0xFFFFF, dpl(CODE_RX, 1), G | L)),
        (CONF_CODE3, desc(0, 0xFFFFF, dpl(CODE_CONF, 3), G | D)),
        (BYTE_DATA, desc(0x12345, 0xFFF, DATA_RW, D)),
        (DATA_DPL1, desc(0, 0xFFFFF, dpl(DATA_RW, 1), G | D)),
        (LAST_DATA, desc(0, 0xFFFFF, DATA_RW, G | D)),
    ]
}

/// Writes descriptor `d` at selector `sel` of the GDT.
fn put(v: &mut Vcpu, sel: u16, d: u64) {
    v.cpu
        .mmu
        .phys
        .write(GDT + (sel & 0xFFF8) as u64, &d.to_le_bytes());
}

/// Writes descriptor `d` at selector `sel` of the LDT.
fn put_ldt(v: &mut Vcpu, sel: u16, d: u64) {
    v.cpu
        .mmu
        .phys
        .write(LDT + (sel & 0xFFF8) as u64, &d.to_le_bytes());
}

/// Reads the descriptor at selector `sel` of the GDT.
fn get(v: &Vcpu, sel: u16) -> u64 {
    let mut b = [0u8; 8];
    v.cpu.mmu.phys.read(GDT + (sel & 0xFFF8) as u64, &mut b);
    u64::from_le_bytes(b)
}

/// The hidden cache a load of `sel` gives (accessed bit set).
fn cache(v: &Vcpu, sel: u16) -> Segment {
    Descriptor {
        lo: get(v, sel),
        hi: 0,
    }
    .segment(sel)
}

fn rd32(v: &Vcpu, pa: u64) -> u32 {
    v.cpu.mmu.phys.read_u32(pa)
}

fn rd64(v: &Vcpu, pa: u64) -> u64 {
    v.cpu.mmu.phys.read_u64(pa)
}

/// A machine in 16/32-bit protected mode or 64-bit mode at `cpl`, with
/// the standard GDT loaded and CS, SS, DS, ES, FS, GS loaded from it, a
/// 32-bit TSS (or the 64-bit TSS) in TR with ring-0 stack 0x7000.
fn pm(bits: u32, cpl: u8) -> Vcpu {
    let mut v = machine(bits);
    for (sel, d) in standard_gdt() {
        put(&mut v, sel, d);
    }
    v.cpu.gdtr = DescriptorTable {
        base: GDT,
        limit: GDT_LIMIT,
    };
    let (csel, dsel) = match (bits, cpl) {
        (64, 0) => (K_CODE64, K_DATA),
        (64, _) => (U_CODE64 | 3, U_DATA | 3),
        (16, _) => (K_CODE16, K_DATA16),
        (_, 0) => (K_CODE, K_DATA),
        _ => (U_CODE | 3, U_DATA | 3),
    };
    v.cpu.seg[SegReg::Cs as usize] = cache(&v, csel);
    for r in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        v.cpu.seg[r as usize] = cache(&v, dsel);
    }
    // TSS: ESP0 = 0x7000, SS0 = K_DATA (32-bit); RSP0 = 0x7000 (64-bit).
    v.cpu.mmu.phys.write(TSS + 4, &0x7000u32.to_le_bytes());
    v.cpu
        .mmu
        .phys
        .write(TSS + 8, &(K_DATA as u32).to_le_bytes());
    if bits == 64 {
        v.cpu.mmu.phys.write(TSS + 4, &0x7000u64.to_le_bytes());
        v.cpu.tr = Descriptor {
            lo: get(&v, TSS64),
            hi: 0,
        }
        .system_segment(TSS64, true);
    } else {
        v.cpu.tr = Descriptor {
            lo: get(&v, TSS32),
            hi: 0,
        }
        .system_segment(TSS32, false);
    }
    v.cpu.tr.attr |= 2;
    v.cpu.ldtr.attr |= attr::UNUSABLE;
    v
}

/// Assembles `f` at CS offset `ip` (no HLT appended) and writes it at
/// physical `pa`.
fn code_at(
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

/// JMP ptr16:16 / ptr16:32 (by the assembler's bitness).
fn jmp_far(a: &mut CodeAssembler, sel: u16, off: u32) -> Result<(), IcedError> {
    let code = if a.bitness() == 16 {
        Code::Jmp_ptr1616
    } else {
        Code::Jmp_ptr1632
    };
    a.add_instruction(Instruction::with_far_branch(code, sel, off)?)
}

/// CALL ptr16:16 / ptr16:32 (by the assembler's bitness).
fn call_far(a: &mut CodeAssembler, sel: u16, off: u32) -> Result<(), IcedError> {
    let code = if a.bitness() == 16 {
        Code::Call_ptr1616
    } else {
        Code::Call_ptr1632
    };
    a.add_instruction(Instruction::with_far_branch(code, sel, off)?)
}

/// Loads `code` at [`CODE`] and runs at most `n` instructions.
fn go(v: &mut Vcpu, code: &[u8], n: u64) -> Exit {
    v.cpu.mmu.phys.write(CODE, code);
    v.cpu.rip = CODE;
    v.run(Limit::instructions(n))
}

/// Everything a faulting instruction must leave alone.
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
    low: Vec<u8>,
    tables: Vec<u8>,
    data: Vec<u8>,
}

fn snap(v: &Vcpu) -> Snapshot {
    let c = &v.cpu;
    let mut low = vec![0u8; 0x1000];
    let mut tables = vec![0u8; 0x3000];
    let mut data = vec![0u8; 0x6000];
    c.mmu.phys.read(0, &mut low);
    c.mmu.phys.read(GDT, &mut tables);
    c.mmu.phys.read(0x4000, &mut data);
    Snapshot {
        gpr: c.gpr,
        rip: c.rip,
        rflags: c.rflags,
        seg: c.seg,
        ldtr: c.ldtr,
        tr: c.tr,
        gdtr: c.gdtr,
        idtr: c.idtr,
        low,
        tables,
        data,
    }
}

/// Runs `code`, whose first instruction must raise `e`, and checks that
/// it committed nothing.
fn assert_fault(v: &mut Vcpu, code: &[u8], e: Exception) {
    v.cpu.mmu.phys.write(CODE, code);
    v.cpu.rip = CODE;
    let before = snap(v);
    let exit = v.run(Limit::instructions(1));
    assert_eq!(exit, Exit::Exception(e));
    assert_eq!(snap(v), before, "the faulting instruction committed state");
}

// ---------------------------------------------------------------------
// MOV Sreg, POP Sreg, PUSH Sreg, LDS/LES/LFS/LGS/LSS
// ---------------------------------------------------------------------

#[test]
fn mov_ds_loads_the_cache_and_sets_the_accessed_bit() {
    let mut v = pm(32, 0);
    let code = asm(32, |a| {
        a.mov(eax, BYTE_DATA as u32)?;
        a.mov(ds, ax)?;
        a.mov(ebx, dword_ptr(0x10))
    });
    v.cpu
        .mmu
        .phys
        .write(0x12345 + 0x10, &0xCAFE_F00Du32.to_le_bytes());
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    let dseg = v.cpu.seg[SegReg::Ds as usize];
    assert_eq!(
        dseg,
        Segment {
            selector: BYTE_DATA,
            base: 0x12345,
            limit: 0xFFF,
            attr: 0x4093,
        }
    );
    // Type 2 (read/write) became 3 (accessed) in the GDT.
    assert_eq!((get(&v, BYTE_DATA) >> 40) & 0xFF, 0x93);
    assert_eq!(v.cpu.gpr[3], 0xCAFE_F00D, "reads go through the new base");
}

#[test]
fn mov_sreg_from_r32_r64_and_memory() {
    // 32-bit: the low word of a 32-bit register; a word in memory.
    let mut v = pm(32, 0);
    let code = asm(32, |a| {
        a.mov(eax, 0xFFFF_0000 | DATA_DPL2 as u32)?;
        a.mov(es, eax)?;
        a.mov(word_ptr(DATA as u32), LAST_DATA as u32)?;
        a.mov(fs, word_ptr(DATA as u32))
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Es as usize].selector, DATA_DPL2);
    assert_eq!(v.cpu.seg[SegReg::Es as usize].dpl(), 2);
    assert_eq!(v.cpu.seg[SegReg::Fs as usize].selector, LAST_DATA);
    // 64-bit: MOV GS, RAX loads the descriptor's 32-bit base into GS.
    let mut v = pm(64, 0);
    let code = asm(64, |a| {
        a.mov(rax, BYTE_DATA as u64)?;
        a.mov(gs, rax)
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Gs as usize].base, 0x12345);
}

#[test]
fn data_segment_loads_follow_the_privilege_and_type_rules() {
    let probe = asm(32, |a| a.mov(ds, ax));
    let cases: [(u8, u16, Exception); 8] = [
        // Beyond the GDT limit: the error code drops the RPL.
        (0, 0x103, Exception::GP(0x100)),
        // A TSS (system) descriptor.
        (0, TSS32, Exception::GP(TSS32)),
        // Execute-only code is not readable.
        (0, XONLY_CODE, Exception::GP(XONLY_CODE)),
        // DPL 0 data at CPL 3.
        (3, K_DATA | 3, Exception::GP(K_DATA)),
        // DPL 2 data with RPL 3 at CPL 0: DPL < RPL.
        (0, DATA_DPL2 | 3, Exception::GP(DATA_DPL2)),
        // DPL 2 data at CPL 3 even with RPL 0: DPL < CPL.
        (3, DATA_DPL2, Exception::GP(DATA_DPL2)),
        // Not present.
        (0, NP_DATA, Exception::NP(NP_DATA)),
        // An LDT selector while the LDTR is null.
        (0, 0x0C, Exception::GP(0x0C)),
    ];
    for (cpl, sel, e) in cases {
        let mut v = pm(32, cpl);
        v.cpu.gpr[0] = sel as u64;
        assert_fault(&mut v, &probe, e);
    }
    // The last descriptor of the table (limit 0xFF) is within it.
    let mut v = pm(32, 0);
    v.cpu.gpr[0] = LAST_DATA as u64;
    assert_eq!(go(&mut v, &probe, 1), Exit::InstructionLimit);
    assert_eq!(v.cpu.seg[SegReg::Ds as usize].selector, LAST_DATA);
}

#[test]
fn conforming_readable_code_loads_into_ds_at_any_cpl() {
    let mut v = pm(32, 3);
    let probe = asm(32, |a| {
        a.mov(ds, ax)?;
        a.mov(ebx, dword_ptr(DATA as u32))
    });
    v.cpu.mmu.phys.write(DATA, &0x1234_5678u32.to_le_bytes());
    v.cpu.gpr[0] = (CONF_CODE | 3) as u64;
    assert_eq!(go(&mut v, &probe, 2), Exit::InstructionLimit);
    let dseg = v.cpu.seg[SegReg::Ds as usize];
    assert_eq!(dseg.selector, CONF_CODE | 3);
    assert!(dseg.is_code());
    assert_eq!(v.cpu.gpr[3], 0x1234_5678, "readable code can be read");
}

#[test]
fn null_selector_makes_a_data_register_unusable() {
    let mut v = pm(32, 0);
    let code = asm(32, |a| {
        a.mov(eax, 3u32)?;
        a.mov(ds, ax)?;
        a.mov(ebx, dword_ptr(DATA as u32))
    });
    let exit = go(&mut v, &code, 100);
    assert_eq!(
        exit,
        Exit::Exception(Exception::GP(0)),
        "access via null DS"
    );
    // mov eax, imm32 (5 bytes); o16 mov ds, ax (3 bytes); then the read.
    assert_eq!(v.cpu.rip, CODE + 5 + 3, "the faulting access is the read");
    let dseg = v.cpu.seg[SegReg::Ds as usize];
    assert_eq!(dseg.selector, 3);
    assert!(dseg.unusable());
    assert_eq!(dseg.base, 0);
    // In 64-bit mode a null FS load clears the FS base.
    let mut v = pm(64, 0);
    v.cpu.seg[SegReg::Fs as usize].base = 0x1234_5000;
    let code = asm(64, |a| {
        a.xor(eax, eax)?;
        a.mov(fs, ax)
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Fs as usize].base, 0);
    assert!(v.cpu.seg[SegReg::Fs as usize].unusable());
}

#[test]
fn ss_loads_need_rpl_dpl_cpl_and_a_writable_data_segment() {
    let probe = asm(32, |a| a.mov(ss, ax));
    let cases: [(u16, Exception); 6] = [
        (0, Exception::GP(0)),
        // RPL 3 != CPL 0.
        (K_DATA | 3, Exception::GP(K_DATA)),
        // DPL 3 != CPL 0 (RPL 0).
        (U_DATA, Exception::GP(U_DATA)),
        (RO_DATA, Exception::GP(RO_DATA)),
        (K_CODE, Exception::GP(K_CODE)),
        (NP_DATA, Exception::SS(NP_DATA)),
    ];
    for (sel, e) in cases {
        let mut v = pm(32, 0);
        v.cpu.gpr[0] = sel as u64;
        assert_fault(&mut v, &probe, e);
    }
    let mut v = pm(32, 0);
    v.cpu.gpr[0] = K_DATA16 as u64;
    assert_eq!(go(&mut v, &probe, 1), Exit::InstructionLimit);
    assert_eq!(v.cpu.stack_size(), 2, "a 16-bit stack (B = 0)");
}

#[test]
fn null_ss_in_64_bit_mode() {
    let probe = asm(64, |a| {
        a.mov(ss, ax)?;
        a.push(rbx)?;
        a.pop(rcx)
    });
    // CPL 0, RPL 0: allowed, and the stack still works in 64-bit mode.
    let mut v = pm(64, 0);
    v.cpu.gpr[0] = 0;
    v.cpu.gpr[3] = 0x55;
    assert_eq!(go(&mut v, &probe, 3), Exit::InstructionLimit);
    assert!(v.cpu.seg[SegReg::Ss as usize].unusable());
    assert_eq!(v.cpu.gpr[1], 0x55);
    // RPL != CPL, or CPL 3: #GP(0).
    let mut v = pm(64, 0);
    v.cpu.gpr[0] = 1;
    assert_fault(&mut v, &probe, Exception::GP(0));
    let mut v = pm(64, 3);
    v.cpu.gpr[0] = 3;
    assert_fault(&mut v, &probe, Exception::GP(0));
    // Compatibility mode: null SS is #GP(0) at any CPL.
    let mut v = pm(64, 0);
    v.cpu.seg[SegReg::Cs as usize] = cache(&v, K_CODE);
    assert_eq!(v.cpu.mode(), Mode::Compatibility);
    v.cpu.gpr[0] = 0;
    assert_fault(&mut v, &asm(32, |a| a.mov(ss, ax)), Exception::GP(0));
}

#[test]
fn mov_to_cs_is_undefined() {
    let mut v = pm(32, 0);
    // 8E C8: MOV CS, AX.
    assert_fault(&mut v, &[0x8E, 0xC8], Exception::UD);
    let mut v = machine(0);
    assert_fault(&mut v, &[0x8E, 0xC8], Exception::UD);
}

#[test]
fn mov_from_sreg_in_every_size() {
    let v = {
        let mut v = pm(64, 0);
        let code = asm(64, |a| {
            a.mov(rax, -1i64)?;
            a.mov(ax, ds)?;
            a.mov(rbx, -1i64)?;
            a.mov(ebx, ss)?;
            a.mov(rcx, -1i64)?;
            a.mov(rcx, cs)?;
            a.mov(rdx, DATA)?;
            a.mov(qword_ptr(rdx), -1)?;
            a.mov(word_ptr(rdx), es)
        });
        assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
        v
    };
    assert_eq!(
        v.cpu.gpr[0],
        0xFFFF_FFFF_FFFF_0000 | K_DATA as u64,
        "16-bit merges"
    );
    assert_eq!(v.cpu.gpr[3], K_DATA as u64, "32-bit zero-extends");
    assert_eq!(v.cpu.gpr[1], K_CODE64 as u64, "64-bit zero-extends");
    assert_eq!(
        rd64(&v, DATA),
        0xFFFF_FFFF_FFFF_0000 | K_DATA as u64,
        "memory gets a word"
    );
}

#[test]
fn push_sreg_slot_contents_follow_the_vendor() {
    for (vendor, upper) in [(Vendor::Intel, 0xAAAA_0000u32), (Vendor::Amd, 0)] {
        let mut v = pm(32, 0);
        v.cpu.vendor = vendor;
        v.cpu
            .mmu
            .phys
            .write(STACK - 4, &0xAAAA_AAAAu32.to_le_bytes());
        let code = asm(32, |a| a.push(ds));
        assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
        assert_eq!(v.cpu.gpr[4], STACK - 4);
        assert_eq!(rd32(&v, STACK - 4), upper | K_DATA as u32, "{vendor:?}");
    }
    // 64-bit PUSH FS moves RSP by 8; 66h PUSH GS by 2.
    let mut v = pm(64, 0);
    v.cpu.vendor = Vendor::Amd;
    v.cpu.mmu.phys.write(STACK - 8, &u64::MAX.to_le_bytes());
    let code = asm(64, |a| {
        a.push(fs)?;
        a.db(&[0x66, 0x0F, 0xA8])
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[4], STACK - 10);
    assert_eq!(rd64(&v, STACK - 8), K_DATA as u64);
    assert_eq!(v.cpu.mmu.phys.read_u16(STACK - 10), K_DATA);
    // PUSH CS in 16-bit protected mode.
    let mut v = pm(16, 0);
    let code = asm(16, |a| a.push(cs));
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[4], STACK - 2);
    assert_eq!(v.cpu.mmu.phys.read_u16(STACK - 2), K_CODE16);
}

#[test]
fn pop_sreg_loads_and_faults_leave_the_stack_pointer() {
    let mut v = pm(32, 0);
    let code = asm(32, |a| {
        a.push(DATA_DPL2 as i32)?;
        a.pop(es)?;
        a.push(K_DATA16 as i32)?;
        a.pop(ss)
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Es as usize].selector, DATA_DPL2);
    assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector, K_DATA16);
    // The pop used the old (32-bit) stack size: ESP is back at STACK.
    assert_eq!(v.cpu.gpr[4], STACK);
    // A bad selector: #GP(selector), ESP unchanged.
    let mut v = pm(32, 0);
    v.cpu.gpr[4] = STACK - 4;
    v.cpu
        .mmu
        .phys
        .write(STACK - 4, &(XONLY_CODE as u32).to_le_bytes());
    assert_fault(&mut v, &asm(32, |a| a.pop(ds)), Exception::GP(XONLY_CODE));
    // 64-bit POP FS pops 8 bytes.
    let mut v = pm(64, 0);
    v.cpu.gpr[4] = STACK - 8;
    v.cpu
        .mmu
        .phys
        .write(STACK - 8, &(BYTE_DATA as u64).to_le_bytes());
    assert_eq!(go(&mut v, &asm(64, |a| a.pop(fs)), 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[4], STACK);
    assert_eq!(v.cpu.seg[SegReg::Fs as usize].base, 0x12345);
}

#[test]
fn load_far_pointer_in_every_size() {
    // 32-bit LDS/LES/LFS/LGS/LSS with m16:32.
    let mut v = pm(32, 0);
    v.cpu.mmu.phys.write(DATA, &0x1122_3344u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 4, &DATA_DPL2.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 8, &0x6000u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 12, &K_DATA16.to_le_bytes());
    let code = asm(32, |a| {
        a.les(ebx, ptr(DATA as u32))?;
        a.lfs(ecx, ptr(DATA as u32))?;
        a.lgs(edx, ptr(DATA as u32))?;
        a.lss(esp, ptr(DATA as u32 + 8))?;
        a.lds(esi, ptr(DATA as u32))
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    for r in [SegReg::Es, SegReg::Fs, SegReg::Gs, SegReg::Ds] {
        assert_eq!(v.cpu.seg[r as usize].selector, DATA_DPL2, "{r:?}");
    }
    assert_eq!(v.cpu.gpr[3], 0x1122_3344);
    assert_eq!(v.cpu.gpr[6], 0x1122_3344);
    assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector, K_DATA16);
    assert_eq!(v.cpu.gpr[4], 0x6000);
    // 16-bit: LDS SI, m16:16 writes SI only.
    let mut v = pm(16, 0);
    v.cpu.gpr[6] = 0xFFFF_0000;
    v.cpu.mmu.phys.write(DATA, &0xBEEFu16.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 2, &K_DATA.to_le_bytes());
    let code = asm(16, |a| a.lds(si, ptr(DATA as u32)));
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[6], 0xFFFF_BEEF);
    assert_eq!(v.cpu.seg[SegReg::Ds as usize].selector, K_DATA);
    // 64-bit: LSS RSP, m16:64.
    let mut v = pm(64, 0);
    v.cpu
        .mmu
        .phys
        .write(DATA, &0x0000_0001_0000_7000u64.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 8, &LAST_DATA.to_le_bytes());
    let code = asm(64, |a| a.lss(rsp, ptr(DATA)));
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[4], 0x0000_0001_0000_7000);
    assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector, LAST_DATA);
}

#[test]
fn load_far_pointer_faults_commit_nothing() {
    let mut v = pm(32, 0);
    v.cpu.gpr[0] = 0x5555;
    v.cpu.mmu.phys.write(DATA, &0x1122_3344u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 4, &NP_DATA.to_le_bytes());
    let code = asm(32, |a| a.lfs(eax, ptr(DATA as u32)));
    assert_fault(&mut v, &code, Exception::NP(NP_DATA));
    v.cpu.mmu.phys.write(DATA + 4, &(U_DATA | 3).to_le_bytes());
    let code = asm(32, |a| a.lss(eax, ptr(DATA as u32)));
    assert_fault(&mut v, &code, Exception::GP(U_DATA));
}

#[test]
fn real_mode_loads_keep_limit_and_attributes() {
    let mut v = machine(0);
    // "Unreal mode": a 4-GByte DS limit left over from protected mode.
    v.cpu.seg[SegReg::Ds as usize].limit = 0xFFFF_FFFF;
    v.cpu.seg[SegReg::Es as usize].attr |= attr::UNUSABLE;
    v.cpu.gpr[1] = 0x1_0000;
    let code = asm(16, |a| {
        a.mov(ax, 0x1234)?;
        a.mov(ds, ax)?;
        a.mov(es, ax)?;
        a.mov(ebx, dword_ptr(ecx))
    });
    v.cpu
        .mmu
        .phys
        .write(0x12340 + 0x10000, &0xABCD_0123u32.to_le_bytes());
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    let dseg = v.cpu.seg[SegReg::Ds as usize];
    assert_eq!(
        (dseg.selector, dseg.base, dseg.limit),
        (0x1234, 0x12340, 0xFFFF_FFFF)
    );
    assert!(!v.cpu.seg[SegReg::Es as usize].unusable());
    assert_eq!(v.cpu.gpr[3], 0xABCD_0123);
}

#[test]
fn virtual_8086_loads_set_limit_and_attributes() {
    let mut v = machine(0);
    v.cpu.ctrl.cr0 |= 1;
    v.cpu.rflags |= Rflags::VM.bits();
    for s in v.cpu.seg.iter_mut() {
        *s = Segment {
            selector: 0,
            base: 0,
            limit: 0xFFFF,
            attr: 0xF3,
        };
    }
    v.cpu.seg[SegReg::Ds as usize].limit = 0xF_FFFF;
    let code = asm(16, |a| {
        a.mov(ax, 0x0040)?;
        a.mov(ds, ax)
    });
    assert_eq!(go(&mut v, &code, 2), Exit::InstructionLimit);
    assert_eq!(
        v.cpu.seg[SegReg::Ds as usize],
        Segment {
            selector: 0x40,
            base: 0x400,
            limit: 0xFFFF,
            attr: 0xF3,
        }
    );
}

// ---------------------------------------------------------------------
// Far JMP, CALL, RET
// ---------------------------------------------------------------------

#[test]
fn real_mode_far_jmp_call_and_retf() {
    let mut v = machine(0);
    // JMP 0200:0010 -> linear 0x2010; there CALL FAR 0300:0004 ->
    // linear 0x3004, which returns with RETF 2.
    let code = asm(16, |a| {
        a.push(0x7777)?;
        jmp_far(a, 0x0200, 0x0010)
    });
    code_at(&mut v, 16, 0x0010, 0x2010, |a| {
        call_far(a, 0x0300, 0x0004)?;
        a.mov(bx, 0x4242)?;
        a.hlt()
    });
    code_at(&mut v, 16, 0x0004, 0x3004, |a| {
        a.mov(ax, word_ptr(0))?; // dummy read through DS (base 0)
        a.retf_1(2)
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    let cseg = v.cpu.seg[SegReg::Cs as usize];
    assert_eq!((cseg.selector, cseg.base), (0x0200, 0x2000));
    assert_eq!(cseg.limit, 0xFFFF);
    assert_eq!(v.cpu.gpr[3] & 0xFFFF, 0x4242);
    // CALL pushed CS (0x0200) then IP (0x0015); RETF 2 dropped the 0x7777.
    assert_eq!(v.cpu.mmu.phys.read_u16(STACK - 4), 0x0200);
    assert_eq!(v.cpu.mmu.phys.read_u16(STACK - 6), 0x0015);
    assert_eq!(v.cpu.gpr[4], STACK);
    // A 32-bit far JMP beyond the (unchanged) CS limit is #GP(0).
    let mut v = machine(0);
    let code = asm(16, |a| {
        a.add_instruction(Instruction::with_far_branch(
            Code::Jmp_ptr1632,
            0,
            0x1_0000,
        )?)
    });
    assert_fault(&mut v, &code, Exception::GP(0));
}

#[test]
fn far_jmp_to_code_segments_in_protected_mode() {
    // To a non-conforming DPL 0 segment at CPL 0.
    let mut v = pm(32, 0);
    let code = asm(32, |a| jmp_far(a, K_CODE, 0x2000));
    code_at(&mut v, 32, 0x2000, 0x2000, |a| a.hlt());
    v.cpu.seg[SegReg::Cs as usize] = cache(&v, CONF_CODE);
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, K_CODE);
    assert_eq!(v.cpu.rip, 0x2001);
    // To a conforming DPL 0 segment from CPL 3: CPL stays 3.
    let mut v = pm(32, 3);
    let code = asm(32, |a| jmp_far(a, CONF_CODE, 0x2000));
    code_at(&mut v, 32, 0x2000, 0x2000, |a| a.nop());
    assert_eq!(go(&mut v, &code, 2), Exit::InstructionLimit);
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, CONF_CODE | 3);
    assert_eq!(v.cpu.cpl(), 3);
    assert_eq!(v.cpu.rip, 0x2001);
}

#[test]
fn far_jmp_faults() {
    let cases: [(u8, u16, u32, Exception); 11] = [
        (0, 0, 0, Exception::GP(0)),
        (0, 0x100, 0, Exception::GP(0x100)),
        // Non-conforming: RPL > CPL, DPL != CPL.
        (0, K_CODE | 3, 0, Exception::GP(K_CODE)),
        (3, K_CODE | 3, 0, Exception::GP(K_CODE)),
        (0, U_CODE, 0, Exception::GP(U_CODE)),
        // Conforming with DPL > CPL.
        (0, CONF_CODE3, 0, Exception::GP(CONF_CODE3)),
        (0, NP_CODE, 0, Exception::NP(NP_CODE)),
        (0, K_DATA, 0, Exception::GP(K_DATA)),
        // Offset beyond the new CS limit.
        (0, SMALL_CODE, 0x1_0000, Exception::GP(0)),
        // No task switching: task gates and TSS descriptors.
        (0, TASK_GATE, 0, Exception::GP(TASK_GATE)),
        (0, TSS32, 0, Exception::GP(TSS32)),
    ];
    for (cpl, sel, off, e) in cases {
        let mut v = pm(32, cpl);
        let code = asm(32, |a| jmp_far(a, sel, off));
        assert_fault(&mut v, &code, e);
    }
    // In IA-32e mode a code descriptor with L = D = 1 is #GP(selector).
    let mut v = pm(64, 0);
    put(&mut v, LAST_DATA, desc(0, 0xFFFFF, CODE_RX, G | L | D));
    v.cpu.mmu.phys.write(DATA, &0x2000u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 4, &LAST_DATA.to_le_bytes());
    let code = asm(64, |a| a.jmp(fword_ptr(DATA)));
    assert_fault(&mut v, &code, Exception::GP(LAST_DATA));
}

#[test]
fn mode_switch_from_16_to_32_bit_code_through_a_far_jmp() {
    let mut v = pm(16, 0);
    assert_eq!(v.cpu.code_bits(), 16);
    let code = asm(16, |a| {
        a.mov(eax, 0x1234_5678)?;
        jmp_far(a, K_CODE, 0x2000)
    });
    code_at(&mut v, 32, 0x2000, 0x2000, |a| {
        a.mov(ebx, 0xDEAD_BEEFu32)?;
        a.push(eax)?;
        a.hlt()
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.code_bits(), 32);
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, K_CODE);
    assert_eq!(v.cpu.gpr[3], 0xDEAD_BEEF);
    // The stack is still the 16-bit one (SS.B = 0): a 4-byte push at SP.
    assert_eq!(v.cpu.gpr[4], STACK - 4);
    assert_eq!(rd32(&v, STACK - 4), 0x1234_5678);
    // And back to 16-bit code with a 16-bit far JMP from 32-bit code.
    let mut v = pm(32, 0);
    let code = asm(32, |a| {
        a.add_instruction(Instruction::with_far_branch(
            Code::Jmp_ptr1616,
            K_CODE16,
            0x2000,
        )?)
    });
    code_at(&mut v, 16, 0x2000, 0x2000, |a| {
        a.mov(ax, 0x5AA5)?;
        a.hlt()
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.code_bits(), 16);
    assert_eq!(v.cpu.gpr[0] & 0xFFFF, 0x5AA5);
}

#[test]
fn far_call_and_retf_at_the_same_privilege() {
    let mut v = pm(32, 0);
    v.cpu.mmu.phys.write(STACK - 4, &u32::MAX.to_le_bytes());
    let code = asm(32, |a| {
        a.push(0x1111)?;
        call_far(a, K_CODE, 0x2000)?;
        a.mov(ecx, 7u32)
    });
    code_at(&mut v, 32, 0x2000, 0x2000, |a| {
        a.mov(eax, dword_ptr(esp))?;
        a.mov(ebx, dword_ptr(esp + 4))?;
        a.retf_1(4)
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[0], CODE + 5 + 7, "return EIP");
    assert_eq!(v.cpu.gpr[3], K_CODE as u64, "CS pushed zero-extended");
    assert_eq!(v.cpu.gpr[1], 7);
    assert_eq!(v.cpu.gpr[4], STACK, "RETF 4 dropped the argument");
    // CALL m16:32 through memory, RETF back.
    let mut v = pm(32, 0);
    v.cpu.mmu.phys.write(DATA, &0x2000u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 4, &K_CODE.to_le_bytes());
    let code = asm(32, |a| {
        a.call(fword_ptr(DATA as u32))?;
        a.mov(ecx, 9u32)
    });
    code_at(&mut v, 32, 0x2000, 0x2000, |a| a.retf());
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.gpr[1], 9);
    assert_eq!(v.cpu.gpr[4], STACK);
}

#[test]
fn far_call_faults_commit_nothing() {
    // The second push leaves the expand-up stack segment: #SS(0), with
    // the first push not written and ESP unchanged.
    let mut v = pm(32, 0);
    v.cpu.seg[SegReg::Ss as usize].limit = 0x7FFF;
    v.cpu.gpr[4] = 4;
    let code = asm(32, |a| call_far(a, K_CODE, 0x2000));
    assert_fault(&mut v, &code, Exception::SS(0));
    // The target offset beyond the CS limit: #GP(0) after the stack check.
    let mut v = pm(32, 0);
    let code = asm(32, |a| call_far(a, SMALL_CODE, 0x1_0000));
    assert_fault(&mut v, &code, Exception::GP(0));
    // Not present.
    let mut v = pm(32, 0);
    let code = asm(32, |a| call_far(a, NP_CODE, 0));
    assert_fault(&mut v, &code, Exception::NP(NP_CODE));
}

/// Builds the frame a far CALL from ring 3 would leave on a ring-0
/// stack at `sp`: EIP, CS, `params` words, ESP, SS (4 bytes each).
fn outer_frame(
    v: &mut Vcpu,
    at: u64,
    eip: u32,
    csel: u16,
    params: &[u32],
    outer_sp: u32,
    ssel: u16,
) {
    let mut vals = vec![eip, csel as u32];
    vals.extend_from_slice(params);
    vals.push(outer_sp);
    vals.push(ssel as u32);
    for (k, x) in vals.iter().enumerate() {
        v.cpu.mmu.phys.write(at + 4 * k as u64, &x.to_le_bytes());
    }
}

#[test]
fn retf_to_an_outer_ring_nulls_data_segments() {
    let mut v = pm(32, 0);
    v.cpu.gpr[4] = 0x7000 - 24;
    outer_frame(
        &mut v,
        0x7000 - 24,
        0x2000,
        U_CODE | 3,
        &[1, 2],
        0x6000,
        U_DATA | 3,
    );
    // DS: DPL 0 data -> null. ES: DPL 3 data -> kept. FS: conforming code
    // -> kept. GS: DPL 2 data < CPL 3 -> null.
    v.cpu.seg[SegReg::Es as usize] = cache(&v, U_DATA | 3);
    v.cpu.seg[SegReg::Fs as usize] = cache(&v, CONF_CODE);
    v.cpu.seg[SegReg::Gs as usize] = cache(&v, DATA_DPL2);
    let code = asm(32, |a| a.retf_1(8));
    v.cpu.mmu.phys.write(CODE, &code);
    v.cpu.rip = CODE;
    let ev = v.step();
    assert_eq!(ev.exit, None);
    let t = ev
        .transition
        .expect("a far return to ring 3 is a transition");
    assert_eq!(t.kind, TransitionKind::FarRet);
    assert_eq!((t.cpl_before, t.cpl_after), (0, 3));
    let c = &v.cpu;
    assert_eq!(c.cpl(), 3);
    assert_eq!(c.rip, 0x2000);
    assert_eq!(c.seg[SegReg::Cs as usize].selector, U_CODE | 3);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, U_DATA | 3);
    assert_eq!(c.gpr[4], 0x6000 + 8, "RETF 8 also pops the outer stack");
    let dseg = c.seg[SegReg::Ds as usize];
    assert_eq!(dseg.selector, 0);
    assert!(dseg.unusable());
    assert_eq!(c.seg[SegReg::Gs as usize].selector, 0);
    assert!(c.seg[SegReg::Gs as usize].unusable());
    assert_eq!(c.seg[SegReg::Es as usize].selector, U_DATA | 3);
    assert!(!c.seg[SegReg::Es as usize].unusable());
    assert_eq!(c.seg[SegReg::Fs as usize].selector, CONF_CODE);
    assert!(!c.seg[SegReg::Fs as usize].unusable());
    // The accessed bits of the new CS and SS descriptors were set.
    assert_eq!((get(&v, U_CODE) >> 40) & 0xFF, 0xFB);
    assert_eq!((get(&v, U_DATA) >> 40) & 0xFF, 0xF3);
}

#[test]
fn retf_faults_commit_nothing() {
    let code = asm(32, |a| a.retf());
    let cases: [(u16, u16, Exception); 8] = [
        // Return CS null.
        (0, U_DATA | 3, Exception::GP(0)),
        // SS RPL != CS RPL.
        (U_CODE | 3, U_DATA | 2, Exception::GP(U_DATA)),
        // SS DPL != CS RPL.
        (U_CODE | 3, DATA_DPL2 | 3, Exception::GP(DATA_DPL2)),
        // SS read-only.
        (U_CODE | 3, RO_DATA | 3, Exception::GP(RO_DATA)),
        // Null SS outside IA-32e mode.
        (U_CODE | 3, 3, Exception::GP(0)),
        // SS not present (DPL 0, so returning to ring 0 is not outer:
        // make it DPL 3 below).
        (U_CODE | 3, NP_DATA | 3, Exception::SS(NP_DATA)),
        // Non-conforming CS with DPL != RPL.
        (K_CODE | 3, U_DATA | 3, Exception::GP(K_CODE)),
        // Return CS not present.
        (NP_CODE, K_DATA, Exception::NP(NP_CODE)),
    ];
    for (csel, ssel, e) in cases {
        let mut v = pm(32, 0);
        put(
            &mut v,
            NP_DATA,
            desc(0, 0xFFFFF, dpl(DATA_RW, 3) & !P, G | D),
        );
        v.cpu.gpr[4] = 0x6000;
        outer_frame(&mut v, 0x6000, 0x2000, csel, &[], 0x5000, ssel);
        assert_fault(&mut v, &code, e);
    }
    // Returning to a more privileged ring (RPL < CPL).
    let mut v = pm(32, 3);
    v.cpu.gpr[4] = 0x6000;
    outer_frame(&mut v, 0x6000, 0x2000, K_CODE, &[], 0x5000, K_DATA);
    assert_fault(&mut v, &code, Exception::GP(K_CODE));
    // Conforming CS with DPL > RPL.
    let mut v = pm(32, 0);
    v.cpu.gpr[4] = 0x6000;
    outer_frame(&mut v, 0x6000, 0x2000, CONF_CODE3, &[], 0x5000, K_DATA);
    assert_fault(&mut v, &code, Exception::GP(CONF_CODE3));
    // Return EIP beyond the CS limit.
    let mut v = pm(32, 0);
    v.cpu.gpr[4] = 0x6000;
    outer_frame(&mut v, 0x6000, 0x1_0000, SMALL_CODE, &[], 0, 0);
    assert_fault(&mut v, &code, Exception::GP(0));
    // The stack top beyond the SS limit: #SS(0).
    let mut v = pm(32, 0);
    v.cpu.seg[SegReg::Ss as usize].limit = 0x6003;
    v.cpu.gpr[4] = 0x6000;
    assert_fault(&mut v, &code, Exception::SS(0));
}

#[test]
fn far_return_from_64_bit_mode_to_compatibility_mode() {
    let mut v = pm(64, 0);
    let code = asm(64, |a| {
        a.push(K_CODE as i32)?;
        a.push(0x2000)?;
        a.retf()
    });
    code_at(&mut v, 32, 0x2000, 0x2000, |a| {
        a.mov(eax, 0x600D_C0DE)?;
        a.hlt()
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.mode(), Mode::Compatibility);
    assert_eq!(v.cpu.code_bits(), 32);
    assert_eq!(v.cpu.gpr[0], 0x600D_C0DE);
    assert_eq!(v.cpu.gpr[4], STACK);
    // RETFD (32-bit pops) from 64-bit mode, then back to 64-bit mode with
    // a far JMP m16:32 from compatibility mode.
    let mut v = pm(64, 0);
    v.cpu.mmu.phys.write(DATA, &0x2100u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 4, &K_CODE64.to_le_bytes());
    let code = asm(64, |a| {
        a.sub(rsp, 8)?;
        a.mov(dword_ptr(rsp), 0x2000)?;
        a.mov(dword_ptr(rsp + 4), K_CODE as i32)?;
        a.db(&[0xCB])
    });
    code_at(&mut v, 32, 0x2000, 0x2000, |a| {
        a.jmp(fword_ptr(DATA as u32))
    });
    code_at(&mut v, 64, 0x2100, 0x2100, |a| {
        a.mov(rax, 0x1_0000_0000u64)?;
        a.hlt()
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.mode(), Mode::Long64);
    assert_eq!(v.cpu.gpr[0], 0x1_0000_0000);
    assert_eq!(v.cpu.gpr[4], STACK);
}

#[test]
fn far_return_in_ia32e_mode_to_outer_rings() {
    // RETFQ to ring 3 64-bit code with SS:RSP from the stack.
    let mut v = pm(64, 0);
    v.cpu.gpr[4] = 0x6000;
    for (k, x) in [
        0x2000u64,
        (U_CODE64 | 3) as u64,
        0x5000,
        (U_DATA | 3) as u64,
    ]
    .iter()
    .enumerate()
    {
        v.cpu
            .mmu
            .phys
            .write(0x6000 + 8 * k as u64, &x.to_le_bytes());
    }
    let code = asm(64, |a| a.retf());
    assert_eq!(go(&mut v, &code, 1), Exit::InstructionLimit);
    assert_eq!(v.cpu.cpl(), 3);
    assert_eq!(v.cpu.mode(), Mode::Long64);
    assert_eq!(v.cpu.gpr[4], 0x5000);
    assert_eq!(v.cpu.seg[SegReg::Ss as usize].selector, U_DATA | 3);
    // DS (DPL 0 data) is nulled.
    assert_eq!(v.cpu.seg[SegReg::Ds as usize].selector, 0);
    // A null SS is allowed for a return to ring 1 64-bit code...
    let mut v = pm(64, 0);
    v.cpu.gpr[4] = 0x6000;
    for (k, x) in [0x2000u64, (CODE64_DPL1 | 1) as u64, 0x5000, 1]
        .iter()
        .enumerate()
    {
        v.cpu
            .mmu
            .phys
            .write(0x6000 + 8 * k as u64, &x.to_le_bytes());
    }
    assert_eq!(go(&mut v, &code, 1), Exit::InstructionLimit);
    assert_eq!(v.cpu.cpl(), 1);
    assert!(v.cpu.seg[SegReg::Ss as usize].unusable());
    assert_eq!(v.cpu.seg[SegReg::Ss as usize].dpl(), 1);
    // ...but not to ring 3, nor to compatibility mode.
    for (csel, ssel) in [(U_CODE64 | 3, 3u64), (U_CODE | 3, 3)] {
        let mut v = pm(64, 0);
        v.cpu.gpr[4] = 0x6000;
        for (k, x) in [0x2000u64, csel as u64, 0x5000, ssel].iter().enumerate() {
            v.cpu
                .mmu
                .phys
                .write(0x6000 + 8 * k as u64, &x.to_le_bytes());
        }
        assert_fault(&mut v, &code, Exception::GP(0));
    }
    // A non-canonical return RIP is #GP(0).
    let mut v = pm(64, 0);
    v.cpu.gpr[4] = 0x6000;
    v.cpu
        .mmu
        .phys
        .write(0x6000, &0x0000_8000_0000_0000u64.to_le_bytes());
    v.cpu
        .mmu
        .phys
        .write(0x6008, &(K_CODE64 as u64).to_le_bytes());
    assert_fault(&mut v, &code, Exception::GP(0));
}

// ---------------------------------------------------------------------
// Call gates
// ---------------------------------------------------------------------

#[test]
fn call_gate_to_ring_0_switches_stacks_and_copies_parameters() {
    let mut v = pm(32, 3);
    v.cpu.gpr[4] = 0x6000;
    let code = asm(32, |a| {
        a.push(0x1111)?;
        a.push(0x2222)?;
        call_far(a, GATE32 | 3, 0xDEAD)?; // the offset is ignored
        a.mov(edi, 0x77u32)
    });
    code_at(&mut v, 32, GATE_TARGET as u64, GATE_TARGET as u64, |a| {
        a.mov(eax, dword_ptr(esp + 8))?;
        a.mov(ebx, dword_ptr(esp + 12))?;
        a.retf_1(8)
    });
    assert_eq!(go(&mut v, &code, 3), Exit::InstructionLimit);
    let c = &v.cpu;
    assert_eq!(c.cpl(), 0);
    assert_eq!(c.rip, GATE_TARGET as u64);
    assert_eq!(c.seg[SegReg::Cs as usize].selector, K_CODE);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, K_DATA);
    // New stack from TSS.ESP0 = 0x7000: EIP, CS, 2 params, ESP, SS.
    assert_eq!(c.gpr[4], 0x7000 - 24);
    let frame: Vec<u32> = (0..6).map(|k| rd32(&v, 0x7000 - 24 + 4 * k)).collect();
    let ret = (CODE + 5 + 5 + 7) as u32;
    assert_eq!(
        frame,
        [
            ret,
            (U_CODE | 3) as u32,
            0x2222,
            0x1111,
            0x5FF8,
            (U_DATA | 3) as u32
        ]
    );
    // The handler reads its parameters and returns to ring 3.
    assert_eq!(v.run(Limit::instructions(4)), Exit::InstructionLimit);
    let c = &v.cpu;
    assert_eq!((c.gpr[0], c.gpr[3]), (0x2222, 0x1111));
    assert_eq!(c.cpl(), 3);
    assert_eq!(c.gpr[4], 0x6000, "RETF 8 removed the parameters");
    assert_eq!(c.gpr[7], 0x77);
}

#[test]
fn call_gate_transition_event() {
    let mut v = pm(32, 3);
    v.cpu.gpr[4] = 0x6000;
    let code = asm(32, |a| call_far(a, GATE32 | 3, 0));
    v.cpu.mmu.phys.write(CODE, &code);
    v.cpu.rip = CODE;
    let ev = v.step();
    let t = ev.transition.expect("transition");
    assert_eq!(t.kind, TransitionKind::FarCall);
    assert!(t.stack_switched);
    assert_eq!((t.cpl_before, t.cpl_after), (3, 0));
    assert_eq!(t.stack_after.selector, K_DATA);
    assert_eq!(t.stack_after.offset, 0x7000 - 24);
}

#[test]
fn call_gate_faults() {
    let probe = asm(32, |a| call_far(a, GATE32 | 3, 0));
    // Gate DPL < CPL.
    let mut v = pm(32, 3);
    put(&mut v, GATE32, gate(K_CODE, GATE_TARGET, 0xC, 0, 2));
    assert_fault(&mut v, &probe, Exception::GP(GATE32));
    // Gate DPL < RPL.
    let mut v = pm(32, 0);
    put(&mut v, GATE32, gate(K_CODE, GATE_TARGET, 0xC, 2, 2));
    assert_fault(&mut v, &probe, Exception::GP(GATE32));
    // Gate not present.
    let mut v = pm(32, 3);
    put(
        &mut v,
        GATE32,
        gate(K_CODE, GATE_TARGET, 0xC, 3, 2) & !(1 << 47),
    );
    assert_fault(&mut v, &probe, Exception::NP(GATE32));
    // Null code selector in the gate.
    let mut v = pm(32, 3);
    put(&mut v, GATE32, gate(0, GATE_TARGET, 0xC, 3, 2));
    assert_fault(&mut v, &probe, Exception::GP(0));
    // Gate to a data segment.
    let mut v = pm(32, 3);
    put(&mut v, GATE32, gate(K_DATA, GATE_TARGET, 0xC, 3, 2));
    assert_fault(&mut v, &probe, Exception::GP(K_DATA));
    // Code segment not present.
    let mut v = pm(32, 3);
    put(&mut v, GATE32, gate(NP_CODE, GATE_TARGET, 0xC, 3, 2));
    assert_fault(&mut v, &probe, Exception::NP(NP_CODE));
    // TSS too short for SS0:ESP0.
    let mut v = pm(32, 3);
    v.cpu.tr.limit = 8;
    assert_fault(&mut v, &probe, Exception::TS(TSS32));
    // SS0 a read-only segment: #TS(SS0).
    let mut v = pm(32, 3);
    v.cpu
        .mmu
        .phys
        .write(TSS + 8, &(RO_DATA as u32).to_le_bytes());
    assert_fault(&mut v, &probe, Exception::TS(RO_DATA));
    // SS0 null: #TS(0).
    let mut v = pm(32, 3);
    v.cpu.mmu.phys.write(TSS + 8, &0u32.to_le_bytes());
    assert_fault(&mut v, &probe, Exception::TS(0));
    // The new stack beyond the limit of SS0: #SS(SS0).
    let mut v = pm(32, 3);
    v.cpu.mmu.phys.write(TSS + 4, &0x2000u32.to_le_bytes());
    v.cpu
        .mmu
        .phys
        .write(TSS + 8, &(BYTE_DATA as u32).to_le_bytes());
    assert_fault(&mut v, &probe, Exception::SS(BYTE_DATA));
    // A parameter beyond the caller's stack limit: #SS(0).
    let mut v = pm(32, 3);
    v.cpu.seg[SegReg::Ss as usize].limit = 0x6003;
    v.cpu.gpr[4] = 0x6000;
    assert_fault(&mut v, &probe, Exception::SS(0));
}

#[test]
fn jmp_through_a_call_gate_keeps_the_privilege_level() {
    // CPL 0, gate DPL 3 to non-conforming DPL 0 code: allowed.
    let mut v = pm(32, 0);
    let code = asm(32, |a| jmp_far(a, GATE32, 0));
    code_at(&mut v, 32, GATE_TARGET as u64, GATE_TARGET as u64, |a| {
        a.hlt()
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.seg[SegReg::Cs as usize].selector, K_CODE);
    assert_eq!(v.cpu.gpr[4], STACK, "JMP pushes nothing");
    // CPL 3: the target's DPL 0 != CPL 3.
    let mut v = pm(32, 3);
    let code = asm(32, |a| jmp_far(a, GATE32 | 3, 0));
    assert_fault(&mut v, &code, Exception::GP(K_CODE));
}

#[test]
fn same_privilege_call_through_a_16_bit_gate() {
    let mut v = pm(32, 0);
    put(&mut v, GATE32, gate(K_CODE, GATE_TARGET, 0x4, 0, 0));
    let code = asm(32, |a| call_far(a, GATE32, 0));
    code_at(&mut v, 32, GATE_TARGET as u64, GATE_TARGET as u64, |a| {
        a.hlt()
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    // A 16-bit gate pushes CS and IP as words on the current stack.
    assert_eq!(v.cpu.gpr[4], STACK - 4);
    assert_eq!(v.cpu.mmu.phys.read_u16(STACK - 2), K_CODE);
    assert_eq!(v.cpu.mmu.phys.read_u16(STACK - 4), (CODE + 7) as u16);
}

#[test]
fn call_gate_64_from_ring_3_and_back() {
    let mut v = pm(64, 3);
    v.cpu.gpr[4] = 0x6000;
    v.cpu.gpr[3] = DATA;
    let code = asm(64, |a| {
        a.call(fword_ptr(rbx))?;
        a.mov(esi, 0x99u32)
    });
    v.cpu.mmu.phys.write(DATA, &0u32.to_le_bytes());
    v.cpu.mmu.phys.write(DATA + 4, &(GATE64 | 3).to_le_bytes());
    code_at(&mut v, 64, GATE64_TARGET, GATE64_TARGET, |a| {
        a.mov(rax, qword_ptr(rsp + 16))?;
        a.retf()
    });
    assert_eq!(go(&mut v, &code, 1), Exit::InstructionLimit);
    let c = &v.cpu;
    assert_eq!(c.cpl(), 0);
    assert_eq!(c.rip, GATE64_TARGET);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, 0, "null SS, RPL = 0");
    assert!(c.seg[SegReg::Ss as usize].unusable());
    assert_eq!(c.gpr[4], 0x7000 - 32);
    let frame: Vec<u64> = (0..4).map(|k| rd64(&v, 0x7000 - 32 + 8 * k)).collect();
    let ret = CODE + 2;
    assert_eq!(
        frame,
        [ret, (U_CODE64 | 3) as u64, 0x6000, (U_DATA | 3) as u64]
    );
    assert_eq!(v.run(Limit::instructions(3)), Exit::InstructionLimit);
    let c = &v.cpu;
    assert_eq!(c.gpr[0], 0x6000);
    assert_eq!(c.cpl(), 3);
    assert_eq!(c.gpr[4], 0x6000);
    assert_eq!(c.seg[SegReg::Ss as usize].selector, U_DATA | 3);
    assert_eq!(c.gpr[6], 0x99);
}

#[test]
fn call_gate_64_from_compatibility_mode() {
    let mut v = pm(64, 3);
    v.cpu.seg[SegReg::Cs as usize] = cache(&v, U_CODE | 3);
    v.cpu.gpr[4] = 0x6000;
    let code = asm(32, |a| call_far(a, GATE64 | 3, 0));
    code_at(&mut v, 64, GATE64_TARGET, GATE64_TARGET, |a| a.nop());
    assert_eq!(go(&mut v, &code, 1), Exit::InstructionLimit);
    assert_eq!(v.cpu.mode(), Mode::Long64);
    assert_eq!(v.cpu.cpl(), 0);
    let frame: Vec<u64> = (0..4).map(|k| rd64(&v, 0x7000 - 32 + 8 * k)).collect();
    assert_eq!(
        frame,
        [CODE + 7, (U_CODE | 3) as u64, 0x6000, (U_DATA | 3) as u64]
    );
    // In IA-32e mode a gate must lead to 64-bit code.
    let mut v = pm(64, 3);
    let [lo, hi] = gate64(K_CODE, GATE64_TARGET, 3);
    put(&mut v, GATE64, lo);
    put(&mut v, GATE64 + 8, hi);
    v.cpu.seg[SegReg::Cs as usize] = cache(&v, U_CODE | 3);
    assert_fault(&mut v, &code, Exception::GP(K_CODE));
    // A 32-bit gate (no upper half) in IA-32e mode: the upper type field
    // (here the next descriptor) is not 0.
    let mut v = pm(64, 3);
    v.cpu.seg[SegReg::Cs as usize] = cache(&v, U_CODE | 3);
    let code = asm(32, |a| call_far(a, GATE32 | 3, 0));
    assert_fault(&mut v, &code, Exception::GP(GATE32));
}

// ---------------------------------------------------------------------
// LGDT, LIDT, SGDT, SIDT, LLDT, SLDT, LTR, STR
// ---------------------------------------------------------------------

#[test]
fn lgdt_lidt_in_every_operand_size() {
    let mut v = pm(32, 0);
    v.cpu
        .mmu
        .phys
        .write(DATA, &[0x34, 0x12, 0xEF, 0xCD, 0xAB, 0x89]);
    let code = asm(32, |a| {
        a.lgdt(ptr(DATA as u32))?;
        a.db(&[0x66, 0x0F, 0x01, 0x1D])?; // o16 lidt [disp32]
        a.db(&(DATA as u32).to_le_bytes())
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(
        v.cpu.gdtr,
        DescriptorTable {
            base: 0x89AB_CDEF,
            limit: 0x1234
        }
    );
    assert_eq!(
        v.cpu.idtr,
        DescriptorTable {
            base: 0xAB_CDEF,
            limit: 0x1234
        }
    );
    // Real mode: 16-bit operand size by default.
    let mut v = machine(0);
    v.cpu
        .mmu
        .phys
        .write(DATA, &[0xFF, 0x03, 0x00, 0x10, 0x02, 0x99]);
    let code = asm(16, |a| a.lidt(ptr(DATA as u32)));
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(
        v.cpu.idtr,
        DescriptorTable {
            base: 0x02_1000,
            limit: 0x3FF
        }
    );
    // 64-bit mode: an 8-byte base.
    let mut v = pm(64, 0);
    v.cpu.mmu.phys.write(DATA, &0x0FFFu16.to_le_bytes());
    v.cpu
        .mmu
        .phys
        .write(DATA + 2, &0xFFFF_8000_0000_2000u64.to_le_bytes());
    let code = asm(64, |a| a.lgdt(ptr(DATA)));
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(
        v.cpu.gdtr,
        DescriptorTable {
            base: 0xFFFF_8000_0000_2000,
            limit: 0xFFF
        }
    );
    // A non-canonical base is #GP(0).
    let mut v = pm(64, 0);
    v.cpu
        .mmu
        .phys
        .write(DATA + 2, &0x0000_8000_0000_0000u64.to_le_bytes());
    assert_fault(&mut v, &code, Exception::GP(0));
    // CPL 3: #GP(0).
    let mut v = pm(32, 3);
    assert_fault(
        &mut v,
        &asm(32, |a| a.lidt(ptr(DATA as u32))),
        Exception::GP(0),
    );
}

#[test]
fn sgdt_sidt_and_umip() {
    let mut v = pm(64, 3);
    v.cpu.idtr = DescriptorTable {
        base: 0xFFFF_FE00_0000_0000,
        limit: 0xFFF,
    };
    let code = asm(64, |a| {
        a.sgdt(ptr(DATA))?;
        a.sidt(ptr(DATA + 16))
    });
    assert_eq!(go(&mut v, &code, 2), Exit::InstructionLimit);
    assert_eq!(v.cpu.mmu.phys.read_u16(DATA), GDT_LIMIT);
    assert_eq!(rd64(&v, DATA + 2), GDT);
    assert_eq!(v.cpu.mmu.phys.read_u16(DATA + 16), 0xFFF);
    assert_eq!(rd64(&v, DATA + 18), 0xFFFF_FE00_0000_0000);
    // 32-bit: a 4-byte base, the bytes after it untouched.
    let mut v = pm(32, 0);
    v.cpu.mmu.phys.write(DATA, &[0xEE; 8]);
    assert_eq!(
        go(&mut v, &asm(32, |a| a.sgdt(ptr(DATA as u32))), 100),
        Exit::Hlt
    );
    assert_eq!(v.cpu.mmu.phys.read_u16(DATA), GDT_LIMIT);
    assert_eq!(rd32(&v, DATA + 2), GDT as u32);
    assert_eq!(v.cpu.mmu.phys.read_u16(DATA + 6), 0xEEEE);
    // CR4.UMIP at CPL 3: #GP(0).
    let mut v = pm(32, 3);
    v.cpu.ctrl.cr4 |= Cr4::UMIP.bits();
    assert_fault(
        &mut v,
        &asm(32, |a| a.sgdt(ptr(DATA as u32))),
        Exception::GP(0),
    );
    assert_fault(&mut v, &asm(32, |a| a.str(eax)), Exception::GP(0));
}

#[test]
fn lldt_then_ldt_selectors_load() {
    let mut v = pm(32, 0);
    put_ldt(&mut v, 0x08, desc(0x5000, 0xFF, DATA_RW, 0));
    let code = asm(32, |a| {
        a.mov(eax, LDT_SEL as u32)?;
        a.lldt(ax)?;
        a.mov(ebx, 0x0Cu32)?;
        a.mov(es, bx)?;
        a.sldt(ecx)
    });
    v.cpu.gpr[1] = u64::MAX;
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.ldtr.selector, LDT_SEL);
    assert_eq!((v.cpu.ldtr.base, v.cpu.ldtr.limit), (LDT, 0xFF));
    let eseg = v.cpu.seg[SegReg::Es as usize];
    assert_eq!((eseg.selector, eseg.base, eseg.limit), (0x0C, 0x5000, 0xFF));
    // The LDT descriptor's accessed bit is set in the LDT.
    assert_eq!(v.cpu.mmu.phys.read_u8(LDT + 8 + 5), 0x93);
    assert_eq!(v.cpu.gpr[1], LDT_SEL as u64, "SLDT r32 zero-extends");
    // Beyond the LDT limit: #GP(selector).
    v.cpu.gpr[3] = 0x0104;
    assert_fault(&mut v, &asm(32, |a| a.mov(ds, bx)), Exception::GP(0x0104));
    // LLDT 0 makes the LDT unusable.
    let code = asm(32, |a| {
        a.xor(eax, eax)?;
        a.lldt(ax)
    });
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert!(v.cpu.ldtr.unusable());
    v.cpu.gpr[3] = 0x0C;
    assert_fault(&mut v, &asm(32, |a| a.mov(ds, bx)), Exception::GP(0x0C));
}

#[test]
fn lldt_faults() {
    let probe = asm(32, |a| a.lldt(ax));
    for (cpl, sel, e) in [
        (3, LDT_SEL, Exception::GP(0)),
        (0, LDT_SEL | 4, Exception::GP(LDT_SEL | 4)),
        (0, TSS32, Exception::GP(TSS32)),
        (0, K_DATA, Exception::GP(K_DATA)),
        (0, 0x100, Exception::GP(0x100)),
    ] {
        let mut v = pm(32, cpl);
        v.cpu.gpr[0] = sel as u64;
        assert_fault(&mut v, &probe, e);
    }
    let mut v = pm(32, 0);
    put(&mut v, LAST_DATA, desc(LDT as u32, 0xFF, 0x2, 0));
    v.cpu.gpr[0] = LAST_DATA as u64;
    assert_fault(&mut v, &probe, Exception::NP(LAST_DATA));
    // Real mode: #UD.
    let mut v = machine(0);
    assert_fault(&mut v, &asm(16, |a| a.lldt(ax)), Exception::UD);
    assert_fault(&mut v, &asm(16, |a| a.sldt(ax)), Exception::UD);
}

#[test]
fn lldt_and_ltr_read_16_byte_descriptors_in_ia32e_mode() {
    let mut v = pm(64, 0);
    let [lo, hi] = sys64(0x0000_7FFF_0002_1000, 0xFF, 0x2);
    put(&mut v, LDT64, lo);
    put(&mut v, LDT64 + 8, hi);
    let code = asm(64, |a| {
        a.mov(eax, LDT64 as u32)?;
        a.lldt(ax)?;
        a.mov(eax, TSS64 as u32)?;
        a.ltr(ax)?;
        a.str(rcx)
    });
    v.cpu.gpr[1] = u64::MAX;
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.ldtr.base, 0x0000_7FFF_0002_1000);
    assert_eq!(v.cpu.tr.selector, TSS64);
    assert_eq!(v.cpu.tr.base, TSS);
    assert_eq!(v.cpu.tr.attr & 0xF, 0xB, "busy");
    assert_eq!((get(&v, TSS64) >> 40) & 0xF, 0xB, "busy in the GDT");
    assert_eq!(v.cpu.gpr[1], TSS64 as u64);
    // A 16-byte descriptor whose upper type field is not 0.
    let mut v = pm(64, 0);
    put(&mut v, LDT64 + 8, 0x0000_0F00_0000_0000);
    v.cpu.gpr[0] = LDT64 as u64;
    assert_fault(&mut v, &asm(64, |a| a.lldt(ax)), Exception::GP(LDT64));
    // The upper half beyond the GDT limit.
    let mut v = pm(64, 0);
    put(&mut v, LAST_DATA, desc(LDT as u32, 0xFF, P | 0x2, 0));
    v.cpu.gpr[0] = LAST_DATA as u64;
    assert_fault(&mut v, &asm(64, |a| a.lldt(ax)), Exception::GP(LAST_DATA));
    // A 32-bit TSS type 1 (16-bit TSS) is not available in IA-32e mode.
    let mut v = pm(64, 0);
    let [lo, hi] = sys64(TSS, 0x67, 0x1);
    put(&mut v, TSS64, lo);
    put(&mut v, TSS64 + 8, hi);
    v.cpu.gpr[0] = TSS64 as u64;
    assert_fault(&mut v, &asm(64, |a| a.ltr(ax)), Exception::GP(TSS64));
}

#[test]
fn ltr_marks_the_tss_busy() {
    let mut v = pm(32, 0);
    let code = asm(32, |a| {
        a.mov(eax, TSS32 as u32)?;
        a.ltr(ax)?;
        a.str(bx)
    });
    v.cpu.gpr[3] = 0xFFFF_FFFF;
    assert_eq!(go(&mut v, &code, 100), Exit::Hlt);
    assert_eq!(v.cpu.tr.selector, TSS32);
    assert_eq!((v.cpu.tr.base, v.cpu.tr.limit), (TSS, 0x67));
    assert_eq!(v.cpu.tr.attr, 0x8B);
    assert_eq!((get(&v, TSS32) >> 40) & 0xFF, 0x8B);
    assert_eq!(v.cpu.gpr[3], 0xFFFF_0000 | TSS32 as u64, "STR r16 merges");
    // Loading it again: busy is not available.
    v.cpu.gpr[0] = TSS32 as u64;
    assert_fault(&mut v, &asm(32, |a| a.ltr(ax)), Exception::GP(TSS32));
    for (cpl, sel, e) in [
        (0, 0, Exception::GP(0)),
        (3, TSS32, Exception::GP(0)),
        (0, LDT_SEL, Exception::GP(LDT_SEL)),
        (0, TSS32 | 4, Exception::GP(TSS32 | 4)),
    ] {
        let mut v = pm(32, cpl);
        v.cpu.gpr[0] = sel as u64;
        assert_fault(&mut v, &asm(32, |a| a.ltr(ax)), e);
    }
    let mut v = pm(32, 0);
    put(&mut v, TSS32, desc(TSS as u32, 0x67, 0x9, 0));
    v.cpu.gpr[0] = TSS32 as u64;
    assert_fault(&mut v, &asm(32, |a| a.ltr(ax)), Exception::NP(TSS32));
}

// ---------------------------------------------------------------------
// LAR, LSL, VERR, VERW
// ---------------------------------------------------------------------

/// Runs one LAR/LSL/VERR/VERW probe with the selector in EBX; returns
/// (ZF, EAX).
fn probe(
    v: &mut Vcpu,
    bits: u32,
    sel: u16,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (bool, u64) {
    v.cpu.gpr[3] = sel as u64;
    v.cpu.gpr[0] = 0xAAAA_AAAA_AAAA_AAAA;
    v.cpu.rflags ^= ZF;
    let code = asm(bits, f);
    assert_eq!(go(v, &code, 1), Exit::InstructionLimit);
    (v.cpu.rflags & ZF != 0, v.cpu.gpr[0])
}

#[test]
fn lar_reports_access_rights() {
    let mut v = pm(32, 3);
    // Flat ring-3 code: high doubleword 0x00CFFA00.
    assert_eq!(
        probe(&mut v, 32, U_CODE | 3, |a| a.lar(eax, ebx)),
        (true, 0x00CF_FA00)
    );
    // 16-bit destination: bits 15:8 only, upper bits kept.
    assert_eq!(
        probe(&mut v, 32, U_DATA | 3, |a| a.lar(ax, bx)),
        (true, 0xAAAA_AAAA_AAAA_F200)
    );
    // DPL 0 from CPL 3: ZF = 0, destination unchanged.
    assert_eq!(
        probe(&mut v, 32, K_CODE, |a| a.lar(eax, ebx)),
        (false, 0xAAAA_AAAA_AAAA_AAAA)
    );
    // Conforming code is visible at any CPL.
    assert!(probe(&mut v, 32, CONF_CODE, |a| a.lar(eax, ebx)).0);
    // A call gate is a valid type; a null or out-of-table selector is not.
    assert_eq!(
        probe(&mut v, 32, GATE32 | 3, |a| a.lar(eax, ebx)),
        (true, 0x0000_EC00)
    );
    assert!(!probe(&mut v, 32, 0, |a| a.lar(eax, ebx)).0);
    assert!(!probe(&mut v, 32, 0x100, |a| a.lar(eax, ebx)).0);
    // 64-bit mode: a 64-bit destination is zero-extended.
    let mut v = pm(64, 0);
    assert_eq!(
        probe(&mut v, 64, K_CODE64, |a| a.lar(rax, rbx)),
        (true, 0x00AF_9A00)
    );
    // The 64-bit call gate is valid, a task gate is not (IA-32e).
    assert!(probe(&mut v, 64, GATE64, |a| a.lar(eax, ebx)).0);
    assert!(!probe(&mut v, 64, TASK_GATE, |a| a.lar(eax, ebx)).0);
    // Real mode: #UD.
    let mut v = machine(0);
    assert_fault(&mut v, &asm(16, |a| a.lar(ax, bx)), Exception::UD);
}

#[test]
fn lsl_reports_scaled_limits() {
    let mut v = pm(32, 0);
    assert_eq!(
        probe(&mut v, 32, K_DATA, |a| a.lsl(eax, ebx)),
        (true, 0xFFFF_FFFF)
    );
    assert_eq!(
        probe(&mut v, 32, BYTE_DATA, |a| a.lsl(eax, ebx)),
        (true, 0xFFF)
    );
    assert_eq!(probe(&mut v, 32, TSS32, |a| a.lsl(eax, ebx)), (true, 0x67));
    assert_eq!(
        probe(&mut v, 32, K_DATA, |a| a.lsl(ax, bx)),
        (true, 0xAAAA_AAAA_AAAA_FFFF)
    );
    // Gates have no limit.
    assert!(!probe(&mut v, 32, GATE32, |a| a.lsl(eax, ebx)).0);
    let mut v = pm(64, 0);
    assert_eq!(probe(&mut v, 64, TSS64, |a| a.lsl(rax, rbx)), (true, 0x67));
}

#[test]
fn verr_and_verw() {
    let mut v = pm(32, 3);
    let verr = |v: &mut Vcpu, sel| probe(v, 32, sel, |a| a.verr(bx)).0;
    let verw = |v: &mut Vcpu, sel| probe(v, 32, sel, |a| a.verw(bx)).0;
    assert!(verr(&mut v, U_DATA | 3));
    assert!(verw(&mut v, U_DATA | 3));
    assert!(verr(&mut v, U_CODE | 3), "readable code");
    assert!(!verw(&mut v, U_CODE | 3), "code is never writable");
    assert!(verr(&mut v, CONF_CODE), "conforming: no DPL check");
    assert!(!verr(&mut v, K_DATA), "DPL 0 at CPL 3");
    assert!(!verr(&mut v, TSS32));
    assert!(!verr(&mut v, 0));
    let mut v = pm(32, 0);
    assert!(!verr(&mut v, XONLY_CODE));
    assert!(verr(&mut v, RO_DATA));
    assert!(!verw(&mut v, RO_DATA));
    assert!(!verw(&mut v, DATA_DPL1 | 2), "RPL 2 > DPL 1");
    assert_eq!(
        v.cpu.gpr[0], 0xAAAA_AAAA_AAAA_AAAA,
        "VERW writes no register"
    );
}

// ---------------------------------------------------------------------
// Implicit supervisor accesses and paging
// ---------------------------------------------------------------------

/// Enables 32-bit paging with 4-KByte pages identity-mapping the first
/// MByte as user pages, except the GDT page: supervisor, read-only.
fn paged(v: &mut Vcpu) {
    const PD: u64 = 0x30000;
    const PT: u64 = 0x31000;
    v.cpu.mmu.phys.write(PD, &((PT | 7) as u32).to_le_bytes());
    for page in 0..256u64 {
        let flags = if page << 12 == GDT { 1 } else { 7 };
        v.cpu.mmu.phys.write(
            PT + 4 * page,
            &(((page << 12) | flags) as u32).to_le_bytes(),
        );
    }
    v.cpu.ctrl.cr3 = PD;
    v.cpu.ctrl.cr0 |= (1 << 31) | (1 << 16); // PG, WP
    v.cpu.mmu.flush_tlb(false);
}

#[test]
fn descriptor_reads_are_implicit_supervisor_accesses() {
    // At CPL 3 the GDT page is supervisor-only, yet MOV DS reads it.
    let mut v = pm(32, 3);
    paged(&mut v);
    put(&mut v, U_DATA, desc(0, 0xFFFFF, dpl(DATA_RW, 3) | 1, G | D));
    v.cpu.gpr[0] = (U_DATA | 3) as u64;
    let probe = asm(32, |a| a.mov(ds, ax));
    assert_eq!(go(&mut v, &probe, 1), Exit::InstructionLimit);
    assert_eq!(v.cpu.seg[SegReg::Ds as usize].selector, U_DATA | 3);
    // Setting the accessed bit writes the read-only GDT page: #PF with a
    // supervisor write error code (P = 1, W = 1, U = 0), nothing loaded.
    put(&mut v, DATA_DPL2, desc(0, 0xFFFFF, dpl(DATA_RW, 3), G | D));
    v.cpu.gpr[0] = (DATA_DPL2 | 3) as u64;
    assert_fault(
        &mut v,
        &probe,
        Exception::PF {
            addr: GDT + DATA_DPL2 as u64 + 5,
            error: 3,
        },
    );
}

// ---------------------------------------------------------------------
// Property: random descriptors never panic; faults commit nothing
// ---------------------------------------------------------------------

/// One probe instruction per segment-loading instruction, with the
/// selector in AX (and at [DATA + 8] for far pointers in memory, at the
/// stack top for RETF and POP).
fn probe_code(bits: u32, which: usize) -> Vec<u8> {
    asm(bits, |a| match (which, bits) {
        (0, _) => a.mov(ds, ax),
        (1, _) => a.mov(ss, ax),
        (2, 64) => a.jmp(fword_ptr(DATA)),
        (2, _) => a.jmp(fword_ptr(DATA as u32)),
        (3, 64) => a.call(tword_ptr(DATA)),
        (3, _) => a.call(fword_ptr(DATA as u32)),
        (4, _) => a.retf_1(8),
        (5, _) => a.lar(eax, eax),
        (6, _) => a.lsl(eax, eax),
        (7, _) => a.verw(ax),
        (8, _) => a.lldt(ax),
        (9, _) => a.ltr(ax),
        (10, 64) => a.lfs(rbx, ptr(DATA)),
        (10, _) => a.lgs(ebx, ptr(DATA as u32)),
        (_, 64) => a.pop(fs),
        _ => a.pop(es),
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn random_descriptors_never_panic_and_faults_commit_nothing(
        lo in proptest::prelude::any::<u64>(),
        hi in proptest::prelude::any::<u64>(),
        sel in proptest::prelude::any::<u16>(),
        user in proptest::prelude::any::<bool>(),
        long in proptest::prelude::any::<bool>(),
        which in 0usize..12,
        stack in proptest::prelude::any::<[u64; 4]>(),
    ) {
        let bits = if long { 64 } else { 32 };
        let mut v = pm(bits, if user { 3 } else { 0 });
        // A random descriptor (and upper half) where the selector points,
        // and at a second slot the selector in the stack frame names.
        put(&mut v, sel & 0xF8, lo);
        put(&mut v, (sel & 0xF8) + 8, hi);
        put_ldt(&mut v, sel & 0xF8, lo);
        v.cpu.ldtr = Descriptor { lo: get(&v, LDT_SEL), hi: 0 }.system_segment(LDT_SEL, false);
        v.cpu.gpr[0] = sel as u64;
        v.cpu.gpr[4] = 0x6000;
        for (k, x) in stack.iter().enumerate() {
            v.cpu.mmu.phys.write(0x6000 + 8 * k as u64, &x.to_le_bytes());
        }
        // The popped/returned selector is `sel` in every stack layout.
        v.cpu.mmu.phys.write(0x6000, &(sel as u64 | (sel as u64) << 32).to_le_bytes());
        v.cpu.mmu.phys.write(0x6008, &(sel as u64).to_le_bytes());
        v.cpu.mmu.phys.write(DATA, &stack[0].to_le_bytes());
        v.cpu.mmu.phys.write(DATA + 4, &(sel as u32).to_le_bytes());
        v.cpu.mmu.phys.write(DATA + 8, &(sel as u64).to_le_bytes());
        let code = probe_code(bits, which);
        v.cpu.mmu.phys.write(CODE, &code);
        v.cpu.rip = CODE;
        let before = snap(&v);
        match v.run(Limit::instructions(1)) {
            Exit::Exception(_) => proptest::prop_assert_eq!(snap(&v), before),
            Exit::InstructionLimit | Exit::Hlt => {}
            other => proptest::prop_assert!(false, "unexpected exit {:?}", other),
        }
    }
}
