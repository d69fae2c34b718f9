//! Materialising a dataset on disk: download what is missing, verify every file's SHA-256,
//! unpack archives, or check a local copy the user already has.
//!
//! Hub datasets go through hf-hub into the same cache as Python's `huggingface_hub`
//! (`$HF_HOME/hub/datasets--owner--name/...`), so files fetched by either tool are shared.
//! HTTPS datasets go into this harness's own cache (`$SPIKING_UNET_DATA`, else
//! `$XDG_CACHE_HOME/spiking-unet/datasets`, else `~/.cache/spiking-unet/datasets`). That
//! cache also keeps, per dataset, `recorded.json`: the SHA-256 of each file whose manifest
//! entry has none yet (recorded at its first download, checked ever after), and the commit a
//! branch revision resolved to (so later fetches stay on it).
//!
//! The rules that keep a cached file trustworthy:
//!
//! - A file is checked against its **reference**: the manifest's size and SHA-256, else the
//!   SHA-256 recorded at its first download. A file that fails it (corrupted on disk, or
//!   truncated by a broken download) is reported, deleted and fetched again by [`fetch`], and
//!   is an error for [`verify`]. A reference is never replaced by what is on disk.
//! - Only a download writes `recorded.json`; [`verify`] never writes it. A cached file with no
//!   reference (`recorded.json` deleted) is not taken as the truth: [`fetch`] deletes it and
//!   downloads it afresh (recording the new download's hash), [`verify`] and an offline
//!   [`fetch`] report it ([`Error::Unverifiable`]).
//! - An archive's hash is recorded only once the archive has unpacked cleanly: a truncated or
//!   damaged first download is deleted and downloaded again (with the retries), never pinned.
//! - A local copy is never modified and never recorded: see [`crate::local_copy`] for how it is
//!   checked (complete, reference hashes where known, decodable, and trusted explicitly where
//!   no reference hash exists).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hf_hub::api::Progress;
use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive;
use crate::error::{Error, Result};
use crate::local_copy::{self, Reference};
use crate::manifest::{Manifest, Source};

/// Environment variable overriding the harness's dataset cache folder.
pub const DATA_CACHE_ENV: &str = "SPIKING_UNET_DATA";
/// Environment variable replacing every HTTPS source's host: files are then fetched from
/// `$SPIKING_UNET_DATASETS_BASE_URL/<dataset>/<path>` (a mirror, or the test suite's mock).
pub const BASE_URL_ENV: &str = "SPIKING_UNET_DATASETS_BASE_URL";

/// Where things are cached and how downloads behave.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// hf-hub's cache folder (`$HF_HOME/hub`).
    pub hub_cache: PathBuf,
    /// The hub's address (`$HF_ENDPOINT`, default `https://huggingface.co`).
    pub hub_endpoint: String,
    /// This harness's cache for HTTPS datasets, unpacked archives and recorded hashes.
    pub data_cache: PathBuf,
    /// Never touch the network (`HF_HUB_OFFLINE=1`): only what is cached can be used.
    pub offline: bool,
    /// Replaces every HTTPS base URL with `<this>/<dataset>/`.
    pub base_url_override: Option<String>,
    /// Download attempts per file beyond the first, on transport errors and hash mismatches.
    pub retries: usize,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Show progress bars.
    pub progress: bool,
}

impl FetchSettings {
    /// Settings from the environment: `HF_HOME`, `HF_ENDPOINT`, `HF_HUB_OFFLINE`,
    /// `SPIKING_UNET_DATA`, `SPIKING_UNET_DATASETS_BASE_URL`, with huggingface_hub's defaults.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let home = var("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let hub_cache = var("HF_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cache/huggingface"))
            .join("hub");
        let data_cache = var(DATA_CACHE_ENV).map(PathBuf::from).unwrap_or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".cache"))
                .join("spiking-unet/datasets")
        });
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        Self {
            hub_cache,
            hub_endpoint: var("HF_ENDPOINT").unwrap_or_else(|| "https://huggingface.co".into()),
            data_cache,
            offline,
            base_url_override: var(BASE_URL_ENV),
            retries: 3,
            backoff: Duration::from_millis(500),
            progress: true,
        }
    }
}

