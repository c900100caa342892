//! Argon2i and Argon2id (RFC 9106, version 0x13) for LUKS2 key slots, with BLAKE2b (RFC 7693) under them.
//!
//! Our own rather than a crate's, so that a long derivation (cryptsetup writes up to 1 GiB and several passes:
//! minutes under QEMU without KVM) reports how far it is and stops when asked: the progress callback is called
//! every [`ASK_BLOCKS`] blocks. The costs are bounded, and memory the machine cannot give is a clear error.

use crate::{
    CryptoError, Secret, MAX_ARGON2_LANES, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_TIME, MAX_ARGON2_WORK,
};
use alloc::format;
use alloc::vec::Vec;
use zeroize::Zeroize;

/// Which Argon2 variant (LUKS2 `kdf.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Kind {
    Argon2i,
    Argon2id,
}

impl Argon2Kind {
    /// The type number `y` of RFC 9106 (0 is Argon2d, which LUKS2 does not use).
    fn number(self) -> u32 {
        match self {
            Argon2Kind::Argon2i => 1,
            Argon2Kind::Argon2id => 2,
        }
    }
}

/// A memory block: 1 KiB as 128 little-endian words.
type Block = [u64; BLOCK_WORDS];
const BLOCK_WORDS: usize = 128;
const BLOCK_BYTES: usize = BLOCK_WORDS * 8;
/// Slices per pass: the lanes meet at the end of each.
const SYNC_POINTS: u32 = 4;
const VERSION: u32 = 0x13;
/// Addresses (pairs J1, J2) in one address block of Argon2i's data-independent addressing.
const ADDRESSES_PER_BLOCK: usize = BLOCK_WORDS;
/// The progress callback is called after this many blocks at most (4 MiB of work: a few milliseconds natively,
/// a tenth of a second or so under QEMU without KVM), and at the end of each segment.
const ASK_BLOCKS: u32 = 4096;
/// The reference implementation's least salt and tag lengths.
const MIN_SALT: usize = 8;
const MIN_LENGTH: usize = 4;

/// Argon2 (version 0x13) of `password` and `salt` into `length` bytes: `time` passes over `memory_kib`
/// KiB in `lanes` lanes. The memory is allocated fallibly; too little is `CryptoError::OutOfMemory`.
pub fn argon2(
    kind: Argon2Kind,
    password: &[u8],
    salt: &[u8],
    time: u32,
    memory_kib: u32,
    lanes: u32,
    length: usize,
) -> Result<Secret, CryptoError> {
    argon2_with_progress(
        kind,
        password,
        salt,
        Costs {
            time,
            memory_kib,
            lanes,
        },
        length,
        &mut |_| true,
    )
}

/// The costs of an Argon2 run: passes, memory and lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    pub time: u32,
    pub memory_kib: u32,
    pub lanes: u32,
}

