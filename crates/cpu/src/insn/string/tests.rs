//! Tests of the string instructions: known results worked out from the SDM
//! pseudo-code (REP loop, DF direction, address sizes, fault resumption).

use crate::exception::Exception;
use crate::flags::{AF, CF, DF, OF, PF, SF, STATUS, ZF};
use crate::run::{Exit, Limit, Vcpu};
use crate::state::{Cpu, SegReg};
use crate::testutil::{CODE, machine, run};

use super::{MAX_ITERATIONS, PER_ELEMENT_COMPARE, PER_ELEMENT_MOVE};

const RAX: usize = 0;
const RCX: usize = 1;
const RSI: usize = 6;
const RDI: usize = 7;

/// Runs `code` followed by HLT in a fresh machine of `bits` (0 = real
/// mode) after `setup`.
fn go(bits: u32, code: &[u8], setup: impl FnOnce(&mut Cpu)) -> (Exit, Vcpu) {
    let mut v = machine(bits);
    setup(&mut v.cpu);
    let mut bytes = code.to_vec();
    bytes.push(0xF4);
    let exit = run(&mut v, &bytes);
    (exit, v)
}

/// Like [`go`] but asserts the run reached HLT.
fn ok(bits: u32, code: &[u8], setup: impl FnOnce(&mut Cpu)) -> Vcpu {
    let (exit, v) = go(bits, code, setup);
    assert_eq!(exit, Exit::Hlt, "rip={:#x}", v.cpu.rip);
    v
}

fn fill(c: &mut Cpu, pa: u64, bytes: &[u8]) {
    c.mmu.phys.write(pa, bytes);
}

fn bytes(c: &Cpu, pa: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    c.mmu.phys.read(pa, &mut b);
    b
}

