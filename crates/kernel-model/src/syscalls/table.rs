//! The system-call tables: one per ABI, each row giving a call's number,
//! name (from the generated `unistd_*` tables), argument kinds, return
//! kind and handler. The same row drives dispatch, argument counts, strace
//! formatting and the audit log (after Linux's `syscall_64.tbl` plus
//! `SYSCALL_METADATA`, and blink's `SYSCALL(arity, nr, name, func, sig)`).
//!
//! A handler is either a personality-layer function ([`Handler::Kernel`])
//! or an operation the machine layer performs ([`Handler::Machine`] with a
//! [`MachineOp`]): the dispatcher hands those back as
//! [`Dispatch::Machine`](crate::personality::Dispatch::Machine). The
//! machine layer can add or replace rows with [`SyscallTable::register`].

use crate::abi::Abi;
use crate::personality::{Ctx, SysResult};
use crate::vfs::stat::StatLayout;

/// A personality-layer handler: the context and the six arguments.
pub type HandlerFn = fn(&mut Ctx<'_>, &[u64; 6]) -> SysResult;

/// How an argument is shown (strace) and what it is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arg {
    /// `int`, decimal.
    Int,
    /// `unsigned int`, decimal.
    Uint,
    /// `long` of the ABI's width, decimal.
    Long,
    /// `unsigned long`/`size_t`, decimal.
    Ulong,
    /// A number shown in hex.
    Hex,
    /// A pointer: `NULL` or hex.
    Ptr,
    /// A file descriptor.
    Fd,
    /// A directory descriptor for `*at` calls: `AT_FDCWD` or a number.
    DirFd,
    /// A path: a C string read at entry, shown in full.
    Path,
    /// A buffer the call reads, length in argument `n`, shown at entry as
    /// a string of at most 32 bytes.
    InBuf(u8),
    /// A buffer the call fills, shown after success with as many bytes as
    /// the call returned (at most the length in argument `n`, 32 shown).
    OutBuf(u8),
    /// A NUL-terminated string the call writes (`getcwd`), shown after
    /// success.
    OutCStr,
    /// `open` flags (`O_RDONLY|O_CLOEXEC`).
    OpenFlags,
    /// A creation mode in octal, shown only when the flags in argument `n`
    /// contain `O_CREAT` or `O_TMPFILE` (as strace does for `open`).
    CreateMode(u8),
    /// A mode in octal.
    Mode,
    /// `lseek` whence.
    Whence,
    /// `access` mode (`F_OK`, `R_OK|W_OK`).
    AccessMode,
    /// `AT_*` flags.
    AtFlags,
    /// Descriptor flags of `pipe2`/`dup3` (`O_CLOEXEC|O_NONBLOCK`, `0`).
    FdFlags,
    /// `fcntl` command.
    FcntlCmd,
    /// `fcntl` argument, shown per the command in argument 1 (omitted for
    /// commands without one).
    FcntlArg,
    /// `ioctl` request.
    IoctlReq,
    /// Clock id.
    ClockId,
    /// Signal number.
    Signal,
    /// `int[2]` filled by `pipe`.
    OutFdPair,
    /// A stat structure filled by the call.
    OutStat(StatLayout),
    /// A `struct timespec` (ABI `long`s) read by the call.
    InTimespec,
    /// A `struct __kernel_timespec` (64-bit fields) read by the call.
    InTimespec64,
    /// A `struct timespec` (ABI `long`s) filled by the call.
    OutTimespec,
    /// A `struct __kernel_timespec` filled by the call.
    OutTimespec64,
    /// A `struct timeval` filled by the call.
    OutTimeval,
    /// An `iovec` array the call reads (`writev`), count in argument `n`.
    InIovec(u8),
    /// An `iovec` array the call fills (`readv`), count in argument `n`.
    OutIovec(u8),
    /// `struct utsname` filled by the call.
    OutUtsname,
    /// A `loff_t` filled by the call (`_llseek`), shown as `[N]`.
    OutLoff,
    /// The high half of a 64-bit value whose low half is argument `n`
    /// (shown once, combined).
    Hi64(u8),
    /// The low half of a 64-bit value whose high half is argument `n`.
    Lo64(u8),
    /// Not shown (folded into a neighbour).
    Skip,
    /// `renameat2` flags.
    RenameFlags,
    /// `getrandom` flags.
    GrndFlags,
    /// A `NULL`-terminated array of strings (`execve` argv).
    StrArray,
    /// An environment array, shown as `0x... /* N vars */`.
    EnvArray,
    /// `mmap`/`mprotect` protection.
    Prot,
    /// `mmap` flags.
    MapFlags,
    /// `arch_prctl` code.
    ArchPrctlCode,
    /// `clone` flags (hex with the exit signal).
    CloneFlags,
    /// Socket address family.
    SockFamily,
    /// Socket type.
    SockType,
    /// `wait4` status pointer.
    OutWaitStatus,
    /// `wait4` options (`WNOHANG`).
    WaitOptions,
    /// An rlimit resource (`RLIMIT_STACK`).
    Resource,
    /// A `struct rlimit` of the ABI's width the call reads (`setrlimit`).
    InRlimit,
    /// A `struct rlimit` of the ABI's width the call fills (`getrlimit`).
    OutRlimit,
    /// A 64-bit `struct rlimit64` the call reads (`prlimit64`'s new limit).
    InRlimit64,
    /// A 64-bit `struct rlimit64` the call fills (`prlimit64`'s old limit).
    OutRlimit64,
    /// `statx` flags: sync type, then `AT_*` flags.
    StatxFlags,
    /// `statx` mask (`STATX_BASIC_STATS`).
    StatxMask,
    /// A `struct user_desc` (`set_thread_area`), read at entry.
    UserDesc,
    /// A `getdents64` buffer, shown as `0x... /* N entries */`.
    OutDirents,
    /// A `struct sigaction` the call reads.
    InSigaction,
    /// A `struct sigaction` the call fills.
    OutSigaction,
    /// `rt_sigprocmask` how (`SIG_BLOCK`).
    SigHow,
    /// A signal set the call reads, size in argument `n`.
    InSigset(u8),
    /// A signal set the call fills, size in argument `n`.
    OutSigset(u8),
    /// Random bytes the call fills, shown in hex (`getrandom`), length in
    /// argument `n`.
    OutRandom(u8),
    /// `mremap` flags (`MREMAP_MAYMOVE`).
    MremapFlags,
    /// `mremap`'s new address: shown only when argument 3 has both
    /// `MREMAP_MAYMOVE` and `MREMAP_FIXED`.
    MremapAddr,
    /// A `struct sysinfo` the call fills.
    OutSysinfo,
    /// The signal mask a sigreturn restores, shown `{mask=[USR1]}`; the
    /// machine layer supplies it after the call
    /// ([`crate::strace::Pending::set_value`]).
    SigreturnMask,
    /// A `stack_t` the call reads (`sigaltstack`'s new stack).
    InStack,
    /// A `stack_t` the call fills (`sigaltstack`'s old stack).
    OutStack,
    /// `time`'s pointer, shown at exit as `[N /* date */]`.
    OutTime,
    /// `madvise` advice (`MADV_DONTNEED`).
    Madvice,
    /// `waitid` id type (`P_PID`).
    IdType,
    /// A `siginfo_t` the call fills (`waitid`).
    OutSiginfo,
    /// A `siginfo_t` the caller passes (`rt_sigqueueinfo`).
    InSiginfo,
    /// `mmap2`'s offset in pages, shown in bytes and hex as strace does.
    PageOffset,
    /// `prctl` option (`PR_GET_NAME`).
    PrctlOption,
    /// `prctl`'s second argument: the name for `PR_SET_NAME` (at entry)
    /// and `PR_GET_NAME` (at exit), else hex.
    PrctlArg,
    /// `prctl`'s third to fifth arguments: hex, not shown for the name
    /// options.
    PrctlRest,
    /// A user or group id of `n` bytes (2 or 4), `-1` when all ones.
    Uid(u8),
    /// An id array the call reads (`setgroups`), `n`-byte ids, count in
    /// argument 0.
    InGroups(u8),
    /// An id array the call fills (`getgroups`), `n`-byte ids, as many as
    /// it returned.
    OutGroups(u8),
    /// One `n`-byte id the call writes (`getresuid`), shown `[N]`.
    OutId(u8),
    /// `getpriority`/`setpriority` `which` (`PRIO_PROCESS`).
    PrioWhich,
    /// A CPU set the call reads, byte length in argument `n`.
    InCpuMask(u8),
    /// A CPU set the call fills, as many bytes as it returned.
    OutCpuMask,
    /// A `mknod` mode (`S_IFIFO|0666`).
    MknodMode,
    /// A `mknod` device (`makedev(0x1, 0x3)`), shown only when the mode
    /// in argument `n` is a character or block device.
    MknodDev(u8),
    /// A `struct statfs` the call fills (0: the ABI's `statfs`, 1: i386
    /// `statfs64`).
    OutStatfs(u8),
    /// `flock` operation (`LOCK_EX|LOCK_NB`).
    FlockOp,
    /// `utimensat` times (0: ABI `timespec`s, 1: 64-bit ones).
    InUtimens(u8),
    /// A `struct pollfd` array the call reads, count in argument `n`.
    InPollfds(u8),
    /// Interval timer (`ITIMER_REAL`).
    ItimerWhich,
    /// A `struct itimerval` the call reads.
    InItimerval,
    /// A `struct itimerval` the call fills.
    OutItimerval,
    /// A `struct tms` the call fills.
    OutTms,
    /// `getrusage` who (`RUSAGE_SELF`).
    RusageWho,
    /// A `struct rusage` the call fills (shown abbreviated).
    OutRusage,
    /// An `fd_set` the call reads, `nfds` in argument `n` (`[0 3]`).
    InFdSet(u8),
    /// A `struct timeval` the call reads (`select`'s timeout).
    InTimeval,
    /// `pselect6`'s sigmask pack (`{sigmask=[], sigsetsize=8}`).
    PselectSig,
}

