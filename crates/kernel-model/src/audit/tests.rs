//! Audit log tests: ring buffer, watermark, filter, JSON Lines, the seed's
//! record layout and its guest-visible calls.

use std::sync::{Arc, Mutex};

use super::*;
use crate::errno::Errno;
use crate::personality::{Dispatch, Wait};
use crate::testutil::*;

fn rec(name: &str) -> AuditRecord {
    AuditRecord {
        serial: 0,
        ts_sec: 1,
        ts_usec: 2,
        abi: Abi::X86_64,
        nr: 39,
        name: name.into(),
        args: vec![],
        ret: 7,
        pid: 5,
        uid: 0,
        comm: crate::personality::comm_bytes(b"prog"),
        mechanism: EntryMechanism::Syscall64,
        cycles: PhaseCycles::default(),
        call: None,
        result: "7".into(),
    }
}

#[test]
fn ring_buffer_and_watermark() {
    let mut log = AuditLog::new(AuditConfig {
        capacity: 10,
        ..AuditConfig::default()
    });
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    log.set_watermark_callback(Some(Box::new(move |len, cap| {
        h.lock().unwrap().push((len, cap))
    })));
    assert_eq!(log.watermark(), 8);
    for i in 0..7 {
        assert_eq!(log.push(rec("getpid")), Some(i));
    }
    assert!(hits.lock().unwrap().is_empty());
    log.push(rec("getpid"));
    assert_eq!(*hits.lock().unwrap(), vec![(8, 10)]);
    // Fires once per crossing.
    log.push(rec("getpid"));
    log.push(rec("getpid"));
    assert_eq!(hits.lock().unwrap().len(), 1);
    // Full: the oldest goes.
    assert_eq!(log.push(rec("getpid")), Some(10));
    assert_eq!(log.len(), 10);
    assert_eq!(log.lost(), 1);
    assert_eq!(log.records().next().unwrap().serial, 1);
    // Draining below the watermark re-arms the callback.
    let drained = log.drain(5);
    assert_eq!(
        drained.iter().map(|r| r.serial).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    for _ in 0..3 {
        log.push(rec("getpid"));
    }
    assert_eq!(*hits.lock().unwrap(), vec![(8, 10), (8, 10)]);
    assert!(log.set_cycles(
        12,
        PhaseCycles {
            handler: 5,
            ..PhaseCycles::default()
        }
    ));
    assert!(!log.set_cycles(0, PhaseCycles::default()));
    log.clear();
    assert!(log.is_empty());
}

#[test]
fn drop_newest_like_the_seed() {
    let mut log = AuditLog::new(AuditConfig {
        capacity: 2,
        overflow: Overflow::DropNewest,
        ..AuditConfig::default()
    });
    assert_eq!(log.push(rec("a")), Some(0));
    assert_eq!(log.push(rec("b")), Some(1));
    assert_eq!(log.push(rec("c")), None);
    assert_eq!(log.lost(), 1);
    assert_eq!(
        log.records().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    // Capacity 0 is treated as 1.
    let log = AuditLog::new(AuditConfig {
        capacity: 0,
        ..AuditConfig::default()
    });
    assert_eq!(log.capacity(), 1);
    assert_eq!(log.watermark(), 1);
}

#[test]
fn filters() {
    let f = AuditFilter::seed_default();
    for n in ["open", "close", "getpid", "clone", "fork", "execve"] {
        assert!(f.matches(n));
    }
    assert!(!f.matches("read"));
    assert!(AuditFilter::All.matches("anything"));
    assert!(!AuditFilter::names(Vec::<String>::new()).matches("open"));
    assert_eq!(
        EntryMechanism::from_name("sysenter"),
        Some(EntryMechanism::Sysenter)
    );
    assert_eq!(EntryMechanism::SyscallCompat.to_string(), "syscall32");
    assert_eq!(EntryMechanism::from_name("nope"), None);
}

#[test]
fn default_filter_records_seed_calls_on_both_abis() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.cycles = 3_000_000_000 + 30_000; // 1 s + 10 µs
        let p = t.s("tmp/test.txt");
        t.call("open", &[p, 0]);
        t.call("read", &[0, BUF, 1]);
        t.call("getpid", &[]);
        t.call("close", &[u64::MAX]);
        let recs: Vec<AuditRecord> = t.sys.audit.records().cloned().collect();
        assert_eq!(
            recs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["open", "getpid", "close"]
        );
        let open = &recs[0];
        assert_eq!(open.serial, 0);
        assert_eq!(open.nr, t.nr("open"));
        assert_eq!(open.ret, -2);
        assert_eq!(open.pid, 42);
        assert_eq!(open.comm_str(), "test");
        assert_eq!(open.ts_sec, crate::time::DEFAULT_BOOT_EPOCH as u64 + 1);
        assert_eq!(open.ts_usec, 10);
        assert_eq!(
            open.call.as_deref(),
            Some(r#"open("tmp/test.txt", O_RDONLY)"#)
        );
        assert_eq!(open.args.len(), 3);
        assert_eq!(
            open.to_text(),
            r#"0 1704067201.000010 test[42] uid=0 direct open("tmp/test.txt", O_RDONLY) = -1 ENOENT (No such file or directory)"#
        );
        assert_eq!(recs[1].ret, 42);
        assert_eq!(recs[2].result, "-1 EBADF (Bad file descriptor)");
    }
}

#[test]
fn json_lines() {
    let mut t = T::new(Abi::X86_64);
    t.sys.audit.set_filter(AuditFilter::All);
    let msg = t.s("hi");
    t.call("write", &[1, msg, 2]);
    t.call("getpid", &[]);
    let jsonl = t.sys.audit.to_jsonl();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 2);
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["serial"], 0);
    assert_eq!(v["name"], "write");
    assert_eq!(v["nr"], 1);
    assert_eq!(v["abi"], "x86_64");
    assert_eq!(v["ret"], 2);
    assert_eq!(v["comm"], "test");
    assert_eq!(v["mechanism"], "direct");
    assert_eq!(v["args"], serde_json::json!([1, msg, 2]));
    assert_eq!(v["call"], r#"write(1, "hi", 2)"#);
    assert_eq!(v["cycles"]["handler"], 0);
    let mut out = Vec::new();
    t.sys.audit.write_jsonl(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), jsonl);
    assert_eq!(t.sys.audit.to_text().lines().count(), 2);
}

