//! krew's manifest rules, as krew-index enforces them (kubernetes-sigs/krew `internal/index/validation/validate.go`
//! and `cmd/validate-krew-manifest`), plus the length bound of `shortDescription` that the review guide asks for.
//!
//! [`validate`] returns every violation (empty = valid); [`Manifest`] is krew's `Plugin` type, strictly parsed.

use std::collections::BTreeMap;

use serde::Deserialize;

pub const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
/// `kubectl krew search` shows the short description in a column; the guide asks for "a few words".
pub const MAX_SHORT_DESCRIPTION: usize = 60;

/// The os/arch pairs krew-index's CI accepts (`cmd/validate-krew-manifest`, `osArchCombinations`).
pub const SUPPORTED: &[(&str, &str)] = &[
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub homepage: String,
    #[serde(default)]
    pub short_description: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub caveats: String,
    #[serde(default)]
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Platform {
    pub selector: Option<Selector>,
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub sha256: String,
    pub files: Option<Vec<FileOperation>>,
    #[serde(default)]
    pub bin: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Selector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOperation {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

pub fn parse(text: &str) -> Result<Manifest, String> {
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

impl Selector {
    /// Whether the selector matches a platform's labels (Kubernetes label-selector semantics).
    pub fn matches(&self, os: &str, arch: &str) -> bool {
        let label = |key: &str| match key {
            "os" => Some(os),
            "arch" => Some(arch),
            _ => None,
        };
        let labels_ok = self.match_labels.iter().all(|(k, v)| label(k) == Some(v.as_str()));
        let expressions_ok = self.match_expressions.iter().all(|r| {
            let value = label(&r.key);
            match r.operator.as_str() {
                "In" => value.is_some_and(|v| r.values.iter().any(|x| x == v)),
                "NotIn" => value.is_none_or(|v| r.values.iter().all(|x| x != v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        });
        labels_ok && expressions_ok
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.match_labels.keys().map(String::as_str).chain(self.match_expressions.iter().map(|r| r.key.as_str()))
    }
}

/// `^v` + semver 2.0 (krew parses versions with `semver.NewVersion` after requiring the leading `v`).
pub fn is_semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else { return false };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| p.split('.').all(ident))
        && build.is_none_or(|b| b.split('.').all(ident))
}

/// `license`, `license.txt`, `license.md`, `licenses*`, `copying*` (case-insensitive), as krew-index's CI checks.
pub fn is_license_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    matches!(base.as_str(), "license" | "license.txt" | "license.md")
        || base.starts_with("licenses")
        || base.starts_with("copying")
}

fn is_windows_reserved(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ["COM", "LPT"].iter().any(|p| {
            upper.strip_prefix(p).is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit() && n != "0")
        })
}

/// Every rule violation of `m`, which must be the manifest of plugin `name` (krew-index: `plugins/<name>.yaml`).
pub fn validate(m: &Manifest, name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let mut fail = |e: String| errors.push(e);
    if m.api_version != API_VERSION {
        fail(format!("apiVersion {:?} is not {API_VERSION}", m.api_version));
    }
    if m.kind != "Plugin" {
        fail(format!("kind {:?} is not Plugin", m.kind));
    }
    let n = &m.metadata.name;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        fail(format!("metadata.name {n:?} does not match ^[\\w-]+$"));
    }
    if is_windows_reserved(n) {
        fail(format!("metadata.name {n:?} is a reserved name on Windows"));
    }
    if n != name {
        fail(format!("metadata.name {n:?} is not the file name {name:?}"));
    }
    let short = &m.spec.short_description;
    if short.trim().is_empty() {
        fail("spec.shortDescription is empty".into());
    }
    if short.contains(['\n', '\r']) {
        fail("spec.shortDescription has a line break".into());
    }
    if short.chars().count() > MAX_SHORT_DESCRIPTION {
        fail(format!("spec.shortDescription is longer than {MAX_SHORT_DESCRIPTION} characters"));
    }
    if !is_semver_with_v(&m.spec.version) {
        fail(format!("spec.version {:?} is not semver with a leading v", m.spec.version));
    }
    // Not enforced by krew's code, but by its review: a homepage and a description.
    if !m.spec.homepage.starts_with("https://") {
        fail(format!("spec.homepage {:?} is not an https URL", m.spec.homepage));
    }
    if m.spec.description.trim().is_empty() {
        fail("spec.description is empty".into());
    }
    if m.spec.platforms.is_empty() {
        fail("spec.platforms is empty".into());
    }
    for (i, p) in m.spec.platforms.iter().enumerate() {
        let at = format!("spec.platforms[{i}]");
        match &p.selector {
            None => fail(format!("{at}.selector is missing")),
            Some(s) if s.match_labels.is_empty() && s.match_expressions.is_empty() => {
                fail(format!("{at}.selector is empty"))
            }
            Some(s) => {
                for key in s.keys().filter(|k| !matches!(*k, "os" | "arch")) {
                    fail(format!("{at}.selector uses key {key:?} (only os and arch are allowed)"));
                }
                if !SUPPORTED.iter().any(|(os, arch)| s.matches(os, arch)) {
                    fail(format!("{at}.selector matches no supported os/arch"));
                }
                if s.matches("windows", "amd64") && !p.bin.ends_with(".exe") {
                    fail(format!("{at}.bin {:?} is a Windows entrypoint without .exe", p.bin));
                }
            }
        }
        if !p.uri.starts_with("https://") || !(p.uri.ends_with(".tar.gz") || p.uri.ends_with(".zip")) {
            fail(format!("{at}.uri {:?} is not an https .tar.gz or .zip", p.uri));
        }
        if p.sha256.len() != 64 || !p.sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            fail(format!("{at}.sha256 {:?} does not match ^[a-f0-9]{{64}}$", p.sha256));
        }
        if p.bin.is_empty() {
            fail(format!("{at}.bin is empty"));
        }
        if let Some(files) = &p.files {
            if files.is_empty() {
                fail(format!("{at}.files is present but empty"));
            }
            for (j, f) in files.iter().enumerate() {
                if f.from.is_empty() || f.to.is_empty() {
                    fail(format!("{at}.files[{j}] needs from and to"));
                }
            }
            if !files.iter().any(|f| is_license_file(&f.from)) {
                fail(format!("{at}.files extracts no LICENSE file"));
            }
        }
    }
    for (os, arch) in SUPPORTED {
        let matching: Vec<usize> = (m.spec.platforms.iter().enumerate())
            .filter(|(_, p)| p.selector.as_ref().is_some_and(|s| s.matches(os, arch)))
            .map(|(i, _)| i)
            .collect();
        if matching.len() > 1 {
            fail(format!("platforms {matching:?} all match {os}/{arch}"));
        }
    }
    errors
}
