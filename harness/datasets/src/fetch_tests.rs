//! The fetch paths against the loopback mock hub: download, cache reuse, recorded hashes (and
//! a lost record), corrupt-and-refetch, truncated downloads, archives (a truncated first
//! download is never pinned), sizes, terms, local copies, offline and unreachable hosts.

use rand::{Rng, SeedableRng};

use super::*;
use crate::archive::tests::{tar_gz, zip_bytes};
use crate::manifest::FileEntry;
use crate::mock_hub::{Fault, MOCK_COMMIT, MockHub};

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn settings(endpoint: &str, cache: &Path) -> FetchSettings {
    FetchSettings {
        hub_cache: cache.join("hf/hub"),
        hub_endpoint: endpoint.to_owned(),
        data_cache: cache.join("data"),
        offline: false,
        base_url_override: Some(endpoint.to_owned()),
        retries: 2,
        backoff: Duration::from_millis(1),
        progress: false,
    }
}

fn manifest(name: &str, source: Source, files: &[(&str, Option<String>)]) -> Manifest {
    Manifest {
        name: name.into(),
        title: "test".into(),
        task: "denoising".into(),
        source,
        files: files
            .iter()
            .map(|(path, sha256)| FileEntry {
                path: (*path).into(),
                sha256: sha256.clone(),
                size: None,
            })
            .collect(),
        unpack: Vec::new(),
        requires_opt_in: false,
        terms: "Research use only.".into(),
        citation: "c".into(),
        preprocessing: "p".into(),
        verification: "v".into(),
    }
}

fn hub_source() -> Source {
    Source::Hub {
        repo: "lab/set".into(),
        revision: "main".into(),
    }
}

fn https_source() -> Source {
    Source::Https {
        base_url: "https://unreachable.invalid/".into(),
    }
}

