//! End-to-end tests of the machine layer with tiny hand-built ELF programs.

use iced_x86::code_asm::*;
use sysgate_cpu::Vendor;

use super::*;

/// A minimal static ELF (one RWX PT_LOAD at `base`, entry at its start).
pub(crate) fn elf(bits: u32, base: u64, code: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    let hdr = if bits == 64 { 64 } else { 52 };
    let ph = if bits == 64 { 56 } else { 32 };
    let off = 0x1000u64;
    f.extend_from_slice(b"\x7fELF");
    f.push(if bits == 64 { 2 } else { 1 });
    f.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let w = |f: &mut Vec<u8>, v: u64, n: usize| f.extend_from_slice(&v.to_le_bytes()[..n]);
    let a = if bits == 64 { 8 } else { 4 };
    w(&mut f, 2, 2); // ET_EXEC
    w(&mut f, if bits == 64 { 62 } else { 3 }, 2);
    w(&mut f, 1, 4);
    w(&mut f, base + off, a); // entry
    w(&mut f, hdr as u64, a); // phoff
    w(&mut f, 0, a); // shoff
    w(&mut f, 0, 4);
    w(&mut f, hdr as u64, 2);
    w(&mut f, ph as u64, 2);
    w(&mut f, 1, 2);
    w(&mut f, 0, 2);
    w(&mut f, 0, 2);
    w(&mut f, 0, 2);
    // PT_LOAD
    if bits == 64 {
        w(&mut f, 1, 4);
        w(&mut f, 7, 4);
        w(&mut f, off, 8);
        w(&mut f, base + off, 8);
        w(&mut f, base + off, 8);
        w(&mut f, code.len() as u64, 8);
        w(&mut f, code.len() as u64 + 0x1000, 8);
        w(&mut f, 0x1000, 8);
    } else {
        w(&mut f, 1, 4);
        w(&mut f, off, 4);
        w(&mut f, base + off, 4);
        w(&mut f, base + off, 4);
        w(&mut f, code.len() as u64, 4);
        w(&mut f, code.len() as u64 + 0x1000, 4);
        w(&mut f, 7, 4);
        w(&mut f, 0x1000, 4);
    }
    f.resize(off as usize, 0);
    f.extend_from_slice(code);
    f
}

fn hello64() -> Vec<u8> {
    let base = 0x40_0000u64;
    let mut a = CodeAssembler::new(64).unwrap();
    let mut msg = a.create_label();
    a.mov(eax, 1u32).unwrap();
    a.mov(edi, 1u32).unwrap();
    a.lea(rsi, ptr(msg)).unwrap();
    a.mov(edx, 6u32).unwrap();
    a.syscall().unwrap();
    a.mov(eax, 39u32).unwrap(); // getpid
    a.syscall().unwrap();
    a.mov(edi, eax).unwrap();
    a.add(edi, 41).unwrap();
    a.mov(eax, 60u32).unwrap();
    a.syscall().unwrap();
    a.set_label(&mut msg).unwrap();
    a.db(b"hello\n").unwrap();
    elf(64, base, &a.assemble(base + 0x1000).unwrap())
}

#[test]
fn hello_world_through_syscall_on_x86_64() {
    let mut m = Machine::new(Config::default()).unwrap();
    m.spawn(&hello64(), &["hello"], &[]).unwrap();
    let status = m.run(1_000_000).unwrap();
    assert_eq!(m.stdout(), b"hello\n");
    assert_eq!(status, Status::Exited(42));
    let mechs: Vec<_> = m.events.iter().map(|e| (e.nr, e.mechanism)).collect();
    assert_eq!(
        mechs,
        [
            (1, Mechanism::Syscall64),
            (39, Mechanism::Syscall64),
            (60, Mechanism::Syscall64)
        ]
    );
    let _ = Vendor::Intel;
}

/// A dynamically linked ELF (its one program header made PT_INTERP, naming
/// `interp`).
fn dynamic64(interp: &[u8]) -> Vec<u8> {
    let mut f = elf(64, 0x40_0000, interp);
    f[64..68].copy_from_slice(&3u32.to_le_bytes());
    f
}

