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
///
/// The bytes `out` already holds are overwritten in place rather than cleared first, so
/// a buffer kept from a request of similar size is not zeroed again before every
/// request (only the part beyond its old length is); on error `out` is left empty.
pub fn decompress_into(body: &[u8], limits: &Limits, out: &mut Vec<u8>) -> Result<()> {
    let result = decompress_over(body, limits, out);
    if result.is_err() {
        out.clear();
    }
    result
}

fn decompress_over(body: &[u8], limits: &Limits, out: &mut Vec<u8>) -> Result<()> {
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
    // `resize` writes zeros only past the current length; `truncate` keeps the rest.
    out.resize(size.max(out.len()), 0);
    out.truncate(size);
    let n = snap::raw::Decoder::new()
        .decompress(body, out)
        .map_err(Error::Snappy)?;
    out.truncate(n);
    Ok(())
}

/// Compresses `raw` in snappy block format.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("snappy block encoding only fails for inputs above 4 GiB")
}
