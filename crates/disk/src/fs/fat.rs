//! FAT12/16/32, read-only, with VFAT long names (checksummed), and 8.3 names in code page 437 with the NT
//! lower-case bits.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{le16, le32, FileSystem, FsError, Kind, Node, Volume};
use crate::device::BlockDevice;

/// The FAT specification's limit on directory entries; a longer directory has a looping cluster chain.
const MAX_DIR_ENTRIES: u64 = 65536;
/// Bytes of FAT kept in memory around the last entry read: sequential chains touch neighbouring entries.
const FAT_WINDOW: u64 = 4096;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
const ATTR_LFN: u8 = 0x0F;

/// A boot sector with a FAT BPB: the checks `open` needs before it trusts the numbers.
pub(crate) fn looks_like_fat(head: &[u8]) -> bool {
    head.len() >= 512
        && head[510] == 0x55
        && head[511] == 0xAA
        && matches!(le16(head, 11), 512 | 1024 | 2048 | 4096)
        && head[13].is_power_of_two()
        && le16(head, 14) >= 1
        && head[16] >= 1
}

/// A FAT12, FAT16 or FAT32 file system.
pub struct Fat {
    volume: Volume,
    bits: u32,
    cluster_bytes: u64,
    fat_start: u64,
    fat_bytes: u64,
    root_start: u64,
    root_bytes: u64,
    data_start: u64,
    clusters: u64,
    root_cluster: u64,
    window: RefCell<(u64, Vec<u8>)>,
}

/// One directory entry, long name resolved.
struct Entry {
    name: String,
    short: String,
    attr: u8,
    cluster: u64,
    size: u64,
}

fn lfn_checksum(short: &[u8]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &c| sum.rotate_right(1).wrapping_add(c))
}

/// Bytes 0x80-0xFF of code page 437 in Unicode, as Unicode's mapping file CP437.TXT gives them. An 8.3 name
/// does not say its code page; Linux's vfat decodes it through 437 unless mounted with another `codepage=`, and
/// names must read as Linux shows them.
const CP437_HIGH: [u16; 128] = [
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7, // 0x80
    0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4, 0x00C5, // 0x88
    0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9, // 0x90
    0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192, // 0x98
    0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA, // 0xA0
    0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB, // 0xA8
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556, // 0xB0
    0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510, // 0xB8
    0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F, // 0xC0
    0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567, // 0xC8
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B, // 0xD0
    0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580, // 0xD8
    0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4, // 0xE0
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229, // 0xE8
    0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248, // 0xF0
    0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0, // 0xF8
];

/// The code page 437 letters above ASCII that an NT lower-case bit lowers, with their partners: those Linux's
/// cp437 table lowers (`charset2lower`), no more. Greek Σ and Φ have partners in the page (σ, φ) and are lowered;
/// Γ, Θ and Ω have none, so Linux shows them upper-case under the bit, and so do we. (mtools lowers with Unicode's
/// rules instead and lists 0xEA "X" with the base bit as "ωx"; Linux shows "Ωx".)
const CP437_LOWER: [(u8, u8); 10] = [
    (0x80, 0x87), // Ç ç
    (0x8E, 0x84), // Ä ä
    (0x8F, 0x86), // Å å
    (0x90, 0x82), // É é
    (0x92, 0x91), // Æ æ
    (0x99, 0x94), // Ö ö
    (0x9A, 0x81), // Ü ü
    (0xA5, 0xA4), // Ñ ñ
    (0xE4, 0xE5), // Σ σ
    (0xE8, 0xED), // Φ φ
];

fn cp437(byte: u8) -> char {
    match byte.checked_sub(0x80) {
        None => byte as char,
        Some(high) => char::from_u32(CP437_HIGH[high as usize] as u32).unwrap_or('\u{FFFD}'),
    }
}

/// The 8.3 name as Linux shows it: bytes in code page 437, NT bit 0x08 lower-cases the base, 0x10 the extension.
fn short_name(raw: &[u8], case: u8) -> String {
    let part = |bytes: &[u8], lower: bool| -> String {
        let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
        bytes[..end]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                // A name starting with 0xE5 stores 0x05, since 0xE5 there marks a deleted entry.
                let b = if i == 0 && b == 0x05 { 0xE5 } else { b };
                if !lower {
                    cp437(b)
                } else if let Some(&(_, small)) = CP437_LOWER.iter().find(|&&(big, _)| big == b) {
                    cp437(small)
                } else {
                    cp437(b.to_ascii_lowercase())
                }
            })
            .collect()
    };
    let mut name = part(&raw[0..8], case & 0x08 != 0);
    let ext = part(&raw[8..11], case & 0x10 != 0);
    if !ext.is_empty() {
        name.push('.');
        name.push_str(&ext);
    }
    name
}