/// How a return value is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ret {
    /// A number (`-1 ENOENT (...)` on error).
    Int,
    /// An address or other value in hex (`mmap`, `brk`).
    Hex,
    /// The call does not return (`exit`): `= ?`.
    NoReturn,
    /// `fcntl`: flags decoded for `F_GETFD`/`F_GETFL`.
    Fcntl,
    /// A mode in octal (`umask`).
    Octal,
    /// `set_thread_area`: `0 (entry_number=N)`.
    EntryNumber,
    /// `poll`/`ppoll`: `0 (Timeout)`, or the ready entries
    /// (`1 ([{fd=3, revents=POLLIN}])`).
    Poll,
    /// `select`/`pselect6`: `0 (Timeout)`, or the ready sets and the
    /// time left (`1 (in [3], left {tv_sec=0, tv_usec=999})`).
    Select,
    /// `time`: the number and its date (`N (2026-11-23T22:59:16+0000)`).
    Time,
}

/// The calls the machine layer owns, named for its dispatch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[allow(missing_docs)]
pub enum MachineOp {
    Exit,
    ExitGroup,
    Fork,
    Vfork,
    Clone,
    Clone3,
    Execve,
    Execveat,
    Wait4,
    Waitpid,
    Waitid,
    Brk,
    /// x86_64 `mmap` (offset in bytes).
    Mmap,
    /// i386 `mmap2` (offset in pages).
    Mmap2,
    /// i386 old `mmap` (one pointer to a struct of six arguments).
    OldMmap,
    Munmap,
    Mprotect,
    Mremap,
    Madvise,
    ArchPrctl,
    SetThreadArea,
    GetThreadArea,
    SetTidAddress,
    SetRobustList,
    Rseq,
    Futex,
    /// i386 `futex_time64` (a 64-bit `struct timespec`).
    FutexTime64,
    Kill,
    Tkill,
    Tgkill,
    RtSigqueueinfo,
    RtTgsigqueueinfo,
    RtSigaction,
    /// i386 `sigaction` (`struct old_sigaction`).
    Sigaction,
    RtSigprocmask,
    /// i386 `sigprocmask` (32-bit sets).
    Sigprocmask,
    RtSigpending,
    /// i386 `sigpending` (32-bit set).
    Sigpending,
    RtSigsuspend,
    /// i386 `sigsuspend` (mask by value).
    Sigsuspend,
    RtSigreturn,
    Sigreturn,
    Sigaltstack,
    Pause,
    Alarm,
    Prlimit64,
    Getrlimit,
    Setrlimit,
    Mlock,
    Mlock2,
    Munlock,
    Mlockall,
    Munlockall,
    Msync,
    Mincore,
    Getitimer,
    Setitimer,
    Getpgid,
    Getsid,
    Setpgid,
    Getpriority,
    Setpriority,
    /// A call the machine layer registered itself, with its own tag.
    Custom(u32),
}

