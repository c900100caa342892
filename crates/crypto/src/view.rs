//! Decrypting block device views (dm-crypt's `crypt` target) and the two ways to make one: a plain
//! mapping from a key, or a LUKS volume opened with a passphrase.

use crate::cipher::SectorCipher;
use crate::luks1::{Luks1Header, LUKS1_HEADER_SIZE};
use crate::luks2::Luks2Header;
use crate::read::{read_bytes, too_small};
use crate::{CryptoError, SECTOR_SIZE};
use alloc::format;
use alloc::rc::Rc;
use bootscript_disk::{check_read, BlockDevice, DiskError};

/// Largest encryption sector (dm-crypt's limit).
const MAX_SECTOR_SIZE: usize = 4096;

/// A view that decrypts `sectors` 512-byte sectors of `inner` starting at `offset`, like one dm-crypt
/// table line: `crypt <cipher> <key> <iv_offset> <inner> <offset> [sector_size:N] [iv_large_sectors]`.
pub struct CryptView {
    inner: Rc<dyn BlockDevice>,
    cipher: SectorCipher,
    offset: u64,
    sectors: u64,
    iv_offset: u64,
    sector_size: usize,
    iv_large_sectors: bool,
}

impl core::fmt::Debug for CryptView {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "CryptView({:?}, offset {}, {} sectors, sector size {})",
            self.cipher, self.offset, self.sectors, self.sector_size
        )
    }
}

impl CryptView {
    /// A view of `sectors` 512-byte sectors (rounded down to whole encryption sectors) at `offset` on
    /// `inner`. IVs count from `iv_offset` (512-byte units); with `iv_large_sectors` the IV is then
    /// divided into `sector_size` units, otherwise it stays in 512-byte units as LUKS2 does.
    pub fn new(
        inner: Rc<dyn BlockDevice>,
        cipher: SectorCipher,
        offset: u64,
        sectors: u64,
        iv_offset: u64,
        sector_size: usize,
        iv_large_sectors: bool,
    ) -> Result<CryptView, CryptoError> {
        if !sector_size.is_power_of_two() || !(SECTOR_SIZE..=MAX_SECTOR_SIZE).contains(&sector_size)
        {
            return Err(CryptoError::Unsupported(format!(
                "encryption sector size {sector_size}"
            )));
        }
        let ratio = (sector_size / SECTOR_SIZE) as u64;
        if iv_large_sectors && !iv_offset.is_multiple_of(ratio) {
            return Err(CryptoError::BadHeader(format!(
                "IV offset {iv_offset} is not whole sectors"
            )));
        }
        let sectors = sectors - sectors % ratio;
        let end = offset
            .checked_add(sectors)
            .ok_or_else(|| too_small(u64::MAX, &*inner))?;
        if end > inner.sectors() {
            return Err(too_small(end, &*inner));
        }
        Ok(CryptView {
            inner,
            cipher,
            offset,
            sectors,
            iv_offset,
            sector_size,
            iv_large_sectors,
        })
    }

    /// Decrypts whole encryption sectors that start at view sector `lba` (a multiple of the ratio).
    #[optimize(speed)]
    fn decrypt(&self, lba: u64, data: &mut [u8]) {
        let ratio = (self.sector_size / SECTOR_SIZE) as u64;
        let iv = lba.wrapping_add(self.iv_offset);
        let (first_iv, step) = if self.iv_large_sectors {
            (iv / ratio, 1)
        } else {
            (iv, ratio)
        };
        self.cipher
            .decrypt_sectors(data, self.sector_size, first_iv, step);
    }
}

impl BlockDevice for CryptView {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    #[optimize(speed)]
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let count = check_read(self.sectors, lba, buf.len())?;
        let ratio = (self.sector_size / SECTOR_SIZE) as u64;
        let end = lba + count;
        let mut at = lba;
        let mut scratch = [0u8; MAX_SECTOR_SIZE];
        while at < end {
            let position = ((at - lba) as usize) * SECTOR_SIZE;
            if at.is_multiple_of(ratio) && end - at >= ratio {
                // The aligned run is read and decrypted in place in the caller's buffer.
                let run = (end - at) / ratio * ratio;
                let part = &mut buf[position..position + run as usize * SECTOR_SIZE];
                self.inner.read(self.offset + at, part)?;
                self.decrypt(at, part);
                at += run;
            } else {
                // A read that starts or ends inside a large encryption sector decrypts it in scratch.
                let start = at - at % ratio;
                let stop = end.min(start + ratio);
                let sector = &mut scratch[..self.sector_size];
                self.inner.read(self.offset + start, sector)?;
                self.decrypt(start, sector);
                let from = ((at - start) as usize) * SECTOR_SIZE;
                let length = ((stop - at) as usize) * SECTOR_SIZE;
                buf[position..position + length].copy_from_slice(&sector[from..from + length]);
                at = stop;
            }
        }
        Ok(())
    }
}

/// A plain dm-crypt mapping, as `cryptsetup open --type plain --cipher CIPHER --offset OFFSET
/// --size SIZE --skip SKIP`: all numbers in 512-byte sectors; data starts at `offset` on `inner`, IVs
/// count from `skip`; `size` `None` means to the device's end.
pub fn plain_view(
    inner: Rc<dyn BlockDevice>,
    cipher: &str,
    key: &[u8],
    offset: u64,
    size: Option<u64>,
    skip: u64,
) -> Result<Rc<dyn BlockDevice>, CryptoError> {
    let cipher = SectorCipher::new(cipher, key)?;
    let sectors = match size {
        Some(sectors) => sectors,
        None => inner
            .sectors()
            .checked_sub(offset)
            .ok_or_else(|| too_small(offset, &*inner))?,
    };
    Ok(Rc::new(CryptView::new(
        inner,
        cipher,
        offset,
        sectors,
        skip,
        SECTOR_SIZE,
        false,
    )?))
}

/// Opens a LUKS1 or LUKS2 volume with `passphrase`: the decrypted payload as a block device.
/// A wrong passphrase is `CryptoError::NoKeySlotMatches`; `progress` gets percent done of each key
/// derivation every few thousand PBKDF2 iterations or Argon2 blocks, and returns whether to go on: `false` stops the unlock with `CryptoError::Interrupted` (Ctrl-C).
#[inline(never)] // a smaller payload: see lib.rs
pub fn luks_open(
    inner: Rc<dyn BlockDevice>,
    passphrase: &[u8],
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<Rc<dyn BlockDevice>, CryptoError> {
    if inner.sectors() == 0 {
        return Err(CryptoError::NotLuks);
    }
    let first = read_bytes(&*inner, 0, SECTOR_SIZE as u64)?;
    let view = if first[..6] == *b"LUKS\xba\xbe" && first[6..8] == [0, 1] {
        let first = read_bytes(&*inner, 0, LUKS1_HEADER_SIZE as u64)?;
        Luks1Header::parse(&first[..LUKS1_HEADER_SIZE])?.open(inner, passphrase, progress)?
    } else {
        Luks2Header::read(&*inner)?.open(inner, passphrase, progress)?
    };
    Ok(Rc::new(view))
}
