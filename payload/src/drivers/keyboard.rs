//! The keyboard: the PS/2 one through the i8042 controller, polled, its scancodes decoded by `keymap`, its lock
//! lights set by `leds`' exchange, polled along with the keys; and the USB keyboards' key events (`xhci`), taken
//! first by the same decoder, so that layouts, locks and Ctrl-C work alike on both. A PC without an i8042 (its
//! status port reads all ones) has no PS/2 keyboard, and its port is not read.

use super::xhci;
use crate::arch::port::{inb, outb};
use crate::clock;
use crate::keymap::{self, Decoder, Layout};
use crate::leds::{self, HeldLocks, Leds, CAPS_LOCK, NUM_LOCK, SCROLL_LOCK};
use crate::usb::Repeat;
use pc_keyboard::{DecodedKey, KeyCode, KeyEvent, KeyState};

const DATA: u16 = 0x60;
const STATUS: u16 = 0x64;
const STATUS_OUTPUT_FULL: u8 = 0x01;
/// The controller has not taken the last byte written yet.
const STATUS_INPUT_FULL: u8 = 0x02;
/// The byte waiting is from the mouse (auxiliary device), not the keyboard.
const STATUS_AUXILIARY: u8 = 0x20;
/// What the status port reads where there is no i8042 (no device answers the port): no real status.
const STATUS_ABSENT: u8 = 0xff;

/// Whether an i8042 answers its status port (a real one, or a firmware's emulation of one).
pub fn i8042_present() -> bool {
    // SAFETY: reading the i8042 status register has no side effect.
    unsafe { inb(STATUS) != STATUS_ABSENT }
}

/// Why a keymap cannot be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownKeymap;

impl core::fmt::Display for UnknownKeymap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "unknown keymap; known: ")?;
        for (i, name) in keymap::KEYMAP_NAMES.iter().enumerate() {
            write!(f, "{}{name}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

/// The keyboard and its decoding state (shift, ctrl, the locks, the chosen layout).
pub struct Keyboard {
    decoder: Decoder,
    /// The decoder keeps Caps and Num Lock; Scroll Lock only lights its light.
    scroll_lock: bool,
    held: HeldLocks,
    leds: Leds,
    /// The USB keyboards' key held, repeated as a PS/2 keyboard repeats its own.
    repeat: Repeat,
}

impl Keyboard {
    /// A US-layout keyboard. The i8042 is left as the firmware set it up (translation to scancode set 1).
    pub const fn new() -> Keyboard {
        Keyboard {
            decoder: Decoder::new(Layout::Us),
            scroll_lock: false,
            held: HeldLocks::new(),
            leds: Leds::new(),
            repeat: Repeat::new(),
        }
    }

    /// Takes the locks the firmware kept (its keyboard flags, the byte at 0x417 of the BIOS data area): Caps Lock
    /// pressed at GRUB's menu is still on for a passphrase, as its light says. The lights are then sent, so that
    /// they show the locks even where the firmware's lights did not match its flags.
    pub fn take_firmware_locks(&mut self, bios_flags: u8) {
        self.set_locks(leds::from_bios_flags(bios_flags));
    }

    /// The locks on, as a mask of lights.
    fn locks(&self) -> u8 {
        let modifiers = self.decoder.modifiers();
        let mut locks = 0;
        if modifiers.capslock {
            locks |= CAPS_LOCK;
        }
        if modifiers.numlock {
            locks |= NUM_LOCK;
        }
        if self.scroll_lock {
            locks |= SCROLL_LOCK;
        }
        locks
    }

    /// Turns the locks to `locks` (a mask of lights), through the decoder's own toggles.
    fn set_locks(&mut self, locks: u8) {
        let differ = self.locks() ^ locks;
        for (light, code) in [
            (CAPS_LOCK, KeyCode::CapsLock),
            (NUM_LOCK, KeyCode::NumpadLock),
        ] {
            if differ & light != 0 {
                // A press of the lock key toggles it (a fresh Num Lock press, not the Pause key's sequence).
                let _ = self
                    .decoder
                    .process_keyevent(KeyEvent::new(code, KeyState::Down));
            }
        }
        self.scroll_lock = locks & SCROLL_LOCK != 0;
        self.leds.want(self.locks());
    }

    /// Switches the layout by name (see `keymap::KEYMAP_NAMES`).
    pub fn set_keymap(&mut self, name: &str) -> Result<(), UnknownKeymap> {
        let layout = keymap::layout_by_name(name).ok_or(UnknownKeymap)?;
        let locks = self.locks();
        self.decoder = Decoder::new(layout);
        // A new decoder starts with its own locks: keep the user's.
        self.set_locks(locks);
        Ok(())
    }

    /// A decoded key, if a USB keyboard's event or a PS/2 byte was waiting and completed one; also moves the
    /// lights' exchanges on. Never waits.
    pub fn poll(&mut self) -> Option<DecodedKey> {
        // A USB keyboard repeats no key held (`repeat` does), so its lock keys need no filter.
        let now = clock::time_ms();
        while let Some(event) = xhci::next_key(self.locks()) {
            self.repeat.note(&event, now);
            if let Some(key) = self.key(event) {
                return Some(key);
            }
        }
        if let Some(event) = self.repeat.due(now) {
            return self.key(event);
        }
        let key = self.poll_byte();
        // After the byte waiting was taken: an answer that came while the payload did not poll counts before the
        // clock is looked at.
        // SAFETY: reading the i8042 status register has no side effect.
        if unsafe { inb(STATUS) } & STATUS_INPUT_FULL == 0 {
            if let Some(byte) = self.leds.to_send(clock::time_ms()) {
                // SAFETY: the controller's input buffer is empty; a byte written to the data port goes to the
                // keyboard, which answers it through the output buffer (taken by `leds`).
                unsafe { outb(DATA, byte) };
            }
        }
        key
    }

    /// The key the byte waiting completes, if one is waiting and is neither the mouse's nor an answer.
    fn poll_byte(&mut self) -> Option<DecodedKey> {
        // SAFETY: reading the i8042 status register has no side effect.
        let status = unsafe { inb(STATUS) };
        if status & STATUS_OUTPUT_FULL == 0 || status == STATUS_ABSENT {
            return None;
        }
        // SAFETY: the output buffer is full, so reading the data port pops exactly that byte.
        let byte = unsafe { inb(DATA) };
        if status & STATUS_AUXILIARY != 0 || self.leds.answer(byte) {
            return None;
        }
        let event = self.decoder.add_byte(byte)?;
        let light = match event.code {
            KeyCode::CapsLock => CAPS_LOCK,
            KeyCode::NumpadLock => NUM_LOCK,
            KeyCode::ScrollLock => SCROLL_LOCK,
            _ => 0,
        };
        if light != 0 && !self.held.counts(light, event.state == KeyState::Down) {
            return None;
        }
        self.key(event)
    }

    /// What a key event gives; a Scroll Lock pressed turns it, and the lights are asked to follow the locks.
    fn key(&mut self, event: KeyEvent) -> Option<DecodedKey> {
        let key = self.decoder.process_keyevent(event);
        if key == Some(DecodedKey::RawKey(KeyCode::ScrollLock)) {
            self.scroll_lock = !self.scroll_lock;
        }
        self.leds.want(self.locks());
        key
    }
}
