//! Bit-level writer and reader for chunk payloads (MSB first), as Prometheus's `bstream.go`.
//!
//! Bits fill each byte from its most significant bit down; "write n bits of u" writes the
//! low `n` bits of `u`, most significant first, and the last byte is zero-padded on the
//! right. [`BitWriter`] owns its bytes so an appender can keep appending to a chunk whose
//! bytes are visible (partial last byte included) after every sample. [`BitReader`]
//! decodes from a borrowed slice through a 64-bit buffer that it refills eight bytes at a
//! time, so most reads are a shift and a mask.

/// Appends bits to a byte vector it owns, MSB first.
///
/// The state is the bytes plus how many low-order bits of the last byte are still free,
/// exactly as Prometheus's `bstream` (`count`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BitWriter {
    stream: Vec<u8>,
    /// How many right-most bits of the last byte are free (0..=7; 0 also when empty).
    count: u8,
}

impl BitWriter {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes writing after `stream`, whose last byte has `count` free low-order bits.
    ///
    /// The free bits must be zero; `count` is clamped to 7 (to 0 when `stream` is empty).
    pub fn from_parts(stream: Vec<u8>, count: u8) -> Self {
        let count = if stream.is_empty() { 0 } else { count.min(7) };
        Self { stream, count }
    }

    /// Splits the writer into its bytes and the number of free bits in the last byte.
    pub fn into_parts(self) -> (Vec<u8>, u8) {
        (self.stream, self.count)
    }

    /// The bytes written so far (the last byte may be partial, padded with zeros).
    pub fn bytes(&self) -> &[u8] {
        &self.stream
    }

    /// The number of bits written so far.
    pub fn bit_len(&self) -> usize {
        self.stream.len() * 8 - usize::from(self.count)
    }

    /// Writes one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the eight bits of `byte`.
    #[inline]
    pub fn write_byte(&mut self, byte: u8) {
        self.write_bits(u64::from(byte), 8);
    }

    /// Writes the `nbits` right-most bits of `u` (`nbits <= 64`), most significant first.
    #[inline]
    pub fn write_bits(&mut self, u: u64, nbits: u32) {
        write_bits(&mut self.stream, &mut self.count, u, nbits);
    }
}

/// The most bits [`write_bits_wide`] takes at once.
pub const MAX_WIDE_BITS: u32 = 120;

/// Writes the `nbits` right-most bits of `u` (`nbits <= 64`, more are clamped) to a
/// stream whose last byte has `count` free low-order bits, MSB first; updates `count`.
///
/// This is [`BitWriter::write_bits`] on borrowed parts, for owners that keep the bytes
/// and the count in their own fields (an XOR appender lives in every series).
#[inline]
pub fn write_bits(stream: &mut Vec<u8>, count: &mut u8, u: u64, nbits: u32) {
    write_bits_wide(stream, count, u128::from(u), nbits.min(64));
}

/// Like [`write_bits`] for up to [`MAX_WIDE_BITS`] bits of a `u128` (more are clamped),
/// so a whole encoded sample usually costs one store.
#[inline]
pub fn write_bits_wide(stream: &mut Vec<u8>, count: &mut u8, u: u128, nbits: u32) {
    let n = nbits.min(MAX_WIDE_BITS);
    if n == 0 {
        return;
    }
    let mut acc = u & ((1u128 << n) - 1);
    let mut total = n;
    let mut len = stream.len();
    // Re-emit the used bits of a partial last byte in front of the new ones.
    if *count > 0
        && *count < 8
        && let Some(&last) = stream.last()
    {
        acc |= u128::from(last >> *count) << n;
        total += 8 - u32::from(*count);
        len -= 1;
    }
    // Left-align, store 16 bytes at once, keep the ones that hold bits.
    let aligned = acc << (128 - total);
    let nbytes = total.div_ceil(8);
    stream.truncate(len);
    stream.extend_from_slice(&aligned.to_be_bytes());
    stream.truncate(len + nbytes as usize);
    *count = (nbytes * 8 - total) as u8;
}

/// Reads bits MSB first from a borrowed slice through a 64-bit buffer.
///
/// The buffer holds the next unread bits left-aligned and is topped up eight bytes at a
/// time, so after a refill at least 56 bits are buffered (fewer only at the end of the
/// stream): a prefix code plus its payload usually costs one refill check.
///
/// Reads past the end return `None` and leave the reader in an unspecified (but safe)
/// position: callers treat that as a sticky error.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    stream: &'a [u8],
    state: BitReaderState,
}

