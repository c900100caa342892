//! Boot tests of the crypto primitives (issue 5): the payload, booted by GRUB in QEMU, unlocks volumes made by
//! `cryptsetup luksFormat` (or, for a plain mapping, by python's hashlib), with the passphrase typed on the
//! serial console, mounts the ext4 inside, and prints the SHA-256 of a file, which must be the host's SHA-256
//! of the file put in. The data areas are encrypted by tests/crypto/encrypt.py (python cryptography), never by
//! our code, so the payload must agree with the world, not with itself. Derivation costs are small (1000
//! PBKDF2 iterations, Argon2id with 8 MiB) so that the tests stay quick under TCG.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bootscript_boot_tests::{noise, repository_root, run, Boot, Vm};

const BOOT: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(30);

/// Passphrases that appear nowhere else, so that finding one in the transcript means it was echoed.
const PASSPHRASE: &str = "Kv4-quartz-lichen";
const WRONG: &str = "Wm8-bramble-ochre";
/// The plain mapping's key: PBKDF2-HMAC-SHA256(passphrase, salt, iterations), computed by the script.
const PLAIN_SALT: &str = "bootscript-plain-salt";
const PLAIN_ITERATIONS: u32 = 2000;
/// Enough PBKDF2-SHA256 iterations (one 32-byte block) for the unlock to take well over a second under TCG:
/// about 1.7 s on a quiet machine here (600 k iterations/s at best), 4-5 s on a busy one.
const SLOW_ITERATIONS: u32 = 1_000_000;

/// The file tree put into every volume (data/blob.bin), and the host's SHA-256 of the blob (sha256sum).
struct Source {
    dir: PathBuf,
    sha256: String,
    len: usize,
}

fn work_dir() -> PathBuf {
    repository_root().join("build/test-crypto")
}

fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let dir = work_dir().join("src");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        // Not a multiple of the block or sector size, so the file's tail is read right too.
        let blob = noise(700_001, 5);
        let path = dir.join("data/blob.bin");
        std::fs::write(&path, &blob).unwrap();
        let output = Command::new("sha256sum")
            .arg(&path)
            .output()
            .expect("sha256sum (coreutils)");
        assert!(output.status.success());
        let sha256 = String::from_utf8(output.stdout).unwrap()[..64].to_string();
        Source {
            dir,
            sha256,
            len: blob.len(),
        }
    })
}

/// Makes `build/test-crypto/NAME.img` with tests/crypto/mkdisk.sh (see there for the arguments).
fn make_disk(name: &str, args: &[&str]) -> PathBuf {
    let root = repository_root();
    let out = work_dir().join(format!("{name}.img"));
    let src = &source().dir;
    run(Command::new("bash")
        .arg(root.join("tests/crypto/mkdisk.sh"))
        .arg(&out)
        .arg(src)
        .args(args));
    out
}

fn disk_once(cell: &'static OnceLock<PathBuf>, name: &str, args: &[&str]) -> &'static Path {
    cell.get_or_init(|| make_disk(name, args))
}

fn luks1_disk() -> &'static Path {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    disk_once(
        &DISK,
        "luks1-xts",
        &[
            "luks1",
            PASSPHRASE,
            "aes-xts-plain64",
            "64",
            "512",
            "--hash",
            "sha256",
            "--pbkdf-force-iterations",
            "1000",
        ],
    )
}

/// An IDE disk (hd0) that several QEMUs may use at once: `snapshot=on` opens the image read-only.
fn shared_disk(path: &Path) -> String {
    format!("file={},format=raw,if=ide,snapshot=on", path.display())
}

/// The script: asks until luks_open accepts the passphrase (each failure printed), then reads the file.
const LUKS_SCRIPT: &str = r#"
let opened = false
while not opened {
    print("t: passphrase next")
    let pass = prompt("Passphrase for hd0p1: ", echo=false)
    let t0 = time_ms()
    try {
        luks_open("hd0p1", pass, "vol")
        opened = true
        print("t: unlocked in " + str(time_ms() - t0) + " ms")
    } catch e {
        print("t: error: " + e)
    }
}
mount("vol", "/")
let data = read("/data/blob.bin")
print("t: sha256 " + hex(sha256(data)) + " bytes " + str(len(data)))
"#;

