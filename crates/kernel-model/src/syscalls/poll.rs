//! `poll`, `ppoll`, `select`/`_newselect` and `pselect6` over the model's
//! files (fs/select.c).
//!
//! Readiness: VFS files (regular files, directories, devices) have no
//! `poll` method and are always ready (`DEFAULT_POLLMASK`); a pipe's read
//! end is readable with data, hung up (`POLLHUP`) without writers; its
//! write end is writable while not full, `POLLERR` without readers; the
//! console is always writable, and its input is reported readable (the
//! model cannot look at pending host input without taking it: a read may
//! then block as usual).
//!
//! Waiting: a timeout of zero returns at once. When nothing is ready but a
//! polled pipe or the console could become ready through another process,
//! the call blocks the way a read of an empty pipe does (the scheduler
//! re-issues it); a finite timeout is kept as a deadline in the task
//! ([`TaskIds::wait_deadline`](crate::personality::TaskIds)) so re-issues
//! end at the same modeled time. When nothing could ever become ready, a
//! finite timeout is a sleep that returns 0 and an infinite one blocks
//! forever, as a read that can never complete does (the scheduler's
//! deadlock report, or a signal such as `SIGALRM`, ends it). Signal masks
//! of `ppoll`/`pselect6` are validated but not applied.

use crate::abi::{Abi, arg_int};
use crate::console::ConsoleStream;
use crate::errno::Errno;
use crate::fd::FileObject;
use crate::personality::{Ctx, SysError, SysResult, Wait};
use crate::time::{NSEC_PER_SEC, Timespec};
use crate::uaccess::{read_u32, read_u64};

const POLLIN: u16 = 0x1;
const POLLPRI: u16 = 0x2;
const POLLOUT: u16 = 0x4;
const POLLERR: u16 = 0x8;
const POLLHUP: u16 = 0x10;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLRDBAND: u16 = 0x80;
const POLLWRNORM: u16 = 0x100;
const POLLWRBAND: u16 = 0x200;
/// `DEFAULT_POLLMASK`.
const DEFAULT_POLLMASK: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
const POLLIN_SET: u16 = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET: u16 = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET: u16 = POLLPRI;

/// A descriptor's current poll mask, and what it could wait for.
fn fd_mask(ctx: &Ctx<'_>, n: i32) -> Result<(u16, Option<Wait>), Errno> {
    let f = ctx.task.fds.file(n)?;
    let g = f.lock();
    Ok(match &g.object {
        FileObject::Vfs(_) | FileObject::Proc(_) => (DEFAULT_POLLMASK, None),
        FileObject::PipeRead(e) => {
            let mut m = 0;
            if e.available() > 0 {
                m |= POLLIN | POLLRDNORM;
            }
            let peers = e.peers();
            if peers == 0 {
                m |= POLLHUP;
            }
            let wait = (m == 0).then_some(Wait::PipeReadable(e.id()));
            (m, wait)
        }
        FileObject::PipeWrite(e) => {
            let mut m = 0;
            if e.room() > 0 {
                m |= POLLOUT | POLLWRNORM;
            }
            if e.peers() == 0 {
                m |= POLLERR;
            }
            let wait = (m == 0).then_some(Wait::PipeWritable(e.id()));
            (m, wait)
        }
        FileObject::Console(ConsoleStream::Stdin) => (POLLIN | POLLRDNORM, None),
        FileObject::Console(_) => (POLLOUT | POLLWRNORM, None),
    })
}

/// A timeout: `None` is infinite.
type Timeout = Option<Timespec>;

/// Ends the call with nothing ready: returns 0 when the timeout is zero or
/// its deadline has passed; else blocks or sleeps (see the module docs).
fn wait_or_timeout(ctx: &mut Ctx<'_>, timeout: Timeout, wait: Option<Wait>) -> SysResult {
    let deadline = match timeout {
        Some(t) if t.sec == 0 && t.nsec == 0 => return Ok(0),
        Some(t) => Some(
            *ctx.task
                .ids
                .wait_deadline
                .get_or_insert(ctx.cycles.saturating_add(ctx.sys.clock.cycles_for(t))),
        ),
        None => None,
    };
    if let Some(d) = deadline
        && ctx.cycles >= d
    {
        return Ok(0);
    }
    match (wait, deadline) {
        (Some(w), _) => Err(SysError::Block(w)),
        (None, Some(d)) => Err(SysError::Sleep { until_cycle: d }),
        (None, None) => Err(SysError::Block(Wait::ConsoleInput)),
    }
}

