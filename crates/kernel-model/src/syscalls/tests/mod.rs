//! Dispatcher and table tests: `-ENOSYS`, names from the generated tables,
//! machine-layer calls, blocking outcomes, `socketcall` demultiplexing.

mod dev;
mod fsmeta;
mod fuzz;
mod ident;
mod io;
mod misc;
mod path;
mod poll;
mod procfs;
mod strace;
mod strace_ext;
mod xfer;

use crate::abi::Abi;
use crate::errno::Errno;
use crate::personality::{Dispatch, Wait};
use crate::syscalls::table::{Arg, Handler, MachineOp, Ret, SyscallTable};
use crate::syscalls::{unistd_32, unistd_64};
use crate::testutil::*;

#[test]
fn tables_carry_the_abi_numbers() {
    assert_eq!(unistd_64::NR_GETPID, 39);
    assert_eq!(
        unistd_64::NAMES[unistd_64::NR_GETPID as usize],
        Some("getpid")
    );
    assert_eq!(unistd_32::NR_GETPID, 20);
    assert_eq!(unistd_32::NR_SOCKETCALL, 102);
    assert_eq!(unistd_32::NAMES[5], Some("open"));
    // The seed's audit calls use numbers that are holes on x86_64.
    assert_eq!(unistd_64::NAMES[335], None);
    assert_eq!(unistd_64::NAMES[336], None);
}

#[test]
fn enosys_for_out_of_range_and_unimplemented() {
    for abi in ABIS {
        let mut t = T::new(abi);
        let n = u64::from(abi.nr_syscalls());
        assert!(
            matches!(t.dispatch_nr(n, &[]), Dispatch::Return(-38)),
            "{abi:?} NR_syscalls"
        );
        assert!(matches!(
            t.dispatch_nr(n + 1000, &[]),
            Dispatch::Return(-38)
        ));
        assert!(matches!(
            t.dispatch_nr(0xffff_ffff, &[]),
            Dispatch::Return(-38)
        ));
    }
    let mut t = T::new(Abi::X86_64);
    // An unimplemented call that exists (io_uring_setup) and a hole (335 is
    // ours; 400 is a hole on x86_64).
    assert!(matches!(
        t.dispatch_nr(u64::from(unistd_64::NR_IO_URING_SETUP), &[]),
        Dispatch::Return(-38)
    ));
    assert!(matches!(t.dispatch_nr(400, &[]), Dispatch::Return(-38)));
    // x86_64 ignores the upper half of rax (do_syscall_64 takes an int).
    assert!(matches!(
        t.dispatch_nr(0x1_0000_0000 | u64::from(unistd_64::NR_GETPID), &[]),
        Dispatch::Return(42)
    ));
    // A negative number is ENOSYS.
    assert!(matches!(
        t.dispatch_nr(u64::MAX, &[]),
        Dispatch::Return(-38)
    ));
    let mut t = T::new(Abi::I386);
    // 335/336 are not the audit calls on i386.
    let r = t.dispatch_nr(336, &[]);
    assert!(matches!(r, Dispatch::Return(-38)), "{r:?}");
}

#[test]
fn table_names_come_from_the_generated_tables() {
    for abi in ABIS {
        let t = SyscallTable::new(abi);
        assert_eq!(t.len(), abi.nr_syscalls());
        for row in t.rows() {
            let generated = abi.syscall_name(row.nr);
            match generated {
                Some(g) => assert_eq!(row.name, g, "{abi:?} {}", row.nr),
                None => assert!(abi == Abi::X86_64 && (row.nr == 335 || row.nr == 336)),
            }
            assert!(row.args.len() <= 6);
            // Argument cross-references point inside the argument list.
            for a in row.args {
                let idx = match a {
                    Arg::InBuf(n)
                    | Arg::OutBuf(n)
                    | Arg::CreateMode(n)
                    | Arg::InIovec(n)
                    | Arg::OutIovec(n) => Some(*n),
                    Arg::Hi64(n) | Arg::Lo64(n) => Some(*n),
                    _ => None,
                };
                if let Some(i) = idx {
                    assert!(
                        usize::from(i) < row.args.len(),
                        "{} refers to argument {i}",
                        row.name
                    );
                }
            }
        }
    }
    let t64 = SyscallTable::new(Abi::X86_64);
    assert_eq!(t64.name(335), Some("syscall_audit"));
    assert_eq!(t64.name(336), Some("myaudit"));
    assert_eq!(t64.number("open"), Some(unistd_64::NR_OPEN));
    let t32 = SyscallTable::new(Abi::I386);
    assert_eq!(t32.number("open"), Some(unistd_32::NR_OPEN));
    assert_eq!(t32.name(unistd_32::NR_SOCKETCALL), Some("socketcall"));
}