#[test]
fn a_dynamically_linked_program_is_refused_with_its_interpreter_named() {
    let mut m = Machine::new(Config::default()).unwrap();
    let err = m
        .spawn(&dynamic64(b"/lib64/ld-linux-x86-64.so.2\0"), &["dyn"], &[])
        .unwrap_err();
    let KernelError::Load(LoadError::Interpreter(path)) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(path, "/lib64/ld-linux-x86-64.so.2");
    assert!(err.to_string().contains("statically"), "{err}");
}

/// `execve` of a dynamically linked program fails with ENOENT, as on Linux
/// when the program interpreter does not exist, and the caller goes on.
#[test]
fn execve_of_a_dynamically_linked_program_is_enoent() {
    let base = 0x40_0000u64;
    let mut a = CodeAssembler::new(64).unwrap();
    let mut path = a.create_label();
    a.lea(rdi, ptr(path)).unwrap();
    a.xor(esi, esi).unwrap();
    a.xor(edx, edx).unwrap();
    a.mov(eax, 59u32).unwrap(); // execve
    a.syscall().unwrap();
    a.neg(eax).unwrap();
    a.mov(edi, eax).unwrap();
    a.mov(eax, 60u32).unwrap();
    a.syscall().unwrap();
    a.set_label(&mut path).unwrap();
    a.db(b"/dyn\0").unwrap();
    let code = a.assemble(base + 0x1000).unwrap();
    let mut m = Machine::new(Config::default()).unwrap();
    m.add_file("/dyn", &dynamic64(b"/lib/ld.so\0"), 0o755)
        .unwrap();
    m.spawn(&elf(64, base, &code), &["caller"], &[]).unwrap();
    assert_eq!(m.run(1_000_000).unwrap(), Status::Exited(2));
}

/// `uname` reports the kernel's machine, whatever the caller's ABI: a
/// 32-bit program on the x86_64 kernel sees "x86_64" (Linux changes it
/// only for the PER_LINUX32 personality), on the i386 kernel "i686".
#[test]
fn uname_machine_is_the_kernels() {
    let base = 0x40_0000u64;
    // The buffer: past the code, in the segment's zero-filled tail.
    let buf = (base + 0x1800) as u32;
    let mut a = CodeAssembler::new(32).unwrap();
    a.mov(eax, 122u32).unwrap(); // newuname
    a.mov(ebx, buf).unwrap();
    a.int(0x80).unwrap();
    a.mov(eax, 4u32).unwrap(); // write(1, machine, 6)
    a.mov(ebx, 1u32).unwrap();
    a.mov(ecx, buf + 4 * 65).unwrap();
    a.mov(edx, 6u32).unwrap();
    a.int(0x80).unwrap();
    a.mov(eax, 1u32).unwrap(); // exit(0)
    a.xor(ebx, ebx).unwrap();
    a.int(0x80).unwrap();
    let code = a.assemble(base + 0x1000).unwrap();
    for (flavor, want) in [
        (Flavor::X86_64, &b"x86_64"[..]),
        (Flavor::I386, b"i686\0\0"),
    ] {
        let mut m = Machine::new(Config {
            flavor,
            ..Config::default()
        })
        .unwrap();
        m.spawn(&elf(32, base, &code), &["uname"], &[]).unwrap();
        assert_eq!(m.run(1_000_000).unwrap(), Status::Exited(0), "{flavor:?}");
        assert_eq!(m.stdout(), want, "{flavor:?}");
    }
}

/// Emits `write(1, out, 8 * words)` and `exit(0)`, and assembles the
/// program as a 64-bit ELF at `base`.
fn write_words_and_exit(mut a: CodeAssembler, base: u64, out: u64, words: u32) -> Vec<u8> {
    a.mov(eax, 1u32).unwrap();
    a.mov(edi, 1u32).unwrap();
    a.mov(rsi, out).unwrap();
    a.mov(edx, 8 * words).unwrap();
    a.syscall().unwrap();
    a.mov(eax, 60u32).unwrap();
    a.xor(edi, edi).unwrap();
    a.syscall().unwrap();
    elf(64, base, &a.assemble(base + 0x1000).unwrap())
}

