//! Keyboard layouts by name, for `set_keymap`; the scancode decoding itself is the pc-keyboard crate.
//!
//! Only a few layouts are compiled in: each costs about 3.5 KiB of payload (pc-keyboard's `AnyLayout`
//! with all ten costs 17 KiB). Adding one is a line in `Layout` and one in `layout_by_name`.

use pc_keyboard::layouts::{Azerty, De105Key, Uk105Key, Us104Key};
use pc_keyboard::{DecodedKey, HandleControl, KeyCode, KeyboardLayout, Modifiers};

/// The names `set_keymap` accepts.
pub const KEYMAP_NAMES: &[&str] = &["us", "uk", "de", "fr"];

/// One of the compiled-in layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Us,
    Uk,
    De,
    Fr,
}

impl KeyboardLayout for Layout {
    fn map_keycode(
        &self,
        keycode: KeyCode,
        modifiers: &Modifiers,
        handle_ctrl: HandleControl,
    ) -> DecodedKey {
        match self {
            Layout::Us => Us104Key.map_keycode(keycode, modifiers, handle_ctrl),
            Layout::Uk => Uk105Key.map_keycode(keycode, modifiers, handle_ctrl),
            Layout::De => De105Key.map_keycode(keycode, modifiers, handle_ctrl),
            Layout::Fr => Azerty.map_keycode(keycode, modifiers, handle_ctrl),
        }
    }
}

/// The layout with this name (see [`KEYMAP_NAMES`]), or `None`.
pub fn layout_by_name(name: &str) -> Option<Layout> {
    Some(match name {
        "us" => Layout::Us,
        "uk" => Layout::Uk,
        "de" => Layout::De,
        "fr" => Layout::Fr,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pc_keyboard::{Keyboard, ScancodeSet1};

    fn decode(layout: Layout, bytes: &[u8]) -> alloc::vec::Vec<DecodedKey> {
        let mut keyboard = Keyboard::new(
            ScancodeSet1::new(),
            layout,
            HandleControl::MapLettersToUnicode,
        );
        let mut keys = alloc::vec::Vec::new();
        for &byte in bytes {
            if let Ok(Some(event)) = keyboard.add_byte(byte) {
                // Modifier keys decode to raw keys; only the characters matter here.
                keys.extend(
                    keyboard
                        .process_keyevent(event)
                        .filter(|k| matches!(k, DecodedKey::Unicode(_))),
                );
            }
        }
        keys
    }

    #[test]
    fn every_listed_name_has_a_layout() {
        for name in KEYMAP_NAMES {
            assert!(layout_by_name(name).is_some(), "{name}");
        }
        // Each name is its own layout (the decoding tests below take the layouts, not the names).
        let layouts = [Layout::Us, Layout::Uk, Layout::De, Layout::Fr];
        for (name, layout) in KEYMAP_NAMES.iter().zip(layouts) {
            assert_eq!(layout_by_name(name), Some(layout), "{name}");
        }
        assert!(layout_by_name("klingon").is_none());
        // And every layout is listed: the names are what an unknown keymap's error offers.
        for layout in layouts {
            assert!(
                KEYMAP_NAMES
                    .iter()
                    .any(|name| layout_by_name(name) == Some(layout)),
                "{layout:?}"
            );
        }
    }

    #[test]
    fn the_same_key_differs_between_layouts() {
        // Set 1 make/break for the key right of T: 'y' on US, 'z' on German keyboards.
        assert_eq!(
            decode(Layout::Us, &[0x15, 0x95]),
            [DecodedKey::Unicode('y')]
        );
        assert_eq!(
            decode(Layout::De, &[0x15, 0x95]),
            [DecodedKey::Unicode('z')]
        );
        // The key right of Tab: 'q' on US, 'a' on French keyboards.
        assert_eq!(
            decode(Layout::Fr, &[0x10, 0x90]),
            [DecodedKey::Unicode('a')]
        );
        // Shift-2: '@' on US, '"' on UK keyboards.
        assert_eq!(
            decode(Layout::Uk, &[0x2a, 0x03, 0x83, 0xaa]),
            [DecodedKey::Unicode('"')]
        );
    }

    #[test]
    fn ctrl_u_becomes_the_kill_line_character() {
        // Left Ctrl down, U down/up, Ctrl up.
        let keys = decode(Layout::Us, &[0x1d, 0x16, 0x96, 0x9d]);
        assert_eq!(keys, [DecodedKey::Unicode('\u{15}')]);
    }
}
