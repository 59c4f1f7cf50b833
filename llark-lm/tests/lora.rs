//! LoRA adapters against Hugging Face PEFT (`tools/reference/lora_fixtures.py`, peft 0.21.2):
//! logits, loss and the gradients of every adapter matrix; files written here are PEFT's; merged
//! weights compute what the adapters compute; unsupported options and bad files are typed errors.
//!
//! With `LLARK_LORA_EXPORT=DIR` the adapters saved by `saved_adapters_round_trip` are also written
//! to `DIR/{name}/`, for `lora_fixtures.py --check DIR` to load them with PEFT.

mod common;

use std::path::Path;

use burn::backend::Autodiff;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use common::{fixture, ids_tensor, int_rows, max_abs_diff, to_vec, B};
use llark_lm::lora::{peft_key, LoraMatrix, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE};
use llark_lm::{causal_lm_loss, Llama, LmError, LoraConfig, LoraError, TargetModule, WeightSource};

const FIXTURE: &str = "lora-peft";
const ADAPTERS: [&str; 2] = ["adapter-all", "adapter-qv"];
/// The tolerance of logits and gradients (f32).
const TOL: f32 = 1e-5;

type AB = Autodiff<B>;

fn reference() -> WeightSource {
    common::reference(FIXTURE)
}

fn base<Bk: Backend>() -> Llama<Bk> {
    Llama::<Bk>::from_pretrained(fixture(FIXTURE), &Default::default()).unwrap()
}

fn adapted<Bk: Backend>(name: &str) -> Llama<Bk> {
    base::<Bk>()
        .load_adapter(fixture(FIXTURE).join(name))
        .unwrap()
}

fn int_tensor<Bk: Backend>(reference: &WeightSource, name: &str) -> Tensor<Bk, 2, Int> {
    let rows = int_rows(reference, name);
    let (b, t) = (rows.len(), rows[0].len());
    Tensor::from_data(TensorData::new(rows.concat(), [b, t]), &Default::default())
}

fn logits_error(model: &Llama<B>, reference: &WeightSource, name: &str) -> f32 {
    let ids = ids_tensor(&int_rows(reference, "input_ids"));
    let logits = to_vec(model.forward(ids, None, None).unwrap());
    let (expected, _) = reference.read_f32(&format!("{name}.logits")).unwrap();
    max_abs_diff(&logits, &expected)
}

#[test]
fn logits_equal_peft() {
    let reference = reference();
    let base_err = logits_error(&base(), &reference, "base");
    assert!(base_err < TOL, "base logits off by {base_err}");
    for name in ADAPTERS {
        let model = adapted::<B>(name);
        let err = logits_error(&model, &reference, name);
        eprintln!("{name}: max abs logit error vs peft {err:.2e}");
        assert!(err < TOL, "{name}: logits off by {err}");
        // The adapter matters: the base alone is far from the adapted reference.
        let without = logits_error(&base(), &reference, name);
        assert!(
            without > 100.0 * TOL,
            "{name}: the adapter changes nothing ({without})"
        );
    }
}

#[test]
fn gradients_equal_peft() {
    let reference = reference();
    let labels = int_tensor::<AB>(&reference, "labels");
    for name in ADAPTERS {
        let model = adapted::<AB>(name);
        let logits = model
            .forward(int_tensor::<AB>(&reference, "input_ids"), None, None)
            .unwrap();
        let loss = causal_lm_loss(logits, labels.clone(), -100).unwrap();
        let (expected_loss, _) = reference.read_f32(&format!("{name}.loss")).unwrap();
        let loss_value = to_vec(loss.clone().inner())[0];
        let loss_err = (loss_value - expected_loss[0]).abs();
        eprintln!("{name}: loss error vs peft {loss_err:.2e}");
        assert!(
            loss_err < TOL,
            "{name}: loss {loss_value} vs {}",
            expected_loss[0]
        );
        let grads = loss.backward();
        let mut worst = 0.0f32;
        let adapters = model.adapters();
        assert!(!adapters.is_empty());
        for (layer, target, adapter) in adapters {
            for (matrix, param) in [
                (LoraMatrix::A, &adapter.lora_a),
                (LoraMatrix::B, &adapter.lora_b),
            ] {
                let key = peft_key(layer, target, matrix);
                let grad = param
                    .grad(&grads)
                    .unwrap_or_else(|| panic!("no gradient for {key}"));
                let (expected, shape) = reference.read_f32(&format!("{name}.grad.{key}")).unwrap();
                assert_eq!(grad.dims().to_vec(), shape, "{key}");
                let err = max_abs_diff(&to_vec(grad), &expected);
                worst = worst.max(err);
                assert!(err < TOL, "{name}: gradient of {key} off by {err}");
            }
        }
        eprintln!("{name}: max abs LoRA gradient error vs peft {worst:.2e}");
        // The base is frozen: none of its weights gets a gradient.
        struct Frozen<'a>(
            &'a <AB as burn::tensor::backend::AutodiffBackend>::Gradients,
            usize,
        );
        impl ModuleVisitor<AB> for Frozen<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
                if param.grad(self.0).is_some() {
                    self.1 += 1;
                }
            }
        }
        let mut base_grads = Frozen(&grads, 0);
        model.embed_tokens.visit(&mut base_grads);
        model.norm.visit(&mut base_grads);
        for layer in &model.layers {
            for target in TargetModule::ALL {
                let p = layer.projection(target);
                p.weight.visit(&mut base_grads);
            }
            layer.input_layernorm.visit(&mut base_grads);
        }
        assert_eq!(base_grads.1, 0, "{name}: base weights received gradients");
    }
}

