"""Continues prompts with a trained language model (a --model_dir or a --zoo entry).

python tools/generate.py --zoo=ptb/rkm_lstm --prompt="the company said" [--prompt=...] \
    [--length=30] [--sampler=top_k|greedy|top_p|random|beam] [--k=5] [--p=0.9] \
    [--temperature=1.0] [--num_beams=5] [--seed=0] [--stop_at_eos] [--json]

Generation is keras-hub's (`KernelCausalLM`'s `generate_step` with the recurrent states as the
cache, one of keras-hub's samplers): each prompt is read once and each new word costs one step
of every layer. The defaults are `KernelCausalLM`'s (`causal_lm.default_sampler()`): top_k
sampling among the 5 most likely words, seed 0; whatever the sampler, no generated word is
<unk>. Each prompt is continued on its own, its sampler's random state reset to --seed's first,
so a prompt's text depends on the seed and its own settings, never on the other prompts, and
equals `lm.generate` of a freshly loaded model with the same sampler and seed.

A prompt is tokenised as the corpus is (split on white space; lower case for PTB); a word the
vocabulary lacks becomes <unk>. The text printed is the prompt's words and the --length new
ones (fewer with --stop_at_eos, which ends a prompt's text at the first <eos> it generates),
joined by spaces; an <eos> generated mid-text is kept, as the corpus writes sentence ends.
"""

import json
import sys

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import zoo
from kasm_keras.models import task_family
from kasm_keras.models.kernel_lm import causal_lm
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import download

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, download.DownloadError)
SAMPLERS = ("top_k", "greedy", "top_p", "random", "beam")
# New words per prompt at most: the token ids and the prompt's pass are as wide as the prompt and
# --length together, allocated before the first word (and at a few milliseconds a word, 10,000
# words take about a minute on a CPU).
MAX_LENGTH = 10_000
# The flags each sampler reads (--temperature: all of them); another sampler's is refused.
SAMPLER_FLAGS = {"k": ("top_k",), "p": ("top_p",), "num_beams": ("beam",),
                 "seed": ("top_k", "top_p", "random")}


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py language model run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo language model, e.g. ptb/rkm_lstm.", **kw)
    tool_support.define_zoo_dir(flag_values)
    flags.DEFINE_multi_string("prompt", None, "Text to continue (repeatable), UTF-8.", **kw)
    flags.DEFINE_integer("length", 30, f"New words per prompt, at most {MAX_LENGTH:,}.",
                         lower_bound=1, upper_bound=MAX_LENGTH, **kw)
    flags.DEFINE_enum("sampler", causal_lm.DEFAULT_SAMPLER, SAMPLERS, "keras-hub sampler: top_k "
                      "(one of the --k most likely words; the default, as KernelCausalLM's), "
                      "greedy (the most likely word), top_p (nucleus), random (the whole "
                      "distribution), beam (beam search). None writes <unk>.", **kw)
    flags.DEFINE_integer("k", causal_lm.DEFAULT_K, "top_k: the k most likely words are sampled "
                         "from.", lower_bound=1, **kw)
    flags.DEFINE_float("p", 0.9, "top_p: the smallest set of words whose probabilities add up "
                       "to p is sampled from.", **kw)
    flags.DEFINE_float("temperature", 1.0, "Logits are divided by it before sampling (at least "
                       "1e-6; --sampler=greedy is the limit of a small one).", **kw)
    flags.DEFINE_integer("num_beams", 5, "beam: beams kept.", lower_bound=1, **kw)
    flags.DEFINE_integer("seed", causal_lm.DEFAULT_SEED, "Seed of the random samplers (top_k, "
                         "top_p, random): the same seed, model and flags give the same text.",
                         **kw)
    flags.DEFINE_bool("stop_at_eos", False, "End a prompt's text at the first <eos> it "
                      "generates (the end of a sentence).", **kw)
    flags.DEFINE_bool("json", False, "Print one JSON object per prompt (a list) instead of "
                      "the texts.", **kw)
    flags.mark_flag_as_required("prompt", **kw)
    tool_support.utf8_text(flag_values, "prompt")
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.one_model(flag_values)
    # Below 1e-6 the logits divided by it overflow float32 (inf, then NaN probabilities); greedy
    # is the limit it approaches.
    tool_support.in_range(flag_values, "temperature", low=1e-6)
    tool_support.in_range(flag_values, "p", low=0.0, high=1.0, low_open=True)


