//! `flock`, `sendfile`/`sendfile64` and `copy_file_range`.
//!
//! `flock` locks belong to open file descriptions (fs/locks.c
//! `flock_lock_inode`): one lock per description and file, shared locks
//! coexist, an exclusive one excludes every other description's lock;
//! converting a lock drops the old one first (so a failed `LOCK_NB`
//! upgrade leaves none), and a lock goes with the description's last
//! close. A conflicting lock without `LOCK_NB` blocks the caller the way
//! a read of an empty pipe does, until the holder unlocks or closes. Pipes
//! and the console are lockable but share no file with anyone here.
//!
//! `copy_file_range` copies between two regular files of the VFS (the
//! generic path of `generic_copy_file_checks` and `splice`).
//!
//! `sendfile` copies from a regular file (`EINVAL` for other inputs, which
//! have no `splice_read` here) to any writable file, pipe or console
//! (`EINVAL` for an `O_APPEND` output); a full pipe blocks or gives what
//! fitted.

use super::util::fd;
use crate::abi::{Abi, arg_uint};
use crate::console::ConsoleStream;
use crate::errno::Errno;
use crate::fd::{FileObject, FileRef, WeakFileRef};
use crate::personality::{Ctx, SysError, SysResult, Wait};
use crate::pipe::PipeIo;
use crate::uaccess::{MAX_RW_COUNT, read_u32, read_u64};
use crate::uapi::*;
use crate::vfs::{Handle, Node};

/// A lock held by an open file description.
#[derive(Clone, Debug)]
pub(crate) struct Flock {
    node: Node,
    owner: WeakFileRef,
    exclusive: bool,
}

const LOCK_SH: u32 = 1;
const LOCK_EX: u32 = 2;
const LOCK_NB: u32 = 4;
const LOCK_UN: u32 = 8;
const LOCK_MAND: u32 = 32;

