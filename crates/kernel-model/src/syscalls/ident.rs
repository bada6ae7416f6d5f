//! Credentials, process groups and sessions, priorities, `prctl`, the
//! scheduler queries and the resource-usage calls, on the per-task
//! [`TaskIds`](crate::personality::TaskIds):
//! `getgroups`/`setgroups` (and the i386 16-bit forms), `getres[ug]id`,
//! `set[ug]id`, `setre[ug]id`, `setres[ug]id` (kernel/sys.c and
//! kernel/groups.c; "privileged" is an effective uid of 0, the model's
//! stand-in for `CAP_SETUID`/`CAP_SETGID`/`CAP_SYS_NICE`), `getpgrp`,
//! `setsid`, `nice`, `prctl`, `sched_*` queries, `getcpu`, `membarrier`, `times`,
//! `getrusage`.
//!
//! `getpgid`, `getsid`, `setpgid`, `getpriority` and `setpriority` name
//! other tasks and are machine-layer calls (`machine/ids.rs`) on the same
//! [`TaskIds`](crate::personality::TaskIds). The `sched_*` calls see only
//! the caller: another pid is `ESRCH` (a documented simplification). The
//! machine is one CPU (`cpu 0`, node 0).
//!
//! `times` and `getrusage` report modeled time since boot as the caller's
//! user time (no per-process accounting, as `CLOCK_PROCESS_CPUTIME_ID`),
//! zero system time and zero for children.

use crate::abi::{Abi, arg_int, arg_uint};
use crate::errno::Errno;
use crate::personality::{Ctx, SysResult};
use crate::uaccess::{read_cstr, read_u16, read_u32, write_i32, write_long, write_u32};

/// `NGROUPS_MAX`.
const NGROUPS_MAX: u64 = 65536;
/// The 16-bit overflow id (`high2lowuid`).
const OVERFLOW_ID: u32 = 65534;

fn privileged(ctx: &Ctx<'_>) -> bool {
    ctx.uids()[1] == 0
}

fn is_self(ctx: &Ctx<'_>, pid: i32) -> bool {
    pid == 0 || pid as u32 == ctx.process.pid()
}

fn high2low(id: u32) -> u16 {
    if id > 0xffff {
        OVERFLOW_ID as u16
    } else {
        id as u16
    }
}

/// `low2highuid`: a 16-bit `-1` is "unchanged".
fn low2high(v: u64) -> u32 {
    let v = v as u16;
    if v == 0xffff { u32::MAX } else { u32::from(v) }
}

fn getgroups(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let size = arg_int(a[0]);
    if size < 0 {
        return Err(Errno::EINVAL.into());
    }
    let groups = ctx.task.ids.groups.clone();
    let n = groups.len();
    if size == 0 {
        return Ok(n as i64);
    }
    if (size as usize) < n {
        return Err(Errno::EINVAL.into());
    }
    let mut b = Vec::with_capacity(n * 4);
    for g in &groups {
        if wide {
            b.extend_from_slice(&g.to_le_bytes());
        } else {
            b.extend_from_slice(&high2low(*g).to_le_bytes());
        }
    }
    ctx.mem.write(a[1], &b)?;
    Ok(n as i64)
}

/// `getgroups(size, list)` (32-bit ids).
pub(crate) fn sys_getgroups(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getgroups(ctx, a, true)
}

/// i386 `getgroups` (16-bit ids).
pub(crate) fn sys_getgroups16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getgroups(ctx, a, false)
}

fn setgroups(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let size = arg_int(a[0]);
    if !privileged(ctx) {
        return Err(Errno::EPERM.into());
    }
    if size < 0 || size as u64 > NGROUPS_MAX {
        return Err(Errno::EINVAL.into());
    }
    let mut groups = Vec::with_capacity(size as usize);
    for i in 0..size as u64 {
        let g = if wide {
            read_u32(ctx.mem, a[1].wrapping_add(i * 4))?
        } else {
            low2high(u64::from(read_u16(ctx.mem, a[1].wrapping_add(i * 2))?))
        };
        // An invalid (-1) id is EINVAL, as make_kgid fails.
        if g == u32::MAX {
            return Err(Errno::EINVAL.into());
        }
        groups.push(g);
    }
    groups.sort_unstable();
    ctx.task.ids.groups = groups;
    Ok(0)
}

