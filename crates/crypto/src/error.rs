//! The one error type of the crypto layer: every way a key, a header or a volume can be refused.

use alloc::string::String;
use alloc::vec::Vec;
use bootscript_disk::DiskError;
use core::fmt;

/// Why a hash, key derivation, mapping or unlock was refused. The text never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The device below failed.
    Disk(DiskError),
    /// A hash this crate does not implement (`whirlpool`, `md5`, a typo).
    UnknownHash(String),
    /// A cipher specification this crate does not implement.
    UnknownCipher(String),
    /// A key whose length does not fit the cipher.
    KeyLength { cipher: String, length: usize },
    /// A parameter outside its bound (iterations, memory, lengths); the text says which.
    Limit(String),
    /// The device holds no LUKS header.
    NotLuks,
    /// A LUKS header that is malformed; the text says what was wrong.
    BadHeader(String),
    /// A LUKS2 header whose checksum does not match (both copies, or the only one).
    BadChecksum,
    /// LUKS2 JSON metadata that does not parse; `offset` is the byte where parsing stopped.
    BadJson {
        offset: usize,
        message: &'static str,
    },
    /// The passphrase opens no key slot.
    NoKeySlotMatches,
    /// The passphrase opens no key slot tried, and some could not be tried: which, and why.
    NoKeySlotMatchesNotTried(String),
    /// No key slot could be tried (none bound to the data, all set to be ignored, or each unusable: why).
    NoUsableKeySlot(String),
    /// The volume is shorter than its header or mapping says.
    VolumeTooSmall { needed: u64, sectors: u64 },
    /// A memory-hard key derivation needs more memory than the machine can give.
    OutOfMemory { kib: u64 },
    /// A valid header using a feature this crate does not implement.
    Unsupported(String),
    /// The progress callback said to stop (Ctrl-C at the console).
    Interrupted,
}

impl From<DiskError> for CryptoError {
    #[optimize(size)]
    fn from(error: DiskError) -> Self {
        CryptoError::Disk(error)
    }
}

impl fmt::Display for CryptoError {
    #[optimize(size)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Disk(error) => write!(f, "{error}"),
            CryptoError::UnknownHash(name) => write!(f, "unknown hash '{name}'"),
            CryptoError::UnknownCipher(name) => write!(f, "unknown cipher '{name}'"),
            CryptoError::KeyLength { cipher, length } => {
                write!(f, "a {length}-byte key does not fit cipher '{cipher}'")
            }
            CryptoError::Limit(message) => f.write_str(message),
            CryptoError::NotLuks => f.write_str("not a LUKS volume"),
            CryptoError::BadHeader(message) => write!(f, "bad LUKS header: {message}"),
            CryptoError::BadChecksum => f.write_str("bad LUKS2 header checksum"),
            CryptoError::BadJson { offset, message } => {
                write!(f, "bad LUKS2 metadata at byte {offset}: {message}")
            }
            CryptoError::NoKeySlotMatches => f.write_str("no key slot matches"),
            CryptoError::NoKeySlotMatchesNotTried(why) => {
                write!(f, "no key slot matches (not tried: {why})")
            }
            CryptoError::NoUsableKeySlot(why) if why.is_empty() => {
                f.write_str("no usable key slot")
            }
            CryptoError::NoUsableKeySlot(why) => write!(f, "no usable key slot: {why}"),
            CryptoError::VolumeTooSmall { needed, sectors } => write!(
                f,
                "volume too small: {needed} sectors needed, the device has {sectors}"
            ),
            CryptoError::OutOfMemory { kib } => write!(
                f,
                "not enough memory: the key derivation needs {} MiB",
                kib.div_ceil(1024)
            ),
            CryptoError::Unsupported(message) => write!(f, "unsupported: {message}"),
            CryptoError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// The error of an unlock that found no key: `tried` whether any slot was tried, `not_tried` the slots that
/// could not be, each with why.
pub(crate) fn no_slot_matches(tried: bool, not_tried: Vec<String>) -> CryptoError {
    // By hand: `join` took more of the payload.
    let mut why = String::new();
    for (index, reason) in not_tried.iter().enumerate() {
        if index > 0 {
            why.push_str("; ");
        }
        why.push_str(reason);
    }
    match (tried, why.is_empty()) {
        (false, _) => CryptoError::NoUsableKeySlot(why),
        (true, true) => CryptoError::NoKeySlotMatches,
        (true, false) => CryptoError::NoKeySlotMatchesNotTried(why),
    }
}
