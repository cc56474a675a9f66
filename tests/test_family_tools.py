"""kasm-evaluate and kasm-data ask the model's or the dataset's family and never which task it
is: a fourth family, registered here for the test, is evaluated and its data described by the
tools' own code, unchanged, with its own options, refusals and report."""

import json
import types

import pytest
from absl import flags

from kasm_keras.cli import data as data_tool
from kasm_keras.cli import evaluate, tool_support
from kasm_keras.models import evaluation, task_family


class ToyModel:
    info = {"training": {"dataset": "toy_data"}}


class ToyFamily(task_family.TaskFamily):
    name = "toy"
    description = "toy model"
    data_kind = "a toy dataset"
    evaluate_options = ("text",)
    evaluate_refusal = "applies to other models, not to a toy one"
    data_options = ("seed",)
    data_refusal = "applies to other datasets"

    def owns_model(self, model):
        return isinstance(model, ToyModel)

    def owns_dataset(self, dataset):
        return dataset == "toy_data"

    def dataset_names(self):
        return ("toy_data",)

    def evaluate(self, model, request):
        if request.texts:
            return [{"text": t, "letters": len(t)} for t in request.texts]
        if request.split == "train":
            raise task_family.ZooError(f"{request.model_name} is not measured on its training "
                                       "split")
        return {"dataset": request.dataset or model.info["training"]["dataset"],
                "split": request.split, "score": 0.5}

    def format_evaluation(self, report):
        if isinstance(report, list):
            return "\n".join(f"{r['letters']}\t{r['text']}" for r in report)
        return f"{report['dataset']} {report['split']}: score {report['score']}"

    def describe_data(self, dataset, data_dir=None, cache_dir=None, options=None,
                      downloading=None):
        with evaluation.reading(downloading, f"the {dataset} dataset"):
            return {"dataset": dataset, "seed": options["seed"]}

    def format_data_report(self, report):
        return f"{report['dataset']}: seed {report['seed']}"


@pytest.fixture
def toy_family(monkeypatch):
    family = ToyFamily()
    monkeypatch.setitem(task_family._registered(), family.name, family)
    monkeypatch.setattr(tool_support, "load_model", lambda *args: ToyModel())
    return family


def run_tool(module, *args, monkeypatch, capsys):
    """Runs a tool's `main` with `args` in this process, on its own flags (defined with the toy
    family registered, so that --dataset takes its datasets); (exit status, stdout, stderr)."""
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    monkeypatch.setitem(module.main.__globals__, "FLAGS", flag_values)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        tool_support.execute(module.main, ["tool.py", *map(str, args)], module.ERRORS,
                             flag_values)
    out, err = capsys.readouterr()
    return types.SimpleNamespace(returncode=exit_.value.code or 0, stdout=out, stderr=err)


def test_a_registered_family_is_evaluated_by_the_tool(toy_family, tmp_path, monkeypatch, capsys):
    def tool(*args):
        return run_tool(evaluate, f"--model_dir={tmp_path}", *args, monkeypatch=monkeypatch,
                        capsys=capsys)

    assert json.loads(tool("--json").stdout) == {"dataset": "toy_data", "split": "test",
                                                 "score": 0.5}
    assert tool("--dataset=toy_data", "--split=validation").stdout == (
        "toy_data validation: score 0.5\n")
    assert tool("--text=abc", "--text=de").stdout == "3\tabc\n2\tde\n"
    refused = tool("--text=abc", "--bptt=3")
    assert refused.returncode == 1 and refused.stderr.startswith(
        "error: --bptt applies to other models, not to a toy one")
    failed = tool("--split=train")
    assert failed.returncode == 1 and failed.stderr == (
        f"error: --model_dir={tmp_path} is not measured on its training split\n")


def test_a_registered_family_describes_its_data_in_the_tool(toy_family, monkeypatch, capsys):
    def tool(*args):
        return run_tool(data_tool, "--dataset=toy_data", *args, monkeypatch=monkeypatch,
                        capsys=capsys)

    assert tool("--seed=3").stdout == "toy_data: seed 3\n"
    assert json.loads(tool("--json").stdout) == {"dataset": "toy_data", "seed": 0}
    refused = tool("--embeddings=none")
    assert refused.returncode == 1 and refused.stderr.startswith(
        "error: --embeddings applies to other datasets, not to --dataset=toy_data")


def test_the_dataset_choices_are_the_registered_families(toy_family):
    assert task_family.all_datasets()[-1] == "toy_data"
    assert task_family.of_dataset("toy_data") is toy_family
