//! LUKS2: the two binary headers with their SHA-256 checksums, the JSON metadata (key slots, digests,
//! segments), and unlocking with PBKDF2 or Argon2 key slots.

use crate::cipher::SectorCipher;
use crate::hash::{digest, pbkdf2_into, HashAlgorithm};
use crate::json::{self, Value};
use crate::kdf::{argon2_with_progress, Argon2Kind, Costs as Argon2Costs};
use crate::keyslot::{recover_key, KeyDigest, KeyMaterial};
use crate::read::{read_bytes, too_small};
use crate::view::CryptView;
use crate::{CryptoError, Secret, SECTOR_SIZE};
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bootscript_disk::BlockDevice;

/// The binary part of each header copy.
pub const BINARY_HEADER_SIZE: usize = 4096;
const MAGIC_PRIMARY: &[u8; 6] = b"LUKS\xba\xbe";
const MAGIC_SECONDARY: &[u8; 6] = b"SKUL\xba\xbe";
/// Header sizes (binary + JSON) the format allows; the secondary copy starts at the first one's size.
const HEADER_SIZES: [u64; 9] = [
    16 << 10,
    32 << 10,
    64 << 10,
    128 << 10,
    256 << 10,
    512 << 10,
    1 << 20,
    2 << 20,
    4 << 20,
];
const CHECKSUM_AT: usize = 448;
/// Most anti-forensic stripes and the largest key accepted: bound the key material read.
const MAX_STRIPES: u64 = 65_536;
const MAX_KEY_SIZE: u64 = 64;

#[optimize(size)]
fn bad(message: &str) -> CryptoError {
    CryptoError::BadHeader(message.to_string())
}

/// How a key slot turns a passphrase into its area key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2 {
        hash: HashAlgorithm,
        iterations: u32,
        salt: Vec<u8>,
    },
    Argon2 {
        kind: Argon2Kind,
        time: u32,
        memory_kib: u32,
        lanes: u32,
        salt: Vec<u8>,
    },
}

/// A `luks2` key slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySlot {
    pub id: u32,
    /// Volume key length in bytes.
    pub key_size: usize,
    /// 0 = ignored unless asked for, 1 = normal, 2 = tried first.
    pub priority: u8,
    pub kdf: Kdf,
    pub af_stripes: u32,
    pub af_hash: HashAlgorithm,
    /// Key material area, in bytes from the device's start.
    pub area_offset: u64,
    pub area_size: u64,
    pub area_encryption: String,
    pub area_key_size: usize,
}

/// A `pbkdf2` digest: which key slots and segments it ties together and how to check a volume key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub keyslots: Vec<u32>,
    pub segments: Vec<u32>,
    pub hash: HashAlgorithm,
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub digest: Vec<u8>,
}

/// A `crypt` data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: u32,
    /// Bytes from the device's start.
    pub offset: u64,
    /// Bytes, or `None` for "dynamic" (to the device's end).
    pub size: Option<u64>,
    /// Added to the IV sector number, in 512-byte units as dm-crypt's `iv_offset`.
    pub iv_tweak: u64,
    pub encryption: String,
    pub sector_size: usize,
}

/// The metadata of a LUKS2 volume, as the JSON area gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    pub keyslots: Vec<KeySlot>,
    /// Key slots that cannot be tried (a hash, key derivation or cipher this crate does not implement), with
    /// why: the others are still tried, as cryptsetup tries them.
    pub unusable: Vec<(u32, String)>,
    pub digests: Vec<Digest>,
    pub segments: Vec<Segment>,
    /// The features the volume requires of whoever opens it (`config.requirements.mandatory`).
    pub requirements: Vec<String>,
}

/// A checked LUKS2 header: the copy with the highest sequence id whose checksum holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luks2Header {
    pub seqid: u64,
    pub header_size: u64,
    pub uuid: String,
    pub label: String,
    pub metadata: Metadata,
}

#[optimize(size)]
fn be64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

