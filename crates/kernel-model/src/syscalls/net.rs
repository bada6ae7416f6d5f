//! Sockets, as far as the model goes: i386 `socketcall` demultiplexing and
//! the socket calls themselves.
//!
//! `socketcall(call, args)` (`net/socket.c`) checks `call` against
//! `SYS_SOCKET..=SYS_SENDMMSG` (`EINVAL` otherwise), copies `nargs[call]`
//! `unsigned long`s from `args` (`EFAULT` on a bad pointer) and runs the
//! named operation. The model has no network stack, so the operations
//! themselves fail as on a kernel without socket support: `socket` and
//! `socketpair` give `EAFNOSUPPORT`; operations on a descriptor give
//! `EBADF` if it is not open and `ENOTSOCK` otherwise (no descriptor here
//! is ever a socket). The direct socket calls of both ABIs share these
//! handlers. The demultiplexing is what matters: strace and the audit log
//! name the operation (`socket(AF_INET, SOCK_STREAM, 0)`), not
//! `socketcall`.

use super::table::Arg::{self, *};
use super::util::fd;
use crate::abi::{arg_int, arg_uint};
use crate::errno::Errno;
use crate::personality::{Ctx, SysResult};
use crate::uaccess::read_ulong_array;

/// `SYS_*` call numbers of `socketcall` with their names (index = number).
pub const SOCKETCALL_NAMES: [&str; 21] = [
    "",
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];

/// Arguments each `socketcall` operation copies from user memory
/// (`nargs[]` in `net/socket.c`, in `unsigned long`s).
pub const SOCKETCALL_NARGS: [usize; 21] = [
    0, 3, 3, 3, 2, 3, 3, 3, 4, 4, 4, 6, 6, 2, 5, 5, 3, 3, 4, 5, 4,
];

/// `SYS_SOCKET`.
pub const SYS_SOCKET: u32 = 1;
/// `SYS_SOCKETPAIR`.
pub const SYS_SOCKETPAIR: u32 = 8;
/// `SYS_SENDMMSG`, the highest operation.
pub const SYS_SENDMMSG: u32 = 20;

/// How strace shows the arguments of `socketcall` operation `call`.
pub fn socketcall_arg_kinds(call: u32) -> &'static [Arg] {
    match call {
        1 => &[SockFamily, SockType, Int],
        2 | 3 => &[Fd, Ptr, Int],
        4 | 13 => &[Fd, Int],
        5..=7 => &[Fd, Ptr, Ptr],
        8 => &[SockFamily, SockType, Int, Ptr],
        9 => &[Fd, InBuf(2), Ulong, Hex],
        10 => &[Fd, Ptr, Ulong, Hex],
        11 => &[Fd, InBuf(2), Ulong, Hex, Ptr, Int],
        12 => &[Fd, Ptr, Ulong, Hex, Ptr, Ptr],
        14 => &[Fd, Int, Int, Ptr, Int],
        15 => &[Fd, Int, Int, Ptr, Ptr],
        16 | 17 => &[Fd, Ptr, Hex],
        18 => &[Fd, Ptr, Ptr, Hex],
        19 => &[Fd, Ptr, Uint, Hex, Ptr],
        20 => &[Fd, Ptr, Uint, Hex],
        _ => &[],
    }
}

/// Socket type flags allowed with the type (`SOCK_CLOEXEC | SOCK_NONBLOCK`).
const SOCK_FLAGS: u32 = 0o2000000 | 0o4000;

fn socket(ty: u32) -> SysResult {
    if ty & !SOCK_FLAGS & !0xf != 0 {
        return Err(Errno::EINVAL.into());
    }
    Err(Errno::EAFNOSUPPORT.into())
}

fn on_fd(ctx: &Ctx<'_>, v: u64) -> SysResult {
    ctx.task.fds.file(fd(v))?;
    Err(Errno::ENOTSOCK.into())
}

/// `socket(domain, type, protocol)`: `EAFNOSUPPORT` (no network stack).
pub(crate) fn sys_socket(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    socket(arg_uint(a[1]))
}

/// `socketpair(domain, type, protocol, sv)`: `EAFNOSUPPORT`.
pub(crate) fn sys_socketpair(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    socket(arg_uint(a[1]))
}

/// Any socket operation on a descriptor: `EBADF` or `ENOTSOCK`.
pub(crate) fn sys_sock_fd(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_fd(ctx, a[0])
}

/// Reads the argument block of `socketcall(call, args)`: `EINVAL` for an
/// unknown call, `EFAULT` for a bad block.
pub fn socketcall_args(ctx: &mut Ctx<'_>, call: i32, args: u64) -> Result<Vec<u64>, Errno> {
    let i = usize::try_from(call).map_err(|_| Errno::EINVAL)?;
    let n = *SOCKETCALL_NARGS
        .get(i)
        .filter(|&&n| n > 0)
        .ok_or(Errno::EINVAL)?;
    Ok(read_ulong_array(ctx.mem, ctx.abi, args, n)?)
}

/// i386 `socketcall(call, args)`.
pub(crate) fn sys_socketcall(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let call = arg_int(a[0]);
    let v = socketcall_args(ctx, call, a[1])?;
    let first = v.first().copied().unwrap_or(0);
    match call as u32 {
        SYS_SOCKET | SYS_SOCKETPAIR => socket(arg_uint(v.get(1).copied().unwrap_or(0))),
        _ => on_fd(ctx, first),
    }
}

/// Whether `call` is a valid `socketcall` operation.
pub fn valid_socketcall(call: i64) -> bool {
    (1..=i64::from(SYS_SENDMMSG)).contains(&call)
}
