//! What a PostgreSQL `DATABASE_URL` asks for: where, as whom, over which TLS,
//! and whether a pooler in transaction mode stands between.
//!
//! The URL is libpq's: `sslmode` (`disable`, `prefer` — the default —,
//! `require`, `verify-ca`, `verify-full`) and `sslrootcert` are understood as
//! every PostgreSQL client understands them. TLS is rustls; without
//! `sslrootcert` a certificate is checked against the system's roots.
//!
//! One parameter is Stint's own: `pgbouncer=true` says that connections go
//! through a pooler in transaction mode (PgBouncer, Supavisor, PgCat, the
//! "transaction" endpoints of managed databases). Two consecutive
//! transactions of one client connection may then run on two different
//! server connections, so nothing may outlive a transaction on the server:
//! Stint runs every statement inside a transaction of its own, prepares
//! statements unnamed (they live until the next statement of that
//! transaction, never across), keeps no statement cache, takes its
//! migration lock for a transaction rather than a session, and sends no
//! start-up parameter that PgBouncer refuses by default
//! (`extra_float_digits`). The pooler needs no setting of its own.

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use url::Url;

use crate::StoreError;

/// A parsed PostgreSQL `DATABASE_URL`.
#[derive(Clone, Debug)]
pub struct PostgresUrl {
    options: PgConnectOptions,
    transaction_pooler: bool,
}

impl PostgresUrl {
    /// Parses `url` (`postgres://…` or `postgresql://…`), taking Stint's
    /// `pgbouncer` parameter out of it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for a malformed URL, an `sslmode` that libpq
    /// does not know, a `pgbouncer` value other than `true`/`false`, or an
    /// `sslrootcert` file that cannot be read (said now rather than as a
    /// failed handshake later).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let config = |m: String| StoreError::Config(format!("DATABASE_URL: {m}"));
        let mut parsed = Url::parse(url).map_err(|e| config(e.to_string()))?;
        let mut transaction_pooler = false;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs().into_owned() {
            match key.as_str() {
                "pgbouncer" => {
                    transaction_pooler = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        other => {
                            return Err(config(format!("pgbouncer={other}: expected true or false")));
                        }
                    };
                    continue;
                }
                "sslmode" | "ssl-mode" if !SSL_MODES.contains(&value.as_str()) => {
                    return Err(config(format!(
                        "sslmode={value}: expected one of {}",
                        SSL_MODES.join(", ")
                    )));
                }
                "sslrootcert" | "ssl-root-cert" | "ssl-ca" => {
                    std::fs::read(&value).map_err(|e| config(format!("sslrootcert {value}: {e}")))?;
                }
                _ => {}
            }
            kept.push((key, value));
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(&kept);
        }
        let mut options = PgConnectOptions::from_url(&parsed).map_err(|e| config(e.to_string()))?;
        if transaction_pooler {
            options = options.statement_cache_capacity(0).extra_float_digits(None);
        }
        Ok(Self {
            options,
            transaction_pooler,
        })
    }

    /// The connection options, ready for sqlx.
    pub fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    /// Whether a pooler in transaction mode stands between (`pgbouncer=true`).
    pub fn transaction_pooler(&self) -> bool {
        self.transaction_pooler
    }
}

/// libpq's `sslmode` values but `allow`, which libpq reads as "plain first,
/// TLS if the server insists" and sqlx as `disable`: a URL that says it is
/// refused here rather than connected to differently than its author meant.
const SSL_MODES: &[&str] = &["disable", "prefer", "require", "verify-ca", "verify-full"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pooler_parameter_is_stints_and_is_taken_out() {
        let u = PostgresUrl::parse("postgres://u:p@db:6543/shop?pgbouncer=true&sslmode=require").unwrap();
        assert!(u.transaction_pooler());
        assert_eq!(u.options().get_database(), Some("shop"));
        assert_eq!(u.options().get_port(), 6543);
        let plain = PostgresUrl::parse("postgres://u@db/shop").unwrap();
        assert!(!plain.transaction_pooler());
        assert!(
            !PostgresUrl::parse("postgres://db/x?pgbouncer=false")
                .unwrap()
                .transaction_pooler()
        );
    }

    #[test]
    fn a_wrong_value_is_named() {
        let e = PostgresUrl::parse("postgres://db/x?pgbouncer=yes").unwrap_err();
        assert!(e.to_string().contains("pgbouncer=yes"), "{e}");
        let e = PostgresUrl::parse("postgres://db/x?sslmode=verify_full").unwrap_err();
        assert!(e.to_string().contains("sslmode=verify_full"), "{e}");
        assert!(e.to_string().contains("verify-full"), "{e}");
        let e = PostgresUrl::parse("postgres://db/x?sslmode=allow").unwrap_err();
        assert!(e.to_string().contains("sslmode=allow"), "{e}");
    }

    #[test]
    fn a_root_certificate_that_cannot_be_read_is_said_at_once() {
        let e = PostgresUrl::parse("postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca%20x.pem")
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca x.pem"), "{e}");
    }

    #[test]
    fn every_libpq_mode_but_allow_is_accepted() {
        for mode in SSL_MODES {
            PostgresUrl::parse(&format!("postgres://db/x?sslmode={mode}")).unwrap();
        }
    }
}
