//! Hand-assembled trampoline that moves a [`Ctx`] into the processor, runs the
//! instruction under test, and moves the processor state back into the `Ctx`.
//!
//! The trampoline is built from a handful of fixed encodings rather than an
//! assembler crate; every encoding used is spelled out next to its emitter so
//! it can be checked against the Intel SDM (or `objdump -D -b binary -mi386:x86-64`).
//!
//! Layout of the code page:
//!
//! ```text
//! [prologue][instruction under test][epilogue]
//! ^ offset 0 ^ PROLOGUE_LEN          ^ PROLOGUE_LEN + insn.len()
//! ```
//!
//! The prologue is written once; the instruction and epilogue are rewritten
//! whenever the instruction bytes change.

use core::mem::offset_of;

/// Register numbers in x86 encoding order.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RSP: u8 = 4;
const RDI: u8 = 7;
const RBX: u8 = 3;
const RBP: u8 = 5;
const R12: u8 = 12;
const R13: u8 = 13;
const R14: u8 = 14;
const R15: u8 = 15;

/// SysV callee-saved registers, in push order.
const CALLEE_SAVED: [u8; 6] = [RBX, RBP, R12, R13, R14, R15];

/// Data exchanged between Rust and the trampoline. Lives in a dedicated scratch
/// page (never in the arena), at an address that is baked into the epilogue.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ctx {
    /// Guest GPRs, x86 encoding order. Loaded before and stored after the instruction.
    pub gpr: [u64; 16],
    /// Caller's flags, already masked to [`crate::FLAGS_MASK`].
    pub flags_in: u64,
    /// RFLAGS as captured by PUSHFQ right after the instruction (unmasked).
    pub flags_out: u64,
    /// Host RSP after the prologue's pushes; restored by the epilogue.
    pub host_rsp: u64,
    /// Host RFLAGS at entry; restored by the epilogue (DF=0 per the ABI).
    pub host_flags: u64,
    /// XMM0-XMM15: loaded before and stored after the instruction.
    pub xmm: [u128; 16],
    /// MM0-MM7: loaded before and stored after the instruction.
    pub mm: [u64; 8],
    /// MXCSR loaded before the instruction.
    pub mxcsr_in: u32,
    /// MXCSR stored after the instruction.
    pub mxcsr_out: u32,
    /// The host's MXCSR, saved by the prologue and restored by the epilogue.
    pub host_mxcsr: u32,
}

const GPR_OFF: i32 = offset_of!(Ctx, gpr) as i32;
const FLAGS_IN_OFF: i32 = offset_of!(Ctx, flags_in) as i32;
const FLAGS_OUT_OFF: i32 = offset_of!(Ctx, flags_out) as i32;
const HOST_RSP_OFF: i32 = offset_of!(Ctx, host_rsp) as i32;
const HOST_FLAGS_OFF: i32 = offset_of!(Ctx, host_flags) as i32;
const XMM_OFF: i32 = offset_of!(Ctx, xmm) as i32;
const MM_OFF: i32 = offset_of!(Ctx, mm) as i32;
const MXCSR_IN_OFF: i32 = offset_of!(Ctx, mxcsr_in) as i32;
const MXCSR_OUT_OFF: i32 = offset_of!(Ctx, mxcsr_out) as i32;
const HOST_MXCSR_OFF: i32 = offset_of!(Ctx, host_mxcsr) as i32;

/// Byte offset of GPR `reg` inside [`Ctx`].
const fn gpr_off(reg: u8) -> i32 {
    GPR_OFF + 8 * reg as i32
}

/// Minimal emitter for the few instruction forms the trampoline needs.
#[derive(Default)]
struct Emitter {
    buf: Vec<u8>,
}

impl Emitter {
    /// `REX.W op /r` with a `[base + disp32]` memory operand (mod=10), adding the
    /// SIB byte `0x24` that RSP/R12 as a base require.
    fn rm_disp32(&mut self, opcode: u8, reg: u8, base: u8, disp: i32) {
        let rex = 0x48 | ((reg >> 3) << 2) | (base >> 3);
        let modrm = 0x80 | ((reg & 7) << 3) | (base & 7);
        self.buf.extend_from_slice(&[rex, opcode, modrm]);
        if base & 7 == 4 {
            self.buf.push(0x24);
        }
        self.buf.extend_from_slice(&disp.to_le_bytes());
    }

