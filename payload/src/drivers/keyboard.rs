//! The PS/2 keyboard through the i8042 controller, polled; scancodes decoded by pc-keyboard.

use crate::arch::port::inb;
use crate::keymap::{self, Layout};
use pc_keyboard::{DecodedKey, HandleControl, Keyboard as Decoder, ScancodeSet1};

const DATA: u16 = 0x60;
const STATUS: u16 = 0x64;
const STATUS_OUTPUT_FULL: u8 = 0x01;
/// The byte waiting is from the mouse (auxiliary device), not the keyboard.
const STATUS_AUXILIARY: u8 = 0x20;

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

/// The keyboard and its decoding state (shift, ctrl, the chosen layout).
pub struct Keyboard {
    decoder: Decoder<Layout, ScancodeSet1>,
}

impl Keyboard {
    /// A US-layout keyboard. The i8042 is left as the firmware set it up (translation to scancode set 1).
    pub const fn new() -> Keyboard {
        Keyboard {
            decoder: Self::decoder(Layout::Us),
        }
    }

    const fn decoder(layout: Layout) -> Decoder<Layout, ScancodeSet1> {
        Decoder::new(
            ScancodeSet1::new(),
            layout,
            HandleControl::MapLettersToUnicode,
        )
    }

    /// Switches the layout by name (see `keymap::KEYMAP_NAMES`).
    pub fn set_keymap(&mut self, name: &str) -> Result<(), UnknownKeymap> {
        let layout = keymap::layout_by_name(name).ok_or(UnknownKeymap)?;
        self.decoder = Self::decoder(layout);
        Ok(())
    }

    /// A decoded key, if a byte was waiting and completed one. Never waits.
    pub fn poll(&mut self) -> Option<DecodedKey> {
        // SAFETY: reading the i8042 status register has no side effect.
        let status = unsafe { inb(STATUS) };
        if status & STATUS_OUTPUT_FULL == 0 {
            return None;
        }
        // SAFETY: the output buffer is full, so reading the data port pops exactly that byte.
        let byte = unsafe { inb(DATA) };
        if status & STATUS_AUXILIARY != 0 {
            return None;
        }
        let event = self.decoder.add_byte(byte).ok()??;
        self.decoder.process_keyevent(event)
    }
}
