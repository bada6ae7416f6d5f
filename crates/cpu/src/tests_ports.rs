//! OUT served inside the run loop ([`PortIo`]): the same registers,
//! instruction count and cycles as when the host serves every OUT after
//! the run exits, with or without per-instruction hooks and however the
//! run is split; a hook that moves RIP ends the block there.

use iced_x86::code_asm::*;

use crate::Cpu;
use crate::decode::Insn;
use crate::run::{Exit, Limit, PortIo, Tracer, Vcpu};
use crate::testutil::{CODE, asm, machine};

/// Served: adds the value to RDX and charges 7 cycles.
const ADD_PORT: u16 = 0x10;
/// Never served: the run exits.
const EXIT_PORT: u16 = 0x11;
/// Served: moves RIP to the value (skipping the code after the OUT).
const JUMP_PORT: u16 = 0x12;

/// Cycles the device charges per ADD_PORT write.
const ADD_CYCLES: u64 = 7;

/// What the device does for `port` (charging `charge` cycles for an
/// ADD_PORT write); false when the host must see it.
fn device(cpu: &mut Cpu, port: u16, value: u32, charge: u64) -> bool {
    match port {
        ADD_PORT => {
            cpu.gpr[2] = cpu.gpr[2].wrapping_add(value as u64);
            cpu.cycles += charge;
            true
        }
        JUMP_PORT => {
            cpu.rip = value as u64;
            true
        }
        _ => false,
    }
}

/// The device as a hook, counting what it served; `EVERY` asks for
/// per-instruction hooks (counting retired instructions).
struct Device<const EVERY: bool> {
    charge: u64,
    served: u32,
    retired: u64,
}

impl<const EVERY: bool> Default for Device<EVERY> {
    fn default() -> Self {
        Device {
            charge: ADD_CYCLES,
            served: 0,
            retired: 0,
        }
    }
}

impl<const EVERY: bool> Tracer for Device<EVERY> {
    const PER_INSTRUCTION: bool = EVERY;

    fn retired(&mut self, _cpu: &Cpu, _insn: &Insn) {
        self.retired += 1;
    }
}

impl<const EVERY: bool> PortIo for Device<EVERY> {
    fn port_out(&mut self, cpu: &mut Cpu, port: u16, _size: u8, value: u32) -> bool {
        let served = device(cpu, port, value, self.charge);
        self.served += u32::from(served);
        served
    }
}

/// Five rounds of work around two OUTs in one block (one served, one
/// not), then an OUT whose service jumps over a MOV to the final HLT.
fn program() -> Vec<u8> {
    // The landing address is CODE + the offset of the label; assembled
    // twice so the immediate can name it.
    let build = |landing: u32| {
        asm(64, |a| {
            let mut top = a.create_label();
            let mut skip = a.create_label();
            a.xor(ecx, ecx)?;
            a.set_label(&mut top)?;
            a.add(rbx, 1)?;
            a.mov(eax, ecx)?;
            a.out(ADD_PORT as u32, eax)?;
            a.add(rbx, 2)?;
            a.out(EXIT_PORT as u32, eax)?;
            a.add(rbx, 3)?;
            a.inc(ecx)?;
            a.cmp(ecx, 5)?;
            a.jne(top)?;
            a.mov(eax, landing)?;
            a.out(JUMP_PORT as u32, eax)?;
            a.mov(rbx, 0xDEAD_i64)?;
            a.set_label(&mut skip)?;
            a.nop()
        })
    };
    let first = build(0);
    // Everything up to the NOP before HLT keeps its length: the landing
    // is that NOP.
    let landing = CODE as u32 + first.len() as u32 - 2;
    build(landing)
}

fn load(code: &[u8]) -> Vcpu {
    let mut v = machine(64);
    v.cpu.mmu.phys.write(CODE, code);
    v.cpu.rip = CODE;
    v
}

