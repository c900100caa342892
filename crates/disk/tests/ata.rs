//! The ATA driver against a fake IDE controller: probe order, ATAPI and absent drives, multi-command reads,
//! timeouts and device errors.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bootscript_disk::ata::{probe, standby, AtaError, AtaPorts, Drive, PRIMARY, SECONDARY};
use bootscript_disk::BlockDevice;

#[derive(Clone)]
enum Behaviour {
    Disk,
    Atapi,
    StuckBusy,
    ReadError,
    /// Advertises READ MULTIPLE but aborts SET MULTIPLE MODE.
    RefusesMultiple,
    /// Aborts IDENTIFY DEVICE with an ATA signature (0, 0): how an empty master reads beside a slave.
    Empty,
    /// Its first read stays busy for this many status reads (a drive retrying a bad spot), then offers its
    /// data anyway.
    SlowFirstRead(u64),
    /// Its reads fail with a device fault (DF) and no ERR.
    Fault,
    /// Fails IDENTIFY DEVICE with an uncorrectable data error (not an abort), its signature that of a disk.
    IdentifyFails,
}

#[derive(Clone)]
struct FakeDrive {
    behaviour: Behaviour,
    data: Vec<u8>,
    lba48: bool,
    /// Sectors per DRQ block advertised in IDENTIFY word 47 (0: READ MULTIPLE not supported).
    multiple: u8,
    /// A drive far larger than memory: this many sectors, each made when read by [`stamped`] (`data` unused).
    huge: Option<u64>,
    /// IDENTIFY words set to other values than the drive's own (index, value), as a drive that does not keep
    /// to the standard may have them.
    words: Vec<(usize, u16)>,
}

#[derive(Default)]
struct FakeChannel {
    drives: [Option<FakeDrive>; 2],
    selected: usize,
    device: u8,
    // Each LBA/count register is a two-deep FIFO for LBA48: (previous, current).
    registers: [(u8, u8); 8],
    status: u8,
    error: u8,
    pending: VecDeque<u8>,
    /// Busy until the status has been read this many times in all (`SlowFirstRead`).
    busy_until: u64,
    /// The slow read happened already.
    slow_done: bool,
    /// Software resets (SRST) of this channel.
    resets: u32,
    /// Each drive's READ MULTIPLE block size as SET MULTIPLE MODE set it: 0 after a reset, when a drive refuses
    /// READ MULTIPLE (as drives do until they are told a block size again).
    block: [u8; 2],
}

#[derive(Default)]
struct FakeAta {
    channels: RefCell<[FakeChannel; 2]>,
    /// (command, lba, count) of every read command.
    reads: RefCell<Vec<(u8, u64, u64)>>,
    status_reads: Cell<u64>,
    /// Bytes moved by each data-port transfer, and whether it was 32-bit (`insd`).
    transfers: RefCell<Vec<(usize, bool)>>,
    /// Sector counts of the SET MULTIPLE MODE commands.
    set_multiple: RefCell<Vec<u8>>,
    /// The (channel, drive) of each STANDBY IMMEDIATE.
    standbys: RefCell<Vec<(usize, usize)>>,
    /// A clock that advances one millisecond each time it is read (`None`: the machine has no clock).
    clock_ms: Cell<Option<u64>>,
    /// The channel (0, 1) whose command block was accessed last, and the channel of each 400 ns delay's
    /// alternate status reads together with that last channel.
    last_channel: Cell<usize>,
    delays: RefCell<Vec<(usize, usize)>>,
    /// Each write of a device control register: the value, and how many 400 ns delays came before it.
    control_writes: RefCell<Vec<(u8, usize)>>,
    /// For each software reset, how many 400 ns delays came before the first status read after SRST was
    /// cleared (set while that read is still to come).
    status_after_reset: RefCell<Vec<usize>>,
    reset_cleared: Cell<bool>,
    /// The controller does not take 32-bit reads of the data port: as ISA-style decoding does, each one reads the
    /// data register for its low half and the sector count and LBA low registers for its high half.
    narrow_only: Cell<bool>,
}

fn channel_of(port: u16) -> (usize, u16) {
    match port {
        0x1F0..=0x1F7 => (0, port - 0x1F0),
        0x170..=0x177 => (1, port - 0x170),
        0x3F6 => (0, 0xFF),
        0x376 => (1, 0xFF),
        _ => panic!("unexpected port {port:#x}"),
    }
}