/// What the user asked for on top of the manifest.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// The user accepts the dataset's terms (needed where the manifest requires an opt-in).
    pub accept_terms: bool,
    /// Use this folder (the dataset's files, unpacked) instead of downloading.
    pub local_copy: Option<PathBuf>,
    /// Accept a local copy's files that have no reference SHA-256 (none in the manifest, none
    /// recorded by a download), once they are complete and decode; they are listed in
    /// [`Materialized::trusted_unverified`]. Without it such a copy is
    /// [`Error::LocalCopyUnverified`].
    pub trust_local_copy: bool,
}

/// A dataset on disk, ready for its pipeline.
#[derive(Debug, Clone)]
pub struct Materialized {
    /// The folder the pipeline reads: the hub snapshot, the HTTPS cache folder, the unpacked
    /// archive, or the local copy.
    pub root: PathBuf,
    /// (file, sha256) of every file of the dataset: the manifest's files, relative to the
    /// cache; or the local copy's files, relative to it. Never empty.
    pub files: Vec<(String, String)>,
    /// What happened, one line each (downloaded, recorded a hash, refetched a corrupt file).
    pub notes: Vec<String>,
    /// The files of a trusted local copy (relative to `root`) that no reference SHA-256
    /// vouches for: they were accepted on [`FetchOptions::trust_local_copy`] because they are
    /// complete and decode. Empty for downloads and for local copies whose every file matched a
    /// reference. Results should record a non-empty list as "trusted local copy, unverified".
    pub trusted_unverified: Vec<String>,
}

/// Hashes recorded at first download, kept next to the dataset in the data cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Recorded {
    /// The commit a branch revision resolved to.
    revision: Option<String>,
    /// path → sha256 of files whose manifest entry has none.
    sha256: BTreeMap<String, String>,
}

/// SHA-256 of a file, streamed, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer).map_err(Error::io(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Makes the dataset available: downloads what is missing (unless offline), verifies every
/// file, unpacks archives. With a local copy, only verifies.
pub fn fetch(
    manifest: &Manifest,
    settings: &FetchSettings,
    options: &FetchOptions,
) -> Result<Materialized> {
    Fetcher::new(manifest, settings)?.run(options, true)
}

/// Verifies what is on disk without downloading or recording anything: every file must be
/// present and match its reference; a file without one is [`Error::Unverifiable`].
pub fn verify(
    manifest: &Manifest,
    settings: &FetchSettings,
    options: &FetchOptions,
) -> Result<Materialized> {
    Fetcher::new(manifest, settings)?.run(options, false)
}

/// The folder holding a dataset's HTTPS files, unpacked archives and `recorded.json`.
pub fn dataset_cache(settings: &FetchSettings, manifest: &Manifest) -> PathBuf {
    settings.data_cache.join(&manifest.name)
}

struct Fetcher<'a> {
    manifest: &'a Manifest,
    settings: &'a FetchSettings,
    folder: PathBuf,
    recorded: Recorded,
    notes: Vec<String>,
    /// The terms were accepted and printed during this fetch.
    terms_shown: bool,
}

/// Why a file could not be obtained: the network (a way out is to connect or use a local
/// copy) or something else (reported as is).
enum Failure {
    Unreachable(String),
    Other(Error),
}

/// How a file on disk compares with its reference.
enum Verdict {
    /// It matches the reference SHA-256 (and size); here is the hash.
    Matches(String),
    /// There is no reference SHA-256 to compare with (the size, if known, matched).
    NoReference(String),
    /// It differs from the reference.
    Differs(Difference),
}

/// How a file differs from its reference.
enum Difference {
    Size {
        expected: u64,
        actual: u64,
    },
    Hash {
        expected: String,
        actual: String,
        origin: String,
    },
}

impl Difference {
    /// For notes: "is 10 bytes, expected 20" / "has sha256 X, expected Y".
    fn describe(&self) -> String {
        match self {
            Difference::Size { expected, actual } => {
                format!("is {actual} bytes, expected {expected}")
            }
            Difference::Hash {
                expected, actual, ..
            } => format!("has sha256 {actual}, expected {expected}"),
        }
    }
}

