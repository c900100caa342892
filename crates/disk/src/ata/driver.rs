//! The ATA PIO state machine over `AtaPorts`: drive selection, bounded status polls, IDENTIFY, and LBA28/LBA48
//! reads of up to 256 sectors per command straight into the caller's buffer.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::spec::*;
use crate::device::{check_read, BlockDevice, DiskError, SECTOR_SIZE};

/// The port I/O the driver needs; the payload implements it with `in`/`out`/`rep insw`.
pub trait AtaPorts {
    fn inb(&self, port: u16) -> u8;
    fn outb(&self, port: u16, value: u8);
    /// Reads `buf.len() / 2` 16-bit words from `port` into `buf`, little-endian.
    fn insw(&self, port: u16, buf: &mut [u8]);
    /// Reads `buf.len() / 4` 32-bit words from `port` into `buf` (a multiple of 4 bytes), little-endian: half
    /// the port accesses of `insw` for sector data. The default falls back to `insw`.
    fn insd(&self, port: u16, buf: &mut [u8]) {
        self.insw(port, buf)
    }
    /// Waits at least 400 ns: on real hardware, four reads of the alternate status register at `control`, the
    /// control port of the channel in use (the other channel may have no controller behind it).
    fn delay_400ns(&self, control: u16);
    /// Milliseconds from any fixed start, if the machine has a clock: waits are then bounded in time
    /// ([`WAIT_MS`]), which holds however slowly an emulator answers; without one, by [`POLL_LIMIT`] reads.
    fn now_ms(&self) -> Option<u64> {
        None
    }
    /// Called after each DRQ block of a read (a few KiB): a long read takes seconds on a slow disk, and the
    /// machine may have keys to take meanwhile (a keyboard controller holds only a few).
    fn between_blocks(&self) {}
}

/// An IDE channel: its command block and control ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    pub base: u16,
    pub control: u16,
}

pub const PRIMARY: Channel = Channel {
    base: 0x1F0,
    control: 0x3F6,
};
pub const SECONDARY: Channel = Channel {
    base: 0x170,
    control: 0x376,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    Master,
    Slave,
}

/// How many status reads a wait may take when the ports have no clock. A status read is a port access of about
/// 1 us on hardware (and a VM exit under QEMU), so this bounds a wait to a few seconds.
pub const POLL_LIMIT: u32 = 2_000_000;

/// How long a wait may take when the ports have a clock: longer than a disk's spin-up, and long enough for an
/// emulator on a busy host (QEMU's disk thread can be descheduled for a while).
pub const WAIT_MS: u64 = 15_000;

/// The bound of one wait: a time limit where there is a clock, a count of status reads where there is none.
struct Deadline {
    start: Option<u64>,
    polls: u32,
}

impl Deadline {
    fn new(ports: &impl AtaPorts) -> Deadline {
        Deadline {
            start: ports.now_ms(),
            polls: 0,
        }
    }

    fn expired(&mut self, ports: &impl AtaPorts) -> bool {
        self.polls = self.polls.saturating_add(1);
        match self.start {
            // Reading the clock costs more than a status read: look at it every 256 reads.
            Some(start) if self.polls.is_multiple_of(256) => ports
                .now_ms()
                .is_some_and(|now| now.saturating_sub(start) > WAIT_MS),
            Some(_) => false,
            None => self.polls >= POLL_LIMIT,
        }
    }
}

/// What can go wrong talking to a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtaError {
    /// Nothing answers at this position (floating bus or status 0).
    Absent,
    /// A packet device (CD/DVD): not a disk we read.
    Atapi,
    /// A device that is neither ATA nor ATAPI (signature `mid`/`high`).
    Unknown { mid: u8, high: u8 },
    /// A bounded wait ran out: `waiting_for` says for what, `status` is the last status read.
    Timeout {
        waiting_for: &'static str,
        status: u8,
    },
    /// The drive reported an error (or a device fault).
    Device { status: u8, error: u8 },
    /// A drive whose logical sectors are not 512 bytes (IDENTIFY's word 106 and words 117-118): the driver's
    /// commands would count sectors of another size.
    SectorSize(u64),
}

