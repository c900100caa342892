//! A USB keyboard's pure parts, for `drivers::xhci`: the configuration descriptor a boot keyboard is found in,
//! the polling interval an xHCI endpoint context takes, and the boot protocol's reports turned into the key
//! events the PS/2 keyboard's decoder takes (`keymap::Decoder::process_keyevent`), so that layouts, locks and
//! Ctrl-C work alike on both.
//!
//! A boot-protocol keyboard report (HID 1.11, appendix B.1) is 8 bytes: the modifier keys held (one bit each),
//! a reserved byte, and the usages (HID Usage Tables, page 7) of up to six other keys held, in no order. A key
//! is pressed when its usage appears and released when it goes; a report of the error usages (phantom state:
//! too many keys held at once) says nothing about the keys, and is passed over.
//!
//! Pure, so that it is tested on the host.

use pc_keyboard::{KeyCode, KeyEvent, KeyState};

use crate::leds::{CAPS_LOCK, NUM_LOCK, SCROLL_LOCK};

/// The bytes of a boot-protocol keyboard report.
pub const REPORT_SIZE: usize = 8;

/// The keys of the modifier byte, bit 0 first (HID Usage Tables: usages 0xE0 to 0xE7).
const MODIFIERS: [KeyCode; 8] = {
    use KeyCode::*;
    [LControl, LShift, LAlt, LWin, RControl, RShift, RAltGr, RWin]
};

/// The first usage of [`USAGES`] (`a`); the ones below it are the error usages and none.
const FIRST_USAGE: u8 = 0x04;

/// The keys of usages 0x04 (`a`) to 0x65 (Application), as the PS/2 decoder names the same keys (the key at the
/// same place on the keyboard: the US backslash and the ISO `#` key are both `Oem7`, scancode 0x2B; the ISO key
/// left of Z is `Oem5`, scancode 0x56).
const USAGES: [KeyCode; 98] = {
    use KeyCode::*;
    [
        A,
        B,
        C,
        D,
        E,
        F,
        G,
        H,
        I,
        J,
        K,
        L,
        M,
        N,
        O,
        P,
        Q,
        R,
        S,
        T,
        U,
        V,
        W,
        X,
        Y,
        Z, //
        Key1,
        Key2,
        Key3,
        Key4,
        Key5,
        Key6,
        Key7,
        Key8,
        Key9,
        Key0, //
        Return,
        Escape,
        Backspace,
        Tab,
        Spacebar,
        OemMinus,
        OemPlus,
        Oem4,
        Oem6,
        Oem7,
        Oem7,
        Oem1,
        Oem3,
        Oem8,
        OemComma,
        OemPeriod,
        Oem2,
        CapsLock, //
        F1,
        F2,
        F3,
        F4,
        F5,
        F6,
        F7,
        F8,
        F9,
        F10,
        F11,
        F12, //
        PrintScreen,
        ScrollLock,
        PauseBreak,
        Insert,
        Home,
        PageUp,
        Delete,
        End,
        PageDown,
        ArrowRight,
        ArrowLeft,
        ArrowDown,
        ArrowUp, //
        NumpadLock,
        NumpadDivide,
        NumpadMultiply,
        NumpadSubtract,
        NumpadAdd,
        NumpadEnter,
        Numpad1,
        Numpad2,
        Numpad3,
        Numpad4,
        Numpad5,
        Numpad6,
        Numpad7,
        Numpad8,
        Numpad9,
        Numpad0,
        NumpadPeriod,
        Oem5,
        Apps,
    ]
};

/// The key of a keyboard usage, or `None` for one outside the table (none, the error usages, keys a PC keyboard
/// decoded by `keymap` has not).
pub fn usage_key(usage: u8) -> Option<KeyCode> {
    USAGES
        .get(usage.checked_sub(FIRST_USAGE)? as usize)
        .copied()
}

