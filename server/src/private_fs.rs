//! Files that hold secrets or users' data: directories the server creates are readable by
//! its user only (0700), and so are the SQLite database and its journal files (0600).

use std::path::Path;

/// Creates `dir` (and missing parents) readable by the server's user only; an existing
/// directory is left as its operator made it.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes `file` readable and writable by the server's user only, if it exists. A file
/// the server may not change (another owner, a file system without modes) is left as it
/// is, with a warning.
pub fn restrict_file(file: &Path) -> std::io::Result<()> {
    match restrict(file) {
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::Unsupported
            ) =>
        {
            tracing::warn!(file = %file.display(), error = %err, "could not make the file private");
            Ok(())
        }
        other => other,
    }
}

fn restrict(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::metadata(file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            }
            Ok(_) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn directories_and_files_are_private() {
        let root =
            std::env::temp_dir().join(format!("qs-private-{}", uuid::Uuid::new_v4().simple()));
        let dir = root.join("a/b");
        create_dir(&dir).unwrap();
        for d in [&root, &root.join("a"), &dir] {
            assert_eq!(
                std::fs::metadata(d).unwrap().permissions().mode() & 0o777,
                0o700,
                "{d:?}"
            );
        }
        let file = dir.join("db.sqlite");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_file(&file).unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        restrict_file(&dir.join("missing")).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
