//! ssrm's resolver: contacts, groups, visitors and identity resolution, served over the
//! SerwerSMS, TelefUM and Thulium wire protocols and the tracker's endpoints.
//!
//! Three layers, one direction: [`http`] (wire formats) → [`domain`] (rules) → [`store`] (sled).

pub mod cli;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod http;
pub mod store;
