//! Decoders against lines real strace 6.1 printed for the C test programs.
