//! Path-based calls: `open`/`openat`/`creat`, the `stat` family, `access`
//! and `faccessat`, `mkdir`, `unlink`, `rmdir`, `rename`, `link`,
//! `symlink`, `readlink` (with `/proc/self/exe` from the machine layer's
//! [`ProcessInfo::exe`](crate::personality::ProcessInfo::exe)), `getcwd`,
//! `chdir`/`fchdir`, `truncate`/`ftruncate` and `umask`.

use super::util::{base_dir, fd, file, path_arg};
use crate::abi::{Abi, arg_int, arg_uint};
use crate::console::ConsoleStream;
use crate::errno::Errno;
use crate::fd::{FileObject, FileRef, OpenFile};
use crate::personality::{Ctx, SysResult};
use crate::uapi::*;
use crate::vfs::stat::{Attr, STATX_RESERVED, StatLayout, encode, makedev};
use crate::vfs::{Handle, MAY_EXEC, permission};

/// `do_sys_open`: opens `path` relative to `dirfd` and installs a
/// descriptor. A full descriptor table is `EMFILE` before the path is
/// looked at, as Linux allocates the descriptor first.
fn do_open(ctx: &mut Ctx<'_>, dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult {
    let mut flags = flags;
    if ctx.abi == Abi::X86_64 {
        flags |= O_LARGEFILE; // force_o_largefile()
    }
    let path = path_arg(ctx, path_addr, false)?;
    if flags & O_TMPFILE == O_TMPFILE {
        return Err(Errno::EOPNOTSUPP.into());
    }
    if ctx.task.fds.first_free().is_none() {
        return Err(Errno::EMFILE.into());
    }
    let base = base_dir(ctx, dirfd, &path)?;
    let mode = mode & 0o7777 & !ctx.task.umask;
    let cred = ctx.cred();
    let object = match ctx.sys.vfs.open(&base, &path, flags, mode, &cred) {
        Ok(vf) => super::dev::file_object(ctx, vf)?,
        // Perhaps a /proc/self/fd magic link (or a symlink to one).
        Err(Errno::ENOENT) => match super::procfd::open(ctx, &base, &path, flags, mode) {
            Some(r) => r?,
            // Or a generated file of /proc/self.
            None => super::procfs::open(ctx, &base, &path, flags).unwrap_or(Err(Errno::ENOENT))?,
        },
        Err(e) => return Err(e.into()),
    };
    let of = OpenFile::new(flags, object);
    let n = ctx
        .task
        .fds
        .install(FileRef::new(of), flags & O_CLOEXEC != 0)?;
    Ok(i64::from(n))
}

/// `open(path, flags, mode)`.
pub(crate) fn sys_open(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_open(ctx, AT_FDCWD, a[0], arg_uint(a[1]), arg_uint(a[2]))
}

/// `openat(dirfd, path, flags, mode)`.
pub(crate) fn sys_openat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_open(ctx, arg_int(a[0]), a[1], arg_uint(a[2]), arg_uint(a[3]))
}

/// `creat(path, mode)`: `open(path, O_CREAT|O_WRONLY|O_TRUNC, mode)`.
pub(crate) fn sys_creat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_open(
        ctx,
        AT_FDCWD,
        a[0],
        O_CREAT | O_WRONLY | O_TRUNC,
        arg_uint(a[1]),
    )
}

/// Attributes of an open file; pipes and the console get synthesized
/// ones (a FIFO on `pipefs`; the console as a FIFO, or as `/dev/pts/0`
/// when it is a terminal).
pub(crate) fn fstat_file(ctx: &Ctx<'_>, f: &FileRef) -> Result<Attr, Errno> {
    let g = f.lock();
    let now = ctx.sys.vfs.now();
    let synth = |mode: u32, ino: u64, rdev: u64| Attr {
        dev: makedev(0, 0xc),
        ino,
        mode,
        nlink: 1,
        uid: ctx.process.uid(),
        gid: ctx.process.gid(),
        rdev,
        size: 0,
        blksize: 4096,
        blocks: 0,
        atime: now,
        mtime: now,
        ctime: now,
    };
    match &g.object {
        FileObject::Vfs(vf) => ctx.sys.vfs.fstat(vf),
        FileObject::Proc(p) => Ok(super::procfs::fstat(ctx, p)),
        FileObject::PipeRead(e) | FileObject::PipeWrite(e) => Ok(synth(S_IFIFO | 0o600, e.id(), 0)),
        FileObject::Console(s) => {
            let ino = match s {
                ConsoleStream::Stdin => 1,
                ConsoleStream::Stdout => 2,
                ConsoleStream::Stderr => 3,
            };
            if ctx.sys.console.tty().is_some() {
                Ok(synth(S_IFCHR | 0o620, 3, makedev(136, 0)))
            } else {
                Ok(synth(S_IFIFO | 0o600, ino, 0))
            }
        }
    }
}

