//! One console over every device: output goes to COM1 and the VGA screen, input comes from whichever of
//! COM1 and the PS/2 keyboard has some. Line editing is `bootscript_system::line::LineEditor`; this module
//! only moves bytes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use pc_keyboard::{DecodedKey, KeyCode};
use spin::Mutex;

use crate::clock;
use crate::drivers::keyboard::{Keyboard, UnknownKeymap};
use crate::drivers::serial::{Serial, SerialError, COM1};
use crate::drivers::vga::Vga;
use bootscript_system::line::{self, Edit, LineEditor, Utf8Decoder};
use bootscript_system::Framebuffer;

/// Why no line could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Nobody typed Enter before the deadline.
    Timeout,
    /// The user pressed Ctrl-C.
    Interrupted,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Timeout => f.write_str("no input before the deadline"),
            ReadError::Interrupted => f.write_str("interrupted (Ctrl-C)"),
        }
    }
}

struct Console {
    serial: Option<Serial>,
    screen: Option<Vga>,
    keyboard: Keyboard,
    serial_text: Utf8Decoder,
    /// The serial line's last byte was CR: a LF right after it belongs to the same Enter.
    after_carriage_return: bool,
    /// Keys typed while a script ran, read when [`interrupted`] looked for Ctrl-C among them: the next line read
    /// gets them first. On the heap, which the hand-off wipes (a passphrase may be typed ahead).
    typed: Vec<char>,
    /// Ctrl-C was pressed at a line being read, and [`interrupted`] has not said so yet.
    interrupted: bool,
}

/// Ctrl-C as both consoles deliver it: the byte ETX from a terminal, and the keymap's Ctrl+C from the keyboard.
pub const INTERRUPT: char = '\u{3}';
/// At most this many keys are kept while a script runs (a few lines of typing ahead); later ones are dropped.
const TYPED_AHEAD: usize = 256;

static CONSOLE: Mutex<Console> = Mutex::new(Console {
    serial: None,
    screen: None,
    keyboard: Keyboard::new(),
    serial_text: Utf8Decoder::new(),
    after_carriage_return: false,
    typed: Vec::new(),
    interrupted: false,
});

impl Console {
    fn write_str(&mut self, text: &str) {
        if let Some(serial) = &self.serial {
            let mut ok = true;
            for byte in text.bytes() {
                if byte == b'\n' {
                    ok &= serial.write_byte(b'\r').is_ok();
                }
                ok &= serial.write_byte(byte).is_ok();
                if !ok {
                    break;
                }
            }
            if !ok {
                // A port that stopped draining would make every later line wait out the timeout.
                self.serial = None;
            }
        }
        if let Some(screen) = &mut self.screen {
            screen.write_str(text);
        }
    }

    /// The next key typed: first those kept by [`interrupted`], then the devices'.
    fn poll_char(&mut self) -> Option<char> {
        // (A plain list, taken from the front: at most TYPED_AHEAD keys, and smaller than a VecDeque.)
        if self.typed.is_empty() {
            return self.poll_char_from_devices();
        }
        Some(self.typed.remove(0))
    }

    /// The next key from COM1 or the keyboard, if one is waiting there (`None` also for a key that makes no
    /// character: a release, a modifier, part of a UTF-8 sequence).
    fn poll_char_from_devices(&mut self) -> Option<char> {
        if let Some(byte) = self.serial.as_ref().and_then(Serial::read_byte) {
            // A terminal's Enter is CR, or CR LF: the LF of a pair is dropped here, on the serial line only (the
            // keyboard's Enter, an LF, never is).
            let after_carriage_return =
                core::mem::replace(&mut self.after_carriage_return, byte == b'\r');
            if byte == b'\n' && after_carriage_return {
                return None;
            }
            return self.serial_text.push(byte);
        }
        match self.keyboard.poll()? {
            // The Esc key is no key for a line (on the serial line ESC starts an arrow key's sequence).
            DecodedKey::Unicode('\u{1b}') => None,
            DecodedKey::Unicode(c) => Some(c),
            DecodedKey::RawKey(KeyCode::ArrowUp) => Some(line::ARROW_UP),
            DecodedKey::RawKey(KeyCode::ArrowDown) => Some(line::ARROW_DOWN),
            DecodedKey::RawKey(_) => None,
        }
    }
}

