//! Identity, time and miscellany: `uname`, `getpid`/`getppid`/`gettid`,
//! the uid/gid getters (16-bit i386 forms included), `time`,
//! `gettimeofday`, `clock_gettime`/`clock_getres`/`clock_nanosleep` (and
//! their i386 `time64` forms), `nanosleep`, `getrandom`, `sched_yield`.
//!
//! Time is the modeled clock ([`crate::time`]). The CPU-time clocks
//! (`CLOCK_PROCESS_CPUTIME_ID`, `CLOCK_THREAD_CPUTIME_ID`) report modeled
//! time since boot: the personality layer has no per-process cycle
//! accounting (documented simplification). Coarse clocks are the fine
//! clock truncated to their 4 ms resolution (`HZ=250`).

use crate::abi::{Abi, arg_int, arg_uint};
use crate::errno::Errno;
use crate::personality::{Ctx, SysError, SysResult};
use crate::time::{NSEC_PER_SEC, Timespec};
use crate::uaccess::{MAX_RW_COUNT, read_u32, read_u64, user_chunk, write_long};
use crate::uapi::*;

/// `new_utsname` field size.
const UTS_LEN: usize = 65;

/// `uname(buf)`: `struct new_utsname` (six 65-byte strings).
pub(crate) fn sys_uname(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let u = &ctx.sys.uts;
    let machine = u.machine.clone().unwrap_or_else(|| match ctx.abi {
        Abi::X86_64 => "x86_64".into(),
        Abi::I386 => "i686".into(),
    });
    let mut b = vec![0u8; UTS_LEN * 6];
    for (i, s) in [
        &u.sysname,
        &u.nodename,
        &u.release,
        &u.version,
        &machine,
        &u.domainname,
    ]
    .iter()
    .enumerate()
    {
        let bytes = s.as_bytes();
        let n = bytes.len().min(UTS_LEN - 1);
        if let (Some(dst), Some(src)) = (b.get_mut(i * UTS_LEN..i * UTS_LEN + n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
    ctx.mem.write(a[0], &b)?;
    Ok(0)
}

/// `getpid()`: the thread-group id.
pub(crate) fn sys_getpid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.process.pid()))
}

/// `getppid()`.
pub(crate) fn sys_getppid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.process.ppid()))
}

/// `gettid()`.
pub(crate) fn sys_gettid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.process.tid()))
}

/// `getuid()`.
pub(crate) fn sys_getuid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.uids()[0]))
}

/// `geteuid()`.
pub(crate) fn sys_geteuid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.uids()[1]))
}

/// `getgid()`.
pub(crate) fn sys_getgid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.gids()[0]))
}

/// `getegid()`.
pub(crate) fn sys_getegid(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.gids()[1]))
}

/// `high2lowuid`: ids that do not fit 16 bits read as the overflow id 65534.
fn low16(id: u32) -> i64 {
    i64::from(if id > 0xffff { 65534 } else { id })
}

/// i386 `getuid` (16-bit).
pub(crate) fn sys_getuid16(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(low16(ctx.uids()[0]))
}

/// i386 `geteuid` (16-bit).
pub(crate) fn sys_geteuid16(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(low16(ctx.uids()[1]))
}

/// i386 `getgid` (16-bit).
pub(crate) fn sys_getgid16(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(low16(ctx.gids()[0]))
}

/// i386 `getegid` (16-bit).
pub(crate) fn sys_getegid16(ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(low16(ctx.gids()[1]))
}

/// `time(tloc)`: seconds since the epoch, also stored at `tloc` if non-NULL.
pub(crate) fn sys_time(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = ctx.sys.clock.realtime(ctx.cycles).sec;
    if a[0] != 0 {
        write_long(ctx.mem, ctx.abi, a[0], t)?;
    }
    // i386 time_t is 32 bits.
    Ok(ctx.abi.long(t as u64))
}

