#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(args: &[&str], env: &EnvMap) -> Result<Settings, ConfigError> {
    let mut full = vec!["whippet"];
    full.extend_from_slice(args);
    Settings::load(full, env)
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("whippet.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn defaults_without_any_layer() {
    let settings = load(&[], &EnvMap::new()).unwrap();
    assert_eq!(settings.data_dir, PathBuf::from("data"));
    assert_eq!(settings.kafka_addr.to_string(), "127.0.0.1:9092");
    assert_eq!(settings.native_addr.to_string(), "127.0.0.1:8090");
    assert_eq!(settings.http_addr.to_string(), "127.0.0.1:3000");
    assert_eq!(settings.fsync, FsyncPolicy::Interval);
    assert_eq!(settings.fsync_interval_ms, 1000);
    assert_eq!(settings.kafka_stream, "kafka");
    assert_eq!(settings.root.username, "iggy");
    assert_eq!(settings.root.password, "iggy");
    assert_eq!(settings.log_level, "info");
}

#[test]
fn file_then_env_then_flag_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        "data_dir = \"/from/file\"\nkafka_addr = \"127.0.0.1:1001\"\n\
         native_addr = \"127.0.0.1:1002\"\nfsync = \"never\"\n",
    );
    let env = env(&[
        ("WHIPPET_DATA_DIR", "/from/env"),
        ("WHIPPET_KAFKA_ADDR", "127.0.0.1:2001"),
    ]);

    let file_only = load(&["--config", &path], &EnvMap::new()).unwrap();
    assert_eq!(file_only.data_dir, PathBuf::from("/from/file"));
    assert_eq!(file_only.fsync, FsyncPolicy::Never);

    let with_env = load(&["--config", &path], &env).unwrap();
    assert_eq!(with_env.data_dir, PathBuf::from("/from/env"));
    assert_eq!(with_env.kafka_addr.port(), 2001);
    // Settings the env does not name still come from the file.
    assert_eq!(with_env.native_addr.port(), 1002);

    let with_flag = load(&["--config", &path, "--data-dir", "/from/flag"], &env).unwrap();
    assert_eq!(with_flag.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(with_flag.kafka_addr.port(), 2001);
    assert_eq!(with_flag.fsync, FsyncPolicy::Never);
}

#[test]
fn config_path_from_env_and_flag_wins() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let env_path = write_config(&first, "kafka_stream = \"from-env-file\"\n");
    let flag_path = write_config(&second, "kafka_stream = \"from-flag-file\"\n");
    let env = env(&[(ENV_CONFIG, &env_path)]);
    assert_eq!(load(&[], &env).unwrap().kafka_stream, "from-env-file");
    let settings = load(&["--config", &flag_path], &env).unwrap();
    assert_eq!(settings.kafka_stream, "from-flag-file");
}

/// Every setting with a value other than its default: (TOML key, value). The flag is the key
/// with dashes, the variable `WHIPPET_` and the key in capitals.
const EVERY_SETTING: [(&str, &str); 46] = [
    ("data_dir", "/f"),
    ("kafka_addr", "127.0.0.1:1"),
    ("native_addr", "127.0.0.1:2"),
    ("http_addr", "127.0.0.1:3"),
    ("fsync", "always"),
    ("fsync_interval_ms", "7"),
    ("kafka_stream", "ks"),
    ("kafka_advertised_addr", "kafka.example:19092"),
    ("auto_create_topics", "false"),
    ("num_partitions", "3"),
    ("group_initial_rebalance_delay_ms", "11"),
    ("group_min_session_timeout_ms", "12"),
    ("group_max_session_timeout_ms", "13"),
    ("group_consumer_session_timeout_ms", "30"),
    ("group_consumer_heartbeat_interval_ms", "29"),
    ("native_heartbeat_timeout_ms", "14"),
    ("connections_per_listener_max", "15"),
    ("connections_per_address_max", "16"),
    ("connection_setup_timeout_ms", "17"),
    ("connection_idle_timeout_ms", "18"),
    ("frame_read_timeout_ms", "19"),
    ("request_bytes_in_flight_max", "2097152"),
    ("metrics_partition_series_max", "20"),
    ("otel_exporter_otlp_endpoint", "http://collector:4318"),
    ("otel_exporter_otlp_protocol", "grpc"),
    ("otel_service_name", "svc"),
    ("root_username", "u"),
    ("root_password", "p"),
    ("log_level", "debug"),
    ("tls_cert", "/c.pem"),
    ("tls_key", "/k.pem"),
    ("tls_client_ca", "/ca.pem"),
    ("kafka_security_protocol", "SASL_SSL"),
    ("native_tls", "true"),
    ("http_tls", "true"),
    ("auth", "true"),
    ("login_failure_refill_ms", "4000"),
    ("s3_bucket", "b"),
    ("s3_endpoint", "http://s3.example:9000"),
    ("s3_region", "eu-west-1"),
    ("s3_prefix", "pre"),
    ("s3_cache_bytes", "1048576"),
    ("s3_upload_interval_ms", "250"),
    ("local_retention_ms", "3600000"),
    ("local_retention_bytes", "-1"),
    ("log_cleaner_backoff_ms", "2500"),
];

