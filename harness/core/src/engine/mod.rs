//! A CPU inference engine for the U-Net and its spiking conversions: the fast path of
//! `evaluate` and of the simulation inside fine-tuning. burn ([`crate::simulate`]) stays the
//! reference path, and the path for GPU backends and for training.
//!
//! What makes it fast, each measured in BENCHMARKS.md:
//! - **one layout end to end** ([`buffer::Padded`], zero-bordered NHWC): no layer converts or
//!   pads its input, and a concatenation is two layers writing into the two channel halves of
//!   one buffer, so nothing is copied;
//! - **weights packed once per network** into GEMM-ready matrices ([`conv`]), and every
//!   convolution a few GEMM calls on the `gemm` crate straight from the activation buffer;
//! - **fused epilogues**: each tile's conv output is still in cache when its bias, neuron
//!   update, spike count and accumulators are applied and the emitted values are written into
//!   the next layer's buffer ([`rule`]);
//! - **every phase parallel**: a layer is split into tiles (samples, bands of rows, blocks of
//!   channels) that threads finish independently; there is no serial bookkeeping;
//! - **time batching** for small layers: with a chunk of k steps, a layer whose tile spans
//!   the whole image convolves all k steps in one GEMM;
//! - **event-driven convolutions** where a layer's input is sparse enough ([`events`]): a
//!   spiking layer's input is mostly zeros, and only the weight rows of the nonzero inputs are
//!   summed;
//! - **the head by linearity**: the head is linear and has no neuron, so Σ_t head(s_t) =
//!   head(Σ_t s_t) + T·b is computed once per checkpoint from the accumulated spikes.
//!
//! It computes what [`crate::simulate::simulate`] computes, up to the order of floating-point
//! sums inside the convolutions; tests check read-outs and spike counts against it for every
//! neuron and normalization. It is deterministic: a layer's tiles follow from its shape alone
//! (not from the number of threads), and spike counts are integer sums.

pub mod buffer;
pub mod conv;
pub mod events;
pub mod rule;

use std::cell::RefCell;
use std::collections::BTreeMap;

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use crate::model::{Site, UNet};
use crate::simulate::{Checkpoint, SpikingUNet};
use crate::{Error, Result};
use buffer::{Padded, SharedMut};
use conv::{Convolution, PackedConv, PackedUpConv, Tile, TileLayout, UP_TAPS, tiles};
use events::Events;
use rule::{Rule, RunState};

/// A convolution whose input has fewer nonzero values than this share runs event-driven
/// ([`events`]) instead of as a dense GEMM. Measured per layer on the width-64 U-Net at
/// 256x256, T = 16–32 (2-core Zen 3, AVX2; BENCHMARKS.md): IF layers, 5–16 % nonzero, take
/// 0.3–0.65 of the dense time; MT layers, 26–44 % nonzero, 0.8–1.25 of it; ReLU outputs of the
/// ANN (about half nonzero) 1.5. The break-even is near a third; a quarter keeps a margin.
pub const EVENT_DRIVEN_BELOW: f32 = 0.25;

/// Channels of one layer's output inside a buffer (a concatenation holds two).
#[derive(Debug, Clone, Copy)]
struct Slot {
    buffer: usize,
    offset: usize,
    channels: usize,
}

/// One layer of the schedule: where its input comes from, which site's rule it applies, and
/// which slot its output goes to.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// conv1's output (computed once) as the current of the first site.
    Inject { site: usize, dest: Slot },
    /// A 3x3 conv of a whole buffer.
    Conv {
        conv: usize,
        src: usize,
        site: usize,
        dest: Slot,
    },
    /// A 2x2 average pool of a slot.
    Pool { src: Slot, site: usize, dest: Slot },
    /// A transposed conv of a whole buffer.
    Up {
        up: usize,
        src: usize,
        site: usize,
        dest: Slot,
    },
}

/// The layers of a U-Net for one input size, in the order of [`UNet::forward_with`].
#[derive(Debug, Clone)]
struct Schedule {
    /// (height, width, channels) of every buffer.
    buffers: Vec<(usize, usize, usize)>,
    ops: Vec<Op>,
    /// The buffer the head reads.
    last: usize,
    /// (height, width, channels) of every site's output, by site index.
    site_shapes: Vec<(usize, usize, usize)>,
}

