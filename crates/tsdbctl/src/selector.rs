//! Series selectors given on the command line (`--match 'up{job="node"}'`), parsed with the
//! PromQL parser the query engine uses.

use anyhow::{Result, bail};
use tsdb::labels::Matcher;

/// The matchers of a series selector such as `{job="x"}` or `up{a=~"b.*"}`.
pub(crate) fn parse(s: &str) -> Result<Vec<Matcher>> {
    let expr = promql_parser::parser::parse(s)
        .map_err(|e| anyhow::anyhow!("invalid series selector {s:?}: {e}"))?;
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        bail!("invalid series selector {s:?}: not a series selector");
    };
    if vs.offset.is_some() || vs.at.is_some() {
        bail!("invalid series selector {s:?}: offset and @ are not allowed");
    }
    let ms = promql::engine::selector_matchers(&vs)
        .map_err(|e| anyhow::anyhow!("invalid series selector {s:?}: {e}"))?;
    Ok(ms)
}
