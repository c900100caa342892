//! Damaged and hostile headers made from real cryptsetup volumes: each is a clear error, never a panic,
//! a hang or an unbounded allocation.

mod common;

use bootscript_crypto::{luks_open, BlockDevice, CryptoError, Luks1Header, Luks2Header};
use common::{rewrite_json, run, scratch, MemDevice};
use std::rc::Rc;

const PASSPHRASE: &[u8] = b"pass";

/// A formatted (payload-less) volume's bytes.
fn format(name: &str, args: &[&str]) -> Vec<u8> {
    let dir = scratch(name);
    let image = dir.join("volume.img");
    let pass = dir.join("passphrase");
    std::fs::write(&pass, PASSPHRASE).unwrap();
    std::fs::File::create(&image)
        .unwrap()
        .set_len(4 * 1024 * 1024)
        .unwrap();
    let mut all = vec!["luksFormat", "-q", "--key-file", pass.to_str().unwrap()];
    all.extend(args);
    all.push(image.to_str().unwrap());
    run("cryptsetup", &all);
    let bytes = std::fs::read(&image).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

fn luks1() -> Vec<u8> {
    format(
        "bad-l1",
        &["--type", "luks1", "--pbkdf-force-iterations", "1000"],
    )
}

fn luks2() -> Vec<u8> {
    format(
        "bad-l2",
        &[
            "--type",
            "luks2",
            "--pbkdf",
            "argon2id",
            "--pbkdf-memory",
            "32",
            "--pbkdf-force-iterations",
            "4",
            "--pbkdf-parallel",
            "1",
            "--luks2-keyslots-size",
            "1m",
            "--sector-size",
            "512",
        ],
    )
}

fn open(bytes: Vec<u8>) -> Result<Rc<dyn BlockDevice>, CryptoError> {
    luks_open(Rc::new(MemDevice(bytes)), PASSPHRASE, &mut |_| true)
}

#[test]
fn both_formats_open_unmodified() {
    open(luks1()).unwrap();
    open(luks2()).unwrap();
}

#[test]
fn truncated_headers() {
    let bytes = luks1();
    assert!(matches!(
        Luks1Header::parse(&bytes[..500]),
        Err(CryptoError::BadHeader(_))
    ));
    let error = open(bytes[..1024].to_vec()).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
    let error = open(bytes[..1024 * 1024].to_vec()).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
    assert_eq!(open(Vec::new()).err().unwrap(), CryptoError::NotLuks);
    assert_eq!(open(vec![0; 8192]).err().unwrap(), CryptoError::NotLuks);
    assert_eq!(open(vec![0; 512]).err().unwrap(), CryptoError::NotLuks);
    let error = open(bytes[..512].to_vec()).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );

    let bytes = luks2();
    let error = open(bytes[..1024].to_vec()).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
    let error = open(bytes[..8192].to_vec()).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
    assert!(matches!(
        Luks2Header::parse(&bytes[..3000]),
        Err(CryptoError::BadHeader(_))
    ));
    assert!(matches!(
        Luks2Header::parse(&bytes[..10000]),
        Err(CryptoError::BadHeader(_))
    ));
    // The key slot area lies past the end of this device.
    let error = open(bytes[..40 * 1024].to_vec()).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
}

#[test]
fn luks2_checksums_and_the_secondary_copy() {
    let original = luks2();
    // Damage in the primary copy alone: the secondary copy still opens the volume.
    let mut bytes = original.clone();
    bytes[5000] ^= 1;
    assert!(matches!(
        Luks2Header::parse(&bytes),
        Err(CryptoError::BadChecksum)
    ));
    open(bytes.clone()).unwrap();
    // Damage in both copies.
    bytes[16384 + 5000] ^= 1;
    assert_eq!(open(bytes).err().unwrap(), CryptoError::BadChecksum);
    let mut bytes = original.clone();
    bytes[448] ^= 1;
    bytes[16384 + 448] ^= 1;
    assert_eq!(open(bytes).err().unwrap(), CryptoError::BadChecksum);
}

