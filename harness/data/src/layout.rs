//! How a held-out image is fed to the network and how the outputs are put back together.
//!
//! The quickstart feeds each evaluation image whole. The paper's benchmarks do not: DRIVE is cut
//! into an ordered grid of 48x48 tiles (156 per image) that are recomposed after inference, and
//! BSD68/CBSD68 images (321x481, not multiples of 16) are evaluated as four overlapping corner
//! patches whose quadrants are stitched back (authors-code.md §7.3, §8.1). An [`EvalLayout`]
//! describes all three: which equal-sized tiles to cut from the (optionally padded) input, and
//! which rectangle of each tile's output lands where in the recomposed output.

use crate::image::Image;

/// How the input is padded before tiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No padding: the tiles lie inside the image.
    None,
    /// Mirror padding at the bottom and right (numpy `reflect`: the edge pixel is not
    /// repeated), up to the given size. Used for whole-image evaluation of sides that are not
    /// multiples of the network's size multiple.
    Reflect {
        /// Padded height.
        height: usize,
        /// Padded width.
        width: usize,
    },
}

/// One rectangle copied from a tile's output into the recomposed output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paste {
    /// Index of the tile.
    pub tile: usize,
    /// Top-left of the rectangle within the tile.
    pub from: (usize, usize),
    /// Top-left of the rectangle within the recomposed output.
    pub to: (usize, usize),
    /// Height and width of the rectangle.
    pub size: (usize, usize),
}

/// Tiles of a held-out image and the recipe to stitch their outputs back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalLayout {
    /// How the input is padded before the tiles are cut.
    pub padding: Padding,
    /// Top-left corners of the tiles in the padded input.
    pub tiles: Vec<(usize, usize)>,
    /// Height and width shared by all tiles (so they form one batch).
    pub tile_size: (usize, usize),
    /// Where each tile's output goes.
    pub pastes: Vec<Paste>,
    /// Height and width of the recomposed output (the size the truth has).
    pub output_size: (usize, usize),
}

impl EvalLayout {
    /// The whole image as one tile.
    pub fn whole(height: usize, width: usize) -> Self {
        Self {
            padding: Padding::None,
            tiles: vec![(0, 0)],
            tile_size: (height, width),
            pastes: vec![Paste {
                tile: 0,
                from: (0, 0),
                to: (0, 0),
                size: (height, width),
            }],
            output_size: (height, width),
        }
    }

    /// The whole image as one tile, mirror-padded at the bottom and right up to multiples of
    /// `multiple`; the output is cropped back to `height` x `width`.
    pub fn whole_padded(height: usize, width: usize, multiple: usize) -> Self {
        let padded = (
            height.div_ceil(multiple) * multiple,
            width.div_ceil(multiple) * multiple,
        );
        let padding = if padded == (height, width) {
            Padding::None
        } else {
            Padding::Reflect {
                height: padded.0,
                width: padded.1,
            }
        };
        Self {
            padding,
            tile_size: padded,
            ..Self::whole(height, width)
        }
    }

    /// Non-overlapping `tile` x `tile` tiles in row-major order over the top-left
    /// `height / tile * tile` by `width / tile * tile` region (the authors' ordered DRIVE
    /// extraction, which floors), recomposed to that region.
    pub fn grid(height: usize, width: usize, tile: usize) -> Self {
        let (rows, columns) = (height / tile, width / tile);
        let tiles: Vec<(usize, usize)> = (0..rows)
            .flat_map(|row| (0..columns).map(move |column| (row * tile, column * tile)))
            .collect();
        let pastes = tiles
            .iter()
            .enumerate()
            .map(|(index, &corner)| Paste {
                tile: index,
                from: (0, 0),
                to: corner,
                size: (tile, tile),
            })
            .collect();
        Self {
            padding: Padding::None,
            tiles,
            tile_size: (tile, tile),
            pastes,
            output_size: (rows * tile, columns * tile),
        }
    }

    /// The authors' four corner patches of `patch_height` x `patch_width` (top-left,
    /// top-right, bottom-left, bottom-right); each fills its quadrant of the output, the
    /// quadrants split at (`height / 2`, `width / 2`). Each patch must cover its quadrant.
    pub fn corners(height: usize, width: usize, patch_height: usize, patch_width: usize) -> Self {
        let (mid_y, mid_x) = (height / 2, width / 2);
        let (bottom, right) = (height - patch_height, width - patch_width);
        let tiles = vec![(0, 0), (0, right), (bottom, 0), (bottom, right)];
        let quadrants = [
            ((0, 0), (mid_y, mid_x)),
            ((0, mid_x), (mid_y, width - mid_x)),
            ((mid_y, 0), (height - mid_y, mid_x)),
            ((mid_y, mid_x), (height - mid_y, width - mid_x)),
        ];
        let pastes = quadrants
            .iter()
            .zip(&tiles)
            .enumerate()
            .map(|(index, (&(to, size), &(top, left)))| Paste {
                tile: index,
                from: (to.0 - top, to.1 - left),
                to,
                size,
            })
            .collect();
        Self {
            padding: Padding::None,
            tiles,
            tile_size: (patch_height, patch_width),
            pastes,
            output_size: (height, width),
        }
    }

