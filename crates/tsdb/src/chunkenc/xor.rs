//! Gorilla XOR float chunk (encoding 1), bit-exact with Prometheus's `xor.go`.
//!
//! A chunk is `num_samples` (big-endian u16) followed by a bit stream:
//!
//! * sample 0: timestamp as a Go varint, value as 64 raw bits;
//! * sample 1: timestamp delta as a Go uvarint, value XOR-encoded;
//! * sample n ≥ 2: timestamp delta-of-delta in a prefix code (`0`, `10`+14 bits,
//!   `110`+17, `1110`+20, `1111`+64), value XOR-encoded.
//!
//! A value is XORed with the previous one: `0` if equal; else `1` then either `0` and the
//! meaningful bits inside the previous leading/trailing-zero window, or `1`, 5 bits of
//! leading zeros (at most 31), 6 bits of meaningful-bit count (64 written as 0) and the
//! meaningful bits. Values are handled as raw bits, so every NaN payload (including the
//! staleness marker `0x7ff0000000000002`) survives.
//!
//! [`XorAppender`] writes chunks, [`XorIterator`] reads them without ever panicking on
//! corrupt bytes.

use crate::chunkenc::bstream::{
    BitReader, BitReaderState, MAX_WIDE_BITS, VarintError, write_bits, write_bits_wide,
};
use crate::chunkenc::{SampleIterator, ValueType};
use crate::error::{Error, Result};

/// What decode errors name.
const WHAT: &str = "xor chunk";

/// Bytes of the chunk header (`num_samples`).
const HEADER_LEN: usize = 2;

/// The appender's "no window yet" marker for `leading`, as Prometheus's `0xff`.
const NO_WINDOW: u8 = 0xff;

/// The most bytes one sample adds to a chunk: a 10-byte varint delta and a 77-bit value
/// (the second sample), or a 68-bit delta of deltas and a 77-bit value with up to 7 bits
/// of the last byte already used (later ones).
pub(crate) const SAMPLE_ROOM: usize = 20;

/// The buffer a new chunk starts with: the header, the first sample (a varint timestamp of
/// at most 10 bytes and a raw 8-byte value) and [`SAMPLE_ROOM`] for the second. With room
/// for one sample only, every new series gave its first buffer up at its second sample,
/// and since a remote write creates series in bulk, those buffers became a million
/// 32-byte holes in malloc's heaps at 1M series that nothing of that size filled again.
const FIRST_ROOM: usize = HEADER_LEN + 10 + 8 + SAMPLE_ROOM;

/// The number of samples an XOR chunk's header claims (0 if `b` is shorter than the header).
pub fn xor_num_samples(b: &[u8]) -> usize {
    match b.first_chunk::<HEADER_LEN>() {
        Some(h) => usize::from(u16::from_be_bytes(*h)),
        None => 0,
    }
}