/// The settings whose TOML values are numbers or booleans, not strings.
const UNQUOTED: [&str; 25] = [
    "log_cleaner_backoff_ms",
    "login_failure_refill_ms",
    "fsync_interval_ms",
    "auto_create_topics",
    "num_partitions",
    "group_initial_rebalance_delay_ms",
    "group_min_session_timeout_ms",
    "group_max_session_timeout_ms",
    "group_consumer_session_timeout_ms",
    "group_consumer_heartbeat_interval_ms",
    "native_heartbeat_timeout_ms",
    "connections_per_listener_max",
    "connections_per_address_max",
    "connection_setup_timeout_ms",
    "connection_idle_timeout_ms",
    "frame_read_timeout_ms",
    "request_bytes_in_flight_max",
    "metrics_partition_series_max",
    "native_tls",
    "http_tls",
    "auth",
    "s3_cache_bytes",
    "s3_upload_interval_ms",
    "local_retention_ms",
    "local_retention_bytes",
];

#[test]
fn every_setting_is_wired_to_flag_env_and_file() {
    let names = setting_names();
    assert_eq!(
        names.len(),
        EVERY_SETTING.len(),
        "a setting is missing here"
    );
    for name in &names {
        assert!(
            EVERY_SETTING.iter().any(|(key, _)| key == name),
            "{name} is missing here"
        );
    }
    let flag_args: Vec<String> = EVERY_SETTING
        .iter()
        .map(|(key, value)| format!("--{}={value}", key.replace('_', "-")))
        .collect();
    let flag_args: Vec<&str> = flag_args.iter().map(String::as_str).collect();
    let from_flags = load(&flag_args, &EnvMap::new()).unwrap();

    let env: EnvMap = EVERY_SETTING
        .iter()
        .map(|(key, value)| (env_var_name(key), (*value).to_string()))
        .collect();
    assert_eq!(from_flags, load(&[], &env).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let toml: String = EVERY_SETTING
        .iter()
        .map(|(key, value)| {
            if UNQUOTED.contains(key) {
                format!("{key} = {value}\n")
            } else {
                format!("{key} = \"{value}\"\n")
            }
        })
        .collect();
    let path = write_config(&dir, &toml);
    let from_file = load(&["--config", &path], &EnvMap::new()).unwrap();
    assert_eq!(from_flags, from_file);
    assert_every_setting_applied(&from_file);
}

/// The resolved settings carry [`EVERY_SETTING`]'s values (the typed ones spot-checked).
fn assert_every_setting_applied(settings: &Settings) {
    assert_eq!(settings.fsync_interval_ms, 7);
    let tier = settings.tier.as_ref().unwrap();
    assert_eq!(
        (
            tier.bucket.as_str(),
            tier.endpoint.as_deref(),
            tier.region.as_deref()
        ),
        ("b", Some("http://s3.example:9000"), Some("eu-west-1"))
    );
    assert_eq!((tier.prefix.as_str(), tier.cache_bytes), ("pre", 1 << 20));
    assert_eq!(tier.interval, Duration::from_millis(250));
    assert_eq!(settings.local_retention_defaults, (3_600_000, -1));
    assert_eq!(
        settings.log_config().local_retention_defaults,
        (3_600_000, -1)
    );
    assert_eq!(settings.root.password, "p");
    assert!(!settings.auto_create_topics);
    assert_eq!(settings.num_partitions, 3);
    assert_eq!(
        settings.groups.initial_rebalance_delay,
        Duration::from_millis(11)
    );
    assert_eq!(
        settings.groups.min_session_timeout,
        Duration::from_millis(12)
    );
    assert_eq!(
        settings.groups.max_session_timeout,
        Duration::from_millis(13)
    );
    assert_eq!(settings.native_heartbeat_timeout_ms, 14);
    assert_eq!(
        settings.kafka_advertised_addr.as_deref(),
        Some("kafka.example:19092")
    );
    let ms = Duration::from_millis;
    let connections = ConnectionSettings {
        per_listener_max: 15,
        per_address_max: 16,
        setup_timeout: ms(17),
        idle_timeout: Some(ms(18)),
        frame_read_timeout: ms(19),
        request_bytes_in_flight_max: 2 * 1024 * 1024,
    };
    assert_eq!(settings.connections, connections);
    assert_eq!(settings.metrics.partition_series_max, 20);
    let otel = OtelSettings {
        endpoint: Some("http://collector:4318".into()),
        protocol: OtlpProtocol::Grpc,
        service_name: "svc".into(),
    };
    assert_eq!(settings.otel, otel);
    let security = SecuritySettings {
        tls: Some(TlsFiles {
            cert: "/c.pem".into(),
            key: "/k.pem".into(),
            client_ca: Some("/ca.pem".into()),
        }),
        kafka: SecurityProtocol::SaslSsl,
        native_tls: true,
        http_tls: true,
        auth: true,
    };
    assert_eq!(settings.security, security);
}

#[test]
fn security_settings_are_checked_together() {
    let refused: [(&[&str], &str); 5] = [
        (&["--native-tls", "true"], "tls_cert"),
        (&["--kafka-security-protocol", "SSL"], "tls_cert"),
        (&["--tls-cert", "/c"], "tls_key"),
        (&["--tls-client-ca", "/ca"], "tls_client_ca"),
        (&["--auth", "true"], "kafka_security_protocol"),
    ];
    for (args, setting) in refused {
        let error = load(args, &EnvMap::new()).unwrap_err();
        assert!(error.to_string().contains(setting), "{args:?}: {error}");
    }
    let error = load(&["--kafka-security-protocol", "TLS"], &EnvMap::new()).unwrap_err();
    assert!(error.to_string().contains("SASL_SSL"), "{error}");
    let sasl = load(
        &[
            "--kafka-security-protocol",
            "sasl_plaintext",
            "--auth",
            "true",
        ],
        &EnvMap::new(),
    )
    .unwrap();
    assert_eq!(sasl.security.kafka, SecurityProtocol::SaslPlaintext);
    assert!(sasl.security.auth && sasl.security.tls.is_none());
}

#[test]
fn otel_defaults_standard_variables_and_protocols() {
    let settings = load(&[], &EnvMap::new()).unwrap();
    assert_eq!(settings.otel.endpoint, None);
    assert_eq!(settings.otel.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(settings.otel.service_name, "whippet");
    // The standard variables configure the same settings; WHIPPET_* wins over them, and an
    // empty standard variable is unset.
    let standard = with_standard_otel_env(env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_SERVICE_NAME", ""),
        ("WHIPPET_OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ]));
    let settings = load(&[], &standard).unwrap();
    assert_eq!(settings.otel.endpoint.as_deref(), Some("http://a:4317"));
    assert_eq!(settings.otel.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(settings.otel.service_name, "whippet");
    let error = load(
        &["--otel-exporter-otlp-protocol", "http/json"],
        &EnvMap::new(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("otel_exporter_otlp_protocol"),
        "{error}"
    );
}

#[test]
fn connection_defaults_and_bounds() {
    let settings = load(&[], &EnvMap::new()).unwrap();
    assert_eq!(settings.connections, ConnectionSettings::default());
    assert_eq!(settings.connections.per_listener_max, 1024);
    assert_eq!(settings.connections.per_address_max, 256);
    let ms = Duration::from_millis;
    assert_eq!(settings.connections.setup_timeout, ms(10_000));
    assert_eq!(settings.connections.idle_timeout, Some(ms(600_000)));
    assert_eq!(settings.connections.frame_read_timeout, ms(30_000));
    assert_eq!(
        settings.connections.request_bytes_in_flight_max,
        256 * 1024 * 1024
    );
    // 0 turns the idle timeout off; it is the only setting here where 0 means something.
    let never = load(&["--connection-idle-timeout-ms", "0"], &EnvMap::new()).unwrap();
    assert_eq!(never.connections.idle_timeout, None);
    let refused = [
        ("--connections-per-listener-max", "0"),
        ("--connections-per-address-max", "0"),
        ("--connection-setup-timeout-ms", "0"),
        ("--frame-read-timeout-ms", "0"),
        ("--connection-idle-timeout-ms", "86400001"),
        ("--request-bytes-in-flight-max", "1048575"),
    ];
    for (flag, value) in refused {
        let error = load(&[flag, value], &EnvMap::new()).unwrap_err();
        assert!(error.to_string().contains(flag), "{flag}: {error}");
    }
}

#[test]
fn group_defaults_are_kafkas_and_bounds_are_checked() {
    let settings = load(&[], &EnvMap::new()).unwrap();
    assert_eq!(
        settings.groups.initial_rebalance_delay,
        Duration::from_millis(3000)
    );
    assert_eq!(
        settings.groups.min_session_timeout,
        Duration::from_millis(6000)
    );
    assert_eq!(
        settings.groups.max_session_timeout,
        Duration::from_millis(1_800_000)
    );
    let zero = load(&["--group-initial-rebalance-delay-ms", "0"], &EnvMap::new()).unwrap();
    assert!(zero.groups.initial_rebalance_delay.is_zero());
    let cases: [(&[&str], &str); 4] = [
        (
            &["--group-min-session-timeout-ms", "0"],
            "group_min_session_timeout_ms",
        ),
        (
            &[
                "--group-min-session-timeout-ms",
                "7000",
                "--group-max-session-timeout-ms",
                "6999",
            ],
            "group_max_session_timeout_ms",
        ),
        (
            &["--group-max-session-timeout-ms", "86400001"],
            "group_max_session_timeout_ms",
        ),
        (
            &["--group-initial-rebalance-delay-ms", "86400001"],
            "group_initial_rebalance_delay_ms",
        ),
    ];
    for (args, setting) in cases {
        let error = load(args, &EnvMap::new()).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Invalid { setting: s, .. } if *s == setting),
            "{args:?}: {error}"
        );
    }
}

#[test]
fn kafka_defaults_and_validation() {
    let settings = load(&[], &EnvMap::new()).unwrap();
    assert!(settings.auto_create_topics);
    assert_eq!(settings.num_partitions, 1);
    assert_eq!(settings.kafka_advertised_addr, None);
    for bad in ["0", "10001"] {
        let error = load(&["--num-partitions", bad], &EnvMap::new()).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    setting: "num_partitions",
                    ..
                }
            ),
            "{error}"
        );
    }
    for bad in ["nohost", "host:0", "host:x", ":9092", "bad host:1"] {
        let error = load(&["--kafka-advertised-addr", bad], &EnvMap::new()).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    setting: "kafka_advertised_addr",
                    ..
                }
            ),
            "{bad}: {error}"
        );
    }
    assert_eq!(
        split_host_port("[::1]:9092").unwrap(),
        ("::1".to_string(), 9092)
    );
    let env = env(&[("WHIPPET_AUTO_CREATE_TOPICS", "maybe")]);
    assert!(
        load(&[], &env)
            .unwrap_err()
            .to_string()
            .contains("WHIPPET_AUTO_CREATE_TOPICS")
    );
}

