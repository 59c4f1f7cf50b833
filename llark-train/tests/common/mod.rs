//! A tiny model of the trainer's own for its end-to-end tests (an embedding + MLP language model
//! over 64 tokens whose every position also sees the sum of its example's projected audio), and
//! the synthetic data, configuration and helpers the tests share.
#![allow(dead_code)]

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Embedding, Linear};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::activation::{gelu, log_softmax};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use llark_data::{collate, AudioSpan, Batch, TaskFamily, TokenizedExample, IGNORE_INDEX};
use llark_train::{
    accumulate_gradients, AccumulationNorm, AdamWOptions, CheckpointOptions, EncodingSource,
    InMemoryAudio, ModelError, ParamGroup, StepMetrics, TrainConfig, TrainData, TrainModel, Warmup,
};

/// The backend of the tests.
pub type B = Autodiff<Flex>;

/// Vocabulary of the tiny model.
pub const VOCAB: usize = 64;
/// Width of its hidden layer.
pub const HIDDEN: usize = 64;
/// Width of the audio encodings.
pub const WIDTH: usize = 8;
/// Audio frames per example.
pub const FRAMES: usize = 3;
const START: u32 = 61;
const END: u32 = 62;
const PATCH: u32 = 63;

/// Deterministic pseudo-random numbers (a tiny LCG) for weights and data.
pub fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

fn uniform<Bk: Backend>(state: &mut u64, shape: [usize; 2], scale: f32) -> Tensor<Bk, 2> {
    let values: Vec<f32> = (0..shape[0] * shape[1])
        .map(|_| ((lcg(state) % 2000) as f32 / 1000.0 - 1.0) * scale)
        .collect();
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

fn linear<Bk: Backend>(state: &mut u64, input: usize, output: usize) -> Linear<Bk> {
    let scale = (1.0 / input as f32).sqrt();
    Linear {
        weight: Param::from_tensor(uniform(state, [input, output], scale)),
        bias: Some(Param::from_tensor(
            uniform(state, [1, output], scale).reshape([output]),
        )),
    }
}

/// The tiny model: token embedding plus the sum of the example's projected audio frames,
/// two GELU layers, an output layer. `projector` is the audio part ([`ParamGroup::Projector`]),
/// everything else the language model.
#[derive(Module, Debug)]
pub struct TinyLm<B: Backend> {
    /// Token embeddings `[VOCAB, HIDDEN]`.
    pub tokens: Embedding<B>,
    /// Audio encodings `WIDTH -> HIDDEN`.
    pub projector: Linear<B>,
    /// Hidden layer.
    pub mix: Linear<B>,
    /// Output layer `HIDDEN -> VOCAB`.
    pub head: Linear<B>,
}

/// A tiny model with weights drawn from `seed` (burn's own initialisers draw from an unseeded
/// generator).
pub fn tiny_lm(seed: u64) -> TinyLm<B> {
    let mut state = seed;
    TinyLm {
        tokens: Embedding {
            weight: Param::from_tensor(uniform(&mut state, [VOCAB, HIDDEN], 1.0)),
        },
        projector: linear(&mut state, WIDTH, HIDDEN),
        mix: linear(&mut state, HIDDEN, HIDDEN),
        head: linear(&mut state, HIDDEN, VOCAB),
    }
}

impl<Bk: Backend> TinyLm<Bk> {
    /// Logits `[batch, seq, VOCAB]` of a collated batch with its audio rows in splice order.
    pub fn logits(&self, batch: &Batch, audio: Tensor<Bk, 2>) -> Result<Tensor<Bk, 3>, ModelError> {
        let [rows, width] = audio.dims();
        if width != WIDTH {
            return Err(format!("audio of width {width}, the model takes {WIDTH}").into());
        }
        let device = audio.device();
        let projected = self.projector.forward(audio);
        let mut context = Vec::with_capacity(batch.batch_size);
        let mut offset = 0;
        for spans in &batch.audio_spans {
            let frames: usize = spans.iter().map(|s| s.frames).sum();
            if frames == 0 {
                context.push(Tensor::zeros([1, HIDDEN], &device));
            } else if offset + frames <= rows {
                let rows = projected
                    .clone()
                    .slice([offset..offset + frames, 0..HIDDEN]);
                context.push(rows.sum_dim(0));
            }
            offset += frames;
        }
        if offset != rows {
            return Err(
                format!("the spans cover {offset} audio rows, the tensor has {rows}").into(),
            );
        }
        let context = Tensor::cat(context, 0).unsqueeze_dim::<3>(1);
        let ids: Vec<i64> = batch.input_ids.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::<Bk, 2, Int>::from_data(
            TensorData::new(ids, [batch.batch_size, batch.seq_len]),
            &device,
        );
        let hidden = gelu(self.tokens.forward(ids) + context);
        let hidden = hidden.clone() + gelu(self.mix.forward(hidden));
        Ok(self.head.forward(hidden))
    }
}

impl TrainModel<B> for TinyLm<B> {
    fn train_loss(&self, batch: &Batch, audio: Tensor<B, 2>) -> Result<Tensor<B, 1>, ModelError> {
        let logits = self.logits(batch, audio)?;
        let (rows, seq) = (batch.batch_size, batch.seq_len);
        if seq < 2 {
            return Err("sequences of one token have nothing to predict".into());
        }
        // Position t predicts the label of t + 1; IGNORE_INDEX labels do not count.
        let mut targets = Vec::with_capacity(rows * (seq - 1));
        let mut mask = Vec::with_capacity(rows * (seq - 1));
        for row in batch.labels.chunks(seq) {
            for &label in &row[1..] {
                targets.push(label.max(0));
                mask.push(if label == IGNORE_INDEX { 0.0f32 } else { 1.0 });
            }
        }
        let counted: f32 = mask.iter().sum();
        if counted == 0.0 {
            return Err("the batch has no labelled token".into());
        }
        let device = logits.device();
        let logp = log_softmax(logits.slice([0..rows, 0..seq - 1, 0..VOCAB]), 2);
        let targets =
            Tensor::<B, 3, Int>::from_data(TensorData::new(targets, [rows, seq - 1, 1]), &device);
        let mask = Tensor::<B, 3>::from_data(TensorData::new(mask, [rows, seq - 1, 1]), &device);
        Ok((logp.gather(2, targets) * mask).sum().neg() / counted)
    }

    fn param_group(path: &[String]) -> ParamGroup {
        match path.first().map(String::as_str) {
            Some("projector") => ParamGroup::Projector,
            _ => ParamGroup::Lm,
        }
    }

    fn audio_width(&self) -> usize {
        WIDTH
    }

    fn export(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir)?;
        self.clone()
            .save_file(dir.join("model"), &recorder())
            .map_err(Into::into)
    }
}

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

