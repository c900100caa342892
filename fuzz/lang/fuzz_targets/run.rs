//! Fuzzes lex + parse + check + evaluate: any input must end in a value or an error, never a panic, a hang
//! past the step budget, a stack overflow or an allocation failure.
#![no_main]

use bootscript_lang::{Config, Interpreter, Platform, Shell};
use libfuzzer_sys::fuzz_target;

struct Null {
    reads: u32,
}

impl Platform for Null {
    fn write(&mut self, _: &str) {}
    fn read_line(&mut self, _: bool) -> Result<String, String> {
        self.reads += 1;
        if self.reads > 3 {
            return Err("end of input".into());
        }
        Ok("line".into())
    }
    fn time_ms(&mut self) -> u64 {
        0
    }
    fn sleep_ms(&mut self, _: u64) {}
    fn reboot(&mut self) -> String {
        "no reboot".into()
    }
    fn halt(&mut self) -> String {
        "no halt".into()
    }
    fn keymap(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let config = Config { step_limit: Some(5_000), memory_limit: 32 << 20, stack_limit: 256 << 10 };
    let mut interpreter = Interpreter::new(config);
    let _ = interpreter.check("fuzz.bs", source);
    let mut platform = Null { reads: 0 };
    let _ = interpreter.run("fuzz.bs", source, &mut platform);
    // The shell's line handling on the same text, line by line, in the globals the run left.
    let mut shell = Shell::new();
    for line in source.lines().take(20) {
        shell.line(&mut interpreter, line, &mut platform);
    }
});
