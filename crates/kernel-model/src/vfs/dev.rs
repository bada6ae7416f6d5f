//! Character devices: the memory devices of Linux's `drivers/char/mem.c`
//! (`/dev/null`, `/dev/zero`, `/dev/full`), the random devices of
//! `drivers/char/random.c` (`/dev/random`, `/dev/urandom`) and the
//! controlling terminal `/dev/tty` (`drivers/tty/tty_io.c`), with the
//! device numbers of `Documentation/admin-guide/devices.txt`.
//!
//! A device is chosen by the device number of the special file opened
//! (`chrdev_open`), whatever filesystem holds the node: the nodes the boot
//! filesystem creates in `/dev` ([`Vfs::populate_dev`]), nodes of a host
//! mount (whose device numbers come from the host; the host device is
//! never opened) and nodes made with [`Vfs::mknod`]. A character device
//! number no driver here claims is `ENXIO`, as Linux's `chrdev_open` gives
//! for an unregistered major.
//!
//! # Semantics (Linux's)
//! - `null`: reads give end of file, writes swallow everything (without
//!   reading the buffer: `write_null` returns the count).
//! - `zero`: reads give zero bytes, writes are swallowed like `null`'s.
//! - `full`: reads give zero bytes, writes fail with `ENOSPC`.
//! - `random`, `urandom`: reads give bytes from the kernel's deterministic
//!   generator (the one `getrandom` uses, [`crate::random`]); writes are
//!   accepted (mixed into the pool on Linux; read and dropped here).
//! - No read or write moves the file offset, and `lseek` always returns 0
//!   (`null_lseek`; the random devices' `noop_llseek` returns the offset,
//!   which stays 0). `O_TRUNC` on a device node truncates nothing.
//! - `tty` (5,0) is the calling process's controlling terminal: the
//!   system-call layer opens the console when it is a terminal and fails
//!   with `ENXIO` otherwise (`tty_open_current_tty` without a tty).
//!
//! The filesystem created at boot also holds Linux's `/dev` symlinks into
//! `/proc/self/fd` (`/dev/fd`, `/dev/stdin`, `/dev/stdout`, `/dev/stderr`,
//! as systemd-udev and Debian's `makedev` create them); the system-call
//! layer resolves those magic links.

use super::stat::{Attr, dev_major, dev_minor, makedev};
use super::{Cred, FsImpl, Handle, Node, NodeId, Vfs, VfsFile, components};
use crate::errno::Errno;
use crate::random::Rng;
use crate::uapi::*;

/// A character device driver.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Device {
    /// `/dev/null`, (1,3).
    Null,
    /// `/dev/zero`, (1,5).
    Zero,
    /// `/dev/full`, (1,7).
    Full,
    /// `/dev/random`, (1,8).
    Random,
    /// `/dev/urandom`, (1,9).
    Urandom,
    /// `/dev/tty`, (5,0): the controlling terminal.
    Tty,
}

/// The nodes of the boot filesystem's `/dev`: name, device. All are
/// `0666` and owned by root:root, as devtmpfs creates them (`mem.c`'s
/// `devlist` modes; udev may later give `/dev/tty` the group `tty`).
const NODES: [(&[u8], Device); 6] = [
    (b"null", Device::Null),
    (b"zero", Device::Zero),
    (b"full", Device::Full),
    (b"random", Device::Random),
    (b"urandom", Device::Urandom),
    (b"tty", Device::Tty),
];

/// The symlinks of the boot filesystem's `/dev`: name, target.
const LINKS: [(&[u8], &[u8]); 4] = [
    (b"fd", b"/proc/self/fd"),
    (b"stdin", b"/proc/self/fd/0"),
    (b"stdout", b"/proc/self/fd/1"),
    (b"stderr", b"/proc/self/fd/2"),
];

impl Device {
    /// The driver of character device number `rdev`, if one is modeled.
    pub const fn from_rdev(rdev: u64) -> Option<Device> {
        Some(match (dev_major(rdev), dev_minor(rdev)) {
            (1, 3) => Device::Null,
            (1, 5) => Device::Zero,
            (1, 7) => Device::Full,
            (1, 8) => Device::Random,
            (1, 9) => Device::Urandom,
            (5, 0) => Device::Tty,
            _ => return None,
        })
    }

    /// The device number (`makedev` encoding).
    pub const fn rdev(self) -> u64 {
        match self {
            Device::Null => makedev(1, 3),
            Device::Zero => makedev(1, 5),
            Device::Full => makedev(1, 7),
            Device::Random => makedev(1, 8),
            Device::Urandom => makedev(1, 9),
            Device::Tty => makedev(5, 0),
        }
    }

