//! Tests of the core families: data movement, ALU, control, stack.

use iced_x86::code_asm::*;

use crate::exception::Exception;
use crate::flags::{CF, OF, SF, ZF};
use crate::run::Exit;
use crate::testutil::{DATA, STACK, exec};

#[test]
fn add_sub_in_every_size() {
    let v = exec(64, |a| {
        a.mov(rax, 0x7FFF_FFFF_FFFF_FFFFu64)?;
        a.add(rax, 1)?;
        a.pushfq()?;
        a.mov(ebx, 0xFFFF_FFFFu32)?;
        a.add(ebx, 1)?;
        a.mov(cx, 0x8000u32)?;
        a.sub(cx, 1)?;
        a.mov(dl, 0xFF)?;
        a.mov(dh, 0x01)?;
        a.add(dh, dl)?;
        a.pop(rsi)
    });
    let c = &v.cpu;
    assert_eq!(c.gpr[0], 1 << 63);
    assert_eq!(c.gpr[6] & (OF | SF | CF | ZF), OF | SF);
    assert_eq!(c.gpr[3], 0);
    assert_eq!(c.gpr[1] & 0xFFFF, 0x7FFF);
    assert_eq!((c.gpr[2] >> 8) & 0xFF, 0);
    assert_eq!(c.gpr[2] & 0xFF, 0xFF);
    assert_eq!(c.rflags & (CF | ZF), CF | ZF);
}

#[test]
fn thirty_two_bit_writes_zero_extend_in_64_bit_mode() {
    let v = exec(64, |a| {
        a.mov(rax, -1i64)?;
        a.mov(eax, 5u32)?;
        a.mov(rbx, -1i64)?;
        a.mov(bx, 7u32)?;
        a.mov(rcx, -1i64)?;
        a.mov(edx, 0u32)?;
        a.cmp(edx, 1)?;
        a.cmovz(ecx, edx)
    });
    assert_eq!(v.cpu.gpr[0], 5);
    assert_eq!(v.cpu.gpr[3], 0xFFFF_FFFF_FFFF_0007);
    assert_eq!(
        v.cpu.gpr[1], 0xFFFF_FFFF,
        "CMOV r32 zero-extends even when false"
    );
}

#[test]
fn call_ret_push_pop_round_trip() {
    let v = exec(64, |a| {
        let mut f = a.create_label();
        let mut done = a.create_label();
        a.mov(rax, 1u64)?;
        a.call(f)?;
        a.jmp(done)?;
        a.set_label(&mut f)?;
        a.push(rax)?;
        a.add(rax, 41)?;
        a.pop(rbx)?;
        a.ret()?;
        a.set_label(&mut done)?;
        a.nop()
    });
    assert_eq!(v.cpu.gpr[0], 42);
    assert_eq!(v.cpu.gpr[3], 1);
    assert_eq!(v.cpu.gpr[4], STACK);
}

#[test]
fn loop_and_jcc_count_down() {
    let v = exec(32, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10u32)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, ecx)?;
        a.loop_(top)
    });
    assert_eq!(v.cpu.gpr[0], 55);
    assert_eq!(v.cpu.gpr[1], 0);
}

#[test]
fn memory_operands_and_lea() {
    let v = exec(64, |a| {
        a.mov(rbx, DATA)?;
        a.mov(qword_ptr(rbx + 8), 0x1122_3344i32)?;
        a.add(qword_ptr(rbx + 8), 1)?;
        a.mov(rax, qword_ptr(rbx + 8))?;
        a.lea(rcx, qword_ptr(rbx + rax * 4 + 3))?;
        a.movzx(edx, byte_ptr(rbx + 8))?;
        a.movsx(rsi, word_ptr(rbx + 9))
    });
    assert_eq!(v.cpu.gpr[0], 0x1122_3345);
    assert_eq!(v.cpu.gpr[1], DATA + 0x1122_3345 * 4 + 3);
    assert_eq!(v.cpu.gpr[2], 0x45);
    assert_eq!(v.cpu.gpr[6], 0x2233);
}

#[test]
fn faulting_instruction_commits_nothing() {
    // A push above the limit of a 32-bit expand-up stack segment
    // is #SS(0): ESP, memory and EIP stay as they were.
    let code = crate::testutil::asm(32, |a| a.push(eax));
    let mut v = crate::testutil::machine(32);
    v.cpu.seg[crate::state::SegReg::Ss as usize].limit = 0xFFF;
    v.cpu.gpr[4] = 0x2000;
    let exit = crate::testutil::run(&mut v, &code);
    assert_eq!(exit, Exit::Exception(Exception::SS(0)));
    assert_eq!(v.cpu.gpr[4], 0x2000);
    assert_eq!(v.cpu.rip, crate::testutil::CODE);
    assert_eq!(v.cpu.instructions, 0);
}

