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
    let time = time32(&mut a, base)?;
    let r = a.assemble_options(
        base + TEXT,
        iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )?;
    let kernel_vsyscall = r.label_ip(&start)?;
    let landing_pad = r.label_ip(&landing)?;
    let entry_insn = r.label_ip(&entry)?;
    let sigreturn = r.label_ip(&sigret)?;
    let rt_sigreturn = r.label_ip(&rt_sigret)?;
    let mut tf = [0u64; 5];
    for (k, l) in time.iter().enumerate() {
        tf[k] = r.label_ip(l)? - base;
    }
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
        ("__vdso_clock_gettime", tf[0], 0),
        ("__vdso_clock_gettime64", tf[1], 0),
        ("__vdso_gettimeofday", tf[2], 0),
        ("__vdso_time", tf[3], 0),
        ("__vdso_clock_getres", tf[4], 0),
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

/// Where in each vDSO page the clock parameters are (the kernel writes
/// them; Linux keeps them in the vvar page): the modeled frequency (u64),
/// the boot epoch (i64), and at +16 a u32 that is 1 when the frequency
/// fits 32 bits (the i386 code's divisions need it; otherwise it makes the
/// system call).
pub const PARAMS: u64 = 0xF00;

/// The clock parameters as stored at [`PARAMS`].
pub fn params(freq_hz: u64, boot_epoch: i64) -> [u8; 24] {
    let mut b = [0u8; 24];
    let f = freq_hz.max(1);
    b[..8].copy_from_slice(&f.to_le_bytes());
    b[8..16].copy_from_slice(&boot_epoch.to_le_bytes());
    b[16..20].copy_from_slice(&u32::from(f < 1 << 32).to_le_bytes());
    b
}

/// Clock ids the vDSO answers itself: realtime (REALTIME, TAI), coarse
/// realtime, monotonic (MONOTONIC, MONOTONIC_RAW, BOOTTIME), coarse
/// monotonic. Anything else is a system call, as Linux's vDSO does for the
/// CPU-time clocks.
const CLOCK_REALTIME_IDS: [u32; 2] = [0, 11];
const CLOCK_MONOTONIC_IDS: [u32; 3] = [1, 4, 7];
const CLOCK_REALTIME_COARSE: u32 = 5;
const CLOCK_MONOTONIC_COARSE: u32 = 6;
/// Coarse clocks' resolution (the syscalls' `COARSE_NS`).
const COARSE_NS: u32 = 4_000_000;

