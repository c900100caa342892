//! USB keyboards on xHCI host controllers (every PC's USB 3 controller, and QEMU's `qemu-xhci`), polled: after
//! GRUB has left UEFI's boot services, no firmware's PS/2 emulation can be counted on, and a desktop's only
//! keyboard is often a USB one.
//!
//! Each controller is taken from the firmware (the USB Legacy Support capability), halted and reset, and set up
//! with a command ring, one event ring and no interrupts. On each root port with a device, the device is reset,
//! addressed, and looked at: the first boot-protocol keyboard interface of its first configuration is configured,
//! switched to the boot protocol, and its interrupt IN endpoint is kept with one read of a report queued. Each
//! report that completes becomes key events (`usb::key_events`) for the PS/2 keyboard's decoder
//! (`drivers::keyboard`), and the read is queued again; a read that fails resets the endpoint. The lock lights are
//! set with SET_REPORT, sent without waiting for it. Every keyboard on every controller types, and one plugged
//! into a root port later is set up when the controller reports the change (one unplugged is let go of), while the
//! console polls for keys. A hub (USB 2, or a USB 3 hub's USB 2 half) is configured and its ports looked at once,
//! when it is found: each device there is set up as one on a root port, down to the fifth tier of hubs (a keyboard
//! plugged into a hub later is not seen: the hub's interrupt endpoint is not read; USB 3 hubs are not looked into,
//! as keyboards are USB 2 devices). On Intel's 7 to 9 series chipsets the USB 2 ports are first routed from their
//! EHCI controller to the xHCI one, as Linux does. PCs whose USB ports are on EHCI controllers alone (before about
//! 2012) are not served.
//!
//! All memory the controllers reach is the heap's, which lies below 4 GiB (identity mapped), so it suits
//! controllers without 64-bit addressing too; it is never freed. Every wait is bounded in time. Before the
//! hand-off the controllers are halted and reset ([`quiesce`]): none goes on writing events or reports into
//! memory that is the next kernel's by then.
//!
//! Registers, data structures and steps are those of the xHCI specification 1.2 (5: registers; 4.2 and 4.22:
//! initialization and the firmware's hand-off; 4.3 and 4.6: a device's slot, addressing and configuration; 6:
//! contexts and TRBs; 4.11.2.2: the event ring's cycle), checked against Linux's driver (drivers/usb/host/xhci.c,
//! xhci-ring.c, xhci-hub.c, pci-quirks.c: the hand-off's bounds and the SMI bits cleared).

use alloc::alloc::{alloc_zeroed, Layout};
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{compiler_fence, Ordering};

use pc_keyboard::KeyEvent;
use spin::Mutex;

use super::mmio::Registers;
use super::pci::{self, Function};
use crate::arch::paging;
use crate::usb::{self, KeyQueue as Keys, REPORT_SIZE};
use crate::{clock, println};

/// PCI class of an xHCI controller: serial bus, USB, xHCI.
const CLASS_XHCI: (u8, u8, u8) = (0x0c, 0x03, 0x30);
/// PCI command register: memory space, bus master, interrupt disable (events are polled).
const PCI_ENABLE: u32 = 1 << 1 | 1 << 2 | 1 << 10;
const PCI_BUS_MASTER: u32 = 1 << 2;

/// The xHCI controllers (device and vendor ID) of Intel's chipsets whose ports an EHCI controller shares: Panther
/// Point (7 series), Lynx Point and its LP (8 series), as Linux lists them (pci-quirks.c), and Wildcat Point and its
/// LP (9 series, the same registers), which Linux's list as searched here leaves out.
const INTEL_SWITCHABLE: [u32; 5] = [
    0x1e31_8086,
    0x8c31_8086,
    0x9c31_8086,
    0x8cb1_8086,
    0x9cb1_8086,
];

// Capability registers.
const HCSPARAMS1: usize = 0x04;
const HCSPARAMS2: usize = 0x08;
const HCCPARAMS1: usize = 0x10;
const DBOFF: usize = 0x14;
const RTSOFF: usize = 0x18;
/// HCCPARAMS1: contexts of 64 bytes (CSZ), port power control (PPC).
const CONTEXT_64: u32 = 1 << 2;
const PORT_POWER_CONTROL: u32 = 1 << 3;

// Operational registers, from CAPLENGTH.
const USBCMD: usize = 0x00;
const USBSTS: usize = 0x04;
const PAGESIZE: usize = 0x08;
const CRCR: usize = 0x18;
const DCBAAP: usize = 0x30;
const CONFIG: usize = 0x38;
/// The first port's PORTSC; each port's registers take 16 bytes.
const PORTSC: usize = 0x400;
const RUN: u32 = 1 << 0;
const RESET: u32 = 1 << 1;
const HALTED: u32 = 1 << 0;
const NOT_READY: u32 = 1 << 11;

// PORTSC.
const CONNECTED: u32 = 1 << 0;
const ENABLED: u32 = 1 << 1;
const PORT_RESET: u32 = 1 << 4;
const PORT_POWER: u32 = 1 << 9;
const CONNECT_CHANGE: u32 = 1 << 17;
const RESET_CHANGE: u32 = 1 << 21;
/// Every change bit (connect, enable, warm reset, over-current, reset, link state, config error): written 1 to
/// clear.
const PORT_CHANGES: u32 = 0x00fe_0000;
/// The bits a write keeps as they are (Linux's `xhci_port_state_to_neutral`): the read-only and the read-write
/// ones; the others (PED, the change bits) are cleared by writing 1, and must be written 0 to be left alone.
const PORT_KEEP: u32 = 0x4e00_fde9;

// Interrupter 0's registers, from RTSOFF.
const ERSTSZ: usize = 0x28;
const ERSTBA: usize = 0x30;
const ERDP: usize = 0x38;
/// ERDP: the event handler is no longer busy (written 1 to clear).
const HANDLER_BUSY: u64 = 1 << 3;

// The USB Legacy Support capability (extended capability 1) and its control register.
const LEGACY_SUPPORT: u32 = 1;
const BIOS_OWNED: u32 = 1 << 16;
const OS_OWNED: u32 = 1 << 24;
/// USBLEGCTLSTS: the bits kept as they are (Linux's `XHCI_LEGACY_DISABLE_SMI`: the SMI enables are cleared), and
/// the SMI events cleared by writing 1.
const LEGACY_KEEP: u32 = 0x000e_1fee;
const LEGACY_EVENTS: u32 = 0xe000_0000;

// TRB types (in bits 15:10 of the control word) and their flags.
const NORMAL: u32 = 1;
const SETUP: u32 = 2;
const DATA: u32 = 3;
const STATUS: u32 = 4;
const LINK: u32 = 6;
const ENABLE_SLOT: u32 = 9;
const DISABLE_SLOT: u32 = 10;
const ADDRESS_DEVICE: u32 = 11;
const CONFIGURE_ENDPOINT: u32 = 12;
const EVALUATE_CONTEXT: u32 = 13;
const RESET_ENDPOINT: u32 = 14;
const SET_DEQUEUE: u32 = 16;
const TRANSFER_EVENT: u32 = 32;
const COMMAND_COMPLETION: u32 = 33;
const PORT_STATUS_CHANGE: u32 = 34;
const TOGGLE_CYCLE: u32 = 1 << 1;
const INTERRUPT_ON_COMPLETION: u32 = 1 << 5;
const IMMEDIATE_DATA: u32 = 1 << 6;
/// Data and status stages: the direction is IN.
const DIRECTION_IN: u32 = 1 << 16;
/// Completion codes.
const SUCCESS: u32 = 1;
const TRANSACTION_ERROR: u32 = 4;
const SHORT_PACKET: u32 = 13;

