//! The machine layer: a booted kernel on an emulated CPU, running guest
//! processes whose system calls enter through the real x86 mechanisms.
//!
//! [`Machine`] owns the [`Vcpu`], boots a [`Flavor`] (building GDT, IDT,
//! TSS, page tables and MSRs as Linux does), loads static ELF programs, and
//! runs them. Guest kernel code (the entry stubs in [`entry`]) reaches Rust
//! only through the hypercall `out HYPERCALL_PORT, eax` at CPL 0; the run
//! loop answers it by reading `pt_regs` from the emulated kernel stack,
//! dispatching the call, writing the result back, and choosing SYSRET/
//! SYSEXIT or IRET for the return exactly where Linux does.

pub mod boot;
pub mod entry;
pub mod frames;
pub mod layout;
pub mod loader;
pub mod paging;
pub mod vdso;

use std::collections::BTreeMap;

use sysgate_cpu::{Exit, Limit, Rflags, Vcpu, Vendor};
use sysgate_mmu::PhysMem;

use crate::abi::Abi;
use crate::uaccess::{Efault, UserMemory};
pub use boot::Flavor;
use entry::hc;
use frames::Frames;
use layout::{HYPERCALL_PORT, I386_PAGE_OFFSET, X86_64_KERNEL_MAP};
use loader::{LoadError, at};
use paging::{AddressSpace, Format, KernelHalf, Prot};
pub use vdso::Vsyscall32;

/// Physical region holding kernel stacks (inside the kernel's direct map).
const KSTACK_REGION: u64 = 0x80_0000;
/// Kernel stack size per task.
const KSTACK_SIZE: u64 = 0x4000;
/// Where 32-bit processes find the vDSO.
const VDSO32_BASE: u64 = 0xF7FF_0000;
/// Top of the 64-bit user stack.
const STACK_TOP_64: u64 = 0x7FFF_FFFF_0000;
/// Top of the 32-bit user stack.
const STACK_TOP_32: u64 = 0xBFFF_0000;
/// Pages mapped for the initial stack.
const STACK_PAGES: u64 = 32;

/// How a system call entered the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// SYSCALL from 64-bit code (`entry_SYSCALL_64`).
    Syscall64,
    /// `int $0x80` (from 32-bit code, or from 64-bit code on x86_64).
    Int80,
    /// SYSENTER from 32-bit code.
    Sysenter,
    /// SYSCALL from 32-bit code (AMD, `entry_SYSCALL_compat`).
    SyscallCompat,
}

impl Mechanism {
    /// A short name (`syscall`, `int80`, `sysenter`, `syscall32`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Syscall64 => "syscall",
            Mechanism::Int80 => "int80",
            Mechanism::Sysenter => "sysenter",
            Mechanism::SyscallCompat => "syscall32",
        }
    }
}

/// What to build.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The kernel flavor.
    pub flavor: Flavor,
    /// The processor vendor.
    pub vendor: Vendor,
    /// `__kernel_vsyscall`'s mechanism; `None` chooses as Linux's
    /// `sysenter_setup` does (x86_64: SYSENTER on Intel, SYSCALL on AMD;
    /// i386: SYSENTER).
    pub vsyscall32: Option<Vsyscall32>,
    /// Guest RAM in bytes.
    pub ram: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            flavor: Flavor::X86_64,
            vendor: Vendor::Intel,
            vsyscall32: None,
            ram: layout::DEFAULT_RAM,
        }
    }
}

/// Host-side errors of the machine layer.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The program could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The kernel's code could not be assembled (a sysgate bug).
    #[error("assembling kernel code: {0}")]
    Assemble(String),
    /// The guest kernel faulted (a sysgate bug, reported rather than hidden).
    #[error("kernel oops: {0}")]
    Oops(String),
    /// The processor shut down.
    #[error("triple fault")]
    TripleFault,
    /// The instruction budget ran out.
    #[error("instruction limit reached")]
    Limit,
}

impl From<iced_x86::IcedError> for KernelError {
    fn from(e: iced_x86::IcedError) -> Self {
        KernelError::Assemble(e.to_string())
    }
}

impl From<frames::OutOfMemory> for KernelError {
    fn from(_: frames::OutOfMemory) -> Self {
        KernelError::Load(LoadError::NoMemory)
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// exit(code).
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

impl Status {
    /// The shell's view: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Status::Exited(c) => c & 0xFF,
            Status::Signaled(s) => 128 + s,
        }
    }
}

