//! Process and Tokio runtime metrics collected by `init`, read back from the Prometheus
//! exposition of this very process and compared with what `/proc` says. `init` installs
//! global state, so this file (and process) has one test.

use sdk_core::TelemetryGuard;
use sdk_core::config::Config;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Generous: a loaded 2-core machine may starve the collector for a while.
const DEADLINE: Duration = Duration::from_secs(60);
const INTERVAL: Duration = Duration::from_millis(100);
const WORKERS: usize = 2;

/// The value of the unlabelled series `name`, or of the series with exactly `labels`.
fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(labels)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Renders the exposition until `check` finds what it wants; after [`DEADLINE`], fails
/// with `what` and the last exposition. The pause between renders is the polling period.
fn wait_for<T>(
    telemetry: &TelemetryGuard,
    what: &str,
    mut check: impl FnMut(&str) -> Option<T>,
) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = render(telemetry);
        if let Some(found) = check(&text) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {DEADLINE:?}; last exposition:\n{text}"
        );
        std::thread::sleep(INTERVAL / 2);
    }
}

fn render(telemetry: &TelemetryGuard) -> String {
    telemetry
        .prometheus()
        .expect("metrics go to Prometheus by default")
        .render()
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn vm_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024.0
}

fn open_fds() -> f64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as f64
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files() -> f64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files in /proc/self/limits");
    line["Max open files".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn collector_thread_running() -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        // The kernel keeps the first 15 bytes of a thread's name.
        .any(|comm| comm.trim_end() == "sdk-process-met")
}

