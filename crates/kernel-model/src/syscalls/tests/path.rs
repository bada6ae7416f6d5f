//! Path-based calls: results and errno values.

use crate::abi::Abi;
use crate::errno::Errno;
use crate::personality::SimpleProcess;
use crate::testutil::*;
use crate::uapi::*;
use crate::vfs::Cred;

fn fl(v: u32) -> u64 {
    u64::from(v)
}

#[test]
fn open_errors_and_success() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let p = t.s("tmp/test.txt");
        t.err("open", &[p, fl(O_RDONLY)], Errno::ENOENT);
        assert_eq!(t.ok("open", &[p, fl(O_RDWR | O_CREAT), 0o666]), 3);
        assert_eq!(t.ok("open", &[p, fl(O_RDONLY)]), 4);
        t.err(
            "open",
            &[p, fl(O_CREAT | O_EXCL | O_WRONLY), 0o600],
            Errno::EEXIST,
        );
        let below = t.s("tmp/test.txt/x");
        t.err("open", &[below, fl(O_RDONLY)], Errno::ENOTDIR);
        let dir = t.s("/tmp");
        t.err("open", &[dir, fl(O_WRONLY)], Errno::EISDIR);
        t.err("open", &[p, fl(O_RDONLY | O_DIRECTORY)], Errno::ENOTDIR);
        t.err("open", &[BAD, fl(O_RDONLY)], Errno::EFAULT);
        let empty = t.s("");
        t.err("open", &[empty, fl(O_RDONLY)], Errno::ENOENT);
        let long = t.s(&"a/".repeat(2100));
        t.err("open", &[long, fl(O_RDONLY)], Errno::ENAMETOOLONG);
        let comp = t.s(&"n".repeat(256));
        t.err("open", &[comp, fl(O_RDONLY)], Errno::ENAMETOOLONG);
        // umask: 0666 & ~022 = 0644.
        let q = t.s("/tmp/q");
        t.ok("open", &[q, fl(O_CREAT | O_WRONLY), 0o666]);
        assert_eq!(
            t.sys
                .vfs
                .stat(b"/", b"/tmp/q", true, &Cred::ROOT)
                .unwrap()
                .mode
                & 0o777,
            0o644
        );
        // creat truncates.
        t.sys
            .vfs
            .write_file(b"/tmp/c", b"old contents", 0o644)
            .unwrap();
        let c = t.s("/tmp/c");
        let fd = t.ok("creat", &[c, 0o600]) as u64;
        assert_eq!(t.sys.vfs.read_file(b"/tmp/c").unwrap(), b"");
        t.err("read", &[fd, BUF, 1], Errno::EBADF);
        t.err(
            "open",
            &[c, fl(O_TMPFILE | O_RDWR), 0o600],
            Errno::EOPNOTSUPP,
        );
    }
}

#[test]
fn openat_relative_to_directory_fds() {
    let mut t = T::new(Abi::X86_64);
    t.sys.vfs.write_file(b"/a/b/f", b"in b", 0o644).unwrap();
    let dfd = t.open("/a/b", O_RDONLY | O_DIRECTORY) as u64;
    let f = t.s("f");
    let fd = t.ok("openat", &[dfd, f, fl(O_RDONLY)]) as u64;
    assert_eq!(t.ok("read", &[fd, BUF, 10]), 4);
    // Absolute paths ignore dirfd, even a bad one.
    let abs = t.s("/a/b/f");
    t.ok("openat", &[99, abs, fl(O_RDONLY)]);
    t.err("openat", &[99, f, fl(O_RDONLY)], Errno::EBADF);
    t.err("openat", &[fd, f, fl(O_RDONLY)], Errno::ENOTDIR);
    t.err("openat", &[1, f, fl(O_RDONLY)], Errno::ENOTDIR);
    // An O_PATH directory descriptor works as a base too.
    let pfd = t.open("/a/b", O_PATH) as u64;
    t.ok("openat", &[pfd, f, fl(O_RDONLY)]);
    t.err("read", &[pfd, BUF, 1], Errno::EBADF);
}