fn identify_block(drive: &FakeDrive) -> Vec<u8> {
    let mut words = [0u16; 256];
    let model = b"FAKE DISK ONE                           ";
    for i in 0..20 {
        words[27 + i] = (model[2 * i] as u16) << 8 | model[2 * i + 1] as u16;
    }
    let sectors = drive.huge.unwrap_or((drive.data.len() / 512) as u64);
    let lba28 = sectors.min(0x0FFF_FFFF);
    words[60] = lba28 as u16;
    words[61] = (lba28 >> 16) as u16;
    if drive.multiple > 0 {
        words[47] = 0x8000 | drive.multiple as u16;
    }
    if drive.lba48 {
        words[83] = 1 << 10;
        for i in 0..4 {
            words[100 + i] = (sectors >> (16 * i)) as u16;
        }
    }
    for &(index, value) in &drive.words {
        words[index] = value;
    }
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

impl AtaPorts for FakeAta {
    fn inb(&self, port: u16) -> u8 {
        let (index, register) = channel_of(port);
        self.last_channel.set(index);
        let channels = self.channels.borrow();
        let c = &channels[index];
        if c.drives.iter().all(|d| d.is_none()) {
            return 0xFF;
        }
        let Some(drive) = &c.drives[c.selected] else {
            return 0;
        };
        match register {
            7 => {
                if self.reset_cleared.replace(false) {
                    self.status_after_reset
                        .borrow_mut()
                        .push(self.delays.borrow().len());
                }
                self.status_reads.set(self.status_reads.get() + 1);
                if matches!(drive.behaviour, Behaviour::StuckBusy)
                    || self.status_reads.get() < c.busy_until
                {
                    0x80
                } else {
                    c.status
                }
            }
            1 => c.error,
            2..=5 => c.registers[register as usize].1,
            _ => 0,
        }
    }

    fn outb(&self, port: u16, value: u8) {
        let (index, register) = channel_of(port);
        if register != 0xFF {
            self.last_channel.set(index);
        } else {
            let delays = self.delays.borrow().len();
            let mut writes = self.control_writes.borrow_mut();
            // SRST cleared after it was set: the reset's wait begins.
            if value & 0x04 == 0 && writes.last().is_some_and(|&(v, _)| v & 0x04 != 0) {
                self.reset_cleared.set(true);
            }
            writes.push((value, delays));
        }
        let mut channels = self.channels.borrow_mut();
        let c = &mut channels[index];
        match register {
            // The device control register: SRST drops whatever the drives were doing.
            0xFF if value & 0x04 != 0 => {
                c.pending.clear();
                c.busy_until = 0;
                c.status = 0x50;
                c.selected = 0;
                c.resets += 1;
                c.block = [0; 2];
            }
            6 => {
                c.selected = ((value >> 4) & 1) as usize;
                c.device = value;
            }
            2..=5 => {
                let r = &mut c.registers[register as usize];
                *r = (r.1, value);
            }
            7 => {
                let Some(drive) = c.drives[c.selected].clone() else {
                    return;
                };
                // As QEMU and drives do: a command written while busy or offering data is ignored.
                if self.status_reads.get() < c.busy_until || !c.pending.is_empty() {
                    return;
                }
                let r = c.registers;
                match (value, &drive.behaviour) {
                    (0xEC, Behaviour::Empty) => {
                        c.status = 0x51;
                        c.error = 0x04;
                        c.registers[4].1 = 0;
                        c.registers[5].1 = 0;
                    }
                    (0xEC, Behaviour::IdentifyFails) => {
                        c.status = 0x51;
                        c.error = 0x40;
                        c.registers[4].1 = 0;
                        c.registers[5].1 = 0;
                    }
                    (0xEC, Behaviour::Atapi) => {
                        c.status = 0x41;
                        c.error = 0x04;
                        c.registers[4].1 = 0x14;
                        c.registers[5].1 = 0xEB;
                    }
                    (0xEC, _) => {
                        c.pending = identify_block(&drive).into();
                        c.status = 0x58;
                    }
                    (0xE0, behaviour) => {
                        self.standbys.borrow_mut().push((index, c.selected));
                        if matches!(behaviour, Behaviour::Fault) {
                            c.status = 0x60;
                            c.error = 0;
                        } else {
                            c.status = 0x50;
                        }
                    }
                    (0xC6, behaviour) => {
                        let count = r[2].1;
                        self.set_multiple.borrow_mut().push(count);
                        if matches!(behaviour, Behaviour::RefusesMultiple) || count > drive.multiple
                        {
                            c.status = 0x51;
                            c.error = 0x04;
                        } else {
                            c.status = 0x50;
                            c.block[c.selected] = count;
                        }
                    }
                    (0xC4 | 0x29, _) if c.block[c.selected] == 0 => {
                        self.reads.borrow_mut().push((value, 0, 0));
                        c.status = 0x51;
                        c.error = 0x04;
                    }
                    (0x20 | 0x24 | 0xC4 | 0x29, behaviour) => {
                        let (lba, count) = if value == 0x24 || value == 0x29 {
                            let lba = r[3].1 as u64
                                | (r[4].1 as u64) << 8
                                | (r[5].1 as u64) << 16
                                | (r[3].0 as u64) << 24
                                | (r[4].0 as u64) << 32
                                | (r[5].0 as u64) << 40;
                            let count = r[2].1 as u64 | (r[2].0 as u64) << 8;
                            (lba, if count == 0 { 65536 } else { count })
                        } else {
                            let lba = r[3].1 as u64
                                | (r[4].1 as u64) << 8
                                | (r[5].1 as u64) << 16
                                | ((c.device & 0x0F) as u64) << 24;
                            (lba, if r[2].1 == 0 { 256 } else { r[2].1 as u64 })
                        };
                        self.reads.borrow_mut().push((value, lba, count));
                        if let (Behaviour::SlowFirstRead(polls), false) = (behaviour, c.slow_done) {
                            c.slow_done = true;
                            c.busy_until = self.status_reads.get() + polls;
                        }
                        if matches!(behaviour, Behaviour::ReadError) {
                            c.status = 0x41;
                            c.error = 0x40;
                        } else if matches!(behaviour, Behaviour::Fault) {
                            c.status = 0x60;
                            c.error = 0;
                        } else {
                            c.pending = match drive.huge {
                                Some(sectors) => {
                                    assert!(lba + count <= sectors, "read past the drive's end");
                                    (lba..lba + count).flat_map(stamped).collect()
                                }
                                None => {
                                    let start = lba as usize * 512;
                                    drive.data[start..start + count as usize * 512]
                                        .iter()
                                        .copied()
                                        .collect()
                                }
                            };
                            c.status = 0x58;
                        }
                    }
                    _ => panic!("unexpected command {value:#x}"),
                }
            }
            _ => {}
        }
    }

    fn insw(&self, port: u16, buf: &mut [u8]) {
        self.transfers.borrow_mut().push((buf.len(), false));
        self.data(port, buf);
    }

    fn insd(&self, port: u16, buf: &mut [u8]) {
        assert_eq!(buf.len() % 4, 0, "insd of a partial 32-bit word");
        self.transfers.borrow_mut().push((buf.len(), true));
        if !self.narrow_only.get() {
            return self.data(port, buf);
        }
        let (index, _) = channel_of(port);
        for dword in buf.chunks_mut(4) {
            self.data(port, &mut dword[..2]);
            let c = &self.channels.borrow()[index];
            dword[2] = c.registers[2].1;
            dword[3] = c.registers[3].1;
        }
    }

    fn delay_400ns(&self, control: u16) {
        let (index, register) = channel_of(control);
        assert_eq!(
            register, 0xFF,
            "a delay reads a control port, not {control:#x}"
        );
        self.delays
            .borrow_mut()
            .push((index, self.last_channel.get()));
    }

    fn now_ms(&self) -> Option<u64> {
        let now = self.clock_ms.get()?;
        self.clock_ms.set(Some(now + 1));
        Some(now)
    }
}

impl FakeAta {
    fn data(&self, port: u16, buf: &mut [u8]) {
        let (index, register) = channel_of(port);
        assert_eq!(register, 0, "insw from the data port only");
        let mut channels = self.channels.borrow_mut();
        let c = &mut channels[index];
        for b in buf.iter_mut() {
            *b = c
                .pending
                .pop_front()
                .expect("read past the data the drive offered");
        }
        if c.pending.is_empty() {
            c.status = 0x50;
        }
    }
}

fn pattern(sectors: usize, seed: u8) -> Vec<u8> {
    (0..sectors * 512)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// A sector of a huge drive: its number in its first 8 bytes, then a pattern.
fn stamped(lba: u64) -> Vec<u8> {
    let mut sector = lba.to_le_bytes().to_vec();
    sector.extend((8..512).map(|i| (i as u8) ^ lba as u8));
    sector
}

fn huge(sectors: u64, lba48: bool) -> Option<FakeDrive> {
    Some(FakeDrive {
        behaviour: Behaviour::Disk,
        data: Vec::new(),
        lba48,
        multiple: 0,
        huge: Some(sectors),
        words: Vec::new(),
    })
}

fn disk(sectors: usize, seed: u8, lba48: bool) -> Option<FakeDrive> {
    Some(FakeDrive {
        behaviour: Behaviour::Disk,
        data: pattern(sectors, seed),
        lba48,
        multiple: 0,
        huge: None,
        words: Vec::new(),
    })
}

fn special(behaviour: Behaviour) -> Option<FakeDrive> {
    Some(FakeDrive {
        behaviour,
        data: pattern(64, 9),
        lba48: true,
        multiple: 16,
        huge: None,
        words: Vec::new(),
    })
}

fn machine(drives: [Option<FakeDrive>; 4]) -> Rc<FakeAta> {
    let fake = FakeAta::default();
    {
        let mut channels = fake.channels.borrow_mut();
        let [a, b, c, d] = drives;
        channels[0].drives = [a, b];
        channels[1].drives = [c, d];
    }
    Rc::new(fake)
}

/// A drive with 4096-byte logical sectors ("4Kn": IDENTIFY word 106 bit 12, words 117-118 in words) is reported and
/// left out, as its commands would count 4096-byte sectors; one with 512-byte logical sectors on 4096-byte physical
/// ones (512e, word 106 bit 13) is a disk.
#[test]
fn a_drive_with_4096_byte_logical_sectors_is_refused() {
    let mut native = disk(64, 1, true).unwrap();
    native.words = vec![(106, 0x5000), (117, 2048), (118, 0)];
    let mut emulated = disk(64, 2, true).unwrap();
    emulated.words = vec![(106, 0x6003)];
    let fake = machine([Some(native), Some(emulated), None, None]);
    let (disks, report) = probe(&fake);
    assert_eq!(report[0].result, Err(AtaError::SectorSize(4096)));
    assert_eq!(
        AtaError::SectorSize(4096).to_string(),
        "its sectors are 4096 bytes; only 512-byte sectors are read"
    );
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].name(), "hd0");
    assert_eq!(disks[0].identity().sector_bytes, 512);
    // A size of 0 in words 117-118 is taken as 512 (as Linux's sd does).
    let mut zero = disk(64, 4, true).unwrap();
    zero.words = vec![(106, 0x5000)];
    assert_eq!(probe(&machine([Some(zero), None, None, None])).0.len(), 1);
    // Word 106 not valid (bits 15:14 not 01): its other bits say nothing.
    let mut unsure = disk(64, 3, true).unwrap();
    unsure.words = vec![(106, 0xd000), (117, 2048)];
    assert_eq!(probe(&machine([Some(unsure), None, None, None])).0.len(), 1);
}

