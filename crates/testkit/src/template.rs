//! The name of the migrated PostgreSQL template: a hash of everything that
//! decides what `pitwall migrate up` builds, so that a change to any of it
//! builds a new template instead of cloning a stale one.
//!
//! Nothing here is a hand-kept list of files. From the workspace's own
//! `Cargo.lock` and `Cargo.toml` it takes:
//! - every file of the migrations crate and of each workspace crate it
//!   depends on, directly or not (the plan catalogue the first migration
//!   seeds lives in `pitwall-domain`), found by walking their folders, so a
//!   new migration file is in the hash the moment it exists;
//! - every file those sources pull in with `include_str!` / `include_bytes!`,
//!   wherever it lives;
//! - the name and version of every registry package the migrations and the
//!   job tables' setup (`pitwall-jobs`, which asks apalis) are built from.
//!
//! The migrator's own list of migration names is hashed on top by the
//! caller.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// The crate whose sources and dependencies are hashed.
const MIGRATIONS: &str = "pitwall-migrations";
/// Crates whose registry dependencies also shape the schema (the job
/// tables `pitwall migrate up` creates through apalis).
const SCHEMA_SETUP: &[&str] = &[MIGRATIONS, "pitwall-jobs"];

/// What went into the hash, for tests and error messages.
#[derive(Debug, Default)]
pub struct Fingerprint {
    /// Files hashed, relative to the workspace root.
    pub files: BTreeSet<PathBuf>,
    /// Registry packages hashed, as `name version`.
    pub packages: BTreeSet<String>,
    pub digest: String,
}

/// One `[[package]]` of `Cargo.lock`.
#[derive(Debug, Default, Clone)]
struct Locked {
    version: String,
    registry: bool,
    deps: Vec<String>,
}

/// `Cargo.lock`'s packages by name (several versions of a name are kept
/// under `name version`, as the lock file names them in dependency lists).
fn parse_lock(text: &str) -> BTreeMap<String, Locked> {
    let mut out = BTreeMap::new();
    for block in text.split("[[package]]").skip(1) {
        let mut name = String::new();
        let mut p = Locked::default();
        let mut in_deps = false;
        for line in block.lines() {
            let line = line.trim();
            if in_deps {
                if line.starts_with(']') {
                    in_deps = false;
                } else {
                    p.deps.push(line.trim_matches([',', '"']).to_owned());
                }
            } else if let Some(v) = line.strip_prefix("name = ") {
                name = v.trim_matches('"').to_owned();
            } else if let Some(v) = line.strip_prefix("version = ") {
                p.version = v.trim_matches('"').to_owned();
            } else if line.starts_with("source = ") {
                p.registry = true;
            } else if line.starts_with("dependencies = [") {
                in_deps = !line.ends_with(']');
            }
        }
        if !name.is_empty() {
            out.insert(format!("{name} {}", p.version), p.clone());
            out.entry(name).or_insert(p);
        }
    }
    out
}

/// Workspace members' folders by package name, from the root `Cargo.toml`.
fn members(root: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).context("Cargo.toml")?;
    let list = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .context("Cargo.toml has no workspace members")?;
    let mut out = BTreeMap::new();
    for member in list.split(',').map(|m| m.trim().trim_matches('"')) {
        if member.is_empty() {
            continue;
        }
        let own = std::fs::read_to_string(root.join(member).join("Cargo.toml"))
            .with_context(|| format!("{member}/Cargo.toml"))?;
        let name = own
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_owned())
            .with_context(|| format!("{member}/Cargo.toml names no package"))?;
        out.insert(name, PathBuf::from(member));
    }
    Ok(out)
}

/// Every file under `dir` (relative to `root`), skipping build output and
/// hidden folders.
fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(root.join(dir)).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let rel = dir.join(&*name);
        if e.file_type()?.is_dir() {
            walk(root, &rel, out)?;
        } else {
            out.insert(rel);
        }
    }
    Ok(())
}

