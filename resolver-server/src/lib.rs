//! ssrm's resolver: contacts, groups, visitors and identity resolution, served over the
//! SerwerSMS, TelefUM and Thulium wire protocols and the tracker's endpoints.
//!
//! Three layers, one direction: [`http`] (wire formats) → [`domain`] (rules) → [`store`] (sled).

pub mod cli;
pub mod demo;
pub mod domain;
pub mod http;
pub mod store;

/// The property tests' configuration: a fixed seed, so the normal test run is repeatable, unless
/// `PROPTEST_RNG_SEED` is set; `PROPTEST_CASES` sets how many cases (256 by default). A longer
/// run: `PROPTEST_CASES=100000 cargo test -p resolver-server --lib prop`.
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
