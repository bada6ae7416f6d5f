//! Per-process file-descriptor tables over shared open file descriptions
//! (Linux's `files_struct`/`fdtable` over `struct file`).
//!
//! An [`OpenFile`] (offset, status flags, what it refers to) is shared by
//! every descriptor that `dup`, `fork` or `SCM_RIGHTS` would share on
//! Linux; the close-on-exec flag belongs to the descriptor. The last
//! reference to an open file going away closes it: a pipe end dropped this
//! way lets the other end see end of file or `EPIPE`.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::console::ConsoleStream;
use crate::errno::Errno;
use crate::pipe::PipeEnd;
use crate::uapi::*;
use crate::vfs::VfsFile;
use crate::vfs::memfs::lock;

/// `RLIMIT_NOFILE`'s usual soft limit: descriptors are `0..1024`.
pub const DEFAULT_NOFILE: u32 = 1024;

/// What an open file description refers to.
#[derive(Debug)]
pub enum FileObject {
    /// A file or directory of the VFS.
    Vfs(VfsFile),
    /// The read end of a pipe.
    PipeRead(PipeEnd),
    /// The write end of a pipe.
    PipeWrite(PipeEnd),
    /// A console stream.
    Console(ConsoleStream),
    /// A generated file of `/proc` (see `syscalls/procfs.rs`).
    Proc(ProcFile),
}

/// A file of `/proc` whose contents were generated when it was opened
/// (Linux generates them at each read from the start; a snapshot per open
/// reads the same for a program that reads the file once).
#[derive(Clone, Debug)]
pub struct ProcFile {
    /// The canonical path it was opened at, with the pid spelled out
    /// (`/proc/7/status`).
    pub path: Vec<u8>,
    /// The contents.
    pub data: Arc<[u8]>,
}

/// An open file description (`struct file`).
#[derive(Debug)]
pub struct OpenFile {
    /// Access mode and status flags (`O_RDWR|O_APPEND|O_NONBLOCK|...`), as
    /// `F_GETFL` reports them.
    pub flags: u32,
    /// File offset (for directories: the index of the next entry).
    pub offset: u64,
    /// The object.
    pub object: FileObject,
}

impl OpenFile {
    /// A new description with `flags` (creation-only flags are dropped).
    pub fn new(flags: u32, object: FileObject) -> OpenFile {
        OpenFile {
            flags: flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC),
            offset: 0,
            object,
        }
    }

    /// True if opened for reading.
    pub fn readable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_RDONLY | O_RDWR) && self.flags & O_PATH == 0
    }

    /// True if opened for writing.
    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR) && self.flags & O_PATH == 0
    }
}

/// A shared open file description.
#[derive(Clone, Debug)]
pub struct FileRef(Arc<Mutex<OpenFile>>);

impl FileRef {
    /// Wraps a new description.
    pub fn new(file: OpenFile) -> FileRef {
        FileRef(Arc::new(Mutex::new(file)))
    }

    /// Locks the description.
    pub fn lock(&self) -> MutexGuard<'_, OpenFile> {
        lock(&self.0)
    }

    /// True if both refer to the same description.
    pub fn same(&self, other: &FileRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Number of references (descriptors in all tables, plus transient
    /// holders).
    pub fn refs(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// A handle that does not keep the description open (`flock`'s
    /// table: a lock goes with the description's last close).
    pub fn downgrade(&self) -> WeakFileRef {
        WeakFileRef(Arc::downgrade(&self.0))
    }
}

/// A weak handle on an open file description.
#[derive(Clone, Debug)]
pub struct WeakFileRef(std::sync::Weak<Mutex<OpenFile>>);

impl WeakFileRef {
    /// True while the description is open somewhere.
    pub fn alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// True if this is `f`'s description.
    pub fn is(&self, f: &FileRef) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&f.0))
    }
}

/// One descriptor slot.
#[derive(Clone, Debug)]
pub struct FdEntry {
    /// The description.
    pub file: FileRef,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// A descriptor table.
#[derive(Clone, Debug)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    limit: u32,
}

impl Default for FdTable {
    fn default() -> FdTable {
        FdTable::new()
    }
}

impl FdTable {
    /// An empty table with the default limit of [`DEFAULT_NOFILE`].
    pub fn new() -> FdTable {
        FdTable::with_limit(DEFAULT_NOFILE)
    }

