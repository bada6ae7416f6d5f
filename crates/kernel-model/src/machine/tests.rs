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
