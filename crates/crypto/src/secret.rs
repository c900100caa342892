//! Key material that is wiped when dropped and never shown by `Debug`.

use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroize;

/// Bytes of a key or passphrase. Dropping wipes them; `Debug` prints only the length.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret of `length` zero bytes, to be filled in place (no copy left behind by a later move).
    pub fn zeroed(length: usize) -> Secret {
        Secret(alloc::vec![0; length])
    }

    /// Copies `bytes`; the caller wipes its own copy.
    pub fn from_slice(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }

    /// Takes ownership of `bytes` without copying them.
    pub fn from_vec(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}
