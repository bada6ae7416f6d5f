//! Processes: tasks with their address space, kernel stack, descriptors
//! and saved register context; the scheduler; and the system calls the
//! machine layer owns (exit, fork/vfork/clone, execve, wait4, brk, mmap,
//! munmap, mprotect, arch_prctl, set_thread_area, kill, ...).
//!
//! A task that is not running is suspended inside its hypercall: its saved
//! context resumes just after the `out` instruction of its entry stub, with
//! `pt_regs` on its own kernel stack. Switching tasks is therefore saving
//! one register context and loading another, plus CR3, the TSS stack and
//! the per-CPU stack pointer — what Linux's `__switch_to` does.
//!
//! A call that cannot complete yet (wait4 with live children, a read from
//! an empty pipe) leaves the task *blocked* with the call recorded; the
//! scheduler re-issues it whenever it considers the task.

use sysgate_cpu::fpu::FpuState;
use sysgate_cpu::{Cpu, Rflags, SegReg, Segment};

use super::hypercall::{Info, Rest};
use super::loader::{self, LoadError, at};
use super::paging::{AddressSpace, Prot};
use super::vdso;
use super::{
    Call, KSTACK_SIZE, KernelError, Machine, STACK_PAGES, STACK_TOP_32, STACK_TOP_64, Status,
    TaskMemory, VDSO32_BASE, VDSO64_BASE, boot, regs,
};
use crate::abi::Abi;
use crate::personality::{Dispatch, MachineCall, TaskFiles, comm_bytes};
use crate::syscalls::table::MachineOp;
use crate::uaccess::{self, UserMemory};

use super::ret::{
    EACCES, EBADF, ECHILD, EFAULT, EINVAL, ENODEV, ENOENT, ENOEXEC, ENOMEM, ENOSYS, EOVERFLOW,
    ESRCH,
};
use super::rlimit::{DEFAULT_RLIMITS, RLIM_NLIMITS, Rlimit};
use super::signal::{self, Delivered, SigInfo, Signals};

/// A loaded program, ready to become a task's image.
pub(crate) struct Image {
    pub mm: AddressSpace,
    pub bits: u32,
    pub entry: u64,
    pub sp: u64,
    pub brk: u64,
    pub comm: [u8; 16],
    /// The stack's top and the lowest address mapped for it.
    pub stack: (u64, u64),
    /// Where the argument and environment strings are.
    pub areas: loader::ArgAreas,
}

/// Register state of a task that is not running.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    gpr: [u64; 16],
    rip: u64,
    rflags: u64,
    seg: [Segment; 6],
    kernel_gs_base: u64,
    /// The task's x87/MMX/SSE registers (Linux's `thread.fpu`), saved and
    /// restored on every switch.
    fpu: FpuState,
}

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Runnable,
    /// Waiting to re-issue `Task::blocked`.
    Blocked,
    /// Ended; its status waits for the parent.
    Zombie(Status),
}

/// A process.
pub(crate) struct Task {
    pub pid: u32,
    pub ppid: u32,
    pub comm: [u8; 16],
    pub exe: Vec<u8>,
    pub mm: AddressSpace,
    pub bits: u32,
    pub kstack_top: u64,
    pub brk_start: u64,
    pub brk: u64,
    pub mmap_next: u64,
    pub files: TaskFiles,
    pub ctx: Option<Context>,
    pub state: State,
    pub blocked: Option<Call>,
    /// GDT TLS descriptors (set_thread_area), installed on switch.
    pub tls: [u64; 3],
    /// Where a new image starts: entry point and initial stack pointer.
    pub start: (u64, u64),
    /// Signal dispositions, mask, pending signals, alternate stack.
    pub sig: Signals,
    /// Resource limits (getrlimit/setrlimit/prlimit64).
    pub rlimits: [Rlimit; RLIM_NLIMITS],
    /// set_tid_address / CLONE_CHILD_CLEARTID.
    pub clear_child_tid: u64,
    /// The signal the parent gets when this task ends (SIGCHLD for fork).
    pub exit_signal: u32,
    /// A vfork child the task waits for (until it execs or exits).
    pub vfork_child: Option<u32>,
    /// Set when a vfork child has exec'd or exited.
    pub vfork_done: bool,
    /// The registered `struct rseq` (see `rseq.rs`).
    pub rseq: Option<super::rseq::Rseq>,
    /// The modeled cycle a blocked sleep (`nanosleep`, `clock_nanosleep`,
    /// a `poll` with nothing to wait for) ends at, kept across the
    /// scheduler's re-issues of the call.
    pub sleep_until: Option<u64>,
    /// The futex the task waits on (see `futex.rs`).
    pub futex: Option<super::futex::Waiter>,
    /// The user stack: its top and the lowest address mapped for it so far
    /// (it grows down on faults, see `stack.rs`).
    pub stack: (u64, u64),
    /// Where the image's argument and environment strings are.
    pub areas: loader::ArgAreas,
}

impl Task {
    pub fn new(pid: u32, ppid: u32, image: Image, kstack_top: u64, exe: Vec<u8>) -> Task {
        let mmap_next = if image.bits == 64 {
            0x7F00_0000_0000
        } else {
            0xB000_0000
        };
        Task {
            pid,
            ppid,
            comm: image.comm,
            exe,
            mm: image.mm,
            bits: image.bits,
            kstack_top,
            brk_start: image.brk,
            brk: image.brk,
            mmap_next,
            files: TaskFiles::new(),
            ctx: None,
            state: State::Runnable,
            blocked: None,
            tls: [0; 3],
            start: (image.entry, image.sp),
            sig: Signals::default(),
            rlimits: DEFAULT_RLIMITS,
            clear_child_tid: 0,
            exit_signal: signal::sig::SIGCHLD,
            vfork_child: None,
            vfork_done: false,
            rseq: None,
            sleep_until: None,
            futex: None,
            stack: image.stack,
            areas: image.areas,
        }
    }

    /// Saves the CPU's register context into the task.
    pub fn save(&mut self, cpu: &Cpu) {
        self.ctx = Some(Context {
            gpr: cpu.gpr,
            rip: cpu.rip,
            rflags: cpu.rflags,
            seg: cpu.seg,
            kernel_gs_base: cpu.msr.kernel_gs_base,
            fpu: cpu.fpu.clone(),
        });
    }
}

/// An address space that maps nothing, for accesses with no task.
pub(crate) fn empty_mm() -> &'static AddressSpace {
    static EMPTY: std::sync::OnceLock<AddressSpace> = std::sync::OnceLock::new();
    EMPTY.get_or_init(AddressSpace::empty)
}

/// What a machine-layer call did.
pub(crate) enum Done {
    Return(i64),
    /// The caller blocks; re-issue later.
    Block,
    /// The caller's image was replaced (execve): return by IRET.
    Replaced,
    /// The caller ended.
    Ended,
}

const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WCONTINUED: u64 = 8;
const WNOTHREAD: u64 = 0x2000_0000;
const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;

/// Which children a wait call selects.
#[derive(Clone, Copy)]
enum WaitSel {
    Any,
    Pid(u32),
    None,
}

/// fork's clone flags: SIGCHLD.
const CLONE_FORK: u64 = 17;
const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// vfork's clone flags: CLONE_VM | CLONE_VFORK | SIGCHLD.
const CLONE_VFORK_FLAGS: u64 = CLONE_VM | CLONE_VFORK | 17;

