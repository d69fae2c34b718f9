//! Fault injection: byte flips and edits in every kind of artifact, damaged and out-of-range
//! result tables, and runs killed at arbitrary moments. Each case must end in the right numbers
//! (the damaged artifact rebuilt, the killed run resumed) or in a clear error naming the file,
//! never in exit code 0 with wrong numbers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use spiking_unet_report::store;

use crate::util::{TinyRun, printed, tiny};

const REPRODUCE: &str = env!("CARGO_BIN_EXE_reproduce");
const REPORT: &str = env!("CARGO_BIN_EXE_report");
const EXPORT: &str = env!("CARGO_BIN_EXE_export");

/// Every artifact kind: an ANN, a converted and a fine-tuned network, evaluated at two T.
fn pipeline() -> TinyRun {
    tiny(
        "name: tiny\nseed: 5\nruns_dir: runs\n\
         data:\n  denoising:\n    patch_size: 32\n    patches_per_epoch: 16\n    eval_crop: 64\n\
         model:\n  width: 8\n  depth: 2\n\
         train:\n  batch_size: 8\n  epochs: 2\n\
         convert:\n  normalizations: [connection_wise]\n  neurons: [{kind: multi_threshold}]\n\
         finetune:\n  time_steps: 2\n  epochs: 1\n  batch_size: 8\n\
         evaluate:\n  time_steps: [2, 4]\n",
    )
}

/// Run `reproduce`, which must succeed; returns what it printed.
fn reproduce(run: &TinyRun) -> String {
    let output = run.run(REPRODUCE, &[]);
    let log = printed(&output);
    assert!(output.status.success(), "{log}");
    log
}

/// The numbers a report publishes: the merged results table and every table file.
fn published(run: &TinyRun) -> Vec<(String, String)> {
    let results = run.dir.path().join("results/tiny");
    let mut files = vec![results.join("results.csv")];
    let mut tables: Vec<PathBuf> = std::fs::read_dir(results.join("tables"))
        .expect("tables written")
        .map(|e| e.expect("entry").path())
        .collect();
    tables.sort();
    files.extend(tables);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).expect("readable");
            (f.file_name().unwrap().to_string_lossy().to_string(), text)
        })
        .collect()
}

/// The artifact folder of `runs/tiny` whose name starts with `prefix`.
fn artifact(run: &TinyRun, prefix: &str) -> PathBuf {
    let runs = run.dir.path().join("runs/tiny");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&runs)
        .expect("runs/tiny")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(prefix) && !name.contains(".damaged-")
        })
        .collect();
    assert_eq!(found.len(), 1, "{prefix} in {}", runs.display());
    found.remove(0)
}

/// The first file under `dir` (recursively, in name order) named `name`.
fn find(dir: &Path, name: &str) -> PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {name} under {}", dir.display()))
}

/// Flip one bit in the middle of `path`.
fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("readable");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(path, bytes).expect("writable");
}

/// Change a number in a JSON document so that it still parses.
fn edit_number(path: &Path) {
    let text = std::fs::read_to_string(path).expect("readable");
    let at = text
        .find("\"value\": ")
        .or_else(|| text.find("\"seed\": "))
        .expect("a number to edit");
    let digit = text[at..]
        .find(|c: char| c.is_ascii_digit())
        .expect("digit")
        + at;
    let mut edited = text.into_bytes();
    edited[digit] = if edited[digit] == b'9' {
        b'1'
    } else {
        edited[digit] + 1
    };
    std::fs::write(path, edited).expect("writable");
}