fn stat_mode_size(t: &mut T, abi_layout: &str, addr: u64) -> (u32, u64) {
    match abi_layout {
        "x86_64" => (t.u32_at(addr + 24), t.u64_at(addr + 48)),
        "i386" => (
            u32::from(u16::from_le_bytes(t.read(addr + 8, 2).try_into().unwrap())),
            u64::from(t.u32_at(addr + 20)),
        ),
        "stat64" => (t.u32_at(addr + 16), t.u64_at(addr + 44)),
        "statx" => (
            u32::from(u16::from_le_bytes(t.read(addr + 28, 2).try_into().unwrap())),
            t.u64_at(addr + 40),
        ),
        _ => unreachable!(),
    }
}

#[test]
fn stat_family_layouts() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/tmp/f", b"12345", 0o640).unwrap();
        t.sys
            .vfs
            .symlink(b"/tmp/f", b"/", b"/tmp/l", &Cred::ROOT)
            .unwrap();
        let f = t.s("/tmp/f");
        let l = t.s("/tmp/l");
        let native = if abi == Abi::X86_64 { "x86_64" } else { "i386" };
        t.ok("stat", &[f, BUF]);
        assert_eq!(stat_mode_size(&mut t, native, BUF), (S_IFREG | 0o640, 5));
        t.ok("lstat", &[l, BUF]);
        assert_eq!(stat_mode_size(&mut t, native, BUF), (S_IFLNK | 0o777, 6));
        t.ok("stat", &[l, BUF]);
        assert_eq!(stat_mode_size(&mut t, native, BUF).1, 5);
        let fd = t.open("/tmp/f", O_RDONLY) as u64;
        t.ok("fstat", &[fd, BUF]);
        assert_eq!(stat_mode_size(&mut t, native, BUF), (S_IFREG | 0o640, 5));
        let fstatat = if abi == Abi::X86_64 {
            "newfstatat"
        } else {
            "fstatat64"
        };
        let at_layout = if abi == Abi::X86_64 {
            "x86_64"
        } else {
            "stat64"
        };
        t.ok(fstatat, &[FDCWD, l, BUF, fl(AT_SYMLINK_NOFOLLOW)]);
        assert_eq!(stat_mode_size(&mut t, at_layout, BUF).0, S_IFLNK | 0o777);
        let empty = t.s("");
        t.ok(fstatat, &[fd, empty, BUF, fl(AT_EMPTY_PATH)]);
        assert_eq!(stat_mode_size(&mut t, at_layout, BUF), (S_IFREG | 0o640, 5));
        t.ok(fstatat, &[FDCWD, empty, BUF, fl(AT_EMPTY_PATH)]);
        assert_eq!(stat_mode_size(&mut t, at_layout, BUF).0, S_IFDIR | 0o755);
        t.err(fstatat, &[fd, empty, BUF, 0], Errno::ENOENT);
        t.err(fstatat, &[FDCWD, f, BUF, 0x8000], Errno::EINVAL);
        t.err("stat", &[f, BAD], Errno::EFAULT);
        let missing = t.s("/tmp/missing");
        t.err("stat", &[missing, BUF], Errno::ENOENT);
        t.err("fstat", &[77, BUF], Errno::EBADF);
        // statx.
        t.ok("statx", &[FDCWD, f, 0, 0x7ff, BUF]);
        assert_eq!(stat_mode_size(&mut t, "statx", BUF), (S_IFREG | 0o640, 5));
        t.ok("statx", &[fd, 0, fl(AT_EMPTY_PATH), 0x7ff, BUF]);
        assert_eq!(stat_mode_size(&mut t, "statx", BUF).1, 5);
        t.err("statx", &[FDCWD, f, 0x6000, 0x7ff, BUF], Errno::EINVAL);
        t.err("statx", &[FDCWD, f, 0, 0x8000_0000, BUF], Errno::EINVAL);
        // Pipes and the console are FIFOs.
        t.ok("fstat", &[1, BUF]);
        assert_eq!(stat_mode_size(&mut t, native, BUF).0 & S_IFMT, S_IFIFO);
        if abi == Abi::I386 {
            t.ok("stat64", &[f, BUF]);
            assert_eq!(stat_mode_size(&mut t, "stat64", BUF), (S_IFREG | 0o640, 5));
            t.ok("lstat64", &[l, BUF]);
            assert_eq!(stat_mode_size(&mut t, "stat64", BUF).0, S_IFLNK | 0o777);
            t.ok("fstat64", &[fd, BUF]);
            assert_eq!(stat_mode_size(&mut t, "stat64", BUF).1, 5);
        }
    }
}

