//! Per-user settings (display name, signature), one small TOML file per address under
//! `<data_dir>/settings/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{StoreError, file_key};

/// What a user can set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Name shown in From: of sent mail.
    pub display_name: String,
    /// Appended below `-- ` to new messages.
    pub signature: String,
    /// Senders whose messages show remote content (images, fonts) without asking, lower-cased.
    pub remote_senders: Vec<String>,
}

impl Settings {
    /// True when the user chose to always show remote content from this address.
    pub fn trusts_remote(&self, address: &str) -> bool {
        let a = address.trim().to_lowercase();
        !a.is_empty() && self.remote_senders.contains(&a)
    }

    /// Remembers an address whose remote content is always shown.
    pub fn trust_remote(&mut self, address: &str) {
        let a = address.trim().to_lowercase();
        if !a.is_empty() && !self.trusts_remote(&a) {
            self.remote_senders.push(a);
            self.remote_senders.sort();
        }
    }
}

/// The settings files.
#[derive(Clone, Debug)]
pub struct SettingsStore {
    dir: PathBuf,
}

impl SettingsStore {
    pub fn new(data_dir: &Path) -> Self {
        SettingsStore {
            dir: data_dir.join("settings"),
        }
    }

    fn path(&self, address: &str) -> PathBuf {
        self.dir.join(format!("{}.toml", file_key(address)))
    }

    /// The user's settings, or the defaults when they never saved any.
    pub async fn load(&self, address: &str) -> Result<Settings, StoreError> {
        match tokio::fs::read_to_string(self.path(address)).await {
            Ok(text) => toml::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Saves atomically (write to a temporary file, then rename).
    pub async fn save(&self, address: &str, settings: &Settings) -> Result<(), StoreError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let text = toml::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let path = self.path(address);
        let tmp = path.with_extension("toml.tmp");
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_round_trip_per_user() {
        let dir = std::env::temp_dir().join(format!("courrier-settings-{}", rand::random::<u64>()));
        let store = SettingsStore::new(&dir);
        assert_eq!(
            store.load("a@example.org").await.unwrap(),
            Settings::default()
        );
        let mut s = Settings {
            display_name: "Alice Dupré".into(),
            signature: "Alice\nÀ bientôt".into(),
            ..Settings::default()
        };
        s.trust_remote(" News@Shop.example ");
        assert!(s.trusts_remote("news@shop.example"));
        assert!(!s.trusts_remote("other@shop.example") && !s.trusts_remote(""));
        store.save("A@Example.org", &s).await.unwrap();
        assert_eq!(store.load("a@example.org").await.unwrap(), s);
        assert_eq!(
            store.load("b@example.org").await.unwrap(),
            Settings::default()
        );
        assert_eq!(file_key("../x@y"), "%2E%2E%2Fx@y");
        let _ = std::fs::remove_dir_all(dir);
    }
}
