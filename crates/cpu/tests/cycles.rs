//! The cycle model end to end: the four kernel-entry round trips with an
//! empty handler (the return instruction only) against the published
//! Skylake measurements (x86.lol, "kernel entry", 2019: `int`+`iretq` 614,
//! call gate + `lretq` 456, `syscall`+`sysretq` 76, `sysenter`+`sysexitq`
//! 73 cycles, each within 10%), INT n dearer than SYSENTER and SYSCALL
//! under every profile, determinism (repeated runs, tracing, runs split by
//! instruction budgets), the dependency model, page-walk charges and the
//! profile names.

use sysgate_cpu::cycles::CycleModel;
use sysgate_cpu::state::attr;
use sysgate_cpu::{
    Cpu, Cr0, Cr4, DescriptorTable, Efer, Exit, Insn, Limit, SegReg, Segment, Tracer, Vcpu, Vendor,
};

// ---------------------------------------------------------------------
// Machines (the layouts of tests/interrupts.rs and tests/fastcall.rs)
// ---------------------------------------------------------------------

const MEM: u64 = 4 << 20;
const GDT: u64 = 0x1000;
const IDT: u64 = 0x2000;
const TSS: u64 = 0x3000;
const UCODE: u64 = 0x1_0000;
const HANDLER: u64 = 0x2_0000;
const KSTACK: u64 = 0x9_0000;
const USTACK: u64 = 0x7_0000;
const FAR_PTR: u64 = 0x6_0000;

const KCODE64: u16 = 0x08;
const KDATA: u16 = 0x10;
const UCODE32: u16 = 0x18;
const UDATA: u16 = 0x20;
const UCODE64: u16 = 0x28;
const TSS64: u16 = 0x30;
const CALL_GATE: u16 = 0x40;

/// A code or data descriptor (SDM Vol. 3 Figure 3-8), accessed bit set.
fn desc(access: u8, flags: u8) -> u64 {
    0xFFFF | ((access as u64) << 40) | (0xF << 48) | ((flags as u64) << 52)
}

/// The low 8 bytes of a gate (SDM Vol. 3 Figures 6-2, 6-8 and 5-9).
fn gate(sel: u16, off: u64, ty: u8, dpl: u8) -> u64 {
    (off & 0xFFFF)
        | ((sel as u64) << 16)
        | (((0x80 | (dpl << 5) | ty) as u64) << 40)
        | (((off >> 16) & 0xFFFF) << 48)
}

fn w64(v: &mut Vcpu, pa: u64, x: u64) {
    v.cpu.mmu.phys.write_u64(pa, x);
}

fn segment(sel: u16, access: u8, flags: u8) -> Segment {
    Segment {
        selector: sel,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: access as u16 | ((flags as u16) << 12),
    }
}

/// IA-32e 64-bit mode at CPL 3 with a GDT, an IDT of 16-byte gates and a
/// 64-bit TSS whose RSP0 is KSTACK; exceptions are delivered.
fn lm64_user() -> Vcpu {
    let mut v = Vcpu::new(MEM, Vendor::Intel);
    for (sel, d) in [
        (KCODE64, desc(0x9B, 0xA)),
        (KDATA, desc(0x93, 0xC)),
        (UCODE32, desc(0xFB, 0xC)),
        (UDATA, desc(0xF3, 0xC)),
        (UCODE64, desc(0xFB, 0xA)),
        (TSS64, (TSS << 16) | 0x67 | (0x89u64 << 40)),
    ] {
        w64(&mut v, GDT + sel as u64, d);
    }
    let c = &mut v.cpu;
    c.ctrl.cr0 |= Cr0::PE.bits();
    c.ctrl.efer |= (Efer::LME | Efer::LMA | Efer::SCE).bits();
    c.gdtr = DescriptorTable {
        base: GDT,
        limit: 0xFF,
    };
    c.idtr = DescriptorTable {
        base: IDT,
        limit: 0xFFF,
    };
    c.ldtr.attr |= attr::UNUSABLE;
    c.tr = Segment {
        selector: TSS64,
        base: TSS,
        limit: 0x67,
        attr: 0x8B,
    };
    c.seg[SegReg::Cs as usize] = segment(UCODE64 | 3, 0xFB, 0xA);
    for r in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        c.seg[r as usize] = segment(UDATA | 3, 0xF3, 0xC);
    }
    c.gpr[4] = USTACK;
    // Linux's STAR layout: SYSRET to UCODE32 + 16 (64-bit), SS + 8.
    c.msr.star = ((UCODE32 as u64) << 48) | ((KCODE64 as u64) << 32);
    c.msr.lstar = HANDLER;
    c.msr.sysenter_cs = KCODE64 as u64;
    c.msr.sysenter_eip = HANDLER;
    c.msr.sysenter_esp = KSTACK;
    w64(&mut v, TSS + 4, KSTACK);
    v.exception_bitmap = 0;
    v
}

