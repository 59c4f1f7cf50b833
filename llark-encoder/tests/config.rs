//! Configuration: the real 5B preset, fixture JSON, validation errors and LLark's label bins.

use std::path::PathBuf;

use llark_encoder::jukebox::{time_bins, AttnPattern};
use llark_encoder::{EncoderError, JukeboxConfig};

#[test]
fn preset_5b_has_llarks_sizes() {
    let c = JukeboxConfig::jukebox_5b();
    c.validate("preset").unwrap();
    assert_eq!(c.hop_length(), 128);
    assert_eq!(c.window_samples(), 1_048_576);
    assert_eq!(c.frame_rate(), 344.53125);
    assert_eq!(c.prior.block_ctx(), 64);
    assert_eq!(c.prior.attn_state(), 1200);
    assert_eq!(c.prior.head_dim(), 150);
    assert_eq!(c.prior.mlp_state(), 4800);
    assert_eq!(c.vqvae.level_width(2), 32);
    assert_eq!(c.vqvae.level_depth(2), 4);
    assert_eq!(
        (0..4).map(|d| c.vqvae.dilation(d)).collect::<Vec<_>>(),
        [1, 3, 9, 27]
    );
    assert_eq!(c.prior.pattern(0), AttnPattern::Block);
    assert_eq!(c.prior.pattern(34), AttnPattern::TransposeBlock);
    assert_eq!(c.prior.pattern(35), AttnPattern::PrevBlock);
}

#[test]
fn fixture_json_round_trips() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jukebox-tiny/config.json");
    let c = JukeboxConfig::from_json_file(&path).unwrap();
    assert_eq!(
        (
            c.prior.n_ctx,
            c.prior.width,
            c.prior.prior_depth,
            c.prior.heads
        ),
        (256, 64, 4, 2)
    );
    assert_eq!(c.prior.block_ctx(), 32);
    assert_eq!(c.labels, [44100, 0, 32768, 0, 0, -1, -1, -1, -1]);
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(
        JukeboxConfig::from_json_str(&json, "round trip").unwrap(),
        c
    );
}

#[test]
fn invalid_configs_name_the_field() {
    let field_of = |c: &JukeboxConfig| match c.validate("test") {
        Err(EncoderError::Config { field, .. }) => field,
        other => panic!("expected a config error, got {other:?}"),
    };
    let mut c = JukeboxConfig::jukebox_5b();
    c.prior.blocks = 100;
    assert_eq!(field_of(&c), "prior.blocks");
    let mut c = JukeboxConfig::jukebox_5b();
    c.prior.heads = 7;
    assert_eq!(field_of(&c), "prior.m_attn");
    let mut c = JukeboxConfig::jukebox_5b();
    c.prior.attn_order = 12;
    assert_eq!(field_of(&c), "prior.attn_order");
    let mut c = JukeboxConfig::jukebox_5b();
    c.labels.pop();
    assert_eq!(field_of(&c), "labels");
    let err = JukeboxConfig::from_json_str("{\"vqvae\": 3}", "inline").unwrap_err();
    assert!(err.to_string().contains("inline"), "{err}");
}

/// The LLark bins of spec §3.2 (derived there from the reference's f32 arithmetic): TL bin 0,
/// ABS bin floor(16384 t / 26460000), REL bin floor(8 t / 1335).
#[test]
fn llark_time_bins_for_the_5b_model() {
    let c = JukeboxConfig::jukebox_5b();
    let bins = time_bins(&c.prior, &c.labels).unwrap();
    assert_eq!(bins.tl_bin, 0);
    assert_eq!(bins.abs_bins.len(), 8192);
    for t in 0..8192i64 {
        assert_eq!(
            bins.abs_bins[t as usize],
            16384 * t / 26_460_000,
            "abs t={t}"
        );
        assert_eq!(bins.rel_bins[t as usize], 8 * t / 1335, "rel t={t}");
    }
    assert_eq!(*bins.rel_bins.last().unwrap(), 49);
    assert_eq!(*bins.abs_bins.last().unwrap(), 5);
}

#[test]
fn labels_outside_the_reference_ranges_are_rejected() {
    let c = JukeboxConfig::jukebox_5b();
    // LLark uses 62 s because 23.78 s is below min_duration (60 s).
    let mut labels = c.labels.clone();
    labels[0] = 1_048_576;
    assert!(matches!(
        time_bins(&c.prior, &labels),
        Err(EncoderError::Labels { .. })
    ));
    labels[0] = 2_734_080;
    labels[1] = 30_000_000;
    assert!(matches!(
        time_bins(&c.prior, &labels),
        Err(EncoderError::Labels { .. })
    ));
}
