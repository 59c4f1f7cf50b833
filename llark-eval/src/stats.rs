//! Confidence intervals used by LLark's notebooks: Clopper–Pearson for genre accuracy and a
//! percentile bootstrap for instrument F1.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// A confidence interval, with the centre and half-width LLark's notebooks print.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl ConfidenceInterval {
    /// `(lower + upper) / 2` (the notebooks' `ci_center`).
    pub fn center(&self) -> f64 {
        (self.lower + self.upper) / 2.0
    }

    /// `(upper − lower) / 2` (the notebooks' `ci_width`).
    pub fn half_width(&self) -> f64 {
        (self.upper - self.lower) / 2.0
    }
}

/// Natural log of the gamma function for `x > 0` (Lanczos, g = 7, 9 terms; relative error
/// around 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection formula.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let series = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// Smallest magnitude the modified Lentz recurrences allow before dividing.
const LENTZ_TINY: f64 = 1e-300;

/// `v`, moved away from zero to at least [`LENTZ_TINY`] in magnitude.
fn away_from_zero(v: f64) -> f64 {
    if v.abs() < LENTZ_TINY {
        LENTZ_TINY
    } else {
        v
    }
}

/// One modified-Lentz step with coefficient `aa`: updates `c` and `d` and returns the factor
/// `c * d` that multiplies the fraction's value.
fn lentz_step(aa: f64, c: &mut f64, d: &mut f64) -> f64 {
    *d = 1.0 / away_from_zero(1.0 + aa * *d);
    *c = away_from_zero(1.0 + aa / *c);
    *d * *c
}

/// Continued fraction for the incomplete beta function (modified Lentz).
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const EPS: f64 = 1e-16;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / away_from_zero(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..10_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        h *= lentz_step(even, &mut c, &mut d);
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        let delta = lentz_step(odd, &mut c, &mut d);
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function `I_x(a, b)` for `a, b > 0`, `0 ≤ x ≤ 1`.
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// Quantile function of the Beta(a, b) distribution (`scipy.stats.beta.ppf`), by bisection
/// on [`regularized_incomplete_beta`] to full double precision. `None` when `a` or `b` is
/// not > 0 or `q` is outside [0, 1] (where scipy returns NaN).
pub fn beta_ppf(q: f64, a: f64, b: f64) -> Option<f64> {
    if !(a > 0.0 && b > 0.0 && (0.0..=1.0).contains(&q)) {
        return None;
    }
    if q == 0.0 {
        return Some(0.0);
    }
    if q == 1.0 {
        return Some(1.0);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if regularized_incomplete_beta(a, b, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// LLark's `clopper_pearson(acc, n, alpha)`: `x = int(acc * n)` (truncation of the float
/// product, as in the notebook), lower = Beta(α/2; x, n − x + 1), upper =
/// Beta(1 − α/2; x + 1, n − x), with 0 and 1 where the Beta quantile is undefined (x = 0,
/// x = n). LLark calls it with n = 1000 whatever the real number of rows.
pub fn clopper_pearson(acc: f64, n: usize, alpha: f64) -> Result<ConfidenceInterval, EvalError> {
    let valid = (0.0..=1.0).contains(&acc) && alpha > 0.0 && alpha < 1.0 && n > 0;
    if !valid {
        return Err(EvalError::InvalidArgument(format!(
            "clopper_pearson(acc = {acc}, n = {n}, alpha = {alpha})"
        )));
    }
    let n_f = n as f64;
    let x = (acc * n_f).trunc();
    let lower = beta_ppf(alpha / 2.0, x, n_f - x + 1.0).unwrap_or(0.0);
    let upper = beta_ppf(1.0 - alpha / 2.0, x + 1.0, n_f - x).unwrap_or(1.0);
    Ok(ConfidenceInterval { lower, upper })
}

/// `numpy.quantile(values, q)` with the default linear interpolation. `values` must be
/// sorted ascending and non-empty.
fn quantile_sorted(values: &[f64], q: f64) -> f64 {
    let pos = q * (values.len() - 1) as f64;
    let below = pos.floor() as usize;
    let above = (below + 1).min(values.len() - 1);
    let frac = pos - below as f64;
    values[below] + (values[above] - values[below]) * frac
}

/// Settings of the percentile bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples (LLark: 1000).
    pub resamples: usize,
    /// Lower quantile (LLark: 0.05).
    pub lower_quantile: f64,
    /// Upper quantile (LLark: 0.95; so a 90 % interval).
    pub upper_quantile: f64,
    /// RNG seed (LLark used none; fixed here for reproducibility).
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: 1000,
            lower_quantile: 0.05,
            upper_quantile: 0.95,
            seed: 0,
        }
    }
}

/// Percentile bootstrap as in LLark's instrument notebooks: `resamples` times, draw `n` row
/// indices with replacement (`df.sample(n=len(df), replace=True)`), recompute the statistic,
/// and take the configured quantiles of the replicates. Replicates where the statistic is
/// undefined (`None`) are left out. `None` if `n` is 0 or no replicate is defined.
pub fn bootstrap_ci<F>(
    n: usize,
    config: &BootstrapConfig,
    mut statistic: F,
) -> Option<ConfidenceInterval>
where
    F: FnMut(&[usize]) -> Option<f64>,
{
    if n == 0 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut sample = vec![0usize; n];
    let mut replicates = Vec::with_capacity(config.resamples);
    for _ in 0..config.resamples {
        for slot in &mut sample {
            *slot = rng.random_range(0..n);
        }
        if let Some(v) = statistic(&sample) {
            replicates.push(v);
        }
    }
    if replicates.is_empty() {
        return None;
    }
    replicates.sort_by(f64::total_cmp);
    Some(ConfidenceInterval {
        lower: quantile_sorted(&replicates, config.lower_quantile),
        upper: quantile_sorted(&replicates, config.upper_quantile),
    })
}
