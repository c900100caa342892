//! Which key slots are tried, on volumes cryptsetup made: a slot that cannot be tried here (past the limits, a
//! hash not implemented) is passed over and the others still open the volume, as with cryptsetup; an unbound
//! slot never stands in for a bound one; and volumes that cannot be opened from one device say so before any
//! key derivation.

mod common;

use bootscript_crypto::{luks_open, BlockDevice, CryptoError};
use common::{rewrite_json, run, scratch, MemDevice, FAST_ARGON2ID};
use std::path::Path;
use std::rc::Rc;

const FIRST: &str = "first passphrase";
const SECOND: &str = "second passphrase";

/// A payload-less volume of 4 MiB formatted with `FIRST` (`format_args`), then changed by `cryptsetup` runs
/// (`FIRST` and `SECOND` stand for the files holding the passphrases, `IMAGE` for the image, which is put last
/// where no argument names it).
fn volume(name: &str, format_args: &[&str], then: &[&[&str]]) -> Vec<u8> {
    let dir = scratch(name);
    let image = dir.join("volume.img");
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let first = file("first", FIRST);
    let second = file("second", SECOND);
    std::fs::File::create(&image)
        .unwrap()
        .set_len(4 * 1024 * 1024)
        .unwrap();
    let image_path = image.to_str().unwrap().to_string();
    let mut all = vec!["luksFormat", "-q", "--key-file", &first];
    all.extend(format_args);
    all.push(&image_path);
    run("cryptsetup", &all);
    for step in then {
        let mut args: Vec<&str> = step
            .iter()
            .map(|a| match *a {
                "FIRST" => first.as_str(),
                "SECOND" => second.as_str(),
                "IMAGE" => image_path.as_str(),
                other => other,
            })
            .collect();
        if !step.contains(&"IMAGE") {
            args.push(&image_path);
        }
        run("cryptsetup", &args);
    }
    let bytes = std::fs::read(&image).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

const FAST_LUKS2: &[&str] = &[
    "--type",
    "luks2",
    "--pbkdf",
    "pbkdf2",
    "--pbkdf-force-iterations",
    "1000",
];
/// `luksAddKey` of SECOND, unlocking with FIRST; the slot's own arguments follow.
const ADD_KEY: [&str; 6] = [
    "luksAddKey",
    "-q",
    "--key-file",
    "FIRST",
    "--new-keyfile",
    "SECOND",
];
const ADD_SECOND: &[&str] = &[
    "luksAddKey",
    "-q",
    "--key-file",
    "FIRST",
    "--new-keyfile",
    "SECOND",
    "--pbkdf",
    "pbkdf2",
    "--pbkdf-force-iterations",
    "1000",
];

/// A slot bound to no segment (its key is no volume key) with SECOND (the new key file comes after the image).
const ADD_UNBOUND_SECOND: &[&str] = &[
    "luksAddKey",
    "-q",
    "--unbound",
    "--key-size",
    "512",
    "--pbkdf",
    "pbkdf2",
    "--pbkdf-force-iterations",
    "1000",
    "IMAGE",
    "SECOND",
];

/// Opens with `passphrase`, counting the progress calls (each is work done by a key derivation).
fn open(bytes: &[u8], passphrase: &str) -> (Result<Rc<dyn BlockDevice>, CryptoError>, usize) {
    let mut calls = 0;
    let result = luks_open(
        Rc::new(MemDevice(bytes.to_vec())),
        passphrase.as_bytes(),
        &mut |_| {
            calls += 1;
            true
        },
    );
    (result, calls)
}

fn error(bytes: &[u8], passphrase: &str) -> String {
    match open(bytes, passphrase).0 {
        Ok(_) => panic!("opened with {passphrase:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_slot_past_the_limits_is_passed_over_and_another_opens() {
    // Slot 0: Argon2id over 4 GiB 100 times (past MAX_ARGON2_WORK); slot 1: PBKDF2.
    let mut bytes = volume(
        "slots-limit",
        &[&["--type", "luks2"][..], &FAST_ARGON2ID].concat(),
        &[ADD_SECOND],
    );
    rewrite_json(&mut bytes, |text| {
        let edited = text
            .replace("\"memory\":32", "\"memory\":4194304")
            .replace("\"time\":4", "\"time\":100");
        assert_ne!(edited, text);
        edited
    });
    let (opened, _) = open(&bytes, SECOND);
    opened.unwrap();
    let expected =
        "no key slot matches (not tried: key slot 0: Argon2 work of 100 passes over 4194304 KiB \
                    is over the limit)";
    assert_eq!(error(&bytes, FIRST), expected);
    assert_eq!(error(&bytes, "wrong"), expected);

    // LUKS1: a slot's iteration count past MAX_PBKDF2_ITERATIONS.
    let mut bytes = volume(
        "slots-limit-1",
        &["--type", "luks1", "--pbkdf-force-iterations", "1000"],
        &[&[&ADD_KEY[..], &["--pbkdf-force-iterations", "1000"]].concat()],
    );
    bytes[208 + 4..208 + 8].copy_from_slice(&2_000_000_000u32.to_be_bytes()); // slot 0 iterations
    open(&bytes, SECOND).0.unwrap();
    assert_eq!(
        error(&bytes, FIRST),
        "no key slot matches (not tried: key slot 0: PBKDF2 iteration count 2000000000 is outside \
         1..=1000000000)"
    );
}

#[test]
fn a_slot_with_a_hash_not_implemented_is_passed_over() {
    // cryptsetup's own slot 1 with PBKDF2-SHA384 (this crate has SHA-1, SHA-256, SHA-512).
    let bytes = volume(
        "slots-hash",
        FAST_LUKS2,
        &[&[
            &ADD_KEY[..],
            &[
                "--pbkdf",
                "pbkdf2",
                "--hash",
                "sha384",
                "--pbkdf-force-iterations",
                "1000",
            ],
        ]
        .concat()],
    );
    open(&bytes, FIRST).0.unwrap();
    assert_eq!(
        error(&bytes, SECOND),
        "no key slot matches (not tried: key slot 1: unknown hash 'sha384')"
    );
}

#[test]
fn an_unbound_slot_does_not_stand_in_for_a_bound_one() {
    // Slot 1 unbound (its key is no volume key), slot 2 bound, both with SECOND.
    let bytes = volume(
        "slots-unbound",
        FAST_LUKS2,
        &[ADD_UNBOUND_SECOND, ADD_SECOND],
    );
    open(&bytes, SECOND).0.unwrap();
    open(&bytes, FIRST).0.unwrap();
    // Only the unbound slot left with SECOND: nothing it opens is the volume.
    let bytes = volume("slots-unbound-only", FAST_LUKS2, &[ADD_UNBOUND_SECOND]);
    assert_eq!(error(&bytes, SECOND), "no key slot matches");
}

#[test]
fn slots_set_to_be_ignored_leave_no_usable_slot() {
    let bytes = volume(
        "slots-ignore",
        FAST_LUKS2,
        &[&["config", "--priority", "ignore", "--key-slot", "0"]],
    );
    let (result, calls) = open(&bytes, FIRST);
    assert_eq!(result.err().unwrap().to_string(), "no usable key slot");
    assert_eq!(calls, 0);
}

#[test]
fn what_cannot_be_opened_here_is_said_before_any_key_derivation() {
    // A mandatory requirement (cryptsetup writes one during an online reencryption).
    let mut bytes = volume("slots-requirement", FAST_LUKS2, &[]);
    rewrite_json(&mut bytes, |text| {
        let edited = text.replacen(
            "\"config\":{",
            "\"config\":{\"requirements\":{\"mandatory\":[\"online-reencrypt-v2\"]},",
            1,
        );
        assert_ne!(edited, text);
        edited
    });
    let (result, calls) = open(&bytes, FIRST);
    assert_eq!(
        result.err().unwrap().to_string(),
        "unsupported: the volume requires 'online-reencrypt-v2'"
    );
    assert_eq!(calls, 0);

    // A data cipher this crate does not implement.
    let mut bytes = volume("slots-cipher", FAST_LUKS2, &[]);
    rewrite_json(&mut bytes, |text| {
        // The segment's encryption only (the slot's area keeps its own).
        let at = text.find("\"segments\"").unwrap();
        let (head, tail) = text.split_at(at);
        format!(
            "{head}{}",
            tail.replacen("aes-xts-plain64", "serpent-xts-plain64", 1)
        )
    });
    let (result, calls) = open(&bytes, FIRST);
    assert_eq!(
        result.err().unwrap().to_string(),
        "unknown cipher 'serpent-xts-plain64'"
    );
    assert_eq!(calls, 0);
}

/// A header made with `cryptsetup --header`: its data is on another device (data offset 0).
fn detached(name: &str, kind: &str) -> Vec<u8> {
    let dir = scratch(name);
    let header = dir.join("header.img");
    let data = dir.join("data.img");
    let pass = dir.join("first");
    std::fs::write(&pass, FIRST).unwrap();
    for path in [&header, &data] {
        std::fs::File::create(path)
            .unwrap()
            .set_len(4 * 1024 * 1024)
            .unwrap();
    }
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    run(
        "cryptsetup",
        &[
            "luksFormat",
            "-q",
            "--type",
            kind,
            "--pbkdf-force-iterations",
            "1000",
            "--pbkdf",
            "pbkdf2",
            "--key-file",
            &arg(&pass),
            "--header",
            &arg(&header),
            &arg(&data),
        ],
    );
    let bytes = std::fs::read(&header).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

#[test]
fn a_detached_header_is_refused_rather_than_mapped_as_data() {
    for kind in ["luks1", "luks2"] {
        let bytes = detached(&format!("slots-detached-{kind}"), kind);
        let (result, calls) = open(&bytes, FIRST);
        let message = result.err().unwrap().to_string();
        assert!(
            message.starts_with("unsupported: data from ")
                && message.ends_with(": a detached header"),
            "{kind}: {message}"
        );
        assert_eq!(calls, 0, "{kind}");
    }
}

/// A LUKS1 key slot added later with its own iteration count (`luksAddKey --pbkdf-force-iterations`) opens the
/// volume: the volume key's digest is checked with the header's digest iterations, not the slot's.
#[test]
fn a_luks1_slot_with_its_own_iteration_count_opens() {
    let bytes = volume(
        "slots-iterations",
        &["--type", "luks1", "--pbkdf-force-iterations", "1000"],
        &[&[&ADD_KEY[..], &["--pbkdf-force-iterations", "2000"]].concat()],
    );
    let header = bootscript_crypto::Luks1Header::parse(&bytes[..1024]).unwrap();
    assert_eq!(header.key_slots[1].iterations, 2000);
    assert_ne!(header.mk_digest_iterations, 2000);
    open(&bytes, SECOND).0.unwrap();
    open(&bytes, FIRST).0.unwrap();
}

/// Data that starts right where an active LUKS1 slot's key material ends is no detached header: cryptsetup
/// accepts such a header (here the payload moved to the end of slot 7's material, which luksDump checks), and
/// it opens with the slot's passphrase.
#[test]
fn data_right_after_the_key_material_is_not_a_detached_header() {
    let mut bytes = volume(
        "slots-adjacent",
        &[
            "--type",
            "luks1",
            "--key-size",
            "256",
            "--pbkdf-force-iterations",
            "1000",
        ],
        &[&[
            &ADD_KEY[..],
            &["--key-slot", "7", "--pbkdf-force-iterations", "1000"],
        ]
        .concat()],
    );
    let header = bootscript_crypto::Luks1Header::parse(&bytes[..1024]).unwrap();
    let slot = &header.key_slots[7];
    assert!(slot.active);
    // 32 bytes times 4000 stripes: 250 sectors of key material.
    let end = slot.key_material_offset + 32 * slot.stripes / 512;
    bytes[104..108].copy_from_slice(&end.to_be_bytes()); // payload offset
    let dir = scratch("slots-adjacent-dump");
    let image = dir.join("volume.img");
    std::fs::write(&image, &bytes).unwrap();
    let dump = run("cryptsetup", &["luksDump", image.to_str().unwrap()]);
    assert!(
        dump.contains(&format!("Payload offset:\t{end}\n")),
        "{dump}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let view = open(&bytes, SECOND).0.unwrap();
    assert_eq!(view.sectors(), (bytes.len() / 512) as u64 - u64::from(end));
}
