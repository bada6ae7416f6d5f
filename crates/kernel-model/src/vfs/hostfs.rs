//! A host directory mounted into the guest's namespace, read-only or
//! read-write.
//!
//! Confinement rule: a host path is only ever built as the mount's
//! canonical root followed by components the VFS resolver produced, each a
//! plain name (not empty, not `.` or `..`, no `/`, no NUL) whose every
//! ancestor was checked with `lstat` to be a real directory, not a symlink.
//! Host symlinks are never followed by the host OS: the resolver reads them
//! (`readlink`) and interprets the target itself under the rules in
//! [`super`]. Files are opened with `O_NOFOLLOW | O_NONBLOCK` and checked to
//! be regular files after opening, so a symlink or FIFO swapped in by a
//! host process between check and use is refused rather than followed or
//! waited on. Only regular files and directories can be opened; device
//! nodes, FIFOs and sockets on the host give `ENXIO`.
//!
//! Limitation: a host process racing the guest could still swap an
//! *intermediate* directory for a symlink between the check and the open
//! (closing that needs `openat` per component, which `std` does not offer
//! without `unsafe`). Guest operations alone cannot race: the model runs
//! one system call at a time.
//!
//! The guest may not create symbolic links or hard links on a host mount
//! (`EPERM`), so it cannot plant links for host programs to follow.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::stat::{Attr, DirEntry, FileType};
use crate::errno::Errno;
use crate::time::Timespec;
use crate::uapi::NAME_MAX;

/// A path relative to a host mount's root, as validated components.
pub type HostRel = Vec<Vec<u8>>;

/// Whether `name` may be used as one component of a host path.
pub fn valid_component(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && name.len() <= NAME_MAX
        && !name.iter().any(|&b| b == b'/' || b == 0)
}

/// A mounted host directory.
#[derive(Debug)]
pub struct HostFs {
    root: PathBuf,
    writable: bool,
}

fn io(e: std::io::Error) -> Errno {
    Errno::from_io(&e)
}

fn attr_of(m: &fs::Metadata) -> Attr {
    let ts = |sec: i64, nsec: i64| Timespec {
        sec,
        nsec: u32::try_from(nsec).unwrap_or(0).min(999_999_999),
    };
    Attr {
        dev: 0,
        ino: m.ino(),
        mode: m.mode(),
        nlink: u32::try_from(m.nlink()).unwrap_or(u32::MAX),
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev(),
        size: m.size(),
        blksize: u32::try_from(m.blksize()).unwrap_or(4096),
        blocks: m.blocks(),
        atime: ts(m.atime(), m.atime_nsec()),
        mtime: ts(m.mtime(), m.mtime_nsec()),
        ctime: ts(m.ctime(), m.ctime_nsec()),
    }
}

impl HostFs {
    /// Mounts `root` (which must be an existing directory; it is
    /// canonicalized once, here).
    pub fn new(root: &Path, writable: bool) -> std::io::Result<HostFs> {
        let root = root.canonicalize()?;
        if !fs::metadata(&root)?.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(HostFs { root, writable })
    }

    /// The canonical host root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True if the mount accepts writes.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The host path of `rel`; `EINVAL` if any component is not a plain name
    /// (the resolver never produces one; this is the last line of defense).
    pub fn host_path(&self, rel: &[Vec<u8>]) -> Result<PathBuf, Errno> {
        let mut p = self.root.clone();
        for c in rel {
            if !valid_component(c) {
                return Err(Errno::EINVAL);
            }
            p.push(OsStr::from_bytes(c));
        }
        Ok(p)
    }

    fn child(dir: &[Vec<u8>], name: &[u8]) -> HostRel {
        let mut r = dir.to_vec();
        r.push(name.to_vec());
        r
    }

    fn need_write(&self) -> Result<(), Errno> {
        if self.writable {
            Ok(())
        } else {
            Err(Errno::EROFS)
        }
    }

