//! Random placement and flipping of square training patches, shared by both tasks.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::image::{Image, LabelMap};
use crate::rng::{Stream, stream_rng};

/// How training patches are drawn; shared by both tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchSettings {
    /// Side of the square patches.
    pub patch_size: usize,
    /// Patches per epoch.
    pub patches_per_epoch: usize,
    /// Random mirror images.
    pub flips: FlipMode,
    /// Draw one fixed set of `patches_per_epoch` patches (the authors' DRIVE pipeline extracts
    /// its 12,000 patches once) and only reshuffle it each epoch, instead of fresh patches
    /// every epoch.
    pub fixed: bool,
}

impl PatchSettings {
    /// Fresh patches every epoch, with both flips or none: the quickstart tasks' sampling.
    pub fn per_epoch(patch_size: usize, patches_per_epoch: usize, flips: bool) -> Self {
        Self {
            patch_size,
            patches_per_epoch,
            flips: if flips {
                FlipMode::Both
            } else {
                FlipMode::None
            },
            fixed: false,
        }
    }
}

/// Stream indices from here on order the fixed patch set; far above any epoch count, so
/// they never collide with the per-epoch draws.
const FIXED_ORDER_INDEX: u64 = 1 << 40;

/// The patches of one epoch: fresh draws from the epoch's own stream, or, for a fixed set,
/// epoch 0's draws in an order shuffled by the epoch.
pub(crate) fn epoch_patches<T>(
    seed: u64,
    stream: Stream,
    epoch: usize,
    settings: PatchSettings,
    draw: impl FnOnce(&mut ChaCha8Rng) -> Vec<T>,
) -> Vec<T> {
    if settings.fixed {
        let mut patches = draw(&mut stream_rng(seed, stream, 0));
        patches.shuffle(&mut stream_rng(
            seed,
            stream,
            FIXED_ORDER_INDEX + epoch as u64,
        ));
        patches
    } else {
        draw(&mut stream_rng(seed, stream, epoch as u64))
    }
}

/// Where a patch is cut: which source (image or region) and the top-left pixel within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Index into the list of sources the patch was drawn from.
    pub source: usize,
    /// Row of the top-left pixel, relative to the source.
    pub top: usize,
    /// Column of the top-left pixel, relative to the source.
    pub left: usize,
}

/// Draws a `patch` x `patch` window uniformly over all windows that fit in the sources
/// (given as (height, width)); every source must be at least `patch` on each side.
///
/// Uniform over windows rather than over sources, so a larger image contributes
/// proportionally more patches and every pixel neighbourhood of the training data is about
/// equally likely, whatever the mix of image sizes.
pub(crate) fn sample_window(
    rng: &mut impl Rng,
    sources: &[(usize, usize)],
    patch: usize,
) -> Window {
    let positions = |&(height, width): &(usize, usize)| -> u64 {
        ((height - patch + 1) * (width - patch + 1)) as u64
    };
    let total: u64 = sources.iter().map(positions).sum();
    let mut offset = rng.random_range(0..total);
    for (source, size) in sources.iter().enumerate() {
        let count = positions(size);
        if offset < count {
            let columns = (size.1 - patch + 1) as u64;
            return Window {
                source,
                top: (offset / columns) as usize,
                left: (offset % columns) as usize,
            };
        }
        offset -= count;
    }
    unreachable!("offset {offset} is below the total window count {total}")
}

/// Which mirror images to apply to a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Flips {
    /// Mirror left-right.
    pub horizontal: bool,
    /// Mirror top-bottom.
    pub vertical: bool,
}

impl Flips {
    /// `image` with these flips applied.
    pub(crate) fn apply_to_image(self, image: Image) -> Image {
        let image = if self.horizontal {
            image.flip_horizontal()
        } else {
            image
        };
        if self.vertical {
            image.flip_vertical()
        } else {
            image
        }
    }

    /// `labels` with these flips applied.
    pub(crate) fn apply_to_labels(self, labels: LabelMap) -> LabelMap {
        let labels = if self.horizontal {
            labels.flip_horizontal()
        } else {
            labels
        };
        if self.vertical {
            labels.flip_vertical()
        } else {
            labels
        }
    }
}

/// Which random mirror images training patches get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipMode {
    /// No flips.
    None,
    /// Independent fair coin flips for both axes (the quickstart default).
    #[default]
    Both,
    /// Top-bottom only, with probability 1/2: what the authors' ISBI augmentation amounts to,
    /// since `cv2.flip` on their 1xHxW arrays only ever flips the H axis (authors-code.md §7.4).
    Vertical,
}

/// Draws the flips of one patch; consumes no random numbers when flips are off.
pub(crate) fn sample_flips(rng: &mut impl Rng, mode: FlipMode) -> Flips {
    match mode {
        FlipMode::None => Flips::default(),
        FlipMode::Both => Flips {
            horizontal: rng.random_bool(0.5),
            vertical: rng.random_bool(0.5),
        },
        FlipMode::Vertical => Flips {
            horizontal: false,
            vertical: rng.random_bool(0.5),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn windows_fit_and_cover_sources_by_size() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // 3 + 1 window positions of side 2: source 0 should get ~3/4 of the draws.
        let sources = [(2, 4), (2, 2)];
        let mut counts = [0usize; 2];
        let mut corners = std::collections::BTreeSet::new();
        for _ in 0..4000 {
            let window = sample_window(&mut rng, &sources, 2);
            let (height, width) = sources[window.source];
            assert!(window.top + 2 <= height && window.left + 2 <= width);
            counts[window.source] += 1;
            corners.insert((window.source, window.top, window.left));
        }
        assert_eq!(corners.len(), 4, "every position is reachable");
        let share = counts[0] as f64 / 4000.0;
        assert!((share - 0.75).abs() < 0.03, "share {share}");
    }

    #[test]
    fn disabled_flips_are_none() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(sample_flips(&mut rng, FlipMode::None), Flips::default());
        let draws: Vec<Flips> = (0..64)
            .map(|_| sample_flips(&mut rng, FlipMode::Both))
            .collect();
        assert!(draws.iter().any(|f| f.horizontal) && draws.iter().any(|f| !f.horizontal));
        assert!(draws.iter().any(|f| f.vertical) && draws.iter().any(|f| !f.vertical));
        let vertical: Vec<Flips> = (0..64)
            .map(|_| sample_flips(&mut rng, FlipMode::Vertical))
            .collect();
        assert!(vertical.iter().all(|f| !f.horizontal));
        assert!(vertical.iter().any(|f| f.vertical) && vertical.iter().any(|f| !f.vertical));
    }
}
