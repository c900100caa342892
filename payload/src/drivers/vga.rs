//! The VGA text screen: 80x25 cells at 0xb8000, scrolling, a hardware cursor.

use crate::arch::port::outb;

const WIDTH: usize = 80;
const HEIGHT: usize = 25;
const BUFFER: usize = 0xb8000;
/// Light grey on black.
const ATTRIBUTE: u16 = 0x07 << 8;
const CRTC_INDEX: u16 = 0x3d4;
const CRTC_DATA: u16 = 0x3d5;

/// The text screen and where the cursor is.
pub struct Vga {
    column: usize,
    row: usize,
}

impl Vga {
    /// Takes over the screen: clears it and homes the cursor.
    pub fn new() -> Vga {
        let mut vga = Vga { column: 0, row: 0 };
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
        // SAFETY: row < HEIGHT and column < WIDTH, so the cell is inside the 4000-byte text buffer, which is
        // identity mapped and belongs to the screen; volatile because the adapter reads it.
        unsafe { Self::cell(row, column).write_volatile(cell) }
    }

    fn get(&self, row: usize, column: usize) -> u16 {
        // SAFETY: as in `put`.
        unsafe { Self::cell(row, column).read_volatile() }
    }

    fn move_cursor(&self) {
        let position = (self.row * WIDTH + self.column.min(WIDTH - 1)) as u16;
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
