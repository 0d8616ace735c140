//! The record a session is stored as: a fixed header the Lua scripts read and
//! patch in place, then a MessagePack body only Rust reads.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | format (`1`) |
//! | 1 | 8 | started at, ms, little-endian |
//! | 9 | 8 | last seen at, ms |
//! | 17 | 8 | page views |
//! | 25 | 8 | version |
//! | 33 | 32 | the current token's hash |
//! | 65 | 2 | length of the activity mark |
//! | 67 | n | activity mark: session id (16), visitor id (16), customer id (UTF-8) |
//! | 67 + n | … | body: order id, converted, attributes, data |
//!
//! The activity mark is the member of the shard's real-time set, so that
//! counting active visitors and customers needs no other read.

use std::sync::Arc;

use serde_json::{Map, Value};
use stint_core::{
    Attributes, Error, Result, SessionId, SessionKind, SessionRecord, Timestamp, TokenHash, VisitorId,
};
use uuid::Uuid;

const FORMAT: u8 = 1;
const MARK: usize = 67;

/// Encodes `session`, whose current token is `token`.
pub(crate) fn encode(session: &SessionRecord, token: &TokenHash) -> Result<Vec<u8>> {
    let customer = session.customer_id.as_deref().unwrap_or("");
    let mark_len = u16::try_from(32 + customer.len())
        .map_err(|_| Error::InvalidData("customer id too long".to_owned()))?;
    let mut out = Vec::with_capacity(MARK + usize::from(mark_len) + 32);
    out.push(FORMAT);
    out.extend_from_slice(&session.started_at.0.to_le_bytes());
    out.extend_from_slice(&session.last_seen_at.0.to_le_bytes());
    out.extend_from_slice(&counter(session.page_views).to_le_bytes());
    out.extend_from_slice(&counter(session.version).to_le_bytes());
    out.extend_from_slice(token.as_bytes());
    out.extend_from_slice(&mark_len.to_le_bytes());
    out.extend_from_slice(session.id.as_uuid().as_bytes());
    out.extend_from_slice(session.visitor_id.as_uuid().as_bytes());
    out.extend_from_slice(customer.as_bytes());
    let body = (
        session.order_id.as_deref(),
        session.converted,
        &*session.attributes,
        &*session.data,
    );
    rmp_serde::encode::write(&mut out, &body).map_err(|e| Error::InvalidData(e.to_string()))?;
    Ok(out)
}

fn counter(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A decoded record: the session, and the hash of its current token.
pub(crate) fn decode(rec: &[u8]) -> Result<(SessionRecord, TokenHash)> {
    let corrupt = |message: &str| Error::Corrupt {
        what: "session record",
        message: message.to_owned(),
    };
    if rec.len() < MARK + 32 || rec[0] != FORMAT {
        return Err(corrupt("short record or unknown format"));
    }
    let int = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&rec[at..at + 8]);
        i64::from_le_bytes(b)
    };
    let mut token = [0u8; 32];
    token.copy_from_slice(&rec[33..65]);
    let mark_len = usize::from(u16::from_le_bytes([rec[65], rec[66]]));
    let body_at = MARK + mark_len;
    if mark_len < 32 || rec.len() < body_at {
        return Err(corrupt("activity mark out of bounds"));
    }
    let uuid = |at: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&rec[at..at + 16]);
        Uuid::from_bytes(b)
    };
    let customer = std::str::from_utf8(&rec[MARK + 32..body_at]).map_err(|_| corrupt("customer id"))?;
    type Body = (Option<String>, bool, Attributes, Map<String, Value>);
    let (order_id, converted, attributes, data): Body =
        rmp_serde::from_slice(&rec[body_at..]).map_err(|e| corrupt(&e.to_string()))?;
    let session = SessionRecord {
        id: SessionId::from_uuid(uuid(MARK)),
        visitor_id: VisitorId::from_uuid(uuid(MARK + 16)),
        kind: if customer.is_empty() {
            SessionKind::Anonymous
        } else {
            SessionKind::Customer
        },
        customer_id: (!customer.is_empty()).then(|| customer.to_owned()),
        page_views: u64::try_from(int(17)).unwrap_or(0),
        converted,
        order_id,
        started_at: Timestamp(int(1)),
        last_seen_at: Timestamp(int(9)),
        ended_at: None,
        attributes: Arc::new(attributes),
        data: stint_core::data_from(data),
        version: u64::try_from(int(25)).unwrap_or(0),
    };
    Ok((session, TokenHash(token)))
}

/// The activity mark of a record (see the module docs) split into its
/// session id, visitor id and customer id.
pub(crate) fn split_mark(mark: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    (mark.len() >= 32).then(|| (&mark[..16], &mark[16..32], &mark[32..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stint_core::Token;

    fn sample() -> SessionRecord {
        let mut s = SessionRecord::new(
            VisitorId::new(),
            Attributes {
                device: Some("desktop".into()),
                browser: Some("Chrome".into()),
                landing_page: Some("/?utm_source=x".into()),
                ..Attributes::default()
            },
            Timestamp(1_795_000_000_000),
        );
        s.page_views = 3;
        s.version = 4;
        s.last_seen_at = Timestamp(1_795_000_100_000);
        s.kind = SessionKind::Customer;
        s.customer_id = Some("c-42".into());
        s.converted = true;
        s.order_id = Some("o-1".into());
        Arc::make_mut(&mut s.data).insert("cart".into(), json!([{"sku": "a", "qty": 2}, 1.5, null]));
        s
    }

    #[test]
    fn records_round_trip() {
        let s = sample();
        let t = Token::generate().hash();
        let rec = encode(&s, &t).unwrap();
        assert_eq!(decode(&rec).unwrap(), (s.clone(), t));
        let anonymous = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(5));
        let rec = encode(&anonymous, &t).unwrap();
        assert_eq!(decode(&rec).unwrap().0, anonymous);
    }

    #[test]
    fn the_header_sits_where_the_scripts_read_it() {
        let s = sample();
        let t = Token::generate().hash();
        let rec = encode(&s, &t).unwrap();
        assert_eq!(
            i64::from_le_bytes(rec[9..17].try_into().unwrap()),
            s.last_seen_at.0
        );
        assert_eq!(i64::from_le_bytes(rec[17..25].try_into().unwrap()), 3);
        assert_eq!(&rec[33..65], t.as_bytes());
        let (sid, vid, cid) = split_mark(&rec[67..67 + 32 + 4]).unwrap();
        assert_eq!(sid, s.id.as_uuid().as_bytes());
        assert_eq!(vid, s.visitor_id.as_uuid().as_bytes());
        assert_eq!(cid, b"c-42");
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        let rec = encode(&sample(), &Token::generate().hash()).unwrap();
        for len in [0, 1, 66, 67, 98, rec.len() - 1] {
            assert!(decode(&rec[..len]).is_err(), "length {len}");
        }
        let mut bad = rec.clone();
        bad[65] = 0xff;
        bad[66] = 0xff;
        assert!(decode(&bad).is_err());
        bad = rec;
        bad[0] = 9;
        assert!(decode(&bad).is_err());
    }
}
