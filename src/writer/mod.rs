//! Record batches into one Parquet file per partition, written to a staging path.
//!
//! The writer streams: each batch is encoded as it comes, and row groups are flushed at
//! [`ROW_GROUP_ROWS`] rows, so memory is bounded by one row group whatever the partition's
//! size. It returns what it wrote; it never touches the database or the final location.
//! [`BackgroundWriter`] runs a [`PartWriter`] on the blocking pool for async callers.

mod background;

pub use background::{joined, BackgroundWriter};

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// ZSTD level 1: on a day of calls it takes about a fifth less of the exporter's CPU than
/// level 3 (whose larger context is set up for every page) for files of the same size.
const ZSTD_LEVEL: i32 = 1;

/// Rows per row group: large enough for good compression and scans (about 3 MB of calls
/// compressed), small enough that the row group a window buffers stays a few megabytes (a
/// day of a million calls exports within 150 MB; halving it from 65,536 took 8–10 MiB off
/// that day's peak; see BENCHMARKS.md).
pub const ROW_GROUP_ROWS: usize = 32 * 1024;
/// Encoded bytes at which a row group is flushed even before it has [`ROW_GROUP_ROWS`] rows.
pub const ROW_GROUP_BYTES: usize = 16 << 20;

/// Bytes of a column's encoded values at which a data page is compressed and closed (Parquet's
/// default is 1 MiB): a page of `subresource_uris` holds about 200 calls instead of 860, so the
/// buffer a window fills for it is a quarter the size. A day of a million calls peaked at
/// 118–120 MiB instead of 129–133, at the same CPU, for files 1.6 % larger (each page is
/// compressed on its own; BENCHMARKS.md).
pub const DATA_PAGE_BYTES: usize = 256 << 10;

/// Bytes of distinct values at which a column's dictionary is given up for the rest of its
/// row group (Parquet's default is 1 MiB): about 2,000 phone numbers. A column of a few
/// hundred values (an account's own numbers, statuses, prices) keeps its dictionary; one of
/// nearly a value per call (the numbers an account calls) is written plain and left to ZSTD,
/// instead of hashing every value of a 32,768-row group into a dictionary as large as the
/// column. On the independent stand-in's day of 200,000 calls (numbers all but unique) the
/// export took a tenth less CPU for a file 3.6 % smaller; on the simulator's (1,300 numbers
/// a day) the files are the same (BENCHMARKS.md).
pub const DICTIONARY_PAGE_BYTES: usize = 32 << 10;

/// Bytes of Arrow data up to which a file written in one batch is compressed with Snappy
/// instead of ZSTD: about 20 calls, each with 1.2 KB of `subresource_uris` (see
/// [`Codec::for_whole_file`]).
pub const SMALL_FILE_BYTES: usize = 32 << 10;

/// How a file's columns are compressed (but for [`FEW_VALUES_COLUMNS`], never compressed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// ZSTD at [`ZSTD_LEVEL`]: files 25–45 % smaller than Snappy's from a few dozen calls up.
    Zstd,
    /// Snappy, for small files. The Parquet crate makes two ZSTD contexts per compressed column
    /// and file (a compressor, and a decompressor it never uses when writing), and zstd runs
    /// `cpuid` for each, which a virtual machine traps: on a day of ten calls that setup costs
    /// more than all the rest of the file. Snappy has none: 400 days of ten calls took 21 %
    /// less CPU, in files 6 % larger (BENCHMARKS.md).
    Snappy,
}

impl Codec {
    /// The codec of a file that `batch` is the whole of: Snappy when its data is at most
    /// [`SMALL_FILE_BYTES`], ZSTD otherwise.
    pub fn for_whole_file(batch: &RecordBatch) -> Codec {
        Codec::for_data_bytes(data_bytes(batch))
    }

    /// Snappy for a file of at most [`SMALL_FILE_BYTES`] of Arrow data, ZSTD otherwise.
    fn for_data_bytes(bytes: usize) -> Codec {
        if bytes <= SMALL_FILE_BYTES {
            Codec::Snappy
        } else {
            Codec::Zstd
        }
    }

