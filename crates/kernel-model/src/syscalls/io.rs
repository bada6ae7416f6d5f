//! Descriptor I/O: `read`, `write`, `readv`, `writev`, `pread64`,
//! `pwrite64`, `lseek`, `_llseek`, `close`, `dup`/`dup2`/`dup3`, `fcntl`,
//! `pipe`/`pipe2`, `ioctl` and `getdents64`.
//!
//! Data moves between the guest and the file in chunks of
//! [`CHUNK`](crate::uaccess::CHUNK) bytes whatever length the guest asks
//! for. A fault after some bytes were transferred ends the call with the
//! count so far; a fault before any gives `EFAULT` (Linux's partial-copy
//! rule). Reads from pipes consume only what reached the guest.

use super::util::{fd, file};
use crate::abi::{Abi, arg_int, arg_uint};
use crate::console::{ConsoleRead, ConsoleStream};
use crate::errno::Errno;
use crate::fd::{FileObject, FileRef, OpenFile};
use crate::personality::{Ctx, SysError, SysResult, Wait};
use crate::pipe::{PipeIo, pipe};
use crate::uaccess::{
    CHUNK, MAX_RW_COUNT, read_iovecs, read_u32, user_chunk, write_i32, write_u32, write_u64,
};
use crate::uapi::*;
use crate::vfs::Handle;
use crate::vfs::stat::encode_dirent64;

/// Reads up to `len` bytes from `f` into guest `buf`, at the file offset
/// (advancing it) or at `pos` (`pread`).
fn do_read(ctx: &mut Ctx<'_>, f: &FileRef, buf: u64, len: u64, pos: Option<i64>) -> SysResult {
    let mut g = f.lock();
    if !g.readable() {
        return Err(Errno::EBADF.into());
    }
    let nonblock = g.flags & O_NONBLOCK != 0;
    let len = len.min(MAX_RW_COUNT);
    match &g.object {
        FileObject::Vfs(vf) => {
            if matches!(vf.handle, Handle::Dir) {
                return Err(Errno::EISDIR.into());
            }
            if let Handle::Device(d) = vf.handle {
                return super::dev::read(ctx, d, buf, len);
            }
            if len == 0 {
                return Ok(0);
            }
            let start = match pos {
                Some(p) => u64::try_from(p).map_err(|_| Errno::EINVAL)?,
                None => g.offset,
            };
            let mut off = start;
            let mut done: u64 = 0;
            let mut tmp = vec![0u8; CHUNK.min(len as usize)];
            while done < len {
                let dst = buf.checked_add(done).ok_or(Errno::EFAULT)?;
                let want = user_chunk(dst, len - done);
                let chunk = tmp.get_mut(..want).ok_or(Errno::EFAULT)?;
                let n = match ctx.sys.vfs.read(vf, off, chunk) {
                    Ok(n) => n,
                    Err(e) if done == 0 => return Err(e.into()),
                    Err(_) => break,
                };
                if n == 0 {
                    break;
                }
                if ctx
                    .mem
                    .write(dst, chunk.get(..n).unwrap_or_default())
                    .is_err()
                {
                    if done == 0 {
                        return Err(Errno::EFAULT.into());
                    }
                    break;
                }
                done += n as u64;
                off += n as u64;
                if n < want {
                    break;
                }
            }
            if pos.is_none() {
                g.offset = off;
            }
            Ok(done as i64)
        }
        FileObject::PipeRead(end) => {
            if pos.is_some() {
                return Err(Errno::ESPIPE.into());
            }
            if len == 0 {
                return Ok(0);
            }
            let Some(data) = end.peek(len as usize) else {
                return match end.empty_result() {
                    PipeIo::WouldBlock if nonblock => Err(Errno::EAGAIN.into()),
                    PipeIo::WouldBlock => Err(SysError::Block(Wait::PipeReadable(end.id()))),
                    _ => Ok(0),
                };
            };
            ctx.mem.write(buf, &data)?;
            end.consume(data.len());
            Ok(data.len() as i64)
        }
        // A terminal console is one device: a description of it opened for
        // reading (stdin, or /dev/tty) reads its input.
        FileObject::Console(s) if *s == ConsoleStream::Stdin || ctx.sys.console.tty().is_some() => {
            if pos.is_some() {
                return Err(Errno::ESPIPE.into());
            }
            if len == 0 {
                return Ok(0);
            }
            // Check the buffer is writable before taking input, so a bad
            // pointer does not swallow console data.
            let mut tmp = vec![0u8; CHUNK.min(len as usize)];
            ctx.mem.read(buf, &mut tmp)?;
            ctx.mem.write(buf, &tmp)?;
            match ctx.sys.console.read(&mut tmp) {
                ConsoleRead::Data(n) => {
                    ctx.mem.write(buf, tmp.get(..n).unwrap_or_default())?;
                    Ok(n as i64)
                }
                ConsoleRead::Eof => Ok(0),
                ConsoleRead::WouldBlock if nonblock => Err(Errno::EAGAIN.into()),
                ConsoleRead::WouldBlock => Err(SysError::Block(Wait::ConsoleInput)),
            }
        }
        FileObject::Proc(p) => {
            let start = match pos {
                Some(p) => u64::try_from(p).map_err(|_| Errno::EINVAL)?,
                None => g.offset,
            };
            let from = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(p.data.len());
            let n = (p.data.len() - from).min(len as usize);
            let bytes = p.data.get(from..from + n).unwrap_or_default();
            ctx.mem.write(buf, bytes)?;
            if pos.is_none() {
                g.offset = start + n as u64;
            }
            Ok(n as i64)
        }
        FileObject::PipeWrite(_) | FileObject::Console(_) => Err(Errno::EBADF.into()),
    }
}

