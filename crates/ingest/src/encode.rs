//! Building request bodies (protobuf, then snappy block) from the [`crate::proto`] types:
//! for tests, the load generator and fuzz seeds.

use prost::Message;

use crate::proto::{v1, v2};
use crate::snappy::compress;

/// An RW1 body: `prometheus.WriteRequest`, snappy-compressed.
pub fn encode_v1(req: &v1::WriteRequest) -> Vec<u8> {
    compress(&req.encode_to_vec())
}

/// An RW2 body: `io.prometheus.write.v2.Request`, snappy-compressed.
pub fn encode_v2(req: &v2::Request) -> Vec<u8> {
    compress(&req.encode_to_vec())
}

/// Builds an RW2 symbol table: [`SymbolTable::intern`] returns a string's reference.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    symbols: Vec<String>,
    index: std::collections::HashMap<String, u32>,
}

impl Default for SymbolTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SymbolTable {
    /// A table holding only `""` at index 0.
    pub fn new() -> Self {
        let mut index = std::collections::HashMap::new();
        index.insert(String::new(), 0);
        SymbolTable {
            symbols: vec![String::new()],
            index,
        }
    }

    /// The reference of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&r) = self.index.get(s) {
            return r;
        }
        let r = u32::try_from(self.symbols.len()).expect("fewer than 2^32 symbols");
        self.symbols.push(s.to_owned());
        self.index.insert(s.to_owned(), r);
        r
    }

    /// Name/value references for `labels`.
    pub fn refs<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u32> {
        let mut out = Vec::new();
        for (n, v) in labels {
            out.push(self.intern(n));
            out.push(self.intern(v));
        }
        out
    }

    /// The symbols, for [`v2::Request::symbols`].
    pub fn into_symbols(self) -> Vec<String> {
        self.symbols
    }
}