fn boot(disk: &Path, cpu: &str, script: &str) -> Vm {
    Boot::new()
        .cpu(cpu)
        .module("t.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(disk))
        .start()
}

/// Types `passphrase` once the script says it asks next.
fn type_passphrase(vm: &mut Vm, passphrase: &str, timeout: Duration) {
    vm.expect_line("t: passphrase next", timeout);
    vm.send(&format!("{passphrase}\r"));
}

/// Checks the file's hash line and that no passphrase ever reached the console.
fn check_read_and_secrecy(vm: &mut Vm) {
    let source = source();
    let line = vm.expect_line("t: sha256 ", STEP).text;
    let expected = format!("t: sha256 {} bytes {}", source.sha256, source.len);
    if line != expected {
        vm.fail(&format!("got {line:?}, expected {expected:?}"));
    }
    vm.expect_line("ended without handing off", STEP);
    let transcript = vm.transcript();
    for secret in [PASSPHRASE, WRONG] {
        assert!(
            !transcript.contains(secret),
            "the passphrase {secret:?} appears on the console:\n{transcript}"
        );
    }
    assert!(
        transcript.contains("Passphrase for hd0p1: "),
        "{transcript}"
    );
}

fn luks1_unlocks(cpu: &str) {
    let mut vm = boot(luks1_disk(), cpu, LUKS_SCRIPT);
    // The banner's CPU line: the `aes` crate takes AES-NI exactly when CPUID has it.
    let features = vm.expect_line("cpu: ", BOOT).text;
    let aes_ni = features.split_whitespace().any(|word| word == "aes");
    assert_eq!(aes_ni, cpu == "max", "{features}");
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    vm.expect_line("t: unlocked in ", STEP);
    check_read_and_secrecy(&mut vm);
    // A quick derivation (a few thousand iterations) shows no progress line.
    let transcript = vm.transcript();
    assert!(!transcript.contains("unlocking hd0p1"), "{transcript}");
}

/// LUKS1, PBKDF2-SHA256, aes-xts-plain64 with AES-256: the software AES path (qemu64 has no AES-NI).
#[test]
fn luks1_pbkdf2_sha256_xts_qemu64() {
    luks1_unlocks("qemu64");
}

/// The same volume on a CPU with AES-NI.
#[test]
fn luks1_pbkdf2_sha256_xts_max() {
    luks1_unlocks("max");
}

/// A wrong passphrase is the error `no key slot matches`, which the script catches; then the right one opens.
#[test]
fn wrong_passphrase_is_no_key_slot_matches_then_the_right_one_opens() {
    let mut vm = boot(luks1_disk(), "qemu64", LUKS_SCRIPT);
    type_passphrase(&mut vm, WRONG, BOOT);
    let line = vm.expect_line("t: error: ", STEP).text;
    if line != "t: error: no key slot matches" {
        vm.fail(&format!("a wrong passphrase gave {line:?}"));
    }
    type_passphrase(&mut vm, PASSPHRASE, STEP);
    vm.expect_line("t: unlocked in ", STEP);
    check_read_and_secrecy(&mut vm);
    let errors = vm.transcript().matches("t: error: ").count();
    assert_eq!(errors, 1, "{}", vm.transcript());
}

/// LUKS2, Argon2id (8 MiB, 4 passes), aes-xts-plain64 with AES-128 and 4096-byte sectors.
#[test]
fn luks2_argon2id_xts_4096_byte_sectors() {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    let disk = disk_once(
        &DISK,
        "luks2-argon2id-4k",
        &[
            "luks2",
            PASSPHRASE,
            "aes-xts-plain64",
            "32",
            "4096",
            "--pbkdf",
            "argon2id",
            "--pbkdf-memory",
            "8192",
            "--pbkdf-force-iterations",
            "4",
            "--pbkdf-parallel",
            "1",
        ],
    );
    let mut vm = boot(disk, "max", LUKS_SCRIPT);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    vm.expect_line("t: unlocked in ", STEP);
    check_read_and_secrecy(&mut vm);
}

/// LUKS2, PBKDF2-SHA1, aes-cbc-essiv:sha256 with AES-256.
#[test]
fn luks2_pbkdf2_sha1_cbc_essiv() {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    let disk = disk_once(
        &DISK,
        "luks2-essiv",
        &[
            "luks2",
            PASSPHRASE,
            "aes-cbc-essiv:sha256",
            "32",
            "512",
            "--pbkdf",
            "pbkdf2",
            "--hash",
            "sha1",
            "--pbkdf-force-iterations",
            "1000",
        ],
    );
    let mut vm = boot(disk, "qemu64", LUKS_SCRIPT);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    vm.expect_line("t: unlocked in ", STEP);
    check_read_and_secrecy(&mut vm);
}

/// A plain mapping: the script derives the key with pbkdf2 and maps the partition with aes_setup, 8 sectors
/// in; the image was encrypted by python with the key python's hashlib derived.
#[test]
fn plain_mapping_with_a_pbkdf2_key() {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    let iterations = PLAIN_ITERATIONS.to_string();
    let disk = disk_once(
        &DISK,
        "plain-essiv",
        &[
            "plain",
            PASSPHRASE,
            "aes-cbc-essiv:sha256",
            "32",
            "512",
            PLAIN_SALT,
            &iterations,
        ],
    );
    let script = format!(
        r#"
print("t: passphrase next")
let pass = prompt("Passphrase for hd0p1: ", echo=false)
let key = pbkdf2("sha256", pass, "{PLAIN_SALT}", {PLAIN_ITERATIONS}, 32)
aes_setup("vol", "hd0p1", key, cipher="aes-cbc-essiv:sha256", offset=8)
mount("vol", "/")
let data = read("/data/blob.bin")
print("t: sha256 " + hex(sha256(data)) + " bytes " + str(len(data)))
"#
    );
    let mut vm = boot(disk, "qemu64", &script);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    check_read_and_secrecy(&mut vm);
}

/// A plain mapping as `cryptsetup open --type plain` makes it of a typed passphrase with Debian 12's defaults
/// (aes-cbc-essiv:sha256, a 256-bit key, the passphrase hashed with RIPEMD-160, longer keys filled from the hash
/// of "A" + passphrase): the script derives that key as docs/language.md shows.
#[test]
fn plain_mapping_with_cryptsetups_default_passphrase_hash() {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    let disk = disk_once(
        &DISK,
        "plain-ripemd160",
        &[
            "plain-hashed",
            PASSPHRASE,
            "aes-cbc-essiv:sha256",
            "32",
            "512",
            "ripemd160",
        ],
    );
    let script = r#"
print("t: passphrase next")
let pass = prompt("Passphrase for hd0p1: ", echo=false)
let key = ripemd160(pass) + slice(ripemd160("A" + pass), 0, 12)
aes_setup("vol", "hd0p1", key, cipher="aes-cbc-essiv:sha256")
mount("vol", "/")
let data = read("/data/blob.bin")
print("t: sha256 " + hex(sha256(data)) + " bytes " + str(len(data)))
"#;
    let mut vm = boot(disk, "qemu64", script);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    check_read_and_secrecy(&mut vm);
}

/// Checks a progress line as the serial line got it, rewritten in place with carriage returns (each state one
/// `\r`-separated piece): percentages that only grow, below 100 at first, then `... done`. Returns them.
fn progress_percents(vm: &mut Vm, line: &str) -> Vec<u32> {
    let states: Vec<&str> = line
        .split('\r')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut percents = Vec::new();
    for state in &states[..states.len().saturating_sub(1)] {
        let percent = state
            .strip_prefix("unlocking hd0p1 ... ")
            .and_then(|s| s.strip_suffix('%'))
            .and_then(|s| s.parse::<u32>().ok());
        match percent {
            Some(p) if p <= 100 => percents.push(p),
            _ => vm.fail(&format!("progress state {state:?} in {line:?}")),
        }
    }
    if states.last() != Some(&"unlocking hd0p1 ... done") || percents.is_empty() {
        vm.fail(&format!("progress line {line:?}"));
    }
    assert!(
        percents.windows(2).all(|w| w[0] < w[1]) && percents[0] < 100,
        "progress went {percents:?}"
    );
    percents
}

/// A derivation over a second shows `unlocking hd0p1 ... NN%` live on the consoles (serial and screen), then
/// `... done`; a quick one (the other tests) shows nothing.
#[test]
fn slow_unlock_shows_a_progress_line() {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    let iterations = SLOW_ITERATIONS.to_string();
    let disk = disk_once(
        &DISK,
        "luks1-slow",
        &[
            "luks1",
            PASSPHRASE,
            "aes-xts-plain64",
            "32",
            "512",
            "--hash",
            "sha256",
            "--pbkdf-force-iterations",
            &iterations,
        ],
    );
    let mut vm = boot(disk, "max", LUKS_SCRIPT);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    let typed = Instant::now();
    let line = vm.expect_line("unlocking hd0p1 ... ", STEP).text;
    let took = typed.elapsed();
    eprintln!("progress after {took:?}: {line:?}");
    progress_percents(&mut vm, &line);
    assert!(took > Duration::from_secs(1), "unlock took only {took:?}");
    vm.expect_line("t: unlocked in ", STEP);
    let screen = vm.screen();
    assert!(
        screen
            .iter()
            .any(|row| row.contains("unlocking hd0p1 ... done")),
        "the screen shows no progress line:\n{}",
        screen.join("\n")
    );
    check_read_and_secrecy(&mut vm);
}

/// A LUKS2 key slot whose Argon2id takes seconds (64 MiB, 8 passes: about 2.5 s under TCG).
fn slow_argon2_disk() -> &'static Path {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    disk_once(
        &DISK,
        "luks2-argon2id-64m-8",
        &[
            "luks2",
            PASSPHRASE,
            "aes-xts-plain64",
            "64",
            "512",
            "--pbkdf",
            "argon2id",
            "--pbkdf-memory",
            "65536",
            "--pbkdf-force-iterations",
            "8",
            "--pbkdf-parallel",
            "1",
        ],
    )
}

