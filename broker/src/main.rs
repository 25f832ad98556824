//! The `whippet` binary. Everything lives in the library so tests share the same path.

fn main() -> std::process::ExitCode {
    whippet_broker::process::main()
}
