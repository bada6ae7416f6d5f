//! Guest-controlled input never panics: random call sequences with hostile
//! arguments on both ABIs, and every return is a value or a valid errno.

use proptest::prelude::*;

use crate::abi::Abi;
use crate::errno::Errno;
use crate::personality::Dispatch;
use crate::testutil::*;

/// Argument values a hostile guest would try: small numbers, descriptors,
/// pointers into mapped memory (start, middle, last bytes), unmapped and
/// kernel-half pointers, sign boundaries, all ones.
fn arg() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..8,
        Just(FDCWD),
        Just(STR),
        Just(STR + 0x100),
        Just(BUF),
        Just(BUF + 0x10000 - 1),
        Just(BUF + 0x10000 - 8),
        Just(BAD),
        Just(0xffff_8000_0000_0000),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(0xffff_ffff),
        Just(u64::MAX),
        Just(i64::MAX as u64),
        any::<u64>(),
        0u64..0x2_0000,
    ]
}

#[derive(Debug, Clone)]
struct Call {
    nr: u64,
    args: [u64; 6],
}

fn call(max_nr: u64) -> impl Strategy<Value = Call> {
    (
        prop_oneof![0..max_nr, Just(335), Just(336), Just(102), any::<u64>()],
        prop::array::uniform6(arg()),
    )
        .prop_map(|(nr, args)| Call { nr, args })
}

fn run(abi: Abi, calls: &[Call], strings: &[u8]) {
    let mut t = T::new(abi);
    t.sys.audit.set_filter(crate::audit::AuditFilter::All);
    t.sys.audit.set_myaudit_blocks(false);
    // Memory holds plausible strings and structures plus random bytes.
    t.write_mem(STR, b"/tmp/fuzz\0/tmp\0..\0/proc/self/exe\0");
    t.write_mem(STR + 0x100, strings);
    for c in calls {
        match t.dispatch_nr(c.nr, &c.args) {
            Dispatch::Return(r) | Dispatch::Yield(r) | Dispatch::Sleep { ret: r, .. } => {
                assert!(
                    r >= 0 || Errno::from_return(r).is_some(),
                    "{c:?} returned {r}"
                );
            }
            Dispatch::ReturnSignal { ret, .. } => assert_eq!(ret, Errno::EPIPE.to_return()),
            Dispatch::Block(_) => {}
            Dispatch::Machine(mc) => {
                t.sys
                    .finish_machine_call(mc, Some(0), &mut t.mem, &t.proc, 0);
            }
        }
    }
    // The trace and audit outputs are well formed.
    for r in t.sys.audit.records() {
        assert!(serde_json::from_str::<serde_json::Value>(&r.to_json()).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_calls_x86_64(calls in prop::collection::vec(call(460), 1..24), strings in prop::collection::vec(any::<u8>(), 0..256)) {
        run(Abi::X86_64, &calls, &strings);
    }

    #[test]
    fn random_calls_i386(calls in prop::collection::vec(call(460), 1..24), strings in prop::collection::vec(any::<u8>(), 0..256)) {
        run(Abi::I386, &calls, &strings);
    }
}
