//! Loading settings from defaults, a file and variables, and the errors an operator sees.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use tessera_settings::{LogFormat, Settings, SettingsError};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let f = file(text);
    Settings::load_from(Some(f.path()), vars(env))
}

#[test]
fn defaults_without_file_or_variables() {
    let s = Settings::load_from(None, vars(&[])).unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.model.name, "efficientnet-lite0");
    assert_eq!(s.model.batch, None, "unset: the provider chooses");
    assert_eq!(s.model.precision, "auto");
    assert_eq!(s.embedder.max_batch_chips, 512);
    assert_eq!(s.telemetry.format, LogFormat::Text);
    assert_eq!(s.bus.url, "nats://127.0.0.1:4222");
    assert_eq!(s.protocol_limits(), tessera_protocol::Limits::default());
    s.validate().unwrap();
}

#[test]
fn the_file_overrides_defaults() {
    let s = load(
        "[bus]\nurl = \"nats://nats:4222\"\n[model]\nbatch = 16\ninput_size = 224\n\
         [publisher]\noverlay = false\noverlay_alpha = 0.7\n[telemetry]\nformat = \"json\"\n\
         [limits]\ninline_max_bytes = 1000\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.bus.url, "nats://nats:4222");
    assert_eq!(s.bus.name, "tessera", "untouched keys keep their default");
    assert_eq!(s.model.batch, Some(16));
    assert_eq!(s.model.input_size, Some(224));
    assert!(!s.publisher.overlay);
    assert_eq!(s.publisher.overlay_alpha, 0.7);
    assert_eq!(s.telemetry.format, LogFormat::Json);
    assert_eq!(s.protocol_limits().inline_max_bytes, 1000);
}

#[test]
fn variables_override_the_file() {
    let s = load(
        "[bus]\nurl = \"nats://file:4222\"\n[embedder]\nmax_batch_chips = 128\nlinger_ms = 9\n",
        &[
            ("TESSERA__BUS__URL", "nats://h:4222"),
            ("TESSERA__EMBEDDER__MAX_BATCH_CHIPS", "256"),
            ("TESSERA__CACHE__URL", "redis://r:6379/0"),
            ("TESSERA__PUBLISHER__OVERLAY", "false"),
            ("TESSERA__CLUSTERER__TRACK_MIN_SIMILARITY", "0.25"),
            ("TESSERA__TELEMETRY__FORMAT", "json"),
            ("TESSERA__MODEL__INPUT_SIZE", "128"),
        ],
    )
    .unwrap();
    assert_eq!(s.bus.url, "nats://h:4222");
    assert_eq!(s.embedder.max_batch_chips, 256);
    assert_eq!(s.embedder.linger_ms, 9, "the file's other keys stay");
    assert_eq!(s.cache.url.as_deref(), Some("redis://r:6379/0"));
    assert!(!s.publisher.overlay);
    assert_eq!(s.clusterer.track_min_similarity, 0.25);
    assert_eq!(s.telemetry.format, LogFormat::Json);
    assert_eq!(s.model.input_size, Some(128));
}

#[test]
fn nested_variables_reach_tables() {
    let s = Settings::load_from(
        None,
        vars(&[
            ("TESSERA__BUS__TLS__CA", "/etc/ca.pem"),
            ("tessera__bus__js_domain", "edge"),
        ]),
    )
    .unwrap();
    let tls = s.bus.tls.unwrap();
    assert_eq!(tls.ca, Some(PathBuf::from("/etc/ca.pem")));
    assert_eq!(tls.cert, None);
    assert_eq!(
        s.bus.js_domain.as_deref(),
        Some("edge"),
        "names match in any case"
    );
    // A variable adds to a table the file opened.
    let s = load(
        "[bus.tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n",
        &[("TESSERA__BUS__TLS__CA", "/ca.pem")],
    )
    .unwrap();
    let tls = s.bus.tls.unwrap();
    assert_eq!(tls.ca, Some(PathBuf::from("/ca.pem")));
    assert_eq!(tls.cert, Some(PathBuf::from("/c.pem")));
}

#[test]
fn strings_that_look_like_numbers_stay_as_written() {
    let s = Settings::load_from(
        None,
        vars(&[
            ("TESSERA__BUS__NAME", "42"),
            ("TESSERA__BUS__USER", "007"),
            ("TESSERA__BUS__PASSWORD", "1e3"),
            ("TESSERA__CACHE__PASSWORD", "TRUE"),
            ("TESSERA__CACHE__KEY_PREFIX", "1234"),
            ("TESSERA__EMBEDDER__INSTANCE", "0.50"),
        ]),
    )
    .unwrap();
    assert_eq!(s.bus.name, "42");
    assert_eq!(s.bus.user.as_deref(), Some("007"));
    assert_eq!(s.bus.password.as_deref(), Some("1e3"));
    assert_eq!(s.cache.password.as_deref(), Some("TRUE"));
    assert_eq!(s.cache.key_prefix, "1234");
    assert_eq!(s.embedder.instance.as_deref(), Some("0.50"));
}

#[test]
fn unrelated_and_empty_variables_are_ignored() {
    let s = Settings::load_from(
        None,
        vars(&[
            ("TESSERA_CACHE", "/var/cache/tessera"),
            ("TESSERA_NATS_SERVER", "/usr/bin/nats-server"),
            ("TESSERA", "x"),
            ("PATH", "/usr/bin"),
            ("TESSERA__MODEL__CACHE_DIR", ""),
        ]),
    )
    .unwrap();
    assert_eq!(s, Settings::default());
}

#[test]
fn an_unknown_key_in_the_file_is_named_with_the_keys_it_could_be() {
    let f = file("[bus]\nulr = \"nats://h:4222\"\n");
    let err = Settings::load_from(Some(f.path()), vars(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
    assert!(msg.contains("unknown key `bus.ulr`"), "{msg}");
    assert!(msg.contains("url, name"), "{msg}");
    assert!(msg.contains("deploy/tessera.toml"), "{msg}");
    assert_eq!(err.key(), Some("bus.ulr"));

    let err = load("[bus.tls]\ncacert = \"/ca\"\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("bus.tls.cacert"), "{err}");
    assert!(err.to_string().contains("ca, cert, key"), "{err}");

    let err = load("[embeder]\nlinger_ms = 1\n", &[]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown section or key `embeder`"), "{msg}");
    assert!(msg.contains("embedder"), "{msg}");
}

#[test]
fn an_unknown_variable_is_named() {
    let err =
        Settings::load_from(None, vars(&[("TESSERA__BUS__ULR", "nats://h:4222")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("environment variable TESSERA__BUS__ULR:"),
        "{msg}"
    );
    assert!(msg.contains("unknown key `bus.ulr`"), "{msg}");
    assert!(matches!(err, SettingsError::Env { .. }));

    // A single underscore where a double one belongs makes an unknown section.
    let err =
        Settings::load_from(None, vars(&[("TESSERA__BUS_URL", "nats://h:4222")])).unwrap_err();
    assert!(err.to_string().contains("`bus_url`"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    let f = file("[model]\nbatch = \"many\"\n");
    let err = Settings::load_from(Some(f.path()), vars(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
    assert!(msg.contains("`model.batch` must be"), "{msg}");
    assert!(msg.contains("\"many\""), "{msg}");
    assert_eq!(err.key(), Some("model.batch"));

    let err = Settings::load_from(
        None,
        vars(&[("TESSERA__INGEST__STORE_NORMALIZED", "maybe")]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("TESSERA__INGEST__STORE_NORMALIZED")
            && msg.contains("ingest.store_normalized"),
        "{msg}"
    );

    let err =
        Settings::load_from(None, vars(&[("TESSERA__TELEMETRY__FORMAT", "xml")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("telemetry.format") && msg.contains("json"),
        "{msg}"
    );

    let err = load("bus = \"nats://h:4222\"\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("bus"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let path = Path::new("/nonexistent/tessera.toml");
    let err = Settings::load_from(Some(path), vars(&[])).unwrap_err();
    assert!(matches!(err, SettingsError::FileNotFound { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/tessera.toml") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn a_file_that_is_not_toml_is_named() {
    let f = file("[bus]\nurl = nats://h:4222\n");
    let err = Settings::load_from(Some(f.path()), vars(&[])).unwrap_err();
    assert!(matches!(err, SettingsError::FileSyntax { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&f.path().display().to_string()) && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn loading_validates() {
    let err = load("[publisher]\noverlay_alpha = 1.5\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("publisher.overlay_alpha"));
    assert!(err.to_string().contains("[0, 1]"), "{err}");
    let err = Settings::load_from(None, vars(&[("TESSERA__BUS__USER", "u")])).unwrap_err();
    assert!(err.to_string().contains("bus.password"), "{err}");
}
