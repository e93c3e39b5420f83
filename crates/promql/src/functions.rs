//! Pure kernels behind PromQL's functions: no storage, no AST, just samples in and
//! values out, so each is unit-tested against Prometheus's definitions.
//!
//! * [`range`]: functions over the points of a range vector (`rate`, `*_over_time`, ...).
//! * [`math`]: per-sample float functions (`abs`, `ln`, trig, ...).
//! * [`time`]: date functions (`hour`, `day_of_week`, ...).
//! * [`label`]: `label_replace`, `label_join`.
//! * [`quantile`]: `histogram_quantile` over classic buckets and the `quantile` aggregation.

pub mod label;
pub mod math;
pub mod quantile;
pub mod range;
pub mod time;
