//! ATA PIO.
