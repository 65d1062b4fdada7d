//! Embedded mode: the reference back office inside the terminal's process, on loopback, with the demo data.
//!
//! Started when `backoffice.url = "embedded"`. Its database and signing key live in
//! `<data_dir>/backoffice/`; the terminal trusts that key. The bound URL is written to
//! `<data_dir>/backoffice/url` so that `civic-kiosk status` in another process can find it.

use std::path::PathBuf;

use crate::config::Config;

#[cfg(feature = "embedded")]
pub use with_server::*;
#[cfg(not(feature = "embedded"))]
pub use without_server::*;

fn dir(config: &Config) -> PathBuf {
    config.data_dir().join("backoffice")
}

/// The URL of an embedded back office another process started, if its file is there.
pub fn running_url(config: &Config) -> Option<String> {
    std::fs::read_to_string(dir(config).join("url"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(feature = "embedded")]
mod with_server {
    use super::dir;
    use ed25519_dalek::VerifyingKey;
    use std::sync::Arc;
    use tokio::sync::watch;

    use crate::config::Config;
    pub use civic_backoffice::ServerError;
    use civic_backoffice::{
        AppState, ServerOptions, bind, build_state, data, faults::FaultSettings, serve,
    };
    use std::path::PathBuf;

    /// A running embedded back office; stops when dropped.
    pub struct Embedded {
        pub url: String,
        pub public_key: VerifyingKey,
        pub state: Arc<AppState>,
        shutdown: watch::Sender<bool>,
        url_file: PathBuf,
    }

    impl Embedded {
        /// Stops serving and removes the URL file.
        pub fn stop(&self) {
            let _ = self.shutdown.send(true);
            let _ = std::fs::remove_file(&self.url_file);
        }
    }

    impl Drop for Embedded {
        fn drop(&mut self) {
            self.stop();
        }
    }

    /// The embedded back office's signing key, read (or made, on a first start) beside its
    /// database: the key the terminal trusts for cards when `backoffice.public_key` is unset.
    pub fn public_key(config: &Config) -> Option<VerifyingKey> {
        let db = dir(config).join("backoffice.sqlite");
        match civic_backoffice::load_or_create_key(&db) {
            Ok(k) => Some(k.verifying_key()),
            Err(e) => {
                log::error!("embedded back office key {}: {e}", db.display());
                None
            }
        }
    }

    /// Starts the embedded back office on the tokio runtime this is called from.
    pub async fn start(config: &Config) -> Result<Embedded, ServerError> {
        let dir = dir(config);
        let (mut tokens, admin) = data::parse_tokens(
            data::DEMO_TOKENS,
            std::path::Path::new("config/backoffice.toml"),
        )?;
        tokens.insert(config.backoffice.token.clone(), config.terminal.id.clone());
        let opts = ServerOptions {
            db: dir.join("backoffice.sqlite"),
            catalogue: data::demo_catalogue()?,
            residents: data::demo_residents()?,
            terminal_tokens: tokens,
            admin_token: admin,
            faults: FaultSettings::default(),
            tamper_signature: false,
            forge_name: None,
            today: None,
        };
        // The demo 随申码 / 电子身份证 codes (config/demo/codes.jsonl) with the demo residents.
        let state = tokio::task::spawn_blocking(move || {
            let s = build_state(opts)?;
            s.load_codes(&data::demo_codes()?)?;
            s.load_applications(&data::demo_applications()?)?;
            s.load_certificates(&data::demo_certificates()?)?;
            s.load_quick_items(data::demo_quick_items()?);
            Ok::<_, ServerError>(s)
        })
        .await
        .map_err(|e| ServerError::Tls(format!("startup worker: {e}")))??;
        let bound = bind(&config.backoffice.embedded_listen, None).await?;
        let url = format!("http://{}/", bound.addr);
        let url_file = dir.join("url");
        if let Err(e) = crate::config::save_atomic(&url_file, url.as_bytes()) {
            log::warn!("cannot write {}: {e}", url_file.display());
        }
        let (tx, rx) = watch::channel(false);
        tokio::spawn(serve(bound, state.clone(), rx));
        log::info!("embedded back office at {url}");
        Ok(Embedded {
            url,
            public_key: state.verifying_key(),
            state,
            shutdown: tx,
            url_file,
        })
    }
}

/// A terminal built without the `embedded` feature: `backoffice.url = "embedded"` is
/// refused with the fix, and nothing of the reference back office is linked in.
#[cfg(not(feature = "embedded"))]
mod without_server {
    use crate::config::Config;
    use ed25519_dalek::VerifyingKey;

    #[derive(Debug, thiserror::Error)]
    #[error(
        "this build has no embedded back office (cargo feature `embedded`): set backoffice.url to the district back office"
    )]
    pub struct ServerError;

    /// Never made in this build.
    pub struct Embedded {
        pub url: String,
        pub public_key: VerifyingKey,
    }

    impl Embedded {
        pub fn stop(&self) {}
    }

    pub async fn start(_config: &Config) -> Result<Embedded, ServerError> {
        Err(ServerError)
    }

    pub fn public_key(_config: &Config) -> Option<VerifyingKey> {
        None
    }
}
