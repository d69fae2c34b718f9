//! ANN → SNN conversion (authors-code §3): activation statistics on a calibration batch, the
//! normalizations that turn them into per-layer scale factors, and the weight rescaling.
//!
//! Every weighted layer ℓ gets an input scale λ_in (one value per input channel) and an output
//! scale λ_out (one per output channel), and is rescaled as
//! `W'[o, i] = W[o, i] · λ_in[i] / λ_out[o]`, `b'[o] = b[o] / λ_out[o]`.
//! The normalizations differ only in how they choose those vectors:
//!
//! | normalization | λ_out(ℓ) | λ_in(ℓ) |
//! |---|---|---|
//! | `none` | 1 | 1 |
//! | `layer_wise` (authors' `-m layer_wise`) | stat(ℓ's activation) | stat(the tensor actually entering ℓ): after a pool, of the *pooled* tensor; after a concatenation, of the *whole concatenation* |
//! | `connection_wise` (the paper) | stat(ℓ's activation) | per connection: λ_out of the layer that produced each input channel; pools are transparent |
//! | `channel_wise` (Spiking-YOLO) | stat per output channel | λ_out per channel of each input channel's producer; pools transparent |
//!
//! conv1 always has λ_in = 1 (it sees the image) and the head λ_out = 1 (its output stays in
//! ANN units). A statistic of 0 becomes 1 (an all-zero layer would otherwise divide by zero).
//! Layer-wise is the authors' scheme as they measured it, mismatch included: at a pool or a
//! concatenation the rates arriving in the SNN are scaled by the producers' λ_out, not by the
//! statistic of the pooled or concatenated tensor, which is the defect connection-wise fixes.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::model::{Site, UNet};
use crate::{Error, Result};

/// The statistic of an activation tensor that becomes its scale factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Statistic {
    /// The maximum (Diehl et al. 2015).
    Max,
    /// The p-th percentile with numpy's default linear interpolation, over all elements
    /// including zeros (the authors' "robust" 99.9, after Rueckauer et al. 2017).
    Percentile(f64),
}

impl Statistic {
    /// The statistic of `values` (reordered in place); 0 becomes 1.
    pub fn of(&self, values: &mut [f32]) -> f32 {
        if values.is_empty() {
            return 1.0;
        }
        let value = match *self {
            Statistic::Max => values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            Statistic::Percentile(p) => percentile_linear(values, p),
        };
        if value == 0.0 { 1.0 } else { value }
    }

    /// `max` or `p99.9`, for labels.
    pub fn label(&self) -> String {
        match self {
            Statistic::Max => "max".into(),
            Statistic::Percentile(p) => format!("p{p}"),
        }
    }
}

/// numpy's `percentile(values, p)` with the default "linear" method: sort, h = (n−1)·p/100,
/// a[⌊h⌋] + (h − ⌊h⌋)·(a[⌊h⌋+1] − a[⌊h⌋]). Two selections instead of a full sort.
pub fn percentile_linear(values: &mut [f32], p: f64) -> f32 {
    let n = values.len();
    let h = (n - 1) as f64 * (p / 100.0).clamp(0.0, 1.0);
    let lower = h.floor() as usize;
    let (_, low, upper_part) = values.select_nth_unstable_by(lower, f32::total_cmp);
    let low = *low as f64;
    let high = upper_part.iter().copied().fold(f32::INFINITY, f32::min);
    if lower + 1 >= n {
        return low as f32;
    }
    (low + (h - lower as f64) * (high as f64 - low)) as f32
}

/// How activation statistics become scale factors (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// No rescaling.
    None,
    /// One factor per layer from the tensor entering it (the authors' layer-wise scheme).
    LayerWise,
    /// One factor per layer output, applied per incoming connection (the paper's scheme).
    ConnectionWise,
    /// One factor per output channel (Spiking-YOLO, SpikingJelly `channel_wise`).
    ChannelWise,
}

impl Normalization {
    /// `layer_wise`, ... for labels and file names.
    pub fn label(&self) -> &'static str {
        match self {
            Normalization::None => "none",
            Normalization::LayerWise => "layer_wise",
            Normalization::ConnectionWise => "connection_wise",
            Normalization::ChannelWise => "channel_wise",
        }
    }
}

