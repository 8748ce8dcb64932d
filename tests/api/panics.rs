//! Server panics, seen from a test. Tokio catches a panicking task, so a
//! test would only notice a missing answer; here the server under test runs
//! on worker threads of its own name and a panic hook counts every panic
//! there.

use std::future::Future;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use tokio::runtime::Runtime;

const SERVER_THREADS: &str = "server-under-test";

static PANICS: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

/// A runtime whose worker threads (where a spawned server runs) count
/// their panics.
pub fn runtime() -> Runtime {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SERVER_THREADS) {
                PANICS.fetch_add(1, SeqCst);
            }
            previous(info);
        }));
    });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Panics on counted threads so far.
pub fn count() -> usize {
    PANICS.load(SeqCst)
}

/// Runs `test` on a counted runtime and fails if a server panicked
/// meanwhile (in this test or in one running beside it: either way, a
/// server panicked).
pub fn run<F: Future<Output = ()>>(test: F) {
    let runtime = runtime();
    let before = count();
    runtime.block_on(test);
    assert_eq!(count(), before, "the server panicked (its message is printed above)");
}