#[test]
fn privileged_hlt_faults_at_cpl3() {
    let mut v = crate::testutil::machine(64);
    v.cpu.set_flat_mode(64, 3);
    let exit = crate::testutil::run(&mut v, &[0xF4]);
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    assert_eq!(v.cpu.rip, crate::testutil::CODE);
}

#[test]
fn self_modifying_code_sees_its_writes() {
    // The store rewrites the immediate of the next instruction.
    let v = exec(64, |a| {
        let mut patch = a.create_label();
        a.lea(rbx, ptr(patch))?;
        a.mov(byte_ptr(rbx + 1), 0x77)?;
        a.set_label(&mut patch)?;
        a.mov(al, 0x11)
    });
    assert_eq!(v.cpu.gpr[0] & 0xFF, 0x77);
}

#[test]
fn a_chained_block_whose_code_was_rewritten_is_decoded_again_under_paging() {
    // With paging on, a block reached through its predecessor's link
    // reuses its fetch translation while the TLB is unchanged; rewriting
    // the block's code must still make the next entry see the new bytes.
    // X = [jmp b] links to B = [mov al, 0x11; add dl, al; dec ecx; jz done]
    // on the next page. Round 1 writes a scratch byte on B's page (so the
    // TLB holds a writable entry and later writes fill nothing); round 3
    // patches B's immediate (EBX points at it); round 4 must add 0x77.
    let code = crate::testutil::asm(32, |a| {
        let mut top = a.create_label();
        let mut b = a.create_label();
        let mut done = a.create_label();
        let mut not3 = a.create_label();
        a.mov(ecx, 4u32)?;
        a.xor(edx, edx)?;
        a.set_label(&mut top)?;
        a.jmp(b)?;
        a.db(&[0xCC; 4096])?;
        a.set_label(&mut b)?;
        a.mov(al, 0x11)?;
        a.add(dl, al)?;
        a.dec(ecx)?;
        a.jz(done)?;
        a.cmp(ecx, 3)?;
        a.jne(not3)?;
        a.mov(byte_ptr(ebx + 0x200), 0)?;
        a.jmp(top)?;
        a.set_label(&mut not3)?;
        a.cmp(ecx, 1)?;
        a.jne(top)?;
        a.mov(byte_ptr(ebx + 1), 0x77)?;
        a.jmp(top)?;
        a.set_label(&mut done)?;
        a.nop()
    });
    let mut v = crate::testutil::machine(32);
    const PD: u64 = 0x30000;
    const PT: u64 = 0x31000;
    v.cpu.mmu.phys.write(PD, &((PT | 7) as u32).to_le_bytes());
    for page in 0..256u64 {
        v.cpu
            .mmu
            .phys
            .write(PT + 4 * page, &(((page << 12) | 7) as u32).to_le_bytes());
    }
    v.cpu.ctrl.cr3 = PD;
    v.cpu.ctrl.cr0 |= 1 << 31;
    v.cpu.mmu.flush_tlb(false);
    let at = code
        .windows(2)
        .position(|w| w == [0xB0, 0x11])
        .expect("mov al");
    v.cpu.gpr[3] = crate::testutil::CODE + at as u64;
    assert_eq!(crate::testutil::run(&mut v, &code), Exit::Hlt);
    assert_eq!(v.cpu.gpr[2] & 0xFF, 3 * 0x11 + 0x77);
}

