//! Disks behind an NVMe controller (the M.2 and PCIe SSDs of most PCs since about 2016, and QEMU's `nvme`
//! device): the controller's registers in memory at its BAR0, an admin queue pair and one I/O queue pair of two
//! entries each (one command at a time, polled), and reads by DMA straight into the caller's buffer, described by
//! PRP entries. Each active namespace with blocks of 512 to 4096 bytes is one disk. Every wait is bounded in time.
//! The controllers this driver enabled are disabled again before the hand-off ([`quiesce`]), which leaves them as a
//! reset does, with no queue pointing into memory that is the next kernel's by then; before `halt` and `reboot`
//! they are told that power goes away ([`shut_down`]). A command that times out resets its controller, which
//! ends the command: its data cannot land later in memory that is no longer the read's.
//!
//! Register offsets, command layouts and data structures are those of the NVM Express Base Specification 1.4
//! (section 3.1: controller registers; 4: submission and completion queues, PRPs; 5: admin commands Identify,
//! Set Features, Create I/O Completion Queue and Create I/O Submission Queue; 7.3: resets; 7.6: initialization
//! and shutdown) and of the NVM command set's Read. A review against Linux's driver (drivers/nvme/host/pci.c,
//! core.c) added what real controllers need and QEMU's does not check: the number of queues asked for, Identify's
//! list of namespaces only from NVMe 1.1 on (Linux's `nvme_id_cns_ok`), the LBA format's index bits of NVMe 2.0,
//! retries of statuses without Do Not Retry, and the shutdown notification.

use alloc::alloc::{alloc_zeroed, Layout};
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::sync::atomic::{compiler_fence, AtomicBool, Ordering};

use bootscript_disk::nvme::{decode_namespace, second_prp, Failure, PAGE, STATUS_DNR};
use bootscript_disk::{check_read, split_blocks, BlockDevice, DiskError, SECTOR_SIZE};
use spin::Mutex;

use super::mmio::Registers;
use super::pci::{self, Function};
use crate::arch::paging;
use crate::{clock, println};

/// PCI class of an NVMe controller: mass storage, non-volatile memory, NVM Express.
const CLASS_NVME: (u8, u8, u8) = (0x01, 0x08, 0x02);

// Controller registers.
const CAP: usize = 0x00;
const CAP_HIGH: usize = 0x04;
const VS: usize = 0x08;
const CC: usize = 0x14;
const CSTS: usize = 0x1c;
const AQA: usize = 0x24;
const ASQ: usize = 0x28;
const ACQ: usize = 0x30;
const DOORBELLS: usize = 0x1000;
const CC_EN: u32 = 1 << 0;
/// I/O submission and completion queue entries of 64 and 16 bytes (2^6, 2^4); NVM command set, 4 KiB pages.
const CC_ENTRY_SIZES: u32 = 6 << 16 | 4 << 20;
const CC_SHN: u32 = 3 << 14;
const CC_SHN_NORMAL: u32 = 1 << 14;
const CSTS_RDY: u32 = 1 << 0;
const CSTS_CFS: u32 = 1 << 1;
/// CSTS.SHST: shutdown processing complete.
const CSTS_SHST_COMPLETE: u32 = 2 << 2;
/// PCI command register: memory space, bus master, interrupt disable (completions are polled).
const PCI_MEMORY: u32 = 1 << 1;
const PCI_BUS_MASTER: u32 = 1 << 2;
const PCI_NO_INTERRUPT: u32 = 1 << 10;

const ADMIN_CREATE_SQ: u32 = 0x01;
const ADMIN_CREATE_CQ: u32 = 0x05;
const ADMIN_IDENTIFY: u32 = 0x06;
const ADMIN_SET_FEATURES: u32 = 0x09;
/// Set Features' Number of Queues (NVMe 1.4, 5.21.1.7).
const FEATURE_QUEUES: u32 = 0x07;
const NVM_READ: u32 = 0x02;
/// Identify's structures (CNS): a namespace's, the controller's, the list of active namespaces.
const CNS_NAMESPACE: u32 = 0;
const CNS_CONTROLLER: u32 = 1;
const CNS_ACTIVE: u32 = 2;

