//! File attributes and the byte layouts user space reads them in: x86_64
//! `struct stat`, i386 `struct stat` and `struct stat64`, `struct statx`,
//! and `struct linux_dirent64` for `getdents64`.
//!
//! Layouts follow `arch/x86/include/uapi/asm/stat.h` and
//! `include/uapi/linux/stat.h`; the i386 structures use the i386 ABI's 4-byte
//! alignment of 64-bit members (which is why `stat64` is 96 bytes).

use serde::Serialize;

use crate::errno::Errno;
use crate::time::Timespec;
use crate::uapi::*;

/// The type of a file (the `S_IFMT` part of a mode).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum FileType {
    /// `S_IFREG`.
    Regular,
    /// `S_IFDIR`.
    Directory,
    /// `S_IFLNK`.
    Symlink,
    /// `S_IFCHR`.
    CharDevice,
    /// `S_IFBLK`.
    BlockDevice,
    /// `S_IFIFO`.
    Fifo,
    /// `S_IFSOCK`.
    Socket,
}

impl FileType {
    /// The type of a full mode word; `None` for an invalid `S_IFMT` value.
    pub const fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Directory,
            S_IFLNK => FileType::Symlink,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }

    /// The `S_IF*` bits of this type.
    pub const fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::CharDevice => S_IFCHR,
            FileType::BlockDevice => S_IFBLK,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
        }
    }

    /// The `d_type` value of this type in a directory entry.
    pub const fn dirent_type(self) -> u8 {
        match self {
            FileType::Regular => DT_REG,
            FileType::Directory => DT_DIR,
            FileType::Symlink => DT_LNK,
            FileType::CharDevice => DT_CHR,
            FileType::BlockDevice => DT_BLK,
            FileType::Fifo => DT_FIFO,
            FileType::Socket => DT_SOCK,
        }
    }
}

/// File attributes, the source of every `stat` layout.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Attr {
    /// Device of the filesystem (`st_dev`, Linux `makedev` encoding).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Hard-link count.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number for device files.
    pub rdev: u64,
    /// Size in bytes (symlinks: length of the target).
    pub size: u64,
    /// Preferred I/O size.
    pub blksize: u32,
    /// Number of 512-byte blocks allocated.
    pub blocks: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
}

impl Attr {
    /// The file's type, if its mode holds a valid one.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }

    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// True for regular files.
    pub fn is_reg(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// True for symbolic links.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
}

/// Linux's `new_encode_dev`/`makedev` for a 64-bit `dev_t`.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & !0xff) << 12) | ((ma & !0xfff) << 32)
}

/// Major number of a `makedev` value.
pub const fn dev_major(dev: u64) -> u32 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
}

/// Minor number of a `makedev` value.
pub const fn dev_minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
}

/// Which `stat` structure a call fills in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StatLayout {
    /// x86_64 `struct stat` (144 bytes): `stat`, `fstat`, `lstat`, `newfstatat`.
    Stat64Native,
    /// i386 `struct stat` (64 bytes): i386 `stat`, `fstat`, `lstat`.
    StatI386,
    /// i386 `struct stat64` (96 bytes): `stat64`, `fstat64`, `lstat64`, `fstatat64`.
    Stat64I386,
    /// `struct statx` (256 bytes), both ABIs.
    Statx,
}

impl StatLayout {
    /// Size of the structure in bytes.
    pub const fn size(self) -> usize {
        match self {
            StatLayout::Stat64Native => 144,
            StatLayout::StatI386 => 64,
            StatLayout::Stat64I386 => 96,
            StatLayout::Statx => 256,
        }
    }

    /// Byte offsets of `st_mode` (with its width) and `st_size` (with its
    /// width), used by the strace formatter to show what was written.
    pub const fn mode_and_size_fields(self) -> ((usize, usize), (usize, usize)) {
        match self {
            StatLayout::Stat64Native => ((24, 4), (48, 8)),
            StatLayout::StatI386 => ((8, 2), (20, 4)),
            StatLayout::Stat64I386 => ((16, 4), (44, 8)),
            StatLayout::Statx => ((28, 2), (40, 8)),
        }
    }
}

fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(off..off + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Encodes the x86_64 `struct stat`.
pub fn encode_stat_x86_64(a: &Attr) -> [u8; 144] {
    let mut b = [0u8; 144];
    put(&mut b, 0, &a.dev.to_le_bytes());
    put(&mut b, 8, &a.ino.to_le_bytes());
    put(&mut b, 16, &u64::from(a.nlink).to_le_bytes());
    put(&mut b, 24, &a.mode.to_le_bytes());
    put(&mut b, 28, &a.uid.to_le_bytes());
    put(&mut b, 32, &a.gid.to_le_bytes());
    put(&mut b, 40, &a.rdev.to_le_bytes());
    put(&mut b, 48, &a.size.to_le_bytes());
    put(&mut b, 56, &u64::from(a.blksize).to_le_bytes());
    put(&mut b, 64, &a.blocks.to_le_bytes());
    for (off, t) in [(72, a.atime), (88, a.mtime), (104, a.ctime)] {
        put(&mut b, off, &t.sec.to_le_bytes());
        put(&mut b, off + 8, &u64::from(t.nsec).to_le_bytes());
    }
    b
}

/// Linux's `old_encode_dev` (8-bit major and minor) for 16-bit device fields.
const fn old_encode_dev(dev: u64) -> u32 {
    (dev_major(dev) << 8) | dev_minor(dev)
}

/// Encodes the i386 `struct stat` (`cp_new_stat` on i386): `EOVERFLOW` when
/// the inode number, size or link count does not fit, as Linux does.
pub fn encode_stat_i386(a: &Attr) -> Result<[u8; 64], Errno> {
    let ino = u32::try_from(a.ino).map_err(|_| Errno::EOVERFLOW)?;
    let size = u32::try_from(a.size)
        .ok()
        .filter(|&s| s <= i32::MAX as u32)
        .ok_or(Errno::EOVERFLOW)?;
    let nlink = u16::try_from(a.nlink).map_err(|_| Errno::EOVERFLOW)?;
    let mut b = [0u8; 64];
    put(&mut b, 0, &old_encode_dev(a.dev).to_le_bytes());
    put(&mut b, 4, &ino.to_le_bytes());
    put(&mut b, 8, &(a.mode as u16).to_le_bytes());
    put(&mut b, 10, &nlink.to_le_bytes());
    // High uids/gids are shown as the overflow id 65534, as Linux does.
    put(
        &mut b,
        12,
        &u16::try_from(a.uid).unwrap_or(65534).to_le_bytes(),
    );
    put(
        &mut b,
        14,
        &u16::try_from(a.gid).unwrap_or(65534).to_le_bytes(),
    );
    put(&mut b, 16, &old_encode_dev(a.rdev).to_le_bytes());
    put(&mut b, 20, &size.to_le_bytes());
    put(&mut b, 24, &a.blksize.to_le_bytes());
    put(&mut b, 28, &(a.blocks as u32).to_le_bytes());
    for (off, t) in [(32, a.atime), (40, a.mtime), (48, a.ctime)] {
        put(&mut b, off, &(t.sec as u32).to_le_bytes());
        put(&mut b, off + 4, &t.nsec.to_le_bytes());
    }
    Ok(b)
}

/// Encodes the i386 `struct stat64`.
pub fn encode_stat64_i386(a: &Attr) -> [u8; 96] {
    let mut b = [0u8; 96];
    put(&mut b, 0, &a.dev.to_le_bytes());
    put(&mut b, 12, &(a.ino as u32).to_le_bytes());
    put(&mut b, 16, &a.mode.to_le_bytes());
    put(&mut b, 20, &a.nlink.to_le_bytes());
    put(&mut b, 24, &a.uid.to_le_bytes());
    put(&mut b, 28, &a.gid.to_le_bytes());
    put(&mut b, 32, &a.rdev.to_le_bytes());
    put(&mut b, 44, &a.size.to_le_bytes());
    put(&mut b, 52, &a.blksize.to_le_bytes());
    put(&mut b, 56, &a.blocks.to_le_bytes());
    for (off, t) in [(64, a.atime), (72, a.mtime), (80, a.ctime)] {
        put(&mut b, off, &(t.sec as u32).to_le_bytes());
        put(&mut b, off + 4, &t.nsec.to_le_bytes());
    }
    put(&mut b, 88, &a.ino.to_le_bytes());
    b
}

/// `STATX_BASIC_STATS`: the fields every filesystem here fills in.
pub const STATX_BASIC_STATS: u32 = 0x7ff;
/// Reserved `statx` mask bit; asking for it is `EINVAL`.
pub const STATX_RESERVED: u32 = 0x8000_0000;

/// `STATX_MNT_ID`: `stx_mnt_id` is valid.
pub const STATX_MNT_ID: u32 = 0x1000;

/// The mount id `statx` reports for a filesystem: one mount per
/// filesystem here, numbered from its device's minor number (Linux's
/// mount ids are small integers too).
pub const fn mount_id(dev: u64) -> u64 {
    20 + dev_minor(dev) as u64
}

/// Encodes `struct statx` with the basic fields and the mount id
/// (`stx_mask` = `STATX_BASIC_STATS|STATX_MNT_ID`, which Linux 5.8+ sets
/// whatever was asked; no birth time, as tmpfs before 6.x).
pub fn encode_statx(a: &Attr) -> [u8; 256] {
    let mut b = [0u8; 256];
    put(&mut b, 0, &(STATX_BASIC_STATS | STATX_MNT_ID).to_le_bytes());
    put(&mut b, 144, &mount_id(a.dev).to_le_bytes());
    put(&mut b, 4, &a.blksize.to_le_bytes());
    put(&mut b, 16, &a.nlink.to_le_bytes());
    put(&mut b, 20, &a.uid.to_le_bytes());
    put(&mut b, 24, &a.gid.to_le_bytes());
    put(&mut b, 28, &(a.mode as u16).to_le_bytes());
    put(&mut b, 32, &a.ino.to_le_bytes());
    put(&mut b, 40, &a.size.to_le_bytes());
    put(&mut b, 48, &a.blocks.to_le_bytes());
    // stx_atime, stx_btime (left zero), stx_ctime, stx_mtime.
    for (off, t) in [(64, a.atime), (96, a.ctime), (112, a.mtime)] {
        put(&mut b, off, &t.sec.to_le_bytes());
        put(&mut b, off + 8, &t.nsec.to_le_bytes());
    }
    put(&mut b, 128, &dev_major(a.rdev).to_le_bytes());
    put(&mut b, 132, &dev_minor(a.rdev).to_le_bytes());
    put(&mut b, 136, &dev_major(a.dev).to_le_bytes());
    put(&mut b, 140, &dev_minor(a.dev).to_le_bytes());
    b
}

/// Encodes `attr` in `layout`.
pub fn encode(layout: StatLayout, a: &Attr) -> Result<Vec<u8>, Errno> {
    Ok(match layout {
        StatLayout::Stat64Native => encode_stat_x86_64(a).to_vec(),
        StatLayout::StatI386 => encode_stat_i386(a)?.to_vec(),
        StatLayout::Stat64I386 => encode_stat64_i386(a).to_vec(),
        StatLayout::Statx => encode_statx(a).to_vec(),
    })
}

/// One directory entry as `readdir` reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// Entry type.
    pub ftype: FileType,
    /// Name (no `/`, no NUL).
    pub name: Vec<u8>,
}

