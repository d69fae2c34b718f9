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

use crate::model::{Site, UNet, ann_activation};
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
        let total = values.len();
        self.of_upper_tail(values, total)
    }

    /// The statistic of `total` values of which `tail` holds the largest, at least
    /// [`Statistic::tail_length`] of them (reordered in place); 0 becomes 1.
    fn of_upper_tail(&self, tail: &mut [f32], total: usize) -> f32 {
        if tail.is_empty() {
            return 1.0;
        }
        let value = match *self {
            Statistic::Max => tail.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            Statistic::Percentile(p) => percentile_of_upper_tail(tail, total, p),
        };
        if value == 0.0 { 1.0 } else { value }
    }

    /// How many of the largest of `total` values this statistic reads.
    fn tail_length(&self, total: usize) -> usize {
        match *self {
            Statistic::Max => total.min(1),
            Statistic::Percentile(p) if total > 0 => total - percentile_rank(total, p).0,
            Statistic::Percentile(_) => 0,
        }
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
    let total = values.len();
    percentile_of_upper_tail(values, total, p)
}

/// ⌊h⌋ and h − ⌊h⌋ for numpy's linear percentile of `total` values.
fn percentile_rank(total: usize, p: f64) -> (usize, f64) {
    let h = (total - 1) as f64 * (p / 100.0).clamp(0.0, 1.0);
    (h.floor() as usize, h - h.floor())
}

/// [`percentile_linear`] of `total` values of which `tail` holds the largest (at least the
/// `total − ⌊h⌋` it reads).
fn percentile_of_upper_tail(tail: &mut [f32], total: usize, p: f64) -> f32 {
    let (rank, weight) = percentile_rank(total, p);
    // The tail holds ranks total − tail.len() .. total of the sorted values.
    let lower = rank - (total - tail.len());
    let (_, low, upper_part) = tail.select_nth_unstable_by(lower, f32::total_cmp);
    let low = *low as f64;
    if rank + 1 >= total {
        return low as f32;
    }
    let high = upper_part.iter().copied().fold(f32::INFINITY, f32::min);
    (low + weight * (high as f64 - low)) as f32
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

/// Calibration inputs are run through the ANN in chunks of about this many pixels (samples x
/// height x width), so the memory held at once stays bounded: at width 64 the largest buffer,
/// the unfolded input of a 128-channel conv, takes 1.2 GB per 2^18 pixels. Calibrations on
/// patches of up to 64² (the quickstart, DRIVE, the denoisers) are one chunk; 512² ISBI slices
/// and CamSeq01's 720² windows and whole frames go one at a time (a sample is never split).
const CHUNK_PIXELS: usize = 1 << 18;

/// What a scale factor is the statistic of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// All elements of these sites together (one value).
    Sites(Vec<Site>),
    /// Each channel of this site on its own (one value per channel).
    Channels(Site),
}

impl Group {
    fn reads(&self, site: Site) -> bool {
        match self {
            Group::Sites(sites) => sites.contains(&site),
            Group::Channels(own) => *own == site,
        }
    }
}

/// The largest `keep` of the values pushed, which is all a percentile near the top (or a
/// maximum) needs: p99.9 of n values reads the two values of rank ⌊(n−1)·0.999⌋ and the one
/// above it, so about n/1000 of them are kept instead of n.
#[derive(Debug, Clone)]
struct UpperTail {
    keep: usize,
    values: Vec<f32>,
}

impl UpperTail {
    fn push(&mut self, values: &[f32]) {
        self.values.extend_from_slice(values);
        // Pruning at twice the kept length makes each value's share of the selections O(1).
        if self.values.len() >= 2 * self.keep.max(1 << 14) {
            self.prune();
        }
    }

    fn prune(&mut self) {
        let excess = self.values.len().saturating_sub(self.keep);
        if excess > 0 {
            self.values.select_nth_unstable_by(excess, f32::total_cmp);
            self.values.drain(..excess);
        }
    }
}