#[test]
fn merged_weights_give_the_adapter_logits() {
    let reference = reference();
    for name in ADAPTERS {
        let merged = adapted::<B>(name).merge_lora().unwrap();
        assert!(merged.lora_config().is_none() && merged.adapters().is_empty());
        let err = logits_error(&merged, &reference, name);
        eprintln!("{name}: merged max abs logit error vs peft {err:.2e}");
        assert!(err < TOL, "{name}: merged logits off by {err}");
        // A plain Llama: the same tensors as the base, and only the targets changed.
        let base_tensors = base::<B>().to_hf_tensors();
        let merged_tensors = merged.to_hf_tensors();
        let names =
            |t: &[(String, TensorData)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&base_tensors), names(&merged_tensors));
        let config =
            LoraConfig::from_file(fixture(FIXTURE).join(name).join(ADAPTER_CONFIG_FILE)).unwrap();
        let targets = config.targets().unwrap();
        for ((n, before), (_, after)) in base_tensors.iter().zip(&merged_tensors) {
            let layer: Option<usize> = n
                .strip_prefix("model.layers.")
                .and_then(|r| r.split('.').next())
                .and_then(|i| i.parse().ok());
            let targeted = layer.is_some_and(|l| config.transforms_layer(l))
                && targets
                    .iter()
                    .any(|t| n.ends_with(&format!("{}.weight", t.path())));
            assert_eq!(before != after, targeted, "{name}: {n}");
        }
    }
    assert!(matches!(
        base::<B>().merge_lora(),
        Err(LmError::Lora(LoraError::NoAdapters))
    ));
}

/// The names, shapes and f32 values of a safetensors file, sorted by name.
fn file_tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let source = WeightSource::open_files(&[path.to_path_buf()]).unwrap();
    source
        .names()
        .into_iter()
        .map(|n| {
            let (values, shape) = source.read_f32(&n).unwrap();
            (n, shape, values)
        })
        .collect()
}