/// Whether `x` fits the dod bucket of `nbits` bits: `-(2^(nbits-1) - 1) <= x <= 2^(nbits-1)`.
#[inline]
fn bit_range(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Appends float samples to an XOR chunk it owns.
///
/// The bytes returned by [`XorAppender::bytes`] are always a complete, decodable chunk
/// identical to what Prometheus produces for the same appends.
#[derive(Debug, Clone)]
pub struct XorAppender {
    /// The chunk: 2-byte header then the bit stream.
    stream: Vec<u8>,
    /// Timestamp of the last sample.
    t: i64,
    /// Bits of the last value.
    v: u64,
    /// Last timestamp delta, carried as Go's `uint64` (wrapping).
    t_delta: u64,
    /// Free low-order bits in the last byte of `stream`.
    count: u8,
    /// Leading zeros of the current XOR window, or [`NO_WINDOW`].
    leading: u8,
    /// Trailing zeros of the current XOR window.
    trailing: u8,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// An empty chunk: a 2-byte header saying 0 samples, with room for two samples.
    pub fn new() -> Self {
        Self::with_capacity(FIRST_ROOM)
    }

    /// An empty chunk whose buffer holds `bytes` (at least room for the header and one
    /// sample) before it grows: the head sizes a series' next chunk like its last one,
    /// so the buffer is allocated once rather than grown step by step in every series at
    /// the same time.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut stream = Vec::with_capacity(bytes.max(HEADER_LEN + SAMPLE_ROOM));
        stream.extend_from_slice(&[0, 0]);
        Self {
            stream,
            t: 0,
            v: 0,
            t_delta: 0,
            count: 0,
            leading: NO_WINDOW,
            trailing: 0,
        }
    }

    /// Empties the chunk to start the next one in the same buffer, sized to hold `bytes`
    /// (as [`XorAppender::with_capacity`]): the head starts a series' next chunk where the
    /// sealed one's bytes were, without a free and a malloc per cut.
    pub fn restart(&mut self, bytes: usize) {
        let bytes = bytes.max(HEADER_LEN + SAMPLE_ROOM);
        self.stream.clear();
        // Slack above an eighth is given back; less is not worth a realloc.
        if self.stream.capacity() > bytes + bytes / 8 {
            self.stream.shrink_to(bytes);
        } else {
            self.stream.reserve_exact(bytes);
        }
        self.stream.extend_from_slice(&[0, 0]);
        self.t = 0;
        self.v = 0;
        self.t_delta = 0;
        self.count = 0;
        self.leading = NO_WINDOW;
        self.trailing = 0;
    }

    /// Reopens an existing chunk for appending.
    ///
    /// The state is the one a reader has after the last sample, as Prometheus's
    /// `XORChunk.Appender` does; in particular, if no XOR window was opened yet (one
    /// sample, or all values equal) the window is (0, 0) rather than "none", so the next
    /// changed value is written with 64 meaningful bits, exactly as Prometheus would.
    ///
    /// Appending continues at the bit where the last sample ends: anything after it
    /// (padding bits, trailing bytes) is dropped. Prometheus's `FromData` instead resumes
    /// at the next byte boundary, which would corrupt the chunk; Prometheus never appends
    /// to such a chunk (after loading a snapshot it cuts a new one), so nothing observable
    /// differs.
    ///
    /// Fails with [`Error::Decode`] when `b` does not decode, or already holds the
    /// maximum of 65535 samples (so [`XorAppender::append`] can never panic on a chunk
    /// read from outside).
    pub fn from_bytes(mut b: Vec<u8>) -> Result<Self> {
        if xor_num_samples(&b) == usize::from(u16::MAX) {
            return Err(Error::decode(
                WHAT,
                "chunk already holds 65535 samples, cannot append",
            ));
        }
        let mut it = XorIterator::new(b.as_slice());
        while it.next() != ValueType::None {}
        if let Some(e) = it.err.take() {
            return Err(e);
        }
        let bits = it.reader_state_bits();
        let end = HEADER_LEN + bits.div_ceil(8);
        let count = (end - HEADER_LEN) * 8 - bits;
        let (t, v, t_delta, mut leading, trailing) =
            (it.t, it.v, it.t_delta, it.leading, it.trailing);
        if it.num_total == 0 {
            leading = NO_WINDOW;
        }
        drop(it);
        b.truncate(end);
        if count > 0
            && let Some(last) = b.last_mut()
        {
            *last &= !((1u8 << count) - 1);
        }
        Ok(Self {
            stream: b,
            t,
            v,
            t_delta,
            count: count as u8,
            leading,
            trailing,
        })
    }

    /// Makes room for one more sample, growing by about a quarter rather than doubling:
    /// an open chunk lives in every series, and doubling would leave up to half of each
    /// buffer unused. (The bit writer stores only the bytes it needs when there is no room
    /// for its 16-byte store, so this room is all a sample takes.)
    fn reserve_for_sample(&mut self) {
        if self.stream.capacity() - self.stream.len() < SAMPLE_ROOM {
            let grow = (self.stream.capacity() / 4).max(SAMPLE_ROOM);
            self.stream.reserve_exact(grow);
        }
    }

    /// Appends a sample. The caller guarantees timestamps are in order.
    ///
    /// # Panics
    ///
    /// If the chunk already holds 65535 samples (the header is a u16). The head's cutting
    /// rules (1024-byte cap) keep chunks far below that.
    pub fn append(&mut self, t: i64, v: f64) {
        let num = u16::try_from(self.num_samples()).unwrap_or(u16::MAX);
        assert!(num < u16::MAX, "xor chunk already holds {num} samples");
        let v = v.to_bits();
        self.reserve_for_sample();
        let mut t_delta = 0u64;
        match num {
            0 => {
                // Byte aligned here: the varint then the raw value bits.
                self.write_uvarint(((t << 1) ^ (t >> 63)) as u64);
                write_bits(&mut self.stream, &mut self.count, v, 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                self.write_uvarint(t_delta);
                let (bits, n) = self.value_bits(v);
                write_bits_wide(&mut self.stream, &mut self.count, bits, n);
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                let (dod_bits, dod_n): (u128, u32) = if dod == 0 {
                    (0, 1)
                } else if bit_range(dod, 14) {
                    ((0b10 << 14) | (dod as u128 & 0x3fff), 16)
                } else if bit_range(dod, 17) {
                    ((0b110 << 17) | (dod as u128 & 0x1_ffff), 20)
                } else if bit_range(dod, 20) {
                    ((0b1110 << 20) | (dod as u128 & 0xf_ffff), 24)
                } else {
                    ((0b1111 << 64) | u128::from(dod as u64), 68)
                };
                let (bits, n) = self.value_bits(v);
                if dod_n + n <= MAX_WIDE_BITS {
                    write_bits_wide(
                        &mut self.stream,
                        &mut self.count,
                        (dod_bits << n) | bits,
                        dod_n + n,
                    );
                } else {
                    write_bits_wide(&mut self.stream, &mut self.count, dod_bits, dod_n);
                    write_bits_wide(&mut self.stream, &mut self.count, bits, n);
                }
            }
        }
        self.stream[..HEADER_LEN].copy_from_slice(&(num + 1).to_be_bytes());
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
    }

    /// Writes `v` as a Go uvarint (LEB128).
    #[inline]
    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            write_bits(&mut self.stream, &mut self.count, (v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        write_bits(&mut self.stream, &mut self.count, v, 8);
    }

    /// Encodes the XOR of `v` with the previous value (at most 2 + 11 + 64 bits),
    /// updating the window.
    #[inline]
    fn value_bits(&mut self, v: u64) -> (u128, u32) {
        let delta = v ^ self.v;
        if delta == 0 {
            return (0, 1);
        }
        // Clamped so it fits the 5-bit field.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            // Reuse the window: `10` then the bits inside it.
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            return ((0b10 << sig) | u128::from(delta >> self.trailing), 2 + sig);
        }
        self.leading = leading;
        self.trailing = trailing;
        let sig = 64 - u32::from(leading) - u32::from(trailing);
        // `11`, leading (5 bits), sig (6 bits; 64 is written as 0), the bits.
        let head = (0b11 << 11) | (u128::from(leading) << 6) | u128::from(sig & 0x3f);
        ((head << sig) | u128::from(delta >> trailing), 13 + sig)
    }

    /// The number of samples in the chunk.
    pub fn num_samples(&self) -> usize {
        xor_num_samples(&self.stream)
    }

    /// The whole chunk: `num_samples` (BE u16) and the bit stream, zero-padded.
    pub fn bytes(&self) -> &[u8] {
        &self.stream
    }

    /// The bytes the buffer holds before it must grow.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.stream.capacity()
    }

    /// Timestamp of the newest sample (0 before the first).
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Bits of the newest sample's value (0 before the first).
    pub fn last_value_bits(&self) -> u64 {
        self.v
    }

    /// The whole chunk, consuming the appender.
    pub fn into_bytes(self) -> Vec<u8> {
        self.stream
    }
}

