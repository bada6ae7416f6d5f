//! Identity, time, random and scheduling calls.

use crate::abi::Abi;
use crate::errno::Errno;
use crate::personality::Dispatch;
use crate::testutil::*;
use crate::time::DEFAULT_BOOT_EPOCH;
use crate::uapi::*;

const SEC: u64 = 3_000_000_000;

#[test]
fn uname_per_abi() {
    for (abi, machine) in [(Abi::X86_64, "x86_64"), (Abi::I386, "i686")] {
        let mut t = T::new(abi);
        t.ok("uname", &[BUF]);
        let b = t.read(BUF, 390);
        let field = |i: usize| {
            let f = &b[i * 65..(i + 1) * 65];
            String::from_utf8(f.iter().take_while(|&&c| c != 0).copied().collect()).unwrap()
        };
        assert_eq!(field(0), "Linux");
        assert_eq!(field(1), "sysgate");
        assert!(field(2).starts_with("6.1.0"));
        assert_eq!(field(4), machine);
        t.err("uname", &[BAD], Errno::EFAULT);
        t.sys.uts.nodename = "n".repeat(100);
        t.ok("uname", &[BUF]);
        assert_eq!(t.read(BUF + 65 + 64, 1), [0], "truncated with its NUL");
    }
}

#[test]
fn identity_calls() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.proc.tid = 43;
        t.proc.uid = 1000;
        t.proc.gid = 100;
        assert_eq!(t.ok("getpid", &[]), 42);
        assert_eq!(t.ok("gettid", &[]), 43);
        assert_eq!(t.ok("getppid", &[]), 1);
        assert_eq!(t.ok("getuid", &[]), 1000);
        assert_eq!(t.ok("geteuid", &[]), 1000);
        assert_eq!(t.ok("getgid", &[]), 100);
        assert_eq!(t.ok("getegid", &[]), 100);
        if abi == Abi::I386 {
            t.proc.uid = 70000;
            assert_eq!(
                t.ok("getuid", &[]),
                65534,
                "16-bit getuid overflows to 65534"
            );
            assert_eq!(t.ok("getuid32", &[]), 70000);
            assert_eq!(t.ok("geteuid32", &[]), 70000);
            assert_eq!(t.ok("getgid32", &[]), 100);
            assert_eq!(t.ok("getegid32", &[]), 100);
        }
    }
}

#[test]
fn time_gettimeofday_clock_gettime() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.cycles = 5 * SEC + 3_000; // 5 s + 1 µs
        let epoch = DEFAULT_BOOT_EPOCH;
        assert_eq!(t.ok("time", &[0]), epoch + 5);
        assert_eq!(t.ok("time", &[BUF]), epoch + 5);
        let w = abi.ptr_size();
        let long_at = |t: &mut T, a: u64| -> i64 {
            if w == 8 {
                t.u64_at(a) as i64
            } else {
                i64::from(t.i32_at(a))
            }
        };
        assert_eq!(long_at(&mut t, BUF), epoch + 5);
        t.err("time", &[BAD], Errno::EFAULT);
        t.ok("gettimeofday", &[BUF, BUF2]);
        assert_eq!(long_at(&mut t, BUF), epoch + 5);
        assert_eq!(long_at(&mut t, BUF + w as u64), 1);
        t.ok("gettimeofday", &[0, 0]);
        t.err("gettimeofday", &[BAD, 0], Errno::EFAULT);
        t.ok("clock_gettime", &[u64::from(CLOCK_MONOTONIC as u32), BUF]);
        assert_eq!(long_at(&mut t, BUF), 5);
        assert_eq!(long_at(&mut t, BUF + w as u64), 1000);
        t.ok("clock_gettime", &[u64::from(CLOCK_REALTIME as u32), BUF]);
        assert_eq!(long_at(&mut t, BUF), epoch + 5);
        t.ok(
            "clock_gettime",
            &[u64::from(CLOCK_MONOTONIC_COARSE as u32), BUF],
        );
        assert_eq!(
            long_at(&mut t, BUF + w as u64),
            0,
            "coarse clocks tick every 4 ms"
        );
        t.ok("clock_gettime", &[u64::from(CLOCK_BOOTTIME as u32), BUF]);
        t.ok(
            "clock_gettime",
            &[u64::from(CLOCK_PROCESS_CPUTIME_ID as u32), BUF],
        );
        t.err("clock_gettime", &[10, BUF], Errno::EINVAL);
        t.err("clock_gettime", &[u64::MAX, BUF], Errno::EINVAL);
        t.err("clock_gettime", &[0, BAD], Errno::EFAULT);
        t.ok("clock_getres", &[0, BUF]);
        assert_eq!(long_at(&mut t, BUF + w as u64), 1);
        t.ok(
            "clock_getres",
            &[u64::from(CLOCK_REALTIME_COARSE as u32), BUF],
        );
        assert_eq!(long_at(&mut t, BUF + w as u64), 4_000_000);
        t.ok("clock_getres", &[0, 0]);
        t.err("clock_getres", &[99, 0], Errno::EINVAL);
        if abi == Abi::I386 {
            t.ok("clock_gettime64", &[1, BUF]);
            assert_eq!(t.u64_at(BUF), 5);
            assert_eq!(t.u64_at(BUF + 8), 1000);
            t.ok("clock_getres_time64", &[1, BUF]);
            assert_eq!(t.u64_at(BUF + 8), 1);
        }
        // Time moves with the cycle counter only.
        t.cycles += SEC;
        assert_eq!(t.ok("time", &[0]), epoch + 6);
    }
}

