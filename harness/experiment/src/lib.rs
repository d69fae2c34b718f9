//! Experiments of the Spiking-UNet harness: the YAML schema ([`config`], [`sweep`]), the plan
//! resolved once from it ([`plan`], [`networks`]), where artifacts live and what their
//! manifests say ([`layout`], [`manifest`], [`artifacts`]), and the stages.
//!
//! This is the crate the binaries call. A binary loads a config, builds a [`plan::Plan`] and
//! hands each sweep point to a stage — [`train`], [`convert`], [`finetune`], [`evaluate`],
//! [`report`] — or all of them to [`reproduce`]. Stages are siblings: none imports another;
//! what two stages share lives in its own module ([`training`] for the epoch loop, [`scoring`]
//! for model selection, [`task`] for data as tensors). The maths lives in `spiking-unet-core`
//! and the images in `spiking-unet-data`.
#![warn(missing_docs)]

pub mod artifacts;
pub mod bench;
pub mod config;
mod error;
pub mod fidelity;
pub mod integrity;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod networks;
pub mod plan;
pub mod results;
pub mod scoring;
pub mod sweep;
pub mod task;
pub mod training;

// The stages.
pub mod convert;
pub mod evaluate;
pub mod finetune;
pub mod report;
pub mod reproduce;
pub mod train;

pub use error::{Error, Result};

/// The stage modules. None of them may name another (checked by a test): what they share
/// belongs in a module of its own.
pub const STAGE_MODULES: [&str; 5] = ["train", "convert", "finetune", "evaluate", "report"];

#[cfg(test)]
mod tests {
    /// Whether `text` names module `module` as a path segment after `crate::`, `super::` or
    /// inside a `crate::{...}` list (`crate::training` does not name `train`).
    fn names_module(text: &str, module: &str) -> bool {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        text.match_indices(module).any(|(at, _)| {
            let before = text[..at].trim_end_matches(|c: char| c.is_whitespace());
            let after = text[at + module.len()..].chars().next();
            let whole_word = !before.ends_with(word) && !after.is_some_and(word);
            let in_path = before.ends_with("crate::")
                || before.ends_with("super::")
                || ((before.ends_with('{') || before.ends_with(','))
                    && text[..at].rfind("crate::{") > text[..at].rfind('}'));
            whole_word && in_path
        })
    }

    #[test]
    fn the_import_check_sees_imports_and_only_imports() {
        assert!(names_module("use crate::train;", "train"));
        assert!(names_module("use crate::{Error, train};", "train"));
        assert!(names_module("crate::train::train(point)", "train"));
        assert!(!names_module("use crate::training::EpochLoop;", "train"));
        assert!(!names_module(
            "use crate::{Error, Result};\nlet train = 1;",
            "train"
        ));
    }

    #[test]
    fn no_stage_module_imports_another() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for stage in super::STAGE_MODULES {
            let text = std::fs::read_to_string(src.join(format!("{stage}.rs"))).expect("readable");
            for other in super::STAGE_MODULES.iter().filter(|&&o| o != stage) {
                assert!(
                    !names_module(&text, other),
                    "stage `{stage}` names stage `{other}`; move what they share into a module \
                     of its own"
                );
            }
        }
    }
}