/// Calls `event` for each key pressed or released from report `previous` to `report`: the releases first (the
/// modifiers', then the other keys'), then the presses (the modifiers' first), so that Shift pressed with a
/// letter in one report shifts it, and Shift released with a letter pressed does not. Whether the report says
/// which keys are held: `false` for one in the phantom state (an error usage among its keys), which is to be
/// passed over, `previous` staying the keys held.
pub fn key_events(
    previous: &[u8; REPORT_SIZE],
    report: &[u8; REPORT_SIZE],
    mut event: impl FnMut(KeyEvent),
) -> bool {
    if report[2..].iter().any(|&usage| matches!(usage, 1..=3)) {
        return false;
    }
    for down in [false, true] {
        let (state, from, to) = match down {
            false => (KeyState::Up, report, previous),
            true => (KeyState::Down, previous, report),
        };
        // A key held in `to` and not in `from`: released (when `to` is the previous report) or pressed.
        for (bit, &code) in MODIFIERS.iter().enumerate() {
            if to[0] & !from[0] & 1 << bit != 0 {
                event(KeyEvent::new(code, state));
            }
        }
        for &usage in &to[2..] {
            if !from[2..].contains(&usage) {
                if let Some(code) = usage_key(usage) {
                    event(KeyEvent::new(code, state));
                }
            }
        }
    }
    true
}

/// The keyboard's output report for the lock lights `lights` (a mask of `leds`' [`CAPS_LOCK`], [`NUM_LOCK`],
/// [`SCROLL_LOCK`]): bit 0 Num, bit 1 Caps, bit 2 Scroll Lock (HID Usage Tables, LED page 8, usages 1 to 3).
pub fn lights_report(lights: u8) -> u8 {
    [(NUM_LOCK, 1), (CAPS_LOCK, 2), (SCROLL_LOCK, 4)]
        .iter()
        .filter(|(light, _)| lights & light != 0)
        .fold(0, |report, (_, bit)| report | bit)
}

/// How long a key is held before it repeats, and how often it repeats then (Linux's input layer repeats a USB
/// keyboard's keys after 250 ms, every 33 ms; a PS/2 keyboard after 500 ms by default).
pub const REPEAT_DELAY_MS: u64 = 500;
pub const REPEAT_PERIOD_MS: u64 = 33;

/// Key repeat: a USB keyboard reports a key held once, however long it is held, and the host repeats it, as a PS/2
/// keyboard repeats its make code itself: the key pressed last repeats, while it is held (a modifier or lock key
/// pressed stops it, and never repeats itself: each press of a lock turns it).
#[derive(Debug, Clone, Copy)]
pub struct Repeat {
    key: Option<KeyCode>,
    /// When it is pressed again next.
    next_ms: u64,
}

impl Repeat {
    /// No key held.
    pub const fn new() -> Repeat {
        Repeat {
            key: None,
            next_ms: 0,
        }
    }

    /// Notes a key pressed or released at `now_ms`.
    pub fn note(&mut self, event: &KeyEvent, now_ms: u64) {
        use KeyCode::*;
        let repeats = !MODIFIERS.contains(&event.code)
            && !matches!(event.code, CapsLock | NumpadLock | ScrollLock | PauseBreak);
        match event.state {
            KeyState::Down => {
                self.key = repeats.then_some(event.code);
                self.next_ms = now_ms.saturating_add(REPEAT_DELAY_MS);
            }
            KeyState::Up if self.key == Some(event.code) => self.key = None,
            KeyState::Up | KeyState::SingleShot => {}
        }
    }

    /// The key to press again at `now_ms`, if one is held long enough (one a call, however late it is called).
    pub fn due(&mut self, now_ms: u64) -> Option<KeyEvent> {
        let key = self.key.filter(|_| now_ms >= self.next_ms)?;
        self.next_ms = now_ms.saturating_add(REPEAT_PERIOD_MS);
        Some(KeyEvent::new(key, KeyState::Down))
    }
}

impl Default for Repeat {
    fn default() -> Self {
        Self::new()
    }
}

/// Key events queued at most: those of several reports (a report makes at most 14), as the console takes them one
/// at a time.
pub const KEYS_QUEUED: usize = 64;

/// What a slot of [`KeyQueue`] holds when it holds no key event: no trace of a key typed.
const NO_EVENT: KeyEvent = KeyEvent::new(KeyCode::A, KeyState::Up);

/// The key events made from the reports and not taken yet, first in first out, in a fixed ring (no allocation
/// while keys are typed). The ring lives in a static, outside the heap that the hand-off and a reboot wipe, and a
/// passphrase is typed through it: each event is wiped from its slot as it is taken, and [`KeyQueue::clear`]
/// wipes those never taken.
pub struct KeyQueue {
    events: [KeyEvent; KEYS_QUEUED],
    first: usize,
    count: usize,
}

