//! Known-answer tests: FIPS 180 hashes, RFC 2202/4231 HMAC, RFC 6070 and RFC 7914 PBKDF2, RFC 9106
//! Argon2, IEEE 1619 XTS; and cross-checks against python3's hashlib/hmac/cryptography over many lengths.

mod common;

use bootscript_crypto::{
    argon2, digest, hmac, pbkdf2, pbkdf2_with_progress, Argon2Kind, CryptoError, SectorCipher,
};
use common::{hex, run, to_hex};

#[test]
fn fips_180_hashes() {
    let two_block_64 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    let two_block_128 = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    let million = vec![b'a'; 1_000_000];
    let cases: [(&str, &[u8], &str); 9] = [
        ("sha1", b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("sha1", two_block_64, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("sha1", &million, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
        ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("sha256", two_block_64, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("sha256", &million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ("sha512", b"abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ("SHA512", two_block_128, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
        ("sha512", &million, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"),
    ];
    for (name, data, expected) in cases {
        assert_eq!(
            to_hex(&digest(name, data).unwrap()),
            expected,
            "{name} of {} bytes",
            data.len()
        );
    }
}

/// The test vectors of the RIPEMD-160 paper (Dobbertin, Bosselaers, Preneel, 1996, appendix B).
#[test]
fn ripemd160_paper_vectors() {
    let million = vec![b'a'; 1_000_000];
    let cases: [(&[u8], &str); 7] = [
        (b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
        (b"a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"),
        (b"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
        (
            b"message digest",
            "5d0689ef49d2fae572b881b123a85ffa21595f36",
        ),
        (
            b"abcdefghijklmnopqrstuvwxyz",
            "f71c27109c692c1b56bbdceb5b9d2865b3708dbc",
        ),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "12a053384a9c0c88e405a06c27dcf49ada62eb2b",
        ),
        (&million, "52783243c1697bdbe16d37f97f68f08325dc1528"),
    ];
    for (data, expected) in cases {
        assert_eq!(
            to_hex(&digest("ripemd160", data).unwrap()),
            expected,
            "RIPEMD-160 of {} bytes",
            data.len()
        );
    }
    assert_eq!(
        to_hex(&digest("RIPEMD160", b"abc").unwrap()),
        "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    );
}

#[test]
fn rfc_2202_and_4231_hmac() {
    let cases: [(&str, Vec<u8>, &[u8], &str); 9] = [
        ("sha1", vec![0x0b; 20], b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
        ("sha1", b"Jefe".to_vec(), b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        ("sha1", vec![0xaa; 80], b"Test Using Larger Than Block-Size Key - Hash Key First", "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        ("sha256", vec![0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("sha256", b"Jefe".to_vec(), b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("sha256", vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("sha512", vec![0x0b; 20], b"Hi There", "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        ("sha512", b"Jefe".to_vec(), b"what do ya want for nothing?", "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        ("sha512", vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First", "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
    ];
    for (name, key, data, expected) in cases {
        assert_eq!(
            to_hex(&hmac(name, &key, data).unwrap()),
            expected,
            "HMAC-{name}, {}-byte key",
            key.len()
        );
    }
}

#[test]
fn rfc_6070_and_7914_pbkdf2() {
    // (hash, password, salt, iterations, expected key)
    type Case = (
        &'static str,
        &'static [u8],
        &'static [u8],
        u32,
        &'static str,
    );
    let cases: [Case; 7] = [
        ("sha1", b"password", b"salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
        ("sha1", b"password", b"salt", 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
        ("sha1", b"password", b"salt", 4096, "4b007901b765489abead49d926f721d065a429c1"),
        ("sha1", b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"),
        ("sha1", b"pass\0word", b"sa\0lt", 4096, "56fa6aa75548099dcc37d7f03425e0c3"),
        ("sha256", b"passwd", b"salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"),
        ("sha256", b"Password", b"NaCl", 80000, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"),
    ];
    for (name, password, salt, iterations, expected) in cases {
        let length = expected.len() / 2;
        let key = pbkdf2(name, password, salt, iterations, length).unwrap();
        assert_eq!(
            to_hex(key.as_bytes()),
            expected,
            "PBKDF2-{name}, {iterations} iterations"
        );
    }
}

/// Every length from 0 to 300 bytes (all padding boundaries of both block sizes), keys shorter and
/// longer than a block, and PBKDF2 outputs of odd lengths, against python3's hashlib and hmac (RIPEMD-160
/// among them: OpenSSL's, which Debian's python3 uses).
#[test]
fn agrees_with_python_hashlib() {
    let script = r#"
import hashlib, hmac
for name in ('sha1', 'sha256', 'sha512', 'ripemd160'):
    for n in range(301):
        data = bytes((i * 7 + n) & 0xff for i in range(n))
        print(name, n, hashlib.new(name, data).hexdigest(), hmac.new(data[:n % 200], data, name).hexdigest())
    for length in (1, 19, 20, 33, 64, 65, 100):
        print(name, 'pbkdf2', length, hashlib.pbkdf2_hmac(name, b'pass' * length, b'salt' * (length % 7), 3 + length, length).hex())
"#;
    let output = run("python3", &["-c", script]);
    let mut checked = 0;
    for line in output.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let name = words[0];
        if words[1] == "pbkdf2" {
            let length: usize = words[2].parse().unwrap();
            let password = b"pass".repeat(length);
            let salt = b"salt".repeat(length % 7);
            let key = pbkdf2(name, &password, &salt, 3 + length as u32, length).unwrap();
            assert_eq!(
                to_hex(key.as_bytes()),
                words[3],
                "PBKDF2-{name} length {length}"
            );
        } else {
            let n: usize = words[1].parse().unwrap();
            let data: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            assert_eq!(
                to_hex(&digest(name, &data).unwrap()),
                words[2],
                "{name} of {n} bytes"
            );
            assert_eq!(
                to_hex(&hmac(name, &data[..n % 200], &data).unwrap()),
                words[3],
                "HMAC-{name} {n}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 4 * 301 + 4 * 7);
}

#[test]
fn pbkdf2_bounds_and_names() {
    assert!(matches!(
        pbkdf2("sha256", b"p", b"s", 0, 32),
        Err(CryptoError::Limit(_))
    ));
    assert!(matches!(
        pbkdf2("sha256", b"p", b"s", u32::MAX, 32),
        Err(CryptoError::Limit(_))
    ));
    assert!(matches!(
        pbkdf2("sha256", b"p", b"s", 1, 0),
        Err(CryptoError::Limit(_))
    ));
    assert!(matches!(
        pbkdf2("sha256", b"p", b"s", 1, 1 << 20),
        Err(CryptoError::Limit(_))
    ));
    let error = pbkdf2("whirlpool", b"p", b"s", 1, 20).unwrap_err();
    assert_eq!(error.to_string(), "unknown hash 'whirlpool'");
    assert!(matches!(
        digest("md5", b""),
        Err(CryptoError::UnknownHash(_))
    ));
}

/// PBKDF2's first HMAC hashes the salt and then the 4-byte block counter as two pieces: with salts whose length
/// leaves 4 bytes or fewer of a hash block (60-63 bytes past a 64-byte block, 124-127 past SHA-512's 128), the
/// counter fills that block exactly or spills into the next. A script's `pbkdf2` takes any salt, so every length
/// from 0 to 140 bytes is checked against python3's hashlib, for all four hashes, with two output blocks each.
#[test]
fn pbkdf2_salts_across_hash_blocks() {
    let script = r#"
import hashlib
for name in ('sha1', 'sha256', 'sha512', 'ripemd160'):
    length = 2 * hashlib.new(name).digest_size
    for n in range(141):
        salt = bytes((i * 13 + n) & 0xff for i in range(n))
        print(name, n, hashlib.pbkdf2_hmac(name, b'passphrase', salt, 2, length).hex())
"#;
    let output = run("python3", &["-c", script]);
    let mut checked = 0;
    for line in output.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let (name, n, expected) = (words[0], words[1].parse::<usize>().unwrap(), words[2]);
        let salt: Vec<u8> = (0..n).map(|i| (i * 13 + n) as u8).collect();
        let key = pbkdf2(name, b"passphrase", &salt, 2, expected.len() / 2).unwrap();
        assert_eq!(
            to_hex(key.as_bytes()),
            expected,
            "PBKDF2-{name}, {n}-byte salt"
        );
        checked += 1;
    }
    assert_eq!(checked, 4 * 141);
}

/// The bounds a script's `pbkdf2` documents are inclusive: 1,000,000,000 iterations and 1024 bytes of output
/// are accepted (the long derivation here is told to stop at its first progress report), one more of either
/// is a `Limit` error. The 1024-byte key is python3's hashlib's.
#[test]
fn pbkdf2_limits_are_inclusive() {
    use bootscript_crypto::{MAX_PBKDF2_ITERATIONS, MAX_PBKDF2_LENGTH};
    assert_eq!(
        (MAX_PBKDF2_ITERATIONS, MAX_PBKDF2_LENGTH),
        (1_000_000_000, 1024)
    );
    let expected = run(
        "python3",
        &[
            "-c",
            "import hashlib; print(hashlib.pbkdf2_hmac('sha256', b'pw', b'salt', 3, 1024).hex())",
        ],
    );
    let key = pbkdf2("sha256", b"pw", b"salt", 3, MAX_PBKDF2_LENGTH).unwrap();
    assert_eq!(to_hex(key.as_bytes()), expected.trim());
    assert!(matches!(
        pbkdf2("sha256", b"pw", b"salt", 3, MAX_PBKDF2_LENGTH + 1),
        Err(CryptoError::Limit(_))
    ));
    let mut asked = 0;
    let most = pbkdf2_with_progress(
        "sha256",
        b"pw",
        b"salt",
        MAX_PBKDF2_ITERATIONS,
        32,
        &mut |_| {
            asked += 1;
            false
        },
    );
    assert_eq!(most.unwrap_err(), CryptoError::Interrupted);
    assert_eq!(asked, 1);
    let error = pbkdf2("sha256", b"pw", b"salt", MAX_PBKDF2_ITERATIONS + 1, 32).unwrap_err();
    assert_eq!(
        error.to_string(),
        "PBKDF2 iteration count 1000000001 is outside 1..=1000000000"
    );
}

/// The callback hears every few thousand iterations (so that Ctrl-C stops a derivation soon), with percentages
/// that never fall and end at 100.
#[test]
fn pbkdf2_progress_reaches_100() {
    let mut calls = Vec::new();
    let with = pbkdf2_with_progress("sha1", b"pw", b"salt", 200_000, 40, &mut |p| {
        calls.push(p);
        true
    })
    .unwrap();
    let without = pbkdf2("sha1", b"pw", b"salt", 200_000, 40).unwrap();
    assert_eq!(with, without);
    assert_eq!(calls.last(), Some(&100));
    assert!(
        calls.windows(2).all(|w| w[0] <= w[1]),
        "percentages never fall: {calls:?}"
    );
    // Two blocks of SHA-1 output, each 199,999 iterations after the first: 49 strides of 4096 each.
    assert_eq!(calls.len(), 98, "{calls:?}");
    // One iteration: no stride, 100 at the end.
    let mut calls = Vec::new();
    pbkdf2_with_progress("sha256", b"pw", b"salt", 1, 32, &mut |p| {
        calls.push(p);
        true
    })
    .unwrap();
    assert_eq!(calls, [100]);
}

/// A callback that says to stop ends the derivation at once with `Interrupted`, also at its very end.
#[test]
fn pbkdf2_stops_when_told() {
    for stop_at in [1, 3, 98] {
        let mut calls = 0;
        let error = pbkdf2_with_progress("sha1", b"pw", b"salt", 200_000, 40, &mut |_| {
            calls += 1;
            calls < stop_at
        })
        .unwrap_err();
        assert_eq!(error, CryptoError::Interrupted);
        assert_eq!(error.to_string(), "interrupted");
        assert_eq!(calls, stop_at);
    }
}

#[test]
fn secrets_do_not_show_in_debug() {
    let key = pbkdf2("sha256", b"hunter2", b"salt", 1, 32).unwrap();
    let shown = format!("{key:?}");
    assert_eq!(shown, "Secret(32 bytes)");
    let cipher = SectorCipher::new("aes-xts-plain64", key.as_bytes()).unwrap();
    let shown = format!("{cipher:?}");
    assert!(
        !shown.contains(&to_hex(&key.as_bytes()[..4])) && shown.contains("key hidden"),
        "{shown}"
    );
}

/// Our Argon2 against the reference implementation's command-line tool (Debian's `argon2`), for both kinds
/// LUKS2 uses, with more than one lane. (src/kdf.rs checks RFC 9106's vectors and agrees with the argon2 crate.)
#[test]
fn argon2_agrees_with_the_reference_tool() {
    for (kind, flag) in [(Argon2Kind::Argon2id, "-id"), (Argon2Kind::Argon2i, "-i")] {
        let command = format!(
            "printf %s passphrase | argon2 0123456789abcdef {flag} -t 3 -p 2 -k 64 -l 32 -r"
        );
        let expected = run("sh", &["-c", &command]);
        let ours = argon2(kind, b"passphrase", b"0123456789abcdef", 3, 64, 2, 32).unwrap();
        assert_eq!(to_hex(ours.as_bytes()), expected.trim(), "{flag}");
    }
}

#[test]
fn argon2_bounds() {
    let too_much = argon2(
        Argon2Kind::Argon2id,
        b"p",
        b"0123456789abcdef",
        1,
        u32::MAX,
        1,
        32,
    );
    assert!(
        matches!(too_much, Err(CryptoError::Limit(_))),
        "{too_much:?}"
    );
    let too_long = argon2(
        Argon2Kind::Argon2i,
        b"p",
        b"0123456789abcdef",
        u32::MAX,
        1024,
        1,
        32,
    );
    assert!(matches!(too_long, Err(CryptoError::Limit(_))));
    let no_lanes = argon2(
        Argon2Kind::Argon2i,
        b"p",
        b"0123456789abcdef",
        1,
        1024,
        0,
        32,
    );
    assert!(matches!(no_lanes, Err(CryptoError::Limit(_))));
}

/// The Argon2 bounds ("the largest accepted", see lib.rs) are inclusive: a time cost of exactly `MAX_ARGON2_TIME`
/// and a work (passes times KiB) of exactly `MAX_ARGON2_WORK` are derived (each told to stop at its first
/// progress report, so `Interrupted`), one more pass is a `Limit` error (a key slot passed over).
#[test]
fn argon2_limits_are_inclusive() {
    use bootscript_crypto::{argon2_with_progress, Argon2Costs, MAX_ARGON2_TIME, MAX_ARGON2_WORK};
    let derive = |time: u32, memory_kib: u32| {
        let mut asked = 0;
        let result = argon2_with_progress(
            Argon2Kind::Argon2id,
            b"p",
            b"0123456789abcdef",
            Argon2Costs {
                time,
                memory_kib,
                lanes: 1,
            },
            32,
            &mut |_| {
                asked += 1;
                false
            },
        );
        (result.map(|_| ()), asked)
    };
    // The most passes, over the least memory (8 KiB).
    assert_eq!(
        derive(MAX_ARGON2_TIME, 8),
        (Err(CryptoError::Interrupted), 1)
    );
    let (result, asked) = derive(MAX_ARGON2_TIME + 1, 8);
    assert!(matches!(result, Err(CryptoError::Limit(_))), "{result:?}");
    assert_eq!(asked, 0);
    // The most work: 2^19 passes over 128 KiB.
    let time = 1u32 << 19;
    let memory_kib = (MAX_ARGON2_WORK / u64::from(time)) as u32;
    assert_eq!(u64::from(time) * u64::from(memory_kib), MAX_ARGON2_WORK);
    assert_eq!(derive(time, memory_kib), (Err(CryptoError::Interrupted), 1));
    let (result, _) = derive(time + 1, memory_kib);
    assert_eq!(
        result.unwrap_err().to_string(),
        "Argon2 work of 524289 passes over 128 KiB is over the limit"
    );
}

/// IEEE 1619-2007 vectors 1 and 2 (32-byte data units), decrypted and re-encrypted.
#[test]
fn ieee_1619_xts() {
    let cases = [
        (
            "00000000000000000000000000000000",
            "00000000000000000000000000000000",
            0u64,
            "0000000000000000000000000000000000000000000000000000000000000000",
            "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e",
        ),
        (
            "11111111111111111111111111111111",
            "22222222222222222222222222222222",
            0x3333333333,
            "4444444444444444444444444444444444444444444444444444444444444444",
            "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0",
        ),
    ];
    for (key1, key2, sector, plain, cipher_text) in cases {
        let key = hex(&format!("{key1}{key2}"));
        let cipher = SectorCipher::new("aes-xts-plain64", &key).unwrap();
        let mut data = hex(cipher_text);
        cipher.decrypt_sectors(&mut data, 32, sector, 1);
        assert_eq!(to_hex(&data), plain);
        cipher.encrypt_sectors(&mut data, 32, sector, 1);
        assert_eq!(to_hex(&data), cipher_text);
    }
}

#[test]
fn cipher_names_and_key_lengths() {
    assert!(matches!(
        SectorCipher::new("aes-xts-plain64", &[0; 48]),
        Err(CryptoError::KeyLength { .. })
    ));
    assert!(matches!(
        SectorCipher::new("aes-cbc-essiv:sha256", &[0; 64]),
        Err(CryptoError::KeyLength { .. })
    ));
    let error = SectorCipher::new("twofish-xts-plain64", &[0; 64]).unwrap_err();
    assert_eq!(error.to_string(), "unknown cipher 'twofish-xts-plain64'");
    for (name, length) in [
        ("aes-xts-plain64", 32),
        ("aes-xts-plain64", 64),
        ("aes-cbc-essiv:sha256", 16),
        ("aes-cbc-essiv:sha256", 32),
        ("aes-cbc-plain64", 16),
        ("aes-xts-plain", 64),
    ] {
        SectorCipher::new(name, &vec![7; length]).unwrap();
    }
}

/// FIPS-197 appendices B, C.1 and C.3 (AES-128 and AES-256), through `aes-cbc-plain` on one 16-byte
/// sector 0 (its IV is zero, so the sector is one bare AES block), then straight through each AES path
/// that this build and CPU have.
#[test]
fn fips_197_aes() {
    let cases = [
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            "3243f6a8885a308d313198a2e0370734",
            "3925841d02dc09fbdc118597196a0b32",
        ),
        (
            "000102030405060708090a0b0c0d0e0f",
            "00112233445566778899aabbccddeeff",
            "69c4e0d86a7b0430d8cdb78070b4c55a",
        ),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "00112233445566778899aabbccddeeff",
            "8ea2b7ca516745bfeafc49904b496089",
        ),
    ];
    for (key, plain, cipher_text) in cases {
        let key = hex(key);
        let cipher = SectorCipher::new("aes-cbc-plain", &key).unwrap();
        let mut data = hex(plain);
        cipher.encrypt_sectors(&mut data, 16, 0, 1);
        assert_eq!(to_hex(&data), cipher_text, "{}-bit encrypt", key.len() * 8);
        cipher.decrypt_sectors(&mut data, 16, 0, 1);
        assert_eq!(to_hex(&data), plain, "{}-bit decrypt", key.len() * 8);

        let mut paths = 0;
        for aes_ni in [true, false] {
            // Three copies: the first, middle and last lane of an interleaved group see the block.
            let mut blocks = [hex(plain).try_into().unwrap(); 3];
            if !SectorCipher::aes_blocks_for_tests(&key, aes_ni, false, &mut blocks) {
                continue;
            }
            paths += 1;
            for block in blocks {
                assert_eq!(to_hex(&block), cipher_text, "encrypt, AES-NI {aes_ni}");
            }
            assert!(SectorCipher::aes_blocks_for_tests(
                &key,
                aes_ni,
                true,
                &mut blocks
            ));
            for block in blocks {
                assert_eq!(to_hex(&block), plain, "decrypt, AES-NI {aes_ni}");
            }
        }
        let expected = if bootscript_crypto::aes_hardware_accelerated() {
            2
        } else {
            1
        };
        assert_eq!(paths, expected);
    }
}

/// Whether /proc/cpuinfo lists the `aes` flag.
fn cpu_has_aes_ni() -> bool {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "aes"))
}

/// Our AES-NI code agrees with the `aes` crate for both key sizes, encrypting and decrypting 1 to 40
/// blocks (every count of whole 8-block groups plus a tail), with keys and data from a simple generator.
/// Without AES-NI there is nothing to compare, and the test fails saying so rather than pass unchecked;
/// with `bootscript_aes="soft"` it checks that our code is really left out.
#[test]
fn aes_ni_agrees_with_aes_crate() {
    if cfg!(bootscript_aes = "soft") {
        assert!(!SectorCipher::aes_blocks_for_tests(
            &[0; 16],
            true,
            false,
            &mut [[0; 16]]
        ));
        eprintln!("bootscript_aes=\"soft\": our AES-NI code is off, nothing to compare it with");
        return;
    }
    assert!(
        cpu_has_aes_ni(),
        "this CPU has no AES-NI: our AES-NI code cannot be checked against the aes crate here; \
         run this test on a CPU with AES-NI"
    );
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next_byte = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 24) as u8
    };
    for key_length in [16, 32] {
        for count in 1..=40 {
            let key: Vec<u8> = (0..key_length).map(|_| next_byte()).collect();
            let plain: Vec<[u8; 16]> = (0..count)
                .map(|_| std::array::from_fn(|_| next_byte()))
                .collect();
            for decrypt in [false, true] {
                let mut ours = plain.clone();
                let mut theirs = plain.clone();
                assert!(SectorCipher::aes_blocks_for_tests(
                    &key, true, decrypt, &mut ours
                ));
                assert!(SectorCipher::aes_blocks_for_tests(
                    &key,
                    false,
                    decrypt,
                    &mut theirs
                ));
                assert_eq!(
                    ours, theirs,
                    "{key_length}-byte key, {count} blocks, decrypt {decrypt}"
                );
                assert_ne!(ours, plain);
            }
        }
    }
}

/// AES-NI is chosen at run time: used exactly when the CPU has it, unless our software path is forced
/// with `RUSTFLAGS='--cfg bootscript_aes="soft"'` (the whole suite then runs on the software path).
/// `aes_backend="soft"` alone (as the payload is built) must not turn our AES-NI code off.
#[test]
fn aes_backend_is_chosen_at_run_time() {
    if cfg!(bootscript_aes = "soft") {
        assert!(!bootscript_crypto::aes_hardware_accelerated());
    } else {
        assert_eq!(
            bootscript_crypto::aes_hardware_accelerated(),
            cpu_has_aes_ni()
        );
    }
}

/// Speed of AES-256 decryption through our AES-NI code and through the `aes` crate (on this host its
/// AES-NI or VAES code), 64 MiB in one call each. Printed, not asserted:
/// `cargo test --release -p bootscript-crypto --test vectors -- --ignored --nocapture aes_speed`.
#[test]
#[ignore]
fn aes_speed() {
    let key = [0x5a; 32];
    let mut data = vec![[0u8; 16]; 64 << 16];
    for round in 0..3 {
        for aes_ni in [true, false] {
            let start = std::time::Instant::now();
            assert!(SectorCipher::aes_blocks_for_tests(
                &key, aes_ni, true, &mut data
            ));
            let seconds = start.elapsed().as_secs_f64();
            std::hint::black_box(&data);
            let name = if aes_ni { "ours (AES-NI)" } else { "aes crate" };
            eprintln!(
                "run {round}, {name}: 64 MiB AES-256 decrypt in {seconds:.4} s, {:.0} MB/s",
                64.0 * 1.048576 / seconds
            );
        }
    }
}
