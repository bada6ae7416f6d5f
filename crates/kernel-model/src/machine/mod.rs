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
pub(crate) mod futex;
pub(crate) mod hypercall;
pub(crate) mod ids;
pub mod layout;
pub mod loader;
pub(crate) mod memlock;
pub(crate) mod mremap;
pub mod paging;
pub mod phases;
pub(crate) mod process;
pub(crate) mod ret;
pub(crate) mod rlimit;
pub(crate) mod rseq;
pub(crate) mod signal;
pub(crate) mod stack;
pub mod trace;
pub mod vdso;

use std::collections::BTreeMap;

use sysgate_cpu::{Exit, Limit, NoTracer, Tracer, Vcpu, Vendor};

pub use phases::PhaseCycles;
use sysgate_mmu::PhysMem;

use crate::abi::Abi;
use crate::console::{Captured, Console};
use crate::personality::Personality;
use crate::uaccess::{Efault, UserMemory};
pub use boot::Flavor;
use entry::hc;
use frames::Frames;
use hypercall::{CallCtx, Rest, Serve, Unfinished};
use layout::{HYPERCALL_PORT, I386_PAGE_OFFSET, X86_64_KERNEL_MAP};
use loader::LoadError;
use paging::{AddressSpace, Format, KernelHalf};
pub use vdso::Vsyscall32;

/// Physical region holding kernel stacks (inside the kernel's direct map).
const KSTACK_REGION: u64 = 0x80_0000;
/// Kernel stack size per task.
const KSTACK_SIZE: u64 = 0x4000;
/// Where 32-bit processes find the vDSO.
const VDSO32_BASE: u64 = 0xF7FF_0000;
/// Where 64-bit processes find the vDSO (above the stack).
const VDSO64_BASE: u64 = 0x7FFF_FFFF_8000;
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
    /// A host breakpoint ([`Vcpu::add_breakpoint`]) was reached before the
    /// instruction at this CS offset; run again to continue.
    #[error("breakpoint at {0:#x}")]
    Breakpoint(u64),
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

impl Status {
    /// The status word `wait4` stores (`W_EXITCODE`/`W_STOPCODE` layout).
    pub fn wait_status(self) -> u32 {
        match self {
            Status::Exited(c) => ((c as u32) & 0xFF) << 8,
            Status::Signaled(s) => s as u32 & 0x7F,
        }
    }
}

/// Receives what a running machine does: the CPU's [`Tracer`] hooks plus
/// every system call the dispatcher handled.
pub trait Observer: Tracer {
    /// A system call completed (or ended its process). Its
    /// [`SyscallEvent::cycles`] hold the phases up to the handler; the exit
    /// phases follow in [`Observer::syscall_returned`].
    fn syscall(&mut self, _cycle: u64, _e: &SyscallEvent) {}

    /// A system call's hardware exit (SYSRET, SYSEXIT, IRET) returned to
    /// user mode, `cycle` being the cycle count after it: every phase of
    /// [`SyscallEvent::cycles`] is known. Reported when the run loop next
    /// returns to the machine (at the next hypercall or the end of the run).
    fn syscall_returned(&mut self, _cycle: u64, _e: &SyscallEvent) {}

    /// Whether [`Observer::syscall`] and [`Observer::syscall_returned`] do
    /// anything. An observer that sets this to false may not be called for
    /// them, and the machine does not collect a run's events for it (unless
    /// [`Machine::keep_events`]).
    const SYSCALL_EVENTS: bool = true;
}

impl Observer for NoTracer {
    const SYSCALL_EVENTS: bool = false;
}

impl Observer for trace::Recorder {
    fn syscall(&mut self, cycle: u64, e: &SyscallEvent) {
        trace::Recorder::syscall(self, cycle, e);
    }
}

/// What [`Machine::step`] did.
#[derive(Clone, Debug)]
pub struct Step {
    /// The CPU's account: the instruction, its cycles, its transition.
    pub event: sysgate_cpu::StepEvent,
    /// The system call the step completed, when it was the hypercall.
    pub syscall: Option<SyscallEvent>,
    /// Set when the last process ended.
    pub finished: Option<Status>,
}

