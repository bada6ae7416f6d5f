//! Signals end to end: hand-assembled guests install handlers, raise
//! signals or fault, dump what the kernel gave them (frames, siginfo,
//! registers) to standard output, and the tests check it against Linux's
//! layouts (arch/x86/include/asm/sigframe.h, uapi sigcontext.h), on both
//! ABIs and both kernel flavors. Expected values come from those layouts
//! and from the registers the guests set, never from a previous run.

use iced_x86::code_asm::*;
use sysgate_cpu::fpu::{F80, FpuState};

use super::tests::elf;
use super::*;

/// Builds a guest of `bits` with `f`, boots `flavor`, lets `setup` touch
/// the machine after spawning, runs it; returns the machine and status.
fn run_with(
    flavor: Flavor,
    bits: u32,
    f: impl FnOnce(&mut CodeAssembler),
    setup: impl FnOnce(&mut Machine),
) -> (Machine, Status) {
    let base = if bits == 64 { 0x40_0000 } else { 0x0804_8000 };
    let mut a = CodeAssembler::new(bits).unwrap();
    f(&mut a);
    let code = a.assemble(base + 0x1000).unwrap();
    let mut m = Machine::new(Config {
        flavor,
        ..Config::default()
    })
    .unwrap();
    m.spawn(&elf(bits, base, &code), &["t"], &[]).unwrap();
    setup(&mut m);
    let st = m.run(20_000_000).unwrap();
    (m, st)
}

fn run(flavor: Flavor, bits: u32, f: impl FnOnce(&mut CodeAssembler)) -> (Machine, Status) {
    run_with(flavor, bits, f, |_| {})
}

/// `mov eax, nr; syscall`.
fn sys64(a: &mut CodeAssembler, nr: u32) {
    a.mov(eax, nr).unwrap();
    a.syscall().unwrap();
}

/// `mov eax, nr; int 0x80`.
fn sys32(a: &mut CodeAssembler, nr: u32) {
    a.mov(eax, nr).unwrap();
    a.int(0x80).unwrap();
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()))
}

const SIGUSR1: u32 = 10;
const SA_SIGINFO: u64 = 4;
const SA_RESTORER: u64 = 0x0400_0000;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;

/// x86_64: rt_sigaction(sig, &act, NULL, 8) with act = {handler, flags,
/// restorer, mask} built at run time in `act` (32 bytes).
fn sigaction64(
    a: &mut CodeAssembler,
    sig: u32,
    act: CodeLabel,
    handler: CodeLabel,
    restorer: CodeLabel,
    flags: u64,
    mask: u64,
) {
    a.lea(r11, ptr(act)).unwrap();
    a.lea(rax, ptr(handler)).unwrap();
    a.mov(qword_ptr(r11), rax).unwrap();
    a.mov(rax, flags).unwrap();
    a.mov(qword_ptr(r11 + 8), rax).unwrap();
    a.lea(rax, ptr(restorer)).unwrap();
    a.mov(qword_ptr(r11 + 16), rax).unwrap();
    a.mov(rax, mask).unwrap();
    a.mov(qword_ptr(r11 + 24), rax).unwrap();
    a.mov(edi, sig).unwrap();
    a.mov(rsi, r11).unwrap();
    a.xor(edx, edx).unwrap();
    a.mov(r10d, 8u32).unwrap();
    sys64(a, 13);
}

/// i386: rt_sigaction(sig, &act, NULL, 8) with act = {handler (in EAX),
/// flags, restorer 0, mask} built on the stack (32-bit code_asm has no
/// label addressing, so handlers are found with `call`: see
/// [`handler32`]).
fn sigaction32(a: &mut CodeAssembler, sig: u32, flags: u32, mask: u32) {
    a.push(0).unwrap();
    a.push(mask).unwrap();
    a.push(0).unwrap();
    a.push(flags).unwrap();
    a.push(eax).unwrap();
    a.mov(ebx, sig).unwrap();
    a.mov(ecx, esp).unwrap();
    a.xor(edx, edx).unwrap();
    a.mov(esi, 8u32).unwrap();
    sys32(a, 174);
    a.add(esp, 20).unwrap();
}

/// Emits `call over; <body>; over: pop eax`: the body (a handler) is
/// skipped and EAX holds its address.
fn handler32(a: &mut CodeAssembler, body: impl FnOnce(&mut CodeAssembler)) {
    let mut over = a.create_label();
    a.call(over).unwrap();
    body(a);
    a.set_label(&mut over).unwrap();
    a.pop(eax).unwrap();
}

/// A custom FPU state whose every field differs from the reset state.
fn custom_fpu() -> FpuState {
    let mut f = FpuState {
        fcw: 0x027F,
        fsw: 0x3800 | 0x20, // TOP = 7, PE
        mxcsr: 0x1FA0,
        ..FpuState::default()
    };
    for (i, x) in f.xmm.iter_mut().enumerate() {
        *x = 0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10u128.wrapping_mul(i as u128 + 3);
    }
    // ST(0) = physical R7 = 1.0.
    f.st[7] = F80 {
        signif: 1 << 63,
        sign_exp: 0x3FFF,
    };
    f.ftw = 0x3FFF; // R7 valid, others empty
    f
}

