//! Descriptor I/O calls: results and errno values.

use crate::abi::Abi;
use crate::console::Console;
use crate::errno::Errno;
use crate::personality::{Dispatch, Wait};
use crate::testutil::*;
use crate::uapi::*;

fn fl(v: u32) -> u64 {
    u64::from(v)
}

#[test]
fn read_write_console() {
    for abi in ABIS {
        let mut t = T::with_stdin(abi, b"input line\n");
        let msg = t.s("hello\n");
        assert_eq!(t.ok("write", &[1, msg, 6]), 6);
        assert_eq!(t.ok("write", &[2, msg, 5]), 5);
        assert_eq!(t.cap.stdout(), b"hello\n");
        assert_eq!(t.cap.stderr(), b"hello");
        assert_eq!(t.ok("read", &[0, BUF, 5]), 5);
        assert_eq!(t.read(BUF, 5), b"input");
        assert_eq!(t.ok("read", &[0, BUF, 100]), 6);
        assert_eq!(t.ok("read", &[0, BUF, 100]), 0);
        // Wrong direction, closed and negative descriptors.
        t.err("write", &[0, msg, 1], Errno::EBADF);
        t.err("read", &[1, BUF, 1], Errno::EBADF);
        t.err("write", &[9, msg, 1], Errno::EBADF);
        t.err("write", &[u64::MAX, msg, 1], Errno::EBADF);
        // Bad buffers.
        t.err("write", &[1, BAD, 4], Errno::EFAULT);
        assert_eq!(t.ok("write", &[1, BAD, 0]), 0);
        // A write running off the end of memory writes what it could read.
        let edge = BUF + 0x10000 - 3;
        t.write_mem(edge, b"xyz");
        assert_eq!(t.ok("write", &[1, edge, 10]), 3);
    }
}

#[test]
fn stdin_fault_does_not_swallow_input() {
    let mut t = T::with_stdin(Abi::X86_64, b"abc");
    t.err("read", &[0, BAD, 3], Errno::EFAULT);
    assert_eq!(t.ok("read", &[0, BUF, 3]), 3);
    assert_eq!(t.read(BUF, 3), b"abc");
}

#[test]
fn read_write_files_with_offsets() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let fd = t.open("/tmp/f", O_RDWR | O_CREAT) as u64;
        assert_eq!(fd, 3);
        let data = t.s("0123456789");
        assert_eq!(t.ok("write", &[fd, data, 10]), 10);
        assert_eq!(t.ok("read", &[fd, BUF, 4]), 0);
        assert_eq!(t.ok("lseek", &[fd, 2, fl(SEEK_SET)]), 2);
        assert_eq!(t.ok("read", &[fd, BUF, 4]), 4);
        assert_eq!(t.read(BUF, 4), b"2345");
        assert_eq!(t.ok("lseek", &[fd, (-3i64) as u64, fl(SEEK_END)]), 7);
        assert_eq!(t.ok("lseek", &[fd, 1, fl(SEEK_CUR)]), 8);
        assert_eq!(t.ok("read", &[fd, BUF, 100]), 2);
        t.err(
            "lseek",
            &[fd, (-100i64) as u64, fl(SEEK_CUR)],
            Errno::EINVAL,
        );
        t.err("lseek", &[fd, 0, 7], Errno::EINVAL);
        assert_eq!(t.ok("lseek", &[fd, 3, fl(SEEK_DATA)]), 3);
        assert_eq!(t.ok("lseek", &[fd, 3, fl(SEEK_HOLE)]), 10);
        t.err("lseek", &[fd, 10, fl(SEEK_DATA)], Errno::ENXIO);
        // Reading into a bad buffer: EFAULT, offset unchanged.
        t.ok("lseek", &[fd, 0, fl(SEEK_SET)]);
        t.err("read", &[fd, BAD, 4], Errno::EFAULT);
        assert_eq!(t.ok("lseek", &[fd, 0, fl(SEEK_CUR)]), 0);
        // Beyond the end, writes leave a hole of zeros.
        t.ok("lseek", &[fd, 12, fl(SEEK_SET)]);
        assert_eq!(t.ok("write", &[fd, data, 1]), 1);
        t.ok("lseek", &[fd, 9, fl(SEEK_SET)]);
        assert_eq!(t.ok("read", &[fd, BUF, 10]), 4);
        assert_eq!(t.read(BUF, 4), b"9\0\x000");
        // Directories cannot be read.
        let d = t.open("/tmp", O_RDONLY) as u64;
        t.err("read", &[d, BUF, 10], Errno::EISDIR);
        t.err("write", &[d, data, 1], Errno::EBADF);
    }
}

