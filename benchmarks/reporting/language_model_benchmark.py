"""How long a language-model recipe takes on this machine, per cell of Table 3: the seconds of a
training step through the one training loop and of a validation pass, projected to the recipe's
epochs. A zoo entry's own training minutes are wall-clock time, and count whatever else the
machine ran beside it; these figures come from short runs on an otherwise idle machine."""

import os
import tempfile
import time

from benchmarks.reporting.child import in_child
from kasm_keras.paper import TABLE3_PERPLEXITY

CORPUS = "ptb"
RECIPE = "cpu"
VARIANTS = tuple(TABLE3_PERPLEXITY[CORPUS])  # the cells of Table 3
GOAL_MINUTES = 120.0  # issue 14: each cell of the cpu recipe trained in at most 2 hours
WARMUP_STEPS = 3  # the loop leaves its first window (tracing) out of its speed


def measure_one(variant, data_dir, cache_dir=None, steps=40, recipe=RECIPE, overrides=None):
    """One cell: `steps` timed training steps of `recipe` (after the loop's warm-up window) and
    one warm validation pass over the corpus' validation split, in this process."""
    from kasm_keras.training import language_model as lm
    from kasm_keras.training.loop import Trainer

    settings = {**lm.RECIPES[recipe], **(overrides or {})}
    log_every = settings.pop("log_every", min(20, steps))
    with tempfile.TemporaryDirectory() as tmp:
        config = lm.LanguageModelConfig(
            model=variant, dataset=CORPUS, model_dir=os.path.join(tmp, "run"), data_dir=data_dir,
            cache_dir=cache_dir, max_steps=WARMUP_STEPS + steps, eval_every=WARMUP_STEPS + steps,
            log_every=log_every, test=False, **settings)
        task = lm.LanguageModelTask(config)
        trainer = Trainer(task, config.loop_config(), log=lambda _: None)
        metrics = trainer.run()  # its one validation traced the pass timed here
    start = time.perf_counter()
    trainer.model.perplexity(task.corpus.splits["valid"], config.eval_batch_size, config.bptt)
    validation_seconds = time.perf_counter() - start
    step_seconds = 1.0 / metrics["train_steps_per_second"]
    epoch_minutes = (metrics["steps_per_epoch"] * step_seconds + validation_seconds) / 60
    return {"variant": variant, "step_seconds": step_seconds, "timed_steps": steps,
            "validation_seconds": validation_seconds, "steps_per_epoch": metrics["steps_per_epoch"],
            "epochs": config.epochs, "batch_size": config.batch_size, "bptt": config.bptt,
            "precision": metrics["precision"], "jit_compile": config.use_jit(),
            "state_sizes": metrics["state_sizes"], "parameters": metrics["parameters"]["total"],
            "projected_minutes": config.epochs * epoch_minutes}


def measure(data_dir, cache_dir=None, steps=40, variants=VARIANTS, recipe=RECIPE,
            overrides=None, log=print):
    """`measure_one` for each variant, each in a process of its own."""
    data_dir = os.path.abspath(data_dir)
    cache_dir = cache_dir and os.path.abspath(cache_dir)
    rows = []
    for variant in variants:
        log(f"measuring the {recipe} language-model recipe's {variant} on {CORPUS} ...")
        rows.append(in_child(
            __name__,
            f"m.measure_one({variant!r}, {data_dir!r}, {cache_dir!r}, {steps}, {recipe!r}, "
            f"{overrides!r})",
            f"{CORPUS} language model {variant}"))
    return {"corpus": CORPUS, "recipe": recipe, "goal_minutes": GOAL_MINUTES, "rows": rows}


def recorded_minutes(variant):
    """The published zoo entry's wall-clock training minutes, or None."""
    from kasm_keras import zoo

    name = f"{CORPUS}/{variant}"
    if name not in zoo.names():
        return None
    return zoo.info(name).get("training_minutes")


def lines(section):
    """The section as Markdown lines for the benchmark block."""
    s = section
    rows = s["rows"]
    if not rows:
        return []
    first = rows[0]
    out = ["", f"Language models (`--language_models`): the `{s['recipe']}` recipe on "
           f"{s['corpus']} (batch {first['batch_size']}, BPTT {first['bptt']}, "
           f"{first['precision']}), each cell's training steps timed through the training loop "
           f"({first['timed_steps']} steps after its warm-up) and one validation pass, projected "
           f"to {first['epochs']:g} epochs. Goal: at most {s['goal_minutes']:g} minutes a cell. "
           "The zoo column is the entry's own wall-clock time, which counts whatever ran beside "
           "it:", "",
           "| variant | state | parameters | s/step | validation s | steps/epoch "
           "| projected minutes | goal | zoo entry's minutes |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        recorded = recorded_minutes(r["variant"])
        met = "met" if r["projected_minutes"] <= s["goal_minutes"] else "**not met**"
        out.append(f"| `{r['variant']}` | {' + '.join(str(d) for d in r['state_sizes'])} | "
                   f"{r['parameters']:,} | {r['step_seconds']:.3f} | "
                   f"{r['validation_seconds']:.1f} | {r['steps_per_epoch']} | "
                   f"{r['projected_minutes']:.0f} | {met} | "
                   f"{'' if recorded is None else f'{recorded:.0f}'} |")
    return out