/// One system call as the machine saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// The result (negative errno on failure), None when it did not return
    /// (exit, a successful execve).
    pub ret: Option<i64>,
    /// Modeled cycles by phase (see [`phases`]): complete once the call
    /// returned to user mode; up to the handler for a call that did not
    /// return or has not yet.
    pub cycles: PhaseCycles,
}

/// A system call in flight: where its `pt_regs` are and how to read them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub abi: Abi,
    pub mech: Mechanism,
    pub nr: u32,
    pub args: [u64; 6],
    /// Kernel virtual address of `pt_regs`.
    pub regs: u64,
    /// 64-bit `pt_regs` layout (else i386).
    pub wide: bool,
}

/// A booted kernel on an emulated CPU.
pub struct Machine {
    /// The processor.
    pub vcpu: Vcpu,
    /// The Linux personality: VFS, console, audit log, clock, tables.
    pub personality: Personality,
    pub(crate) flavor: Flavor,
    vsyscall32: Vsyscall32,
    pub(crate) frames: Frames,
    pub(crate) khalf: KernelHalf,
    pub(crate) vdso: vdso::Vdso32,
    pub(crate) vdso_pa: u64,
    pub(crate) tasks: BTreeMap<u32, process::Task>,
    pub(crate) current: u32,
    pub(crate) next_pid: u32,
    pub(crate) free_kstacks: Vec<u64>,
    pub(crate) next_kstack: u64,
    /// Every system call, in order (while [`Machine::keep_events`]).
    pub events: Vec<SyscallEvent>,
    /// Whether [`Machine::events`] keeps every system call (the default).
    /// Long runs and benchmarks may turn it off so memory does not grow
    /// with the number of calls: observers ([`Observer::syscall`],
    /// [`Observer::syscall_returned`]), [`Step::syscall`] and the audit log
    /// still see every call with its phases.
    pub keep_events: bool,
    pub(crate) phases: phases::PhaseTracker,
    /// Whether system calls are pushed to [`Machine::events`] (kept, or
    /// reported to the observer of the run or to [`Machine::step`]).
    pub(crate) collect_events: bool,
    /// What the run loop's hypercall service left to the machine (see
    /// `hypercall::Serve`), with the event count before the call.
    rest: Option<(Rest, usize)>,
    captured: Option<Captured>,
}

