//! The log and snapshot files of one metadata log named `<name>` in a directory:
//!
//! ```text
//! <name>.log       "WML1" version:u32, then records back to back:
//!                  len:u32 crc32c(index ‖ payload):u32 index:u64 payload[len]
//! <name>.snapshot  "WMS1" version:u32 index:u64 len:u64 crc32c(payload):u32 payload[len]
//! ```
//!
//! All integers little-endian. The snapshot covers every record up to and including its index;
//! it is replaced atomically, then the log is cut back to its header. Recovery skips records at
//! or below the snapshot's index (a crash between the two steps leaves them behind).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::file::{read_bounded, sync_dir, write_atomic};
use crate::{MetaError, limits};

const LOG_MAGIC: &[u8; 4] = b"WML1";
const SNAPSHOT_MAGIC: &[u8; 4] = b"WMS1";
const VERSION: u32 = 1;
const LOG_HEADER_BYTES: u64 = 8;
const RECORD_HEADER_BYTES: usize = 16;
const SNAPSHOT_HEADER_BYTES: usize = 28;

/// What a log held when it was opened: the last snapshot and the records after it, in order.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The snapshot's payload, if one was written.
    pub snapshot: Option<Vec<u8>>,
    /// Payloads of the records after the snapshot, oldest first.
    pub records: Vec<Vec<u8>>,
    /// Why the log's tail was cut off (a torn or corrupt record), if it was.
    pub dropped_tail: Option<String>,
}

/// One metadata log, owned by one writer.
#[derive(Debug)]
pub struct MetaLog {
    log_path: PathBuf,
    snapshot_path: PathBuf,
    file: File,
    /// End of the last whole record.
    end: u64,
    next_index: u64,
    snapshot_bytes: u64,
    poisoned: bool,
}

impl MetaLog {
    /// Opens (creating) the log `name` in `dir` and returns what it holds. A torn or corrupt
    /// tail is cut off durably; a bad snapshot or log header is an error, never ignored.
    pub fn open(dir: &Path, name: &str) -> Result<(Self, Recovered), MetaError> {
        std::fs::create_dir_all(dir).map_err(MetaError::io(dir, "create directory"))?;
        let snapshot_path = dir.join(format!("{name}.snapshot"));
        let log_path = dir.join(format!("{name}.log"));
        let snapshot = read_snapshot(&snapshot_path)?;
        let (snapshot_index, snapshot_bytes) = snapshot
            .as_ref()
            .map_or((0, 0), |(index, payload)| (*index, payload.len() as u64));
        let file = open_log_file(dir, &log_path)?;
        let scan = scan_records(&file, &log_path, snapshot_index)?;
        if scan.dropped_tail.is_some() {
            file.set_len(scan.end)
                .and_then(|()| file.sync_data())
                .map_err(MetaError::io(&log_path, "cut torn tail"))?;
        }
        let log = Self {
            log_path,
            snapshot_path,
            file,
            end: scan.end,
            next_index: scan.last_index.max(snapshot_index) + 1,
            snapshot_bytes,
            poisoned: false,
        };
        let recovered = Recovered {
            snapshot: snapshot.map(|(_, payload)| payload),
            records: scan.records,
            dropped_tail: scan.dropped_tail,
        };
        Ok((log, recovered))
    }

    /// Appends `payloads` as consecutive records with one write and one `fdatasync`, and
    /// returns the index of the last. On failure nothing of this call counts: the bytes are cut
    /// off again (or, if that fails too, the log refuses appends until reopened).
    pub fn append<P: AsRef<[u8]>>(&mut self, payloads: &[P]) -> Result<u64, MetaError> {
        if self.poisoned {
            return Err(MetaError::Poisoned {
                path: self.log_path.clone(),
            });
        }
        let mut buf = Vec::new();
        let mut index = self.next_index;
        for payload in payloads {
            encode_record(&mut buf, index, payload.as_ref())?;
            index += 1;
        }
        let written = self
            .file
            .write_all_at(&buf, self.end)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            if self.file.set_len(self.end).is_err() {
                self.poisoned = true;
            }
            return Err(MetaError::io(&self.log_path, "append")(error));
        }
        self.end += buf.len() as u64;
        self.next_index = index;
        Ok(index - 1)
    }

    /// Whether the records since the last snapshot outweigh it enough that a new snapshot
    /// should be written ([`limits::SNAPSHOT_AFTER_LOG_BYTES`]).
    pub fn snapshot_due(&self) -> bool {
        let log_bytes = self.end - LOG_HEADER_BYTES;
        log_bytes >= limits::SNAPSHOT_AFTER_LOG_BYTES && log_bytes > 2 * self.snapshot_bytes
    }

    /// Bytes of records written since the last snapshot.
    pub fn log_bytes(&self) -> u64 {
        self.end - LOG_HEADER_BYTES
    }

    /// Replaces the snapshot with `payload`, which must be the state after every record
    /// appended so far, then cuts the log back to its header.
    pub fn write_snapshot(&mut self, payload: &[u8]) -> Result<(), MetaError> {
        let index = self.next_index - 1;
        let mut bytes = Vec::with_capacity(SNAPSHOT_HEADER_BYTES + payload.len());
        bytes.extend_from_slice(SNAPSHOT_MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&index.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
        write_atomic(&self.snapshot_path, &bytes)?;
        self.snapshot_bytes = payload.len() as u64;
        // The records are covered now; until the cut below is durable they are skipped on
        // replay by their index, so a failed cut loses nothing.
        self.file
            .set_len(LOG_HEADER_BYTES)
            .and_then(|()| self.file.sync_data())
            .map_err(MetaError::io(&self.log_path, "cut after snapshot"))?;
        self.end = LOG_HEADER_BYTES;
        Ok(())
    }
}