    /// `mov dst, qword [base + disp32]` (REX.W 8B /r). Does not touch RFLAGS.
    fn load(&mut self, dst: u8, base: u8, disp: i32) {
        self.rm_disp32(0x8B, dst, base, disp);
    }

    /// `mov qword [base + disp32], src` (REX.W 89 /r). Does not touch RFLAGS.
    fn store(&mut self, base: u8, disp: i32, src: u8) {
        self.rm_disp32(0x89, src, base, disp);
    }

    /// `[prefix] REX 0F op /r` with a `[base + disp32]` memory operand and no
    /// REX.W: the SSE forms. REX is always emitted (0x40 when no bit is
    /// needed), which the processor accepts for these opcodes.
    fn sse_rm_disp32(&mut self, prefix: Option<u8>, op: u8, reg: u8, base: u8, disp: i32) {
        if let Some(p) = prefix {
            self.buf.push(p);
        }
        let rex = 0x40 | ((reg >> 3) << 2) | (base >> 3);
        let modrm = 0x80 | ((reg & 7) << 3) | (base & 7);
        self.buf.extend_from_slice(&[rex, 0x0F, op, modrm]);
        if base & 7 == 4 {
            self.buf.push(0x24);
        }
        self.buf.extend_from_slice(&disp.to_le_bytes());
    }

    /// `movdqu xmm, [base + disp32]` (F3 0F 6F /r). Does not touch RFLAGS.
    fn load_xmm(&mut self, xmm: u8, base: u8, disp: i32) {
        self.sse_rm_disp32(Some(0xF3), 0x6F, xmm, base, disp);
    }

    /// `movdqu [base + disp32], xmm` (F3 0F 7F /r).
    fn store_xmm(&mut self, base: u8, disp: i32, xmm: u8) {
        self.sse_rm_disp32(Some(0xF3), 0x7F, xmm, base, disp);
    }

    /// `movq mm, [base + disp32]` (0F 6F /r). Does not touch RFLAGS.
    fn load_mm(&mut self, mm: u8, base: u8, disp: i32) {
        self.sse_rm_disp32(None, 0x6F, mm, base, disp);
    }

    /// `movq [base + disp32], mm` (0F 7F /r).
    fn store_mm(&mut self, base: u8, disp: i32, mm: u8) {
        self.sse_rm_disp32(None, 0x7F, mm, base, disp);
    }

    /// `emms` (0F 77): every x87 tag empty again, as the ABI requires.
    fn emms(&mut self) {
        self.buf.extend_from_slice(&[0x0F, 0x77]);
    }

    /// `ldmxcsr [base + disp32]` (0F AE /2). Does not touch RFLAGS.
    fn ldmxcsr(&mut self, base: u8, disp: i32) {
        self.sse_rm_disp32(None, 0xAE, 2, base, disp);
    }

    /// `stmxcsr [base + disp32]` (0F AE /3).
    fn stmxcsr(&mut self, base: u8, disp: i32) {
        self.sse_rm_disp32(None, 0xAE, 3, base, disp);
    }

    /// `push r64` (50+r, REX.B for r8..r15).
    fn push(&mut self, reg: u8) {
        if reg >= 8 {
            self.buf.push(0x41);
        }
        self.buf.push(0x50 | (reg & 7));
    }

    /// `pop r64` (58+r, REX.B for r8..r15).
    fn pop(&mut self, reg: u8) {
        if reg >= 8 {
            self.buf.push(0x41);
        }
        self.buf.push(0x58 | (reg & 7));
    }

    /// `pushfq` (9C).
    fn pushfq(&mut self) {
        self.buf.push(0x9C);
    }

    /// `popfq` (9D).
    fn popfq(&mut self) {
        self.buf.push(0x9D);
    }

