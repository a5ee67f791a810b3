//! What `tessera up` starts for itself when nothing is configured: nats-server (JetStream,
//! loopback only, store under the data folder) unless `--nats` or `bus.url` says where NATS
//! is; redis-server for the embedding cache when one is installed and none is configured,
//! else the in-process cache; free ports for metrics and, when 8080 is taken, the dashboard.
//! Dropping [`LocalServers`] stops what it started and keeps the data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessera_provision::Cache;
use tessera_servers::{LocalNats, LocalRedis, find_redis_server, free_port, port_is_free};
use tessera_settings::Settings;

/// The port an embedded nats-server takes when it is free: the default `bus.url`'s, so that
/// `tessera publish` in another terminal finds it with no flags.
const NATS_PORT: u16 = 4222;

/// The servers `tessera up` started, and what it says about each.
pub(crate) struct LocalServers {
    nats: Option<LocalNats>,
    redis: Option<LocalRedis>,
    /// One line per item of the block `tessera up` prints.
    pub(crate) lines: Vec<(String, String)>,
}

impl LocalServers {
    /// Starts what `settings` leaves unconfigured (`nats_given`: `--nats` was passed), and
    /// points `settings` at it.
    pub(crate) fn start(
        cache: &Cache,
        data: &Path,
        settings: &mut Settings,
        nats_given: bool,
    ) -> Result<LocalServers> {
        let mut out = LocalServers {
            nats: None,
            redis: None,
            lines: Vec::new(),
        };
        let defaults = Settings::default();
        if nats_given || settings.bus.url != defaults.bus.url {
            out.line(
                "NATS",
                format!("{} (configured)", settings.bus.display_url()),
            );
        } else {
            let binary = cache
                .nats_server()
                .context("finding nats-server (or pass --nats URL to use a server of your own)")?;
            let nats = LocalNats::start(&binary, &data.join("nats"), NATS_PORT)
                .context("starting nats-server (or pass --nats URL to use a server of your own)")?;
            settings.bus.url = nats.url();
            let mut text = format!(
                "{} (nats-server {}, started here, pid {})",
                nats.url(),
                nats.version(),
                nats.pid().unwrap_or_default()
            );
            if nats.port() != NATS_PORT {
                text.push_str(&format!(
                    "\n            127.0.0.1:{NATS_PORT} was taken (a NATS of your own? use it \
                     with --nats nats://127.0.0.1:{NATS_PORT}); publish to this one with \
                     --nats {}",
                    nats.url()
                ));
            }
            out.line("NATS", text);
            out.line("NATS store", nats.store_dir().display().to_string());
            out.line("NATS log", nats.log_path().display().to_string());
            out.nats = Some(nats);
        }
        out.start_cache(data, settings);
        if settings.telemetry.metrics_addr == defaults.telemetry.metrics_addr {
            // 0.0.0.0:9090 suits one service per container, not several processes per host.
            settings.telemetry.metrics_addr = format!("127.0.0.1:{}", free_port()?);
        }
        if settings.dashboard.bind == defaults.dashboard.bind
            && let Ok(addr) = settings.dashboard.bind_addr()
            && !port_is_free(addr.port())
        {
            settings.dashboard.bind = format!("127.0.0.1:{}", free_port()?);
        }
        Ok(out)
    }

    fn start_cache(&mut self, data: &Path, settings: &mut Settings) {
        if let Some(url) = &settings.cache.url {
            let shown = url.split('@').next_back().unwrap_or(url);
            self.line("cache", format!("Redis at {shown} (configured)"));
            return;
        }
        let Some(binary) = find_redis_server() else {
            self.line(
                "cache",
                "in-process, lost at exit (no redis-server installed: apt-get install \
                 redis-server, or pass --redis URL)"
                    .into(),
            );
            return;
        };
        match LocalRedis::start(&binary, &data.join("redis")) {
            Ok(redis) => {
                settings.cache.url = Some(redis.url());
                self.line(
                    "cache",
                    format!(
                        "{} (redis-server, started here, pid {}; data in {})",
                        redis.url(),
                        redis.pid().unwrap_or_default(),
                        redis.dir().display()
                    ),
                );
                self.redis = Some(redis);
            }
            Err(e) => self.line(
                "cache",
                format!(
                    "in-process, lost at exit ({} did not start: {e})",
                    binary.display()
                ),
            ),
        }
    }

    fn line(&mut self, what: &str, text: String) {
        self.lines.push((what.to_string(), text));
    }

    /// Stops the servers started here (each keeps its data), and says so.
    pub(crate) fn stop(mut self) {
        if let Some(mut nats) = self.nats.take() {
            nats.stop();
            eprintln!(
                "tessera up: nats-server stopped; its store stays in {}",
                nats.store_dir().display()
            );
        }
        if let Some(mut redis) = self.redis.take() {
            redis.stop();
            eprintln!(
                "tessera up: redis-server stopped; its data stays in {}",
                redis.dir().display()
            );
        }
    }
}

/// The data folder: `--data`, else `$TESSERA_DATA`, else `~/.local/share/tessera`.
pub(crate) fn data_dir(given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("TESSERA_DATA").map(PathBuf::from))
        .or_else(|| dirs::data_local_dir().map(|d| d.join("tessera")))
        .unwrap_or_else(|| PathBuf::from(".tessera-data"))
}
