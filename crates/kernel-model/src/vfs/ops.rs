//! The VFS operations system calls use: `open`, `stat`, `access`, `mkdir`,
//! `unlink`, `rmdir`, `rename`, `readlink`, `truncate`, `link`, `symlink`,
//! `chdir`, and I/O on open files. Error precedence follows Linux's
//! `namei.c`/`open.c` where it is observable.

use super::hostfs::HostFs;
use super::memfs::{MemFs, lock};
use super::stat::{Attr, DirEntry, FileType};
use super::walk::{Dot, Walked};
use super::{
    Cred, FsImpl, Handle, MAY_EXEC, MAY_READ, MAY_WRITE, Node, NodeId, Vfs, VfsFile, permission,
};
use crate::errno::Errno;
use crate::uapi::*;

impl Vfs {
    /// Checks the sticky-bit rule (`check_sticky`): in a sticky directory
    /// only the owner of the entry or of the directory (or root) may remove
    /// or rename it.
    fn check_sticky(dir: &Attr, victim: &Attr, cred: &Cred) -> Result<(), Errno> {
        if dir.mode & S_ISVTX != 0 && cred.uid != 0 && cred.uid != dir.uid && cred.uid != victim.uid
        {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// Checks that `cred` may create or remove entries in the walk's parent
    /// directory (`may_create`/`may_delete`: write and search permission,
    /// writable mount).
    fn may_modify_dir(&self, w: &Walked, cred: &Cred) -> Result<Attr, Errno> {
        let dir = w.dir()?;
        let a = self.getattr(dir)?;
        permission(&a, cred, MAY_WRITE | MAY_EXEC)?;
        self.check_writable(dir.mount)?;
        Ok(a)
    }

    /// Opens (and with `O_CREAT` creates) a file, as `do_sys_open` does.
    /// `mode` is the creation mode with the umask already applied.
    pub fn open(
        &mut self,
        base: &[u8],
        path: &[u8],
        flags: u32,
        mode: u32,
        cred: &Cred,
    ) -> Result<VfsFile, Errno> {
        let creat = flags & O_CREAT != 0;
        let excl = flags & O_EXCL != 0;
        if creat && flags & O_DIRECTORY != 0 {
            return Err(Errno::EINVAL);
        }
        let follow = flags & O_NOFOLLOW == 0 && !(creat && excl);
        let w = self.walk(base, path, follow, cred)?;
        if flags & O_PATH != 0 {
            let node = w.existing()?.clone();
            return self.open_node(node, w.path(), w.must_be_dir, flags, cred);
        }
        let acc = flags & O_ACCMODE;
        let want_read = acc == O_RDONLY || acc == O_RDWR;
        let Some(node) = w.node.clone() else {
            if !creat {
                return Err(Errno::ENOENT);
            }
            if w.must_be_dir {
                return Err(Errno::EISDIR);
            }
            return self.create_file(&w, mode, want_read, cred);
        };
        if creat && excl {
            return Err(Errno::EEXIST);
        }
        self.open_node(node, w.path(), w.must_be_dir, flags, cred)
    }

    /// Opens the file `f` refers to anew with `flags` (what opening
    /// `/proc/self/fd/N` does for a file of the VFS): permission is checked
    /// against the new access mode, `O_TRUNC` truncates a regular file.
    pub fn reopen(&mut self, f: &VfsFile, flags: u32, cred: &Cred) -> Result<VfsFile, Errno> {
        self.open_node(f.node.clone(), f.path.clone(), false, flags, cred)
    }

    /// The part of `open` after the lookup: `node` exists and `path` is
    /// its canonical path.
    fn open_node(
        &mut self,
        node: Node,
        path: Vec<u8>,
        must_be_dir: bool,
        flags: u32,
        cred: &Cred,
    ) -> Result<VfsFile, Errno> {
        if flags & O_PATH != 0 {
            if flags & O_DIRECTORY != 0 && !self.getattr(&node)?.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            return Ok(VfsFile {
                node,
                handle: Handle::Path,
                path,
            });
        }
        let creat = flags & O_CREAT != 0;
        let acc = flags & O_ACCMODE;
        let want_read = acc == O_RDONLY || acc == O_RDWR;
        let want_write = acc == O_WRONLY || acc == O_RDWR;
        let a = self.getattr(&node)?;
        if a.is_symlink() {
            // O_NOFOLLOW on a symlink.
            return Err(Errno::ELOOP);
        }
        if a.is_dir() {
            if want_write || creat || acc == O_ACCMODE {
                return Err(Errno::EISDIR);
            }
            permission(&a, cred, MAY_READ)?;
            return Ok(VfsFile {
                node,
                handle: Handle::Dir,
                path,
            });
        }
        if flags & O_DIRECTORY != 0 || must_be_dir {
            return Err(Errno::ENOTDIR);
        }
        let trunc = flags & O_TRUNC != 0;
        let mut mask = 0;
        if want_read {
            mask |= MAY_READ;
        }
        if want_write || trunc {
            mask |= MAY_WRITE;
        }
        permission(&a, cred, mask)?;
        match a.file_type() {
            Some(FileType::Regular) => {}
            // No truncation and no EROFS for devices (may_open,
            // inode_permission).
            Some(FileType::CharDevice) => return self.open_device(node, &a, path),
            // Block devices, FIFOs and sockets are not modeled.
            _ => return Err(Errno::ENXIO),
        }
        if want_write || trunc {
            self.check_writable(node.mount)?;
        }
        let now = self.now();
        let handle = match (&self.mount(node.mount)?.fs, &node.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => {
                let inode = fs.inode(*ino)?;
                if trunc {
                    fs.truncate(&inode, 0, now)?;
                }
                Handle::Mem(inode)
            }
            (FsImpl::Host(fs), NodeId::Host(rel)) => {
                Handle::Host(fs.open(rel, want_read, want_write, trunc)?)
            }
            _ => return Err(Errno::ENOENT),
        };
        Ok(VfsFile { node, handle, path })
    }

    fn create_file(
        &mut self,
        w: &Walked,
        mode: u32,
        read: bool,
        cred: &Cred,
    ) -> Result<VfsFile, Errno> {
        self.may_modify_dir(w, cred)?;
        let dir = w.dir()?.clone();
        let now = self.now();
        let (id, handle) = match (
            &mut self.mounts.get_mut(dir.mount).ok_or(Errno::ENOENT)?.fs,
            &dir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => {
                let new = fs.create(*ino, &w.name, mode, (cred.uid, cred.gid), now)?;
                (NodeId::Mem(new), Handle::Mem(fs.inode(new)?))
            }
            (FsImpl::Host(fs), NodeId::Host(rel)) => {
                let (rel, file) = fs.create(rel, &w.name, mode, read)?;
                (NodeId::Host(rel), Handle::Host(file))
            }
            _ => return Err(Errno::ENOENT),
        };
        Ok(VfsFile {
            node: Node {
                mount: dir.mount,
                id,
            },
            handle,
            path: w.path(),
        })
    }

    /// `stat`/`lstat`: attributes of the file `path` names.
    pub fn stat(&self, base: &[u8], path: &[u8], follow: bool, cred: &Cred) -> Result<Attr, Errno> {
        let w = self.walk(base, path, follow, cred)?;
        self.getattr(w.existing()?)
    }

    /// `access`/`faccessat`: checks `mode` (`R_OK|W_OK|X_OK`, or `F_OK`).
    pub fn access(
        &self,
        base: &[u8],
        path: &[u8],
        mode: u32,
        follow: bool,
        cred: &Cred,
    ) -> Result<(), Errno> {
        let w = self.walk(base, path, follow, cred)?;
        let node = w.existing()?;
        let a = self.getattr(node)?;
        let mut mask = 0;
        if mode & R_OK != 0 {
            mask |= MAY_READ;
        }
        if mode & W_OK != 0 {
            mask |= MAY_WRITE;
        }
        if mode & X_OK != 0 {
            mask |= MAY_EXEC;
        }
        permission(&a, cred, mask)?;
        if mode & W_OK != 0 && (a.is_reg() || a.is_dir() || a.is_symlink()) {
            self.check_writable(node.mount)?;
        }
        Ok(())
    }

    /// `mkdir`: creates directory `path` (`mode` already umasked).
    pub fn mkdir(&mut self, base: &[u8], path: &[u8], mode: u32, cred: &Cred) -> Result<(), Errno> {
        let w = self.walk(base, path, false, cred)?;
        if w.node.is_some() || w.dot.is_some() {
            return Err(Errno::EEXIST);
        }
        self.may_modify_dir(&w, cred)?;
        let dir = w.dir()?.clone();
        let now = self.now();
        match (
            &mut self.mounts.get_mut(dir.mount).ok_or(Errno::ENOENT)?.fs,
            &dir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs
                .mkdir(*ino, &w.name, mode, (cred.uid, cred.gid), now)
                .map(|_| ()),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.mkdir(rel, &w.name, mode).map(|_| ()),
            _ => Err(Errno::ENOENT),
        }
    }

    /// `unlink`: removes a non-directory.
    pub fn unlink(&mut self, base: &[u8], path: &[u8], cred: &Cred) -> Result<(), Errno> {
        let w = self.walk(base, path, false, cred)?;
        if w.dot.is_some() {
            return Err(Errno::EISDIR);
        }
        let node = w.existing()?.clone();
        let a = self.getattr(&node)?;
        if self.is_mount_root(&node) {
            return Err(Errno::EBUSY);
        }
        if a.is_dir() {
            return Err(Errno::EISDIR);
        }
        let da = self.may_modify_dir(&w, cred)?;
        Self::check_sticky(&da, &a, cred)?;
        let dir = w.dir()?.clone();
        let now = self.now();
        match (
            &mut self.mounts.get_mut(dir.mount).ok_or(Errno::ENOENT)?.fs,
            &dir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.unlink(*ino, &w.name, now),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.unlink(rel, &w.name),
            _ => Err(Errno::ENOENT),
        }
    }

    /// `rmdir`: removes an empty directory.
    pub fn rmdir(&mut self, base: &[u8], path: &[u8], cred: &Cred) -> Result<(), Errno> {
        let w = self.walk(base, path, false, cred)?;
        match w.dot {
            Some(Dot::Current) => return Err(Errno::EINVAL),
            Some(Dot::Parent) => return Err(Errno::ENOTEMPTY),
            Some(Dot::Root) => return Err(Errno::EBUSY),
            None => {}
        }
        let node = w.existing()?.clone();
        let a = self.getattr(&node)?;
        if !a.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.is_mount_root(&node) {
            return Err(Errno::EBUSY);
        }
        let da = self.may_modify_dir(&w, cred)?;
        Self::check_sticky(&da, &a, cred)?;
        let dir = w.dir()?.clone();
        let now = self.now();
        match (
            &mut self.mounts.get_mut(dir.mount).ok_or(Errno::ENOENT)?.fs,
            &dir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.rmdir(*ino, &w.name, now),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.rmdir(rel, &w.name),
            _ => Err(Errno::ENOENT),
        }
    }

    /// `renameat2` with flags `RENAME_NOREPLACE` or none (`RENAME_EXCHANGE`
    /// and `RENAME_WHITEOUT` are `EINVAL` here).
    #[allow(clippy::too_many_arguments)]
    pub fn rename(
        &mut self,
        obase: &[u8],
        opath: &[u8],
        nbase: &[u8],
        npath: &[u8],
        flags: u32,
        cred: &Cred,
    ) -> Result<(), Errno> {
        if flags & !RENAME_NOREPLACE != 0 {
            return Err(Errno::EINVAL);
        }
        let ow = self.walk(obase, opath, false, cred)?;
        let nw = self.walk(nbase, npath, false, cred)?;
        if ow.dot.is_some() || nw.dot.is_some() {
            return Err(Errno::EBUSY);
        }
        let onode = ow.existing()?.clone();
        let oa = self.getattr(&onode)?;
        let (odir, ndir) = (ow.dir()?.clone(), nw.dir()?.clone());
        if odir.mount != ndir.mount {
            return Err(Errno::EXDEV);
        }
        if (nw.must_be_dir || ow.must_be_dir) && !oa.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.is_mount_root(&onode) || nw.node.as_ref().is_some_and(|n| self.is_mount_root(n)) {
            return Err(Errno::EBUSY);
        }
        let (opath_c, npath_c) = (ow.path(), nw.path());
        if opath_c == npath_c {
            return Ok(());
        }
        let is_below = |a: &[u8], b: &[u8]| {
            a.len() > b.len() && a.starts_with(b) && a.get(b.len()) == Some(&b'/')
        };
        if oa.is_dir() && is_below(&npath_c, &opath_c) {
            return Err(Errno::EINVAL);
        }
        if is_below(&opath_c, &npath_c) {
            return Err(Errno::ENOTEMPTY);
        }
        let oda = self.may_modify_dir(&ow, cred)?;
        Self::check_sticky(&oda, &oa, cred)?;
        let nda = self.may_modify_dir(&nw, cred)?;
        if let Some(n) = &nw.node {
            Self::check_sticky(&nda, &self.getattr(n)?, cred)?;
        }
        let noreplace = flags & RENAME_NOREPLACE != 0;
        let now = self.now();
        match (
            &mut self.mounts.get_mut(odir.mount).ok_or(Errno::ENOENT)?.fs,
            &odir.id,
            &ndir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(o), NodeId::Mem(n)) => {
                fs.rename(*o, &ow.name, *n, &nw.name, noreplace, now)
            }
            (FsImpl::Host(fs), NodeId::Host(o), NodeId::Host(n)) => {
                fs.rename(o, &ow.name, n, &nw.name, noreplace)
            }
            _ => Err(Errno::EXDEV),
        }
    }

    /// `readlink`: the target of symlink `path` (`EINVAL` if not a symlink).
    pub fn readlink(&self, base: &[u8], path: &[u8], cred: &Cred) -> Result<Vec<u8>, Errno> {
        let w = self.walk(base, path, false, cred)?;
        let node = w.existing()?;
        self.readlink_node(node)
    }

    /// `chdir`: checks that `path` is a searchable directory and returns
    /// its canonical path.
    pub fn chdir_target(&self, base: &[u8], path: &[u8], cred: &Cred) -> Result<Vec<u8>, Errno> {
        let w = self.walk(base, path, true, cred)?;
        let a = self.getattr(w.existing()?)?;
        if !a.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        permission(&a, cred, MAY_EXEC)?;
        Ok(w.path())
    }

    /// `truncate`: sets the size of regular file `path`.
    pub fn truncate(
        &mut self,
        base: &[u8],
        path: &[u8],
        len: u64,
        cred: &Cred,
    ) -> Result<(), Errno> {
        let w = self.walk(base, path, true, cred)?;
        let node = w.existing()?.clone();
        let a = self.getattr(&node)?;
        if a.is_dir() {
            return Err(Errno::EISDIR);
        }
        if !a.is_reg() {
            return Err(Errno::EINVAL);
        }
        permission(&a, cred, MAY_WRITE)?;
        self.check_writable(node.mount)?;
        let now = self.now();
        match (&self.mount(node.mount)?.fs, &node.id) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => fs.truncate(&fs.inode(*ino)?, len, now),
            (FsImpl::Host(fs), NodeId::Host(rel)) => fs.truncate(rel, len),
            _ => Err(Errno::ENOENT),
        }
    }