    fn compression(self) -> Compression {
        match self {
            Codec::Zstd => Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).expect("valid level")),
            Codec::Snappy => Compression::SNAPPY,
        }
    }
}

/// The bytes of Arrow data `batch` holds (what [`SMALL_FILE_BYTES`] is compared with).
fn data_bytes(batch: &RecordBatch) -> usize {
    (batch.columns().iter())
        .map(|a| a.to_data().get_slice_memory_size().unwrap_or(usize::MAX))
        .fold(0usize, usize::saturating_add)
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create {path}: {cause}")]
    Create {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot write {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: parquet::errors::ParquetError,
    },
    #[error("cannot sync {path}: {cause}")]
    Sync {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The runtime shut down while the file was being written.
    #[error("writing {path} was interrupted")]
    Interrupted { path: PathBuf },
    /// A staged part of a day, to be merged with the day's other parts, could not be read.
    #[error("cannot read back {path}: {cause}")]
    Reread {
        path: PathBuf,
        cause: parquet::errors::ParquetError,
    },
}

/// A finished, synced Parquet file at its staging path.
#[derive(Debug)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes one partition's file.
pub struct PartWriter {
    writer: ArrowWriter<File>,
    path: PathBuf,
    rows: u64,
}

/// Columns whose every value is its record's own (a sid, a URI made of it), kept out of a
/// dictionary: one would only grow to the size of the column and be dropped for plain
/// encoding, after hashing every value into it. They also have no statistics: the minimum and
/// maximum of random sids span every page and row group, so they could not prune a scan, and
/// computing them compared every long value. Other columns repeat and keep both.
const UNIQUE_COLUMNS: &[&str] = &["sid", "uri", "subresource_uris"];

/// Timestamps to the second, nearly one per call: a dictionary of them was as large as the
/// column and made the file larger. They keep their statistics (queries prune on them).
const NEARLY_UNIQUE_COLUMNS: &[&str] = &["date_created", "date_updated", "start_time", "end_time"];

/// Columns of a handful of short values (one per file for the account, the API version and
/// a usage record's dates), which a dictionary and run-length-coded indices already hold in a
/// few hundred bytes: ZSTD made them a quarter to two fifths smaller, and some larger, which
/// is under half a percent of a file. (`phone_number_sid` is not one of them: an account may
/// own thousands of numbers, and a dictionary of random sids halves under ZSTD.) They are left
/// uncompressed because each compressed column costs two ZSTD contexts per file (the Parquet
/// crate also makes a decompressor it never uses), and making one runs `cpuid`, which a
/// virtual machine traps: about 5 µs a context on the benchmarks' VM (4 µs a `cpuid`), a
/// fifth of the CPU of a file of a few calls (BENCHMARKS.md).
const FEW_VALUES_COLUMNS: &[&str] = &[
    "account_sid",
    "api_version",
    "price_unit",
    "status",
    "direction",
    "answered_by",
    "group_sid",
    "trunk_sid",
    "start_date",
    "end_date",
    "as_of",
    "count_unit",
    "usage_unit",
];

/// Columns written as their lengths (delta-coded together) then their bytes, instead of each
/// value after its length: `sid`, 34 characters always, compresses faster that way.
const DELTA_LENGTH_COLUMNS: &[&str] = &["sid"];

fn properties(schema: &SchemaRef, codec: Codec) -> WriterProperties {
    let mut builder = WriterProperties::builder();
    for field in schema.fields() {
        let name = field.name().as_str();
        let column = || ColumnPath::from(name);
        if UNIQUE_COLUMNS.contains(&name) {
            builder = builder
                .set_column_dictionary_enabled(column(), false)
                .set_column_statistics_enabled(column(), EnabledStatistics::None);
        }
        if NEARLY_UNIQUE_COLUMNS.contains(&name) {
            builder = builder.set_column_dictionary_enabled(column(), false);
        }
        if DELTA_LENGTH_COLUMNS.contains(&name) {
            builder = builder.set_column_encoding(column(), Encoding::DELTA_LENGTH_BYTE_ARRAY);
        }
        if FEW_VALUES_COLUMNS.contains(&name) {
            builder = builder.set_column_compression(column(), Compression::UNCOMPRESSED);
        }
    }
    builder
        .set_compression(codec.compression())
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_data_page_size_limit(DATA_PAGE_BYTES)
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(concat!("twilio-export ", env!("CARGO_PKG_VERSION")).to_owned())
        .build()
}

impl PartWriter {
    /// Creates a new file at `path` with `mode` (less the umask), its columns compressed with
    /// `codec`. An existing file or link at `path` is an error: a staged file is always this
    /// writer's own.
    pub fn create(
        path: &Path,
        mode: u32,
        schema: SchemaRef,
        codec: Codec,
    ) -> Result<Self, WriteError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|source| WriteError::Create {
                path: path.to_owned(),
                cause: source,
            })?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties(&schema, codec)))
            .map_err(|source| WriteError::Write {
            path: path.to_owned(),
            cause: source,
        })?;
        Ok(Self {
            writer,
            path: path.to_owned(),
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), WriteError> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|source| WriteError::Write {
                path: self.path.clone(),
                cause: source,
            })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Where the file is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the file and syncs it to disk, so that a rename after this is durable. If that
    /// fails (a full disk, most often), the file is removed: it would never be published.
    pub fn finish(self) -> Result<WrittenFile, WriteError> {
        let path = self.path.clone();
        let finished = self.close();
        if finished.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        finished
    }

    fn close(self) -> Result<WrittenFile, WriteError> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|source| WriteError::Write {
                path: path.clone(),
                cause: source,
            })?;
        let sync = |source| WriteError::Sync {
            path: path.clone(),
            cause: source,
        };
        file.sync_all().map_err(sync)?;
        let bytes = file.metadata().map_err(sync)?.len();
        Ok(WrittenFile {
            path,
            rows: self.rows,
            bytes,
        })
    }
}

