use std::time::Instant;

use crate::util::{printed, sealed_json, tiny, tiny_denoising};

const BINARIES: [&str; 9] = [
    env!("CARGO_BIN_EXE_train"),
    env!("CARGO_BIN_EXE_convert"),
    env!("CARGO_BIN_EXE_finetune"),
    env!("CARGO_BIN_EXE_evaluate"),
    env!("CARGO_BIN_EXE_report"),
    env!("CARGO_BIN_EXE_reproduce"),
    env!("CARGO_BIN_EXE_export"),
    env!("CARGO_BIN_EXE_datasets"),
    env!("CARGO_BIN_EXE_bench-engine"),
];

#[test]
fn every_binary_has_version_threads_log_format_and_examples() {
    for binary in BINARIES {
        let version = std::process::Command::new(binary)
            .arg("--version")
            .output()
            .expect("starts");
        let text = printed(&version);
        assert!(version.status.success(), "{binary}: {text}");
        let name = std::path::Path::new(binary)
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .to_string();
        let expected = format!("{name} {}", env!("CARGO_PKG_VERSION"));
        assert!(text.starts_with(&expected), "{binary}: {text}");
        let help = std::process::Command::new(binary)
            .arg("--help")
            .output()
            .expect("starts");
        let text = printed(&help);
        for option in ["--threads", "--log-format", "--version", "Example"] {
            assert!(
                text.contains(option),
                "{binary} --help lacks {option}: {text}"
            );
        }
    }
    // The binaries that read a config also edit it.
    for binary in &BINARIES[..6] {
        let help = std::process::Command::new(binary)
            .arg("--help")
            .output()
            .expect("starts");
        let text = printed(&help);
        assert!(
            text.contains("--set") && text.contains("--backend"),
            "{binary}: {text}"
        );
    }
}

#[test]
fn set_edits_the_config_like_the_file_threads_are_recorded_and_json_logs_parse() {
    let run = tiny_denoising(5);
    let output = run.run(
        env!("CARGO_BIN_EXE_train"),
        &[
            "--set",
            "train.epochs=2",
            "--set",
            "train.learning_rate=0.002",
            "--threads",
            "1",
            "--log-format",
            "json",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{}", printed(&output));
    let manifest = sealed_json(&run.ann_dir().join("manifest.json"));
    assert_eq!(
        manifest["config"]["train"]["epochs"], 2,
        "the edit is recorded"
    );
    assert_eq!(manifest["config"]["train"]["learning_rate"], 0.002);
    assert_eq!(manifest["provenance"]["threads"], 1);
    assert_eq!(manifest["training"]["epochs"], 2, "and it is what ran");

    // Every stderr line is one JSON object; one `epoch` event per epoch, with its values.
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let epochs: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "epoch").collect();
    assert_eq!(epochs.len(), 2, "{stderr}");
    assert_eq!(epochs[1]["epoch"], 2);
    assert_eq!(epochs[1]["metric"], "psnr");
    assert!(
        epochs[1]["loss"].as_f64().is_some_and(|l| l > 0.0),
        "{stderr}"
    );
    assert!(epochs[1]["value"].as_f64().is_some(), "{stderr}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "stage" && e["stage"] == "train")
    );

    // An edit that changes the key trains a new network; the same edit reuses it.
    let again = run.run(
        env!("CARGO_BIN_EXE_train"),
        &[
            "--set",
            "train.epochs=2",
            "--set",
            "train.learning_rate=0.002",
        ],
    );
    assert!(
        printed(&again).contains("already trained"),
        "{}",
        printed(&again)
    );

    let evaluated = std::process::Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--artifact")
        .arg(run.ann_dir())
        .args(["--log-format", "json"])
        .output()
        .expect("evaluate starts");
    let stderr = String::from_utf8_lossy(&evaluated.stderr).to_string();
    assert!(evaluated.status.success(), "{}", printed(&evaluated));
    let evaluation = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|e| e["event"] == "evaluation" && e["network"] == "ann")
        .unwrap_or_else(|| panic!("an evaluation event: {stderr}"));
    assert!(
        evaluation["psnr"].as_f64().is_some_and(|p| p > 10.0),
        "{evaluation}"
    );
}

#[test]
fn bad_edits_name_the_field_and_what_is_allowed() {
    let run = tiny("name: tiny\ndata:\n  denoising: {}\n");
    for (edit, expected) in [
        ("train.epochz=3", "has no field `epochz`"),
        ("train.epochs=many", "--set train.epochs"),
        ("train.epochs=0", "train.epochs"),
        ("epochs", "KEY.PATH=VALUE"),
    ] {
        let output = run.run(env!("CARGO_BIN_EXE_train"), &["--check", "--set", edit]);
        let log = printed(&output);
        assert_ne!(output.status.code(), Some(0), "{edit}: {log}");
        assert!(log.contains(expected), "{edit}: {log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn a_dry_run_of_a_benchmark_config_touches_no_dataset_and_a_large_sweep_plans_quickly() {
    let empty = tempfile::tempdir().expect("temporary folder");
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/paper/bsd68.yaml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reproduce"))
        .arg(&config)
        .arg("--dry-run")
        .current_dir(empty.path())
        .env("SPIKING_UNET_DATA", empty.path().join("data"))
        .env("HF_HOME", empty.path().join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("reproduce starts");
    let log = printed(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("train") && log.contains("finetune") && log.contains("evaluate"),
        "{log}"
    );
    let left: Vec<_> = std::fs::read_dir(empty.path()).expect("listable").collect();
    assert!(left.is_empty(), "the dry run wrote nothing: {left:?}");

    // 10 000 points: planning expands and keys each once.
    let run = tiny(
        "name: big\ndata:\n  denoising: {}\nsweep:\n  grid:\n    evaluate.time_steps: {from: 1, to: 10000, step: 1}\n",
    );
    let started = Instant::now();
    let output = run.run(env!("CARGO_BIN_EXE_reproduce"), &["--dry-run"]);
    let log = printed(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("(10000 of its 10000 points"),
        "{}",
        &log[..log.len().min(2000)]
    );
    eprintln!(
        "dry run of 10 000 points: {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
