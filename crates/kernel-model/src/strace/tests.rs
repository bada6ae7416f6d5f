//! Decoders against lines real strace 6.1 printed for the C test programs
//! (glibc and musl, x86-64 and i386), with the values those programs
//! passed; addresses are the ones in the test memory.

use super::decode::*;
use super::open_flags;
use crate::abi::Abi;
use crate::personality::Dispatch;
use crate::testutil::*;
use crate::uaccess::{UserMemory, VecMemory};
use crate::uapi::*;

/// Performs machine-layer call `name` with `args` and records it with
/// result `ret` after `fill` wrote what the call would have written.
fn machine_call(
    t: &mut T,
    name: &str,
    args: &[u64],
    ret: i64,
    fill: impl FnOnce(&mut T),
) -> String {
    let Dispatch::Machine(call) = t.dispatch(name, args) else {
        panic!("{name} is not a machine-layer call")
    };
    fill(t);
    t.sys
        .finish_machine_call(call, Some(ret), &mut t.mem, &t.proc, 0);
    t.last_line()
}

fn le64(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn rlimits() {
    let mut t = T::new(Abi::X86_64);
    let line = machine_call(&mut t, "prlimit64", &[0, 3, 0, BUF], 0, |t| {
        t.write_mem(BUF, &le64(&[8192 * 1024, u64::MAX]))
    });
    assert_eq!(
        line,
        "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0"
    );
    let mut t = T::new(Abi::I386);
    let line = machine_call(&mut t, "ugetrlimit", &[3, BUF], 0, |t| {
        t.write_mem(BUF, &le32(&[8192 * 1024, u32::MAX]))
    });
    assert_eq!(
        line,
        "ugetrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, rlim_max=RLIM_INFINITY}) = 0"
    );
    // 1024 itself and non-multiples are plain numbers; unknown resources
    // are hex with a comment.
    let line = machine_call(&mut t, "setrlimit", &[7, BUF], 0, |_| {});
    assert_eq!(
        line,
        "setrlimit(RLIMIT_NOFILE, {rlim_cur=8192*1024, rlim_max=RLIM_INFINITY}) = 0"
    );
    t.write_mem(BUF, &le32(&[1024, 1500]));
    let line = machine_call(&mut t, "setrlimit", &[99, BUF], -22, |_| {});
    assert_eq!(
        line,
        "setrlimit(0x63 /* RLIMIT_??? */, {rlim_cur=1024, rlim_max=1500}) = -1 EINVAL (Invalid argument)"
    );
}

#[test]
fn set_thread_area_user_desc_and_entry_number() {
    let mut t = T::new(Abi::I386);
    // entry -1, base, limit 0xfffff, seg_32bit|limit_in_pages|useable.
    t.write_mem(BUF, &le32(&[u32::MAX, 0x89a_2380, 0xfffff, 0x51]));
    let line = machine_call(&mut t, "set_thread_area", &[BUF], 0, |t| {
        t.write_mem(BUF, &12u32.to_le_bytes())
    });
    assert_eq!(
        line,
        "set_thread_area({entry_number=-1, base_addr=0x89a2380, limit=0x0fffff, seg_32bit=1, \
         contents=0, read_exec_only=0, limit_in_pages=1, seg_not_present=0, useable=1}) = 0 \
         (entry_number=12)"
    );
}

#[test]
fn sigaction_both_abis() {
    let mut t = T::new(Abi::X86_64);
    // {handler SIG_IGN, flags SA_RESTORER|SA_RESTART, restorer, mask [PIPE]}.
    t.write_mem(BUF, &le64(&[1, 0x1400_0000, 0x408b00, 1 << 12]));
    t.write_mem(BUF + 0x100, &[0; 32]);
    let line = machine_call(
        &mut t,
        "rt_sigaction",
        &[13, BUF, BUF + 0x100, 8],
        0,
        |_| {},
    );
    assert_eq!(
        line,
        "rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN, sa_mask=[PIPE], \
         sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x408b00}, {sa_handler=SIG_DFL, \
         sa_mask=[], sa_flags=0}, 8) = 0"
    );
    let mut t = T::new(Abi::I386);
    // i386: handler, flags, restorer, mask (two words).
    t.write_mem(BUF, &le32(&[1, 0x1000_0000, 0, 1 << 12, 0]));
    t.write_mem(BUF + 0x100, &[0; 20]);
    let line = machine_call(
        &mut t,
        "rt_sigaction",
        &[13, BUF, BUF + 0x100, 8],
        0,
        |_| {},
    );
    assert_eq!(
        line,
        "rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN, sa_mask=[PIPE], sa_flags=SA_RESTART}, \
         {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0"
    );
}

#[test]
fn signal_sets() {
    // glibc's abort() and fork(), musl's raise().
    let all_but_rt = !(7u64 << 31);
    assert_eq!(sigset(all_but_rt, 8), "~[RTMIN RT_1 RT_2]");
    assert_eq!(
        sigset(all_but_rt & !(1 << 8) & !(1 << 18), 8),
        "~[KILL STOP RTMIN RT_1 RT_2]"
    );
    assert_eq!(sigset(!0, 8), "~[]");
    assert_eq!(sigset(0, 8), "[]");
    assert_eq!(sigset(1 << 5, 8), "[ABRT]");
    assert_eq!(sigset((1 << 12) | (1 << 5), 8), "[ABRT PIPE]");
    let mut t = T::new(Abi::X86_64);
    t.write_mem(BUF, &all_but_rt.to_le_bytes());
    let line = machine_call(&mut t, "rt_sigprocmask", &[0, BUF, BUF + 8, 8], 0, |t| {
        t.write_mem(BUF + 8, &0u64.to_le_bytes())
    });
    assert_eq!(
        line,
        "rt_sigprocmask(SIG_BLOCK, ~[RTMIN RT_1 RT_2], [], 8) = 0"
    );
    t.write_mem(BUF, &(1u64 << 5).to_le_bytes());
    let line = machine_call(&mut t, "rt_sigprocmask", &[1, BUF, 0, 8], 0, |_| {});
    assert_eq!(line, "rt_sigprocmask(SIG_UNBLOCK, [ABRT], NULL, 8) = 0");
    // A size strace does not accept: the address.
    let line = machine_call(&mut t, "rt_sigprocmask", &[7, BUF, 0, 16], -22, |_| {});
    assert_eq!(
        line,
        "rt_sigprocmask(0x7 /* SIG_??? */, 0x20000, NULL, 16) = -1 EINVAL (Invalid argument)"
    );
}

#[test]
fn statx_flags_mask_and_structure() {
    assert_eq!(
        statx_flags(0x1800),
        "AT_STATX_SYNC_AS_STAT|AT_NO_AUTOMOUNT|AT_EMPTY_PATH"
    );
    assert_eq!(statx_flags(0x800), "AT_STATX_SYNC_AS_STAT|AT_NO_AUTOMOUNT");
    assert_eq!(statx_flags(0x4000), "AT_STATX_DONT_SYNC");
    assert_eq!(statx_mask(0x7ff), "STATX_BASIC_STATS");
    assert_eq!(statx_mask(0x17ff), "STATX_BASIC_STATS|STATX_MNT_ID");
    assert_eq!(statx_mask(0xfff), "STATX_ALL");
    assert_eq!(statx_mask(0x8000_0000), "0x80000000 /* STATX_??? */");
    let mut t = T::new(Abi::I386);
    let fd = t.open("/tmp/x", O_CREAT | O_WRONLY);
    let empty = t.s("");
    t.call("statx", &[fd as u64, empty, 0x1800, 0x7ff, BUF]);
    assert_eq!(
        t.last_line(),
        "statx(3, \"\", AT_STATX_SYNC_AS_STAT|AT_NO_AUTOMOUNT|AT_EMPTY_PATH, \
         STATX_BASIC_STATS, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, \
         stx_mode=S_IFREG|0644, stx_size=0, ...}) = 0"
    );
}

#[test]
fn directory_entries_are_counted() {
    let mut mem = VecMemory::new();
    mem.map(0x1000, 0x1000, true);
    // Two records of 24 bytes ("." and ".."), reclen at offset 16.
    let mut b = vec![0u8; 48];
    b[16] = 24;
    b[24 + 16] = 24;
    mem.write(0x1000, &b).unwrap();
    assert_eq!(dirents64(&mut mem, 0x1000, 48), "0x1000 /* 2 entries */");
    assert_eq!(dirents64(&mut mem, 0x1000, 0), "0x1000 /* 0 entries */");
    assert_eq!(dirents64(&mut mem, 0x1000, 30), "0x1000 /* 1+ entries */");
    let mut t = T::new(Abi::X86_64);
    t.sys.vfs.write_file(b"/d/a", b"", 0o644).unwrap();
    let fd = t.open("/d", O_RDONLY | O_DIRECTORY);
    let n = t.call("getdents64", &[fd as u64, BUF, 32768]);
    assert_eq!(
        t.last_line(),
        format!("getdents64(3, 0x20000 /* 3 entries */, 32768) = {n}")
    );
}

#[test]
fn getrandom_bytes_in_hex() {
    let mut mem = VecMemory::new();
    mem.map(0x1000, 0x1000, true);
    mem.write(0x1000, &[0xd0, 0x46, 0x4c, 0xb8]).unwrap();
    assert_eq!(
        hex_string(&mut mem, 0x1000, 4).unwrap(),
        r#""\xd0\x46\x4c\xb8""#
    );
    assert_eq!(hex_string(&mut mem, 0, 4).unwrap(), "NULL");
    let mut t = T::new(Abi::X86_64);
    t.call("getrandom", &[BUF, 8, 1]);
    let line = t.last_line();
    assert!(line.starts_with("getrandom(\"\\x"), "{line}");
    assert!(line.ends_with("\", 8, GRND_NONBLOCK) = 8"), "{line}");
    assert_eq!(
        line.len(),
        "getrandom(\"\", 8, GRND_NONBLOCK) = 8".len() + 32
    );
}

#[test]
fn clone_wait4_fcntl_and_mremap() {
    assert_eq!(
        clone_args(Abi::I386, &[0x0120_0011, 0, 0, 0, 0x89a_23e8]),
        "child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, \
         child_tidptr=0x89a23e8"
    );
    assert_eq!(
        clone_args(Abi::X86_64, &[0x0120_0011, 0, 0, 0x1380_b650, 0]),
        "child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, \
         child_tidptr=0x1380b650"
    );
    assert_eq!(
        clone_args(Abi::X86_64, &[17, 0, 0, 0, 0]),
        "child_stack=NULL, flags=SIGCHLD"
    );
    assert_eq!(wait_options(0), "0");
    assert_eq!(wait_options(1), "WNOHANG");
    assert_eq!(wait_options(0x4000_0001), "WNOHANG|__WALL");
    assert_eq!(fcntl_cmd(9999), "0x270f /* F_??? */");
    assert_eq!(fd_flags(1), "FD_CLOEXEC");
    assert_eq!(fd_flags(0), "0");
    let mut t = T::new(Abi::I386);
    t.call("fcntl64", &[0, 9999, 1]);
    assert_eq!(
        t.last_line(),
        "fcntl64(0, 0x270f /* F_??? */, 0x1) = -1 EINVAL (Invalid argument)"
    );
    let line = machine_call(
        &mut t,
        "mremap",
        &[0xf7d0_0000, 147456, 233472, 1, 0],
        0xf7c0_0000,
        |_| {},
    );
    assert_eq!(
        line,
        "mremap(0xf7d00000, 147456, 233472, MREMAP_MAYMOVE) = 0xf7c00000"
    );
    let line = machine_call(
        &mut t,
        "mremap",
        &[0xf7d0_0000, 4096, 8192, 3, 0xf000_0000],
        0xf000_0000,
        |_| {},
    );
    assert_eq!(
        line,
        "mremap(0xf7d00000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0xf0000000) = 0xf0000000"
    );
}

#[test]
fn flag_order_and_printflags() {
    // strace lists O_CLOEXEC before O_DIRECTORY.
    assert_eq!(
        open_flags(u64::from(
            O_RDONLY | O_NONBLOCK | O_LARGEFILE | O_CLOEXEC | O_DIRECTORY
        )),
        "O_RDONLY|O_NONBLOCK|O_LARGEFILE|O_CLOEXEC|O_DIRECTORY"
    );
    assert_eq!(
        open_flags(u64::from(O_RDWR | O_TMPFILE)),
        "O_RDWR|O_TMPFILE"
    );
    let t: &[(u64, &str)] = &[(0, "ZERO"), (1, "ONE"), (2, "TWO")];
    assert_eq!(printflags(0, t, None), "ZERO");
    assert_eq!(printflags(3, t, None), "ONE|TWO");
    assert_eq!(printflags(9, t, Some("X_???")), "ONE|0x8");
    assert_eq!(printflags(8, &t[1..], Some("X_???")), "0x8 /* X_??? */");
    assert_eq!(printflags(0, &t[1..], Some("X_???")), "0");
    assert_eq!(printflags(0, &t[1..], None), "");
}

#[test]
fn sysinfo_layouts() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.call("sysinfo", &[BUF]);
        assert_eq!(
            t.last_line(),
            "sysinfo({uptime=0, loads=[0, 0, 0], totalram=2147483648, freeram=1073741824, \
             sharedram=0, bufferram=0, totalswap=0, freeswap=0, procs=1, totalhigh=0, \
             freehigh=0, mem_unit=1}) = 0"
        );
    }
}

