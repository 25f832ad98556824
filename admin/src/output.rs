//! Printing results: aligned tables with a header row, pretty JSON, and the small formatting
//! helpers they share.

use std::io::Write;

use serde_json::Value;

use crate::CliError;

/// Prints `value` as pretty JSON.
pub fn json(value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::new(format!("cannot print JSON: {error}")))?;
    println!("{text}");
    Ok(())
}

/// Prints `rows` under `headers`, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        // A closed stdout (a pager that quit) is not an error worth reporting.
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
}

/// A JSON scalar as plain text (strings without quotes, null as `-`).
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A byte count as a human size (`1.5 MiB`).
pub fn bytes(value: &Value) -> String {
    let Some(count) = value.as_u64() else {
        return text(value);
    };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = count as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// `text` percent-encoded as one URL path segment.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(&Value::from(10)), "10 B");
        assert_eq!(bytes(&Value::from(1536)), "1.5 KiB");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(text(&Value::Null), "-");
    }
}