/// The forms of 64-bit memory operand the MOV and PUSH handlers specialize
/// (`[base + disp]`, `FS/GS:[disp]`, `[rip + disp]`) and the general one
/// address the same bytes, as seen through other forms, both through the
/// full path (first pass of the loop, and the access crossing a page) and
/// through the host-pointer cache (second pass, storing other values). A
/// wrong address in a specialized form would land in a page the cache
/// holds (the FS/GS bases are whole pages) and be seen.
#[test]
fn sixty_four_bit_memory_forms_agree() {
    use crate::state::SegReg;
    use crate::testutil::{asm, machine, run};
    let code = asm(64, |a| {
        let mut data = a.create_label();
        let mut over = a.create_label();
        let mut top = a.create_label();
        a.mov(r12, 2u64)?;
        a.set_label(&mut top)?;
        a.mov(rbx, DATA)?;
        a.mov(rax, 0x1111_2222_3333_4444u64)?;
        a.xor(rax, r12)?;
        // [base + disp]: a store, and the load back.
        a.mov(qword_ptr(rbx + 8), rax)?;
        a.mov(rcx, qword_ptr(rbx + 8))?;
        // GS:[disp] (GS.base = 0x1000) against [base + disp].
        a.mov(qword_ptr(DATA + 0x110).gs(), rcx)?;
        a.mov(rdx, qword_ptr(DATA + 0x110).gs())?;
        a.mov(rsi, qword_ptr(rbx + 0x1110))?;
        // FS:[disp] with a 32-bit register (FS.base = 0x2000).
        a.mov(dword_ptr(DATA + 0x220).fs(), esi)?;
        a.mov(edi, dword_ptr(rbx + 0x2220))?;
        // [rip + disp].
        a.mov(r8, qword_ptr(data))?;
        // A store crossing into the next page, loaded back whole and by
        // halves.
        a.mov(qword_ptr(rbx + 0xFFC), rax)?;
        a.mov(r9, qword_ptr(rbx + 0xFFC))?;
        a.mov(r10d, dword_ptr(rbx + 0x1000))?;
        // PUSH GS:[disp] and [base + disp].
        a.push(qword_ptr(DATA + 0x110).gs())?;
        a.pop(r11)?;
        a.push(qword_ptr(rbx + 8))?;
        a.pop(r13)?;
        // Base and index: the general form.
        a.mov(r14, 2u64)?;
        a.mov(r15, qword_ptr(rbx + r14 * 4))?;
        a.dec(r12)?;
        a.jnz(top)?;
        a.jmp(over)?;
        a.set_label(&mut data)?;
        a.dq(&[0x5555_6666_7777_8888])?;
        a.set_label(&mut over)?;
        Ok(())
    });
    let mut v = machine(64);
    v.cpu.seg[SegReg::Gs as usize].base = 0x1000;
    v.cpu.seg[SegReg::Fs as usize].base = 0x2000;
    assert_eq!(run(&mut v, &code), Exit::Hlt);
    let g = &v.cpu.gpr;
    // The last pass ran with R12 = 1.
    let x = 0x1111_2222_3333_4444u64 ^ 1;
    assert_eq!(g[1], x, "[rbx+8]");
    assert_eq!(g[2], x, "gs:[disp]");
    assert_eq!(g[6], x, "gs:[disp] seen as [rbx+disp]");
    assert_eq!(g[7], x & 0xFFFF_FFFF, "fs:[disp] seen as [rbx+disp]");
    assert_eq!(g[8], 0x5555_6666_7777_8888, "[rip+disp]");
    assert_eq!(g[9], x, "across the page end");
    assert_eq!(g[10], x >> 32, "the high half, in the next page");
    assert_eq!(g[11], x, "push gs:[disp]");
    assert_eq!(g[13], x, "push [rbx+8]");
    assert_eq!(g[15], x, "[rbx+r14*4]");
    assert_eq!(g[4], STACK, "balanced pushes and pops");
    let mut b = [0u8; 8];
    v.cpu.mmu.phys.read(DATA + 0x1110, &mut b);
    assert_eq!(u64::from_le_bytes(b), x);
}

/// RDSSPQ and RDSSPD leave their register unchanged without CET shadow
/// stacks (glibc's unwinder zeroes RAX and reads it back as "no shadow
/// stack"); ENDBR64 is a NOP.
#[test]
fn rdssp_without_shadow_stacks_changes_nothing() {
    let v = exec(64, |a| {
        a.mov(rax, 0x1234u64)?;
        a.mov(rcx, 0x5678u64)?;
        a.rdsspq(rax)?;
        a.rdsspd(ecx)?;
        a.endbr64()
    });
    assert_eq!(v.cpu.gpr[0], 0x1234);
    assert_eq!(v.cpu.gpr[1], 0x5678);
}

#[test]
fn forward_jumps_leave_superblocks_through_side_exits() {
    // One block runs through both forward jumps (to HLT); a taken one
    // leaves it there and the code after its target is a block of its own.
    // EAX picks the path; EBX records it.
    let code = |bits| {
        crate::testutil::asm(bits, |a| {
            let mut skip1 = a.create_label();
            let mut skip2 = a.create_label();
            a.cmp(eax, 1)?;
            a.je(skip1)?;
            a.add(ebx, 1)?;
            a.set_label(&mut skip1)?;
            a.cmp(eax, 2)?;
            a.jne(skip2)?;
            a.add(ebx, 10)?;
            a.set_label(&mut skip2)?;
            a.add(ebx, 100)
        })
    };
    // (EAX, EBX after, instructions retired, blocks decoded)
    let cases = [(0, 101, 7, 2), (1, 100, 6, 3), (2, 111, 8, 1)];
    for bits in [32, 64] {
        let code = code(bits);
        for (path, want, retired, blocks) in cases {
            let run = |budget| run_split(bits, &code, (0, path), budget);
            let whole = run(u64::MAX);
            let c = &whole.cpu;
            assert_eq!(c.gpr[3], want, "{bits}-bit, EAX {path}");
            assert_eq!(c.instructions, retired, "{bits}-bit, EAX {path}");
            assert_eq!(
                whole.decode_stats().misses,
                blocks,
                "{bits}-bit, EAX {path}"
            );
            // Runs stopped after every instruction, or every other one
            // (at the side exits and just past them), end the same way.
            for budget in [1, 2, 3] {
                let split = run(budget);
                assert_eq!(split.cpu.gpr[3], want, "{bits} {path} {budget}");
                assert_eq!(split.cpu.instructions, retired, "{bits} {path} {budget}");
                assert_eq!(split.cpu.cycles, c.cycles, "{bits} {path} {budget}");
            }
        }
    }
}

