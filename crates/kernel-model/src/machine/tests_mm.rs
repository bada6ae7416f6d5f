//! rseq registration and mremap, called directly on a spawned task (the
//! task is current after `spawn`). Expected results are Linux's
//! (kernel/rseq.c, mm/mremap.c), worked out by hand.

use super::paging::Prot;
use super::tests::elf;
use super::*;
use crate::uaccess::UserMemory;

/// A machine with one spawned task of `bits` (its code is never run).
fn machine(flavor: Flavor, bits: u32) -> Machine {
    let base = if bits == 64 { 0x40_0000 } else { 0x0804_8000 };
    let mut m = Machine::new(Config {
        flavor,
        ..Config::default()
    })
    .unwrap();
    m.spawn(&elf(bits, base, &[0xf4]), &["t"], &[]).unwrap();
    m
}

/// Maps `pages` fresh pages at `va`, page `k` filled with byte `k + 1`.
fn map(m: &mut Machine, va: u64, pages: u64, prot: Prot) {
    let pid = m.current;
    let t = m.tasks.get_mut(&pid).unwrap();
    for k in 0..pages {
        let pa =
            t.mm.map_new(
                &mut m.vcpu.cpu.mmu.phys,
                &mut m.frames,
                va + k * 0x1000,
                prot,
            )
            .unwrap();
        m.vcpu.cpu.mmu.phys.write(pa, &[(k + 1) as u8; 0x1000]);
    }
}

fn mapped(m: &Machine, va: u64) -> bool {
    m.tasks[&m.current].mm.lookup(va).is_some()
}

fn byte(m: &mut Machine, va: u64) -> u8 {
    let mut b = [0u8; 1];
    m.user_memory().read(va, &mut b).unwrap();
    b[0]
}

fn mremap(m: &mut Machine, a: [u64; 5]) -> i64 {
    m.sys_mremap(&[a[0], a[1], a[2], a[3], a[4], 0])
}

const A: u64 = 0x1000_0000;

#[test]
fn mremap_grows_in_place_when_the_next_pages_are_free() {
    let mut m = machine(Flavor::X86_64, 64);
    map(&mut m, A, 2, Prot::RW);
    assert_eq!(mremap(&mut m, [A, 0x2000, 0x4000, 0, 0]), A as i64);
    assert!(mapped(&m, A + 0x3000));
    assert_eq!(byte(&mut m, A + 0x1000), 2);
    assert_eq!(byte(&mut m, A + 0x2000), 0, "grown part is zeroed");
}

#[test]
fn mremap_moves_with_maymove_or_fails_with_enomem() {
    let mut m = machine(Flavor::X86_64, 64);
    map(&mut m, A, 2, Prot::RW);
    map(&mut m, A + 0x2000, 1, Prot::R); // blocks growth in place
    assert_eq!(mremap(&mut m, [A, 0x2000, 0x3000, 0, 0]), -12);
    let new = mremap(&mut m, [A, 0x2000, 0x3000, 1, 0]);
    assert!(new > 0 && new as u64 != A);
    let new = new as u64;
    assert!(
        !mapped(&m, A) && !mapped(&m, A + 0x1000),
        "old range unmapped"
    );
    assert!(mapped(&m, A + 0x2000), "the neighbour stays");
    assert_eq!(byte(&mut m, new), 1);
    assert_eq!(byte(&mut m, new + 0x1000), 2);
    assert_eq!(byte(&mut m, new + 0x2000), 0);
}

#[test]
fn mremap_shrinks_in_place_and_checks_its_arguments() {
    let mut m = machine(Flavor::X86_64, 64);
    map(&mut m, A, 4, Prot::RW);
    // Lengths are rounded up to pages: 0x1001 keeps two pages.
    assert_eq!(mremap(&mut m, [A, 0x4000, 0x1001, 0, 0]), A as i64);
    assert!(mapped(&m, A + 0x1000) && !mapped(&m, A + 0x2000));
    // Shrinking an unmapped range still returns the address.
    assert_eq!(
        mremap(&mut m, [A + 0x8000, 0x2000, 0x1000, 0, 0]),
        (A + 0x8000) as i64
    );
    assert_eq!(
        mremap(&mut m, [A + 1, 0x1000, 0x2000, 1, 0]),
        -22,
        "unaligned"
    );
    assert_eq!(mremap(&mut m, [A, 0x1000, 0, 1, 0]), -22, "new length 0");
    assert_eq!(
        mremap(&mut m, [A, 0x1000, 0x2000, 8, 0]),
        -22,
        "unknown flag"
    );
    assert_eq!(
        mremap(&mut m, [A, 0x1000, 0x2000, 2, 0]),
        -22,
        "FIXED without MAYMOVE"
    );
    assert_eq!(
        mremap(&mut m, [A, 0x1000, 0x2000, 5, 0]),
        -22,
        "DONTUNMAP resizing"
    );
    // Growing a range that is not all mapped: EFAULT.
    assert_eq!(mremap(&mut m, [A, 0x3000, 0x4000, 1, 0]), -14);
    assert_eq!(mremap(&mut m, [A + 0x10_0000, 0x1000, 0x2000, 1, 0]), -14);
}

