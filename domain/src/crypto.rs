//! Secrets at rest: client secrets, private keys and API tokens are sealed
//! with AES-256-GCM before they reach the database.
//!
//! The key comes from `PORTCULLIS_SECRET_KEY` (32 bytes, base64) or from a
//! key file created in the data folder on first start (mode 0600). Each value
//! is sealed with a fresh random nonce and bound to where it is stored (the
//! associated data), so a sealed value copied into another row or field does
//! not open.

use std::path::Path;

use aes_gcm::{
    aead::{Aead, KeyInit, OsRng, Payload},
    AeadCore, Aes256Gcm, Key, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};

use crate::settings::Secret;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("PORTCULLIS_SECRET_KEY must be 32 bytes encoded as base64 (generate one with `openssl rand -base64 32`)")]
    BadKey,
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("the key file {0} does not hold a 32-byte base64 key")]
    BadKeyFile(String),
    /// Wrong key (PORTCULLIS_SECRET_KEY changed?) or a damaged value.
    #[error("a stored secret cannot be decrypted: was PORTCULLIS_SECRET_KEY or the key file changed?")]
    Open,
}

/// Seals and opens secrets. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)) }
    }

    /// From `PORTCULLIS_SECRET_KEY` if set, else from `<data_dir>/secret.key`, created if missing.
    pub fn load(configured: Option<&Secret>, data_dir: &Path) -> Result<Self, CryptoError> {
        if let Some(key) = configured {
            return decode_key(key.expose()).map(|k| Self::from_key(&k)).ok_or(CryptoError::BadKey);
        }
        let path = data_dir.join("secret.key");
        let io = |source| CryptoError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => decode_key(text.trim())
                .map(|k| Self::from_key(&k))
                .ok_or_else(|| CryptoError::BadKeyFile(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Aes256Gcm::generate_key(OsRng);
                std::fs::create_dir_all(data_dir).map_err(io)?;
                write_new_private_file(&path, STANDARD.encode(key).as_bytes()).map_err(io)?;
                tracing::info!(path = %path.display(), "created a new key for secrets at rest; back it up with the database");
                Ok(Self { cipher: Aes256Gcm::new(&key) })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `context` names where the value is stored, e.g. `provider/<id>/client_secret`.
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Secret, CryptoError> {
        let bytes = sealed.strip_prefix(PREFIX).and_then(|b| STANDARD.decode(b).ok()).ok_or(CryptoError::Open)?;
        if bytes.len() <= NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| CryptoError::Open)
    }
}

/// Lower-case hex SHA-256: how tokens (sessions, one-time codes, sign-in state) are stored
/// and looked up, so a database leak yields no usable token.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    STANDARD.decode(text.trim()).ok()?.try_into().ok()
}

/// Creates a file only its owner can read; fails if it exists (never overwrite a key).
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::from_key(&[7u8; 32])
    }

    #[test]
    fn a_sealed_secret_opens_in_its_own_context_only() {
        let sealed = sb().seal("provider/1/client_secret", "s3cr3t-value");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(sb().open("provider/1/client_secret", &sealed).unwrap().expose(), "s3cr3t-value");
        assert!(matches!(sb().open("provider/2/client_secret", &sealed), Err(CryptoError::Open)));
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        assert_ne!(sb().seal("c", "x"), sb().seal("c", "x"));
    }

    #[test]
    fn another_key_or_a_damaged_value_does_not_open() {
        let sealed = sb().seal("c", "x");
        assert!(SecretBox::from_key(&[8u8; 32]).open("c", &sealed).is_err());
        assert!(sb().open("c", "v1:AAAA").is_err());
        assert!(sb().open("c", "plain text").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load(None, dir.path()).unwrap();
        let sealed = first.seal("c", "x");
        let again = SecretBox::load(None, dir.path()).unwrap();
        assert_eq!(again.open("c", &sealed).unwrap().expose(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_must_be_32_bytes_of_base64() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(SecretBox::load(Some(&Secret::new("short")), dir.path()), Err(CryptoError::BadKey)));
        let key = STANDARD.encode([1u8; 32]);
        assert!(SecretBox::load(Some(&Secret::new(key)), dir.path()).is_ok());
        assert!(!dir.path().join("secret.key").exists(), "no key file when the key is configured");
    }
}
