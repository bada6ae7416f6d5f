//! Tests that run real instructions on the host.
//!
//! Every test goes through `with_runner` (or takes `SERIAL` itself before
//! creating runners directly) so the tests can run concurrently in threads.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use super::*;
use std::sync::MutexGuard;

const RAX: usize = 0;
const RCX: usize = 1;
const RBX: usize = 3;
const RSP: usize = 4;

/// Guest stack top used by the stack tests.
const STACK_TOP: u64 = ARENA_BASE + 0x8000;

/// Takes the process-wide runner lock, for tests that call `NativeRunner::new`.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(insn: &[u8], state: NativeState) -> NativeState {
    with_runner(|r| {
        let mut s = state;
        r.run(insn, &mut s).unwrap();
        s
    })
    .unwrap()
}

/// Host RFLAGS as seen by Rust code right now.
fn host_rflags() -> u64 {
    let flags: u64;
    // SAFETY: pushes and immediately pops one word on the current stack; no
    // memory other than that slot and no registers other than `flags` change.
    unsafe { core::arch::asm!("pushfq", "pop {}", out(reg) flags) };
    flags
}

#[test]
fn add_signed_overflow_sets_of_and_sf() {
    let mut s = NativeState::default();
    s.gpr[RAX] = 0x7fff_ffff_ffff_ffff;
    s.gpr[RBX] = 1;
    s.rflags = CF; // must be overwritten by ADD
    let out = run(&[0x48, 0x01, 0xD8], s); // add rax, rbx
    assert_eq!(out.gpr[RAX], 0x8000_0000_0000_0000);
    assert_eq!(out.gpr[RBX], 1);
    // 0x..ff + 1: low nibble carries (AF); low byte 0x00 has even parity (PF).
    assert_eq!(out.rflags, FLAGS_RESERVED | OF | SF | AF | PF);
}

#[test]
fn add_unsigned_wrap_sets_cf_and_zf() {
    let mut s = NativeState::default();
    s.gpr[RAX] = u64::MAX;
    s.gpr[RBX] = 1;
    let out = run(&[0x48, 0x01, 0xD8], s); // add rax, rbx
    assert_eq!(out.gpr[RAX], 0);
    assert_eq!(out.rflags, FLAGS_RESERVED | CF | ZF | AF | PF);
}

#[test]
fn input_flags_reach_the_instruction() {
    // adc rax, rbx consumes CF from the caller's state.
    let mut s = NativeState::default();
    s.gpr[RAX] = 5;
    s.gpr[RBX] = 7;
    s.rflags = CF;
    let out = run(&[0x48, 0x11, 0xD8], s);
    assert_eq!(out.gpr[RAX], 13);
    s.rflags = 0;
    let out = run(&[0x48, 0x11, 0xD8], s);
    assert_eq!(out.gpr[RAX], 12);
}

#[test]
fn flags_pass_through_nop_masked() {
    let mut s = NativeState {
        rflags: FLAGS_MASK,
        ..NativeState::default()
    };
    assert_eq!(run(&[0x90], s).rflags, FLAGS_MASK | FLAGS_RESERVED);
    // TF, IF, AC, ID and high garbage are ignored on input and not reported.
    s.rflags = (1 << 8) | (1 << 9) | (1 << 18) | (1 << 21) | (0xdead << 32) | ZF;
    assert_eq!(run(&[0x90], s).rflags, ZF | FLAGS_RESERVED);
    s.rflags = 0;
    assert_eq!(run(&[0x90], s).rflags, FLAGS_RESERVED);
}

#[test]
fn push_writes_arena_below_rsp() {
    let out = with_runner(|r| {
        let mut s = NativeState::default();
        s.gpr[RAX] = 0x1122_3344_5566_7788;
        s.gpr[RSP] = STACK_TOP;
        r.run(&[0x50], &mut s).unwrap(); // push rax
        let off = (STACK_TOP - ARENA_BASE) as usize;
        let pushed = u64::from_le_bytes(r.arena()[off - 8..off].try_into().unwrap());
        (s, pushed)
    })
    .unwrap();
    assert_eq!(out.0.gpr[RSP], STACK_TOP - 8);
    assert_eq!(out.1, 0x1122_3344_5566_7788);
}

#[test]
fn pop_reads_arena_and_increments_rsp() {
    let s = with_runner(|r| {
        let off = (STACK_TOP - ARENA_BASE) as usize;
        r.arena()[off..off + 8].copy_from_slice(&0xcafe_f00d_u64.to_le_bytes());
        let mut s = NativeState::default();
        s.gpr[RSP] = STACK_TOP;
        r.run(&[0x5B], &mut s).unwrap(); // pop rbx
        s
    })
    .unwrap();
    assert_eq!(s.gpr[RBX], 0xcafe_f00d);
    assert_eq!(s.gpr[RSP], STACK_TOP + 8);
}

