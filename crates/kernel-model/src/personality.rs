//! The Linux personality: the shared kernel state system calls act on, and
//! the dispatcher the machine layer calls for every system call.
//!
//! # Division of labour
//! The machine layer (boot, entry stubs, processes, memory management)
//! reads `orig_ax` and the argument registers from `pt_regs` (see
//! [`crate::syscalls::regs`]) and calls [`Personality::syscall`] with the
//! ABI, the number, the six arguments and a [`SyscallEnv`]: the calling
//! task's [`TaskFiles`], its [`UserMemory`], its [`ProcessInfo`], the entry
//! mechanism and the modeled cycle count. The answer is a [`Dispatch`]:
//!
//! - [`Dispatch::Return`]: store the value in `pt_regs->ax` and return.
//! - [`Dispatch::ReturnSignal`]: the same, then deliver the signal (a write
//!   to a pipe without readers: `-EPIPE` and `SIGPIPE`).
//! - [`Dispatch::Block`]: nothing happened; run something else and issue the
//!   same call again later (an empty pipe with writers, console input not
//!   yet available, `myaudit` waiting for its watermark).
//! - [`Dispatch::Sleep`]: return `ret` once the modeled clock reaches the
//!   cycle given (`nanosleep`); the machine may idle forward to it.
//! - [`Dispatch::Yield`]: return the value; the scheduler may switch tasks.
//! - [`Dispatch::Machine`]: a call the machine layer owns (fork, clone,
//!   execve, exit, wait4, brk, mmap, signals, ...). The table names the
//!   operation with a [`MachineOp`]; the machine layer performs it and then
//!   calls [`Personality::finish_machine_call`] so strace and the audit log
//!   see it like any other call.
//!
//! The machine layer may also add or replace rows of either table with
//! [`SyscallTable::register`](crate::syscalls::table::SyscallTable::register)
//! (for instance to route a call it implements as `MachineOp::Custom`).

use crate::abi::Abi;
use crate::audit::{AuditConfig, AuditLog, EntryMechanism};
use crate::console::Console;
use crate::errno::Errno;
use crate::fd::FdTable;
use crate::random::Rng;
use crate::strace::{self, Pending};
use crate::syscalls::table::{Handler, HandlerFn, MachineOp, Row, SyscallTable};
use crate::time::Clock;
use crate::uaccess::UserMemory;
use crate::vfs::memfs::MemFsLimits;
use crate::vfs::{Cred, Vfs};

/// What the machine layer knows about the calling process.
pub trait ProcessInfo {
    /// Process id (thread-group id).
    fn pid(&self) -> u32;
    /// Thread id (the pid for single-threaded processes).
    fn tid(&self) -> u32 {
        self.pid()
    }
    /// Parent's pid.
    fn ppid(&self) -> u32;
    /// Real user id.
    fn uid(&self) -> u32;
    /// Effective user id.
    fn euid(&self) -> u32 {
        self.uid()
    }
    /// Real group id.
    fn gid(&self) -> u32;
    /// Effective group id.
    fn egid(&self) -> u32 {
        self.gid()
    }
    /// `comm`: the executable's name, NUL-padded to 16 bytes.
    fn comm(&self) -> [u8; 16];
    /// The executable's guest path, the target of `/proc/self/exe`.
    fn exe(&self) -> Option<Vec<u8>> {
        None
    }
    /// Where the argument and the environment strings lie in user memory
    /// (`[arg_start, arg_end)`, `[env_start, env_end)`), which
    /// `/proc/self/cmdline` and `/proc/self/environ` read.
    fn arg_areas(&self) -> Option<[(u64, u64); 2]> {
        None
    }
}

/// A plain [`ProcessInfo`] for tests and simple embedders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleProcess {
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Parent's pid.
    pub ppid: u32,
    /// Real and effective user id.
    pub uid: u32,
    /// Real and effective group id.
    pub gid: u32,
    /// Name.
    pub comm: [u8; 16],
    /// `/proc/self/exe` target.
    pub exe: Option<Vec<u8>>,
}

impl SimpleProcess {
    /// A root process `pid` (tid = pid, ppid 0) named `comm` (truncated
    /// to 15 bytes, as `set_task_comm` does).
    pub fn new(pid: u32, comm: &str) -> SimpleProcess {
        SimpleProcess {
            pid,
            tid: pid,
            ppid: 0,
            uid: 0,
            gid: 0,
            comm: comm_bytes(comm.as_bytes()),
            exe: None,
        }
    }
}