fn put_timespec(t: &mut T, addr: u64, sec: i64, nsec: i64, wide: bool) {
    if wide {
        t.write_mem(addr, &sec.to_le_bytes());
        t.write_mem(addr + 8, &nsec.to_le_bytes());
    } else {
        t.write_mem(addr, &(sec as i32).to_le_bytes());
        t.write_mem(addr + 4, &(nsec as i32).to_le_bytes());
    }
}

#[test]
fn nanosleep_and_clock_nanosleep() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let wide = abi == Abi::X86_64;
        t.cycles = 1000;
        put_timespec(&mut t, BUF, 1, 500_000_000, wide);
        match t.dispatch("nanosleep", &[BUF, 0]) {
            Dispatch::Sleep { until_cycle, ret } => {
                assert_eq!(until_cycle, 1000 + 4_500_000_000);
                assert_eq!(ret, 0);
            }
            other => panic!("{other:?}"),
        }
        put_timespec(&mut t, BUF, 0, 1_000_000_000, wide);
        t.err("nanosleep", &[BUF, 0], Errno::EINVAL);
        put_timespec(&mut t, BUF, -1, 0, wide);
        t.err("nanosleep", &[BUF, 0], Errno::EINVAL);
        t.err("nanosleep", &[BAD, 0], Errno::EFAULT);
        // Absolute sleeps to a past time return at once.
        put_timespec(&mut t, BUF, 0, 0, wide);
        assert_eq!(
            t.ok("clock_nanosleep", &[1, u64::from(TIMER_ABSTIME), BUF, 0]),
            0
        );
        put_timespec(&mut t, BUF, DEFAULT_BOOT_EPOCH + 2, 0, wide);
        match t.dispatch("clock_nanosleep", &[0, u64::from(TIMER_ABSTIME), BUF, 0]) {
            Dispatch::Sleep { until_cycle, .. } => assert_eq!(until_cycle, 2 * SEC),
            other => panic!("{other:?}"),
        }
        put_timespec(&mut t, BUF, 0, 10, wide);
        assert!(matches!(
            t.dispatch("clock_nanosleep", &[1, 0, BUF, 0]),
            Dispatch::Sleep {
                until_cycle: 1030,
                ..
            }
        ));
        t.err("clock_nanosleep", &[3, 0, BUF, 0], Errno::EINVAL);
        t.err("clock_nanosleep", &[42, 0, BUF, 0], Errno::EINVAL);
        if abi == Abi::I386 {
            put_timespec(&mut t, BUF, 0, 10, true);
            assert!(matches!(
                t.dispatch("clock_nanosleep_time64", &[1, 0, BUF, 0]),
                Dispatch::Sleep { .. }
            ));
        }
    }
}

#[test]
fn getrandom_is_deterministic() {
    let mut a = T::new(Abi::X86_64);
    let mut b = T::new(Abi::I386);
    assert_eq!(a.ok("getrandom", &[BUF, 40, 0]), 40);
    assert_eq!(b.ok("getrandom", &[BUF, 40, u64::from(GRND_NONBLOCK)]), 40);
    assert_eq!(a.read(BUF, 40), b.read(BUF, 40));
    assert_ne!(a.read(BUF, 40), vec![0u8; 40]);
    a.ok("getrandom", &[BUF, 40, 0]);
    assert_ne!(a.read(BUF, 40), b.read(BUF, 40), "the stream advances");
    a.err("getrandom", &[BUF, 4, 8], Errno::EINVAL);
    a.err(
        "getrandom",
        &[BUF, 4, u64::from(GRND_RANDOM | GRND_INSECURE)],
        Errno::EINVAL,
    );
    a.err("getrandom", &[BAD, 4, 0], Errno::EFAULT);
    assert_eq!(a.ok("getrandom", &[BUF, 0, 0]), 0);
    // Running off the end of memory returns what was written.
    assert_eq!(a.ok("getrandom", &[BUF + 0x10000 - 4106, 5000, 0]), 4106);
}

#[test]
fn sched_yield_yields() {
    for abi in ABIS {
        let mut t = T::new(abi);
        assert!(matches!(t.dispatch("sched_yield", &[]), Dispatch::Yield(0)));
        assert_eq!(t.last_line(), "sched_yield() = 0");
    }
}
