//! The newc ("070701") cpio archive that carries `files` to the initramfs, and how archives are concatenated.
//!
//! Linux unpacks every archive of the initrd area in order, later files replacing earlier ones
//! (init/initramfs.c). Between archives it skips zero bytes, and it recognises an uncompressed archive only
//! when its "070701" starts at a 4-byte aligned offset of the whole area; anything else is taken as a
//! compressed archive. So after a compressed initrd whose length is not a multiple of 4, our archive must
//! start at the next multiple of 4, with zeros in between: [`concatenation_offsets`] lays the area out so.

use crate::Error;
use alloc::vec::Vec;

/// Mode of the directories the archive creates (040755: an existing /etc keeps its usual permissions).
pub const DIR_MODE: u32 = 0o040755;
/// Mode of the files: regular, read-only for root (key files).
pub const FILE_MODE: u32 = 0o100400;

const MAGIC: &[u8; 6] = b"070701";

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn entry(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, name: &[u8], data: &[u8]) {
    out.extend_from_slice(MAGIC);
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        name.len() as u32 + 1,
        0, // check
    ];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for field in fields {
        for shift in (0..8).rev() {
            out.push(HEX[((field >> (shift * 4)) & 0xf) as usize]);
        }
    }
    out.extend_from_slice(name);
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

/// Splits "/etc/keys/root.key" into its components, refusing what an archive cannot hold safely. (Bytes, not
/// `str`: the names only go into the archive, and a byte split is smaller code than `str::split`'s searcher.)
fn components(path: &str) -> Result<Vec<&[u8]>, Error> {
    let path = path.as_bytes();
    if path.contains(&0) {
        return Err(Error::BadPath("a path contains a NUL byte"));
    }
    let mut parts = Vec::new();
    for part in path.split(|&b| b == b'/') {
        // (Refused here at once: a path with such a part is not empty, so no earlier error is passed over.)
        if part == b"." || part == b".." {
            return Err(Error::BadPath("a path contains . or .."));
        }
        if !part.is_empty() {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        return Err(Error::BadPath("an empty path (or /)"));
    }
    Ok(parts)
}

/// "etc", "keys" -> "etc/keys" (a plain loop: `join` is a kilobyte of generic code in the payload).
fn joined(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    out
}

/// One newc archive holding `files` (path -> contents): parent directories first (040755), files 0100400,
/// each header+name and each data padded to 4 bytes, then TRAILER!!!. Paths are absolute or relative to the
/// root, both meaning the same; a path given twice, or both as a file and as a directory, is refused.
pub fn archive(files: &[(&str, &[u8])]) -> Result<Vec<u8>, Error> {
    if files.iter().any(|(_, data)| data.len() > u32::MAX as usize) {
        return Err(Error::BadPath("a file is larger than 4 GiB"));
    }
    let mut dirs: Vec<Vec<u8>> = Vec::new();
    let mut entries: Vec<(Vec<u8>, &[u8])> = Vec::with_capacity(files.len());
    for &(path, data) in files {
        let parts = components(path)?;
        for depth in 1..parts.len() {
            let dir = joined(&parts[..depth]);
            // Kept sorted as it grows (every parent sorts before its children); no sort routine needed.
            if let Err(at) = dirs.binary_search(&dir) {
                dirs.insert(at, dir);
            }
        }
        let name = joined(&parts);
        if entries.iter().any(|(n, _)| *n == name) {
            return Err(Error::BadPath("the same path is given twice"));
        }
        entries.push((name, data));
    }
    if entries.iter().any(|(n, _)| dirs.contains(n)) {
        return Err(Error::BadPath("a path is both a file and a directory"));
    }
    let mut out = Vec::new();
    let mut ino = 1;
    for dir in &dirs {
        entry(&mut out, ino, DIR_MODE, 2, dir, &[]);
        ino += 1;
    }
    for (name, data) in &entries {
        entry(&mut out, ino, FILE_MODE, 1, name, data);
        ino += 1;
    }
    entry(&mut out, 0, 0, 1, b"TRAILER!!!", &[]);
    Ok(out)
}

/// Where each of `lengths` (the initrds in order, then our archive) starts in the one contiguous initrd area,
/// and the area's total length. Each piece starts 4-byte aligned; the gaps must hold zeros.
pub fn concatenation_offsets(lengths: &[u64]) -> (Vec<u64>, u64) {
    let mut offsets = Vec::with_capacity(lengths.len());
    let mut at = 0u64;
    for &len in lengths {
        at = at.saturating_add(3) & !3;
        offsets.push(at);
        at = at.saturating_add(len);
    }
    (offsets, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_alignment() {
        let out = archive(&[("/a", b"xyz")]).unwrap();
        assert_eq!(&out[..6], b"070701");
        // mode field is the second 8-hex-digit field.
        assert_eq!(&out[14..22], b"00008100");
        assert_eq!(&out[54..62], b"00000003");
        assert_eq!(&out[94..102], b"00000002");
        // 110 + "a\0" = 112, data "xyz" padded to 116.
        assert_eq!(&out[110..112], b"a\0");
        assert_eq!(&out[112..116], b"xyz\0");
        assert_eq!(&out[116..122], b"070701");
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn refuses_bad_paths() {
        assert!(archive(&[("/", b"")]).is_err());
        assert!(archive(&[("/etc/../x", b"")]).is_err());
        assert!(archive(&[("/x", b""), ("x", b"")]).is_err());
        assert!(archive(&[("/x", b""), ("/x/y", b"")]).is_err());
    }

    #[test]
    fn offsets_are_aligned() {
        assert_eq!(
            concatenation_offsets(&[5, 3, 8]),
            (alloc::vec![0, 8, 12], 20)
        );
        assert_eq!(concatenation_offsets(&[]), (alloc::vec![], 0));
    }
}
