//! Encryption at rest for users' broker keys: AES-256-GCM with a random nonce per value,
//! the owner's id as associated data (a ciphertext copied to another user's row does not
//! decrypt), stored as base64 of nonce ‖ ciphertext. The same key also signs links that
//! must work without signing in (e-mail unsubscribe links), with a key derived from it.

use aes_gcm::aead::{Aead, Generate as _, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::Path;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// HMAC-SHA256 key for [`Self::sign`], derived from the sealing key (never the same).
    mac_key: [u8; 32],
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn derive_mac_key(key: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"quantshift link signatures v1");
    mac.finalize().into_bytes().into()
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// A key given as base64 of 32 bytes (e.g. `openssl rand -base64 32`).
    pub fn from_base64(encoded: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| "must be base64".to_string())?;
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice())
            .map_err(|_| format!("must be 32 bytes, not {}", bytes.len()))?;
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
            mac_key: derive_mac_key(key.as_slice()),
        })
    }

    /// A signature of `message` (base64url, 128 bits): proves a link was made here.
    pub fn sign(&self, message: &str) -> String {
        use hmac::Mac as _;
        let mut mac = HmacSha256::new_from_slice(&self.mac_key).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        let tag = mac.finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..16])
    }

    /// Whether `signature` is [`Self::sign`]'s for `message` (compared in constant time).
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        use hmac::Mac as _;
        let Ok(given) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(&self.mac_key).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        mac.verify_truncated_left(&given).is_ok() && given.len() == 16
    }

    /// Reads the key file in `dir`, creating it (readable by its owner only) on first use.
    /// For demo mode, so that a fresh install needs no configuration.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("secrets.key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Self::from_base64(&existing)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
        }
        crate::private_fs::create_dir(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        let key = Key::<Aes256Gcm>::generate();
        let encoded = STANDARD.encode(key.as_slice());
        write_private(&path, &encoded)
            .with_context(|| format!("failed to write {}", path.display()))?;
        tracing::info!(path = %path.display(), "created the key that encrypts broker keys at rest");
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
            mac_key: derive_mac_key(key.as_slice()),
        })
    }

    pub fn seal(&self, plaintext: &str, owner: &str) -> anyhow::Result<String> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(STANDARD.encode(sealed))
    }

    pub fn open(&self, sealed: &str, owner: &str) -> anyhow::Result<String> {
        let bytes = STANDARD
            .decode(sealed)
            .context("a sealed value is not base64")?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "a sealed value is too short");
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let plaintext = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!("a sealed value does not decrypt with this key and owner")
            })?;
        Ok(String::from_utf8(plaintext)?)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_the_same_owner_and_key() {
        let dir =
            std::env::temp_dir().join(format!("qs-secrets-{}", uuid::Uuid::new_v4().simple()));
        let vault = SecretBox::load_or_create(&dir).unwrap();
        let sealed = vault.seal("sk-live-123", "user-a").unwrap();
        assert!(!sealed.contains("sk-live"));
        assert_ne!(
            sealed,
            vault.seal("sk-live-123", "user-a").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(vault.open(&sealed, "user-a").unwrap(), "sk-live-123");
        assert!(vault.open(&sealed, "user-b").is_err(), "bound to its owner");
        let again = SecretBox::load_or_create(&dir).unwrap();
        assert_eq!(
            again.open(&sealed, "user-a").unwrap(),
            "sk-live-123",
            "the key file is reused"
        );
        let other = SecretBox::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(other.open(&sealed, "user-a").is_err());
        assert!(
            SecretBox::from_base64("c2hvcnQ=")
                .unwrap_err()
                .contains("32 bytes")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("secrets.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(format!("{vault:?}"), "SecretBox([redacted])");
    }
}

#[cfg(test)]
mod signature_tests {
    use super::*;

    #[test]
    fn signatures_hold_for_their_message_and_key_only() {
        let vault = SecretBox::from_base64(&STANDARD.encode([1u8; 32])).unwrap();
        let signature = vault.sign("unsubscribe:u1:weekly");
        assert_eq!(signature.len(), 22, "128 bits in base64url");
        assert!(vault.verify("unsubscribe:u1:weekly", &signature));
        assert!(!vault.verify("unsubscribe:u2:weekly", &signature));
        assert!(!vault.verify("unsubscribe:u1:weekly", &signature[..21]));
        assert!(!vault.verify("unsubscribe:u1:weekly", "not base64!"));
        let other = SecretBox::from_base64(&STANDARD.encode([2u8; 32])).unwrap();
        assert!(!other.verify("unsubscribe:u1:weekly", &signature));
    }
}