/// A U-Net compiled for the engine: packed weights and, for a spiking network, its neuron.
#[derive(Debug, Clone)]
pub struct Engine {
    depth: usize,
    in_channels: usize,
    width: usize,
    convs: Vec<PackedConv>,
    ups: Vec<PackedUpConv>,
    head: PackedConv,
    neuron: Option<Rule>,
    sites: Vec<Site>,
    event_driven_below: f32,
}

/// Where one layer's time went over a simulation, from [`Engine::profile`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerProfile {
    /// The layer: its operation and its site.
    pub layer: String,
    /// Seconds per time step.
    pub seconds_per_step: f64,
    /// Mean share of nonzero values in the layer's input (for a convolution).
    pub input_density: Option<f64>,
    /// Share of the input images (samples · steps) the convolution ran event-driven.
    pub event_driven: Option<f64>,
}

/// What one run of a layer counted.
#[derive(Debug, Default, Clone)]
struct Counts {
    spikes: u64,
    /// Nonzero values written into the destination, per image (sample · steps + step).
    nonzero: Vec<u64>,
}

impl Counts {
    fn new(images: usize) -> Counts {
        Counts {
            spikes: 0,
            nonzero: vec![0; images],
        }
    }
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(mut self, other: Counts) -> Counts {
        self.spikes += other.spikes;
        if self.nonzero.is_empty() {
            self.nonzero = other.nonzero;
        } else {
            for (a, b) in self.nonzero.iter_mut().zip(other.nonzero) {
                *a += b;
            }
        }
        self
    }
}

impl std::iter::Sum for Counts {
    fn sum<I: Iterator<Item = Counts>>(iter: I) -> Counts {
        iter.fold(Counts::default(), |a, b| a + b)
    }
}

/// What [`Engine::profile`] sums per layer over a simulation.
#[derive(Debug, Default, Clone)]
struct OpRecord {
    seconds: f64,
    /// Steps the layer convolved, the sum of its input densities over them, and how many of
    /// them ran event-driven.
    convolutions: usize,
    density: f64,
    event_driven: usize,
}

/// How a convolution runs each image of its input (sample · steps + step): event-driven when
/// the image's share of nonzero values is below the engine's threshold. The choice is made
/// image by image, so it does not depend on how many steps or samples run together.
#[derive(Debug, Clone)]
struct InputUse {
    density: Vec<f64>,
    event_driven: Vec<bool>,
}

/// A tile's conv products into `scratch`: dense for the steps of its chunk whose input image is
/// dense, event-driven (from `events`) for the others, both laid out alike.
fn tile_products(
    conv: &impl Convolution,
    src: &Padded,
    input: &InputUse,
    events: Option<&Events>,
    tile: &Tile,
    steps: usize,
    scratch: &mut Vec<f32>,
) -> TileLayout {
    let event_driven = &input.event_driven[tile.sample * steps..][..steps];
    let events = || events.expect("gathered for the event-driven images");
    if event_driven.iter().all(|&e| e) {
        conv.compute_events(events(), tile, steps, None, scratch)
    } else if !event_driven.iter().any(|&e| e) {
        conv.compute(src, tile, steps, None, scratch)
    } else {
        let dense_steps: Vec<bool> = event_driven.iter().map(|e| !e).collect();
        conv.compute(src, tile, steps, Some(&dense_steps), scratch);
        conv.compute_events(events(), tile, steps, Some(event_driven), scratch)
    }
}

/// Per site, Σ_t of the emitted values and of the input currents (NCHW tensors), what
/// flow-based fine-tuning trains on.
pub type FlowTensors = BTreeMap<Site, (Tensor<4>, Tensor<4>)>;

/// The running state of one site: membrane, optional accumulators, spikes.
struct SiteState {
    membrane: Vec<f32>,
    accumulated_input: Vec<f32>,
    accumulated_output: Vec<f32>,
    spikes: u64,
}

thread_local! {
    /// Each thread's scratch for its tiles' conv outputs (reused, so the pages stay mapped).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn values(tensor: Tensor<4>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|err| Error::InvalidModel(format!("reading weights for the engine: {err:?}")))
}

fn bias_values(bias: &Option<burn::module::Param<Tensor<1>>>) -> Result<Option<Vec<f32>>> {
    bias.as_ref()
        .map(|b| {
            b.val()
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|err| Error::InvalidModel(format!("reading a bias: {err:?}")))
        })
        .transpose()
}

impl Engine {
    /// Compile a converted network: pack its weights, keep its neuron.
    pub fn spiking(snn: &SpikingUNet) -> Result<Engine> {
        snn.neuron.validate()?;
        Engine::compile(&snn.unet, Some(Rule::spiking(&snn.neuron)))
    }

