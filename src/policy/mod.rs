//! Policy: what a key may be used for now. Lifecycle states, validity dates and usage limits
//! (issue 4); roles and ACLs join here later.

pub mod lifecycle;