impl<'a> Fetcher<'a> {
    fn new(manifest: &'a Manifest, settings: &'a FetchSettings) -> Result<Self> {
        let folder = dataset_cache(settings, manifest);
        let path = folder.join("recorded.json");
        let recorded = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| Error::Decode {
                file: path.clone(),
                detail: format!(
                    "{err}; delete it, and the next `datasets fetch` downloads the files afresh and records their hashes"
                ),
            })?,
            Err(_) => Recorded::default(),
        };
        Ok(Self {
            manifest,
            settings,
            folder,
            recorded,
            notes: Vec::new(),
            terms_shown: false,
        })
    }

    fn run(mut self, options: &FetchOptions, download: bool) -> Result<Materialized> {
        if let Some(local) = &options.local_copy {
            let checked =
                local_copy::check(self.manifest, local, options.trust_local_copy, &|path| {
                    self.reference(path)
                })?;
            return Ok(Materialized {
                root: local.to_owned(),
                files: checked.files,
                notes: checked.notes,
                trusted_unverified: checked.trusted_unverified,
            });
        }
        // Downloading is what `fetch` does unless offline; `verify` never does.
        let online = download && !self.settings.offline;
        let revision = self.revision(download, options)?;
        let mut files = Vec::new();
        let mut missing = Vec::new();
        let mut unreferenced = Vec::new();
        // Freshly downloaded archives without a reference hash: recorded once they unpack.
        let mut unpack_before_recording = Vec::new();
        for entry in &self.manifest.files {
            let path = self.cached_path(&entry.path, revision.as_deref());
            if let Some(path) = &path
                && path.exists()
            {
                match self.judge(path, &entry.path)? {
                    Verdict::Matches(hash) => {
                        files.push((entry.path.clone(), hash));
                        continue;
                    }
                    Verdict::NoReference(_) if !online => {
                        unreferenced.push(entry.path.clone());
                        continue;
                    }
                    Verdict::NoReference(hash) => {
                        // The record was lost: what is on disk may be anything (a corrupt
                        // file, a truncated download), so it is fetched afresh, not pinned.
                        let note = format!(
                            "{}: cached `{}` (sha256 {hash}) has no reference hash ({} does not list it); deleting it and downloading it again instead of trusting it",
                            self.manifest.name,
                            entry.path,
                            self.record_path().display()
                        );
                        tracing::warn!("{note}");
                        self.notes.push(note);
                        remove_cached(path);
                    }
                    Verdict::Differs(difference) => {
                        if !download {
                            return Err(self.difference_error(&entry.path, difference, false));
                        }
                        let note = format!(
                            "{}: `{}` is corrupt ({}); fetching it again",
                            self.manifest.name,
                            entry.path,
                            difference.describe()
                        );
                        tracing::warn!("{note}");
                        self.notes.push(note);
                        remove_cached(path);
                    }
                }
            }
            if !online {
                missing.push(entry.path.clone());
                continue;
            }
            self.check_terms(options)?;
            let Some(revision_for_download) = self.download_revision(revision.as_deref()) else {
                missing.push(entry.path.clone());
                continue;
            };
            let hash = self
                .download_verified(&entry.path, revision_for_download)
                .map_err(|failure| self.failure_error(&entry.path, failure))?;
            if self.reference(&entry.path).sha256.is_none() {
                if self.manifest.unpack.contains(&entry.path) {
                    unpack_before_recording.push(entry.path.clone());
                } else {
                    self.record(&entry.path, &hash)?;
                }
            }
            files.push((entry.path.clone(), hash));
        }
        if !missing.is_empty() {
            let reason = if self.settings.offline {
                "offline mode (HF_HUB_OFFLINE is set)".to_owned()
            } else if !download && self.download_revision(revision.as_deref()).is_none() {
                // A branch revision whose commit was not recorded: the cache cannot be read.
                format!(
                    "`verify` does not download, and the commit the hub revision resolved to is not recorded in {}",
                    self.record_path().display()
                )
            } else if !download {
                "`verify` does not download".to_owned()
            } else {
                "the hub revision could not be resolved".to_owned()
            };
            return Err(self.unavailable(&missing, reason));
        }
        if let Some(first) = unreferenced.first() {
            return Err(Error::Unverifiable {
                dataset: self.manifest.name.clone(),
                count: unreferenced.len(),
                first: first.clone(),
                record: self.record_path(),
            });
        }
        let root =
            self.unpack_archives(revision.as_deref(), &mut files, &unpack_before_recording)?;
        Ok(Materialized {
            root,
            files,
            notes: self.notes,
            trusted_unverified: Vec::new(),
        })
    }

    /// The commit to use for a hub dataset: pinned, recorded, or resolved now (and recorded).
    fn revision(&mut self, online: bool, options: &FetchOptions) -> Result<Option<String>> {
        let Source::Hub { repo, revision } = &self.manifest.source else {
            return Ok(None);
        };
        if let Some(pinned) = self.manifest.source.pinned_revision() {
            return Ok(Some(pinned.to_owned()));
        }
        if let Some(recorded) = &self.recorded.revision {
            return Ok(Some(recorded.clone()));
        }
        if !online || self.settings.offline {
            return Ok(None);
        }
        // Resolving the revision is the first request to the host: the terms come before it.
        self.check_terms(options)?;
        let api = self
            .hub_api()
            .map_err(|err| self.download_error("(repository info)", repo, err))?;
        let info = api
            .repo(Repo::with_revision(
                repo.clone(),
                RepoType::Dataset,
                revision.clone(),
            ))
            .info();
        let sha = match info {
            Ok(info) => info.sha,
            Err(err) => {
                return Err(match classify(err) {
                    Failure::Unreachable(reason) => {
                        let all: Vec<String> =
                            self.manifest.files.iter().map(|f| f.path.clone()).collect();
                        self.unavailable(&all, reason)
                    }
                    Failure::Other(err) => {
                        match self.with_context(Failure::Other(err), "(repository info)", repo) {
                            Failure::Other(err) => err,
                            Failure::Unreachable(reason) => self.unavailable(&[], reason),
                        }
                    }
                });
            }
        };
        let note = format!(
            "{}: revision `{revision}` of {repo} resolved to commit {sha}; recorded in {}",
            self.manifest.name,
            self.folder.join("recorded.json").display()
        );
        tracing::info!("{note}");
        self.notes.push(note);
        self.recorded.revision = Some(sha.clone());
        self.save_recorded()?;
        Ok(Some(sha))
    }

    /// What `path`'s bytes must be: the manifest's size and SHA-256, else the SHA-256
    /// recorded at its first download.
    fn reference(&self, path: &str) -> Reference {
        let Some(entry) = self.manifest.files.iter().find(|f| f.path == path) else {
            return Reference::default();
        };
        let sha256 = match &entry.sha256 {
            Some(hash) => Some((hash.clone(), "from the manifest".to_owned())),
            None => self.recorded.sha256.get(path).map(|hash| {
                (
                    hash.clone(),
                    format!(
                        "recorded at the first download in {}",
                        self.record_path().display()
                    ),
                )
            }),
        };
        Reference {
            sha256,
            size: entry.size,
        }
    }

    /// How the file at `file` (the cached copy of manifest path `path`) compares with its
    /// reference. The size comes first: it names a truncation as such, without hashing.
    fn judge(&self, file: &Path, path: &str) -> Result<Verdict> {
        let reference = self.reference(path);
        if let Some(expected) = reference.size {
            let actual = std::fs::metadata(file).map_err(Error::io(file))?.len();
            if actual != expected {
                return Ok(Verdict::Differs(Difference::Size { expected, actual }));
            }
        }
        let actual = sha256_file(file)?;
        Ok(match reference.sha256 {
            Some((expected, _)) if expected == actual => Verdict::Matches(actual),
            Some((expected, origin)) => Verdict::Differs(Difference::Hash {
                expected,
                actual,
                origin,
            }),
            None => Verdict::NoReference(actual),
        })
    }

    fn record_path(&self) -> PathBuf {
        self.folder.join("recorded.json")
    }

    /// Records the hash of a file just downloaded (the only writer of hashes into
    /// `recorded.json`; `verify` and local copies never call it).
    fn record(&mut self, path: &str, hash: &str) -> Result<()> {
        let note = format!(
            "{}: the manifest has no sha256 for `{path}`; recorded {hash} in {} (later fetches and `verify` check against it)",
            self.manifest.name,
            self.record_path().display()
        );
        tracing::info!("{note}");
        self.notes.push(note);
        self.recorded
            .sha256
            .insert(path.to_owned(), hash.to_owned());
        self.save_recorded()
    }

    fn save_recorded(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.recorded).expect("plain data serialises");
        write_atomic(&self.record_path(), text.as_bytes())
    }

    /// Where `path` is (or would be) cached; None for a hub file whose commit is unknown.
    fn cached_path(&self, path: &str, revision: Option<&str>) -> Option<PathBuf> {
        match &self.manifest.source {
            Source::Https { .. } => Some(self.folder.join("files").join(path)),
            Source::Hub { repo, .. } => {
                let revision = revision?;
                let cached = Cache::new(self.settings.hub_cache.clone())
                    .repo(Repo::with_revision(
                        repo.clone(),
                        RepoType::Dataset,
                        revision.to_owned(),
                    ))
                    .get(path);
                Some(cached.unwrap_or_else(|| {
                    self.settings
                        .hub_cache
                        .join(format!("datasets--{}", repo.replace('/', "--")))
                        .join("snapshots")
                        .join(revision)
                        .join(path)
                }))
            }
        }
    }

    /// Refuses without the opt-in the manifest requires; with it, prints the terms once.
    fn check_terms(&mut self, options: &FetchOptions) -> Result<()> {
        if !self.manifest.requires_opt_in || self.terms_shown {
            return Ok(());
        }
        if !options.accept_terms {
            return Err(Error::TermsNotAccepted {
                dataset: self.manifest.name.clone(),
                terms: self.manifest.terms.trim().to_owned(),
            });
        }
        eprintln!(
            "Terms of `{}` (accepted by opt-in):\n{}\n",
            self.manifest.name,
            self.manifest.terms.trim()
        );
        self.terms_shown = true;
        Ok(())
    }

    /// Downloads `path`, checks it against its reference and retries on a mismatch; returns
    /// its SHA-256. Without a reference it is returned unchecked: the caller records it.
    fn download_verified(
        &mut self,
        path: &str,
        revision: &str,
    ) -> std::result::Result<String, Failure> {
        let attempts = self.settings.retries + 1;
        let mut last_failure = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(self.settings.backoff * (1 << (attempt - 1).min(6)) as u32);
            }
            let downloaded = match self.download_once(path, revision) {
                Ok(file) => file,
                Err(failure) => {
                    last_failure = Some(failure);
                    continue;
                }
            };
            match self.judge(&downloaded, path).map_err(Failure::Other)? {
                Verdict::Matches(hash) | Verdict::NoReference(hash) => {
                    self.notes
                        .push(format!("{}: downloaded `{path}`", self.manifest.name));
                    return Ok(hash);
                }
                Verdict::Differs(difference) => {
                    let note = format!(
                        "{}: download {} of `{path}` {}; deleting it",
                        self.manifest.name,
                        attempt + 1,
                        difference.describe()
                    );
                    tracing::warn!("{note}");
                    self.notes.push(note);
                    remove_cached(&downloaded);
                    last_failure = Some(Failure::Other(
                        self.difference_error(path, difference, true),
                    ));
                }
            }
        }
        Err(last_failure.expect("at least one attempt"))
    }

    /// The revision a download asks for: the commit of a hub dataset (None while it is not
    /// known), nothing for HTTPS.
    fn download_revision<'r>(&self, revision: Option<&'r str>) -> Option<&'r str> {
        match self.manifest.source {
            Source::Https { .. } => Some(""),
            Source::Hub { .. } => revision,
        }
    }

    /// The error to report for a download of `path` that failed for good.
    fn failure_error(&self, path: &str, failure: Failure) -> Error {
        match failure {
            Failure::Unreachable(reason) => self.unavailable(&[path.to_owned()], reason),
            Failure::Other(err) => err,
        }
    }

    fn download_once(&self, path: &str, revision: &str) -> std::result::Result<PathBuf, Failure> {
        match &self.manifest.source {
            Source::Hub { repo, .. } => {
                let api = self.hub_api().map_err(classify)?;
                let repo = api.repo(Repo::with_revision(
                    repo.clone(),
                    RepoType::Dataset,
                    revision.to_owned(),
                ));
                let url = repo.url(path);
                let bar = DownloadBar::new(self.settings.progress);
                repo.download_with_progress(path, bar)
                    .map_err(|err| self.with_context(classify(err), path, &url))
            }
            Source::Https { base_url } => {
                let url = match &self.settings.base_url_override {
                    Some(base) => format!(
                        "{}/{}/{path}",
                        base.trim_end_matches('/'),
                        self.manifest.name
                    ),
                    None => format!("{base_url}{path}"),
                };
                let target = self.folder.join("files").join(path);
                https_download(&url, &target, self.settings.progress).map_err(|failure| {
                    match failure {
                        Failure::Other(Error::Download { detail, .. }) => {
                            Failure::Other(Error::Download {
                                dataset: self.manifest.name.clone(),
                                file: path.to_owned(),
                                url: url.clone(),
                                detail,
                            })
                        }
                        other => other,
                    }
                })?;
                Ok(target)
            }
        }
    }

    fn hub_api(&self) -> std::result::Result<hf_hub::api::sync::Api, ApiError> {
        ApiBuilder::from_cache(Cache::new(self.settings.hub_cache.clone()))
            .with_endpoint(self.settings.hub_endpoint.clone())
            .with_progress(false)
            .with_retries(0)
            .build()
    }

    /// Unpacks the manifest's archives (once) and returns the folder the pipeline reads.
    ///
    /// `unreferenced` lists the archives just downloaded without a reference hash: their hash
    /// is recorded only once they unpack, and one that does not (a truncated or damaged
    /// download) is deleted and downloaded again, so a broken first download is never pinned.
    fn unpack_archives(
        &mut self,
        revision: Option<&str>,
        files: &mut [(String, String)],
        unreferenced: &[String],
    ) -> Result<PathBuf> {
        if self.manifest.unpack.is_empty() {
            return Ok(match &self.manifest.source {
                Source::Https { .. } => self.folder.join("files"),
                Source::Hub { repo, .. } => self
                    .settings
                    .hub_cache
                    .join(format!("datasets--{}", repo.replace('/', "--")))
                    .join("snapshots")
                    .join(revision.unwrap_or_default()),
            });
        }
        let root = self.folder.join("unpacked");
        for archive_name in &self.manifest.unpack {
            let slot = files
                .iter_mut()
                .find(|(path, _)| path == archive_name)
                .expect("every manifest file was verified before unpacking");
            let to_record = unreferenced.contains(archive_name);
            let attempts = if to_record {
                self.settings.retries + 1
            } else {
                1
            };
            for attempt in 1..=attempts {
                // One folder per archive content hash: a changed archive is unpacked afresh,
                // and the folder exists only once an unpack completed (archive::unpack stages).
                let target = root.join(format!("{archive_name}-{}", &slot.1[..16]));
                if target.exists() {
                    break;
                }
                let archive = self
                    .cached_path(archive_name, revision)
                    .expect("archives were fetched above");
                let detail = match archive::unpack(&archive, &target) {
                    Ok(()) => {
                        self.notes.push(format!(
                            "{}: unpacked `{archive_name}` into {}",
                            self.manifest.name,
                            target.display()
                        ));
                        break;
                    }
                    // A hostile archive is refused as it is; downloading it again is no cure.
                    Err(err @ Error::UnsafeArchiveEntry { .. }) => return Err(err),
                    Err(Error::Decode { detail, .. }) => detail,
                    Err(other) => other.to_string(),
                };
                let bad_archive = |advice: String| Error::BadArchive {
                    dataset: self.manifest.name.clone(),
                    file: archive_name.clone(),
                    detail: detail.clone(),
                    advice,
                };
                if !to_record {
                    // Its bytes match the reference, so downloading it again would not help.
                    let in_manifest = self
                        .manifest
                        .files
                        .iter()
                        .any(|f| f.path == *archive_name && f.sha256.is_some());
                    return Err(bad_archive(if in_manifest {
                        "It matches the manifest's SHA-256, so the manifest names a broken archive: fix the manifest".to_owned()
                    } else {
                        format!(
                            "It matches the SHA-256 recorded at its first download, so that download was already broken (an earlier version of this tool recorded hashes before unpacking): delete the entry `{archive_name}` from {} and run `datasets fetch {}` again",
                            self.record_path().display(),
                            self.manifest.name
                        )
                    }));
                }
                remove_cached(&archive);
                let note = format!(
                    "{}: download {attempt} of `{archive_name}` does not unpack ({detail}); deleted it without recording its hash",
                    self.manifest.name
                );
                tracing::warn!("{note}");
                self.notes.push(note);
                if attempt == attempts {
                    return Err(bad_archive(format!(
                        "It was downloaded {attempts} time(s) and never unpacked; it was deleted and its hash was not recorded, so the next `datasets fetch {}` downloads it again",
                        self.manifest.name
                    )));
                }
                let revision_for_download = self
                    .download_revision(revision)
                    .expect("the archive was downloaded with this revision");
                slot.1 = self
                    .download_verified(archive_name, revision_for_download)
                    .map_err(|failure| self.failure_error(archive_name, failure))?;
            }
            if to_record {
                self.record(archive_name, &slot.1)?;
            }
        }
        Ok(root)
    }

    /// The error for a file that differs from its reference; `refetched`: the differing bytes
    /// came from downloads (so the source is at fault), else from the cache.
    fn difference_error(&self, path: &str, difference: Difference, refetched: bool) -> Error {
        let advice = if refetched {
            format!(
                "it was downloaded {} time(s) and never matched: the source changed or is corrupt. If the new content is legitimate, delete the entry from {} (or fix the manifest) and fetch again",
                self.settings.retries + 1,
                self.record_path().display()
            )
        } else {
            "run `datasets fetch` to fetch it again".to_owned()
        };
        match difference {
            Difference::Size { expected, actual } => Error::SizeMismatch {
                dataset: self.manifest.name.clone(),
                file: path.to_owned(),
                expected,
                actual,
                advice,
            },
            Difference::Hash {
                expected,
                actual,
                origin,
            } => Error::HashMismatch {
                dataset: self.manifest.name.clone(),
                file: path.to_owned(),
                expected,
                actual,
                advice: format!("({origin}); {advice}"),
            },
        }
    }

    fn unavailable(&self, missing: &[String], reason: String) -> Error {
        let cache = match &self.manifest.source {
            Source::Https { .. } => self.folder.join("files"),
            Source::Hub { .. } => self.settings.hub_cache.clone(),
        };
        Error::Unavailable {
            dataset: self.manifest.name.clone(),
            missing: missing.len(),
            first: missing.first().cloned().unwrap_or_default(),
            cache,
            reason,
        }
    }

    /// Fills in which dataset, file and URL a transport error concerns.
    fn with_context(&self, failure: Failure, file: &str, url: &str) -> Failure {
        match failure {
            Failure::Other(Error::Download { detail, .. }) => Failure::Other(Error::Download {
                dataset: self.manifest.name.clone(),
                file: file.to_owned(),
                url: url.to_owned(),
                detail,
            }),
            other => other,
        }
    }

    fn download_error(&self, file: &str, url: &str, err: ApiError) -> Error {
        Error::Download {
            dataset: self.manifest.name.clone(),
            file: file.to_owned(),
            url: url.to_owned(),
            detail: err.to_string(),
        }
    }
}

