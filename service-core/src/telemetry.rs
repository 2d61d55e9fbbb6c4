//! Logging through `tracing`: human-readable or JSON lines on stdout,
//! filtered by `RUST_LOG` (default `info`).
//!
//! The lines are those of `tracing-subscriber`'s `fmt` (its `Full` text
//! format without targets, or its flattened JSON with the current span),
//! written by [`Line`], a formatter of our own: `fmt`'s formatters go
//! through `core::fmt` and ANSI styling for every piece of every line, which
//! cost about 9,000 instructions per request when [`Line`] replaced them
//! (`scripts/bench-callgrind`); the whole line now costs about 3,100 at a
//! leaf (`name`: 20,442 with it, 17,372 without). `fmt` still does the
//! rest: span bookkeeping, the per-thread buffer, one `write` per line.
//!
//! The pieces are stock where that costs little, measured against the
//! hand-written ones they replaced (`name`, instructions per request): the
//! timestamp is `humantime`'s (about 300 more), JSON strings are escaped by
//! `serde_json` (about 940 more, JSON format only), request ids are
//! `uuid`'s ([`router`](crate::router), 480 fewer). Each is under the 1,000
//! that would justify keeping code of our own.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{ConfigError, Env, LogFormat};

/// The filter from `RUST_LOG`, or `info`; a filter that does not parse is
/// a configuration error naming `RUST_LOG`.
pub fn filter(env: &Env) -> Result<EnvFilter, ConfigError> {
    let directives = env.get("RUST_LOG").unwrap_or("info");
    EnvFilter::try_new(directives).map_err(|e| ConfigError {
        var: "RUST_LOG",
        problem: format!("{directives:?} is not a log filter: {e}"),
    })
}

/// Installs the global subscriber. A second call leaves the first in place.
pub fn init(format: LogFormat, filter: EnvFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stdout)
        .with_ansi(format == LogFormat::Text && std::io::stdout().is_terminal())
        .event_format(Line { format });
    // Err only when a subscriber is already set, which is fine to keep.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // Span fields kept as JSON, as `fmt`'s JSON format keeps them.
        LogFormat::Json => builder.fmt_fields(JsonFields::new()).try_init(),
    };
}

/// Lines are written at once (one `write` each) until this is called;
/// after, info and debug lines gather and are written when [`flush`] runs or
/// 32 KiB are waiting, warnings and errors at once. Only for a process whose
/// runtime calls [`flush`] before it waits (`on_thread_park`), as
/// [`server::launch`](crate::server::launch) does, and again before exit: a
/// line then waits at most until its thread has nothing else to do, and a
/// busy service makes one `write` per few hundred lines instead of one each.
///
/// A panic writes what is gathered before the panic's own message (a hook
/// installed here, ahead of the one before it), so the lines that led up to
/// it are not lost with the process. A SIGKILL, or an abort that skips the
/// hook, loses the info and debug lines gathered since the thread last
/// went idle: at most 32 KiB, never a warning or an error.
pub fn write_when_idle() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A panic of the thread that holds the lock, in the middle of
            // gathering, must not wait for itself.
            if !HOLDING.get() {
                flush();
            }
            previous(info);
        }));
    });
    GATHER.store(true, Ordering::Relaxed);
}

/// Writes the lines gathered so far (see [`write_when_idle`]).
pub fn flush() {
    with_gathered(write_out);
}

static GATHER: AtomicBool = AtomicBool::new(false);
static GATHERED: Mutex<Vec<u8>> = Mutex::new(Vec::new());
const GATHER_BYTES: usize = 32 * 1024;

thread_local! {
    /// Whether this thread holds [`GATHERED`]'s lock.
    static HOLDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on the gathered lines, holding their lock.
fn with_gathered<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    let mut gathered = GATHERED.lock().unwrap_or_else(PoisonError::into_inner);
    HOLDING.set(true);
    let result = f(&mut gathered);
    HOLDING.set(false);
    result
}

fn write_out(gathered: &mut Vec<u8>) {
    if !gathered.is_empty() {
        // A failed write of a log line has nowhere to be reported.
        let _ = std::io::stdout().lock().write_all(gathered);
        gathered.clear();
    }
}

/// Stdout, for `fmt`: each line at once, or gathered (see [`write_when_idle`]).
#[derive(Debug, Clone, Copy)]
struct Stdout;

/// One line's writer; `urgent` for warnings and errors.
struct LineWriter {
    urgent: bool,
}

impl<'a> MakeWriter<'a> for Stdout {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter { urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

impl std::io::Write for LineWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.write_all(line)?;
        Ok(line.len())
    }