/// [`argon2`] with a progress callback: it gets the percentage done (0 to 100) every [`ASK_BLOCKS`] blocks and
/// returns whether to go on. Told to stop, the derivation wipes its memory and returns
/// [`CryptoError::Interrupted`].
pub fn argon2_with_progress(
    kind: Argon2Kind,
    password: &[u8],
    salt: &[u8],
    costs: Costs,
    length: usize,
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<Secret, CryptoError> {
    argon2_keyed(kind, password, salt, &[], &[], costs, length, progress)
}

/// Argon2 with the secret `K` and the associated data `X` of RFC 9106 (LUKS2 uses neither; its test vectors
/// do).
#[allow(clippy::too_many_arguments)]
#[inline(never)] // a smaller payload: see lib.rs
fn argon2_keyed(
    kind: Argon2Kind,
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    data: &[u8],
    costs: Costs,
    length: usize,
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<Secret, CryptoError> {
    let Costs {
        time,
        memory_kib,
        lanes,
    } = costs;
    if time == 0 || time > MAX_ARGON2_TIME {
        return Err(CryptoError::Limit(format!(
            "Argon2 time cost {time} is outside 1..={MAX_ARGON2_TIME}"
        )));
    }
    if memory_kib > MAX_ARGON2_MEMORY_KIB {
        return Err(CryptoError::Limit(format!(
            "Argon2 memory cost {memory_kib} KiB is over the limit {MAX_ARGON2_MEMORY_KIB} KiB"
        )));
    }
    if u64::from(time) * u64::from(memory_kib) > MAX_ARGON2_WORK {
        return Err(CryptoError::Limit(format!(
            "Argon2 work of {time} passes over {memory_kib} KiB is over the limit"
        )));
    }
    if lanes == 0 || lanes > MAX_ARGON2_LANES {
        return Err(CryptoError::Limit(format!(
            "Argon2 lane count {lanes} is outside 1..={MAX_ARGON2_LANES}"
        )));
    }
    if memory_kib < 2 * SYNC_POINTS * lanes {
        return Err(CryptoError::Limit(format!(
            "Argon2 memory cost {memory_kib} KiB is under 8 KiB per lane ({lanes} lanes)"
        )));
    }
    if salt.len() < MIN_SALT || length < MIN_LENGTH || length > u32::MAX as usize {
        return Err(CryptoError::Limit(format!(
            "Argon2 salt of {} bytes or output of {length} bytes is too short (at least {MIN_SALT} and \
             {MIN_LENGTH})",
            salt.len()
        )));
    }
    if [password, salt, secret, data]
        .iter()
        .any(|part| part.len() > u32::MAX as usize)
    {
        return Err(CryptoError::Limit("Argon2 input over 4 GiB".into()));
    }

    // H0 (RFC 9106 section 3.2): the parameters and inputs, each input after its length.
    let mut h0 = [0u8; 64];
    {
        let mut hasher = Blake2b::new(64);
        for number in [
            lanes,
            length as u32,
            memory_kib,
            time,
            VERSION,
            kind.number(),
        ] {
            hasher.update(&number.to_le_bytes());
        }
        for part in [password, salt, secret, data] {
            hasher.update(&(part.len() as u32).to_le_bytes());
            hasher.update(part);
        }
        hasher.finish(&mut h0);
    }

    let segment = memory_kib / (SYNC_POINTS * lanes);
    let geometry = Geometry {
        lanes,
        lane_length: segment * SYNC_POINTS,
        segment,
        passes: time,
        kind,
    };
    let blocks = (geometry.lane_length * lanes) as usize;
    let mut memory: Vec<Block> = Vec::new();
    memory
        .try_reserve_exact(blocks)
        .map_err(|_| CryptoError::OutOfMemory {
            kib: u64::from(memory_kib),
        })?;
    memory.resize(blocks, [0; BLOCK_WORDS]);
    let result = fill_memory(&mut memory, &geometry, &h0, progress).map(|()| {
        // The tag: H' of the XOR of the lanes' last blocks.
        let lane_length = geometry.lane_length as usize;
        let mut last = memory[lane_length - 1];
        for lane in 1..lanes as usize {
            xor_into(&mut last, &memory[lane * lane_length + lane_length - 1]);
        }
        let mut bytes = block_bytes(&last);
        let mut out = Secret::zeroed(length);
        hash_long(out.as_mut_bytes(), &[&bytes]);
        last.zeroize();
        bytes.zeroize();
        out
    });
    h0.zeroize();
    memory.iter_mut().for_each(Zeroize::zeroize);
    result
}

/// How the memory is laid out, and what runs over it.
struct Geometry {
    lanes: u32,
    /// Blocks per lane (`4 * segment`).
    lane_length: u32,
    /// Blocks per segment (a lane's part of a slice).
    segment: u32,
    passes: u32,
    kind: Argon2Kind,
}

/// Fills the memory: the first two blocks of each lane from H0, then every pass, slice and lane in order
/// (the lanes of one slice are independent; one after the other gives what parallel threads would).
fn fill_memory(
    memory: &mut [Block],
    geometry: &Geometry,
    h0: &[u8; 64],
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<(), CryptoError> {
    let lane_length = geometry.lane_length as usize;
    let mut bytes = [0u8; BLOCK_BYTES];
    for lane in 0..geometry.lanes {
        for column in 0..2u32 {
            hash_long(
                &mut bytes,
                &[h0, &column.to_le_bytes(), &lane.to_le_bytes()],
            );
            memory[lane as usize * lane_length + column as usize] = block_from_bytes(&bytes);
        }
    }
    bytes.zeroize();
    let total =
        u64::from(geometry.passes) * u64::from(geometry.lane_length) * u64::from(geometry.lanes);
    let mut done = 0u64;
    let mut since_ask = 0u32;
    for pass in 0..geometry.passes {
        for slice in 0..SYNC_POINTS {
            for lane in 0..geometry.lanes {
                let mut segment = Segment {
                    pass,
                    slice,
                    lane,
                    addresses: [0; BLOCK_WORDS],
                    input: [0; BLOCK_WORDS],
                    work: [[0; BLOCK_WORDS]; 2],
                };
                let first = if pass == 0 && slice == 0 { 2 } else { 0 };
                segment.start(geometry);
                let stop = (first..geometry.segment).try_for_each(|index| {
                    segment.fill(memory, geometry, index);
                    since_ask += 1;
                    if since_ask == ASK_BLOCKS {
                        done += u64::from(since_ask);
                        since_ask = 0;
                        if !progress((done * 100 / total) as u32) {
                            return Err(CryptoError::Interrupted);
                        }
                    }
                    Ok(())
                });
                // The segment's work blocks held state derived from the passphrase.
                segment.work.zeroize();
                stop?;
                done += u64::from(first);
            }
        }
    }
    done += u64::from(since_ask);
    debug_assert_eq!(done, total);
    if !progress(100) {
        return Err(CryptoError::Interrupted);
    }
    Ok(())
}

/// One lane's segment of one slice of one pass, with its address generator (Argon2i's data-independent
/// addressing; Argon2id uses it in the first half of the first pass).
struct Segment {
    pass: u32,
    slice: u32,
    lane: u32,
    /// The current block of addresses, and the block it is made from (the position and a counter).
    addresses: Block,
    input: Block,
    /// Where each block is worked out (kept here to be wiped once, at the segment's end).
    work: [Block; 2],
}

impl Segment {
    fn data_independent(&self, geometry: &Geometry) -> bool {
        match geometry.kind {
            Argon2Kind::Argon2i => true,
            Argon2Kind::Argon2id => self.pass == 0 && self.slice < SYNC_POINTS / 2,
        }
    }

    /// Sets up the address generator's input block (RFC 9106 section 3.4.1.2).
    fn start(&mut self, geometry: &Geometry) {
        if self.data_independent(geometry) {
            self.input[..6].copy_from_slice(&[
                u64::from(self.pass),
                u64::from(self.lane),
                u64::from(self.slice),
                u64::from(geometry.lane_length * geometry.lanes),
                u64::from(geometry.passes),
                u64::from(geometry.kind.number()),
            ]);
        }
    }

    /// Computes block `index` of the segment.
    #[optimize(speed)]
    #[inline(never)]
    fn fill(&mut self, memory: &mut [Block], geometry: &Geometry, index: u32) {
        let lane_length = geometry.lane_length as usize;
        let lane_start = self.lane as usize * lane_length;
        let column = (self.slice * geometry.segment + index) as usize;
        // The block before, in the same lane (the lane's last for its first block).
        let previous = lane_start
            + if column == 0 {
                lane_length - 1
            } else {
                column - 1
            };
        let random = if self.data_independent(geometry) {
            let at = index as usize % ADDRESSES_PER_BLOCK;
            if at == 0 || (index == 2 && self.pass == 0 && self.slice == 0) {
                self.next_addresses();
            }
            self.addresses[at]
        } else {
            memory[previous][0]
        };
        let j1 = random as u32;
        let j2 = (random >> 32) as u32;
        // The first slice of the first pass takes its own lane only: the others have nothing yet.
        let reference_lane = if self.pass == 0 && self.slice == 0 {
            self.lane
        } else {
            j2 % geometry.lanes
        };
        let same_lane = reference_lane == self.lane;
        let reference = reference_lane as usize * lane_length
            + self.reference_column(geometry, index, j1, same_lane) as usize;
        // G(previous, reference) = P(R) ^ R, with R = previous ^ reference.
        let [r, q] = &mut self.work;
        for ((r, q), (a, b)) in r
            .iter_mut()
            .zip(q.iter_mut())
            .zip(memory[previous].iter().zip(&memory[reference]))
        {
            *r = a ^ b;
            *q = a ^ b;
        }
        permute(q);
        let current = &mut memory[lane_start + column];
        // Version 0x13: later passes XOR the new block into the old one.
        if self.pass == 0 {
            for (c, (r, q)) in current.iter_mut().zip(r.iter().zip(q.iter())) {
                *c = r ^ q;
            }
        } else {
            for (c, (r, q)) in current.iter_mut().zip(r.iter().zip(q.iter())) {
                *c ^= r ^ q;
            }
        }
    }

    /// The column of the reference block (RFC 9106 section 3.4.2): J1 mapped, non-uniformly, onto the blocks
    /// that may be referenced.
    fn reference_column(&self, geometry: &Geometry, index: u32, j1: u32, same_lane: bool) -> u32 {
        // Blocks computed and not in this slice of other lanes; in the own lane all but the previous one.
        let finished = if self.pass == 0 {
            self.slice * geometry.segment
        } else {
            geometry.lane_length - geometry.segment
        };
        let area = if same_lane {
            finished + index - 1
        } else if index == 0 {
            finished - 1
        } else {
            finished
        };
        let x = (u64::from(j1) * u64::from(j1)) >> 32;
        let y = (u64::from(area) * x) >> 32;
        let relative = u64::from(area) - 1 - y;
        let start = if self.pass == 0 || self.slice == SYNC_POINTS - 1 {
            0
        } else {
            (self.slice + 1) * geometry.segment
        };
        ((u64::from(start) + relative) % u64::from(geometry.lane_length)) as u32
    }

    /// The next block of addresses: G(0, G(0, input)) after the counter in the input is stepped.
    fn next_addresses(&mut self) {
        self.input[6] += 1;
        let mut block = self.input;
        compress_with_zero(&mut block);
        compress_with_zero(&mut block);
        self.addresses = block;
    }
}

/// `block = G(0, block)`: the compression of a zero block with `block` (which is then `P(block) ^ block`).
fn compress_with_zero(block: &mut Block) {
    let mut permuted = *block;
    permute(&mut permuted);
    xor_into(block, &permuted);
}

#[inline(always)]
fn xor_into(target: &mut Block, other: &Block) {
    for (a, b) in target.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// The permutation P over the block as an 8x8 matrix of 16-byte registers (word pairs): each row, then each
/// column.
#[optimize(speed)]
fn permute(block: &mut Block) {
    for row in block.chunks_exact_mut(16) {
        let row: &mut [u64; 16] = row.try_into().unwrap_or_else(|_| unreachable!());
        round(row);
    }
    for column in 0..8 {
        let mut v = [0u64; 16];
        for register in 0..8 {
            v[2 * register] = block[register * 16 + 2 * column];
            v[2 * register + 1] = block[register * 16 + 2 * column + 1];
        }
        round(&mut v);
        for register in 0..8 {
            block[register * 16 + 2 * column] = v[2 * register];
            block[register * 16 + 2 * column + 1] = v[2 * register + 1];
        }
    }
}

/// BLAKE2b's round without a message, with the multiplications of Argon2's BlaMka (RFC 9106 section 3.6).
#[inline(always)]
fn round(v: &mut [u64; 16]) {
    #[inline(always)]
    fn mix(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize) {
        let blamka = |x: u64, y: u64| {
            x.wrapping_add(y)
                .wrapping_add(2u64.wrapping_mul(u64::from(x as u32) * u64::from(y as u32)))
        };
        v[a] = blamka(v[a], v[b]);
        v[d] = (v[d] ^ v[a]).rotate_right(32);
        v[c] = blamka(v[c], v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(24);
        v[a] = blamka(v[a], v[b]);
        v[d] = (v[d] ^ v[a]).rotate_right(16);
        v[c] = blamka(v[c], v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(63);
    }
    mix(v, 0, 4, 8, 12);
    mix(v, 1, 5, 9, 13);
    mix(v, 2, 6, 10, 14);
    mix(v, 3, 7, 11, 15);
    mix(v, 0, 5, 10, 15);
    mix(v, 1, 6, 11, 12);
    mix(v, 2, 7, 8, 13);
    mix(v, 3, 4, 9, 14);
}

fn block_from_bytes(bytes: &[u8; BLOCK_BYTES]) -> Block {
    let mut block = [0u64; BLOCK_WORDS];
    for (word, chunk) in block.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        *word = u64::from_le_bytes(eight);
    }
    block
}

fn block_bytes(block: &Block) -> [u8; BLOCK_BYTES] {
    let mut bytes = [0u8; BLOCK_BYTES];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(block) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// H' (RFC 9106 section 3.3): BLAKE2b of any output length, of the output length and then `parts`.
fn hash_long(out: &mut [u8], parts: &[&[u8]]) {
    let length = (out.len() as u32).to_le_bytes();
    if out.len() <= 64 {
        let mut hasher = Blake2b::new(out.len());
        hasher.update(&length);
        parts.iter().for_each(|part| hasher.update(part));
        hasher.finish(out);
        return;
    }
    // V1 = H(length || parts), V(i+1) = H(Vi), each 64 bytes, of which the first 32 are output; the last is
    // as long as what is left (between 33 and 64 bytes).
    let mut v = [0u8; 64];
    let mut hasher = Blake2b::new(64);
    hasher.update(&length);
    parts.iter().for_each(|part| hasher.update(part));
    hasher.finish(&mut v);
    let mut at = 0;
    loop {
        out[at..at + 32].copy_from_slice(&v[..32]);
        at += 32;
        let rest = out.len() - at;
        let mut hasher = Blake2b::new(rest.min(64));
        hasher.update(&v);
        if rest > 64 {
            hasher.finish(&mut v);
        } else {
            hasher.finish(&mut out[at..]);
            break;
        }
    }
    v.zeroize();
}

/// BLAKE2b (RFC 7693) without a key, of 1 to 64 bytes of output.
pub(crate) struct Blake2b {
    h: [u64; 8],
    /// Bytes hashed so far, without those in `buffer`.
    counter: u128,
    buffer: [u8; 128],
    filled: usize,
    out_length: usize,
}

/// BLAKE2b's IV is SHA-512's (RFC 7693, 2.6).
const BLAKE2B_IV: [u64; 8] = crate::hash::SHA512_IV;
const SIGMA: [[u8; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

impl Blake2b {
    /// A hash of `out_length` bytes (1 to 64; the callers here ask for no other).
    pub(crate) fn new(out_length: usize) -> Blake2b {
        debug_assert!((1..=64).contains(&out_length));
        let mut h = BLAKE2B_IV;
        // The parameter block's first word: digest length, no key, fanout 1, depth 1.
        h[0] ^= 0x0101_0000 ^ out_length as u64;
        Blake2b {
            h,
            counter: 0,
            buffer: [0; 128],
            filled: 0,
            out_length,
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            // A full buffer is compressed only when more follows: the last block is compressed by `finish`.
            if self.filled == 128 {
                self.counter += 128;
                self.compress(false);
                self.filled = 0;
            }
            let take = (128 - self.filled).min(data.len());
            self.buffer[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
        }
    }

    /// Writes the hash to `out` (of the length given to `new`).
    pub(crate) fn finish(mut self, out: &mut [u8]) {
        self.counter += self.filled as u128;
        self.buffer[self.filled..].fill(0);
        self.compress(true);
        for (chunk, word) in out[..self.out_length].chunks_mut(8).zip(self.h) {
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
        self.h.zeroize();
        self.buffer.zeroize();
    }

    fn compress(&mut self, last: bool) {
        let mut m = [0u64; 16];
        for (word, chunk) in m.iter_mut().zip(self.buffer.chunks_exact(8)) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            *word = u64::from_le_bytes(eight);
        }
        let mut v = [0u64; 16];
        v[..8].copy_from_slice(&self.h);
        v[8..].copy_from_slice(&BLAKE2B_IV);
        v[12] ^= self.counter as u64;
        v[13] ^= (self.counter >> 64) as u64;
        if last {
            v[14] = !v[14];
        }
        fn mix(v: &mut [u64; 16], [a, b, c, d]: [usize; 4], x: u64, y: u64) {
            v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
            v[d] = (v[d] ^ v[a]).rotate_right(32);
            v[c] = v[c].wrapping_add(v[d]);
            v[b] = (v[b] ^ v[c]).rotate_right(24);
            v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
            v[d] = (v[d] ^ v[a]).rotate_right(16);
            v[c] = v[c].wrapping_add(v[d]);
            v[b] = (v[b] ^ v[c]).rotate_right(63);
        }
        const LANES: [[usize; 4]; 8] = [
            [0, 4, 8, 12],
            [1, 5, 9, 13],
            [2, 6, 10, 14],
            [3, 7, 11, 15],
            [0, 5, 10, 15],
            [1, 6, 11, 12],
            [2, 7, 8, 13],
            [3, 4, 9, 14],
        ];
        for round in 0..12 {
            let s = &SIGMA[round % 10];
            for (i, lane) in LANES.iter().enumerate() {
                mix(
                    &mut v,
                    *lane,
                    m[s[2 * i] as usize],
                    m[s[2 * i + 1] as usize],
                );
            }
        }
        for i in 0..8 {
            self.h[i] ^= v[i] ^ v[i + 8];
        }
        m.zeroize();
        v.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn blake2b(out_length: usize, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0; out_length];
        let mut hasher = Blake2b::new(out_length);
        hasher.update(data);
        hasher.finish(&mut out);
        out
    }

    /// RFC 7693 appendix A: BLAKE2b-512 of "abc".
    #[test]
    fn blake2b_of_abc() {
        assert_eq!(
            hex(&blake2b(64, b"abc")),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
    }

    /// Against the `blake2` crate at its fixed lengths, for inputs around the 128-byte block, fed whole and in
    /// pieces.
    #[test]
    fn blake2b_agrees_with_the_blake2_crate() {
        use blake2::Digest;
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        for length in [0, 1, 63, 127, 128, 129, 255, 256, 257, 600] {
            let input = &data[..length];
            assert_eq!(
                blake2b(64, input),
                blake2::Blake2b512::digest(input).to_vec(),
                "{length}"
            );
            assert_eq!(
                blake2b(32, input),
                blake2::Blake2b::<blake2::digest::consts::U32>::digest(input).to_vec(),
                "{length}"
            );
            let mut pieces = Blake2b::new(64);
            for piece in input.chunks(50) {
                pieces.update(piece);
            }
            pieces.update(&[]);
            let mut out = [0u8; 64];
            pieces.finish(&mut out);
            assert_eq!(out.to_vec(), blake2b(64, input), "{length} in pieces");
        }
    }

    /// RFC 9106 section 5: Argon2i and Argon2id with a secret and associated data, 4 lanes, 3 passes.
    #[test]
    fn rfc_9106_vectors() {
        for (kind, expected) in [
            (
                Argon2Kind::Argon2i,
                "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8",
            ),
            (
                Argon2Kind::Argon2id,
                "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
            ),
        ] {
            let tag = argon2_keyed(
                kind,
                &[1; 32],
                &[2; 16],
                &[3; 8],
                &[4; 12],
                Costs {
                    time: 3,
                    memory_kib: 32,
                    lanes: 4,
                },
                32,
                &mut |_| true,
            )
            .unwrap();
            assert_eq!(hex(tag.as_bytes()), expected, "{kind:?}");
        }
    }

    /// Against the `argon2` crate over many shapes: lanes, memory not a multiple of 4 lanes, more than one
    /// address block per segment, passes, output lengths across H' (4, 32, 64, 65, 100, 1024 bytes).
    #[test]
    fn argon2_agrees_with_the_argon2_crate() {
        let shapes = [
            (1, 8, 1, 32),
            (1, 17, 2, 64),
            (2, 16, 1, 65),
            (1, 300, 1, 4),
            (3, 530, 4, 100),
            (2, 1031, 3, 1024),
            (1, 130, 16, 33),
            (2, 2000, 1, 32),
            (1, 4100, 2, 64),
        ];
        for (time, memory_kib, lanes, length) in shapes {
            for kind in [Argon2Kind::Argon2i, Argon2Kind::Argon2id] {
                let ours = argon2(
                    kind,
                    b"passphrase",
                    b"somesaltsomesalt",
                    time,
                    memory_kib,
                    lanes,
                    length,
                )
                .unwrap();
                let algorithm = match kind {
                    Argon2Kind::Argon2i => argon2::Algorithm::Argon2i,
                    Argon2Kind::Argon2id => argon2::Algorithm::Argon2id,
                };
                let params = argon2::Params::new(memory_kib, time, lanes, Some(length)).unwrap();
                let mut theirs = vec![0u8; length];
                argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
                    .hash_password_into(b"passphrase", b"somesaltsomesalt", &mut theirs)
                    .unwrap();
                assert_eq!(
                    hex(ours.as_bytes()),
                    hex(&theirs),
                    "{kind:?} t={time} m={memory_kib} p={lanes} length={length}"
                );
            }
        }
    }

    #[test]
    fn progress_is_reported_and_can_stop_the_derivation() {
        let costs = Costs {
            time: 2,
            memory_kib: 4 * ASK_BLOCKS,
            lanes: 2,
        };
        let mut seen = Vec::new();
        let key = argon2_with_progress(
            Argon2Kind::Argon2id,
            b"p",
            b"saltsalt",
            costs,
            32,
            &mut |p| {
                seen.push(p);
                true
            },
        )
        .unwrap();
        // 2 passes over 4 * 4096 blocks, less the 4 made from H0: asked after every 4096 blocks (7 times), then
        // at the end.
        assert_eq!(seen.len(), 8, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert!((12..=13).contains(&seen[0]) && seen[7] == 100, "{seen:?}");
        assert_eq!(
            key.as_bytes(),
            argon2(
                Argon2Kind::Argon2id,
                b"p",
                b"saltsalt",
                2,
                4 * ASK_BLOCKS,
                2,
                32
            )
            .unwrap()
            .as_bytes()
        );
        for stop_at in [1, 3, 8] {
            let mut asked = 0;
            let result = argon2_with_progress(
                Argon2Kind::Argon2i,
                b"p",
                b"saltsalt",
                costs,
                32,
                &mut |_| {
                    asked += 1;
                    asked < stop_at
                },
            );
            assert!(
                matches!(result, Err(CryptoError::Interrupted)),
                "{result:?}"
            );
            assert_eq!(asked, stop_at);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let limit = |time, memory_kib, lanes, salt: &[u8], length| {
            matches!(
                argon2(
                    Argon2Kind::Argon2id,
                    b"p",
                    salt,
                    time,
                    memory_kib,
                    lanes,
                    length
                ),
                Err(CryptoError::Limit(_))
            )
        };
        assert!(limit(1, 31, 4, b"saltsalt", 32), "under 8 KiB a lane");
        assert!(limit(1, 7, 1, b"saltsalt", 32));
        assert!(limit(1, 64, 1, b"salt", 32), "a salt under 8 bytes");
        assert!(limit(1, 64, 1, b"saltsalt", 3), "an output under 4 bytes");
        assert!(limit(0, 64, 1, b"saltsalt", 32));
        assert!(limit(1, 64, 0, b"saltsalt", 32));
        assert!(!limit(1, 32, 4, b"saltsalt", 4));
    }
}