    /// Looks `name` up in directory `dir` without following symlinks.
    pub fn lookup(&self, dir: &[Vec<u8>], name: &[u8]) -> Result<Option<HostRel>, Errno> {
        let rel = Self::child(dir, name);
        match fs::symlink_metadata(self.host_path(&rel)?) {
            Ok(_) => Ok(Some(rel)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Attributes of `rel` (`lstat`; `dev` is filled in by the VFS).
    pub fn getattr(&self, rel: &[Vec<u8>]) -> Result<Attr, Errno> {
        fs::symlink_metadata(self.host_path(rel)?)
            .map(|m| attr_of(&m))
            .map_err(io)
    }

    /// The raw target of symlink `rel`.
    pub fn readlink(&self, rel: &[Vec<u8>]) -> Result<Vec<u8>, Errno> {
        let p = self.host_path(rel)?;
        let m = fs::symlink_metadata(&p).map_err(io)?;
        if !m.file_type().is_symlink() {
            return Err(Errno::EINVAL);
        }
        fs::read_link(&p)
            .map(|t| t.as_os_str().as_bytes().to_vec())
            .map_err(io)
    }

    /// Entries of directory `rel`, sorted by name for deterministic order.
    pub fn readdir(&self, rel: &[Vec<u8>]) -> Result<Vec<DirEntry>, Errno> {
        let mut out = Vec::new();
        for ent in fs::read_dir(self.host_path(rel)?).map_err(io)? {
            let ent = ent.map_err(io)?;
            let name = ent.file_name().as_bytes().to_vec();
            let Ok(m) = ent.metadata() else { continue };
            let ftype = FileType::from_mode(m.mode()).unwrap_or(FileType::Regular);
            out.push(DirEntry {
                ino: m.ino(),
                ftype,
                name,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Opens regular file `rel` for reading and/or writing.
    pub fn open(
        &self,
        rel: &[Vec<u8>],
        read: bool,
        write: bool,
        truncate: bool,
    ) -> Result<File, Errno> {
        if write || truncate {
            self.need_write()?;
        }
        let p = self.host_path(rel)?;
        let f = OpenOptions::new()
            .read(read || !write)
            .write(write || truncate)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(p)
            .map_err(io)?;
        let m = f.metadata().map_err(io)?;
        if !m.is_file() {
            return Err(Errno::ENXIO);
        }
        if truncate {
            f.set_len(0).map_err(io)?;
        }
        Ok(f)
    }

    /// Creates regular file `dir/name` exclusively with permission `mode`.
    pub fn create(
        &self,
        dir: &[Vec<u8>],
        name: &[u8],
        mode: u32,
        read: bool,
    ) -> Result<(HostRel, File), Errno> {
        self.need_write()?;
        let rel = Self::child(dir, name);
        let f = OpenOptions::new()
            .read(read)
            .write(true)
            .create_new(true)
            .mode(mode & 0o7777)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.host_path(&rel)?)
            .map_err(io)?;
        Ok((rel, f))
    }

    /// Creates directory `dir/name`.
    pub fn mkdir(&self, dir: &[Vec<u8>], name: &[u8], mode: u32) -> Result<HostRel, Errno> {
        self.need_write()?;
        let rel = Self::child(dir, name);
        fs::DirBuilder::new()
            .mode(mode & 0o7777)
            .create(self.host_path(&rel)?)
            .map_err(io)?;
        Ok(rel)
    }

    /// Removes non-directory `dir/name`.
    pub fn unlink(&self, dir: &[Vec<u8>], name: &[u8]) -> Result<(), Errno> {
        self.need_write()?;
        let p = self.host_path(&Self::child(dir, name))?;
        if fs::symlink_metadata(&p).map_err(io)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        fs::remove_file(p).map_err(io)
    }

    /// Removes empty directory `dir/name`.
    pub fn rmdir(&self, dir: &[Vec<u8>], name: &[u8]) -> Result<(), Errno> {
        self.need_write()?;
        let p = self.host_path(&Self::child(dir, name))?;
        if !fs::symlink_metadata(&p).map_err(io)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        fs::remove_dir(p).map_err(io)
    }

    /// Renames within the mount.
    pub fn rename(
        &self,
        odir: &[Vec<u8>],
        oname: &[u8],
        ndir: &[Vec<u8>],
        nname: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        self.need_write()?;
        let from = self.host_path(&Self::child(odir, oname))?;
        let to = self.host_path(&Self::child(ndir, nname))?;
        if noreplace && fs::symlink_metadata(&to).is_ok() {
            return Err(Errno::EEXIST);
        }
        fs::rename(from, to).map_err(io)
    }

    /// Sets the size of regular file `rel`.
    pub fn truncate(&self, rel: &[Vec<u8>], len: u64) -> Result<(), Errno> {
        let f = self.open(rel, false, true, false)?;
        f.set_len(len).map_err(io)
    }

    /// Positional read from an open host file.
    pub fn read_at(f: &File, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        f.read_at(buf, off).map_err(io)
    }

    /// Positional write to an open host file.
    pub fn write_at(&self, f: &File, off: u64, data: &[u8]) -> Result<usize, Errno> {
        self.need_write()?;
        f.write_at(data, off).map_err(io)
    }

    /// Attributes of an open host file.
    pub fn fstat(f: &File) -> Result<Attr, Errno> {
        f.metadata().map(|m| attr_of(&m)).map_err(io)
    }

    /// Sets the size of an open host file.
    pub fn ftruncate(&self, f: &File, len: u64) -> Result<(), Errno> {
        self.need_write()?;
        f.set_len(len).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_validated() {
        assert!(valid_component(b"abc"));
        assert!(!valid_component(b""));
        assert!(!valid_component(b"."));
        assert!(!valid_component(b".."));
        assert!(!valid_component(b"a/b"));
        assert!(!valid_component(b"a\0b"));
        assert!(!valid_component(&[b'x'; 256]));
        let dir = std::env::temp_dir().join(format!("sysgate-hostfs-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let h = HostFs::new(&dir, false).unwrap();
        assert_eq!(h.host_path(&[b"..".to_vec()]), Err(Errno::EINVAL));
        assert_eq!(h.host_path(&[b"a/../..".to_vec()]), Err(Errno::EINVAL));
        assert_eq!(h.mkdir(&[], b"x", 0o755), Err(Errno::EROFS));
        fs::remove_dir_all(&dir).unwrap();
    }
}
