//! Policy: what a key may be used for now, and by whom. Lifecycle states, validity dates and
//! usage limits (`lifecycle`); login roles (`roles`) and per-key access lists (`acl`).

pub mod acl;
pub mod lifecycle;
pub mod roles;
