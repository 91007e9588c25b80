//! `kubectl_complete-vmmigrate`: the helper kubectl (>= 1.26) runs to complete `kubectl vmmigrate <TAB>`.
//!
//! kubectl looks for an executable named `kubectl_complete-vmmigrate` on `PATH` and runs it with the words typed
//! after the plugin name (see [`crate::complete`] for the protocol). krew does not install such helpers, so
//! `kubectl vmmigrate completion install-kubectl` writes [`SCRIPT`] next to the plugin: the directory of the running
//! executable, or `${KREW_ROOT:-~/.krew}/bin` when the plugin runs from krew's store (that directory is on `PATH`
//! for krew users, the store is not).

use std::path::{Path, PathBuf};

/// File name kubectl looks for (`kubectl-vmmigrate` with the first `-` replaced by `_complete-`).
pub const FILE_NAME: &str = "kubectl_complete-vmmigrate";

/// The helper's content; the same file is committed as `completions/kubectl_complete-vmmigrate` and shipped in the
/// release archive.
pub const SCRIPT: &str = "#!/bin/sh\n\
# kubectl >= 1.26 runs this for `kubectl vmmigrate <TAB>`; installed by `kubectl vmmigrate completion install-kubectl`.\n\
exec kubectl-vmmigrate __complete \"$@\"\n";

/// Why the helper could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{} already exists and differs from the helper; use --force to replace it", .0.display())]
    Differs(PathBuf),
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot tell where the plugin is installed ({0}); use --dir DIR")]
    NoDefaultDir(String),
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The file was written (created or replaced).
    Written(PathBuf),
    /// An identical file was already there (its mode was made executable).
    Unchanged(PathBuf),
}

/// The directory to install into when no `--dir` is given: `krew_root/bin` when `exe` lives under `krew_root`
/// (krew's store), else the directory of `exe`.
pub fn default_dir(exe: &Path, krew_root: &Path) -> Option<PathBuf> {
    if exe.starts_with(krew_root) {
        return Some(krew_root.join("bin"));
    }
    exe.parent().map(Path::to_path_buf)
}

/// krew's root: `$KREW_ROOT`, else `~/.krew`.
pub fn krew_root() -> Option<PathBuf> {
    match std::env::var_os("KREW_ROOT").filter(|r| !r.is_empty()) {
        Some(root) => Some(PathBuf::from(root)),
        None => dirs::home_dir().map(|home| home.join(".krew")),
    }
}

/// [`default_dir`] for the running executable.
pub fn default_dir_for_current_exe() -> Result<PathBuf, InstallError> {
    let exe = std::env::current_exe().map_err(|e| InstallError::NoDefaultDir(e.to_string()))?;
    let root = krew_root().unwrap_or_default();
    default_dir(&exe, &root).ok_or_else(|| InstallError::NoDefaultDir(format!("{} has no parent", exe.display())))
}

/// Writes [`SCRIPT`] as `dir/kubectl_complete-vmmigrate` with mode 0755. A different existing file is replaced only
/// with `force`.
pub fn install(dir: &Path, force: bool) -> Result<Installed, InstallError> {
    let path = dir.join(FILE_NAME);
    let write_err = |source| InstallError::Write { path: path.clone(), source };
    let unchanged = match std::fs::read(&path) {
        Ok(existing) if existing == SCRIPT.as_bytes() => true,
        Ok(_) if !force => return Err(InstallError::Differs(path)),
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) if force => {
            tracing::debug!("cannot read {}: {e}; replacing it", path.display());
            false
        }
        Err(e) => return Err(write_err(e)),
    };
    if !unchanged {
        std::fs::write(&path, SCRIPT).map_err(write_err)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(write_err)?;
    }
    Ok(if unchanged { Installed::Unchanged(path) } else { Installed::Written(path) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dir_is_krew_bin_for_krew_installs_else_next_to_the_binary() {
        let root = Path::new("/home/u/.krew");
        assert_eq!(
            default_dir(Path::new("/home/u/.krew/store/vmmigrate/v0.1.0/kubectl-vmmigrate"), root),
            Some(PathBuf::from("/home/u/.krew/bin"))
        );
        assert_eq!(default_dir(Path::new("/usr/local/bin/kubectl-vmmigrate"), root), Some("/usr/local/bin".into()));
    }

    #[test]
    fn installs_executable_keeps_identical_and_refuses_different_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(install(dir.path(), false).unwrap(), Installed::Written(path.clone()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SCRIPT);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o755);
        }
        assert_eq!(install(dir.path(), false).unwrap(), Installed::Unchanged(path.clone()));
        std::fs::write(&path, "#!/bin/sh\necho other\n").unwrap();
        let err = install(dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "#!/bin/sh\necho other\n", "left alone");
        assert_eq!(install(dir.path(), true).unwrap(), Installed::Written(path.clone()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SCRIPT);
    }

    #[test]
    fn a_missing_directory_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = install(&dir.path().join("nope"), false).unwrap_err().to_string();
        assert!(err.starts_with("cannot write ") && err.contains("nope/kubectl_complete-vmmigrate"), "{err}");
    }
}
