"""kasm_keras.training.checkpoints: tf.train.Checkpoint folders that a kill cannot corrupt."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.training.checkpoints import CheckpointError, CheckpointManager


def _objects(seed=0, shape=(3, 2)):
    variables = {"dense/kernel": tf.Variable(np.full(shape, float(seed), np.float32)),
                 "seed_generator/state": tf.Variable([seed, 7], dtype=tf.int64)}
    data = tf.data.Dataset.range(100).shuffle(50, seed=1, reshuffle_each_iteration=True).repeat()
    iterator = iter(data.batch(4, drop_remainder=True))
    return variables, iterator, tf.train.Checkpoint(model=variables, train_data=iterator)


def test_save_and_restore_variables_iterator_and_state(tmp_path):
    variables, iterator, checkpoint = _objects(seed=1)
    for _ in range(7):
        next(iterator)
    manager = CheckpointManager(tmp_path)
    path = manager.save(7, checkpoint, {"history": [1, 2]})
    expected = [next(iterator).numpy() for _ in range(30)]  # across reshuffled epochs
    assert manager.latest() == path and path.endswith("ckpt-7")
    assert sorted(os.listdir(path)) == ["manifest.json", "state.json",
                                        "variables.data-00000-of-00001", "variables.index"]
    other, other_iterator, other_checkpoint = _objects(seed=5)
    state = manager.restore(path, other_checkpoint)
    assert state == {"history": [1, 2], "step": 7}
    np.testing.assert_array_equal(other["dense/kernel"].numpy(), np.ones((3, 2)))
    np.testing.assert_array_equal(other["seed_generator/state"].numpy(), [1, 7])
    got = [next(other_iterator).numpy() for _ in range(30)]
    np.testing.assert_array_equal(np.stack(got), np.stack(expected))


def test_old_checkpoints_and_leftovers_of_a_killed_save_are_pruned(tmp_path):
    _, _, checkpoint = _objects()
    manager = CheckpointManager(tmp_path, keep=2)
    (tmp_path / ".ckpt-3.0123456789ab.tmp").mkdir()  # a save killed before its rename
    for step in (1, 2, 3):
        manager.save(step, checkpoint, {})
    assert sorted(os.listdir(tmp_path)) == ["ckpt-2", "ckpt-3", "latest"]
    assert (tmp_path / "latest").read_text() == "ckpt-3"
    manager.save(2, checkpoint, {})  # a resumed run saving a step again replaces it
    assert (tmp_path / "latest").read_text() == "ckpt-2"


def test_a_corrupt_or_incomplete_checkpoint_is_refused_naming_the_file(tmp_path):
    _, _, checkpoint = _objects()
    manager = CheckpointManager(tmp_path)
    path = manager.save(4, checkpoint, {})
    data = os.path.join(path, "variables.data-00000-of-00001")
    with open(data, "r+b") as f:
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CheckpointError, match=r"variables\.data-00000-of-00001: sha256 .* corrupt"):
        manager.restore(path, checkpoint)
    os.remove(os.path.join(path, "manifest.json"))
    with pytest.raises(CheckpointError, match="no manifest.json"):
        CheckpointManager.verify(path)
    path = manager.save(5, checkpoint, {})
    with open(os.path.join(path, "extra.bin"), "wb") as f:
        f.write(b"?")
    with pytest.raises(CheckpointError, match="extra.bin is not in manifest.json"):
        CheckpointManager.verify(path)
    (tmp_path / "latest").write_text("ckpt-9")
    with pytest.raises(CheckpointError, match="names .*ckpt-9, which does not exist"):
        manager.latest()


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    _, _, checkpoint = _objects(shape=(3, 2))
    path = CheckpointManager(tmp_path).save(1, checkpoint, {})
    _, _, wider = _objects(shape=(3, 4))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        CheckpointManager(tmp_path).restore(path, wider)
    variables, iterator, _ = _objects()
    more = tf.train.Checkpoint(model={**variables, "new/bias": tf.Variable([0.0])},
                               train_data=iterator)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        CheckpointManager(tmp_path).restore(path, more)


def test_an_npz_checkpoint_of_an_older_version_is_named(tmp_path):
    old = tmp_path / "ckpt-4"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"model.npz": "0", "optimizer.npz": "0",
                                                   "state.json": "0"}))
    with pytest.raises(CheckpointError, match="older kasm_keras"):
        CheckpointManager.verify(old)