    /// An empty table allowing descriptors `0..limit`.
    pub fn with_limit(limit: u32) -> FdTable {
        FdTable {
            slots: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// A table with 0, 1 and 2 open on the console (stdin read-only,
    /// stdout and stderr write-only).
    pub fn with_console() -> FdTable {
        let mut t = FdTable::new();
        for (flags, s) in [
            (O_RDONLY, ConsoleStream::Stdin),
            (O_WRONLY, ConsoleStream::Stdout),
            (O_WRONLY, ConsoleStream::Stderr),
        ] {
            // Cannot fail: the table is empty and the limit is 1024.
            let _ = t.install(
                FileRef::new(OpenFile::new(flags, FileObject::Console(s))),
                false,
            );
        }
        t
    }

    /// The descriptor limit (`RLIMIT_NOFILE`).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    fn index(&self, fd: i32) -> Result<usize, Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        if i >= self.limit as usize {
            Err(Errno::EBADF)
        } else {
            Ok(i)
        }
    }

    /// The entry of open descriptor `fd` (`EBADF` if not open).
    pub fn get(&self, fd: i32) -> Result<&FdEntry, Errno> {
        let i = self.index(fd)?;
        self.slots
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// The description behind `fd`.
    pub fn file(&self, fd: i32) -> Result<FileRef, Errno> {
        self.get(fd).map(|e| e.file.clone())
    }

    /// True if `fd` is open.
    pub fn is_open(&self, fd: i32) -> bool {
        self.get(fd).is_ok()
    }

    /// Installs `file` at the lowest free descriptor `>= min`. `EMFILE` when
    /// none is free below the limit.
    pub fn install_from(&mut self, min: i32, file: FileRef, cloexec: bool) -> Result<i32, Errno> {
        let start = usize::try_from(min).unwrap_or(0);
        let free = (start..self.limit as usize)
            .find(|&i| self.slots.get(i).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)?;
        if free >= self.slots.len() {
            self.slots.resize(free + 1, None);
        }
        if let Some(slot) = self.slots.get_mut(free) {
            *slot = Some(FdEntry { file, cloexec });
        }
        i32::try_from(free).map_err(|_| Errno::EMFILE)
    }

    /// The lowest free descriptor, if any is below the limit.
    pub fn first_free(&self) -> Option<i32> {
        (0..self.limit as usize)
            .find(|&i| self.slots.get(i).is_none_or(Option::is_none))
            .and_then(|i| i32::try_from(i).ok())
    }

    /// Installs `file` at the lowest free descriptor.
    pub fn install(&mut self, file: FileRef, cloexec: bool) -> Result<i32, Errno> {
        self.install_from(0, file, cloexec)
    }

    /// Installs `file` at exactly `fd`, returning what was there (which the
    /// caller drops, closing it). `EBADF` if `fd` is out of range.
    pub fn install_at(
        &mut self,
        fd: i32,
        file: FileRef,
        cloexec: bool,
    ) -> Result<Option<FdEntry>, Errno> {
        let i = self.index(fd)?;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        let slot = self.slots.get_mut(i).ok_or(Errno::EBADF)?;
        Ok(slot.replace(FdEntry { file, cloexec }))
    }

    /// Closes `fd`, returning its entry.
    pub fn close(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        let i = self.index(fd)?;
        let entry = self
            .slots
            .get_mut(i)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(entry)
    }

    /// `dup`: the lowest free descriptor, sharing `old`'s description,
    /// with close-on-exec clear.
    pub fn dup(&mut self, old: i32) -> Result<i32, Errno> {
        let file = self.file(old)?;
        self.install(file, false)
    }

    /// `dup2`: `new` becomes a copy of `old` (closing what `new` was);
    /// `old == new` just checks `old`.
    pub fn dup2(&mut self, old: i32, new: i32) -> Result<i32, Errno> {
        let file = self.file(old)?;
        if old == new {
            return Ok(new);
        }
        self.install_at(new, file, false)?;
        Ok(new)
    }

    /// `dup3`: like `dup2` with `O_CLOEXEC` allowed in `flags`; `old ==
    /// new` and other flags are `EINVAL`.
    pub fn dup3(&mut self, old: i32, new: i32, flags: u32) -> Result<i32, Errno> {
        if flags & !O_CLOEXEC != 0 || old == new {
            return Err(Errno::EINVAL);
        }
        let file = self.file(old)?;
        self.install_at(new, file, flags & O_CLOEXEC != 0)?;
        Ok(new)
    }

    /// `F_DUPFD`/`F_DUPFD_CLOEXEC`: lowest free descriptor `>= min`
    /// (`EINVAL` if `min` is negative or not below the limit).
    pub fn dupfd(&mut self, old: i32, min: i64, cloexec: bool) -> Result<i32, Errno> {
        let file = self.file(old)?;
        if min < 0 || min >= i64::from(self.limit) {
            return Err(Errno::EINVAL);
        }
        self.install_from(
            i32::try_from(min).map_err(|_| Errno::EINVAL)?,
            file,
            cloexec,
        )
    }

    /// Reads `FD_CLOEXEC`.
    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.get(fd).map(|e| e.cloexec)
    }