/// STANDBY IMMEDIATE goes to the drive asked for (here the secondary slave, after a read from the other drive on
/// its channel; and a master beside a slave hung busy), and a drive that reports a fault is an error.
#[test]
fn standby_immediate_goes_to_the_drive_asked_for() {
    let fake = machine([None, None, disk(64, 1, true), disk(64, 2, true)]);
    let (disks, _) = probe(&fake);
    let mut buf = vec![0; 512];
    disks[0].read(0, &mut buf).unwrap();
    standby(&*fake, SECONDARY, Drive::Slave).unwrap();
    assert_eq!(*fake.standbys.borrow(), [(1, 1)]);
    // The other drive on the channel hung busy, and selected last (the probe's last): the standby still goes out.
    let beside = machine([disk(64, 3, true), special(Behaviour::StuckBusy), None, None]);
    probe(&beside);
    standby(&*beside, PRIMARY, Drive::Master).unwrap();
    assert_eq!(*beside.standbys.borrow(), [(0, 0)]);
    let faulty = machine([special(Behaviour::Fault), None, None, None]);
    assert!(matches!(
        standby(&*faulty, PRIMARY, Drive::Master),
        Err(AtaError::Device { status: 0x60, .. })
    ));
}

#[test]
fn probe_names_disks_in_order_and_skips_atapi_and_absent() {
    let fake = machine([
        disk(2048, 1, true),
        special(Behaviour::Atapi),
        None,
        disk(1000, 2, false),
    ]);
    let (disks, report) = probe(&fake);
    assert_eq!(disks.len(), 2);
    assert_eq!(disks[0].name(), "hd0");
    assert_eq!(disks[0].sectors(), 2048);
    assert_eq!(disks[0].identity().model, "FAKE DISK ONE");
    assert!(disks[0].identity().lba48);
    assert_eq!(disks[1].name(), "hd1");
    assert_eq!(disks[1].sectors(), 1000);
    assert!(!disks[1].identity().lba48);
    assert_eq!(report[1].result, Err(AtaError::Atapi));
    assert_eq!(report[2].result, Err(AtaError::Absent));
    assert_eq!(report[3].position, "secondary slave");
}