/// A character in the case FAT lookups compare names in: ASCII letters and the code page 437 pairs lowered.
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    CP437_LOWER
        .iter()
        .find(|&&(big, _)| cp437(big) == c)
        .map_or(c, |&(_, small)| cp437(small))
}

/// FAT matches names without regard to case. Linux folds with the table of the mount's `iocharset=`, so which
/// letters fold varies; we fold ASCII and the letters an 8.3 name can lower, so that a name shown is found in
/// either case and no Unicode case table enters the payload.
fn same_name(a: &str, b: &str) -> bool {
    a.chars().map(fold).eq(b.chars().map(fold))
}

impl Fat {
    /// Reads the BPB and works out the FAT type from the cluster count, as the specification says.
    // Kept out of line: inlined (through `fs::open`) into the payload's large primitive dispatch, it is bigger.
    #[inline(never)]
    pub fn open(device: Rc<dyn BlockDevice>) -> Result<Fat, FsError> {
        let mut volume = Volume { device, fs: "fat" };
        let mut b = [0u8; 512];
        volume.read(0, &mut b)?;
        if !looks_like_fat(&b) {
            return Err(volume.corrupt(format_args!("bad boot sector")));
        }
        let bps = le16(&b, 11) as u64;
        let cluster_bytes = bps * b[13] as u64;
        let reserved = le16(&b, 14) as u64;
        let fats = b[16] as u64;
        let root_entries = le16(&b, 17) as u64;
        let total = match le16(&b, 19) {
            0 => le32(&b, 32) as u64,
            n => n as u64,
        };
        let fat_sectors = match le16(&b, 22) {
            0 => le32(&b, 36) as u64,
            n => n as u64,
        };
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let meta = reserved + fats * fat_sectors + root_sectors;
        if fat_sectors == 0 || total <= meta {
            return Err(volume.corrupt(format_args!("bad boot sector: no room for data")));
        }
        if total * bps > volume.bytes() {
            return Err(volume.corrupt(format_args!(
                "file system has {} bytes but the device holds only {} (truncated image?)",
                total * bps,
                volume.bytes()
            )));
        }
        let clusters = (total - meta) / b[13] as u64;
        let bits = if clusters < 4085 {
            12
        } else if clusters < 65525 {
            16
        } else {
            32
        };
        volume.fs = match bits {
            12 => "fat12",
            16 => "fat16",
            _ => "fat32",
        };
        let fat_bytes = fat_sectors * bps;
        if (clusters + 2) * bits as u64 / 8 > fat_bytes {
            return Err(volume.corrupt(format_args!(
                "bad boot sector: the FAT is too small for {clusters} clusters"
            )));
        }
        let root_cluster = if bits == 32 { le32(&b, 44) as u64 } else { 0 };
        let fat = Fat {
            volume,
            bits,
            cluster_bytes,
            fat_start: reserved * bps,
            fat_bytes,
            root_start: (reserved + fats * fat_sectors) * bps,
            root_bytes: root_sectors * bps,
            data_start: meta * bps,
            clusters,
            root_cluster,
            window: RefCell::new((0, Vec::new())),
        };
        if bits == 32 {
            fat.check_cluster(root_cluster)?;
        }
        Ok(fat)
    }

    fn check_cluster(&self, cluster: u64) -> Result<(), FsError> {
        if cluster < 2 || cluster >= self.clusters + 2 {
            return Err(self.volume.corrupt(format_args!(
                "cluster {cluster} is past the end ({} clusters)",
                self.clusters
            )));
        }
        Ok(())
    }

