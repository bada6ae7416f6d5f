//! File metadata and filesystem calls: `chmod`/`fchmod`/`fchmodat`,
//! `chown`/`fchown`/`lchown`/`fchownat` (and the i386 16-bit and `*32`
//! forms), `utimensat`/`utimes`/`utime`/`futimesat`, `mknod`/`mknodat`,
//! `statfs`/`fstatfs`/`statfs64`/`fstatfs64`, `sync`/`syncfs`/`fsync`/
//! `fdatasync`.
//!
//! Permission rules follow fs/attr.c `setattr_prepare` and fs/open.c:
//! only the owner (or root, the model's `CAP_FOWNER`/`CAP_CHOWN`) changes
//! mode or explicit times; setting both times to now also needs only write
//! permission; a non-root owner may change the group to one of its
//! groups; `chown` of a non-directory clears set-user-ID (and set-group-ID
//! when group-executable). Pipes and the console accept the changes
//! without keeping them. The in-memory filesystem keeps nothing to flush:
//! the sync calls succeed after validating the descriptor.

use super::util::{base_dir, fd, path_arg};
use crate::abi::{Abi, arg_int, arg_uint};
use crate::errno::Errno;
use crate::fd::FileObject;
use crate::personality::{Ctx, SysResult};
use crate::time::Timespec;
use crate::uaccess::{read_u32, read_u64};
use crate::uapi::*;
use crate::vfs::meta::{SetAttr, StatFs};
use crate::vfs::stat::Attr;
use crate::vfs::{Handle, MAY_WRITE, Node, permission};

/// `UTIME_NOW`.
const UTIME_NOW: i64 = (1 << 30) - 1;
/// `UTIME_OMIT`.
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// What a metadata call acts on.
enum Target {
    Node(Node),
    /// A pipe or console: accepted, not kept.
    Anon,
}

fn path_target(
    ctx: &mut Ctx<'_>,
    dirfd: i32,
    addr: u64,
    follow: bool,
    empty: bool,
) -> Result<Target, Errno> {
    let path = path_arg(ctx, addr, empty)?;
    let path = if path.is_empty() {
        if dirfd != AT_FDCWD {
            return fd_target(ctx, dirfd, true);
        }
        // AT_EMPTY_PATH with AT_FDCWD: the working directory.
        b".".to_vec()
    } else {
        path
    };
    let base = base_dir(ctx, dirfd, &path)?;
    let cred = ctx.cred();
    let w = ctx.sys.vfs.walk(&base, &path, follow, &cred)?;
    Ok(Target::Node(w.existing()?.clone()))
}

/// The node behind descriptor `n` (`allow_path`: `O_PATH` descriptors too,
/// as `AT_EMPTY_PATH` lookups take them; plain `f*` calls give `EBADF`).
fn fd_target(ctx: &Ctx<'_>, n: i32, allow_path: bool) -> Result<Target, Errno> {
    let f = ctx.task.fds.file(n)?;
    let g = f.lock();
    match &g.object {
        FileObject::Vfs(vf) => {
            if matches!(vf.handle, Handle::Path) && !allow_path {
                return Err(Errno::EBADF);
            }
            Ok(Target::Node(vf.node.clone()))
        }
        _ => Ok(Target::Anon),
    }
}

fn is_owner(ctx: &Ctx<'_>, a: &Attr) -> bool {
    let c = ctx.cred();
    c.uid == 0 || c.uid == a.uid
}

fn in_group(ctx: &Ctx<'_>, gid: u32) -> bool {
    ctx.gids()[3] == gid || ctx.task.ids.groups.contains(&gid)
}

fn do_chmod(ctx: &mut Ctx<'_>, t: Target, mode: u32) -> SysResult {
    let Target::Node(node) = t else {
        return Ok(0);
    };
    let a = ctx.sys.vfs.getattr(&node)?;
    if !is_owner(ctx, &a) {
        return Err(Errno::EPERM.into());
    }
    let mut mode = mode & 0o7777;
    // A non-root caller outside the file's group loses set-group-ID.
    if ctx.cred().uid != 0 && !in_group(ctx, a.gid) {
        mode &= !S_ISGID;
    }
    ctx.sys.vfs.setattr(
        &node,
        &SetAttr {
            mode: Some(mode),
            ..SetAttr::default()
        },
    )?;
    Ok(0)
}