#[test]
fn every_damaged_artifact_is_named_moved_aside_and_rebuilt_to_the_same_numbers() {
    let run = pipeline();
    reproduce(&run);
    let clean = published(&run);

    type Locate = fn(&TinyRun) -> PathBuf;
    type Damage = fn(&Path);
    let cases: [(&str, Locate, Damage); 10] = [
        (
            "ANN weights",
            |r| artifact(r, "ann-").join("model.bpk"),
            flip_byte,
        ),
        (
            "ANN manifest",
            |r| artifact(r, "ann-").join("manifest.json"),
            edit_number,
        ),
        (
            "SNN weights",
            |r| artifact(r, "snn-").join("model.bpk"),
            flip_byte,
        ),
        (
            "scale factors",
            |r| artifact(r, "snn-").join("scale_factors.json"),
            flip_byte,
        ),
        (
            "SNN manifest (an edited ladder)",
            |r| artifact(r, "snn-").join("manifest.json"),
            |p| {
                let text = std::fs::read_to_string(p).expect("readable");
                assert!(
                    text.contains("0.25"),
                    "the paper's ladder is in the manifest"
                );
                std::fs::write(p, text.replacen("0.25", "0.125", 1)).expect("writable");
            },
        ),
        (
            "fine-tuned weights",
            |r| artifact(r, "ft-").join("model.bpk"),
            flip_byte,
        ),
        (
            "fine-tuning checkpoint",
            |r| find(&artifact(r, "ft-"), "optimizer.bpk"),
            flip_byte,
        ),
        (
            "an SNN evaluation (edited value)",
            |r| find(&artifact(r, "snn-"), "T4.json"),
            edit_number,
        ),
        (
            "an ANN evaluation",
            |r| find(&artifact(r, "ann-"), "ann.json"),
            flip_byte,
        ),
        (
            "a picture",
            |r| find(&artifact(r, "snn-"), "T4.png"),
            flip_byte,
        ),
    ];
    for (what, locate, damage) in cases {
        let file = locate(&run);
        damage(&file);
        let plan = printed(&run.run(REPRODUCE, &["--dry-run"]));
        // A checkpoint of a finished network is not read again: nothing to rebuild.
        let read_again = what != "fine-tuning checkpoint";
        if read_again {
            assert!(
                plan.contains("rebuild") && plan.contains("damaged"),
                "{what}: the dry run says what it will rebuild:\n{plan}"
            );
        }
        let log = reproduce(&run);
        if read_again {
            let relative = file.strip_prefix(run.dir.path()).expect("inside the run");
            assert!(
                log.contains("moved") && log.contains(&*relative.to_string_lossy()),
                "{what}: the run names the damaged file and moves it aside:\n{log}"
            );
        }
        assert_eq!(
            published(&run),
            clean,
            "{what}: the same numbers after the rebuild"
        );
        let again = reproduce(&run);
        assert!(
            !again.contains("damaged"),
            "{what}: repaired for good:\n{again}"
        );
    }
}

#[test]
fn standalone_readers_refuse_damaged_artifacts() {
    let run = pipeline();
    reproduce(&run);
    let ann = artifact(&run, "ann-");
    flip_byte(&ann.join("model.bpk"));
    let output = std::process::Command::new(EXPORT)
        .arg("--artifact")
        .arg(&ann)
        .arg("--out")
        .arg(run.dir.path().join("out.safetensors"))
        .output()
        .expect("export starts");
    let log = printed(&output);
    assert!(
        !output.status.success(),
        "export refuses damaged weights: {log}"
    );
    assert!(
        log.contains("model.bpk") && log.contains("was recorded"),
        "the error names the file and both hashes: {log}"
    );
    assert!(!run.dir.path().join("out.safetensors").exists());
}

