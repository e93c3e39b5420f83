//! Byte-level primitives of Prometheus's formats: big-endian fixed-width integers,
//! Go's uvarint (LEB128) and varint (zig-zag), length-prefixed strings, CRC32C.
//!
//! [`Encbuf`] appends to a `Vec<u8>`; [`Decbuf`] reads from a slice and never panics:
//! a short or malformed input sets a sticky error that the caller checks once with
//! [`Decbuf::err`], as Prometheus's `encoding.Decbuf` does.

/// Checks the 5-byte header Prometheus's block files start with (a big-endian magic
/// number, then format version 1) in `b`, which must hold at least `min_len` bytes;
/// `what` names the kind of file in errors, `path` the file.
pub fn check_file_header(
    b: &[u8],
    path: &std::path::Path,
    magic: u32,
    min_len: usize,
    what: &str,
) -> crate::error::Result<()> {
    use crate::error::Error;
    if b.len() < min_len.max(5) {
        return Err(Error::corruption(
            path,
            0,
            format!("{} bytes are too short for a {what}", b.len()),
        ));
    }
    let found = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if found != magic {
        return Err(Error::corruption(
            path,
            0,
            format!("invalid magic number {found:#010x}"),
        ));
    }
    if b[4] != 1 {
        return Err(Error::corruption(
            path,
            4,
            format!("unsupported {what} format version {}", b[4]),
        ));
    }
    Ok(())
}

