//! Issue 7: the krew manifest and the release archive.
//!
//! - krew's rules (see `krew/mod.rs`) hold for the committed `krew-manifest.yaml`, which is exactly the template
//!   rendered (only the sha256 values come from outside), and each rule can fail;
//! - `scripts/release.sh --binary <the debug binary>` packages the archive krew expects and renders a manifest whose
//!   sha256 for this platform is the archive's; installed from that archive into a temporary PATH, the real kubectl
//!   lists the plugin without warnings, runs it, and completes it through `kubectl_complete-vmmigrate`, with VM names
//!   from the simulated cluster.
//!
//! The kubectl part needs the real kubectl: it fails without it unless `VMMIGRATE_ALLOW_NO_KUBECTL=1`.

mod krew;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{ClusterOptions, ClusterSim};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TEMPLATE: &str = "scripts/krew-manifest.yaml.tmpl";
const RENDERED_HEADER: &str = "# Rendered by scripts/release.sh from scripts/krew-manifest.yaml.tmpl: do not edit.\n";
/// The platforms issue 7 asks for.
const PLATFORMS: [(&str, &str); 5] =
    [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")];

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn version_tag() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// The platform triple in an archive URI or file name: `kubectl-vmmigrate_v0.1.0_<triple>.tar.gz`.
fn triple_of(uri: &str) -> String {
    let file = uri.rsplit('/').next().unwrap_or(uri);
    let prefix = format!("kubectl-vmmigrate_{}_", version_tag());
    file.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(".tar.gz")).unwrap_or(file).to_owned()
}

/// The template rendered with the manifest's own sha256 values: what the script must have produced.
fn render_template(manifest: &krew::Manifest) -> String {
    let mut text = read(TEMPLATE).replace("{{version}}", &version_tag());
    for p in &manifest.spec.platforms {
        text = text.replace(&format!("{{{{sha256 {}}}}}", triple_of(&p.uri)), &p.sha256);
    }
    let body: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("apiVersion:")).collect();
    format!("{RENDERED_HEADER}{}\n", body.join("\n"))
}

fn assert_valid(text: &str) -> krew::Manifest {
    let manifest = krew::parse(text).unwrap_or_else(|e| panic!("manifest does not parse: {e}"));
    assert_eq!(krew::validate(&manifest, "vmmigrate"), Vec::<String>::new());
    for (os, arch) in PLATFORMS {
        let matching =
            manifest.spec.platforms.iter().filter(|p| p.selector.as_ref().is_some_and(|s| s.matches(os, arch)));
        assert_eq!(matching.count(), 1, "exactly one platform for {os}/{arch}");
    }
    assert_eq!(manifest.spec.version, version_tag(), "the manifest's version is the crate's");
    for needle in ["kubevirt.io:migrate", "rbac.yaml", "--probe-image", "NET_RAW", "install-kubectl"] {
        assert!(manifest.spec.caveats.contains(needle), "caveats should mention {needle}");
    }
    manifest
}

#[test]
fn committed_manifest_is_valid_and_exactly_the_rendered_template() {
    let committed = read("krew-manifest.yaml");
    let manifest = assert_valid(&committed);
    let (placeholders, real): (Vec<_>, Vec<_>) =
        manifest.spec.platforms.iter().partition(|p| p.sha256.bytes().all(|b| b == b'0'));
    assert!(!real.is_empty(), "at least the platform the manifest was rendered on has a real sha256");
    for p in placeholders {
        eprintln!("krew-manifest.yaml: placeholder sha256 for {} (CI builds that archive)", triple_of(&p.uri));
    }
    assert_eq!(
        committed,
        render_template(&manifest),
        "krew-manifest.yaml is not the rendering of {TEMPLATE}: run scripts/release.sh instead of editing it"
    );
}

