//! Helpers shared by the integration tests: a temporary run folder with a tiny config.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder holding one config; runs go to its `runs/` subfolder.
pub struct TinyRun {
    /// Kept alive so the folder lives as long as the test.
    pub dir: tempfile::TempDir,
    /// The config file.
    pub config: PathBuf,
}

/// A denoising config small enough to train in seconds: width 8, depth 2, 32-pixel patches.
pub fn tiny_denoising(epochs: usize) -> TinyRun {
    tiny(&format!(
        "name: tiny\nseed: 3\nruns_dir: runs\n\
         data:\n  denoising:\n    patch_size: 32\n    patches_per_epoch: 16\n    eval_crop: 64\n\
         model:\n  width: 8\n  depth: 2\n\
         train:\n  batch_size: 8\n  epochs: {epochs}\n"
    ))
}

/// A config from text.
pub fn tiny(text: &str) -> TinyRun {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let config = dir.path().join("tiny.yaml");
    std::fs::write(&config, text).expect("the config can be written");
    TinyRun { dir, config }
}

impl TinyRun {
    /// Run a harness binary with this run's folder as the working directory.
    pub fn run(&self, binary: &str, extra: &[&str]) -> Output {
        self.command(binary, extra)
            .output()
            .expect("the binary starts")
    }

    /// The command, for tests that need to manage the process.
    pub fn command(&self, binary: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(binary);
        command
            .arg(&self.config)
            .args(extra)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info");
        command
    }

    /// The single ANN artifact folder under `runs/tiny/`.
    pub fn ann_dir(&self) -> PathBuf {
        let parent = self.dir.path().join("runs/tiny");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&parent)
            .expect("runs/tiny exists after train")
            .map(|e| e.expect("readable entry").path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("ann-"))
            })
            .collect();
        assert_eq!(
            dirs.len(),
            1,
            "one ANN artifact folder in {}",
            parent.display()
        );
        dirs.remove(0)
    }
}

/// Text of a file, or a panic naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{} should be readable: {err}", path.display()))
}

/// The content of a sealed JSON document (a manifest, an evaluation file).
pub fn sealed_json(path: &Path) -> serde_json::Value {
    let document: serde_json::Value = serde_json::from_str(&read(path)).expect("JSON");
    assert!(
        document["sha256"].as_str().is_some_and(|h| h.len() == 64),
        "{} is sealed",
        path.display()
    );
    document["content"].clone()
}

/// The one folder inside `dir` (an evaluation cache holds one folder per weights).
pub fn only_subfolder(dir: &Path) -> std::path::PathBuf {
    let folders: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{} should be a folder: {err}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(folders.len(), 1, "{}: {folders:?}", dir.display());
    folders[0].clone()
}

/// Everything the process printed.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