/// Loads what [`TrainModel::export`] wrote.
pub fn load_exported(dir: &Path) -> TinyLm<B> {
    tiny_lm(0)
        .load_file(dir.join("model"), &recorder(), &Default::default())
        .unwrap()
}

/// `n` examples: `<s> <audio_start> patch x3 <audio_end> q` then an answer of `answer_len(i)`
/// tokens that only the audio identifies; labels on the answer only. Families cycle.
pub fn examples(
    n: usize,
    answer_len: impl Fn(usize) -> usize,
) -> (Vec<TokenizedExample>, InMemoryAudio) {
    let mut rng = 7u64;
    let mut audio = InMemoryAudio::new(WIDTH);
    let mut out = Vec::new();
    for i in 0..n {
        let mut ids = vec![1, START, PATCH, PATCH, PATCH, END, 5];
        let prefix = ids.len();
        for _ in 0..answer_len(i) {
            ids.push(3 + (lcg(&mut rng) % 55) as u32);
        }
        ids.push(2);
        let mut labels: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
        labels[..prefix].fill(IGNORE_INDEX);
        let id = format!("clip-{i}");
        let values = (0..FRAMES * WIDTH)
            .map(|_| (lcg(&mut rng) % 2000) as f32 / 1000.0 - 1.0)
            .collect();
        audio.insert(id.clone(), values).unwrap();
        out.push(TokenizedExample {
            id,
            input_ids: ids,
            labels,
            audio_spans: vec![AudioSpan {
                start: 1,
                frames: FRAMES,
            }],
            task: Some(TaskFamily::ALL[i % 3]),
        });
    }
    (out, audio)
}

/// `n` examples with answers of 4 to 6 tokens.
pub fn data(n: usize) -> TrainData<InMemoryAudio> {
    let (ex, audio) = examples(n, |i| 4 + i % 3);
    TrainData::new(ex, audio, 0).unwrap()
}

/// LM + projector, AdamW lr 1e-2, cosine with 5% warmup, batch 4 x 2 accumulated, clipping 1.0,
/// LLark's task mix, a checkpoint halfway.
pub fn config(steps: usize) -> TrainConfig {
    TrainConfig {
        optimizer: AdamWOptions {
            learning_rate: 1e-2,
            ..AdamWOptions::default()
        },
        warmup: Warmup {
            ratio: 0.05,
            steps: 0,
        },
        grad_accum_steps: 2,
        max_steps: Some(steps),
        seed: 3,
        checkpoint: CheckpointOptions {
            every: steps / 2,
            keep_last: 2,
        },
        progress_bar: false,
        ..TrainConfig::llark()
    }
}

/// The losses of a history.
pub fn losses(t: &[StepMetrics]) -> Vec<f64> {
    t.iter().map(|m| m.loss).collect()
}

/// Largest absolute difference of two loss lists.
pub fn max_loss_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Every float parameter of a model as `(module path, little-endian bytes)`.
pub fn weights<M: Module<B>>(model: &M) -> Vec<(String, Vec<u8>)> {
    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, Vec<u8>)>,
    }
    impl ModuleVisitor<B> for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            let bytes = p.val().into_data().as_bytes().to_vec();
            self.out.push((self.path.join("."), bytes));
        }
    }
    let mut c = Collect::default();
    model.visit(&mut c);
    c.out
}

/// The f32 values of [`weights`]' bytes.
pub fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The accumulated gradients of `batches` (one micro-batch each), per parameter.
pub fn grads_of<M: TrainModel<B>>(
    model: &M,
    batches: Vec<Vec<TokenizedExample>>,
    audio: &InMemoryAudio,
    norm: AccumulationNorm,
) -> Vec<Vec<f32>> {
    let device = Default::default();
    let micro = batches
        .iter()
        .map(|ex| {
            let batch = collate(ex, 0, 1).unwrap();
            let (values, shape) = audio.gather(&batch).unwrap();
            (
                batch,
                Tensor::<B, 2>::from_data(TensorData::new(values, shape), &device),
            )
        })
        .collect();
    let grads = accumulate_gradients(model, micro, norm).unwrap().grads;
    struct Collect<'a>(&'a burn::optim::GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor<B> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            if let Some(g) = self.0.get::<<B as AutodiffBackend>::InnerBackend, D>(p.id) {
                self.1.push(g.into_data().to_vec().unwrap());
            }
        }
    }
    let mut c = Collect(&grads, Vec::new());
    model.visit(&mut c);
    c.1
}

/// Largest absolute difference of two gradient lists.
pub fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// The files of a directory, sorted, with their bytes.
pub fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}
