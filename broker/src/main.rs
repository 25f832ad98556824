//! The `whippet` binary. Everything lives in the library so tests share the same path.

/// Guards against decoders that size allocations from wire counts (see `alloc_guard`).
#[global_allocator]
static ALLOCATOR: whippet_broker::alloc_guard::GuardedAlloc =
    whippet_broker::alloc_guard::GuardedAlloc;

fn main() -> std::process::ExitCode {
    // `whippet topic …`, `whippet group …` and the other operator subcommands are the CLI, a
    // client of a running broker's HTTP API; anything else starts the broker as before.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if whippet_admin::is_cli(&args) {
        return whippet_admin::run(args);
    }
    whippet_broker::alloc_guard::tune_system_allocator();
    whippet_broker::process::main()
}