#[test]
fn access_family() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/secret", b"", 0o600).unwrap();
        t.sys.vfs.write_file(b"/bin/tool", b"", 0o755).unwrap();
        let s = t.s("/secret");
        let tool = t.s("/bin/tool");
        let nope = t.s("/etc/ld.so.nohwcap");
        t.err("access", &[nope, fl(F_OK)], Errno::ENOENT);
        t.ok("access", &[s, fl(R_OK | W_OK)]);
        t.err("access", &[s, fl(X_OK)], Errno::EACCES);
        t.ok("access", &[tool, fl(X_OK)]);
        t.err("access", &[s, 8], Errno::EINVAL);
        t.err("access", &[BAD, 0], Errno::EFAULT);
        t.ok("faccessat", &[FDCWD, s, fl(R_OK)]);
        t.ok("faccessat2", &[FDCWD, s, fl(R_OK), fl(AT_EACCESS)]);
        t.err("faccessat2", &[FDCWD, s, fl(R_OK), 0x8000], Errno::EINVAL);
        // As an unprivileged user.
        t.proc = SimpleProcess {
            uid: 1000,
            gid: 1000,
            ..t.proc.clone()
        };
        t.err("access", &[s, fl(R_OK)], Errno::EACCES);
        t.ok("access", &[s, fl(F_OK)]);
        t.ok("access", &[tool, fl(R_OK | X_OK)]);
        t.err("access", &[tool, fl(W_OK)], Errno::EACCES);
    }
}

#[test]
fn mkdir_unlink_rmdir() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let d = t.s("/tmp/d");
        t.ok("mkdir", &[d, 0o777]);
        assert_eq!(
            t.sys
                .vfs
                .stat(b"/", b"/tmp/d", true, &Cred::ROOT)
                .unwrap()
                .mode,
            S_IFDIR | 0o755
        );
        t.err("mkdir", &[d, 0o777], Errno::EEXIST);
        let deep = t.s("/tmp/x/y");
        t.err("mkdir", &[deep, 0o777], Errno::ENOENT);
        let dfd = t.open("/tmp/d", O_RDONLY) as u64;
        let sub = t.s("sub");
        t.ok("mkdirat", &[dfd, sub, 0o700]);
        t.sys.vfs.write_file(b"/tmp/d/file", b"", 0o644).unwrap();
        let file = t.s("file");
        t.err("unlinkat", &[dfd, sub, 0], Errno::EISDIR);
        t.err("unlinkat", &[dfd, file, fl(AT_REMOVEDIR)], Errno::ENOTDIR);
        t.err("unlinkat", &[dfd, file, 1], Errno::EINVAL);
        t.ok("unlinkat", &[dfd, file, 0]);
        t.err("rmdir", &[d], Errno::ENOTEMPTY);
        t.ok("unlinkat", &[dfd, sub, fl(AT_REMOVEDIR)]);
        t.err("unlink", &[d], Errno::EISDIR);
        t.ok("rmdir", &[d]);
        t.err("rmdir", &[d], Errno::ENOENT);
        let root = t.s("/");
        t.err("rmdir", &[root], Errno::EBUSY);
        let dot = t.s("/tmp/.");
        t.err("rmdir", &[dot], Errno::EINVAL);
        t.err("unlink", &[BAD], Errno::EFAULT);
        // An unprivileged user cannot create in /.
        t.proc.uid = 1000;
        let top = t.s("/top");
        t.err("mkdir", &[top, 0o755], Errno::EACCES);
    }
}