#[test]
fn hub_fetch_uses_the_huggingface_cache_layout_and_records_what_it_learns() {
    let hub = MockHub::start();
    let a = b"parquet bytes".to_vec();
    let b = b"png bytes".to_vec();
    hub.add_hub_file("lab/set", "data/a.parquet", a.clone());
    hub.add_hub_file("lab/set", "b.png", b.clone());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let m = manifest(
        "set",
        hub_source(),
        &[("data/a.parquet", None), ("b.png", Some(sha(&b)))],
    );

    let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
    let snapshot = cache
        .path()
        .join("hf/hub/datasets--lab--set/snapshots")
        .join(MOCK_COMMIT);
    assert_eq!(got.root, snapshot);
    assert_eq!(std::fs::read(snapshot.join("data/a.parquet")).unwrap(), a);
    assert_eq!(got.files[0], ("data/a.parquet".into(), sha(&a)));
    let notes = got.notes.join("\n");
    assert!(
        notes.contains(&format!("resolved to commit {MOCK_COMMIT}")),
        "{notes}"
    );
    assert!(notes.contains("recorded"), "{notes}");
    let recorded: Recorded = serde_json::from_str(
        &std::fs::read_to_string(cache.path().join("data/set/recorded.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(recorded.revision.as_deref(), Some(MOCK_COMMIT));
    assert_eq!(recorded.sha256["data/a.parquet"], sha(&a));

    // A second fetch, offline, is served from the cache without a single request.
    let before = hub.requests().len();
    let offline = FetchSettings {
        offline: true,
        ..settings.clone()
    };
    fetch(&m, &offline, &FetchOptions::default()).unwrap();
    verify(&m, &offline, &FetchOptions::default()).unwrap();
    assert_eq!(hub.requests().len(), before);
}

#[test]
fn a_corrupted_cache_file_is_detected_and_fetched_again() {
    let hub = MockHub::start();
    let bytes = b"the real content".to_vec();
    hub.add_hub_file("lab/set", "b.png", bytes.clone());
    hub.add_plain_file("plain", "x/c.png", bytes.clone());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    for m in [
        manifest("set", hub_source(), &[("b.png", None)]),
        manifest("plain", https_source(), &[("x/c.png", None)]),
    ] {
        let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
        let file = got.root.join(&m.files[0].path);
        // Corrupt the cached file in place (through the hub's symlink: the blob itself).
        std::fs::write(&file, b"bit rot").unwrap();
        let err = verify(&m, &settings, &FetchOptions::default()).unwrap_err();
        assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains("recorded at the first download"));

        let again = fetch(&m, &settings, &FetchOptions::default()).unwrap();
        assert!(
            again.notes.join("\n").contains("is corrupt"),
            "{:?}",
            again.notes
        );
        assert_eq!(std::fs::read(&file).unwrap(), bytes);
        verify(&m, &settings, &FetchOptions::default()).unwrap();
    }
}

#[test]
fn truncated_and_corrupt_downloads_are_retried_until_the_hash_matches() {
    let hub = MockHub::start();
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    hub.add_hub_file("lab/set", "big.bin", bytes.clone());
    hub.add_plain_file("plain", "big.bin", bytes.clone());
    hub.inject("big.bin", Fault::Truncate, 1);
    hub.inject("big.bin", Fault::Corrupt, 1);
    hub.inject("plain/big.bin", Fault::Truncate, 1);
    hub.inject("plain/big.bin", Fault::Corrupt, 1);
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    for m in [
        manifest("set", hub_source(), &[("big.bin", Some(sha(&bytes)))]),
        manifest("plain", https_source(), &[("big.bin", Some(sha(&bytes)))]),
    ] {
        let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
        assert_eq!(
            std::fs::read(got.root.join("big.bin")).unwrap(),
            bytes,
            "{}",
            m.name
        );
        assert!(got.notes.join("\n").contains("expected"), "{:?}", got.notes);
    }
}

#[test]
fn a_source_that_never_matches_is_reported_with_both_hashes() {
    let hub = MockHub::start();
    hub.add_plain_file("plain", "a.png", b"served".to_vec());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let m = manifest(
        "plain",
        https_source(),
        &[("a.png", Some(sha(b"expected")))],
    );
    let err = fetch(&m, &settings, &FetchOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&sha(b"served")) && err.contains(&sha(b"expected")),
        "{err}"
    );
    assert!(
        err.contains("from the manifest") && err.contains("3 time(s)"),
        "{err}"
    );
    assert!(!cache.path().join("data/plain/files/a.png").exists());
}

#[test]
fn archives_are_unpacked_once_and_hostile_ones_refused() {
    let hub = MockHub::start();
    let good = tar_gz(&[
        ("CBSD68/0/0001.png", b"png"),
        ("CBSD68/0/0002.png", b"png2"),
    ]);
    hub.add_hub_file("lab/set", "set.tar.gz", good);
    hub.add_plain_file("plain", "set.zip", zip_bytes(&[("../../evil.txt", b"x")]));
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());

    let mut m = manifest("set", hub_source(), &[("set.tar.gz", None)]);
    m.unpack = vec!["set.tar.gz".into()];
    let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
    let unpacked: Vec<_> = walk(&got.root);
    assert_eq!(unpacked.len(), 2, "{unpacked:?}");
    assert!(unpacked[0].ends_with("CBSD68/0/0001.png"));
    let again = fetch(&m, &settings, &FetchOptions::default()).unwrap();
    assert!(!again.notes.join("\n").contains("unpacked"));

    let mut evil = manifest("plain", https_source(), &[("set.zip", None)]);
    evil.unpack = vec!["set.zip".into()];
    let err = fetch(&evil, &settings, &FetchOptions::default()).unwrap_err();
    assert!(matches!(err, Error::UnsafeArchiveEntry { .. }), "{err}");
    assert!(!cache.path().join("evil.txt").exists());
    assert!(!cache.path().join("data/evil.txt").exists());
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn datasets_with_terms_need_an_opt_in_before_any_download() {
    let hub = MockHub::start();
    hub.add_hub_file("lab/set", "a.png", b"a".to_vec());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let mut m = manifest("set", hub_source(), &[("a.png", None)]);
    m.requires_opt_in = true;
    let err = fetch(&m, &settings, &FetchOptions::default()).unwrap_err();
    assert!(matches!(err, Error::TermsNotAccepted { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Research use only.") && text.contains("--accept-terms"),
        "{text}"
    );
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    let accepted = FetchOptions {
        accept_terms: true,
        ..FetchOptions::default()
    };
    fetch(&m, &settings, &accepted).unwrap();
}

#[test]
fn offline_and_unreachable_name_the_dataset_and_both_ways_out() {
    let cache = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, note it, close it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let unreachable = settings(&closed, cache.path());
    let offline = FetchSettings {
        offline: true,
        ..unreachable.clone()
    };
    for (m, settings, why) in [
        (
            manifest("plain", https_source(), &[("a.png", None)]),
            &unreachable,
            "refused",
        ),
        (
            manifest("set", hub_source(), &[("a.png", None)]),
            &unreachable,
            "refused",
        ),
        (
            manifest("set", hub_source(), &[("a.png", None)]),
            &offline,
            "offline mode",
        ),
    ] {
        let err = fetch(&m, settings, &FetchOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err}");
        let text = err.to_string();
        for needle in [
            format!("dataset `{}`", m.name),
            "a.png".into(),
            "--local-copy".into(),
            "connect".into(),
        ] {
            assert!(text.contains(&needle), "missing {needle:?} in: {text}");
        }
        assert!(
            text.to_lowercase().contains(why),
            "missing {why:?} in: {text}"
        );
    }
}

#[test]
fn local_copies_are_verified_but_never_modified() {
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(local.path().join("sub")).unwrap();
    std::fs::write(local.path().join("sub/a.png"), b"good").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let settings = settings("http://127.0.0.1:9", cache.path());
    let options = local_options(local.path(), false);
    let ok = manifest("set", hub_source(), &[("sub/a.png", Some(sha(b"good")))]);
    let got = fetch(&ok, &settings, &options).unwrap();
    assert_eq!(got.root, local.path());
    assert_eq!(got.files, vec![("sub/a.png".into(), sha(b"good"))]);
    // A reference hash vouches for the file: no trust needed, nothing unverified.
    assert!(got.trusted_unverified.is_empty());

    let bad = manifest("set", hub_source(), &[("sub/a.png", Some(sha(b"other")))]);
    let err = fetch(&bad, &settings, &options).unwrap_err();
    assert!(
        matches!(&err, Error::HashMismatch { file, .. } if file == "sub/a.png"),
        "{err}"
    );
    assert!(err.to_string().contains("never overwritten"), "{err}");
    let mut sized = ok.clone();
    sized.files[0].size = Some(5);
    let err = fetch(&sized, &settings, &options).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                expected: 5,
                actual: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read(local.path().join("sub/a.png")).unwrap(),
        b"good"
    );
    // Nothing about a local copy is ever recorded.
    assert!(!cache.path().join("data/set/recorded.json").exists());
}

fn local_options(folder: &Path, trust: bool) -> FetchOptions {
    FetchOptions {
        local_copy: Some(folder.to_owned()),
        trust_local_copy: trust,
        ..FetchOptions::default()
    }
}

/// A small gray PNG, distinct per `seed`.
fn png(seed: u8) -> Vec<u8> {
    let image = image::GrayImage::from_fn(8, 8, |x, y| {
        image::Luma([seed.wrapping_add((x * 8 + y) as u8)])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Writes Set12's PNGs `numbers` under `folder/testsets/Set12/`.
fn write_set12(folder: &Path, numbers: impl IntoIterator<Item = u8>) {
    let set = folder.join("testsets/Set12");
    std::fs::create_dir_all(&set).unwrap();
    for k in numbers {
        std::fs::write(set.join(format!("{k:02}.png")), png(k)).unwrap();
    }
}

/// Set12's manifest, an empty cache with no network behind it, and an empty folder for a
/// local copy (the temporary folders live as long as the returned values).
fn offline_set12() -> (
    Manifest,
    tempfile::TempDir,
    FetchSettings,
    tempfile::TempDir,
) {
    let cache = tempfile::tempdir().unwrap();
    let settings = settings("http://127.0.0.1:9", cache.path());
    (
        Manifest::named("set12").unwrap(),
        cache,
        settings,
        tempfile::tempdir().unwrap(),
    )
}

#[test]
fn an_empty_or_partial_local_copy_is_an_error_naming_the_missing_files() {
    let (set12, _cache, settings, local) = offline_set12();
    for trust in [false, true] {
        let err = fetch(&set12, &settings, &local_options(local.path(), trust)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LocalCopyFileCount {
                    expected: 12,
                    found: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("`testsets/Set12/01.png`"), "{err}");
    }
    write_set12(local.path(), 1..=3);
    let err = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LocalCopyFileCount {
                expected: 12,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("3 of the 12")
            && text.contains("`testsets/Set12/04.png`")
            && text.contains("4 more"),
        "{text}"
    );
}

#[test]
fn garbage_and_empty_image_files_in_a_local_copy_are_errors_naming_the_file() {
    let (set12, _cache, settings, local) = offline_set12();
    write_set12(local.path(), 1..=12);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for k in 1..=12 {
        let noise: Vec<u8> = (0..300).map(|_| rng.random()).collect();
        std::fs::write(
            local.path().join(format!("testsets/Set12/{k:02}.png")),
            noise,
        )
        .unwrap();
    }
    // Damage comes before trust: even a trusted copy of random bytes is refused.
    for trust in [false, true] {
        let err = fetch(&set12, &settings, &local_options(local.path(), trust)).unwrap_err();
        assert!(
            matches!(&err, Error::LocalCopyDamagedFile { file, .. } if file.ends_with("testsets/Set12/01.png")),
            "{err}"
        );
        assert!(err.to_string().contains("not a readable image"), "{err}");
    }
    write_set12(local.path(), 1..=12);
    std::fs::write(local.path().join("testsets/Set12/07.png"), b"").unwrap();
    let err = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyDamagedFile { file, .. } if file.ends_with("07.png")),
        "{err}"
    );
}

#[test]
fn extra_files_are_refused_where_the_pipeline_would_read_them_and_ignored_elsewhere() {
    let (set12, _cache, settings, local) = offline_set12();
    write_set12(local.path(), 1..=12);
    std::fs::write(local.path().join("testsets/Set12/README.txt"), b"notes").unwrap();
    std::fs::write(local.path().join("LICENSE"), b"text").unwrap();
    let got = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap();
    assert_eq!(got.files.len(), 12);
    let notes = got.notes.join("\n");
    assert!(
        notes.contains("2 other file(s)") && notes.contains("ignored"),
        "{notes}"
    );

    // A 13th PNG in the test set's folder would be evaluated as a Set12 image.
    std::fs::write(local.path().join("testsets/Set12/13.png"), png(13)).unwrap();
    let err = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyUnexpectedFile { file, .. } if file == "testsets/Set12/13.png"),
        "{err}"
    );
    std::fs::remove_file(local.path().join("testsets/Set12/13.png")).unwrap();
    std::fs::create_dir_all(local.path().join("testsets/Set12/more")).unwrap();
    std::fs::write(local.path().join("testsets/Set12/more/x.PNG"), png(14)).unwrap();
    let err = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyUnexpectedFile { file, .. } if file == "testsets/Set12/more/x.PNG"),
        "{err}"
    );
}

