#!/usr/bin/env python3
"""Build a small corpus of public-domain compositions as MIDI with ground truth.

Reads pieces from the corpus bundled with music21 (see requirements.txt for the
pinned version), writes one short .mid file per piece under
assets/compositions/ and one JSON line per piece in index.jsonl.

Everything is deterministic: any random choice (tempo inside a range, the
instrument of a folk melody, note velocities where the score has no dynamics)
is drawn from a generator seeded with the SHA-256 of the piece id, so running
the script twice gives byte-identical files.

No work by any member of the Bach family is read (paths and composers matching
/bach/i are refused before parsing), nor any composer who died after 1925.

Usage:  python tools/compositions/build_corpus.py [--out assets/compositions]
"""

import argparse
import hashlib
import json
import os
import random
import re
import sys
import warnings

warnings.filterwarnings("ignore")

import mido  # noqa: E402
from music21 import chord, corpus, harmony, key, meter, note, stream, tempo  # noqa: E402
from music21 import dynamics as m21dyn  # noqa: E402
from music21 import expressions  # noqa: E402

MAX_SECONDS = 90.0
OPENING_SECONDS = 24.0
TPB = 480
BACH = re.compile("bach", re.I)

# beat unit (in quarter lengths) a listener taps, by meter
METERS = {
    "2/4": (1.0, "quarter"), "3/4": (1.0, "quarter"), "4/4": (1.0, "quarter"),
    "6/8": (1.5, "dotted quarter"), "9/8": (1.5, "dotted quarter"),
    "12/8": (1.5, "dotted quarter"), "3/8": (1.5, "dotted quarter"),
    "2/2": (2.0, "half"), "4/2": (2.0, "half"), "3/2": (2.0, "half"),
}

# listener name -> GM program
PROGRAMS = {
    "piano": 0, "harpsichord": 6, "organ": 19, "accordion": 21,
    "acoustic guitar": 24, "violin": 40, "viola": 41, "cello": 42,
    "double bass": 43, "harp": 46, "string ensemble": 48, "choir": 52,
    "vocals": 53, "trumpet": 56, "trombone": 57, "tuba": 58, "horn": 60,
    "brass section": 61, "saxophone": 65, "oboe": 68, "bassoon": 70,
    "clarinet": 71, "flute": 73, "banjo": 105,
}

COMPOSERS = {
    "haydn": "Joseph Haydn", "mozart": "Wolfgang Amadeus Mozart",
    "beethoven": "Ludwig van Beethoven", "schumann_robert": "Robert Schumann",
    "schumann_clara": "Clara Schumann", "chopin": "Frederic Chopin",
    "joplin": "Scott Joplin", "handel": "George Frideric Handel",
    "corelli": "Arcangelo Corelli", "schubert": "Franz Schubert",
    "weber": "Carl Maria von Weber", "verdi": "Giuseppe Verdi",
    "liliuokalani": "Liliuokalani", "lusitano": "Vicente Lusitano",
    "monteverdi": "Claudio Monteverdi",
    "palestrina": "Giovanni Pierluigi da Palestrina",
    "josquin": "Josquin des Prez",
    "ryansMammoth": "Traditional", "oneills1850": "Traditional",
    "airdsAirs": "Traditional", "essenFolksong": "Traditional",
    "miscFolk": "Traditional",
}

# tempo words -> range of taps per minute (simple meters); checked in order
TEMPO_WORDS = [
    ("prestissimo", 184, 208), ("presto", 160, 192), ("vivacissimo", 160, 184),
    ("vivace", 140, 168), ("allegretto", 100, 124), ("allegro", 120, 152),
    ("tempo di marcia", 96, 112), ("marcia", 96, 112),
    ("andantino", 80, 100), ("andante", 72, 96), ("moderato", 96, 116),
    ("larghetto", 56, 66), ("largo", 44, 56), ("grave", 40, 52),
    ("adagio", 56, 72), ("lento", 50, 64), ("langsam", 52, 66),
    ("massig", 72, 92), ("mässig", 72, 92), ("menuetto", 112, 140),
    ("minuet", 112, 140), ("menuet", 112, 140), ("scherzo", 150, 180),
    ("sotto voce", 120, 150),
]

