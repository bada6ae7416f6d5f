//! Transition reports carry exact counters whatever the tracer: a run
//! without per-instruction hooks, one with them and single steps report
//! the same cycles and instruction counts at every transition.

use iced_x86::code_asm::*;

use crate::Cpu;
use crate::run::{Exit, Limit, Tracer, Vcpu};
use crate::testutil::{CODE, asm, machine};
use crate::transition::Transition;

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
fn transition_reports_are_exact_with_and_without_per_instruction_hooks() {
    // Odd rounds run two SWAPGS, each reported in the middle of its block.
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