/// The cycles of a round trip: `entry` at UCODE (CPL 3) to a handler that
/// is `ret` alone, back to the next user instruction.
fn round_trip(model: CycleModel, entry: &[u8], ret: &[u8], setup: impl Fn(&mut Vcpu)) -> u64 {
    let mut v = lm64_user();
    v.set_model(model);
    setup(&mut v);
    v.cpu.mmu.phys.write(UCODE, entry);
    v.cpu
        .mmu
        .phys
        .write(UCODE + entry.len() as u64, &[0x0F, 0x0B]); // UD2
    v.cpu.mmu.phys.write(HANDLER, ret);
    v.cpu.rip = UCODE;
    assert_eq!(v.run(Limit::instructions(2)), Exit::InstructionLimit);
    assert_eq!(
        v.cpu.rip,
        UCODE + entry.len() as u64,
        "back after the entry"
    );
    assert_eq!(v.cpu.cpl(), 3);
    v.cpu.cycles
}

const INT80: [u8; 2] = [0xCD, 0x80];
const IRETQ: [u8; 2] = [0x48, 0xCF];
const SYSCALL: [u8; 2] = [0x0F, 0x05];
const SYSRETQ: [u8; 3] = [0x48, 0x0F, 0x07];
const SYSENTER: [u8; 2] = [0x0F, 0x34];
const SYSEXITQ: [u8; 3] = [0x48, 0x0F, 0x35];
/// CALL m16:64 through [FAR_PTR] (REX.W FF /3, ModRM 0x1C SIB 0x25 disp32).
const CALL_FAR: [u8; 8] = [0x48, 0xFF, 0x1C, 0x25, 0x00, 0x00, 0x06, 0x00];
const LRETQ: [u8; 2] = [0x48, 0xCB];

fn int80(model: CycleModel) -> u64 {
    round_trip(model, &INT80, &IRETQ, |v| {
        // 64-bit interrupt gate, DPL 3.
        w64(v, IDT + 0x80 * 16, gate(KCODE64, HANDLER, 0xE, 3));
        w64(v, IDT + 0x80 * 16 + 8, 0);
    })
}

fn call_gate(model: CycleModel) -> u64 {
    round_trip(model, &CALL_FAR, &LRETQ, |v| {
        // 64-bit call gate, DPL 3, to the 64-bit kernel code segment.
        w64(v, GDT + CALL_GATE as u64, gate(KCODE64, HANDLER, 0xC, 3));
        w64(v, GDT + CALL_GATE as u64 + 8, 0);
        w64(v, FAR_PTR, 0);
        v.cpu.mmu.phys.write_u16(FAR_PTR + 8, CALL_GATE | 3);
    })
}

fn syscall(model: CycleModel) -> u64 {
    round_trip(model, &SYSCALL, &SYSRETQ, |_| {})
}

fn sysenter(model: CycleModel) -> u64 {
    round_trip(model, &SYSENTER, &SYSEXITQ, |v| {
        // SYSEXIT returns to RDX with RSP = RCX.
        v.cpu.gpr[2] = UCODE + SYSENTER.len() as u64;
        v.cpu.gpr[1] = USTACK;
    })
}

fn within_10_percent(got: u64, published: u64) -> bool {
    got * 10 >= published * 9 && got * 10 <= published * 11
}

