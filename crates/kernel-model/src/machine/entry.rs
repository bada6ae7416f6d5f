//! The kernel's entry and exit paths, as real x86 code assembled with
//! iced-x86's `code_asm` and executed by the emulated CPU.
//!
//! Each entry builds Linux's `struct pt_regs` on the kernel stack, then
//! makes the hypercall (`out HYPERCALL_PORT, eax` with the entry's number
//! in EAX) that hands the system call or exception to the Rust side, which
//! reads and writes `pt_regs` in guest memory. When it resumes, EAX says
//! whether the fast return (SYSRET/SYSEXIT) is allowed — Linux's
//! `do_syscall_64`/`do_fast_syscall_32` return value — and the stub restores
//! the registers and returns by SYSRETQ/SYSRETL/SYSEXIT or IRET.
//!
//! x86_64 flavor (arch/x86/entry/entry_64.S, entry_64_compat.S):
//! `entry_SYSCALL_64`, `entry_INT80_compat` (int 0x80 from 32- or 64-bit
//! user code), `entry_SYSENTER_compat` (Intel), `entry_SYSCALL_compat`
//! (AMD), and one exception entry per vector 0-31.
//! i386 flavor (arch/x86/entry/entry_32.S): `entry_INT80_32`,
//! `entry_SYSENTER_32`, and the exception entries.

use iced_x86::code_asm::*;
use iced_x86::{BlockEncoderOptions, IcedError};

use super::layout::{HYPERCALL_PORT, gdt32, gdt64};

/// Hypercall numbers: which entry made the call (and so which ABI and
/// `pt_regs` layout apply).
pub mod hc {
    /// `entry_SYSCALL_64`: x86_64 table, 64-bit `pt_regs`.
    pub const SYSCALL_64: u32 = 1;
    /// `entry_INT80_compat`: i386 table, 64-bit `pt_regs`.
    pub const INT80_COMPAT: u32 = 2;
    /// `entry_SYSENTER_compat`: i386 table, 64-bit `pt_regs`.
    pub const SYSENTER_COMPAT: u32 = 3;
    /// `entry_SYSCALL_compat`: i386 table, 64-bit `pt_regs`.
    pub const SYSCALL_COMPAT: u32 = 4;
    /// `entry_INT80_32`: i386 table, i386 `pt_regs`.
    pub const INT80_32: u32 = 5;
    /// `entry_SYSENTER_32`: i386 table, i386 `pt_regs`.
    pub const SYSENTER_32: u32 = 6;
    /// An exception entry (vector in EBX), flavor's `pt_regs`.
    pub const EXCEPTION: u32 = 7;
}

/// Per-CPU area offsets (x86_64 flavor, through GS after SWAPGS).
pub mod percpu {
    /// The area's own address.
    pub const SELF: u64 = 0x00;
    /// `cpu_current_top_of_stack`: the current task's kernel stack top.
    pub const TOP_OF_STACK: u64 = 0x08;
    /// Scratch slot for the user RSP during `entry_SYSCALL_64`
    /// (Linux uses `cpu_tss_rw.sp2`).
    pub const USER_RSP: u64 = 0x10;
}

/// Byte offsets of the 64-bit `struct pt_regs` fields, as `u64` for
/// address arithmetic (the layout itself is defined once, in
/// [`crate::syscalls::regs::off64`]).
pub mod regs64 {
    use crate::syscalls::regs::off64 as o;
    /// r15.
    pub const R15: u64 = o::R15 as u64;
    /// bp.
    pub const BP: u64 = o::BP as u64;
    /// bx.
    pub const BX: u64 = o::BX as u64;
    /// r11.
    pub const R11: u64 = o::R11 as u64;
    /// r10.
    pub const R10: u64 = o::R10 as u64;
    /// r9.
    pub const R9: u64 = o::R9 as u64;
    /// r8.
    pub const R8: u64 = o::R8 as u64;
    /// ax.
    pub const AX: u64 = o::AX as u64;
    /// cx.
    pub const CX: u64 = o::CX as u64;
    /// dx.
    pub const DX: u64 = o::DX as u64;
    /// si.
    pub const SI: u64 = o::SI as u64;
    /// di.
    pub const DI: u64 = o::DI as u64;
    /// orig_ax.
    pub const ORIG_AX: u64 = o::ORIG_AX as u64;
    /// ip.
    pub const IP: u64 = o::IP as u64;
    /// cs.
    pub const CS: u64 = o::CS as u64;
    /// flags.
    pub const FLAGS: u64 = o::FLAGS as u64;
    /// sp.
    pub const SP: u64 = o::SP as u64;
    /// ss.
    pub const SS: u64 = o::SS as u64;
    /// sizeof(struct pt_regs).
    pub const SIZE: u64 = crate::syscalls::regs::PtRegs64::SIZE as u64;
}