# folk tunes by title word (taps per minute of the beat unit)
FOLK_WORDS = [
    ("reel", 96, 124), ("hornpipe", 80, 104), ("jig", 100, 126),
    ("strathspey", 60, 80), ("waltz", 120, 160), ("march", 96, 120),
    ("polka", 100, 130), ("air", 60, 88), ("schottische", 80, 100),
    ("quickstep", 104, 124),
]

FOLK_MELODY = ["flute", "violin", "oboe", "clarinet", "trumpet", "horn",
               "accordion", "saxophone", "vocals", "piano", "harp", "banjo"]

# voice ordering top -> bottom for re-scoring renaissance vocal music
ENSEMBLES = {
    "brass": ["trumpet", "trumpet", "horn", "trombone", "trombone", "tuba"],
    "winds": ["flute", "oboe", "clarinet", "horn", "bassoon", "bassoon"],
    "strings": ["violin", "violin", "viola", "viola", "cello", "cello"],
}

DYNAMICS = {"pppp": 24, "ppp": 32, "pp": 42, "p": 54, "mp": 66, "mf": 78,
            "f": 92, "ff": 106, "fff": 116, "ffff": 124, "sf": 100,
            "sfz": 100, "fz": 100, "fp": 92, "sfp": 96, "rf": 96, "rfz": 96}


def rng_for(piece_id, salt=""):
    h = hashlib.sha256((piece_id + "|" + salt).encode()).hexdigest()
    return random.Random(int(h[:16], 16))


def key_name(k):
    t = k.tonic.name.replace("-", "b")
    return f"{t} {k.mode}"


# --------------------------------------------------------------------------
# candidate pieces


def corpus_dir():
    return os.path.dirname(corpus.__file__)


def files_under(sub, ext):
    d = os.path.join(corpus_dir(), sub)
    out = []
    for root, _, names in os.walk(d):
        for n in names:
            if n.endswith(ext) and not BACH.search(n):
                rel = os.path.relpath(os.path.join(root, n), corpus_dir())
                out.append(rel.replace(os.sep, "/"))
    return sorted(out)


def spaced(items, n):
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def slug(s):
    s = re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()
    return s[:48].strip("-")


