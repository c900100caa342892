//! The screen: 80x25 cells of text, scrolling, a cursor. On a BIOS PC, the VGA text screen (at 0xb8000, with its
//! hardware cursor); on a UEFI PC, where GRUB passes on a graphics framebuffer instead, cells of 8x16 pixels drawn
//! from GRUB's font (see `pf2`), scaled up by a whole factor to fill as much of the screen as fits, with an
//! underline for the cursor.

use bootscript_system::Framebuffer;

use crate::arch::paging;
use crate::arch::port::outb;

const WIDTH: usize = 80;
const HEIGHT: usize = 25;
const BUFFER: usize = 0xb8000;
/// Light grey on black.
const ATTRIBUTE: u16 = 0x07 << 8;
const CRTC_INDEX: u16 = 0x3d4;
const CRTC_DATA: u16 = 0x3d5;

/// The font's cells for the characters `pf2::characters` lists (made by build.rs).
static FONT: &[u8; 96 * 16] = include_bytes!(concat!(env!("OUT_DIR"), "/font.bin"));

/// The text screen and where the cursor is.
pub struct Vga {
    column: usize,
    row: usize,
    pixels: Option<Pixels>,
}

/// A framebuffer of 32-bit pixels the cells are drawn on.
struct Pixels {
    base: *mut u32,
    /// Pixels from one line to the next.
    stride: usize,
    /// Screen pixels per font pixel, each way.
    scale: usize,
    /// The background's pixel, then the text's.
    colors: [u32; 2],
    /// The character in each cell (the console's code page 437 byte), as `get` reads it back.
    cells: [u8; WIDTH * HEIGHT],
    /// The cell the cursor is drawn under.
    cursor: usize,
}

// SAFETY: the framebuffer is the screen's, reached only through the console's lock, as the VGA text buffer is.
unsafe impl Send for Pixels {}

impl Vga {
    /// Takes over the screen: clears it and homes the cursor.
    pub fn new() -> Vga {
        Vga::with(None)
    }