#[test]
fn rename_link_symlink_readlink() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys.vfs.write_file(b"/tmp/a", b"A", 0o644).unwrap();
        let a = t.s("/tmp/a");
        let b = t.s("/tmp/b");
        t.ok("rename", &[a, b]);
        t.err("rename", &[a, b], Errno::ENOENT);
        let tmp = t.s("/tmp");
        // The target is an ancestor of the source.
        t.err("rename", &[b, tmp], Errno::ENOTEMPTY);
        t.sys.vfs.mkdir_all(b"/tmp/emptydir", 0o755).unwrap();
        let ed = t.s("/tmp/emptydir");
        t.err("rename", &[b, ed], Errno::EISDIR);
        let c = t.s("c");
        let dfd = t.open("/tmp", O_RDONLY) as u64;
        t.ok("renameat", &[FDCWD, b, dfd, c]);
        t.sys.vfs.write_file(b"/tmp/d", b"D", 0o644).unwrap();
        let d = t.s("d");
        t.err(
            "renameat2",
            &[dfd, c, dfd, d, fl(RENAME_NOREPLACE)],
            Errno::EEXIST,
        );
        t.err("renameat2", &[dfd, c, dfd, d, 8], Errno::EINVAL);
        t.ok("renameat2", &[dfd, c, dfd, d, 0]);
        assert_eq!(t.sys.vfs.read_file(b"/tmp/d").unwrap(), b"A");
        // link / linkat
        let h = t.s("/tmp/h");
        let dd = t.s("/tmp/d");
        t.ok("link", &[dd, h]);
        t.err("link", &[dd, h], Errno::EEXIST);
        let hd = t_s(&mut t, "/tmp/hd");
        t.err("link", &[tmp, hd], Errno::EPERM);
        let h2 = t.s("h2");
        t.ok("linkat", &[dfd, d, dfd, h2, 0]);
        t.err("linkat", &[dfd, d, dfd, h2, 0x1000], Errno::EINVAL);
        assert_eq!(
            t.sys
                .vfs
                .stat(b"/", b"/tmp/d", true, &Cred::ROOT)
                .unwrap()
                .nlink,
            3
        );
        // symlink / readlink
        let target = t.s("/tmp/d");
        let ln = t.s("/tmp/ln");
        t.ok("symlink", &[target, ln]);
        t.err("symlink", &[target, ln], Errno::EEXIST);
        let empty = t.s("");
        let e = t_s(&mut t, "/tmp/e");
        t.err("symlink", &[empty, e], Errno::ENOENT);
        assert_eq!(t.ok("readlink", &[ln, BUF, 100]), 6);
        assert_eq!(t.read(BUF, 6), b"/tmp/d");
        assert_eq!(t.ok("readlink", &[ln, BUF2, 3]), 3);
        assert_eq!(t.read(BUF2, 4), b"/tm\0");
        t.err("readlink", &[ln, BUF, 0], Errno::EINVAL);
        t.err("readlink", &[ln, BUF, u64::MAX], Errno::EINVAL);
        t.err("readlink", &[dd, BUF, 10], Errno::EINVAL);
        t.err("readlink", &[ln, BAD, 10], Errno::EFAULT);
        let rel = t.s("ln2");
        t.ok("symlinkat", &[target, dfd, rel]);
        assert_eq!(t.ok("readlinkat", &[dfd, rel, BUF, 100]), 6);
        // Reading through the symlink.
        let fd = t.open("/tmp/ln", O_RDONLY) as u64;
        assert_eq!(t.ok("read", &[fd, BUF, 10]), 1);
    }
}

fn t_s(t: &mut T, s: &str) -> u64 {
    t.s(s)
}

