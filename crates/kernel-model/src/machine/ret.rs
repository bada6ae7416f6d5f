//! The machine layer's failed results: `-errno` as a system call returns
//! it in RAX, derived from the personality layer's [`Errno`] values so the
//! numbers are written down once.

use crate::errno::Errno;

const fn neg(e: Errno) -> i64 {
    -(e.0 as i64)
}

pub(crate) const EPERM: i64 = neg(Errno::EPERM);
pub(crate) const ESRCH: i64 = neg(Errno::ESRCH);
pub(crate) const EINTR: i64 = neg(Errno::EINTR);
pub(crate) const ENOEXEC: i64 = neg(Errno::ENOEXEC);
/// -ENOENT.
pub(crate) const ENOENT: i64 = neg(Errno::ENOENT);
pub(crate) const EBADF: i64 = neg(Errno::EBADF);
pub(crate) const ECHILD: i64 = neg(Errno::ECHILD);
pub(crate) const ENOMEM: i64 = neg(Errno::ENOMEM);
pub(crate) const EACCES: i64 = neg(Errno::EACCES);
pub(crate) const EFAULT: i64 = neg(Errno::EFAULT);
pub(crate) const EBUSY: i64 = neg(Errno::EBUSY);
pub(crate) const ENODEV: i64 = neg(Errno::ENODEV);
pub(crate) const EINVAL: i64 = neg(Errno::EINVAL);
pub(crate) const ENOSYS: i64 = neg(Errno::ENOSYS);
/// -EAGAIN.
pub(crate) const EAGAIN: i64 = neg(Errno::EAGAIN);
/// -EDEADLK.
pub(crate) const EDEADLK: i64 = neg(Errno::EDEADLK);
/// -ETIMEDOUT.
pub(crate) const ETIMEDOUT: i64 = neg(Errno::ETIMEDOUT);
pub(crate) const EOVERFLOW: i64 = neg(Errno::EOVERFLOW);