/// The position of a [`BitReader`], detached from its slice so an owner of the bytes (a
/// chunk iterator generic over its byte container) can store it and resume later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BitReaderState {
    /// Offset of the next byte not yet counted in `valid`.
    pos: usize,
    /// Unread bits, left-aligned: the next bit is bit 63. Bits after the first `valid`
    /// are either zero or the stream's next bits, so topping up with `|` is idempotent.
    buffer: u64,
    /// Number of unread bits in `buffer` (0..=63).
    valid: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `stream`.
    pub fn new(stream: &'a [u8]) -> Self {
        Self {
            stream,
            state: BitReaderState::default(),
        }
    }

    /// A reader over `stream` at a position saved with [`BitReader::state`].
    ///
    /// `stream` must be the slice the state was taken from.
    #[inline]
    pub fn resume(stream: &'a [u8], state: BitReaderState) -> Self {
        Self { stream, state }
    }

    /// The current position, to resume from later.
    #[inline]
    pub fn state(&self) -> BitReaderState {
        self.state
    }

    /// The number of bits consumed so far.
    pub fn bits_read(&self) -> usize {
        self.state.pos * 8 - self.state.valid as usize
    }

    /// The number of bits left to read.
    pub fn bits_left(&self) -> usize {
        self.stream.len().saturating_sub(self.state.pos) * 8 + self.state.valid as usize
    }

    /// Tops the buffer up to at least 56 bits, or to the end of the stream.
    #[inline]
    fn refill(&mut self) {
        let st = &mut self.state;
        let rest = self.stream.get(st.pos..).unwrap_or(&[]);
        let (word, avail) = match rest.first_chunk::<8>() {
            Some(w) => (u64::from_be_bytes(*w), 8),
            None => {
                let mut w = [0u8; 8];
                w[..rest.len()].copy_from_slice(rest);
                (u64::from_be_bytes(w), rest.len())
            }
        };
        // `valid <= 63`, so the shift is in range; whole bytes only.
        st.buffer |= word >> st.valid;
        let take = (((63 - st.valid) >> 3) as usize).min(avail);
        st.pos += take;
        st.valid += take as u32 * 8;
    }

    /// Makes at least `n` bits (`n <= 56`) available to [`BitReader::peek`]; false if the
    /// stream has fewer left.
    #[inline]
    pub fn ensure(&mut self, n: u32) -> bool {
        if self.state.valid < n {
            self.refill();
        }
        self.state.valid >= n
    }

    /// The next `n` bits (`1 <= n <= 56`) without consuming them. Only meaningful after
    /// [`BitReader::ensure`] returned true for at least `n`.
    #[inline]
    pub fn peek(&self, n: u32) -> u64 {
        debug_assert!((1..=56).contains(&n));
        self.state.buffer.wrapping_shr(64u32.wrapping_sub(n))
    }

    /// Drops `n` bits (`n <=` what [`BitReader::ensure`] guaranteed).
    #[inline]
    pub fn consume(&mut self, n: u32) {
        // `valid <= 63`, so the shift is in range.
        let n = n.min(self.state.valid);
        self.state.buffer <<= n;
        self.state.valid -= n;
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Option<bool> {
        if !self.ensure(1) {
            return None;
        }
        let bit = self.state.buffer >> 63 == 1;
        self.consume(1);
        Some(bit)
    }

    /// Reads eight bits.
    #[inline]
    pub fn read_byte(&mut self) -> Option<u8> {
        self.read_bits(8).map(|v| v as u8)
    }

    /// Reads `nbits` bits (`nbits <= 64`) into the low bits of the result.
    #[inline]
    pub fn read_bits(&mut self, nbits: u8) -> Option<u64> {
        let n = u32::from(nbits);
        if n.wrapping_sub(1) < 56 {
            if !self.ensure(n) {
                return None;
            }
            let v = self.peek(n);
            self.consume(n);
            return Some(v);
        }
        self.read_bits_wide(n)
    }

    /// [`BitReader::read_bits`] for 0 or more than 56 bits: two reads for 57..=64.
    #[inline(never)]
    fn read_bits_wide(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if n > 64 {
            return None;
        }
        let high_n = n - 32;
        if !self.ensure(high_n) {
            return None;
        }
        let high = self.peek(high_n);
        self.consume(high_n);
        if !self.ensure(32) {
            return None;
        }
        let low = self.peek(32);
        self.consume(32);
        Some((high << 32) | low)
    }

    /// Reads a Go uvarint (LEB128) from the next whole bytes' worth of bits.
    ///
    /// Fails like Go's `binary.ReadUvarint`: at the end of the stream, or when the value
    /// needs more than 10 bytes or overflows 64 bits.
    pub fn read_uvarint(&mut self) -> Result<u64, VarintError> {
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.read_byte().ok_or(VarintError::Eof)?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(VarintError::Overflow);
                }
                return Ok(x | (u64::from(b) << shift));
            }
            x |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        Err(VarintError::Overflow)
    }

    /// Reads a Go varint (zig-zag encoded uvarint).
    pub fn read_varint(&mut self) -> Result<i64, VarintError> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }
}

/// Why [`BitReader::read_uvarint`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The stream ended inside the varint.
    Eof,
    /// More than 10 bytes, or the value overflows 64 bits.
    Overflow,
}

