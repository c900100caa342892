//! The keyboard's lock lights (Caps, Num and Scroll Lock): the PS/2 "set LEDs" exchange as a small state machine.
//!
//! The exchange is command 0xED, the keyboard's ACK (0xFA), a mask, and a second ACK. The keyboard answers through
//! the same data port that brings the keys, so the driver keeps polling for keys and hands every byte here first:
//! an answer is taken here, anything else is a key. A keyboard that never answers (none there, or a firmware's
//! emulation without lights) is given up on after [`ANSWER_MS`], and not asked again until the lights change.
//!
//! The command is always followed by its mask, answered or not: a keyboard that got 0xED stops sending keys until
//! its mask comes (the IBM PS/2 reference), so an answer missed (the payload did not poll for a while, in a long
//! disk read) must not leave it waiting. A mask sent to a keyboard that did not get the command is no command
//! (those are 0xED to 0xFF); it answers RESEND, which ends the exchange after [`RESENDS`] tries.
//!
//! Pure, so that it is tested on the host; `drivers::keyboard` does the port accesses.

/// The keyboard command that sets the lights; the mask follows it.
pub const SET_LEDS: u8 = 0xED;
/// The keyboard's acknowledgement of a command or data byte.
pub const ACK: u8 = 0xFA;
/// The keyboard asks for the last byte again.
pub const RESEND: u8 = 0xFE;

/// Scroll Lock's light in the mask.
pub const SCROLL_LOCK: u8 = 1 << 0;
/// Num Lock's light.
pub const NUM_LOCK: u8 = 1 << 1;
/// Caps Lock's light.
pub const CAPS_LOCK: u8 = 1 << 2;

/// How long the keyboard has to answer each byte before it is given up on. A keyboard answers in well under a
/// millisecond; Linux's i8042 driver waits about as long.
pub const ANSWER_MS: u64 = 100;
/// How many times a byte is sent again when the keyboard asks for it (RESEND) before the change is given up on.
pub const RESENDS: u8 = 3;

/// The lock state the BIOS keeps in its data area (the byte at 0x417: bit 4 Scroll, 5 Num, 6 Caps Lock), as a
/// mask of lights. GRUB reads keys through the BIOS on a PC, so this is what the user set before the payload ran,
/// and what the lights show.
pub fn from_bios_flags(flags: u8) -> u8 {
    (flags >> 4) & (SCROLL_LOCK | NUM_LOCK | CAPS_LOCK)
}

/// The lock keys held down. A key held long enough repeats its press (typematic repeat), and a lock must toggle
/// once per press, as in Linux, not flicker while the key is held.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeldLocks(u8);

impl HeldLocks {
    /// None held.
    pub const fn new() -> HeldLocks {
        HeldLocks(0)
    }

    /// Notes a press (`down`) or release of the lock key whose light is `light`; `false` for a press of a key
    /// already held, which must toggle nothing.
    pub fn counts(&mut self, light: u8, down: bool) -> bool {
        let held = self.0 & light != 0;
        if down {
            self.0 |= light;
        } else {
            self.0 &= !light;
        }
        !(down && held)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing sent that is not answered.
    Idle,
    /// [`SET_LEDS`] is next (a change begins, or the keyboard asked for it again).
    CommandNext,
    /// [`SET_LEDS`] sent; waiting for its ACK.
    Command,
    /// The command was acknowledged (or the keyboard asked for the mask again): the mask is next.
    MaskNext,
    /// The mask sent; waiting for its ACK.
    Mask,
}

/// The lights wanted, the lights the keyboard was last told, and where an exchange stands.
#[derive(Debug, Clone)]
pub struct Leds {
    wanted: u8,
    /// What the keyboard shows, as far as is known (`None` at first: the firmware may have left anything).
    shown: Option<u8>,
    /// The mask of the exchange under way.
    sending: u8,
    step: Step,
    /// When the byte now waiting for an answer was sent.
    sent_ms: u64,
    resends: u8,
}

impl Default for Leds {
    fn default() -> Self {
        Self::new()
    }
}

impl Leds {
    /// No lights wanted, nothing known about what is shown.
    pub const fn new() -> Leds {
        Leds {
            wanted: 0,
            shown: None,
            sending: 0,
            step: Step::Idle,
            sent_ms: 0,
            resends: 0,
        }
    }

