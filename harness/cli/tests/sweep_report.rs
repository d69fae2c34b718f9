use crate::util::{only_subfolder, printed, read, tiny};

/// Two seeds x two neurons x two T, fine-tuning on: 8 points sharing 2 ANNs.
const SWEEP: &str = "name: tiny\nruns_dir: runs\n\
    data:\n  denoising:\n    patch_size: 32\n    patches_per_epoch: 16\n    eval_crop: 64\n\
    model:\n  width: 8\n  depth: 2\n\
    train:\n  epochs: 1\n\
    convert:\n  normalizations: [connection_wise]\n\
    finetune:\n  time_steps: 2\n  epochs: 1\n\
    report:\n  dir: results/tiny\n\
    sweep:\n  grid:\n    seed: [1, 2]\n    convert.neurons: [{kind: if, reset: subtract}, {kind: multi_threshold}]\n    evaluate.time_steps: [2, 4]\n";

#[test]
fn a_sweep_runs_in_two_shards_and_report_merges_them() {
    let run = tiny(SWEEP);
    let reproduce = env!("CARGO_BIN_EXE_reproduce");
    let plan = run.run(reproduce, &["--dry-run"]);
    assert!(plan.status.success(), "{}", printed(&plan));
    let plan = printed(&plan);
    // 8 points, 2 ANNs, 2 x 2 conversions, 2 fine-tunings: each artifact planned once.
    assert_eq!(plan.matches("   point ").count(), 8, "{plan}");
    assert_eq!(plan.matches("train     run").count(), 2, "{plan}");
    assert_eq!(plan.matches("convert   run").count(), 4, "{plan}");
    assert_eq!(plan.matches("finetune  run").count(), 2, "{plan}");

    for shard in ["1/2", "2/2"] {
        let output = run.run(reproduce, &["--shard", shard]);
        assert!(output.status.success(), "{}", printed(&output));
        assert!(
            printed(&output).contains("run `report"),
            "{}",
            printed(&output)
        );
    }
    let results = run.dir.path().join("results/tiny");
    for shard in ["shard-1-of-2", "shard-2-of-2"] {
        let provenance = read(&results.join("store").join(shard).join("provenance.json"));
        assert!(provenance.contains("\"git_commit\"") && provenance.contains("config_sha256"));
    }
    // Each network was simulated once for both T of its points: one file per T.
    let converted = run.dir.path().join("runs/tiny");
    let cached: Vec<_> = std::fs::read_dir(&converted)
        .expect("runs/tiny")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("snn-"))
        })
        .collect();
    assert_eq!(cached.len(), 4);
    for dir in &cached {
        for t in ["T2.json", "T4.json"] {
            assert!(
                only_subfolder(&dir.join("evaluation-v2"))
                    .join("test")
                    .join(t)
                    .exists(),
                "{}",
                dir.display()
            );
        }
    }

    let output = run.run(env!("CARGO_BIN_EXE_report"), &[]);
    assert!(output.status.success(), "{}", printed(&output));
    let csv = read(&results.join("results.csv"));
    assert!(csv.starts_with("experiment,point,dataset,task,sigma,model,neuron,reset,normalization,statistic,ladder,finetune_time_steps,seed,split,image,time_steps,layer,metric,value\n"));
    for seed in [",1,test,", ",2,test,"] {
        assert!(csv.contains(seed), "both shards' seeds are merged");
    }
    assert!(results.join("results.parquet").exists());
    let quality = read(&results.join("tables/quality_vs_t.md"));
    for needle in [
        "| method | T=2 | T=4 |",
        "| ANN |",
        "converted connection-wise MT",
        "converted connection-wise IF (subtract)",
        "fine-tuned (T=2) connection-wise MT",
        " ± ",
    ] {
        assert!(quality.contains(needle), "{needle} in\n{quality}");
    }
    let latex = read(&results.join("tables/comparison.tex"));
    assert!(
        latex.contains("\\toprule") && latex.contains("$\\pm$"),
        "{latex}"
    );
    let significance = read(&results.join("tables/significance.md"));
    assert!(significance.contains("| T=4 | converted connection-wise MT | converted connection-wise IF (subtract) | psnr |"), "{significance}");
    for figure in [
        "quality-vs-t",
        "spikes-vs-t",
        "energy-vs-t",
        "firing-rate",
        "factors",
        "qualitative",
    ] {
        for ext in ["png", "svg"] {
            let path = results.join(format!(
                "figures/tiny-embedded-gray-sigma-25-test-{figure}.{ext}"
            ));
            assert!(path.exists(), "{} is drawn", path.display());
        }
    }
    assert!(
        read(&results.join("README.md"))
            .contains("![tiny-embedded-gray-sigma-25-test-quality-vs-t](figures/")
    );

    // Everything is reused now; asking for one more T re-simulates only that.
    let plan = printed(&run.run(reproduce, &["--dry-run"]));
    assert!(
        !plan.contains(" run ")
            || plan
                .lines()
                .filter(|l| l.contains(" run "))
                .all(|l| l.contains("report")),
        "{plan}"
    );
    std::fs::write(
        &run.config,
        SWEEP.replace(
            "evaluate.time_steps: [2, 4]",
            "evaluate.time_steps: [2, 4, 8]",
        ),
    )
    .expect("write");
    let plan = printed(&run.run(reproduce, &["--dry-run"]));
    assert_eq!(plan.matches("train     reuse").count(), 2, "{plan}");
    assert_eq!(plan.matches("convert   reuse").count(), 4, "{plan}");
    assert_eq!(plan.matches("finetune  reuse").count(), 2, "{plan}");
    assert_eq!(
        plan.matches("(test T=8)").count(),
        6,
        "only T=8 is left to simulate: {plan}"
    );
}

