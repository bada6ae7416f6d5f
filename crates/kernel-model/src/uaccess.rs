//! The boundary between the kernel model and guest (user) memory.
//!
//! Every pointer a system call receives is guest-controlled. Handlers never
//! touch guest memory directly: they go through [`UserMemory`], which the
//! machine layer implements over the emulated MMU (page walk with user
//! privilege, so kernel-half and unmapped addresses fail). The helpers here
//! give Linux's `copy_from_user`/`copy_to_user`/`strncpy_from_user`
//! semantics: a bad address is `-EFAULT`, never a panic, and no helper
//! allocates an amount of host memory chosen by the guest beyond the fixed
//! limits named here (`PATH_MAX`, `UIO_MAXIOV`).

use crate::abi::Abi;
use crate::errno::Errno;

/// A failed guest-memory access: some byte of the range is not accessible
/// from user mode (unmapped, kernel-only, read-only for a write, or the range
/// wraps around the address space).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("bad user address")]
pub struct Efault;

impl From<Efault> for Errno {
    fn from(_: Efault) -> Errno {
        Errno::EFAULT
    }
}

/// Guest virtual memory as seen by a system call made from user mode.
///
/// The machine layer implements this over the emulated MMU with user-mode
/// permission checks. An access either completes entirely or fails with
/// [`Efault`]; on failure, bytes already written may stay written (as with
/// Linux's `copy_to_user`, which reports how much it could not copy).
pub trait UserMemory {
    /// Copies `buf.len()` bytes from guest address `addr` into `buf`.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Efault>;
    /// Copies `data` to guest address `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Efault>;
}

