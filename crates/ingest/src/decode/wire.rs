//! A minimal protobuf wire-format reader over a byte slice: varints, fixed64, and
//! length-delimited fields, with errors carrying the byte offset. Never panics.

use crate::error::{Error, Result};

/// Wire type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

/// A cursor over one message's bytes. `base` is the message's offset in the whole body,
/// for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    /// Set only when every byte of `buf` is known to be ASCII (see [`Reader::ascii_checked`]).
    ascii: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
            ascii: false,
        }
    }

    /// The same reader, having checked whether its whole message is ASCII; if so, its
    /// string fields skip their own UTF-8 validation. One pass over a small message such
    /// as a label (tags and lengths below 128 are ASCII too) is cheaper than validating
    /// its strings one by one.
    pub(crate) fn ascii_checked(mut self) -> Self {
        self.ascii = self.buf.is_ascii();
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn err(&self, reason: &'static str) -> Error {
        Error::Protobuf {
            offset: self.offset(),
            reason,
        }
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64> {
        // Field keys and the lengths of labels and samples fit in one byte: decode
        // those without the loop.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_slow()
    }

    #[cold]
    fn varint_slow(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("varint overflows 64 bits"))
    }

    /// The next field's number and wire type.
    #[inline]
    pub(crate) fn key(&mut self) -> Result<(u32, WireType)> {
        let k = self.varint()?;
        let wt = match k & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            _ => return Err(self.err("unsupported wire type")),
        };
        let field = k >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(self.err("invalid field number"));
        }
        Ok((field as u32, wt))
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64> {
        let end = self.pos + 8;
        let Some(b) = self.buf.get(self.pos..end) else {
            return Err(self.err("truncated fixed64"));
        };
        self.pos = end;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn fixed32(&mut self) -> Result<u32> {
        let end = self.pos + 4;
        let Some(b) = self.buf.get(self.pos..end) else {
            return Err(self.err("truncated fixed32"));
        };
        self.pos = end;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    /// A length-delimited field's bytes, as a reader positioned at their start.
    #[inline]
    pub(crate) fn sub(&mut self) -> Result<Reader<'a>> {
        let len = self.varint()?;
        let start = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("length past the end of the message"))?;
        self.pos = end;
        Ok(Reader {
            buf: &self.buf[start..end],
            pos: 0,
            base: self.base + start,
            // Part of an ASCII message is ASCII.
            ascii: self.ascii,
        })
    }

    /// Skips `n` bytes that the caller has decoded from [`Reader::rest`].
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.rest().len());
        self.pos += n;
    }

    /// The unread bytes of the message.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// A length-delimited field as UTF-8 text.
    pub(crate) fn string(&mut self) -> Result<&'a str> {
        let sub = self.sub()?;
        if sub.ascii {
            debug_assert!(sub.buf.is_ascii());
            // SAFETY: `ascii` is set only by `ascii_checked` after `is_ascii` held for the
            // whole buffer, and inherited by sub-slices of it; ASCII is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(sub.buf) });
        }
        std::str::from_utf8(sub.buf).map_err(|e| Error::InvalidUtf8 {
            offset: sub.base + e.valid_up_to(),
        })
    }

    pub(crate) fn f64(&mut self, wt: WireType) -> Result<f64> {
        self.expect(wt, WireType::Fixed64)?;
        Ok(f64::from_bits(self.fixed64()?))
    }

    pub(crate) fn i64(&mut self, wt: WireType) -> Result<i64> {
        self.expect(wt, WireType::Varint)?;
        Ok(self.varint()? as i64)
    }

    /// An `int32`/enum field (protobuf truncates the varint).
    pub(crate) fn i32(&mut self, wt: WireType) -> Result<i32> {
        self.expect(wt, WireType::Varint)?;
        Ok(self.varint()? as i32)
    }

    pub(crate) fn u32(&mut self, wt: WireType) -> Result<u32> {
        self.expect(wt, WireType::Varint)?;
        Ok(self.varint()? as u32)
    }

    /// A `repeated uint32` field, packed or not; calls `f` for every value.
    pub(crate) fn repeated_u32(
        &mut self,
        wt: WireType,
        mut f: impl FnMut(u32) -> Result<()>,
    ) -> Result<()> {
        match wt {
            WireType::Varint => f(self.varint()? as u32),
            WireType::Len => {
                let mut sub = self.sub()?;
                while !sub.is_empty() {
                    f(sub.varint()? as u32)?;
                }
                Ok(())
            }
            _ => Err(self.err("wrong wire type for repeated uint32")),
        }
    }

    pub(crate) fn expect(&self, got: WireType, want: WireType) -> Result<()> {
        if got == want {
            Ok(())
        } else {
            Err(self.err("wrong wire type"))
        }
    }

    /// Skips a field of unknown number.
    pub(crate) fn skip(&mut self, wt: WireType) -> Result<()> {
        match wt {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64().map(drop),
            WireType::Fixed32 => self.fixed32().map(drop),
            WireType::Len => self.sub().map(drop),
        }
    }
}