impl Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        Console::write_str(self, text);
        Ok(())
    }
}

/// Finds and opens COM1. Until this succeeds output goes only to the screen.
pub fn init_serial() -> Result<(), SerialError> {
    let serial = Serial::probe(COM1)?;
    CONSOLE.lock().serial = Some(serial);
    Ok(())
}

/// Starts writing to the VGA text screen too.
pub fn init_screen() {
    CONSOLE.lock().screen = Some(Vga::new());
}

/// Starts writing to `framebuffer` too (GRUB's on a UEFI PC), as a screen of text; or says why it cannot.
pub fn init_framebuffer(framebuffer: &Framebuffer) -> Result<(), &'static str> {
    CONSOLE.lock().screen = Some(Vga::on_framebuffer(framebuffer)?);
    Ok(())
}

/// Sets the keyboard's locks (Caps, Num, Scroll Lock) from the BIOS's keyboard flags (see
/// `Keyboard::take_firmware_locks`), and its lights to match.
pub fn init_keyboard(bios_flags: u8) {
    CONSOLE.lock().keyboard.take_firmware_locks(bios_flags);
}

/// Whether COM1 is in use.
pub fn has_serial() -> bool {
    CONSOLE.lock().serial.is_some()
}

/// A text longer than this goes out in pieces of it, with a look for Ctrl-C between them: a serial line at 115200
/// baud takes a third of a second for it.
const PIECE: usize = 4096;

/// Writes text to every console (`\n` becomes CR LF on the serial line). A long text (a script's `print` of a
/// file's bytes takes minutes on a serial line) is cut short when Ctrl-C is pressed meanwhile: the rest is dropped,
/// `^C` ends the line, and the press waits for [`interrupted`] (the interpreter asks after each `print`).
pub fn write(text: &str) {
    let mut rest = text;
    while rest.len() > PIECE {
        let mut end = PIECE;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, after) = rest.split_at(end);
        CONSOLE.lock().write_str(piece);
        rest = after;
        if interrupt_pending() {
            rest = "^C\n";
        }
    }
    CONSOLE.lock().write_str(rest);
}