fn spin(duration: Duration) {
    let until = Instant::now() + duration;
    let mut x = 0u64;
    while Instant::now() < until {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

#[test]
fn init_records_process_and_runtime_metrics_until_shutdown() {
    let test_started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap();
    let entered = runtime.enter();
    let config = Config::builder()
        .service_name("process-metrics-test")
        .build_from_vars::<&str, &str>([])
        .unwrap();
    let telemetry = sdk_core::builder(config)
        .with_process_metrics_interval(INTERVAL)
        .init()
        .unwrap();
    drop(entered);

    // The first collection ran inside `init`: the first scrape has values.
    let first = render(&telemetry);
    for name in [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
        "process_start_time_seconds",
        "sdk_runtime_tokio_workers",
        "sdk_runtime_tokio_global_queue_depth",
        "sdk_runtime_tokio_alive_tasks",
    ] {
        assert!(
            value(&first, name, "").is_some(),
            "{name} missing:\n{first}"
        );
    }
    // The thread names itself once it runs.
    wait_for(&telemetry, "the sdk-process-metrics thread", |_| {
        collector_thread_running().then_some(())
    });

    // Resident memory: within 30 % of the kernel's VmRSS read at about the same time.
    let (rss, kernel) = wait_for(&telemetry, "RSS within 30 % of VmRSS", |text| {
        let rss = value(text, "process_resident_memory_bytes", "")?;
        let kernel = vm_rss();
        ((rss - kernel).abs() <= 0.3 * kernel).then_some((rss, kernel))
    });
    assert!(rss > 0.0 && kernel > 0.0);
    let virtual_memory = value(&first, "process_virtual_memory_bytes", "").unwrap();
    assert!(
        virtual_memory >= rss,
        "virtual {virtual_memory} < resident {rss}"
    );
    assert_eq!(
        value(&first, "process_max_fds", "").unwrap(),
        max_open_files()
    );

    // Open descriptors: close to the count of /proc/self/fd, and up by N when N more open.
    let before = wait_for(&telemetry, "open fds near /proc/self/fd", |text| {
        let gauge = value(text, "process_open_fds", "")?;
        ((gauge - open_fds()).abs() <= 4.0).then_some(gauge)
    });
    const EXTRA_FILES: usize = 16;
    let files: Vec<std::fs::File> = (0..EXTRA_FILES)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    let after = wait_for(&telemetry, "open fds up by the files opened", |text| {
        value(text, "process_open_fds", "").filter(|g| *g >= before + EXTRA_FILES as f64)
    });
    assert!(after <= open_fds() + 4.0, "{after} fds vs {}", open_fds());
    drop(files);

    // Threads: at least the ones this test started (the runtime's workers, a few parked
    // threads) and the test's own.
    const PARKED: usize = 6;
    let (release, parked) = std::sync::mpsc::channel::<()>();
    let parked = std::sync::Arc::new(std::sync::Mutex::new(parked));
    let threads: Vec<_> = (0..PARKED)
        .map(|_| {
            let parked = std::sync::Arc::clone(&parked);
            std::thread::spawn(move || {
                let _ = parked.lock().unwrap().recv();
            })
        })
        .collect();
    let started = (PARKED + WORKERS + 1) as f64;
    wait_for(&telemetry, "threads at least those started", |text| {
        value(text, "process_threads", "").filter(|t| *t >= started)
    });
    drop(release);
    for thread in threads {
        thread.join().unwrap();
    }

    // Start time: at most a few seconds before this test began (truncated to seconds).
    let start = value(&first, "process_start_time_seconds", "").unwrap();
    let began = test_started.as_secs_f64();
    assert!(
        start <= began && start >= began - 10.0,
        "process start {start} vs test start {began}"
    );

    // CPU: rises after a busy loop (whole seconds, so at least one second of CPU).
    let cpu_before = value(&first, "process_cpu_seconds_total", "").unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        spin(Duration::from_millis(50));
        let text = render(&telemetry);
        if value(&text, "process_cpu_seconds_total", "").is_some_and(|c| c > cpu_before) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "CPU counter still {cpu_before} after {DEADLINE:?} of busy loop:\n{text}"
        );
    }

    // Tokio: the configured workers.
    assert_eq!(
        value(&first, "sdk_runtime_tokio_workers", "").unwrap(),
        WORKERS as f64
    );

    // Busy ratio: above 0 (and at most 1) while tasks keep the workers busy.
    let deadline = Instant::now() + DEADLINE;
    let ratio = loop {
        runtime.block_on(async {
            let busy: Vec<_> = (0..WORKERS)
                .map(|_| tokio::spawn(async { spin(Duration::from_millis(30)) }))
                .collect();
            for task in busy {
                task.await.unwrap();
            }
        });
        let text = render(&telemetry);
        if let Some(ratio) = value(&text, "sdk_runtime_tokio_busy_ratio", "")
            && ratio > 0.0
        {
            break ratio;
        }
        assert!(
            Instant::now() < deadline,
            "busy ratio still 0 after {DEADLINE:?} of busy tasks:\n{text}"
        );
    };
    assert!(ratio <= 1.0, "busy ratio {ratio}");

    // Alive tasks: up by the tasks parked on a future that never completes, down when
    // they are aborted.
    const PARKED_TASKS: usize = 50;
    let tasks: Vec<_> = (0..PARKED_TASKS)
        .map(|_| runtime.spawn(std::future::pending::<()>()))
        .collect();
    wait_for(&telemetry, "alive tasks up by the parked tasks", |text| {
        value(text, "sdk_runtime_tokio_alive_tasks", "").filter(|n| *n >= PARKED_TASKS as f64)
    });
    for task in &tasks {
        task.abort();
    }
    wait_for(&telemetry, "alive tasks down after abort", |text| {
        value(text, "sdk_runtime_tokio_alive_tasks", "").filter(|n| *n < PARKED_TASKS as f64)
    });

    // Blocking threads: tokio's count with `tokio_unstable`, else (Linux) the threads
    // named as Tokio names them less the workers.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let blocking = runtime.spawn_blocking(move || {
        let _ = hold.recv();
    });
    wait_for(
        &telemetry,
        "blocking threads after spawn_blocking",
        |text| value(text, "sdk_runtime_tokio_blocking_threads", "").filter(|n| *n > 0.0),
    );
    drop(release);
    runtime.block_on(blocking).unwrap();

    // Every run was timed, none failed; the cost of one collection.
    let text = render(&telemetry);
    for collector in ["process", "tokio"] {
        let ok = format!("{{sdk_collector=\"{collector}\",sdk_result=\"ok\"}}");
        let error = format!("{{sdk_collector=\"{collector}\",sdk_result=\"error\"}}");
        let count = value(&text, "sdk_collector_duration_seconds_count", &ok).unwrap_or(0.0);
        let sum = value(&text, "sdk_collector_duration_seconds_sum", &ok).unwrap_or(0.0);
        assert!(count >= 2.0, "{collector}: {count} runs:\n{text}");
        assert!(
            value(&text, "sdk_collector_duration_seconds_count", &error).is_none_or(|n| n == 0.0),
            "{collector} runs failed:\n{text}"
        );
        eprintln!(
            "{collector} collection: {count} runs, mean {:.1} µs",
            sum / count * 1e6
        );
    }
    sdk_core::testing::promtool_check(&text).unwrap();

    // Shutdown stops the collector thread.
    telemetry.shutdown();
    assert!(
        !collector_thread_running(),
        "sdk-process-metrics still running"
    );
}
