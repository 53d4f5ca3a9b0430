//! The registry's content-addressed artifact store: `.mlp/registry/blobs/<sha256>`, written
//! through a temporary file and a rename so that a killed process never leaves half a blob.

use crate::RegistryError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The sha256 of a file's content, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, RegistryError> {
    let io = |source| RegistryError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Blobs by sha256 under a folder.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// The store under `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Self {
        BlobStore { dir }
    }

    /// Where the blob with this hash lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Copies `file` into the store; returns its hash. A blob already there is kept as is.
    pub fn put(&self, file: &Path) -> Result<String, RegistryError> {
        let sha = sha256_file(file)?;
        let target = self.path(&sha);
        if target.is_file() {
            return Ok(sha);
        }
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| RegistryError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let tmp = self.dir.join(format!(".{sha}.{}.tmp", std::process::id()));
        std::fs::copy(file, &tmp).map_err(io("copy", file))?;
        // The copy must be the content hashed: a file changing under us is refused.
        let copied = sha256_file(&tmp)?;
        if copied != sha {
            // Best effort: the error below is what matters, and a stray temporary file is
            // named for this process and replaced by the next try.
            std::fs::remove_file(&tmp).ok();
            return Err(RegistryError::BadFile {
                path: file.to_path_buf(),
                message: "the file changed while it was being registered".into(),
            });
        }
        // On disk before the rename makes it a version's artifact.
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io("sync", &tmp))?;
        let mut perms = std::fs::metadata(&tmp)
            .map_err(io("read", &tmp))?
            .permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&tmp, perms).map_err(io("protect", &tmp))?;
        std::fs::rename(&tmp, &target).map_err(io("write", &target))?;
        Ok(sha)
    }
}