    /// Takes over the framebuffer as a screen of text, or says why it cannot: its pixels must be of 32 bits, and
    /// it must be at least 640x400. One above 4 GiB (a graphics card's, where the firmware maps large BARs high) is
    /// mapped where it is.
    pub fn on_framebuffer(fb: &Framebuffer) -> Result<Vga, &'static str> {
        let bytes = u64::from(fb.pitch) * u64::from(fb.height);
        if fb.bits_per_pixel != 32 || fb.pitch < fb.width.saturating_mul(4) {
            return Err("its pixels are not of 32 bits");
        }
        if !paging::map_above_4g(fb.address, bytes) {
            return Err("it lies past what can be mapped");
        }
        let scale = (fb.width as usize / (8 * WIDTH)).min(fb.height as usize / (16 * HEIGHT));
        if scale == 0 {
            return Err("it is smaller than 640x400");
        }
        // Light grey on black, as on the VGA text screen.
        let colors = [0, 0xaa].map(|level: u32| {
            fb.colors.iter().fold(0, |pixel, &(size, position)| {
                pixel | (level >> 8u8.saturating_sub(size)) << position.min(31)
            })
        });
        let base = fb.address as *mut u32;
        let stride = fb.pitch as usize / 4;
        for at in 0..stride * fb.height as usize {
            // SAFETY: inside the framebuffer (pitch x height bytes, identity mapped: below 4 GiB, or mapped above),
            // which is the screen's; volatile because the display reads it.
            unsafe { base.add(at).write_volatile(colors[0]) }
        }
        let mut pixels = Pixels {
            base,
            stride,
            scale,
            colors,
            cells: [b' '; WIDTH * HEIGHT],
            cursor: 0,
        };
        // The cursor, home.
        pixels.redraw(0, [0; 16]);
        Ok(Vga::with(Some(pixels)))
    }

    fn with(pixels: Option<Pixels>) -> Vga {
        let mut vga = Vga {
            column: 0,
            row: 0,
            pixels,
        };
        for row in 0..HEIGHT {
            vga.clear_row(row);
        }
        vga.move_cursor();
        vga
    }

    /// Shows text; `\n` starts a line, `\r` returns, `\u{8}` moves one cell left (from a row's first cell, to the
    /// last cell of the row above: a typed line that wrapped is erased back across the wrap). Other control
    /// characters are dropped; characters outside code page 437's ASCII part show as `?`, except the pilcrow
    /// (how a recalled input shows its line breaks: `system::line::LINE_BREAK_SHOWN`), at its code 0x14.
    pub fn write_str(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\n' => self.new_line(),
                '\r' => self.column = 0,
                '\u{8}' if self.column == 0 && self.row > 0 => {
                    self.row -= 1;
                    self.column = WIDTH - 1;
                }
                '\u{8}' => self.column = self.column.saturating_sub(1),
                c if c.is_control() => {}
                c => {
                    if self.column >= WIDTH {
                        self.new_line();
                    }
                    let byte = match c {
                        c if c.is_ascii() => c as u8,
                        '\u{b6}' => 0x14,
                        _ => b'?',
                    };
                    self.put(self.row, self.column, ATTRIBUTE | u16::from(byte));
                    self.column += 1;
                }
            }
        }
        self.move_cursor();
    }

    fn new_line(&mut self) {
        self.column = 0;
        if self.row + 1 < HEIGHT {
            self.row += 1;
            return;
        }
        for row in 1..HEIGHT {
            for column in 0..WIDTH {
                let cell = self.get(row, column);
                self.put(row - 1, column, cell);
            }
        }
        self.clear_row(HEIGHT - 1);
    }

    fn clear_row(&mut self, row: usize) {
        for column in 0..WIDTH {
            self.put(row, column, ATTRIBUTE | u16::from(b' '));
        }
    }

    fn cell(row: usize, column: usize) -> *mut u16 {
        (BUFFER + 2 * (row * WIDTH + column)) as *mut u16
    }

    fn put(&mut self, row: usize, column: usize, cell: u16) {
        debug_assert!(row < HEIGHT && column < WIDTH);
        if let Some(pixels) = &mut self.pixels {
            let at = row * WIDTH + column;
            // (Scrolling puts every cell again: only those that change are drawn.)
            if pixels.cells[at] != cell as u8 {
                let was = pixels.rows(at);
                pixels.cells[at] = cell as u8;
                pixels.redraw(at, was);
            }
            return;
        }
        // SAFETY: row < HEIGHT and column < WIDTH, so the cell is inside the 4000-byte text buffer, which is
        // identity mapped and belongs to the screen; volatile because the adapter reads it.
        unsafe { Self::cell(row, column).write_volatile(cell) }
    }

    fn get(&self, row: usize, column: usize) -> u16 {
        if let Some(pixels) = &self.pixels {
            return ATTRIBUTE | u16::from(pixels.cells[row * WIDTH + column]);
        }
        // SAFETY: as in `put`.
        unsafe { Self::cell(row, column).read_volatile() }
    }

    fn move_cursor(&mut self) {
        let position = (self.row * WIDTH + self.column.min(WIDTH - 1)) as u16;
        if let Some(pixels) = &mut self.pixels {
            let (old, new) = (pixels.cursor, usize::from(position));
            let (was_old, was_new) = (pixels.rows(old), pixels.rows(new));
            pixels.cursor = new;
            pixels.redraw(old, was_old);
            pixels.redraw(new, was_new);
            return;
        }
        let [low, high] = position.to_le_bytes();
        // SAFETY: CRTC registers 0x0e/0x0f only move the hardware cursor.
        unsafe {
            outb(CRTC_INDEX, 0x0f);
            outb(CRTC_DATA, low);
            outb(CRTC_INDEX, 0x0e);
            outb(CRTC_DATA, high);
        }
    }
}

impl Pixels {
    /// The rows of cell `at` as it is to look: its character's glyph, with the cursor's underline (the last two
    /// rows lit) where the cursor is.
    fn rows(&self, at: usize) -> [u8; 16] {
        let glyph = match self.cells[at] {
            byte @ b' '..=b'~' => usize::from(byte - b' '),
            0x14 => 95,
            _ => usize::from(b'?' - b' '),
        };
        let mut rows = [0u8; 16];
        rows.copy_from_slice(&FONT[glyph * 16..][..16]);
        if at == self.cursor {
            rows[14..].fill(0xff);
        }
        rows
    }

    /// Redraws cell `at`, which shows the rows `was`, as [`Pixels::rows`] says it is to look: only the pixels that
    /// change are written (writes to a framebuffer are slow on real hardware, which seldom caches them).
    fn redraw(&mut self, at: usize, was: [u8; 16]) {
        let (scale, stride) = (self.scale, self.stride);
        let (x0, y0) = (at % WIDTH * 8 * scale, at / WIDTH * 16 * scale);
        for (row, (&now, &was)) in self.rows(at).iter().zip(&was).enumerate() {
            for y in y0 + row * scale..y0 + (row + 1) * scale {
                for x in 0..8 * scale {
                    let bit = 0x80 >> (x / scale);
                    if (now ^ was) & bit != 0 {
                        // SAFETY: the cell lies inside the 80x25 cells of 8x16 pixels times `scale`, which fit
                        // the framebuffer (see `on_framebuffer`); volatile because the display reads it.
                        unsafe {
                            self.base
                                .add(y * stride + x0 + x)
                                .write_volatile(self.colors[usize::from(now & bit != 0)])
                        }
                    }
                }
            }
        }
    }
}