/// Iterates the samples of an XOR chunk held in any byte container.
///
/// Stops after the number of samples in the header, whatever follows. Corrupt or short
/// input ends iteration with [`ValueType::None`] and sets [`SampleIterator::err`] to an
/// [`Error::Decode`]; no input makes it panic.
#[derive(Debug)]
pub struct XorIterator<B: AsRef<[u8]>> {
    b: B,
    br: BitReaderState,
    num_total: u16,
    num_read: u16,
    /// Whether `next` already returned `None` because the samples ran out.
    done: bool,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    err: Option<Error>,
}

impl<B: AsRef<[u8]>> XorIterator<B> {
    /// An iterator before the first sample of chunk `b`.
    pub fn new(b: B) -> Self {
        let bytes = b.as_ref();
        let (num_total, err) = match bytes.first_chunk::<HEADER_LEN>() {
            Some(h) => (u16::from_be_bytes(*h), None),
            None => (
                0,
                Some(Error::decode(
                    WHAT,
                    format!("{} bytes, shorter than the header", bytes.len()),
                )),
            ),
        };
        Self {
            b,
            br: BitReaderState::default(),
            num_total,
            num_read: 0,
            done: false,
            t: i64::MIN,
            v: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            err,
        }
    }

    /// The number of samples the chunk's header claims.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num_total)
    }

    /// Bits of the payload consumed so far.
    fn reader_state_bits(&self) -> usize {
        let payload = self.b.as_ref().get(HEADER_LEN..).unwrap_or(&[]);
        BitReader::resume(payload, self.br).bits_read()
    }

    /// Records a decode error and ends iteration.
    #[cold]
    fn fail(&mut self, failure: Failure) -> ValueType {
        let reason = match failure {
            Failure::Eof => "unexpected end of data".to_string(),
            Failure::Varint(e) => e.to_string(),
            Failure::Window { lead, mbits } => {
                format!("xor window of {lead} leading zeros and {mbits} bits exceeds 64 bits")
            }
        };
        self.err = Some(Error::decode(
            WHAT,
            format!("sample {}: {reason}", self.num_read),
        ));
        ValueType::None
    }

    /// Decodes the next sample into `self`.
    #[inline]
    fn decode_next(&mut self) -> Result<(), Failure> {
        let payload = self.b.as_ref().get(HEADER_LEN..).unwrap_or(&[]);
        let mut br = BitReader::resume(payload, self.br);
        decode_sample(
            &mut br,
            self.num_read,
            &mut self.t,
            &mut self.v,
            &mut self.t_delta,
            &mut self.leading,
            &mut self.trailing,
        )?;
        self.br = br.state();
        self.num_read += 1;
        Ok(())
    }

    /// Appends the following samples with timestamps in `[mint, maxt]` for which
    /// `skip(t)` is false to `out`, stopping after the first sample past `maxt` (where
    /// the iterator then stands): [`SampleIterator::next`]'s loop with the bit reader and
    /// the decoder's state kept in locals. A decode error ends it, as it ends `next`.
    pub fn read_floats_into(
        &mut self,
        mint: i64,
        maxt: i64,
        skip: impl Fn(i64) -> bool,
        out: &mut Vec<(i64, f64)>,
    ) {
        if self.err.is_some() || self.done {
            return;
        }
        let payload = self.b.as_ref().get(HEADER_LEN..).unwrap_or(&[]);
        let mut br = BitReader::resume(payload, self.br);
        let (mut t, mut v, mut t_delta) = (self.t, self.v, self.t_delta);
        let (mut leading, mut trailing) = (self.leading, self.trailing);
        let mut num_read = self.num_read;
        let mut failure = None;
        while num_read < self.num_total {
            if let Err(f) = decode_sample(
                &mut br,
                num_read,
                &mut t,
                &mut v,
                &mut t_delta,
                &mut leading,
                &mut trailing,
            ) {
                failure = Some(f);
                break;
            }
            num_read += 1;
            if t > maxt {
                break;
            }
            if t >= mint && !skip(t) {
                out.push((t, f64::from_bits(v)));
            }
        }
        self.br = br.state();
        (self.t, self.v, self.t_delta) = (t, v, t_delta);
        (self.leading, self.trailing) = (leading, trailing);
        self.num_read = num_read;
        if let Some(f) = failure {
            self.fail(f);
        }
    }
}