    /// The tiles of `input`, padded first if the layout says so.
    pub fn tiles_of(&self, input: &Image) -> Vec<Image> {
        let padded = match self.padding {
            Padding::None => input.clone(),
            Padding::Reflect { height, width } => reflect_pad(input, height, width),
        };
        let (height, width) = self.tile_size;
        self.tiles
            .iter()
            .map(|&(top, left)| padded.crop(top, left, height, width))
            .collect()
    }

    /// Stitches the network outputs of all tiles (`tiles * channels * tile_h * tile_w` values,
    /// tile-major, as the batch came out) into one `channels x output_h x output_w` output.
    pub fn recompose(&self, outputs: &[f32], channels: usize) -> Vec<f32> {
        let (tile_h, tile_w) = self.tile_size;
        let (out_h, out_w) = self.output_size;
        let tile_len = channels * tile_h * tile_w;
        let mut result = vec![0.0; channels * out_h * out_w];
        for paste in &self.pastes {
            let tile = &outputs[paste.tile * tile_len..(paste.tile + 1) * tile_len];
            for c in 0..channels {
                for row in 0..paste.size.0 {
                    let source = (c * tile_h + paste.from.0 + row) * tile_w + paste.from.1;
                    let target = (c * out_h + paste.to.0 + row) * out_w + paste.to.1;
                    result[target..target + paste.size.1]
                        .copy_from_slice(&tile[source..source + paste.size.1]);
                }
            }
        }
        result
    }
}

/// `image` mirror-padded at the bottom and right to `height` x `width` (numpy `reflect`).
///
/// # Panics
/// If the padding exceeds the image side minus one (a mirror has nothing left to reflect).
pub fn reflect_pad(image: &Image, height: usize, width: usize) -> Image {
    assert!(
        height < 2 * image.height && width < 2 * image.width,
        "cannot mirror-pad {}x{} to {height}x{width}",
        image.height,
        image.width
    );
    let mirror = |index: usize, size: usize| {
        if index < size {
            index
        } else {
            2 * (size - 1) - index
        }
    };
    let mut data = Vec::with_capacity(image.channels * height * width);
    for c in 0..image.channels {
        for y in 0..height {
            let row = (c * image.height + mirror(y, image.height)) * image.width;
            data.extend((0..width).map(|x| image.data[row + mirror(x, image.width)]));
        }
    }
    Image {
        channels: image.channels,
        height,
        width,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(channels: usize, height: usize, width: usize) -> Image {
        let data = (0..channels * height * width).map(|v| v as f32).collect();
        Image::new(channels, height, width, data).unwrap()
    }

    /// Tiling then recomposing an identity "network" must give the input back, for every
    /// layout that covers its output.
    #[test]
    fn identity_round_trips() {
        let image = ramp(2, 21, 30);
        for layout in [
            EvalLayout::whole(21, 30),
            EvalLayout::whole_padded(21, 30, 8),
            EvalLayout::corners(21, 30, 16, 16),
            EvalLayout::corners(21, 30, 11, 15),
        ] {
            let tiles = layout.tiles_of(&image);
            let flat: Vec<f32> = tiles.iter().flat_map(|t| t.data.clone()).collect();
            assert_eq!(layout.recompose(&flat, 2), image.data, "{layout:?}");
        }
    }

    #[test]
    fn grid_covers_the_floored_region_in_row_major_order() {
        let layout = EvalLayout::grid(100, 110, 48);
        assert_eq!(layout.tiles, vec![(0, 0), (0, 48), (48, 0), (48, 48)]);
        assert_eq!(layout.output_size, (96, 96));
        let image = ramp(1, 100, 110);
        let flat: Vec<f32> = layout
            .tiles_of(&image)
            .iter()
            .flat_map(|t| t.data.clone())
            .collect();
        assert_eq!(layout.recompose(&flat, 1), image.crop(0, 0, 96, 96).data);
    }

    /// The corner patches of the authors' stitching: the top-right quadrant comes from the
    /// top-right patch, which starts at `width - patch_width`.
    #[test]
    fn corners_take_each_quadrant_from_its_own_patch() {
        let layout = EvalLayout::corners(321, 481, 176, 256);
        assert_eq!(layout.tiles[1], (0, 225));
        assert_eq!(layout.pastes[1].from, (0, 240 - 225));
        assert_eq!(layout.pastes[3].size, (161, 241));
        // Mark each tile's output with its index: every output pixel must come from the
        // patch of its quadrant.
        let tile_len = 176 * 256;
        let outputs: Vec<f32> = (0..4).flat_map(|t| vec![t as f32; tile_len]).collect();
        let stitched = layout.recompose(&outputs, 1);
        assert_eq!(stitched[0], 0.0);
        assert_eq!(stitched[480], 1.0);
        assert_eq!(stitched[320 * 481], 2.0);
        assert_eq!(stitched[321 * 481 - 1], 3.0);
        // The quadrants meet at row 160 (= 321 / 2) and column 240 (= 481 / 2).
        assert_eq!(stitched[159 * 481 + 239], 0.0);
        assert_eq!(stitched[159 * 481 + 240], 1.0);
        assert_eq!(stitched[160 * 481 + 239], 2.0);
        assert_eq!(stitched[160 * 481 + 240], 3.0);
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let image = Image::new(1, 1, 3, vec![1.0, 2.0, 3.0]).unwrap();
        let wide = reflect_pad(&image, 1, 5);
        assert_eq!(wide.data, vec![1.0, 2.0, 3.0, 2.0, 1.0]);
    }
}