/// TRBs in each ring (16 bytes each), the last one the link back to the first.
const RING_TRBS: usize = 16;
/// TRBs in the event ring.
const EVENT_TRBS: usize = 64;
/// Device slots enabled, at most: a keyboard takes one, and so does each other device looked at.
const MOST_SLOTS: u32 = 32;

// The controller's memory (a page): the device context base address array, the event ring segment table, the
// command ring, the event ring.
const DCBAA: usize = 0x000;
const ERST: usize = 0x200;
const COMMANDS: usize = 0x400;
const EVENTS: usize = 0x800;
const CONTROLLER_MEMORY: usize = 0x1000;
// A device's memory (two pages): its output device context in the first page, its input context and the rest in
// the second (a context must not cross a page).
const OUTPUT: usize = 0x0000;
const INPUT: usize = 0x1000;
const CONTROL_RING: usize = 0x1840;
const INTERRUPT_RING: usize = 0x1940;
/// A report's buffer: 8 bytes in the boot protocol, up to [`READ_MOST`] read (a keyboard that sends more would
/// otherwise halt its endpoint with a babble).
const REPORT: usize = 0x1a40;
const READ_MOST: u16 = 64;
const LIGHTS: usize = 0x1a80;
const BUFFER: usize = 0x1c00;
const BUFFER_SIZE: usize = 0x400;
const DEVICE_MEMORY: usize = 0x2000;
/// The bytes of a ring; each ring lies within its memory, before what follows it there (a `Ring` is cut from its
/// memory by these constants).
const RING_BYTES: usize = RING_TRBS * 16;
const _: () = assert!(
    COMMANDS + RING_BYTES <= EVENTS
        && CONTROL_RING + RING_BYTES <= INTERRUPT_RING
        && INTERRUPT_RING + RING_BYTES <= REPORT
);

/// How long the firmware gets to let go of a controller (as Linux), a halt and a reset (the specification's
/// 16 ms for the halt; Linux allows 10 s for the reset and CNR, where 1 s is what controllers take at worst),
/// a command and a control transfer (Linux: 5 s).
const HAND_OFF_MS: u64 = 1000;
const HALT_MS: u64 = 20;
const RESET_MS: u64 = 1000;
const COMMAND_MS: u64 = 5000;
/// How long devices get to show their connection after the controller started (USB 2.0, 7.1.7.3: a connection is
/// debounced for 100 ms), and a port to finish its reset (Linux: 500 ms for a root port).
const CONNECT_MS: u64 = 100;
/// How long a port's power takes to become good once switched on (Linux waits at least 100 ms).
const POWER_GOOD_MS: u64 = 100;
const PORT_RESET_MS: u64 = 500;
/// Hubs in a row below a root port, at most (USB 2.0, 4.1.1: five tiers of hubs; a route string names five ports).
const HUB_TIERS: u32 = 5;

/// The controllers set up, and the key events their keyboards' reports made that the console has not taken yet.
struct State {
    controllers: Vec<Controller>,
    keys: Keys,
}

static STATE: Mutex<State> = Mutex::new(State {
    controllers: Vec::new(),
    keys: Keys::new(),
});

/// The next key event from a USB keyboard, if one is waiting; takes the events the controllers wrote meanwhile,
/// queues the reports' reads again, and sends the lock lights `lights` (a mask of `leds`' lights) to a keyboard
/// that does not show them yet. Waits only to set up a keyboard just plugged in (about 0.1 s; a hub, with its
/// ports' power and resets, up to about a second), or to reset an endpoint that failed.
pub fn next_key(lights: u8) -> Option<KeyEvent> {
    // (A line printed while the keyboards are being found must not wait for them.)
    let mut state = STATE.try_lock()?;
    let State { controllers, keys } = &mut *state;
    for controller in controllers.iter_mut() {
        // (The events `event` gives are no one's here: no command or transfer is waited for.)
        while controller.event(keys).is_some() {}
        controller.send_lights(usb::lights_report(lights));
        controller.recover(keys);
        if core::mem::take(&mut controller.changed) {
            controller.scan(keys, true);
        }
    }
    keys.pop()
}

/// Halts and resets every controller this driver set up, and wipes the key events not taken: called right before
/// the hand-off (and a reboot), after which their rings and the reports' buffers are memory of the next kernel's,
/// which resets the controller itself.
pub fn quiesce() {
    // (Not waited for: the hand-off must not hang on it.)
    if let Some(mut state) = STATE.try_lock() {
        for controller in &state.controllers {
            controller.host.stop();
        }
        // Keys typed and not taken: the queue is no heap's, which the hand-off and a reboot wipe.
        state.keys.clear();
    }
}

/// Finds the xHCI controllers, takes them over and sets up the keyboards on their root ports, saying on the
/// consoles what it found: a line per keyboard, per device that is none, and per problem.
///
/// `emulated`: whether the firmware may be emulating a PS/2 keyboard for the USB ones (a BIOS PC whose i8042, or
/// the firmware's emulation of one, answers). A controller such a firmware holds (the USB Legacy Support
/// capability says so) is then left to it: its emulation types, behind hubs too, as it did at GRUB's menu,
/// where taking the controller would end it.
pub fn probe(emulated: bool) {
    // (Held throughout: `next_key` does not wait for it.)
    let mut state = STATE.lock();
    let State { controllers, keys } = &mut *state;
    for function in pci::find(CLASS_XHCI) {
        let mut controller = match Controller::start(function, emulated) {
            Ok(controller) => controller,
            Err(why) => {
                println!("{}: {why}", Line(function, 0, 0));
                continue;
            }
        };
        controller.find_keyboards(keys);
        if controller.keyboards.is_empty() {
            println!("{}: no keyboard on its ports yet", Line(function, 0, 0));
        }
        // (Kept running without a keyboard too: one plugged in later is set up by `scan`.)
        controllers.push(controller);
    }
}

/// The start of a line about a controller (at a PCI function), or one of its root ports (numbered from 1; 0 for
/// none) and the hub ports of a route string below it (`port 5.2`: port 2 of the hub on root port 5).
struct Line(Function, u8, u32);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bootscript: xhci {}", self.0)?;
        if self.1 != 0 {
            write!(f, " port {}", self.1)?;
        }
        let mut route = self.2;
        while route != 0 {
            write!(f, ".{}", route & 0xf)?;
            route >>= 4;
        }
        Ok(())
    }
}

/// Where a device is (xHCI 1.2, 4.3.3 and 6.2.2): its root port, its route string (the hub port of each tier below
/// the root port, 4 bits each, the first in bits 3:0), and the transaction translator its low- and full-speed
/// transfers go through behind a high-speed hub, as the slot context's third word has it (that hub's slot, and the
/// port on it in bits 15:8; 0 for none).
#[derive(Clone, Copy)]
struct Place {
    root: u8,
    route: u32,
    translator: u32,
}

impl Place {
    /// The tiers of hubs between the root port and the device.
    fn tiers(self) -> u32 {
        (32 - self.route.leading_zeros()).div_ceil(4)
    }

    fn line(self, function: Function) -> Line {
        Line(function, self.root, self.route)
    }
}

