//! Child processes for the benchmark and the soak: starting a server and
//! knowing when it is ready ([`server`]), keeping children from outliving
//! xtask ([`children`]), and what `/proc` says about them ([`procfs`]).

pub mod children;
pub mod procfs;
pub mod server;