/// Writes up to `len` bytes from guest `buf` to `f`, at the file offset (or
/// the end with `O_APPEND`), or at `pos` (`pwrite`; Linux still appends
/// under `O_APPEND`).
fn do_write(ctx: &mut Ctx<'_>, f: &FileRef, buf: u64, len: u64, pos: Option<i64>) -> SysResult {
    let mut g = f.lock();
    if !g.writable() {
        return Err(Errno::EBADF.into());
    }
    let nonblock = g.flags & O_NONBLOCK != 0;
    let append = g.flags & O_APPEND != 0;
    let len = len.min(MAX_RW_COUNT);
    match &g.object {
        FileObject::Vfs(vf) => {
            if let Handle::Device(d) = vf.handle {
                return super::dev::write(ctx, d, buf, len);
            }
            if len == 0 {
                return Ok(0);
            }
            let start = if append {
                ctx.sys.vfs.size(vf)?
            } else {
                match pos {
                    Some(p) => u64::try_from(p).map_err(|_| Errno::EINVAL)?,
                    None => g.offset,
                }
            };
            let mut off = start;
            let mut done: u64 = 0;
            let mut tmp = vec![0u8; CHUNK.min(len as usize)];
            while done < len {
                let src = buf.checked_add(done).ok_or(Errno::EFAULT)?;
                let want = user_chunk(src, len - done);
                let chunk = tmp.get_mut(..want).ok_or(Errno::EFAULT)?;
                if ctx.mem.read(src, chunk).is_err() {
                    if done == 0 {
                        return Err(Errno::EFAULT.into());
                    }
                    break;
                }
                let n = match ctx.sys.vfs.write(vf, off, chunk) {
                    Ok(n) => n,
                    Err(e) if done == 0 => return Err(e.into()),
                    Err(_) => break,
                };
                done += n as u64;
                off += n as u64;
                if n < want {
                    break;
                }
            }
            if pos.is_none() {
                g.offset = off;
            }
            Ok(done as i64)
        }
        FileObject::PipeWrite(end) => {
            if pos.is_some() {
                return Err(Errno::ESPIPE.into());
            }
            // A blocking write waits until all of it is written, as
            // pipe_write does: what earlier issues of this call wrote is
            // in `pipe_written`, and the rest follows.
            let done = std::mem::take(&mut ctx.task.ids.pipe_written).min(len);
            let rest = len - done;
            match end.writable(rest as usize) {
                PipeIo::Broken if done > 0 => Ok(done as i64),
                PipeIo::Broken => Err(SysError::Signal {
                    errno: Errno::EPIPE,
                    signal: SIGPIPE,
                }),
                PipeIo::WouldBlock if nonblock => Err(Errno::EAGAIN.into()),
                PipeIo::WouldBlock => {
                    ctx.task.ids.pipe_written = done;
                    Err(SysError::Block(Wait::PipeWritable(end.id())))
                }
                PipeIo::Done(n) => {
                    let mut data = vec![0u8; n];
                    let src = buf.checked_add(done).ok_or(Errno::EFAULT)?;
                    if ctx.mem.read(src, &mut data).is_err() {
                        return if done > 0 {
                            Ok(done as i64)
                        } else {
                            Err(Errno::EFAULT.into())
                        };
                    }
                    let total = done + end.push(&data) as u64;
                    if total < len && !nonblock {
                        ctx.task.ids.pipe_written = total;
                        return Err(SysError::Block(Wait::PipeWritable(end.id())));
                    }
                    Ok(total as i64)
                }
            }
        }
        FileObject::Console(stream @ (ConsoleStream::Stdout | ConsoleStream::Stderr)) => {
            if pos.is_some() {
                return Err(Errno::ESPIPE.into());
            }
            let stream = *stream;
            let mut done: u64 = 0;
            let mut tmp = vec![0u8; CHUNK.min(len as usize)];
            while done < len {
                let src = buf.checked_add(done).ok_or(Errno::EFAULT)?;
                let want = user_chunk(src, len - done);
                let chunk = tmp.get_mut(..want).ok_or(Errno::EFAULT)?;
                if ctx.mem.read(src, chunk).is_err() {
                    if done == 0 {
                        return Err(Errno::EFAULT.into());
                    }
                    break;
                }
                ctx.sys.console.write(stream, chunk);
                done += want as u64;
            }
            Ok(done as i64)
        }
        FileObject::PipeRead(_)
        | FileObject::Console(ConsoleStream::Stdin)
        | FileObject::Proc(_) => Err(Errno::EBADF.into()),
    }
}