impl fmt::Display for AtaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtaError::Absent => f.write_str("no drive"),
            AtaError::Atapi => f.write_str("ATAPI (packet) device, not a disk"),
            AtaError::Unknown { mid, high } => {
                write!(f, "unknown device (signature {mid:#04x} {high:#04x})")
            }
            AtaError::Timeout {
                waiting_for,
                status,
            } => {
                write!(
                    f,
                    "timed out waiting for {waiting_for} (status {status:#04x})"
                )
            }
            AtaError::Device { status, error }
                if status & STATUS_DF != 0 && status & STATUS_ERR == 0 =>
            {
                write!(f, "device fault (status {status:#04x}, error {error:#04x})")
            }
            AtaError::Device { error, .. } => write!(
                f,
                "{} (error register {error:#04x})",
                describe_error(*error)
            ),
            AtaError::SectorSize(bytes) => write!(
                f,
                "its sectors are {bytes} bytes; only 512-byte sectors are read"
            ),
        }
    }
}

struct Port<'a, P: AtaPorts> {
    ports: &'a P,
    channel: Channel,
}

impl<P: AtaPorts> Port<'_, P> {
    fn status(&self) -> u8 {
        self.ports.inb(self.channel.base + REG_STATUS)
    }

    fn out(&self, register: u16, value: u8) {
        self.ports.outb(self.channel.base + register, value);
    }

    fn read(&self, register: u16) -> u8 {
        self.ports.inb(self.channel.base + register)
    }

    fn wait_not_busy(&self) -> Result<u8, AtaError> {
        let mut deadline = Deadline::new(self.ports);
        let mut status;
        loop {
            status = self.status();
            if status & STATUS_BSY == 0 {
                return Ok(status);
            }
            if deadline.expired(self.ports) {
                break;
            }
        }
        Err(AtaError::Timeout {
            waiting_for: "BSY to clear",
            status,
        })
    }

    /// Waits until the drive has data (DRQ) or has failed (ERR/DF).
    fn wait_data(&self) -> Result<(), AtaError> {
        let mut deadline = Deadline::new(self.ports);
        let mut status;
        loop {
            status = self.status();
            if deadline.expired(self.ports) {
                break;
            }
            if status & STATUS_BSY != 0 {
                continue;
            }
            if status & (STATUS_ERR | STATUS_DF) != 0 {
                return Err(AtaError::Device {
                    status,
                    error: self.read(REG_ERROR),
                });
            }
            if status & STATUS_DRQ != 0 {
                return Ok(());
            }
        }
        Err(AtaError::Timeout {
            waiting_for: "DRQ",
            status,
        })
    }

    /// A software reset of the channel: SRST held for at least 5 us, then at least 2 ms before the status means
    /// anything (the ATA software reset protocol), then until the drives are no longer busy. Both drives drop the
    /// command they had; a drive's data still offered (DRQ) is gone.
    fn reset(&self) -> Result<(), AtaError> {
        self.ports
            .outb(self.channel.control, CONTROL_NIEN | CONTROL_SRST);
        for _ in 0..13 {
            self.ports.delay_400ns(self.channel.control);
        }
        self.ports.outb(self.channel.control, CONTROL_NIEN);
        for _ in 0..5_000 {
            self.ports.delay_400ns(self.channel.control);
        }
        self.wait_not_busy().map(|_| ())
    }

    fn select(&self, drive: Drive, extra: u8) {
        let slave = if drive == Drive::Slave {
            DEVICE_SLAVE
        } else {
            0
        };
        self.out(REG_DEVICE, DEVICE_BASE | slave | extra);
        self.ports.delay_400ns(self.channel.control);
    }
}

/// Whether the channel's controller takes 32-bit reads of the data port. ATA's data register is 16 bits wide: a
/// controller that takes a 32-bit read makes it two 16-bit ones (Intel's and most PCI IDE controllers, QEMU's),
/// but one that does not (ISA-style decoding) answers the upper half from the next register, and sector data
/// would come back mixed with the sector count, with no error. IDENTIFY DEVICE is run again and its data read in
/// 32-bit words: the same bytes as the 16-bit read (`words`), or the driver keeps to 16-bit reads.
fn takes_32_bit_reads<P: AtaPorts>(
    ports: &P,
    channel: Channel,
    drive: Drive,
    words: &[u8; 512],
) -> bool {
    identify_data(ports, channel, drive, true).is_ok_and(|dwords| &dwords == words)
}