/// The admin queue pair's index (0) and the I/O queue pair's (1), which is also its queue ID.
const ADMIN: usize = 0;
const IO: usize = 1;

/// The most one read moves: PRP1 and a list of one page (512 entries) describe up to 2 MiB; 1 MiB, or less
/// where the controller's MDTS says so.
const MOST: usize = 1 << 20;

/// How long a command may take (as the ATA and AHCI drivers' bound).
const COMMAND_MS: u64 = bootscript_disk::ata::WAIT_MS;

/// A page-aligned page.
#[repr(C, align(4096))]
struct Page([u32; PAGE / 4]);

/// The memory the controller reads and writes: a submission and a completion queue for each pair (page aligned, as
/// queues created physically contiguous must be), a page for PRP lists, and a page for Identify's data and for
/// buffers a read cannot go straight into (not at a multiple of 4).
#[repr(C)]
struct QueueMemory {
    submissions: [Page; 2],
    completions: [Page; 2],
    list: Page,
    data: Page,
}

/// The controllers this driver enabled, disabled by [`quiesce`].
static ENABLED: Mutex<Vec<Device>> = Mutex::new(Vec::new());

/// Disables every controller this driver enabled: called right before the hand-off, after which the memory of
/// their queues belongs to the next kernel, which sets the controller up itself.
pub fn quiesce() {
    for device in ENABLED.lock().iter() {
        device.disable();
    }
}

/// The controllers were told that power goes away ([`shut_down`]): no command is sent any more.
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// Tells every controller this driver enabled that power goes away (CC.SHN, a normal shutdown), and waits for it to
/// finish (CSTS.SHST) as long as it says it may take (RTD3E), 5 s to 60 s as Linux allows: called before `halt`
/// and `reboot`. Else the drive counts an unsafe shutdown, and may take longer to come up next time (NVMe 1.4,
/// 7.6.2). No command is sent to them after this.
pub fn shut_down() {
    SHUT_DOWN.store(true, Ordering::Relaxed);
    // (Not waited for: a power-off must not hang on a lock.)
    let Some(enabled) = ENABLED.try_lock() else {
        return;
    };
    for device in enabled.iter() {
        let registers = device.registers;
        let (cc, status) = (registers.read(CC), registers.read(CSTS));
        // (One that reads all ones no longer answers.)
        if cc & CC_EN != 0 && status != u32::MAX && status & CSTS_RDY != 0 {
            registers.write(CC, cc & !CC_SHN | CC_SHN_NORMAL);
            registers.wait(CSTS, device.shutdown_ms, |status| {
                status == u32::MAX || status & 3 << 2 == CSTS_SHST_COMPLETE
            });
        }
    }
}

/// A controller this driver enabled: where it is, and what to put back.
#[derive(Clone, Copy)]
struct Device {
    function: Function,
    registers: Registers,
    /// How long CSTS.RDY may take to follow CC.EN (CAP.TO).
    ready_ms: u64,
    /// The PCI command register as the firmware left it.
    command: u32,
    /// How long a shutdown may take (RTD3E, within 5 s to 60 s).
    shutdown_ms: u64,
}

impl Device {
    /// Resets the controller (NVMe 1.4, 7.3.2): CC.EN cleared (and CC.SHN) ends every command it holds and
    /// deletes its queues; waits for CSTS.RDY to clear. Whether it did.
    fn reset(self) -> bool {
        let registers = self.registers;
        let cc = registers.read(CC);
        if cc & CC_EN != 0 {
            // (Clearing EN while the controller is still getting ready has undefined results: NVMe 1.4, 3.1.5.)
            wait_ready(registers, self.ready_ms, CSTS_RDY);
        }
        registers.write(CC, cc & !(CC_EN | CC_SHN));
        wait_ready(registers, self.ready_ms, 0)
    }