/// The upper tails of one group: one for [`Group::Sites`], one per channel for
/// [`Group::Channels`], each out of `total` values.
#[derive(Debug, Clone)]
struct GroupTails {
    total: usize,
    statistics: Vec<Statistic>,
    tails: Vec<UpperTail>,
}

/// What the ANN's activations on the calibration batch say about the statistics asked of
/// them (post-ReLU; identity at pools). Only the upper tail each statistic reads is kept, so
/// the memory is a few thousandths of the activations', not all of them: 64 whole CamSeq01
/// frames at width 64 hold 113 GB of activations.
pub struct Activations {
    channels: BTreeMap<Site, usize>,
    groups: BTreeMap<Group, GroupTails>,
}

impl Activations {
    /// Run the ANN on `calibration` (`[n, c, h, w]`) and keep what [`scale_factors`] needs for
    /// each of `specs`.
    pub fn record(model: &UNet, calibration: Tensor<4>, specs: &[ConversionSpec]) -> Result<Self> {
        let samples_per_chunk =
            (CHUNK_PIXELS / (calibration.dims()[2] * calibration.dims()[3])).max(1);
        Self::record_in_chunks(model, calibration, specs, samples_per_chunk)
    }

    fn record_in_chunks(
        model: &UNet,
        calibration: Tensor<4>,
        specs: &[ConversionSpec],
        samples_per_chunk: usize,
    ) -> Result<Self> {
        model.check_input(calibration.dims())?;
        let [samples, _, height, width] = calibration.dims();
        let shapes: BTreeMap<Site, [usize; 3]> =
            model.site_shapes(height, width).into_iter().collect();
        let mut asked: BTreeMap<Group, Vec<Statistic>> = BTreeMap::new();
        for spec in specs {
            for (_, lambda_in, lambda_out) in scale_plan(model, spec.normalization) {
                for group in lambda_in.groups().into_iter().chain(lambda_out.groups()) {
                    asked.entry(group).or_default().push(spec.statistic);
                }
            }
        }
        let mut groups: BTreeMap<Group, GroupTails> = asked
            .into_iter()
            .map(|(group, statistics)| {
                let (count, total) = match &group {
                    Group::Sites(sites) => (
                        1,
                        sites
                            .iter()
                            .map(|s| samples * shapes[s].iter().product::<usize>())
                            .sum(),
                    ),
                    Group::Channels(site) => {
                        let [c, h, w] = shapes[site];
                        (c, samples * h * w)
                    }
                };
                let keep = statistics
                    .iter()
                    .map(|s| s.tail_length(total))
                    .max()
                    .unwrap_or(0);
                let tail = UpperTail {
                    keep,
                    values: Vec::new(),
                };
                (
                    group,
                    GroupTails {
                        total,
                        statistics,
                        tails: vec![tail; count],
                    },
                )
            })
            .collect();

        let mut failure = None;
        for start in (0..samples).step_by(samples_per_chunk) {
            let chunk =
                calibration
                    .clone()
                    .narrow(0, start, samples_per_chunk.min(samples - start));
            let first = model.convs[0].forward(chunk);
            model.forward_with(first, &mut |site, x| {
                let x = ann_activation(site, x);
                let [n, c, h, w] = x.dims();
                let values = match x.clone().into_data().try_to_vec::<f32>() {
                    Ok(values) => values,
                    Err(err) => {
                        failure.get_or_insert(format!("reading the activation at {site}: {err:?}"));
                        return x;
                    }
                };
                if values.iter().any(|v| !v.is_finite()) {
                    failure.get_or_insert(format!(
                        "the ANN's activation at {site} is not finite on the calibration batch"
                    ));
                }
                for (group, recorded) in groups.iter_mut().filter(|(g, _)| g.reads(site)) {
                    match group {
                        Group::Sites(_) => recorded.tails[0].push(&values),
                        Group::Channels(_) => {
                            for (k, tail) in recorded.tails.iter_mut().enumerate() {
                                for i in 0..n {
                                    tail.push(&values[(i * c + k) * h * w..][..h * w]);
                                }
                            }
                        }
                    }
                }
                x
            });
            if let Some(message) = failure.take() {
                return Err(Error::Conversion(message));
            }
        }
        for recorded in groups.values_mut() {
            recorded.tails.iter_mut().for_each(UpperTail::prune);
        }
        let channels = shapes
            .into_iter()
            .map(|(site, [c, _, _])| (site, c))
            .collect();
        Ok(Activations { channels, groups })
    }