/// Why a controller or a device could not be used: a fixed reason, or a step whose command or transfer failed
/// with a completion code (0: it did not complete in time).
enum Why {
    Fixed(&'static str),
    Failed(&'static str, u32),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Why::Fixed(why) => f.write_str(why),
            Why::Failed(step, 0) => write!(f, "{step}: timed out"),
            Why::Failed(step, code) => write!(f, "{step}: failed (completion code {code})"),
        }
    }
}

/// Memory that a controller reads and writes by DMA: zeroed, from the heap (below 4 GiB, identity mapped: its
/// addresses are the controller's), never freed, reached only through volatile accesses.
#[derive(Clone, Copy)]
struct Dma {
    /// Its address (a plain number: the state that holds it is shared, and this single CPU is the only one).
    base: usize,
    size: usize,
}

impl Dma {
    /// `size` bytes aligned to `align` (a power of two), or `None` when the heap has not that much.
    fn new(size: usize, align: usize) -> Option<Dma> {
        let layout = Layout::from_size_align(size, align).ok()?;
        // SAFETY: a layout of non-zero size (every caller's is); the memory is never freed (the controller keeps its
        // address until it is reset).
        let base = unsafe { alloc_zeroed(layout) };
        (!base.is_null()).then_some(Dma {
            base: base as usize,
            size,
        })
    }

    /// The controller's address of the byte at `offset`.
    fn address(self, offset: usize) -> u64 {
        self.base as u64 + offset as u64
    }

    /// The 32-bit word at `offset` (0 past the end).
    #[inline(never)]
    fn read(self, offset: usize) -> u32 {
        if offset + 4 > self.size {
            return 0;
        }
        // SAFETY: within the memory allocated (checked above), which only this driver and the controller reach.
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    /// Writes the 32-bit word at `offset` (nothing past the end).
    #[inline(never)]
    fn write(self, offset: usize, value: u32) {
        if offset + 4 <= self.size {
            // SAFETY: as in `read`.
            unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
        }
    }

    /// The `length` bytes at `offset` (within the memory), once the controller is done writing them.
    fn bytes(&self, offset: usize, length: usize) -> &[u8] {
        compiler_fence(Ordering::SeqCst);
        let length = length.min(self.size.saturating_sub(offset));
        // SAFETY: within the memory allocated (`length` is cut to it), which nothing writes while the slice lives
        // (the caller's transfer has ended).
        unsafe { core::slice::from_raw_parts((self.base + offset) as *const u8, length) }
    }

    /// Writes a 64-bit address at `offset`, as two words.
    fn write_address(self, offset: usize, address: u64) {
        self.write(offset, address as u32);
        self.write(offset + 4, (address >> 32) as u32);
    }
}

/// A ring of TRBs the driver produces (commands, or a transfer ring), ending in a link TRB back to its start.
struct Ring {
    /// The ring's memory, from its first TRB.
    memory: Dma,
    /// The TRB to write next, and the cycle bit that makes it valid.
    enqueue: usize,
    cycle: u32,
}

impl Ring {
    /// The ring at `offset` in `memory`: [`COMMANDS`] in a controller's, [`CONTROL_RING`] or [`INTERRUPT_RING`] in
    /// a device's.
    fn new(memory: Dma, offset: usize) -> Ring {
        // (Within `memory`: `offset` is one of the layout's rings, checked with `RING_BYTES`.)
        let memory = Dma {
            base: memory.base + offset,
            size: RING_BYTES,
        };
        let link = (RING_TRBS - 1) * 16;
        memory.write_address(link, memory.address(0));
        memory.write(link + 12, LINK << 10 | TOGGLE_CYCLE);
        Ring {
            memory,
            enqueue: 0,
            cycle: 1,
        }
    }

    /// The ring's dequeue pointer for a context: where the next TRB goes, with its cycle bit.
    fn dequeue_pointer(&self) -> u64 {
        self.memory.address(self.enqueue * 16) | u64::from(self.cycle)
    }

    /// Writes `trb` (its control word without the cycle bit) as the next TRB, and gives its address. The control
    /// word, which makes it valid, goes last.
    #[inline(never)]
    fn push(&mut self, trb: [u32; 4]) -> u64 {
        let at = self.enqueue * 16;
        for (i, &word) in trb[..3].iter().enumerate() {
            self.memory.write(at + 4 * i, word);
        }
        compiler_fence(Ordering::SeqCst);
        self.memory.write(at + 12, trb[3] | self.cycle);
        self.enqueue += 1;
        if self.enqueue == RING_TRBS - 1 {
            // The link TRB becomes valid with this pass's cycle bit, and turns the cycle over.
            let link = self.enqueue * 16;
            self.memory
                .write(link + 12, LINK << 10 | TOGGLE_CYCLE | self.cycle);
            self.cycle ^= 1;
            self.enqueue = 0;
        }
        self.memory.address(at)
    }
}

/// A controller's registers: where its register blocks lie in its BAR, and what to put back.
struct Host {
    function: Function,
    registers: Registers,
    /// The operational registers' offset (CAPLENGTH), the runtime registers' and the doorbells'.
    operational: usize,
    runtime: usize,
    doorbells: usize,
    /// The PCI command register as the firmware left it.
    command: u32,
}

impl Host {
    fn read(&self, offset: usize) -> u32 {
        self.registers.read(self.operational + offset)
    }

    fn write(&self, offset: usize, value: u32) {
        self.registers.write(self.operational + offset, value)
    }

    /// Waits up to `ms` until the operational register at `offset` has a bit of `set` set or one of `clear` clear.
    fn wait(&self, offset: usize, ms: u64, set: u32, clear: u32) -> bool {
        wait_bits(self.registers, self.operational + offset, ms, set, clear)
    }

    /// Halts the controller (R/S cleared, HCHalted waited for) and resets it (HCRST, then CNR, waited for), as
    /// Linux's `xhci_halt` and `xhci_reset` do: whether it reset.
    fn reset(&self) -> bool {
        self.write(USBCMD, self.read(USBCMD) & !RUN);
        self.wait(USBSTS, HALT_MS, HALTED, 0);
        self.write(USBCMD, RESET);
        // (Some Intel controllers hang when their registers are read within 1 ms of the reset: Linux waits.)
        clock::sleep_ms(1);
        self.wait(USBCMD, RESET_MS, 0, RESET) && self.wait(USBSTS, RESET_MS, 0, NOT_READY)
    }

    /// Resets the controller and puts its PCI command register back as the firmware left it; one that does not
    /// reset loses bus mastering too, which stops its DMA.
    fn stop(&self) {
        let keep = match self.reset() {
            true => !0,
            false => !PCI_BUS_MASTER,
        };
        self.function.write(0x04, self.command & 0xffff & keep);
    }