def classical_candidates():
    """(corpus_path, id, title, group, style) for single-score files."""
    c = []
    for p in files_under("haydn", ".mxl"):
        m = re.match(r"haydn/opus(\d+)no(\d+)/movement(\d+)\.mxl", p)
        c.append((p, f"haydn-op{m[1]}no{m[2]}-mvt{m[3]}",
                  f"String Quartet Op. {m[1]} No. {m[2]}, movement {m[3]}",
                  "haydn", "quartet"))
    for p in files_under("mozart", ".mxl"):
        m = re.match(r"mozart/k(\d+)/movement(\d+)(_exposition)?\.mxl", p)
        if m[1] == "545":
            c.append((p, "mozart-k545-mvt1", "Piano Sonata K. 545, movement 1 (exposition)",
                      "mozart", "keyboard"))
        else:
            c.append((p, f"mozart-k{m[1]}-mvt{m[2]}",
                      f"String Quartet K. {m[1]}, movement {m[2]}", "mozart", "quartet"))
    for p in files_under("beethoven", ".mxl"):
        m = re.match(r"beethoven/opus(\d+)(?:no(\d+))?(?:/movement(\d+))?\.mxl", p)
        op, no, mv = m[1], m[2], m[3]
        if op == "59" and mv not in ("1", "3"):
            continue
        if op in ("132", "133"):
            continue  # late works: long, modulating openings
        pid = f"beethoven-op{op}" + (f"no{no}" if no else "") + (f"-mvt{mv}" if mv else "")
        title = f"String Quartet Op. {op}" + (f" No. {no}" if no else "") + (
            f", movement {mv}" if mv else "")
        c.append((p, pid, title, "beethoven", "quartet"))
    for p in files_under("schumann_robert", ""):
        if p.endswith((".mxl", ".xml")):
            b = os.path.splitext(p)[0].split("/", 1)[1]
            if b.startswith("opus41no1"):
                mv = b.rsplit("movement", 1)[1]
                c.append((p, f"schumann-op41no1-mvt{mv}",
                          f"String Quartet Op. 41 No. 1, movement {mv}", "schumann", "quartet"))
            elif b == "opus48no2":
                c.append((p, "schumann-op48no2", "Dichterliebe Op. 48 No. 2", "schumann", "song"))
            elif b == "dichterliebe_no2":
                continue  # the same song as opus48no2
    for p in files_under("schumann_clara", ""):
        if p.endswith((".mxl", ".xml")):
            b = os.path.splitext(p)[0].split("/", 1)[1]
            if b.startswith("polonaise"):
                n = b[-1]
                c.append((p, f"clara-schumann-op1no{n}", f"Polonaise Op. 1 No. {n}",
                          "clara", "keyboard"))
            else:
                c.append((p, "clara-schumann-op17-mvt3", "Piano Trio Op. 17, movement 3",
                          "clara", "trio"))
    singles = [
        ("chopin/mazurka06-2.krn", "chopin-mazurka-op6no2", "Mazurka Op. 6 No. 2",
         "chopin", "keyboard"),
        ("joplin/maple_leaf_rag.mxl", "joplin-maple-leaf-rag", "Maple Leaf Rag",
         "joplin", "keyboard"),
        ("handel/rinaldo/Lascia_chio_pianga.mxl", "handel-lascia-chio-pianga",
         "Rinaldo: Lascia ch'io pianga", "handel", "song"),
        ("corelli/opus3no1/1grave.xml", "corelli-op3no1-mvt1",
         "Trio Sonata Op. 3 No. 1, Grave", "corelli", "trio"),
        ("schubert/Lindenbaum.xml", "schubert-der-lindenbaum", "Der Lindenbaum",
         "schubert", "song"),
        ("weber/concertino_clarinet.mxl", "weber-clarinet-concertino",
         "Clarinet Concertino Op. 26", "weber", "song"),
        ("verdi/laDonnaEMobile.mxl", "verdi-la-donna-e-mobile",
         "Rigoletto: La donna e mobile (piano)", "verdi", "keyboard"),
        ("liliuokalani/aloha_oe.mxl", "liliuokalani-aloha-oe", "Aloha Oe",
         "liliuokalani", "song"),
        ("lusitano/allor_che_ignuda.mxl", "lusitano-allor-che-ignuda",
         "Allor che ignuda", "renaissance", "vocal"),
    ]
    c.extend(singles)
    for p in spaced(files_under("monteverdi", ".mxl"), 18):
        m = re.match(r"monteverdi/madrigal\.(\d+)\.(\d+)\.mxl", p)
        c.append((p, f"monteverdi-madrigal-{m[1]}-{m[2]}",
                  f"Madrigal Book {m[1]} No. {m[2]}", "renaissance", "vocal"))
    pal = [p for p in files_under("palestrina", ".krn") if "rpt" not in p]
    for p in spaced(pal, 18):
        b = os.path.splitext(os.path.basename(p))[0]
        c.append((p, "palestrina-" + slug(b), b.replace("_", " "), "palestrina", "vocal"))
    return c


FOLK_SOURCES = [
    # (corpus path, how many to keep, stride through the opus)
    ("oneills1850/0001-0050.abc", 8, 3),
    ("airdsAirs/book1.abc", 6, 17),
    ("miscFolk/americanfifeopus.abc", 4, 5),
    ("essenFolksong/erk5.abc", 4, 2),
]


# --------------------------------------------------------------------------
# analysis helpers


def first_meter(sc):
    for ts in sc.recurse().getElementsByClass(meter.TimeSignature):
        return ts.ratioString
    return None


