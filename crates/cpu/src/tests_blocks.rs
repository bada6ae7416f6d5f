//! Tests of decoded blocks that continue past conditional branches and
//! SWAPGS: their cycles are those of the basic blocks they are made of, and
//! running them whole, instruction by instruction or in single steps gives
//! the same state, counts and transition reports.

use iced_x86::code_asm::*;

use crate::cycles::CycleModel;
use crate::run::{Exit, Limit, Tracer, Vcpu};
use crate::testutil::{CODE, asm, machine};
use crate::transition::Transition;
use crate::{Cpu, Insn};

/// Decodes the block at CS offset `ip` of the code loaded in `v`.
fn block_at(v: &mut Vcpu, ip: u64) -> Vec<Insn> {
    let mut cache = crate::decode::DecodeCache::default();
    let id = cache
        .lookup(&mut v.cpu, &CycleModel::default(), ip, ip, 64)
        .expect("decodes");
    cache.blocks[id as usize].insns.to_vec()
}

#[test]
fn a_block_is_costed_as_the_basic_blocks_it_is_made_of() {
    let code = asm(64, |a| {
        let mut skip = a.create_label();
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.imul_2(rax, rbx)?;
        a.add(rcx, rax)?;
        a.test(rdx, rdx)?;
        a.jz(skip)?;
        a.imul_2(rsi, rdi)?;
        a.add(rsi, 3)?;
        a.swapgs()?;
        a.mov(r8, r9)?;
        a.imul_2(r8, r8)?;
        a.dec(r10)?;
        a.jnz(top)?;
        a.set_label(&mut skip)?;
        a.nop()
    });
    let mut v = machine(64);
    v.cpu.mmu.phys.write(CODE, &code);
    let whole = block_at(&mut v, CODE);
    // The block runs on past both branches to the HLT `asm` appends.
    assert_eq!(whole.len(), 13);
    let ends: Vec<usize> = (0..whole.len()).filter(|&k| whole[k].seg_end).collect();
    assert_eq!(ends, [3, 6, 10], "segments end at the JZ, SWAPGS and JNZ");
    // Each segment costs exactly what the basic block starting there does.
    for start in [0usize, 4, 7, 11] {
        let basic = block_at(&mut v, whole[start].ip());
        let seg: Vec<&Insn> = whole[start..].iter().take(basic.len()).collect();
        assert_eq!(seg.len(), basic.len());
        for (s, b) in seg.iter().zip(&basic) {
            assert_eq!(s.ip(), b.ip());
            assert_eq!(s.cycles, b.cycles, "at {:#x}", s.ip());
            assert_eq!(s.cum - s.seg_cum, b.cum - b.seg_cum, "at {:#x}", s.ip());
        }
    }
}

/// Records every transition report with the counters at that moment.
#[derive(Default)]
struct Reports<const EVERY: bool>(Vec<(u64, u64, u64)>);

impl<const EVERY: bool> Tracer for Reports<EVERY> {
    const PER_INSTRUCTION: bool = EVERY;

    fn transition(&mut self, cpu: &Cpu, t: &Transition) {
        self.0.push((cpu.cycles, cpu.instructions, t.cycles));
    }
}

#[test]
fn branches_taken_inside_a_block_and_swapgs_match_single_steps() {
    // Odd rounds fall through a JZ and run two SWAPGS in the same block;
    // even rounds take the JZ out of the block's middle.
    let code = asm(64, |a| {
        let mut top = a.create_label();
        let mut even = a.create_label();
        let mut next = a.create_label();
        a.mov(ecx, 7u32)?;
        a.set_label(&mut top)?;
        a.mov(eax, ecx)?;
        a.and(eax, 1)?;
        a.jz(even)?;
        a.add(ebx, 3)?;
        a.swapgs()?;
        a.imul_2(ebx, ebx)?;
        a.swapgs()?;
        a.jmp(next)?;
        a.set_label(&mut even)?;
        a.add(edx, 5)?;
        a.set_label(&mut next)?;
        a.dec(ecx)?;
        a.jnz(top)
    });
    let load = |v: &mut Vcpu| {
        v.cpu.mmu.phys.write(CODE, &code);
        v.cpu.rip = CODE;
    };
    let limit = Limit::instructions(10_000);
    let mut whole = machine(64);
    load(&mut whole);
    let mut r_whole = Reports::<false>::default();
    assert_eq!(whole.run_traced(limit, &mut r_whole), Exit::Hlt);
    let mut each = machine(64);
    load(&mut each);
    let mut r_each = Reports::<true>::default();
    assert_eq!(each.run_traced(limit, &mut r_each), Exit::Hlt);
    let mut stepped = machine(64);
    load(&mut stepped);
    let mut r_step = Reports::<false>::default();
    for _ in 0..10_000 {
        if stepped.step_traced(&mut r_step).exit == Some(Exit::Hlt) {
            break;
        }
    }
    assert_eq!(r_whole.0.len(), 8, "two SWAPGS in each of four odd rounds");
    for (v, r) in [(&each, &r_each.0), (&stepped, &r_step.0)] {
        assert_eq!(whole.cpu.gpr, v.cpu.gpr);
        assert_eq!(whole.cpu.cycles, v.cpu.cycles);
        assert_eq!(whole.cpu.instructions, v.cpu.instructions);
        assert_eq!(&r_whole.0, r);
    }
}