/// The i386 time functions (`__vdso_clock_gettime`, `_clock_gettime64`,
/// `_gettimeofday`, `_time`, `_clock_getres`), computing the time from
/// RDTSC (the modeled cycle counter) exactly as the system calls do from
/// the same count: seconds = cycles / f, nanoseconds = (cycles % f) * 1e9
/// / f, plus the boot epoch for realtime clocks. Returns their labels.
fn time32(a: &mut CodeAssembler, base: u64) -> Result<[CodeLabel; 5], IcedError> {
    let freq = (base + PARAMS) as u32;
    let epoch = freq + 8;
    let ok = freq + 16;
    let mut now = a.create_label();
    // now: EAX = seconds since boot (low 32 bits), EDX = nanoseconds;
    // ECX clobbered.
    a.set_label(&mut now)?;
    a.push(ebx)?;
    a.rdtsc()?;
    a.mov(ebx, dword_ptr(freq))?;
    a.mov(ecx, eax)?;
    a.mov(eax, edx)?;
    a.xor(edx, edx)?;
    a.div(ebx)?;
    a.mov(eax, ecx)?;
    a.div(ebx)?;
    a.mov(ecx, eax)?;
    a.mov(eax, edx)?;
    a.mov(edx, 1_000_000_000u32)?;
    a.mul(edx)?;
    a.div(ebx)?;
    a.mov(edx, eax)?;
    a.mov(eax, ecx)?;
    a.pop(ebx)?;
    a.ret()?;
    // coarse: EDX -= EDX % COARSE_NS (EAX kept).
    let mut coarse = a.create_label();
    a.set_label(&mut coarse)?;
    a.push(eax)?;
    a.push(ebx)?;
    a.mov(eax, edx)?;
    a.xor(edx, edx)?;
    a.mov(ebx, COARSE_NS)?;
    a.div(ebx)?;
    a.mul(ebx)?;
    a.mov(edx, eax)?;
    a.pop(ebx)?;
    a.pop(eax)?;
    a.ret()?;
    // pick: from the clock id in EAX, computes the time into EAX (seconds,
    // low), EDX (nanoseconds), ECX (seconds, high); CF set when the id is
    // not handled here.
    let mut pick = a.create_label();
    let mut fail = a.create_label();
    let mut rt = a.create_label();
    let mut rt_coarse = a.create_label();
    let mut mono = a.create_label();
    let mut mono_coarse = a.create_label();
    a.set_label(&mut pick)?;
    a.cmp(dword_ptr(ok), 0)?;
    a.je(fail)?;
    for id in CLOCK_REALTIME_IDS {
        a.cmp(eax, id)?;
        a.je(rt)?;
    }
    for id in CLOCK_MONOTONIC_IDS {
        a.cmp(eax, id)?;
        a.je(mono)?;
    }
    a.cmp(eax, CLOCK_REALTIME_COARSE)?;
    a.je(rt_coarse)?;
    a.cmp(eax, CLOCK_MONOTONIC_COARSE)?;
    a.je(mono_coarse)?;
    a.set_label(&mut fail)?;
    a.stc()?;
    a.ret()?;
    a.set_label(&mut rt_coarse)?;
    a.call(now)?;
    a.call(coarse)?;
    let mut add_epoch = a.create_label();
    a.jmp(add_epoch)?;
    a.set_label(&mut rt)?;
    a.call(now)?;
    a.set_label(&mut add_epoch)?;
    a.xor(ecx, ecx)?;
    a.add(eax, dword_ptr(epoch))?;
    a.adc(ecx, dword_ptr(epoch + 4))?;
    a.clc()?;
    a.ret()?;
    a.set_label(&mut mono_coarse)?;
    a.call(now)?;
    a.call(coarse)?;
    a.xor(ecx, ecx)?;
    a.clc()?;
    a.ret()?;
    a.set_label(&mut mono)?;
    a.call(now)?;
    a.xor(ecx, ecx)?;
    a.clc()?;
    a.ret()?;

    // The system-call fallback: EAX = number, args at [esp+4], [esp+8]
    // of the caller's frame (the fallback is jumped to, not called).
    let sys2 = |a: &mut CodeAssembler| -> Result<(), IcedError> {
        a.push(ebx)?;
        a.mov(ebx, dword_ptr(esp + 8))?;
        a.mov(ecx, dword_ptr(esp + 12))?;
        a.int(0x80)?;
        a.pop(ebx)?;
        a.ret()
    };
    let mut labels = [
        a.create_label(),
        a.create_label(),
        a.create_label(),
        a.create_label(),
        a.create_label(),
    ];
    // __vdso_clock_gettime(clockid, struct old_timespec32 *).
    a.set_label(&mut labels[0])?;
    let mut slow = a.create_label();
    a.mov(eax, dword_ptr(esp + 4))?;
    a.call(pick)?;
    a.jc(slow)?;
    a.mov(ecx, dword_ptr(esp + 8))?;
    a.mov(dword_ptr(ecx), eax)?;
    a.mov(dword_ptr(ecx + 4), edx)?;
    a.xor(eax, eax)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov(eax, 265u32)?; // clock_gettime
    sys2(a)?;
    // __vdso_clock_gettime64(clockid, struct __kernel_timespec *).
    a.set_label(&mut labels[1])?;
    let mut slow = a.create_label();
    a.mov(eax, dword_ptr(esp + 4))?;
    a.call(pick)?;
    a.jc(slow)?;
    a.push(ebx)?;
    a.mov(ebx, dword_ptr(esp + 12))?;
    a.mov(dword_ptr(ebx), eax)?;
    a.mov(dword_ptr(ebx + 4), ecx)?;
    a.mov(dword_ptr(ebx + 8), edx)?;
    a.mov(dword_ptr(ebx + 12), 0u32)?;
    a.pop(ebx)?;
    a.xor(eax, eax)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov(eax, 403u32)?; // clock_gettime64
    sys2(a)?;
    // __vdso_gettimeofday(struct timeval *, struct timezone *).
    a.set_label(&mut labels[2])?;
    let mut slow = a.create_label();
    let mut no_tv = a.create_label();
    let mut no_tz = a.create_label();
    a.cmp(dword_ptr(ok), 0)?;
    a.je(slow)?;
    a.cmp(dword_ptr(esp + 4), 0)?;
    a.je(no_tv)?;
    a.call(now)?;
    a.add(eax, dword_ptr(epoch))?;
    a.mov(ecx, dword_ptr(esp + 4))?;
    a.mov(dword_ptr(ecx), eax)?;
    a.mov(eax, edx)?;
    a.xor(edx, edx)?;
    a.push(ebx)?;
    a.mov(ebx, 1000u32)?;
    a.div(ebx)?;
    a.pop(ebx)?;
    a.mov(dword_ptr(ecx + 4), eax)?;
    a.set_label(&mut no_tv)?;
    a.mov(ecx, dword_ptr(esp + 8))?;
    a.test(ecx, ecx)?;
    a.je(no_tz)?;
    a.mov(dword_ptr(ecx), 0u32)?;
    a.mov(dword_ptr(ecx + 4), 0u32)?;
    a.set_label(&mut no_tz)?;
    a.xor(eax, eax)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov(eax, 78u32)?; // gettimeofday
    sys2(a)?;
    // __vdso_time(time_t *).
    a.set_label(&mut labels[3])?;
    let mut slow = a.create_label();
    let mut no_t = a.create_label();
    a.cmp(dword_ptr(ok), 0)?;
    a.je(slow)?;
    a.call(now)?;
    a.add(eax, dword_ptr(epoch))?;
    a.mov(ecx, dword_ptr(esp + 4))?;
    a.test(ecx, ecx)?;
    a.je(no_t)?;
    a.mov(dword_ptr(ecx), eax)?;
    a.set_label(&mut no_t)?;
    a.ret()?;
    a.set_label(&mut slow)?;
    a.mov(eax, 13u32)?; // time
    sys2(a)?;
    // __vdso_clock_getres: the system call.
    a.set_label(&mut labels[4])?;
    a.mov(eax, 266u32)?;
    sys2(a)?;
    Ok(labels)
}