fn put_stat(ctx: &mut Ctx<'_>, layout: StatLayout, attr: &Attr, buf: u64) -> SysResult {
    let bytes = encode(layout, attr)?;
    ctx.mem.write(buf, &bytes)?;
    Ok(0)
}

/// The `stat` layout of the ABI's plain `stat` calls.
fn native_layout(abi: Abi) -> StatLayout {
    match abi {
        Abi::X86_64 => StatLayout::Stat64Native,
        Abi::I386 => StatLayout::StatI386,
    }
}

fn stat_path(ctx: &mut Ctx<'_>, a: &[u64; 6], follow: bool, layout: StatLayout) -> SysResult {
    let path = path_arg(ctx, a[0], false)?;
    let base = base_dir(ctx, AT_FDCWD, &path)?;
    let attr = stat_or_magic(ctx, &base, &path, follow)?;
    put_stat(ctx, layout, &attr, a[1])
}

fn stat_fd(ctx: &mut Ctx<'_>, a: &[u64; 6], layout: StatLayout) -> SysResult {
    let f = file(ctx, a[0])?;
    let attr = fstat_file(ctx, &f)?;
    put_stat(ctx, layout, &attr, a[1])
}

/// `stat(path, buf)` (x86_64 `struct stat`; i386 `struct stat`).
pub(crate) fn sys_stat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    stat_path(ctx, a, true, native_layout(ctx.abi))
}

/// `lstat(path, buf)`.
pub(crate) fn sys_lstat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    stat_path(ctx, a, false, native_layout(ctx.abi))
}

/// `fstat(fd, buf)`.
pub(crate) fn sys_fstat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    stat_fd(ctx, a, native_layout(ctx.abi))
}

/// i386 `stat64(path, buf)`.
pub(crate) fn sys_stat64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    stat_path(ctx, a, true, StatLayout::Stat64I386)
}

/// i386 `lstat64(path, buf)`.
pub(crate) fn sys_lstat64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    stat_path(ctx, a, false, StatLayout::Stat64I386)
}

/// i386 `fstat64(fd, buf)`.
pub(crate) fn sys_fstat64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    stat_fd(ctx, a, StatLayout::Stat64I386)
}

/// Attributes for the `*at` stat calls: `AT_EMPTY_PATH` with an empty path
/// means `dirfd` itself.
fn stat_at(ctx: &mut Ctx<'_>, dirfd: i32, path_addr: u64, flags: u32) -> Result<Attr, Errno> {
    let empty_ok = flags & AT_EMPTY_PATH != 0;
    let path = if empty_ok && path_addr == 0 {
        Vec::new()
    } else {
        path_arg(ctx, path_addr, empty_ok)?
    };
    if path.is_empty() {
        if dirfd == AT_FDCWD {
            let cwd = ctx.task.cwd.clone();
            return ctx.sys.vfs.stat(b"/", &cwd, true, &ctx.cred());
        }
        let f = ctx.task.fds.file(dirfd)?;
        return fstat_file(ctx, &f);
    }
    let base = base_dir(ctx, dirfd, &path)?;
    stat_or_magic(ctx, &base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// `stat` of a path, through `/proc/self/fd` magic links.
fn stat_or_magic(ctx: &Ctx<'_>, base: &[u8], path: &[u8], follow: bool) -> Result<Attr, Errno> {
    match ctx.sys.vfs.stat(base, path, follow, &ctx.cred()) {
        Err(Errno::ENOENT) => super::procfd::stat(ctx, base, path, follow)
            .or_else(|| super::procfs::stat(ctx, base, path).map(Ok))
            .unwrap_or(Err(Errno::ENOENT)),
        r => r,
    }
}

/// x86_64 `newfstatat(dirfd, path, buf, flags)` and i386 `fstatat64`.
pub(crate) fn sys_newfstatat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = arg_uint(a[3]);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let attr = stat_at(ctx, arg_int(a[0]), a[1], flags)?;
    let layout = match ctx.abi {
        Abi::X86_64 => StatLayout::Stat64Native,
        Abi::I386 => StatLayout::Stat64I386,
    };
    put_stat(ctx, layout, &attr, a[2])
}

/// `statx(dirfd, path, flags, mask, buf)`: the basic fields whatever the
/// mask asks for (`stx_mask` says which are valid).
pub(crate) fn sys_statx(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = arg_uint(a[2]);
    let valid = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE;
    if flags & !valid != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL.into());
    }
    if arg_uint(a[3]) & STATX_RESERVED != 0 {
        return Err(Errno::EINVAL.into());
    }
    let attr = stat_at(ctx, arg_int(a[0]), a[1], flags)?;
    put_stat(ctx, StatLayout::Statx, &attr, a[4])
}