    /// Resets the controller and puts its PCI command register back as the firmware left it; one that does not
    /// acknowledge the reset also loses bus mastering, which stops its DMA.
    fn disable(self) {
        let reset = self.reset();
        let keep = if reset { !0 } else { !PCI_BUS_MASTER };
        self.function.write(0x04, self.command & 0xffff & keep);
    }
}

/// Waits until CSTS.RDY of the controller at `registers` is `ready` (0 or 1), for at most `ms`: whether it did.
/// Given up on at once when the registers read all ones (the controller no longer answers), or it reports a fatal
/// status (CSTS.CFS) while it should get ready.
#[inline(never)]
fn wait_ready(registers: Registers, ms: u64, ready: u32) -> bool {
    let gone = |status: u32| status == u32::MAX || ready != 0 && status & CSTS_CFS != 0;
    registers.wait(CSTS, ms, |status| {
        gone(status) || status & CSTS_RDY == ready
    });
    let status = registers.read(CSTS);
    !gone(status) && status & CSTS_RDY == ready
}

/// An enabled controller with its two queue pairs, shared by the disks of its namespaces.
struct Controller {
    device: Device,
    registers: Registers,
    /// The distance between doorbells (CAP.DSTRD).
    stride: usize,
    /// Its memory: never freed (the controller holds its addresses until [`quiesce`]), and only reached through
    /// this pointer, with volatile accesses and fences around each command.
    memory: *mut QueueMemory,
    /// Commands completed on each queue pair. One command is in flight at a time and the queues have two entries,
    /// so this gives the slot (count mod 2) and the phase a new completion has (1 on the first pass, then 0, ...).
    completed: [Cell<usize>; 2],
    /// The most bytes one read moves.
    most: usize,
    stopped: Cell<bool>,
}

impl Controller {
    /// Runs `command` on queue pair `queue`: submits it and waits for its completion, twice more when it fails
    /// with a status that does not forbid a retry (a namespace that is not ready yet just after a reset, say; Linux
    /// tries up to 5 times).
    fn execute(&self, queue: usize, command: [u32; 16]) -> Result<(), Failure> {
        let mut tries = 3;
        loop {
            match self.submit(queue, command) {
                Err(Failure::Status(status)) if status & STATUS_DNR == 0 && tries > 1 => {
                    tries -= 1;
                    clock::sleep_ms(10);
                }
                result => return result,
            }
        }
    }

    /// Submits `command` on queue pair `queue` and waits for its completion. One that does not come in time
    /// resets the controller: the command ends there, and the controller is not used again.
    fn submit(&self, queue: usize, command: [u32; 16]) -> Result<(), Failure> {
        if SHUT_DOWN.load(Ordering::Relaxed) {
            return Err(Failure::ShutDown);
        }
        if self.stopped.get() {
            return Err(Failure::Stopped);
        }
        let count = self.completed[queue].get();
        let slot = count % 2;
        let phase = u32::from((count / 2).is_multiple_of(2));
        let memory = self.memory;
        // SAFETY: the queue memory is ours alone (never freed, reached only through this pointer); the controller
        // reads the entry once the doorbell below is rung, after the fence.
        unsafe {
            let submissions =
                core::ptr::addr_of_mut!((*memory).submissions[queue]).cast::<[u32; 16]>();
            submissions.add(slot).write_volatile(command);
        }
        compiler_fence(Ordering::SeqCst);
        // Queue y's submission tail doorbell, then its completion head doorbell (NVMe 1.4, 3.1.24 and 3.1.25).
        let doorbell = |which: usize, value: usize| {
            self.registers
                .write(DOORBELLS + (2 * queue + which) * self.stride, value as u32)
        };
        doorbell(0, slot ^ 1);
        // SAFETY: as above; the controller writes the completion entry, which is read volatile.
        let entry = unsafe {
            core::ptr::addr_of!((*memory).completions[queue])
                .cast::<[u32; 4]>()
                .add(slot)
        };
        // SAFETY: as above.
        let status = || unsafe { entry.read_volatile()[3] };
        if !clock::wait_until(COMMAND_MS, || status() >> 16 & 1 == phase) {
            // The command may still move data, into a buffer its caller frees on this error: the reset ends it.
            self.stopped.set(true);
            self.device.disable();
            return Err(Failure::Timeout);
        }
        compiler_fence(Ordering::SeqCst);
        let status = status() >> 17;
        self.completed[queue].set(count + 1);
        doorbell(1, slot ^ 1);
        match status {
            0 => Ok(()),
            status => Err(Failure::Status(status)),
        }
    }