/// Runs IDENTIFY DEVICE on one position: its 512 bytes, read from the data port in 32-bit words when `wide`, else
/// in 16-bit ones.
fn identify_data<P: AtaPorts>(
    ports: &P,
    channel: Channel,
    drive: Drive,
    wide: bool,
) -> Result<[u8; 512], AtaError> {
    let port = Port { ports, channel };
    if port.status() == FLOATING_BUS {
        return Err(AtaError::Absent);
    }
    ports.outb(channel.control, CONTROL_NIEN);
    port.select(drive, 0);
    match port.status() {
        FLOATING_BUS => return Err(AtaError::Absent),
        // No device answers at this position (QEMU's empty slave reads 0).
        0 => {}
        _ => {
            port.wait_not_busy()?;
        }
    }
    for register in [REG_SECTOR_COUNT, REG_LBA_LOW, REG_LBA_MID, REG_LBA_HIGH] {
        port.out(register, 0);
    }
    port.out(REG_COMMAND, CMD_IDENTIFY);
    ports.delay_400ns(channel.control);
    if matches!(port.status(), 0 | FLOATING_BUS) {
        return Err(AtaError::Absent);
    }
    port.wait_not_busy()?;
    let signature = (port.read(REG_LBA_MID), port.read(REG_LBA_HIGH));
    let classify = |signature: (u8, u8)| match signature {
        SIGNATURE_ATAPI => AtaError::Atapi,
        (mid, high) => AtaError::Unknown { mid, high },
    };
    if signature != (0, 0) {
        return Err(classify(signature));
    }
    match port.wait_data() {
        Ok(()) => {}
        // A packet device aborts IDENTIFY DEVICE and leaves its signature.
        Err(AtaError::Device { .. })
            if (port.read(REG_LBA_MID), port.read(REG_LBA_HIGH)) != (0, 0) =>
        {
            return Err(classify((port.read(REG_LBA_MID), port.read(REG_LBA_HIGH))));
        }
        // Aborted with an ATA signature: no disk answers there. Every ATA disk takes IDENTIFY DEVICE; an
        // empty master beside a slave reads so (the slave answers for the registers, QEMU as hardware).
        Err(AtaError::Device { error, .. }) if error & ERROR_ABRT != 0 => {
            return Err(AtaError::Absent)
        }
        Err(e) => return Err(e),
    }
    let mut data = [0u8; 512];
    if wide {
        ports.insd(channel.base + REG_DATA, &mut data);
    } else {
        ports.insw(channel.base + REG_DATA, &mut data);
    }
    Ok(data)
}

/// SET MULTIPLE MODE to `count` sectors per DRQ block; `Ok` when the drive took it.
fn set_multiple<P: AtaPorts>(
    ports: &P,
    channel: Channel,
    drive: Drive,
    count: u8,
) -> Result<(), AtaError> {
    non_data(ports, channel, drive, CMD_SET_MULTIPLE_MODE, count)
}

/// Tells the drive at `channel`/`drive` that power goes away: STANDBY IMMEDIATE, which a drive completes once
/// what it caches is on the medium and its heads are parked (ATA8-ACS 7.56); waited for as long as any command.
/// Before a power-off, as Linux does: a hard disk that loses power spinning counts an emergency retract, an SSD
/// an unexpected power loss.
pub fn standby<P: AtaPorts>(ports: &P, channel: Channel, drive: Drive) -> Result<(), AtaError> {
    non_data(ports, channel, drive, CMD_STANDBY_IMMEDIATE, 0)
}

