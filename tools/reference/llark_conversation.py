"""LLark's conversation formatting, tokenisation and label masking, re-implemented in Python as
the reference for `llark-data`.

It follows LLark's recipe (spotify-research/llark, `m2t/data_modules.py`, `m2t/tokenizer.py`,
`m2t/models/llamav2.py`): the LLaVA `###` template, `<audio>` expanded to
`<audio_start>` + N x `<audio_patch>` + `<audio_end>`, labels masked from separately-tokenised
header and turn lengths (`[cur + 2, cur + len)` for human turns), the inference prompt cut after the
tokens of "\\n### Assistant:". The tokenizer is transformers 4.44.2's `LlamaTokenizerFast` loaded
from a local `tokenizer.json` (no download), with `[PAD]`, `<audio_patch>`, `<audio_start>`,
`<audio_end>` added in LLark's order. It also computes the project's `assistant-only` labels from
the fast tokenizer's character offsets, an independent check of the Rust implementation.

Generate the vectors (writes JSON Lines):
    .venv/bin/python tools/reference/llark_conversation.py vectors \\
        --tokenizer llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json \\
        --out llark-data/tests/fixtures/llark-conversation-vectors.jsonl

Check the shared golden file (prints the number of matching vectors):
    .venv/bin/python tools/reference/llark_conversation.py golden --tokenizer ... --golden FILE

Time tokenising and collating N records cycled from a vectors file (the Rust bench does the same):
    .venv/bin/python tools/reference/llark_conversation.py bench --tokenizer ... \\
        --input llark-data/tests/fixtures/llark-conversation-vectors.jsonl --records 10000
"""

import argparse
import json
import random
import time

import torch
from transformers import LlamaTokenizerFast

IGNORE_INDEX = -100
SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
HEADER = SYSTEM + "\n\n"
ROLES = {"human": "Human", "gpt": "Assistant"}
MAX_LEN = 2048


def load_tokenizer(path):
    tok = LlamaTokenizerFast(
        tokenizer_file=path,
        legacy=True,
        add_bos_token=True,
        add_eos_token=False,
        model_max_length=MAX_LEN,
        padding_side="right",
    )
    # LLark's order: the pad token first, then the patch token, then start and end.
    tok.add_special_tokens({"pad_token": "[PAD]"})
    tok.add_tokens(["<audio_patch>"], special_tokens=True)
    tok.add_tokens(["<audio_start>", "<audio_end>"], special_tokens=True)
    return tok


def audio_prompt(question, audio_first):
    return "<audio>\n" + question if audio_first else question + "\n<audio>"


def expand_audio(value, frames):
    return value.replace("<audio>", "<audio_start>" + "<audio_patch>" * frames + "<audio_end>")


def render(turns, frames):
    """Returns the full text, and the rendered text of each turn."""
    rendered = []
    for t in turns:
        rendered.append("### " + ROLES[t["from"]] + ": " + expand_audio(t["value"], frames) + "\n")
    return HEADER + "".join(rendered) + "### ", rendered


def token_count(tok, text):
    """Length as LLark measures it: tokens (with <s>, truncated) that are not the pad id."""
    ids = tok(text, truncation=True, max_length=MAX_LEN).input_ids
    return sum(1 for i in ids if i != tok.pad_token_id)


def llark_labels(tok, turns, frames):
    text, rendered = render(turns, frames)
    ids = tok(text, truncation=True, max_length=MAX_LEN).input_ids
    labels = list(ids)
    cur = token_count(tok, HEADER)
    for i in range(min(cur, len(labels))):
        labels[i] = IGNORE_INDEX
    for t, piece in zip(turns, rendered):
        n = token_count(tok, piece)
        if t["from"] == "human":
            for i in range(cur + 2, min(cur + n, len(labels))):
                labels[i] = IGNORE_INDEX
        cur += n
    return text, ids, labels


def assistant_only_labels(tok, turns, frames):
    """Keeps tokens whose characters overlap an answer or the "\\n###" after it; audio tokens masked."""
    text, rendered = render(turns, frames)
    enc = tok(text, return_offsets_mapping=True)
    keep = []
    pos = len(HEADER)
    for t, piece in zip(turns, rendered):
        if t["from"] == "gpt":
            start = pos + len("### Assistant: ")
            end = pos + len(piece) - 1  # the answer ends before the turn's "\n"
            keep.append((start, end + 4))  # plus "\n###"
        pos += len(piece)
    audio_ids = {tok.convert_tokens_to_ids(t) for t in ("<audio_start>", "<audio_patch>", "<audio_end>")}
    labels = []
    for i, (a, b) in zip(enc.input_ids, enc.offset_mapping):
        kept = i not in audio_ids and b > a and any(a < e and b > s for s, e in keep)
        labels.append(i if kept else IGNORE_INDEX)
    return labels


def prompt_end_sequence(tok):
    ids = tok("\n### Assistant:", add_special_tokens=False).input_ids
    return ids[1:]  # LLark drops the leading "▁" piece for Llama 2


def inference_prompt(tok, question, frames, audio_first):
    turns = [{"from": "human", "value": audio_prompt(question, audio_first)}, {"from": "gpt", "value": "<empty>"}]
    _, ids, _ = llark_labels(tok, turns, frames)
    end = prompt_end_sequence(tok)
    for s in range(len(ids) - len(end)):
        if ids[s : s + len(end)] == end:
            return ids[: s + len(end)]
    raise ValueError("prompt end not found")


