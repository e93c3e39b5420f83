//! Bit-level writer and reader for chunk payloads (MSB first), as Prometheus's `bstream.go`.
//!
//! Bits fill each byte from its most significant bit down; "write n bits of u" writes the
//! low `n` bits of `u`, most significant first, and the last byte is zero-padded on the
//! right. [`BitWriter`] (or [`write_bits`] on borrowed parts) appends to bytes that stay
//! a complete stream after every call, partial last byte included, with one 16-byte store
//! per call. [`BitReader`] decodes from a borrowed slice through a 64-bit buffer that it
//! refills eight bytes at a time, so most reads are a shift and a mask.

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
    // Left-align, store 16 bytes at once, keep the ones that hold bits. Without room for
    // 16, store only those (an owner that sizes its buffer exactly never sees it doubled).
    let aligned = (acc << (128 - total)).to_be_bytes();
    let nbytes = total.div_ceil(8) as usize;
    stream.truncate(len);
    if stream.capacity() - len >= aligned.len() {
        stream.extend_from_slice(&aligned);
        stream.truncate(len + nbytes);
    } else {
        stream.extend_from_slice(&aligned[..nbytes]);
    }
    *count = (nbytes * 8 - total as usize) as u8;
}

/// Reads bits MSB first from a borrowed slice through a 64-bit buffer.
///
/// The buffer is loaded eight bytes at a time once it is empty; a read that fits in the
/// buffered bits is a shift and a mask, one that straddles a refill joins two parts.
/// (A reader that tops the buffer up before every read was measured slower: shifting the
/// buffer on each read lengthens the dependency chain.)
///
/// Reads past the end return `None`; callers treat that as a sticky error.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    stream: &'a [u8],
    state: BitReaderState,
}

/// The position of a [`BitReader`], detached from its slice so an owner of the bytes (a
/// chunk iterator generic over its byte container) can store it and resume later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BitReaderState {
    /// Offset of the next byte to load into `buffer`.
    pos: usize,
    /// Loaded bits, right-aligned: the low `valid` bits are unread, the next is bit `valid - 1`.
    buffer: u64,
    /// Number of unread bits in `buffer` (0..=64).
    valid: u32,
}

/// The low `n` bits set, for `1 <= n <= 64`.
#[inline]
fn mask(n: u32) -> u64 {
    u64::MAX >> (64 - n)
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

    /// Loads the next up to eight bytes into the (empty) buffer; false at the end.
    #[inline]
    fn refill(&mut self) -> bool {
        let st = &mut self.state;
        let rest = self.stream.get(st.pos..).unwrap_or(&[]);
        if let Some(word) = rest.first_chunk::<8>() {
            st.buffer = u64::from_be_bytes(*word);
            st.pos += 8;
            st.valid = 64;
            return true;
        }
        if rest.is_empty() {
            return false;
        }
        let mut buffer = 0u64;
        for &b in rest {
            buffer = (buffer << 8) | u64::from(b);
        }
        st.buffer = buffer;
        st.valid = rest.len() as u32 * 8;
        st.pos += rest.len();
        true
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Option<bool> {
        if self.state.valid == 0 && !self.refill() {
            return None;
        }
        self.state.valid -= 1;
        Some((self.state.buffer >> self.state.valid) & 1 == 1)
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
        let st = &mut self.state;
        if n <= st.valid && n != 0 {
            st.valid -= n;
            return Some((st.buffer >> st.valid) & mask(n));
        }
        self.read_bits_slow(n)
    }

    /// [`BitReader::read_bits`] when the buffer holds fewer than `n` bits (or `n` is 0).
    #[inline(never)]
    fn read_bits_slow(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if n > 64 {
            return None;
        }
        // The rest of the buffer, then the head of the next load.
        let have = self.state.valid;
        let high = if have == 0 {
            0
        } else {
            self.state.buffer & mask(have)
        };
        let need = n - have;
        self.state.valid = 0;
        if !self.refill() || need > self.state.valid {
            return None;
        }
        self.state.valid -= need;
        let low = (self.state.buffer >> self.state.valid) & mask(need);
        // `need == 64` implies `have == 0` and `high == 0`.
        Some(high.checked_shl(need).unwrap_or(0) | low)
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
