//! Weights to and from PyTorch, in the authors' parameter naming (`conv1` .. `conv19`,
//! `convtranspose1` .. `convtranspose4`, each with `weight` and `bias`).
//!
//! Conv and transposed-conv weight layouts are PyTorch's in burn too ([out, in, k, k] and
//! [in, out, k, k]), so only the names change: `convs.{i}` ↔ `conv{i+1}`, `ups.{k}` ↔
//! `convtranspose{k+1}`, `head` ↔ `conv{4·depth+3}`. Reading goes through burn-store, which
//! reads safetensors files and PyTorch state dicts (`.pt`/`.pth`, plain or under a top-level
//! `state_dict` / `model` key).

use std::path::Path;

use burn::tensor::Device;
use burn_store::{ModuleSnapshot, PytorchStore, SafetensorsStore};

use crate::model::{UNet, UNetConfig};
use crate::{Error, Result};

/// `(pattern, replacement)` pairs renaming burn paths to the authors' names.
fn to_authors(model: &UNet) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = (0..model.convs.len())
        .map(|i| (format!(r"^convs\.{i}\."), format!("conv{}.", i + 1)))
        .collect();
    pairs.extend(
        (0..model.ups.len()).map(|k| (format!(r"^ups\.{k}\."), format!("convtranspose{}.", k + 1))),
    );
    pairs.push((r"^head\.".into(), format!("conv{}.", model.convs.len() + 1)));
    pairs
}

/// The inverse renaming, authors' names to burn paths.
fn from_authors(model: &UNet) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = (0..model.convs.len())
        .map(|i| (format!(r"^conv{}\.", i + 1), format!("convs.{i}.")))
        .collect();
    pairs.extend(
        (0..model.ups.len()).map(|k| (format!(r"^convtranspose{}\.", k + 1), format!("ups.{k}."))),
    );
    pairs.push((format!(r"^conv{}\.", model.convs.len() + 1), "head.".into()));
    pairs
}

/// Write `model`'s weights to a safetensors file in the authors' naming.
pub fn export_safetensors(model: &UNet, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path)
        .metadata("format", "pt")
        .metadata("producer", "spiking-unet-harness");
    for (pattern, replacement) in to_authors(model) {
        store = store.with_key_remapping(pattern, replacement);
    }
    model
        .save_into(&mut store)
        .map_err(|err| Error::Weights(format!("writing {}: {err}", path.display())))
}

/// Build a U-Net of shape `config` and load weights in the authors' naming from a safetensors
/// file or a PyTorch state dict (chosen by extension: `.safetensors`, `.pt`, `.pth`).
pub fn import_weights(config: &UNetConfig, path: &Path, device: &Device) -> Result<UNet> {
    let mut model = config.init(device)?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let result = match extension {
        "safetensors" => {
            let mut store = SafetensorsStore::from_file(path);
            for (pattern, replacement) in from_authors(&model) {
                store = store.with_key_remapping(pattern, replacement);
            }
            model.load_from(&mut store).map_err(|err| err.to_string())
        }
        "pt" | "pth" => {
            let mut store = PytorchStore::from_file(path);
            for (pattern, replacement) in from_authors(&model) {
                store = store.with_key_remapping(pattern, replacement);
            }
            model.load_from(&mut store).map_err(|err| err.to_string())
        }
        other => {
            return Err(Error::Weights(format!(
                "{}: unknown weight format `.{other}`; allowed: .safetensors, .pt, .pth",
                path.display()
            )));
        }
    }
    .map_err(|err| {
        // burn-store lists every mismatching tensor; the first few say enough.
        let mut detail: String = err.chars().take(400).collect();
        if err.len() > detail.len() {
            detail.push_str(" ...");
        }
        Error::Weights(format!(
            "{} does not match a U-Net of width {} and depth {}: {detail}",
            path.display(),
            config.width,
            config.depth
        ))
    })?;
    if !result.missing.is_empty() || !result.errors.is_empty() || !result.unused.is_empty() {
        let missing: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
        return Err(Error::Weights(format!(
            "{} does not match a U-Net of width {} and depth {}: missing {missing:?}, unexpected {:?}, errors {:?}",
            path.display(),
            config.width,
            config.depth,
            result.unused,
            result
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        )));
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Head;
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn safetensors_round_trip_in_the_authors_naming() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        device.seed(3);
        let config = UNetConfig {
            in_channels: 1,
            out_channels: 2,
            width: 4,
            depth: 4,
            head: Head::Logits,
        };
        let model = config.init(&device).expect("valid config");
        let dir = std::env::temp_dir().join(format!("spiking-unet-interop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        let path = dir.join("unet.safetensors");
        export_safetensors(&model, &path).expect("exported");

        // The file speaks the authors' names.
        let bytes = std::fs::read(&path).expect("written");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        let header = String::from_utf8_lossy(&bytes[8..8 + header_len]).to_string();
        for name in [
            "conv1.weight",
            "conv18.bias",
            "conv19.weight",
            "convtranspose1.weight",
            "convtranspose4.bias",
        ] {
            assert!(
                header.contains(&format!("\"{name}\"")),
                "{name} in {header}"
            );
        }
        assert!(!header.contains("convs."), "no burn paths leak: {header}");

        let back = import_weights(&config, &path, &device).expect("imported");
        let x = Tensor::<4>::random([1, 1, 32, 32], Distribution::Default, &device);
        let diff = (model.forward(x.clone()) - back.forward(x))
            .abs()
            .max()
            .into_scalar::<f32>();
        assert_eq!(diff, 0.0, "identical weights give identical outputs");

        let wrong = UNetConfig { width: 8, ..config };
        let err = import_weights(&wrong, &path, &device).expect_err("shape mismatch");
        assert!(err.to_string().contains("does not match"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
