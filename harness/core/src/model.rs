//! The U-Net of the paper (authors-code §1): average pooling, transposed-conv up-sampling, no
//! batch norm, every conv with a bias, a ReLU after every conv but the head.
//!
//! The forward pass is written once, in [`UNet::forward_with`], and takes the activation as a
//! callback keyed by [`Site`]. The ANN passes `relu`; calibration records statistics through it;
//! the spiking simulator later puts a neuron layer at every site. One topology, many uses, so the
//! converted network can never drift from the trained one.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What the network's last layer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// Denoising: a 3x3 conv predicting the noise residual (the clean estimate is input − output).
    Residual,
    /// Segmentation: a 1x1 conv producing class logits.
    Logits,
}

/// Hyper-parameters of a [`UNet`]; `init` is the only way to build one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UNetConfig {
    /// Input channels (1 gray, 3 colour).
    pub in_channels: usize,
    /// Output channels (image channels for denoising, classes for segmentation).
    pub out_channels: usize,
    /// Channels of the first level; level `l` has `width · 2^l` (paper: 64).
    pub width: usize,
    /// Number of pooling levels (paper: 4).
    pub depth: usize,
    /// Head kind.
    pub head: Head,
}

/// Where an activation sits in the network; the spiking network puts a neuron layer at each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// After conv `n` (1-based, the authors' `conv<n>` / `relu<n>`); never the head.
    Conv(usize),
    /// After transposed conv `n` (1-based, the authors' `relu_convtranpose<n>`).
    Up(usize),
    /// After average pool `n` (1-based). Identity in the ANN; the authors insert a neuron here.
    Pool(usize),
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Site::Conv(n) => write!(f, "relu{n}"),
            Site::Up(n) => write!(f, "relu_convtranspose{n}"),
            Site::Pool(n) => write!(f, "pool{n}"),
        }
    }
}

impl UNetConfig {
    /// Number of convs including the head: two per encoder level, two for the bottleneck, two per
    /// decoder level, one head (19 for depth 4, as conv1..conv19).
    pub fn num_convs(&self) -> usize {
        4 * self.depth + 3
    }

    /// Input sides must be multiples of this (each pool halves them, each up-sampling doubles).
    pub fn size_multiple(&self) -> usize {
        1 << self.depth
    }

    /// Check the configuration (width and channels at least 1). Depth 0 is allowed: a plain
    /// chain conv1, conv2, head, useful to test conversion without pools or concatenations.
    pub fn validate(&self) -> Result<()> {
        if self.width == 0 || self.in_channels == 0 || self.out_channels == 0 {
            return Err(Error::InvalidModel(format!(
                "width, in_channels and out_channels must all be >= 1, got {self:?}"
            )));
        }
        Ok(())
    }

    /// Channels produced by conv `n` (1-based, head included).
    fn conv_channels(&self, n: usize) -> [usize; 2] {
        let d = self.depth;
        let w = |level: usize| self.width << level;
        let encoder_convs = 2 * (d + 1);
        if n == self.num_convs() {
            return [self.width, self.out_channels];
        }
        if n <= encoder_convs {
            let level = (n - 1) / 2;
            let input = if n == 1 {
                self.in_channels
            } else if n % 2 == 1 {
                w(level - 1)
            } else {
                w(level)
            };
            return [input, w(level)];
        }
        // Decoder: level counts down from d-1 to 0; the first conv of a level reads the
        // concatenation (skip, up-sampled), hence twice the level width.
        let k = n - encoder_convs - 1;
        let level = d - 1 - k / 2;
        if k.is_multiple_of(2) {
            [2 * w(level), w(level)]
        } else {
            [w(level), w(level)]
        }
    }

    /// Build the network with weights drawn on the CPU from `seed`, then placed on `device`:
    /// the same initial weights on every backend, so that a run on wgpu starts where the flex
    /// run of the same config does.
    ///
    /// burn initialises a parameter lazily, at its first use, from the random stream of the
    /// device it is on by then. A forward pass on the CPU draws every one, in the order of use
    /// (the order in which a first training step on the CPU would draw them), before the move.
    pub fn init_seeded(&self, seed: u64, device: &Device) -> Result<UNet> {
        let cpu = Device::flex().autodiff();
        cpu.seed(seed);
        let model = self.init(&cpu)?;
        let side = 1 << self.depth;
        model.forward(Tensor::zeros([1, self.in_channels, side, side], &cpu));
        Ok(model.fork(device))
    }

