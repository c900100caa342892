//! ext2/ext3/ext4, read-only: block maps and extent trees, inline data, linear (and htree, read linearly)
//! directories, symlinks. The journal is ignored: we never write, and a boot loader reads what was last
//! checkpointed. Encrypted (fscrypt) files are refused one by one; the rest of such a file system reads.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{le16, le32, FileSystem, FsError, Kind, Node, Volume};
use crate::device::{BlockDevice, SECTOR_SIZE};

pub(crate) const MAGIC: u16 = 0xEF53;

const ROOT_INODE: u64 = 2;
const COMPAT_HAS_JOURNAL: u32 = 0x4;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_EXTENTS: u32 = 0x40;
const INCOMPAT_64BIT: u32 = 0x80;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;

/// Incompatible features we read correctly.
const INCOMPAT_SUPPORTED: u32 = 0x2 // filetype
    | 0x4 // needs_recovery: the journal is ignored
    | 0x10 // meta_bg
    | 0x40 // extent
    | 0x80 // 64bit
    | 0x100 // mmp
    | 0x200 // flex_bg
    | 0x400 // ea_inode
    | 0x2000 // metadata_csum_seed
    | 0x4000 // large_dir: htree read linearly
    | 0x8000 // inline_data
    | 0x10000 // encrypt: encrypted inodes are refused when read
    | 0x20000; // casefold: names are stored as given

const INCOMPAT_NAMES: [(u32, &str); 16] = [
    (0x1, "compression"),
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extent"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x10000, "encrypt"),
    (0x20000, "casefold"),
];

const INODE_FLAG_ENCRYPT: u32 = 0x800;
const INODE_FLAG_EXTENTS: u32 = 0x80000;
const INODE_FLAG_INLINE_DATA: u32 = 0x1000_0000;
/// The in-inode extended attribute area starts with this, after the 128-byte base inode and i_extra_isize.
const XATTR_MAGIC: u32 = 0xEA02_0000;
/// Inline data past i_block is the value of the attribute "system.data": name index 7, name "data".
const XATTR_INDEX_SYSTEM: u8 = 7;
/// i_block holds an inline file's first 60 bytes; an inline directory's starts with its parent's number.
const INLINE_BLOCK: usize = 60;
const INLINE_DIR_START: usize = 4;
const EXTENT_MAGIC: u16 = 0xF30A;
/// ext4 trees are at most 5 deep (the kernel's own bound); deeper is corruption or a loop.
const MAX_EXTENT_DEPTH: u16 = 5;
/// PATH_MAX: a longer symlink is corrupt.
const MAX_LINK: u64 = 4096;
/// Indirect and extent index blocks kept: one per level covers sequential reads.
const CACHE_SLOTS: usize = 4;

/// The parts of an on-disk inode we use.
#[derive(Clone)]
struct Inode {
    number: u64,
    mode: u16,
    size: u64,
    flags: u32,
    blocks: u32,
    file_acl: u32,
    block: [u8; 60],
    /// With inline data: i_block followed by the value of system.data (empty otherwise).
    inline: Vec<u8>,
}

impl Inode {
    fn kind(&self) -> Kind {
        match self.mode & 0xF000 {
            0x4000 => Kind::Dir,
            0xA000 => Kind::Symlink,
            _ => Kind::File,
        }
    }

    fn ptr(&self, index: usize) -> u64 {
        le32(&self.block, index * 4) as u64
    }
}

/// Where a run of logical blocks lives.
enum Run {
    /// `len` blocks stored contiguously from physical block `start`.
    Data { start: u64, len: u64 },
    /// `len` blocks that read as zeros (a hole or an uninitialized extent).
    Zero { len: u64 },
}

/// An ext2, ext3 or ext4 file system.
pub struct Ext {
    volume: Volume,
    block_size: u64,
    blocks: u64,
    inodes: u64,
    inodes_per_group: u64,
    inode_size: u64,
    desc_size: usize,
    descriptors: Vec<u8>,
    filetype: bool,
    cache: RefCell<Vec<(u64, Vec<u8>)>>,
}

