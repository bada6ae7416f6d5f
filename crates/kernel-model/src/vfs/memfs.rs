//! The in-memory filesystem, the VFS's embedded default (like tmpfs).
//!
//! Inodes live in a map by number; directories map names to inode numbers.
//! Each inode sits behind `Arc<Mutex<_>>` so an open file keeps its inode
//! (and data) alive after `unlink`, as on Linux. Sizes are bounded by
//! [`MemFsLimits`] so no guest can make the host allocate without limit:
//! a file larger than `max_file_size` is `EFBIG`, more than `max_bytes` in
//! all is `ENOSPC`, more than `max_inodes` inodes is `ENOSPC`.
//!
//! Timestamps come from the modeled clock passed to each mutating call;
//! reads do not update `atime` (as with `noatime`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::stat::{Attr, DirEntry, FileType};
use crate::errno::Errno;
use crate::time::Timespec;
use crate::uapi::*;

/// Size limits of one in-memory filesystem.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MemFsLimits {
    /// Largest size of one file in bytes (`EFBIG` beyond).
    pub max_file_size: u64,
    /// Total bytes of file and symlink data (`ENOSPC` beyond).
    pub max_bytes: u64,
    /// Number of inodes (`ENOSPC` beyond).
    pub max_inodes: usize,
}

impl Default for MemFsLimits {
    /// 64 MiB per file, 256 MiB in all, 65536 inodes.
    fn default() -> MemFsLimits {
        MemFsLimits {
            max_file_size: 64 << 20,
            max_bytes: 256 << 20,
            max_inodes: 65536,
        }
    }
}

/// tmpfs's `SHORT_SYMLINK_LEN`: symlink targets (with their NUL) up to
/// this long take no data block.
const SHORT_SYMLINK_LEN: usize = 128;

/// Locks a mutex, ignoring poisoning (no code here panics while holding a
/// lock, and a poisoned inode is still a consistent inode).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What an inode holds.
#[derive(Debug)]
pub(crate) enum MemData {
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A directory: entries (without `.` and `..`) and the parent's number.
    Dir {
        entries: BTreeMap<Vec<u8>, u64>,
        parent: u64,
    },
    /// A symbolic link's target.
    Symlink(Vec<u8>),
    /// A device special file: its device number (`makedev` encoding).
    Device(u64),
}

/// One inode of the in-memory filesystem.
#[derive(Debug)]
pub struct MemInode {
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    pub(crate) data: MemData,
    usage: Arc<AtomicU64>,
}

impl MemInode {
    fn data_len(&self) -> u64 {
        match &self.data {
            MemData::File(v) | MemData::Symlink(v) => v.len() as u64,
            MemData::Dir { .. } | MemData::Device(_) => 0,
        }
    }

    /// The inode's attributes (`dev` is filled in by the VFS).
    pub fn attr(&self) -> Attr {
        let size = match &self.data {
            MemData::File(v) | MemData::Symlink(v) => v.len() as u64,
            MemData::Dir { entries, .. } => 4096.max(entries.len() as u64 * 32),
            MemData::Device(_) => 0,
        };
        let rdev = match self.data {
            MemData::Device(rdev) => rdev,
            _ => 0,
        };
        Attr {
            dev: 0,
            ino: self.ino,
            mode: self.mode,
            nlink: self.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev,
            size,
            blksize: 4096,
            blocks: match &self.data {
                // shmem_symlink keeps a target shorter than
                // SHORT_SYMLINK_LEN (128 bytes with its NUL) in the inode.
                MemData::Symlink(t) if t.len() < SHORT_SYMLINK_LEN => 0,
                _ => self.data_len().div_ceil(4096) * 8,
            },
            atime: self.atime,
            mtime: self.mtime,
            ctime: self.ctime,
        }
    }
}

impl MemInode {
    /// `setattr`: changes what is given and sets the change time.
    pub(crate) fn set_meta(&mut self, m: &super::meta::SetAttr, ctime: Timespec) {
        if let Some(mode) = m.mode {
            self.mode = (self.mode & S_IFMT) | (mode & 0o7777);
        }
        if let Some(uid) = m.uid {
            self.uid = uid;
        }
        if let Some(gid) = m.gid {
            self.gid = gid;
        }
        if let Some(t) = m.atime {
            self.atime = t;
        }
        if let Some(t) = m.mtime {
            self.mtime = t;
        }
        self.ctime = ctime;
    }
}