/// `chmod(path, mode)`.
pub(crate) fn sys_chmod(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, AT_FDCWD, a[0], true, false)?;
    do_chmod(ctx, t, arg_uint(a[1]))
}

/// `fchmod(fd, mode)`.
pub(crate) fn sys_fchmod(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = fd_target(ctx, fd(a[0]), false)?;
    do_chmod(ctx, t, arg_uint(a[1]))
}

/// `fchmodat(dirfd, path, mode)` (the system call has no flags).
pub(crate) fn sys_fchmodat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, arg_int(a[0]), a[1], true, false)?;
    do_chmod(ctx, t, arg_uint(a[2]))
}

fn do_chown(ctx: &mut Ctx<'_>, t: Target, uid: u32, gid: u32) -> SysResult {
    let Target::Node(node) = t else {
        return Ok(0);
    };
    let a = ctx.sys.vfs.getattr(&node)?;
    let root = ctx.cred().uid == 0;
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    if !root {
        let me = ctx.cred().uid;
        if let Some(u) = uid
            && (me != a.uid || u != a.uid)
        {
            return Err(Errno::EPERM.into());
        }
        if let Some(g) = gid
            && (me != a.uid || (g != a.gid && !in_group(ctx, g)))
        {
            return Err(Errno::EPERM.into());
        }
    }
    let mut mode = None;
    if !a.is_dir() {
        let mut m = a.mode & 0o7777 & !S_ISUID;
        if m & (S_ISGID | 0o010) == (S_ISGID | 0o010) {
            m &= !S_ISGID;
        }
        if m != a.mode & 0o7777 {
            mode = Some(m);
        }
    }
    ctx.sys.vfs.setattr(
        &node,
        &SetAttr {
            mode,
            uid,
            gid,
            ..SetAttr::default()
        },
    )?;
    Ok(0)
}

/// A 16-bit id argument: `(u16)-1` is "unchanged".
fn id16(v: u64) -> u32 {
    let v = v as u16;
    if v == 0xffff { u32::MAX } else { u32::from(v) }
}

/// `chown(path, uid, gid)` (32-bit ids; i386 `chown32`).
pub(crate) fn sys_chown(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, AT_FDCWD, a[0], true, false)?;
    do_chown(ctx, t, arg_uint(a[1]), arg_uint(a[2]))
}

/// `lchown(path, uid, gid)` (32-bit ids; i386 `lchown32`).
pub(crate) fn sys_lchown(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, AT_FDCWD, a[0], false, false)?;
    do_chown(ctx, t, arg_uint(a[1]), arg_uint(a[2]))
}

/// `fchown(fd, uid, gid)` (32-bit ids; i386 `fchown32`).
pub(crate) fn sys_fchown(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = fd_target(ctx, fd(a[0]), false)?;
    do_chown(ctx, t, arg_uint(a[1]), arg_uint(a[2]))
}

/// i386 `chown` (16-bit ids).
pub(crate) fn sys_chown16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, AT_FDCWD, a[0], true, false)?;
    do_chown(ctx, t, id16(a[1]), id16(a[2]))
}

/// i386 `lchown` (16-bit ids).
pub(crate) fn sys_lchown16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, AT_FDCWD, a[0], false, false)?;
    do_chown(ctx, t, id16(a[1]), id16(a[2]))
}

/// i386 `fchown` (16-bit ids).
pub(crate) fn sys_fchown16(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = fd_target(ctx, fd(a[0]), false)?;
    do_chown(ctx, t, id16(a[1]), id16(a[2]))
}

/// `fchownat(dirfd, path, uid, gid, flags)`.
pub(crate) fn sys_fchownat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = arg_uint(a[4]);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let t = path_target(
        ctx,
        arg_int(a[0]),
        a[1],
        flags & AT_SYMLINK_NOFOLLOW == 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    do_chown(ctx, t, arg_uint(a[2]), arg_uint(a[3]))
}

