//! Character devices and the `/proc/self/fd` magic links through the
//! system calls: I/O results, errno values, `stat` fields in every layout,
//! `lseek`, shell-style `> /dev/null` opens, `/dev/tty`, `/dev/std*`.

use crate::abi::Abi;
use crate::console::Console;
use crate::errno::Errno;
use crate::testutil::*;
use crate::uapi::*;

fn fl(v: u32) -> u64 {
    u64::from(v)
}

/// `open(path, flags, 0666)` as a shell's `>` redirection does it.
fn redirect(t: &mut T, path: &str) -> u64 {
    t.open(path, O_WRONLY | O_CREAT | O_TRUNC) as u64
}

#[test]
fn dev_null() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let fd = t.open("/dev/null", O_RDWR) as u64;
        t.write_mem(BUF, b"keep");
        assert_eq!(t.ok("read", &[fd, BUF, 4]), 0);
        assert_eq!(t.read(BUF, 4), b"keep");
        // write_null neither reads the buffer nor limits the count.
        assert_eq!(t.ok("write", &[fd, BAD, 10]), 10);
        assert_eq!(t.ok("write", &[fd, BUF, 0]), 0);
        assert_eq!(t.ok("read", &[fd, BAD, 10]), 0);
        assert_eq!(t.ok("pread64", &[fd, BUF, 4, 7, 0]), 0);
        // A `> /dev/null` redirection: the node exists, O_CREAT creates
        // nothing, O_TRUNC truncates nothing (a user's redirection is in
        // the VFS tests).
        let w = redirect(&mut t, "/dev/null");
        let msg = t.s("gone\n");
        assert_eq!(t.ok("write", &[w, msg, 5]), 5);
        assert!(t.cap.stdout().is_empty());
        let old = t.s("/dev/null");
        assert_eq!(t.ok("creat", &[old, 0o644]), w as i64 + 1);
    }
}

#[test]
fn dev_zero_and_full() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let z = t.open("/dev/zero", O_RDWR) as u64;
        t.write_mem(BUF, &[0xaa; 16]);
        assert_eq!(t.ok("read", &[z, BUF, 10]), 10);
        assert_eq!(t.read(BUF, 11), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa]);
        // Across pages, and up to the end of mapped memory.
        assert_eq!(t.ok("read", &[z, BUF + 0xff8, 0x1000]), 0x1000);
        let edge = BUF + 0x10000 - 3;
        t.write_mem(edge, b"xyz");
        assert_eq!(t.ok("read", &[z, edge, 10]), 3);
        assert_eq!(t.read(edge, 3), [0, 0, 0]);
        t.err("read", &[z, BAD, 10], Errno::EFAULT);
        assert_eq!(t.ok("read", &[z, BUF, 0]), 0);
        assert_eq!(t.ok("write", &[z, BAD, 7]), 7);
        assert_eq!(t.ok("pread64", &[z, BUF, 3, 1 << 20, 0]), 3);
        // readv fills every iovec.
        let mut iov = Vec::new();
        for (base, len) in [(BUF + 0x100, 2u64), (BUF + 0x200, 3)] {
            match abi {
                Abi::X86_64 => {
                    iov.extend_from_slice(&base.to_le_bytes());
                    iov.extend_from_slice(&len.to_le_bytes());
                }
                Abi::I386 => {
                    iov.extend_from_slice(&(base as u32).to_le_bytes());
                    iov.extend_from_slice(&(len as u32).to_le_bytes());
                }
            }
        }
        t.write_mem(BUF2, &iov);
        assert_eq!(t.ok("readv", &[z, BUF2, 2]), 5);

        let f = t.open("/dev/full", O_RDWR) as u64;
        t.write_mem(BUF, &[0xaa; 4]);
        assert_eq!(t.ok("read", &[f, BUF, 4]), 4);
        assert_eq!(t.read(BUF, 4), [0; 4]);
        t.err("write", &[f, BUF, 4], Errno::ENOSPC);
        t.err("write", &[f, BUF, 0], Errno::ENOSPC);
        t.err("write", &[f, BAD, 4], Errno::ENOSPC);
        let w = redirect(&mut t, "/dev/full");
        t.err("write", &[w, BUF, 1], Errno::ENOSPC);
    }
}