    /// Sets or clears `FD_CLOEXEC`.
    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        let i = self.index(fd)?;
        let e = self
            .slots
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        e.cloexec = on;
        Ok(())
    }

    /// The table a forked child starts with: the same descriptors, sharing
    /// the same descriptions (offsets are shared, as on Linux).
    pub fn fork(&self) -> FdTable {
        self.clone()
    }

    /// What `execve` does: closes every close-on-exec descriptor.
    pub fn exec(&mut self) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                *slot = None;
            }
        }
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
    }

    /// Closes everything (process exit).
    pub fn close_all(&mut self) {
        self.slots.clear();
    }

    /// The open descriptors, ascending.
    pub fn open_fds(&self) -> Vec<i32> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .filter_map(|(i, _)| i32::try_from(i).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pipe::{PipeIo, pipe};

    fn console_file() -> FileRef {
        FileRef::new(OpenFile::new(
            O_WRONLY,
            FileObject::Console(ConsoleStream::Stdout),
        ))
    }

    #[test]
    fn console_table() {
        let t = FdTable::with_console();
        assert_eq!(t.open_fds(), vec![0, 1, 2]);
        assert!(t.file(0).unwrap().lock().readable());
        assert!(!t.file(0).unwrap().lock().writable());
        assert!(t.file(1).unwrap().lock().writable());
        assert_eq!(t.get(3).unwrap_err(), Errno::EBADF);
        assert_eq!(t.get(-1).unwrap_err(), Errno::EBADF);
        assert_eq!(t.get(i32::MAX).unwrap_err(), Errno::EBADF);
    }

    #[test]
    fn dup_family() {
        let mut t = FdTable::with_console();
        assert_eq!(t.dup(1).unwrap(), 3);
        assert!(t.file(3).unwrap().same(&t.file(1).unwrap()));
        assert_eq!(t.dup(9).unwrap_err(), Errno::EBADF);
        assert_eq!(t.dup2(1, 1).unwrap(), 1);
        assert_eq!(t.dup2(9, 9).unwrap_err(), Errno::EBADF);
        assert_eq!(t.dup2(1, 1024).unwrap_err(), Errno::EBADF);
        assert_eq!(t.dup2(1, -1).unwrap_err(), Errno::EBADF);
        assert_eq!(t.dup2(0, 10).unwrap(), 10);
        assert!(t.file(10).unwrap().same(&t.file(0).unwrap()));
        assert_eq!(t.dup3(1, 1, 0).unwrap_err(), Errno::EINVAL);
        assert_eq!(t.dup3(1, 5, O_NONBLOCK).unwrap_err(), Errno::EINVAL);
        assert_eq!(t.dup3(1, 5, O_CLOEXEC).unwrap(), 5);
        assert!(t.cloexec(5).unwrap());
        assert_eq!(t.dupfd(1, 7, true).unwrap(), 7);
        assert_eq!(t.dupfd(1, 7, false).unwrap(), 8);
        assert_eq!(t.dupfd(1, -1, false).unwrap_err(), Errno::EINVAL);
        assert_eq!(t.dupfd(1, 1024, false).unwrap_err(), Errno::EINVAL);
        t.exec();
        assert_eq!(t.open_fds(), vec![0, 1, 2, 3, 8, 10]);
    }

    #[test]
    fn emfile_at_the_limit() {
        let mut t = FdTable::with_limit(3);
        for i in 0..3 {
            assert_eq!(t.install(console_file(), false).unwrap(), i);
        }
        assert_eq!(t.install(console_file(), false).unwrap_err(), Errno::EMFILE);
        t.close(1).unwrap();
        assert_eq!(t.close(1).unwrap_err(), Errno::EBADF);
        assert_eq!(t.install(console_file(), false).unwrap(), 1);
    }

    #[test]
    fn closing_the_last_writer_gives_eof() {
        let mut parent = FdTable::new();
        let (r, w) = pipe(1);
        let rfd = parent
            .install(
                FileRef::new(OpenFile::new(O_RDONLY, FileObject::PipeRead(r))),
                false,
            )
            .unwrap();
        let wfd = parent
            .install(
                FileRef::new(OpenFile::new(O_WRONLY, FileObject::PipeWrite(w))),
                true,
            )
            .unwrap();
        let mut child = parent.fork();
        child.exec(); // the write end was close-on-exec
        parent.close(wfd).unwrap();
        let f = child.file(rfd).unwrap();
        let g = f.lock();
        let FileObject::PipeRead(end) = &g.object else {
            panic!("not a pipe")
        };
        let mut buf = [0u8; 4];
        assert_eq!(end.read(&mut buf), PipeIo::Done(0));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Open,
        Close(i32),
        Dup(i32),
        Dup2(i32, i32),
        DupFd(i32, i64),
        Exec,
        SetCloexec(i32, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        let fd = -2i32..40;
        prop_oneof![
            Just(Op::Open),
            fd.clone().prop_map(Op::Close),
            fd.clone().prop_map(Op::Dup),
            (fd.clone(), fd.clone()).prop_map(|(a, b)| Op::Dup2(a, b)),
            (fd.clone(), -2i64..40).prop_map(|(a, b)| Op::DupFd(a, b)),
            Just(Op::Exec),
            (fd, any::<bool>()).prop_map(|(a, b)| Op::SetCloexec(a, b)),
        ]
    }

    proptest! {
        /// Descriptors stay within the limit, new descriptors are the
        /// lowest free ones, and every open descriptor refers to a live
        /// description.
        #[test]
        fn table_invariants(ops in prop::collection::vec(op(), 0..80)) {
            let mut t = FdTable::with_limit(32);
            for op in ops {
                let before = t.open_fds();
                let lowest_free = (0..32).find(|i| !before.contains(i));
                match op {
                    Op::Open => {
                        let r = t.install(console_file(), false);
                        match lowest_free {
                            Some(l) => prop_assert_eq!(r, Ok(l)),
                            None => prop_assert_eq!(r, Err(Errno::EMFILE)),
                        }
                    }
                    Op::Close(fd) => {
                        let was_open = before.contains(&fd);
                        prop_assert_eq!(t.close(fd).is_ok(), was_open);
                    }
                    Op::Dup(fd) => {
                        if let Ok(n) = t.dup(fd) {
                            prop_assert_eq!(Some(n), lowest_free);
                            prop_assert!(t.file(n).unwrap().same(&t.file(fd).unwrap()));
                        }
                    }
                    Op::Dup2(a, b) => {
                        if let Ok(n) = t.dup2(a, b) {
                            prop_assert_eq!(n, b);
                            prop_assert!(t.file(a).unwrap().same(&t.file(b).unwrap()));
                        }
                    }
                    Op::DupFd(a, min) => {
                        if let Ok(n) = t.dupfd(a, min, true) {
                            prop_assert!(i64::from(n) >= min);
                            prop_assert!(t.cloexec(n).unwrap());
                        }
                    }
                    Op::Exec => {
                        t.exec();
                        for fd in t.open_fds() {
                            prop_assert!(!t.cloexec(fd).unwrap());
                        }
                    }
                    Op::SetCloexec(fd, on) => {
                        prop_assert_eq!(t.set_cloexec(fd, on).is_ok(), before.contains(&fd));
                    }
                }
                for fd in t.open_fds() {
                    prop_assert!((0..32).contains(&fd));
                    prop_assert!(t.file(fd).unwrap().refs() >= 1);
                }
            }
        }
    }
}