/// A requested time: now, omitted, or given.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Req {
    Now,
    Omit,
    At(Timespec),
}

/// `vfs_utimes`: applies `times` (`None`: both now) to the target.
fn do_utimes(ctx: &mut Ctx<'_>, t: Target, times: Option<[Req; 2]>) -> SysResult {
    let times = times.unwrap_or([Req::Now, Req::Now]);
    if times == [Req::Omit, Req::Omit] {
        return Ok(0);
    }
    let Target::Node(node) = t else {
        return Ok(0);
    };
    let a = ctx.sys.vfs.getattr(&node)?;
    let explicit = times.iter().any(|r| matches!(r, Req::At(_)));
    if !is_owner(ctx, &a) {
        if explicit {
            return Err(Errno::EPERM.into());
        }
        permission(&a, &ctx.cred(), MAY_WRITE)?;
    }
    let now = ctx.sys.vfs.now();
    let pick = |r: Req| match r {
        Req::Now => Some(now),
        Req::Omit => None,
        Req::At(t) => Some(t),
    };
    ctx.sys.vfs.setattr(
        &node,
        &SetAttr {
            atime: pick(times[0]),
            mtime: pick(times[1]),
            ..SetAttr::default()
        },
    )?;
    Ok(0)
}

/// Reads `n` (sec, sub-second) pairs of `wide` or ABI-long fields.
fn read_pairs(ctx: &mut Ctx<'_>, addr: u64, wide: bool) -> Result<[(i64, i64); 2], Errno> {
    let w: u64 = if wide || ctx.abi == Abi::X86_64 { 8 } else { 4 };
    let mut v = [0i64; 4];
    for (k, slot) in v.iter_mut().enumerate() {
        let p = addr.wrapping_add(k as u64 * w);
        *slot = if w == 8 {
            read_u64(ctx.mem, p)? as i64
        } else {
            i64::from(read_u32(ctx.mem, p)? as i32)
        };
    }
    Ok([(v[0], v[1]), (v[2], v[3])])
}

fn utimensat(ctx: &mut Ctx<'_>, a: &[u64; 6], wide: bool) -> SysResult {
    let dirfd = arg_int(a[0]);
    let flags = arg_uint(a[3]);
    let times = if a[2] == 0 {
        None
    } else {
        let p = read_pairs(ctx, a[2], wide)?;
        let mut r = [Req::Omit; 2];
        for (slot, (sec, nsec)) in r.iter_mut().zip(p) {
            *slot = match nsec {
                UTIME_NOW => Req::Now,
                UTIME_OMIT => Req::Omit,
                n if (0..1_000_000_000).contains(&n) => Req::At(Timespec {
                    sec,
                    nsec: n as u32,
                }),
                _ => return Err(Errno::EINVAL.into()),
            };
        }
        Some(r)
    };
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if times == Some([Req::Omit, Req::Omit]) {
        return Ok(0);
    }
    let t = if a[1] == 0 && dirfd != AT_FDCWD {
        if flags & AT_SYMLINK_NOFOLLOW != 0 {
            return Err(Errno::EINVAL.into());
        }
        // do_utimes_fd: fdget, so O_PATH descriptors are EBADF.
        fd_target(ctx, dirfd, false)?
    } else {
        path_target(
            ctx,
            dirfd,
            a[1],
            flags & AT_SYMLINK_NOFOLLOW == 0,
            flags & AT_EMPTY_PATH != 0,
        )?
    };
    do_utimes(ctx, t, times)
}

/// `utimensat(dirfd, path, times, flags)` (ABI-width `timespec`s).
pub(crate) fn sys_utimensat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    utimensat(ctx, a, false)
}

/// i386 `utimensat_time64` (64-bit `timespec`s).
pub(crate) fn sys_utimensat64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    utimensat(ctx, a, true)
}

