//! The `whippet` binary's global allocator: the system allocator, except that allocations of
//! at least [`limits::ALLOC_MMAP_THRESHOLD_BYTES`] are served by anonymous
//! `mmap(MAP_NORESERVE)` mappings.
//!
//! Why: `kafka-protocol` 0.18 decodes arrays with `Vec::with_capacity(n)` where `n` is the
//! count read off the wire, before checking that the body holds that many elements. A 14-byte
//! Metadata request declaring 2³¹ topics asks for tens of GiB; the system allocator refuses, and
//! Rust's allocation-failure handler aborts the whole process. Under the kernel's default
//! heuristic overcommit a `MAP_NORESERVE` mapping of that size is granted as untouched virtual
//! memory, the decoder then fails normally on the truncated body, and the mapping is unmapped
//! when the `Vec` drops. The Kafka listener additionally caps non-Produce requests at
//! [`limits::KAFKA_NON_PRODUCE_REQUEST_BYTES_MAX`], which bounds how many elements a request
//! can really hold.
//!
//! The threshold is low enough (16 MiB) that the rare large blocks of legitimate paths — an
//! argon2id password check (19 MiB), a very large produce request — are also returned to the
//! kernel when freed, instead of staying resident in glibc's heap once its dynamic mmap
//! threshold has grown past them. Hot-path buffers stay below it.
//!
//! This is the only module allowed `unsafe` (a `GlobalAlloc` implementation and the `mmap`
//! calls cannot be written without it); the workspace lint is `deny` so this allow can exist.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

use crate::limits;

/// Fixes glibc malloc's thresholds for the whole process; `main` calls it first thing.
///
/// Why: payload buffers of about 1 MiB are allocated by the thread that read the request and
/// freed by another — the partition's append owner, or whichever thread evicts them from the
/// log's recent-append cache. With glibc's defaults (a dynamic mmap threshold, a 128 KiB trim
/// threshold) such frees keep trimming the top of an arena's heap and the next buffer faults
/// its pages in again (zeroed by the kernel): native sends of 1 MiB batches took 5× the page
/// faults and ran ~20% slower. A fixed mmap threshold at [`limits::ALLOC_MMAP_THRESHOLD_BYTES`]
/// (blocks that large are mapped by [`GuardedAlloc`] anyway) and a trim threshold of
/// [`limits::MALLOC_TRIM_THRESHOLD_BYTES`] keep hot-path buffers in the heap; the trim
/// threshold bounds what each arena keeps free.
#[cfg(target_env = "gnu")]
pub fn tune_system_allocator() {
    let settings = [
        (libc::M_MMAP_THRESHOLD, limits::ALLOC_MMAP_THRESHOLD_BYTES),
        (libc::M_TRIM_THRESHOLD, limits::MALLOC_TRIM_THRESHOLD_BYTES),
    ];
    for (param, value) in settings {
        let value = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
        // SAFETY: `mallopt` only sets allocator parameters; it is called before any thread
        // is started, and an unsupported parameter is reported by its return value.
        let set = unsafe { libc::mallopt(param, value) };
        if set != 1 {
            eprintln!("mallopt refused setting {param} to {value}; keeping glibc's default");
        }
    }
}

/// Not glibc: nothing to tune.
#[cfg(not(target_env = "gnu"))]
pub fn tune_system_allocator() {}

/// Alignment every mapping satisfies: mappings start on a page, and pages are at least 4 KiB.
const MAPPING_ALIGN_MAX: usize = 4096;

/// The allocator installed by the `whippet` binary (`#[global_allocator]` in `main.rs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct GuardedAlloc;

/// Whether an allocation of `layout` is served by a mapping rather than the system allocator.
/// The same rule decides on free, so each block goes back to whoever gave it out.
pub fn is_mapped(layout: Layout) -> bool {
    layout.size() >= limits::ALLOC_MMAP_THRESHOLD_BYTES && layout.align() <= MAPPING_ALIGN_MAX
}