/// `gettimeofday(tv, tz)`: `tv` as two ABI `long`s, `tz` as UTC.
pub(crate) fn sys_gettimeofday(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let now = ctx.sys.clock.realtime(ctx.cycles);
    if a[0] != 0 {
        let w = ctx.abi.ptr_size() as u64;
        write_long(ctx.mem, ctx.abi, a[0], now.sec)?;
        write_long(
            ctx.mem,
            ctx.abi,
            a[0].checked_add(w).ok_or(Errno::EFAULT)?,
            i64::from(now.usec()),
        )?;
    }
    if a[1] != 0 {
        ctx.mem.write(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

/// The clocks this model has, and whether each is coarse.
fn clock_kind(id: i32) -> Result<(bool, bool), Errno> {
    // (realtime?, coarse?)
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_ALARM | CLOCK_TAI => Ok((true, false)),
        CLOCK_REALTIME_COARSE => Ok((true, true)),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => {
            Ok((false, false))
        }
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok((false, false)),
        CLOCK_MONOTONIC_COARSE => Ok((false, true)),
        _ => Err(Errno::EINVAL),
    }
}

const COARSE_NS: u32 = 4_000_000;

fn clock_now(ctx: &Ctx<'_>, id: i32) -> Result<Timespec, Errno> {
    let (real, coarse) = clock_kind(id)?;
    let mut t = if real {
        ctx.sys.clock.realtime(ctx.cycles)
    } else {
        ctx.sys.clock.monotonic(ctx.cycles)
    };
    if coarse {
        t.nsec -= t.nsec % COARSE_NS;
    }
    Ok(t)
}

/// Writes a timespec: two ABI `long`s, or two 64-bit values (`wide`).
fn put_timespec(ctx: &mut Ctx<'_>, addr: u64, t: Timespec, wide: bool) -> Result<(), Errno> {
    let mut b = Vec::with_capacity(16);
    if wide || ctx.abi == Abi::X86_64 {
        b.extend_from_slice(&t.sec.to_le_bytes());
        b.extend_from_slice(&i64::from(t.nsec).to_le_bytes());
    } else {
        b.extend_from_slice(&(t.sec as i32).to_le_bytes());
        b.extend_from_slice(&(t.nsec as i32).to_le_bytes());
    }
    ctx.mem.write(addr, &b)?;
    Ok(())
}

/// Reads and validates a timespec (`EINVAL` unless `0 <= nsec < 1e9` and
/// `sec >= 0`).
fn get_timespec(ctx: &mut Ctx<'_>, addr: u64, wide: bool) -> Result<Timespec, Errno> {
    let (sec, nsec) = if wide || ctx.abi == Abi::X86_64 {
        let s = read_u64(ctx.mem, addr)? as i64;
        let n = read_u64(ctx.mem, addr.checked_add(8).ok_or(Errno::EFAULT)?)? as i64;
        (s, n)
    } else {
        let s = i64::from(read_u32(ctx.mem, addr)? as i32);
        let n = i64::from(read_u32(ctx.mem, addr.checked_add(4).ok_or(Errno::EFAULT)?)? as i32);
        (s, n)
    };
    if sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Timespec {
        sec,
        nsec: nsec as u32,
    })
}

fn clock_gettime(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let t = clock_now(ctx, arg_int(a[0]))?;
    put_timespec(ctx, a[1], t, wide)?;
    Ok(0)
}

/// `clock_gettime(clockid, tp)` (ABI-width `timespec`).
pub(crate) fn sys_clock_gettime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    clock_gettime(ctx, a, false)
}

/// i386 `clock_gettime64(clockid, tp)` (64-bit `timespec`).
pub(crate) fn sys_clock_gettime64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    clock_gettime(ctx, a, true)
}

fn clock_getres(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let (_, coarse) = clock_kind(arg_int(a[0]))?;
    if a[1] != 0 {
        let res = Timespec {
            sec: 0,
            nsec: if coarse { COARSE_NS } else { 1 },
        };
        put_timespec(ctx, a[1], res, wide)?;
    }
    Ok(0)
}

/// `clock_getres(clockid, res)`: 1 ns, or 4 ms for coarse clocks.
pub(crate) fn sys_clock_getres(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    clock_getres(ctx, a, false)
}

/// i386 `clock_getres_time64(clockid, res)`.
pub(crate) fn sys_clock_getres64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    clock_getres(ctx, a, true)
}

/// `nanosleep(req, rem)`: sleeps in modeled time. The sleep is never
/// interrupted, so `rem` is not written.
pub(crate) fn sys_nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let d = get_timespec(ctx, a[0], false)?;
    let until = ctx.cycles.saturating_add(ctx.sys.clock.cycles_for(d));
    Err(SysError::Sleep { until_cycle: until })
}

