//! Blocking per-partition work (opening, closing) on a few threads at once. Each partition's
//! open or close waits on the file system (directory lookups, unlinks, syncs); with thousands of
//! partitions, doing them one after another took tens of seconds.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Most threads one call uses: enough to overlap file-system waits, few enough to stay cheap.
pub(crate) const THREADS_MAX: usize = 16;

/// `f` of every item, in the items' order, computed on up to [`THREADS_MAX`] scoped threads.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = items.len().min(THREADS_MAX);
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return mine;
                        };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(mine) => mine,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map(&items, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&[7u32], |x| x + 1), vec![8]);
        assert!(super::map(&[] as &[u32], |x| *x).is_empty());
    }
}