    /// The statistic of each of the group's tails (one value, or one per channel); 0 becomes 1.
    fn statistic(&self, group: &Group, statistic: Statistic) -> Result<Vec<f32>> {
        let recorded = self
            .groups
            .get(group)
            .filter(|recorded| recorded.statistics.contains(&statistic))
            .ok_or_else(|| {
                Error::Conversion(format!(
                    "the calibration activations were recorded without the {} of {group:?}",
                    statistic.label()
                ))
            })?;
        Ok(recorded
            .tails
            .iter()
            .map(|tail| statistic.of_upper_tail(&mut tail.values.clone(), recorded.total))
            .collect())
    }

    fn channels(&self, site: Site) -> Result<usize> {
        self.channels
            .get(&site)
            .copied()
            .ok_or_else(|| Error::Conversion(format!("the U-Net has no activation site {site}")))
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

/// Where one of a layer's scale vectors comes from, before any activation is seen.
enum ScaleSource {
    /// 1 for every channel.
    One,
    /// The statistic of a group, for every channel.
    Uniform(Group),
    /// Per concatenated branch (in channel order): the branch's site and the producer whose
    /// statistic scales it.
    Branches(Vec<(Site, Site)>),
    /// The per-channel statistics of these producers, their channels concatenated.
    PerChannel(Vec<Site>),
}

impl ScaleSource {
    /// The groups whose statistics this scale reads.
    fn groups(&self) -> Vec<Group> {
        match self {
            ScaleSource::One => vec![],
            ScaleSource::Uniform(group) => vec![group.clone()],
            ScaleSource::Branches(branches) => branches
                .iter()
                .map(|&(_, producer)| Group::Sites(vec![producer]))
                .collect(),
            ScaleSource::PerChannel(producers) => producers
                .iter()
                .map(|&site| Group::Channels(site))
                .collect(),
        }
    }

    fn scale(&self, activations: &Activations, statistic: Statistic) -> Result<Scale> {
        Ok(match self {
            ScaleSource::One => Scale::Uniform(1.0),
            ScaleSource::Uniform(group) => {
                Scale::Uniform(activations.statistic(group, statistic)?[0])
            }
            ScaleSource::Branches(branches) => {
                let mut scales = Vec::new();
                for &(site, producer) in branches {
                    let value = activations.statistic(&Group::Sites(vec![producer]), statistic)?;
                    scales.push((activations.channels(site)?, value[0]));
                }
                Scale::Branches(scales)
            }
            ScaleSource::PerChannel(producers) => {
                let mut values = Vec::new();
                for &site in producers {
                    values.extend(activations.statistic(&Group::Channels(site), statistic)?);
                }
                Scale::PerChannel(values)
            }
        })
    }
}

/// Each weighted layer's name (as in the authors' code) and the sources of its λ_in and λ_out
/// under `normalization` (the module table).
fn scale_plan(
    model: &UNet,
    normalization: Normalization,
) -> Vec<(String, ScaleSource, ScaleSource)> {
    let sites = |sites: &[Site]| ScaleSource::Uniform(Group::Sites(sites.to_vec()));
    layer_graph(model)
        .into_iter()
        .map(|(layer, inputs, output)| {
            let name = match layer {
                Layer::Conv(n) => format!("conv{n}"),
                Layer::Up(k) => format!("convtranspose{k}"),
                Layer::Head => format!("conv{}", model.convs.len() + 1),
            };
            let lambda_out = match (normalization, output) {
                (Normalization::None, _) | (_, None) => ScaleSource::One,
                (Normalization::ChannelWise, Some(site)) => ScaleSource::PerChannel(vec![site]),
                (_, Some(site)) => sites(&[site]),
            };
            let producers: Vec<Site> = inputs.iter().map(|&s| producer(model, s)).collect();
            let lambda_in = match normalization {
                _ if inputs.is_empty() => ScaleSource::One,
                Normalization::None => ScaleSource::One,
                Normalization::LayerWise => sites(&inputs),
                Normalization::ConnectionWise if inputs.len() == 1 => sites(&producers),
                Normalization::ConnectionWise => {
                    ScaleSource::Branches(inputs.into_iter().zip(producers).collect())
                }
                Normalization::ChannelWise => ScaleSource::PerChannel(producers),
            };
            (name, lambda_in, lambda_out)
        })
        .collect()
}

/// Compute the scale factors of `model` from its calibration activations (recorded with
/// `spec` among their specs).
pub fn scale_factors(
    model: &UNet,
    activations: &Activations,
    spec: &ConversionSpec,
    calibration_samples: usize,
) -> Result<ScaleFactors> {
    let mut layers = Vec::new();
    for (layer, lambda_in, lambda_out) in scale_plan(model, spec.normalization) {
        layers.push(LayerScale {
            layer,
            lambda_in: lambda_in.scale(activations, spec.statistic)?,
            lambda_out: lambda_out.scale(activations, spec.statistic)?,
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

    #[test]
    fn upper_tails_give_the_statistics_of_all_the_values() {
        let _rng = crate::random_stream();
        // splitmix64: deterministic, and core needs no rand for one test.
        let mut state = 3u64;
        let mut next = move |below: u64| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % below
        };
        let statistics = [
            Statistic::Max,
            Statistic::Percentile(0.0),
            Statistic::Percentile(50.0),
            Statistic::Percentile(99.0),
            Statistic::Percentile(99.9),
            Statistic::Percentile(100.0),
        ];
        for total in [1, 2, 7, 1000, 300_001] {
            // ReLU-like values: a third exact zeros, the rest spread over three decades, with
            // repeats.
            let values: Vec<f32> = (0..total)
                .map(|_| match next(3) {
                    0 => 0.0,
                    1 => next(50) as f32 * 0.25,
                    _ => next(1 << 24) as f32 / (1 << 14) as f32,
                })
                .collect();
            for statistic in statistics {
                let mut tail = UpperTail {
                    keep: statistic.tail_length(total),
                    values: Vec::new(),
                };
                let mut start = 0;
                while start < total {
                    let end = (start + 1 + next(70_000) as usize).min(total);
                    tail.push(&values[start..end]);
                    start = end;
                }
                tail.prune();
                assert!(tail.values.len() <= tail.keep);
                assert_eq!(
                    statistic.of_upper_tail(&mut tail.values, total),
                    statistic.of(&mut values.clone()),
                    "{} of {total} values from a tail of {}",
                    statistic.label(),
                    tail.keep
                );
            }
        }
        assert_eq!(Statistic::Percentile(99.9).tail_length(300_001), 301);
    }

    #[test]
    fn layer_wise_factors_are_the_statistics_of_the_tensors_entering_each_layer() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        let model = small_unet(2);
        let x = Tensor::<4>::random([3, 1, 16, 16], Distribution::Default, &device);
        let statistic = Statistic::Percentile(99.9);
        let spec = ConversionSpec {
            normalization: Normalization::LayerWise,
            statistic,
            authors_off_by_one: false,
        };
        let activations =
            Activations::record(&model, x.clone(), std::slice::from_ref(&spec)).expect("recorded");
        let factors = scale_factors(&model, &activations, &spec, 3).expect("factors");
        let full = every_activation(&model, x);
        for ((_, inputs, output), layer) in layer_graph(&model).into_iter().zip(&factors.layers) {
            let of = |sites: &[Site]| {
                let mut values: Vec<f32> = sites.iter().flat_map(|s| full[s].clone()).collect();
                statistic.of(&mut values)
            };
            let lambda_in = if inputs.is_empty() { 1.0 } else { of(&inputs) };
            let lambda_out = output.map_or(1.0, |site| of(&[site]));
            assert_eq!(
                layer.lambda_in,
                Scale::Uniform(lambda_in),
                "{} λ_in",
                layer.layer
            );
            assert_eq!(
                layer.lambda_out,
                Scale::Uniform(lambda_out),
                "{} λ_out",
                layer.layer
            );
        }
    }

    #[test]
    fn recording_in_chunks_gives_the_factors_of_one_batch() {
        let _rng = crate::random_stream();
        let device = Device::flex();
        let model = small_unet(2);
        let x = Tensor::<4>::random([6, 1, 16, 16], Distribution::Default, &device);
        let mut specs = Vec::new();
        for normalization in [
            Normalization::LayerWise,
            Normalization::ConnectionWise,
            Normalization::ChannelWise,
        ] {
            for statistic in [Statistic::Max, Statistic::Percentile(99.9)] {
                specs.push(ConversionSpec {
                    normalization,
                    statistic,
                    authors_off_by_one: false,
                });
            }
        }
        let whole = Activations::record(&model, x.clone(), &specs).expect("recorded");
        for samples_per_chunk in [1, 4] {
            let chunked =
                Activations::record_in_chunks(&model, x.clone(), &specs, samples_per_chunk)
                    .expect("recorded");
            for spec in &specs {
                assert_eq!(
                    scale_factors(&model, &chunked, spec, 6).expect("factors"),
                    scale_factors(&model, &whole, spec, 6).expect("factors"),
                    "{spec:?} in chunks of {samples_per_chunk}"
                );
            }
        }
        // A statistic that was not asked for is an error, not a guess from a short tail.
        let other = ConversionSpec {
            normalization: Normalization::ConnectionWise,
            statistic: Statistic::Percentile(50.0),
            authors_off_by_one: false,
        };
        assert!(scale_factors(&model, &whole, &other, 6).is_err());
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

    /// Every activation of the ANN on `x` in full, straight from a forward pass rather than
    /// through the recorded tails.
    fn every_activation(model: &UNet, x: Tensor<4>) -> BTreeMap<Site, Vec<f32>> {
        let mut full = BTreeMap::new();
        model.forward_with(model.convs[0].forward(x), &mut |site, x| {
            let x = ann_activation(site, x);
            let values = x.clone().into_data().try_to_vec::<f32>().expect("f32");
            full.insert(site, values);
            x
        });
        full
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
        let spec = |normalization| ConversionSpec {
            normalization,
            statistic: Statistic::Percentile(99.9),
            authors_off_by_one: false,
        };
        let specs = [
            spec(Normalization::LayerWise),
            spec(Normalization::ConnectionWise),
        ];
        let activations = Activations::record(&model, x, &specs).expect("recorded");
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
        let spec = |normalization, authors_off_by_one| ConversionSpec {
            normalization,
            statistic: Statistic::Max,
            authors_off_by_one,
        };
        let specs = [
            spec(Normalization::ConnectionWise, false),
            spec(Normalization::LayerWise, false),
        ];
        let activations = Activations::record(&model, x.clone(), &specs).expect("recorded");
        let factors = scale_factors(
            &model,
            &activations,
            &spec(Normalization::ConnectionWise, false),
            2,
        )
        .expect("factors");
        // The maxima from a plain forward pass, not through the recorded tails.
        let full = every_activation(&model, x);
        let lambda = |site| Statistic::Max.of(&mut full[&site].clone());
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
        let specs = [
            Normalization::LayerWise,
            Normalization::ConnectionWise,
            Normalization::ChannelWise,
        ]
        .map(|normalization| ConversionSpec {
            normalization,
            statistic: Statistic::Max,
            authors_off_by_one: false,
        });
        let activations = Activations::record(&model, x.clone(), &specs).expect("recorded");
        for spec in specs {
            let normalization = spec.normalization;
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
