//! Damaged and hostile headers made from real cryptsetup volumes: each is a clear error, never a panic,
//! a hang or an unbounded allocation.

mod common;

use bootscript_crypto::{luks_open, BlockDevice, CryptoError, Luks1Header, Luks2Header};
use common::{rewrite_json, run, scratch, MemDevice, FAST_ARGON2ID};
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
            &["--type", "luks2"][..],
            &FAST_ARGON2ID,
            &["--luks2-keyslots-size", "1m", "--sector-size", "512"],
        ]
        .concat(),
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

    // A digest of no bytes can confirm no key: said as a damaged header.
    let mut bytes = original.clone();
    rewrite_json(&mut bytes, |text| {
        let start = text.find("\"digest\":\"").unwrap() + "\"digest\":\"".len();
        let end = start + text[start..].find('"').unwrap();
        format!("{}{}", &text[..start], &text[end..])
    });
    assert_eq!(
        open(bytes).err().unwrap().to_string(),
        "bad LUKS header: empty digest"
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

    // An active slot of no stripes has no key material: refused with the header, before any derivation.
    let mut bytes = original.clone();
    bytes[208 + 44..208 + 48].copy_from_slice(&0u32.to_be_bytes()); // slot 0 stripes
    assert_eq!(
        Luks1Header::parse(&bytes[..1024]).unwrap_err().to_string(),
        "bad LUKS header: key slot 0 has 0 stripes"
    );

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

/// The JSON parser's edges that cryptsetup's metadata may reach: objects nested as deep as arrays may be,
/// the highest surrogate pair, every one-letter escape and CR LF line ends (a hand-edited header).
#[test]
fn json_objects_escapes_and_line_ends() {
    use bootscript_crypto::json::{parse, Value, MAX_DEPTH};
    let deep = "{\"a\":".repeat(MAX_DEPTH) + "1" + &"}".repeat(MAX_DEPTH);
    parse(deep.as_bytes()).unwrap();
    let deeper = "{\"a\":".repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1);
    assert!(matches!(
        parse(deeper.as_bytes()),
        Err(CryptoError::BadJson {
            message: "nested too deeply",
            ..
        })
    ));
    assert_eq!(
        parse(br#""\udbff\udfff""#).unwrap(),
        Value::String("\u{10ffff}".into())
    );
    assert_eq!(
        parse(br#""\b\f\n\r\t\/\\\"""#).unwrap(),
        Value::String("\u{8}\u{c}\n\r\t/\\\"".into())
    );
    let crlf = parse(b"{\r\n \"a\": [1,\r\n 2]\r\n}\r\n").unwrap();
    assert_eq!(crlf.get("a").unwrap().items().len(), 2);
}

/// A LUKS2 metadata document with one PBKDF2 key slot and one segment, `slot` and `segment` spliced
/// into their objects (each a run of `"name": value,` members).
fn metadata(slot: &str, segment: &str) -> String {
    format!(
        r#"{{"keyslots":{{"0":{{"type":"luks2","key_size":64,{slot}
        "af":{{"type":"luks1","stripes":4000,"hash":"sha256"}},
        "area":{{"type":"raw","offset":"32768","size":"258048","encryption":"aes-xts-plain64","key_size":64}},
        "kdf":{{"type":"pbkdf2","hash":"sha256","iterations":1000,"salt":"AAAA"}}}}}},
        "segments":{{"0":{{"type":"crypt","offset":"16777216","size":"dynamic","iv_tweak":"0",{segment}
        "encryption":"aes-xts-plain64"}}}},
        "digests":{{}},"config":{{}}}}"#
    )
}

/// What the LUKS2 format allows is accepted: a 2048-byte encryption sector, the most stripes (65536,
/// here in a large enough area), priority 2 ("prefer") and an explicit null integrity; integrity
/// protection itself is refused, since the data would not read back through a plain view.
#[test]
fn luks2_metadata_allows_what_the_format_allows() {
    use bootscript_crypto::Luks2Metadata;
    let parse =
        |slot: &str, segment: &str| Luks2Metadata::parse(metadata(slot, segment).as_bytes());
    let parsed = parse("", "\"sector_size\":2048,").unwrap();
    assert_eq!(parsed.segments[0].sector_size, 2048);
    let parsed = parse("\"priority\":2,", "\"sector_size\":512,\"integrity\":null,").unwrap();
    assert_eq!(parsed.keyslots[0].priority, 2);
    let most = metadata("", "\"sector_size\":512,")
        .replace("\"stripes\":4000", "\"stripes\":65536")
        .replace("\"size\":\"258048\"", "\"size\":\"4194304\"");
    assert_eq!(
        Luks2Metadata::parse(most.as_bytes()).unwrap().keyslots[0].af_stripes,
        65536
    );
    let error = parse(
        "",
        "\"sector_size\":512,\"integrity\":{\"type\":\"hmac(sha256)\"},",
    )
    .unwrap_err();
    assert!(matches!(error, CryptoError::Unsupported(_)), "{error}");
}

