use crate::util::{printed, tiny};

#[test]
fn a_typo_is_reported_with_file_line_field_and_allowed_keys() {
    let run = tiny("name: tiny\ndata:\n  denoising: {}\ntrain:\n  epochz: 3\n");
    let output = run.run(env!("CARGO_BIN_EXE_train"), &[]);
    let log = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("tiny.yaml") && log.contains("line 5") && log.contains("epochz"),
        "{log}"
    );
    assert!(
        log.contains("expected one of") && log.contains("epochs"),
        "{log}"
    );
    assert!(
        !log.contains("backtrace") && !log.contains("panicked"),
        "{log}"
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let run = tiny("name: tiny\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg(run.dir.path().join("nope.yaml"))
        .output()
        .expect("evaluate starts");
    let log = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("nope.yaml"), "{log}");
}

#[test]
fn report_before_any_run_says_what_to_run() {
    let run = tiny("name: tiny\ndata:\n  denoising: {}\n");
    let output = run.run(env!("CARGO_BIN_EXE_report"), &[]);
    assert_eq!(output.status.code(), Some(1));
    let log = printed(&output);
    assert!(
        log.contains("results/tiny") && log.contains("run `reproduce"),
        "{log}"
    );
}

#[test]
fn a_backend_missing_from_the_build_names_the_feature_to_build_with() {
    let run = tiny("name: tiny\ndata:\n  denoising: {}\n");
    for binary in [
        env!("CARGO_BIN_EXE_train"),
        env!("CARGO_BIN_EXE_reproduce"),
        env!("CARGO_BIN_EXE_evaluate"),
    ] {
        // A build without the wgpu feature (the default test build) must refuse it by name;
        // a build with it would go on to run, so only the default build checks this.
        if cfg!(feature = "wgpu") {
            break;
        }
        let output = run.run(binary, &["--backend", "wgpu"]);
        let log = printed(&output);
        assert_eq!(output.status.code(), Some(1), "{binary}: {log}");
        assert!(
            log.contains("--backend wgpu") && log.contains("--features wgpu"),
            "{binary}: {log}"
        );
        let output = run.run(binary, &["--backend", "tpu"]);
        let log = printed(&output);
        assert!(
            log.contains("unknown backend") && log.contains("flex"),
            "{binary}: {log}"
        );
    }
}