/// The register context of a task that is not running.
#[derive(Clone, Debug)]
#[allow(dead_code)]
struct Context {
    gpr: [u64; 16],
    rip: u64,
    rflags: u64,
    seg: [sysgate_cpu::Segment; 6],
    kernel_gs_base: u64,
}

/// A process.
#[derive(Debug)]
#[allow(dead_code)]
struct Task {
    pid: u32,
    ppid: u32,
    comm: String,
    mm: AddressSpace,
    bits: u32,
    kstack_top: u64,
    brk_start: u64,
    brk: u64,
    #[allow(dead_code)]
    saved: Option<Context>,
}

/// One system call as the machine saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallEvent {
    /// The process.
    pub pid: u32,
    /// The ABI whose table served it.
    pub abi: Abi,
    /// How it entered.
    pub mechanism: Mechanism,
    /// The number.
    pub nr: u32,
    /// The six argument registers.
    pub args: [u64; 6],
    /// The result (negative errno on failure).
    pub ret: i64,
}

/// A booted kernel on an emulated CPU.
pub struct Machine {
    /// The processor.
    pub vcpu: Vcpu,
    flavor: Flavor,
    vsyscall32: Vsyscall32,
    frames: Frames,
    khalf: KernelHalf,
    vdso: vdso::Vdso32,
    vdso_pa: u64,
    tasks: BTreeMap<u32, Task>,
    current: u32,
    next_pid: u32,
    next_kstack: u64,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Every system call, in order.
    pub events: Vec<SyscallEvent>,
}

/// User memory of the current task, through its page map.
struct TaskMemory<'a> {
    mm: &'a AddressSpace,
    phys: &'a mut PhysMem,
}

impl UserMemory for TaskMemory<'_> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Efault> {
        let mut off = 0usize;
        while off < buf.len() {
            let a = addr.checked_add(off as u64).ok_or(Efault)?;
            let n = ((0x1000 - (a & 0xFFF)) as usize).min(buf.len() - off);
            let (pa, _) = self.mm.lookup(a).ok_or(Efault)?;
            self.phys.read(pa, &mut buf[off..off + n]);
            off += n;
        }
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Efault> {
        let mut off = 0usize;
        while off < data.len() {
            let a = addr.checked_add(off as u64).ok_or(Efault)?;
            let n = ((0x1000 - (a & 0xFFF)) as usize).min(data.len() - off);
            match self.mm.lookup(a) {
                Some((pa, p)) if p.write => self.phys.write(pa, &data[off..off + n]),
                _ => return Err(Efault),
            }
            off += n;
        }
        Ok(())
    }
}

impl Machine {
    /// Boots a kernel.
    pub fn new(config: Config) -> Result<Machine, KernelError> {
        let mut vcpu = Vcpu::new(config.ram, config.vendor);
        let flavor = config.flavor;
        let vsyscall32 = config.vsyscall32.unwrap_or(match (flavor, config.vendor) {
            (Flavor::X86_64, Vendor::Amd) => Vsyscall32::Syscall,
            _ => Vsyscall32::Sysenter,
        });
        let mut frames = Frames::new(config.ram);
        let format = match flavor {
            Flavor::X86_64 => Format::FourLevel,
            Flavor::I386 => Format::TwoLevel,
        };
        let text_va = boot::kva(flavor, layout::image::TEXT);
        let text = match flavor {
            Flavor::X86_64 => entry::assemble_x86_64(text_va)?,
            Flavor::I386 => entry::assemble_i386(text_va)?,
        };
        let vsys_pa = boot::kpa(layout::image::VDSO + 0x1000);
        vcpu.cpu
            .mmu
            .phys
            .write(vsys_pa, &vdso::vsyscall_page(layout::VSYSCALL_ADDR)?);
        let khalf = KernelHalf::new(format, &mut vcpu.cpu.mmu.phys, &mut frames, vsys_pa)?;
        let vdso = vdso::vdso32(VDSO32_BASE, vsyscall32)?;
        let vdso_pa = boot::kpa(layout::image::VDSO);
        vcpu.cpu.mmu.phys.write(vdso_pa, &vdso.code);
        // A placeholder address space until the first process exists.
        let idle = AddressSpace::new(&khalf, &mut vcpu.cpu.mmu.phys, &mut frames)?;
        let top = boot::kva(flavor, KSTACK_REGION + KSTACK_SIZE);
        boot::boot(&mut vcpu.cpu, flavor, &text, idle.cr3(), top);
        Ok(Machine {
            vcpu,
            flavor,
            vsyscall32,
            frames,
            khalf,
            vdso,
            vdso_pa,
            tasks: BTreeMap::new(),
            current: 0,
            next_pid: 1,
            next_kstack: KSTACK_REGION,
            stdout: Vec::new(),
            stderr: Vec::new(),
            events: Vec::new(),
        })
    }

