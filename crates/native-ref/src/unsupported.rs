//! Stand-in executor for hosts that are not x86-64 Linux: the crate builds, but
//! no runner can be created.

use crate::{NativeError, NativeState, SimdState};

/// Executes single x86-64 instructions on the host processor. On this host it
/// cannot be created: [`NativeRunner::new`] always returns
/// [`NativeError::Unsupported`].
#[derive(Debug)]
pub struct NativeRunner {
    _private: (),
}

impl NativeRunner {
    /// Always fails with [`NativeError::Unsupported`] on this host.
    pub fn new() -> Result<Self, NativeError> {
        Err(NativeError::Unsupported)
    }

    /// The arena (empty on this host; unreachable since no runner exists).
    pub fn arena(&mut self) -> &mut [u8] {
        &mut []
    }

    /// Always fails with [`NativeError::Unsupported`] on this host.
    pub fn run(&mut self, _insn: &[u8], _state: &mut NativeState) -> Result<(), NativeError> {
        Err(NativeError::Unsupported)
    }

    /// Always fails with [`NativeError::Unsupported`] on this host.
    pub fn run_simd(
        &mut self,
        _insn: &[u8],
        _state: &mut NativeState,
        _simd: &mut SimdState,
    ) -> Result<(), NativeError> {
        Err(NativeError::Unsupported)
    }
}
