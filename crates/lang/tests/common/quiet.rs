//! A platform for tests: collects what the script prints; no input, a clock at 0, no machine to reboot.

use bootscript_lang::{Config, Interpreter, Platform};

pub struct Quiet(pub String);

impl Platform for Quiet {
    fn write(&mut self, text: &str) {
        self.0.push_str(text);
    }
    fn read_line(&mut self, _: bool) -> Result<String, String> {
        Err("end of input".into())
    }
    fn time_ms(&mut self) -> u64 {
        0
    }
    fn sleep_ms(&mut self, _: u64) {}
    fn reboot(&mut self) -> String {
        "no".into()
    }
    fn halt(&mut self) -> String {
        "no".into()
    }
    fn keymap(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Runs `source` as `t.bs` under `config`: what it printed, or its error as text.
pub fn run(config: Config, source: &str) -> Result<String, String> {
    let mut out = Quiet(String::new());
    Interpreter::new(config)
        .run("t.bs", source, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.0)
}
