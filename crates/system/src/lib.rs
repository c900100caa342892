//! The script's world: the contract's platform primitives (hashes, keys, volumes, files, disks and the
//! hand-off) built from the pure crates, for any [`Machine`] that has consoles, a clock, disks and a way to
//! jump. The payload implements `Machine` with its drivers, the host tool with stdin, stdout and image files;
//! everything between the script and those few functions is this one piece of code.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod exec;
pub mod line;
mod progress;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bootscript_crypto as crypto;
use bootscript_disk::{probe_disks, BlockDevice, Kind, Vfs};
use bootscript_lang::{Platform, Primitive, Value};

pub use bootscript_handoff::linux::LinuxBoot;
pub use bootscript_handoff::memory::{pc_map, MemoryRegion};
pub use bootscript_handoff::multiboot2::Multiboot2Boot;
pub use bootscript_handoff::{Efi, Framebuffer};
pub use exec::{Handoff, Memory, Summary};

/// What a machine offers the script besides the pure code: consoles, a clock, disks, and the jump.
pub trait Machine {
    /// Writes text to every console.
    fn write(&mut self, text: &str);
    /// Reads one line for `prompt`; with `echo` false nothing typed is shown or kept anywhere.
    fn read_line(&mut self, echo: bool) -> Result<String, String>;
    /// Milliseconds since the machine started.
    fn time_ms(&mut self) -> u64;
    fn sleep_ms(&mut self, ms: u64);
    /// Returns only if it failed: the error message.
    fn reboot(&mut self) -> String;
    /// Returns only if it failed: the error message.
    fn halt(&mut self) -> String;
    /// Switches the keyboard layout `prompt` reads with.
    fn keymap(&mut self, name: &str) -> Result<(), String>;
    /// Whether the user pressed Ctrl-C since the last call (see `bootscript_lang::Platform::interrupted`).
    fn interrupted(&mut self) -> bool {
        false
    }
    /// The raw disks in order (`hd0`, `hd1`, ...), each named by its `name()`.
    fn disks(&mut self) -> Vec<Rc<dyn BlockDevice>>;
    /// Physical memory as the hand-off must see it.
    fn memory(&mut self) -> Memory;
    /// Copies the prepared pieces into place and jumps; on the host, prints what it would boot (`summary`
    /// says it in words). Returns only when it could not: the error message.
    fn boot(&mut self, handoff: Handoff<'_>, summary: &Summary) -> String;
}

/// One named block device the script can use: a disk, a partition, or a mapping made by the script.
struct Device {
    name: String,
    kind: &'static str,
    label: Option<String>,
    uuid: Option<String>,
    device: Rc<dyn BlockDevice>,
}

/// A [`Platform`] for the interpreter, made of a [`Machine`] and the pure crates.
pub struct World<M: Machine> {
    pub machine: M,
    devices: Option<Vec<Device>>,
    vfs: Vfs,
    /// A key derivation was stopped by Ctrl-C (which the machine reports once): kept for the interpreter's
    /// next question, which makes the primitive's failure the script's interruption.
    interrupted: bool,
}

impl<M: Machine> World<M> {
    pub fn new(machine: M) -> World<M> {
        World {
            machine,
            devices: None,
            vfs: Vfs::new(),
            interrupted: false,
        }
    }

    /// The devices, probed on first use: each disk followed by its partitions, then the script's mappings.
    fn devices(&mut self) -> &mut Vec<Device> {
        if self.devices.is_none() {
            let disks = self.machine.disks();
            let (entries, errors) = probe_disks(&disks);
            for error in errors {
                self.machine
                    .write(&format!("bootscript: partition table: {error}\n"));
            }
            let mut devices = Vec::with_capacity(entries.len());
            for e in entries {
                devices.push(Device {
                    name: e.name,
                    kind: e.kind.as_str(),
                    label: e.label,
                    uuid: e.uuid,
                    device: e.device,
                });
            }
            self.devices = Some(devices);
        }
        self.devices.get_or_insert_with(Vec::new)
    }