#[test]
fn a_local_copy_without_reference_hashes_needs_an_explicit_trust() {
    let (set12, _cache, settings, local) = offline_set12();
    // Nested one folder down, as a repository checkout would be.
    write_set12(&local.path().join("DnCNN-master"), 1..=12);

    let err = fetch(&set12, &settings, &local_options(local.path(), false)).unwrap_err();
    assert!(
        matches!(err, Error::LocalCopyUnverified { count: 12, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("--trust-local-copy")
            && text.contains("trust_local_copy: true")
            && text.contains("DnCNN-master/testsets/Set12/01.png"),
        "{text}"
    );
    // `verify` accepts a local copy on the same terms.
    let err = verify(&set12, &settings, &local_options(local.path(), false)).unwrap_err();
    assert!(matches!(err, Error::LocalCopyUnverified { .. }), "{err}");

    let got = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap();
    assert_eq!(got.root, local.path());
    assert_eq!(got.trusted_unverified.len(), 12);
    assert_eq!(
        got.trusted_unverified[0],
        "DnCNN-master/testsets/Set12/01.png"
    );
    assert_eq!(
        got.files[11],
        ("DnCNN-master/testsets/Set12/12.png".into(), sha(&png(12)))
    );
    assert!(
        got.notes.join("\n").contains("trusted, unverified"),
        "{:?}",
        got.notes
    );

    // The pipeline reads exactly the files that were checked.
    let (images, sources) = crate::pipelines::denoising::load_test_set(
        &got.root,
        crate::pipelines::denoising::TestSet::Set12,
        crate::pipelines::denoising::DenoisingEvaluation::Whole,
        4,
    )
    .unwrap();
    assert_eq!(images.len(), 12);
    assert_eq!(sources, got.files);
}

#[test]
fn hashes_recorded_by_a_download_vouch_for_a_local_copy_and_are_checked() {
    let hub = MockHub::start();
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let set12 = Manifest::named("set12").unwrap();
    for k in 1..=12u8 {
        hub.add_plain_file("set12", &format!("testsets/Set12/{k:02}.png"), png(k));
    }
    fetch(&set12, &settings, &FetchOptions::default()).unwrap();

    let local = tempfile::tempdir().unwrap();
    write_set12(local.path(), 1..=12);
    let got = fetch(&set12, &settings, &local_options(local.path(), false)).unwrap();
    assert!(got.trusted_unverified.is_empty());
    // A valid image that is not the recorded one is a mismatch, trusted or not.
    std::fs::write(local.path().join("testsets/Set12/05.png"), png(99)).unwrap();
    let err = fetch(&set12, &settings, &local_options(local.path(), true)).unwrap_err();
    assert!(
        matches!(&err, Error::HashMismatch { file, .. } if file == "testsets/Set12/05.png"),
        "{err}"
    );
    assert!(
        err.to_string().contains("recorded at the first download"),
        "{err}"
    );
}

#[test]
fn a_lost_record_makes_verify_fail_and_fetch_download_afresh() {
    let hub = MockHub::start();
    let bytes = b"the real content".to_vec();
    hub.add_hub_file("lab/set", "b.png", bytes.clone());
    hub.add_plain_file("plain", "x/c.png", bytes.clone());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let offline = FetchSettings {
        offline: true,
        ..settings.clone()
    };
    for m in [
        manifest("plain", https_source(), &[("x/c.png", None)]),
        manifest("set", hub_source(), &[("b.png", None)]),
    ] {
        let record = cache
            .path()
            .join("data")
            .join(&m.name)
            .join("recorded.json");
        let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
        let file = got.root.join(&m.files[0].path);
        std::fs::write(&file, b"bit rot").unwrap();
        // Keep the hub's resolved commit (so the cached file can be found), lose the hashes.
        let mut recorded: Recorded =
            serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        recorded.sha256.clear();
        if recorded.revision.is_none() {
            std::fs::remove_file(&record).unwrap();
        } else {
            std::fs::write(&record, serde_json::to_string(&recorded).unwrap()).unwrap();
        }
        let before = std::fs::read(&record).ok();

        let err = verify(&m, &settings, &FetchOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Unverifiable { first, count: 1, .. } if *first == m.files[0].path),
            "{}: {err}",
            m.name
        );
        assert!(err.to_string().contains("datasets fetch"), "{err}");
        let err = fetch(&m, &offline, &FetchOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Unverifiable { .. }), "{err}");
        // Neither pinned the corrupt file.
        assert_eq!(std::fs::read(&record).ok(), before, "{}", m.name);

        let again = fetch(&m, &settings, &FetchOptions::default()).unwrap();
        assert!(
            again.notes.join("\n").contains("no reference hash"),
            "{:?}",
            again.notes
        );
        assert_eq!(std::fs::read(&file).unwrap(), bytes);
        let recorded: Recorded =
            serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        assert_eq!(recorded.sha256[&m.files[0].path], sha(&bytes));
        verify(&m, &offline, &FetchOptions::default()).unwrap();
    }
}

