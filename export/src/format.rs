//! The three formats, each fed Arrow record batches and writing into a
//! buffer that the caller drains after every batch.

use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_json::writer::{Encoder, EncoderFactory, EncoderOptions, LineDelimited, NullableEncoder};
use arrow_schema::{ArrowError, FieldRef, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{ExportError, ROW_GROUP, ROW_GROUP_BYTES};

/// Field metadata marking a text column that holds JSON: JSON Lines embeds
/// it as JSON instead of as a string.
pub const JSON_TEXT: (&str, &str) = ("ARROW:extension:name", "arrow.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown format `{0}` (expected csv, jsonl or parquet)")]
pub struct ParseFormatError(String);

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            "parquet" => Ok(Format::Parquet),
            other => Err(ParseFormatError(other.to_owned())),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::JsonLines => "application/jsonl",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// A `Write` whose bytes the owner takes out between batches.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Inner {
    Csv(arrow_csv::Writer<Buffer>),
    JsonLines(arrow_json::Writer<Buffer, LineDelimited>),
    Parquet(ArrowWriter<Buffer>),
}

pub struct FormatWriter {
    inner: Inner,
    buffer: Buffer,
}

impl FormatWriter {
    pub fn new(format: Format, schema: SchemaRef) -> Result<Self, ExportError> {
        let buffer = Buffer::default();
        let inner = match format {
            Format::Csv => Inner::Csv(
                arrow_csv::WriterBuilder::new()
                    .with_header(true)
                    .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.6fZ".to_owned())
                    .build(buffer.clone()),
            ),
            Format::JsonLines => Inner::JsonLines(
                arrow_json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .with_encoder_factory(Arc::new(RawJson))
                    .build(buffer.clone()),
            ),
            Format::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(ROW_GROUP))
                    .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
                    .build();
                Inner::Parquet(ArrowWriter::try_new(
                    buffer.clone(),
                    schema,
                    Some(properties),
                )?)
            }
        };
        Ok(Self { inner, buffer })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        match &mut self.inner {
            Inner::Csv(w) => w.write(batch)?,
            Inner::JsonLines(w) => w.write(batch)?,
            Inner::Parquet(w) => w.write(batch)?,
        }
        Ok(())
    }

    /// The bytes written since the last call.
    pub fn take_bytes(&self) -> Vec<u8> {
        self.buffer.take()
    }

    /// Ends the file (the Parquet footer) and returns the last bytes.
    pub fn finish(self) -> Result<Vec<u8>, ExportError> {
        match self.inner {
            Inner::Csv(w) => drop(w.into_inner()),
            Inner::JsonLines(mut w) => w.finish()?,
            Inner::Parquet(w) => {
                w.close()?;
            }
        }
        Ok(self.buffer.take())
    }
}

/// Writes text columns marked with `JSON_TEXT` as the JSON they hold.
#[derive(Debug)]
struct RawJson;

impl EncoderFactory for RawJson {
    fn make_default_encoder<'a>(
        &self,
        field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        if field.metadata().get(JSON_TEXT.0).map(String::as_str) != Some(JSON_TEXT.1) {
            return Ok(None);
        }
        let Some(strings) = array.as_any().downcast_ref::<StringArray>() else {
            return Ok(None);
        };
        let nulls = strings.nulls().cloned();
        Ok(Some(NullableEncoder::new(
            Box::new(JsonText(strings)),
            nulls,
        )))
    }
}

struct JsonText<'a>(&'a StringArray);

impl Encoder for JsonText<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        // The column holds JSON text as stored in the log: valid by construction.
        out.extend_from_slice(self.0.value(idx).as_bytes());
    }
}
