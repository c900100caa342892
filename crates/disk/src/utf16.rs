//! Names stored as UTF-16 (GPT partition names, VFAT long names) as text: one decoder for both.

use alloc::string::String;

/// `units` as text, a unit that pairs with none as U+FFFD.
#[inline(never)]
pub(crate) fn text(units: &[u16]) -> String {
    char::decode_utf16(units.iter().copied())
        .map(|c| c.unwrap_or('\u{FFFD}'))
        .collect()
}