    /// Reads into `buf` (all of it, or nothing for `null`); returns the
    /// bytes produced. The random devices need the kernel's generator
    /// (`EINVAL` without one); `tty` is not read through here (`ENXIO`).
    pub fn read(self, buf: &mut [u8], rng: Option<&mut Rng>) -> Result<usize, Errno> {
        match self {
            Device::Null => Ok(0),
            Device::Zero | Device::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Device::Random | Device::Urandom => {
                let rng = rng.ok_or(Errno::EINVAL)?;
                rng.fill(buf);
                Ok(buf.len())
            }
            Device::Tty => Err(Errno::ENXIO),
        }
    }

    /// Writes `len` bytes; returns how many were accepted (`ENOSPC` for
    /// `full`).
    pub fn write(self, len: usize) -> Result<usize, Errno> {
        match self {
            Device::Null | Device::Zero | Device::Random | Device::Urandom => Ok(len),
            Device::Full => Err(Errno::ENOSPC),
            Device::Tty => Err(Errno::ENXIO),
        }
    }

    /// True if a write reads the caller's buffer (the random devices mix
    /// it into the pool, so a bad buffer is `EFAULT`; `null` and `zero`
    /// never look at it).
    pub const fn write_reads_buffer(self) -> bool {
        matches!(self, Device::Random | Device::Urandom)
    }
}

impl Vfs {
    /// Creates the boot filesystem's `/dev` (mode `0755`) with the device
    /// nodes and the `/proc/self/fd` symlinks (see the module docs).
    pub(super) fn populate_dev(&mut self) -> Result<(), Errno> {
        self.mkdir_all(b"/dev", 0o755)?;
        for (name, dev) in NODES {
            let mut path = b"/dev/".to_vec();
            path.extend_from_slice(name);
            self.mknod(&path, S_IFCHR | 0o666, dev.rdev())?;
        }
        for (name, target) in LINKS {
            let mut path = b"/dev/".to_vec();
            path.extend_from_slice(name);
            self.symlink(target, b"/", &path, &Cred::ROOT)?;
        }
        Ok(())
    }

    /// Embedder helper: creates device special file `path` (as root, owned
    /// by root) with type and permission `mode` (`S_IFCHR` or `S_IFBLK`)
    /// and device number `rdev`, on an in-memory filesystem (`EPERM` on a
    /// host mount; `EEXIST` if the name is taken).
    pub fn mknod(&mut self, path: &[u8], mode: u32, rdev: u64) -> Result<(), Errno> {
        if components(path).next().is_none() {
            return Err(Errno::EEXIST);
        }
        let w = self.walk(b"/", path, false, &Cred::ROOT)?;
        if w.node.is_some() || w.dot.is_some() {
            return Err(Errno::EEXIST);
        }
        let dir = w.dir()?.clone();
        let now = self.now();
        match (
            &mut self.mounts.get_mut(dir.mount).ok_or(Errno::ENOENT)?.fs,
            &dir.id,
        ) {
            (FsImpl::Mem(fs), NodeId::Mem(ino)) => {
                fs.mknod(*ino, &w.name, mode, rdev, (0, 0), now).map(|_| ())
            }
            _ => Err(Errno::EPERM),
        }
    }

