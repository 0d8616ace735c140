//! Secrets generated once and kept in the data directory, for development.

use std::io;
use std::path::Path;

use base64::Engine as _;

/// Reads the secret kept at `path`, or makes one (256 bits from the OS,
/// base64url) and writes it there, readable by the owner only. Returns the
/// secret and whether it was made now.
///
/// # Errors
///
/// The file cannot be written, or the OS has no randomness to give.
pub fn kept_secret(path: &Path) -> io::Result<(String, bool)> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_owned();
        if !s.is_empty() {
            return Ok((s, false));
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no randomness for a secret: {e}")))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &secret)?;
    Ok((secret, true))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let (first, made) = kept_secret(&path).unwrap();
        assert!(made);
        assert_eq!(first.len(), 43);
        let (again, made) = kept_secret(&path).unwrap();
        assert!(!made);
        assert_eq!(again, first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
