//! ssrm's resolver: contacts, groups, visitors and identity resolution, served over the
//! SerwerSMS, TelefUM and Thulium wire protocols and the tracker's endpoints.
//!
//! Three layers, one direction: [`http`] (wire formats) → [`domain`] (rules) → [`store`] (sled).

/// mimalloc, not glibc's malloc: sled copies tree nodes on every write and the search index
/// builds large vectors per query; with glibc these spent a third of the import's time and
/// over half of a list page's in the allocator (perf, `cargo bench --bench search`). Every
/// binary that links the server (the server, its benches and tests) uses it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod cli;
pub mod control;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod http;
pub mod retention;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod traffic;

/// The property tests' configuration: a fixed seed, so the normal test run is repeatable, unless
/// `PROPTEST_RNG_SEED` is set; `PROPTEST_CASES` sets how many cases (256 by default). A longer
/// run: `PROPTEST_CASES=100000 cargo test --release -p resolver-server --lib`.
#[cfg(test)]
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config::default();
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x5572_6d00);
    }
    // A failing case is printed with its seed; no regression files written into the sources.
    config.failure_persistence = None;
    config
}

/// Any JSON value: strings and keys with any characters, numbers of every kind, nested
/// objects and arrays (for the property tests of the parsers at the edge).
#[cfg(test)]
pub(crate) fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[0-9 ,.-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