impl Machine {
    /// Loads a program into a fresh address space with its initial stack.
    pub(crate) fn build_image(
        &mut self,
        pid: u32,
        elf: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
    ) -> Result<Image, LoadError> {
        let bits = loader::identify(elf)?;
        if bits == 64 && self.flavor == boot::Flavor::I386 {
            return Err(LoadError::Format(
                "a 64-bit program needs the x86_64 kernel",
            ));
        }
        let limit = self.user_limit();
        let phys = &mut self.vcpu.cpu.mmu.phys;
        let mut mm = AddressSpace::new(&self.khalf, phys, &mut self.frames)?;
        let result = (|| {
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
            // The clock parameters the vDSO's time functions read.
            let clock = vdso::params(
                self.personality.clock.freq_hz,
                self.personality.clock.boot_epoch,
            );
            phys.write(self.vdso_pa + vdso::PARAMS, &clock);
            let v64 = boot::kpa(super::layout::image::VDSO64);
            phys.write(v64 + vdso::PARAMS, &clock);
            if bits == 32 {
                mm.map(phys, &mut self.frames, VDSO32_BASE, self.vdso_pa, Prot::RX)?;
                auxv.insert(0, (at::SYSINFO, self.vdso.kernel_vsyscall));
                auxv.insert(1, (at::SYSINFO_EHDR, self.vdso.base));
            } else {
                mm.map(phys, &mut self.frames, VDSO64_BASE, v64, Prot::RX)?;
                auxv.insert(0, (at::SYSINFO_EHDR, VDSO64_BASE));
            }
            let top = if bits == 64 {
                STACK_TOP_64
            } else {
                STACK_TOP_32
            };
            let mut random = [0u8; 16];
            for (k, b) in random.iter_mut().enumerate() {
                *b = (pid as u8).wrapping_mul(31).wrapping_add(k as u8 * 17);
            }
            let (sp, areas) = loader::build_stack(
                &mut mm,
                phys,
                &mut self.frames,
                bits,
                top,
                STACK_PAGES,
                argv,
                envp,
                &auxv,
                random,
            )?;
            Ok((img, sp, top, areas))
        })();
        match result {
            Ok((img, sp, top, areas)) => {
                let name = argv
                    .first()
                    .map(|a| a.rsplit(|&c| c == b'/').next().unwrap_or(a))
                    .unwrap_or(b"");
                Ok(Image {
                    mm,
                    bits,
                    entry: img.entry,
                    sp,
                    brk: img.brk,
                    comm: comm_bytes(name),
                    stack: (top, top - STACK_PAGES * 0x1000),
                    areas,
                })
            }
            Err(e) => {
                // The VDSO page is shared: drop its mapping before freeing.
                let _ = mm.forget(VDSO32_BASE);
                let _ = mm.forget(VDSO64_BASE);
                mm.destroy(&mut self.frames);
                Err(e)
            }
        }
    }

    pub(crate) fn alloc_kstack(&mut self) -> u64 {
        let phys_top = self.free_kstacks.pop().unwrap_or_else(|| {
            let t = self.next_kstack;
            self.next_kstack += KSTACK_SIZE;
            t
        });
        boot::kva(self.flavor, phys_top)
    }

    /// Points the CPU at `pid`'s address space and kernel stack, and its
    /// TLS descriptors.
    fn install(&mut self, pid: u32) {
        let Some(t) = self.tasks.get(&pid) else {
            return;
        };
        let (cr3, top, tls) = (t.mm.cr3(), t.kstack_top, t.tls);
        let cpu = &mut self.vcpu.cpu;
        cpu.ctrl.cr3 = cr3;
        cpu.mmu.flush_tlb(false);
        boot::set_kernel_stack(cpu, self.flavor, top);
        let (gdt, first) = match self.flavor {
            boot::Flavor::X86_64 => (cpu.gdtr.base, super::layout::gdt64::TLS_MIN),
            boot::Flavor::I386 => (cpu.gdtr.base, super::layout::gdt32::TLS_MIN),
        };
        let gdt_pa = gdt.wrapping_sub(self.kernel_base());
        for (k, d) in tls.iter().enumerate() {
            self.vcpu
                .cpu
                .mmu
                .phys
                .write_u64(gdt_pa + (first as u64 + k as u64) * 8, *d);
        }
        self.current = pid;
    }

    /// Starts `pid` in user mode at its image's entry (a new process).
    pub(crate) fn enter_user(&mut self, pid: u32) {
        self.install(pid);
        let Some(t) = self.tasks.get(&pid) else {
            return;
        };
        let (bits, (entry, sp)) = (t.bits, t.start);
        let cpu = &mut self.vcpu.cpu;
        boot::user_segments(cpu, self.flavor, bits);
        cpu.gpr = [0; 16];
        cpu.gpr[4] = sp;
        cpu.rip = entry;
        cpu.rflags = Rflags::FIXED.bits() | Rflags::IF.bits();
        // A new process starts with the FNINIT/MXCSR-default state.
        cpu.fpu = FpuState::default();
        if self.flavor == boot::Flavor::X86_64 {
            cpu.seg[SegReg::Gs as usize].base = 0;
            cpu.msr.kernel_gs_base = boot::kva(self.flavor, super::layout::image::PERCPU);
        }
    }

    /// Resumes a task that was suspended in the kernel; false when it had
    /// no saved context.
    fn resume(&mut self, pid: u32) -> bool {
        self.install(pid);
        let Some(ctx) = self.tasks.get_mut(&pid).and_then(|t| t.ctx.take()) else {
            return false;
        };
        {
            let cpu = &mut self.vcpu.cpu;
            cpu.gpr = ctx.gpr;
            cpu.rip = ctx.rip;
            cpu.rflags = ctx.rflags;
            cpu.seg = ctx.seg;
            cpu.msr.kernel_gs_base = ctx.kernel_gs_base;
            cpu.fpu = ctx.fpu;
        }
        true
    }

    #[inline(never)]
    pub(super) fn dispatch_slow(
        &mut self,
        call: Call,
        done: Done,
    ) -> Result<Option<Status>, KernelError> {
        match done {
            Done::Return(r) => {
                self.complete(&call, r);
                self.exit_to_user(call.regs)
            }
            Done::Replaced => {
                self.vcpu.cpu.gpr[0] = 0;
                self.exit_to_user(call.regs)
            }
            Done::Block => {
                if let Some(t) = self.tasks.get_mut(&self.current) {
                    t.state = State::Blocked;
                    t.blocked = Some(call);
                }
                self.schedule()
            }
            Done::Ended => {
                // A call that ended its caller by SIGKILL (kill(getpid(),
                // SIGKILL)): the task dies now, after the call's record.
                let me = self.current;
                if self.tasks.get(&me).is_some_and(|t| {
                    !matches!(t.state, State::Zombie(_))
                        && t.sig.pending & signal::bit(signal::sig::SIGKILL) != 0
                }) {
                    self.terminate(me, Status::Signaled(signal::sig::SIGKILL as i32));
                }
                self.schedule()
            }
        }
    }

    /// The current task returns to user mode with `pt_regs` at `regs`:
    /// delivers its signals first (which may end it).
    fn exit_to_user(&mut self, regs: u64) -> Result<Option<Status>, KernelError> {
        match self.deliver_signals(regs) {
            Delivered::Killed => self.schedule(),
            _ => Ok(None),
        }
    }

    /// Performs a call once; the caller decides what to do with the result.
    fn try_call(&mut self, call: &Call) -> Result<Done, KernelError> {
        let (vcpu, mut ctx) = self.split();
        match ctx.try_call(&mut vcpu.cpu, call) {
            Ok(tried) => Ok(tried.done),
            Err(rest) => match rest {
                Rest::Finish(u) => self.finish_call(&u.call, u.pid, u.dispatch, u.serial),
                Rest::Failed(e) => Err(e),
                // (CallCtx::try_call leaves no other rest.)
                Rest::Return { done, .. } => Ok(done),
            },
        }
    }

