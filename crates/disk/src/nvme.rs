//! NVMe's pure parts for the payload's NVMe driver (payload/src/drivers/nvme.rs): the page it sets, the PRP entries
//! of a transfer, what Identify Namespace says of a namespace, and a failed command's words. Offsets and fields
//! are those of the NVM Express Base Specification 1.4 (and 2.0 where it says so).

use core::fmt;

/// The memory page the driver sets (CC.MPS 0), which a controller must support to be used (CAP.MPSMIN 0).
pub const PAGE: usize = 4096;

/// The status field's Do Not Retry bit (bit 14 of the 15 bits from completion dword 3 bit 17).
pub const STATUS_DNR: u32 = 1 << 14;

/// Why a command gave no data.
#[derive(Debug)]
pub enum Failure {
    /// No completion within the bound: the controller was reset, and is not used again.
    Timeout,
    /// An earlier command timed out.
    Stopped,
    /// The controllers were told that power goes away (a `halt` whose soft-off failed): a command now has undefined
    /// results (NVMe 1.4, 7.6.2).
    ShutDown,
    /// The completion's status field (Do Not Retry in bit 14, status code type in bits 10:8, code in 7:0).
    Status(u32),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timed out waiting for the controller"),
            Failure::Stopped => f.write_str("the controller stopped answering earlier"),
            Failure::ShutDown => {
                f.write_str("the disk was told that power goes away (a reboot wakes it)")
            }
            Failure::Status(status) => match status & 0x7ff {
                // Media errors (type 2) 0x81: the one a failing disk gives.
                0x281 => f.write_str("unrecovered read error (status 0x281)"),
                code => write!(f, "command failed (status {code:#05x})"),
            },
        }
    }
}

/// PRP2 of a transfer of `bytes` at `address` (PRP1, at a multiple of 4): none, the second page, or the address
/// `list` of a list of every page after the first, which `write` (entry, page address) fills (NVMe 1.4, 4.3).
pub fn second_prp(address: u64, bytes: usize, list: u64, mut write: impl FnMut(usize, u64)) -> u64 {
    let first_page = address & !(PAGE as u64 - 1);
    let pages = ((address - first_page) as usize + bytes).div_ceil(PAGE);
    match pages {
        0 | 1 => 0,
        2 => first_page + PAGE as u64,
        _ => {
            for k in 1..pages {
                write(k - 1, first_page + (k * PAGE) as u64);
            }
            list
        }
    }
}

/// What Identify Namespace's data says of a namespace (NVMe 1.4, 5.15.2.1): its size in blocks (NSZE, bytes 7:0;
/// 0 for an inactive one), whether the format in use is one it lists, and that format's metadata bytes and block
/// size as a power of two. The format's index is FLBAS (byte 26) bits 3:0, and past 16 formats bits 6:5 as its
/// bits 5:4 (NVMe 2.0); NLBAF (byte 25) counts the formats from 0; each is 4 bytes from byte 128 (LBAF: MS in
/// bits 15:0, LBADS in 23:16).
pub fn decode_namespace(data: &[u8; PAGE]) -> (u64, bool, u16, u8) {
    let index = data[26] & 0xf | data[26] >> 1 & 0x30;
    let format = 128 + 4 * usize::from(index);
    (
        u64::from_le_bytes(data[..8].try_into().unwrap_or_default()),
        index <= data[25],
        u16::from_le_bytes([data[format], data[format + 1]]),
        data[format + 2],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn prp2_is_none_the_second_page_or_a_list_of_the_pages_after_the_first() {
        let second = |address, bytes| {
            let mut written = Vec::new();
            let prp2 = second_prp(address, bytes, 0x7000, |k, page| written.push((k, page)));
            (prp2, written)
        };
        assert_eq!(second(0x10_0000, 4096), (0, vec![]));
        assert_eq!(second(0x10_0200, 3584), (0, vec![]));
        // Crossing into a second page: that page.
        assert_eq!(second(0x10_0200, 4096), (0x10_1000, vec![]));
        assert_eq!(second(0x10_0000, 8192), (0x10_1000, vec![]));
        // More: the list, of every page after the first, in order.
        let (prp2, written) = second(0x10_0008, 1 << 20);
        assert_eq!(prp2, 0x7000);
        assert_eq!(written.len(), 256);
        assert_eq!(written[0], (0, 0x10_1000));
        assert_eq!(written[255], (255, 0x10_0000 + 256 * 4096));
        assert_eq!(
            second(0x10_0000, 3 * 4096),
            (0x7000, vec![(0, 0x10_1000), (1, 0x10_2000)])
        );
    }

    /// Identify Namespace data of `blocks` blocks, `count` formats (NLBAF is one less), FLBAS `flbas`, and format
    /// `index` with `metadata` bytes and blocks of 2^`shift` bytes.
    fn namespace(
        blocks: u64,
        count: u8,
        flbas: u8,
        index: usize,
        metadata: u16,
        shift: u8,
    ) -> [u8; PAGE] {
        let mut data = [0; PAGE];
        data[..8].copy_from_slice(&blocks.to_le_bytes());
        data[25] = count - 1;
        data[26] = flbas;
        data[128 + 4 * index..][..2].copy_from_slice(&metadata.to_le_bytes());
        data[128 + 4 * index + 2] = shift;
        data
    }

    #[test]
    fn the_lba_format_in_use_is_found_also_past_16_formats() {
        assert_eq!(
            decode_namespace(&namespace(2048, 2, 0, 0, 0, 9)),
            (2048, true, 0, 9)
        );
        assert_eq!(
            decode_namespace(&namespace(512, 2, 1, 1, 0, 12)),
            (512, true, 0, 12)
        );
        // FLBAS bit 4 (metadata at the end of each block) is not part of the index.
        assert_eq!(
            decode_namespace(&namespace(8, 2, 0x11, 1, 8, 9)),
            (8, true, 8, 9)
        );
        // Format 17 of 20: index bits 5:4 in FLBAS bits 6:5 (NVMe 2.0).
        assert_eq!(
            decode_namespace(&namespace(64, 20, 0x21, 17, 0, 9)),
            (64, true, 0, 9)
        );
        // A format past those listed.
        assert!(!decode_namespace(&namespace(64, 2, 0x03, 3, 0, 9)).1);
        // An inactive namespace: all zeros.
        assert_eq!(decode_namespace(&[0; PAGE]), (0, true, 0, 0));
    }

    #[test]
    fn statuses_are_named_without_their_retry_bits() {
        assert_eq!(
            Failure::Status(0x281).to_string(),
            "unrecovered read error (status 0x281)"
        );
        assert_eq!(
            Failure::Status(STATUS_DNR | 0x281).to_string(),
            "unrecovered read error (status 0x281)"
        );
        assert_eq!(
            Failure::Status(STATUS_DNR | 0x0b).to_string(),
            "command failed (status 0x00b)"
        );
    }
}
