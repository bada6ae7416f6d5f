//! Pipes: a bounded byte buffer shared by a read end and a write end
//! (`fs/pipe.c`).
//!
//! The personality layer cannot block: when a read finds the pipe empty
//! while writers remain, or a write finds no room, the operation reports
//! [`PipeIo::WouldBlock`] and the system call turns that into a blocked
//! result the scheduler acts on (or `EAGAIN` under `O_NONBLOCK`). Reading
//! with no writers left is end of file; writing with no readers left is
//! [`PipeIo::Broken`] (`EPIPE` plus `SIGPIPE`).
//!
//! Writes of at most [`PIPE_BUF`] bytes are atomic: they wait until all of
//! them fit. A larger write transfers what fits; a blocking `write` then
//! waits for room for the rest, as Linux's does (`syscalls/io.rs` keeps
//! its progress across the scheduler's re-issues), and a signal that ends
//! the wait returns the count written so far.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::uapi::{PIPE_BUF, PIPE_DEF_CAPACITY};
use crate::vfs::memfs::lock;

#[derive(Debug)]
struct PipeInner {
    id: u64,
    buf: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
}

/// The outcome of a pipe operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PipeIo {
    /// This many bytes were transferred (0 on a read means end of file).
    Done(usize),
    /// Nothing can be transferred now; retry when the other end acts.
    WouldBlock,
    /// Write with no readers left: `EPIPE` and `SIGPIPE`.
    Broken,
}

/// One end of a pipe. Dropping the last handle on an end closes it.
#[derive(Debug)]
pub struct PipeEnd {
    inner: Arc<Mutex<PipeInner>>,
    write: bool,
}

/// Creates a pipe with identifier `id` and the default capacity (64 KiB);
/// returns its (read, write) ends.
pub fn pipe(id: u64) -> (PipeEnd, PipeEnd) {
    let inner = Arc::new(Mutex::new(PipeInner {
        id,
        buf: VecDeque::new(),
        capacity: PIPE_DEF_CAPACITY,
        readers: 1,
        writers: 1,
    }));
    (
        PipeEnd {
            inner: inner.clone(),
            write: false,
        },
        PipeEnd { inner, write: true },
    )
}

impl PipeEnd {
    /// The pipe's identifier (the same for both ends), for wait queues.
    pub fn id(&self) -> u64 {
        lock(&self.inner).id
    }

    /// True for the write end.
    pub fn is_write_end(&self) -> bool {
        self.write
    }

    /// Bytes waiting to be read (`FIONREAD`).
    pub fn available(&self) -> usize {
        lock(&self.inner).buf.len()
    }

    /// Open handles on the other end (writers for the read end, readers
    /// for the write end): 0 is a hang-up for `poll`.
    pub fn peers(&self) -> usize {
        let p = lock(&self.inner);
        if self.write { p.readers } else { p.writers }
    }

    /// Free room in the buffer (`poll`'s "not full").
    pub fn room(&self) -> usize {
        let p = lock(&self.inner);
        p.capacity.saturating_sub(p.buf.len())
    }

    /// The pipe's capacity (`F_GETPIPE_SZ`).
    pub fn capacity(&self) -> usize {
        lock(&self.inner).capacity
    }

    /// Copies up to `max` buffered bytes without consuming them; `None`
    /// when the pipe is empty: the caller then asks [`Self::empty_result`].
    pub fn peek(&self, max: usize) -> Option<Vec<u8>> {
        let p = lock(&self.inner);
        if p.buf.is_empty() {
            return None;
        }
        Some(p.buf.iter().take(max).copied().collect())
    }

    /// What reading an empty pipe gives: end of file without writers,
    /// otherwise "would block".
    pub fn empty_result(&self) -> PipeIo {
        if lock(&self.inner).writers == 0 {
            PipeIo::Done(0)
        } else {
            PipeIo::WouldBlock
        }
    }

    /// Discards `n` bytes from the front (after they were delivered).
    pub fn consume(&self, n: usize) {
        let mut p = lock(&self.inner);
        let n = n.min(p.buf.len());
        p.buf.drain(..n);
    }

    /// Reads into `buf`: bytes, end of file, or would-block.
    pub fn read(&self, buf: &mut [u8]) -> PipeIo {
        match self.peek(buf.len()) {
            None => self.empty_result(),
            Some(data) => {
                let n = data.len();
                if let Some(dst) = buf.get_mut(..n) {
                    dst.copy_from_slice(&data);
                }
                self.consume(n);
                PipeIo::Done(n)
            }
        }
    }

