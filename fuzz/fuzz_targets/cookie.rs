//! The session cookie decoder: any `Cookie` header, any value, never a panic,
//! and nothing verifies that was not signed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stint_axum::CookieKeys;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = CookieKeys::new(["fuzzing-secret-of-at-least-32-bytes!"]).unwrap();
    for c in cookie::Cookie::split_parse(text).flatten() {
        if let Some(value) = c.value_raw() {
            assert!(
                keys.verify("session", value).is_none(),
                "an unsigned value verified"
            );
        }
    }
    assert!(keys.verify("session", text).is_none());
});
