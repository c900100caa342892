//! The x86_64 machine: boot entry, descriptor tables, exceptions, port I/O, time stamp counter.

pub mod boot;
pub mod cpu;
pub mod exceptions;
pub mod paging;
pub mod port;
