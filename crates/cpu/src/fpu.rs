//! x87 FPU, MMX and SSE register state (SDM Vol. 1 §8.1, §9.2, §10.2).
//!
//! The state lives in one struct so FXSAVE/FXRSTOR, context switches in the
//! kernel model and signal frames all see the same layout. Instruction
//! semantics live in the `insn` families (`sse`, `x87`); this module only
//! holds the registers, their reset values and the legacy FXSAVE image.

/// An 80-bit x87 register value: a 64-bit significand (with its explicit
/// integer bit 63) and a 16-bit sign-and-exponent word (sign in bit 15,
/// biased exponent in bits 0-14), as in the double-extended format (SDM
/// Vol. 1 §4.2.2). Stored raw so every bit pattern, including unnormals
/// and pseudo-denormals, survives a save and restore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct F80 {
    /// Significand, integer bit in bit 63.
    pub signif: u64,
    /// Sign (bit 15) and biased exponent (bits 0-14).
    pub sign_exp: u16,
}

impl F80 {
    /// The value's ten bytes in memory order (significand first).
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.signif.to_le_bytes());
        b[8..].copy_from_slice(&self.sign_exp.to_le_bytes());
        b
    }

    /// The value stored in `b` (memory order).
    pub fn from_bytes(b: &[u8; 10]) -> F80 {
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[..8]);
        F80 {
            signif: u64::from_le_bytes(s),
            sign_exp: u16::from_le_bytes([b[8], b[9]]),
        }
    }
}

/// The x87, MMX and SSE registers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FpuState {
    /// XMM0-XMM15 (XMM8-15 exist only in 64-bit mode).
    pub xmm: [u128; 16],
    /// MXCSR: SSE control and status.
    pub mxcsr: u32,
    /// Physical x87 registers R0-R7 (ST(i) is `st[(TOP + i) & 7]`); MMX
    /// registers MM0-MM7 alias the significands of R0-R7.
    pub st: [F80; 8],
    /// x87 control word.
    pub fcw: u16,
    /// x87 status word, TOP in bits 11-13.
    pub fsw: u16,
    /// Full x87 tag word, two bits per physical register (00 valid,
    /// 01 zero, 10 special, 11 empty).
    pub ftw: u16,
    /// Last x87 opcode (11 bits).
    pub fop: u16,
    /// Last x87 instruction pointer (offset) and its CS selector.
    pub fip: u64,
    /// CS selector of the last x87 instruction.
    pub fcs: u16,
    /// Last x87 data pointer (offset) and its DS selector.
    pub fdp: u64,
    /// Selector of the last x87 data operand.
    pub fds: u16,
}

/// MXCSR after RESET and after FNINIT-style initialization: all exceptions
/// masked, round to nearest (SDM Vol. 1 §10.2.3.1).
pub const MXCSR_DEFAULT: u32 = 0x1F80;
/// The MXCSR bits that may be set (no DAZ-less processors are modeled:
/// MXCSR_MASK reports DAZ, bit 6, as supported).
pub const MXCSR_MASK: u32 = 0xFFFF;
/// x87 control word after FNINIT (SDM Vol. 1 §8.1.5).
pub const FCW_DEFAULT: u16 = 0x037F;

impl Default for FpuState {
    fn default() -> FpuState {
        FpuState {
            xmm: [0; 16],
            mxcsr: MXCSR_DEFAULT,
            st: [F80::default(); 8],
            fcw: FCW_DEFAULT,
            fsw: 0,
            ftw: 0xFFFF,
            fop: 0,
            fip: 0,
            fcs: 0,
            fdp: 0,
            fds: 0,
        }
    }
}

impl FpuState {
    /// Size of the legacy FXSAVE area in bytes.
    pub const FXSAVE_SIZE: usize = 512;

    /// TOP: the physical register that is ST(0).
    pub fn top(&self) -> usize {
        usize::from((self.fsw >> 11) & 7)
    }

    /// The abridged tag byte FXSAVE stores: bit i set when physical
    /// register i is not empty (SDM Vol. 1 §10.5.1.1).
    pub fn abridged_tag(&self) -> u8 {
        (0..8).fold(0u8, |t, i| {
            if (self.ftw >> (2 * i)) & 3 != 3 {
                t | (1 << i)
            } else {
                t
            }
        })
    }

    /// The full two-bit tag for physical register `i` computed from its
    /// contents, as FXRSTOR rebuilds it from the abridged tag (SDM Vol. 2
    /// FXRSTOR, FSTENV): 01 zero, 10 special (NaN, infinity, denormal,
    /// unsupported), 00 valid.
    pub fn tag_from_contents(r: F80) -> u16 {
        let exp = r.sign_exp & 0x7FFF;
        let j = r.signif >> 63;
        match (exp, j) {
            (0, 0) if r.signif == 0 => 1,
            (0x7FFF, _) => 2,
            (0, _) => 2,
            (_, 0) => 2,
            _ => 0,
        }
    }

