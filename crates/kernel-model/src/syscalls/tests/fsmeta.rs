//! File metadata and filesystem calls: results and errno values.

use crate::abi::Abi;
use crate::errno::Errno;
use crate::testutil::*;
use crate::uapi::*;
use crate::vfs::Cred;
use crate::vfs::stat::Attr;

fn st(t: &mut T, p: &[u8]) -> Attr {
    t.sys.vfs.stat(b"/", p, false, &Cred::ROOT).unwrap()
}

#[test]
fn chmod_chown() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/tmp/f", b"x", 0o644).unwrap();
        let p = t.s("/tmp/f");
        t.ok("chmod", &[p, 0o4755]);
        assert_eq!(st(&mut t, b"/tmp/f").mode, S_IFREG | 0o4755);
        let missing = t.s("/tmp/nope");
        t.err("chmod", &[missing, 0o600], Errno::ENOENT);
        t.err("chmod", &[BAD, 0o600], Errno::EFAULT);
        let chown = if abi == Abi::X86_64 {
            "chown"
        } else {
            "chown32"
        };
        // chown of a regular file clears set-user-ID.
        t.ok(chown, &[p, 5, 6]);
        let a = st(&mut t, b"/tmp/f");
        assert_eq!((a.uid, a.gid, a.mode & 0o7777), (5, 6, 0o755));
        t.ok(chown, &[p, u64::from(u32::MAX), 7]);
        assert_eq!(st(&mut t, b"/tmp/f").gid, 7);
        let fd = t.open("/tmp/f", O_RDONLY) as u64;
        t.ok("fchmod", &[fd, 0o600]);
        assert_eq!(st(&mut t, b"/tmp/f").mode & 0o7777, 0o600);
        t.err("fchmod", &[99, 0o600], Errno::EBADF);
        t.ok("fchmodat", &[FDCWD, p, 0o640]);
        assert_eq!(st(&mut t, b"/tmp/f").mode & 0o7777, 0o640);
        t.err("fchownat", &[FDCWD, p, 0, 0, 1], Errno::EINVAL);
        if abi == Abi::I386 {
            // The 16-bit chown: 0xffff keeps the owner.
            t.ok("chown", &[p, 0xffff, 9]);
            let a = st(&mut t, b"/tmp/f");
            assert_eq!((a.uid, a.gid), (5, 9));
        }
        // Unprivileged: not the owner.
        let su = if abi == Abi::X86_64 {
            "setuid"
        } else {
            "setuid32"
        };
        t.ok(su, &[1000]);
        t.err("chmod", &[p, 0o777], Errno::EPERM);
        t.err(chown, &[p, 1000, 1000], Errno::EPERM);
    }
}