#[test]
fn help_documents_every_flag_and_env_var() {
    let ConfigError::Cli(error) = load(&["--help"], &EnvMap::new()).unwrap_err() else {
        panic!("--help must come back as a clap error to print");
    };
    let help = error.to_string();
    for name in setting_names() {
        let name = name.as_str();
        assert!(
            help.contains(&flag_name(name)),
            "help lacks {}",
            flag_name(name)
        );
        assert!(
            help.contains(&env_var_name(name)),
            "help lacks {}",
            env_var_name(name)
        );
    }
    assert!(help.contains("--config") && help.contains(ENV_CONFIG));
}

#[test]
fn unknown_file_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, "data_dir = \"x\"\n\nkafka_adress = \"127.0.0.1:1\"\n");
    let error = load(&["--config", &path], &EnvMap::new()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("kafka_adress"), "{text}");
    assert!(text.contains("line 3"), "{text}");
    assert!(matches!(error, ConfigError::ParseFile { line: 3, .. }));
}

#[test]
fn bad_file_value_and_missing_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, "fsync = \"sometimes\"\n");
    let error = load(&["--config", &path], &EnvMap::new()).unwrap_err();
    assert!(
        matches!(error, ConfigError::ParseFile { line: 1, .. }),
        "{error}"
    );

    let missing = dir.path().join("absent.toml");
    let error = load(&["--config", missing.to_str().unwrap()], &EnvMap::new()).unwrap_err();
    assert!(matches!(error, ConfigError::ReadFile { .. }), "{error}");
}