#[test]
fn skylake_round_trips_match_the_published_measurements() {
    let m = CycleModel::skylake();
    for (what, got, published) in [
        ("int 0x80 + iretq", int80(m), 614),
        ("call gate + lretq", call_gate(m), 456),
        ("syscall + sysretq", syscall(m), 76),
        ("sysenter + sysexitq", sysenter(m), 73),
    ] {
        assert!(
            within_10_percent(got, published),
            "{what}: {got} cycles, published {published}"
        );
    }
}

#[test]
fn int80_costs_more_than_sysenter_and_syscall_under_every_profile() {
    for name in CycleModel::NAMES {
        let m = CycleModel::by_name(name).expect("profile");
        let (i, e, s) = (int80(m), sysenter(m), syscall(m));
        assert!(i > e && i > s, "{name}: int {i}, sysenter {e}, syscall {s}");
    }
}

#[test]
fn profiles_by_name() {
    assert!(CycleModel::NAMES.contains(&"skylake"));
    assert!(CycleModel::NAMES.contains(&"zen2"));
    assert_eq!(CycleModel::NAMES[0], "skylake", "the default comes first");
    assert_eq!(CycleModel::by_name("zen2").map(|m| m.name()), Some("zen2"));
    assert_eq!(Vcpu::new(1 << 16, Vendor::Intel).model().name(), "skylake");
    assert!(CycleModel::by_name("nehalem").is_none());
    // Every transition row says what it is based on.
    for name in CycleModel::NAMES {
        let m = CycleModel::by_name(name).expect("profile");
        assert_eq!(m.transitions().len(), 13, "{name}");
    }
}

// ---------------------------------------------------------------------
// A program under 4-level paging: loops, memory, calls
// ---------------------------------------------------------------------

const PML4: u64 = 0x20_0000;
const CODE: u64 = 0x1000;
const DATA: u64 = 0x10_0000;

/// 64-bit ring 0 with 4-level paging identity-mapping the first 2 MiB in
/// 4-KiB pages.
fn paged(model: CycleModel) -> Vcpu {
    let mut v = Vcpu::new(MEM, Vendor::Intel);
    v.set_model(model);
    v.cpu.set_flat_mode(64, 0);
    let (pdpt, pd, pt) = (PML4 + 0x1000, PML4 + 0x2000, PML4 + 0x3000);
    w64(&mut v, PML4, pdpt | 3);
    w64(&mut v, pdpt, pd | 3);
    w64(&mut v, pd, pt | 3);
    for k in 0..512u64 {
        w64(&mut v, pt + 8 * k, (k << 12) | 3);
    }
    let c = &mut v.cpu;
    c.ctrl.cr4 |= sysgate_cpu::Cr4::PAE.bits();
    c.ctrl.cr3 = PML4;
    c.ctrl.cr0 |= Cr0::PG.bits();
    c.mmu.flush_tlb(false);
    c.gpr[4] = 0x8_0000;
    v
}

/// `mov rax, [rbx]; add rax, rdx; add rbx, rsi; call f; dec ecx; jnz top;
/// hlt` with `f: imul rdx, rax; ret`: RCX iterations over pages RSI
/// bytes apart from DATA.
fn program(iterations: u64, stride: u64) -> (Vec<u8>, [u64; 4]) {
    let code = vec![
        0x48, 0x8B, 0x03, // top: mov rax, [rbx]
        0x48, 0x01, 0xD0, // add rax, rdx
        0x48, 0x01, 0xF3, // add rbx, rsi
        0xE8, 0x0E, 0x00, 0x00, 0x00, // call f
        0xF6, 0xC1, 0x01, // test cl, 1
        0x74, 0x03, // jz skip (a side exit on every other iteration)
        0x48, 0x01, 0xC2, // add rdx, rax
        0xFF, 0xC9, // skip: dec ecx
        0x75, 0xE6, // jnz top
        0xF4, // hlt
        0x90, // (padding)
        0x48, 0x0F, 0xAF, 0xD0, // f: imul rdx, rax
        0xC3, // ret
    ];
    (code, [iterations, DATA, stride, 1])
}