impl KeyQueue {
    pub const fn new() -> KeyQueue {
        KeyQueue {
            events: [NO_EVENT; KEYS_QUEUED],
            first: 0,
            count: 0,
        }
    }

    /// Queues `event` (one more than the queue holds is lost).
    pub fn push(&mut self, event: KeyEvent) {
        if self.count < KEYS_QUEUED {
            self.events[(self.first + self.count) % KEYS_QUEUED] = event;
            self.count += 1;
        }
    }

    /// Queues the key events from report `previous` to `report` ([`key_events`]): whether `report` says which
    /// keys are held.
    #[inline(never)]
    pub fn report(&mut self, previous: &[u8; REPORT_SIZE], report: &[u8; REPORT_SIZE]) -> bool {
        key_events(previous, report, |e| self.push(e))
    }

    /// The oldest event, taken out: its slot keeps no trace of it.
    pub fn pop(&mut self) -> Option<KeyEvent> {
        if self.count == 0 {
            return None;
        }
        let event = core::mem::replace(&mut self.events[self.first % KEYS_QUEUED], NO_EVENT);
        self.first = (self.first + 1) % KEYS_QUEUED;
        self.count -= 1;
        Some(event)
    }

    /// Drops and wipes every event not taken yet.
    pub fn clear(&mut self) {
        *self = KeyQueue::new();
    }
}

impl Default for KeyQueue {
    fn default() -> Self {
        Self::new()
    }
}

/// A boot keyboard's interface and its interrupt IN endpoint, as a configuration descriptor names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootKeyboard {
    /// The configuration's value, for SET_CONFIGURATION.
    pub configuration: u8,
    pub interface: u8,
    /// The endpoint's address (its number, and bit 7 for IN).
    pub endpoint: u8,
    pub max_packet: u16,
    /// bInterval: how often the endpoint is polled, in the units of the device's speed.
    pub interval: u8,
}

/// The first boot keyboard (interface class 3 HID, subclass 1 boot, protocol 1 keyboard; its alternate setting
/// 0) in a configuration descriptor with the descriptors that follow it (USB 2.0, 9.6.3 to 9.6.6), with the
/// first interrupt IN endpoint of its interface; `None` when there is none, or the descriptors are cut short.
pub fn boot_keyboard(configuration: &[u8]) -> Option<BootKeyboard> {
    let value = *configuration.get(5)?;
    let mut rest = configuration;
    let mut interface = None;
    while let [length, kind, ..] = *rest {
        let length = usize::from(length);
        let descriptor = rest.get(..length).filter(|_| length >= 2)?;
        match (kind, descriptor) {
            // An interface: the keyboard's, or another, whose endpoints are not looked at.
            (4, [_, _, number, 0, _, 3, 1, 1, ..]) => interface = Some(*number),
            (4, _) => interface = None,
            // (Endpoint 0 has no descriptor, USB 2.0 9.6.6: one that says so names the control endpoint, whose
            // device context index an interrupt endpoint's would overwrite.)
            (5, [_, _, address, attributes, low, high, interval, ..])
                if address & 0x80 != 0 && address & 0x0f != 0 && attributes & 3 == 3 =>
            {
                if let Some(interface) = interface {
                    return Some(BootKeyboard {
                        configuration: value,
                        interface,
                        endpoint: *address,
                        max_packet: u16::from_le_bytes([*low, *high]) & 0x7ff,
                        interval: *interval,
                    });
                }
            }
            _ => {}
        }
        rest = &rest[length..];
    }
    None
}

/// The speeds of PORTSC's Port Speed field (xHCI 1.2, table 7-13, the default speed IDs).
pub const FULL_SPEED: u8 = 1;
pub const LOW_SPEED: u8 = 2;
pub const HIGH_SPEED: u8 = 3;

/// An interrupt endpoint's Interval for its xHCI endpoint context (xHCI 1.2, 6.2.3.6: the period is 2^Interval
/// times 125 us) from its descriptor's bInterval: at low and full speed a number of 1 ms frames (rounded down to a
/// power of two, within 1 to 128 ms, as Linux does), at high speed and above already the exponent plus one.
pub fn endpoint_interval(speed: u8, interval: u8) -> u8 {
    match speed {
        FULL_SPEED | LOW_SPEED => {
            // 8 * bInterval microframes, rounded down to a power of two.
            let frames = u16::from(interval.max(1)) * 8;
            (15 - frames.leading_zeros() as u8).clamp(3, 10)
        }
        _ => interval.clamp(1, 16) - 1,
    }
}