impl Ext {
    /// Reads and checks the superblock and group descriptors.
    // Kept out of line: inlined (through `fs::open`) into the payload's large primitive dispatch, it is bigger.
    #[inline(never)]
    pub fn open(device: Rc<dyn BlockDevice>) -> Result<Ext, FsError> {
        let mut volume = Volume { device, fs: "ext2" };
        if volume.bytes() < 2048 {
            return Err(volume.corrupt(format_args!("device too small for a superblock")));
        }
        let mut sb = [0u8; 1024];
        volume.read(1024, &mut sb)?;
        if le16(&sb, 0x38) != MAGIC {
            return Err(volume.corrupt(format_args!("bad superblock magic")));
        }
        let compat = le32(&sb, 0x5C);
        let incompat = le32(&sb, 0x60);
        volume.fs = if incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | 0x200) != 0 {
            "ext4"
        } else if compat & COMPAT_HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        };
        let unknown = incompat & !INCOMPAT_SUPPORTED;
        if unknown != 0 {
            let bit = 1u32 << unknown.trailing_zeros();
            return Err(match INCOMPAT_NAMES.iter().find(|(b, _)| *b == bit) {
                Some((_, name)) => volume.unsupported(format_args!("unsupported feature {name}")),
                None => volume.unsupported(format_args!("unsupported feature 0x{bit:x}")),
            });
        }
        let log = le32(&sb, 0x18);
        if log > 6 {
            return Err(volume.corrupt(format_args!("bad superblock: block size 1024 << {log}")));
        }
        let block_size = 1024u64 << log;
        let is64 = incompat & INCOMPAT_64BIT != 0;
        let mut blocks = le32(&sb, 0x04) as u64;
        if is64 {
            blocks |= (le32(&sb, 0x150) as u64) << 32;
        }
        let first_data_block = le32(&sb, 0x14) as u64;
        let blocks_per_group = le32(&sb, 0x20) as u64;
        let inodes_per_group = le32(&sb, 0x28) as u64;
        let inodes = le32(&sb, 0x00) as u64;
        let inode_size = if le32(&sb, 0x4C) == 0 {
            128
        } else {
            le16(&sb, 0x58) as u64
        };
        if blocks_per_group == 0 || inodes_per_group == 0 || blocks <= first_data_block {
            return Err(volume.corrupt(format_args!("bad superblock: empty groups or no blocks")));
        }
        if !inode_size.is_power_of_two() || inode_size < 128 || inode_size > block_size {
            return Err(volume.corrupt(format_args!("bad superblock: inode size {inode_size}")));
        }
        let device_blocks = volume.bytes() / block_size;
        if blocks > device_blocks {
            return Err(volume.corrupt(format_args!(
                "file system has {blocks} blocks but the device holds only {device_blocks} (truncated image?)"
            )));
        }
        let desc_size = if is64 { le16(&sb, 0xFE) as usize } else { 32 };
        if desc_size < 32
            || !desc_size.is_power_of_two()
            || desc_size as u64 > block_size
            || (is64 && desc_size < 64)
        {
            return Err(volume.corrupt(format_args!(
                "bad superblock: group descriptor size {desc_size}"
            )));
        }
        let groups = (blocks - first_data_block).div_ceil(blocks_per_group);
        if inodes > groups * inodes_per_group {
            return Err(volume.corrupt(format_args!(
                "bad superblock: {inodes} inodes do not fit {groups} groups"
            )));
        }
        // The descriptor table is bounded by the device, checked above through `blocks`.
        let per_block = block_size / desc_size as u64;
        let table_blocks = groups.div_ceil(per_block);
        let mut descriptors = vec![0u8; (table_blocks * block_size) as usize];
        let meta_bg = incompat & INCOMPAT_META_BG != 0;
        let first_meta_bg = le32(&sb, 0x104) as u64;
        let sparse = le32(&sb, 0x64) & RO_COMPAT_SPARSE_SUPER != 0;
        // The table follows the block holding the superblock (byte 1024). That is first_data_block + 1, but
        // bigalloc makes first_data_block 0 even for 1 KiB blocks, so it is derived from the block size.
        let superblock_block = 1024 / block_size;
        let table_start = superblock_block + 1;
        let contiguous = if meta_bg {
            first_meta_bg.min(table_blocks)
        } else {
            table_blocks
        };
        if table_start + contiguous > blocks {
            return Err(volume.corrupt(format_args!("group descriptors past the end")));
        }
        volume.read(
            table_start * block_size,
            &mut descriptors[..(contiguous * block_size) as usize],
        )?;
        for index in contiguous..table_blocks {
            // meta_bg: descriptor block `index` sits in the first group of its meta group, after that group's
            // superblock backup if it has one.
            let group = index * per_block;
            let has_backup =
                !sparse || group <= 1 || [3u64, 5, 7].iter().any(|&b| is_power_of(group, b));
            let at = (first_data_block + group * blocks_per_group).max(superblock_block)
                + has_backup as u64;
            if at >= blocks {
                return Err(
                    volume.corrupt(format_args!("group descriptor block {at} past the end"))
                );
            }
            let range = (index * block_size) as usize..((index + 1) * block_size) as usize;
            volume.read(at * block_size, &mut descriptors[range])?;
        }
        descriptors.truncate(groups as usize * desc_size);
        Ok(Ext {
            volume,
            block_size,
            blocks,
            inodes,
            inodes_per_group,
            inode_size,
            desc_size,
            descriptors,
            filetype: incompat & INCOMPAT_FILETYPE != 0,
            cache: RefCell::new(Vec::new()),
        })
    }

    fn inode(&self, number: u64) -> Result<Inode, FsError> {
        if number == 0 || number > self.inodes {
            return Err(self.volume.corrupt(format_args!(
                "inode {number} is past the end ({} inodes)",
                self.inodes
            )));
        }
        let group = (number - 1) / self.inodes_per_group;
        let index = (number - 1) % self.inodes_per_group;
        let d = &self.descriptors[group as usize * self.desc_size..];
        let mut table = le32(d, 0x08) as u64;
        if self.desc_size >= 64 {
            table |= (le32(d, 0x28) as u64) << 32;
        }
        let table_bytes = self.inodes_per_group * self.inode_size;
        if table == 0
            || table
                .saturating_mul(self.block_size)
                .saturating_add(table_bytes)
                > self.blocks * self.block_size
        {
            return Err(self.volume.corrupt(format_args!(
                "inode table of group {group} at block {table} is past the end"
            )));
        }
        // Inode sizes are powers of two: a small inode lies inside one sector, a large one starts on one.
        let offset = table * self.block_size + index * self.inode_size;
        let sector_start = offset - offset % SECTOR_SIZE as u64;
        let mut raw = vec![0u8; (self.inode_size as usize).max(SECTOR_SIZE)];
        self.volume.read(sector_start, &mut raw)?;
        let i = &raw[(offset - sector_start) as usize..][..self.inode_size as usize];
        let mut block = [0u8; 60];
        block.copy_from_slice(&i[0x28..0x28 + 60]);
        let mut inode = Inode {
            number,
            mode: le16(i, 0x00),
            size: le32(i, 0x04) as u64 | (le32(i, 0x6C) as u64) << 32,
            flags: le32(i, 0x20),
            blocks: le32(i, 0x1C),
            file_acl: le32(i, 0x68),
            block,
            inline: Vec::new(),
        };
        if inode.flags & INODE_FLAG_INLINE_DATA != 0 {
            inode.inline = block.to_vec();
            inode
                .inline
                .extend_from_slice(Self::system_data(i).map_err(|what| {
                    self.volume
                        .corrupt(format_args!("inode {number}: inline data: {what}"))
                })?);
        }
        Ok(inode)
    }

    /// The value of the in-inode extended attribute system.data (empty if the inode has none), or what is
    /// wrong with the attribute area. Every offset is checked against the inode's bytes `i`.
    fn system_data(i: &[u8]) -> Result<&[u8], &'static str> {
        if i.len() <= 128 {
            return Ok(&[]);
        }
        let area = 128 + le16(i, 0x80) as usize;
        if area + 4 > i.len() || le32(i, area) != XATTR_MAGIC {
            return Ok(&[]);
        }
        // Values are placed relative to the first entry; the list ends with four zero bytes.
        let first = area + 4;
        let mut at = first;
        while at + 4 <= i.len() && le32(i, at) != 0 {
            let name_len = i[at] as usize;
            let name_end = at + 16 + name_len;
            if name_end > i.len() {
                return Err("attribute entry past the end of the inode");
            }
            if i[at + 1] == XATTR_INDEX_SYSTEM && &i[at + 16..name_end] == b"data" {
                if le32(i, at + 4) != 0 {
                    return Err("system.data is stored in another inode");
                }
                let start = first + le16(i, at + 2) as usize;
                return start
                    .checked_add(le32(i, at + 8) as usize)
                    .and_then(|end| i.get(start..end))
                    .ok_or("system.data past the end of the inode");
            }
            at = name_end.next_multiple_of(4);
        }
        Ok(&[])
    }

    fn node(&self, inode: &Inode) -> Node {
        Node {
            id: inode.number,
            kind: inode.kind(),
            size: inode.size,
        }
    }

    /// A metadata block (indirect or extent index), through a tiny cache so sequential reads do not fetch the
    /// same index block once per data block.
    fn meta_block(&self, block: u64, inode: u64) -> Result<Vec<u8>, FsError> {
        if block == 0 || block >= self.blocks {
            return Err(self
                .volume
                .corrupt(format_args!("inode {inode}: block {block} is past the end")));
        }
        let mut cache = self.cache.borrow_mut();
        if let Some((_, data)) = cache.iter().find(|(b, _)| *b == block) {
            return Ok(data.clone());
        }
        let mut data = vec![0u8; self.block_size as usize];
        self.volume.read(block * self.block_size, &mut data)?;
        if cache.len() >= CACHE_SLOTS {
            cache.remove(0);
        }
        cache.push((block, data.clone()));
        Ok(data)
    }

    /// Where logical block `logical` of `inode` is, and how far that run goes.
    fn map(&self, inode: &Inode, logical: u64) -> Result<Run, FsError> {
        let run = if inode.flags & INODE_FLAG_EXTENTS != 0 {
            let root = inode.block;
            self.map_extent(inode, &root, logical, None)?
        } else {
            self.map_indirect(inode, logical)?
        };
        if let Run::Data { start, len } = run {
            if start == 0 || start.checked_add(len).is_none_or(|end| end > self.blocks) {
                return Err(self.volume.corrupt(format_args!(
                    "inode {}: block {start} (+{len}) is past the end ({} blocks)",
                    inode.number, self.blocks
                )));
            }
        }
        Ok(run)
    }

    fn map_extent(
        &self,
        inode: &Inode,
        node: &[u8],
        logical: u64,
        expect_depth: Option<u16>,
    ) -> Result<Run, FsError> {
        let entries = le16(node, 2) as usize;
        let depth = le16(node, 6);
        if le16(node, 0) != EXTENT_MAGIC
            || 12 + entries * 12 > node.len()
            || depth > MAX_EXTENT_DEPTH
            || expect_depth.is_some_and(|d| d != depth)
        {
            return Err(self
                .volume
                .corrupt(format_args!("inode {}: bad extent tree node", inode.number)));
        }
        let entry = |i: usize| &node[12 + i * 12..24 + i * 12];
        if depth == 0 {
            for i in 0..entries {
                let e = entry(i);
                let first = le32(e, 0) as u64;
                let raw_len = le16(e, 4) as u64;
                let (len, uninit) = if raw_len > 32768 {
                    (raw_len - 32768, true)
                } else {
                    (raw_len, false)
                };
                if logical >= first && logical < first + len {
                    let skip = logical - first;
                    if uninit {
                        return Ok(Run::Zero { len: len - skip });
                    }
                    let start = (le16(e, 6) as u64) << 32 | le32(e, 8) as u64;
                    return Ok(Run::Data {
                        start: start + skip,
                        len: len - skip,
                    });
                }
                if first > logical {
                    return Ok(Run::Zero {
                        len: first - logical,
                    });
                }
            }
            return Ok(Run::Zero { len: 1 });
        }
        let mut chosen = None;
        for i in 0..entries {
            if le32(entry(i), 0) as u64 <= logical {
                chosen = Some(i);
            } else {
                break;
            }
        }
        let Some(i) = chosen else {
            return Ok(Run::Zero { len: 1 });
        };
        let e = entry(i);
        let child = (le16(e, 8) as u64) << 32 | le32(e, 4) as u64;
        let block = self.meta_block(child, inode.number)?;
        self.map_extent(inode, &block, logical, Some(depth - 1))
    }

    fn map_indirect(&self, inode: &Inode, logical: u64) -> Result<Run, FsError> {
        let per = self.block_size / 4;
        if logical < 12 {
            let i = logical as usize;
            let start = inode.ptr(i);
            if start == 0 {
                return Ok(Run::Zero { len: 1 });
            }
            let mut len = 1;
            while i + (len as usize) < 12 && inode.ptr(i + len as usize) == start + len {
                len += 1;
            }
            return Ok(Run::Data { start, len });
        }
        // Which tree (single, double, triple) and the index inside it.
        let mut rest = logical - 12;
        let mut levels = 1u32;
        let mut span = per;
        while rest >= span {
            rest -= span;
            levels += 1;
            if levels > 3 {
                return Err(self.volume.corrupt(format_args!(
                    "inode {}: block {logical} beyond triple indirect",
                    inode.number
                )));
            }
            span *= per;
        }
        let mut block = inode.ptr(11 + levels as usize);
        for level in (0..levels).rev() {
            if block == 0 {
                return Ok(Run::Zero { len: 1 });
            }
            let data = self.meta_block(block, inode.number)?;
            let unit = per.pow(level);
            let index = (rest / unit) as usize;
            rest %= unit;
            block = le32(&data, index * 4) as u64;
            if level == 0 {
                if block == 0 {
                    return Ok(Run::Zero { len: 1 });
                }
                let mut len = 1u64;
                while index + (len as usize) < per as usize
                    && le32(&data, (index + len as usize) * 4) as u64 == block + len
                {
                    len += 1;
                }
                return Ok(Run::Data { start: block, len });
            }
        }
        Ok(Run::Zero { len: 1 })
    }

    fn read_inode_data(
        &self,
        inode: &Inode,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, FsError> {
        if offset >= inode.size {
            return Ok(0);
        }
        let total = (buf.len() as u64).min(inode.size - offset) as usize;
        if inode.flags & INODE_FLAG_INLINE_DATA != 0 {
            if inode.size > inode.inline.len() as u64 {
                return Err(self.volume.corrupt(format_args!(
                    "inode {}: {} bytes long but its inline data holds {}",
                    inode.number,
                    inode.size,
                    inode.inline.len()
                )));
            }
            let at = offset as usize;
            buf[..total].copy_from_slice(&inode.inline[at..at + total]);
            return Ok(total);
        }
        let bs = self.block_size;
        let mut done = 0usize;
        let mut scratch: Vec<u8> = Vec::new();
        while done < total {
            let position = offset + done as u64;
            let logical = position / bs;
            let within = position % bs;
            let want = (total - done) as u64;
            match self.map(inode, logical)? {
                Run::Zero { len } => {
                    let n = (len * bs - within).min(want) as usize;
                    buf[done..done + n].fill(0);
                    done += n;
                }
                Run::Data { start, len } if within == 0 && want >= bs => {
                    // Whole blocks go straight into the caller's buffer in one device read.
                    let n = (len.min(want / bs) * bs) as usize;
                    self.volume.read(start * bs, &mut buf[done..done + n])?;
                    done += n;
                }
                Run::Data { start, .. } => {
                    scratch.resize(bs as usize, 0);
                    self.volume.read(start * bs, &mut scratch)?;
                    let n = (bs - within).min(want) as usize;
                    buf[done..done + n]
                        .copy_from_slice(&scratch[within as usize..within as usize + n]);
                    done += n;
                }
            }
        }
        Ok(total)
    }

    /// Calls `visit(name, inode)` for each entry of a directory but `.` and `..`; stops when it returns true.
    /// (`dyn`: one copy of the walk for `lookup` and `list`.)
    fn scan(&self, dir: &Inode, visit: &mut dyn FnMut(&[u8], u64) -> bool) -> Result<(), FsError> {
        if dir.flags & INODE_FLAG_INLINE_DATA != 0 {
            // Two separate runs of entries: the rest of i_block after the parent's number, and system.data.
            let (head, tail) = dir.inline.split_at(INLINE_BLOCK);
            if !self.entries(
                dir,
                &head[INLINE_DIR_START..],
                INLINE_DIR_START as u64,
                visit,
            )? {
                self.entries(dir, tail, INLINE_BLOCK as u64, visit)?;
            }
            return Ok(());
        }
        if dir.size > self.volume.bytes() {
            return Err(self.volume.corrupt(format_args!(
                "directory inode {} is larger than the device",
                dir.number
            )));
        }
        let bs = self.block_size as usize;
        let mut block = vec![0u8; bs];
        let count = dir.size.div_ceil(bs as u64);
        for index in 0..count {
            let got = self.read_inode_data(dir, index * bs as u64, &mut block)?;
            if self.entries(dir, &block[..got], index * bs as u64, visit)? {
                break;
            }
        }
        Ok(())
    }

    /// Hands the entries in `data`, which starts at byte `position` of directory `dir`, to `visit`; true if
    /// it stopped the walk.
    fn entries(
        &self,
        dir: &Inode,
        data: &[u8],
        position: u64,
        visit: &mut dyn FnMut(&[u8], u64) -> bool,
    ) -> Result<bool, FsError> {
        let mut at = 0usize;
        while at + 8 <= data.len() {
            let inode = le32(data, at) as u64;
            let rec_len = le16(data, at + 4) as usize;
            let name_len = if self.filetype {
                data[at + 6] as usize
            } else {
                le16(data, at + 6) as usize
            };
            if rec_len < 8
                || !rec_len.is_multiple_of(4)
                || at + rec_len > data.len()
                || 8 + name_len > rec_len
            {
                return Err(self.volume.corrupt(format_args!(
                    "directory inode {}: bad entry (rec_len {rec_len}) at byte {}",
                    dir.number,
                    position + at as u64
                )));
            }
            let name = &data[at + 8..at + 8 + name_len];
            if inode != 0 && name != b"." && name != b".." && visit(name, inode) {
                return Ok(true);
            }
            at += rec_len;
        }
        Ok(false)
    }

    /// The inode behind `node`, for reading its contents: an encrypted one is refused, never shown as
    /// ciphertext or scrambled names.
    fn inode_of(&self, node: &Node) -> Result<Inode, FsError> {
        let inode = self.inode(node.id)?;
        if inode.flags & INODE_FLAG_ENCRYPT != 0 {
            return Err(self.volume.unsupported(format_args!(
                "inode {}: encrypted file (fscrypt): cannot be read",
                inode.number
            )));
        }
        Ok(inode)
    }
}