/// Paths named by `include_str!("...")` / `include_bytes!("...")` in a
/// source file, relative to that file's folder.
fn included(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for mac in ["include_str!(", "include_bytes!("] {
        for part in source.split(mac).skip(1) {
            if let Some(path) = part.trim_start().strip_prefix('"')
                && let Some(end) = path.find('"')
            {
                out.push(path[..end].to_owned());
            }
        }
    }
    out
}

/// Lexically resolves `a/b/../c` (the included file need not be under the
/// crate, so no canonicalising against the file system's links).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The fingerprint of the workspace at `root`, plus `extra` (the
/// migrator's names).
pub fn fingerprint(root: &Path, extra: &[String]) -> anyhow::Result<Fingerprint> {
    let lock = parse_lock(&std::fs::read_to_string(root.join("Cargo.lock")).context("Cargo.lock")?);
    let members = members(root)?;
    let mut fp = Fingerprint::default();

    // Workspace crates the migrations are built from: all their files.
    let mut local = BTreeSet::new();
    let mut todo = vec![MIGRATIONS.to_owned()];
    while let Some(name) = todo.pop() {
        if !local.insert(name.clone()) {
            continue;
        }
        let p = lock
            .get(&name)
            .with_context(|| format!("{name} is not in Cargo.lock"))?;
        todo.extend(
            p.deps
                .iter()
                .filter(|d| lock.get(*d).is_some_and(|x| !x.registry))
                .cloned(),
        );
    }
    for name in &local {
        let dir = members
            .get(name.split(' ').next().unwrap_or(name))
            .with_context(|| format!("{name} is not a workspace member"))?;
        walk(root, dir, &mut fp.files)?;
    }
    let sources: Vec<PathBuf> = fp.files.iter().cloned().collect();
    for f in sources
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let text = std::fs::read_to_string(root.join(f))?;
        let dir = f.parent().unwrap_or(Path::new(""));
        for inc in included(&text) {
            fp.files.insert(normalise(&dir.join(inc)));
        }
    }

    // Registry packages under the migrations and the job tables' setup.
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = SCHEMA_SETUP.iter().map(|s| (*s).to_owned()).collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(p) = lock.get(&name) else { continue };
        if p.registry {
            let bare = name.split(' ').next().unwrap_or(&name);
            fp.packages.insert(format!("{bare} {}", p.version));
        }
        todo.extend(p.deps.iter().cloned());
    }

    let mut h = Sha256::new();
    for f in &fp.files {
        let bytes =
            std::fs::read(root.join(f)).with_context(|| format!("reading {}", f.display()))?;
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    for p in &fp.packages {
        h.update(p.as_bytes());
        h.update([0]);
    }
    for e in extra {
        h.update(e.as_bytes());
        h.update([0]);
    }
    fp.digest = hex::encode(h.finalize());
    Ok(fp)
}

