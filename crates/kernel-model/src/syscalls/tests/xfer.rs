//! flock and sendfile: results and errno values.

use crate::abi::Abi;
use crate::errno::Errno;
use crate::personality::{Dispatch, Wait};
use crate::testutil::*;
use crate::uapi::*;

#[test]
fn flock_per_description() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/tmp/f", b"x", 0o644).unwrap();
        let a = t.open("/tmp/f", O_RDONLY) as u64;
        let b = t.open("/tmp/f", O_RDONLY) as u64;
        t.ok("flock", &[a, 1]);
        t.ok("flock", &[b, 1]);
        // b cannot go exclusive while a shares: NB gives EAGAIN and the
        // failed conversion drops b's shared lock.
        t.err("flock", &[b, 2 | 4], Errno::EAGAIN);
        t.ok("flock", &[a, 2]);
        t.err("flock", &[b, 1 | 4], Errno::EAGAIN);
        assert!(matches!(
            t.dispatch("flock", &[b, 1]),
            Dispatch::Block(Wait::FileLock)
        ));
        // A dup shares the description (and its lock).
        let c = t.ok("dup", &[a]) as u64;
        t.ok("flock", &[c, 2 | 4]);
        t.ok("close", &[a]);
        t.err("flock", &[b, 1 | 4], Errno::EAGAIN);
        // The last close releases it.
        t.ok("close", &[c]);
        t.ok("flock", &[b, 2 | 4]);
        t.ok("flock", &[b, 8]);
        t.err("flock", &[b, 3], Errno::EINVAL);
        t.err("flock", &[b, 0], Errno::EINVAL);
        t.err("flock", &[99, 1], Errno::EBADF);
        t.ok("flock", &[1, 2]);
    }
}

#[test]
fn sendfile_copies() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys
            .vfs
            .write_file(b"/tmp/in", b"hello, world", 0o644)
            .unwrap();
        let i = t.open("/tmp/in", O_RDONLY) as u64;
        let o = t.open("/tmp/out", O_WRONLY | O_CREAT) as u64;
        assert_eq!(t.ok("sendfile", &[o, i, 0, 5]), 5);
        // The input offset moved: the next call goes on from there.
        assert_eq!(t.ok("sendfile", &[o, i, 0, 100]), 7);
        assert_eq!(t.sys.vfs.read_file(b"/tmp/out").unwrap(), b"hello, world");
        assert_eq!(t.ok("sendfile", &[o, i, 0, 100]), 0);
        // An explicit offset is updated and leaves the file offset alone.
        t.write_mem(BUF, &[7, 0, 0, 0, 0, 0, 0, 0]);
        t.ok("pipe", &[BUF2]);
        let (pr, pw) = (u64::from(t.u32_at(BUF2)), u64::from(t.u32_at(BUF2 + 4)));
        assert_eq!(t.ok("sendfile", &[pw, i, BUF, 3]), 3);
        assert_eq!(t.u32_at(BUF), 10);
        assert_eq!(t.ok("read", &[pr, BUF2, 10]), 3);
        assert_eq!(t.read(BUF2, 3), b"wor");
        if abi == Abi::I386 {
            t.write_mem(BUF, &[0, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(t.ok("sendfile64", &[pw, i, BUF, 2]), 2);
            assert_eq!(t.u64_at(BUF), 2);
        }
        // Errors: input not a regular file, unreadable input, write-only
        // output, append output, negative offset.
        t.err("sendfile", &[o, pr, 0, 1], Errno::EINVAL);
        t.err("sendfile", &[o, o, 0, 1], Errno::EBADF);
        t.err("sendfile", &[i, i, 0, 1], Errno::EBADF);
        let ap = t.open("/tmp/out", O_WRONLY | O_APPEND) as u64;
        t.err("sendfile", &[ap, i, 0, 1], Errno::EINVAL);
        t.write_mem(BUF, &[0xff; 8]);
        t.err("sendfile", &[o, i, BUF, 1], Errno::EINVAL);
        t.err("sendfile", &[o, i, BAD, 1], Errno::EFAULT);
    }
}
