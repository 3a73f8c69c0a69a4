//! The server's secret key, and the one thing it seals: the password a session needs to reach the
//! user's mail. The session record (a file of the embedded store, or Redis) holds it only as
//! ciphertext, so that any instance, or the same one after a restart, can log in again for the
//! user without asking; the key itself never goes into the store. ChaCha20-Poly1305 from `ring`
//! (already compiled in for TLS), a random nonce per seal, the address as associated data so that
//! a sealed password cannot be moved to another account's session. A new key makes every sealed
//! password unreadable: everyone logs in again, told why.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("secret key file {0}: expected 32 bytes, as 64 hexadecimal digits")]
    Malformed(String),
}

/// The key sealing sessions' passwords.
pub struct SecretKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

const KEY_LEN: usize = 32;

impl SecretKey {
    /// Reads the key from `path` (64 hexadecimal digits). When `create` and the file does not exist,
    /// a new random key is written there first, readable by this user only: the single-instance
    /// default, where the key lives in the data directory.
    pub fn load(path: &Path, create: bool) -> Result<Self, SecretError> {
        let io = |source| SecretError::Io {
            path: path.display().to_string(),
            source,
        };
        if create && !path.exists() {
            write_new(path).map_err(io)?;
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let bytes = Zeroizing::new(
            hex::decode(text.trim())
                .map_err(|_| SecretError::Malformed(path.display().to_string()))?,
        );
        Self::from_bytes(&bytes).ok_or_else(|| SecretError::Malformed(path.display().to_string()))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?;
        Some(SecretKey {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// Seals `secret` for the account `address`: base64 of nonce, ciphertext and tag.
    pub fn seal(&self, address: &str, secret: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut buf = Zeroizing::new(secret.as_bytes().to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(address.as_bytes()),
                &mut *buf,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Some(B64.encode(out))
    }

    /// The secret sealed for `address`; `None` when it was sealed under another key, for another
    /// address, or altered.
    pub fn open(&self, address: &str, sealed: &str) -> Option<Zeroizing<String>> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = Zeroizing::new(body.to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(address.as_bytes()), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok().map(Zeroizing::new)
    }
}

/// Writes a new random key, created with mode 0600 and never replaced.
fn write_new(path: &Path) -> std::io::Result<()> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    SystemRandom::new()
        .fill(&mut *key)
        .map_err(|_| std::io::Error::other("no randomness"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(*key)));
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_password_opens_only_for_its_address_and_key() {
        let k = SecretKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = k.seal("alice@example.org", "mot de passe").unwrap();
        assert!(!sealed.contains("mot"), "{sealed}");
        assert_eq!(
            k.open("alice@example.org", &sealed).unwrap().as_str(),
            "mot de passe"
        );
        assert!(
            k.open("bob@example.org", &sealed).is_none(),
            "another account"
        );
        let other = SecretKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(
            other.open("alice@example.org", &sealed).is_none(),
            "a new key"
        );
        let mut altered = B64.decode(&sealed).unwrap();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(k.open("alice@example.org", &B64.encode(altered)).is_none());
        assert_ne!(
            k.seal("alice@example.org", "mot de passe").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn the_default_key_is_made_once_readable_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("courrier-key-{}", rand::random::<u64>()));
        let path = dir.join("secret.key");
        let k = SecretKey::load(&path, true).unwrap();
        let sealed = k.seal("a@b.c", "x").unwrap();
        let again = SecretKey::load(&path, true).unwrap();
        assert_eq!(
            again.open("a@b.c", &sealed).unwrap().as_str(),
            "x",
            "reused"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(SecretKey::load(&dir.join("missing"), false).is_err());
        std::fs::write(dir.join("short"), "abcd").unwrap();
        assert!(matches!(
            SecretKey::load(&dir.join("short"), false),
            Err(SecretError::Malformed(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
