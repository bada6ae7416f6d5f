//! Rows for credentials, process groups, priorities, `prctl`, scheduler
//! queries, resource usage and file metadata ([`super::ident`],
//! [`super::fsmeta`]), kept apart from [`super::rows`] and merged into
//! both tables by [`super::table::SyscallTable::new`].
//!
//! Argument kinds follow strace 6.1's decoders ([`crate::strace::ext`]);
//! still shown as plain pointers: `times`/`getrusage` structures,
//! `poll`/`select` sets and their return decorations, `sendfile`
//! offsets, `itimerval`s, `sched_getparam`'s parameter.

use super::table::Arg::{self, *};
use super::table::MachineOp as M;
use super::table::Ret::{Int as RInt, Poll as RPoll, Select as RSelect};
use super::table::{Spec, k, m};
use super::unistd_32 as n32;
use super::unistd_64 as n64;
use super::{fsmeta as fm, ident as id, poll as pl, xfer};

const NONE: &[Arg] = &[];
const INT1: &[Arg] = &[Int];
const INT_PTR: &[Arg] = &[Int, Ptr];
const GETGROUPS: &[Arg] = &[Int, OutGroups(4)];
const SETGROUPS: &[Arg] = &[Int, InGroups(4)];
const GETGROUPS16: &[Arg] = &[Int, OutGroups(2)];
const SETGROUPS16: &[Arg] = &[Int, InGroups(2)];
const GETRES: &[Arg] = &[OutId(4), OutId(4), OutId(4)];
const GETRES16: &[Arg] = &[OutId(2), OutId(2), OutId(2)];
const UID1_16: &[Arg] = &[Uid(2)];
const UID2_16: &[Arg] = &[Uid(2), Uid(2)];
const UID3_16: &[Arg] = &[Uid(2), Uid(2), Uid(2)];
const CHOWN16: &[Arg] = &[Path, Uid(2), Uid(2)];
const FCHOWN16: &[Arg] = &[Fd, Uid(2), Uid(2)];
const GETPRIO: &[Arg] = &[PrioWhich, Int];
const SETPRIO: &[Arg] = &[PrioWhich, Int, Int];
const GETAFFINITY: &[Arg] = &[Int, Uint, OutCpuMask];
const SETAFFINITY: &[Arg] = &[Int, Uint, InCpuMask(1)];
const GETCPU: &[Arg] = &[OutId(4), OutId(4), Ptr];
const STATFS: &[Arg] = &[Path, OutStatfs(0)];
const FSTATFS: &[Arg] = &[Fd, OutStatfs(0)];
const UTIMENSAT64: &[Arg] = &[DirFd, Path, InUtimens(1), AtFlags];
const ID1: &[Arg] = &[Uid(4)];
const ID2: &[Arg] = &[Uid(4), Uid(4)];
const INT2: &[Arg] = &[Int, Int];
const ID3: &[Arg] = &[Uid(4), Uid(4), Uid(4)];
const PATH_MODE: &[Arg] = &[Path, Mode];
const FD_MODE: &[Arg] = &[Fd, Mode];
const FCHMODAT: &[Arg] = &[DirFd, Path, Mode];
const CHOWN: &[Arg] = &[Path, Uid(4), Uid(4)];
const FCHOWN: &[Arg] = &[Fd, Uid(4), Uid(4)];
const FCHOWNAT: &[Arg] = &[DirFd, Path, Uid(4), Uid(4), AtFlags];
const UTIMENSAT: &[Arg] = &[DirFd, Path, InUtimens(0), AtFlags];
const PATH_PTR: &[Arg] = &[Path, Ptr];
const FUTIMESAT: &[Arg] = &[DirFd, Path, Ptr];
const MKNOD: &[Arg] = &[Path, MknodMode, MknodDev(1)];
const MKNODAT: &[Arg] = &[DirFd, Path, MknodMode, MknodDev(2)];
const STATFS64: &[Arg] = &[Path, Uint, OutStatfs(1)];
const FSTATFS64: &[Arg] = &[Fd, Uint, OutStatfs(1)];
const FD1: &[Arg] = &[Fd];
const MEMBARRIER: &[Arg] = &[Int, Uint, Int];
const MLOCK: &[Arg] = &[Ptr, Ulong];
const MLOCK2: &[Arg] = &[Ptr, Ulong, Hex];
const MSYNC: &[Arg] = &[Ptr, Ulong, Hex];
const MINCORE: &[Arg] = &[Ptr, Ulong, Ptr];
const GETITIMER: &[Arg] = &[ItimerWhich, OutItimerval];
const SETITIMER: &[Arg] = &[ItimerWhich, InItimerval, OutItimerval];
const TIMES: &[Arg] = &[OutTms];
const GETRUSAGE: &[Arg] = &[RusageWho, OutRusage];
const FLOCK: &[Arg] = &[Fd, FlockOp];
const SENDFILE: &[Arg] = &[Fd, Fd, Ptr, Ulong];
const COPY_FILE_RANGE: &[Arg] = &[Fd, Ptr, Fd, Ptr, Ulong, Uint];
const POLL: &[Arg] = &[InPollfds(1), Uint, Int];
const PPOLL: &[Arg] = &[InPollfds(1), Uint, InTimespec, InSigset(4), Ulong];
const PPOLL64: &[Arg] = &[InPollfds(1), Uint, InTimespec64, InSigset(4), Ulong];
const SELECT: &[Arg] = &[Int, InFdSet(0), InFdSet(0), InFdSet(0), InTimeval];
const PSELECT6: &[Arg] = &[
    Int,
    InFdSet(0),
    InFdSet(0),
    InFdSet(0),
    InTimespec,
    PselectSig,
];
const PSELECT6_64: &[Arg] = &[
    Int,
    InFdSet(0),
    InFdSet(0),
    InFdSet(0),
    InTimespec64,
    PselectSig,
];