#[test]
fn x86_64_rt_sigframe_matches_linux_and_rt_sigreturn_restores_everything() {
    let (m, st) = run_with(
        Flavor::X86_64,
        64,
        |a| {
            let mut act = a.create_label();
            let mut handler = a.create_label();
            let mut restorer = a.create_label();
            let mut hbuf = a.create_label();
            sigaction64(
                a,
                SIGUSR1,
                act,
                handler,
                restorer,
                SA_SIGINFO | SA_RESTORER,
                1 << 11,
            );
            sys64(a, 39); // getpid
            a.mov(edi, eax).unwrap();
            a.mov(esi, SIGUSR1).unwrap();
            a.mov(rbx, 0x1111_2222_3333_4444u64).unwrap();
            a.mov(rdx, 0x2222_0000_0000_0002u64).unwrap();
            a.mov(rbp, 0x3333_0000_0000_0003u64).unwrap();
            a.mov(r8, 0x8888_0000_0000_0008u64).unwrap();
            a.mov(r9, 0x9999_0000_0000_0009u64).unwrap();
            a.mov(r10, 0x1010_0000_0000_0010u64).unwrap();
            a.mov(r12, 0x1212_0000_0000_0012u64).unwrap();
            a.mov(r13, 0x1313_0000_0000_0013u64).unwrap();
            a.mov(r14, 0x1414_0000_0000_0014u64).unwrap();
            a.mov(r15, 0x1515_0000_0000_0015u64).unwrap();
            sys64(a, 62); // kill(getpid(), SIGUSR1)
            // Registers after the handler returned (15 pushes).
            for r in [
                rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15,
            ] {
                a.push(r).unwrap();
            }
            a.mov(edi, 1u32).unwrap();
            a.mov(rsi, rsp).unwrap();
            a.mov(edx, 120u32).unwrap();
            sys64(a, 1);
            a.xor(edi, edi).unwrap();
            sys64(a, 60);

            a.set_label(&mut handler).unwrap();
            a.lea(r11, ptr(hbuf)).unwrap();
            a.mov(qword_ptr(r11), rdi).unwrap();
            a.mov(qword_ptr(r11 + 8), rsi).unwrap();
            a.mov(qword_ptr(r11 + 16), rdx).unwrap();
            a.mov(qword_ptr(r11 + 24), rsp).unwrap();
            // Clobber what sigreturn must restore.
            for r in [rbx, rbp, r12, r13, r14, r15, r8, r9, r10] {
                a.xor(r, r).unwrap();
            }
            a.mov(edi, 1u32).unwrap();
            a.mov(rsi, r11).unwrap();
            a.mov(edx, 32u32).unwrap();
            sys64(a, 1);
            a.mov(edi, 1u32).unwrap();
            a.mov(rsi, rsp).unwrap();
            a.mov(edx, 440u32).unwrap();
            sys64(a, 1);
            a.mov(edi, 1u32).unwrap();
            a.mov(rsi, qword_ptr(rsp + 8 + 40 + 184)).unwrap();
            a.mov(edx, 512u32).unwrap();
            sys64(a, 1);
            a.ret().unwrap();
            a.set_label(&mut restorer).unwrap();
            sys64(a, 15);
            a.set_label(&mut act).unwrap();
            a.db(&[0u8; 32]).unwrap();
            a.set_label(&mut hbuf).unwrap();
            a.db(&[0u8; 32]).unwrap();
        },
        |m| m.vcpu.cpu.fpu = custom_fpu(),
    );
    assert_eq!(st, Status::Exited(0));
    let out = m.stdout();
    assert_eq!(out.len(), 32 + 440 + 512 + 120);
    let (h, frame, fx, after) = (&out[..32], &out[32..472], &out[472..984], &out[984..]);
    let hsp = u64_at(h, 24);
    // Handler arguments: rdi = sig, rsi = &info, rdx = &uc; the frame is
    // 16-byte aligned minus 8 (as after a call).
    assert_eq!(u64_at(h, 0), 10);
    assert_eq!(u64_at(h, 8), hsp + 312);
    assert_eq!(u64_at(h, 16), hsp + 8);
    assert_eq!(hsp % 16, 8);
    // pretcode = sa_restorer: the restorer is `mov eax, 15; syscall`.
    let restorer = u64_at(frame, 0);
    assert!(restorer > 0x40_1000 && restorer < 0x40_2000);
    // ucontext: uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, no
    // link, uc_stack = {0, SS_DISABLE, 0}.
    assert_eq!(u64_at(frame, 8), 6);
    assert_eq!(u64_at(frame, 16), 0);
    assert_eq!(
        (u64_at(frame, 24), u32_at(frame, 32), u64_at(frame, 40)),
        (0, 2, 0)
    );
    // sigcontext at 48: r8..r15, di, si, bp, bx, dx, ax, cx, sp, ip, flags.
    let sc = |k: usize| u64_at(frame, 48 + 8 * k);
    assert_eq!(sc(0), 0x8888_0000_0000_0008);
    assert_eq!(sc(1), 0x9999_0000_0000_0009);
    assert_eq!(sc(2), 0x1010_0000_0000_0010);
    assert_eq!(sc(4), 0x1212_0000_0000_0012);
    assert_eq!(sc(7), 0x1515_0000_0000_0015);
    assert_eq!(sc(8), 1); // rdi = pid
    assert_eq!(sc(9), 10); // rsi = SIGUSR1
    assert_eq!(sc(10), 0x3333_0000_0000_0003);
    assert_eq!(sc(11), 0x1111_2222_3333_4444);
    assert_eq!(sc(12), 0x2222_0000_0000_0002);
    assert_eq!(sc(13), 0); // rax: kill's result
    let ip = sc(16);
    assert_eq!(sc(14), ip); // rcx = return RIP (SYSCALL)
    assert_eq!(sc(3), sc(17)); // r11 = RFLAGS (SYSCALL)
    // The interrupted stack was 128 bytes (red zone) plus the 512-byte
    // FPU area plus the frame above the handler's.
    let user_sp = sc(15);
    let fpstate = sc(23);
    assert_eq!(fpstate, (user_sp - 128 - 512) & !63);
    assert_eq!(hsp, ((fpstate - 440) & !15) - 8);
    // cs, gs, fs, ss.
    assert_eq!(
        (
            u16::from_le_bytes([frame[192], frame[193]]),
            u16::from_le_bytes([frame[194], frame[195]]),
            u16::from_le_bytes([frame[196], frame[197]]),
            u16::from_le_bytes([frame[198], frame[199]])
        ),
        (0x33, 0, 0, 0x2B)
    );
    // err, trapno, oldmask, cr2: no fault yet.
    assert_eq!((sc(19), sc(20), sc(21), sc(22)), (0, 0, 0, 0));
    // uc_sigmask: the mask before delivery (empty).
    assert_eq!(u64_at(frame, 296), 0);
    // siginfo: SIGUSR1, SI_USER from pid 1, uid 0.
    let info = &frame[312..440];
    assert_eq!(u32_at(info, 0), 10);
    assert_eq!(u32_at(info, 8), 0);
    assert_eq!((u32_at(info, 16), u32_at(info, 20)), (1, 0));
    // The FPU area is the FXSAVE64 image of the interrupted state.
    let want = custom_fpu().fxsave_image(true, 16);
    assert_eq!(&fx[..416], &want[..416]);
    assert_eq!(&fx[464..], &[0u8; 48]);
    // After rt_sigreturn every register is back (pushed rax first).
    let reg = |k: usize| u64_at(after, 8 * (14 - k));
    let expect = [
        0,
        0x1111_2222_3333_4444,
        ip,
        0x2222_0000_0000_0002,
        10,
        1,
        0x3333_0000_0000_0003,
        0x8888_0000_0000_0008,
        0x9999_0000_0000_0009,
        0x1010_0000_0000_0010,
        sc(17),
        0x1212_0000_0000_0012,
        0x1313_0000_0000_0013,
        0x1414_0000_0000_0014,
        0x1515_0000_0000_0015,
    ];
    for (k, e) in expect.iter().enumerate() {
        assert_eq!(reg(k), *e, "register {k}");
    }
    // And the FPU state.
    assert_eq!(m.vcpu.cpu.fpu, custom_fpu());
}

/// An i386 guest: installs a handler (non-RT without SA_SIGINFO, RT
/// with), raises SIGUSR1 by kill, and dumps the handler's EAX/EDX/ECX/ESP,
/// the frame, the FPU area, then its registers after the return.
fn i386_guest(flavor: Flavor, rt: bool) -> (Machine, Status) {
    run_with(
        flavor,
        32,
        |a| {
            let flags = if rt { SA_SIGINFO as u32 } else { 0 };
            handler32(a, |a| {
                // [esp] = eax, edx, ecx, esp at entry.
                a.push(esp).unwrap();
                a.push(ecx).unwrap();
                a.push(edx).unwrap();
                a.push(eax).unwrap();
                for r in [ebx, esi, edi, ebp] {
                    a.xor(r, r).unwrap();
                }
                a.mov(ebx, 1u32).unwrap();
                a.mov(ecx, esp).unwrap();
                a.mov(edx, 16u32).unwrap();
                sys32(a, 4);
                a.mov(ebx, 1u32).unwrap();
                a.lea(ecx, esp + 16).unwrap();
                a.mov(edx, if rt { 268u32 } else { 732 }).unwrap();
                sys32(a, 4);
                a.mov(ebx, 1u32).unwrap();
                let fp_at = if rt { 164 + 76 } else { 8 + 76 };
                a.mov(ecx, dword_ptr(esp + 16 + fp_at)).unwrap();
                a.mov(edx, 624u32).unwrap();
                sys32(a, 4);
                a.add(esp, 16).unwrap();
                a.ret().unwrap();
            });
            sigaction32(a, SIGUSR1, flags, 1 << 11);
            sys32(a, 20); // getpid
            a.mov(ebx, eax).unwrap();
            a.mov(ecx, SIGUSR1).unwrap();
            a.mov(edx, 0x2222_0002u32).unwrap();
            a.mov(esi, 0x5151_0005u32).unwrap();
            a.mov(edi, 0xD1D1_000Du32).unwrap();
            a.mov(ebp, 0xB9B9_000Bu32).unwrap();
            sys32(a, 37); // kill(getpid(), SIGUSR1)
            a.pushad().unwrap();
            a.mov(ebx, 1u32).unwrap();
            a.mov(ecx, esp).unwrap();
            a.mov(edx, 32u32).unwrap();
            sys32(a, 4);
            a.xor(ebx, ebx).unwrap();
            sys32(a, 1);
        },
        |m| m.vcpu.cpu.fpu = custom_fpu(),
    )
}

