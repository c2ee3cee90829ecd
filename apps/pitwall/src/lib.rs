//! The `pitwall` binary's library half: configuration and server assembly,
//! shared with the test kit so that tests run exactly what production runs.

pub mod backup;
pub mod config;
pub mod demo;
pub mod server;

pub use config::Config;

/// jemalloc, not glibc's allocator. glibc keeps freed memory in an arena
/// per concurrent thread and gives it back late, so the server's resident
/// memory grew about 5 KiB per shop served where what it keeps is under
/// 2 KiB; and the ticket list ran 1.3x faster on jemalloc (both measured in
/// docs/BENCHMARKS.md, "Memory per shop"). Declared in the library so that
/// the tests and benches, which build the server from it, run the allocator
/// production runs.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read before `main`: a background thread gives
/// freed pages back to the system after about a second (jemalloc's default
/// is ten, and without the thread only when the program next allocates),
/// so resident memory follows what the server holds rather than its
/// busiest moment. Operators can still override any of it with
/// `_RJEM_MALLOC_CONF`, which jemalloc reads after this.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: JemallocConf =
    JemallocConf(c"background_thread:true,dirty_decay_ms:1000".as_ptr());

/// A C string jemalloc reads through the symbol above; it never changes.
#[cfg(not(target_env = "msvc"))]
#[repr(transparent)]
struct JemallocConf(*const std::ffi::c_char);

// SAFETY: the pointer is to a static, immutable C string literal.
#[cfg(not(target_env = "msvc"))]
unsafe impl Sync for JemallocConf {}