def tempo_marking(sc):
    """(explicit metronome mark or None, tempo text or '')."""
    explicit = None
    words = []
    p0 = sc.parts[0] if sc.parts else sc
    for el in p0.recurse().getElementsByClass((tempo.MetronomeMark, expressions.TextExpression,
                                               tempo.TempoText)):
        off = el.getOffsetInHierarchy(sc)
        if off > 8:
            break
        if isinstance(el, tempo.MetronomeMark):
            if el.text:
                words.append(el.text)
            if el.number is not None and not el.numberImplicit and \
                    "playback" not in repr(el):
                explicit = explicit or el.getQuarterBPM()
        elif isinstance(el, tempo.TempoText):
            words.append(el.text or "")
        else:
            words.append(el.content or "")
    return explicit, " ".join(w for w in words if w)


def choose_tempo(pid, sc, style, title, meter_s):
    beat_ql, unit = METERS[meter_s]
    rng = rng_for(pid, "tempo")
    explicit, text = tempo_marking(sc)
    if explicit:
        taps = explicit / beat_ql
        if 40 <= taps <= 208:
            return round(taps, 1), "explicit"
    low = text.lower()
    rng_range = None
    for w, a, b in TEMPO_WORDS:
        if w in low:
            rng_range = (a, b)
            break
    if rng_range is None and style == "folk":
        tl = title.lower()
        for w, a, b in FOLK_WORDS:
            if re.search(r"\b" + w, tl):
                rng_range = (a, b)
                break
        if rng_range is None:
            rng_range = (84, 120)
    if rng_range is None:
        if style == "vocal":
            rng_range = (60, 84) if unit == "half" else (84, 116)
        else:
            rng_range = (72, 132)
    a, b = rng_range
    if unit == "dotted quarter" and style != "folk":
        a, b = a * 0.8, b * 0.8
    taps = rng.uniform(a, b)
    taps = max(40.0, min(208.0, taps))
    return round(taps, 1), "drawn"


VOCAL_RE = re.compile(r"sopran|alto|altus|tenor|bass|canto|cantus|quint|sext|superius|"
                      r"discantus|contra|voice|voce|choir|chor|vocal|singstimme", re.I)


def instrument_of(name):
    n = (name or "").lower()
    if re.search(r"violon ?cello|cello|vc\.|violone", n):
        return "cello"
    if re.search(r"contrabass|double bass|kontrabass", n):
        return "double bass"
    if re.search(r"viola|vla", n):
        return "viola"
    if re.search(r"violin|violino|vln|vl\.", n):
        return "violin"
    if "clarinet" in n:
        return "clarinet"
    if re.search(r"flute|flauto", n):
        return "flute"
    if "oboe" in n:
        return "oboe"
    if re.search(r"bassoon|fagot", n):
        return "bassoon"
    if re.search(r"trumpet|tromba", n):
        return "trumpet"
    if "trombone" in n:
        return "trombone"
    if re.search(r"horn|corno", n):
        return "horn"
    if "tuba" in n:
        return "tuba"
    if re.search(r"harpsichord|cembalo", n):
        return "harpsichord"
    if re.search(r"organ|organo|orgel", n):
        return "organ"
    if re.search(r"piano|klavier|pianoforte", n):
        return "piano"
    if "harp" in n:
        return "harp"
    if VOCAL_RE.search(n):
        return "choir"
    return None


def part_label(p):
    inst = p.getInstrument(returnDefault=False)
    names = [p.partName or "", inst.instrumentName if inst and inst.instrumentName else ""]
    return names


