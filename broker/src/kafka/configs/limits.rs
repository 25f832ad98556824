//! Named bounds for configs Whippet stores without acting on them.

/// Longest value accepted for a stored-only topic or broker config. Kafka sets no bound, but
/// every stored value lives in the catalog (or the broker-config file) for good, so a client
/// must not be able to grow them without limit; real values (numbers, version strings,
/// throttled-replica lists of a few hundred partitions) are far shorter.
pub(crate) const CONFIG_VALUE_BYTES_MAX: usize = 4096;

/// Largest broker-config file read back at startup or before an alter: a handful of short
/// entries in practice; anything bigger is not a file this module wrote.
pub(crate) const BROKER_CONFIGS_FILE_BYTES_MAX: u64 = 64 * 1024;