/// Decodes sample number `num_read` of a chunk from `br` into the decoder's state.
#[inline(always)]
fn decode_sample(
    br: &mut BitReader<'_>,
    num_read: u16,
    t: &mut i64,
    v: &mut u64,
    t_delta: &mut u64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<(), Failure> {
    match num_read {
        0 => {
            *t = br.read_varint().map_err(Failure::Varint)?;
            *v = br.read_bits(64).ok_or(Failure::Eof)?;
        }
        1 => {
            *t_delta = br.read_uvarint().map_err(Failure::Varint)?;
            *t = t.wrapping_add(*t_delta as i64);
            read_value(br, v, leading, trailing)?;
        }
        _ => {
            // The dod prefix: up to 4 one bits, ended by a zero unless there are 4.
            // (Bit by bit measured faster than peeking 4 bits and counting ones.)
            let mut prefix = 0u32;
            while prefix < 4 && br.read_bit().ok_or(Failure::Eof)? {
                prefix += 1;
            }
            let dod = match prefix {
                0 => 0,
                4 => br.read_bits(64).ok_or(Failure::Eof)? as i64,
                _ => {
                    let sz = [14u8, 17, 20][prefix as usize - 1];
                    let bits = br.read_bits(sz).ok_or(Failure::Eof)?;
                    // Negative numbers come back as large unsigned ones.
                    if bits > 1 << (sz - 1) {
                        bits as i64 - (1i64 << sz)
                    } else {
                        bits as i64
                    }
                }
            };
            *t_delta = t_delta.wrapping_add(dod as u64);
            *t = t.wrapping_add(*t_delta as i64);
            read_value(br, v, leading, trailing)?;
        }
    }
    Ok(())
}

/// Why decoding a sample failed; turned into an [`Error::Decode`] off the hot path.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// The bit stream ended early.
    Eof,
    /// A timestamp varint is malformed.
    Varint(VarintError),
    /// A new XOR window claims more than 64 bits.
    Window { lead: u8, mbits: u8 },
}