fn do_access(ctx: &mut Ctx<'_>, dirfd: i32, path_addr: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !(R_OK | W_OK | X_OK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = path_arg(ctx, path_addr, flags & AT_EMPTY_PATH != 0)?;
    let cred = if flags & AT_EACCESS != 0 {
        ctx.cred()
    } else {
        ctx.real_cred()
    };
    let (base, path) = if path.is_empty() {
        (b"/".to_vec(), base_dir(ctx, dirfd, b"")?)
    } else {
        (base_dir(ctx, dirfd, &path)?, path)
    };
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    match ctx.sys.vfs.access(&base, &path, mode, follow, &cred) {
        Err(Errno::ENOENT) if follow => super::procfd::access(ctx, &base, &path, mode, &cred)
            .or_else(|| super::procfs::access(ctx, &base, &path, mode))
            .unwrap_or(Err(Errno::ENOENT))?,
        r => r?,
    }
    Ok(0)
}

/// `access(path, mode)` (real uid and gid).
pub(crate) fn sys_access(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_access(ctx, AT_FDCWD, a[0], arg_uint(a[1]), 0)
}

/// `faccessat(dirfd, path, mode)` (the system call has no flags).
pub(crate) fn sys_faccessat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_access(ctx, arg_int(a[0]), a[1], arg_uint(a[2]), 0)
}

/// `faccessat2(dirfd, path, mode, flags)`.
pub(crate) fn sys_faccessat2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_access(ctx, arg_int(a[0]), a[1], arg_uint(a[2]), arg_uint(a[3]))
}

fn do_mkdir(ctx: &mut Ctx<'_>, dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let path = path_arg(ctx, path_addr, false)?;
    let base = base_dir(ctx, dirfd, &path)?;
    let mode = mode & 0o1777 & !ctx.task.umask;
    ctx.sys.vfs.mkdir(&base, &path, mode, &ctx.cred())?;
    Ok(0)
}

/// `mkdir(path, mode)`.
pub(crate) fn sys_mkdir(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_mkdir(ctx, AT_FDCWD, a[0], arg_uint(a[1]))
}

/// `mkdirat(dirfd, path, mode)`.
pub(crate) fn sys_mkdirat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_mkdir(ctx, arg_int(a[0]), a[1], arg_uint(a[2]))
}

fn do_unlink(ctx: &mut Ctx<'_>, dirfd: i32, path_addr: u64, dir: bool) -> SysResult {
    let path = path_arg(ctx, path_addr, false)?;
    let base = base_dir(ctx, dirfd, &path)?;
    let cred = ctx.cred();
    if dir {
        ctx.sys.vfs.rmdir(&base, &path, &cred)?;
    } else {
        ctx.sys.vfs.unlink(&base, &path, &cred)?;
    }
    Ok(0)
}

/// `unlink(path)`.
pub(crate) fn sys_unlink(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_unlink(ctx, AT_FDCWD, a[0], false)
}

/// `rmdir(path)`.
pub(crate) fn sys_rmdir(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_unlink(ctx, AT_FDCWD, a[0], true)
}

/// `unlinkat(dirfd, path, flags)` (`AT_REMOVEDIR` for directories).
pub(crate) fn sys_unlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = arg_uint(a[2]);
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL.into());
    }
    do_unlink(ctx, arg_int(a[0]), a[1], flags & AT_REMOVEDIR != 0)
}

