//! SATA disks behind an AHCI controller (the SATA mode of nearly every PC chipset since about 2010, and QEMU's
//! q35 machine): the controller's registers in memory at its ABAR (PCI BAR5), one command slot per port, and
//! reads by DMA (READ DMA EXT, or READ DMA for a disk without LBA48) straight into the caller's buffer. Every
//! wait is bounded in time. The ports this driver starts are stopped again before the hand-off
//! ([`quiesce`]): a running port writes the frames the disk sends into memory that is the next kernel's by then.
//!
//! Register offsets and bits are those of the AHCI 1.3.1 specification (section 3: HBA and port registers;
//! 4.2: command list, received FIS and command table); the command FIS is SATA's Register Host to Device FIS.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{compiler_fence, Ordering};

use bootscript_disk::ata::spec::decode_identity;
use bootscript_disk::ata::{AtaError, Identity};
use bootscript_disk::{check_read, BlockDevice, DiskError, SECTOR_SIZE};
use spin::Mutex;

use super::mmio::Registers as Hba;
use super::pci::{self, Function};
use crate::bootinfo::MAPPED_LIMIT;
use crate::clock;

/// PCI class of an AHCI controller: mass storage, SATA, AHCI 1.0 programming interface.
const CLASS_AHCI: (u8, u8, u8) = (0x01, 0x06, 0x01);

// HBA registers.
const CAP: usize = 0x00;
const GHC: usize = 0x04;
const PI: usize = 0x0c;
const CAP2: usize = 0x24;
const BOHC: usize = 0x28;
const GHC_AE: u32 = 1 << 31;
const GHC_HR: u32 = 1 << 0;
const CAP_SSS: u32 = 1 << 27;
const CAP2_BOH: u32 = 1 << 0;
const BOHC_BOS: u32 = 1 << 0;
const BOHC_OOS: u32 = 1 << 1;
const BOHC_BB: u32 = 1 << 4;

// Port registers, from the port's base (0x100 + 0x80 * port).
const PX_CLB: usize = 0x00;
const PX_FB: usize = 0x08;
const PX_IS: usize = 0x10;
const PX_IE: usize = 0x14;
const PX_CMD: usize = 0x18;
const PX_TFD: usize = 0x20;
const PX_SIG: usize = 0x24;
const PX_SSTS: usize = 0x28;
const PX_SCTL: usize = 0x2c;
const PX_SERR: usize = 0x30;
const PX_CI: usize = 0x38;
const CMD_ST: u32 = 1 << 0;
const CMD_SUD: u32 = 1 << 1;
const CMD_ICC_ACTIVE: u32 = 1 << 28;
const CMD_FRE: u32 = 1 << 4;
const CMD_FR: u32 = 1 << 14;
const CMD_CR: u32 = 1 << 15;
const IS_TFES: u32 = 1 << 30;
/// The errors that stop the port's command processing with the slot's PxCI bit still set (AHCI 1.3.1, 6.1.2 and
/// 3.3.5): task file, host bus fatal, host bus data, interface fatal, and overflow.
const IS_FATAL: u32 = IS_TFES | 1 << 29 | 1 << 28 | 1 << 27 | 1 << 24;
const TFD_ERR: u32 = 1 << 0;
const TFD_DRQ: u32 = 1 << 3;
const TFD_BSY: u32 = 1 << 7;
/// SStatus DET: a device is present and the link is up.
const DET_PRESENT: u32 = 3;
/// The signature of an ATA disk (an ATAPI device's is 0xEB140101).
const SIG_ATA: u32 = 0x0000_0101;

const FIS_REGISTER_H2D: u8 = 0x27;
const ATA_IDENTIFY: u8 = 0xec;
const ATA_READ_DMA: u8 = 0xc8;
const ATA_READ_DMA_EXT: u8 = 0x25;
const ATA_STANDBY_IMMEDIATE: u8 = 0xe0;

/// Sectors per command with LBA48: 8192 (4 MiB, the most one PRDT entry moves); without it, READ DMA's 256.
const MAX_SECTORS_48: usize = 8192;
const MAX_SECTORS_28: usize = 256;
const LBA28_LIMIT: u64 = 1 << 28;

