//! The virtual filesystem: a mount table over in-memory filesystems (the
//! embedded default, [`memfs`]) and host directories ([`hostfs`]), with
//! Linux path resolution done here, component by component.
//!
//! # Path resolution
//! Paths are byte strings resolved relative to a base directory (the cwd or
//! a directory fd), following Linux's `path_lookupat`: every directory
//! crossed needs search (`x`) permission, `.` and `..` are handled on a
//! stack of the directories walked (so `..` after a symlink climbs from
//! where the symlink led, and `..` at the guest root stays there), mount
//! points are crossed by guest path, symlinks are followed up to
//! [`MAXSYMLINKS`](crate::uapi) times (`ELOOP` beyond), a
//! trailing `/` requires a directory, components longer than `NAME_MAX`
//! give `ENAMETOOLONG`.
//!
//! # Host mounts never reach outside their directory
//! The host is only touched through [`hostfs::HostFs`], with paths built from
//! the canonical mount root plus plain components checked one by one (see
//! its module docs). A symlink *stored in a host mount* is interpreted as if
//! the mount's root were `/` (like `openat2`'s `RESOLVE_IN_ROOT`): an
//! absolute target starts at the mount root, and a `..` in the target that
//! would climb above the mount root is refused with `EXDEV` (like
//! `RESOLVE_BENEATH`), so a host symlink can neither leave its mount nor
//! make the guest see something else than the host tree it was built for
//! (a sysroot mounted anywhere keeps working). A guest's own `..` at a mount
//! root moves to the mount point's parent in the guest namespace — never to
//! the host directory's parent, which has no name in the guest.
//!
//! # Time
//! The VFS has no clock: the dispatcher sets the modeled time with
//! [`Vfs::set_time`] before each system call, and mutating operations stamp
//! inodes with it.

pub mod dev;
pub mod hostfs;
pub mod memfs;
pub mod meta;
mod ops;
pub mod stat;
mod walk;

use std::path::Path;

use self::hostfs::{HostFs, HostRel};
use self::memfs::{MemFs, MemFsLimits, MemInodeRef};
use self::stat::{Attr, DirEntry, makedev};
use crate::errno::Errno;
use crate::time::{Clock, Timespec};
use crate::uapi::*;

pub use self::walk::{Dot, Walked};

/// Index of a mount in the mount table.
pub type MountId = usize;

/// Identity of a file within its filesystem.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NodeId {
    /// An in-memory inode number.
    Mem(u64),
    /// A path relative to a host mount's root.
    Host(HostRel),
}

/// A file in the guest namespace: a mount and a node within it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Node {
    /// The mount the node belongs to.
    pub mount: MountId,
    /// The node within that mount's filesystem.
    pub id: NodeId,
}

/// Credentials for permission checks (the filesystem uid/gid: `euid` and
/// `egid` for most calls, the real ids for `access`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Cred {
    /// User id (0 is root, who passes read/write checks and needs one `x`
    /// bit to execute, as `generic_permission` with `CAP_DAC_OVERRIDE`).
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Cred {
    /// The superuser.
    pub const ROOT: Cred = Cred { uid: 0, gid: 0 };
}

/// `MAY_READ`, `MAY_WRITE`, `MAY_EXEC` masks for [`permission`].
pub const MAY_READ: u32 = 4;
/// See [`MAY_READ`].
pub const MAY_WRITE: u32 = 2;
/// See [`MAY_READ`].
pub const MAY_EXEC: u32 = 1;

