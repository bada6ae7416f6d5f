//! Helpers for the crate's unit tests: assemble a snippet with iced-x86's
//! `code_asm`, load it into a flat machine and run it to HLT.

use iced_x86::IcedError;
use iced_x86::code_asm::CodeAssembler;

use crate::run::{Exit, Limit, Vcpu};
use crate::vendor::Vendor;

/// Where test code is loaded (also the CS offset: flat segments).
pub const CODE: u64 = 0x1000;
/// Initial stack pointer.
pub const STACK: u64 = 0x8000;
/// A scratch data area tests may use.
pub const DATA: u64 = 0x4000;

/// Assembles `f` for `bits` at [`CODE`], appending HLT.
pub fn asm(bits: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(bits).expect("valid bitness");
    f(&mut a).expect("assembles");
    a.hlt().expect("hlt");
    a.assemble(CODE).expect("assembles")
}

/// A machine with 1 MiB of RAM: real mode for `bits == 0`, otherwise flat
/// protected mode (16/32) or 64-bit mode without paging, at CPL 0.
pub fn machine(bits: u32) -> Vcpu {
    let mut v = Vcpu::new(1 << 20, Vendor::Intel);
    if bits != 0 {
        v.cpu.set_flat_mode(bits, 0);
    }
    v.cpu.gpr[4] = STACK;
    v.cpu.rip = CODE;
    v
}

/// Loads `code` at [`CODE`] and runs it (at most 100,000 instructions).
pub fn run(v: &mut Vcpu, code: &[u8]) -> Exit {
    v.cpu.mmu.phys.write(CODE, code);
    v.cpu.rip = CODE;
    v.run(Limit::instructions(100_000))
}

/// Assembles and runs `f` in a fresh machine of `bits` (0 = real mode),
/// asserting it reaches HLT; returns the machine.
pub fn exec(bits: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vcpu {
    let code = asm(if bits == 0 { 16 } else { bits }, f);
    let mut v = machine(bits);
    let exit = run(&mut v, &code);
    assert_eq!(exit, Exit::Hlt, "rip={:#x}", v.cpu.rip);
    v
}

/// Assembles and runs `f`, expecting it to stop with an exception.
pub fn fault(
    bits: u32,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (Exit, Vcpu) {
    let code = asm(if bits == 0 { 16 } else { bits }, f);
    let mut v = machine(bits);
    let exit = run(&mut v, &code);
    (exit, v)
}
