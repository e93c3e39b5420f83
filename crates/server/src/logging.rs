//! Structured logs through `tracing`, as logfmt (the default) or JSON lines, like
//! Prometheus's `--log.format`.
//!
//! A logfmt line reads `time=2026-01-02T03:04:05.678Z level=info target=server msg="ready"
//! replay_ms=12`; a JSON line has the same keys. `RUST_LOG`, if set, replaces
//! `--log.level` (handy for `server=trace`).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Fails if the level is not a valid filter.
pub fn init(config: &LogConfig) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => tracing_subscriber::EnvFilter::try_new(v),
        _ => tracing_subscriber::EnvFilter::try_new(&config.level),
    }
    .map_err(|e| format!("log level {:?}: {e}", config.level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(LineFormat(config.format))
        .try_init()
        .map_err(|e| e.to_string())
}

/// Formats one event as one line.
#[derive(Debug, Clone, Copy)]
pub struct LineFormat(pub LogFormat);

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.pairs.push((field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let v = format!("{value:?}");
        if field.name() == "message" {
            self.message = v;
        } else {
            self.pairs.push((field.name(), v));
        }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut time = String::new();
        SystemTime.format_time(&mut Writer::new(&mut time))?;
        let meta = event.metadata();
        let level = meta.level().as_str().to_ascii_lowercase();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = match self.0 {
            LogFormat::Logfmt => {
                let mut s = format!("time={time} level={level} target={}", meta.target());
                let _ = write!(s, " msg={}", logfmt_value(&fields.message));
                for (k, v) in &fields.pairs {
                    let _ = write!(s, " {k}={}", logfmt_value(v));
                }
                s
            }
            LogFormat::Json => {
                let mut map = serde_json::Map::new();
                map.insert("time".into(), time.into());
                map.insert("level".into(), level.into());
                map.insert("target".into(), meta.target().into());
                map.insert("msg".into(), fields.message.into());
                for (k, v) in fields.pairs {
                    map.insert(k.into(), v.into());
                }
                serde_json::Value::Object(map).to_string()
            }
        };
        writeln!(writer, "{line}")
    }
}

/// A logfmt value: bare when it can be, quoted with Go-style escapes otherwise.
fn logfmt_value(v: &str) -> String {
    let bare = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if bare { v.to_owned() } else { format!("{v:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quotes_only_when_needed() {
        assert_eq!(logfmt_value("ready"), "ready");
        assert_eq!(logfmt_value("127.0.0.1:9201"), "127.0.0.1:9201");
        assert_eq!(logfmt_value("two words"), "\"two words\"");
        assert_eq!(logfmt_value(""), "\"\"");
        assert_eq!(logfmt_value("a=b"), "\"a=b\"");
        assert_eq!(logfmt_value("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