/// The largest packet of endpoint 0 before the device descriptor says it (USB 2.0, 5.5.3; USB 3.2, 9.6.6): 8
/// bytes at low and full speed (the descriptor's first 8 bytes are read with it), 64 at high speed, 512 above.
pub fn first_max_packet(speed: u8) -> u16 {
    match speed {
        FULL_SPEED | LOW_SPEED => 8,
        HIGH_SPEED => 64,
        _ => 512,
    }
}

/// A hub, as its hub descriptor (USB 2.0, 11.23.2.1) says: its ports (at most 15, as many as a route string can
/// name), the milliseconds from a port's power on to its power being good, and its TT Think Time (wHubCharacteristics
/// bits 6:5, for the xHCI slot context).
#[derive(Debug, PartialEq)]
pub struct Hub {
    pub ports: u8,
    pub power_good_ms: u16,
    pub think_time: u8,
}

/// The hub descriptor (type 0x29) read: `None` if it is too short or of another type.
pub fn hub_descriptor(descriptor: &[u8]) -> Option<Hub> {
    match *descriptor {
        [length, 0x29, ports, characteristics, _, power_good, ..] if length >= 7 => Some(Hub {
            ports: ports.min(15),
            power_good_ms: u16::from(power_good) * 2,
            think_time: characteristics >> 5 & 3,
        }),
        _ => None,
    }
}

