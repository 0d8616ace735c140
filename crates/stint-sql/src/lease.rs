//! Leases: one instance at a time runs a background job when several share
//! the database. A lease is a row naming its holder and when it lapses; the
//! holder renews it, anybody may take it once it has lapsed.

use stint_core::{Error, Result, Timestamp};

use crate::store::{SqlStore, on_pool};

impl SqlStore {
    /// Takes or renews the lease `name` for `holder` until `until`; `false` if
    /// another holder has it and it has not lapsed at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](stint_core::Error::Unavailable) when the database does not
    /// answer.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        const SQL: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                           WHERE leases.holder = excluded.holder OR leases.expires_at <= $4";
        on_pool!(self, |p, d| {
            let done = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(name)
                .bind(holder)
                .bind(until.millis())
                .bind(now.millis())
                .execute(p)
                .await
                .map_err(Error::cold)?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Gives the lease up (at shutdown), so another instance takes it at once.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](stint_core::Error::Unavailable) when the database does not
    /// answer; the lease then lapses by itself.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        const SQL: &str = "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2";
        on_pool!(self, |p, d| {
            sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(name)
                .bind(holder)
                .execute(p)
                .await
                .map_err(Error::cold)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_until_it_lapses_or_is_released() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let t = |s: i64| Timestamp(s * 1000);
        assert!(store.acquire_lease("jobs", "a", t(0), t(30)).await.unwrap());
        assert!(!store.acquire_lease("jobs", "b", t(10), t(40)).await.unwrap());
        assert!(
            store.acquire_lease("jobs", "a", t(20), t(50)).await.unwrap(),
            "the holder renews"
        );
        assert!(!store.acquire_lease("jobs", "b", t(49), t(79)).await.unwrap());
        assert!(
            store.acquire_lease("jobs", "b", t(50), t(80)).await.unwrap(),
            "lapsed: taken over"
        );
        assert!(!store.acquire_lease("jobs", "a", t(51), t(81)).await.unwrap());
        store.release_lease("jobs", "a").await.unwrap();
        assert!(
            !store.acquire_lease("jobs", "a", t(52), t(82)).await.unwrap(),
            "only the holder releases"
        );
        store.release_lease("jobs", "b").await.unwrap();
        assert!(store.acquire_lease("jobs", "a", t(53), t(83)).await.unwrap());
        assert!(
            store.acquire_lease("other", "b", t(53), t(83)).await.unwrap(),
            "leases are per name"
        );
    }
}
