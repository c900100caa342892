//! Hands the payload's linker script to the linker (only for the bare-metal target), and cuts the framebuffer
//! console's font from GRUB's (`unicode.pf2`, GNU Unifont, installed with GRUB; `BOOTSCRIPT_FONT` names another
//! PF2 file) into `font.bin`: a cell of 16 bytes per character of `pf2::characters`.

#[path = "src/pf2.rs"]
mod pf2;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=src/pf2.rs");
    println!("cargo:rerun-if-env-changed=BOOTSCRIPT_FONT");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("bootscript") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    }
    let font = std::env::var("BOOTSCRIPT_FONT")
        .unwrap_or_else(|_| String::from("/usr/share/grub/unicode.pf2"));
    println!("cargo:rerun-if-changed={font}");
    let bytes = std::fs::read(&font)
        .unwrap_or_else(|e| panic!("{font}: {e} (GRUB's font: `make setup` installs grub-common)"));
    let cells = pf2::cells(&bytes, pf2::characters()).unwrap_or_else(|e| panic!("{font}: {e}"));
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("font.bin");
    std::fs::write(out, cells.concat()).unwrap();
}