/// `read(fd, buf, count)`.
pub(crate) fn sys_read(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let len = ctx.abi.ulong(a[2]);
    if ctx.abi.long(len) < 0 {
        return Err(Errno::EINVAL.into());
    }
    do_read(ctx, &f, a[1], len, None)
}

/// `write(fd, buf, count)`.
pub(crate) fn sys_write(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let len = ctx.abi.ulong(a[2]);
    if ctx.abi.long(len) < 0 {
        return Err(Errno::EINVAL.into());
    }
    do_write(ctx, &f, a[1], len, None)
}

/// The 64-bit position argument of `pread64`/`pwrite64`: one register on
/// x86_64, a (low, high) pair in arguments 3 and 4 on i386.
fn pos64(ctx: &Ctx<'_>, a: &[u64; 6]) -> i64 {
    match ctx.abi {
        Abi::X86_64 => a[3] as i64,
        Abi::I386 => ((a[4] << 32) | (a[3] & 0xffff_ffff)) as i64,
    }
}

fn check_positional(f: &FileRef, pos: i64) -> Result<(), Errno> {
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    // pread/pwrite need a seekable file (FMODE_PREAD).
    match &f.lock().object {
        FileObject::Vfs(_) | FileObject::Proc(_) => Ok(()),
        _ => Err(Errno::ESPIPE),
    }
}

/// `pread64(fd, buf, count, pos)`.
pub(crate) fn sys_pread64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let pos = pos64(ctx, a);
    if !f.lock().readable() {
        return Err(Errno::EBADF.into());
    }
    check_positional(&f, pos)?;
    do_read(ctx, &f, a[1], ctx.abi.ulong(a[2]), Some(pos))
}