#[test]
fn proc_self_magic_links() {
    let mut t = T::new(Abi::X86_64);
    let exe = t.s("/proc/self/exe");
    assert_eq!(t.ok("readlink", &[exe, BUF, 100]), 9);
    assert_eq!(t.read(BUF, 9), b"/bin/test");
    let own = t.s("/proc/42/exe");
    assert_eq!(t.ok("readlink", &[own, BUF, 100]), 9);
    let other = t.s("/proc/43/exe");
    t.err("readlink", &[other, BUF, 100], Errno::ENOENT);
    let fd1 = t.s("/proc/self/fd/1");
    assert_eq!(t.ok("readlink", &[fd1, BUF, 100]), 8);
    assert_eq!(t.read(BUF, 8), b"pipe:[1]");
    let f = t.open("/tmp", O_RDONLY) as u64;
    let fdn = t.s(&format!("/proc/self/fd/{f}"));
    assert_eq!(t.ok("readlink", &[fdn, BUF, 100]), 4);
    assert_eq!(t.read(BUF, 4), b"/tmp");
    let bad = t.s("/proc/self/fd/77");
    t.err("readlink", &[bad, BUF, 100], Errno::ENOENT);
    let cwd = t.s("/proc/self/cwd");
    assert_eq!(t.ok("readlink", &[cwd, BUF, 100]), 1);
    t.proc.exe = None;
    t.err("readlink", &[exe, BUF, 100], Errno::ENOENT);
    let proc_dir = t.s("/proc");
    t.err("chdir", &[proc_dir], Errno::ENOENT);
}

#[test]
fn getcwd_chdir_fchdir() {
    for abi in ABIS {
        let mut t = T::new(abi);
        assert_eq!(t.ok("getcwd", &[BUF, 100]), 2);
        assert_eq!(t.read(BUF, 2), b"/\0");
        t.sys.vfs.mkdir_all(b"/home/user", 0o755).unwrap();
        let home = t.s("/home/user");
        t.ok("chdir", &[home]);
        assert_eq!(t.ok("getcwd", &[BUF, 100]), 11);
        assert_eq!(t.read(BUF, 11), b"/home/user\0");
        t.err("getcwd", &[BUF, 10], Errno::ERANGE);
        t.err("getcwd", &[BAD, 100], Errno::EFAULT);
        let up = t.s("..");
        t.ok("chdir", &[up]);
        assert_eq!(t.task.cwd, b"/home");
        // Relative paths resolve from the cwd.
        let rel = t.s("user/f");
        t.ok("open", &[rel, fl(O_CREAT | O_WRONLY), 0o644]);
        assert!(
            t.sys
                .vfs
                .stat(b"/", b"/home/user/f", true, &Cred::ROOT)
                .is_ok()
        );
        let f = t.s("/home/user/f");
        t.err("chdir", &[f], Errno::ENOTDIR);
        let missing = t.s("/nope");
        t.err("chdir", &[missing], Errno::ENOENT);
        let tmp = t.open("/tmp", O_RDONLY) as u64;
        t.ok("fchdir", &[tmp]);
        assert_eq!(t.task.cwd, b"/tmp");
        let file = t.open("/home/user/f", O_RDONLY) as u64;
        t.err("fchdir", &[file], Errno::ENOTDIR);
        t.err("fchdir", &[1], Errno::ENOTDIR);
        t.err("fchdir", &[99], Errno::EBADF);
        // A private directory cannot be entered by a user.
        t.sys.vfs.mkdir_all(b"/private", 0o700).unwrap();
        t.proc.uid = 1000;
        let private = t.s("/private");
        t.err("chdir", &[private], Errno::EACCES);
    }
}