#[test]
fn damaged_or_impossible_result_tables_are_errors_until_reproduce_rewrites_them() {
    let run = pipeline();
    reproduce(&run);
    let clean = published(&run);
    let shard = run.dir.path().join("results/tiny/store/shard-1-of-1");
    let report = |run: &TinyRun| run.run(REPORT, &[]);

    for (file, damage) in [
        ("results.parquet", flip_byte as fn(&Path)),
        ("results.csv", |p: &Path| {
            let bytes = std::fs::read(p).expect("readable");
            std::fs::write(p, &bytes[..bytes.len() / 3]).expect("writable");
        }),
        ("SHA256SUMS", |p: &Path| {
            std::fs::remove_file(p).expect("removable")
        }),
    ] {
        damage(&shard.join(file));
        let output = report(&run);
        let log = printed(&output);
        assert!(!output.status.success(), "{file}: report refuses it: {log}");
        assert!(
            log.contains("shard-1-of-1"),
            "{file}: the error names it: {log}"
        );
        reproduce(&run);
        assert_eq!(
            published(&run),
            clean,
            "{file}: rewritten from the cached evaluations"
        );
    }

    // A value outside its metric's domain, in a table whose checksums match.
    let parquet = shard.join("results.parquet");
    let mut rows = store::read(&parquet).expect("clean table");
    let psnr = rows
        .iter()
        .position(|r| r.metric == "ssim")
        .expect("an SSIM row");
    rows[psnr].value = 31.9;
    store::write(&rows, &shard.join("results")).expect("writes");
    let output = report(&run);
    let log = printed(&output);
    assert!(!output.status.success(), "{log}");
    assert!(
        log.contains(&format!("row {}", psnr + 1)) && log.contains("ssim = 31.9 is outside"),
        "the error names the row and the domain: {log}"
    );
}

#[test]
fn runs_killed_at_arbitrary_moments_resume_to_the_same_numbers_and_leave_no_temporaries() {
    let reference = pipeline();
    let started = Instant::now();
    reproduce(&reference);
    let full = started.elapsed();
    let clean = published(&reference);

    let run = pipeline();
    // Deterministic "random" moments spread over a whole run (a linear congruential sequence,
    // so a failure can be replayed).
    let mut state: u64 = 0x5eed;
    for _ in 0..5 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = (state >> 33) as f64 / (1u64 << 31) as f64;
        let delay = full.mul_f64(0.05 + 0.9 * fraction);
        let mut child = run
            .command(REPRODUCE, &[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("reproduce starts");
        std::thread::sleep(delay.min(Duration::from_secs(60)));
        // SIGKILL: no destructor, no cleanup.
        let _ = child.kill();
        child.wait().expect("reaped");
    }
    reproduce(&run);
    assert_eq!(published(&run), clean, "killed five times, same numbers");
    for folder in ["runs", "results"] {
        let leftovers = temporaries(&run.dir.path().join(folder));
        assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    }
}

/// Temporary files of atomic writes under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn identical_runs_vouch_for_identical_weights_and_concurrent_runs_share_the_work() {
    // Two runs of one config in one folder at the same time: the second waits for the lock
    // while the first trains, then finds the networks made and says it reused them.
    let run = pipeline();
    let mut first = run
        .command(REPRODUCE, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("reproduce starts");
    let started = Instant::now();
    // The ANN's manifest is written under the lock, when training starts.
    let training = || {
        std::fs::read_dir(run.dir.path().join("runs/tiny"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .any(|e| e.path().join("manifest.json").exists())
            })
            .unwrap_or(false)
    };
    while !training() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "training never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = reproduce(&run);
    assert!(first.wait().expect("first run ends").success());
    let reused: usize = second
        .split(" of ")
        .next()
        .and_then(|head| head.rsplit(", ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a reused-steps line: {second}"));
    assert!(
        reused >= 3,
        "train, convert and finetune were the first run's: {second}"
    );
    let shared = published(&run);

    // A second folder, same config: the weights differ byte for byte in their burnpack files
    // (random parameter ids) but their tensors, and so the hashes manifests vouch with, agree.
    let other = pipeline();
    reproduce(&other);
    assert_eq!(published(&other), shared);
    let weights = |r: &TinyRun| {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(artifact(r, "ann-").join("manifest.json")).expect("read"),
        )
        .expect("JSON");
        manifest["content"]["contents"]["weights_sha256"].clone()
    };
    assert!(weights(&run).is_string());
    assert_eq!(weights(&run), weights(&other));
}
