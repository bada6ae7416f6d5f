//! sysgate facade
