//! The generated files of `/proc` through the system calls: contents,
//! offsets, attributes and the errors of what they do not allow.

use crate::errno::Errno;
use crate::testutil::*;
use crate::uapi::*;

/// Reads all of descriptor `fd` in reads of `chunk` bytes.
fn read_all(t: &mut T, fd: u64, chunk: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let n = t.ok("read", &[fd, BUF, chunk]);
        if n == 0 {
            return out;
        }
        out.extend(t.read(BUF, n as usize));
    }
}

fn contents(t: &mut T, path: &str) -> String {
    let fd = t.open(path, O_RDONLY) as u64;
    let all = read_all(t, fd, 5);
    t.ok("close", &[fd]);
    String::from_utf8(all).expect("text")
}

#[test]
fn own_files() {
    for abi in ABIS {
        let mut t = T::new(abi);
        assert_eq!(contents(&mut t, "/proc/self/comm"), "test\n");
        let status = contents(&mut t, "/proc/42/status");
        let lines: Vec<&str> = status.lines().collect();
        assert_eq!(lines.first(), Some(&"Name:\ttest"));
        assert!(lines.contains(&"Pid:\t42"), "{status}");
        assert!(lines.contains(&"PPid:\t1"), "{status}");
        assert!(lines.contains(&"Umask:\t0022"), "{status}");
        assert!(lines.contains(&"FDSize:\t64"), "{status}");
        // No argument areas known to this process: empty, not an error.
        assert_eq!(contents(&mut t, "/proc/thread-self/cmdline"), "");
        // Another process's, and files not provided.
        for path in [
            "/proc/43/status",
            "/proc/self/maps",
            "/proc/cpuinfo",
            "/proc",
        ] {
            let p = t.s(path);
            t.err("open", &[p, u64::from(O_RDONLY), 0], Errno::ENOENT);
        }
    }
}

#[test]
fn global_files() {
    for abi in ABIS {
        let mut t = T::new(abi);
        // meminfo agrees with sysinfo: 2 GiB, half free.
        let total = crate::syscalls::misc::SYSINFO_TOTALRAM >> 10;
        let mem = contents(&mut t, "/proc/meminfo");
        assert_eq!(
            mem.lines().next(),
            Some(format!("MemTotal:       {total:>8} kB").as_str())
        );
        assert!(mem.contains(&format!("\nMemFree:        {:>8} kB\n", total / 2)));
        // uptime follows the modeled monotonic clock.
        t.cycles = t.sys.clock.freq_hz * 5 / 2;
        let up = t.sys.clock.monotonic(t.cycles);
        assert_eq!(up.sec, 2);
        assert_eq!(contents(&mut t, "/proc/uptime"), "2.50 0.00\n");
        // mounts: the root, and a mount point with a space in octal.
        t.sys.vfs.mount_memfs("/a b").expect("mount");
        let want = "tmpfs / tmpfs rw 0 0\ntmpfs /a\\040b tmpfs rw 0 0\n";
        assert_eq!(contents(&mut t, "/proc/mounts"), want);
        assert_eq!(contents(&mut t, "/proc/self/mounts"), want);
    }
}

#[test]
fn offsets_attributes_and_errors() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let fd = t.open("/proc/self/status", O_RDONLY) as u64;
        assert_eq!(t.ok("pread64", &[fd, BUF, 4, 6, 0]), 4);
        assert_eq!(t.read(BUF, 4), b"test");
        assert_eq!(t.ok("lseek", &[fd, 2, u64::from(SEEK_SET)]), 2);
        assert_eq!(t.ok("lseek", &[fd, 1, u64::from(SEEK_CUR)]), 3);
        assert_eq!(t.ok("read", &[fd, BUF, 2]), 2);
        assert_eq!(t.read(BUF, 2), b"e:");
        t.err("lseek", &[fd, 0, u64::from(SEEK_END)], Errno::EINVAL);
        t.err("write", &[fd, BUF, 1], Errno::EBADF);
        t.ok("close", &[fd]);
        let p = t.s("/proc/self/status");
        for (flags, errno) in [
            (O_WRONLY, Errno::EACCES),
            (O_RDWR, Errno::EACCES),
            (O_RDONLY | O_DIRECTORY, Errno::ENOTDIR),
            (O_CREAT | O_EXCL | O_WRONLY, Errno::EEXIST),
        ] {
            t.err("open", &[p, u64::from(flags), 0o644], errno);
        }
        assert_eq!(t.ok("access", &[p, u64::from(R_OK)]), 0);
        t.err("access", &[p, u64::from(W_OK)], Errno::EACCES);
    }
}