#[test]
fn seed_record_layout() {
    let mut r = rec("open");
    r.serial = 3;
    r.ts_sec = 0x1122;
    r.ts_usec = 0x33;
    r.nr = 2;
    r.ret = -2;
    r.uid = 1000;
    let b = encode_seed_record(&r);
    assert_eq!(b.len(), 56);
    assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 3);
    assert_eq!(b[4..8], [0, 0, 0, 0], "padding");
    assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 0x1122);
    assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 0x33);
    assert_eq!(u32::from_le_bytes(b[24..28].try_into().unwrap()), 2);
    assert_eq!(
        u32::from_le_bytes(b[28..32].try_into().unwrap()),
        (-2i32) as u32
    );
    assert_eq!(u32::from_le_bytes(b[32..36].try_into().unwrap()), 5);
    assert_eq!(u32::from_le_bytes(b[36..40].try_into().unwrap()), 1000);
    assert_eq!(&b[40..44], b"prog");
    assert_eq!(b[44..56], [0; 12]);
}

/// `test_syscall.c`'s loop: `syscall(336, 0, col_buf, 20 * 56, 1)`.
#[test]
fn myaudit_like_test_syscall_c() {
    let mut t = T::new(Abi::X86_64);
    let size = 20 * 56;
    // Below the watermark the collector waits, as in the seed.
    t.write_mem(BUF, &[0xaa; 16]);
    assert!(matches!(
        t.dispatch("myaudit", &[0, BUF, size, 1]),
        Dispatch::Block(Wait::AuditWatermark)
    ));
    assert_eq!(t.read(BUF, 16), [0; 16], "clear_user happened first");
    for _ in 0..79 {
        t.call("getpid", &[]);
    }
    assert!(matches!(
        t.dispatch("myaudit", &[0, BUF, size, 1]),
        Dispatch::Block(_)
    ));
    t.call("getpid", &[]);
    // 80 records waiting, room for 20: 20 copied, the rest reset.
    assert_eq!(t.call("myaudit", &[0, BUF, size, 1]), 20);
    let first = t.read(BUF, 56);
    assert_eq!(u32::from_le_bytes(first[0..4].try_into().unwrap()), 0);
    assert_eq!(u32::from_le_bytes(first[24..28].try_into().unwrap()), 39);
    assert_eq!(u32::from_le_bytes(first[32..36].try_into().unwrap()), 42);
    assert_eq!(&first[40..45], b"test\0");
    let twentieth = t.read(BUF + 19 * 56, 4);
    assert_eq!(u32::from_le_bytes(twentieth.try_into().unwrap()), 19);
    assert!(t.sys.audit.is_empty());
    // Without reset, the rest stays.
    for _ in 0..85 {
        t.call("getpid", &[]);
    }
    assert_eq!(t.call("myaudit", &[0, BUF, size, 0]), 20);
    assert_eq!(t.sys.audit.len(), 65);
    // Other types do nothing; faults are EFAULT and drain nothing.
    assert_eq!(t.call("myaudit", &[1, BUF, size, 1]), 0);
    t.err("myaudit", &[0, BAD, size, 1], Errno::EFAULT);
    assert_eq!(t.sys.audit.len(), 65);
    // Non-blocking mode returns what is there.
    t.sys.audit.set_myaudit_blocks(false);
    // The u16 size wraps as in the seed's prototype; a zero size copies nothing.
    assert_eq!(t.call("myaudit", &[0, BUF, 0x1_0000, 0]), 0);
    assert_eq!(t.sys.audit.len(), 65);
    t.sys.audit.clear();
    t.call("getpid", &[]);
    assert_eq!(t.call("myaudit", &[0, BUF, size, 1]), 1);
}