/// User memory of a task, through its page map.
pub(crate) struct TaskMemory<'a> {
    pub mm: &'a AddressSpace,
    pub phys: &'a mut PhysMem,
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
    /// Boots a kernel whose console is captured in memory (see
    /// [`Machine::with_console`] to pass it through).
    pub fn new(config: Config) -> Result<Machine, KernelError> {
        let (console, captured) = Console::capture(b"");
        let mut m = Machine::with_console(config, console)?;
        m.captured = Some(captured);
        Ok(m)
    }

    /// What the guest wrote to standard output, when the console is
    /// captured ([`Machine::new`]).
    pub fn stdout(&self) -> Vec<u8> {
        self.captured
            .as_ref()
            .map(Captured::stdout)
            .unwrap_or_default()
    }

    /// What the guest wrote to standard error, when captured.
    pub fn stderr(&self) -> Vec<u8> {
        self.captured
            .as_ref()
            .map(Captured::stderr)
            .unwrap_or_default()
    }

    /// Boots a kernel with the given console.
    pub fn with_console(config: Config, console: Console) -> Result<Machine, KernelError> {
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
        let vdso64 = vdso::vdso64(VDSO64_BASE)?;
        vcpu.cpu
            .mmu
            .phys
            .write(boot::kpa(layout::image::VDSO64), &vdso64.code);
        let idle = AddressSpace::new(&khalf, &mut vcpu.cpu.mmu.phys, &mut frames)?;
        let top = boot::kva(flavor, KSTACK_REGION + KSTACK_SIZE);
        boot::boot(&mut vcpu.cpu, flavor, &text, idle.cr3(), top);
        // Every exception is delivered through the guest's IDT to its
        // exception entries, as on real hardware.
        vcpu.exception_bitmap = 0;
        let mut personality = Personality::new(console);
        // uname's machine is the kernel's: a 64-bit kernel says x86_64 to
        // 32-bit programs too (Linux's newuname changes it to i686 only for
        // the PER_LINUX32 personality, which `setarch` sets).
        if flavor == Flavor::X86_64 {
            personality.uts.machine = Some("x86_64".into());
        }
        // The built-in guests live in /bin, as the guest programs expect.
        let _ = personality.vfs.mkdir_all(b"/bin", 0o755);
        let _ = personality.vfs.mkdir_all(b"/tmp", 0o1777);
        let user32_cs = match flavor {
            Flavor::X86_64 => layout::gdt64::USER32_CS,
            Flavor::I386 => layout::gdt32::USER_CS,
        };
        let phases = phases::PhaseTracker::new(vdso.kernel_vsyscall, vdso.entry_insn, user32_cs);
        Ok(Machine {
            vcpu,
            personality,
            flavor,
            vsyscall32,
            frames,
            khalf,
            vdso,
            vdso_pa,
            tasks: BTreeMap::new(),
            current: 0,
            next_pid: 1,
            free_kstacks: Vec::new(),
            next_kstack: KSTACK_REGION + KSTACK_SIZE,
            events: Vec::new(),
            keep_events: true,
            phases,
            collect_events: true,
            rest: None,
            captured: None,
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

    /// The pid of the running process.
    pub fn current_pid(&self) -> u32 {
        self.current
    }

    pub(crate) fn kernel_base(&self) -> u64 {
        kernel_base(self.flavor)
    }

    /// The processor, and the rest of the machine a system call's
    /// hypercall needs.
    #[inline(always)]
    fn split(&mut self) -> (&mut Vcpu, CallCtx<'_>) {
        (
            &mut self.vcpu,
            CallCtx {
                personality: &mut self.personality,
                tasks: &mut self.tasks,
                phases: &mut self.phases,
                events: &mut self.events,
                current: self.current,
                flavor: self.flavor,
                landing_pad: self.vdso.landing_pad,
                keep_events: self.keep_events,
                collect_events: self.collect_events,
                rest: &mut self.rest,
            },
        )
    }

    pub(crate) fn user_limit(&self) -> u64 {
        match self.flavor {
            Flavor::X86_64 => layout::X86_64_TASK_SIZE,
            Flavor::I386 => layout::I386_TASK_SIZE,
        }
    }

    /// Puts a file into the guest's file system (creating parent
    /// directories).
    pub fn add_file(&mut self, path: &str, data: &[u8], mode: u32) -> Result<(), KernelError> {
        if let Some(dir) = path.rfind('/').filter(|&i| i > 0) {
            self.personality
                .vfs
                .mkdir_all(&path.as_bytes()[..dir], 0o755)
                .map_err(|e| KernelError::Oops(format!("mkdir for {path}: {e:?}")))?;
        }
        self.personality
            .vfs
            .write_file(path.as_bytes(), data, mode)
            .map_err(|e| KernelError::Oops(format!("writing {path}: {e:?}")))
    }

    /// Makes `path` (an existing guest directory) the working directory of
    /// process `pid`.
    pub fn set_cwd(&mut self, pid: u32, path: &str) -> Result<(), KernelError> {
        let task = self
            .tasks
            .get(&pid)
            .ok_or_else(|| KernelError::Oops(format!("set_cwd: no process {pid}")))?;
        let dir = self
            .personality
            .vfs
            .chdir_target(&task.files.cwd, path.as_bytes(), &crate::vfs::Cred::ROOT)
            .map_err(|e| KernelError::Oops(format!("set_cwd {path}: {e:?}")))?;
        if let Some(task) = self.tasks.get_mut(&pid) {
            task.files.cwd = dir;
        }
        Ok(())
    }

    /// Loads `elf` as a new process with `argv` and `envp` and makes it the
    /// running process (in user mode at its entry point). The first process
    /// is pid 1.
    pub fn spawn(&mut self, elf: &[u8], argv: &[&str], envp: &[&str]) -> Result<u32, KernelError> {
        let exe = argv.first().copied().unwrap_or_default();
        self.spawn_exe(exe, elf, argv, envp)
    }

    /// [`Machine::spawn`] with the executable's absolute guest path given
    /// separately from `argv[0]` (what `/proc/self/exe` names, as Linux
    /// records the resolved path at `execve`).
    pub fn spawn_exe(
        &mut self,
        exe: &str,
        elf: &[u8],
        argv: &[&str],
        envp: &[&str],
    ) -> Result<u32, KernelError> {
        let argv: Vec<Vec<u8>> = argv.iter().map(|s| s.as_bytes().to_vec()).collect();
        let envp: Vec<Vec<u8>> = envp.iter().map(|s| s.as_bytes().to_vec()).collect();
        let pid = self.next_pid;
        let image = self.build_image(pid, elf, &argv, &envp)?;
        let kstack_top = self.alloc_kstack();
        self.next_pid += 1;
        let exe = exe.as_bytes().to_vec();
        let task = process::Task::new(pid, 0, image, kstack_top, exe);
        if let Some(cur) = self.tasks.get_mut(&self.current) {
            cur.save(&self.vcpu.cpu);
        }
        self.tasks.insert(pid, task);
        self.current = pid;
        self.enter_user(pid);
        Ok(pid)
    }

    /// Runs until every process has ended; returns the first process's
    /// status.
    pub fn run(&mut self, max_instructions: u64) -> Result<Status, KernelError> {
        self.run_with(max_instructions, &mut NoTracer)
    }

    /// [`Machine::run`], reporting instructions, transitions and system
    /// calls to `observer`.
    pub fn run_with<T: Observer>(
        &mut self,
        max_instructions: u64,
        observer: &mut T,
    ) -> Result<Status, KernelError> {
        let start = self.vcpu.cpu.instructions;
        self.collect_events = self.keep_events || T::SYSCALL_EVENTS;
        loop {
            let used = self.vcpu.cpu.instructions - start;
            if used >= max_instructions {
                return Err(KernelError::Limit);
            }
            self.phases.switch_to(self.current);
            // System calls that return at once are served inside the run
            // loop (`Serve`); it stops at the others' hypercalls, leaving
            // what it began of one in `rest`.
            let (vcpu, ctx) = self.split();
            let exit = vcpu.run_with_ports(
                Limit::instructions(max_instructions - used),
                &mut Serve {
                    inner: &mut *observer,
                    ctx,
                },
            );
            let (outcome, seen) = if let Some((rest, seen)) = self.rest.take() {
                // Stopped at the OUT of a call begun inside the run loop
                // (which did what `stopped` does).
                (self.finish_rest(rest)?, seen)
            } else {
                self.stopped(observer);
                let seen = self.events.len();
                let outcome = match exit {
                    Exit::IoOut { port, value, .. }
                        if port == HYPERCALL_PORT && self.vcpu.cpu.cpl() == 0 =>
                    {
                        self.hypercall(value)?
                    }
                    Exit::Exception(e) if self.vcpu.cpu.cpl() == 3 => {
                        self.kill_current(signal_for_vector(e.vector()))?
                    }
                    Exit::InstructionLimit => return Err(KernelError::Limit),
                    Exit::TripleFault => return Err(KernelError::TripleFault),
                    Exit::Breakpoint(ip) => return Err(KernelError::Breakpoint(ip)),
                    other => {
                        return Err(KernelError::Oops(format!(
                            "unexpected exit {other:?} at {:#x}",
                            self.vcpu.cpu.rip
                        )));
                    }
                };
                (outcome, seen)
            };
            hypercall::resuming(
                &self.vcpu.cpu,
                self.current,
                &mut self.phases,
                &mut self.events,
                self.keep_events,
                seen,
                observer,
            );
            if let Some(status) = outcome {
                return Ok(status);
            }
        }
    }

    /// After the run loop returned: keeps the user stub's start if the run
    /// stopped inside it, and completes the calls that returned to user
    /// mode (their events, audit records and the observer).
    #[inline]
    fn stopped<T: Observer>(&mut self, observer: &mut T) {
        hypercall::stopped(
            &self.vcpu.cpu,
            &mut self.phases,
            &mut self.personality,
            &mut self.events,
            observer,
        );
    }

    /// The machine is about to resume the CPU (after a hypercall).
    #[inline]
    fn resuming(&mut self) {
        self.phases.switch_to(self.current);
        self.phases.resuming(self.vcpu.cpu.cycles);
    }

    /// Executes one instruction (handling the hypercall if it was one) and
    /// says what happened.
    pub fn step(&mut self) -> Result<Step, KernelError> {
        self.collect_events = true;
        self.phases.switch_to(self.current);
        let event = self.vcpu.step_traced(&mut phases::Watch {
            inner: &mut NoTracer,
            phases: &mut self.phases,
        });
        self.stopped(&mut NoTracer);
        let seen = self.events.len();
        let mut finished = None;
        match event.exit {
            None | Some(Exit::InstructionLimit) => {}
            Some(Exit::IoOut { port, value, .. })
                if port == HYPERCALL_PORT && self.vcpu.cpu.cpl() == 0 =>
            {
                finished = self.hypercall(value)?;
            }
            Some(Exit::Exception(e)) if self.vcpu.cpu.cpl() == 3 => {
                finished = self.kill_current(signal_for_vector(e.vector()))?;
            }
            Some(Exit::TripleFault) => return Err(KernelError::TripleFault),
            Some(other) => return Err(KernelError::Oops(format!("unexpected exit {other:?}"))),
        }
        self.resuming();
        let syscall = self.events.get(seen).copied();
        if !self.keep_events {
            self.events.truncate(seen);
        }
        Ok(Step {
            event,
            syscall,
            finished,
        })
    }

    #[inline]
    pub(crate) fn kread(&self, va: u64, size: u8) -> u64 {
        let pa = va.wrapping_sub(self.kernel_base());
        let p = &self.vcpu.cpu.mmu.phys;
        if size == 8 {
            p.read_u64(pa)
        } else {
            p.read_u32(pa) as u64
        }
    }

    #[inline]
    pub(crate) fn kwrite(&mut self, va: u64, size: u8, v: u64) {
        kernel_write(&mut self.vcpu.cpu.mmu.phys, self.flavor, va, size, v);
    }

    /// Handles a hypercall; returns a status when the last process ended.
    #[inline]
    fn hypercall(&mut self, nr: u32) -> Result<Option<Status>, KernelError> {
        match nr {
            hc::SYSCALL_64 => self.syscall_hypercall::<{ hc::SYSCALL_64 }>(),
            hc::INT80_COMPAT => self.syscall_hypercall::<{ hc::INT80_COMPAT }>(),
            hc::SYSENTER_COMPAT => self.syscall_hypercall::<{ hc::SYSENTER_COMPAT }>(),
            hc::SYSCALL_COMPAT => self.syscall_hypercall::<{ hc::SYSCALL_COMPAT }>(),
            hc::INT80_32 => self.syscall_hypercall::<{ hc::INT80_32 }>(),
            hc::SYSENTER_32 => self.syscall_hypercall::<{ hc::SYSENTER_32 }>(),
            hc::EXCEPTION => self.exception_hypercall(self.vcpu.cpu.gpr[4]),
            _ => Err(unknown_hypercall(nr)),
        }
    }

    /// The hypercall of a system call entry stub (`HC`, one of the
    /// `hc::SYSCALL_64` ... `hc::SYSENTER_32` numbers; one copy per entry
    /// stub, so the ABI, mechanism and `pt_regs` layout are constants):
    /// reads the call out of `pt_regs` (at RSP) and dispatches it.
    /// (Calls that return at once are served inside the run loop instead,
    /// by the same `CallCtx::syscall`.)
    #[inline(never)]
    fn syscall_hypercall<const HC: u32>(&mut self) -> Result<Option<Status>, KernelError> {
        let (vcpu, mut ctx) = self.split();
        match ctx.syscall::<HC>(&mut vcpu.cpu) {
            Ok(()) => Ok(None),
            Err(rest) => self.finish_rest(rest),
        }
    }

    /// Does what the hypercall's [`CallCtx`] left to the machine.
    #[inline(never)]
    fn finish_rest(&mut self, rest: Rest) -> Result<Option<Status>, KernelError> {
        match rest {
            Rest::Failed(e) => Err(e),
            Rest::Return { call, done } => self.dispatch_slow(call, done),
            Rest::Finish(u) => {
                let Unfinished {
                    call,
                    pid,
                    dispatch,
                    serial,
                } = *u;
                let done = self.finish_call(&call, pid, dispatch, serial)?;
                self.dispatch_slow(call, done)
            }
        }
    }

    /// The exception hypercall: no call is entering.
    #[cold]
    #[inline(never)]
    fn exception_hypercall(&mut self, regs: u64) -> Result<Option<Status>, KernelError> {
        self.phases.not_a_call();
        let vector = self.vcpu.cpu.gpr[3] as u8;
        self.exception(regs, vector)
    }

    /// Writes a system call's result and tells the entry stub (in EAX)
    /// whether the fast return is allowed, by the rules of Linux's
    /// `do_syscall_64` and `do_fast_syscall_32`.
    pub(crate) fn complete(&mut self, call: &Call, ret: i64) {
        let (vcpu, ctx) = self.split();
        ctx.complete_with(&mut vcpu.cpu, call, ret, None);
    }

    /// Whether the call may return by SYSRET/SYSEXIT, from the `pt_regs`
    /// in guest memory now.
    pub(crate) fn fast_return_ok(&mut self, call: &Call) -> bool {
        let (vcpu, ctx) = self.split();
        ctx.fast_return_ok(&vcpu.cpu, call)
    }

    pub(crate) fn user_memory(&mut self) -> TaskMemory<'_> {
        task_memory(&self.tasks, self.current, &mut self.vcpu.cpu.mmu.phys)
    }

    /// An exception taken through the IDT: a user-mode fault becomes its
    /// signal (delivered to a handler, or ending the process); a
    /// kernel-mode fault is a sysgate bug and stops the machine.
    fn exception(&mut self, regs: u64, vector: u8) -> Result<Option<Status>, KernelError> {
        let wide = self.flavor == Flavor::X86_64;
        let l = regs::layout(wide);
        let w = if wide { 8 } else { 4 };
        let cs = self.kread(regs + l.cs, w);
        let ip = self.kread(regs + l.ip, w);
        if cs & 3 == 0 {
            return Err(KernelError::Oops(format!(
                "exception {vector} in kernel mode at {ip:#x}"
            )));
        }
        // A fault just below the stack grows it; the instruction retries.
        if vector == 14 {
            let err = self.kread(regs + l.orig_ax, w);
            let addr = self.vcpu.cpu.cr2;
            if self.grow_stack(addr, err) {
                return Ok(None);
            }
        }
        match self.user_fault(regs, vector) {
            signal::Delivered::Killed => self.schedule(),
            _ => Ok(None),
        }
    }
}

/// The user memory of task `pid` (nothing mapped when there is none).
pub(crate) fn task_memory<'a>(
    tasks: &'a BTreeMap<u32, process::Task>,
    pid: u32,
    phys: &'a mut PhysMem,
) -> TaskMemory<'a> {
    let mm = match tasks.get(&pid) {
        Some(t) => &t.mm,
        None => process::empty_mm(),
    };
    TaskMemory { mm, phys }
}