/// A slow Argon2 shows its progress as PBKDF2 does: `unlocking hd0p1 ... NN%` once it has taken a second.
#[test]
fn slow_argon2_shows_its_progress() {
    let mut vm = boot(slow_argon2_disk(), "max", LUKS_SCRIPT);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    let line = vm.expect_line("unlocking hd0p1 ...", STEP).text;
    progress_percents(&mut vm, &line);
    vm.expect_line("t: unlocked in ", STEP);
    check_read_and_secrecy(&mut vm);
}

/// Ctrl-C stops an Argon2 on the way, once its progress line shows on the screen (the serial transcript has only
/// whole lines): the line ends `stopped`, and the script stops at the call (a `try` does not catch it).
#[test]
fn ctrl_c_stops_an_argon2() {
    let mut vm = boot(slow_argon2_disk(), "max", LUKS_SCRIPT);
    type_passphrase(&mut vm, PASSPHRASE, BOOT);
    let deadline = Instant::now() + STEP;
    while !vm
        .screen()
        .iter()
        .any(|row| row.starts_with("unlocking hd0p1 ... ") && row.trim_end().ends_with('%'))
    {
        if Instant::now() > deadline {
            vm.fail("no progress line on the screen");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    vm.send("\u{3}");
    let line = vm.expect_line("unlocking hd0p1 ... ", STEP).text;
    if !line.ends_with("\runlocking hd0p1 ... stopped") {
        vm.fail(&format!("progress line {line:?}"));
    }
    let error = vm.expect_line("t.bs:", STEP).text;
    if !error.ends_with(": error: interrupted (Ctrl-C)") {
        vm.fail(&format!("error {error:?}"));
    }
    assert!(!vm.transcript().contains("t: unlocked in"));
}