/// `flock(fd, operation)`.
pub(crate) fn sys_flock(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let cmd = arg_uint(a[1]);
    let f = ctx.task.fds.file(fd(a[0]))?;
    let (node, usable) = {
        let g = f.lock();
        match &g.object {
            FileObject::Vfs(vf) => (Some(vf.node.clone()), !matches!(vf.handle, Handle::Path)),
            _ => (None, true),
        }
    };
    if !usable {
        return Err(Errno::EBADF.into());
    }
    if cmd & LOCK_MAND != 0 {
        // Linux 6.1 warns and ignores mandatory flock requests.
        return Ok(0);
    }
    let kind = cmd & !LOCK_NB;
    let exclusive = match kind {
        LOCK_SH => false,
        LOCK_EX => true,
        LOCK_UN => {
            if let Some(n) = node {
                ctx.sys
                    .flocks
                    .retain(|l| l.owner.alive() && !(l.node == n && l.owner.is(&f)));
            }
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    let Some(node) = node else {
        return Ok(0);
    };
    let locks = &mut ctx.sys.flocks;
    locks.retain(|l| l.owner.alive());
    if let Some(l) = locks.iter().find(|l| l.node == node && l.owner.is(&f)) {
        if l.exclusive == exclusive {
            return Ok(0);
        }
        // A conversion drops the old lock first.
        locks.retain(|l| !(l.node == node && l.owner.is(&f)));
    }
    let conflict = locks
        .iter()
        .any(|l| l.node == node && !l.owner.is(&f) && (exclusive || l.exclusive));
    if conflict {
        if cmd & LOCK_NB != 0 {
            return Err(Errno::EAGAIN.into());
        }
        return Err(SysError::Block(Wait::FileLock));
    }
    locks.push(Flock {
        node,
        owner: f.downgrade(),
        exclusive,
    });
    Ok(0)
}

/// Writes `data` to the output description (as `write` would, at its
/// offset); `Ok(0)` never happens for non-empty data unless the output
/// takes nothing.
fn put(ctx: &mut Ctx<'_>, out: &FileRef, data: &[u8]) -> Result<usize, SysError> {
    let mut g = out.lock();
    let nonblock = g.flags & O_NONBLOCK != 0;
    let off = g.offset;
    match &g.object {
        FileObject::Vfs(vf) => {
            if let Handle::Device(d) = vf.handle {
                return Ok(d.write(data.len())?);
            }
            let n = ctx.sys.vfs.write(vf, off, data)?;
            g.offset = off + n as u64;
            Ok(n)
        }
        FileObject::PipeWrite(end) => match end.writable(data.len()) {
            PipeIo::Broken => Err(SysError::Signal {
                errno: Errno::EPIPE,
                signal: SIGPIPE,
            }),
            PipeIo::WouldBlock if nonblock => Err(Errno::EAGAIN.into()),
            PipeIo::WouldBlock => Err(SysError::Block(Wait::PipeWritable(end.id()))),
            PipeIo::Done(n) => Ok(end.push(data.get(..n).unwrap_or_default())),
        },
        FileObject::Console(s @ (ConsoleStream::Stdout | ConsoleStream::Stderr)) => {
            let s = *s;
            ctx.sys.console.write(s, data);
            Ok(data.len())
        }
        _ => Err(Errno::EBADF.into()),
    }
}

/// `do_sendfile`: `off_wide` says whether `*offset` is a `loff_t` (else
/// the ABI's `off_t`).
fn sendfile(ctx: &mut Ctx<'_>, a: &[u64; 6], off_wide: bool) -> SysResult {
    let input = ctx.task.fds.file(fd(a[1]))?;
    let out = ctx.task.fds.file(fd(a[0]))?;
    let count = ctx.abi.ulong(a[3]);
    let (vf_ok, readable) = {
        let g = input.lock();
        (
            matches!(&g.object, FileObject::Vfs(vf) if matches!(vf.handle, Handle::Mem(_) | Handle::Host(_))),
            g.readable(),
        )
    };
    if !readable {
        return Err(Errno::EBADF.into());
    }
    let (writable, append) = {
        let g = out.lock();
        (g.writable(), g.flags & O_APPEND != 0)
    };
    if !writable {
        return Err(Errno::EBADF.into());
    }
    let wide = off_wide || ctx.abi == Abi::X86_64;
    let explicit = if a[2] != 0 {
        let v = if wide {
            read_u64(ctx.mem, a[2])? as i64
        } else {
            i64::from(read_u32(ctx.mem, a[2])? as i32)
        };
        Some(v)
    } else {
        None
    };
    if !vf_ok {
        return Err(Errno::EINVAL.into());
    }
    let mut pos = match explicit {
        Some(p) if p < 0 => return Err(Errno::EINVAL.into()),
        Some(p) => p as u64,
        None => input.lock().offset,
    };
    if append {
        return Err(Errno::EINVAL.into());
    }
    let count = count.min(MAX_RW_COUNT);
    let done = copy_from_file(ctx, &input, pos, count, |ctx, data| put(ctx, &out, data))?;
    pos += done;
    match explicit {
        Some(_) => {
            let b = if wide {
                pos.to_le_bytes().to_vec()
            } else {
                (pos as u32).to_le_bytes().to_vec()
            };
            ctx.mem.write(a[2], &b)?;
        }
        None => input.lock().offset = pos,
    }
    Ok(done as i64)
}

/// Copies up to `count` bytes of the regular file `input`, from `pos`, to
/// `sink` a chunk at a time, until the input ends or the sink takes less
/// than it was given; an error of the sink ends the copy (and is returned
/// when nothing was copied yet). Returns the count copied.
fn copy_from_file(
    ctx: &mut Ctx<'_>,
    input: &FileRef,
    mut pos: u64,
    count: u64,
    mut sink: impl FnMut(&mut Ctx<'_>, &[u8]) -> Result<usize, SysError>,
) -> Result<u64, SysError> {
    let mut done = 0u64;
    let mut buf = vec![0u8; 65536.min(count as usize)];
    while done < count {
        let want = ((count - done) as usize).min(buf.len());
        let n = {
            let g = input.lock();
            let FileObject::Vfs(vf) = &g.object else {
                break;
            };
            let chunk = buf.get_mut(..want).ok_or(Errno::EFAULT)?;
            ctx.sys.vfs.read(vf, pos, chunk)?
        };
        if n == 0 {
            break;
        }
        let w = match sink(ctx, buf.get(..n).unwrap_or_default()) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += w as u64;
        pos += w as u64;
        if w < n {
            break;
        }
    }
    Ok(done)
}

/// `sendfile(out_fd, in_fd, offset, count)` (x86_64: `loff_t`; i386:
/// 32-bit `off_t`).
pub(crate) fn sys_sendfile(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    sendfile(ctx, a, false)
}

/// i386 `sendfile64` (`loff_t` offset).
pub(crate) fn sys_sendfile64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    sendfile(ctx, a, true)
}

/// `copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)`: copies
/// up to `len` bytes from one regular file to another, at `*off_in` and
/// `*off_out` (both `loff_t`, advanced) or at the files' offsets (then
/// advanced), with the checks of `generic_copy_file_checks`: flags must be
/// 0; EBADF unless the input is readable and the output writable and not
/// `O_APPEND`; EISDIR for a directory, EINVAL for anything that is not a
/// regular file or for overlapping ranges of one file. Returns the count
/// copied (0 at the input's end).
pub(crate) fn sys_copy_file_range(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if arg_uint(a[5]) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let input = ctx.task.fds.file(fd(a[0]))?;
    let out = ctx.task.fds.file(fd(a[2]))?;
    let len = ctx.abi.ulong(a[4]).min(MAX_RW_COUNT);
    let explicit = |ctx: &mut Ctx<'_>, p: u64| -> Result<Option<i64>, Errno> {
        Ok(if p == 0 {
            None
        } else {
            Some(read_u64(ctx.mem, p)? as i64)
        })
    };
    let (off_in, off_out) = (explicit(ctx, a[1])?, explicit(ctx, a[3])?);
    if !input.lock().readable() {
        return Err(Errno::EBADF.into());
    }
    {
        let g = out.lock();
        if !g.writable() || g.flags & O_APPEND != 0 {
            return Err(Errno::EBADF.into());
        }
    }
    let (ai, ao) = (
        super::path::fstat_file(ctx, &input)?,
        super::path::fstat_file(ctx, &out)?,
    );
    if ai.mode & S_IFMT == S_IFDIR || ao.mode & S_IFMT == S_IFDIR {
        return Err(Errno::EISDIR.into());
    }
    let node = |f: &FileRef| match &f.lock().object {
        FileObject::Vfs(vf) if matches!(vf.handle, Handle::Mem(_) | Handle::Host(_)) => {
            Some(vf.node.clone())
        }
        _ => None,
    };
    let (Some(n_in), Some(n_out)) = (node(&input), node(&out)) else {
        return Err(Errno::EINVAL.into());
    };
    if ai.mode & S_IFMT != S_IFREG || ao.mode & S_IFMT != S_IFREG {
        return Err(Errno::EINVAL.into());
    }
    let mut pos_in = off_in.unwrap_or(input.lock().offset as i64);
    let mut pos_out = off_out.unwrap_or(out.lock().offset as i64);
    if pos_in < 0 || pos_out < 0 {
        return Err(Errno::EINVAL.into());
    }
    let (pi, po, l) = (pos_in as u64, pos_out as u64, len);
    if n_in == n_out && pi < po.saturating_add(l) && po < pi.saturating_add(l) {
        return Err(Errno::EINVAL.into());
    }
    let mut at = pos_out as u64;
    let done = copy_from_file(ctx, &input, pos_in as u64, len, |ctx, data| {
        let g = out.lock();
        let FileObject::Vfs(vf) = &g.object else {
            return Ok(0);
        };
        let w = ctx.sys.vfs.write(vf, at, data)?;
        at += w as u64;
        Ok(w)
    })?;
    pos_in += done as i64;
    pos_out += done as i64;
    match off_in {
        Some(_) => ctx.mem.write(a[1], &pos_in.to_le_bytes())?,
        None => input.lock().offset = pos_in as u64,
    }
    match off_out {
        Some(_) => ctx.mem.write(a[3], &pos_out.to_le_bytes())?,
        None => out.lock().offset = pos_out as u64,
    }
    Ok(done as i64)
}
