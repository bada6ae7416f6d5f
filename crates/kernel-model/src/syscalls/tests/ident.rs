//! Credentials, groups, sessions, priorities, prctl, scheduler queries,
//! resource usage: results and errno values as Linux gives them.

use crate::abi::Abi;
use crate::errno::Errno;
use crate::testutil::*;

const M1: u64 = u32::MAX as u64;

#[test]
fn groups_and_ids_as_root() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let (get, set) = match abi {
            Abi::X86_64 => ("getgroups", "setgroups"),
            Abi::I386 => ("getgroups32", "setgroups32"),
        };
        assert_eq!(t.ok(get, &[0, 0]), 0);
        t.err(get, &[(-1i64) as u64, BUF], Errno::EINVAL);
        t.write_mem(BUF2, &[5, 0, 0, 0, 3, 0, 0, 0]);
        t.ok(set, &[2, BUF2]);
        assert_eq!(t.ok(get, &[0, 0]), 2);
        t.err(get, &[1, BUF], Errno::EINVAL);
        assert_eq!(t.ok(get, &[2, BUF]), 2);
        // Kept sorted, as groups_sort does.
        assert_eq!(t.read(BUF, 8), [3, 0, 0, 0, 5, 0, 0, 0]);
        t.err(set, &[65537, BUF2], Errno::EINVAL);
        t.err(set, &[1, BAD], Errno::EFAULT);
        // Root may set anything; the saved and fs ids follow.
        let res = if abi == Abi::X86_64 {
            "getresuid"
        } else {
            "getresuid32"
        };
        t.ok("setresuid", &[1, 2, 3]);
        if abi == Abi::I386 {
            // The i386 number 164 is the 16-bit call: same values here.
            t.ok("setresuid32", &[1, 2, 3]);
        }
        t.ok(res, &[BUF, BUF + 4, BUF + 8]);
        assert_eq!(
            (t.u32_at(BUF), t.u32_at(BUF + 4), t.u32_at(BUF + 8)),
            (1, 2, 3)
        );
        // Now unprivileged (euid 2): only the current ids.
        let setuid = if abi == Abi::X86_64 {
            "setuid"
        } else {
            "setuid32"
        };
        t.err(setuid, &[7], Errno::EPERM);
        t.ok(setuid, &[3]);
        assert_eq!(t.ok("geteuid", &[]), 3);
        assert_eq!(t.ok("getuid", &[]), 1);
        t.err(set, &[0, 0], Errno::EPERM);
        t.err(setuid, &[M1], Errno::EINVAL);
    }
}

#[test]
fn setreuid_rules() {
    let mut t = T::new(Abi::X86_64);
    t.ok("setresuid", &[10, 20, 30]);
    // ruid may become the euid; suid then follows the new euid.
    t.ok("setreuid", &[20, M1]);
    t.ok("getresuid", &[BUF, BUF + 4, BUF + 8]);
    assert_eq!(
        (t.u32_at(BUF), t.u32_at(BUF + 4), t.u32_at(BUF + 8)),
        (20, 20, 20)
    );
    t.err("setreuid", &[99, M1], Errno::EPERM);
    t.err("setresuid", &[M1, 99, M1], Errno::EPERM);
    t.ok("setresuid", &[M1, M1, M1]);
    // Groups likewise under a non-root euid.
    t.err("setgid", &[5], Errno::EPERM);
    t.ok("setgid", &[0]);
}

#[test]
fn sixteen_bit_ids_i386() {
    let mut t = T::new(Abi::I386);
    t.ok("setresuid32", &[70000, 70000, 0]);
    t.ok("getresuid", &[BUF, BUF + 2, BUF + 4]);
    // high2lowuid: 65534.
    assert_eq!(t.read(BUF, 6), [0xfe, 0xff, 0xfe, 0xff, 0, 0]);
    assert_eq!(t.ok("getuid", &[]), 65534);
    assert_eq!(t.ok("getuid32", &[]), 70000);
}

#[test]
fn sessions_and_groups() {
    let mut t = T::new(Abi::X86_64);
    // The test process is pid 42 in pid 1's group and session.
    assert_eq!(t.ok("getpgrp", &[]), 1);
    assert_eq!(t.ok("setsid", &[]), 42);
    assert_eq!(t.ok("getpgrp", &[]), 42);
    // Now a group leader: no second session.
    t.err("setsid", &[], Errno::EPERM);
}