fn clock_nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let id = arg_int(a[0]);
    if id == CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL.into());
    }
    let (real, _) = clock_kind(id)?;
    let t = get_timespec(ctx, a[2], wide)?;
    let until = if arg_uint(a[1]) & TIMER_ABSTIME != 0 {
        if real {
            ctx.sys.clock.cycle_at_realtime(t)
        } else {
            ctx.sys.clock.cycle_at_monotonic(t)
        }
    } else {
        ctx.cycles.saturating_add(ctx.sys.clock.cycles_for(t))
    };
    if until <= ctx.cycles {
        return Ok(0);
    }
    Err(SysError::Sleep { until_cycle: until })
}

/// `clock_nanosleep(clockid, flags, req, rem)` (`TIMER_ABSTIME` supported).
pub(crate) fn sys_clock_nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    clock_nanosleep(ctx, a, false)
}

/// i386 `clock_nanosleep_time64`.
pub(crate) fn sys_clock_nanosleep64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    clock_nanosleep(ctx, a, true)
}

/// `getrandom(buf, count, flags)`: bytes from the seeded generator (never
/// blocks: the pool is always "initialized"). A fault after some pages
/// returns the count written.
pub(crate) fn sys_getrandom(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = arg_uint(a[2]);
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL.into());
    }
    let count = ctx.abi.ulong(a[1]).min(MAX_RW_COUNT);
    let mut done = 0u64;
    let mut chunk = [0u8; 4096];
    while done < count {
        let dst = a[0].checked_add(done).ok_or(Errno::EFAULT)?;
        let n = user_chunk(dst, count - done).min(chunk.len());
        let part = chunk.get_mut(..n).ok_or(Errno::EFAULT)?;
        ctx.sys.random.fill(part);
        if ctx.mem.write(dst, part).is_err() {
            if done == 0 {
                return Err(Errno::EFAULT.into());
            }
            break;
        }
        done += n as u64;
    }
    Ok(done as i64)
}

/// `sched_yield()`: returns 0 and lets the scheduler switch.
pub(crate) fn sys_sched_yield(_ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Err(SysError::Yield)
}

/// The memory `sysinfo` reports: a 2 GiB machine, half of it free, no
/// swap. 2 GiB fits the i386 structure's 32-bit fields, so Linux's compat
/// scaling (`mem_unit` > 1 when a figure needs more than 32 bits) never
/// applies and both ABIs report the same figures.
pub(super) const SYSINFO_TOTALRAM: u64 = 2 << 30;

/// sysinfo(struct sysinfo *info), after kernel/sys.c `do_sysinfo`:
/// uptime from the modeled monotonic clock (rounded up, as Linux does),
/// no load, fixed memory figures, one process (the personality layer does
/// not see the task list), `mem_unit` 1. The i386 layout has 32-bit
/// `long`s (`compat_sysinfo`).
pub(crate) fn sys_sysinfo(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let up = ctx.sys.clock.monotonic(ctx.cycles);
    let uptime = up.sec as u64 + u64::from(up.nsec != 0);
    let total = SYSINFO_TOTALRAM;
    let longs = [uptime, 0, 0, 0, total, total / 2, 0, 0, 0, 0];
    let w = ctx.abi.ptr_size();
    let mut b = vec![0u8; if w == 8 { 112 } else { 64 }];
    let put = |b: &mut Vec<u8>, off: usize, v: u64, n: usize| {
        if let Some(d) = b.get_mut(off..off + n) {
            d.copy_from_slice(&v.to_le_bytes()[..n]);
        }
    };
    for (k, v) in longs.iter().enumerate() {
        put(&mut b, k * w, *v, w);
    }
    // procs (u16) after the eight leading longs, then totalhigh,
    // freehigh (longs, aligned) and mem_unit (u32).
    put(&mut b, 10 * w, 1, 2);
    let high = 10 * w + w;
    put(&mut b, high, 0, w);
    put(&mut b, high + w, 0, w);
    put(&mut b, high + 2 * w, 1, 4);
    ctx.mem.write(a[0], &b).map_err(|_| Errno::EFAULT)?;
    Ok(0)
}

/// prctl(option, arg2, ...): see [`super::ident::sys_prctl`].
pub(crate) fn sys_prctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    super::ident::sys_prctl(ctx, a)
}
