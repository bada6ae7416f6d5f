//! The vDSO's system-call trampoline and the legacy vsyscall page.
//!
//! The 32-bit `__kernel_vsyscall` is built for the mechanism the kernel
//! chose, the choice `sysenter_setup` makes (arch/x86/entry/vdso/vdso32/
//! system_call.S): it saves ECX, EDX and EBP, enters the kernel by
//! SYSENTER (`mov ebp, esp` first: the kernel reads the user stack from
//! EBP) or SYSCALL (`mov ebp, ecx` first: SYSCALL clobbers ECX) or, by
//! default, `int $0x80`, and all three come back at `int80_landing_pad`,
//! which restores the registers and returns.
//!
//! The legacy vsyscall page at 0xffffffffff600000 holds the three x86_64
//! entries (gettimeofday at +0, time at +0x400, getcpu at +0x800), each
//! `mov rax, nr; syscall; ret` as in vsyscall=emulate's fallback.

use iced_x86::IcedError;
use iced_x86::code_asm::*;

/// How 32-bit code enters the kernel through `__kernel_vsyscall`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vsyscall32 {
    /// `int $0x80`.
    Int80,
    /// SYSENTER (Intel in compatibility mode; any i386 kernel).
    Sysenter,
    /// SYSCALL (AMD in compatibility mode).
    Syscall,
}

/// The assembled 32-bit trampoline.
#[derive(Clone, Debug)]
pub struct Vdso32 {
    /// The code, placed at `base`.
    pub code: Vec<u8>,
    /// Virtual address of the page.
    pub base: u64,
    /// `__kernel_vsyscall`.
    pub kernel_vsyscall: u64,
    /// `int80_landing_pad`: where SYSENTER/SYSCALL entries return.
    pub landing_pad: u64,
    /// The address just after the entry instruction (SYSENTER/SYSCALL or
    /// `int $0x80`), for phase attribution.
    pub entry_insn: u64,
}

/// Assembles `__kernel_vsyscall` for `mech` at `base`.
pub fn vdso32(base: u64, mech: Vsyscall32) -> Result<Vdso32, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut start = a.create_label();
    let mut entry = a.create_label();
    let mut landing = a.create_label();
    a.set_label(&mut start)?;
    a.push(ecx)?;
    a.push(edx)?;
    a.push(ebp)?;
    match mech {
        Vsyscall32::Sysenter => {
            a.mov(ebp, esp)?;
            a.set_label(&mut entry)?;
            a.sysenter()?;
        }
        Vsyscall32::Syscall => {
            a.mov(ebp, ecx)?;
            a.set_label(&mut entry)?;
            a.syscall()?;
        }
        Vsyscall32::Int80 => {
            a.set_label(&mut entry)?;
        }
    }
    a.int(0x80)?;
    a.set_label(&mut landing)?;
    a.pop(ebp)?;
    a.pop(edx)?;
    a.pop(ecx)?;
    a.ret()?;
    let r = a.assemble_options(
        base,
        iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )?;
    Ok(Vdso32 {
        kernel_vsyscall: r.label_ip(&start)?,
        landing_pad: r.label_ip(&landing)?,
        entry_insn: r.label_ip(&entry)?,
        code: r.inner.code_buffer,
        base,
    })
}

/// The legacy vsyscall page contents (x86_64 numbers: gettimeofday 96,
/// time 201, getcpu 309).
pub fn vsyscall_page(base: u64) -> Result<Vec<u8>, IcedError> {
    let mut page = vec![0xCCu8; 0x1000];
    for (off, nr) in [(0u64, 96u32), (0x400, 201), (0x800, 309)] {
        let mut a = CodeAssembler::new(64)?;
        a.mov(eax, nr)?;
        a.syscall()?;
        a.ret()?;
        let code = a.assemble(base + off)?;
        page[off as usize..off as usize + code.len()].copy_from_slice(&code);
    }
    Ok(page)
}