/// Byte offsets of the i386 `struct pt_regs` fields, as `u64` (defined once
/// in [`crate::syscalls::regs::off32`]).
pub mod regs32 {
    use crate::syscalls::regs::off32 as o;
    /// bx.
    pub const BX: u64 = o::BX as u64;
    /// cx.
    pub const CX: u64 = o::CX as u64;
    /// dx.
    pub const DX: u64 = o::DX as u64;
    /// si.
    pub const SI: u64 = o::SI as u64;
    /// di.
    pub const DI: u64 = o::DI as u64;
    /// bp.
    pub const BP: u64 = o::BP as u64;
    /// ax.
    pub const AX: u64 = o::AX as u64;
    /// ds.
    pub const DS: u64 = o::DS as u64;
    /// es.
    pub const ES: u64 = o::ES as u64;
    /// orig_ax.
    pub const ORIG_AX: u64 = o::ORIG_AX as u64;
    /// ip.
    pub const IP: u64 = o::IP as u64;
    /// cs.
    pub const CS: u64 = o::CS as u64;
    /// flags.
    pub const FLAGS: u64 = o::FLAGS as u64;
    /// sp.
    pub const SP: u64 = o::SP as u64;
    /// ss.
    pub const SS: u64 = o::SS as u64;
    /// sizeof(struct pt_regs).
    pub const SIZE: u64 = crate::syscalls::regs::PtRegs32::SIZE as u64;
}

/// Vectors whose exceptions push an error code (SDM Vol. 3 Table 6-1).
pub const fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10 | 11 | 12 | 13 | 14 | 17 | 21 | 29 | 30)
}

/// The assembled kernel text and the addresses of its entry points.
#[derive(Clone, Debug)]
pub struct EntryText {
    /// The machine code, to be placed at `base`.
    pub code: Vec<u8>,
    /// Virtual address of the first byte.
    pub base: u64,
    /// Named entry points (`entry_SYSCALL_64`, ...), and the
    /// addresses of the hypercall instructions (`hypercall:<entry>`).
    pub symbols: Vec<(String, u64)>,
    /// The exception entry of each vector 0-31.
    pub exceptions: [u64; 32],
}

impl EntryText {
    /// The address of a named symbol.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

/// Defines the symbol `name` at the current position.
fn mark(
    a: &mut CodeAssembler,
    labels: &mut Vec<(String, CodeLabel)>,
    name: &str,
) -> Result<(), IcedError> {
    let mut l = a.create_label();
    a.set_label(&mut l)?;
    labels.push((name.to_string(), l));
    Ok(())
}

/// The hypercall: `mov eax, nr; out HYPERCALL_PORT, eax`.
fn hypercall(a: &mut CodeAssembler, nr: u32) -> Result<(), IcedError> {
    a.mov(eax, nr)?;
    a.out(HYPERCALL_PORT as u32, eax)
}

/// Pushes the general registers of the 64-bit `pt_regs` below `orig_ax`
/// (di ... r15), with `ax` = -ENOSYS as Linux does.
fn push_regs64(a: &mut CodeAssembler, ax_enosys: bool) -> Result<(), IcedError> {
    a.push(rdi)?;
    a.push(rsi)?;
    a.push(rdx)?;
    a.push(rcx)?;
    if ax_enosys {
        a.push(-38i32)?;
    } else {
        a.push(rax)?;
    }
    a.push(r8)?;
    a.push(r9)?;
    a.push(r10)?;
    a.push(r11)?;
    a.push(rbx)?;
    a.push(rbp)?;
    a.push(r12)?;
    a.push(r13)?;
    a.push(r14)?;
    a.push(r15)
}

/// Pops every general register of the 64-bit `pt_regs` (r15 ... di).
fn pop_regs64(a: &mut CodeAssembler) -> Result<(), IcedError> {
    for r in [
        r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi,
    ] {
        a.pop(r)?;
    }
    Ok(())
}

/// The fast-return tail of the 64-bit entries: if EAX (the Rust side's
/// verdict) is zero, IRET; otherwise restore everything but RCX/R11 and
/// leave through SYSRET (`sysretq` or, for compat, `sysretl`).
fn return64(a: &mut CodeAssembler, sysret64: bool) -> Result<(), IcedError> {
    let mut slow = a.create_label();
    a.test(eax, eax)?;
    a.jz(slow)?;
    a.mov(rcx, qword_ptr(rsp + regs64::IP))?;
    a.mov(r11, qword_ptr(rsp + regs64::FLAGS))?;
    a.mov(qword_ptr(rsp + regs64::CX), rcx)?;
    a.mov(qword_ptr(rsp + regs64::R11), r11)?;
    pop_regs64(a)?;
    a.mov(rsp, qword_ptr(rsp + (regs64::SP - regs64::ORIG_AX)))?;
    a.swapgs()?;
    if sysret64 {
        a.sysretq()?;
    } else {
        a.sysret()?;
    }
    a.set_label(&mut slow)?;
    pop_regs64(a)?;
    a.add(rsp, 8)?;
    a.swapgs()?;
    a.iretq()
}

/// Assembles the x86_64 flavor's kernel text at virtual address `base`.
pub fn assemble_x86_64(base: u64) -> Result<EntryText, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    let mut labels = Vec::new();

