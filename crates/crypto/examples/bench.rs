//! Speed of our PBKDF2 and AES-XTS on this machine, printed one `key value` per line for
//! scripts/bench-crypto.sh to set against OpenSSL.
//!
//! Usage: bench [seconds per measurement, default 1]

use bootscript_crypto::{aes_hardware_accelerated, pbkdf2, SectorCipher};
use std::time::{Duration, Instant};

/// Iterations per second of PBKDF2 with `hash` for a 64-byte key (two output blocks for SHA-1 and
/// SHA-256's 20/32-byte digests, as LUKS key slots ask).
fn pbkdf2_rate(hash: &str, budget: Duration) -> f64 {
    let mut iterations = 10_000u32;
    loop {
        let start = Instant::now();
        let key = pbkdf2(
            hash,
            b"passphrase",
            b"0123456789abcdef0123456789abcdef",
            iterations,
            64,
        )
        .unwrap();
        std::hint::black_box(key);
        let elapsed = start.elapsed();
        if elapsed >= budget / 2 || iterations > 100_000_000 {
            return f64::from(iterations) / elapsed.as_secs_f64();
        }
        iterations *= 2;
    }
}

fn xts_rate(key_bytes: usize, budget: Duration) -> f64 {
    let cipher = SectorCipher::new("aes-xts-plain64", &vec![0x5a; key_bytes]).unwrap();
    let mut data = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut bytes = 0u64;
    let mut sector = 0;
    while start.elapsed() < budget {
        cipher.decrypt_sectors(&mut data, 512, sector, 1);
        sector += 2048;
        bytes += data.len() as u64;
    }
    std::hint::black_box(&data);
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    println!("aes_ni {}", aes_hardware_accelerated());
    for hash in ["sha1", "sha256"] {
        println!(
            "pbkdf2_{hash}_iterations_per_second {:.0}",
            pbkdf2_rate(hash, budget)
        );
    }
    println!(
        "xts_aes256_decrypt_mb_per_second {:.1}",
        xts_rate(64, budget)
    );
    println!(
        "xts_aes128_decrypt_mb_per_second {:.1}",
        xts_rate(32, budget)
    );
}
