//! The inline directives of a golden script (`# expect: ...` and the others), read the same way by the host
//! runner (crates/lang/tests/golden.rs) and by the payload's (tests/boot/tests/language.rs).

/// The directive keys. A directive may stand anywhere on a line, after code too.
const KEYS: [&str; 8] = [
    "# expect: ",
    "# expect error: ",
    "# expect check: ",
    "# input: ",
    "# cmdline: ",
    "# steps: ",
    "# memory: ",
    "# stack: ",
];

/// Each directive of `source` in order: its key (e.g. `"# expect: "`) and the rest of its line.
pub fn directives(source: &str) -> Vec<(&'static str, String)> {
    source
        .lines()
        .filter_map(|line| {
            KEYS.iter()
                .find_map(|k| line.find(k).map(|i| (*k, line[i + k.len()..].to_string())))
        })
        .collect()
}
