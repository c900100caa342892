//! Keyboard layouts by name, for `set_keymap`; the scancode decoding itself is the pc-keyboard crate.

use pc_keyboard::layouts::{AnyLayout, Azerty, Colemak, De105Key, Dvorak104Key, FiSe105Key, Jis109Key, No105Key};
use pc_keyboard::layouts::{Uk105Key, Us104Key};

/// The names `set_keymap` accepts.
pub const KEYMAP_NAMES: &[&str] = &["us", "uk", "de", "fr", "no", "fi", "se", "jp", "dvorak", "colemak"];

/// The layout with this name (see [`KEYMAP_NAMES`]), or `None`.
pub fn layout_by_name(name: &str) -> Option<AnyLayout> {
    Some(match name {
        "us" => AnyLayout::Us104Key(Us104Key),
        "uk" => AnyLayout::Uk105Key(Uk105Key),
        "de" => AnyLayout::De105Key(De105Key),
        "fr" => AnyLayout::Azerty(Azerty),
        "no" => AnyLayout::No105Key(No105Key),
        "fi" | "se" => AnyLayout::FiSe105Key(FiSe105Key),
        "jp" => AnyLayout::Jis109Key(Jis109Key),
        "dvorak" => AnyLayout::Dvorak104Key(Dvorak104Key),
        "colemak" => AnyLayout::Colemak(Colemak),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pc_keyboard::{DecodedKey, HandleControl, Keyboard, ScancodeSet1};

    fn decode(layout: AnyLayout, bytes: &[u8]) -> alloc::vec::Vec<DecodedKey> {
        let mut keyboard = Keyboard::new(ScancodeSet1::new(), layout, HandleControl::MapLettersToUnicode);
        bytes
            .iter()
            .filter_map(|&b| keyboard.add_byte(b).ok().flatten())
            .filter_map(|event| keyboard.process_keyevent(event))
            .collect()
    }

    #[test]
    fn every_listed_name_has_a_layout() {
        for name in KEYMAP_NAMES {
            assert!(layout_by_name(name).is_some(), "{name}");
        }
        assert!(layout_by_name("klingon").is_none());
    }

    #[test]
    fn the_same_key_differs_between_us_and_de() {
        // Set 1 make/break for the key right of T: 'y' on US, 'z' on German keyboards.
        let us = decode(layout_by_name("us").unwrap(), &[0x15, 0x95]);
        let de = decode(layout_by_name("de").unwrap(), &[0x15, 0x95]);
        assert_eq!(us, [DecodedKey::Unicode('y')]);
        assert_eq!(de, [DecodedKey::Unicode('z')]);
    }

    #[test]
    fn ctrl_u_becomes_the_kill_line_character() {
        // Left Ctrl down, U down/up, Ctrl up.
        let keys = decode(layout_by_name("us").unwrap(), &[0x1d, 0x16, 0x96, 0x9d]);
        assert_eq!(keys, [DecodedKey::Unicode('\u{15}')]);
    }
}
