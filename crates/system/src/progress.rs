//! A live progress line for long key derivations (`unlocking hd0p2 ... 40%`), shown only once the work has
//! taken more than a second, so quick derivations stay silent.

use alloc::format;

use crate::Machine;

/// How long work runs before its progress line appears.
const QUIET_MS: u64 = 1000;

pub(crate) struct Progress<'a, M: Machine> {
    machine: &'a mut M,
    label: &'a str,
    start: u64,
    shown: Option<u32>,
    /// The user pressed Ctrl-C: the work was told to stop.
    stopped: bool,
}

impl<'a, M: Machine> Progress<'a, M> {
    pub(crate) fn new(machine: &'a mut M, label: &'a str) -> Progress<'a, M> {
        let start = machine.time_ms();
        Progress {
            machine,
            label,
            start,
            shown: None,
            stopped: false,
        }
    }

    /// Called by the derivation every few thousand iterations or blocks (a few milliseconds of work at the
    /// least), so asking the consoles for Ctrl-C and reading the clock here cost nothing; returns whether to go
    /// on.
    pub(crate) fn update(&mut self, percent: u32) -> bool {
        if self.machine.interrupted() {
            self.stopped = true;
            return false;
        }
        if self.shown == Some(percent) {
            return true;
        }
        if self.machine.time_ms().saturating_sub(self.start) >= QUIET_MS {
            self.machine
                .write(&format!("\r{} ... {}%", self.label, percent.min(100)));
            self.shown = Some(percent);
        }
        true
    }

    /// Ends the line, if one was shown: `done`, `failed` when the work did not succeed (a wrong passphrase says
    /// why right after), or `stopped` after a Ctrl-C. Returns whether it was stopped so.
    pub(crate) fn finish(self, succeeded: bool) -> bool {
        if self.shown.is_some() {
            let outcome = match (self.stopped, succeeded) {
                (true, _) => "stopped",
                (false, true) => "done",
                (false, false) => "failed",
            };
            self.machine
                .write(&format!("\r{} ... {outcome}\n", self.label));
        }
        self.stopped
    }
}
