//! The SASL messages a Kafka client sends before it is authenticated (`whippet_wire::sasl`):
//! PLAIN, and the SCRAM client-first and client-final messages, on arbitrary bytes. Nothing may
//! panic, and what parses must be consistent with the input it came from (the broker builds the
//! SCRAM AuthMessage from these parts, so a part that is not the client's own bytes would make
//! a proof check against something the client never signed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use whippet_wire::sasl::{
    SASL_FIELD_BYTES_MAX, parse_client_final, parse_client_first, parse_plain, server_first,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(plain) = parse_plain(data) {
        assert!(!plain.username.is_empty() && !plain.password.is_empty());
        assert!(plain.username.len() <= SASL_FIELD_BYTES_MAX);
        assert!(!plain.username.contains('\0') && !plain.password.contains('\0'));
    }
    if let Ok(first) = parse_client_first(data) {
        // The header and the bare message are the input, split.
        let rejoined = format!("{}{}", first.gs2_header, first.bare);
        assert_eq!(rejoined.as_bytes(), data);
        assert!(!first.nonce.contains(','));
        // The reply built from it never panics either.
        let _ = server_first(&first.nonce, first.username.as_bytes(), 4096);
    }
    if let Ok(last) = parse_client_final(data) {
        assert!(data.starts_with(last.without_proof.as_bytes()));
        assert!(last.without_proof.contains(&last.nonce));
    }
});
