//! The glyphs of a GRUB font file (PF2), cut to cells of 8x16 pixels: read when the payload is built (from GRUB's
//! `unicode.pf2`, GNU Unifont) for the framebuffer console, and by the boot tests that look at the screen.
//!
//! The format, as grub-mkfont writes it and GRUB's font loader reads it (grub-core/font/font.c): sections of a
//! 4-byte name and a big-endian 4-byte length, up to `DATA`, whose length is not given. `ASCE` holds the ascent in
//! pixels; `CHIX` one entry of 9 bytes per character, sorted by code point: the code point (4 bytes), storage
//! flags (1), the glyph's offset in the file (4). A glyph is its width, height, x offset, y offset (from the
//! baseline to its bottom row) and advance, each 2 bytes big-endian, then its bitmap: a bit per pixel, the
//! leftmost first, a row after the other without padding.

/// A character's cell: 16 rows, bit 7 of each the leftmost of its 8 pixels.
pub type Cell = [u8; 16];

/// The characters of [`cells`], in order: printable ASCII, then the pilcrow (how a recalled input shows its line
/// breaks).
pub fn characters() -> impl Iterator<Item = char> {
    (' '..='~').chain(['\u{b6}'])
}

fn be(bytes: &[u8], at: usize, len: usize) -> Result<u32, String> {
    let field = bytes
        .get(at..at + len)
        .ok_or("the font file is cut short")?;
    Ok(field.iter().fold(0, |n, &b| n << 8 | u32::from(b)))
}

/// The cells of `chars` in the font file `pf2`, each glyph placed on the baseline two rows above the cell's
/// bottom (Unifont's ascent is 14 of its 16 rows) and cut to the cell. Errors say what is wrong with the file.
pub fn cells(pf2: &[u8], chars: impl Iterator<Item = char>) -> Result<Vec<Cell>, String> {
    if pf2.get(..12) != Some(b"FILE\0\0\0\x04PFF2".as_slice()) {
        return Err("not a PF2 font file".into());
    }
    let (mut at, mut ascent, mut index) = (0, None, None);
    while pf2.get(at..at + 4) != Some(b"DATA".as_slice()) {
        let name = pf2.get(at..at + 4).ok_or("no DATA section")?;
        let len = be(pf2, at + 4, 4)? as usize;
        let body = pf2
            .get(at + 8..at + 8 + len)
            .ok_or("the font file is cut short")?;
        match name {
            b"ASCE" => ascent = Some(be(body, 0, 2)? as i32),
            b"CHIX" => index = Some(body),
            _ => {}
        }
        at += 8 + len;
    }
    let (ascent, index) = (
        ascent.ok_or("no ASCE section")?,
        index.ok_or("no CHIX section")?,
    );
    chars
        .map(|c| {
            let entry = index
                .chunks_exact(9)
                .find(|e| be(e, 0, 4) == Ok(c as u32))
                .ok_or_else(|| format!("no glyph for {c:?}"))?;
            let glyph = be(entry, 5, 4)? as usize;
            let field = |k: usize| be(pf2, glyph + 2 * k, 2).map(|n| i32::from(n as u16 as i16));
            let (width, height, x, y) = (field(0)?, field(1)?, field(2)?, field(3)?);
            let bits = pf2.get(glyph + 10..).ok_or("the font file is cut short")?;
            let mut cell = [0u8; 16];
            for row in 0..height {
                for column in 0..width {
                    let bit = (row * width + column) as usize;
                    let byte = bits.get(bit / 8).ok_or("the font file is cut short")?;
                    let (cx, cy) = (x + column, ascent - y - height + row);
                    if byte << (bit % 8) & 0x80 != 0
                        && (0..8).contains(&cx)
                        && (0..16).contains(&cy)
                    {
                        cell[cy as usize] |= 0x80 >> cx;
                    }
                }
            }
            Ok(cell)
        })
        .collect()
}
