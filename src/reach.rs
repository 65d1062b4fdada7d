//! How a one-shot command (status, diagnose, offline-code, sync …) reaches the back office:
//! the configured one, or in embedded mode the running terminal's, else one started in
//! this process as the terminal would. Then [`backoffice_status`] probes it with the
//! core's one health probe.

use crate::backoffice::{Client, ClientError, ClientOptions, ErrorKind};
use crate::config::Config;
use crate::embedded::{Embedded, ServerError};
use crate::health::{BackofficeStatus, probe_backoffice};

/// Why the configured back office could not be reached for a one-shot command.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("embedded back office: {0}")]
    Backoffice(#[from] ServerError),
    #[error("back office client: {0}")]
    Client(#[from] ClientError),
    #[error("runtime: {0}")]
    Io(#[from] std::io::Error),
}

/// A back office reached by a one-shot command (CLI).
pub struct Reached {
    pub client: Client,
    pub url: String,
    /// Set when no terminal was running in embedded mode and this process started one.
    pub embedded: Option<Embedded>,
}

/// Reaches the configured back office. In embedded mode: the running terminal's embedded
/// back office if there is one, otherwise one started in this process (as the terminal would).
pub async fn reach_backoffice(config: &Config) -> Result<Reached, ReachError> {
    if !config.is_embedded() {
        let url = config.backoffice.url.trim().to_string();
        let client = Client::new(&ClientOptions::from_config(config, &url))?;
        return Ok(Reached {
            client,
            url,
            embedded: None,
        });
    }
    if let Some(url) = crate::embedded::running_url(config)
        && let Ok(client) = Client::new(&ClientOptions::from_config(config, &url))
        && client.ping().await.is_ok()
    {
        return Ok(Reached {
            client,
            url,
            embedded: None,
        });
    }
    std::fs::create_dir_all(config.data_dir())?;
    let e = crate::embedded::start(config).await?;
    let client = Client::new(&ClientOptions::from_config(config, &e.url))?;
    Ok(Reached {
        client,
        url: e.url.clone(),
        embedded: Some(e),
    })
}

/// Reaches the configured back office (see [`reach_backoffice`]) and probes it.
pub async fn backoffice_status(config: &Config) -> BackofficeStatus {
    match reach_backoffice(config).await {
        Ok(reached) => {
            let mut s = probe_backoffice(config, &reached.url).await;
            s.started_for_probe = reached.embedded.is_some();
            s
        }
        Err(err) => BackofficeStatus {
            mode: if config.is_embedded() {
                "embedded"
            } else {
                "remote"
            }
            .into(),
            url: (!config.is_embedded()).then(|| config.backoffice.url.clone()),
            reachable: false,
            latency_ms: None,
            clock_skew_ms: None,
            error_kind: Some(match &err {
                ReachError::Client(e) => e.kind,
                _ => ErrorKind::Setup,
            }),
            error: Some(err.to_string()),
            started_for_probe: config.is_embedded(),
        },
    }
}
