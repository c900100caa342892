//! What `halt()` needs to switch the machine off through ACPI: the FADT's PM1 control ports and the sleep types
//! of the soft-off state `\_S5`, found from the root table the boot loader's RSDP names.
//!
//! Pure: memory is read through a function, so the host tests give it tables of any shape. Every table is checked
//! (signature, length, checksum) before a field of it is used; a value that does not fit is an error, never a
//! guess.

/// How to switch this machine off: write `SLP_TYP | SLP_EN` to each PM1 control port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftOff {
    pub pm1a_control: u16,
    /// 0: the machine has no second PM1 block.
    pub pm1b_control: u16,
    pub sleep_type_a: u16,
    pub sleep_type_b: u16,
    /// The port and value that switch the firmware into ACPI mode, when it is not in it yet (0: no such port).
    pub smi_command: u16,
    pub acpi_enable: u8,
}

/// The PM1 control register's bits: SCI_EN (the machine is in ACPI mode), SLP_TYP (three bits), SLP_EN.
pub const SCI_ENABLED: u16 = 1;
pub const SLEEP_TYPE_SHIFT: u16 = 10;
pub const SLEEP_TYPE_MASK: u16 = 0b111 << 10;
pub const SLEEP_ENABLE: u16 = 1 << 13;

/// Every table starts with this header: signature, length, revision, checksum, OEM fields.
const HEADER: usize = 36;
/// The largest table read (a DSDT of a big server is a few hundred KiB).
const MAX_TABLE: usize = 4 << 20;

/// Reads `len` bytes of physical memory at an address, or None when they are out of reach.
pub type Read<'m> = dyn Fn(u64, usize) -> Option<&'m [u8]> + 'm;

/// The FADT the root table at `root` (an XSDT when `xsdt`, else an RSDT) lists, checked.
pub fn fadt<'m>(root: u64, xsdt: bool, read: &Read<'m>) -> Result<&'m [u8], &'static str> {
    let signature: &[u8; 4] = if xsdt { b"XSDT" } else { b"RSDT" };
    let root = table(root, signature, read).ok_or("no valid root table (RSDT/XSDT)")?;
    let width = if xsdt { 8 } else { 4 };
    root[HEADER..]
        .chunks_exact(width)
        .find_map(|entry| table(le(entry), b"FACP", read))
        .ok_or("no valid FADT")
}

/// Finds how to switch the machine off, from the root table at `root` (an XSDT when `xsdt`, else an RSDT).
pub fn soft_off<'m>(root: u64, xsdt: bool, read: &Read<'m>) -> Result<SoftOff, &'static str> {
    let fadt = fadt(root, xsdt, read)?;
    let pm1a_control = port(fadt, 64, 172).ok_or("the FADT names no PM1a control port")?;
    let pm1b_control = port(fadt, 68, 184).unwrap_or(0);
    // The 64-bit address of the DSDT wins over the 32-bit one when the FADT has it.
    let dsdt_address = match field(fadt, 140, 8) {
        Some(x) if x != 0 => x,
        _ => field(fadt, 40, 4).unwrap_or(0),
    };
    let dsdt = table(dsdt_address, b"DSDT", read).ok_or("no valid DSDT")?;
    let (sleep_type_a, sleep_type_b) =
        s5(&dsdt[HEADER..]).ok_or("the DSDT has no \\_S5 package this can read")?;
    let smi_command = field(fadt, 48, 4).unwrap_or(0);
    Ok(SoftOff {
        pm1a_control,
        pm1b_control,
        sleep_type_a,
        sleep_type_b,
        // An SMI port past the I/O space is of no use.
        smi_command: u16::try_from(smi_command).unwrap_or(0),
        acpi_enable: field(fadt, 52, 1).unwrap_or(0) as u8,
    })
}

/// The table at `address` if it has this signature, a sane length, is all readable, and its bytes add up to 0.
fn table<'m>(address: u64, signature: &[u8; 4], read: &Read<'m>) -> Option<&'m [u8]> {
    if address == 0 {
        return None;
    }
    let header = read(address, HEADER)?;
    if header.get(..4)? != signature {
        return None;
    }
    let length = le(header.get(4..8)?) as usize;
    if !(HEADER..=MAX_TABLE).contains(&length) {
        return None;
    }
    let bytes = read(address, length)?;
    let sum = bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b));
    (bytes.len() == length && sum == 0).then_some(bytes)
}

/// A little-endian number of 1 to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |value, b| (value << 8) | u64::from(*b))
}