#[test]
fn harness_does_not_touch_the_arena() {
    with_runner(|r| {
        for (i, b) in r.arena().iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let before = r.arena().to_vec();
        let mut s = NativeState::default();
        s.gpr[RSP] = STACK_TOP;
        r.run(&[0x90], &mut s).unwrap();
        r.run(&[0x9C, 0x9D], &mut s).unwrap(); // pushfq; popfq: writes only [rsp-8]
        let after = r.arena();
        let off = (STACK_TOP - ARENA_BASE) as usize;
        assert_eq!(after[..off - 8], before[..off - 8]);
        assert_eq!(after[off..], before[off..]);
    })
    .unwrap();
}

#[test]
fn store_through_register_writes_arena() {
    with_runner(|r| {
        let mut s = NativeState::default();
        s.gpr[RAX] = 0xffff_ffff_dead_beef;
        s.gpr[RBX] = ARENA_BASE + 16;
        r.run(&[0x89, 0x03], &mut s).unwrap(); // mov [rbx], eax
        assert_eq!(r.arena()[16..20], 0xdead_beef_u32.to_le_bytes());
        assert_eq!(r.arena()[12..16], [0; 4]);
        assert_eq!(r.arena()[20..24], [0; 4]);
    })
    .unwrap();
}

#[test]
fn direction_flag_round_trips_and_host_df_is_restored() {
    let s = NativeState::default();
    let set = run(&[0xFD], s); // std
    assert_eq!(set.rflags, FLAGS_RESERVED | DF);
    assert_eq!(host_rflags() & DF, 0);

    let kept = run(&[0x90], set);
    assert_eq!(kept.rflags, FLAGS_RESERVED | DF);
    assert_eq!(host_rflags() & DF, 0);

    let cleared = run(&[0xFC], set); // cld
    assert_eq!(cleared.rflags, FLAGS_RESERVED);
}

#[test]
fn all_registers_pass_through_nop() {
    let mut s = NativeState::default();
    for (i, r) in s.gpr.iter_mut().enumerate() {
        // Distinct values in every byte, including a non-canonical RSP: the
        // harness must not use the guest stack at all.
        *r = 0x0101_0101_0101_0101_u64.wrapping_mul(i as u64 + 1) ^ 0xa5a5_0000_0000_5a5a;
    }
    s.rflags = FLAGS_RESERVED | CF | SF;
    assert_eq!(run(&[0x90], s), s);
}

#[test]
fn empty_and_multi_instruction_sequences() {
    with_runner(|r| {
        let mut s = NativeState::default();
        s.gpr[RCX] = 9;
        let before = s;
        r.run(&[], &mut s).unwrap();
        s.rflags = before.rflags;
        assert_eq!(s, before);
        // inc rcx; inc rcx; xor eax, eax
        r.run(&[0x48, 0xFF, 0xC1, 0x48, 0xFF, 0xC1, 0x31, 0xC0], &mut s)
            .unwrap();
        assert_eq!(s.gpr[RCX], 11);
        assert_eq!(s.rflags, FLAGS_RESERVED | ZF | PF);
    })
    .unwrap();
}

#[test]
fn changing_instruction_rewrites_code() {
    with_runner(|r| {
        let mut s = NativeState::default();
        r.run(&[0x48, 0xFF, 0xC0], &mut s).unwrap(); // inc rax
        r.run(&[0x48, 0xFF, 0xC0], &mut s).unwrap();
        r.run(&[0x48, 0xFF, 0xC8], &mut s).unwrap(); // dec rax
        r.run(&[0x90], &mut s).unwrap(); // shorter than before
        r.run(&[0x48, 0xFF, 0xC0], &mut s).unwrap();
        assert_eq!(s.gpr[RAX], 2);
    })
    .unwrap();
}

#[test]
fn too_long_instruction_is_an_error() {
    with_runner(|r| {
        let mut s = NativeState::default();
        let long = [0x90; MAX_INSN_LEN + 1];
        let err = r.run(&long, &mut s).unwrap_err();
        assert!(matches!(err, NativeError::InsnTooLong { len: 65, max: 64 }));
        assert!(err.to_string().contains("65"));
        // Exactly the limit is fine.
        r.run(&long[..MAX_INSN_LEN], &mut s).unwrap();
    })
    .unwrap();
}

#[test]
fn second_runner_is_an_error_not_a_panic() {
    let _serial = serial();
    let first = NativeRunner::new().unwrap();
    let second = NativeRunner::new();
    assert!(matches!(second, Err(NativeError::AlreadyInUse)));
    drop(first);
    // Released on drop: a new one can be created again.
    let mut again = NativeRunner::new().unwrap();
    assert!(again.arena().iter().all(|&b| b == 0));
}

#[test]
fn with_runner_reports_conflict_with_direct_runner() {
    // Inside with_runner a runner is alive (and SERIAL is held), so a direct
    // one must fail.
    let inner = with_runner(|_| NativeRunner::new().map(drop))
        .unwrap()
        .unwrap_err();
    assert!(matches!(inner, NativeError::AlreadyInUse));
}