def assign_instruments(pid, style, parts):
    rng = rng_for(pid, "instruments")
    names = []
    for p in parts:
        pn, inn = part_label(p)
        names.append(pn or inn or "Part")
    out = []
    if style == "folk":
        inst = rng.choice(FOLK_MELODY)
        return [(names[i], inst) for i in range(len(parts))], None
    if style == "vocal":
        r = rng.random()
        ens = None if r < 0.5 else ("brass" if r < 0.7 else ("winds" if r < 0.9 else "strings"))
        if ens:
            n = len(parts)
            lst = ENSEMBLES[ens]
            # spread the voices top to bottom over the ensemble list
            for i in range(n):
                j = round(i * (len(lst) - 1) / max(1, n - 1))
                out.append((names[i], lst[j]))
            return out, ens
        return [(nm, "choir") for nm in names], None
    keyboard_alt = None
    if style == "keyboard":
        r = rng.random()
        keyboard_alt = "piano" if r < 0.7 else ("harpsichord" if r < 0.85 else "organ")
    for p, nm in zip(parts, names):
        pn, inn = part_label(p)
        inst = instrument_of(pn) or instrument_of(inn)
        if pid.startswith("corelli") and inst == "cello":
            inst = "organ"  # "Violone e Organo": continuo on the organ
        if pid.startswith("handel") and inst == "piano":
            inst = "harpsichord"
        if inst is None:
            inst = "piano" if style in ("keyboard", "song", "trio") else "string ensemble"
        if style == "keyboard" and inst == "piano":
            inst = keyboard_alt
        out.append((nm, inst))
    return out, None


def extract_notes(sc, parts):
    """Per part: list of (start_ql, end_ql, midi_pitch, dynamic_velocity_or_None)."""
    res = []
    for p in parts:
        flat = p.stripTies().flatten()
        dyns = []
        for d in flat.getElementsByClass(m21dyn.Dynamic):
            v = DYNAMICS.get((d.value or "").lower())
            if v is not None:
                dyns.append((float(d.offset), v, (d.value or "").lower()))
        dyns.sort(key=lambda x: x[0])
        accents = ("sf", "sfz", "fz", "fp", "sfp", "rf", "rfz")
        notes = []
        di = -1
        cur = None
        accent_at = None
        for el in flat.notes:
            if isinstance(el, harmony.ChordSymbol):
                continue
            ql = float(el.quarterLength)
            if ql <= 0:
                continue
            off = float(el.offset)
            while di + 1 < len(dyns) and dyns[di + 1][0] <= off + 1e-9:
                di += 1
                if dyns[di][2] in accents:
                    # an accent marks only the notes it stands on
                    accent_at = (dyns[di][0], dyns[di][1])
                else:
                    cur = dyns[di][1]
            vel = cur
            if accent_at and abs(accent_at[0] - off) < 1e-9:
                vel = accent_at[1]
            pitches = el.pitches if isinstance(el, chord.Chord) else [el.pitch]
            for pt in pitches:
                notes.append((off, off + ql, int(pt.midi), vel))
        notes = [n for n in notes if 0 <= n[2] <= 127]
        res.append(notes)
    return res


def measure_ends(part):
    ends = []
    for m in part.getElementsByClass(stream.Measure):
        ends.append(float(m.offset) + float(m.duration.quarterLength))
    return sorted(set(ends))


def bass_pcs(all_notes):
    """pitch class of the lowest note sounding at the first and at the last onset."""
    flat = [n for ps in all_notes for n in ps]
    if not flat:
        return None, None
    first = min(n[0] for n in flat)
    last = max(n[0] for n in flat)
    fb = min(n[2] for n in flat if abs(n[0] - first) < 1e-6)
    # last onset: lowest pitch among notes sounding at the last onset
    lb = min(n[2] for n in flat if n[0] <= last + 1e-6 and n[1] > last + 1e-6)
    return fb % 12, lb % 12


def analyse_opening(all_notes, end_ql):
    s = stream.Stream()
    count = 0
    for ps in all_notes:
        for (a, b, m, _) in ps:
            if a < end_ql:
                n = note.Note(m, quarterLength=max(0.25, min(b, end_ql) - a))
                s.insert(a, n)
                count += 1
    if count < 8:
        return None
    k = s.analyze("key")
    cands = [k] + list(k.alternateInterpretations)
    return cands


