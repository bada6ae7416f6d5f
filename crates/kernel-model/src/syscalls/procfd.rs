//! Opening and `stat`ing through the magic links `/proc/self/fd/N` (also
//! `/proc/<own pid>/fd/N` and `/proc/thread-self/fd/N`), directly or
//! through ordinary symlinks that lead there, such as `/dev/stdout` or
//! `/dev/fd/3`.
//!
//! There is no `/proc` filesystem in the VFS: when a lookup fails with
//! `ENOENT`, the path is resolved again here through the VFS's symlinks,
//! component by component (lexically for `.` and `..`), to see whether it
//! reaches a descriptor's magic link. What opening one gives is what
//! Linux's `proc_fd_link` + `do_open` give:
//! - a file of the VFS is opened anew (a new description with its own
//!   offset and flags; permission is checked for the new access mode, and
//!   `O_TRUNC` truncates a regular file);
//! - a pipe end gives a new description of the same pipe, its read end
//!   for `O_RDONLY` and write end for `O_WRONLY` (`fifo_open` on a pipe
//!   never waits); `O_RDWR` keeps the end the descriptor had (the model
//!   has no description that is both ends);
//! - a console stream gives a new description of the same stream;
//! - components after `N` continue the lookup inside the directory the
//!   descriptor names (`ENOTDIR` for anything else).

use super::dev::file_object;
use super::path::{fstat_file, lexical_abs, own_proc_dir, proc_link};
use crate::errno::Errno;
use crate::fd::FileObject;
use crate::personality::Ctx;
use crate::uapi::*;
use crate::vfs::stat::{Attr, makedev};
use crate::vfs::{Cred, MAY_EXEC, MAY_READ, MAY_WRITE, components, join, permission};

/// A path that reaches descriptor `fd`'s magic link, with the components
/// that follow it.
pub(super) struct MagicFd {
    /// The descriptor.
    pub fd: i32,
    /// Components after `/proc/self/fd/N`, joined relative (empty if none).
    pub rest: Vec<u8>,
}

