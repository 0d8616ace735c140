//! The token codec: decoding never panics, and what decodes re-encodes to
//! the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stint_core::Token;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(token) = Token::decode(text) {
        assert_eq!(
            Token::decode(&token.encode()).map(|t| t.hash()),
            Some(token.hash())
        );
    }
});