/// The 64-bit vDSO: one page with an ELF64 image exporting
/// `__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_time`,
/// `__vdso_getcpu`, `__vdso_clock_getres` (and the unprefixed weak names
/// Linux also exports), mapped into 64-bit processes (AT_SYSINFO_EHDR).
#[derive(Clone, Debug)]
pub struct Vdso64 {
    /// The page, placed at `base`.
    pub code: Vec<u8>,
    /// Virtual address of the page.
    pub base: u64,
}

/// Assembles the 64-bit vDSO at `base`.
pub fn vdso64(base: u64) -> Result<Vdso64, IcedError> {
    const TEXT64: u64 = 0x600;
    let freq = base + PARAMS;
    let epoch = freq + 8;
    let mut a = CodeAssembler::new(64)?;
    let mut now = a.create_label();
    // now: RAX = seconds since boot, RDX = nanoseconds; RCX, R8
    // clobbered.
    a.set_label(&mut now)?;
    a.rdtsc()?;
    a.shl(rdx, 32)?;
    a.or(rax, rdx)?;
    a.xor(edx, edx)?;
    a.mov(r8, freq)?;
    a.div(qword_ptr(r8))?;
    a.mov(rcx, rax)?;
    a.mov(rax, rdx)?;
    a.mov(edx, 1_000_000_000u32)?;
    a.mul(rdx)?;
    a.div(qword_ptr(r8))?;
    a.mov(rdx, rax)?;
    a.mov(rax, rcx)?;
    a.ret()?;
    let mut coarse = a.create_label();
    a.set_label(&mut coarse)?;
    a.mov(rcx, rax)?;
    a.mov(eax, edx)?;
    a.xor(edx, edx)?;
    a.mov(r8d, COARSE_NS)?;
    a.div(r8)?;
    a.mul(r8)?;
    a.mov(rdx, rax)?;
    a.mov(rax, rcx)?;
    a.ret()?;
    let mut add_epoch = a.create_label();
    a.set_label(&mut add_epoch)?;
    a.mov(r8, epoch)?;
    a.add(rax, qword_ptr(r8))?;
    a.ret()?;

    let mut labels: Vec<CodeLabel> = (0..5).map(|_| a.create_label()).collect();
    // __vdso_clock_gettime(clockid, struct __kernel_timespec *).
    a.set_label(&mut labels[0])?;
    let (mut rt, mut rtc, mut mono, mut monoc, mut store) = (
        a.create_label(),
        a.create_label(),
        a.create_label(),
        a.create_label(),
        a.create_label(),
    );
    for id in CLOCK_REALTIME_IDS {
        a.cmp(edi, id)?;
        a.je(rt)?;
    }
    for id in CLOCK_MONOTONIC_IDS {
        a.cmp(edi, id)?;
        a.je(mono)?;
    }
    a.cmp(edi, CLOCK_REALTIME_COARSE)?;
    a.je(rtc)?;
    a.cmp(edi, CLOCK_MONOTONIC_COARSE)?;
    a.je(monoc)?;
    a.mov(eax, 228u32)?; // clock_gettime
    a.syscall()?;
    a.ret()?;
    a.set_label(&mut rt)?;
    a.call(now)?;
    a.call(add_epoch)?;
    a.jmp(store)?;
    a.set_label(&mut rtc)?;
    a.call(now)?;
    a.call(coarse)?;
    a.call(add_epoch)?;
    a.jmp(store)?;
    a.set_label(&mut monoc)?;
    a.call(now)?;
    a.call(coarse)?;
    a.jmp(store)?;
    a.set_label(&mut mono)?;
    a.call(now)?;
    a.set_label(&mut store)?;
    a.mov(qword_ptr(rsi), rax)?;
    a.mov(qword_ptr(rsi + 8), rdx)?;
    a.xor(eax, eax)?;
    a.ret()?;
    // __vdso_gettimeofday(struct timeval *, struct timezone *).
    a.set_label(&mut labels[1])?;
    let (mut no_tv, mut no_tz) = (a.create_label(), a.create_label());
    a.test(rdi, rdi)?;
    a.je(no_tv)?;
    a.call(now)?;
    a.call(add_epoch)?;
    a.mov(qword_ptr(rdi), rax)?;
    a.mov(eax, edx)?;
    a.xor(edx, edx)?;
    a.mov(ecx, 1000u32)?;
    a.div(rcx)?;
    a.mov(qword_ptr(rdi + 8), rax)?;
    a.set_label(&mut no_tv)?;
    a.test(rsi, rsi)?;
    a.je(no_tz)?;
    a.mov(qword_ptr(rsi), 0)?;
    a.set_label(&mut no_tz)?;
    a.xor(eax, eax)?;
    a.ret()?;
    // __vdso_time(time_t *).
    a.set_label(&mut labels[2])?;
    let mut no_t = a.create_label();
    a.call(now)?;
    a.call(add_epoch)?;
    a.test(rdi, rdi)?;
    a.je(no_t)?;
    a.mov(qword_ptr(rdi), rax)?;
    a.set_label(&mut no_t)?;
    a.ret()?;
    // __vdso_getcpu(unsigned *cpu, unsigned *node, void *): CPU 0, node 0.
    a.set_label(&mut labels[3])?;
    let (mut no_cpu, mut no_node) = (a.create_label(), a.create_label());
    a.test(rdi, rdi)?;
    a.je(no_cpu)?;
    a.mov(dword_ptr(rdi), 0)?;
    a.set_label(&mut no_cpu)?;
    a.test(rsi, rsi)?;
    a.je(no_node)?;
    a.mov(dword_ptr(rsi), 0)?;
    a.set_label(&mut no_node)?;
    a.xor(eax, eax)?;
    a.ret()?;
    // __vdso_clock_getres: the system call.
    a.set_label(&mut labels[4])?;
    a.mov(eax, 229u32)?;
    a.syscall()?;
    a.ret()?;
    let r = a.assemble_options(
        base + TEXT64,
        iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )?;
    let mut syms = Vec::new();
    for (k, name) in [
        "clock_gettime",
        "gettimeofday",
        "time",
        "getcpu",
        "clock_getres",
    ]
    .iter()
    .enumerate()
    {
        let off = r.label_ip(&labels[k])? - base;
        syms.push((format!("__vdso_{name}"), off));
        syms.push((name.to_string(), off));
    }
    let text = r.inner.code_buffer;
    let mut page = elf64_image(&syms, TEXT64);
    let at = TEXT64 as usize;
    page[at..at + text.len()].copy_from_slice(&text);
    Ok(Vdso64 { code: page, base })
}