/// How long a command may take: longer than a disk's spin-up (as the ATA driver's bound).
const COMMAND_MS: u64 = bootscript_disk::ata::WAIT_MS;
/// How long a port may take to stop or start its engines (AHCI 1.3.1, 10.1.2: 500 ms).
const ENGINE_MS: u64 = 500;

/// The memory a port's DMA engine reads and writes: the command list (32 headers of 32 bytes, 1 KiB aligned), the
/// received FIS area (256 bytes, 256 aligned) and one command table (128 aligned, one PRDT entry), and a sector
/// of our own for IDENTIFY and for buffers the engine cannot write (at an odd address).
#[repr(C, align(1024))]
struct PortMemory {
    commands: [u32; 256],
    received: [u8; 256],
    table: CommandTable,
    sector: [u8; SECTOR_SIZE],
}

#[repr(C, align(128))]
struct CommandTable {
    fis: [u8; 64],
    atapi: [u8; 16],
    reserved: [u8; 48],
    prdt: [u32; 4],
}

/// One port's registers.
#[derive(Clone, Copy)]
struct Port {
    hba: Hba,
    base: usize,
}

impl Port {
    /// Port `index` of the controller.
    fn of(hba: Hba, index: usize) -> Port {
        Port {
            hba,
            base: 0x100 + 0x80 * index,
        }
    }

    fn read(self, register: usize) -> u32 {
        self.hba.read(self.base + register)
    }

    fn write(self, register: usize, value: u32) {
        self.hba.write(self.base + register, value);
    }

    /// Writes a 64-bit address register pair (PxCLB and PxCLBU, PxFB and PxFBU), the low half first.
    fn write_address(self, register: usize, address: u64) {
        self.hba.write_address(self.base + register, address);
    }

    /// Waits until `done` holds of the register, for at most `ms`: whether it did.
    fn wait(self, register: usize, ms: u64, done: impl Fn(u32) -> bool) -> bool {
        self.hba.wait(self.base + register, ms, done)
    }

    /// A wait that ran out, with the disk's status (the task file's status byte).
    fn timeout(self, waiting_for: &'static str) -> AtaError {
        AtaError::Timeout {
            waiting_for,
            status: self.read(PX_TFD) as u8,
        }
    }

    /// Waits until the disk is neither busy nor offering data.
    fn ready(self, waiting_for: &'static str) -> Result<(), AtaError> {
        match self.wait(PX_TFD, COMMAND_MS, |t| t & (TFD_BSY | TFD_DRQ) == 0) {
            true => Ok(()),
            false => Err(self.timeout(waiting_for)),
        }
    }

    /// Stops the command engine, then the FIS receive engine (AHCI 1.3.1, 10.1.2).
    fn stop(self) -> Result<(), AtaError> {
        for (engine, running) in [(CMD_ST, CMD_CR), (CMD_FRE, CMD_FR)] {
            self.write(PX_CMD, self.read(PX_CMD) & !engine);
            if !self.wait(PX_CMD, ENGINE_MS, |c| c & running == 0) {
                // An engine stuck in a transfer: a COMRESET ends it (AHCI 1.3.1, 10.1.2 step 3 and 10.4.2;
                // allowed, as ST is clear by now).
                self.reset_link();
                if !self.wait(PX_CMD, ENGINE_MS, |c| c & running == 0) {
                    return Err(self.timeout("the port to stop"));
                }
            }
        }
        Ok(())
    }

    /// Starts the FIS receive engine, waits for the disk to be ready (after a COMRESET if it is not), and starts
    /// the command engine.
    fn start(self) -> Result<(), AtaError> {
        self.write(PX_SERR, u32::MAX);
        self.write(PX_IS, u32::MAX);
        self.write(PX_CMD, self.read(PX_CMD) | CMD_FRE);
        if self.ready("the disk to be ready").is_err() {
            self.reset_link();
            self.ready("the disk to be ready after a COMRESET")?;
        }
        self.write(PX_CMD, self.read(PX_CMD) | CMD_ST);
        Ok(())
    }