    /// The 64-bit-mode FXSAVE image (REX.W form: 64-bit FIP/FDP), with
    /// `xmm_count` XMM registers (16 in 64-bit mode, 8 otherwise).
    /// The 32-bit form stores FCS/FDS beside 32-bit offsets; `wide`
    /// selects between the two.
    pub fn fxsave_image(&self, wide: bool, xmm_count: usize) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[0..2].copy_from_slice(&self.fcw.to_le_bytes());
        b[2..4].copy_from_slice(&self.fsw.to_le_bytes());
        b[4] = self.abridged_tag();
        b[6..8].copy_from_slice(&self.fop.to_le_bytes());
        if wide {
            b[8..16].copy_from_slice(&self.fip.to_le_bytes());
            b[16..24].copy_from_slice(&self.fdp.to_le_bytes());
        } else {
            b[8..12].copy_from_slice(&(self.fip as u32).to_le_bytes());
            b[12..14].copy_from_slice(&self.fcs.to_le_bytes());
            b[16..20].copy_from_slice(&(self.fdp as u32).to_le_bytes());
            b[20..22].copy_from_slice(&self.fds.to_le_bytes());
        }
        b[24..28].copy_from_slice(&self.mxcsr.to_le_bytes());
        b[28..32].copy_from_slice(&MXCSR_MASK.to_le_bytes());
        // ST0-ST7 in stack order (ST(i), not physical Ri), 16 bytes each.
        for i in 0..8 {
            let r = self.st[(self.top() + i) & 7];
            b[32 + 16 * i..42 + 16 * i].copy_from_slice(&r.to_bytes());
        }
        for i in 0..xmm_count.min(16) {
            b[160 + 16 * i..176 + 16 * i].copy_from_slice(&self.xmm[i].to_le_bytes());
        }
        b
    }

    /// Loads an FXSAVE image (the inverse of [`FpuState::fxsave_image`]).
    /// Returns `false`, changing nothing, when the image's MXCSR sets a
    /// reserved bit (FXRSTOR then raises #GP).
    pub fn fxrstor_image(&mut self, b: &[u8; 512], wide: bool, xmm_count: usize) -> bool {
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let mxcsr = u32_at(24);
        if mxcsr & !MXCSR_MASK != 0 {
            return false;
        }
        self.fcw = u16_at(0);
        self.fsw = u16_at(2);
        let tag = b[4];
        self.fop = u16_at(6) & 0x7FF;
        if wide {
            self.fip = u64::from(u32_at(8)) | (u64::from(u32_at(12)) << 32);
            self.fdp = u64::from(u32_at(16)) | (u64::from(u32_at(20)) << 32);
        } else {
            self.fip = u64::from(u32_at(8));
            self.fcs = u16_at(12);
            self.fdp = u64::from(u32_at(16));
            self.fds = u16_at(20);
        }
        self.mxcsr = mxcsr;
        let top = self.top();
        for i in 0..8 {
            let mut v = [0u8; 10];
            v.copy_from_slice(&b[32 + 16 * i..42 + 16 * i]);
            self.st[(top + i) & 7] = F80::from_bytes(&v);
        }
        let mut ftw = 0u16;
        for r in 0..8 {
            let t = if tag & (1 << r) == 0 {
                3
            } else {
                Self::tag_from_contents(self.st[r])
            };
            ftw |= t << (2 * r);
        }
        self.ftw = ftw;
        for i in 0..xmm_count.min(16) {
            let mut v = [0u8; 16];
            v.copy_from_slice(&b[160 + 16 * i..176 + 16 * i]);
            self.xmm[i] = u128::from_le_bytes(v);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_values_follow_the_sdm() {
        let f = FpuState::default();
        assert_eq!(f.mxcsr, 0x1F80);
        assert_eq!(f.fcw, 0x037F);
        assert_eq!(f.ftw, 0xFFFF);
        assert_eq!(f.abridged_tag(), 0);
    }

    #[test]
    fn fxsave_image_round_trips() {
        let mut f = FpuState {
            fsw: 3 << 11,
            ..FpuState::default()
        };
        // 1.0 in ST(0) = physical R3; everything else empty.
        f.st[3] = F80 {
            signif: 1 << 63,
            sign_exp: 0x3FFF,
        };
        f.ftw = !(3u16 << 6);
        f.xmm[15] = 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF;
        f.fip = 0x1234_5678_9ABC;
        let img = f.fxsave_image(true, 16);
        assert_eq!(img[4], 1 << 3);
        assert_eq!(&img[32..42], &[0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F]);
        let mut g = FpuState::default();
        assert!(g.fxrstor_image(&img, true, 16));
        assert_eq!(g, f);
        let mut bad = img;
        bad[26] = 1; // MXCSR bit 16: reserved
        assert!(!g.fxrstor_image(&bad, true, 16));
        assert_eq!(g, f);
    }

    #[test]
    fn tags_from_contents() {
        let t = FpuState::tag_from_contents;
        assert_eq!(t(F80::default()), 1);
        assert_eq!(
            t(F80 {
                signif: 1 << 63,
                sign_exp: 0x3FFF
            }),
            0
        );
        assert_eq!(
            t(F80 {
                signif: 1 << 63,
                sign_exp: 0x7FFF
            }),
            2
        );
        assert_eq!(
            t(F80 {
                signif: 1,
                sign_exp: 0
            }),
            2
        );
        assert_eq!(
            t(F80 {
                signif: 1,
                sign_exp: 1
            }),
            2
        );
    }
}
