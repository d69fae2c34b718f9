use crate::util::{printed, read, sealed_json, tiny_denoising};

#[test]
fn train_convert_evaluate_write_complete_artifacts() {
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
    let manifest = sealed_json(&dir.join("manifest.json"));
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

    // Evaluating the config needs its conversions; one artifact can be evaluated alone.
    let output = run.run(env!("CARGO_BIN_EXE_evaluate"), &[]);
    assert!(!output.status.success());
    assert!(
        printed(&output).contains("run `convert`"),
        "{}",
        printed(&output)
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--artifact")
        .arg(&dir)
        .args(["--splits", "validation,test"])
        .output()
        .expect("evaluate starts");
    assert!(output.status.success(), "{}", printed(&output));
    let csv = read(&dir.join("evaluation.csv"));
    assert!(csv.starts_with("split,image,time_steps,metric,value\n"));
    for needle in [
        "test,camera,,psnr,",
        "test,all,,psnr,",
        "test,all,,ssim,",
        "validation,cell,,psnr_noisy,",
        "test,all,,energy_pj,",
    ] {
        assert!(csv.contains(needle), "{needle} in\n{csv}");
    }

    // Convert, then evaluate the config: the ANN and the SNN side by side, at every T.
    let output = run.run(env!("CARGO_BIN_EXE_convert"), &[]);
    assert!(output.status.success(), "{}", printed(&output));
    let output = run.run(env!("CARGO_BIN_EXE_evaluate"), &["--time-steps", "2,4"]);
    assert!(
        printed(&output).contains("run `finetune`"),
        "{}",
        printed(&output)
    );
    let output = run.run(env!("CARGO_BIN_EXE_finetune"), &[]);
    assert!(output.status.success(), "{}", printed(&output));
    let output = run.run(env!("CARGO_BIN_EXE_evaluate"), &["--time-steps", "2,4"]);
    assert!(output.status.success(), "{}", printed(&output));
    let comparison = read(&run.dir.path().join("runs/tiny/comparison.csv"));
    for needle in [
        "ann,test,all,,psnr,",
        // A label with commas is one quoted field.
        "\"connection_wise / mt[2,1,0.5,0.25]\",test,all,4,psnr,",
        ",test,all,2,energy_paper_pj,",
    ] {
        assert!(comparison.contains(needle), "{needle} in\n{comparison}");
    }

    // Weights leave in the authors' naming.
    let exported = run.dir.path().join("unet.safetensors");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_export"))
        .arg("--artifact")
        .arg(&dir)
        .arg("--out")
        .arg(&exported)
        .output()
        .expect("export starts");
    assert!(output.status.success(), "{}", printed(&output));
    assert!(
        String::from_utf8_lossy(&std::fs::read(&exported).expect("written"))
            .contains("convtranspose2.weight")
    );
}
