//! Metadata changes and filesystem statistics: `setattr` (mode, owner,
//! timestamps: what `chmod`, `chown`, `utimensat` reach through
//! `notify_change`), `mknod` of FIFOs, sockets, regular files and devices,
//! and `statfs`.
//!
//! In-memory filesystems answer `statfs` as tmpfs does (`TMPFS_MAGIC`,
//! 4096-byte blocks, sizes and inode counts from [`MemFsLimits`]); host
//! mounts give the host's `statfs` of their root.
//!
//! [`MemFsLimits`]: super::memfs::MemFsLimits

use super::{Cred, FsImpl, MAY_EXEC, MAY_WRITE, Node, NodeId, Vfs, permission};
use crate::errno::Errno;
use crate::time::Timespec;
use crate::uapi::*;

/// What a `setattr` changes (`None`: unchanged). Permission checks are
/// the callers' (they differ per call); the change time is always set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (`S_IALLUGO`).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New access time.
    pub atime: Option<Timespec>,
    /// New modification time.
    pub mtime: Option<Timespec>,
}

/// `TMPFS_MAGIC`.
pub const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The fields of `struct statfs` the model fills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    /// `f_type`.
    pub ftype: u64,
    /// `f_bsize`.
    pub bsize: u64,
    /// `f_blocks`.
    pub blocks: u64,
    /// `f_bfree`.
    pub bfree: u64,
    /// `f_bavail`.
    pub bavail: u64,
    /// `f_files`.
    pub files: u64,
    /// `f_ffree`.
    pub ffree: u64,
    /// `f_fsid` (two 32-bit words).
    pub fsid: [u32; 2],
    /// `f_namelen`.
    pub namelen: u64,
    /// `f_frsize`.
    pub frsize: u64,
    /// `f_flags` (`ST_*`, with `ST_VALID` 0x20).
    pub flags: u64,
}

/// `ST_VALID`.
const ST_VALID: u64 = 0x20;
/// `ST_RDONLY`.
const ST_RDONLY: u64 = 1;

impl Vfs {
    /// Applies `m` to `node` (`EROFS` on a read-only mount).
    pub fn setattr(&mut self, node: &Node, m: &SetAttr) -> Result<(), Errno> {
        self.check_writable(node.mount)?;
        let now = self.now();
        match (&self.mount(node.mount)?.fs, &node.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => {
                let r = fs.inode(*ino)?;
                super::memfs::lock(&r).set_meta(m, now);
                Ok(())
            }
            (FsImpl::Host(fs), NodeId::Host(rel)) => host_setattr(&fs.host_path(rel)?, m),
            _ => Err(Errno::ENOENT),
        }
    }