/// Where the FADT's reset register is (ACPI 2.0+, "RESET_REG"): the only address spaces ACPI allows it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetAddress {
    /// System I/O space: a port.
    Io(u16),
    /// System memory: a physical address, written as one byte.
    Memory(u64),
    /// PCI configuration space of a function on bus 0 (segment 0).
    PciConfig {
        device: u8,
        function: u8,
        offset: u8,
    },
}

/// The FADT's reset register and the value that, written to it, resets the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetRegister {
    pub address: ResetAddress,
    pub value: u8,
}

/// The FADT's flag that says RESET_REG and RESET_VALUE are there and work (RESET_REG_SUP, bit 10 of Flags).
const RESET_REG_SUPPORTED: u64 = 1 << 10;

/// The reset register of a checked FADT, if it has one: revision 2 or later, long enough to hold the register
/// and its value (offsets 116 and 128), the RESET_REG_SUP flag set, and the register in an address space ACPI
/// allows for it (system I/O, system memory, or PCI configuration space on bus 0). Like Linux and Windows, the
/// register's bit width and offset are not looked at (firmware fills them in carelessly); the value is written
/// as one byte.
pub fn reset_register(fadt: &[u8]) -> Option<ResetRegister> {
    const REVISION: usize = 8;
    const FLAGS: usize = 112;
    const RESET_REG: usize = 116;
    const RESET_VALUE: usize = 128;
    if *fadt.get(REVISION)? < 2 || field(fadt, FLAGS, 4)? & RESET_REG_SUPPORTED == 0 {
        return None;
    }
    let space = *fadt.get(RESET_REG)?;
    let address = field(fadt, RESET_REG + 4, 8)?;
    let value = *fadt.get(RESET_VALUE)?;
    let address = match space {
        // A port past the 64 KiB of I/O space, or port 0 (the DMA controller's), names no reset register.
        0 if address != 0 => ResetAddress::Memory(address),
        1 if address != 0 => ResetAddress::Io(u16::try_from(address).ok()?),
        // PCI configuration space: device in bits 32-47, function in bits 16-31, offset in bits 0-15.
        2 => {
            let device = u8::try_from((address >> 32) & 0xffff).ok()?;
            let function = u8::try_from((address >> 16) & 0xffff).ok()?;
            let offset = u8::try_from(address & 0xffff).ok()?;
            (device < 32 && function < 8 && address >> 48 == 0).then_some(())?;
            ResetAddress::PciConfig {
                device,
                function,
                offset,
            }
        }
        _ => return None,
    };
    Some(ResetRegister { address, value })
}

/// A field of the FADT, if the table is long enough to have it.
fn field(fadt: &[u8], offset: usize, len: usize) -> Option<u64> {
    fadt.get(offset..offset + len).map(le)
}

/// The ACPI PM timer (a 3.579545 MHz counter in I/O space) the FADT names: its port (PM_TMR_BLK, or the generic
/// address X_PM_TMR_BLK). None unless PM_TMR_LEN (byte 91) is 4, as ACPI has it for a machine with the timer; none
/// on a hardware-reduced ACPI machine (flag HW_REDUCED_ACPI, bit 20 of the flags at 112), which has no such
/// fixed hardware.
pub fn pm_timer(fadt: &[u8]) -> Option<u16> {
    let reduced = field(fadt, 112, 4)? >> 20 & 1 != 0;
    (field(fadt, 91, 1)? == 4 && !reduced)
        .then(|| port(fadt, 76, 208))
        .flatten()
}

/// An I/O port of the FADT: the generic address at `extended` when the table has it and it is usable here (in
/// I/O space, address space 1, nonzero and within the 64 KiB of ports), else the 32-bit block address at
/// `legacy`. ACPI 2.0 and later say a usable extended address wins and the legacy field is then to be ignored
/// (the FADT's X_PM1a_CNT_BLK); mostly both name the same port.
fn port(fadt: &[u8], legacy: usize, extended: usize) -> Option<u16> {
    let usable = (field(fadt, extended, 1) == Some(1))
        .then(|| field(fadt, extended + 4, 8))
        .flatten()
        .filter(|&address| address != 0)
        .and_then(|address| u16::try_from(address).ok());
    usable.or_else(|| {
        field(fadt, legacy, 4)
            .filter(|&p| p != 0)
            .and_then(|p| u16::try_from(p).ok())
    })
}