def make_sampler(name, k=causal_lm.DEFAULT_K, p=0.9, temperature=1.0, num_beams=5,
                 seed=causal_lm.DEFAULT_SEED):
    """The keras-hub sampler `name` (one of SAMPLERS) with these settings."""
    import keras_hub

    samplers = keras_hub.samplers
    if name == "greedy":
        return samplers.GreedySampler(temperature=temperature)
    if name == "top_k":
        return causal_lm.default_sampler(k=k, seed=seed, temperature=temperature)
    if name == "top_p":
        return samplers.TopPSampler(p=p, seed=seed, temperature=temperature)
    if name == "random":
        return samplers.RandomSampler(seed=seed, temperature=temperature)
    if name == "beam":
        return samplers.BeamSampler(num_beams=num_beams, temperature=temperature)
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {name!r}")


def generate(lm, prompts, length, sampler, stop_at_eos=False):
    """[{"prompt", "text", "new_words"}] of each prompt continued by `length` words (fewer when
    `stop_at_eos` ends it at a generated <eos>). Each prompt runs on its own from the sampler's
    initial random state (`sampler.variables`), so its text does not depend on the others'."""
    import numpy as np

    tokenizer = lm.preprocessor.tokenizer
    vocabulary = tokenizer.get_vocabulary()
    eos = tokenizer.end_token_id
    lm.compile(sampler=sampler)
    initial = [np.array(v.numpy()) for v in sampler.variables]
    results = []
    for prompt in prompts:
        words = len(list(tokenizer([prompt])[0]))
        if words == 0:
            raise zoo.ZooError(f"--prompt={prompt!r}: an empty prompt (no words to continue)")
        for variable, value in zip(sampler.variables, initial):
            variable.assign(value)
        # The preprocessor packs the start token and the prompt's words; `length` positions
        # more are generated.
        inputs = lm.preprocessor.generate_preprocess([prompt], sequence_length=1 + words + length)
        outputs = lm.make_generate_function()(inputs, stop_token_ids=[eos] if stop_at_eos else None)
        ids = np.asarray(outputs["token_ids"])[0]
        mask = np.asarray(outputs["padding_mask"])[0].astype(bool)
        ids = ids[mask][1:]  # without the start token
        new = ids[words:]
        if stop_at_eos and len(new) and new[-1] == eos:
            new = new[:-1]
        text = " ".join(vocabulary[i] for i in np.concatenate([ids[:words], new]))
        results.append({"prompt": prompt, "text": text,
                        "new_words": [vocabulary[i] for i in new]})
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    for name, samplers in SAMPLER_FLAGS.items():
        if FLAGS[name].present and FLAGS.sampler not in samplers:
            raise app.UsageError(f"--{name} applies to --sampler={' or '.join(samplers)}, not "
                                 f"to --sampler={FLAGS.sampler}")
    empty = [p for p in FLAGS.prompt if not p.strip()]
    if empty:
        tool_support.fail(f"--prompt={empty[0]!r}: an empty prompt (no words to continue)")
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    source = tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)
    family = task_family.of_model(model)
    if not family.generates:
        generating = [n for f in task_family.all_families() if f.generates for n in f.names()]
        tool_support.fail(f"{source} is a {type(model).__name__} (a {family.description}), not "
                          f"a language model; the zoo's language models: {', '.join(generating)}")
    words = model.preprocessor.tokenizer.vocabulary_size()
    if FLAGS.sampler == "top_k" and FLAGS.k > words:
        tool_support.fail(f"--k={FLAGS.k}: more than the {words:,} words of {source}'s "
                          "vocabulary")
    sampler = make_sampler(FLAGS.sampler, k=FLAGS.k, p=FLAGS.p, temperature=FLAGS.temperature,
                           num_beams=FLAGS.num_beams, seed=FLAGS.seed)
    results = generate(model, FLAGS.prompt, FLAGS.length, sampler,
                       stop_at_eos=FLAGS.stop_at_eos)
    if FLAGS.json:
        print(json.dumps([{**r, "sampler": FLAGS.sampler, "seed": FLAGS.seed} for r in results]))
        return
    for result in results:
        print(result["text"])


def run():
    """`kasm-generate`: this program on the command line (`python tools/generate.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
