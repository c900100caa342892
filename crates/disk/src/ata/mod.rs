//! ATA PIO disks on the two legacy IDE channels, in three layers: `spec` (datasheet constants and pure
//! decoding), `AtaPorts` (the few port I/O operations, implemented by the payload) and `driver` (the bounded
//! state machine and the `BlockDevice` above it).

mod driver;
pub mod spec;

pub use driver::{
    probe, standby, AtaDisk, AtaError, AtaPorts, Channel, Drive, Probed, POLL_LIMIT, PRIMARY,
    SECONDARY, WAIT_MS,
};
pub use spec::Identity;