#[test]
fn i386_sigframe_and_rt_sigframe_on_both_flavors() {
    for flavor in [Flavor::I386, Flavor::X86_64] {
        for rt in [false, true] {
            let (m, st) = i386_guest(flavor, rt);
            assert_eq!(st, Status::Exited(0), "{flavor:?} rt={rt}");
            let out = m.stdout();
            let size = if rt { 268 } else { 732 };
            assert_eq!(out.len(), 16 + size + 624 + 32);
            let h = &out[..16];
            let frame = &out[16..16 + size];
            let fp = &out[16 + size..16 + size + 624];
            let after = &out[16 + size + 624..];
            let hsp = u32_at(h, 12);
            // -mregparm=3 arguments.
            assert_eq!(u32_at(h, 0), 10);
            if rt {
                assert_eq!((u32_at(h, 4), u32_at(h, 8)), (hsp + 16, hsp + 144));
            } else {
                assert_eq!((u32_at(h, 4), u32_at(h, 8)), (0, 0));
            }
            // Alignment: (esp + 4) % 16 == 0 on i386 kernels, esp % 16 == 8
            // on x86_64 kernels (align_sigframe per CONFIG_X86_32).
            match flavor {
                Flavor::I386 => assert_eq!((hsp + 4) % 16, 0),
                Flavor::X86_64 => assert_eq!(hsp % 16, 8),
            }
            // pretcode: the vDSO's __kernel_sigreturn/__kernel_rt_sigreturn.
            let want_ret = if rt {
                m.vdso.rt_sigreturn
            } else {
                m.vdso.sigreturn
            };
            assert_eq!(u32_at(frame, 0), want_ret);
            assert_eq!(u32_at(frame, 4), 10);
            let sc = if rt { 164 } else { 8 };
            let f = |k: usize| u32_at(frame, sc + 4 * k);
            let (ucs, uds) = match flavor {
                Flavor::I386 => (layout::gdt32::USER_CS, layout::gdt32::USER_DS),
                Flavor::X86_64 => (layout::gdt64::USER32_CS, layout::gdt64::USER_DS),
            };
            // gs, fs, es, ds.
            assert_eq!((f(2), f(3)), (uds as u64, uds as u64));
            assert_eq!(f(4), 0xD1D1_000D); // di
            assert_eq!(f(5), 0x5151_0005); // si
            assert_eq!(f(6), 0xB9B9_000B); // bp
            assert_eq!(f(8), 1); // bx = pid
            assert_eq!(f(9), 0x2222_0002); // dx
            assert_eq!(f(10), 10); // cx
            assert_eq!(f(11), 0); // ax = kill's result
            assert_eq!(f(15), ucs as u64);
            assert_eq!(f(17), f(7)); // sp_at_signal = sp
            assert_eq!(f(18), uds as u64);
            let fpstate = f(19);
            assert_eq!(f(20), 0); // oldmask
            let user_sp = f(7);
            assert_eq!(fpstate, ((user_sp - 512) & !63) - 112);
            if rt {
                assert_eq!((u32_at(frame, 8), u32_at(frame, 12)), (hsp + 16, hsp + 144));
                assert_eq!(u32_at(frame, 16), 10); // si_signo
                assert_eq!(u32_at(frame, 16 + 12), 1); // si_pid (compat)
                assert_eq!(u32_at(frame, 144), 0); // uc_flags
                assert_eq!(u32_at(frame, 156), 2); // uc_stack.ss_flags
                assert_eq!(u64_at(frame, 252), 0); // uc_sigmask
                assert_eq!(&frame[260..268], &[0xB8, 173, 0, 0, 0, 0xCD, 0x80, 0]);
            } else {
                assert_eq!(u32_at(frame, 720), 0); // extramask
                assert_eq!(&frame[724..732], &[0x58, 0xB8, 119, 0, 0, 0, 0xCD, 0x80]);
            }
            // FPU area: the FSAVE header then the FXSAVE image.
            let fpu = custom_fpu();
            let (img, n) = match flavor {
                Flavor::X86_64 => (fpu.fxsave_image(true, 16), 416),
                Flavor::I386 => (fpu.fxsave_image(false, 8), 288),
            };
            assert_eq!(&fp[112..112 + n], &img[..n]);
            assert_eq!(u32_at(fp, 0), 0xFFFF_027F); // cw
            assert_eq!(u32_at(fp, 4), 0xFFFF_3820); // sw
            // tag: R7 valid (00), others empty (11).
            assert_eq!(u32_at(fp, 8), 0xFFFF_3FFF);
            assert_eq!(&fp[28..38], &[0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F]);
            assert_eq!(u16::from_le_bytes([fp[108], fp[109]]), 0x3820); // status
            assert_eq!(u16::from_le_bytes([fp[110], fp[111]]), 0); // magic
            // pushad order: edi, esi, ebp, esp, ebx, edx, ecx, eax.
            let r = |k: usize| u32_at(after, 4 * k);
            assert_eq!(r(0), 0xD1D1_000D);
            assert_eq!(r(1), 0x5151_0005);
            assert_eq!(r(2), 0xB9B9_000B);
            assert_eq!(r(4), 1);
            assert_eq!(r(5), 0x2222_0002);
            assert_eq!(r(6), 10);
            assert_eq!(r(7), 0);
            // XMM8-15 do not exist on an i386 kernel.
            let mut want = custom_fpu();
            if flavor == Flavor::I386 {
                want.xmm[8..].fill(0);
            }
            assert_eq!(m.vcpu.cpu.fpu, want, "{flavor:?} rt={rt}");
        }
    }
}

/// A 64-bit guest whose SIGUSR1 handler (with `flags`, mask SIGUSR2)
/// writes the blocked mask it runs with, raised twice.
fn mask_guest(flags: u64) -> (Machine, Status) {
    run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        let mut buf = a.create_label();
        sigaction64(
            a,
            SIGUSR1,
            act,
            handler,
            restorer,
            flags | SA_RESTORER,
            1 << 11,
        );
        for _ in 0..2 {
            sys64(a, 39);
            a.mov(edi, eax).unwrap();
            a.mov(esi, SIGUSR1).unwrap();
            sys64(a, 62);
        }
        a.mov(edi, 5u32).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        // rt_sigprocmask(SIG_BLOCK, NULL, &buf, 8); write(1, &buf, 8).
        a.xor(edi, edi).unwrap();
        a.xor(esi, esi).unwrap();
        a.lea(rdx, ptr(buf)).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 14);
        a.mov(edi, 1u32).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.mov(edx, 8u32).unwrap();
        sys64(a, 1);
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
        a.set_label(&mut buf).unwrap();
        a.db(&[0u8; 8]).unwrap();
    })
}