/// Linux's `generic_permission` on mode bits: `EACCES` unless `cred` may
/// access a file with attributes `a` for every bit of `mask`.
pub fn permission(a: &Attr, cred: &Cred, mask: u32) -> Result<(), Errno> {
    if cred.uid == 0 {
        // Root bypasses read/write checks; execute needs some x bit on
        // non-directories.
        if mask & MAY_EXEC == 0 || a.is_dir() || a.mode & 0o111 != 0 {
            return Ok(());
        }
        return Err(Errno::EACCES);
    }
    let bits = if cred.uid == a.uid {
        (a.mode >> 6) & 7
    } else if cred.gid == a.gid {
        (a.mode >> 3) & 7
    } else {
        a.mode & 7
    };
    if bits & mask == mask {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// Host-side errors setting up mounts.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The host directory cannot be used.
    #[error("host directory {path}: {source}")]
    Host {
        /// The host path given.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The guest mount point is not a valid absolute path or cannot be
    /// created.
    #[error("guest mount point {path}: {errno}")]
    Guest {
        /// The guest path given.
        path: String,
        /// Why it failed.
        errno: Errno,
    },
}

/// The filesystem of one mount.
#[derive(Debug)]
enum FsImpl {
    Mem(MemFs),
    Host(HostFs),
}

/// One entry of the mount table.
#[derive(Debug)]
struct Mount {
    /// Guest path of the mount point, as components (empty for `/`).
    path: Vec<Vec<u8>>,
    fs: FsImpl,
    readonly: bool,
    dev: u64,
}

impl Mount {
    fn root(&self) -> NodeId {
        match &self.fs {
            FsImpl::Mem(m) => NodeId::Mem(m.root()),
            FsImpl::Host(_) => NodeId::Host(Vec::new()),
        }
    }
}

/// How an open file reaches its data.
#[derive(Debug)]
pub enum Handle {
    /// An in-memory regular file.
    Mem(MemInodeRef),
    /// An open host regular file.
    Host(std::fs::File),
    /// A directory (entries are listed on demand).
    Dir,
    /// An `O_PATH` descriptor: no I/O.
    Path,
    /// A character device ([`dev`]).
    Device(dev::Device),
}

/// A file opened through the VFS.
#[derive(Debug)]
pub struct VfsFile {
    /// The node opened.
    pub node: Node,
    /// How to reach its data.
    pub handle: Handle,
    /// Canonical guest path at open time (for `/proc/self/fd`, `*at`
    /// calls relative to a directory fd, and diagnostics).
    pub path: Vec<u8>,
}

/// The virtual filesystem.
#[derive(Debug)]
pub struct Vfs {
    mounts: Vec<Mount>,
    now: Now,
    limits: MemFsLimits,
}

/// The modeled time for timestamps: as set, or computed when first needed
/// from a clock and a cycle count (most calls never need it, and the
/// conversion costs two divisions).
#[derive(Clone, Copy, Debug)]
enum Now {
    At(Timespec),
    Cycles(Clock, u64),
}

impl Default for Vfs {
    fn default() -> Vfs {
        Vfs::new(MemFsLimits::default())
    }
}

/// Splits a path into its non-empty components.
pub(crate) fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Joins components into an absolute path (`/` for none).
pub(crate) fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

impl Vfs {
    /// A VFS whose root is a fresh in-memory filesystem holding `/tmp`
    /// (mode `1777`) and `/dev` ([`dev`]); `limits` apply to every
    /// in-memory filesystem.
    pub fn new(limits: MemFsLimits) -> Vfs {
        let mut v = Vfs {
            mounts: Vec::new(),
            now: Now::At(Timespec::default()),
            limits,
        };
        v.mounts.push(Mount {
            path: Vec::new(),
            fs: FsImpl::Mem(MemFs::new(limits)),
            readonly: false,
            dev: makedev(0, 0x20),
        });
        // Cannot fail on a fresh filesystem; ignore the impossible error.
        let _ = v.mkdir_all(b"/tmp", 0o1777);
        let _ = v.populate_dev();
        v
    }

    /// Sets the modeled time used for timestamps from now on.
    pub fn set_time(&mut self, now: Timespec) {
        self.now = Now::At(now);
    }

    /// Sets the modeled time used for timestamps from now on to
    /// `clock.realtime(cycles)` (computed only when a timestamp is taken).
    #[inline]
    pub fn set_time_at(&mut self, clock: Clock, cycles: u64) {
        self.now = Now::Cycles(clock, cycles);
    }

    /// The modeled time last set.
    pub fn now(&self) -> Timespec {
        match self.now {
            Now::At(t) => t,
            Now::Cycles(clock, cycles) => clock.realtime(cycles),
        }
    }

    fn mount_point(&mut self, guest: &str) -> Result<Vec<Vec<u8>>, MountError> {
        let err = |errno| MountError::Guest {
            path: guest.to_string(),
            errno,
        };
        if !guest.starts_with('/') {
            return Err(err(Errno::EINVAL));
        }
        let mut parts = Vec::new();
        for c in components(guest.as_bytes()) {
            if c == b"." || c == b".." || c.len() > NAME_MAX {
                return Err(err(Errno::EINVAL));
            }
            parts.push(c.to_vec());
        }
        if !parts.is_empty() {
            // Make the mount point exist in the namespace when possible (a
            // mount point inside a read-only or host mount need not exist).
            let _ = self.mkdir_all(guest.as_bytes(), 0o755);
        }
        Ok(parts)
    }

    /// Mounts host directory `host` at guest path `guest` (absolute),
    /// read-write if `writable`. A mount at `/` replaces the root.
    pub fn mount_host(
        &mut self,
        guest: &str,
        host: &Path,
        writable: bool,
    ) -> Result<(), MountError> {
        let fs = HostFs::new(host, writable).map_err(|source| MountError::Host {
            path: host.display().to_string(),
            source,
        })?;
        let path = self.mount_point(guest)?;
        let dev = makedev(0, 0x20 + u32::try_from(self.mounts.len()).unwrap_or(0xff));
        self.mounts.push(Mount {
            path,
            fs: FsImpl::Host(fs),
            readonly: !writable,
            dev,
        });
        Ok(())
    }

    /// Mounts a fresh in-memory filesystem at guest path `guest`.
    pub fn mount_memfs(&mut self, guest: &str) -> Result<(), MountError> {
        let path = self.mount_point(guest)?;
        let dev = makedev(0, 0x20 + u32::try_from(self.mounts.len()).unwrap_or(0xff));
        self.mounts.push(Mount {
            path,
            fs: FsImpl::Mem(MemFs::new(self.limits)),
            readonly: false,
            dev,
        });
        Ok(())
    }

    /// The mounts, in the order they were made (the root first): each
    /// one's guest path, whether it is an in-memory filesystem (else a
    /// host directory) and whether it is read-only.
    pub fn mount_table(&self) -> Vec<(Vec<u8>, bool, bool)> {
        self.mounts
            .iter()
            .map(|m| {
                let mut path = Vec::new();
                for c in &m.path {
                    path.push(b'/');
                    path.extend_from_slice(c);
                }
                if path.is_empty() {
                    path.push(b'/');
                }
                (path, matches!(m.fs, FsImpl::Mem(_)), m.readonly)
            })
            .collect()
    }

    fn mount(&self, id: MountId) -> Result<&Mount, Errno> {
        self.mounts.get(id).ok_or(Errno::ENOENT)
    }

    /// The mount mounted last at exactly `path` (components), if any.
    fn mount_at(&self, path: &[Vec<u8>]) -> Option<MountId> {
        self.mounts.iter().rposition(|m| m.path == path)
    }

    /// The root node of the namespace.
    fn root_node(&self) -> Node {
        let id = self.mount_at(&[]).unwrap_or(0);
        let root = self
            .mounts
            .get(id)
            .map(Mount::root)
            .unwrap_or(NodeId::Mem(1));
        Node {
            mount: id,
            id: root,
        }
    }

    /// The root node of mount `id`.
    fn mount_root(&self, id: MountId) -> Result<Node, Errno> {
        Ok(Node {
            mount: id,
            id: self.mount(id)?.root(),
        })
    }

    /// True if `node` is the root of its mount.
    fn is_mount_root(&self, node: &Node) -> bool {
        self.mount(node.mount)
            .map(|m| m.root() == node.id)
            .unwrap_or(false)
    }

    /// True if the node's mount is a host directory.
    fn is_host(&self, mount: MountId) -> bool {
        matches!(self.mount(mount).map(|m| &m.fs), Ok(FsImpl::Host(_)))
    }

    /// `EROFS` if the node's mount is read-only.
    fn check_writable(&self, mount: MountId) -> Result<(), Errno> {
        if self.mount(mount)?.readonly {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    fn memfs(&self, mount: MountId) -> Result<&MemFs, Errno> {
        match &self.mount(mount)?.fs {
            FsImpl::Mem(m) => Ok(m),
            FsImpl::Host(_) => Err(Errno::EXDEV),
        }
    }

    fn memfs_mut(&mut self, mount: MountId) -> Result<&mut MemFs, Errno> {
        match &mut self.mounts.get_mut(mount).ok_or(Errno::ENOENT)?.fs {
            FsImpl::Mem(m) => Ok(m),
            FsImpl::Host(_) => Err(Errno::EXDEV),
        }
    }

    fn hostfs(&self, mount: MountId) -> Result<&HostFs, Errno> {
        match &self.mount(mount)?.fs {
            FsImpl::Host(h) => Ok(h),
            FsImpl::Mem(_) => Err(Errno::EXDEV),
        }
    }

    /// Attributes of `node` (`lstat` semantics), with the mount's device.
    pub fn getattr(&self, node: &Node) -> Result<Attr, Errno> {
        let m = self.mount(node.mount)?;
        let mut a = match (&m.fs, &node.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.getattr(*ino)?,
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.getattr(rel)?,
            _ => return Err(Errno::ENOENT),
        };
        a.dev = m.dev;
        Ok(a)
    }

    /// Looks `name` up in directory `dir` within its filesystem.
    fn lookup_child(&self, dir: &Node, name: &[u8]) -> Result<Option<Node>, Errno> {
        let m = self.mount(dir.mount)?;
        let id = match (&m.fs, &dir.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.lookup(*ino, name)?.map(NodeId::Mem),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.lookup(rel, name)?.map(NodeId::Host),
            _ => return Err(Errno::ENOENT),
        };
        Ok(id.map(|id| Node {
            mount: dir.mount,
            id,
        }))
    }

    /// The raw target of symlink `node`.
    fn readlink_node(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        match (&self.mount(node.mount)?.fs, &node.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.readlink(*ino),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.readlink(rel),
            _ => Err(Errno::ENOENT),
        }
    }

    /// Entries of directory `node` without `.` and `..`.
    fn readdir_node(&self, node: &Node) -> Result<Vec<DirEntry>, Errno> {
        match (&self.mount(node.mount)?.fs, &node.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.readdir(*ino),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.readdir(rel),
            _ => Err(Errno::ENOENT),
        }
    }

    // ---- Embedder helpers: set up the guest's files, as root, no umask. ----

    /// Creates directory `path` and its missing parents (like `mkdir -p`).
    pub fn mkdir_all(&mut self, path: &[u8], mode: u32) -> Result<(), Errno> {
        let mut prefix = Vec::new();
        for c in components(path) {
            prefix.push(b'/');
            prefix.extend_from_slice(c);
            match self.mkdir(b"/", &prefix, mode, &Cred::ROOT) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates (or replaces the contents of) file `path` with `data`,
    /// creating missing parent directories (mode `0755`).
    pub fn write_file(&mut self, path: &[u8], data: &[u8], mode: u32) -> Result<(), Errno> {
        if let Some(slash) = path.iter().rposition(|&b| b == b'/')
            && slash > 0
        {
            self.mkdir_all(path.get(..slash).unwrap_or_default(), 0o755)?;
        }
        let flags = O_WRONLY | O_CREAT | O_TRUNC;
        let f = self.open(b"/", path, flags, mode, &Cred::ROOT)?;
        let mut off = 0u64;
        for chunk in data.chunks(crate::uaccess::CHUNK) {
            let n = self.write(&f, off, chunk)?;
            off += n as u64;
        }
        Ok(())
    }

    /// Reads the whole of file `path` (following symlinks), as root.
    pub fn read_file(&mut self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let f = self.open(b"/", path, O_RDONLY, 0, &Cred::ROOT)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; crate::uaccess::CHUNK];
        loop {
            let n = self.read(&f, out.len() as u64, &mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    }

    /// Attributes of the in-memory inode behind an open file, bypassing the
    /// mount (for files whose mount data is reached through the handle).
    fn handle_attr(&self, f: &VfsFile) -> Result<Attr, Errno> {
        let dev = self.mount(f.node.mount)?.dev;
        let mut a = match &f.handle {
            Handle::Mem(inode) => memfs::lock(inode).attr(),
            Handle::Host(file) => HostFs::fstat(file)?,
            Handle::Dir | Handle::Path | Handle::Device(_) => return self.getattr(&f.node),
        };
        a.dev = dev;
        Ok(a)
    }
}

#[cfg(test)]
mod tests;