    /// `and rax, imm32` sign-extended (REX.W 25 id).
    fn and_rax_imm32(&mut self, imm: i32) {
        self.buf.extend_from_slice(&[0x48, 0x25]);
        self.buf.extend_from_slice(&imm.to_le_bytes());
    }

    /// `or rax, qword [base + disp32]` (REX.W 0B /r).
    fn or_rax_mem(&mut self, base: u8, disp: i32) {
        self.rm_disp32(0x0B, RAX, base, disp);
    }

    /// `push qword [rax + disp32]` (FF /6, 64-bit operand by default).
    fn push_mem_rax(&mut self, disp: i32) {
        self.buf.extend_from_slice(&[0xFF, 0x80 | (6 << 3) | RAX]);
        self.buf.extend_from_slice(&disp.to_le_bytes());
    }

    /// `mov qword [moffs64], rax` (REX.W A3 io). The only way to store a
    /// register to memory without any other register holding an address.
    fn store_rax_abs(&mut self, addr: u64) {
        self.buf.extend_from_slice(&[0x48, 0xA3]);
        self.buf.extend_from_slice(&addr.to_le_bytes());
    }

    /// `mov rax, imm64` (REX.W B8 io).
    fn mov_rax_imm64(&mut self, imm: u64) {
        self.buf.extend_from_slice(&[0x48, 0xB8]);
        self.buf.extend_from_slice(&imm.to_le_bytes());
    }

    /// `cld` (FC).
    fn cld(&mut self) {
        self.buf.push(0xFC);
    }

    /// `ret` (C3).
    fn ret(&mut self) {
        self.buf.push(0xC3);
    }
}

/// Builds the prologue. Entered as `extern "sysv64" fn(ctx: *mut Ctx)`, so RDI
/// holds the `Ctx` pointer.
///
/// 1. Save callee-saved registers on the host stack, then the host RSP into `Ctx`.
/// 2. PUSHFQ the host flags, keep a copy in `Ctx`, replace the bits in
///    [`crate::FLAGS_MASK`] with `ctx.flags_in`, POPFQ. From here on only MOVs
///    run until the instruction under test, so the loaded flags reach it intact.
/// 3. Load all 16 GPRs from `Ctx`, RDI (the base pointer) last.
pub(crate) fn prologue() -> Vec<u8> {
    let mut e = Emitter::default();
    for reg in CALLEE_SAVED {
        e.push(reg);
    }
    e.store(RDI, HOST_RSP_OFF, RSP);

    e.pushfq();
    e.pop(RAX);
    e.store(RDI, HOST_FLAGS_OFF, RAX);
    // !FLAGS_MASK fits in a sign-extended imm32 (all high bits set).
    e.and_rax_imm32(!(crate::FLAGS_MASK as u32) as i32);
    e.or_rax_mem(RDI, FLAGS_IN_OFF);
    e.push(RAX);
    e.popfq();

    // SSE state: save the host MXCSR, load the caller's, then XMM0-15.
    e.stmxcsr(RDI, HOST_MXCSR_OFF);
    e.ldmxcsr(RDI, MXCSR_IN_OFF);
    for x in 0..16u8 {
        e.load_xmm(x, RDI, XMM_OFF + 16 * x as i32);
    }
    for m in 0..8u8 {
        e.load_mm(m, RDI, MM_OFF + 8 * m as i32);
    }

    for reg in (0..16u8).filter(|&r| r != RDI) {
        e.load(reg, RDI, gpr_off(reg));
    }
    e.load(RDI, RDI, gpr_off(RDI));
    e.buf
}