/// The two sleep types of `Name(\_S5, Package () { a, b, ... })` in AML: found by its name, then read as
/// the compiler writes it (NameOp, an optional root prefix, the name, PackageOp, PkgLength, NumElements, then
/// each value as ZeroOp, OneOp, or a BytePrefix/WordPrefix constant). A package of one value gives 0 as the
/// second.
pub fn s5(aml: &[u8]) -> Option<(u16, u16)> {
    const NAME_OP: u8 = 0x08;
    const ROOT: u8 = b'\\';
    const PACKAGE_OP: u8 = 0x12;
    (0..aml.len()).find_map(|i| {
        if aml.get(i..i + 4)? != b"_S5_" {
            return None;
        }
        let named = match i {
            0 => false,
            1 => aml[0] == NAME_OP,
            _ => aml[i - 1] == NAME_OP || (aml[i - 1] == ROOT && aml[i - 2] == NAME_OP),
        };
        if !named || *aml.get(i + 4)? != PACKAGE_OP {
            return None;
        }
        // PkgLength: bits 7-6 of its first byte count the bytes that follow it.
        let mut at = i + 5;
        at += 1 + usize::from(*aml.get(at)? >> 6);
        let count = *aml.get(at)?;
        at += 1;
        let a = integer(aml, &mut at)?;
        let b = if count >= 2 {
            integer(aml, &mut at)?
        } else {
            0
        };
        Some((a, b))
    })
}

/// One small AML integer at `at` (moved past it), or None for anything else.
fn integer(aml: &[u8], at: &mut usize) -> Option<u16> {
    let (value, len) = match *aml.get(*at)? {
        0x00 => (0, 1),
        0x01 => (1, 1),
        0x0a => (u16::from(*aml.get(*at + 1)?), 2),
        0x0b => (le(aml.get(*at + 1..*at + 3)?) as u16, 3),
        _ => return None,
    };
    *at += len;
    // SLP_TYP has three bits.
    (value <= 7).then_some(value)
}

/// Where the BIOS keeps the RSDP whose first 20 bytes are `copy` (the boot loader's copy of it), searched as
/// ACPI says a BIOS places it: on a 16-byte boundary in the first KiB of the EBDA (`ebda`, 0 for none), or
/// from 0xE0000 to 0xFFFFF. The address Linux is given must be this one: the boot loader's copy lies in RAM
/// that Linux takes for its own (and a kexec'd kernel is given the same address again).
pub fn firmware_rsdp(copy: &[u8], ebda: u64, read: &Read<'_>) -> Option<u64> {
    let copy = copy.get(..20)?;
    for (start, end) in [(ebda, ebda + 1024), (0xE0000, 0x100000)] {
        if start == 0 {
            continue;
        }
        let mut at = start;
        while at < end - 19 {
            if read(at, 20) == Some(copy) {
                return Some(at);
            }
            at += 16;
        }
    }
    None
}

