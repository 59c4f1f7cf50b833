//! Training `Llark` with [`llark_train`]: the [`TrainModel`] implementation.
//!
//! Parameters under the `projector` field form [`ParamGroup::Projector`], everything else (the
//! `lm` field) [`ParamGroup::Lm`], so the policies projector-only, LM + projector (LLark) and
//! LM-only freeze exactly the other part. `export` writes the Hugging Face-style directory of
//! [`Llark::save`].

use std::path::Path;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use llark_data::Batch;
use llark_train::{ModelError, ParamGroup, TrainModel};

use crate::model::Llark;

impl<B: AutodiffBackend> TrainModel<B> for Llark<B> {
    fn train_loss(&self, batch: &Batch, audio: Tensor<B, 2>) -> Result<Tensor<B, 1>, ModelError> {
        Ok(self.loss(batch, audio)?)
    }

    fn param_group(path: &[String]) -> ParamGroup {
        match path.first().map(String::as_str) {
            Some("projector") => ParamGroup::Projector,
            _ => ParamGroup::Lm,
        }
    }

    fn audio_width(&self) -> usize {
        self.config().mm_hidden_size
    }

    fn export(&self, dir: &Path) -> Result<(), ModelError> {
        Ok(self.save(dir)?)
    }
}