    /// The cluster after `cluster` in its chain, or `None` at the end of the chain.
    fn next(&self, cluster: u64) -> Result<Option<u64>, FsError> {
        let offset = match self.bits {
            12 => cluster + cluster / 2,
            16 => cluster * 2,
            _ => cluster * 4,
        };
        let size = if self.bits == 32 { 4 } else { 2 };
        if offset + size > self.fat_bytes {
            return Err(self
                .volume
                .corrupt(format_args!("cluster {cluster} is past the end of the FAT")));
        }
        let mut window = self.window.borrow_mut();
        if window.1.is_empty()
            || offset < window.0
            || offset + size > window.0 + window.1.len() as u64
        {
            let start = offset - offset % 512;
            let len = FAT_WINDOW.min(self.fat_bytes - start);
            window.1.resize(len as usize, 0);
            window.0 = start;
            self.volume.read(self.fat_start + start, &mut window.1)?;
        }
        let at = (offset - window.0) as usize;
        let entry = &window.1;
        let value = match self.bits {
            12 => {
                let v = le16(entry, at) as u64;
                if cluster & 1 == 1 {
                    v >> 4
                } else {
                    v & 0xFFF
                }
            }
            16 => le16(entry, at) as u64,
            _ => le32(entry, at) as u64 & 0x0FFF_FFFF,
        };
        let end = match self.bits {
            12 => 0xFF8,
            16 => 0xFFF8,
            _ => 0x0FFF_FFF8,
        };
        if value >= end {
            return Ok(None);
        }
        drop(window);
        if value < 2 || value >= self.clusters + 2 {
            return Err(self.volume.corrupt(format_args!(
                "cluster chain through {cluster} is broken (next {value:#x})"
            )));
        }
        Ok(Some(value))
    }

    fn cluster_offset(&self, cluster: u64) -> u64 {
        self.data_start + (cluster - 2) * self.cluster_bytes
    }

    /// Reads `buf.len()` bytes of the chain starting at `first`, from byte `offset`; runs of consecutive clusters
    /// go to the device in one read.
    fn read_chain(&self, first: u64, offset: u64, buf: &mut [u8]) -> Result<(), FsError> {
        let cs = self.cluster_bytes;
        self.check_cluster(first)?;
        let mut cluster = first;
        // Any chain longer than the volume has clusters loops.
        let mut steps = 0u64;
        let mut step = |c: u64| -> Result<u64, FsError> {
            steps += 1;
            if steps > self.clusters {
                return Err(self
                    .volume
                    .corrupt(format_args!("cluster chain from {first} loops")));
            }
            self.next(c)?.ok_or_else(|| {
                self.volume
                    .corrupt(format_args!("cluster chain from {first} ends early"))
            })
        };
        for _ in 0..offset / cs {
            cluster = step(cluster)?;
        }
        let mut within = offset % cs;
        let mut done = 0usize;
        let mut scratch = Vec::new();
        while done < buf.len() {
            let want = (buf.len() - done) as u64;
            if within == 0 && want >= cs {
                let most = want / cs;
                let mut run = 1u64;
                let mut after = None;
                while run < most {
                    let n = step(cluster + run - 1)?;
                    if n != cluster + run {
                        after = Some(n);
                        break;
                    }
                    run += 1;
                }
                let bytes = (run * cs) as usize;
                self.volume
                    .read(self.cluster_offset(cluster), &mut buf[done..done + bytes])?;
                done += bytes;
                if done < buf.len() {
                    cluster = match after {
                        Some(n) => n,
                        None => step(cluster + run - 1)?,
                    };
                }
            } else {
                scratch.resize(cs as usize, 0);
                self.volume
                    .read(self.cluster_offset(cluster), &mut scratch)?;
                let n = (cs - within).min(want) as usize;
                buf[done..done + n].copy_from_slice(&scratch[within as usize..within as usize + n]);
                done += n;
                within = 0;
                if done < buf.len() {
                    cluster = step(cluster)?;
                }
            }
        }
        Ok(())
    }

