//! Executes the input as code in one of the machine setups of
//! `sysgate_cpu::fuzzing` (real, virtual-8086, 16/32-bit protected, 64-bit
//! mode; CPL 0, or CPL 3 with paging), chosen by the first byte. The
//! harness panics if CPL-3 code changed privileged state; any other panic
//! inside the CPU is a bug too.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run execute`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sysgate_cpu::fuzzing::check_selected(data);
});