fn run_program(v: &mut Vcpu, iterations: u64, stride: u64) {
    let (code, [n, data, step, rdx]) = program(iterations, stride);
    v.cpu.mmu.phys.write(CODE, &code);
    v.cpu.gpr[1] = n;
    v.cpu.gpr[3] = data;
    v.cpu.gpr[6] = step;
    v.cpu.gpr[2] = rdx;
    v.cpu.rip = CODE;
}

/// A tracer that wants the counters per instruction.
#[derive(Default)]
struct Counting {
    retired: u64,
    last_cycles: u64,
}

impl Tracer for Counting {
    const PER_INSTRUCTION: bool = true;
    fn retired(&mut self, cpu: &Cpu, _insn: &Insn) {
        self.retired += 1;
        assert!(cpu.cycles >= self.last_cycles, "the count never goes back");
        self.last_cycles = cpu.cycles;
    }
}

#[test]
fn the_same_program_gives_the_same_cycles_traced_untraced_and_split() {
    for name in CycleModel::NAMES {
        let model = CycleModel::by_name(name).expect("profile");
        let measure = |how: u32| {
            let mut v = paged(model);
            run_program(&mut v, 40, 0x1000);
            match how {
                0 => assert_eq!(v.run(Limit::NONE), Exit::Hlt),
                1 => {
                    let mut t = Counting::default();
                    assert_eq!(v.run_traced(Limit::NONE, &mut t), Exit::Hlt);
                    assert_eq!(t.retired, v.cpu.instructions);
                }
                2 => loop {
                    // Budgets that stop inside blocks everywhere.
                    match v.run(Limit::instructions(3)) {
                        Exit::InstructionLimit => continue,
                        x => {
                            assert_eq!(x, Exit::Hlt);
                            break;
                        }
                    }
                },
                _ => while v.step().exit.is_none() {},
            }
            (v.cpu.cycles, v.cpu.instructions, v.cpu.gpr[2])
        };
        let first = measure(0);
        assert!(first.0 > 0);
        assert_eq!(measure(0), first, "{name}: again");
        assert_eq!(measure(1), first, "{name}: traced per instruction");
        assert_eq!(measure(2), first, "{name}: split by budgets");
        assert_eq!(measure(3), first, "{name}: single steps");
    }
}

#[test]
fn page_walks_are_charged() {
    // The same instructions over 64 pages and over one page: 63 more data
    // TLB misses, each one walk.
    let model = CycleModel::skylake();
    let run = |stride| {
        let mut v = paged(model);
        run_program(&mut v, 64, stride);
        let walks = v.cpu.mmu.stats().walks;
        assert_eq!(v.run(Limit::NONE), Exit::Hlt);
        (v.cpu.cycles, v.cpu.mmu.stats().walks - walks)
    };
    let (many, walks_many) = run(0x1000);
    let (one, walks_one) = run(0);
    assert_eq!(walks_many - walks_one, 63);
    assert_eq!(many - one, 63 * model.walk_cycles() as u64);
    assert_eq!(model.walk_cycles(), 4 * model.load_latency());
}

// ---------------------------------------------------------------------
// The dependency model
// ---------------------------------------------------------------------

/// Cycles of `body` (no branches) repeated `n` times in a DEC/JNZ loop.
fn loop_cycles(model: CycleModel, body: &[u8], n: u64) -> u64 {
    let mut v = Vcpu::new(1 << 20, Vendor::Intel);
    v.set_model(model);
    v.cpu.set_flat_mode(64, 0);
    let mut code = body.to_vec();
    let back = -(body.len() as i64 + 4) as i8;
    code.extend_from_slice(&[0xFF, 0xC9, 0x75, back as u8, 0xF4]); // dec ecx; jnz; hlt
    v.cpu.mmu.phys.write(CODE, &code);
    v.cpu.gpr[1] = n;
    v.cpu.gpr[3] = 7; // a divisor
    v.cpu.gpr[4] = 0x8_0000;
    v.cpu.gpr[6] = 0x2_0000;
    v.cpu.gpr[7] = 0x2_0000;
    v.cpu.ctrl.cr4 |= Cr4::OSFXSR.bits(); // SSE enabled
    v.cpu.rip = CODE;
    assert_eq!(v.run(Limit::NONE), Exit::Hlt);
    v.cpu.cycles
}