#[test]
fn o_append_and_read_only_descriptors() {
    let mut t = T::new(Abi::X86_64);
    let fd = t.open("/tmp/a", O_WRONLY | O_CREAT | O_APPEND) as u64;
    let d = t.s("ab");
    t.ok("write", &[fd, d, 2]);
    t.ok("lseek", &[fd, 0, fl(SEEK_SET)]);
    t.ok("write", &[fd, d, 2]);
    assert_eq!(t.sys.vfs.read_file(b"/tmp/a").unwrap(), b"abab");
    t.err("read", &[fd, BUF, 1], Errno::EBADF);
    let ro = t.open("/tmp/a", O_RDONLY) as u64;
    t.err("write", &[ro, d, 1], Errno::EBADF);
    t.err("ftruncate", &[ro, 0], Errno::EINVAL);
}

#[test]
fn pread_pwrite_both_abis() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let fd = t.open("/tmp/p", O_RDWR | O_CREAT) as u64;
        let d = t.s("hello world");
        // x86_64: pos in one register; i386: (lo, hi) in arguments 3 and 4.
        assert_eq!(t.ok("pwrite64", &[fd, d, 11, 4, 0]), 11);
        assert_eq!(t.ok("lseek", &[fd, 0, fl(SEEK_CUR)]), 0);
        assert_eq!(t.ok("pread64", &[fd, BUF, 5, 10, 0]), 5);
        assert_eq!(t.read(BUF, 5), b"world");
        t.err(
            "pread64",
            &[fd, BUF, 5, (-1i64) as u64, u64::MAX],
            Errno::EINVAL,
        );
        t.err("pread64", &[0, BUF, 5, 0, 0], Errno::ESPIPE);
        t.err("pwrite64", &[9, d, 1, 0, 0], Errno::EBADF);
        if abi == Abi::I386 {
            // A position of 1 << 32 is beyond the file: reads nothing.
            assert_eq!(t.ok("pread64", &[fd, BUF, 5, 0, 1]), 0);
        }
    }
}

#[test]
fn readv_writev() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let a = t.s("abc");
        let b = t.s("defgh");
        let iov = BUF2;
        let w = abi.ptr_size() as u64;
        let put = |t: &mut T, i: u64, base: u64, len: u64| {
            let off = iov + i * 2 * w;
            if w == 8 {
                t.write_mem(off, &base.to_le_bytes());
                t.write_mem(off + 8, &len.to_le_bytes());
            } else {
                t.write_mem(off, &(base as u32).to_le_bytes());
                t.write_mem(off + 4, &(len as u32).to_le_bytes());
            }
        };
        put(&mut t, 0, a, 3);
        put(&mut t, 1, b, 5);
        assert_eq!(t.ok("writev", &[1, iov, 2]), 8);
        assert_eq!(t.cap.stdout(), b"abcdefgh");
        t.err("writev", &[1, iov, 1025], Errno::EINVAL);
        t.err("writev", &[1, iov, u64::MAX], Errno::EINVAL);
        t.err("writev", &[1, BAD, 1], Errno::EFAULT);
        assert_eq!(t.ok("writev", &[1, iov, 0]), 0);
        // A bad second segment: the first one's bytes count.
        put(&mut t, 1, BAD, 5);
        assert_eq!(t.ok("writev", &[1, iov, 2]), 3);
        // readv from a file into two segments.
        let fd = t.open("/tmp/v", O_RDWR | O_CREAT) as u64;
        let src = t.s("123456789");
        t.ok("write", &[fd, src, 9]);
        t.ok("lseek", &[fd, 0, 0]);
        put(&mut t, 0, BUF, 4);
        put(&mut t, 1, BUF + 0x100, 10);
        assert_eq!(t.ok("readv", &[fd, iov, 2]), 9);
        assert_eq!(t.read(BUF, 4), b"1234");
        assert_eq!(t.read(BUF + 0x100, 5), b"56789");
        t.err("readv", &[1, iov, 2], Errno::EBADF);
    }
}