/// Who performs a call.
#[derive(Clone, Copy, Debug)]
pub enum Handler {
    /// The personality layer.
    Kernel(HandlerFn),
    /// The machine layer.
    Machine(MachineOp),
}

/// One row of a table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The call number in its ABI.
    pub nr: u32,
    /// The call's name (the generated table's, or the row's own for
    /// numbers the kernel leaves unassigned, like the seed's 335/336).
    pub name: &'static str,
    /// Argument kinds; their count is the call's arity.
    pub args: &'static [Arg],
    /// How the return value is shown.
    pub ret: Ret,
    /// Who performs it.
    pub handler: Handler,
}

/// A row as written in the static lists (the name comes from the
/// generated tables unless given).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub nr: u32,
    pub name: Option<&'static str>,
    pub args: &'static [Arg],
    pub ret: Ret,
    pub handler: Handler,
}

/// A personality-layer row.
pub(crate) const fn k(nr: u32, args: &'static [Arg], ret: Ret, f: HandlerFn) -> Spec {
    Spec {
        nr,
        name: None,
        args,
        ret,
        handler: Handler::Kernel(f),
    }
}

/// A machine-layer row.
pub(crate) const fn m(nr: u32, args: &'static [Arg], ret: Ret, op: MachineOp) -> Spec {
    Spec {
        nr,
        name: None,
        args,
        ret,
        handler: Handler::Machine(op),
    }
}

