use crate::util::{printed, read, tiny_denoising};

#[test]
fn train_then_evaluate_writes_a_complete_artifact() {
    let run = tiny_denoising(2);
    let output = run.run(env!("CARGO_BIN_EXE_train"), &[]);
    assert!(output.status.success(), "{}", printed(&output));
    let dir = run.ann_dir();
    for file in [
        "manifest.json",
        "model.bpk",
        "training_curve.csv",
        "checkpoint/state.json",
    ] {
        assert!(dir.join(file).exists(), "{file} is written");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&dir.join("manifest.json"))).expect("JSON");
    let provenance = &manifest["provenance"];
    assert_eq!(provenance["seed"], 3);
    assert_eq!(provenance["backend"], "flex");
    assert!(provenance["git_commit"].is_string());
    let files = provenance["dataset_files"]
        .as_array()
        .expect("dataset files listed");
    assert!(files.iter().any(|f| f[0] == "denoising/camera.png" && f[1].as_str().is_some_and(|h| h.len() == 64)));
    assert_eq!(manifest["training"]["epochs"], 2);

    // A second `train` reuses the finished artifact instead of training again.
    let again = run.run(env!("CARGO_BIN_EXE_train"), &[]);
    assert!(
        printed(&again).contains("already trained"),
        "{}",
        printed(&again)
    );

    let output = run.run(
        env!("CARGO_BIN_EXE_evaluate"),
        &["--splits", "validation,test"],
    );
    assert!(output.status.success(), "{}", printed(&output));
    let csv = read(&dir.join("evaluation.csv"));
    assert!(csv.starts_with("split,image,metric,value\n"));
    for needle in [
        "test,camera,psnr,",
        "test,all,psnr,",
        "test,all,ssim,",
        "validation,cell,psnr_noisy,",
    ] {
        assert!(csv.contains(needle), "{needle} in\n{csv}");
    }
}
