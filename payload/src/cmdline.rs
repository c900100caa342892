//! The payload's command line: `key=value` words separated by spaces (what GRUB's `multiboot2` line passes).

/// The value of the first `key=value` word with this key, or `None`.
pub fn value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline.split_ascii_whitespace().find_map(|word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Whether the bare word `flag` appears.
pub fn has_flag(cmdline: &str, flag: &str) -> bool {
    cmdline.split_ascii_whitespace().any(|word| word == flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_and_flags() {
        let line = "  test=echo crash=pf  quiet keymap=de";
        assert_eq!(value(line, "test"), Some("echo"));
        assert_eq!(value(line, "crash"), Some("pf"));
        assert_eq!(value(line, "keymap"), Some("de"));
        assert_eq!(value(line, "missing"), None);
        assert!(has_flag(line, "quiet"));
        assert!(!has_flag(line, "test"));
        assert_eq!(value("", "test"), None);
    }

    #[test]
    fn a_value_may_hold_an_equals_sign_and_the_first_word_wins() {
        // `root=PARTUUID=...` is the key `root`; of two words with one key, the first counts.
        let line = "root=PARTUUID=1234-01 console=ttyS0 console=tty0";
        assert_eq!(value(line, "root"), Some("PARTUUID=1234-01"));
        assert_eq!(value(line, "console"), Some("ttyS0"));
    }
}