    /// Compile an ANN (ReLU after every conv, identity after pools).
    pub fn ann(unet: &UNet) -> Result<Engine> {
        Engine::compile(unet, None)
    }

    fn compile(unet: &UNet, neuron: Option<Rule>) -> Result<Engine> {
        let conv = |c: &burn::nn::conv::Conv2d| {
            let shape = c.weight.dims();
            PackedConv::pack(&values(c.weight.val())?, shape, bias_values(&c.bias)?)
        };
        let convs = unet.convs.iter().map(conv).collect::<Result<Vec<_>>>()?;
        let ups = unet
            .ups
            .iter()
            .map(|u| {
                let shape = u.weight.dims();
                PackedUpConv::pack(&values(u.weight.val())?, shape, bias_values(&u.bias)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let head = conv(&unet.head)?;
        Ok(Engine {
            depth: unet.depth(),
            in_channels: convs[0].in_channels(),
            width: convs[0].out_channels(),
            convs,
            ups,
            head,
            neuron,
            sites: unet.sites(),
            event_driven_below: EVENT_DRIVEN_BELOW,
        })
    }

    /// Run a convolution event-driven when fewer than `density` of its input values are
    /// nonzero (default [`EVENT_DRIVEN_BELOW`]; 0 never, anything above 1 always).
    pub fn with_event_driven_below(mut self, density: f32) -> Engine {
        self.event_driven_below = density;
        self
    }

    fn site_index(&self, site: Site) -> usize {
        self.sites
            .iter()
            .position(|s| *s == site)
            .expect("every site of the schedule is one of the U-Net's sites")
    }

    /// The layers for a `height x width` input, mirroring [`UNet::forward_with`].
    fn schedule(&self, height: usize, width: usize) -> Schedule {
        let mut buffers = Vec::new();
        let mut new_buffer = |h: usize, w: usize, c: usize| {
            buffers.push((h, w, c));
            buffers.len() - 1
        };
        let mut ops = Vec::new();
        let whole = |buffer: usize, channels: usize| Slot {
            buffer,
            offset: 0,
            channels,
        };
        let c0 = self.width;
        let x0 = new_buffer(height, width, c0);
        ops.push(Op::Inject {
            site: self.site_index(Site::Conv(1)),
            dest: whole(x0, c0),
        });
        let mut current = x0;
        let mut skips: Vec<Slot> = Vec::new();
        let mut n = 2;
        for level in 0..=self.depth {
            let (h, w, c) = (height >> level, width >> level, c0 << level);
            if level > 0 {
                let skip = *skips.last().expect("a skip per level above");
                let pooled = new_buffer(h, w, skip.channels);
                ops.push(Op::Pool {
                    src: skip,
                    site: self.site_index(Site::Pool(level)),
                    dest: whole(pooled, skip.channels),
                });
                let x = new_buffer(h, w, c);
                ops.push(Op::Conv {
                    conv: n - 1,
                    src: pooled,
                    site: self.site_index(Site::Conv(n)),
                    dest: whole(x, c),
                });
                current = x;
                n += 1;
            }
            // The level's output is the first half of the decoder's concatenation (skip,
            // up-sampled), except at the bottleneck.
            let dest = if level < self.depth {
                let slot = whole(new_buffer(h, w, 2 * c), c);
                skips.push(slot);
                slot
            } else {
                whole(new_buffer(h, w, c), c)
            };
            ops.push(Op::Conv {
                conv: n - 1,
                src: current,
                site: self.site_index(Site::Conv(n)),
                dest,
            });
            current = dest.buffer;
            n += 1;
        }
        for k in 0..self.depth {
            let level = self.depth - 1 - k;
            let (h, w, c) = (height >> level, width >> level, c0 << level);
            let skip = skips.pop().expect("one skip per level");
            ops.push(Op::Up {
                up: k,
                src: current,
                site: self.site_index(Site::Up(k + 1)),
                dest: Slot {
                    buffer: skip.buffer,
                    offset: c,
                    channels: c,
                },
            });
            let y = new_buffer(h, w, c);
            ops.push(Op::Conv {
                conv: n - 1,
                src: skip.buffer,
                site: self.site_index(Site::Conv(n)),
                dest: whole(y, c),
            });
            let z = new_buffer(h, w, c);
            ops.push(Op::Conv {
                conv: n,
                src: y,
                site: self.site_index(Site::Conv(n + 1)),
                dest: whole(z, c),
            });
            current = z;
            n += 2;
        }
        let mut site_shapes = vec![(0, 0, 0); self.sites.len()];
        for op in &ops {
            let (site, dest) = match *op {
                Op::Inject { site, dest }
                | Op::Conv { site, dest, .. }
                | Op::Pool { site, dest, .. }
                | Op::Up { site, dest, .. } => (site, dest),
            };
            let (h, w, _) = buffers[dest.buffer];
            site_shapes[site] = (h, w, dest.channels);
        }
        Schedule {
            buffers,
            ops,
            last: current,
            site_shapes,
        }
    }

    fn check_input(&self, [b, c, h, w]: [usize; 4]) -> Result<()> {
        let multiple = 1 << self.depth;
        if c != self.in_channels {
            return Err(Error::InputShape(format!(
                "the network takes {} input channels, got {c}",
                self.in_channels
            )));
        }
        if b == 0 || h == 0 || w == 0 || h % multiple != 0 || w % multiple != 0 {
            return Err(Error::InputShape(format!(
                "height and width must be positive multiples of 2^depth = {multiple}, got {h}x{w} (batch {b})"
            )));
        }
        Ok(())
    }

    /// conv1 of the input, bias included: `[b, h, w, width]` NHWC (the first site's current).
    fn first_current(&self, input: &[f32], shape: [usize; 4]) -> Vec<f32> {
        linear_conv(&self.convs[0], &Padded::from_nchw(input, shape), 1.0)
    }

    /// The ANN forward pass: `input` `[b, c, h, w]` NCHW to the head's output, NCHW.
    pub fn forward(&self, input: &[f32], shape: [usize; 4]) -> Result<Vec<f32>> {
        self.check_input(shape)?;
        let [b, _, h, w] = shape;
        let schedule = self.schedule(h, w);
        let current = self.first_current(input, shape);
        let mut buffers = allocate(&schedule, b);
        let rule_of = |site: Site| match site {
            Site::Pool(_) => Rule::Identity,
            _ => Rule::Relu,
        };
        let rules: Vec<Rule> = self.sites.iter().map(|s| rule_of(*s)).collect();
        let mut nonzero = vec![vec![0; b]; buffers.len()];
        for op in &schedule.ops {
            self.run(op, &mut buffers, &mut nonzero, &current, 1, &rules, None);
        }
        let out = self.head_output(&buffers[schedule.last], 1.0);
        Ok(buffer::nhwc_to_nchw(
            &out,
            [b, self.head.out_channels(), h, w],
        ))
    }

    /// [`Engine::forward`] on a tensor, returning a tensor on the same device.
    pub fn forward_tensor(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        let shape = input.dims();
        let device = input.device();
        let [b, _, h, w] = shape;
        let out = self.forward(&values(input)?, shape)?;
        Ok(Tensor::from_data(
            TensorData::new(out, [b, self.head.out_channels(), h, w]),
            &device,
        ))
    }

    /// Simulate the spiking network on `input` up to the last checkpoint, reporting at each,
    /// as [`crate::simulate::simulate`] does. With `keep_flow`, also return every site's
    /// accumulated output and input after the last step (for fine-tuning).
    pub fn simulate(
        &self,
        input: Tensor<4>,
        checkpoints: &[usize],
        time_chunk: usize,
        keep_flow: bool,
    ) -> Result<(Vec<Checkpoint>, FlowTensors)> {
        self.simulate_timed(input, checkpoints, time_chunk, keep_flow, None)
    }

    /// Where the time of a `time_steps`-step simulation, step by step, goes: each layer (conv,
    /// pool or transposed conv with its neurons) in the order the network runs them.
    pub fn profile(&self, input: Tensor<4>, time_steps: usize) -> Result<Vec<LayerProfile>> {
        let [_, _, h, w] = input.dims();
        let ops = self.schedule(h, w).ops;
        let mut records = vec![OpRecord::default(); ops.len()];
        self.simulate_timed(input, &[time_steps], 1, false, Some(&mut records))?;
        let label = |op: &Op| match *op {
            Op::Inject { .. } => "relu1 (conv1 current)".to_string(),
            Op::Conv { conv, site, .. } => format!("conv{} + {}", conv + 1, self.sites[site]),
            Op::Pool { site, .. } => format!("avgpool + {}", self.sites[site]),
            Op::Up { up, site, .. } => format!("convtranspose{} + {}", up + 1, self.sites[site]),
        };
        let steps = time_steps as f64;
        Ok(ops
            .iter()
            .zip(records)
            .map(|(op, record)| LayerProfile {
                layer: label(op),
                seconds_per_step: record.seconds / steps,
                input_density: (record.convolutions > 0)
                    .then(|| record.density / record.convolutions as f64),
                event_driven: (record.convolutions > 0)
                    .then(|| record.event_driven as f64 / record.convolutions as f64),
            })
            .collect())
    }

    fn simulate_timed(
        &self,
        input: Tensor<4>,
        checkpoints: &[usize],
        time_chunk: usize,
        keep_flow: bool,
        mut records: Option<&mut [OpRecord]>,
    ) -> Result<(Vec<Checkpoint>, FlowTensors)> {
        let Some(neuron) = &self.neuron else {
            return Err(Error::Conversion(
                "this engine holds an ANN; compile the converted network with Engine::spiking"
                    .into(),
            ));
        };
        if checkpoints.is_empty()
            || checkpoints[0] == 0
            || checkpoints.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(Error::Conversion(format!(
                "checkpoints must be positive and strictly increasing, got {checkpoints:?}"
            )));
        }
        if time_chunk == 0 {
            return Err(Error::Conversion("time_chunk must be >= 1".into()));
        }
        let shape = input.dims();
        self.check_input(shape)?;
        let device = input.device();
        let [b, _, h, w] = shape;
        let schedule = self.schedule(h, w);
        let current = self.first_current(&values(input)?, shape);
        let rules = vec![neuron.clone(); self.sites.len()];
        let last_site = self.sites.len() - 1;
        let mut states: Vec<SiteState> = schedule
            .site_shapes
            .iter()
            .enumerate()
            .map(|(site, &(sh, sw, sc))| {
                let n = b * sh * sw * sc;
                // The last site's accumulated output is the head's input; the others' only
                // matter for the flow.
                let keep_output = keep_flow || site == last_site;
                SiteState {
                    membrane: vec![0.0; n],
                    accumulated_input: if keep_flow { vec![0.0; n] } else { Vec::new() },
                    accumulated_output: if keep_output {
                        vec![0.0; n]
                    } else {
                        Vec::new()
                    },
                    spikes: 0,
                }
            })
            .collect();
        let mut chunk_buffers: Option<(usize, Vec<Padded>)> = None;
        let mut reports = Vec::with_capacity(checkpoints.len());
        let mut t = 0;
        for &checkpoint in checkpoints {
            while t < checkpoint {
                let steps = time_chunk.min(checkpoint - t);
                let buffers = match &mut chunk_buffers {
                    Some((k, buffers)) if *k == steps => buffers,
                    slot => &mut slot.insert((steps, allocate(&schedule, b * steps))).1,
                };
                // Every buffer is rewritten in each chunk, its nonzero values counted anew.
                let mut nonzero = vec![vec![0; b * steps]; buffers.len()];
                for (k, op) in schedule.ops.iter().enumerate() {
                    let start = std::time::Instant::now();
                    let input = self.run(
                        op,
                        buffers,
                        &mut nonzero,
                        &current,
                        steps,
                        &rules,
                        Some(&mut states),
                    );
                    if let Some(record) = records.as_deref_mut().map(|r| &mut r[k]) {
                        record.seconds += start.elapsed().as_secs_f64();
                        if let Some(input) = input {
                            record.convolutions += input.density.len();
                            record.density += input.density.iter().sum::<f64>();
                            record.event_driven +=
                                input.event_driven.iter().filter(|&&e| e).count();
                        }
                    }
                }
                t += steps;
            }
            // Σ_t head(s_t) = head(Σ_t s_t) + T·b: the head is linear and has no neuron.
            let (lh, lw, lc) = schedule.site_shapes[last_site];
            let mut summed = Padded::zeros(b, lh, lw, lc);
            scatter_nhwc(&states[last_site].accumulated_output, &mut summed);
            let out = self.head_output(&summed, checkpoint as f32);
            let out = buffer::nhwc_to_nchw(&out, [b, self.head.out_channels(), h, w]);
            reports.push(Checkpoint {
                time_steps: checkpoint,
                output_sum: Tensor::from_data(
                    TensorData::new(out, [b, self.head.out_channels(), h, w]),
                    &device,
                ),
                spikes: self
                    .sites
                    .iter()
                    .zip(&states)
                    .map(|(site, state)| (*site, state.spikes as f64))
                    .collect(),
            });
        }
        let mut flow = BTreeMap::new();
        if keep_flow {
            for ((site, state), &(sh, sw, sc)) in
                self.sites.iter().zip(states).zip(&schedule.site_shapes)
            {
                let shape = [b, sc, sh, sw];
                let tensor = |nhwc: &[f32]| {
                    Tensor::from_data(
                        TensorData::new(buffer::nhwc_to_nchw(nhwc, shape), shape),
                        &device,
                    )
                };
                flow.insert(
                    *site,
                    (
                        tensor(&state.accumulated_output),
                        tensor(&state.accumulated_input),
                    ),
                );
            }
        }
        Ok((reports, flow))
    }

    /// The head on `input` (B images) with its bias counted `bias_times` times; NHWC.
    fn head_output(&self, input: &Padded, bias_times: f32) -> Vec<f32> {
        linear_conv(&self.head, input, bias_times)
    }

    /// Run one layer for `steps` time steps on every sample. `nonzero` counts, per buffer and
    /// image, the nonzero values written in this chunk: a convolution reads its input's counts
    /// to choose between the dense and the event-driven path ([`InputUse`]), and reports them.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        op: &Op,
        buffers: &mut [Padded],
        nonzero: &mut [Vec<u64>],
        first_current: &[f32],
        steps: usize,
        rules: &[Rule],
        states: Option<&mut Vec<SiteState>>,
    ) -> Option<InputUse> {
        let (site, dest) = match *op {
            Op::Inject { site, dest }
            | Op::Conv { site, dest, .. }
            | Op::Pool { site, dest, .. }
            | Op::Up { site, dest, .. } => (site, dest),
        };
        let rule = &rules[site];
        // The destination is taken out of the list so the source can be borrowed beside it;
        // a layer never reads the buffer it writes.
        let mut target = std::mem::replace(&mut buffers[dest.buffer], Padded::zeros(0, 0, 0, 0));
        let sink = Sink::new(&mut target, dest, steps, states.map(|s| &mut s[site]));
        // A convolution's input: how each of its images runs, and the events of those that run
        // event-driven.
        let input_use = |src: usize| {
            let per_image = (buffers[src].values() / buffers[src].images) as f64;
            let density: Vec<f64> = nonzero[src].iter().map(|&n| n as f64 / per_image).collect();
            let event_driven: Vec<bool> = density
                .iter()
                .map(|&d| d < self.event_driven_below as f64)
                .collect();
            let events = event_driven
                .iter()
                .any(|&e| e)
                .then(|| Events::gather(&buffers[src], Some(&event_driven)));
            let input = InputUse {
                density,
                event_driven,
            };
            (input, events)
        };
        let images = sink.samples * steps;
        let mut used = None;
        let counts: Counts = match *op {
            Op::Inject { .. } => {
                let (h, w, c) = (sink.height, sink.width, dest.channels);
                sink.elementwise(rule, |tile, _, y, x, run| {
                    let from = ((tile.sample * h + y) * w + x) * c;
                    run.copy_from_slice(&first_current[from + tile.n0..from + tile.n1]);
                })
            }
            Op::Conv { conv, src, .. } => {
                let conv = &self.convs[conv];
                let (input, events) = input_use(src);
                let src = &buffers[src];
                let counts: Counts =
                    tiles(sink.samples, src.height, src.width + 2, conv.out_channels())
                        .par_iter()
                        .map(|tile| {
                            SCRATCH.with_borrow_mut(|scratch| {
                                let events = events.as_ref();
                                let layout =
                                    tile_products(conv, src, &input, events, tile, steps, scratch);
                                let bias = &conv.bias[tile.n0..tile.n1];
                                let mut counts = Counts::new(images);
                                for t in 0..steps {
                                    for y in tile.y0..tile.y1 {
                                        for x in 0..src.width {
                                            let at = layout.at(t, y - tile.y0, x);
                                            let run = &mut scratch[at..at + bias.len()];
                                            for (v, b) in run.iter_mut().zip(bias) {
                                                *v += b;
                                            }
                                            sink.emit(rule, tile, t, y, x, run, &mut counts);
                                        }
                                    }
                                }
                                counts
                            })
                        })
                        .sum();
                used = Some(input);
                counts
            }
            Op::Pool { src, .. } => {
                let source = &buffers[src.buffer];
                sink.elementwise(rule, |tile, t, y, x, run| {
                    let image = tile.sample * steps + t;
                    let corner = |dy, dx| {
                        source.offset(image, 2 * y + dy, 2 * x + dx) + src.offset + tile.n0
                    };
                    let [a, b, c, d] = [corner(0, 0), corner(0, 1), corner(1, 0), corner(1, 1)];
                    let s = &source.data;
                    for (k, value) in run.iter_mut().enumerate() {
                        *value = (s[a + k] + s[b + k] + s[c + k] + s[d + k]) * 0.25;
                    }
                })
            }
            Op::Up { up, src, .. } => {
                let up = &self.ups[up];
                let (input, events) = input_use(src);
                let src = &buffers[src];
                let (w_in, row) = (src.width, src.width + 2);
                let counts: Counts = tiles(sink.samples, src.height, row, up.out_channels())
                    .par_iter()
                    .map(|tile| {
                        SCRATCH.with_borrow_mut(|scratch| {
                            let events = events.as_ref();
                            let layout =
                                tile_products(up, src, &input, events, tile, steps, scratch);
                            let nb = tile.n1 - tile.n0;
                            let bias = &up.bias[tile.n0..tile.n1];
                            let mut run = vec![0.0; nb];
                            let mut counts = Counts::new(images);
                            for t in 0..steps {
                                for y in tile.y0..tile.y1 {
                                    for (phase, taps) in UP_TAPS.iter().enumerate() {
                                        let (a, bx) = (phase / 2, phase % 2);
                                        for x in 0..w_in {
                                            run.copy_from_slice(bias);
                                            // Input pixel (y, x) sits in padded column x + 1.
                                            for &(dy, dx, tap) in taps.iter() {
                                                let at = layout.at(t, y - tile.y0 + dy, x + 1 + dx);
                                                let products =
                                                    &scratch[at + tap * nb..at + (tap + 1) * nb];
                                                for (v, p) in run.iter_mut().zip(products) {
                                                    *v += p;
                                                }
                                            }
                                            sink.emit(
                                                rule,
                                                tile,
                                                t,
                                                2 * y + a,
                                                2 * x + bx,
                                                &mut run,
                                                &mut counts,
                                            );
                                        }
                                    }
                                }
                            }
                            counts
                        })
                    })
                    .sum();
                used = Some(input);
                counts
            }
        };
        if let Some(state) = sink.state {
            // SAFETY: the parallel phase above has ended; nothing else holds the state.
            unsafe { (*state).spikes += counts.spikes };
        }
        for (total, n) in nonzero[dest.buffer].iter_mut().zip(&counts.nonzero) {
            *total += n;
        }
        buffers[dest.buffer] = target;
        used
    }
}

/// Where a layer's emitted values go: a channel slot of the destination buffer, and the
/// site's state, shared by the tiles of one parallel phase (each writes only its own pixels
/// and channels).
struct Sink {
    dest: SharedMut,
    dest_layout: Padded,
    slot: Slot,
    steps: usize,
    samples: usize,
    height: usize,
    width: usize,
    membrane: Option<SharedMut>,
    accumulated_input: Option<SharedMut>,
    accumulated_output: Option<SharedMut>,
    state: Option<*mut SiteState>,
}

// SAFETY: tiles write disjoint elements through the shared pointers (see `SharedMut`), and
// `state` is dereferenced only after the parallel phase.
unsafe impl Sync for Sink {}

impl Sink {
    fn new(target: &mut Padded, slot: Slot, steps: usize, state: Option<&mut SiteState>) -> Sink {
        let layout = Padded {
            images: target.images,
            height: target.height,
            width: target.width,
            channels: target.channels,
            data: Vec::new(),
        };
        let optional = |values: &mut Vec<f32>| {
            (!values.is_empty()).then(|| SharedMut::new(values.as_mut_slice()))
        };
        let (membrane, accumulated_input, accumulated_output, state) = match state {
            Some(state) => (
                Some(SharedMut::new(&mut state.membrane)),
                optional(&mut state.accumulated_input),
                optional(&mut state.accumulated_output),
                Some(state as *mut SiteState),
            ),
            None => (None, None, None, None),
        };
        Sink {
            dest: SharedMut::new(&mut target.data),
            samples: target.images / steps,
            height: target.height,
            width: target.width,
            dest_layout: layout,
            slot,
            steps,
            membrane,
            accumulated_input,
            accumulated_output,
            state,
        }
    }