/// Writes formatted text to every console; used by `print!` and `println!`.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Writes from an exception or panic handler: takes the console even if the code that failed held it.
pub fn emergency(args: fmt::Arguments<'_>) {
    if CONSOLE.is_locked() {
        // SAFETY: one CPU, interrupts off: the holder is the code that just failed and will never run again.
        unsafe { CONSOLE.force_unlock() };
    }
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Whether the user pressed Ctrl-C since the last call: at a line being read (which then failed with
/// [`ReadError::Interrupted`]), or among the keys typed since (see [`interrupt_pending`]). A running script asks
/// this every `bootscript_lang::POLL_STEPS` steps.
pub fn interrupted() -> bool {
    interrupt_pending() && core::mem::take(&mut CONSOLE.lock().interrupted)
}

/// Whether a Ctrl-C waits to be reported by [`interrupted`]. The keys typed meanwhile are read here, and kept
/// for the next line unless Ctrl-C is among them (then the ones before it are dropped: they were typed for what
/// was interrupted).
pub fn interrupt_pending() -> bool {
    let mut console = CONSOLE.lock();
    // At most TYPED_AHEAD keys a call: a line that keeps sending (a long paste, a noisy port) cannot hold the
    // script here; the next call reads on.
    for _ in 0..TYPED_AHEAD {
        if console.interrupted {
            break;
        }
        let Some(c) = console.poll_char_from_devices() else {
            break;
        };
        if c == INTERRUPT {
            console.typed.clear();
            console.interrupted = true;
        } else if console.typed.len() < TYPED_AHEAD {
            console.typed.push(c);
        }
    }
    console.interrupted
}

/// Drops the keys typed ahead, those kept and those still waiting at the devices, and says how many there
/// were. For the rescue shell: it reads with echo, and keys typed while the script ran (a passphrase typed ahead
/// of a prompt that never came, during an unlock that failed) must not be shown, run or kept in its history.
pub fn drop_typed_ahead() -> usize {
    let mut console = CONSOLE.lock();
    let mut dropped = console.typed.len();
    // (Overwritten before they are let go: the queue's memory stays in the heap.)
    console.typed.iter_mut().for_each(|c| *c = '\0');
    console.typed.clear();
    // A bounded number: a line that keeps sending cannot hold the shell here.
    for _ in 0..TYPED_AHEAD {
        if console.poll_char_from_devices().is_none() {
            break;
        }
        dropped += 1;
    }
    console.interrupted = false;
    dropped
}

/// Reads one line, with backspace and Ctrl-U. With `echo` false nothing typed is shown, only the final
/// newline (for passphrases). Waits for as long as it takes: a person is typing. Ctrl-C gives up (`^C` and a
/// newline are shown).
pub fn read_line(echo: bool) -> Result<String, ReadError> {
    read_line_until(echo, None, &[])
}

/// Like [`read_line`], with the up and down arrows walking through `history` (oldest first).
pub fn read_line_with_history(echo: bool, history: &[String]) -> Result<String, ReadError> {
    read_line_until(echo, None, history)
}

/// Like [`read_line`], but gives up after `timeout_ms` milliseconds.
pub fn read_line_timeout(echo: bool, timeout_ms: u64) -> Result<String, ReadError> {
    read_line_until(echo, Some(clock::time_ms().saturating_add(timeout_ms)), &[])
}

fn read_line_until(
    echo: bool,
    deadline: Option<u64>,
    history: &[String],
) -> Result<String, ReadError> {
    let mut editor = LineEditor::new();
    loop {
        let c = CONSOLE.lock().poll_char();
        let Some(c) = c else {
            if deadline.is_some_and(|d| clock::time_ms() >= d) {
                return Err(ReadError::Timeout);
            }
            core::hint::spin_loop();
            continue;
        };
        let mut console = CONSOLE.lock();
        if c == INTERRUPT {
            console.write_str("^C\n");
            console.interrupted = true;
            return Err(ReadError::Interrupted);
        }
        match editor.feed(c) {
            Edit::Insert(c) if echo => console.write_str(c.encode_utf8(&mut [0; 4])),
            Edit::Erase(count) if echo => {
                for _ in 0..count {
                    console.write_str("\u{8} \u{8}");
                }
            }
            Edit::Done => {
                console.write_str("\n");
                return Ok(editor.into_text());
            }
            edit @ (Edit::Previous | Edit::Next) if echo => {
                if let Some((erased, text)) = editor.walk(edit, history) {
                    for _ in 0..erased {
                        console.write_str("\u{8} \u{8}");
                    }
                    console.write_str(&text);
                }
            }
            _ => {}
        }
    }
}

/// The next key from the PS/2 keyboard (not the serial line), waiting at most `timeout_ms`.
pub fn read_key(timeout_ms: u64) -> Option<DecodedKey> {
    let deadline = clock::time_ms().saturating_add(timeout_ms);
    while clock::time_ms() < deadline {
        if let Some(key) = CONSOLE.lock().keyboard.poll() {
            return Some(key);
        }
        core::hint::spin_loop();
    }
    None
}

/// Chooses the keyboard layout by name ("us", "de", "fr", ...: `keymap::KEYMAP_NAMES`).
pub fn set_keymap(name: &str) -> Result<(), UnknownKeymap> {
    CONSOLE.lock().keyboard.set_keymap(name)
}

/// `print!` to every console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// `println!` to every console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::write("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