#[test]
fn dev_random_and_urandom_use_the_kernel_generator() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let mut expect = t.sys.random.clone();
        let u = t.open("/dev/urandom", O_RDONLY) as u64;
        let r = t.open("/dev/random", O_RDONLY) as u64;
        assert_eq!(t.ok("read", &[u, BUF, 16]), 16);
        let mut want = [0u8; 16];
        expect.fill(&mut want);
        assert_eq!(t.read(BUF, 16), want);
        assert_eq!(t.ok("read", &[r, BUF, 8]), 8);
        let mut want = [0u8; 8];
        expect.fill(&mut want);
        assert_eq!(t.read(BUF, 8), want);
        // getrandom continues the same stream.
        assert_eq!(t.ok("getrandom", &[BUF, 8, 0]), 8);
        expect.fill(&mut want);
        assert_eq!(t.read(BUF, 8), want);
        t.err("read", &[u, BAD, 8], Errno::EFAULT);
        // Writes are accepted; the buffer is read.
        let w = t.open("/dev/urandom", O_WRONLY) as u64;
        assert_eq!(t.ok("write", &[w, BUF, 100]), 100);
        t.err("write", &[w, BAD, 4], Errno::EFAULT);
        let edge = BUF + 0x10000 - 3;
        assert_eq!(t.ok("write", &[w, edge, 10]), 3);
    }
}

#[test]
fn lseek_on_devices_returns_zero() {
    for abi in ABIS {
        let mut t = T::new(abi);
        for dev in [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
        ] {
            let fd = t.open(dev, O_RDONLY) as u64;
            assert_eq!(t.ok("read", &[fd, BUF, 10]) % 10, 0, "{dev}");
            assert_eq!(t.ok("lseek", &[fd, 0, fl(SEEK_CUR)]), 0, "{dev}");
            assert_eq!(t.ok("lseek", &[fd, 100, fl(SEEK_SET)]), 0, "{dev}");
            assert_eq!(t.ok("lseek", &[fd, 5, fl(SEEK_END)]), 0, "{dev}");
            assert_eq!(t.ok("lseek", &[fd, (-5i64) as u64, fl(SEEK_SET)]), 0);
            if abi == Abi::I386 {
                t.write_mem(BUF2, &[0xff; 8]);
                assert_eq!(t.ok("_llseek", &[fd, 1, 2, BUF2, fl(SEEK_SET)]), 0);
                assert_eq!(t.u64_at(BUF2), 0);
            }
        }
    }
}

/// `(st_mode, st_rdev, st_size)` from a stat buffer of call `name`.
fn mode_rdev_size(t: &mut T, name: &str, abi: Abi) -> (u32, u64, u64) {
    match (name, abi) {
        ("statx", _) => {
            let mode = u32::from(u16::from_le_bytes([
                t.read(BUF + 28, 1)[0],
                t.read(BUF + 29, 1)[0],
            ]));
            let (ma, mi) = (t.u32_at(BUF + 128), t.u32_at(BUF + 132));
            (mode, u64::from(ma << 8 | mi), t.u64_at(BUF + 40))
        }
        ("stat64" | "fstat64" | "fstatat64", _) => {
            (t.u32_at(BUF + 16), t.u64_at(BUF + 32), t.u64_at(BUF + 44))
        }
        (_, Abi::X86_64) => (t.u32_at(BUF + 24), t.u64_at(BUF + 40), t.u64_at(BUF + 48)),
        (_, Abi::I386) => {
            let mode = t.u32_at(BUF + 8) & 0xffff;
            (
                mode,
                u64::from(t.u32_at(BUF + 16)),
                u64::from(t.u32_at(BUF + 20)),
            )
        }
    }
}

#[test]
fn stat_fields_of_device_nodes() {
    for abi in ABIS {
        let mut t = T::new(abi);
        for (dev, rdev) in [
            ("/dev/null", 0x103u64),
            ("/dev/zero", 0x105),
            ("/dev/full", 0x107),
            ("/dev/random", 0x108),
            ("/dev/urandom", 0x109),
            ("/dev/tty", 0x500),
        ] {
            let want = (S_IFCHR | 0o666, rdev, 0);
            let p = t.s(dev);
            let mut calls: Vec<(&str, Vec<u64>)> = vec![
                ("stat", vec![p, BUF]),
                ("lstat", vec![p, BUF]),
                ("statx", vec![FDCWD, p, 0, 0x7ff, BUF]),
            ];
            match abi {
                Abi::X86_64 => calls.push(("newfstatat", vec![FDCWD, p, BUF, 0])),
                Abi::I386 => {
                    calls.push(("stat64", vec![p, BUF]));
                    calls.push(("fstatat64", vec![FDCWD, p, BUF, 0]));
                }
            }
            if dev != "/dev/tty" {
                let fd = t.open(dev, O_RDONLY) as u64;
                calls.push(("fstat", vec![fd, BUF]));
                calls.push((
                    "statx",
                    vec![fd, t_empty(&mut t), fl(AT_EMPTY_PATH), 0x7ff, BUF],
                ));
                if abi == Abi::I386 {
                    calls.push(("fstat64", vec![fd, BUF]));
                }
            }
            for (name, args) in calls {
                t.write_mem(BUF, &[0xee; 256]);
                t.ok(name, &args);
                assert_eq!(
                    mode_rdev_size(&mut t, name, abi),
                    want,
                    "{abi:?} {name} {dev}"
                );
            }
        }
    }
}