#[test]
fn luks2_bad_json_and_absurd_costs() {
    let original = luks2();
    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |_| "{\"keyslots\": [".to_string());
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::BadJson { .. }), "{error}");

    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        text.replace("\"memory\":32", "\"memory\":999999999")
    });
    // The only slot is over a limit: not tried, and the error says why.
    let error = open(bytes).err().unwrap();
    assert!(
        matches!(&error, CryptoError::NoUsableKeySlot(why) if why.starts_with("key slot 0: Argon2 memory cost")),
        "{error}"
    );

    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        text.replace("\"time\":4", "\"time\":4000000000")
    });
    let error = open(bytes).err().unwrap();
    assert!(
        matches!(&error, CryptoError::NoUsableKeySlot(why) if why.contains("Argon2 time cost 4000000000")),
        "{error}"
    );

    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        text.replace("\"stripes\":4000", "\"stripes\":4000000000")
    });
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::BadHeader(_)), "{error}");

    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        text.replace("aes-xts-plain64", "twofish-xts-plain64")
    });
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::UnknownCipher(_)), "{error}");

    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        text.replace("\"hash\":\"sha256\"", "\"hash\":\"whirlpool\"")
    });
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::UnknownHash(_)), "{error}");

    // A segment that claims more than the device holds.
    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        text.replace("\"size\":\"dynamic\"", "\"size\":\"1099511627776\"")
    });
    let error = open(bytes).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );

    // Unchanged metadata still opens: the rewriting itself is sound.
    let mut bytes = original;
    rewrite_json(&mut bytes, |text| text.to_string());
    open(bytes).unwrap();
}

#[test]
fn luks1_absurd_fields() {
    let original = luks1();
    let mut bytes = original.clone();
    bytes[208 + 4..208 + 8].copy_from_slice(&u32::MAX.to_be_bytes()); // slot 0 iterations
    let error = open(bytes).err().unwrap();
    assert_eq!(
        error.to_string(),
        "no usable key slot: key slot 0: PBKDF2 iteration count 4294967295 is outside 1..=1000000000"
    );

    let mut bytes = original.clone();
    bytes[8..40].fill(0);
    bytes[8..15].copy_from_slice(b"serpent");
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::UnknownCipher(_)), "{error}");

    let mut bytes = original.clone();
    bytes[72..104].fill(0);
    bytes[72..81].copy_from_slice(b"whirlpool");
    assert_eq!(
        open(bytes).err().unwrap().to_string(),
        "unknown hash 'whirlpool'"
    );

    let mut bytes = original.clone();
    bytes[108..112].copy_from_slice(&48u32.to_be_bytes()); // key bytes
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::KeyLength { .. }), "{error}");

    let mut bytes = original.clone();
    bytes[208 + 44..208 + 48].copy_from_slice(&u32::MAX.to_be_bytes()); // slot 0 stripes
    let error = open(bytes).err().unwrap();
    assert!(matches!(error, CryptoError::BadHeader(_)), "{error}");

    let mut bytes = original.clone();
    bytes[208 + 40..208 + 44].copy_from_slice(&u32::MAX.to_be_bytes()); // key material offset
    let error = open(bytes).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );

    let mut bytes = original;
    bytes[104..108].copy_from_slice(&u32::MAX.to_be_bytes()); // payload offset
    let error = open(bytes).err().unwrap();
    assert!(
        matches!(error, CryptoError::VolumeTooSmall { .. }),
        "{error}"
    );
}