/// The time left until the stored deadline (zero once passed), or the
/// whole timeout if the call did not wait.
fn remaining(ctx: &Ctx<'_>, timeout: Timespec) -> Timespec {
    match ctx.task.ids.wait_deadline {
        None => timeout,
        Some(d) if d <= ctx.cycles => Timespec::default(),
        Some(d) => {
            let ns = ctx
                .sys
                .clock
                .monotonic(d)
                .as_nanos()
                .saturating_sub(ctx.sys.clock.monotonic(ctx.cycles).as_nanos());
            Timespec {
                sec: (ns / NSEC_PER_SEC) as i64,
                nsec: (ns % NSEC_PER_SEC) as u32,
            }
        }
    }
}

fn do_poll(ctx: &mut Ctx<'_>, fds: u64, nfds: u64, timeout: Timeout) -> SysResult {
    if nfds > u64::from(ctx.task.fds.limit()) {
        return Err(Errno::EINVAL.into());
    }
    let n = nfds as usize;
    let mut raw = vec![0u8; n * 8];
    ctx.mem.read(fds, &mut raw)?;
    let mut count = 0i64;
    let mut wait = None;
    for e in raw.chunks_exact_mut(8) {
        let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let events = u16::from_le_bytes([e[4], e[5]]);
        let rev = if fd < 0 {
            0
        } else {
            match fd_mask(ctx, fd) {
                Err(_) => POLLNVAL,
                Ok((m, w)) => {
                    let r = m & (events | POLLERR | POLLHUP);
                    if r == 0 && wait.is_none() {
                        wait = w;
                    }
                    r
                }
            }
        };
        e[6..8].copy_from_slice(&rev.to_le_bytes());
        if rev != 0 {
            count += 1;
        }
    }
    if count == 0 {
        wait_or_timeout(ctx, timeout, wait)?;
    }
    // Only revents change; write them back.
    for (k, e) in raw.chunks_exact(8).enumerate() {
        ctx.mem.write(fds + k as u64 * 8 + 6, &e[6..8])?;
    }
    Ok(count)
}

/// `poll(fds, nfds, timeout_ms)`: a negative timeout is infinite.
pub(crate) fn sys_poll(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let ms = arg_int(a[2]);
    let timeout = (ms >= 0).then(|| Timespec {
        sec: i64::from(ms / 1000),
        nsec: (ms % 1000) as u32 * 1_000_000,
    });
    let r = do_poll(ctx, a[0], a[1], timeout);
    if !matches!(r, Err(SysError::Block(_))) {
        ctx.task.ids.wait_deadline = None;
    }
    r
}

/// Reads a `timespec` (`wide`: 64-bit fields) or `timeval` (`usec`)
/// timeout; `EINVAL` when negative or out of range.
fn read_timeout(ctx: &mut Ctx<'_>, addr: u64, wide: bool, usec: bool) -> Result<Timeout, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let (sec, sub) = if wide || ctx.abi == Abi::X86_64 {
        (
            read_u64(ctx.mem, addr)? as i64,
            read_u64(ctx.mem, addr.wrapping_add(8))? as i64,
        )
    } else {
        (
            i64::from(read_u32(ctx.mem, addr)? as i32),
            i64::from(read_u32(ctx.mem, addr.wrapping_add(4))? as i32),
        )
    };
    let unit = if usec { 1000 } else { 1 };
    if sec < 0 || sub < 0 || sub >= NSEC_PER_SEC as i64 / unit {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Timespec {
        sec,
        nsec: (sub * unit) as u32,
    }))
}

/// Writes the time left back (`select` and `pselect6` do; `ppoll` too).
fn write_timeout(ctx: &mut Ctx<'_>, addr: u64, t: Timespec, wide: bool, usec: bool) {
    let sub = if usec {
        i64::from(t.nsec / 1000)
    } else {
        i64::from(t.nsec)
    };
    let mut b = Vec::with_capacity(16);
    if wide || ctx.abi == Abi::X86_64 {
        b.extend_from_slice(&t.sec.to_le_bytes());
        b.extend_from_slice(&sub.to_le_bytes());
    } else {
        b.extend_from_slice(&(t.sec as i32).to_le_bytes());
        b.extend_from_slice(&(sub as i32).to_le_bytes());
    }
    // Linux ignores a failure to write the time back.
    let _ = ctx.mem.write(addr, &b);
}

/// Validates a signal-mask size (`sizeof(sigset_t)`, 8).
fn check_sigsetsize(mask: u64, size: u64) -> Result<(), Errno> {
    if mask != 0 && size != 8 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

fn ppoll(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let timeout = read_timeout(ctx, a[2], wide, false)?;
    check_sigsetsize(a[3], ctx.abi.ulong(a[4]))?;
    if a[3] != 0 {
        let mut m = [0u8; 8];
        ctx.mem.read(a[3], &mut m)?;
    }
    let r = do_poll(ctx, a[0], a[1], timeout);
    finish_timeout(ctx, r, a[2], timeout, wide, false)
}

/// `ppoll(fds, nfds, tsp, sigmask, sigsetsize)`.
pub(crate) fn sys_ppoll(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ppoll(ctx, a, false)
}

/// i386 `ppoll_time64`.
pub(crate) fn sys_ppoll64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ppoll(ctx, a, true)
}

