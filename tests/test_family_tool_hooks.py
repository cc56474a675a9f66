"""The tools ask the task families (and training's `tasks.Training`) what differs between the
tasks: a fourth family registered here gets its flags, its export options and its best seed
from the tools without a change to them (issue 27)."""

import dataclasses
import json

import pytest
from absl import flags

from kasm_keras import zoo
from kasm_keras.cli import explain, export, train
from kasm_keras.cli import zoo as zoo_tool
from kasm_keras.models import task_family
from kasm_keras.training import tasks


class FourthFamily(task_family.TaskFamily):
    """A task with inputs, an export option and test data of its own."""

    name = "fourth"
    description = "fourth model"
    name_form = "<set>/<variant>"
    generates = True
    export_options = {"quantise": "Store int8 weights."}
    explain_flags = (task_family.ToolFlag("graph", "string", "A graph file to explain."),)
    explain_needs = ("graph",)
    data_dir_flags = (task_family.ToolFlag("graph_data_dir", "string", "Where graphs are."),)
    selection_metric, test_metric, lower_is_better = "val_loss", "test_loss", True

    def names(self):
        return ["graphs/lstm"]

    def run_name(self, metrics):
        return f"{metrics['dataset']}/{metrics['model']}"

    def owns_run(self, metrics):
        return metrics.get("task") == self.name


@dataclasses.dataclass
class FourthConfig:
    model: str
    dataset: str
    model_dir: str
    depth: int | None = 4


@pytest.fixture
def fourth(monkeypatch):
    task_family.all_families()  # the registered ones first
    monkeypatch.setitem(task_family._FAMILIES, FourthFamily.name, FourthFamily())
    monkeypatch.setitem(tasks.TRAINING, FourthFamily.name, tasks.Training(
        FourthConfig, None, "a fourth model", named="a fourth model",
        flag_help={"depth": "Layers of the fourth model."}))
    return task_family.get(FourthFamily.name)


def _flags(module):
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    return flag_values


def test_a_new_family_s_flags_come_from_its_family(fourth):
    assert _flags(explain)["graph"].help == "A graph file to explain."
    assert _flags(export)["quantise"].help == "Store int8 weights."
    assert "graph_data_dir" in _flags(zoo_tool)
    depth = _flags(train)["depth"]
    assert (depth.default, depth.help) == (4, "Layers of the fourth model.")
    assert [f.name for f in task_family.all_families() if f.generates] == [
        "language_model", "fourth"]  # the families whose names tools/generate.py lists
    assert "<set>/<variant> (a fourth model)" in task_family.name_forms()


def test_shared_train_flags_name_each_task_s_default(fourth):
    assert _flags(train)["epochs"].help == (
        "Passes over the training split (unless --max_steps) (default 10.0 for a classifier, "
        "500.0 for a language model, 100.0 for a time series).")
    assert _flags(train)["eval_every"].help.endswith(
        "(default 500 for a classifier, once per epoch for a language model and a time "
        "series).")


def _run(folder, metrics, seed):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({**metrics, "steps": 10}))
    (folder / "config.json").write_text(json.dumps({"seed": seed}))
    return str(folder)


def test_best_run_of_a_language_model_is_its_lowest_validation_perplexity(tmp_path):
    runs = [_run(tmp_path / f"seed{s}", {"dataset": "ptb", "model": "lstm",
                                         "val_perplexity": val, "test_perplexity": 90.0}, s)
            for s, val in ((0, 101.0), (1, 99.0), (2, 99.0))]
    assert zoo.best_run(runs) == runs[1]  # a tie: the lower seed
    assert zoo.run_summary(runs[0])["val_perplexity"] == 101.0


def test_best_run_of_a_time_series_is_its_best_validation_accuracy(tmp_path):
    runs = [_run(tmp_path / f"seed{s}", {"task": "time_series", "dataset": "japanese_vowels",
                                         "model": "lstm", "ngram": 3, "val_accuracy": val,
                                         "test_accuracy": 0.9}, s)
            for s, val in ((0, 0.95), (1, 0.97))]
    assert zoo.best_run(runs) == runs[1]
    assert zoo.run_summary(runs[1])["name"] == "japanese_vowels/lstm_3gram"


def test_best_run_of_a_new_family_uses_its_selection(fourth, tmp_path):
    runs = [_run(tmp_path / f"seed{s}", {"task": "fourth", "dataset": "graphs", "model": "lstm",
                                         "val_loss": val, "test_loss": 1.0}, s)
            for s, val in ((0, 0.5), (1, 0.4))]
    assert zoo.best_run(runs) == runs[1]


def test_a_run_of_no_family_is_refused_in_one_line(tmp_path):
    run = _run(tmp_path / "run", {"dataset": "nowhere"}, 0)
    with pytest.raises(zoo.ZooError, match="not a finished tools/train.py run"):
        zoo.run_summary(run)