/// Writes `size` (4 or 8) bytes of `v` at kernel address `va` of a kernel
/// of `flavor`.
pub(crate) fn kernel_write(phys: &mut PhysMem, flavor: Flavor, va: u64, size: u8, v: u64) {
    let pa = va.wrapping_sub(kernel_base(flavor));
    if size == 8 {
        phys.write_u64(pa, v)
    } else {
        phys.write_u32(pa, v as u32)
    }
}

/// Where the kernel half maps physical address 0 in `flavor`.
pub(crate) fn kernel_base(flavor: Flavor) -> u64 {
    match flavor {
        Flavor::X86_64 => X86_64_KERNEL_MAP,
        Flavor::I386 => I386_PAGE_OFFSET,
    }
}

/// `pt_regs` field offsets for both layouts.
pub(crate) mod regs {
    use super::entry::{regs32, regs64};
    use crate::abi::Abi;

    /// The offsets the machine layer needs.
    pub(crate) struct Layout {
        pub orig_ax: u64,
        pub ax: u64,
        pub ip: u64,
        pub cs: u64,
        pub flags: u64,
        pub sp: u64,
        pub ss: u64,
        pub bp: u64,
    }

    /// The fields of a `pt_regs` the machine layer reads, read out of
    /// guest memory (each 8 bytes in the 64-bit layout, 4 in the i386 one;
    /// 0 for a field the layout does not have).
    ///
    /// The fields are laid out (`repr(C)`) in an order unlike `pt_regs`'s,
    /// so that the compiler reads each with its own load: `pt_regs` was
    /// just written by the entry stub's 8-byte pushes, and a wider load
    /// spanning two of them cannot be forwarded from the store buffer
    /// (it would wait for both stores to reach the cache).
    #[derive(Clone, Copy, Debug)]
    #[repr(C)]
    pub(crate) struct Copy {
        /// The 64-bit layout (else i386).
        pub wide: bool,
        pub ip: u64,
        pub flags: u64,
        pub orig_ax: u64,
        pub sp: u64,
        pub cs: u64,
        pub ss: u64,
        /// `cx` and `r11` of the 64-bit layout (SYSRET's return address and
        /// flags).
        pub cx: u64,
        pub r11: u64,
        /// The call's argument registers (at the offsets the reader was
        /// given), not yet masked to the ABI's width.
        pub args: [u64; 6],
    }

