//! The two-call length convention (PKCS#11 3.0 §5.2), implemented once.
//!
//! A call that writes output computes it once and keeps it until the caller supplies a
//! buffer large enough: a NULL-buffer size query or CKR_BUFFER_TOO_SMALL never ends or
//! repeats the operation.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Which call produced pending output (a pending result only answers the same call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Single,
    Update,
    Final,
}

/// An active operation with its not-yet-delivered output.
pub struct Active<T> {
    pub op: T,
    pending: Option<(Call, Zeroizing<Vec<u8>>)>,
    /// A C_*Update or C_*Final was called: the single-part call may no longer finish it.
    multi_part: bool,
}

impl<T> Active<T> {
    pub fn new(op: T) -> Self {
        Self {
            op,
            pending: None,
            multi_part: false,
        }
    }

    /// The operation, for a C_*Update that produces no output (digest, sign, verify).
    pub fn update(&mut self) -> &mut T {
        self.multi_part = true;
        &mut self.op
    }

    /// Refuse a single-part call (C_Sign, C_Verify …) on an operation that C_*Update or
    /// C_*Final continued: PKCS#11 3.0 §5.11.2 and its siblings say the single-part call
    /// "cannot be used to terminate a multi-part operation". CKR_OPERATION_NOT_INITIALIZED
    /// (no single-part operation was initialised); the caller ends the operation.
    pub fn check_single_part(&self) -> Result<()> {
        if self.multi_part {
            return Err(Error::OperationNotInitialized);
        }
        Ok(())
    }
}

/// What a call that writes to a caller buffer returns to the ABI layer.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Copy these bytes out; the length is theirs.
    Data(Zeroizing<Vec<u8>>),
    /// The caller passed no buffer: report this length, keep the operation.
    Size(usize),
    /// The buffer was too small: report this length with CKR_BUFFER_TOO_SMALL.
    TooSmall(usize),
}

impl Out {
    /// The answer of a stateless call (C_WrapKey) whose output is `data`, for a buffer of
    /// `capacity` (None: a size query).
    pub fn for_capacity(data: Zeroizing<Vec<u8>>, capacity: Option<usize>) -> Self {
        match capacity {
            None => Out::Size(data.len()),
            Some(cap) if cap < data.len() => Out::TooSmall(data.len()),
            Some(_) => Out::Data(data),
        }
    }
}

/// Run `compute` on the active operation in `slot` (unless its output is already pending),
/// then hand the output over according to `capacity` (None: NULL buffer).
/// `ends` says whether delivering the output completes the operation. Errors other than
/// CKR_BUFFER_TOO_SMALL end it; CKR_OPERATION_NOT_INITIALIZED if none is active.
pub fn produce<T>(
    slot: &mut Option<Active<T>>,
    call: Call,
    capacity: Option<usize>,
    ends: bool,
    compute: impl FnOnce(&mut T) -> Result<Zeroizing<Vec<u8>>>,
) -> Result<Out> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    if call == Call::Single {
        if let Err(e) = active.check_single_part() {
            *slot = None;
            return Err(e);
        }
    } else {
        active.multi_part = true;
    }
    let out = match active.pending.take() {
        Some((c, out)) if c == call => out,
        _ => match compute(&mut active.op) {
            Ok(out) => out,
            Err(e) => {
                if e.ends_operation() {
                    *slot = None;
                }
                return Err(e);
            }
        },
    };
    let len = out.len();
    let result = match capacity {
        None => Out::Size(len),
        Some(cap) if cap < len => Out::TooSmall(len),
        Some(_) => {
            if ends {
                *slot = None;
            }
            return Ok(Out::Data(out));
        }
    };
    active.pending = Some((call, out));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_query_keeps_the_operation_and_computes_once() {
        let mut slot = Some(Active::new(0u32));
        let step = |n: &mut u32| {
            *n += 1;
            Ok(Zeroizing::new(vec![7u8; 4]))
        };
        assert_eq!(
            produce(&mut slot, Call::Single, None, true, step).unwrap(),
            Out::Size(4)
        );
        assert_eq!(
            produce(&mut slot, Call::Single, Some(2), true, step).unwrap(),
            Out::TooSmall(4)
        );
        assert_eq!(
            produce(&mut slot, Call::Single, Some(4), true, step).unwrap(),
            Out::Data(Zeroizing::new(vec![7; 4]))
        );
        assert!(slot.is_none());
    }

    #[test]
    fn errors_end_the_operation() {
        let mut slot = Some(Active::new(()));
        let r = produce(&mut slot, Call::Final, Some(10), true, |_| {
            Err(Error::DataLenRange)
        });
        assert_eq!(r, Err(Error::DataLenRange));
        assert!(slot.is_none());
        let r = produce(&mut slot, Call::Final, Some(10), true, |_| {
            Ok(Zeroizing::new(vec![]))
        });
        assert_eq!(r, Err(Error::OperationNotInitialized));
    }
}