#[test]
fn time_madvise_waitid_and_execve_env() {
    assert_eq!(sprinttime(1_795_474_756), "2026-11-23T22:59:16+0000");
    assert_eq!(sprinttime(0), "1970-01-01T00:00:00+0000");
    assert_eq!(sprinttime(951_782_400), "2000-02-29T00:00:00+0000");
    let mut t = T::new(Abi::X86_64);
    let now = t.call("time", &[0]);
    assert_eq!(
        t.last_line(),
        format!("time(NULL) = {now} ({})", sprinttime(now))
    );
    t.call("time", &[BUF]);
    assert_eq!(
        t.last_line(),
        format!("time([{now} /* {0} */]) = {now} ({0})", sprinttime(now))
    );
    assert_eq!(madvise_advice(4), "MADV_DONTNEED");
    assert_eq!(madvise_advice(77), "0x4d /* MADV_??? */");
    assert_eq!(waitid_type(1), "P_PID");
    // The siginfo waitid filled for an exited child (x86_64 layout: the
    // union at 16, utime/stime at 32/40).
    let mut info = [0u8; 128];
    info[0] = 17;
    info[8] = 1;
    info[16..20].copy_from_slice(&18568u32.to_le_bytes());
    info[24] = 4;
    t.write_mem(BUF, &info);
    let line = machine_call(&mut t, "waitid", &[1, 18568, BUF, 4, 0], 0, |_| {});
    assert_eq!(
        line,
        "waitid(P_PID, 18568, {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=18568, si_uid=0, \
         si_status=4, si_utime=0, si_stime=0}, WEXITED, NULL) = 0"
    );
    let line = machine_call(&mut t, "waitid", &[0, 0, BUF, 5, 0], -10, |_| {});
    assert_eq!(
        line,
        "waitid(P_ALL, 0, 0x20000, WNOHANG|WEXITED, NULL) = -1 ECHILD (No child processes)"
    );
    // execve's environment count: "1 var", "2 vars".
    let path = t.s("/nonexistent");
    let arg = t.s("/bin/true");
    let env = t.s("A=1");
    t.write_mem(BUF2, &le64(&[arg, 0, env, 0]));
    let line = machine_call(&mut t, "execve", &[path, BUF2, BUF2 + 16], -2, |_| {});
    assert_eq!(
        line,
        "execve(\"/nonexistent\", [\"/bin/true\"], 0x28010 /* 1 var */) = -1 ENOENT (No such file or directory)"
    );
}