    /// The kernel flavor.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The mechanism 32-bit `__kernel_vsyscall` uses.
    pub fn vsyscall32(&self) -> Vsyscall32 {
        self.vsyscall32
    }

    /// What the guest wrote to standard output so far.
    pub fn stdout(&self) -> &[u8] {
        &self.stdout
    }

    /// What the guest wrote to standard error so far.
    pub fn stderr(&self) -> &[u8] {
        &self.stderr
    }

    fn kernel_base(&self) -> u64 {
        match self.flavor {
            Flavor::X86_64 => X86_64_KERNEL_MAP,
            Flavor::I386 => I386_PAGE_OFFSET,
        }
    }

    fn user_limit(&self) -> u64 {
        match self.flavor {
            Flavor::X86_64 => layout::X86_64_TASK_SIZE,
            Flavor::I386 => layout::I386_TASK_SIZE,
        }
    }

    /// Loads `elf` as process 1 with `argv` and `envp` and makes it the
    /// running process (in user mode at its entry point).
    pub fn spawn(&mut self, elf: &[u8], argv: &[&str], envp: &[&str]) -> Result<u32, KernelError> {
        let bits = loader::identify(elf)?;
        if bits == 64 && self.flavor == Flavor::I386 {
            return Err(LoadError::Format("a 64-bit program needs the x86_64 kernel").into());
        }
        let limit = self.user_limit();
        let phys = &mut self.vcpu.cpu.mmu.phys;
        let mut mm = AddressSpace::new(&self.khalf, phys, &mut self.frames)?;
        let img = loader::load(elf, &mut mm, phys, &mut self.frames, limit)?;
        let mut auxv = vec![
            (at::PHDR, img.phdr),
            (at::PHENT, img.phent),
            (at::PHNUM, img.phnum),
            (at::PAGESZ, 4096),
            (at::BASE, 0),
            (at::FLAGS, 0),
            (at::ENTRY, img.entry),
            (at::UID, 0),
            (at::EUID, 0),
            (at::GID, 0),
            (at::EGID, 0),
            (at::HWCAP, 0),
            (at::CLKTCK, 100),
            (at::SECURE, 0),
        ];
        if bits == 32 {
            mm.map(phys, &mut self.frames, VDSO32_BASE, self.vdso_pa, Prot::RX)?;
            auxv.insert(0, (at::SYSINFO, self.vdso.kernel_vsyscall));
        }
        let stack_top = if bits == 64 {
            STACK_TOP_64
        } else {
            STACK_TOP_32
        };
        let argv: Vec<Vec<u8>> = argv.iter().map(|s| s.as_bytes().to_vec()).collect();
        let envp: Vec<Vec<u8>> = envp.iter().map(|s| s.as_bytes().to_vec()).collect();
        let pid = self.next_pid;
        let mut random = [0u8; 16];
        for (k, b) in random.iter_mut().enumerate() {
            *b = (pid as u8).wrapping_mul(31).wrapping_add(k as u8 * 17);
        }
        let sp = loader::build_stack(
            &mut mm,
            phys,
            &mut self.frames,
            bits,
            stack_top,
            STACK_PAGES,
            &argv,
            &envp,
            &auxv,
            random,
        )?;
        let kstack_top = boot::kva(self.flavor, self.next_kstack + KSTACK_SIZE);
        self.next_kstack += KSTACK_SIZE;
        self.next_pid += 1;
        let comm = argv
            .first()
            .map(|a| {
                let name = a.rsplit(|&c| c == b'/').next().unwrap_or(a);
                String::from_utf8_lossy(&name[..name.len().min(15)]).into_owned()
            })
            .unwrap_or_default();
        let cpu = &mut self.vcpu.cpu;
        cpu.ctrl.cr3 = mm.cr3();
        cpu.mmu.flush_tlb(false);
        boot::set_kernel_stack(cpu, self.flavor, kstack_top);
        boot::user_segments(cpu, self.flavor, bits);
        cpu.gpr = [0; 16];
        cpu.gpr[4] = sp;
        cpu.rip = img.entry;
        cpu.rflags = Rflags::FIXED.bits() | Rflags::IF.bits();
        self.tasks.insert(
            pid,
            Task {
                pid,
                ppid: 0,
                comm,
                mm,
                bits,
                kstack_top,
                brk_start: img.brk,
                brk: img.brk,
                saved: None,
            },
        );
        self.current = pid;
        Ok(pid)
    }