#[test]
fn nice_i386() {
    let mut t = T::new(Abi::I386);
    t.ok("nice", &[5]);
    assert_eq!(t.task.ids.nice, 5);
    t.ok("nice", &[100]);
    assert_eq!(t.task.ids.nice, 19);
    t.ok("nice", &[(-3i64) as u64]);
    assert_eq!(t.task.ids.nice, 16);
    t.ok("setuid32", &[1000]);
    t.err("nice", &[(-1i64) as u64], Errno::EPERM);
    t.ok("nice", &[1]);
    assert_eq!(t.task.ids.nice, 17);
}

#[test]
fn prctl_options() {
    let mut t = T::new(Abi::X86_64);
    assert_eq!(t.ok("prctl", &[3, 0, 0, 0, 0]), 1);
    t.ok("prctl", &[4, 0, 0, 0, 0]);
    assert_eq!(t.ok("prctl", &[3, 0, 0, 0, 0]), 0);
    t.err("prctl", &[4, 2, 0, 0, 0], Errno::EINVAL);
    t.ok("prctl", &[1, 9, 0, 0, 0]);
    t.ok("prctl", &[2, BUF, 0, 0, 0]);
    assert_eq!(t.u32_at(BUF), 9);
    t.err("prctl", &[1, 65, 0, 0, 0], Errno::EINVAL);
    let n = t.s("a-name-longer-than-15");
    t.ok("prctl", &[15, n, 0, 0, 0]);
    t.ok("prctl", &[16, BUF, 0, 0, 0]);
    assert_eq!(t.read(BUF, 16), b"a-name-longer-t\0");
    t.err("prctl", &[16, BAD, 0, 0, 0], Errno::EFAULT);
    t.err("prctl", &[0x1234, 0, 0, 0, 0], Errno::EINVAL);
}

#[test]
fn scheduler_queries() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.write_mem(BUF, &[0xff; 16]);
        assert_eq!(t.ok("sched_getaffinity", &[0, 128, BUF]), 8);
        assert_eq!(t.read(BUF, 9), [1, 0, 0, 0, 0, 0, 0, 0, 0xff]);
        t.err("sched_getaffinity", &[0, 0, BUF], Errno::EINVAL);
        t.err("sched_getaffinity", &[0, 3, BUF], Errno::EINVAL);
        t.err("sched_getaffinity", &[7, 8, BUF], Errno::ESRCH);
        t.write_mem(BUF2, &[2, 0, 0, 0, 0, 0, 0, 0]);
        t.err("sched_setaffinity", &[0, 8, BUF2], Errno::EINVAL);
        t.write_mem(BUF2, &[3]);
        t.ok("sched_setaffinity", &[0, 8, BUF2]);
        assert_eq!(t.ok("sched_getscheduler", &[0]), 0);
        t.err("sched_getscheduler", &[(-1i64) as u64], Errno::EINVAL);
        t.ok("sched_getparam", &[0, BUF]);
        assert_eq!(t.u32_at(BUF), 0);
        t.err("sched_getparam", &[0, 0], Errno::EINVAL);
        assert_eq!(t.ok("sched_get_priority_max", &[1]), 99);
        assert_eq!(t.ok("sched_get_priority_min", &[2]), 1);
        assert_eq!(t.ok("sched_get_priority_max", &[0]), 0);
        t.err("sched_get_priority_min", &[4], Errno::EINVAL);
        t.write_mem(BUF, &[0xff; 8]);
        t.ok("getcpu", &[BUF, BUF + 4, 0]);
        assert_eq!(t.read(BUF, 8), [0; 8]);
        assert_eq!(t.ok("membarrier", &[0, 0, 0]), 0x1ff);
        t.err("membarrier", &[0, 1, 0], Errno::EINVAL);
        t.ok("membarrier", &[1, 0, 0]);
        t.err("membarrier", &[3, 0, 0], Errno::EINVAL);
    }
}

#[test]
fn times_and_rusage() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let w = if abi == Abi::X86_64 { 8 } else { 4 };
        let r = t.ok("times", &[BUF]);
        // jiffies start 300 s before the 32-bit wrap: in USER_HZ ticks
        // (2^32 - 75000) * 100 / 250, plus the uptime.
        let initial = ((1u64 << 32) - 75000) * 100 / 250;
        if abi == Abi::X86_64 {
            assert!(r as u64 >= initial && (r as u64) < initial + 100_000);
        }
        assert_eq!(t.read(BUF + w, 3 * w as usize), vec![0; 3 * w as usize]);
        t.ok("getrusage", &[(-1i64) as u64, BUF]);
        assert_eq!(t.read(BUF, 18 * w as usize), vec![0; 18 * w as usize]);
        t.ok("getrusage", &[0, BUF]);
        t.err("getrusage", &[2, BUF], Errno::EINVAL);
        t.err("getrusage", &[0, BAD], Errno::EFAULT);
    }
}