#[test]
fn each_krew_rule_can_fail() {
    let good = read("krew-manifest.yaml");
    let first_sha = krew::parse(&good).unwrap().spec.platforms[0].sha256.clone();
    let upper_sha = first_sha.to_uppercase();
    let cases: Vec<(&str, &str, &str)> = vec![
        ("apiVersion: krew.googlecontainertools.github.com/v1alpha2", "apiVersion: v1", "apiVersion"),
        ("kind: Plugin", "kind: Plugins", "kind"),
        ("  name: vmmigrate", "  name: vm.migrate", "does not match"),
        ("  name: vmmigrate", "  name: COM1", "reserved name on Windows"),
        ("  name: vmmigrate", "  name: vm-migrate", "not the file name"),
        ("version: v0.1.0", "version: 0.1.0", "semver"),
        ("version: v0.1.0", "version: v0.1", "semver"),
        ("version: v0.1.0", "version: v01.1.0", "semver"),
        ("homepage:", "homepages:", "unknown field"),
        ("homepage: https://", "homepage: http://", "homepage"),
        (&first_sha, "A", "sha256"),
        (&first_sha, &upper_sha, "sha256"),
        ("bin: kubectl-vmmigrate.exe", "bin: kubectl-vmmigrate", "without .exe"),
        ("os: darwin\n        arch: arm64", "os: darwin\n        arch: amd64", "match darwin/amd64"),
        ("os: linux\n        arch: arm64", "os: plan9\n        arch: arm64", "no supported os/arch"),
        ("        arch: amd64\n", "        arch: amd64\n        distro: debian\n", "only os and arch"),
        ("    - from: LICENSE\n      to: .\n", "", "no LICENSE"),
        (
            "    - from: kubectl-vmmigrate\n      to: .\n",
            "    - from: kubectl-vmmigrate\n      to: \"\"\n",
            "from and to",
        ),
        ("uri: https://", "uri: http://", "uri"),
        (".tar.gz\n", ".tgz\n", "uri"),
    ];
    for (from, to, expected) in cases {
        assert!(good.contains(from), "{from:?} is in the manifest");
        let found = match krew::parse(&good.replacen(from, to, 1)) {
            Err(parse_error) => vec![parse_error],
            Ok(m) => krew::validate(&m, "vmmigrate"),
        };
        assert!(found.iter().any(|e| e.contains(expected)), "{from:?} -> {to:?}: expected {expected:?} in {found:?}");
    }
    // Rules the text replacements above cannot reach.
    let mut m = krew::parse(&good).unwrap();
    m.spec.short_description = "x".repeat(krew::MAX_SHORT_DESCRIPTION + 1);
    m.spec.platforms[1].selector = None;
    m.spec.platforms[2].files = Some(Vec::new());
    m.spec.platforms[3].bin.clear();
    m.spec.description = " \n".into();
    let errors = krew::validate(&m, "vmmigrate").join("\n");
    for expected in ["longer than 60", "platforms[1].selector is missing", "platforms[2].files is present but empty"] {
        assert!(errors.contains(expected), "{expected:?} in {errors}");
    }
    assert!(errors.contains("platforms[3].bin is empty") && errors.contains("description is empty"), "{errors}");
    m.spec.short_description = "two\nlines".into();
    m.spec.platforms.clear();
    let errors = krew::validate(&m, "vmmigrate").join("\n");
    assert!(errors.contains("line break") && errors.contains("platforms is empty"), "{errors}");
    for (v, ok) in [("v1.2.3", true), ("v1.2.3-rc.1+b.5", true), ("v1.2", false), ("1.2.3", false), ("v1.2.3-", false)]
    {
        assert_eq!(krew::is_semver_with_v(v), ok, "{v}");
    }
    for (name, ok) in [
        ("LICENSE", true),
        ("License.md", true),
        ("COPYING", true),
        ("LICENSES.txt", true),
        ("dir/LICENSE", true),
        ("README", false),
    ] {
        assert_eq!(krew::is_license_file(name), ok, "{name}");
    }
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read archive");
    ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn find_kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).map(|dir| dir.join("kubectl")).find(|c| c.is_file());
    if found.is_none() {
        assert!(
            std::env::var("VMMIGRATE_ALLOW_NO_KUBECTL").as_deref() == Ok("1"),
            "kubectl is not installed: this test needs the real kubectl (set VMMIGRATE_ALLOW_NO_KUBECTL=1 to skip)"
        );
        eprintln!("SKIPPED LOUDLY: kubectl is not installed and VMMIGRATE_ALLOW_NO_KUBECTL=1 is set");
    }
    found
}

/// kubectl with PATH = the install directory and kubectl's own directory, and HOME/cache in `home`.
fn kubectl(kubectl: &Path, bin: &Path, home: &Path, kubeconfig: Option<&Path>, args: &[&str]) -> Output {
    let kubectl_dir = kubectl.parent().expect("kubectl's directory");
    let mut cmd = Command::new(kubectl);
    cmd.args(args)
        .env("PATH", std::env::join_paths([bin, kubectl_dir]).expect("PATH"))
        .env("HOME", home)
        .env("KUBECACHEDIR", home.join("cache"))
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("KREW_ROOT");
    if let Some(cfg) = kubeconfig {
        cmd.env("KUBECONFIG", cfg);
    }
    cmd.output().expect("run kubectl")
}

fn lines(out: &Output) -> Vec<String> {
    stdout(out).lines().map(str::to_owned).collect()
}

