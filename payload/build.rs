//! Hands the payload's linker script to the linker (only for the bare-metal target).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rerun-if-changed=linker.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("bootscript") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    }
}
