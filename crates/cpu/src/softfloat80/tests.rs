//! Hand-computed tests of the softfloat core.