    /// Runs until the last process exits; returns its status.
    pub fn run(&mut self, max_instructions: u64) -> Result<Status, KernelError> {
        let start = self.vcpu.cpu.instructions;
        loop {
            let used = self.vcpu.cpu.instructions - start;
            if used >= max_instructions {
                return Err(KernelError::Limit);
            }
            match self.vcpu.run(Limit::instructions(max_instructions - used)) {
                Exit::IoOut { port, value, .. }
                    if port == HYPERCALL_PORT && self.vcpu.cpu.cpl() == 0 =>
                {
                    if let Some(status) = self.hypercall(value)? {
                        return Ok(status);
                    }
                }
                Exit::Exception(e) if self.vcpu.cpu.cpl() == 3 => {
                    return Ok(Status::Signaled(signal_for_vector(e.vector())));
                }
                Exit::InstructionLimit => return Err(KernelError::Limit),
                other => {
                    return Err(KernelError::Oops(format!(
                        "unexpected exit {other:?} at {:#x}",
                        self.vcpu.cpu.rip
                    )));
                }
            }
        }
    }

    fn kread(&self, va: u64, size: u8) -> u64 {
        let pa = va.wrapping_sub(self.kernel_base());
        let p = &self.vcpu.cpu.mmu.phys;
        if size == 8 {
            p.read_u64(pa)
        } else {
            p.read_u32(pa) as u64
        }
    }

    fn kwrite(&mut self, va: u64, size: u8, v: u64) {
        let pa = va.wrapping_sub(self.kernel_base());
        let p = &mut self.vcpu.cpu.mmu.phys;
        if size == 8 {
            p.write_u64(pa, v)
        } else {
            p.write_u32(pa, v as u32)
        }
    }

