//! The `whippet` binary. Everything lives in the library so tests share the same path.

/// Guards against decoders that size allocations from wire counts (see `alloc_guard`).
#[global_allocator]
static ALLOCATOR: whippet_broker::alloc_guard::GuardedAlloc =
    whippet_broker::alloc_guard::GuardedAlloc;

fn main() -> std::process::ExitCode {
    whippet_broker::alloc_guard::tune_system_allocator();
    whippet_broker::process::main()
}