    /// Runs Identify with `cns` (for namespace `nsid`) into the data page, and gives what `decode` makes of it.
    fn identify<T>(
        &self,
        cns: u32,
        nsid: u32,
        decode: impl FnOnce(&[u8; PAGE]) -> T,
    ) -> Result<T, Failure> {
        // SAFETY: the data page, in the queue memory (see `memory`).
        let data = unsafe { core::ptr::addr_of_mut!((*self.memory).data) };
        self.execute(ADMIN, admin(ADMIN_IDENTIFY, nsid, physical(data), cns, 0))?;
        compiler_fence(Ordering::SeqCst);
        // SAFETY: as above; the command completed, and nothing writes the page while `decode` reads it.
        Ok(decode(unsafe { &*data.cast::<[u8; PAGE]>() }))
    }

    /// Reads the `bytes >> shift` blocks from block `lba` of namespace `nsid`, whose blocks are `1 << shift` bytes,
    /// into `buffer` (at a multiple of 4, at most `most` bytes).
    fn read(
        &self,
        nsid: u32,
        shift: u32,
        lba: u64,
        buffer: *mut u8,
        bytes: usize,
    ) -> Result<(), Failure> {
        let address = buffer as u64;
        // SAFETY: the list page, in the queue memory; the controller reads it only for this command.
        let list = unsafe { core::ptr::addr_of_mut!((*self.memory).list) }.cast::<u64>();
        let second = second_prp(address, bytes, physical(list), |k, page| {
            // SAFETY: as above; `k` is below 256 (`most` is at most 1 MiB), within the page's 512 entries.
            unsafe { list.add(k).write_volatile(page) }
        });
        let mut command = [0u32; 16];
        command[..13].copy_from_slice(&[
            NVM_READ,
            nsid,
            0,
            0,
            0,
            0,
            address as u32,
            (address >> 32) as u32,
            second as u32,
            (second >> 32) as u32,
            lba as u32,
            (lba >> 32) as u32,
            ((bytes >> shift) - 1) as u32,
        ]);
        let result = self.execute(IO, command);
        compiler_fence(Ordering::SeqCst);
        result
    }
}

/// An admin command: `opcode` for namespace `nsid`, data at `address` (PRP1), command dwords 10 and 11.
fn admin(opcode: u32, nsid: u32, address: u64, cdw10: u32, cdw11: u32) -> [u32; 16] {
    let mut command = [0u32; 16];
    command[0] = opcode;
    command[1] = nsid;
    command[6] = address as u32;
    command[7] = (address >> 32) as u32;
    command[10] = cdw10;
    command[11] = cdw11;
    command
}

/// The address a DMA engine uses for memory the payload reaches at `pointer`: the same (the first 4 GiB are
/// identity mapped, and the heap lies inside them).
fn physical<T>(pointer: *const T) -> u64 {
    pointer as u64
}

/// One namespace of an NVMe controller, readable as a `BlockDevice`.
pub struct NvmeDisk {
    name: String,
    controller: Rc<Controller>,
    nsid: u32,
    sectors: u64,
    /// Its blocks are `1 << shift` sectors (512 to 4096 bytes).
    shift: u32,
}