impl Spec {
    /// Gives the row a name of its own (for unassigned numbers).
    pub(crate) const fn named(mut self, name: &'static str) -> Spec {
        self.name = Some(name);
        self
    }
}

/// The table of one ABI, indexed by number (`NR_syscalls` entries).
#[derive(Clone, Debug)]
pub struct SyscallTable {
    abi: Abi,
    rows: Vec<Option<Row>>,
}

impl SyscallTable {
    /// The built-in table of `abi`.
    pub fn new(abi: Abi) -> SyscallTable {
        let mut t = SyscallTable {
            abi,
            rows: vec![None; abi.nr_syscalls() as usize],
        };
        let (specs, ext) = match abi {
            Abi::X86_64 => (super::rows::X86_64, super::rows_ext::X86_64),
            Abi::I386 => (super::rows::I386, super::rows_ext::I386),
        };
        for s in specs.iter().chain(ext) {
            let name = s.name.or_else(|| abi.syscall_name(s.nr)).unwrap_or("?");
            t.set(Row {
                nr: s.nr,
                name,
                args: s.args,
                ret: s.ret,
                handler: s.handler,
            });
        }
        t
    }

    fn set(&mut self, row: Row) -> bool {
        match self.rows.get_mut(row.nr as usize) {
            Some(slot) => {
                *slot = Some(row);
                true
            }
            None => false,
        }
    }

    /// The ABI.
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// `NR_syscalls`: one past the highest number.
    pub fn len(&self) -> u32 {
        u32::try_from(self.rows.len()).unwrap_or(u32::MAX)
    }

    /// True if the table has no numbers (never, for the built-in ABIs).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of call `nr`, if implemented here or by the machine layer.
    pub fn row(&self, nr: u32) -> Option<&Row> {
        self.rows.get(nr as usize).and_then(Option::as_ref)
    }

    /// The name of call `nr` (its row's, else the generated table's).
    pub fn name(&self, nr: u32) -> Option<&'static str> {
        self.row(nr)
            .map(|r| r.name)
            .or_else(|| self.abi.syscall_name(nr))
    }

    /// The number of the call named `name`.
    pub fn number(&self, name: &str) -> Option<u32> {
        (0..self.len()).find(|&nr| self.name(nr) == Some(name))
    }

    /// Adds or replaces the row for `nr` (`nr` must be below
    /// `NR_syscalls`; returns false otherwise). `name` defaults to the
    /// generated table's name.
    pub fn register(
        &mut self,
        nr: u32,
        name: Option<&'static str>,
        args: &'static [Arg],
        ret: Ret,
        handler: Handler,
    ) -> bool {
        let Some(name) = name.or_else(|| self.abi.syscall_name(nr)) else {
            return false;
        };
        self.set(Row {
            nr,
            name,
            args,
            ret,
            handler,
        })
    }

    /// Removes the row for `nr` (the call then gives `-ENOSYS`).
    pub fn unregister(&mut self, nr: u32) {
        if let Some(slot) = self.rows.get_mut(nr as usize) {
            *slot = None;
        }
    }

    /// All rows, by number.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().flatten()
    }
}