/// The workspace this test kit was built in.
pub fn workspace_root() -> PathBuf {
    normalise(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A workspace shaped like ours: migrations depending on a domain
    /// crate, the jobs crate on apalis, and a crate nobody migrates with.
    fn workspace() -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("pitwall-tpl-{}", uuid::Uuid::new_v4().simple()));
        write(
            &root,
            "Cargo.toml",
            "[workspace]\nmembers = [\n  \"migrations\",\n  \"crates/domain\",\n  \"crates/jobs\",\n  \"crates/web\",\n]\n",
        );
        write(
            &root,
            "migrations/Cargo.toml",
            "[package]\nname = \"pitwall-migrations\"\n",
        );
        write(&root, "migrations/src/lib.rs", "mod m1;\n");
        write(
            &root,
            "migrations/src/m1.rs",
            "const SEED: &str = include_str!(\"../../data/seed.json\");\n",
        );
        write(&root, "data/seed.json", "[1]");
        write(
            &root,
            "crates/domain/Cargo.toml",
            "[package]\nname = \"pitwall-domain\"\n",
        );
        write(
            &root,
            "crates/domain/src/plans.rs",
            "pub const PLANS: &[&str] = &[\"starter\"];\n",
        );
        write(
            &root,
            "crates/jobs/Cargo.toml",
            "[package]\nname = \"pitwall-jobs\"\n",
        );
        write(&root, "crates/jobs/src/lib.rs", "// jobs\n");
        write(
            &root,
            "crates/web/Cargo.toml",
            "[package]\nname = \"pitwall-web\"\n",
        );
        write(&root, "crates/web/src/lib.rs", "// pages\n");
        write(&root, "Cargo.lock", &lock("1.0.0"));
        root
    }

    fn lock(apalis: &str) -> String {
        format!(
            "version = 4\n\n[[package]]\nname = \"pitwall-migrations\"\nversion = \"0.1.0\"\ndependencies = [\n \"pitwall-domain\",\n \"sea-orm-migration\",\n]\n\n\
             [[package]]\nname = \"pitwall-domain\"\nversion = \"0.1.0\"\n\n\
             [[package]]\nname = \"pitwall-jobs\"\nversion = \"0.1.0\"\ndependencies = [\n \"apalis-postgres\",\n \"pitwall-domain\",\n]\n\n\
             [[package]]\nname = \"pitwall-web\"\nversion = \"0.1.0\"\ndependencies = [\n \"minijinja\",\n]\n\n\
             [[package]]\nname = \"sea-orm-migration\"\nversion = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
             [[package]]\nname = \"apalis-postgres\"\nversion = \"{apalis}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
             [[package]]\nname = \"minijinja\"\nversion = \"3.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        )
    }

    fn digest(root: &Path) -> String {
        fingerprint(root, &[]).unwrap().digest
    }

    #[test]
    fn whatever_the_migrations_read_changes_the_name_and_nothing_else_does() {
        let root = workspace();
        let first = digest(&root);
        assert_eq!(digest(&root), first, "the same workspace, the same name");

        // Unrelated code: the same template.
        write(&root, "crates/web/src/lib.rs", "// other pages\n");
        write(
            &root,
            "Cargo.lock",
            &lock("1.0.0").replace("3.0.0", "3.1.0"),
        );
        assert_eq!(digest(&root), first);

        let mut seen = vec![first];
        let mut changed = |what: &str| {
            let d = digest(&root);
            assert!(
                !seen.contains(&d),
                "{what} did not change the template's name"
            );
            seen.push(d);
        };
        write(
            &root,
            "migrations/src/m2.rs",
            "// a new migration, listed nowhere\n",
        );
        changed("a new migration file");
        write(
            &root,
            "crates/domain/src/plans.rs",
            "pub const PLANS: &[&str] = &[\"starter\", \"pro\"];\n",
        );
        changed("the plan catalogue in a crate the migrations use");
        write(&root, "data/seed.json", "[1, 2]");
        changed("a data file a migration includes");
        write(
            &root,
            "Cargo.lock",
            &lock("1.0.1").replace("3.0.0", "3.1.0"),
        );
        changed("the version of the library that makes the job tables");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_real_workspace_hashes_every_migration_and_the_plan_catalogue() {
        use pitwall_migrations::MigratorTrait;
        let fp = fingerprint(&workspace_root(), &[]).unwrap();
        for m in pitwall_migrations::Migrator::migrations() {
            let file = PathBuf::from(format!("migrations/src/{}.rs", m.name()));
            assert!(
                fp.files.contains(&file),
                "{} is not hashed: {:?}",
                file.display(),
                fp.files
            );
        }
        assert!(
            fp.files.contains(Path::new("crates/domain/src/plans.rs")),
            "{:?}",
            fp.files
        );
        assert!(
            fp.packages
                .iter()
                .any(|p| p.starts_with("apalis-postgres ")),
            "{:?}",
            fp.packages
        );
    }
}
