//! The experiment lock: `train`, `convert`, `finetune` and `reproduce` hold
//! `runs/<name>/.lock` while they make upstream artifacts, so two runs of one config (two
//! shards, or a shard and a standalone stage) never build the same artifact at once: the second
//! waits, then finds the artifact finished and reuses it. Taking the lock also clears the
//! temporary files that a killed run left in the folder.

use std::fs::File;
use std::path::Path;

use crate::config::ExperimentConfig;
use crate::layout::ExperimentDir;
use crate::{Error, Result};

/// Wait for, then hold, the lock of `config`'s experiment folder (released when the returned
/// file is dropped). Holding it twice in one process would wait forever: take it once, in the
/// binary or in `reproduce`, never in a stage.
pub fn hold(config: &ExperimentConfig) -> Result<File> {
    let runs = ExperimentDir::of(config);
    let dir = runs.path();
    std::fs::create_dir_all(dir).map_err(Error::io("creating folder", dir))?;
    let path = runs.lock();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("opening lock file", &path))?;
    file.lock().map_err(Error::io("locking", &path))?;
    clear_leftovers(dir)?;
    Ok(file)
}

/// Remove the temporary files that killed runs left under `dir` (see
/// [`spiking_unet_report::atomic::remove_leftovers`]), saying so.
pub fn clear_leftovers(dir: &Path) -> Result<()> {
    for removed in spiking_unet_report::atomic::remove_leftovers(dir)? {
        tracing::info!(event = "leftover", file = %removed.display(), "removed {} (left by a killed run)", removed.display());
    }
    Ok(())
}