/// Writes the rows of the staged files `parts`, in their order, into a new file at `path`
/// (created as by [`PartWriter::create`]) and finishes it: the one file of a day whose rows
/// were staged in several, which only pages out of order make. Its codec is the one the same
/// rows would have had written whole ([`Codec::for_whole_file`]): Snappy when all of them
/// come to at most [`SMALL_FILE_BYTES`] of data, ZSTD otherwise. Rows are read and written a
/// batch at a time; only the first [`SMALL_FILE_BYTES`] and a batch are held to choose. Each
/// batch takes `schema`, the parts' own, so that the file's metadata is theirs. On an error
/// the new file is removed; the parts are left.
pub fn merge(
    parts: &[PathBuf],
    path: &Path,
    mode: u32,
    schema: SchemaRef,
) -> Result<WrittenFile, WriteError> {
    let mut batches = parts.iter().flat_map(|part| rows_of(part, &schema));
    let mut first = Vec::new();
    let mut bytes = 0usize;
    while bytes <= SMALL_FILE_BYTES {
        match batches.next() {
            Some(batch) => {
                let batch = batch?;
                bytes = bytes.saturating_add(data_bytes(&batch));
                first.push(batch);
            }
            None => break,
        }
    }
    let codec = Codec::for_data_bytes(bytes);
    let mut writer = PartWriter::create(path, mode, schema.clone(), codec)?;
    let written =
        (first.into_iter().map(Ok).chain(batches)).try_for_each(|batch| writer.write(&batch?));
    if let Err(e) = written {
        drop(writer);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    writer.finish()
}

/// The rows of the Parquet file at `part`, as batches of `schema`; an error ends them.
fn rows_of<'a>(
    part: &'a Path,
    schema: &'a SchemaRef,
) -> Box<dyn Iterator<Item = Result<RecordBatch, WriteError>> + 'a> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let unreadable = move |cause| WriteError::Reread {
        path: part.to_owned(),
        cause,
    };
    let reader = File::open(part)
        .map_err(|e| unreadable(e.into()))
        .and_then(|file| {
            (ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()))
                .map_err(unreadable)
        });
    match reader {
        Err(e) => Box::new(std::iter::once(Err(e))),
        Ok(reader) => Box::new(reader.map(move |batch| {
            let columns = batch.map_err(|e| unreadable(e.into()))?.columns().to_vec();
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| unreadable(e.into()))
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchBuilder;
    use crate::decode::calls::Call;
    use crate::decode::decode_page;
    use crate::domain::Resource;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::metadata::RowGroupMetaData;

    const PAGE: &str = r#"{"calls":[
      {"sid":"CA9b1e6f0c2d7a4e3b8c5d1f2a6e9b0c47","status":"completed","uri":"/a/CA9b.json","subresource_uris":{"events":"/a/CA9b/events.json"},"price":"-0.0280"},
      {"sid":"CA4d2a8c6e1b9f4a0d7e3c5b2f8a1d6e93","status":"completed","uri":"/a/CA4d.json","subresource_uris":{"events":"/a/CA4d/events.json"},"price":null}]}"#;

    /// `PAGE` written to a file and read back: the batch, and the file's first row group.
    fn written() -> (
        RecordBatch,
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        RowGroupMetaData,
    ) {
        written_with(Codec::Zstd)
    }

    /// [`written`], the file's columns compressed with `codec`.
    fn written_with(
        codec: Codec,
    ) -> (
        RecordBatch,
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        RowGroupMetaData,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.parquet");
        let mut builder = BatchBuilder::new(Resource::Calls);
        for call in &decode_page::<Call>(PAGE.as_bytes()).unwrap().records {
            builder.push(call);
        }
        let batch = builder.finish();
        let mut writer = PartWriter::create(&path, 0o600, builder.schema(), codec).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0).clone();
        (batch, reader.build().unwrap(), group)
    }

    #[test]
    fn a_part_that_cannot_be_read_back_fails_the_merge_and_leaves_no_merged_file() {
        let dir = tempfile::tempdir().unwrap();
        let (good, bad, merged) = (
            dir.path().join("good"),
            dir.path().join("bad"),
            dir.path().join("merged"),
        );
        let mut builder = BatchBuilder::new(Resource::Calls);
        for call in &decode_page::<Call>(PAGE.as_bytes()).unwrap().records {
            builder.push(call);
        }
        let batch = builder.finish();
        let mut writer = PartWriter::create(&good, 0o600, builder.schema(), Codec::Zstd).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        std::fs::write(&bad, "not Parquet").unwrap();

        let parts = [good.clone(), bad.clone()];
        let err = merge(&parts, &merged, 0o600, builder.schema()).unwrap_err();
        assert!(
            matches!(&err, WriteError::Reread { path, .. } if *path == bad),
            "{err}"
        );
        assert!(!merged.exists(), "the merged file is removed");
        assert!(
            good.exists() && bad.exists(),
            "the parts are left to the caller"
        );

        let whole = merge(&parts[..1], &merged, 0o600, builder.schema()).unwrap();
        assert_eq!(whole.rows, 2);
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&merged).unwrap())
                .unwrap();
        assert_eq!(reader.schema(), &builder.schema());
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, [batch], "the same rows, values and types");
    }

    #[test]
    fn a_merged_file_has_the_codec_its_rows_would_have_had_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let merged = |name: &str, sizes: &[usize]| {
            let parts: Vec<PathBuf> = (sizes.iter().enumerate())
                .map(|(i, n)| {
                    let part = dir.path().join(format!("{name}-{i}"));
                    let batch = calls_like_twilios(*n);
                    let mut writer =
                        PartWriter::create(&part, 0o600, batch.schema(), Codec::Zstd).unwrap();
                    writer.write(&batch).unwrap();
                    writer.finish().unwrap();
                    part
                })
                .collect();
            let path = dir.path().join(name);
            let schema = calls_like_twilios(1).schema();
            let written = merge(&parts, &path, 0o600, schema).unwrap();
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap();
            let sid = reader.schema().index_of("sid").unwrap();
            let codec = reader.metadata().row_group(0).column(sid).compression();
            (written.rows, codec)
        };
        // Ten calls, as one batch, would be Snappy; so are two parts of five.
        assert_eq!(
            Codec::for_whole_file(&calls_like_twilios(10)),
            Codec::Snappy
        );
        assert_eq!(merged("small", &[5, 5]), (10, Compression::SNAPPY));
        // Thirty would be ZSTD, whether the limit is passed in the first part or a later one.
        assert_eq!(Codec::for_whole_file(&calls_like_twilios(30)), Codec::Zstd);
        for (name, sizes) in [("late", [15, 15]), ("early", [29, 1])] {
            let (rows, codec) = merged(name, &sizes);
            assert_eq!(rows, 30, "{name}");
            assert!(matches!(codec, Compression::ZSTD(_)), "{name}: {codec:?}");
        }
    }

    #[test]
    fn unique_columns_are_written_without_a_dictionary_and_read_back_unchanged() {
        let (batch, reader, group) = written();
        let dictionary = |name: &str| {
            let i = batch.schema().index_of(name).unwrap();
            group.column(i).dictionary_page_offset().is_some()
        };
        for name in UNIQUE_COLUMNS.iter().chain(NEARLY_UNIQUE_COLUMNS) {
            assert!(!dictionary(name), "{name} has a dictionary");
        }
        assert!(dictionary("status") && dictionary("account_sid"));
        let read: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(read, vec![batch]);
    }

    #[test]
    fn columns_of_few_values_are_left_uncompressed_and_the_others_compressed() {
        for resource in [Resource::Calls, Resource::UsageRecords] {
            let schema = BatchBuilder::new(resource).schema();
            let properties = properties(&schema, Codec::Zstd);
            for field in schema.fields() {
                let name = field.name().as_str();
                let compression = properties.compression(&ColumnPath::from(name));
                if FEW_VALUES_COLUMNS.contains(&name) {
                    assert_eq!(compression, Compression::UNCOMPRESSED, "{name}");
                } else {
                    assert!(matches!(compression, Compression::ZSTD(_)), "{name}");
                }
            }
        }
        let schemas =
            [Resource::Calls, Resource::UsageRecords].map(|r| BatchBuilder::new(r).schema());
        for name in FEW_VALUES_COLUMNS {
            assert!(
                schemas.iter().any(|s| s.index_of(name).is_ok()),
                "{name} is no column"
            );
        }
        // And in a file, as read back.
        let (batch, _, group) = written();
        let codec = |name: &str| {
            group
                .column(batch.schema().index_of(name).unwrap())
                .compression()
        };
        assert_eq!(codec("status"), Compression::UNCOMPRESSED);
        assert!(matches!(codec("subresource_uris"), Compression::ZSTD(_)));
        // An account may own thousands of numbers: their sids are no handful.
        assert!(matches!(codec("phone_number_sid"), Compression::ZSTD(_)));
    }

    #[test]
    fn a_column_of_nearly_as_many_values_as_calls_gives_up_its_dictionary() {
        // 5000 calls to as many numbers, from three, with three statuses.
        let calls: Vec<String> = (0..5000)
            .map(|i| {
                format!(
                    r#"{{"sid":"CA{i:032x}","to":"+1415555{i:04}","from":"+1628555000{}","status":"s{}"}}"#,
                    i % 3,
                    i % 3
                )
            })
            .collect();
        let page = format!(r#"{{"calls":[{}]}}"#, calls.join(","));
        let mut builder = BatchBuilder::new(Resource::Calls);
        for call in &decode_page::<Call>(page.as_bytes()).unwrap().records {
            builder.push(call);
        }
        let batch = builder.finish();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.parquet");
        let mut writer = PartWriter::create(&path, 0o600, builder.schema(), Codec::Zstd).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0).clone();
        // The encodings of the data pages: plain (after the dictionary was given up), and
        // dictionary-coded.
        let pages = |name: &str| {
            let column = group.column(batch.schema().index_of(name).unwrap());
            let mask = column
                .page_encoding_stats_mask()
                .expect("data page encodings");
            (
                mask.is_set(Encoding::PLAIN),
                mask.is_set(Encoding::RLE_DICTIONARY),
            )
        };
        assert_eq!(pages("to"), (true, true), "to");
        assert_eq!(pages("from"), (false, true), "from");
        assert_eq!(pages("status"), (false, true), "status");
        let reader = reader.with_batch_size(batch.num_rows()).build().unwrap();
        let read: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(read, vec![batch]);
    }

    /// `n` calls with `subresource_uris` of about 1.2 KB each, as Twilio's are, in one batch.
    pub(super) fn calls_like_twilios(n: usize) -> RecordBatch {
        let subs = format!(r#"{{"events":"/{}"}}"#, "e".repeat(1200));
        let calls: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"sid":"CA{i:032x}","subresource_uris":{subs}}}"#))
            .collect();
        let page = format!(r#"{{"calls":[{}]}}"#, calls.join(","));
        let mut builder = BatchBuilder::new(Resource::Calls);
        for call in &decode_page::<Call>(page.as_bytes()).unwrap().records {
            builder.push(call);
        }
        builder.finish()
    }

    #[test]
    fn a_whole_file_of_a_few_calls_is_snappy_and_of_more_zstd() {
        assert_eq!(Codec::for_whole_file(&calls_like_twilios(1)), Codec::Snappy);
        assert_eq!(
            Codec::for_whole_file(&calls_like_twilios(20)),
            Codec::Snappy
        );
        assert_eq!(Codec::for_whole_file(&calls_like_twilios(30)), Codec::Zstd);
        assert_eq!(
            Codec::for_whole_file(&calls_like_twilios(5000)),
            Codec::Zstd
        );
        // The choice goes one way as files grow: past the first ZSTD, no Snappy.
        let codecs: Vec<Codec> = (1..=40)
            .map(|n| Codec::for_whole_file(&calls_like_twilios(n)))
            .collect();
        let first_zstd = codecs.iter().position(|c| *c == Codec::Zstd).unwrap();
        assert!(
            codecs[first_zstd..].iter().all(|c| *c == Codec::Zstd),
            "{codecs:?}"
        );
    }

    #[test]
    fn a_snappy_file_reads_back_unchanged_with_the_few_values_columns_uncompressed() {
        let (batch, reader, group) = written_with(Codec::Snappy);
        for (i, field) in batch.schema().fields().iter().enumerate() {
            let name = field.name().as_str();
            let expected = if FEW_VALUES_COLUMNS.contains(&name) {
                Compression::UNCOMPRESSED
            } else {
                Compression::SNAPPY
            };
            assert_eq!(group.column(i).compression(), expected, "{name}");
        }
        let read: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(read, vec![batch]);
    }

    #[test]
    fn data_pages_close_at_data_page_bytes() {
        use parquet::column::page::Page;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let batch = calls_like_twilios(2000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.parquet");
        let mut writer = PartWriter::create(&path, 0o600, batch.schema(), Codec::Zstd).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();

        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let i = batch.schema().index_of("subresource_uris").unwrap();
        let longest = (batch.column(i).as_any())
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap()
            .iter()
            .map(|v| v.map_or(0, str::len))
            .max()
            .unwrap();
        let pages = reader
            .get_row_group(0)
            .unwrap()
            .get_column_page_reader(i)
            .unwrap();
        let sizes: Vec<usize> = (pages.map(Result::unwrap))
            .filter(|p| matches!(p, Page::DataPage { .. } | Page::DataPageV2 { .. }))
            .map(|p| p.buffer().len())
            .collect();
        // 2.4 MB of values: ten pages or so, none past the limit by more than a value.
        assert!(sizes.len() >= 9, "{sizes:?}");
        assert!(
            sizes.iter().all(|s| *s <= DATA_PAGE_BYTES + longest + 16),
            "{sizes:?}"
        );
    }

    #[test]
    fn sids_are_delta_length_encoded_and_statistics_kept_where_scans_prune() {
        let (batch, _, group) = written();
        let column = |name: &str| group.column(batch.schema().index_of(name).unwrap()).clone();
        assert!(column("sid")
            .encodings()
            .any(|e| e == Encoding::DELTA_LENGTH_BYTE_ARRAY));
        for name in UNIQUE_COLUMNS {
            assert!(column(name).statistics().is_none(), "{name} has statistics");
        }
        for name in ["account_sid", "status", "start_time", "date_created"] {
            assert!(
                column(name).statistics().is_some(),
                "{name} has no statistics"
            );
        }
    }
}