#[test]
fn handler_mask_is_sa_mask_plus_the_signal_unless_sa_nodefer() {
    let (m, st) = mask_guest(0);
    assert_eq!(st, Status::Exited(5));
    let out = m.stdout();
    assert_eq!(out.len(), 16);
    let want = (1u64 << 11) | (1 << 9);
    assert_eq!((u64_at(&out, 0), u64_at(&out, 8)), (want, want));
    let (m, _) = mask_guest(SA_NODEFER);
    assert_eq!(u64_at(&m.stdout(), 0), 1 << 11);
}

#[test]
fn sa_resethand_runs_the_handler_once_then_the_default_action_kills() {
    let (m, st) = mask_guest(SA_RESETHAND);
    assert_eq!(st, Status::Signaled(10));
    assert_eq!(st.code(), 138);
    assert_eq!(m.stdout().len(), 8);
}

#[test]
fn sa_onstack_runs_the_handler_on_the_alternate_stack() {
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        let mut stk = a.create_label();
        let mut buf = a.create_label();
        // sigaltstack({0x7000_0000_0000.., 0, 0x4000}, NULL) after mmap.
        a.xor(edi, edi).unwrap();
        a.mov(esi, 0x4000u32).unwrap();
        a.mov(edx, 3u32).unwrap();
        a.mov(r10d, 0x22u32).unwrap();
        a.mov(r8, -1i64).unwrap();
        a.xor(r9d, r9d).unwrap();
        sys64(a, 9);
        a.lea(r11, ptr(stk)).unwrap();
        a.mov(qword_ptr(r11), rax).unwrap();
        a.mov(qword_ptr(r11 + 16), 0x4000).unwrap();
        a.mov(rdi, r11).unwrap();
        a.xor(esi, esi).unwrap();
        sys64(a, 131);
        sigaction64(
            a,
            SIGUSR1,
            act,
            handler,
            restorer,
            SA_RESTORER | SA_ONSTACK | SA_SIGINFO,
            0,
        );
        sys64(a, 39);
        a.mov(edi, eax).unwrap();
        a.mov(esi, SIGUSR1).unwrap();
        sys64(a, 62);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        // buf = {rsp, ss_sp, uc_stack.ss_flags, oss.ss_flags}
        a.lea(r11, ptr(buf)).unwrap();
        a.mov(qword_ptr(r11), rsp).unwrap();
        a.lea(rax, ptr(stk)).unwrap();
        a.mov(rax, qword_ptr(rax)).unwrap();
        a.mov(qword_ptr(r11 + 8), rax).unwrap();
        a.mov(eax, dword_ptr(rdx + 24)).unwrap();
        a.mov(qword_ptr(r11 + 16), rax).unwrap();
        // sigaltstack(NULL, &oss) into ss (overwritten).
        a.xor(edi, edi).unwrap();
        a.lea(rsi, ptr(stk)).unwrap();
        sys64(a, 131);
        a.lea(r11, ptr(buf)).unwrap();
        a.lea(rax, ptr(stk)).unwrap();
        a.mov(eax, dword_ptr(rax + 8)).unwrap();
        a.mov(qword_ptr(r11 + 24), rax).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, r11).unwrap();
        a.mov(edx, 32u32).unwrap();
        sys64(a, 1);
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
        a.set_label(&mut stk).unwrap();
        a.db(&[0u8; 24]).unwrap();
        a.set_label(&mut buf).unwrap();
        a.db(&[0u8; 32]).unwrap();
    });
    assert_eq!(st, Status::Exited(0));
    let out = m.stdout();
    let (hsp, base) = (u64_at(&out, 0), u64_at(&out, 8));
    assert!(hsp > base && hsp < base + 0x4000, "{hsp:#x} {base:#x}");
    // The frame's top: the FPU area 64-aligned below the stack's end.
    assert_eq!(hsp, ((((base + 0x4000 - 512) & !63) - 440) & !15) - 8);
    // uc_stack.ss_flags: the interrupted code was not on the alt stack;
    // inside the handler sigaltstack reports SS_ONSTACK.
    assert_eq!((u64_at(&out, 16), u64_at(&out, 24)), (0, 1));
}

/// A guest (64-bit) with a SA_SIGINFO handler for `sig` that writes the
/// siginfo's first 32 bytes and exits with 9; `fault` emits the faulting
/// code.
fn fault_guest(sig: u32, fault: impl FnOnce(&mut CodeAssembler)) -> (Machine, Status) {
    run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        sigaction64(a, sig, act, handler, restorer, SA_SIGINFO | SA_RESTORER, 0);
        fault(a);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(edx, 32u32).unwrap();
        sys64(a, 1);
        // ... then the sigcontext's trapno and err.
        a.mov(rsi, rsp).unwrap();
        a.add(rsi, 8 + 40 + 152).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(edx, 16u32).unwrap();
        sys64(a, 1);
        a.mov(edi, 9u32).unwrap();
        sys64(a, 60);
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
    })
}

#[test]
fn faults_become_signals_with_linux_siginfo() {
    // (signal, si_code, si_addr is the faulting IP?, trapno)
    type Emit = fn(&mut CodeAssembler);
    let cases: [(u32, u32, Emit, u64); 5] = [
        (11, 1, |a| a.mov(dword_ptr(0x10), eax).unwrap(), 14),
        (4, 2, |a| a.ud2().unwrap(), 6),
        (
            8,
            1,
            |a| {
                a.xor(ecx, ecx).unwrap();
                a.div(ecx).unwrap();
            },
            0,
        ),
        (11, 0x80, |a| a.hlt().unwrap(), 13),
        (5, 0x80, |a| a.int3().unwrap(), 3),
    ];
    for (sig, code, emit, trapno) in cases {
        let (m, st) = fault_guest(sig, emit);
        assert_eq!(st, Status::Exited(9), "signal {sig}");
        let out = m.stdout();
        assert_eq!(out.len(), 48);
        assert_eq!(u32_at(&out, 0), u64::from(sig));
        assert_eq!(u32_at(&out, 8), u64::from(code), "signal {sig}");
        let addr = u64_at(&out, 16);
        match sig {
            11 if code == 1 => assert_eq!(addr, 0x10),
            4 | 8 => assert!(addr > 0x40_1000 && addr < 0x40_2000),
            _ => assert_eq!(addr, 0),
        }
        assert_eq!(u64_at(&out, 40), trapno, "signal {sig}");
        if sig == 11 && code == 1 {
            // err: a user-mode write to a not-present page (W|U).
            assert_eq!(u64_at(&out, 32), 6);
        }
    }
}

#[test]
fn write_to_a_read_only_page_is_segv_accerr() {
    let (m, st) = fault_guest(11, |a| {
        // The program's page made read-only, then written.
        a.mov(edi, 0x40_1000u32).unwrap();
        a.mov(esi, 0x1000u32).unwrap();
        a.mov(edx, 5u32).unwrap(); // PROT_READ | PROT_EXEC
        sys64(a, 10);
        a.mov(dword_ptr(0x40_1008), eax).unwrap();
    });
    assert_eq!(st, Status::Exited(9));
    let out = m.stdout();
    assert_eq!(u32_at(&out, 8), 2);
    assert_eq!(u64_at(&out, 16), 0x40_1008);
}