    /// `link`: a new name for an existing non-directory (in-memory
    /// filesystems only; `EPERM` on host mounts, `EXDEV` across mounts).
    pub fn link(
        &mut self,
        obase: &[u8],
        opath: &[u8],
        nbase: &[u8],
        npath: &[u8],
        follow: bool,
        cred: &Cred,
    ) -> Result<(), Errno> {
        let ow = self.walk(obase, opath, follow, cred)?;
        let node = ow.existing()?.clone();
        let nw = self.walk(nbase, npath, false, cred)?;
        if nw.node.is_some() || nw.dot.is_some() {
            return Err(Errno::EEXIST);
        }
        if nw.must_be_dir {
            // filename_create: a trailing slash only creates directories.
            return Err(Errno::ENOENT);
        }
        let ndir = nw.dir()?.clone();
        if ndir.mount != node.mount {
            return Err(Errno::EXDEV);
        }
        if self.getattr(&node)?.is_dir() {
            return Err(Errno::EPERM);
        }
        self.may_modify_dir(&nw, cred)?;
        let now = self.now();
        match (&node.id, &ndir.id) {
            (NodeId::Mem(ino), NodeId::Mem(dir)) => {
                self.memfs_mut(node.mount)?.link(*ino, *dir, &nw.name, now)
            }
            _ => Err(Errno::EPERM),
        }
    }