/// A scale vector over channels, stored compactly so the JSON stays readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// One value for every channel.
    Uniform(f32),
    /// Consecutive channel blocks (a concatenation): `(channels, value)` per branch.
    Branches(Vec<(usize, f32)>),
    /// One value per channel.
    PerChannel(Vec<f32>),
}

impl Scale {
    /// One value per channel, `channels` long.
    pub fn expand(&self, channels: usize) -> Vec<f32> {
        match self {
            Scale::Uniform(value) => vec![*value; channels],
            Scale::Branches(branches) => branches
                .iter()
                .flat_map(|&(n, v)| std::iter::repeat_n(v, n))
                .collect(),
            Scale::PerChannel(values) => values.clone(),
        }
    }
}

/// The factors of one weighted layer, named as in the authors' code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerScale {
    /// `conv1` .. `conv19`, `convtranspose1` .. `convtranspose4` (depth 4).
    pub layer: String,
    /// λ_in per input channel.
    pub lambda_in: Scale,
    /// λ_out per output channel.
    pub lambda_out: Scale,
}

/// How a conversion is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionSpec {
    /// Normalization scheme.
    pub normalization: Normalization,
    /// Activation statistic.
    pub statistic: Statistic,
    /// Reproduce the authors' connection-wise off-by-one: the last input channel of each
    /// concatenated branch keeps scale 1 (authors-code §3.4). Off by default.
    pub authors_off_by_one: bool,
}

/// The factors of a whole network, in layer order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleFactors {
    /// How they were computed.
    pub spec: ConversionSpec,
    /// Calibration samples used.
    pub calibration_samples: usize,
    /// Per layer.
    pub layers: Vec<LayerScale>,
}

/// Activations of the ANN on the calibration batch, per site (post-ReLU; identity at pools).
pub struct Activations {
    sites: BTreeMap<Site, (Vec<f32>, [usize; 4])>,
}

impl Activations {
    /// Run the ANN on `calibration` (`[n, c, h, w]`) and keep every site's activation.
    pub fn record(model: &UNet, calibration: Tensor<4>) -> Result<Self> {
        model.check_input(calibration.dims())?;
        let mut sites = BTreeMap::new();
        let mut failure = None;
        let first = model.convs[0].forward(calibration);
        model.forward_with(first, &mut |site, x| {
            let x = match site {
                Site::Pool(_) => x,
                _ => burn::tensor::activation::relu(x),
            };
            match x.clone().into_data().try_to_vec::<f32>() {
                Ok(values) => {
                    sites.insert(site, (values, x.dims()));
                }
                Err(err) => failure = Some(format!("{err:?}")),
            }
            x
        });
        match failure {
            Some(message) => Err(Error::Conversion(format!(
                "reading calibration activations: {message}"
            ))),
            None => Ok(Activations { sites }),
        }
    }

    fn site(&self, site: Site) -> Result<&(Vec<f32>, [usize; 4])> {
        self.sites
            .get(&site)
            .ok_or_else(|| Error::Conversion(format!("no activation recorded at {site}")))
    }

    /// The statistic over all elements of the given sites together.
    fn scalar(&self, sites: &[Site], statistic: Statistic) -> Result<f32> {
        let mut values = Vec::new();
        for &site in sites {
            values.extend_from_slice(&self.site(site)?.0);
        }
        Ok(statistic.of(&mut values))
    }

    /// The statistic of each channel of a site.
    fn per_channel(&self, site: Site, statistic: Statistic) -> Result<Vec<f32>> {
        let (values, [n, c, h, w]) = self.site(site)?;
        let (n, c) = (*n, *c);
        let plane = h * w;
        Ok((0..c)
            .map(|k| {
                let mut channel: Vec<f32> = (0..n)
                    .flat_map(|i| values[(i * c + k) * plane..][..plane].iter().copied())
                    .collect();
                statistic.of(&mut channel)
            })
            .collect())
    }