/// `pwrite64(fd, buf, count, pos)`.
pub(crate) fn sys_pwrite64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let pos = pos64(ctx, a);
    if !f.lock().writable() {
        return Err(Errno::EBADF.into());
    }
    check_positional(&f, pos)?;
    do_write(ctx, &f, a[1], ctx.abi.ulong(a[2]), Some(pos))
}

/// `readv`/`writev` (and their positional forms, at `pos`) over the
/// iovecs at `a[1]`, count `a[2]`.
fn vectored(ctx: &mut Ctx<'_>, a: &[u64; 6], write: bool, pos: Option<i64>) -> SysResult {
    let f = file(ctx, a[0])?;
    {
        let g = f.lock();
        if (write && !g.writable()) || (!write && !g.readable()) {
            return Err(Errno::EBADF.into());
        }
    }
    if let Some(pos) = pos {
        check_positional(&f, pos)?;
    }
    let count = i64::from(arg_int(a[2]));
    if count < 0 {
        return Err(Errno::EINVAL.into());
    }
    let iovs = read_iovecs(ctx.mem, ctx.abi, a[1], count as u64)?;
    let mut total: i64 = 0;
    for iov in iovs {
        if iov.len == 0 {
            continue;
        }
        let at = pos.map(|p| p.saturating_add(total));
        let r = if write {
            do_write(ctx, &f, iov.base, iov.len, at)
        } else {
            do_read(ctx, &f, iov.base, iov.len, at)
        };
        match r {
            Ok(n) => {
                total += n;
                if (n as u64) < iov.len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// `readv(fd, iov, iovcnt)`.
pub(crate) fn sys_readv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    vectored(ctx, a, false, None)
}

/// `writev(fd, iov, iovcnt)`.
pub(crate) fn sys_writev(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    vectored(ctx, a, true, None)
}

/// `preadv(fd, iov, iovcnt, pos_l, pos_h)`: the position is `pos_l` on
/// x86_64 and `pos_h:pos_l` on i386 (`pos_from_hilo`).
pub(crate) fn sys_preadv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    vectored(ctx, a, false, Some(pos64(ctx, a)))
}

/// `pwritev(fd, iov, iovcnt, pos_l, pos_h)`.
pub(crate) fn sys_pwritev(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    vectored(ctx, a, true, Some(pos64(ctx, a)))
}

/// `preadv2`/`pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags)`: a position
/// of -1 means the file offset, as readv/writev; of the `RWF_*` flags the
/// hints (HIPRI, DSYNC, SYNC: the model's writes are synchronous) are
/// accepted, NOWAIT and APPEND and unknown bits are EOPNOTSUPP.
fn vectored2(ctx: &mut Ctx<'_>, a: &[u64; 6], write: bool) -> SysResult {
    const HINTS: u64 = 0x1 | 0x2 | 0x4;
    if arg_uint(a[5]) as u64 & !HINTS != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let pos = pos64(ctx, a);
    vectored(ctx, a, write, (pos != -1).then_some(pos))
}

/// `preadv2(fd, iov, iovcnt, pos_l, pos_h, flags)`.
pub(crate) fn sys_preadv2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    vectored2(ctx, a, false)
}

/// `pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags)`.
pub(crate) fn sys_pwritev2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    vectored2(ctx, a, true)
}