/// Maps `size` bytes of zeroed, lazily backed memory, or returns null (the caller's allocation
/// error path) when even the address space is refused.
fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at a kernel-chosen address touches no existing
    // memory; the result is checked before use.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        addr.cast()
    }
}

/// Unmaps a block returned by [`map`] with the same size.
///
/// # Safety
/// `block` must come from [`map`] with this `size` and not be used afterwards.
unsafe fn unmap(block: *mut u8, size: usize) {
    // SAFETY: guaranteed by the caller. A failing munmap can only mean a bad argument, which
    // the caller rules out; there is nothing useful to do with the error inside a deallocator.
    unsafe {
        libc::munmap(block.cast(), size);
    }
}

// SAFETY: every block is either from `System` (small) or from `map` (large), and `is_mapped`
// sends it back to the same source on free, since a layout keeps its size and alignment.
unsafe impl GlobalAlloc for GuardedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_mapped(layout) {
            map(layout.size())
        } else {
            // SAFETY: forwarded with the caller's guarantees (non-zero size layout).
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_mapped(layout) {
            // Anonymous mappings are zero-filled by the kernel.
            map(layout.size())
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if is_mapped(layout) {
            // SAFETY: a mapped layout means `block` came from `map` with this size.
            unsafe { unmap(block, layout.size()) }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, does not
        // overflow isize, which is what `from_size_align_unchecked` requires.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_mapped(layout) && !is_mapped(new_layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        if is_mapped(layout) && is_mapped(new_layout) {
            // Mapping to mapping: let the kernel move the pages instead of copying gigabytes.
            // SAFETY: `block` is a live mapping of `layout.size()` bytes (see `dealloc`); on
            // failure the old mapping is untouched and null reports the error.
            let moved = unsafe {
                libc::mremap(block.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE)
            };
            return if moved == libc::MAP_FAILED {
                ptr::null_mut()
            } else {
                moved.cast()
            };
        }
        // Crossing the threshold: new block, copy the smaller size, free the old.
        // SAFETY: `new_layout` has a non-zero size (the caller's contract for realloc).
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are valid for the smaller size and cannot overlap (the new
            // one was just allocated); the old block is freed with its own layout.
            unsafe {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
        }
        moved
    }
}

/// Installed in this crate's unit-test binary too, so the tests below exercise the real path.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: GuardedAlloc = GuardedAlloc;

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: usize = 1024 * 1024 * 1024;

    #[test]
    fn routing_rule() {
        assert!(!is_mapped(
            Layout::from_size_align(64, 8).unwrap_or(Layout::new::<u64>())
        ));
        let huge = Layout::from_size_align(64 * GIB, 8);
        assert!(huge.is_ok_and(is_mapped));
        let odd_align = Layout::from_size_align(64 * GIB, 2 * MAPPING_ALIGN_MAX);
        assert!(odd_align.is_ok_and(|l| !is_mapped(l)));
    }

    #[test]
    fn huge_vec_capacity_is_granted_and_dropped() {
        // What the decoder does with a hostile array count: 64 GiB of u64, never touched.
        let huge: Vec<u64> = Vec::with_capacity(8 * GIB);
        assert!(huge.capacity() >= 8 * GIB);
        drop(huge);
        // Touch both ends of a mapped block, then grow it (realloc between mappings).
        let mut big: Vec<u8> = Vec::with_capacity(limits::ALLOC_MMAP_THRESHOLD_BYTES);
        big.push(7);
        big.reserve_exact(limits::ALLOC_MMAP_THRESHOLD_BYTES);
        assert_eq!(big[0], 7);
        big.shrink_to(16);
        assert_eq!(big, vec![7]);
    }

    #[test]
    fn small_allocations_still_work_through_system() {
        let mut items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        items.retain(|s| s.ends_with('7'));
        assert_eq!(items.len(), 100);
        let boxed = vec![0u8; 1 << 20].into_boxed_slice();
        assert!(boxed.iter().all(|b| *b == 0));
    }
}
