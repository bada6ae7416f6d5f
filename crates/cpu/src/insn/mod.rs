//! Instruction semantics, one module per family. Each family offers a
//! `lookup` that maps a decoded instruction to its handler; the decoder
//! calls [`handler`] once per instruction when it fills the decode cache,
//! so selecting a handler costs nothing at execution time.
//!
//! Anything no family claims raises #UD when executed (iced's invalid
//! encodings included), which is what a processor without the feature does.
//!
//! Handlers use the C calling convention ([`Handler`]): it returns the
//! 16-byte `Result<(), Exception>` in two registers, where the Rust one
//! returns it through memory, which the run loop then had to load back
//! after every instruction. Nothing outside Rust calls them, so the
//! `improper_ctypes_definitions` lint (about C callers) does not apply.
#![allow(improper_ctypes_definitions)]

use iced_x86::Instruction;

use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::state::Cpu;

mod arith;
mod bcd;
mod bits;
mod control;
mod data;
mod fast;
mod fastcall;
mod faststack;
mod interrupt;
mod muldiv;
mod seg;
mod shift;
mod sse;
mod sse_fp;
mod sse_host;
mod sse_int;
mod sse_move;
mod sse_state;
mod stack;
mod string;
pub(crate) mod sysreg;
mod system;
#[cfg(test)]
mod tests_basic;
#[cfg(test)]
mod tests_modes;
#[cfg(test)]
mod tests_seg;
#[cfg(test)]
mod tests_sse;
#[cfg(test)]
mod tests_x87;
mod x87;
mod x87_arith;
mod x87_env;

pub(crate) use control::{followable_target, followed, is_forward_jcc, side_exit};
pub(crate) use faststack::{
    execute_one as execute_stack_one, execute_run as execute_stack_run,
    mark_runs as mark_stack_runs,
};
pub(crate) use x87::fop as x87_fop;

/// The handler for `ins`.
pub(crate) fn handler(ins: &Instruction) -> Handler {
    // `fast` comes first: it claims the hottest forms with specialized
    // handlers and leaves everything else to the generic families.
    let families: &[fn(&Instruction) -> Option<Handler>] = &[
        fast::lookup,
        faststack::lookup,
        data::lookup,
        arith::lookup,
        shift::lookup,
        muldiv::lookup,
        bits::lookup,
        bcd::lookup,
        control::lookup,
        stack::lookup,
        string::lookup,
        system::lookup,
        sysreg::lookup,
        fastcall::lookup,
        seg::lookup,
        interrupt::lookup,
        x87::lookup,
        sse_move::lookup,
        sse_int::lookup,
        sse_fp::lookup,
        sse_state::lookup,
    ];
    families.iter().find_map(|f| f(ins)).unwrap_or(undefined)
}

/// #UD: an invalid or unimplemented opcode.
pub(crate) extern "C" fn undefined(_c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    Err(Exception::UD)
}

/// Writes the status flags `f` (only the bits in `which` change).
#[inline(always)]
pub(crate) fn set_flags(c: &mut Cpu, which: u64, f: u64) {
    c.rflags = (c.rflags & !which) | (f & which);
}

/// The operand size in bytes from the opcode's operand-size attribute
/// (16/32/64), or `default` when the opcode has none.
pub(crate) fn opsize(ins: &Instruction, default: u8) -> u8 {
    match ins.op_code().operand_size() {
        16 => 2,
        32 => 4,
        64 => 8,
        _ => default,
    }
}