/// LUKS2's decimal strings read up to `u64::MAX` and no further, and ids up to nine digits.
#[test]
fn luks2_decimal_numbers_and_ids_at_their_bounds() {
    use bootscript_crypto::Luks2Metadata;
    let with_iv_tweak = |tweak: &str| {
        Luks2Metadata::parse(
            metadata("", "\"sector_size\":512,")
                .replace("\"iv_tweak\":\"0\"", &format!("\"iv_tweak\":\"{tweak}\""))
                .as_bytes(),
        )
    };
    assert_eq!(
        with_iv_tweak("18446744073709551615").unwrap().segments[0].iv_tweak,
        u64::MAX
    );
    assert_eq!(
        with_iv_tweak("18446744073709551616")
            .unwrap_err()
            .to_string(),
        "bad LUKS header: segment: 'iv_tweak' is too large"
    );
    assert_eq!(
        with_iv_tweak("00000000000000000007").unwrap().segments[0].iv_tweak,
        7
    );
    let with_segment_id = |id: &str| {
        Luks2Metadata::parse(
            metadata("", "\"sector_size\":512,")
                .replace("\"segments\":{\"0\"", &format!("\"segments\":{{\"{id}\""))
                .as_bytes(),
        )
    };
    assert_eq!(
        with_segment_id("999999999").unwrap().segments[0].id,
        999_999_999
    );
    assert_eq!(
        with_segment_id("1000000000").unwrap_err().to_string(),
        "bad LUKS header: segment id '1000000000' is not a number"
    );
}

/// High-priority key slots are tried before normal ones whatever the JSON order, as cryptsetup does: with
/// two slots whose area cipher is not implemented, the error names them in the order they were passed
/// over, slot 1 (priority 2) first.
#[test]
fn luks2_prefers_high_priority_slots() {
    use bootscript_crypto::Luks2Metadata;
    let text = r#"{"keyslots":{
        "0":{"type":"luks2","key_size":64,"priority":1,
            "af":{"type":"luks1","stripes":4000,"hash":"sha256"},
            "area":{"type":"raw","offset":"32768","size":"258048","encryption":"twofish-xts-plain64","key_size":64},
            "kdf":{"type":"pbkdf2","hash":"sha256","iterations":1000,"salt":"AAAA"}},
        "1":{"type":"luks2","key_size":64,"priority":2,
            "af":{"type":"luks1","stripes":4000,"hash":"sha256"},
            "area":{"type":"raw","offset":"290816","size":"258048","encryption":"serpent-xts-plain64","key_size":64},
            "kdf":{"type":"pbkdf2","hash":"sha256","iterations":1000,"salt":"AAAA"}}},
        "segments":{"0":{"type":"crypt","offset":"16777216","size":"dynamic","iv_tweak":"0",
            "sector_size":512,"encryption":"aes-xts-plain64"}},
        "digests":{"0":{"type":"pbkdf2","keyslots":["0","1"],"segments":["0"],"hash":"sha256",
            "iterations":1000,"salt":"AAAA","digest":"AAAA"}},"config":{}}"#;
    let header = Luks2Header {
        seqid: 1,
        header_size: 16384,
        uuid: String::new(),
        label: String::new(),
        metadata: Luks2Metadata::parse(text.as_bytes()).unwrap(),
    };
    let device = MemDevice(vec![0; 4096]);
    let segment = header.metadata.segments[0].clone();
    let error = header
        .unlock(&device, PASSPHRASE, &segment, &mut |_| true)
        .err()
        .unwrap()
        .to_string();
    let first = error.find("key slot 1").unwrap();
    let second = error.find("key slot 0").unwrap();
    assert!(first < second, "{error}");
}

/// A LUKS1 slot may have as many as 65536 stripes (the bound on key material read), not one fewer.
#[test]
fn luks1_accepts_the_most_stripes() {
    let mut bytes = luks1();
    bytes[208 + 44..208 + 48].copy_from_slice(&65536u32.to_be_bytes()); // slot 0 stripes
    let header = Luks1Header::parse(&bytes[..592]).unwrap();
    assert_eq!(header.key_slots[0].stripes, 65536);
}

/// A LUKS2 segment of 4096-byte sectors must start on a 4096-byte boundary: one moved by 512 bytes is refused
/// as a bad header, not read with every sector's bytes shifted.
#[test]
fn a_segment_offset_off_its_sector_size_is_refused() {
    let mut bytes = format(
        "bad-l2-4k",
        &[
            "--type",
            "luks2",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--luks2-keyslots-size",
            "1m",
            "--sector-size",
            "4096",
        ],
    );
    assert!(open(bytes.clone()).is_ok());
    rewrite_json(&mut bytes, |text| {
        // The segment's offset: the first after "segments" (the key slots' areas have offsets too).
        let segments = text.find("\"segments\"").unwrap();
        let at = segments + text[segments..].find("\"offset\":\"").unwrap() + "\"offset\":\"".len();
        let offset: u64 = text[at..].split('"').next().unwrap().parse().unwrap();
        assert_eq!(offset % 4096, 0, "{text}");
        format!(
            "{}{}{}",
            &text[..at],
            offset + 512,
            &text[at + offset.to_string().len()..]
        )
    });
    let error = open(bytes).err().unwrap();
    assert!(
        error
            .to_string()
            .contains("segment offset is not sector aligned"),
        "{error}"
    );
}

/// Data that lies over the secondary header copy (the second `hdr_size` bytes) is a detached header's, as much
/// as data over the primary: a segment moved there is refused before any derivation.
#[test]
fn data_over_the_secondary_header_is_a_detached_header() {
    let mut bytes = luks2();
    let header_size = u64::from_be_bytes(bytes[8..16].try_into().unwrap());
    rewrite_json(&mut bytes, |text| {
        let segments = text.find("\"segments\"").unwrap();
        let (head, tail) = text.split_at(segments);
        let at = tail.find("\"offset\":\"").unwrap() + "\"offset\":\"".len();
        let end = at + tail[at..].find('"').unwrap();
        let tail = format!("{}{header_size}{}", &tail[..at], &tail[end..]);
        assert!(tail.contains("\"size\":\"dynamic\""), "{tail}");
        format!(
            "{head}{}",
            tail.replacen("\"size\":\"dynamic\"", "\"size\":\"8192\"", 1)
        )
    });
    let error = open(bytes).err().unwrap();
    assert!(error.to_string().contains("a detached header"), "{error}");
}
