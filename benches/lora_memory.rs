//! Training memory of LoRA against full fine-tuning on a 7B-shaped LLark: Llama 2 7B's layer
//! and vocabulary sizes (hidden 4096, MLP 11008, 32 heads, vocabulary 32000) with 1 and 2 of
//! its 32 decoder layers, a Linear projector from Jukebox's width 4800, f32, one AdamW step
//! (LM + projector) on one example of 128 tokens.
//!
//! `cargo bench --bench lora_memory` runs each case in a process of its own and prints its peak
//! resident memory (`VmHWM`), the cost of one decoder layer (the 2-layer peak minus the
//! 1-layer one) and the peak projected to 32 layers. LoRA: rank 8, alpha 16, on q/k/v/o of
//! every layer (PEFT's adapters; the base frozen, so it has neither gradients nor optimizer
//! state). Linux only (it reads `/proc/self/status`).

mod common;

use std::process::Command;

use burn::module::Module;
use common::*;
use llark::backend::TrainBackend;
use llark::Llark;
use llark_data::collate;
use llark_lm::{LlamaConfig, LoraConfig, TargetModule};
use llark_train::AdamWOptions;

/// Jukebox-5B's feature width, the width of LLark's projector input.
const JUKEBOX_WIDTH: usize = 4800;
const LAYERS_7B: usize = 32;

/// The peak resident memory of this process so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

/// One case: builds the model, takes one optimizer step and prints `peak <bytes> <trainable>`.
fn child(lora: bool, layers: usize) {
    let device = Default::default();
    let llama = LlamaConfig {
        num_hidden_layers: layers,
        max_position_embeddings: 512,
        ..LlamaConfig::llama2_7b()
    };
    let mut model = llark_with(llama, JUKEBOX_WIDTH, &device);
    if lora {
        let targets = [
            TargetModule::QProj,
            TargetModule::KProj,
            TargetModule::VProj,
            TargetModule::OProj,
        ];
        model = model
            .with_lora(&LoraConfig::new(8, 16.0, &targets))
            .expect("adapters");
    }
    let trainable = if lora {
        let adapters: usize = model
            .lm
            .adapters()
            .iter()
            .map(|(_, _, a)| a.num_params())
            .sum();
        adapters + model.projector.num_params()
    } else {
        model.num_params()
    };
    let examples = examples(1);
    let batch = collate(&examples, 0, 1).expect("batch");
    let mut optim = AdamWOptions::default()
        .to_burn()
        .init::<TrainBackend, Llark<TrainBackend>>();
    for _ in 0..2 {
        model = step(
            model,
            &mut optim,
            &batch,
            frames_of(0, JUKEBOX_WIDTH),
            JUKEBOX_WIDTH,
        );
    }
    println!("peak {} {trainable}", peak_rss());
}

fn gib(bytes: f64) -> String {
    format!("{:.2} GiB", bytes / f64::from(1u32 << 30))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        child(args[i + 1] == "lora", args[i + 2].parse().expect("layers"));
        return;
    }
    println!("lora_memory: 7B-shaped LLark, f32, one example of {SEQ} tokens, AdamW");
    for mode in ["full", "lora"] {
        let mut peaks = Vec::new();
        for layers in [1usize, 2] {
            let output = Command::new(std::env::current_exe().expect("bench binary"))
                .args(["--case", mode, &layers.to_string()])
                .output()
                .expect("case");
            assert!(
                output.status.success(),
                "{mode} with {layers} layers failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let text = String::from_utf8_lossy(&output.stdout);
            let line = text.lines().find(|l| l.starts_with("peak ")).expect("peak");
            let fields: Vec<f64> = line[5..]
                .split_whitespace()
                .map(|n| n.parse().expect("number"))
                .collect();
            println!(
                "lora_memory {mode}, {layers} layer(s): peak {}, {:.0}M trainable parameters",
                gib(fields[0]),
                fields[1] / 1e6
            );
            peaks.push(fields[0]);
        }
        let per_layer = peaks[1] - peaks[0];
        println!(
            "lora_memory {mode}: {} per decoder layer; projected to {LAYERS_7B} layers: {}",
            gib(per_layer),
            gib(peaks[0] + per_layer * (LAYERS_7B - 1) as f64)
        );
    }
}