/// `comm` from a name: at most 15 bytes then NUL padding.
pub fn comm_bytes(name: &[u8]) -> [u8; 16] {
    let mut c = [0u8; 16];
    for (d, s) in c.iter_mut().zip(name.iter().take(15)) {
        *d = *s;
    }
    c
}

impl ProcessInfo for SimpleProcess {
    fn pid(&self) -> u32 {
        self.pid
    }
    fn tid(&self) -> u32 {
        self.tid
    }
    fn ppid(&self) -> u32 {
        self.ppid
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn gid(&self) -> u32 {
        self.gid
    }
    fn comm(&self) -> [u8; 16] {
        self.comm
    }
    fn exe(&self) -> Option<Vec<u8>> {
        self.exe.clone()
    }
}

/// The per-process state the personality layer keeps: the descriptor
/// table (`files_struct`), the working directory and umask (`fs_struct`).
#[derive(Clone, Debug)]
pub struct TaskFiles {
    /// Descriptors.
    pub fds: FdTable,
    /// Canonical absolute guest path of the working directory.
    pub cwd: Vec<u8>,
    /// File-creation mask.
    pub umask: u32,
    /// Credentials, process group, session and `prctl` state
    /// ([`TaskIds`]).
    pub ids: TaskIds,
}

/// The per-task identity the personality layer keeps: Linux's `struct
/// cred` (real, effective, saved and filesystem ids, supplementary
/// groups), the process group and session, the nice value and the `prctl`
/// state. Every task starts as root; the first process is pid 1, its own
/// process-group and session leader (as a shell's job is, though a login
/// shell's session would differ).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskIds {
    /// Real, effective, saved and filesystem uid, once a `set*uid` call
    /// has set them (until then: the [`ProcessInfo`] ids).
    pub uid: Option<[u32; 4]>,
    /// Real, effective, saved and filesystem gid, likewise.
    pub gid: Option<[u32; 4]>,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Process group id.
    pub pgid: u32,
    /// Session id.
    pub sid: u32,
    /// Nice value (-20..=19).
    pub nice: i32,
    /// `PR_SET_DUMPABLE` state.
    pub dumpable: u32,
    /// `PR_SET_PDEATHSIG` signal.
    pub pdeathsig: u32,
    /// A name set by `PR_SET_NAME` (else the executable's `comm`).
    pub comm: Option<[u8; 16]>,
    /// Set once the task has called `execve` (`setpgid` on such a child
    /// fails with `EACCES`).
    pub execed: bool,
    /// The modeled cycle at which a blocked `poll`/`select` times out
    /// (kept across the scheduler's re-issues of the call).
    pub wait_deadline: Option<u64>,
    /// `ITIMER_REAL`'s interval (seconds, microseconds), as set.
    pub itimer_interval: (u64, u64),
    /// Bytes a blocking `write` to a pipe has transferred so far while it
    /// waits for room for the rest (kept across the scheduler's re-issues
    /// of the call; 0 when none is in progress).
    pub pipe_written: u64,
}

impl Default for TaskIds {
    fn default() -> TaskIds {
        TaskIds {
            uid: None,
            gid: None,
            groups: Vec::new(),
            pgid: 1,
            sid: 1,
            nice: 0,
            dumpable: 1,
            pdeathsig: 0,
            comm: None,
            execed: false,
            wait_deadline: None,
            itimer_interval: (0, 0),
            pipe_written: 0,
        }
    }
}

impl Default for TaskFiles {
    fn default() -> TaskFiles {
        TaskFiles::new()
    }
}

impl TaskFiles {
    /// A first process's state: fds 0-2 on the console, cwd `/`, umask 022.
    pub fn new() -> TaskFiles {
        TaskFiles {
            fds: FdTable::with_console(),
            cwd: b"/".to_vec(),
            umask: 0o022,
            ids: TaskIds::default(),
        }
    }

