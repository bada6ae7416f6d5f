//! Guest programs for sysgate tests, benches and demos, assembled with
//! iced-x86's `code_asm`.
//!
//! Not yet implemented beyond the workspace entry; see issue 4.