def decide_key(sc, all_notes, opening_ql):
    """returns (key_obj, source) or (None, reason)."""
    kss = list(sc.parts[0].recurse().getElementsByClass(key.KeySignature)) if sc.parts else []
    ks0 = kss[0] if kss else None
    cands = analyse_opening(all_notes, opening_ql)
    if cands is None:
        return None, "too few notes in the opening"
    top3 = [key_name(k) for k in cands[:3]]
    corr = {key_name(k): k.correlationCoefficient for k in cands}
    fb, lb = bass_pcs(all_notes)
    chosen, source = None, None
    if ks0 is not None:
        if isinstance(ks0, key.Key) and ks0.mode not in ("major", "minor"):
            return None, f"modal key {ks0}"
        maj = ks0.asKey("major")
        mnr = ks0.asKey("minor")

        def evidence(k):
            e = 0
            if fb == k.tonic.pitchClass:
                e += 1
            if lb == k.tonic.pitchClass:
                e += 1
            return e
        em, en = evidence(maj), evidence(mnr)
        if isinstance(ks0, key.Key):
            notated = maj if ks0.mode == "major" else mnr
            other = mnr if notated is maj else maj
            en_, eo = evidence(notated), evidence(other)
            if eo > en_ and corr[key_name(other)] > corr[key_name(notated)]:
                chosen = other  # mode written by default in the encoding; bass disagrees
            else:
                chosen = notated
            source = "notated"
        else:
            if em != en:
                chosen = maj if em > en else mnr
                source = "notated"
            elif em > 0 or key_name(cands[0]) in (key_name(maj), key_name(mnr)):
                chosen = maj if corr[key_name(maj)] >= corr[key_name(mnr)] else mnr
                source = "notated"
    if chosen is None:
        chosen = cands[0]
        if chosen.mode not in ("major", "minor"):
            return None, "analysis not major/minor"
        source = "analysed"
    name = key_name(chosen)
    if name not in top3:
        return None, f"opening not in {name} (analysis {top3})"
    return chosen, source


# --------------------------------------------------------------------------
# MIDI writing


def fix_overlaps(notes):
    """On one channel a pitch can sound once: cut a note where the same pitch starts again."""
    by_pitch = {}
    for n in notes:
        by_pitch.setdefault(n[2], []).append(n)
    out = []
    for p, lst in by_pitch.items():
        lst.sort(key=lambda n: (n[0], -n[1]))
        i = 0
        kept = []
        for n in lst:
            if kept and abs(kept[-1][0] - n[0]) < 1e-9:
                continue
            if kept and kept[-1][1] > n[0]:
                a, _, pp, v = kept[-1]
                kept[-1] = (a, n[0], pp, v)
            kept.append(n)
        out.extend(k for k in kept if k[1] - k[0] > 1e-6)
    out.sort(key=lambda n: (n[0], n[2]))
    return out


def write_midi(path, meter_s, quarter_bpm, parts_notes, programs, cut_ql, pid, title):
    mf = mido.MidiFile(type=1, ticks_per_beat=TPB)
    t0 = mido.MidiTrack()
    num, den = (int(x) for x in meter_s.split("/"))
    t0.append(mido.MetaMessage("track_name", name=title[:60], time=0))
    t0.append(mido.MetaMessage("time_signature", numerator=num, denominator=den,
                               clocks_per_click=24, notated_32nd_notes_per_beat=8, time=0))
    t0.append(mido.MetaMessage("set_tempo", tempo=int(round(60_000_000 / quarter_bpm)), time=0))
    t0.append(mido.MetaMessage("end_of_track", time=0))
    mf.tracks.append(t0)
    channels = [c for c in range(16) if c != 9]
    rng = rng_for(pid, "velocity")
    base = rng.randint(70, 90)
    last_tick = 0
    for i, (notes, (pname, prog)) in enumerate(zip(parts_notes, programs)):
        ch = channels[i]
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=(pname or "Part")[:40], time=0))
        tr.append(mido.Message("program_change", channel=ch, program=prog, time=0))
        events = []
        for (a, b, m, v) in fix_overlaps([n for n in notes if n[0] < cut_ql - 1e-9]):
            b = min(b, cut_ql)
            ta, tb = int(round(a * TPB)), int(round(b * TPB))
            if tb <= ta:
                continue
            if v is None:
                v = max(64, min(96, base + rng.randint(-6, 6)))
            events.append((ta, 1, m, v))
            events.append((tb, 0, m, 0))
        events.sort()
        now = 0
        for (t, on, m, v) in events:
            if on:
                tr.append(mido.Message("note_on", channel=ch, note=m, velocity=v, time=t - now))
            else:
                tr.append(mido.Message("note_off", channel=ch, note=m, velocity=0, time=t - now))
            now = t
        last_tick = max(last_tick, now)
        tr.append(mido.MetaMessage("end_of_track", time=0))
        mf.tracks.append(tr)
    # every track ends on the last note-off so the file's length is the music's
    for tr in mf.tracks:
        total = sum(msg.time for msg in tr)
        tr[-1] = mido.MetaMessage("end_of_track", time=last_tick - total)
    mf.save(path)
    return last_tick