    /// Run a layer without a convolution (the injected current, a pool) over every tile of
    /// the destination: `fill(tile, t, y, x, run)` writes the currents of a pixel's channels,
    /// then `rule` applies. Returns the spikes.
    fn elementwise(
        &self,
        rule: &Rule,
        fill: impl Fn(&Tile, usize, usize, usize, &mut [f32]) + Sync,
    ) -> Counts {
        tiles(
            self.samples,
            self.height,
            self.width + 2,
            self.slot.channels,
        )
        .par_iter()
        .map(|tile| {
            let mut run = vec![0.0; tile.n1 - tile.n0];
            let mut counts = Counts::new(self.samples * self.steps);
            for t in 0..self.steps {
                for y in tile.y0..tile.y1 {
                    for x in 0..self.width {
                        fill(tile, t, y, x, &mut run);
                        self.emit(rule, tile, t, y, x, &mut run, &mut counts);
                    }
                }
            }
            counts
        })
        .sum()
    }

    /// Apply `rule` to the run of currents of pixel `(y, x)`, channels `tile.n0..tile.n1`, at
    /// step `t` of the tile's sample, write what it emits, and count its spikes and nonzero
    /// values.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        rule: &Rule,
        tile: &Tile,
        t: usize,
        y: usize,
        x: usize,
        run: &mut [f32],
        counts: &mut Counts,
    ) {
        let n = run.len();
        let neuron =
            ((tile.sample * self.height + y) * self.width + x) * self.slot.channels + tile.n0;
        // SAFETY: the tile owns channels n0..n1 of pixel (y, x) of its sample, in the state
        // and in the destination slot; the ranges are inside the buffers by construction.
        let spikes = unsafe {
            let slice = |shared: &Option<SharedMut>| {
                shared.map(|s| std::slice::from_raw_parts_mut(s.ptr(neuron), n))
            };
            let state = self.membrane.map(|m| RunState {
                membrane: std::slice::from_raw_parts_mut(m.ptr(neuron), n),
                accumulated_input: slice(&self.accumulated_input),
                accumulated_output: slice(&self.accumulated_output),
            });
            rule.apply(run, state)
        };
        let image = tile.sample * self.steps + t;
        let to = self.dest_layout.offset(image, y, x) + self.slot.offset + tile.n0;
        // SAFETY: as above, for the destination slot.
        unsafe { std::slice::from_raw_parts_mut(self.dest.ptr(to), n) }.copy_from_slice(run);
        counts.spikes += spikes;
        counts.nonzero[image] += run.iter().filter(|v| **v != 0.0).count() as u64;
    }
}