    /// How many bytes of a write of `len` bytes may go in now: `Done(n)`
    /// (n ≥ 1), would-block, or broken (no readers).
    pub fn writable(&self, len: usize) -> PipeIo {
        let p = lock(&self.inner);
        if p.readers == 0 {
            return PipeIo::Broken;
        }
        let room = p.capacity.saturating_sub(p.buf.len());
        if len == 0 {
            return PipeIo::Done(0);
        }
        if room == 0 || (len <= PIPE_BUF && room < len) {
            return PipeIo::WouldBlock;
        }
        PipeIo::Done(room.min(len))
    }

    /// Appends `data` (the caller sized it with [`Self::writable`]); bytes
    /// beyond the capacity are not taken. Returns the bytes appended.
    pub fn push(&self, data: &[u8]) -> usize {
        let mut p = lock(&self.inner);
        let room = p.capacity.saturating_sub(p.buf.len());
        let n = room.min(data.len());
        p.buf.extend(data.iter().take(n));
        n
    }

    /// Writes `data`: bytes taken, would-block, or broken.
    pub fn write(&self, data: &[u8]) -> PipeIo {
        match self.writable(data.len()) {
            PipeIo::Done(n) => PipeIo::Done(self.push(data.get(..n).unwrap_or_default())),
            other => other,
        }
    }

    /// A second handle on the same end (the end stays open until every
    /// handle is dropped).
    pub fn clone_end(&self) -> PipeEnd {
        self.open_end(self.write)
    }

    /// A new handle on this pipe's write end if `write`, else its read end
    /// (opening the pipe through `/proc/self/fd/N`, as `fifo_open` does for
    /// a pipe: it never waits for the other side).
    pub fn open_end(&self, write: bool) -> PipeEnd {
        let mut p = lock(&self.inner);
        if write {
            p.writers += 1;
        } else {
            p.readers += 1;
        }
        PipeEnd {
            inner: self.inner.clone(),
            write,
        }
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut p = lock(&self.inner);
        if self.write {
            p.writers = p.writers.saturating_sub(1);
        } else {
            p.readers = p.readers.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_eof_and_broken() {
        let (r, w) = pipe(7);
        assert_eq!(r.id(), 7);
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf), PipeIo::WouldBlock);
        assert_eq!(w.write(b"hello"), PipeIo::Done(5));
        assert_eq!(r.available(), 5);
        assert_eq!(r.read(&mut buf[..3]), PipeIo::Done(3));
        assert_eq!(&buf[..3], b"hel");
        assert_eq!(r.read(&mut buf), PipeIo::Done(2));
        drop(w);
        assert_eq!(r.read(&mut buf), PipeIo::Done(0));
        let (r, w) = pipe(8);
        drop(r);
        assert_eq!(w.write(b"x"), PipeIo::Broken);
    }

    #[test]
    fn capacity_and_atomic_writes() {
        let (r, w) = pipe(1);
        let big = vec![1u8; PIPE_DEF_CAPACITY - 100];
        assert_eq!(w.write(&big), PipeIo::Done(big.len()));
        // 200 bytes ≤ PIPE_BUF do not fit in the 100 left: all or nothing.
        assert_eq!(w.write(&[2u8; 200]), PipeIo::WouldBlock);
        // A large write takes what fits.
        assert_eq!(w.write(&[3u8; 5000]), PipeIo::Done(100));
        assert_eq!(w.write(&[3u8; 5000]), PipeIo::WouldBlock);
        assert_eq!(w.write(&[]), PipeIo::Done(0));
        let mut buf = vec![0u8; PIPE_DEF_CAPACITY];
        assert_eq!(r.read(&mut buf), PipeIo::Done(PIPE_DEF_CAPACITY));
        assert_eq!(buf[PIPE_DEF_CAPACITY - 1], 3);
    }

    #[test]
    fn cloned_ends_keep_the_pipe_open() {
        let (r, w) = pipe(2);
        let w2 = w.clone_end();
        drop(w);
        let mut buf = [0u8; 1];
        assert_eq!(r.read(&mut buf), PipeIo::WouldBlock);
        drop(w2);
        assert_eq!(r.read(&mut buf), PipeIo::Done(0));
        let r2 = r.clone_end();
        drop(r);
        assert!(!r2.is_write_end());
        assert_eq!(r2.peek(4), None);
    }
}
