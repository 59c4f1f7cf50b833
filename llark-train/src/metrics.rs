//! Per-step metrics: a JSON Lines log and the loss/learning-rate curve (PNG).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// What one optimizer step reports (one line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimizer steps completed (1 for the first step).
    pub step: usize,
    /// The step's loss (see [`crate::AccumulationNorm`]).
    pub loss: f64,
    /// The learning rate the step used.
    pub lr: f64,
    /// The global gradient norm before clipping.
    pub grad_norm: f64,
    /// Real (unpadded) tokens of the step.
    pub tokens: usize,
    /// Tokens per second of the step.
    pub tokens_per_s: f64,
    /// Seconds since the run started (including time before a resume).
    pub elapsed_s: f64,
    /// Examples drawn so far.
    pub examples_seen: u64,
}

/// `metrics.jsonl`: one [`StepMetrics`] per line, appended and flushed each step.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: fs::File,
}

impl MetricsLog {
    /// Opens `path`, keeping the lines of steps `<= keep_up_to` (those a resumed run has already
    /// done; 0 starts afresh) and returning them.
    pub fn open(path: impl Into<PathBuf>, keep_up_to: usize) -> Result<(Self, Vec<StepMetrics>)> {
        let path = path.into();
        let kept = Self::read(&path, keep_up_to)?;
        let mut text = String::new();
        for m in &kept {
            text.push_str(&to_line(&path, m)?);
        }
        let tmp = path.with_extension("jsonl.partial");
        fs::write(&tmp, text).map_err(|e| TrainError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        Ok((MetricsLog { path, file }, kept))
    }

    /// The lines of `path` of steps `<= keep_up_to` (none when it is 0 or the file does not
    /// exist), without writing anything.
    pub fn read(path: impl AsRef<Path>, keep_up_to: usize) -> Result<Vec<StepMetrics>> {
        let path = path.as_ref();
        let mut kept = Vec::new();
        if keep_up_to > 0 && path.exists() {
            let file = fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
            for line in BufReader::new(file).lines() {
                let line = line.map_err(|e| TrainError::io(path, e))?;
                if let Ok(m) = serde_json::from_str::<StepMetrics>(&line) {
                    if m.step <= keep_up_to {
                        kept.push(m);
                    }
                }
            }
        }
        Ok(kept)
    }

    /// Appends one step.
    pub fn append(&mut self, m: &StepMetrics) -> Result<()> {
        let line = to_line(&self.path, m)?;
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| TrainError::io(&self.path, e))
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn to_line(path: &Path, m: &StepMetrics) -> Result<String> {
    serde_json::to_string(m)
        .map(|s| s + "\n")
        .map_err(|e| TrainError::json(path, e))
}

/// Width and height of the training-curve image.
pub const PLOT_SIZE: (u32, u32) = (800, 600);

/// Draws the training curve as a PNG: loss against step (top, blue), learning rate against step
/// (bottom, red), each scaled to its own range, with light grid lines at tenths. The image has no
/// text (plotters is built without font support so that it needs no system fonts); the ranges
/// are in `metrics.jsonl`.
pub fn plot_curve(path: &Path, history: &[StepMetrics]) -> Result<()> {
    let (w, h) = PLOT_SIZE;
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    let fail = |reason: String| TrainError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let (top, bottom) = root.split_vertically(h / 2);
        draw_panel(&top, history, |m| m.loss, BLUE).map_err(fail)?;
        draw_panel(&bottom, history, |m| m.lr, RED).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    write_png(path, &buffer, w, h).map_err(fail)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    history: &[StepMetrics],
    value: fn(&StepMetrics) -> f64,
    color: RGBColor,
) -> std::result::Result<(), String> {
    let points: Vec<(f64, f64)> = history
        .iter()
        .map(|m| (m.step as f64, value(m)))
        .filter(|(_, y)| y.is_finite())
        .collect();
    let x_max = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let y_min = points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let mut y_max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if y_max.is_nan() || y_max <= y_min {
        y_max = y_min + 1.0;
    }
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .build_cartesian_2d(0.0..x_max, y_min..y_max * 1.05)
        .map_err(|e| e.to_string())?;
    let grey = RGBColor(220, 220, 220);
    for i in 0..=10 {
        let x = x_max * f64::from(i) / 10.0;
        let y = y_min + (y_max * 1.05 - y_min) * f64::from(i) / 10.0;
        chart
            .draw_series(LineSeries::new([(x, y_min), (x, y_max * 1.05)], grey))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new([(0.0, y), (x_max, y)], grey))
            .map_err(|e| e.to_string())?;
    }
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn write_png(path: &Path, rgb: &[u8], w: u32, h: u32) -> std::result::Result<(), String> {
    let tmp = path.with_extension("png.partial");
    {
        let file = fs::File::create(&tmp).map_err(|e| e.to_string())?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    fs::rename(&tmp, path).map_err(|e| e.to_string())
}
