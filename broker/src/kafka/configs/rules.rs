//! Checks for configs Whippet stores without acting on them: the value must be what Kafka's
//! own parser and validator would accept, so a value Kafka refuses with INVALID_CONFIG is
//! refused here too, and a stored value always reads back as something Kafka would print.

use super::catalog::Rule;
use super::limits::CONFIG_VALUE_BYTES_MAX;
use super::{ConfigError, bad_value};

/// Checks `value` for config `name` against `rule` (and the stored-value length bound).
pub(crate) fn check(name: &str, value: &str, rule: Rule) -> Result<(), ConfigError> {
    if value.len() > CONFIG_VALUE_BYTES_MAX {
        return Err(ConfigError::invalid(format!(
            "value of {name} is {} bytes, over the {CONFIG_VALUE_BYTES_MAX}-byte limit",
            value.len()
        )));
    }
    let trimmed = value.trim();
    match rule {
        Rule::Long { min, max } | Rule::Int { min, max } => check_integer(name, trimmed, min, max),
        Rule::LevelOrDefault { min, max } => {
            if trimmed == "-1" {
                Ok(())
            } else {
                check_integer(name, trimmed, min, max)
            }
        }
        Rule::Double { min, max } => {
            let parsed: f64 = trimmed
                .parse()
                .map_err(|_| bad_value(name, value, "a number"))?;
            if parsed.is_finite() && (min..=max).contains(&parsed) {
                Ok(())
            } else {
                Err(bad_value(
                    name,
                    value,
                    &format!("a number in [{min}, {max}]"),
                ))
            }
        }
        Rule::Bool => {
            if trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                Err(bad_value(name, value, "true or false"))
            }
        }
        Rule::FormatVersion => check_format_version(name, trimmed),
        Rule::ThrottledReplicas => check_throttled_replicas(name, trimmed),
        Rule::Text => Ok(()),
    }
}

fn check_integer(name: &str, value: &str, min: i64, max: i64) -> Result<(), ConfigError> {
    let parsed: i64 = value
        .parse()
        .map_err(|_| bad_value(name, value, "an integer"))?;
    if (min..=max).contains(&parsed) {
        Ok(())
    } else {
        Err(bad_value(
            name,
            value,
            &format!("an integer in [{min}, {max}]"),
        ))
    }
}

/// A Kafka release: two to four dot-separated numbers, optionally `-IV<n>` (e.g. `0.10.0.0`,
/// `2.8`, `3.0-IV1`). Kafka checks against its own release list; the shape is what can be
/// checked without one.
fn check_format_version(name: &str, value: &str) -> Result<(), ConfigError> {
    let (release, iv) = match value.split_once("-IV") {
        Some((release, iv)) => (release, Some(iv)),
        None => (value, None),
    };
    let parts: Vec<&str> = release.split('.').collect();
    let numeric = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let shape_ok = (2..=4).contains(&parts.len())
        && parts.iter().all(|p| numeric(p))
        && iv.is_none_or(numeric);
    if shape_ok {
        Ok(())
    } else {
        Err(bad_value(
            name,
            value,
            "a Kafka release such as 0.10.0, 2.8 or 3.0-IV1",
        ))
    }
}

/// Empty, `*`, or `partition:broker` pairs separated by commas.
fn check_throttled_replicas(name: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value == "*" {
        return Ok(());
    }
    let pair_ok = |pair: &str| {
        pair.trim()
            .split_once(':')
            .is_some_and(|(partition, broker)| {
                partition.trim().parse::<u32>().is_ok() && broker.trim().parse::<i32>().is_ok()
            })
    };
    if value.split(',').all(pair_ok) {
        Ok(())
    } else {
        Err(bad_value(
            name,
            value,
            "empty, * or partition:broker pairs separated by commas",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rules_accept_kafka_values_and_refuse_others() {
        let long = Rule::Long { min: 0, max: 10 };
        assert!(check("x", " 7 ", long).is_ok());
        assert!(check("x", "11", long).is_err());
        assert!(check("x", "-1", long).is_err());
        assert!(check("x", "7ms", long).is_err());
        let level = Rule::LevelOrDefault { min: 1, max: 9 };
        assert!(check("x", "-1", level).is_ok());
        assert!(check("x", "0", level).is_err());
        let ratio = Rule::Double { min: 0.0, max: 1.0 };
        assert!(check("x", "0.25", ratio).is_ok());
        assert!(check("x", "1.5", ratio).is_err());
        assert!(check("x", "NaN", ratio).is_err());
        assert!(check("x", "TRUE", Rule::Bool).is_ok());
        assert!(check("x", "yes", Rule::Bool).is_err());
        for ok in ["0.10.0.0", "0.10.0", "2.8", "3.0-IV1"] {
            assert!(check("x", ok, Rule::FormatVersion).is_ok(), "{ok}");
        }
        for bad in ["", "3", "a.b", "3.0-IV", "3..0", "1.2.3.4.5"] {
            assert!(check("x", bad, Rule::FormatVersion).is_err(), "{bad}");
        }
        for ok in ["", "*", "0:1", "0:1, 1:1"] {
            assert!(check("x", ok, Rule::ThrottledReplicas).is_ok(), "{ok}");
        }
        for bad in ["0", "a:1", "0:1,", "**"] {
            assert!(check("x", bad, Rule::ThrottledReplicas).is_err(), "{bad}");
        }
        let huge = "1".repeat(CONFIG_VALUE_BYTES_MAX + 1);
        assert!(check("x", &huge, Rule::ThrottledReplicas).is_err());
    }
}