    /// The child's state after `fork`: shared descriptions, same cwd/umask.
    pub fn fork(&self) -> TaskFiles {
        TaskFiles {
            fds: self.fds.fork(),
            cwd: self.cwd.clone(),
            umask: self.umask,
            ids: TaskIds {
                // The child of fork has no death signal of its own.
                pdeathsig: 0,
                execed: false,
                wait_deadline: None,
                // Timers are not inherited by fork.
                itimer_interval: (0, 0),
                pipe_written: 0,
                ..self.ids.clone()
            },
        }
    }

    /// What `execve` does to it: close-on-exec descriptors are closed.
    pub fn exec(&mut self) {
        self.fds.exec();
        self.ids.comm = None;
        self.ids.dumpable = 1;
        self.ids.execed = true;
    }
}

/// Utsname strings returned by `uname`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utsname {
    /// `sysname` ("Linux").
    pub sysname: String,
    /// `nodename`.
    pub nodename: String,
    /// `release`.
    pub release: String,
    /// `version`.
    pub version: String,
    /// `machine`; `None` gives "x86_64" for the x86_64 ABI and "i686" for
    /// the i386 ABI.
    pub machine: Option<String>,
    /// `domainname`.
    pub domainname: String,
}

impl Default for Utsname {
    fn default() -> Utsname {
        Utsname {
            sysname: "Linux".into(),
            nodename: "sysgate".into(),
            release: "6.1.0-sysgate".into(),
            version: "#1 SMP PREEMPT_DYNAMIC sysgate".into(),
            machine: None,
            domainname: "(none)".into(),
        }
    }
}

/// Configuration of a [`Personality`].
#[derive(Clone, Debug, Default)]
pub struct PersonalityConfig {
    /// The modeled clock (frequency and boot epoch).
    pub clock: Clock,
    /// Seed of the `getrandom` generator.
    pub random_seed: u64,
    /// `uname` strings.
    pub uts: Utsname,
    /// Limits of in-memory filesystems.
    pub memfs: MemFsLimits,
    /// Audit log configuration.
    pub audit: AuditConfig,
}

/// A condition a blocked call waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wait {
    /// Data (or end of file) on pipe `id`.
    PipeReadable(u64),
    /// Room in pipe `id`.
    PipeWritable(u64),
    /// Console input.
    ConsoleInput,
    /// The audit buffer reaching its watermark (`myaudit`).
    AuditWatermark,
    /// A conflicting `flock` lock going away.
    FileLock,
}

/// Outcomes of a handler other than returning a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SysError {
    /// Fail with this error (`-errno`).
    Errno(Errno),
    /// The call cannot proceed now: nothing was done; retry it later.
    Block(Wait),
    /// Return 0 at modeled cycle `until_cycle` (a sleep).
    Sleep {
        /// The cycle at which the sleep ends.
        until_cycle: u64,
    },
    /// Fail with `errno` and deliver `signal` to the caller.
    Signal {
        /// The error returned.
        errno: Errno,
        /// The signal delivered.
        signal: u32,
    },
    /// Return 0 and let the scheduler switch (`sched_yield`).
    Yield,
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> SysError {
        SysError::Errno(e)
    }
}

impl From<crate::uaccess::Efault> for SysError {
    fn from(_: crate::uaccess::Efault) -> SysError {
        SysError::Errno(Errno::EFAULT)
    }
}

/// What a handler returns.
pub type SysResult = Result<i64, SysError>;

/// What the machine layer must do after a call.
#[derive(Debug)]
pub enum Dispatch {
    /// Return this value (negative errno on failure).
    Return(i64),
    /// Return `ret`, then deliver `signal` to the calling task.
    ReturnSignal {
        /// The return value.
        ret: i64,
        /// The signal number.
        signal: u32,
    },
    /// Nothing was done; re-issue the same call when `Wait` may hold.
    Block(Wait),
    /// Return `ret` once the modeled cycle counter reaches `until_cycle`.
    Sleep {
        /// The cycle at which to return.
        until_cycle: u64,
        /// The value then returned.
        ret: i64,
    },
    /// Return this value; the scheduler may switch tasks.
    Yield(i64),
    /// A call the machine layer performs.
    Machine(MachineCall),
}

/// A call handed to the machine layer.
#[derive(Debug)]
pub struct MachineCall {
    /// The operation, from the table row.
    pub op: MachineOp,
    /// The ABI.
    pub abi: Abi,
    /// The call number.
    pub nr: u32,
    /// The arguments (zero-extended from 32 bits for i386).
    pub args: [u64; 6],
    /// The entry mechanism.
    pub mechanism: EntryMechanism,
    /// Entry-time trace state (strings read at entry), when strace or the
    /// audit log wants this call.
    pub pending: Option<Pending>,
}

