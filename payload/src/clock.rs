//! Milliseconds since the payload started: the time stamp counter, calibrated once against the PIT (or the ACPI PM
//! timer).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::cpu::rdtsc;
use crate::drivers::pit;

static START_TSC: AtomicU64 = AtomicU64::new(0);
/// A guess (a 2 GHz counter) until `calibrate` measures it.
static TICKS_PER_MS: AtomicU64 = AtomicU64::new(2_000_000);

/// Marks time zero. Called first thing on entry.
pub fn start() {
    START_TSC.store(rdtsc(), Ordering::Relaxed);
}

/// Measures the counter's rate against the PIT, or else against the ACPI PM timer (at the port `pm_timer` looks
/// up), and says which: `None` when neither counted (the guess stays, and the caller says so).
pub fn calibrate(pm_timer: impl FnOnce() -> Option<u16>) -> Option<(u64, &'static str)> {
    let (rate, by) = match pit::tsc_ticks_per_ms() {
        Ok(rate) => (rate, "the PIT"),
        Err(_) => (
            pit::tsc_ticks_per_ms_by_pm_timer(pm_timer()?)?,
            "the ACPI PM timer: no PIT",
        ),
    };
    TICKS_PER_MS.store(rate, Ordering::Relaxed);
    Some((rate, by))
}

/// Milliseconds since `start`.
pub fn time_ms() -> u64 {
    rdtsc().wrapping_sub(START_TSC.load(Ordering::Relaxed)) / TICKS_PER_MS.load(Ordering::Relaxed)
}

/// Waits until `done` holds, for at most `ms` milliseconds (asked at least once, and once more after the time is
/// up, however long the machine stalled between two asks): whether it did. The drivers' bounded waits on a device.
pub fn wait_until(ms: u64, done: impl Fn() -> bool) -> bool {
    let start = time_ms();
    loop {
        let up = time_ms().saturating_sub(start) > ms;
        if done() {
            return true;
        }
        if up {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Waits `ms` milliseconds (busy: nothing else runs on this single CPU).
pub fn sleep_ms(ms: u64) {
    sleep_ms_unless(ms, || false);
}

/// Waits `ms` milliseconds, or until `stop` says so (asked as the wait goes on).
pub fn sleep_ms_unless(ms: u64, mut stop: impl FnMut() -> bool) {
    let end = time_ms().saturating_add(ms);
    while time_ms() < end && !stop() {
        core::hint::spin_loop();
    }
}
