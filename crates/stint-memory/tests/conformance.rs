//! The hot-store conformance suite, on the in-process store.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stint_core::HotStore;
use stint_memory::MemoryStore;

stint_conformance::hot_store_suite!(async { Arc::new(MemoryStore::new()) as Arc<dyn HotStore> });

/// The same suite on a bounded store (with room for every case's sessions).
mod bounded {
    use std::sync::Arc;

    use stint_core::HotStore;
    use stint_memory::MemoryStore;

    stint_conformance::hot_store_suite!(async {
        Arc::new(MemoryStore::with_capacity(10_000)) as Arc<dyn HotStore>
    });
}
