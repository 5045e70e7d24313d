//! The JWT secret of the zero-setup default (the SQLite file, no `JWT_SECRET`), kept in a
//! file beside the database so that logins survive a restart. Created once, readable by
//! its owner only (0600), and written whole before it appears under its name, so that two
//! servers starting at once agree on one secret.
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::ConfigError;

/// Random bytes in a new secret (a configured one needs at least 32).
const SECRET_BYTES: usize = 48;

/// Whether [`load_or_create`] found the file or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Created,
    Existing,
}

fn failed(path: &Path, what: &str, cause: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        variable: "JWT_SECRET",
        message: format!(
            "is not set, and the secret file {} {what}: {cause}",
            path.display()
        ),
    }
}

/// The secret in `path`, creating the file with a new random secret if there is none.
pub fn load_or_create(path: &Path) -> Result<(Vec<u8>, Origin), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => return decode(path, &text).map(|secret| (secret, Origin::Existing)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(path, "cannot be read", e)),
    }
    let secret: [u8; SECRET_BYTES] = rand::random();
    let text = format!("{}\n", STANDARD.encode(secret));
    // Written under a temporary name, then linked to the real one, which fails if another
    // process got there first: the file never appears half written.
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    write_private(&temporary, text.as_bytes()).map_err(|e| failed(path, "cannot be written", e))?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok((secret.to_vec(), Origin::Created)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text =
                std::fs::read_to_string(path).map_err(|e| failed(path, "cannot be read", e))?;
            decode(path, &text).map(|secret| (secret, Origin::Existing))
        }
        Err(e) => Err(failed(path, "cannot be created", e)),
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn decode(path: &Path, text: &str) -> Result<Vec<u8>, ConfigError> {
    let secret = STANDARD
        .decode(text.trim())
        .map_err(|e| failed(path, "does not hold base64", e))?;
    if secret.len() < 32 {
        return Err(failed(
            path,
            "holds too short a secret",
            "fewer than 32 bytes",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            log::warn!(
                "{} can be read by other users; it holds the JWT secret (chmod 600 it)",
                path.display()
            );
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lorebase.jwt-secret");
        let (first, origin) = load_or_create(&path).unwrap();
        assert_eq!(origin, Origin::Created);
        assert_eq!(first.len(), SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(&path).unwrap();
        assert_eq!((again, origin), (first, Origin::Existing));
        std::fs::write(&path, "c2hvcnQ=\n").unwrap();
        assert_eq!(load_or_create(&path).unwrap_err().variable, "JWT_SECRET");
        // Nothing but the secret file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
