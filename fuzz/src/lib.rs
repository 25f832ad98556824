//! Shared pieces of the fuzz targets: a guard for the one known upstream gap in Kafka request
//! decoding, and a helper that repairs batch CRCs so the batch target reaches past the checksum.
//!
//! The gap: `kafka-protocol` 0.18 calls `Vec::with_capacity(n)` with an array count `n` read off
//! the wire before checking that `n` elements could fit in the bytes left. A 14-byte request can
//! so ask for hundreds of gigabytes; the system allocator refuses and Rust aborts the process,
//! which libFuzzer reports as a crash on every run. [`LazyHugeAlloc`] is the global allocator of
//! the `kafka_request` target: while [`with_lazy_huge_allocations`] is active on the current
//! thread, an allocation of at least [`LAZY_THRESHOLD_BYTES`] is served by an anonymous
//! `MAP_NORESERVE` mapping, which costs address space but no memory until touched. The decoder
//! then fails on the first missing element and frees the mapping, exactly as it would with an
//! unlimited allocator. Everything else goes to the system allocator untouched, so the guard
//! hides nothing in whippet's own code (which bounds its capacities) and changes no result.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations at or above this size, made inside [`with_lazy_huge_allocations`], are mapped
/// lazily instead of going to the system allocator. Far above anything a fuzz input (a few KiB)
/// can legitimately need, far below libFuzzer's default malloc limit (2 GiB).
pub const LAZY_THRESHOLD_BYTES: usize = 64 * 1024 * 1024;

/// Page alignment an anonymous mapping is guaranteed to have.
const PAGE_BYTES: usize = 4096;

thread_local! {
    static LAZY_ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with huge allocations served lazily on this thread (see the crate docs). Used only
/// around calls that hand peer bytes to `kafka-protocol`.
pub fn with_lazy_huge_allocations<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let previous = self.0;
            LAZY_ACTIVE.with(|active| active.set(previous));
        }
    }
    let _reset = Reset(LAZY_ACTIVE.with(|active| active.replace(true)));
    f()
}

fn lazy(layout: Layout) -> bool {
    layout.size() >= LAZY_THRESHOLD_BYTES
        && layout.align() <= PAGE_BYTES
        && LAZY_ACTIVE.try_with(Cell::get).unwrap_or(false)
}

/// Addresses of the live lazy mappings, so `dealloc` knows which blocks to unmap: a block of a
/// huge layout may also come from `System` (allocated outside the guard). Zero marks a free slot.
static MAPPED: [AtomicUsize; MAPPED_SLOTS] = [const { AtomicUsize::new(0) }; MAPPED_SLOTS];

/// How many lazy mappings may be live at once. A decoder holds one huge vector at a time; when
/// every slot is taken the allocation fails (and the process aborts), which would be a finding.
const MAPPED_SLOTS: usize = 64;

fn remember(ptr: *mut u8) -> bool {
    let address = ptr as usize;
    MAPPED.iter().any(|slot| {
        slot.compare_exchange(0, address, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

fn forget(ptr: *mut u8) -> bool {
    let address = ptr as usize;
    MAPPED.iter().any(|slot| {
        slot.compare_exchange(address, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

/// The `kafka_request` target's global allocator; see the crate docs.
pub struct LazyHugeAlloc;

// SAFETY: every block is either from `System` (returned to `System`) or an anonymous mapping of
// exactly `layout.size()` bytes recorded in `MAPPED` (unmapped with the same size, and only if
// recorded), so each block goes back to where it came from.
unsafe impl GlobalAlloc for LazyHugeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if lazy(layout) {
            let ptr = map_lazily(layout.size());
            if ptr.is_null() || remember(ptr) {
                return ptr;
            }
            // SAFETY: just mapped with this size and not handed out.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if lazy(layout) {
            // Anonymous mappings are zero-filled.
            // SAFETY: same contract as `alloc`.
            return unsafe { self.alloc(layout) };
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LAZY_THRESHOLD_BYTES && forget(ptr) {
            // SAFETY: `ptr` was mapped by `map_lazily` with this size.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
            return;
        }
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let old_mapped = layout.size() >= LAZY_THRESHOLD_BYTES
            && MAPPED
                .iter()
                .any(|slot| slot.load(Ordering::Acquire) == ptr as usize);
        if !old_mapped && !lazy(new_layout) {
            // SAFETY: `ptr` is a System block of `layout`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a fresh block of the new layout, the old contents copied, the old freed.
        unsafe {
            let fresh = self.alloc(new_layout);
            if !fresh.is_null() {
                std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            fresh
        }
    }
}

fn map_lazily(size: usize) -> *mut u8 {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: an anonymous private mapping with no address hint touches no existing memory.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        ptr.cast()
    }
}

/// Rewrites the CRC-32C of every magic-2 batch laid back to back in `buf` whose batchLength fits,
/// so mutated inputs get past the checksum and exercise the checks behind it. Stops at the first
/// batch whose length cannot be followed. Offsets as in the magic-2 header: batchLength at 8,
/// CRC at 17, covered bytes from 21 to the end of the batch.
pub fn repair_crcs(buf: &mut [u8]) {
    const BATCH_LENGTH: usize = 8;
    const LENGTH_END: usize = 12;
    const CRC: usize = 17;
    const COVERED: usize = 21;
    let mut position = 0usize;
    loop {
        let Some(field) = buf.get(position + BATCH_LENGTH..position + LENGTH_END) else {
            return;
        };
        let mut raw = [0u8; 4];
        raw.copy_from_slice(field);
        let Ok(length) = usize::try_from(i32::from_be_bytes(raw)) else {
            return;
        };
        let end = position + LENGTH_END + length;
        if end > buf.len() || end < position + COVERED {
            return;
        }
        let crc = crc32c::crc32c(&buf[position + COVERED..end]);
        buf[position + CRC..position + COVERED].copy_from_slice(&crc.to_be_bytes());
        position = end;
    }
}