/// `setgroups(size, list)` (32-bit ids).
pub(crate) fn sys_setgroups(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    setgroups(ctx, a, true)
}

/// i386 `setgroups` (16-bit ids).
pub(crate) fn sys_setgroups16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    setgroups(ctx, a, false)
}

fn getres(ctx: &mut Ctx<'_>, a: &[u64; 6], gid: bool, wide: bool) -> SysResult {
    let ids = if gid { ctx.gids() } else { ctx.uids() };
    for (k, addr) in a.iter().take(3).enumerate() {
        let v = ids.get(k).copied().unwrap_or(0);
        if wide {
            write_u32(ctx.mem, *addr, v)?;
        } else {
            ctx.mem.write(*addr, &high2low(v).to_le_bytes())?;
        }
    }
    Ok(0)
}

/// `getresuid(ruid, euid, suid)`.
pub(crate) fn sys_getresuid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getres(ctx, a, false, true)
}

/// `getresgid(rgid, egid, sgid)`.
pub(crate) fn sys_getresgid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getres(ctx, a, true, true)
}

/// i386 `getresuid` (16-bit).
pub(crate) fn sys_getresuid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getres(ctx, a, false, false)
}

/// i386 `getresgid` (16-bit).
pub(crate) fn sys_getresgid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getres(ctx, a, true, false)
}

/// The id set (`[real, effective, saved, fs]`) a call changes, made the
/// task's own.
fn ids_mut<'a>(ctx: &'a mut Ctx<'_>, gid: bool) -> &'a mut [u32; 4] {
    let cur = if gid { ctx.gids() } else { ctx.uids() };
    let ids = &mut ctx.task.ids;
    let slot = if gid { &mut ids.gid } else { &mut ids.uid };
    slot.get_or_insert(cur)
}

/// `__sys_setuid`/`__sys_setgid`.
fn set_id(ctx: &mut Ctx<'_>, id: u32, gid: bool) -> SysResult {
    if id == u32::MAX {
        return Err(Errno::EINVAL.into());
    }
    let cap = privileged(ctx);
    let cur = ids_mut(ctx, gid);
    if cap {
        *cur = [id; 4];
    } else if id == cur[0] || id == cur[2] {
        cur[1] = id;
        cur[3] = id;
    } else {
        return Err(Errno::EPERM.into());
    }
    Ok(0)
}

/// `__sys_setreuid`/`__sys_setregid` (`-1` keeps a value).
fn set_re(ctx: &mut Ctx<'_>, r: u32, e: u32, gid: bool) -> SysResult {
    let cap = privileged(ctx);
    let cur = ids_mut(ctx, gid);
    let old = *cur;
    let mut new = old;
    if r != u32::MAX {
        new[0] = r;
        if r != old[0] && r != old[1] && !cap {
            return Err(Errno::EPERM.into());
        }
    }
    if e != u32::MAX {
        new[1] = e;
        if e != old[0] && e != old[1] && e != old[2] && !cap {
            return Err(Errno::EPERM.into());
        }
    }
    if r != u32::MAX || (e != u32::MAX && e != old[0]) {
        new[2] = new[1];
    }
    new[3] = new[1];
    *cur = new;
    Ok(0)
}

/// `__sys_setresuid`/`__sys_setresgid` (`-1` keeps a value).
fn set_res(ctx: &mut Ctx<'_>, r: u32, e: u32, s: u32, gid: bool) -> SysResult {
    let cap = privileged(ctx);
    let cur = ids_mut(ctx, gid);
    let old = *cur;
    let ok = |v: u32| v == u32::MAX || v == old[0] || v == old[1] || v == old[2];
    if !(cap || (ok(r) && ok(e) && ok(s))) {
        return Err(Errno::EPERM.into());
    }
    let mut new = old;
    for (k, v) in [r, e, s].into_iter().enumerate() {
        if v != u32::MAX
            && let Some(slot) = new.get_mut(k)
        {
            *slot = v;
        }
    }
    new[3] = new[1];
    *cur = new;
    Ok(0)
}