    fn write_all(&mut self, line: &[u8]) -> std::io::Result<()> {
        if !GATHER.load(Ordering::Relaxed) {
            return std::io::stdout().write_all(line);
        }
        with_gathered(|gathered| {
            gathered.extend_from_slice(line);
            if self.urgent || gathered.len() >= GATHER_BYTES {
                write_out(gathered);
            }
        });
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Formats one event as one line, byte for byte as `fmt` would with this
/// crate's settings:
///
/// ```text
/// 2026-11-27T21:55:52.123456Z  INFO served method=GET path="/" status=200 latency_us=12 request_id="..."
/// {"timestamp":"2026-11-27T21:55:52.123456Z","level":"INFO","message":"served","method":"GET","path":"/",...}
/// ```
///
/// Text: the timestamp, the level, the spans from the root as
/// `name{fields}:`, then the fields, the message first and unquoted, strings
/// quoted (`Debug`), `%`-values as `Display`. JSON: one object with
/// `timestamp`, `level`, the fields flattened, and the current span's fields
/// and `name` under `span`.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut out: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = out.has_ansi_escapes();
        let sanitize = out.sanitizes_ansi_escapes();
        LINE.with(|line| {
            // A value whose `Debug` logs finds the buffer taken: a fresh one.
            let (mut reused, mut fresh);
            let writer = match line.try_borrow_mut() {
                Ok(line) => {
                    reused = line;
                    reused.clear();
                    &mut *reused
                }
                Err(_) => {
                    fresh = String::new();
                    &mut fresh
                }
            };
            self.format(ctx, writer, event, ansi, sanitize)?;
            out.write_str(writer)
        })
    }
}

impl Line {
    fn format<S, N>(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: &mut String,
        event: &Event<'_>,
        ansi: bool,
        sanitize: bool,
    ) -> fmt::Result
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let level = *event.metadata().level();
        let stamp = timestamp(SystemTime::now());
        match self.format {
            LogFormat::Text => {
                text_head(writer, &stamp, level, ansi)?;
                if let Some(scope) = ctx.event_scope() {
                    let mut seen = false;
                    for span in scope.from_root() {
                        paint(writer, ansi, BOLD, span.metadata().name())?;
                        let extensions = span.extensions();
                        let fields = extensions.get::<FormattedFields<N>>().map_or("", |f| f.as_str());
                        if !fields.is_empty() {
                            paint(writer, ansi, BOLD, "{")?;
                            writer.write_str(fields)?;
                            paint(writer, ansi, BOLD, "}")?;
                        }
                        paint(writer, ansi, DIMMED, ":")?;
                        seen = true;
                    }
                    if seen {
                        writer.write_char(' ')?;
                    }
                }
                let mut fields = TextFields {
                    writer,
                    ansi,
                    sanitize,
                    first: true,
                    result: Ok(()),
                };
                event.record(&mut fields);
                fields.result?;
            }
            LogFormat::Json => {
                write!(writer, "{{\"timestamp\":\"{stamp}")?;
                writer.write_str("\",\"level\":\"")?;
                writer.write_str(level.as_str())?;
                writer.write_char('"')?;
                let mut fields = JsonFieldsOf {
                    writer,
                    result: Ok(()),
                };
                event.record(&mut fields);
                fields.result?;
                let span = event
                    .parent()
                    .and_then(|id| ctx.span(id))
                    .or_else(|| ctx.lookup_current());
                if let Some(span) = span {
                    // The span's fields are a JSON object already (JsonFields):
                    // its name goes in as the last key.
                    writer.write_str(",\"span\":")?;
                    let extensions = span.extensions();
                    let object = extensions
                        .get::<FormattedFields<N>>()
                        .map(|fields| fields.fields.trim())
                        .filter(|fields| fields.starts_with('{') && fields.ends_with('}'))
                        .map_or("", |fields| fields[1..fields.len() - 1].trim());
                    writer.write_char('{')?;
                    if !object.is_empty() {
                        writer.write_str(object)?;
                        writer.write_char(',')?;
                    }
                    writer.write_str("\"name\":")?;
                    json_str(writer, span.metadata().name())?;
                    writer.write_char('}')?;
                }
                writer.write_char('}')?;
            }
        }
        writer.write_char('\n')
    }
}