fn is_power_of(mut n: u64, base: u64) -> bool {
    if n == 0 {
        return false;
    }
    while n.is_multiple_of(base) {
        n /= base;
    }
    n == 1
}

impl FileSystem for Ext {
    fn type_name(&self) -> &'static str {
        self.volume.fs
    }

    fn device(&self) -> &Rc<dyn BlockDevice> {
        &self.volume.device
    }

    fn root(&self) -> Node {
        Node {
            id: ROOT_INODE,
            kind: Kind::Dir,
            size: 0,
        }
    }

    fn lookup(&self, dir: &Node, name: &str) -> Result<Option<Node>, FsError> {
        let dir = self.inode_of(dir)?;
        let mut found = None;
        self.scan(&dir, &mut |entry, inode| {
            if entry == name.as_bytes() {
                found = Some(inode);
                true
            } else {
                false
            }
        })?;
        match found {
            Some(number) => Ok(Some(self.node(&self.inode(number)?))),
            None => Ok(None),
        }
    }

    fn list(&self, dir: &Node, visit: &mut dyn FnMut(String) -> bool) -> Result<(), FsError> {
        let dir = self.inode_of(dir)?;
        self.scan(&dir, &mut |name, _| {
            visit(String::from_utf8_lossy(name).into_owned())
        })
    }

    fn read_at(&self, file: &Node, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let inode = self.inode_of(file)?;
        self.read_inode_data(&inode, offset, buf)
    }

    fn read_link(&self, link: &Node) -> Result<String, FsError> {
        let inode = self.inode_of(link)?;
        if inode.size > MAX_LINK {
            return Err(self.volume.corrupt(format_args!(
                "symlink inode {} is {} bytes long",
                inode.number, inode.size
            )));
        }
        let acl_blocks = if inode.file_acl != 0 {
            (self.block_size / 512) as u32
        } else {
            0
        };
        let fast =
            inode.size < 60 && inode.flags & INODE_FLAG_EXTENTS == 0 && inode.blocks == acl_blocks;
        let target = if fast {
            inode.block[..inode.size as usize].to_vec()
        } else {
            let mut data = vec![0u8; inode.size as usize];
            let n = self.read_inode_data(&inode, 0, &mut data)?;
            data.truncate(n);
            data
        };
        String::from_utf8(target).map_err(|_| {
            self.volume
                .corrupt(format_args!("symlink inode {} is not UTF-8", inode.number))
        })
    }
}