impl<T: UserMemory + ?Sized> UserMemory for &mut T {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Efault> {
        (**self).read(addr, buf)
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Efault> {
        (**self).write(addr, data)
    }
}

/// `PATH_MAX`: the longest path a system call accepts, including its NUL.
pub const PATH_MAX: usize = 4096;
/// `UIO_MAXIOV`: the most `iovec`s `readv`/`writev` accept.
pub const UIO_MAXIOV: u64 = 1024;
/// `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`): the most bytes one read or write
/// transfers; larger requests are clamped, as `rw_verify_area` does.
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Size of the chunks in which the helpers move data (bounds host memory
/// used per call whatever length the guest asks for).
pub const CHUNK: usize = 64 * 1024;
const PAGE: u64 = 4096;

/// The length of the next piece of a transfer of `left` bytes at guest
/// address `addr`: at most [`CHUNK`] bytes and never across a page
/// boundary, so a fault on a later page still lets the bytes of earlier
/// pages count (Linux copies page by page and returns the partial count).
pub fn user_chunk(addr: u64, left: u64) -> usize {
    let to_page_end = PAGE - (addr % PAGE);
    left.min(to_page_end).min(CHUNK as u64) as usize
}

/// Reads a NUL-terminated string of at most `max` bytes including the NUL
/// (`strncpy_from_user` + `getname` semantics): `EFAULT` if a byte before
/// the NUL is inaccessible, `ENAMETOOLONG` if no NUL is found within `max`
/// bytes. The result excludes the NUL.
pub fn read_cstr(mem: &mut dyn UserMemory, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut cur = addr;
    while out.len() < max {
        // Read up to the end of the current page, so a string ending just
        // before an unmapped page is still readable.
        let in_page = PAGE - (cur % PAGE);
        let want = usize::try_from(in_page)
            .unwrap_or(usize::MAX)
            .min(max - out.len())
            .min(256);
        let mut chunk = [0u8; 256];
        let buf = chunk.get_mut(..want).ok_or(Errno::EFAULT)?;
        if mem.read(cur, buf).is_err() {
            // The fake memories used in tests may end mid-page: fall back to
            // single bytes so the string is read up to the first bad byte.
            for i in 0..want {
                let a = cur.checked_add(i as u64).ok_or(Errno::EFAULT)?;
                let mut b = [0u8; 1];
                mem.read(a, &mut b)?;
                if b[0] == 0 {
                    return Ok(out);
                }
                out.push(b[0]);
            }
        } else if let Some(nul) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(buf.get(..nul).unwrap_or_default());
            return Ok(out);
        } else {
            out.extend_from_slice(buf);
        }
        cur = cur.checked_add(want as u64).ok_or(Errno::EFAULT)?;
    }
    Err(Errno::ENAMETOOLONG)
}

/// Reads a path argument (`getname`): at most [`PATH_MAX`] bytes with NUL.
pub fn read_path(mem: &mut dyn UserMemory, addr: u64) -> Result<Vec<u8>, Errno> {
    read_cstr(mem, addr, PATH_MAX)
}

/// Reads a little-endian `u16`.
pub fn read_u16(mem: &mut dyn UserMemory, addr: u64) -> Result<u16, Efault> {
    let mut b = [0u8; 2];
    mem.read(addr, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

/// Reads a little-endian `u32`.
pub fn read_u32(mem: &mut dyn UserMemory, addr: u64) -> Result<u32, Efault> {
    let mut b = [0u8; 4];
    mem.read(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Reads a little-endian `u64`.
pub fn read_u64(mem: &mut dyn UserMemory, addr: u64) -> Result<u64, Efault> {
    let mut b = [0u8; 8];
    mem.read(addr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Reads an `unsigned long` (or pointer) of the ABI's width, zero-extended.
pub fn read_ulong(mem: &mut dyn UserMemory, abi: Abi, addr: u64) -> Result<u64, Efault> {
    match abi {
        Abi::X86_64 => read_u64(mem, addr),
        Abi::I386 => read_u32(mem, addr).map(u64::from),
    }
}

/// Reads a signed `long` of the ABI's width, sign-extended.
pub fn read_long(mem: &mut dyn UserMemory, abi: Abi, addr: u64) -> Result<i64, Efault> {
    match abi {
        Abi::X86_64 => read_u64(mem, addr).map(|v| v as i64),
        Abi::I386 => read_u32(mem, addr).map(|v| i64::from(v as i32)),
    }
}

/// Writes a little-endian `u32`.
pub fn write_u32(mem: &mut dyn UserMemory, addr: u64, v: u32) -> Result<(), Efault> {
    mem.write(addr, &v.to_le_bytes())
}

/// Writes a little-endian `i32`.
pub fn write_i32(mem: &mut dyn UserMemory, addr: u64, v: i32) -> Result<(), Efault> {
    mem.write(addr, &v.to_le_bytes())
}

/// Writes a little-endian `u64`.
pub fn write_u64(mem: &mut dyn UserMemory, addr: u64, v: u64) -> Result<(), Efault> {
    mem.write(addr, &v.to_le_bytes())
}

/// Writes a `long` of the ABI's width (truncated to 32 bits on i386).
pub fn write_long(mem: &mut dyn UserMemory, abi: Abi, addr: u64, v: i64) -> Result<(), Efault> {
    match abi {
        Abi::X86_64 => write_u64(mem, addr, v as u64),
        Abi::I386 => write_u32(mem, addr, v as u32),
    }
}

/// Reads `count` consecutive little-endian `u32`s. `count` must be small
/// (callers pass fixed limits, never raw guest lengths).
pub fn read_u32_array(
    mem: &mut dyn UserMemory,
    addr: u64,
    count: usize,
) -> Result<Vec<u32>, Efault> {
    let len = count.checked_mul(4).ok_or(Efault)?;
    let mut buf = vec![0u8; len];
    mem.read(addr, &mut buf)?;
    Ok(buf
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Reads `count` consecutive `unsigned long`s of the ABI's width.
pub fn read_ulong_array(
    mem: &mut dyn UserMemory,
    abi: Abi,
    addr: u64,
    count: usize,
) -> Result<Vec<u64>, Efault> {
    let size = abi.ptr_size();
    let len = count.checked_mul(size).ok_or(Efault)?;
    let mut buf = vec![0u8; len];
    mem.read(addr, &mut buf)?;
    Ok(buf
        .chunks_exact(size)
        .map(|c| {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(c) {
                *d = *s;
            }
            u64::from_le_bytes(b)
        })
        .collect())
}

/// Zeroes `len` bytes of guest memory (`clear_user`), in chunks.
pub fn clear_user(mem: &mut dyn UserMemory, addr: u64, len: u64) -> Result<(), Efault> {
    let zeros = [0u8; 4096];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(zeros.len() as u64);
        let a = addr.checked_add(done).ok_or(Efault)?;
        mem.write(a, zeros.get(..n as usize).ok_or(Efault)?)?;
        done += n;
    }
    Ok(())
}

/// One `struct iovec` (`{ void *iov_base; size_t iov_len; }`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoVec {
    /// `iov_base`: guest address of the segment.
    pub base: u64,
    /// `iov_len`: length of the segment in bytes.
    pub len: u64,
}

/// Reads an `iovec` array as `readv`/`writev` do (`import_iovec`): 16-byte
/// entries on x86_64, 8-byte entries on i386. `count` above [`UIO_MAXIOV`]
/// is `EINVAL`; a total length that overflows `ssize_t` is `EINVAL`; the
/// total is clamped to [`MAX_RW_COUNT`] by shortening the last segments.
pub fn read_iovecs(
    mem: &mut dyn UserMemory,
    abi: Abi,
    addr: u64,
    count: u64,
) -> Result<Vec<IoVec>, Errno> {
    if count > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let n = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    let words = read_ulong_array(mem, abi, addr, n.checked_mul(2).ok_or(Errno::EINVAL)?)?;
    let mut out = Vec::with_capacity(n);
    let mut total: u64 = 0;
    for pair in words.chunks_exact(2) {
        let (base, len) = (pair[0], pair[1]);
        // A segment length above SSIZE_MAX is EINVAL (signed check).
        if abi.long(len) < 0 {
            return Err(Errno::EINVAL);
        }
        let room = MAX_RW_COUNT - total;
        let len = len.min(room);
        total += len;
        out.push(IoVec { base, len });
    }
    Ok(out)
}

/// A region of [`VecMemory`].
#[derive(Clone, Debug)]
struct Region {
    base: u64,
    data: Vec<u8>,
    writable: bool,
}

/// A [`UserMemory`] over plain host vectors, for tests and for embedders
/// that need no MMU: a set of non-overlapping regions, each readable and
/// optionally writable. Any byte outside every region faults.
#[derive(Clone, Debug, Default)]
pub struct VecMemory {
    regions: Vec<Region>,
}

impl VecMemory {
    /// An empty address space (every access faults).
    pub fn new() -> VecMemory {
        VecMemory::default()
    }

    /// An address space with one writable zeroed region `[base, base+size)`.
    pub fn with_region(base: u64, size: usize) -> VecMemory {
        let mut m = VecMemory::new();
        m.map(base, size, true);
        m
    }

    /// Adds a zeroed region. Overlapping an existing region, or wrapping
    /// past the end of the address space, leaves the memory unchanged and
    /// returns false.
    pub fn map(&mut self, base: u64, size: usize, writable: bool) -> bool {
        let Some(end) = base.checked_add(size as u64) else {
            return false;
        };
        if self
            .regions
            .iter()
            .any(|r| base < r.base + r.data.len() as u64 && r.base < end)
        {
            return false;
        }
        self.regions.push(Region {
            base,
            data: vec![0; size],
            writable,
        });
        true
    }

    fn locate(&self, addr: u64) -> Option<(usize, usize)> {
        self.regions.iter().enumerate().find_map(|(i, r)| {
            let off = addr.checked_sub(r.base)?;
            let off = usize::try_from(off).ok()?;
            (off < r.data.len()).then_some((i, off))
        })
    }

    /// Host-side read for test assertions (bypasses write protection).
    pub fn peek(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, Efault> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Host-side write for test setup (bypasses write protection).
    pub fn poke(&mut self, addr: u64, data: &[u8]) -> Result<(), Efault> {
        self.copy_in(addr, data, true)
    }

    fn copy_in(&mut self, addr: u64, data: &[u8], force: bool) -> Result<(), Efault> {
        // Check the whole range first so a faulting write changes nothing.
        let mut cur = addr;
        let mut left = data.len();
        while left > 0 {
            let (i, off) = self.locate(cur).ok_or(Efault)?;
            let r = self.regions.get(i).ok_or(Efault)?;
            if !r.writable && !force {
                return Err(Efault);
            }
            let n = (r.data.len() - off).min(left);
            cur = cur.checked_add(n as u64).ok_or(Efault)?;
            left -= n;
        }
        let mut cur = addr;
        let mut src = data;
        while !src.is_empty() {
            let (i, off) = self.locate(cur).ok_or(Efault)?;
            let r = self.regions.get_mut(i).ok_or(Efault)?;
            let n = (r.data.len() - off).min(src.len());
            let (head, tail) = src.split_at(n);
            r.data
                .get_mut(off..off + n)
                .ok_or(Efault)?
                .copy_from_slice(head);
            src = tail;
            cur = cur.wrapping_add(n as u64);
        }
        Ok(())
    }
}

impl UserMemory for VecMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Efault> {
        let mut cur = addr;
        let mut dst = &mut buf[..];
        while !dst.is_empty() {
            let (i, off) = self.locate(cur).ok_or(Efault)?;
            let r = self.regions.get(i).ok_or(Efault)?;
            let n = (r.data.len() - off).min(dst.len());
            let (head, tail) = std::mem::take(&mut dst).split_at_mut(n);
            head.copy_from_slice(r.data.get(off..off + n).ok_or(Efault)?);
            dst = tail;
            cur = cur.checked_add(n as u64).ok_or(Efault)?;
        }
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Efault> {
        self.copy_in(addr, data, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_memory_faults_outside_regions() {
        let mut m = VecMemory::with_region(0x1000, 0x100);
        assert!(m.write(0x1000, b"abc").is_ok());
        assert_eq!(m.peek(0x1000, 3).unwrap(), b"abc");
        assert_eq!(m.write(0x10fe, b"xyz"), Err(Efault));
        // A faulting write changes nothing.
        assert_eq!(m.peek(0x10fe, 2).unwrap(), [0, 0]);
        let mut b = [0u8; 4];
        assert_eq!(m.read(0xfff, &mut b), Err(Efault));
        assert_eq!(m.read(u64::MAX - 1, &mut b), Err(Efault));
        assert!(m.read(0x10fc, &mut b).is_ok());
    }

    #[test]
    fn vec_memory_spans_adjacent_regions_and_respects_read_only() {
        let mut m = VecMemory::new();
        assert!(m.map(0x1000, 0x10, true));
        assert!(m.map(0x1010, 0x10, false));
        assert!(!m.map(0x1008, 0x10, true));
        assert!(!m.map(u64::MAX - 4, 0x10, true));
        m.poke(0x100c, b"spanning").unwrap();
        assert_eq!(m.peek(0x100c, 8).unwrap(), b"spanning");
        assert_eq!(m.write(0x1010, b"x"), Err(Efault));
    }

    #[test]
    fn cstr_reading() {
        let mut m = VecMemory::with_region(0x1000, 0x20);
        m.poke(0x1000, b"tmp/test.txt\0").unwrap();
        assert_eq!(read_cstr(&mut m, 0x1000, 4096).unwrap(), b"tmp/test.txt");
        // Runs off the end of the region without a NUL: EFAULT.
        m.poke(0x1010, &[b'x'; 16]).unwrap();
        assert_eq!(read_cstr(&mut m, 0x1010, 4096), Err(Errno::EFAULT));
        // No NUL within max: ENAMETOOLONG.
        assert_eq!(read_cstr(&mut m, 0x1010, 8), Err(Errno::ENAMETOOLONG));
        // Exactly max-1 chars plus NUL fits.
        m.poke(0x1000, b"abc\0").unwrap();
        assert_eq!(read_cstr(&mut m, 0x1000, 4).unwrap(), b"abc");
        assert_eq!(read_cstr(&mut m, 0x1000, 3), Err(Errno::ENAMETOOLONG));
        assert_eq!(read_cstr(&mut m, 0, 4096), Err(Errno::EFAULT));
        assert_eq!(read_cstr(&mut m, u64::MAX, 4096), Err(Errno::EFAULT));
    }

    #[test]
    fn cstr_across_a_page_boundary() {
        let mut m = VecMemory::with_region(0x1000, 0x2000);
        m.poke(0x1ffc, b"abcdefgh\0").unwrap();
        assert_eq!(read_cstr(&mut m, 0x1ffc, 4096).unwrap(), b"abcdefgh");
        // A string ending right before an unmapped page.
        let mut m = VecMemory::with_region(0x1000, 0x1000);
        m.poke(0x1ffd, b"ab\0").unwrap();
        assert_eq!(read_cstr(&mut m, 0x1ffd, 4096).unwrap(), b"ab");
    }

    #[test]
    fn scalars_and_longs() {
        let mut m = VecMemory::with_region(0x1000, 0x40);
        write_u64(&mut m, 0x1000, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(read_u64(&mut m, 0x1000).unwrap(), 0x1122_3344_5566_7788);
        assert_eq!(read_u32(&mut m, 0x1000).unwrap(), 0x5566_7788);
        assert_eq!(read_u16(&mut m, 0x1000).unwrap(), 0x7788);
        write_long(&mut m, Abi::I386, 0x1008, -2).unwrap();
        assert_eq!(read_long(&mut m, Abi::I386, 0x1008).unwrap(), -2);
        assert_eq!(read_ulong(&mut m, Abi::I386, 0x1008).unwrap(), 0xffff_fffe);
        write_i32(&mut m, 0x1010, -7).unwrap();
        assert_eq!(
            read_u32_array(&mut m, 0x1010, 1).unwrap(),
            vec![(-7i32) as u32]
        );
        assert_eq!(read_u64(&mut m, 0x103c), Err(Efault));
        clear_user(&mut m, 0x1000, 0x40).unwrap();
        assert_eq!(read_u64(&mut m, 0x1000).unwrap(), 0);
        assert_eq!(clear_user(&mut m, 0x1000, 0x41), Err(Efault));
    }

    #[test]
    fn iovecs_for_both_abis() {
        let mut m = VecMemory::with_region(0x1000, 0x100);
        write_u64(&mut m, 0x1000, 0x2000).unwrap();
        write_u64(&mut m, 0x1008, 5).unwrap();
        write_u64(&mut m, 0x1010, 0x3000).unwrap();
        write_u64(&mut m, 0x1018, 7).unwrap();
        let v = read_iovecs(&mut m, Abi::X86_64, 0x1000, 2).unwrap();
        assert_eq!(
            v,
            vec![
                IoVec {
                    base: 0x2000,
                    len: 5
                },
                IoVec {
                    base: 0x3000,
                    len: 7
                }
            ]
        );
        // The same bytes as i386 iovecs: {0x2000,0}, {5,0}, ...
        let v = read_iovecs(&mut m, Abi::I386, 0x1000, 2).unwrap();
        assert_eq!(
            v,
            vec![
                IoVec {
                    base: 0x2000,
                    len: 0
                },
                IoVec { base: 5, len: 0 }
            ]
        );
        assert_eq!(
            read_iovecs(&mut m, Abi::X86_64, 0x1000, 1025),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            read_iovecs(&mut m, Abi::X86_64, 0x10f8, 1),
            Err(Errno::EFAULT)
        );
        write_u64(&mut m, 0x1008, u64::MAX).unwrap();
        assert_eq!(
            read_iovecs(&mut m, Abi::X86_64, 0x1000, 1),
            Err(Errno::EINVAL)
        );
        write_u64(&mut m, 0x1008, 0x7fff_ffff_0000_0000).unwrap();
        let v = read_iovecs(&mut m, Abi::X86_64, 0x1000, 2).unwrap();
        assert_eq!(v[0].len, MAX_RW_COUNT);
        assert_eq!(v[1].len, 0);
        assert_eq!(read_iovecs(&mut m, Abi::X86_64, 0x1000, 0).unwrap(), vec![]);
    }
}
