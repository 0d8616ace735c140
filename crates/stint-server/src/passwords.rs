//! Password hashing for the demo's customers: Argon2id, off the async
//! threads, a few at a time.
//!
//! Each hash takes about 19 MiB and tens of milliseconds of a core. Left to
//! tokio's blocking pool (512 threads), a flood of logins would run
//! hundreds at once and take gigabytes: so they queue for one permit per
//! core, and a login that waits longer than [`WAIT`] is answered 503.

use std::sync::LazyLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::api::ApiError;

/// Shortest accepted password.
pub const MIN_LEN: usize = 8;
/// Longest accepted password (hashing cost is linear in it).
pub const MAX_LEN: usize = 256;

/// The longest a password check waits for a permit.
const WAIT: Duration = Duration::from_secs(5);

/// One permit per core.
static PERMITS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

async fn permit() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    match tokio::time::timeout(WAIT, PERMITS.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        _ => {
            metrics::counter!("stint_password_checks_refused_total").increment(1);
            Err(ApiError::Unavailable(
                "too many sign-ins at once; try again".into(),
            ))
        }
    }
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
    let _permit = permit().await?;
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Whether `password` matches the PHC string `hash`; an error when the
/// server is too busy checking passwords to check this one.
pub async fn verify(password: String, hash: String) -> Result<bool, ApiError> {
    let _permit = permit().await?;
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false))
}

/// Refuses passwords that are too short or too long.
pub fn check_strength(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(ApiError::BadRequest(format!(
            "Password must have at least {MIN_LEN} characters"
        )));
    }
    if password.len() > MAX_LEN {
        return Err(ApiError::BadRequest(format!(
            "Password must have at most {MAX_LEN} bytes"
        )));
    }
    Ok(())
}