    /// Asks for these lights (a mask of [`CAPS_LOCK`], [`NUM_LOCK`], [`SCROLL_LOCK`]); they are sent when the
    /// keyboard is free.
    pub fn want(&mut self, lights: u8) {
        self.wanted = lights & (SCROLL_LOCK | NUM_LOCK | CAPS_LOCK);
    }

    /// The byte to write to the keyboard now, if any, `now_ms` being the clock. Call it only when the controller
    /// can take a byte (its input buffer is empty).
    pub fn to_send(&mut self, now_ms: u64) -> Option<u8> {
        if self.step == Step::Idle && self.shown != Some(self.wanted) {
            self.sending = self.wanted;
            self.resends = 0;
            self.step = Step::CommandNext;
        }
        let (byte, then) = match self.step {
            Step::CommandNext => (SET_LEDS, Step::Command),
            Step::MaskNext => (self.sending, Step::Mask),
            // No answer to the command: the mask all the same (see the module's text).
            Step::Command if now_ms.saturating_sub(self.sent_ms) > ANSWER_MS => {
                (self.sending, Step::Mask)
            }
            Step::Mask if now_ms.saturating_sub(self.sent_ms) > ANSWER_MS => {
                self.give_up();
                return None;
            }
            _ => return None,
        };
        self.step = then;
        self.sent_ms = now_ms;
        Some(byte)
    }

    /// A byte from the keyboard: `true` if it was an answer to the exchange (not a key). A late ACK, after the
    /// exchange was given up on, is taken too: 0xFA is no key in scancode set 1 (what the controller delivers,
    /// translating, as the payload leaves it), so a key's byte is never taken.
    pub fn answer(&mut self, byte: u8) -> bool {
        match (self.step, byte) {
            (Step::Command, ACK) => self.step = Step::MaskNext,
            (Step::Mask, ACK) => {
                self.shown = Some(self.sending);
                self.step = Step::Idle;
            }
            (Step::Command | Step::Mask, RESEND) if self.resends < RESENDS => {
                self.resends += 1;
                self.step = match self.step {
                    Step::Command => Step::CommandNext,
                    _ => Step::MaskNext,
                };
            }
            (Step::Command | Step::Mask, RESEND) => self.give_up(),
            (_, ACK) => {}
            _ => return false,
        }
        true
    }