#[test]
fn oversized_file_is_rejected_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let big = "#".repeat(limits::CONFIG_FILE_BYTES_MAX as usize + 1);
    let path = write_config(&dir, &big);
    let error = load(&["--config", &path], &EnvMap::new()).unwrap_err();
    assert!(matches!(error, ConfigError::FileTooLarge { .. }), "{error}");
}

#[test]
fn bad_env_value_names_the_variable() {
    let env = env(&[("WHIPPET_NATIVE_ADDR", "localhost")]);
    let error = load(&[], &env).unwrap_err();
    assert!(error.to_string().contains("WHIPPET_NATIVE_ADDR"), "{error}");
    let env = self::env(&[("WHIPPET_FSYNC", "sometimes")]);
    assert!(
        load(&[], &env)
            .unwrap_err()
            .to_string()
            .contains("WHIPPET_FSYNC")
    );
}

#[test]
fn unknown_env_variables_are_ignored() {
    let env = env(&[("WHIPPET_BIN", "/somewhere"), ("WHIPPET_FUTURE_KNOB", "1")]);
    assert_eq!(load(&[], &env).unwrap().kafka_stream, "kafka");
}

#[test]
fn bad_flag_value_is_a_usage_error() {
    let ConfigError::Cli(error) = load(&["--fsync", "sometimes"], &EnvMap::new()).unwrap_err()
    else {
        panic!("expected a clap error");
    };
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("--fsync"), "{error}");
}

