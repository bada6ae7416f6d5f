//! Raw interpreter throughput: guest instructions per second on an integer
//! compute loop, with cycle counting on (it is always on), and what tracing
//! costs; and the decode cache's hit and miss paths.
//!
//! - `interpreter/compute_loop`: no tracer ([`sysgate::cpu::NoTracer`]):
//!   cycles and instruction counts charged once per block.
//! - `interpreter/compute_loop_traced`: a tracer with
//!   `PER_INSTRUCTION = true` and empty hooks: the counters are kept exact
//!   before every hook call (what any per-instruction tracer pays first).
//! - `interpreter/compute_loop_hook`: the same plus a per-instruction hook
//!   doing minimal work (it folds each instruction's address into a sum),
//!   like an emulator's empty instruction callback.
//! - `decode/hit`: 256 small blocks executed from the decode cache.
//! - `decode/miss`: the same blocks with the cache flushed before every
//!   pass ([`sysgate::cpu::Vcpu::flush_decode_cache`]), so every block is
//!   decoded (iced-x86 decode, handler selection, cycle schedule).

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use iced_x86::code_asm::*;
use sysgate::cpu::{Cpu, Exit, Insn, Limit, Tracer};
use sysgate::demo;

/// Keeps the counters exact per instruction; does nothing else.
struct Exact;

impl Tracer for Exact {
    const PER_INSTRUCTION: bool = true;
}

/// A per-instruction hook with minimal work.
#[derive(Default)]
struct Hook {
    sum: u64,
}

impl Tracer for Hook {
    const PER_INSTRUCTION: bool = true;

    #[inline(always)]
    fn instruction(&mut self, _cpu: &Cpu, insn: &Insn) {
        self.sum = self.sum.wrapping_add(insn.ip());
    }
}

fn interpreter(c: &mut Criterion) {
    const ITERATIONS: u32 = 1_000_000;
    let code = demo::compute_loop(ITERATIONS).expect("demo assembles");
    let insns = demo::compute_loop_instructions(ITERATIONS);
    let mut g = c.benchmark_group("interpreter");
    g.throughput(Throughput::Elements(insns));
    g.sample_size(20);
    g.measurement_time(std::time::Duration::from_secs(8));
    g.bench_function("compute_loop", |b| {
        let mut vcpu = demo::machine(&code);
        b.iter(|| {
            vcpu.cpu.rip = demo::CODE_BASE;
            let exit = vcpu.run(Limit::NONE);
            assert_eq!(exit, Exit::Hlt);
        })
    });
    g.bench_function("compute_loop_traced", |b| {
        let mut vcpu = demo::machine(&code);
        b.iter(|| {
            vcpu.cpu.rip = demo::CODE_BASE;
            let exit = vcpu.run_traced(Limit::NONE, &mut Exact);
            assert_eq!(exit, Exit::Hlt);
        })
    });
    g.bench_function("compute_loop_hook", |b| {
        let mut vcpu = demo::machine(&code);
        let mut hook = Hook::default();
        b.iter(|| {
            vcpu.cpu.rip = demo::CODE_BASE;
            let exit = vcpu.run_traced(Limit::NONE, &mut hook);
            assert_eq!(exit, Exit::Hlt);
        });
        black_box(hook.sum);
    });
    g.finish();
}

/// Blocks in the decode-cache program.
const BLOCKS: usize = 256;
/// Instructions it retires: three per block and the final HLT.
const BLOCK_PROGRAM_INSNS: u64 = 3 * BLOCKS as u64 + 1;

/// `BLOCKS` blocks of `add rax, 1; lea rcx, [next]; jmp rcx`, then HLT.
/// The jump is indirect: the decoder follows direct jumps within a page
/// (`sysgate_cpu::decode`), which would join the blocks.
fn block_program() -> Vec<u8> {
    let mut a = CodeAssembler::new(64).expect("64-bit assembler");
    for _ in 0..BLOCKS {
        let mut next = a.create_label();
        a.add(rax, 1).expect("assembles");
        a.lea(rcx, ptr(next)).expect("assembles");
        a.jmp(rcx).expect("assembles");
        a.set_label(&mut next).expect("assembles");
    }
    a.hlt().expect("assembles");
    a.assemble(demo::CODE_BASE).expect("assembles")
}

fn decode(c: &mut Criterion) {
    let code = block_program();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(BLOCK_PROGRAM_INSNS));
    g.bench_function("hit", |b| {
        let mut vcpu = demo::machine(&code);
        assert_eq!(vcpu.run(Limit::NONE), Exit::Hlt);
        b.iter(|| {
            vcpu.cpu.rip = demo::CODE_BASE;
            assert_eq!(vcpu.run(Limit::NONE), Exit::Hlt);
        })
    });
    g.bench_function("miss", |b| {
        let mut vcpu = demo::machine(&code);
        b.iter(|| {
            vcpu.flush_decode_cache();
            vcpu.cpu.rip = demo::CODE_BASE;
            assert_eq!(vcpu.run(Limit::NONE), Exit::Hlt);
        })
    });
    g.finish();
}

criterion_group!(benches, interpreter, decode);
criterion_main!(benches);
