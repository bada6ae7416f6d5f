//! Built-in demonstration programs for the CPU core: small 64-bit guests
//! assembled with iced-x86's `code_asm`, loaded into a flat machine and run
//! to HLT. The benches and the CLI's `demo` command use them.

use iced_x86::code_asm::*;
use sysgate_cpu::{Exit, Limit, Vcpu, Vendor};

/// Where demo code is loaded.
pub const CODE_BASE: u64 = 0x10_0000;
/// Initial stack pointer of demo guests.
pub const STACK_TOP: u64 = 0x80_0000;
/// Guest RAM of the demo machine.
pub const MEM_SIZE: u64 = 16 << 20;

/// Errors building a demo guest.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The assembler rejected the program.
    #[error("assembling the demo failed: {0}")]
    Asm(#[from] IcedError),
}

/// An integer compute loop of `iterations` rounds mixing ALU, shift,
/// multiply, load/store and branch instructions (9 instructions a round).
pub fn compute_loop(iterations: u32) -> Result<Vec<u8>, DemoError> {
    let mut a = CodeAssembler::new(64)?;
    let mut top = a.create_label();
    a.mov(ecx, iterations)?;
    a.xor(eax, eax)?;
    a.mov(edx, 0x1234_5678u32)?;
    a.mov(rsi, 0x20_0000u64)?;
    a.set_label(&mut top)?;
    a.add(rax, rcx)?;
    a.xor(rdx, rax)?;
    a.rol(rdx, 7)?;
    a.imul_3(r8, rdx, 31)?;
    a.mov(qword_ptr(rsi), r8)?;
    a.add(rax, qword_ptr(rsi))?;
    a.lea(rdx, qword_ptr(rdx + rax * 2 + 1))?;
    a.dec(ecx)?;
    a.jnz(top)?;
    a.hlt()?;
    Ok(a.assemble(CODE_BASE)?)
}

/// Instructions [`compute_loop`] retires for `iterations` rounds,
/// including the prologue and the final HLT.
pub fn compute_loop_instructions(iterations: u32) -> u64 {
    4 + 9 * iterations as u64 + 1
}

/// A 64-bit flat machine with `code` loaded at [`CODE_BASE`].
pub fn machine(code: &[u8]) -> Vcpu {
    let mut vcpu = Vcpu::new(MEM_SIZE, Vendor::Intel);
    vcpu.cpu.set_flat_mode(64, 0);
    vcpu.cpu.mmu.phys.write(CODE_BASE, code);
    vcpu.cpu.rip = CODE_BASE;
    vcpu.cpu.gpr[4] = STACK_TOP;
    vcpu
}

/// Runs `code` to completion and returns the exit and the machine.
pub fn run(code: &[u8]) -> (Exit, Vcpu) {
    let mut vcpu = machine(code);
    let exit = vcpu.run(Limit::NONE);
    (exit, vcpu)
}