#[test]
fn saved_adapters_round_trip() {
    let export = std::env::var_os("LLARK_LORA_EXPORT");
    let reference = reference();
    for name in ADAPTERS {
        let peft_dir = fixture(FIXTURE).join(name);
        let model = adapted::<B>(name);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(name);
        model.save_adapter(&dir).unwrap();
        // The same tensors, bit for bit, under the same keys as PEFT's file.
        assert_eq!(
            file_tensors(&dir.join(ADAPTER_WEIGHTS_FILE)),
            file_tensors(&peft_dir.join(ADAPTER_WEIGHTS_FILE)),
            "{name}"
        );
        let ours = LoraConfig::from_file(dir.join(ADAPTER_CONFIG_FILE)).unwrap();
        let theirs = LoraConfig::from_file(peft_dir.join(ADAPTER_CONFIG_FILE)).unwrap();
        assert_eq!(ours.targets().unwrap(), theirs.targets().unwrap());
        assert_eq!(
            (
                ours.r,
                ours.lora_alpha,
                ours.lora_dropout,
                &ours.layers_to_transform
            ),
            (
                theirs.r,
                theirs.lora_alpha,
                theirs.lora_dropout,
                &theirs.layers_to_transform
            )
        );
        assert_eq!(ours.extra, theirs.extra, "{name}: unknown fields are kept");
        // Every field PEFT wrote is written back.
        let keys = |p: &Path| -> Vec<String> {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(
            keys(&dir.join(ADAPTER_CONFIG_FILE)),
            keys(&peft_dir.join(ADAPTER_CONFIG_FILE))
        );
        let reloaded = base::<B>().load_adapter(&dir).unwrap();
        let err = logits_error(&reloaded, &reference, name);
        assert!(err < TOL, "{name}: reloaded adapter off by {err}");
        if let Some(root) = &export {
            model.save_adapter(Path::new(root).join(name)).unwrap();
        }
    }
    if let Some(root) = &export {
        // Adapters made here (random A and B, other targets, one layer), with the logits this
        // crate computes for them, for PEFT to reproduce.
        let config = LoraConfig {
            init_lora_weights: llark_lm::lora::InitLoraWeights::Flag(false),
            layers_to_transform: Some(llark_lm::lora::LayerSelection::Many(vec![0])),
            ..LoraConfig::new(
                3,
                6.0,
                &[
                    TargetModule::KProj,
                    TargetModule::OProj,
                    TargetModule::UpProj,
                    TargetModule::DownProj,
                ],
            )
        };
        B::seed(&Default::default(), 11);
        let model = base::<B>().with_lora(&config).unwrap();
        let dir = Path::new(root).join("llark-random");
        model.save_adapter(&dir).unwrap();
        let ids = ids_tensor(&int_rows(&reference, "input_ids"));
        let logits = model.forward(ids, None, None).unwrap().into_data();
        llark_lm::write_safetensors(
            dir.join("llark_logits.safetensors"),
            &[("logits".to_string(), logits)],
            llark_lm::SaveDtype::F32,
        )
        .unwrap();
    }
}

#[test]
fn new_adapters_start_as_the_base_and_freeze_it() {
    let reference = reference();
    B::seed(&Default::default(), 7);
    let config = LoraConfig::new(4, 8.0, &TargetModule::ALL);
    let model = base::<B>().with_lora(&config).unwrap();
    assert_eq!(model.adapters().len(), 2 * 7);
    // B is zero: the output is the base's.
    let err = logits_error(&model, &reference, "base");
    assert!(err < TOL, "a new adapter changed the logits by {err}");
    // A is kaiming-uniform: U(-1/sqrt(in), 1/sqrt(in)), spread over the range.
    for (_, target, adapter) in model.adapters() {
        let inp = target.shape(&model.config)[1];
        let bound = 1.0 / (inp as f32).sqrt();
        let a = to_vec(adapter.lora_a.val());
        let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            max <= bound && max > 0.8 * bound,
            "{target:?}: max |A| {max}, bound {bound}"
        );
        assert!(to_vec(adapter.lora_b.val()).iter().all(|&v| v == 0.0));
    }
    // On an autodiff backend only the adapters require gradients.
    let model = base::<AB>().with_lora(&config).unwrap();
    let (mut trained, mut frozen) = (0, 0);
    struct Count<'a>(&'a mut usize, &'a mut usize);
    impl ModuleVisitor<AB> for Count<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            let n = param.shape().num_elements();
            if param.is_require_grad() {
                *self.0 += n;
            } else {
                *self.1 += n;
            }
        }
    }
    model.visit(&mut Count(&mut trained, &mut frozen));
    let expected: usize = model
        .adapters()
        .iter()
        .map(|(_, t, _)| {
            let [out, inp] = t.shape(&model.config);
            4 * (out + inp)
        })
        .sum();
    assert_eq!(trained, expected);
    assert_eq!(frozen, base::<B>().num_params());
    // Adapters cannot be stacked.
    assert!(matches!(
        model.with_lora(&config),
        Err(LmError::Lora(LoraError::AlreadyAdapted))
    ));
}

#[test]
fn dropout_acts_while_training_only() {
    let reference = reference();
    let config = LoraConfig {
        init_lora_weights: llark_lm::lora::InitLoraWeights::Flag(false),
        ..LoraConfig::new(4, 8.0, &[TargetModule::QProj, TargetModule::VProj]).with_dropout(0.5)
    };
    B::seed(&Default::default(), 3);
    let plain = base::<B>().with_lora(&config).unwrap();
    let ids_b = ids_tensor(&int_rows(&reference, "input_ids"));
    let a = to_vec(plain.forward(ids_b.clone(), None, None).unwrap());
    let b = to_vec(plain.forward(ids_b, None, None).unwrap());
    assert_eq!(a, b, "dropout without autodiff");
    // The same adapters on the autodiff backend: dropout draws masks.
    let trained: Llama<AB> = Llama::from_source(
        plain.config.clone(),
        &WeightSource::open_dir(fixture(FIXTURE)).unwrap(),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    plain.save_adapter(tmp.path()).unwrap();
    let trained = trained.load_adapter(tmp.path()).unwrap();
    let ids_ad = int_tensor::<AB>(&reference, "input_ids");
    let x = to_vec(trained.forward(ids_ad.clone(), None, None).unwrap().inner());
    let y = to_vec(trained.forward(ids_ad, None, None).unwrap().inner());
    assert_ne!(x, y, "dropout while training");
    assert!(max_abs_diff(&x, &a) > 1e-3);
}

fn write_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let peft_dir = fixture(FIXTURE).join("adapter-all");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(peft_dir.join(ADAPTER_CONFIG_FILE)).unwrap())
            .unwrap();
    edit(&mut v);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(ADAPTER_CONFIG_FILE), v.to_string()).unwrap();
    std::fs::copy(
        peft_dir.join(ADAPTER_WEIGHTS_FILE),
        dir.join(ADAPTER_WEIGHTS_FILE),
    )
    .unwrap();
}