/// Transport failures (no route, refused, DNS, TLS, timeout) mean "unreachable"; HTTP status
/// errors and the rest are reported as they are.
fn classify(err: ApiError) -> Failure {
    match err {
        ApiError::RequestError(inner) => match *inner {
            ureq::Error::Transport(transport) => Failure::Unreachable(transport.to_string()),
            status => Failure::Other(Error::Download {
                dataset: String::new(),
                file: String::new(),
                url: String::new(),
                detail: status.to_string(),
            }),
        },
        ApiError::TooManyRetries(inner) => classify(*inner),
        ApiError::IoError(io) if io.kind() != std::io::ErrorKind::PermissionDenied => {
            Failure::Unreachable(format!("the connection broke: {io}"))
        }
        other => Failure::Other(Error::Download {
            dataset: String::new(),
            file: String::new(),
            url: String::new(),
            detail: other.to_string(),
        }),
    }
}

/// Downloads `url` to `target` through a temporary sibling file, renamed when complete.
fn https_download(url: &str, target: &Path, progress: bool) -> std::result::Result<(), Failure> {
    let response = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .try_proxy_from_env(true)
        .build()
        .get(url)
        .call()
        .map_err(|err| match err {
            ureq::Error::Transport(transport) => Failure::Unreachable(transport.to_string()),
            status => Failure::Other(Error::Download {
                dataset: String::new(),
                file: String::new(),
                url: url.to_owned(),
                detail: status.to_string(),
            }),
        })?;
    let length = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let parent = target.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent).map_err(|e| Failure::Other(Error::io(parent)(e)))?;
    let mut temp = tempfile::NamedTempFile::new_in(parent)
        .map_err(|e| Failure::Other(Error::io(parent)(e)))?;
    let bar = DownloadBar::new(progress);
    let mut reader = BarReader {
        inner: response.into_reader(),
        bar,
    };
    reader.bar.start(length.unwrap_or(0), url);
    let copied = std::io::copy(&mut reader, temp.as_file_mut())
        .map_err(|e| Failure::Unreachable(format!("the connection broke: {e}")))?;
    reader.bar.done();
    if let Some(length) = length
        && copied != length
    {
        return Err(Failure::Unreachable(format!(
            "the download stopped after {copied} of {length} bytes"
        )));
    }
    temp.persist(target)
        .map_err(|e| Failure::Other(Error::io(target)(e.error)))?;
    Ok(())
}