/// `futimesat`/`utimes`: `timeval`s (`EINVAL` unless `0 <= usec < 1e6`).
fn do_futimesat(ctx: &mut Ctx<'_>, dirfd: i32, path: u64, tv: u64) -> SysResult {
    let times = if tv == 0 {
        None
    } else {
        let p = read_pairs(ctx, tv, false)?;
        let mut r = [Req::Omit; 2];
        for (slot, (sec, usec)) in r.iter_mut().zip(p) {
            if !(0..1_000_000).contains(&usec) {
                return Err(Errno::EINVAL.into());
            }
            *slot = Req::At(Timespec {
                sec,
                nsec: (usec * 1000) as u32,
            });
        }
        Some(r)
    };
    let t = if path == 0 && dirfd != AT_FDCWD {
        fd_target(ctx, dirfd, true)?
    } else {
        path_target(ctx, dirfd, path, true, false)?
    };
    do_utimes(ctx, t, times)
}

/// `utimes(path, times)`.
pub(crate) fn sys_utimes(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_futimesat(ctx, AT_FDCWD, a[0], a[1])
}

/// `futimesat(dirfd, path, times)`.
pub(crate) fn sys_futimesat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_futimesat(ctx, arg_int(a[0]), a[1], a[2])
}

/// `utime(path, times)`: `struct utimbuf` of two ABI `long`s (seconds).
pub(crate) fn sys_utime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let times = if a[1] == 0 {
        None
    } else {
        let w: u64 = ctx.abi.ptr_size() as u64;
        let rd = |ctx: &mut Ctx<'_>, p: u64| -> Result<i64, Errno> {
            Ok(if w == 8 {
                read_u64(ctx.mem, p)? as i64
            } else {
                i64::from(read_u32(ctx.mem, p)? as i32)
            })
        };
        let at = rd(ctx, a[1])?;
        let mt = rd(ctx, a[1].wrapping_add(w))?;
        Some([
            Req::At(Timespec { sec: at, nsec: 0 }),
            Req::At(Timespec { sec: mt, nsec: 0 }),
        ])
    };
    let t = path_target(ctx, AT_FDCWD, a[0], true, false)?;
    do_utimes(ctx, t, times)
}

fn do_mknod(ctx: &mut Ctx<'_>, dirfd: i32, addr: u64, mode: u32, dev: u64) -> SysResult {
    let path = path_arg(ctx, addr, false)?;
    let base = base_dir(ctx, dirfd, &path)?;
    let mode = (mode & S_IFMT) | (mode & 0o7777 & !ctx.task.umask);
    let cred = ctx.cred();
    // new_decode_dev of a 32-bit dev_t.
    let dev = dev as u32;
    let (major, minor) = ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    let rdev = crate::vfs::stat::makedev(major, minor);
    ctx.sys.vfs.mknod_at(&base, &path, mode, rdev, &cred)?;
    Ok(0)
}

/// `mknod(path, mode, dev)`.
pub(crate) fn sys_mknod(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_mknod(ctx, AT_FDCWD, a[0], arg_uint(a[1]), a[2])
}

/// `mknodat(dirfd, path, mode, dev)`.
pub(crate) fn sys_mknodat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    do_mknod(ctx, arg_int(a[0]), a[1], arg_uint(a[2]), a[3])
}

/// `PIPEFS_MAGIC`, the filesystem of pipes (and, here, the console).
const PIPEFS_MAGIC: u64 = 0x5049_5045;

fn statfs_of(ctx: &Ctx<'_>, t: &Target) -> Result<StatFs, Errno> {
    match t {
        Target::Node(n) => ctx.sys.vfs.statfs(n),
        Target::Anon => Ok(StatFs {
            ftype: PIPEFS_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            flags: 0x20,
            ..StatFs::default()
        }),
    }
}

