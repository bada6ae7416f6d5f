//! The rows of the two tables: every call the personality layer
//! implements and every call it hands to the machine layer, with argument
//! kinds for strace. Numbers come from the generated `unistd_*` constants.

use super::table::Arg::*;
use super::table::MachineOp as M;
use super::table::Ret::{
    EntryNumber, Fcntl, Hex as RHex, Int as RInt, NoReturn, Octal, Time as RTime,
};
use super::table::{Spec, k, m};
use super::unistd_32 as n32;
use super::unistd_64 as n64;
use super::{auditcalls as au, io, misc, net, path};
use crate::vfs::stat::StatLayout::{Stat64I386, Stat64Native, StatI386};

/// Argument lists shared by both ABIs.
mod a {
    use super::super::table::Arg::{self, *};
    use crate::vfs::stat::StatLayout::Statx as StatxL;
    pub const READ: &[Arg] = &[Fd, OutBuf(2), Ulong];
    pub const WRITE: &[Arg] = &[Fd, InBuf(2), Ulong];
    pub const OPEN: &[Arg] = &[Path, OpenFlags, CreateMode(1)];
    pub const OPENAT: &[Arg] = &[DirFd, Path, OpenFlags, CreateMode(2)];
    pub const CREAT: &[Arg] = &[Path, Mode];
    pub const FD: &[Arg] = &[Fd];
    pub const NONE: &[Arg] = &[];
    pub const LSEEK: &[Arg] = &[Fd, Long, Whence];
    pub const IOCTL: &[Arg] = &[Fd, IoctlReq, Hex];
    pub const READV: &[Arg] = &[Fd, OutIovec(2), Int];
    pub const WRITEV: &[Arg] = &[Fd, InIovec(2), Int];
    pub const PREADV: &[Arg] = &[Fd, OutIovec(2), Int, Long];
    pub const PWRITEV: &[Arg] = &[Fd, InIovec(2), Int, Long];
    pub const PREADV2: &[Arg] = &[Fd, OutIovec(2), Int, Long, Skip, Uint];
    pub const PWRITEV2: &[Arg] = &[Fd, InIovec(2), Int, Long, Skip, Uint];
    pub const ACCESS: &[Arg] = &[Path, AccessMode];
    pub const FACCESSAT: &[Arg] = &[DirFd, Path, AccessMode];
    pub const FACCESSAT2: &[Arg] = &[DirFd, Path, AccessMode, AtFlags];
    pub const PIPE: &[Arg] = &[OutFdPair];
    pub const PIPE2: &[Arg] = &[OutFdPair, FdFlags];
    pub const DUP2: &[Arg] = &[Fd, Fd];
    pub const DUP3: &[Arg] = &[Fd, Fd, FdFlags];
    pub const FCNTL: &[Arg] = &[Fd, FcntlCmd, FcntlArg];
    pub const PATH1: &[Arg] = &[Path];
    pub const PATH_MODE: &[Arg] = &[Path, Mode];
    pub const MKDIRAT: &[Arg] = &[DirFd, Path, Mode];
    pub const UNLINKAT: &[Arg] = &[DirFd, Path, AtFlags];
    pub const PATH2: &[Arg] = &[Path, Path];
    pub const RENAMEAT: &[Arg] = &[DirFd, Path, DirFd, Path];
    pub const RENAMEAT2: &[Arg] = &[DirFd, Path, DirFd, Path, RenameFlags];
    pub const LINKAT: &[Arg] = &[DirFd, Path, DirFd, Path, AtFlags];
    pub const SYMLINKAT: &[Arg] = &[Path, DirFd, Path];
    pub const READLINK: &[Arg] = &[Path, OutBuf(2), Ulong];
    pub const READLINKAT: &[Arg] = &[DirFd, Path, OutBuf(3), Ulong];
    pub const GETCWD: &[Arg] = &[OutCStr, Ulong];
    pub const TRUNCATE: &[Arg] = &[Path, Long];
    pub const FTRUNCATE: &[Arg] = &[Fd, Long];
    pub const FALLOCATE: &[Arg] = &[Fd, Int, Long, Long];
    pub const UMASK: &[Arg] = &[Mode];
    pub const GETDENTS: &[Arg] = &[Fd, OutDirents, Uint];
    pub const STATX: &[Arg] = &[DirFd, Path, StatxFlags, StatxMask, OutStat(StatxL)];
    pub const UNAME: &[Arg] = &[OutUtsname];
    pub const SYSINFO: &[Arg] = &[OutSysinfo];
    pub const PRCTL: &[Arg] = &[PrctlOption, PrctlArg, PrctlRest, PrctlRest, PrctlRest];
    pub const TIME: &[Arg] = &[OutTime];
    pub const GETTIMEOFDAY: &[Arg] = &[OutTimeval, Ptr];
    pub const CLOCK_GETTIME: &[Arg] = &[ClockId, OutTimespec];
    pub const CLOCK_GETTIME64: &[Arg] = &[ClockId, OutTimespec64];
    pub const NANOSLEEP: &[Arg] = &[InTimespec, Ptr];
    pub const CLOCK_NANOSLEEP: &[Arg] = &[ClockId, Int, InTimespec, Ptr];
    pub const CLOCK_NANOSLEEP64: &[Arg] = &[ClockId, Int, InTimespec64, Ptr];
    pub const GETRANDOM: &[Arg] = &[OutRandom(1), Ulong, GrndFlags];
    pub const SOCKET: &[Arg] = &[SockFamily, SockType, Int];
    pub const SOCKETPAIR: &[Arg] = &[SockFamily, SockType, Int, Ptr];
    pub const SOCK_ADDR: &[Arg] = &[Fd, Ptr, Int];
    pub const SOCK_ADDR_LEN: &[Arg] = &[Fd, Ptr, Ptr];
    pub const ACCEPT4: &[Arg] = &[Fd, Ptr, Ptr, Hex];
    pub const LISTEN: &[Arg] = &[Fd, Int];
    pub const SENDTO: &[Arg] = &[Fd, InBuf(2), Ulong, Hex, Ptr, Int];
    pub const RECVFROM: &[Arg] = &[Fd, Ptr, Ulong, Hex, Ptr, Ptr];
    pub const SENDMSG: &[Arg] = &[Fd, Ptr, Hex];
    pub const SHUTDOWN: &[Arg] = &[Fd, Int];
    pub const SOCKOPT: &[Arg] = &[Fd, Int, Int, Ptr, Int];
    pub const SOCKOPT_GET: &[Arg] = &[Fd, Int, Int, Ptr, Ptr];
    pub const EXIT: &[Arg] = &[Int];
    pub const EXECVE: &[Arg] = &[Path, StrArray, EnvArray];
    pub const EXECVEAT: &[Arg] = &[DirFd, Path, StrArray, EnvArray, AtFlags];
    pub const WAIT4: &[Arg] = &[Int, OutWaitStatus, WaitOptions, Ptr];
    pub const WAITID: &[Arg] = &[IdType, Int, OutSiginfo, WaitOptions, Ptr];
    pub const BRK: &[Arg] = &[Ptr];
    pub const MMAP: &[Arg] = &[Ptr, Ulong, Prot, MapFlags, Fd, Hex];
    pub const MMAP2: &[Arg] = &[Ptr, Ulong, Prot, MapFlags, Fd, PageOffset];
    pub const MUNMAP: &[Arg] = &[Ptr, Ulong];
    pub const MPROTECT: &[Arg] = &[Ptr, Ulong, Prot];
    pub const MREMAP: &[Arg] = &[Ptr, Ulong, Ulong, MremapFlags, MremapAddr];
    pub const MADVISE: &[Arg] = &[Ptr, Ulong, Madvice];
    pub const ARCH_PRCTL: &[Arg] = &[ArchPrctlCode, Hex];
    pub const PTR1: &[Arg] = &[Ptr];
    pub const SET_ROBUST_LIST: &[Arg] = &[Ptr, Ulong];
    // strace 6.1 has no rseq decoder: all arguments in hex.
    pub const RSEQ: &[Arg] = &[Hex, Hex, Hex, Hex];
    pub const FUTEX: &[Arg] = &[Ptr, Int, Uint, Ptr, Ptr, Uint];
    pub const KILL: &[Arg] = &[Int, Signal];
    pub const TGKILL: &[Arg] = &[Int, Int, Signal];
    pub const SIGQUEUEINFO: &[Arg] = &[Int, Signal, InSiginfo];
    pub const TGSIGQUEUEINFO: &[Arg] = &[Int, Int, Signal, InSiginfo];
    pub const SIGACTION: &[Arg] = &[Signal, InSigaction, OutSigaction, Ulong];
    pub const SIGPROCMASK: &[Arg] = &[SigHow, InSigset(3), OutSigset(3), Ulong];
    pub const SIGALTSTACK: &[Arg] = &[InStack, OutStack];
    pub const SIGPENDING: &[Arg] = &[OutSigset(1), Ulong];
    pub const SIGSUSPEND: &[Arg] = &[InSigset(1), Ulong];
    pub const SIGRETURN: &[Arg] = &[SigreturnMask];
    pub const OLD_SIGACTION: &[Arg] = &[Signal, Ptr, Ptr];
    pub const OLD_SIGPROCMASK: &[Arg] = &[Int, Ptr, Ptr];
    pub const OLD_SIGSUSPEND: &[Arg] = &[Int, Int, Hex];
    pub const ALARM: &[Arg] = &[Uint];
    pub const PRLIMIT64: &[Arg] = &[Int, Resource, InRlimit64, OutRlimit64];
    pub const GETRLIMIT: &[Arg] = &[Resource, OutRlimit];
    pub const SETRLIMIT: &[Arg] = &[Resource, InRlimit];
    pub const SET_THREAD_AREA: &[Arg] = &[UserDesc];
    pub const CLONE: &[Arg] = &[CloneFlags, Ptr, Ptr, Ptr, Hex];
    pub const CLONE3: &[Arg] = &[Ptr, Ulong];
    pub const AUDIT: &[Arg] = &[Int, Int];
    pub const MYAUDIT: &[Arg] = &[Uint, Ptr, Uint, Uint];
}