# --------------------------------------------------------------------------


def process(sc, corpus_path, pid, title, group, style, composer, outdir, log):
    if BACH.search(pid) or BACH.search(corpus_path) or BACH.search(composer) or \
            BACH.search(str(sc.metadata.composer if sc.metadata else "")):
        log(f"skip {pid}: Bach")
        return None
    if style == "folk":
        # dance tunes are played with their repeats (AABB)
        try:
            sc = sc.expandRepeats()
        except Exception:  # noqa: BLE001
            pass
    parts = list(sc.parts) if sc.parts else [sc]
    if len(parts) > 15:
        log(f"skip {pid}: {len(parts)} parts")
        return None
    meter_s = first_meter(sc)
    if meter_s == "C":
        meter_s = "4/4"
    if meter_s not in METERS:
        log(f"skip {pid}: meter {meter_s}")
        return None
    all_notes = extract_notes(sc, parts)
    keep = [i for i, ns in enumerate(all_notes) if ns]
    parts = [parts[i] for i in keep]
    all_notes = [all_notes[i] for i in keep]
    if not parts:
        log(f"skip {pid}: no notes")
        return None
    taps, tsrc = choose_tempo(pid, sc, style, title, meter_s)
    beat_ql, unit = METERS[meter_s]
    quarter_bpm = round(taps * beat_ql, 3)
    sec_per_ql = 60.0 / quarter_bpm
    first_on = min(n[0] for ns in all_notes for n in ns)
    if first_on * sec_per_ql >= OPENING_SECONDS - 2:
        log(f"skip {pid}: no notes in the opening")
        return None
    k, src = decide_key(sc, all_notes, OPENING_SECONDS / sec_per_ql)
    if k is None:
        log(f"skip {pid}: {src}")
        return None
    # meter changes inside the excerpt's opening are not allowed
    for ts in sc.parts[0].recurse().getElementsByClass(meter.TimeSignature) if sc.parts else []:
        off = ts.getOffsetInHierarchy(sc.parts[0])
        if off * sec_per_ql < OPENING_SECONDS and ts.ratioString not in (meter_s, "C") and off > 0:
            log(f"skip {pid}: meter changes in the opening")
            return None
    last_end = max(n[1] for ns in all_notes for n in ns)
    max_ql = MAX_SECONDS / sec_per_ql
    cut = last_end
    if last_end > max_ql:
        ends = [e for e in measure_ends(parts[0]) if e <= max_ql + 1e-9]
        cut = ends[-1] if ends else max_ql
    insts, ens = assign_instruments(pid, style, parts)
    programs = [(nm, PROGRAMS[inst]) for nm, inst in insts]
    fname = pid + ".mid"
    last_tick = write_midi(os.path.join(outdir, fname), meter_s, quarter_bpm, all_notes,
                           programs, cut, pid, title)
    dur = last_tick / TPB * sec_per_ql
    if dur < 15:
        log(f"skip {pid}: only {dur:.1f} s")
        os.remove(os.path.join(outdir, fname))
        return None
    rec = {
        "id": pid, "file": fname, "composer": composer, "title": title,
        "corpus_path": corpus_path, "key": key_name(k), "key_source": src,
        "meter": meter_s, "tempo_bpm": taps, "quarter_bpm": quarter_bpm,
        "beat_unit": unit, "duration_seconds": round(dur, 3),
        "parts": [{"name": nm, "program": PROGRAMS[inst], "instrument": inst}
                  for nm, inst in insts],
        "instruments": sorted(set(inst for _, inst in insts)),
        "split": None,
        "_group": group if style != "vocal" or ens is None else group + "-" + ens,
        "_style": style,
    }
    log(f"ok   {pid}: {rec['key']} ({src}) {meter_s} {taps} ({tsrc}) {dur:.1f}s "
        f"{rec['instruments']}")
    return rec


