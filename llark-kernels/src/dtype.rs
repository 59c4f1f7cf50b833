//! The element types weights can be kept in: [`WeightDtype`] (what a user asks for, `f32` included)
//! and [`PackedDtype`] (how a [`crate::PackedMatrix`] stores them).

use std::fmt;
use std::str::FromStr;

use crate::error::KernelError;

/// Int8 group size used when none is given: 64 consecutive weights of a row share one f32 scale
/// (6.25 % of the int8 bytes).
pub const DEFAULT_INT8_GROUP: usize = 64;

/// How a model's weight matrices are kept in memory (`--dtype f32|bf16|f16|int8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightDtype {
    /// Backend tensors in f32 (the only choice for training and for non-CPU backends' kernels).
    #[default]
    F32,
    /// bfloat16, kept as stored (or rounded to nearest even from f32 files).
    Bf16,
    /// IEEE half precision, kept as stored (or rounded from f32 files).
    F16,
    /// Symmetric int8 with one f32 scale per group of [`DEFAULT_INT8_GROUP`] weights of a row
    /// (smaller groups, or one per row, when that does not divide the row; see
    /// [`PackedDtype::fitted`]; an int8 checkpoint keeps its own groups).
    Int8,
}

impl WeightDtype {
    /// Every choice, in the order of `--help`.
    pub const ALL: [WeightDtype; 4] = [Self::F32, Self::Bf16, Self::F16, Self::Int8];

    /// The packed storage of this choice, `None` for f32.
    pub fn packed(self) -> Option<PackedDtype> {
        match self {
            Self::F32 => None,
            Self::Bf16 => Some(PackedDtype::Bf16),
            Self::F16 => Some(PackedDtype::F16),
            Self::Int8 => Some(PackedDtype::Int8 {
                group: DEFAULT_INT8_GROUP,
            }),
        }
    }

    /// The lower-case name (`f32`, `bf16`, `f16`, `int8`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
            Self::Int8 => "int8",
        }
    }
}

impl fmt::Display for WeightDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WeightDtype {
    type Err = KernelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| KernelError::UnknownDtype(s.to_string()))
    }
}

/// The storage of a packed weight matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedDtype {
    /// bfloat16 bits.
    Bf16,
    /// IEEE half-precision bits.
    F16,
    /// Symmetric int8 values with one f32 scale per `group` consecutive values of a row.
    Int8 {
        /// Values per scale; divides the row length.
        group: usize,
    },
}

impl PackedDtype {
    /// This storage for rows of `cols` values: an int8 group that does not divide `cols` is
    /// halved until it does (down to 8), else becomes the whole row (one scale per output
    /// channel); other storage is unchanged.
    pub fn fitted(self, cols: usize) -> Self {
        match self {
            Self::Int8 { group } if group == 0 || !cols.is_multiple_of(group) => {
                let mut g = group;
                while g >= 8 && !cols.is_multiple_of(g) {
                    g /= 2;
                }
                Self::Int8 {
                    group: if g >= 8 && cols.is_multiple_of(g) {
                        g
                    } else {
                        cols.max(1)
                    },
                }
            }
            other => other,
        }
    }

    /// The name used in messages (`bf16`, `f16`, `int8`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
            Self::Int8 { .. } => "int8",
        }
    }
}