#[optimize(size)]
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Decodes standard padded base64, as cryptsetup writes salts and digests.
#[optimize(size)]
pub fn base64_decode(text: &str) -> Result<Vec<u8>, CryptoError> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(bad("base64 text is not a whole number of quads"));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (index, quad) in bytes.chunks_exact(4).enumerate() {
        let last = index + 1 == bytes.len() / 4;
        let mut value = 0u32;
        let mut padding = 0;
        for (position, &c) in quad.iter().enumerate() {
            let digit = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if last && position >= 2 => {
                    padding += 1;
                    0
                }
                _ => return Err(bad("bad base64 character")),
            };
            if padding > 0 && c != b'=' {
                return Err(bad("bad base64 padding"));
            }
            value = value << 6 | u32::from(digit);
        }
        let decoded = value.to_be_bytes();
        out.extend_from_slice(&decoded[1..4 - padding]);
    }
    Ok(out)
}

#[optimize(size)]
fn field<'a>(object: &'a Value, key: &str, what: &str) -> Result<&'a Value, CryptoError> {
    object
        .get(key)
        .ok_or_else(|| CryptoError::BadHeader(format!("{what} has no '{key}'")))
}

#[optimize(size)]
fn string_field<'a>(object: &'a Value, key: &str, what: &str) -> Result<&'a str, CryptoError> {
    field(object, key, what)?
        .as_str()
        .ok_or_else(|| CryptoError::BadHeader(format!("{what}: '{key}' is not a string")))
}

#[optimize(size)]
fn int_field(object: &Value, key: &str, what: &str) -> Result<u64, CryptoError> {
    field(object, key, what)?
        .as_i64()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            CryptoError::BadHeader(format!("{what}: '{key}' is not a non-negative integer"))
        })
}

/// LUKS2 writes 64-bit numbers as decimal strings.
#[optimize(size)]
fn string_u64(object: &Value, key: &str, what: &str) -> Result<u64, CryptoError> {
    let text = string_field(object, key, what)?;
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CryptoError::BadHeader(format!(
            "{what}: '{key}' is not a decimal number"
        )));
    }
    decimal_value(text)
        .ok_or_else(|| CryptoError::BadHeader(format!("{what}: '{key}' is too large")))
}

/// The value of `digits` (ASCII digits, already checked), or `None` past `u64::MAX`. One loop for ids and
/// numbers instead of `str::parse` for both `u32` and `u64`.
#[optimize(size)]
fn decimal_value(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

#[optimize(size)]
fn u32_of(value: u64, key: &str, what: &str) -> Result<u32, CryptoError> {
    u32::try_from(value)
        .map_err(|_| CryptoError::BadHeader(format!("{what}: '{key}' is too large")))
}

#[optimize(size)]
fn id_of(key: &str, what: &str) -> Result<u32, CryptoError> {
    if key.is_empty() || key.len() > 9 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CryptoError::BadHeader(format!(
            "{what} id '{key}' is not a number"
        )));
    }
    // (Nine digits or fewer always fit.)
    Ok(decimal_value(key).unwrap_or_default() as u32)
}

#[optimize(size)]
fn id_list(object: &Value, key: &str, what: &str) -> Result<Vec<u32>, CryptoError> {
    let list = field(object, key, what)?;
    if !matches!(list, Value::Array(_)) {
        return Err(CryptoError::BadHeader(format!(
            "{what}: '{key}' is not an array"
        )));
    }
    let mut ids = Vec::new();
    for item in list.items() {
        let id = item
            .as_str()
            .ok_or_else(|| CryptoError::BadHeader(format!("{what}: '{key}' holds a non-string")))?;
        ids.push(id_of(id, what)?);
    }
    Ok(ids)
}

#[optimize(size)]
fn key_size(value: u64, what: &str) -> Result<usize, CryptoError> {
    if value == 0 || value > MAX_KEY_SIZE {
        return Err(CryptoError::BadHeader(format!(
            "{what}: key size {value} is out of range"
        )));
    }
    Ok(value as usize)
}

