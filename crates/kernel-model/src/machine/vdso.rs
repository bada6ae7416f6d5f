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
//! The page is a real ELF image: AT_SYSINFO_EHDR points at its header, and
//! its dynamic symbol table exports `__kernel_vsyscall` and
//! `int80_landing_pad` (AT_SYSINFO points at the former).
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

/// Offset of the code inside the vDSO image.
const TEXT: u64 = 0x400;

/// The 32-bit vDSO: one page holding a real ELF image (ET_DYN, with a
/// dynamic symbol table exporting `__kernel_vsyscall`, so loaders that
/// parse AT_SYSINFO_EHDR find it) and the trampoline code.
#[derive(Clone, Debug)]
pub struct Vdso32 {
    /// The page, placed at `base`.
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
    /// `__kernel_sigreturn`: `pop eax; mov eax, 119; int $0x80`, the
    /// return address of i386 non-RT signal frames without SA_RESTORER.
    pub sigreturn: u64,
    /// `__kernel_rt_sigreturn`: `mov eax, 173; int $0x80`, the return
    /// address of i386 RT signal frames without SA_RESTORER.
    pub rt_sigreturn: u64,
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
    // arch/x86/entry/vdso/vdso32/sigreturn.S.
    let mut sigret = a.create_label();
    let mut rt_sigret = a.create_label();
    a.set_label(&mut sigret)?;
    a.pop(eax)?;
    a.mov(eax, 119u32)?; // __NR_sigreturn
    a.int(0x80)?;
    a.set_label(&mut rt_sigret)?;
    a.mov(eax, 173u32)?; // __NR_rt_sigreturn
    a.int(0x80)?;
    let r = a.assemble_options(
        base + TEXT,
        iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )?;
    let kernel_vsyscall = r.label_ip(&start)?;
    let landing_pad = r.label_ip(&landing)?;
    let entry_insn = r.label_ip(&entry)?;
    let sigreturn = r.label_ip(&sigret)?;
    let rt_sigreturn = r.label_ip(&rt_sigret)?;
    let text = r.inner.code_buffer;
    let mut page = elf32_image(&[
        (
            "__kernel_vsyscall",
            kernel_vsyscall - base,
            (landing_pad - kernel_vsyscall) as u32 + 4,
        ),
        ("int80_landing_pad", landing_pad - base, 4),
        ("__kernel_sigreturn", sigreturn - base, 8),
        ("__kernel_rt_sigreturn", rt_sigreturn - base, 7),
    ]);
    let at = TEXT as usize;
    page[at..at + text.len()].copy_from_slice(&text);
    Ok(Vdso32 {
        kernel_vsyscall,
        landing_pad,
        entry_insn,
        sigreturn,
        rt_sigreturn,
        code: page,
        base,
    })
}