/// The calling task's side of a system call.
pub struct SyscallEnv<'a> {
    /// Its descriptors, cwd and umask.
    pub task: &'a mut TaskFiles,
    /// Its user memory.
    pub mem: &'a mut dyn UserMemory,
    /// Its identity.
    pub process: &'a dyn ProcessInfo,
    /// How the call entered the kernel.
    pub mechanism: EntryMechanism,
    /// The modeled cycle count now.
    pub cycles: u64,
}

/// What a dispatched call produced.
#[derive(Debug)]
pub struct SyscallOutcome {
    /// What the machine layer must do.
    pub dispatch: Dispatch,
    /// Serial of the audit record written for the call, if any (for
    /// [`AuditLog::set_cycles`] once the exit path's cycles are known).
    pub audit_serial: Option<u32>,
    /// Bytes the handler copied between user and kernel memory (what
    /// `copy_from_user`/`copy_to_user` moved; strace's and the audit log's
    /// own reads are not counted), for the handler's modeled cost.
    pub copied: u64,
}

/// Counts the bytes a handler moves through a [`UserMemory`].
struct CountingMemory<'a> {
    inner: &'a mut dyn UserMemory,
    bytes: u64,
}

impl UserMemory for CountingMemory<'_> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), crate::uaccess::Efault> {
        self.bytes = self.bytes.saturating_add(buf.len() as u64);
        self.inner.read(addr, buf)
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), crate::uaccess::Efault> {
        self.bytes = self.bytes.saturating_add(data.len() as u64);
        self.inner.write(addr, data)
    }
}

/// The context a handler runs in.
pub struct Ctx<'a> {
    /// The shared kernel state.
    pub sys: &'a mut Personality,
    /// The calling task's descriptors, cwd and umask.
    pub task: &'a mut TaskFiles,
    /// The calling task's memory.
    pub mem: &'a mut dyn UserMemory,
    /// The calling task's identity.
    pub process: &'a dyn ProcessInfo,
    /// The ABI of the call.
    pub abi: Abi,
    /// How the call entered.
    pub mechanism: EntryMechanism,
    /// The modeled cycle count.
    pub cycles: u64,
}

impl Ctx<'_> {
    /// Credentials for filesystem checks (effective ids).
    pub fn cred(&self) -> Cred {
        Cred {
            uid: self.uids()[3],
            gid: self.gids()[3],
        }
    }

    /// Credentials for `access` (real ids).
    pub fn real_cred(&self) -> Cred {
        Cred {
            uid: self.uids()[0],
            gid: self.gids()[0],
        }
    }

    /// Real, effective, saved and filesystem uid.
    pub fn uids(&self) -> [u32; 4] {
        let e = self.process.euid();
        self.task.ids.uid.unwrap_or([self.process.uid(), e, e, e])
    }

    /// Real, effective, saved and filesystem gid.
    pub fn gids(&self) -> [u32; 4] {
        let e = self.process.egid();
        self.task.ids.gid.unwrap_or([self.process.gid(), e, e, e])
    }
}

/// A sink for strace lines (without trailing newline).
pub type StraceSink = Box<dyn FnMut(&str) + Send>;

/// The Linux personality: shared state and the two system-call tables.
pub struct Personality {
    /// The filesystem namespace.
    pub vfs: Vfs,
    /// The console.
    pub console: Console,
    /// The audit log.
    pub audit: AuditLog,
    /// The modeled clock.
    pub clock: Clock,
    /// The `getrandom` source.
    pub random: Rng,
    /// `uname` strings.
    pub uts: Utsname,
    /// The x86_64 table.
    pub table64: SyscallTable,
    /// The i386 table.
    pub table32: SyscallTable,
    /// Where strace lines go, if tracing.
    strace: Option<StraceSink>,
    /// Pad strace lines so `=` sits in column 40, as strace does.
    pub strace_aligned: bool,
    /// Prefix strace lines with `[pid N] ` as `strace -f` does.
    pub strace_pids: bool,
    next_pipe: u64,
    /// `flock` locks held by open file descriptions.
    pub(crate) flocks: Vec<crate::syscalls::xfer::Flock>,
}

