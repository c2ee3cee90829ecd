//! A shop's template cannot exhaust the server's memory: each hostile
//! template below is refused, naming the field, while the process's peak
//! heap stays within a small budget. The heap is measured by counting every
//! allocation of this test binary (a global allocator), so the figure is
//! exact and does not depend on what else the machine does.
//!
//! Every place a shop's template is rendered goes through
//! `outreach::check_template` (save, preview) or `outreach::render_capped`
//! (status texts, reminders, links), so both are exercised.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pitwall_core::Error;
use pitwall_core::outreach;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let grow = new_size - layout.size();
                let now = CURRENT.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tests in this binary run one at a time: the counters are global.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The most a render may take above where it started. A legitimate text
/// is at most 1,600 characters; minijinja's own bookkeeping is a few
/// hundred kilobytes at most.
const BUDGET: usize = 4 * 1024 * 1024;

const HOSTILE: &[&str] = &[
    r#"{{ "x" * 100000000 }}"#,
    r#"{{ "x" * 10000 * 10000 }}"#,
    r#"{{ 100000000 * "x" }}"#,
    r#"{{ first_name * 100000000 }}"#,
    r#"{% set ns = namespace(s="xxxxxxxx") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"#,
    r#"{% set ns = namespace(s="x") %}{% for i in range(100000) %}{% set ns.s = ns.s ~ "xxxxxxxxxxxxxxxx" %}{% endfor %}{{ ns.s|length }}"#,
    r#"{% for i in range(100000000) %}x{% endfor %}"#,
    r#"{{ range(100000000)|list|length }}"#,
    r#"{{ range(100000000)|join(",") }}"#,
    r#"{{ ([1] * 100000000)|list|length }}"#,
    r#"{{ ((1,) * 100000000)|length }}"#,
    r#"{{ "x"|indent(100000000, true) }}"#,
    r#"{{ "x"|center(100000000) }}"#,
    r#"{{ ("x" * 10000)|replace("x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") }}"#,
    r#"{{ ("x " * 5000)|split|list|map("upper")|join("x" * 10000) }}"#,
    r#"{{ ("x" * 10000)|urlencode|urlencode|urlencode }}"#,
    r#"{{ ("<" * 10000)|escape|escape }}"#,
    r#"{{ {"a": "x" * 15000}|tojson|tojson|tojson }}"#,
    r#"{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m("x") }}"#,
    r#"{{ "%s"|format("x" * 100000000) }}"#,
    r#"{{ ("x" * 10000)|list|map("upper")|list|join }}"#,
    r#"{{ range(10000)|map("string")|join * 10000 }}"#,
    r#"{{ "x"|wordwrap(100000000) }}"#,
    r#"{{ "ab"|truncate(100000000) * 100000 }}"#,
];

fn peak_of(render: impl FnOnce() -> pitwall_core::Result<()>) -> (usize, pitwall_core::Result<()>) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = render();
    (PEAK.load(Ordering::Relaxed).saturating_sub(base), result)
}

#[test]
fn hostile_templates_are_refused_within_a_small_memory_budget() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vars = outreach::sample_vars();
    let mut failures = Vec::new();
    for template in HOSTILE {
        // Saving and previewing: refused, naming the field.
        let (peak, result) = peak_of(|| outreach::check_template("body", template));
        match result {
            Err(Error::Invalid { field, .. }) if field == "body" => {}
            other => failures.push(format!("{template}: saved as {other:?}")),
        }
        if peak > BUDGET {
            failures.push(format!("{template}: saving peaked at {peak} bytes"));
        }
        // Sending (a row saved before this check, or edited by hand).
        let (peak, result) =
            peak_of(|| outreach::render_capped(template, &vars, outreach::MAX_SMS_CHARS).map(drop));
        if result.is_ok() {
            failures.push(format!("{template}: rendered for sending"));
        }
        if peak > BUDGET {
            failures.push(format!("{template}: sending peaked at {peak} bytes"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The budget is not so small that real templates fail: the defaults and a
/// long, busy one render, and the measurement itself sees an allocation
/// bigger than the budget (so a real blow-up could not go unnoticed).
#[test]
fn real_templates_render_and_the_meter_sees_big_allocations() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vars = outreach::sample_vars();
    let busy = "{% for i in range(20) %}{{ first_name|upper }} {{ vehicle }} {{ status }} {{ link }}\n{% endfor %}";
    for template in [
        "Hi {{ first_name }}, your {{ vehicle }} is {{ status }}. {{ link }}",
        busy,
    ] {
        outreach::check_template("body", template).expect("a real template is accepted");
        let (peak, result) =
            peak_of(|| outreach::render_capped(template, &vars, outreach::MAX_SMS_CHARS).map(drop));
        result.expect("renders");
        assert!(peak < BUDGET, "{peak}");
    }
    let (peak, _) = peak_of(|| {
        let big = vec![1u8; BUDGET * 2];
        std::hint::black_box(&big);
        Ok(())
    });
    assert!(peak >= BUDGET * 2, "the meter missed an allocation: {peak}");
}