#[test]
fn machine_calls_are_handed_back() {
    for abi in ABIS {
        let mut t = T::new(abi);
        for (name, op) in [
            ("fork", MachineOp::Fork),
            ("execve", MachineOp::Execve),
            ("exit_group", MachineOp::ExitGroup),
            ("brk", MachineOp::Brk),
            ("wait4", MachineOp::Wait4),
            ("kill", MachineOp::Kill),
            ("clone", MachineOp::Clone),
            ("munmap", MachineOp::Munmap),
            ("mprotect", MachineOp::Mprotect),
            ("set_thread_area", MachineOp::SetThreadArea),
            ("rt_sigaction", MachineOp::RtSigaction),
        ] {
            match t.dispatch(name, &[1, 2, 3]) {
                Dispatch::Machine(c) => {
                    assert_eq!(c.op, op);
                    assert_eq!(c.nr, t.nr(name));
                    assert_eq!(c.args[..3], [1, 2, 3]);
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let mmap = if abi == Abi::X86_64 {
            MachineOp::Mmap
        } else {
            MachineOp::Mmap2
        };
        let name = if abi == Abi::X86_64 { "mmap" } else { "mmap2" };
        assert!(matches!(t.dispatch(name, &[]), Dispatch::Machine(c) if c.op == mmap));
    }
    let mut t = T::new(Abi::X86_64);
    assert!(
        matches!(t.dispatch("arch_prctl", &[]), Dispatch::Machine(c) if c.op == MachineOp::ArchPrctl)
    );
}

#[test]
fn machine_call_completion_is_traced_and_audited() {
    let mut t = T::new(Abi::X86_64);
    let path = t.s("/bin/prog");
    let arg0 = t.s("prog");
    let argv = 0x60000;
    assert!(t.mem.map(argv, 0x100, true));
    t.write_mem(argv, &arg0.to_le_bytes());
    t.write_mem(argv + 8, &0u64.to_le_bytes());
    let Dispatch::Machine(call) = t.dispatch("execve", &[path, argv, argv + 8]) else {
        panic!()
    };
    let serial = t
        .sys
        .finish_machine_call(call, Some(0), &mut t.mem, &t.proc, 3000);
    assert_eq!(
        t.last_line(),
        "execve(\"/bin/prog\", [\"prog\"], 0x60008 /* 0 vars */) = 0"
    );
    assert_eq!(serial, Some(0));
    let rec = t.sys.audit.records().next().unwrap().clone();
    assert_eq!(rec.name, "execve");
    assert_eq!(rec.nr, 59);
    let Dispatch::Machine(call) = t.dispatch("exit_group", &[3]) else {
        panic!()
    };
    t.sys
        .finish_machine_call(call, None, &mut t.mem, &t.proc, 3000);
    assert_eq!(t.last_line(), "exit_group(3) = ?");
}

#[test]
fn machine_layer_can_register_rows() {
    let mut t = T::new(Abi::X86_64);
    let nr = unistd_64::NR_ACCT;
    t.err("acct", &[0], Errno::ENOSYS);
    assert!(t.sys.table_mut(Abi::X86_64).register(
        nr,
        None,
        &[Arg::Int],
        Ret::Int,
        Handler::Machine(MachineOp::Custom(7))
    ));
    assert!(
        matches!(t.dispatch("acct", &[5]), Dispatch::Machine(c) if c.op == MachineOp::Custom(7))
    );
    assert!(!t.sys.table_mut(Abi::X86_64).register(
        100_000,
        Some("x"),
        &[],
        Ret::Int,
        Handler::Machine(MachineOp::Custom(1))
    ));
    // A hole needs a name.
    assert!(!t.sys.table_mut(Abi::X86_64).register(
        400,
        None,
        &[],
        Ret::Int,
        Handler::Machine(MachineOp::Custom(1))
    ));
    // Replacing a personality call with a kernel function of the embedder.
    fn always_7(
        _: &mut crate::personality::Ctx<'_>,
        _: &[u64; 6],
    ) -> crate::personality::SysResult {
        Ok(7)
    }
    t.sys.table_mut(Abi::X86_64).register(
        unistd_64::NR_GETPID,
        None,
        &[],
        Ret::Int,
        Handler::Kernel(always_7),
    );
    assert_eq!(t.ok("getpid", &[]), 7);
    t.sys
        .table_mut(Abi::X86_64)
        .unregister(unistd_64::NR_GETPID);
    assert!(matches!(
        t.dispatch_nr(u64::from(unistd_64::NR_GETPID), &[]),
        Dispatch::Return(-38)
    ));
}

#[test]
fn i386_arguments_are_truncated_to_32_bits() {
    let mut t = T::new(Abi::I386);
    // close(0x1_0000_0001) closes fd 1 on i386.
    assert_eq!(t.call("close", &[0x1_0000_0001]), 0);
    assert_eq!(t.call("close", &[1]), -9);
}

#[test]
fn socketcall_demultiplexes() {
    let mut t = T::new(Abi::I386);
    let args = 0x50000;
    assert!(t.mem.map(args, 0x40, true));
    // socket(AF_INET, SOCK_STREAM, 0)
    t.write_mem(args, &[2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    t.err("socketcall", &[1, args], Errno::EAFNOSUPPORT);
    assert_eq!(
        t.last_line(),
        "socket(AF_INET, SOCK_STREAM, 0) = -1 EAFNOSUPPORT (Address family not supported by protocol)"
    );
    // socket with bad type flags: EINVAL.
    t.write_mem(args + 4, &0x4000_0001u32.to_le_bytes());
    t.err("socketcall", &[1, args], Errno::EINVAL);
    // connect(1, ...) on the console: ENOTSOCK; on a closed fd: EBADF.
    t.write_mem(args, &[1, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0]);
    t.err("socketcall", &[3, args], Errno::ENOTSOCK);
    assert_eq!(
        t.last_line(),
        "connect(1, NULL, 16) = -1 ENOTSOCK (Socket operation on non-socket)"
    );
    t.write_mem(args, &[9, 0, 0, 0]);
    t.err("socketcall", &[3, args], Errno::EBADF);
    // listen reads only 2 arguments: an array ending at the mapping's edge works.
    let edge = args + 0x40 - 8;
    t.write_mem(edge, &[1, 0, 0, 0, 5, 0, 0, 0]);
    t.err("socketcall", &[4, edge], Errno::ENOTSOCK);
    // ...but socket needs 3.
    t.err("socketcall", &[1, edge], Errno::EFAULT);
    // Unknown call numbers.
    t.err("socketcall", &[0, args], Errno::EINVAL);
    t.err("socketcall", &[21, args], Errno::EINVAL);
    t.err("socketcall", &[0xffff_ffff, args], Errno::EINVAL);
    assert_eq!(
        t.last_line(),
        "socketcall(-1, 0x50000) = -1 EINVAL (Invalid argument)"
    );
    t.err("socketcall", &[1, BAD], Errno::EFAULT);
    // Every operation is reachable.
    for call in 1..=20u64 {
        t.write_mem(args, &[0; 24]);
        let r = t.call("socketcall", &[call, args]);
        assert!(
            matches!(
                Errno::from_return(r),
                Some(Errno::EAFNOSUPPORT | Errno::ENOTSOCK)
            ),
            "call {call}: {r}"
        );
    }
    // The direct calls agree.
    t.err("socket", &[2, 1, 0], Errno::EAFNOSUPPORT);
    t.err("connect", &[1, 0, 0], Errno::ENOTSOCK);
    let mut t = T::new(Abi::X86_64);
    t.err("socket", &[10, 2, 0], Errno::EAFNOSUPPORT);
    t.err("sendto", &[77, 0, 0, 0, 0, 0], Errno::EBADF);
}

#[test]
fn blocking_outcomes_are_distinct() {
    let mut t = T::new(Abi::X86_64);
    let fds = BUF;
    t.ok("pipe", &[fds]);
    let (r, w) = (u64::from(t.u32_at(fds)), u64::from(t.u32_at(fds + 4)));
    match t.dispatch("read", &[r, BUF2, 10]) {
        Dispatch::Block(Wait::PipeReadable(_)) => {}
        other => panic!("{other:?}"),
    }
    // Blocked calls are not traced (they will be retried).
    assert!(t.last_line().starts_with("pipe("));
    t.ok("close", &[w]);
    assert_eq!(t.call("read", &[r, BUF2, 10]), 0);
}
