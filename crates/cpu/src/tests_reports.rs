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

/// Counts transitions but declines SWAPGS's.
#[derive(Default)]
struct NoSwapgs(u32);

impl Tracer for NoSwapgs {
    const SWAPGS_TRANSITIONS: bool = false;

    fn transition(&mut self, _cpu: &Cpu, _t: &Transition) {
        self.0 += 1;
    }
}

#[test]
fn a_tracer_may_decline_swapgs_transitions_without_changing_the_counts() {
    // Two SWAPGS inside one block, which ends at HLT.
    let code = asm(64, |a| {
        a.swapgs()?;
        a.add(ebx, 3)?;
        a.swapgs()?;
        a.nop()
    });
    let run = |declined: bool| {
        let mut v = machine(64);
        v.cpu.mmu.phys.write(CODE, &code);
        v.cpu.rip = CODE;
        v.cpu.seg[crate::SegReg::Gs as usize].base = 0x1111;
        v.cpu.msr.kernel_gs_base = 0x2222;
        let seen = if declined {
            let mut t = NoSwapgs::default();
            assert_eq!(v.run_traced(Limit::instructions(100), &mut t), Exit::Hlt);
            t.0
        } else {
            let mut t = Reports::<false>::default();
            assert_eq!(v.run_traced(Limit::instructions(100), &mut t), Exit::Hlt);
            t.0.len() as u32
        };
        (v, seen)
    };
    let (wanted, reported) = run(false);
    let (declined, declined_reports) = run(true);
    assert_eq!(reported, 2);
    assert_eq!(declined_reports, 0);
    assert_eq!(declined.cpu.cycles, wanted.cpu.cycles);
    assert_eq!(declined.cpu.instructions, wanted.cpu.instructions);
    // Swapped twice: back where it started either way.
    for v in [&wanted, &declined] {
        assert_eq!(v.cpu.seg[crate::SegReg::Gs as usize].base, 0x1111);
        assert_eq!(v.cpu.msr.kernel_gs_base, 0x2222);
    }
    // A single step still returns the transition.
    let mut v = machine(64);
    v.cpu.mmu.phys.write(CODE, &code);
    v.cpu.rip = CODE;
    let ev = v.step();
    assert_eq!(
        ev.transition.map(|t| t.kind),
        Some(crate::transition::TransitionKind::Swapgs)
    );
}