/// Arguments whose shape differs between the ABIs.
const LLSEEK: &[super::table::Arg] = &[Fd, Hi64(2), Skip, OutLoff, Whence];
const PREAD64_32: &[super::table::Arg] = &[Fd, OutBuf(2), Ulong, Lo64(4), Skip];
const PWRITE64_32: &[super::table::Arg] = &[Fd, InBuf(2), Ulong, Lo64(4), Skip];
const PREAD64: &[super::table::Arg] = &[Fd, OutBuf(2), Ulong, Long];
const PWRITE64: &[super::table::Arg] = &[Fd, InBuf(2), Ulong, Long];
const TRUNCATE64_32: &[super::table::Arg] = &[Path, Lo64(2), Skip];
const FTRUNCATE64_32: &[super::table::Arg] = &[Fd, Lo64(2), Skip];
const PREADV_32: &[super::table::Arg] = &[Fd, OutIovec(2), Int, Lo64(4), Skip];
const PWRITEV_32: &[super::table::Arg] = &[Fd, InIovec(2), Int, Lo64(4), Skip];
const PREADV2_32: &[super::table::Arg] = &[Fd, OutIovec(2), Int, Lo64(4), Skip, Uint];
const PWRITEV2_32: &[super::table::Arg] = &[Fd, InIovec(2), Int, Lo64(4), Skip, Uint];
const FALLOCATE_32: &[super::table::Arg] = &[Fd, Int, Lo64(3), Skip, Lo64(5), Skip];
const SOCKETCALL: &[super::table::Arg] = &[Int, Ptr];
const STAT_NATIVE: &[super::table::Arg] = &[Path, OutStat(Stat64Native)];
const FSTAT_NATIVE: &[super::table::Arg] = &[Fd, OutStat(Stat64Native)];
const NEWFSTATAT: &[super::table::Arg] = &[DirFd, Path, OutStat(Stat64Native), AtFlags];
const STAT_I386: &[super::table::Arg] = &[Path, OutStat(StatI386)];
const FSTAT_I386: &[super::table::Arg] = &[Fd, OutStat(StatI386)];
const STAT64_I386: &[super::table::Arg] = &[Path, OutStat(Stat64I386)];
const FSTAT64_I386: &[super::table::Arg] = &[Fd, OutStat(Stat64I386)];
const FSTATAT64: &[super::table::Arg] = &[DirFd, Path, OutStat(Stat64I386), AtFlags];
const OLD_MMAP: &[super::table::Arg] = &[Ptr];
const WAITPID: &[super::table::Arg] = &[Int, OutWaitStatus, WaitOptions];