QUESTIONS = [
    "What is the tempo of this song?",
    "Which instruments can you hear?",
    "What key is this piece in?",
    "Describe the mood of this track in one sentence.",
    "Write a short bedtime story that could accompany this song, starting with the phrase 'There was once a young chipmunk'.",
    "Is there a singer? If so, describe the voice.",
    "What genre would you say this is: rock, jazz, or classical?",
    "Where could this music be played — a café, a club, or a film?",
    "Name the chords in the first 4 bars (e.g. C, G, Am, F).",
    "  Leading and trailing spaces around the question  ",
    "How many beats per measure? Answer with a number like 3 or 4.",
    "Does the tempo change?\nExplain briefly.",
    "Quelle est la tonalité de ce morceau ?",
    "この曲の雰囲気は？",
    "Rate the energy from 1 to 10 🎵",
    "What time signature is used (3/4, 4/4, 6/8)?",
]
ANSWERS = [
    "This song has a fast tempo of 128.4 beats per minute (BPM).",
    "Drums, bass guitar, electric guitar and a male vocal.",
    "E minor.",
    "The track feels calm and nostalgic, like a rainy Sunday afternoon.",
    "There was once a young chipmunk named Chuck who loved the forest's music...",
    "Yes: a breathy female soprano with a wide vibrato.",
    "Jazz — the walking bass and ride cymbal give it away.",
    "A lively string quartet in D major: violin, viola and cello.\nThe chords include D, G and A.",
    "C, G, Am, F.",
    "4",
    "It speeds up from 90 BPM to 120 BPM near the end.",
    "La tonalité est Ré majeur.",
    "穏やかで落ち着いた雰囲気です。",
    "8/10 🔥 — very energetic!",
    "",
    "### is not part of the answer",
]
FRAMES = [1, 2, 3, 7, 10, 25, 64, 100, 128, 240, 250, 300]


def make_vectors(tok, count, seed):
    rng = random.Random(seed)
    out = []
    for k in range(count):
        rounds = 1 if k < count // 2 else rng.choice([2, 3])
        frames = FRAMES[k % len(FRAMES)] if k < len(FRAMES) else rng.choice(FRAMES)
        audio_first = rng.uniform(0.0, 1.0) > 0.5
        turns = []
        for r in range(rounds):
            q = rng.choice(QUESTIONS)
            turns.append({"from": "human", "value": audio_prompt(q, audio_first) if r == 0 else q})
            turns.append({"from": "gpt", "value": rng.choice(ANSWERS)})
        _, ids, labels = llark_labels(tok, turns, frames)
        vec = {
            "id": f"vec-{k:03d}",
            "conversations": turns,
            "audio_encoding_shape": [frames, 8],
            "audio_first": audio_first,
            "input_ids": ids,
            "labels": labels,
            "labels_assistant_only": assistant_only_labels(tok, turns, frames),
        }
        if rounds == 1:
            question = turns[0]["value"].replace("<audio>\n", "", 1) if audio_first else turns[0]["value"][: -len("\n<audio>")]
            vec["question"] = question
            vec["prompt_ids"] = inference_prompt(tok, question, frames, audio_first)
        out.append(vec)
    return out


def check_golden(tok, path):
    n = 0
    for line in open(path):
        g = json.loads(line)
        turns = [
            {"from": "human", "value": audio_prompt(g["question"], g["audio_first"])},
            {"from": "gpt", "value": g["answer"]},
        ]
        text, ids, labels = llark_labels(tok, turns, g["audio_frames"])
        assert text == g["text"], "text differs"
        assert ids == g["input_ids"], f"ids differ for {g['question']!r}"
        assert labels == g["labels"], f"labels differ for {g['question']!r}"
        n += 1
    print(f"{n} golden vectors reproduced")


def bench(tok, path, records, batch_size):
    base = [json.loads(line) for line in open(path)]
    data = [base[i % len(base)] for i in range(records)]
    t0 = time.perf_counter()
    batch = []
    for rec in data:
        frames = rec["audio_encoding_shape"][0]
        _, ids, labels = llark_labels(tok, rec["conversations"], frames)
        batch.append((torch.tensor(ids), torch.tensor(labels)))
        if len(batch) == batch_size:
            input_ids = torch.nn.utils.rnn.pad_sequence([b[0] for b in batch], batch_first=True, padding_value=tok.pad_token_id)
            torch.nn.utils.rnn.pad_sequence([b[1] for b in batch], batch_first=True, padding_value=IGNORE_INDEX)
            input_ids.ne(tok.pad_token_id)
            batch = []
    dt = time.perf_counter() - t0
    print(f"python: {records} records in {dt:.3f} s = {records / dt:.0f} records/s")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["vectors", "golden", "bench"])
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out")
    p.add_argument("--golden")
    p.add_argument("--input")
    p.add_argument("--count", type=int, default=48)
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument("--records", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=8)
    a = p.parse_args()
    tok = load_tokenizer(a.tokenizer)
    assert tok.convert_tokens_to_ids(["[PAD]", "<audio_patch>", "<audio_start>", "<audio_end>"]) == [32000, 32001, 32002, 32003]
    if a.mode == "vectors":
        with open(a.out, "w") as f:
            for v in make_vectors(tok, a.count, a.seed):
                f.write(json.dumps(v, ensure_ascii=False) + "\n")
    elif a.mode == "golden":
        check_golden(tok, a.golden)
    else:
        bench(tok, a.input, a.records, a.batch_size)


if __name__ == "__main__":
    main()
