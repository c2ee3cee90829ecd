//! The figures of a run as JSON, beside the table printed for people:
//! `target/bench/results.json` (under `CARGO_TARGET_DIR` when set), or the
//! path after `--json`.

use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{Value, json};

static FIGURES: Mutex<Vec<Value>> = Mutex::new(Vec::new());

/// One measurement: its name and its figures (rates, latencies, the
/// baseline and the ratio, the goal where there is one).
pub fn record(measure: &str, figures: Value) {
    let mut entry = json!({ "measure": measure });
    if let (Some(e), Value::Object(f)) = (entry.as_object_mut(), figures) {
        e.extend(f);
    }
    if let Ok(mut all) = FIGURES.lock() {
        all.push(entry);
    }
}

fn path() -> PathBuf {
    if let Some(p) = std::env::args().skip_while(|a| a != "--json").nth(1) {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    PathBuf::from(target).join("bench").join("results.json")
}

/// Writes what was recorded; says where.
pub fn write(quick: bool) -> anyhow::Result<()> {
    let figures = FIGURES
        .lock()
        .map_err(|_| anyhow::anyhow!("results lock poisoned"))?
        .clone();
    let doc = json!({
        "run": if quick { "quick" } else { "full" },
        "finished_at": chrono::Utc::now().to_rfc3339(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "figures": figures,
    });
    let path = path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&doc)?)?;
    println!("figures written to {}", path.display());
    Ok(())
}