impl Drop for MemInode {
    fn drop(&mut self) {
        // Give the data back to the filesystem's budget when the last
        // reference (directory entry or open file) goes.
        self.usage.fetch_sub(self.data_len(), Ordering::Relaxed);
    }
}

/// A shared handle on an inode, held by open files.
pub type MemInodeRef = Arc<Mutex<MemInode>>;

/// An in-memory filesystem.
#[derive(Debug)]
pub struct MemFs {
    inodes: BTreeMap<u64, MemInodeRef>,
    next_ino: u64,
    root: u64,
    usage: Arc<AtomicU64>,
    limits: MemFsLimits,
}

impl MemFs {
    /// An empty filesystem whose root directory has mode `0755`, owned by root.
    pub fn new(limits: MemFsLimits) -> MemFs {
        let usage = Arc::new(AtomicU64::new(0));
        let root = MemInode {
            ino: 1,
            mode: S_IFDIR | 0o755,
            uid: 0,
            gid: 0,
            nlink: 2,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
            data: MemData::Dir {
                entries: BTreeMap::new(),
                parent: 1,
            },
            usage: usage.clone(),
        };
        let mut inodes = BTreeMap::new();
        inodes.insert(1, Arc::new(Mutex::new(root)));
        MemFs {
            inodes,
            next_ino: 2,
            root: 1,
            usage,
            limits,
        }
    }

    /// The root directory's inode number.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Bytes of data currently held (including unlinked files still open).
    pub fn bytes_used(&self) -> u64 {
        self.usage.load(Ordering::Relaxed)
    }

