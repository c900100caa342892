//! LUKS1, LUKS2 and plain volumes made at test time by cryptsetup (headers, key slots) and python3's
//! `cryptography` (the encrypted payload), never by this crate: our reader must agree with them.

mod common;

use bootscript_crypto::{
    luks_open, plain_view, BlockDevice, CryptView, CryptoError, Luks1Header, Luks2Header,
    SectorCipher,
};
use common::{python_encrypt, read_all, run, scratch, write_pattern, MemDevice, FAST_ARGON2ID};
use std::path::{Path, PathBuf};
use std::rc::Rc;

const PASSPHRASE: &[u8] = b"correct horse battery staple";
const PLAIN_BYTES: usize = 384 * 1024;

struct Fixture {
    dir: PathBuf,
    image: PathBuf,
    plain: Vec<u8>,
    /// Data offset in bytes, as luksDump reports it.
    offset: u64,
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The data offset in bytes, read from `cryptsetup luksDump` (not from our own parser).
fn dumped_offset(image: &Path) -> u64 {
    let dump = run("cryptsetup", &["luksDump", path_str(image)]);
    if let Some(line) = dump.lines().find(|l| l.starts_with("Payload offset:")) {
        return line
            .split_whitespace()
            .last()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 512;
    }
    let line = dump
        .lines()
        .find(|l| l.trim_start().starts_with("offset:"))
        .expect("offset in luksDump");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Formats a volume with a known volume key and encrypts a patterned payload into it with python.
fn luks_fixture(
    name: &str,
    kind: &str,
    cipher: &str,
    key_bytes: usize,
    sector_size: usize,
    extra: &[&str],
) -> Fixture {
    let dir = scratch(name);
    let image = dir.join("volume.img");
    let key_file = dir.join("volume.key");
    let pass_file = dir.join("passphrase");
    let plain_file = dir.join("plain.bin");
    let key: Vec<u8> = (0..key_bytes).map(|i| (i * 37 + 11) as u8).collect();
    std::fs::write(&key_file, &key).unwrap();
    std::fs::write(&pass_file, PASSPHRASE).unwrap();
    let file = std::fs::File::create(&image).unwrap();
    file.set_len(4 * 1024 * 1024 + PLAIN_BYTES as u64).unwrap();
    drop(file);
    let key_bits = (key_bytes * 8).to_string();
    let sector = sector_size.to_string();
    let mut args = vec![
        "luksFormat",
        "-q",
        "--type",
        kind,
        "--cipher",
        cipher,
        "--key-size",
        &key_bits,
        "--volume-key-file",
        path_str(&key_file),
        "--key-file",
        path_str(&pass_file),
    ];
    if kind == "luks2" {
        args.extend(["--sector-size", &sector, "--luks2-keyslots-size", "1m"]);
    }
    args.extend(extra);
    args.push(path_str(&image));
    run("cryptsetup", &args);
    let offset = dumped_offset(&image);
    let plain = write_pattern(&plain_file, PLAIN_BYTES);
    let mode = if cipher.contains("xts") {
        "xts"
    } else {
        "cbc-essiv"
    };
    // dm-crypt counts IVs in 512-byte units unless iv_large_sectors is set, which LUKS2 never sets.
    python_encrypt(&image, offset, mode, &key, sector_size, 512, 0, &plain_file);
    Fixture {
        dir,
        image,
        plain,
        offset,
    }
}

fn device(image: &Path) -> Rc<dyn BlockDevice> {
    Rc::new(MemDevice(std::fs::read(image).unwrap()))
}

/// Opens with the right passphrase and reads the plaintext back; a wrong one is refused exactly.
fn check_opens(fixture: &Fixture, sector_size: u64) {
    let inner = device(&fixture.image);
    let mut percents = Vec::new();
    let view = luks_open(inner.clone(), PASSPHRASE, &mut |p| {
        percents.push(p);
        true
    })
    .unwrap();
    assert_eq!(percents.last(), Some(&100), "progress ends at 100%");
    // The fixtures' derivations are small: percentages only, never "slow work of unknown length".
    assert!(percents.iter().all(|&p| p <= 100), "{percents:?}");
    let payload = inner.sectors() - fixture.offset / 512;
    assert_eq!(view.sectors(), payload - payload % (sector_size / 512));
    assert!(
        read_all(&*view, PLAIN_BYTES) == fixture.plain,
        "plaintext differs"
    );
    // Reads that start and end inside large encryption sectors.
    let mut part = vec![0u8; 10 * 512];
    view.read(3, &mut part).unwrap();
    assert!(part == fixture.plain[3 * 512..13 * 512]);
    let error = luks_open(inner.clone(), b"wrong passphrase", &mut |_| true)
        .err()
        .unwrap();
    assert_eq!(error, CryptoError::NoKeySlotMatches);
    assert_eq!(error.to_string(), "no key slot matches");
    // Told to stop (Ctrl-C) at its first look, the unlock stops there, with the right passphrase too.
    let mut looks = 0;
    let error = luks_open(inner, PASSPHRASE, &mut |_| {
        looks += 1;
        false
    })
    .err()
    .unwrap();
    assert_eq!(error, CryptoError::Interrupted);
    assert_eq!(looks, 1);
    let _ = std::fs::remove_dir_all(&fixture.dir);
}

const FAST_PBKDF2: [&str; 2] = ["--pbkdf-force-iterations", "1000"];
/// A LUKS2 key slot of PBKDF2-SHA256 at the fast iteration count.
const LUKS2_FAST_PBKDF2: [&str; 6] = [
    "--pbkdf",
    "pbkdf2",
    "--hash",
    "sha256",
    FAST_PBKDF2[0],
    FAST_PBKDF2[1],
];

#[test]
fn luks1_xts_sha256() {
    let fixture = luks_fixture(
        "l1-xts",
        "luks1",
        "aes-xts-plain64",
        64,
        512,
        &["--hash", "sha256", FAST_PBKDF2[0], FAST_PBKDF2[1]],
    );
    let header = Luks1Header::parse(&std::fs::read(&fixture.image).unwrap()[..1024]).unwrap();
    assert_eq!(u64::from(header.payload_offset) * 512, fixture.offset);
    assert_eq!(header.cipher, "aes-xts-plain64");
    assert_eq!(header.key_slots.iter().filter(|s| s.active).count(), 1);
    check_opens(&fixture, 512);
}

#[test]
fn luks1_cbc_essiv_sha1_second_slot() {
    let fixture = luks_fixture(
        "l1-cbc",
        "luks1",
        "aes-cbc-essiv:sha256",
        32,
        512,
        &["--hash", "sha1", FAST_PBKDF2[0], FAST_PBKDF2[1]],
    );
    // A second passphrase in slot 1: every active slot is tried, in order.
    let old = fixture.dir.join("passphrase");
    let new = fixture.dir.join("second");
    std::fs::write(&new, b"another one").unwrap();
    run(
        "cryptsetup",
        &[
            "luksAddKey",
            "-q",
            "--key-file",
            path_str(&old),
            FAST_PBKDF2[0],
            FAST_PBKDF2[1],
            path_str(&fixture.image),
            path_str(&new),
        ],
    );
    let view = luks_open(device(&fixture.image), b"another one", &mut |_| true).unwrap();
    assert!(read_all(&*view, PLAIN_BYTES) == fixture.plain);
    check_opens(&fixture, 512);
}

#[test]
fn luks1_xts_128_sha512() {
    let fixture = luks_fixture(
        "l1-sha512",
        "luks1",
        "aes-xts-plain64",
        32,
        512,
        &["--hash", "sha512", FAST_PBKDF2[0], FAST_PBKDF2[1]],
    );
    check_opens(&fixture, 512);
}

/// LUKS1 with RIPEMD-160 (one of the format's hashes, `cryptsetup luksFormat --hash ripemd160`): its PBKDF2,
/// the anti-forensic split and the volume key digest all use it.
#[test]
fn luks1_cbc_essiv_ripemd160() {
    let fixture = luks_fixture(
        "l1-ripemd160",
        "luks1",
        "aes-cbc-essiv:sha256",
        32,
        512,
        &["--hash", "ripemd160", FAST_PBKDF2[0], FAST_PBKDF2[1]],
    );
    let header = Luks1Header::parse(&std::fs::read(&fixture.image).unwrap()[..1024]).unwrap();
    assert_eq!(header.hash, bootscript_crypto::HashAlgorithm::Ripemd160);
    check_opens(&fixture, 512);
}

#[test]
fn luks2_pbkdf2_xts() {
    let fixture = luks_fixture(
        "l2-pbkdf2",
        "luks2",
        "aes-xts-plain64",
        64,
        512,
        &LUKS2_FAST_PBKDF2,
    );
    let header = Luks2Header::read(&*device(&fixture.image)).unwrap();
    assert_eq!(header.metadata.segments[0].offset, fixture.offset);
    assert_eq!(header.metadata.keyslots.len(), 1);
    let old = fixture.dir.join("passphrase");
    let new = fixture.dir.join("second");
    std::fs::write(&new, b"another one").unwrap();
    run(
        "cryptsetup",
        &[
            "luksAddKey",
            "-q",
            "--key-file",
            path_str(&old),
            "--pbkdf",
            "pbkdf2",
            FAST_PBKDF2[0],
            FAST_PBKDF2[1],
            path_str(&fixture.image),
            path_str(&new),
        ],
    );
    let view = luks_open(device(&fixture.image), b"another one", &mut |_| true).unwrap();
    assert!(read_all(&*view, PLAIN_BYTES) == fixture.plain);
    check_opens(&fixture, 512);
}

#[test]
fn luks2_argon2id_cbc_essiv() {
    let fixture = luks_fixture(
        "l2-argon2id",
        "luks2",
        "aes-cbc-essiv:sha256",
        16,
        512,
        &FAST_ARGON2ID,
    );
    check_opens(&fixture, 512);
}

#[test]
fn luks2_argon2i_xts_4096_sectors() {
    let fixture = luks_fixture(
        "l2-4k",
        "luks2",
        "aes-xts-plain64",
        32,
        4096,
        &[
            "--pbkdf",
            "argon2i",
            "--pbkdf-memory",
            "64",
            "--pbkdf-force-iterations",
            "4",
            "--pbkdf-parallel",
            "2",
        ],
    );
    let header = Luks2Header::read(&*device(&fixture.image)).unwrap();
    assert_eq!(header.metadata.segments[0].sector_size, 4096);
    // On a device that ends 3 sectors into an encryption sector, the mapping ends at the last whole one, as
    // dm-crypt's would: a read there would need the part of the sector the device does not have.
    let mut bytes = std::fs::read(&fixture.image).unwrap();
    bytes.resize(bytes.len() + 3 * 512, 0);
    let inner: Rc<dyn BlockDevice> = Rc::new(MemDevice(bytes));
    let view = luks_open(inner.clone(), PASSPHRASE, &mut |_| true).unwrap();
    let payload = inner.sectors() - fixture.offset / 512;
    assert_eq!(payload % 8, 3);
    assert_eq!(view.sectors(), payload - 3);
    check_opens(&fixture, 4096);
}

/// Plain mappings against python-encrypted images, with offset, size and skip as cryptsetup takes them.
#[test]
fn plain_mappings() {
    let dir = scratch("plain");
    let plain_file = dir.join("plain.bin");
    let plain = write_pattern(&plain_file, 256 * 1024);
    // (cipher, python mode, key bytes, offset, size, skip)
    type Case = (&'static str, &'static str, usize, u64, Option<u64>, u64);
    let cases: [Case; 6] = [
        ("aes-xts-plain64", "xts", 64, 16, Some(512), 5),
        ("aes-xts-plain64", "xts", 32, 0, None, 0),
        ("aes-cbc-essiv:sha256", "cbc-essiv", 32, 8, Some(600), 100),
        ("aes-cbc-essiv:sha256", "cbc-essiv", 16, 1, None, 0),
        ("aes-cbc-plain64", "cbc-plain64", 32, 2, None, 7),
        // ESSIV encrypts the whole 64-bit sector number (dm-crypt's essiv is plain64 under the hashed key):
        // IVs past 2^32 must not lose their high bits.
        (
            "aes-cbc-essiv:sha256",
            "cbc-essiv",
            32,
            4,
            None,
            (1 << 32) + 5,
        ),
    ];
    for (cipher, mode, key_bytes, offset, size, skip) in cases {
        let image = dir.join("image");
        std::fs::write(&image, vec![0u8; 512 * 1024]).unwrap();
        let key: Vec<u8> = (0..key_bytes).map(|i| (i * 91 + key_bytes) as u8).collect();
        python_encrypt(
            &image,
            offset * 512,
            mode,
            &key,
            512,
            512,
            skip,
            &plain_file,
        );
        let inner = device(&image);
        let view = plain_view(inner.clone(), cipher, &key, offset, size, skip).unwrap();
        assert_eq!(view.sectors(), size.unwrap_or(1024 - offset), "{cipher}");
        assert!(
            read_all(&*view, plain.len()) == plain,
            "{cipher} {key_bytes}-byte key"
        );
        let mut part = vec![0u8; 3 * 512];
        view.read(77, &mut part).unwrap();
        assert!(part == plain[77 * 512..80 * 512]);
        let past = view.read(view.sectors() - 1, &mut part);
        assert!(past.is_err(), "a read past the end fails");
    }
    let inner = device(&dir.join("image"));
    let error = plain_view(inner.clone(), "aes-xts-plain64", &[1; 48], 0, None, 0)
        .err()
        .unwrap();
    assert!(
        matches!(error, CryptoError::KeyLength { length: 48, .. }),
        "{error}"
    );
    let error = plain_view(
        inner.clone(),
        "aes-xts-plain64",
        &[1; 64],
        1000,
        Some(100),
        0,
    )
    .err()
    .unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
    let error = plain_view(inner, "serpent-xts-plain64", &[1; 64], 0, None, 0)
        .err()
        .unwrap();
    assert!(matches!(error, CryptoError::UnknownCipher(_)), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A view with `iv_large_sectors` (dm-crypt's option of that name) counts IVs in encryption sectors: 4096-byte
/// sectors from an IV offset of 16 (512-byte units) have IVs 2, 3, 4, ..., as python encrypts them here; without
/// the option the same data does not read back, and an IV offset that is not whole encryption sectors is
/// refused.
#[test]
fn crypt_view_with_iv_large_sectors() {
    let dir = scratch("iv-large");
    let plain_file = dir.join("plain.bin");
    let plain = write_pattern(&plain_file, 64 * 1024);
    let key: Vec<u8> = (0..64).map(|i| (i * 29 + 3) as u8).collect();
    let image = dir.join("image");
    std::fs::write(&image, vec![0u8; 8 * 512 + plain.len()]).unwrap();
    python_encrypt(&image, 8 * 512, "xts", &key, 4096, 4096, 2, &plain_file);
    let inner = device(&image);
    let view = |iv_offset: u64, iv_large_sectors: bool| {
        let cipher = SectorCipher::new("aes-xts-plain64", &key).unwrap();
        let sectors = (plain.len() / 512) as u64;
        CryptView::new(
            inner.clone(),
            cipher,
            8,
            sectors,
            iv_offset,
            4096,
            iv_large_sectors,
        )
    };
    let large = view(16, true).unwrap();
    assert!(read_all(&large, plain.len()) == plain, "iv_large_sectors");
    // A read inside an encryption sector (decrypted whole, then cut).
    let mut part = vec![0u8; 3 * 512];
    large.read(9, &mut part).unwrap();
    assert!(part == plain[9 * 512..12 * 512]);
    let small = view(16, false).unwrap();
    assert!(
        read_all(&small, plain.len()) != plain,
        "IVs in 512-byte units"
    );
    let error = view(12, true).unwrap_err();
    assert_eq!(
        error.to_string(),
        "bad LUKS header: IV offset 12 is not whole sectors"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A LUKS2 segment of fixed size may end exactly at the device's end: it opens and reads as a dynamic one
/// would; one sector more is `VolumeTooSmall`.
#[test]
fn luks2_fixed_segment_up_to_the_device_end() {
    let fixture = luks_fixture(
        "l2-fixed-end",
        "luks2",
        "aes-xts-plain64",
        64,
        512,
        &LUKS2_FAST_PBKDF2,
    );
    let mut bytes = std::fs::read(&fixture.image).unwrap();
    let payload = bytes.len() as u64 - fixture.offset;
    let resize = |bytes: &mut Vec<u8>, size: u64| {
        common::rewrite_json(bytes, |text| {
            assert!(text.contains("\"size\":\"dynamic\""), "{text}");
            text.replace("\"size\":\"dynamic\"", &format!("\"size\":\"{size}\""))
        })
    };
    let mut too_big = bytes.clone();
    resize(&mut too_big, payload + 512);
    let error = luks_open(Rc::new(MemDevice(too_big)), PASSPHRASE, &mut |_| true)
        .err()
        .unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
    resize(&mut bytes, payload);
    std::fs::write(&fixture.image, &bytes).unwrap();
    let header = Luks2Header::read(&*device(&fixture.image)).unwrap();
    assert_eq!(header.metadata.segments[0].size, Some(payload));
    check_opens(&fixture, 512);
}

/// A LUKS2 key slot's area may have a shorter key than the volume (`--keyslot-key-size`): an Argon2 slot
/// derives the area's 32 bytes, not the volume key's 64.
#[test]
fn luks2_argon2_slot_with_its_own_area_key_size() {
    let fixture = luks_fixture(
        "l2-area-key",
        "luks2",
        "aes-xts-plain64",
        64,
        512,
        &[
            &FAST_ARGON2ID[..],
            &[
                "--keyslot-cipher",
                "aes-xts-plain64",
                "--keyslot-key-size",
                "256",
            ],
        ]
        .concat(),
    );
    let header = Luks2Header::read(&*device(&fixture.image)).unwrap();
    let slot = &header.metadata.keyslots[0];
    assert_eq!((slot.key_size, slot.area_key_size), (64, 32));
    assert!(matches!(slot.kdf, bootscript_crypto::Kdf::Argon2 { .. }));
    check_opens(&fixture, 512);
}

/// CBC over 4096-byte encryption sectors: each sector is one CBC chain of 256 blocks, longer than the
/// batch the decryptor hands to AES at once, so this pins that the chaining carries across batches (the
/// other CBC tests use 512-byte sectors, one batch each).
#[test]
fn luks2_cbc_essiv_4096_sectors() {
    let fixture = luks_fixture(
        "l2-cbc-4k",
        "luks2",
        "aes-cbc-essiv:sha256",
        32,
        4096,
        &LUKS2_FAST_PBKDF2,
    );
    let header = Luks2Header::read(&*device(&fixture.image)).unwrap();
    assert_eq!(header.metadata.segments[0].sector_size, 4096);
    assert_eq!(
        header.metadata.segments[0].encryption,
        "aes-cbc-essiv:sha256"
    );
    check_opens(&fixture, 4096);
}

/// A LUKS2 segment's `iv_tweak` is added to every IV sector number, as dm-crypt's `iv_offset`: data
/// encrypted from IV 2048 reads back only when the tweak says 2048.
#[test]
fn luks2_iv_tweak_is_honoured() {
    let fixture = luks_fixture(
        "l2-iv-tweak",
        "luks2",
        "aes-xts-plain64",
        64,
        512,
        &LUKS2_FAST_PBKDF2,
    );
    // The same plaintext encrypted again over the payload, its IVs counting from 2048.
    let key = std::fs::read(fixture.dir.join("volume.key")).unwrap();
    python_encrypt(
        &fixture.image,
        fixture.offset,
        "xts",
        &key,
        512,
        512,
        2048,
        &fixture.dir.join("plain.bin"),
    );
    // With the header's tweak still 0 the payload opens but does not read as the plaintext.
    let view = luks_open(device(&fixture.image), PASSPHRASE, &mut |_| true).unwrap();
    assert!(
        read_all(&*view, PLAIN_BYTES) != fixture.plain,
        "tweak 0 reads data encrypted from IV 2048"
    );
    let mut bytes = std::fs::read(&fixture.image).unwrap();
    common::rewrite_json(&mut bytes, |text| {
        assert!(text.contains("\"iv_tweak\":\"0\""), "{text}");
        text.replace("\"iv_tweak\":\"0\"", "\"iv_tweak\":\"2048\"")
    });
    std::fs::write(&fixture.image, &bytes).unwrap();
    let header = Luks2Header::read(&*device(&fixture.image)).unwrap();
    assert_eq!(header.metadata.segments[0].iv_tweak, 2048);
    check_opens(&fixture, 512);
}

/// The `plain` IV (aes-xts-plain, aes-cbc-plain) is the sector number truncated to 32 bits, unlike
/// `plain64`: python encrypts with IVs from 5, so a mapping that skips 2^32 + 5 sectors must read the
/// same data with `plain` and must not with `plain64`; a run of sectors whose IVs wrap past 2^32 reads
/// back too.
#[test]
fn plain_iv_is_32_bits() {
    let dir = scratch("plain-32");
    let plain_file = dir.join("plain.bin");
    let plain = write_pattern(&plain_file, 64 * 1024);
    let sectors = (plain.len() / 512) as u64;
    let key: Vec<u8> = (0..64).map(|i| (i * 13 + 7) as u8).collect();
    let image = dir.join("image");
    let skip = (1u64 << 32) + 5;
    // (32-bit cipher, its 64-bit twin, python mode, key bytes)
    let cases = [
        ("aes-xts-plain", "aes-xts-plain64", "xts", 64),
        ("aes-cbc-plain", "aes-cbc-plain64", "cbc-plain64", 32),
    ];
    for (cipher, cipher64, mode, key_bytes) in cases {
        let key = &key[..key_bytes];
        std::fs::write(&image, vec![0u8; plain.len()]).unwrap();
        python_encrypt(&image, 0, mode, key, 512, 512, 5, &plain_file);
        let inner = device(&image);
        let view = plain_view(inner.clone(), cipher, key, 0, None, skip).unwrap();
        assert_eq!(view.sectors(), sectors);
        assert!(read_all(&*view, plain.len()) == plain, "{cipher}");
        let view = plain_view(inner, cipher64, key, 0, None, skip).unwrap();
        assert!(
            read_all(&*view, plain.len()) != plain,
            "{cipher64} keeps the high bits"
        );
    }

    // IVs 2^32 - 3, -2, -1, then 0, 1, ...: python encrypts the first three sectors from IV 2^32 - 3 and the
    // rest from IV 0, which is what a 32-bit IV counting from 2^32 - 3 gives.
    let head = dir.join("head.bin");
    let tail = dir.join("tail.bin");
    std::fs::write(&head, &plain[..3 * 512]).unwrap();
    std::fs::write(&tail, &plain[3 * 512..]).unwrap();
    python_encrypt(&image, 0, "xts", &key, 512, 512, (1 << 32) - 3, &head);
    python_encrypt(&image, 3 * 512, "xts", &key, 512, 512, 0, &tail);
    let view = plain_view(
        device(&image),
        "aes-xts-plain",
        &key,
        0,
        None,
        (1 << 32) - 3,
    )
    .unwrap();
    assert!(
        read_all(&*view, plain.len()) == plain,
        "IVs wrapping past 2^32"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
