//! Helpers shared by the handlers: argument decoding, path arguments and
//! `*at` base directories.

use crate::abi::arg_int;
use crate::errno::Errno;
use crate::fd::{FileObject, FileRef};
use crate::personality::Ctx;
use crate::uaccess::read_path;
use crate::uapi::AT_FDCWD;
use crate::vfs::Handle;

/// A descriptor argument.
pub(crate) fn fd(v: u64) -> i32 {
    arg_int(v)
}

/// The open file behind descriptor argument `v`.
pub(crate) fn file(ctx: &Ctx<'_>, v: u64) -> Result<FileRef, Errno> {
    ctx.task.fds.file(fd(v))
}

/// Reads a path argument (`getname`): `EFAULT`, `ENAMETOOLONG`; an empty
/// path is `ENOENT` unless `allow_empty`.
pub(crate) fn path_arg(ctx: &mut Ctx<'_>, addr: u64, allow_empty: bool) -> Result<Vec<u8>, Errno> {
    let p = read_path(ctx.mem, addr)?;
    if p.is_empty() && !allow_empty {
        return Err(Errno::ENOENT);
    }
    Ok(p)
}

/// The base directory for resolving `path` relative to `dirfd`
/// (`AT_FDCWD`: the cwd). Absolute paths ignore `dirfd`, as Linux does.
pub(crate) fn base_dir(ctx: &Ctx<'_>, dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(b"/".to_vec());
    }
    if dirfd == AT_FDCWD {
        return Ok(ctx.task.cwd.clone());
    }
    let f = ctx.task.fds.file(dirfd)?;
    let g = f.lock();
    match &g.object {
        FileObject::Vfs(vf) if matches!(vf.handle, Handle::Dir) => Ok(vf.path.clone()),
        FileObject::Vfs(vf) if matches!(vf.handle, Handle::Path) => {
            // An O_PATH descriptor of a directory works as a base.
            match ctx.sys.vfs.getattr(&vf.node) {
                Ok(a) if a.is_dir() => Ok(vf.path.clone()),
                _ => Err(Errno::ENOTDIR),
            }
        }
        _ => Err(Errno::ENOTDIR),
    }
}