    fn channels(&self, site: Site) -> Result<usize> {
        Ok(self.site(site)?.1[1])
    }
}

/// A weighted layer of the U-Net, in the order the authors' code registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Conv(usize),
    Up(usize),
    Head,
}

/// Each weighted layer with the sites feeding it (empty for conv1: the image) and the site
/// it feeds (none for the head), from the U-Net's own site order.
fn layer_graph(model: &UNet) -> Vec<(Layer, Vec<Site>, Option<Site>)> {
    let mut graph = Vec::new();
    let mut previous: Option<Site> = None;
    let mut skips: Vec<Site> = Vec::new();
    let depth = model.depth();
    for site in model.sites() {
        match site {
            Site::Pool(_) => {
                if let Some(p) = previous {
                    skips.push(p);
                }
                previous = Some(site);
            }
            Site::Conv(n) | Site::Up(n) => {
                let layer = if matches!(site, Site::Conv(_)) {
                    Layer::Conv(n)
                } else {
                    Layer::Up(n)
                };
                // The first conv after an up-sampling reads cat(skip, up).
                let inputs = match previous {
                    None => vec![],
                    Some(Site::Up(k)) if matches!(site, Site::Conv(_)) => {
                        vec![skips[depth - k], Site::Up(k)]
                    }
                    Some(p) => vec![p],
                };
                graph.push((layer, inputs, Some(site)));
                previous = Some(site);
            }
        }
    }
    graph.push((Layer::Head, previous.into_iter().collect(), None));
    graph
}

/// Weights each spike of a site reaches: Σ over the layers it feeds of out_channels · kh · kw
/// (a transposed conv spreads each input over its whole kernel too), plus one accumulate into
/// the pooled neuron where it feeds an average pool.
pub fn fan_out(model: &UNet) -> BTreeMap<Site, u64> {
    let mut fan_out: BTreeMap<Site, u64> = model.sites().into_iter().map(|s| (s, 0)).collect();
    for (layer, inputs, _) in layer_graph(model) {
        let [a, b, kh, kw] = match layer {
            Layer::Conv(n) => model.convs[n - 1].weight.dims(),
            Layer::Up(k) => model.ups[k - 1].weight.dims(),
            Layer::Head => model.head.weight.dims(),
        };
        // Conv weights are [out, in, ..]; transposed-conv weights [in, out, ..].
        let out_channels = if matches!(layer, Layer::Up(_)) { b } else { a };
        for site in inputs {
            *fan_out.entry(site).or_default() += (out_channels * kh * kw) as u64;
        }
    }
    let sites = model.sites();
    for pair in sites.windows(2) {
        if let [before, Site::Pool(_)] = pair {
            *fan_out.entry(*before).or_default() += 1;
        }
    }
    fan_out
}

/// The producer of a site's values in connection- and channel-wise schemes: pools are
/// transparent, so a pool site stands for the conv feeding it.
fn producer(model: &UNet, site: Site) -> Site {
    match site {
        Site::Pool(_) => {
            let sites = model.sites();
            let index = sites
                .iter()
                .position(|s| *s == site)
                .expect("pool sites come from sites()");
            producer(model, sites[index - 1])
        }
        other => other,
    }
}