    fn ring(&self, slot: u8, target: u32) {
        self.registers
            .write(self.doorbells + 4 * usize::from(slot), target);
    }
}

/// A keyboard set up: its slot, its interrupt IN endpoint (as a device context index), its memory and rings. (A
/// hub's control transfers go through one too, while its ports are looked at.)
struct Keyboard {
    slot: u8,
    /// The root port it is on (or the hubs it is behind).
    port: u8,
    endpoint: u32,
    interface: u8,
    /// The bytes each read asks for: the endpoint's largest packet, within 8 to [`READ_MOST`].
    read: u16,
    memory: Dma,
    control: Ring,
    interrupt: Ring,
    /// The last report taken, whose keys are held.
    previous: [u8; REPORT_SIZE],
    /// The lights the keyboard was last sent (0xff: none yet), and whether that SET_REPORT is still under way.
    lights: u8,
    sending: bool,
    /// A read of a report failed, which halted the endpoint: it is to be reset.
    halted: bool,
}

impl Keyboard {
    /// Queues the read of the next report.
    fn queue_read(&mut self, host: &Host) {
        let address = self.memory.address(REPORT);
        self.interrupt.push([
            address as u32,
            (address >> 32) as u32,
            u32::from(self.read),
            NORMAL << 10 | INTERRUPT_ON_COMPLETION,
        ]);
        host.ring(self.slot, self.endpoint);
    }
}

/// A hub port's status (wPortStatus, and wPortChange above it): connected; and the reset ended (C_PORT_RESET) with
/// the port enabled.
const HUB_CONNECTED: u32 = 1 << 0;
const HUB_RESET_ENDED: u32 = 1 << 20 | 1 << 1;

/// The offset of a root port's PORTSC (ports numbered from 1).
fn portsc(port: u8) -> usize {
    PORTSC + 16 * usize::from(port - 1)
}

/// A control transfer's setup packet (USB 2.0, 9.3): request type, request, value, index, length.
fn setup(kind: u8, request: u8, value: u16, index: u16, length: u16) -> [u32; 2] {
    [
        u32::from(kind) | u32::from(request) << 8 | u32::from(value) << 16,
        u32::from(index) | u32::from(length) << 16,
    ]
}

/// Queues a control transfer on endpoint 0 of `slot`: `setup`, a data stage of `length` bytes at `buffer` (IN
/// when the request type says so) unless `length` is 0, the status stage. Gives the status stage's address.
fn queue_control(host: &Host, slot: u8, ring: &mut Ring, setup: [u32; 2], buffer: u64) -> u64 {
    let length = setup[1] >> 16;
    let into_host = setup[0] & 0x80 != 0;
    // Transfer type: no data (0), OUT (2), IN (3).
    let transfer = match (length, into_host) {
        (0, _) => 0,
        (_, false) => 2,
        (_, true) => 3,
    };
    ring.push([
        setup[0],
        setup[1],
        8,
        SETUP << 10 | IMMEDIATE_DATA | transfer << 16,
    ]);
    let direction = if into_host { DIRECTION_IN } else { 0 };
    if length != 0 {
        ring.push([
            buffer as u32,
            (buffer >> 32) as u32,
            length,
            DATA << 10 | direction,
        ]);
    }
    // The status stage goes the other way from the data (IN when there was none).
    let status_in = if length != 0 && into_host {
        0
    } else {
        DIRECTION_IN
    };
    let status = ring.push([0, 0, 0, STATUS << 10 | INTERRUPT_ON_COMPLETION | status_in]);
    host.ring(slot, 1);
    status
}

/// An event TRB's type, completion code, slot and endpoint (device context index).
fn kind(event: &[u32; 4]) -> u32 {
    event[3] >> 10 & 0x3f
}

fn code(event: &[u32; 4]) -> u32 {
    event[2] >> 24
}

fn slot(event: &[u32; 4]) -> u8 {
    (event[3] >> 24) as u8
}

fn endpoint(event: &[u32; 4]) -> u32 {
    event[3] >> 16 & 0x1f
}

/// The TRB an event is about (a command's, or a transfer's).
fn pointer(event: &[u32; 4]) -> u64 {
    u64::from(event[1]) << 32 | u64::from(event[0])
}

/// A controller set up and running.
struct Controller {
    host: Host,
    /// Bytes per context: 32, or 64 (HCCPARAMS1.CSZ).
    context: usize,
    ports: u8,
    slots: u8,
    memory: Dma,
    commands: Ring,
    /// The event ring's next TRB and the cycle bit a new event has.
    dequeue: usize,
    cycle: u32,
    keyboards: Vec<Keyboard>,
    /// The hubs set up: the root port each is on (or behind), and its slot.
    hubs: Vec<(u8, u8)>,
    /// A port's status changed (a device plugged in or out, say) since the ports were last looked at.
    changed: bool,
}

impl Controller {
    /// Takes the controller at `function` from the firmware and starts it (xHCI 1.2, 4.2): its registers mapped,
    /// memory decoding and bus mastering on, the firmware's hold on it ended, the controller halted and reset,
    /// its slots, device context array (and scratchpad buffers), command ring and event ring set, then run.
    fn start(function: Function, emulated: bool) -> Result<Controller, Why> {
        let base = function
            .memory_bar()
            .ok_or(Why::Fixed("its registers are not in memory"))?;
        // (A UEFI firmware may put a 64-bit BAR above 4 GiB, past the boot stub's map: mapped there. 64 KiB holds
        // the registers of every controller seen; a 2 MiB page is mapped in any case.)
        if !paging::map_above_4g(base, 0x10000) {
            return Err(Why::Fixed(
                "its registers lie out of reach (unassigned, or past what can be mapped)",
            ));
        }
        let command = function.read(0x04);
        function.write(0x04, command & 0xffff | PCI_ENABLE);
        // SAFETY: BAR0 of an xHCI controller (its class checked), with memory decoding on, its first 64 KiB
        // identity mapped and uncached (above); the driver reads and writes only xHCI registers there, at the
        // offsets its capability registers give, checked to lie within those 64 KiB.
        let registers = unsafe { Registers::new(base as usize) };
        let give_up = |why| {
            function.write(0x04, command & 0xffff);
            Err(Why::Fixed(why))
        };
        let capabilities = registers.read(0);
        let (parameters, runtime) = (registers.read(HCCPARAMS1), registers.read(RTSOFF) & !0x1f);
        let doorbells = registers.read(DBOFF) & !3;
        let ports = (registers.read(HCSPARAMS1) >> 24) as u8;
        let operational = (capabilities & 0xff) as usize;
        if capabilities == u32::MAX
            || operational < 0x20
            || runtime.max(doorbells) > 0xf000
            || operational + PORTSC + 16 * usize::from(ports) > 0x10000
        {
            return give_up("it does not answer (its registers read all ones or make no sense)");
        }
        if !take_from_firmware(registers, parameters, function, emulated) {
            return give_up(
                "left to the firmware, whose USB keyboard emulation types on the PS/2 port",
            );
        }
        // Intel's 7 to 9 series chipsets (Panther, Lynx and Wildcat Point) route their USB 2 ports (and turn their
        // USB 3 ones off) for an EHCI controller until told otherwise: every port that can go to the xHCI
        // controller is sent there, as Linux's `usb_enable_intel_xhci_ports` does (XUSB2PR from its mask USB2PRM,
        // USB3_PSSEN from USB3PRM).
        if INTEL_SWITCHABLE.contains(&function.read(0)) {
            function.write(0xd8, function.read(0xdc));
            function.write(0xd0, function.read(0xd4));
        }
        let host = Host {
            function,
            registers,
            operational,
            runtime: runtime as usize,
            doorbells: doorbells as usize,
            command,
        };
        // (A controller that is not ready yet after the power came on: CNR, before the reset.)
        host.wait(USBSTS, RESET_MS, 0, NOT_READY);
        if !host.reset() {
            host.stop();
            return Err(Why::Fixed("it did not reset"));
        }
        let Some(memory) = Dma::new(CONTROLLER_MEMORY, 4096) else {
            return give_up("no memory for its rings");
        };
        let slots = (registers.read(HCSPARAMS1) & 0xff).min(MOST_SLOTS);
        host.write(CONFIG, slots);
        // Scratchpad buffers, of the controller's page size, if it asks for some (HCSPARAMS2: their number's high
        // bits 25:21, low bits 31:27); their array's address is entry 0 of the device context base address array.
        let wanted = registers.read(HCSPARAMS2);
        let scratchpads = (wanted >> 27 | (wanted >> 21 & 0x1f) << 5) as usize;
        if scratchpads > 0 {
            let page = 4096 << (host.read(PAGESIZE) & 0xffff).trailing_zeros().min(4);
            let (Some(array), Some(buffers)) = (
                Dma::new(scratchpads * 8, page),
                Dma::new(scratchpads * page, page),
            ) else {
                return give_up("no memory for its scratchpad buffers");
            };
            for i in 0..scratchpads {
                array.write_address(8 * i, buffers.address(i * page));
            }
            memory.write_address(DCBAA, array.address(0));
        }
        host.registers
            .write_address(host.operational + DCBAAP, memory.address(DCBAA));
        let commands = Ring::new(memory, COMMANDS);
        host.registers
            .write_address(host.operational + CRCR, commands.dequeue_pointer());
        // One event ring segment; interrupter 0's registers in the order the specification asks (4.9.4): the table's
        // size, the dequeue pointer, then the table's address, which starts the ring.
        memory.write_address(ERST, memory.address(EVENTS));
        memory.write(ERST + 8, EVENT_TRBS as u32);
        host.registers.write(host.runtime + ERSTSZ, 1);
        host.registers
            .write_address(host.runtime + ERDP, memory.address(EVENTS));
        host.registers
            .write_address(host.runtime + ERSTBA, memory.address(ERST));
        host.write(USBCMD, RUN);
        if !host.wait(USBSTS, HALT_MS, 0, HALTED) {
            host.stop();
            return Err(Why::Fixed("it did not start"));
        }
        Ok(Controller {
            host,
            context: if parameters & CONTEXT_64 != 0 { 64 } else { 32 },
            ports,
            slots: slots as u8,
            memory,
            commands,
            dequeue: 0,
            cycle: 1,
            keyboards: Vec::new(),
            hubs: Vec::new(),
            changed: false,
        })
    }