thread_local! {
    /// The line being formatted: built with plain `String` pushes, then
    /// handed to `fmt`'s writer in one piece.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

const DIMMED: &str = "\x1b[2m";
const ITALIC: &str = "\x1b[3m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// `text` in `style` when `ansi`, else plain.
#[inline]
fn paint(writer: &mut String, ansi: bool, style: &str, text: &str) -> fmt::Result {
    if ansi {
        writer.write_str(style)?;
        writer.write_str(text)?;
        writer.write_str(RESET)
    } else {
        writer.write_str(text)
    }
}

fn text_head(writer: &mut String, stamp: &impl fmt::Display, level: Level, ansi: bool) -> fmt::Result {
    if ansi {
        write!(writer, "{DIMMED}{stamp}{RESET}")?;
    } else {
        write!(writer, "{stamp}")?;
    }
    writer.write_char(' ')?;
    let (padded, colour) = match level {
        Level::TRACE => ("TRACE", "\x1b[35m"),
        Level::DEBUG => ("DEBUG", "\x1b[34m"),
        Level::INFO => (" INFO", "\x1b[32m"),
        Level::WARN => (" WARN", "\x1b[33m"),
        Level::ERROR => ("ERROR", "\x1b[31m"),
    };
    paint(writer, ansi, colour, padded)?;
    writer.write_char(' ')
}

/// `now` as `fmt`'s timestamp, `2026-11-27T21:55:52.123456Z` (RFC 3339,
/// UTC, microseconds), by `humantime`. A clock before 1970 reads as the
/// epoch, one past 9999 as its last microsecond, where `humantime` would
/// panic or fail.
fn timestamp(now: SystemTime) -> humantime::Rfc3339Timestamp {
    let last = UNIX_EPOCH + Duration::from_micros(253_402_300_799_999_999);
    humantime::format_rfc3339_micros(now.clamp(UNIX_EPOCH, last))
}

/// An event's fields as `fmt`'s `DefaultFields` writes them.
struct TextFields<'a> {
    writer: &'a mut String,
    ansi: bool,
    sanitize: bool,
    first: bool,
    result: fmt::Result,
}