#[test]
fn out_of_range_values_name_the_setting() {
    let error = load(&["--fsync-interval-ms", "0"], &EnvMap::new()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("fsync_interval_ms") && text.contains("--fsync-interval-ms"),
        "{text}"
    );

    let long_name = "n".repeat(limits::CREDENTIAL_BYTES_MAX + 1);
    let error = load(&["--root-username", &long_name], &EnvMap::new()).unwrap_err();
    assert!(matches!(
        error,
        ConfigError::Invalid {
            setting: "root_username",
            ..
        }
    ));

    let error = load(&["--kafka-stream", ""], &EnvMap::new()).unwrap_err();
    assert!(matches!(
        error,
        ConfigError::Invalid {
            setting: "kafka_stream",
            ..
        }
    ));
}

#[test]
fn password_never_appears_in_errors_or_debug() {
    let secret = "s".repeat(limits::CREDENTIAL_BYTES_MAX + 1);
    let error = load(&["--root-password", &secret], &EnvMap::new()).unwrap_err();
    assert!(!error.to_string().contains(&secret));
    let settings = load(&["--root-password", "hunter2"], &EnvMap::new()).unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
    let raw = RawSettings {
        root_password: Secret::from("hunter2".to_string()),
        ..RawSettings::default()
    };
    assert!(!format!("{raw:?}").contains("hunter2"));
    assert_eq!(raw.root_password.expose(), "hunter2");
}

#[test]
fn port_zero_is_accepted() {
    let settings = load(
        &["--kafka-addr", "127.0.0.1:0", "--http-addr", "[::1]:0"],
        &EnvMap::new(),
    );
    let settings = settings.unwrap();
    assert_eq!(settings.kafka_addr.port(), 0);
    assert!(settings.http_addr.is_ipv6());
}