/// Deletes a cached file; for an hf-hub snapshot entry (a symlink), the blob it points to too,
/// so that the next download does not find the corrupt blob again.
fn remove_cached(path: &Path) {
    if let Ok(blob) = std::fs::canonicalize(path)
        && blob != path
    {
        let _ = std::fs::remove_file(blob);
    }
    let _ = std::fs::remove_file(path);
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let mut temp = tempfile::NamedTempFile::new_in(parent).map_err(Error::io(parent))?;
    std::io::Write::write_all(temp.as_file_mut(), bytes).map_err(Error::io(path))?;
    temp.persist(path).map_err(|e| Error::io(path)(e.error))?;
    Ok(())
}

/// A download progress bar, hidden when progress is off or stderr is not a terminal.
struct DownloadBar {
    bar: indicatif::ProgressBar,
}

impl DownloadBar {
    fn new(visible: bool) -> Self {
        let bar = if visible {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .expect("a valid template"),
        );
        Self { bar }
    }

    fn start(&mut self, size: u64, name: &str) {
        self.bar.set_length(size);
        self.bar.set_position(0);
        self.bar
            .set_message(name.rsplit('/').next().unwrap_or(name).to_owned());
    }

    fn done(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for DownloadBar {
    fn init(&mut self, size: usize, filename: &str) {
        self.start(size as u64, filename);
    }

    fn update(&mut self, size: usize) {
        self.bar.inc(size as u64);
    }

    fn finish(&mut self) {
        self.done();
    }
}

struct BarReader<R> {
    inner: R,
    bar: DownloadBar,
}

impl<R: Read> Read for BarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bar.bar.inc(read as u64);
        Ok(read)
    }
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
