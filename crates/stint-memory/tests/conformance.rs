//! The hot-store conformance suite, on the in-process store.

use std::sync::Arc;

use stint_core::HotStore;
use stint_memory::MemoryStore;

stint_conformance::hot_store_suite!(async { Arc::new(MemoryStore::new()) as Arc<dyn HotStore> });