/// Moves the offset of `f` (`vfs_llseek`); returns the new offset.
fn seek(ctx: &mut Ctx<'_>, f: &FileRef, off: i64, whence: u32) -> Result<i64, Errno> {
    let mut g = f.lock();
    if let FileObject::Proc(_) = &g.object {
        // seq_lseek: SET and CUR only.
        let cur = i64::try_from(g.offset).map_err(|_| Errno::EINVAL)?;
        let new = match whence {
            SEEK_SET => Some(off),
            SEEK_CUR => cur.checked_add(off),
            _ => None,
        };
        let new = new.filter(|&n| n >= 0).ok_or(Errno::EINVAL)?;
        g.offset = new as u64;
        return Ok(new);
    }
    let FileObject::Vfs(vf) = &g.object else {
        return Err(Errno::ESPIPE);
    };
    if matches!(vf.handle, Handle::Device(_)) {
        // null_lseek (and noop_llseek on an offset that stays 0).
        g.offset = 0;
        return Ok(0);
    }
    let cur = i64::try_from(g.offset).map_err(|_| Errno::EINVAL)?;
    let new = if matches!(vf.handle, Handle::Dir) {
        // Directory offsets are entry indexes: SET and CUR only.
        match whence {
            SEEK_SET => Some(off),
            SEEK_CUR => cur.checked_add(off),
            _ => return Err(Errno::EINVAL),
        }
    } else {
        let size = i64::try_from(ctx.sys.vfs.size(vf)?).map_err(|_| Errno::EOVERFLOW)?;
        match whence {
            SEEK_SET => Some(off),
            SEEK_CUR => cur.checked_add(off),
            SEEK_END => size.checked_add(off),
            SEEK_DATA if off < 0 => return Err(Errno::EINVAL),
            SEEK_DATA if off >= size => return Err(Errno::ENXIO),
            SEEK_DATA => Some(off),
            SEEK_HOLE if off < 0 => return Err(Errno::EINVAL),
            SEEK_HOLE if off >= size => return Err(Errno::ENXIO),
            SEEK_HOLE => Some(size),
            _ => return Err(Errno::EINVAL),
        }
    };
    let new = new.filter(|&n| n >= 0).ok_or(Errno::EINVAL)?;
    g.offset = new as u64;
    Ok(new)
}

/// `lseek(fd, offset, whence)`; on i386 a result beyond `off_t` is
/// `EOVERFLOW` (the offset has moved nonetheless, as on Linux).
pub(crate) fn sys_lseek(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let new = seek(ctx, &f, ctx.abi.long(a[1]), arg_uint(a[2]))?;
    if new > ctx.abi.long_max() {
        return Err(Errno::EOVERFLOW.into());
    }
    Ok(new)
}

/// i386 `_llseek(fd, offset_high, offset_low, loff_t *result, whence)`.
pub(crate) fn sys_llseek(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let off = (((a[1] & 0xffff_ffff) << 32) | (a[2] & 0xffff_ffff)) as i64;
    let new = seek(ctx, &f, off, arg_uint(a[4]))?;
    write_u64(ctx.mem, a[3], new as u64)?;
    Ok(0)
}

/// `close(fd)`.
pub(crate) fn sys_close(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.task.fds.close(fd(a[0]))?;
    Ok(0)
}

/// `dup(oldfd)`.
pub(crate) fn sys_dup(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.task.fds.dup(fd(a[0]))?))
}

/// `dup2(oldfd, newfd)`.
pub(crate) fn sys_dup2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.task.fds.dup2(fd(a[0]), fd(a[1]))?))
}

/// `dup3(oldfd, newfd, flags)`.
pub(crate) fn sys_dup3(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    Ok(i64::from(ctx.task.fds.dup3(
        fd(a[0]),
        fd(a[1]),
        arg_uint(a[2]),
    )?))
}

