//! COM1: a 16550 UART at 115200 8N1, polled, every wait bounded.

use crate::arch::port::{inb, outb};

/// Register offsets and bits of the 16550 (National Semiconductor PC16550D datasheet).
mod spec {
    pub const DATA: u16 = 0; // RBR/THR, or divisor low with DLAB
    pub const INTERRUPT_ENABLE: u16 = 1; // IER, or divisor high with DLAB
    pub const FIFO_CONTROL: u16 = 2;
    pub const LINE_CONTROL: u16 = 3;
    pub const MODEM_CONTROL: u16 = 4;
    pub const LINE_STATUS: u16 = 5;
    pub const SCRATCH: u16 = 7;

    pub const LCR_DLAB: u8 = 0x80;
    pub const LCR_8N1: u8 = 0x03;
    pub const FCR_ENABLE_CLEAR_14: u8 = 0xc7;
    pub const MCR_DTR_RTS_OUT2: u8 = 0x0b;
    pub const MCR_LOOPBACK: u8 = 0x1e;
    pub const LSR_DATA_READY: u8 = 0x01;
    pub const LSR_THR_EMPTY: u8 = 0x20;

    /// 115200 baud = 1.8432 MHz / 16 / 1.
    pub const DIVISOR_115200: u16 = 1;
}

/// The I/O base of the first serial port.
pub const COM1: u16 = 0x3f8;

/// How many status polls a byte may wait for room in the transmitter (about 1 ms per byte at 115200 baud is
/// ample; a port that never drains is dropped rather than hanging the boot).
const TRANSMIT_SPINS: u32 = 100_000;

/// Why the serial port cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialError {
    /// Nothing answers at this address (the scratch register does not keep a value).
    NotPresent,
    /// The UART did not loop a test byte back.
    LoopbackFailed,
    /// The transmitter stayed full for too long.
    Timeout,
}

impl core::fmt::Display for SerialError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SerialError::NotPresent => "no UART at COM1 (0x3f8)",
            SerialError::LoopbackFailed => "the UART at COM1 failed its loopback test",
            SerialError::Timeout => "the UART at COM1 stopped accepting bytes",
        })
    }
}

/// A working, initialised 16550.
pub struct Serial {
    base: u16,
}

impl Serial {
    /// Finds and programs the UART at `base` (115200 8N1, FIFOs on), after checking it is really there.
    pub fn probe(base: u16) -> Result<Serial, SerialError> {
        let serial = Serial { base };
        serial.write_register(spec::SCRATCH, 0x5a);
        if serial.read_register(spec::SCRATCH) != 0x5a {
            return Err(SerialError::NotPresent);
        }
        serial.write_register(spec::INTERRUPT_ENABLE, 0);
        serial.write_register(spec::LINE_CONTROL, spec::LCR_DLAB);
        let [low, high] = spec::DIVISOR_115200.to_le_bytes();
        serial.write_register(spec::DATA, low);
        serial.write_register(spec::INTERRUPT_ENABLE, high);
        serial.write_register(spec::LINE_CONTROL, spec::LCR_8N1);
        serial.write_register(spec::FIFO_CONTROL, spec::FCR_ENABLE_CLEAR_14);
        serial.write_register(spec::MODEM_CONTROL, spec::MCR_LOOPBACK);
        serial.write_register(spec::DATA, 0xae);
        let mut looped = false;
        for _ in 0..1000 {
            if serial.read_register(spec::LINE_STATUS) & spec::LSR_DATA_READY != 0 {
                looped = serial.read_register(spec::DATA) == 0xae;
                break;
            }
        }
        serial.write_register(spec::MODEM_CONTROL, spec::MCR_DTR_RTS_OUT2);
        if !looped {
            return Err(SerialError::LoopbackFailed);
        }
        Ok(serial)
    }

    /// Sends one byte, waiting a bounded time for room.
    pub fn write_byte(&self, byte: u8) -> Result<(), SerialError> {
        for _ in 0..TRANSMIT_SPINS {
            if self.read_register(spec::LINE_STATUS) & spec::LSR_THR_EMPTY != 0 {
                self.write_register(spec::DATA, byte);
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(SerialError::Timeout)
    }

    /// A received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        (self.read_register(spec::LINE_STATUS) & spec::LSR_DATA_READY != 0)
            .then(|| self.read_register(spec::DATA))
    }

    fn read_register(&self, offset: u16) -> u8 {
        // SAFETY: reads of 16550 registers have no effect beyond popping a received byte, which is what
        // `read_byte` wants; `probe` only creates a `Serial` for a UART port range.
        unsafe { inb(self.base + offset) }
    }

    fn write_register(&self, offset: u16, value: u8) {
        // SAFETY: the port range belongs to the UART (COM1's standard addresses); writes only program it.
        unsafe { outb(self.base + offset, value) }
    }
}