    // entry_SYSCALL_64 (entry_64.S).
    mark(&mut a, &mut labels, "entry_SYSCALL_64")?;
    a.swapgs()?;
    a.mov(qword_ptr(percpu::USER_RSP).gs(), rsp)?;
    a.mov(rsp, qword_ptr(percpu::TOP_OF_STACK).gs())?;
    a.push(gdt64::USER_DS as i32)?;
    a.push(qword_ptr(percpu::USER_RSP).gs())?;
    a.push(r11)?;
    a.push(gdt64::USER_CS as i32)?;
    a.push(rcx)?;
    a.push(rax)?;
    push_regs64(&mut a, true)?;
    mark(&mut a, &mut labels, "hypercall:entry_SYSCALL_64")?;
    hypercall(&mut a, hc::SYSCALL_64)?;
    return64(&mut a, true)?;

    // entry_INT80_compat: the CPU has pushed SS, RSP, RFLAGS, CS, RIP on
    // the TSS RSP0 stack; int 0x80 always returns by IRET.
    mark(&mut a, &mut labels, "entry_INT80_compat")?;
    a.swapgs()?;
    a.mov(eax, eax)?;
    a.push(rax)?;
    push_regs64(&mut a, true)?;
    mark(&mut a, &mut labels, "hypercall:entry_INT80_compat")?;
    hypercall(&mut a, hc::INT80_COMPAT)?;
    pop_regs64(&mut a)?;
    a.add(rsp, 8)?;
    a.swapgs()?;
    a.iretq()?;

    // entry_SYSENTER_compat: RSP = IA32_SYSENTER_ESP (the task's kernel
    // stack top); the user stack pointer was stashed in EBP by the vDSO.
    mark(&mut a, &mut labels, "entry_SYSENTER_compat")?;
    a.swapgs()?;
    a.mov(eax, eax)?;
    a.push(gdt64::USER_DS as i32)?;
    a.mov(ebp, ebp)?;
    a.push(rbp)?;
    a.pushfq()?;
    a.or(qword_ptr(rsp), 0x200)?;
    a.push(gdt64::USER32_CS as i32)?;
    a.push(0)?;
    a.push(rax)?;
    push_regs64(&mut a, true)?;
    mark(&mut a, &mut labels, "hypercall:entry_SYSENTER_compat")?;
    hypercall(&mut a, hc::SYSENTER_COMPAT)?;
    return64(&mut a, false)?;

    // entry_SYSCALL_compat: RCX = return EIP, R11 = RFLAGS, RSP = user's.
    // The vDSO moved the second argument (ECX) to EBP.
    mark(&mut a, &mut labels, "entry_SYSCALL_compat")?;
    a.swapgs()?;
    a.mov(r8d, esp)?;
    a.mov(rsp, qword_ptr(percpu::TOP_OF_STACK).gs())?;
    a.mov(eax, eax)?;
    a.push(gdt64::USER_DS as i32)?;
    a.push(r8)?;
    a.push(r11)?;
    a.push(gdt64::USER32_CS as i32)?;
    a.push(rcx)?;
    a.push(rax)?;
    a.mov(ecx, ebp)?;
    push_regs64(&mut a, true)?;
    mark(&mut a, &mut labels, "hypercall:entry_SYSCALL_compat")?;
    hypercall(&mut a, hc::SYSCALL_COMPAT)?;
    return64(&mut a, false)?;

    // Exception entries: push -1 as orig_ax when the CPU pushed no error
    // code (the error code takes the orig_ax slot, as in Linux), SWAPGS
    // when coming from user mode, build pt_regs, hypercall with the
    // vector in EBX.
    let mut exc = Vec::new();
    for v in 0u8..32 {
        let mut l = a.create_label();
        a.set_label(&mut l)?;
        exc.push(l);
        if !has_error_code(v) {
            a.push(-1i32)?;
        }
        let mut kernel = a.create_label();
        a.test(byte_ptr(rsp + 16), 3)?;
        a.jz(kernel)?;
        a.swapgs()?;
        a.set_label(&mut kernel)?;
        push_regs64(&mut a, false)?;
        a.mov(ebx, v as u32)?;
        hypercall(&mut a, hc::EXCEPTION)?;
        pop_regs64(&mut a)?;
        a.add(rsp, 8)?;
        let mut kernel2 = a.create_label();
        a.test(byte_ptr(rsp + 8), 3)?;
        a.jz(kernel2)?;
        a.swapgs()?;
        a.set_label(&mut kernel2)?;
        a.iretq()?;
    }
    finish(a, base, labels, exc)
}

