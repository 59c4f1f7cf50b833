//! Splicing projected audio frames into a batch of token embeddings.

use burn::tensor::{backend::Backend, Tensor};

use crate::ProjectorError;

/// The ids of LLark's audio tokens (32002, 32003 and 32001 on Llama 2 with LLark's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTokenIds {
    /// `<audio_start>`: the frames of a clip go right after it.
    pub start: u32,
    /// `<audio_end>`: must follow the last frame of a clip.
    pub end: u32,
    /// `<audio_patch>`: the placeholder repeated once per frame in the token ids.
    pub patch: u32,
}

/// Replaces, in `embeds` `[batch, seq, d_model]`, the `N` embeddings after each `<audio_start>`
/// of `ids[b]` with the rows of the matching clip `[N, d_model]` of `clips[b]` (clips in the
/// order of their `<audio_start>` tokens), as LLark's forward does.
///
/// Errors (none of them panics): a batch or sequence size that disagrees with `embeds`, a clip
/// count that differs from the number of `<audio_start>` tokens, a clip of the wrong width, and a
/// clip whose frames are not followed by `<audio_end>` (LLark raises there too).
///
/// Differentiable: gradients flow to the clips and to the untouched embeddings.
pub fn splice_audio<B: Backend, I: AsRef<[u32]>>(
    embeds: Tensor<B, 3>,
    ids: &[I],
    clips: &[Vec<Tensor<B, 2>>],
    tokens: AudioTokenIds,
) -> Result<Tensor<B, 3>, ProjectorError> {
    let [batch, seq, width] = embeds.dims();
    if ids.len() != batch || clips.len() != batch {
        return Err(ProjectorError::Shape {
            what: "splice batch".into(),
            expected: format!("{batch} rows of ids and of clips, as the embeddings"),
            actual: vec![ids.len(), clips.len()],
        });
    }
    let mut out = embeds;
    for (example, (row, row_clips)) in ids.iter().zip(clips).enumerate() {
        let row = row.as_ref();
        if row.len() != seq {
            return Err(ProjectorError::Shape {
                what: format!("ids of example {example}"),
                expected: format!("[{seq}] as the embeddings"),
                actual: vec![row.len()],
            });
        }
        let starts: Vec<usize> = (0..seq).filter(|&i| row[i] == tokens.start).collect();
        if starts.len() != row_clips.len() {
            return Err(ProjectorError::ClipCount {
                example,
                starts: starts.len(),
                clips: row_clips.len(),
            });
        }
        for (&start, clip) in starts.iter().zip(row_clips) {
            let [frames, clip_width] = clip.dims();
            if clip_width != width {
                return Err(ProjectorError::Shape {
                    what: format!("audio clip of example {example} at position {start}"),
                    expected: format!("[frames, {width}]"),
                    actual: vec![frames, clip_width],
                });
            }
            let end = start + frames + 1;
            if row.get(end) != Some(&tokens.end) {
                return Err(ProjectorError::MissingAudioEnd {
                    example,
                    start,
                    frames,
                    expected_end: end,
                    found: row.get(end).map_or_else(
                        || "the end of the sequence".to_string(),
                        |id| format!("token {id}"),
                    ),
                });
            }
            if frames > 0 {
                out = out.slice_assign(
                    [example..example + 1, start + 1..end, 0..width],
                    clip.clone().reshape([1, frames, width]),
                );
            }
        }
    }
    Ok(out)
}
