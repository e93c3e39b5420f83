//! Snappy block format (not framed), as remote write uses it, with size limits checked
//! before any allocation.

use crate::error::{Error, Result};
use crate::limits::Limits;

/// Decompresses a request body after checking its compressed size and the decompressed
/// size its header claims against `limits`.
pub fn decompress(body: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decompress_into(body, limits, &mut out)?;
    Ok(out)
}

/// [`decompress`] into `out` (replacing its contents), reusing its allocation.
pub fn decompress_into(body: &[u8], limits: &Limits, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    if body.len() > limits.max_compressed_bytes {
        return Err(Error::BodyTooLarge {
            size: body.len(),
            limit: limits.max_compressed_bytes,
        });
    }
    let size = snap::raw::decompress_len(body).map_err(Error::Snappy)?;
    if size > limits.max_decompressed_bytes {
        return Err(Error::DecompressedTooLarge {
            size,
            limit: limits.max_decompressed_bytes,
        });
    }
    out.resize(size, 0);
    let res = snap::raw::Decoder::new().decompress(body, out);
    match res {
        Ok(n) => {
            out.truncate(n);
            Ok(())
        }
        Err(e) => {
            out.clear();
            Err(Error::Snappy(e))
        }
    }
}

/// Compresses `raw` in snappy block format.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("snappy block encoding only fails for inputs above 4 GiB")
}