    /// No answer (or too many RESENDs): the keyboard has no lights to set, or none is there. The change is not
    /// asked for again; the next one is.
    fn give_up(&mut self) {
        self.shown = Some(self.sending);
        self.step = Step::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the exchange against a keyboard that answers each byte with `answer` (None: silence), from `now`;
    /// returns the bytes written.
    fn exchange(leds: &mut Leds, now: u64, answer: impl Fn(u8) -> Option<u8>) -> Vec<u8> {
        let mut written = Vec::new();
        while let Some(byte) = leds.to_send(now) {
            written.push(byte);
            if let Some(reply) = answer(byte) {
                assert!(
                    leds.answer(reply),
                    "the reply {reply:#x} is not taken as an answer"
                );
            }
        }
        written
    }

    #[test]
    fn the_bios_flags_become_lights() {
        assert_eq!(from_bios_flags(0x00), 0);
        assert_eq!(from_bios_flags(0x40), CAPS_LOCK);
        assert_eq!(from_bios_flags(0x20), NUM_LOCK);
        assert_eq!(from_bios_flags(0x10), SCROLL_LOCK);
        // Other bits (shift, ctrl, alt, insert held) are no lights.
        assert_eq!(from_bios_flags(0xFF), CAPS_LOCK | NUM_LOCK | SCROLL_LOCK);
        assert_eq!(from_bios_flags(0x8F), 0);
    }

    #[test]
    fn a_held_lock_key_toggles_once() {
        let mut held = HeldLocks::new();
        assert!(held.counts(CAPS_LOCK, true));
        // Repeats while held count for nothing; another lock key does.
        assert!(!held.counts(CAPS_LOCK, true));
        assert!(!held.counts(CAPS_LOCK, true));
        assert!(held.counts(NUM_LOCK, true));
        assert!(held.counts(NUM_LOCK, false));
        assert!(!held.counts(CAPS_LOCK, true));
        assert!(held.counts(CAPS_LOCK, false));
        // Released: the next press counts.
        assert!(held.counts(CAPS_LOCK, true));
        assert!(held.counts(CAPS_LOCK, false));
        assert!(held.counts(SCROLL_LOCK, true));
    }

    #[test]
    fn the_lights_are_sent_once_then_only_when_they_change() {
        let mut leds = Leds::new();
        leds.want(NUM_LOCK);
        // Unknown at first: sent even though nothing changed.
        assert_eq!(exchange(&mut leds, 0, |_| Some(ACK)), [SET_LEDS, NUM_LOCK]);
        assert_eq!(exchange(&mut leds, 1, |_| Some(ACK)), [0u8; 0]);
        leds.want(NUM_LOCK);
        assert_eq!(exchange(&mut leds, 2, |_| Some(ACK)), [0u8; 0]);
        leds.want(NUM_LOCK | CAPS_LOCK);
        assert_eq!(
            exchange(&mut leds, 3, |_| Some(ACK)),
            [SET_LEDS, NUM_LOCK | CAPS_LOCK]
        );
        // Only the three lights are sent.
        leds.want(0xF8 | SCROLL_LOCK);
        assert_eq!(
            exchange(&mut leds, 4, |_| Some(ACK)),
            [SET_LEDS, SCROLL_LOCK]
        );
    }

    #[test]
    fn keys_between_the_bytes_of_an_exchange_stay_keys() {
        let mut leds = Leds::new();
        leds.want(CAPS_LOCK);
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        // A key typed before the keyboard answered: not taken.
        assert!(!leds.answer(0x1E));
        assert!(!leds.answer(0x9E));
        assert_eq!(leds.to_send(1), None, "nothing before the answer");
        assert!(leds.answer(ACK));
        assert!(!leds.answer(0x1E));
        assert_eq!(leds.to_send(1), Some(CAPS_LOCK));
        assert!(!leds.answer(0x9E));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(2), None);
        // A late or stray ACK is taken, never a key; any other byte is a key.
        assert!(leds.answer(ACK));
        assert!(!leds.answer(RESEND));
    }

    #[test]
    fn a_change_during_an_exchange_is_sent_after_it() {
        let mut leds = Leds::new();
        leds.want(CAPS_LOCK);
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        leds.want(CAPS_LOCK | NUM_LOCK);
        assert!(leds.answer(ACK));
        assert_eq!(
            leds.to_send(0),
            Some(CAPS_LOCK),
            "the exchange under way ends as begun"
        );
        assert!(leds.answer(ACK));
        assert_eq!(
            exchange(&mut leds, 1, |_| Some(ACK)),
            [SET_LEDS, CAPS_LOCK | NUM_LOCK]
        );
    }

    #[test]
    fn a_byte_the_keyboard_asks_for_again_is_sent_again_a_few_times() {
        let mut leds = Leds::new();
        leds.want(NUM_LOCK);
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        assert!(leds.answer(RESEND));
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(0), Some(NUM_LOCK));
        assert!(leds.answer(RESEND));
        assert_eq!(leds.to_send(0), Some(NUM_LOCK));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(0), None);