    /// The next event the controller wrote, if any, once keyboard reports and the answers to lights sent are
    /// dealt with (those are not given).
    fn event(&mut self, keys: &mut Keys) -> Option<[u32; 4]> {
        loop {
            let at = EVENTS + self.dequeue * 16;
            let control = self.memory.read(at + 12);
            if control & 1 != self.cycle {
                return None;
            }
            compiler_fence(Ordering::SeqCst);
            let read = |i: usize| self.memory.read(at + 4 * i);
            let event = [read(0), read(1), read(2), control];
            self.dequeue += 1;
            if self.dequeue == EVENT_TRBS {
                self.dequeue = 0;
                self.cycle ^= 1;
            }
            let next = self.memory.address(EVENTS + self.dequeue * 16);
            self.host
                .registers
                .write_address(self.host.runtime + ERDP, next | HANDLER_BUSY);
            if kind(&event) == PORT_STATUS_CHANGE {
                self.changed = true;
                continue;
            }
            let keyboard = self
                .keyboards
                .iter_mut()
                .find(|k| kind(&event) == TRANSFER_EVENT && k.slot == slot(&event));
            match keyboard {
                Some(keyboard) if endpoint(&event) == keyboard.endpoint => {
                    if let SUCCESS | SHORT_PACKET = code(&event) {
                        let read = keyboard.memory.bytes(REPORT, REPORT_SIZE).try_into();
                        if let Ok(report) = read {
                            if keys.report(&keyboard.previous, &report) {
                                keyboard.previous = report;
                            }
                        }
                        keyboard.queue_read(&self.host);
                    } else {
                        // An error (a transaction's, a babble) halted the endpoint: `recover` resets it.
                        keyboard.halted = true;
                    }
                }
                // The answer to the lights sent.
                Some(keyboard) if endpoint(&event) == 1 => keyboard.sending = false,
                _ => return Some(event),
            }
        }
    }

    /// Waits up to 5 s (a command's or a control transfer's time) for the event whose control word has the bits
    /// `want` where `mask` is set (its type; a transfer's slot and endpoint) and, unless `trb` is 0, that is about
    /// the TRB at `trb`; deals with the others meanwhile. All zeros (completion code 0) when none came in time.
    #[inline(never)]
    fn wait(&mut self, keys: &mut Keys, mask: u32, want: u32, trb: u64) -> [u32; 4] {
        let start = clock::time_ms();
        loop {
            let late = clock::time_ms().saturating_sub(start) > COMMAND_MS;
            match self.event(keys) {
                Some(e) if e[3] & mask == want && (trb == 0 || pointer(&e) == trb) => return e,
                Some(_) => {}
                None if late => return [0; 4],
                None => core::hint::spin_loop(),
            }
        }
    }

    /// Runs a command and waits for its completion: the slot it names.
    fn command(&mut self, keys: &mut Keys, step: &'static str, trb: [u32; 4]) -> Result<u8, Why> {
        let address = self.commands.push(trb);
        self.host.ring(0, 0);
        let event = self.wait(keys, 0x3f << 10, COMMAND_COMPLETION << 10, address);
        match code(&event) {
            SUCCESS => Ok(slot(&event)),
            code => Err(Why::Failed(step, code)),
        }
    }

    /// Runs a control transfer on endpoint 0 of the device in `slot` and waits for it to end; the data stage (if
    /// any) moves through the device's buffer. After a stall, the endpoint is reset for the next transfer.
    fn control(
        &mut self,
        keys: &mut Keys,
        device: &mut Keyboard,
        step: &'static str,
        setup: [u32; 2],
    ) -> Result<(), Why> {
        let buffer = device.memory.address(BUFFER);
        let status = queue_control(&self.host, device.slot, &mut device.control, setup, buffer);
        let on = device.slot;
        // A transfer event (type, bits 15:10) of endpoint 0 (device context index 1, bits 20:16) of the slot.
        let want = u32::from(on) << 24 | 1 << 16 | TRANSFER_EVENT << 10;
        let event = self.wait(keys, 0xff1f_fc00, want, 0);
        if code(&event) == SUCCESS && pointer(&event) == status {
            return Ok(());
        }
        let _ = self.reset_endpoint(keys, on, 1, device.control.dequeue_pointer());
        Err(Why::Failed(step, code(&event)))
    }

    /// Resets endpoint `endpoint` (a device context index) of `slot` after an error halted it, and moves its
    /// dequeue pointer to `pointer`, past what was queued (xHCI 1.2, 4.6.8 and 4.6.10).
    fn reset_endpoint(
        &mut self,
        keys: &mut Keys,
        slot: u8,
        endpoint: u32,
        pointer: u64,
    ) -> Result<u8, Why> {
        let target = u32::from(slot) << 24 | endpoint << 16;
        self.command(keys, "", [0, 0, 0, RESET_ENDPOINT << 10 | target])?;
        let trb = [
            pointer as u32,
            (pointer >> 32) as u32,
            0,
            SET_DEQUEUE << 10 | target,
        ];
        self.command(keys, "", trb)
    }