impl TextFields<'_> {
    /// The separator and `name=`; `false` for a field not to print.
    fn name(&mut self, field: &Field) -> bool {
        let name = field.name();
        // Fields of a `log` record, already in its metadata.
        if self.result.is_err() || name.starts_with("log.") {
            return false;
        }
        if !std::mem::replace(&mut self.first, false) {
            self.writer.push(' ');
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            if self.ansi {
                self.result = paint(self.writer, true, ITALIC, name)
                    .and_then(|()| paint(self.writer, true, DIMMED, "="));
            } else {
                self.writer.push_str(name);
                self.writer.push('=');
            }
        }
        true
    }
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.name(field) {
            return;
        }
        self.result = if field.name() == "message" {
            Sanitized(self.writer, self.sanitize).write_str(value)
        } else if value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            // What `Debug` prints for a string with nothing to escape.
            self.writer
                .write_char('"')
                .and_then(|()| self.writer.write_str(value))
                .and_then(|()| self.writer.write_char('"'))
        } else {
            write!(self.writer, "{value:?}")
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.name(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.name(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.name(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.name(field) {
            return;
        }
        self.result = write!(Sanitized(self.writer, self.sanitize), "{value}");
        let mut source = value.source();
        if source.is_some() && self.result.is_ok() {
            let name = field.name();
            let name = name.strip_prefix("r#").unwrap_or(name);
            let mut list = String::from("[");
            while let Some(error) = source {
                if list.len() > 1 {
                    list.push_str(", ");
                }
                list.push_str(&error.to_string());
                source = error.source();
            }
            list.push(']');
            self.result = self
                .writer
                .write_char(' ')
                .and_then(|()| paint(self.writer, self.ansi, ITALIC, name))
                .and_then(|()| paint(self.writer, self.ansi, ITALIC, ".sources"))
                .and_then(|()| paint(self.writer, self.ansi, DIMMED, "="))
                .and_then(|()| Sanitized(self.writer, self.sanitize).write_str(&list));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.name(field) {
            return;
        }
        self.result = if field.name() == "message" {
            write!(Sanitized(self.writer, self.sanitize), "{value:?}")
        } else {
            write!(self.writer, "{value:?}")
        };
    }
}

/// Writes text as is, but with terminal control characters escaped when
/// its flag is set, as `fmt` writes messages: a logged value cannot drive
/// the terminal.
struct Sanitized<'a>(&'a mut String, bool);

impl fmt::Write for Sanitized<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let escaped = |c: char| {
            matches!(
                c,
                '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
            )
        };
        if !self.1 || !text.chars().any(escaped) {
            return self.0.write_str(text);
        }
        for c in text.chars() {
            if escaped(c) {
                write!(self.0, "\\x{:02x}", c as u32)?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// An event's fields as JSON members, each after a comma, as `fmt`'s
/// flattened JSON writes them: strings and `Debug` values as strings,
/// numbers and booleans as themselves.
struct JsonFieldsOf<'a> {
    writer: &'a mut String,
    result: fmt::Result,
}

impl JsonFieldsOf<'_> {
    fn key(&mut self, field: &Field) -> bool {
        if self.result.is_ok() {
            self.result = self
                .writer
                .write_char(',')
                .and_then(|()| json_str(self.writer, field.name()))
                .and_then(|()| self.writer.write_char(':'));
        }
        self.result.is_ok()
    }
}

impl Visit for JsonFieldsOf<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            self.result = json_str(self.writer, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            self.result = write!(self.writer, "{}", serde_json::Value::from(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.key(field) {
            self.result = self
                .writer
                .write_char('"')
                .and_then(|()| write!(JsonEscaped(self.writer), "{value:?}"))
                .and_then(|()| self.writer.write_char('"'));
        }
    }
}

/// `text` as a JSON string, escaped by `serde_json`.
fn json_str(writer: &mut String, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    JsonEscaped(writer).write_str(text)?;
    writer.write_char('"')
}

/// Writes text escaped for the inside of a JSON string, by `serde_json`'s
/// own escaping (the quotes are the caller's), so that lines read exactly
/// as `fmt`'s JSON format, which writes through `serde_json`, writes them.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        use serde::Serializer as _;
        let mut serializer = serde_json::Serializer::with_formatter(Utf8(self.0), Unquoted);
        serializer.serialize_str(text).map_err(|_| fmt::Error)
    }
}

/// `serde_json`'s compact output without the quotes around strings.
struct Unquoted;

impl serde_json::ser::Formatter for Unquoted {
    fn begin_string<W: std::io::Write + ?Sized>(&mut self, _: &mut W) -> std::io::Result<()> {
        Ok(())
    }

    fn end_string<W: std::io::Write + ?Sized>(&mut self, _: &mut W) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `String` as an `io::Write` for `serde_json`, which writes a string's
/// escaped form as UTF-8 pieces (it cuts only at ASCII bytes).
struct Utf8<'a>(&'a mut String);

impl std::io::Write for Utf8<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(bytes).map_err(std::io::Error::other)?;
        self.0.push_str(text);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        /// The lines, timestamps masked.
        fn lines(&self) -> Vec<String> {
            let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z").unwrap();
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|line| stamp.replace(line, "TIME").into_owned())
                .collect()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer \x1b[31m")]
    struct Outer(#[source] std::io::Error);

    /// Events of every kind of field, in and out of spans.
    fn log_everything() {
        let error = Outer(std::io::Error::other("inner"));
        tracing::info!(method = %"GET", path = "/a b", status = 200_u16, latency_us = 12_u64, request_id = "r\"q\\1", "served");
        tracing::error!(n = -3_i64, ok = true, ratio = 0.5, debug = ?Some("x"), error = %"name upstream unreachable", "served");
        tracing::warn!(
            text = "tab\there\nline é \u{1b}",
            "message with \u{1b}[31m escape and {}",
            42
        );
        tracing::warn!(
            error = &error as &(dyn std::error::Error + 'static),
            r#type = "raw"
        );
        let outer = tracing::info_span!(
            "Lambda runtime invoke",
            requestId = "id-1",
            xrayTraceId = tracing::field::Empty
        );
        let _outer = outer.enter();
        outer.record("xrayTraceId", "Root=1-2");
        tracing::info!(shape = "passthrough", status = 200_u64, "invoked");
        let inner = tracing::debug_span!("inner", depth = 2_u64);
        let _inner = inner.enter();
        tracing::info!("nested");
        tracing::info!(parent: None, "no parent");
    }

    #[test]
    fn lines_are_byte_for_byte_those_of_fmt() {
        for ansi in [false, true] {
            let (ours, theirs) = (Captured::default(), Captured::default());
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(Level::TRACE)
                .with_ansi(ansi)
                .with_writer(ours.clone())
                .event_format(Line {
                    format: LogFormat::Text,
                })
                .finish();
            tracing::subscriber::with_default(subscriber, log_everything);
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(Level::TRACE)
                .with_ansi(ansi)
                .with_writer(theirs.clone())
                .with_target(false)
                .finish();
            tracing::subscriber::with_default(subscriber, log_everything);
            assert_eq!(ours.lines(), theirs.lines(), "ansi: {ansi}");
            assert_eq!(ours.lines().len(), 7);
        }

        let (ours, theirs) = (Captured::default(), Captured::default());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(ours.clone())
            .event_format(Line {
                format: LogFormat::Json,
            })
            .fmt_fields(JsonFields::new())
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(theirs.clone())
            .with_target(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);
        assert_eq!(ours.lines(), theirs.lines());
    }

    #[test]
    fn timestamps_read_as_rfc_3339_with_microseconds() {
        let at = |secs, micros| UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
        let stamp = |time| timestamp(time).to_string();
        assert_eq!(stamp(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(stamp(at(1_795_816_552, 123_456)), "2026-11-27T21:55:52.123456Z");
        assert_eq!(
            stamp(at(951_782_400 + 86_399, 999_999)),
            "2000-02-29T23:59:59.999999Z"
        );
        assert_eq!(
            stamp(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(stamp(at(300_000_000_000, 0)), "9999-12-31T23:59:59.999999Z");
    }
}