fn do_rename(ctx: &mut Ctx<'_>, odfd: i32, old: u64, ndfd: i32, new: u64, flags: u32) -> SysResult {
    let opath = path_arg(ctx, old, false)?;
    let npath = path_arg(ctx, new, false)?;
    let obase = base_dir(ctx, odfd, &opath)?;
    let nbase = base_dir(ctx, ndfd, &npath)?;
    ctx.sys
        .vfs
        .rename(&obase, &opath, &nbase, &npath, flags, &ctx.cred())?;
    Ok(0)
}

/// `rename(old, new)`.
pub(crate) fn sys_rename(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_rename(ctx, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// `renameat(olddirfd, old, newdirfd, new)`.
pub(crate) fn sys_renameat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_rename(ctx, arg_int(a[0]), a[1], arg_int(a[2]), a[3], 0)
}

/// `renameat2(olddirfd, old, newdirfd, new, flags)` (`RENAME_NOREPLACE`).
pub(crate) fn sys_renameat2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_rename(
        ctx,
        arg_int(a[0]),
        a[1],
        arg_int(a[2]),
        a[3],
        arg_uint(a[4]),
    )
}

fn do_link(ctx: &mut Ctx<'_>, odfd: i32, old: u64, ndfd: i32, new: u64, flags: u32) -> SysResult {
    if flags & !AT_SYMLINK_FOLLOW != 0 {
        return Err(Errno::EINVAL.into());
    }
    let opath = path_arg(ctx, old, false)?;
    let npath = path_arg(ctx, new, false)?;
    let obase = base_dir(ctx, odfd, &opath)?;
    let nbase = base_dir(ctx, ndfd, &npath)?;
    let follow = flags & AT_SYMLINK_FOLLOW != 0;
    ctx.sys
        .vfs
        .link(&obase, &opath, &nbase, &npath, follow, &ctx.cred())?;
    Ok(0)
}

/// `link(old, new)`.
pub(crate) fn sys_link(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_link(ctx, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// `linkat(olddirfd, old, newdirfd, new, flags)`.
pub(crate) fn sys_linkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_link(
        ctx,
        arg_int(a[0]),
        a[1],
        arg_int(a[2]),
        a[3],
        arg_uint(a[4]),
    )
}

fn do_symlink(ctx: &mut Ctx<'_>, target: u64, dirfd: i32, new: u64) -> SysResult {
    let target = path_arg(ctx, target, false)?;
    let npath = path_arg(ctx, new, false)?;
    let base = base_dir(ctx, dirfd, &npath)?;
    ctx.sys.vfs.symlink(&target, &base, &npath, &ctx.cred())?;
    Ok(0)
}

/// `symlink(target, linkpath)`.
pub(crate) fn sys_symlink(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_symlink(ctx, a[0], AT_FDCWD, a[1])
}

/// `symlinkat(target, newdirfd, linkpath)`.
pub(crate) fn sys_symlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_symlink(ctx, a[0], arg_int(a[1]), a[2])
}

/// Whether `who`, a directory name in `/proc`, is the caller's own:
/// `self`, `thread-self` or its pid.
pub(super) fn own_proc_dir(ctx: &Ctx<'_>, who: &[u8]) -> bool {
    who == b"self" || who == b"thread-self" || who == ctx.process.pid().to_string().as_bytes()
}

/// What follows `/proc/<own>/` in `abs` (see [`own_proc_dir`]).
pub(super) fn own_proc_rest<'p>(ctx: &Ctx<'_>, abs: &'p [u8]) -> Option<&'p [u8]> {
    let rest = abs.strip_prefix(b"/proc/")?;
    let i = rest.iter().position(|&b| b == b'/')?;
    own_proc_dir(ctx, rest.get(..i)?).then_some(rest.get(i + 1..)?)
}