    fn device(&mut self, name: &str) -> Result<Rc<dyn BlockDevice>, String> {
        self.devices()
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.device.clone())
            .ok_or_else(|| format!("no device named '{name}' (see disks())"))
    }

    /// Refuses a new device's name that a device has already.
    fn check_new_name(&mut self, name: &str) -> Result<(), String> {
        if self.devices().iter().any(|d| d.name == name) {
            return Err(format!("a device named '{name}' exists already"));
        }
        Ok(())
    }

    fn add_mapping(&mut self, name: &str, device: Rc<dyn BlockDevice>) -> Result<Value, String> {
        self.check_new_name(name)?;
        self.devices().push(Device {
            name: String::from(name),
            kind: "mapped",
            label: None,
            uuid: None,
            device,
        });
        Ok(Value::str(name))
    }

    // Kept out of line: inlined into the primitive dispatch, it is bigger.
    #[inline(never)]
    fn disks_value(&mut self) -> Value {
        let items = self
            .devices()
            .iter()
            .map(|d| {
                let mut entries = Vec::with_capacity(5);
                entries.push((String::from("name"), Value::str(&d.name)));
                entries.push((String::from("size"), size_value(d.device.size())));
                entries.push((String::from("kind"), Value::str(d.kind)));
                if let Some(label) = &d.label {
                    entries.push((String::from("label"), Value::str(label)));
                }
                if let Some(uuid) = &d.uuid {
                    entries.push((String::from("uuid"), Value::str(uuid)));
                }
                Value::map(entries)
            })
            .collect();
        Value::list(items)
    }

    /// Reads a whole file, failing cleanly when it is larger than `limit` bytes or memory is short (a kernel is
    /// 14 MB).
    pub(crate) fn read_file(&self, path: &str, limit: usize) -> Result<Vec<u8>, String> {
        let file = self.vfs.open(path).map_err(text)?;
        let size = usize::try_from(file.size()).map_err(|_| format!("{path}: too large"))?;
        if size > limit {
            return Err(format!(
                "{path}: {size} bytes, more than the script may hold ({limit} more)"
            ));
        }
        let mut data = Vec::new();
        data.try_reserve_exact(size)
            .map_err(|_| format!("{path}: not enough memory for {size} bytes"))?;
        // Zeroed a sector's worth at a time (a copy of zeros, which the compiler makes a memset), not by
        // `resize`: at opt-level "z" that is a loop of one byte a turn, 14 million turns for a kernel, which took
        // 70-150 ms under QEMU's TCG (more where the loop straddles a page of code).
        const ZEROS: [u8; 512] = [0; 512];
        while data.len() < size {
            data.extend_from_slice(&ZEROS[..(size - data.len()).min(ZEROS.len())]);
        }
        let n = file.read_at(0, &mut data).map_err(text)?;
        data.truncate(n);
        Ok(data)
    }