        // A keyboard that always asks again is given up on after RESENDS, and not asked again for these lights.
        leds.want(CAPS_LOCK);
        let written = exchange(&mut leds, 1, |_| Some(RESEND));
        assert_eq!(written, [SET_LEDS; 1 + RESENDS as usize]);
        assert_eq!(leds.to_send(1_000), None);
        // The next change is tried again.
        leds.want(0);
        assert_eq!(leds.to_send(1_001), Some(SET_LEDS));
    }

    #[test]
    fn a_silent_keyboard_gets_its_mask_all_the_same_then_is_given_up_on() {
        let mut leds = Leds::new();
        leds.want(NUM_LOCK);
        assert_eq!(leds.to_send(10), Some(SET_LEDS));
        assert_eq!(leds.to_send(10 + ANSWER_MS), None, "still waiting");
        // No ACK: the mask goes anyway, so that a keyboard whose answer was missed does not wait for it forever.
        assert_eq!(leds.to_send(11 + ANSWER_MS), Some(NUM_LOCK));
        assert_eq!(leds.to_send(11 + 2 * ANSWER_MS), None, "still waiting");
        assert_eq!(leds.to_send(12 + 2 * ANSWER_MS), None, "given up");
        assert_eq!(leds.to_send(1_000), None, "not asked again");
        // Late answers are no keys.
        assert!(leds.answer(ACK));
        assert!(leds.answer(ACK));
        leds.want(NUM_LOCK | CAPS_LOCK);
        assert_eq!(leds.to_send(1_000), Some(SET_LEDS));
        // Silent after the command's ACK.
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(1_000), Some(NUM_LOCK | CAPS_LOCK));
        assert_eq!(leds.to_send(1_001 + ANSWER_MS), None);
        assert_eq!(leds.to_send(5_000), None);
        // A clock that went backwards is no timeout.
        leds.want(0);
        assert_eq!(leds.to_send(5_000), Some(SET_LEDS));
        assert_eq!(leds.to_send(4_000), None);
        assert!(leds.answer(ACK));
    }

    #[test]
    fn a_change_after_an_unanswered_mask_goes_out_once_its_wait_ends() {
        // The mask is given up on ANSWER_MS after it went, not later: a change asked for meanwhile goes next.
        let mut leds = Leds::new();
        leds.want(NUM_LOCK);
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(0), Some(NUM_LOCK));
        leds.want(CAPS_LOCK);
        assert_eq!(leds.to_send(ANSWER_MS), None, "still waiting");
        assert_eq!(leds.to_send(ANSWER_MS + 1), None, "given up");
        assert_eq!(leds.to_send(ANSWER_MS + 1), Some(SET_LEDS));
    }

    #[test]
    fn an_answer_missed_for_seconds_still_ends_the_exchange() {
        // The command went out, then the payload read a kernel for seconds without polling: the ACK has long
        // been waiting. It is taken first, then the mask goes.
        let mut leds = Leds::new();
        leds.want(CAPS_LOCK);
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(5_000), Some(CAPS_LOCK));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(5_001), None);
        // Had the clock been looked at first, the mask still goes, and both ACKs are taken.
        leds.want(0);
        assert_eq!(leds.to_send(6_000), Some(SET_LEDS));
        assert_eq!(leds.to_send(9_000), Some(0));
        assert!(leds.answer(ACK));
        assert!(leds.answer(ACK));
        assert_eq!(leds.to_send(9_001), None);
    }

    #[test]
    fn a_mask_the_keyboard_takes_for_a_bad_command_ends_after_its_resends() {
        // The keyboard never got the command (or reset): the mask is no command to it, and it asks again.
        let mut leds = Leds::new();
        leds.want(SCROLL_LOCK);
        assert_eq!(leds.to_send(0), Some(SET_LEDS));
        assert_eq!(leds.to_send(1 + ANSWER_MS), Some(SCROLL_LOCK));
        for _ in 0..RESENDS {
            assert!(leds.answer(RESEND));
            assert_eq!(leds.to_send(2 + ANSWER_MS), Some(SCROLL_LOCK));
        }
        assert!(leds.answer(RESEND));
        assert_eq!(leds.to_send(3 + ANSWER_MS), None);
        assert_eq!(leds.to_send(10_000), None);
    }
}
