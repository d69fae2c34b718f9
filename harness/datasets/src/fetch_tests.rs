//! The fetch paths against the loopback mock hub: download, cache reuse, recorded hashes,
//! corrupt-and-refetch, truncated downloads, archives, terms, local copies, offline and
//! unreachable hosts.

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
        local_copy: None,
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
    let options = FetchOptions {
        accept_terms: false,
        local_copy: Some(local.path().to_owned()),
    };
    let ok = manifest("set", hub_source(), &[("sub/a.png", Some(sha(b"good")))]);
    let got = fetch(&ok, &settings, &options).unwrap();
    assert_eq!(got.root, local.path());
    assert_eq!(got.files, vec![("sub/a.png".into(), sha(b"good"))]);

    let bad = manifest("set", hub_source(), &[("sub/a.png", Some(sha(b"other")))]);
    let err = fetch(&bad, &settings, &options).unwrap_err().to_string();
    assert!(err.contains("never overwritten"), "{err}");
    assert_eq!(
        std::fs::read(local.path().join("sub/a.png")).unwrap(),
        b"good"
    );
}