    /// Build the network with freshly initialised weights (burn's defaults, PyTorch's Kaiming
    /// uniform), drawn from the device's random stream: seed the device first for determinism.
    pub fn init(&self, device: &Device) -> Result<UNet> {
        self.validate()?;
        let same = PaddingConfig2d::Explicit(1, 1, 1, 1);
        let convs = (1..self.num_convs())
            .map(|n| {
                Conv2dConfig::new(self.conv_channels(n), [3, 3])
                    .with_padding(same.clone())
                    .init(device)
            })
            .collect();
        let head_kernel = match self.head {
            Head::Residual => 3,
            Head::Logits => 1,
        };
        let head_padding = match self.head {
            Head::Residual => same,
            Head::Logits => PaddingConfig2d::Valid,
        };
        let head = Conv2dConfig::new(self.conv_channels(self.num_convs()), [head_kernel; 2])
            .with_padding(head_padding)
            .init(device);
        let ups = (0..self.depth)
            .map(|k| {
                let level = self.depth - 1 - k;
                ConvTranspose2dConfig::new([self.width << (level + 1), self.width << level], [3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_padding_out([1, 1])
                    .init(device)
            })
            .collect();
        Ok(UNet {
            convs,
            ups,
            head,
            pool: AvgPool2dConfig::new([2, 2]).init(),
        })
    }
}

/// The paper's U-Net. Build it with [`UNetConfig::init`].
#[derive(Module, Debug)]
pub struct UNet {
    /// conv1 .. conv(4·depth+2) in the authors' numbering (the head is separate).
    pub convs: Vec<Conv2d>,
    /// convtranspose1 .. convtranspose(depth), deepest first.
    pub ups: Vec<ConvTranspose2d>,
    /// The analog output layer (conv19 at depth 4); never followed by an activation.
    pub head: Conv2d,
    pool: AvgPool2d,
}

impl UNet {
    /// Number of pooling levels.
    pub fn depth(&self) -> usize {
        self.ups.len()
    }

    /// Check that an input of shape `[batch, channels, height, width]` fits the network.
    pub fn check_input(&self, shape: [usize; 4]) -> Result<()> {
        let multiple = 1usize << self.depth();
        let [_, c, h, w] = shape;
        let expected = self.convs[0].weight.shape().dims::<4>()[1];
        if c != expected {
            return Err(Error::InputShape(format!(
                "the network takes {expected} input channels, got {c}"
            )));
        }
        if h % multiple != 0 || w % multiple != 0 || h == 0 || w == 0 {
            return Err(Error::InputShape(format!(
                "height and width must be positive multiples of 2^depth = {multiple} \
                 (each of the {} poolings halves them), got {h}x{w}; crop or pad the image",
                self.depth()
            )));
        }
        Ok(())
    }

    /// The ANN forward pass.
    ///
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`, sides multiples of `2^depth`
    /// - output: `[batch, out_channels, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_with(self.convs[0].forward(x), &mut ann_activation)
    }

    /// Everything after conv1, with `activation` applied at every [`Site`].
    ///
    /// Starting after conv1 is what the spiking simulation needs: conv1 of the static input is
    /// computed once and injected as a current at every time step (authors-code §3.7).
    ///
    /// # Shapes
    /// - `first`: conv1's output, `[batch, width, height, width_px]`
    /// - output: the head's output, `[batch, out_channels, height, width_px]`
    pub fn forward_with(
        &self,
        first: Tensor<4>,
        activation: &mut dyn FnMut(Site, Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        let depth = self.depth();
        let mut skips = Vec::with_capacity(depth);
        let mut x = activation(Site::Conv(1), first);
        let mut n = 2; // the next conv number
        for level in 0..=depth {
            if level > 0 {
                x = activation(Site::Pool(level), self.pool.forward(x));
                x = activation(Site::Conv(n), self.convs[n - 1].forward(x));
                n += 1;
            }
            x = activation(Site::Conv(n), self.convs[n - 1].forward(x));
            n += 1;
            if level < depth {
                skips.push(x.clone());
            }
        }
        for (k, up) in self.ups.iter().enumerate() {
            let upsampled = activation(Site::Up(k + 1), up.forward(x));
            // The authors concatenate skip first, up-sampled second (authors-code §1.1).
            let skip = skips.pop().expect("one skip per level is pushed above");
            x = Tensor::cat(vec![skip, upsampled], 1); // [b, 2c, h, w]
            x = activation(Site::Conv(n), self.convs[n - 1].forward(x));
            n += 1;
            x = activation(Site::Conv(n), self.convs[n - 1].forward(x));
            n += 1;
        }
        standard_layout(self.head.forward(x))
    }

    /// All activation sites in the order the forward pass visits them.
    pub fn sites(&self) -> Vec<Site> {
        let depth = self.depth();
        let mut sites = vec![Site::Conv(1)];
        let mut n = 2;
        for level in 0..=depth {
            if level > 0 {
                sites.push(Site::Pool(level));
                sites.push(Site::Conv(n));
                n += 1;
            }
            sites.push(Site::Conv(n));
            n += 1;
        }
        for k in 0..depth {
            sites.extend([Site::Up(k + 1), Site::Conv(n), Site::Conv(n + 1)]);
            n += 2;
        }
        sites
    }

    /// The `[channels, height, width]` of every site's activation for a `height x width` input,
    /// in visiting order.
    pub fn site_shapes(&self, height: usize, width: usize) -> Vec<(Site, [usize; 3])> {
        let mut level = 0;
        let mut channels = 0;
        self.sites()
            .into_iter()
            .map(|site| {
                match site {
                    Site::Conv(n) => channels = self.convs[n - 1].weight.dims()[0],
                    Site::Up(k) => {
                        level -= 1;
                        channels = self.ups[k - 1].weight.dims()[1];
                    }
                    Site::Pool(_) => level += 1,
                }
                (site, [channels, height >> level, width >> level])
            })
            .collect()
    }

    /// Neurons per sample at every site.
    pub fn site_neuron_counts(
        &self,
        height: usize,
        width: usize,
    ) -> std::collections::BTreeMap<Site, usize> {
        self.site_shapes(height, width)
            .into_iter()
            .map(|(site, [c, h, w])| (site, c * h * w))
            .collect()
    }

    /// Activation values per sample summed over all sites (a memory estimate).
    pub fn site_elements(&self, height: usize, width: usize) -> u64 {
        self.site_neuron_counts(height, width)
            .values()
            .map(|&n| n as u64)
            .sum()
    }

    /// Multiply-accumulate operations of one forward pass on a `height x width` input, counted
    /// as *performed*: the kernel multiply-adds (a stride-2 transposed conv applies each tap once
    /// per input pixel) plus one add per bias and output element; pooling is not counted. See
    /// [`UNet::macs_thop`] for the count the authors report.
    pub fn macs(&self, height: usize, width: usize) -> u64 {
        self.count_layers(height, width, |layer| match layer {
            // (output elements) x (taps x input channels + 1 bias add)
            Layer::Conv {
                weight: [cout, cin, kh, kw],
                output: (h, w),
            } => (kh * kw * cin * cout + cout) * h * w,
            // Every tap once per input pixel, then one bias add per output element.
            Layer::Up {
                weight: [cin, cout, kh, kw],
                output: (h, w),
            } => kh * kw * cin * cout * (h / 2) * (w / 2) + cout * h * w,
            Layer::Pool { .. } => 0,
        })
    }

    /// Operations of one forward pass on a `height x width` input as thop 0.1.1 counts them,
    /// which is what the authors' energy figures use (authors-code §4.4): every conv and
    /// transposed conv costs (output elements) x (input channels) x (kernel taps), so a
    /// transposed conv is counted per *output* pixel; biases are not counted; an average pool
    /// costs one operation per output element. Pinned to thop's own numbers in the tests
    /// (`scripts/reference/thop_macs.py`).
    pub fn macs_thop(&self, height: usize, width: usize) -> u64 {
        self.count_layers(height, width, |layer| match layer {
            Layer::Conv {
                weight: [cout, cin, kh, kw],
                output: (h, w),
            } => cout * h * w * cin * kh * kw,
            Layer::Up {
                weight: [cin, cout, kh, kw],
                output: (h, w),
            } => cout * h * w * cin * kh * kw,
            Layer::Pool {
                channels,
                output: (h, w),
            } => channels * h * w,
        })
    }

    /// The sum of `cost` over every conv, pool and transposed conv of a forward pass on a
    /// `height x width` input, in forward order.
    fn count_layers(&self, height: usize, width: usize, cost: impl Fn(Layer) -> usize) -> u64 {
        let conv = |c: &Conv2d, output| Layer::Conv {
            weight: c.weight.shape().dims::<4>(),
            output,
        };
        let depth = self.depth();
        let mut total = 0;
        let mut n = 1;
        for level in 0..=depth {
            let (h, w) = (height >> level, width >> level);
            total += cost(conv(&self.convs[n - 1], (h, w))) + cost(conv(&self.convs[n], (h, w)));
            if level < depth {
                let [channels, ..] = self.convs[n].weight.shape().dims::<4>();
                total += cost(Layer::Pool {
                    channels,
                    output: (h / 2, w / 2),
                });
            }
            n += 2;
        }
        for (k, up) in self.ups.iter().enumerate() {
            let level = depth - 1 - k;
            let (h, w) = (height >> level, width >> level);
            total += cost(Layer::Up {
                weight: up.weight.shape().dims::<4>(),
                output: (h, w),
            });
            total += cost(conv(&self.convs[n - 1], (h, w))) + cost(conv(&self.convs[n], (h, w)));
            n += 2;
        }
        (total + cost(conv(&self.head, (height, width)))) as u64
    }
}

/// One layer of a forward pass, as the operation counts see it: weight shape (burn's layout)
/// and output size.
enum Layer {
    /// A convolution: weight `[out, in, kh, kw]`.
    Conv {
        weight: [usize; 4],
        output: (usize, usize),
    },
    /// A stride-2 transposed convolution: weight `[in, out, kh, kw]`.
    Up {
        weight: [usize; 4],
        output: (usize, usize),
    },
    /// A 2x2 average pool of `channels` channels.
    Pool {
        channels: usize,
        output: (usize, usize),
    },
}

/// The ANN's activation: ReLU after convs, identity after pools.
pub(crate) fn ann_activation(site: Site, x: Tensor<4>) -> Tensor<4> {
    match site {
        Site::Pool(_) => x,
        Site::Conv(_) | Site::Up(_) => relu(x),
    }
}

/// Works around a fault of burn 0.22.1 on its GPU backends (found on wgpu, lavapipe): a
/// convolution's output comes in a layout that some later operations misread. With one output
/// channel, `head(x) − target` came out wrong (an MSE of 1.25–1.40, varying from run to run,
/// where flex gives 0.426 on the same weights) while `target − head(x)` was right: that is why
/// the gray denoiser did not learn on wgpu. With two, splitting the batch axis of the head's
/// output (`reshape([steps, batch, ..])`, as the time-batched simulation does) summed the wrong
/// elements. Flattening each sample and back gives the tensor the standard layout (a copy on
/// wgpu, of the head's few channels only; a free view on the CPU backends).
/// `harness/core/tests/wgpu.rs` holds the cases.
fn standard_layout(output: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = output.dims();
    output
        .reshape([batch, channels * height * width])
        .reshape([batch, channels, height, width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn config(in_channels: usize, out_channels: usize, width: usize, head: Head) -> UNetConfig {
        UNetConfig {
            in_channels,
            out_channels,
            width,
            depth: 4,
            head,
        }
    }

    #[test]
    fn paper_parameter_counts() {
        let _rng = crate::random_stream();
        // authors-code §1.1: the counts of the released PyTorch models.
        let device = Device::flex();
        let cases = [
            (config(1, 1, 64, Head::Residual), 34_512_705),
            (config(3, 3, 64, Head::Residual), 34_515_011),
            (config(1, 2, 64, Head::Logits), 34_512_258),
            (config(3, 32, 64, Head::Logits), 34_515_360),
        ];
        for (cfg, expected) in cases {
            let model = cfg.init(&device).expect("valid config");
            assert_eq!(model.num_params(), expected, "{cfg:?}");
        }
    }

    #[test]
    fn thop_counts_match_thop_on_the_authors_network() {
        // Computed once by thop 0.1.1 on the authors' network rebuilt in PyTorch
        // (scripts/reference/thop_macs.py); exact integers, so the match is exact.
        let _rng = crate::random_stream();
        let reference: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/data/thop_macs.json")).expect("JSON");
        assert_eq!(reference.len(), 4);
        let device = Device::flex();
        for case in &reference {
            let number = |key: &str| case[key].as_u64().expect("a number") as usize;
            let head = match number("head_kernel") {
                3 => Head::Residual,
                _ => Head::Logits,
            };
            let model = config(number("in_channels"), number("out_channels"), 64, head)
                .init(&device)
                .expect("valid config");
            let (h, w) = (number("height"), number("width_px"));
            let thop = case["thop_macs"].as_u64().expect("a number");
            assert_eq!(model.macs_thop(h, w), thop, "{case}");
            // The two conventions differ by about 1.28 on the width-64 network.
            let ratio = thop as f64 / model.macs(h, w) as f64;
            assert!((1.2..1.35).contains(&ratio), "thop / performed = {ratio}");
        }
        // The count as performed, by hand from the layer list (authors-code §1.1) for the gray
        // denoiser: Σ (9·cin·cout + cout)·h·w over convs, 9·cin·cout·(h/2)(w/2) + cout·h·w per
        // transposed conv.
        let gray = config(1, 1, 64, Head::Residual)
            .init(&device)
            .expect("valid config");
        for (size, performed) in [(48, 1_787_685_120u64), (512, 203_398_840_320)] {
            assert_eq!(gray.macs(size, size), performed);
        }
    }

    #[test]
    fn output_keeps_input_size_and_sites_match_forward() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        device.seed(1);
        let model = config(1, 2, 8, Head::Logits)
            .init(&device)
            .expect("valid config");
        let x = Tensor::<4>::random([2, 1, 32, 48], Distribution::Default, &device);
        let mut visited = Vec::new();
        let y = model.forward_with(model.convs[0].forward(x.clone()), &mut |site, t| {
            visited.push(site);
            ann_activation(site, t)
        });
        assert_eq!(y.dims(), [2, 2, 32, 48]);
        assert_eq!(visited, model.sites());
        assert_eq!(
            visited.len(),
            26,
            "22 ReLUs + 4 pool sites, as the authors' 26 neuron layers"
        );
        let direct = model.forward(x);
        let diff = (direct - y).abs().max().into_scalar::<f32>();
        assert_eq!(diff, 0.0);
    }

    #[test]
    fn rejects_sizes_that_are_not_multiples_of_two_to_the_depth() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        let model = config(1, 1, 8, Head::Residual)
            .init(&device)
            .expect("valid config");
        assert!(model.check_input([1, 1, 64, 64]).is_ok());
        let err = model
            .check_input([1, 1, 60, 64])
            .expect_err("60 is not a multiple of 16");
        assert!(
            err.to_string().contains("multiples of 2^depth = 16"),
            "{err}"
        );
        assert!(
            model.check_input([1, 3, 64, 64]).is_err(),
            "wrong channel count"
        );
    }

    #[test]
    fn first_layer_macs_follow_the_authors_formula() {
        let _rng = crate::random_stream();
        // authors-code §11: first-layer MACs = 9·C_in·64·H·W + 64·H·W.
        let device = Device::flex();
        let model = config(1, 1, 64, Head::Residual)
            .init(&device)
            .expect("valid config");
        let [cout, cin, kh, kw] = model.convs[0].weight.shape().dims::<4>();
        let (h, w) = (256, 256);
        assert_eq!(
            (kh * kw * cin * cout + cout) * h * w,
            9 * 64 * h * w + 64 * h * w
        );
        assert!(model.macs(h, w) > 0);
    }
}
