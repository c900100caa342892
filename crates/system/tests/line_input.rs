//! The line editor and the UTF-8 decoder as the consoles use them: bytes from a serial line, keys from a keyboard.

use bootscript_system::line::{Edit, LineEditor, Utf8Decoder};

/// What the decoder gives for each byte of `bytes`, in order.
fn decode(bytes: &[u8]) -> Vec<Option<char>> {
    let mut decoder = Utf8Decoder::new();
    bytes.iter().map(|&b| decoder.push(b)).collect()
}

#[test]
fn an_overlong_lead_byte_is_replaced_at_once() {
    // 0xc0 and 0xc1 only ever begin overlong forms: each is a replacement at once, and the next byte stands alone.
    let r = Some(char::REPLACEMENT_CHARACTER);
    assert_eq!(decode(&[0xc0, b'a']), [r, Some('a')]);
    assert_eq!(decode(&[0xc1, 0x81]), [r, r]);
}

#[test]
fn a_lead_byte_past_0xf4_is_replaced_at_once() {
    // 0xf5 to 0xff begin no character (past U+10FFFF, or no UTF-8 at all): each is a replacement at once, and the
    // next byte stands alone.
    let r = Some(char::REPLACEMENT_CHARACTER);
    for lead in 0xf5..=0xff {
        assert_eq!(decode(&[lead, b'a']), [r, Some('a')], "{lead:#x}");
    }
}

#[test]
fn a_cut_sequence_followed_by_a_new_one_is_replaced() {
    // The first two bytes of a euro sign, then a whole one: the cut one is a replacement, the whole one decodes.
    let r = Some(char::REPLACEMENT_CHARACTER);
    assert_eq!(
        decode(&[0xe2, 0x82, 0xe2, 0x82, 0xac]),
        [None, None, r, None, Some('€')]
    );
}

#[test]
fn three_byte_characters_up_to_0xef_decode() {
    // A lead byte of 0xef begins a three-byte character (a byte order mark, the replacement character itself).
    let text = "\u{feff}\u{fffd}a";
    let mut decoder = Utf8Decoder::new();
    let decoded: String = text.bytes().filter_map(|b| decoder.push(b)).collect();
    assert_eq!(decoded, text);
}

#[test]
fn backspace_erases_a_whole_multibyte_character_and_ctrl_u_counts_characters() {
    let mut editor = LineEditor::new();
    for c in "aé€😀".chars() {
        assert_eq!(editor.feed(c), Edit::Insert(c));
    }
    // One backspace takes one character, however many bytes it has.
    assert_eq!(editor.feed('\u{8}'), Edit::Erase(1));
    assert_eq!(editor.text(), "aé€");
    assert_eq!(editor.feed('\u{7f}'), Edit::Erase(1));
    assert_eq!(editor.text(), "aé");
    // Ctrl-U erases as many cells as characters are left.
    assert_eq!(editor.feed('\u{15}'), Edit::Erase(2));
    assert_eq!(editor.text(), "");
}