    /// Resets the endpoint of each keyboard whose read failed, on the controller's side and the device's, and
    /// queues the read again; one that no longer answers is let go of.
    fn recover(&mut self, keys: &mut Keys) {
        let mut i = 0;
        while i < self.keyboards.len() {
            let keyboard = &mut self.keyboards[i];
            // (A SET_REPORT under way would take the place of CLEAR_FEATURE's answer: recovered once it ended.)
            if keyboard.sending || !core::mem::take(&mut keyboard.halted) {
                i += 1;
                continue;
            }
            let (slot, endpoint) = (keyboard.slot, keyboard.endpoint);
            let pointer = keyboard.interrupt.dequeue_pointer();
            // (Failing where the error did not halt the endpoint: the read is queued again all the same.)
            let _ = self.reset_endpoint(keys, slot, endpoint, pointer);
            // The device's side too (xHCI 1.2, 4.6.8): CLEAR_FEATURE(ENDPOINT_HALT) to its endpoint (USB 2.0,
            // 9.4.1), which ends a stall and starts its data toggle again, as the controller's reset did.
            let mut keyboard = self.keyboards.remove(i);
            let address = 0x80 | ((endpoint as u16 - 1) / 2);
            let cleared = self.control(keys, &mut keyboard, "", setup(0x02, 0x01, 0, address, 0));
            // A keyboard that does not answer on its control endpoint either is gone: unplugged behind a hub, which
            // tells of it only on its interrupt endpoint (not read). Let go of, rather than failing at every poll.
            if let Err(Why::Failed(_, 0 | TRANSACTION_ERROR)) = cleared {
                keys.report(&keyboard.previous, &[0; REPORT_SIZE]);
                self.disable_slot(keys, slot);
                continue;
            }
            keyboard.queue_read(&self.host);
            self.keyboards.insert(i, keyboard);
            i += 1;
        }
    }

    /// Sends `report` as the lock lights of every keyboard that does not show them, and has no SET_REPORT under
    /// way (the answer is taken by [`Controller::event`]).
    fn send_lights(&mut self, report: u8) {
        for keyboard in &mut self.keyboards {
            if keyboard.lights != report && !keyboard.sending {
                keyboard.lights = report;
                keyboard.sending = true;
                keyboard.memory.write(LIGHTS, u32::from(report));
                // SET_REPORT (HID 1.11, 7.2.2): an output report (type 2), ID 0, one byte.
                let request = setup(0x21, 0x09, 0x0200, u16::from(keyboard.interface), 1);
                let buffer = keyboard.memory.address(LIGHTS);
                queue_control(
                    &self.host,
                    keyboard.slot,
                    &mut keyboard.control,
                    request,
                    buffer,
                );
            }
        }
    }

    /// Powers the root ports (where the controller switches their power), gives the devices time to show up, and
    /// sets up a keyboard on each port with one; says what it found on the others.
    #[inline(never)]
    fn find_keyboards(&mut self, keys: &mut Keys) {
        if self.host.registers.read(HCCPARAMS1) & PORT_POWER_CONTROL != 0 {
            let mut powered = false;
            for port in 1..=self.ports {
                let status = self.host.read(portsc(port));
                if status & PORT_POWER == 0 {
                    self.host
                        .write(portsc(port), status & PORT_KEEP | PORT_POWER);
                    powered = true;
                }
            }
            if powered {
                clock::sleep_ms(POWER_GOOD_MS);
            }
        }
        clock::sleep_ms(CONNECT_MS);
        self.scan(keys, false);
    }

    /// Looks at the ports (`changed`: only those whose connection changed since): a keyboard or hub unplugged is
    /// let go of (with what was behind the hub), and a device plugged in is set up if it is a keyboard or a hub.
    /// What it found on each port is said unless `changed` (that scan runs while the console waits for a key).
    #[inline(never)]
    fn scan(&mut self, keys: &mut Keys, changed: bool) {
        for port in 1..=self.ports {
            let at = portsc(port);
            let status = self.host.read(at);
            if status == u32::MAX {
                // The controller is gone.
                return;
            }
            // (The changes are taken note of, every one, those of a port skipped too: the controller reports a
            // port's change only when none of its change bits was set before (xHCI 1.2, 4.19.2), so one left set (a
            // USB 3 link's state, say) would hide a later plug or unplug.)
            self.host.write(at, status & (PORT_KEEP | PORT_CHANGES));
            if changed && status & CONNECT_CHANGE == 0 {
                continue;
            }
            while let Some(i) = self.keyboards.iter().position(|k| k.port == port) {
                let gone = self.keyboards.swap_remove(i);
                // The keys it held are let go of (a Shift held as it was unplugged would shift on).
                keys.report(&gone.previous, &[0; REPORT_SIZE]);
                self.disable_slot(keys, gone.slot);
            }
            while let Some(i) = self.hubs.iter().position(|h| h.0 == port) {
                let (_, slot) = self.hubs.swap_remove(i);
                self.disable_slot(keys, slot);
            }
            if status & CONNECTED == 0 {
                continue;
            }
            if changed {
                // (The connection settles first: USB 2.0, 7.1.7.3.)
                clock::sleep_ms(CONNECT_MS);
            }
            let speed = self.reset_root_port(at);
            let place = Place {
                root: port,
                route: 0,
                translator: 0,
            };
            let found = self.device(keys, place, speed, !changed);
            // A command or transfer the controller did not end in time: it is given up on, rather than waited for
            // on every port.
            if let Err(Why::Failed(_, 0)) = found {
                return;
            }
        }
    }

    /// Disables a device's slot: the controller lets go of its contexts and rings.
    fn disable_slot(&mut self, keys: &mut Keys, slot: u8) {
        let _ = self.command(
            keys,
            "",
            [0, 0, 0, DISABLE_SLOT << 10 | u32::from(slot) << 24],
        );
    }

    /// Resets the device on the root port whose PORTSC is at `portsc`: its speed.
    fn reset_root_port(&self, portsc: usize) -> Result<u8, Why> {
        let host = &self.host;
        let mut status = host.read(portsc);
        // A USB 3 port enables itself; a USB 2 one is enabled by a reset (USB 2.0, 11.5.1.5: 10 ms to recover).
        if status & ENABLED == 0 {
            host.write(portsc, status & PORT_KEEP | PORT_RESET);
            host.wait(portsc, PORT_RESET_MS, RESET_CHANGE, CONNECTED);
            host.write(portsc, host.read(portsc) & PORT_KEEP | RESET_CHANGE);
            clock::sleep_ms(10);
            status = host.read(portsc);
            if status & ENABLED == 0 {
                return Err(Why::Fixed("its device did not come up after a reset"));
            }
        }
        let speed = (status >> 10 & 0xf) as u8;
        if !(1..=5).contains(&speed) {
            return Err(Why::Fixed(
                "its device has a speed of its own (not USB 1 to 3)",
            ));
        }
        Ok(speed)
    }

    /// Sets up the device at `place` whose port, reset, gave its `speed` (or why not): gives it a slot and an
    /// address, and configures it if it is a boot keyboard or a hub (xHCI 1.2, 4.3). A keyboard is kept (its first
    /// report's read queued), a hub's ports are looked at; or why not is given (another kind of device among the
    /// reasons; its slot is disabled again), and said if `say`.
    #[inline(never)]
    fn device(
        &mut self,
        keys: &mut Keys,
        place: Place,
        speed: Result<u8, Why>,
        say: bool,
    ) -> Result<(), Why> {
        let found = speed.and_then(|speed| {
            let slot = self.command(keys, "enabling a slot", [0, 0, 0, ENABLE_SLOT << 10])?;
            if slot == 0 || slot > self.slots {
                return Err(Why::Fixed("the controller gave a slot it does not have"));
            }
            let set_up = self.set_up(keys, place, speed, slot, say);
            if set_up.is_err() {
                self.disable_slot(keys, slot);
            }
            set_up
        });
        if let (true, Err(why)) = (say, &found) {
            println!("{}: {why}", place.line(self.host.function));
        }
        found
    }

