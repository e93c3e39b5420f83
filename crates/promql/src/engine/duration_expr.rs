//! Duration expressions (`x[5m*2]`, `x[1h:30s+30s]`, `x offset (1h+5m)`), which
//! `promql-parser` does not parse: the query text is rewritten with each expression
//! replaced by its value in milliseconds, then parsed again.
//!
//! Only used when the query does not parse as written, so valid queries are untouched.

/// The query with its duration expressions evaluated, or `None` when there is nothing
/// to rewrite (or an expression does not evaluate).
pub(crate) fn rewrite(query: &str) -> Option<String> {
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    let mut changed = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => {
                let end = skip_string(b, i)?;
                out.push_str(&query[i..end]);
                i = end;
            }
            b'[' => {
                let end = matching(b, i, b'[', b']')?;
                let inner = &query[i + 1..end];
                let mut parts = split_top_colon(inner);
                let mut rewritten = Vec::new();
                for p in parts.iter_mut() {
                    rewritten.push(rewrite_part(p, &mut changed)?);
                }
                out.push('[');
                out.push_str(&rewritten.join(":"));
                out.push(']');
                i = end + 1;
            }
            _ if starts_keyword(b, i, "offset") => {
                out.push_str("offset");
                i += "offset".len();
                let mut j = i;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let neg = j < b.len() && b[j] == b'-';
                let k = if neg { j + 1 } else { j };
                let mut k2 = k;
                while k2 < b.len() && b[k2].is_ascii_whitespace() {
                    k2 += 1;
                }
                if k2 < b.len() && b[k2] == b'(' {
                    let end = matching(b, k2, b'(', b')')?;
                    let secs = eval(&query[k2..=end])?;
                    let ms = to_ms(if neg { -secs } else { secs })?;
                    out.push(' ');
                    out.push_str(&format!("{ms}ms"));
                    changed = true;
                    i = end + 1;
                }
            }
            _ => {
                let ch = query[i..].chars().next()?;
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    changed.then_some(out)
}

/// Whether the keyword `kw` starts at `i` as a whole word.
fn starts_keyword(b: &[u8], i: usize, kw: &str) -> bool {
    let k = kw.as_bytes();
    if b.len() < i + k.len() || !b[i..i + k.len()].eq_ignore_ascii_case(k) {
        return false;
    }
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    (i == 0 || !word(b[i - 1])) && (i + k.len() == b.len() || !word(b[i + k.len()]))
}

fn skip_string(b: &[u8], start: usize) -> Option<usize> {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' && q != b'`' {
            i += 2;
            continue;
        }
        if b[i] == q {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn matching(b: &[u8], start: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0;
    for (i, &c) in b.iter().enumerate().skip(start) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn split_top_colon(s: &str) -> Vec<String> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth == 0 => return vec![s[..i].to_string(), s[i + 1..].to_string()],
            _ => {}
        }
    }
    vec![s.to_string()]
}

/// A bracket part: unchanged when it is empty or a plain literal, else its value in ms.
fn rewrite_part(p: &str, changed: &mut bool) -> Option<String> {
    let t = p.trim();
    if t.is_empty() || t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.') {
        return Some(p.to_string());
    }
    let ms = to_ms(eval(t)?)?;
    *changed = true;
    Some(format!("{ms}ms"))
}

fn to_ms(secs: f64) -> Option<i64> {
    let ms = (secs * 1000.0).round();
    (ms.is_finite() && ms.abs() < 9.2e18).then_some(ms as i64)
}

/// Evaluates a duration expression to seconds.
fn eval(s: &str) -> Option<f64> {
    let toks = lex(s)?;
    let mut p = Parser { toks, pos: 0 };
    let v = p.expr()?;
    (p.pos == p.toks.len()).then_some(v)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Op(u8),
}

fn lex(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b"+-*/%^()".contains(&c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c.is_ascii_digit() || c == b'.' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Num(literal(&s[start..i])?));
        } else {
            return None;
        }
    }
    Some(out)
}

/// A number (seconds) or a duration literal such as `1h30m` or `8000ms`.
fn literal(s: &str) -> Option<f64> {
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total = 0.0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: f64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &s[ustart..i] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "y" => 31_536_000.0,
            _ => return None,
        };
        total += n * unit;
    }
    Some(total)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).copied()
    }

    fn expr(&mut self) -> Option<f64> {
        let mut v = self.term()?;
        while let Some(Tok::Op(op @ (b'+' | b'-'))) = self.peek() {
            self.pos += 1;
            let r = self.term()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Some(v)
    }

    fn term(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(Tok::Op(op @ (b'*' | b'/' | b'%'))) = self.peek() {
            self.pos += 1;
            let r = self.unary()?;
            v = match op {
                b'*' => v * r,
                b'/' => v / r,
                _ => v % r,
            };
        }
        Some(v)
    }

    fn unary(&mut self) -> Option<f64> {
        match self.peek()? {
            Tok::Op(b'-') => {
                self.pos += 1;
                Some(-self.unary()?)
            }
            Tok::Op(b'+') => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.atom()?;
        if let Some(Tok::Op(b'^')) = self.peek() {
            self.pos += 1;
            let e = self.unary()?;
            return Some(base.powf(e));
        }
        Some(base)
    }

    fn atom(&mut self) -> Option<f64> {
        match self.peek()? {
            Tok::Num(v) => {
                self.pos += 1;
                Some(v)
            }
            Tok::Op(b'(') => {
                self.pos += 1;
                let v = self.expr()?;
                if self.peek()? != Tok::Op(b')') {
                    return None;
                }
                self.pos += 1;
                Some(v)
            }
            Tok::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn rewrites_brackets_and_offsets() {
        assert_eq!(rewrite("x[30m]"), None);
        assert_eq!(rewrite("x[26m+4m]").as_deref(), Some("x[1800000ms]"));
        assert_eq!(
            rewrite("x[30m1s-30m1s % 1m]").as_deref(),
            Some("x[1800000ms]")
        );
        assert_eq!(
            rewrite("s(x[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms])").as_deref(),
            Some("s(x[30000ms:10000ms])")
        );
        assert_eq!(
            rewrite("x offset (-2 ^ 2)").as_deref(),
            Some("x offset -4000ms")
        );
        assert_eq!(
            rewrite("x offset -(2 * 2)").as_deref(),
            Some("x offset -4000ms")
        );
        assert_eq!(rewrite("x{a=\"[1+1]\"} offset 5m"), None);
    }
}
