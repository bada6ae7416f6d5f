//! Where the kernel model puts things: the guest physical memory map, the
//! kernel's virtual addresses, and Linux's GDT selector layout for both
//! kernel flavors (arch/x86/include/asm/segment.h).

/// Guest RAM of a machine unless configured otherwise (backed lazily).
pub const DEFAULT_RAM: u64 = 512 << 20;

/// Physical base of the kernel image (text, descriptor tables, per-CPU
/// data), as Linux loads at 16 MiB... here at 1 MiB to leave low memory
/// for real-mode structures.
pub const KERNEL_PHYS: u64 = 0x10_0000;
/// Bytes reserved for the kernel image region.
pub const KERNEL_SIZE: u64 = 0x40_0000;
/// First physical frame handed out by the frame allocator (page tables,
/// kernel stacks, user pages).
pub const FRAMES_START: u64 = 0x100_0000;

/// Offsets inside the kernel image region.
pub mod image {
    /// Entry stubs and other kernel text.
    pub const TEXT: u64 = 0x0;
    /// Size reserved for kernel text.
    pub const TEXT_SIZE: u64 = 0x2_0000;
    /// The GDT.
    pub const GDT: u64 = 0x2_0000;
    /// The IDT.
    pub const IDT: u64 = 0x2_1000;
    /// The TSS.
    pub const TSS: u64 = 0x2_2000;
    /// The per-CPU area (x86_64: what KERNEL_GS_BASE points at).
    pub const PERCPU: u64 = 0x2_3000;
    /// The double-fault stack (IST1 on x86_64), top of this page.
    pub const DF_STACK: u64 = 0x2_4000;
    /// The vDSO image (32-bit; the vsyscall page follows it).
    pub const VDSO: u64 = 0x3_0000;
    /// The 64-bit vDSO image.
    pub const VDSO64: u64 = 0x3_2000;
}

/// x86_64 flavor: the kernel image is mapped at Linux's
/// `__START_KERNEL_map` (physical 0 at this virtual address).
pub const X86_64_KERNEL_MAP: u64 = 0xFFFF_FFFF_8000_0000;
/// i386 flavor: `PAGE_OFFSET`, the 3G/1G split (physical 0 here).
pub const I386_PAGE_OFFSET: u64 = 0xC000_0000;
/// Physical memory the kernel maps at its base (both flavors).
pub const KERNEL_MAPPED: u64 = 64 << 20;

/// x86_64 user address-space limit (`TASK_SIZE_MAX` for 4-level paging:
/// 2^47 minus one guard page).
pub const X86_64_TASK_SIZE: u64 = 0x7FFF_FFFF_F000;
/// i386 user address-space limit.
pub const I386_TASK_SIZE: u64 = I386_PAGE_OFFSET;

/// The legacy vsyscall page (x86_64).
pub const VSYSCALL_ADDR: u64 = 0xFFFF_FFFF_FF60_0000;

/// Linux's x86_64 GDT layout (segment.h, CONFIG_X86_64).
pub mod gdt64 {
    /// GDT_ENTRY_KERNEL32_CS.
    pub const KERNEL32_CS: u16 = 8;
    /// __KERNEL_CS.
    pub const KERNEL_CS: u16 = 2 * 8;
    /// __KERNEL_DS.
    pub const KERNEL_DS: u16 = 3 * 8;
    /// __USER32_CS.
    pub const USER32_CS: u16 = 4 * 8 + 3;
    /// __USER_DS.
    pub const USER_DS: u16 = 5 * 8 + 3;
    /// __USER_CS.
    pub const USER_CS: u16 = 6 * 8 + 3;
    /// GDT_ENTRY_TSS (16 bytes: entries 8 and 9).
    pub const TSS: u16 = 8 * 8;
    /// GDT_ENTRY_TLS_MIN (entries 12-14).
    pub const TLS_MIN: u16 = 12;
    /// GDT_ENTRIES.
    pub const ENTRIES: usize = 16;
    /// IA32_STAR: SYSRET base (__USER32_CS) in 63:48, SYSCALL CS in 47:32.
    pub const STAR: u64 = ((USER32_CS as u64) << 48) | ((KERNEL_CS as u64) << 32);
}

/// Linux's i386 GDT layout (segment.h, CONFIG_X86_32).
pub mod gdt32 {
    /// GDT_ENTRY_TLS_MIN (entries 6-8).
    pub const TLS_MIN: u16 = 6;
    /// __KERNEL_CS (entry 12).
    pub const KERNEL_CS: u16 = 12 * 8;
    /// __KERNEL_DS (entry 13).
    pub const KERNEL_DS: u16 = 13 * 8;
    /// __USER_CS (entry 14, RPL 3).
    pub const USER_CS: u16 = 14 * 8 + 3;
    /// __USER_DS (entry 15, RPL 3).
    pub const USER_DS: u16 = 15 * 8 + 3;
    /// GDT_ENTRY_TSS (entry 16).
    pub const TSS: u16 = 16 * 8;
    /// GDT_ENTRY_PERCPU (entry 27).
    pub const PERCPU: u16 = 27 * 8;
    /// GDT_ENTRIES.
    pub const ENTRIES: usize = 32;
}

/// The I/O port of the hypercall instruction (`out HYPERCALL_PORT, eax` at
/// CPL 0): the only way from guest kernel code into the Rust kernel model.
/// At CPL 3 it faults (#GP, IOPL 0), as any port access would.
pub const HYPERCALL_PORT: u16 = 0xF1;

/// Hypercall numbers (the value written by the OUT).
pub mod hypercall {
    /// A system call: `pt_regs` is at the kernel stack pointer.
    pub const SYSCALL: u32 = 1;
    /// An exception from user mode: `pt_regs` (with the vector and error
    /// code in the slots below it) is at the kernel stack pointer.
    pub const EXCEPTION: u32 = 2;
}