def folk_candidates(log):
    for path, keep, stride in FOLK_SOURCES:
        op = corpus.parse(path)
        scores = list(op.scores) if isinstance(op, stream.Opus) else [op]
        yield path, scores, keep, stride
    rm = [p for p in files_under("ryansMammoth", ".abc")]
    yield "ryansMammoth", spaced(rm, 40), 16, 1


def assign_splits(recs):
    groups = {}
    for r in recs:
        groups.setdefault(r["_group"], []).append(r)
    for g, lst in sorted(groups.items()):
        lst.sort(key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
        n_held = round(0.3 * len(lst))
        if len(lst) >= 2 and n_held == 0:
            n_held = 1
        for i, r in enumerate(lst):
            r["split"] = "heldout" if i < n_held else "train"


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "assets", "compositions"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    outdir = os.path.normpath(args.out)
    os.makedirs(outdir, exist_ok=True)
    for n in os.listdir(outdir):
        if n.endswith(".mid"):
            os.remove(os.path.join(outdir, n))

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    recs = []
    for (path, pid, title, group, style) in classical_candidates():
        if BACH.search(path):
            continue
        composer = COMPOSERS[path.split("/")[0]]
        try:
            sc = corpus.parse(path)
        except Exception as e:  # noqa: BLE001
            log(f"skip {pid}: parse error {e}")
            continue
        if isinstance(sc, stream.Opus):
            sc = sc.scores[0]
        try:
            r = process(sc, path, pid, title, group, style, composer, outdir, log)
        except Exception as e:  # noqa: BLE001
            log(f"skip {pid}: {type(e).__name__} {e}")
            r = None
        if r:
            recs.append(r)
    seen = set(r["id"] for r in recs)
    for path, scores, keep, stride in folk_candidates(log):
        got = 0
        src = path.split("/")[0]
        for i in range(0, len(scores), stride):
            if got >= keep:
                break
            item = scores[i]
            cpath = item if isinstance(item, str) else path
            try:
                sc = corpus.parse(item) if isinstance(item, str) else item
            except Exception as e:  # noqa: BLE001
                log(f"skip {item}: parse error {e}")
                continue
            t = (sc.metadata.title if sc.metadata and sc.metadata.title else "") or \
                os.path.splitext(os.path.basename(cpath))[0]
            t = t.strip().rstrip(".")
            num = sc.metadata.number if sc.metadata and sc.metadata.number else str(i)
            prefix = {"ryansMammoth": "ryan", "oneills1850": "oneill", "airdsAirs": "aird",
                      "essenFolksong": "essen", "miscFolk": "fife"}[src]
            pid = f"{prefix}-{slug(t)}" if isinstance(item, str) else f"{prefix}-{num}-{slug(t)}"
            if pid in seen:
                continue
            try:
                r = process(sc, cpath, pid, t, "folk-" + src, "folk", COMPOSERS[src], outdir, log)
            except Exception as e:  # noqa: BLE001
                log(f"skip {pid}: {type(e).__name__} {e}")
                r = None
            if r:
                recs.append(r)
                seen.add(pid)
                got += 1
    assign_splits(recs)
    recs.sort(key=lambda r: r["id"])
    with open(os.path.join(outdir, "index.jsonl"), "w", encoding="utf-8") as f:
        for r in recs:
            r = {k: v for k, v in r.items() if not k.startswith("_")}
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    held = sum(r["split"] == "heldout" for r in recs)
    log(f"{len(recs)} pieces ({len(recs) - held} train, {held} heldout)")


if __name__ == "__main__":
    main()