    /// `symlink`: creates `path` pointing at `target` (in-memory filesystems
    /// only; `EPERM` on host mounts).
    pub fn symlink(
        &mut self,
        target: &[u8],
        base: &[u8],
        path: &[u8],
        cred: &Cred,
    ) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let w = self.walk(base, path, false, cred)?;
        if w.node.is_some() || w.dot.is_some() {
            return Err(Errno::EEXIST);
        }
        if w.must_be_dir {
            return Err(Errno::ENOENT);
        }
        self.may_modify_dir(&w, cred)?;
        let dir = w.dir()?.clone();
        let now = self.now();
        match &dir.id {
            NodeId::Mem(ino) => self
                .memfs_mut(dir.mount)?
                .symlink(*ino, &w.name, target, (cred.uid, cred.gid), now)
                .map(|_| ()),
            NodeId::Host(_) => Err(Errno::EPERM),
        }
    }

    // ---- I/O on open files ----

    /// Reads from `f` at `off` into `buf`; returns the bytes read (0 at end).
    /// The random devices need the kernel's generator, which the
    /// system-call layer passes to [`Device::read`](super::dev::Device::read)
    /// itself (`EINVAL` here).
    pub fn read(&self, f: &VfsFile, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match &f.handle {
            Handle::Mem(inode) => MemFs::read(inode, off, buf),
            Handle::Device(d) => d.read(buf, None),
            Handle::Host(file) => HostFs::read_at(file, off, buf),
            Handle::Dir => Err(Errno::EISDIR),
            Handle::Path => Err(Errno::EBADF),
        }
    }

    /// Writes `data` to `f` at `off`; returns the bytes written.
    pub fn write(&mut self, f: &VfsFile, off: u64, data: &[u8]) -> Result<usize, Errno> {
        let now = self.now();
        match &f.handle {
            Handle::Mem(inode) => self.memfs(f.node.mount)?.write(inode, off, data, now),
            Handle::Host(file) => self.hostfs(f.node.mount)?.write_at(file, off, data),
            Handle::Device(d) => d.write(data.len()),
            Handle::Dir => Err(Errno::EISDIR),
            Handle::Path => Err(Errno::EBADF),
        }
    }

    /// Current size of `f` (for `SEEK_END` and `O_APPEND`).
    pub fn size(&self, f: &VfsFile) -> Result<u64, Errno> {
        match &f.handle {
            Handle::Mem(inode) => Ok(MemFs::size(inode)),
            _ => self.fstat(f).map(|a| a.size),
        }
    }

    /// `fstat`: attributes of an open file (also after it was unlinked).
    pub fn fstat(&self, f: &VfsFile) -> Result<Attr, Errno> {
        self.handle_attr(f)
    }

    /// `ftruncate`: sets the size of an open regular file.
    pub fn ftruncate(&mut self, f: &VfsFile, len: u64) -> Result<(), Errno> {
        let now = self.now();
        match &f.handle {
            Handle::Mem(inode) => self.memfs(f.node.mount)?.truncate(inode, len, now),
            Handle::Host(file) => self.hostfs(f.node.mount)?.ftruncate(file, len),
            Handle::Device(_) => Err(Errno::EINVAL),
            Handle::Dir => Err(Errno::EISDIR),
            Handle::Path => Err(Errno::EBADF),
        }
    }

    /// The entries of open directory `f`, including `.` and `..` first.
    pub fn readdir(&self, f: &VfsFile) -> Result<Vec<DirEntry>, Errno> {
        if !matches!(f.handle, Handle::Dir) {
            return Err(Errno::ENOTDIR);
        }
        let own = self.getattr(&f.node)?.ino;
        let parent = match &f.node.id {
            NodeId::Mem(ino) => {
                let p = self.memfs(f.node.mount)?.parent_of(*ino)?;
                self.memfs(f.node.mount)?
                    .inode(p)
                    .map(|n| lock(&n).attr().ino)
                    .unwrap_or(own)
            }
            NodeId::Host(rel) => match rel.split_last() {
                Some((_, up)) => self
                    .hostfs(f.node.mount)?
                    .getattr(up)
                    .map(|a| a.ino)
                    .unwrap_or(own),
                None => own,
            },
        };
        let mut out = vec![
            DirEntry {
                ino: own,
                ftype: FileType::Directory,
                name: b".".to_vec(),
            },
            DirEntry {
                ino: parent,
                ftype: FileType::Directory,
                name: b"..".to_vec(),
            },
        ];
        out.extend(self.readdir_node(&f.node)?);
        Ok(out)
    }
}