impl std::fmt::Debug for Personality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Personality")
            .field("vfs", &self.vfs)
            .field("clock", &self.clock)
            .field("uts", &self.uts)
            .finish_non_exhaustive()
    }
}

impl Personality {
    /// A personality with the default configuration and `console`.
    pub fn new(console: Console) -> Personality {
        Personality::with_config(PersonalityConfig::default(), console)
    }

    /// A personality configured by `config`.
    pub fn with_config(config: PersonalityConfig, console: Console) -> Personality {
        Personality {
            vfs: Vfs::new(config.memfs),
            console,
            audit: AuditLog::new(config.audit),
            clock: config.clock,
            random: Rng::new(config.random_seed),
            uts: config.uts,
            table64: SyscallTable::new(Abi::X86_64),
            table32: SyscallTable::new(Abi::I386),
            strace: None,
            strace_aligned: false,
            strace_pids: false,
            next_pipe: 1,
            flocks: Vec::new(),
        }
    }

    /// Sends strace lines to `sink` (`None` stops tracing).
    pub fn set_strace(&mut self, sink: Option<StraceSink>) {
        self.strace = sink;
    }

    /// The table of `abi`.
    pub fn table(&self, abi: Abi) -> &SyscallTable {
        match abi {
            Abi::X86_64 => &self.table64,
            Abi::I386 => &self.table32,
        }
    }

    /// The table of `abi`, for registering rows.
    pub fn table_mut(&mut self, abi: Abi) -> &mut SyscallTable {
        match abi {
            Abi::X86_64 => &mut self.table64,
            Abi::I386 => &mut self.table32,
        }
    }

    /// A fresh pipe identifier.
    pub(crate) fn new_pipe_id(&mut self) -> u64 {
        let id = self.next_pipe;
        self.next_pipe += 1;
        id
    }

    /// Performs system call `nr` of `abi` with `args` for the task in `env`.
    ///
    /// The number is interpreted as Linux does: x86_64 takes the low 32
    /// bits as a signed `int` (`do_syscall_64(regs, int nr)`, Linux ≥ 5.x:
    /// upper bits of `rax` are ignored, negative numbers are `ENOSYS`);
    /// i386 takes the low 32 bits unsigned. `nr >= NR_syscalls` or a number
    /// without a row gives `-ENOSYS` (`sys_ni_syscall`). i386 arguments are
    /// truncated to 32 bits.
    #[inline]
    pub fn syscall(
        &mut self,
        abi: Abi,
        nr: u64,
        args: [u64; 6],
        env: SyscallEnv<'_>,
    ) -> SyscallOutcome {
        self.syscall_args(abi, nr, &args, env)
    }

    /// [`Personality::syscall`] with the arguments by reference.
    #[inline]
    pub(crate) fn syscall_args(
        &mut self,
        abi: Abi,
        nr: u64,
        args: &[u64; 6],
        env: SyscallEnv<'_>,
    ) -> SyscallOutcome {
        let fast = SyscallEnv {
            task: &mut *env.task,
            mem: &mut *env.mem,
            process: env.process,
            mechanism: env.mechanism,
            cycles: env.cycles,
        };
        match self.syscall_fast(abi, nr, args, fast) {
            // (Each arm builds the outcome in place: a `Dispatch` moved
            // into it would be copied whole, `MachineCall` and all.)
            Some((Ok(v), copied)) => SyscallOutcome {
                dispatch: Dispatch::Return(v),
                audit_serial: None,
                copied,
            },
            Some((Err(SysError::Errno(e)), copied)) => SyscallOutcome {
                dispatch: Dispatch::Return(e.to_return()),
                audit_serial: None,
                copied,
            },
            Some((Err(e), copied)) => Self::outcome_of(e, copied),
            None => self.syscall_other(abi, nr, args, env),
        }
    }