#[test]
fn default_actions_and_blocked_faults() {
    // No handler: the fault's signal ends the process.
    let (_, st) = run(Flavor::X86_64, 64, |a| a.ud2().unwrap());
    assert_eq!(st, Status::Signaled(4));
    assert_eq!(st.code(), 132);
    let (_, st) = run(Flavor::I386, 32, |a| a.mov(dword_ptr(0), eax).unwrap());
    assert_eq!(st, Status::Signaled(11));
    // A blocked synchronous signal still kills, handler or not.
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut set = a.create_label();
        a.xor(edi, edi).unwrap();
        a.lea(rsi, ptr(set)).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 14);
        a.mov(dword_ptr(0), eax).unwrap();
        a.set_label(&mut set).unwrap();
        a.dq(&[1u64 << 10]).unwrap();
    });
    assert_eq!(st, Status::Signaled(11));
    assert!(m.stdout().is_empty());
    // SIGCHLD's default is to ignore; SIGTERM's to terminate; SIG_IGN
    // ignores SIGTERM.
    for (sig, ignore, want) in [
        (17u32, false, Status::Exited(3)),
        (15, false, Status::Signaled(15)),
        (15, true, Status::Exited(3)),
    ] {
        let (_, st) = run(Flavor::I386, 32, |a| {
            if ignore {
                // sigaction(SIGTERM, {SIG_IGN}, NULL) through the old call.
                for v in [0u32, 0, 0, 1] {
                    a.push(v).unwrap();
                }
                a.mov(ebx, sig).unwrap();
                a.mov(ecx, esp).unwrap();
                a.xor(edx, edx).unwrap();
                sys32(a, 67);
            }
            sys32(a, 20);
            a.mov(ebx, eax).unwrap();
            a.mov(ecx, sig).unwrap();
            sys32(a, 37);
            a.mov(ebx, 3u32).unwrap();
            sys32(a, 1);
        });
        assert_eq!(st, want, "signal {sig} ignore={ignore}");
    }
}

#[test]
fn x86_64_handler_without_sa_restorer_gets_sigsegv() {
    let (_, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        // rt_sigaction(SIGUSR1, {handler = 0x1000, flags = 0}, NULL, 8).
        a.lea(rsi, ptr(act)).unwrap();
        a.mov(qword_ptr(rsi), 0x1000).unwrap();
        a.mov(edi, SIGUSR1).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 13);
        sys64(a, 39);
        a.mov(edi, eax).unwrap();
        a.mov(esi, SIGUSR1).unwrap();
        sys64(a, 62);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
    });
    assert_eq!(st, Status::Signaled(11));
}

#[test]
fn rt_sigreturn_with_a_bad_frame_is_sigsegv() {
    let (_, st) = run(Flavor::X86_64, 64, |a| {
        a.mov(rsp, 0x10u64).unwrap();
        sys64(a, 15);
    });
    assert_eq!(st, Status::Signaled(11));
    let (_, st) = run(Flavor::I386, 32, |a| {
        a.mov(esp, 0x10u32).unwrap();
        sys32(a, 119);
    });
    assert_eq!(st, Status::Signaled(11));
}

#[test]
fn sigaction_reports_the_old_action_and_rejects_sigkill() {
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut old = a.create_label();
        // Install {0x1234, SA_RESTORER|SA_SIGINFO|0x200 (unknown), 0x5678,
        // mask with SIGKILL} then read it back.
        a.lea(rsi, ptr(act)).unwrap();
        a.mov(edi, SIGUSR1).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 13);
        a.mov(edi, SIGUSR1).unwrap();
        a.xor(esi, esi).unwrap();
        a.lea(rdx, ptr(old)).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 13);
        a.mov(edi, 1u32).unwrap();
        a.lea(rsi, ptr(old)).unwrap();
        a.mov(edx, 32u32).unwrap();
        sys64(a, 1);
        // SIGKILL cannot be caught: -EINVAL as the exit status.
        a.mov(edi, 9u32).unwrap();
        a.lea(rsi, ptr(act)).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 13);
        a.neg(eax).unwrap();
        a.mov(edi, eax).unwrap();
        sys64(a, 60);
        a.set_label(&mut act).unwrap();
        a.dq(&[0x1234, 0x0400_0204, 0x5678, (1 << 8) | 1]).unwrap();
        a.set_label(&mut old).unwrap();
        a.db(&[0u8; 32]).unwrap();
    });
    assert_eq!(st, Status::Exited(22));
    let out = m.stdout();
    assert_eq!(
        [0, 8, 16, 24].map(|o| u64_at(&out, o)),
        [0x1234, 0x0400_0004, 0x5678, 1]
    );
}

#[test]
fn prlimit_getrlimit_and_ugetrlimit_report_the_defaults() {
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut buf = a.create_label();
        // prlimit64(0, RLIMIT_STACK, NULL, buf); getrlimit(RLIMIT_NOFILE,
        // buf + 16); prlimit64(0, RLIMIT_CORE, NULL, buf + 32).
        a.xor(edi, edi).unwrap();
        a.mov(esi, 3u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.lea(r10, ptr(buf)).unwrap();
        sys64(a, 302);
        a.mov(edi, 7u32).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.add(rsi, 16).unwrap();
        sys64(a, 97);
        a.xor(edi, edi).unwrap();
        a.mov(esi, 4u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.lea(r10, ptr(buf)).unwrap();
        a.add(r10, 32).unwrap();
        sys64(a, 302);
        a.mov(edi, 1u32).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.mov(edx, 48u32).unwrap();
        sys64(a, 1);
        // prlimit64 of resource 16: -EINVAL.
        a.xor(edi, edi).unwrap();
        a.mov(esi, 16u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.lea(r10, ptr(buf)).unwrap();
        sys64(a, 302);
        a.neg(eax).unwrap();
        a.mov(edi, eax).unwrap();
        sys64(a, 60);
        a.set_label(&mut buf).unwrap();
        a.db(&[0u8; 48]).unwrap();
    });
    assert_eq!(st, Status::Exited(22));
    let out = m.stdout();
    assert_eq!(
        [0, 8, 16, 24, 32, 40].map(|o| u64_at(&out, o)),
        [8 << 20, u64::MAX, 20000, 20000, 0, u64::MAX]
    );
    for flavor in [Flavor::I386, Flavor::X86_64] {
        let (m, _) = run(flavor, 32, |a| {
            // ugetrlimit(RLIMIT_STACK, sp); getrlimit(RLIMIT_STACK, sp + 8).
            a.sub(esp, 16).unwrap();
            a.mov(ebx, 3u32).unwrap();
            a.mov(ecx, esp).unwrap();
            sys32(a, 191);
            a.mov(ebx, 3u32).unwrap();
            a.lea(ecx, esp + 8).unwrap();
            sys32(a, 76);
            a.mov(ebx, 1u32).unwrap();
            a.mov(ecx, esp).unwrap();
            a.mov(edx, 16u32).unwrap();
            sys32(a, 4);
            a.xor(ebx, ebx).unwrap();
            sys32(a, 1);
        });
        let out = m.stdout();
        assert_eq!(
            [0, 4, 8, 12].map(|o| u32_at(&out, o)),
            [8 << 20, 0xFFFF_FFFF, 8 << 20, 0x7FFF_FFFF]
        );
    }
}

#[test]
fn alarm_and_pause_deliver_sigalrm() {
    // No handler: SIGALRM ends the paused process.
    let (_, st) = run(Flavor::X86_64, 64, |a| {
        a.mov(edi, 1u32).unwrap();
        sys64(a, 37);
        sys64(a, 34);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
    });
    assert_eq!(st, Status::Signaled(14));
}

#[test]
fn fork_wait_and_sigchld() {
    // The child exits 7; the parent's SIGCHLD handler writes "C"; wait4
    // gives the status; a second wait4 gives -ECHILD.
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        let mut child = a.create_label();
        let mut status = a.create_label();
        sigaction64(a, 17, act, handler, restorer, SA_RESTORER, 0);
        sys64(a, 57);
        a.test(eax, eax).unwrap();
        a.jz(child).unwrap();
        a.mov(edi, -1i32).unwrap();
        a.lea(rsi, ptr(status)).unwrap();
        a.xor(edx, edx).unwrap();
        a.xor(r10d, r10d).unwrap();
        sys64(a, 61);
        a.mov(edi, 1u32).unwrap();
        a.lea(rsi, ptr(status)).unwrap();
        a.mov(edx, 4u32).unwrap();
        sys64(a, 1);
        a.mov(edi, -1i32).unwrap();
        a.xor(esi, esi).unwrap();
        a.xor(edx, edx).unwrap();
        a.xor(r10d, r10d).unwrap();
        sys64(a, 61);
        a.neg(eax).unwrap();
        a.mov(edi, eax).unwrap();
        sys64(a, 60);
        a.set_label(&mut child).unwrap();
        a.mov(edi, 7u32).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        a.push(0x43).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(edx, 1u32).unwrap();
        sys64(a, 1);
        a.pop(rax).unwrap();
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
        a.set_label(&mut status).unwrap();
        a.db(&[0u8; 4]).unwrap();
    });
    assert_eq!(st, Status::Exited(10)); // ECHILD
    let out = m.stdout();
    assert_eq!(out.len(), 5);
    // wait4 completes first, then SIGCHLD is delivered on its way back to
    // user mode: the handler's "C", then the status word (7 << 8).
    assert_eq!(out[0], b'C');
    assert_eq!(&out[1..], &(7u32 << 8).to_le_bytes());
}