#[test]
fn movs_every_size_forward_and_backward_64() {
    // (encoding, element size)
    for (code, size) in [
        (&[0xA4][..], 1u64),
        (&[0x66, 0xA5][..], 2),
        (&[0xA5][..], 4),
        (&[0x48, 0xA5][..], 8),
    ] {
        let v = ok(64, code, |c| {
            fill(c, 0x4000, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
            c.gpr[RSI] = 0x4000;
            c.gpr[RDI] = 0x5000;
            c.rflags |= CF | ZF; // flags are not touched
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[RSI], 0x4000 + size);
        assert_eq!(c.gpr[RDI], 0x5000 + size);
        let mut want = vec![1, 2, 3, 4, 5, 6, 7, 8, 9];
        want.truncate(size as usize);
        want.resize(9, 0);
        assert_eq!(bytes(c, 0x5000, 9), want);
        assert_eq!(c.rflags & STATUS, CF | ZF);
        // DF = 1: the registers go down by the element size.
        let v = ok(64, code, |c| {
            fill(c, 0x4000, &[0xAA; 8]);
            c.gpr[RSI] = 0x4000;
            c.gpr[RDI] = 0x5000;
            c.rflags |= DF;
        });
        assert_eq!(v.cpu.gpr[RSI], 0x4000 - size);
        assert_eq!(v.cpu.gpr[RDI], 0x5000 - size);
        assert_eq!(
            bytes(&v.cpu, 0x5000, size as usize),
            vec![0xAA; size as usize]
        );
    }
}

#[test]
fn stos_lods_every_size() {
    for (stos, lods, size) in [
        (&[0xAA][..], &[0xAC][..], 1usize),
        (&[0x66, 0xAB][..], &[0x66, 0xAD][..], 2),
        (&[0xAB][..], &[0xAD][..], 4),
        (&[0x48, 0xAB][..], &[0x48, 0xAD][..], 8),
    ] {
        let v = ok(64, stos, |c| {
            c.gpr[RAX] = 0x8877_6655_4433_2211;
            c.gpr[RDI] = 0x5000;
        });
        let want = &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88][..size];
        assert_eq!(bytes(&v.cpu, 0x5000, 8)[..size], *want);
        assert_eq!(bytes(&v.cpu, 0x5000 + size as u64, 1), vec![0]);
        assert_eq!(v.cpu.gpr[RDI], 0x5000 + size as u64);
        let v = ok(64, lods, |c| {
            fill(c, 0x4000, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
            c.gpr[RAX] = u64::MAX;
            c.gpr[RSI] = 0x4000;
        });
        // AL/AX merge; EAX zero-extends into RAX (SDM Vol. 1 §3.4.1.1).
        let want = match size {
            1 => 0xFFFF_FFFF_FFFF_FF11,
            2 => 0xFFFF_FFFF_FFFF_2211,
            4 => 0x4433_2211,
            _ => 0x8877_6655_4433_2211,
        };
        assert_eq!(v.cpu.gpr[RAX], want);
        assert_eq!(v.cpu.gpr[RSI], 0x4000 + size as u64);
    }
}

#[test]
fn cmps_and_scas_set_flags_like_cmp() {
    // CMPSB: [RSI] - [RDI] = 0x01 - 0x02: borrow, negative, AF.
    let v = ok(64, &[0xA6], |c| {
        fill(c, 0x4000, &[0x01]);
        fill(c, 0x5000, &[0x02]);
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(v.cpu.rflags & STATUS, CF | SF | PF | AF);
    assert_eq!((v.cpu.gpr[RSI], v.cpu.gpr[RDI]), (0x4001, 0x5001));
    // CMPSD: 0x8000_0000 - 1 overflows.
    let v = ok(64, &[0xA7], |c| {
        fill(c, 0x4000, &[0, 0, 0, 0x80]);
        fill(c, 0x5000, &[1, 0, 0, 0]);
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(v.cpu.rflags & (OF | CF | SF | ZF), OF);
    // SCASW: AX - [RDI], equal -> ZF, PF.
    let v = ok(64, &[0x66, 0xAF], |c| {
        fill(c, 0x5000, &[0x34, 0x12]);
        c.gpr[RAX] = 0xFFFF_1234;
        c.gpr[RDI] = 0x5000;
        c.gpr[RSI] = 0x777;
    });
    assert_eq!(v.cpu.rflags & STATUS, ZF | PF);
    assert_eq!(v.cpu.gpr[RDI], 0x5002);
    assert_eq!(v.cpu.gpr[RSI], 0x777, "SCAS does not use RSI");
    // SCASQ with DF = 1: RAX - [RDI] = 0 - 1.
    let v = ok(64, &[0x48, 0xAF], |c| {
        fill(c, 0x5000, &[1, 0, 0, 0, 0, 0, 0, 0]);
        c.gpr[RDI] = 0x5000;
        c.rflags |= DF;
    });
    assert_eq!(v.cpu.rflags & (CF | SF | ZF | OF), CF | SF);
    assert_eq!(v.cpu.gpr[RDI], 0x4FF8);
}

#[test]
fn rep_with_zero_count_does_nothing() {
    // The real zero-count case: RCX = 0.
    for code in [
        &[0xF3, 0xA4][..],
        &[0xF3, 0x48, 0xAB][..],
        &[0xF3, 0xA6][..],
        &[0xF2, 0xAE][..],
        &[0xF3, 0xAD][..],
    ] {
        let v = ok(64, code, |c| {
            fill(c, 0x4000, &[9; 8]);
            c.gpr[RCX] = 0;
            c.gpr[RAX] = 0x55;
            c.gpr[RSI] = 0x4000;
            c.gpr[RDI] = 0x5000;
            c.rflags |= CF | SF;
        });
        let c = &v.cpu;
        assert_eq!(
            (c.gpr[RCX], c.gpr[RSI], c.gpr[RDI], c.gpr[RAX]),
            (0, 0x4000, 0x5000, 0x55)
        );
        assert_eq!(c.rflags & STATUS, CF | SF);
        assert_eq!(bytes(c, 0x5000, 8), vec![0; 8]);
    }
}

#[test]
fn one_shot_fault_changes_nothing() {
    // MOVSB whose destination lies beyond the ES limit: #GP(0), and
    // neither RSI, RDI nor memory changes.
    let (exit, v) = go(32, &[0xA4], |c| {
        fill(c, 0x4000, &[0x5A]);
        c.seg[SegReg::Es as usize].limit = 0x4FFF;
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    let c = &v.cpu;
    assert_eq!((c.gpr[RSI], c.gpr[RDI], c.rip), (0x4000, 0x5000, CODE));
    assert_eq!(bytes(c, 0x5000, 1), vec![0]);
    // CMPSD with the source beyond an SS-overridden limit is #SS(0) and
    // leaves the flags alone.
    let (exit, v) = go(32, &[0x36, 0xA7], |c| {
        c.seg[SegReg::Ss as usize].limit = 0x3FFF;
        c.gpr[RSI] = 0x3FFE;
        c.gpr[RDI] = 0x5000;
        c.rflags |= CF;
    });
    assert_eq!(exit, Exit::Exception(Exception::SS(0)));
    assert_eq!(v.cpu.rflags & STATUS, CF);
    assert_eq!(v.cpu.gpr[RSI], 0x3FFE);
}

#[test]
fn repe_cmps_stops_at_the_first_difference() {
    let v = ok(64, &[0xF3, 0xA6], |c| {
        fill(c, 0x4000, b"abcdef");
        fill(c, 0x5000, b"abcxef");
        c.gpr[RCX] = 6;
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    let c = &v.cpu;
    // Four comparisons ('d' - 'x' = 0x64 - 0x78 borrows), two left.
    assert_eq!((c.gpr[RCX], c.gpr[RSI], c.gpr[RDI]), (2, 0x4004, 0x5004));
    assert_eq!(c.rflags & (ZF | CF | SF), CF | SF);
    // Equal strings: runs out the count with ZF = 1.
    let v = ok(64, &[0xF3, 0xA6], |c| {
        fill(c, 0x4000, b"abcd");
        fill(c, 0x5000, b"abcd");
        c.gpr[RCX] = 4;
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(v.cpu.gpr[RCX], 0);
    assert_eq!(v.cpu.gpr[RSI], 0x4004);
    assert_eq!(v.cpu.rflags & (ZF | CF), ZF);
    // REPNE CMPSW stops at the first equal word.
    let v = ok(64, &[0xF2, 0x66, 0xA7], |c| {
        fill(c, 0x4000, &[1, 0, 2, 0, 3, 0, 4, 0]);
        fill(c, 0x5000, &[9, 0, 9, 0, 3, 0, 9, 0]);
        c.gpr[RCX] = 4;
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(
        (v.cpu.gpr[RCX], v.cpu.gpr[RSI], v.cpu.gpr[RDI]),
        (1, 0x4006, 0x5006)
    );
    assert_eq!(v.cpu.rflags & ZF, ZF);
}

#[test]
fn repne_scas_is_strlen_and_repe_scas_skips() {
    let v = ok(64, &[0xF2, 0xAE], |c| {
        fill(c, 0x4000, b"hello\0xyz");
        c.gpr[RAX] = 0;
        c.gpr[RCX] = u64::MAX;
        c.gpr[RDI] = 0x4000;
    });
    let c = &v.cpu;
    // Six bytes scanned: the terminator is found, RDI is past it.
    assert_eq!(c.gpr[RCX], u64::MAX - 6);
    assert_eq!(!c.gpr[RCX] - 1, 5);
    assert_eq!(c.gpr[RDI], 0x4006);
    assert_eq!(c.rflags & ZF, ZF);
    // Not found within the count: ZF = 0, count exhausted.
    let v = ok(64, &[0xF2, 0xAE], |c| {
        fill(c, 0x4000, b"hello");
        c.gpr[RAX] = b'z' as u64;
        c.gpr[RCX] = 3;
        c.gpr[RDI] = 0x4000;
    });
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (0, 0x4003));
    assert_eq!(v.cpu.rflags & ZF, 0);
    // REPE SCASD skips equal dwords, stops at the first different one.
    let v = ok(32, &[0xF3, 0xAF], |c| {
        fill(c, 0x4000, &[7, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0]);
        c.gpr[RAX] = 7;
        c.gpr[RCX] = 4;
        c.gpr[RDI] = 0x4000;
    });
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (1, 0x400C));
    assert_eq!(v.cpu.rflags & (ZF | CF | SF), CF | SF);
}

#[test]
fn rep_lods_leaves_the_last_element() {
    let v = ok(64, &[0xF3, 0x66, 0xAD], |c| {
        fill(c, 0x4000, &[1, 0, 2, 0, 3, 0]);
        c.gpr[RCX] = 3;
        c.gpr[RSI] = 0x4000;
        c.gpr[RAX] = 0xFFFF_FFFF;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xFFFF_0003);
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RSI]), (0, 0x4006));
}

#[test]
fn rep_movs_overlap_follows_element_order() {
    // Going up with the destination one byte above the source: each
    // element copies the byte the previous one wrote.
    let v = ok(64, &[0xF3, 0xA4], |c| {
        fill(c, 0x4000, b"ABCDEFGHI");
        c.gpr[RCX] = 8;
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x4001;
    });
    assert_eq!(bytes(&v.cpu, 0x4000, 9), b"AAAAAAAAA".to_vec());
    // Going down with the destination above the source: a memmove.
    let v = ok(64, &[0xFD, 0xF3, 0xA5], |c| {
        fill(c, 0x4000, &[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
        c.gpr[RCX] = 4;
        c.gpr[RSI] = 0x400C;
        c.gpr[RDI] = 0x4010;
    });
    assert_eq!(
        bytes(&v.cpu, 0x4000, 20),
        vec![1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]
    );
    assert_eq!((v.cpu.gpr[RSI], v.cpu.gpr[RDI]), (0x3FFC, 0x4000));
    // Going down with the destination below the source: replication.
    let v = ok(64, &[0xFD, 0xF3, 0xA4], |c| {
        fill(c, 0x4000, b"ABCDEFGHI");
        c.gpr[RCX] = 8;
        c.gpr[RSI] = 0x4008;
        c.gpr[RDI] = 0x4007;
    });
    assert_eq!(bytes(&v.cpu, 0x4000, 9), b"IIIIIIIII".to_vec());
    // Going up with the destination below the source: a memmove.
    let v = ok(64, &[0xF3, 0xA4], |c| {
        fill(c, 0x4002, b"ABCDEFGH");
        c.gpr[RCX] = 8;
        c.gpr[RSI] = 0x4002;
        c.gpr[RDI] = 0x4000;
    });
    assert_eq!(bytes(&v.cpu, 0x4000, 10), b"ABCDEFGHGH".to_vec());
}

/// A deterministic byte pattern.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|k| (k * 7 + k / 251) as u8).collect()
}

#[test]
fn long_rep_movs_across_pages_in_both_directions() {
    // 3000 quadwords from a source 3 bytes into a page to a destination
    // whose elements straddle page boundaries.
    let n = 3000usize;
    let src = pattern(n * 8);
    let v = ok(64, &[0xF3, 0x48, 0xA5], |c| {
        fill(c, 0x10003, &src);
        c.gpr[RCX] = n as u64;
        c.gpr[RSI] = 0x10003;
        c.gpr[RDI] = 0x30FFD;
    });
    assert_eq!(bytes(&v.cpu, 0x30FFD, n * 8), src);
    assert_eq!(bytes(&v.cpu, 0x30FFD + (n * 8) as u64, 1), vec![0]);
    assert_eq!(bytes(&v.cpu, 0x30FFC, 1), vec![0]);
    assert_eq!(v.cpu.gpr[RSI], 0x10003 + (n * 8) as u64);
    assert_eq!(v.cpu.gpr[RDI], 0x30FFD + (n * 8) as u64);
    assert_eq!(v.cpu.gpr[RCX], 0);
    // The same downwards (DF = 1), starting at the last element.
    let last = ((n - 1) * 8) as u64;
    let v = ok(64, &[0xFD, 0xF3, 0x48, 0xA5], |c| {
        fill(c, 0x10003, &src);
        c.gpr[RCX] = n as u64;
        c.gpr[RSI] = 0x10003 + last;
        c.gpr[RDI] = 0x30FFD + last;
    });
    assert_eq!(bytes(&v.cpu, 0x30FFD, n * 8), src);
    assert_eq!(v.cpu.gpr[RSI], 0x10003 - 8);
    assert_eq!(v.cpu.gpr[RDI], 0x30FFD - 8);
}

#[test]
fn long_rep_stos_in_both_directions() {
    let v = ok(32, &[0xF3, 0x66, 0xAB], |c| {
        c.gpr[RAX] = 0xBEEF;
        c.gpr[RCX] = 10_001;
        c.gpr[RDI] = 0x20001;
    });
    let mut want = Vec::new();
    for _ in 0..10_001 {
        want.extend_from_slice(&[0xEF, 0xBE]);
    }
    assert_eq!(bytes(&v.cpu, 0x20001, want.len()), want);
    assert_eq!(bytes(&v.cpu, 0x20001 + want.len() as u64, 1), vec![0]);
    assert_eq!(v.cpu.gpr[RDI], 0x20001 + 20_002);
    let v = ok(32, &[0xFD, 0xF3, 0xAB], |c| {
        c.gpr[RAX] = 0x4433_2211;
        c.gpr[RCX] = 5000;
        c.gpr[RDI] = 0x30000;
    });
    // Elements at 0x30000 down to 0x30000 - 4999 * 4.
    let low = 0x30000 - 4999 * 4;
    let got = bytes(&v.cpu, low, 5000 * 4);
    assert!(
        got.chunks(4).all(|w| w == [0x11, 0x22, 0x33, 0x44]),
        "pattern"
    );
    assert_eq!(bytes(&v.cpu, low - 1, 1), vec![0]);
    assert_eq!(bytes(&v.cpu, 0x30004, 1), vec![0]);
    assert_eq!(v.cpu.gpr[RDI], low - 4);
}

#[test]
fn f2_prefix_on_movs_and_stos_repeats() {
    let v = ok(64, &[0xF2, 0xAA], |c| {
        c.gpr[RAX] = 0x77;
        c.gpr[RCX] = 3;
        c.gpr[RDI] = 0x5000;
        c.rflags |= ZF; // REPNE's ZF test does not apply to STOS
    });
    assert_eq!(bytes(&v.cpu, 0x5000, 4), vec![0x77, 0x77, 0x77, 0]);
    assert_eq!(v.cpu.gpr[RCX], 0);
}

#[test]
fn address_size_16_in_real_mode_uses_si_di_cx_and_segments() {
    // DS = 0x2000, ES = 0x3000: source 0x20010, destination 0x30020.
    let v = ok(0, &[0xF3, 0xA5], |c| {
        c.seg[SegReg::Ds as usize] = crate::state::Segment::real_mode(0x2000, false);
        c.seg[SegReg::Es as usize] = crate::state::Segment::real_mode(0x3000, false);
        fill(c, 0x20010, &[1, 2, 3, 4, 5, 6, 7]);
        c.gpr[RCX] = 0xABCD_0003;
        c.gpr[RSI] = 0xABCD_0010;
        c.gpr[RDI] = 0xABCD_0020;
    });
    let c = &v.cpu;
    assert_eq!(bytes(c, 0x30020, 7), vec![1, 2, 3, 4, 5, 6, 0]);
    assert_eq!(
        (c.gpr[RCX], c.gpr[RSI], c.gpr[RDI]),
        (0xABCD_0000, 0xABCD_0016, 0xABCD_0026)
    );
    // SI wraps within 16 bits; the upper half of ESI is preserved.
    let v = ok(0, &[0xAC], |c| {
        fill(c, 0xFFFF, &[0x42]);
        c.gpr[RSI] = 0x1234_FFFF;
    });
    assert_eq!(v.cpu.gpr[RAX] & 0xFF, 0x42);
    assert_eq!(v.cpu.gpr[RSI], 0x1234_0000);
    // REP STOSW wraps DI from 0xFFFE to 0 (the second word lands at ES:0).
    let v = ok(0, &[0xF3, 0xAB], |c| {
        c.seg[SegReg::Es as usize] = crate::state::Segment::real_mode(0x3000, false);
        c.gpr[RAX] = 0x1122;
        c.gpr[RCX] = 2;
        c.gpr[RDI] = 0xFFFE;
    });
    assert_eq!(bytes(&v.cpu, 0x3FFFE, 2), vec![0x22, 0x11]);
    assert_eq!(bytes(&v.cpu, 0x30000, 2), vec![0x22, 0x11]);
    assert_eq!(v.cpu.gpr[RDI], 0x0002);
    // A word at offset 0xFFFF crosses the real-mode limit: #GP(0), with
    // nothing changed.
    let (exit, v) = go(0, &[0xAD], |c| c.gpr[RSI] = 0xFFFF);
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    assert_eq!(v.cpu.gpr[RSI], 0xFFFF);
    // 66h in 16-bit code: MOVSD moves a doubleword with 16-bit addresses.
    let v = ok(0, &[0x66, 0xA5], |c| {
        fill(c, 0x4000, &[1, 2, 3, 4, 5]);
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(bytes(&v.cpu, 0x5000, 5), vec![1, 2, 3, 4, 0]);
    assert_eq!((v.cpu.gpr[RSI], v.cpu.gpr[RDI]), (0x4004, 0x5004));
    // 67h in 16-bit code: ESI/EDI/ECX.
    let v = ok(0, &[0x67, 0xF3, 0xA4], |c| {
        fill(c, 0x4000, &[1, 2]);
        c.gpr[RCX] = 2;
        c.gpr[RSI] = 0x4000;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(bytes(&v.cpu, 0x5000, 3), vec![1, 2, 0]);
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RSI]), (0, 0x4002));
}

#[test]
fn address_size_overrides_in_32_and_64_bit_code() {
    // 67h in 32-bit code: SI/DI/CX, upper halves preserved.
    let v = ok(32, &[0x67, 0xF3, 0xA4], |c| {
        fill(c, 0x4000, &[1, 2, 3]);
        c.gpr[RCX] = 0x7777_0002;
        c.gpr[RSI] = 0x5555_4000;
        c.gpr[RDI] = 0x6666_5000;
    });
    assert_eq!(bytes(&v.cpu, 0x5000, 3), vec![1, 2, 0]);
    assert_eq!(
        (v.cpu.gpr[RCX], v.cpu.gpr[RSI], v.cpu.gpr[RDI]),
        (0x7777_0000, 0x5555_4002, 0x6666_5002)
    );
    // 67h in 64-bit code: ESI/EDI/ECX, written zero-extended.
    let v = ok(64, &[0x67, 0xF3, 0xA4], |c| {
        fill(c, 0x4000, &[1, 2, 3]);
        c.gpr[RCX] = 0xFFFF_FFFF_0000_0002;
        c.gpr[RSI] = 0xFFFF_FFFF_0000_4000;
        c.gpr[RDI] = 0x1_0000_5000;
    });
    assert_eq!(bytes(&v.cpu, 0x5000, 3), vec![1, 2, 0]);
    assert_eq!(
        (v.cpu.gpr[RCX], v.cpu.gpr[RSI], v.cpu.gpr[RDI]),
        (0, 0x4002, 0x5002)
    );
    // 67h with ECX = 0 in 64-bit code: nothing happens even though RCX != 0.
    let v = ok(64, &[0x67, 0xF3, 0xAA], |c| {
        c.gpr[RCX] = 0xFFFF_FFFF_0000_0000;
        c.gpr[RDI] = 0x5000;
        c.gpr[RAX] = 1;
    });
    assert_eq!(v.cpu.gpr[RCX], 0xFFFF_FFFF_0000_0000);
    assert_eq!(bytes(&v.cpu, 0x5000, 1), vec![0]);
}

#[test]
fn segments_source_override_and_es_destination() {
    // 32-bit protected mode: DS base 0x20000, ES base 0x30000; an FS
    // override (base 0x40000) replaces DS for the source; ES cannot be
    // overridden.
    let setup = |c: &mut Cpu| {
        c.seg[SegReg::Ds as usize].base = 0x20000;
        c.seg[SegReg::Es as usize].base = 0x30000;
        c.seg[SegReg::Fs as usize].base = 0x40000;
        fill(c, 0x20100, &[0xD5]);
        fill(c, 0x40100, &[0xF5]);
        c.gpr[RSI] = 0x100;
        c.gpr[RDI] = 0x200;
    };
    let v = ok(32, &[0xA4], setup);
    assert_eq!(bytes(&v.cpu, 0x30200, 1), vec![0xD5]);
    let v = ok(32, &[0x64, 0xA4], setup);
    assert_eq!(bytes(&v.cpu, 0x30200, 1), vec![0xF5]);
    // An ES prefix on STOS changes nothing (it still writes ES:EDI); a
    // DS prefix on SCAS still reads ES:EDI.
    let v = ok(32, &[0x3E, 0xAA], |c| {
        setup(c);
        c.gpr[RAX] = 0x99;
    });
    assert_eq!(bytes(&v.cpu, 0x30200, 1), vec![0x99]);
    assert_eq!(bytes(&v.cpu, 0x20200, 1), vec![0]);
    let v = ok(32, &[0x3E, 0xAE], |c| {
        setup(c);
        fill(c, 0x30200, &[0x31]);
        c.gpr[RAX] = 0x31;
    });
    assert_eq!(v.cpu.rflags & ZF, ZF);
    // 64-bit mode: ES and DS bases are ignored, FS/GS bases apply.
    let v = ok(64, &[0xA4], setup);
    assert_eq!(bytes(&v.cpu, 0x200, 1), vec![0]);
    let v = ok(64, &[0x64, 0xA4], |c| {
        setup(c);
        fill(c, 0x100, &[0x11]);
    });
    assert_eq!(bytes(&v.cpu, 0x200, 1), vec![0xF5]);
    let v = ok(64, &[0x26, 0xA4], |c| {
        setup(c);
        fill(c, 0x100, &[0x11]);
    });
    assert_eq!(bytes(&v.cpu, 0x200, 1), vec![0x11]);
    // A non-canonical destination is #GP(0).
    let (exit, v) = go(64, &[0xAA], |c| c.gpr[RDI] = 0x0000_8000_0000_0000);
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    assert_eq!(v.cpu.gpr[RDI], 0x0000_8000_0000_0000);
}

#[test]
fn rep_fault_keeps_completed_iterations_and_resumes() {
    // ES limit 0x5007: the third dword (at 0x5008) faults.
    let (exit, mut v) = go(32, &[0xF3, 0xAB], |c| {
        c.seg[SegReg::Es as usize].limit = 0x5007;
        c.gpr[RAX] = 0xA1A2_A3A4;
        c.gpr[RCX] = 5;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    let c = &v.cpu;
    assert_eq!((c.gpr[RCX], c.gpr[RDI], c.rip), (3, 0x5008, CODE));
    assert_eq!(
        bytes(c, 0x5000, 9),
        vec![0xA4, 0xA3, 0xA2, 0xA1, 0xA4, 0xA3, 0xA2, 0xA1, 0]
    );
    // A fault in the first iteration changes nothing at all (not even the
    // bits of RCX above ECX, which a 32-bit count write would clear).
    let (exit2, v2) = go(32, &[0xF3, 0xAB], |c| {
        c.seg[SegReg::Es as usize].limit = 0x4FFF;
        c.gpr[RCX] = 0xFFFF_FFFF_0000_0005;
        c.gpr[RDI] = 0x5000;
    });
    assert_eq!(exit2, Exit::Exception(Exception::GP(0)));
    assert_eq!(
        (v2.cpu.gpr[RCX], v2.cpu.gpr[RDI]),
        (0xFFFF_FFFF_0000_0005, 0x5000)
    );
    // Lifting the limit and running again completes the repetition.
    v.cpu.seg[SegReg::Es as usize].limit = 0xFFFF_FFFF;
    assert_eq!(v.run(Limit::instructions(10)), Exit::Hlt);
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (0, 0x5014));
    assert_eq!(bytes(&v.cpu, 0x5010, 5), vec![0xA4, 0xA3, 0xA2, 0xA1, 0]);
}

/// Identity-maps the first 4 MiB with 32-bit paging (page directory at
/// 0x80000, page table at 0x81000), leaving page `hole` not present.
fn paging_with_hole(c: &mut Cpu, hole: u64) {
    c.mmu.phys.write_u32(0x80000, 0x81000 | 7);
    for k in 0..1024u64 {
        let pte = if k == hole >> 12 { 0 } else { (k << 12) | 7 };
        c.mmu.phys.write_u32(0x81000 + 4 * k, pte as u32);
    }
    c.ctrl.cr3 = 0x80000;
    c.ctrl.cr0 |= crate::state::Cr0::PG.bits();
}

#[test]
fn rep_page_fault_mid_way_resumes_after_mapping() {
    // REP MOVSB of 0x3000 bytes from 0x10000 to 0x2E800: the destination
    // page 0x30000 is not present, so 0x1800 bytes are copied first.
    let src = pattern(0x3000);
    let (exit, mut v) = go(32, &[0xF3, 0xA4], |c| {
        paging_with_hole(c, 0x30000);
        fill(c, 0x10000, &src);
        c.gpr[RCX] = 0x3000;
        c.gpr[RSI] = 0x10000;
        c.gpr[RDI] = 0x2E800;
    });
    // Supervisor write to a not-present page: error code W = 2.
    assert_eq!(
        exit,
        Exit::Exception(Exception::PF {
            addr: 0x30000,
            error: 2
        })
    );
    let c = &v.cpu;
    assert_eq!(
        (c.gpr[RCX], c.gpr[RSI], c.gpr[RDI]),
        (0x1800, 0x11800, 0x30000)
    );
    assert_eq!(c.rip, CODE);
    assert_eq!(bytes(c, 0x2E800, 0x1800), src[..0x1800].to_vec());
    assert_eq!(bytes(c, 0x30000, 1), vec![0]);
    // Map the page and resume.
    v.cpu.mmu.phys.write_u32(0x81000 + 4 * 0x30, 0x30000 | 7);
    assert_eq!(v.run(Limit::instructions(10)), Exit::Hlt);
    assert_eq!(bytes(&v.cpu, 0x2E800, 0x3000), src);
    assert_eq!(v.cpu.gpr[RCX], 0);
    // A read fault on the source (LODS) has error code 0.
    let (exit, v) = go(32, &[0xF3, 0xAD], |c| {
        paging_with_hole(c, 0x30000);
        c.gpr[RCX] = 4;
        c.gpr[RSI] = 0x2FFF8;
    });
    assert_eq!(
        exit,
        Exit::Exception(Exception::PF {
            addr: 0x30000,
            error: 0
        })
    );
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RSI]), (2, 0x30000));
}

/// Modeled cycles of running `code` with RCX = `count` (plus HLT).
fn cycles_for(code: &[u8], count: u64) -> (u64, u64) {
    let v = ok(64, code, |c| {
        fill(c, 0x10000, &[5; 0x100]);
        fill(c, 0x20000, &[5; 0x100]);
        c.gpr[RCX] = count;
        c.gpr[RSI] = 0x10000;
        c.gpr[RDI] = 0x20000;
        c.gpr[RAX] = 5;
    });
    (v.cpu.cycles, v.cpu.instructions)
}

#[test]
fn extra_cycles_per_iteration() {
    for (code, per) in [
        (&[0xF3, 0xA4][..], PER_ELEMENT_MOVE),
        (&[0xF3, 0xAA][..], PER_ELEMENT_MOVE),
        (&[0xF3, 0xAC][..], PER_ELEMENT_MOVE),
        (&[0xF3, 0xA6][..], PER_ELEMENT_COMPARE),
        (&[0xF3, 0xAE][..], PER_ELEMENT_COMPARE),
    ] {
        let (one, _) = cycles_for(code, 1);
        let (many, _) = cycles_for(code, 100);
        assert_eq!(many - one, 99 * per, "{code:x?}");
        let (zero, _) = cycles_for(code, 0);
        assert_eq!(zero, one, "a zero count costs the instruction only");
    }
    assert_eq!((PER_ELEMENT_MOVE, PER_ELEMENT_COMPARE), (1, 2));
}

#[test]
fn long_rep_is_split_without_changing_cycles() {
    let n = 2 * MAX_ITERATIONS + 5;
    let (one, ins_one) = cycles_for(&[0xF3, 0xAA], 1);
    let (many, ins_many) = cycles_for(&[0xF3, 0xAA], n);
    assert_eq!(many - one, n - 1);
    // Two extra passes of the same instruction.
    assert_eq!(ins_many, ins_one + 2);
}

#[test]
fn endless_rep_respects_run_limits() {
    // RCX = 2^64 - 1: the run stops at the cycle limit in the middle of
    // the repetition, with RIP at the instruction and consistent registers.
    let mut v = machine(64);
    v.cpu.mmu.phys.write(CODE, &[0xF3, 0xAA, 0xF4]);
    v.cpu.rip = CODE;
    v.cpu.gpr[RCX] = u64::MAX;
    v.cpu.gpr[RDI] = 0x10_0000;
    assert_eq!(v.run(Limit::cycles(1_000_000)), Exit::CycleLimit);
    assert_eq!(v.cpu.rip, CODE);
    let done = v.cpu.gpr[RDI] - 0x10_0000;
    assert!((1_000_000 - MAX_ITERATIONS..1_000_000 + MAX_ITERATIONS).contains(&done));
    assert_eq!(v.cpu.gpr[RCX], u64::MAX - done);
    assert_eq!(v.cpu.cycles, done);
    assert_eq!(v.run(Limit::instructions(3)), Exit::InstructionLimit);
    assert_eq!(v.cpu.gpr[RDI] - 0x10_0000, done + 3 * MAX_ITERATIONS);
}

#[test]
fn sixteen_bit_protected_mode_defaults() {
    // 16-bit code segment: 16-bit addresses and operands by default.
    let v = ok(16, &[0xF3, 0xA5], |c| {
        fill(c, 0x4000, &[1, 2, 3, 4, 5]);
        c.gpr[RCX] = 0x1_0002;
        c.gpr[RSI] = 0x1_4000;
        c.gpr[RDI] = 0x1_5000;
    });
    assert_eq!(bytes(&v.cpu, 0x5000, 5), vec![1, 2, 3, 4, 0]);
    assert_eq!(
        (v.cpu.gpr[RCX], v.cpu.gpr[RSI], v.cpu.gpr[RDI]),
        (0x1_0000, 0x1_4004, 0x1_5004)
    );
    // A null ES in protected mode: #GP(0).
    let (exit, _) = go(16, &[0xAA], |c| {
        c.seg[SegReg::Es as usize].attr |= crate::state::attr::UNUSABLE;
        c.seg[SegReg::Es as usize].selector = 0;
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
}

#[test]
fn long_compares_across_pages() {
    // REPE CMPSB over 10000 bytes whose copies start at different page
    // offsets; the first difference is at index 7777 (0x10 vs 0x20).
    let mut a = pattern(10_000);
    let mut b = a.clone();
    a[7777] = 0x10;
    b[7777] = 0x20;
    let v = ok(64, &[0xF3, 0xA6], |c| {
        fill(c, 0x10001, &a);
        fill(c, 0x30FFF, &b);
        c.gpr[RCX] = 10_000;
        c.gpr[RSI] = 0x10001;
        c.gpr[RDI] = 0x30FFF;
    });
    let c = &v.cpu;
    assert_eq!(c.gpr[RCX], 10_000 - 7778);
    assert_eq!((c.gpr[RSI], c.gpr[RDI]), (0x10001 + 7778, 0x30FFF + 7778));
    // 0x10 - 0x20 = 0xF0: borrow, sign, even parity.
    assert_eq!(c.rflags & STATUS, CF | PF | SF);
    // Equal buffers: the count runs out with ZF = 1.
    let v = ok(64, &[0xF3, 0xA6], |c| {
        fill(c, 0x10001, &a);
        fill(c, 0x30FFF, &a);
        c.gpr[RCX] = 10_000;
        c.gpr[RSI] = 0x10001;
        c.gpr[RDI] = 0x30FFF;
    });
    assert_eq!(v.cpu.gpr[RCX], 0);
    assert_eq!(v.cpu.rflags & STATUS, ZF | PF);
    // DF = 1, REPE CMPSW from the top word (index 2999) down; the words
    // differ at index 100, so 2900 words are compared.
    let words: Vec<u8> = (0..3000u16).flat_map(|k| k.to_le_bytes()).collect();
    let mut other = words.clone();
    other[200] ^= 0x80;
    let v = ok(32, &[0xFD, 0xF3, 0x66, 0xA7], |c| {
        fill(c, 0x20003, &words);
        fill(c, 0x40800, &other);
        c.gpr[RCX] = 3000;
        c.gpr[RSI] = 0x20003 + 2 * 2999;
        c.gpr[RDI] = 0x40800 + 2 * 2999;
    });
    assert_eq!(v.cpu.gpr[RCX], 100);
    assert_eq!(v.cpu.gpr[RSI], 0x20003 + 2 * 99);
    assert_eq!(v.cpu.gpr[RDI], 0x40800 + 2 * 99);
    // Word 100 is 0x0064 against 0x00E4: 0x64 - 0xE4 = 0xFF80.
    assert_eq!(v.cpu.rflags & (ZF | CF | SF | OF), CF | SF);
    // REPNE SCASW finds a word 4321 elements in, on an odd address.
    let mut hay: Vec<u8> = std::iter::repeat_n([0x11, 0x11], 5000).flatten().collect();
    hay[2 * 4321] = 0xEF;
    hay[2 * 4321 + 1] = 0xBE;
    let v = ok(64, &[0xF2, 0x66, 0xAF], |c| {
        fill(c, 0x50FFF, &hay);
        c.gpr[RAX] = 0xBEEF;
        c.gpr[RCX] = 5000;
        c.gpr[RDI] = 0x50FFF;
    });
    assert_eq!(v.cpu.gpr[RCX], 5000 - 4322);
    assert_eq!(v.cpu.gpr[RDI], 0x50FFF + 2 * 4322);
    assert_eq!(v.cpu.rflags & ZF, ZF);
    // REPNE SCASD that finds nothing: ZF = 0 and the flags of the last
    // comparison (0x11111111 - 0 = positive, no borrow).
    let v = ok(32, &[0xF2, 0xAF], |c| {
        fill(c, 0x50000, &hay);
        c.gpr[RAX] = 0x1111_1111;
        c.gpr[RCX] = 1000;
        c.gpr[RDI] = 0x50000 + 8;
        c.rflags |= CF | ZF;
    });
    // The first dword at 0x50008 equals EAX: one comparison, ZF = 1.
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (999, 0x5000C));
    assert_eq!(v.cpu.rflags & STATUS, ZF | PF);
    let v = ok(32, &[0xF2, 0xAF], |c| {
        fill(c, 0x50000, &hay);
        c.gpr[RAX] = 0;
        c.gpr[RCX] = 1000;
        c.gpr[RDI] = 0x50000;
    });
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (0, 0x50000 + 4000));
    // 0 - 0x11111111 = 0xEEEEEEEF: borrow, sign, AF (0 - 1 in the low
    // nibble), parity of 0xEF odd.
    assert_eq!(v.cpu.rflags & STATUS, CF | AF | SF);
}

#[test]
fn runs_at_the_ends_of_the_64_bit_address_space() {
    // DF = 1 from the top canonical byte and DF = 0 from 0: the run-length
    // bounds must not overflow (no RAM there: the writes go to open bus).
    let v = ok(64, &[0xFD, 0xF3, 0xAA], |c| {
        c.gpr[RCX] = 3;
        c.gpr[RDI] = u64::MAX;
    });
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (0, u64::MAX - 3));
    let v = ok(64, &[0xF3, 0xAA], |c| {
        c.gpr[RCX] = 3;
        c.gpr[RDI] = 0;
        c.gpr[RAX] = 0x42;
    });
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[RDI]), (0, 3));
    assert_eq!(bytes(&v.cpu, 0, 4), vec![0x42, 0x42, 0x42, 0]);
    let v = ok(64, &[0xFD, 0xF3, 0xA6], |c| {
        c.gpr[RCX] = 2;
        c.gpr[RSI] = u64::MAX;
        c.gpr[RDI] = u64::MAX;
    });
    assert_eq!(v.cpu.gpr[RCX], 0);
    assert_eq!(v.cpu.rflags & ZF, ZF);
}