#[test]
fn each_delay_reads_the_alternate_status_of_the_channel_in_use() {
    // The primary channel empty: on a PC its ports may have no controller behind them at all.
    let fake = machine([None, None, disk(64, 3, true), disk(64, 4, false)]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks.len(), 2);
    let mut buf = vec![0u8; 2 * 512];
    disks[0].read(3, &mut buf).unwrap();
    disks[1].read(5, &mut buf).unwrap();
    let delays = fake.delays.borrow();
    assert!(delays.iter().filter(|d| d.0 == 1).count() >= 4);
    assert!(
        delays.iter().all(|&(delay, used)| delay == used),
        "a delay read another channel's port: {delays:?}"
    );
}

#[test]
fn empty_machine_has_no_disks() {
    let fake = machine([None, None, None, None]);
    let (disks, report) = probe(&fake);
    assert!(disks.is_empty());
    assert!(report.iter().all(|p| p.result == Err(AtaError::Absent)));
}

#[test]
fn reads_split_into_256_sector_lba48_commands() {
    let fake = machine([disk(2048, 3, true), None, None, None]);
    let (disks, _) = probe(&fake);
    let mut buf = vec![0u8; 600 * 512];
    disks[0].read(1000, &mut buf).unwrap();
    assert_eq!(buf, pattern(2048, 3)[1000 * 512..1600 * 512]);
    assert_eq!(
        *fake.reads.borrow(),
        vec![(0x24, 1000, 256), (0x24, 1256, 256), (0x24, 1512, 88)]
    );
    let err = disks[0].read(2000, &mut buf).unwrap_err();
    assert!(err.to_string().contains("past the end"), "{err}");
}