/// A one-page ELF64 ET_DYN image (linked at 0) with PT_LOAD and
/// PT_DYNAMIC and a SysV hash table over `syms` (name, offset).
fn elf64_image(syms: &[(String, u64)], entry: u64) -> Vec<u8> {
    const HASH: usize = 0x100;
    const DYNSYM: usize = 0x180;
    const DYNSTR: usize = 0x380;
    const DYNAMIC: usize = 0x500;
    let mut p = vec![0u8; 0x1000];
    let w16 = |v: u16| v.to_le_bytes();
    let w32 = |v: u32| v.to_le_bytes();
    let w64 = |v: u64| v.to_le_bytes();
    put(&mut p, 0, b"\x7fELF\x02\x01\x01");
    put(&mut p, 16, &w16(3)); // ET_DYN
    put(&mut p, 18, &w16(62)); // EM_X86_64
    put(&mut p, 20, &w32(1));
    put(&mut p, 24, &w64(entry));
    put(&mut p, 32, &w64(64)); // e_phoff
    put(&mut p, 52, &w16(64)); // e_ehsize
    put(&mut p, 54, &w16(56)); // e_phentsize
    put(&mut p, 56, &w16(2)); // e_phnum
    put(&mut p, 58, &w16(64)); // e_shentsize
    // PT_LOAD (R+X), the whole page.
    let ph = 64;
    put(&mut p, ph, &w32(1));
    put(&mut p, ph + 4, &w32(5));
    for (k, v) in [0u64, 0, 0, 0x1000, 0x1000, 0x1000].iter().enumerate() {
        put(&mut p, ph + 8 + 8 * k, &w64(*v));
    }
    // PT_DYNAMIC (R).
    let ph2 = ph + 56;
    put(&mut p, ph2, &w32(2));
    put(&mut p, ph2 + 4, &w32(4));
    let d = DYNAMIC as u64;
    for (k, v) in [d, d, d, 96, 96, 8].iter().enumerate() {
        put(&mut p, ph2 + 8 + 8 * k, &w64(*v));
    }
    let mut strtab = vec![0u8];
    let n = syms.len() as u32 + 1;
    for (k, (name, off)) in syms.iter().enumerate() {
        let name_at = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        let at = DYNSYM + 24 * (k + 1);
        put(&mut p, at, &w32(name_at));
        // Linux exports the unprefixed names as weak.
        p[at + 4] = if name.starts_with("__vdso_") {
            0x12
        } else {
            0x22
        };
        put(&mut p, at + 6, &w16(1)); // defined
        put(&mut p, at + 8, &w64(*off));
    }
    put(&mut p, DYNSTR, &strtab);
    put_hash_and_dynamic(
        &mut p,
        [HASH, DYNSYM, DYNSTR, DYNAMIC],
        n,
        strtab.len(),
        true,
    );
    p
}

