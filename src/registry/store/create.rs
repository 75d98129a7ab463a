//! A registry's first state: `init` (empty) and `import` (from a
//! single-file registry that passes `check`). The documents, the blobs and
//! the first log line are written in the commit protocol's order, into a
//! place that holds no registry yet.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Store, render_all};
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::fsio;
use crate::registry::backend::{self, Backend};
use crate::registry::check::check;
use crate::registry::history::{
    self, Entry, HISTORY_DIR, LOG_FILE, Op, READ_LIMIT, append, encode, put_blob,
    read_log_repairing,
};
use crate::registry::model::{DOCUMENTS, RecordLoad, Registry, parse_import};

/// Makes `dir` a registry holding `reg` as its first state. Refuses a
/// directory that already holds anything but an empty history.
pub(crate) fn create(b: &dyn Backend, reg: &Registry, op: Op) -> Result<()> {
    create_with(b, reg, op, &[])
}

/// [`create`], also storing `artifacts` (the import source) as blobs.
pub(crate) fn create_with(
    b: &dyn Backend,
    reg: &Registry,
    op: Op,
    artifacts: &[&[u8]],
) -> Result<()> {
    b.prepare_create()?;
    let _lock = b.lock()?;
    if b.exists(LOG_FILE)? {
        let log = read_log_repairing(b)?;
        if !log.entries.is_empty() {
            return Err(Error::refused(format!(
                "{} already holds a registry ({} states in {LOG_FILE}); nothing written",
                b.root().display(),
                log.entries.len()
            )));
        }
    }
    b.remove_leftovers(true)?;
    let docs = render_all(reg)?;
    for a in artifacts {
        put_blob(b, a)?;
    }
    let mut documents = BTreeMap::new();
    for d in DOCUMENTS {
        let sha = put_blob(b, &docs[d.index()])?;
        documents.insert(
            d.name().to_string(),
            history::DocPin {
                revision: reg.revisions.get(d),
                sha256: sha,
            },
        );
    }
    let entry = Entry {
        documents,
        op,
        prev: None,
        seq: 1,
    };
    let line = encode(&entry)?;
    append(b, &line)?;
    if let Some(dir) = b.dir() {
        fsio::sync_dir(&dir.join(HISTORY_DIR))?;
    }
    for d in DOCUMENTS {
        b.write(d.name(), &docs[d.index()], false)?;
    }
    history::mark_complete(b, &sha256_hex(&line))?;
    b.durable()?;
    super::fast::save_cache(b, reg, &docs);
    Ok(())
}

/// Creates an empty registry in `dir` (ids `PREFIX-` + `width` digits).
pub fn init(dir: &Path, prefix: &str, width: u32) -> Result<Store> {
    let fmt = super::id::IdFormat::new(prefix, width).map_err(Error::Usage)?;
    let op = Op::Init {
        id_prefix: fmt.prefix().to_string(),
        id_width: fmt.width(),
    };
    let b = backend::open(dir)?;
    create(&*b, &Registry::empty(fmt), op)?;
    Store::open_backend(b, RecordLoad::Full)
}

/// Creates a registry in `dir` from the single-file registry at `file`,
/// keeping its ids, canonical max and revisions. The file is validated
/// strictly and must pass `check`; otherwise nothing is written.
pub fn import(dir: &Path, file: &Path) -> Result<Store> {
    let bytes = fsio::read_regular(file, READ_LIMIT)?;
    let reg = parse_import(&bytes, file)?;
    let report = check(&reg);
    if !report.passes() {
        return Err(Error::refused(format!(
            "{} fails check ({}); first: {}; nothing imported",
            file.display(),
            report.counts.summary(),
            report.first_problem().unwrap_or_default()
        )));
    }
    let b = backend::open(dir)?;
    create_with(
        &*b,
        &reg,
        Op::Import {
            source_sha256: sha256_hex(&bytes),
        },
        &[&bytes],
    )?;
    Store::open_backend(b, RecordLoad::Full)
}

#[cfg(test)]
mod tests {
    use crate::error::exit;
    use crate::registry::store;
    use crate::registry::test_support::{everything, seed_fixture};

    #[test]
    fn import_and_init_refuse_an_occupied_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reg");
        store::init(&dir, "TKT-OBJ", 3).unwrap();
        let all = everything(&dir);
        let err = store::import(&dir, &seed_fixture()).unwrap_err();
        assert_eq!(err.exit_code(), exit::REFUSED);
        assert_eq!(everything(&dir), all);
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), b"mine").unwrap();
        let err = store::init(&other, "X", 2).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert!(!other.join("history").exists());
    }
}
