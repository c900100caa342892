//! The payload as the script's [`Machine`]: its consoles, clock, ATA disks, memory map and the jump.

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bootscript_disk::ata;
use bootscript_disk::BlockDevice;
use bootscript_system::{Handoff, Machine, Memory, MemoryRegion, Summary};

use crate::bootinfo::{MemoryKind, MAPPED_LIMIT};
use crate::drivers::ata::LegacyPorts;
use crate::drivers::{ahci, nvme, pci};
use crate::platform::BootInfo;
use crate::{clock, console, handoff, power, print, println};

pub struct PayloadMachine {
    boot: &'static BootInfo,
    /// The disks were looked for (`disks`).
    probed: bool,
}

impl PayloadMachine {
    pub fn new(boot: &'static BootInfo) -> PayloadMachine {
        PayloadMachine {
            boot,
            probed: false,
        }
    }

    /// Looks for the disks if the script has not had them looked for: `halt` and `reboot` tell every disk that power
    /// goes away (see `drivers::power_off_disks`), also those the script never used, which the firmware and GRUB
    /// may have spun up.
    fn find_disks(&mut self) {
        if !self.probed {
            drop(self.disks());
        }
    }
}

impl Machine for PayloadMachine {
    fn write(&mut self, text: &str) {
        console::write(text)
    }

    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        console::read_line(echo).map_err(|e| e.to_string())
    }

    fn time_ms(&mut self) -> u64 {
        clock::time_ms()
    }

    fn interrupted(&mut self) -> bool {
        console::interrupted()
    }

    /// Ctrl-C ends the wait early (the interpreter then asks `interrupted` and stops the script).
    fn sleep_ms(&mut self, ms: u64) {
        clock::sleep_ms_unless(ms, console::interrupt_pending);
    }

    fn reboot(&mut self) -> String {
        self.find_disks();
        power::reboot(self.boot.rsdp.as_ref())
    }

    fn halt(&mut self) -> String {
        self.find_disks();
        let why = power::power_off(self.boot.rsdp.as_ref());
        let mut message = String::from("cannot switch the machine off: ");
        message.push_str(why);
        message
    }

    fn keymap(&mut self, name: &str) -> Result<(), String> {
        console::set_keymap(name).map_err(|_| {
            let mut message = String::from("unknown keymap '");
            message.push_str(name);
            message.push_str("' (us, uk, de, fr)");
            message
        })
    }

    fn disks(&mut self) -> Vec<Rc<dyn BlockDevice>> {
        self.probed = true;
        let (disks, report) = ata::probe(&Rc::new(LegacyPorts));
        crate::drivers::ata::remember(report.iter().enumerate().filter_map(|(i, p)| {
            matches!(p.result, Ok(_) | Err(ata::AtaError::SectorSize(_))).then_some(i)
        }));
        for probed in &report {
            match &probed.result {
                Ok((name, identity)) => println!(
                    "bootscript: ata {}: {name} {} ({} sectors)",
                    probed.position, identity.model, identity.sectors
                ),
                Err(error) => println!("bootscript: ata {}: {error}", probed.position),
            }
        }
        // Then the SATA disks behind AHCI controllers, numbered on.
        let (sata, sata_report) = ahci::probe(disks.len());
        for probed in &sata_report {
            print!("bootscript: ahci {}", probed.function);
            if let Some(port) = probed.port {
                print!(" port {port}");
            }
            match &probed.result {
                Ok((name, identity)) => {
                    println!(": {name} {} ({} sectors)", identity.model, identity.sectors)
                }
                Err(ahci::Problem::Port(error)) => println!(": {error}"),
                Err(ahci::Problem::Controller(why)) => println!(": {why}"),
            }
        }
        // Then the namespaces of NVMe controllers, numbered on.
        let flash = nvme::probe(disks.len() + sata.len());
        // A controller in RAID mode (class 01:04) is said to be there: its disks are not read. Laptops often ship
        // with Intel's RST so: set to AHCI in the firmware setup, its SATA reads as AHCI (and an NVMe disk it
        // hid shows as its own controller).
        for f in pci::find((0x01, 0x04, 0x00)) {
            println!(
                "bootscript: raid {f}: its disks cannot be read (for Intel RST: set SATA to AHCI in the firmware setup)"
            );
        }
        if disks.is_empty() && sata.is_empty() && flash.is_empty() {
            println!(
                "bootscript: no disk on the legacy IDE ports, behind AHCI or on NVMe; USB disks cannot be read"
            );
        }
        // Plain loops, not a chain of adapters collected: smaller.
        let mut all: Vec<Rc<dyn BlockDevice>> = Vec::new();
        for disk in disks {
            all.push(Rc::new(disk));
        }
        for disk in sata {
            all.push(Rc::new(disk));
        }
        for disk in flash {
            all.push(Rc::new(disk));
        }
        all
    }

    fn memory(&mut self) -> Memory {
        let map = self
            .boot
            .memory_map()
            .iter()
            .map(|r| MemoryRegion {
                addr: r.range.start,
                len: r.range.length(),
                kind: match r.kind {
                    MemoryKind::Usable => 1,
                    MemoryKind::AcpiReclaimable => 3,
                    MemoryKind::AcpiNonVolatile => 4,
                    MemoryKind::Defective => 5,
                    MemoryKind::Reserved => 2,
                    MemoryKind::Persistent(kind) => kind,
                },
            })
            .collect();
        // Room for what the hand-off itself still allocates after planning (boot_params, the command line,
        // the list of copies, the relocator): far more than they take. (The files archive is made before.)
        // The boot information and the modules are not kept: what the payload needs of them was read before
        // `exec` planned, and nothing reads them once the copies begin, so a kernel may be loaded over them as
        // GRUB would allow.
        const SLACK: u64 = 8 << 20;
        let in_use = handoff::in_use()
            .iter()
            .map(|r| (r.start, r.length() + SLACK))
            .collect();
        let rsdp = self.boot.rsdp.map(|r| {
            let length = if r.revision >= 2 { 36 } else { 20 };
            // SAFETY: the RSDP copy lies inside the boot information, which stays intact for the whole run.
            unsafe { core::slice::from_raw_parts(r.address as *const u8, length) }.to_vec()
        });
        let rsdp_address = rsdp.as_deref().and_then(|copy| {
            let read = |address: u64, len: usize| -> Option<&'static [u8]> {
                // SAFETY: the BIOS areas searched lie below 1 MiB, and the UEFI system table and the tables it
                // lists in the firmware's memory, all inside the identity-mapped first 4 GiB; they are only read.
                // (Not at 0: a table's pointer may be null.)
                (address != 0 && address.checked_add(len as u64)? <= MAPPED_LIMIT)
                    .then(|| unsafe { core::slice::from_raw_parts(address as *const u8, len) })
            };
            // The EBDA's segment is in the BIOS data area at 0x40E.
            let ebda =
                read(0x40E, 2).map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])) << 4);
            // A UEFI PC's firmware lists it in its system table (a CSM may keep a copy where a BIOS would).
            let listed = self.boot.efi_system_table;
            listed
                .and_then(|table| crate::acpi::efi_rsdp(copy, table, &read))
                .or_else(|| crate::acpi::firmware_rsdp(copy, ebda, &read))
        });
        Memory {
            map,
            in_use,
            limit: MAPPED_LIMIT,
            rsdp,
            rsdp_address,
            // (The payload's console wrote to the VGA text screen only where there is one.)
            cursor: self.boot.vga_text.then_some((0, 24)),
            framebuffer: self.boot.framebuffer,
            efi: self.boot.efi,
        }
    }

    fn boot(&mut self, handoff: Handoff<'_>, summary: &Summary) -> String {
        println!(
            "bootscript: exec {} ({}), {} initrd(s), {} file(s) handed on",
            summary.kernel,
            summary.kind,
            summary.initrds.len(),
            summary.files.len()
        );
        handoff::boot(handoff)
    }
}