/// The speed (as PORTSC's) of the device on an enabled hub port, from its wPortStatus (USB 2.0, 11.24.2.7.1): low
/// (bit 9), high (bit 10) or full.
pub fn hub_port_speed(status: u32) -> u8 {
    match status >> 9 & 3 {
        1 => LOW_SPEED,
        2 => HIGH_SPEED,
        _ => FULL_SPEED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymap::{Decoder, Layout};
    use alloc::vec::Vec;
    use pc_keyboard::DecodedKey;

    /// The keys of usages 0x04 to 0x65 and of the modifier byte with their scancodes in set 1 (HID Usage Tables
    /// 1.12, section 10, the "PS/2 Set 1 Make" column), 0xE0 the prefix of extended keys.
    const SET_1: &[(u8, &[u8])] = &[
        (0x04, &[0x1e]),
        (0x05, &[0x30]),
        (0x06, &[0x2e]),
        (0x07, &[0x20]),
        (0x08, &[0x12]),
        (0x09, &[0x21]),
        (0x0a, &[0x22]),
        (0x0b, &[0x23]),
        (0x0c, &[0x17]),
        (0x0d, &[0x24]),
        (0x0e, &[0x25]),
        (0x0f, &[0x26]),
        (0x10, &[0x32]),
        (0x11, &[0x31]),
        (0x12, &[0x18]),
        (0x13, &[0x19]),
        (0x14, &[0x10]),
        (0x15, &[0x13]),
        (0x16, &[0x1f]),
        (0x17, &[0x14]),
        (0x18, &[0x16]),
        (0x19, &[0x2f]),
        (0x1a, &[0x11]),
        (0x1b, &[0x2d]),
        (0x1c, &[0x15]),
        (0x1d, &[0x2c]),
        (0x1e, &[0x02]),
        (0x1f, &[0x03]),
        (0x20, &[0x04]),
        (0x21, &[0x05]),
        (0x22, &[0x06]),
        (0x23, &[0x07]),
        (0x24, &[0x08]),
        (0x25, &[0x09]),
        (0x26, &[0x0a]),
        (0x27, &[0x0b]),
        (0x28, &[0x1c]),
        (0x29, &[0x01]),
        (0x2a, &[0x0e]),
        (0x2b, &[0x0f]),
        (0x2c, &[0x39]),
        (0x2d, &[0x0c]),
        (0x2e, &[0x0d]),
        (0x2f, &[0x1a]),
        (0x30, &[0x1b]),
        (0x31, &[0x2b]),
        (0x32, &[0x2b]),
        (0x33, &[0x27]),
        (0x34, &[0x28]),
        (0x35, &[0x29]),
        (0x36, &[0x33]),
        (0x37, &[0x34]),
        (0x38, &[0x35]),
        (0x39, &[0x3a]),
        (0x3a, &[0x3b]),
        (0x3b, &[0x3c]),
        (0x3c, &[0x3d]),
        (0x3d, &[0x3e]),
        (0x3e, &[0x3f]),
        (0x3f, &[0x40]),
        (0x40, &[0x41]),
        (0x41, &[0x42]),
        (0x42, &[0x43]),
        (0x43, &[0x44]),
        (0x44, &[0x57]),
        (0x45, &[0x58]),
        (0x46, &[0xe0, 0x37]),
        (0x47, &[0x46]),
        (0x48, &[0xe1, 0x1d, 0x45]),
        (0x49, &[0xe0, 0x52]),
        (0x4a, &[0xe0, 0x47]),
        (0x4b, &[0xe0, 0x49]),
        (0x4c, &[0xe0, 0x53]),
        (0x4d, &[0xe0, 0x4f]),
        (0x4e, &[0xe0, 0x51]),
        (0x4f, &[0xe0, 0x4d]),
        (0x50, &[0xe0, 0x4b]),
        (0x51, &[0xe0, 0x50]),
        (0x52, &[0xe0, 0x48]),
        (0x53, &[0x45]),
        (0x54, &[0xe0, 0x35]),
        (0x55, &[0x37]),
        (0x56, &[0x4a]),
        (0x57, &[0x4e]),
        (0x58, &[0xe0, 0x1c]),
        (0x59, &[0x4f]),
        (0x5a, &[0x50]),
        (0x5b, &[0x51]),
        (0x5c, &[0x4b]),
        (0x5d, &[0x4c]),
        (0x5e, &[0x4d]),
        (0x5f, &[0x47]),
        (0x60, &[0x48]),
        (0x61, &[0x49]),
        (0x62, &[0x52]),
        (0x63, &[0x53]),
        (0x64, &[0x56]),
        (0x65, &[0xe0, 0x5d]),
        // The modifier byte's bits, as usages 0xE0 to 0xE7.
        (0xe0, &[0x1d]),
        (0xe1, &[0x2a]),
        (0xe2, &[0x38]),
        (0xe3, &[0xe0, 0x5b]),
        (0xe4, &[0xe0, 0x1d]),
        (0xe5, &[0x36]),
        (0xe6, &[0xe0, 0x38]),
        (0xe7, &[0xe0, 0x5c]),
    ];

    /// What the PS/2 decoder makes of a key's make code: the key pressed, and what that press gives (with the
    /// modifiers of a fresh decoder).
    fn ps2(bytes: &[u8]) -> (KeyEvent, Option<DecodedKey>) {
        let mut decoder = Decoder::new(Layout::Us);
        let mut last = None;
        for &byte in bytes {
            if let Some(event) = decoder.add_byte(byte) {
                last = Some((event.clone(), decoder.process_keyevent(event)));
            }
        }
        last.unwrap()
    }

    /// The key a USB usage stands for (a modifier's bit as its usage 0xE0 + bit), and what its press gives.
    fn usb(usage: u8) -> (KeyEvent, Option<DecodedKey>) {
        let code = match usage {
            0xe0..=0xe7 => MODIFIERS[usize::from(usage - 0xe0)],
            _ => usage_key(usage).unwrap(),
        };
        let event = KeyEvent::new(code, KeyState::Down);
        (
            event.clone(),
            Decoder::new(Layout::Us).process_keyevent(event),
        )
    }

    #[test]
    fn every_usage_is_the_key_the_ps2_decoder_makes_of_its_scancode() {
        for &(usage, bytes) in SET_1 {
            let (ours, theirs) = (usb(usage), ps2(bytes));
            match usage {
                // Pause: set 1 sends a hidden Ctrl and Num Lock, which the decoder turns into Pause.
                0x48 => assert_eq!(ours.1, theirs.1, "usage {usage:#04x}"),
                _ => assert_eq!(ours, theirs, "usage {usage:#04x}"),
            }
        }
        // The table has every usage of the list, and no more.
        let listed = SET_1.iter().filter(|(usage, _)| *usage < 0xe0).count();
        assert_eq!(listed, USAGES.len());
        for usage in [0, 1, 2, 3, 0x66, 0x87, 0xe0, 0xff] {
            assert_eq!(usage_key(usage), None, "usage {usage:#04x}");
        }
    }

    fn report(modifiers: u8, keys: &[u8]) -> [u8; REPORT_SIZE] {
        let mut report = [0; REPORT_SIZE];
        report[0] = modifiers;
        report[2..2 + keys.len()].copy_from_slice(keys);
        report
    }

    fn events(previous: [u8; REPORT_SIZE], next: [u8; REPORT_SIZE]) -> Option<Vec<KeyEvent>> {
        let mut events = Vec::new();
        key_events(&previous, &next, |e| events.push(e)).then_some(events)
    }

    fn down(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyState::Down)
    }

    fn up(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyState::Up)
    }

    #[test]
    fn reports_become_presses_and_releases() {
        use KeyCode::*;
        let none = report(0, &[]);
        // Left Shift and `a` in one report: Shift first. The same report again: nothing.
        let shift_a = report(0x02, &[0x04]);
        assert_eq!(events(none, shift_a), Some(vec![down(LShift), down(A)]));
        assert_eq!(events(shift_a, shift_a), Some(vec![]));
        // Shift released as `b` is pressed, `a` still held in another slot: the release comes first.
        let a_b = report(0, &[0x05, 0x04]);
        assert_eq!(events(shift_a, a_b), Some(vec![up(LShift), down(B)]));
        // Both let go; then every modifier at once, in the order of their bits.
        assert_eq!(events(a_b, none), Some(vec![up(B), up(A)]));
        assert_eq!(
            events(none, report(0xff, &[])),
            Some(vec![
                down(LControl),
                down(LShift),
                down(LAlt),
                down(LWin),
                down(RControl),
                down(RShift),
                down(RAltGr),
                down(RWin)
            ])
        );
        // Right Ctrl and `c`: Ctrl-C.
        let mut decoder = Decoder::new(Layout::Us);
        let typed: Vec<DecodedKey> = events(none, report(0x10, &[0x06]))
            .unwrap()
            .into_iter()
            .filter_map(|e| decoder.process_keyevent(e))
            .collect();
        assert_eq!(typed.last(), Some(&DecodedKey::Unicode('\u{3}')));
        // Usages without a key (F13) are passed over, the others in the report are not.
        assert_eq!(
            events(none, report(0, &[0x68, 0x1e])),
            Some(vec![down(Key1)])
        );
    }

    #[test]
    fn a_report_in_the_phantom_state_is_passed_over() {
        let held = report(0x02, &[0x04, 0x05]);
        let phantom = report(0x02, &[1, 1, 1, 1, 1, 1]);
        assert_eq!(events(held, phantom), None);
        // The keys still held are released by the next report, against the last good one.
        assert_eq!(
            events(held, report(0x02, &[])),
            Some(vec![up(KeyCode::A), up(KeyCode::B)])
        );
    }

    #[test]
    fn the_key_pressed_last_repeats_while_it_is_held() {
        use KeyCode::*;
        let mut repeat = Repeat::new();
        assert_eq!(repeat.due(10_000), None);
        repeat.note(&down(A), 1000);
        assert_eq!(repeat.due(1000 + REPEAT_DELAY_MS - 1), None);
        assert_eq!(repeat.due(1000 + REPEAT_DELAY_MS), Some(down(A)));
        // Then every period, once a call however late the call comes.
        assert_eq!(repeat.due(1000 + REPEAT_DELAY_MS + 1), None);
        let next = 1000 + REPEAT_DELAY_MS + REPEAT_PERIOD_MS;
        assert_eq!(repeat.due(next), Some(down(A)));
        assert_eq!(repeat.due(next + 5000), Some(down(A)));
        assert_eq!(repeat.due(next + 5001), None);
        // B pressed takes over, and A's release no longer matters.
        repeat.note(&down(B), 9200);
        repeat.note(&up(A), 9300);
        assert_eq!(repeat.due(9200 + REPEAT_DELAY_MS), Some(down(B)));
        // Released: no more.
        repeat.note(&up(B), 9800);
        assert_eq!(repeat.due(20_000), None);
        // Shift pressed stops a key's repeat (as a PS/2 keyboard then repeats Shift, which gives nothing).
        repeat.note(&down(C), 21_000);
        repeat.note(&down(LShift), 21_100);
        assert_eq!(repeat.due(25_000), None);
        // A lock key never repeats (each press turns the lock).
        repeat.note(&down(CapsLock), 30_000);
        assert_eq!(repeat.due(40_000), None);
    }

    /// The queue is a static the hand-off does not wipe: no key typed may stay in it once taken or cleared.
    #[test]
    fn the_key_queue_keeps_no_trace_of_keys_taken_or_cleared() {
        use KeyCode::*;
        let mut queue = KeyQueue::new();
        let typed = [P, A, S, S, Return];
        for &key in &typed {
            queue.report(&report(0, &[]), &report(0, &[usage_of(key)]));
            queue.report(&report(0, &[usage_of(key)]), &report(0, &[]));
        }
        for &key in &typed {
            assert_eq!(queue.pop(), Some(down(key)));
            assert_eq!(queue.pop(), Some(up(key)));
        }
        assert_eq!(queue.pop(), None);
        assert!(queue.events.iter().all(|e| *e == NO_EVENT));
        // Typed and never taken (the hand-off comes first): wiped by `clear`.
        queue.push(down(X));
        queue.clear();
        assert_eq!(queue.pop(), None);
        assert!(queue.events.iter().all(|e| *e == NO_EVENT));
        // A full queue drops what comes after, and takes in order what it holds.
        for _ in 0..KEYS_QUEUED + 3 {
            queue.push(down(Y));
        }
        assert_eq!(core::iter::from_fn(|| queue.pop()).count(), KEYS_QUEUED);
    }

    /// The usage of `key` in [`USAGES`].
    fn usage_of(key: KeyCode) -> u8 {
        let at = USAGES.iter().position(|&k| k == key).unwrap();
        FIRST_USAGE + at as u8
    }

    #[test]
    fn the_lights_report_has_num_caps_and_scroll_lock_in_bits_0_to_2() {
        assert_eq!(lights_report(0), 0);
        assert_eq!(lights_report(NUM_LOCK), 1);
        assert_eq!(lights_report(CAPS_LOCK), 2);
        assert_eq!(lights_report(SCROLL_LOCK), 4);
        assert_eq!(lights_report(NUM_LOCK | CAPS_LOCK | SCROLL_LOCK), 7);
    }

    /// A keyboard's configuration descriptor, laid out as QEMU's usb-kbd's (hw/usb/dev-hid.c).
    const QEMU_KEYBOARD: &[u8] = &[
        9, 2, 34, 0, 1, 1, 7, 0xa0, 50, // configuration 1, one interface
        9, 4, 0, 0, 1, 3, 1, 1, 0, // interface 0: HID, boot, keyboard
        9, 0x21, 0x11, 1, 0, 1, 0x22, 63, 0, // HID descriptor
        7, 5, 0x81, 3, 8, 0, 7, // endpoint 1 IN, interrupt, 8 bytes, bInterval 7 (high speed)
    ];

    #[test]
    fn the_boot_keyboard_is_found_in_its_configuration() {
        assert_eq!(
            boot_keyboard(QEMU_KEYBOARD),
            Some(BootKeyboard {
                configuration: 1,
                interface: 0,
                endpoint: 0x81,
                max_packet: 8,
                interval: 7
            })
        );
        // A mouse interface (protocol 2) first, then the keyboard as interface 1 of configuration 2, its OUT
        // endpoint before its IN one.
        let mut composite = vec![9, 2, 0, 0, 2, 2, 0, 0xa0, 50];
        composite.extend([9, 4, 0, 0, 1, 3, 1, 2, 0, 7, 5, 0x82, 3, 4, 0, 10]);
        composite.extend([9, 4, 1, 0, 2, 3, 1, 1, 0, 7, 5, 0x03, 3, 8, 0, 10]);
        composite.extend([7, 5, 0x84, 3, 8, 0, 10]);
        let found = boot_keyboard(&composite).unwrap();
        assert_eq!(
            (found.configuration, found.interface, found.endpoint),
            (2, 1, 0x84)
        );
        // No keyboard; descriptors cut short or of length 0: none, and no endless loop.
        assert_eq!(boot_keyboard(&QEMU_KEYBOARD[..20]), None);
        assert_eq!(boot_keyboard(&QEMU_KEYBOARD[..30]), None);
        assert_eq!(boot_keyboard(&[9, 2, 34, 0, 1, 1, 7, 0xa0, 50, 0, 0]), None);
        assert_eq!(boot_keyboard(&[9, 2]), None);
        // An endpoint descriptor of endpoint 0 (address 0x80) is no interrupt IN endpoint of the keyboard's.
        let mut zero = QEMU_KEYBOARD.to_vec();
        let at = zero.windows(3).position(|d| d == [7, 5, 0x81]).unwrap() + 2;
        zero[at] = 0x80;
        assert_eq!(boot_keyboard(&zero), None);
        let mut mouse = QEMU_KEYBOARD.to_vec();
        mouse[16] = 2;
        assert_eq!(boot_keyboard(&mouse), None);
    }

    #[test]
    fn intervals_follow_the_speed() {
        // Full and low speed: bInterval in frames, rounded down to a power of two; 10 ms is 8 ms (2^6 * 125 us).
        assert_eq!(endpoint_interval(FULL_SPEED, 10), 6);
        assert_eq!(endpoint_interval(LOW_SPEED, 1), 3);
        assert_eq!(endpoint_interval(FULL_SPEED, 0), 3);
        assert_eq!(endpoint_interval(FULL_SPEED, 255), 10);
        // High speed: 2^(bInterval - 1) microframes.
        assert_eq!(endpoint_interval(HIGH_SPEED, 7), 6);
        assert_eq!(endpoint_interval(HIGH_SPEED, 0), 0);
        assert_eq!(endpoint_interval(4, 20), 15);
        assert_eq!(first_max_packet(LOW_SPEED), 8);
        assert_eq!(first_max_packet(HIGH_SPEED), 64);
        assert_eq!(first_max_packet(4), 512);
    }

    #[test]
    fn hub_descriptors_and_port_speeds_are_read() {
        // A 4-port high-speed hub: individual power switching, TT think time 2, 50 ms to power good.
        let hub = [9, 0x29, 4, 0x49, 0, 25, 0, 0, 0xff];
        let expected = Hub {
            ports: 4,
            power_good_ms: 50,
            think_time: 2,
        };
        assert_eq!(hub_descriptor(&hub), Some(expected));
        // More ports than a route string names are cut to 15; short or foreign descriptors are refused.
        assert_eq!(
            hub_descriptor(&[7, 0x29, 200, 0, 0, 0, 0]).unwrap().ports,
            15
        );
        assert_eq!(hub_descriptor(&hub[..5]), None);
        assert_eq!(hub_descriptor(&[6, 0x29, 4, 0, 0, 0, 0]), None);
        assert_eq!(hub_descriptor(&[9, 0x02, 4, 0, 0, 0, 0]), None);
        assert_eq!(hub_descriptor(&[]), None);
        assert_eq!(hub_port_speed(0x0103), FULL_SPEED);
        assert_eq!(hub_port_speed(0x0303), LOW_SPEED);
        assert_eq!(hub_port_speed(0x0503), HIGH_SPEED);
    }

    /// Whatever bytes a device gives as its configuration or hub descriptor, its reports or its port status, they
    /// are read without a panic (and a keyboard's endpoint, if one is found, lies within the descriptor given).
    #[test]
    fn any_bytes_from_a_device_are_read_without_a_panic() {
        let mut x = 0x9e37_79b9u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for turn in 0..20_000 {
            // Small bytes half the time, so that lengths and kinds of descriptors often make sense.
            let small = turn % 2 == 0;
            let bytes: Vec<u8> = (0..next() % 96)
                .map(|_| match small {
                    true => (next() % 12) as u8,
                    false => next() as u8,
                })
                .collect();
            if let Some(keyboard) = boot_keyboard(&bytes) {
                assert!(bytes.contains(&keyboard.endpoint));
            }
            let _ = hub_descriptor(&bytes);
            let _ = hub_port_speed(next());
            let (mut previous, mut report) = ([0u8; REPORT_SIZE], [0u8; REPORT_SIZE]);
            previous.iter_mut().for_each(|b| *b = next() as u8);
            report.iter_mut().for_each(|b| *b = next() as u8);
            let mut queue = KeyQueue::new();
            queue.report(&previous, &report);
            while queue.pop().is_some() {}
            let speed = (next() % 8) as u8;
            let _ = (
                endpoint_interval(speed, next() as u8),
                first_max_packet(speed),
            );
        }
    }
}
