//! Decoding `prometheus.WriteRequest` (Remote Write 1.0).

use super::wire::{Reader, WireType};
use super::{Exemplar, FamilyMetadata, Label, Sample, TimeSeries, WriteRequest, idx, push_series};
use crate::error::Result;
use crate::limits::Limits;

pub(super) fn decode<'a>(
    body: &'a [u8],
    limits: &Limits,
    mut req: WriteRequest<'a>,
) -> Result<WriteRequest<'a>> {
    let mut r = Reader::new(body);
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => {
                let mut sub = r.sub()?;
                let s = time_series(&mut sub, &mut req)?;
                push_series(&mut req, s, limits)?;
            }
            (3, WireType::Len) => {
                let mut sub = r.sub()?;
                let m = metadata(&mut sub)?;
                req.metadata.push(m);
            }
            (1 | 3, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(req)
}

fn time_series<'a>(r: &mut Reader<'a>, req: &mut WriteRequest<'a>) -> Result<TimeSeries<'a>> {
    let (l0, s0, e0) = (
        idx(req.labels.len()),
        idx(req.samples.len()),
        idx(req.exemplars.len()),
    );
    let mut histograms = 0u32;
    // Labels, samples and exemplars may interleave on the wire; each goes to its own
    // vector, so the ranges stay contiguous.
    while !r.is_empty() {
        // The common shape first: a run of label fields in the layout every sender
        // writes; anything else goes through the general walk below.
        let run = label_run(r.rest(), &mut req.labels);
        if run > 0 {
            r.advance(run);
            continue;
        }
        match r.key()? {
            (1, WireType::Len) => {
                let l = label(&mut r.sub()?.ascii_checked())?;
                req.labels.push(l);
            }
            (2, WireType::Len) => {
                let mut sub = r.sub()?;
                let s = match value_timestamp(sub.rest()) {
                    Some(s) => s,
                    None => sample(&mut sub)?,
                };
                req.samples.push(s);
            }
            (3, WireType::Len) => {
                let e = exemplar(&mut r.sub()?, req)?;
                req.exemplars.push(e);
            }
            (4, WireType::Len) => {
                r.sub()?;
                histograms = histograms.saturating_add(1);
            }
            (1..=4, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(TimeSeries {
        labels: l0..idx(req.labels.len()),
        samples: s0..idx(req.samples.len()),
        exemplars: e0..idx(req.exemplars.len()),
        histograms,
        metadata: None,
        defect: None,
    })
}

/// Pushes the labels of the run of label fields at the start of `b` that [`name_value`]
/// takes (a one-byte key and length, then the common layout), and returns the bytes
/// they span; 0 when the first field is not one of them.
#[inline]
fn label_run<'a>(b: &'a [u8], labels: &mut Vec<Label<'a>>) -> usize {
    let mut pos = 0;
    while let Some(&[0x0a, len]) = b.get(pos..pos + 2)
        && len < 0x80
    {
        let end = pos + 2 + usize::from(len);
        let Some(l) = b.get(pos + 2..end).and_then(name_value) else {
            break;
        };
        labels.push(l);
        pos = end;
    }
    pos
}

/// A label message laid out as `name` (field 1) then `value` (field 2), each with a
/// one-byte length and nothing else, all ASCII; `None` for any other layout (which
/// [`label`] then decodes, or refuses, exactly as before). The single ASCII check covers
/// both strings and both length bytes (a length byte of 128 or more is not ASCII).
#[inline]
fn name_value(b: &[u8]) -> Option<Label<'_>> {
    let [0x0a, n, rest @ ..] = b else {
        return None;
    };
    let (name, rest) = rest.split_at_checked(usize::from(*n))?;
    let [0x12, m, value @ ..] = rest else {
        return None;
    };
    if usize::from(*m) != value.len() || !b.is_ascii() {
        return None;
    }
    // SAFETY: both are parts of `b`, which is ASCII, and ASCII is valid UTF-8.
    let (name, value) = unsafe {
        (
            std::str::from_utf8_unchecked(name),
            std::str::from_utf8_unchecked(value),
        )
    };
    Some(Label { name, value })
}

/// A sample message laid out as `value` (field 1, fixed64) then `timestamp` (field 2,
/// a varint ending the message); `None` for any other layout (which [`sample`] then
/// decodes, or refuses).
#[inline]
fn value_timestamp(b: &[u8]) -> Option<Sample> {
    let [0x09, v0, v1, v2, v3, v4, v5, v6, v7, 0x10, rest @ ..] = b else {
        return None;
    };
    let v = f64::from_le_bytes([*v0, *v1, *v2, *v3, *v4, *v5, *v6, *v7]);
    let mut r = Reader::new(rest);
    let t = r.varint().ok()? as i64;
    r.is_empty().then_some(Sample { t, v })
}

fn label<'a>(r: &mut Reader<'a>) -> Result<Label<'a>> {
    let mut l = Label {
        name: "",
        value: "",
    };
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => l.name = r.string()?,
            (2, WireType::Len) => l.value = r.string()?,
            (1 | 2, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(l)
}