    /// Handles a hypercall; returns a status when the last process ended.
    fn hypercall(&mut self, nr: u32) -> Result<Option<Status>, KernelError> {
        let regs = self.vcpu.cpu.gpr[4];
        if nr == hc::EXCEPTION {
            let vector = self.vcpu.cpu.gpr[3] as u8;
            return self.exception(regs, vector);
        }
        // (abi, mechanism, 64-bit pt_regs?)
        let (abi, mech, wide) = match nr {
            hc::SYSCALL_64 => (Abi::X86_64, Mechanism::Syscall64, true),
            hc::INT80_COMPAT => (Abi::I386, Mechanism::Int80, true),
            hc::SYSENTER_COMPAT => (Abi::I386, Mechanism::Sysenter, true),
            hc::SYSCALL_COMPAT => (Abi::I386, Mechanism::SyscallCompat, true),
            hc::INT80_32 => (Abi::I386, Mechanism::Int80, false),
            hc::SYSENTER_32 => (Abi::I386, Mechanism::Sysenter, false),
            _ => return Err(KernelError::Oops(format!("unknown hypercall {nr}"))),
        };
        let (w, off): (u8, [u64; 7]) = if wide {
            // di, si, dx, r10, r8, r9, and bx, cx, dx, si, di, bp.
            (8, [112, 104, 96, 56, 72, 64, 0])
        } else {
            (4, [0, 4, 8, 12, 16, 20, 0])
        };
        let get = |m: &Machine, o: u64| m.kread(regs + o, w);
        let (orig_ax, ip_off, sp_off, bp_off, ax_off, cs_off, ss_off, fl_off) = if wide {
            (
                entry::regs64::ORIG_AX,
                entry::regs64::IP,
                entry::regs64::SP,
                entry::regs64::BP,
                entry::regs64::AX,
                entry::regs64::CS,
                entry::regs64::SS,
                entry::regs64::FLAGS,
            )
        } else {
            (
                entry::regs32::ORIG_AX,
                entry::regs32::IP,
                entry::regs32::SP,
                entry::regs32::BP,
                entry::regs32::AX,
                entry::regs32::CS,
                entry::regs32::SS,
                entry::regs32::FLAGS,
            )
        };
        let nr_sys = get(self, orig_ax) as u32;
        let mut args = [0u64; 6];
        if abi == Abi::X86_64 {
            for (k, a) in args.iter_mut().enumerate() {
                *a = get(self, off[k]);
            }
        } else {
            // i386 convention: bx, cx, dx, si, di, bp (64-bit pt_regs keep
            // them at bx=40, cx=88, dx=96, si=104, di=112, bp=32).
            let o32: [u64; 6] = if wide {
                [40, 88, 96, 104, 112, 32]
            } else {
                [0, 4, 8, 12, 16, 20]
            };
            for (k, a) in args.iter_mut().enumerate() {
                *a = get(self, o32[k]) & 0xFFFF_FFFF;
            }
        }
        let fast32 = matches!(mech, Mechanism::Sysenter | Mechanism::SyscallCompat);
        if fast32 {
            // do_fast_syscall_32: the sixth argument (EBP) is on the user
            // stack, and the return goes to the vDSO landing pad.
            let usp = get(self, sp_off) & 0xFFFF_FFFF;
            let mut b = [0u8; 4];
            let ok = self.user_memory().read(usp, &mut b).is_ok();
            if !ok {
                // Linux: the call fails with -EFAULT.
                self.kwrite(regs + ax_off, w, (-14i64) as u64);
                self.vcpu.cpu.gpr[0] = 0;
                return Ok(None);
            }
            args[5] = u32::from_le_bytes(b) as u64;
            self.kwrite(regs + bp_off, w, args[5]);
            self.kwrite(regs + ip_off, w, self.vdso.landing_pad);
        }
        let outcome = self.syscall(abi, nr_sys, args);
        let ret = match outcome {
            Outcome::Return(r) => r,
            Outcome::Exit(status) => {
                self.events.push(SyscallEvent {
                    pid: self.current,
                    abi,
                    mechanism: mech,
                    nr: nr_sys,
                    args,
                    ret: 0,
                });
                return Ok(Some(status));
            }
        };
        self.events.push(SyscallEvent {
            pid: self.current,
            abi,
            mechanism: mech,
            nr: nr_sys,
            args,
            ret,
        });
        let ax = if wide {
            ret as u64
        } else {
            ret as u64 & 0xFFFF_FFFF
        };
        self.kwrite(regs + ax_off, w, ax);
        // The fast-return rules of do_syscall_64 / do_fast_syscall_32.
        let ip = get(self, ip_off);
        let flags = get(self, fl_off);
        let cs = get(self, cs_off) as u16;
        let ss = get(self, ss_off) as u16;
        let slow_flags = Rflags::RF.bits() | Rflags::TF.bits() | Rflags::VM.bits();
        let fast = match mech {
            Mechanism::Syscall64 => {
                get(self, entry::regs64::CX) == ip
                    && get(self, entry::regs64::R11) == flags
                    && cs == layout::gdt64::USER_CS
                    && ss == layout::gdt64::USER_DS
                    && ip < layout::X86_64_TASK_SIZE
                    && flags & slow_flags == 0
            }
            Mechanism::Sysenter | Mechanism::SyscallCompat => {
                let (ucs, uds) = match self.flavor {
                    Flavor::X86_64 => (layout::gdt64::USER32_CS, layout::gdt64::USER_DS),
                    Flavor::I386 => (layout::gdt32::USER_CS, layout::gdt32::USER_DS),
                };
                cs == ucs && ss == uds && ip == self.vdso.landing_pad && flags & slow_flags == 0
            }
            Mechanism::Int80 => false,
        };
        self.vcpu.cpu.gpr[0] = fast as u64;
        Ok(None)
    }