#[test]
fn verify_never_rewrites_a_recorded_hash() {
    let hub = MockHub::start();
    hub.add_plain_file("plain", "a.png", b"original".to_vec());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let m = manifest("plain", https_source(), &[("a.png", None)]);
    fetch(&m, &settings, &FetchOptions::default()).unwrap();
    let record = cache.path().join("data/plain/recorded.json");
    let before = std::fs::read(&record).unwrap();
    std::fs::write(cache.path().join("data/plain/files/a.png"), b"changed").unwrap();
    for _ in 0..2 {
        let err = verify(&m, &settings, &FetchOptions::default()).unwrap_err();
        assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
    }
    assert_eq!(std::fs::read(&record).unwrap(), before);
}

#[test]
fn a_quietly_truncated_archive_is_downloaded_again_before_its_hash_is_recorded() {
    let hub = MockHub::start();
    let zip = zip_bytes(&[("set/a.png", b"A"), ("set/b.png", b"B")]);
    let tar = tar_gz(&[("set/a.png", b"A"), ("set/b.png", b"B")]);
    hub.add_plain_file("plain", "set.zip", zip.clone());
    hub.add_hub_file("lab/set", "set.tar.gz", tar.clone());
    hub.inject("plain/set.zip", Fault::TruncateQuietly, 1);
    hub.inject("set.tar.gz", Fault::TruncateQuietly, 1);
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    for (m, full) in [
        (archive_manifest("plain", https_source(), "set.zip"), &zip),
        (archive_manifest("set", hub_source(), "set.tar.gz"), &tar),
    ] {
        let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
        let notes = got.notes.join("\n");
        assert!(notes.contains("does not unpack"), "{notes}");
        assert_eq!(walk(&got.root).len(), 2, "{}", m.name);
        assert_eq!(got.files[0].1, sha(full));
        let recorded = read_recorded(cache.path(), &m.name);
        assert_eq!(recorded.sha256[&m.files[0].path], sha(full), "{}", m.name);
    }
}