fn sample(r: &mut Reader<'_>) -> Result<Sample> {
    let mut s = Sample { t: 0, v: 0.0 };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => s.v = r.f64(wt)?,
            (2, wt) => s.t = r.i64(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(s)
}

fn exemplar<'a>(r: &mut Reader<'a>, req: &mut WriteRequest<'a>) -> Result<Exemplar> {
    let start = idx(req.exemplar_labels.len());
    let (mut t, mut v) = (0, 0.0);
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => {
                let l = label(&mut r.sub()?)?;
                req.exemplar_labels.push(l);
            }
            (1, wt) => r.expect(wt, WireType::Len)?,
            (2, wt) => v = r.f64(wt)?,
            (3, wt) => t = r.i64(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(Exemplar {
        t,
        v,
        labels: start..idx(req.exemplar_labels.len()),
    })
}

fn metadata<'a>(r: &mut Reader<'a>) -> Result<FamilyMetadata<'a>> {
    let mut m = FamilyMetadata {
        metric_type: 0,
        family: "",
        help: "",
        unit: "",
    };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => m.metric_type = r.i32(wt)?,
            (2, WireType::Len) => m.family = r.string()?,
            (4, WireType::Len) => m.help = r.string()?,
            (5, WireType::Len) => m.unit = r.string()?,
            (2 | 4 | 5, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A label or sample message: well formed (in either field order, with or without
    /// each field, with strings of any length and content) or arbitrary bytes.
    fn message() -> impl Strategy<Value = Vec<u8>> {
        let string = prop_oneof![
            "[a-z_]{0,8}".prop_map(String::into_bytes),
            any::<String>().prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..200),
        ];
        let field = |key: u8, bytes: Vec<u8>| {
            let mut f = vec![key];
            let mut len = bytes.len();
            while len >= 0x80 {
                f.push(len as u8 | 0x80);
                len >>= 7;
            }
            f.push(len as u8);
            f.extend(bytes);
            f
        };
        let label = (string.clone(), string, any::<bool>()).prop_map(move |(n, v, swap)| {
            let (n, v) = (field(0x0a, n), field(0x12, v));
            if swap {
                [v, n].concat()
            } else {
                [n, v].concat()
            }
        });
        let sample = (any::<f64>(), any::<i64>(), any::<bool>()).prop_map(|(v, t, swap)| {
            let mut vf = vec![0x09];
            vf.extend(v.to_le_bytes());
            let mut tf = vec![0x10];
            let mut t = t as u64;
            while t >= 0x80 {
                tf.push(t as u8 | 0x80);
                t >>= 7;
            }
            tf.push(t as u8);
            if swap {
                [tf, vf].concat()
            } else {
                [vf, tf].concat()
            }
        });
        prop_oneof![label, sample, prop::collection::vec(any::<u8>(), 0..24),]
            .prop_flat_map(|m| {
                // A few of them cut short or with a byte changed.
                let len = m.len();
                (Just(m), 0..=len, any::<Option<(prop::sample::Index, u8)>>())
            })
            .prop_map(|(mut m, cut, flip)| {
                if let Some((i, b)) = flip.filter(|_| !m.is_empty()) {
                    let at = i.index(m.len());
                    m[at] = b;
                }
                if cut % 4 == 0 {
                    m.truncate(cut);
                }
                m
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn fast_paths_agree_with_the_general_walk(m in message()) {
            // Wherever a fast path answers, the general walk answers the same.
            if let Some(fast) = name_value(&m) {
                let slow = label(&mut Reader::new(&m).ascii_checked()).expect("general walk");
                prop_assert_eq!(fast, slow);
            }
            if let Some(fast) = value_timestamp(&m) {
                let slow = sample(&mut Reader::new(&m)).expect("general walk");
                prop_assert_eq!((fast.t, fast.v.to_bits()), (slow.t, slow.v.to_bits()));
            }
        }
    }

    #[test]
    fn fast_paths_take_the_common_layouts() {
        let l = [
            0x0a, 0x03, b'j', b'o', b'b', 0x12, 0x04, b'n', b'o', b'd', b'e',
        ];
        assert_eq!(
            name_value(&l),
            Some(Label {
                name: "job",
                value: "node"
            })
        );
        // Non-ASCII text and other layouts go the general way.
        assert_eq!(name_value(&[0x0a, 0x01, 0xc3, 0x12, 0x00]), None);
        assert_eq!(name_value(&[0x12, 0x00, 0x0a, 0x00]), None);
        let mut s = vec![0x09];
        s.extend(1.5f64.to_le_bytes());
        s.extend([0x10, 0xe8, 0x07]);
        let got = value_timestamp(&s).expect("fast path");
        assert_eq!((got.t, got.v), (1000, 1.5));
        assert!(value_timestamp(&s[..s.len() - 1]).is_none());
    }
}
