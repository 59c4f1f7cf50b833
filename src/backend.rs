//! Compute backends, chosen with cargo features of the `llark` package.
//!
//! | feature | backend | device |
//! |---|---|---|
//! | `flex` (default) | [`burn::backend::Flex`], burn's portable SIMD CPU backend | the CPU |
//! | `ndarray` | [`burn::backend::NdArray`] | the CPU |
//! | `cuda` | [`burn::backend::Cuda`] (CubeCL) | an NVIDIA GPU |
//! | `tch` | [`burn::backend::LibTorch`] | CPU or CUDA through LibTorch |
//!
//! [`DefaultBackend`] is the most capable backend compiled in, in the order `cuda`, `tch`, `flex`,
//! `ndarray`. Every model type in the workspace is generic over `B: Backend`, so a program may also
//! name a backend directly.

/// The inference backend picked from the enabled features (`cuda` > `tch` > `flex` > `ndarray`).
#[cfg(feature = "cuda")]
pub type DefaultBackend = burn::backend::Cuda;

/// The inference backend picked from the enabled features (`cuda` > `tch` > `flex` > `ndarray`).
#[cfg(all(feature = "tch", not(feature = "cuda")))]
pub type DefaultBackend = burn::backend::LibTorch;

/// The inference backend picked from the enabled features (`cuda` > `tch` > `flex` > `ndarray`).
#[cfg(all(feature = "flex", not(any(feature = "cuda", feature = "tch"))))]
pub type DefaultBackend = burn::backend::Flex;

/// The inference backend picked from the enabled features (`cuda` > `tch` > `flex` > `ndarray`).
#[cfg(all(
    feature = "ndarray",
    not(any(feature = "cuda", feature = "tch", feature = "flex"))
))]
pub type DefaultBackend = burn::backend::NdArray;

#[cfg(not(any(
    feature = "cuda",
    feature = "tch",
    feature = "flex",
    feature = "ndarray"
)))]
compile_error!("llark needs one backend feature: flex (default), ndarray, cuda or tch");

/// The default device of [`DefaultBackend`]: the first GPU for `cuda`, the CPU for `tch`
/// (name `burn::backend::libtorch::LibTorchDevice::Cuda(0)` to run LibTorch on a GPU), the CPU
/// otherwise.
pub fn default_device() -> burn::tensor::Device<DefaultBackend> {
    Default::default()
}

/// Devices for `n` data-parallel workers ([`llark_train::DataParallel`]): GPUs `0..n` for
/// `cuda`, otherwise `n` workers on the CPU device (one thread each).
pub fn worker_devices(n: usize) -> Vec<burn::tensor::Device<DefaultBackend>> {
    #[cfg(feature = "cuda")]
    {
        (0..n).map(burn::backend::cuda::CudaDevice::new).collect()
    }
    #[cfg(not(feature = "cuda"))]
    {
        vec![default_device(); n]
    }
}

/// Short name of [`DefaultBackend`], for logs and reports.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "tch") {
        "tch"
    } else if cfg!(feature = "flex") {
        "flex"
    } else {
        "ndarray"
    }
}

/// The autodiff version of [`DefaultBackend`], for training.
pub type TrainBackend = burn::backend::Autodiff<DefaultBackend>;