/// The x86_64 table.
pub(crate) static X86_64: &[Spec] = &[
    k(n64::NR_READ, a::READ, RInt, io::sys_read),
    k(n64::NR_WRITE, a::WRITE, RInt, io::sys_write),
    k(n64::NR_OPEN, a::OPEN, RInt, path::sys_open),
    k(n64::NR_CLOSE, a::FD, RInt, io::sys_close),
    k(n64::NR_STAT, STAT_NATIVE, RInt, path::sys_stat),
    k(n64::NR_FSTAT, FSTAT_NATIVE, RInt, path::sys_fstat),
    k(n64::NR_LSTAT, STAT_NATIVE, RInt, path::sys_lstat),
    k(n64::NR_LSEEK, a::LSEEK, RInt, io::sys_lseek),
    m(n64::NR_MMAP, a::MMAP, RHex, M::Mmap),
    m(n64::NR_MPROTECT, a::MPROTECT, RInt, M::Mprotect),
    m(n64::NR_MUNMAP, a::MUNMAP, RInt, M::Munmap),
    m(n64::NR_BRK, a::BRK, RHex, M::Brk),
    m(n64::NR_RT_SIGACTION, a::SIGACTION, RInt, M::RtSigaction),
    m(
        n64::NR_RT_SIGPROCMASK,
        a::SIGPROCMASK,
        RInt,
        M::RtSigprocmask,
    ),
    m(n64::NR_RT_SIGRETURN, a::SIGRETURN, RInt, M::RtSigreturn),
    m(n64::NR_RT_SIGPENDING, a::SIGPENDING, RInt, M::RtSigpending),
    m(n64::NR_RT_SIGSUSPEND, a::SIGSUSPEND, RInt, M::RtSigsuspend),
    k(n64::NR_IOCTL, a::IOCTL, RInt, io::sys_ioctl),
    k(n64::NR_PREAD64, PREAD64, RInt, io::sys_pread64),
    k(n64::NR_PWRITE64, PWRITE64, RInt, io::sys_pwrite64),
    k(n64::NR_READV, a::READV, RInt, io::sys_readv),
    k(n64::NR_PREADV, a::PREADV, RInt, io::sys_preadv),
    k(n64::NR_PWRITEV, a::PWRITEV, RInt, io::sys_pwritev),
    k(n64::NR_PREADV2, a::PREADV2, RInt, io::sys_preadv2),
    k(n64::NR_PWRITEV2, a::PWRITEV2, RInt, io::sys_pwritev2),
    k(n64::NR_WRITEV, a::WRITEV, RInt, io::sys_writev),
    k(n64::NR_ACCESS, a::ACCESS, RInt, path::sys_access),
    k(n64::NR_PIPE, a::PIPE, RInt, io::sys_pipe),
    k(n64::NR_SCHED_YIELD, a::NONE, RInt, misc::sys_sched_yield),
    m(n64::NR_MREMAP, a::MREMAP, RHex, M::Mremap),
    m(n64::NR_MADVISE, a::MADVISE, RInt, M::Madvise),
    k(n64::NR_DUP, a::FD, RInt, io::sys_dup),
    k(n64::NR_DUP2, a::DUP2, RInt, io::sys_dup2),
    m(n64::NR_PAUSE, a::NONE, RInt, M::Pause),
    k(n64::NR_NANOSLEEP, a::NANOSLEEP, RInt, misc::sys_nanosleep),
    m(n64::NR_ALARM, a::ALARM, RInt, M::Alarm),
    k(n64::NR_GETPID, a::NONE, RInt, misc::sys_getpid),
    k(n64::NR_SOCKET, a::SOCKET, RInt, net::sys_socket),
    k(n64::NR_CONNECT, a::SOCK_ADDR, RInt, net::sys_sock_fd),
    k(n64::NR_ACCEPT, a::SOCK_ADDR_LEN, RInt, net::sys_sock_fd),
    k(n64::NR_SENDTO, a::SENDTO, RInt, net::sys_sock_fd),
    k(n64::NR_RECVFROM, a::RECVFROM, RInt, net::sys_sock_fd),
    k(n64::NR_SENDMSG, a::SENDMSG, RInt, net::sys_sock_fd),
    k(n64::NR_RECVMSG, a::SENDMSG, RInt, net::sys_sock_fd),
    k(n64::NR_SHUTDOWN, a::SHUTDOWN, RInt, net::sys_sock_fd),
    k(n64::NR_BIND, a::SOCK_ADDR, RInt, net::sys_sock_fd),
    k(n64::NR_LISTEN, a::LISTEN, RInt, net::sys_sock_fd),
    k(
        n64::NR_GETSOCKNAME,
        a::SOCK_ADDR_LEN,
        RInt,
        net::sys_sock_fd,
    ),
    k(
        n64::NR_GETPEERNAME,
        a::SOCK_ADDR_LEN,
        RInt,
        net::sys_sock_fd,
    ),
    k(n64::NR_SOCKETPAIR, a::SOCKETPAIR, RInt, net::sys_socketpair),
    k(n64::NR_SETSOCKOPT, a::SOCKOPT, RInt, net::sys_sock_fd),
    k(n64::NR_GETSOCKOPT, a::SOCKOPT_GET, RInt, net::sys_sock_fd),
    m(n64::NR_CLONE, a::CLONE, RInt, M::Clone),
    m(n64::NR_FORK, a::NONE, RInt, M::Fork),
    m(n64::NR_VFORK, a::NONE, RInt, M::Vfork),
    m(n64::NR_EXECVE, a::EXECVE, RInt, M::Execve),
    m(n64::NR_EXIT, a::EXIT, NoReturn, M::Exit),
    m(n64::NR_WAIT4, a::WAIT4, RInt, M::Wait4),
    m(n64::NR_KILL, a::KILL, RInt, M::Kill),
    k(n64::NR_UNAME, a::UNAME, RInt, misc::sys_uname),
    k(n64::NR_SYSINFO, a::SYSINFO, RInt, misc::sys_sysinfo),
    k(n64::NR_PRCTL, a::PRCTL, RInt, misc::sys_prctl),
    k(n64::NR_FCNTL, a::FCNTL, Fcntl, io::sys_fcntl),
    k(n64::NR_TRUNCATE, a::TRUNCATE, RInt, path::sys_truncate),
    k(n64::NR_FTRUNCATE, a::FTRUNCATE, RInt, path::sys_ftruncate),
    k(n64::NR_FALLOCATE, a::FALLOCATE, RInt, path::sys_fallocate),
    k(n64::NR_GETCWD, a::GETCWD, RInt, path::sys_getcwd),
    k(n64::NR_CHDIR, a::PATH1, RInt, path::sys_chdir),
    k(n64::NR_FCHDIR, a::FD, RInt, path::sys_fchdir),
    k(n64::NR_RENAME, a::PATH2, RInt, path::sys_rename),
    k(n64::NR_MKDIR, a::PATH_MODE, RInt, path::sys_mkdir),
    k(n64::NR_RMDIR, a::PATH1, RInt, path::sys_rmdir),
    k(n64::NR_CREAT, a::CREAT, RInt, path::sys_creat),
    k(n64::NR_LINK, a::PATH2, RInt, path::sys_link),
    k(n64::NR_UNLINK, a::PATH1, RInt, path::sys_unlink),
    k(n64::NR_SYMLINK, a::PATH2, RInt, path::sys_symlink),
    k(n64::NR_READLINK, a::READLINK, RInt, path::sys_readlink),
    k(n64::NR_UMASK, a::UMASK, Octal, path::sys_umask),
    k(
        n64::NR_GETTIMEOFDAY,
        a::GETTIMEOFDAY,
        RInt,
        misc::sys_gettimeofday,
    ),
    m(n64::NR_GETRLIMIT, a::GETRLIMIT, RInt, M::Getrlimit),
    k(n64::NR_GETUID, a::NONE, RInt, misc::sys_getuid),
    k(n64::NR_GETGID, a::NONE, RInt, misc::sys_getgid),
    k(n64::NR_GETEUID, a::NONE, RInt, misc::sys_geteuid),
    k(n64::NR_GETEGID, a::NONE, RInt, misc::sys_getegid),
    k(n64::NR_GETPPID, a::NONE, RInt, misc::sys_getppid),
    m(n64::NR_SIGALTSTACK, a::SIGALTSTACK, RInt, M::Sigaltstack),
    m(n64::NR_ARCH_PRCTL, a::ARCH_PRCTL, RInt, M::ArchPrctl),
    m(n64::NR_SETRLIMIT, a::SETRLIMIT, RInt, M::Setrlimit),
    k(n64::NR_GETTID, a::NONE, RInt, misc::sys_gettid),
    m(n64::NR_TKILL, a::KILL, RInt, M::Tkill),
    k(n64::NR_TIME, a::TIME, RTime, misc::sys_time),
    m(n64::NR_FUTEX, a::FUTEX, RInt, M::Futex),
    m(
        n64::NR_SET_THREAD_AREA,
        a::SET_THREAD_AREA,
        EntryNumber,
        M::SetThreadArea,
    ),
    m(n64::NR_GET_THREAD_AREA, a::PTR1, RInt, M::GetThreadArea),
    k(n64::NR_GETDENTS64, a::GETDENTS, RInt, io::sys_getdents64),
    m(n64::NR_SET_TID_ADDRESS, a::PTR1, RInt, M::SetTidAddress),
    k(
        n64::NR_CLOCK_GETTIME,
        a::CLOCK_GETTIME,
        RInt,
        misc::sys_clock_gettime,
    ),
    k(
        n64::NR_CLOCK_GETRES,
        a::CLOCK_GETTIME,
        RInt,
        misc::sys_clock_getres,
    ),
    k(
        n64::NR_CLOCK_NANOSLEEP,
        a::CLOCK_NANOSLEEP,
        RInt,
        misc::sys_clock_nanosleep,
    ),
    m(n64::NR_EXIT_GROUP, a::EXIT, NoReturn, M::ExitGroup),
    m(n64::NR_TGKILL, a::TGKILL, RInt, M::Tgkill),
    m(
        n64::NR_RT_SIGQUEUEINFO,
        a::SIGQUEUEINFO,
        RInt,
        M::RtSigqueueinfo,
    ),
    m(
        n64::NR_RT_TGSIGQUEUEINFO,
        a::TGSIGQUEUEINFO,
        RInt,
        M::RtTgsigqueueinfo,
    ),
    m(n64::NR_WAITID, a::WAITID, RInt, M::Waitid),
    k(n64::NR_OPENAT, a::OPENAT, RInt, path::sys_openat),
    k(n64::NR_MKDIRAT, a::MKDIRAT, RInt, path::sys_mkdirat),
    k(n64::NR_NEWFSTATAT, NEWFSTATAT, RInt, path::sys_newfstatat),
    k(n64::NR_UNLINKAT, a::UNLINKAT, RInt, path::sys_unlinkat),
    k(n64::NR_RENAMEAT, a::RENAMEAT, RInt, path::sys_renameat),
    k(n64::NR_LINKAT, a::LINKAT, RInt, path::sys_linkat),
    k(n64::NR_SYMLINKAT, a::SYMLINKAT, RInt, path::sys_symlinkat),
    k(
        n64::NR_READLINKAT,
        a::READLINKAT,
        RInt,
        path::sys_readlinkat,
    ),
    k(n64::NR_FACCESSAT, a::FACCESSAT, RInt, path::sys_faccessat),
    m(
        n64::NR_SET_ROBUST_LIST,
        a::SET_ROBUST_LIST,
        RInt,
        M::SetRobustList,
    ),
    k(n64::NR_ACCEPT4, a::ACCEPT4, RInt, net::sys_sock_fd),
    k(n64::NR_DUP3, a::DUP3, RInt, io::sys_dup3),
    k(n64::NR_PIPE2, a::PIPE2, RInt, io::sys_pipe2),
    m(n64::NR_PRLIMIT64, a::PRLIMIT64, RInt, M::Prlimit64),
    k(n64::NR_RENAMEAT2, a::RENAMEAT2, RInt, path::sys_renameat2),
    k(n64::NR_GETRANDOM, a::GETRANDOM, RInt, misc::sys_getrandom),
    m(n64::NR_EXECVEAT, a::EXECVEAT, RInt, M::Execveat),
    k(n64::NR_STATX, a::STATX, RInt, path::sys_statx),
    m(n64::NR_RSEQ, a::RSEQ, RInt, M::Rseq),
    k(335, a::AUDIT, RInt, au::sys_syscall_audit).named("syscall_audit"),
    k(336, a::MYAUDIT, RInt, au::sys_myaudit).named("myaudit"),
    m(n64::NR_CLONE3, a::CLONE3, RInt, M::Clone3),
    k(
        n64::NR_FACCESSAT2,
        a::FACCESSAT2,
        RInt,
        path::sys_faccessat2,
    ),
];