fn t_empty(t: &mut T) -> u64 {
    t.s("")
}

#[test]
fn tty_ioctls_and_fionread_on_devices_are_enotty() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let fd = t.open("/dev/null", O_RDWR) as u64;
        t.err("ioctl", &[fd, fl(TCGETS), BUF], Errno::ENOTTY);
        t.err("ioctl", &[fd, fl(TIOCGWINSZ), BUF], Errno::ENOTTY);
        t.err("ioctl", &[fd, fl(FIONREAD), BUF], Errno::ENOTTY);
        // Even when the console is a terminal.
        t.sys.console = Console::null().with_tty(24, 80);
        t.err("ioctl", &[fd, fl(TCGETS), BUF], Errno::ENOTTY);
        // Descriptor-level ioctls work as on any file.
        t.ok("ioctl", &[fd, fl(FIOCLEX), 0]);
        assert_eq!(t.ok("fcntl", &[fd, fl(F_GETFD), 0]), 1);
        // Devices are neither directories nor truncatable.
        t.err("getdents64", &[fd, BUF, 4096], Errno::ENOTDIR);
        t.err("ftruncate", &[fd, 0], Errno::EINVAL);
        let p = t.s("/dev/zero");
        t.err("truncate", &[p, 0], Errno::EINVAL);
    }
}

#[test]
fn dev_tty_needs_a_terminal() {
    for abi in ABIS {
        let mut t = T::with_stdin(abi, b"typed\n");
        let p = t.s("/dev/tty");
        t.err("openat", &[FDCWD, p, fl(O_RDWR), 0], Errno::ENXIO);
        // With a terminal console /dev/tty is the console: writes reach the
        // output, reads take the input, and it is a terminal.
        let (console, cap) = Console::capture(b"typed\n");
        t.sys.console = console.with_tty(24, 80);
        let fd = t.open("/dev/tty", O_RDWR) as u64;
        let msg = t.s("prompt> ");
        assert_eq!(t.ok("write", &[fd, msg, 8]), 8);
        assert_eq!(cap.stdout(), b"prompt> ");
        assert_eq!(t.ok("read", &[fd, BUF, 100]), 6);
        assert_eq!(t.read(BUF, 6), b"typed\n");
        t.ok("ioctl", &[fd, fl(TCGETS), BUF]);
        t.err("lseek", &[fd, 0, fl(SEEK_SET)], Errno::ESPIPE);
    }
}

#[test]
fn dev_std_links_reach_the_console() {
    for abi in ABIS {
        let mut t = T::with_stdin(abi, b"from stdin");
        // `echo err > /dev/stderr`.
        let e = redirect(&mut t, "/dev/stderr");
        let msg = t.s("err\n");
        assert_eq!(t.ok("write", &[e, msg, 4]), 4);
        assert_eq!(t.cap.stderr(), b"err\n");
        let o = t.open("/dev/stdout", O_WRONLY | O_APPEND) as u64;
        assert_eq!(t.ok("write", &[o, msg, 4]), 4);
        assert_eq!(t.cap.stdout(), b"err\n");
        // A new description: its flags are its own.
        assert_eq!(
            t.ok("fcntl", &[o, fl(F_GETFL), 0]) as u32 & O_APPEND,
            O_APPEND
        );
        assert_eq!(t.ok("fcntl", &[1, fl(F_GETFL), 0]) as u32 & O_APPEND, 0);
        // `cat /dev/stdin`.
        let i = t.open("/dev/stdin", O_RDONLY) as u64;
        assert_eq!(t.ok("read", &[i, BUF, 100]), 10);
        assert_eq!(t.read(BUF, 10), b"from stdin");
        // /dev/fd/N and /proc/<pid>/fd/N.
        let f = t.open("/dev/fd/2", O_WRONLY) as u64;
        assert_eq!(t.ok("write", &[f, msg, 4]), 4);
        let g = t.open("/proc/42/fd/1", O_WRONLY) as u64;
        assert_eq!(t.ok("write", &[g, msg, 4]), 4);
        assert_eq!(t.cap.stderr(), b"err\nerr\n");
        assert_eq!(t.cap.stdout(), b"err\nerr\n");
        // stat follows to the console (a FIFO when it is not a terminal).
        let p = t.s("/dev/stdout");
        t.ok("stat", &[p, BUF]);
        assert_eq!(mode_rdev_size(&mut t, "stat", abi).0 & S_IFMT, S_IFIFO);
        t.ok("lstat", &[p, BUF]);
        assert_eq!(mode_rdev_size(&mut t, "lstat", abi).0 & S_IFMT, S_IFLNK);
    }
}