impl BlockDevice for NvmeDisk {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(self.sectors, lba, buf.len())?;
        let (controller, nsid) = (&*self.controller, self.nsid);
        let (shift, block) = (self.shift + 9, SECTOR_SIZE << self.shift);
        // SAFETY: the data page (see `Controller::memory`).
        let data = unsafe { core::ptr::addr_of_mut!((*controller.memory).data) }.cast::<u8>();
        // Reads the blocks that hold `part`, from sector `at`, into the data page, and copies `part` out.
        let through_page = |at: u64, part: &mut [u8]| {
            let offset = (at as usize & ((1 << self.shift) - 1)) * SECTOR_SIZE;
            let bytes = (offset + part.len()).next_multiple_of(block);
            let first = at >> self.shift;
            controller.read(nsid, shift, first, data, bytes).map(|()| {
                // SAFETY: as above, read after the command completed; `offset + part.len()` is at most a page.
                let page = unsafe { core::slice::from_raw_parts(data, PAGE) };
                part.copy_from_slice(&page[offset..offset + part.len()])
            })
        };
        // PRP entries address dwords: a buffer elsewhere is read a page at a time through the data page, as are
        // the blocks a read covers in part.
        let aligned = (buf.as_ptr() as usize).is_multiple_of(4);
        split_blocks(self.shift, lba, buf, |at, part, whole| {
            let straight = whole && aligned;
            let chunk = if straight { controller.most } else { PAGE };
            super::read_in_parts(&self.name, at, part, chunk, |at, part| {
                if straight {
                    let first = at >> self.shift;
                    return controller.read(nsid, shift, first, part.as_mut_ptr(), part.len());
                }
                through_page(at, part)
            })
        })
    }

    fn block_size(&self) -> u32 {
        (SECTOR_SIZE << self.shift) as u32
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Finds the NVMe controllers and their active namespaces, as disks named `hd{first}`, `hd{first + 1}`, ... in the
/// order of controllers and namespace IDs, and says on the consoles what it found: a line per controller problem
/// and per namespace.
#[inline(never)]
pub fn probe(first: usize) -> Vec<NvmeDisk> {
    let mut disks = Vec::new();
    for function in pci::find(CLASS_NVME) {
        let (controller, model, namespaces) = match controller(function) {
            Ok(found) => found,
            Err(Problem(step, why)) => {
                println!("{}: {step}{why}", Line(function, None));
                continue;
            }
        };
        for nsid in namespaces {
            let line = Line(function, Some(nsid));
            if let Some((sectors, shift)) = namespace(&controller, nsid, &line) {
                let name = format!("hd{}", first + disks.len());
                let blocks = [
                    "",
                    ", blocks of 1024 bytes",
                    ", blocks of 2048 bytes",
                    ", blocks of 4096 bytes",
                ];
                println!(
                    "{line}: {name} {model} ({sectors} sectors{})",
                    blocks[shift as usize]
                );
                disks.push(NvmeDisk {
                    name,
                    controller: controller.clone(),
                    nsid,
                    sectors,
                    shift,
                });
            }
        }
    }
    disks
}

/// The start of a line about a controller (at a PCI function) or one of its namespaces.
struct Line(Function, Option<u32>);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Line(function, namespace) = self;
        write!(f, "bootscript: nvme {function}")?;
        match namespace {
            Some(nsid) => write!(f, " namespace {nsid}"),
            None => Ok(()),
        }
    }
}

/// What stood in the way of a controller: what was being done (or nothing) and why it failed.
struct Problem(&'static str, Why);

/// Why something failed: a fixed reason, or a command's failure.
enum Why {
    Fixed(&'static str),
    Command(Failure),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Fixed(why) => f.write_str(why),
            Why::Command(failure) => failure.fmt(f),
        }
    }
}

/// A problem with a fixed reason.
fn refuse<T>(why: &'static str) -> Result<T, Problem> {
    Err(Problem("", Why::Fixed(why)))
}