impl Metadata {
    /// Interprets the JSON area (NUL padding after the document is allowed).
    #[optimize(size)]
    #[inline(never)] // a smaller payload: see lib.rs
    pub fn parse(json_area: &[u8]) -> Result<Metadata, CryptoError> {
        let end = json_area
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(json_area.len());
        let root = json::parse(&json_area[..end])?;
        if !matches!(root, Value::Object(_)) {
            return Err(bad("metadata is not an object"));
        }
        let mut metadata = Metadata::default();
        for (id, slot) in field(&root, "keyslots", "metadata")?.members() {
            let what = "key slot";
            if string_field(slot, "type", what)? != "luks2" {
                continue; // reencryption slots and future types hold no passphrase key
            }
            let id = id_of(id, what)?;
            match parse_keyslot(id, slot) {
                Ok(slot) => metadata.keyslots.push(slot),
                Err(
                    error @ (CryptoError::UnknownHash(_)
                    | CryptoError::UnknownCipher(_)
                    | CryptoError::KeyLength { .. }
                    | CryptoError::Unsupported(_)),
                ) => metadata.unusable.push((id, error.to_string())),
                Err(error) => return Err(error),
            }
        }
        if let Some(required) = root
            .get("config")
            .and_then(|config| config.get("requirements"))
            .and_then(|requirements| requirements.get("mandatory"))
        {
            for feature in required.items() {
                metadata.requirements.push(
                    feature
                        .as_str()
                        .ok_or_else(|| bad("a mandatory requirement is not a string"))?
                        .to_string(),
                );
            }
        }
        for (_, entry) in field(&root, "digests", "metadata")?.members() {
            let what = "digest";
            if string_field(entry, "type", what)? != "pbkdf2" {
                continue;
            }
            let iterations = u32_of(int_field(entry, "iterations", what)?, "iterations", what)?;
            metadata.digests.push(Digest {
                keyslots: id_list(entry, "keyslots", what)?,
                segments: id_list(entry, "segments", what)?,
                hash: HashAlgorithm::from_name(string_field(entry, "hash", what)?)?,
                iterations,
                salt: base64_decode(string_field(entry, "salt", what)?)?,
                digest: base64_decode(string_field(entry, "digest", what)?)?,
            });
        }
        for (id, entry) in field(&root, "segments", "metadata")?.members() {
            let what = "segment";
            let kind = string_field(entry, "type", what)?;
            if kind != "crypt" {
                return Err(CryptoError::Unsupported(format!("segment type '{kind}'")));
            }
            if entry.get("integrity").is_some_and(|v| *v != Value::Null) {
                return Err(CryptoError::Unsupported(
                    "segments with integrity protection".to_string(),
                ));
            }
            let size = match string_field(entry, "size", what)? {
                "dynamic" => None,
                _ => Some(string_u64(entry, "size", what)?),
            };
            let sector_size = int_field(entry, "sector_size", what)?;
            if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
                return Err(CryptoError::BadHeader(format!(
                    "segment sector size {sector_size}"
                )));
            }
            metadata.segments.push(Segment {
                id: id_of(id, what)?,
                offset: string_u64(entry, "offset", what)?,
                size,
                iv_tweak: string_u64(entry, "iv_tweak", what)?,
                encryption: string_field(entry, "encryption", what)?.to_string(),
                sector_size: sector_size as usize,
            });
        }
        Ok(metadata)
    }
}