/// `conv` of every image of `input` with its bias counted `bias_times` times, no activation:
/// unpadded NHWC `[images, h, w, out_channels]`.
fn linear_conv(conv: &PackedConv, input: &Padded, bias_times: f32) -> Vec<f32> {
    let (b, h, w) = (input.images, input.height, input.width);
    let c = conv.out_channels();
    let mut out = vec![0.0; b * h * w * c];
    let shared = SharedMut::new(&mut out);
    tiles(b, h, w + 2, c).par_iter().for_each(|tile| {
        SCRATCH.with_borrow_mut(|scratch| {
            let layout = conv.compute(input, tile, 1, None, scratch);
            for y in tile.y0..tile.y1 {
                for x in 0..w {
                    let from = &scratch[layout.at(0, y - tile.y0, x)..][..tile.n1 - tile.n0];
                    let to = ((tile.sample * h + y) * w + x) * c;
                    for (k, value) in from.iter().enumerate() {
                        let co = tile.n0 + k;
                        // SAFETY: tiles own disjoint (sample, row, channel) ranges.
                        unsafe { *shared.at(to + co) = value + bias_times * conv.bias[co] };
                    }
                }
            }
        })
    });
    out
}

/// Buffers of a schedule for `images` images (samples · steps), zero-filled.
fn allocate(schedule: &Schedule, images: usize) -> Vec<Padded> {
    schedule
        .buffers
        .iter()
        .map(|&(h, w, c)| Padded::zeros(images, h, w, c))
        .collect()
}

/// Copy unpadded NHWC values into the interior of `padded`.
fn scatter_nhwc(values: &[f32], padded: &mut Padded) {
    let (h, w, c) = (padded.height, padded.width, padded.channels);
    for i in 0..padded.images {
        for y in 0..h {
            let to = padded.offset(i, y, 0);
            let from = ((i * h + y) * w) * c;
            padded.data[to..to + w * c].copy_from_slice(&values[from..from + w * c]);
        }
    }
}

/// Threads the engine's tiles run on (rayon's global pool: all cores, or `RAYON_NUM_THREADS`).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests;
