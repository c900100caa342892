//! The rescue shell's logic, shared by the payload and the host tool: lines are gathered while a bracket is open,
//! run in the script's global scope, their values printed; entered inputs are kept for up-arrow history.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{Interpreter, Platform, Value};

/// How many inputs the history keeps.
pub const HISTORY_LENGTH: usize = 64;
/// The most bytes of a value's text the shell shows, then `...`: a console takes seconds for this much already (a
/// serial line at 115200 baud, six), and a list that holds another twice, forty levels deep, has a text of 2^40
/// items.
pub const ECHO_LIMIT: usize = 64 << 10;

/// The rescue shell: feed it lines, show it [`Shell::prompt`].
#[derive(Default)]
pub struct Shell {
    pending: String,
    history: Vec<String>,
}

impl Shell {
    /// The prompt of a new input.
    pub const PROMPT: &'static str = "bootscript> ";
    /// The prompt while an input goes on (a bracket is still open).
    pub const CONTINUE: &'static str = "... ";

    pub fn new() -> Shell {
        Shell::default()
    }

    /// What to show before the next line.
    pub fn prompt(&self) -> &'static str {
        if self.pending.is_empty() {
            Shell::PROMPT
        } else {
            Shell::CONTINUE
        }
    }

    /// Takes one line (without its line ending). When it completes an input, the input runs: its value (unless
    /// nil) or its error is written to the platform.
    pub fn line(&mut self, interpreter: &mut Interpreter, line: &str, platform: &mut dyn Platform) {
        // Each line with its newline: the input goes on only where the language lets a newline go on (inside a
        // bracket, after a binary operator or `=`, before `else` or `catch`), not after `not` or a `.`.
        self.pending.push_str(line);
        self.pending.push('\n');
        if self.pending.trim().is_empty() {
            self.pending.clear();
            return;
        }
        if interpreter.goes_on(&self.pending) {
            return;
        }
        let mut input = core::mem::take(&mut self.pending);
        input.pop();
        // Read where it lies (an error taken out of the result was copied).
        let result = interpreter.eval_line("shell", &input, platform);
        match &result {
            Ok(Some(Value::Nil)) | Ok(None) => {}
            // A line typed at a hidden prompt is not shown by the echo (`print` shows it: that is asked for).
            Ok(Some(value)) if value.hidden_text().is_some() => platform.write("(hidden input)\n"),
            Ok(Some(value)) => {
                // (Cut sooner where it would pass the script's memory limit: see `write_value`.)
                let limit = ECHO_LIMIT.min(interpreter.room_left());
                let mut out = value.text_within(true, limit);
                out.push('\n');
                platform.write(&out);
            }
            Err(e) => platform.write(&alloc::format!("{}\n", *e)),
        }
        // The last input indexed (as `last()`, its address was checked against null too).
        let n = self.history.len();
        if n == 0 || self.history[n - 1] != input {
            if self.history.len() == HISTORY_LENGTH {
                self.history.remove(0);
            }
            self.history.push(input);
        }
    }

    /// At the end of the input (a pipe, a file): an input left unfinished is not dropped unsaid but parsed as it
    /// is, which reports what it lacks (`expected ... near end of input`).
    pub fn end(&mut self, interpreter: &mut Interpreter, platform: &mut dyn Platform) {
        if !self.pending.is_empty() {
            let input = core::mem::take(&mut self.pending);
            if let Err(e) = interpreter.eval_line("shell", &input, platform) {
                platform.write(&alloc::format!("{}\n", e));
            }
        }
    }

    /// Drops a half-entered input (for Ctrl-C).
    pub fn cancel(&mut self) {
        self.pending.clear();
    }

    /// The history, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// The input `back` steps back in the history (1 = the last one), for the up and down arrows.
    pub fn recall(&self, back: usize) -> Option<&str> {
        let n = self.history.len();
        if back == 0 || back > n {
            return None;
        }
        Some(&self.history[n - back])
    }
}
