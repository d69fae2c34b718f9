//! `datasets list | info NAME | fetch NAME | verify NAME`: the paper's public benchmark sets,
//! fetched into the local cache (Hugging Face cache for hub-hosted sets) and checked by SHA-256.
//!
//! The environment decides where and how: `HF_HOME`, `HF_ENDPOINT` and `HF_HUB_OFFLINE` as for
//! Python's huggingface_hub; `SPIKING_UNET_DATA` for this harness's cache;
//! `SPIKING_UNET_DATASETS_BASE_URL` to fetch HTTPS-hosted sets from a mirror.
//!
//! A local copy (`--local-copy DIR`) must be the whole dataset: every file present, sizes and
//! hashes checked where a reference exists, every image decoded; files without a reference
//! hash are accepted only with `--trust-local-copy`. `verify` never records a hash.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use spiking_unet_cli::{CommonArgs, run};
use spiking_unet_datasets::fetch::dataset_cache;
use spiking_unet_datasets::manifest::Source;
use spiking_unet_datasets::{FetchOptions, FetchSettings, Manifest, Materialized, fetch, verify};

#[derive(Parser)]
#[command(
    name = "datasets",
    version,
    about = "List, describe, download and verify the paper's public datasets",
    after_help = "Examples:\n  datasets list\n  datasets info bsd68\n  \
                  datasets fetch bsd68\n  datasets fetch drive --accept-terms\n  \
                  datasets fetch set12 --local-copy ~/data/DnCNN --trust-local-copy\n  \
                  datasets verify bsd68 --log-format json\n\n\
                  Hashes: a file is checked against the manifest's SHA-256, else the one recorded in \
                  <cache>/<name>/recorded.json at its first download. Only a download records a hash, and \
                  an archive's only once it unpacks; `verify` records nothing, and reports a file with no \
                  reference hash instead of trusting it."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The known datasets, with their source and whether they need an opt-in.
    List,
    /// Source, files, terms, citation, preprocessing and cache state of one dataset.
    Info {
        /// Dataset name (see `list`).
        name: String,
    },
    /// Download what is missing and verify every file (a corrupt file, or one whose recorded
    /// hash was lost, is fetched again).
    Fetch {
        /// Dataset name (see `list`), or `all`.
        name: String,
        /// Accept the dataset's terms where its manifest requires an opt-in (DRIVE).
        #[arg(long)]
        accept_terms: bool,
        /// Check a copy you already have (unpacked) instead of downloading: every file of the
        /// dataset must be there (an original layout such as DRIVE's official zip or ISBI's
        /// TIFF stacks works), match its size and SHA-256 where known, and decode. Files that
        /// are not part of the dataset are ignored, unless the pipeline would read them.
        #[arg(long)]
        local_copy: Option<PathBuf>,
        /// Accept the local copy's files that have no reference SHA-256 (none in the manifest,
        /// none recorded by a download) once they are complete and decode; results record the
        /// copy as trusted and unverified.
        #[arg(long, requires = "local_copy")]
        trust_local_copy: bool,
        /// Read the manifest from this YAML file instead of the built-in one.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Check every file against its reference SHA-256 without downloading or recording
    /// anything; a file with no reference hash is an error, never pinned.
    Verify {
        /// Dataset name (see `list`).
        name: String,
        /// Check a copy you already have instead of the cache (as `fetch --local-copy`).
        #[arg(long)]
        local_copy: Option<PathBuf>,
        /// Accept the local copy's files that have no reference SHA-256 (as `fetch`).
        #[arg(long, requires = "local_copy")]
        trust_local_copy: bool,
        /// Read the manifest from this YAML file instead of the built-in one.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

fn manifest(name: &str, file: &Option<PathBuf>) -> anyhow::Result<Manifest> {
    Ok(match file {
        Some(path) => Manifest::from_file(path)?,
        None => Manifest::named(name)?,
    })
}

fn source_text(manifest: &Manifest) -> String {
    match &manifest.source {
        Source::Hub { repo, revision } => format!("hub dataset {repo} @ {revision}"),
        Source::Https { base_url } => format!("HTTPS {base_url}"),
    }
}

/// What a fetch or verify did, then where the checked files are and how far they were
/// verified.
fn print_outcome(manifest: &Manifest, got: &Materialized) {
    for note in &got.notes {
        println!("{note}");
    }
    let unverified = got.trusted_unverified.len();
    if unverified == 0 {
        println!(
            "{}: {} file(s) verified by SHA-256 in {}",
            manifest.name,
            got.files.len(),
            got.root.display()
        );
    } else {
        println!(
            "{}: {} file(s) checked in {}; {unverified} of them have no reference SHA-256 and are trusted, unverified (--trust-local-copy)",
            manifest.name,
            got.files.len(),
            got.root.display()
        );
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        let settings = FetchSettings::from_env();
        match args.command {
            Command::List => {
                for m in Manifest::built_in() {
                    let opt_in = if m.requires_opt_in { "  [opt-in]" } else { "" };
                    println!("{:<10} {:<13} {}{opt_in}", m.name, m.task, m.title);
                    println!("{:<10} {:<13} {}", "", "", source_text(&m));
                }
            }
            Command::Info { name } => {
                let m = Manifest::named(&name)?;
                println!(
                    "{} — {}\ntask: {}\nsource: {}",
                    m.name,
                    m.title,
                    m.task,
                    source_text(&m)
                );
                println!("cache: {}", dataset_cache(&settings, &m).display());
                let known = m.files.iter().filter(|f| f.sha256.is_some()).count();
                println!(
                    "files: {} ({known} with a sha256 in the manifest; the others are recorded at the first download)",
                    m.files.len()
                );
                if !m.unpack.is_empty() {
                    println!("unpacked after download: {}", m.unpack.join(", "));
                }
                if m.requires_opt_in {
                    println!("requires an opt-in: --accept-terms");
                }
                for (title, text) in [
                    ("terms", &m.terms),
                    ("citation", &m.citation),
                    ("preprocessing", &m.preprocessing),
                    ("verification of this manifest", &m.verification),
                ] {
                    println!("\n{title}:\n{}", text.trim_end());
                }
            }
            Command::Fetch {
                name,
                accept_terms,
                local_copy,
                trust_local_copy,
                manifest: file,
            } => {
                if name == "all" && local_copy.is_some() {
                    anyhow::bail!(
                        "`--local-copy` holds one dataset; name it instead of `all` (see `datasets list`)"
                    );
                }
                let names: Vec<String> = if name == "all" {
                    Manifest::built_in().into_iter().map(|m| m.name).collect()
                } else {
                    vec![name]
                };
                for name in names {
                    let m = manifest(&name, &file)?;
                    let options = FetchOptions {
                        accept_terms,
                        local_copy: local_copy.clone(),
                        trust_local_copy,
                    };
                    print_outcome(&m, &fetch(&m, &settings, &options)?);
                }
            }
            Command::Verify {
                name,
                local_copy,
                trust_local_copy,
                manifest: file,
            } => {
                let m = manifest(&name, &file)?;
                let options = FetchOptions {
                    accept_terms: false,
                    local_copy,
                    trust_local_copy,
                };
                print_outcome(&m, &verify(&m, &settings, &options)?);
            }
        }
        Ok(())
    })
}