#[test]
fn syscall_audit_records_what_the_guest_names() {
    let mut t = T::new(Abi::X86_64);
    assert_eq!(t.call("syscall_audit", &[57, (-11i64) as u64]), 0);
    let r = t.sys.audit.records().next().unwrap().clone();
    assert_eq!((r.nr, r.name.as_str(), r.ret, r.pid), (57, "fork", -11, 42));
    assert_eq!(r.result, "-1 EAGAIN (Resource temporarily unavailable)");
    t.call("syscall_audit", &[9999, 0]);
    assert_eq!(t.sys.audit.records().nth(1).unwrap().name, "syscall_0x270f");
    assert_eq!(t.last_line(), "syscall_audit(9999, 0) = 0");
}

#[test]
fn cycles_are_filled_in_later() {
    let mut t = T::new(Abi::X86_64);
    let nr = u64::from(t.nr("getpid"));
    let env = crate::personality::SyscallEnv {
        task: &mut t.task,
        mem: &mut t.mem,
        process: &t.proc,
        mechanism: EntryMechanism::Syscall64,
        cycles: 100,
    };
    let out = t.sys.syscall(Abi::X86_64, nr, [0; 6], env);
    let serial = out.audit_serial.unwrap();
    let c = PhaseCycles {
        user_stub: 1,
        hw_entry: 2,
        entry_stub: 3,
        handler: 4,
        exit_stub: 5,
        hw_exit: 6,
    };
    assert!(t.sys.audit.set_cycles(serial, c));
    let r = t.sys.audit.records().next().unwrap();
    assert_eq!(r.cycles.total(), 21);
    assert_eq!(r.mechanism, EntryMechanism::Syscall64);
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["mechanism"], "syscall");
    assert_eq!(v["cycles"]["hw_exit"], 6);
}