    /// Number of inodes (for `statfs`).
    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }

    /// The shared handle of inode `ino`.
    pub fn inode(&self, ino: u64) -> Result<MemInodeRef, Errno> {
        self.inodes.get(&ino).cloned().ok_or(Errno::ENOENT)
    }

    /// Attributes of inode `ino`.
    pub fn getattr(&self, ino: u64) -> Result<Attr, Errno> {
        Ok(lock(&*self.inode(ino)?).attr())
    }

    /// Looks `name` up in directory `dir`.
    pub fn lookup(&self, dir: u64, name: &[u8]) -> Result<Option<u64>, Errno> {
        let d = self.inode(dir)?;
        let d = lock(&d);
        match &d.data {
            MemData::Dir { entries, .. } => Ok(entries.get(name).copied()),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The parent directory of directory `dir` (itself for the root).
    pub fn parent_of(&self, dir: u64) -> Result<u64, Errno> {
        match &lock(&*self.inode(dir)?).data {
            MemData::Dir { parent, .. } => Ok(*parent),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The target of symlink `ino` (`EINVAL` if it is not a symlink).
    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        match &lock(&*self.inode(ino)?).data {
            MemData::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The entries of directory `dir` (without `.` and `..`), sorted by name.
    pub fn readdir(&self, dir: u64) -> Result<Vec<DirEntry>, Errno> {
        let d = self.inode(dir)?;
        let entries: Vec<(Vec<u8>, u64)> = match &lock(&d).data {
            MemData::Dir { entries, .. } => entries.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            _ => return Err(Errno::ENOTDIR),
        };
        let mut out = Vec::with_capacity(entries.len());
        for (name, ino) in entries {
            let ftype = self
                .getattr(ino)
                .ok()
                .and_then(|a| a.file_type())
                .unwrap_or(FileType::Regular);
            out.push(DirEntry { ino, ftype, name });
        }
        Ok(out)
    }

    fn charge(&self, extra: u64) -> Result<(), Errno> {
        let used = self.usage.load(Ordering::Relaxed);
        if used.saturating_add(extra) > self.limits.max_bytes {
            return Err(Errno::ENOSPC);
        }
        self.usage.fetch_add(extra, Ordering::Relaxed);
        Ok(())
    }

    fn release(&self, bytes: u64) {
        self.usage.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Creates a new inode named `name` in `dir`. `EEXIST` if the name is
    /// taken.
    fn create_node(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: (u32, u32),
        data: MemData,
        now: Timespec,
    ) -> Result<u64, Errno> {
        if self.inodes.len() >= self.limits.max_inodes {
            return Err(Errno::ENOSPC);
        }
        let is_dir = matches!(data, MemData::Dir { .. });
        let extra = match &data {
            MemData::Symlink(t) => t.len() as u64,
            _ => 0,
        };
        let d = self.inode(dir)?;
        let mut d = lock(&d);
        let MemData::Dir { entries, .. } = &mut d.data else {
            return Err(Errno::ENOTDIR);
        };
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        self.charge(extra)?;
        let ino = self.next_ino;
        self.next_ino += 1;
        entries.insert(name.to_vec(), ino);
        if is_dir {
            d.nlink = d.nlink.saturating_add(1);
        }
        d.mtime = now;
        d.ctime = now;
        let node = MemInode {
            ino,
            mode,
            uid: owner.0,
            gid: owner.1,
            nlink: if is_dir { 2 } else { 1 },
            atime: now,
            mtime: now,
            ctime: now,
            data,
            usage: self.usage.clone(),
        };
        self.inodes.insert(ino, Arc::new(Mutex::new(node)));
        Ok(ino)
    }

    /// Creates an empty regular file (`mode` holds permission bits only).
    pub fn create(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: (u32, u32),
        now: Timespec,
    ) -> Result<u64, Errno> {
        let data = MemData::File(Vec::new());
        self.create_node(dir, name, S_IFREG | (mode & 0o7777), owner, data, now)
    }

    /// Creates a directory.
    pub fn mkdir(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: (u32, u32),
        now: Timespec,
    ) -> Result<u64, Errno> {
        let data = MemData::Dir {
            entries: BTreeMap::new(),
            parent: dir,
        };
        self.create_node(dir, name, S_IFDIR | (mode & 0o7777), owner, data, now)
    }

    /// Creates a symbolic link to `target`.
    pub fn symlink(
        &mut self,
        dir: u64,
        name: &[u8],
        target: &[u8],
        owner: (u32, u32),
        now: Timespec,
    ) -> Result<u64, Errno> {
        let data = MemData::Symlink(target.to_vec());
        self.create_node(dir, name, S_IFLNK | 0o777, owner, data, now)
    }

    /// Creates a device special file (`mknod`): `mode` holds the type
    /// (`S_IFCHR` or `S_IFBLK`) and permission bits, `rdev` the device
    /// number.
    pub fn mknod(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        rdev: u64,
        owner: (u32, u32),
        now: Timespec,
    ) -> Result<u64, Errno> {
        let ftype = mode & S_IFMT;
        if ftype != S_IFCHR && ftype != S_IFBLK && ftype != S_IFIFO && ftype != S_IFSOCK {
            return Err(Errno::EINVAL);
        }
        let data = MemData::Device(rdev);
        self.create_node(dir, name, ftype | (mode & 0o7777), owner, data, now)
    }

    /// Adds a hard link `name` in `dir` to non-directory `ino`.
    pub fn link(&mut self, ino: u64, dir: u64, name: &[u8], now: Timespec) -> Result<(), Errno> {
        let node = self.inode(ino)?;
        if lock(&node).mode & S_IFMT == S_IFDIR {
            return Err(Errno::EPERM);
        }
        let d = self.inode(dir)?;
        let mut d = lock(&d);
        let MemData::Dir { entries, .. } = &mut d.data else {
            return Err(Errno::ENOTDIR);
        };
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        entries.insert(name.to_vec(), ino);
        d.mtime = now;
        d.ctime = now;
        let mut n = lock(&node);
        n.nlink = n.nlink.checked_add(1).ok_or(Errno::EMLINK)?;
        n.ctime = now;
        Ok(())
    }

    fn drop_link(&mut self, ino: u64, now: Timespec) {
        let gone = match self.inodes.get(&ino) {
            Some(node) => {
                let mut n = lock(node);
                let is_dir = n.mode & S_IFMT == S_IFDIR;
                n.nlink = if is_dir { 0 } else { n.nlink.saturating_sub(1) };
                n.ctime = now;
                n.nlink == 0
            }
            None => false,
        };
        if gone {
            // Open files keep their Arc; the data goes when they close.
            self.inodes.remove(&ino);
        }
    }

    /// Removes the non-directory entry `name` from `dir` (`EISDIR` for a
    /// directory, as Linux's `unlink`).
    pub fn unlink(&mut self, dir: u64, name: &[u8], now: Timespec) -> Result<(), Errno> {
        let ino = self.lookup(dir, name)?.ok_or(Errno::ENOENT)?;
        if self.getattr(ino)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.remove_entry(dir, name, now)?;
        self.drop_link(ino, now);
        Ok(())
    }

    /// Removes the empty directory `name` from `dir`.
    pub fn rmdir(&mut self, dir: u64, name: &[u8], now: Timespec) -> Result<(), Errno> {
        let ino = self.lookup(dir, name)?.ok_or(Errno::ENOENT)?;
        self.check_empty_dir(ino)?;
        self.remove_entry(dir, name, now)?;
        if let Ok(d) = self.inode(dir) {
            let mut d = lock(&d);
            d.nlink = d.nlink.saturating_sub(1);
        }
        self.drop_link(ino, now);
        Ok(())
    }

    fn check_empty_dir(&self, ino: u64) -> Result<(), Errno> {
        match &lock(&*self.inode(ino)?).data {
            MemData::Dir { entries, .. } if entries.is_empty() => Ok(()),
            MemData::Dir { .. } => Err(Errno::ENOTEMPTY),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn remove_entry(&mut self, dir: u64, name: &[u8], now: Timespec) -> Result<u64, Errno> {
        let d = self.inode(dir)?;
        let mut d = lock(&d);
        let MemData::Dir { entries, .. } = &mut d.data else {
            return Err(Errno::ENOTDIR);
        };
        let ino = entries.remove(name).ok_or(Errno::ENOENT)?;
        d.mtime = now;
        d.ctime = now;
        Ok(ino)
    }

    /// Renames `odir/oname` to `ndir/nname` (`rename(2)` rules for
    /// replacing: a directory may only replace an empty directory, a
    /// non-directory only a non-directory). The caller has already checked
    /// that a directory is not moved below itself.
    pub fn rename(
        &mut self,
        odir: u64,
        oname: &[u8],
        ndir: u64,
        nname: &[u8],
        noreplace: bool,
        now: Timespec,
    ) -> Result<(), Errno> {
        let ino = self.lookup(odir, oname)?.ok_or(Errno::ENOENT)?;
        let src_dir = self.getattr(ino)?.is_dir();
        if let Some(existing) = self.lookup(ndir, nname)? {
            if noreplace {
                return Err(Errno::EEXIST);
            }
            if existing == ino {
                return Ok(()); // Same file: rename does nothing.
            }
            let dst_dir = self.getattr(existing)?.is_dir();
            match (src_dir, dst_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) => self.check_empty_dir(existing)?,
                (false, false) => {}
            }
            self.remove_entry(ndir, nname, now)?;
            if dst_dir && let Ok(d) = self.inode(ndir) {
                let mut d = lock(&d);
                d.nlink = d.nlink.saturating_sub(1);
            }
            self.drop_link(existing, now);
        }
        self.remove_entry(odir, oname, now)?;
        let d = self.inode(ndir)?;
        {
            let mut d = lock(&d);
            let MemData::Dir { entries, .. } = &mut d.data else {
                return Err(Errno::ENOTDIR);
            };
            entries.insert(nname.to_vec(), ino);
            d.mtime = now;
            d.ctime = now;
            if src_dir && odir != ndir {
                d.nlink = d.nlink.saturating_add(1);
            }
        }
        if src_dir && odir != ndir {
            if let Ok(o) = self.inode(odir) {
                let mut o = lock(&o);
                o.nlink = o.nlink.saturating_sub(1);
            }
            if let Ok(n) = self.inode(ino) {
                let mut n = lock(&n);
                if let MemData::Dir { parent, .. } = &mut n.data {
                    *parent = ndir;
                }
            }
        }
        if let Ok(n) = self.inode(ino) {
            lock(&n).ctime = now;
        }
        Ok(())
    }

    fn check_size(&self, size: u64) -> Result<(), Errno> {
        if size > self.limits.max_file_size {
            Err(Errno::EFBIG)
        } else {
            Ok(())
        }
    }

    /// Sets the size of regular file `node` (zero-filling when growing).
    pub fn truncate(&self, node: &MemInodeRef, len: u64, now: Timespec) -> Result<(), Errno> {
        self.check_size(len)?;
        let mut n = lock(node);
        let MemData::File(data) = &mut n.data else {
            return Err(Errno::EISDIR);
        };
        let old = data.len() as u64;
        let new_len = usize::try_from(len).map_err(|_| Errno::EFBIG)?;
        if len > old {
            self.charge(len - old)?;
        } else {
            self.release(old - len);
        }
        data.resize(new_len, 0);
        n.mtime = now;
        n.ctime = now;
        Ok(())
    }

    /// Reads from regular file `node` at `off`; returns the bytes copied.
    pub fn read(node: &MemInodeRef, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = lock(node);
        let MemData::File(data) = &n.data else {
            return Err(Errno::EISDIR);
        };
        let Ok(start) = usize::try_from(off) else {
            return Ok(0);
        };
        let Some(src) = data.get(start..) else {
            return Ok(0);
        };
        let k = src.len().min(buf.len());
        buf.get_mut(..k)
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(src.get(..k).unwrap_or_default());
        Ok(k)
    }

    /// Writes `src` to regular file `node` at `off`, growing it as needed.
    pub fn write(
        &self,
        node: &MemInodeRef,
        off: u64,
        src: &[u8],
        now: Timespec,
    ) -> Result<usize, Errno> {
        if src.is_empty() {
            return Ok(0);
        }
        let end = off.checked_add(src.len() as u64).ok_or(Errno::EFBIG)?;
        self.check_size(end)?;
        let mut n = lock(node);
        let MemData::File(data) = &mut n.data else {
            return Err(Errno::EISDIR);
        };
        let old = data.len() as u64;
        if end > old {
            self.charge(end - old)?;
            data.resize(usize::try_from(end).map_err(|_| Errno::EFBIG)?, 0);
        }
        let start = usize::try_from(off).map_err(|_| Errno::EFBIG)?;
        data.get_mut(start..start + src.len())
            .ok_or(Errno::EFBIG)?
            .copy_from_slice(src);
        n.mtime = now;
        n.ctime = now;
        Ok(src.len())
    }

    /// Size of the data of `node`.
    pub fn size(node: &MemInodeRef) -> u64 {
        lock(node).data_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timespec = Timespec { sec: 10, nsec: 0 };

    #[test]
    fn create_lookup_unlink() {
        let mut fs = MemFs::new(MemFsLimits::default());
        let root = fs.root();
        let f = fs.create(root, b"a", 0o644, (0, 0), T0).unwrap();
        assert_eq!(fs.lookup(root, b"a").unwrap(), Some(f));
        assert_eq!(fs.create(root, b"a", 0o644, (0, 0), T0), Err(Errno::EEXIST));
        let node = fs.inode(f).unwrap();
        assert_eq!(fs.write(&node, 2, b"xy", T0).unwrap(), 2);
        let mut buf = [9u8; 8];
        assert_eq!(MemFs::read(&node, 0, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"\0\0xy");
        assert_eq!(fs.bytes_used(), 4);
        fs.unlink(root, b"a", T0).unwrap();
        assert_eq!(fs.lookup(root, b"a").unwrap(), None);
        // Still readable through the open handle; space comes back on close.
        assert_eq!(MemFs::read(&node, 2, &mut buf).unwrap(), 2);
        assert_eq!(fs.bytes_used(), 4);
        drop(node);
        assert_eq!(fs.bytes_used(), 0);
    }

    #[test]
    fn limits_are_enforced() {
        let limits = MemFsLimits {
            max_file_size: 16,
            max_bytes: 24,
            max_inodes: 3,
        };
        let mut fs = MemFs::new(limits);
        let root = fs.root();
        let a = fs.create(root, b"a", 0o644, (0, 0), T0).unwrap();
        let a = fs.inode(a).unwrap();
        let b = fs.create(root, b"b", 0o644, (0, 0), T0).unwrap();
        let b = fs.inode(b).unwrap();
        assert_eq!(fs.create(root, b"c", 0o644, (0, 0), T0), Err(Errno::ENOSPC));
        assert_eq!(fs.write(&a, 10, b"1234567", T0), Err(Errno::EFBIG));
        assert_eq!(fs.write(&a, u64::MAX, b"1", T0), Err(Errno::EFBIG));
        assert_eq!(fs.write(&a, 0, &[1; 16], T0), Ok(16));
        assert_eq!(fs.write(&b, 0, &[1; 9], T0), Err(Errno::ENOSPC));
        assert_eq!(fs.truncate(&a, 4, T0), Ok(()));
        assert_eq!(fs.write(&b, 0, &[1; 9], T0), Ok(9));
        assert_eq!(fs.truncate(&b, 1 << 40, T0), Err(Errno::EFBIG));
        assert_eq!(fs.bytes_used(), 13);
    }

    #[test]
    fn directories_and_rename() {
        let mut fs = MemFs::new(MemFsLimits::default());
        let root = fs.root();
        let d = fs.mkdir(root, b"d", 0o755, (0, 0), T0).unwrap();
        let e = fs.mkdir(root, b"e", 0o755, (0, 0), T0).unwrap();
        assert_eq!(fs.getattr(root).unwrap().nlink, 4);
        let f = fs.create(d, b"f", 0o600, (0, 0), T0).unwrap();
        assert_eq!(fs.rmdir(root, b"d", T0), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.unlink(root, b"d", T0), Err(Errno::EISDIR));
        fs.rename(d, b"f", e, b"g", false, T0).unwrap();
        assert_eq!(fs.lookup(e, b"g").unwrap(), Some(f));
        assert_eq!(fs.rename(root, b"e", root, b"d", false, T0), Ok(()));
        assert_eq!(fs.lookup(root, b"e").unwrap(), None);
        assert_eq!(fs.getattr(root).unwrap().nlink, 3);
        let names: Vec<_> = fs
            .readdir(root)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![b"d".to_vec()]);
        let d2 = fs.lookup(root, b"d").unwrap().unwrap();
        assert_eq!(
            fs.rename(d2, b"g", root, b"d", false, T0),
            Err(Errno::EISDIR)
        );
        let h = fs.create(root, b"h", 0o600, (0, 0), T0).unwrap();
        assert_eq!(
            fs.rename(root, b"d", root, b"h", false, T0),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            fs.rename(root, b"h", d2, b"g", true, T0),
            Err(Errno::EEXIST)
        );
        fs.rename(root, b"h", d2, b"g", false, T0).unwrap();
        assert_eq!(fs.lookup(d2, b"g").unwrap(), Some(h));
        assert_eq!(fs.parent_of(d2).unwrap(), root);
    }

    #[test]
    fn hard_links_and_symlinks() {
        let mut fs = MemFs::new(MemFsLimits::default());
        let root = fs.root();
        let f = fs.create(root, b"f", 0o644, (0, 0), T0).unwrap();
        fs.link(f, root, b"g", T0).unwrap();
        assert_eq!(fs.getattr(f).unwrap().nlink, 2);
        fs.unlink(root, b"f", T0).unwrap();
        assert_eq!(fs.getattr(f).unwrap().nlink, 1);
        let s = fs.symlink(root, b"s", b"/x/y", (0, 0), T0).unwrap();
        assert_eq!(fs.readlink(s).unwrap(), b"/x/y");
        assert_eq!(fs.readlink(f), Err(Errno::EINVAL));
        assert_eq!(fs.getattr(s).unwrap().size, 4);
        // Short targets live in the inode (no blocks), long ones in a page.
        assert_eq!(fs.getattr(s).unwrap().blocks, 0);
        let long = fs.symlink(root, b"l", &[b'x'; 128], (0, 0), T0).unwrap();
        assert_eq!(fs.getattr(long).unwrap().blocks, 8);
        let short = fs.symlink(root, b"m", &[b'x'; 127], (0, 0), T0).unwrap();
        assert_eq!(fs.getattr(short).unwrap().blocks, 0);
        assert_eq!(fs.link(root, root, b"r", T0), Err(Errno::EPERM));
    }
}