/// Runs with the host serving every OUT between runs, each run limited to
/// `step` instructions; returns the machine and the OUT exits seen.
fn run_by_host(code: &[u8], step: u64) -> (Vcpu, u32) {
    let mut v = load(code);
    let mut outs = 0;
    for _ in 0..10_000 {
        match v.run(Limit::instructions(step)) {
            Exit::Hlt => return (v, outs),
            Exit::InstructionLimit => {}
            Exit::IoOut { port, value, .. } => {
                outs += 1;
                device(&mut v.cpu, port, value, ADD_CYCLES);
            }
            other => panic!("unexpected exit {other:?}"),
        }
    }
    panic!("no HLT");
}

/// Runs with the hook, each run limited to `step` instructions; the host
/// sees only the unserved OUTs.
fn run_with_hook<const EVERY: bool>(code: &[u8], step: u64) -> (Vcpu, Device<EVERY>, u32) {
    let mut v = load(code);
    let mut hook = Device::<EVERY>::default();
    let mut exits = 0;
    for _ in 0..10_000 {
        match v.run_with_ports(Limit::instructions(step), &mut hook) {
            Exit::Hlt => return (v, hook, exits),
            Exit::InstructionLimit => {}
            Exit::IoOut { port, .. } => {
                assert_eq!(port, EXIT_PORT, "a served port left the run loop");
                exits += 1;
            }
            other => panic!("unexpected exit {other:?}"),
        }
    }
    panic!("no HLT");
}

#[test]
fn served_outs_match_outs_the_host_serves() {
    let code = program();
    let (host, outs) = run_by_host(&code, u64::MAX);
    assert_eq!(outs, 11, "five served, five unserved, one jump");
    assert_eq!(host.cpu.gpr[3], 30, "rbx: five rounds of 1 + 2 + 3");
    assert_eq!(host.cpu.gpr[2], 10, "rdx: 0 + 1 + 2 + 3 + 4");
    for step in [u64::MAX, 1, 2, 3, 7] {
        let (v, hook, exits) = run_with_hook::<false>(&code, step);
        assert_eq!(exits, 5, "step {step}: only the unserved OUTs exit");
        assert_eq!(hook.served, 6, "step {step}");
        assert_eq!(v.cpu.gpr, host.cpu.gpr, "step {step}");
        assert_eq!(v.cpu.rip, host.cpu.rip, "step {step}");
        assert_eq!(v.cpu.instructions, host.cpu.instructions, "step {step}");
        assert_eq!(v.cpu.cycles, host.cpu.cycles, "step {step}");
        let (t, traced, _) = run_with_hook::<true>(&code, step);
        assert_eq!(t.cpu.gpr, host.cpu.gpr, "traced, step {step}");
        assert_eq!(t.cpu.instructions, host.cpu.instructions, "traced");
        assert_eq!(t.cpu.cycles, host.cpu.cycles, "traced, step {step}");
        // HLT is the last instruction and is counted too.
        assert_eq!(traced.retired, host.cpu.instructions, "traced, step {step}");
    }
    // Splitting the host's runs changes nothing either.
    let (split, _) = run_by_host(&code, 3);
    assert_eq!(split.cpu.instructions, host.cpu.instructions);
    assert_eq!(split.cpu.cycles, host.cpu.cycles);
}

#[test]
fn a_served_out_goes_on_in_its_block_and_charges_the_hook_cycles() {
    let code = program();
    let run = |charge: u64| {
        let mut v = load(&code);
        let mut hook = Device::<false> {
            charge,
            ..Device::default()
        };
        loop {
            match v.run_with_ports(Limit::NONE, &mut hook) {
                Exit::Hlt => return v,
                Exit::IoOut { port, .. } => assert_eq!(port, EXIT_PORT),
                other => panic!("unexpected exit {other:?}"),
            }
        }
    };
    let (free, charged) = (run(0), run(ADD_CYCLES));
    assert_eq!(charged.cpu.cycles - free.cpu.cycles, 5 * ADD_CYCLES);
    assert_eq!(charged.cpu.instructions, free.cpu.instructions);
    // Blocks decoded: the entry, the loop body, the tail after the loop
    // and the landing. The OUTs split no block: a served one goes on in
    // it, an unserved one resumes it in the next run.
    assert_eq!(
        charged.decode_stats().misses,
        4,
        "{:?}",
        charged.decode_stats()
    );
}