#[test]
fn report_compare_to_fails_on_a_changed_table_and_passes_on_its_own() {
    let run = tiny(
        &SWEEP
            .replace("seed: [1, 2]", "seed: [1]")
            .replace("evaluate.time_steps: [2, 4]", "evaluate.time_steps: [2]"),
    );
    let output = run.run(env!("CARGO_BIN_EXE_reproduce"), &[]);
    assert!(output.status.success(), "{}", printed(&output));
    let results = run.dir.path().join("results/tiny");
    let committed = run.dir.path().join("committed");
    std::fs::create_dir_all(committed.join("tables")).expect("mkdir");
    for file in [
        "results.csv",
        "tables/quality_vs_t.md",
        "tables/quality_vs_t.tex",
        "tables/quality_vs_t.csv",
        "tables/comparison.md",
        "tables/comparison.tex",
        "tables/comparison.csv",
        "tables/significance.md",
        "tables/significance.tex",
        "tables/significance.csv",
    ] {
        std::fs::copy(results.join(file), committed.join(file)).expect("copy");
    }
    std::fs::write(
        committed.join("tolerance.yaml"),
        "absolute: 0.0\nrelative: 0.0\n",
    )
    .expect("write");
    let compare = ["--compare-to", committed.to_str().expect("utf-8 path")];
    let output = run.run(env!("CARGO_BIN_EXE_report"), &compare);
    assert!(output.status.success(), "{}", printed(&output));
    // A committed PSNR off by 0.5 dB is caught, with the file and line named.
    let table = read(&committed.join("tables/quality_vs_t.md"));
    let changed = table.replacen("| ANN | ", "| ANN | 1", 1);
    std::fs::write(committed.join("tables/quality_vs_t.md"), changed).expect("write");
    let output = run.run(env!("CARGO_BIN_EXE_report"), &compare);
    assert!(!output.status.success());
    let message = printed(&output);
    assert!(
        message.contains("tables/quality_vs_t.md: line") && message.contains("tolerance"),
        "{message}"
    );
}