/// What a program of [`write_words_and_exit`] wrote: its 64-bit words.
fn stdout_words(m: &Machine) -> Vec<i64> {
    m.stdout()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Emits `futex(args...)` and stores RAX at `out`.
fn futex_raw(a: &mut CodeAssembler, args: [u64; 6], out: u64) {
    a.mov(rdi, args[0]).unwrap();
    a.mov(rsi, args[1]).unwrap();
    a.mov(rdx, args[2]).unwrap();
    a.mov(r10, args[3]).unwrap();
    a.mov(r8, args[4]).unwrap();
    a.mov(r9, args[5]).unwrap();
    a.mov(eax, 202u32).unwrap(); // futex
    a.syscall().unwrap();
    a.mov(rbx, out).unwrap();
    a.mov(qword_ptr(rbx), rax).unwrap();
}

/// Emits `futex(word, op, val, timeout, NULL, val3)` and stores RAX at
/// `out`.
fn futex_call(
    a: &mut CodeAssembler,
    word: u64,
    op: u32,
    val: u32,
    timeout: u64,
    val3: u32,
    out: u64,
) {
    let (op, val, val3) = (u64::from(op), u64::from(val), u64::from(val3));
    futex_raw(a, [word, op, val, timeout, 0, val3], out);
}

/// futex on a process's own word: a wake with no waiter wakes none; a
/// wait on a changed word is EAGAIN; a wait that nobody wakes ends with
/// ETIMEDOUT once the modeled clock passes its timeout; a misaligned word
/// or a zero bitset is EINVAL; the requeue-to-PI operations are ENOSYS;
/// WAKE_OP applies its operation (ADD, and OR with the oparg a shift
/// count) to the second word; the operation is the register's low 32 bits.
#[test]
fn futex_wake_wait_timeout_and_errors() {
    let base = 0x40_0000u64;
    let word = base + 0x1800;
    let ts = base + 0x1810;
    let out = base + 0x1820;
    let mut a = CodeAssembler::new(64).unwrap();
    // The timeout: 2 ms.
    a.mov(rbx, ts).unwrap();
    a.mov(qword_ptr(rbx + 8), 2_000_000i32).unwrap();
    let private = 128u32;
    futex_call(&mut a, word, private | 1, 1, 0, 0, out); // WAKE
    futex_call(&mut a, word, private, 5, 0, 0, out + 8); // WAIT, word is 0
    futex_call(&mut a, word, private, 0, ts, 0, out + 16); // WAIT, times out
    futex_call(&mut a, word + 1, private | 1, 1, 0, 0, out + 24); // misaligned
    futex_call(&mut a, word, private | 9, 0, 0, 0, out + 32); // WAIT_BITSET, bitset 0
    futex_call(&mut a, word, private | 12, 0, 0, 0, out + 40); // CMP_REQUEUE_PI
    // WAKE_OP on the word at out + 56 (0): ADD 5, then OR 1 << 3 (with
    // FUTEX_OP_OPARG_SHIFT); no waiter to wake either time.
    let word2 = out + 56;
    let add5 = (1 << 28) | (4 << 24) | (5 << 12) | 1;
    let or_bit3 = ((8 | 2) << 28) | (3 << 12);
    let wake_op = u64::from(private | 5);
    futex_raw(&mut a, [word, wake_op, 1, 1, word2, add5], out + 48);
    futex_raw(&mut a, [word, wake_op, 1, 1, word2, or_bit3], out + 48);
    // `op` is an int: bits above 31 of its register do not count.
    let wake_high = (1 << 32) | u64::from(private | 1);
    futex_raw(&mut a, [word, wake_high, 1, 0, 0, 0], out + 64);
    let elf = write_words_and_exit(a, base, out, 9);
    let mut m = Machine::new(Config::default()).unwrap();
    m.spawn(&elf, &["futex"], &[]).unwrap();
    let before = m.vcpu.cpu.cycles;
    assert_eq!(m.run(10_000_000).unwrap(), Status::Exited(0));
    assert_eq!(stdout_words(&m), [0, -11, -110, -22, -22, -38, 0, 13, 0]);
    let two_ms = m.personality.clock.cycles_for(crate::time::Timespec {
        sec: 0,
        nsec: 2_000_000,
    });
    assert!(
        m.vcpu.cpu.cycles - before >= two_ms,
        "the wait lasted its timeout"
    );
}

/// A futex wait nobody can wake is still ended by a signal: SIGALRM's
/// default action ends the process.
#[test]
fn futex_wait_is_ended_by_a_signal() {
    let base = 0x40_0000u64;
    let word = base + 0x1800;
    let mut a = CodeAssembler::new(64).unwrap();
    a.mov(eax, 37u32).unwrap(); // alarm(1)
    a.mov(edi, 1u32).unwrap();
    a.syscall().unwrap();
    futex_call(&mut a, word, 128, 0, 0, 0, word + 8);
    a.mov(eax, 60u32).unwrap();
    a.mov(edi, 7u32).unwrap();
    a.syscall().unwrap();
    let code = a.assemble(base + 0x1000).unwrap();
    let mut m = Machine::new(Config::default()).unwrap();
    m.spawn(&elf(64, base, &code), &["futex"], &[]).unwrap();
    assert_eq!(m.run(10_000_000).unwrap(), Status::Signaled(14));
}

/// A 64-bit guest that stores at `rsp - below` and exits with 0.
fn touch_below_stack(below: u32) -> Vec<u8> {
    let base = 0x40_0000u64;
    let mut a = CodeAssembler::new(64).unwrap();
    a.mov(rax, rsp).unwrap();
    a.sub(rax, below as i32).unwrap();
    a.mov(qword_ptr(rax), 1i32).unwrap();
    a.mov(eax, 60u32).unwrap();
    a.xor(edi, edi).unwrap();
    a.syscall().unwrap();
    elf(64, base, &a.assemble(base + 0x1000).unwrap())
}

/// The stack grows on a fault below it, within RLIMIT_STACK (8 MiB) of
/// its top; past that the fault is SIGSEGV.
#[test]
fn the_stack_grows_down_to_its_limit() {
    for (below, want) in [
        (1 << 20, Status::Exited(0)),
        (7 << 20, Status::Exited(0)),
        (9 << 20, Status::Signaled(11)),
    ] {
        let mut m = Machine::new(Config::default()).unwrap();
        m.spawn(&touch_below_stack(below), &["stack"], &[]).unwrap();
        assert_eq!(m.run(1_000_000).unwrap(), want, "{below:#x} below");
    }
}

/// The PI lock operations on a process's own word: LOCK_PI takes a free
/// word (owner TID = pid), taking it again is EDEADLK, TRYLOCK_PI too;
/// UNLOCK_PI by the owner frees it, by anyone else (after another LOCK_PI
/// wrote a foreign owner) is EPERM; an owner that does not exist is ESRCH.
#[test]
fn futex_pi_lock_and_unlock() {
    let base = 0x40_0000u64;
    let word = base + 0x1800;
    let out = base + 0x1820;
    let mut a = CodeAssembler::new(64).unwrap();
    futex_call(&mut a, word, 128 | 6, 0, 0, 0, out); // LOCK_PI: 0
    a.mov(rbx, word).unwrap();
    a.mov(eax, dword_ptr(rbx)).unwrap();
    a.mov(rbx, out + 8).unwrap();
    a.mov(qword_ptr(rbx), rax).unwrap(); // the word: the pid
    futex_call(&mut a, word, 128 | 6, 0, 0, 0, out + 16); // EDEADLK
    futex_call(&mut a, word, 128 | 8, 0, 0, 0, out + 24); // TRYLOCK: EDEADLK
    futex_call(&mut a, word, 128 | 7, 0, 0, 0, out + 32); // UNLOCK_PI: 0
    a.mov(rbx, word).unwrap();
    a.mov(dword_ptr(rbx), 999i32).unwrap(); // owned by pid 999
    futex_call(&mut a, word, 128 | 7, 0, 0, 0, out + 40); // EPERM
    futex_call(&mut a, word, 128 | 6, 0, 0, 0, out + 48); // ESRCH
    let elf = write_words_and_exit(a, base, out, 7);
    let mut m = Machine::new(Config::default()).unwrap();
    let pid = m.spawn(&elf, &["pi"], &[]).unwrap();
    assert_eq!(m.run(1_000_000).unwrap(), Status::Exited(0));
    assert_eq!(stdout_words(&m), [0, i64::from(pid), -35, -35, 0, -1, -3]);
}