/// Every byte of a 48-bit sector number reaches the drive, high bytes first through each register's FIFO:
/// the other tests read below sector 2048, where only the low two bytes are not zero.
#[test]
fn lba48_reads_put_all_six_bytes_of_the_sector_number() {
    let fake = machine([huge(1 << 47, true), None, None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks[0].sectors(), 1 << 47);
    let lba = 0x6A5B_4C3D_2E1F;
    let mut buf = vec![0u8; 300 * 512];
    disks[0].read(lba, &mut buf).unwrap();
    assert_eq!(
        *fake.reads.borrow(),
        vec![(0x24, lba, 256), (0x24, lba + 256, 44)]
    );
    let expected: Vec<u8> = (lba..lba + 300).flat_map(stamped).collect();
    assert!(buf == expected, "the sectors read are not those asked for");
}

/// An LBA28 read puts bits 24-27 of the sector number in the device register: a drive of 128 GiB (the most
/// LBA28 reaches) read past its first 8 GiB.
#[test]
fn lba28_reads_put_the_top_bits_in_the_device_register() {
    let fake = machine([None, huge(0x0FFF_FFFF, false), None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks[0].sectors(), 0x0FFF_FFFF);
    let mut buf = vec![0u8; 2 * 512];
    for lba in [0x0ABC_DEF0, 0x0FFF_FFFD] {
        disks[0].read(lba, &mut buf).unwrap();
        assert!(buf == [stamped(lba), stamped(lba + 1)].concat(), "{lba:#x}");
    }
    assert_eq!(
        *fake.reads.borrow(),
        vec![(0x20, 0x0ABC_DEF0, 2), (0x20, 0x0FFF_FFFD, 2)]
    );
    // The slave stays selected: the device register's drive bit is kept beside the sector bits.
    assert_eq!(fake.channels.borrow()[0].device & 0x10, 0x10);
}

/// A device fault is said as one only when the drive sets no ERR with it; with ERR, the error register says
/// what failed, most significant condition first.
#[test]
fn device_errors_are_told_from_faults() {
    let said = |status, error| AtaError::Device { status, error }.to_string();
    assert_eq!(
        said(0x61, 0x40),
        "uncorrectable data error (error register 0x40)"
    );
    assert_eq!(said(0x41, 0x14), "sector not found (error register 0x14)");
    assert_eq!(said(0x60, 0x00), "device fault (status 0x60, error 0x00)");
    assert_eq!(said(0x41, 0x00), "unknown error (error register 0x00)");
}

#[test]
fn lba28_drive_uses_read_sectors() {
    let fake = machine([None, None, disk(700, 4, false), None]);
    let (disks, _) = probe(&fake);
    let mut buf = vec![0u8; 300 * 512];
    disks[0].read(5, &mut buf).unwrap();
    assert_eq!(buf, pattern(700, 4)[5 * 512..305 * 512]);
    assert_eq!(*fake.reads.borrow(), vec![(0x20, 5, 256), (0x20, 261, 44)]);
}

#[test]
fn with_a_clock_a_stuck_drive_times_out_after_the_time_bound() {
    let fake = machine([special(Behaviour::StuckBusy), None, None, None]);
    fake.clock_ms.set(Some(0));
    let (disks, report) = probe(&fake);
    assert!(disks.is_empty());
    assert!(
        matches!(
            report[0].result,
            Err(AtaError::Timeout {
                waiting_for: "BSY to clear",
                ..
            })
        ),
        "{:?}",
        report[0].result
    );
    // The clock is read once every 256 polls and advances 1 ms a read: the wait ends just past WAIT_MS.
    let elapsed = fake.clock_ms.get().unwrap();
    assert!(
        (bootscript_disk::ata::WAIT_MS..bootscript_disk::ata::WAIT_MS + 10).contains(&elapsed),
        "{elapsed}"
    );
}

#[test]
fn stuck_drive_times_out_with_a_bounded_number_of_polls() {
    let fake = machine([special(Behaviour::StuckBusy), None, None, None]);
    let (disks, report) = probe(&fake);
    assert!(disks.is_empty());
    match &report[0].result {
        Err(AtaError::Timeout {
            waiting_for,
            status,
        }) => {
            assert_eq!(*waiting_for, "BSY to clear");
            assert_eq!(*status, 0x80);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(fake.status_reads.get() <= 2_000_010);
    assert!(report[0]
        .result
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("timed out"));
}

#[test]
fn device_error_is_decoded_and_names_the_disk() {
    let fake = machine([special(Behaviour::ReadError), None, None, None]);
    let (disks, _) = probe(&fake);
    let mut buf = vec![0u8; 512];
    let err = disks[0].read(7, &mut buf).unwrap_err().to_string();
    assert!(err.starts_with("hd0: reading sector 7"), "{err}");
    assert!(err.contains("uncorrectable data error"), "{err}");
    // The partition table's and the file system's errors name the disk once (its own error names it).
    let disk: Rc<dyn BlockDevice> = Rc::new(disks.into_iter().next().unwrap());
    let err = bootscript_disk::partition::read_partitions(&*disk)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("hd0: reading sector 0: "), "{err}");
    let err = bootscript_disk::fs::open(disk).err().unwrap().to_string();
    assert!(err.starts_with("hd0: reading sector 0: "), "{err}");
}

#[test]
fn master_and_slave_on_one_channel_read_alternately() {
    let fake = machine([disk(300, 5, true), disk(400, 6, true), None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks.len(), 2);
    let mut a = vec![0u8; 10 * 512];
    let mut b = vec![0u8; 10 * 512];
    for lba in [0u64, 100, 290] {
        disks[0].read(lba, &mut a).unwrap();
        disks[1].read(lba, &mut b).unwrap();
        assert_eq!(
            a,
            pattern(300, 5)[lba as usize * 512..(lba as usize + 10) * 512]
        );
        assert_eq!(
            b,
            pattern(400, 6)[lba as usize * 512..(lba as usize + 10) * 512]
        );
    }
}

fn multiple_disk(sectors: usize, seed: u8, lba48: bool, behaviour: Behaviour) -> Option<FakeDrive> {
    Some(FakeDrive {
        behaviour,
        data: pattern(sectors, seed),
        lba48,
        multiple: 16,
        huge: None,
        words: Vec::new(),
    })
}

#[test]
fn drives_with_read_multiple_move_16_sector_blocks_in_32_bit_words() {
    for lba48 in [true, false] {
        let fake = machine([
            multiple_disk(2048, 7, lba48, Behaviour::Disk),
            None,
            None,
            None,
        ]);
        let (disks, _) = probe(&fake);
        assert_eq!(disks[0].identity().multiple, 16);
        assert_eq!(*fake.set_multiple.borrow(), vec![16]);
        fake.transfers.borrow_mut().clear();
        let mut buf = vec![0u8; 300 * 512];
        disks[0].read(3, &mut buf).unwrap();
        assert_eq!(buf, pattern(2048, 7)[3 * 512..303 * 512]);
        let command = if lba48 { 0x29 } else { 0xC4 };
        assert_eq!(
            *fake.reads.borrow(),
            vec![(command, 3, 256), (command, 259, 44)]
        );
        // 256 = 16 blocks of 16; 44 = 2 blocks of 16 and one of 12.
        let transfers = fake.transfers.borrow();
        assert_eq!(transfers.len(), 19);
        assert!(transfers[..18].iter().all(|&t| t == (16 * 512, true)));
        assert_eq!(transfers[18], (12 * 512, true));
    }
}

#[test]
fn drive_refusing_set_multiple_reads_one_sector_per_block() {
    let fake = machine([
        multiple_disk(100, 8, true, Behaviour::RefusesMultiple),
        None,
        None,
        None,
    ]);
    let (disks, report) = probe(&fake);
    assert!(report[0].result.is_ok());
    assert_eq!(*fake.set_multiple.borrow(), vec![16]);
    fake.transfers.borrow_mut().clear();
    let mut buf = vec![0u8; 20 * 512];
    disks[0].read(50, &mut buf).unwrap();
    assert_eq!(buf, pattern(100, 8)[50 * 512..70 * 512]);
    assert_eq!(*fake.reads.borrow(), vec![(0x24, 50, 20)]);
    assert_eq!(fake.transfers.borrow().len(), 20);
}

/// A read given up at a timeout while the drive still works on it: the channel is reset, so that when the
/// drive would have finished, the next read does not take the old command's data for its own.
#[test]
fn after_a_timeout_the_next_read_gets_its_own_data() {
    for multiple in [0, 16] {
        let mut slow = disk(64, 8, true).unwrap();
        slow.behaviour = Behaviour::SlowFirstRead(5_000_000);
        slow.multiple = multiple;
        let fake = machine([Some(slow), None, None, None]);
        fake.clock_ms.set(Some(0));
        let (disks, _) = probe(&fake);
        let mut buf = vec![0u8; 512];
        let err = disks[0].read(1, &mut buf).unwrap_err().to_string();
        assert!(err.contains("timed out waiting for DRQ"), "{err}");
        assert_eq!(fake.channels.borrow()[0].resets, 1);
        // Long after, when the drive would have offered sector 1: the next reads get their own sectors.
        fake.status_reads.set(fake.status_reads.get() + 10_000_000);
        for lba in [2u64, 40, 1] {
            disks[0].read(lba, &mut buf).unwrap();
            assert_eq!(
                buf,
                pattern(64, 8)[lba as usize * 512..(lba as usize + 1) * 512],
                "sector {lba} (READ MULTIPLE {multiple})"
            );
        }
        // The READ MULTIPLE block size is set again after the reset.
        let expected: &[u8] = if multiple > 0 { &[16, 16] } else { &[] };
        assert_eq!(*fake.set_multiple.borrow(), expected);
    }
}

/// An empty master beside a slave: no drive there (not an error), and the slave is hd0.
#[test]
fn an_empty_master_beside_a_slave_is_no_drive() {
    let fake = machine([special(Behaviour::Empty), disk(100, 3, true), None, None]);
    let (disks, report) = probe(&fake);
    assert_eq!(report[0].result, Err(AtaError::Absent));
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].name(), "hd0");
    assert_eq!(disks[0].position().1, bootscript_disk::ata::Drive::Slave);
}

/// A drive without LBA48 whose IDENTIFY words 60-61 claim more sectors than LBA28 addresses (no drive should):
/// a read at or past sector 2^28 is refused before any command, rather than sent with its top bits lost (which
/// would read a sector near the start, with no error).
#[test]
fn a_read_past_lba28_on_a_drive_without_lba48_is_refused() {
    let mut drive = huge(0x1000_0100, false).unwrap();
    drive.words = vec![(60, 0x0100), (61, 0x1000)];
    let fake = machine([Some(drive), None, None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks[0].sectors(), 0x1000_0100);
    assert!(!disks[0].identity().lba48);
    let mut buf = vec![0u8; 2 * 512];
    disks[0].read(0x0FFF_FFFE, &mut buf).unwrap();
    assert!(buf == [stamped(0x0FFF_FFFE), stamped(0x0FFF_FFFF)].concat());
    for lba in [0x0FFF_FFFF, 0x1000_0000, 0x1000_00FE] {
        let err = disks[0].read(lba, &mut buf).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("hd0: sector {lba} needs LBA48, which the drive lacks"),
            "{lba:#x}"
        );
    }
    assert_eq!(*fake.reads.borrow(), vec![(0x20, 0x0FFF_FFFE, 2)]);
}

/// A drive that sets LBA48 support but leaves its 48-bit sector count (words 100-103) zero has the LBA28 count:
/// it is a disk of that size, not one of no sectors.
#[test]
fn an_lba48_drive_without_a_48_bit_count_has_its_lba28_count() {
    let mut drive = disk(100, 3, true).unwrap();
    drive.words = vec![(100, 0), (101, 0), (102, 0), (103, 0)];
    let fake = machine([Some(drive), None, None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].sectors(), 100);
    let mut buf = vec![0u8; 10 * 512];
    disks[0].read(90, &mut buf).unwrap();
    assert_eq!(buf, pattern(100, 3)[90 * 512..]);
}

/// A drive that reports no sectors is not a disk: it takes no name, and the next disk is hd0.
#[test]
fn a_drive_of_no_sectors_takes_no_name() {
    let fake = machine([disk(0, 1, false), disk(100, 2, true), None, None]);
    let (disks, report) = probe(&fake);
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].name(), "hd0");
    assert_eq!(disks[0].position().1, bootscript_disk::ata::Drive::Slave);
    assert!(report[0].result.is_err(), "{:?}", report[0].result);
    assert_eq!(report[1].result.as_ref().unwrap().0, "hd0");
}