    /// `mknod`: creates a FIFO, socket, regular file or (root only, on an
    /// in-memory filesystem) device node `path` with `mode` (umask already
    /// applied) owned by `cred`.
    pub fn mknod_at(
        &mut self,
        base: &[u8],
        path: &[u8],
        mode: u32,
        rdev: u64,
        cred: &Cred,
    ) -> Result<(), Errno> {
        let ftype = mode & S_IFMT;
        let ftype = if ftype == 0 { S_IFREG } else { ftype };
        match ftype {
            S_IFREG | S_IFIFO | S_IFSOCK => {}
            S_IFCHR | S_IFBLK => {
                if cred.uid != 0 {
                    return Err(Errno::EPERM);
                }
            }
            S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        let w = self.walk(base, path, false, cred)?;
        if w.node.is_some() || w.dot.is_some() {
            return Err(Errno::EEXIST);
        }
        let dir = w.dir()?.clone();
        let da = self.getattr(&dir)?;
        permission(&da, cred, MAY_WRITE | MAY_EXEC)?;
        self.check_writable(dir.mount)?;
        let now = self.now();
        let perm = mode & 0o7777;
        match (
            &mut self.mounts.get_mut(dir.mount).ok_or(Errno::ENOENT)?.fs,
            &dir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => {
                if ftype == S_IFREG {
                    fs.create(*ino, &w.name, perm, (cred.uid, cred.gid), now)
                        .map(|_| ())
                } else {
                    let rdev = if ftype == S_IFCHR || ftype == S_IFBLK {
                        rdev
                    } else {
                        0
                    };
                    fs.mknod(*ino, &w.name, ftype | perm, rdev, (cred.uid, cred.gid), now)
                        .map(|_| ())
                }
            }
            (FsImpl::Host(fs), NodeId::Host(rel)) => {
                if ftype != S_IFREG {
                    // The model does not create special files on the host.
                    return Err(Errno::EPERM);
                }
                fs.create(rel, &w.name, perm, false).map(|_| ())
            }
            _ => Err(Errno::ENOENT),
        }
    }

    /// `statfs` of the filesystem holding `node`.
    pub fn statfs(&self, node: &Node) -> Result<StatFs, Errno> {
        let m = self.mount(node.mount)?;
        let ro = if m.readonly { ST_RDONLY } else { 0 };
        match &m.fs {
            FsImpl::Mem(fs) => {
                let l = self.limits;
                let blocks = l.max_bytes / 4096;
                let used = fs.bytes_used().div_ceil(4096).min(blocks);
                let files = l.max_inodes as u64;
                let ffree = files.saturating_sub(fs.inode_count() as u64);
                Ok(StatFs {
                    ftype: TMPFS_MAGIC,
                    bsize: 4096,
                    blocks,
                    bfree: blocks - used,
                    bavail: blocks - used,
                    files,
                    ffree,
                    fsid: [0, 0],
                    namelen: 255,
                    frsize: 4096,
                    flags: ST_VALID | ro,
                })
            }
            FsImpl::Host(fs) => host_statfs(fs.root()).map(|mut s| {
                s.flags |= ro;
                s
            }),
        }
    }
}

#[cfg(unix)]
fn host_setattr(p: &std::path::Path, m: &SetAttr) -> Result<(), Errno> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let host = |r: i32| {
        if r == 0 { Ok(()) } else { Err(Errno::EPERM) }
    };
    if let Some(mode) = m.mode {
        // SAFETY: `c` is a valid NUL-terminated path.
        host(unsafe { libc::chmod(c.as_ptr(), mode as libc::mode_t) })?;
    }
    if m.uid.is_some() || m.gid.is_some() {
        let u = m.uid.unwrap_or(u32::MAX);
        let g = m.gid.unwrap_or(u32::MAX);
        // SAFETY: as above.
        host(unsafe { libc::lchown(c.as_ptr(), u, g) })?;
    }
    if m.atime.is_some() || m.mtime.is_some() {
        let ts = |t: Option<Timespec>| match t {
            Some(t) => libc::timespec {
                tv_sec: t.sec as libc::time_t,
                tv_nsec: libc::c_long::from(t.nsec as i32),
            },
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
        };
        let times = [ts(m.atime), ts(m.mtime)];
        // SAFETY: as above; `times` holds two timespecs.
        host(unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                c.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn host_setattr(_p: &std::path::Path, _m: &SetAttr) -> Result<(), Errno> {
    Err(Errno::EPERM)
}

#[cfg(unix)]
fn host_statfs(p: &std::path::Path) -> Result<StatFs, Errno> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: statfs fills the zeroed structure; `c` is a valid path.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return Err(Errno::EIO);
    }
    // SAFETY: fsid_t is two ints.
    let fsid: [i32; 2] = unsafe { std::mem::transmute(s.f_fsid) };
    Ok(StatFs {
        ftype: s.f_type as u64,
        bsize: s.f_bsize as u64,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
        fsid: [fsid[0] as u32, fsid[1] as u32],
        namelen: s.f_namelen as u64,
        frsize: s.f_frsize as u64,
        // The libc binding lacks f_flags: only ST_VALID is reported.
        flags: ST_VALID,
    })
}

#[cfg(not(unix))]
fn host_statfs(_p: &std::path::Path) -> Result<StatFs, Errno> {
    Err(Errno::ENOSYS)
}