#[test]
fn an_archive_that_never_unpacks_is_not_pinned_and_the_next_fetch_downloads_it() {
    let hub = MockHub::start();
    let zip = zip_bytes(&[("set/a.png", b"A"), ("set/b.png", b"B")]);
    hub.add_plain_file("plain", "set.zip", zip.clone());
    // Every attempt of this fetch (1 + 2 retries) gets half the archive.
    hub.inject("plain/set.zip", Fault::TruncateQuietly, 3);
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let m = archive_manifest("plain", https_source(), "set.zip");

    let err = fetch(&m, &settings, &FetchOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::BadArchive { file, .. } if file == "set.zip"),
        "{err}"
    );
    assert!(
        err.to_string().contains("next `datasets fetch plain`"),
        "{err}"
    );
    assert!(read_recorded(cache.path(), "plain").sha256.is_empty());
    assert!(!cache.path().join("data/plain/files/set.zip").exists());

    let got = fetch(&m, &settings, &FetchOptions::default()).unwrap();
    assert_eq!(
        read_recorded(cache.path(), "plain").sha256["set.zip"],
        sha(&zip)
    );
    assert_eq!(walk(&got.root).len(), 2);
}

#[test]
fn an_archive_pinned_by_an_earlier_version_that_does_not_unpack_is_reported() {
    let zip = zip_bytes(&[("set/a.png", b"A")]);
    let half = zip[..zip.len() / 2].to_vec();
    let cache = tempfile::tempdir().unwrap();
    let settings = settings("http://127.0.0.1:9", cache.path());
    std::fs::create_dir_all(cache.path().join("data/plain/files")).unwrap();
    std::fs::write(cache.path().join("data/plain/files/set.zip"), &half).unwrap();
    let recorded = Recorded {
        revision: None,
        sha256: [("set.zip".to_owned(), sha(&half))].into(),
    };
    std::fs::write(
        cache.path().join("data/plain/recorded.json"),
        serde_json::to_string(&recorded).unwrap(),
    )
    .unwrap();
    let m = archive_manifest("plain", https_source(), "set.zip");
    let err = fetch(&m, &settings, &FetchOptions::default()).unwrap_err();
    assert!(matches!(err, Error::BadArchive { .. }), "{err}");
    assert!(
        err.to_string().contains("delete the entry `set.zip`"),
        "{err}"
    );
}

#[test]
fn a_size_in_the_manifest_is_checked_before_the_hash() {
    let hub = MockHub::start();
    hub.add_plain_file("plain", "a.bin", vec![1; 100]);
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(hub.url(), cache.path());
    let mut m = manifest("plain", https_source(), &[("a.bin", None)]);
    m.files[0].size = Some(200);
    let err = fetch(&m, &settings, &FetchOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                expected: 200,
                actual: 100,
                ..
            }
        ),
        "{err}"
    );
    assert!(read_recorded(cache.path(), "plain").sha256.is_empty());
    m.files[0].size = Some(100);
    fetch(&m, &settings, &FetchOptions::default()).unwrap();
}

fn archive_manifest(name: &str, source: Source, archive: &str) -> Manifest {
    let mut m = manifest(name, source, &[(archive, None)]);
    m.unpack = vec![archive.into()];
    m
}

/// The dataset's `recorded.json`, or an empty record where there is none.
fn read_recorded(cache: &Path, name: &str) -> Recorded {
    match std::fs::read_to_string(cache.join("data").join(name).join("recorded.json")) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => Recorded::default(),
    }
}