/// The descriptor named by the leading `proc/<self>/fd/N` of `parts`.
fn proc_fd_prefix(ctx: &Ctx<'_>, parts: &[Vec<u8>]) -> Option<i32> {
    let [p, who, fd, n, ..] = parts else {
        return None;
    };
    if p != b"proc" || !own_proc_dir(ctx, who) || fd != b"fd" {
        return None;
    }
    // Linux accepts only canonical decimal numbers (no sign, no leading 0).
    if n.is_empty() || (n.len() > 1 && n.first() == Some(&b'0')) {
        return None;
    }
    if !n.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// Resolves `path` (relative to canonical directory `base`) through the
/// VFS's symlinks; `Some` if it reaches a `/proc/self/fd/N` magic link.
/// With `follow` false a symlink in the final position is not expanded
/// (the magic link itself may still be the final component).
pub(super) fn resolve(ctx: &Ctx<'_>, base: &[u8], path: &[u8], follow: bool) -> Option<MagicFd> {
    let cred = ctx.cred();
    let mut parts: Vec<Vec<u8>> = components(&lexical_abs(base, path))
        .map(<[u8]>::to_vec)
        .collect();
    let mut links = 0u32;
    let mut i = 0usize;
    loop {
        if let Some(fd) = proc_fd_prefix(ctx, &parts) {
            let rest = parts.get(4..).unwrap_or_default();
            let mut rest = join(rest);
            rest.remove(0); // relative: drop the leading '/'
            if path.last() == Some(&b'/') && !rest.is_empty() {
                rest.push(b'/');
            }
            return Some(MagicFd { fd, rest });
        }
        if i >= parts.len() || (i + 1 == parts.len() && !follow) {
            return None;
        }
        let prefix = join(parts.get(..=i)?);
        match ctx.sys.vfs.readlink(b"/", &prefix, &cred) {
            Ok(target) => {
                links += 1;
                if links > MAXSYMLINKS {
                    return None;
                }
                let dir = join(parts.get(..i)?);
                let mut next: Vec<Vec<u8>> = components(&lexical_abs(&dir, &target))
                    .map(<[u8]>::to_vec)
                    .collect();
                next.extend(parts.get(i + 1..).unwrap_or_default().iter().cloned());
                parts = next;
                i = 0;
            }
            Err(_) => i += 1,
        }
    }
}

/// `open` of a path that failed with `ENOENT`: `None` if it does not reach
/// a magic link, else the object the new description refers to.
pub(super) fn open(
    ctx: &mut Ctx<'_>,
    base: &[u8],
    path: &[u8],
    flags: u32,
    mode: u32,
) -> Option<Result<FileObject, Errno>> {
    let creat = flags & O_CREAT != 0;
    let excl = flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !(creat && excl);
    let m = resolve(ctx, base, path, follow)?;
    Some(open_magic(ctx, &m, flags, mode, follow))
}

fn open_magic(
    ctx: &mut Ctx<'_>,
    m: &MagicFd,
    flags: u32,
    mode: u32,
    follow: bool,
) -> Result<FileObject, Errno> {
    let f = ctx.task.fds.file(m.fd).map_err(|_| Errno::ENOENT)?;
    let cred = ctx.cred();
    if !m.rest.is_empty() {
        let base = match &f.lock().object {
            FileObject::Vfs(vf) => vf.path.clone(),
            _ => return Err(Errno::ENOTDIR),
        };
        let vf = ctx.sys.vfs.open(&base, &m.rest, flags, mode, &cred)?;
        return file_object(ctx, vf);
    }
    if !follow {
        // The final component is the magic link itself.
        return Err(if flags & O_CREAT != 0 {
            Errno::EEXIST
        } else {
            Errno::ELOOP
        });
    }
    let g = f.lock();
    let not_dir = flags & O_DIRECTORY != 0;
    match &g.object {
        FileObject::Vfs(vf) => {
            let vf = ctx.sys.vfs.reopen(vf, flags, &cred)?;
            drop(g);
            file_object(ctx, vf)
        }
        _ if not_dir => Err(Errno::ENOTDIR),
        FileObject::PipeRead(e) | FileObject::PipeWrite(e) => {
            let write = match flags & O_ACCMODE {
                O_RDONLY => false,
                O_WRONLY => true,
                _ => e.is_write_end(),
            };
            let end = e.open_end(write);
            Ok(if write {
                FileObject::PipeWrite(end)
            } else {
                FileObject::PipeRead(end)
            })
        }
        FileObject::Console(s) => Ok(FileObject::Console(*s)),
        // The same contents again (Linux would generate them anew).
        FileObject::Proc(p) if flags & O_ACCMODE == O_RDONLY => Ok(FileObject::Proc(p.clone())),
        FileObject::Proc(_) => Err(Errno::EACCES),
    }
}

/// The device number of `/proc` (an anonymous device, as procfs has).
const PROC_DEV: u64 = makedev(0, 0x16);

/// `stat` of a path that failed with `ENOENT`: `None` if it does not reach
/// a magic link, else the attributes of what it names, or with `follow`
/// false of the magic link itself (`tid_fd_update_inode`: a symlink with
/// `r-x` for a readable description, `-wx` for a writable one, owned by the
/// task's effective ids, 64 bytes long, on procfs with 1 KiB blocks).
pub(super) fn stat(
    ctx: &Ctx<'_>,
    base: &[u8],
    path: &[u8],
    follow: bool,
) -> Option<Result<Attr, Errno>> {
    let m = resolve(ctx, base, path, follow)?;
    let Ok(f) = ctx.task.fds.file(m.fd) else {
        return Some(Err(Errno::ENOENT));
    };
    if m.rest.is_empty() && !follow {
        let g = f.lock();
        let mut mode = S_IFLNK;
        if g.readable() {
            mode |= 0o500;
        }
        if g.writable() {
            mode |= 0o300;
        }
        let cred = ctx.cred();
        let now = ctx.sys.vfs.now();
        return Some(Ok(Attr {
            dev: PROC_DEV,
            ino: 0x1000 + u64::try_from(m.fd).unwrap_or(0),
            mode,
            nlink: 1,
            uid: cred.uid,
            gid: cred.gid,
            rdev: 0,
            size: 64,
            blksize: 1024,
            blocks: 0,
            atime: now,
            mtime: now,
            ctime: now,
        }));
    }
    if m.rest.is_empty() {
        return Some(fstat_file(ctx, &f));
    }
    let base = match &f.lock().object {
        FileObject::Vfs(vf) => vf.path.clone(),
        _ => return Some(Err(Errno::ENOTDIR)),
    };
    Some(ctx.sys.vfs.stat(&base, &m.rest, follow, &ctx.cred()))
}

/// The VFS directory path of descriptor `m.fd` when components follow its
/// magic link (`ENOTDIR` for a pipe or the console).
fn dir_of(ctx: &Ctx<'_>, fd: i32) -> Result<Vec<u8>, Errno> {
    let f = ctx.task.fds.file(fd).map_err(|_| Errno::ENOENT)?;
    let g = f.lock();
    match &g.object {
        FileObject::Vfs(vf) => Ok(vf.path.clone()),
        _ => Err(Errno::ENOTDIR),
    }
}

/// `readlink` of a path that failed with `ENOENT`: the magic link's
/// target (`/dev/fd/1` reads as `/proc/self/fd/1` does).
pub(super) fn readlink(ctx: &Ctx<'_>, base: &[u8], path: &[u8]) -> Option<Result<Vec<u8>, Errno>> {
    let m = resolve(ctx, base, path, false)?;
    if m.rest.is_empty() {
        return proc_link(ctx, format!("/proc/self/fd/{}", m.fd).as_bytes());
    }
    Some(dir_of(ctx, m.fd).and_then(|d| ctx.sys.vfs.readlink(&d, &m.rest, &ctx.cred())))
}

/// `access` (following) of a path that failed with `ENOENT`: the mode
/// bits of what the magic link names are checked for `cred`.
pub(super) fn access(
    ctx: &Ctx<'_>,
    base: &[u8],
    path: &[u8],
    mode: u32,
    cred: &Cred,
) -> Option<Result<(), Errno>> {
    let m = resolve(ctx, base, path, true)?;
    if !m.rest.is_empty() {
        return Some(
            dir_of(ctx, m.fd).and_then(|d| ctx.sys.vfs.access(&d, &m.rest, mode, true, cred)),
        );
    }
    let Ok(f) = ctx.task.fds.file(m.fd) else {
        return Some(Err(Errno::ENOENT));
    };
    let mut mask = 0;
    for (bit, may) in [(R_OK, MAY_READ), (W_OK, MAY_WRITE), (X_OK, MAY_EXEC)] {
        if mode & bit != 0 {
            mask |= may;
        }
    }
    Some(fstat_file(ctx, &f).and_then(|a| permission(&a, cred, mask)))
}
