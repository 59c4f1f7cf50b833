//! Jukebox's `LabelConditioner`: the start token `y_cond` (artist + genre embeddings) and the time
//! signal `x_cond` (total-length, absolute-position and relative-position range embeddings).
//!
//! Bins are computed with the reference's f32 arithmetic (`i / n_time` interpolation, clamp of the
//! relative end only), so they match the original to the bit.

use super::config::PriorConfig;
use crate::weights::WeightFile;
use crate::EncoderError;

/// The embedding tables of the label conditioner (`y_emb.*`), kept in host memory.
#[derive(Debug, Clone)]
pub struct LabelConditioner {
    config: PriorConfig,
    artist: Vec<f32>,
    genre: Vec<f32>,
    total_length: Vec<f32>,
    absolute: Vec<f32>,
    relative: Vec<f32>,
}

/// The conditioning of one label vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditioning {
    /// Start token, `[width]`: `Σ_genre GENRE[g] + ARTIST[a]`.
    pub y_cond: Vec<f32>,
    /// Time signal, `[n_time, width]` row-major: `(TL[tl] + ABS[abs_t]) + REL[rel_t]`.
    pub x_cond: Vec<f32>,
    /// Bin of the total-length embedding.
    pub tl_bin: i64,
    /// Bin of the absolute-position embedding per time step.
    pub abs_bins: Vec<i64>,
    /// Bin of the relative-position embedding per time step.
    pub rel_bins: Vec<i64>,
}

/// A `RangeEmbedding` binning: `floor(bins * (pos - min) / (max - min))` in f32.
struct Range {
    min: f64,
    max: f64,
    bins: usize,
}

impl Range {
    fn bin(&self, position: f32) -> i64 {
        let normalised = (position - self.min as f32) / ((self.max - self.min) as f32);
        (self.bins as f32 * normalised).floor() as i64
    }

    /// Bins of `n_time` positions interpolated as `start + (end - start) * (i / n_time)`.
    fn bins_over(&self, start: f32, end: f32, n_time: usize) -> Vec<i64> {
        if n_time == 1 {
            return vec![self.bin(start)];
        }
        (0..n_time)
            .map(|i| {
                let interp = i as f32 / n_time as f32;
                self.bin(start + (end - start) * interp)
            })
            .collect()
    }
}

/// The time-signal bins of one label vector (no embedding tables needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBins {
    /// Bin of the total-length embedding.
    pub tl_bin: i64,
    /// Bin of the absolute-position embedding per time step.
    pub abs_bins: Vec<i64>,
    /// Bin of the relative-position embedding per time step.
    pub rel_bins: Vec<i64>,
}

fn label_error(labels: &[i64], message: String) -> EncoderError {
    EncoderError::Labels {
        labels: labels.to_vec(),
        message,
    }
}

/// Computes the total-length, absolute- and relative-position bins of
/// `labels = [total_length, offset, length, ..]` for `config.n_ctx` time steps, with the
/// reference's f32 arithmetic and range checks.
pub fn time_bins(config: &PriorConfig, labels: &[i64]) -> Result<TimeBins, EncoderError> {
    let fail = |message: String| label_error(labels, message);
    if labels.len() < 3 {
        return Err(fail(
            "expected at least [total_length, offset, length]".into(),
        ));
    }
    let (total, offset, length) = (labels[0], labels[1], labels[2]);
    let sr = f64::from(config.sr);
    let (min_len, max_len) = (config.min_duration * sr, config.max_duration * sr);
    let end = offset + length;
    if !(min_len <= total as f64 && (total as f64) < max_len) {
        return Err(fail(format!(
            "total_length {total} outside [{min_len}, {max_len})"
        )));
    }
    if offset < 0 || offset as f64 >= max_len || end as f64 > max_len || length < 0 {
        return Err(fail(format!(
            "offset {offset} / end {end} outside the absolute range [0, {max_len})"
        )));
    }
    let (total32, start32, end32) = (total as f32, offset as f32, end as f32);
    let rel_start = start32 / total32;
    if !(0.0..1.0).contains(&rel_start) {
        return Err(fail(format!(
            "offset / total_length = {rel_start} outside [0, 1)"
        )));
    }
    // Only the end of the relative range is clamped, as in the reference.
    let rel_end = (end32 / total32).clamp(0.0, 1.0);
    let bins = config.t_bins;
    let n_time = config.n_ctx;
    let tl_bin = Range {
        min: min_len,
        max: max_len,
        bins,
    }
    .bin(total32);
    let abs_bins = Range {
        min: 0.0,
        max: max_len,
        bins,
    }
    .bins_over(start32, end32, n_time);
    let rel_bins = Range {
        min: 0.0,
        max: 1.0,
        bins,
    }
    .bins_over(rel_start, rel_end, n_time);
    let in_range = |b: &i64| (0..bins as i64).contains(b);
    if !in_range(&tl_bin) || !abs_bins.iter().all(in_range) || !rel_bins.iter().all(in_range) {
        return Err(fail(format!("a time-signal bin falls outside [0, {bins})")));
    }
    Ok(TimeBins {
        tl_bin,
        abs_bins,
        rel_bins,
    })
}