/// `setuid(uid)`.
pub(crate) fn sys_setuid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_id(ctx, arg_uint(a[0]), false)
}

/// `setgid(gid)`.
pub(crate) fn sys_setgid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_id(ctx, arg_uint(a[0]), true)
}

/// i386 `setuid` (16-bit).
pub(crate) fn sys_setuid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_id(ctx, low2high(a[0]), false)
}

/// i386 `setgid` (16-bit).
pub(crate) fn sys_setgid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_id(ctx, low2high(a[0]), true)
}

/// `setreuid(ruid, euid)`.
pub(crate) fn sys_setreuid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_re(ctx, arg_uint(a[0]), arg_uint(a[1]), false)
}

/// `setregid(rgid, egid)`.
pub(crate) fn sys_setregid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_re(ctx, arg_uint(a[0]), arg_uint(a[1]), true)
}

/// i386 `setreuid` (16-bit).
pub(crate) fn sys_setreuid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_re(ctx, low2high(a[0]), low2high(a[1]), false)
}

/// i386 `setregid` (16-bit).
pub(crate) fn sys_setregid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_re(ctx, low2high(a[0]), low2high(a[1]), true)
}

/// `setresuid(ruid, euid, suid)`.
pub(crate) fn sys_setresuid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_res(ctx, arg_uint(a[0]), arg_uint(a[1]), arg_uint(a[2]), false)
}

/// `setresgid(rgid, egid, sgid)`.
pub(crate) fn sys_setresgid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_res(ctx, arg_uint(a[0]), arg_uint(a[1]), arg_uint(a[2]), true)
}

/// i386 `setresuid` (16-bit).
pub(crate) fn sys_setresuid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_res(ctx, low2high(a[0]), low2high(a[1]), low2high(a[2]), false)
}

/// i386 `setresgid` (16-bit).
pub(crate) fn sys_setresgid16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    set_res(ctx, low2high(a[0]), low2high(a[1]), low2high(a[2]), true)
}

/// `getpgrp()`.
pub(crate) fn sys_getpgrp(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.task.ids.pgid))
}

/// `setsid()`: `EPERM` for a process-group leader, else a new session and
/// group named by the caller's pid.
pub(crate) fn sys_setsid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    let me = ctx.process.pid();
    let ids = &mut ctx.task.ids;
    if ids.pgid == me {
        return Err(Errno::EPERM.into());
    }
    ids.pgid = me;
    ids.sid = me;
    Ok(i64::from(me))
}

/// Sets the nice value (clamped to -20..=19): lowering it needs privilege
/// (`err`: `EACCES` for setpriority, `EPERM` for nice).
fn set_nice(ctx: &mut Ctx<'_>, nice: i64, err: Errno) -> Result<(), Errno> {
    let nice = nice.clamp(-20, 19) as i32;
    if nice < ctx.task.ids.nice && !privileged(ctx) {
        return Err(err);
    }
    ctx.task.ids.nice = nice;
    Ok(())
}

/// i386 `nice(inc)`: the increment is clamped to +-40 first.
pub(crate) fn sys_nice(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let inc = i64::from(arg_int(a[0])).clamp(-40, 40);
    let n = i64::from(ctx.task.ids.nice) + inc;
    set_nice(ctx, n, Errno::EPERM)?;
    Ok(0)
}

const PR_SET_PDEATHSIG: i32 = 1;
const PR_GET_PDEATHSIG: i32 = 2;
const PR_GET_DUMPABLE: i32 = 3;
const PR_SET_DUMPABLE: i32 = 4;
const PR_SET_NAME: i32 = 15;
const PR_GET_NAME: i32 = 16;