#[test]
fn error_messages_read_clearly() {
    let cases = [
        (
            CryptoError::OutOfMemory { kib: 1 << 20 },
            "not enough memory: the key derivation needs 1024 MiB",
        ),
        (
            CryptoError::VolumeTooSmall {
                needed: 4096,
                sectors: 100,
            },
            "volume too small: 4096 sectors needed, the device has 100",
        ),
        (CryptoError::NoKeySlotMatches, "no key slot matches"),
        (CryptoError::NotLuks, "not a LUKS volume"),
        (CryptoError::BadChecksum, "bad LUKS2 header checksum"),
        (
            CryptoError::BadJson {
                offset: 7,
                message: "expected a value",
            },
            "bad LUKS2 metadata at byte 7: expected a value",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

/// A device whose sectors from `bad` on cannot be read (a failing disk's bad spot).
struct BadFrom {
    bytes: Vec<u8>,
    bad: std::ops::Range<u64>,
}

impl BlockDevice for BadFrom {
    fn sectors(&self) -> u64 {
        self.bytes.len() as u64 / 512
    }
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), bootscript_crypto::DiskError> {
        let count = buf.len() as u64 / 512;
        if lba < self.bad.end && self.bad.start < lba + count {
            return Err(bootscript_crypto::DiskError::Io("unreadable sector".into()));
        }
        MemDevice(self.bytes.clone()).read(lba, buf)
    }
}

#[test]
fn an_unreadable_secondary_header_does_not_stop_a_good_primary() {
    let bytes = luks2();
    let size = u64::from_be_bytes(bytes[8..16].try_into().unwrap());
    // The secondary copy's sectors (it starts where the primary ends), unreadable.
    let device = BadFrom {
        bytes,
        bad: size / 512..size / 512 + 8,
    };
    let view = luks_open(Rc::new(device), PASSPHRASE, &mut |_| true);
    assert!(view.is_ok(), "{:?}", view.err());
}

/// Rewrites one LUKS2 header copy (0 the primary, 1 the secondary): its label, its sequence id and its JSON
/// text (see `common::rewrite_copy`). The other copy is left alone.
fn relabel_copy(
    bytes: &mut [u8],
    copy: usize,
    label: &str,
    seqid: u64,
    edit: impl Fn(&str) -> String,
) {
    let header = |area: &mut [u8]| {
        area[24..72].fill(0);
        area[24..24 + label.len()].copy_from_slice(label.as_bytes());
        area[16..24].copy_from_slice(&seqid.to_be_bytes());
    };
    common::rewrite_copy(bytes, copy, header, edit);
}

/// Of two valid header copies the one with the higher sequence id is used, as cryptsetup does (the
/// primary may be stale after an interrupted update): its label, its seqid and its metadata, here a
/// fixed 1 MiB segment size where the primary says "dynamic".
#[test]
fn luks2_newer_secondary_copy_wins() {
    let mut bytes = luks2();
    let primary = Luks2Header::parse(&bytes).unwrap();
    assert_eq!(primary.metadata.segments[0].size, None);
    relabel_copy(&mut bytes, 1, "newer", primary.seqid + 1, |text| {
        assert!(text.contains("\"size\":\"dynamic\""), "{text}");
        text.replace("\"size\":\"dynamic\"", "\"size\":\"1048576\"")
    });
    // The primary copy itself is untouched and still valid.
    assert_eq!(Luks2Header::parse(&bytes).unwrap(), primary);
    let header = Luks2Header::read(&MemDevice(bytes.clone())).unwrap();
    assert_eq!(header.label, "newer");
    assert_eq!(header.seqid, primary.seqid + 1);
    assert_eq!(header.metadata.segments[0].size, Some(1 << 20));
    let view = open(bytes.clone()).unwrap();
    assert_eq!(view.sectors(), (1 << 20) / 512);

    // The same copy with a lower sequence id than the primary loses to it.
    relabel_copy(&mut bytes, 1, "older", primary.seqid - 1, |text| {
        text.to_string()
    });
    let header = Luks2Header::read(&MemDevice(bytes.clone())).unwrap();
    assert_eq!((header.seqid, header.label.as_str()), (primary.seqid, ""));
    assert_eq!(header, primary);
    assert!(open(bytes).unwrap().sectors() > (1 << 20) / 512);
}