fn encode_record(buf: &mut Vec<u8>, index: u64, payload: &[u8]) -> Result<(), MetaError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= limits::RECORD_BYTES_MAX)
        .ok_or(MetaError::RecordTooLarge {
            size: payload.len(),
            max: limits::RECORD_BYTES_MAX,
        })?;
    let mut crc = crc32c::crc32c(&index.to_le_bytes());
    crc = crc32c::crc32c_append(crc, payload);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc.to_le_bytes());
    buf.extend_from_slice(&index.to_le_bytes());
    buf.extend_from_slice(payload);
    Ok(())
}

fn open_log_file(dir: &Path, path: &Path) -> Result<File, MetaError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(MetaError::io(path, "open"))?;
    let len = file.metadata().map_err(MetaError::io(path, "stat"))?.len();
    if len < LOG_HEADER_BYTES {
        // New (or a crash before its header was durable): start it over.
        let mut header = Vec::with_capacity(8);
        header.extend_from_slice(LOG_MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        file.set_len(0)
            .and_then(|()| file.write_all_at(&header, 0))
            .and_then(|()| file.sync_all())
            .map_err(MetaError::io(path, "write header"))?;
        sync_dir(dir)?;
        return Ok(file);
    }
    let mut header = [0u8; 8];
    file.read_exact_at(&mut header, 0)
        .map_err(MetaError::io(path, "read header"))?;
    if &header[..4] != LOG_MAGIC || header[4..] != VERSION.to_le_bytes() {
        return Err(MetaError::Corrupt {
            path: path.to_path_buf(),
            reason: "not a metadata log of a known version".into(),
        });
    }
    Ok(file)
}

/// What a scan of the log's records found.
struct Scan {
    records: Vec<Vec<u8>>,
    end: u64,
    last_index: u64,
    dropped_tail: Option<String>,
}

fn scan_records(file: &File, path: &Path, snapshot_index: u64) -> Result<Scan, MetaError> {
    let mut reader = BufReader::new(file);
    let mut skip = [0u8; LOG_HEADER_BYTES as usize];
    reader
        .read_exact(&mut skip)
        .map_err(MetaError::io(path, "read header"))?;
    let mut scan = Scan {
        records: Vec::new(),
        end: LOG_HEADER_BYTES,
        last_index: 0,
        dropped_tail: None,
    };
    loop {
        match read_record(&mut reader, scan.last_index) {
            Ok(None) => break,
            Ok(Some((index, payload))) => {
                scan.end += (RECORD_HEADER_BYTES + payload.len()) as u64;
                scan.last_index = index;
                if index > snapshot_index {
                    scan.records.push(payload);
                }
            }
            Err(reason) => {
                scan.dropped_tail = Some(format!("{reason} at byte {}", scan.end));
                break;
            }
        }
    }
    Ok(scan)
}

/// The next record, `None` at a clean end, or why the bytes there are not a whole record.
fn read_record(reader: &mut impl Read, previous: u64) -> Result<Option<(u64, Vec<u8>)>, String> {
    let mut header = [0u8; RECORD_HEADER_BYTES];
    match read_full(reader, &mut header) {
        Ok(0) => return Ok(None),
        Ok(n) if n < RECORD_HEADER_BYTES => return Err("torn record header".into()),
        Ok(_) => {}
        Err(error) => return Err(format!("read failed: {error}")),
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let mut index_bytes = [0u8; 8];
    index_bytes.copy_from_slice(&header[8..16]);
    let index = u64::from_le_bytes(index_bytes);
    if len > limits::RECORD_BYTES_MAX {
        return Err(format!("record length {len} over the limit"));
    }
    if previous != 0 && index != previous + 1 {
        return Err(format!("record index {index} does not follow {previous}"));
    }
    let mut payload = vec![0u8; len as usize];
    match read_full(reader, &mut payload) {
        Ok(n) if n == payload.len() => {}
        Ok(_) => return Err("torn record".into()),
        Err(error) => return Err(format!("read failed: {error}")),
    }
    let actual = crc32c::crc32c_append(crc32c::crc32c(&index_bytes), &payload);
    if actual != crc {
        return Err("record checksum mismatch".into());
    }
    Ok(Some((index, payload)))
}

/// Reads until `buf` is full or the end; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_snapshot(path: &Path) -> Result<Option<(u64, Vec<u8>)>, MetaError> {
    let Some(bytes) = read_bounded(path, limits::SNAPSHOT_BYTES_MAX)? else {
        return Ok(None);
    };
    let corrupt = |reason: &str| MetaError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let header = bytes
        .get(..SNAPSHOT_HEADER_BYTES)
        .ok_or_else(|| corrupt("shorter than its header"))?;
    if &header[..4] != SNAPSHOT_MAGIC || header[4..8] != VERSION.to_le_bytes() {
        return Err(corrupt("not a snapshot of a known version"));
    }
    let field = |at: usize| {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(raw)
    };
    let (index, len) = (field(8), field(16));
    let crc = u32::from_le_bytes([header[24], header[25], header[26], header[27]]);
    let payload = &bytes[SNAPSHOT_HEADER_BYTES..];
    if payload.len() as u64 != len || crc32c::crc32c(payload) != crc {
        return Err(corrupt("payload length or checksum mismatch"));
    }
    Ok(Some((index, payload.to_vec())))
}
