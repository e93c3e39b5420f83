//! [`Symbol`]: a reference-counted immutable string behind one thin pointer.
//!
//! A label is two symbols and the head keeps one label set per series, so the width of a
//! symbol is paid twice per label per series. `Arc<str>` is a fat pointer (address and
//! length, 16 bytes); a `Symbol` keeps the length in its allocation, next to the
//! reference count, and is 8 bytes. The allocation is as large as `Arc<str>`'s (a
//! 16-byte header, then the bytes), so interning costs the same and each label set
//! is half as large: 96 bytes less per series of six labels.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

/// The start of a symbol's allocation; the string's bytes follow it.
#[repr(C)]
struct Header {
    count: AtomicUsize,
    len: usize,
}

/// Reference counts above this abort, as `Arc`'s do (a leak of clones, never real use).
const MAX_COUNT: usize = isize::MAX as usize;

/// An interned (or merely shared) immutable string.
pub struct Symbol {
    /// Invariant: points to a live allocation made by [`Symbol::new`] with
    /// [`layout`]`(len)`, holding a [`Header`] whose `count` is the number of `Symbol`s
    /// pointing to it and whose `len` bytes after the header are valid UTF-8.
    ptr: NonNull<Header>,
}

// SAFETY: the string is immutable and the count is atomic, as in `Arc<str>`.
unsafe impl Send for Symbol {}
// SAFETY: as above: shared references only read the bytes and update the atomic count.
unsafe impl Sync for Symbol {}

/// The layout of a symbol of `len` bytes: the header, then the bytes.
fn layout(len: usize) -> Layout {
    let header = Layout::new::<Header>();
    let bytes = Layout::array::<u8>(len).expect("string length fits a layout");
    let (l, offset) = header.extend(bytes).expect("symbol layout");
    debug_assert_eq!(offset, size_of::<Header>());
    l.pad_to_align()
}

impl Symbol {
    /// A symbol that is not interned anywhere.
    pub fn new(s: &str) -> Self {
        let l = layout(s.len());
        // SAFETY: the layout is non-zero-sized (it holds the header).
        let raw = unsafe { alloc(l) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            handle_alloc_error(l)
        };
        // SAFETY: `ptr` is a fresh allocation of `l` bytes, aligned for `Header`, with
        // room for `s.len()` bytes after the header.
        unsafe {
            ptr.as_ptr().write(Header {
                count: AtomicUsize::new(1),
                len: s.len(),
            });
            std::ptr::copy_nonoverlapping(s.as_ptr(), Self::bytes_ptr(ptr), s.len());
        }
        Symbol { ptr }
    }

    /// Where the bytes of the symbol at `ptr` start.
    fn bytes_ptr(ptr: NonNull<Header>) -> *mut u8 {
        // SAFETY: the bytes follow the header inside the same allocation.
        unsafe { ptr.as_ptr().cast::<u8>().add(size_of::<Header>()) }
    }

    fn header(&self) -> &Header {
        // SAFETY: by the invariant, `ptr` points to a live header while `self` exists.
        unsafe { self.ptr.as_ref() }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        let len = self.header().len;
        // SAFETY: by the invariant, `len` bytes of valid UTF-8 follow the header and live
        // as long as `self`; they are never written after `new`.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                Self::bytes_ptr(self.ptr),
                len,
            ))
        }
    }

    /// Whether two symbols share one allocation (both came from the same table).
    pub fn ptr_eq(a: &Symbol, b: &Symbol) -> bool {
        a.ptr == b.ptr
    }

    /// The address of the allocation: equal for symbols that [`Symbol::ptr_eq`], distinct
    /// for live symbols that are not (a key for telling shared symbols apart without
    /// reading them).
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// How many symbols share this one's allocation (itself included).
    pub(crate) fn ref_count(&self) -> usize {
        self.header().count.load(Ordering::Acquire)
    }
}

impl Clone for Symbol {
    fn clone(&self) -> Self {
        // Relaxed as in `Arc::clone`: the new reference comes from an existing one, so
        // the allocation cannot be freed meanwhile.
        let old = self.header().count.fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
        Symbol { ptr: self.ptr }
    }
}

impl Drop for Symbol {
    fn drop(&mut self) {
        // Release/Acquire as in `Arc::drop`: every use of the string by other owners
        // happens before the last owner frees it.
        if self.header().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let l = layout(self.header().len);
        // SAFETY: this was the last reference; the allocation was made with `l`.
        unsafe { dealloc(self.ptr.as_ptr().cast(), l) };
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        Symbol::ptr_eq(self, other) || self.as_str() == other.as_str()
    }
}

impl Eq for Symbol {}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Symbol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Symbol {
    /// Hashes as the `str` does, so maps keyed by symbols can be searched by `&str`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Deref for Symbol {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Symbol {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Symbol {
    fn from(s: &str) -> Self {
        Symbol::new(s)
    }
}

impl From<String> for Symbol {
    fn from(s: String) -> Self {
        Symbol::new(&s)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn is_one_pointer_wide() {
        assert_eq!(size_of::<Symbol>(), size_of::<usize>());
        assert_eq!(size_of::<Option<Symbol>>(), size_of::<usize>());
    }

    #[test]
    fn holds_any_string() {
        let long = "x".repeat(1000);
        for s in ["", "a", "namespace", "κόσμε ✓", long.as_str()] {
            let sym = Symbol::new(s);
            assert_eq!(sym.as_str(), s);
            assert_eq!(&*sym, s);
            assert_eq!(sym.to_string(), s);
            assert_eq!(format!("{sym:?}"), format!("{s:?}"));
        }
    }

    #[test]
    fn clones_share_and_count() {
        let a = Symbol::new("pod");
        assert_eq!(a.ref_count(), 1);
        let b = a.clone();
        assert!(Symbol::ptr_eq(&a, &b));
        assert_eq!(a.ref_count(), 2);
        drop(b);
        assert_eq!(a.ref_count(), 1);
        let c = Symbol::new("pod");
        assert!(!Symbol::ptr_eq(&a, &c));
        assert_eq!(a, c);
    }

    #[test]
    fn orders_and_hashes_like_str() {
        let mut v: Vec<Symbol> = ["b", "a", "ab", ""].into_iter().map(Symbol::new).collect();
        v.sort();
        let s: Vec<&str> = v.iter().map(Symbol::as_str).collect();
        assert_eq!(s, ["", "a", "ab", "b"]);
        let set: HashSet<Symbol> = v.iter().cloned().collect();
        assert!(set.contains("ab"));
        assert!(!set.contains("c"));
    }

    #[test]
    fn survives_sharing_across_threads() {
        let s = Symbol::new("shared");
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        let c = s.clone();
                        assert_eq!(c.as_str(), "shared");
                    }
                });
            }
        });
        assert_eq!(s.ref_count(), 1);
    }
}