    /// Calls `visit` with each entry of a directory but `.`/`..`/labels; stops when it returns true. (`dyn`: one
    /// copy of the loop for `lookup` and `list`.)
    fn scan(&self, dir: &Node, visit: &mut dyn FnMut(&Entry) -> bool) -> Result<(), FsError> {
        let mut lfn: Vec<u16> = Vec::new();
        let mut lfn_sum = 0u8;
        let mut lfn_next = 0u8;
        let fixed_root = self.bits != 32 && dir.id == 0;
        let chunk = if fixed_root {
            self.root_bytes
        } else {
            self.cluster_bytes
        };
        let mut buf = vec![0u8; chunk as usize];
        let mut cluster = dir.id;
        if !fixed_root {
            self.check_cluster(cluster)?;
        }
        let mut entries = 0u64;
        loop {
            if fixed_root {
                self.volume.read(self.root_start, &mut buf)?;
            } else {
                self.volume.read(self.cluster_offset(cluster), &mut buf)?;
            }
            for raw in buf.chunks_exact(32) {
                entries += 1;
                if raw[0] == 0 {
                    return Ok(());
                }
                if raw[0] == 0xE5 {
                    lfn_next = 0;
                    continue;
                }
                let attr = raw[11];
                if attr & 0x3F == ATTR_LFN {
                    let order = raw[0] & 0x1F;
                    if raw[0] & 0x40 != 0 && (1..=20).contains(&order) {
                        lfn.clear();
                        lfn.resize(order as usize * 13, 0xFFFF);
                        lfn_sum = raw[13];
                    } else if order == 0 || order + 1 != lfn_next || raw[13] != lfn_sum {
                        lfn_next = 0;
                        continue;
                    }
                    let at = (order as usize - 1) * 13;
                    let units = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
                    for (k, &p) in units.iter().enumerate() {
                        lfn[at + k] = le16(raw, p);
                    }
                    lfn_next = order;
                    continue;
                }
                let with_long = lfn_next == 1 && lfn_checksum(&raw[0..11]) == lfn_sum;
                lfn_next = 0;
                if attr & ATTR_VOLUME != 0 || raw[0] == b'.' {
                    continue;
                }
                let short = short_name(&raw[0..11], raw[12]);
                let name = if with_long {
                    // Up to its first 0, or the padding (0xFFFF) after a name that fills no whole entry.
                    let mut length = 0;
                    while length < lfn.len() && !matches!(lfn[length], 0 | 0xFFFF) {
                        length += 1;
                    }
                    crate::utf16::text(&lfn[..length])
                } else {
                    short.clone()
                };
                let high = if self.bits == 32 {
                    (le16(raw, 20) as u64) << 16
                } else {
                    0
                };
                let entry = Entry {
                    name,
                    short,
                    attr,
                    cluster: high | le16(raw, 26) as u64,
                    size: le32(raw, 28) as u64,
                };
                if visit(&entry) {
                    return Ok(());
                }
            }
            if fixed_root {
                return Ok(());
            }
            if entries >= MAX_DIR_ENTRIES {
                return Err(self.volume.corrupt(format_args!(
                    "directory at cluster {} is too long (a loop?)",
                    dir.id
                )));
            }
            match self.next(cluster)? {
                Some(n) => cluster = n,
                None => return Ok(()),
            }
        }
    }
}

impl FileSystem for Fat {
    fn type_name(&self) -> &'static str {
        self.volume.fs
    }

    fn device(&self) -> &Rc<dyn BlockDevice> {
        &self.volume.device
    }

    fn root(&self) -> Node {
        Node {
            id: self.root_cluster,
            kind: Kind::Dir,
            size: 0,
        }
    }

    fn lookup(&self, dir: &Node, name: &str) -> Result<Option<Node>, FsError> {
        let mut found = None;
        self.scan(dir, &mut |e| {
            if same_name(&e.name, name) || same_name(&e.short, name) {
                let kind = if e.attr & ATTR_DIR != 0 {
                    Kind::Dir
                } else {
                    Kind::File
                };
                let size = if kind == Kind::Dir { 0 } else { e.size };
                found = Some(Node {
                    id: e.cluster,
                    kind,
                    size,
                });
                true
            } else {
                false
            }
        })?;
        // A directory entry with cluster 0 is the root on FAT32 too (only `..` should, but be kind).
        if let Some(Node {
            id: 0,
            kind: Kind::Dir,
            ..
        }) = found
        {
            return Ok(Some(self.root()));
        }
        Ok(found)
    }

    fn list(&self, dir: &Node, visit: &mut dyn FnMut(String) -> bool) -> Result<(), FsError> {
        self.scan(dir, &mut |e| visit(e.name.clone()))
    }

    fn read_at(&self, file: &Node, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        if offset >= file.size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(file.size - offset) as usize;
        self.read_chain(file.id, offset, &mut buf[..n])?;
        Ok(n)
    }

    fn read_link(&self, _link: &Node) -> Result<String, FsError> {
        Err(self
            .volume
            .corrupt(format_args!("FAT has no symbolic links")))
    }
}