/// `prctl(option, arg2, ...)`: the parent-death signal, the dumpable
/// flag and the task name; other options are `EINVAL`.
pub(crate) fn sys_prctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    match arg_int(a[0]) {
        PR_SET_PDEATHSIG => {
            let sig = ctx.abi.ulong(a[1]);
            if sig > 64 {
                return Err(Errno::EINVAL.into());
            }
            ctx.task.ids.pdeathsig = sig as u32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            write_i32(ctx.mem, a[1], ctx.task.ids.pdeathsig as i32)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(i64::from(ctx.task.ids.dumpable)),
        PR_SET_DUMPABLE => {
            let v = ctx.abi.ulong(a[1]);
            if v > 1 {
                return Err(Errno::EINVAL.into());
            }
            ctx.task.ids.dumpable = v as u32;
            Ok(0)
        }
        PR_SET_NAME => {
            // strncpy_from_user(comm, arg2, 15): a fault is EFAULT.
            let mut comm = [0u8; 16];
            let s = match read_cstr(ctx.mem, a[1], 15) {
                Ok(s) => s,
                Err(Errno::ENAMETOOLONG) => {
                    // Longer than 15 bytes: the first 15 are kept.
                    let mut b = [0u8; 15];
                    ctx.mem.read(a[1], &mut b)?;
                    b.to_vec()
                }
                Err(e) => return Err(e.into()),
            };
            for (d, c) in comm.iter_mut().zip(s.iter().take(15)) {
                *d = *c;
            }
            ctx.task.ids.comm = Some(comm);
            Ok(0)
        }
        PR_GET_NAME => {
            let comm = ctx.task.ids.comm.unwrap_or_else(|| ctx.process.comm());
            ctx.mem.write(a[1], &comm)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `cpumask_size()` with `nr_cpu_ids` <= 64: one `long` (8 bytes; compat
/// tasks on an x86_64 kernel see the same).
const CPUMASK_SIZE: u64 = 8;

/// `sched_getaffinity(pid, len, mask)`: CPU 0 only; returns the bytes
/// written.
pub(crate) fn sys_sched_getaffinity(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let len = u64::from(arg_uint(a[1]));
    let align = ctx.abi.ptr_size() as u64;
    if len * 8 < 1 || len & (align - 1) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if !is_self(ctx, arg_int(a[0])) {
        return Err(Errno::ESRCH.into());
    }
    let n = len.min(CPUMASK_SIZE) as usize;
    let mut b = vec![0u8; n];
    if let Some(f) = b.first_mut() {
        *f = 1;
    }
    ctx.mem.write(a[2], &b)?;
    Ok(n as i64)
}

/// `sched_setaffinity(pid, len, mask)`: `EINVAL` unless CPU 0 is in the
/// mask.
pub(crate) fn sys_sched_setaffinity(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let len = u64::from(arg_uint(a[1])).min(CPUMASK_SIZE) as usize;
    let mut b = vec![0u8; len];
    ctx.mem.read(a[2], &mut b)?;
    if !is_self(ctx, arg_int(a[0])) {
        return Err(Errno::ESRCH.into());
    }
    if b.first().copied().unwrap_or(0) & 1 == 0 {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
}

/// `sched_getparam(pid, param)`: priority 0 (`SCHED_OTHER`).
pub(crate) fn sys_sched_getparam(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let pid = arg_int(a[0]);
    if a[1] == 0 || pid < 0 {
        return Err(Errno::EINVAL.into());
    }
    if !is_self(ctx, pid) {
        return Err(Errno::ESRCH.into());
    }
    write_i32(ctx.mem, a[1], 0)?;
    Ok(0)
}

/// `sched_getscheduler(pid)`: `SCHED_OTHER`.
pub(crate) fn sys_sched_getscheduler(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let pid = arg_int(a[0]);
    if pid < 0 {
        return Err(Errno::EINVAL.into());
    }
    if !is_self(ctx, pid) {
        return Err(Errno::ESRCH.into());
    }
    Ok(0)
}

/// `sched_get_priority_max(policy)`: 99 for FIFO/RR, 0 for the others.
pub(crate) fn sys_sched_get_priority_max(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    match arg_int(a[0]) {
        1 | 2 => Ok(99),
        0 | 3 | 5 | 6 => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `sched_get_priority_min(policy)`: 1 for FIFO/RR, 0 for the others.
pub(crate) fn sys_sched_get_priority_min(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    match arg_int(a[0]) {
        1 | 2 => Ok(1),
        0 | 3 | 5 | 6 => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `getcpu(cpu, node, cache)`: CPU 0, node 0.
pub(crate) fn sys_getcpu(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    for addr in [a[0], a[1]] {
        if addr != 0 {
            write_u32(ctx.mem, addr, 0)?;
        }
    }
    Ok(0)
}

/// `MEMBARRIER_CMD_*` Linux 6.1 supports on x86 (`MEMBARRIER_CMD_BITMASK`
/// with the SYNC_CORE and RSEQ commands).
const MEMBARRIER_SUPPORTED: i64 = 0x1ff;

/// `membarrier(cmd, flags, cpu_id)`: `MEMBARRIER_CMD_QUERY` gives the
/// supported commands; on one CPU every barrier is a no-op (0).
pub(crate) fn sys_membarrier(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let cmd = arg_int(a[0]);
    let flags = arg_uint(a[1]);
    const CPU_FLAG: u32 = 1;
    if cmd == 128 {
        // MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ may name a CPU.
        if flags & !CPU_FLAG != 0 {
            return Err(Errno::EINVAL.into());
        }
    } else if flags != 0 {
        return Err(Errno::EINVAL.into());
    }
    match cmd {
        0 => Ok(MEMBARRIER_SUPPORTED),
        c if c > 0 && (c & (c - 1)) == 0 && i64::from(c) & MEMBARRIER_SUPPORTED != 0 => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `USER_HZ`.
const USER_HZ: u64 = 100;
/// `HZ` (Debian's 250).
const HZ: u64 = 250;

/// Modeled time since boot in `USER_HZ` ticks.
fn uptime_ticks(ctx: &Ctx<'_>) -> u64 {
    let t = ctx.sys.clock.monotonic(ctx.cycles);
    (t.sec as u64) * USER_HZ + u64::from(t.nsec) / (1_000_000_000 / USER_HZ as u32) as u64
}

/// `times(buf)`: user time = modeled time since boot, the rest 0; returns
/// `jiffies` as clock ticks, which Linux starts 5 minutes before the
/// 32-bit wrap (`INITIAL_JIFFIES`).
pub(crate) fn sys_times(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let user = uptime_ticks(ctx);
    if a[0] != 0 {
        let w = ctx.abi.ptr_size() as u64;
        for (k, v) in [user, 0, 0, 0].into_iter().enumerate() {
            write_long(ctx.mem, ctx.abi, a[0] + k as u64 * w, v as i64)?;
        }
    }
    let initial = u64::from((-300i64 * HZ as i64) as u32) * USER_HZ / HZ;
    let ret = initial.wrapping_add(user);
    Ok(match ctx.abi {
        Abi::X86_64 => ret as i64,
        Abi::I386 => ctx.abi.long(ret),
    })
}

/// `getrusage(who, usage)`: `RUSAGE_SELF`/`RUSAGE_THREAD` report modeled
/// time since boot as user time, `RUSAGE_CHILDREN` zeros; other fields 0.
pub(crate) fn sys_getrusage(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let who = arg_int(a[0]);
    let t = match who {
        0 | 1 => ctx.sys.clock.monotonic(ctx.cycles),
        -1 => crate::time::Timespec { sec: 0, nsec: 0 },
        _ => return Err(Errno::EINVAL.into()),
    };
    let w = ctx.abi.ptr_size();
    let mut b = vec![0u8; 18 * w];
    let usec = i64::from(t.nsec / 1000);
    for (k, v) in [t.sec, usec].into_iter().enumerate() {
        if let Some(d) = b.get_mut(k * w..k * w + w) {
            d.copy_from_slice(&v.to_le_bytes()[..w]);
        }
    }
    ctx.mem.write(a[1], &b)?;
    Ok(0)
}
