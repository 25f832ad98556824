#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::path::Path;

use super::FdPool;
use crate::storage::{LocalFile, SegmentFile};

fn pool(budget: usize) -> &'static FdPool {
    Box::leak(Box::new(FdPool::new(budget)))
}

fn create(pool: &'static FdPool, path: &Path) -> LocalFile {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    LocalFile::open_in(pool, path, &options).unwrap()
}

#[test]
fn past_the_budget_files_are_closed_and_reopened_on_use() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(10);
    let files: Vec<LocalFile> = (0..40)
        .map(|i| create(pool, &dir.path().join(format!("{i}.log"))))
        .collect();
    assert!(pool.open_count() <= 10, "{} open", pool.open_count());
    for (i, file) in files.iter().enumerate() {
        file.write_all_at(format!("file {i}").as_bytes(), 0)
            .unwrap();
        assert!(pool.open_count() <= 10, "{} open", pool.open_count());
    }
    // Every file reads back what was written through a descriptor since closed.
    for (i, file) in files.iter().enumerate() {
        let want = format!("file {i}");
        let mut got = vec![0u8; want.len()];
        file.read_exact_at(&mut got, 0).unwrap();
        assert_eq!(got, want.as_bytes());
        file.sync_data().unwrap();
        assert_eq!(file.size().unwrap(), want.len() as u64);
    }
    drop(files);
    assert_eq!(pool.open_count(), 0);
}

#[test]
fn the_least_recently_used_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(10);
    let hot = create(pool, &dir.path().join("hot.log"));
    let cold: Vec<LocalFile> = (0..30)
        .map(|i| {
            hot.write_all_at(b"x", 0).unwrap();
            create(pool, &dir.path().join(format!("{i}.log")))
        })
        .collect();
    assert!(
        super::read(&hot.slot.file).is_some(),
        "the hot file stays open"
    );
    drop(cold);
}

#[test]
fn a_removed_file_stays_readable_through_its_handle() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(4);
    let path = dir.path().join("old.log");
    let old = create(pool, &path);
    old.write_all_at(b"kept", 0).unwrap();
    pool.pin_for_removal(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let others: Vec<LocalFile> = (0..20)
        .map(|i| create(pool, &dir.path().join(format!("{i}.log"))))
        .collect();
    let mut got = [0u8; 4];
    old.read_exact_at(&mut got, 0).unwrap();
    assert_eq!(&got, b"kept");
    drop(others);
}