/// A one-page ELF32 ET_DYN image (linked at 0) with PT_LOAD and
/// PT_DYNAMIC and a SysV hash table over `syms` (name, offset, size).
fn elf32_image(syms: &[(&str, u64, u32)]) -> Vec<u8> {
    const HASH: usize = 0x100;
    const DYNSYM: usize = 0x140;
    const DYNSTR: usize = 0x200;
    const DYNAMIC: usize = 0x300;
    let mut p = vec![0u8; 0x1000];
    fn put(p: &mut [u8], at: usize, v: &[u8]) {
        p[at..at + v.len()].copy_from_slice(v);
    }
    let w16 = |v: u16| v.to_le_bytes();
    let w32 = |v: u32| v.to_le_bytes();
    // ELF header.
    put(&mut p, 0, b"\x7fELF\x01\x01\x01");
    put(&mut p, 16, &w16(3)); // ET_DYN
    put(&mut p, 18, &w16(3)); // EM_386
    put(&mut p, 20, &w32(1));
    put(&mut p, 24, &w32(TEXT as u32)); // e_entry
    put(&mut p, 28, &w32(52)); // e_phoff
    put(&mut p, 40, &w16(52)); // e_ehsize
    put(&mut p, 42, &w16(32)); // e_phentsize
    put(&mut p, 44, &w16(2)); // e_phnum
    put(&mut p, 46, &w16(40)); // e_shentsize
    // PT_LOAD: the whole page, R+X.
    let ph = 52;
    for (k, v) in [1u32, 0, 0, 0, 0x1000, 0x1000, 5, 0x1000]
        .iter()
        .enumerate()
    {
        put(&mut p, ph + 4 * k, &w32(*v));
    }
    // PT_DYNAMIC.
    let ph2 = ph + 32;
    let d = DYNAMIC as u32;
    for (k, v) in [2u32, d, d, d, 48, 48, 4, 4].iter().enumerate() {
        put(&mut p, ph2 + 4 * k, &w32(*v));
    }
    // Strings and symbols (index 0 is the null symbol).
    let mut strtab = vec![0u8];
    let n = syms.len() as u32 + 1;
    for (k, (name, off, size)) in syms.iter().enumerate() {
        let name_at = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        let at = DYNSYM + 16 * (k + 1);
        put(&mut p, at, &w32(name_at));
        put(&mut p, at + 4, &w32(*off as u32));
        put(&mut p, at + 8, &w32(*size));
        p[at + 12] = 0x12; // STB_GLOBAL, STT_FUNC
        put(&mut p, at + 14, &w16(1)); // defined (not SHN_UNDEF)
    }
    put(&mut p, DYNSTR, &strtab);
    // SysV hash: one bucket chaining every symbol.
    put(&mut p, HASH, &w32(1));
    put(&mut p, HASH + 4, &w32(n));
    put(&mut p, HASH + 8, &w32(if n > 1 { 1 } else { 0 }));
    for k in 1..n {
        let next = if k + 1 < n { k + 1 } else { 0 };
        put(&mut p, HASH + 12 + 4 * k as usize, &w32(next));
    }
    // DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_NULL.
    let dynamic = [
        (4u32, HASH as u32),
        (5, DYNSTR as u32),
        (6, DYNSYM as u32),
        (10, strtab.len() as u32),
        (11, 16),
        (0, 0),
    ];
    for (k, (tag, val)) in dynamic.iter().enumerate() {
        put(&mut p, DYNAMIC + 8 * k, &w32(*tag));
        put(&mut p, DYNAMIC + 8 * k + 4, &w32(*val));
    }
    p
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vdso_is_an_elf_image_exporting_kernel_vsyscall() {
        let v = vdso32(0xF7FF_0000, Vsyscall32::Sysenter).unwrap();
        assert_eq!(&v.code[..4], b"\x7fELF");
        assert_eq!(v.code.len(), 0x1000);
        // The first symbol is __kernel_vsyscall at its address.
        let sym = 0x150;
        let value = u32::from_le_bytes(v.code[sym + 4..sym + 8].try_into().unwrap()) as u64;
        assert_eq!(v.base + value, v.kernel_vsyscall);
        let name_at = 0x200 + u32::from_le_bytes(v.code[sym..sym + 4].try_into().unwrap()) as usize;
        assert_eq!(&v.code[name_at..name_at + 17], b"__kernel_vsyscall");
        // The code starts with push ecx; push edx; push ebp.
        let off = (v.kernel_vsyscall - v.base) as usize;
        assert_eq!(&v.code[off..off + 3], &[0x51, 0x52, 0x55]);
        // __kernel_sigreturn and __kernel_rt_sigreturn, as Linux's
        // vdso32/sigreturn.S.
        let s = (v.sigreturn - v.base) as usize;
        assert_eq!(&v.code[s..s + 8], &[0x58, 0xB8, 119, 0, 0, 0, 0xCD, 0x80]);
        let r = (v.rt_sigreturn - v.base) as usize;
        assert_eq!(&v.code[r..r + 7], &[0xB8, 173, 0, 0, 0, 0xCD, 0x80]);
    }
}