#[test]
fn i386_lseek_overflow_and_llseek() {
    let mut t = T::new(Abi::I386);
    let fd = t.open("/tmp/big", O_RDWR | O_CREAT) as u64;
    // _llseek to 4 GiB: fine, the result is written as a 64-bit value.
    assert_eq!(t.ok("_llseek", &[fd, 1, 0, BUF, fl(SEEK_SET)]), 0);
    assert_eq!(t.u64_at(BUF), 1 << 32);
    // lseek from there cannot report the offset in an off_t.
    t.err("lseek", &[fd, 0, fl(SEEK_CUR)], Errno::EOVERFLOW);
    t.err("_llseek", &[fd, 0, 0, BAD, fl(SEEK_SET)], Errno::EFAULT);
    t.err(
        "_llseek",
        &[fd, 0xffff_ffff, 0xffff_ffff, BUF, fl(SEEK_SET)],
        Errno::EINVAL,
    );
    t.err("_llseek", &[0, 0, 0, BUF, fl(SEEK_SET)], Errno::ESPIPE);
    t.err("_llseek", &[99, 0, 0, BUF, fl(SEEK_SET)], Errno::EBADF);
}

#[test]
fn close_and_dup_family() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.err("close", &[u64::MAX], Errno::EBADF);
        t.err("close", &[5], Errno::EBADF);
        assert_eq!(t.ok("dup", &[1]), 3);
        assert_eq!(t.ok("dup2", &[1, 10]), 10);
        assert_eq!(t.ok("dup2", &[10, 10]), 10);
        t.err("dup2", &[7, 7], Errno::EBADF);
        t.err("dup2", &[1, 1024], Errno::EBADF);
        assert_eq!(t.ok("dup3", &[1, 11, fl(O_CLOEXEC)]), 11);
        t.err("dup3", &[1, 1, 0], Errno::EINVAL);
        t.err("dup3", &[1, 12, 1], Errno::EINVAL);
        assert_eq!(t.ok("fcntl", &[11, fl(F_GETFD)]), 1);
        assert_eq!(t.ok("fcntl", &[10, fl(F_GETFD)]), 0);
        let msg = t.s("x");
        assert_eq!(t.ok("write", &[10, msg, 1]), 1);
        assert_eq!(t.ok("close", &[10]), 0);
        t.err("close", &[10], Errno::EBADF);
        t.err("dup", &[10], Errno::EBADF);
        // dup shares the offset.
        let fd = t.open("/tmp/d", O_RDWR | O_CREAT) as u64;
        let d2 = t.ok("dup", &[fd]) as u64;
        let s = t.s("abcdef");
        t.ok("write", &[fd, s, 6]);
        assert_eq!(t.ok("lseek", &[d2, 0, fl(SEEK_CUR)]), 6);
    }
}

