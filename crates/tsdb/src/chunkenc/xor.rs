//! Gorilla XOR float chunk (encoding 1), bit-exact with Prometheus's `xor.go`.

/// Appends samples to an XOR chunk it owns. (Skeleton.)
#[derive(Debug, Default)]
pub struct XorAppender {}

/// Iterates an XOR chunk. (Skeleton.)
#[derive(Debug)]
pub struct XorIterator<B> {
    _b: B,
}
