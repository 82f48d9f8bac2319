//! Where a slot's keys live and its crypto runs. `delegate`: on another PKCS#11 module (an
//! HSM), reached through `cryptoki`.

pub mod delegate;