/// A one-page ELF32 ET_DYN image (linked at 0) with PT_LOAD and
/// PT_DYNAMIC and a SysV hash table over `syms` (name, offset, size).
fn elf32_image(syms: &[(&str, u64, u32)]) -> Vec<u8> {
    const HASH: usize = 0x100;
    const DYNSYM: usize = 0x140;
    const DYNSTR: usize = 0x200;
    const DYNAMIC: usize = 0x300;
    let mut p = vec![0u8; 0x1000];
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
    put_hash_and_dynamic(
        &mut p,
        [HASH, DYNSYM, DYNSTR, DYNAMIC],
        n,
        strtab.len(),
        false,
    );
    p
}

/// Copies `v` into the image at `at`.
fn put(p: &mut [u8], at: usize, v: &[u8]) {
    p[at..at + v.len()].copy_from_slice(v);
}

/// What both vDSO images share, at `[hash, dynsym, dynstr, dynamic]`: a
/// SysV hash table with one bucket chaining the `n` symbols (entries are
/// 32-bit words in both ELF classes), and the dynamic section (DT_HASH,
/// DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_NULL) in the class's word
/// size (`wide`: ELF64, whose symbols are 24 bytes; ELF32's are 16).
fn put_hash_and_dynamic(p: &mut [u8], at: [usize; 4], n: u32, strsz: usize, wide: bool) {
    let [hash, dynsym, dynstr, dynamic] = at;
    put(p, hash, &1u32.to_le_bytes());
    put(p, hash + 4, &n.to_le_bytes());
    put(p, hash + 8, &u32::from(n > 1).to_le_bytes());
    for k in 1..n {
        let next = if k + 1 < n { k + 1 } else { 0 };
        put(p, hash + 12 + 4 * k as usize, &next.to_le_bytes());
    }
    let entries = [
        (4u64, hash as u64),
        (5, dynstr as u64),
        (6, dynsym as u64),
        (10, strsz as u64),
        (11, if wide { 24 } else { 16 }),
        (0, 0),
    ];
    for (k, (tag, val)) in entries.into_iter().enumerate() {
        if wide {
            put(p, dynamic + 16 * k, &tag.to_le_bytes());
            put(p, dynamic + 16 * k + 8, &val.to_le_bytes());
        } else {
            put(p, dynamic + 8 * k, &(tag as u32).to_le_bytes());
            put(p, dynamic + 8 * k + 4, &(val as u32).to_le_bytes());
        }
    }
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