#[test]
fn a_dependent_chain_costs_more_than_independent_instructions() {
    // Four IMULs (reciprocal throughput 1 in both profiles; latency 3 on
    // skylake, 4 on zen2 per LLVM): one chain through RAX, or four
    // independent registers.
    let chain = [
        0x48, 0x0F, 0xAF, 0xC0, // imul rax, rax
        0x48, 0x0F, 0xAF, 0xC0, // imul rax, rax
        0x48, 0x0F, 0xAF, 0xC0, // imul rax, rax
        0x48, 0x0F, 0xAF, 0xC0, // imul rax, rax
    ];
    let independent = [
        0x48, 0x0F, 0xAF, 0xC0, // imul rax, rax
        0x48, 0x0F, 0xAF, 0xDB, // imul rbx, rbx
        0x48, 0x0F, 0xAF, 0xD2, // imul rdx, rdx
        0x48, 0x0F, 0xAF, 0xF6, // imul rsi, rsi
    ];
    for name in CycleModel::NAMES {
        let m = CycleModel::by_name(name).expect("profile");
        let n = 1000;
        let dep = loop_cycles(m, &chain, n);
        let ind = loop_cycles(m, &independent, n);
        assert!(dep > ind, "{name}: chain {dep}, independent {ind}");
        // The chain is latency-bound: 4 x latency per iteration, and the
        // independent IMULs throughput-bound: 4 x 1.
        let imul = iced_x86::Decoder::new(64, &chain[..4], iced_x86::DecoderOptions::NONE).decode();
        let lat = m.cost(&imul) as u64;
        assert_eq!(lat, if *name == "zen2" { 4 } else { 3 });
        assert!(
            (4 * lat * n..=(4 * lat + 1) * n).contains(&dep),
            "{name}: {dep}"
        );
        assert!((4 * n..=5 * n).contains(&ind), "{name}: {ind}");
    }
}

#[test]
fn a_load_feeding_a_chain_overlaps_with_the_next_iteration() {
    // add rax, [rsi]: the load does not wait for RAX (ReadAfterLd), so a
    // loop of them runs at the ADD's latency, not the load's.
    let m = CycleModel::skylake();
    let n = 1000;
    let c = loop_cycles(m, &[0x48, 0x03, 0x06], n);
    assert!(c <= 2 * n, "{c}");
    // mov rax, [rax]: pointer chasing pays the load latency every time.
    let c = loop_cycles(m, &[0x48, 0x8B, 0x00], n);
    assert!(c >= m.load_latency() as u64 * n, "{c}");
}

/// The latency of the first instruction of `bytes` under `m`.
fn latency(m: CycleModel, bytes: &[u8]) -> u64 {
    m.cost(&iced_x86::Decoder::new(64, bytes, iced_x86::DecoderOptions::NONE).decode()) as u64
}

/// Asserts that `c` cycles for `n` iterations of a four-instruction chain
/// of latency `lat` are 4 x `lat` per iteration (plus at most one for
/// the loop's DEC/JNZ).
fn assert_chain(name: &str, what: &str, c: u64, lat: u64, n: u64) {
    assert!(
        (4 * lat * n..=(4 * lat + 1) * n).contains(&c),
        "{name}: {what}: {c} cycles for {n} iterations, latency {lat}"
    );
}