/// Pushes the i386 `pt_regs` below `orig_ax`: gs, fs, es, ds, then ax
/// (-ENOSYS), bp, di, si, dx, cx, bx; loads the kernel's data segments.
fn push_regs32(a: &mut CodeAssembler, ax_enosys: bool) -> Result<(), IcedError> {
    a.push(gs)?;
    a.push(fs)?;
    a.push(es)?;
    a.push(ds)?;
    if ax_enosys {
        a.push(-38i32)?;
    } else {
        a.push(eax)?;
    }
    for r in [ebp, edi, esi, edx, ecx, ebx] {
        a.push(r)?;
    }
    // Linux runs the i386 kernel with __USER_DS in DS/ES.
    a.mov(edx, gdt32::USER_DS as u32)?;
    a.mov(ds, dx)?;
    a.mov(es, dx)
}

fn pop_regs32(a: &mut CodeAssembler) -> Result<(), IcedError> {
    for r in [ebx, ecx, edx, esi, edi, ebp, eax] {
        a.pop(r)?;
    }
    a.pop(ds)?;
    a.pop(es)?;
    a.pop(fs)?;
    a.pop(gs)
}

/// Assembles the i386 flavor's kernel text at virtual address `base`.
pub fn assemble_i386(base: u64) -> Result<EntryText, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut labels = Vec::new();

    // entry_INT80_32 (entry_32.S).
    mark(&mut a, &mut labels, "entry_INT80_32")?;
    a.push(eax)?;
    push_regs32(&mut a, true)?;
    mark(&mut a, &mut labels, "hypercall:entry_INT80_32")?;
    hypercall(&mut a, hc::INT80_32)?;
    pop_regs32(&mut a)?;
    a.add(esp, 4)?;
    a.iretd()?;

    // entry_SYSENTER_32: ESP = IA32_SYSENTER_ESP; the vDSO stashed the
    // user ESP in EBP. Returns by SYSEXIT (EDX = EIP, ECX = ESP) when the
    // Rust side allows it, else by IRET.
    mark(&mut a, &mut labels, "entry_SYSENTER_32")?;
    a.push(gdt32::USER_DS as u32)?;
    a.push(ebp)?;
    a.pushfd()?;
    a.or(dword_ptr(esp), 0x200)?;
    a.push(gdt32::USER_CS as u32)?;
    a.push(0)?;
    a.push(eax)?;
    push_regs32(&mut a, true)?;
    mark(&mut a, &mut labels, "hypercall:entry_SYSENTER_32")?;
    hypercall(&mut a, hc::SYSENTER_32)?;
    let mut slow = a.create_label();
    a.test(eax, eax)?;
    a.jz(slow)?;
    pop_regs32(&mut a)?;
    a.add(esp, 4)?;
    // [esp] = ip, cs, flags, sp, ss.
    a.mov(edx, dword_ptr(esp))?;
    a.mov(ecx, dword_ptr(esp + 12))?;
    a.and(dword_ptr(esp + 8), !0x200i32)?;
    a.push(dword_ptr(esp + 8))?;
    a.popfd()?;
    a.sti()?;
    a.sysexit()?;
    a.set_label(&mut slow)?;
    pop_regs32(&mut a)?;
    a.add(esp, 4)?;
    a.iretd()?;

    let mut exc = Vec::new();
    for v in 0u8..32 {
        let mut l = a.create_label();
        a.set_label(&mut l)?;
        exc.push(l);
        if !has_error_code(v) {
            a.push(-1i32)?;
        }
        push_regs32(&mut a, false)?;
        a.mov(ebx, v as u32)?;
        hypercall(&mut a, hc::EXCEPTION)?;
        pop_regs32(&mut a)?;
        a.add(esp, 4)?;
        a.iretd()?;
    }
    finish(a, base, labels, exc)
}

fn finish(
    mut a: CodeAssembler,
    base: u64,
    labels: Vec<(String, CodeLabel)>,
    exc: Vec<CodeLabel>,
) -> Result<EntryText, IcedError> {
    let r = a.assemble_options(base, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)?;
    let mut symbols = Vec::new();
    for (name, l) in &labels {
        symbols.push((name.clone(), r.label_ip(l)?));
    }
    let mut exceptions = [0u64; 32];
    for (k, l) in exc.iter().enumerate() {
        exceptions[k] = r.label_ip(l)?;
    }
    Ok(EntryText {
        code: r.inner.code_buffer,
        base,
        symbols,
        exceptions,
    })
}
