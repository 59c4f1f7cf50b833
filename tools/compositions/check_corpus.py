#!/usr/bin/env python3
"""Re-read every .mid of assets/compositions with mido and check index.jsonl.

Checks, for every line of index.jsonl:
  * the fields are exactly the documented ones, ids sorted and unique;
  * no id, path, title or composer matches /bach/i;
  * the file exists, has exactly one set_tempo (at time 0) that gives
    quarter_bpm, and one time_signature at time 0 equal to `meter`;
  * tempo_bpm == quarter_bpm / beat length of beat_unit, and beat_unit fits the meter;
  * one program_change at time 0 per channel, matching `parts`, never channel 10;
  * the file's length equals duration_seconds (within 5 ms), at most ~90 s,
    and there are notes in the first 24 s;
  * key is "<tonic> major|minor", instruments are from the listener list and
    equal the sorted set of the parts' instruments, split is train|heldout;
  * no .mid in the folder is missing from the index; the folder is under 3 MB.
Exit status 1 on any problem.
"""

import json
import os
import re
import sys

import mido

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.normpath(os.path.join(HERE, "..", "..", "assets", "compositions"))
FIELDS = ["id", "file", "composer", "title", "corpus_path", "key", "key_source", "meter",
          "tempo_bpm", "quarter_bpm", "beat_unit", "duration_seconds", "parts",
          "instruments", "split"]
LISTENER = set("""piano|electric piano|organ|harpsichord|accordion|acoustic guitar|electric guitar|
guitar|banjo|mandolin|bass|electric bass|double bass|violin|viola|cello|string ensemble|harp|
vocals|choir|trumpet|trombone|horn|tuba|brass section|flute|clarinet|oboe|bassoon|saxophone|
drums|vibraphone|mallets|timpani|synth lead|synth pad|synthesizer""".replace("\n", "").split("|"))
BEAT = {"quarter": 1.0, "dotted quarter": 1.5, "half": 2.0}
METER_UNIT = {"2/4": "quarter", "3/4": "quarter", "4/4": "quarter", "6/8": "dotted quarter",
              "9/8": "dotted quarter", "12/8": "dotted quarter", "3/8": "dotted quarter",
              "2/2": "half", "4/2": "half", "3/2": "half"}
KEY_RE = re.compile(r"^[A-G](#|b)? (major|minor)$")


def check(folder):
    problems = []
    idx = os.path.join(folder, "index.jsonl")
    recs = [json.loads(line) for line in open(idx, encoding="utf-8") if line.strip()]
    ids = [r["id"] for r in recs]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        problems.append("ids not sorted/unique")
    for r in recs:
        pid = r.get("id", "?")

        def bad(msg):
            problems.append(f"{pid}: {msg}")
        if list(r.keys()) != FIELDS:
            bad(f"fields {list(r.keys())}")
            continue
        for f in ("id", "file", "corpus_path", "composer", "title"):
            if re.search("bach", str(r[f]), re.I):
                bad(f"{f} mentions Bach")
        if not KEY_RE.match(r["key"]):
            bad(f"key {r['key']!r}")
        if r["key_source"] not in ("notated", "analysed"):
            bad("key_source")
        if r["split"] not in ("train", "heldout"):
            bad("split")
        if METER_UNIT.get(r["meter"]) != r["beat_unit"]:
            bad(f"beat unit {r['beat_unit']} for {r['meter']}")
        if abs(r["quarter_bpm"] / BEAT[r["beat_unit"]] - r["tempo_bpm"]) > 0.06:
            bad("tempo_bpm != quarter_bpm / beat")
        if not 40 <= r["tempo_bpm"] <= 208:
            bad("tempo out of 40-208")
        insts = [p["instrument"] for p in r["parts"]]
        if any(i not in LISTENER for i in insts):
            bad(f"instrument names {insts}")
        if r["instruments"] != sorted(set(insts)):
            bad("instruments != sorted set of parts")
        path = os.path.join(folder, r["file"])
        if not os.path.exists(path):
            bad("file missing")
            continue
        mf = mido.MidiFile(path)
        tempos, sigs, progs, first_note = [], [], {}, None
        for tr in mf.tracks:
            t = 0
            for m in tr:
                t += m.time
                if m.type == "set_tempo":
                    tempos.append((t, m.tempo))
                elif m.type == "time_signature":
                    sigs.append((t, f"{m.numerator}/{m.denominator}"))
                elif m.type == "program_change":
                    if t != 0 or m.channel in progs:
                        bad("program change not once at time 0")
                    progs[m.channel] = m.program
                elif m.type == "note_on" and m.velocity > 0:
                    if m.channel == 9:
                        bad("note on channel 10")
                    if first_note is None or t < first_note:
                        first_note = t
        if len(tempos) != 1 or tempos[0][0] != 0:
            bad(f"tempo events {tempos}")
        else:
            q = 60_000_000 / tempos[0][1]
            if abs(q - r["quarter_bpm"]) > 0.01:
                bad(f"MIDI tempo {q:.3f} != quarter_bpm {r['quarter_bpm']}")
        if sigs != [(0, r["meter"])]:
            bad(f"time signatures {sigs} != {r['meter']}")
        want = [p["program"] for p in r["parts"]]
        got = [progs[c] for c in sorted(progs)]
        if got != want or 9 in progs or len(progs) > 15:
            bad(f"programs {got} != {want}")
        length = mf.length
        if abs(length - r["duration_seconds"]) > 0.005:
            bad(f"length {length:.3f} != duration_seconds {r['duration_seconds']}")
        if length > 92:
            bad(f"{length:.1f} s is over the cap")
        if first_note is None or first_note / mf.ticks_per_beat * 60 / r["quarter_bpm"] >= 24:
            bad("no notes in the first 24 s")
    listed = {r["file"] for r in recs}
    for n in sorted(os.listdir(folder)):
        if n.endswith(".mid") and n not in listed:
            problems.append(f"{n}: not in index.jsonl")
    total = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    if total > 3 * 1024 * 1024:
        problems.append(f"folder is {total} bytes")
    held = sum(r["split"] == "heldout" for r in recs)
    print(f"{len(recs)} pieces ({len(recs) - held} train, {held} heldout), "
          f"{total / 1024:.0f} KiB, {len(problems)} problems")
    return problems


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    problems = check(folder)
    for p in problems:
        print("PROBLEM", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