    /// A COMRESET: the link is brought down and up again, and the device resets (AHCI 1.3.1, 10.4.2).
    fn reset_link(self) {
        let control = self.read(PX_SCTL) & !0xf;
        self.write(PX_SCTL, control | 1);
        clock::sleep_ms(2);
        self.write(PX_SCTL, control);
        self.wait(PX_SSTS, 1000, |s| s & 0xf == DET_PRESENT);
        self.write(PX_SERR, u32::MAX);
    }
}

/// The ports this driver started (controller, port, and the address of their DMA memory once a disk on them
/// answered IDENTIFY, else 0), stopped by [`quiesce`].
static STARTED: Mutex<Vec<(Hba, usize, usize)>> = Mutex::new(Vec::new());

/// Stops every port this driver started: called right before the hand-off, after which the memory their engines
/// write (the received frames) belongs to the next kernel, which resets the controller itself.
pub fn quiesce() {
    for &(hba, port, _) in STARTED.lock().iter() {
        if Port::of(hba, port).stop().is_err() {
            // The last resort (AHCI 1.3.1, 10.4.3): a controller reset stops every engine; done within 1 s.
            hba.write(GHC, hba.read(GHC) | GHC_HR);
            hba.wait(GHC, 1000, |g| g & GHC_HR == 0);
        }
    }
}

/// Puts the disk on every port this driver started into standby (STANDBY IMMEDIATE, as
/// `bootscript_disk::ata::standby` does on the IDE ports): before a power-off.
pub fn standby_all() {
    // (Not waited for: the list is only ever held briefly, and a power-off must not hang on it.)
    let Some(started) = STARTED.try_lock() else {
        return;
    };
    for &(hba, index, memory) in started.iter() {
        let port = Port::of(hba, index);
        // A disk on a port that runs (one whose recovery after an error failed is stopped, and would only time out).
        if memory == 0 || port.read(PX_CMD) & CMD_ST == 0 {
            continue;
        }
        // SAFETY: `memory` is the PortMemory `attach` set up for this port (recorded once the disk answered), and
        // no command is in flight: every command ends before its call returns, and this runs between them.
        let done = unsafe {
            issue(
                port,
                memory as *mut PortMemory,
                ATA_STANDBY_IMMEDIATE,
                0,
                0,
                core::ptr::null_mut(),
                0,
            )
        };
        if done.is_err() {
            // As after a failed read: should the soft-off fail, the disk reads on.
            let _ = port.stop().and_then(|()| port.start());
        }
    }
}

/// One SATA disk on an AHCI port, readable as a `BlockDevice`.
pub struct AhciDisk {
    name: String,
    port: Port,
    /// The port's DMA memory: never freed (the engine may write its received FIS area until [`quiesce`]), and
    /// only reached through this pointer, with volatile writes and fences around each command.
    memory: *mut PortMemory,
    identity: Identity,
}

impl AhciDisk {
    /// Runs one command that reads `bytes` bytes into `buffer` (at an even address the controller reaches). On an
    /// error the port is stopped, its errors cleared, and started again.
    fn command(
        &self,
        command: u8,
        lba: u64,
        count: usize,
        buffer: *mut u8,
        bytes: usize,
    ) -> Result<(), AtaError> {
        // SAFETY: `memory` is the port's (see `AhciDisk::memory`), and `buffer` the caller's, `bytes` long.
        let result = unsafe { issue(self.port, self.memory, command, lba, count, buffer, bytes) };
        if result.is_err() {
            // (What went wrong is the error; a port that does not come back fails the next command.)
            let _ = self.port.stop().and_then(|()| self.port.start());
        }
        result
    }
}

