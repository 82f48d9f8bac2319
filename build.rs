//! Link flags for the PKCS#11 module.

fn main() {
    // aws-lc registers per-thread destructors inside libkeyward.so; if an application
    // dlclose()s the module after C_Finalize, a thread exiting later would run code that is no
    // longer mapped. Keep the module resident once loaded.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
