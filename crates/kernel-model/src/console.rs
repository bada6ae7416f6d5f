//! The console: the guest's standard input, output and error, connected to
//! host-side sources and sinks the embedder supplies.
//!
//! Every byte the guest writes to stdout or stderr is handed to the sink at
//! once, in full (sinks are infallible closures), so guest output is never
//! buffered away or lost in the model. Standard input comes from a
//! [`ConsoleInput`]: a byte string, a host reader, or anything else.
//!
//! Terminal behaviour is a documented choice: by default the console is
//! *not* a terminal, so `TCGETS`/`TIOCGWINSZ` fail with `ENOTTY` and libc
//! buffers stdout fully, exactly as when a program's output is piped —
//! deterministic whatever the host's stdout is. [`Console::with_tty`] makes
//! it a terminal with a plausible `termios` and window size.

use std::io::Read;
use std::sync::{Arc, Mutex};

use crate::vfs::memfs::lock;

/// The result of reading the console's input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConsoleRead {
    /// This many bytes were read (at least 1).
    Data(usize),
    /// End of input.
    Eof,
    /// No input yet; the read should be retried later.
    WouldBlock,
}

/// A source of console input.
pub trait ConsoleInput: Send {
    /// Reads into `buf` (never asked with an empty `buf`).
    fn read(&mut self, buf: &mut [u8]) -> ConsoleRead;
}

/// Console input from a fixed byte string, then end of file.
#[derive(Clone, Debug, Default)]
pub struct BytesInput {
    data: Vec<u8>,
    pos: usize,
}

impl BytesInput {
    /// Input that yields `data`, then end of file.
    pub fn new(data: impl Into<Vec<u8>>) -> BytesInput {
        BytesInput {
            data: data.into(),
            pos: 0,
        }
    }
}

impl ConsoleInput for BytesInput {
    fn read(&mut self, buf: &mut [u8]) -> ConsoleRead {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return ConsoleRead::Eof;
        }
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        ConsoleRead::Data(n)
    }
}

/// Console input from a host reader (for example `std::io::stdin()`); a
/// host read error is treated as end of file.
pub struct ReaderInput<R: Read + Send>(pub R);

impl<R: Read + Send> ConsoleInput for ReaderInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> ConsoleRead {
        loop {
            match self.0.read(buf) {
                Ok(0) => return ConsoleRead::Eof,
                Ok(n) => return ConsoleRead::Data(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return ConsoleRead::WouldBlock;
                }
                Err(_) => return ConsoleRead::Eof,
            }
        }
    }
}

/// A sink for guest output.
pub type OutputSink = Box<dyn FnMut(&[u8]) + Send>;

/// Which console stream a file description is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConsoleStream {
    /// Standard input (fd 0 at start, read-only).
    Stdin,
    /// Standard output (fd 1 at start, write-only).
    Stdout,
    /// Standard error (fd 2 at start, write-only).
    Stderr,
}

/// Terminal window size (`struct winsize`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Winsize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// The console.
pub struct Console {
    stdin: Box<dyn ConsoleInput>,
    stdout: OutputSink,
    stderr: OutputSink,
    tty: Option<Winsize>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

/// Shared buffers a [`Console::capture`] console writes into.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// Everything written to stdout.
    pub stdout: Arc<Mutex<Vec<u8>>>,
    /// Everything written to stderr.
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// A copy of what was written to stdout so far.
    pub fn stdout(&self) -> Vec<u8> {
        lock(&self.stdout).clone()
    }

    /// A copy of what was written to stderr so far.
    pub fn stderr(&self) -> Vec<u8> {
        lock(&self.stderr).clone()
    }
}

impl Console {
    /// A console over the given input and output sinks (not a terminal).
    pub fn new(stdin: Box<dyn ConsoleInput>, stdout: OutputSink, stderr: OutputSink) -> Console {
        Console {
            stdin,
            stdout,
            stderr,
            tty: None,
        }
    }

    /// A console with empty input whose output goes nowhere.
    pub fn null() -> Console {
        Console::new(
            Box::new(BytesInput::default()),
            Box::new(|_| {}),
            Box::new(|_| {}),
        )
    }

    /// A console reading `stdin` and recording output in memory; the
    /// returned handles show what the guest wrote.
    pub fn capture(stdin: &[u8]) -> (Console, Captured) {
        let cap = Captured::default();
        let (out, err) = (cap.stdout.clone(), cap.stderr.clone());
        let console = Console::new(
            Box::new(BytesInput::new(stdin)),
            Box::new(move |d| lock(&out).extend_from_slice(d)),
            Box::new(move |d| lock(&err).extend_from_slice(d)),
        );
        (console, cap)
    }

    /// The host's own stdin, stdout and stderr (what a CLI wants): output is
    /// written and flushed at once.
    pub fn host() -> Console {
        use std::io::Write;
        Console::new(
            Box::new(ReaderInput(std::io::stdin())),
            Box::new(|d| {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(d);
                let _ = o.flush();
            }),
            Box::new(|d| {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(d);
                let _ = e.flush();
            }),
        )
    }

    /// Makes the console a terminal of the given size.
    pub fn with_tty(mut self, rows: u16, cols: u16) -> Console {
        self.tty = Some(Winsize { rows, cols });
        self
    }

    /// The terminal size, if the console is a terminal.
    pub fn tty(&self) -> Option<Winsize> {
        self.tty
    }

    /// Sets the terminal size (`TIOCSWINSZ`); no effect unless a terminal.
    pub fn set_winsize(&mut self, ws: Winsize) {
        if self.tty.is_some() {
            self.tty = Some(ws);
        }
    }

    /// Reads standard input.
    pub fn read(&mut self, buf: &mut [u8]) -> ConsoleRead {
        if buf.is_empty() {
            return ConsoleRead::Data(0);
        }
        self.stdin.read(buf)
    }

    /// Writes to stdout or stderr (stdin is read-only: nothing written).
    pub fn write(&mut self, stream: ConsoleStream, data: &[u8]) -> usize {
        match stream {
            ConsoleStream::Stdout => (self.stdout)(data),
            ConsoleStream::Stderr => (self.stderr)(data),
            ConsoleStream::Stdin => return 0,
        }
        data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_and_input() {
        let (mut c, cap) = Console::capture(b"abc");
        let mut buf = [0u8; 2];
        assert_eq!(c.read(&mut buf), ConsoleRead::Data(2));
        assert_eq!(c.read(&mut buf), ConsoleRead::Data(1));
        assert_eq!(c.read(&mut buf), ConsoleRead::Eof);
        assert_eq!(c.write(ConsoleStream::Stdout, b"out"), 3);
        assert_eq!(c.write(ConsoleStream::Stderr, b"err"), 3);
        assert_eq!(c.write(ConsoleStream::Stdin, b"x"), 0);
        assert_eq!(cap.stdout(), b"out");
        assert_eq!(cap.stderr(), b"err");
        assert_eq!(c.tty(), None);
        let mut c = c.with_tty(24, 80);
        c.set_winsize(Winsize {
            rows: 50,
            cols: 132,
        });
        assert_eq!(
            c.tty(),
            Some(Winsize {
                rows: 50,
                cols: 132
            })
        );
    }

    #[test]
    fn reader_input() {
        let mut r = ReaderInput(&b"xy"[..]);
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf), ConsoleRead::Data(2));
        assert_eq!(r.read(&mut buf), ConsoleRead::Eof);
    }
}