/// The address of `name` in a one-page vDSO image mapped at `base`
/// (ELF32 or ELF64, symbols through the section-less dynamic table).
fn vdso_symbol(page: &[u8], base: u64, name: &str) -> u64 {
    let elf64 = page[4] == 2;
    let (dynsym, dynstr, ent) = if elf64 {
        (0x180usize, 0x380usize, 24usize)
    } else {
        (0x140, 0x200, 16)
    };
    for k in 1..32 {
        let at = dynsym + ent * k;
        let name_at = dynstr + u32_at(page, at) as usize;
        let end = name_at + page[name_at..].iter().position(|&c| c == 0).unwrap();
        if &page[name_at..end] == name.as_bytes() {
            let value = if elf64 {
                u64_at(page, at + 8)
            } else {
                u32_at(page, at + 4)
            };
            return base + value;
        }
    }
    panic!("no {name}");
}

#[test]
fn vdso_time_functions_agree_with_the_system_calls() {
    // x86_64: __vdso_clock_gettime(CLOCK_REALTIME), then the system call,
    // then __vdso_time and __vdso_gettimeofday.
    let v = vdso::vdso64(VDSO64_BASE).unwrap();
    let cgt = vdso_symbol(&v.code, VDSO64_BASE, "__vdso_clock_gettime");
    let tod = vdso_symbol(&v.code, VDSO64_BASE, "__vdso_gettimeofday");
    let time = vdso_symbol(&v.code, VDSO64_BASE, "__vdso_time");
    assert_eq!(vdso_symbol(&v.code, VDSO64_BASE, "clock_gettime"), cgt);
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        a.sub(rsp, 64).unwrap();
        a.xor(edi, edi).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(rax, cgt).unwrap();
        a.call(rax).unwrap();
        a.mov(r12, rax).unwrap();
        a.xor(edi, edi).unwrap();
        a.lea(rsi, rsp + 16).unwrap();
        sys64(a, 228);
        a.lea(rdi, rsp + 32).unwrap();
        a.mov(rax, time).unwrap();
        a.call(rax).unwrap();
        a.lea(rdi, rsp + 40).unwrap();
        a.xor(esi, esi).unwrap();
        a.mov(rax, tod).unwrap();
        a.call(rax).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(edx, 56u32).unwrap();
        sys64(a, 1);
        a.mov(edi, r12d).unwrap();
        sys64(a, 60);
    });
    assert_eq!(st, Status::Exited(0));
    let out = m.stdout();
    let epoch = m.personality.clock.boot_epoch as u64;
    let (s1, n1, s2, n2) = (
        u64_at(&out, 0),
        u64_at(&out, 8),
        u64_at(&out, 16),
        u64_at(&out, 24),
    );
    assert_eq!((s1, s2), (epoch, epoch));
    assert!(n1 > 0 && n1 <= n2 && n2 < 1_000_000, "{n1} {n2}");
    assert_eq!(u64_at(&out, 32), epoch);
    assert_eq!(u64_at(&out, 40), epoch);
    assert!(u64_at(&out, 48) >= n2 / 1000 && u64_at(&out, 48) < 1000);
    // Only the one system call was made besides write and exit.
    let nrs: Vec<u32> = m.events.iter().map(|e| e.nr).collect();
    assert_eq!(nrs, [228, 1, 60]);

    // i386 on both kernels: __vdso_clock_gettime (32-bit timespec) and
    // __vdso_clock_gettime64 with CLOCK_MONOTONIC, then the system call.
    for flavor in [Flavor::I386, Flavor::X86_64] {
        let page = Machine::new(Config {
            flavor,
            ..Config::default()
        })
        .unwrap()
        .vdso
        .code;
        let cgt = vdso_symbol(&page, VDSO32_BASE, "__vdso_clock_gettime");
        let cgt64 = vdso_symbol(&page, VDSO32_BASE, "__vdso_clock_gettime64");
        let (m, st) = run(flavor, 32, |a| {
            a.sub(esp, 48).unwrap();
            a.mov(ebp, esp).unwrap();
            a.push(ebp).unwrap();
            a.push(1).unwrap();
            a.mov(eax, cgt as u32).unwrap();
            a.call(eax).unwrap();
            a.add(esp, 8).unwrap();
            a.lea(ecx, ebp + 8).unwrap();
            a.push(ecx).unwrap();
            a.push(1).unwrap();
            a.mov(eax, cgt64 as u32).unwrap();
            a.call(eax).unwrap();
            a.add(esp, 8).unwrap();
            a.mov(ebx, 1u32).unwrap();
            a.lea(ecx, ebp + 24).unwrap();
            sys32(a, 265);
            a.mov(ebx, 1u32).unwrap();
            a.mov(ecx, ebp).unwrap();
            a.mov(edx, 32u32).unwrap();
            sys32(a, 4);
            a.xor(ebx, ebx).unwrap();
            sys32(a, 1);
        });
        assert_eq!(st, Status::Exited(0));
        let out = m.stdout();
        let (s1, n1) = (u32_at(&out, 0), u32_at(&out, 4));
        let (s2, n2) = (u64_at(&out, 8), u64_at(&out, 16));
        let (s3, n3) = (u32_at(&out, 24), u32_at(&out, 28));
        assert_eq!((s1, s2, s3), (0, 0, 0), "{flavor:?}");
        assert!(n1 > 0 && n1 <= n2 && n2 <= n3, "{flavor:?} {n1} {n2} {n3}");
        let nrs: Vec<u32> = m.events.iter().map(|e| e.nr).collect();
        assert_eq!(nrs, [265, 4, 1], "{flavor:?}");
    }
}

