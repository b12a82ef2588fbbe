//! End-to-end tests: the real binaries over real loopback sockets and real files.
//! Build the workspace first (`scripts/test` does): the tests run `target/<profile>/logq*`.

mod browser;
mod delivery;
mod limits;
mod normalize;
mod pm2;
mod protocol;
mod query;
mod rotation;
mod run;
mod search;
mod security;
mod shipper_memory;
mod storage;
mod supervisor;
mod util;
mod wire;
