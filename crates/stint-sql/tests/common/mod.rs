//! Checks of `SqlStore`'s own methods (outside the trait), run on each backend.

use stint_core::ColdStore;
use stint_sql::SqlStore;

/// An open session is found by id with its current token; an ended one is not.
pub async fn open_session_with_token_finds_the_current_token(store: &SqlStore) {
    use stint_core::store::{EndReason, Record};
    use stint_core::{Attributes, Session, Timestamp, Token, VisitorId};
    let s = Session::new(
        VisitorId::new(),
        Attributes::default(),
        Timestamp(1_795_000_000_000),
    );
    let first = Token::generate().hash();
    let second = Token::generate().hash();
    for token in [first, second] {
        store
            .write(&[Record::Snapshot {
                session: s.clone(),
                token: Some(token),
            }])
            .await
            .unwrap();
    }
    let (found, token) = store.open_session_with_token(&s.id).await.unwrap().unwrap();
    assert_eq!((found.id, token), (s.id, second));
    store
        .write(&[Record::End {
            id: s.id,
            at: Timestamp(1_795_000_001_000),
            reason: EndReason::Logout,
        }])
        .await
        .unwrap();
    assert!(store.open_session_with_token(&s.id).await.unwrap().is_none());
}