/// Computes CRC-32 with the Castagnoli polynomial, as every Prometheus format uses.
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Appends `v` as a Go uvarint.
#[inline]
pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` as a Go varint (zig-zag, then uvarint).
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads a Go uvarint from the start of `b`; returns the value and the bytes used,
/// or `None` when `b` ends early or the value overflows 64 bits.
#[inline]
pub fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x: u64 = 0;
    let mut s: u32 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 {
            return None;
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some((x | (u64::from(byte) << s), i + 1));
        }
        x |= u64::from(byte & 0x7f) << s;
        s += 7;
    }
    None
}

/// Reads a Go varint from the start of `b`.
#[inline]
pub fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let (ux, n) = uvarint(b)?;
    let x = (ux >> 1) as i64;
    Some((if ux & 1 != 0 { !x } else { x }, n))
}

/// A growable encoding buffer.
#[derive(Debug, Default, Clone)]
pub struct Encbuf {
    /// The bytes written so far.
    pub b: Vec<u8>,
}

impl Encbuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty buffer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            b: Vec::with_capacity(n),
        }
    }
    /// Number of bytes written.
    pub fn len(&self) -> usize {
        self.b.len()
    }
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
    /// Forgets the content, keeping the allocation.
    pub fn reset(&mut self) {
        self.b.clear();
    }
    /// Appends one byte.
    pub fn put_byte(&mut self, v: u8) {
        self.b.push(v);
    }
    /// Appends raw bytes.
    pub fn put_bytes(&mut self, v: &[u8]) {
        self.b.extend_from_slice(v);
    }
    /// Appends a big-endian u16.
    pub fn put_be16(&mut self, v: u16) {
        self.b.extend_from_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian u32.
    pub fn put_be32(&mut self, v: u32) {
        self.b.extend_from_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian u64.
    pub fn put_be64(&mut self, v: u64) {
        self.b.extend_from_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian i64.
    pub fn put_be64_i(&mut self, v: i64) {
        self.put_be64(v as u64);
    }
    /// Appends an f64's IEEE-754 bits, big-endian (NaN payloads are kept).
    pub fn put_be_f64(&mut self, v: f64) {
        self.put_be64(v.to_bits());
    }
    /// Appends a uvarint.
    pub fn put_uvarint(&mut self, v: u64) {
        put_uvarint(&mut self.b, v);
    }
    /// Appends a varint.
    pub fn put_varint(&mut self, v: i64) {
        put_varint(&mut self.b, v);
    }
    /// Appends a uvarint length followed by the string's bytes.
    pub fn put_uvarint_str(&mut self, s: &str) {
        self.put_uvarint(s.len() as u64);
        self.b.extend_from_slice(s.as_bytes());
    }
    /// Appends the CRC32C of the bytes from `start` to the end, big-endian.
    pub fn put_crc32c_from(&mut self, start: usize) {
        let c = crc32c(&self.b[start..]);
        self.put_be32(c);
    }
}

/// Why a [`Decbuf`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the value.
    Short,
    /// A varint was longer than 10 bytes or overflowed.
    InvalidVarint,
    /// A string was not UTF-8.
    InvalidUtf8,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeError::Short => "unexpected end of data",
            DecodeError::InvalidVarint => "invalid varint",
            DecodeError::InvalidUtf8 => "invalid UTF-8 in string",
        })
    }
}

/// A cursor over encoded bytes with a sticky error. Reads after an error return zero values.
#[derive(Debug, Clone)]
pub struct Decbuf<'a> {
    b: &'a [u8],
    err: Option<DecodeError>,
}

impl<'a> Decbuf<'a> {
    /// A cursor at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, err: None }
    }
    /// The first error met, if any.
    pub fn err(&self) -> Option<DecodeError> {
        self.err
    }
    /// Bytes not yet read.
    pub fn len(&self) -> usize {
        self.b.len()
    }
    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
    /// The unread bytes.
    pub fn remaining(&self) -> &'a [u8] {
        self.b
    }
    fn fail(&mut self, e: DecodeError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
        self.b = &[];
    }
    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        if self.err.is_some() {
            return &[];
        }
        if self.b.len() < n {
            self.fail(DecodeError::Short);
            return &[];
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        head
    }
    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) {
        self.bytes(n);
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let b = self.bytes(N);
        let mut out = [0u8; N];
        if b.len() == N {
            out.copy_from_slice(b);
        }
        out
    }
    /// Reads one byte.
    pub fn byte(&mut self) -> u8 {
        self.array::<1>()[0]
    }
    /// Reads a big-endian u16.
    pub fn be16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }
    /// Reads a big-endian u32.
    pub fn be32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
    /// Reads a big-endian u64.
    pub fn be64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
    /// Reads a big-endian i64.
    pub fn be64_i(&mut self) -> i64 {
        self.be64() as i64
    }
    /// Reads an f64 from its big-endian bits.
    pub fn be_f64(&mut self) -> f64 {
        f64::from_bits(self.be64())
    }
    /// Reads a uvarint.
    pub fn uvarint(&mut self) -> u64 {
        if self.err.is_some() {
            return 0;
        }
        match uvarint(self.b) {
            Some((v, n)) => {
                self.b = &self.b[n..];
                v
            }
            None => {
                let e = if self.b.len() < 10 && self.b.iter().all(|b| b & 0x80 != 0) {
                    DecodeError::Short
                } else {
                    DecodeError::InvalidVarint
                };
                self.fail(e);
                0
            }
        }
    }
    /// Reads a varint.
    pub fn varint(&mut self) -> i64 {
        let ux = self.uvarint();
        let x = (ux >> 1) as i64;
        if ux & 1 != 0 { !x } else { x }
    }
    /// Reads a uvarint-prefixed UTF-8 string.
    pub fn uvarint_str(&mut self) -> &'a str {
        let n = self.uvarint();
        let Ok(n) = usize::try_from(n) else {
            self.fail(DecodeError::Short);
            return "";
        };
        let b = self.bytes(n);
        match std::str::from_utf8(b) {
            Ok(s) => s,
            Err(_) => {
                self.fail(DecodeError::InvalidUtf8);
                ""
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>(), s in ".{0,40}") {
            let mut e = Encbuf::new();
            e.put_uvarint(u);
            e.put_varint(i);
            e.put_uvarint_str(&s);
            e.put_be64(u);
            let mut d = Decbuf::new(&e.b);
            prop_assert_eq!(d.uvarint(), u);
            prop_assert_eq!(d.varint(), i);
            prop_assert_eq!(d.uvarint_str(), s.as_str());
            prop_assert_eq!(d.be64(), u);
            prop_assert!(d.err().is_none());
            prop_assert!(d.is_empty());
        }

        #[test]
        fn decoding_garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut d = Decbuf::new(&b);
            let _ = d.uvarint();
            let _ = d.uvarint_str();
            let _ = d.be64();
            let _ = d.varint();
        }
    }

    #[test]
    fn go_compatible_varint_bytes() {
        let mut b = Vec::new();
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        put_uvarint(&mut b, 300);
        assert_eq!(b, [0x01, 0x02, 0xac, 0x02]);
    }

    #[test]
    fn short_input_sets_sticky_error() {
        let mut d = Decbuf::new(&[0x80]);
        assert_eq!(d.uvarint(), 0);
        assert_eq!(d.err(), Some(DecodeError::Short));
        assert_eq!(d.be32(), 0);
    }
}
