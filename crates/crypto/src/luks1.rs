//! LUKS1: the big-endian header of cryptsetup's on-disk format 1.2, its eight key slots, and unlocking
//! (PBKDF2, anti-forensic merge, master key digest check).

use crate::cipher::SectorCipher;
use crate::hash::{pbkdf2_into, HashAlgorithm};
use crate::keyslot::{recover_key, KeyDigest, KeyMaterial};
use crate::read::too_small;
use crate::view::CryptView;
use crate::{CryptoError, Secret, SECTOR_SIZE};
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bootscript_disk::BlockDevice;

/// Bytes of the LUKS1 header proper (the rest of its sectors is padding).
pub const LUKS1_HEADER_SIZE: usize = 592;
const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
const SLOT_ACTIVE: u32 = 0x00AC_71F3;
const SLOT_INACTIVE: u32 = 0x0000_DEAD;
/// Most anti-forensic stripes accepted (cryptsetup writes 4000): bounds the key material read.
const MAX_STRIPES: u32 = 65_536;

/// One of the eight key slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luks1KeySlot {
    pub active: bool,
    pub iterations: u32,
    pub salt: [u8; 32],
    /// Start of the key material, in 512-byte sectors.
    pub key_material_offset: u32,
    pub stripes: u32,
}

/// A parsed, checked LUKS1 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luks1Header {
    /// dm-crypt cipher specification, e.g. `aes-xts-plain64`.
    pub cipher: String,
    pub hash: HashAlgorithm,
    /// Start of the encrypted data, in 512-byte sectors.
    pub payload_offset: u32,
    pub key_bytes: u32,
    pub mk_digest: [u8; 20],
    pub mk_digest_salt: [u8; 32],
    pub mk_digest_iterations: u32,
    pub uuid: String,
    pub key_slots: Vec<Luks1KeySlot>,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// A NUL-padded text field.
fn text(bytes: &[u8]) -> Result<String, CryptoError> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end])
        .map(|s| s.to_string())
        .map_err(|_| CryptoError::BadHeader("a text field is not UTF-8".to_string()))
}

impl Luks1Header {
    /// Parses the first bytes of a volume. Checks every field a later step relies on, so an accepted
    /// header never makes unlocking panic or allocate without bound.
    #[inline(never)] // a smaller payload: see lib.rs
    pub fn parse(bytes: &[u8]) -> Result<Luks1Header, CryptoError> {
        if bytes.len() < LUKS1_HEADER_SIZE {
            return Err(CryptoError::BadHeader("truncated header".to_string()));
        }
        if &bytes[..6] != MAGIC {
            return Err(CryptoError::NotLuks);
        }
        let version = u16::from_be_bytes([bytes[6], bytes[7]]);
        if version != 1 {
            return Err(CryptoError::BadHeader(format!(
                "version {version} is not LUKS1"
            )));
        }
        let cipher_name = text(&bytes[8..40])?;
        let cipher_mode = text(&bytes[40..72])?;
        let hash = HashAlgorithm::from_name(&text(&bytes[72..104])?)?;
        let payload_offset = be32(bytes, 104);
        let key_bytes = be32(bytes, 108);
        let mut mk_digest = [0u8; 20];
        mk_digest.copy_from_slice(&bytes[112..132]);
        let mut mk_digest_salt = [0u8; 32];
        mk_digest_salt.copy_from_slice(&bytes[132..164]);
        let mk_digest_iterations = be32(bytes, 164);
        let uuid = text(&bytes[168..208])?;
        let cipher = format!("{cipher_name}-{cipher_mode}");
        // Validates the cipher name and the key length together, before any key exists.
        if key_bytes > 64 {
            SectorCipher::new(&cipher, &[])?; // an unknown cipher's error first
            return Err(CryptoError::KeyLength {
                cipher,
                length: key_bytes as usize,
            });
        }
        SectorCipher::new(&cipher, Secret::zeroed(key_bytes as usize).as_bytes())?;
        let mut key_slots = Vec::with_capacity(8);
        for slot in 0..8 {
            let at = 208 + slot * 48;
            let state = be32(bytes, at);
            let active = match state {
                SLOT_ACTIVE => true,
                SLOT_INACTIVE => false,
                _ => {
                    return Err(CryptoError::BadHeader(format!(
                        "key slot {slot} has state {state:#x}"
                    )))
                }
            };
            let mut salt = [0u8; 32];
            salt.copy_from_slice(&bytes[at + 8..at + 40]);
            let stripes = be32(bytes, at + 44);
            if active && (stripes == 0 || stripes > MAX_STRIPES) {
                return Err(CryptoError::BadHeader(format!(
                    "key slot {slot} has {stripes} stripes"
                )));
            }
            key_slots.push(Luks1KeySlot {
                active,
                iterations: be32(bytes, at + 4),
                salt,
                key_material_offset: be32(bytes, at + 40),
                stripes,
            });
        }
        Ok(Luks1Header {
            cipher,
            hash,
            payload_offset,
            key_bytes,
            mk_digest,
            mk_digest_salt,
            mk_digest_iterations,
            uuid,
            key_slots,
        })
    }