/// Enables the controller at `function` with its queues (NVMe 1.4, 7.6.1): its registers' base from BAR0, memory
/// decoding and bus mastering on (and its pin interrupt off: completions are polled), the controller reset, the
/// admin queues set, the controller enabled, the I/O queue pair created. Gives it with its model and the IDs of
/// its active namespaces.
#[inline(never)]
fn controller(function: Function) -> Result<(Rc<Controller>, String, Vec<u32>), Problem> {
    let bar = function.read(0x10);
    if bar & 1 != 0 {
        return refuse("its registers are in I/O space, not memory");
    }
    // A 64-bit BAR's upper half.
    let high = if bar >> 1 & 3 == 2 {
        function.read(0x14)
    } else {
        0
    };
    let base = u64::from(bar & !0xf) | u64::from(high) << 32;
    // (A UEFI firmware often puts a 64-bit BAR above 4 GiB, past the boot stub's map: mapped there.)
    if base == 0 || !paging::map_above_4g(base, 0x1000) {
        return refuse("its registers lie out of reach (unassigned, or past what can be mapped)");
    }
    let command = function.read(0x04);
    // Memory space, bus master, and interrupt disable (the status half is written with zeros: no effect).
    function.write(
        0x04,
        command & 0xffff | PCI_MEMORY | PCI_BUS_MASTER | PCI_NO_INTERRUPT,
    );
    // SAFETY: BAR0 of an NVMe controller (its class checked), with memory decoding on, its first 4 KiB identity
    // mapped (above); the driver reads and writes only NVMe's controller registers there, and the doorbells once
    // they are mapped too, below.
    let registers = unsafe { Registers::new(base as usize) };
    // A controller refused from here on gets its command register back.
    let give_up = |why| {
        function.write(0x04, command & 0xffff);
        refuse(why)
    };
    let cap_high = registers.read(CAP_HIGH);
    if cap_high == u32::MAX {
        return give_up("it does not answer (its registers read all ones)");
    }
    // The doorbells of both queue pairs lie within reach (CAP.DSTRD, bits 35:32, spaces them).
    let stride = 4 << (cap_high & 0xf);
    if !paging::map_above_4g(base, (DOORBELLS + 4 * stride) as u64) {
        return give_up("its registers lie out of reach (unassigned, or past what can be mapped)");
    }
    let device = Device {
        function,
        registers,
        // CAP.TO: the longest a change of CSTS.RDY takes, in 500 ms units.
        ready_ms: u64::from(registers.read(CAP) >> 24 & 0xff).max(1) * 500,
        command,
        shutdown_ms: 5000,
    };
    // CAP.MPSMIN (bits 51:48) must allow 4 KiB pages, and CAP.CSS (bits 44:37) the NVM command set.
    if cap_high >> 16 & 0xf != 0 || cap_high >> 5 & 1 == 0 {
        return give_up("it lacks 4 KiB pages or the NVM command set");
    }
    if !device.reset() {
        // (Bus mastering off: the reset that did not end may leave the firmware's commands running.)
        device.disable();
        return refuse("timed out waiting for the controller to reset");
    }
    // SAFETY: a layout of non-zero size; the zeroed memory is a valid QueueMemory (plain integers).
    let memory = unsafe { alloc_zeroed(Layout::new::<QueueMemory>()) }.cast::<QueueMemory>();
    if memory.is_null() {
        return give_up("no memory for its queues");
    }
    // (The heap lies below 4 GiB: the identity mapping ends there.) Two entries in each admin queue.
    registers.write(AQA, 1 << 16 | 1);
    // SAFETY: addresses of fields of the memory just allocated.
    let queue = |pair: usize| unsafe {
        (
            physical(core::ptr::addr_of!((*memory).submissions[pair])),
            physical(core::ptr::addr_of!((*memory).completions[pair])),
        )
    };
    let (submission, completion) = queue(ADMIN);
    registers.write_address(ASQ, submission);
    registers.write_address(ACQ, completion);
    // Recorded before the start: a controller enabled half-way holds the queues' addresses.
    ENABLED.lock().push(device);
    registers.write(CC, CC_ENTRY_SIZES | CC_EN);
    if !wait_ready(registers, device.ready_ms, CSTS_RDY) {
        device.disable();
        return refuse("it did not become ready");
    }
    let mut controller = Controller {
        device,
        registers,
        stride,
        memory,
        completed: [Cell::new(0), Cell::new(0)],
        most: MOST,
        stopped: Cell::new(false),
    };
    let failed = |step| move |e| Problem(step, Why::Command(e));
    // One I/O queue pair asked for before any is created (NSQR and NCQR 0: one each), as the specification's
    // initialization has it (NVMe 1.4, 7.6.1). A controller that refuses it may still take queue 1, as SeaBIOS
    // (which does not ask) finds: only a timeout ends here.
    if let Err(Failure::Timeout) =
        controller.execute(ADMIN, admin(ADMIN_SET_FEATURES, 0, 0, FEATURE_QUEUES, 0))
    {
        return Err(failed("asking for its queues: ")(Failure::Timeout));
    }
    // The I/O queue pair (ID 1): the completion queue, then the submission queue that posts to it; two entries
    // each, physically contiguous, no interrupts.
    let (submission, completion) = queue(IO);
    controller
        .execute(ADMIN, admin(ADMIN_CREATE_CQ, 0, completion, 1 << 16 | 1, 1))
        .and_then(|()| {
            controller.execute(
                ADMIN,
                admin(ADMIN_CREATE_SQ, 0, submission, 1 << 16 | 1, 1 << 16 | 1),
            )
        })
        .map_err(failed("creating its I/O queues: "))?;
    // The model (bytes 63:24, ASCII), the largest transfer (MDTS, byte 77: 2^n pages, 0 for no limit), how long a
    // shutdown may take (RTD3E, bytes 91:88, in microseconds; 0 when not said) and the number of namespaces (bytes
    // 519:516).
    let (model, mdts, shutdown_us, count) = controller
        .identify(CNS_CONTROLLER, 0, |data| {
            let mut model = String::new();
            for &b in &data[24..64] {
                model.push(if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                });
            }
            let count = u32::from_le_bytes([data[516], data[517], data[518], data[519]]);
            let shutdown_us = u32::from_le_bytes([data[88], data[89], data[90], data[91]]);
            (String::from(model.trim()), data[77], shutdown_us, count)
        })
        .map_err(failed("identifying it: "))?;
    if let 1..=7 = mdts {
        controller.most = PAGE << mdts;
    }
    if let Some(enabled) = ENABLED.lock().last_mut() {
        enabled.shutdown_ms = (u64::from(shutdown_us) / 1000).clamp(5000, 60_000);
    }
    // The active namespaces (a list of IDs ending with 0, from NVMe 1.1 on: an NVMe 1.0 controller reads bit 0 of
    // CNS alone); else those numbered from 1, of which the inactive ones are passed over.
    let listed = match registers.read(VS) >= 0x0001_0100 {
        true => controller
            .identify(CNS_ACTIVE, 0, |list| {
                let mut ids = Vec::new();
                for id in list.chunks_exact(4) {
                    match u32::from_le_bytes([id[0], id[1], id[2], id[3]]) {
                        0 => break,
                        id => ids.push(id),
                    }
                }
                ids
            })
            .ok(),
        false => None,
    };
    let namespaces = listed.unwrap_or_else(|| (1..=count.min(16)).collect());
    Ok((Rc::new(controller), model, namespaces))
}

/// The size in 512-byte sectors of namespace `nsid` and its blocks' size in sectors as a power of two, or `None`
/// when it is not read, with the reason said on the `line` of the namespace (an inactive one is passed over
/// without a word): it must have blocks of 512 to 4096 bytes (one fits the data page) with no metadata (a read
/// moves the blocks alone then).
#[inline(never)]
fn namespace(controller: &Controller, nsid: u32, line: &Line) -> Option<(u64, u32)> {
    let found = controller.identify(CNS_NAMESPACE, nsid, decode_namespace);
    match found {
        Ok((0, ..)) => {}
        Ok((blocks, true, 0, size @ 9..=12)) => {
            let shift = u32::from(size) - 9;
            return Some((blocks.saturating_mul(1 << shift), shift));
        }
        Err(e) => println!("{line}: identifying it: {e}"),
        Ok((_, false, ..)) => println!("{line}: its block format is not one it lists"),
        Ok((_, _, 0, shift)) => println!(
            "{line}: its blocks are {} bytes; only blocks of 512 to 4096 bytes are read",
            1u64 << shift.min(63)
        ),
        Ok((_, _, metadata, _)) => {
            println!("{line}: its blocks carry {metadata} bytes of metadata, which are not read")
        }
    }
    None
}