    /// Gives the device at `speed` at `place`, in `slot`, an address, and configures and keeps it if it is a boot
    /// keyboard, or configures it and looks at its ports if it is a hub (saying what it found if `say`).
    fn set_up(
        &mut self,
        keys: &mut Keys,
        place: Place,
        speed: u8,
        slot: u8,
        say: bool,
    ) -> Result<(), Why> {
        let Some(memory) = Dma::new(DEVICE_MEMORY, 4096) else {
            return Err(Why::Fixed("no memory for the device"));
        };
        self.memory
            .write_address(DCBAA + 8 * usize::from(slot), memory.address(OUTPUT));
        let mut device = Keyboard {
            slot,
            port: place.root,
            endpoint: 0,
            interface: 0,
            read: 8,
            memory,
            control: Ring::new(memory, CONTROL_RING),
            interrupt: Ring::new(memory, INTERRUPT_RING),
            previous: [0; REPORT_SIZE],
            lights: 0xff,
            sending: false,
            halted: false,
        };
        let context = self.context;
        // Writes the first words of context `index` of the input context (0 the input control context: its drop and
        // add flags; 1 the slot's; 2 endpoint 0's; ...). Each command's contexts are written whole, those it does not
        // flag are not looked at: nothing needs clearing between commands.
        let input = |index: usize, words: &[u32]| {
            for (i, &word) in words.iter().enumerate() {
                memory.write(INPUT + index * context + 4 * i, word);
            }
        };
        // The slot: its route string, speed, one context entry or `entries`, its root port, the transaction
        // translator of a low- or full-speed device; and the bits of `hub` (a hub's flag, ports and think time).
        let slow = matches!(speed, usb::FULL_SPEED | usb::LOW_SPEED);
        let translator = if slow { place.translator } else { 0 };
        let slot_context = |entries: u32, hub: [u32; 3]| {
            input(
                1,
                &[
                    place.route | u32::from(speed) << 20 | entries << 27 | hub[0],
                    u32::from(place.root) << 16 | hub[1],
                    translator | hub[2],
                ],
            );
        };
        // An endpoint: its interval (0 for endpoint 0), its type, 3 errors allowed, its largest packet, its ring
        // (the cycle bit in the dequeue pointer), the average TRB's length and the most it moves per interval.
        let endpoint =
            |index: usize, interval: u8, kind: u32, max_packet: u32, ring: u64, average: u32| {
                input(
                    index,
                    &[
                        u32::from(interval) << 16,
                        3 << 1 | kind << 3 | max_packet << 16,
                        ring as u32,
                        (ring >> 32) as u32,
                        average,
                    ],
                );
            };
        // Endpoint 0: a control endpoint (type 4).
        let ring = device.control.dequeue_pointer();
        let endpoint_0 = |max_packet: u32| endpoint(2, 0, 4, max_packet, ring, 8);
        let mut max_packet = u32::from(usb::first_max_packet(speed));
        input(0, &[0, 0b11]);
        slot_context(1, [0; 3]);
        endpoint_0(max_packet);
        let trb = |kind: u32| {
            let address = memory.address(INPUT);
            [
                address as u32,
                (address >> 32) as u32,
                0,
                kind << 10 | u32::from(slot) << 24,
            ]
        };
        self.command(keys, "addressing the device", trb(ADDRESS_DEVICE))?;
        // (A device may take 2 ms to answer at its new address: USB 2.0, 9.2.6.3.)
        clock::sleep_ms(2);
        // The device descriptor's first 8 bytes: its class, and endpoint 0's largest packet (USB 2.0, 9.6.1).
        self.control(
            keys,
            &mut device,
            "reading its device descriptor",
            setup(0x80, 6, 0x0100, 0, 8),
        )?;
        // (bDeviceClass, byte 4; bMaxPacketSize0, byte 7.)
        let class = memory.read(BUFFER + 4) as u8;
        let said = memory.read(BUFFER + 4) >> 24;
        if slow && said != max_packet && matches!(said, 8 | 16 | 32 | 64) {
            max_packet = said;
            input(0, &[0, 0b10]);
            endpoint_0(max_packet);
            self.command(
                keys,
                "setting endpoint 0's packet size",
                trb(EVALUATE_CONTEXT),
            )?;
        }
        // The first configuration: its first 9 bytes for its length, then all of it (as much as the buffer holds).
        self.control(
            keys,
            &mut device,
            "reading its configuration",
            setup(0x80, 6, 0x0200, 0, 9),
        )?;
        let total = (memory.read(BUFFER) >> 16).min(BUFFER_SIZE as u32) as u16;
        self.control(
            keys,
            &mut device,
            "reading its configuration",
            setup(0x80, 6, 0x0200, 0, total),
        )?;
        let configuring = "configuring it";
        if class == 9 {
            // A hub (USB 2.0, 11.24): configured (bConfigurationValue, byte 5), its hub descriptor read, its slot
            // made a hub's (xHCI 1.2, 6.2.2: Hub, Number of Ports, and at high speed the TT Think Time; one TT).
            if place.tiers() >= HUB_TIERS {
                return Err(Why::Fixed("a hub past the fifth tier (not looked into)"));
            }
            // (A USB 3 hub's SuperSpeed half has a hub descriptor of its own, and no keyboards: its USB 2 half,
            // on a USB 2 port, is the one looked into.)
            if speed > usb::HIGH_SPEED {
                return Err(Why::Fixed("a USB 3 hub (its USB 2 half is looked into)"));
            }
            let value = memory.read(BUFFER + 4) >> 8 & 0xff;
            self.control(
                keys,
                &mut device,
                configuring,
                setup(0, 9, value as u16, 0, 0),
            )?;
            memory.write(BUFFER, 0);
            let step = "reading its hub descriptor";
            self.control(keys, &mut device, step, setup(0xa0, 6, 0x2900, 0, 8))?;
            let Some(hub) = usb::hub_descriptor(memory.bytes(BUFFER, 8)) else {
                return Err(Why::Fixed("a hub whose hub descriptor makes no sense"));
            };
            let think_time = match speed {
                usb::HIGH_SPEED => u32::from(hub.think_time) << 16,
                _ => 0,
            };
            input(0, &[0, 1]);
            slot_context(1, [1 << 26, u32::from(hub.ports) << 24, think_time]);
            self.command(keys, configuring, trb(CONFIGURE_ENDPOINT))?;
            self.hubs.push((place.root, slot));
            if say {
                let line = place.line(self.host.function);
                println!("{line}: a hub of {} ports", hub.ports);
            }
            self.hub_ports(keys, &mut device, place, speed, hub, say);
            return Ok(());
        }
        let Some(found) = usb::boot_keyboard(memory.bytes(BUFFER, usize::from(total))) else {
            return Err(Why::Fixed("no keyboard"));
        };
        // The interrupt IN endpoint (device context index 2n + 1): type 7, 3 errors allowed, its interval; then the
        // configuration chosen (in this order: xHCI 1.2, 4.3.5).
        let dci = 2 * u32::from(found.endpoint & 0xf) + 1;
        let ring = device.interrupt.dequeue_pointer();
        let max_packet = u32::from(found.max_packet);
        input(0, &[0, 1 | 1 << dci]);
        slot_context(dci, [0; 3]);
        let interval = usb::endpoint_interval(speed, found.interval);
        let average = REPORT_SIZE as u32 | max_packet << 16;
        endpoint(dci as usize + 1, interval, 7, max_packet, ring, average);
        self.command(keys, "configuring its endpoint", trb(CONFIGURE_ENDPOINT))?;
        let configuration = u16::from(found.configuration);
        self.control(
            keys,
            &mut device,
            configuring,
            setup(0, 9, configuration, 0, 0),
        )?;
        // The boot protocol (HID 1.11, 7.2.6), and reports only when a key changes (SET_IDLE 0, 7.2.4: some
        // keyboards refuse it, and send reports as they like, which are taken all the same).
        let interface = u16::from(found.interface);
        device.interface = found.interface;
        let step = "choosing the boot protocol";
        self.control(keys, &mut device, step, setup(0x21, 0x0b, 0, interface, 0))?;
        let _ = self.control(keys, &mut device, "", setup(0x21, 0x0a, 0, interface, 0));
        device.endpoint = dci;
        device.read = found.max_packet.clamp(REPORT_SIZE as u16, READ_MOST);
        device.queue_read(&self.host);
        self.keyboards.push(device);
        if say {
            // (The speed, 1 to 5, checked by the port's reset.)
            let speeds = ["full", "low", "high", "super", "super+"];
            let speed = speeds
                .get(usize::from(speed).wrapping_sub(1))
                .unwrap_or(&"");
            println!(
                "{}: keyboard ({speed} speed)",
                place.line(self.host.function)
            );
        }
        Ok(())
    }