/// Compute the scale factors of `model` from its calibration activations.
pub fn scale_factors(
    model: &UNet,
    activations: &Activations,
    spec: &ConversionSpec,
    calibration_samples: usize,
) -> Result<ScaleFactors> {
    let stat = spec.statistic;
    let mut layers = Vec::new();
    for (layer, inputs, output) in layer_graph(model) {
        let name = match layer {
            Layer::Conv(n) => format!("conv{n}"),
            Layer::Up(k) => format!("convtranspose{k}"),
            Layer::Head => format!("conv{}", model.convs.len() + 1),
        };
        let lambda_out = match (spec.normalization, output) {
            (Normalization::None, _) | (_, None) => Scale::Uniform(1.0),
            (Normalization::ChannelWise, Some(site)) => {
                Scale::PerChannel(activations.per_channel(site, stat)?)
            }
            (_, Some(site)) => Scale::Uniform(activations.scalar(&[site], stat)?),
        };
        let lambda_in = if inputs.is_empty() {
            Scale::Uniform(1.0)
        } else {
            match spec.normalization {
                Normalization::None => Scale::Uniform(1.0),
                Normalization::LayerWise => Scale::Uniform(activations.scalar(&inputs, stat)?),
                Normalization::ConnectionWise => {
                    let mut branches = Vec::new();
                    for &site in &inputs {
                        let value = activations.scalar(&[producer(model, site)], stat)?;
                        branches.push((activations.channels(site)?, value));
                    }
                    if branches.len() == 1 {
                        Scale::Uniform(branches[0].1)
                    } else {
                        Scale::Branches(branches)
                    }
                }
                Normalization::ChannelWise => {
                    let mut values = Vec::new();
                    for &site in &inputs {
                        values.extend(activations.per_channel(producer(model, site), stat)?);
                    }
                    Scale::PerChannel(values)
                }
            }
        };
        layers.push(LayerScale {
            layer: name,
            lambda_in,
            lambda_out,
        });
    }
    Ok(ScaleFactors {
        spec: spec.clone(),
        calibration_samples,
        layers,
    })
}

/// A copy of `model` with every weighted layer rescaled by `factors`.
pub fn rescale(model: &UNet, factors: &ScaleFactors) -> Result<UNet> {
    let find = |name: String| {
        factors
            .layers
            .iter()
            .find(|l| l.layer == name)
            .ok_or_else(|| {
                Error::Conversion(format!(
                    "no scale factors for {name}: they belong to another network"
                ))
            })
    };
    let off_by_one = factors.spec.authors_off_by_one;
    let mut scaled = model.clone();
    for (i, conv) in scaled.convs.iter_mut().enumerate() {
        *conv = rescale_conv(conv, find(format!("conv{}", i + 1))?, off_by_one)?;
    }
    for (k, up) in scaled.ups.iter_mut().enumerate() {
        *up = rescale_up(up, find(format!("convtranspose{}", k + 1))?)?;
    }
    scaled.head = rescale_conv(
        &scaled.head,
        find(format!("conv{}", model.convs.len() + 1))?,
        off_by_one,
    )?;
    Ok(scaled)
}

/// λ_in per input channel, with the authors' off-by-one applied to concatenations if asked.
fn input_scale(scale: &LayerScale, channels: usize, authors_off_by_one: bool) -> Result<Vec<f32>> {
    let mut values = scale.lambda_in.expand(channels);
    if authors_off_by_one && let Scale::Branches(branches) = &scale.lambda_in {
        // pytorch_kernel_fx.py slices [k·w, k·w + w − 1): the last channel of each branch
        // keeps weight scale 1 (it is still divided by λ_out).
        let mut end = 0;
        for &(n, _) in branches {
            end += n;
            values[end - 1] = 1.0;
        }
    }
    if values.len() != channels {
        return Err(Error::Conversion(format!(
            "{}: {} input scales for {channels} channels",
            scale.layer,
            values.len()
        )));
    }
    Ok(values)
}

/// `W'[·] = W · λ_in / λ_out` along the weight's input and output axes, `b' = b / λ_out`.
///
/// Conv weights are `[out, in, kh, kw]`, transposed-conv weights `[in, out, kh, kw]`
/// (PyTorch's layouts); `in_axis` says which of the first two axes is the input.
fn scale_parameters(
    weight: &Param<Tensor<4>>,
    bias: &Option<Param<Tensor<1>>>,
    lambda_in: Vec<f32>,
    lambda_out: Vec<f32>,
    in_axis: usize,
) -> (Param<Tensor<4>>, Option<Param<Tensor<1>>>) {
    let weight = weight.val();
    let device = weight.device();
    let (cin, cout) = (lambda_in.len(), lambda_out.len());
    let (in_shape, out_shape) = if in_axis == 0 {
        ([cin, 1, 1, 1], [1, cout, 1, 1])
    } else {
        ([1, cin, 1, 1], [cout, 1, 1, 1])
    };
    let column = |values: Vec<f32>, shape: [usize; 4]| {
        Tensor::<4>::from_data(TensorData::new(values, shape), &device)
    };
    let factor = column(lambda_in, in_shape).div(column(lambda_out.clone(), out_shape));
    let bias = bias.as_ref().map(|bias| {
        let out = Tensor::<1>::from_data(TensorData::new(lambda_out, [cout]), &device);
        Param::from_tensor(bias.val() / out)
    });
    (Param::from_tensor(weight * factor), bias)
}