    /// The common case of [`Personality::syscall_args`]: a personality
    /// handler, with nothing tracing or auditing the call. Gives the
    /// handler's result and the bytes it copied between user and kernel
    /// memory (see [`SyscallOutcome::copied`]; [`Personality::outcome_of`]
    /// makes them the call's outcome). `None`, having done nothing, for
    /// every other call (which [`Personality::syscall_other`] performs).
    #[inline(always)]
    pub(crate) fn syscall_fast(
        &mut self,
        abi: Abi,
        nr: u64,
        args: &[u64; 6],
        env: SyscallEnv<'_>,
    ) -> Option<(SysResult, u64)> {
        let truncated;
        let args = match abi {
            Abi::X86_64 => args,
            Abi::I386 => {
                truncated = args.map(|a| a & 0xffff_ffff);
                &truncated
            }
        };
        let nr32 = match abi {
            Abi::X86_64 => u32::try_from(nr as u32 as i32).ok(),
            Abi::I386 => Some(nr as u32),
        };
        let row: Option<&Row> = nr32.and_then(|n| self.table(abi).row(n));
        let Some(&Row {
            handler: Handler::Kernel(f),
            name,
            ..
        }) = row
        else {
            return None;
        };
        if self.strace.is_some() || self.audit.wants(name) {
            return None;
        }
        self.vfs.set_time_at(self.clock, env.cycles);
        let mut env = env;
        Some(self.run_handler(f, abi, args, &mut env))
    }

    /// Runs a personality handler for a call of `abi`: its result and the
    /// bytes it copied between user and kernel memory.
    #[inline(always)]
    fn run_handler(
        &mut self,
        f: HandlerFn,
        abi: Abi,
        args: &[u64; 6],
        env: &mut SyscallEnv<'_>,
    ) -> (SysResult, u64) {
        let mut mem = CountingMemory {
            inner: &mut *env.mem,
            bytes: 0,
        };
        let mut ctx = Ctx {
            sys: self,
            task: &mut *env.task,
            mem: &mut mem,
            process: env.process,
            abi,
            mechanism: env.mechanism,
            cycles: env.cycles,
        };
        let r = f(&mut ctx, args);
        (r, mem.bytes)
    }

    /// [`Personality::syscall_args`] for the calls
    /// [`Personality::syscall_fast`] leaves: without a personality handler,
    /// or traced, or audited.
    #[inline(never)]
    pub(crate) fn syscall_other(
        &mut self,
        abi: Abi,
        nr: u64,
        args: &[u64; 6],
        env: SyscallEnv<'_>,
    ) -> SyscallOutcome {
        let args = match abi {
            Abi::X86_64 => *args,
            Abi::I386 => args.map(|a| a & 0xffff_ffff),
        };
        let nr32 = match abi {
            Abi::X86_64 => u32::try_from(nr as u32 as i32).ok(),
            Abi::I386 => Some(nr as u32),
        };
        let row = nr32.and_then(|n| self.table(abi).row(n)).copied();
        self.syscall_slow(abi, nr32, row, args, env)
    }

    /// The outcome of a handler's error other than an errno (without
    /// trace or audit).
    #[inline(never)]
    pub(crate) fn outcome_of(e: SysError, copied: u64) -> SyscallOutcome {
        let dispatch = match e {
            SysError::Errno(e) => Dispatch::Return(e.to_return()),
            SysError::Block(w) => Dispatch::Block(w),
            SysError::Sleep { until_cycle } => Dispatch::Sleep {
                until_cycle,
                ret: 0,
            },
            SysError::Signal { errno, signal } => Dispatch::ReturnSignal {
                ret: errno.to_return(),
                signal,
            },
            SysError::Yield => Dispatch::Yield(0),
        };
        SyscallOutcome {
            dispatch,
            audit_serial: None,
            copied,
        }
    }