    /// Powers the ports of the hub `device` at `place` (USB 2.0, 11.24.2), waits for their power to be good and
    /// their devices to connect, and resets each port with a device and sets the device up as one on a root port
    /// (a hub in turn, down to [`HUB_TIERS`]). A port whose status cannot be read ends the look.
    #[inline(never)]
    fn hub_ports(
        &mut self,
        keys: &mut Keys,
        device: &mut Keyboard,
        place: Place,
        speed: u8,
        hub: usb::Hub,
        say: bool,
    ) {
        for port in 1..=u16::from(hub.ports) {
            // SET_FEATURE(PORT_POWER); a hub that does not answer in time is not asked again for each port.
            let step = "powering the hub's ports";
            if let Err(why @ Why::Failed(_, 0)) =
                self.control(keys, device, step, setup(0x23, 3, 8, port, 0))
            {
                if say {
                    println!("{}: {why}", place.line(self.host.function));
                }
                return;
            }
        }
        clock::sleep_ms(u64::from(hub.power_good_ms) + CONNECT_MS);
        for port in 1..=hub.ports {
            let child = Place {
                root: place.root,
                route: place.route | u32::from(port) << (4 * place.tiers()),
                // Behind a high-speed hub, its TT serves the low- and full-speed devices below that port.
                translator: match speed {
                    usb::HIGH_SPEED => u32::from(device.slot) | u32::from(port) << 8,
                    _ => place.translator,
                },
            };
            let found = match self.hub_port_status(keys, device, port) {
                Ok(status) if status & HUB_CONNECTED == 0 => continue,
                Ok(_) => {
                    let speed = self.reset_hub_port(keys, device, port);
                    self.device(keys, child, speed, say)
                }
                Err(why) => self.device(keys, child, Err(why), say),
            };
            // (A hub or device that does not answer in time is given up on, rather than waited for on every port.)
            if let Err(Why::Failed(_, 0)) = found {
                return;
            }
        }
    }

    /// The status of port `port` of the hub `device` (GET_STATUS, USB 2.0, 11.24.2.7): wPortStatus, and
    /// wPortChange in the high half.
    fn hub_port_status(
        &mut self,
        keys: &mut Keys,
        device: &mut Keyboard,
        port: u8,
    ) -> Result<u32, Why> {
        let step = "reading the hub port's status";
        self.control(keys, device, step, setup(0xa3, 0, 0, u16::from(port), 4))?;
        Ok(device.memory.read(BUFFER))
    }

    /// Resets port `port` of the hub `device` (SET_FEATURE(PORT_RESET), USB 2.0, 11.24.2.7.1.5), waits up to
    /// 500 ms for the reset to end with the port enabled, and clears its changes: the speed of its device.
    fn reset_hub_port(
        &mut self,
        keys: &mut Keys,
        device: &mut Keyboard,
        port: u8,
    ) -> Result<u8, Why> {
        let index = u16::from(port);
        self.control(
            keys,
            device,
            "resetting the hub port",
            setup(0x23, 3, 4, index, 0),
        )?;
        let start = clock::time_ms();
        loop {
            clock::sleep_ms(10);
            let status = self.hub_port_status(keys, device, port)?;
            if status & HUB_RESET_ENDED == HUB_RESET_ENDED {
                // CLEAR_FEATURE(C_PORT_RESET), CLEAR_FEATURE(C_PORT_CONNECTION); then 10 ms to recover (11.5.1.5).
                for feature in [20, 16] {
                    let _ = self.control(keys, device, "", setup(0x23, 1, feature, index, 0));
                }
                clock::sleep_ms(10);
                return Ok(usb::hub_port_speed(status));
            }
            if clock::time_ms().saturating_sub(start) > PORT_RESET_MS {
                return Err(Why::Fixed("its device did not come up after a reset"));
            }
        }
    }
}

/// Waits up to `ms` until the register at `offset` has a bit of `set` set or one of `clear` clear: whether it did.
/// A controller whose registers read all ones (gone) is given up on at once.
#[inline(never)]
fn wait_bits(registers: Registers, offset: usize, ms: u64, set: u32, clear: u32) -> bool {
    let done = |v: u32| v != u32::MAX && (v & set | !v & clear) != 0;
    registers.wait(offset, ms, |v| v == u32::MAX || done(v));
    done(registers.read(offset))
}

/// Ends the firmware's hold on the controller, as Linux's `quirk_usb_handoff_xhci` does (xHCI 1.2, 4.22.1): in its
/// USB Legacy Support capability, asks for it (HC OS Owned), waits up to 1 s for the firmware to let go (HC BIOS
/// Owned cleared; a firmware that does not is overruled, and said so), and turns the firmware's SMIs off.
/// Whether it did: one that the firmware holds is left to it where it may be emulating a PS/2 keyboard
/// (`emulated`).
fn take_from_firmware(
    registers: Registers,
    parameters: u32,
    function: Function,
    emulated: bool,
) -> bool {
    // The extended capabilities, a list in 32-bit words from xECP (HCCPARAMS1 bits 31:16); at most 64 looked at.
    let mut offset = (parameters >> 16) as usize * 4;
    for _ in 0..64 {
        if offset == 0 || offset > 0xfff8 {
            return true;
        }
        let capability = registers.read(offset);
        if capability & 0xff == LEGACY_SUPPORT {
            if emulated && capability & BIOS_OWNED != 0 {
                return false;
            }
            registers.write(offset, capability | OS_OWNED);
            if !wait_bits(registers, offset, HAND_OFF_MS, 0, BIOS_OWNED) {
                println!(
                    "{}: the firmware did not let go of it; taken over",
                    Line(function, 0, 0)
                );
                registers.write(offset, registers.read(offset) & !BIOS_OWNED);
            }
            let control = registers.read(offset + 4);
            registers.write(offset + 4, control & LEGACY_KEEP | LEGACY_EVENTS);
            return true;
        }
        match capability >> 8 & 0xff {
            0 => return true,
            next => offset += next as usize * 4,
        }
    }
    true
}
