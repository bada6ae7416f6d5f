//! strace 6.1 lines of the credential, metadata and scheduler calls
//! (expected strings written from strace's decoders: print_uid,
//! print_groups, print_affinitylist, print_mknod, print_struct_statfs,
//! flockcmds, print_timespec_t_utime).

use crate::abi::Abi;
use crate::testutil::*;
use crate::uapi::*;

#[test]
fn id_lines() {
    let mut t = T::new(Abi::X86_64);
    t.call("getgroups", &[0, 0]);
    assert_eq!(t.last_line(), "getgroups(0, NULL) = 0");
    t.write_mem(BUF2, &[5, 0, 0, 0, 3, 0, 0, 0]);
    t.call("setgroups", &[2, BUF2]);
    assert_eq!(t.last_line(), "setgroups(2, [5, 3]) = 0");
    t.call("getgroups", &[2, BUF]);
    assert_eq!(t.last_line(), "getgroups(2, [3, 5]) = 2");
    t.call("setresuid", &[u64::from(u32::MAX), 0, u64::from(u32::MAX)]);
    assert_eq!(t.last_line(), "setresuid(-1, 0, -1) = 0");
    t.call("getresuid", &[BUF, BUF + 4, BUF + 8]);
    assert_eq!(t.last_line(), "getresuid([0], [0], [0]) = 0");
    let f = t.s("/tmp/f");
    t.call("chown", &[f, 1000, u64::from(u32::MAX)]);
    assert_eq!(
        t.last_line(),
        "chown(\"/tmp/f\", 1000, -1) = -1 ENOENT (No such file or directory)"
    );
    assert_eq!(crate::strace::ext::prio_which(0), "PRIO_PROCESS");
    assert_eq!(crate::strace::ext::prio_which(5), "0x5 /* PRIO_??? */");
    t.call("sched_getaffinity", &[0, 128, BUF]);
    assert_eq!(t.last_line(), "sched_getaffinity(0, 128, [0]) = 8");
    t.write_mem(BUF2, &[1, 0, 0, 0, 0, 0, 0, 0]);
    t.call("sched_setaffinity", &[0, 8, BUF2]);
    assert_eq!(t.last_line(), "sched_setaffinity(0, 8, [0]) = 0");
    // CPUs are separated by spaces.
    t.write_mem(BUF2, &[5]);
    t.call("sched_setaffinity", &[0, 8, BUF2]);
    assert_eq!(t.last_line(), "sched_setaffinity(0, 8, [0 2]) = 0");
    t.call("getcpu", &[BUF, BUF + 4, 0]);
    assert_eq!(t.last_line(), "getcpu([0], [0], NULL) = 0");
    let mut t = T::new(Abi::I386);
    t.call("setreuid", &[0xffff, 0]);
    assert_eq!(t.last_line(), "setreuid(-1, 0) = 0");
    t.write_mem(BUF2, &[7, 0, 0xff, 0xff]);
    t.call("setgroups", &[2, BUF2]);
    assert_eq!(
        t.last_line(),
        "setgroups(2, [7, -1]) = -1 EINVAL (Invalid argument)"
    );
}

#[test]
fn file_lines() {
    let mut t = T::new(Abi::X86_64);
    let p = t.s("/tmp/p");
    t.call("mknodat", &[FDCWD, p, u64::from(S_IFIFO | 0o666), 0]);
    assert_eq!(
        t.last_line(),
        "mknodat(AT_FDCWD, \"/tmp/p\", S_IFIFO|0666) = 0"
    );
    let d = t.s("/tmp/d");
    t.call("mknod", &[d, u64::from(S_IFCHR | 0o600), 0x103]);
    assert_eq!(
        t.last_line(),
        "mknod(\"/tmp/d\", S_IFCHR|0600, makedev(0x1, 0x3)) = 0"
    );
    let r = t.s("/tmp/r");
    t.call("mknod", &[r, 0o600, 0]);
    assert_eq!(t.last_line(), "mknod(\"/tmp/r\", 0600) = 0");
    let fd = t.open("/tmp/r", O_RDONLY) as u64;
    t.call("flock", &[fd, 2 | 4]);
    assert_eq!(t.last_line(), "flock(3, LOCK_EX|LOCK_NB) = 0");
    t.call("flock", &[fd, 8]);
    assert_eq!(t.last_line(), "flock(3, LOCK_UN) = 0");
    // 2020-01-02 03:04:05 UTC, then UTIME_OMIT.
    let mut b = Vec::new();
    for v in [1_577_934_245i64, 0, 1_577_934_245, 5] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    t.write_mem(BUF, &b);
    t.call("utimensat", &[FDCWD, r, BUF, 0]);
    assert_eq!(
        t.last_line(),
        "utimensat(AT_FDCWD, \"/tmp/r\", [{tv_sec=1577934245, tv_nsec=0} /* \
         2020-01-02T03:04:05+0000 */, {tv_sec=1577934245, tv_nsec=5} /* \
         2020-01-02T03:04:05.000000005+0000 */], 0) = 0"
    );
    let mut b = Vec::new();
    for v in [1_577_934_245i64, 0, 0, (1 << 30) - 2] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    t.write_mem(BUF, &b);
    t.call("utimensat", &[FDCWD, r, BUF, 0]);
    assert_eq!(
        t.last_line(),
        "utimensat(AT_FDCWD, \"/tmp/r\", [{tv_sec=1577934245, tv_nsec=0} /* \
         2020-01-02T03:04:05+0000 */, UTIME_OMIT], 0) = 0"
    );
    t.call("utimensat", &[FDCWD, r, 0, 0]);
    assert_eq!(
        t.last_line(),
        "utimensat(AT_FDCWD, \"/tmp/r\", NULL, 0) = 0"
    );
    let root = t.s("/");
    t.call("statfs", &[root, BUF]);
    let used = t.u64_at(BUF + 24);
    let ffree = t.u64_at(BUF + 48);
    assert_eq!(
        t.last_line(),
        format!(
            "statfs(\"/\", {{f_type=TMPFS_MAGIC, f_bsize=4096, f_blocks=65536, \
             f_bfree={used}, f_bavail={used}, f_files=65536, f_ffree={ffree}, \
             f_fsid={{val=[0, 0]}}, f_namelen=255, f_frsize=4096, f_flags=ST_VALID}}) = 0"
        )
    );
    let mut t = T::new(Abi::I386);
    let root = t.s("/");
    t.call("statfs64", &[root, 84, BUF]);
    let line = t.last_line();
    assert!(
        line.starts_with("statfs64(\"/\", 84, {f_type=TMPFS_MAGIC, f_bsize=4096, f_blocks=65536,"),
        "{line}"
    );
    assert!(
        line.ends_with("f_namelen=255, f_frsize=4096, f_flags=ST_VALID}) = 0"),
        "{line}"
    );
}