    /// Opens character device node `node` (attributes `a`, permission
    /// already checked) as `chrdev_open` does: by its device number.
    pub(super) fn open_device(
        &self,
        node: Node,
        a: &Attr,
        path: Vec<u8>,
    ) -> Result<VfsFile, Errno> {
        let dev = Device::from_rdev(a.rdev).ok_or(Errno::ENXIO)?;
        Ok(VfsFile {
            node,
            handle: Handle::Device(dev),
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::stat::FileType;

    const RW: u32 = O_RDWR;

    fn vfs() -> Vfs {
        Vfs::default()
    }

    #[test]
    fn numbers_round_trip() {
        for (_, d) in NODES {
            assert_eq!(Device::from_rdev(d.rdev()), Some(d));
        }
        assert_eq!(Device::Null.rdev(), 0x103);
        assert_eq!(Device::Urandom.rdev(), 0x109);
        assert_eq!(Device::Tty.rdev(), 0x500);
        assert_eq!(Device::from_rdev(makedev(1, 1)), None); // /dev/mem
        assert_eq!(Device::from_rdev(makedev(4, 0)), None);
    }

    #[test]
    fn boot_dev_nodes_have_linux_numbers_and_modes() {
        let v = vfs();
        for (name, rdev) in [
            ("null", makedev(1, 3)),
            ("zero", makedev(1, 5)),
            ("full", makedev(1, 7)),
            ("random", makedev(1, 8)),
            ("urandom", makedev(1, 9)),
            ("tty", makedev(5, 0)),
        ] {
            let p = format!("/dev/{name}");
            let a = v.stat(b"/", p.as_bytes(), true, &Cred::ROOT).unwrap();
            assert_eq!(a.mode, S_IFCHR | 0o666, "{name}");
            assert_eq!(a.file_type(), Some(FileType::CharDevice));
            assert_eq!(a.rdev, rdev, "{name}");
            assert_eq!((a.uid, a.gid), (0, 0), "{name}");
            assert_eq!((a.size, a.blocks, a.nlink), (0, 0, 1), "{name}");
        }
        let d = v.stat(b"/", b"/dev", true, &Cred::ROOT).unwrap();
        assert_eq!(d.mode, S_IFDIR | 0o755);
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            let p = format!("/dev/{name}");
            let a = v.stat(b"/", p.as_bytes(), false, &Cred::ROOT).unwrap();
            assert!(a.is_symlink());
            assert_eq!(
                v.readlink(b"/", p.as_bytes(), &Cred::ROOT).unwrap(),
                target.as_bytes()
            );
        }
    }

    #[test]
    fn device_io() {
        let mut buf = [7u8; 5];
        assert_eq!(Device::Null.read(&mut buf, None), Ok(0));
        assert_eq!(buf, [7; 5]);
        assert_eq!(Device::Zero.read(&mut buf, None), Ok(5));
        assert_eq!(buf, [0; 5]);
        buf = [7; 5];
        assert_eq!(Device::Full.read(&mut buf, None), Ok(5));
        assert_eq!(buf, [0; 5]);
        assert_eq!(Device::Urandom.read(&mut buf, None), Err(Errno::EINVAL));
        let mut rng = Rng::new(1);
        let mut want = [0u8; 5];
        Rng::new(1).fill(&mut want);
        assert_eq!(Device::Urandom.read(&mut buf, Some(&mut rng)), Ok(5));
        assert_eq!(buf, want);
        assert_eq!(Device::Random.read(&mut buf, Some(&mut rng)), Ok(5));
        assert_ne!(buf, want);
        for d in [Device::Null, Device::Zero, Device::Random, Device::Urandom] {
            assert_eq!(d.write(123), Ok(123));
        }
        assert_eq!(Device::Full.write(1), Err(Errno::ENOSPC));
        assert_eq!(Device::Tty.read(&mut buf, None), Err(Errno::ENXIO));
    }

    #[test]
    fn open_read_write_through_the_vfs() {
        let mut v = vfs();
        let user = Cred {
            uid: 1000,
            gid: 1000,
        };
        let f = v
            .open(b"/", b"/dev/null", RW | O_CREAT | O_TRUNC, 0o644, &user)
            .unwrap();
        assert!(matches!(f.handle, Handle::Device(Device::Null)));
        assert_eq!(f.path, b"/dev/null");
        let mut buf = [1u8; 4];
        assert_eq!(v.read(&f, 0, &mut buf), Ok(0));
        assert_eq!(v.write(&f, 99, b"abc"), Ok(3));
        assert_eq!(v.size(&f), Ok(0));
        let a = v.fstat(&f).unwrap();
        assert_eq!((a.mode, a.rdev, a.size), (S_IFCHR | 0o666, 0x103, 0));
        let z = v.open(b"/dev", b"zero", O_RDONLY, 0, &user).unwrap();
        assert_eq!(v.read(&z, 0, &mut buf), Ok(4));
        assert_eq!(buf, [0; 4]);
        let full = v.open(b"/", b"/dev/full", O_WRONLY, 0, &user).unwrap();
        assert_eq!(v.write(&full, 0, b"x"), Err(Errno::ENOSPC));
        // O_EXCL on an existing node, O_DIRECTORY on a device.
        assert_eq!(
            v.open(b"/", b"/dev/null", O_WRONLY | O_CREAT | O_EXCL, 0, &user)
                .unwrap_err(),
            Errno::EEXIST
        );
        assert_eq!(
            v.open(b"/", b"/dev/null", O_RDONLY | O_DIRECTORY, 0, &user)
                .unwrap_err(),
            Errno::ENOTDIR
        );
        // The tty node opens as a device; the system-call layer decides.
        let t = v.open(b"/", b"/dev/tty", RW, 0, &user).unwrap();
        assert!(matches!(t.handle, Handle::Device(Device::Tty)));
    }

    #[test]
    fn permissions_and_unknown_devices() {
        let mut v = vfs();
        let user = Cred {
            uid: 1000,
            gid: 1000,
        };
        v.mknod(b"/dev/mem", S_IFCHR | 0o640, makedev(1, 1))
            .unwrap();
        assert_eq!(
            v.open(b"/", b"/dev/mem", O_RDONLY, 0, &user).unwrap_err(),
            Errno::EACCES
        );
        assert_eq!(
            v.open(b"/", b"/dev/mem", O_RDONLY, 0, &Cred::ROOT)
                .unwrap_err(),
            Errno::ENXIO
        );
        v.mknod(b"/tmp/n2", S_IFCHR | 0o600, makedev(1, 3)).unwrap();
        assert_eq!(
            v.open(b"/", b"/tmp/n2", O_WRONLY, 0, &user).unwrap_err(),
            Errno::EACCES
        );
        let f = v.open(b"/", b"/tmp/n2", O_WRONLY, 0, &Cred::ROOT).unwrap();
        assert!(matches!(f.handle, Handle::Device(Device::Null)));
        assert_eq!(v.mknod(b"/tmp/n2", S_IFCHR, 0), Err(Errno::EEXIST));
        assert_eq!(v.mknod(b"/tmp/r", S_IFREG, 0), Err(Errno::EINVAL));
        // Truncating a device is EINVAL; a device is not executable.
        assert_eq!(
            v.truncate(b"/", b"/dev/null", 0, &Cred::ROOT),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn device_nodes_unlink_and_rename_like_files() {
        let mut v = vfs();
        let f = v
            .open(b"/", b"/dev/zero", O_RDONLY, 0, &Cred::ROOT)
            .unwrap();
        v.rename(b"/", b"/dev/zero", b"/", b"/tmp/z", 0, &Cred::ROOT)
            .unwrap();
        let a = v.stat(b"/", b"/tmp/z", false, &Cred::ROOT).unwrap();
        assert_eq!(a.rdev, makedev(1, 5));
        assert_eq!(
            v.stat(b"/", b"/dev/zero", false, &Cred::ROOT).unwrap_err(),
            Errno::ENOENT
        );
        v.unlink(b"/", b"/tmp/z", &Cred::ROOT).unwrap();
        // The open description keeps working.
        let mut buf = [5u8; 2];
        assert_eq!(v.read(&f, 0, &mut buf), Ok(2));
        assert_eq!(buf, [0; 2]);
        // A user may not remove root's nodes from the non-sticky /dev.
        let user = Cred {
            uid: 1000,
            gid: 1000,
        };
        assert_eq!(
            v.unlink(b"/", b"/dev/null", &user).unwrap_err(),
            Errno::EACCES
        );
        // `/dev/null` can be replaced by a regular file, as on Linux.
        v.unlink(b"/", b"/dev/null", &Cred::ROOT).unwrap();
        v.write_file(b"/dev/null", b"x", 0o644).unwrap();
        assert!(
            v.stat(b"/", b"/dev/null", false, &Cred::ROOT)
                .unwrap()
                .is_reg()
        );
    }

    #[test]
    fn reopen_checks_the_new_access_mode() {
        // What opening /dev/fd/N does for a file of the VFS.
        let mut v = vfs();
        let user = Cred {
            uid: 1000,
            gid: 1000,
        };
        v.write_file(b"/tmp/ro", b"data", 0o444).unwrap();
        v.write_file(b"/tmp/rw", b"data", 0o666).unwrap();
        let ro = v.open(b"/", b"/tmp/ro", O_RDONLY, 0, &user).unwrap();
        assert_eq!(v.reopen(&ro, O_WRONLY, &user).unwrap_err(), Errno::EACCES);
        assert_eq!(
            v.reopen(&ro, O_RDONLY | O_TRUNC, &user).unwrap_err(),
            Errno::EACCES
        );
        let again = v.reopen(&ro, O_RDONLY, &user).unwrap();
        assert_eq!(again.path, b"/tmp/ro");
        let rw = v.open(b"/", b"/tmp/rw", O_RDONLY, 0, &user).unwrap();
        let t = v.reopen(&rw, O_WRONLY | O_TRUNC, &user).unwrap();
        assert_eq!(v.size(&t), Ok(0));
        let p = v.reopen(&rw, O_PATH, &user).unwrap();
        assert!(matches!(p.handle, Handle::Path));
        // A user's `> /dev/null` through /dev/fd: the device again.
        let n = v.open(b"/", b"/dev/null", O_RDONLY, 0, &user).unwrap();
        let w = v.reopen(&n, O_WRONLY | O_CREAT | O_TRUNC, &user).unwrap();
        assert!(matches!(w.handle, Handle::Device(Device::Null)));
    }

    #[test]
    fn host_device_nodes_open_the_modeled_driver() {
        let mut v = vfs();
        v.mount_host("/hostdev", std::path::Path::new("/dev"), false)
            .unwrap();
        // The host's /dev/null is never opened: its number picks the
        // driver, and the read-only mount does not stop writes to a device
        // (inode_permission's EROFS is for files, directories, symlinks).
        let f = v
            .open(b"/", b"/hostdev/null", O_WRONLY, 0, &Cred::ROOT)
            .unwrap();
        assert!(matches!(f.handle, Handle::Device(Device::Null)));
        assert_eq!(v.write(&f, 0, b"abc"), Ok(3));
        assert_eq!(v.fstat(&f).unwrap().rdev, makedev(1, 3));
    }
}
