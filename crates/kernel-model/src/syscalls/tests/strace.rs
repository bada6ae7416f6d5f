//! strace golden lines, including the seed's.

use crate::abi::Abi;
use crate::personality::Dispatch;
use crate::strace::{octal, quote, wait_status};
use crate::testutil::*;
use crate::uapi::*;

fn fl(v: u32) -> u64 {
    u64::from(v)
}

/// The first 32 bytes of an x86_64 ELF shared object, as in the seed's
/// strace of `ld.so` reading libc.
const ELF_HEAD: [u8; 32] = [
    0x7f, b'E', b'L', b'F', 2, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, b'>', 0, 1, 0, 0, 0, b'P',
    b'\t', 2, 0, 0, 0, 0, 0,
];

#[test]
fn seed_lines() {
    let mut t = T::new(Abi::X86_64);
    let nohwcap = t.s("/etc/ld.so.nohwcap");
    t.call("access", &[nohwcap, fl(F_OK)]);
    assert_eq!(
        t.last_line(),
        r#"access("/etc/ld.so.nohwcap", F_OK) = -1 ENOENT (No such file or directory)"#
    );
    let mut cache = vec![0u8; 71985];
    cache[0] = 1;
    t.sys
        .vfs
        .write_file(b"/etc/ld.so.cache", &cache, 0o644)
        .unwrap();
    let p = t.s("/etc/ld.so.cache");
    t.call("open", &[p, fl(O_RDONLY | O_CLOEXEC)]);
    assert_eq!(
        t.last_line(),
        r#"open("/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3"#
    );
    t.call("fstat", &[3, BUF]);
    assert_eq!(
        t.last_line(),
        "fstat(3, {st_mode=S_IFREG|0644, st_size=71985, ...}) = 0"
    );
    t.call("close", &[3]);
    assert_eq!(t.last_line(), "close(3) = 0");
    let mut libc = vec![0u8; 1000];
    libc[..32].copy_from_slice(&ELF_HEAD);
    t.sys
        .vfs
        .write_file(b"/lib/x86_64-linux-gnu/libc.so.6", &libc, 0o755)
        .unwrap();
    let p = t.s("/lib/x86_64-linux-gnu/libc.so.6");
    t.call("open", &[p, fl(O_RDONLY | O_CLOEXEC)]);
    t.call("read", &[3, BUF, 832]);
    assert_eq!(
        t.last_line(),
        r#"read(3, "\177ELF\2\1\1\3\0\0\0\0\0\0\0\0\3\0>\0\1\0\0\0P\t\2\0\0\0\0\0"..., 832) = 832"#
    );
    t.call("fstat", &[3, BUF]);
    assert_eq!(
        t.last_line(),
        "fstat(3, {st_mode=S_IFREG|0755, st_size=1000, ...}) = 0"
    );
    let p = t.s("tmp/test.txt");
    t.call("open", &[p, fl(O_RDONLY)]);
    assert_eq!(
        t.last_line(),
        r#"open("tmp/test.txt", O_RDONLY) = -1 ENOENT (No such file or directory)"#
    );
    t.call("close", &[u64::MAX]);
    assert_eq!(t.last_line(), "close(-1) = -1 EBADF (Bad file descriptor)");
    let msg = t.s("hello\n");
    t.call("write", &[1, msg, 6]);
    assert_eq!(t.last_line(), r#"write(1, "hello\n", 6) = 6"#);
    let Dispatch::Machine(call) = t.dispatch("exit_group", &[0]) else {
        panic!()
    };
    t.sys
        .finish_machine_call(call, None, &mut t.mem, &t.proc, 0);
    assert_eq!(t.last_line(), "exit_group(0) = ?");
}

#[test]
fn aligned_lines_match_strace_columns() {
    let mut t = T::new(Abi::X86_64);
    t.sys.strace_aligned = true;
    t.call("close", &[u64::MAX]);
    assert_eq!(
        t.last_line(),
        "close(-1)                               = -1 EBADF (Bad file descriptor)"
    );
    let p = t.s("tmp/test.txt");
    t.call("open", &[p, fl(O_RDONLY)]);
    assert_eq!(
        t.last_line(),
        r#"open("tmp/test.txt", O_RDONLY)          = -1 ENOENT (No such file or directory)"#
    );
    t.sys.vfs.write_file(b"/tmp/test.txt", b"", 0o644).unwrap();
    let p = t.s("/tmp/test.txt");
    t.call("open", &[p, fl(O_RDONLY)]);
    t.call("close", &[3]);
    assert_eq!(t.last_line(), "close(3)                                = 0");
    let long = t.s("/a/very/long/path/that/passes/column/forty");
    t.call("open", &[long, fl(O_RDONLY)]);
    assert_eq!(
        t.last_line(),
        r#"open("/a/very/long/path/that/passes/column/forty", O_RDONLY) = -1 ENOENT (No such file or directory)"#
    );
}

#[test]
fn pid_prefix_like_strace_f() {
    let mut t = T::new(Abi::X86_64);
    t.sys.strace_pids = true;
    t.call("getpid", &[]);
    assert_eq!(t.last_line(), "[pid    42] getpid() = 42");
}

#[test]
fn unknown_and_unimplemented_calls() {
    let mut t = T::new(Abi::X86_64);
    t.dispatch_nr(400, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(
        t.last_line(),
        "syscall_0x190(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)"
    );
    t.dispatch_nr(0x1b3 + 1000, &[]);
    assert_eq!(
        t.last_line(),
        "syscall_0x59b(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)"
    );
    t.dispatch("io_uring_setup", &[8, 0x1000]);
    assert_eq!(
        t.last_line(),
        "io_uring_setup(0x8, 0x1000, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)"
    );
}

#[test]
fn flags_modes_and_out_arguments() {
    let mut t = T::new(Abi::X86_64);
    let p = t.s("/tmp/x");
    t.call(
        "openat",
        &[FDCWD, p, fl(O_WRONLY | O_CREAT | O_TRUNC), 0o644],
    );
    assert_eq!(
        t.last_line(),
        r#"openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3"#
    );
    t.call("open", &[p, fl(O_RDWR | O_APPEND | O_NONBLOCK)]);
    assert_eq!(
        t.last_line(),
        r#"open("/tmp/x", O_RDWR|O_APPEND|O_NONBLOCK) = 4"#
    );
    t.call("fcntl", &[4, fl(F_GETFL)]);
    assert_eq!(
        t.last_line(),
        "fcntl(4, F_GETFL) = 0x8c02 (flags O_RDWR|O_APPEND|O_NONBLOCK|O_LARGEFILE)"
    );
    t.call("fcntl", &[4, fl(F_SETFD), fl(FD_CLOEXEC)]);
    assert_eq!(t.last_line(), "fcntl(4, F_SETFD, FD_CLOEXEC) = 0");
    t.call("fcntl", &[4, fl(F_GETFD)]);
    assert_eq!(t.last_line(), "fcntl(4, F_GETFD) = 0x1 (flags FD_CLOEXEC)");
    t.call("fcntl", &[4, fl(F_DUPFD), 10]);
    assert_eq!(t.last_line(), "fcntl(4, F_DUPFD, 10) = 10");
    t.call("lseek", &[3, 0, fl(SEEK_END)]);
    assert_eq!(t.last_line(), "lseek(3, 0, SEEK_END) = 0");
    t.call("pipe", &[BUF]);
    assert_eq!(t.last_line(), "pipe([5, 6]) = 0");
    t.call("pipe2", &[BUF, fl(O_CLOEXEC | O_NONBLOCK)]);
    assert_eq!(t.last_line(), "pipe2([7, 8], O_NONBLOCK|O_CLOEXEC) = 0");
    t.call("pipe", &[BAD]);
    assert_eq!(t.last_line(), "pipe(0xdead0000) = -1 EFAULT (Bad address)");
    t.call("dup3", &[3, 20, fl(O_CLOEXEC)]);
    assert_eq!(t.last_line(), "dup3(3, 20, O_CLOEXEC) = 20");
    t.call("getcwd", &[BUF, 4096]);
    assert_eq!(t.last_line(), r#"getcwd("/", 4096) = 2"#);
    t.call("uname", &[BUF]);
    assert_eq!(
        t.last_line(),
        r#"uname({sysname="Linux", nodename="sysgate", ...}) = 0"#
    );
    t.call("clock_gettime", &[1, BUF]);
    assert_eq!(
        t.last_line(),
        "clock_gettime(CLOCK_MONOTONIC, {tv_sec=0, tv_nsec=0}) = 0"
    );
    t.call("read", &[0, BAD, 10]);
    assert_eq!(
        t.last_line(),
        "read(0, 0xdead0000, 10) = -1 EFAULT (Bad address)"
    );
    let nope = t.s("/nope");
    t.call("stat", &[nope, BUF]);
    assert_eq!(
        t.last_line(),
        r#"stat("/nope", 0x20000) = -1 ENOENT (No such file or directory)"#
    );
    t.call("stat", &[p, BUF]);
    assert_eq!(
        t.last_line(),
        r#"stat("/tmp/x", {st_mode=S_IFREG|0644, st_size=0, ...}) = 0"#
    );
    let d = t.s("/sticky");
    t.call("mkdir", &[d, 0o1777]);
    assert_eq!(t.last_line(), r#"mkdir("/sticky", 01777) = 0"#);
    t.call("umask", &[0o77]);
    assert_eq!(t.last_line(), "umask(077) = 022");
    t.call("access", &[d, fl(R_OK | W_OK)]);
    assert_eq!(t.last_line(), r#"access("/sticky", R_OK|W_OK) = 0"#);
    t.call("unlinkat", &[FDCWD, d, fl(AT_REMOVEDIR)]);
    assert_eq!(
        t.last_line(),
        r#"unlinkat(AT_FDCWD, "/sticky", AT_REMOVEDIR) = 0"#
    );
    let long = t.bytes(&[b'a'; 40], false);
    t.call("write", &[1, long, 40]);
    assert_eq!(
        t.last_line(),
        format!("write(1, \"{}\"..., 40) = 40", "a".repeat(32))
    );
    let esc = t.bytes(b"\t\"\\\x00\x011\xff", false);
    t.call("write", &[1, esc, 7]);
    assert_eq!(t.last_line(), r#"write(1, "\t\"\\\0\0011\377", 7) = 7"#);
    t.call("getrandom", &[BUF, 4, fl(GRND_NONBLOCK)]);
    assert!(
        t.last_line().starts_with("getrandom(\""),
        "{}",
        t.last_line()
    );
    assert!(t.last_line().ends_with("\", 4, GRND_NONBLOCK) = 4"));
    t.call("ioctl", &[1, fl(TCGETS), BUF]);
    assert_eq!(
        t.last_line(),
        "ioctl(1, TCGETS, 0x20000) = -1 ENOTTY (Inappropriate ioctl for device)"
    );
    t.sys
        .vfs
        .symlink(b"/tmp/x", b"/", b"/ln", &crate::vfs::Cred::ROOT)
        .unwrap();
    let ln = t.s("/ln");
    t.call("readlink", &[ln, BUF, 3]);
    assert_eq!(t.last_line(), r#"readlink("/ln", "/tm", 3) = 3"#);
}

#[test]
fn vectors_and_i386_forms() {
    let mut t = T::new(Abi::I386);
    let a = t.s("ab");
    let b = t.s("cd");
    for (i, (base, len)) in [(a, 2u32), (b, 2)].iter().enumerate() {
        t.write_mem(BUF2 + i as u64 * 8, &(*base as u32).to_le_bytes());
        t.write_mem(BUF2 + i as u64 * 8 + 4, &len.to_le_bytes());
    }
    t.call("writev", &[1, BUF2, 2]);
    assert_eq!(
        t.last_line(),
        r#"writev(1, [{iov_base="ab", iov_len=2}, {iov_base="cd", iov_len=2}], 2) = 4"#
    );
    let p = t.s("/tmp/f");
    t.call("open", &[p, fl(O_RDWR | O_CREAT | O_LARGEFILE), 0o600]);
    assert_eq!(
        t.last_line(),
        r#"open("/tmp/f", O_RDWR|O_CREAT|O_LARGEFILE, 0600) = 3"#
    );
    t.call("_llseek", &[3, 0, 0, BUF, fl(SEEK_SET)]);
    assert_eq!(t.last_line(), "_llseek(3, 0, [0], SEEK_SET) = 0");
    t.call("fstat64", &[3, BUF]);
    assert_eq!(
        t.last_line(),
        "fstat64(3, {st_mode=S_IFREG|0600, st_size=0, ...}) = 0"
    );
    t.call("pwrite64", &[3, a, 2, 5, 1]);
    assert_eq!(
        t.last_line(),
        r#"pwrite64(3, "ab", 2, 4294967301) = -1 EFBIG (File too large)"#
    );
    t.call("clock_gettime64", &[0, BUF]);
    assert_eq!(
        t.last_line(),
        "clock_gettime64(CLOCK_REALTIME, {tv_sec=1704067200, tv_nsec=0}) = 0"
    );
    t.call("statx", &[FDCWD, p, 0, 0x7ff, BUF]);
    assert_eq!(
        t.last_line(),
        r#"statx(AT_FDCWD, "/tmp/f", AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|0600, stx_size=0, ...}) = 0"#
    );
}

#[test]
fn helpers() {
    assert_eq!(quote(b"", false), r#""""#);
    assert_eq!(quote(b"\x07\x08", true), r#""\7\10"..."#);
    assert_eq!(quote(b"\x001", false), r#""\0001""#);
    assert_eq!(quote(b"\x009", false), r#""\09""#);
    assert_eq!(octal(0), "000");
    assert_eq!(octal(0o22), "022");
    assert_eq!(octal(0o644), "0644");
    assert_eq!(octal(0o4755), "04755");
    assert_eq!(wait_status(0), "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]");
    assert_eq!(
        wait_status(3 << 8),
        "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"
    );
    assert_eq!(
        wait_status(11),
        "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV}]"
    );
    assert_eq!(
        wait_status(0x86),
        "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT && WCOREDUMP(s)}]"
    );
}