#[test]
fn mmap2_offset_in_bytes() {
    let mut t = T::new(Abi::I386);
    let line = machine_call(&mut t, "mmap2", &[0, 4096, 3, 2, 3, 1], 0xf7f0_0000, |_| {});
    assert_eq!(
        line,
        "mmap2(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE, 3, 0x1000) = 0xf7f00000"
    );
}

#[test]
fn prctl_name_options() {
    let mut t = T::new(Abi::X86_64);
    t.call("prctl", &[16, BUF, 0, 0, 0]);
    assert_eq!(t.last_line(), "prctl(PR_GET_NAME, \"test\") = 0");
    assert_eq!(t.read(BUF, 5), b"test\0");
    let name = t.s("a-name-longer-than-15");
    t.call("prctl", &[15, name, 0, 0, 0]);
    assert_eq!(
        t.last_line(),
        "prctl(PR_SET_NAME, \"a-name-longer-t\"...) = 0"
    );
    t.call("prctl", &[0x1234, 1, 2, 3, 4]);
    assert_eq!(
        t.last_line(),
        "prctl(0x1234 /* PR_??? */, 0x1, 0x2, 0x3, 0x4) = -1 EINVAL (Invalid argument)"
    );
}

/// futex shows its operation by name and only the arguments the operation
/// uses (lines of strace 6.1 for a test program making each call).
#[test]
fn futex_operations() {
    let mut t = T::new(Abi::X86_64);
    t.write_mem(BUF, &le64(&[0, 1_000_000]));
    let u = 0x4a62d4u64;
    let u2 = 0x4a62d0u64;
    let cases: [(&[u64], i64, &str); 11] = [
        (
            &[u, 129, 1, 0, 0, 0],
            0,
            "futex(0x4a62d4, FUTEX_WAKE_PRIVATE, 1) = 0",
        ),
        (
            &[u, 128, 5, 0, 0, 0],
            -11,
            "futex(0x4a62d4, FUTEX_WAIT_PRIVATE, 5, NULL) = -1 EAGAIN (Resource temporarily unavailable)",
        ),
        (
            &[u, 0, 0, BUF, 0, 0],
            -110,
            "futex(0x4a62d4, FUTEX_WAIT, 0, {tv_sec=0, tv_nsec=1000000}) = -1 ETIMEDOUT (Connection timed out)",
        ),
        (
            &[u, 393, 1, BUF, 0, 0xFFFF_FFFF],
            -11,
            "futex(0x4a62d4, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 1, {tv_sec=0, tv_nsec=1000000}, FUTEX_BITSET_MATCH_ANY) = -1 EAGAIN (Resource temporarily unavailable)",
        ),
        (
            &[u, 10, 1, 0, 0, 0x10],
            0,
            "futex(0x4a62d4, FUTEX_WAKE_BITSET, 1, 0x10) = 0",
        ),
        (
            &[u, 131, 1, 2, u2, 0],
            0,
            "futex(0x4a62d4, FUTEX_REQUEUE_PRIVATE, 1, 2, 0x4a62d0) = 0",
        ),
        (
            &[u, 132, 1, 2, u2, 7],
            -11,
            "futex(0x4a62d4, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, 0x4a62d0, 7) = -1 EAGAIN (Resource temporarily unavailable)",
        ),
        (
            &[u, 133, 1, 1, u2, 0x0400_0001],
            0,
            "futex(0x4a62d4, FUTEX_WAKE_OP_PRIVATE, 1, 1, 0x4a62d0, FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_GT<<24|0x1) = 0",
        ),
        (
            &[u, 134, 0, 0, 0, 0],
            0,
            "futex(0x4a62d4, FUTEX_LOCK_PI_PRIVATE, NULL) = 0",
        ),
        (
            &[u, 7, 0, 0, 0, 0],
            0,
            "futex(0x4a62d4, FUTEX_UNLOCK_PI) = 0",
        ),
        (
            &[u, 99, 0, 0, 0, 0],
            -38,
            "futex(0x4a62d4, 0x63 /* FUTEX_??? */, 0, NULL, NULL, 0) = -1 ENOSYS (Function not implemented)",
        ),
    ];
    for (args, ret, want) in cases {
        assert_eq!(machine_call(&mut t, "futex", args, ret, |_| {}), want);
    }
}