/// Reads one XOR-encoded value into `v`, updating the window.
#[inline(always)]
fn read_value(
    br: &mut BitReader<'_>,
    v: &mut u64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<(), Failure> {
    // Control bits: `0` same value, `10` reuse the window, `11` new window.
    let control = if !br.read_bit().ok_or(Failure::Eof)? {
        0
    } else {
        0b10 | u64::from(br.read_bit().ok_or(Failure::Eof)?)
    };
    if control < 0b10 {
        return Ok(());
    }
    let (lead, mbits) = if control == 0b10 {
        (*leading, 64 - *leading - *trailing)
    } else {
        let head = br.read_bits(11).ok_or(Failure::Eof)?;
        let lead = (head >> 6) as u8;
        let mbits = match (head & 0x3f) as u8 {
            0 => 64,
            m => m,
        };
        if lead + mbits > 64 {
            return Err(Failure::Window { lead, mbits });
        }
        *leading = lead;
        *trailing = 64 - lead - mbits;
        (lead, mbits)
    };
    let bits = br.read_bits(mbits).ok_or(Failure::Eof)?;
    let trail = 64 - lead - mbits;
    *v ^= bits.checked_shl(u32::from(trail)).unwrap_or(0);
    Ok(())
}

impl<B: AsRef<[u8]>> SampleIterator for XorIterator<B> {
    #[inline]
    fn next(&mut self) -> ValueType {
        if self.err.is_some() || self.done {
            return ValueType::None;
        }
        if self.num_read == self.num_total {
            self.done = true;
            return ValueType::None;
        }
        match self.decode_next() {
            Ok(()) => ValueType::Float,
            Err(reason) => self.fail(reason),
        }
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.err.is_some() || self.done {
            return ValueType::None;
        }
        while self.num_read == 0 || self.t < t {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
        }
        ValueType::Float
    }

    #[inline]
    fn at(&self) -> (i64, f64) {
        (self.t, f64::from_bits(self.v))
    }

    #[inline]
    fn at_t(&self) -> i64 {
        self.t
    }

    fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}

#[cfg(test)]
mod tests;