/// A read the drive fails with a device fault (DF without ERR) is an error at once that says so, not a wait for
/// data until the time bound.
#[test]
fn a_device_fault_during_a_read_is_said_at_once() {
    let fake = machine([special(Behaviour::Fault), None, None, None]);
    let (disks, _) = probe(&fake);
    let polls = fake.status_reads.get();
    let mut buf = vec![0u8; 512];
    let err = disks[0].read(3, &mut buf).unwrap_err().to_string();
    assert_eq!(
        err,
        "hd0: reading sector 3: device fault (status 0x60, error 0x00)"
    );
    assert!(fake.status_reads.get() - polls < 100, "it waited for DRQ");
}

/// IDENTIFY DEVICE failing with an error other than an abort is that error in the probe's report, not "no
/// drive": something is there, and it failed.
#[test]
fn identify_failing_with_a_data_error_is_reported_as_such() {
    let fake = machine([special(Behaviour::IdentifyFails), None, None, None]);
    let (disks, report) = probe(&fake);
    assert!(disks.is_empty());
    assert_eq!(
        report[0].result,
        Err(AtaError::Device {
            status: 0x51,
            error: 0x40
        })
    );
}

/// Data a drive still offers when a read begins (a command given up earlier, its reset failed) is not taken for
/// the new read's: the channel is reset first, and the read gets its own sectors. (The disk is the primary
/// slave, the position the probe selected last.)
#[test]
fn data_still_offered_before_a_read_is_dropped_by_a_reset() {
    let fake = machine([None, disk(64, 5, true), None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks[0].position().1, bootscript_disk::ata::Drive::Slave);
    {
        let mut channels = fake.channels.borrow_mut();
        channels[0].pending = vec![0xEE; 512].into();
        channels[0].status = 0x58;
    }
    let mut buf = vec![0u8; 512];
    disks[0].read(7, &mut buf).unwrap();
    assert_eq!(buf, pattern(64, 5)[7 * 512..8 * 512]);
    assert_eq!(fake.channels.borrow()[0].resets, 1);
}

/// The largest READ MULTIPLE block a drive may advertise, 128 sectors, is used: 64 KiB per DRQ block.
#[test]
fn a_drive_with_128_sector_blocks_reads_in_blocks_of_128() {
    let mut drive = multiple_disk(2048, 9, true, Behaviour::Disk).unwrap();
    drive.multiple = 128;
    let fake = machine([Some(drive), None, None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks[0].identity().multiple, 128);
    assert_eq!(*fake.set_multiple.borrow(), vec![128]);
    fake.transfers.borrow_mut().clear();
    let mut buf = vec![0u8; 300 * 512];
    disks[0].read(3, &mut buf).unwrap();
    assert_eq!(buf, pattern(2048, 9)[3 * 512..303 * 512]);
    assert_eq!(*fake.reads.borrow(), vec![(0x29, 3, 256), (0x29, 259, 44)]);
    assert_eq!(
        *fake.transfers.borrow(),
        vec![(128 * 512, true), (128 * 512, true), (44 * 512, true)]
    );
}

/// The software reset after a timeout keeps to the ATA protocol, which real drives need (the fake does not):
/// SRST held for at least 5 us (13 delays of 400 ns), then at least 2 ms (5000 delays) before the status is
/// read.
#[test]
fn the_reset_holds_srst_5_us_and_waits_2_ms() {
    let mut slow = disk(64, 8, true).unwrap();
    slow.behaviour = Behaviour::SlowFirstRead(5_000_000);
    let fake = machine([Some(slow), None, None, None]);
    fake.clock_ms.set(Some(0));
    let (disks, _) = probe(&fake);
    let mut buf = vec![0u8; 512];
    assert!(disks[0].read(1, &mut buf).is_err());
    let writes = fake.control_writes.borrow();
    let set = writes
        .iter()
        .position(|&(v, _)| v & 0x04 != 0)
        .expect("no SRST");
    let (cleared, at_clear) = writes[set + 1];
    assert_eq!(cleared & 0x04, 0);
    assert!(at_clear - writes[set].1 >= 13, "SRST held {:?}", writes);
    let first_status = fake.status_after_reset.borrow()[0];
    assert!(
        first_status - at_clear >= 5000,
        "{} delays",
        first_status - at_clear
    );
}

/// Data still offered (DRQ) by this drive is found whichever position the channel had selected last: here the
/// empty primary slave, which the probe selected after the master. The check once read the status before
/// selecting, so it saw the slave's, and the master's stale data was taken for the new read's, with no error. (On
/// hardware: a slave disk after a failed recovery, since a software reset selects device 0; or two disks on one
/// channel, the other read last.)
#[test]
fn data_still_offered_is_dropped_whichever_drive_was_selected_last() {
    let fake = machine([disk(64, 5, true), None, None, None]);
    let (disks, _) = probe(&fake);
    {
        let mut channels = fake.channels.borrow_mut();
        assert_eq!(channels[0].selected, 1, "the probe selected the slave last");
        channels[0].pending = vec![0xEE; 512].into();
        channels[0].status = 0x58;
    }
    let mut buf = vec![0u8; 512];
    disks[0].read(7, &mut buf).unwrap();
    assert_eq!(buf, pattern(64, 5)[7 * 512..8 * 512], "stale data taken");
}

#[test]
fn a_controller_without_32_bit_data_reads_gets_16_bit_ones() {
    // ATA's data register is 16 bits wide; a controller that does not make a 32-bit read two 16-bit ones answers
    // half of it from other registers. Such a controller is found at the probe, and sector data read in 16-bit
    // words: the right bytes, not a mix with the sector count.
    for (narrow_only, multiple) in [(true, 0), (true, 16), (false, 0), (false, 16)] {
        let mut drive = disk(600, 5, true);
        drive.as_mut().unwrap().multiple = multiple;
        let fake = machine([drive, None, None, disk(64, 6, false)]);
        fake.narrow_only.set(narrow_only);
        let (disks, report) = probe(&fake);
        assert_eq!(disks.len(), 2, "{report:?}");
        assert_eq!(disks[0].identity().model, "FAKE DISK ONE");
        assert_eq!(disks[0].sectors(), 600);
        fake.transfers.borrow_mut().clear();
        let mut buf = vec![0u8; 300 * 512];
        disks[0].read(7, &mut buf).unwrap();
        assert!(
            buf == pattern(600, 5)[7 * 512..307 * 512],
            "narrow_only {narrow_only}, multiple {multiple}"
        );
        let mut buf = vec![0u8; 3 * 512];
        disks[1].read(1, &mut buf).unwrap();
        assert!(buf == pattern(64, 6)[512..4 * 512]);
        // Where the controller takes them, 32-bit reads: half the port accesses.
        assert!(fake
            .transfers
            .borrow()
            .iter()
            .all(|&(_, wide)| wide == !narrow_only));
    }
}

#[test]
fn the_32_bit_check_costs_one_identify_and_reads_nothing_else() {
    let fake = machine([disk(64, 1, true), None, None, None]);
    let (disks, _) = probe(&fake);
    assert_eq!(disks.len(), 1);
    // IDENTIFY's data read twice, 16 bits then 32 bits wide; no sector read.
    assert_eq!(*fake.transfers.borrow(), vec![(512, false), (512, true)]);
    assert!(fake.reads.borrow().is_empty());
}

/// A reset of the channel after one drive failed sets the other drive's READ MULTIPLE block size back too (SRST
/// resets both), and that drive then refuses READ MULTIPLE: its next read is tried again once its block size is set
/// again, and reads the right data rather than failing.
#[test]
fn a_read_after_the_other_drive_failed_sets_its_block_size_again() {
    let fake = machine([
        multiple_disk(256, 3, true, Behaviour::Disk),
        multiple_disk(64, 4, true, Behaviour::ReadError),
        None,
        None,
    ]);
    let (disks, report) = probe(&fake);
    assert_eq!(disks.len(), 2, "{report:?}");
    let mut buf = vec![0u8; 512];
    assert!(
        disks[1].read(0, &mut buf).is_err(),
        "the failing drive read"
    );
    let mut buf = vec![0u8; 40 * 512];
    disks[0]
        .read(5, &mut buf)
        .expect("the other drive's read after the reset");
    assert!(buf == pattern(256, 3)[5 * 512..45 * 512]);
    // Each drive's block size set at the probe, the failing drive's again after its failure, and the other's when
    // its READ MULTIPLE was refused; the refused command, then the same one again.
    assert_eq!(*fake.set_multiple.borrow(), vec![16, 16, 16, 16]);
    let reads = fake.reads.borrow();
    assert_eq!(reads[reads.len() - 2..], [(0x29, 0, 0), (0x29, 5, 40)]);
}
