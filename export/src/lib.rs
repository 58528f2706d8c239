//! Exports for analysts: the event log and the run log, operation log and
//! usage read models as CSV, JSON Lines or Parquet, with typed columns,
//! written batch by batch so memory stays flat whatever the export's size.

mod format;
mod sources;

pub use format::{Format, FormatWriter, ParseFormatError};
pub use sources::{Dataset, EventSource, ParseDatasetError, ReadModel, ReadModelSource, Source};

use arrow_schema::ArrowError;

/// Rows per Parquet row group at most; the writer holds one in memory.
pub const ROW_GROUP: usize = 64 * 1024;
/// Encoded bytes per Parquet row group at most, whatever the size of rows.
pub const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] agentledger_store::StoreError),
    #[error(transparent)]
    ReadModel(#[from] agentledger_projections::engine::ProjectionError),
    #[error("encoding: {0}")]
    Arrow(#[from] ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes every batch of `source` in `format`, handing the bytes produced to
/// `sink` after each batch. Returns the rows written.
pub async fn export(
    source: &mut dyn Source,
    format: Format,
    sink: &mut (dyn Sink + Send),
    mut progress: impl FnMut(u64) + Send,
) -> Result<u64, ExportError> {
    let mut writer = FormatWriter::new(format, source.schema())?;
    let mut rows = 0;
    while let Some(batch) = source.next_batch().await? {
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
        sink.write(writer.take_bytes()).await?;
        progress(rows);
    }
    if rows == 0 {
        // So an empty CSV still names its columns.
        writer.write(&arrow_array::RecordBatch::new_empty(source.schema()))?;
    }
    sink.write(writer.finish()?).await?;
    Ok(rows)
}

/// Reads the first batch now, so a source that cannot be read fails before
/// anything is sent (an HTTP export can still answer with a problem).
pub async fn primed(mut source: Box<dyn Source>) -> Result<Box<dyn Source>, ExportError> {
    let first = source.next_batch().await?;
    Ok(Box::new(Primed { first, source }))
}

struct Primed {
    first: Option<arrow_array::RecordBatch>,
    source: Box<dyn Source>,
}

#[async_trait::async_trait]
impl Source for Primed {
    fn schema(&self) -> arrow_schema::SchemaRef {
        self.source.schema()
    }

    async fn next_batch(&mut self) -> Result<Option<arrow_array::RecordBatch>, ExportError> {
        match self.first.take() {
            Some(first) => Ok(Some(first)),
            None => self.source.next_batch().await,
        }
    }
}

/// Where exported bytes go: a file, or the body of an HTTP response.
#[async_trait::async_trait]
pub trait Sink {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), ExportError>;
}