/// The x86_64 rows.
pub(crate) static X86_64: &[Spec] = &[
    k(n64::NR_GETGROUPS, GETGROUPS, RInt, id::sys_getgroups),
    k(n64::NR_SETGROUPS, SETGROUPS, RInt, id::sys_setgroups),
    k(n64::NR_GETRESUID, GETRES, RInt, id::sys_getresuid),
    k(n64::NR_GETRESGID, GETRES, RInt, id::sys_getresgid),
    k(n64::NR_SETUID, ID1, RInt, id::sys_setuid),
    k(n64::NR_SETGID, ID1, RInt, id::sys_setgid),
    k(n64::NR_SETREUID, ID2, RInt, id::sys_setreuid),
    k(n64::NR_SETREGID, ID2, RInt, id::sys_setregid),
    k(n64::NR_SETRESUID, ID3, RInt, id::sys_setresuid),
    k(n64::NR_SETRESGID, ID3, RInt, id::sys_setresgid),
    k(n64::NR_GETPGRP, NONE, RInt, id::sys_getpgrp),
    m(n64::NR_GETPGID, INT1, RInt, M::Getpgid),
    m(n64::NR_SETPGID, INT2, RInt, M::Setpgid),
    m(n64::NR_GETSID, INT1, RInt, M::Getsid),
    k(n64::NR_SETSID, NONE, RInt, id::sys_setsid),
    m(n64::NR_GETPRIORITY, GETPRIO, RInt, M::Getpriority),
    m(n64::NR_SETPRIORITY, SETPRIO, RInt, M::Setpriority),
    k(
        n64::NR_SCHED_GETAFFINITY,
        GETAFFINITY,
        RInt,
        id::sys_sched_getaffinity,
    ),
    k(
        n64::NR_SCHED_SETAFFINITY,
        SETAFFINITY,
        RInt,
        id::sys_sched_setaffinity,
    ),
    k(
        n64::NR_SCHED_GETPARAM,
        INT_PTR,
        RInt,
        id::sys_sched_getparam,
    ),
    k(
        n64::NR_SCHED_GETSCHEDULER,
        INT1,
        RInt,
        id::sys_sched_getscheduler,
    ),
    k(
        n64::NR_SCHED_GET_PRIORITY_MAX,
        INT1,
        RInt,
        id::sys_sched_get_priority_max,
    ),
    k(
        n64::NR_SCHED_GET_PRIORITY_MIN,
        INT1,
        RInt,
        id::sys_sched_get_priority_min,
    ),
    k(n64::NR_GETCPU, GETCPU, RInt, id::sys_getcpu),
    k(n64::NR_MEMBARRIER, MEMBARRIER, RInt, id::sys_membarrier),
    k(n64::NR_TIMES, TIMES, RInt, id::sys_times),
    k(n64::NR_GETRUSAGE, GETRUSAGE, RInt, id::sys_getrusage),
    k(n64::NR_CHMOD, PATH_MODE, RInt, fm::sys_chmod),
    k(n64::NR_FCHMOD, FD_MODE, RInt, fm::sys_fchmod),
    k(n64::NR_FCHMODAT, FCHMODAT, RInt, fm::sys_fchmodat),
    k(n64::NR_CHOWN, CHOWN, RInt, fm::sys_chown),
    k(n64::NR_LCHOWN, CHOWN, RInt, fm::sys_lchown),
    k(n64::NR_FCHOWN, FCHOWN, RInt, fm::sys_fchown),
    k(n64::NR_FCHOWNAT, FCHOWNAT, RInt, fm::sys_fchownat),
    k(n64::NR_UTIMENSAT, UTIMENSAT, RInt, fm::sys_utimensat),
    k(n64::NR_UTIMES, PATH_PTR, RInt, fm::sys_utimes),
    k(n64::NR_UTIME, PATH_PTR, RInt, fm::sys_utime),
    k(n64::NR_FUTIMESAT, FUTIMESAT, RInt, fm::sys_futimesat),
    k(n64::NR_MKNOD, MKNOD, RInt, fm::sys_mknod),
    k(n64::NR_MKNODAT, MKNODAT, RInt, fm::sys_mknodat),
    k(n64::NR_STATFS, STATFS, RInt, fm::sys_statfs),
    k(n64::NR_FSTATFS, FSTATFS, RInt, fm::sys_fstatfs),
    k(n64::NR_SYNC, NONE, RInt, fm::sys_sync),
    k(n64::NR_SYNCFS, FD1, RInt, fm::sys_syncfs),
    k(n64::NR_FSYNC, FD1, RInt, fm::sys_fsync),
    k(n64::NR_FDATASYNC, FD1, RInt, fm::sys_fsync),
    k(n64::NR_FLOCK, FLOCK, RInt, xfer::sys_flock),
    m(n64::NR_MLOCK, MLOCK, RInt, M::Mlock),
    m(n64::NR_MLOCK2, MLOCK2, RInt, M::Mlock2),
    m(n64::NR_MUNLOCK, MLOCK, RInt, M::Munlock),
    m(n64::NR_MLOCKALL, &[Hex], RInt, M::Mlockall),
    m(n64::NR_MUNLOCKALL, NONE, RInt, M::Munlockall),
    m(n64::NR_MSYNC, MSYNC, RInt, M::Msync),
    m(n64::NR_MINCORE, MINCORE, RInt, M::Mincore),
    m(n64::NR_GETITIMER, GETITIMER, RInt, M::Getitimer),
    m(n64::NR_SETITIMER, SETITIMER, RInt, M::Setitimer),
    k(n64::NR_SENDFILE, SENDFILE, RInt, xfer::sys_sendfile),
    k(
        n64::NR_COPY_FILE_RANGE,
        COPY_FILE_RANGE,
        RInt,
        xfer::sys_copy_file_range,
    ),
    k(n64::NR_POLL, POLL, RPoll, pl::sys_poll),
    k(n64::NR_PPOLL, PPOLL, RPoll, pl::sys_ppoll),
    k(n64::NR_SELECT, SELECT, RSelect, pl::sys_select),
    k(n64::NR_PSELECT6, PSELECT6, RSelect, pl::sys_pselect6),
];

