//! Keyboard layouts by name, for `set_keymap`: what each key of the main block gives, as a table of our own per
//! layout; the scancodes and modifiers are decoded by the pc-keyboard crate, which asks the layout for the rest.
//!
//! The four layouts give what pc-keyboard 0.8's `Us104Key`, `Uk105Key`, `De105Key` and `Azerty` give, for every
//! key of scancode set 1 and every state of the modifiers (the tests below compare them), save that Ctrl with the
//! German Y and Z keys gives Ctrl-Y and Ctrl-Z (pc-keyboard gives Ctrl-Z and Ctrl-T). The tables take 9 KB less of
//! the stripped payload (2 KB packed) than those layouts' code, a `match` per layout.

use pc_keyboard::{DecodedKey, HandleControl, KeyCode, KeyboardLayout, Modifiers};

/// The names `set_keymap` accepts, in the order of [`Layout`].
pub const KEYMAP_NAMES: &[&str] = &["us", "uk", "de", "fr"];

/// One of the compiled-in layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Us,
    Uk,
    De,
    Fr,
}

/// The keys of the main block whose meaning differs between layouts, in the order of each layout's table: the
/// row of digits, the three rows of letters (the ISO key left of Z, `Oem5`, starts the last).
const KEYS: [KeyCode; 48] = {
    use KeyCode::*;
    [
        Oem8, Key1, Key2, Key3, Key4, Key5, Key6, Key7, Key8, Key9, Key0, OemMinus,
        OemPlus, //
        Q, W, E, R, T, Y, U, I, O, P, Oem4, Oem6, Oem7, //
        A, S, D, F, G, H, J, K, L, Oem1, Oem3, //
        Oem5, Z, X, C, V, B, N, M, OemComma, OemPeriod, Oem2,
    ]
};

/// The US layout (104 keys, ANSI).
///
/// Each layout's table: one entry per key of [`KEYS`], separated by spaces. An entry is a list of rules, each a
/// condition and the character it gives (`a` AltGr held, `s` Shift held, `C` Shift or Caps Lock but not both),
/// then the character the key gives otherwise. An entry that ends in a lowercase ASCII letter is a letter key:
/// Ctrl with it gives its control character, and Shift or Caps Lock (not both) its capital, after the rules. An
/// empty entry is the US layout's; an empty one there is a key that gives no character. A layout more is a table
/// more, a variant of [`Layout`], a name in [`KEYMAP_NAMES`] and in `layout_by_name`, and a reference layout in
/// the tests.
const US: &str = concat!(
    "s~` s!1 s@2 s#3 s$4 s%5 s^6 s&7 s*8 s(9 s)0 s_- s+= ",
    "q w e r t y u i o p s{[ s}] s|\\ ",
    "a s d f g h j k l s:; s\"' ",
    " z x c v b n m s<, s>. s?/",
);
/// UK (105 keys, ISO).
const UK: &str = concat!(
    "a|s¬`  s\"2 s£3 a€s$4         ",
    "            s~# ",
    "          s@' ",
    "s|\\          ",
);
/// German (QWERTZ, ISO).
const DE: &str = concat!(
    "s°^ s!1 s\"2 s§3 s$4 s%5 s&6 s/7 s(8 s)9 s=0 s?ß s`´ ",
    "a@q  a€e   z     CÜü a~C*+ s'# ",
    "         sÖö sÄä ",
    "s>a|< y       s;, s:. s_-",
);
/// French (AZERTY, ISO).
const FR: &str = concat!(
    "² s1& s2a~é s3a#\" s4a{' s5a[( s6a|- s7a`è s8a\\_ s9a^ç s0a@à s°a]) s+a}= ",
    "a z         s¨aˇ^ s£a¤$ sµ* ",
    "q         m s%ù ",
    "s>< w      C?, s.; s/: s§!",
);

impl KeyboardLayout for Layout {
    fn map_keycode(
        &self,
        keycode: KeyCode,
        modifiers: &Modifiers,
        handle_ctrl: HandleControl,
    ) -> DecodedKey {
        let ctrl = handle_ctrl == HandleControl::MapLettersToUnicode && modifiers.is_ctrl();
        if let Some(at) = KEYS.iter().position(|&k| k == keycode) {
            let entry = |table: &'static str| table.split(' ').nth(at).unwrap_or_default();
            let table = match self {
                Layout::Us => US,
                Layout::Uk => UK,
                Layout::De => DE,
                Layout::Fr => FR,
            };
            let rules = match entry(table) {
                "" => entry(US),
                rules => rules,
            };
            if let Some(c) = apply(rules, modifiers, ctrl) {
                return DecodedKey::Unicode(c);
            }
        }
        common(keycode, modifiers)
    }
}