    /// The rest of a call [`CallCtx::try_call`] began: the dispatches
    /// other than a plain return.
    ///
    /// [`CallCtx::try_call`]: super::hypercall::CallCtx::try_call
    #[inline(never)]
    pub(super) fn finish_call(
        &mut self,
        call: &Call,
        pid: u32,
        dispatch: Dispatch,
        serial: Option<u32>,
    ) -> Result<Done, KernelError> {
        let done = match dispatch {
            Dispatch::Return(r) | Dispatch::Yield(r) => Done::Return(r),
            Dispatch::ReturnSignal { ret, signal } => {
                // send_sig(sig, current, 0): SI_USER from the caller.
                self.post_signal(pid, SigInfo::sent(signal, signal::si::USER, pid));
                Done::Return(ret)
            }
            Dispatch::Sleep { until_cycle, ret } => {
                // A re-issued sleep keeps the deadline of its first issue.
                let until = self
                    .tasks
                    .get(&pid)
                    .and_then(|t| t.sleep_until)
                    .unwrap_or(until_cycle);
                let others = self
                    .tasks
                    .values()
                    .any(|t| t.pid != pid && !matches!(t.state, State::Zombie(_)));
                if until > self.vcpu.cpu.cycles && others {
                    // Other tasks run while this one sleeps; when every
                    // task is blocked, the scheduler moves the modeled
                    // clock to the earliest deadline.
                    if let Some(t) = self.tasks.get_mut(&pid) {
                        t.sleep_until = Some(until);
                    }
                    return Ok(Done::Block);
                }
                // Alone (or due): idle the modeled clock forward.
                if until > self.vcpu.cpu.cycles {
                    self.vcpu.cpu.cycles = until;
                }
                if let Some(t) = self.tasks.get_mut(&pid) {
                    t.sleep_until = None;
                }
                Done::Return(ret)
            }
            Dispatch::Block(_) => return Ok(Done::Block),
            Dispatch::Machine(mut mc) => {
                let done = self.machine_call(call, &mc)?;
                if matches!(mc.op, MachineOp::RtSigreturn | MachineOp::Sigreturn)
                    && let (Some(p), Some(t)) = (mc.pending.as_mut(), self.tasks.get(&pid))
                {
                    // strace shows the mask the frame restored.
                    p.set_value(0, t.sig.blocked);
                }
                let ret = match done {
                    Done::Return(r) => Some(r),
                    Done::Block => return Ok(Done::Block),
                    // A successful execve returns 0 (strace shows `= 0`).
                    Done::Replaced => Some(0),
                    Done::Ended => None,
                };
                let cycles = self.vcpu.cpu.cycles;
                let mut serial = None;
                if let Some(t) = self.tasks.get(&pid) {
                    let info = Info {
                        pid,
                        ppid: t.ppid,
                        comm: &t.comm,
                        exe: &t.exe,
                        areas: &t.areas,
                    };
                    let mut mem = TaskMemory {
                        mm: &t.mm,
                        phys: &mut self.vcpu.cpu.mmu.phys,
                    };
                    serial = self
                        .personality
                        .finish_machine_call(mc, ret, &mut mem, &info, cycles);
                }
                self.phases.switch_to(pid);
                self.split().1.record(call, ret, serial);
                return Ok(done);
            }
        };
        if let Done::Return(r) = done {
            self.split().1.record(call, Some(r), serial);
        }
        Ok(done)
    }

