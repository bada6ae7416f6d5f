//! System-call tables of the two ABIs the kernel model serves: x86_64
//! (`syscall`, numbers from `unistd_64.h`) and i386 (`int 0x80`/`sysenter`,
//! and int 0x80 from 64-bit code; numbers from `unistd_32.h`).

pub mod unistd_32;
pub mod unistd_64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_carry_the_abi_numbers() {
        assert_eq!(unistd_64::NR_GETPID, 39);
        assert_eq!(
            unistd_64::NAMES[unistd_64::NR_GETPID as usize],
            Some("getpid")
        );
        assert_eq!(unistd_32::NR_GETPID, 20);
        assert_eq!(unistd_32::NR_SOCKETCALL, 102);
        assert_eq!(unistd_32::NAMES[5], Some("open"));
        // The seed's audit calls use numbers that are holes on x86_64.
        assert_eq!(unistd_64::NAMES[335], None);
        assert_eq!(unistd_64::NAMES[336], None);
    }
}