    fn primitive_inner(
        &mut self,
        which: Primitive,
        args: Vec<Value>,
        room: usize,
    ) -> Result<Value, String> {
        let nil = Value::Nil;
        let arg = |i: usize| args.get(i).unwrap_or(&nil);
        match which {
            Primitive::Sha1 | Primitive::Sha256 | Primitive::Sha512 | Primitive::Ripemd160 => {
                let name = &which.name();
                let data = data_arg(arg(0), "data")?;
                let out = crypto::digest(name, data).map_err(text)?;
                Ok(Value::bytes(out))
            }
            Primitive::Hmac => {
                let hash = str_arg(arg(0), "hash")?;
                let out = crypto::hmac(hash, data_arg(arg(1), "key")?, data_arg(arg(2), "data")?)
                    .map_err(text)?;
                Ok(Value::bytes(out))
            }
            Primitive::Pbkdf2 => {
                let hash = str_arg(arg(0), "hash")?;
                let password = data_arg(arg(1), "password")?;
                let salt = data_arg(arg(2), "salt")?;
                // (Out of the types' range, the same errors as the derivation's own bounds give.)
                let (iterations, length) =
                    (int_arg(arg(3), "iterations")?, int_arg(arg(4), "length")?);
                let iterations = u32::try_from(iterations).map_err(|_| {
                    format!(
                        "PBKDF2 iteration count {iterations} is outside 1..={}",
                        crypto::MAX_PBKDF2_ITERATIONS
                    )
                })?;
                let length = usize::try_from(length).map_err(|_| {
                    format!(
                        "PBKDF2 output length {length} is outside 1..={}",
                        crypto::MAX_PBKDF2_LENGTH
                    )
                })?;
                let mut progress = progress::Progress::new(&mut self.machine, "deriving key");
                let key = crypto::pbkdf2_with_progress(
                    hash,
                    password,
                    salt,
                    iterations,
                    length,
                    &mut |percent| progress.update(percent),
                );
                self.interrupted |= progress.finish(key.is_ok());
                let key = key.map_err(text)?;
                Ok(Value::bytes(key.as_bytes().to_vec()))
            }
            Primitive::AesSetup => {
                let name = name_arg(arg(0))?;
                let device_name = str_arg(arg(1), "device")?;
                let device = self.device(device_name)?;
                let key = data_arg(arg(2), "key")?;
                let cipher = str_arg(arg(3), "cipher")?;
                let offset = sectors_arg(arg(4), "offset")?;
                // 0 is the rest of the device after `offset`, as cryptsetup's `--size 0` (its default) is.
                let size = match arg(5) {
                    Value::Nil => None,
                    v => Some(sectors_arg(v, "size")?).filter(|&sectors| sectors != 0),
                };
                let skip = sectors_arg(arg(6), "skip")?;
                let view = crypto::plain_view(device, cipher, key, offset, size, skip)
                    .map_err(|e| format!("{device_name}: {e}"))?;
                self.add_mapping(name, view)
            }
            Primitive::LuksOpen => {
                let device_name = str_arg(arg(0), "device")?;
                let device = self.device(device_name)?;
                let passphrase = data_arg(arg(1), "passphrase")?;
                let name = name_arg(arg(2))?;
                self.check_new_name(name)?;
                let label = format!("unlocking {device_name}");
                let mut progress = progress::Progress::new(&mut self.machine, &label);
                let view = crypto::luks_open(device, passphrase, &mut |p| progress.update(p));
                self.interrupted |= progress.finish(view.is_ok());
                let view = view.map_err(|e| match e {
                    crypto::CryptoError::NoKeySlotMatches
                    | crypto::CryptoError::NoKeySlotMatchesNotTried(_) => e.to_string(),
                    e => format!("{device_name}: {e}"),
                })?;
                self.add_mapping(name, view)
            }
            Primitive::Disks => Ok(self.disks_value()),
            Primitive::Mount => {
                let device_name = str_arg(arg(0), "device")?;
                let path = str_arg(arg(1), "path")?;
                let device = self.device(device_name)?;
                // The file system's errors name the device already.
                self.vfs.mount(device, path).map_err(text)?;
                Ok(Value::Nil)
            }
            Primitive::Umount => {
                let path = str_arg(arg(0), "path")?;
                self.vfs.umount(path).map_err(text)?;
                Ok(Value::Nil)
            }
            Primitive::Ls => {
                let path = str_arg(arg(0), "path")?;
                // A script value too, whose names are refused past the room left as they are read.
                let names = self.vfs.ls_within(path, room).map_err(text)?;
                Ok(Value::list(names.into_iter().map(Value::string).collect()))
            }
            Primitive::Read => {
                let path = str_arg(arg(0), "path")?;
                // A script value: within the script's memory limit (the heap is four times that, so what is
                // left stays enough for the rest of the run).
                Ok(Value::bytes(self.read_file(path, room)?))
            }
            Primitive::Exists => {
                let path = str_arg(arg(0), "path")?;
                Ok(Value::bool(self.vfs.exists(path).map_err(text)?))
            }
            Primitive::Stat => {
                let path = str_arg(arg(0), "path")?;
                let stat = self.vfs.stat(path).map_err(text)?;
                let kind = if stat.kind == Kind::Dir {
                    "dir"
                } else {
                    "file"
                };
                Ok(Value::map(alloc::vec![
                    (String::from("size"), size_value(stat.size)),
                    (String::from("kind"), Value::str(kind)),
                ]))
            }
            Primitive::Exec => exec::exec(self, &args),
        }
    }
}