fn rescale_conv(conv: &Conv2d, scale: &LayerScale, authors_off_by_one: bool) -> Result<Conv2d> {
    let [out_channels, in_channels, _, _] = conv.weight.dims();
    let lambda_in = input_scale(scale, in_channels, authors_off_by_one)?;
    let lambda_out = scale.lambda_out.expand(out_channels);
    let mut scaled = conv.clone();
    (scaled.weight, scaled.bias) =
        scale_parameters(&conv.weight, &conv.bias, lambda_in, lambda_out, 1);
    Ok(scaled)
}

fn rescale_up(up: &ConvTranspose2d, scale: &LayerScale) -> Result<ConvTranspose2d> {
    let [in_channels, out_channels, _, _] = up.weight.dims();
    let lambda_in = input_scale(scale, in_channels, false)?;
    let lambda_out = scale.lambda_out.expand(out_channels);
    let mut scaled = up.clone();
    (scaled.weight, scaled.bias) = scale_parameters(&up.weight, &up.bias, lambda_in, lambda_out, 0);
    Ok(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Head, UNetConfig};
    use burn::tensor::{Device, Distribution};

    #[test]
    fn percentile_matches_numpy_linear_interpolation() {
        let _rng = crate::random_stream();
        // numpy.percentile([1, 2, 3, 4], 50) = 2.5; p99.9 of 0..=999 = 998.001.
        assert_eq!(percentile_linear(&mut [4.0, 1.0, 3.0, 2.0], 50.0), 2.5);
        let mut values: Vec<f32> = (0..1000).rev().map(|v| v as f32).collect();
        assert!((percentile_linear(&mut values, 99.9) - 998.001).abs() < 1e-3);
        assert_eq!(percentile_linear(&mut [5.0], 99.9), 5.0);
        assert_eq!(
            Statistic::Percentile(99.9).of(&mut [0.0, 0.0]),
            1.0,
            "a zero statistic becomes 1"
        );
        assert_eq!(Statistic::Max.of(&mut [0.5, 3.0, 1.0]), 3.0);
    }

    fn small_unet(depth: usize) -> UNet {
        let device = Device::flex();
        device.seed(7);
        UNetConfig {
            in_channels: 1,
            out_channels: 1,
            width: 4,
            depth,
            head: Head::Residual,
        }
        .init(&device)
        .expect("valid config")
    }

    #[test]
    fn the_layer_graph_follows_the_authors_table() {
        let _rng = crate::random_stream();
        let graph = layer_graph(&small_unet(4));
        let find = |l: Layer| {
            graph
                .iter()
                .find(|(layer, _, _)| *layer == l)
                .expect("layer present")
                .1
                .clone()
        };
        assert_eq!(find(Layer::Conv(1)), vec![]);
        assert_eq!(find(Layer::Conv(3)), vec![Site::Pool(1)]);
        assert_eq!(
            find(Layer::Conv(11)),
            vec![Site::Conv(8), Site::Up(1)],
            "conv11 reads cat(relu8, reluT1)"
        );
        assert_eq!(find(Layer::Conv(17)), vec![Site::Conv(2), Site::Up(4)]);
        assert_eq!(find(Layer::Up(1)), vec![Site::Conv(10)]);
        assert_eq!(find(Layer::Head), vec![Site::Conv(18)]);
        assert_eq!(graph.len(), 23, "19 convs and 4 transposed convs");
        assert_eq!(producer(&small_unet(4), Site::Pool(2)), Site::Conv(4));
    }

    #[test]
    fn layer_and_connection_wise_coincide_without_pools_and_concatenations() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        let model = small_unet(0);
        let x = Tensor::<4>::random([4, 1, 16, 16], Distribution::Default, &device);
        let activations = Activations::record(&model, x).expect("recorded");
        let spec = |normalization| ConversionSpec {
            normalization,
            statistic: Statistic::Percentile(99.9),
            authors_off_by_one: false,
        };
        let layer = scale_factors(&model, &activations, &spec(Normalization::LayerWise), 4)
            .expect("factors");
        let connection = scale_factors(
            &model,
            &activations,
            &spec(Normalization::ConnectionWise),
            4,
        )
        .expect("factors");
        assert_eq!(layer.layers, connection.layers);
    }

    #[test]
    fn connection_wise_scales_each_branch_by_its_producer_and_differs_from_layer_wise() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        let model = small_unet(2);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Default, &device);
        let activations = Activations::record(&model, x).expect("recorded");
        let spec = |normalization, authors_off_by_one| ConversionSpec {
            normalization,
            statistic: Statistic::Max,
            authors_off_by_one,
        };
        let factors = scale_factors(
            &model,
            &activations,
            &spec(Normalization::ConnectionWise, false),
            2,
        )
        .expect("factors");
        let lambda = |site| activations.scalar(&[site], Statistic::Max).expect("site");
        // depth 2: conv7 reads cat(relu4, reluT1).
        let conv7 = factors
            .layers
            .iter()
            .find(|l| l.layer == "conv7")
            .expect("conv7");
        assert_eq!(
            conv7.lambda_in,
            Scale::Branches(vec![(8, lambda(Site::Conv(4))), (8, lambda(Site::Up(1)))])
        );
        let conv3 = factors
            .layers
            .iter()
            .find(|l| l.layer == "conv3")
            .expect("conv3");
        assert_eq!(
            conv3.lambda_in,
            Scale::Uniform(lambda(Site::Conv(2))),
            "pools are transparent"
        );
        let layer = scale_factors(
            &model,
            &activations,
            &spec(Normalization::LayerWise, false),
            2,
        )
        .expect("factors");
        let conv3_layer = layer
            .layers
            .iter()
            .find(|l| l.layer == "conv3")
            .expect("conv3");
        assert_eq!(
            conv3_layer.lambda_in,
            Scale::Uniform(lambda(Site::Pool(1))),
            "layer-wise measures the pooled tensor"
        );

        // The authors' off-by-one leaves channels 7 and 15 of conv7's input unscaled.
        let exact = input_scale(conv7, 16, false).expect("16 channels");
        let buggy = input_scale(conv7, 16, true).expect("16 channels");
        for i in 0..16 {
            if i == 7 || i == 15 {
                assert_eq!(buggy[i], 1.0);
            } else {
                assert_eq!(buggy[i], exact[i]);
            }
        }
    }

    #[test]
    fn rescaling_preserves_the_ann_function_up_to_the_output_scale() {
        let _rng = crate::random_stream();
        // With λ_out(head) = 1, a normalized ReLU network computes the same function: every
        // hidden activation is divided by its λ, and the next layer multiplies it back.
        let device = Device::flex();
        let model = small_unet(2);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Default, &device);
        let activations = Activations::record(&model, x.clone()).expect("recorded");
        for normalization in [
            Normalization::LayerWise,
            Normalization::ConnectionWise,
            Normalization::ChannelWise,
        ] {
            let spec = ConversionSpec {
                normalization,
                statistic: Statistic::Max,
                authors_off_by_one: false,
            };
            let factors = scale_factors(&model, &activations, &spec, 2).expect("factors");
            let scaled = rescale(&model, &factors).expect("rescaled");
            let diff = (scaled.forward(x.clone()) - model.forward(x.clone()))
                .abs()
                .max()
                .into_scalar::<f32>();
            let expected_exact = normalization != Normalization::LayerWise;
            if expected_exact {
                assert!(diff < 1e-4, "{normalization:?}: max difference {diff}");
            } else {
                assert!(
                    diff > 1e-4,
                    "layer-wise mis-scales pools and concatenations, so the ANN changes"
                );
            }
        }
    }
}
