//! The host as the script's [`Machine`]: stdout for the consoles, stdin for `prompt`, image files for disks,
//! Ctrl-C (SIGINT) as the consoles' Ctrl-C, and a dry run instead of the jump.

use std::io::{BufRead, ErrorKind, IsTerminal, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bootscript_disk::{BlockDevice, ImageFile};
use bootscript_system::line::{Edit, LineEditor, Utf8Decoder};
use bootscript_system::{pc_map, Handoff, Machine, Memory, Summary};

/// The PC a dry run plans for: QEMU's `-m 1G` memory map, with the boot stage at 1 MiB.
const DRY_RUN_RAM: u64 = 1 << 30;

/// Ctrl-C was pressed (SIGINT came) and the interpreter has not seen it yet.
static CTRL_C: AtomicBool = AtomicBool::new(false);
/// Stdin's terminal is in raw mode (see [`RawTerminal`]).
static RAW: AtomicBool = AtomicBool::new(false);
/// The terminal's own settings, as raw mode found them: what a signal that ends the tool gives back.
static COOKED: std::sync::OnceLock<libc::termios> = std::sync::OnceLock::new();
/// The raw mode's settings: what the terminal gets again when the tool is continued after a stop.
static RAW_SETTINGS: std::sync::OnceLock<libc::termios> = std::sync::OnceLock::new();

/// Gives the terminal its own settings back if it is in raw mode: a terminal left raw would show nothing typed
/// in the shell after the tool. Async-signal-safe.
fn restore_terminal() {
    if RAW.load(Ordering::SeqCst) {
        if let Some(cooked) = COOKED.get() {
            // SAFETY: `tcsetattr` is async-signal-safe; the settings are plain data written once, before RAW.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, cooked) };
        }
    }
}

/// The handler of the signals that end the tool (SIGTERM, SIGHUP, SIGQUIT): the terminal's settings are given
/// back first; then the signal ends the tool as it would have.
extern "C" fn on_end(signal: libc::c_int) {
    restore_terminal();
    // SAFETY: `signal` and `raise` are async-signal-safe: the default action, then the signal again.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Ctrl-Z (SIGTSTP) at a prompt: the terminal gets its own settings back for the shell, the tool stops as it
/// would have, and once continued (`fg`) a prompt still reading gets raw mode back. (In a process group with no
/// shell to continue it, an orphaned one, the kernel drops the stop and the tool reads on at once, raw.)
extern "C" fn on_stop(signal: libc::c_int) {
    restore_terminal();
    // SAFETY: `signal`, `raise`, `sigemptyset`, `sigaddset` and `pthread_sigmask` are async-signal-safe. The
    // signal, raised again with its default action, waits while this handler blocks it: unblocked, it stops
    // the process here, and the handler goes on when the process is continued.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    raw_again();
    catch(signal, on_stop);
}

/// Puts the terminal in raw mode again if a prompt is reading. Async-signal-safe.
fn raw_again() {
    if RAW.load(Ordering::SeqCst) {
        if let Some(raw) = RAW_SETTINGS.get() {
            // SAFETY: as in `restore_terminal`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, raw) };
        }
    }
}

/// Continued after a stop that no handler saw (SIGSTOP): the shell may have set the terminal as it likes it,
/// echo on, so a prompt still reading gets raw mode back, and a passphrase typed now is not shown either.
extern "C" fn on_continue(_: libc::c_int) {
    raw_again();
}

/// The SIGINT handler: notes the press for the interpreter's next question. A second press before the first was
/// seen (in a wait that does not ask, such as an Argon2 derivation) ends the tool, as Ctrl-C did before.
extern "C" fn on_ctrl_c(_: libc::c_int) {
    // (Not while the terminal is raw: it would be left so. A line being read gives up at the first press.)
    if CTRL_C.swap(true, Ordering::SeqCst) && !RAW.load(Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe; it ends the process at once (status 130: killed by SIGINT).
        unsafe { libc::_exit(130) };
    }
}

/// Makes Ctrl-C stop what runs, as the payload's consoles do, rather than end the tool: a running script or
/// statement stops with its position, a `prompt` or `sleep_ms` gives up, and the shell drops the input being
/// typed. Called on the thread that runs scripts, which is the one SIGINT reaches (see [`leave_ctrl_c`]); the
/// handler is installed without `SA_RESTART`, so a read of the terminal returns at the press.
pub fn catch_ctrl_c() {
    // (Signals left ignored where they are: SIGINT for a tool started in the background by a shell without job
    // control, SIGHUP under nohup.)
    if catch(libc::SIGINT, on_ctrl_c) {
        mask_ctrl_c(libc::SIG_UNBLOCK);
    }
    for signal in [libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        catch(signal, on_end);
    }
    catch(libc::SIGTSTP, on_stop);
    catch(libc::SIGCONT, on_continue);
}

/// Installs `handler` for `signal` (without `SA_RESTART`) unless the signal is ignored; whether it did.
fn catch(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) -> bool {
    // SAFETY: a zeroed `sigaction` is a valid one (no flags, an empty mask, filled in below); the handlers call
    // only async-signal-safe functions (atomics, `_exit`, `tcsetattr`, `signal`, `raise`, `sigaction`, and
    // `OnceLock::get`, an atomic load).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut action);
        if action.sa_sigaction == libc::SIG_IGN {
            return false;
        }
        action = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
    true
}

/// Blocks SIGINT on the calling thread (the one that waits for the script thread), so that the kernel delivers
/// it to the script thread: only there does the signal interrupt a read of the terminal.
pub fn leave_ctrl_c() {
    mask_ctrl_c(libc::SIG_BLOCK);
}

/// Blocks or unblocks (`how`) SIGINT on the calling thread.
fn mask_ctrl_c(how: libc::c_int) {
    // SAFETY: the set is initialized by `sigemptyset` before use; the mask changed is this thread's own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Stdin's terminal put in raw mode for one line (its own editing and echo off: the line editor does both, as
/// on the payload's consoles); its settings come back when this is dropped.
struct RawTerminal(libc::termios);

impl RawTerminal {
    /// `None` where stdin is no terminal (a pipe, a file): lines are then read as they come.
    fn enter() -> Option<RawTerminal> {
        // SAFETY: `tcgetattr` fills the zeroed `termios` (plain data) for fd 0, or fails and leaves it unused;
        // `tcsetattr` only reads the one given. Ctrl-C still sends SIGINT (ISIG stays on).
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            // (The same each time: the tool changes them only here, and gives them back after each line.)
            COOKED.get_or_init(|| saved);
            let mut raw = saved;
            raw.c_lflag &= !(libc::ICANON | libc::ECHO);
            // CR as it is typed (Enter), not made LF: a pasted CR LF is then told from two Enters.
            raw.c_iflag &= !libc::ICRNL;
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            RAW_SETTINGS.get_or_init(|| raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            RAW.store(true, Ordering::SeqCst);
            Some(RawTerminal(saved))
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: the settings read from this terminal by `enter`, given back to it.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
        RAW.store(false, Ordering::SeqCst);
    }
}

/// Ctrl-D: the end of input, at the start of a line on a terminal.
const END_OF_INPUT: u8 = 0x04;
/// The longest line read from a pipe: as many bytes as the longest line the payload's editor keeps
/// (`MAX_LINE_CHARS` characters) can take in UTF-8.
const MAX_LINE_BYTES: usize = 4 * bootscript_system::line::MAX_LINE_CHARS;

pub struct Host {
    start: Instant,
    stdin: std::io::StdinLock<'static>,
    /// The disk images given with --disk, opened, in order: hd0, hd1, ...
    images: Vec<Rc<dyn BlockDevice>>,
    /// The terminal's last byte was CR: a LF right after it (a pasted CR LF) belongs to the same Enter.
    after_carriage_return: bool,
    /// What was written since the last line break (at most [`OPEN_LINE_LIMIT`] bytes of it): a prompt's text,
    /// shown again on the terminal when stdout goes elsewhere (see [`Host::edit_line`]).
    open_line: String,
}

/// The most of a prompt's text that is shown again on the terminal.
const OPEN_LINE_LIMIT: usize = 4096;

/// Opens the `--disk` images as hd0, hd1, ... A path that is not there, or that names a directory, is refused
/// with the error of the first such path: a dry run goes on with the disks it was given or not at all (a
/// script run without its disk would fail later, with an error that does not name the path).
pub fn open_disks(paths: &[String]) -> Result<Vec<Rc<dyn BlockDevice>>, String> {
    let mut disks: Vec<Rc<dyn BlockDevice>> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let open = |path| {
            let metadata = std::fs::metadata(path)?;
            if metadata.is_dir() {
                return Err(std::io::Error::from(std::io::ErrorKind::IsADirectory));
            }
            let odd = metadata.len() % bootscript_disk::SECTOR_SIZE as u64;
            if metadata.is_file() && odd != 0 {
                let _ = writeln!(
                    std::io::stderr(),
                    "bootscript: --disk {path}: its last {odd} bytes are no whole sector and are left out"
                );
            }
            ImageFile::with_name(path, &format!("hd{i}"))
        };
        disks.push(Rc::new(
            open(path).map_err(|e| format!("--disk {path}: {e}"))?,
        ));
    }
    Ok(disks)
}

impl Host {
    pub fn new(images: Vec<Rc<dyn BlockDevice>>) -> Host {
        Host {
            start: Instant::now(),
            stdin: std::io::stdin().lock(),
            images,
            after_carriage_return: false,
            open_line: String::new(),
        }
    }

    /// The bytes stdin has (waiting for some; none at the end of input). A read that a Ctrl-C interrupted gives
    /// up with `ErrorKind::Interrupted`; other interrupted reads are tried again. (`BufRead::read_line` tries
    /// every interrupted read again, so a press would wait for the Enter.)
    fn fill(&mut self) -> std::io::Result<&[u8]> {
        loop {
            // (A press just before the read would not interrupt it: it is looked for first.)
            if CTRL_C.load(Ordering::SeqCst) {
                return Err(ErrorKind::Interrupted.into());
            }
            match self.stdin.fill_buf() {
                Err(e) if e.kind() == ErrorKind::Interrupted && !CTRL_C.load(Ordering::SeqCst) => {}
                Err(e) => return Err(e),
                // (Taken again through the lock, which reads nothing more while bytes wait in its buffer: the
                // borrow of one turn of the loop cannot leave it. At the end of input, nothing waits.)
                Ok([]) => return Ok(&[]),
                Ok(_) => return self.stdin.fill_buf(),
            }
        }
    }

    /// Reads a line of stdin, with its newline (none at the end of input: `Ok(0)`), into `line`. A line longer
    /// than [`MAX_LINE_BYTES`] is an error (`InvalidData`), not memory without end (`run < /dev/zero`).
    fn read_raw_line(&mut self, line: &mut Vec<u8>) -> std::io::Result<usize> {
        loop {
            let available = self.fill()?;
            let (taken, end) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), available.is_empty()),
            };
            if line.len() + taken > MAX_LINE_BYTES + 2 {
                return Err(std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            line.extend_from_slice(&available[..taken]);
            self.stdin.consume(taken);
            if end {
                return Ok(line.len());
            }
        }
    }

    /// Reads a line from stdin's terminal with the payload's line editing: backspace, Ctrl-U, and with `echo`
    /// the typed text shown and the up and down arrows walking `history` (oldest first); Ctrl-D on an empty
    /// line is the end of input. `None` where stdin is no terminal.
    ///
    /// When stdout is no terminal (`run boot.bs > log`) but stderr is, the person typing sees the prompt's text
    /// again and what they type there, on stderr; stdout gets the prompt's text and the line's end as before,
    /// not what is typed (a dry run's output stays the script's).
    fn edit_line(&mut self, echo: bool, history: &[String]) -> Option<Result<String, String>> {
        let raw = RawTerminal::enter()?;
        let to_stderr = !std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let show = |text: &str| match to_stderr {
            true => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
            false => output(text),
        };
        if to_stderr {
            show(&self.open_line);
        }
        let mut editor = LineEditor::new();
        let mut decoder = Utf8Decoder::new();
        let result = loop {
            let byte = match self.fill() {
                Ok([byte, ..]) => *byte,
                Ok([]) => break Err("end of input".into()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {
                    show("^C");
                    break Err("interrupted (Ctrl-C)".into());
                }
                Err(e) => break Err(e.to_string()),
            };
            self.stdin.consume(1);
            let after_carriage_return =
                std::mem::replace(&mut self.after_carriage_return, byte == b'\r');
            if byte == b'\n' && after_carriage_return {
                continue;
            }
            if byte == END_OF_INPUT && editor.text().is_empty() {
                break Err("end of input".into());
            }
            let Some(c) = decoder.push(byte) else {
                continue;
            };
            match editor.feed(c) {
                Edit::Insert(c) if echo => show(c.encode_utf8(&mut [0; 4])),
                Edit::Erase(count) if echo => show(&"\u{8} \u{8}".repeat(count)),
                Edit::Done => break Ok(editor.into_text()),
                edit @ (Edit::Previous | Edit::Next) if echo => {
                    if let Some((erased, text)) = editor.walk(edit, history) {
                        show(&"\u{8} \u{8}".repeat(erased));
                        show(&text);
                    }
                }
                _ => {}
            }
        };
        drop(raw);
        // The Enter (or Ctrl-C, or the end of input) is shown as the end of the line, whether the line was or
        // not.
        if to_stderr {
            show("\n");
        }
        self.write("\n");
        Some(result)
    }

    /// A line of the shell on the terminal: as `read_line`, with the up and down arrows walking `history`.
    pub fn read_shell_line(&mut self, history: &[String]) -> Result<String, String> {
        match self.edit_line(true, history) {
            Some(result) => result,
            None => self.read_line(true),
        }
    }
}

/// Exit status when the output cannot be written (sysexits EX_IOERR).
pub const EXIT_OUTPUT: u8 = 74;

/// Writes to stdout, now. Output that cannot be written ends the tool with [`EXIT_OUTPUT`]: a script printing
/// in a loop into a closed pipe (`| head`) would otherwise run on unseen, and a full disk lose its output
/// silently. (A closed pipe is said nothing about: whoever closed it wanted no more.)
pub fn output(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() != ErrorKind::BrokenPipe {
            let _ = writeln!(
                std::io::stderr(),
                "bootscript: cannot write the output: {e}"
            );
        }
        // (`exit` runs no destructor: the raw mode's guard would not give the terminal back.)
        restore_terminal();
        std::process::exit(i32::from(EXIT_OUTPUT));
    }
}

impl Machine for Host {
    fn write(&mut self, text: &str) {
        output(text);
        match text.rfind('\n') {
            Some(at) => {
                self.open_line.clear();
                self.open_line.push_str(&text[at + 1..]);
            }
            None => self.open_line.push_str(text),
        }
        if self.open_line.len() > OPEN_LINE_LIMIT {
            self.open_line.clear();
        }
    }

    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        // On a terminal, the line editor reads it (and never shows a passphrase).
        if let Some(result) = self.edit_line(echo, &[]) {
            return result;
        }
        let mut line = Vec::new();
        let result = self.read_raw_line(&mut line);
        if !echo || !matches!(result, Ok(1..)) {
            // Nothing showed the Enter (or the line was given up at Ctrl-C, or the input ended): end the
            // prompt's line, as the payload's console does.
            self.write("\n");
        }
        match result {
            Ok(0) => Err("end of input".into()),
            Ok(_) => {
                let mut line =
                    String::from_utf8(line).map_err(|_| "the line typed is not UTF-8 text")?;
                let trimmed = line.trim_end_matches(['\n', '\r']).len();
                line.truncate(trimmed);
                Ok(line)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Err("interrupted (Ctrl-C)".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn time_ms(&mut self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn interrupted(&mut self) -> bool {
        CTRL_C.swap(false, Ordering::SeqCst)
    }

    /// Ctrl-C ends the wait early (the interpreter then asks `interrupted` and stops the script).
    fn sleep_ms(&mut self, ms: u64) {
        let end = Instant::now() + Duration::from_millis(ms);
        while !CTRL_C.load(Ordering::SeqCst) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// The machine would restart: the run ends here, successfully (it did end with an error the script could
    /// catch, and then any later error was taken for this success).
    fn reboot(&mut self) -> String {
        stop()
    }

    /// As `reboot`.
    fn halt(&mut self) -> String {
        stop()
    }

    fn keymap(&mut self, name: &str) -> Result<(), String> {
        match name {
            "us" | "uk" | "de" | "fr" => Ok(()),
            _ => Err(format!("unknown keymap '{name}' (us, uk, de, fr)")),
        }
    }

    fn disks(&mut self) -> Vec<Rc<dyn BlockDevice>> {
        self.images.clone()
    }

    fn memory(&mut self) -> Memory {
        Memory {
            map: pc_map(DRY_RUN_RAM),
            // The payload's heap holding what the script read, as on the machine: from 128 MiB, the RAM below
            // left to kernels loaded where they ask (its image at 1 MiB may be overwritten by a Multiboot2 one:
            // the payload relocates itself out of the way).
            in_use: vec![(128 << 20, 32 << 20)],
            limit: 1 << 32,
            rsdp: None,
            rsdp_address: None,
            cursor: Some((0, 24)),
            framebuffer: None,
            efi: None,
        }
    }

    fn boot(&mut self, handoff: Handoff<'_>, summary: &Summary) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "exec: dry run: would boot {} as a {} kernel\n",
            summary.kernel, summary.kind
        ));
        match &handoff {
            Handoff::Linux(b) => {
                let (major, minor) = b.image.header.version_pair();
                out.push_str(&format!(
                    "exec: Linux boot protocol {major}.{minor}{}\n",
                    b.image
                        .kernel_version()
                        .map(|v| format!(", version {v}"))
                        .unwrap_or_default()
                ));
                out.push_str(&format!(
                    "exec: kernel {} bytes at {:#x} ({} bytes reserved), 64-bit entry {:#x}\n",
                    b.image.protected_mode().len(),
                    b.plan.kernel_addr,
                    b.plan.kernel_span,
                    b.plan.entry_64
                ));
                if b.plan.initrd_len > 0 {
                    out.push_str(&format!(
                        "exec: initrd area {} bytes at {:#x}\n",
                        b.plan.initrd_len, b.plan.initrd_addr
                    ));
                }
                out.push_str(&format!(
                    "exec: boot_params at {:#x}\n",
                    b.plan.boot_params_addr
                ));
            }
            Handoff::Multiboot2(b) => {
                out.push_str(&format!(
                    "exec: Multiboot2 entry {:#x}, {} segment(s), information at {:#x}\n",
                    b.image.entry,
                    b.image.segments.len(),
                    b.info_addr
                ));
            }
        }
        out.push_str(&format!("exec: command line: {}\n", summary.cmdline));
        for (path, size) in &summary.initrds {
            out.push_str(&format!("exec: initrd {path} ({size} bytes)\n"));
        }
        for (path, size) in &summary.files {
            out.push_str(&format!("exec: file handed on: {path} ({size} bytes)\n"));
        }
        self.write(&out);
        // exec does not return: a dry run ends here, successfully.
        stop()
    }
}

/// Ends the tool successfully, as `halt()`, `reboot()` and `exec` end a script on the machine: they do not
/// return.
fn stop() -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(0)
}