impl<M: Machine> Platform for World<M> {
    fn write(&mut self, text: &str) {
        self.machine.write(text)
    }
    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        self.machine.read_line(echo)
    }
    fn time_ms(&mut self) -> u64 {
        self.machine.time_ms()
    }
    fn interrupted(&mut self) -> bool {
        core::mem::take(&mut self.interrupted) || self.machine.interrupted()
    }
    fn sleep_ms(&mut self, ms: u64) {
        self.machine.sleep_ms(ms)
    }
    fn reboot(&mut self) -> String {
        self.machine.reboot()
    }
    fn halt(&mut self) -> String {
        self.machine.halt()
    }
    fn keymap(&mut self, name: &str) -> Result<(), String> {
        self.machine.keymap(name)
    }
    fn primitive(
        &mut self,
        which: Primitive,
        args: Vec<Value>,
        room: usize,
    ) -> Result<Value, String> {
        // A line typed at a hidden prompt, passed by mistake where a name goes (a device's, a hash's): the
        // error does not quote it (see `bootscript_lang::hide`).
        let hidden = args.iter().find(|a| a.hidden_text().is_some()).cloned();
        self.primitive_inner(which, args, room)
            .map_err(|mut message| {
                if let Some(text) = hidden.as_ref().and_then(Value::hidden_text) {
                    bootscript_lang::hide(&mut message, text);
                }
                message
            })
    }
}

/// An error's message, for the many `map_err`s: one function per error type, not inlined (the error is dropped
/// there too), is smaller than the same conversion at every call.
#[inline(never)]
fn text<E: core::fmt::Display>(error: E) -> String {
    error.to_string()
}

fn size_value(bytes: u64) -> Value {
    Value::Int(i64::try_from(bytes).unwrap_or(i64::MAX))
}

pub(crate) fn str_arg<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{what} must be a str, not {}", value.type_name()))
}

/// A str (its UTF-8) or bytes.
pub(crate) fn data_arg<'a>(value: &'a Value, what: &str) -> Result<&'a [u8], String> {
    value
        .as_bytes()
        .ok_or_else(|| format!("{what} must be a str or bytes, not {}", value.type_name()))
}

fn int_arg(value: &Value, what: &str) -> Result<i64, String> {
    value
        .as_int()
        .ok_or_else(|| format!("{what} must be an int, not {}", value.type_name()))
}

fn sectors_arg(value: &Value, what: &str) -> Result<u64, String> {
    u64::try_from(int_arg(value, what)?).map_err(|_| format!("{what} must not be negative"))
}

/// A new device's name: something a later `mount`, `disks()` or Linux's /dev/mapper could show.
fn name_arg(value: &Value) -> Result<&str, String> {
    let name = str_arg(value, "name")?;
    let good = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if good {
        Ok(name)
    } else {
        // Not echoed: a passphrase given in its place (arguments swapped) must not show.
        Err(String::from(
            "bad device name: use 1 to 64 letters, digits, '_', '-' and '.'",
        ))
    }
}

#[cfg(test)]
mod tests;