#[test]
fn sse_chains_cost_their_table_latency() {
    // Four dependent ADDSDs (through XMM0), four dependent DIVSDs, and
    // four independent ADDSDs (XMM0-3, each only on its own previous
    // copy). LLVM's latencies: ADDSD 4 (skylake) / 3 (zen2), DIVSD 14 /
    // 15 (crates/cpu/data/llvm/*.tsv).
    let addsd = [0xF2, 0x0F, 0x58, 0xC1]; // addsd xmm0, xmm1
    let divsd = [0xF2, 0x0F, 0x5E, 0xC1]; // divsd xmm0, xmm1
    let add_chain = addsd.repeat(4);
    let div_chain = divsd.repeat(4);
    let independent = [
        0xF2, 0x0F, 0x58, 0xC4, // addsd xmm0, xmm4
        0xF2, 0x0F, 0x58, 0xCC, // addsd xmm1, xmm4
        0xF2, 0x0F, 0x58, 0xD4, // addsd xmm2, xmm4
        0xF2, 0x0F, 0x58, 0xDC, // addsd xmm3, xmm4
    ];
    for name in CycleModel::NAMES {
        let m = CycleModel::by_name(name).expect("profile");
        let n = 1000;
        let (add_lat, div_lat) = (latency(m, &addsd), latency(m, &divsd));
        let want = if *name == "zen2" { (3, 15) } else { (4, 14) };
        assert_eq!((add_lat, div_lat), want, "{name}");
        let add = loop_cycles(m, &add_chain, n);
        let div = loop_cycles(m, &div_chain, n);
        let ind = loop_cycles(m, &independent, n);
        assert_chain(name, "addsd chain", add, add_lat, n);
        assert_chain(name, "divsd chain", div, div_lat, n);
        assert!(div > add, "{name}: divsd {div}, addsd {add}");
        // Independent ADDSDs wait only for their own register: each
        // iteration takes one ADDSD latency, not four.
        assert!(ind < add / 2, "{name}: independent {ind}, chain {add}");
        // The same with a memory operand: addsd xmm0, [rsi] loads while
        // the previous ADDSD runs (ReadAfterLd), so it costs the ADDSD
        // latency per instruction too.
        let add_mem = loop_cycles(m, &[0xF2, 0x0F, 0x58, 0x06].repeat(4), n);
        assert_chain(name, "addsd xmm0, [rsi] chain", add_mem, add_lat, n);
    }
}

#[test]
fn x87_chains_cost_their_table_latency() {
    // Four FADD ST(0), ST(1) and four FDIV ST(0), ST(1) in a row: the x87
    // stack is one serial resource, and LLVM's latencies are FADD 3 (both
    // profiles), FDIV 20 (skylake) / 15 (zen2).
    let fadd = [0xD8, 0xC1];
    let fdiv = [0xD8, 0xF1];
    for name in CycleModel::NAMES {
        let m = CycleModel::by_name(name).expect("profile");
        let n = 1000;
        let (add_lat, div_lat) = (latency(m, &fadd), latency(m, &fdiv));
        let want = if *name == "zen2" { (3, 15) } else { (3, 20) };
        assert_eq!((add_lat, div_lat), want, "{name}");
        let add = loop_cycles(m, &fadd.repeat(4), n);
        let div = loop_cycles(m, &fdiv.repeat(4), n);
        assert_chain(name, "fadd chain", add, add_lat, n);
        assert_chain(name, "fdiv chain", div, div_lat, n);
        assert!(div > add, "{name}: fdiv {div}, fadd {add}");
        // Loads into the stack do not wait for it: FLD qword [rsi] four
        // times costs its throughput, not 4 x its latency.
        let ld = loop_cycles(m, &[0xDD, 0x06].repeat(4), n);
        assert!(ld < 4 * latency(m, &[0xDD, 0x06]) * n, "{name}: fld {ld}");
    }
}

/// For `scripts/gen_cycle_error.py`: prints the model's cycles per
/// iteration of each loop body in `SYSGATE_LOOP_BODIES` (hex encodings,
/// separated by commas) under the profile `SYSGATE_PROFILE`.
#[test]
#[ignore = "a measurement helper run by scripts/gen_cycle_error.py"]
fn print_loop_cycles() {
    let model = std::env::var("SYSGATE_PROFILE")
        .ok()
        .and_then(|p| CycleModel::by_name(&p))
        .unwrap_or_default();
    let bodies = std::env::var("SYSGATE_LOOP_BODIES").unwrap_or_default();
    let n = 1000;
    for hex in bodies.split(',').filter(|h| !h.is_empty()) {
        let body: Vec<u8> = (0..hex.len() / 2)
            .map(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).expect("hex"))
            .collect();
        // The difference of two loop lengths drops the prologue and HLT.
        let c = loop_cycles(model, &body, 2 * n) - loop_cycles(model, &body, n);
        println!("loop {hex} {:.3}", c as f64 / n as f64);
    }
}