#[optimize(size)]
#[inline(never)] // a smaller payload: see lib.rs
fn parse_keyslot(id: u32, slot: &Value) -> Result<KeySlot, CryptoError> {
    let what = "key slot";
    let kdf_object = field(slot, "kdf", what)?;
    let kdf_type = string_field(kdf_object, "type", "kdf")?;
    let salt = || base64_decode(string_field(kdf_object, "salt", "kdf")?);
    let kdf = match kdf_type {
        "pbkdf2" => Kdf::Pbkdf2 {
            hash: HashAlgorithm::from_name(string_field(kdf_object, "hash", "kdf")?)?,
            iterations: u32_of(
                int_field(kdf_object, "iterations", "kdf")?,
                "iterations",
                "kdf",
            )?,
            salt: salt()?,
        },
        "argon2i" | "argon2id" => Kdf::Argon2 {
            kind: if kdf_type == "argon2i" {
                Argon2Kind::Argon2i
            } else {
                Argon2Kind::Argon2id
            },
            time: u32_of(int_field(kdf_object, "time", "kdf")?, "time", "kdf")?,
            memory_kib: u32_of(int_field(kdf_object, "memory", "kdf")?, "memory", "kdf")?,
            lanes: u32_of(int_field(kdf_object, "cpus", "kdf")?, "cpus", "kdf")?,
            salt: salt()?,
        },
        other => {
            return Err(CryptoError::Unsupported(format!(
                "key derivation '{other}'"
            )))
        }
    };
    let af = field(slot, "af", what)?;
    if string_field(af, "type", "af")? != "luks1" {
        return Err(CryptoError::Unsupported(
            "anti-forensic splitter other than luks1".to_string(),
        ));
    }
    let stripes = int_field(af, "stripes", "af")?;
    if stripes == 0 || stripes > MAX_STRIPES {
        return Err(CryptoError::BadHeader(format!(
            "key slot {id} has {stripes} stripes"
        )));
    }
    let area = field(slot, "area", what)?;
    if string_field(area, "type", "area")? != "raw" {
        return Err(CryptoError::Unsupported(
            "key slot area other than raw".to_string(),
        ));
    }
    let priority = match slot.get("priority") {
        None => 1,
        Some(value) => match value.as_i64() {
            Some(p @ 0..=2) => p as u8,
            _ => {
                return Err(CryptoError::BadHeader(format!(
                    "key slot {id} has a bad priority"
                )))
            }
        },
    };
    let key_size = key_size(int_field(slot, "key_size", what)?, what)?;
    let area_key_size = key_size_checked(int_field(area, "key_size", "area")?)?;
    let area_encryption = string_field(area, "encryption", "area")?.to_string();
    let area_offset = string_u64(area, "offset", "area")?;
    let area_size = string_u64(area, "size", "area")?;
    if (key_size as u64) * stripes > area_size {
        return Err(CryptoError::BadHeader(format!(
            "key slot {id}: key material larger than its area"
        )));
    }
    Ok(KeySlot {
        id,
        key_size,
        priority,
        kdf,
        af_stripes: stripes as u32,
        af_hash: HashAlgorithm::from_name(string_field(af, "hash", "af")?)?,
        area_offset,
        area_size,
        area_encryption,
        area_key_size,
    })
}

#[optimize(size)]
fn key_size_checked(value: u64) -> Result<usize, CryptoError> {
    key_size(value, "key slot area")
}

/// Checks one header copy (`area` = its binary header and JSON area) and parses it.
#[optimize(size)]
fn parse_copy(area: &[u8], magic: &[u8; 6]) -> Result<Luks2Header, CryptoError> {
    if area.len() < BINARY_HEADER_SIZE {
        return Err(bad("truncated header"));
    }
    if &area[..6] != magic {
        return Err(CryptoError::NotLuks);
    }
    let version = u16::from_be_bytes([area[6], area[7]]);
    if version != 2 {
        return Err(CryptoError::BadHeader(format!(
            "version {version} is not LUKS2"
        )));
    }
    let header_size = be64(area, 8);
    if !HEADER_SIZES.contains(&header_size) {
        return Err(CryptoError::BadHeader(format!("header size {header_size}")));
    }
    if (area.len() as u64) < header_size {
        return Err(bad("truncated header"));
    }
    let area = &area[..header_size as usize];
    let algorithm = text(&area[72..104]);
    let length = HashAlgorithm::from_name(&algorithm)?.output_len();
    // The checksum covers the whole header area with the checksum field itself zeroed.
    let mut copy = area.to_vec();
    copy[CHECKSUM_AT..CHECKSUM_AT + 64].fill(0);
    let sum = digest(&algorithm, &copy)?;
    if sum[..] != area[CHECKSUM_AT..CHECKSUM_AT + length] {
        return Err(CryptoError::BadChecksum);
    }
    Ok(Luks2Header {
        seqid: be64(area, 16),
        header_size,
        uuid: text(&area[168..208]),
        label: text(&area[24..72]),
        metadata: Metadata::parse(&area[BINARY_HEADER_SIZE..])?,
    })
}

impl Luks2Header {
    /// Parses a primary header copy from the bytes at the start of a volume (at least its header size).
    #[optimize(size)]
    pub fn parse(bytes: &[u8]) -> Result<Luks2Header, CryptoError> {
        parse_copy(bytes, MAGIC_PRIMARY)
    }

