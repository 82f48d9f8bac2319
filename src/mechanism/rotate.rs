//! CKM_KW_ROTATE (include/keyward.h): listed so clients can discover it; the provider carries
//! it out (`provider/rotate.rs`), since rotation works on objects, not on material alone.

use cryptoki_sys::*;

use super::{Info, Mechanism};

pub(super) struct Rotate;

impl Mechanism for Rotate {
    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 0,
            max_key: 8192,
            flags: CKF_GENERATE | CKF_GENERATE_KEY_PAIR,
        }
    }
}