#[test]
fn release_archive_matches_its_manifest_and_installs_as_a_kubectl_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let manifest_path = dir.path().join("krew-manifest.yaml");
    let binary = assert_cmd::cargo::cargo_bin("kubectl-vmmigrate");
    let out = Command::new(Path::new(ROOT).join("scripts/release.sh"))
        .arg("--binary")
        .arg(&binary)
        .arg("--out")
        .arg(&dist)
        .arg("--manifest")
        .arg(&manifest_path)
        .arg("--allow-placeholders")
        .output()
        .expect("run scripts/release.sh");
    assert!(out.status.success(), "release.sh failed: {}{}", stdout(&out), stderr(&out));
    let size = std::fs::metadata(&binary).unwrap().len();
    assert!(stdout(&out).contains(&format!("{size} bytes")), "the script reports the binary's size: {}", stdout(&out));

    // The rendered manifest is valid and its sha256 for this platform is the archive's.
    let manifest = assert_valid(&std::fs::read_to_string(&manifest_path).unwrap());
    let archives: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    let archive = &archives[0];
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    let platform = manifest.spec.platforms.iter().find(|p| p.uri.ends_with(&format!("/{name}"))).expect("platform");
    assert_eq!(platform.sha256, sha256_hex(archive), "manifest sha256 of {name}");
    let sums = std::fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
    assert_eq!(sums, format!("{}  {name}\n", platform.sha256), "the checksum file CI collects");
    assert_eq!(
        platform.uri,
        format!("https://github.com/kubectl-vmmigrate/kubectl-vmmigrate/releases/download/{0}/{name}", version_tag())
    );

    // The archive layout: what `files` copies, a LICENSE, the helper; install it as krew would (all `to: .`).
    let listing = Command::new("tar").arg("-tzf").arg(archive).output().unwrap();
    let entries = lines(&listing);
    for file in platform.files.as_ref().expect("files") {
        assert!(entries.contains(&file.from), "{} is in the archive: {entries:?}", file.from);
        assert_eq!(file.to, ".");
    }
    assert!(entries.iter().any(|e| krew::is_license_file(e)), "{entries:?}");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let untar = Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&bin).output().unwrap();
    assert!(untar.status.success(), "{}", stderr(&untar));
    assert_eq!(
        std::fs::read_to_string(bin.join("kubectl_complete-vmmigrate")).unwrap(),
        kubectl_vmmigrate::kubectl_completion::SCRIPT
    );

    let Some(kubectl_path) = find_kubectl() else { return };
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let k = |kubeconfig: Option<&Path>, args: &[&str]| kubectl(&kubectl_path, &bin, &home, kubeconfig, args);

    let list = k(None, &["plugin", "list"]);
    assert!(list.status.success(), "kubectl plugin list: {}{}", stdout(&list), stderr(&list));
    assert!(stdout(&list).contains(&bin.join(&platform.bin).display().to_string()), "{}", stdout(&list));
    assert!(!stderr(&list).to_lowercase().contains("warning"), "no warnings: {}", stderr(&list));

    let version = k(None, &["vmmigrate", "--version"]);
    assert_eq!(stdout(&version), format!("kubectl-vmmigrate {}\n", manifest.spec.version.trim_start_matches('v')));

    let subcommands = lines(&k(None, &["__complete", "vmmigrate", ""]));
    let names: Vec<&str> = subcommands.iter().map(|l| l.split('\t').next().unwrap_or("")).collect();
    assert_eq!(names, ["check", "run", "cancel", "status", "probe", "completion", ":4"], "{subcommands:?}");

    // Namespaces and VM names from the simulated cluster, through kubectl -> kubectl_complete-vmmigrate.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let scenario = Scenario::builtin("haos").expect("haos scenario");
    let cluster = runtime.block_on(ClusterSim::start(&scenario, ClusterOptions::default())).expect("start the sim");
    let cfg = dir.path().join("kubeconfig");
    cluster.sim.write_kubeconfig(&cfg, Some("tenant-root")).unwrap();
    let vms = lines(&k(Some(&cfg), &["__complete", "vmmigrate", "status", ""]));
    assert_eq!(vms, ["vm-instance-haos", ":4"]);
    let vms = lines(&k(Some(&cfg), &["__complete", "vmmigrate", "run", "--probe", "vm-inst"]));
    assert_eq!(vms, ["vm-instance-haos", ":4"]);
    let namespaces =
        lines(&k(None, &["__complete", "vmmigrate", "check", "--kubeconfig", cfg.to_str().unwrap(), "-n", "tenant-"]));
    assert_eq!(namespaces, ["tenant-root", ":4"]);
    drop(cluster);
}
