//! Writing reports: render every requested report first, then replace each file atomically (a temporary file in
//! the same directory, fsync, rename over the target, fsync the directory). An existing file is replaced whole or
//! left as it was; a failure names the path.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ReportError, json, junit, markdown};
use crate::cli::ReportFormat;
use crate::record::RunRecord;

/// Renders one report.
pub fn render(record: &RunRecord, format: ReportFormat) -> Result<String, ReportError> {
    match format {
        ReportFormat::Markdown => Ok(markdown::render(record)),
        ReportFormat::Json => json::render(record),
        ReportFormat::Junit => Ok(junit::render(record)),
    }
}

/// Renders every report, then writes each one atomically. Returns the paths written, in order. Stops at the first
/// file that cannot be written (the ones before it are written, the ones after it untouched).
pub fn write_all(record: &RunRecord, targets: &[(PathBuf, ReportFormat)]) -> Result<Vec<PathBuf>, ReportError> {
    let rendered: Vec<(&PathBuf, String)> = targets
        .iter()
        .map(|(path, format)| Ok((path, render(record, *format)?)))
        .collect::<Result<_, ReportError>>()?;
    rendered
        .into_iter()
        .map(|(path, text)| {
            write_atomic(path, text.as_bytes())?;
            Ok(path.clone())
        })
        .collect()
}

/// Replaces `path` with `contents` atomically: a temporary file beside it, fsync, rename, fsync of the directory.
/// On any failure the temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let err = |source: std::io::Error| ReportError::Write { path: path.to_path_buf(), source };
    let name = path.file_name().ok_or_else(|| err(std::io::Error::other("not a file name")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tmp, mut file) = create_temp(&dir, name).map_err(err)?;
    let written = (|| {
        // An existing report keeps its mode (a 0644 textfile stays readable by node_exporter whatever the umask).
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    // The rename is durable once the directory is synced; failing to sync it does not undo the write.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A new temporary file beside the target: `.NAME.tmp-PID-N`, created exclusively (never following or truncating
/// something already there, such as a planted symlink or another run's file); the next N on a clash.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> std::io::Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for _ in 0..16 {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".tmp-{}-{nanos}-{n}", std::process::id()));
        let tmp = dir.join(tmp_name);
        match fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let prom = dir.path().join("vmmigrate.prom");
        fs::write(&prom, "old").unwrap();
        fs::set_permissions(&prom, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&prom, b"new").unwrap();
        assert_eq!(fs::read_to_string(&prom).unwrap(), "new");
        assert_eq!(fs::metadata(&prom).unwrap().permissions().mode() & 0o777, 0o640);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("vmmigrate.prom")], "no temporary file left");
    }

    #[test]
    fn every_format_is_written_and_an_existing_file_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("report.md");
        fs::write(&md, "old contents that are longer than nothing\n".repeat(1000)).unwrap();
        let targets = vec![
            (md.clone(), ReportFormat::Markdown),
            (dir.path().join("report.json"), ReportFormat::Json),
            (dir.path().join("report.xml"), ReportFormat::Junit),
        ];
        let record = fixture::success_with_probe();
        let written = write_all(&record, &targets).unwrap();
        assert_eq!(written, targets.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
        assert_eq!(fs::read_to_string(&md).unwrap(), markdown::render(&record));
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        assert_eq!(json["kind"], "ValidationReport");
        assert!(fs::read_to_string(dir.path().join("report.xml")).unwrap().starts_with("<?xml"));
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn a_failed_write_names_the_path_and_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("report.md");
        let e = write_all(&fixture::failed(), &[(missing.clone(), ReportFormat::Markdown)]).unwrap_err();
        assert!(e.to_string().contains(&missing.display().to_string()), "{e}");
        // A directory in the way: the rename fails, the directory is untouched, no temporary file remains.
        let in_the_way = dir.path().join("report.json");
        fs::create_dir(&in_the_way).unwrap();
        fs::write(in_the_way.join("keep"), "x").unwrap();
        let e = write_all(&fixture::failed(), &[(in_the_way.clone(), ReportFormat::Json)]).unwrap_err();
        assert!(matches!(&e, ReportError::Write { path, .. } if path == &in_the_way), "{e}");
        assert_eq!(fs::read_to_string(in_the_way.join("keep")).unwrap(), "x");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