    impl Copy {
        /// The fields of the `pt_regs` in `b` (64-bit layout when `wide`),
        /// the arguments those of `abi`.
        #[inline(always)]
        pub(crate) fn decode<const N: usize>(b: &[u8; N], wide: bool, abi: Abi) -> Copy {
            // The argument registers of each ABI: rdi, rsi, rdx, r10, r8,
            // r9 / ebx, ecx, edx, esi, edi, ebp.
            let arg_offs: [u64; 6] = match (abi, wide) {
                (Abi::X86_64, _) => [
                    regs64::DI,
                    regs64::SI,
                    regs64::DX,
                    regs64::R10,
                    regs64::R8,
                    regs64::R9,
                ],
                (Abi::I386, true) => [
                    regs64::BX,
                    regs64::CX,
                    regs64::DX,
                    regs64::SI,
                    regs64::DI,
                    regs64::BP,
                ],
                (Abi::I386, false) => [
                    regs32::BX,
                    regs32::CX,
                    regs32::DX,
                    regs32::SI,
                    regs32::DI,
                    regs32::BP,
                ],
            };
            let get = |off: u64| -> u64 {
                let off = off as usize;
                if wide {
                    b.get(off..off + 8)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u64::from_le_bytes)
                } else {
                    b.get(off..off + 4)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
                }
            };
            let l = layout(wide);
            Copy {
                wide,
                args: arg_offs.map(get),
                orig_ax: get(l.orig_ax),
                ip: get(l.ip),
                cs: get(l.cs),
                flags: get(l.flags),
                sp: get(l.sp),
                ss: get(l.ss),
                cx: if wide { get(regs64::CX) } else { 0 },
                r11: if wide { get(regs64::R11) } else { 0 },
            }
        }
    }

    pub(crate) const fn layout(wide: bool) -> Layout {
        if wide {
            Layout {
                orig_ax: regs64::ORIG_AX,
                ax: regs64::AX,
                ip: regs64::IP,
                cs: regs64::CS,
                flags: regs64::FLAGS,
                sp: regs64::SP,
                ss: regs64::SS,
                bp: regs64::BP,
            }
        } else {
            Layout {
                orig_ax: regs32::ORIG_AX,
                ax: regs32::AX,
                ip: regs32::IP,
                cs: regs32::CS,
                flags: regs32::FLAGS,
                sp: regs32::SP,
                ss: regs32::SS,
                bp: regs32::BP,
            }
        }
    }
}

/// The error for a hypercall number the entry stubs never issue.
#[cold]
#[inline(never)]
fn unknown_hypercall(nr: u32) -> KernelError {
    KernelError::Oops(format!("unknown hypercall {nr}"))
}

/// The signal Linux sends for an exception vector (arch/x86/kernel/traps.c).
pub fn signal_for_vector(vector: u8) -> i32 {
    match vector {
        0 | 16 | 19 => 8,  // SIGFPE
        1 | 3 => 5,        // SIGTRAP
        6 => 4,            // SIGILL
        11 | 12 | 17 => 7, // SIGBUS (#NP, #SS, #AC)
        _ => 11,           // SIGSEGV
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mm;
#[cfg(test)]
mod tests_signal;