fn load_edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Llama<B>, LmError> {
    let tmp = tempfile::tempdir().unwrap();
    write_config(tmp.path(), edit);
    base::<B>().load_adapter(tmp.path())
}

#[test]
fn unsupported_options_are_refused() {
    for (field, value) in [
        ("use_dora", serde_json::json!(true)),
        ("use_rslora", serde_json::json!(true)),
        ("bias", serde_json::json!("all")),
        ("fan_in_fan_out", serde_json::json!(true)),
        ("rank_pattern", serde_json::json!({"q_proj": 2})),
        ("modules_to_save", serde_json::json!(["lm_head"])),
        ("target_modules", serde_json::json!(".*proj")),
        ("init_lora_weights", serde_json::json!("pissa")),
        ("peft_type", serde_json::json!("IA3")),
    ] {
        let err = load_edited(|v| v[field] = value.clone()).unwrap_err();
        match &err {
            LmError::Adapter {
                path,
                source: LoraError::Unsupported { field: f, .. },
            } => {
                assert_eq!(f, field);
                assert!(path.ends_with(ADAPTER_CONFIG_FILE));
            }
            other => panic!("{field}: {other}"),
        }
        assert!(err.to_string().contains(field), "{err}");
    }
    for (field, value) in [
        ("r", serde_json::json!(0)),
        ("lora_dropout", serde_json::json!(1.0)),
        ("target_modules", serde_json::json!(["q_proj", "lm_head"])),
        ("layers_to_transform", serde_json::json!([0, 2])),
    ] {
        let err = load_edited(|v| v[field] = value.clone()).unwrap_err();
        assert!(
            matches!(&err, LmError::Adapter { source: LoraError::Value { field: f, .. }, .. } if f == field),
            "{field}: {err}"
        );
    }
    // Unknown fields are kept, not refused.
    let model = load_edited(|v| v["a_future_option"] = serde_json::json!({"x": 1})).unwrap();
    assert!(model
        .lora_config()
        .unwrap()
        .extra
        .contains_key("a_future_option"));
}

#[test]
fn bad_adapter_files_name_the_key_and_file() {
    // A rank that does not match the file: every key is mis-shaped.
    let err = load_edited(|v| v["r"] = serde_json::json!(8)).unwrap_err();
    let LmError::WeightMismatch {
        source_desc,
        missing,
        unexpected,
        mis_shaped,
    } = &err
    else {
        panic!("{err}");
    };
    assert!(source_desc.contains(ADAPTER_WEIGHTS_FILE), "{source_desc}");
    assert!(missing.is_empty() && unexpected.is_empty());
    assert_eq!(mis_shaped.len(), 28);
    assert!(err
        .to_string()
        .contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: found [4, 32], expected [8, 32]"));
    // Fewer targets than the file: the others are unexpected; more: missing.
    let err = load_edited(|v| v["target_modules"] = serde_json::json!(["q_proj"])).unwrap_err();
    assert!(
        matches!(&err, LmError::WeightMismatch { unexpected, .. } if unexpected.len() == 24),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    write_config(tmp.path(), |_| {});
    let mut tensors = adapted::<B>("adapter-all").adapter_tensors().unwrap();
    tensors.retain(|(n, _)| !n.contains("layers.1.mlp.down_proj.lora_B"));
    llark_lm::write_safetensors(
        tmp.path().join(ADAPTER_WEIGHTS_FILE),
        &tensors,
        llark_lm::SaveDtype::F32,
    )
    .unwrap();
    let err = base::<B>().load_adapter(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, LmError::WeightMismatch { missing, .. }
            if missing == &[peft_key(1, TargetModule::DownProj, LoraMatrix::B)]),
        "{err}"
    );
    // No config, a config that is not JSON.
    let err = base::<B>()
        .load_adapter(tmp.path().join("absent"))
        .unwrap_err();
    assert!(
        matches!(&err, LmError::Io { path, .. } if path.ends_with(ADAPTER_CONFIG_FILE)),
        "{err}"
    );
    std::fs::write(tmp.path().join(ADAPTER_CONFIG_FILE), "{not json").unwrap();
    let err = base::<B>().load_adapter(tmp.path()).unwrap_err();
    assert!(
        matches!(
            &err,
            LmError::Adapter {
                source: LoraError::Parse { .. },
                ..
            }
        ),
        "{err}"
    );
}