/// `core_sys_select`: `nfds` bits of three sets (bytes rounded to the
/// ABI's `long`).
fn do_select(ctx: &mut Ctx<'_>, a: &[u64; 6], timeout: Timeout) -> SysResult {
    let n = arg_int(a[0]);
    if n < 0 {
        return Err(Errno::EINVAL.into());
    }
    let n = (n as u32).min(ctx.task.fds.limit()) as usize;
    let w = ctx.abi.ptr_size();
    let bytes = n.div_ceil(8 * w) * w;
    let mut sets = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    for (k, s) in sets.iter_mut().enumerate() {
        if a[k + 1] != 0 {
            ctx.mem.read(a[k + 1], s)?;
        }
    }
    let bit = |s: &[u8], i: usize| s.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
    let mut out = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    let mut count = 0i64;
    let mut wait = None;
    for i in 0..n {
        let want = [bit(&sets[0], i), bit(&sets[1], i), bit(&sets[2], i)];
        if !want.iter().any(|&x| x) {
            continue;
        }
        let (m, wt) = fd_mask(ctx, i as i32)?;
        let mut any = false;
        for (k, set) in [POLLIN_SET, POLLOUT_SET, POLLEX_SET]
            .into_iter()
            .enumerate()
        {
            if want[k] && m & set != 0 {
                if let Some(b) = out[k].get_mut(i / 8) {
                    *b |= 1 << (i % 8);
                }
                count += 1;
                any = true;
            }
        }
        if !any && wait.is_none() {
            wait = wt;
        }
    }
    if count == 0 {
        wait_or_timeout(ctx, timeout, wait)?;
    }
    for (k, s) in out.iter().enumerate() {
        if a[k + 1] != 0 {
            ctx.mem.write(a[k + 1], s)?;
        }
    }
    Ok(count)
}

fn finish_timeout(
    ctx: &mut Ctx<'_>,
    r: SysResult,
    addr: u64,
    timeout: Timeout,
    wide: bool,
    usec: bool,
) -> SysResult {
    match (&r, timeout) {
        (Ok(_), Some(t)) => {
            let left = remaining(ctx, t);
            write_timeout(ctx, addr, left, wide, usec);
        }
        (Err(SysError::Sleep { .. }), Some(_)) => {
            write_timeout(ctx, addr, Timespec::default(), wide, usec);
        }
        _ => {}
    }
    if !matches!(r, Err(SysError::Block(_))) {
        ctx.task.ids.wait_deadline = None;
    }
    r
}

/// `select(nfds, readfds, writefds, exceptfds, timeout)` (x86_64
/// `select`, i386 `_newselect`): `struct timeval`, updated with the time
/// left.
pub(crate) fn sys_select(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let timeout = read_timeout(ctx, a[4], false, true)?;
    let r = do_select(ctx, a, timeout);
    finish_timeout(ctx, r, a[4], timeout, false, true)
}

fn pselect6(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let timeout = read_timeout(ctx, a[4], wide, false)?;
    if a[5] != 0 {
        // { const sigset_t *ss; size_t ss_len; }
        let w = ctx.abi.ptr_size() as u64;
        let (ss, len) = if w == 8 {
            (read_u64(ctx.mem, a[5])?, read_u64(ctx.mem, a[5] + 8)?)
        } else {
            (
                u64::from(read_u32(ctx.mem, a[5])?),
                u64::from(read_u32(ctx.mem, a[5] + 4)?),
            )
        };
        check_sigsetsize(ss, len)?;
    }
    let r = do_select(ctx, a, timeout);
    finish_timeout(ctx, r, a[4], timeout, wide, false)
}

/// `pselect6(nfds, readfds, writefds, exceptfds, timeout, sigmask_pack)`.
pub(crate) fn sys_pselect6(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    pselect6(ctx, a, false)
}

/// i386 `pselect6_time64`.
pub(crate) fn sys_pselect6_64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    pselect6(ctx, a, true)
}

/// i386 `select` (82): one pointer to the five arguments (`old_select`).
pub(crate) fn sys_old_select(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let mut b = [0u64; 6];
    for (k, slot) in b.iter_mut().take(5).enumerate() {
        *slot = u64::from(read_u32(ctx.mem, a[0].wrapping_add(k as u64 * 4))?);
    }
    sys_select(ctx, &b)
}