    /// Ends `pid` with `status`: frees its memory, closes its files,
    /// reparents its children to pid 1.
    pub(crate) fn terminate(&mut self, pid: u32, status: Status) {
        if self
            .tasks
            .get(&pid)
            .is_none_or(|t| matches!(t.state, State::Zombie(_)))
        {
            return;
        }
        let children: Vec<u32> = self
            .tasks
            .values()
            .filter(|t| t.ppid == pid)
            .map(|t| t.pid)
            .collect();
        for c in children {
            if let Some(t) = self.tasks.get_mut(&c) {
                t.ppid = if pid == 1 { 0 } else { 1 };
            }
        }
        if self.personality.strace_on() {
            let line = match status {
                Status::Exited(c) => format!("+++ exited with {} +++", c & 0xFF),
                Status::Signaled(s) => {
                    format!("+++ killed by {} +++", crate::strace::signal_name(s as u64))
                }
            };
            self.personality.strace_note(pid, &line);
        }
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.state = State::Zombie(status);
            t.blocked = None;
            t.ctx = None;
            t.files.fds.close_all();
            let mm = std::mem::replace(&mut t.mm, AddressSpace::empty());
            let _ = t;
            let mut mm = mm;
            let _ = mm.forget(VDSO32_BASE);
            let _ = mm.forget(VDSO64_BASE);
            mm.destroy(&mut self.frames);
        }
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.vfork_done = true;
        }
        // do_notify_parent: the exit signal (SIGCHLD) with CLD_EXITED or
        // CLD_KILLED; a parent ignoring SIGCHLD (or with SA_NOCLDWAIT)
        // has its children reaped at once.
        let (ppid, exit_signal) = self
            .tasks
            .get(&pid)
            .map_or((0, 0), |t| (t.ppid, t.exit_signal));
        let mut autoreap = false;
        if let Some(p) = self.tasks.get(&ppid)
            && !matches!(p.state, State::Zombie(_))
        {
            let act = p.sig.actions[(signal::sig::SIGCHLD - 1) as usize];
            if exit_signal == signal::sig::SIGCHLD
                && (act.handler == signal::SIG_IGN || act.flags & signal::sa::NOCLDWAIT != 0)
            {
                autoreap = true;
            }
            if exit_signal != 0 {
                let (code, st) = match status {
                    Status::Exited(c) => (signal::si::CLD_EXITED, c & 0xFF),
                    Status::Signaled(s) => (signal::si::CLD_KILLED, s),
                };
                let info = SigInfo {
                    signo: exit_signal,
                    code,
                    kind: signal::InfoKind::Chld,
                    pid,
                    status: st,
                    ..SigInfo::default()
                };
                self.post_signal(ppid, info);
            }
        }
        // Orphans nobody will wait for are reaped at once.
        let orphan = self
            .tasks
            .get(&pid)
            .is_some_and(|t| t.ppid == 0 && pid != 1);
        if orphan || autoreap {
            self.reap(pid);
        }
    }

    fn reap(&mut self, pid: u32) {
        self.phases.forget(pid);
        if let Some(t) = self.tasks.remove(&pid) {
            self.free_kstacks
                .push(t.kstack_top.wrapping_sub(self.kernel_base()));
        }
    }

    /// Kills the current task with `sig` (a fault's default action).
    pub(crate) fn kill_current(&mut self, sig: i32) -> Result<Option<Status>, KernelError> {
        let pid = self.current;
        self.terminate(pid, Status::Signaled(sig));
        self.schedule()
    }

    /// Picks the next task to run after the current one stopped (blocked or
    /// ended). Blocked tasks re-issue their call; the first that completes
    /// or any runnable task runs. Returns pid 1's status when no task is
    /// left.
    pub(crate) fn schedule(&mut self) -> Result<Option<Status>, KernelError> {
        let cur = self.current;
        if let Some(t) = self.tasks.get_mut(&cur)
            && t.state != State::Runnable
            && !matches!(t.state, State::Zombie(_))
        {
            t.save(&self.vcpu.cpu);
        }
        // A bound on rounds: each one either runs a task, or finds every
        // task blocked and fires the earliest alarm.
        for _ in 0..1024 {
            if let Some(r) = self.schedule_round(cur)? {
                return Ok(r);
            }
            // Every live task is blocked: the modeled clock jumps to the
            // earliest deadline: an alarm, whose SIGALRM may wake its task,
            // or the end of a sleep, which the next round completes.
            let blocked = || self.tasks.values().filter(|t| t.state == State::Blocked);
            let alarm = blocked()
                .filter_map(|t| t.sig.alarm_at.map(|at| (at, t.pid)))
                .min();
            // (A sleep's end, or the deadline of a wait with a timeout:
            // poll, select, epoll_wait and the like keep theirs across
            // re-issues in `wait_deadline`.)
            let sleep = blocked()
                .filter_map(|t| match (t.sleep_until, t.files.ids.wait_deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                })
                .min();
            let alarm_first = match (alarm, sleep) {
                (Some((at, _)), Some(s)) => at <= s,
                (a, _) => a.is_some(),
            };
            if let (true, Some((at, pid))) = (alarm_first, alarm) {
                if at > self.vcpu.cpu.cycles {
                    self.vcpu.cpu.cycles = at;
                }
                self.fire_alarm(pid, at);
            } else if let Some(at) = sleep {
                if at > self.vcpu.cpu.cycles {
                    self.vcpu.cpu.cycles = at;
                }
            } else {
                return Err(KernelError::Oops(
                    "every process is blocked (deadlock)".into(),
                ));
            }
        }
        Err(KernelError::Oops("scheduler made no progress".into()))
    }

    /// One pass over the tasks after `cur`: Some(result) when a task was
    /// resumed (None inside) or none is left (the status); None when every
    /// live task stayed blocked.
    fn schedule_round(&mut self, cur: u32) -> Result<Option<Option<Status>>, KernelError> {
        // Round robin from the task after the current one.
        let mut order: Vec<u32> = self.tasks.range(cur + 1..).map(|(&p, _)| p).collect();
        order.extend(self.tasks.range(..=cur).map(|(&p, _)| p));
        for pid in order {
            let Some(t) = self.tasks.get(&pid) else {
                continue;
            };
            match t.state {
                State::Zombie(_) => continue,
                State::Runnable => {
                    let resumed = self.resume(pid);
                    if resumed {
                        // Suspended in its entry stub: pt_regs at RSP.
                        let regs = self.vcpu.cpu.gpr[4];
                        if self.deliver_signals(regs) == Delivered::Killed {
                            continue;
                        }
                    }
                    return Ok(Some(None));
                }
                State::Blocked => {
                    let Some(call) = t.blocked else { continue };
                    self.resume(pid);
                    let done = match self.try_call(&call)? {
                        Done::Block => {
                            let op = self.call_op(&call);
                            // A vfork parent's wait is only killable
                            // (wait_for_vfork_done): signals wait.
                            let wake =
                                self.tasks
                                    .get(&pid)
                                    .and_then(|t| t.sig.wakes())
                                    .filter(|_| {
                                        !matches!(op, Some(MachineOp::Vfork | MachineOp::Clone))
                                    });
                            if wake.is_some() {
                                // Interrupted by a signal: -EINTR or a
                                // restart, then the signal.
                                let restartable = !matches!(
                                    op,
                                    Some(
                                        MachineOp::Pause
                                            | MachineOp::RtSigsuspend
                                            | MachineOp::Sigsuspend
                                    )
                                );
                                self.interrupt_call(&call, restartable);
                                if let Some(t) = self.tasks.get_mut(&pid) {
                                    t.state = State::Runnable;
                                    t.blocked = None;
                                    t.sleep_until = None;
                                    t.futex = None;
                                }
                                self.vcpu.cpu.gpr[0] = 0;
                                if self.deliver_signals(call.regs) == Delivered::Killed {
                                    continue;
                                }
                                return Ok(Some(None));
                            }
                            if let Some(t) = self.tasks.get_mut(&pid) {
                                t.save(&self.vcpu.cpu);
                            }
                            continue;
                        }
                        d => d,
                    };
                    if let Some(t) = self.tasks.get_mut(&pid) {
                        t.state = State::Runnable;
                        t.blocked = None;
                    }
                    match done {
                        Done::Return(r) => self.complete(&call, r),
                        Done::Replaced => self.vcpu.cpu.gpr[0] = 0,
                        Done::Ended | Done::Block => continue,
                    }
                    if self.deliver_signals(call.regs) == Delivered::Killed {
                        continue;
                    }
                    return Ok(Some(None));
                }
            }
        }
        if self.tasks.values().any(|t| t.state == State::Blocked) {
            return Ok(None);
        }
        let status = match self.tasks.get(&1).map(|t| t.state) {
            Some(State::Zombie(s)) => s,
            _ => Status::Exited(0),
        };
        Ok(Some(Some(status)))
    }

    /// The machine-layer operation of a call, if it is one.
    fn call_op(&self, call: &Call) -> Option<MachineOp> {
        match self.personality.table(call.abi).row(call.nr)?.handler {
            crate::syscalls::table::Handler::Machine(op) => Some(op),
            crate::syscalls::table::Handler::Kernel(_) => None,
        }
    }

    /// The calls the machine layer performs.
    fn machine_call(&mut self, call: &Call, mc: &MachineCall) -> Result<Done, KernelError> {
        let a = call.args;
        let pid = self.current;
        Ok(match mc.op {
            MachineOp::Exit | MachineOp::ExitGroup => {
                self.terminate(pid, Status::Exited((a[0] & 0xFF) as i32));
                Done::Ended
            }
            MachineOp::Fork => Done::Return(self.fork(call, CLONE_FORK)?),
            MachineOp::Vfork => self.vfork(call, CLONE_VFORK_FLAGS)?,
            MachineOp::Clone => {
                // Only process-like clones (no threads): CLONE_VM is
                // served by copying (with CLONE_VFORK the parent waits).
                let flags = a[0];
                const CLONE_THREAD: u64 = 0x10000;
                const CLONE_SIGHAND: u64 = 0x800;
                if flags & (CLONE_THREAD | CLONE_SIGHAND) != 0 {
                    Done::Return(EINVAL)
                } else if flags & CLONE_VFORK != 0 {
                    self.vfork(call, flags)?
                } else {
                    Done::Return(self.fork(call, flags)?)
                }
            }
            MachineOp::Execve => self.execve(call)?,
            MachineOp::Wait4 | MachineOp::Waitpid => self.wait4(call),
            MachineOp::Brk => Done::Return(self.brk(a[0])),
            MachineOp::Mmap | MachineOp::Mmap2 => {
                let off = if mc.op == MachineOp::Mmap2 {
                    a[5] << 12
                } else {
                    a[5]
                };
                Done::Return(self.mmap(a[0], a[1], a[2], a[3], a[4] as i32, off))
            }
            MachineOp::OldMmap => {
                let mut mem = self.user_memory();
                match uaccess::read_u32_array(&mut mem, a[0], 6) {
                    Ok(v) => {
                        let v: Vec<u64> = v.into_iter().map(u64::from).collect();
                        Done::Return(self.mmap(v[0], v[1], v[2], v[3], v[4] as i32, v[5]))
                    }
                    Err(_) => Done::Return(EFAULT),
                }
            }
            MachineOp::Munmap => Done::Return(self.munmap(a[0], a[1])),
            MachineOp::Mprotect => Done::Return(self.mprotect(a[0], a[1], a[2])),
            MachineOp::Madvise => Done::Return(0),
            MachineOp::Mlock | MachineOp::Munlock => Done::Return(self.sys_mlock(a[0], a[1])),
            MachineOp::Mlock2 => Done::Return(self.sys_mlock2(a[0], a[1], a[2])),
            MachineOp::Mlockall => Done::Return(self.sys_mlockall(a[0])),
            MachineOp::Munlockall => Done::Return(0),
            MachineOp::Msync => Done::Return(self.sys_msync(a[0], a[1], a[2])),
            MachineOp::Mincore => Done::Return(self.sys_mincore(a[0], a[1], a[2])),
            MachineOp::Getpgid => Done::Return(self.sys_getpgid(a[0])),
            MachineOp::Getsid => Done::Return(self.sys_getsid(a[0])),
            MachineOp::Setpgid => Done::Return(self.sys_setpgid(a[0], a[1])),
            MachineOp::Getpriority => Done::Return(self.sys_getpriority(a[0], a[1])),
            MachineOp::Setpriority => Done::Return(self.sys_setpriority(a[0], a[1], a[2])),
            MachineOp::Getitimer => Done::Return(self.sys_getitimer(call.abi, a[0], a[1])),
            MachineOp::Setitimer => Done::Return(self.sys_setitimer(call.abi, a[0], a[1], a[2])),
            MachineOp::ArchPrctl => Done::Return(self.arch_prctl(a[0], a[1])),
            MachineOp::SetThreadArea => Done::Return(self.set_thread_area(a[0])),
            MachineOp::SetTidAddress => {
                if let Some(t) = self.tasks.get_mut(&pid) {
                    t.clear_child_tid = a[0];
                }
                Done::Return(pid as i64)
            }
            MachineOp::SetRobustList => {
                // The head's size must be sizeof(struct robust_list_head).
                let size = if call.abi == Abi::X86_64 { 24 } else { 12 };
                Done::Return(if a[1] == size { 0 } else { EINVAL })
            }
            MachineOp::Rseq => Done::Return(self.sys_rseq(&a)),
            MachineOp::Futex => self.sys_futex(call.abi, &a, false),
            MachineOp::FutexTime64 => self.sys_futex(call.abi, &a, true),
            MachineOp::Mremap => Done::Return(self.sys_mremap(&a)),
            MachineOp::Kill => self.sys_kill(a[0] as i32, a[1] as i32),
            MachineOp::Tkill => self.sys_tkill(None, a[0] as i32, a[1] as i32),
            MachineOp::Tgkill => self.sys_tkill(Some(a[0] as i32), a[1] as i32, a[2] as i32),
            MachineOp::RtSigqueueinfo => {
                self.sys_sigqueueinfo(call.abi, a[0] as i32, None, a[1] as i32, a[2])
            }
            MachineOp::RtTgsigqueueinfo => {
                let (tgid, tid) = (a[0] as i32, Some(a[1] as i32));
                self.sys_sigqueueinfo(call.abi, tgid, tid, a[2] as i32, a[3])
            }
            MachineOp::RtSigaction => Done::Return(self.sys_sigaction(call, false)),
            MachineOp::Sigaction => Done::Return(self.sys_sigaction(call, true)),
            MachineOp::RtSigprocmask => Done::Return(self.sys_sigprocmask(call, false)),
            MachineOp::Sigprocmask => Done::Return(self.sys_sigprocmask(call, true)),
            MachineOp::RtSigpending => Done::Return(self.sys_sigpending(call, false)),
            MachineOp::Sigpending => Done::Return(self.sys_sigpending(call, true)),
            MachineOp::RtSigsuspend => self.sys_sigsuspend(call, false),
            MachineOp::Sigsuspend => self.sys_sigsuspend(call, true),
            MachineOp::Pause => self.sys_pause(),
            MachineOp::Alarm => Done::Return(self.sys_alarm(a[0])),
            MachineOp::Sigaltstack => Done::Return(self.sys_sigaltstack(call)),
            MachineOp::RtSigreturn => self.sys_sigreturn(call, true),
            MachineOp::Sigreturn => self.sys_sigreturn(call, false),
            MachineOp::Waitid => self.waitid(call),
            op @ (MachineOp::Prlimit64 | MachineOp::Getrlimit | MachineOp::Setrlimit) => {
                self.sys_rlimit(call, op)
            }
            _ => Done::Return(ENOSYS),
        })
    }

    /// vfork, or clone with CLONE_VFORK: the child is created (with a copy
    /// of the memory), and the parent sleeps until it execs or exits.
    fn vfork(&mut self, call: &Call, flags: u64) -> Result<Done, KernelError> {
        let me = self.current;
        if let Some(child) = self.tasks.get(&me).and_then(|t| t.vfork_child) {
            // Re-issued while waiting.
            let done = self.tasks.get(&child).is_none_or(|c| c.vfork_done);
            if done {
                if let Some(t) = self.tasks.get_mut(&me) {
                    t.vfork_child = None;
                }
                return Ok(Done::Return(child as i64));
            }
            return Ok(Done::Block);
        }
        let pid = self.fork(call, flags)?;
        if pid < 0 {
            return Ok(Done::Return(pid));
        }
        if let Some(t) = self.tasks.get_mut(&me) {
            t.vfork_child = Some(pid as u32);
        }
        Ok(Done::Block)
    }

    /// fork/clone: a new process with a copy of the caller's memory,
    /// descriptors, signal dispositions and limits, returning 0 from the
    /// same call on its own kernel stack. `flags` are clone's (exit signal
    /// in the low byte).
    fn fork(&mut self, call: &Call, flags: u64) -> Result<i64, KernelError> {
        let parent = self.current;
        let Some(p) = self.tasks.get(&parent) else {
            return Ok(ESRCH);
        };
        let mut child_mm =
            match p
                .mm
                .fork(&self.khalf, &mut self.vcpu.cpu.mmu.phys, &mut self.frames)
            {
                Ok(mm) => mm,
                Err(_) => return Ok(ENOMEM),
            };
        // The vDSO pages are shared, not copied.
        let v64 = boot::kpa(super::layout::image::VDSO64);
        for (va, pa) in [(VDSO32_BASE, self.vdso_pa), (VDSO64_BASE, v64)] {
            if let Some(copy) = child_mm.forget(va) {
                self.frames.free(copy);
                let _ = child_mm.map(
                    &mut self.vcpu.cpu.mmu.phys,
                    &mut self.frames,
                    va,
                    pa,
                    Prot::RX,
                );
            }
        }
        let files = p.files.fork();
        let sig = p.sig.fork();
        let rlimits = p.rlimits;
        let (bits, brk_start, brk, mmap_next, comm, exe, tls, ptop) = (
            p.bits,
            p.brk_start,
            p.brk,
            p.mmap_next,
            p.comm,
            p.exe.clone(),
            p.tls,
            p.kstack_top,
        );
        let pid = self.next_pid;
        self.next_pid += 1;
        let ctop = self.alloc_kstack();
        // Copy the parent's kernel stack (pt_regs and the entry frame) to
        // the child's, at the same depth.
        let rsp = self.vcpu.cpu.gpr[4];
        let depth = ptop.wrapping_sub(rsp).min(KSTACK_SIZE);
        let mut buf = vec![0u8; depth as usize];
        let base = self.kernel_base();
        self.vcpu
            .cpu
            .mmu
            .phys
            .read(rsp.wrapping_sub(base), &mut buf);
        self.vcpu
            .cpu
            .mmu
            .phys
            .write((ctop - depth).wrapping_sub(base), &buf);
        let mut child = Task {
            pid,
            ppid: parent,
            comm,
            exe,
            mm: child_mm,
            bits,
            kstack_top: ctop,
            brk_start,
            brk,
            mmap_next,
            files,
            ctx: None,
            state: State::Runnable,
            blocked: None,
            tls,
            start: (0, 0),
            sig,
            rlimits,
            clear_child_tid: 0,
            exit_signal: (flags & 0xFF) as u32,
            vfork_child: None,
            vfork_done: false,
            // rseq_fork: a child with its own memory keeps the registration.
            rseq: self
                .tasks
                .get(&parent)
                .and_then(|p| p.rseq)
                .filter(|_| flags & 0x100 == 0),
            sleep_until: None,
            futex: None,
            stack: self.tasks.get(&parent).map_or((0, 0), |p| p.stack),
            areas: self
                .tasks
                .get(&parent)
                .map_or_else(Default::default, |p| p.areas),
        };
        child.save(&self.vcpu.cpu);
        // clone's pointers: x86_64 (flags, newsp, parent_tid, child_tid,
        // tls); i386 (flags, newsp, parent_tid, tls, child_tid).
        let a = call.args;
        let (parent_tid, child_tid, tls_arg) = if call.abi == Abi::X86_64 {
            (a[2], a[3], a[4])
        } else {
            (a[2], a[4], a[3])
        };
        let clone = call.nr
            == match call.abi {
                Abi::X86_64 => crate::syscalls::unistd_64::NR_CLONE,
                Abi::I386 => crate::syscalls::unistd_32::NR_CLONE,
            };
        if clone && flags & CLONE_CHILD_CLEARTID != 0 {
            child.clear_child_tid = child_tid;
        }
        if clone
            && flags & CLONE_SETTLS != 0
            && call.abi == Abi::X86_64
            && let Some(ctx) = child.ctx.as_mut()
        {
            ctx.seg[SegReg::Fs as usize].base = tls_arg;
        }
        // The child returns 0 from the same call, on its own stack.
        let child_regs = call.regs - rsp + (ctop - depth);
        if let Some(ctx) = child.ctx.as_mut() {
            ctx.gpr[4] = ctop - depth;
        }
        self.tasks.insert(pid, child);
        let ccall = Call {
            regs: child_regs,
            ..*call
        };
        let w = if call.wide { 8 } else { 4 };
        let l = regs::layout(call.wide);
        self.kwrite(ccall.regs + l.ax, w, 0);
        if clone && a[1] != 0 {
            // A new stack for the child.
            self.kwrite(ccall.regs + l.sp, w, a[1]);
        }
        if clone
            && flags & CLONE_CHILD_SETTID != 0
            && let Some(c) = self.tasks.get(&pid)
        {
            let mut mem = TaskMemory {
                mm: &c.mm,
                phys: &mut self.vcpu.cpu.mmu.phys,
            };
            let _ = uaccess::write_u32(&mut mem, child_tid, pid);
        }
        if clone && flags & CLONE_PARENT_SETTID != 0 {
            let mut mem = self.user_memory();
            let _ = uaccess::write_u32(&mut mem, parent_tid, pid);
        }
        let fast = self.fast_return_ok(&ccall) as u64;
        if let Some(ctx) = self.tasks.get_mut(&pid).and_then(|t| t.ctx.as_mut()) {
            ctx.gpr[0] = fast;
        }
        Ok(pid as i64)
    }

    fn read_string_array(&mut self, abi: Abi, mut addr: u64) -> Result<Vec<Vec<u8>>, i64> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut mem = self.user_memory();
        for _ in 0..4096 {
            let p = uaccess::read_ulong(&mut mem, abi, addr).map_err(|_| EFAULT)?;
            if p == 0 {
                return Ok(out);
            }
            out.push(
                uaccess::read_cstr(&mut mem, p, uaccess::PATH_MAX * 32)
                    .map_err(|e| -(e.0 as i64))?,
            );
            addr += if abi == Abi::X86_64 { 8 } else { 4 };
        }
        Err(-7) // E2BIG
    }

    fn execve(&mut self, call: &Call) -> Result<Done, KernelError> {
        let a = call.args;
        let path = {
            let mut mem = self.user_memory();
            match uaccess::read_path(&mut mem, a[0]) {
                Ok(p) => p,
                Err(e) => return Ok(Done::Return(-(e.0 as i64))),
            }
        };
        let argv = match self.read_string_array(call.abi, a[1]) {
            Ok(v) => v,
            Err(e) => return Ok(Done::Return(e)),
        };
        let envp = match self.read_string_array(call.abi, a[2]) {
            Ok(v) => v,
            Err(e) => return Ok(Done::Return(e)),
        };
        let cwd = self
            .tasks
            .get(&self.current)
            .map(|t| t.files.cwd.clone())
            .unwrap_or_else(|| b"/".to_vec());
        let full = if path.first() == Some(&b'/') {
            path.clone()
        } else {
            let mut p = cwd;
            if p.last() != Some(&b'/') {
                p.push(b'/');
            }
            p.extend_from_slice(&path);
            p
        };
        // The magic link `/proc/self/exe` (or `/proc/<own pid>/exe`) names
        // the running executable; busybox's shell runs applets through it.
        let own_exe = format!("/proc/{}/exe", self.current);
        let full = if full == b"/proc/self/exe" || full == own_exe.as_bytes() {
            match self.tasks.get(&self.current) {
                Some(t) => t.exe.clone(),
                None => full,
            }
        } else {
            full
        };
        let elf = match self.personality.vfs.read_file(&full) {
            Ok(d) => d,
            Err(e) => return Ok(Done::Return(-(e.0 as i64))),
        };
        let pid = self.current;
        let image = match self.build_image(pid, &elf, &argv, &envp) {
            Ok(i) => i,
            Err(LoadError::NoMemory) => return Ok(Done::Return(ENOMEM)),
            // Linux opens the interpreter named by PT_INTERP; there is none
            // in this file system (ENOENT, as for a missing one).
            Err(LoadError::Interpreter(_)) => return Ok(Done::Return(ENOENT)),
            Err(_) => return Ok(Done::Return(ENOEXEC)),
        };
        let Some(t) = self.tasks.get_mut(&pid) else {
            return Ok(Done::Return(ESRCH));
        };
        let mut old = std::mem::replace(&mut t.mm, image.mm);
        t.stack = image.stack;
        t.areas = image.areas;
        t.bits = image.bits;
        t.brk_start = image.brk;
        t.brk = image.brk;
        t.mmap_next = if image.bits == 64 {
            0x7F00_0000_0000
        } else {
            0xB000_0000
        };
        // Linux names the task after the file name execve was given
        // (`__set_task_comm(kbasename(bprm->filename))`), not argv[0]:
        // `execve("/proc/self/exe", ["wc", ...])` runs as "exe".
        t.comm = comm_bytes(path.rsplit(|&c| c == b'/').next().unwrap_or(&path));
        t.exe = full;
        t.tls = [0; 3];
        t.rseq = None;
        t.files.exec();
        t.sig.exec();
        t.vfork_done = true;
        let _ = old.forget(VDSO32_BASE);
        let _ = old.forget(VDSO64_BASE);
        old.destroy(&mut self.frames);
        self.install(pid);
        // Rewrite pt_regs so the entry stub's IRET starts the new image.
        let wide = call.wide;
        let w = if wide { 8 } else { 4 };
        let l = regs::layout(wide);
        for off in (0..l.orig_ax).step_by(w as usize) {
            self.kwrite(call.regs + off, w, 0);
        }
        let (cs, ds) = match (self.flavor, image.bits) {
            (boot::Flavor::X86_64, 64) => {
                (super::layout::gdt64::USER_CS, super::layout::gdt64::USER_DS)
            }
            (boot::Flavor::X86_64, _) => (
                super::layout::gdt64::USER32_CS,
                super::layout::gdt64::USER_DS,
            ),
            (boot::Flavor::I386, _) => {
                (super::layout::gdt32::USER_CS, super::layout::gdt32::USER_DS)
            }
        };
        if !wide {
            // i386 pt_regs: ds, es = __USER_DS; fs, gs = 0.
            self.kwrite(call.regs + super::entry::regs32::DS, 4, ds as u64);
            self.kwrite(call.regs + super::entry::regs32::ES, 4, ds as u64);
        }
        self.kwrite(call.regs + l.ip, w, image.entry);
        self.kwrite(call.regs + l.cs, w, cs as u64);
        self.kwrite(call.regs + l.flags, w, 0x202);
        self.kwrite(call.regs + l.sp, w, image.sp);
        self.kwrite(call.regs + l.ss, w, ds as u64);
        // flush_thread -> fpu_flush_thread: the new image starts with the
        // FNINIT/MXCSR-default FPU state.
        self.vcpu.cpu.fpu = FpuState::default();
        if self.flavor == boot::Flavor::X86_64 {
            // A new image starts with FS and GS bases of 0.
            self.vcpu.cpu.seg[SegReg::Fs as usize].base = 0;
            self.vcpu.cpu.msr.kernel_gs_base = 0;
        }
        Ok(Done::Replaced)
    }

    /// The children of the caller a wait call with `sel` and `options`
    /// may report, with their states.
    fn wait_candidates(&self, sel: WaitSel, options: u64) -> Vec<(u32, State)> {
        let me = self.current;
        self.tasks
            .values()
            .filter(|t| t.ppid == me)
            .filter(|t| match sel {
                WaitSel::Any => true,
                WaitSel::Pid(p) => t.pid == p,
                WaitSel::None => false,
            })
            .filter(|t| {
                // __WALL waits for all; otherwise SIGCHLD children unless
                // __WCLONE, which selects the others.
                options & WALL != 0
                    || ((t.exit_signal == signal::sig::SIGCHLD) != (options & WCLONE != 0))
            })
            .map(|t| (t.pid, t.state))
            .collect()
    }

    /// wait4(pid, status, options, rusage) and i386 waitpid(pid, status,
    /// options).
    fn wait4(&mut self, call: &Call) -> Done {
        let a = call.args;
        let want = a[0] as i32;
        let options = a[2] & 0xFFFF_FFFF;
        if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL) != 0 {
            return Done::Return(EINVAL);
        }
        let sel = match want {
            -1 | 0 => WaitSel::Any,
            p if p > 0 => WaitSel::Pid(p as u32),
            // Process group -p: every task is in group 1.
            _ => WaitSel::None,
        };
        let children = self.wait_candidates(sel, options);
        if children.is_empty() {
            return Done::Return(ECHILD);
        }
        if let Some(&(cpid, State::Zombie(st))) =
            children.iter().find(|(_, s)| matches!(s, State::Zombie(_)))
        {
            self.reap(cpid);
            let rusage =
                call.nr != crate::syscalls::unistd_32::NR_WAITPID || call.abi == Abi::X86_64;
            let mut mem = self.user_memory();
            if a[1] != 0 && uaccess::write_u32(&mut mem, a[1], st.wait_status()).is_err() {
                return Done::Return(EFAULT);
            }
            if rusage && a[3] != 0 {
                let n = if call.abi == Abi::X86_64 { 144 } else { 72 };
                if mem.write(a[3], &vec![0u8; n]).is_err() {
                    return Done::Return(EFAULT);
                }
            }
            return Done::Return(cpid as i64);
        }
        if options & WNOHANG != 0 {
            return Done::Return(0);
        }
        Done::Block
    }

    /// waitid(idtype, id, infop, options, rusage).
    fn waitid(&mut self, call: &Call) -> Done {
        const WEXITED: u64 = 4;
        const WSTOPPED: u64 = 2;
        const WNOWAIT: u64 = 0x0100_0000;
        let a = call.args;
        let options = a[3] & 0xFFFF_FFFF;
        if options
            & !(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | WNOTHREAD | WCLONE | WALL)
            != 0
            || options & (WEXITED | WSTOPPED | WCONTINUED) == 0
        {
            return Done::Return(EINVAL);
        }
        let id = a[1] as i32;
        let sel = match a[0] {
            0 => WaitSel::Any,
            1 if id > 0 => WaitSel::Pid(id as u32),
            2 if id == 0 || id == 1 => WaitSel::Any,
            2 if id > 0 => WaitSel::None,
            _ => return Done::Return(EINVAL),
        };
        let children = self.wait_candidates(sel, options);
        if children.is_empty() {
            return Done::Return(ECHILD);
        }
        let zombie = children
            .iter()
            .find(|(_, s)| matches!(s, State::Zombie(_)))
            .filter(|_| options & WEXITED != 0)
            .copied();
        let (pid, code, status) = match zombie {
            Some((cpid, State::Zombie(st))) => {
                if options & WNOWAIT == 0 {
                    self.reap(cpid);
                }
                match st {
                    Status::Exited(c) => (cpid, signal::si::CLD_EXITED, c & 0xFF),
                    Status::Signaled(s) => (cpid, signal::si::CLD_KILLED, s),
                }
            }
            _ if options & WNOHANG != 0 => (0, 0, 0),
            _ => return Done::Block,
        };
        if a[2] != 0 {
            let wide = call.abi == Abi::X86_64;
            let u = if wide { 16 } else { 12 };
            let mut b = [0u8; 28];
            if pid != 0 {
                b[0..4].copy_from_slice(&signal::sig::SIGCHLD.to_le_bytes());
            }
            b[8..12].copy_from_slice(&code.to_le_bytes());
            b[u..u + 4].copy_from_slice(&pid.to_le_bytes());
            b[u + 8..u + 12].copy_from_slice(&status.to_le_bytes());
            let mut mem = self.user_memory();
            if mem.write(a[2], &b[..u + 12]).is_err() {
                return Done::Return(EFAULT);
            }
        }
        if a[4] != 0 {
            let n = if call.abi == Abi::X86_64 { 144 } else { 72 };
            if self.user_memory().write(a[4], &vec![0u8; n]).is_err() {
                return Done::Return(EFAULT);
            }
        }
        Done::Return(0)
    }

    fn brk(&mut self, want: u64) -> i64 {
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return 0;
        };
        let (start, cur) = (t.brk_start, t.brk);
        if want < start || want > start + (1 << 30) {
            return cur as i64;
        }
        let mut page = (cur + 0xFFF) & !0xFFF;
        while page < want {
            if t.mm
                .map_new(
                    &mut self.vcpu.cpu.mmu.phys,
                    &mut self.frames,
                    page,
                    Prot::RW,
                )
                .is_err()
            {
                return cur as i64;
            }
            page += 0x1000;
        }
        // Shrinking unmaps whole pages above the new break.
        let mut page = (want + 0xFFF) & !0xFFF;
        while page < ((cur + 0xFFF) & !0xFFF) {
            let _ =
                t.mm.unmap(&mut self.vcpu.cpu.mmu.phys, &mut self.frames, page);
            page += 0x1000;
        }
        t.brk = want;
        self.vcpu.cpu.mmu.flush_tlb(false);
        want as i64
    }

    fn prot(p: u64) -> Prot {
        Prot {
            write: p & 2 != 0,
            exec: p & 4 != 0,
        }
    }

    fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64, fd: i32, off: u64) -> i64 {
        const MAP_FIXED: u64 = 0x10;
        const MAP_ANONYMOUS: u64 = 0x20;
        if len == 0 || len > (1 << 32) || off & 0xFFF != 0 {
            return EINVAL;
        }
        let len = (len + 0xFFF) & !0xFFF;
        // A file mapping's contents are read first (errors leave the
        // address space unchanged).
        let data = if flags & MAP_ANONYMOUS == 0 {
            match self.mapped_file_contents(fd, off, len, prot, flags) {
                Ok(d) => Some(d),
                Err(e) => return e,
            }
        } else {
            None
        };
        let limit = self.user_limit();
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return EINVAL;
        };
        let start = if flags & MAP_FIXED != 0 {
            if addr & 0xFFF != 0 || addr.checked_add(len).is_none_or(|e| e > limit) {
                return EINVAL;
            }
            addr
        } else {
            t.mmap_next -= len;
            t.mmap_next
        };
        let p = Machine::prot(prot);
        let mut va = start;
        while va < start + len {
            if let Some((old, _)) = t.mm.lookup(va) {
                let _ = old;
                let _ =
                    t.mm.unmap(&mut self.vcpu.cpu.mmu.phys, &mut self.frames, va);
            }
            let pa = match t
                .mm
                .map_new(&mut self.vcpu.cpu.mmu.phys, &mut self.frames, va, p)
            {
                Ok(pa) => pa,
                Err(_) => return ENOMEM,
            };
            if let Some(d) = &data {
                let o = (va - start) as usize;
                if o < d.len() {
                    let n = (d.len() - o).min(0x1000);
                    self.vcpu.cpu.mmu.phys.write(pa, &d[o..o + n]);
                }
            }
            va += 0x1000;
        }
        self.vcpu.cpu.mmu.flush_tlb(false);
        start as i64
    }

    /// The bytes a file mapping of `len` bytes at `off` of `fd` starts
    /// with (at most `len`; the rest of the mapping, past the end of the
    /// file, reads as zeros). Private mappings (and
    /// read-only shared ones, which no write can tell apart) are served
    /// by copying the file at `mmap` time, as a private mapping that no
    /// one else writes behaves; a writable `MAP_SHARED` mapping, which
    /// would have to reach the file, is refused with ENODEV, as Linux does
    /// for files that cannot be mapped so. Errors as Linux: EBADF, EACCES
    /// (not open for reading, or shared-writable without write access),
    /// ENODEV (pipes, the console, directories, devices).
    fn mapped_file_contents(
        &mut self,
        fd: i32,
        off: u64,
        len: u64,
        prot: u64,
        flags: u64,
    ) -> Result<Vec<u8>, i64> {
        const MAP_TYPE: u64 = 0x0F;
        const MAP_SHARED: u64 = 0x01;
        const MAP_SHARED_VALIDATE: u64 = 0x03;
        const PROT_WRITE: u64 = 0x2;
        let file = self
            .tasks
            .get(&self.current)
            .ok_or(EBADF)?
            .files
            .fds
            .file(fd)
            .map_err(|_| EBADF)?;
        let g = file.lock();
        let crate::fd::FileObject::Vfs(vf) = &g.object else {
            return Err(ENODEV);
        };
        if !matches!(
            vf.handle,
            crate::vfs::Handle::Mem(_) | crate::vfs::Handle::Host(_)
        ) {
            return Err(ENODEV);
        }
        if !g.readable() {
            return Err(EACCES);
        }
        let shared = matches!(flags & MAP_TYPE, MAP_SHARED | MAP_SHARED_VALIDATE);
        if shared && prot & PROT_WRITE != 0 {
            return Err(if g.writable() { ENODEV } else { EACCES });
        }
        // A mapping may not run past the largest file offset
        // (file_mmap_ok against the in-memory filesystem's s_maxbytes,
        // MAX_LFS_FILESIZE); guest RAM bounds what can be mapped (and so
        // what is read).
        if off.checked_add(len).is_none_or(|end| end > i64::MAX as u64) {
            return Err(EOVERFLOW);
        }
        if len / 0x1000 > self.frames.available() {
            return Err(ENOMEM);
        }
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while (data.len() as u64) < len {
            let want = ((len - data.len() as u64) as usize).min(chunk.len());
            let Some(buf) = chunk.get_mut(..want) else {
                break;
            };
            match self
                .personality
                .vfs
                .read(vf, off.saturating_add(data.len() as u64), buf)
            {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(buf.get(..n).unwrap_or_default()),
            }
        }
        Ok(data)
    }

    fn munmap(&mut self, addr: u64, len: u64) -> i64 {
        if addr & 0xFFF != 0 || len == 0 {
            return EINVAL;
        }
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return EINVAL;
        };
        let end = addr.saturating_add((len + 0xFFF) & !0xFFF);
        let mut va = addr;
        while va < end {
            let _ =
                t.mm.unmap(&mut self.vcpu.cpu.mmu.phys, &mut self.frames, va);
            va += 0x1000;
        }
        self.vcpu.cpu.mmu.flush_tlb(false);
        0
    }

    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> i64 {
        if addr & 0xFFF != 0 {
            return EINVAL;
        }
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return EINVAL;
        };
        let end = addr.saturating_add((len + 0xFFF) & !0xFFF);
        let mut va = addr;
        while va < end {
            match t.mm.protect(
                &mut self.vcpu.cpu.mmu.phys,
                &mut self.frames,
                va,
                Machine::prot(prot),
            ) {
                Ok(true) => {}
                Ok(false) => return ENOMEM,
                Err(_) => return ENOMEM,
            }
            va += 0x1000;
        }
        self.vcpu.cpu.mmu.flush_tlb(false);
        0
    }

    /// arch_prctl: FS and GS bases of 64-bit processes. In the kernel (after
    /// SWAPGS) the user's GS base is in IA32_KERNEL_GS_BASE.
    fn arch_prctl(&mut self, code: u64, addr: u64) -> i64 {
        const SET_GS: u64 = 0x1001;
        const SET_FS: u64 = 0x1002;
        const GET_FS: u64 = 0x1003;
        const GET_GS: u64 = 0x1004;
        let canonical = |v: u64| ((v as i64) << 16 >> 16) as u64 == v && v < self.user_limit();
        match code {
            SET_FS if canonical(addr) => {
                self.vcpu.cpu.seg[SegReg::Fs as usize].base = addr;
                0
            }
            SET_GS if canonical(addr) => {
                self.vcpu.cpu.msr.kernel_gs_base = addr;
                0
            }
            GET_FS | GET_GS => {
                let v = if code == GET_FS {
                    self.vcpu.cpu.seg[SegReg::Fs as usize].base
                } else {
                    self.vcpu.cpu.msr.kernel_gs_base
                };
                let mut mem = self.user_memory();
                if uaccess::write_u64(&mut mem, addr, v).is_err() {
                    EFAULT
                } else {
                    0
                }
            }
            SET_FS | SET_GS => -1,
            _ => EINVAL,
        }
    }

    /// set_thread_area(struct user_desc *): installs a TLS descriptor in
    /// one of the three GDT TLS slots (picking a free one for entry -1).
    fn set_thread_area(&mut self, uptr: u64) -> i64 {
        let first = match self.flavor {
            boot::Flavor::X86_64 => super::layout::gdt64::TLS_MIN,
            boot::Flavor::I386 => super::layout::gdt32::TLS_MIN,
        } as u32;
        let mut raw = [0u8; 16];
        if self.user_memory().read(uptr, &mut raw).is_err() {
            return EFAULT;
        }
        let word = |k: usize| u32::from_le_bytes([raw[k], raw[k + 1], raw[k + 2], raw[k + 3]]);
        let (entry, base, limit, flags) = (word(0), word(4), word(8), word(12));
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return EINVAL;
        };
        let slot = if entry == u32::MAX {
            match t.tls.iter().position(|d| *d == 0) {
                Some(s) => s as u32,
                None => return -3, // ESRCH, as Linux
            }
        } else if (first..first + 3).contains(&entry) {
            entry - first
        } else {
            return EINVAL;
        };
        // user_desc flags: seg_32bit, contents(2), read_exec_only,
        // limit_in_pages, seg_not_present, useable.
        let seg32 = flags & 1 != 0;
        let contents = (flags >> 1) & 3;
        let read_exec_only = flags & 8 != 0;
        let pages = flags & 16 != 0;
        let not_present = flags & 32 != 0;
        let useable = flags & 64 != 0;
        let empty =
            base == 0 && limit == 0 && contents == 0 && read_exec_only && !seg32 && not_present;
        let desc = if empty {
            0
        } else {
            // Linux's fill_ldt: type = writable unless read_exec_only,
            // contents in bits 3:2, accessed.
            let ty = (((!read_exec_only) as u8) << 1) | ((contents as u8) << 2) | 1;
            let present = if not_present { 0 } else { 0x80 };
            let access = present | 0x60 | 0x10 | ty;
            let fl = (seg32 as u8) << 2 | (pages as u8) << 3 | useable as u8;
            boot::seg_desc(base, limit, access, fl)
        };
        t.tls[slot as usize] = desc;
        let out = first + slot;
        if entry == u32::MAX {
            let mut mem = self.user_memory();
            if uaccess::write_u32(&mut mem, uptr, out).is_err() {
                return EFAULT;
            }
        }
        let pid = self.current;
        self.install(pid);
        0
    }
}
