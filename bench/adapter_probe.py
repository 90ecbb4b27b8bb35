"""Probe (not part of the bot): a linear query adapter fitted to a corpus's own question -> reply pairs.

Measured in session 12 and not kept (docs/RETRIEVAL.md). The recipe: every turn whose last
sentence is a question, followed by another speaker's turn of 20+ words (or, in a meeting's
exchanges, a question line followed by another speaker's line of 8+ words), gives a pair
(that question sentence, the reply's passages). A 384 x 384 matrix W, starting at the
identity, maps question vectors so that the reply's stored passage vectors win a softmax
over every passage of the index (scale 20), with ``lam * |W - I|^2 / 384`` against drifting;
a tenth of the transcripts is held out to watch it. No passage is re-embedded: at question
time the vector is ``normalise((1 - alpha) q + alpha normalise(W q))``.

    python bench/adapter_probe.py train INDEX OUT.npy [--lam 1] [--epochs 2]
    python bench/adapter_probe.py eval INDEX QUESTIONS.jsonl OUT.npy[,ALPHA] ...
"""
import os, re, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import numpy as np

SEP_RE = re.compile(r"(?<=[.?!])\s+")


def question_sentence(text):
    sents = [s for s in SEP_RE.split(text.strip()) if s]
    if not sents or not sents[-1].rstrip().endswith("?"):
        return None
    q = sents[-1]
    if len(q.split()) < 6 and len(sents) > 1:
        q = sents[-2] + " " + q
    return q if len(q.split()) >= 5 else None


def pairs_from(data):
    from bot.chunking import EXCHANGE_LINE_SEPARATOR
    by_tr = {}
    for row, p in enumerate(data.passages):
        by_tr.setdefault(p.transcript, []).append(row)
    pairs = []  # (transcript, query, [rows])
    for tr, rows in by_tr.items():
        turns = {}
        exch = []
        for r in rows:
            p = data.passages[r]
            if p.last_turn is not None:
                exch.append(r)
            else:
                turns.setdefault(p.turn, []).append(r)
        order = sorted(turns)
        for a, b in zip(order, order[1:]):
            pa, pb = data.passages[turns[a][-1]], data.passages[turns[b][0]]
            if pa.speaker == pb.speaker or b != a + 1:
                continue
            q = question_sentence(pa.text)
            words = sum(len(data.passages[r].text.split()) for r in turns[b])
            if q and words >= 20:
                pairs.append((tr, q, list(turns[b])))
        for r in exch:
            lines = data.passages[r].text.split(EXCHANGE_LINE_SEPARATOR)
            for j in range(len(lines) - 1):
                sa, _, ta = lines[j].partition(": ")
                sb, _, tb = lines[j + 1].partition(": ")
                if sa == sb or len(tb.split()) < 8:
                    continue
                q = question_sentence(ta)
                if q:
                    pos = [x for x in exch if lines[j + 1] in data.passages[x].text]
                    pairs.append((tr, q, pos))
    # one pair per distinct query text
    seen, out = set(), []
    for t in pairs:
        if t[1] not in seen:
            seen.add(t[1]); out.append(t)
    return out


def all_vectors(data):
    n = len(data.passages)
    out = np.zeros((n, data.title_vectors.shape[1]), dtype=np.float32)
    for row, pid in enumerate(data.ids):
        out[row] = data.vectors.reconstruct(int(pid))
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-9
    return out