    /// Finds the master key: every active slot in order, until one yields a key whose digest matches.
    pub fn unlock(
        &self,
        device: &dyn BlockDevice,
        passphrase: &[u8],
        progress: &mut dyn FnMut(u32) -> bool,
    ) -> Result<Secret, CryptoError> {
        let key_length = self.key_bytes as usize;
        let mut tried = false;
        let mut not_tried = Vec::new();
        let check = KeyDigest {
            hash: self.hash,
            salt: &self.mk_digest_salt,
            iterations: self.mk_digest_iterations,
            digest: &self.mk_digest,
        };
        for (id, slot) in self
            .key_slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.active)
        {
            let mut derived = Secret::zeroed(key_length);
            match pbkdf2_into(
                self.hash,
                passphrase,
                &slot.salt,
                slot.iterations,
                derived.as_mut_bytes(),
                progress,
            ) {
                Ok(()) => tried = true,
                // Past this crate's limits: the other slots are still tried (see `luks2::Luks2Header::unlock`).
                Err(error @ CryptoError::Limit(_)) => {
                    not_tried.push(format!("key slot {id}: {error}"));
                    continue;
                }
                Err(error) => return Err(error),
            }
            let material = KeyMaterial {
                cipher: &self.cipher,
                offset: u64::from(slot.key_material_offset) * SECTOR_SIZE as u64,
                key_size: key_length,
                stripes: slot.stripes as usize,
                hash: self.hash,
            };
            if let Some(key) = recover_key(device, &material, derived.as_bytes(), &check, progress)?
            {
                return Ok(key);
            }
        }
        Err(crate::error::no_slot_matches(tried, not_tried))
    }

    /// Opens the volume: the decrypting view of the payload.
    #[inline(never)] // a smaller payload: see lib.rs
    pub(crate) fn open(
        &self,
        device: Rc<dyn BlockDevice>,
        passphrase: &[u8],
        progress: &mut dyn FnMut(u32) -> bool,
    ) -> Result<CryptView, CryptoError> {
        let offset = u64::from(self.payload_offset);
        // Data over the key material: a detached header (`cryptsetup --header`, data offset 0), whose data
        // lies on another device; `luks_open` takes one. (Key material past the device's end is a damaged
        // header, found when it is read.)
        let data = offset..device.sectors();
        if let Some(slot) = self
            .key_slots
            .iter()
            .filter(|slot| slot.active)
            .find(|slot| {
                let start = u64::from(slot.key_material_offset);
                let length = (u64::from(self.key_bytes) * u64::from(slot.stripes))
                    .div_ceil(SECTOR_SIZE as u64);
                start < data.end && data.start < start + length
            })
        {
            return Err(CryptoError::Unsupported(format!(
                "data from sector {offset} over the key material at sector {}: a detached header",
                slot.key_material_offset
            )));
        }
        if offset > device.sectors() {
            return Err(too_small(offset, &*device));
        }
        let key = self.unlock(&*device, passphrase, progress)?;
        let sectors = device.sectors() - offset;
        let cipher = SectorCipher::new(&self.cipher, key.as_bytes())?;
        CryptView::new(device, cipher, offset, sectors, 0, SECTOR_SIZE, false)
    }
}