#[test]
fn truncate_family_and_umask() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.sys
            .vfs
            .write_file(b"/tmp/t", b"0123456789", 0o644)
            .unwrap();
        let p = t.s("/tmp/t");
        t.ok("truncate", &[p, 4]);
        assert_eq!(t.sys.vfs.read_file(b"/tmp/t").unwrap(), b"0123");
        t.err("truncate", &[p, (-1i64) as u64], Errno::EINVAL);
        let tmp = t.s("/tmp");
        t.err("truncate", &[tmp, 0], Errno::EISDIR);
        let fd = t.open("/tmp/t", O_RDWR) as u64;
        t.ok("ftruncate", &[fd, 6]);
        assert_eq!(t.sys.vfs.read_file(b"/tmp/t").unwrap(), b"0123\0\0");
        t.err("ftruncate", &[fd, (-5i64) as u64], Errno::EINVAL);
        t.err("ftruncate", &[99, 0], Errno::EBADF);
        t.err("ftruncate", &[1, 0], Errno::EINVAL);
        if abi == Abi::X86_64 {
            t.err("ftruncate", &[fd, 1 << 40], Errno::EFBIG);
        }
        if abi == Abi::I386 {
            t.ok("truncate64", &[p, 2, 0]);
            assert_eq!(t.sys.vfs.read_file(b"/tmp/t").unwrap(), b"01");
            t.ok("ftruncate64", &[fd, 3, 0]);
            assert_eq!(t.sys.vfs.read_file(b"/tmp/t").unwrap(), b"01\0");
            t.err("ftruncate64", &[fd, 0, 0x8000_0000], Errno::EINVAL);
            t.err("truncate64", &[p, 0, 1], Errno::EFBIG);
        }
        assert_eq!(t.ok("umask", &[0o77]), 0o22);
        assert_eq!(t.ok("umask", &[0o7777]), 0o77);
        assert_eq!(t.task.umask, 0o777);
    }
}

#[test]
fn host_mount_through_system_calls() {
    let dir = std::env::temp_dir().join(format!("sysgate-sys-host-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mnt/sub")).unwrap();
    std::fs::write(dir.join("secret"), "SECRET").unwrap();
    std::fs::write(dir.join("mnt/data"), "host data").unwrap();
    std::os::unix::fs::symlink("../secret", dir.join("mnt/esc")).unwrap();
    std::os::unix::fs::symlink("/data", dir.join("mnt/sub/abs")).unwrap();
    let mut t = T::new(Abi::X86_64);
    t.sys
        .vfs
        .mount_host("/host", &dir.join("mnt"), false)
        .unwrap();
    let fd = t.open("/host/data", O_RDONLY) as u64;
    assert_eq!(t.ok("read", &[fd, BUF, 100]), 9);
    assert_eq!(t.read(BUF, 9), b"host data");
    let abs = t.open("/host/sub/abs", O_RDONLY) as u64;
    assert_eq!(t.ok("read", &[abs, BUF, 100]), 9);
    for (path, errno) in [
        ("/host/esc", Errno::EXDEV),
        ("/host/../secret", Errno::ENOENT),
        ("/host/sub/../../secret", Errno::ENOENT),
        ("/host/sub/../esc", Errno::EXDEV),
    ] {
        let p = t.s(path);
        t.err("open", &[p, fl(O_RDONLY)], errno);
    }
    let dfd = t.open("/host/sub", O_RDONLY | O_DIRECTORY) as u64;
    let up = t.s("../../secret");
    t.err("openat", &[dfd, up, fl(O_RDONLY)], Errno::ENOENT);
    let data = t.s("/host/data");
    t.err("open", &[data, fl(O_WRONLY)], Errno::EROFS);
    t.err("unlink", &[data], Errno::EROFS);
    let host = t.s("/host");
    t.ok("chdir", &[host]);
    let rel = t.s("data");
    t.ok("stat", &[rel, BUF]);
    assert_eq!(t.u64_at(BUF + 48), 9);
    let d = t.open("/host", O_RDONLY | O_DIRECTORY) as u64;
    let n = t.ok("getdents64", &[d, BUF, 4096]) as usize;
    let listing = t.read(BUF, n);
    for name in [&b"data"[..], b"esc", b"sub"] {
        assert!(listing.windows(name.len()).any(|w| w == name));
    }
    assert_eq!(std::fs::read(dir.join("secret")).unwrap(), b"SECRET");
    std::fs::remove_dir_all(&dir).unwrap();
}