/// A command without data (`count` in its sector count register) to the drive at `channel`/`drive`; `Ok` when the
/// drive took it. The wait before the drive is selected is for the drive selected last, which may be the other
/// one, hung: as Linux's `ata_wait_idle`, it does not stop the command (what counts is this drive's status after
/// it is selected).
fn non_data<P: AtaPorts>(
    ports: &P,
    channel: Channel,
    drive: Drive,
    command: u8,
    count: u8,
) -> Result<(), AtaError> {
    let port = Port { ports, channel };
    let _ = port.wait_not_busy();
    port.select(drive, 0);
    port.wait_not_busy()?;
    port.out(REG_SECTOR_COUNT, count);
    port.out(REG_COMMAND, command);
    ports.delay_400ns(channel.control);
    let status = port.wait_not_busy()?;
    if status & (STATUS_ERR | STATUS_DF) != 0 {
        return Err(AtaError::Device {
            status,
            error: port.read(REG_ERROR),
        });
    }
    Ok(())
}

/// One ATA hard disk, readable as a `BlockDevice`.
pub struct AtaDisk<P: AtaPorts> {
    name: String,
    ports: Rc<P>,
    channel: Channel,
    drive: Drive,
    identity: Identity,
    /// Sectors per DRQ block: >1 once SET MULTIPLE MODE took, and then reads use READ MULTIPLE (EXT).
    block: usize,
    /// The controller takes 32-bit reads of the data port (see `takes_32_bit_reads`): sector data is read so.
    wide: bool,
}

impl<P: AtaPorts> AtaDisk<P> {
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn position(&self) -> (Channel, Drive) {
        (self.channel, self.drive)
    }

    /// One command: `buf.len() / 512` sectors (1..=256) from `lba`.
    fn read_command(&self, lba: u64, buf: &mut [u8]) -> Result<(), AtaError> {
        let port = Port {
            ports: &*self.ports,
            channel: self.channel,
        };
        let count = (buf.len() / SECTOR_SIZE) as u64;
        let multiple = self.block > 1;
        let use48 = self.identity.lba48;
        // The other drive on the channel may have been selected last: select, then let this one settle; its
        // status is this drive's only after that.
        let device = match use48 {
            true => DEVICE_LBA,
            false => DEVICE_LBA | ((lba >> 24) as u8 & 0x0F),
        };
        port.select(self.drive, device);
        if port.wait_not_busy()? & STATUS_DRQ != 0 {
            // Data of an earlier command still offered: the drive would ignore this one (see `recover`). The
            // reset selects the master: select again.
            self.recover()?;
            port.select(self.drive, device);
            port.wait_not_busy()?;
        }
        if use48 {
            // The high-order bytes go first: each register is a two-deep FIFO.
            port.out(REG_SECTOR_COUNT, (count >> 8) as u8);
            port.out(REG_LBA_LOW, (lba >> 24) as u8);
            port.out(REG_LBA_MID, (lba >> 32) as u8);
            port.out(REG_LBA_HIGH, (lba >> 40) as u8);
        }
        port.out(REG_SECTOR_COUNT, count as u8);
        port.out(REG_LBA_LOW, lba as u8);
        port.out(REG_LBA_MID, (lba >> 8) as u8);
        port.out(REG_LBA_HIGH, (lba >> 16) as u8);
        port.out(
            REG_COMMAND,
            match (use48, multiple) {
                (true, true) => CMD_READ_MULTIPLE_EXT,
                (true, false) => CMD_READ_SECTORS_EXT,
                (false, true) => CMD_READ_MULTIPLE,
                (false, false) => CMD_READ_SECTORS,
            },
        );
        // One DRQ block per wait: `block` sectors (the last one may be shorter), or one sector.
        for block in buf.chunks_mut(self.block.max(1) * SECTOR_SIZE) {
            self.ports.delay_400ns(self.channel.control);
            port.wait_data()?;
            if self.wide {
                self.ports.insd(self.channel.base + REG_DATA, block);
            } else {
                self.ports.insw(self.channel.base + REG_DATA, block);
            }
            self.ports.between_blocks();
        }
        Ok(())
    }
}

impl<P: AtaPorts> AtaDisk<P> {
    /// After a command failed or was given up (a timeout): the channel is reset, so that the drive drops that
    /// command. Otherwise a drive that finished it later would offer its data (DRQ), ignore the next command,
    /// and that command would take the old data for its own: wrong data, with no error. The reset may have
    /// set the drive's READ MULTIPLE block size back, so it is set again.
    fn recover(&self) -> Result<(), AtaError> {
        let port = Port {
            ports: &*self.ports,
            channel: self.channel,
        };
        port.reset()?;
        if self.block > 1 {
            set_multiple(&*self.ports, self.channel, self.drive, self.block as u8)?;
        }
        Ok(())
    }
}