/// A parent blocked in read() on a pipe gets SIGUSR1 from its child; the
/// handler (with `flags`) wakes the child through a second pipe; the
/// child then writes one byte to the first pipe. Returns read()'s result.
fn interrupted_read(flags: u64) -> i64 {
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        let mut child = a.create_label();
        let mut fds = a.create_label();
        let mut buf = a.create_label();
        a.lea(rdi, ptr(fds)).unwrap();
        sys64(a, 22);
        a.lea(rdi, ptr(fds)).unwrap();
        a.add(rdi, 8).unwrap();
        sys64(a, 22);
        sigaction64(a, SIGUSR1, act, handler, restorer, SA_RESTORER | flags, 0);
        sys64(a, 57);
        a.test(eax, eax).unwrap();
        a.jz(child).unwrap();
        // Parent: read(p1[0], buf, 1), then wait4(-1, ...), then report.
        a.lea(r11, ptr(fds)).unwrap();
        a.mov(edi, dword_ptr(r11)).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.mov(edx, 1u32).unwrap();
        sys64(a, 0);
        a.push(rax).unwrap();
        a.mov(edi, -1i32).unwrap();
        a.xor(esi, esi).unwrap();
        a.xor(edx, edx).unwrap();
        a.xor(r10d, r10d).unwrap();
        sys64(a, 61);
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(edx, 8u32).unwrap();
        sys64(a, 1);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        // Child: kill(getppid(), SIGUSR1); read(p2[0]); write(p1[1]).
        a.set_label(&mut child).unwrap();
        sys64(a, 110);
        a.mov(edi, eax).unwrap();
        a.mov(esi, SIGUSR1).unwrap();
        sys64(a, 62);
        a.lea(r11, ptr(fds)).unwrap();
        a.mov(edi, dword_ptr(r11 + 8)).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.mov(edx, 1u32).unwrap();
        sys64(a, 0);
        a.lea(r11, ptr(fds)).unwrap();
        a.mov(edi, dword_ptr(r11 + 4)).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.mov(edx, 1u32).unwrap();
        sys64(a, 1);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        // Handler: write(p2[1], buf, 1).
        a.set_label(&mut handler).unwrap();
        a.lea(r11, ptr(fds)).unwrap();
        a.mov(edi, dword_ptr(r11 + 12)).unwrap();
        a.lea(rsi, ptr(buf)).unwrap();
        a.mov(edx, 1u32).unwrap();
        sys64(a, 1);
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
        a.set_label(&mut fds).unwrap();
        a.db(&[0u8; 16]).unwrap();
        a.set_label(&mut buf).unwrap();
        a.db(b"xxxxxxxx").unwrap();
    });
    assert_eq!(st, Status::Exited(0));
    u64_at(&m.stdout(), 0) as i64
}

#[test]
fn a_blocked_read_is_interrupted_or_restarted_per_sa_restart() {
    assert_eq!(interrupted_read(0), -4); // EINTR
    assert_eq!(interrupted_read(0x1000_0000), 1); // SA_RESTART
}

#[test]
fn rt_sigsuspend_waits_with_the_given_mask_and_restores_the_old_one() {
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        let mut sets = a.create_label();
        sigaction64(a, SIGUSR1, act, handler, restorer, SA_RESTORER, 0);
        // Block SIGUSR1, raise it, then sigsuspend with an empty mask.
        a.xor(edi, edi).unwrap();
        a.lea(rsi, ptr(sets)).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 14);
        sys64(a, 39);
        a.mov(edi, eax).unwrap();
        a.mov(esi, SIGUSR1).unwrap();
        sys64(a, 62);
        a.lea(rdi, ptr(sets)).unwrap();
        a.add(rdi, 8).unwrap();
        a.mov(esi, 8u32).unwrap();
        sys64(a, 130);
        a.push(rax).unwrap();
        // The mask after: rt_sigprocmask(SIG_BLOCK, NULL, &old, 8).
        a.sub(rsp, 8).unwrap();
        a.xor(edi, edi).unwrap();
        a.xor(esi, esi).unwrap();
        a.mov(rdx, rsp).unwrap();
        a.mov(r10d, 8u32).unwrap();
        sys64(a, 14);
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(edx, 16u32).unwrap();
        sys64(a, 1);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        a.push(0x48).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(edx, 1u32).unwrap();
        sys64(a, 1);
        a.pop(rax).unwrap();
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
        a.set_label(&mut sets).unwrap();
        a.dq(&[1 << 9, 0]).unwrap();
    });
    assert_eq!(st, Status::Exited(0));
    let out = m.stdout();
    assert_eq!(out[0], b'H');
    // Mask after (pushed last), then sigsuspend's -EINTR.
    assert_eq!(u64_at(&out, 1), 1 << 9);
    assert_eq!(u64_at(&out, 9) as i64, -4);
}

#[test]
fn waitid_reports_the_child_in_a_siginfo() {
    let (m, st) = run(Flavor::X86_64, 64, |a| {
        let mut child = a.create_label();
        sys64(a, 57);
        a.test(eax, eax).unwrap();
        a.jz(child).unwrap();
        a.sub(rsp, 128).unwrap();
        a.xor(edi, edi).unwrap(); // P_ALL
        a.xor(esi, esi).unwrap();
        a.mov(rdx, rsp).unwrap();
        a.mov(r10d, 4u32).unwrap(); // WEXITED
        a.xor(r8d, r8d).unwrap();
        sys64(a, 247);
        a.mov(qword_ptr(rsp + 120), rax).unwrap();
        a.mov(edi, 1u32).unwrap();
        a.mov(rsi, rsp).unwrap();
        a.mov(edx, 128u32).unwrap();
        sys64(a, 1);
        // Again: no child left, -ECHILD as the exit status.
        a.xor(edi, edi).unwrap();
        a.xor(esi, esi).unwrap();
        a.mov(rdx, rsp).unwrap();
        a.mov(r10d, 5u32).unwrap(); // WEXITED | WNOHANG
        a.xor(r8d, r8d).unwrap();
        sys64(a, 247);
        a.neg(eax).unwrap();
        a.mov(edi, eax).unwrap();
        sys64(a, 60);
        a.set_label(&mut child).unwrap();
        a.mov(edi, 5u32).unwrap();
        sys64(a, 60);
    });
    assert_eq!(st, Status::Exited(10));
    let out = m.stdout();
    assert_eq!(u32_at(&out, 0), 17); // SIGCHLD
    assert_eq!(u32_at(&out, 8), 1); // CLD_EXITED
    assert_eq!(u32_at(&out, 16), 2); // si_pid
    assert_eq!(u32_at(&out, 24), 5); // si_status
    assert_eq!(u64_at(&out, 120), 0);
}