    /// [`Personality::syscall`] for calls without a personality handler,
    /// or traced, or audited.
    #[inline(never)]
    fn syscall_slow(
        &mut self,
        abi: Abi,
        nr32: Option<u32>,
        row: Option<Row>,
        args: [u64; 6],
        mut env: SyscallEnv<'_>,
    ) -> SyscallOutcome {
        let name = match (&row, nr32) {
            (Some(r), _) => Some(r.name),
            (None, Some(n)) => abi.syscall_name(n),
            (None, None) => None,
        };
        let audit_wanted = name.is_some_and(|n| self.audit.wants(n));
        let pending = (self.strace.is_some() || audit_wanted).then(|| {
            strace::capture_entry(abi, nr32.unwrap_or(u32::MAX), row.as_ref(), &args, env.mem)
        });
        self.vfs.set_time_at(self.clock, env.cycles);
        let mut copied = 0;
        let result = match row.map(|r| r.handler) {
            None => Err(SysError::Errno(Errno::ENOSYS)),
            Some(Handler::Machine(op)) => {
                let call = MachineCall {
                    op,
                    abi,
                    nr: nr32.unwrap_or(u32::MAX),
                    args,
                    mechanism: env.mechanism,
                    pending,
                };
                return SyscallOutcome {
                    dispatch: Dispatch::Machine(call),
                    audit_serial: None,
                    copied: 0,
                };
            }
            Some(Handler::Kernel(f)) => {
                let (r, bytes) = self.run_handler(f, abi, &args, &mut env);
                copied = bytes;
                r
            }
        };
        let (dispatch, ret) = match result {
            Ok(v) => (Dispatch::Return(v), v),
            Err(SysError::Errno(e)) => (Dispatch::Return(e.to_return()), e.to_return()),
            Err(SysError::Block(w)) => {
                return SyscallOutcome {
                    dispatch: Dispatch::Block(w),
                    audit_serial: None,
                    copied,
                };
            }
            Err(SysError::Sleep { until_cycle }) => (
                Dispatch::Sleep {
                    until_cycle,
                    ret: 0,
                },
                0,
            ),
            Err(SysError::Signal { errno, signal }) => (
                Dispatch::ReturnSignal {
                    ret: errno.to_return(),
                    signal,
                },
                errno.to_return(),
            ),
            Err(SysError::Yield) => (Dispatch::Yield(0), 0),
        };
        let serial = match pending {
            Some(p) => self.finish_trace(
                p,
                Some(ret),
                env.mem,
                env.process,
                env.mechanism,
                env.cycles,
            ),
            None => None,
        };
        SyscallOutcome {
            dispatch,
            audit_serial: serial,
            copied,
        }
    }

    /// Records a call the machine layer performed (strace line, audit
    /// record). `ret` is `None` for calls that do not return (`exit`,
    /// `exit_group`, a successful `execve` seen from the old image is
    /// `Some(0)`). `mem` should be the caller's memory after the call;
    /// `cycles` the modeled time of completion. Returns the audit serial.
    pub fn finish_machine_call(
        &mut self,
        call: MachineCall,
        ret: Option<i64>,
        mem: &mut dyn UserMemory,
        process: &dyn ProcessInfo,
        cycles: u64,
    ) -> Option<u32> {
        let pending = call.pending?;
        self.finish_trace(pending, ret, mem, process, call.mechanism, cycles)
    }

    fn finish_trace(
        &mut self,
        pending: Pending,
        ret: Option<i64>,
        mem: &mut dyn UserMemory,
        process: &dyn ProcessInfo,
        mechanism: EntryMechanism,
        cycles: u64,
    ) -> Option<u32> {
        let done = pending.finish(ret, mem);
        if let Some(sink) = &mut self.strace {
            let line = done.line(self.strace_aligned);
            if self.strace_pids {
                sink(&format!("[pid {:>5}] {line}", process.pid()));
            } else {
                sink(&line);
            }
        }
        if !self.audit.wants(&done.name) {
            return None;
        }
        let ts = self.clock.realtime(cycles);
        self.audit.record_call(&done, ts, process, mechanism)
    }

    /// Sends a line that is not a system call to the strace sink (a
    /// signal's `--- SIGCHLD {...} ---`, a process's `+++ exited with 0
    /// +++`), prefixed like the calls of `pid`.
    pub fn strace_note(&mut self, pid: u32, text: &str) {
        if let Some(sink) = &mut self.strace {
            if self.strace_pids {
                sink(&format!("[pid {pid:>5}] {text}"));
            } else {
                sink(text);
            }
        }
    }

    /// Whether strace lines are wanted.
    pub fn strace_on(&self) -> bool {
        self.strace.is_some()
    }

    /// Performs a call directly (as if from the host), for tests and tools:
    /// a convenience over [`Personality::syscall`] with mechanism `Direct`.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        abi: Abi,
        nr: u32,
        args: [u64; 6],
        task: &mut TaskFiles,
        mem: &mut dyn UserMemory,
        process: &dyn ProcessInfo,
        cycles: u64,
    ) -> Dispatch {
        let env = SyscallEnv {
            task,
            mem,
            process,
            mechanism: EntryMechanism::Direct,
            cycles,
        };
        self.syscall(abi, u64::from(nr), args, env).dispatch
    }
}