#[test]
fn runner_can_move_between_threads() {
    let _serial = serial();
    let mut runner = NativeRunner::new().unwrap();
    let s = std::thread::spawn(move || {
        let mut s = NativeState::default();
        runner.run(&[0x48, 0xFF, 0xC0], &mut s).unwrap();
        s
    })
    .join()
    .unwrap();
    assert_eq!(s.gpr[RAX], 1);
}

#[test]
fn with_runner_from_many_threads() {
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let got = with_runner(|r| {
                        // Fresh arena each call.
                        assert!(r.arena()[..64].iter().all(|&b| b == 0));
                        let mut s = NativeState::default();
                        s.gpr[RAX] = t << 32 | i;
                        s.gpr[RSP] = STACK_TOP;
                        r.run(&[0x50], &mut s).unwrap(); // push rax
                        let off = (STACK_TOP - ARENA_BASE) as usize - 8;
                        r.arena()[..8].fill(0xff);
                        u64::from_le_bytes(r.arena()[off..off + 8].try_into().unwrap())
                    })
                    .unwrap();
                    assert_eq!(got, t << 32 | i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn error_display_and_source() {
    let e = NativeError::ArenaMap(io::Error::from_raw_os_error(libc::EEXIST));
    assert!(e.to_string().contains("0x50000000"));
    assert!(std::error::Error::source(&e).is_some());
    assert!(std::error::Error::source(&NativeError::AlreadyInUse).is_none());
}

#[test]
fn alternating_instructions_rewrite_the_code_correctly() {
    // Alternate `add rax, rbx` and `nop` so the code-rewrite path runs on
    // every call; the sum proves each run executed the right bytes. (Speed
    // is a benchmark concern, not a test's.)
    const RUNS: u64 = 20_000;
    let total = with_runner(|r| {
        let mut s = NativeState::default();
        s.gpr[3] = 3;
        for i in 0..RUNS {
            let insn: &[u8] = if i % 2 == 0 {
                &[0x48, 0x01, 0xD8]
            } else {
                &[0x90]
            };
            r.run(insn, &mut s).unwrap();
        }
        s.gpr[0]
    })
    .unwrap();
    assert_eq!(total, 3 * RUNS / 2);
}

/// Host MXCSR as seen by Rust code right now.
fn host_mxcsr() -> u32 {
    let mut v = 0u32;
    // SAFETY: STMXCSR writes the four bytes of `v` only.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &raw mut v, options(nostack)) };
    v
}

#[test]
fn simd_state_is_loaded_and_stored_and_host_mxcsr_restored() {
    let before = host_mxcsr();
    let (s, simd) = with_runner(|r| {
        let mut s = NativeState::default();
        let mut simd = SimdState::default();
        simd.xmm[0] = 0x3F80_0000; // 1.0f
        simd.xmm[9] = 0x4040_0000; // 3.0f
        simd.xmm[15] = 0x1234;
        // Round up (RC = 10b), every exception masked.
        simd.mxcsr = MXCSR_DEFAULT | (2 << 13);
        r.run_simd(&[0xF3, 0x41, 0x0F, 0x5E, 0xC1], &mut s, &mut simd) // divss xmm0, xmm9
            .unwrap();
        (s, simd)
    })
    .unwrap();
    // 1/3 rounded up is 0x3EAAAAAB (nearest would be the same: use the
    // flags instead); PE (bit 5) is set.
    assert_eq!(simd.xmm[0], 0x3EAA_AAAB);
    assert_eq!(simd.xmm[9], 0x4040_0000);
    assert_eq!(simd.xmm[15], 0x1234);
    assert_eq!(simd.mxcsr, MXCSR_DEFAULT | (2 << 13) | 0x20);
    assert_eq!(s.rflags, FLAGS_RESERVED);
    assert_eq!(host_mxcsr(), before, "host MXCSR restored");
    // Round down gives the other neighbour.
    let simd = with_runner(|r| {
        let mut s = NativeState::default();
        let mut simd = SimdState::default();
        simd.xmm[0] = 0x3F80_0000;
        simd.xmm[9] = 0x4040_0000;
        simd.mxcsr = MXCSR_DEFAULT | (1 << 13);
        r.run_simd(&[0xF3, 0x41, 0x0F, 0x5E, 0xC1], &mut s, &mut simd)
            .unwrap();
        simd
    })
    .unwrap();
    assert_eq!(simd.xmm[0], 0x3EAA_AAAA);
}

#[test]
fn mmx_registers_are_loaded_and_stored() {
    let simd = with_runner(|r| {
        let mut s = NativeState::default();
        let mut simd = SimdState::default();
        simd.mm[2] = 0x00FF_0001_7FFF_8000;
        simd.mm[5] = 0x0001_0001_0001_0001;
        r.run_simd(&[0x0F, 0xFD, 0xD5], &mut s, &mut simd) // paddw mm2, mm5
            .unwrap();
        simd
    })
    .unwrap();
    assert_eq!(simd.mm[2], 0x0100_0002_8000_8001);
    assert_eq!(simd.mm[5], 0x0001_0001_0001_0001);
}