/// Builds the epilogue for a `Ctx` at the fixed address `ctx_addr`.
///
/// Every GPR holds a guest value here, so RAX is first spilled with an absolute
/// store, then reloaded with the `Ctx` address and used as the base for the
/// other stores. Only then is RSP switched back to the host stack, where PUSHFQ
/// captures the flags — the guest stack (arena) is never written by the harness.
/// Finally the host flags (DF=0) and callee-saved registers are restored.
pub(crate) fn epilogue(ctx_addr: u64) -> Vec<u8> {
    let mut e = Emitter::default();
    e.store_rax_abs(ctx_addr + gpr_off(RAX) as u64);
    e.mov_rax_imm64(ctx_addr);
    for reg in 1..16u8 {
        e.store(RAX, gpr_off(reg), reg);
    }
    for x in 0..16u8 {
        e.store_xmm(RAX, XMM_OFF + 16 * x as i32, x);
    }
    for m in 0..8u8 {
        e.store_mm(RAX, MM_OFF + 8 * m as i32, m);
    }
    e.emms();
    e.stmxcsr(RAX, MXCSR_OUT_OFF);
    e.ldmxcsr(RAX, HOST_MXCSR_OFF);
    e.load(RSP, RAX, HOST_RSP_OFF);
    e.pushfq();
    e.pop(RCX);
    e.store(RAX, FLAGS_OUT_OFF, RCX);
    e.push_mem_rax(HOST_FLAGS_OFF);
    e.popfq();
    e.cld();
    for reg in CALLEE_SAVED.iter().rev() {
        e.pop(*reg);
    }
    e.ret();
    e.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_reference_bytes() {
        let mut e = Emitter::default();
        e.load(RSP, RDI, 32); // mov rsp, [rdi+0x20]
        e.store(RAX, 96, R12); // mov [rax+0x60], r12
        e.load(R13, R12, 8); // mov r13, [r12+8]
        e.store(RDI, 0, RSP); // mov [rdi+0], rsp
        e.push(R15);
        e.pop(RBX);
        e.push_mem_rax(0x98); // push qword [rax+0x98]
        e.or_rax_mem(RDI, 0x80); // or rax, [rdi+0x80]
        assert_eq!(
            e.buf,
            [
                0x48, 0x8B, 0xA7, 0x20, 0, 0, 0, // mov rsp, [rdi+0x20]
                0x4C, 0x89, 0xA0, 0x60, 0, 0, 0, // mov [rax+0x60], r12
                0x4D, 0x8B, 0xAC, 0x24, 0x08, 0, 0, 0, // mov r13, [r12+8]
                0x48, 0x89, 0xA7, 0, 0, 0, 0, // mov [rdi], rsp
                0x41, 0x57, // push r15
                0x5B, // pop rbx
                0xFF, 0xB0, 0x98, 0, 0, 0, // push qword [rax+0x98]
                0x48, 0x0B, 0x87, 0x80, 0, 0, 0, // or rax, [rdi+0x80]
            ]
        );
    }

    #[test]
    fn sse_encodings_match_reference_bytes() {
        let mut e = Emitter::default();
        e.load_xmm(9, RDI, 0x90); // movdqu xmm9, [rdi+0x90]
        e.store_xmm(RAX, 0x100, 3); // movdqu [rax+0x100], xmm3
        e.ldmxcsr(RDI, 8); // ldmxcsr [rdi+8]
        e.stmxcsr(R12, 4); // stmxcsr [r12+4]
        assert_eq!(
            e.buf,
            [
                0xF3, 0x44, 0x0F, 0x6F, 0x8F, 0x90, 0, 0, 0, // movdqu xmm9, [rdi+0x90]
                0xF3, 0x40, 0x0F, 0x7F, 0x98, 0x00, 0x01, 0, 0, // movdqu [rax+0x100], xmm3
                0x40, 0x0F, 0xAE, 0x97, 8, 0, 0, 0, // ldmxcsr [rdi+8]
                0x41, 0x0F, 0xAE, 0x9C, 0x24, 4, 0, 0, 0, // stmxcsr [r12+4]
            ]
        );
    }

    #[test]
    fn flag_mask_immediate_sign_extends_correctly() {
        let imm = !(crate::FLAGS_MASK as u32) as i32;
        assert_eq!(imm as i64 as u64, !crate::FLAGS_MASK);
    }

    #[test]
    fn epilogue_spills_rax_to_absolute_address() {
        let code = epilogue(0x1122_3344_5566_7788);
        assert_eq!(
            &code[..10],
            &[0x48, 0xA3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(code.last(), Some(&0xC3));
    }
}