/// Runs one command on `port` that reads `bytes` bytes into `buffer` (none: a command without data).
///
/// # Safety
/// `memory` is the PortMemory `attach` set up for `port`, with no command in flight; `buffer` is writable for
/// `bytes` bytes at an even address the controller reaches (below 4 GiB).
unsafe fn issue(
    port: Port,
    memory: *mut PortMemory,
    command: u8,
    lba: u64,
    count: usize,
    buffer: *mut u8,
    bytes: usize,
) -> Result<(), AtaError> {
    port.ready("BSY and DRQ to clear")?;
    let table = physical(memory as usize + core::mem::offset_of!(PortMemory, table));
    let lba = lba.to_le_bytes();
    let count = (count as u16).to_le_bytes();
    let mut fis = [0u8; 64];
    fis[..14].copy_from_slice(&[
        FIS_REGISTER_H2D,
        0x80, // a command, not a control update
        command,
        0,
        lba[0],
        lba[1],
        lba[2],
        // LBA addressing; a 28-bit command takes LBA bits 27:24 from the device register's low nibble.
        0x40 | if command == ATA_READ_DMA {
            lba[3] & 0x0f
        } else {
            0
        },
        lba[3],
        lba[4],
        lba[5],
        0,
        count[0],
        count[1],
    ]);
    let address = physical(buffer as usize);
    let prdt = [
        address as u32,
        (address >> 32) as u32,
        0,
        (bytes as u32).wrapping_sub(1) & 0x3f_ffff,
    ];
    // One command header (slot 0): a 5-dword FIS, a read, one PRDT entry (none without data), the table's
    // address.
    let header = [
        5 | u32::from(bytes != 0) << 16,
        0,
        table as u32,
        (table >> 32) as u32,
    ];
    // SAFETY: the port's memory (the caller's promise), never freed, and written by one command at a time; the
    // engine reads it only once the command is issued below, after the fence.
    unsafe {
        core::ptr::addr_of_mut!((*memory).table.fis).write_volatile(fis);
        core::ptr::addr_of_mut!((*memory).table.prdt).write_volatile(prdt);
        for (i, word) in header.into_iter().enumerate() {
            core::ptr::addr_of_mut!((*memory).commands[i]).write_volatile(word);
        }
    }
    compiler_fence(Ordering::SeqCst);
    port.write(PX_IS, u32::MAX);
    port.write(PX_CI, 1);
    // Done when the slot's bit clears, failed when the task file reports an error.
    if !port.wait(PX_CI, COMMAND_MS, |issued| {
        issued & 1 == 0 || port.read(PX_IS) & IS_FATAL != 0
    }) {
        return Err(port.timeout("the command to complete"));
    }
    compiler_fence(Ordering::SeqCst);
    let tfd = port.read(PX_TFD);
    if port.read(PX_IS) & IS_FATAL != 0 || tfd & TFD_ERR != 0 {
        return Err(AtaError::Device {
            status: tfd as u8,
            error: (tfd >> 8) as u8,
        });
    }
    Ok(())
}

/// The address a DMA engine uses for memory the payload reaches at `virtual_address`: the same (the first 4 GiB
/// are identity mapped, and the heap lies inside them).
fn physical(virtual_address: usize) -> u64 {
    virtual_address as u64
}