#[test]
fn fcntl_commands() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let name = if abi == Abi::X86_64 {
            "fcntl"
        } else {
            "fcntl64"
        };
        let fd = t.open("/tmp/f", O_RDWR | O_CREAT | O_CLOEXEC) as u64;
        assert_eq!(t.ok(name, &[fd, fl(F_GETFD)]), 1);
        t.ok(name, &[fd, fl(F_SETFD), 0]);
        assert_eq!(t.ok(name, &[fd, fl(F_GETFD)]), 0);
        let large = if abi == Abi::X86_64 { O_LARGEFILE } else { 0 };
        assert_eq!(t.ok(name, &[fd, fl(F_GETFL)]), i64::from(O_RDWR | large));
        t.ok(
            name,
            &[
                fd,
                fl(F_SETFL),
                fl(O_APPEND | O_NONBLOCK | O_WRONLY | O_CREAT),
            ],
        );
        assert_eq!(
            t.ok(name, &[fd, fl(F_GETFL)]),
            i64::from(O_RDWR | O_APPEND | O_NONBLOCK | large)
        );
        assert_eq!(t.ok(name, &[fd, fl(F_DUPFD), 20]), 20);
        assert_eq!(t.ok(name, &[fd, fl(F_DUPFD_CLOEXEC), 20]), 21);
        assert_eq!(t.ok(name, &[21, fl(F_GETFD)]), 1);
        t.err(name, &[fd, fl(F_DUPFD), 1024], Errno::EINVAL);
        t.err(name, &[fd, fl(F_DUPFD), u64::MAX], Errno::EINVAL);
        t.err(name, &[fd, 9999], Errno::EINVAL);
        t.err(name, &[99, fl(F_GETFD)], Errno::EBADF);
        t.err(name, &[fd, fl(F_GETPIPE_SZ)], Errno::EBADF);
        t.ok(name, &[fd, fl(F_SETLK), BUF]);
        t.ok(name, &[fd, fl(F_GETLK), BUF]);
        assert_eq!(t.read(BUF, 2), [2, 0]);
        t.err(name, &[fd, fl(F_GETLK), BAD], Errno::EFAULT);
    }
}

#[test]
fn pipes() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.ok("pipe", &[BUF]);
        let (r, w) = (u64::from(t.u32_at(BUF)), u64::from(t.u32_at(BUF + 4)));
        assert_eq!((r, w), (3, 4));
        let msg = t.s("through the pipe");
        assert_eq!(t.ok("write", &[w, msg, 16]), 16);
        assert_eq!(t.ok("ioctl", &[r, fl(FIONREAD), BUF2]), 0);
        assert_eq!(t.u32_at(BUF2), 16);
        // A fault on read consumes nothing.
        t.err("read", &[r, BAD, 16], Errno::EFAULT);
        assert_eq!(t.ok("read", &[r, BUF2, 7]), 7);
        assert_eq!(t.read(BUF2, 7), b"through");
        t.err("read", &[w, BUF2, 1], Errno::EBADF);
        t.err("write", &[r, msg, 1], Errno::EBADF);
        t.err("lseek", &[r, 0, 0], Errno::ESPIPE);
        assert_eq!(t.ok("fcntl", &[r, fl(F_GETPIPE_SZ)]), 65536);
        assert_eq!(t.ok("read", &[r, BUF2, 100]), 9);
        assert!(matches!(
            t.dispatch("read", &[r, BUF2, 100]),
            Dispatch::Block(Wait::PipeReadable(_))
        ));
        t.ok("close", &[w]);
        assert_eq!(t.ok("read", &[r, BUF2, 100]), 0);
        // No readers: EPIPE and SIGPIPE.
        t.ok("pipe2", &[BUF, fl(O_NONBLOCK | O_CLOEXEC)]);
        let (r2, w2) = (u64::from(t.u32_at(BUF)), u64::from(t.u32_at(BUF + 4)));
        assert_eq!(t.ok("fcntl", &[r2, fl(F_GETFD)]), 1);
        t.err("read", &[r2, BUF2, 1], Errno::EAGAIN);
        t.ok("close", &[r2]);
        match t.dispatch("write", &[w2, msg, 1]) {
            Dispatch::ReturnSignal { ret, signal } => {
                assert_eq!(ret, Errno::EPIPE.to_return());
                assert_eq!(signal, SIGPIPE);
            }
            other => panic!("{other:?}"),
        }
        t.err("pipe2", &[BUF, 1], Errno::EINVAL);
        let before = t.task.fds.open_fds();
        t.err("pipe", &[BAD], Errno::EFAULT);
        // The failed pipe left no descriptors behind.
        assert_eq!(t.task.fds.open_fds(), before);
    }
}

#[test]
fn pipe_full_blocks_or_eagain() {
    let mut t = T::new(Abi::X86_64);
    t.ok("pipe2", &[BUF, fl(O_NONBLOCK)]);
    let w = u64::from(t.u32_at(BUF + 4));
    let big = vec![b'z'; 0x8000];
    let src = t.bytes(&big, false);
    assert_eq!(t.ok("write", &[w, src, 0x8000]), 0x8000);
    assert_eq!(t.ok("write", &[w, src, 0x8000]), 0x8000);
    t.err("write", &[w, src, 1], Errno::EAGAIN);
    t.ok("fcntl", &[w, fl(F_SETFL), 0]);
    assert!(matches!(
        t.dispatch("write", &[w, src, 1]),
        Dispatch::Block(Wait::PipeWritable(_))
    ));
}