#[test]
fn log_level_falls_back_to_rust_log_and_is_validated() {
    let env = env(&[("RUST_LOG", "warn")]);
    assert_eq!(load(&[], &env).unwrap().log_level, "warn");
    assert_eq!(
        load(&["--log-level", "debug"], &env).unwrap().log_level,
        "debug"
    );
    let error = load(&["--log-level", "whippet=notalevel"], &EnvMap::new()).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Invalid {
                setting: "log_level",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn log_config_carries_the_durability_settings() {
    let settings = load(
        &["--fsync", "always", "--fsync-interval-ms", "250"],
        &EnvMap::new(),
    );
    let config = settings.unwrap().log_config();
    assert_eq!(config.fsync, FsyncPolicy::Always);
    assert_eq!(config.fsync_interval, Duration::from_millis(250));
    assert_eq!(config.data_dir, PathBuf::from("data"));
}

#[test]
fn example_config_in_docker_folder_parses_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/whippet.toml");
    let from_example = load(&["--config", path.to_str().unwrap()], &EnvMap::new()).unwrap();
    assert_eq!(from_example, load(&[], &EnvMap::new()).unwrap());
}

#[test]
fn declarations_follow_the_naming_rule() {
    use clap::{Args, CommandFactory};
    let command = RawSettings::augment_args(clap::Command::new("whippet"));
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        assert_eq!(
            arg.get_long().map(|long| format!("--{long}")),
            Some(flag_name(id)),
            "flag of {id}"
        );
        assert_eq!(
            arg.get_env().and_then(|env| env.to_str()),
            Some(env_var_name(id).as_str()),
            "environment variable of {id}"
        );
    }
    let cli = Cli::command();
    let config = cli.get_arguments().find(|arg| arg.get_id() == "config");
    assert_eq!(
        config.and_then(|arg| arg.get_env()),
        Some(ENV_CONFIG.as_ref())
    );
}

#[test]
fn help_shows_defaults_but_never_environment_values() {
    let ConfigError::Cli(error) = load(&["--help"], &EnvMap::new()).unwrap_err() else {
        panic!("--help must come back as a clap error to print");
    };
    assert_eq!(error.exit_code(), 0);
    // clap wraps help to the terminal's width (100 columns without one): compare words.
    let help = error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for shown in [
        "[default: 127.0.0.1:9092]",
        "[default: interval]",
        "[default: 1800000]",
        "[default: true]",
        "[env: WHIPPET_ROOT_PASSWORD]",
        "[env: WHIPPET_CONFIG]",
    ] {
        assert!(help.contains(shown), "help lacks {shown}:\n{help}");
    }
    assert!(!help.contains("WHIPPET_DATA_DIR="), "{help}");
    let ConfigError::Cli(version) = load(&["--version"], &EnvMap::new()).unwrap_err() else {
        panic!("--version must come back as a clap error to print");
    };
    assert_eq!(version.exit_code(), 0);
}

#[test]
fn file_keys_missing_keep_their_defaults_and_env_values_parse_like_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, "");
    let from_empty_file = load(&["--config", &path], &EnvMap::new()).unwrap();
    assert_eq!(from_empty_file, load(&[], &EnvMap::new()).unwrap());

    // A value that looks like a flag stays a value, as `--kafka-stream=-x` would.
    let env = env(&[
        ("WHIPPET_KAFKA_STREAM", "-x"),
        ("WHIPPET_NUM_PARTITIONS", "4"),
    ]);
    let settings = load(&[], &env).unwrap();
    assert_eq!(settings.kafka_stream, "-x");
    assert_eq!(settings.num_partitions, 4);
    // An empty variable is a value too, refused by the same rule as an empty flag.
    let env = self::env(&[("WHIPPET_KAFKA_STREAM", "")]);
    assert!(matches!(
        load(&[], &env).unwrap_err(),
        ConfigError::Invalid {
            setting: "kafka_stream",
            ..
        }
    ));
    let env = self::env(&[("WHIPPET_NUM_PARTITIONS", "-1")]);
    let error = load(&[], &env).unwrap_err();
    assert!(
        matches!(&error, ConfigError::Env { var, .. } if var == "WHIPPET_NUM_PARTITIONS"),
        "{error}"
    );
}

#[test]
fn each_layer_overrides_only_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        "num_partitions = 2\nroot_username = \"file\"\nauto_create_topics = false\n",
    );
    let env = env(&[
        ("WHIPPET_NUM_PARTITIONS", "3"),
        ("WHIPPET_ROOT_PASSWORD", "from-env"),
    ]);
    let settings = load(&["--config", &path, "--root-username", "flag"], &env).unwrap();
    assert_eq!(settings.num_partitions, 3, "env over file");
    assert_eq!(settings.root.username, "flag", "flag over file");
    assert_eq!(settings.root.password, "from-env", "env over default");
    assert!(!settings.auto_create_topics, "file over default");
    assert_eq!(
        settings.kafka_stream, "kafka",
        "default where no layer names it"
    );
    // A later flag replaces an earlier one.
    let settings = load(&["--num-partitions", "5", "--num-partitions", "6"], &env).unwrap();
    assert_eq!(settings.num_partitions, 6);
}