/// The i386 rows (16-bit id calls under the old numbers, 32-bit ones
/// under the `*32` numbers).
pub(crate) static I386: &[Spec] = &[
    k(n32::NR_GETGROUPS, GETGROUPS16, RInt, id::sys_getgroups16),
    k(n32::NR_SETGROUPS, SETGROUPS16, RInt, id::sys_setgroups16),
    k(n32::NR_GETGROUPS32, GETGROUPS, RInt, id::sys_getgroups),
    k(n32::NR_SETGROUPS32, SETGROUPS, RInt, id::sys_setgroups),
    k(n32::NR_GETRESUID, GETRES16, RInt, id::sys_getresuid16),
    k(n32::NR_GETRESGID, GETRES16, RInt, id::sys_getresgid16),
    k(n32::NR_GETRESUID32, GETRES, RInt, id::sys_getresuid),
    k(n32::NR_GETRESGID32, GETRES, RInt, id::sys_getresgid),
    k(n32::NR_SETUID, UID1_16, RInt, id::sys_setuid16),
    k(n32::NR_SETGID, UID1_16, RInt, id::sys_setgid16),
    k(n32::NR_SETUID32, ID1, RInt, id::sys_setuid),
    k(n32::NR_SETGID32, ID1, RInt, id::sys_setgid),
    k(n32::NR_SETREUID, UID2_16, RInt, id::sys_setreuid16),
    k(n32::NR_SETREGID, UID2_16, RInt, id::sys_setregid16),
    k(n32::NR_SETREUID32, ID2, RInt, id::sys_setreuid),
    k(n32::NR_SETREGID32, ID2, RInt, id::sys_setregid),
    k(n32::NR_SETRESUID, UID3_16, RInt, id::sys_setresuid16),
    k(n32::NR_SETRESGID, UID3_16, RInt, id::sys_setresgid16),
    k(n32::NR_SETRESUID32, ID3, RInt, id::sys_setresuid),
    k(n32::NR_SETRESGID32, ID3, RInt, id::sys_setresgid),
    k(n32::NR_GETPGRP, NONE, RInt, id::sys_getpgrp),
    m(n32::NR_GETPGID, INT1, RInt, M::Getpgid),
    m(n32::NR_SETPGID, INT2, RInt, M::Setpgid),
    m(n32::NR_GETSID, INT1, RInt, M::Getsid),
    k(n32::NR_SETSID, NONE, RInt, id::sys_setsid),
    m(n32::NR_GETPRIORITY, GETPRIO, RInt, M::Getpriority),
    m(n32::NR_SETPRIORITY, SETPRIO, RInt, M::Setpriority),
    k(n32::NR_NICE, INT1, RInt, id::sys_nice),
    k(
        n32::NR_SCHED_GETAFFINITY,
        GETAFFINITY,
        RInt,
        id::sys_sched_getaffinity,
    ),
    k(
        n32::NR_SCHED_SETAFFINITY,
        SETAFFINITY,
        RInt,
        id::sys_sched_setaffinity,
    ),
    k(
        n32::NR_SCHED_GETPARAM,
        INT_PTR,
        RInt,
        id::sys_sched_getparam,
    ),
    k(
        n32::NR_SCHED_GETSCHEDULER,
        INT1,
        RInt,
        id::sys_sched_getscheduler,
    ),
    k(
        n32::NR_SCHED_GET_PRIORITY_MAX,
        INT1,
        RInt,
        id::sys_sched_get_priority_max,
    ),
    k(
        n32::NR_SCHED_GET_PRIORITY_MIN,
        INT1,
        RInt,
        id::sys_sched_get_priority_min,
    ),
    k(n32::NR_GETCPU, GETCPU, RInt, id::sys_getcpu),
    k(n32::NR_MEMBARRIER, MEMBARRIER, RInt, id::sys_membarrier),
    k(n32::NR_TIMES, TIMES, RInt, id::sys_times),
    k(n32::NR_GETRUSAGE, GETRUSAGE, RInt, id::sys_getrusage),
    k(n32::NR_CHMOD, PATH_MODE, RInt, fm::sys_chmod),
    k(n32::NR_FCHMOD, FD_MODE, RInt, fm::sys_fchmod),
    k(n32::NR_FCHMODAT, FCHMODAT, RInt, fm::sys_fchmodat),
    k(n32::NR_CHOWN, CHOWN16, RInt, fm::sys_chown16),
    k(n32::NR_LCHOWN, CHOWN16, RInt, fm::sys_lchown16),
    k(n32::NR_FCHOWN, FCHOWN16, RInt, fm::sys_fchown16),
    k(n32::NR_CHOWN32, CHOWN, RInt, fm::sys_chown),
    k(n32::NR_LCHOWN32, CHOWN, RInt, fm::sys_lchown),
    k(n32::NR_FCHOWN32, FCHOWN, RInt, fm::sys_fchown),
    k(n32::NR_FCHOWNAT, FCHOWNAT, RInt, fm::sys_fchownat),
    k(n32::NR_UTIMENSAT, UTIMENSAT, RInt, fm::sys_utimensat),
    k(
        n32::NR_UTIMENSAT_TIME64,
        UTIMENSAT64,
        RInt,
        fm::sys_utimensat64,
    ),
    k(n32::NR_UTIMES, PATH_PTR, RInt, fm::sys_utimes),
    k(n32::NR_UTIME, PATH_PTR, RInt, fm::sys_utime),
    k(n32::NR_FUTIMESAT, FUTIMESAT, RInt, fm::sys_futimesat),
    k(n32::NR_MKNOD, MKNOD, RInt, fm::sys_mknod),
    k(n32::NR_MKNODAT, MKNODAT, RInt, fm::sys_mknodat),
    k(n32::NR_STATFS, STATFS, RInt, fm::sys_statfs),
    k(n32::NR_FSTATFS, FSTATFS, RInt, fm::sys_fstatfs),
    k(n32::NR_STATFS64, STATFS64, RInt, fm::sys_statfs64),
    k(n32::NR_FSTATFS64, FSTATFS64, RInt, fm::sys_fstatfs64),
    k(n32::NR_SYNC, NONE, RInt, fm::sys_sync),
    k(n32::NR_SYNCFS, FD1, RInt, fm::sys_syncfs),
    k(n32::NR_FSYNC, FD1, RInt, fm::sys_fsync),
    k(n32::NR_FDATASYNC, FD1, RInt, fm::sys_fsync),
    k(n32::NR_FLOCK, FLOCK, RInt, xfer::sys_flock),
    m(n32::NR_MLOCK, MLOCK, RInt, M::Mlock),
    m(n32::NR_MLOCK2, MLOCK2, RInt, M::Mlock2),
    m(n32::NR_MUNLOCK, MLOCK, RInt, M::Munlock),
    m(n32::NR_MLOCKALL, &[Hex], RInt, M::Mlockall),
    m(n32::NR_MUNLOCKALL, NONE, RInt, M::Munlockall),
    m(n32::NR_MSYNC, MSYNC, RInt, M::Msync),
    m(n32::NR_MINCORE, MINCORE, RInt, M::Mincore),
    m(n32::NR_GETITIMER, GETITIMER, RInt, M::Getitimer),
    m(n32::NR_SETITIMER, SETITIMER, RInt, M::Setitimer),
    k(n32::NR_SENDFILE, SENDFILE, RInt, xfer::sys_sendfile),
    k(n32::NR_SENDFILE64, SENDFILE, RInt, xfer::sys_sendfile64),
    k(
        n32::NR_COPY_FILE_RANGE,
        COPY_FILE_RANGE,
        RInt,
        xfer::sys_copy_file_range,
    ),
    k(n32::NR_POLL, POLL, RPoll, pl::sys_poll),
    k(n32::NR_PPOLL, PPOLL, RPoll, pl::sys_ppoll),
    k(n32::NR_PPOLL_TIME64, PPOLL64, RPoll, pl::sys_ppoll64),
    k(n32::NR_SELECT, &[Ptr], RInt, pl::sys_old_select),
    k(n32::NR__NEWSELECT, SELECT, RSelect, pl::sys_select),
    k(n32::NR_PSELECT6, PSELECT6, RSelect, pl::sys_pselect6),
    k(
        n32::NR_PSELECT6_TIME64,
        PSELECT6_64,
        RSelect,
        pl::sys_pselect6_64,
    ),
];