    /// Reads both header copies and keeps the valid one with the higher sequence id; if neither is
    /// valid, the primary copy's error is the one reported.
    #[optimize(size)]
    #[inline(never)] // a smaller payload: see lib.rs
    pub fn read(device: &dyn BlockDevice) -> Result<Luks2Header, CryptoError> {
        let device_bytes = device.size();
        if device_bytes < BINARY_HEADER_SIZE as u64 {
            // Too short for any LUKS2 header: "too small" only if it starts like one.
            let start = read_bytes(device, 0, device_bytes.min(8))?;
            return Err(if start.starts_with(MAGIC_PRIMARY) {
                too_small((BINARY_HEADER_SIZE / SECTOR_SIZE) as u64, device)
            } else {
                CryptoError::NotLuks
            });
        }
        let first = read_bytes(device, 0, BINARY_HEADER_SIZE as u64)?;
        let primary = if &first[..6] == MAGIC_PRIMARY {
            let size = be64(&first, 8);
            if !HEADER_SIZES.contains(&size) {
                Err(CryptoError::BadHeader(format!("header size {size}")))
            } else if size > device_bytes {
                Err(too_small(size / SECTOR_SIZE as u64, device))
            } else {
                read_bytes(device, 0, size).and_then(|area| parse_copy(&area, MAGIC_PRIMARY))
            }
        } else {
            Err(CryptoError::NotLuks)
        };
        // The secondary copy sits right after the primary; its size is unknown if the primary is
        // damaged, so every allowed position is tried.
        let mut secondary: Option<Luks2Header> = None;
        for &offset in HEADER_SIZES.iter() {
            if offset + BINARY_HEADER_SIZE as u64 > device_bytes {
                break;
            }
            // (A sector that cannot be read there is no copy: the primary may well be good.)
            let Ok(binary) = read_bytes(device, offset, BINARY_HEADER_SIZE as u64) else {
                continue;
            };
            if &binary[..6] != MAGIC_SECONDARY {
                continue;
            }
            let size = be64(&binary, 8);
            if size != offset
                || offset
                    .checked_add(size)
                    .is_none_or(|end| end > device_bytes)
            {
                continue;
            }
            if let Ok(header) =
                read_bytes(device, offset, size).and_then(|area| parse_copy(&area, MAGIC_SECONDARY))
            {
                secondary = Some(header);
                break;
            }
        }
        match (primary, secondary) {
            (Ok(p), Some(s)) => Ok(if s.seqid > p.seqid { s } else { p }),
            (Ok(p), None) => Ok(p),
            (Err(_), Some(s)) => Ok(s),
            (Err(error), None) => Err(error),
        }
    }

    /// Finds the volume key and the digest that confirmed it, for the data segment `segment`: key slots by
    /// priority (high first, then normal; "ignore" slots are skipped as cryptsetup does), each bound to a
    /// digest of that segment (an unbound slot's key is no volume key). A slot that cannot be tried (see
    /// [`Metadata::unusable`]; a derivation over this crate's limits or the machine's memory) is passed over,
    /// as cryptsetup passes over slots it cannot use, and named in the error if no other slot matches.
    #[optimize(size)]
    pub fn unlock(
        &self,
        device: &dyn BlockDevice,
        passphrase: &[u8],
        segment: &Segment,
        progress: &mut dyn FnMut(u32) -> bool,
    ) -> Result<(Secret, &Digest), CryptoError> {
        // High priority first, then normal, each in the order the JSON lists them; "ignore" slots are
        // never tried. Two passes instead of a sort keep the payload small.
        let slots = [2, 1].into_iter().flat_map(|priority| {
            self.metadata
                .keyslots
                .iter()
                .filter(move |slot| slot.priority == priority)
        });
        let mut tried = false;
        let mut not_tried = Vec::new();
        for (id, why) in &self.metadata.unusable {
            not_tried.push(format!("key slot {id}: {why}"));
        }
        for slot in slots {
            let Some(check) = self
                .metadata
                .digests
                .iter()
                .find(|d| d.keyslots.contains(&slot.id) && d.segments.contains(&segment.id))
            else {
                continue; // a slot bound to no digest of the data cannot be verified
            };
            // The area's cipher before the derivation (which may take long): one not implemented is this
            // slot's matter only.
            if let Err(error) = SectorCipher::new(
                &slot.area_encryption,
                Secret::zeroed(slot.area_key_size).as_bytes(),
            ) {
                not_tried.push(format!("key slot {}: {error}", slot.id));
                continue;
            }
            let mut area_key = Secret::zeroed(slot.area_key_size);
            let derived = match &slot.kdf {
                Kdf::Pbkdf2 {
                    hash,
                    iterations,
                    salt,
                } => pbkdf2_into(
                    *hash,
                    passphrase,
                    salt,
                    *iterations,
                    area_key.as_mut_bytes(),
                    progress,
                ),
                Kdf::Argon2 {
                    kind,
                    time,
                    memory_kib,
                    lanes,
                    salt,
                } => argon2_with_progress(
                    *kind,
                    passphrase,
                    salt,
                    Argon2Costs {
                        time: *time,
                        memory_kib: *memory_kib,
                        lanes: *lanes,
                    },
                    slot.area_key_size,
                    progress,
                )
                .map(|key| area_key = key),
            };
            match derived {
                Ok(()) => {}
                Err(error @ (CryptoError::Limit(_) | CryptoError::OutOfMemory { .. })) => {
                    not_tried.push(format!("key slot {}: {error}", slot.id));
                    continue;
                }
                Err(error) => return Err(error),
            }
            tried = true;
            let material = KeyMaterial {
                cipher: &slot.area_encryption,
                offset: slot.area_offset,
                key_size: slot.key_size,
                stripes: slot.af_stripes as usize,
                hash: slot.af_hash,
            };
            let digest = KeyDigest {
                hash: check.hash,
                salt: &check.salt,
                iterations: check.iterations,
                digest: &check.digest,
            };
            if let Some(key) =
                recover_key(device, &material, area_key.as_bytes(), &digest, progress)?
            {
                return Ok((key, check));
            }
        }
        Err(crate::error::no_slot_matches(tried, not_tried))
    }

