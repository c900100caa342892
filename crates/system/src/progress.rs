//! A live progress line for long key derivations (`unlocking hd0p2 ... 40%`), shown only once the work has
//! taken more than a second, so quick derivations stay silent.

use alloc::format;

use crate::Machine;
use bootscript_crypto::PROGRESS_UNKNOWN;

/// How long work runs before its progress line appears.
const QUIET_MS: u64 = 1000;

pub(crate) struct Progress<'a, M: Machine> {
    machine: &'a mut M,
    label: &'a str,
    start: u64,
    shown: Option<u32>,
}

impl<'a, M: Machine> Progress<'a, M> {
    pub(crate) fn new(machine: &'a mut M, label: &'a str) -> Progress<'a, M> {
        let start = machine.time_ms();
        Progress {
            machine,
            label,
            start,
            shown: None,
        }
    }

    /// Called by the derivation a few dozen times at most, so reading the clock here costs nothing.
    /// `PROGRESS_UNKNOWN` (slow work that cannot report a percentage, a large Argon2) shows the line at once,
    /// without a number, since nothing will be called again until the work is done.
    pub(crate) fn update(&mut self, percent: u32) {
        if self.shown == Some(percent) {
            return;
        }
        if percent == PROGRESS_UNKNOWN {
            self.machine.write(&format!("\r{} ...", self.label));
            self.shown = Some(percent);
            return;
        }
        if self.machine.time_ms().saturating_sub(self.start) >= QUIET_MS {
            self.machine
                .write(&format!("\r{} ... {}%", self.label, percent.min(100)));
            self.shown = Some(percent);
        }
    }

    /// Ends the line, if one was shown: `done`, or `failed` when the work did not succeed (a wrong
    /// passphrase says why right after).
    pub(crate) fn finish(self, succeeded: bool) {
        if self.shown.is_some() {
            let outcome = if succeeded { "done" } else { "failed" };
            self.machine
                .write(&format!("\r{} ... {outcome}\n", self.label));
        }
    }
}
