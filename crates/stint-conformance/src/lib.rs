//! # stint-conformance
//!
//! One suite for every [`HotStore`](stint_core::HotStore) and one for every
//! [`ColdStore`](stint_core::ColdStore): a store
//! crate calls [`hot_store_suite!`] or [`cold_store_suite!`] from a test file
//! with an expression that builds a fresh, empty store, and gets one test per
//! behaviour the engine relies on. A failover tier (a hot store in front of
//! another) passes the hot-store suite and [`failover_suite!`], its outage
//! cases. [`mmdb`] builds small GeoIP databases for tests.
//!
//! ```ignore
//! stint_conformance::hot_store_suite!(async {
//!     std::sync::Arc::new(stint_memory::MemoryStore::new()) as std::sync::Arc<dyn stint_core::HotStore>
//! });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cold;
pub mod failover;
pub mod hot;
pub mod mmdb;

/// Expands to one `#[tokio::test]` per hot-store behaviour; `$make` is an
/// expression (usually an `async` block) giving a fresh `Arc<dyn HotStore>`.
#[macro_export]
macro_rules! hot_store_suite {
    ($make:expr) => {
        $crate::__cases!(
            hot,
            $make,
            [
                resume_counts_page_views_and_slides_the_idle_timeout,
                unknown_tokens_find_nothing,
                idle_sessions_expire,
                the_absolute_lifetime_is_enforced,
                login_rotates_the_token_with_a_grace_window,
                data_updates_touch_only_their_keys,
                modify_is_atomic_under_parallel_requests,
                parallel_page_views_are_all_counted,
                a_refused_modify_changes_nothing,
                removal_ends_every_token,
                customer_sessions_are_indexed,
                realtime_counts_recent_activity,
                insert_replaces_a_session_of_the_same_id,
            ]
        );
    };
}

/// Expands to one `#[tokio::test]` per cold-store behaviour; `$make` is an
/// expression (usually an `async` block) giving a fresh `Arc<dyn ColdStore>`.
#[macro_export]
macro_rules! cold_store_suite {
    ($make:expr) => {
        $crate::__cases!(
            cold,
            $make,
            [
                snapshots_are_found_by_id_and_token,
                open_sessions_are_found_with_their_current_token,
                newer_snapshots_win_in_any_order,
                page_views_advance_counters_and_never_rewind,
                events_are_kept_in_order_and_written_once,
                interleaved_sessions_keep_their_own_events,
                an_ended_session_stays_ended,
                listing_filters_and_pages,
                customer_sessions_are_the_open_ones,
                expired_sessions_are_closed,
                batches_are_idempotent,
                erasure_deletes_sessions_and_their_events,
                retention_deletes_old_events_only,
                rollups_replace_and_read_back,
                top_pages_count_recent_page_views,
                attribution_facts_bring_orders_and_their_visitors_sessions,
                day_summaries_replace_and_read_back,
            ]
        );
    };
}

/// Expands to one `#[tokio::test]` per outage case of a failover tier;
/// `$make` is an expression (usually an `async` block) giving a fresh
/// `Arc<dyn failover::Harness>`.
#[macro_export]
macro_rules! failover_suite {
    ($make:expr) => {
        $crate::__cases!(
            failover,
            $make,
            [
                an_outage_is_served_locally,
                the_outages_sessions_are_handed_to_the_primary,
                removals_during_the_outage_reach_the_primary,
            ]
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cases {
    ($kind:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make.await;
                $crate::$kind::$case(store).await;
            }
        )*
    };
}
