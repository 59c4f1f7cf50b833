//! `LoraAdapter`: the low-rank update `scale * B (A dropout(x))` beside a frozen projection.

use burn::module::{Initializer, Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{backend::Backend, Distribution, Tensor};

use crate::lora::config::LoraInit;

/// The two low-rank matrices of one adapted projection, with PEFT's layout: `lora_a` `[r, in]`
/// (`lora_A.weight`) and `lora_b` `[out, r]` (`lora_B.weight`).
#[derive(Module, Debug)]
pub struct LoraAdapter<B: Backend> {
    /// `[r, in]` down-projection.
    pub lora_a: Param<Tensor<B, 2>>,
    /// `[out, r]` up-projection.
    pub lora_b: Param<Tensor<B, 2>>,
    /// Dropout on the adapter's input; active on autodiff backends only (while training).
    pub dropout: Dropout,
    /// `lora_alpha / r`.
    pub scale: f64,
}

impl<B: Backend> LoraAdapter<B> {
    /// Wraps loaded matrices (`lora_a` `[r, in]`, `lora_b` `[out, r]`; the caller checks that the
    /// ranks agree). `dropout` must be in `[0, 1)` (see [`crate::LoraConfig::validate`]).
    pub fn new(lora_a: Tensor<B, 2>, lora_b: Tensor<B, 2>, scale: f64, dropout: f64) -> Self {
        Self {
            lora_a: Param::from_tensor(lora_a),
            lora_b: Param::from_tensor(lora_b),
            dropout: DropoutConfig::new(dropout).init(),
            scale,
        }
    }

    /// A new adapter for a projection `[out, in]` drawn from the backend's generator as PEFT
    /// initialises it: `A` kaiming-uniform (`U(-1/sqrt(in), 1/sqrt(in))`, PyTorch's `nn.Linear`
    /// default) or `N(0, 1/r)`, `B` zeros (or kaiming-uniform for [`LoraInit::Random`]).
    pub fn init(
        [out, inp]: [usize; 2],
        r: usize,
        scale: f64,
        dropout: f64,
        init: LoraInit,
        device: &B::Device,
    ) -> Self {
        // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in).
        let kaiming = Initializer::KaimingUniform {
            gain: (1.0f64 / 3.0).sqrt(),
            fan_out_only: false,
        };
        let lora_a = match init {
            LoraInit::Gaussian => {
                Tensor::random([r, inp], Distribution::Normal(0.0, 1.0 / r as f64), device)
            }
            LoraInit::Kaiming | LoraInit::Random => kaiming
                .init_with([r, inp], Some(inp), Some(r), device)
                .val(),
        };
        let lora_b = match init {
            LoraInit::Random => kaiming
                .init_with([out, r], Some(r), Some(out), device)
                .val(),
            LoraInit::Kaiming | LoraInit::Gaussian => Tensor::zeros([out, r], device),
        };
        Self::new(lora_a, lora_b, scale, dropout)
    }

    /// The rank `r`.
    pub fn rank(&self) -> usize {
        self.lora_a.dims()[0]
    }

    /// The update of inputs `[n, in]`: `scale * dropout(x) A^T B^T`, `[n, out]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.dropout
            .forward(x)
            .matmul(self.lora_a.val().transpose())
            .matmul(self.lora_b.val().transpose())
            .mul_scalar(self.scale)
    }

    /// The update folded into a weight `[out, in]`: `scale * B A` (what merging adds).
    pub fn weight_delta(&self) -> Tensor<B, 2> {
        self.lora_b
            .val()
            .matmul(self.lora_a.val())
            .mul_scalar(self.scale)
    }
}
