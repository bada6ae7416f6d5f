//! Character-device I/O for the descriptor calls: moving bytes between the
//! guest and the drivers of [`crate::vfs::dev`] (the random devices draw
//! on the kernel's generator, [`Personality::random`]), and turning an
//! opened `/dev/tty` into the console.
//!
//! Transfers go page by page with Linux's partial-copy rule: a fault after
//! some bytes ends the call with the count so far, a fault before any is
//! `EFAULT`. `null` and `zero` writes never look at the buffer
//! (`write_null` returns the count), `null` reads never touch it.
//!
//! [`Personality::random`]: crate::personality::Personality::random

use crate::console::ConsoleStream;
use crate::errno::Errno;
use crate::fd::FileObject;
use crate::personality::{Ctx, SysResult};
use crate::uaccess::user_chunk;
use crate::vfs::dev::Device;
use crate::vfs::{Handle, VfsFile};

/// Reads up to `len` bytes from device `d` into guest `buf`.
pub(super) fn read(ctx: &mut Ctx<'_>, d: Device, buf: u64, len: u64) -> SysResult {
    if d == Device::Null || len == 0 {
        return Ok(0);
    }
    let mut page = [0u8; 4096];
    let mut done: u64 = 0;
    while done < len {
        let dst = buf.checked_add(done).ok_or(Errno::EFAULT)?;
        let want = user_chunk(dst, len - done).min(page.len());
        let chunk = page.get_mut(..want).ok_or(Errno::EFAULT)?;
        let n = d.read(chunk, Some(&mut ctx.sys.random))?;
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
        if n < want {
            break;
        }
    }
    Ok(done as i64)
}

/// Writes `len` bytes from guest `buf` to device `d`.
pub(super) fn write(ctx: &mut Ctx<'_>, d: Device, buf: u64, len: u64) -> SysResult {
    if !d.write_reads_buffer() {
        let n = d.write(usize::try_from(len).unwrap_or(usize::MAX))?;
        return Ok(n as i64);
    }
    let mut page = [0u8; 4096];
    let mut done: u64 = 0;
    while done < len {
        let src = buf.checked_add(done).ok_or(Errno::EFAULT)?;
        let want = user_chunk(src, len - done).min(page.len());
        let chunk = page.get_mut(..want).ok_or(Errno::EFAULT)?;
        if ctx.mem.read(src, chunk).is_err() {
            if done == 0 {
                return Err(Errno::EFAULT.into());
            }
            break;
        }
        done += d.write(want)? as u64;
    }
    Ok(done as i64)
}

/// What a newly opened VFS file becomes: `/dev/tty` is the console when
/// the console is a terminal (its output stream; reads take console
/// input) and `ENXIO` otherwise, as Linux's `tty_open` without a
/// controlling terminal; everything else stays a VFS file.
pub(super) fn file_object(ctx: &Ctx<'_>, vf: VfsFile) -> Result<FileObject, Errno> {
    if matches!(vf.handle, Handle::Device(Device::Tty)) {
        return match ctx.sys.console.tty() {
            Some(_) => Ok(FileObject::Console(ConsoleStream::Stdout)),
            None => Err(Errno::ENXIO),
        };
    }
    Ok(FileObject::Vfs(vf))
}