/// Encodes `struct statfs` (x86_64: all 64-bit; i386: 32-bit words, with
/// `EOVERFLOW` for counts beyond 32 bits) or i386 `struct statfs64`
/// (`wide`: 32-bit type/bsize/namelen/frsize/flags, 64-bit counts; 84
/// bytes, packed to 4).
fn encode_statfs(abi: Abi, s: &StatFs, wide: bool) -> Result<Vec<u8>, Errno> {
    let mut b = Vec::with_capacity(120);
    let fsid = [s.fsid[0].to_le_bytes(), s.fsid[1].to_le_bytes()].concat();
    if abi == Abi::X86_64 {
        for v in [
            s.ftype, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&fsid);
        for v in [s.namelen, s.frsize, s.flags, 0, 0, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        return Ok(b);
    }
    let w32 = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&(v as u32).to_le_bytes());
    w32(&mut b, s.ftype);
    w32(&mut b, s.bsize);
    if wide {
        for v in [s.blocks, s.bfree, s.bavail, s.files, s.ffree] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    } else {
        // put_compat_statfs: EOVERFLOW when a count needs more than 32 bits
        // (the file counts may be ~0 for "unlimited").
        for v in [s.blocks, s.bfree, s.bavail] {
            if v > u64::from(u32::MAX) {
                return Err(Errno::EOVERFLOW);
            }
        }
        for v in [s.files, s.ffree] {
            if v > u64::from(u32::MAX) && v != u64::MAX {
                return Err(Errno::EOVERFLOW);
            }
        }
        for v in [s.blocks, s.bfree, s.bavail, s.files, s.ffree] {
            w32(&mut b, v);
        }
    }
    b.extend_from_slice(&fsid);
    for v in [s.namelen, s.frsize, s.flags, 0, 0, 0, 0] {
        w32(&mut b, v);
    }
    Ok(b)
}

fn put_statfs(ctx: &mut Ctx<'_>, t: &Target, buf: u64, wide: bool) -> SysResult {
    let s = statfs_of(ctx, t)?;
    let b = encode_statfs(ctx.abi, &s, wide)?;
    ctx.mem.write(buf, &b)?;
    Ok(0)
}

/// `statfs(path, buf)`.
pub(crate) fn sys_statfs(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = path_target(ctx, AT_FDCWD, a[0], true, false)?;
    put_statfs(ctx, &t, a[1], false)
}

/// `fstatfs(fd, buf)` (`O_PATH` descriptors allowed, as Linux's `fdget_raw`).
pub(crate) fn sys_fstatfs(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let t = fd_target(ctx, fd(a[0]), true)?;
    put_statfs(ctx, &t, a[1], false)
}

/// The size `statfs64` takes: `sizeof(struct statfs64)`, 84 on i386 (88
/// accepted too, as the compat call does for the unpacked layout).
fn check_statfs64_size(sz: u64) -> Result<(), Errno> {
    if sz == 84 || sz == 88 {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// i386 `statfs64(path, size, buf)`.
pub(crate) fn sys_statfs64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_statfs64_size(u64::from(arg_uint(a[1])))?;
    let t = path_target(ctx, AT_FDCWD, a[0], true, false)?;
    put_statfs(ctx, &t, a[2], true)
}

/// i386 `fstatfs64(fd, size, buf)`.
pub(crate) fn sys_fstatfs64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_statfs64_size(u64::from(arg_uint(a[1])))?;
    let t = fd_target(ctx, fd(a[0]), true)?;
    put_statfs(ctx, &t, a[2], true)
}

/// `sync()`.
pub(crate) fn sys_sync(_ctx: &mut Ctx<'_>, _a: &[u64; 6]) -> SysResult {
    Ok(0)
}

/// `syncfs(fd)`: `EBADF` for a bad or `O_PATH` descriptor.
pub(crate) fn sys_syncfs(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    fd_target(ctx, fd(a[0]), false)?;
    Ok(0)
}

/// `fsync(fd)`/`fdatasync(fd)`: `EBADF` for a bad or `O_PATH`
/// descriptor, `EINVAL` for pipes, the console and character devices
/// (no `fsync` method).
pub(crate) fn sys_fsync(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    fd_target(ctx, fd(a[0]), false)?;
    let f = ctx.task.fds.file(fd(a[0]))?;
    let g = f.lock();
    match &g.object {
        FileObject::Vfs(vf) if !matches!(vf.handle, Handle::Device(_)) => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}