/// The magic links of `/proc/self` (and `/proc/<own pid>`): `exe` from the
/// machine layer, `cwd`, and `fd/N`.
pub(super) fn proc_link(ctx: &Ctx<'_>, abs: &[u8]) -> Option<Result<Vec<u8>, Errno>> {
    let rest = own_proc_rest(ctx, abs)?;
    if rest == b"exe" {
        return Some(ctx.process.exe().ok_or(Errno::ENOENT));
    }
    if rest == b"cwd" {
        return Some(Ok(ctx.task.cwd.clone()));
    }
    let n = rest.strip_prefix(b"fd/")?;
    let n: i32 = std::str::from_utf8(n).ok()?.parse().ok()?;
    let f = match ctx.task.fds.file(n) {
        Ok(f) => f,
        Err(_) => return Some(Err(Errno::ENOENT)),
    };
    let g = f.lock();
    Some(Ok(match &g.object {
        FileObject::Vfs(vf) => vf.path.clone(),
        FileObject::Proc(p) => p.path.clone(),
        FileObject::PipeRead(e) | FileObject::PipeWrite(e) => {
            format!("pipe:[{}]", e.id()).into_bytes()
        }
        FileObject::Console(_) if ctx.sys.console.tty().is_some() => b"/dev/pts/0".to_vec(),
        FileObject::Console(s) => format!("pipe:[{}]", *s as u8).into_bytes(),
    }))
}

/// Lexically absolute form of `path` against `base` (for recognizing the
/// `/proc` magic links only; real lookups resolve component by component).
pub(super) fn lexical_abs(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let joined: Vec<u8> = if path.first() == Some(&b'/') {
        path.to_vec()
    } else {
        let mut j = base.to_vec();
        j.push(b'/');
        j.extend_from_slice(path);
        j
    };
    for c in joined.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

fn do_readlink(ctx: &mut Ctx<'_>, dirfd: i32, path_addr: u64, buf: u64, size: u64) -> SysResult {
    let size = arg_int(size);
    let path = path_arg(ctx, path_addr, false)?;
    if size <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let base = base_dir(ctx, dirfd, &path)?;
    let target = match proc_link(ctx, &lexical_abs(&base, &path)) {
        Some(r) => r?,
        None => match ctx.sys.vfs.readlink(&base, &path, &ctx.cred()) {
            // Perhaps a magic link reached through symlinks (/dev/fd/1).
            Err(Errno::ENOENT) => {
                super::procfd::readlink(ctx, &base, &path).unwrap_or(Err(Errno::ENOENT))?
            }
            r => r?,
        },
    };
    let n = target.len().min(size as usize);
    ctx.mem.write(buf, target.get(..n).unwrap_or_default())?;
    Ok(n as i64)
}

/// `readlink(path, buf, bufsiz)`: the target, truncated, without NUL.
pub(crate) fn sys_readlink(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_readlink(ctx, AT_FDCWD, a[0], a[1], a[2])
}

/// `readlinkat(dirfd, path, buf, bufsiz)`.
pub(crate) fn sys_readlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_readlink(ctx, arg_int(a[0]), a[1], a[2], a[3])
}

/// `getcwd(buf, size)`: the path with its NUL; returns its length
/// including the NUL (the system call's convention), `ERANGE` if `size`
/// is too small.
pub(crate) fn sys_getcwd(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let mut cwd = ctx.task.cwd.clone();
    cwd.push(0);
    if (cwd.len() as u64) > ctx.abi.ulong(a[1]) {
        return Err(Errno::ERANGE.into());
    }
    ctx.mem.write(a[0], &cwd)?;
    Ok(cwd.len() as i64)
}

/// `chdir(path)`.
pub(crate) fn sys_chdir(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let path = path_arg(ctx, a[0], false)?;
    let base = base_dir(ctx, AT_FDCWD, &path)?;
    let new = ctx.sys.vfs.chdir_target(&base, &path, &ctx.cred())?;
    ctx.task.cwd = new;
    Ok(0)
}

/// `fchdir(fd)`.
pub(crate) fn sys_fchdir(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let f = file(ctx, a[0])?;
    let g = f.lock();
    let FileObject::Vfs(vf) = &g.object else {
        return Err(Errno::ENOTDIR.into());
    };
    let attr = ctx.sys.vfs.getattr(&vf.node)?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    permission(&attr, &ctx.cred(), MAY_EXEC)?;
    let p = vf.path.clone();
    drop(g);
    ctx.task.cwd = p;
    Ok(0)
}

fn do_truncate(ctx: &mut Ctx<'_>, path_addr: u64, len: i64) -> SysResult {
    let path = path_arg(ctx, path_addr, false)?;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let base = base_dir(ctx, AT_FDCWD, &path)?;
    ctx.sys
        .vfs
        .truncate(&base, &path, len as u64, &ctx.cred())?;
    Ok(0)
}

