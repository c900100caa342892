//! The 8254 programmable interval timer, used once to measure the time stamp counter's frequency; the ACPI PM timer
//! where the PIT does not count.

use crate::arch::cpu::rdtsc;
use crate::arch::port::{inb, inl, outb};

const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
/// Port B of the old PC: bit 0 gates channel 2, bit 1 drives the speaker, bit 5 reads channel 2's output.
const PORT_B: u16 = 0x61;
/// Channel 2, low then high byte, mode 0 (interrupt on terminal count), binary.
const CHANNEL2_ONE_SHOT: u8 = 0b1011_0000;
const PIT_HZ: u64 = 1_193_182;
/// The measuring window.
pub const CALIBRATION_MS: u64 = 10;
/// Polls of port B before giving up (a PIT that never counts down must not hang the boot): a backstop only.
const CALIBRATION_SPINS: u32 = 50_000_000;
/// Time stamp counter ticks before giving up: the bound that matters on hardware. A port read there takes 0.5 to
/// 2 us, so the spins above alone would stall a boot for 25 to 100 s where the PIT does not count (clock gated,
/// or absent); this is 10 ms of a 100 GHz counter, and 0.25 to 1 s of the 1 to 4 GHz of real ones.
const CALIBRATION_TSC_LIMIT: u64 = 1_000_000_000;

/// The PIT never signalled the end of the window.
#[derive(Debug, Clone, Copy)]
pub struct Timeout;

/// The slowest time stamp counter believed (100 MHz): a rate below it was measured against no timer at all (where
/// the PIT is absent, port B may read all ones, which looks like a window that ended at once).
pub const SLOWEST_TSC_PER_MS: u64 = 100_000;

/// TSC ticks per millisecond, measured over a [`CALIBRATION_MS`] window of PIT channel 2.
pub fn tsc_ticks_per_ms() -> Result<u64, Timeout> {
    let count = (PIT_HZ * CALIBRATION_MS / 1000) as u16;
    let [low, high] = count.to_le_bytes();
    // SAFETY: these ports belong to the PIT and port B; gating channel 2 with the speaker off is silent and
    // touches nothing else (channel 0, the system tick, is left alone).
    let start = unsafe {
        let port_b = inb(PORT_B);
        outb(PORT_B, (port_b & !0x02) | 0x01);
        outb(COMMAND, CHANNEL2_ONE_SHOT);
        outb(CHANNEL2_DATA, low);
        outb(CHANNEL2_DATA, high);
        rdtsc()
    };
    for _ in 0..CALIBRATION_SPINS {
        // SAFETY: reading port B has no side effect.
        let out = unsafe { inb(PORT_B) } & 0x20 != 0;
        let ticks = rdtsc().wrapping_sub(start);
        if out {
            let rate = ticks / CALIBRATION_MS;
            return (rate >= SLOWEST_TSC_PER_MS).then_some(rate).ok_or(Timeout);
        }
        if ticks > CALIBRATION_TSC_LIMIT {
            break;
        }
    }
    Err(Timeout)
}

/// TSC ticks per millisecond, measured against the ACPI PM timer at I/O port `port` (3.579545 MHz) over
/// [`CALIBRATION_MS`]: where the PIT does not count (gated off by the firmware of many UEFI PCs, or absent), as
/// Linux falls back on it. Its low 24 bits are read whatever the FADT says of its width, as Linux reads them: they
/// wrap only every 4.7 s. `None` when it does not count either.
pub fn tsc_ticks_per_ms_by_pm_timer(port: u16) -> Option<u64> {
    const PM_TIMER_HZ: u64 = 3_579_545;
    const MASK: u32 = 0xff_ffff;
    // SAFETY: the FADT names this port as the PM timer's, which is only read.
    let read = || unsafe { inl(port) } & MASK;
    let (first, start) = (read(), rdtsc());
    loop {
        let counted = u64::from(read().wrapping_sub(first) & MASK);
        let ticks = rdtsc().wrapping_sub(start);
        if counted >= PM_TIMER_HZ * CALIBRATION_MS / 1000 {
            let rate = ticks * PM_TIMER_HZ / (counted * 1000);
            return (rate >= SLOWEST_TSC_PER_MS).then_some(rate);
        }
        if ticks > CALIBRATION_TSC_LIMIT {
            return None;
        }
    }
}
