//! User-agent classification: any string, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stint_core::context::AgentParser;

fuzz_target!(|data: &[u8]| {
    let ua = String::from_utf8_lossy(data);
    let parser = AgentParser::shared();
    let agent = parser.parse(&ua);
    assert_eq!(parser.is_bot(&ua), agent.device.as_str() == "bot");
});