    fn user_memory(&mut self) -> TaskMemory<'_> {
        let mm = match self.tasks.get(&self.current) {
            Some(t) => &t.mm,
            None => unreachable_mm(),
        };
        TaskMemory {
            mm,
            phys: &mut self.vcpu.cpu.mmu.phys,
        }
    }

    /// An exception taken through the IDT: a user-mode fault becomes a
    /// fatal signal (no user handlers yet); a kernel-mode fault is a bug.
    fn exception(&mut self, regs: u64, vector: u8) -> Result<Option<Status>, KernelError> {
        let (cs_off, ip_off, w) = match self.flavor {
            Flavor::X86_64 => (entry::regs64::CS, entry::regs64::IP, 8),
            Flavor::I386 => (entry::regs32::CS, entry::regs32::IP, 4),
        };
        let cs = self.kread(regs + cs_off, w);
        let ip = self.kread(regs + ip_off, w);
        if cs & 3 == 0 {
            return Err(KernelError::Oops(format!(
                "exception {vector} in kernel mode at {ip:#x}"
            )));
        }
        let sig = signal_for_vector(vector);
        Ok(Some(Status::Signaled(sig)))
    }

    /// The system calls the machine layer implements itself (until the
    /// personality layer's table serves the rest).
    fn syscall(&mut self, abi: Abi, nr: u32, args: [u64; 6]) -> Outcome {
        use crate::syscalls::{unistd_32 as n32, unistd_64 as n64};
        let name = abi.syscall_name(nr).unwrap_or("");
        let _ = (n32::NR_EXIT, n64::NR_EXIT);
        match name {
            "write" => {
                let fd = args[0] as i32;
                let len = args[2].min(1 << 20) as usize;
                let mut buf = vec![0u8; len];
                if self.user_memory().read(args[1], &mut buf).is_err() {
                    return Outcome::Return(-14);
                }
                match fd {
                    1 => self.stdout.extend_from_slice(&buf),
                    2 => self.stderr.extend_from_slice(&buf),
                    _ => return Outcome::Return(-9),
                }
                Outcome::Return(len as i64)
            }
            "exit" | "exit_group" => Outcome::Exit(Status::Exited(args[0] as i32)),
            "getpid" | "gettid" => Outcome::Return(self.current as i64),
            "getppid" => {
                Outcome::Return(self.tasks.get(&self.current).map_or(0, |t| t.ppid) as i64)
            }
            "getuid" | "geteuid" | "getgid" | "getegid" | "getuid32" | "geteuid32" | "getgid32"
            | "getegid32" => Outcome::Return(0),
            "brk" => {
                let (start, cur) = self
                    .tasks
                    .get(&self.current)
                    .map_or((0, 0), |t| (t.brk_start, t.brk));
                let want = args[0];
                if want < start || want > start + (1 << 30) {
                    return Outcome::Return(cur as i64);
                }
                let Some(task) = self.tasks.get_mut(&self.current) else {
                    return Outcome::Return(-22);
                };
                let mut page = (cur + 0xFFF) & !0xFFF;
                while page < want {
                    if task
                        .mm
                        .map_new(
                            &mut self.vcpu.cpu.mmu.phys,
                            &mut self.frames,
                            page,
                            Prot::RW,
                        )
                        .is_err()
                    {
                        return Outcome::Return(cur as i64);
                    }
                    page += 0x1000;
                }
                task.brk = want;
                Outcome::Return(want as i64)
            }
            _ => Outcome::Return(-38),
        }
    }
}

/// What a system call did.
enum Outcome {
    /// Return this value to the caller.
    Return(i64),
    /// The process ended.
    Exit(Status),
}

#[allow(clippy::panic)]
fn unreachable_mm() -> &'static AddressSpace {
    // The current task always exists while the CPU runs user code; an
    // empty map serves any stray access without panicking.
    static EMPTY: std::sync::OnceLock<AddressSpace> = std::sync::OnceLock::new();
    EMPTY.get_or_init(AddressSpace::empty)
}

/// The signal Linux sends for an exception vector (arch/x86/kernel/traps.c).
pub fn signal_for_vector(vector: u8) -> i32 {
    match vector {
        0 | 16 | 19 => 8, // SIGFPE
        1 | 3 => 5,       // SIGTRAP
        6 => 4,           // SIGILL
        17 => 7,          // SIGBUS
        _ => 11,          // SIGSEGV
    }
}

#[cfg(test)]
mod tests;