fn do_ftruncate(ctx: &mut Ctx<'_>, fdv: u64, len: i64) -> SysResult {
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let f = ctx.task.fds.file(fd(fdv))?;
    let g = f.lock();
    let FileObject::Vfs(vf) = &g.object else {
        return Err(Errno::EINVAL.into());
    };
    if !g.writable() || !matches!(vf.handle, Handle::Mem(_) | Handle::Host(_)) {
        return Err(Errno::EINVAL.into());
    }
    ctx.sys.vfs.ftruncate(vf, len as u64)?;
    Ok(0)
}

/// `truncate(path, length)`.
pub(crate) fn sys_truncate(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_truncate(ctx, a[0], ctx.abi.long(a[1]))
}

/// `ftruncate(fd, length)`.
pub(crate) fn sys_ftruncate(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_ftruncate(ctx, a[0], ctx.abi.long(a[1]))
}

/// i386 `truncate64(path, length_lo, length_hi)`.
pub(crate) fn sys_truncate64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_truncate(ctx, a[0], ((a[2] << 32) | (a[1] & 0xffff_ffff)) as i64)
}

/// i386 `ftruncate64(fd, length_lo, length_hi)`.
pub(crate) fn sys_ftruncate64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_ftruncate(ctx, a[0], ((a[2] << 32) | (a[1] & 0xffff_ffff)) as i64)
}

/// `fallocate(fd, mode, offset, len)` (i386: each 64-bit value in two
/// registers), after `vfs_fallocate` and tmpfs: mode 0 makes the file
/// cover `offset + len` (zeros; there are no unwritten extents to
/// reserve), `FALLOC_FL_KEEP_SIZE` leaves it as it is (nothing to
/// reserve), `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` zeroes the range
/// inside the file; the other modes are EOPNOTSUPP, as on a filesystem
/// without them (glibc's `posix_fallocate` then writes the range itself).
pub(crate) fn sys_fallocate(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const KEEP_SIZE: i32 = 0x01;
    const PUNCH_HOLE: i32 = 0x02;
    const SUPPORTED: i32 = 0x01 | 0x02 | 0x08 | 0x10 | 0x20 | 0x40;
    let mode = arg_int(a[1]);
    let (off, len) = match ctx.abi {
        crate::abi::Abi::X86_64 => (a[2] as i64, a[3] as i64),
        crate::abi::Abi::I386 => (
            ((a[3] << 32) | (a[2] & 0xffff_ffff)) as i64,
            ((a[5] << 32) | (a[4] & 0xffff_ffff)) as i64,
        ),
    };
    let f = ctx.task.fds.file(fd(a[0]))?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL.into());
    }
    if mode & !SUPPORTED != 0 || (mode & PUNCH_HOLE != 0 && mode & KEEP_SIZE == 0) {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let attr = fstat_file(ctx, &f)?;
    let g = f.lock();
    if !g.writable() {
        return Err(Errno::EBADF.into());
    }
    match attr.mode & S_IFMT {
        S_IFIFO => return Err(Errno::ESPIPE.into()),
        S_IFDIR => return Err(Errno::EISDIR.into()),
        S_IFREG => {}
        _ => return Err(Errno::ENODEV.into()),
    }
    let FileObject::Vfs(vf) = &g.object else {
        return Err(Errno::ENODEV.into());
    };
    let end = off.checked_add(len).ok_or(Errno::EFBIG)? as u64;
    match mode {
        0 => {
            if end > attr.size {
                ctx.sys.vfs.ftruncate(vf, end)?;
            }
        }
        KEEP_SIZE => {}
        m if m == PUNCH_HOLE | KEEP_SIZE => {
            let stop = end.min(attr.size);
            let mut at = off as u64;
            let zeros = vec![0u8; 0x1_0000];
            while at < stop {
                let n = (stop - at).min(zeros.len() as u64) as usize;
                let w = ctx
                    .sys
                    .vfs
                    .write(vf, at, zeros.get(..n).unwrap_or_default())?;
                if w == 0 {
                    break;
                }
                at += w as u64;
            }
        }
        _ => return Err(Errno::EOPNOTSUPP.into()),
    }
    Ok(0)
}

/// `umask(mask)`: sets the mask (`& 0777`), returns the old one.
pub(crate) fn sys_umask(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let old = ctx.task.umask;
    ctx.task.umask = arg_uint(a[0]) & 0o777;
    Ok(i64::from(old))
}