/// Runs `code` (at `testutil::CODE`) to HLT with the GPR in slot `reg`
/// set to `value`, in runs of at most `budget` instructions.
fn run_split(bits: u32, code: &[u8], (reg, value): (usize, u64), budget: u64) -> crate::run::Vcpu {
    let mut v = crate::testutil::machine(bits);
    v.cpu.gpr[reg] = value;
    v.cpu.mmu.phys.write(crate::testutil::CODE, code);
    loop {
        match v.run(crate::run::Limit::instructions(budget)) {
            Exit::InstructionLimit => continue,
            x => {
                assert_eq!(
                    x,
                    Exit::Hlt,
                    "{bits}-bit, GPR {reg} = {value}, budget {budget}"
                );
                return v;
            }
        }
    }
}

#[test]
fn blocks_follow_jumps_and_loop_branches_within_their_page() {
    // In 64-bit code the block at the start follows the JMP and then the
    // backward JNZ to the loop body (not decoded yet): JMP, DEC, JNZ, ADD,
    // DEC, JNZ. Not taken, the first JNZ leaves it through a side exit; the
    // second JNZ, whose target is in the block already, ends it. 32-bit
    // code follows nothing. EAX counts the loop bodies run.
    let code = |bits| {
        crate::testutil::asm(bits, |a| {
            let mut body = a.create_label();
            let mut test = a.create_label();
            a.jmp(test)?;
            a.set_label(&mut body)?;
            a.add(eax, 2)?;
            a.set_label(&mut test)?;
            a.dec(ecx)?;
            a.jne(body)?;
            a.add(ebx, 100)
        })
    };
    // (ECX, instructions retired, blocks decoded in 64- and 32-bit code)
    let cases = [
        (1, 5, [2, 3]),
        (2, 8, [2, 4]),
        (3, 11, [3, 4]),
        (4, 14, [3, 4]),
    ];
    for (bits, b) in [(64, 0), (32, 1)] {
        let code = code(bits);
        for (count, retired, blocks) in cases {
            let whole = run_split(bits, &code, (1, count), u64::MAX);
            let c = &whole.cpu;
            assert_eq!(c.gpr[0], 2 * (count - 1), "{bits}-bit, ECX {count}");
            assert_eq!(c.gpr[3], 100, "{bits}-bit, ECX {count}");
            assert_eq!(c.instructions, retired, "{bits}-bit, ECX {count}");
            assert_eq!(
                whole.decode_stats().misses,
                blocks[b],
                "{bits}-bit, ECX {count}"
            );
            // Runs stopped anywhere (inside the followed path, at the side
            // exit, just past it) end the same way.
            for budget in [1, 2, 3, 4, 5] {
                let split = run_split(bits, &code, (1, count), budget);
                assert_eq!(split.cpu.gpr[0], c.gpr[0], "{bits} {count} {budget}");
                assert_eq!(split.cpu.instructions, retired, "{bits} {count} {budget}");
                assert_eq!(split.cpu.cycles, c.cycles, "{bits} {count} {budget}");
            }
        }
    }
}

#[test]
fn blocks_do_not_follow_branches_into_another_page() {
    // 0xFF0: add eax, 2; jmp 0x1000 | 0x1000: dec count; jnz 0xFF0; hlt.
    // Neither branch's target is in the page of its block's start: every
    // block ends at its branch (0x1000, 0xFF0, then 0x1004 for HLT).
    let mut mem = vec![0u8; 0x20];
    mem[..5].copy_from_slice(&[0x83, 0xC0, 0x02, 0xEB, 0x0B]);
    mem[0x10..0x15].copy_from_slice(&[0xFF, 0xC9, 0x75, 0xEC, 0xF4]);
    let mut v = crate::testutil::machine(64);
    v.cpu.gpr[1] = 2;
    v.cpu.mmu.phys.write(0xFF0, &mem);
    v.cpu.rip = 0x1000;
    assert_eq!(v.run(crate::run::Limit::instructions(100)), Exit::Hlt);
    assert_eq!(v.cpu.gpr[0], 2);
    assert_eq!(v.cpu.instructions, 7);
    assert_eq!(v.decode_stats().misses, 3);
}
