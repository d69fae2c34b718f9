use std::time::{Duration, Instant};

use crate::util::{printed, read, tiny_denoising};

const TRAIN: &str = env!("CARGO_BIN_EXE_train");

/// The curve without its timing column, which naturally differs between runs.
fn curve_without_seconds(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            line.rsplit_once(',')
                .map_or(line, |(head, _)| head)
                .to_string()
        })
        .collect()
}

#[test]
fn killed_training_resumes_and_matches_an_uninterrupted_run() {
    let epochs = 6;
    let reference = tiny_denoising(epochs);
    let output = reference.run(TRAIN, &[]);
    assert!(output.status.success(), "{}", printed(&output));

    let interrupted = tiny_denoising(epochs);
    let mut child = interrupted
        .command(TRAIN, &[])
        .spawn()
        .expect("train starts");
    let state = interrupted.dir.path().join("runs/tiny");
    let started = Instant::now();
    // Kill as soon as the first epoch is committed.
    loop {
        let committed = std::fs::read_dir(&state).ok().and_then(|mut entries| {
            entries.find_map(|e| {
                let path = e.ok()?.path().join("checkpoint/state.json");
                path.exists().then_some(path)
            })
        });
        if committed.is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint after 120 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("the process can be killed");
    child.wait().expect("the process is reaped");

    let output = interrupted.run(TRAIN, &[]);
    let log = printed(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("resuming"),
        "the rerun continues from the checkpoint: {log}"
    );
    assert!(
        !log.contains(&format!("after epoch {epochs}")),
        "the kill happened mid-run: {log}"
    );

    let curve = |run: &crate::util::TinyRun| {
        curve_without_seconds(&read(&run.ann_dir().join("training_curve.csv")))
    };
    assert_eq!(
        curve(&reference),
        curve(&interrupted),
        "same losses and validation PSNR epoch by epoch"
    );
    assert_eq!(curve(&reference).len(), epochs + 1);
}
