//! `label_replace` and `label_join` (skeleton: bodies come with the kernels work).

use tsdb::labels::Labels;

/// `label_replace(v, dst, replacement, src, regex)` on one label set. `regex` is already
/// anchored (`^(?s:...)$`). Returns the labels unchanged when the regex does not match.
pub fn label_replace(
    labels: &Labels,
    _dst: &str,
    _replacement: &str,
    _src: &str,
    _regex: &regex::Regex,
) -> Labels {
    labels.clone()
}

/// `label_join(v, dst, separator, src...)` on one label set.
pub fn label_join(labels: &Labels, _dst: &str, _separator: &str, _srcs: &[String]) -> Labels {
    labels.clone()
}
