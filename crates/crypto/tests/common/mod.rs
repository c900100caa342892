//! Test helpers: an in-memory block device, hex, and running the independent tools (cryptsetup,
//! python3 with `cryptography`) that make the fixtures.
#![allow(dead_code)]

use bootscript_crypto::{BlockDevice, DiskError, SECTOR_SIZE};
use std::path::{Path, PathBuf};
use std::process::Command;

/// cryptsetup's arguments for an Argon2id key slot that unlocks fast: 32 KiB, 4 passes, one lane.
pub const FAST_ARGON2ID: [&str; 8] = [
    "--pbkdf",
    "argon2id",
    "--pbkdf-memory",
    "32",
    "--pbkdf-force-iterations",
    "4",
    "--pbkdf-parallel",
    "1",
];

/// A block device over bytes in memory (a fixture file read whole).
pub struct MemDevice(pub Vec<u8>);

impl BlockDevice for MemDevice {
    fn sectors(&self) -> u64 {
        (self.0.len() / SECTOR_SIZE) as u64
    }
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        bootscript_crypto::check_read(self.sectors(), lba, buf.len())?;
        let start = lba as usize * SECTOR_SIZE;
        buf.copy_from_slice(&self.0[start..start + buf.len()]);
        Ok(())
    }
}

pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2));
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh empty directory for one test's fixtures.
/// Tests run in parallel threads of one process, so each call gets its own number.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "bootscript-crypto-{}-{n}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a tool and returns its standard output; a missing tool or a failure fails the test loudly.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|error| {
        panic!("cannot run {program} ({error}); install it (scripts/setup.sh installs the test tools)")
    });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The independent encryptor: python3's `cryptography` writes `plaintext` encrypted into `image` at
/// byte `offset`, sector by sector, as dm-crypt would.
pub const ENCRYPT_PY: &str = r#"
import sys, hashlib
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
image, offset, mode, key, sector_size, iv_unit, first_iv, plain = sys.argv[1:9]
offset, sector_size, iv_unit, first_iv = int(offset), int(sector_size), int(iv_unit), int(first_iv)
key = bytes.fromhex(key)
data = open(plain, 'rb').read()
assert len(data) % sector_size == 0
out = bytearray()
for n in range(len(data) // sector_size):
    sector = first_iv + n * sector_size // iv_unit
    chunk = data[n * sector_size:(n + 1) * sector_size]
    if mode == 'xts':
        c = Cipher(algorithms.AES(key), modes.XTS(sector.to_bytes(16, 'little'))).encryptor()
    elif mode == 'cbc-essiv':
        salt = hashlib.sha256(key).digest()
        e = Cipher(algorithms.AES(salt), modes.ECB()).encryptor()
        iv = e.update(sector.to_bytes(16, 'little')) + e.finalize()
        c = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    elif mode == 'cbc-plain64':
        c = Cipher(algorithms.AES(key), modes.CBC(sector.to_bytes(16, 'little'))).encryptor()
    else:
        raise SystemExit('unknown mode ' + mode)
    out += c.update(chunk) + c.finalize()
with open(image, 'r+b') as f:
    f.seek(offset)
    f.write(out)
"#;

/// Writes a patterned plaintext of `length` bytes (no two sectors alike) to `path`.
pub fn write_pattern(path: &Path, length: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..length)
        .map(|i| (((i as u64).wrapping_mul(2654435761) >> 7) ^ ((i as u64 >> 9) * 31)) as u8)
        .collect();
    std::fs::write(path, &data).unwrap();
    data
}

/// Encrypts `plain` into `image` at `offset` with python3 (see [`ENCRYPT_PY`]).
#[allow(clippy::too_many_arguments)]
pub fn python_encrypt(
    image: &Path,
    offset: u64,
    mode: &str,
    key: &[u8],
    sector_size: usize,
    iv_unit: usize,
    first_iv: u64,
    plain: &Path,
) {
    run(
        "python3",
        &[
            "-c",
            ENCRYPT_PY,
            image.to_str().unwrap(),
            &offset.to_string(),
            mode,
            &to_hex(key),
            &sector_size.to_string(),
            &iv_unit.to_string(),
            &first_iv.to_string(),
            plain.to_str().unwrap(),
        ],
    );
}

/// Reads a whole view back.
pub fn read_all(device: &dyn BlockDevice, length: usize) -> Vec<u8> {
    let mut out = vec![0u8; length];
    device.read(0, &mut out).unwrap();
    out
}

/// Rewrites the JSON text of both LUKS2 header copies of a volume's bytes and recomputes their checksums.
pub fn rewrite_json(bytes: &mut [u8], edit: impl Fn(&str) -> String) {
    for copy in 0..2 {
        rewrite_copy(bytes, copy, |_| {}, &edit);
    }
}

/// Rewrites one LUKS2 header copy (0 the primary, 1 the secondary) of a volume's bytes: its binary header by
/// `header` (the copy's first 4096 bytes), its JSON text by `edit`; then recomputes that copy's checksum.
pub fn rewrite_copy(
    bytes: &mut [u8],
    copy: usize,
    header: impl Fn(&mut [u8]),
    edit: impl Fn(&str) -> String,
) {
    let size = u64::from_be_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let area = &mut bytes[copy * size..(copy + 1) * size];
    header(&mut area[..4096]);
    let json_end = area[4096..].iter().position(|&b| b == 0).unwrap() + 4096;
    let text = edit(std::str::from_utf8(&area[4096..json_end]).unwrap());
    assert!(text.len() < size - 4096);
    area[4096..].fill(0);
    area[4096..4096 + text.len()].copy_from_slice(text.as_bytes());
    area[448..512].fill(0);
    let sum = bootscript_crypto::digest("sha256", area).unwrap();
    area[448..448 + 32].copy_from_slice(&sum);
}