/// `fcntl(fd, cmd, arg)` and i386 `fcntl64`. Record locks are granted
/// at once (`F_SETLK`/`F_SETLKW` succeed, `F_GETLK` reports `F_UNLCK`):
/// one address space's view of advisory locks, documented simplification.
pub(crate) fn sys_fcntl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let n = fd(a[0]);
    let f = ctx.task.fds.file(n)?;
    match arg_uint(a[1]) {
        F_DUPFD => Ok(i64::from(ctx.task.fds.dupfd(
            n,
            i64::from(arg_int(a[2])),
            false,
        )?)),
        F_DUPFD_CLOEXEC => Ok(i64::from(ctx.task.fds.dupfd(
            n,
            i64::from(arg_int(a[2])),
            true,
        )?)),
        F_GETFD => Ok(i64::from(ctx.task.fds.cloexec(n)?)),
        F_SETFD => {
            ctx.task
                .fds
                .set_cloexec(n, arg_uint(a[2]) & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(i64::from(f.lock().flags)),
        F_SETFL => {
            let mut g = f.lock();
            g.flags = (g.flags & !SETFL_MASK) | (arg_uint(a[2]) & SETFL_MASK);
            Ok(0)
        }
        F_GETPIPE_SZ => match &f.lock().object {
            FileObject::PipeRead(e) | FileObject::PipeWrite(e) => Ok(e.capacity() as i64),
            _ => Err(Errno::EBADF.into()),
        },
        F_GETLK | F_GETLK64 => {
            // struct flock starts with `short l_type`.
            ctx.mem.write(a[2], &2u16.to_le_bytes())?;
            Ok(0)
        }
        F_SETLK | F_SETLKW | F_SETLK64 | F_SETLKW64 => Ok(0),
        F_GETOWN | F_SETOWN => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// Creates a pipe and installs its ends; returns (read fd, write fd).
fn make_pipe(ctx: &mut Ctx<'_>, flags: u32) -> Result<(i32, i32), Errno> {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = pipe(ctx.sys.new_pipe_id());
    let nb = flags & O_NONBLOCK;
    let cloexec = flags & O_CLOEXEC != 0;
    let rf = FileRef::new(OpenFile::new(O_RDONLY | nb, FileObject::PipeRead(r)));
    let wf = FileRef::new(OpenFile::new(O_WRONLY | nb, FileObject::PipeWrite(w)));
    let rfd = ctx.task.fds.install(rf, cloexec)?;
    match ctx.task.fds.install(wf, cloexec) {
        Ok(wfd) => Ok((rfd, wfd)),
        Err(e) => {
            let _ = ctx.task.fds.close(rfd);
            Err(e)
        }
    }
}

fn pipe_common(ctx: &mut Ctx<'_>, addr: u64, flags: u32) -> SysResult {
    let (r, w) = make_pipe(ctx, flags)?;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&r.to_le_bytes());
    b[4..].copy_from_slice(&w.to_le_bytes());
    if ctx.mem.write(addr, &b).is_err() {
        let _ = ctx.task.fds.close(r);
        let _ = ctx.task.fds.close(w);
        return Err(Errno::EFAULT.into());
    }
    Ok(0)
}

/// `pipe(int fds[2])`.
pub(crate) fn sys_pipe(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    pipe_common(ctx, a[0], 0)
}

/// `pipe2(int fds[2], flags)`.
pub(crate) fn sys_pipe2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    pipe_common(ctx, a[0], arg_uint(a[1]))
}

/// The kernel `struct termios` (`TCGETS`, 36 bytes) of a console in
/// canonical mode with echo, 38400 baud, 8 bits.
fn termios_bytes() -> [u8; 36] {
    let mut t = [0u8; 36];
    let iflag: u32 = 0o400 | 0o2000; // ICRNL | IXON
    let oflag: u32 = 0o1 | 0o4; // OPOST | ONLCR
    let cflag: u32 = 0o17 | 0o60 | 0o200; // B38400 | CS8 | CREAD
    let lflag: u32 = 0o1 | 0o2 | 0o10 | 0o20 | 0o40 | 0o1000 | 0o4000 | 0o100000; // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
    t[0..4].copy_from_slice(&iflag.to_le_bytes());
    t[4..8].copy_from_slice(&oflag.to_le_bytes());
    t[8..12].copy_from_slice(&cflag.to_le_bytes());
    t[12..16].copy_from_slice(&lflag.to_le_bytes());
    // c_line = 0 at 16, c_cc[19] from 17: INTR QUIT ERASE KILL EOF TIME MIN SWTC
    // START STOP SUSP EOL REPRINT DISCARD WERASE LNEXT EOL2.
    let cc = [
        3u8, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0,
    ];
    t[17..17 + cc.len()].copy_from_slice(&cc);
    t
}

/// `ioctl(fd, request, arg)`: `FIOCLEX`, `FIONCLEX`, `FIONBIO`, `FIONREAD`
/// on any descriptor; `TCGETS`, `TCSETS*`, `TIOCGWINSZ`, `TIOCSWINSZ`,
/// `TIOCGPGRP` on a console that is a terminal ([`Console::with_tty`]),
/// `ENOTTY` otherwise (the default: the console behaves like a pipe).
///
/// [`Console::with_tty`]: crate::console::Console::with_tty
pub(crate) fn sys_ioctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let n = fd(a[0]);
    let f = ctx.task.fds.file(n)?;
    let req = arg_uint(a[1]);
    let arg = a[2];
    match req {
        FIOCLEX | FIONCLEX => {
            ctx.task.fds.set_cloexec(n, req == FIOCLEX)?;
            return Ok(0);
        }
        FIONBIO => {
            let on = read_u32(ctx.mem, arg)? != 0;
            let mut g = f.lock();
            g.flags = if on {
                g.flags | O_NONBLOCK
            } else {
                g.flags & !O_NONBLOCK
            };
            return Ok(0);
        }
        _ => {}
    }
    let is_console = matches!(f.lock().object, FileObject::Console(_));
    if req == FIONREAD {
        let g = f.lock();
        let avail = match &g.object {
            FileObject::PipeRead(e) | FileObject::PipeWrite(e) => e.available() as u64,
            FileObject::Vfs(vf) if !matches!(vf.handle, Handle::Dir | Handle::Device(_)) => {
                ctx.sys.vfs.size(vf)?.saturating_sub(g.offset)
            }
            FileObject::Console(_) if ctx.sys.console.tty().is_some() => 0,
            _ => return Err(Errno::ENOTTY.into()),
        };
        drop(g);
        write_i32(ctx.mem, arg, i32::try_from(avail).unwrap_or(i32::MAX))?;
        return Ok(0);
    }
    let Some(ws) = ctx.sys.console.tty().filter(|_| is_console) else {
        return Err(Errno::ENOTTY.into());
    };
    match req {
        TCGETS => {
            ctx.mem.write(arg, &termios_bytes())?;
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF => {
            let mut t = [0u8; 36];
            ctx.mem.read(arg, &mut t)?;
            Ok(0)
        }
        TIOCGWINSZ => {
            let mut w = [0u8; 8];
            w[0..2].copy_from_slice(&ws.rows.to_le_bytes());
            w[2..4].copy_from_slice(&ws.cols.to_le_bytes());
            ctx.mem.write(arg, &w)?;
            Ok(0)
        }
        TIOCSWINSZ => {
            let mut w = [0u8; 8];
            ctx.mem.read(arg, &mut w)?;
            let rows = u16::from_le_bytes([w[0], w[1]]);
            let cols = u16::from_le_bytes([w[2], w[3]]);
            ctx.sys
                .console
                .set_winsize(crate::console::Winsize { rows, cols });
            Ok(0)
        }
        TIOCGPGRP => {
            write_u32(ctx.mem, arg, ctx.process.pid())?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY.into()),
    }
}

/// `getdents64(fd, dirp, count)`: as many `linux_dirent64` records as fit,
/// `EINVAL` if not even one does, 0 at the end.
pub(crate) fn sys_getdents64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let count = u64::from(arg_uint(a[2]));
    let mut g = f.lock();
    let FileObject::Vfs(vf) = &g.object else {
        return Err(Errno::ENOTDIR.into());
    };
    if !matches!(vf.handle, Handle::Dir) {
        return Err(Errno::ENOTDIR.into());
    }
    let entries = ctx.sys.vfs.readdir(vf)?;
    let start = usize::try_from(g.offset).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut next = start;
    for (i, e) in entries.iter().enumerate().skip(start) {
        let next_off = i64::try_from(i + 1).unwrap_or(i64::MAX);
        let Some(rec) = encode_dirent64(e, next_off) else {
            continue;
        };
        if (out.len() + rec.len()) as u64 > count {
            break;
        }
        out.extend_from_slice(&rec);
        next = i + 1;
    }
    if out.is_empty() && start < entries.len() {
        return Err(Errno::EINVAL.into());
    }
    ctx.mem.write(a[1], &out)?;
    g.offset = next as u64;
    Ok(out.len() as i64)
}