    /// Opens the volume: the decrypting view of the segment the unlocking digest covers.
    #[optimize(size)]
    #[inline(never)] // a smaller payload: see lib.rs
    pub(crate) fn open(
        &self,
        device: Rc<dyn BlockDevice>,
        passphrase: &[u8],
        progress: &mut dyn FnMut(u32) -> bool,
    ) -> Result<CryptView, CryptoError> {
        if self.metadata.segments.len() != 1 {
            return Err(CryptoError::Unsupported(format!(
                "{} data segments (a reencryption in progress?)",
                self.metadata.segments.len()
            )));
        }
        if let Some(feature) = self.metadata.requirements.first() {
            return Err(CryptoError::Unsupported(format!(
                "the volume requires '{feature}'"
            )));
        }
        let segment = &self.metadata.segments[0];
        // Data over the header or a key slot's area: a detached header (`cryptsetup --header`, data offset 0),
        // whose data lies on another device; `luks_open` takes one. (An area past the device's end is a
        // damaged header, found when it is read.)
        let device_bytes = device.sectors().saturating_mul(SECTOR_SIZE as u64);
        let data = segment.offset
            ..segment
                .size
                .map_or(device_bytes, |size| segment.offset.saturating_add(size));
        let over =
            |start: u64, length: u64| start < data.end && data.start < start.saturating_add(length);
        if over(0, 2 * self.header_size)
            || self
                .metadata
                .keyslots
                .iter()
                .any(|slot| over(slot.area_offset, slot.area_size))
        {
            return Err(CryptoError::Unsupported(format!(
                "data from byte {} over the header's areas: a detached header",
                segment.offset
            )));
        }
        // The data's cipher (with the volume key's length) before any derivation, which may take long.
        if let Some(slot) = self.metadata.keyslots.first() {
            SectorCipher::new(
                &segment.encryption,
                Secret::zeroed(slot.key_size).as_bytes(),
            )?;
        }
        let (key, _) = self.unlock(&*device, passphrase, segment, progress)?;
        let sector = SECTOR_SIZE as u64;
        if !segment.offset.is_multiple_of(segment.sector_size as u64) {
            return Err(bad("segment offset is not sector aligned"));
        }
        let offset = segment.offset / sector;
        let available = device
            .sectors()
            .checked_sub(offset)
            .ok_or_else(|| too_small(offset, &*device))?;
        let sectors = match segment.size {
            None => available,
            Some(bytes) => {
                if !bytes.is_multiple_of(segment.sector_size as u64) {
                    return Err(bad("segment size is not whole sectors"));
                }
                let sectors = bytes / sector;
                if sectors > available {
                    return Err(too_small(offset.saturating_add(sectors), &*device));
                }
                sectors
            }
        };
        let cipher = SectorCipher::new(&segment.encryption, key.as_bytes())?;
        CryptView::new(
            device,
            cipher,
            offset,
            sectors,
            segment.iv_tweak,
            segment.sector_size,
            false,
        )
    }
}
