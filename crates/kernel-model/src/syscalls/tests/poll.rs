//! poll/ppoll/select/pselect6: readiness of pipes, files and the console,
//! timeouts, blocking and errors.

use crate::abi::Abi;
use crate::errno::Errno;
use crate::personality::{Dispatch, Wait};
use crate::testutil::*;
use crate::uapi::*;

fn pollfd(fd: i32, events: u16) -> Vec<u8> {
    let mut b = fd.to_le_bytes().to_vec();
    b.extend_from_slice(&events.to_le_bytes());
    b.extend_from_slice(&0xffffu16.to_le_bytes());
    b
}

fn revents(t: &mut T, k: u64) -> u16 {
    let b = t.read(BUF2 + k * 8 + 6, 2);
    u16::from_le_bytes([b[0], b[1]])
}

#[test]
fn poll_pipes_files_console() {
    for abi in ABIS {
        let mut t = T::new(abi);
        t.ok("pipe", &[BUF]);
        let (r, w) = (t.u32_at(BUF) as i32, t.u32_at(BUF + 4) as i32);
        t.sys.vfs.write_file(b"/tmp/f", b"x", 0o644).unwrap();
        let f = t.open("/tmp/f", O_RDONLY) as i32;
        // Empty pipe: not readable; write end writable; file both; stdout
        // writable; a bad fd POLLNVAL; a negative fd ignored.
        let mut b = pollfd(r, 1);
        b.extend(pollfd(w, 4));
        b.extend(pollfd(f, 5));
        b.extend(pollfd(1, 4));
        b.extend(pollfd(99, 1));
        b.extend(pollfd(-1, 1));
        t.write_mem(BUF2, &b);
        assert_eq!(t.ok("poll", &[BUF2, 6, 0]), 4);
        assert_eq!(revents(&mut t, 0), 0);
        assert_eq!(revents(&mut t, 1), 4);
        assert_eq!(revents(&mut t, 2), 5);
        assert_eq!(revents(&mut t, 3), 4);
        assert_eq!(revents(&mut t, 4), 0x20);
        assert_eq!(revents(&mut t, 5), 0);
        // Data makes the read end ready.
        let s = t.s("hi");
        t.ok("write", &[w as u64, s, 2]);
        t.write_mem(BUF2, &pollfd(r, 1 | 0x40));
        assert_eq!(t.ok("poll", &[BUF2, 1, 0]), 1);
        assert_eq!(revents(&mut t, 0), 0x41);
        // Writers gone, data drained: POLLHUP even if not asked for.
        t.ok("read", &[r as u64, BUF, 2]);
        t.ok("close", &[w as u64]);
        t.write_mem(BUF2, &pollfd(r, 1));
        assert_eq!(t.ok("poll", &[BUF2, 1, 0]), 1);
        assert_eq!(revents(&mut t, 0), 0x10);
        t.err("poll", &[BAD, 1, 0], Errno::EFAULT);
        t.err("poll", &[BUF2, 1 << 20, 0], Errno::EINVAL);
    }
}

#[test]
fn poll_waits() {
    let mut t = T::new(Abi::X86_64);
    t.ok("pipe", &[BUF]);
    let r = t.u32_at(BUF) as i32;
    t.write_mem(BUF2, &pollfd(r, 1));
    // A writer exists: block like a pipe read, with or without a timeout.
    assert!(matches!(
        t.dispatch("poll", &[BUF2, 1, (-1i64) as u64]),
        Dispatch::Block(Wait::PipeReadable(_))
    ));
    assert!(matches!(
        t.dispatch("poll", &[BUF2, 1, 1000]),
        Dispatch::Block(Wait::PipeReadable(_))
    ));
    // Re-issued past its deadline (kept from the first try): 0.
    t.cycles += 1u64 << 40;
    assert_eq!(t.ok("poll", &[BUF2, 1, 1000]), 0);
    assert_eq!(revents(&mut t, 0), 0);
    // Nothing that could become ready: a timed poll sleeps to its end.
    match t.dispatch("poll", &[0, 0, 1000]) {
        Dispatch::Sleep { until_cycle, ret } => {
            assert_eq!(ret, 0);
            assert!(until_cycle > t.cycles);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn select_sets_and_errors() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let w = if abi == Abi::X86_64 { 8 } else { 4 };
        let name = if abi == Abi::X86_64 {
            "select"
        } else {
            "_newselect"
        };
        t.ok("pipe", &[BUF]);
        let (r, wr) = (t.u32_at(BUF), t.u32_at(BUF + 4));
        // Read set {0, r}, write set {1, wr}.
        let rs = BUF2;
        let ws = BUF2 + 0x100;
        let tv = BUF2 + 0x200;
        t.write_mem(rs, &((1u64 << r) | 1).to_le_bytes()[..w]);
        t.write_mem(ws, &((1u64 << wr) | 2).to_le_bytes()[..w]);
        let mut tvb = vec![0u8; 2 * w];
        tvb[0] = 5;
        t.write_mem(tv, &tvb);
        let n = u64::from(wr + 1);
        // stdin (console input reported readable), stdout, the write end.
        assert_eq!(t.ok(name, &[n, rs, ws, 0, tv]), 3);
        assert_eq!(t.read(rs, 1)[0], 1);
        assert_eq!(t.read(ws, 1)[0], (1u8 << wr) | 2);
        // No time passed: the timeout is left as it was.
        assert_eq!(t.read(tv, 1)[0], 5);
        // Only the empty pipe, zero timeout: 0 and the set cleared.
        t.write_mem(rs, &(1u64 << r).to_le_bytes()[..w]);
        t.write_mem(tv, &vec![0u8; 2 * w]);
        assert_eq!(t.ok(name, &[n, rs, 0, 0, tv]), 0);
        assert_eq!(t.read(rs, 1)[0], 0);
        t.err(name, &[(-1i64) as u64, 0, 0, 0, 0], Errno::EINVAL);
        t.write_mem(rs, &(1u64 << 20).to_le_bytes()[..w]);
        t.err(name, &[21, rs, 0, 0, 0], Errno::EBADF);
        let mut bad = vec![0u8; 2 * w];
        bad[w..w + 4].copy_from_slice(&1_000_000u32.to_le_bytes());
        t.write_mem(tv, &bad);
        t.err(name, &[1, 0, 0, 0, tv], Errno::EINVAL);
        // pselect6: a timespec and the sigmask pack.
        t.write_mem(rs, &(1u64 << r).to_le_bytes()[..w]);
        t.write_mem(tv, &vec![0u8; 2 * w]);
        assert_eq!(t.ok("pselect6", &[n, rs, 0, 0, tv, 0]), 0);
        let pack = BUF + 0x80;
        let mut pk = vec![0u8; 2 * w];
        pk[..4].copy_from_slice(&(BUF as u32 + 0x40).to_le_bytes());
        pk[w] = 4;
        t.write_mem(pack, &pk);
        t.err("pselect6", &[n, rs, 0, 0, tv, pack], Errno::EINVAL);
    }
}
