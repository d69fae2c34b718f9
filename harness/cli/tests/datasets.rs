//! The `datasets` binary against a loopback mock of the real hosts, with the real built-in
//! manifests: fetch, record, verify, detect corruption, refuse offline with a clear message;
//! then a benchmark experiment trains and evaluates on the fetched files with the network off.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use spiking_unet_datasets::mock_hub::MockHub;

use crate::util::{printed, tiny};

/// A gray PNG with a smooth pattern, `side` x `side`.
fn gray_png(side: u32, seed: u32) -> Vec<u8> {
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        image::Luma([((x * 3 + y * 5 + seed * 17) % 256) as u8])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("PNG encodes");
    bytes
}

/// A colour JPEG, `side` x `side`.
fn rgb_jpeg(side: u32, seed: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([
            ((x * 4 + seed * 9) % 256) as u8,
            ((y * 4 + seed) % 256) as u8,
            ((x + y + seed * 31) % 256) as u8,
        ])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .expect("JPEG encodes");
    bytes
}

/// The BSDS500 GitHub archive's layout, with two small images per split.
fn bsds_zip() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (split, base) in [("train", 0), ("val", 10), ("test", 20)] {
        for k in 0..2 {
            let name = format!(
                "BSDS500-master/BSDS500/data/images/{split}/{}.jpg",
                1000 + base + k
            );
            writer
                .start_file(name, zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            writer
                .write_all(&rgb_jpeg(72, base + k))
                .expect("zip write");
        }
    }
    writer.finish().expect("zip finishes").into_inner()
}

/// The mock serving Set12 (12 gray PNGs) and the BSDS500 archive at the manifests' paths.
fn mock_with_set12() -> MockHub {
    let hub = MockHub::start();
    for k in 1..=12 {
        hub.add_plain_file(
            "set12",
            &format!("testsets/Set12/{k:02}.png"),
            gray_png(64, k),
        );
    }
    hub.add_plain_file("bsds500", "master.zip", bsds_zip());
    hub
}

fn datasets(cache: &Path, hub: &str, offline: bool, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_datasets"));
    command.args(args);
    environment(&mut command, cache, hub, offline);
    command.output().expect("datasets starts")
}

fn environment(command: &mut Command, cache: &Path, hub: &str, offline: bool) {
    command
        .env("HF_HOME", cache.join("hf"))
        .env("HF_ENDPOINT", hub)
        .env("SPIKING_UNET_DATA", cache.join("data"))
        .env("SPIKING_UNET_DATASETS_BASE_URL", hub)
        .env("HF_HUB_OFFLINE", if offline { "1" } else { "0" });
}

#[test]
fn list_and_info_show_every_dataset_and_the_terms() {
    let output = Command::new(env!("CARGO_BIN_EXE_datasets"))
        .arg("list")
        .output()
        .expect("datasets starts");
    let text = printed(&output);
    assert!(output.status.success(), "{text}");
    for name in [
        "bsd68", "cbsd68", "set12", "bsds500", "drive", "isbi2012", "camseq01",
    ] {
        assert!(text.contains(name), "`{name}` missing from:\n{text}");
    }
    assert!(text.contains("[opt-in]"), "{text}");
    let info = Command::new(env!("CARGO_BIN_EXE_datasets"))
        .args(["info", "drive"])
        .output()
        .expect("datasets starts");
    let text = printed(&info);
    assert!(
        text.contains("redistribution") && text.contains("--accept-terms"),
        "{text}"
    );
}

#[test]
fn fetch_verify_corrupt_and_offline_end_to_end() {
    let hub = mock_with_set12();
    let cache = tempfile::tempdir().expect("temporary folder");

    // Offline with nothing cached: a clear message, no panic.
    let output = datasets(cache.path(), hub.url(), true, &["fetch", "set12"]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("dataset `set12`") && text.contains("--local-copy"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");

    for name in ["set12", "bsds500"] {
        let output = datasets(cache.path(), hub.url(), false, &["fetch", name]);
        let text = printed(&output);
        assert!(output.status.success(), "{text}");
        assert!(
            text.contains("recorded"),
            "first download records hashes:\n{text}"
        );
    }
    let output = datasets(cache.path(), hub.url(), true, &["verify", "set12"]);
    assert!(output.status.success(), "{}", printed(&output));

    // Corrupt one file: verify names it; fetch replaces it.
    let file = cache.path().join("data/set12/files/testsets/Set12/05.png");
    std::fs::write(&file, b"not a png").expect("overwrite");
    let output = datasets(cache.path(), hub.url(), true, &["verify", "set12"]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("testsets/Set12/05.png") && text.contains("SHA-256"),
        "{text}"
    );
    let output = datasets(cache.path(), hub.url(), false, &["fetch", "set12"]);
    assert!(printed(&output).contains("corrupt"), "{}", printed(&output));
    assert_eq!(std::fs::read(&file).expect("refetched"), gray_png(64, 5));

    // A benchmark experiment on the fetched data, with the network off.
    let run = tiny(
        "name: tiny\nseed: 1\nruns_dir: runs\n\
         data:\n  benchmark:\n    dataset: set12\n    evaluation: whole\n    patch_size: 32\n    patches_per_epoch: 16\n\
         model:\n  width: 8\n  depth: 2\n\
         train:\n  batch_size: 8\n  epochs: 1\n\
         convert:\n  normalizations: [connection_wise]\n  neurons: [{kind: multi_threshold}]\n\
         finetune:\n  normalizations: []\n\
         evaluate:\n  time_steps: [2]\n",
    );
    for binary in [
        env!("CARGO_BIN_EXE_train"),
        env!("CARGO_BIN_EXE_convert"),
        env!("CARGO_BIN_EXE_evaluate"),
    ] {
        let mut command = run.command(binary, &[]);
        environment(&mut command, cache.path(), "http://127.0.0.1:9", true);
        let output = command.output().expect("binary starts");
        assert!(output.status.success(), "{binary}: {}", printed(&output));
    }
    let comparison = crate::util::read(&run.dir.path().join("runs/tiny/comparison.csv"));
    // Costs in both units; each image is one network input here (`evaluation: whole`).
    for needle in [
        "ann,test,all,,macs_thop_per_input,",
        "ann,test,all,,energy_thop_pj,",
        "mt[2,1,0.5,0.25]\",test,all,2,spikes_paper_per_input,",
        "mt[2,1,0.5,0.25]\",test,all,2,energy_paper_pj_per_input,",
    ] {
        assert!(comparison.contains(needle), "{needle} in\n{comparison}");
    }
    for needle in ["ann,test,all,,psnr,", "mt[2,1,0.5,0.25]\",test,all,2,psnr,"] {
        assert!(comparison.contains(needle), "{needle} in\n{comparison}");
    }
    // Every one of the 12 test images was scored.
    let images = comparison
        .lines()
        .filter(|line| line.starts_with("ann,test,") && line.contains(",psnr,"))
        .count();
    assert_eq!(images, 13, "12 images and the mean:\n{comparison}");
}