#[test]
fn proc_self_fd_errors() {
    for abi in ABIS {
        let mut t = T::new(abi);
        for (path, flags, errno) in [
            ("/proc/self/fd/7", O_RDONLY, Errno::ENOENT),
            ("/dev/fd/7", O_RDONLY, Errno::ENOENT),
            ("/proc/43/fd/1", O_WRONLY, Errno::ENOENT),
            ("/proc/self/fd/01", O_WRONLY, Errno::ENOENT),
            ("/proc/self/fd/+1", O_WRONLY, Errno::ENOENT),
            ("/proc/self/fd/1", O_WRONLY | O_NOFOLLOW, Errno::ELOOP),
            (
                "/proc/self/fd/1",
                O_WRONLY | O_CREAT | O_EXCL,
                Errno::EEXIST,
            ),
            ("/dev/stdout", O_WRONLY | O_NOFOLLOW, Errno::ELOOP),
            ("/dev/stdout", O_WRONLY | O_CREAT | O_EXCL, Errno::EEXIST),
            ("/dev/stdout", O_WRONLY | O_DIRECTORY, Errno::ENOTDIR),
            ("/dev/fd/1/x", O_RDONLY, Errno::ENOTDIR),
        ] {
            let p = t.s(path);
            t.err("openat", &[FDCWD, p, fl(flags), 0o644], errno);
        }
        let p = t.s("/dev/fd/9");
        t.err("stat", &[p, BUF], Errno::ENOENT);
    }
}

#[test]
fn proc_self_fd_reopens_vfs_files_and_pipes() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/tmp/f", b"abcdef", 0o644).unwrap();
        let a = t.open("/tmp/f", O_RDONLY) as u64;
        assert_eq!(t.ok("read", &[a, BUF, 2]), 2);
        // A new description with its own offset.
        let b = t.open(&format!("/proc/self/fd/{a}"), O_RDONLY) as u64;
        assert_eq!(t.ok("read", &[b, BUF, 6]), 6);
        assert_eq!(t.read(BUF, 6), b"abcdef");
        assert_eq!(t.ok("read", &[a, BUF, 6]), 4);
        // Opening for writing through the link is checked and truncates.
        let c = redirect(&mut t, &format!("/dev/fd/{a}"));
        let msg = t.s("xy");
        assert_eq!(t.ok("write", &[c, msg, 2]), 2);
        assert_eq!(t.sys.vfs.read_file(b"/tmp/f").unwrap(), b"xy");
        t.sys.vfs.write_file(b"/tmp/ro", b"r", 0o444).unwrap();
        let ro = t.open("/tmp/ro", O_RDONLY) as u64;
        let p = t.s(&format!("/dev/fd/{ro}"));
        // stat through the link.
        t.ok("stat", &[p, BUF]);
        assert_eq!(mode_rdev_size(&mut t, "stat", abi), (S_IFREG | 0o444, 0, 1));
        // A directory descriptor continues the lookup.
        let d = t.open("/tmp", O_RDONLY | O_DIRECTORY) as u64;
        let e = t.open(&format!("/dev/fd/{d}/f"), O_RDONLY) as u64;
        assert_eq!(t.ok("read", &[e, BUF, 10]), 2);
        let q = t.s(&format!("/proc/self/fd/{d}/ro"));
        t.ok("stat", &[q, BUF]);
        assert_eq!(mode_rdev_size(&mut t, "stat", abi).2, 1);
        // Pipes: each access mode gets the matching end.
        t.ok("pipe", &[BUF2]);
        let (r, w) = (u64::from(t.u32_at(BUF2)), u64::from(t.u32_at(BUF2 + 4)));
        let w2 = t.open(&format!("/proc/self/fd/{r}"), O_WRONLY) as u64;
        let r2 = t.open(&format!("/dev/fd/{w}"), O_RDONLY) as u64;
        let hi = t.s("hi");
        assert_eq!(t.ok("write", &[w2, hi, 2]), 2);
        assert_eq!(t.ok("read", &[r2, BUF, 10]), 2);
        assert_eq!(t.read(BUF, 2), b"hi");
        // The pipe's ends stay open while the new descriptions are.
        t.ok("close", &[w]);
        t.ok("close", &[r]);
        assert_eq!(t.ok("write", &[w2, hi, 2]), 2);
        t.ok("close", &[w2]);
        assert_eq!(t.ok("read", &[r2, BUF, 10]), 2);
        assert_eq!(t.ok("read", &[r2, BUF, 10]), 0);
    }
}