#[test]
fn poll_lines() {
    let mut t = T::new(Abi::X86_64);
    t.ok("pipe", &[BUF]);
    let mut b = Vec::new();
    for (fd, ev) in [(3i32, 1u16), (4, 4), (-1, 1)] {
        b.extend_from_slice(&fd.to_le_bytes());
        b.extend_from_slice(&ev.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
    }
    t.write_mem(BUF2, &b);
    t.call("poll", &[BUF2, 3, 0]);
    assert_eq!(
        t.last_line(),
        "poll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}, {fd=-1}], 3, 0) = 1 \
         ([{fd=4, revents=POLLOUT}])"
    );
    t.call("poll", &[BUF2, 1, 0]);
    assert_eq!(
        t.last_line(),
        "poll([{fd=3, events=POLLIN}], 1, 0) = 0 (Timeout)"
    );
    t.write_mem(BUF, &[0; 16]);
    t.call("ppoll", &[BUF2, 2, BUF, 0, 8]);
    assert_eq!(
        t.last_line(),
        "ppoll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}], 2, {tv_sec=0, tv_nsec=0}, \
         NULL, 8) = 1 ([{fd=4, revents=POLLOUT}], left {tv_sec=0, tv_nsec=0})"
    );
}

#[test]
fn timer_and_usage_lines() {
    let mut t = T::new(Abi::I386);
    t.call("times", &[BUF]);
    let r = t.u32_at(BUF);
    let line = t.last_line();
    assert!(
        line.starts_with(&format!(
            "times({{tms_utime={r}, tms_stime=0, tms_cutime=0, tms_cstime=0}}) = "
        )),
        "{line}"
    );
    t.call("getrusage", &[(-1i64) as u64, BUF]);
    assert_eq!(
        t.last_line(),
        "getrusage(RUSAGE_CHILDREN, {ru_utime={tv_sec=0, tv_usec=0}, ru_stime={tv_sec=0, \
         tv_usec=0}, ...}) = 0"
    );
    t.call("getrusage", &[7, BUF]);
    assert_eq!(
        t.last_line(),
        "getrusage(0x7 /* RUSAGE_??? */, 0x20000) = -1 EINVAL (Invalid argument)"
    );
    let v: Vec<u8> = [0u32, 250_000, 1, 5]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    t.write_mem(BUF2, &v);
    assert_eq!(
        crate::strace::ext::itimerval(Abi::I386, &mut t.mem, BUF2).unwrap(),
        "{it_interval={tv_sec=0, tv_usec=250000}, it_value={tv_sec=1, tv_usec=5}}"
    );
    assert_eq!(crate::strace::ext::itimer_which(0), "ITIMER_REAL");
}

#[test]
fn select_lines() {
    // As strace 6.1 prints python's select.select([r], [w], [], 0) on a
    // fresh pipe.
    let mut t = T::new(Abi::X86_64);
    t.ok("pipe", &[BUF]);
    t.write_mem(BUF2, &[8, 0, 0, 0, 0, 0, 0, 0]);
    t.write_mem(BUF2 + 8, &[16, 0, 0, 0, 0, 0, 0, 0]);
    t.write_mem(BUF2 + 16, &[0; 16]);
    t.call("pselect6", &[5, BUF2, BUF2 + 8, 0, BUF2 + 16, 0]);
    assert_eq!(
        t.last_line(),
        "pselect6(5, [3], [4], NULL, {tv_sec=0, tv_nsec=0}, NULL) = 1 (out [4], left \
         {tv_sec=0, tv_nsec=0})"
    );
    t.write_mem(BUF2, &[8, 0, 0, 0, 0, 0, 0, 0]);
    t.call("select", &[5, BUF2, 0, 0, BUF2 + 16]);
    assert_eq!(
        t.last_line(),
        "select(5, [3], NULL, NULL, {tv_sec=0, tv_usec=0}) = 0 (Timeout)"
    );
    let mut t = T::new(Abi::I386);
    t.write_mem(BUF2, &[3, 0, 0, 0]);
    t.write_mem(BUF2 + 4, &[3, 0, 0, 0]);
    t.call("_newselect", &[2, BUF2, BUF2 + 4, 0, 0]);
    assert_eq!(
        t.last_line(),
        "_newselect(2, [0 1], [0 1], NULL, NULL) = 2 (in [0], out [1])"
    );
}