/// A blocking write larger than the pipe's room fills it and waits; its
/// re-issue, once a reader made room, writes the rest and returns the
/// whole count (Linux's pipe_write); a non-blocking one returns the short
/// count.
#[test]
fn a_blocking_pipe_write_waits_until_all_is_written() {
    let mut t = T::new(Abi::X86_64);
    t.ok("pipe", &[BUF]);
    let (r, w) = (u64::from(t.u32_at(BUF)), u64::from(t.u32_at(BUF + 4)));
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let src = 0x100_0000;
    t.mem.map(src, 0x20000, true);
    t.write_mem(src, &data);
    assert!(matches!(
        t.dispatch("write", &[w, src, 100_000]),
        Dispatch::Block(Wait::PipeWritable(_))
    ));
    assert_eq!(
        t.task.ids.pipe_written, 0x10000,
        "the pipe's 64 KiB went in"
    );
    let dst = BUF2;
    let mut got = Vec::new();
    for _ in 0..4 {
        let n = t.ok("read", &[r, dst, 0x4000]) as usize;
        got.extend(t.read(dst, n));
    }
    assert_eq!(t.ok("write", &[w, src, 100_000]), 100_000);
    assert_eq!(t.task.ids.pipe_written, 0);
    loop {
        let n = t.ok("read", &[r, dst, 0x4000]) as usize;
        got.extend(t.read(dst, n));
        if got.len() >= 100_000 {
            break;
        }
    }
    assert_eq!(got, data);
    t.ok("fcntl", &[w, fl(F_SETFL), fl(O_NONBLOCK)]);
    assert_eq!(t.ok("write", &[w, src, 100_000]), 0x10000);
}

#[test]
fn emfile_when_the_table_is_full() {
    let mut t = T::new(Abi::X86_64);
    for _ in 3..1024 {
        t.ok("dup", &[0]);
    }
    t.err("dup", &[0], Errno::EMFILE);
    t.err("pipe", &[BUF], Errno::EMFILE);
    let p = t.s("/tmp/new");
    t.err("open", &[p, fl(O_CREAT | O_WRONLY), 0o644], Errno::EMFILE);
    // EMFILE is decided before the path is looked at: nothing was created.
    assert_eq!(
        t.sys
            .vfs
            .stat(b"/", b"/tmp/new", true, &crate::vfs::Cred::ROOT),
        Err(Errno::ENOENT)
    );
    // One free slot is not enough for a pipe, and the half-made pipe is undone.
    t.ok("close", &[1000]);
    t.err("pipe", &[BUF], Errno::EMFILE);
    assert_eq!(t.ok("dup", &[0]), 1000);
    t.ok("close", &[1000]);
    t.ok("close", &[1001]);
    t.ok("pipe", &[BUF]);
    assert_eq!((t.u32_at(BUF), t.u32_at(BUF + 4)), (1000, 1001));
    t.err("dup", &[0], Errno::EMFILE);
}

