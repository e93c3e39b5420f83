//! [`Scratch`]: the buffers one request needs (the decompressed body and the decoder's
//! vectors), kept for the next request instead of freed.
//!
//! A 2000-sample request decompresses to a few hundred KiB and decodes into about as much
//! again. Allocated afresh per request, those buffers cost more than their use: glibc
//! hands such sizes back to the kernel when they are freed, so every request paid for
//! page faults and zeroed pages on top of `malloc`, `free` and the growth copies of the
//! vectors. The server keeps one `Scratch` per worker thread.

use crate::apply::ApplyScratch;
use crate::decode::{Protocol, WriteRequest, decode_reusing};
use crate::error::Result;
use crate::limits::Limits;
use crate::snappy;

/// Buffers kept from one request to the next. Holds at most [`Scratch::MAX_RETAINED`]
/// bytes between requests: an unusually large request's buffers are freed after it.
#[derive(Debug, Default)]
pub struct Scratch {
    raw: Vec<u8>,
    req: WriteRequest<'static>,
    apply: ApplyScratch,
}

impl Scratch {
    /// The most bytes kept between requests (about ten 2000-sample requests' worth).
    pub const MAX_RETAINED: usize = 8 << 20;

    /// Decompresses and decodes `body` into the kept buffers and calls `f` with the
    /// request (the same request [`snappy::decompress`] and [`crate::decode()`] give)
    /// and the kept buffers for [`crate::apply_with`].
    pub fn decode<R>(
        &mut self,
        protocol: Protocol,
        body: &[u8],
        limits: &Limits,
        f: impl FnOnce(&WriteRequest<'_>, &mut ApplyScratch) -> Result<R>,
    ) -> Result<R> {
        let mut raw = std::mem::take(&mut self.raw);
        let spare = std::mem::take(&mut self.req);
        let result = snappy::decompress_into(body, limits, &mut raw)
            .and_then(|()| decode_reusing(protocol, &raw, limits, spare))
            .and_then(|req| {
                let r = f(&req, &mut self.apply);
                self.req = req.recycle();
                r
            });
        // Not cleared: the next request's decompression overwrites the bytes in place
        // instead of zeroing the buffer first (see `snappy::decompress_into`).
        self.raw = raw;
        if self.retained_bytes() > Self::MAX_RETAINED {
            *self = Scratch::default();
        }
        result
    }

    /// Bytes the kept buffers hold.
    pub fn retained_bytes(&self) -> usize {
        self.raw.capacity() + self.req.allocated_bytes() + self.apply.retained_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1;

    fn body(series: usize) -> Vec<u8> {
        let ts = (0..series)
            .map(|s| {
                let labels = [
                    ("__name__".to_owned(), format!("m{}", s % 3)),
                    ("i".to_owned(), s.to_string()),
                ];
                v1::TimeSeries::new(&labels, &[(1000, s as f64)])
            })
            .collect();
        crate::encode::encode_v1(&v1::WriteRequest {
            timeseries: ts,
            metadata: Vec::new(),
        })
    }

    #[test]
    fn buffers_are_kept_and_bounded() {
        let limits = Limits::default();
        let mut scratch = Scratch::default();
        let count = |s: &mut Scratch, b: &[u8]| {
            s.decode(Protocol::V1, b, &limits, |r, _| Ok(r.series.len()))
                .unwrap()
        };
        assert_eq!(count(&mut scratch, &body(500)), 500);
        let kept = scratch.retained_bytes();
        assert!(kept > 0);
        // A smaller request after a larger one reuses the buffers: nothing grows.
        assert_eq!(count(&mut scratch, &body(100)), 100);
        assert_eq!(scratch.retained_bytes(), kept);
        // A failing request leaves the scratch usable.
        assert!(
            scratch
                .decode(Protocol::V1, b"\x05\x00", &limits, |_, _| Ok(()))
                .is_err()
        );
        assert_eq!(count(&mut scratch, &body(10)), 10);
        // An unusually large request's buffers are not kept.
        assert_eq!(count(&mut scratch, &body(100_000)), 100_000);
        assert!(scratch.retained_bytes() <= Scratch::MAX_RETAINED);
    }
}