impl BlockDevice for AhciDisk {
    fn sectors(&self) -> u64 {
        self.identity.sectors
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(self.identity.sectors, lba, buf.len())?;
        let lba48 = self.identity.lba48;
        if lba + (buf.len() / SECTOR_SIZE) as u64 > LBA28_LIMIT && !lba48 {
            return Err(DiskError::Io(format!(
                "{}: sector {lba} needs LBA48, which the drive lacks",
                self.name
            )));
        }
        let (command, most) = match lba48 {
            true => (ATA_READ_DMA_EXT, MAX_SECTORS_48),
            false => (ATA_READ_DMA, MAX_SECTORS_28),
        };
        // The engine writes whole words: a buffer at an odd address is read a sector at a time through the port's
        // own sector.
        let even = (buf.as_ptr() as usize).is_multiple_of(2);
        let chunk = if even { most } else { 1 } * SECTOR_SIZE;
        super::read_in_parts(&self.name, lba, buf, chunk, |at, part| {
            if even {
                return self.command(
                    command,
                    at,
                    part.len() / SECTOR_SIZE,
                    part.as_mut_ptr(),
                    part.len(),
                );
            }
            // SAFETY: the port's own sector (see `AhciDisk::memory`), read after the command completed.
            let sector = unsafe { core::ptr::addr_of_mut!((*self.memory).sector) };
            self.command(command, at, 1, sector.cast(), SECTOR_SIZE)
                // SAFETY: as above.
                .map(|()| part.copy_from_slice(unsafe { &*sector }))
        })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// What was found at one port (or, with port `None`, what stood in the way of a controller), for the log.
pub struct Probed {
    pub function: Function,
    pub port: Option<usize>,
    /// The disk's name and identity when it is a disk, else what stood in the way.
    pub result: Result<(String, Identity), Problem>,
}

/// Why a controller or a port gives no disk.
pub enum Problem {
    Controller(&'static str),
    Port(AtaError),
}

/// Finds the AHCI controllers and the disks on their ports, named `hd{first}`, `hd{first + 1}`, ... in the order of
/// controllers and ports, with a line per controller problem and per port that has a device.
#[inline(never)]
pub fn probe(first: usize) -> (Vec<AhciDisk>, Vec<Probed>) {
    let mut disks = Vec::new();
    let mut report = Vec::new();
    for function in pci::find(CLASS_AHCI) {
        let hba = match controller(function) {
            Ok(hba) => hba,
            Err(why) => {
                report.push(Probed {
                    function,
                    port: None,
                    result: Err(Problem::Controller(why)),
                });
                continue;
            }
        };
        // Some pre-1.3 controllers leave PI zero: then every port CAP.NP counts (Linux's ahci_save_initial_config).
        let implemented = match hba.read(PI) {
            0 => ((1u64 << ((hba.read(CAP) & 0x1f) + 1)) - 1) as u32,
            pi => pi,
        };
        for index in (0..32).filter(|i| implemented & (1 << i) != 0) {
            let result = match attach(hba, index, first + disks.len()) {
                Ok(None) => continue,
                Ok(Some(disk)) => {
                    let found = (disk.name.clone(), disk.identity.clone());
                    disks.push(disk);
                    Ok(found)
                }
                Err(e) => Err(Problem::Port(e)),
            };
            report.push(Probed {
                function,
                port: Some(index),
                result,
            });
        }
    }
    (disks, report)
}

/// The controller's registers, with memory decoding and bus mastering on, AHCI mode on, and the controller taken
/// from the firmware where it says it owns it (the BIOS/OS handoff, AHCI 1.3.1, 10.6).
#[inline(never)]
fn controller(function: Function) -> Result<Hba, &'static str> {
    let bar = function.read(0x24);
    if bar & 1 != 0 {
        return Err("its registers are in I/O space, not memory");
    }
    // A 64-bit BAR's upper half.
    let high = if bar >> 1 & 3 == 2 {
        function.read(0x28)
    } else {
        0
    };
    // Bits 3:0 are the BAR's flags; an HBA with fewer than 32 ports may decode less than 8 KiB (Intel's is 2 KiB),
    // so bits 12:4 can be part of the address (AHCI 1.3.1, 2.1.11).
    let base = u64::from(high) << 32 | u64::from(bar & !0xf);
    if base == 0 || base + 0x1100 > MAPPED_LIMIT {
        return Err("its registers lie out of reach (above 4 GiB, or unassigned)");
    }
    // Memory space and bus master enable (the status half of the register is written with zeros: no effect).
    function.write(0x04, function.read(0x04) & 0xffff | 0x06);
    // SAFETY: the ABAR of an AHCI controller (its class checked), with memory decoding on, below MAPPED_LIMIT with
    // every port's registers (0x1100 bytes); the driver reads and writes only AHCI's HBA and port registers.
    let hba = unsafe { Hba::new(base as usize) };
    hba.write(GHC, hba.read(GHC) | GHC_AE);
    if hba.read(CAP2) & CAP2_BOH != 0 && hba.read(BOHC) & BOHC_BOS != 0 {
        // Ownership asked for: the firmware lets go within 25 ms, or says it is busy (BB) and takes up to 2 s
        // more. (Given up on after that, as GRUB does: the controller is used anyway.)
        hba.write(BOHC, hba.read(BOHC) | BOHC_OOS);
        hba.wait(BOHC, 2025, |b| b & (BOHC_BOS | BOHC_BB) == 0);
    }
    Ok(hba)
}

/// Sets up port `index` as disk `hd{number}`: `None` when no device is attached, an error for a device that is no
/// disk or a port that does not work.
#[inline(never)]
fn attach(hba: Hba, index: usize, number: usize) -> Result<Option<AhciDisk>, AtaError> {
    let port = Port::of(hba, index);
    let command = port.read(PX_CMD);
    if hba.read(CAP) & CAP_SSS != 0 && command & CMD_SUD == 0 {
        // Staggered spin-up: the port has no link until software spins it up (AHCI 1.3.1, 10.10.1).
        port.write(PX_CMD, command | CMD_SUD);
        // (GRUB allows 100 ms for the link to come up: out-of-band signalling takes about 10.)
        port.wait(PX_SSTS, 200, |s| s & 0xf == DET_PRESENT);
    }
    let status = port.read(PX_SSTS);
    if matches!(status >> 8 & 0xf, 2 | 6 | 8) {
        // A link in Partial, Slumber or DevSleep is woken first (the ICC field, as Linux's ahci_power_up does).
        port.write(PX_CMD, port.read(PX_CMD) | CMD_ICC_ACTIVE);
        port.wait(PX_SSTS, 100, |s| s >> 8 & 0xf == 1);
    }
    if port.read(PX_SSTS) & 0xf != DET_PRESENT {
        return Ok(None);
    }
    // The signature: LBA high, LBA mid, LBA low and sector count of the device's first frame.
    let signature = port.read(PX_SIG);
    if signature != SIG_ATA {
        return Err(match signature >> 16 {
            0xeb14 => AtaError::Atapi,
            _ => AtaError::Unknown {
                mid: (signature >> 16) as u8,
                high: (signature >> 24) as u8,
            },
        });
    }
    port.stop()?;
    // (Zeroed where it is allocated: no 3 KiB of zeros built on the stack and copied.)
    // SAFETY: all zeros is a valid PortMemory (plain integers).
    let memory: *mut PortMemory = Box::into_raw(unsafe { Box::new_zeroed().assume_init() });
    let address = physical(memory as usize);
    // (The heap lies below 4 GiB: the identity mapping ends there.)
    port.write_address(PX_CLB, address);
    let received = address + core::mem::offset_of!(PortMemory, received) as u64;
    port.write_address(PX_FB, received);
    port.write(PX_IE, 0);
    // Recorded before the start: a start that fails half-way may leave FIS receive running into `memory`.
    STARTED.lock().push((hba, index, 0));
    if let Err(e) = port.start() {
        let _ = port.stop();
        return Err(e);
    }
    let mut disk = AhciDisk {
        name: format!("hd{number}"),
        port,
        memory,
        identity: Identity {
            model: String::new(),
            sectors: 0,
            lba48: false,
            multiple: 0,
            sector_bytes: 512,
        },
    };
    // SAFETY: the port's own sector (see `AhciDisk::memory`).
    let sector = unsafe { core::ptr::addr_of_mut!((*memory).sector) };
    disk.command(ATA_IDENTIFY, 0, 0, sector.cast(), SECTOR_SIZE)?;
    // SAFETY: as above; the command completed.
    disk.identity = decode_identity(unsafe { &*sector });
    // A disk (even one refused for its sector size): to be put into standby before a power-off.
    if let Some(started) = STARTED.lock().last_mut() {
        started.2 = memory as usize;
    }
    if disk.identity.sector_bytes != 512 {
        return Err(AtaError::SectorSize(disk.identity.sector_bytes));
    }
    if disk.identity.sectors == 0 {
        return Err(AtaError::Unknown { mid: 0, high: 0 });
    }
    Ok(Some(disk))
}
