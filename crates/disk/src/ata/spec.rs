//! ATA/ATAPI-8 register layout, status and error bits, commands, and IDENTIFY DEVICE decoding.

use alloc::string::String;

// Command block registers, as offsets from the channel's base port.
pub const REG_DATA: u16 = 0;
pub const REG_ERROR: u16 = 1;
pub const REG_SECTOR_COUNT: u16 = 2;
pub const REG_LBA_LOW: u16 = 3;
pub const REG_LBA_MID: u16 = 4;
pub const REG_LBA_HIGH: u16 = 5;
pub const REG_DEVICE: u16 = 6;
/// Status when read, command when written.
pub const REG_STATUS: u16 = 7;
pub const REG_COMMAND: u16 = 7;

pub const STATUS_ERR: u8 = 0x01;
pub const STATUS_DRQ: u8 = 0x08;
pub const STATUS_DF: u8 = 0x20;
pub const STATUS_BSY: u8 = 0x80;
/// What an empty channel's pulled-up bus reads as.
pub const FLOATING_BUS: u8 = 0xFF;

/// Error register: the command was aborted (not supported, or no device to take it).
pub const ERROR_ABRT: u8 = 0x04;

/// Device control register: nIEN masks the interrupt we never handle.
pub const CONTROL_NIEN: u8 = 0x02;
/// Device control register: SRST, set then cleared, resets both drives of the channel (a software reset).
pub const CONTROL_SRST: u8 = 0x04;

/// Device register: bits 7 and 5 set for old devices, LBA mode bit, drive select bit.
pub const DEVICE_BASE: u8 = 0xA0;
pub const DEVICE_LBA: u8 = 0x40;
pub const DEVICE_SLAVE: u8 = 0x10;

pub const CMD_IDENTIFY: u8 = 0xEC;
pub const CMD_READ_SECTORS: u8 = 0x20;
pub const CMD_READ_SECTORS_EXT: u8 = 0x24;
/// READ MULTIPLE (EXT): like READ SECTORS, but one DRQ block holds `Identity::multiple` sectors, so a
/// controller (and an emulator) does one transfer per block instead of one per sector.
pub const CMD_READ_MULTIPLE: u8 = 0xC4;
pub const CMD_READ_MULTIPLE_EXT: u8 = 0x29;
pub const CMD_SET_MULTIPLE_MODE: u8 = 0xC6;
pub const CMD_STANDBY_IMMEDIATE: u8 = 0xE0;

/// The LBA mid/high signature a packet (ATAPI) device leaves after aborting IDENTIFY DEVICE.
pub const SIGNATURE_ATAPI: (u8, u8) = (0x14, 0xEB);
/// The signature of a SATA device behind a legacy interface.
pub const SIGNATURE_SATA: (u8, u8) = (0x3C, 0xC3);

/// Sectors one READ SECTORS (EXT) command moves at most: a count of 0 means 256 for both commands.
pub const MAX_SECTORS_PER_COMMAND: u64 = 256;
/// LBA28 addresses below 2^28 sectors.
pub const LBA28_LIMIT: u64 = 1 << 28;

/// What IDENTIFY DEVICE tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Model string (words 27..46), trimmed.
    pub model: String,
    /// Addressable sectors: the LBA48 count when supported, else the LBA28 count.
    pub sectors: u64,
    pub lba48: bool,
    /// Sectors per DRQ block READ MULTIPLE may use (IDENTIFY word 47), 0 or 1 when it is not supported.
    pub multiple: u8,
    /// Bytes per logical sector: 512, or what words 117-118 say (in words) where word 106 says the sectors are
    /// longer (a "4Kn" drive, whose commands count 4096-byte sectors).
    pub sector_bytes: u64,
}

fn word(data: &[u8; 512], index: usize) -> u16 {
    u16::from_le_bytes([data[index * 2], data[index * 2 + 1]])
}

/// Decodes the 256 IDENTIFY words (as read from the data port, little-endian words).
pub fn decode_identity(data: &[u8; 512]) -> Identity {
    // ATA strings store two characters per word, the first in the high byte.
    let mut model = String::new();
    for index in 27..47 {
        for b in word(data, index).to_be_bytes() {
            model.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            });
        }
    }
    let model = String::from(model.trim());
    let lba28 = word(data, 60) as u64 | (word(data, 61) as u64) << 16;
    let lba48 = word(data, 83) & (1 << 10) != 0;
    let sectors48 = (0..4).fold(0u64, |acc, i| {
        acc | (word(data, 100 + i) as u64) << (16 * i)
    });
    let sectors = if lba48 && sectors48 != 0 {
        sectors48
    } else {
        lba28
    };
    // Word 47: 0x80 in the high byte, the largest block in the low byte (a power of two up to 128).
    let word47 = word(data, 47);
    let multiple = match (word47 >> 8, word47 as u8) {
        (0x80, n) if n.is_power_of_two() && n <= 128 => n,
        _ => 0,
    };
    // Word 106: valid when bits 15:14 are 01; bit 12, logical sectors longer than 256 words (ACS-3 7.12.7.41).
    let word106 = word(data, 106);
    // (A size of 0 there is taken as 512, as Linux's sd does.)
    let sector_bytes = match (word(data, 117) as u64 | (word(data, 118) as u64) << 16) * 2 {
        bytes if word106 & 0xd000 == 0x5000 && bytes != 0 => bytes,
        _ => 512,
    };
    Identity {
        model,
        sectors,
        lba48,
        multiple,
        sector_bytes,
    }
}

/// The error register as words, most significant condition first.
pub fn describe_error(error: u8) -> &'static str {
    const BITS: [(u8, &str); 8] = [
        (0x80, "interface CRC error or bad block"),
        (0x40, "uncorrectable data error"),
        (0x20, "media changed"),
        (0x10, "sector not found"),
        (0x08, "media change requested"),
        (0x04, "command aborted"),
        (0x02, "track 0 not found"),
        (0x01, "address mark not found"),
    ];
    BITS.iter()
        .find(|(bit, _)| error & bit != 0)
        .map_or("unknown error", |(_, text)| text)
}