#[test]
fn utimensat_rules() {
    let mut t = T::new(Abi::X86_64);
    t.sys.vfs.write_file(b"/tmp/f", b"x", 0o644).unwrap();
    let p = t.s("/tmp/f");
    // atime 1577934245.5, mtime omitted.
    let mut b = Vec::new();
    for v in [1_577_934_245i64, 500_000_000, 0, (1 << 30) - 2] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    t.write_mem(BUF, &b);
    let before = st(&mut t, b"/tmp/f").mtime;
    t.ok("utimensat", &[FDCWD, p, BUF, 0]);
    let a = st(&mut t, b"/tmp/f");
    assert_eq!((a.atime.sec, a.atime.nsec), (1_577_934_245, 500_000_000));
    assert_eq!(a.mtime, before);
    // Bad nanoseconds, bad flags.
    b[8..16].copy_from_slice(&1_000_000_000i64.to_le_bytes());
    t.write_mem(BUF, &b);
    t.err("utimensat", &[FDCWD, p, BUF, 0], Errno::EINVAL);
    t.err("utimensat", &[FDCWD, p, 0, 1], Errno::EINVAL);
    t.ok("utimensat", &[FDCWD, p, 0, 0]);
    // utimes: microseconds.
    let mut tv = Vec::new();
    for v in [10i64, 5, 20, 999_999] {
        tv.extend_from_slice(&v.to_le_bytes());
    }
    t.write_mem(BUF2, &tv);
    t.ok("utimes", &[p, BUF2]);
    let a = st(&mut t, b"/tmp/f");
    assert_eq!((a.mtime.sec, a.mtime.nsec), (20, 999_999_000));
    // utime: seconds.
    t.write_mem(BUF2, &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    t.ok("utime", &[p, BUF2]);
    let a = st(&mut t, b"/tmp/f");
    assert_eq!((a.atime.sec, a.mtime.sec, a.mtime.nsec), (1, 2, 0));
    // Not the owner: explicit times EPERM, "now" needs write access.
    t.ok("setuid", &[1000]);
    t.err("utimes", &[p, BUF2], Errno::EPERM);
    t.err("utimensat", &[FDCWD, p, 0, 0], Errno::EACCES);
}

#[test]
fn mknod_kinds() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let p = t.s("/tmp/fifo");
        t.ok("mknod", &[p, u64::from(S_IFIFO | 0o666), 0]);
        // umask 022.
        assert_eq!(st(&mut t, b"/tmp/fifo").mode, S_IFIFO | 0o644);
        t.err("mknod", &[p, u64::from(S_IFIFO | 0o666), 0], Errno::EEXIST);
        let r = t.s("/tmp/reg");
        t.ok("mknodat", &[FDCWD, r, 0o600, 0]);
        assert_eq!(st(&mut t, b"/tmp/reg").mode, S_IFREG | 0o600);
        let d = t.s("/tmp/dev");
        t.ok("mknod", &[d, u64::from(S_IFCHR | 0o600), 0x103]);
        assert_eq!(st(&mut t, b"/tmp/dev").rdev, 0x103);
        let x = t.s("/tmp/x");
        t.err("mknod", &[x, u64::from(S_IFDIR | 0o600), 0], Errno::EPERM);
        t.err("mknod", &[x, 0o170600, 0], Errno::EINVAL);
        let su = if abi == Abi::X86_64 {
            "setuid"
        } else {
            "setuid32"
        };
        t.ok(su, &[1000]);
        let y = t.s("/tmp/y");
        t.err(
            "mknod",
            &[y, u64::from(S_IFCHR | 0o600), 0x103],
            Errno::EPERM,
        );
    }
}

#[test]
fn statfs_tmpfs_answer() {
    let mut t = T::new(Abi::X86_64);
    let p = t.s("/");
    t.ok("statfs", &[p, BUF]);
    assert_eq!(t.u64_at(BUF), 0x0102_1994);
    assert_eq!(t.u64_at(BUF + 8), 4096);
    // 256 MiB of 4 KiB blocks, 65536 inodes, name length 255.
    assert_eq!(t.u64_at(BUF + 16), 65536);
    assert_eq!(t.u64_at(BUF + 40), 65536);
    assert_eq!(t.u64_at(BUF + 64), 255);
    assert_eq!(t.u64_at(BUF + 72), 4096);
    t.ok("fstatfs", &[1, BUF]);
    assert_eq!(t.u64_at(BUF), 0x5049_5045);
    t.err("fstatfs", &[99, BUF], Errno::EBADF);
    let mut t = T::new(Abi::I386);
    let p = t.s("/");
    t.ok("statfs64", &[p, 84, BUF]);
    assert_eq!(t.u32_at(BUF), 0x0102_1994);
    assert_eq!(t.u32_at(BUF + 4), 4096);
    assert_eq!(t.u64_at(BUF + 8), 65536);
    t.err("statfs64", &[p, 80, BUF], Errno::EINVAL);
    t.ok("statfs", &[p, BUF]);
    assert_eq!(t.u32_at(BUF + 8), 65536);
}

#[test]
fn sync_calls() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.ok("sync", &[]);
        t.sys.vfs.write_file(b"/tmp/f", b"x", 0o644).unwrap();
        let fd = t.open("/tmp/f", O_RDONLY) as u64;
        t.ok("fsync", &[fd]);
        t.ok("fdatasync", &[fd]);
        t.ok("syncfs", &[fd]);
        t.err("fsync", &[99], Errno::EBADF);
        // The console and devices have no fsync.
        t.err("fsync", &[1], Errno::EINVAL);
        let null = t.open("/dev/null", O_RDWR) as u64;
        t.err("fdatasync", &[null], Errno::EINVAL);
        t.ok("syncfs", &[1]);
    }
}