#[test]
fn mremap_fixed_replaces_the_target_and_rejects_overlap() {
    let mut m = machine(Flavor::I386, 32);
    map(&mut m, A, 2, Prot::RW);
    map(&mut m, A + 0x10_0000, 1, Prot::RW);
    let t = A + 0x10_0000;
    assert_eq!(
        mremap(&mut m, [A, 0x2000, 0x2000, 3, A + 0x1000]),
        -22,
        "overlap"
    );
    assert_eq!(
        mremap(&mut m, [A, 0x2000, 0x2000, 3, t + 1]),
        -22,
        "unaligned target"
    );
    assert_eq!(mremap(&mut m, [A, 0x2000, 0x3000, 3, t]), t as i64);
    assert_eq!(byte(&mut m, t), 1, "the old target page was replaced");
    assert_eq!(byte(&mut m, t + 0x1000), 2);
    assert!(!mapped(&m, A));
    // DONTUNMAP leaves the old range mapped and empty.
    let n = mremap(&mut m, [t, 0x1000, 0x1000, 5, 0]);
    assert!(n > 0);
    assert_eq!(byte(&mut m, n as u64), 1);
    assert!(mapped(&m, t));
    assert_eq!(byte(&mut m, t), 0);
}

fn rseq(m: &mut Machine, addr: u64, len: u64, flags: u64, sig: u64) -> i64 {
    m.sys_rseq(&[addr, len, flags, sig, 0, 0])
}

fn cpu_ids(m: &mut Machine, addr: u64) -> (u32, u32) {
    let mut b = [0u8; 8];
    m.user_memory().read(addr, &mut b).unwrap();
    (
        u32::from_le_bytes(b[..4].try_into().unwrap()),
        u32::from_le_bytes(b[4..].try_into().unwrap()),
    )
}

#[test]
fn rseq_registration_follows_linux() {
    const SIG: u64 = 0x5305_3053;
    let mut m = machine(Flavor::X86_64, 64);
    map(&mut m, A, 1, Prot::RW);
    let r = A + 0x20;
    assert_eq!(rseq(&mut m, r, 16, 0, SIG), -22, "shorter than 32 bytes");
    assert_eq!(rseq(&mut m, r + 8, 32, 0, SIG), -22, "not 32-byte aligned");
    assert_eq!(rseq(&mut m, r, 32, 2, SIG), -22, "unknown flag");
    assert_eq!(
        rseq(&mut m, r, 32, 1, SIG),
        -22,
        "unregister with none registered"
    );
    assert_eq!(rseq(&mut m, r, 32, 0, SIG), 0);
    assert_eq!(cpu_ids(&mut m, r), (0, 0), "cpu_id_start and cpu_id: CPU 0");
    assert_eq!(
        rseq(&mut m, r, 32, 0, SIG),
        -16,
        "EBUSY: already registered"
    );
    assert_eq!(
        rseq(&mut m, r, 32, 0, SIG + 1),
        -1,
        "EPERM: other signature"
    );
    assert_eq!(rseq(&mut m, r + 32, 32, 0, SIG), -22, "other address");
    assert_eq!(rseq(&mut m, r, 64, 0, SIG), -22, "other length");
    assert_eq!(rseq(&mut m, r, 64, 1, SIG), -22, "unregister, other length");
    assert_eq!(
        rseq(&mut m, r, 32, 1, SIG + 1),
        -1,
        "unregister, other signature"
    );
    assert_eq!(
        rseq(&mut m, r, 32, 3, SIG),
        -22,
        "unregister with another flag"
    );
    assert_eq!(rseq(&mut m, r, 32, 1, SIG), 0);
    assert_eq!(
        cpu_ids(&mut m, r),
        (0, u32::MAX),
        "RSEQ_CPU_ID_UNINITIALIZED"
    );
    assert_eq!(
        rseq(&mut m, r, 32, 1, SIG),
        -22,
        "nothing left to unregister"
    );
    // An area beyond the user address space: EFAULT.
    let top = m.user_limit();
    assert_eq!(rseq(&mut m, top - 0x20, 64, 0, SIG), -14);
}
