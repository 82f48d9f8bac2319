//! `keyward install`: put the module where PKCS#11 consumers look, and register it with
//! p11-kit (so `p11-kit list-modules`, GnuTLS and p11-kit-proxy.so find it).

use std::path::{Path, PathBuf};

/// Where p11-kit reads module files: the administrator's `/etc/pkcs11/modules` for root, the
/// user's `$XDG_CONFIG_HOME/pkcs11/modules` (default `~/.config/pkcs11/modules`) otherwise
/// (see pkcs11.conf(5)).
pub fn default_p11_kit_dir() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let var = |name| std::env::var_os(name).filter(|v| !root && !v.is_empty());
    user_modules_dir(var("XDG_CONFIG_HOME"), var("HOME"))
        .unwrap_or_else(|| PathBuf::from("/etc/pkcs11/modules"))
}

/// Where p11-kit reads a user's module files: `$XDG_CONFIG_HOME/pkcs11/modules`, else
/// `$HOME/.config/pkcs11/modules` (p11-kit follows the XDG base directory rules).
fn user_modules_dir(
    xdg_config_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    xdg_config_home
        .map(PathBuf::from)
        .or_else(|| home.map(|h| PathBuf::from(h).join(".config")))
        .map(|config| config.join("pkcs11/modules"))
}

/// What `install` did, one line per step.
pub type Steps = Vec<String>;

/// Copy `module` to `PREFIX/lib/pkcs11/libkeyward.so`; with `p11_kit_dir`, write a module
/// file there naming the installed copy. Errors are messages that say what to do.
pub fn install(module: &Path, prefix: &Path, p11_kit_dir: Option<&Path>) -> Result<Steps, String> {
    let mut steps = Steps::new();
    let lib_dir = prefix.join("lib/pkcs11");
    std::fs::create_dir_all(&lib_dir).map_err(|e| {
        format!(
            "cannot create {}: {e} (try sudo, or --prefix)",
            lib_dir.display()
        )
    })?;
    let target = lib_dir.join("libkeyward.so");
    // Copy to a temporary name and rename: a process that has the old module loaded keeps
    // its mapping, and no process ever sees a half-written file.
    let partial = lib_dir.join(".libkeyward.so.partial");
    std::fs::copy(module, &partial)
        .and_then(|_| std::fs::rename(&partial, &target))
        .map_err(|e| format!("cannot install {}: {e}", target.display()))?;
    steps.push(format!("module: {}", target.display()));
    if let Some(dir) = p11_kit_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = dir.join("keyward.module");
        let text = format!(
            "# Keyward PKCS#11 token (written by `keyward install --p11-kit`)\nmodule: {}\n",
            target.display()
        );
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        steps.push(format!("p11-kit module file: {}", file.display()));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_the_module_and_its_p11_kit_file() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("built.so");
        std::fs::write(&module, b"\x7fELF module").unwrap();
        let prefix = dir.path().join("prefix");
        let kit = dir.path().join("modules");
        let steps = install(&module, &prefix, Some(&kit)).unwrap();
        assert_eq!(steps.len(), 2);
        let installed = prefix.join("lib/pkcs11/libkeyward.so");
        assert_eq!(std::fs::read(&installed).unwrap(), b"\x7fELF module");
        let text = std::fs::read_to_string(kit.join("keyward.module")).unwrap();
        assert!(
            text.contains(&format!("module: {}\n", installed.display())),
            "{text}"
        );
    }

    #[test]
    fn a_users_module_dir_follows_xdg_config_home() {
        let dir = |x: Option<&str>, h: Option<&str>| {
            user_modules_dir(x.map(Into::into), h.map(Into::into))
        };
        assert_eq!(
            dir(Some("/x/conf"), Some("/home/u")),
            Some(PathBuf::from("/x/conf/pkcs11/modules"))
        );
        assert_eq!(
            dir(None, Some("/home/u")),
            Some(PathBuf::from("/home/u/.config/pkcs11/modules"))
        );
        assert_eq!(dir(None, None), None);
    }
}