/// What a table's entry gives (see [`US`]), or `None` for an empty one.
fn apply(rules: &str, modifiers: &Modifiers, ctrl: bool) -> Option<char> {
    let last = rules.chars().last()?;
    let letter = last.is_ascii_lowercase();
    if letter && ctrl {
        return Some(char::from(last as u8 - b'a' + 1));
    }
    let mut chars = rules.chars();
    while let (Some(condition), Some(c)) = (chars.next(), chars.next()) {
        let holds = match condition {
            'a' => modifiers.is_altgr(),
            's' => modifiers.is_shifted(),
            'C' => modifiers.is_caps(),
            _ => false,
        };
        if holds {
            return Some(c);
        }
    }
    Some(match letter && modifiers.is_caps() {
        true => last.to_ascii_uppercase(),
        false => last,
    })
}

/// What a key outside the tables gives, the same in every layout: the control keys and the keypad (its digits
/// with Num Lock on, else the keys they double as), or the key itself.
fn common(keycode: KeyCode, modifiers: &Modifiers) -> DecodedKey {
    use KeyCode::*;
    let c = match keycode {
        Escape => '\u{1b}',
        Backspace => '\u{8}',
        Tab => '\t',
        Return | NumpadEnter => '\n',
        Spacebar => ' ',
        Delete => '\u{7f}',
        NumpadDivide => '/',
        NumpadMultiply => '*',
        NumpadSubtract => '-',
        NumpadAdd => '+',
        Numpad5 => '5',
        _ => {
            let (digit, other) = match keycode {
                Numpad0 => ('0', Insert),
                Numpad1 => ('1', End),
                Numpad2 => ('2', ArrowDown),
                Numpad3 => ('3', PageDown),
                Numpad4 => ('4', ArrowLeft),
                Numpad6 => ('6', ArrowRight),
                Numpad7 => ('7', Home),
                Numpad8 => ('8', ArrowUp),
                Numpad9 => ('9', PageUp),
                NumpadPeriod => ('.', Delete),
                _ => return DecodedKey::RawKey(keycode),
            };
            match (modifiers.numlock, other) {
                (true, _) => digit,
                (false, Delete) => '\u{7f}',
                (false, other) => return DecodedKey::RawKey(other),
            }
        }
    };
    DecodedKey::Unicode(c)
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

    /// Every key scancode set 1 has (a byte, or 0xE0 and a byte), as the decoder reads it.
    fn every_key() -> alloc::vec::Vec<KeyCode> {
        use pc_keyboard::ScancodeSet;
        let mut keys = alloc::vec::Vec::new();
        for prefix in [None, Some(0xe0)] {
            for byte in 0..0x80u8 {
                let mut set = ScancodeSet1::new();
                if let Some(prefix) = prefix {
                    assert_eq!(set.advance_state(prefix), Ok(None));
                }
                if let Ok(Some(event)) = set.advance_state(byte) {
                    if !keys.contains(&event.code) {
                        keys.push(event.code);
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn the_tables_give_what_pc_keyboard_layouts_give() {
        use pc_keyboard::layouts::{Azerty, De105Key, Uk105Key, Us104Key};
        let keys = every_key();
        assert!(keys.len() > 90, "{} keys", keys.len());
        let references: [(Layout, &dyn KeyboardLayout); 4] = [
            (Layout::Us, &Us104Key),
            (Layout::Uk, &Uk105Key),
            (Layout::De, &De105Key),
            (Layout::Fr, &Azerty),
        ];
        let mut compared = 0;
        for (layout, reference) in references {
            for &key in &keys {
                // Every combination of the nine modifier states.
                for bits in 0..1u32 << 9 {
                    let bit = |n: u32| bits & 1 << n != 0;
                    let modifiers = Modifiers {
                        lshift: bit(0),
                        rshift: bit(1),
                        lctrl: bit(2),
                        rctrl: bit(3),
                        numlock: bit(4),
                        capslock: bit(5),
                        lalt: bit(6),
                        ralt: bit(7),
                        rctrl2: bit(8),
                    };
                    for handle in [HandleControl::MapLettersToUnicode, HandleControl::Ignore] {
                        let ours = layout.map_keycode(key, &modifiers, handle);
                        let theirs = reference.map_keycode(key, &modifiers, handle);
                        let ctrl =
                            handle == HandleControl::MapLettersToUnicode && modifiers.is_ctrl();
                        // The one difference, on purpose: Ctrl with the German Y and Z keys.
                        let expected = match (layout, key) {
                            (Layout::De, KeyCode::Z) if ctrl => DecodedKey::Unicode('\u{19}'),
                            (Layout::De, KeyCode::Y) if ctrl => DecodedKey::Unicode('\u{1a}'),
                            _ => theirs,
                        };
                        assert_eq!(
                            ours, expected,
                            "{layout:?} {key:?} {modifiers:?} {handle:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 4 * 90 * 1024);
    }
}