impl std::fmt::Display for VarintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VarintError::Eof => "unexpected end of data in varint",
            VarintError::Overflow => "varint overflows a 64-bit integer",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A mask of the low `n` bits (`n` may be 64).
    fn low_mask(n: u32) -> u64 {
        if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
    }

    #[test]
    fn writes_msb_first_and_pads_with_zeros() {
        let mut w = BitWriter::new();
        w.write_bit(true);
        w.write_bits(0b01, 2);
        assert_eq!(w.bytes(), [0b1010_0000]);
        assert_eq!(w.bit_len(), 3);
        w.write_byte(0xff);
        assert_eq!(w.bytes(), [0b1011_1111, 0b1110_0000]);
        w.write_bits(0, 5);
        assert_eq!(w.bit_len(), 16);
        w.write_bits(u64::MAX, 64);
        assert_eq!(w.bytes().len(), 10);
        assert!(w.bytes()[2..].iter().all(|&b| b == 0xff));
        // Only the low bits of the value are written.
        w.write_bits(0xabc, 4);
        assert_eq!(w.bytes()[10], 0xc0);
    }

    #[test]
    fn write_zero_bits_is_a_no_op() {
        let mut w = BitWriter::new();
        w.write_bits(u64::MAX, 0);
        assert!(w.bytes().is_empty());
        w.write_bit(true);
        w.write_bits(u64::MAX, 0);
        assert_eq!(w.bytes(), [0x80]);
    }

    #[test]
    fn from_parts_resumes_in_the_partial_byte() {
        let mut w = BitWriter::new();
        w.write_bits(0b101, 3);
        let (b, count) = w.into_parts();
        assert_eq!(count, 5);
        let mut w = BitWriter::from_parts(b, count);
        w.write_bits(0b11111, 5);
        assert_eq!(w.bytes(), [0b1011_1111]);
        assert_eq!(w.bit_len(), 8);
    }

    #[test]
    fn reader_reports_end_of_stream() {
        let mut r = BitReader::new(&[0b1100_0000]);
        assert_eq!(r.read_bits(2), Some(0b11));
        assert_eq!(r.bits_left(), 6);
        assert_eq!(r.read_bits(7), None);
        let mut r = BitReader::new(&[]);
        assert_eq!(r.read_bit(), None);
        assert_eq!(r.read_bits(0), Some(0));
        assert_eq!(r.read_bits(65), None);
    }

    #[test]
    fn reads_across_buffer_refills() {
        let bytes: Vec<u8> = (0..20).collect();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_bits(4), Some(0));
        // Spans the first 8-byte buffer and the next one.
        let v = r.read_bits(64).expect("enough bits");
        let expect = (u128::from_be_bytes(bytes[0..16].try_into().expect("16 bytes")) >> 60) as u64;
        assert_eq!(v, expect);
        assert_eq!(r.bits_read(), 68);
    }

    #[test]
    fn uvarint_matches_go() {
        let mut w = BitWriter::new();
        w.write_bit(true); // Varints need not be byte aligned in the reader.
        for b in [0xac, 0x02] {
            w.write_byte(b);
        }
        let bytes = w.into_parts().0;
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_uvarint(), Ok(300));
        assert_eq!(
            BitReader::new(&[0x80]).read_uvarint(),
            Err(VarintError::Eof)
        );
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            BitReader::new(&over).read_uvarint(),
            Err(VarintError::Overflow)
        );
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(BitReader::new(&max).read_uvarint(), Ok(u64::MAX));
        assert_eq!(BitReader::new(&[0x01]).read_varint(), Ok(-1));
    }

    fn bit_ops() -> impl Strategy<Value = Vec<(u64, u32)>> {
        proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)
    }

    proptest! {
        #[test]
        fn round_trip(ops in bit_ops()) {
            let mut w = BitWriter::new();
            for &(u, n) in &ops {
                w.write_bits(u, n);
            }
            let total: usize = ops.iter().map(|&(_, n)| n as usize).sum();
            prop_assert_eq!(w.bit_len(), total);
            prop_assert_eq!(w.bytes().len(), total.div_ceil(8));
            let bytes = w.bytes().to_vec();
            let mut r = BitReader::new(&bytes);
            for &(u, n) in &ops {
                let got = r.read_bits(n as u8);
                prop_assert_eq!(got, Some(u & low_mask(n)));
            }
            prop_assert_eq!(r.bits_read(), total);
            // Only zero padding is left.
            let pad = r.bits_left();
            prop_assert!(pad < 8);
            prop_assert_eq!(r.read_bits(pad as u8), Some(0));
            prop_assert_eq!(r.read_bit(), None);
        }

        #[test]
        fn bitwise_writer_matches_bulk_writer(ops in bit_ops()) {
            let mut bulk = BitWriter::new();
            let mut single = BitWriter::new();
            for &(u, n) in &ops {
                bulk.write_bits(u, n);
                for i in (0..n).rev() {
                    single.write_bit((u >> i) & 1 == 1);
                }
            }
            prop_assert_eq!(bulk, single);
        }

        #[test]
        fn reading_garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40),
                                        reads in proptest::collection::vec(0u8..=70, 0..40)) {
            let mut r = BitReader::new(&b);
            for n in reads {
                let _ = r.read_bits(n);
                let _ = r.read_uvarint();
                let _ = r.read_bit();
            }
        }
    }
}