impl<P: AtaPorts> BlockDevice for AtaDisk<P> {
    fn sectors(&self) -> u64 {
        self.identity.sectors
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(self.identity.sectors, lba, buf.len())?;
        if lba + (buf.len() / SECTOR_SIZE) as u64 > LBA28_LIMIT && !self.identity.lba48 {
            return Err(DiskError::Io(format!(
                "{}: sector {lba} needs LBA48, which the drive lacks",
                self.name
            )));
        }
        let chunk = MAX_SECTORS_PER_COMMAND as usize * SECTOR_SIZE;
        for (index, part) in buf.chunks_mut(chunk).enumerate() {
            let at = lba + (index * MAX_SECTORS_PER_COMMAND as usize) as u64;
            let mut result = self.read_command(at, part);
            if let Err(e) = result {
                // (What went wrong is the error; a failed recovery shows at the next read.)
                let recovered = self.recover().is_ok();
                // A drive that refused the command (ABRT) is asked once more after the recovery: a reset of the
                // channel for the other drive's sake set this one's READ MULTIPLE block size back (SRST resets
                // both), and it refuses READ MULTIPLE until the recovery has set it again.
                result = match e {
                    AtaError::Device { error, .. } if recovered && error & ERROR_ABRT != 0 => {
                        self.read_command(at, part).inspect_err(|_| {
                            let _ = self.recover();
                        })
                    }
                    e => Err(e),
                };
            }
            if let Err(e) = result {
                return Err(DiskError::Io(format!(
                    "{}: reading sector {at}: {e}",
                    self.name
                )));
            }
        }
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// What was found at one of the four positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// "primary master", ...
    pub position: &'static str,
    /// The disk's name (`hd0`...) when it is a hard disk, else what stood in the way.
    pub result: Result<(String, Identity), AtaError>,
}

/// Probes primary master, primary slave, secondary master, secondary slave, and returns the hard disks named
/// `hd0`, `hd1`, ... in that order, plus a line per position for the log.
pub fn probe<P: AtaPorts>(ports: &Rc<P>) -> (Vec<AtaDisk<P>>, Vec<Probed>) {
    const POSITIONS: [(Channel, Drive, &str); 4] = [
        (PRIMARY, Drive::Master, "primary master"),
        (PRIMARY, Drive::Slave, "primary slave"),
        (SECONDARY, Drive::Master, "secondary master"),
        (SECONDARY, Drive::Slave, "secondary slave"),
    ];
    let mut disks = Vec::new();
    let mut report = Vec::new();
    for (channel, drive, position) in POSITIONS {
        let identified =
            identify_data(&**ports, channel, drive, false).map(|d| (decode_identity(&d), d));
        match identified {
            Ok((identity, _)) if identity.sector_bytes != 512 => report.push(Probed {
                position,
                result: Err(AtaError::SectorSize(identity.sector_bytes)),
            }),
            Ok((identity, data)) if identity.sectors > 0 => {
                let wide = takes_32_bit_reads(&**ports, channel, drive, &data);
                // A drive that refuses the block size it advertised still reads one sector per block.
                let block = match identity.multiple {
                    n if n > 1 && set_multiple(&**ports, channel, drive, n).is_ok() => n as usize,
                    _ => 1,
                };
                let name = format!("hd{}", disks.len());
                report.push(Probed {
                    position,
                    result: Ok((name.clone(), identity.clone())),
                });
                disks.push(AtaDisk {
                    name,
                    ports: ports.clone(),
                    channel,
                    drive,
                    identity,
                    block,
                    wide,
                });
            }
            Ok(_) => report.push(Probed {
                position,
                result: Err(AtaError::Unknown { mid: 0, high: 0 }),
            }),
            Err(e) => report.push(Probed {
                position,
                result: Err(e),
            }),
        }
    }
    (disks, report)
}