/// The i386 table (also serves compat tasks on an x86_64 kernel).
pub(crate) static I386: &[Spec] = &[
    m(n32::NR_EXIT, a::EXIT, NoReturn, M::Exit),
    m(n32::NR_FORK, a::NONE, RInt, M::Fork),
    k(n32::NR_READ, a::READ, RInt, io::sys_read),
    k(n32::NR_WRITE, a::WRITE, RInt, io::sys_write),
    k(n32::NR_OPEN, a::OPEN, RInt, path::sys_open),
    k(n32::NR_CLOSE, a::FD, RInt, io::sys_close),
    m(n32::NR_WAITPID, WAITPID, RInt, M::Waitpid),
    k(n32::NR_CREAT, a::CREAT, RInt, path::sys_creat),
    k(n32::NR_LINK, a::PATH2, RInt, path::sys_link),
    k(n32::NR_UNLINK, a::PATH1, RInt, path::sys_unlink),
    m(n32::NR_EXECVE, a::EXECVE, RInt, M::Execve),
    k(n32::NR_CHDIR, a::PATH1, RInt, path::sys_chdir),
    k(n32::NR_TIME, a::TIME, RTime, misc::sys_time),
    k(n32::NR_LSEEK, a::LSEEK, RInt, io::sys_lseek),
    k(n32::NR_GETPID, a::NONE, RInt, misc::sys_getpid),
    k(n32::NR_GETUID, a::NONE, RInt, misc::sys_getuid16),
    m(n32::NR_ALARM, a::ALARM, RInt, M::Alarm),
    m(n32::NR_PAUSE, a::NONE, RInt, M::Pause),
    k(n32::NR_ACCESS, a::ACCESS, RInt, path::sys_access),
    m(n32::NR_KILL, a::KILL, RInt, M::Kill),
    k(n32::NR_RENAME, a::PATH2, RInt, path::sys_rename),
    k(n32::NR_MKDIR, a::PATH_MODE, RInt, path::sys_mkdir),
    k(n32::NR_RMDIR, a::PATH1, RInt, path::sys_rmdir),
    k(n32::NR_DUP, a::FD, RInt, io::sys_dup),
    k(n32::NR_PIPE, a::PIPE, RInt, io::sys_pipe),
    m(n32::NR_BRK, a::BRK, RHex, M::Brk),
    k(n32::NR_GETGID, a::NONE, RInt, misc::sys_getgid16),
    k(n32::NR_GETEUID, a::NONE, RInt, misc::sys_geteuid16),
    k(n32::NR_GETEGID, a::NONE, RInt, misc::sys_getegid16),
    k(n32::NR_IOCTL, a::IOCTL, RInt, io::sys_ioctl),
    k(n32::NR_FCNTL, a::FCNTL, Fcntl, io::sys_fcntl),
    k(n32::NR_UMASK, a::UMASK, Octal, path::sys_umask),
    k(n32::NR_DUP2, a::DUP2, RInt, io::sys_dup2),
    k(n32::NR_GETPPID, a::NONE, RInt, misc::sys_getppid),
    m(n32::NR_SIGACTION, a::OLD_SIGACTION, RInt, M::Sigaction),
    m(n32::NR_SIGSUSPEND, a::OLD_SIGSUSPEND, RInt, M::Sigsuspend),
    m(n32::NR_SIGPENDING, a::PTR1, RInt, M::Sigpending),
    m(
        n32::NR_SIGPROCMASK,
        a::OLD_SIGPROCMASK,
        RInt,
        M::Sigprocmask,
    ),
    m(n32::NR_SETRLIMIT, a::SETRLIMIT, RInt, M::Setrlimit),
    m(n32::NR_GETRLIMIT, a::GETRLIMIT, RInt, M::Getrlimit),
    k(
        n32::NR_GETTIMEOFDAY,
        a::GETTIMEOFDAY,
        RInt,
        misc::sys_gettimeofday,
    ),
    k(n32::NR_SYMLINK, a::PATH2, RInt, path::sys_symlink),
    k(n32::NR_READLINK, a::READLINK, RInt, path::sys_readlink),
    m(n32::NR_MMAP, OLD_MMAP, RHex, M::OldMmap),
    m(n32::NR_MUNMAP, a::MUNMAP, RInt, M::Munmap),
    k(n32::NR_TRUNCATE, a::TRUNCATE, RInt, path::sys_truncate),
    k(n32::NR_FTRUNCATE, a::FTRUNCATE, RInt, path::sys_ftruncate),
    k(n32::NR_SOCKETCALL, SOCKETCALL, RInt, net::sys_socketcall),
    k(n32::NR_STAT, STAT_I386, RInt, path::sys_stat),
    k(n32::NR_LSTAT, STAT_I386, RInt, path::sys_lstat),
    k(n32::NR_FSTAT, FSTAT_I386, RInt, path::sys_fstat),
    m(n32::NR_WAIT4, a::WAIT4, RInt, M::Wait4),
    m(n32::NR_SIGRETURN, a::SIGRETURN, RInt, M::Sigreturn),
    m(n32::NR_CLONE, a::CLONE, RInt, M::Clone),
    k(n32::NR_UNAME, a::UNAME, RInt, misc::sys_uname),
    k(n32::NR_SYSINFO, a::SYSINFO, RInt, misc::sys_sysinfo),
    k(n32::NR_PRCTL, a::PRCTL, RInt, misc::sys_prctl),
    m(n32::NR_MPROTECT, a::MPROTECT, RInt, M::Mprotect),
    k(n32::NR_FCHDIR, a::FD, RInt, path::sys_fchdir),
    k(n32::NR__LLSEEK, LLSEEK, RInt, io::sys_llseek),
    k(n32::NR_READV, a::READV, RInt, io::sys_readv),
    k(n32::NR_PREADV, PREADV_32, RInt, io::sys_preadv),
    k(n32::NR_PWRITEV, PWRITEV_32, RInt, io::sys_pwritev),
    k(n32::NR_PREADV2, PREADV2_32, RInt, io::sys_preadv2),
    k(n32::NR_PWRITEV2, PWRITEV2_32, RInt, io::sys_pwritev2),
    k(n32::NR_WRITEV, a::WRITEV, RInt, io::sys_writev),
    k(n32::NR_SCHED_YIELD, a::NONE, RInt, misc::sys_sched_yield),
    k(n32::NR_NANOSLEEP, a::NANOSLEEP, RInt, misc::sys_nanosleep),
    m(n32::NR_MREMAP, a::MREMAP, RHex, M::Mremap),
    m(n32::NR_RT_SIGRETURN, a::SIGRETURN, RInt, M::RtSigreturn),
    m(n32::NR_RT_SIGPENDING, a::SIGPENDING, RInt, M::RtSigpending),
    m(n32::NR_RT_SIGSUSPEND, a::SIGSUSPEND, RInt, M::RtSigsuspend),
    m(n32::NR_RT_SIGACTION, a::SIGACTION, RInt, M::RtSigaction),
    m(
        n32::NR_RT_SIGPROCMASK,
        a::SIGPROCMASK,
        RInt,
        M::RtSigprocmask,
    ),
    k(n32::NR_PREAD64, PREAD64_32, RInt, io::sys_pread64),
    k(n32::NR_PWRITE64, PWRITE64_32, RInt, io::sys_pwrite64),
    k(n32::NR_GETCWD, a::GETCWD, RInt, path::sys_getcwd),
    m(n32::NR_SIGALTSTACK, a::SIGALTSTACK, RInt, M::Sigaltstack),
    m(n32::NR_VFORK, a::NONE, RInt, M::Vfork),
    m(n32::NR_UGETRLIMIT, a::GETRLIMIT, RInt, M::Getrlimit),
    m(n32::NR_MMAP2, a::MMAP2, RHex, M::Mmap2),
    k(
        n32::NR_TRUNCATE64,
        TRUNCATE64_32,
        RInt,
        path::sys_truncate64,
    ),
    k(
        n32::NR_FTRUNCATE64,
        FTRUNCATE64_32,
        RInt,
        path::sys_ftruncate64,
    ),
    k(n32::NR_FALLOCATE, FALLOCATE_32, RInt, path::sys_fallocate),
    k(n32::NR_STAT64, STAT64_I386, RInt, path::sys_stat64),
    k(n32::NR_LSTAT64, STAT64_I386, RInt, path::sys_lstat64),
    k(n32::NR_FSTAT64, FSTAT64_I386, RInt, path::sys_fstat64),
    k(n32::NR_GETUID32, a::NONE, RInt, misc::sys_getuid),
    k(n32::NR_GETGID32, a::NONE, RInt, misc::sys_getgid),
    k(n32::NR_GETEUID32, a::NONE, RInt, misc::sys_geteuid),
    k(n32::NR_GETEGID32, a::NONE, RInt, misc::sys_getegid),
    m(n32::NR_MADVISE, a::MADVISE, RInt, M::Madvise),
    k(n32::NR_GETDENTS64, a::GETDENTS, RInt, io::sys_getdents64),
    k(n32::NR_FCNTL64, a::FCNTL, Fcntl, io::sys_fcntl),
    k(n32::NR_GETTID, a::NONE, RInt, misc::sys_gettid),
    m(n32::NR_TKILL, a::KILL, RInt, M::Tkill),
    m(n32::NR_FUTEX, a::FUTEX, RInt, M::Futex),
    m(n32::NR_FUTEX_TIME64, a::FUTEX, RInt, M::FutexTime64),
    m(
        n32::NR_SET_THREAD_AREA,
        a::SET_THREAD_AREA,
        EntryNumber,
        M::SetThreadArea,
    ),
    m(n32::NR_GET_THREAD_AREA, a::PTR1, RInt, M::GetThreadArea),
    m(n32::NR_EXIT_GROUP, a::EXIT, NoReturn, M::ExitGroup),
    m(n32::NR_SET_TID_ADDRESS, a::PTR1, RInt, M::SetTidAddress),
    k(
        n32::NR_CLOCK_GETTIME,
        a::CLOCK_GETTIME,
        RInt,
        misc::sys_clock_gettime,
    ),
    k(
        n32::NR_CLOCK_GETRES,
        a::CLOCK_GETTIME,
        RInt,
        misc::sys_clock_getres,
    ),
    k(
        n32::NR_CLOCK_NANOSLEEP,
        a::CLOCK_NANOSLEEP,
        RInt,
        misc::sys_clock_nanosleep,
    ),
    m(n32::NR_TGKILL, a::TGKILL, RInt, M::Tgkill),
    m(
        n32::NR_RT_SIGQUEUEINFO,
        a::SIGQUEUEINFO,
        RInt,
        M::RtSigqueueinfo,
    ),
    m(
        n32::NR_RT_TGSIGQUEUEINFO,
        a::TGSIGQUEUEINFO,
        RInt,
        M::RtTgsigqueueinfo,
    ),
    m(n32::NR_WAITID, a::WAITID, RInt, M::Waitid),
    k(n32::NR_OPENAT, a::OPENAT, RInt, path::sys_openat),
    k(n32::NR_MKDIRAT, a::MKDIRAT, RInt, path::sys_mkdirat),
    k(n32::NR_FSTATAT64, FSTATAT64, RInt, path::sys_newfstatat),
    k(n32::NR_UNLINKAT, a::UNLINKAT, RInt, path::sys_unlinkat),
    k(n32::NR_RENAMEAT, a::RENAMEAT, RInt, path::sys_renameat),
    k(n32::NR_LINKAT, a::LINKAT, RInt, path::sys_linkat),
    k(n32::NR_SYMLINKAT, a::SYMLINKAT, RInt, path::sys_symlinkat),
    k(
        n32::NR_READLINKAT,
        a::READLINKAT,
        RInt,
        path::sys_readlinkat,
    ),
    k(n32::NR_FACCESSAT, a::FACCESSAT, RInt, path::sys_faccessat),
    m(
        n32::NR_SET_ROBUST_LIST,
        a::SET_ROBUST_LIST,
        RInt,
        M::SetRobustList,
    ),
    k(n32::NR_DUP3, a::DUP3, RInt, io::sys_dup3),
    k(n32::NR_PIPE2, a::PIPE2, RInt, io::sys_pipe2),
    m(n32::NR_PRLIMIT64, a::PRLIMIT64, RInt, M::Prlimit64),
    k(n32::NR_RENAMEAT2, a::RENAMEAT2, RInt, path::sys_renameat2),
    k(n32::NR_GETRANDOM, a::GETRANDOM, RInt, misc::sys_getrandom),
    m(n32::NR_EXECVEAT, a::EXECVEAT, RInt, M::Execveat),
    k(n32::NR_SOCKET, a::SOCKET, RInt, net::sys_socket),
    k(n32::NR_SOCKETPAIR, a::SOCKETPAIR, RInt, net::sys_socketpair),
    k(n32::NR_BIND, a::SOCK_ADDR, RInt, net::sys_sock_fd),
    k(n32::NR_CONNECT, a::SOCK_ADDR, RInt, net::sys_sock_fd),
    k(n32::NR_LISTEN, a::LISTEN, RInt, net::sys_sock_fd),
    k(n32::NR_ACCEPT4, a::ACCEPT4, RInt, net::sys_sock_fd),
    k(n32::NR_GETSOCKOPT, a::SOCKOPT_GET, RInt, net::sys_sock_fd),
    k(n32::NR_SETSOCKOPT, a::SOCKOPT, RInt, net::sys_sock_fd),
    k(
        n32::NR_GETSOCKNAME,
        a::SOCK_ADDR_LEN,
        RInt,
        net::sys_sock_fd,
    ),
    k(
        n32::NR_GETPEERNAME,
        a::SOCK_ADDR_LEN,
        RInt,
        net::sys_sock_fd,
    ),
    k(n32::NR_SENDTO, a::SENDTO, RInt, net::sys_sock_fd),
    k(n32::NR_SENDMSG, a::SENDMSG, RInt, net::sys_sock_fd),
    k(n32::NR_RECVFROM, a::RECVFROM, RInt, net::sys_sock_fd),
    k(n32::NR_RECVMSG, a::SENDMSG, RInt, net::sys_sock_fd),
    k(n32::NR_SHUTDOWN, a::SHUTDOWN, RInt, net::sys_sock_fd),
    k(n32::NR_STATX, a::STATX, RInt, path::sys_statx),
    m(n32::NR_ARCH_PRCTL, a::ARCH_PRCTL, RInt, M::ArchPrctl),
    k(
        n32::NR_CLOCK_GETTIME64,
        a::CLOCK_GETTIME64,
        RInt,
        misc::sys_clock_gettime64,
    ),
    k(
        n32::NR_CLOCK_GETRES_TIME64,
        a::CLOCK_GETTIME64,
        RInt,
        misc::sys_clock_getres64,
    ),
    k(
        n32::NR_CLOCK_NANOSLEEP_TIME64,
        a::CLOCK_NANOSLEEP64,
        RInt,
        misc::sys_clock_nanosleep64,
    ),
    m(n32::NR_RSEQ, a::RSEQ, RInt, M::Rseq),
    m(n32::NR_CLONE3, a::CLONE3, RInt, M::Clone3),
    k(
        n32::NR_FACCESSAT2,
        a::FACCESSAT2,
        RInt,
        path::sys_faccessat2,
    ),
];