/// Encodes one `struct linux_dirent64` { u64 d_ino; s64 d_off; u16
/// d_reclen; u8 d_type; char d_name[]; } padded to 8 bytes; `None` if the
/// name is too long for a record length.
pub fn encode_dirent64(e: &DirEntry, next_off: i64) -> Option<Vec<u8>> {
    let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
    let reclen16 = u16::try_from(reclen).ok()?;
    let mut b = vec![0u8; reclen];
    put(&mut b, 0, &e.ino.to_le_bytes());
    put(&mut b, 8, &next_off.to_le_bytes());
    put(&mut b, 16, &reclen16.to_le_bytes());
    put(&mut b, 18, &[e.ftype.dirent_type()]);
    put(&mut b, 19, &e.name);
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Attr {
        Attr {
            dev: makedev(0, 0x21),
            ino: 7,
            mode: S_IFREG | 0o644,
            nlink: 1,
            uid: 1000,
            gid: 100,
            rdev: 0,
            size: 71985,
            blksize: 4096,
            blocks: 144,
            atime: Timespec { sec: 1, nsec: 2 },
            mtime: Timespec { sec: 3, nsec: 4 },
            ctime: Timespec { sec: 5, nsec: 6 },
        }
    }

    fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }
    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn x86_64_stat_layout() {
        let b = encode_stat_x86_64(&sample());
        assert_eq!(u64_at(&b, 0), makedev(0, 0x21));
        assert_eq!(u64_at(&b, 8), 7);
        assert_eq!(u64_at(&b, 16), 1);
        assert_eq!(u32_at(&b, 24), S_IFREG | 0o644);
        assert_eq!(u32_at(&b, 28), 1000);
        assert_eq!(u32_at(&b, 32), 100);
        assert_eq!(u64_at(&b, 48), 71985);
        assert_eq!(u64_at(&b, 56), 4096);
        assert_eq!(u64_at(&b, 64), 144);
        assert_eq!(u64_at(&b, 72), 1);
        assert_eq!(u64_at(&b, 80), 2);
        assert_eq!(u64_at(&b, 88), 3);
        assert_eq!(u64_at(&b, 104), 5);
        assert_eq!(u64_at(&b, 112), 6);
    }

    #[test]
    fn i386_layouts() {
        let b = encode_stat64_i386(&sample());
        assert_eq!(b.len(), 96);
        assert_eq!(u32_at(&b, 12), 7);
        assert_eq!(u32_at(&b, 16), S_IFREG | 0o644);
        assert_eq!(u32_at(&b, 20), 1);
        assert_eq!(u64_at(&b, 44), 71985);
        assert_eq!(u32_at(&b, 52), 4096);
        assert_eq!(u64_at(&b, 56), 144);
        assert_eq!(u32_at(&b, 72), 3);
        assert_eq!(u64_at(&b, 88), 7);
        let b = encode_stat_i386(&sample()).unwrap();
        assert_eq!(u32_at(&b, 4), 7);
        assert_eq!(u16::from_le_bytes([b[8], b[9]]), (S_IFREG | 0o644) as u16);
        assert_eq!(u32_at(&b, 20), 71985);
        assert_eq!(u32_at(&b, 0), 0x21);
        let big = Attr {
            size: 1 << 32,
            ..sample()
        };
        assert_eq!(encode_stat_i386(&big), Err(Errno::EOVERFLOW));
        let big = Attr {
            ino: 1 << 32,
            ..sample()
        };
        assert_eq!(encode_stat_i386(&big), Err(Errno::EOVERFLOW));
    }

    #[test]
    fn statx_layout() {
        let b = encode_statx(&sample());
        assert_eq!(u32_at(&b, 0), STATX_BASIC_STATS | STATX_MNT_ID);
        assert_eq!(u64_at(&b, 144), mount_id(sample().dev));
        assert_eq!(u16::from_le_bytes([b[28], b[29]]), (S_IFREG | 0o644) as u16);
        assert_eq!(u64_at(&b, 32), 7);
        assert_eq!(u64_at(&b, 40), 71985);
        assert_eq!(u64_at(&b, 64), 1);
        assert_eq!(u64_at(&b, 112), 3);
        assert_eq!(u32_at(&b, 140), 0x21);
    }

    #[test]
    fn dev_encoding_round_trips() {
        for (ma, mi) in [(0, 0), (8, 1), (0xfff, 0xff), (0x1234, 0x56789)] {
            let d = makedev(ma, mi);
            assert_eq!((dev_major(d), dev_minor(d)), (ma, mi));
        }
    }

    #[test]
    fn dirent64_records() {
        let e = DirEntry {
            ino: 5,
            ftype: FileType::Directory,
            name: b"abc".to_vec(),
        };
        let b = encode_dirent64(&e, 3).unwrap();
        assert_eq!(b.len(), 24);
        assert_eq!(u64_at(&b, 0), 5);
        assert_eq!(u64_at(&b, 8), 3);
        assert_eq!(u16::from_le_bytes([b[16], b[17]]), 24);
        assert_eq!(b[18], DT_DIR);
        assert_eq!(&b[19..23], b"abc\0");
        let e = DirEntry {
            ino: 5,
            ftype: FileType::Regular,
            name: vec![b'x'; 5],
        };
        assert_eq!(encode_dirent64(&e, 1).unwrap().len(), 32);
    }
}