#[test]
fn execve_resets_handlers_but_keeps_ignored_signals() {
    // The new image: kill(getpid(), SIGUSR2) (still ignored), then
    // kill(getpid(), SIGUSR1) (its handler is gone: default, terminate).
    let mut b = CodeAssembler::new(64).unwrap();
    for s in [12u32, 10] {
        sys64(&mut b, 39);
        b.mov(edi, eax).unwrap();
        b.mov(esi, s).unwrap();
        sys64(&mut b, 62);
    }
    b.xor(edi, edi).unwrap();
    sys64(&mut b, 60);
    let next = elf(64, 0x40_0000, &b.assemble(0x40_1000).unwrap());
    let (_, st) = run_with(
        Flavor::X86_64,
        64,
        |a| {
            let mut act = a.create_label();
            let mut handler = a.create_label();
            let mut restorer = a.create_label();
            let mut path = a.create_label();
            let mut ign = a.create_label();
            sigaction64(a, SIGUSR1, act, handler, restorer, SA_RESTORER, 0);
            a.mov(edi, 12u32).unwrap();
            a.lea(rsi, ptr(ign)).unwrap();
            a.xor(edx, edx).unwrap();
            a.mov(r10d, 8u32).unwrap();
            sys64(a, 13);
            a.lea(rdi, ptr(path)).unwrap();
            a.xor(esi, esi).unwrap();
            a.xor(edx, edx).unwrap();
            sys64(a, 59);
            a.mov(edi, 99u32).unwrap();
            sys64(a, 60);
            a.set_label(&mut handler).unwrap();
            a.ret().unwrap();
            a.set_label(&mut restorer).unwrap();
            sys64(a, 15);
            a.set_label(&mut act).unwrap();
            a.db(&[0u8; 32]).unwrap();
            a.set_label(&mut ign).unwrap();
            a.dq(&[1, 0x0400_0000, 0, 0]).unwrap();
            a.set_label(&mut path).unwrap();
            a.db(b"/bin/next\0").unwrap();
        },
        |m| m.add_file("/bin/next", &next, 0o755).unwrap(),
    );
    assert_eq!(st, Status::Signaled(10));
}

#[test]
fn alignment_check_and_floating_point_exceptions_become_sigbus_and_sigfpe() {
    // (signal, si_code, si_addr is an IP in the program?)
    type Emit = fn(&mut CodeAssembler);
    let cases: [(u32, u32, Emit, bool); 3] = [
        (
            7,
            1, // BUS_ADRALN, si_addr NULL
            |a| {
                a.pushfq().unwrap();
                a.or(qword_ptr(rsp), 0x4_0000).unwrap();
                a.popfq().unwrap();
                a.mov(eax, dword_ptr(rsp + 1)).unwrap();
            },
            false,
        ),
        (
            8,
            3, // FPE_FLTDIV from MXCSR (ZM clear)
            |a| {
                a.push(0x1D80).unwrap();
                a.ldmxcsr(dword_ptr(rsp)).unwrap();
                a.mov(eax, 1u32).unwrap();
                a.cvtsi2ss(xmm0, eax).unwrap();
                a.xorps(xmm1, xmm1).unwrap();
                a.divss(xmm0, xmm1).unwrap();
            },
            true,
        ),
        (
            8,
            3, // FPE_FLTDIV from the x87 status and control words
            |a| {
                a.fninit().unwrap();
                a.push(0x037B).unwrap();
                a.fldcw(word_ptr(rsp)).unwrap();
                a.fld1().unwrap();
                a.fldz().unwrap();
                a.fdivp(st1, st0).unwrap();
                a.wait().unwrap();
            },
            true,
        ),
    ];
    for (k, (sig, code, emit, at_ip)) in cases.into_iter().enumerate() {
        let (m, st) = fault_guest(sig, emit);
        assert_eq!(st, Status::Exited(9), "case {k}");
        let out = m.stdout();
        assert_eq!(u32_at(&out, 0), u64::from(sig), "case {k}");
        assert_eq!(u32_at(&out, 8), u64::from(code), "case {k}");
        let addr = u64_at(&out, 16);
        if at_ip {
            assert!(addr > 0x40_1000 && addr < 0x40_2000, "case {k}: {addr:#x}");
        } else {
            assert_eq!(addr, 0, "case {k}");
        }
    }
}

#[test]
fn an_unwritable_stack_or_a_bad_sigreturn_frame_ends_in_sigsegv() {
    // The frame cannot be written: SIGSEGV with its default action.
    let (_, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        sigaction64(a, SIGUSR1, act, handler, restorer, SA_RESTORER, 0);
        sys64(a, 39);
        a.mov(edi, eax).unwrap();
        a.mov(esi, SIGUSR1).unwrap();
        a.mov(rsp, 0x1000u64).unwrap();
        sys64(a, 62);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
    });
    assert_eq!(st, Status::Signaled(11));
    // The handler puts a kernel selector in the saved CS: rt_sigreturn
    // refuses it (Linux's IRET would fault) with SIGSEGV.
    let (_, st) = run(Flavor::X86_64, 64, |a| {
        let mut act = a.create_label();
        let mut handler = a.create_label();
        let mut restorer = a.create_label();
        sigaction64(a, SIGUSR1, act, handler, restorer, SA_RESTORER, 0);
        sys64(a, 39);
        a.mov(edi, eax).unwrap();
        a.mov(esi, SIGUSR1).unwrap();
        sys64(a, 62);
        a.xor(edi, edi).unwrap();
        sys64(a, 60);
        a.set_label(&mut handler).unwrap();
        a.mov(word_ptr(rdx + 40 + 144), 0x10).unwrap();
        a.ret().unwrap();
        a.set_label(&mut restorer).unwrap();
        sys64(a, 15);
        a.set_label(&mut act).unwrap();
        a.db(&[0u8; 32]).unwrap();
    });
    assert_eq!(st, Status::Signaled(11));
}

#[test]
fn i386_sigreturn_loads_valid_data_selectors_and_nulls_bad_ones() {
    for flavor in [Flavor::I386, Flavor::X86_64] {
        let uds = match flavor {
            Flavor::I386 => layout::gdt32::USER_DS,
            Flavor::X86_64 => layout::gdt64::USER_DS,
        };
        let (m, st) = run(flavor, 32, |a| {
            handler32(a, |a| {
                // sigframe: sc at esp + 8: gs at +0, fs at +4.
                a.mov(dword_ptr(esp + 8), 0x1234u32).unwrap();
                a.mov(dword_ptr(esp + 12), u32::from(uds)).unwrap();
                a.ret().unwrap();
            });
            sigaction32(a, SIGUSR1, 0, 0);
            sys32(a, 20);
            a.mov(ebx, eax).unwrap();
            a.mov(ecx, SIGUSR1).unwrap();
            sys32(a, 37);
            a.push(0).unwrap();
            a.push(0).unwrap();
            a.mov(word_ptr(esp), gs).unwrap();
            a.mov(word_ptr(esp + 4), fs).unwrap();
            a.mov(ebx, 1u32).unwrap();
            a.mov(ecx, esp).unwrap();
            a.mov(edx, 8u32).unwrap();
            sys32(a, 4);
            a.xor(ebx, ebx).unwrap();
            sys32(a, 1);
        });
        assert_eq!(st, Status::Exited(0), "{flavor:?}");
        let out = m.stdout();
        assert_eq!(
            (u32_at(&out, 0), u32_at(&out, 4)),
            (0, u64::from(uds)),
            "{flavor:?}"
        );
    }
}