#[test]
fn ioctl_console_default_and_tty() {
    let mut t = T::new(Abi::X86_64);
    t.err("ioctl", &[1, fl(TCGETS), BUF], Errno::ENOTTY);
    t.err("ioctl", &[1, fl(TIOCGWINSZ), BUF], Errno::ENOTTY);
    t.err("ioctl", &[9, fl(TCGETS), BUF], Errno::EBADF);
    let fd = t.open("/tmp/f", O_RDWR | O_CREAT) as u64;
    t.err("ioctl", &[fd, fl(TCGETS), BUF], Errno::ENOTTY);
    let s = t.s("abc");
    t.ok("write", &[fd, s, 3]);
    t.ok("lseek", &[fd, 1, 0]);
    t.ok("ioctl", &[fd, fl(FIONREAD), BUF]);
    assert_eq!(t.u32_at(BUF), 2);
    t.ok("ioctl", &[fd, fl(FIOCLEX)]);
    assert_eq!(t.ok("fcntl", &[fd, fl(F_GETFD)]), 1);
    t.ok("ioctl", &[fd, fl(FIONCLEX)]);
    assert_eq!(t.ok("fcntl", &[fd, fl(F_GETFD)]), 0);
    t.write_mem(BUF, &1u32.to_le_bytes());
    t.ok("ioctl", &[fd, fl(FIONBIO), BUF]);
    assert_eq!(
        t.ok("fcntl", &[fd, fl(F_GETFL)]) as u32 & O_NONBLOCK,
        O_NONBLOCK
    );
    t.err("ioctl", &[fd, fl(FIONBIO), BAD], Errno::EFAULT);
    t.err("ioctl", &[fd, 0x1234], Errno::ENOTTY);
    // A terminal console.
    t.sys.console = Console::null().with_tty(24, 80);
    t.ok("ioctl", &[1, fl(TIOCGWINSZ), BUF]);
    assert_eq!(t.read(BUF, 4), [24, 0, 80, 0]);
    t.ok("ioctl", &[1, fl(TCGETS), BUF]);
    let lflag = t.u32_at(BUF + 12);
    assert_ne!(lflag & 0o2, 0, "ICANON");
    assert_eq!(t.read(BUF + 17, 1), [3], "VINTR is ^C");
    t.err("ioctl", &[1, fl(TCGETS), BAD], Errno::EFAULT);
    t.ok("ioctl", &[1, fl(TCSETS), BUF]);
    t.write_mem(BUF, &[50, 0, 132, 0, 0, 0, 0, 0]);
    t.ok("ioctl", &[1, fl(TIOCSWINSZ), BUF]);
    t.ok("ioctl", &[1, fl(TIOCGWINSZ), BUF2]);
    assert_eq!(t.read(BUF2, 4), [50, 0, 132, 0]);
    t.ok("ioctl", &[1, fl(TIOCGPGRP), BUF]);
    assert_eq!(t.u32_at(BUF), 42);
    t.err("ioctl", &[fd, fl(TCGETS), BUF], Errno::ENOTTY);
}

#[test]
fn getdents64_lists_entries() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/d/a", b"", 0o644).unwrap();
        t.sys.vfs.write_file(b"/d/bb", b"", 0o644).unwrap();
        t.sys.vfs.mkdir_all(b"/d/sub", 0o755).unwrap();
        let fd = t.open("/d", O_RDONLY | O_DIRECTORY) as u64;
        let n = t.ok("getdents64", &[fd, BUF, 4096]) as usize;
        let bytes = t.read(BUF, n);
        let mut names = Vec::new();
        let mut off = 0;
        while off < bytes.len() {
            let reclen = u16::from_le_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            let name: Vec<u8> = bytes[off + 19..off + reclen]
                .iter()
                .take_while(|&&b| b != 0)
                .copied()
                .collect();
            names.push((String::from_utf8(name).unwrap(), bytes[off + 18]));
            off += reclen;
        }
        assert_eq!(
            names,
            vec![
                (".".to_string(), DT_DIR),
                ("..".to_string(), DT_DIR),
                ("a".to_string(), DT_REG),
                ("bb".to_string(), DT_REG),
                ("sub".to_string(), DT_DIR)
            ]
        );
        assert_eq!(t.ok("getdents64", &[fd, BUF, 4096]), 0);
        // Rewind and read with a buffer fitting one entry at a time.
        t.ok("lseek", &[fd, 0, 0]);
        assert_eq!(t.ok("getdents64", &[fd, BUF, 24]), 24);
        t.err("getdents64", &[fd, BUF, 10], Errno::EINVAL);
        t.err("getdents64", &[fd, BAD, 4096], Errno::EFAULT);
        t.err("getdents64", &[1, BUF, 4096], Errno::ENOTDIR);
        t.err("getdents64", &[99, BUF, 4096], Errno::EBADF);
        let f = t.open("/d/a", O_RDONLY) as u64;
        t.err("getdents64", &[f, BUF, 4096], Errno::ENOTDIR);
    }
}