impl LabelConditioner {
    /// Loads the `y_emb.*` tables of a prior state dict.
    pub fn load(file: &WeightFile, config: &PriorConfig) -> Result<Self, EncoderError> {
        let w = config.width;
        let [genre_bins, artist_bins] = config.y_bins;
        let t = config.t_bins;
        Ok(Self {
            config: config.clone(),
            artist: file.read_f32("y_emb.artist_emb.emb.weight", &[artist_bins, w])?,
            genre: file.read_f32("y_emb.bow_genre_emb.emb.weight", &[genre_bins, w])?,
            total_length: file.read_f32("y_emb.total_length_emb.emb.weight", &[t, w])?,
            absolute: file.read_f32("y_emb.absolute_pos_emb.emb.weight", &[t, w])?,
            relative: file.read_f32("y_emb.relative_pos_emb.emb.weight", &[t, w])?,
        })
    }

    fn row<'a>(&self, table: &'a [f32], index: i64) -> &'a [f32] {
        let w = self.config.width;
        let i = index as usize;
        &table[i * w..(i + 1) * w]
    }

    /// Computes `y_cond` and `x_cond` for `labels = [total_length, offset, length, artist, genres..]`
    /// (the vector after Jukebox's `get_y`). Values the reference would reject are errors.
    pub fn condition(&self, labels: &[i64]) -> Result<Conditioning, EncoderError> {
        let fail = |message: String| label_error(labels, message);
        let slots = self.config.max_bow_genre_size;
        let [genre_bins, artist_bins] = self.config.y_bins;
        if labels.len() != 4 + slots {
            return Err(fail(format!("expected {} values", 4 + slots)));
        }
        let artist = labels[3];
        let genres = &labels[4..];
        if !(0..artist_bins as i64).contains(&artist) {
            return Err(fail(format!(
                "artist id {artist} outside [0, {artist_bins})"
            )));
        }
        if let Some(g) = genres.iter().find(|&&g| g >= genre_bins as i64 || g < -1) {
            return Err(fail(format!("genre id {g} outside [-1, {genre_bins})")));
        }

        // Start token: masked sum over genre slots (slots holding -1 contribute 0), then + artist.
        let mut y_cond = vec![0f32; self.config.width];
        for &g in genres {
            let mask = if g >= 0 { 1f32 } else { 0f32 };
            for (acc, &v) in y_cond.iter_mut().zip(self.row(&self.genre, g.max(0))) {
                *acc += v * mask;
            }
        }
        for (acc, &v) in y_cond.iter_mut().zip(self.row(&self.artist, artist)) {
            *acc += v;
        }

        // Time signal, summed in the reference's order: (TL + ABS) + REL.
        let TimeBins {
            tl_bin,
            abs_bins,
            rel_bins,
        } = time_bins(&self.config, labels)?;
        let tl = self.row(&self.total_length, tl_bin);
        let mut x_cond = Vec::with_capacity(abs_bins.len() * self.config.width);
        for (&a, &r) in abs_bins.iter().zip(&rel_bins) {
            let (abs, rel) = (self.row(&self.absolute, a), self.row(&self.relative, r));
            x_cond.extend(
                tl.iter()
                    .zip(abs)
                    .zip(rel)
                    .map(|((&t, &a), &r)| (t + a) + r),
            );
        }
        Ok(Conditioning {
            y_cond,
            x_cond,
            tl_bin,
            abs_bins,
            rel_bins,
        })
    }
}