#[test]
fn readlink_and_access_through_dev_links() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let p = t.s("/dev/fd/1");
        assert_eq!(t.ok("readlink", &[p, BUF, 100]), 8);
        assert_eq!(t.read(BUF, 8), b"pipe:[1]");
        // The plain symlink reads as itself.
        let s = t.s("/dev/stderr");
        assert_eq!(t.ok("readlink", &[s, BUF, 100]), 15);
        assert_eq!(t.read(BUF, 15), b"/proc/self/fd/2");
        let f = t.open("/tmp", O_RDONLY) as u64;
        let q = t.s(&format!("/dev/fd/{f}"));
        assert_eq!(t.ok("readlink", &[q, BUF, 100]), 4);
        assert_eq!(t.read(BUF, 4), b"/tmp");
        t.sys
            .vfs
            .symlink(b"target", b"/", b"/tmp/l", &crate::vfs::Cred::ROOT)
            .unwrap();
        let r = t.s(&format!("/dev/fd/{f}/l"));
        assert_eq!(t.ok("readlink", &[r, BUF, 100]), 6);
        let bad = t.s("/dev/fd/9");
        t.err("readlink", &[bad, BUF, 100], Errno::ENOENT);
        // access follows the links.
        let i = t.s("/dev/stdin");
        t.ok("access", &[i, fl(R_OK | W_OK)]);
        t.ok("faccessat", &[FDCWD, i, fl(R_OK)]);
        t.err("access", &[bad, fl(R_OK)], Errno::ENOENT);
        t.sys.vfs.write_file(b"/tmp/ro", b"r", 0o444).unwrap();
        let ro = t.open("/tmp/ro", O_RDONLY) as u64;
        let p = t.s(&format!("/dev/fd/{ro}"));
        // Root passes read and write checks but needs an x bit.
        t.ok("access", &[p, fl(R_OK | W_OK)]);
        t.err("access", &[p, fl(X_OK)], Errno::EACCES);
        let n = t.s("/dev/null");
        t.ok("access", &[n, fl(R_OK | W_OK)]);
        t.err("access", &[n, fl(X_OK)], Errno::EACCES);
    }
}

#[test]
fn lstat_of_a_magic_link() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let rw = t.open("/tmp/f", O_RDWR | O_CREAT) as u64;
        for (path, mode) in [
            ("/proc/self/fd/1".to_string(), S_IFLNK | 0o300),
            ("/dev/fd/0".to_string(), S_IFLNK | 0o500),
            (format!("/proc/42/fd/{rw}"), S_IFLNK | 0o700),
        ] {
            let p = t.s(&path);
            t.ok("lstat", &[p, BUF]);
            assert_eq!(
                mode_rdev_size(&mut t, "lstat", abi),
                (mode, 0, 64),
                "{path}"
            );
        }
        // The /dev link itself is an ordinary symlink; following reaches
        // the file.
        let p = t.s("/dev/stdout");
        t.ok("lstat", &[p, BUF]);
        assert_eq!(
            mode_rdev_size(&mut t, "lstat", abi),
            (S_IFLNK | 0o777, 0, 15)
        );
        let q = t.s(&format!("/dev/fd/{rw}"));
        t.ok("stat", &[q, BUF]);
        assert_eq!(mode_rdev_size(&mut t, "stat", abi).0, S_IFREG | 0o644);
        let nofollow = fl(AT_SYMLINK_NOFOLLOW);
        t.ok("statx", &[FDCWD, q, nofollow, 0x7ff, BUF]);
        assert_eq!(
            mode_rdev_size(&mut t, "statx", abi),
            (S_IFLNK | 0o700, 0, 64)
        );
        let bad = t.s("/proc/self/fd/9");
        t.err("lstat", &[bad, BUF], Errno::ENOENT);
    }
}
