//! The committed completion files in `completions/` are exactly what the binary generates, and
//! `completion install-kubectl` installs kubectl's helper where kubectl finds it.

mod common;

use std::path::Path;

use kubectl_vmmigrate::kubectl_completion::{FILE_NAME, SCRIPT};

const REFRESH: &str = "scripts/completions.sh";

fn completions_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/completions"))
}

#[test]
fn committed_completion_scripts_are_not_stale() {
    let home = tempfile::tempdir().unwrap();
    for (shell, file) in [
        ("bash", "kubectl-vmmigrate.bash"),
        ("zsh", "_kubectl-vmmigrate"),
        ("fish", "kubectl-vmmigrate.fish"),
        ("powershell", "kubectl-vmmigrate.ps1"),
    ] {
        let out = common::plugin(home.path()).args(["completion", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let generated = String::from_utf8(out.stdout).unwrap();
        assert!(generated.contains("kubectl-vmmigrate") && generated.contains("probe-interval"), "{shell}");
        let committed = std::fs::read_to_string(completions_dir().join(file)).unwrap_or_default();
        assert!(committed == generated, "completions/{file} is stale: run {REFRESH}");
    }
    let helper = completions_dir().join(FILE_NAME);
    assert_eq!(std::fs::read_to_string(&helper).unwrap_or_default(), SCRIPT, "completions/{FILE_NAME}: run {REFRESH}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&helper).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "completions/{FILE_NAME} is executable");
    }
}

#[test]
fn install_kubectl_writes_the_helper_once_and_refuses_to_clobber() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("bin");
    std::fs::create_dir(&target).unwrap();
    let install = |extra: &[&str]| {
        common::plugin(dir.path())
            .args(["completion", "install-kubectl", "--dir", target.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let helper = target.join(FILE_NAME);
    let first = install(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(String::from_utf8_lossy(&first.stdout), format!("installed {}\n", helper.display()));
    assert_eq!(std::fs::read_to_string(&helper).unwrap(), SCRIPT);
    let again = install(&[]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), format!("{} is already installed\n", helper.display()));

    std::fs::write(&helper, "#!/bin/sh\necho mine\n").unwrap();
    let refused = install(&[]);
    common::assert_one_error_line(&refused, 1, &["already exists and differs", "--force"]);
    assert_eq!(std::fs::read_to_string(&helper).unwrap(), "#!/bin/sh\necho mine\n");
    assert!(install(&["--force"]).status.success());
    assert_eq!(std::fs::read_to_string(&helper).unwrap(), SCRIPT);

    let missing = dir.path().join("missing");
    let out = common::plugin(dir.path())
        .args(["completion", "install-kubectl", "--dir", missing.to_str().unwrap()])
        .output()
        .unwrap();
    common::assert_one_error_line(&out, 1, &["cannot write", "missing"]);
    let usage = common::plugin(dir.path()).args(["completion", "bash", "--force"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "--force is only for install-kubectl");
}

/// Under krew the binary runs from `$KREW_ROOT/store/...`: the helper goes to `$KREW_ROOT/bin`, which is on PATH.
#[test]
fn install_kubectl_defaults_to_krew_bin_when_run_from_krew() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let krew = dir.path().join("krew");
    let store = krew.join("store/vmmigrate/v0.1.0");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(krew.join("bin")).unwrap();
    let exe = store.join("kubectl-vmmigrate");
    let built = assert_cmd::cargo::cargo_bin("kubectl-vmmigrate");
    // A hard link keeps the test cheap; current_exe() would see through a symlink.
    if std::fs::hard_link(&built, &exe).is_err() {
        std::fs::copy(&built, &exe).unwrap();
    }
    let out = std::process::Command::new(&exe)
        .args(["completion", "install-kubectl"])
        .env("KREW_ROOT", &krew)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(krew.join("bin").join(FILE_NAME)).unwrap(), SCRIPT);
    assert!(!store.join(FILE_NAME).exists(), "not into krew's store");
}
