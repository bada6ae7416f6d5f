//! CPUID: the identity and feature set sysgate reports (SDM Vol. 2 CPUID).
//!
//! Only features sysgate implements are advertised, so software that
//! dispatches on CPUID (glibc's ifunc resolvers, for one) picks code paths
//! the emulator can run. Leaves beyond the maximum return zeros, as Intel
//! documents for AMD-style queries (Intel returns the highest basic leaf's
//! data; sysgate uses zeros for both vendors and says so here).

use crate::vendor::Vendor;

/// Highest basic leaf.
const MAX_BASIC: u32 = 7;
/// Highest extended leaf.
const MAX_EXTENDED: u32 = 0x8000_0008;

/// Leaf 1 EDX: FPU(0), PSE(3), TSC(4), MSR(5), PAE(6), CX8(8), SEP(11),
/// PGE(13), CMOV(15), PAT(16), CLFSH(19), MMX(23), FXSR(24), SSE(25),
/// SSE2(26). SSE3 and later (SSSE3, SSE4.x, AVX, XSAVE) are not advertised,
/// so glibc's and musl's dispatchers pick their SSE2 baselines.
const LEAF1_EDX: u32 = 1
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 8)
    | (1 << 11)
    | (1 << 13)
    | (1 << 15)
    | (1 << 16)
    | (1 << 19)
    | (1 << 23)
    | (1 << 24)
    | (1 << 25)
    | (1 << 26);
/// Leaf 1 ECX: CX16(13), POPCNT(23).
const LEAF1_ECX: u32 = (1 << 13) | (1 << 23);
/// Leaf 7 EBX: SMEP(7), SMAP(20).
const LEAF7_EBX: u32 = (1 << 7) | (1 << 20);
/// 0x8000_0001 EDX: SYSCALL(11), NX(20), Page1GB(26), RDTSCP(27), LM(29).
const EXT1_EDX: u32 = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
/// 0x8000_0001 ECX: LAHF/SAHF in 64-bit mode (0), LZCNT/ABM (5).
const EXT1_ECX: u32 = 1 | (1 << 5);

const BRAND: &[u8; 48] = b"sysgate virtual x86-64 processor\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

fn dword(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i * 4..i * 4 + 4]);
    u32::from_le_bytes(w)
}

/// EAX, EBX, ECX, EDX for `leaf` and `subleaf`.
pub fn query(vendor: Vendor, leaf: u32, subleaf: u32) -> [u32; 4] {
    let id = vendor.id_string();
    match leaf {
        0 => [MAX_BASIC, dword(id, 0), dword(id, 2), dword(id, 1)],
        // Family 6 model 0x5E stepping 3 (a Skylake signature) for Intel,
        // family 0x17 model 0x31 (Zen 2) for AMD.
        1 => {
            let sig = match vendor {
                Vendor::Intel => 0x0005_06E3,
                Vendor::Amd => 0x0083_0F10,
            };
            // EBX: CLFLUSH line size 8 (x 8 = 64 bytes) in bits 15-8, one
            // logical processor in bits 23-16.
            [sig, 0x0001_0800, LEAF1_ECX, LEAF1_EDX]
        }
        7 if subleaf == 0 => [0, LEAF7_EBX, 0, 0],
        0x8000_0000 => [MAX_EXTENDED, 0, 0, 0],
        0x8000_0001 => [0, 0, EXT1_ECX, EXT1_EDX],
        0x8000_0002..=0x8000_0004 => {
            let k = (leaf - 0x8000_0002) as usize * 4;
            [
                dword(BRAND, k),
                dword(BRAND, k + 1),
                dword(BRAND, k + 2),
                dword(BRAND, k + 3),
            ]
        }
        // Physical address bits 39, linear address bits 48.
        0x8000_0008 => [0x3027, 0, 0, 0],
        _ => [0; 4],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_string_is_in_ebx_edx_ecx() {
        let r = query(Vendor::Amd, 0, 0);
        let mut s = Vec::new();
        for v in [r[1], r[3], r[2]] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(&s, b"AuthenticAMD");
        assert_eq!(query(Vendor::Intel, 0x8000_0001, 0)[3] & (1 << 29), 1 << 29);
        assert_eq!(query(Vendor::Intel, 0x4000_0000, 0), [0; 4]);
    }

    #[test]
    fn leaf1_advertises_x87_mmx_fxsr_sse_sse2_only() {
        for v in [Vendor::Intel, Vendor::Amd] {
            let [_, ebx, ecx, edx] = query(v, 1, 0);
            for bit in [0, 19, 23, 24, 25, 26] {
                assert_ne!(edx & (1 << bit), 0, "EDX bit {bit}");
            }
            // CLFLUSH line size in 8-byte units: 64 bytes.
            assert_eq!((ebx >> 8) & 0xFF, 8);
            // SSE3(0), SSSE3(9), SSE4.1(19), SSE4.2(20), XSAVE(26),
            // OSXSAVE(27), AVX(28) are absent.
            for bit in [0, 9, 19, 20, 26, 27, 28] {
                assert_eq!(ecx & (1 << bit), 0, "ECX bit {bit}");
            }
            // Leaf 7: no AVX2 (EBX bit 5).
            assert_eq!(query(v, 7, 0)[1] & (1 << 5), 0);
        }
    }
}