def train(index, out_path, lam=1.0, epochs=30, scale=20.0):
    import torch
    from bot.store import load
    from bot.embedding import load_embedder
    t0 = time.time()
    data = load(Path(index))
    P = all_vectors(data)
    pairs = pairs_from(data)
    print(f"{len(pairs)} pairs from {len(set(p[0] for p in pairs))} transcripts; {len(P)} passages ({time.time()-t0:.0f} s)", flush=True)
    emb = load_embedder(threads=2)
    Q = emb.embed_documents([p[1] for p in pairs])
    print(f"queries embedded ({time.time()-t0:.0f} s)", flush=True)
    trs = sorted(set(p[0] for p in pairs))
    rng = np.random.default_rng(0)
    val_tr = set(rng.choice(trs, size=max(1, len(trs) // 10), replace=False))
    tr_idx = [i for i, p in enumerate(pairs) if p[0] not in val_tr]
    va_idx = [i for i, p in enumerate(pairs) if p[0] in val_tr]
    Pt = torch.from_numpy(P)
    Qt = torch.from_numpy(Q)
    pos_mask = torch.zeros((len(pairs), len(P)), dtype=torch.bool)
    for i, p in enumerate(pairs):
        pos_mask[i, p[2]] = True

    def metrics(W, idx):
        with torch.no_grad():
            q = torch.nn.functional.normalize(Qt[idx] @ W.T, dim=1)
            s = q @ Pt.T
            best_pos = s.masked_fill(~pos_mask[idx], -9).max(1).values
            rank = (s > best_pos[:, None]).sum(1)
            return float((rank < 5).float().mean()), float((1.0 / (rank + 1).float()).mean())

    W = torch.eye(P.shape[1], requires_grad=True)
    I = torch.eye(P.shape[1])
    print("before: val hit@5 %.3f mrr %.3f; train hit@5 %.3f" % (*metrics(W, va_idx), metrics(W, tr_idx)[0]), flush=True)
    opt = torch.optim.Adam([W], lr=1e-3)
    B = 128
    for ep in range(epochs):
        perm = rng.permutation(tr_idx)
        for at in range(0, len(perm), B):
            idx = perm[at:at + B]
            q = torch.nn.functional.normalize(Qt[idx] @ W.T, dim=1)
            logits = scale * (q @ Pt.T)
            pos = logits.masked_fill(~pos_mask[idx], float("-inf"))
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(pos, 1)).mean() + lam * ((W - I) ** 2).sum() / P.shape[1]
            opt.zero_grad(); loss.backward(); opt.step()
        print("epoch %d loss %.3f: val hit@5 %.3f mrr %.3f; train hit@5 %.3f" % (ep + 1, float(loss.detach()), *metrics(W, va_idx), metrics(W, tr_idx)[0]), flush=True)
    np.save(out_path, W.detach().numpy())
    print(f"saved {out_path} ({time.time()-t0:.0f} s)")


class Adapted:
    def __init__(self, inner, W, alpha=1.0):
        self.inner, self.W, self.alpha = inner, W, alpha
        self.name, self.dimension = inner.name, inner.dimension

    def __getattr__(self, k):
        return getattr(self.inner, k)

    def embed_query(self, text):
        v = self.inner.embed_query(text)
        w = self.W @ v
        w /= np.linalg.norm(w)
        w = (1 - self.alpha) * v + self.alpha * w
        return (w / np.linalg.norm(w)).astype(np.float32)


def evaluate_variants(index, questions, specs):
    from bot.core import TranscriptBot
    from bot.embedding import load_query_embedder
    from bot.evaluation import evaluate, load_questions
    from bot.settings import Settings
    qs = load_questions(Path(questions))
    settings = Settings.resolve(index=index, corpus=str(Path(index).parent / "corpus"))
    base = load_query_embedder(settings, threads=1)
    for spec in ["none"] + specs:
        if spec == "none":
            emb = base
        else:
            path, _, alpha = spec.partition(",")
            emb = Adapted(base, np.load(path), float(alpha or 1.0))
        bot = TranscriptBot(settings, embedder=emb)
        rep = evaluate(bot, qs, k=10)
        o = rep["overall"]
        para = rep["by_type"].get("paraphrase", {}).get("hit@5")
        print(f"{spec:<40} {o.get('hit@1',0):.3f} / {o.get('hit@5',0):.3f} / {o.get('hit@10',0):.3f} / {o.get('mrr@10',0):.3f}"
              f"  f.a. {o.get('false_abstentions',0)}  unans {o.get('abstained_unanswerable','-')}/{o.get('unanswerable','-')}  para@5 {para}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "train":
        kw = {}
        args = sys.argv[4:]
        for i in range(0, len(args), 2):
            kw[args[i].lstrip("-")] = float(args[i + 1]) if args[i] != "--epochs" else int(args[i + 1])
        train(sys.argv[2], sys.argv[3], **kw)
    else:
        evaluate_variants(sys.argv[2], sys.argv[3], sys.argv[4:])