/// Where a UEFI firmware keeps the RSDP whose first 20 bytes are `copy`: the table of its system table's
/// configuration tables (at `system_table`) that holds those bytes (UEFI 2.x, 4.3 and 4.6: the count of tables at
/// byte 104, their address at byte 112, each a GUID and an address; ACPI's tables carry their own GUIDs, but the
/// bytes say it as surely). A firmware lists a few dozen; more than 256 is no table to trust.
pub fn efi_rsdp(copy: &[u8], system_table: u64, read: &Read<'_>) -> Option<u64> {
    let copy = copy.get(..20)?;
    let word = |at: u64| Some(u64::from_le_bytes(read(at, 8)?.try_into().ok()?));
    let (count, tables) = (
        word(system_table.checked_add(104)?)?,
        word(system_table + 112)?,
    );
    (0..count.min(256))
        .filter_map(|k| word(tables.checked_add(24 * k + 16)?))
        .find(|&at| read(at, 20) == Some(copy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_firmware_rsdp_is_found_where_a_bios_keeps_it() {
        let mut rsdp = b"RSD PTR ".to_vec();
        rsdp.extend_from_slice(&[
            0x42, b'B', b'O', b'C', b'H', b'S', b' ', 0, 0x78, 0x56, 0x34, 0x12,
        ]);
        let other = [b"RSD PTR ".as_slice(), &[0; 12]].concat();
        let bios = |at: u64| {
            let mut area = vec![0u8; 0x20000];
            area[0x10..0x24].copy_from_slice(&other);
            let offset = (at - 0xE0000) as usize;
            area[offset..offset + 20].copy_from_slice(&rsdp);
            Memory([(0xE0000, area)].into())
        };
        for at in [0xE0000, 0xF68F0, 0xFFFE0] {
            let m = bios(at);
            assert_eq!(firmware_rsdp(&rsdp, 0, &|a, l| m.read(a, l)), Some(at));
        }
        // Off a 16-byte boundary, or not the bytes of the copy: not it.
        let m = bios(0xF68F8);
        assert_eq!(firmware_rsdp(&rsdp, 0, &|a, l| m.read(a, l)), None);
        // In the EBDA's first KiB, looked at first.
        let mut ebda = vec![0u8; 1024];
        ebda[0x3E0..0x3F4].copy_from_slice(&rsdp);
        let m = Memory([(0x9FC00, ebda), (0xE0000, vec![0u8; 0x20000])].into());
        assert_eq!(
            firmware_rsdp(&rsdp, 0x9FC00, &|a, l| m.read(a, l)),
            Some(0x9FFE0)
        );
        assert_eq!(
            firmware_rsdp(&rsdp[..19], 0x9FC00, &|a, l| m.read(a, l)),
            None
        );
        // In both places: the EBDA's wins, as ACPI has a BIOS searched.
        let mut bios = vec![0u8; 0x20000];
        bios[..20].copy_from_slice(&rsdp);
        let m = Memory([(0x9FC00, m.0[&0x9FC00].clone()), (0xE0000, bios)].into());
        assert_eq!(
            firmware_rsdp(&rsdp, 0x9FC00, &|a, l| m.read(a, l)),
            Some(0x9FFE0)
        );
    }

    /// Physical memory for the tests: tables at addresses.
    #[test]
    fn the_firmware_rsdp_of_a_uefi_pc_is_in_its_configuration_tables() {
        let mut rsdp = b"RSD PTR ".to_vec();
        rsdp.extend_from_slice(&[
            0x42, b'O', b'V', b'M', b'F', b' ', b' ', 2, 0x78, 0x56, 0x34, 0x12,
        ]);
        // The system table: 104 bytes of other fields, the count of tables, their address.
        let mut system = vec![0u8; 120];
        system[104..112].copy_from_slice(&3u64.to_le_bytes());
        system[112..120].copy_from_slice(&0x7000u64.to_le_bytes());
        let mut tables = Vec::new();
        for address in [0x8000u64, 0x9000, 0xA000] {
            tables.extend_from_slice(&[0x5a; 16]);
            tables.extend_from_slice(&address.to_le_bytes());
        }
        let other = [b"RSD PTR ".as_slice(), &[0; 12]].concat();
        let m = Memory(
            [
                (0x6000, system),
                (0x7000, tables),
                (0x8000, vec![7; 64]),
                (0x9000, other),
                (0xA000, rsdp.clone()),
            ]
            .into(),
        );
        let read = |a, l| m.read(a, l);
        assert_eq!(efi_rsdp(&rsdp, 0x6000, &read), Some(0xA000));
        // Not among the tables counted; no system table there; the copy too short.
        let mut fewer = m.0.clone();
        fewer.get_mut(&0x6000).unwrap()[104] = 2;
        let m2 = Memory(fewer);
        assert_eq!(efi_rsdp(&rsdp, 0x6000, &|a, l| m2.read(a, l)), None);
        assert_eq!(efi_rsdp(&rsdp, 0x5000, &read), None);
        assert_eq!(efi_rsdp(&rsdp[..19], 0x6000, &read), None);
    }

    struct Memory(BTreeMap<u64, Vec<u8>>);

    impl Memory {
        fn read(&self, address: u64, len: usize) -> Option<&[u8]> {
            let (start, bytes) = self.0.range(..=address).next_back()?;
            let offset = usize::try_from(address - start).ok()?;
            bytes.get(offset..offset.checked_add(len)?)
        }
    }

    /// A table with a correct header (length and checksum) around `body`.
    fn sdt(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(signature);
        t.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
        t.push(2); // revision
        t.push(0); // checksum, set below
        t.extend_from_slice(b"BTSCRPBOOTSCRP\x01\0\0\0TEST\x01\0\0\0");
        assert_eq!(t.len(), HEADER);
        t.extend_from_slice(body);
        let sum = t.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        t[9] = 0u8.wrapping_sub(sum);
        t
    }

    /// A FADT body of `len` bytes (after the header) with the fields the code reads.
    fn fadt_body(dsdt: u32, pm1a: u32, pm1b: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        let mut put = |offset: usize, bytes: &[u8]| {
            if offset - HEADER + bytes.len() <= len {
                f[offset - HEADER..offset - HEADER + bytes.len()].copy_from_slice(bytes);
            }
        };
        put(40, &dsdt.to_le_bytes());
        put(48, &0xb2u32.to_le_bytes());
        put(52, &[0xf1]);
        put(64, &pm1a.to_le_bytes());
        put(68, &pm1b.to_le_bytes());
        f
    }

    /// AML of a scope with `\_S5` as iasl writes it, among other names.
    fn s5_aml(a: u8, b: u8) -> Vec<u8> {
        let mut aml = Vec::new();
        // Name (_S4_, Package (0x04) { 0x06, 0x06, Zero, Zero }): must not be taken for \_S5.
        aml.extend_from_slice(&[0x08, b'_', b'S', b'4', b'_', 0x12, 0x08, 0x04]);
        aml.extend_from_slice(&[0x0a, 0x06, 0x0a, 0x06, 0x00, 0x00]);
        // A string that mentions _S5_ without being the name.
        aml.extend_from_slice(&[0x0d, b'_', b'S', b'5', b'_', 0x00]);
        aml.extend_from_slice(&[0x08, b'\\', b'_', b'S', b'5', b'_', 0x12, 0x0a, 0x04]);
        for v in [a, b] {
            match v {
                0 => aml.push(0x00),
                1 => aml.push(0x01),
                v => aml.extend_from_slice(&[0x0a, v]),
            }
        }
        aml.extend_from_slice(&[0x00, 0x00]);
        aml
    }

    fn machine(xsdt: bool, fadt: Vec<u8>, dsdt: Vec<u8>) -> Memory {
        let mut m = BTreeMap::new();
        let root = if xsdt {
            let mut body = 0x3000u64.to_le_bytes().to_vec(); // something else first: no table there
            body.extend_from_slice(&0x2000u64.to_le_bytes());
            sdt(b"XSDT", &body)
        } else {
            let mut body = 0x3000u32.to_le_bytes().to_vec();
            body.extend_from_slice(&0x2000u32.to_le_bytes());
            sdt(b"RSDT", &body)
        };
        m.insert(0x1000, root);
        m.insert(0x2000, fadt);
        m.insert(0x3000, sdt(b"APIC", &[0; 8]));
        m.insert(0x4000, dsdt);
        Memory(m)
    }

    fn find(m: &Memory, xsdt: bool) -> Result<SoftOff, &'static str> {
        soft_off(0x1000, xsdt, &|a, l| m.read(a, l))
    }

    #[test]
    fn finds_the_ports_and_sleep_types_through_rsdt_and_xsdt() {
        for xsdt in [false, true] {
            let fadt = sdt(b"FACP", &fadt_body(0x4000, 0x604, 0, 244 - HEADER));
            let m = machine(xsdt, fadt, sdt(b"DSDT", &s5_aml(5, 5)));
            assert_eq!(
                find(&m, xsdt),
                Ok(SoftOff {
                    pm1a_control: 0x604,
                    pm1b_control: 0,
                    sleep_type_a: 5,
                    sleep_type_b: 5,
                    smi_command: 0xb2,
                    acpi_enable: 0xf1,
                })
            );
        }
    }

    #[test]
    fn reads_zero_and_one_ops_and_an_acpi_1_fadt() {
        // An ACPI 1.0 FADT (116 bytes) has no 64-bit fields.
        let fadt = sdt(b"FACP", &fadt_body(0x4000, 0x4004, 0x4008, 116 - HEADER));
        let m = machine(false, fadt, sdt(b"DSDT", &s5_aml(0, 1)));
        let off = find(&m, false).unwrap();
        assert_eq!((off.sleep_type_a, off.sleep_type_b), (0, 1));
        assert_eq!((off.pm1a_control, off.pm1b_control), (0x4004, 0x4008));
    }

    #[test]
    fn the_extended_pm1a_address_is_used_when_the_legacy_one_is_zero() {
        let mut body = fadt_body(0x4000, 0, 0, 244 - HEADER);
        body[172 - HEADER] = 1; // system I/O
        body[176 - HEADER..184 - HEADER].copy_from_slice(&0xb004u64.to_le_bytes());
        let m = machine(true, sdt(b"FACP", &body), sdt(b"DSDT", &s5_aml(7, 7)));
        assert_eq!(find(&m, true).unwrap().pm1a_control, 0xb004);
        // The second block's extended address, at its own offset.
        body[184 - HEADER] = 1;
        body[188 - HEADER..196 - HEADER].copy_from_slice(&0xb008u64.to_le_bytes());
        let m = machine(true, sdt(b"FACP", &body), sdt(b"DSDT", &s5_aml(7, 7)));
        let off = find(&m, true).unwrap();
        assert_eq!((off.pm1a_control, off.pm1b_control), (0xb004, 0xb008));
        // In memory space instead: not a port this can write.
        body[172 - HEADER] = 0;
        let m = machine(true, sdt(b"FACP", &body), sdt(b"DSDT", &s5_aml(7, 7)));
        assert_eq!(find(&m, true), Err("the FADT names no PM1a control port"));
    }

    #[test]
    fn the_64_bit_dsdt_address_wins_over_the_32_bit_one() {
        // ACPI 2: X_DSDT (offset 140), when not zero, is the DSDT; the 32-bit field here names another table.
        let mut body = fadt_body(0x5000, 0x604, 0, 244 - HEADER);
        body[140 - HEADER..148 - HEADER].copy_from_slice(&0x4000u64.to_le_bytes());
        let mut m = machine(true, sdt(b"FACP", &body), sdt(b"DSDT", &s5_aml(7, 7)));
        m.0.insert(0x5000, sdt(b"DSDT", &s5_aml(1, 1)));
        let off = find(&m, true).unwrap();
        assert_eq!((off.sleep_type_a, off.sleep_type_b), (7, 7));
    }

    #[test]
    fn a_usable_extended_port_wins_over_the_legacy_one() {
        let find_with = |body: &[u8]| {
            let m = machine(true, sdt(b"FACP", body), sdt(b"DSDT", &s5_aml(5, 5)));
            find(&m, true)
        };
        // Both set: the extended one (I/O space) is used.
        let mut body = fadt_body(0x4000, 0x604, 0, 244 - HEADER);
        body[172 - HEADER] = 1;
        body[176 - HEADER..184 - HEADER].copy_from_slice(&0xb004u64.to_le_bytes());
        assert_eq!(find_with(&body).unwrap().pm1a_control, 0xb004);
        // One this payload cannot use (system memory, or past the ports): the legacy one.
        for (space, address) in [(0u8, 0xfed0_0004u64), (1, 0x1_b004)] {
            body[172 - HEADER] = space;
            body[176 - HEADER..184 - HEADER].copy_from_slice(&address.to_le_bytes());
            assert_eq!(
                find_with(&body).unwrap().pm1a_control,
                0x604,
                "{space} {address:#x}"
            );
        }
    }

    #[test]
    fn ports_past_the_io_space_or_zero_are_not_used() {
        // A port is 16 bits: a FADT field past 0xFFFF names no port (cut to 16 bits it would be another one), and
        // an extended address of 0 names none either (port 0 is the DMA controller's).
        let good = || fadt_body(0x4000, 0x604, 0, 244 - HEADER);
        let find_with = |body: &[u8]| {
            let m = machine(true, sdt(b"FACP", body), sdt(b"DSDT", &s5_aml(5, 5)));
            find(&m, true)
        };
        let mut body = good();
        body[48 - HEADER..52 - HEADER].copy_from_slice(&0x1_00b2u32.to_le_bytes());
        body[68 - HEADER..72 - HEADER].copy_from_slice(&0x1_0608u32.to_le_bytes());
        let off = find_with(&body).unwrap();
        assert_eq!((off.smi_command, off.pm1b_control), (0, 0));
        let mut body = good();
        body[64 - HEADER..68 - HEADER].copy_from_slice(&0x1_0604u32.to_le_bytes());
        assert_eq!(find_with(&body), Err("the FADT names no PM1a control port"));
        // Legacy block 0, extended one in I/O space: past 0xFFFF, or 0.
        for address in [0x1_b004u64, 0] {
            let mut body = fadt_body(0x4000, 0, 0, 244 - HEADER);
            body[172 - HEADER] = 1;
            body[176 - HEADER..184 - HEADER].copy_from_slice(&address.to_le_bytes());
            assert_eq!(
                find_with(&body),
                Err("the FADT names no PM1a control port"),
                "{address:#x}"
            );
        }
    }

    #[test]
    fn a_table_of_the_largest_size_read_is_read_and_a_larger_one_is_not() {
        // A DSDT of MAX_TABLE bytes (a big server's is a few hundred KiB) is read; one byte more is refused.
        let fadt = || sdt(b"FACP", &fadt_body(0x4000, 0x604, 0, 244 - HEADER));
        for (size, found) in [(MAX_TABLE, true), (MAX_TABLE + 1, false)] {
            let mut aml = s5_aml(5, 5);
            aml.resize(size - HEADER, 0);
            let m = machine(false, fadt(), sdt(b"DSDT", &aml));
            let off = find(&m, false);
            assert_eq!(off.is_ok(), found, "{size}: {off:?}");
            if !found {
                assert_eq!(off, Err("no valid DSDT"));
            }
        }
    }

    /// A FADT (revision 2 unless changed) whose RESET_REG is in address space `space` at `address`, with
    /// RESET_REG_SUP set when `supported`, and reset value 0x06.
    fn fadt_with_reset(space: u8, address: u64, supported: bool) -> Vec<u8> {
        let mut body = fadt_body(0x4000, 0x604, 0, 244 - HEADER);
        if supported {
            body[112 - HEADER..116 - HEADER].copy_from_slice(&(1u32 << 10).to_le_bytes());
        }
        body[116 - HEADER] = space;
        body[117 - HEADER] = 8; // bit width
        body[120 - HEADER..128 - HEADER].copy_from_slice(&address.to_le_bytes());
        body[128 - HEADER] = 0x06;
        sdt(b"FACP", &body)
    }

    #[test]
    fn the_pm_timer_is_read_from_either_of_its_fields() {
        // PM_TMR_BLK at 76 with PM_TMR_LEN 4 at 91: QEMU's q35 (ICH9's 0x608).
        let mut body = fadt_body(0x4000, 0x604, 0, 244 - HEADER);
        body[76 - HEADER..80 - HEADER].copy_from_slice(&0x608u32.to_le_bytes());
        body[91 - HEADER] = 4;
        assert_eq!(pm_timer(&sdt(b"FACP", &body)), Some(0x608));
        // A length other than 4 says there is no timer; so does HW_REDUCED_ACPI (bit 20 of the flags at 112).
        body[91 - HEADER] = 0;
        assert_eq!(pm_timer(&sdt(b"FACP", &body)), None);
        body[91 - HEADER] = 4;
        body[112 - HEADER + 2] = 0x10;
        assert_eq!(pm_timer(&sdt(b"FACP", &body)), None);
        body[112 - HEADER + 2] = 0;
        // Only X_PM_TMR_BLK, in system I/O: its address.
        body[76 - HEADER..80 - HEADER].fill(0);
        body[208 - HEADER] = 1;
        body[212 - HEADER..220 - HEADER].copy_from_slice(&0x1808u64.to_le_bytes());
        assert_eq!(pm_timer(&sdt(b"FACP", &body)), Some(0x1808));
        // Neither: no timer.
        body[208 - HEADER] = 0;
        assert_eq!(pm_timer(&sdt(b"FACP", &body)), None);
    }

    #[test]
    fn the_reset_register_is_read_in_each_address_space_acpi_allows() {
        let reset = |fadt: &[u8]| reset_register(fadt).map(|r| (r.address, r.value));
        assert_eq!(
            reset(&fadt_with_reset(1, 0xcf9, true)),
            Some((ResetAddress::Io(0xcf9), 0x06))
        );
        assert_eq!(
            reset(&fadt_with_reset(0, 0xfed0_3000, true)),
            Some((ResetAddress::Memory(0xfed0_3000), 0x06))
        );
        // PCI configuration space: device 0x1f, function 3, offset 0x44, on bus 0.
        assert_eq!(
            reset(&fadt_with_reset(2, 0x1f << 32 | 3 << 16 | 0x44, true)),
            Some((
                ResetAddress::PciConfig {
                    device: 0x1f,
                    function: 3,
                    offset: 0x44
                },
                0x06
            ))
        );
        // Found through the root tables, as reboot() does.
        let m = machine(
            true,
            fadt_with_reset(1, 0xb2, true),
            sdt(b"DSDT", &s5_aml(5, 5)),
        );
        let found = fadt(0x1000, true, &|a, l| m.read(a, l)).unwrap();
        assert_eq!(reset(found), Some((ResetAddress::Io(0xb2), 0x06)));
    }

    #[test]
    fn no_reset_register_unless_the_fadt_says_it_has_a_usable_one() {
        // RESET_REG_SUP clear: the fields mean nothing.
        assert_eq!(reset_register(&fadt_with_reset(1, 0xcf9, false)), None);
        // An ACPI 1.0 FADT (revision 1) has no reset register, whatever its flags say.
        let mut fadt = fadt_with_reset(1, 0xcf9, true);
        fadt[8] = 1;
        assert_eq!(reset_register(&fadt), None);
        // Too short to hold the register or its value.
        let fadt = fadt_with_reset(1, 0xcf9, true);
        assert_eq!(reset_register(&fadt[..128]), None);
        assert!(reset_register(&fadt[..129]).is_some());
        // Address spaces ACPI does not allow for it (embedded controller, functional fixed hardware), a port past
        // 0xFFFF, address 0, and PCI functions that cannot be.
        for (space, address) in [
            (3, 0x62),
            (0x7f, 0x1),
            (1, 0x1_0cf9),
            (1, 0),
            (0, 0),
            (2, 32 << 32),
            (2, 8 << 16),
            (2, 0x100),
            (2, 1 << 48),
        ] {
            assert_eq!(
                reset_register(&fadt_with_reset(space, address, true)),
                None,
                "space {space} address {address:#x}"
            );
        }
    }

    #[test]
    fn broken_tables_are_errors() {
        let good_fadt = || sdt(b"FACP", &fadt_body(0x4000, 0x604, 0, 244 - HEADER));
        let good_dsdt = || sdt(b"DSDT", &s5_aml(5, 5));

        // A byte changed after the checksum was made.
        let mut fadt = good_fadt();
        fadt[64] ^= 1;
        let m = machine(false, fadt, good_dsdt());
        assert_eq!(find(&m, false), Err("no valid FADT"));

        // The root is not where the boot loader said.
        let m = machine(false, good_fadt(), good_dsdt());
        assert_eq!(
            soft_off(0x5000, false, &|a, l| m.read(a, l)),
            Err("no valid root table (RSDT/XSDT)")
        );
        // An XSDT read as an RSDT.
        let m = machine(true, good_fadt(), good_dsdt());
        assert_eq!(find(&m, false), Err("no valid root table (RSDT/XSDT)"));

        // A DSDT that claims more bytes than there are.
        let mut dsdt = good_dsdt();
        dsdt[4..8].copy_from_slice(&4096u32.to_le_bytes());
        let m = machine(false, good_fadt(), dsdt);
        assert_eq!(find(&m, false), Err("no valid DSDT"));

        // A table length below the header's own, and an absurd one.
        for length in [10u32, u32::MAX] {
            let mut fadt = good_fadt();
            fadt[4..8].copy_from_slice(&length.to_le_bytes());
            let m = machine(false, fadt, good_dsdt());
            assert_eq!(find(&m, false), Err("no valid FADT"));
        }

        // No \_S5 at all, or one this cannot read.
        let m = machine(
            false,
            good_fadt(),
            sdt(b"DSDT", &[0x08, b'_', b'S', b'4', b'_']),
        );
        assert_eq!(
            find(&m, false),
            Err("the DSDT has no \\_S5 package this can read")
        );
    }

    #[test]
    fn s5_survives_every_truncation_and_odd_values() {
        let aml = s5_aml(5, 5);
        assert_eq!(s5(&aml), Some((5, 5)));
        for end in 0..aml.len() {
            // Cut anywhere: an answer only once both values are there, never a panic.
            let found = s5(&aml[..end]);
            assert!(found.is_none() || found == Some((5, 5)), "{end}: {found:?}");
        }
        // Eight does not fit SLP_TYP's three bits; a method call is not a constant.
        assert_eq!(
            s5(&[0x08, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x02, 0x0a, 8, 0x00]),
            None
        );
        assert_eq!(
            s5(&[0x08, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x02, 0x14, 0x00]),
            None
        );
        // A package of one value; a PkgLength of two bytes; a word constant.
        assert_eq!(
            s5(&[0x08, b'_', b'S', b'5', b'_', 0x12, 0x03, 0x01, 0x0a, 3]),
            Some((3, 0))
        );
        assert_eq!(
            s5(&[0x08, b'_', b'S', b'5', b'_', 0x12, 0x40, 0x00, 0x02, 0x0b, 2, 0, 0x01]),
            Some((2, 1))
        );
        // The name at the very start, without a NameOp: not a declaration.
        assert_eq!(s5(b"_S5_\x12\x04\x02\x00\x00"), None);
        // Nor after another byte (a ScopeOp), nor as a path from the root after another op (Store's).
        assert_eq!(s5(b"\x10_S5_\x12\x05\x01\x0a\x05"), None);
        assert_eq!(s5(b"\x70\\_S5_\x12\x05\x01\x0a\x05"), None);
        // A name that is not a package (`Name (_S5_, 5)`): not read as one.
        assert_eq!(
            s5(&[0x08, b'_', b'S', b'5', b'_', 0x0a, 0x05, 0x01, 0x0a, 0x05]),
            None
        );
        // A word constant is both its bytes: 0x0102 does not fit SLP_TYP (its low byte alone would).
        assert_eq!(
            s5(&[0x08, b'_', b'S', b'5', b'_', 0x12, 0x07, 0x02, 0x0b, 0x02, 0x01, 0x01]),
            None
        );
    }
}
